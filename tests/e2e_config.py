"""The shipped configuration, checked from outside.

1. `fastcrm check-config` warns about a configuration file that holds
   secrets (API key hashes, HMAC secrets, password hashes, OAuth2 clients)
   and is readable by group or others: one warning on stderr naming the
   file, its mode and the fix (chmod 600), exit status 0; nothing for 0600
   or a file without secrets. `fastcrm serve` logs the same warning at
   start and on a reload.
2. nginx/fastcrm.conf.in, rendered by the harness and run by a real nginx:
   TLS 1.0 and 1.1 refused, 1.2 and 1.3 accepted; under TLS 1.2 only
   forward-secret AEAD suites (CBC suites and RSA key exchange refused),
   with an ECDSA and with an RSA certificate; a local TLS server that
   accepts everything shows the client really offers what is refused.
   HSTS and X-Content-Type-Options on every answer: fastcrm's successes
   and errors, and nginx's own errors (400, 404, 413, 414, 429), those in
   fastcrm's JSON shape with X-Status-Reason. A body over max_body is 413
   before fastcrm sees it. The per-address rate limit answers 429 with a
   reason under a burst; 127.0.0.1 is exempt, so the test comes from
   127.0.0.2 with the limit lowered (the shipped 2000r/s, burst 4000 would
   take more than a Python client can send).
"""

import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, find_fastcrm, sha512_crypt  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1

BIN = find_fastcrm()
HEX = hashlib.sha256(b"k").hexdigest()
MAX_BODY = 1024 * 1024
RATE, BURST = "2r/s", 5

# ---------------------------------------------------------------------------
# 1. check-config and serve: the world-readable warning

BASE = ("listen: unix:/tmp/fastcrm-cfg-test.sock\n"
        "data_dir: /tmp/fastcrm-cfg-test-data\n"
        "roles:\n"
        "  r:\n"
        "    \"*\": {create: yes, read: all, edit: all, delete: all}\n")
SECRETS = {
    "an API key hash": "api_users:\n"
    "  - {name: a, role: r, api_key_sha256: \"%s\"}\n" % HEX,
    "a password hash": "api_users:\n"
    "  - {name: a, role: r, password_hash: \"%s\"}\n" % sha512_crypt("pw-12345"),
    "an HMAC secret": "api_users:\n"
    "  - {name: a, role: r, api_key_sha256: \"%s\", "
    "hmac_secret: \"not-a-real-secret\"}\n" % HEX,
    "an OAuth2 client": "oauth2_clients:\n"
    "  - {client_id: c, client_secret_sha256: \"%s\", "
    "redirect_uris: [\"https://example.invalid/cb\"], role: r}\n" % HEX,
}


def check_config(path, dash_c=False):
    args = [BIN, "check-config"] + (["-c"] if dash_c else []) + [path]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def warning_for(path, mode):
    return ("warning: %s: holds secrets but is readable by others "
            "(mode %04o); chmod 600 it" % (path, mode))


tmp = tempfile.mkdtemp(prefix="fastcrm-cfg-")
try:
    @t.test
    def check_config_warns():
        for what, extra in SECRETS.items():
            path = os.path.join(tmp, "secrets.yaml")
            with open(path, "w") as f:
                f.write(BASE + extra)
            for mode in (0o644, 0o640, 0o604):
                os.chmod(path, mode)
                p = check_config(path)
                t.ok(p.returncode == 0 and p.stdout == "%s: ok\n" % path and
                     p.stderr == warning_for(path, mode) + "\n",
                     "%s, mode %04o: exit 0, 'ok', one warning naming the "
                     "file, its mode and chmod 600" % (what, mode),
                     "exit %d\nstdout: %r\nstderr: %r" % (
                         p.returncode, p.stdout, p.stderr))
            os.chmod(path, 0o600)
            p = check_config(path)
            t.ok(p.returncode == 0 and p.stderr == "",
                 "%s, mode 0600: no warning" % what,
                 "exit %d\nstderr: %r" % (p.returncode, p.stderr))
        path = os.path.join(tmp, "plain.yaml")
        with open(path, "w") as f:
            f.write(BASE)
        os.chmod(path, 0o644)
        p = check_config(path)
        t.ok(p.returncode == 0 and p.stderr == "",
             "no secrets, mode 0644: no warning",
             "exit %d\nstderr: %r" % (p.returncode, p.stderr))

    @t.test
    def check_config_dash_c():
        path = os.path.join(tmp, "secrets.yaml")
        os.chmod(path, 0o644)
        a, b = check_config(path), check_config(path, dash_c=True)
        t.eq((b.returncode, b.stdout, b.stderr),
             (a.returncode, a.stdout, a.stderr),
             "check-config -c FILE answers like check-config FILE")
        t.like(b.stderr, r"chmod 600", "... the warning included")
        with open(path, "a") as f:
            f.write("workers: lots\n")
        p = check_config(path, dash_c=True)
        t.ok(p.returncode == 1 and "invalid" in p.stderr and
             "workers" in p.stderr, "an invalid file: exit 1, the error "
             "named", p.stderr)
        p = subprocess.run([BIN, "check-config", "-c"], capture_output=True,
                           text=True)
        t.eq(p.returncode, 2, "check-config -c without a file: usage, exit 2")
