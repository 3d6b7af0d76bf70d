"""Records end to end: create, read, update, delete, links, related lists,
streams, computed values, validation, duplicates and bad input — through
the real nginx and real workers, with LMDB in a temp dir."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
ENTITIES = ["Contact", "Account", "Case", "User", "Call", "Task", "Note"]


def dump(s):
    """Every record of every entity, as the API returns them."""
    out = {}
    for e in ENTITIES:
        rows, off = [], 0
        while True:
            r = s.request("GET", "/%s?maxSize=200&offset=%d" % (e, off))
            assert r.status == 200, r.describe()
            rows += r.json["list"]
            off += 200
            if off >= r.json["total"]:
                break
        out[e] = sorted(rows, key=lambda x: x["id"])
    return out


with Stack(workers=2) as s:

    @t.test
    def create_contact():
        r = s.request("POST", "/Contact", {"firstName": "Ada",
                                           "lastName": "Lovelace",
                                           "phoneNumber": "+44 20 7946 0000",
                                           "emailAddress": "ada@example.com",
                                           "id": "ffffffffffffffff0",
                                           "createdAt": "1999-01-01 00:00:00"})
        t.eq(r.status, 200, "POST /Contact answers 200")
        c = r.json
        t.eq(c["name"], "Ada Lovelace", "Contact name is computed")
        t.ok(len(c["id"]) == 17 and c["id"] != "ffffffffffffffff0",
             "id is 17 hex chars, the given one ignored")
        t.ok(c["createdAt"] != "1999-01-01 00:00:00", "createdAt is read-only")
        t.eq(c["phoneNumber"], "+442079460000", "phone stored in E.164")
        t.eq(c["phoneNumberData"][0]["primary"], True, "phoneNumberData primary")
        t.eq(c["deleted"], False, "deleted:false")
        t.eq(c["createdById"], s.request("GET", "/App/user").json["user"]["id"],
             "createdById is the principal")
        r2 = s.request("GET", "/Contact/" + c["id"])
        t.eq(r2.status, 200, "GET by id")
        t.eq(r2.json, c, "read returns the record as created")
        t.eq(list(r2.json.keys())[0], "id", "id comes first")

    @t.test
    def validation():
        r = s.request("POST", "/Contact", {"firstName": "NoLast"})
        t.eq(r.status, 400, "missing lastName is 400")
        t.eq(r.json, {"messageTranslation": {"label": "validationFailure",
                                             "scope": None,
                                             "data": {"field": "lastName",
                                                      "type": "required"}}},
             "EspoCRM validation body")
        t.eq(r.headers.get("X-Status-Reason"),
             "Field validation failure; entityType: Contact, field: lastName, "
             "type: required.", "EspoCRM validation reason")
        r = s.request("POST", "/Case", {"name": "x", "status": "Bogus"})
        t.eq((r.status, r.json["messageTranslation"]["data"]),
             (400, {"field": "status", "type": "valid"}), "bad enum is 400 valid")
        r = s.request("POST", "/Contact", {"lastName": "x" * 101})
        t.eq(r.json["messageTranslation"]["data"]["type"], "maxLength",
             "maxLength enforced")
        r = s.request("POST", "/Call", {"name": "c", "dateStart": "soon",
                                        "dateEnd": "2026-01-01 10:00:00"})
        t.eq(r.status, 400, "bad datetime is 400")

    @t.test
    def case_number_and_defaults():
        a = s.request("POST", "/Case", {"name": "first"}).json
        b = s.request("POST", "/Case", {"name": "second"}).json
        t.eq(b["number"], a["number"] + 1, "Case number auto-increments")
        t.eq((a["status"], a["priority"], a["type"]), ("New", "Normal", ""),
             "Case defaults")
        r = s.request("PUT", "/Case/" + a["id"], {"number": 999})
        t.eq(r.json["number"], a["number"], "number is read-only")

    @t.test
    def call_duration():
        r = s.request("POST", "/Call", {"name": "call",
                                        "dateStart": "2026-01-01 10:00:00",
                                        "dateEnd": "2026-01-01 10:05:30",
                                        "direction": "inbound"})
        t.eq(r.status, 200, "create a Call")
        t.eq(r.json["duration"], 330, "duration = dateEnd - dateStart")
        t.eq((r.json["status"], r.json["direction"]), ("Planned", "Inbound"),
             "status default and lenient direction")
        r = s.request("PATCH", "/Call/" + r.json["id"],
                      {"dateEnd": "2026-01-01T10:10:00Z"})
        t.eq(r.json["duration"], 600, "duration follows an update (ISO input)")

    @t.test
    def update_partial():
        c = s.request("POST", "/Contact", {"firstName": "Grace",
                                           "lastName": "Hopper",
                                           "title": "RADM"}).json
        r = s.request("PUT", "/Contact/" + c["id"], {"title": "Admiral"})
        t.eq(r.status, 200, "PUT answers 200")
        t.eq((r.json["title"], r.json["firstName"]), ("Admiral", "Grace"),
             "PUT is partial")
        r = s.request("PATCH", "/Contact/" + c["id"],
                      raw_body="firstName=Amazing+Grace",
                      content_type="application/x-www-form-urlencoded")
        t.eq(r.json["name"], "Amazing Grace Hopper",
             "form-encoded PATCH applies and recomputes name")
        t.ok(r.json["modifiedAt"] >= c["modifiedAt"], "modifiedAt moves")
        r = s.request("PUT", "/Contact/00000000000000000", {"title": "x"})
        t.eq(r.status, 404, "PUT on a missing id is 404")

    @t.test
    def delete_soft():
        c = s.request("POST", "/Account", {"name": "Doomed Ltd"}).json
        r = s.request("DELETE", "/Account/" + c["id"])
        t.eq((r.status, r.body), (200, b"true"), "DELETE answers true")
        t.eq(s.request("GET", "/Account/" + c["id"]).status, 404,
             "deleted record is 404")
        lst = s.request("GET", "/Account?where[0][type]=equals&"
                        "where[0][attribute]=name&where[0][value]=Doomed+Ltd").json
        t.eq(lst["total"], 0, "deleted record leaves lists and indexes")
        t.eq(s.request("DELETE", "/Account/" + c["id"]).status, 404,
             "second DELETE is 404")

    @t.test
    def links():
        acc = s.request("POST", "/Account", {"name": "Acme"}).json
        con = s.request("POST", "/Contact", {"lastName": "Coyote"}).json
        case = s.request("POST", "/Case", {"name": "Anvil",
                                           "contactId": con["id"],
                                           "accountId": acc["id"]}).json
        t.eq(case["contactName"], "Coyote", "contactName resolved")
        t.eq(case["contactsIds"], [con["id"]], "contactId also links contacts")
        t.eq(case["contactsNames"], {con["id"]: "Coyote"}, "contactsNames")
        r = s.request("GET", "/Contact/%s/cases" % con["id"])
        t.eq([x["id"] for x in r.json["list"]], [case["id"]],
             "Contact → cases")
        r = s.request("GET", "/Account/%s/cases" % acc["id"])
        t.eq(r.json["total"], 1, "Account → cases")
        r = s.request("POST", "/Contact/%s/accounts" % con["id"],
                      {"id": acc["id"]})
        t.eq((r.status, r.body), (200, b"true"), "link answers true")
        r = s.request("GET", "/Account/%s/contacts" % acc["id"])
        t.eq([x["id"] for x in r.json["list"]], [con["id"]],
             "Account → contacts after link")
        t.eq(s.request("GET", "/Contact/" + con["id"]).json["accountsNames"],
             {acc["id"]: "Acme"}, "accountsNames")
        r = s.request("DELETE", "/Contact/%s/accounts" % con["id"],
                      {"id": acc["id"]})
        t.eq(r.status, 200, "unlink")
        t.eq(s.request("GET", "/Account/%s/contacts" % acc["id"]).json["total"],
             0, "unlinked")
        r = s.request("POST", "/Contact/%s/accounts" % con["id"],
                      {"id": "00000000000000000"})
        t.eq(r.status, 403, "link to a missing record is 403")
        r = s.request("POST", "/Case", {"name": "bad", "contactId": "nope"})
        t.eq(r.status, 403, "create with a link to a missing record is 403")
        task = s.request("POST", "/Task", {"name": "t"}).json
        r = s.request("POST", "/Contact/%s/tasks" % con["id"],
                      {"ids": [task["id"]]})
        t.eq(r.status, 200, "link a task by ids")
        got = s.request("GET", "/Task/" + task["id"]).json
        t.eq((got["parentType"], got["parentId"], got["parentName"]),
             ("Contact", con["id"], "Coyote"), "task parent set by link")
        r = s.request("GET", "/Contact/%s/tasks" % con["id"])
        t.eq(r.json["total"], 1, "Contact → tasks")
        call = s.request("POST", "/Call", {"name": "c",
                                           "dateStart": "2026-01-01 10:00:00",
                                           "dateEnd": "2026-01-01 10:01:00",
                                           "parentType": "Case",
                                           "parentId": case["id"],
                                           "contactsIds": [con["id"]]}).json
        t.eq(s.request("GET", "/Case/%s/calls" % case["id"]).json["total"], 1,
             "Case → calls via parent")
        t.eq(s.request("GET", "/Contact/%s/calls" % con["id"]).json["total"], 1,
             "Contact → calls via contactsIds")
        t.eq(s.request("GET", "/Call/%s/contacts" % call["id"]).json["list"][0]["id"],
             con["id"], "Call → contacts")
        r = s.request("GET", "/Contact/%s/nonsense" % con["id"])
        t.eq(r.status, 404, "unknown link is 404")

    @t.test
    def stream():
        case = s.request("POST", "/Case", {"name": "streamed"}).json
        ids = []
        for i in range(3):
            n = s.request("POST", "/Note", {"post": "note %d" % i,
                                            "parentType": "Case",
                                            "parentId": case["id"]})
            t.eq(n.status, 200, "create note %d" % i)
            ids.append(n.json["id"])
            time.sleep(1.05 if i == 0 else 0)
        r = s.request("GET", "/Case/%s/stream" % case["id"])
        t.eq(r.json["total"], 3, "stream total")
        t.eq(r.json["list"][-1]["id"], ids[0], "stream is newest first")
        t.eq(s.request("POST", "/Note", {"parentType": "Case",
                                         "parentId": case["id"]}).status,
             400, "a Post note needs post")

    @t.test
    def duplicates():
        body = {"firstName": "Dupe", "lastName": "Person",
                "emailAddress": "dupe@example.com"}
        a = s.request("POST", "/Contact", body)
        t.eq(a.status, 200, "first create")
        b = s.request("POST", "/Contact", body)
        t.eq((b.status, b.json["id"]), (200, a.json["id"]),
             "identical retry returns the same record with 200")
        c = s.request("POST", "/Contact", {"firstName": "Dupe",
                                           "lastName": "Person",
                                           "title": "other"})
        t.eq(c.status, 409, "look-alike is 409")
        t.ok(isinstance(c.json, list) and c.json[0]["id"] == a.json["id"],
             "409 body lists the existing records")
        d = s.request("POST", "/Contact", {"firstName": "Dupe",
                                           "lastName": "Person",
                                           "title": "other"},
                      headers={"X-Skip-Duplicate-Check": "true"})
        t.eq(d.status, 200, "X-Skip-Duplicate-Check creates")
        e = s.request("POST", "/Account", {"name": "Same Co"})
        f = s.request("POST", "/Account", {"name": "same co",
                                           "website": "x"})
        t.eq((e.status, f.status), (200, 409), "Account duplicate by name")

    @t.test
    def idempotent_ccall():
        body = {"name": "Inbound Call from +15550001111", "ccallId": "98765",
                "cchatId": "", "cChannel": "voice"}
        a = s.request("POST", "/Case", body)
        b = s.request("POST", "/Case", dict(body, name="retried later"))
        t.eq((a.status, b.status), (200, 200), "both creates answer 200")
        t.eq(b.json["id"], a.json["id"], "ccallId return_existing")
        t.eq(a.json["cChannel"], "voice", "custom field stored and returned")
        r = s.request("GET", "/Case?where[0][type]=equals&"
                      "where[0][attribute]=ccallId&where[0][value]=98765")
        t.eq(r.json["total"], 1, "one case for one call id")
        c1 = s.request("POST", "/Call", {"name": "r", "uid": "ring-1",
                                         "dateStart": "2026-01-01 10:00:00",
                                         "dateEnd": "2026-01-01 10:00:05"})
        c2 = s.request("POST", "/Call", {"name": "r again", "uid": "ring-1",
                                         "dateStart": "2026-01-01 10:00:00",
                                         "dateEnd": "2026-01-01 10:00:05"})
        t.eq(c2.json["id"], c1.json["id"], "Call uid return_existing")

    @t.test
    def unknown_attributes():
        r = s.request("POST", "/Case", {"name": "with junk", "Type": "Voice",
                                        "parentId": "x", "parentType": "Case"})
        t.eq(r.status, 200, "unknown attributes are ignored")
        t.ok("Type" not in r.json, "unknown attribute not stored")
        s.request("POST", "/Case", {"name": "with junk 2", "Type": "Voice"})
        time.sleep(0.2)
        log = s.log_text()
        t.ok("'Type' on Case" in log, "unknown attribute logged")
        pids = set()
        for line in log.splitlines():
            if "'Type' on Case" in line:
                pids.add(line.split("[")[1].split("]")[0])
        t.eq(log.count("'Type' on Case"), len(pids),
             "logged once per worker")

    @t.test
    def methods_and_routes():
        r = s.request("POST", "/Contact/00000000000000000")
        t.eq(r.status, 405, "POST on a record is 405")
        t.ok("PUT" in (r.headers.get("Allow") or ""), "Allow header lists PUT")
        r = s.request("GET", "/Nope")
        t.eq((r.status, r.headers.get("X-Status-Reason")),
             (404, "Controller 'Nope' does not exist."), "unknown entity")
        r = s.request("GET", "/api/v2/Contact", raw_path=True)
        t.eq(r.status, 404, "no route is 404")
        r = s.request("GET", "/Contact/../../etc/passwd")
        t.ok(r.status in (400, 404), "path tricks are 4xx")
        r = s.request("PUT", "/Contact", {"contactId": "+15550001111",
                                          "phoneNumber": "New Caller"})
        t.eq(r.status, 405, "PUT without id is 405")
        t.ok("/api/v1/Contact/{" in r.headers.get("X-Status-Reason", ""),
             "405 reason names the corrected route")

    @t.test
    def bad_input_changes_nothing():
        before = dump(s)
        cases = [
            ("POST", "/Contact", b'{"lastName": "x"', "application/json", 400),
            ("POST", "/Contact", b'"just a string"', "application/json", 400),
            ("POST", "/Contact", b'[{"lastName":"x"}]', "application/json", 400),
            ("POST", "/Contact", b'{"lastName":"\xff\xfe"}', "application/json", 400),
            ("POST", "/Contact", b'{"lastName":"a\\u0000b"}', "application/json", 400),
            ("POST", "/Contact", b'{"lastName":"x"}\x00', "application/json", 400),
            ("POST", "/Contact", b'<xml/>', "application/xml", 415),
            ("POST", "/Contact", b'[' * 5000 + b']' * 5000, "application/json", 400),
            ("POST", "/Contact", b'{"lastName":1e999999}', "application/json", 400),
            ("POST", "/Contact", b'lastName=%FF', "application/x-www-form-urlencoded", 400),
            ("GET", "/Contact?maxSize=abc", None, None, 400),
            ("GET", "/Contact?maxSize=500", None, None, 403),
            ("GET", "/Contact?where[0][type]=equals&where[0][attribute]=x&where[0][value]=1", None, None, 400),
            ("GET", "/Contact?a" + "[b]" * 40 + "=1", None, None, 400),
            ("GET", "/Contact?searchParams=%7Bbad", None, None, 400),
            ("PUT", "/Contact/zzz", b'{}', "application/json", 404),
        ]
        for m, path, body, ctype, want in cases:
            r = s.request(m, path, raw_body=body, content_type=ctype)
            t.ok(r.status == want and r.headers.get("X-Status-Reason"),
                 "%s %s … → %d with a reason" % (m, path[:40], want),
                 r.describe(300))
        big = b'{"lastName":"' + b"x" * (65 * 1024 * 1024) + b'"}'
        r = s.request("POST", "/Contact", raw_body=big,
                      content_type="application/json")
        t.eq(r.status, 413, "a body over max_body is 413")
        t.eq(dump(s), before, "data identical after the bad input")

t.done()
