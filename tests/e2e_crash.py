"""Crash safety through the real stack.

Eight client threads create and update Contacts (phones, emails, names),
Cases (linked to contacts) and Calls, and send some invalid writes, while
the main thread SIGKILLs a random worker 50 times (waiting each time for
the master to replace it) and, half way, SIGKILLs the master itself and
starts it again over the socket file it left behind.  Every request is
recorded with what was sent and what came back: 200 (acknowledged), an
error from fastcrm (failed), or no answer / 502 / 504 (outcome unknown).

Afterwards, with the stack quiet:
  - every acknowledged write is there with exactly its values (the last
    acknowledged update wins; an update of unknown outcome may be there
    or not, but never half of it);
  - no failed write left anything: no record, no index entry (phone,
    email, ccallId and uid look-ups through the API find nothing);
  - no create produced two records, although creates of unknown outcome
    were retried (Contact: the same body; Case: ccallId; Call: uid);
  - index look-ups agree with the records (current values find the
    record, replaced values do not), and `fastcrm verify` checks every
    record against every index and reports no stale LMDB reader slot;
  - the orphaned workers of the killed master exit, the restarted master
    clears reader slots of dead processes, and no request got a 5xx
    from fastcrm itself;
  - the writes went through group commit (app/batch.c: answers held
    until one commit covers several requests), so all of the above holds
    for writes answered after a shared commit, with workers and the master
    killed while batches were open.
"""

import http.client
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, _alive  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

WORKERS = 4
THREADS = 8
WORKER_KILLS = 50
MASTER_KILL_AT = WORKER_KILLS // 2
RETRY_FOR = 45.0  # seconds a create of unknown outcome is retried

TRACK = {
    "Contact": ("firstName", "lastName", "phoneNumber", "emailAddress",
                "description", "title"),
    "Case": ("name", "status", "priority", "contactId", "description",
             "ccallId"),
    "Call": ("name", "status", "direction", "dateStart", "dateEnd",
             "description", "uid", "parentId"),
}
MARKER = {"Contact": "title", "Case": "ccallId", "Call": "uid"}

seq = itertools.count(1)
rng_lock = threading.Lock()


def uniq():
    return next(seq)


def phone(n):
    return "+1555%07d" % (2000000 + n)


def project(entity, rec):
    return tuple((f, rec.get(f)) for f in TRACK[entity])


def applied(entity, cand, body):
    d = dict(cand)
    for f in TRACK[entity]:
        if f in body:
            d[f] = body[f]
    return tuple((f, d[f]) for f in TRACK[entity])


class Rec:
    """One record of the model: what it may hold now (several candidate
    states while an update's outcome is unknown)."""

    def __init__(self, entity, rid, state):
        self.entity = entity
        self.id = rid
        self.cands = [state]
        self.sent = {"phoneNumber": set(), "emailAddress": set()}
        for f in self.sent:
            v = dict(state).get(f)
            if v:
                self.sent[f].add(v)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.acked = self.failed = self.unknown = 0
        self.retries = 0
        self.fastcrm_5xx = []
        self.bad = []           # descriptions of wrong behaviour
        self.invalid_acked = []
        self.failed_creates = []  # (entity, body)
        self.failed_values = []   # (attribute, value) that must find nothing
        self.unresolved = []      # creates still unknown after retries
        self.recs = {}            # id -> Rec
        self.creates = []         # (entity, marker value, id)
        self.unknown_updates = 0
        self.invalid = 0
        self.reads = 0
        self.journal = []         # every request: what was sent, what came

    def note(self, outcome, status, method, path, body):
        with self.lock:
            self.journal.append((round(time.monotonic() - t0, 3), method,
                                 path, body, status, outcome))
            self.sent += 1
            if outcome == "ack":
                self.acked += 1
            elif outcome == "fail":
                self.failed += 1
            else:
                self.unknown += 1
            if outcome == "fail" and status >= 500:
                self.fastcrm_5xx.append(status)


