"""End-to-end test harness: a real fastcrm master with its workers behind a
real nginx on a loopback HTTPS port, with LMDB files in a temp directory.
Python 3 standard library only.

Quick use
---------
    from harness import Stack
    with Stack() as s:                       # started and ready here
        r = s.request("GET", "/App/user")    # = /api/v1/App/user, X-Api-Key: s.key
        assert r.status == 200 and r.json["user"]["userName"] == "demo"
    # stopped here; temp dir removed unless KEEP_TMP is set

Stack(config_extra=None, workers=2, config_text=None, nginx_workers=1,
      limit_rate="2000r/s", limit_burst=4000, serve_args=())
    Builds the configuration, starts `fastcrm serve` and nginx (daemon off,
    its own prefix in the temp dir), and waits until an HTTPS request gets
    an answer. Raises StackError (with the log tails) if that fails.
    limit_rate, limit_burst: nginx's per-address limit_req (the shipped
    values by default; 127.0.0.1 is exempt, 127.0.0.2 is not).
    serve_args: extra options for `fastcrm serve` (tests/bench passes -B).

The configuration
    By default it is the demo configuration (see base_config()): a role
    `admin` that may do everything on every entity, one API user `demo`
    (role admin, admin: yes) whose key is `stack.key`, the CCAI Case
    fields cchatId, ccallId (unique, on_duplicate: return_existing),
    cChannel, and the Call.status aliases (CALL_STATUS_ALIASES).

    config_extra=dict  is deep-merged into it: dicts merge key by key,
                       lists are appended (so extra api_users are added to
                       `demo`), anything else replaces. Example:
            k, sha = make_key()
            Stack(config_extra={
                "roles": {"reader": {"*": {"create": False, "read": "all",
                                           "edit": "no", "delete": "no"}}},
                "api_users": [api_user("bob", "reader", key=k)],
            })
    config_extra=str   is YAML text appended verbatim (for top-level keys the
                       demo configuration does not have).
    config_text=str    replaces everything: a whole YAML file in which
                       @RUN_DIR@, @DATA_DIR@, @SOCKET@, @LISTEN@, @WORKERS@,
                       @KEY_SHA256@ (of stack.key) are substituted. `listen`
                       must be a unix socket.
    The YAML writer (yaml_dump) writes Python True/False as `true`/`false`
    for field flags (unique, indexed, required) and `yes`/`no` elsewhere,
    like the documentation's examples.

Requests
    stack.request(method, path, body=None, headers=None, key=DEFAULT,
                  raw_body=None, content_type=None, raw_path=False, source=None)
      path "/Contact" means "/api/v1/Contact"; paths under /api/ or
      /oauth2/, "/" and anything with raw_path=True are sent as given.
      body: JSON-encoded (Content-Type: application/json unless given).
      raw_body: bytes/str sent as is (Content-Type only if content_type).
      key: the X-Api-Key to send; default stack.key, None for no key.
      source: the client address to bind (default: 127.0.0.1 by routing).
      Returns a Response: .status, .reason, .headers (case-insensitive),
      .body (bytes), .text, .json (parsed, or None).

Processes and logs
    stack.master_pid, stack.worker_pids(), stack.nginx_pid,
    stack.send_signal(sig) (to the master), stack.reload_config(text_or_dict)
    (writes the file, SIGHUPs, waits until the workers were replaced),
    stack.reload() (the same without writing the file),
    stack.restart_fastcrm() (stop and start the master, same data),
    stack.kill_fastcrm() (SIGKILL the master, as a crash; returns the pids
    of its workers, now orphans, which stop() also ends if still alive),
    stack.start_fastcrm(keep_socket=True) (start over whatever socket file
    a crashed master left, waiting for the new master's "listening" line),
    stack.log_text() (fastcrm's stderr), stack.nginx_log_text("access" |
    "error" | "all"), stack.stop().

Environment
    FASTCRM_BIN        the fastcrm program (default: FASTCRM_BUILD_DIR/fastcrm,
                       then ../fastcrm next to this file, ./fastcrm, ../fastcrm)
    FASTCRM_BUILD_DIR  the build tree (for VPATH builds)
    FASTCRM_SRCDIR     the source tree (nginx/fastcrm.conf.in; default: the
                       parent of this file's directory)
    NGINX              the nginx program (default: nginx in PATH, /usr/sbin)
    KEEP_TMP           keep the temp directory (its path is printed)
    FASTCRM_TEST_TIMEOUT  seconds to wait for start-up (default 15)
"""

