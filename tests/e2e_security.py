"""Security, sections 1 and 2 of the review (AUTH.md "Paths and cost" and
"Every other record touched on the caller's behalf"), through the real
nginx and workers.

1. The path the client sent is the path that is routed: encoded slashes,
   dot segments (raw and encoded), backslashes and NUL never reach another
   route, and nothing changes; an id that is not an id is a 404; HMAC signs
   the raw path (a path with %20 authenticates).
2. Every record reached on the caller's behalf passes the role check:
   link and unlink need edit on both records; a link field needs read on
   its target (403 cannotRelateForbidden / cannotRelateNonExisting, no name
   echoed); an attachment bound to a parent's field needs edit on the
   parent; a stream needs read on Note; what a create answers (409
   duplicates, the idempotent 200, unique + return_existing) holds only
   records the caller may read, and a `linkedWith` filter consults only
   foreign records the caller may read.

Each case was written against the code before the fix and fails there."""

import base64
import hashlib
import hmac
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, api_user, make_key  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

ALL = {"create": True, "read": "all", "edit": "all", "delete": "all"}
READ_ONLY = {"create": False, "read": "all", "edit": "no", "delete": "no"}
NONE = {"create": False, "read": "no", "edit": "no", "delete": "no"}

ROLES = {
    # May edit Contacts but not Cases or Tasks: relinking either is an
    # edit of the Case or Task.
    "linker": {"Contact": ALL, "Account": ALL, "*": READ_ONLY},
    # Cannot read Accounts at all.
    "noacct": {"Contact": ALL, "Case": ALL, "Account": NONE,
               "*": READ_ONLY},
    # May create Attachments, may only read Calls.
    "uploader": {"Attachment": ALL, "Call": READ_ONLY, "*": READ_ONLY},
    # Reads Contacts but not Notes.
    "nonotes": {"Contact": READ_ONLY, "Note": NONE},
    # Own records only, everywhere.
    "owner": {"*": {"create": True, "read": "own", "edit": "own",
                    "delete": "own"}},
}
KEYS = {n: make_key()[0] for n in ROLES}
HMAC_KEY, _ = make_key()
HMAC_SECRET = "hmac-secret-" + secrets.token_hex(8)

EXTRA = {
    "roles": ROLES,
    "api_users": [api_user(n + "_u", n, key=KEYS[n]) for n in ROLES] + [
        api_user("hm", "admin", key=HMAC_KEY, hmac_secret=HMAC_SECRET)],
}

WAV = b"RIFF" + b"\x24\x00\x00\x00WAVEfmt " + bytes(28)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def hmac_header(method, path):
    sig = hmac.new(HMAC_SECRET.encode(), ("%s %s" % (method, path)).encode(),
                   hashlib.sha256).hexdigest()
    return b64(HMAC_KEY + ":" + sig)


def why(r):
    return r.headers.get("X-Status-Reason") or ""


def label(r):
    mt = (r.json or {}).get("messageTranslation") if isinstance(
        r.json, dict) else None
    return (mt or {}).get("label")


