"""A hostile input corpus through the real stack (nginx over TLS on
loopback, the real master and workers, LMDB in a temp dir): several hundred
distinct malformed, oversized, forged or replayed requests. Each must get
the 4xx it deserves with a reason that names the problem (X-Status-Reason,
and a JSON body that parses when there is one), never a 5xx; after every
batch the stack answers, the master and every worker are the same
processes, and neither log shows a crash; and a dump of all the data
(`fastcrm export` of every entity, `mdb_dump` of every database but the
failed-login counter, the attachment files) is identical before and after.

Requests are sent on raw TLS sockets so that bytes no well-behaved client
library would send (NUL, invalid UTF-8, bare CR, broken framing) reach
nginx as written."""

import base64
import collections
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HtmlForm, Response, Stack, api_user, make_key, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

PW = "agent-password-hostile-1"
HMAC_KEY, _ = make_key()
HMAC_SECRET = "hmac-secret-for-the-hostile-corpus"
S1 = "client-secret-ringotel-hostile"
S2 = "client-secret-other-hostile"
REDIRECT = "https://shell.ringotel.co/oauth2/callback"
REDIRECT2 = "https://other.example/cb"
MAX_BODY = 1024 * 1024
ENTITIES = ["Contact", "Account", "Case", "User", "Call", "Task", "Note",
            "Attachment"]

EXTRA = {
    "max_body": "1MiB",
    # Hundreds of failed logins from 127.0.0.1 are the point here; the
    # limiter would otherwise turn them all into "too many failures".
    "auth_fail_limit": 1000000,
    "api_users": [
        api_user("agent", "admin", password_hash=sha512_crypt(PW)),
        api_user("hm", "admin", key=HMAC_KEY, hmac_secret=HMAC_SECRET),
    ],
    "oauth2_clients": [
        {"client_id": "ringotel",
         "client_secret_sha256": hashlib.sha256(S1.encode()).hexdigest(),
         "redirect_uris": [REDIRECT], "role": "admin"},
        {"client_id": "other",
         "client_secret_sha256": hashlib.sha256(S2.encode()).hexdigest(),
         "redirect_uris": [REDIRECT2], "role": "admin"},
    ],
    "entities": {"Contact": {"fields": {"score": {"type": "int"}}}},
}

DEFAULT = object()
_ctx = ssl.create_default_context()
_ctx.check_hostname = False
_ctx.verify_mode = ssl.CERT_NONE


def b(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def raw(s, method, path, body=None, headers=(), ctype=None, key=DEFAULT,
        version=b"HTTP/1.1", host=True, length=True, tls=True, lines=None,
        timeout=60):
    """One request on a new connection, written byte for byte. path "/X"
    means "/api/v1/X" unless it starts with /api/, /oauth2/, /_ or is "/".
    lines: raw header lines (bytes) added as they are."""
    method, path = b(method), b(path)
    if not (path == b"/" or path.startswith((b"/api/", b"/oauth2/", b"/_"))
            or not path.startswith(b"/")):
        path = b"/api/v1" + path
    head = [method + b" " + path + (b" " + version if version else b"")]
    if host:
        head.append(b"Host: localhost")
    if key is DEFAULT:
        key = s.key
    if key is not None:
        head.append(b"X-Api-Key: " + b(key))
    if ctype is not None:
        head.append(b"Content-Type: " + b(ctype))
    for k, v in headers:
        head.append(b(k) + b": " + b(v))
    head.extend(lines or [])
    data = b"" if body is None else b(body)
    if body is not None and length:
        head.append(b"Content-Length: %d" % len(data))
    head.append(b"Connection: close")
    req = b"\r\n".join(head) + b"\r\n\r\n" + data
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=timeout)
    if tls:
        sock = _ctx.wrap_socket(sock, server_hostname="localhost")
    try:
        try:
            sock.sendall(req)
        except OSError:
            pass  # nginx may refuse before reading it all; read its answer
        resp = http.client.HTTPResponse(sock, method=method.decode("latin-1"))
        resp.begin()
        out = resp.read()
        return Response(method.decode("latin-1"), path.decode("latin-1"),
                        resp.status, resp.reason, resp.getheaders(), out)
    finally:
        sock.close()


def form(d):
    return urllib.parse.urlencode(d)


def b64(x):
    return base64.b64encode(b(x)).decode()


Form = HtmlForm


class Corpus:
    """Sends hostile requests and judges each answer."""

    def __init__(self, s):
        self.s = s
        self.count = collections.Counter()
        self.status = collections.Counter()
        self.cat = None
        self.master = s.master_pid
        self.workers = s.worker_pids()
        self.seen = set()

    def reason_of(self, r):
        """(X-Status-Reason, JSON reason or error text, problems)."""
        probs = []
        hdr = r.headers.get("X-Status-Reason") or ""
        try:
            hdr = hdr.encode("latin-1").decode("utf-8")
        except UnicodeError:
            probs.append("X-Status-Reason is not UTF-8: %r" % hdr)
        jr = ""
        ctype = r.headers.get("Content-Type") or ""
        if r.body and ctype.startswith("application/json"):
            try:
                j = json.loads(r.body.decode("utf-8"))
            except (UnicodeError, ValueError) as e:
                probs.append("JSON body does not parse (%s)" % e)
                j = None
            if isinstance(j, dict) and "reason" in j:
                jr = j["reason"] or ""
                if jr != hdr:
                    probs.append("body reason %r differs from the header" % jr)
            elif isinstance(j, dict) and "error" in j:
                jr = "%s: %s" % (j["error"], j.get("error_description", ""))
                if not hdr.startswith(j["error"]):
                    probs.append("header does not name the OAuth2 error")
        return hdr, jr, probs

    def hit(self, desc, expect, word, method, path, check=None, **kw):
        """Sends one request; passes when its status is expect (an int or a
        tuple), a 4xx, and its reason is there and matches word (and
        check(response), when given, returns no problem)."""
        assert (method, path, desc) not in self.seen, desc
        self.seen.add((method, path, desc))
        try:
            r = raw(self.s, method, path, **kw)
        except (OSError, http.client.HTTPException) as e:
            self.count[self.cat] += 1
            return t.ok(False, "%s: %s" % (self.cat, desc),
                        "no answer: %r" % e)
        return self.judge(desc, expect, word, r, check)

    def judge(self, desc, expect, word, r, check=None):
        self.count[self.cat] += 1
        self.status[r.status] += 1
        exp = expect if isinstance(expect, tuple) else (expect,)
        hdr, jr, probs = self.reason_of(r)
        if r.status not in exp:
            probs.append("status %d, expected %s" % (r.status, exp))
        if not 400 <= r.status < 500:
            probs.append("not a 4xx")
        if hdr.strip() == "":
            probs.append("no X-Status-Reason")
        if word is not None and not re.search(word, hdr + "\n" + jr, re.I):
            probs.append("reason does not match /%s/" % word)
        if check is not None and check(r):
            probs.append(check(r))
        shown = hdr if len(hdr) <= 70 else hdr[:67] + "..."
        return t.ok(not probs, "%s: %s -> %d (%s)" % (self.cat, desc,
                                                      r.status, shown),
                    "\n".join(probs) + "\n" + describe(r))

    def batch(self, name):
        self.cat = name

    def done(self):
        """The stack still serves, nothing crashed or was replaced."""
        s = self.s
        r = s.request("GET", "/App/user")
        log = s.log_text()
        nlog = s.nginx_log_text("error")
        crash = re.findall(r".*(?:killed by signal|exited with status|"
                           r"replacing|cannot open the store).*", log)
        ncrash = re.findall(r".*(?:exited on signal|worker process \d+ "
                            r"exited).*", nlog)
        now = s.worker_pids()
        probs = []
        if r.status != 200:
            probs.append("health: %d" % r.status)
        if s.master_pid != self.master or s.fastcrm_proc.poll() is not None:
            probs.append("master gone")
        if now != self.workers:
            probs.append("workers %s, were %s" % (now, self.workers))
        if s.nginx_proc.poll() is not None:
            probs.append("nginx exited")
        if crash or ncrash:
            probs.append("crash in the logs: %s" % (crash + ncrash)[:5])
        t.ok(not probs, "after %s (%d requests): health 200, master %d and "
             "workers %s unchanged, no crash logged" % (
                 self.cat, self.count[self.cat], self.master, self.workers),
             "\n".join(probs))


def dump(s):
    """Every entity's export, every LMDB database but the failed-login
    counter, and the attachment files with their digests."""
    out = {}
    for e in ENTITIES:
        p = subprocess.run([s.bin, "export", "--entity", e, "-c",
                            s.config_path], capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("export %s: %s" % (e, p.stderr))
        out["export " + e] = p.stdout
    p = subprocess.run(["mdb_dump", "-a", s.data_dir], capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("mdb_dump: %s" % p.stderr)
    for part in p.stdout.split(b"VERSION=")[1:]:
        m = re.search(rb"^database=(.*)$", part, re.M)
        name = m.group(1).decode() if m else "(main)"
        if name != "authfail":
            out["db " + name] = part
    d = os.path.join(s.data_dir, "attachments")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, f), "rb") as fh:
            out["file " + f] = hashlib.sha256(fh.read()).hexdigest()
    return out


def base36(n):
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + out
        if n == 0:
            return out


def describe(r, limit=600):
    """The answer, briefly: long paths and bodies are cut."""
    path = r.path if len(r.path) <= 120 else r.path[:120] + "..."
    head = "\n".join("%s: %s" % (k, v[:200]) for k, v in r.header_list)
    body = r.text if len(r.body) <= limit else r.text[:limit] + "..."
    return "%s %s -> %d\n%s\n\n%s" % (r.method, path, r.status, head, body)


def has_allow(r):
    if not (r.headers.get("Allow") or "").strip():
        return "no Allow header"
    return None


def mp(boundary, parts, close=True):
    """A multipart body: parts are (headers bytes, content bytes)."""
    out = b""
    for h, c in parts:
        out += b"--" + boundary + b"\r\n" + h + b"\r\n\r\n" + c + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out


FILEHDR = (b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
           b"Content-Type: audio/wav")


