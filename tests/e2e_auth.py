#!/usr/bin/env python3
"""End-to-end tests of authentication and authorization (AUTH.md, API.md
"Authentication", "Roles", "Errors"), through nginx, on a real fastcrm.

    cd /work/main && FASTCRM_BIN=$PWD/fastcrm python3 tests/e2e_auth.py

Two stacks:
  1. the main one: five roles (admin, ccai, reader, owner, none), an API user
     per role, a password user (Espo-Authorization, Basic), an HMAC user;
     every scheme good and bad, the error format, every route x every role,
     the `own` scope, the 404/405 rules, and no secret in any log;
  2. a small one (3 workers, auth_fail_limit 5 / 60 s) for the failed-login
     limiter shared by all workers through LMDB.
TAP on stdout (tests/tap.py).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Stack, api_user, make_key, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

# Every response with status >= 400 seen in the run, for the error-format
# check at the end of each stack.
ERRORS = []


def req(stack, method, path, body=None, headers=None, key=None, **kw):
    """stack.request with no X-Api-Key unless one is given."""
    r = stack.request(method, path, body=body, headers=headers, key=key, **kw)
    if r.status >= 400:
        ERRORS.append(r)
    return r


def reason(r):
    return r.headers.get("X-Status-Reason")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def derived_id(name):
    """fastcrm's id of a principal without an explicit id (config.c)."""
    return hashlib.sha256(("user:" + name).encode()).hexdigest()[:17]


def hmac_header(api_key, secret, method, path):
    """X-Hmac-Authorization value; path without /api/v1 and query."""
    sig = hmac.new(secret.encode(), ("%s %s" % (method, path)).encode(),
                   hashlib.sha256).hexdigest()
    return b64(api_key + ":" + sig)


def check_error_shape(r, desc):
    """One TAP point: X-Status-Reason present and the JSON body is
    {"status": N, "reason": <same text>}."""
    rs = reason(r)
    j = r.json
    good = (rs is not None and rs != "" and isinstance(j, dict)
            and j.get("status") == r.status and j.get("reason") == rs)
    return t.ok(good, desc, "X-Status-Reason: %r\n%s" % (rs, r.describe()))


def expect(r, code, reasons, desc):
    """One TAP point: status code and (when reasons is not None) the
    X-Status-Reason, one of reasons (a str or a tuple)."""
    if isinstance(reasons, str):
        reasons = (reasons,)
    good = r.status == code and (reasons is None or reason(r) in reasons)
    return t.ok(good, desc,
                "expected %d %r\n%s" % (code, reasons, r.describe()))


# ---------------------------------------------------------------------------
# the main stack's principals

ROLES = {
    "ccai": {
        "Contact": {"create": True, "read": "all", "edit": "all",
                    "delete": "no"},
        "Case": {"create": True, "read": "all", "edit": "all",
                 "delete": "no"},
    },
    "reader": {"*": {"create": False, "read": "all", "edit": "no",
                     "delete": "no"}},
    "owner": {"*": {"create": True, "read": "own", "edit": "own",
                    "delete": "own"}},
    "none": {},
    # Not in the brief's list: a role whose rights differ between the two
    # entities of a link route, to probe how the route's scopes combine.
    "mixed": {
        "Contact": {"create": True, "read": "own", "edit": "own",
                    "delete": "own"},
        "*": {"create": False, "read": "all", "edit": "no", "delete": "no"},
    },
}
# admin comes with the base configuration: "*": all.
ACL = {
    "admin": {"*": {"create": True, "read": "all", "edit": "all",
                    "delete": "all"}},
}
ACL.update(ROLES)


def acl(role, entity):
    r = ACL[role]
    a = r.get(entity, r.get("*"))
    if a is None:
        return {"create": False, "read": "no", "edit": "no", "delete": "no"}
    return a


def can(role, entity, action):
    a = acl(role, entity)
    if action == "create":
        return bool(a["create"])
    return a[action] != "no"


KEYS = {n: make_key()[0] for n in ("ccai_u", "reader_u", "owner_u",
                                   "owner2_u", "none_u", "hmac_u",
                                   "mixed_u")}
OWNER_ID = "0123456789abcdef0"  # explicit id for the owner principal
PW_USER = "alice"
PASSWORD = "pw-" + secrets.token_hex(12)
HMAC_SECRET = secrets.token_hex(20)
WRONG_KEY = make_key()[0]
WRONG_PASSWORD = "wrong-" + secrets.token_hex(8)

