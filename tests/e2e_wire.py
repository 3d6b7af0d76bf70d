#!/usr/bin/env python3
"""EspoCRM's wire, as EspoCRM's own clients read it (issue 11), through
nginx on a real fastcrm:

  1. every JSON answer, errors included, on every route family, carries
     Content-Type exactly "application/json" — the official PHP client
     (espocrm/php-espo-api-client, Response::getParsedBody) decodes a body
     only then;
  2. GET /App/user in EspoCRM's shape, and token login: Espo-Authorization
     with a password issues a token, the token then signs in with
     Espo-Authorization-By-Token: true, POST /App/destroyAuthToken ends it,
     `fastcrm token list|revoke` manage tokens offline;
  3. API users are User records of type "api", out of the default list;
  4. where isLinked / isNotLinked; in / notIn / between strictness;
  5. empty strings: EspoCRM's rules, and empty_means_absent per principal;
  6. the 409 duplicate answer exactly as EspoCRM's;
  7. HMAC in the official client's 0.1.x format (raw binary digest);
  8. links are one truth: Contact.accountId and its accountsIds twin;
  9. Call.status aliases from telephony words (shipped configuration).

    FASTCRM_BIN=$PWD/fastcrm python3 tests/e2e_wire.py
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Stack, api_user, make_key, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def derived_id(name):
    return hashlib.sha256(("user:" + name).encode()).hexdigest()[:17]


# An HMAC secret whose raw digest of the signed string holds a NUL byte, so
# that the 0.1.x format is tested where a C string would cut it short.
HMAC_KEY = make_key()[0]
SIGNED = "GET /App/user"
while True:
    HMAC_SECRET = secrets.token_hex(16)
    if b"\x00" in hmac.new(HMAC_SECRET.encode(), SIGNED.encode(),
                           hashlib.sha256).digest():
        break

LENIENT_KEY = make_key()[0]
READER_KEY = make_key()[0]
PW_USER, PW = "pwuser", "pw-" + secrets.token_hex(8)
AGENT, AGENT_PW = "agent7", "agent-" + secrets.token_hex(8)
ALL = {"create": True, "read": "all", "edit": "all", "delete": "all"}
CONFIG = {
    "auth_fail_limit": 1000000,  # wrong credentials are sent on purpose
    "agent_role": "agentrole",
    "roles": {
        "agentrole": {"Contact": {"create": True, "read": "all",
                                  "edit": "own", "delete": "no"}},
        "reader": {"*": {"create": False, "read": "all", "edit": "no",
                         "delete": "no"}},
    },
    "api_users": [
        api_user("hmacuser", "admin", key=HMAC_KEY, hmac_secret=HMAC_SECRET),
        api_user("lenient", "admin", key=LENIENT_KEY,
                 empty_means_absent=True),
        api_user("reader", "reader", key=READER_KEY),
        api_user(PW_USER, "admin", password_hash=sha512_crypt(PW)),
    ],
}


def exact_json(r):
    """What the official PHP client does: parse only under exactly
    application/json (the whole header value, no parameters)."""
    return r.headers.get("Content-Type") == "application/json"


with Stack(config_extra=CONFIG) as s:

    def espo(user, secret, by_token=False, path="/App/user", method="GET",
             body=None):
        h = {"Espo-Authorization": b64(user + ":" + secret)}
        if by_token:
            h["Espo-Authorization-By-Token"] = "true"
        return s.request(method, path, body, headers=h, key=None)

    # -- 1. media type, every route family ------------------------------------
    @t.test("1. Content-Type exactly application/json, errors included")
    def media_type():
        c = s.request("POST", "/Contact", {"firstName": "Media",
                                           "lastName": "Type"})
        cid = (c.json or {}).get("id", "")
        a = s.request("POST", "/Account", {"name": "Media Inc"})
        aid = (a.json or {}).get("id", "")
        att = s.request("POST", "/Attachment", {
            "name": "a.txt", "type": "text/plain", "role": "Attachment",
            "relatedType": "Call", "field": "recording",
            "file": "data:text/plain;base64," + b64("hello")})
        cases = [
            ("POST /Contact", c),
            ("POST /Account", a),
            ("POST /Attachment", att),
            ("GET /App/user", s.request("GET", "/App/user")),
            ("GET /Contact (list)", s.request("GET", "/Contact")),
            ("GET /Contact/{id}", s.request("GET", "/Contact/" + cid)),
            ("PUT /Contact/{id}", s.request("PUT", "/Contact/" + cid,
                                            {"title": "x"})),
            ("POST /Contact/{id}/accounts", s.request(
                "POST", "/Contact/%s/accounts" % cid, {"id": aid})),
            ("GET /Contact/{id}/accounts", s.request(
                "GET", "/Contact/%s/accounts" % cid)),
            ("DELETE /Contact/{id}/accounts", s.request(
                "DELETE", "/Contact/%s/accounts" % cid, {"id": aid})),
            ("GET /Contact/{id}/stream", s.request(
                "GET", "/Contact/%s/stream" % cid)),
            ("400 bad JSON", s.request("POST", "/Contact",
                                       raw_body=b"{bad", content_type=
                                       "application/json")),
            ("400 validation", s.request("POST", "/Contact", {})),
            ("400 where", s.request("GET", "/Contact?where[0][type]=nope"
                                    "&where[0][attribute]=name")),
            ("401 no credentials", s.request("GET", "/Contact", key=None)),
            ("401 wrong key", s.request("GET", "/Contact", key="0" * 32)),
            ("403 role", s.request("POST", "/Contact", {"lastName": "x"},
                                   key=READER_KEY)),
            ("404 record", s.request("GET", "/Contact/0123456789abcdef0")),
            ("404 unknown entity", s.request("GET", "/Nope")),
            ("404 no route", s.request("GET", "/api/v1/a/b/c/d/e/f/g",
                                       raw_path=True)),
            ("405 method", s.request("PATCH", "/App/user")),
            ("409 duplicate", s.request("POST", "/Contact", {
                "firstName": "Media", "lastName": "Type", "title": "y"})),
            ("415 content type", s.request("POST", "/Contact",
                                           raw_body=b"x",
                                           content_type="image/png")),
            ("404 destroyAuthToken", s.request(
                "POST", "/App/destroyAuthToken", {"token": "0" * 32})),
            ("OAuth2 token error", s.request(
                "POST", "/oauth2/token", raw_body=b"grant_type=password",
                content_type="application/x-www-form-urlencoded", key=None)),
            ("nginx's own 404", s.request("GET", "/_attachments/x",
                                          raw_path=True, key=None)),
            ("DELETE /Contact/{id}", s.request("DELETE", "/Contact/" + cid)),
        ]
        for desc, r in cases:
            parsed = None
            if exact_json(r):
                try:
                    parsed = json.loads(r.body)
                except ValueError:
                    parsed = None
            t.ok(exact_json(r) and parsed is not None,
                 "%s (%d): Content-Type %r, body decoded as the official "
                 "client does" % (desc, r.status, r.headers.get(
                     "Content-Type")), r.describe())

    # -- 2. App/user and token login --------------------------------------------
    @t.test("2. GET /App/user in EspoCRM's shape; token login")
    def app_user():
        r = s.request("GET", "/App/user")
        j = r.json or {}
        t.eq(sorted(k for k in ("user", "acl", "preferences", "token",
                                "settings", "language", "appParams")
                    if k in j),
             ["acl", "appParams", "language", "preferences", "settings",
              "token", "user"], "App/user has EspoCRM's top-level keys")
        tab = (j.get("acl") or {}).get("table") or {}
        t.eq(tab.get("Contact"), {"create": "yes", "read": "all",
                                  "edit": "all", "delete": "all",
                                  "stream": "all"},
             "acl.table.Contact in EspoCRM's words (admin role)")
        t.eq(j.get("token"), None, "no token for an X-Api-Key caller")
        r = s.request("GET", "/App/user", key=READER_KEY)
        tab = ((r.json or {}).get("acl") or {}).get("table") or {}
        t.eq((tab.get("Case") or {}).get("edit"), "no",
             "acl.table follows the role (reader: edit no)")

        # a configured principal with a password
        r = espo(PW_USER, PW)
        tok = (r.json or {}).get("token")
        t.ok(r.status == 200 and isinstance(tok, str) and
             re.fullmatch(r"[0-9a-f]{32}", tok or ""),
             "Espo-Authorization user:password on App/user issues a token",
             r.describe())
        r = espo(PW_USER, tok or "x", by_token=True)
        t.ok(r.status == 200 and (r.json or {}).get("user", {}).get("id")
             == derived_id(PW_USER) and (r.json or {}).get("token") == tok,
             "user:token with Espo-Authorization-By-Token: true signs in",
             r.describe())
        r = espo(PW_USER, tok or "x", by_token=True, path="/Contact")
        t.status(r, 200, "the token works on other routes")
        r = espo("someoneelse", tok or "x", by_token=True)
        t.status(r, 401, "the token signs in only its own user")
        r = espo(PW_USER, "0" * 32, by_token=True)
        t.status(r, 401, "an unknown token: 401")
        r = espo(PW_USER, PW, by_token=True)
        t.status(r, 401, "By-Token with the password instead: 401")

        with open(os.path.join(s.dir, "data", "data.mdb"), "rb") as f:
            mdb = f.read()
        t.ok(tok and tok.encode() not in mdb and
             hashlib.sha256(tok.encode()).hexdigest().encode() in mdb,
             "LMDB holds the token's SHA-256, never the token")

        # offline listing and revocation
        p = subprocess.run([s.bin, "token", "list", "-c", s.config_path],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and PW_USER in p.stdout,
             "fastcrm token list shows the token's user", p.stdout + p.stderr)
        tid = hashlib.sha256(tok.encode()).hexdigest()[:16] if tok else "x"
        t.ok(tid in p.stdout, "... under its listed id (not the token)",
             p.stdout)
        p = subprocess.run([s.bin, "token", "revoke", "--id", tid, "-c",
                            s.config_path], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "1 token(s) revoked" in p.stdout,
             "fastcrm token revoke --id revokes it", p.stdout + p.stderr)
        t.status(espo(PW_USER, tok or "x", by_token=True), 401,
                 "a revoked token no longer signs in")

        # an agent (User record) with a password, acting with agent_role
        r = s.request("POST", "/User", {"userName": AGENT, "lastName":
                                        "Seven", "password": AGENT_PW})
        t.status(r, 200, "fixture: an agent User record with a password")
        aid = (r.json or {}).get("id")
        r = espo(AGENT, AGENT_PW)
        tok = (r.json or {}).get("token")
        t.ok(r.status == 200 and tok and (r.json or {}).get("user", {})
             .get("id") == aid, "an agent's Espo-Authorization issues a "
             "token too", r.describe())
        tab = ((r.json or {}).get("acl") or {}).get("table") or {}
        t.eq((tab.get("Contact") or {}).get("edit"), "own",
             "the agent's acl is agent_role's")
        t.eq(tab.get("Case"), False, "an entity the role has nothing on "
             "is false, as EspoCRM")
        r = espo(AGENT, tok or "x", by_token=True, path="/Contact")
        t.status(r, 200, "the agent's token lists contacts")
        r = espo(AGENT, tok or "x", by_token=True, path="/Case")
        t.status(r, 403, "... with agent_role's rights only")
        r = espo(AGENT, tok or "x", by_token=True, method="POST",
                 path="/App/destroyAuthToken", body={"token": tok})
        t.ok(r.status == 200 and r.body.strip() == b"true",
             "POST /App/destroyAuthToken ends it: true", r.describe())
        t.status(espo(AGENT, tok or "x", by_token=True), 401,
                 "the destroyed token no longer signs in")
        r = s.request("POST", "/App/destroyAuthToken", {"token": tok})
        t.status(r, 404, "destroying it again: 404")

        r = espo(AGENT, AGENT_PW)
        tok2 = (r.json or {}).get("token")
        p = subprocess.run([s.bin, "token", "revoke", "--user", AGENT, "-c",
                            s.config_path], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "1 token(s) revoked" in p.stdout,
             "fastcrm token revoke --user NAME", p.stdout + p.stderr)
        t.status(espo(AGENT, tok2 or "x", by_token=True), 401,
                 "... and the user's token is gone")
        tok4 = (espo(AGENT, AGENT_PW).json or {}).get("token")
        new_pw = AGENT_PW + "-new"
        r = s.request("PUT", "/User/%s" % aid, {"password": new_pw})
        t.status(r, 200, "fixture: an admin sets the agent a new password")
        t.status(espo(AGENT, tok4 or "x", by_token=True), 401,
                 "a token issued before the password change no longer "
                 "signs in (it follows the User, as sessions do)")
        r = s.request("PUT", "/User/%s" % aid, {"password": AGENT_PW})
        t.status(r, 200, "fixture: the old password back")
        t.status(espo(AGENT, tok4 or "x", by_token=True), 401,
                 "... and setting the old password again does not revive it")
        tok3 = (espo(AGENT, AGENT_PW).json or {}).get("token")
        t.status(espo(AGENT, tok3 or "x", by_token=True), 200,
                 "fixture: a live token of the agent")
        r = s.request("PUT", "/User/%s" % aid, {"isActive": False})
        t.status(r, 200, "fixture: the agent is deactivated")
        t.status(espo(AGENT, tok3 or "x", by_token=True), 401,
                 "a deactivated agent's token no longer signs in")
        t.status(espo(AGENT, AGENT_PW), 401, "... nor its password")

    # -- 3. API users are User records ----------------------------------------
    @t.test("3. API users are User records of type api")
    def api_users():
        did = derived_id("demo")
        r = s.request("GET", "/User/" + did)
        t.ok(r.status == 200 and (r.json or {}).get("type") == "api" and
             (r.json or {}).get("userName") == "demo",
             "GET /User/{the demo key's id}: its User record, type api",
             r.describe())
        c = s.request("POST", "/Contact", {"lastName": "Resolve",
                                           "assignedUserId": derived_id(
                                               "lenient")})
        j = c.json or {}
        for attr in ("createdById", "modifiedById", "assignedUserId"):
            r = s.request("GET", "/User/" + (j.get(attr) or "x"))
            t.status(r, 200, "%s resolves with GET /User/{id}" % attr)
        t.eq(j.get("assignedUserName"), "lenient",
             "assignedUserName is the API user's name")
        names = [u.get("userName") for u in
                 (s.request("GET", "/User?maxSize=200").json or {})
                 .get("list", [])]
        t.ok("demo" not in names and AGENT in names,
             "the default User list leaves API users out (as EspoCRM)",
             names)
        names = [u.get("userName") for u in
                 (s.request("GET", "/User?primaryFilter=api&maxSize=200")
                  .json or {}).get("list", [])]
        t.ok({"demo", "hmacuser", "lenient", "reader", PW_USER} <=
             set(names) and AGENT not in names,
             "primaryFilter=api lists them", names)
        r = s.request("GET", "/User?where[0][type]=equals&where[0]"
                      "[attribute]=type&where[0][value]=api")
        t.ok(r.status == 200 and r.json["total"] >= 5,
             "a where on type reaches them too", r.describe())
        r = s.request("GET", "/User?primaryFilter=bogus")
        t.status(r, 400, "an unknown User primaryFilter: 400")
        r = s.request("GET", "/User/00000000000000000")
        t.ok(r.status == 200 and (r.json or {}).get("type") == "system" and
             "system" not in names, "the system user (imports) has a record "
             "too, and no list shows it by default", r.describe())

        # configuration is the source: a removed principal goes inactive
        import copy
        conf = copy.deepcopy(s.config)
        conf["api_users"] = [u for u in conf["api_users"]
                             if u["name"] != "reader"]
        t.ok(s.reload_config(conf), "fixture: reload without 'reader'")
        r = s.request("GET", "/User/" + derived_id("reader"))
        t.ok(r.status == 200 and (r.json or {}).get("isActive") is False,
             "a principal gone from the configuration: its User record "
             "stays, inactive", r.describe())
        t.status(s.request("GET", "/Contact", key=READER_KEY), 401,
                 "... and its key no longer works")
        conf["api_users"].append(api_user("reader", "reader", key=READER_KEY))
        t.ok(s.reload_config(conf), "fixture: reload with 'reader' again")
        r = s.request("GET", "/User/" + derived_id("reader"))
        t.ok(r.status == 200 and (r.json or {}).get("isActive") is True,
             "configured again: active again", r.describe())

    # -- 4. where -------------------------------------------------------------
    @t.test("4. where isLinked / isNotLinked; in, notIn, between")
    def where():
        acc = s.request("POST", "/Account", {"name": "Linked Ltd"}).json
        c1 = s.request("POST", "/Contact", {"lastName": "Linkedone",
                                            "accountsIds": [acc["id"]]}).json
        c2 = s.request("POST", "/Contact", {"lastName": "Lonely"}).json
        case = s.request("POST", "/Case", {"name": "c",
                                           "contactsIds": [c1["id"]]}).json

        def ids(q):
            r = s.request("GET", "/Contact?maxSize=200&" + q)
            return r.status, {x["id"] for x in (r.json or {}).get(
                "list", [])}

        st, got = ids("where[0][type]=isLinked&where[0][attribute]=accounts")
        t.ok(st == 200 and c1["id"] in got and c2["id"] not in got,
             "isLinked accounts (link-multiple)")
        st, got = ids("where[0][type]=isNotLinked&where[0][attribute]="
                      "accounts")
        t.ok(st == 200 and c2["id"] in got and c1["id"] not in got,
             "isNotLinked accounts")
        st, got = ids("where[0][type]=isLinked&where[0][attribute]=cases")
        t.ok(st == 200 and c1["id"] in got and c2["id"] not in got,
             "isLinked cases (the other side holds the ids)")
        st, got = ids("where[0][type]=isNotLinked&where[0][attribute]=cases")
        t.ok(st == 200 and c2["id"] in got and c1["id"] not in got,
             "isNotLinked cases")
        for q, why in [
                ("where[0][type]=isLinked&where[0][attribute]=lastName",
                 r"link"),
                ("where[0][type]=in&where[0][attribute]=lastName"
                 "&where[0][value]=Lonely", r"'in'.*list"),
                ("where[0][type]=notIn&where[0][attribute]=lastName"
                 "&where[0][value]=Lonely", r"'notIn'.*list"),
                ("where[0][type]=between&where[0][attribute]=createdAt"
                 "&where[0][value][]=2020-01-01", r"'between'.*two"),
                ("where[0][type]=between&where[0][attribute]=createdAt"
                 "&where[0][value][]=1&where[0][value][]=2"
                 "&where[0][value][]=3", r"'between'.*two")]:
            r = s.request("GET", "/Contact?" + q)
            t.ok(r.status == 400 and re.search(
                why, r.headers.get("X-Status-Reason") or ""),
                "400 with a reason: %s" % q, r.describe())
        st, got = ids("where[0][type]=in&where[0][attribute]=lastName"
                      "&where[0][value][]=Lonely")
        t.ok(st == 200 and got == {c2["id"]}, "in with a list still works")
        t.ok(case is not None, "fixture case")

    # -- 5. empty strings -----------------------------------------------------
    @t.test("5. empty strings")
    def empties():
        c = s.request("POST", "/Contact", {"firstName": "Em", "lastName":
                                           "Pty", "title": "Boss",
                                           "phoneNumber": "+15550109999"})
        cid = c.json["id"]
        r = s.request("PUT", "/Contact/" + cid, {"lastName": ""})
        t.ok(r.status == 400 and (r.json or {}).get("messageTranslation", {})
             .get("data") == {"field": "lastName", "type": "required"},
             "PUT lastName \"\": 400 required (EspoCRM)", r.describe())
        t.eq(s.request("GET", "/Contact/" + cid).json.get("lastName"), "Pty",
             "... and nothing changed")
        r = s.request("POST", "/Contact", {"firstName": "x", "lastName": ""})
        t.status(r, 400, "POST lastName \"\": 400")
        r = s.request("PUT", "/Contact/" + cid, {"title": "",
                                                "phoneNumber": ""})
        j = r.json or {}
        t.ok(r.status == 200 and j.get("title") in ("", None) and
             j.get("phoneNumber") is None,
             "\"\" clears optional fields (title, phoneNumber)", r.describe())
        s.request("PUT", "/Contact/" + cid, {"title": "Boss",
                                            "phoneNumber": "+15550109999"})
        r = s.request("PUT", "/Contact/" + cid, {"lastName": "", "title": "",
                                                "phoneNumber": "",
                                                "firstName": "Em2"},
                      key=LENIENT_KEY)
        j = r.json or {}
        t.ok(r.status == 200 and j.get("lastName") == "Pty" and
             j.get("phoneNumber") == "+15550109999" and
             j.get("firstName") == "Em2",
             "empty_means_absent: \"\" means not given (required kept, "
             "phone kept)", r.describe())
        r = s.request("POST", "/Call", {"name": "x", "dateStart": "",
                                        "dateEnd": ""})
        t.status(r, 400, "a Call with dateStart \"\": 400 required")

    # -- 6. 409 duplicate -----------------------------------------------------
    @t.test("6. 409 duplicate as EspoCRM")
    def duplicate():
        a = s.request("POST", "/Contact", {"firstName": "Dup", "lastName":
                                           "Licate", "title": "a"}).json
        r = s.request("POST", "/Contact", {"firstName": "Dup", "lastName":
                                           "Licate", "title": "b"})
        t.eq((r.status, r.headers.get("X-Status-Reason")), (409, "duplicate"),
             "409 with X-Status-Reason: duplicate, exactly")
        t.ok(isinstance(r.json, list) and [x.get("id") for x in r.json] ==
             [a["id"]], "the body is the array of the existing records",
             r.describe())
        t.ok("X-Skip-Duplicate-Check" in s.log_text(),
             "the hint about X-Skip-Duplicate-Check is in the log")

    # -- 7. HMAC, 0.1.x --------------------------------------------------------
    @t.test("7. HMAC in the official client's 0.1.x format")
    def hmac_legacy():
        raw = hmac.new(HMAC_SECRET.encode(), SIGNED.encode(),
                       hashlib.sha256).digest()
        t.ok(b"\x00" in raw, "the digest holds a NUL byte")
        h = b64(HMAC_KEY.encode() + b":" + raw)
        r = s.request("GET", "/App/user", key=None,
                      headers={"X-Hmac-Authorization": h})
        t.ok(r.status == 200 and (r.json or {}).get("user", {}).get(
            "userName") == "hmacuser", "raw binary digest (0.1.x): 200",
             r.describe())
        hexsig = hmac.new(HMAC_SECRET.encode(), SIGNED.encode(),
                          hashlib.sha256).hexdigest()
        r = s.request("GET", "/App/user", key=None, headers={
            "X-Hmac-Authorization": b64(HMAC_KEY + ":" + hexsig)})
        t.status(r, 200, "hex digest (1.x, EspoCRM 8.4.1+): 200")
        bad = bytes([raw[0] ^ 1]) + raw[1:]
        r = s.request("GET", "/App/user", key=None, headers={
            "X-Hmac-Authorization": b64(HMAC_KEY.encode() + b":" + bad)})
        t.status(r, 401, "a wrong raw digest: 401")
        r = s.request("GET", "/App/user", key=None, headers={
            "X-Hmac-Authorization": b64(HMAC_KEY.encode() + b":" + raw[:31])})
        t.status(r, 401, "a short raw digest: 401")

    # -- 8. link twins --------------------------------------------------------
    @t.test("8. links are one truth: accountId and accountsIds")
    def twins():
        A = s.request("POST", "/Account", {"name": "Twin A"}).json["id"]
        B = s.request("POST", "/Account", {"name": "Twin B"}).json["id"]

        def contacts_of(acc):
            r = s.request("GET", "/Account/%s/contacts" % acc)
            return {x["id"] for x in (r.json or {}).get("list", [])}

        c = s.request("POST", "/Contact", {"lastName": "Twin",
                                           "accountId": A}).json
        cid = c["id"]
        t.ok(c.get("accountsIds") == [A] and c.get("accountsNames", {})
             .get(A) == "Twin A", "create with accountId: in accountsIds",
             c)
        t.ok(cid in contacts_of(A), "... and in GET /Account/{id}/contacts")
        r = s.request("PUT", "/Contact/" + cid, {"accountId": B})
        j = r.json or {}
        t.ok(j.get("accountId") == B and j.get("accountsIds") == [B],
             "update to another account: the old one is unrelated", j)
        t.ok(cid in contacts_of(B) and cid not in contacts_of(A),
             "... on both accounts' lists")
        r = s.request("PUT", "/Contact/" + cid, {"accountId": None})
        j = r.json or {}
        t.ok(j.get("accountId") is None and j.get("accountsIds") == [],
             "unsetting accountId unrelates", j)
        t.ok(cid not in contacts_of(B), "... and B's list forgets it")
        s.request("PUT", "/Contact/" + cid, {"accountId": A})
        r = s.request("DELETE", "/Contact/%s/accounts" % cid, {"id": A})
        j = s.request("GET", "/Contact/" + cid).json
        t.ok(j.get("accountId") is None and j.get("accountsIds") == [],
             "unlinking the account on the many side unsets accountId", j)
        s.request("PUT", "/Contact/" + cid, {"accountId": A})
        r = s.request("DELETE", "/Account/%s/contacts" % A, {"id": cid})
        j = s.request("GET", "/Contact/" + cid).json
        t.ok(j.get("accountId") is None and j.get("accountsIds") == [],
             "... and from the account's side too", j)
        # a second account on the many side stays when accountId changes
        s.request("PUT", "/Contact/" + cid, {"accountsIds": [A, B],
                                             "accountId": A})
        j = s.request("PUT", "/Contact/" + cid, {"accountId": B}).json
        t.eq(sorted(j.get("accountsIds") or []), sorted([B]),
             "changing accountId from A to B unrelates A only")

        # Case.contactId and its contacts
        c1 = s.request("POST", "/Contact", {"lastName": "Cone"}).json["id"]
        c2 = s.request("POST", "/Contact", {"lastName": "Ctwo"}).json["id"]
        k = s.request("POST", "/Case", {"name": "k", "contactId": c1}).json
        k2 = s.request("PUT", "/Case/" + k["id"], {"contactId": c2}).json
        t.eq(k2.get("contactsIds"), [c2], "Case.contactId changed: its "
             "contacts follow")

        # import
        path = os.path.join(s.dir, "twins.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps({"lastName": "Imported", "accountId": B}) +
                    "\n")
        p = subprocess.run([s.bin, "import", "--entity", "Contact", path,
                            "-c", s.config_path], capture_output=True,
                           text=True)
        t.ok(p.returncode == 0, "fixture: import", p.stderr)
        r = s.request("GET", "/Contact?where[0][type]=equals&where[0]"
                      "[attribute]=lastName&where[0][value]=Imported")
        imp = ((r.json or {}).get("list") or [{}])[0]
        t.ok(imp.get("accountsIds") == [B] and imp.get("id") in
             contacts_of(B), "an imported accountId relates the account",
             imp)
        p = subprocess.run([s.bin, "verify", "-c", s.config_path],
                           capture_output=True, text=True)
        t.ok(p.returncode == 0 and "0 problem(s)" in p.stdout,
             "fastcrm verify: both sides agree", p.stdout + p.stderr)

    # -- 9. aliases ------------------------------------------------------------
    @t.test("9. Call.status from telephony words")
    def aliases():
        for word, want in [("completed", "Held"), ("ANSWERED", "Held"),
                           ("missed", "Not Held"), ("No-Answer", "Not Held"),
                           ("busy", "Not Held"), ("Failed", "Not Held"),
                           ("cancelled", "Not Held"), ("held", "Held"),
                           ("Not Held", "Not Held")]:
            r = s.request("POST", "/Call", {
                "name": "c", "dateStart": "2024-05-01 10:00:00",
                "status": word})
            t.eq((r.status, (r.json or {}).get("status")), (200, want),
                 "status %r is stored as %r" % (word, want))
        r = s.request("POST", "/Call", {"name": "c", "dateStart":
                                        "2024-05-01 10:00:00",
                                        "status": "exploded"})
        t.status(r, 400, "a word that is neither value nor alias: 400")
        r = s.request("PUT", "/Call/" + s.request("POST", "/Call", {
            "name": "c", "dateStart": "2024-05-01 10:00:00"}).json["id"],
            {"status": "busy"})
        t.eq((r.json or {}).get("status"), "Not Held", "aliases on PUT too")

    @t.test("9. a bad alias is refused by check-config and on reload")
    def bad_alias():
        good = open(s.config_path).read()
        bad = good + ("\n" if not good.endswith("\n") else "")
        bad = bad.replace("entities:\n", "entities:\n  Task:\n"
                          "    aliases:\n      status:\n"
                          "        done: Finished\n", 1)
        path = os.path.join(s.dir, "bad.yaml")
        with open(path, "w") as f:
            f.write(bad)
        p = subprocess.run([s.bin, "check-config", path],
                           capture_output=True, text=True)
        t.ok(p.returncode == 1 and re.search(
            r"bad\.yaml:\d+: alias 'done' of Task\.status: 'Finished' is "
            r"not one of its options", p.stderr),
            "check-config names the file, line and the wrong value",
            p.stdout + p.stderr)
        s.reload_config(bad, wait=False)
        import time
        deadline = time.time() + 10
        while time.time() < deadline and "reload refused" not in \
                s.log_text():
            time.sleep(0.1)
        t.like(s.log_text(), r"reload refused: .*'Finished' is not one of",
               "the running server refuses the reload")
        r = s.request("POST", "/Call", {"name": "c", "dateStart":
                                        "2024-05-01 10:00:00",
                                        "status": "busy"})
        t.eq((r.status, (r.json or {}).get("status")), (200, "Not Held"),
             "and keeps serving with the old configuration")
        with open(s.config_path, "w") as f:
            f.write(good)

t.done()