finally:
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# TLS helpers

V = ssl.TLSVersion


def client_ctx(vmin, vmax, ciphers=None):
    """A client that offers exactly vmin..vmax and ciphers (TLS 1.2 and
    below), with OpenSSL's own security level lowered so that the refusal,
    if any, is the server's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = vmin
    ctx.maximum_version = vmax
    ctx.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
    return ctx


def handshake(port, ctx, key=None):
    """(version, cipher, status) on success, or the SSLError.  With key,
    sends GET /api/v1/App/user with it and gives the status."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw) as s:
                status = None
                if key is not None:
                    s.sendall(b"GET /api/v1/App/user HTTP/1.1\r\n"
                              b"Host: localhost\r\nConnection: close\r\n"
                              b"X-Api-Key: " + key.encode() + b"\r\n\r\n")
                    r = http.client.HTTPResponse(s, method="GET")
                    r.begin()
                    status = r.status
                    r.read()
                return s.version(), s.cipher()[0], status
    except ssl.SSLError as e:
        return e


def refused_by_server(res):
    """An SSLError carrying a TLS alert from the peer."""
    return isinstance(res, ssl.SSLError) and "ALERT" in str(res).upper()


class Control:
    """A TLS server that accepts every version and cipher (security level
    0), to show that what nginx refuses is really offered by the client."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.minimum_version = V.TLSv1
        self.ctx.set_ciphers("ALL:@SECLEVEL=0")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.th = threading.Thread(target=self.serve, daemon=True)
        self.th.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(10)
                with self.ctx.wrap_socket(c, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                c.close()

    def close(self):
        self.sock.close()


def tls_checks(s, label, cert, key, refused, accepted):
    """Versions and ciphers against stack s; the control server uses the
    same certificate."""
    ctl = Control(cert, key)
    try:
        for name, v in (("TLS 1.0", V.TLSv1), ("TLS 1.1", V.TLSv1_1)):
            c = handshake(ctl.port, client_ctx(v, v))
            if isinstance(c, ssl.SSLError):
                t.skip("%s: %s refused" % (label, name),
                       "this OpenSSL cannot speak %s at all (%s)" % (name, c))
                continue
            res = handshake(s.port, client_ctx(v, v))
            t.ok(refused_by_server(res), "%s: %s refused by nginx with an "
                 "alert (the control server accepts it: %s)" % (label, name,
                                                                c[1]),
                 repr(res))
        for name, v in (("TLS 1.2", V.TLSv1_2), ("TLS 1.3", V.TLSv1_3)):
            res = handshake(s.port, client_ctx(v, v), key=s.key)
            ok = not isinstance(res, ssl.SSLError)
            t.ok(ok and res[0] == name.replace(" ", "v") and res[2] == 200,
                 "%s: %s accepted and serves the API" % (label, name),
                 repr(res))
            if ok:
                t.diag("%s: %s negotiated %s" % (label, name, res[1]))
        for cipher, why in refused:
            c = handshake(ctl.port, client_ctx(V.TLSv1_2, V.TLSv1_2, cipher))
            if isinstance(c, ssl.SSLError):
                t.skip("%s: %s refused" % (label, cipher),
                       "the control server cannot use it either: %s" % c)
                continue
            res = handshake(s.port, client_ctx(V.TLSv1_2, V.TLSv1_2, cipher))
            t.ok(refused_by_server(res), "%s: TLS 1.2 %s (%s) refused; the "
                 "control server accepts it" % (label, cipher, why),
                 repr(res))
        for cipher in accepted:
            res = handshake(s.port, client_ctx(V.TLSv1_2, V.TLSv1_2, cipher),
                            key=s.key)
            t.ok(not isinstance(res, ssl.SSLError) and res[1] == cipher and
                 res[2] == 200, "%s: TLS 1.2 %s accepted" % (label, cipher),
                 repr(res))
    finally:
        ctl.close()


# ---------------------------------------------------------------------------
# HTTP helpers

def raw_request(port, data):
    """Sends bytes as they are over TLS; returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with Stack._ssl_context().wrap_socket(raw) as s:
            s.sendall(data)
            r = http.client.HTTPResponse(s, method="GET")
            r.begin()
            return r.status, r.getheaders(), r.read()