CONFIG = {
    "auth_fail_limit": 1000000,  # the main stack must never be limited
    "auth_fail_window": 60,
    "roles": ROLES,
    "api_users": [
        api_user("ccai_u", "ccai", key=KEYS["ccai_u"]),
        api_user("reader_u", "reader", key=KEYS["reader_u"]),
        api_user("owner_u", "owner", key=KEYS["owner_u"], id=OWNER_ID),
        api_user("owner2_u", "owner", key=KEYS["owner2_u"]),
        api_user("none_u", "none", key=KEYS["none_u"]),
        api_user("mixed_u", "mixed", key=KEYS["mixed_u"]),
        api_user(PW_USER, "reader", password_hash=sha512_crypt(PASSWORD)),
        api_user("hmac_u", "reader", key=KEYS["hmac_u"],
                 hmac_secret=HMAC_SECRET),
    ],
}

# The principal that acts for each role in the walk.
ROLE_USER = {"admin": "demo", "ccai": "ccai_u", "reader": "reader_u",
             "owner": "owner_u", "none": "none_u"}


def principal_id(name):
    return OWNER_ID if name == "owner_u" else derived_id(name)


ENTITIES = ["Contact", "Case", "Account", "User"]
# entity -> (related link for GET, link for POST/DELETE, its foreign entity)
LINKS = {
    "Contact": ("cases", "accounts", "Account"),
    "Case": ("contacts", "contacts", "Contact"),
    "Account": ("contacts", "contacts", "Contact"),
    "User": None,
}
RELATED_FOREIGN = {"Contact": "Case", "Case": "Contact",
                   "Account": "Contact"}


def new_body(entity):
    u = secrets.token_hex(5)
    if entity == "Contact":
        return {"firstName": "Walk", "lastName": "C" + u}
    if entity == "Case":
        return {"name": "Case " + u}
    if entity == "Account":
        return {"name": "Acct " + u}
    return {"userName": "u" + u, "lastName": "User" + u}


def edit_body(entity):
    return {"Contact": {"title": "Edited"}, "Case": {"description": "Edited"},
            "Account": {"website": "edited.example"},
            "User": {"title": "Edited"}}[entity]


def owns(rec, pid):
    owner = rec.get("assignedUserId") or rec.get("createdById")
    return owner == pid


# ---------------------------------------------------------------------------