import atexit
import copy
import hashlib
import html.parser
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import warnings
import sys
import tempfile
import threading
import time

__all__ = ["Stack", "StackError", "Response", "make_key", "api_user",
           "HtmlForm",
           "yaml_dump", "base_config", "find_fastcrm", "free_port"]

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("FASTCRM_SRCDIR") or os.path.dirname(HERE)
NGINX_TEMPLATE = os.path.join(SRCDIR, "nginx", "fastcrm.conf.in")

DEFAULT = object()  # "use the stack's key"


class StackError(Exception):
    pass


# ---------------------------------------------------------------------------
# helpers


class HtmlForm(html.parser.HTMLParser):
    """A page's form: .action and .inputs (name -> value). feed() it."""

    def __init__(self):
        super().__init__()
        self.inputs = {}
        self.action = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and "name" in a:
            self.inputs[a["name"]] = a.get("value", "")


def make_key():
    """A new API key as `fastcrm key` makes them: (32 lowercase hex,
    sha256 hex of it)."""
    key = secrets.token_hex(16)
    return key, hashlib.sha256(key.encode()).hexdigest()


def sha512_crypt(pw):
    """A crypt(3) SHA-512 hash of pw, for password_hash in a config."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        h = crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512))
        if h and h.startswith("$6$"):
            return h
    except ImportError:
        pass
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                         input=pw.encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode().strip()
    return out


def api_user(name, role, key=None, admin=False, **extra):
    """An api_users entry. key: the plain API key (its hash is stored);
    extra: password_hash=..., hmac_secret=..., id=..."""
    u = {"name": name, "role": role}
    if admin:
        u["admin"] = True
    if key is not None:
        u["api_key_sha256"] = hashlib.sha256(key.encode()).hexdigest()
    u.update(extra)
    return u


def base_config(run_dir, key_sha256, workers=2):
    """The demo configuration as a dict (what conf/fastcrm.yaml.in holds)."""
    return {
        "listen": "unix:%s/fastcrm.sock" % run_dir,
        "workers": workers,
        "data_dir": "%s/data" % run_dir,
        "map_size": "256MiB",
        "max_body": "64MiB",
        "default_country_code": "1",
        "roles": {
            "admin": {
                "*": {"create": True, "read": "all", "edit": "all",
                      "delete": "all"},
            },
        },
        "api_users": [
            {"name": "demo", "role": "admin", "admin": True,
             "api_key_sha256": key_sha256},
        ],
        "entities": {
            "Case": {
                "fields": {
                    "cchatId": {"type": "varchar"},
                    "ccallId": {"type": "varchar", "unique": True,
                                "on_duplicate": "return_existing"},
                    "cChannel": {"type": "varchar"},
                },
            },
            "Call": {"aliases": {"status": CALL_STATUS_ALIASES}},
        },
    }


# Telephony words for Call.status, as conf/fastcrm.yaml.in ships them.
CALL_STATUS_ALIASES = {
    "completed": "Held", "answered": "Held",
    "missed": "Not Held", "no-answer": "Not Held", "busy": "Not Held",
    "failed": "Not Held", "cancelled": "Not Held",
}


def deep_merge(base, extra):
    """base updated by extra: dicts merge, lists append, others replace."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + copy.deepcopy(v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# Plain (unquoted) scalars: identifiers and paths. Anything else, including
# every string that starts with a digit (sizes, hex digests, country codes),
# is written double-quoted so that no YAML resolver takes it for a number.
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@:-]*(?<!:)$")
_HEX = re.compile(r"^[0-9a-f]{16,}$")  # digests: quoted, as in the docs
_TRUE_FALSE_KEYS = {"unique", "indexed", "required"}