def security_headers(label, headers, status, body, nginx_error=False):
    """HSTS and nosniff exactly once each; an error in fastcrm's shape."""
    hs = [v for k, v in headers if k.lower() == "strict-transport-security"]
    ns = [v for k, v in headers if k.lower() == "x-content-type-options"]
    age = -1
    if len(hs) == 1 and hs[0].startswith("max-age="):
        age = int(hs[0].split("=", 1)[1].split(";")[0])
    t.ok(len(hs) == 1 and age >= 31536000 and ns == ["nosniff"],
         "%s (%d): HSTS (max-age %d) and X-Content-Type-Options: nosniff, "
         "once each" % (label, status, age), repr(headers))
    if status >= 400:
        try:
            j = json.loads(body)
        except ValueError:
            j = None
        reason = dict((k.lower(), v) for k, v in headers).get(
            "x-status-reason")
        t.ok(isinstance(j, dict) and j.get("status") == status and
             j.get("reason") and reason == j.get("reason"),
             "%s (%d): JSON body {status, reason} and the same "
             "X-Status-Reason" % (label, status), repr(body[:200]))


def can_bind(addr):
    try:
        with socket.socket() as so:
            so.bind((addr, 0))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# 1b, 2: one stack, the configuration file left 0644 for the warning

s = Stack(config_extra={"max_body": "1MiB"}, limit_rate=RATE,
          limit_burst=BURST, start=False)