def send(s, st, method, path, body):
    """One request; returns (outcome, status, json)."""
    try:
        r = s.request(method, path, body, timeout=30)
    except (OSError, http.client.HTTPException):
        st.note("unknown", 0, method, path, body)
        return "unknown", 0, None
    if r.status in (502, 503, 504):
        outcome = "unknown"   # the worker died, or none was listening
    elif 200 <= r.status < 300:
        outcome = "ack"
    else:
        outcome = "fail"      # fastcrm answered: nothing may be applied
    st.note(outcome, r.status, method, path, body)
    return outcome, r.status, r.json


class Writer(threading.Thread):
    def __init__(self, s, st, n, stop):
        super().__init__(daemon=True)
        self.s, self.st, self.n, self.stop = s, st, n, stop
        self.rnd = random.Random(1000 + n)
        self.mine = {"Contact": [], "Case": [], "Call": []}

    # -- creates ---------------------------------------------------------

    def create(self, entity, body):
        """POSTs body; retries the same body while the outcome is unknown
        (every create here is idempotent). Returns the Rec or None."""
        deadline = time.monotonic() + RETRY_FOR
        tries = 0
        while True:
            tries += 1
            outcome, status, js = send(self.s, self.st, "POST", "/" + entity,
                                       body)
            if outcome != "unknown" or time.monotonic() > deadline:
                break
            with self.st.lock:
                self.st.retries += 1
            time.sleep(min(0.1 * tries, 0.5))
        if outcome == "fail":
            with self.st.lock:
                self.st.failed_creates.append((entity, body, status))
            return None
        if outcome == "unknown":
            with self.st.lock:
                self.st.unresolved.append((entity, body))
            return None
        state = applied(entity, project(entity, {}), body)
        got = project(entity, js or {})
        if got != state:
            self.st.bad.append("%s create acked with %r, sent %r"
                               % (entity, got, state))
        rec = Rec(entity, js["id"], state)
        with self.st.lock:
            self.st.recs[rec.id] = rec
            self.st.creates.append((entity, body[MARKER[entity]], rec.id))
        self.mine[entity].append(rec)
        return rec

    def create_contact(self):
        n = uniq()
        self.create("Contact", {
            "firstName": "F%d" % n, "lastName": "Crash%dx%d" % (self.n, n),
            "phoneNumber": phone(n), "emailAddress": "c%d@crash.example" % n,
            "description": "created %d" % n, "title": "tag-contact-%d" % n})

    def create_case(self):
        if not self.mine["Contact"]:
            return self.create_contact()
        n = uniq()
        c = self.rnd.choice(self.mine["Contact"])
        self.create("Case", {
            "name": "Case %d" % n, "status": "New", "priority": "Normal",
            "contactId": c.id, "description": "case %d" % n,
            "ccallId": "ccall-%d" % n})

    def create_call(self):
        if not self.mine["Contact"]:
            return self.create_contact()
        n = uniq()
        c = self.rnd.choice(self.mine["Contact"])
        self.create("Call", {
            "name": "Call %d" % n, "status": "Held", "direction": "Inbound",
            "dateStart": "2025-03-%02d 10:%02d:00" % (1 + n % 28, n % 60),
            "dateEnd": "2025-03-%02d 11:%02d:00" % (1 + n % 28, n % 60),
            "description": "call %d" % n, "uid": "uid-%d" % n,
            "parentType": "Contact", "parentId": c.id})

    # -- updates ---------------------------------------------------------

    def update(self, rec, body):
        outcome, status, js = send(self.s, self.st, "PUT",
                                   "/%s/%s" % (rec.entity, rec.id), body)
        with self.st.lock:
            for f in rec.sent:
                if f in body:
                    rec.sent[f].add(body[f])
            new = [applied(rec.entity, c, body) for c in rec.cands]
            if outcome == "ack":
                got = project(rec.entity, js or {})
                if got not in new:
                    self.st.bad.append("%s %s update acked with %r, expected "
                                       "one of %r" % (rec.entity, rec.id,
                                                      got, new))
                rec.cands = [got]
            elif outcome == "unknown":
                self.st.unknown_updates += 1
                rec.cands = list(dict.fromkeys(rec.cands + new))[-64:]
            else:
                self.st.bad.append("%s %s valid update failed: %d %r"
                                   % (rec.entity, rec.id, status, body))

    def update_contact(self):
        rec = self.rnd.choice(self.mine["Contact"])
        n = uniq()
        fields = {"phoneNumber": phone(n),
                  "emailAddress": "u%d@crash.example" % n,
                  "firstName": "G%d" % n, "lastName": "Upd%dx%d" % (self.n, n),
                  "description": "updated %d" % n}
        keys = self.rnd.sample(sorted(fields), self.rnd.randint(1, 4))
        if "firstName" in keys and "lastName" not in keys:
            keys.append("lastName")
        self.update(rec, {k: fields[k] for k in keys})

    def update_case(self):
        rec = self.rnd.choice(self.mine["Case"])
        n = uniq()
        fields = {"name": "Case upd %d" % n,
                  "status": self.rnd.choice(["Assigned", "Pending", "Closed",
                                             "New"]),
                  "priority": self.rnd.choice(["Low", "High", "Urgent"]),
                  "contactId": self.rnd.choice(self.mine["Contact"]).id,
                  "description": "case upd %d" % n}
        keys = self.rnd.sample(sorted(fields), self.rnd.randint(1, 4))
        self.update(rec, {k: fields[k] for k in keys})

    def update_call(self):
        rec = self.rnd.choice(self.mine["Call"])
        n = uniq()
        body = {"name": "Call upd %d" % n,
                "status": self.rnd.choice(["Planned", "Held", "Not Held"]),
                "description": "call upd %d" % n}
        body = {k: body[k] for k in self.rnd.sample(sorted(body),
                                                    self.rnd.randint(1, 3))}
        if self.rnd.random() < 0.5:
            body["dateStart"] = "2025-04-%02d 09:%02d:00" % (1 + n % 28, n % 60)
            body["dateEnd"] = "2025-04-%02d 09:%02d:30" % (1 + n % 28, n % 60)
        self.update(rec, body)

    # -- reads: what a client sees mid-run is one of the possible states --

    def read(self):
        entity = self.rnd.choice([e for e in TRACK if self.mine[e]])
        rec = self.rnd.choice(self.mine[entity])
        try:
            if entity == "Contact" and self.rnd.random() < 0.5:
                with self.st.lock:
                    cur = {dict(c)["phoneNumber"] for c in rec.cands}
                r = self.s.request("GET", "/Contact?select=id&where[0][type]="
                                   "equals&where[0][attribute]=phoneNumber&"
                                   "where[0][value]=%s"
                                   % self.rnd.choice(sorted(cur))[1:],
                                   timeout=30)
                if r.status == 200 and len(cur) == 1 and \
                        [x["id"] for x in r.json["list"]] != [rec.id]:
                    self.st.bad.append("phone look-up of %s gave %s"
                                       % (rec.id, r.text))
                return
            r = self.s.request("GET", "/%s/%s" % (entity, rec.id), timeout=30)
        except (OSError, http.client.HTTPException):
            return
        with self.st.lock:
            self.st.reads += 1
            if r.status != 200:
                if r.status not in (502, 503, 504):
                    self.st.bad.append("GET %s %s: %d" % (entity, rec.id,
                                                          r.status))
                return
            got = project(entity, r.json)
            if got not in rec.cands:
                self.st.bad.append("GET %s %s gave %r, expected one of %r"
                                   % (entity, rec.id, got, rec.cands))
            rec.cands = [got]

    # -- invalid writes: fastcrm must refuse them and change nothing -----

    def invalid(self):
        n = uniq()
        kind = self.rnd.randrange(4)
        if kind == 0:
            entity, method, path = "Contact", "POST", "/Contact"
            body = {"lastName": "Bad%d" % n, "phoneNumber": phone(n),
                    "emailAddress": "not an email %d" % n,
                    "title": "tag-contact-%d" % n}
            values = [("Contact", "phoneNumber", phone(n)),
                      ("Contact", "lastName", "Bad%d" % n)]
        elif kind == 1:
            entity, method, path = "Case", "POST", "/Case"
            body = {"name": "Bad case %d" % n, "status": "Bogus",
                    "ccallId": "ccall-%d" % n}
            values = [("Case", "ccallId", "ccall-%d" % n)]
        elif kind == 2:
            entity, method, path = "Call", "POST", "/Call"
            body = {"name": "Bad call %d" % n, "status": "Bogus",
                    "dateStart": "2025-05-01 10:00:00",
                    "dateEnd": "2025-05-01 10:01:00", "uid": "uid-%d" % n}
            values = [("Call", "uid", "uid-%d" % n)]
        else:
            rec = self.rnd.choice(self.mine["Contact"])
            entity, method = "Contact", "PUT"
            path = "/Contact/" + rec.id
            body = {"phoneNumber": phone(n), "emailAddress": "bad %d" % n,
                    "lastName": "BadUpd%d" % n}
            values = [("Contact", "phoneNumber", phone(n)),
                      ("Contact", "lastName", "BadUpd%d" % n)]
        outcome, status, _ = send(self.s, self.st, method, path, body)
        with self.st.lock:
            self.st.invalid += 1
            if outcome == "ack":
                self.st.invalid_acked.append((method, path, body))
            self.st.failed_values += values
            if method == "POST":
                self.st.failed_creates.append((entity, body, status))

    def run(self):
        while not self.mine["Contact"] and not self.stop.is_set():
            self.create_contact()
        while not self.stop.is_set():
            x = self.rnd.random()
            if x < 0.15:
                self.create_contact()
            elif x < 0.40:
                self.update_contact()
            elif x < 0.52:
                self.create_case()
            elif x < 0.66:
                if self.mine["Case"]:
                    self.update_case()
                else:
                    self.create_case()
            elif x < 0.76:
                self.create_call()
            elif x < 0.86:
                if self.mine["Call"]:
                    self.update_call()
                else:
                    self.create_call()
            elif x < 0.90:
                self.invalid()
            else:
                self.read()


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def kill_worker(s, rnd):
    """SIGKILLs a random worker; True once the master has replaced it."""
    pids = s.worker_pids()
    if not pids:
        return False
    victim = rnd.choice(pids)
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = s.worker_pids()
        return victim not in now and len(now) == WORKERS
    return wait_for(replaced, 20)