def _scalar(v, key=None):
    if v is True or v is False:
        if key in _TRUE_FALSE_KEYS:
            return "true" if v else "false"
        return "yes" if v else "no"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if _PLAIN.match(s) and not _HEX.match(s):
        return s
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def _key(k):
    k = str(k)
    return k if _PLAIN.match(k) else json.dumps(k)


def yaml_dump(obj, indent=0):
    """YAML text for nested dicts, lists and scalars (block style)."""
    pad = "  " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                lines.append("%s%s:" % (pad, _key(k)))
                lines.append(yaml_dump(v, indent + 1))
            elif isinstance(v, list) and v:
                lines.append("%s%s:" % (pad, _key(k)))
                lines.append(yaml_dump(v, indent + 1))
            elif isinstance(v, dict):
                lines.append("%s%s: {}" % (pad, _key(k)))
            elif isinstance(v, list):
                lines.append("%s%s: []" % (pad, _key(k)))
            else:
                lines.append("%s%s: %s" % (pad, _key(k), _scalar(v, k)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = yaml_dump(v, indent + 1).split("\n")
                first = inner[0][len(pad) + 2:]
                lines.append("%s- %s" % (pad, first))
                lines.extend(inner[1:])
            elif isinstance(v, dict):
                lines.append("%s- {}" % pad)
            elif isinstance(v, list):
                lines.append("%s- []" % pad)
            else:
                lines.append("%s- %s" % (pad, _scalar(v)))
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_fastcrm():
    cands = []
    if os.environ.get("FASTCRM_BIN"):
        return os.path.abspath(os.environ["FASTCRM_BIN"])
    if os.environ.get("FASTCRM_BUILD_DIR"):
        cands.append(os.path.join(os.environ["FASTCRM_BUILD_DIR"], "fastcrm"))
    cands += [os.path.join(os.path.dirname(HERE), "fastcrm"),
              os.path.abspath("fastcrm"),
              os.path.abspath(os.path.join("..", "fastcrm"))]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise StackError("fastcrm binary not found (tried %s); set FASTCRM_BIN"
                     % ", ".join(cands))


def find_nginx():
    n = os.environ.get("NGINX") or shutil.which("nginx")
    if not n and os.access("/usr/sbin/nginx", os.X_OK):
        n = "/usr/sbin/nginx"
    if not n:
        raise StackError("nginx not found (run conf/install-deps)")
    return n


def _nginx_size(v):
    """fastcrm size (64MiB, 1GiB, 512KiB, 1000) -> nginx size."""
    m = re.match(r"^\s*(\d+)\s*([KkMmGg])?(?:i?[Bb])?\s*$", str(v))
    if not m:
        return "64m"
    return m.group(1) + (m.group(2) or "").lower()


def _nginx_min(a, b):
    """The smaller of two nginx sizes (as _nginx_size writes them)."""
    def n(v):
        return int(v[:-1]) * 1024 ** "kmg".index(v[-1]) * 1024 \
            if v[-1] in "kmg" else int(v)
    return a if n(a) <= n(b) else b


_cert_dir = None


def _cert():
    """(cert.pem, key.pem): one self-signed certificate per process."""
    global _cert_dir
    if _cert_dir is None:
        d = tempfile.mkdtemp(prefix="fastcrm-cert-")
        atexit.register(shutil.rmtree, d, True)
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "825", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", os.path.join(d, "key.pem"),
             "-out", os.path.join(d, "cert.pem")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise StackError("openssl failed:\n" + r.stdout.decode(errors="replace"))
        _cert_dir = d
    return os.path.join(_cert_dir, "cert.pem"), os.path.join(_cert_dir, "key.pem")


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no %s)" % path
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------------------
# responses


class Headers(dict):
    """Response headers; lookups ignore case. Repeated headers are joined
    with ", " (all values are kept in Response.header_list)."""

    def __init__(self, pairs=()):
        super().__init__()
        for k, v in pairs:
            k = k.lower()
            super().__setitem__(k, v if k not in self else self[k] + ", " + v)

    def __getitem__(self, k):
        return super().__getitem__(k.lower())

    def __contains__(self, k):
        return super().__contains__(k.lower())

    def get(self, k, default=None):
        return super().get(k.lower(), default)


class Response:
    def __init__(self, method, path, status, reason, header_list, body):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = Headers(header_list)
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def describe(self, limit=2000):
        """The request line, status, headers and body, for diagnostics."""
        head = "\n".join("%s: %s" % kv for kv in self.header_list)
        body = self.text
        if len(body) > limit:
            body = body[:limit] + "... (%d bytes)" % len(self.body)
        return "%s %s -> %d %s\n%s\n\n%s" % (self.method, self.path,
                                             self.status, self.reason,
                                             head, body)

    def __repr__(self):
        return "<Response %s %s %d %d bytes>" % (self.method, self.path,
                                                 self.status, len(self.body))


# ---------------------------------------------------------------------------
# the stack

_live = []


@atexit.register
def _stop_all():
    for s in list(_live):
        try:
            s.stop()
        except Exception:
            pass


class Load:
    """Background clients on a Stack, each creating Cases and, every
    read_every-th request, listing them; answers holds (wrote, status)
    of every request.  A context manager: the clients run inside it."""

    def __init__(self, s, threads=4, read_every=2, read_path="/Case?maxSize=5",
                 name="load"):
        self.s = s
        self.read_every = read_every
        self.read_path = read_path
        self.name = name
        self.stop = False
        self.answers = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]

    def run(self, n):
        i = 0
        while not self.stop:
            i += 1
            wrote = i % self.read_every != 0
            if wrote:
                r = self.s.request("POST", "/Case",
                                   {"name": "%s %d %d" % (self.name, n, i)})
            else:
                r = self.s.request("GET", self.read_path)
            with self.lock:
                self.answers.append((wrote, r.status))

    @property
    def statuses(self):
        return [st for _w, st in self.answers]

    def bad(self):
        return [st for st in self.statuses if st != 200]

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *a):
        self.stop = True
        for th in self.threads:
            th.join()


