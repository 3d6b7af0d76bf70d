"""GET /healthz, GET /metrics and verify's attachment checks, through the
real nginx and workers.

- /healthz answers 200 with a small JSON without credentials; on a stack
  with a tiny map_size filled until writes get 507 it answers 503 with a
  reason naming the fill.
- /metrics: `promtool check metrics` accepts it; the counters move by
  exactly the requests this test made (sent concurrently, so both workers
  serve them: the counters are the service's, not a worker's); they
  survive a worker killed with SIGKILL, whose restart is counted with its
  cause, and whose reader slot the master clears (counted too); from
  127.0.0.2 (not in metrics_allow) it is refused without an admin
  credential and allowed with one.
- The example alert rules pass `promtool check rules` and their unit test
  (tests/prometheus_alerts_test.yml, `promtool test rules`).
- `fastcrm verify` reports an Attachment whose file is missing, one whose
  file has another size, and a file no record references; it ignores
  uploads in flight (fresh files, .tmp-*)."""

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, api_user, make_key  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("FASTCRM_SRCDIR") or os.path.dirname(HERE)
PROMTOOL = shutil.which("promtool")

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, frozenset of label pairs): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if m is None:
            raise AssertionError("not an exposition line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def val(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


def scrape(s, **kw):
    r = s.request("GET", "/metrics", raw_path=True, key=None, **kw)
    if r.status != 200:
        raise AssertionError(r.describe(300))
    return r, parse(r.text)


def promtool(*args, stdin=None):
    return subprocess.run([PROMTOOL] + list(args), input=stdin,
                          capture_output=True, text=True)


reader_key, _ = make_key()
extra = {
    "metrics_allow": ["127.0.0.1", "::1"],
    "roles": {"reader": {"*": {"create": False, "read": "all",
                               "edit": "no", "delete": "no"}}},
    "api_users": [api_user("reader", "reader", key=reader_key)],
}

with Stack(config_extra=extra, workers=2) as s:

    @t.test
    def healthz():
        r = s.request("GET", "/healthz", raw_path=True, key=None)
        t.status(r, 200, "GET /healthz without credentials: 200")
        j = r.json or {}
        t.ok(j.get("status") == "ok" and 0 < j.get("mapFill", -1) < 0.9
             and j.get("mapSize", 0) > 0 and len(r.body) < 200,
             "a small JSON with the map's fill: %s" % r.text)
        t.eq(r.headers.get("Cache-Control"), "no-store",
             "/healthz is not cached")
        r = s.request("HEAD", "/healthz", raw_path=True, key=None)
        t.ok(r.status == 200 and r.body == b"",
             "HEAD /healthz: 200, no body (%d)" % r.status)
        r = s.request("POST", "/healthz", raw_path=True, key=None)
        t.status(r, 405, "POST /healthz: 405")
        s.request("GET", "/App/user")
        deadline = time.monotonic() + 5
        while ("/App/user" not in s.nginx_log_text("access")
               and time.monotonic() < deadline):
            time.sleep(0.05)
        log = s.nginx_log_text("access")
        t.ok("/App/user" in log and "/healthz" not in log,
             "nginx serves /healthz without an access log line")

    @t.test
    def metrics_valid():
        r, m = scrape(s)
        t.like(r.headers.get("Content-Type", ""), r"^text/plain; version=0\.0\.4",
               "/metrics is the Prometheus text format")
        if PROMTOOL is None:
            t.skip("promtool check metrics", "promtool not installed "
                   "(prometheus, conf/install-deps)")
        else:
            p = promtool("check", "metrics", stdin=r.text)
            t.ok(p.returncode == 0, "promtool check metrics accepts it%s"
                 % (": " + p.stdout + p.stderr if p.returncode else ""))
        p = subprocess.run([s.bin, "version"], capture_output=True, text=True)
        t.eq(val(m, "fastcrm_build_info", version=p.stdout.split()[-1]), 1.0,
             "fastcrm_build_info carries `fastcrm version` (%s)"
             % p.stdout.strip())
        for g in ("fastcrm_lmdb_map_size_bytes", "fastcrm_lmdb_used_bytes",
                  "fastcrm_lmdb_map_fill_ratio", "fastcrm_lmdb_readers"):
            t.ok(("%s" % g, frozenset()) in m, "gauge %s is there" % g)
        t.ok(abs(val(m, "fastcrm_lmdb_map_fill_ratio") -
                 val(m, "fastcrm_lmdb_used_bytes") /
                 val(m, "fastcrm_lmdb_map_size_bytes")) < 1e-5,
             "fill ratio = used bytes / map size")

    @t.test
    def counts_match():
        _, m0 = scrape(s)
        jobs = ([("GET", "/Contact", s.key)] * 12 +
                [("POST", "/Contact", s.key)] * 6 +
                [("GET", "/Contact", "wrong-key")] * 5 +
                [("GET", "/NoSuchEntity", s.key)] * 3)
        res = []

        def go(part):
            for meth, path, key in part:
                body = {"lastName": "M"} if meth == "POST" else None
                res.append(s.request(meth, path, body, key=key).status)
        th = [threading.Thread(target=go, args=(jobs[i::4],))
              for i in range(4)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        t.eq(sorted(res), sorted([200] * 18 + [401] * 5 + [404] * 3),
             "the test's requests got the answers expected")
        _, m1 = scrape(s)

        def d(name, **lb):
            return val(m1, name, **lb) - val(m0, name, **lb)
        t.eq(d("fastcrm_http_requests_total", family="record", method="GET",
               code="200"), 12, "GET /Contact 200 counted 12 times")
        t.eq(d("fastcrm_http_requests_total", family="record", method="POST",
               code="200"), 6, "POST /Contact 200 counted 6 times")
        t.eq(d("fastcrm_http_requests_total", family="record", method="GET",
               code="401"), 5, "401 counted 5 times")
        t.eq(d("fastcrm_http_requests_total", family="unmatched",
               method="GET", code="404"), 3,
             "404 for an unknown entity counted 3 times, as unmatched")
        t.eq(d("fastcrm_auth_failures_total"), 5,
             "authentication failures: 5")
        t.eq(d("fastcrm_http_request_duration_seconds_count",
               family="record"), 23, "23 durations in the record histogram")
        t.eq(d("fastcrm_http_request_duration_seconds_bucket",
               family="unmatched", le="+Inf"), 3,
             "3 in the unmatched histogram's +Inf bucket")
        t.eq(d("fastcrm_http_requests_total", family="metrics", method="GET",
               code="200"), 1, "the previous scrape counted once")
        t.ok(d("fastcrm_http_request_duration_seconds_sum",
               family="record") > 0, "the durations add up to more than 0")

    @t.test
    def write_commits():
        # One create at a time: each is a batch of one, committed alone.
        _, m0 = scrape(s)
        for i in range(5):
            t.status(s.request("POST", "/Contact", {"lastName": "C%d" % i}),
                     200, "create %d, alone" % i)
        _, m1 = scrape(s)
        # Then 24 at once from 8 threads: their commits are shared.
        res = []

        def go(n):
            for i in range(n):
                res.append(s.request("POST", "/Contact",
                                     {"lastName": "B%d" % i}).status)
        th = [threading.Thread(target=go, args=(3,)) for _ in range(8)]
        for x in th:
            x.start()
        for x in th:
            x.join()
        t.eq(res, [200] * 24, "24 concurrent creates answered 200")
        _, m2 = scrape(s)

        def d(a, b, name, **lb):
            return val(b, name, **lb) - val(a, name, **lb)
        ok = "fastcrm_write_commits_total"
        t.eq(d(m0, m1, ok, result="ok"), 5, "5 creates one by one: 5 commits")
        t.eq(d(m0, m1, "fastcrm_write_batch_requests_total"), 5,
             "5 requests answered after a commit")
        t.eq(d(m0, m1, "fastcrm_write_commit_duration_seconds_count"), 5,
             "5 commit durations in the histogram")
        t.ok(d(m0, m1, "fastcrm_write_commit_duration_seconds_sum") > 0,
             "the commits took time")
        n = d(m1, m2, ok, result="ok")
        t.ok(1 <= n <= 24, "24 concurrent creates: %d commit(s)" % n)
        t.eq(d(m1, m2, "fastcrm_write_batch_requests_total"), 24,
             "24 requests answered after a commit")
        t.eq(d(m1, m2, "fastcrm_write_commit_duration_seconds_bucket",
               le="+Inf"), n, "one duration for each commit")
        t.eq(d(m0, m2, ok, result="failed"), 0, "no commit failed")
        t.ok(d(m0, m2, "fastcrm_write_batch_open_seconds_total") > 0,
             "the batches were open for a time before their commits")

    @t.test
    def not_allowed():
        r = s.request("GET", "/metrics", raw_path=True, key=None,
                      source="127.0.0.2")
        t.status(r, 403, "from 127.0.0.2 (not in metrics_allow): 403")
        t.like(r.headers.get("X-Status-Reason", ""), r"metrics_allow", "the reason names "
               "metrics_allow: %s" % r.headers.get("X-Status-Reason"))
        r = s.request("GET", "/metrics", raw_path=True, key=reader_key,
                      source="127.0.0.2")
        t.status(r, 403, "from 127.0.0.2 with a non-admin key: 403")
        r = s.request("GET", "/metrics", raw_path=True, key="bad",
                      source="127.0.0.2")
        t.status(r, 401, "from 127.0.0.2 with a wrong key: 401")
        r = s.request("GET", "/metrics", raw_path=True, source="127.0.0.2")
        t.ok(r.status == 200 and "fastcrm_http_requests_total" in r.text,
             "from 127.0.0.2 with an admin key: 200 and the metrics")

    @t.test
    def survive_restart():
        # Both workers serve reads, so each holds an LMDB reader slot.
        for _ in range(20):
            th = [threading.Thread(target=s.request,
                                   args=("GET", "/Contact?maxSize=1"))
                  for _ in range(8)]
            for x in th:
                x.start()
            for x in th:
                x.join()
            _, m0 = scrape(s)
            if val(m0, "fastcrm_lmdb_readers") >= 2:
                break
        t.eq(val(m0, "fastcrm_lmdb_readers"), 2.0,
             "two reader slots in use (one per worker)")
        pids = s.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = s.worker_pids()
            if len(now) == 2 and pids[0] not in now:
                break
            time.sleep(0.05)
        t.ok(pids[0] not in s.worker_pids() and len(s.worker_pids()) == 2,
             "the killed worker was replaced")
        _, m1 = scrape(s)
        t.eq(val(m1, "fastcrm_worker_restarts_total", cause="SIGKILL") -
             val(m0, "fastcrm_worker_restarts_total", cause="SIGKILL"), 1,
             "the restart is counted, cause SIGKILL")
        t.ok(val(m1, "fastcrm_lmdb_stale_readers_cleared_total") -
             val(m0, "fastcrm_lmdb_stale_readers_cleared_total") >= 1,
             "the dead worker's reader slot was cleared, and counted")
        t.eq(val(m1, "fastcrm_http_requests_total", family="record",
                 method="GET", code="200"),
             val(m0, "fastcrm_http_requests_total", family="record",
                 method="GET", code="200"),
             "the request counters survive the worker's death")
        t.eq(val(m1, "fastcrm_lmdb_stale_readers"), 0.0, "no stale reader")

    @t.test
    def alert_rules():
        if PROMTOOL is None:
            t.skip("promtool check/test rules", "promtool not installed")
            return
        rules = os.path.join(SRCDIR, "conf", "prometheus", "fastcrm-alerts.yml")
        p = promtool("check", "rules", rules)
        t.ok(p.returncode == 0, "promtool check rules accepts the example "
             "alerts: " + " ".join(p.stdout.split()))
        p = subprocess.run([PROMTOOL, "test", "rules",
                            "prometheus_alerts_test.yml"], cwd=HERE,
                           capture_output=True, text=True)
        t.ok(p.returncode == 0, "promtool test rules: the alerts fire as "
             "meant%s" % ("" if p.returncode == 0 else ": " + p.stdout))

    @t.test
    def verify_files():
        ids = []
        for i in range(3):
            data = ("file %d " % i).encode() * 100
            r = s.request("POST", "/Attachment", {
                "name": "f%d.txt" % i, "type": "text/plain",
                "file": "data:text/plain;base64," +
                base64.b64encode(data).decode()})
            ids.append(r.json["id"])
        p = subprocess.run([s.bin, "verify", "-c", s.config_path],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and "0 problem(s)" in p.stdout,
             "verify is clean before the files are tampered with: "
             + p.stdout.strip())
        d = os.path.join(s.data_dir, "attachments")
        os.unlink(os.path.join(d, ids[0]))
        with open(os.path.join(d, ids[1]), "ab") as f:
            f.write(b"extra")
        orphan = os.path.join(d, "00000000000000abc")
        with open(orphan, "wb") as f:
            f.write(b"nobody's")
        old = time.time() - 7200
        os.utime(orphan, (old, old))
        with open(os.path.join(d, "fresh0000000000ab"), "wb") as f:
            f.write(b"an upload whose record is about to commit")
        with open(os.path.join(d, ".tmp-0123456789abcdef"), "wb") as f:
            f.write(b"an upload being written")
        p = subprocess.run([s.bin, "verify", "-c", s.config_path],
                           capture_output=True, text=True)
        t.eq(p.returncode, 1, "verify exits 1")
        t.like(p.stdout, r"verify: 3 problem\(s\)", "three problems")
        t.like(p.stderr, r"Attachment %s: its file attachments/%s is missing"
               % (ids[0], ids[0]), "the missing file is named")
        t.like(p.stderr, r"Attachment %s \(f1\.txt\): the file has %d bytes, "
               r"the record says %d" % (ids[1], 705, 700),
               "the file of the wrong size is named, with both sizes")
        t.like(p.stderr, r"file attachments/00000000000000abc belongs to no "
               r"Attachment record", "the unreferenced file is named")
        t.unlike(p.stderr, r"fresh0000000000ab|\.tmp-",
                 "a fresh file and a temp file are not reported")

# A map this small fills at once: writes get 507, /healthz 503.
with Stack(config_extra={"map_size": "1MiB"}, workers=1) as s:

    @t.test
    def healthz_full():
        r = s.request("GET", "/healthz", raw_path=True, key=None)
        t.status(r, 200, "tiny map, empty store: /healthz 200")
        big = "x" * 20000
        got = None
        for i in range(200):
            got = s.request("POST", "/Contact", {"lastName": "L%d" % i,
                                                 "description": big}).status
            if got != 200:
                break
        t.eq(got, 507, "writes fill the map until 507")
        r = s.request("GET", "/healthz", raw_path=True, key=None)
        t.status(r, 503, "the map above health_max_fill: /healthz 503")
        why = r.headers.get("X-Status-Reason", "")
        t.like(why, r"LMDB map is \d+\.\d% full, above "
               r"health_max_fill \(90%\); raise map_size",
               "the reason says how full and what to do: %s" % why)
        _, m = scrape(s)
        t.ok(val(m, "fastcrm_lmdb_map_fill_ratio") > 0.9,
             "fastcrm_lmdb_map_fill_ratio above 0.9 (%.3f)"
             % val(m, "fastcrm_lmdb_map_fill_ratio"))
        t.eq(val(m, "fastcrm_storage_full_total"), 1.0,
             "the 507 is counted in fastcrm_storage_full_total")
        t.eq(val(m, "fastcrm_http_requests_total", family="health",
                 method="GET", code="503"), 1.0, "the 503 is counted")
        t.like(s.log_text(), r"(?m)^\S+ error \[\d+\] \S+ \S+ 507 .*"
               r"reason=Storage is full",
               "a 507 is logged at error (a storage error), not as info")

t.done()
