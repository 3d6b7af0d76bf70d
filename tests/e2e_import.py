"""fastcrm import: CSV as spreadsheet programs write it (BOM, `;`, CRLF,
quoted newlines) with header mapping, --map and --fields; the modes
create, update and upsert with --match; the duplicate check; the reject
file; a re-run that creates nothing; counters after imported numbers; links
to records later in the run; verify afterwards.  Against a live stack's
store, read back through nginx."""

import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


def run(s, *args, stdin=None):
    return subprocess.run([s.bin] + list(args) + ["-c", s.config_path],
                          input=stdin, capture_output=True, text=True)


def where_eq(attr, value):
    return ("where[0][type]=equals&where[0][attribute]=%s&where[0][value]=%s"
            % (attr, urllib.parse.quote(value)))


def eqd(got, want, msg, diag=""):
    """t.eq with a diagnostic (the command's stderr) when it fails."""
    t.ok(got == want, msg, "got %r, want %r\n%s" % (got, want, diag))


def rejects(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


with Stack() as s:
    d = s.run_dir

    @t.test
    def fields():
        p = run(s, "import", "--fields", "Contact")
        eqd(p.returncode, 0, "import --fields Contact", p.stderr)
        lines = {ln.split()[0]: ln for ln in p.stdout.splitlines()[1:]
                 if ln.startswith("  ") and not ln.startswith("  (")}
        t.ok("firstName" in lines and "varchar" in lines["firstName"],
             "firstName is a varchar", p.stdout)
        t.ok("phoneNumber" in lines and "phone" in lines["phoneNumber"]
             and '"Phone"' in lines["phoneNumber"],
             "phoneNumber is a phone, header \"Phone\"", p.stdout)
        t.ok("accountId" in lines and "Account" in lines["accountId"]
             and '"Company"' in lines["accountId"],
             "accountId links an Account, header \"Company\"", p.stdout)
        t.ok("lastName" in lines and "required" in lines["lastName"],
             "lastName is required")
        t.ok("name" not in lines and "accountName" not in lines,
             "computed attributes are not offered")
        t.ok(run(s, "import", "--fields", "Nope").returncode != 0,
             "an unknown entity fails")

    # As a spreadsheet saves "CSV UTF-8" with a semicolon locale.
    sheet = ("\ufeffFirst Name;Last Name;Phone;E-mail;Company;Description;"
             "Shoe Size\r\n"
             "Anna;Müller;(555) 010-0001;anna@example.com;Acme;\"Line one\r\n"
             "line two; with \"\"quotes\"\"\";42\r\n"
             "Bob;Stone;555 010 0002;bob@example.com;Acme;;43\r\n"
             ";;555 010 0003;nolast@example.com;;missing last name;44\r\n"
             "Cleo;Park;+1 555 010 0004;cleo@example.com;Globex;;\r\n")
    csv_path = os.path.join(d, "contacts.csv")
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        f.write(sheet)

    @t.test
    def csv_spreadsheet():
        p = run(s, "import", "--entity", "Contact", csv_path)
        eqd(p.returncode, 3, "rows were rejected: exit status 3", p.stderr)
        t.ok("Shoe Size" in p.stderr and "ignoring" in p.stderr,
             "the unknown column is listed", p.stderr)
        t.ok("3 created" in p.stderr and "1 rejected" in p.stderr,
             "summary: 3 created, 1 rejected", p.stderr)
        rj = rejects(csv_path + ".rejects")
        t.eq([(r["line"], r["entity"]) for r in rj], [(5, "Contact")],
             "the reject file names line 5 (after a quoted newline)")
        t.ok("lastName" in rj[0]["reason"], "and the reason", rj[0])
        r = s.request("GET", "/Contact?" + where_eq("phoneNumber",
                                                      "5550100001"))
        t.eq(r.status, 200, "phone lookup")
        anna = r.json["list"][0] if r.json["total"] == 1 else {}
        t.eq((anna.get("firstName"), anna.get("lastName"),
              anna.get("emailAddress")),
             ("Anna", "Müller", "anna@example.com"),
             "First Name, Last Name, E-mail mapped (UTF-8 kept)")
        t.eq(anna.get("description"),
             'Line one\r\nline two; with "quotes"',
             "a quoted field keeps its newline, separator and quotes")
        t.eq(anna.get("accountName"), "Acme", "Company is the account")
        accts = s.request("GET", "/Account?" + where_eq("name", "Acme")).json
        t.eq(accts["total"], 1, "one Account Acme for two rows")
        bob = s.request("GET", "/Contact?" + where_eq(
            "emailAddress", "bob@example.com")).json["list"][0]
        t.eq(bob["accountId"], accts["list"][0]["id"],
             "both rows link the same account")
        t.eq(bob["phoneNumber"], "+15550100002", "phone normalised")

    @t.test
    def rerun_creates_nothing():
        n0 = s.request("GET", "/Contact?maxSize=1").json["total"]
        p = run(s, "import", "--entity", "Contact", csv_path)
        t.ok("0 created" in p.stderr, "create mode again: 0 created "
             "(the duplicate check finds each row)", p.stderr)
        p = run(s, "import", "--mode", "upsert", "--match", "emailAddress",
                "--entity", "Contact", csv_path)
        t.ok("0 created" in p.stderr and "3 unchanged" in p.stderr,
             "upsert on emailAddress: 0 created, 3 unchanged", p.stderr)
        t.eq(s.request("GET", "/Contact?maxSize=1").json["total"], n0,
             "no contact more")
        t.eq(s.request("GET", "/Account?maxSize=1").json["total"], 2,
             "no account more")

    @t.test
    def comma_and_map():
        path = os.path.join(d, "extra.csv")
        with open(path, "w") as f:
            f.write("Surname,Given,Tel,Job\n"
                    "Dunn,Dee,555-010-0005,Buyer\n")
        p = run(s, "import", "--map", "Surname=lastName", "--map",
                "Given=firstName", "--map", "Tel=phoneNumber", "--map",
                "Job=title", "--entity", "Contact", path)
        eqd(p.returncode, 0, "--map on a comma file", p.stderr)
        c = s.request("GET", "/Contact?" + where_eq(
            "phoneNumber", "5550100005")).json["list"]
        t.eq([(x["name"], x["title"]) for x in c], [("Dee Dunn", "Buyer")],
             "the mapped columns")
        p = run(s, "import", "--map", "Surname=shoeSize", "--entity",
                "Contact", path)
        t.ok(p.returncode not in (0, 3) and "shoeSize" not in p.stdout,
             "a --map to no attribute is refused", p.stderr)

    @t.test
    def update_by_phone_digits():
        path = os.path.join(d, "upd.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps({"phoneNumber": "5550100001",
                                "title": "Boss"}) + "\n")
            f.write(json.dumps({"phoneNumber": "5559999999",
                                "title": "Nobody"}) + "\n")
        p = run(s, "import", "--mode", "update", "--match", "phoneNumber",
                "--entity", "Contact", path)
        eqd(p.returncode, 3, "update mode: one row matched nobody",
            p.stderr)
        t.ok("1 updated" in p.stderr and "1 rejected" in p.stderr,
             "1 updated, 1 rejected", p.stderr)
        c = s.request("GET", "/Contact?" + where_eq(
            "phoneNumber", "5550100001")).json["list"]
        t.eq([(x["lastName"], x["title"]) for x in c], [("Müller", "Boss")],
             "matched by digits, updated, the rest kept")
        rj = rejects(path + ".rejects")
        t.ok(len(rj) == 1 and rj[0]["line"] == 2 and "no Contact" in
             rj[0]["reason"], "the unmatched row is in the reject file", rj)
        r = s.request("PUT", "/Contact/" + c[0]["id"], {"title": "Chief"})
        eqd(r.status, 200, "an imported contact can be edited through "
            "the API", r.reason)

    @t.test
    def duplicate_check():
        path = os.path.join(d, "dup.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps({"firstName": "Cleo", "lastName": "Park",
                                "title": "Other"}) + "\n")
        p = run(s, "import", "--entity", "Contact", path)
        t.ok("1 skipped as duplicates" in p.stderr and "0 created" in
             p.stderr, "a look-alike is skipped as a duplicate, as a POST "
             "would refuse it", p.stderr)
        p = run(s, "import", "--skip-duplicate-check", "--entity",
                "Contact", path)
        t.ok("1 created" in p.stderr, "--skip-duplicate-check creates it",
             p.stderr)
        t.eq(s.request("GET", "/Contact?" + where_eq("name", "Cleo Park"))
             .json["total"], 2, "two Cleo Park now")

    @t.test
    def any_order_and_links():
        acc_id = "aa00000000000000a"
        con_id = "cc00000000000000c"
        cases = os.path.join(d, "cases.jsonl")
        with open(cases, "w") as f:
            f.write(json.dumps({"name": "Late link", "number": 4711,
                                "contactId": con_id,
                                "accountId": acc_id}) + "\n")
            f.write(json.dumps({"name": "Older", "number": 12}) + "\n")
            f.write(json.dumps({"name": "Dangling",
                                "contactId": "dd00000000000000d"}) + "\n")
        contacts = os.path.join(d, "late.jsonl")
        with open(contacts, "w") as f:
            f.write(json.dumps({"id": con_id, "lastName": "Later",
                                "accountId": acc_id}) + "\n")
        accounts = os.path.join(d, "acc.jsonl")
        with open(accounts, "w") as f:
            f.write(json.dumps({"id": acc_id, "name": "Initech"}) + "\n")
        p = run(s, "import", "--rejects", os.path.join(d, "order.rej"),
                "--entity", "Case", cases, "--entity", "Contact", contacts,
                "--entity", "Account", accounts)
        eqd(p.returncode, 3, "one case links to nobody", p.stderr)
        r = s.request("GET", "/Case?" + where_eq("name", "Late link")).json
        c = r["list"][0] if r["total"] == 1 else {}
        t.eq((c.get("number"), c.get("contactName"), c.get("accountName")),
             (4711, "Later", "Initech"),
             "links to records later in the run resolve, names filled")
        rj = rejects(os.path.join(d, "order.rej"))
        t.ok(len(rj) == 1 and rj[0]["line"] == 3 and "does not exist" in
             rj[0]["reason"], "the dangling link is rejected by line", rj)
        new = s.request("POST", "/Case", {"name": "after import"})
        t.eq(new.json.get("number"), 4712,
             "the counter continues after the highest imported number")
        rel = s.request("GET", "/Contact/%s/cases" % con_id).json
        t.eq([x["name"] for x in rel["list"]], ["Late link"],
             "the contact's cases list it")

    @t.test
    def strict():
        path = os.path.join(d, "strict.csv")
        with open(path, "w") as f:
            f.write("Last Name,Title\nStrict1,a\n,b\nStrict3,c\n")
        p = run(s, "import", "--strict", "--entity", "Contact", path)
        t.ok(p.returncode not in (0, 3) and "line 3" in p.stderr and
             "NOT imported" in p.stderr, "--strict stops at line 3",
             p.stderr)
        t.eq(s.request("GET", "/Contact?" + where_eq("lastName", "Strict1"))
             .json["total"], 0, "and its batch was rolled back")

    @t.test
    def hostile_csv():
        path = os.path.join(d, "latin1.csv")
        with open(path, "wb") as f:
            f.write(b"Last Name\nM\xfcller\nOkay\n")
        p = run(s, "import", "--entity", "Contact", path)
        eqd(p.returncode, 3, "a Latin-1 file is refused where it breaks",
            p.stderr)
        t.ok("UTF-8" in p.stderr and "line 2" in p.stderr,
             "naming the line and UTF-8", p.stderr)
        t.eq(s.request("GET", "/Contact?" + where_eq("lastName", "Okay"))
             .json["total"], 0, "nothing after the broken line is guessed")

    @t.test
    def json_lines_with_bom():
        path = os.path.join(d, "bom.jsonl")
        with open(path, "w", encoding="utf-8-sig") as f:
            f.write(json.dumps({"lastName": "Bommed"}) + "\n")
        p = run(s, "import", "--entity", "Contact", path)
        eqd(p.returncode, 0, "JSON lines saved with a byte-order mark",
            p.stderr)
        eqd(s.request("GET", "/Contact?" + where_eq("lastName", "Bommed"))
            .json["total"], 1, "the first line is read")

    @t.test
    def verify_after():
        p = run(s, "verify")
        t.ok(p.returncode == 0 and "0 problem" in p.stdout,
             "verify: no problems", p.stdout + p.stderr)

t.done()
