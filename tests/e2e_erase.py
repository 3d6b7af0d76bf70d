"""Erasure on a live stack's store: `fastcrm erase` takes a person out of
every record, index and file (read back with mdb_dump over the data
directory, and by reading the attachment files and the bytes of data.mdb:
LMDB's free pages and page gaps too), logging counts and never the
values; `fastcrm purge` removes soft-deleted records for good with
their index entries and files; the service's purge_deleted_after does the
same on its own; verify is clean after each."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


def cli(s, *args):
    return subprocess.run([s.bin] + list(args) + ["-c", s.config_path],
                          capture_output=True, text=True, timeout=120)


def eqd(got, want, msg, diag=""):
    t.ok(got == want, msg, "got %r, want %r\n%s" % (got, want, diag))


def dump(s):
    """Every database of the environment, as mdb_dump prints it (-p:
    printable bytes as they are), keys and values."""
    p = subprocess.run(["mdb_dump", "-a", "-p", os.path.join(s.run_dir,
                                                              "data")],
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("mdb_dump: " + p.stderr.decode(errors="replace"))
    return p.stdout.decode("utf-8", errors="replace")


def raw_has(s, value):
    """The bytes of every file in the data directory, LMDB's included."""
    d = os.path.join(s.run_dir, "data")
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                if value.encode() in f.read():
                    return True
    return False


def files(s):
    d = os.path.join(s.run_dir, "data", "attachments")
    out = {}
    for n in (os.listdir(d) if os.path.isdir(d) else []):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def verify(s, what):
    p = cli(s, "verify")
    t.ok(p.returncode == 0 and "0 problem" in p.stdout,
         "verify is clean %s" % what, p.stdout + p.stderr)


NAME, FIRST, LAST = "Erin Erasure", "Erin", "Erasure"
PHONE, PHONE2, EMAIL = "+15550401234", "+15550409876", "erin@erase.example"
DIGITS = ["5550401234", "5550409876"]