def readers(data_dir):
    """(pid, txnid) of every slot in the LMDB reader table (mdb_stat -r)."""
    p = subprocess.run(["mdb_stat", "-r", data_dir], capture_output=True,
                       text=True)
    out = []
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[0].isdigit():
            out.append((int(f[0]), f[2]))
    return out


def blocked_dump(data_dir):
    """An mdb_dump whose stdout nobody reads: it blocks on the full pipe
    while holding a read transaction. None if it finished first."""
    p = subprocess.Popen(["mdb_dump", "-a", data_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if wait_for(lambda: p.poll() is not None or
                any(pid == p.pid and txn != "-"
                    for pid, txn in readers(data_dir)), 10) \
            and p.poll() is None:
        return p
    p.stdout.read()
    p.wait()
    return None


def list_all(s, entity):
    rows, off = [], 0
    while True:
        r = s.request("GET", "/%s?maxSize=200&offset=%d"
                      % (entity, off))
        assert r.status == 200, r.describe()
        rows += r.json["list"]
        off += 200
        if off >= r.json["total"]:
            return rows


def lookup(s, entity, attr, value):
    from urllib.parse import quote
    r = s.request("GET", "/%s?select=id&maxSize=200&where[0][type]=equals&"
                  "where[0][attribute]=%s&where[0][value]=%s"
                  % (entity, attr, quote(value, safe="")))
    assert r.status == 200, r.describe()
    return sorted(x["id"] for x in r.json["list"])


have_mdb = shutil.which("mdb_stat") and shutil.which("mdb_dump")
t0 = time.monotonic()

with Stack(workers=WORKERS) as s:
    st = Stats()
    stop = threading.Event()
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "0")) or None)
    writers = [Writer(s, st, i, stop) for i in range(THREADS)]
    kills = {"worker": 0, "master": 0, "replaced": 0}
    master_phase = {}

    def master_crash():
        sock_before = os.path.exists(s.socket)
        orphans = s.kill_fastcrm()
        kills["master"] += 1
        tk = time.monotonic()
        holder = victim = None
        if have_mdb:
            # A reader that dies with a transaction open, while another
            # process keeps the environment open (so no one resets the
            # reader table on open): only a check clears its slot.
            holder = blocked_dump(s.data_dir)
            victim = blocked_dump(s.data_dir)
            if victim is not None:
                victim.kill()
                victim.wait()
        gone = wait_for(lambda: not any(_alive(p) for p in orphans), 15)
        master_phase["orphans_exit_s"] = time.monotonic() - tk
        master_phase["orphans"] = orphans
        master_phase["orphans_gone"] = gone
        master_phase["stale_socket"] = sock_before and os.path.exists(s.socket)
        tr = time.monotonic()
        try:
            s.start_fastcrm(keep_socket=True)
            master_phase["restarted"] = wait_for(
                lambda: len(s.worker_pids()) == WORKERS, 15)
        except Exception as e:
            master_phase["restarted"] = False
            master_phase["restart_error"] = str(e)
        master_phase["restart_s"] = time.monotonic() - tr
        if victim is not None and holder is not None:
            master_phase["victim"] = victim.pid
            master_phase["readers_after"] = readers(s.data_dir)
        if holder is not None:
            holder.stdout.read()
            holder.wait()

    @t.test
    def kills_under_load():
        for w in writers:
            w.start()
        wait_for(lambda: st.acked >= 50, 30)
        for i in range(WORKER_KILLS):
            if i == MASTER_KILL_AT:
                master_crash()
            if kill_worker(s, rnd):
                kills["replaced"] += 1
            kills["worker"] += 1
            time.sleep(rnd.uniform(0.1, 0.5))
        time.sleep(1.0)
        stop.set()
        for w in writers:
            w.join(RETRY_FOR + 60)
        t.ok(not any(w.is_alive() for w in writers), "the writers finished")
        t.eq(kills["replaced"], kills["worker"],
             "the master replaced every killed worker (%d kills)"
             % kills["worker"])
        t.diag("kills injected: %d workers, %d master" % (kills["worker"],
                                                         kills["master"]))
        t.diag("writes sent %d: acked %d, failed %d (%d deliberately "
               "invalid), outcome unknown %d (%d of them updates), create "
               "retries %d; reads %d" % (st.sent, st.acked, st.failed,
                                         st.invalid, st.unknown,
                                         st.unknown_updates, st.retries,
                                         st.reads))

    @t.test
    def master_restart():
        t.ok(master_phase.get("orphans"), "the killed master had workers "
             "(%r)" % master_phase.get("orphans"))
        t.ok(master_phase.get("orphans_gone"),
             "its orphaned workers exited (%.2f s after the kill)"
             % master_phase.get("orphans_exit_s", -1))
        t.ok("the master is gone; exiting" in s.log_text(),
             "the orphans said why they exit")
        t.ok(master_phase.get("stale_socket"),
             "the killed master left its socket file behind")
        t.ok(master_phase.get("restarted"),
             "a new master started over the stale socket, with %d workers "
             "(%.2f s)" % (WORKERS, master_phase.get("restart_s", -1)),
             master_phase.get("restart_error"))
        if "victim" not in master_phase:
            t.skip("the restarted master cleared a dead reader's slot",
                   "mdb_stat/mdb_dump (lmdb-utils) missing or the dump did "
                   "not block" if have_mdb else "lmdb-utils not installed")
        else:
            rd = master_phase["readers_after"]
            t.ok(all(pid != master_phase["victim"] for pid, _ in rd),
                 "the restarted master cleared the slot of a reader killed "
                 "while it was down", rd)

    @t.test
    def no_wrong_answers():
        t.eq(st.bad[:5], [], "acked writes answered with the values sent; "
             "no valid write refused")
        t.eq(st.invalid_acked[:5], [], "no invalid write was accepted")
        t.eq(st.fastcrm_5xx, [], "no 5xx from fastcrm itself")
        t.eq(st.unresolved, [], "every create of unknown outcome resolved "
             "on retry")
        log = s.log_text()
        t.unlike(log, r"lmdb: ", "no LMDB error in fastcrm's log")
        deaths = len(re.findall(r"killed by signal 9; replacing it", log))
        t.eq(deaths, kills["worker"], "the master logged every worker's death")
        cleared = sum(int(x) for x in re.findall(
            r"cleared (\d+) stale LMDB reader slot", log))
        t.diag("stale LMDB reader slots cleared by the master: %d" % cleared)

    @t.test
    def group_commit():
        # Concurrent writes share commits (app/batch.c): a worker holding
        # a batch serves the waiting requests too and answers them after
        # one durable commit, logging "batch=N".  The checks below then
        # hold for writes answered that way, across the same kills.
        sizes = [int(x) for x in re.findall(r" batch=(\d+)", s.log_text())]
        shared = sum(1 for n in sizes if n >= 2)
        t.ok(shared > 0, "the group-commit path ran: %d answers sent after "
             "a commit shared with other requests (batches of up to %d)"
             % (shared, max(sizes or [0])))
        t.diag("answers held for a batch commit: %d; shared with others: "
               "%d; mean batch %.1f" % (len(sizes), shared,
                                        sum(sizes) / max(1, len(sizes))))

    @t.test
    def acked_writes_present():
        checked = 0
        wrong = []
        found = set()
        for entity in TRACK:
            for row in list_all(s, entity):
                rec = st.recs.get(row["id"])
                if rec is None:
                    continue
                found.add(row["id"])
                checked += 1
                got = project(entity, row)
                if got not in rec.cands:
                    wrong.append((entity, row["id"], got, rec.cands))
        missing = [i for i in st.recs if i not in found]
        t.eq(missing[:5], [], "every acked create is there (%d records)"
             % len(st.recs))
        t.eq(wrong[:3], [], "each record holds exactly the acked values "
             "(or all-or-nothing of an unknown update)")
        t.diag("records checked: %d" % checked)
        resolved = sum(1 for r in st.recs.values() if len(r.cands) == 1)
        t.diag("records whose state is exactly known: %d of %d"
               % (resolved, len(st.recs)))

    @t.test
    def no_duplicates_no_leftovers():
        dups, extra = [], []
        by_marker = {}
        for entity in TRACK:
            mine = {i for e, _, i in st.creates if e == entity}
            for row in list_all(s, entity):
                m = row.get(MARKER[entity])
                if m is not None:
                    by_marker.setdefault((entity, m), []).append(row["id"])
                if row["id"] not in mine:
                    extra.append((entity, row["id"], m))
        for entity, m, rid in st.creates:
            if by_marker.get((entity, m)) != [rid]:
                dups.append((entity, m, by_marker.get((entity, m))))
        t.eq(dups[:5], [], "one record per acked create, retries included "
             "(%d creates)" % len(st.creates))
        t.eq(extra[:5], [], "no record that no acked create made")
        left = [(e, b.get(MARKER[e])) for e, b, _ in st.failed_creates
                if by_marker.get((e, b.get(MARKER[e])))]
        t.eq(left[:5], [], "no failed create left a record (%d failed "
             "creates)" % len(st.failed_creates))

    @t.test
    def indexes_agree():
        bad = []
        n = 0
        vals = st.failed_values
        vals = random.Random(6).sample(vals, min(600, len(vals)))
        for entity, attr, value in vals:
            n += 1
            ids = lookup(s, entity, attr, value)
            if ids:
                bad.append((entity, attr, value, ids))
        t.eq(bad[:5], [], "values of failed writes find nothing through "
             "the indexes (%d look-ups)" % n)
        bad = []
        contacts = [r for r in st.recs.values() if r.entity == "Contact"]
        sample = random.Random(7).sample(contacts, min(150, len(contacts)))
        rows = {row["id"]: row for row in list_all(s, "Contact")}
        m = 0
        for rec in sample:
            row = rows[rec.id]
            for attr in ("phoneNumber", "emailAddress"):
                for v in rec.sent[attr]:
                    m += 1
                    ids = lookup(s, "Contact", attr, v)
                    want = [rec.id] if v == row.get(attr) else []
                    if ids != want:
                        bad.append((rec.id, attr, v, row.get(attr), ids))
        t.eq(bad[:5], [], "a contact's phone and email find it, the values "
             "it had before do not (%d look-ups, %d contacts)"
             % (m, len(sample)))
        bad = []
        cases = [r for r in st.recs.values() if r.entity == "Case"]
        crow = {row["id"]: row for row in list_all(s, "Case")}
        for rec in random.Random(8).sample(cases, min(60, len(cases))):
            cid = crow[rec.id]["contactId"]
            if rec.id not in lookup(s, "Case", "contactId", cid):
                bad.append((rec.id, cid))
        t.eq(bad, [], "a case is found through its contactId index")

    @t.test
    def verify_cli():
        p = subprocess.run([s.bin, "verify", "-c", s.config_path],
                           capture_output=True, text=True, timeout=120)
        t.eq(p.returncode, 0, "fastcrm verify exits 0", )
        t.like(p.stdout, r"verify: 0 problem\(s\)", "verify: 0 problems")
        complaints = [ln for ln in p.stderr.splitlines()
                      if "records checked" not in ln]
        t.eq(complaints, [], "verify complains about nothing (no index "
             "mismatch, no stale reader slot)")
        for ln in p.stderr.splitlines():
            t.diag(ln)
        if have_mdb:
            dead = [(pid, txn) for pid, txn in readers(s.data_dir)
                    if not _alive(pid)]
            t.eq(dead, [], "mdb_stat -r: no reader slot of a dead process")

    @t.test
    def verify_reports_stale_reader():
        victim = blocked_dump(s.data_dir) if have_mdb else None
        if victim is None:
            t.skip("verify reports a reader slot of a dead process",
                   "mdb_dump (lmdb-utils) missing or the dump did not block")
            return
        victim.kill()
        victim.wait()
        p = subprocess.run([s.bin, "verify", "-c", s.config_path],
                           capture_output=True, text=True, timeout=120)
        t.eq(p.returncode, 1, "verify exits 1 when a dead process holds a "
             "reader slot")
        t.like(p.stderr, r"reader slot held by dead process %d\b"
               % victim.pid, "verify names the dead reader's pid")

    journal = os.path.join(s.dir, "journal.jsonl")
    with open(journal, "w") as f:
        for entry in st.journal:
            f.write(json.dumps(entry) + "\n")
    if t.failed:
        t.diag("every request is in %s (kept with KEEP_TMP=1)" % journal)
    t.diag("data.mdb: %.1f MiB after %d writes" % (
        os.path.getsize(os.path.join(s.data_dir, "data.mdb")) / 1048576.0,
        st.sent))
    t.diag("elapsed: %.1f s" % (time.monotonic() - t0))

t.done()
