#!/usr/bin/env python3
"""The Debian package, end to end, as an administrator would meet it.

Builds fastcrm_<version>_<arch>.deb with `make deb` (and a second one with
a higher version), checks it with lintian, installs it with dpkg -i and
checks the files, owners and modes; checks the units with systemd-analyze
(verify, security --offline=true); runs the unit's ExecStart the way
systemd would — under the unit's User/Group/UMask, the socket of
fastcrm.socket (held by this test, as PID 1 holds it) passed through
systemd-socket-activate, NOTIFY_SOCKET for READY=1 — behind the *system*
nginx binary started with a copy of Debian's default configuration plus
the package's snippets and another TLS site on the same port (test port
on loopback, test certificate; the real
/etc/nginx is never changed and the nginx service never started). It
drives real requests, a recording download among them, then a restart, a
reload, a log reopen and a package upgrade while four clients keep
sending requests, and counts every non-2xx answer and connection error
(there must be none). Finally it purges the package and checks that
nothing of it but /var/lib/fastcrm stays, then removes that itself.

Needs root (it installs a package); skips visibly otherwise, and also
when fastcrm is already installed here or /var/lib/fastcrm exists (it
never touches an administrator's installation), and in the sanitizer
suite's nested run (the package is built with Debian's flags, so a second
run would test the same thing).
"""

import fcntl
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tap import Tap  # noqa: E402
import harness  # noqa: E402

t = Tap()
SRC = os.environ.get("FASTCRM_SRCDIR") or os.path.dirname(HERE)
BIN = os.environ.get("FASTCRM_BIN") or os.path.join(os.path.dirname(HERE),
                                                    "fastcrm")
BUILD = os.path.dirname(os.path.abspath(BIN))
CONF = "/etc/fastcrm/fastcrm.yaml"
DATA = "/var/lib/fastcrm"
UNITS = "/lib/systemd/system"


def skip_all(reason):
    t.skip("Debian package end to end", reason)
    t.done()
    sys.exit(0)


def run(cmd, timeout=600, env=None, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, env=env, **kw)


def out(r):
    return r.stdout.decode(errors="replace")


def dpkg_status():
    """fastcrm's dpkg status: "" when dpkg does not know it."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}",
                        "fastcrm"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode().strip() if r.returncode == 0 else ""


if os.geteuid() != 0:
    skip_all("needs root: it installs and purges a package")
if os.environ.get("FASTCRM_CI_NESTED"):
    skip_all("runs once, in the outer suite")
if dpkg_status() not in ("", "not-installed"):
    skip_all("fastcrm is installed on this machine; not touching it")
if os.path.exists(DATA) or os.path.exists("/etc/fastcrm"):
    skip_all("%s or /etc/fastcrm exists; not touching it" % DATA)
try:
    pwd.getpwnam("fastcrm")
    skip_all("a user fastcrm exists; not touching it")
except KeyError:
    pass

# One run at a time on this machine (dpkg, /var/lib/fastcrm).
lock = open("/run/fastcrm-e2e-deb.lock", "w")
fcntl.flock(lock, fcntl.LOCK_EX)

TMP = tempfile.mkdtemp(prefix="fastcrm-deb-")
os.chmod(TMP, 0o711)          # nginx's workers (www-data) use temp paths here
procs = []                    # everything this test started, stopped at the end
created_run = False

ROOTS = ["/etc", "/usr", "/lib", "/var", "/run", "/srv", "/opt", "/home"]


def fastcrm_paths():
    """Every path under ROOTS whose name contains 'fastcrm'."""
    found = set()
    for root in ROOTS:
        for d, dirs, files in os.walk(root):
            if d.startswith(("/var/cache", "/var/tmp", "/proc")):
                dirs[:] = []
                continue
            for n in dirs + files:
                if "fastcrm" in n:
                    found.add(os.path.join(d, n))
    found.discard("/run/fastcrm-e2e-deb.lock")
    return found


def unit(path):
    """A unit file's [section] key=value pairs (last value wins)."""
    u = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, v = line.split("=", 1)
            u[k.strip()] = v.strip()
    return u