def main_stack(s):
    def as_key(name):
        return s.key if name == "demo" else KEYS[name]

    def create(name, entity, body=None):
        r = req(s, "POST", "/" + entity, body or new_body(entity),
                key=as_key(name))
        if r.status != 200 or not isinstance(r.json, dict):
            raise AssertionError("fixture: %s could not create %s:\n%s"
                                 % (name, entity, r.describe()))
        return r.json

    # -- each scheme, good --------------------------------------------------

    def user_ok(r, name, desc, types=("api",)):
        u = (r.json or {}).get("user") if isinstance(r.json, dict) else None
        good = (r.status == 200 and isinstance(u, dict)
                and u.get("id") == principal_id(name)
                and u.get("userName") == name and u.get("name") == name
                and u.get("type") in types)
        t.ok(good, desc, "expected user %s (id %s)\n%s"
             % (name, principal_id(name), r.describe()))

    @t.test("good credentials, every scheme")
    def good_schemes():
        r = req(s, "GET", "/App/user", key=KEYS["reader_u"])
        user_ok(r, "reader_u", "X-Api-Key: 200 with the right user object")
        t.ok("WWW-Authenticate" not in r.headers,
             "no WWW-Authenticate on a successful X-Api-Key request",
             r.describe())

        r = req(s, "GET", "/App/user",
                headers={"Espo-Authorization": b64(PW_USER + ":" + PASSWORD)})
        user_ok(r, PW_USER, "Espo-Authorization: 200 with the right user",
                types=("api", "regular"))

        h = hmac_header(KEYS["hmac_u"], HMAC_SECRET, "GET", "/App/user")
        r = req(s, "GET", "/App/user", headers={"X-Hmac-Authorization": h})
        user_ok(r, "hmac_u", "X-Hmac-Authorization: 200 with the right user")

        h = hmac_header(KEYS["hmac_u"], HMAC_SECRET, "GET", "/Contact")
        r = req(s, "GET", "/Contact?maxSize=1&offset=0",
                headers={"X-Hmac-Authorization": h})
        t.status(r, 200, "X-Hmac-Authorization signs the path without "
                 "/api/v1 and without the query string")

        r = req(s, "GET", "/App/user", headers={
            "Authorization": "Basic " + b64(PW_USER + ":" + PASSWORD)})
        user_ok(r, PW_USER, "Authorization: Basic: 200 with the right user",
                types=("api", "regular"))

        r = req(s, "GET", "/App/user",
                headers={"Authorization": "Bearer " + KEYS["ccai_u"]})
        user_ok(r, "ccai_u", "Authorization: Bearer <api key>: 200 with "
                "the right user")

        r = req(s, "GET", "/App/user", key=KEYS["owner_u"])
        user_ok(r, "owner_u", "a principal with an explicit id: that id")

        r = req(s, "GET", "/App/user", key=s.key)
        user_ok(r, "demo", "the admin API user: 200 with the right user")

    # -- each scheme, bad ---------------------------------------------------

    @t.test("bad credentials, every scheme")
    def bad_schemes():
        cases = [
            ("X-Api-Key: wrong key", 401, {"X-Api-Key": WRONG_KEY}),
            ("X-Hmac-Authorization: wrong secret", 401,
             {"X-Hmac-Authorization": hmac_header(
                 KEYS["hmac_u"], "not-the-secret", "GET", "/App/user")}),
            ("X-Hmac-Authorization: signature of another request", 401,
             {"X-Hmac-Authorization": hmac_header(
                 KEYS["hmac_u"], HMAC_SECRET, "POST", "/App/user")}),
            ("X-Hmac-Authorization: key of a principal without "
             "hmac_secret", 401,
             {"X-Hmac-Authorization": hmac_header(
                 KEYS["reader_u"], HMAC_SECRET, "GET", "/App/user")}),
            ("X-Hmac-Authorization: unknown key", 401,
             {"X-Hmac-Authorization": hmac_header(
                 WRONG_KEY, HMAC_SECRET, "GET", "/App/user")}),
            ("Espo-Authorization: wrong password", 401,
             {"Espo-Authorization": b64(PW_USER + ":" + WRONG_PASSWORD)}),
            ("Espo-Authorization: unknown user", 401,
             {"Espo-Authorization": b64("mallory:" + PASSWORD)}),
            ("Authorization: Basic wrong password", 403,
             {"Authorization": "Basic " + b64(PW_USER + ":" +
                                              WRONG_PASSWORD)}),
            ("Authorization: Basic unknown user", 403,
             {"Authorization": "Basic " + b64("mallory:" + PASSWORD)}),
            ("Authorization: Basic without a colon", 403,
             {"Authorization": "Basic " + b64(PW_USER + PASSWORD)}),
            ("Authorization: Bearer wrong token", 403,
             {"Authorization": "Bearer " + WRONG_KEY}),
        ]
        for desc, code, hdrs in cases:
            r = req(s, "GET", "/App/user", headers=hdrs)
            t.status(r, code, "%s -> %d" % (desc, code))
            t.ok("WWW-Authenticate" not in r.headers,
                 "%s: no WWW-Authenticate (credentials were sent)" % desc,
                 r.describe())
            check_error_shape(r, "%s: X-Status-Reason and JSON "
                              "{status, reason}" % desc)

        r = req(s, "GET", "/App/user")
        t.status(r, 401, "no credentials -> 401")
        t.eq(r.headers.get("WWW-Authenticate"), 'Basic realm="fastcrm"',
             "no credentials: WWW-Authenticate: Basic realm=\"fastcrm\"")
        check_error_shape(r, "no credentials: X-Status-Reason and JSON body")

        r = req(s, "GET", "/Contact")
        t.ok(r.status == 401 and r.headers.get("WWW-Authenticate") ==
             'Basic realm="fastcrm"',
             "no credentials on GET /Contact: 401 with WWW-Authenticate",
             r.describe())

        r = req(s, "GET", "/App/user",
                headers={"Espo-Authorization": b64(PW_USER + PASSWORD)})
        expect(r, 400, "Auth: Bad authorization string provided.",
               "Espo-Authorization without a colon -> 400 'Auth: Bad "
               "authorization string provided.'")
        check_error_shape(r, "Espo-Authorization without a colon: JSON body")
        t.ok("WWW-Authenticate" not in r.headers,
             "Espo-Authorization without a colon: no WWW-Authenticate",
             r.describe())

    @t.test("Espo-Authorization wins over X-Api-Key")
    def espo_wins():
        r = req(s, "GET", "/App/user", key=WRONG_KEY,
                headers={"Espo-Authorization": b64(PW_USER + ":" + PASSWORD)})
        user_ok(r, PW_USER, "good Espo-Authorization + wrong X-Api-Key: "
                "200 as the Espo user", types=("api", "regular"))
        r = req(s, "GET", "/App/user", key=KEYS["reader_u"],
                headers={"Espo-Authorization": b64(PW_USER + ":" +
                                                   WRONG_PASSWORD)})
        t.status(r, 401, "wrong Espo-Authorization + good X-Api-Key: 401 "
                 "(the key is not tried)")

    # -- every route x every role -------------------------------------------

    R_READ, R_EDIT = "No read access.", "No edit access."
    R_CREATE, R_DELETE = "No create access.", "No delete access."
    walk_errors = []

    def cell(r, allowed, why, desc):
        if allowed:
            ok = t.status(r, 200, desc + " -> 200")
        else:
            ok = expect(r, 403, why, "%s -> 403 %r" % (desc, why))
        if r.status >= 400:
            walk_errors.append(r)
        return ok

    def walk(role):
        name = ROLE_USER[role]
        key = as_key(name)
        # Fixtures: the owner role works on its own records; the others on
        # records the admin created.
        creator = "owner_u" if role == "owner" else "demo"
        r = req(s, "GET", "/App/user", key=key)
        user_ok(r, name, "%s: GET /App/user -> 200 (%s)" % (role, name))
        for ent in ENTITIES:
            target = create(creator, ent)
            tid = target["id"]
            p = "/%s/%s" % (ent, tid)
            lk = LINKS[ent]
            if lk is not None:
                foreign = create(creator, lk[2])
            r = req(s, "GET", "/" + ent, key=key)
            cell(r, can(role, ent, "read"), R_READ,
                 "%s: GET /%s" % (role, ent))
            r = req(s, "POST", "/" + ent, new_body(ent), key=key)
            cell(r, can(role, ent, "create"), R_CREATE,
                 "%s: POST /%s" % (role, ent))
            r = req(s, "GET", p, key=key)
            cell(r, can(role, ent, "read"), R_READ,
                 "%s: GET /%s/{id}" % (role, ent))
            for m in ("PUT", "PATCH"):
                r = req(s, m, p, edit_body(ent), key=key)
                cell(r, can(role, ent, "edit"), R_EDIT,
                     "%s: %s /%s/{id}" % (role, m, ent))
            if lk is not None:
                rel, link, fent = lk
                rfe = RELATED_FOREIGN[ent]
                r = req(s, "GET", "%s/%s" % (p, rel), key=key)
                ok = can(role, ent, "read") and can(role, rfe, "read")
                cell(r, ok, R_READ, "%s: GET /%s/{id}/%s" % (role, ent, rel))
                # Relating changes both records: edit on both (and the
                # route reads the foreign entity).
                ok = (can(role, ent, "edit") and can(role, fent, "read")
                      and can(role, fent, "edit"))
                why = R_EDIT if not can(role, ent, "edit") else (
                    R_READ, R_EDIT, "No edit access to %s '%s'."
                    % (fent, foreign["id"]))
                for m in ("POST", "DELETE"):
                    r = req(s, m, "%s/%s" % (p, link), {"id": foreign["id"]},
                            key=key)
                    cell(r, ok, why, "%s: %s /%s/{id}/%s" % (role, m, ent,
                                                              link))
            r = req(s, "GET", p + "/stream", key=key)
            cell(r, can(role, ent, "read") and can(role, "Note", "read"),
                 R_READ,
                 "%s: GET /%s/{id}/stream" % (role, ent))
            r = req(s, "DELETE", p, key=key)
            cell(r, can(role, ent, "delete"), R_DELETE,
                 "%s: DELETE /%s/{id}" % (role, ent))
            if r.status == 200:
                r2 = req(s, "GET", p, key=s.key)
                t.status(r2, 404, "%s: after DELETE /%s/{id}, the record "
                         "is gone (404)" % (role, ent))
            elif not can(role, ent, "delete"):
                r2 = req(s, "GET", p, key=s.key)
                t.status(r2, 200, "%s: a refused DELETE /%s/{id} left the "
                         "record in place" % (role, ent))
            if not can(role, ent, "edit"):
                r2 = req(s, "GET", p, key=s.key)
                fld, val = list(edit_body(ent).items())[0]
                t.ok(r2.status == 200 and r2.json.get(fld) != val,
                     "%s: refused PUT/PATCH /%s/{id} changed nothing"
                     % (role, ent), r2.describe())

    for role in ("admin", "ccai", "reader", "owner", "none"):
        t.test("route x role walk: %s" % role)(lambda role=role: walk(role))

    @t.test("walk: links on an entity without them")
    def no_link():
        u = create("demo", "User")
        r = req(s, "GET", "/User/%s/cases" % u["id"], key=s.key)
        expect(r, 404, "Link 'cases' does not exist on User.",
               "GET /User/{id}/cases -> 404 (User has no such link)")

    # -- the `own` scope ------------------------------------------------------

    @t.test("owner: own records only")
    def owner_scope():
        okey, o2key = KEYS["owner_u"], KEYS["owner2_u"]
        for ent in ENTITIES:
            mine = create("owner_u", ent)
            other = create("demo", ent)
            t.eq(mine.get("createdById"), OWNER_ID,
                 "owner: a %s it creates has createdById = its id" % ent)
            r = req(s, "GET", "/%s?maxSize=200" % ent, key=okey)
            lst = (r.json or {}).get("list") if r.status == 200 else None
            if not t.ok(isinstance(lst, list), "owner: GET /%s -> 200 "
                        "with a list" % ent, r.describe()):
                continue
            ids = [x.get("id") for x in lst]
            t.ok(all(owns(x, OWNER_ID) for x in lst),
                 "owner: every row of GET /%s is its own (%d rows)"
                 % (ent, len(lst)),
                 "rows not owned: %r" % [(x.get("id"), x.get("createdById"),
                                         x.get("assignedUserId"))
                                        for x in lst
                                        if not owns(x, OWNER_ID)])
            t.ok(mine["id"] in ids, "owner: GET /%s lists its own record"
                 % ent, r.describe())
            t.ok(other["id"] not in ids, "owner: GET /%s does not list the "
                 "admin's record" % ent, r.describe())
            total = r.json.get("total")
            t.eq(total, len(lst), "owner: GET /%s total counts only own "
                 "records" % ent)
            p = "/%s/%s" % (ent, other["id"])
            expect(req(s, "GET", p, key=okey), 403, R_READ,
                   "owner: GET another principal's %s -> 403" % ent)
            expect(req(s, "PUT", p, edit_body(ent), key=okey), 403, R_EDIT,
                   "owner: PUT another principal's %s -> 403" % ent)
            expect(req(s, "PATCH", p, edit_body(ent), key=okey), 403,
                   R_EDIT, "owner: PATCH another principal's %s -> 403"
                   % ent)
            expect(req(s, "DELETE", p, key=okey), 403, R_DELETE,
                   "owner: DELETE another principal's %s -> 403" % ent)
            r = req(s, "GET", p, key=s.key)
            t.ok(r.status == 200 and (r.json or {}).get(
                "modifiedById") == other.get("modifiedById"),
                "owner: the admin's %s is unchanged after the refusals"
                % ent, r.describe())
            expect(req(s, "GET", "/%s/%s" % (ent, mine["id"]), key=o2key),
                   403, R_READ, "owner2: GET owner's %s -> 403 (same role, "
                   "other principal)" % ent)
            p = "/%s/%s" % (ent, mine["id"])
            t.status(req(s, "GET", p, key=okey), 200,
                     "owner: GET its own %s -> 200" % ent)
            t.status(req(s, "PATCH", p, edit_body(ent), key=okey), 200,
                     "owner: PATCH its own %s -> 200" % ent)
            t.status(req(s, "DELETE", p, key=okey), 200,
                     "owner: DELETE its own %s -> 200" % ent)

        # assignedUserId wins over createdById (API.md "Roles")
        assigned = create("demo", "Contact", dict(new_body("Contact"),
                                                  assignedUserId=OWNER_ID))
        r = req(s, "GET", "/Contact/" + assigned["id"], key=okey)
        t.status(r, 200, "owner: GET a Contact the admin assigned to it "
                 "-> 200")
        r = req(s, "GET", "/Contact?maxSize=200", key=okey)
        t.ok(r.status == 200 and assigned["id"] in
             [x["id"] for x in r.json["list"]],
             "owner: GET /Contact lists a Contact assigned to it",
             r.describe())
        r = req(s, "PUT", "/Contact/" + assigned["id"], {"title": "Mine"},
                key=okey)
        t.status(r, 200, "owner: PUT a Contact assigned to it -> 200")

        # Related lists, stream and links of a record the owner cannot read.
        other = create("demo", "Contact")
        mine = create("owner_u", "Contact")
        my_acct = create("owner_u", "Account")
        other_acct = create("demo", "Account")
        create("demo", "Case", {"name": "Other's case " + secrets.token_hex(3),
                                "contactId": other["id"]})
        r = req(s, "GET", "/Contact/%s/cases" % other["id"], key=okey)
        expect(r, 403, R_READ, "owner: GET /Contact/{other's id}/cases "
               "-> 403 (the parent record is not its own)")
        r = req(s, "GET", "/Contact/%s/stream" % other["id"], key=okey)
        expect(r, 403, R_READ, "owner: GET /Contact/{other's id}/stream "
               "-> 403 (the parent record is not its own)")
        r = req(s, "POST", "/Contact/%s/accounts" % other["id"],
                {"id": my_acct["id"]}, key=okey)
        expect(r, 403, R_EDIT, "owner: POST /Contact/{other's id}/accounts "
               "-> 403")
        r = req(s, "POST", "/Contact/%s/accounts" % mine["id"],
                {"id": other_acct["id"]}, key=okey)
        expect(r, 403, None, "owner: linking its own Contact to an Account "
               "it cannot read -> 403")
        r = req(s, "GET", "/Account/" + other_acct["id"], key=s.key)
        t.ok(r.status == 200 and (r.json or {}).get("modifiedById") ==
             other_acct.get("modifiedById"),
             "owner: the other's Account was not modified by the link "
             "attempt", r.describe())
        r = req(s, "POST", "/Contact/%s/accounts" % mine["id"],
                {"id": my_acct["id"]}, key=okey)
        t.status(r, 200, "owner: linking its own Contact to its own "
                 "Account -> 200")
        r = req(s, "GET", "/Contact/%s/accounts" % mine["id"], key=okey)
        t.ok(r.status == 200 and [x["id"] for x in r.json["list"]] ==
             [my_acct["id"]], "owner: GET /Contact/{own}/accounts lists "
             "the linked Account", r.describe())

    @t.test("a role with own Contact rights and all rights elsewhere")
    def mixed_scope():
        mkey = KEYS["mixed_u"]
        other = create("demo", "Contact")
        acct = create("demo", "Account")
        case = create("demo", "Case", {"name": "Mixed " + secrets.token_hex(3),
                                       "contactId": other["id"]})
        mine = create("mixed_u", "Contact")
        expect(req(s, "GET", "/Contact/" + other["id"], key=mkey), 403,
               R_READ, "mixed: GET another principal's Contact -> 403")
        r = req(s, "GET", "/Contact/%s/cases" % other["id"], key=mkey)
        leaked = r.status == 200 and case["id"] in [
            x.get("id") for x in (r.json or {}).get("list", [])]
        expect(r, 403, R_READ, "mixed: GET /Contact/{other's id}/cases "
               "-> 403 (Contact read is own)%s"
               % (" [the other's Case was listed]" if leaked else ""))
        r = req(s, "POST", "/Contact/%s/accounts" % other["id"],
                {"id": acct["id"]}, key=mkey)
        expect(r, 403, R_EDIT, "mixed: POST /Contact/{other's id}/accounts "
               "-> 403 'No edit access.' (Contact edit is own)")
        r = req(s, "GET", "/Contact/" + other["id"], key=s.key)
        t.ok(r.status == 200 and acct["id"] not in
             (r.json or {}).get("accountsIds", []),
             "mixed: the other's Contact was not linked", r.describe())
        r = req(s, "DELETE", "/Contact/%s/accounts" % other["id"],
                {"id": acct["id"]}, key=mkey)
        expect(r, 403, R_EDIT, "mixed: DELETE /Contact/{other's id}/accounts"
               " -> 403 'No edit access.'")
        r = req(s, "POST", "/Contact/%s/accounts" % mine["id"],
                {"id": acct["id"]}, key=mkey)
        expect(r, 403, "No edit access to Account '%s'." % acct["id"],
               "mixed: POST /Contact/{own id}/accounts (Account read all, "
               "edit no) -> 403: relating edits the Account too")
        t.eq(((r.json or {}).get("messageTranslation") or {}).get("label"),
             "noAccessToForeignRecord",
             "mixed: ... EspoCRM's body, label noAccessToForeignRecord")

    # -- 404 / 405 ------------------------------------------------------------

    @t.test("404 and 405 rules")
    def not_found_and_methods():
        c = create("demo", "Contact")
        r = req(s, "GET", "/Foo", key=s.key)
        expect(r, 404, "Controller 'Foo' does not exist.",
               "GET /Foo -> 404 Controller 'Foo' does not exist.")
        check_error_shape(r, "GET /Foo: JSON error body")
        r = req(s, "GET", "/Foo/" + c["id"], key=s.key)
        expect(r, 404, "Controller 'Foo' does not exist.",
               "GET /Foo/{id} -> 404 Controller 'Foo' does not exist.")

        r = req(s, "POST", "/Contact/" + c["id"], {"lastName": "X"},
                key=s.key)
        t.status(r, 405, "POST /Contact/{id} -> 405")
        allow = [m.strip() for m in (r.headers.get("Allow") or "").split(",")
                 if m.strip()]
        t.ok(set(allow) >= {"GET", "PUT", "PATCH", "DELETE"} and
             "POST" not in allow,
             "POST /Contact/{id}: Allow lists GET, PUT, PATCH, DELETE and "
             "not POST", r.describe())
        check_error_shape(r, "POST /Contact/{id}: JSON error body")

        for m in ("PUT", "PATCH"):
            r = req(s, m, "/Contact", {"lastName": "X"}, key=s.key)
            t.status(r, 405, "%s /Contact (no id) -> 405" % m)
            t.ok("%s /api/v1/Contact/{id}" % m in (reason(r) or ""),
                 "%s /Contact: the reason says to use %s "
                 "/api/v1/Contact/{id}" % (m, m), r.describe())
            t.ok("Allow" in r.headers, "%s /Contact: Allow header" % m,
                 r.describe())
        r = req(s, "PUT", "/Contact", {"lastName": "X"}, key=KEYS["reader_u"])
        t.status(r, 405, "PUT /Contact (no id) is 405 for a role without "
                 "edit access too (the method is wrong, not the role)")

    # -- error format over everything ---------------------------------------

    @t.test("error format of the walk")
    def walk_error_shape():
        bad = [e for e in walk_errors
               if not (reason(e) and isinstance(e.json, dict) and
                       e.json.get("status") == e.status and
                       e.json.get("reason") == reason(e))]
        t.ok(walk_errors and not bad,
             "every error of the walk (%d) carries X-Status-Reason and "
             "{\"status\",\"reason\"}" % len(walk_errors),
             "\n\n".join(e.describe() for e in bad[:3]))
        def espo_body(e):  # bodies EspoCRM defines: 409 list, 400 form,
            return e.status == 409 or (e.status in (400, 403) and  # 403 link
                isinstance(e.json, dict) and "messageTranslation" in e.json)
        bad = [e for e in ERRORS
               if not reason(e) or not (espo_body(e) or (
                   isinstance(e.json, dict) and
                   e.json.get("status") == e.status and
                   e.json.get("reason") == reason(e)))]
        t.ok(not bad, "every error response of the main stack (%d) has "
             "X-Status-Reason and a JSON body" % len(ERRORS),
             "\n\n".join(e.describe() for e in bad[:3]))

    # -- no secret in any log -----------------------------------------------

    @t.test("no secret in the logs")
    def no_secrets_logged():
        logs = {"fastcrm's log": s.log_text(),
                "nginx's logs": s.nginx_log_text("all")}
        secrets_ = {
            "the admin API key": s.key,
            "the password": PASSWORD,
            "the HMAC secret": HMAC_SECRET,
            "the Basic/Espo credentials (base64)":
                b64(PW_USER + ":" + PASSWORD),
        }
        for n, k in KEYS.items():
            secrets_["the API key of " + n] = k
        wrong = {"a wrong API key": WRONG_KEY,
                 "a wrong password": WRONG_PASSWORD}
        for where, text in logs.items():
            leaked = [n for n, v in secrets_.items() if v in text]
            t.ok(not leaked, "no API key, password or HMAC secret in %s "
                 "(%d bytes)" % (where, len(text)),
                 "leaked: %s" % ", ".join(leaked))
            leaked = [n for n, v in wrong.items() if v in text]
            t.ok(not leaked, "no rejected credential in %s" % where,
                 "leaked: %s" % ", ".join(leaked))
        sig = hmac_header(KEYS["hmac_u"], HMAC_SECRET, "GET", "/App/user")
        t.ok(all(sig not in x for x in logs.values()),
             "no X-Hmac-Authorization value in any log")


