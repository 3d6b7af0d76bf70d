"""The process model through the real stack: a worker killed with SIGKILL
is replaced while requests keep succeeding; SIGHUP reloads (an invalid file
is refused and the old configuration stays) without failing in-flight
requests; SIGTERM stops gracefully, letting in-flight requests finish."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Load, Stack, api_user, find_fastcrm, make_key  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


# max_json_body raised: graceful_stop sends a 3 MB JSON body.
with Stack(workers=3, config_extra={"max_json_body": "8MiB"}) as s:

    @t.test
    def kill_workers():
        before = s.worker_pids()
        t.eq(len(before), 3, "three workers running")
        with Load(s) as load:
            for victim in before:
                time.sleep(0.3)
                os.kill(victim, signal.SIGKILL)
            time.sleep(2.5)
        after = s.worker_pids()
        t.eq(len(after), 3, "killed workers were replaced")
        t.ok(not set(after) & set(before), "every worker is new")
        t.ok(len(load.statuses) > 50, "load ran (%d requests)" % len(load.statuses))
        # The requests in the killed worker's hands fail at nginx (502):
        # one, or with group commit the batch it was holding (never more
        # than the clients in flight, none of them acknowledged);
        # everything after it succeeds.
        bad = load.bad()
        t.ok(len(bad) <= len(before) * len(load.threads) and
             set(bad) <= {502},
             "only the requests in a killed worker's hands fail, as 502 "
             "(%r)" % bad[:20])
        r = s.request("GET", "/App/user")
        t.eq(r.status, 200, "requests succeed after the kills")
        t.ok("killed by signal 9" in s.log_text(), "the master logged the deaths")

    @t.test
    def reload_good_and_bad():
        k, _ = make_key()
        cfg = s.base_config()
        cfg["max_json_body"] = "8MiB"
        cfg["roles"]["reader"] = {"*": {"create": False, "read": "all",
                                        "edit": "no", "delete": "no"}}
        cfg["api_users"].append(api_user("late", "reader", key=k))
        t.eq(s.request("GET", "/App/user", key=k).status, 401,
             "the new key is unknown before the reload")
        old = set(s.worker_pids())
        with Load(s) as load:
            time.sleep(0.5)
            ok = s.reload_config(cfg)
            time.sleep(0.5)
        t.ok(ok, "SIGHUP replaced the workers")
        t.eq(load.bad(), [], "no request failed during the reload (%d sent)" %
             len(load.statuses))
        t.ok(not (set(s.worker_pids()) & old), "new generation of workers")
        r = s.request("GET", "/App/user", key=k)
        t.eq(r.status, 200, "the new key works after the reload")
        t.eq(s.request("POST", "/Contact", {"lastName": "x"}, key=k).status,
             403, "the new role applies")
        master = s.master_pid
        pids = set(s.worker_pids())
        ok = s.reload_config("listen: [this is not valid\n", timeout=3)
        t.ok(not ok, "an invalid file does not replace the workers")
        t.eq(set(s.worker_pids()), pids, "same workers after a refused reload")
        t.eq(s.master_pid, master, "master still running")
        t.eq(s.request("GET", "/App/user", key=k).status, 200,
             "the old configuration stays in force")
        t.ok("reload refused" in s.log_text(), "the refusal is logged")

    @t.test
    def check_config_cli():
        import subprocess
        bad = os.path.join(s.run_dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("listen: unix:/tmp/x.sock\nworkers: lots\ndata_dir: /tmp/d\n"
                    "roles:\n  r:\n    Contact: {create: maybe}\n")
        p = subprocess.run([s.bin, "check-config", bad], capture_output=True,
                           text=True)
        t.eq(p.returncode, 1, "check-config exits 1 on errors")
        t.ok("bad.yaml:2" in p.stderr and "bad.yaml:6" in p.stderr,
             "each error names file and line", p.stderr)
        p = subprocess.run([s.bin, "key"], capture_output=True, text=True)
        lines = p.stdout.splitlines()
        t.ok(len(lines) == 2 and len(lines[0]) == 32 and
             lines[1].startswith('api_key_sha256: "'), "fastcrm key output",
             p.stdout)
        import hashlib
        t.eq(lines[1], 'api_key_sha256: "%s"' %
             hashlib.sha256(lines[0].encode()).hexdigest(),
             "the printed hash is the key's SHA-256")

    @t.test
    def graceful_stop():
        results = []

        def slow_client():
            # A large body keeps the request in flight while we signal.
            r = s.request("POST", "/Case", {"name": "last one",
                                            "description": "x" * 3000000})
            results.append(r.status)

        th = threading.Thread(target=slow_client)
        th.start()
        time.sleep(0.05)
        code = s.stop_fastcrm()
        th.join()
        t.eq(code, 0, "SIGTERM: the master exits 0")
        t.ok(results and results[0] in (200, 502),
             "the in-flight request finished or never reached a worker (%r)" % results)
        t.ok("stopped" in s.log_text(), "the master logged its stop")
        t.eq([p for p in s.worker_pids()], [], "no worker left")

# The benchmark's bare responder (tests/bench): serve -B answers every
# request with a fixed JSON, -b sets its length.
with Stack(workers=1, serve_args=["-B", "-b", "1000"]) as s:

    @t.test
    def baseline_answer():
        import json
        for path in ("/Contact/c0", "/Case?where[0][type]=equals"):
            r = s.request("GET", path, key=None)
            t.eq(r.status, 200, "serve -B: 200 for %s, no key" % path)
            t.eq(len(r.body), 1000, "serve -B -b 1000: 1000 bytes")
            t.eq(json.loads(r.body)["name"], "Baseline Contact",
                 "serve -B: the answer is JSON")


# A worker closes a connection at once after an answer when the request
# was read to its end, and otherwise as libfcgi does: it shuts its side,
# then reads what nginx still sends until nginx closes.  An answer given
# before a large body was read (a wrong key, an unknown route) must still
# arrive whole, and the next requests on the same workers too.
with Stack(workers=2, config_extra={"max_json_body": "8MiB"}) as s:

    @t.test
    def answer_before_body():
        big = {"name": "x", "description": "y" * 3000000}
        got = []
        for _ in range(3):
            got.append((s.request("POST", "/Case", big, key="wrong").status,
                        s.request("POST", "/NoSuchThing", big).status,
                        s.request("POST", "/Case", big).status,
                        s.request("GET", "/Case?maxSize=1").status))
        t.eq(got, [(401, 404, 200, 200)] * 3,
             "a 3 MB body: 401 for a wrong key and 404 for an unknown "
             "route before it is read, then a create and a read, "
             "three times")
        # The log's pid is taken once per process, and again after a fork.
        pids = set(int(x) for x in re.findall(r"\[(\d+)\] (?:GET|POST) ",
                                              s.log_text()))
        t.ok(pids and pids <= set(s.worker_pids()),
             "request lines carry their worker's pid (%r; workers %r)"
             % (sorted(pids), s.worker_pids()))


def sockets(pid):
    """How many sockets process pid has open (the listening one too)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