def build(version=None):
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    cmd = ["make", "-C", BUILD, "deb", "DEB_JOBS=%d" % (os.cpu_count() or 2)]
    if version:
        cmd.append("DEB_VERSION=" + version)
    r = run(cmd, env=env, timeout=900)
    if r.returncode != 0:
        return None, out(r)
    names = [n for n in os.listdir(BUILD) if n.startswith("fastcrm")
             and n.endswith(".deb")]
    deb = None
    for n in names:
        dst = os.path.join(TMP, n)
        shutil.move(os.path.join(BUILD, n), dst)
        if not n.startswith("fastcrm-dbgsym"):
            deb = dst
    return deb, out(r)


# -- the load: four clients, counting every failure --------------------------

class Load:
    def __init__(self, port, key, cid, clients=4):
        self.port, self.key, self.cid = port, key, cid
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = self.bad = self.errors = 0
        self.samples = []            # first failures, for the diagnosis
        self.spans = []              # (sent, answered) of each success
        self.threads = [threading.Thread(target=self.client, args=(i,),
                                         daemon=True) for i in range(clients)]

    def start(self):
        for th in self.threads:
            th.start()

    def count(self):
        with self.lock:
            return self.ok + self.bad + self.errors

    def note(self, what):
        with self.lock:
            if len(self.samples) < 10:
                self.samples.append(what)

    def client(self, i):
        ctx = ssl._create_unverified_context()
        conn = None
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                                       context=ctx, timeout=60)
                    conn.connect()
                sent = time.time()
                if n % 5 == 0:
                    body = json.dumps({"name": "load %d %d" % (i, n)})
                    conn.request("POST", "/api/v1/Case", body,
                                 {"X-Api-Key": self.key,
                                  "Content-Type": "application/json"})
                else:
                    conn.request("GET", "/api/v1/Contact/" + self.cid,
                                 headers={"X-Api-Key": self.key})
                r = conn.getresponse()
                data = r.read()
                with self.lock:
                    if 200 <= r.status < 300:
                        self.ok += 1
                        self.spans.append((sent, time.time()))
                    else:
                        self.bad += 1
                if not 200 <= r.status < 300:
                    self.note("%d %s" % (r.status, data[:200]))
            except Exception as e:            # a connection error
                with self.lock:
                    self.errors += 1
                self.note(repr(e))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
                time.sleep(0.01)

    def waited(self, since, ready):
        """Answered requests sent after since (no master took new ones
        from then on) and answered after ready: they waited in the
        socket's backlog for the new master."""
        with self.lock:
            return sum(1 for a, b in self.spans if since < a < ready < b)

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join(70)


# -- the service, started the way systemd starts it --------------------------

