"""The agent's page (app/ui/index.html, served at `/`) in a real browser.

Drives headless Chromium through chromedriver's W3C WebDriver HTTP protocol
with the Python standard library only (urllib + json), against a real Stack
(nginx + fastcrm, self-signed certificate on https://127.0.0.1:PORT):

  - plain HTTP first (no browser): GET / with its frame-ancestors policy
    and its size, sign-in, the session cookie's attributes, CSRF on
    cookie-authenticated writes, the role of signed-in agents and its
    EspoCRM `acl` table in /App/user, sign-out, passwords never shown;
  - then the browser, as an agent during a call: CCAI Platform's Display
    URL #Case/view/{id} → sign in → the case (and how many requests its
    first load takes) → status, priority, type, assignee changed and saved
    → a note → the call's recording played (the audio element's source
    fetched: status, length, SHA-256 of the uploaded WAV; its decoded
    duration) → the "New Caller" contact CCAI created renamed, phones,
    emails and a new account added, a refused save showing the server's
    reason and keeping what was typed → the caller's timeline, newest
    first → a new case for the contact, assigned → search by a phone
    number in another format, by account, by case number → #Case and
    #Contact lists → #Account and #Call views → one task by keyboard only,
    every focused control visibly outlined → every view at 360 and 1280 px
    wide, none wider than the viewport, screenshots saved → a principal
    whose role may edit only its own cases sees no control for the
    others, and the API refuses anyway → the page framed by another site,
    refused by the default frame-ancestors and allowed (360 px wide) once
    that site is configured; every change checked through the API.

Screenshots go to UI_SHOTS (default tests/ui-shots/ in the build tree;
the path is printed as a TAP comment): {view}-{width}.png.

Needs the Debian packages chromium and chromium-driver (conf/install-deps).
If the browser cannot be started the test FAILS with the reason: the page
is part of the product.  CHROMIUM and CHROMEDRIVER override the programs'
paths."""

import base64
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, api_user, deep_merge, free_port, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SRCDIR = os.environ.get("FASTCRM_SRCDIR",
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("FASTCRM_BUILD_DIR") or os.getcwd()
SHOTS = os.environ.get("UI_SHOTS") or os.path.join(BUILDDIR, "tests", "ui-shots")
PAGE = os.path.join(SRCDIR, "app", "ui", "index.html")
PAGE_MAX = 72 * 1024        # the page's size budget (README states the size)
FIRST_LOAD_MAX = 7          # requests of a case view's first load

COOKIE = "fastcrm_session"
DEFAULT_ANCESTORS = ["'self'", "https://*.ccaiplatform.com",
                     "https://*.ujet.co", "https://*.ujet.com"]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"   # W3C web element key
KEY_TAB, KEY_ENTER, KEY_DOWN = "\ue004", "\ue007", "\ue015"

PASSWORD = "correct horse 7 battery"
VIEWER_PW = "viewer pass 42 staple"
CONTACT_PHONE = "+15550104321"
CONTACT_PHONE_OTHER = "(555) 010-4321"     # the same number, typed otherwise
CONTACT_PHONE2 = "+15550109876"
CALLER_PHONE = "+15550107777"
CALL_ID = "900002"
NOTE = "Called back <b>not bold</b> — café ✓\nSecond line."

FULL = {"create": True, "read": "all", "edit": "all", "delete": "no"}
READ = {"create": False, "read": "all", "edit": "no", "delete": "no"}
# Signed-in agents act with `agent`, not as administrators; `viewer` (an
# api_user with a password) may edit only its own cases and nothing else.
ROLES = {
    "agent": {
        "Contact": FULL, "Account": FULL, "Case": FULL,
        "Note": {"create": True, "read": "all", "edit": "own", "delete": "no"},
        "Call": {"create": False, "read": "all", "edit": "own", "delete": "no"},
        "Attachment": READ, "User": READ,
    },
    "limited": {
        "Contact": READ, "Account": READ, "Call": READ, "Attachment": READ,
        "Note": READ,
        "Case": {"create": False, "read": "all", "edit": "own", "delete": "no"},
    },
}
EXTRA = {"agent_role": "agent", "roles": ROLES,
         "api_users": [api_user("viewer", "limited",
                                password_hash=sha512_crypt(VIEWER_PW))]}


def make_wav(seconds=1.5, rate=8000):
    """A mono 16-bit PCM WAV of a 440 Hz tone."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(9000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))))
    return buf.getvalue()


WAV = make_wav()
WAV_SECONDS = 1.5


# ---- WebDriver over HTTP ---------------------------------------------------

class WebDriverError(Exception):
    def __init__(self, error, message):
        Exception.__init__(self, "%s: %s" % (error, message))
        self.error = error


class Browser:
    """chromedriver on a loopback port, one W3C session in headless
    Chromium.  close() ends the session and stops chromedriver by pid."""

    def __init__(self):
        self.proc = None
        self.sid = None
        self.tmp = tempfile.mkdtemp(prefix="fastcrm-ui-")
        self.log = os.path.join(self.tmp, "chromedriver.log")
        # No proxy from the environment for the loopback driver.
        self.http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self):
        for prog in (CHROMIUM, CHROMEDRIVER):
            if not os.access(prog, os.X_OK):
                raise RuntimeError("%s is missing: install the Debian packages "
                                   "chromium and chromium-driver "
                                   "(conf/install-deps)" % prog)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % self.port, "--log-path=" + self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            try:
                if self.call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, WebDriverError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("chromedriver exited with status %s; %s"
                                   % (self.proc.returncode, self.log_tail()))
            if time.time() > deadline:
                raise RuntimeError("chromedriver not ready after 20 s; %s"
                                   % self.log_tail())
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": True,
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-quic", "--no-first-run",
                         "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--ignore-certificate-errors",
                         "--disable-dev-shm-usage",
                         "--window-size=1280,900",
                         "--autoplay-policy=no-user-gesture-required",
                         "--mute-audio",
                         "--user-data-dir=" + os.path.join(self.tmp, "profile")],
            },
        }}}
        try:
            v = self.call("POST", "/session", caps, timeout=90)
        except WebDriverError as e:
            raise RuntimeError("Chromium did not start: %s; %s"
                               % (e, self.log_tail()))
        self.sid = v["sessionId"]

    def log_tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                lines = [ln.rstrip() for ln in f if "SEVERE" in ln or
                         "ERROR" in ln or "error" in ln]
            return "chromedriver log: " + " | ".join(lines[-n:])
        except OSError:
            return "no chromedriver log"

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self.http.open(req, timeout=timeout) as r:
                v = json.loads(r.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read().decode())["value"]
                raise WebDriverError(v.get("error"), v.get("message", "")
                                     .split("\n")[0])
            except (ValueError, KeyError, TypeError):
                raise WebDriverError("http %d" % e.code, e.reason)
        return v.get("value")

    def s(self, method, path, body=None, timeout=60):
        return self.call(method, "/session/%s%s" % (self.sid, path), body,
                         timeout)

    # Convenience
    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script,
                                                "args": list(args)})

    def js_async(self, script, *args, timeout=30):
        """An async script: it calls arguments[arguments.length - 1]."""
        return self.s("POST", "/execute/async", {"script": script,
                                                 "args": list(args)},
                      timeout=timeout)

    def keys(self, *seq):
        """Key presses, to whatever has the focus (W3C actions): each item
        a string of characters, or one of the KEY_* constants."""
        acts = []
        for k in seq:
            for ch in k:
                acts.append({"type": "keyDown", "value": ch})
                acts.append({"type": "keyUp", "value": ch})
        self.s("POST", "/actions", {"actions": [
            {"type": "key", "id": "keyboard", "actions": acts}]})

    def viewport(self, width, height):
        """The page's viewport in CSS pixels (Chromium's device metrics
        override, as its device toolbar does)."""
        self.s("POST", "/goog/cdp/execute", {
            "cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": width, "height": height,
                       "deviceScaleFactor": 1, "mobile": False}})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector",
                                           "value": css})[ELEMENT]

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def type(self, css, text, clear=True):
        e = self.find(css)
        if clear:
            self.s("POST", "/element/%s/clear" % e, {})
        self.s("POST", "/element/%s/value" % e, {"text": text})

    def text(self, css):
        """textContent of the first match, or None when absent."""
        return self.js("var e = document.querySelector(arguments[0]);"
                       "return e ? e.textContent : null;", css)

    def wait(self, script, desc, *args, timeout=15):
        """Polls a script until it returns something truthy."""
        deadline = time.time() + timeout
        while True:
            v = self.js(script, *args)
            if v:
                return v
            if time.time() > deadline:
                raise AssertionError("timed out waiting for %s; page: %s"
                                     % (desc, self.page_state()))
            time.sleep(0.1)

    def wait_text(self, css, expected, timeout=15):
        return self.wait("var e = document.querySelector(arguments[0]);"
                         "return e && e.textContent === arguments[1];",
                         "%s to read %r" % (css, expected), css, expected,
                         timeout=timeout)

    def page_state(self):
        try:
            return json.dumps(self.js(
                "return {url: location.href, flash: (document.getElementById("
                "'flash') || {}).textContent, signin: (document.getElementById("
                "'signin-error') || {}).textContent, text: document.body ? "
                "document.body.innerText.slice(0, 600) : null};"))
        except Exception as e:  # noqa: BLE001 - diagnostics only
            return "(no page state: %s)" % e

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def close(self):
        if self.sid is not None:
            try:
                self.call("DELETE", "/session/" + self.sid, timeout=20)
            except Exception:  # noqa: BLE001 - best effort, then kill
                pass
            self.sid = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        # Chromium's helpers (zygotes, crashpad) may outlive the driver for
        # a moment; ours are the ones naming our profile directory.
        deadline = time.time() + 5
        while True:
            left = self.own_pids()
            if not left or time.time() > deadline:
                break
            time.sleep(0.1)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def own_pids(self):
        """Live processes whose command line names our temp directory."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read()
                with open("/proc/%s/stat" % d) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if self.tmp.encode() in cmd and state != "Z":
                pids.append(int(d))
        return pids


