#!/usr/bin/env python3
"""Issue 10, sections 3 and 4: who may make an admin, sessions and tokens
that follow the User record, sign-in that cannot be posted from another
site's page and does not tell unknown names from wrong passwords by its
time, HMAC principals that must sign, and the failed-login limiter (OAuth2
client authentication counted, its table purged, every failure logged with
the address, control characters escaped in the log).

Everything goes through the real nginx and workers (tests/harness.py);
the limiter's table is read and aged with LMDB's own tools (mdb_dump,
mdb_load), as tests/e2e_purge.py does for sessions.

The log line of an authentication failure, for fail2ban and the like:

    2026-12-01T21:00:00Z warn [1234] auth: failure from 192.0.2.7: Wrong API key.

that is `<time> warn [<pid>] auth: failure from <REMOTE_ADDR>: <reason>`; a
failregex is `^\\S+ warn \\[\\d+\\] auth: failure from <HOST>: `.

TAP on stdout (tests/tap.py).
"""

import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HtmlForm, Stack, api_user, make_key  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

COOKIE = "fastcrm_session"
PW = "agent-password-1"
NEW_PW = "agent-password-2"
SECRET = "client-secret-for-security"
REDIRECT = "https://shell.ringotel.co/oauth2/callback"
CLERK_KEY = make_key()[0]
SIGN_KEY = make_key()[0]
SIGN_SECRET = "hmac-secret-for-security-tests"
BASIC_PW = "basic-password-1"
LOG_LINE = re.compile(r"^\S+Z warn \[\d+\] auth: failure from (\S+): (.+)$",
                      re.M)