with Stack(config_extra=EXTRA) as s:
    def api(method, path, body=None, **kw):
        return s.request(method, path, body, **kw)

    # ---- seed -------------------------------------------------------------
    seed = {}

    @t.test
    def seed_data():
        acc = api("POST", "/Account", {"name": "Hostile Corp",
                                       "emailAddress": "info@hostile.example"})
        c1 = api("POST", "/Contact", {"firstName": "Ada", "lastName": "Lovelace",
                                      "phoneNumber": "+1 555 010 2000",
                                      "emailAddress": "ada@example.com",
                                      "accountId": acc.json["id"], "score": 7})
        c2 = api("POST", "/Contact", {"firstName": "Grace", "lastName": "Hopper",
                                      "phoneNumber": "+44 20 7946 0000"})
        gone = api("POST", "/Contact", {"lastName": "Deleted Person"})
        api("DELETE", "/Contact/" + gone.json["id"])
        case = api("POST", "/Case", {"name": "Broken phone",
                                     "contactId": c1.json["id"],
                                     "ccallId": "cc-1"})
        call = api("POST", "/Call", {"name": "Inbound", "direction": "Inbound",
                                     "dateStart": "2026-01-02 10:00:00",
                                     "dateEnd": "2026-01-02 10:04:00",
                                     "parentType": "Case",
                                     "parentId": case.json["id"],
                                     "contactsIds": [c1.json["id"]]})
        rec = api("POST", "/Call/%s/recording?name=first.wav" % call.json["id"],
                  raw_body=b"RIFF" + os.urandom(2000), content_type="audio/wav")
        att = api("POST", "/Attachment", {
            "name": "note.txt", "type": "text/plain", "parentType": "Contact",
            "parentId": c1.json["id"], "field": "file",
            "file": "data:text/plain;base64," + b64("hello")})
        u1 = api("POST", "/User", {"userName": "alice", "lastName": "Agent"})
        u2 = api("POST", "/User", {"userName": "bob", "firstName": "Bob",
                                   "lastName": "Builder"})
        task = api("POST", "/Task", {"name": "Call back", "parentType": "Contact",
                                     "parentId": c1.json["id"]})
        note = api("POST", "/Note", {"type": "Post", "post": "first note",
                                     "parentType": "Case",
                                     "parentId": case.json["id"]})
        rs = [acc, c1, c2, gone, case, call, rec, att, u1, u2, task, note]
        t.eq([r.status for r in rs], [200] * len(rs), "seed: 12 records created")
        seed.update(account=acc.json["id"], c1=c1.json["id"], c2=c2.json["id"],
                    gone=gone.json["id"], case=case.json["id"],
                    call=call.json["id"], rec=rec.json["id"],
                    att=att.json["id"], user=u1.json["id"], task=task.json["id"])
        t.eq(api("GET", "/Contact/" + seed["gone"]).status, 404,
             "seed: the deleted contact reads as 404")

    # Attachment names with path tricks are accepted, with the name cleaned:
    # the bytes live under the record's id whatever the name says.
    sanitized = []

    @t.test
    def names_sanitized():
        cases = [("../../../../etc/passwd", "passwd"),
                 ("..\\..\\windows\\win.ini", "win.ini"),
                 ("..", "file"), ("../..", "file"), ("/", "file"),
                 ("a\"b;c\r\nX-Injected: 1.wav", "a_b_c__X-Injected: 1.wav"),
                 ("%2e%2e%2fetc%2fpasswd", "%2e%2e%2fetc%2fpasswd"),
                 ("caf\u00e9 \u260e.wav", "caf\u00e9 \u260e.wav")]
        for name, want in cases:
            r = api("POST", "/Attachment", {
                "name": name, "type": "text/plain", "parentType": "Contact",
                "parentId": seed["c2"], "file": "data:text/plain;base64," +
                b64("x")})
            got = (r.json or {}).get("name")
            d = api("GET", "/Attachment/file/%s" % (r.json or {}).get("id"))
            cd = d.headers.get("Content-Disposition") or ""
            t.ok(r.status == 200 and got == want and d.status == 200 and
                 d.body == b"x" and "\n" not in cd,
                 "attachment name %r is stored as %r and downloads" % (name, got),
                 describe(r) + "\n" + describe(d, 300))
            sanitized.append(name)
        r = raw(s, "POST", "/Call/%s/recording" % seed["call"],
                ctype="multipart/form-data; boundary=B",
                body=mp(b"B", [(b'Content-Disposition: form-data; name="f"; '
                                b'filename="../../fastcrm.yaml"\r\n'
                                b"Content-Type: audio/wav", b"RIFFdata")]))
        t.ok(r.status == 200 and (r.json or {}).get("name") == "fastcrm.yaml",
             "multipart filename ../../fastcrm.yaml is stored as fastcrm.yaml",
             describe(r))
        sanitized.append("../../fastcrm.yaml")
        d = os.path.join(s.data_dir, "attachments")
        names = os.listdir(d)
        t.ok(all(re.match(r"^[0-9a-f]{17}$", n) for n in names),
             "every file under attachments/ is named by a record id (%d)"
             % len(names), repr(names))
        with open(s.config_path) as f:
            t.ok("api_users" in f.read(), "fastcrm.yaml is untouched")

    # ---- OAuth2: a real flow to get codes and tokens to replay -------------
    oa = {}

    def authorize(client, redirect):
        q = form({"response_type": "code", "client_id": client,
                  "redirect_uri": redirect, "state": "st"})
        r = s.request("GET", "/oauth2/authorize?" + q, key=None)
        f = Form()
        f.feed(r.text)
        r = s.request("POST", "/oauth2/authorize", key=None,
                      raw_body=form(dict(f.inputs, userName="agent",
                                         password=PW)),
                      content_type="application/x-www-form-urlencoded")
        loc = urllib.parse.urlparse(r.headers.get("Location", ""))
        return urllib.parse.parse_qs(loc.query).get("code", [None])[0]

    def token(fields, client="ringotel", secret=S1):
        fields = dict(fields)
        if client is not None:
            fields.update(client_id=client, client_secret=secret)
        return s.request("POST", "/oauth2/token", key=None, raw_body=form(fields),
                         content_type="application/x-www-form-urlencoded")

    @t.test
    def oauth2_setup():
        oa["code1"] = authorize("ringotel", REDIRECT)
        r1 = token({"grant_type": "authorization_code", "code": oa["code1"],
                    "redirect_uri": REDIRECT})
        oa["access1"] = r1.json["access_token"]
        oa["refresh1"] = r1.json["refresh_token"]
        r2 = token({"grant_type": "refresh_token",
                    "refresh_token": oa["refresh1"]})
        oa["access2"] = r2.json["access_token"]
        oa["refresh2"] = r2.json["refresh_token"]
        oa["code2"] = authorize("ringotel", REDIRECT)
        t.ok(r1.status == 200 and r2.status == 200 and oa["code2"],
             "oauth2 setup: a code exchanged, a refresh rotated, a fresh code")

    # ---- a signed-in agent (session cookie + CSRF token) -------------------
    sess = {}

    def sign_in():
        r = s.request("POST", "/App/session", {"userName": "agent",
                                               "password": PW}, key=None)
        m = re.search(r"fastcrm_session=([0-9a-f]+)",
                      r.headers.get("Set-Cookie", ""))
        return r, m.group(1) if m else None

    @t.test
    def session_setup():
        r, sess["tok"] = sign_in()
        sess["csrf"] = (r.json or {}).get("csrfToken")
        r2, sess["tok2"] = sign_in()
        sess["csrf2"] = (r2.json or {}).get("csrfToken")
        t.ok(r.status == 200 and sess["tok"] and sess["csrf"] and
             sess["csrf2"] != sess["csrf"], "two agent sessions signed in")

    before = dump(s)
    t.ok(len(before) > 20, "data dump before: %d parts (%d exported entities, "
         "LMDB databases, files)" % (len(before), len(ENTITIES)))
    C = Corpus(s)
    hit = C.hit
    c1, case, call, user = seed["c1"], seed["case"], seed["call"], seed["user"]
    JSON = "application/json"
    FORM = "application/x-www-form-urlencoded"

    # ---- malformed JSON -----------------------------------------------------
    C.batch("malformed-json")
    for desc, body in [
            ("lone brace", "{"),
            ("key without value", '{"lastName":'),
            ("missing closing brace", '{"lastName":"x"'),
            ("trailing comma", '{"lastName":"x",}'),
            ("single quotes", "{'lastName':'x'}"),
            ("unquoted key", '{lastName:"x"}'),
            ("trailing garbage", '{"lastName":"x"}}'),
            ("two documents", '{"lastName":"x"} {"lastName":"y"}'),
            ("leading zero", '{"lastName":"x","score":01}'),
            ("NaN", '{"lastName":"x","score":NaN}'),
            ("Infinity", '{"lastName":"x","score":Infinity}'),
            ("bad escape", '{"lastName":"\\x41"}'),
            ("short unicode escape", '{"lastName":"\\u12"}'),
            ("unterminated string", '{"lastName":"x'),
            ("missing colon", '{"lastName" "x"}'),
            ("misspelt true", '{"lastName":"x","doNotCall":tru}'),
            ("comment", '/* c */ {"lastName":"x"}'),
            ("byte order mark", b'\xef\xbb\xbf{"lastName":"x"}'),
            ("raw newline in a string", '{"lastName":"a\nb"}'),
            ("colon instead of comma", '{"lastName":"x":"firstName":"y"}'),
            ("plus sign number", '{"lastName":"x","score":+1}'),
            ("hex number", '{"lastName":"x","score":0x10}')]:
        hit(desc, 400, r"JSON", "POST", "/Contact", body=body, ctype=JSON)
    hit("whitespace only: an empty object, lastName required", 400,
        r"lastName", "POST", "/Contact", body=" \r\n\t ", ctype=JSON)
    hit("PUT with a lone brace", 400, r"JSON", "PUT", "/Contact/" + c1,
        body="{", ctype=JSON)
    hit("PATCH with trailing garbage", 400, r"JSON", "PATCH", "/Case/" + case,
        body='{"status":"Closed"} x', ctype=JSON)
    hit("link body cut short", 400, r"JSON", "POST",
        "/Contact/%s/cases" % c1, body='{"id":', ctype=JSON)
    hit("sign-in body cut short", 400, r"JSON", "POST", "/App/session",
        body='{"userName":"agent","password":', ctype=JSON, key=None)
    hit("attachment body cut short", 400, r"JSON", "POST", "/Attachment",
        body='{"name":"a","file":"data:', ctype=JSON)
    hit("searchParams cut short", 400, r"searchParams.*JSON", "GET",
        "/Contact?searchParams=" + urllib.parse.quote('{"where":['))
    hit("token request with broken JSON", 400, r"invalid_request.*JSON",
        "POST", "/oauth2/token", body='{"grant_type":', ctype=JSON, key=None)
    hit("form type carrying a broken JSON object", 400, r"JSON", "POST",
        "/Contact", body='{"lastName":', ctype=FORM)
    C.done()

    # ---- deep nesting -------------------------------------------------------
    C.batch("deep-nesting")
    D = 10000
    # A body that is not an object is refused before it is parsed.
    hit("arrays 10,000 deep", 400, r"must be a JSON object", "POST",
        "/Contact", body="[" * D + "]" * D, ctype=JSON)
    hit("objects 10,000 deep", 400, r"nested too deeply", "POST", "/Contact",
        body='{"a":' * D + "1" + "}" * D, ctype=JSON)
    hit("10,000 deep inside a valid contact", 400, r"nested too deeply",
        "POST", "/Contact", body='{"lastName":"x","d":' + "[" * D + "]" * D +
        "}", ctype=JSON)
    hit("10,000 opening brackets, never closed", 400,
        r"must be a JSON object", "POST", "/Contact", body="[" * D,
        ctype=JSON)
    hit("10,000 opening brackets in an object, never closed", 400,
        r"nested too deeply", "POST", "/Contact", body='{"a":' + "[" * D,
        ctype=JSON)
    hit("33 deep: one past the limit", 400, r"nested too deeply", "POST",
        "/Contact", body='{"a":' * 33 + "1" + "}" * 33, ctype=JSON)
    hit("32 deep: within the limit, reaches validation", 400, r"lastName",
        "POST", "/Contact", body='{"a":' * 32 + "1" + "}" * 32, ctype=JSON)
    hit("PUT 10,000 deep", 400, r"nested too deeply", "PUT", "/Case/" + case,
        body='{"name":' + "[" * D + "]" * D + "}", ctype=JSON)
    hit("link ids 10,000 deep", 400, r"nested too deeply", "POST",
        "/Contact/%s/cases" % c1, body='{"ids":' + "[" * D + "]" * D + "}",
        ctype=JSON)
    # Sign-in and token bodies stay under max_login_body (8 KiB).
    hit("sign-in 3,000 deep", 400, r"nested too deeply", "POST",
        "/App/session", body='{"userName":' + "[" * 3000 + "]" * 3000 + "}",
        ctype=JSON, key=None)
    hit("token request 3,000 deep", 400, r"invalid_request", "POST",
        "/oauth2/token", body='{"grant_type":' + "[" * 3000 + "]" * 3000 +
        "}", ctype=JSON, key=None)
    hit("sign-in 10,000 deep: over max_login_body", 413, r"too large",
        "POST", "/App/session", body="[" * D + "]" * D, ctype=JSON, key=None)
    hit("searchParams 9,000 deep", 400, r"searchParams.*nested too deeply",
        "GET", "/Contact?searchParams={%22where%22:" + "[" * 9000 +
        "]" * 9000 + "}")
    hit("searchParams an array", 400, r"searchParams must be a JSON object",
        "GET", "/Contact?searchParams=" + "[" * 10 + "]" * 10)
    hit("query brackets 17 deep", 400, r"nesting is too deep", "GET",
        "/Contact?a" + "[x]" * 17 + "=1")
    hit("query brackets 300 deep", 400, r"nesting is too deep", "GET",
        "/Contact?where" + "[]" * 300 + "=1")
    hit("query brackets 5,000 deep", 400, r"name is too long", "GET",
        "/Contact?where" + "[]" * 5000 + "=1")
    hit("form body brackets 400 deep", 400, r"nesting is too deep", "POST",
        "/Contact", body="lastName" + "[]" * 400 + "=x", ctype=FORM)
    nest = {"type": "isNull", "attribute": "id"}
    for _ in range(11):
        nest = {"type": "and", "value": [nest]}
    hit("where 11 levels of and", 400, r"Where is nested too deeply", "GET",
        "/Contact?searchParams=" + urllib.parse.quote(json.dumps(
            {"where": [nest]})))
    C.done()

    # ---- JSON scalars and arrays as bodies --------------------------------
    C.batch("scalar-bodies")
    for desc, body in [("number", "1"), ("negative zero", "-0"),
                       ("string", '"lastName"'), ("true", "true"),
                       ("false", "false"), ("null", "null"),
                       ("empty array", "[]"),
                       ("array of a contact", '[{"lastName":"x"}]'),
                       ("exponent", "1e5"), ("empty string", '""')]:
        hit("POST " + desc, 400, r"must be a JSON object", "POST", "/Contact",
            body=body, ctype=JSON)
    hit("PUT an array", 400, r"must be a JSON object", "PUT", "/Contact/" + c1,
        body='[{"lastName":"y"}]', ctype=JSON)
    hit("link body a bare id string", 400, r"must be a JSON object", "POST",
        "/Contact/%s/cases" % c1, body='"%s"' % case, ctype=JSON)
    hit("attachment body an array", 400, r"must be a JSON object", "POST",
        "/Attachment", body="[1,2,3]", ctype=JSON)
    hit("sign-in body null", 400, r"must be a JSON object", "POST",
        "/App/session", body="null", ctype=JSON, key=None)
    hit("POST /Case a number", 400, r"must be a JSON object", "POST", "/Case",
        body="42", ctype=JSON)
    C.done()

    # ---- huge numbers -----------------------------------------------------
    C.batch("huge-numbers")
    big = str(2 ** 70)
    for desc, v, word in [
            ("1e400", "1e400", r"out of range"),
            ("-1e400", "-1e400", r"out of range"),
            ("1e309 in a text field", None, r"out of range"),
            ("2^70 in an int field", big, r"score"),
            ("2^70 as a string in an int field", '"%s"' % big, r"score"),
            ("-2^63-1 in an int field", "-9223372036854775809", r"score"),
            ("2^63 in an int field", "9223372036854775808", r"score"),
            ("1e19 in an int field", "1e19", r"score"),
            ("-1e19 in an int field", "-1e19", r"score"),
            ("65 digits", "1" * 65, r"too long"),
            ("10,000 digits", "1" + "0" * 10000, r"too long"),
            ("1.5 in an int field", "1.5", r"score")]:
        body = ('{"lastName":"Num","score":%s}' % v if v is not None else
                '{"lastName":1e309}')
        hit(desc, 400, word, "POST", "/Contact", body=body, ctype=JSON)
    hit("-0 in a bool field", 400, r"doNotCall", "POST", "/Contact",
        body='{"lastName":"Num","doNotCall":-0}', ctype=JSON)
    hit("PUT 2^70 into an int field", 400, r"score", "PUT", "/Contact/" + c1,
        body='{"score":%s}' % big, ctype=JSON)
    hit("form body 2^70 into an int field", 400, r"score", "POST",
        "/Contact", body="lastName=Num&score=" + big, ctype=FORM)
    for desc, q, word in [
            ("maxSize=2^70", "maxSize=" + big, r"maxSize"),
            ("maxSize=-0", "maxSize=-0", r"maxSize"),
            ("maxSize=1e400", "maxSize=1e400", r"maxSize"),
            ("offset=10^23", "offset=" + "1" + "0" * 23, r"offset"),
            ("offset=-1", "offset=-1", r"offset"),
            ("lastXDays 1e400", "where[0][type]=lastXDays&where[0][attribute]="
             "createdAt&where[0][value]=1e400", r"number of days"),
            ("lastXDays 2^70", "where[0][type]=lastXDays&where[0][attribute]="
             "createdAt&where[0][value]=" + big, r"number of days"),
            ("searchParams maxSize 1e400", "searchParams=" + urllib.parse.quote(
                '{"maxSize":1e400}'), r"out of range"),
            ("searchParams maxSize 2^70", "searchParams=" + urllib.parse.quote(
                '{"maxSize":%s}' % big), r"maxSize")]:
        hit(desc, 400, word, "GET", "/Contact?" + q)
    C.done()

    # ---- invalid UTF-8 ----------------------------------------------------
    C.batch("invalid-utf8")
    for desc, bad in [("0xff byte", b"\xff"), ("lone continuation", b"\x80"),
                      ("overlong slash", b"\xc0\xaf"),
                      ("surrogate", b"\xed\xa0\x80"),
                      ("above U+10FFFF", b"\xf4\x90\x80\x80"),
                      ("truncated sequence", b"\xe2\x82"),
                      ("5-byte form", b"\xf8\x88\x80\x80\x80")]:
        hit("body string: " + desc, 400, r"UTF-?8", "POST", "/Contact",
            body=b'{"lastName":"x' + bad + b'"}', ctype=JSON)
    hit("body key", 400, r"UTF-?8", "POST", "/Contact",
        body=b'{"lastName":"x","\xc3\x28":1}', ctype=JSON)
    hit("escaped lone low surrogate", 400, r"UTF-?8", "POST", "/Contact",
        body=b'{"lastName":"\\udc00"}', ctype=JSON)
    hit("PUT body string", 400, r"UTF-?8", "PUT", "/Case/" + case,
        body=b'{"name":"\xfe"}', ctype=JSON)
    hit("form body, percent-encoded", 400, r"UTF-8", "POST", "/Contact",
        body="lastName=%ff", ctype=FORM)
    hit("form body, raw", 400, r"UTF-8", "POST", "/Contact",
        body=b"lastName=\xc0\xaf", ctype=FORM)
    hit("query value", 400, r"UTF-8", "GET", "/Contact?q=%ff")
    hit("query where value", 400, r"UTF-8", "GET",
        "/Contact?where[0][type]=equals&where[0][attribute]=lastName"
        "&where[0][value]=%c0%af")
    hit("query key", 400, r"UTF-8", "GET", "/Contact?%ff=1")
    hit("query raw byte", 400, r"UTF-8", "GET", b"/Contact?q=\xfe")
    hit("searchParams JSON string", 400, r"UTF-8", "GET",
        "/Contact?searchParams=" + urllib.parse.quote(b'{"q":"\xff"}'))
    hit("path id", 400, r"not UTF-8", "GET", "/Contact/%ff%fe")
    hit("path id, raw bytes", 400, r"not UTF-8", "GET", b"/Contact/\xff\xfe")
    hit("path entity", 400, r"not UTF-8", "GET", "/%ff%fe")
    hit("path link", 400, r"not UTF-8", "GET", "/Contact/%s/%%c0%%af" % c1)
    hit("X-Api-Key", 401, r"API key", "GET", "/App/user", key=b"\xff\xfe")
    hit("Bearer token", 403, r"token", "GET", "/App/user", key=None,
        headers=[("Authorization", b"Bearer \xff\xfe\xfd")])
    hit("Basic credentials", 403, r"username or password", "GET", "/App/user",
        key=None, headers=[("Authorization", "Basic " + b64(b"\xff:\xfe"))])
    hit("Espo-Authorization", 401, r"username or password", "GET", "/App/user",
        key=None, headers=[("Espo-Authorization", b64(b"agent\xff:x"))])
    hit("X-Hmac-Authorization", 401, r"HMAC", "GET", "/App/user", key=None,
        headers=[("X-Hmac-Authorization", b"\xff\xfe")])
    hit("Content-Type", 415, r"content type", "POST", "/Contact",
        body='{"lastName":"x"}', ctype=b"application/\xff\xfe")
    hit("session cookie", 401, r"Session", "GET", "/App/user", key=None,
        headers=[("Cookie", b"fastcrm_session=\xff\xfe")])
    hit("X-CSRF-Token", 403, r"CSRF", "POST", "/Contact", key=None,
        body='{"lastName":"x"}', ctype=JSON,
        headers=[("Cookie", "fastcrm_session=" + sess["tok"]),
                 ("X-CSRF-Token", b"\xff" * 64)])
    hit("oauth2 client_id", 400, r"UTF-8", "GET",
        "/oauth2/authorize?response_type=code&client_id=%ff", key=None)
    hit("multipart filename", 400, r"UTF-8", "POST",
        "/Call/%s/recording" % call, ctype="multipart/form-data; boundary=B",
        body=mp(b"B", [(b'Content-Disposition: form-data; name="f"; '
                        b'filename="\xff\xfe.wav"\r\nContent-Type: audio/wav',
                        b"RIFFdata")]))
    hit("attachment name", 400, r"UTF-?8", "POST", "/Attachment", ctype=JSON,
        body=b'{"name":"\xff.txt","file":"data:text/plain;base64,eA=="}')
    C.done()

    # ---- NUL bytes ----------------------------------------------------------
    C.batch("nul-bytes")
    hit("raw NUL inside a JSON string", 400, r"JSON", "POST", "/Contact",
        body=b'{"lastName":"a\x00b"}', ctype=JSON)
    hit("raw NUL after the JSON", 400, r"JSON", "POST", "/Contact",
        body=b'{"lastName":"a"}\x00', ctype=JSON)
    hit("raw NUL before the JSON", 400, r"JSON", "POST", "/Contact",
        body=b'\x00{"lastName":"a"}', ctype=JSON)
    hit("\\u0000 in a value", 400, r"NUL", "POST", "/Contact",
        body='{"lastName":"a\\u0000b"}', ctype=JSON)
    hit("\\u0000 in a key", 400, r"NUL", "POST", "/Contact",
        body='{"lastName":"a","x\\u0000":1}', ctype=JSON)
    hit("\\u0000 in a PUT", 400, r"NUL", "PUT", "/Contact/" + c1,
        body='{"firstName":"\\u0000"}', ctype=JSON)
    hit("\\u0000 in an attachment name", 400, r"NUL", "POST", "/Attachment",
        ctype=JSON, body='{"name":"a\\u0000.txt","file":"data:text/plain;'
        'base64,eA=="}')
    hit("%00 in a form body", 400, r"NUL", "POST", "/Contact",
        body="lastName=a%00b", ctype=FORM)
    hit("raw NUL in a form body", 400, r"NUL", "POST", "/Contact",
        body=b"lastName=a\x00b", ctype=FORM)
    hit("raw NUL in the path", 400, r"malformed", "GET", b"/Contact/a\x00b")
    hit("%00 in the path", 400, r"malformed", "GET", "/Contact/%00")
    hit("%00 inside an id", 400, r"malformed", "DELETE",
        "/Contact/%s%%00" % c1)
    hit("%00 in the entity", 400, r"malformed", "GET", "/Contact%00")
    hit("%00 in a query value", 400, r"NUL", "GET", "/Contact?q=a%00")
    hit("%00 in a query key", 400, r"NUL", "GET", "/Contact?q%00=a")
    hit("%00 in a where attribute", 400, r"NUL", "GET",
        "/Contact?where[0][type]=isNull&where[0][attribute]=last%00Name")
    hit("raw NUL in the query", 400, r"malformed", "GET", b"/Contact?q=a\x00")
    hit("raw NUL in a header value", 400, r"malformed", "GET", "/Contact",
        lines=[b"X-Note: a\x00b"])
    hit("raw NUL in X-Api-Key", 400, r"malformed", "GET", "/App/user",
        key=s.key.encode() + b"\x00")
    hit("NUL inside Basic credentials", 403, r"Basic", "GET", "/App/user",
        key=None, headers=[("Authorization", "Basic " + b64(b"agent\x00:" +
                                                            PW.encode()))])
    hit("NUL inside Espo-Authorization", 400, r"authorization string", "GET",
        "/App/user", key=None,
        headers=[("Espo-Authorization", b64(b"agent\x00x:" + PW.encode()))])
    hit("NUL in a multipart filename", 400, r"no file part", "POST",
        "/Call/%s/recording" % call, ctype="multipart/form-data; boundary=B",
        body=mp(b"B", [(b'Content-Disposition: form-data; name="f"; '
                        b'filename="a\x00b.wav"', b"RIFF")]))
    hit("%00 in a recording name", 400, r"NUL", "POST",
        "/Call/%s/recording?name=a%%00.wav" % call, ctype="audio/wav",
        body=b"RIFF")
    C.done()

    # ---- overlong headers -------------------------------------------------
    C.batch("overlong-headers")
    for desc, hdr in [("X-Api-Key of 40,000", ("X-Api-Key", "k" * 40000)),
                      ("Cookie of 40,000", ("Cookie", "c=" + "v" * 40000)),
                      ("Authorization of 33,000",
                       ("Authorization", "Bearer " + "t" * 33000)),
                      ("X-Hmac-Authorization of 64,000",
                       ("X-Hmac-Authorization", "h" * 64000)),
                      ("Content-Type of 40,000",
                       ("Content-Type", "application/json;" + "x" * 40000))]:
        hit(desc, 400, r"header is too large", "GET", "/Contact", key=None,
            headers=[hdr])
    hit("nine headers of 31,000", 400, r"header is too large", "GET",
        "/Contact", headers=[("X-Pad-%d" % i, "p" * 31000) for i in range(9)])
    hit("X-Api-Key of 29,000: one line too long", 400,
        r"header is too large", "GET", "/App/user", key="k" * 29000)
    hit("three headers of 22,000: the whole head too large", 400,
        r"header is too large", "GET", "/App/user",
        headers=[("Cookie", "c=" + "v" * 22000),
                 ("Authorization", "Bearer " + "t" * 22000),
                 ("X-Pad", "p" * 22000)])
    hit("20,000 tiny headers", 400, r"header is too large", "GET", "/Contact",
        lines=[b"a: b"] * 20000)
    hit("path of 40,000", 414, r"URI is too long", "GET",
        "/Contact/" + "a" * 40000)
    hit("query of 40,000", 414, r"URI is too long", "GET",
        "/Contact?q=" + "a" * 40000)
    W = 27000
    hit("X-Api-Key of 27,000 (within)", 401, r"API key", "GET", "/App/user",
        key="k" * W)
    hit("Bearer of 27,000 (within)", 403, r"token", "GET", "/App/user",
        key=None, headers=[("Authorization", "Bearer " + "t" * W)])
    hit("Basic of 27,000 (within)", 403, r"username or password", "GET",
        "/App/user", key=None,
        headers=[("Authorization", "Basic " + b64("agent:" + "p" * 20000))])
    hit("Espo-Authorization of 27,000 (within)", 400, r"authorization string",
        "GET", "/App/user", key=None,
        headers=[("Espo-Authorization", b64("x" * 20000))])
    hit("X-Hmac-Authorization of 27,000 (within)", 401, r"HMAC", "GET",
        "/App/user", key=None,
        headers=[("X-Hmac-Authorization", b64(HMAC_KEY + ":" + "0" * 20000))])
    hit("session cookie of 27,000 (within)", 401, r"Session", "GET",
        "/App/user", key=None, headers=[("Cookie", "fastcrm_session=" + "f" * W)])
    hit("Content-Type of 27,000 (within)", 415, r"content type", "POST",
        "/Contact", body='{"lastName":"x"}', ctype="text/" + "x" * W)
    hit("X-CSRF-Token of 27,000 (within)", 403, r"CSRF", "POST", "/Contact",
        key=None, body='{"lastName":"x"}', ctype=JSON,
        headers=[("Cookie", "fastcrm_session=" + sess["tok"]),
                 ("X-CSRF-Token", "c" * W)])
    hit("id of 27,000 (within)", 404, r"not found", "GET", "/Contact/" + "a" * W)
    hit("id of 27,000 and two headers of 14,000 (within)", 404, r"not found",
        "GET", "/Contact/" + "a" * W, headers=[("Cookie", "c=" + "v" * 14000),
                                               ("X-Csrf-Token", "c" * 14000)])
    hit("two credential headers of 27,000 (within)", 401, r"API key", "GET",
        "/App/user", key="k" * W, headers=[("Cookie", "c=" + "v" * W)])
    hit("query name of 27,000 (within)", 400, r"name is too long", "GET",
        "/Contact?" + "n" * W + "=1")
    hit("where attribute of 27,000 (within)", 400, r"Not existing attribute",
        "GET", "/Contact?where[0][type]=isNull&where[0][attribute]=" + "a" * W)
    C.done()

    # ---- many where items -------------------------------------------------
    C.batch("many-where-items")
    q = "&".join("where[%d][type]=isNull&where[%d][attribute]=id" % (i, i)
                 for i in range(100000))
    hit("100,000 where items in the query (5 MB)", 414, r"URI is too long",
        "GET", "/Contact?" + q)
    q = "&".join("where[%d][type]=isNull&where[%d][attribute]=id" % (i, i)
                 for i in range(510))
    t.ok(len(q) < 26000, "510 where items fit the 28 KiB request line (%d)"
         % len(q))
    hit("510 where items in the query (1,020 parameters)", 400,
        r"Too many query parameters", "GET", "/Contact?" + q)
    item = urllib.parse.quote('{"type":"isNull","attribute":"id"}', safe="{}:,")
    q = "searchParams=%7B%22where%22:[" + ",".join([item] * 501) + "]}"
    t.ok(len(q) < 26000, "501 where items in searchParams fit (%d)" % len(q))
    hit("501 where items in searchParams", 400, r"Too many where items", "GET",
        "/Contact?" + q)
    orq = urllib.parse.quote(json.dumps({"where": [{"type": "or", "value": [
        {"type": "isNull", "attribute": "id"}] * 501}]},
        separators=(",", ":")), safe="{}:,[]")
    hit("501 items under one or", 400, r"Too many where items", "GET",
        "/Contact?searchParams=" + orq)
    ids = json.dumps({"ids": ["0"] * 100000}, separators=(",", ":"))
    hit("201 ids in a link body", 400, r"Too many ids", "POST",
        "/Contact/%s/cases" % c1, body=json.dumps({"ids": ["0"] * 201}),
        ctype=JSON)
    hit("100,000 ids in a link body", 400, r"array is too long", "POST",
        "/Contact/%s/cases" % c1, body=ids, ctype=JSON)
    hit("100,000 ids in an unlink body", 400, r"array is too long",
        "DELETE", "/Contact/%s/cases" % c1, body=ids, ctype=JSON)
    hit("100,000 phone numbers in a body", 400, r"array is too long", "POST",
        "/Contact", ctype=JSON, body=json.dumps({
            "lastName": "Many", "phoneNumberData": [{}] * 100000},
            separators=(",", ":")))
    hit("100,000 keys in one object", 400, r"too many keys", "POST", "/Contact",
        ctype=JSON, body=json.dumps(dict([("lastName", "Keys")] + [
            (base36(i), 0) for i in range(100000)]), separators=(",", ":")))
    hit("100,000 form parameters in a body", 400, r"Too many query parameters",
        "POST", "/Contact", ctype=FORM,
        body="lastName=Form&" + "&".join("x%d=1" % i for i in range(100000)))
    C.done()

    # ---- unknown where types and keys, bad list parameters -------------
    C.batch("where-and-list-params")
    W0 = "/Contact?where[0][type]=%s&where[0][attribute]=%s"
    for desc, path, status, word in [
            ("unknown type", W0 % ("frobnicate", "lastName"), 400,
             r"Unknown where type"),
            ("type in the wrong case", W0 % ("EQUALS", "lastName") +
             "&where[0][value]=x", 400, r"Unknown where type"),
            ("type with SQL", W0 % ("equals%27%20OR%201=1--", "lastName"), 400,
             r"Unknown where type"),
            ("unknown key in an item", W0 % ("isNull", "lastName") +
             "&where[0][sql]=1", 400, r"Unknown key 'sql'"),
            ("unknown attribute", W0 % ("isNull", "nope"), 400,
             r"Not existing attribute 'nope'"),
            ("secret attribute", "/User?where[0][type]=isNull&where[0]"
             "[attribute]=password", 400, r"Not existing attribute"),
            ("no type", "/Contact?where[0][attribute]=lastName", 400,
             r"no type"),
            ("no attribute", "/Contact?where[0][type]=equals&where[0][value]=x",
             400, r"needs an attribute"),
            ("where a string", "/Contact?where=lastName", 400, r"Bad where"),
            ("item a string", "/Contact?where[0]=lastName", 400,
             r"not an object"),
            ("index not a number", "/Contact?where[x][type]=isNull&where[x]"
             "[attribute]=id", 400, r"Bad where"),
            ("negative index", "/Contact?where[-1][type]=isNull&where[-1]"
             "[attribute]=id", 400, r"Bad where"),
            ("in without values", W0 % ("in", "lastName"), 400,
             r"needs a list of values"),
            ("between with one value", W0 % ("between", "createdAt") +
             "&where[0][value][]=2020-01-01", 400, r"needs two values"),
            ("lastXDays not a number", W0 % ("lastXDays", "createdAt") +
             "&where[0][value]=abc", 400, r"number of days"),
            ("lastXDays negative", W0 % ("lastXDays", "createdAt") +
             "&where[0][value]=-5", 400, r"number of days"),
            ("and with a scalar", "/Contact?where[0][type]=and&where[0][value]=x",
             400, r"list of items"),
            ("linkedWith an unknown link", W0 % ("linkedWith", "nolink") +
             "&where[0][value]=x", 400, r"Not existing attribute"),
            ("linkedWith without ids", W0 % ("linkedWith", "accounts"), 400,
             r"needs an id"),
            ("equals with an object value", W0 % ("equals", "lastName") +
             "&where[0][value][a]=b", 400, r"needs a value"),
            ("searchParams where an object", "/Contact?searchParams=" +
             urllib.parse.quote('{"where":{"type":"isNull"}}'), 400,
             r"Bad where"),
            ("orderBy unknown", "/Contact?orderBy=nope", 400, r"orderBy"),
            ("orderBy a secret", "/User?orderBy=password", 400, r"orderBy"),
            ("order sideways", "/Contact?orderBy=lastName&order=sideways", 400,
             r"asc or desc"),
            ("maxSize not a number", "/Contact?maxSize=ten", 400, r"maxSize"),
            ("maxSize as an array", "/Contact?maxSize[]=1", 400, r"maxSize"),
            ("maxSize 201", "/Contact?maxSize=201", 403, r"Max size"),
            ("primaryFilter unknown", "/Case?primaryFilter=nope", 400,
             r"primaryFilter"),
            ("primaryFilter on Contact", "/Contact?primaryFilter=open", 400,
             r"primaryFilter"),
            ("searchParams not JSON", "/Contact?searchParams=nope", 400,
             r"searchParams"),
            ("searchParams an array", "/Contact?searchParams=%5B1%5D", 400,
             r"JSON object"),
            ("where on a related list", "/Contact/%s/cases?where[0][type]="
             "bogus&where[0][attribute]=name" % c1, 400, r"Unknown where type"),
            ("unknown entity", "/Frobnicate", 404, r"Controller 'Frobnicate'"),
            ("unknown link", "/Contact/%s/nolink" % c1, 404, r"Link 'nolink'"),
            ("too many path segments", "/Contact/a/b/c/d/e/f/g/h/i", 404,
             r"too many segments")]:
        hit(desc, status, word, "GET", path)
    C.done()

    # ---- path tricks in ids -----------------------------------------------
    C.batch("path-tricks")
    NF = r"not found|No route|Controller|Link"
    SEG = r"Path segment"

    def trick(tid):
        """What a path segment tid gets: 400 when it is a dot segment or
        decodes to hold '/', '\\' or NUL (the raw path is routed), else
        404 for an id that names no record."""
        d = urllib.parse.unquote(tid)
        if "\0" in d:  # nginx refuses an encoded NUL itself
            return 400, r"malformed|" + SEG
        if d in (".", "..") or any(c in d for c in "/\\\0"):
            return 400, SEG
        return 404, NF
    tricks = ["..", "..%2f..%2ffastcrm.yaml", "%2e%2e",
              "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%252e%252e%252f",
              "....%2f%2f", "..%5c..%5cfastcrm.yaml", "x%2fy", "x%2f..%2f..",
              "a" * 5000, "%C3%A9t%C3%A9", "%F0%9F%93%9E", c1.upper(),
              c1[:-1], c1 + "0", "%20" + c1, c1 + "%0d%0aX-Injected:%201",
              "*", "%25", seed["case"], seed["gone"]]
    for tid in tricks:
        hit("GET Contact id %s" % tid[:40], *trick(tid), "GET",
            "/Contact/" + tid)
    for tid in ["..", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5c..%5cfastcrm.yaml",
                "a" * 5000, "%C3%A9t%C3%A9", c1.upper(), seed["case"],
                seed["gone"]]:
        hit("PUT Contact id %s" % tid[:40], *trick(tid), "PUT",
            "/Contact/" + tid, body='{"lastName":"Overwritten"}', ctype=JSON)
        hit("DELETE Contact id %s" % tid[:40], *trick(tid), "DELETE",
            "/Contact/" + tid)
    for tid in ["..%2f..%2ffastcrm.yaml", "%2e%2e%2f%2e%2e%2ffastcrm.yaml",
                ".tmp-0000", seed["c1"], seed["rec"] + "%2f..",
                seed["rec"] + "%00"]:
        hit("GET Attachment file %s" % tid[:40], *trick(tid), "GET",
            "/Attachment/file/" + tid)
    hit("the internal location directly", 404, r"Not found", "GET",
        "/_attachments/" + seed["rec"])
    hit("the internal location with ..", 400, SEG, "GET",
        "/_attachments/..%2ffastcrm.yaml")
    hit("recording for a Call id ..", 400, SEG, "POST",
        "/Call/%2e%2e/recording", ctype="audio/wav", body=b"RIFF")
    hit("recording for a Call id of 5,000", 404, r"not found", "POST",
        "/Call/%s/recording" % ("b" * 5000), ctype="audio/wav", body=b"RIFF")
    hit("recording for a Contact id", 404, r"not found", "POST",
        "/Call/%s/recording" % c1, ctype="audio/wav", body=b"RIFF")
    hit("link to ids with ..", 403, r"does not exist", "POST",
        "/Contact/%s/cases" % c1, ctype=JSON,
        body='{"ids":["../../%s"]}' % case)
    hit("link to an id with NUL", 400, r"NUL", "POST", "/Contact/%s/cases" % c1,
        ctype=JSON, body='{"id":"%s\\u0000"}' % case)
    hit("link ids not strings", 400, r"must be strings", "POST",
        "/Contact/%s/cases" % c1, ctype=JSON, body='{"ids":[1,2]}')
    hit("link from a path-trick id", 404, r"not found", "POST",
        "/Contact/%2e%2e%2e/cases", ctype=JSON, body='{"id":"%s"}' % case)
    hit("attachment parent id with ..", 403, r"does not exist", "POST",
        "/Attachment", ctype=JSON, body=json.dumps({
            "name": "x.txt", "parentType": "Contact", "parentId": "../" + c1,
            "file": "data:text/plain;base64,eA=="}))
    hit("attachment parent type with ..", 400, r"parentType", "POST",
        "/Attachment", ctype=JSON, body=json.dumps({
            "name": "x.txt", "parentType": "../Contact", "parentId": c1,
            "file": "data:text/plain;base64,eA=="}))
    hit("attachment file not a data URL", 400, r"data: URL", "POST",
        "/Attachment", ctype=JSON, body=json.dumps({
            "name": "x.txt", "file": "file:///etc/passwd"}))
    hit("attachment file bad base64", 400, r"base64", "POST", "/Attachment",
        ctype=JSON, body=json.dumps({"name": "x.txt",
                                     "file": "data:text/plain;base64,!!!"}))
    hit("contactId with ..", 403, r"does not exist|not found", "POST", "/Case",
        ctype=JSON, body=json.dumps({"name": "x", "contactId": "../" + c1}))
    # The review's forms: an encoded slash walks to another route.
    acct = seed.get("account") or seed["c1"]
    hit("DELETE Account zz%2f..%2f{id}", 400, SEG, "DELETE",
        "/Account/zz%2f..%2f" + acct)
    hit("PUT Case x%2f..%2f..%2fContact%2f{id}", 400, SEG, "PUT",
        "/Case/x%2f..%2f..%2fContact%2f" + c1,
        body='{"lastName":"Overwritten"}', ctype=JSON)
    hit("GET Case x%2f..%2f..%2fUser", 400, SEG, "GET",
        "/Case/x%2f..%2f..%2fUser")
    hit("GET Attachment file ..%2f..%2fContact%2f{id}", 400, SEG, "GET",
        "/Attachment/file/..%2f..%2fContact%2f" + c1)
    hit("GET Case/../User (raw dot segment)", 400, SEG, "GET",
        "/Case/../User")
    hit("GET Case/%2e%2e/User", 400, SEG, "GET", "/Case/%2e%2e/User")
    hit("GET Contact id%5c", 400, SEG, "GET", "/Contact/%s%%5c" % c1)
    C.done()

    # ---- wrong methods on every route, wrong content types -------------
    C.batch("wrong-methods")
    for m, p in [("POST", "/"), ("PUT", "/"), ("DELETE", "/"), ("PATCH", "/"),
                 ("PUT", "/oauth2/authorize"), ("DELETE", "/oauth2/authorize"),
                 ("GET", "/oauth2/token"), ("PUT", "/oauth2/token"),
                 ("DELETE", "/oauth2/token"),
                 ("POST", "/App/user"), ("PUT", "/App/user"),
                 ("DELETE", "/App/user"), ("GET", "/App/session"),
                 ("PUT", "/App/session"), ("PATCH", "/App/session"),
                 ("GET", "/Call/%s/recording" % call),
                 ("PUT", "/Call/%s/recording" % call),
                 ("DELETE", "/Call/%s/recording" % call),
                 ("PUT", "/Attachment"), ("DELETE", "/Attachment"),
                 ("POST", "/Attachment/file/" + seed["rec"]),
                 ("PUT", "/Attachment/file/" + seed["rec"]),
                 ("DELETE", "/Attachment/file/" + seed["rec"]),
                 ("DELETE", "/Contact"), ("PUT", "/Contact"), ("PATCH", "/Case"),
                 ("POST", "/Contact/" + c1), ("POST", "/Case/" + case),
                 ("POST", "/Case/%s/stream" % case),
                 ("DELETE", "/Case/%s/stream" % case),
                 ("PUT", "/Contact/%s/cases" % c1),
                 ("PATCH", "/Contact/%s/cases" % c1),
                 ("OPTIONS", "/Contact"), ("PROPFIND", "/Contact/" + c1),
                 ("FOO", "/App/user"), ("TRACE", "/Contact"),
                 ("HEAD", "/Contact")]:
        hit("%s %s" % (m, p[:40]), 405, r"not allowed|needs a record id",
            m, p, body="{}" if m in ("POST", "PUT", "PATCH") else None,
            ctype=JSON if m in ("POST", "PUT", "PATCH") else None,
            check=has_allow if m != "TRACE" else None)
    C.batch("wrong-content-types")
    for ct in ["text/xml", "application/xml", "multipart/form-data; boundary=x",
               "application/octet-stream", "image/png", "text/html",
               "application/json-patch+json", "applicaton/json",
               "application/jsonx", "application/x-www-form-urlencodedx"]:
        hit("POST Contact as %s" % ct, 415, r"content type", "POST", "/Contact",
            body='{"lastName":"Typed"}', ctype=ct)
    hit("PUT Contact as text/csv", 415, r"content type", "PUT", "/Contact/" + c1,
        body="lastName\nX", ctype="text/csv")
    hit("link as application/xml", 415, r"content type", "POST",
        "/Contact/%s/cases" % c1, body="<id/>", ctype="application/xml")
    hit("attachment as multipart", 415, r"content type", "POST", "/Attachment",
        body=mp(b"B", [(FILEHDR, b"RIFF")]),
        ctype="multipart/form-data; boundary=B")
    hit("sign-in as text/xml", 415, r"content type", "POST", "/App/session",
        body="<x/>", ctype="text/xml", key=None)
    hit("token as application/xml", 400, r"invalid_request.*content type",
        "POST", "/oauth2/token", body="<x/>", ctype="application/xml",
        key=None)
    hit("authorize as application/xml", 400, r"content type", "POST",
        "/oauth2/authorize", body="<x/>", ctype="application/xml", key=None)
    for ct in ["text/plain", "application/json", "image/png", None]:
        hit("recording as %s" % ct, 415, r"recording is sent as", "POST",
            "/Call/%s/recording" % call, body=b"RIFFdata", ctype=ct)
    C.done()

    # ---- oversized bodies, broken framing ----------------------------------
    C.batch("oversized")
    hit("JSON body of max_body + 1", 413, r"too large", "POST", "/Contact",
        body=b'{"lastName":"' + b"x" * (MAX_BODY - 13) + b'"}', ctype=JSON)
    hit("just within max_body reaches fastcrm", 400, r"JSON", "POST",
        "/Contact", body=b'{"lastName":"' + b"x" * (MAX_BODY - 14), ctype=JSON)
    hit("Content-Length of 10 GB, no body", 413, r"too large", "POST",
        "/Contact", ctype=JSON, lines=[b"Content-Length: 10737418240"])
    hit("Content-Length of 2^64", (400, 413), r"too large|malformed", "POST",
        "/Contact", ctype=JSON, lines=[b"Content-Length: 18446744073709551616"])
    chunk = b"x" * 65536
    chunked = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    hit("chunked body beyond max_body", 413, r"too large", "POST", "/Contact",
        ctype=JSON, body=chunked, length=False,
        lines=[b"Transfer-Encoding: chunked"])
    hit("recording of max_body + 4 KiB", 413, r"too large", "POST",
        "/Call/%s/recording" % call, ctype="audio/wav",
        body=b"R" * (MAX_BODY + 4096))
    hit("attachment of max_body + 4 KiB", 413, r"too large", "POST",
        "/Attachment", ctype=JSON, body=b'{"file":"data:text/plain;base64,' +
        b"QUFB" * (MAX_BODY // 4 + 1024) + b'"}')
    hit("multipart recording of max_body + 4 KiB", 413, r"too large",
        "POST", "/Call/%s/recording" % call,
        ctype="multipart/form-data; boundary=B",
        body=mp(b"B", [(FILEHDR, b"R" * (MAX_BODY + 4096))]))
    C.batch("framing")
    hit("TRACE", 405, r"not allowed", "TRACE", "/Contact")
    hit("plain HTTP on the TLS port", 400, r"HTTP", "GET", "/Contact",
        tls=False)
    hit("Transfer-Encoding gzip", (400, 501), r"Transfer-Encoding", "POST",
        "/Contact", ctype=JSON, body=b"", length=False,
        lines=[b"Transfer-Encoding: gzip"])
    hit("HTTP/2.0 in a text request line", (400, 505), r"HTTP version",
        "GET", "/Contact", version=b"HTTP/2.0")
    hit("HTTP/9.9", (400, 505), r"HTTP version", "GET", "/App/user",
        version=b"HTTP/9.9")
    hit("Content-Length and chunked together", 400, r"malformed", "POST",
        "/Contact", ctype=JSON, body=b"0\r\n\r\n",
        lines=[b"Transfer-Encoding: chunked"])
    hit("two Content-Length headers", 400, r"malformed", "POST", "/Contact",
        ctype=JSON, body=b'{"lastName":"Dup"}', lines=[b"Content-Length: 3"])
    hit("Content-Length not a number", 400, r"malformed", "POST", "/Contact",
        ctype=JSON, lines=[b"Content-Length: abc"])
    hit("negative Content-Length", 400, r"malformed", "POST", "/Contact",
        ctype=JSON, lines=[b"Content-Length: -1"])
    hit("bad chunk size", 400, r"malformed", "POST", "/Contact", ctype=JSON,
        body=b"zz\r\n{}\r\n0\r\n\r\n", length=False,
        lines=[b"Transfer-Encoding: chunked"])
    hit("lower-case method", 400, r"malformed", "get", "/Contact")
    hit("no Host on HTTP/1.1", 400, r"malformed", "GET", "/Contact",
        host=False)
    hit("two Host headers", 400, r"malformed", "GET", "/Contact",
        lines=[b"Host: evil.example"])
    hit("space in a header name", 400, r"malformed", "GET", "/Contact",
        lines=[b"X Bad: 1"])
    hit("relative request target", 400, r"malformed", "GET", b"api/v1/Contact")
    hit("bare CR in a header value", 400, r"malformed", "GET", "/Contact",
        lines=[b"X-Note: a\rb"])
    C.done()

    # ---- truncated and malformed multipart -------------------------------
    C.batch("multipart")
    rp = "/Call/%s/recording" % call
    MP = "multipart/form-data; boundary="
    B70 = b"b" * 70
    for desc, ctype, body, word in [
            ("boundary missing", "multipart/form-data",
             mp(b"B", [(FILEHDR, b"RIFF")]), r"boundary"),
            ("boundary empty", MP, mp(b"B", [(FILEHDR, b"RIFF")]), r"boundary"),
            ("boundary quote not closed", MP + '"B', mp(b"B", [(FILEHDR,
                                                                b"RIFF")]),
             r"boundary"),
            ("boundary of 71 characters", MP + "b" * 71,
             mp(b"b" * 71, [(FILEHDR, b"RIFF")]), r"boundary"),
            ("boundary of 70, final boundary missing", MP + B70.decode(),
             mp(B70, [(FILEHDR, b"RIFF")], close=False), r"truncated"),
            ("final boundary missing", MP + "B",
             mp(b"B", [(FILEHDR, b"RIFFdata")], close=False), r"truncated"),
            ("cut inside the data", MP + "B",
             b"--B\r\n" + FILEHDR + b"\r\n\r\nRIFFda", r"truncated"),
            ("headers without CRLFCRLF", MP + "B", b"--B\r\n" + FILEHDR,
             r"no file part"),
            ("headers end with one CRLF", MP + "B", b"--B\r\n" + FILEHDR +
             b"\r\n", r"no file part"),
            ("only a field part", MP + "B", mp(b"B", [(
                b'Content-Disposition: form-data; name="note"', b"hi")]),
             r"no file part"),
            ("part without Content-Disposition", MP + "B", mp(b"B", [(
                b"Content-Type: audio/wav", b"RIFF")]),
             r"without Content-Disposition"),
            ("part without headers", MP + "B", b"--B\r\n\r\nRIFF\r\n--B--\r\n",
             r"without headers"),
            ("garbage after the boundary", MP + "B", b"--Bxx\r\n" + FILEHDR +
             b"\r\n\r\nRIFF\r\n--B--\r\n", r"boundary line"),
            ("boundary never appears", MP + "B", b"RIFF" * 100,
             r"no file part"),
            ("only the closing boundary", MP + "B", b"--B--\r\n",
             r"no file part"),
            ("part headers of 9,000 bytes", MP + "B", b"--B\r\n" +
             b"X-Pad: " + b"p" * 9000 + b"\r\n" + FILEHDR + b"\r\n\r\nRIFF"
             b"\r\n--B--\r\n", r"too long"),
            ("empty file part", MP + "B", mp(b"B", [(FILEHDR, b"")]),
             r"Empty recording"),
            ("wrong boundary in the body", MP + "B",
             mp(b"C", [(FILEHDR, b"RIFF")]), r"no file part")]:
        hit(desc, 400, word, "POST", rp, ctype=ctype, body=body)
    hit("Content-Length 0", 400, r"Empty recording", "POST", rp,
        ctype=MP + "B", body=b"")
    hit("raw body empty", 400, r"Empty recording", "POST", rp,
        ctype="audio/wav", body=b"")
    C.done()

    # ---- forged HMAC --------------------------------------------------------
    C.batch("forged-hmac")

    def sig(secret, method, path, digest=hashlib.sha256):
        return hmac.new(b(secret), b("%s %s" % (method, path)),
                        digest).hexdigest()

    good = sig(HMAC_SECRET, "GET", "/Contact")
    for desc, value in [
            ("wrong signature", b64(HMAC_KEY + ":" + "0" * 64)),
            ("unknown key id", b64(make_key()[0] + ":" + good)),
            ("key of a user without a secret", b64(s.key + ":" + sig(
                HMAC_SECRET, "GET", "/Contact"))),
            ("signed for another path", b64(HMAC_KEY + ":" + sig(
                HMAC_SECRET, "GET", "/Case"))),
            ("signed with a stale secret", b64(HMAC_KEY + ":" + sig(
                "the-old-rotated-secret", "GET", "/Contact"))),
            ("signed over the query string", b64(HMAC_KEY + ":" + sig(
                HMAC_SECRET, "GET", "/Contact?maxSize=1"))),
            ("signed with the /api/v1 prefix", b64(HMAC_KEY + ":" + sig(
                HMAC_SECRET, "GET", "/api/v1/Contact"))),
            ("upper-case hex", b64(HMAC_KEY + ":" + good.upper())),
            ("truncated signature", b64(HMAC_KEY + ":" + good[:63])),
            ("signature with extra bytes", b64(HMAC_KEY + ":" + good + "00")),
            ("SHA-1 signature", b64(HMAC_KEY + ":" + sig(
                HMAC_SECRET, "GET", "/Contact", hashlib.sha1))),
            # The binary digest itself is the 0.1.x client's format,
            # accepted (tests/e2e_wire.py); signed wrongly it is not.
            ("binary signature with a wrong secret", b64(HMAC_KEY + ":") +
             b64(hmac.new(b"the-old-rotated-secret", b"GET /Contact",
                          hashlib.sha256).digest())),
            ("binary signature for another path", b64(HMAC_KEY + ":") +
             b64(hmac.new(b(HMAC_SECRET), b"GET /Case",
                          hashlib.sha256).digest())),
            ("no colon", b64(HMAC_KEY + good)),
            ("empty key id", b64(":" + good)),
            ("not base64", "!!!" + good),

            ("unpadded garbage", "QQ")]:
        hit(desc, 401, r"HMAC", "GET", "/Contact", key=None,
            headers=[("X-Hmac-Authorization", value)])
    hit("empty value", 401, r"No credentials", "GET", "/Contact", key=None,
        headers=[("X-Hmac-Authorization", "")])
    hit("GET signature replayed on DELETE", 401, r"HMAC", "DELETE",
        "/Contact/" + c1, key=None, headers=[("X-Hmac-Authorization", b64(
            HMAC_KEY + ":" + sig(HMAC_SECRET, "GET", "/Contact/" + c1)))])
    hit("GET signature replayed on POST", 401, r"HMAC", "POST", "/Contact",
        key=None, body='{"lastName":"Forged"}', ctype=JSON,
        headers=[("X-Hmac-Authorization", b64(HMAC_KEY + ":" + good))])
    C.done()

    # ---- replayed OAuth2 codes and tokens ---------------------------------
    C.batch("oauth2-replay")

    def tok(desc, fields, status, error, client="ringotel", secret=S1,
            basic=None):
        fields = dict(fields)
        headers = []
        if basic is not None:
            headers.append(("Authorization", "Basic " + b64(basic)))
        elif client is not None:
            fields.update(client_id=client, client_secret=secret)
        hit(desc, status, r"^" + error, "POST", "/oauth2/token", key=None,
            ctype=FORM, body=form(fields), headers=headers)

    AC = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    RT = {"grant_type": "refresh_token"}
    tok("used code replayed", dict(AC, code=oa["code1"]), 400, "invalid_grant")
    tok("used code replayed with Basic client auth", dict(AC, code=oa["code1"]),
        400, "invalid_grant", basic="ringotel:" + S1)
    tok("used code replayed without redirect_uri",
        {"grant_type": "authorization_code", "code": oa["code1"]}, 400,
        "invalid_grant")
    tok("rotated refresh token replayed", dict(RT, refresh_token=oa["refresh1"]),
        400, "invalid_grant")
    tok("rotated refresh token replayed with Basic",
        dict(RT, refresh_token=oa["refresh1"]), 400, "invalid_grant",
        basic="ringotel:" + S1)
    tok("code used as a refresh token", dict(RT, refresh_token=oa["code1"]),
        400, "invalid_grant")
    tok("live refresh token used as a code", dict(AC, code=oa["refresh2"]),
        400, "invalid_grant")
    tok("access token used as a refresh token",
        dict(RT, refresh_token=oa["access2"]), 400, "invalid_grant")
    tok("live refresh token, wrong client secret",
        dict(RT, refresh_token=oa["refresh2"]), 401, "invalid_client",
        secret="wrong")
    tok("live refresh token, another client", dict(RT,
                                                   refresh_token=oa["refresh2"]),
        400, "invalid_grant", client="other", secret=S2)
    tok("fresh code, another client", dict(AC, code=oa["code2"],
                                           redirect_uri=REDIRECT2),
        400, "invalid_grant", client="other", secret=S2)
    tok("fresh code, another redirect_uri", dict(AC, code=oa["code2"],
                                                 redirect_uri=REDIRECT + "/x"),
        400, "invalid_grant")
    tok("fresh code, no client secret", dict(AC, code=oa["code2"]), 401,
        "invalid_client", secret="")
    tok("fresh code, other client's secret", dict(AC, code=oa["code2"]), 401,
        "invalid_client", secret=S2)
    tok("refresh token upper-cased", dict(RT,
                                          refresh_token=oa["refresh2"].upper()),
        400, "invalid_grant")
    tok("code of 63 characters", dict(AC, code=oa["code2"][:63]), 400,
        "invalid_grant")
    tok("no code at all", AC, 400, "invalid_grant")
    tok("refresh token as an array", {"grant_type": "refresh_token",
                                      "refresh_token[]": oa["refresh2"]},
        400, "invalid_grant")
    tok("password grant", {"grant_type": "password", "username": "agent",
                           "password": PW}, 400, "unsupported_grant_type")
    hit("Basic client auth not base64", 401, r"^invalid_client", "POST",
        "/oauth2/token", key=None, ctype=FORM, body=form(dict(
            AC, code=oa["code2"])), headers=[("Authorization", "Basic !!!")])
    for desc, t_ in [("used code as a Bearer token", oa["code1"]),
                     ("rotated refresh token as a Bearer token",
                      oa["refresh1"]),
                     ("live refresh token as a Bearer token", oa["refresh2"])]:
        hit(desc, 403, r"token", "GET", "/App/user", key=None,
            headers=[("Authorization", "Bearer " + t_)])
    hit("authorize with an unregistered redirect_uri", 400, r"redirect URI",
        "GET", "/oauth2/authorize?" + form({
            "response_type": "code", "client_id": "ringotel",
            "redirect_uri": "https://evil.example/cb"}), key=None)
    hit("authorize for an unknown client", 400, r"not registered", "GET",
        "/oauth2/authorize?" + form({
            "response_type": "code", "client_id": "evil",
            "redirect_uri": REDIRECT}), key=None)
    C.done()

    # ---- bad Basic, Bearer garbage, bad keys ------------------------------
    C.batch("bad-credentials")
    for desc, value, word in [
            ("Basic not base64", "Basic !!!!", r"Basic"),
            ("Basic empty", "Basic ", r"Basic|scheme"),
            ("Basic without a colon", "Basic " + b64("agent"), r"Basic"),
            ("Basic with too much padding", "Basic YQ===", r"Basic"),
            ("Basic with padding inside", "Basic YW=Vu", r"Basic"),
            ("Basic in base64url", "Basic " + b64("agent:" + PW + "\xff>").
             replace("+", "-").replace("/", "_") + "-_", r"Basic"),
            ("Basic with a space inside", "Basic YWdl bnQ6eA==", r"Basic"),
            ("Basic unknown user", "Basic " + b64("mallory:" + PW),
             r"username or password"),
            ("Basic wrong password", "Basic " + b64("agent:wrong"),
             r"username or password"),
            ("Basic empty password", "Basic " + b64("agent:"),
             r"username or password"),
            ("Basic empty user", "Basic " + b64(":" + PW),
             r"username or password"),
            ("Basic for a user with no password", "Basic " + b64("hm:x"),
             r"username or password"),
            ("basic in lower case, garbage", "basic ****", r"Basic"),
            ("Basic without a space", "Basic", r"scheme"),
            ("Bearer empty", "Bearer ", r"token|scheme"),
            ("Bearer garbage", "Bearer garbage!!", r"token"),
            ("Bearer 64 non-hex", "Bearer " + "g" * 64, r"token"),
            ("Bearer 63 hex", "Bearer " + "a" * 63, r"token"),
            ("Bearer 65 hex", "Bearer " + "a" * 65, r"token"),
            ("Bearer with spaces", "Bearer a b c", r"token"),
            ("Bearer with a tab", "Bearer\t" + "a" * 64, r"scheme"),
            ("Bearer a JWT", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
             r"token"),
            ("Bearer the key upper-cased", "Bearer " + s.key.upper(), r"token"),
            ("Bearer the key twice", "Bearer " + s.key + " " + s.key,
             r"token"),
            ("Digest scheme", 'Digest username="agent", response="x"',
             r"scheme"),
            ("Negotiate scheme", "Negotiate YII=", r"scheme"),
            ("AWS4 scheme", "AWS4-HMAC-SHA256 Credential=x", r"scheme")]:
        hit(desc, 403, word, "GET", "/App/user", key=None,
            headers=[("Authorization", value)])
    for desc, value, status, word in [
            ("Espo-Authorization without a colon", b64("agent"), 400,
             r"authorization string"),
            ("Espo-Authorization not base64", "%%%", 400,
             r"authorization string"),
            ("Espo-Authorization wrong password", b64("agent:nope"), 401,
             r"username or password"),
            ("Espo-Authorization empty", "", 401, r"No credentials")]:
        hit(desc, status, word, "GET", "/App/user", key=None,
            headers=[("Espo-Authorization", value)])
    for desc, k in [
                    ("X-Api-Key with a character in front", "x" + s.key),
                    ("X-Api-Key upper-cased", s.key.upper()),
                    ("X-Api-Key one character short", s.key[:-1]),
                    ("X-Api-Key is the key's SHA-256",
                     hashlib.sha256(s.key.encode()).hexdigest())]:
        hit(desc, 401, r"API key", "GET", "/App/user", key=k)
    for desc, k in [("no credentials at all", None), ("X-Api-Key empty", ""),
                    ("X-Api-Key spaces", "   ")]:
        hit(desc, 401, r"No credentials", "GET", "/Contact", key=k)
    C.done()

    # ---- CSRF-less session writes -----------------------------------------
    C.batch("csrf")
    ck = ("Cookie", "fastcrm_session=" + sess["tok"])
    for desc, m, p, body, extra in [
            ("POST without X-CSRF-Token", "POST", "/Contact",
             '{"lastName":"Csrf"}', []),
            ("PUT without X-CSRF-Token", "PUT", "/Contact/" + c1,
             '{"lastName":"Csrf"}', []),
            ("PATCH without X-CSRF-Token", "PATCH", "/Case/" + case,
             '{"status":"Closed"}', []),
            ("DELETE without X-CSRF-Token", "DELETE", "/Contact/" + c1, None,
             []),
            ("link without X-CSRF-Token", "POST", "/Contact/%s/cases" % c1,
             '{"id":"%s"}' % case, []),
            ("unlink without X-CSRF-Token", "DELETE", "/Contact/%s/cases" % c1,
             '{"id":"%s"}' % case, []),
            ("attachment without X-CSRF-Token", "POST", "/Attachment",
             '{"name":"c.txt","file":"data:text/plain;base64,eA=="}', []),
            ("recording without X-CSRF-Token", "POST",
             "/Call/%s/recording" % call, None, []),
            ("sign-out without X-CSRF-Token", "DELETE", "/App/session", None,
             []),
            ("wrong token of the same length", "POST", "/Contact",
             '{"lastName":"Csrf"}', [("X-CSRF-Token", "0" * 64)]),
            ("token one character short", "POST", "/Contact",
             '{"lastName":"Csrf"}', [("X-CSRF-Token", sess["csrf"][:-1])]),
            ("token with one extra character", "POST", "/Contact",
             '{"lastName":"Csrf"}', [("X-CSRF-Token", sess["csrf"] + "0")]),
            ("token upper-cased", "PUT", "/Contact/" + c1,
             '{"lastName":"Csrf"}', [("X-CSRF-Token", sess["csrf"].upper())]),
            ("empty token", "POST", "/Contact", '{"lastName":"Csrf"}',
             [("X-CSRF-Token", "")]),
            ("the other session's token", "POST", "/Contact",
             '{"lastName":"Csrf"}', [("X-CSRF-Token", sess["csrf2"])]),
            ("token in the query string", "POST", "/Contact?csrfToken=" +
             sess["csrf"], '{"lastName":"Csrf"}', []),
            ("token in a cookie", "POST", "/Contact", '{"lastName":"Csrf"}',
             [("Cookie", "X-CSRF-Token=" + sess["csrf"])]),
            ("token in the body", "POST", "/Contact", json.dumps(
                {"lastName": "Csrf", "csrfToken": sess["csrf"]}), [])]:
        kw = {}
        if body is not None:
            kw = {"body": body, "ctype": JSON}
        elif m == "POST":
            kw = {"body": b"RIFF", "ctype": "audio/wav"}
        hit(desc, 403, r"CSRF", m, p, key=None, headers=[ck] + extra, **kw)
    hit("unknown session, POST", 401, r"Session", "POST", "/Contact", key=None,
        body='{"lastName":"Csrf"}', ctype=JSON,
        headers=[("Cookie", "fastcrm_session=" + "0" * 64),
                 ("X-CSRF-Token", sess["csrf"])])
    hit("forged cookie before the real one", 401, r"Session", "POST",
        "/Contact", key=None, body='{"lastName":"Csrf"}', ctype=JSON,
        headers=[("Cookie", "fastcrm_session=forged; fastcrm_session=" +
                  sess["tok"]), ("X-CSRF-Token", sess["csrf"])])
    r = s.request("GET", "/App/user", key=None, headers={"Cookie": ck[1]})
    t.ok(r.status == 200 and (r.json or {}).get("csrfToken") == sess["csrf"],
         "the session survived every refused write (sign-out included)",
         describe(r))
    C.done()

    # ---- figures and the data ----------------------------------------------
    after = dump(s)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k))
    t.ok(not changed, "data dump identical after the corpus (%d parts: every "
         "entity exported, every LMDB database but authfail, %d files)" % (
             len(after), sum(1 for k in after if k.startswith("file "))),
         "changed: %s" % changed[:10])
    total = sum(C.count.values())
    t.ok(total >= 200, "at least 200 hostile requests (%d)" % total)
    t.diag("hostile requests sent: %d (all answered 4xx: %s)" % (
        total, all(400 <= k < 500 for k in C.status)))
    for cat, n in C.count.items():
        t.diag("  %-22s %4d" % (cat, n))
    t.diag("statuses: " + ", ".join("%d x%d" % (k, v) for k, v in
                                     sorted(C.status.items())))
    t.diag("attachment names accepted with the name cleaned: %d"
           % len(sanitized))

    # The refused attempts consumed nothing: the tokens and code still work.
    @t.test
    def nothing_consumed():
        r = token({"grant_type": "refresh_token",
                   "refresh_token": oa["refresh2"]})
        t.status(r, 200, "the live refresh token still works after the "
                 "refused attempts")
        r = token({"grant_type": "authorization_code", "code": oa["code2"],
                   "redirect_uri": REDIRECT})
        t.status(r, 200, "the fresh code still works after the refused "
                 "attempts")
        r = s.request("POST", "/Contact", {"lastName": "After"}, key=None,
                      headers={"Cookie": ck[1], "X-CSRF-Token": sess["csrf"]})
        t.status(r, 200, "a write with the right CSRF token works")

t.done()