try:
    os.chmod(s.config_path, 0o644)
    s.start()

    @t.test
    def serve_logs_the_warning():
        want = ("holds secrets but is readable by others (mode 0644); "
                "chmod 600 it")
        t.ok(want in s.log_text() and s.config_path in s.log_text(),
             "serve logs the warning at start, naming the file",
             s.log_text()[-2000:])
        t.eq(s.request("GET", "/App/user").status, 200,
             "... and serves all the same")
        os.chmod(s.config_path, 0o600)
        n = s.log_text().count(want)
        s.reload(timeout=30)
        t.eq(s.log_text().count(want), n, "a reload at 0600: no warning")
        os.chmod(s.config_path, 0o640)
        s.reload(timeout=30)
        t.ok("(mode 0640); chmod 600 it" in s.log_text(),
             "a reload at 0640: the warning again")
        os.chmod(s.config_path, 0o600)

    @t.test
    def tls_ecdsa():
        cert = os.path.join(s.dir, "tls", "cert.pem")
        key = os.path.join(s.dir, "tls", "key.pem")
        tls_checks(s, "ECDSA", cert, key, refused=[
            ("ECDHE-ECDSA-AES128-SHA", "CBC"),
            ("ECDHE-ECDSA-AES256-SHA384", "CBC"),
        ], accepted=["ECDHE-ECDSA-AES128-GCM-SHA256",
                     "ECDHE-ECDSA-AES256-GCM-SHA384",
                     "ECDHE-ECDSA-CHACHA20-POLY1305"])

    @t.test
    def headers_everywhere():
        r = s.request("GET", "/App/user")
        security_headers("fastcrm 200", r.header_list, r.status, r.body)
        r = s.request("GET", "/Contact/00000000000000000")
        t.eq(r.status, 404, "fastcrm: a missing record is 404")
        security_headers("fastcrm 404", r.header_list, r.status, r.body)
        r = s.request("POST", "/Contact", raw_body=b'{"lastName": ',
                      content_type="application/json")
        t.eq(r.status, 400, "fastcrm: malformed JSON is 400")
        security_headers("fastcrm 400", r.header_list, r.status, r.body)
        r = s.request("GET", "/App/user", key=None)
        t.eq(r.status, 401, "fastcrm: no credentials is 401")
        security_headers("fastcrm 401", r.header_list, r.status, r.body)
        r = s.request("GET", "/_attachments/x", raw_path=True)
        t.ok(r.status == 404 and r.headers.get("X-Status-Reason") ==
             "Not found.", "nginx: the internal attachments location from "
             "outside is nginx's 404", r.describe(300))
        security_headers("nginx 404", r.header_list, r.status, r.body)
        st, h, b = raw_request(s.port, b"GET /\x01x HTTP/1.1\r\n"
                               b"Host: localhost\r\n\r\n")
        t.eq(st, 400, "nginx: a malformed request line is 400")
        security_headers("nginx 400", h, st, b)
        st, h, b = raw_request(s.port, b"GET /api/v1/App/user HTTP/1.1\r\n"
                               b"Host: localhost\r\nX-Big: " + b"a" * 40000 +
                               b"\r\n\r\n")
        t.ok(st == 400 and b"header is too large" in b,
             "nginx: a 40 kB header is 400 'Request header is too large.'",
             repr((st, b)))
        security_headers("nginx 400 (header)", h, st, b)
        r = s.request("GET", "/Contact?x=" + "a" * 40000)
        t.eq(r.status, 414, "nginx: a 40 kB URI is 414")
        security_headers("nginx 414", r.header_list, r.status, r.body)

    @t.test
    def body_limit():
        before = s.request("GET", "/Case?maxSize=1").json["total"]
        filler = MAX_BODY - 200
        r = s.request("POST", "/Case", {"name": "under the limit",
                                        "description": "x" * filler})
        t.eq(r.status, 200, "a body just under max_body (1 MiB) is accepted")
        body = json.dumps({"name": "over", "description":
                           "x" * MAX_BODY}).encode()
        r = s.request("POST", "/Case", raw_body=body,
                      content_type="application/json")
        t.ok(r.status == 413 and r.json == {
            "status": 413, "reason": "Request body is too large."},
            "a body over max_body (Content-Length %d) is nginx's 413 with "
            "a JSON reason" % len(body), r.describe(300))
        security_headers("nginx 413", r.header_list, r.status, r.body)

        # The same body chunked: nginx counts as it reads.
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=60,
                                           context=Stack._ssl_context())
        try:
            chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
            conn.request("POST", "/api/v1/Case", body=chunks,
                         headers={"X-Api-Key": s.key,
                                  "Content-Type": "application/json"},
                         encode_chunked=True)
            resp = conn.getresponse()
            st, rb = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            st, rb = None, repr(e).encode()
        finally:
            conn.close()
        t.ok(st == 413 and b"Request body is too large." in rb,
             "the same body chunked (no Content-Length) is 413 too",
             repr((st, rb[:200])))
        t.eq(s.request("GET", "/Case?maxSize=1").json["total"], before + 1,
             "only the body under the limit created a case")
        posts = [ln for ln in s.log_text().splitlines()
                 if "POST /api/v1/Case " in ln]
        n413 = sum(1 for ln in s.nginx_log_text("access").splitlines()
                   if " 413 " in ln)
        t.ok(n413 == 2 and len(posts) == 1 and " 200 " in posts[0],
             "the two 413s are nginx's (access log); fastcrm saw only the "
             "POST under the limit", "nginx 413 lines: %d\nfastcrm: %r"
             % (n413, posts))

    @t.test
    def rate_limit():
        if not can_bind("127.0.0.2"):
            t.skip("rate limit from 127.0.0.2", "cannot bind 127.0.0.2 "
                   "on this host")
            return
        # 127.0.0.1 is exempt: a burst well over the limit all passes.
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=60,
                                           context=Stack._ssl_context())
        st = []
        t0 = time.monotonic()
        for _ in range(12 * BURST):
            conn.request("GET", "/api/v1/App/user",
                         headers={"X-Api-Key": s.key})
            resp = conn.getresponse()
            resp.read()
            st.append(resp.status)
        elapsed = time.monotonic() - t0
        conn.close()
        t.diag("127.0.0.1: %d requests in %.3f s" % (len(st), elapsed))
        t.eq(st, [200] * len(st), "127.0.0.1 (exempt): %d requests at "
             "once, every one 200" % len(st))

        # 127.0.0.2 is limited like any client.
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=60,
                                           context=Stack._ssl_context(),
                                           source_address=("127.0.0.2", 0))
        got = []
        t0 = time.monotonic()
        # Until ten have been refused (a slow machine sends slower).
        while len(got) < 400 and sum(1 for x in got if x[0] == 429) < 10:
            conn.request("GET", "/api/v1/App/user",
                         headers={"X-Api-Key": s.key})
            resp = conn.getresponse()
            got.append((resp.status, resp.getheaders(), resp.read()))
        elapsed = time.monotonic() - t0
        conn.close()
        n200 = sum(1 for x in got if x[0] == 200)
        n429 = sum(1 for x in got if x[0] == 429)
        t.diag("rate limit %s burst %d from 127.0.0.2: %d requests in %.3f s "
               "-> %d x 200, %d x 429" % (RATE, BURST, len(got), elapsed,
                                           n200, n429))
        allowed = BURST + 1 + int(elapsed * 2) + 1
        t.ok(n429 > 0 and n200 + n429 == len(got) and n200 <= allowed,
             "127.0.0.2: a burst over the limit gets 429s (at most %d "
             "passed)" % allowed, repr([x[0] for x in got]))
        t.eq(got[0][0], 200, "the first request of the burst passes")
        limited = [x for x in got if x[0] == 429]
        if limited:
            st, h, b = limited[0]
            t.ok(json.loads(b) == {"status": 429,
                                   "reason": "Too many requests."} and
                 dict((k.lower(), v) for k, v in h).get("retry-after") == "1",
                 "the 429: JSON reason and Retry-After", repr((h, b)))
            security_headers("nginx 429", h, st, b)
        # nginx writes a request's log line after its answer: a line
        # may land a moment after the client has read the 429.
        deadline = time.monotonic() + 5
        while True:
            logged = [ln for ln in s.nginx_log_text("access").splitlines()
                      if ln.startswith("127.0.0.2 ") and " 429 " in ln]
            if len(logged) >= n429 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        t.eq(len(logged), n429, "the access log shows the %d 429s for "
             "127.0.0.2" % n429)
        deadline = time.monotonic() + 30
        r = None
        while time.monotonic() < deadline:
            r = s.request("GET", "/App/user", source="127.0.0.2")
            if r.status == 200:
                break
            time.sleep(0.25)
        t.eq(r.status, 200, "127.0.0.2 is served again once the burst "
             "has drained")
        t.ok("limiting requests" in s.nginx_log_text("error"),
             "nginx's error log says it limited requests")