# ---------------------------------------------------------------------------

def limiter_stack():
    LIMIT = 5
    with Stack(workers=3, config_extra={"auth_fail_limit": LIMIT,
                                        "auth_fail_window": 60}) as s:
        del ERRORS[:]

        def par(n, key):
            out = [None] * n

            def one(i):
                try:
                    out[i] = req(s, "GET", "/App/user", key=key)
                except Exception as e:  # noqa: BLE001
                    out[i] = e
            th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for x in th:
                x.start()
            for x in th:
                x.join()
            return out

        @t.test("failed-login limiter")
        def limiter():
            t.eq(len(s.worker_pids()), 3, "limiter stack runs 3 workers")
            # Good keys in parallel first: every worker finds the address
            # under the limit (and may keep that, app/auth/auth.c), so a
            # worker that kept it must learn of the failures to come.
            rs = par(15, s.key)
            st = [getattr(r, "status", r) for r in rs]
            t.ok(all(x == 200 for x in st), "limiter: 15 parallel good keys "
                 "before any failure -> each 200", repr(st))
            # LIMIT failures, in parallel so that every worker takes some
            # (a per-worker counter would then stay under the limit).
            rs = par(LIMIT, WRONG_KEY)
            st = [getattr(r, "status", r) for r in rs]
            t.ok(all(x == 401 for x in st), "limiter: %d parallel bad keys "
                 "(not more than the limit) -> each 401" % LIMIT, repr(st))
            r = req(s, "GET", "/App/user", key=s.key)
            t.status(r, 200, "limiter: after exactly %d failures (not more "
                     "than the limit) a good key still -> 200" % LIMIT)
            r = req(s, "GET", "/App/user", key=WRONG_KEY)
            t.ok(r.status in (401, 403), "limiter: failure %d -> 401 or 403"
                 % (LIMIT + 1), r.describe())
            # 10 more failures in parallel: more than the limit in all.
            rs = par(10, WRONG_KEY)
            t.ok(all(not isinstance(r, Exception) and r.status in (401, 403)
                     for r in rs),
                 "limiter: 10 parallel bad keys -> each 401 or 403",
                 repr([getattr(r, "status", r) for r in rs]))
            rs = par(15, s.key)
            st = [getattr(r, "status", r) for r in rs]
            t.ok(all(x == 403 for x in st),
                 "limiter: after more than %d failures, 15 parallel "
                 "requests with a good key (3 workers) -> all 403: the "
                 "counter is shared" % LIMIT, repr(st))
            good = [r for r in rs if not isinstance(r, Exception)]
            t.ok(good and all("Too many failed logins" in (reason(r) or "")
                              for r in good),
                 "limiter: the reason says 'Too many failed logins'",
                 good[0].describe() if good else "")
            if good:
                check_error_shape(good[0], "limiter: the 403 has "
                                  "X-Status-Reason and a JSON body")
            for _ in range(6):
                r = req(s, "GET", "/App/user", key=s.key)
                if r.status != 403:
                    break
            t.status(r, 403, "limiter: sequential good keys stay 403")
            r = req(s, "GET", "/App/user", key=WRONG_KEY)
            expect(r, 403, None, "limiter: a bad X-Api-Key over the limit "
                   "-> 403, not 401")
            t.like(reason(r), "Too many failed logins",
                   "limiter: ... with the 'Too many failed logins' reason")

        @t.test("limiter: no secret in the logs")
        def limiter_logs():
            text = s.log_text() + s.nginx_log_text("all")
            t.ok(s.key not in text and WRONG_KEY not in text,
                 "limiter stack: neither the good nor the bad key in any "
                 "log")


def main():
    with Stack(config_extra=CONFIG) as s:
        main_stack(s)
    limiter_stack()
    t.done()


if __name__ == "__main__":
    main()