def yescrypt(pw):
    """A yescrypt crypt(3) hash (libxcrypt's default cost, like the ones
    fastcrm makes), through libcrypt itself."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt"))
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib.crypt(pw.encode(), lib.crypt_gensalt(b"$y$", 0, None, 0)
                     ).decode()


def reason(r):
    return r.headers.get("X-Status-Reason") or ""


def b64(s):
    return base64.b64encode(s.encode()).decode()


def cookie_of(r):
    for name, v in r.header_list:
        if name.lower() == "set-cookie" and v.startswith(COOKIE + "="):
            val = v.split(";")[0].split("=", 1)[1]
            if val:
                return val
    return None


ROLES = {
    # A non-admin that may create and edit Users (a team lead's key).
    "clerk": {"User": {"create": True, "read": "all", "edit": "all",
                       "delete": "no"},
              "*": {"create": False, "read": "all", "edit": "no",
                    "delete": "no"}},
    # What signed-in agents act with: User edit, as in the issue.
    "agent": {"User": {"create": True, "read": "all", "edit": "all",
                       "delete": "no"},
              "Contact": {"create": True, "read": "all", "edit": "all",
                          "delete": "no"}},
    "reader": {"*": {"create": False, "read": "all", "edit": "no",
                     "delete": "no"}},
    "telephony": {"*": {"create": True, "read": "all", "edit": "all",
                        "delete": "no"}},
}


def extra(limit):
    return {
        "agent_role": "agent",
        "auth_fail_limit": limit,
        "auth_fail_window": 60,
        "roles": ROLES,
        "api_users": [
            api_user("clerk", "clerk", key=CLERK_KEY),
            api_user("signer", "reader", key=SIGN_KEY,
                     hmac_secret=SIGN_SECRET),
            api_user("basicuser", "reader",
                     password_hash=yescrypt(BASIC_PW)),
        ],
        "oauth2_clients": [{
            "client_id": "ringotel",
            "client_secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
            "redirect_uris": [REDIRECT], "role": "telephony"}],
    }


class Client:
    """The requests of one stack, with the helpers every test uses."""

    def __init__(self, s):
        self.s = s
        self.q = urllib.parse.urlencode({
            "response_type": "code", "client_id": "ringotel",
            "redirect_uri": REDIRECT, "state": "st"})

    def admin(self, method, path, body=None):
        return self.s.request(method, path, body)

    def clerk(self, method, path, body=None):
        return self.s.request(method, path, body, key=CLERK_KEY)

    def user(self, name, pw=PW, **more):
        body = {"userName": name, "lastName": name.capitalize(),
                "password": pw}
        body.update(more)
        r = self.admin("POST", "/User", body)
        if r.status != 200:
            raise AssertionError("setup: create User %s: %s" % (
                name, r.describe()))
        return r.json["id"]

    def get_user(self, uid):
        return self.admin("GET", "/User/" + uid)

    def sign_in(self, name, pw=PW, ctype="application/json", raw=None):
        if raw is None:
            raw = json.dumps({"userName": name, "password": pw})
        r = self.s.request("POST", "/App/session", key=None, raw_body=raw,
                           content_type=ctype)
        return r, cookie_of(r), (r.json or {}).get("csrfToken")

    def with_cookie(self, method, path, tok, csrf=None, body=None):
        h = {"Cookie": "%s=%s" % (COOKIE, tok),
             "X-Requested-With": "XMLHttpRequest"}
        if csrf is not None:
            h["X-CSRF-Token"] = csrf
        return self.s.request(method, path, body, headers=h, key=None)

    def authorize(self, name, pw=PW):
        """The authorize form posted with name and pw: the response."""
        page = self.s.request("GET", "/oauth2/authorize?" + self.q, key=None)
        f = HtmlForm()
        f.feed(page.text)
        fields = dict(f.inputs, userName=name, password=pw)
        return self.s.request(
            "POST", "/oauth2/authorize", key=None,
            raw_body=urllib.parse.urlencode(fields).encode(),
            content_type="application/x-www-form-urlencoded")

    def code(self, name, pw=PW):
        r = self.authorize(name, pw)
        loc = urllib.parse.urlparse(r.headers.get("Location", ""))
        got = urllib.parse.parse_qs(loc.query).get("code")
        if r.status != 302 or not got:
            raise AssertionError("setup: authorize %s: %s" % (
                name, r.describe()))
        return got[0]

    def token(self, fields, secret=SECRET, source=None):
        fields = dict(fields, client_id="ringotel", client_secret=secret)
        return self.s.request(
            "POST", "/oauth2/token", key=None, source=source,
            raw_body=urllib.parse.urlencode(fields).encode(),
            content_type="application/x-www-form-urlencoded")

    def tokens(self, name, pw=PW):
        r = self.token({"grant_type": "authorization_code",
                        "code": self.code(name, pw),
                        "redirect_uri": REDIRECT})
        if r.status != 200:
            raise AssertionError("setup: token for %s: %s" % (
                name, r.describe()))
        return r.json["access_token"], r.json["refresh_token"]

    def bearer(self, tok, path="/App/user"):
        return self.s.request("GET", path, key=None,
                              headers={"Authorization": "Bearer " + tok})

    def refresh(self, tok):
        return self.token({"grant_type": "refresh_token",
                           "refresh_token": tok})


def main_stack():
    with Stack(config_extra=extra(1000000)) as s:
        c = Client(s)

        # ---- 3. Only an admin makes an admin --------------------------------
        @t.test("a non-admin with User edit cannot change what only an "
                "admin may")
        def guard_update():
            victim = c.user("victim")
            before = c.get_user(victim).json
            for attr, value in (("type", "admin"), ("isActive", False),
                                ("userName", "renamed"),
                                ("password", NEW_PW)):
                r = c.clerk("PUT", "/User/" + victim, {attr: value})
                t.ok(r.status == 403 and re.search(
                    r"\b%s\b" % attr, reason(r)) and "admin" in reason(r),
                    "PUT User {%s: %r} by a non-admin: 403 naming %s" % (
                        attr, value, attr), r.describe())
            after = c.get_user(victim).json
            t.eq({k: after.get(k) for k in ("type", "isActive", "userName",
                                            "modifiedAt")},
                 {k: before.get(k) for k in ("type", "isActive", "userName",
                                             "modifiedAt")},
                 "the refused updates changed nothing")
            r, tok, _ = c.sign_in("victim", PW)
            t.ok(r.status == 200 and tok, "the victim's password is unchanged",
                 r.describe())
            r = c.clerk("PUT", "/User/" + victim, {"title": "Team lead",
                                                   "type": "regular",
                                                   "isActive": True,
                                                   "userName": "victim"})
            t.ok(r.status == 200 and r.json.get("title") == "Team lead",
                 "a non-admin may still edit other attributes, and send the "
                 "guarded ones unchanged", r.describe())
            r = c.admin("PUT", "/User/" + victim, {"type": "admin"})
            t.ok(r.status == 200 and r.json.get("type") == "admin",
                 "an admin may make an admin", r.describe())
            r = c.admin("PUT", "/User/" + victim, {"type": "regular"})
            t.status(r, 200, "and undo it")

        @t.test("a non-admin cannot create an admin or set a password")
        def guard_create():
            n0 = c.admin("GET", "/User?maxSize=1").json["total"]
            r = c.clerk("POST", "/User", {"userName": "mkadmin",
                                          "lastName": "Mk", "type": "admin"})
            t.ok(r.status == 403 and re.search(r"\btype\b", reason(r)),
                 "POST User {type: admin} by a non-admin: 403 naming type",
                 r.describe())
            r = c.clerk("POST", "/User", {"userName": "mkpw",
                                          "lastName": "Mk", "password": PW})
            t.ok(r.status == 403 and re.search(r"\bpassword\b", reason(r)),
                 "POST User with a password by a non-admin: 403 naming "
                 "password", r.describe())
            t.eq(c.admin("GET", "/User?maxSize=1").json["total"], n0,
                 "no User was created")
            r = c.clerk("POST", "/User", {"userName": "plainuser",
                                          "lastName": "Plain"})
            t.ok(r.status == 200 and r.json.get("type") == "regular",
                 "a non-admin may create a regular User", r.describe())

        @t.test("an agent with User edit cannot make itself an admin")
        def self_promotion():
            me = c.user("climber")
            other = c.user("colleague")
            r, tok, csrf = c.sign_in("climber")
            t.ok(r.status == 200 and tok, "the agent signs in", r.describe())
            r = c.with_cookie("PUT", "/User/" + me, tok, csrf,
                              {"type": "admin"})
            t.ok(r.status == 403 and "type" in reason(r),
                 "PUT its own User {type: admin}: 403", r.describe())
            r, tok2, csrf2 = c.sign_in("climber")
            u = c.with_cookie("GET", "/App/user", tok2)
            t.ok(u.status == 200 and u.json["user"]["isAdmin"] is False,
                 "signed in again, it is still no admin", u.describe())
            r = c.with_cookie("PUT", "/User/" + other, tok2, csrf2,
                              {"password": NEW_PW})
            t.eq(r.status, 403, "it cannot reset a colleague's password")
            r, _, _ = c.sign_in("colleague", PW)
            t.status(r, 200, "the colleague's password still works")

        # ---- 3. Sessions follow the User record -----------------------------
        def live(tok):
            return c.with_cookie("GET", "/App/user", tok).status == 200

        @t.test("a password change by the API ends the user's sessions")
        def session_password_api():
            uid = c.user("pwapi")
            _, tok, _ = c.sign_in("pwapi")
            _, tok2, _ = c.sign_in("pwapi")
            t.ok(tok and live(tok) and live(tok2), "two sessions work")
            r = c.admin("PUT", "/User/" + uid, {"password": NEW_PW})
            t.status(r, 200, "an admin sets a new password")
            r = c.with_cookie("GET", "/App/user", tok)
            t.ok(r.status == 401 and not live(tok2),
                 "both sessions end at once: 401", r.describe())
            r, tok3, _ = c.sign_in("pwapi", NEW_PW)
            t.ok(r.status == 200 and live(tok3),
                 "the new password signs in", r.describe())

        @t.test("a password change by `fastcrm user passwd` ends sessions")
        def session_password_cli():
            c.user("pwcli")
            _, tok, _ = c.sign_in("pwcli")
            t.ok(tok and live(tok), "the session works")
            p = subprocess.run([s.bin, "user", "passwd", "pwcli", "-c",
                                s.config_path], input=NEW_PW + "\n",
                               capture_output=True, text=True)
            t.ok(p.returncode == 0, "fastcrm user passwd", p.stderr)
            t.eq(c.with_cookie("GET", "/App/user", tok).status, 401,
                 "the old session is refused: 401")

        @t.test("deactivation ends sessions, and reactivation does not "
                "bring them back")
        def session_deactivate():
            uid = c.user("leaver")
            _, tok, _ = c.sign_in("leaver")
            t.ok(tok and live(tok), "the session works")
            t.status(c.admin("PUT", "/User/" + uid, {"isActive": False}), 200,
                     "an admin deactivates the user")
            t.eq(c.with_cookie("GET", "/App/user", tok).status, 401,
                 "the session is refused: 401")
            t.status(c.admin("PUT", "/User/" + uid, {"isActive": True}), 200,
                     "and reactivates it")
            t.eq(c.with_cookie("GET", "/App/user", tok).status, 401,
                 "the old session stays ended")
            r, tok2, _ = c.sign_in("leaver")
            t.ok(r.status == 200 and live(tok2), "a new sign-in works",
                 r.describe())

        @t.test("deletion ends sessions")
        def session_delete():
            uid = c.user("gone")
            _, tok, _ = c.sign_in("gone")
            t.ok(tok and live(tok), "the session works")
            t.status(c.admin("DELETE", "/User/" + uid), 200, "delete the user")
            t.eq(c.with_cookie("GET", "/App/user", tok).status, 401,
                 "the session is refused: 401")

        @t.test("a demoted admin's session no longer acts as an admin")
        def session_demote():
            uid = c.user("boss", type="admin")
            other = c.user("staff")
            _, tok, csrf = c.sign_in("boss")
            u = c.with_cookie("GET", "/App/user", tok)
            t.ok(u.status == 200 and u.json["user"]["isAdmin"] is True,
                 "signed in as an admin", u.describe())
            r = c.with_cookie("PUT", "/User/" + other, tok, csrf,
                              {"title": "x", "password": NEW_PW})
            t.status(r, 200, "the admin session sets a password")
            t.status(c.admin("PUT", "/User/" + uid, {"type": "regular"}), 200,
                     "another admin demotes it")
            u = c.with_cookie("GET", "/App/user", tok)
            t.ok(u.status == 401 or (u.status == 200 and
                                     u.json["user"]["isAdmin"] is False),
                 "the session is ended or no longer admin", u.describe())
            r = c.with_cookie("PUT", "/User/" + other, tok, csrf,
                              {"password": PW})
            t.ok(r.status in (401, 403), "it can no longer set passwords",
                 r.describe())

        # ---- 3. OAuth2 tokens follow the User record -------------------------
        def token_case(name, change, desc):
            uid = c.user(name)
            access, refresh = c.tokens(name)
            pending = c.code(name)
            t.status(c.bearer(access), 200, "%s: the access token works" % name)
            change(uid)
            r = c.bearer(access)
            t.eq(r.status, 403, "%s: the access token is refused" % desc)
            r = c.refresh(refresh)
            t.ok(r.status == 400 and (r.json or {}).get("error") ==
                 "invalid_grant", "%s: the refresh token is invalid_grant"
                 % desc, r.describe())
            r = c.token({"grant_type": "authorization_code", "code": pending,
                         "redirect_uri": REDIRECT})
            t.ok(r.status == 400 and (r.json or {}).get("error") ==
                 "invalid_grant", "%s: a code issued before is invalid_grant"
                 % desc, r.describe())

        @t.test("OAuth2 tokens end with a password change")
        def token_password():
            token_case("tokpw", lambda uid: c.admin(
                "PUT", "/User/" + uid, {"password": NEW_PW}),
                "after a password change")

        @t.test("OAuth2 tokens end with deactivation")
        def token_deactivate():
            token_case("tokoff", lambda uid: c.admin(
                "PUT", "/User/" + uid, {"isActive": False}),
                "after deactivation")

        @t.test("OAuth2 tokens end with deletion")
        def token_delete():
            token_case("tokdel", lambda uid: c.admin("DELETE", "/User/" + uid),
                       "after deletion")

        @t.test("OAuth2 tokens of an untouched user keep working")
        def token_untouched():
            c.user("tokok")
            access, refresh = c.tokens("tokok")
            c.user("tokbystander")
            t.status(c.bearer(access), 200, "the access token works")
            r = c.refresh(refresh)
            t.status(r, 200, "the refresh token works")

        # ---- 3. Sign-in takes JSON only ---------------------------------------
        @t.test("sign-in refuses what another site's page can post")
        def sign_in_json_only():
            c.user("formuser")
            form = urllib.parse.urlencode({"userName": "formuser",
                                           "password": PW})
            body = json.dumps({"userName": "formuser", "password": PW})
            for ctype, raw, what in (
                    ("application/x-www-form-urlencoded", form, "a form"),
                    ("application/x-www-form-urlencoded", body,
                     "JSON sent as a form"),
                    ("text/plain", body, "text/plain"),
                    ("multipart/form-data; boundary=x", "--x--", "multipart"),
                    (None, body, "no Content-Type")):
                r, tok, _ = c.sign_in(None, ctype=ctype, raw=raw)
                t.ok(r.status in (400, 415) and tok is None and
                     "application/json" in reason(r),
                     "sign-in with %s: 4xx naming application/json, no "
                     "cookie" % what, r.describe())
            r, tok, _ = c.sign_in("formuser",
                                  ctype="application/json; charset=utf-8")
            t.ok(r.status == 200 and tok, "application/json with a charset "
                 "signs in", r.describe())

        # ---- 3. Unknown user and wrong password take the same time -----------
        def ratio(name, unknown, wrong, rounds=15):
            unknown()
            wrong()
            tu, tw = [], []
            for _ in range(rounds):
                for fn, acc in ((unknown, tu), (wrong, tw)):
                    t0 = time.monotonic()
                    fn()
                    acc.append(time.monotonic() - t0)
            mu, mw = statistics.median(tu), statistics.median(tw)
            q = mu / mw
            t.diag("%s: median unknown user %.1f ms, wrong password %.1f ms, "
                   "ratio %.2f" % (name, mu * 1e3, mw * 1e3, q))
            t.ok(0.5 <= q <= 2, "%s: an unknown user name takes the time of "
                 "a wrong password (ratio of medians %.2f, bound 0.5..2)" % (
                     name, q))

        @t.test("sign-in time does not tell unknown names")
        def timing_sign_in():
            c.user("timed")

            def attempt(name):
                r, tok, _ = c.sign_in(name, "wrong-password-x")
                if r.status != 401 or tok:
                    raise AssertionError(r.describe())
            ratio("POST /App/session", lambda: attempt("nobody-here"),
                  lambda: attempt("timed"))

        @t.test("the OAuth2 sign-in form's time does not tell unknown names")
        def timing_authorize():
            def attempt(name):
                r = c.authorize(name, "wrong-password-x")
                if r.status != 200 or "Location" in r.headers:
                    raise AssertionError(r.describe())
            ratio("POST /oauth2/authorize", lambda: attempt("nobody-here"),
                  lambda: attempt("timed"))

        @t.test("Basic and Espo-Authorization time does not tell unknown "
                "names")
        def timing_basic():
            def basic(name):
                r = s.request("GET", "/App/user", key=None, headers={
                    "Authorization": "Basic " + b64(name + ":wrong-pw")})
                if r.status != 403:
                    raise AssertionError(r.describe())

            def espo(name):
                r = s.request("GET", "/App/user", key=None, headers={
                    "Espo-Authorization": b64(name + ":wrong-pw")})
                if r.status != 401:
                    raise AssertionError(r.describe())
            ratio("Basic", lambda: basic("nobody-here"),
                  lambda: basic("basicuser"))
            ratio("Espo-Authorization", lambda: espo("nobody-here"),
                  lambda: espo("basicuser"))

        # ---- 4. A principal with an hmac_secret must sign ---------------------
        @t.test("an HMAC principal's key alone is refused")
        def must_sign():
            r = s.request("GET", "/App/user", key=SIGN_KEY)
            t.ok(r.status == 401 and "sign" in reason(r).lower(),
                 "X-Api-Key alone: 401 saying it must sign", r.describe())
            r = s.request("GET", "/App/user", key=None,
                          headers={"Authorization": "Bearer " + SIGN_KEY})
            t.eq(r.status, 403, "the key as a Bearer token: 403")
            sig = hmac.new(SIGN_SECRET.encode(), b"GET /App/user",
                           hashlib.sha256).hexdigest()
            r = s.request("GET", "/App/user", key=None, headers={
                "X-Hmac-Authorization": b64(SIGN_KEY + ":" + sig)})
            t.ok(r.status == 200 and r.json["user"]["userName"] == "signer",
                 "signed with X-Hmac-Authorization: 200", r.describe())
            r = s.request("GET", "/App/user", key=CLERK_KEY)
            t.status(r, 200, "a principal without hmac_secret still uses its "
                     "key alone")

        # ---- 4. Control characters never reach the log raw -------------------
        @t.test("control characters in paths and reasons are escaped in "
                "the log")
        def log_escape():
            before = os.path.getsize(s.fastcrm_log)
            s.request("GET", "/Contact/%1b%5b31mRED%7f%07", raw_path=False)
            s.request("GET", "/api/v1/Nope%1b%5d0%3btitle%07",
                      raw_path=True)
            s.request("POST", "/Contact", {"lastName": "Esc",
                                           "x\u001b[2J\u007f\u009b": 1})
            time.sleep(0.3)
            with open(s.fastcrm_log, "rb") as f:
                f.seek(before)
                text = f.read()
            bad = sorted({b for b in text if (b < 0x20 and b != 0x0a) or
                          b == 0x7f})
            t.ok(not bad, "no control byte but the line ends reaches the log",
                 "raw bytes: %r" % bad)
            t.ok(b"\\x1b" in text and b"\\x7f" in text,
                 "ESC and DEL are written as \\x1b, \\x7f",
                 text.decode("utf-8", "replace")[-2000:])
            t.ok(b"\xc2\x9b" not in text, "nor a C1 control (U+009B)")


def limiter_stack():
    limit = 5
    with Stack(config_extra=extra(limit)) as s:
        c = Client(s)

        @t.test("failed OAuth2 client authentication counts in the limiter")
        def token_counts():
            src = "127.0.0.3"
            ok = s.request("GET", "/App/user", source=src)
            t.status(ok, 200, "a good key from %s before any failure" % src)
            for i in range(limit + 1):
                r = c.token({"grant_type": "refresh_token",
                             "refresh_token": "0" * 64}, secret="wrong",
                            source=src)
                if i == 0:
                    t.ok(r.status == 401 and r.json["error"] ==
                         "invalid_client", "a wrong client secret: 401 "
                         "invalid_client", r.describe())
            r = s.request("GET", "/App/user", source=src)
            t.ok(r.status == 403 and "Too many failed logins" in reason(r),
                 "after %d wrong client secrets the address is limited" % (
                     limit + 1), r.describe())
            r = c.token({"grant_type": "refresh_token",
                         "refresh_token": "0" * 64}, source=src)
            t.ok(r.status in (400, 401, 403) and
                 "Too many failed logins" in (r.json or {}).get(
                     "error_description", ""),
                 "and the token endpoint refuses it too, even with the right "
                 "secret", r.describe())
            r = s.request("GET", "/App/user", source="127.0.0.4")
            t.status(r, 200, "another address is not limited")

        @t.test("every authentication failure is logged with the address")
        def failures_logged():
            src = "127.0.0.5"
            s.request("GET", "/App/user", key="f" * 32, source=src)
            s.request("GET", "/App/user", key=None, source=src, headers={
                "Authorization": "Basic " + b64("nobody:x")})
            s.request("GET", "/App/user", key=None, source=src, headers={
                "Authorization": "Bearer " + "e" * 64})
            s.request("GET", "/App/user", key=SIGN_KEY, source=src)
            c.sign_in("nobody", "x")  # from 127.0.0.1
            s.request("POST", "/App/session", {"userName": "nobody",
                                               "password": "x"}, key=None,
                      source=src)
            c.token({"grant_type": "refresh_token", "refresh_token": "1" * 64},
                    secret="wrong", source=src)
            time.sleep(0.3)
            lines = [m for m in LOG_LINE.finditer(s.log_text())
                     if m.group(1) == src]
            t.diag("\n".join(m.group(0) for m in lines))
            t.eq(len(lines), 6, "six failures from %s, six warn lines "
                 "'auth: failure from %s: <reason>'" % (src, src))
            t.ok(any("client secret" in m.group(2) for m in lines),
                 "the OAuth2 client failure is among them")
            t.ok(any(m.group(1) == "127.0.0.1" for m in
                     LOG_LINE.finditer(s.log_text())),
                 "and the sign-in failure from 127.0.0.1 is logged with its "
                 "address")

        @t.test("expired windows are purged from the limiter's table")
        def purge():
            # One failure from each of 40 addresses.
            addrs = ["127.0.1.%d" % i for i in range(1, 41)]
            for a in addrs:
                s.request("GET", "/App/user", key="f" * 32, source=a)
            table = dump(s, "authfail")
            t.ok(all(a.encode() in table for a in addrs),
                 "the table holds an entry per address (%d entries)" %
                 len(table))
            # Age them: the window started long ago (nothing else changed).
            aged = {}
            for k, v in table.items():
                if k.decode() in addrs:
                    aged[k] = struct.pack("=q", 1000) + v[8:]
            load(s, "authfail", aged)
            # Failures from new addresses (one each, far from the limit);
            # each looks at the next few entries (8) and deletes the
            # expired ones, going round the table.
            srcs = ["127.0.2.%d" % i for i in range(1, len(table) // 8 + 3)]
            for a in srcs:
                s.request("GET", "/App/user", key="f" * 32, source=a)
            after = dump(s, "authfail")
            left = [k for k in aged if k in after]
            t.ok(not left, "every expired window is gone (%d left of %d)" % (
                len(left), len(aged)), repr(left[:5]))
            t.ok(all(a.encode() in after for a in srcs) and
                 all(k in after for k in table if k not in aged),
                 "the live entries stay (%d entries now)" % len(after))


def dump(s, table):
    """{key bytes: value bytes} of one LMDB table, by mdb_dump."""
    p = subprocess.run(["mdb_dump", "-s", table, s.data_dir],
                       capture_output=True, check=True)
    lines = p.stdout.decode().splitlines()
    data = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
    return {bytes.fromhex(k.strip()): bytes.fromhex(v.strip())
            for k, v in zip(data[0::2], data[1::2])}


def load(s, table, entries):
    """Writes entries (key -> value bytes) into the table, by mdb_load."""
    text = ["VERSION=3", "format=bytevalue", "type=btree", "HEADER=END"]
    for k, v in entries.items():
        text += [" " + k.hex(), " " + v.hex()]
    text.append("DATA=END")
    subprocess.run(["mdb_load", "-s", table, s.data_dir],
                   input=("\n".join(text) + "\n").encode(),
                   capture_output=True, check=True)


main_stack()
limiter_stack()
t.done()
