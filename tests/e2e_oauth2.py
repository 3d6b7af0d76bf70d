"""OAuth2 (RFC 6749) through the real stack: the authorization-code flow
with its sign-in form, exact redirect-URI matching, single-use codes,
rotating refresh tokens, RFC error answers, revocation from the CLI, and
no token in any log."""

import base64
import hashlib
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HtmlForm, Stack, api_user, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
SECRET = "s3cret-client-secret-for-tests"
REDIRECT = "https://shell.ringotel.co/oauth2/callback"
PW = "agent-password-1"


Form = HtmlForm


extra = {
    "roles": {"telephony": {"*": {"create": True, "read": "all",
                                  "edit": "all", "delete": "no"}}},
    "api_users": [api_user("ringo", "telephony", password_hash=sha512_crypt(PW))],
    "oauth2_clients": [{"client_id": "ringotel",
                        "client_secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
                        "redirect_uris": [REDIRECT], "role": "telephony"}],
}

with Stack(config_extra=extra) as s:
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "ringotel",
                                "redirect_uri": REDIRECT, "state": "st&1",
                                "scope": "api refresh_token"})

    def authorize(user="ringo", pw=PW):
        r = s.request("GET", "/oauth2/authorize?" + q, key=None)
        f = Form()
        f.feed(r.text)
        fields = dict(f.inputs, userName=user, password=pw)
        return r, f, s.request("POST", "/oauth2/authorize", key=None,
                               raw_body=urllib.parse.urlencode(fields).encode(),
                               content_type="application/x-www-form-urlencoded")

    def token(fields, basic=False):
        headers = {}
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("ringotel:" + SECRET).encode()).decode()
        else:
            fields = dict(fields, client_id="ringotel", client_secret=SECRET)
        return s.request("POST", "/oauth2/token", key=None, headers=headers,
                         raw_body=urllib.parse.urlencode(fields).encode(),
                         content_type="application/x-www-form-urlencoded")

    @t.test
    def flow():
        form, f, r = authorize()
        t.eq(form.status, 200, "GET /oauth2/authorize shows the form")
        t.eq(f.action, "/oauth2/authorize", "the form posts back")
        t.eq(f.inputs.get("redirect_uri"), REDIRECT, "hidden fields carried")
        t.eq(r.status, 302, "good credentials redirect")
        loc = urllib.parse.urlparse(r.headers.get("Location", ""))
        t.eq("%s://%s%s" % (loc.scheme, loc.netloc, loc.path), REDIRECT,
             "to the registered redirect URI")
        qs = urllib.parse.parse_qs(loc.query)
        t.eq(qs.get("state"), ["st&1"], "state comes back intact")
        code = qs["code"][0]
        tr = token({"grant_type": "authorization_code", "code": code,
                    "redirect_uri": REDIRECT})
        t.eq(tr.status, 200, "code → tokens")
        j = tr.json
        t.eq((j["token_type"], j["expires_in"] > 0, len(j["access_token"]),
              len(j["refresh_token"])), ("Bearer", True, 64, 64), "token answer")
        t.eq(tr.headers.get("Cache-Control"), "no-store", "no-store")
        u = s.request("GET", "/App/user", key=None,
                      headers={"Authorization": "Bearer " + j["access_token"]})
        t.eq((u.status, u.json["user"]["userName"]), (200, "ringo"),
             "the access token authenticates")
        c = s.request("POST", "/Contact", {"lastName": "ViaOAuth"}, key=None,
                      headers={"Authorization": "Bearer " + j["access_token"]})
        t.eq(c.status, 200, "and acts with the client's role")
        again = token({"grant_type": "authorization_code", "code": code,
                       "redirect_uri": REDIRECT})
        t.eq((again.status, again.json["error"]), (400, "invalid_grant"),
             "a replayed code is invalid_grant")
        rf = token({"grant_type": "refresh_token",
                    "refresh_token": j["refresh_token"]}, basic=True)
        t.eq(rf.status, 200, "refresh (client by Basic) gives new tokens")
        t.ok(rf.json["refresh_token"] != j["refresh_token"], "refresh token rotated")
        old = token({"grant_type": "refresh_token",
                     "refresh_token": j["refresh_token"]})
        t.eq((old.status, old.json["error"]), (400, "invalid_grant"),
             "the old refresh token no longer works")
        u = s.request("GET", "/App/user", key=None,
                      headers={"Authorization": "Bearer " + rf.json["access_token"]})
        t.eq(u.status, 200, "the new access token works")
        p = subprocess.run([s.bin, "token", "revoke", rf.json["access_token"],
                            "-c", s.config_path], capture_output=True, text=True)
        t.ok(p.returncode == 0, "fastcrm token revoke", p.stderr)
        u = s.request("GET", "/App/user", key=None,
                      headers={"Authorization": "Bearer " + rf.json["access_token"]})
        t.eq(u.status, 403, "a revoked token is refused with 403")
        p = subprocess.run([s.bin, "token", "revoke", "--client", "ringotel",
                            "-c", s.config_path], capture_output=True, text=True)
        t.ok(p.returncode == 0 and "revoked" in p.stdout, "revoke a client's tokens")
        again = token({"grant_type": "refresh_token",
                       "refresh_token": rf.json["refresh_token"]})
        t.eq(again.status, 400, "its refresh token is gone too")

    @t.test
    def refusals():
        bad = q.replace(urllib.parse.quote(REDIRECT, safe=""),
                        urllib.parse.quote(REDIRECT + "x", safe=""))
        r = s.request("GET", "/oauth2/authorize?" + bad, key=None)
        t.ok(r.status == 400 and "Location" not in r.headers,
             "an unregistered redirect_uri gets 400 and no redirect")
        r = s.request("GET", "/oauth2/authorize?" + q.replace("ringotel", "evil"),
                      key=None)
        t.eq(r.status, 400, "an unknown client gets 400")
        _, _, r = authorize(pw="wrong")
        t.ok(r.status == 200 and "Wrong" in r.text and "Location" not in r.headers,
             "wrong password shows the form again")
        r = token({"grant_type": "authorization_code", "code": "0" * 64,
                   "redirect_uri": REDIRECT})
        t.eq(r.json["error"], "invalid_grant", "unknown code")
        _, _, r = authorize()
        code = urllib.parse.parse_qs(urllib.parse.urlparse(
            r.headers["Location"]).query)["code"][0]
        r = token({"grant_type": "authorization_code", "code": code,
                   "redirect_uri": REDIRECT + "/other"})
        t.eq(r.json["error"], "invalid_grant", "redirect_uri must match")
        r = s.request("POST", "/oauth2/token", key=None, content_type=
                      "application/x-www-form-urlencoded", raw_body=urllib.parse.urlencode(
                          {"grant_type": "authorization_code", "code": code,
                           "client_id": "ringotel", "client_secret": "nope",
                           "redirect_uri": REDIRECT}).encode())
        t.eq((r.status, r.json["error"]), (401, "invalid_client"),
             "a wrong client secret is 401 invalid_client")
        r = token({"grant_type": "password", "username": "x", "password": "y"})
        t.eq(r.json["error"], "unsupported_grant_type", "password grant refused")
        r = token({})
        t.eq(r.json["error"], "invalid_request", "missing grant_type")
        r = s.request("GET", "/App/user", key=None,
                      headers={"Authorization": "Bearer " + "f" * 64})
        t.eq(r.status, 403, "an unknown bearer token is 403")

    @t.test
    def no_secrets_in_logs():
        logs = s.log_text() + s.nginx_log_text("all")
        t.ok(PW not in logs and SECRET not in logs, "no password or secret logged")
        t.ok("code=" not in logs and "access_token" not in logs,
             "no code or token logged")

t.done()