with Stack() as s:
    erin = s.request("POST", "/Contact", {
        "firstName": FIRST, "lastName": LAST, "emailAddress": EMAIL,
        "phoneNumberData": [
            {"phoneNumber": PHONE, "primary": True, "type": "Mobile"},
            {"phoneNumber": PHONE2, "primary": False, "type": "Home"}]}).json
    other = s.request("POST", "/Contact", {"firstName": "Olga",
                                           "lastName": "Other",
                                           "phoneNumber": "+15550407777"}).json
    case = s.request("POST", "/Case", {
        "name": "Callback for %s at %s" % (NAME, PHONE),
        "contactId": erin["id"],
        "description": "Customer %s wrote from %s" % (NAME, EMAIL)}).json
    gone_case = s.request("POST", "/Case", {"name": "Old case of " + NAME,
                                            "contactId": erin["id"]}).json
    s.request("DELETE", "/Case/" + gone_case["id"])
    call = s.request("POST", "/Call", {
        "name": "Call from " + PHONE, "dateStart": "2026-03-01 09:00:00",
        "dateEnd": "2026-03-01 09:03:00", "parentType": "Contact",
        "parentId": erin["id"], "contactsIds": [erin["id"], other["id"]],
        "direction": "Inbound"}).json
    voice = b"RIFF" + ("voice of %s %s " % (NAME, PHONE)).encode() * 200
    rec = s.request("POST", "/Call/%s/recording?name=erin.wav" % call["id"],
                    raw_body=voice, content_type="audio/wav").json
    task = s.request("POST", "/Task", {"name": "Send the form to " + EMAIL,
                                       "parentType": "Contact",
                                       "parentId": erin["id"]}).json
    note = s.request("POST", "/Note", {"post": "%s called" % NAME,
                                       "parentType": "Contact",
                                       "parentId": erin["id"]}).json
    case_note = s.request("POST", "/Note", {"post": "unrelated",
                                            "parentType": "Case",
                                            "parentId": case["id"]}).json
    secrets = [NAME, LAST, EMAIL, PHONE, PHONE2] + DIGITS

    @t.test
    def before():
        d = dump(s)
        t.ok(all(x in d for x in secrets),
             "before: mdb_dump shows the name, numbers and email")
        t.ok(all(raw_has(s, x) for x in secrets), "and data.mdb holds them")
        t.ok(any(NAME.encode() in b for b in files(s).values()),
             "and the recording file holds the test marker")

    @t.test
    def erase():
        t0 = len(s.log_text())
        p = cli(s, "erase", "--entity", "Contact", erin["id"])
        eqd(p.returncode, 0, "erase --entity Contact ID", p.stderr)
        log = p.stderr + p.stdout
        t.ok(re.search(r"erase: Contact %s removed" % erin["id"], log),
             "it says what it erased", log)
        t.ok(not any(x in log for x in secrets + [FIRST]),
             "without the erased values", log)
        eqd(s.request("GET", "/Contact/" + erin["id"]).status, 404,
            "the contact is gone")
        c = s.request("GET", "/Case/" + case["id"]).json
        eqd((c["contactId"], c["contactName"], c["contactsIds"]),
            (None, None, []), "the case no longer points to her")
        t.ok(NAME not in c["name"] and PHONE not in c["name"] and
             EMAIL not in c["description"] and "[erased]" in c["name"],
             "her name, number and email are replaced in the case's text",
             c)
        k = s.request("GET", "/Call/" + call["id"]).json
        eqd((k["parentId"], k["parentName"], k["contactsIds"],
             k["recordingId"]), (None, None, [other["id"]], None),
            "the call keeps Olga, loses Erin and its recording")
        t.ok(PHONE not in k["name"], "the call's name is cleaned", k)
        eqd(s.request("GET", "/Attachment/" + rec["id"]).status, 404,
            "the recording's record is gone")
        t.ok(rec["id"] not in files(s), "and its file")
        eqd(s.request("GET", "/Note/" + note["id"]).status, 404,
            "a note about her is gone")
        eqd(s.request("GET", "/Note/" + case_note["id"]).status, 200,
            "a note about the case stays")
        tk = s.request("GET", "/Task/" + task["id"]).json
        t.ok(tk["parentId"] is None and EMAIL not in tk["name"],
             "the task stays, without her", tk)
        d = dump(s)
        left = [x for x in secrets if x in d]
        if left:
            t.diag("\n".join(ln for ln in d.splitlines()
                             if any(x in ln for x in left))[:3000])
        eqd(left, [], "mdb_dump over the data dir: no record, index or "
            "other table holds her name, numbers or email")
        t.ok(erin["id"] not in d, "nor her id")
        t.ok(not any(x.encode() in b for b in files(s).values()
                     for x in secrets), "no attachment file holds them")
        raw = [x for x in secrets if raw_has(s, x)]
        if raw:
            b = open(os.path.join(s.run_dir, "data", "data.mdb"), "rb").read()
            t.diag("pages holding it: %r" % sorted(set(
                m.start() // 4096 for m in re.finditer(
                    re.escape(raw[0].encode()), b))))
        eqd(raw, [], "nor do the bytes of data.mdb (old versions in free "
            "pages and gaps were overwritten)")
        s.reload()
        for i in range(20):
            s.request("POST", "/Account", {"name": "after erase %d" % i})
        raw = [x for x in secrets if raw_has(s, x)]
        eqd(raw, [], "and after a reload and new writes, still not")
        eqd(s.request("GET", "/Contact/" + other["id"]).json["name"],
            "Olga Other", "the other contact is untouched")
        r = s.request("GET", "/Contact?where[0][type]=equals&where[0]"
                      "[attribute]=phoneNumber&where[0][value]=" + DIGITS[0])
        eqd(r.json["total"], 0, "a lookup by her number finds nobody")
        verify(s, "after erase")
        p = cli(s, "erase", "--entity", "Contact", erin["id"])
        t.ok(p.returncode != 0 and "no such record" in p.stderr,
             "erasing again: no such record", p.stderr)

    @t.test
    def purge():
        a = s.request("POST", "/Contact", {"lastName": "Purgeable",
                                           "phoneNumber": "+15550405555"}).json
        att = s.request("POST", "/Call/%s/recording?name=p.wav" % call["id"],
                        raw_body=b"purge me please", content_type="audio/wav")
        att = att.json
        s.request("DELETE", "/Contact/" + a["id"])
        s.request("DELETE", "/Attachment/" + att["id"])
        t.ok("Purgeable" in dump(s), "a soft-deleted record is still stored")
        p = cli(s, "purge", "--deleted-before", "1h")
        t.ok(p.returncode == 0 and "0 record(s) removed" in p.stdout,
             "--deleted-before 1h: nothing is that old", p.stdout + p.stderr)
        p = cli(s, "purge", "--deleted-before", "0s")
        t.ok(p.returncode == 0 and "3 record(s) removed" in p.stdout,
             "--deleted-before 0s: the three deleted records removed (the "
             "contact, the attachment, the case deleted earlier)",
             p.stdout + p.stderr)
        d = dump(s)
        t.ok("Purgeable" not in d and a["id"] not in d, "gone from mdb_dump")
        t.ok(att["id"] not in files(s), "the attachment's file is gone")
        eqd(s.request("GET", "/Contact/" + a["id"]).status, 404, "404")
        eqd(s.request("GET", "/Case/" + gone_case["id"]).status, 404,
            "the case deleted before erase is purged too")
        t.ok(gone_case["id"] not in dump(s), "for good")
        verify(s, "after purge")
        p = cli(s, "purge", "--deleted-before", "soon")
        t.ok(p.returncode != 0 and "duration" in p.stderr,
             "a bad duration is refused", p.stderr)

with Stack(config_extra={"purge_deleted_after": "2s"}) as s:

    @t.test
    def scheduled():
        a = s.request("POST", "/Contact", {"lastName": "Scheduled"}).json
        b = s.request("POST", "/Contact", {"lastName": "Kept"}).json
        s.request("DELETE", "/Contact/" + a["id"])
        t.ok("Scheduled" in dump(s), "deleted, still stored")
        deadline = time.time() + 20
        while time.time() < deadline and "Scheduled" in dump(s):
            time.sleep(0.5)
        t.ok("Scheduled" not in dump(s),
             "the service purged it on its own (purge_deleted_after: 2s)",
             s.log_text()[-2000:])
        eqd(s.request("GET", "/Contact/" + b["id"]).status, 200,
            "a live record stays")
        t.ok("purge: Contact: 1 soft-deleted record(s) removed" in
             s.log_text(), "and logged it", s.log_text()[-2000:])
        verify(s, "after the scheduled purge")
        bad = dict(s.config, purge_deleted_after="sometime")
        s.reload_config(bad, wait=False)
        deadline = time.time() + 10
        while time.time() < deadline and "reload refused" not in s.log_text():
            time.sleep(0.2)
        t.ok("'purge_deleted_after' is a duration" in s.log_text() and
             "reload refused" in s.log_text(),
             "a bad purge_deleted_after is named and the reload refused",
             s.log_text()[-1500:])

t.done()
