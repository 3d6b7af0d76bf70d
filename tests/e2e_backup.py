"""Hot backup and restore, through the real stack and the real command.

A first instance gets contacts, cases, notes, call recordings, an agent
(User record with a password set by `fastcrm user passwd`) and a signed-in
session. While writer threads keep creating cases, contacts and
recordings through nginx, `fastcrm backup DIR` runs. The backup is then
restored with `fastcrm restore DIR` into the empty data_dir of a second
instance, which is started on it:

- every write acknowledged before the backup began is there, byte for
  byte (records compared as `fastcrm export` prints them; attachment files
  by SHA-256, also downloaded through the second nginx), and nothing is
  there that the first instance does not have;
- `fastcrm verify` finds no problem;
- the agent signs in with the old password; the old session cookie is
  refused (sessions are not carried over);
- the next Case number continues the sequence.

Also: the backup's modes are private, no temporary directory is left,
a backup killed at any moment leaves nothing under its final name (its
partial directory has no manifest and restore refuses it); restore refuses
a non-empty data_dir without --force, a data_dir in use, a damaged file
(checksum) and a directory without a manifest; --force moves the old
store aside. The writers' latency during the backup is
printed (the measured "pause"), not asserted."""

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

PW = "agent-old-password-1"
COOKIE = "fastcrm_session"
BULK = int(os.environ.get("BACKUP_BULK", "20000"))
ENTITIES = ["Contact", "Account", "Case", "User", "Call", "Task", "Note",
            "Attachment"]
EXTRA = {
    "agent_role": "agent",
    "roles": {"agent": {"*": {"create": True, "read": "all", "edit": "all",
                              "delete": "no"}}},
}


def run(s, *args, stdin=None):
    return subprocess.run([s.bin] + list(args) + ["-c", s.config_path],
                          input=stdin, capture_output=True, text=True)


def export(s, entity):
    p = run(s, "export", "--entity", entity)
    if p.returncode != 0:
        raise AssertionError("export %s: %s" % (entity, p.stderr))
    return p.stdout.splitlines()


def by_id(lines):
    return {json.loads(line)["id"]: line for line in lines}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Writers:
    """Threads that create records as fast as the stack answers; each
    acknowledged write is kept with the time it was acknowledged."""

    def __init__(self, s, n=2):
        self.s = s
        self.stop = False
        self.lock = threading.Lock()
        self.acked = []          # (ack time, entity, id)
        self.lat = []            # (start, end) of every write
        self.errors = []
        self.threads = [threading.Thread(target=self.loop, args=(i,))
                        for i in range(n)]

    def loop(self, k):
        i = 0
        while not self.stop:
            i += 1
            t0 = time.monotonic()
            if i % 10 == 0:
                r = self.s.request("POST", "/Call", {
                    "name": "w%d-%d" % (k, i),
                    "dateStart": "2026-02-01 10:00:00"})
                ent = "Call"
                if r.status == 200:
                    call = r.json["id"]
                    r = self.s.request(
                        "POST", "/Call/%s/recording" % call,
                        raw_body=os.urandom(1000 + i),
                        content_type="audio/wav")
                    ent = "Attachment"
            elif i % 2 == 0:
                r = self.s.request("POST", "/Case", {"name": "w%d-%d" % (k, i)})
                ent = "Case"
            else:
                r = self.s.request("POST", "/Contact", {
                    "firstName": "W", "lastName": "w%d-%d" % (k, i)})
                ent = "Contact"
            t1 = time.monotonic()
            with self.lock:
                self.lat.append((t0, t1))
                if r.status == 200:
                    self.acked.append((t1, ent, r.json["id"]))
                else:
                    self.errors.append(r.describe(200))

    def start(self):
        for th in self.threads:
            th.start()

    def join(self):
        self.stop = True
        for th in self.threads:
            th.join()