class Service:
    """fastcrm.service's ExecStart, under its User/Group/UMask, with the
    socket (held by the caller, as PID 1 holds fastcrm.socket's) passed
    through systemd-socket-activate, and NOTIFY_SOCKET."""

    def __init__(self, sock, log_path):
        self.sock = sock
        self.log_path = log_path
        self.proc = None
        d = os.path.join(TMP, "notify")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        self.notify_path = os.path.join(d, "notify.sock")

    def start(self, timeout=20, trigger=None):
        """Starts it; systemd-socket-activate execs the service at the first
        connection, so trigger (a function run in a thread) makes one if
        none is waiting.  Returns what came to NOTIFY_SOCKET."""
        svc = unit(UNITS + "/fastcrm.service")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(self.notify_path)
        os.chmod(self.notify_path, 0o666)
        # Above 9, so that moving it to 3 never closes it.
        fd = fcntl.fcntl(self.sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
        # bash puts the socket at fd 3 and sets LISTEN_PID to itself, then
        # becomes systemd-socket-activate, which passes the socket through
        # to setpriv (the unit's User, Group and groups), then sh (UMask),
        # then ExecStart: one pid all along, as systemd runs it.
        launch = ("exec 3<&%d %d<&-; export LISTEN_FDS=1 LISTEN_PID=$$ "
                  "LISTEN_FDNAMES=fastcrm.socket; exec \"$@\"" % (fd, fd))
        cmd = (["bash", "-c", launch, "launch",
                "systemd-socket-activate",
                "-E", "NOTIFY_SOCKET=" + self.notify_path,
                "setpriv", "--reuid=" + svc["User"],
                "--regid=" + svc["Group"], "--init-groups", "--",
                "/bin/sh", "-c", "umask %s && exec \"$0\" \"$@\"" %
                svc.get("UMask", "0022")] + shlex.split(svc["ExecStart"]))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, pass_fds=(fd,))
        log.close()
        os.close(fd)
        procs.append(self.proc)
        if trigger is not None:
            threading.Thread(target=trigger, daemon=True).start()
        ns.settimeout(timeout)
        msgs = ""
        try:
            while "READY=1" not in msgs:
                msgs += ns.recv(4096).decode(errors="replace") + "\n"
        except socket.timeout:
            pass
        ns.close()
        self.t_ready = time.time()
        return msgs

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=30):
        """systemctl stop with KillMode=mixed: SIGTERM to the main process."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.t_term = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def reload(self):
        svc = unit(UNITS + "/fastcrm.service")
        cmd = svc["ExecReload"].replace("$MAINPID", str(self.pid))
        return run(shlex.split(cmd)).returncode


def log_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(cond, timeout=15, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def poke(path):
    """A connection that starts a socket-activated service, then closes."""
    def go():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(path)
    return go


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])


# -- nginx: the system binary, a copy of Debian's configuration --------------

def nginx_setup(port, cert, key):
    """A copy of /etc/nginx in TMP with the fastcrm site enabled there."""
    root = os.path.join(TMP, "nginx")
    shutil.copytree("/etc/nginx", root, symlinks=False)
    logs = os.path.join(TMP, "log")
    os.makedirs(logs)
    tmp = os.path.join(TMP, "ntmp")
    os.makedirs(tmp)
    conf = open(os.path.join(root, "nginx.conf")).read()
    conf = conf.replace("/etc/nginx/", root + "/")
    conf = re.sub(r"(?m)^pid .*;", "pid %s/nginx.pid;" % TMP, conf)
    conf = conf.replace("/var/log/nginx/", logs + "/")
    conf = re.sub(r"(?m)^http \{", "http {\n" + "".join(
        "\t%s_temp_path %s/%s;\n" % (k, tmp, k)
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")), conf,
        count=1)
    open(os.path.join(root, "nginx.conf"), "w").write(conf)
    # Debian's default site keeps its shape, on a free loopback port.
    dflt = os.path.join(root, "sites-enabled", "default")
    text = open(dflt).read()
    p2 = harness.free_port()
    text = re.sub(r"listen 80 default_server;",
                  "listen 127.0.0.1:%d default_server;" % p2, text)
    text = re.sub(r"listen \[::\]:80 default_server;", "", text)
    open(dflt, "w").write(text)
    # The package's site, as `ln -s` would enable it, with the test's
    # port and certificate in place of the administrator's.
    site = open(os.path.join(root, "sites-available", "fastcrm")).read()
    site = site.replace("listen 443 ssl;", "listen 127.0.0.1:%d ssl;" % port)
    v6 = socket.has_ipv6
    if v6:
        try:
            with socket.socket(socket.AF_INET6) as s6:
                s6.bind(("::1", 0))
        except OSError:
            v6 = False
    site = site.replace("listen [::]:443 ssl;",
                        "listen [::1]:%d ssl;" % port if v6 else "")
    site = re.sub(r"(?m)^(\s*ssl_certificate)\s+\S+;", r"\1 %s;" % cert, site)
    site = re.sub(r"(?m)^(\s*ssl_certificate_key)\s+\S+;", r"\1 %s;" % key,
                  site)
    site = site.replace("/var/log/nginx/", logs + "/")
    open(os.path.join(root, "sites-enabled", "fastcrm"), "w").write(site)
    # Another TLS site on the same port, as a machine may have.
    open(os.path.join(root, "sites-enabled", "other"), "w").write(
        "server {\n    listen 127.0.0.1:%d ssl;\n"
        "    server_name other.example;\n"
        "    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
        "    return 204;\n}\n" % (port, cert, key))
    return root, logs, v6


# ============================================================================

service = None
nginx = None
held = None
port = harness.free_port()
try:
    before = fastcrm_paths()

    # -- build -----------------------------------------------------------
    r = run(["dpkg-parsechangelog", "-l",
             os.path.join(SRC, "conf/debian/changelog"), "-S", "Version"])
    v1 = out(r).strip()
    v2 = v1 + "+e2e1"
    t0 = time.time()
    deb1, log1 = build()
    t.ok(deb1 is not None and re.search(r"/fastcrm_%s_[a-z0-9]+\.deb$" %
                                        re.escape(v1), deb1 or ""),
         "make deb builds fastcrm_%s_<arch>.deb" % v1, log1[-3000:])
    t.diag("make deb: %.0f s" % (time.time() - t0))
    deb2, log2 = build(v2)
    t.ok(deb2 is not None and v2 in deb2,
         "make deb DEB_VERSION=%s builds the upgrade" % v2, log2[-3000:])
    if deb1 is None or deb2 is None:
        raise RuntimeError("no package to test")

    r = run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", deb1])
    t.ok(r.returncode == 0 and not re.search(r"(?m)^E: ", out(r)),
         "lintian reports no errors", out(r))
    t.diag("lintian:\n" + out(r).strip())

    # -- install ---------------------------------------------------------
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = run(["dpkg", "-i", deb1], env=env)
    t.eq(r.returncode, 0, "dpkg -i installs it")
    inst = out(r)
    if r.returncode != 0:
        t.diag(inst)
        raise RuntimeError("not installed")
    m = re.search(r"(?m)^    ([0-9a-f]{32})$", inst)
    t.ok(m is not None and "shown only now" in inst,
         "the installation prints the first API key once", inst)
    KEY = m.group(1) if m else ""

    st = os.stat("/usr/bin/fastcrm")
    t.ok(st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755,
         "/usr/bin/fastcrm root 0755")
    pw = pwd.getpwnam("fastcrm")
    gr = grp.getgrnam("fastcrm")
    www = grp.getgrnam("www-data")
    t.ok(0 < pw.pw_uid < 1000 and pw.pw_gid == gr.gr_gid and
         pw.pw_shell.endswith("nologin"),
         "a system user and group fastcrm (uid %d, no login)" % pw.pw_uid)
    st = os.stat(CONF)
    t.eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
         (0, gr.gr_gid, 0o640), "%s is root:fastcrm 0640" % CONF)
    conf_text = open(CONF).read()
    t.ok(hashlib.sha256(KEY.encode()).hexdigest() in conf_text
         and "@" not in re.sub(r"(?m)#.*$", "", conf_text),
         "it holds the SHA-256 of that key, every placeholder filled")
    st = os.stat("/etc/fastcrm")
    t.eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
         (0, gr.gr_gid, 0o750), "/etc/fastcrm root:fastcrm 0750")
    st = os.stat(DATA)
    t.eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
         (pw.pw_uid, www.gr_gid, 0o2750),
         "%s fastcrm:www-data 2750" % DATA)
    files = ["/lib/systemd/system/fastcrm.service",
             "/lib/systemd/system/fastcrm.socket",
             "/etc/nginx/conf.d/fastcrm.conf",
             "/etc/nginx/sites-available/fastcrm",
             "/etc/logrotate.d/fastcrm",
             "/usr/share/doc/fastcrm/README.Debian"]
    t.ok(all(os.path.isfile(f) for f in files),
         "units, nginx snippets, logrotate snippet and guide installed",
         "\n".join(f for f in files if not os.path.isfile(f)))
    t.ok(not os.path.exists("/etc/nginx/sites-enabled/fastcrm"),
         "the nginx site is not enabled by the package")
    wants = sorted(os.path.join(d, n) for d, _, ns in
                   os.walk("/etc/systemd/system") for n in ns
                   if "fastcrm" in n)
    t.eq(wants, ["/etc/systemd/system/multi-user.target.wants/"
                 "fastcrm.service",
                 "/etc/systemd/system/sockets.target.wants/fastcrm.socket"],
         "fastcrm.socket and fastcrm.service are enabled, nothing else of it")
    cf = out(run(["dpkg-query", "-W", "-f=${Conffiles}", "fastcrm"]))
    t.ok(all(f in cf for f in ("/etc/nginx/conf.d/fastcrm.conf",
                               "/etc/nginx/sites-available/fastcrm",
                               "/etc/logrotate.d/fastcrm")),
         "the nginx and logrotate snippets are conffiles", cf)
    prerm = log_text("/var/lib/dpkg/info/fastcrm.prerm")
    t.ok(re.search(r"deb-systemd-invoke stop .*fastcrm\.socket", prerm) and
         re.search(r"deb-systemd-invoke stop .*fastcrm\.service", prerm),
         "removing the package stops the socket and the service", prerm)
    postinst = log_text("/var/lib/dpkg/info/fastcrm.postinst")
    t.ok(re.search(r"deb-systemd-invoke \$_dh_action .*fastcrm\.service",
                   postinst) and "restart" in postinst and
         not re.search(r"deb-systemd-invoke \$_dh_action .*fastcrm\.socket",
                       postinst),
         "an upgrade restarts the service, never the socket", postinst)
    r = run(["/usr/bin/fastcrm", "check-config"])
    t.ok(r.returncode == 0 and CONF + ": ok" in out(r),
         "check-config without -c checks %s (data_dir for user fastcrm, "
         "nginx's body limit)" % CONF, out(r))

    # -- systemd-analyze -------------------------------------------------
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", UNITS + "/fastcrm.socket",
                 UNITS + "/fastcrm.service"])
        t.ok(r.returncode == 0 and out(r).strip() == "",
             "systemd-analyze verify is clean", out(r))
        r = run(["systemd-analyze", "security", "--offline=true",
                 UNITS + "/fastcrm.service"])
        m = re.search(r"Overall exposure level for fastcrm\.service: "
                      r"([0-9.]+) (\w+)", out(r))
        t.ok(m is not None and m.group(2) in ("SAFE", "OK"),
             "systemd-analyze security --offline=true rates it OK or SAFE "
             "(%s)" % (m.group(1) + " " + m.group(2) if m else "?"),
             out(r)[-3000:])
    else:
        t.skip("systemd-analyze verify/security", "no systemd-analyze")

    # -- the socket, as fastcrm.socket makes it --------------------------
    sock_u = unit(UNITS + "/fastcrm.socket")
    path = sock_u["ListenStream"]
    rundir = os.path.dirname(path)
    if not os.path.isdir(rundir):
        os.mkdir(rundir, int(sock_u.get("DirectoryMode", "0755"), 8))
        created_run = True
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    held.bind(path)
    os.chown(path, pwd.getpwnam(sock_u["SocketUser"]).pw_uid,
             grp.getgrnam(sock_u["SocketGroup"]).gr_gid)
    os.chmod(path, int(sock_u["SocketMode"], 8))
    held.listen(int(sock_u.get("Backlog", "128")))

    cert, key = harness._cert()
    nroot, nlogs, v6 = nginx_setup(port, cert, key)
    ncmd = ["/usr/sbin/nginx", "-e", nlogs + "/error.log",
            "-c", nroot + "/nginx.conf"]
    r = run(ncmd + ["-t"])
    t.ok(r.returncode == 0, "nginx -t: Debian's default configuration with "
         "the package's snippets", out(r))
    nginx = subprocess.Popen(ncmd + ["-g", "daemon off;"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(nlogs, "stderr"), "wb"))
    procs.append(nginx)

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    t.ok(wait_for(listening), "the system nginx listens on the test port",
         log_text(nlogs + "/error.log"))

    ctx = ssl._create_unverified_context()

    def req(method, p, body=None, key=KEY, ctype="application/json",
            host="127.0.0.1"):
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
        h = {}
        if key:
            h["X-Api-Key"] = key
        if body is not None:
            h["Content-Type"] = ctype
            if not isinstance(body, bytes):
                body = json.dumps(body)
        c.request(method, p, body, h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def up():
        try:
            return req("GET", "/api/v1/App/user")[0] == 200
        except OSError:
            return False

    # -- the service -----------------------------------------------------
    LOG = os.path.join(TMP, "fastcrm.log")
    service = Service(held, LOG)
    first = {}

    def first_request():
        try:
            first["status"] = req("GET", "/api/v1/App/user")[0]
        except OSError as e:
            first["status"] = repr(e)
    msgs = service.start(trigger=first_request)
    t.ok("READY=1" in msgs, "READY=1 reaches NOTIFY_SOCKET", msgs +
         log_text(LOG))
    t.ok(wait_for(lambda: "status" in first, 30) and first["status"] == 200,
         "the first request, which started the service (socket "
         "activation), gets its answer: %s" % first.get("status"),
         log_text(nlogs + "/error.log") + log_text(LOG))
    workers = children(service.pid)
    t.ok(len(workers) >= 1 and proc_uid(service.pid) == pw.pw_uid and
         all(proc_uid(w) == pw.pw_uid for w in workers),
         "master and %d workers run as fastcrm" % len(workers))
    t.like(log_text(LOG), r"fastcrm master \d+ listening on the socket "
           r"from systemd, .* version %s" % re.escape(v1.split("-")[0]),
           "the start line names the version and the inherited socket")

    t.ok(wait_for(up), "the system nginx answers through fastcrm",
         log_text(nlogs + "/error.log") + log_text(LOG))
    s_, h_, b_ = req("GET", "/api/v1/App/user")
    t.ok(s_ == 200 and json.loads(b_)["user"]["userName"] == "admin",
         "the first key signs in as admin")
    if v6:
        s6 = req("GET", "/api/v1/App/user", host="::1")[0]
        t.eq(s6, 200, "and over [::1] (the site's [::]:443 listen)")
    s_, h_, b_ = req("GET", "/api/v1/App/user", key="0" * 32)
    t.eq(s_, 401, "a wrong key gets 401")
    t.ok(wait_for(lambda: re.search(r" warn \[\d+\] GET \S*App/user 401 "
                                    r".*client=127\.0\.0\.1",
                                    log_text(LOG)), 5),
         "logged at warn with the client address")
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                    timeout=30)
    c.request("GET", "/", headers={"Host": "other.example"})
    t.eq(c.getresponse().status, 204, "the other site on the same port "
         "answers its own name")
    c.close()
    t.eq(h_.get("strict-transport-security"), "max-age=63072000",
         "the site sends the security headers")

    s_, h_, b_ = req("POST", "/api/v1/Contact", {"firstName": "Ada",
                                                 "lastName": "Deb",
                                                 "phoneNumber": "+15550100"})
    t.eq(s_, 200, "create a contact")
    CID = json.loads(b_)["id"] if s_ == 200 else ""
    s_, h_, b_ = req("POST", "/api/v1/Call", {"name": "rec",
                                              "dateStart": "2026-01-01 10:00:00",
                                              "dateEnd": "2026-01-01 10:02:00"})
    call = json.loads(b_)["id"]
    audio = os.urandom(200 * 1024)
    s_, h_, b_ = req("POST", "/api/v1/Call/%s/recording?name=c.wav" % call,
                     audio, ctype="audio/wav")
    t.eq(s_, 200, "upload a recording (200 KiB)")
    aid = json.loads(b_)["id"]
    s_, h_, b_ = req("GET", "/api/v1/Attachment/file/" + aid)
    t.ok(s_ == 200 and b_ == audio and "x-accel-redirect" not in h_,
         "the recording downloads intact, sent by nginx (www-data) "
         "through X-Accel-Redirect")
    att = os.path.join(DATA, "attachments")
    files = [os.path.join(att, n) for n in os.listdir(att)]
    st = os.stat(att)
    ok = (st.st_uid == pw.pw_uid and st.st_gid == www.gr_gid and
          stat.S_IMODE(st.st_mode) & 0o007 == 0)
    for f in files:
        st = os.stat(f)
        ok = ok and st.st_gid == www.gr_gid and \
            stat.S_IMODE(st.st_mode) == 0o640
    st = os.stat(os.path.join(DATA, "data.mdb"))
    t.ok(ok and files and st.st_uid == pw.pw_uid and
         stat.S_IMODE(st.st_mode) == 0o600,
         "attachments group www-data (files 0640), data.mdb fastcrm 0600")
    r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             "cat", files[0]])
    t.ok(r.returncode != 0, "another user cannot read a recording")

    # -- check-config's checks of the surroundings -----------------------
    alt = os.path.join(TMP, "alt.yaml")
    open(alt, "w").write(re.sub(r"(?m)^max_body:.*$", "max_body: 32MiB",
                                conf_text))
    r = run(["/usr/bin/fastcrm", "check-config", alt, "-n",
             "/etc/nginx/sites-available/fastcrm"])
    t.ok(r.returncode == 1 and "client_max_body_size" in out(r),
         "check-config: nginx's body limit differs from max_body", out(r))
    open(alt, "w").write(re.sub(r"(?m)^data_dir:.*$",
                                "data_dir: /etc/fastcrm/data", conf_text))
    r = run(["/usr/bin/fastcrm", "check-config", alt, "-u", "fastcrm"])
    t.ok(r.returncode == 1 and "cannot create it" in out(r),
         "check-config: data_dir the service user cannot create", out(r))

    # -- under load: restart, reload, log reopen, upgrade ------------------
    load = Load(port, KEY, CID)
    load.start()
    t.ok(wait_for(lambda: load.count() > 50, 20), "load running")

    def window(fn):
        """Runs fn under the load; returns the requests answered meanwhile."""
        n0 = load.count()
        fn()
        wait_for(lambda: load.count() > n0 + 50, 20)
        return load.count() - n0

    def restart():
        old = service.pid
        rc = service.stop()
        msgs_ = service.start()
        # Let the queued requests be answered before counting them.
        time.sleep(0.5)
        t.diag("restart: %.0f ms from SIGTERM to the new master's READY=1"
               % ((service.t_ready - service.t_term) * 1000))
        return old, rc, msgs_, load.waited(service.t_term, service.t_ready)

    res = {}
    n = window(lambda: res.update(restart=restart()))
    old, rc, msgs, waited = res["restart"]
    t.ok(rc == 0 and "READY=1" in msgs and service.pid != old,
         "restart under load: the old master stops cleanly, a new one is "
         "ready (%d requests meanwhile)" % n)
    t.ok(waited > 0, "%d requests sent while no master took connections "
         "waited in the backlog and were answered by the new one" % waited)

    # log_file, applied by a reload (ExecReload: SIGHUP)
    flog = "/var/log/fastcrm/fastcrm.log"
    with open(CONF, "a") as f:
        f.write("\nlog_file: %s\n" % flog)
    pre = log_text(LOG).count("configuration reloaded")
    n = window(lambda: res.update(reload=service.reload()))
    t.ok(res["reload"] == 0 and wait_for(
        lambda: "configuration reloaded" in log_text(flog)),
        "systemctl reload (ExecReload) under load: reloaded, now logging "
        "to log_file (%d requests meanwhile)" % n, log_text(LOG)[-2000:])
    t.ok(log_text(LOG).count("configuration reloaded") == pre,
         "stderr no longer gets the lines")
    st = os.stat(flog)
    t.ok(st.st_uid == pw.pw_uid and stat.S_IMODE(st.st_mode) == 0o640,
         "log_file created by fastcrm, mode 0640")
    os.rename(flog, flog + ".1")
    os.kill(service.pid, signal.SIGUSR1)
    t.ok(wait_for(lambda: re.search(r"GET /api/v1/Contact/\S+ 200",
                                    log_text(flog)) and
                  "log file reopened" in log_text(flog), 10),
         "SIGUSR1: master and workers reopen log_file")
    t.ok(service.proc.poll() is None, "and the master lives on")
    if shutil.which("logrotate"):
        r = run(["logrotate", "-d", "/etc/logrotate.d/fastcrm"])
        t.ok(r.returncode == 0 and "error" not in out(r).lower(),
             "logrotate accepts the snippet", out(r))
    else:
        t.skip("logrotate -d /etc/logrotate.d/fastcrm", "no logrotate")

    # the upgrade: dpkg -i of the newer package while it serves, then the
    # restart the postinst asks systemd for
    def upgrade():
        res["dpkg"] = run(["dpkg", "-i", deb2], env=env)
        res["exe_old"] = os.readlink("/proc/%d/exe" % service.pid)
        res["restart2"] = restart()
    n = window(upgrade)
    t.eq(res["dpkg"].returncode, 0, "dpkg -i %s over the running one"
         % os.path.basename(deb2))
    t.eq(out(run(["dpkg-query", "-W", "-f=${Version}", "fastcrm"])), v2,
         "version %s installed" % v2)
    t.ok(res["exe_old"].endswith("(deleted)") and
         not os.readlink("/proc/%d/exe" % service.pid).endswith("(deleted)")
         and "READY=1" in res["restart2"][2],
         "the old binary served until the restart; the new one runs now "
         "(%d requests during the upgrade)" % n)
    t.ok(res["restart2"][3] > 0, "%d requests waited in the backlog during "
         "the upgrade's restart" % res["restart2"][3])
    t.ok(open(CONF).read() == conf_text + "\nlog_file: %s\n" % flog,
         "the upgrade kept the configuration as edited")
    time.sleep(1)
    load.finish()
    t.ok(load.count() > 500 and load.bad == 0 and load.errors == 0,
         "under load through restart, reload, reopen and upgrade: %d "
         "requests, %d non-2xx, %d connection errors" %
         (load.count(), load.bad, load.errors), "\n".join(
             load.samples + [ln for ln in log_text(nlogs + "/error.log")
                             .splitlines() if "upstream" in ln][-10:] +
             log_text(LOG).splitlines()[-30:]))
    acc = log_text(os.path.join(nlogs, "fastcrm-access.log"))
    bad_lines = [ln for ln in acc.splitlines()
                 if not re.search(r'" (2\d\d|401) ', ln)]
    t.ok(acc and not bad_lines, "nginx's access log: no status but 2xx "
         "(and the one 401)", "\n".join(bad_lines[:10]))

    # -- the store's format ----------------------------------------------
    t.eq(service.stop(), 0, "SIGTERM stops the service (exit 0)")
    r = run(["mdb_dump", "-s", "store", "-p", DATA])
    t.ok(r.returncode == 0 and re.search(r"(?m)^ format\n 1$", out(r)),
         "the store records format 1", out(r))
    r = subprocess.run(["mdb_load", "-T", "-s", "store", DATA],
                       input=b"format\n99\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    msgs = service.start(timeout=5, trigger=poke(path))
    rc = service.proc.wait(10)
    t.ok(r.returncode == 0 and rc != 0 and "READY=1" not in msgs and
         re.search(r"has format 99, written by a newer fastcrm",
                   log_text(flog) + log_text(LOG)),
         "a store of a newer format is refused with a clear message",
         (log_text(flog) + log_text(LOG))[-1500:])

    nginx.send_signal(signal.SIGQUIT)
    nginx.wait(20)
    held.close()
    held = None
    os.unlink(path)
    if created_run:
        os.rmdir(rundir)
        created_run = False

    # -- purge -----------------------------------------------------------
    r = run(["dpkg", "--purge", "fastcrm"], env=env)
    t.ok(r.returncode == 0 and "kept" in out(r), "dpkg --purge says "
         "/var/lib/fastcrm is kept", out(r))
    gone = True
    for get, name in ((pwd.getpwnam, "fastcrm"), (grp.getgrnam, "fastcrm")):
        try:
            get(name)
            gone = False
        except KeyError:
            pass
    t.ok(gone, "the user and group fastcrm are gone")
    left = sorted(p for p in fastcrm_paths() - before
                  if p != DATA and not p.startswith(DATA + "/"))
    t.ok(not left and os.path.isfile(os.path.join(DATA, "data.mdb")),
         "nothing of the package stays but %s (with the records)" % DATA,
         "\n".join(left))
    shutil.rmtree(DATA)
    t.ok(not os.path.exists(DATA), "the test removed %s" % DATA)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if held is not None:
        held.close()
    if dpkg_status() not in ("", "not-installed"):
        run(["dpkg", "--purge", "fastcrm"])
    if created_run:
        shutil.rmtree("/run/fastcrm", True)
    if os.path.isdir(DATA):          # absent when the test began
        shutil.rmtree(DATA, True)
    if os.environ.get("KEEP_TMP"):
        print("# kept " + TMP)
    else:
        shutil.rmtree(TMP, True)
t.done()