# nginx keeping its FastCGI connections open (an upstream keepalive and
# fastcgi_keep_conn; not the shipped setting): a worker keeps each such
# connection open after its answer, parked, and watches it beside the
# listening socket.  So one worker serves the many connections twelve
# clients make nginx open, concurrent writes still share their commits,
# and every request is answered.
with Stack(workers=1, fastcgi_keepalive=8) as s:

    @t.test
    def kept_connections():
        import json
        (wpid,) = s.worker_pids()
        before = sockets(wpid)
        with Load(s, threads=12, read_every=3, read_path="/Case?maxSize=2",
                  name="kept") as load:
            time.sleep(3)
        done = load.answers
        creates = sum(1 for w, st in done if w and st == 200)
        bad = [st for _w, st in done if st != 200]
        t.ok(len(done) > 100 and not bad,
             "kept connections: %d requests by 12 clients, one worker, "
             "all answered 200 (not: %r)" % (len(done), bad[:10]))
        sizes = [int(x) for x in re.findall(r" batch=(\d+)", s.log_text())]
        t.ok(any(n > 1 for n in sizes),
             "kept connections: writes shared commits (%d held, largest "
             "batch %d)" % (len(sizes), max(sizes or [0])))
        kept = sockets(wpid)
        t.ok(kept > before,
             "kept connections: the worker holds the connections nginx "
             "keeps (%d sockets, %d before the clients)" % (kept, before))
        r = s.request("GET", "/Case?maxSize=1")
        t.eq(json.loads(r.body)["total"], creates,
             "kept connections: every create answered 200 is stored (%d)"
             % creates)
        # A reload: nginx's old workers close the connections they kept.
        os.kill(s.nginx_pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while sockets(wpid) >= kept and time.monotonic() < deadline:
            time.sleep(0.1)
        t.ok(sockets(wpid) < kept,
             "kept connections: those nginx closed are let go (%d sockets)"
             % sockets(wpid))
        r = s.request("POST", "/Case", {"name": "after the reload"})
        t.eq(r.status, 200, "kept connections: a write after nginx's "
             "reload is answered")
        t.eq(s.worker_pids(), [wpid], "kept connections: the same worker "
             "served it all")


for bad in ("299", "x", "2000000"):
    p = subprocess.run([find_fastcrm(), "serve", "-B", "-b", bad, "-c",
                        "/nonexistent"], capture_output=True, text=True)
    t.ok(p.returncode == 2 and "usage" in p.stderr,
         "serve -B -b %s: refused with the usage (exit %d)" % (bad,
                                                               p.returncode))

t.done()