def main():
    with Stack(config_extra=EXTRA) as s:
        def api(method, path, body=None, who=None, **kw):
            key = s.key if who is None else KEYS[who]
            return s.request(method, path, body, key=key, **kw)

        def raw(method, path, body=None, who=None, **kw):
            return api(method, path, body, who, raw_path=True, **kw)

        def make(ent, body, who=None):
            r = api("POST", "/" + ent, body, who)
            if r.status != 200:
                t.bail_out("cannot create %s: %s" % (ent, r.describe()))
            return r.json

        def get(ent, rid):
            return api("GET", "/%s/%s" % (ent, rid))

        tag = secrets.token_hex(3)
        acct = make("Account", {"name": "Acme " + tag})
        contact = make("Contact", {"firstName": "Dana", "lastName": "Path" +
                                   tag, "phoneNumber": "+1 555 010 0001"})
        case = make("Case", {"name": "Case " + tag,
                             "contactId": contact["id"]})
        att = make("Attachment", {"name": "x.wav", "file":
                                  "data:audio/wav;base64," +
                                  base64.b64encode(WAV).decode()})

        @t.test("raw path: an encoded slash never reaches another route")
        def encoded_paths():
            hits = [
                ("DELETE", "/api/v1/Account/zz%%2f..%%2f%s" % acct["id"]),
                ("DELETE", "/api/v1/Account/zz%%2F..%%2F%s" % acct["id"]),
                ("PUT", "/api/v1/Case/x%%2f..%%2f..%%2fContact%%2f%s"
                 % contact["id"]),
                ("GET", "/api/v1/Case/x%2f..%2f..%2fUser"),
                ("GET", "/api/v1/Attachment/file/..%%2f..%%2fContact%%2f%s"
                 % contact["id"]),
                ("GET", "/api/v1/Contact/%s%%5c..%%5c" % contact["id"]),
                ("GET", "/api/v1/Case/%2e%2e/User"),
                ("GET", "/api/v1/Case/%2E./User"),
                ("GET", "/api/v1/Case/../User"),
                ("GET", "/api/v1/Case/./../User"),
                ("GET", "/api/v1/Contact/abc%00def"),
                ("DELETE", "/api/v1/Case/x/../../Account/%s" % acct["id"]),
            ]
            for m, p in hits:
                r = raw(m, p, {"lastName": "Overwritten"} if m == "PUT"
                        else None)
                t.ok(r.status in (400, 404) and why(r),
                     "%s %s -> 400/404 with a reason" % (m, p), r.describe())
                t.ok(not (isinstance(r.json, dict) and "list" in r.json),
                     "%s %s: no list in the answer" % (m, p))
                t.ok(contact["id"] not in r.text or r.status >= 400 and
                     "Overwritten" not in r.text and
                     "Path" + tag not in r.text,
                     "%s %s: no Contact data in the answer" % (m, p))
            r = get("Account", acct["id"])
            t.status(r, 200, "the Account is still there")
            r = get("Contact", contact["id"])
            t.ok(r.status == 200 and r.json["lastName"] == "Path" + tag,
                 "the Contact is unchanged", r.describe())

        @t.test("raw path: ids and decoding")
        def ids_and_decoding():
            r = api("GET", "/Contact/not-an-id")
            t.status(r, 404, "GET /Contact/not-an-id -> 404")
            t.like(why(r), r"Contact", "... the reason names the "
                   "entity")
            r = raw("GET", "/api/v1/Contact/%s" % contact["id"].replace(
                "a", "%61"))
            t.ok(r.status == 200 and r.json.get("id") == contact["id"],
                 "an id with a percent-encoded letter still reads the record",
                 r.describe())
            r = raw("GET", "/api/v1/%43ontact/" + contact["id"])
            t.status(r, 200, "an encoded letter in the entity name routes "
                     "(decoded per segment)")
            r = raw("GET", "/api/v1/Contact/%zz")
            t.ok(r.status == 400 and why(r), "a bad percent escape -> 400 "
                 "with a reason", r.describe())

        @t.test("HMAC signs the raw path")
        def hmac_raw():
            p = "/Contact/abc%20def"
            r = s.request("GET", "/api/v1" + p, key=None, raw_path=True,
                          headers={"X-Hmac-Authorization":
                                   hmac_header("GET", p)})
            t.status(r, 404, "HMAC over 'GET /Contact/abc%20def' (raw) "
                     "authenticates: 404 for the record, not 401")
            r = s.request("GET", "/api/v1" + p, key=None, raw_path=True,
                          headers={"X-Hmac-Authorization":
                                   hmac_header("GET", "/Contact/abc def")})
            t.status(r, 401, "HMAC over the decoded path is refused")
            p = "/Contact/" + contact["id"]
            r = s.request("GET", "/api/v1" + p + "?select=id", key=None,
                          raw_path=True, headers={
                              "X-Hmac-Authorization": hmac_header("GET", p)})
            t.status(r, 200, "HMAC without the query string: 200")

        @t.test("link and unlink need edit on both records")
        def link_both_sides():
            c2 = make("Contact", {"firstName": "Other", "lastName": "L" + tag})
            r = api("POST", "/Contact/%s/cases" % c2["id"],
                    {"id": case["id"]}, who="linker")
            t.status(r, 403, "linker (Case edit: no): POST /Contact/{id}/"
                     "cases -> 403")
            t.eq(label(r), "noAccessToForeignRecord",
                 "... EspoCRM's body: noAccessToForeignRecord")
            t.ok(c2["id"] not in get("Case", case["id"]).json["contactsIds"],
                 "... the Case's contacts are unchanged")
            r = api("DELETE", "/Contact/%s/cases" % contact["id"],
                    {"id": case["id"]}, who="linker")
            t.status(r, 403, "linker: DELETE /Contact/{id}/cases -> 403")
            t.ok(contact["id"] in get("Case", case["id"]).json["contactsIds"],
                 "... the Case is still linked")
            task = make("Task", {"name": "T " + tag, "parentType": "Contact",
                                 "parentId": contact["id"]})
            r = api("POST", "/Contact/%s/tasks" % c2["id"],
                    {"id": task["id"]}, who="linker")
            t.status(r, 403, "linker (Task edit: no): moving a Task to "
                     "another Contact -> 403")
            t.eq(get("Task", task["id"]).json["parentId"], contact["id"],
                 "... the Task keeps its parent")
            a2 = make("Account", {"name": "Other " + tag})
            r = api("POST", "/Contact/%s/accounts" % c2["id"],
                    {"id": a2["id"]}, who="linker")
            t.status(r, 200, "linker (Contact and Account edit): linking "
                     "an Account -> 200")

        @t.test("a link field needs read on its target")
        def link_fields():
            before = api("GET", "/Contact", None).json["total"]
            r = api("POST", "/Contact", {"lastName": "X" + tag,
                                         "accountId": acct["id"]},
                    who="noacct")
            t.status(r, 403, "noacct: POST /Contact with accountId -> 403")
            t.eq(label(r), "cannotRelateForbidden",
                 "... EspoCRM's body: cannotRelateForbidden")
            t.eq(((r.json or {}).get("messageTranslation") or {}).get(
                "data", {}).get("foreignEntityType"), "Account",
                "... data.foreignEntityType is Account")
            t.ok("Acme" not in r.text and "Acme" not in why(r),
                 "... the Account's name is not echoed", r.describe())
            t.eq(api("GET", "/Contact").json["total"], before,
                 "... no Contact was created")
            r = api("PUT", "/Contact/" + contact["id"],
                    {"accountId": acct["id"]}, who="noacct")
            t.status(r, 403, "noacct: PUT accountId -> 403")
            t.eq(get("Contact", contact["id"]).json["accountId"], None,
                 "... the Contact is unchanged")
            r = api("POST", "/Case", {"name": "C" + tag, "accountId":
                                      acct["id"]}, who="noacct")
            t.status(r, 403, "noacct: POST /Case with accountId -> 403")
            # A link the record already had is not the caller's doing.
            c3 = make("Contact", {"lastName": "Held" + tag,
                                  "accountId": acct["id"]})
            r = api("PUT", "/Contact/" + c3["id"], {"title": "Agent"},
                    who="noacct")
            t.ok(r.status == 200 and r.json["accountId"] == acct["id"],
                 "noacct: PUT of another attribute keeps the unreadable "
                 "link -> 200", r.describe())
            r = api("POST", "/Contact", {"lastName": "N" + tag,
                                         "accountId": "0123456789abcdef0"})
            t.status(r, 403, "admin: accountId of a missing Account -> 403")
            t.eq(label(r), "cannotRelateNonExisting",
                 "... EspoCRM's body: cannotRelateNonExisting")

        @t.test("an attachment bound to a parent's field needs edit on it")
        def attachment_parent():
            call = make("Call", {"name": "Call " + tag, "status": "Held",
                                 "dateStart": "2026-01-01 10:00:00"})
            data = "data:audio/wav;base64," + base64.b64encode(WAV).decode()
            r = api("POST", "/Attachment", {"name": "evil.wav", "file": data,
                                            "parentType": "Call",
                                            "parentId": call["id"],
                                            "field": "recording"},
                    who="uploader")
            t.status(r, 403, "uploader (Call edit: no): POST /Attachment "
                     "field=recording -> 403")
            t.eq(get("Call", call["id"]).json.get("recordingId"), None,
                 "... the Call has no recording")
            r = s.request("POST", "/api/v1/Call/%s/recording" % call["id"],
                          raw_body=WAV, content_type="audio/wav",
                          key=KEYS["uploader"])
            t.status(r, 403, "uploader: POST /Call/{id}/recording -> 403")
            r = api("POST", "/Attachment", {"name": "ok.wav", "file": data,
                                            "parentType": "Call",
                                            "parentId": call["id"],
                                            "field": "recording"})
            t.status(r, 200, "admin: POST /Attachment field=recording -> 200")
            rid = (r.json or {}).get("id")
            t.eq(get("Call", call["id"]).json.get("recordingId"), rid,
                 "... and the Call's recordingId is the attachment")
            r = api("POST", "/Attachment", {"name": "n.wav", "file": data,
                                            "parentType": "Account",
                                            "parentId": acct["id"]},
                    who="uploader")
            t.status(r, 200, "uploader: an attachment whose parent it may "
                     "read (no field link) -> 200")

        @t.test("a stream needs read on Note")
        def stream_notes():
            make("Note", {"post": "secret note " + tag, "parentType":
                          "Contact", "parentId": contact["id"]})
            r = api("GET", "/Contact/%s/stream" % contact["id"],
                    who="nonotes")
            t.status(r, 403, "nonotes (Note read: no): GET /Contact/{id}/"
                     "stream -> 403")
            t.ok("secret note" not in r.text, "... no Note in the answer")
            r = api("GET", "/Contact/" + contact["id"], who="nonotes")
            t.status(r, 200, "... while the Contact itself reads")

        @t.test("what a create answers holds only readable records")
        def create_answers():
            mine = make("Contact", {"firstName": "Erin", "lastName": "Dup" +
                                    tag, "emailAddress": "erin%s@example.com"
                                    % tag})
            body = {"firstName": "Erin", "lastName": "Dup" + tag}
            r = api("POST", "/Contact", body, who="owner")
            t.ok(r.status == 200 and r.json["id"] != mine["id"],
                 "owner: a Contact like another owner's is no duplicate of "
                 "its own -> 200, a new record", r.describe())
            t.ok("erin" not in r.text, "... the other record's email is not "
                 "in the answer")
            body = {"firstName": "Erin", "lastName": "Dup" + tag,
                    "emailAddress": "erin%s@example.com" % tag}
            r = api("POST", "/Contact", body, who="owner")
            t.ok(r.status in (200, 409) and mine["id"] not in r.text,
                 "owner: the same body as another owner's Contact never "
                 "answers that Contact (idempotent return)", r.describe())
            ccall = "call-" + tag
            theirs = make("Case", {"name": "Secret case " + tag,
                                   "ccallId": ccall})
            r = api("POST", "/Case", {"name": "Mine", "ccallId": ccall},
                    who="owner")
            t.status(r, 409, "owner: unique+return_existing held by an "
                     "unreadable Case -> 409")
            t.ok(theirs["id"] not in r.text and "Secret case" not in r.text,
                 "... the answer holds none of that Case", r.describe())
            t.ok("ccallId" in why(r),
                 "... the reason names the attribute", r.describe())
            uid = "uid-" + tag
            make("Call", {"name": "Secret call", "uid": uid,
                          "status": "Held",
                          "dateStart": "2026-01-01 10:00:00"})
            r = api("POST", "/Call", {"name": "x", "uid": uid,
                                      "dateStart": "2026-01-01 10:00:00"},
                    who="owner")
            t.ok(r.status == 409 and "Secret call" not in r.text,
                 "owner: Call uid held by another owner -> 409 without it",
                 r.describe())
            r = api("POST", "/Case", {"name": "Again", "ccallId": ccall})
            t.ok(r.status == 200 and r.json["id"] == theirs["id"],
                 "admin (reads all): return_existing still returns the Case",
                 r.describe())

        @t.test("links to a deleted record, and unset links")
        def deleted_links():
            c = make("Contact", {"lastName": "Gone" + tag})
            k = make("Case", {"name": "Orphan " + tag, "contactId": c["id"]})
            t.status(api("DELETE", "/Contact/" + c["id"]), 200,
                     "fixture: the Case's Contact is deleted")
            r = api("PUT", "/Case/" + k["id"], {"status": "Pending"})
            t.ok(r.status == 200 and r.json["contactId"] == c["id"],
                 "a Case whose Contact was deleted still saves another "
                 "attribute (the kept link is not re-checked)", r.describe())
            r = api("PUT", "/Case/" + k["id"], {"contactId": None})
            t.ok(r.status == 200 and r.json["contactId"] is None and
                 r.json["contactName"] is None,
                 "unsetting the link clears its name too", r.describe())

        @t.test("a where filter reads only records the caller may read")
        def where_reads():
            mine = make("Contact", {"lastName": "Mine" + tag}, who="owner")
            theirs = make("Case", {"name": "Hidden " + tag,
                                   "contactsIds": [mine["id"]]})
            q = ("/Contact?where[0][type]=linkedWith&where[0][attribute]="
                 "cases&where[0][value][]=" + theirs["id"])
            r = api("GET", q, who="owner")
            t.ok(r.status == 200 and r.json["total"] == 0,
                 "owner: linkedWith a Case it may not read matches nothing "
                 "(no oracle for the other owner's Case)", r.describe())
            r = api("GET", q)
            t.ok(r.status == 200 and mine["id"] in
                 [x["id"] for x in r.json["list"]],
                 "admin: the same filter finds the Contact", r.describe())

    t.done()


if __name__ == "__main__":
    main()