finally:
    s.stop()


# ---------------------------------------------------------------------------
# 2b: the cipher policy with an RSA certificate (RSA key exchange, CBC)

@t.test
def tls_rsa():
    s = Stack(start=False)
    try:
        tls = os.path.join(s.dir, "tls")
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "30", "-subj", "/CN=localhost",
             "-keyout", os.path.join(tls, "key.pem"),
             "-out", os.path.join(tls, "cert.pem")],
            stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 0:
            t.skip("RSA certificate checks", "openssl could not make an RSA "
                   "key: %s" % r.stderr.decode(errors="replace")[:200])
            return
        s.start()
        tls_checks(s, "RSA", os.path.join(tls, "cert.pem"),
                   os.path.join(tls, "key.pem"), refused=[
                       ("AES128-SHA", "RSA key exchange, CBC"),
                       ("AES128-GCM-SHA256", "RSA key exchange, "
                        "no forward secrecy"),
                       ("AES256-SHA256", "RSA key exchange, CBC"),
                       ("ECDHE-RSA-AES128-SHA", "CBC"),
                       ("ECDHE-RSA-AES256-SHA384", "CBC"),
                   ], accepted=["ECDHE-RSA-AES128-GCM-SHA256",
                                "ECDHE-RSA-CHACHA20-POLY1305"])
    finally:
        s.stop()


t.done()
