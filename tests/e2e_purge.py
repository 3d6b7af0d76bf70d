"""Expired agent sessions and OAuth2 tokens are purged from LMDB, not only
refused: every sign-in and every token issued looks at the next 16
entries of its table (going round from where the previous one stopped)
and deletes the expired ones.

The test makes sessions and tokens through the real stack, then ages some
of them in the store itself with LMDB's own tools (mdb_dump, mdb_load: the
expiry in the past, nothing else changed), checks they are refused, signs
in / issues a few more, and reads the tables again: every aged entry is
gone, every live one is still there and still works."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HtmlForm, Stack, api_user, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

PW = "agent-password-1"
SECRET = "client-secret-for-purge"
REDIRECT = "https://example.invalid/cb"
COOKIE = "fastcrm_session"
STEP = 16


Form = HtmlForm


def dump(s, table):
    """{key bytes: value bytes} of one LMDB table, by mdb_dump."""
    p = subprocess.run(["mdb_dump", "-s", table, s.data_dir],
                       capture_output=True, check=True)
    lines = p.stdout.decode().splitlines()
    data = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
    out = {}
    for k, v in zip(data[0::2], data[1::2]):
        out[bytes.fromhex(k.strip())] = bytes.fromhex(v.strip())
    return out


def load(s, table, entries):
    """Writes entries (key -> value bytes) into the table, by mdb_load."""
    text = ["VERSION=3", "format=bytevalue", "type=btree", "HEADER=END"]
    for k, v in entries.items():
        text += [" " + k.hex(), " " + v.hex()]
    text.append("DATA=END")
    subprocess.run(["mdb_load", "-s", table, s.data_dir],
                   input=("\n".join(text) + "\n").encode(),
                   capture_output=True, check=True)


def age(entries, keys):
    """The entries of keys with their expiry an hour in the past."""
    out = {}
    for k in keys:
        o = json.loads(entries[k])
        o["exp"] = int(time.time()) - 3600
        out[k] = json.dumps(o, separators=(",", ":")).encode()
    return out


def expired(entries):
    now = time.time()
    return {k for k, v in entries.items() if json.loads(v)["exp"] < now}


def sha(tok):
    return hashlib.sha256(tok.encode()).hexdigest().encode()


if not (shutil.which("mdb_dump") and shutil.which("mdb_load")):
    t.skip("purge of expired sessions and tokens",
           "mdb_dump/mdb_load not found (lmdb-utils, conf/install-deps)")
    t.done()

extra = {
    "roles": {"agent": {"*": {"create": True, "read": "all", "edit": "all",
                              "delete": "no"}}},
    "api_users": [api_user("agent", "agent",
                           password_hash=sha512_crypt(PW))],
    "oauth2_clients": [{"client_id": "ringotel",
                        "client_secret_sha256":
                            hashlib.sha256(SECRET.encode()).hexdigest(),
                        "redirect_uris": [REDIRECT], "role": "agent"}],
}

with Stack(config_extra=extra) as s:

    def sign_in():
        r = s.request("POST", "/App/session", {"userName": "agent",
                                               "password": PW}, key=None)
        if r.status != 200:
            raise AssertionError(r.describe(300))
        c = r.headers.get("Set-Cookie", "")
        return c.split(";", 1)[0].split("=", 1)[1]

    def with_cookie(tok):
        return s.request("GET", "/App/user", key=None,
                         headers={"Cookie": "%s=%s" % (COOKIE, tok)}).status

    def oauth2_pair():
        q = urllib.parse.urlencode({"response_type": "code",
                                    "client_id": "ringotel",
                                    "redirect_uri": REDIRECT})
        f = Form()
        f.feed(s.request("GET", "/oauth2/authorize?" + q, key=None).text)
        r = s.request("POST", "/oauth2/authorize", key=None,
                      raw_body=urllib.parse.urlencode(dict(
                          f.inputs, userName="agent", password=PW)).encode(),
                      content_type="application/x-www-form-urlencoded")
        loc = urllib.parse.urlparse(r.headers.get("Location", ""))
        code = urllib.parse.parse_qs(loc.query)["code"][0]
        r = s.request("POST", "/oauth2/token", key=None,
                      headers={"Authorization": "Basic " + base64.b64encode(
                          ("ringotel:" + SECRET).encode()).decode()},
                      raw_body=urllib.parse.urlencode({
                          "grant_type": "authorization_code", "code": code,
                          "redirect_uri": REDIRECT}).encode(),
                      content_type="application/x-www-form-urlencoded")
        if r.status != 200:
            raise AssertionError(r.describe(300))
        return r.json["access_token"], r.json["refresh_token"]

    def bearer(tok):
        return s.request("GET", "/App/user", key=None, headers={
            "Authorization": "Bearer " + tok}).status

    @t.test
    def sessions():
        toks = [sign_in() for _ in range(40)]
        before = dump(s, "sessions")
        t.eq(len(before), 40, "40 sign-ins: 40 sessions in LMDB")
        old = [sha(x) for x in toks[:25]]
        load(s, "sessions", age(before, old))
        aged = dump(s, "sessions")
        t.eq((len(aged), len(expired(aged))), (40, 25),
             "25 of them aged in the store (mdb_load)")
        t.eq([with_cookie(x) for x in toks[:25]], [401] * 25,
             "the aged sessions are refused (401)")
        t.eq([with_cookie(x) for x in toks[25:]], [200] * 15,
             "the others still work")
        # One lap of the table takes 40 / 16 sign-ins.
        n = -(-40 // STEP) + 1
        more = [sign_in() for _ in range(n)]
        after = dump(s, "sessions")
        t.diag("sessions: %d -> %d entries (%d expired) after %d sign-ins"
               % (len(aged), len(after), len(expired(after)), n))
        t.eq(expired(after), set(), "after %d more sign-ins no expired "
             "session is left" % n)
        t.eq(set(after), {sha(x) for x in toks[25:] + more},
             "every live session is still there")
        t.eq([with_cookie(x) for x in toks[25:] + more], [200] * (15 + n),
             "and works")

    @t.test
    def tokens():
        pairs = [oauth2_pair() for _ in range(12)]
        before = dump(s, "tokens")
        t.eq(len(before), 24, "12 code grants: 24 tokens in LMDB (the "
             "codes are gone, used)")
        old = [sha(a) for a, _ in pairs[:8]] + [sha(r) for _, r in pairs[:4]]
        load(s, "tokens", age(before, old))
        t.eq(len(expired(dump(s, "tokens"))), 12, "12 tokens aged in the "
             "store")
        t.eq([bearer(a) for a, _ in pairs[:8]], [403] * 8,
             "the aged access tokens are refused")
        t.eq([bearer(a) for a, _ in pairs[8:]], [200] * 4,
             "the others still work")
        # Each grant issues three (code, access, refresh): one lap of 24
        # entries takes two grants.
        more = [oauth2_pair() for _ in range(2)]
        after = dump(s, "tokens")
        t.diag("tokens: 24 -> %d entries (%d expired) after 2 more grants"
               % (len(after), len(expired(after))))
        t.eq(expired(after), set(), "after 2 more grants no expired token "
             "is left")
        live = ({sha(a) for a, _ in pairs[8:]} |
                {sha(r) for _, r in pairs[4:]} |
                {sha(x) for p in more for x in p})
        t.eq(set(after), live, "every live token is still there")
        t.eq([bearer(a) for a, _ in pairs[8:] + more], [200] * 6,
             "and the live access tokens work")

t.done()
