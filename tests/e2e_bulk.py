"""fastcrm import / export / verify against a live stack's store: the same
validation and indexes as a POST, a bad line stops a --strict import without a
partial batch, an export imports back identically, verify finds nothing
wrong — and the records are served at once through nginx."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


def run(s, *args, stdin=None):
    return subprocess.run([s.bin] + list(args) + ["-c", s.config_path],
                          input=stdin, capture_output=True, text=True)


with Stack() as s:
    lines = [json.dumps({"firstName": "Bulk%d" % i, "lastName": "Person%d" % i,
                         "phoneNumber": "+1 555 77%05d" % i,
                         "emailAddress": "bulk%d@example.com" % i})
             for i in range(500)]
    path = os.path.join(s.run_dir, "contacts.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    @t.test
    def import_good():
        p = run(s, "import", "--entity", "Contact", path)
        t.ok(p.returncode == 0 and "imported 500 records" in p.stderr,
             "import 500 contacts", p.stderr)
        r = s.request("GET", "/Contact?where[0][type]=equals&where[0][attribute]="
                      "phoneNumber&where[0][value]=5557700042")
        t.eq([c["name"] for c in r.json["list"]], ["Bulk42 Person42"],
             "an imported contact is found by phone through nginx")
        t.eq(s.request("GET", "/Contact?maxSize=1").json["total"], 500,
             "all 500 are listed")

    @t.test
    def import_bad_line():
        bad = os.path.join(s.run_dir, "bad.jsonl")
        with open(bad, "w") as f:
            f.write("\n".join([
                json.dumps({"lastName": "Ok1"}), json.dumps({"lastName": "Ok2"}),
                '{"lastName": "broken"', json.dumps({"lastName": "Ok4"})]) + "\n")
        p = run(s, "import", "--strict", "--entity", "Contact", bad)
        t.ok(p.returncode != 0, "a malformed line fails the import")
        t.ok("line 3" in p.stderr and "NOT imported" in p.stderr,
             "the summary names the line and what was not loaded", p.stderr)
        r = s.request("GET", "/Contact?where[0][type]=in&where[0][attribute]="
                      "lastName&where[0][value][]=Ok1&where[0][value][]=Ok2")
        t.eq(r.json["total"], 0, "no partial batch was committed")
        inval = os.path.join(s.run_dir, "inval.jsonl")
        with open(inval, "w") as f:
            f.write(json.dumps({"firstName": "NoLast"}) + "\n")
        p = run(s, "import", "--entity", "Contact", inval)
        t.ok(p.returncode != 0 and "lastName" in p.stderr,
             "a record failing validation is reported", p.stderr)

    @t.test
    def export_roundtrip():
        p = run(s, "export", "--entity", "Contact")
        t.eq(p.returncode, 0, "export")
        out = p.stdout.splitlines()
        t.eq(len(out), 500, "export writes every live record")
        with Stack() as s2:
            p2 = run(s2, "import", "--entity", "Contact", "-",
                     stdin=p.stdout)
            t.eq(p2.returncode, 0, "the export imports into a fresh store")
            again = run(s2, "export", "--entity", "Contact").stdout.splitlines()
            t.eq(again, out, "and exports back identically")
            p3 = run(s2, "verify")
            t.ok(p3.returncode == 0 and "0 problem" in p3.stdout,
                 "verify: no problems", p3.stdout + p3.stderr)

    @t.test
    def verify_live():
        s.request("POST", "/Case", {"name": "c", "contactId":
                                    s.request("GET", "/Contact?maxSize=1").json["list"][0]["id"]})
        p = run(s, "verify")
        t.ok(p.returncode == 0 and "0 problem" in p.stdout,
             "verify on the serving store", p.stdout + p.stderr)

t.done()