class Stack:
    def __init__(self, config_extra=None, workers=2, config_text=None,
                 nginx_workers=1, start=True, limit_rate="2000r/s",
                 limit_burst=4000, serve_args=(), fastcgi_keepalive=0):
        self.workers = workers
        # > 0: nginx keeps that many idle FastCGI connections open per
        # nginx worker (an upstream keepalive, fastcgi_keep_conn on),
        # where the shipped configuration opens one per request.
        self.fastcgi_keepalive = fastcgi_keepalive
        self.serve_args = list(serve_args)
        self.nginx_workers = nginx_workers
        self.limit_rate = limit_rate
        self.limit_burst = limit_burst
        self.bin = find_fastcrm()
        self.nginx_bin = find_nginx()
        self.key, self.key_sha256 = make_key()
        self.fastcrm_proc = None
        self.nginx_proc = None
        self.master_returncode = None
        self._stopped = False
        self._orphans = []

        base = os.environ.get("TMPDIR") or "/tmp"
        if len(base) > 60:  # keep the unix socket path short (108 bytes)
            base = "/tmp"
        self.dir = tempfile.mkdtemp(prefix="fastcrm-test-", dir=base)
        _live.append(self)
        self.run_dir = self.dir
        self.data_dir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "fastcrm.sock")
        self.log_dir = os.path.join(self.dir, "log")
        self.config_path = os.path.join(self.dir, "fastcrm.yaml")
        self.nginx_prefix = os.path.join(self.dir, "nginx")
        self.nginx_conf = os.path.join(self.nginx_prefix, "nginx.conf")
        self.fastcrm_log = os.path.join(self.log_dir, "fastcrm.log")
        self.port = None
        for d in (self.log_dir, self.nginx_prefix, self.data_dir,
                  os.path.join(self.dir, "tls")):
            os.makedirs(d, exist_ok=True)
        cert, key = _cert()
        shutil.copy(cert, os.path.join(self.dir, "tls", "cert.pem"))
        shutil.copy(key, os.path.join(self.dir, "tls", "key.pem"))

        self.config = None
        if config_text is not None:
            text = self._subst(config_text)
        else:
            self.config = self.base_config()
            if isinstance(config_extra, dict):
                self.config = deep_merge(self.config, config_extra)
            text = yaml_dump(self.config) + "\n"
            if isinstance(config_extra, str):
                text += config_extra.rstrip("\n") + "\n"
        self._write_config(text)
        self._read_paths(text)

        if start:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise

    # -- configuration ---------------------------------------------------

    def base_config(self):
        """A fresh dict of the demo configuration for this stack."""
        return base_config(self.dir, self.key_sha256, self.workers)

    def _subst(self, text):
        for k, v in (("@RUN_DIR@", self.dir), ("@DATA_DIR@", self.data_dir),
                     ("@SOCKET@", self.socket),
                     ("@LISTEN@", "unix:" + self.socket),
                     ("@WORKERS@", str(self.workers)),
                     ("@KEY_SHA256@", self.key_sha256)):
            text = text.replace(k, v)
        return text

    def _write_config(self, text):
        tmp = self.config_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)
        self.config_text = text

    def _read_paths(self, text):
        def top(key):
            m = re.search(r"^%s:[ \t]*(.*?)[ \t]*(?:#.*)?$" % key, text, re.M)
            return m.group(1).strip("\"'") if m else None
        listen = top("listen")
        if listen is None or not listen.startswith("unix:"):
            raise StackError("the configuration must listen on unix:PATH "
                             "(got %r)" % listen)
        self.socket = listen[5:]
        self.data_dir = top("data_dir") or self.data_dir
        self.max_body = _nginx_size(top("max_body") or "64MiB")
        # nginx's per-location limits: max_json_body and max_login_body,
        # never more than max_body (as fastcrm applies them).
        self.max_json_body = _nginx_min(self.max_body, _nginx_size(
            top("max_json_body") or "1MiB"))
        self.max_login_body = _nginx_min(self.max_body, _nginx_size(
            top("max_login_body") or "8KiB"))

    def reload_config(self, text, wait=True, timeout=10):
        """Writes a new configuration (str with the same @...@ placeholders
        as config_text, or a dict written with yaml_dump) and sends SIGHUP.
        With wait, returns True once every old worker is gone and new ones
        run, False if that did not happen within timeout (as expected for
        an invalid configuration, which must leave the old workers)."""
        if isinstance(text, dict):
            self.config = text
            text = yaml_dump(text) + "\n"
        else:
            text = self._subst(text)
        self._write_config(text)
        return self.reload(wait, timeout)

    def reload(self, wait=True, timeout=10):
        """SIGHUPs the master (the configuration file as it is now); with
        wait, returns True once every old worker is gone and new ones run,
        False if that did not happen within timeout."""
        old = set(self.worker_pids())
        self.send_signal(signal.SIGHUP)
        if not wait:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = set(self.worker_pids())
            if now and not (now & old):
                return True
            time.sleep(0.05)
        return False

    # -- processes -------------------------------------------------------

    def start(self):
        self.start_fastcrm()
        self.start_nginx()

    def start_fastcrm(self, keep_socket=False):
        """Starts the master and waits until it listens. keep_socket: leave
        a stale socket file in place (the master must cope with it) and
        wait for the new master's "listening" log line instead of the
        file."""
        if os.path.exists(self.socket) and not keep_socket:
            os.unlink(self.socket)
        log = open(self.fastcrm_log, "ab")
        try:
            self.fastcrm_proc = subprocess.Popen(
                [self.bin, "serve"] + self.serve_args + ["-c", self.config_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.dir)
        finally:
            log.close()
        self.master_returncode = None
        deadline = time.monotonic() + self._timeout()
        ready = "fastcrm master %d listening" % self.fastcrm_proc.pid
        while (ready not in self.log_text() if keep_socket
               else not os.path.exists(self.socket)):
            if self.fastcrm_proc.poll() is not None:
                raise StackError("fastcrm serve exited with %s during start-up:\n%s"
                                 % (self.fastcrm_proc.returncode,
                                    _tail(self.fastcrm_log)))
            if time.monotonic() > deadline:
                raise StackError("fastcrm did not create %s in %ds:\n%s"
                                 % (self.socket, self._timeout(),
                                    _tail(self.fastcrm_log)))
            time.sleep(0.02)

    def _render_nginx(self):
        with open(NGINX_TEMPLATE) as f:
            text = f.read()
        user = ("user root;" if os.geteuid() == 0
                else "# not root: workers run as the invoking user")
        for k, v in (("@RUN_DIR@", self.dir), ("@PORT@", str(self.port)),
                     ("@SOCKET@", self.socket), ("@MAX_BODY@", self.max_body),
                     ("@MAX_JSON_BODY@", self.max_json_body),
                     ("@MAX_LOGIN_BODY@", self.max_login_body),
                     ("@DATA_DIR@", self.data_dir),
                     ("@WORKER_PROCESSES@", str(self.nginx_workers)),
                     ("@LIMIT_RATE@", str(self.limit_rate)),
                     ("@LIMIT_BURST@", str(self.limit_burst)),
                     ("@USER_DIRECTIVE@", user)):
            text = text.replace(k, v)
        if self.fastcgi_keepalive > 0:
            text = text.replace(
                "    server {\n",
                "    upstream fastcrm {\n        server unix:%s;\n"
                "        keepalive %d;\n    }\n\n    server {\n"
                % (self.socket, self.fastcgi_keepalive), 1)
            text = text.replace("fastcgi_pass unix:%s;" % self.socket,
                                "fastcgi_pass fastcrm;\n"
                                "            fastcgi_keep_conn on;")
        with open(self.nginx_conf, "w") as f:
            f.write(text)

    def start_nginx(self):
        errlog = os.path.join(self.log_dir, "nginx-error.log")
        last = ""
        for _attempt in range(5):
            self.port = free_port()
            self._render_nginx()
            out = open(os.path.join(self.log_dir, "nginx-stderr.log"), "ab")
            try:
                self.nginx_proc = subprocess.Popen(
                    [self.nginx_bin, "-p", self.nginx_prefix,
                     "-c", self.nginx_conf, "-g", "daemon off;"],
                    stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, cwd=self.dir)
            finally:
                out.close()
            if self._wait_ready():
                return
            last = _tail(errlog) + "\n" + _tail(
                os.path.join(self.log_dir, "nginx-stderr.log"))
            if self.nginx_proc.poll() is None:
                break  # running but not answering: not a port clash
            if "in use" not in last:
                break
        raise StackError("nginx did not come up on 127.0.0.1:%s:\n%s\n"
                         "--- fastcrm log ---\n%s"
                         % (self.port, last, _tail(self.fastcrm_log)))

    def _wait_ready(self):
        deadline = time.monotonic() + self._timeout()
        while time.monotonic() < deadline:
            if self.nginx_proc.poll() is not None:
                return False
            if self.fastcrm_proc.poll() is not None:
                raise StackError("fastcrm exited with %s:\n%s"
                                 % (self.fastcrm_proc.returncode,
                                    _tail(self.fastcrm_log)))
            try:
                self.request("GET", "/api/v1/App/user", timeout=2)
                return True
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
        return False

    @staticmethod
    def _timeout():
        return float(os.environ.get("FASTCRM_TEST_TIMEOUT", "15"))

    @property
    def master_pid(self):
        return self.fastcrm_proc.pid if self.fastcrm_proc else None

    @property
    def nginx_pid(self):
        return self.nginx_proc.pid if self.nginx_proc else None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def worker_pids(self):
        """The live children of the fastcrm master, sorted."""
        master = self.master_pid
        if master is None:
            return []
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit() and _ppid(int(name)) == master and _alive(int(name)):
                out.append(int(name))
        return sorted(out)

    def send_signal(self, sig):
        """Sends sig to the fastcrm master."""
        self.fastcrm_proc.send_signal(sig)

    def _terminate(self, proc, timeout, extra_pids=()):
        """SIGTERM proc, SIGKILL it (and extra_pids still alive) after
        timeout. Returns its exit status."""
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write("harness: pid %d ignored SIGTERM for %ss; "
                                 "SIGKILL\n" % (proc.pid, timeout))
                proc.kill()
                proc.wait()
        for pid in extra_pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        return proc.returncode

    def stop_fastcrm(self, timeout=10):
        """Stops the master (SIGTERM, then SIGKILL for it and its workers
        after timeout). Returns the master's exit status."""
        if self.fastcrm_proc is None:
            return self.master_returncode
        workers = self.worker_pids()
        self.master_returncode = self._terminate(self.fastcrm_proc, timeout,
                                                 workers)
        # Wait a little for the workers to finish on their own.
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in workers:
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        self.fastcrm_proc = None
        return self.master_returncode

    def kill_fastcrm(self):
        """SIGKILLs the master, as a crash would, and reaps it. Returns the
        pids of its workers, which are orphans from then on."""
        workers = self.worker_pids()
        self.fastcrm_proc.kill()
        self.master_returncode = self.fastcrm_proc.wait()
        self.fastcrm_proc = None
        self._orphans += workers
        return workers

    def restart_fastcrm(self):
        """Stops and starts the master, keeping the data and nginx."""
        self.stop_fastcrm()
        self.start_fastcrm()

    def stop(self):
        """Stops nginx and fastcrm (only the processes this Stack started)
        and removes the temp dir unless KEEP_TMP is set. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.nginx_proc is not None:
                self._terminate(self.nginx_proc, 5)
            self.stop_fastcrm()
            for p in self._orphans:
                if _alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
        finally:
            if self in _live:
                _live.remove(self)
            if os.environ.get("KEEP_TMP"):
                sys.stderr.write("harness: kept %s\n" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- logs ------------------------------------------------------------

    def log_text(self):
        """Everything fastcrm has written to stderr/stdout so far."""
        try:
            with open(self.fastcrm_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def nginx_log_text(self, which="all"):
        """nginx's access log, error log, or both ("all")."""
        names = {"access": ["nginx-access.log"],
                 "error": ["nginx-error.log", "nginx-stderr.log"],
                 "all": ["nginx-access.log", "nginx-error.log",
                         "nginx-stderr.log"]}[which]
        out = []
        for n in names:
            try:
                with open(os.path.join(self.log_dir, n), "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    # -- HTTP ------------------------------------------------------------

    _ctx = None

    @classmethod
    def _ssl_context(cls):
        if cls._ctx is None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            cls._ctx = ctx
        return cls._ctx

    def request(self, method, path, body=None, headers=None, key=DEFAULT,
                raw_body=None, content_type=None, raw_path=False, timeout=60,
                source=None):
        """One HTTPS request on a new connection; returns a Response.
        source: the client's address (e.g. "127.0.0.2"; default 127.0.0.1)."""
        if body is not None and raw_body is not None:
            raise ValueError("give body or raw_body, not both")
        if not raw_path and not (path == "/" or path.startswith("/api/")
                                 or path.startswith("/oauth2/")):
            path = "/api/v1" + path
        h = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = content_type or "application/json"
        elif raw_body is not None:
            data = raw_body.encode() if isinstance(raw_body, str) else raw_body
            if content_type:
                h["Content-Type"] = content_type
        if key is DEFAULT:
            key = self.key
        if key is not None:
            h["X-Api-Key"] = key
        if headers:
            h.update(headers)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                           timeout=timeout,
                                           context=self._ssl_context(),
                                           source_address=(source, 0)
                                           if source else None)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            body = r.read()
            return Response(method, path, r.status, r.reason,
                            r.getheaders(), body)
        finally:
            conn.close()


if __name__ == "__main__":
    # Smoke test: python3 tests/harness.py
    with Stack() as s:
        r = s.request("GET", "/App/user")
        print(r.status, r.json)
        print("master", s.master_pid, "workers", s.worker_pids())
        sys.exit(0 if r.status == 200 else 1)