# ---- helpers ---------------------------------------------------------------

def cookie_of(resp):
    """(value, {attribute-lowercase: value}) of the session cookie."""
    for name, v in resp.header_list:
        if name.lower() != "set-cookie":
            continue
        parts = [p.strip() for p in v.split(";")]
        k, _, val = parts[0].partition("=")
        if k != COOKIE:
            continue
        attrs = {}
        for p in parts[1:]:
            a, _, av = p.partition("=")
            attrs[a.strip().lower()] = av.strip()
        return val, attrs
    return None, {}


def sign_in(s, user, password):
    r = s.request("POST", "/App/session", {"userName": user,
                                           "password": password}, key=None)
    return r, cookie_of(r)[0]


def with_cookie(tok, csrf=None, **more):
    h = {"Cookie": "%s=%s" % (COOKIE, tok)}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    h.update(more)
    return h


TL = {}   # values one browser step leaves for a later one


with Stack(config_extra=EXTRA) as s:
    url = s.url

    # ---- data, through the admin API key ----------------------------------
    r = s.request("POST", "/Account", {"name": "Acme Corp"})
    t.status(r, 200, "setup: create an account")
    acme = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Contact", {
        "accountId": acme,
        "firstName": "Ada", "lastName": "O'Neil <i>x</i>",
        "phoneNumber": CONTACT_PHONE,
        "phoneNumberData": [
            {"phoneNumber": CONTACT_PHONE, "type": "Mobile", "primary": True},
            {"phoneNumber": CONTACT_PHONE2, "type": "Office", "primary": False}],
        "emailAddress": "ada.oneil@example.com"})
    t.status(r, 200, "setup: create a contact")
    contact = r.json or {}
    cid = contact.get("id", "none")
    cname = contact.get("name", "")
    r = s.request("POST", "/Case", {
        "name": "Inbound Call from " + CONTACT_PHONE, "contactId": cid,
        "accountId": acme,
        "description": "Call Session: 900001", "ccallId": "900001",
        "cChannel": "voice", "priority": "High"})
    t.status(r, 200, "setup: create a case linked to the contact")
    case = r.json or {}
    kid = case.get("id", "none")
    r = s.request("POST", "/Call", {
        "name": "Inbound call 900001", "direction": "Inbound", "status": "Held",
        "dateStart": "2026-01-05 10:00:00", "dateEnd": "2026-01-05 10:04:05",
        "parentType": "Case", "parentId": kid, "uid": "900001"})
    t.status(r, 200, "setup: a call of the case")
    call_id = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Call/%s/recording" % call_id, raw_body=WAV,
                  content_type="audio/wav")
    t.status(r, 200, "setup: its recording (a %d-byte WAV)" % len(WAV))
    rec_id = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Case", {"name": "HTTP-only case", "contactId": cid})
    t.status(r, 200, "setup: a second case for the plain-HTTP checks")
    kid2 = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Case", {"name": "Follow-up: the invoice",
                                    "contactId": cid, "status": "Pending"})
    t.status(r, 200, "setup: another open case of the contact")
    kid3 = (r.json or {}).get("id", "none")
    r = s.request("POST", "/User", {"userName": "agent1", "firstName": "Agent",
                                    "lastName": "One", "password": PASSWORD})
    t.status(r, 200, "setup: create User agent1 with a password")
    uid = (r.json or {}).get("id", "none")
    r = s.request("POST", "/User", {"userName": "agent2", "firstName": "Bea",
                                    "lastName": "Second"})
    t.status(r, 200, "setup: create User agent2 (to assign cases to)")
    uid2 = (r.json or {}).get("id", "none")

    # The unknown caller as CCAI Platform creates it, its case, and a call
    # with a recording logged against the contact.
    r = s.request("POST", "/Contact", {
        "phoneNumber": CALLER_PHONE, "firstName": "New Caller",
        "lastName": CALL_ID, "name": "New Caller " + CALL_ID})
    t.status(r, 200, "setup: CCAI's 'New Caller %s' contact" % CALL_ID)
    ncid = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Case", {
        "description": "Call Session: " + CALL_ID,
        "name": "Inbound Call from " + CALLER_PHONE, "contactId": ncid,
        "status": "New", "ccallId": CALL_ID, "cChannel": "voice",
        "Type": "Voice inbound"})
    t.status(r, 200, "setup: CCAI's case for the new caller")
    nkid = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Call", {
        "name": "Inbound call " + CALL_ID, "direction": "Inbound",
        "status": "Held", "dateStart": "2030-01-01 09:00:00",
        "dateEnd": "2030-01-01 09:02:30", "parentType": "Contact",
        "parentId": ncid, "uid": CALL_ID})
    t.status(r, 200, "setup: the new caller's call")
    ncall = (r.json or {}).get("id", "none")
    r = s.request("POST", "/Call/%s/recording" % ncall, raw_body=WAV,
                  content_type="audio/wav")
    t.status(r, 200, "setup: its recording")
    nrec = (r.json or {}).get("id", "none")

    # ---- plain HTTP --------------------------------------------------------

    @t.test
    def password_never_shown():
        r = s.request("POST", "/User", {"userName": "agent1x", "lastName": "X",
                                        "password": "other secret 99"})
        t.ok(r.status == 200 and "other secret 99" not in r.text
             and "password" not in (r.json or {}),
             "the created User's answer holds no password")
        for path in ("/User/" + uid, "/User?maxSize=200",
                     "/User?select=password,passwordHash,userName"):
            r = s.request("GET", path)
            t.ok(r.status == 200 and PASSWORD not in r.text
                 and not re.search(r'"password', r.text)
                 and "$y$" not in r.text and "$6$" not in r.text,
                 "GET %s shows no password nor hash" % path)

    @t.test
    def page_served():
        r = s.request("GET", "/", key=None)
        t.status(r, 200, "GET / without credentials: 200")
        t.like(r.headers.get("Content-Type", ""), r"^text/html",
               "GET /: text/html")
        with open(PAGE, "rb") as f:
            t.ok(r.body == f.read(),
                 "GET / answers the bytes of app/ui/index.html "
                 "(%d bytes served, file %d)" % (len(r.body), os.path.getsize(PAGE)))
        t.ok(len(r.body) <= PAGE_MAX, "the page is %d bytes (budget %d), "
             "one request, no other resource" % (len(r.body), PAGE_MAX))
        t.ok(not re.search(rb"<(script|link|img|iframe)[^>]+(src|href)="
                           rb"[\"']?(https?:)?//", r.body),
             "the page loads nothing from another site")
        csp = r.headers.get("Content-Security-Policy", "")
        m = re.search(r"frame-ancestors([^;]*)", csp)
        t.eq(m.group(1).split() if m else None, DEFAULT_ANCESTORS,
             "GET /: CSP frame-ancestors is the default list")
        xfo = r.headers.get("X-Frame-Options", "")
        t.ok(xfo.lower() not in ("deny", "sameorigin"),
             "GET /: no X-Frame-Options that would block CCAI's frame")

    @t.test
    def sign_in_http():
        r, tok = sign_in(s, "agent1", "wrong password")
        t.status(r, 401, "bad password: 401")
        t.ok(r.headers.get("X-Status-Reason") and tok is None,
             "bad password: a reason, no cookie")
        bad_reason = r.headers.get("X-Status-Reason")
        r, _ = sign_in(s, "nobody-here", "wrong password")
        t.eq((r.status, r.headers.get("X-Status-Reason")), (401, bad_reason),
             "unknown user: the same 401 as a bad password")

        r, tok = sign_in(s, "agent1", PASSWORD)
        t.status(r, 200, "sign in: 200")
        j = r.json or {}
        user = j.get("user") or {}
        t.eq((user.get("id"), user.get("userName"), user.get("name")),
             (uid, "agent1", "Agent One"), "sign in: the user")
        csrf = j.get("csrfToken") or ""
        t.like(csrf, r"^[0-9a-f]{32,}$", "sign in: a hex csrfToken")
        t.ok(PASSWORD not in r.text, "sign in: the password is not echoed")
        tok, attrs = cookie_of(r)
        t.ok(tok and len(tok) >= 32, "sign in: sets %s" % COOKIE)
        t.ok("httponly" in attrs, "cookie: HttpOnly")
        t.ok("secure" in attrs, "cookie: Secure")
        t.eq(attrs.get("samesite", "").lower(), "none", "cookie: SameSite=None")
        t.eq(attrs.get("path"), "/", "cookie: Path=/")
        t.eq(attrs.get("max-age"), "43200", "cookie: Max-Age=43200")

        r = s.request("GET", "/App/user", key=None, headers=with_cookie(tok))
        t.status(r, 200, "GET /App/user with the cookie: 200")
        t.eq(((r.json or {}).get("user", {}).get("userName"),
              (r.json or {}).get("csrfToken")), ("agent1", csrf),
             "GET /App/user: the user and the same csrfToken")
        table = ((r.json or {}).get("acl") or {}).get("table") or {}
        def rights(x):
            return {k: v for k, v in (x or {}).items() if k != "stream"}
        t.eq(rights(table.get("Case")), {"create": "yes", "read": "all",
                                         "edit": "all", "delete": "no"},
             "GET /App/user: acl.table.Case is the role's, EspoCRM's shape")
        t.eq(rights(table.get("Call")), {"create": "no", "read": "all",
                                         "edit": "own", "delete": "no"},
             "GET /App/user: acl.table.Call (edit own)")
        t.ok(table.get("Task", False) is False, "GET /App/user: an entity "
             "the role may not touch is false in acl.table, as EspoCRM")
        r = s.request("GET", "/App/user", key=None)
        t.status(r, 401, "GET /App/user without the cookie: 401")
        r = s.request("GET", "/App/user", key=None,
                      headers=with_cookie("0" * 64))
        t.status(r, 401, "GET /App/user with an unknown session: 401")

        # The page's own request: no Basic challenge, or a browser opens
        # its login dialog over the agent's screen (EspoCRM leaves the
        # challenge out for X-Requested-With: XMLHttpRequest likewise).
        r = s.request("GET", "/App/user", key=None,
                      headers={"X-Requested-With": "XMLHttpRequest"})
        t.ok(r.status == 401 and "WWW-Authenticate" not in r.headers,
             "GET /App/user from the page (X-Requested-With) without a "
             "session: 401 without WWW-Authenticate (got %s, %r)"
             % (r.status, r.headers.get("WWW-Authenticate")))

        # CSRF on cookie-authenticated writes.
        path = "/Case/" + kid2
        r = s.request("PUT", path, {"status": "Closed"}, key=None,
                      headers=with_cookie(tok))
        t.status(r, 403, "PUT with the cookie, no X-CSRF-Token: 403")
        t.eq(r.headers.get("X-Status-Reason"), "CSRF token missing or wrong.",
             "... with the reason")
        r = s.request("PUT", path, {"status": "Closed"}, key=None,
                      headers=with_cookie(tok, "f" * len(csrf)))
        t.status(r, 403, "PUT with the cookie and a wrong X-CSRF-Token: 403")
        r = s.request("POST", "/Note", {"post": "forged", "parentType": "Case",
                                        "parentId": kid2},
                      key=None, headers=with_cookie(tok))
        t.status(r, 403, "POST /Note with the cookie, no X-CSRF-Token: 403")
        r = s.request("GET", path)
        t.eq((r.json or {}).get("status"), "New",
             "refused writes changed nothing")
        r = s.request("GET", "/Case/%s/stream" % kid2)
        t.eq((r.json or {}).get("total"), 0, "refused note was not stored")

        r = s.request("PUT", path, {"status": "Closed"}, key=None,
                      headers=with_cookie(tok, csrf))
        t.status(r, 200, "PUT with the cookie and X-CSRF-Token: 200")
        t.eq((r.json or {}).get("status"), "Closed", "... and the case changed")
        t.eq((r.json or {}).get("modifiedById"), uid,
             "... modifiedById is the signed-in User")
        r = s.request("GET", "/Contact/" + cid, key=None,
                      headers=with_cookie(tok))
        t.status(r, 200, "GET with the cookie needs no X-CSRF-Token")

        # Agents act with agent_role, not as administrators.
        r = s.request("DELETE", path, key=None, headers=with_cookie(tok, csrf))
        t.status(r, 403, "agent_role forbids DELETE /Case: 403")
        r = s.request("POST", "/User", {"userName": "x", "lastName": "X"},
                      key=None, headers=with_cookie(tok, csrf))
        t.status(r, 403, "agent_role may not create Users: POST /User 403")

        # Sign out ends the session on the server, not only in the browser.
        r = s.request("DELETE", "/App/session", key=None,
                      headers=with_cookie(tok, csrf))
        t.status(r, 200, "DELETE /App/session: 200")
        _, attrs = cookie_of(r)
        t.eq(attrs.get("max-age"), "0", "sign out clears the cookie")
        r = s.request("GET", "/App/user", key=None, headers=with_cookie(tok))
        t.status(r, 401, "the old cookie no longer works after sign out")

    # ---- the browser -------------------------------------------------------

    b = Browser()
    signed_in = False
    try:
        b.start()
        started = True
        t.ok(True, "headless Chromium started (%s)" % CHROMIUM)
    except Exception as e:  # noqa: BLE001 - the reason is the test result
        started = False
        t.ok(False, "headless Chromium started", diag="cannot start: %s" % e)

    def el_text(css):
        return b.text(css)

    def value(css):
        return b.js("var e = document.querySelector(arguments[0]);"
                    "return e ? e.value : null;", css)

    def exists(css):
        return b.js("return !!document.querySelector(arguments[0])", css)

    def wait_msg(css, pattern):
        return b.wait("var e = document.querySelector(arguments[0]);"
                      "return e && new RegExp(arguments[1]).test(e.textContent)"
                      " && e.textContent;",
                      "%s to match %r" % (css, pattern), css, pattern)

    def go(hash_):
        b.go("%s/#%s" % (url, hash_))

    def settled():
        """No 'Loading…' left in the view."""
        b.wait("var v = document.getElementById('view');"
               "return v && !v.hidden && v.textContent.indexOf('Loading') < 0"
               " && v.children.length > 0;", "the view to finish loading")

    def select(css, val):
        b.click(css)
        b.click("%s option[value='%s']" % (css, val))

    def pick_option(css, val):
        """Sets a select by script, firing change (for selects whose
        options are many)."""
        b.js("var e = document.querySelector(arguments[0]); e.value = arguments[1];"
             "e.dispatchEvent(new Event('change', {bubbles: true}));", css, val)

    def audio_check(css, expect_len, expect_sha):
        """Fetches the audio element's source as the element would and
        loads its metadata."""
        got = b.js_async(
            "var a = document.querySelector(arguments[0]), done = arguments[1];"
            "if (!a) { done({err: 'no audio element'}); return; }"
            "fetch(a.src, {credentials: 'same-origin'}).then(function (r) {"
            "  return r.arrayBuffer().then(function (buf) {"
            "    return crypto.subtle.digest('SHA-256', buf).then(function (h) {"
            "      var hex = Array.from(new Uint8Array(h)).map(function (x) {"
            "        return (x < 16 ? '0' : '') + x.toString(16); }).join('');"
            "      var out = {status: r.status, type: r.headers.get('Content-Type'),"
            "        len: buf.byteLength, sha: hex, src: a.getAttribute('src')};"
            "      a.muted = true;"
            "      a.addEventListener('error', function () {"
            "        out.err = 'media error ' + (a.error && a.error.code); done(out); });"
            "      a.play().then(function () {"
            "        setTimeout(function () { out.duration = a.duration;"
            "          out.time = a.currentTime; done(out); }, 500);"
            "      }, function (e) { out.err = String(e); out.duration = a.duration;"
            "        done(out); });"
            "    });"
            "  });"
            "}, function (e) { done({err: String(e)}); });", css)
        t.eq((got.get("status"), got.get("len"), got.get("sha")),
             (200, expect_len, expect_sha),
             "the audio element's source answers 200 with the recording's "
             "bytes (%r)" % {k: got.get(k) for k in ("src", "type", "len")})
        t.like(got.get("type") or "", r"^audio/", "... as audio/*")
        t.ok(got.get("err") is None and got.get("duration") is not None
             and abs(got["duration"] - WAV_SECONDS) < 0.1
             and got.get("time", 0) > 0,
             "the audio element plays it: decoded duration %r s (WAV %s s), "
             "position %r s" % (got.get("duration"), WAV_SECONDS,
                                got.get("time")),
             diag="error: %r" % got.get("err"))

    def active():
        return b.js(
            "var e = document.activeElement, cs = getComputedStyle(e);"
            "return {id: e.id, tag: e.tagName, href: e.getAttribute('href'),"
            " text: (e.textContent || '').trim().slice(0, 40),"
            " outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth)};")

    unseen_focus = []

    def tab_to(predicate, desc, limit=80):
        """Presses Tab until the focused element satisfies the JS predicate
        (given e = document.activeElement); every element focused on the
        way must show a visible outline."""
        for _ in range(limit):
            b.keys(KEY_TAB)
            a = active()
            if a["tag"] not in ("BODY", "H1") and (a["outline"] in ("none", "")
                                                   or a["width"] < 2):
                unseen_focus.append(a)
            if b.js("var e = document.activeElement; return !!(%s);"
                    % predicate):
                return a
        raise AssertionError("Tab never reached %s" % desc)

    def no_overflow(what):
        w = b.js("return [document.documentElement.scrollWidth, "
                 "window.innerWidth]")
        t.ok(w[0] <= w[1], "%s: nothing wider than the viewport "
             "(content %d px, viewport %d px)" % (what, w[0], w[1]))

    try:
        if started:
            @t.test
            def case_view_sign_in():
                b.go("%s/#Case/view/%s" % (url, kid))
                b.wait("return !!document.getElementById('signin-user')",
                       "the sign-in form")
                t.ok(True, "no session: the sign-in form")
                t.eq(b.js("return [document.getElementById('search'), "
                          "document.getElementById('nav'), document."
                          "getElementById('signout')].map(function (e) { "
                          "return e.offsetParent === null; })"),
                     [True, True, True], "no session: no search box, lists "
                     "nor sign-out shown")
                b.type("#signin-user", "agent1")
                b.type("#signin-pass", "not the password")
                b.click("#signin-submit")
                b.wait("var e = document.getElementById('signin-error');"
                       "return e && e.textContent;", "the sign-in error")
                t.eq(el_text("#signin-error"), "Wrong username or password.",
                     "bad password: the form shows the X-Status-Reason")
                b.type("#signin-pass", PASSWORD)
                b.click("#signin-submit")
                b.wait_text("#case-name", case.get("name"))
                t.ok(True, "signed in: the case from the URL's hash")
                t.eq(el_text("#case-contact"), cname,
                     "case view: the contact's name, as text")
                t.eq(b.js("return document.getElementById('case-contact')"
                          ".getAttribute('href')"), "#Contact/view/" + cid,
                     "case view: the contact links to #Contact/view/ID")
                t.eq(b.js("return document.querySelectorAll("
                          "'#case-contact *').length"), 0,
                     "markup in data is not rendered as markup")
                t.like(el_text("#case-number") or "",
                       r"#%s\b" % case.get("number"), "case view: the number")
                t.ok(el_text("#case-created"), "case view: created")
                t.eq((value("#case-f-status"), value("#case-f-priority"),
                      value("#case-f-type"), value("#case-f-contactId"),
                      value("#case-f-accountId"),
                      value("#case-f-description")),
                     ("New", "High", "", cname, "Acme Corp",
                      "Call Session: 900001"),
                     "case view: status, priority, type, contact, account, "
                     "description in their controls")
                t.eq(el_text("#nav-user"), "Agent One",
                     "the header names the agent")
                b.wait("return (document.getElementById('case-calls') || {})"
                       ".textContent.indexOf('Inbound call 900001') >= 0",
                       "the case's call")
                t.like(el_text("#case-calls"), r"Inbound.*Held.*4:05",
                       "case view: the call, its direction, status, duration")
                b.wait("return !!document.querySelector('#case-others "
                       "a[href=\"#Case/view/' + arguments[0] + '\"]')",
                       "the contact's other open case", kid3)
                t.ok(kid2 not in (el_text("#case-others") or "") and
                     not exists("#case-others a[href='#Case/view/%s']" % kid),
                     "case view: the contact's other open cases (not this "
                     "one, not the closed one)")

            try:
                signed_in = b.text("#case-name") == case.get("name")
            except Exception:  # noqa: BLE001
                signed_in = False
            if not signed_in:
                t.ok(False, "browser: the case view after sign-in",
                     diag="not signed in, so the steps that need a session "
                     "were not run")
            else:
                @t.test
                def first_load():
                    b.s("POST", "/refresh", {})
                    b.wait_text("#case-name", case.get("name"))
                    settled()
                    b.wait("return document.querySelectorAll('#case-others li,"
                           " #case-calls li, #case-notes li').length >= 3 &&"
                           " document.getElementById('view').textContent"
                           ".indexOf('Loading') < 0",
                           "every part of the case view")
                    got = b.js("return performance.getEntriesByType('resource')"
                               ".map(function (e) { return e.name.replace("
                               "location.origin, ''); })")
                    t.ok(1 + len(got) <= FIRST_LOAD_MAX,
                         "a case view's first load: %d requests (the page and "
                         "%s)" % (1 + len(got), ", ".join(got)))

                @t.test
                def browser_cookie():
                    cookies = {c["name"]: c for c in b.s("GET", "/cookie")}
                    c = cookies.get(COOKIE) or {}
                    t.eq((c.get("httpOnly"), c.get("secure"), c.get("sameSite")),
                         (True, True, "None"),
                         "the browser holds the cookie HttpOnly, Secure, "
                         "SameSite=None")
                    t.eq(b.js("return document.cookie.indexOf('%s')" % COOKIE), -1,
                         "scripts cannot read the session cookie")

                @t.test
                def edit_case():
                    select("#case-f-status", "Pending")
                    select("#case-f-priority", "Urgent")
                    select("#case-f-type", "Incident")
                    b.click("#case-f-assignedUserId")   # fetches the users
                    b.wait("return !!document.querySelector("
                           "'#case-f-assignedUserId option[value=\"' + "
                           "arguments[0] + '\"]')", "agent2 in the assignee "
                           "list", uid2)
                    b.click("#case-f-assignedUserId option[value='%s']" % uid2)
                    b.type("#case-f-description", "Caller asked about billing.\n"
                           "Promised a call back.")
                    b.click("#case-save")
                    wait_msg("#case-msg", "^Case saved")
                    t.eq(b.js("var m = document.getElementById('case-msg');"
                              "return [m.getAttribute('role'), "
                              "m.getAttribute('aria-live')]"),
                         ["status", "polite"], "case saved: the page says so "
                         "in a live region (a screen reader announces it)")
                    t.eq(el_text("#case-status-current"), "Pending",
                         "the status badge follows")
                    j = s.request("GET", "/Case/" + kid).json or {}
                    t.eq((j.get("status"), j.get("priority"), j.get("type"),
                          j.get("assignedUserId"), j.get("assignedUserName"),
                          j.get("modifiedById")),
                         ("Pending", "Urgent", "Incident", uid2, "Bea Second",
                          uid), "API: status, priority, type, assignee changed "
                         "by the agent")

                @t.test
                def add_note():
                    b.type("#note-text", NOTE)
                    b.click("#note-add")
                    b.wait("var p = document.querySelector('#case-notes .post');"
                           "return p && p.textContent === arguments[0];",
                           "the new note in the list", NOTE)
                    t.ok(True, "note added: shown in the stream")
                    t.eq(b.js("return document.querySelectorAll('#case-notes .post"
                              " *').length"), 0, "the note's markup stays text")
                    t.like(b.text("#case-notes .meta") or "", "Agent One",
                           "the note names its author")
                    t.eq(value("#note-text"), "", "the note box is emptied")

                @t.test
                def play_recording():
                    css = "#case-calls audio"
                    t.eq(b.js("var a = document.querySelector(arguments[0]);"
                              "return a && a.getAttribute('src')", css),
                         "api/v1/Attachment/file/" + rec_id,
                         "case view: the call's recording in an <audio> element")
                    audio_check(css, len(WAV), hashlib.sha256(WAV).hexdigest())

                @t.test
                def rename_new_caller():
                    go("Contact/view/" + ncid)
                    b.wait_text("#contact-name", "New Caller " + CALL_ID)
                    settled()
                    t.eq(value("#contact-f-firstName"), "New Caller",
                         "contact view: the first name in its control")
                    b.type("#contact-f-firstName", "Grace")
                    b.type("#contact-f-lastName", "Hopper")
                    b.type("#contact-f-title", "Rear Admiral")
                    # A second phone, Office, made primary.
                    b.click("#contact-f-phoneNumber-add")
                    b.type("#contact-f-phoneNumber .item:nth-child(2) .value",
                           "(555) 010-2222")
                    pick_option("#contact-f-phoneNumber .item:nth-child(2) "
                                ".type", "Office")
                    b.click("#contact-f-phoneNumber .item:nth-child(2) .primary")
                    b.click("#contact-f-emailAddress-add")
                    b.type("#contact-f-emailAddress .item:nth-child(1) .value",
                           "grace at navy")
                    b.type("#contact-f-accountId", "Hopper Labs")
                    b.type("#contact-f-description", "Prefers email.")
                    b.click("#contact-save")
                    got = wait_msg("#contact-msg", "^Not saved")
                    t.eq(got, "Not saved: Field validation failure; entityType: "
                         "Contact, field: emailAddress, type: valid.",
                         "a refused save shows the server's reason")
                    t.eq(b.js("return document.getElementById('contact-msg')"
                              ".getAttribute('aria-live')"), "polite",
                         "... in the form's live region")
                    t.eq((value("#contact-f-firstName"),
                          value("#contact-f-lastName"),
                          value("#contact-f-title"),
                          value("#contact-f-phoneNumber .item:nth-child(2) .value"),
                          value("#contact-f-emailAddress .item .value"),
                          value("#contact-f-accountId"),
                          value("#contact-f-description")),
                         ("Grace", "Hopper", "Rear Admiral", "(555) 010-2222",
                          "grace at navy", "Hopper Labs", "Prefers email."),
                         "... and keeps everything typed")
                    j = s.request("GET", "/Contact/" + ncid).json or {}
                    t.eq(j.get("name"), "New Caller " + CALL_ID,
                         "API: the refused save changed nothing")
                    # Away to the caller's case and back: still there.
                    go("Case/view/" + nkid)
                    b.wait("return !!document.getElementById('case-f-status')",
                           "the case")
                    go("Contact/view/" + ncid)
                    b.wait_text("#contact-name", "New Caller " + CALL_ID)
                    wait_msg("#contact-msg", "unsaved changes are back")
                    t.eq((value("#contact-f-firstName"),
                          value("#contact-f-phoneNumber .item:nth-child(2) .value"),
                          b.js("return document.querySelector('#contact-f-"
                               "phoneNumber .item:nth-child(2) .primary')"
                               ".checked"),
                          value("#contact-f-accountId")),
                         ("Grace", "(555) 010-2222", True, "Hopper Labs"),
                         "leaving the view and coming back: the unsaved "
                         "edits are restored")
                    b.type("#contact-f-emailAddress .item .value",
                           "grace@example.com")
                    b.click("#contact-save")
                    wait_msg("#contact-msg", "^Contact saved")
                    b.wait_text("#contact-name", "Grace Hopper")
                    t.ok(True, "saved: the title shows the new name")
                    r = s.request("GET", "/Contact?where[0][type]=equals&"
                                  "where[0][attribute]=name&where[0][value]="
                                  "Grace%20Hopper")
                    ids = [x.get("id") for x in (r.json or {}).get("list", [])]
                    t.eq(ids, [ncid], "API: the new name finds the caller")
                    j = s.request("GET", "/Contact/" + ncid).json or {}
                    t.eq(j.get("phoneNumber"), "+15550102222",
                         "API: the new Office number is the primary")
                    t.eq(sorted((p.get("phoneNumber"), p.get("type"),
                                 p.get("primary"))
                                for p in j.get("phoneNumberData") or []),
                         [("+15550102222", "Office", True),
                          (CALLER_PHONE, "Mobile", False)],
                         "API: both numbers, with type and primary")
                    t.eq((j.get("emailAddress"), j.get("title"),
                          j.get("description"), j.get("accountName")),
                         ("grace@example.com", "Rear Admiral", "Prefers email.",
                          "Hopper Labs"), "API: email, title, description, "
                         "account")
                    a = s.request("GET", "/Account/%s" % j.get("accountId")).json or {}
                    t.eq((a.get("name"), a.get("createdById")),
                         ("Hopper Labs", uid), "API: the account was created "
                         "by name, by the agent")
                    t.ok(j.get("accountId") in (j.get("accountsIds") or []),
                         "API: and is among the contact's accounts")
                    t.eq(value("#contact-f-phoneNumber .item:nth-child(2) .value"),
                         "+15550102222", "the form shows the stored number")

                @t.test
                def timeline():
                    b.type("#note-text", "Asked for a callback tomorrow.")
                    b.click("#note-add")
                    b.wait("return !!document.querySelector('#contact-timeline "
                           "li[data-kind=Note]')", "the note in the timeline")
                    items = b.js("return Array.from(document.querySelectorAll("
                                 "'#contact-timeline > li[data-kind]')).map("
                                 "function (e) { return [e.dataset.kind, "
                                 "e.dataset.t, e.dataset.id]; })")
                    kinds = [i[0] for i in items]
                    t.ok({"Case", "Call", "Note"} <= set(kinds),
                         "the timeline has the caller's case, call and note "
                         "(%r)" % kinds)
                    times = [i[1] for i in items]
                    t.eq(times, sorted(times, reverse=True),
                         "the timeline is newest first")
                    t.like(el_text("#contact-timeline li[data-id='%s']" % ncall)
                           or "", r"Inbound.*Held.*2:30",
                           "the call: direction, status, duration")
                    audio_check("#contact-timeline li[data-id='%s'] audio" % ncall,
                                len(WAV), hashlib.sha256(WAV).hexdigest())

                @t.test
                def new_case_for_contact():
                    b.click("#newcase-open")
                    b.type("#newcase-name", "Wants a refund")
                    select("#newcase-type", "Question")
                    b.click("#newcase-create")
                    b.wait_text("#case-name", "Wants a refund")
                    t.ok(True, "new case for this contact: it opens")
                    newk = b.js("return document.getElementById('case')"
                                ".getAttribute('data-id')")
                    t.eq(b.js("return location.hash"), "#Case/view/" + newk,
                         "... at #Case/view/ID")
                    wait_msg("#flash", "created")
                    j = s.request("GET", "/Case/" + newk).json or {}
                    t.eq((j.get("contactId"), j.get("type"),
                          j.get("assignedUserId"), j.get("createdById")),
                         (ncid, "Question", uid, uid),
                         "API: the case is the contact's, assigned to the "
                         "agent who created it")
                    TL["new_case"] = newk
                    # An existing account picked by name on the case.
                    b.type("#case-f-accountId", "acme corp")
                    b.click("#case-save")
                    wait_msg("#case-msg", "^Case saved")
                    j = s.request("GET", "/Case/" + newk).json or {}
                    t.eq((j.get("accountId"), value("#case-f-accountId")),
                         (acme, "Acme Corp"), "case view: an account picked by "
                         "name (case-insensitive) links the existing one")
                    n = (s.request("GET", "/Account?where[0][type]=equals&"
                                   "where[0][attribute]=name&where[0][value]="
                                   "Acme%20Corp").json or {}).get("total")
                    t.eq(n, 1, "... and creates no second account")

                @t.test
                def session_ends_while_typing():
                    # The session ends (signed out elsewhere) while the
                    # agent writes a note: the write fails with 401, the
                    # page asks to sign in again over the view, and the
                    # note is still there to be saved afterwards.
                    tok = {c["name"]: c for c in b.s("GET", "/cookie")}.get(
                        COOKIE, {}).get("value")
                    r = s.request("GET", "/App/user", key=None,
                                  headers=with_cookie(tok))
                    r = s.request("DELETE", "/App/session", key=None,
                                  headers=with_cookie(tok, (r.json or {})
                                                      .get("csrfToken")))
                    t.status(r, 200, "setup: the session ended on the server")
                    b.type("#note-text", "Typed before the session ended")
                    b.click("#note-add")
                    b.wait("return !!document.getElementById('signin-user')",
                           "the sign-in form")
                    t.ok(b.js("return document.getElementById('view').hidden"),
                         "401 on a write: the sign-in form, the view kept "
                         "under it")
                    b.type("#signin-user", "agent1")
                    b.type("#signin-pass", PASSWORD)
                    b.click("#signin-submit")
                    b.wait("return !document.getElementById('view').hidden",
                           "the view back")
                    t.eq(value("#note-text"), "Typed before the session ended",
                         "signed in again: the typed note is still there")
                    b.click("#note-add")
                    wait_msg("#note-msg", "^Note added")
                    j = s.request("GET", "/Case/%s/stream" % TL["new_case"]).json or {}
                    t.ok(any(x.get("post") == "Typed before the session ended"
                             for x in j.get("list", [])),
                         "API: the note saved after signing in again")

                @t.test
                def search():
                    b.type("#search-text", CONTACT_PHONE_OTHER)
                    b.click("#search-submit")
                    b.wait("return !!document.querySelector('#search-contact "
                           "a[href=\"#Contact/view/' + arguments[0] + '\"]')",
                           "the contact in the results", cid)
                    t.ok(True, "search: %r finds the contact stored as %s"
                         % (CONTACT_PHONE_OTHER, CONTACT_PHONE))
                    t.eq(b.js("return location.hash"), "#search/" +
                         urllib.request.quote(CONTACT_PHONE_OTHER, safe="()"),
                         "search: the query is in the hash (#search/...)")
                    b.type("#search-text", "acme")
                    b.click("#search-submit")
                    b.wait("return !!document.querySelector('#search-account "
                           "a[href=\"#Account/view/' + arguments[0] + '\"]')",
                           "the account in the results", acme)
                    t.ok(True, "search: an account by name")
                    b.type("#search-text", "#%s" % case.get("number"))
                    b.click("#search-submit")
                    b.wait("return !!document.querySelector('#search-case "
                           "a[href=\"#Case/view/' + arguments[0] + '\"]')",
                           "the case in the results", kid)
                    t.ok(True, "search: a case by its number")
                    b.type("#search-text", "grace@example")
                    b.click("#search-submit")
                    b.wait("return !!document.querySelector('#search-contact "
                           "a[href=\"#Contact/view/' + arguments[0] + '\"]')",
                           "the renamed caller by email", ncid)
                    t.ok(True, "search: a contact by email")

                @t.test
                def lists():
                    go("Case")
                    b.wait("return !!document.querySelector('#cases-mine "
                           "a[href=\"#Case/view/' + arguments[0] + '\"]')",
                           "my open case", TL.get("new_case", "x"))
                    t.ok(not exists("#cases-mine a[href='#Case/view/%s']" % kid),
                         "#Case: my open cases first (not the one assigned to "
                         "someone else)")
                    settled()
                    t.ok(exists("#cases-all a[href='#Case/view/%s']" % kid) and
                         not exists("#cases-all a[href='#Case/view/%s']" % kid2),
                         "#Case: all cases, open by default (the closed one "
                         "left out)")
                    pick_option("#cases-filter", "s:Closed")
                    b.wait("return !!document.querySelector('#cases-all "
                           "a[href=\"#Case/view/' + arguments[0] + '\"]')",
                           "the closed case", kid2)
                    t.ok(not exists("#cases-all a[href='#Case/view/%s']" % kid),
                         "#Case: filtered by status Closed")
                    go("Contact")
                    b.wait("return !!document.querySelector('#contacts-all "
                           "a[href=\"#Contact/view/' + arguments[0] + '\"]')",
                           "the contacts list", ncid)
                    t.ok(exists("#contacts-all a[href='#Contact/view/%s']" % cid),
                         "#Contact: the contacts")

                @t.test
                def account_and_call_views():
                    go("Account/view/" + acme)
                    b.wait_text("#account-name", "Acme Corp")
                    b.wait("return !!document.querySelector('#account-contacts "
                           "a[href=\"#Contact/view/' + arguments[0] + '\"]')",
                           "the account's contact", cid)
                    b.wait("return !!document.querySelector('#account-cases "
                           "a[href=\"#Case/view/' + arguments[0] + '\"]')",
                           "the account's case", kid)
                    t.ok(True, "#Account/view/ID: its contacts and cases")
                    b.type("#account-f-website", "acme.example")
                    b.click("#account-save")
                    wait_msg("#account-msg", "^Account saved")
                    t.eq((s.request("GET", "/Account/" + acme).json or {})
                         .get("website"), "acme.example", "API: the account "
                         "edited")
                    go("Call/view/" + call_id)
                    b.wait_text("#call-name", "Inbound call 900001")
                    t.eq(el_text("#call-duration"), "4:05",
                         "#Call/view/ID: the duration")
                    t.ok(exists("#call-recording audio") and
                         not exists("#call-form") and exists("#call-readonly"),
                         "#Call/view/ID: the recording; the role edits only "
                         "its own calls, so no form")
                    audio_check("#call-recording audio", len(WAV),
                                hashlib.sha256(WAV).hexdigest())

                @t.test
                def keyboard_only():
                    # Find the caller by a phone number, open the contact,
                    # add a note, open its case, change the status, save:
                    # keys only, from the home page.
                    go("")
                    settled()
                    b.keys("/")
                    t.eq(b.js("var e = document.activeElement; return [e.id, "
                              "e.selectionStart, e.selectionEnd, e.value.length]"),
                         ["search-text", 0, len(value("#search-text"))] * 1 +
                         [len(value("#search-text"))],
                         "'/' puts the keyboard in the search box, its text "
                         "selected")
                    b.keys("555 010 2222", KEY_ENTER)
                    b.wait("return !!document.querySelector('#search-contact "
                           "a[href=\"#Contact/view/' + arguments[0] + '\"]')",
                           "the caller found by the number", ncid)
                    tab_to("e.getAttribute('href') === '#Contact/view/%s'" % ncid,
                           "the contact's link")
                    b.keys(KEY_ENTER)
                    b.wait_text("#contact-name", "Grace Hopper")
                    settled()
                    tab_to("e.id === 'note-text'", "the note box")
                    b.keys("Keyboard only note")
                    tab_to("e.id === 'note-add'", "Add note", limit=3)
                    b.keys(KEY_ENTER)
                    b.wait("return (document.getElementById('contact-timeline')"
                           " || {}).textContent.indexOf('Keyboard only note') >= 0",
                           "the note in the timeline")
                    t.ok(True, "keyboard: a note added to the caller")
                    tab_to("e.getAttribute('href') === '#Case/view/%s'" % nkid,
                           "the CCAI case in the timeline")
                    b.keys(KEY_ENTER)
                    b.wait("return !!document.getElementById('case-f-status')",
                           "the case")
                    settled()
                    tab_to("e.id === 'case-f-status'", "the status control")
                    b.keys(KEY_DOWN, KEY_DOWN)    # New → Assigned → Pending
                    t.eq(value("#case-f-status"), "Pending",
                         "keyboard: arrows change the status")
                    tab_to("e.id === 'case-save'", "Save")
                    b.keys(KEY_ENTER)
                    wait_msg("#case-msg", "^Case saved")
                    t.eq((s.request("GET", "/Case/" + nkid).json or {})
                         .get("status"), "Pending",
                         "keyboard: API sees the case Pending")
                    j = s.request("GET", "/Contact/%s/stream" % ncid).json or {}
                    t.ok(any(n.get("post") == "Keyboard only note"
                             for n in j.get("list", [])),
                         "keyboard: API sees the note")
                    t.eq(unseen_focus, [], "every control the keyboard "
                         "reached showed a visible focus outline")

                @t.test
                def widths_and_screenshots():
                    os.makedirs(SHOTS, exist_ok=True)
                    views = [("case", "Case/view/" + kid, "#case-name"),
                             ("contact", "Contact/view/" + ncid, "#contact-name"),
                             ("account", "Account/view/" + acme, "#account-name"),
                             ("call", "Call/view/" + ncall, "#call-name"),
                             ("cases", "Case", "#cases"),
                             ("contacts", "Contact", "#contacts"),
                             ("search", "search/555%200104321", "#search-view")]
                    shots = []
                    for width, height in ((360, 1400), (1280, 1000)):
                        b.viewport(width, height)
                        for name, h, css in views:
                            go(h)
                            b.wait("return !!document.querySelector(arguments[0])",
                                   name, css)
                            settled()
                            t.eq(b.js("return window.innerWidth"), width,
                                 "%s at %d px" % (name, width))
                            no_overflow("%s at %d px" % (name, width))
                            path = os.path.join(SHOTS, "%s-%d.png" % (name, width))
                            b.screenshot(path)
                            shots.append(path)
                    b.s("POST", "/goog/cdp/execute", {
                        "cmd": "Emulation.clearDeviceMetricsOverride",
                        "params": {}})
                    t.ok(all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
                             for p in shots),
                         "%d screenshots saved" % len(shots))
                    t.diag("screenshots: %s" % SHOTS)

                @t.test
                def role_limits():
                    # viewer: role `limited` may edit only its own cases.
                    r, vtok = sign_in(s, "viewer", VIEWER_PW)
                    vid = ((r.json or {}).get("user") or {}).get("id", "none")
                    vcsrf = (r.json or {}).get("csrfToken")
                    r = s.request("GET", "/App/user", key=None,
                                  headers=with_cookie(vtok))
                    table = ((r.json or {}).get("acl") or {}).get("table") or {}
                    t.eq(table.get("Case", {}).get("edit"), "own",
                         "viewer's acl.table.Case.edit is own")
                    r = s.request("POST", "/Case", {"name": "Viewer's own case",
                                                    "assignedUserId": vid,
                                                    "contactId": cid})
                    t.status(r, 200, "setup: a case assigned to viewer")
                    vkid = (r.json or {}).get("id", "none")
                    b.click("#signout")
                    b.wait("return !!document.getElementById('signin-user')",
                           "the sign-in form")
                    b.type("#signin-user", "viewer")
                    b.type("#signin-pass", VIEWER_PW)
                    b.click("#signin-submit")
                    settled()
                    go("Case/view/" + kid)
                    b.wait_text("#case-name", case.get("name"))
                    settled()
                    t.ok(not exists("#case-f-status") and not exists("#case-form")
                         and not exists("select, textarea"),
                         "a case the role may not edit: no status control, no "
                         "form, no text box")
                    t.eq(el_text("#case-v-status"), "Pending",
                         "... the status as text")
                    t.ok(exists("#case-readonly") and not exists("#note-form"),
                         "... a line saying so; no note box (no Note create)")
                    os.makedirs(SHOTS, exist_ok=True)
                    b.screenshot(os.path.join(SHOTS, "case-readonly-1280.png"))
                    r = s.request("PUT", "/Case/" + kid, {"status": "Closed"},
                                  key=None, headers=with_cookie(vtok, vcsrf))
                    t.eq((r.status, r.headers.get("X-Status-Reason")),
                         (403, "No edit access."), "and the API refuses it anyway")
                    go("Case/view/" + vkid)
                    b.wait_text("#case-name", "Viewer's own case")
                    settled()
                    t.ok(exists("#case-f-status"),
                         "the role's own case (edit own): the status control")
                    select("#case-f-status", "Closed")
                    b.click("#case-save")
                    wait_msg("#case-msg", "^Case saved")
                    t.eq((s.request("GET", "/Case/" + vkid).json or {})
                         .get("status"), "Closed", "API: viewer closed its case")
                    go("Contact/view/" + cid)
                    b.wait_text("#contact-name", cname)
                    settled()
                    t.ok(not exists("#contact-form") and
                         not exists("#newcase-open"),
                         "a contact the role may not edit: no form, no \"new "
                         "case\" (no Case create)")
                    r = s.request("PUT", "/Contact/" + cid, {"title": "x"},
                                  key=None, headers=with_cookie(vtok, vcsrf))
                    t.status(r, 403, "and the API refuses a contact edit")
                    b.click("#signout")
                    b.wait("return !!document.getElementById('signin-user')",
                           "the sign-in form after sign-out")
                    go("Case/view/" + kid)
                    b.wait("return !!document.getElementById('signin-user')",
                           "the sign-in form after reload")
                    t.ok(b.text("#case-name") is None,
                         "after sign out a reload shows no case")

                @t.test
                def unknown_case():
                    b.type("#signin-user", "agent1")
                    b.type("#signin-pass", PASSWORD)
                    b.click("#signin-submit")
                    settled()
                    go("Case/edit/" + kid)
                    b.wait_text("#case-name", case.get("name"))
                    t.ok(True, "EspoCRM's #Case/edit/ID opens the case too")
                    go("Case/view/" + "0" * 17)
                    b.wait("return document.body.innerText.indexOf("
                           "'Case not found') >= 0", "the not-found view")
                    t.ok(True, "an unknown case id: 'Case not found'")
                    b.click("#signout")
                    b.wait("return !!document.getElementById('signin-user')",
                           "signed out")

            # CCAI frames the page from another site.  localhost and
            # 127.0.0.1 are different sites to the browser, so a page at
            # https://localhost:PORT plays CCAI's agent desktop.
            def frame_state():
                """The framed page's location, or the error page's."""
                fr = b.find("#ccai-frame")
                b.s("POST", "/frame", {"id": {ELEMENT: fr}})
                try:
                    return b.js("return {href: location.href, signin: "
                                "!!document.getElementById('signin-user'), "
                                "name: (document.getElementById('case-name') "
                                "|| {}).textContent || null};")
                finally:
                    b.s("POST", "/frame/parent", {})

            def open_framed():
                host = "https://localhost:%d" % s.port
                b.go(host + "/#ccai-desktop")
                b.wait("return document.readyState === 'complete'", "the host")
                b.js("var f = document.createElement('iframe');"
                     "f.id = 'ccai-frame'; f.width = 360; f.height = 900;"
                     "f.style.border = '0'; f.src = arguments[0];"
                     "document.body.prepend(f);",
                     "%s/#Case/view/%s" % (url, kid))
                deadline = time.time() + 15
                while True:
                    st = frame_state()
                    if (st["href"].startswith("chrome-error:") or st["signin"]
                            or st["name"]):
                        return st
                    if time.time() > deadline:
                        raise AssertionError("framed page never settled: %r"
                                             % st)
                    time.sleep(0.2)

            @t.test
            def framed_refused_by_default():
                st = open_framed()
                t.ok(st["href"].startswith("chrome-error:"),
                     "framed by an unlisted site: the browser refuses "
                     "(frame-ancestors) (%r)" % st["href"])

            @t.test
            def framed_when_listed():
                cfg = deep_merge(s.base_config(), EXTRA)
                cfg["frame_ancestors"] = DEFAULT_ANCESTORS + [
                    "https://localhost:%d" % s.port]
                t.ok(s.reload_config(cfg), "reload with frame_ancestors "
                     "listing the host")
                r = s.request("GET", "/", key=None)
                t.like(r.headers.get("Content-Security-Policy", ""),
                       r"frame-ancestors .*https://localhost:%d" % s.port,
                       "GET /: the configured frame-ancestors")
                st = open_framed()
                t.ok(st["signin"], "framed by a listed site: the page "
                     "loads and asks to sign in (%r)" % st)
                fr = b.find("#ccai-frame")
                b.s("POST", "/frame", {"id": {ELEMENT: fr}})
                try:
                    b.type("#signin-user", "agent1")
                    b.type("#signin-pass", PASSWORD)
                    b.click("#signin-submit")
                    b.wait_text("#case-name", case.get("name"))
                    t.ok(True, "signed in inside the cross-site frame: "
                         "the case (SameSite=None cookie kept)")
                    t.eq(b.js("return window.innerWidth"), 360,
                         "the frame is 360 px wide")
                    settled()
                    no_overflow("the case in a 360 px frame")
                    t.eq(b.js("return document.getElementById("
                              "'nav-newtab').hidden"), False,
                         "framed: an 'Open in new tab' link")
                    select("#case-f-priority", "Low")
                    b.click("#case-save")
                    wait_msg("#case-msg", "^Case saved")
                    t.eq((s.request("GET", "/Case/" + kid).json or {})
                         .get("priority"), "Low",
                         "framed: a save goes through (cookie and CSRF token "
                         "in the cross-site frame)")
                finally:
                    b.s("POST", "/frame/parent", {})
                path = os.path.join(SHOTS, "framed-360.png")
                b.screenshot(path)
                t.diag("framed screenshot: %s" % path)
    finally:
        b.close()

    # ---- what the browser did, seen through the API ------------------------

    @t.test
    def api_sees_changes():
        if not (started and signed_in):
            t.ok(False, "no browser session, no changes to check")
            return
        r = s.request("GET", "/Case/" + kid)
        j = r.json or {}
        t.eq(j.get("description"),
             "Caller asked about billing.\nPromised a call back.",
             "API: the edited description")
        r = s.request("GET", "/Case/%s/stream" % kid)
        notes = [n for n in (r.json or {}).get("list", [])
                 if n.get("post") == NOTE]
        t.eq(len(notes), 1, "API: the note is in the case's stream once")
        if notes:
            t.eq(notes[0].get("createdById"), uid, "API: the note's author "
                 "is the agent")

    # Last: it leaves 127.0.0.1 over the failed-login limit.
    @t.test
    def sign_in_limited():
        limit = 10   # auth_fail_limit's default
        for _ in range(limit + 2):
            r, _ = sign_in(s, "agent1", "guess")
        t.status(r, 403, "past auth_fail_limit wrong passwords: 403")
        r, tok = sign_in(s, "agent1", PASSWORD)
        t.ok(r.status == 403 and tok is None,
             "past the limit even the right password gets no session "
             "(got %d)" % r.status)


t.done()