with Stack(config_extra=EXTRA) as a:
    # ---- the first instance's data ------------------------------------
    # Enough records that the copy takes a while (the writers' latency
    # during it is the pause the backup causes).
    bulk = os.path.join(a.dir, "bulk.jsonl")
    with open(bulk, "w") as f:
        for i in range(BULK):
            f.write(json.dumps({"firstName": "Bulk", "lastName": "b%d" % i,
                                "description": "x" * 200}) + "\n")
    p = run(a, "import", "--entity", "Contact", bulk)
    t.eq(p.returncode, 0, "setup: %d contacts imported" % BULK)
    for i in range(20):
        a.request("POST", "/Contact", {"firstName": "C", "lastName": "n%d" % i,
                                       "phoneNumber": "+1555010%04d" % i})
    cases = [a.request("POST", "/Case", {"name": "case %d" % i}).json
             for i in range(5)]
    t.eq([c["number"] for c in cases], [1, 2, 3, 4, 5],
         "setup: Cases numbered 1..5")
    a.request("POST", "/Note", {"post": "a note", "parentType": "Case",
                                "parentId": cases[0]["id"]})
    files = {}
    for i in range(3):
        call = a.request("POST", "/Call", {"name": "rec %d" % i,
                                           "dateStart": "2026-01-01 10:00:00"
                                           }).json
        data = os.urandom(50000 + i * 7919)
        r = a.request("POST", "/Call/%s/recording" % call["id"],
                      raw_body=data, content_type="audio/wav")
        files[r.json["id"]] = hashlib.sha256(data).hexdigest()
    r = a.request("POST", "/Attachment", {
        "name": "doc.txt", "type": "text/plain",
        "file": "data:text/plain;base64," +
        base64.b64encode(b"hello backup").decode()})
    t.status(r, 200, "setup: an Attachment by POST /Attachment")
    files[r.json["id"]] = hashlib.sha256(b"hello backup").hexdigest()
    r = a.request("POST", "/User", {"userName": "agent1", "lastName": "One"})
    t.status(r, 200, "setup: a User record for the agent")
    p = run(a, "user", "passwd", "agent1", stdin=PW + "\n")
    t.eq(p.returncode, 0, "setup: fastcrm user passwd agent1")
    r = a.request("POST", "/App/session", {"userName": "agent1",
                                           "password": PW}, key=None)
    t.status(r, 200, "setup: the agent signs in on the first instance")
    old_cookie = r.headers.get("Set-Cookie", "").split(";", 1)[0]

    # ---- backup under write load ---------------------------------------
    bk = os.path.join(a.dir, "backup-1")
    w = Writers(a)
    w.start()
    time.sleep(1.0)
    with w.lock:
        before = list(w.acked)
    began = time.monotonic()
    p = subprocess.run([a.bin, "backup", bk, "-c", a.config_path],
                       capture_output=True, text=True)
    ended = time.monotonic()
    time.sleep(0.5)
    w.join()
    t.eq(p.returncode, 0, "fastcrm backup exits 0 while writers run")
    t.diag(p.stdout.strip() + " " + p.stderr.strip())
    t.eq(w.errors, [], "every concurrent write succeeded")
    t.ok(len(before) > 10 and any(x[0] > began for x in w.acked),
         "writes were acknowledged before and during the backup (%d before, "
         "%d after it began)" % (len(before),
                                 sum(1 for x in w.acked if x[0] > began)))

    during = [t1 - t0 for t0, t1 in w.lat if t1 > began and t0 < ended]
    outside = sorted(t1 - t0 for t0, t1 in w.lat if t1 < began)
    if during and outside:
        t.diag("writer latency while the backup ran (%.0f ms): max %.1f ms "
               "over %d writes; before it: median %.1f ms, max %.1f ms"
               % ((ended - began) * 1e3, max(during) * 1e3, len(during),
                  outside[len(outside) // 2] * 1e3, outside[-1] * 1e3))

    @t.test
    def private_and_whole():
        mode = stat.S_IMODE(os.stat(bk).st_mode)
        t.eq(mode & 0o077, 0, "the backup directory is private (%o)" % mode)
        leaked = []
        for root, dirs, fs in os.walk(bk):
            for n in dirs + fs:
                m = stat.S_IMODE(os.stat(os.path.join(root, n)).st_mode)
                if m & 0o077:
                    leaked.append("%s %o" % (n, m))
        t.eq(leaked, [], "no file of the backup is readable by group or "
             "others")
        left = [n for n in os.listdir(a.dir) if n.startswith("backup-1.")]
        t.eq(left, [], "no temporary backup directory is left behind")
        with open(os.path.join(bk, "manifest.json")) as f:
            m = json.load(f)
        t.eq(m["format"], 1, "manifest format 1")
        bad = [e["path"] for e in m["files"]
               if sha256(os.path.join(bk, e["path"])) != e["sha256"]
               or os.path.getsize(os.path.join(bk, e["path"])) != e["size"]]
        t.eq(bad, [], "every file matches the manifest's size and SHA-256")
        t.ok(set(files) <= {e["path"][12:] for e in m["files"]},
             "the manifest lists every attachment file written before")
        t.eq(sorted(os.listdir(bk)), ["attachments", "data.mdb",
                                      "manifest.json"],
             "the backup holds data.mdb, attachments/ and the manifest")

    @t.test
    def killed_backup():
        # Killed at some moment: DIR is absent (only DIR.partial-PID, with
        # no manifest) or whole, never a half backup under the final name.
        outcomes = []
        for i, delay in enumerate((0.02, 0.2, None)):
            d = os.path.join(a.dir, "killed-%d" % i)
            p = subprocess.Popen([a.bin, "backup", d, "-c", a.config_path],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            partial = os.path.join(a.dir, "%s.partial-%d" % (
                os.path.basename(d), p.pid))
            t0 = time.monotonic()
            if delay is None:
                # As soon as the copy has begun (during the snapshot).
                f = os.path.join(partial, "data.mdb")
                while ((not os.path.exists(f) or os.path.getsize(f) == 0)
                       and p.poll() is None):
                    time.sleep(0.0002)
            else:
                time.sleep(delay)
            delay = time.monotonic() - t0
            p.kill()
            p.wait()
            if not os.path.exists(d):
                outcomes.append("absent")
                t.ok(not os.path.exists(os.path.join(partial,
                                                     "manifest.json")),
                     "killed after %.2f s: no backup under the final name, "
                     "the partial directory has no manifest" % delay)
                pr = subprocess.run([a.bin, "restore", partial, "-c",
                                     a.config_path], capture_output=True,
                                    text=True)
                t.ok(pr.returncode != 0 and "manifest" in pr.stderr,
                     "restore refuses the partial directory")
                shutil.rmtree(partial, ignore_errors=True)
            else:
                outcomes.append("whole")
                with open(os.path.join(d, "manifest.json")) as f:
                    m = json.load(f)
                bad = [e["path"] for e in m["files"]
                       if sha256(os.path.join(d, e["path"])) != e["sha256"]]
                t.eq(bad, [], "killed after %.2f s, the backup had "
                     "finished: whole, every checksum matches" % delay)
        t.diag("killed backups: %s" % outcomes)
        # A backup killed during the copy leaves its LMDB reader slot
        # (which pins pages); the next backup clears it.
        p = subprocess.run([a.bin, "verify", "-c", a.config_path],
                           capture_output=True, text=True)
        m = re.search(r"verify: (\d+) stale LMDB reader slot", p.stderr)
        stale = int(m.group(1)) if m else 0
        t.diag("stale reader slots left by the killed backups: %d" % stale)
        d = os.path.join(a.dir, "after-kills")
        p = subprocess.run([a.bin, "backup", d, "-c", a.config_path],
                           capture_output=True, text=True)
        t.eq(p.returncode, 0, "the next backup succeeds")
        if stale > 0:
            t.like(p.stderr, r"cleared %d stale LMDB reader slot" % stale,
                   "the next backup clears the slot(s) a killed one left")
        p = subprocess.run([a.bin, "verify", "-c", a.config_path],
                           capture_output=True, text=True)
        t.ok("stale LMDB reader" not in p.stderr and p.returncode == 0,
             "no stale reader slot is left behind: " + p.stdout.strip())

    r = subprocess.run([a.bin, "backup", bk, "-c", a.config_path],
                       capture_output=True, text=True)
    t.ok(r.returncode != 0 and "exists" in r.stderr,
         "a backup into an existing directory is refused: " + r.stderr.strip())

    exports_a = {e: by_id(export(a, e)) for e in ENTITIES}

    # ---- restore into a second instance ---------------------------------
    b = Stack(config_extra=EXTRA, start=False)
    try:
        p = run(b, "restore", os.path.join(a.dir, "nowhere"))
        t.ok(p.returncode != 0 and "manifest" in p.stderr,
             "restore of a directory without a manifest is refused: "
             + p.stderr.strip())
        # A damaged copy: one attachment byte changed.
        bad = os.path.join(a.dir, "backup-damaged")
        shutil.copytree(bk, bad)
        victim = os.path.join(bad, "attachments", sorted(files)[0])
        with open(victim, "r+b") as f:
            c = f.read(1)
            f.seek(0)
            f.write(bytes([c[0] ^ 1]))
        p = run(b, "restore", bad)
        t.ok(p.returncode != 0 and "checksum" in p.stderr,
             "a damaged file is refused: " + p.stderr.strip())
        t.eq(os.listdir(b.data_dir), [],
             "the refused restore left data_dir empty")

        p = run(b, "restore", bk)
        t.eq(p.returncode, 0, "fastcrm restore into an empty data_dir")
        t.diag(p.stdout.strip() + " " + p.stderr.strip())
        p = run(b, "verify")
        t.ok(p.returncode == 0 and "0 problem(s)" in p.stdout,
             "fastcrm verify is clean after the restore: %s %s"
             % (p.stdout.strip(), p.stderr.strip()[-300:]))
        exports_b = {e: by_id(export(b, e)) for e in ENTITIES}

        missing = [(e, i) for _, e, i in before
                   if i not in exports_b.get(e, {})]
        t.eq(missing, [], "every write acknowledged before the backup "
             "began is restored (%d)" % len(before))
        acked_ids = {i for _, e, i in before}
        differ = [(e, i) for e in ENTITIES for i, line in exports_b[e].items()
                  if i in acked_ids and exports_a[e].get(i) != line]
        t.eq(differ, [], "every record acknowledged before the backup is "
             "byte-identical to the first instance's export")
        # Later writes: the same record, or a Call whose recording came
        # after the snapshot (the upload sets recordingId).
        later = []
        for e in ENTITIES:
            for i, line in exports_b[e].items():
                if i in acked_ids or exports_a[e].get(i) == line:
                    continue
                old, new = json.loads(line), json.loads(exports_a[e].get(
                    i, "{}"))
                if e == "Call" and new and old["recordingId"] is None:
                    for k in ("recordingId", "recordingName", "modifiedAt",
                              "modifiedById", "modifiedByName"):
                        old.pop(k, None)
                        new.pop(k, None)
                    if old == new:
                        continue
                later.append((e, i))
        t.eq(later, [], "every other restored record is the first "
             "instance's, or a Call before its recording arrived")
        for ent in ("Contact", "Case", "User", "Note"):
            old = {i for _, e, i in before if e == ent}
            t.ok(len(exports_b[ent]) >= len(old) and
                 len(exports_b[ent]) <= len(exports_a[ent]),
                 "%s: %d restored, between the %d acknowledged before and "
                 "the %d at the end" % (ent, len(exports_b[ent]),
                                        len(old), len(exports_a[ent])))
        att = [i for i in files
               if sha256(os.path.join(b.data_dir, "attachments", i))
               != files[i]]
        t.eq(att, [], "the attachment files are restored, same SHA-256")

        b.start()
        for i, h in sorted(files.items())[:2]:
            r = b.request("GET", "/Attachment/file/" + i)
            t.ok(r.status == 200 and hashlib.sha256(r.body).hexdigest() == h,
                 "attachment %s downloads from the second instance, same "
                 "bytes" % i)
        r = b.request("POST", "/App/session", {"userName": "agent1",
                                               "password": PW}, key=None)
        t.status(r, 200, "the agent signs in with the old password")
        r = b.request("GET", "/App/user", key=None,
                      headers={"Cookie": old_cookie})
        t.status(r, 401, "the session of before the backup is not restored")
        numbers = [json.loads(line)["number"]
                   for line in exports_b["Case"].values()]
        r = b.request("POST", "/Case", {"name": "after restore"})
        t.eq(r.json["number"] if r.status == 200 else r.describe(200),
             max(numbers) + 1, "the next Case number continues the "
             "sequence (%d)" % (max(numbers) + 1))
        with open(os.path.join(bk, "manifest.json")) as f:
            t.eq(json.load(f)["counters"].get("Case"), max(numbers),
                 "the manifest's Case counter is the last restored number")

        p = run(b, "restore", bk, "--force")
        t.ok(p.returncode != 0 and "in another process" in p.stderr,
             "restore into a data_dir in use is refused, even with --force: "
             + p.stderr.strip())
        b.stop_fastcrm()
        p = run(b, "restore", bk)
        t.ok(p.returncode != 0 and "not empty" in p.stderr,
             "restore into a non-empty data_dir is refused without --force: "
             + p.stderr.strip())
        p = run(b, "restore", bk, "--force")
        t.eq(p.returncode, 0, "restore --force over a stopped store")
        aside = [n for n in os.listdir(b.data_dir)
                 if n.startswith("pre-restore-")]
        t.ok(len(aside) == 1 and os.path.exists(
            os.path.join(b.data_dir, aside[0], "data.mdb")),
            "--force moved the old store aside (%s)" % aside)
        b.start_fastcrm()
        r = b.request("GET", "/Case?maxSize=1&orderBy=number&order=desc")
        t.eq(r.json["list"][0]["number"] if r.status == 200 else r.status,
             max(numbers), "the forced restore is the backup again (the "
             "case made after the first restore is gone)")
    finally:
        b.stop()

t.done()
