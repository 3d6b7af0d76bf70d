"""`make run` and `make stop` as an administrator uses them: the run
script brings nginx and fastcrm up on the chosen port and run dir, prints
the URL, the demo key, the demo agent and a curl; running it twice is
harmless; the printed curl works; the README's ways to trust the demo
certificate work; stop stops exactly what it started."""

import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap  # noqa: E402

t = Tap()
src = os.environ.get("FASTCRM_SRCDIR",
                     os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
binp = os.environ.get("FASTCRM_BIN", os.path.join(src, "fastcrm"))
run_dir = tempfile.mkdtemp(prefix="fastcrm-run-")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
env = dict(os.environ, FASTCRM_RUN_DIR=run_dir, FASTCRM_PORT=str(port),
           FASTCRM_BIN=binp)


def script(cmd):
    return subprocess.run(["bash", os.path.join(src, "conf", "run.sh"), cmd],
                          env=env, capture_output=True, text=True, timeout=60)


def alive(pidfile):
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def demo_agent(out):
    """The demo agent is printed beside the key and can sign in, as an
    EspoCRM client does (Espo-Authorization on App/user gives a token)."""
    path = os.path.join(run_dir, "demo-agent")
    t.ok(os.path.exists(path) and
         oct(os.stat(path).st_mode & 0o777) == "0o600",
         "the demo agent's name and password are in the run dir (0600)")
    name, pw = (open(path).read().split() + ["", ""])[:2]
    t.ok(name and pw and re.search(r"demo agent:\s+%s %s" % (
        re.escape(name), re.escape(pw)), out),
         "make run prints the demo agent beside the key", out)
    auth = base64.b64encode(("%s:%s" % (name, pw)).encode()).decode()
    c = subprocess.run(["curl", "-sk", "-H", "Espo-Authorization: " + auth,
                        "https://127.0.0.1:%d/api/v1/App/user" % port],
                       capture_output=True, text=True)
    try:
        j = json.loads(c.stdout)
    except ValueError:
        j = {}
    t.ok(j.get("user", {}).get("userName") == name and
         re.fullmatch(r"[0-9a-f]{32}", j.get("token") or ""),
         "the demo agent signs in (Espo-Authorization) and gets a token",
         c.stdout + c.stderr)
    c = subprocess.run(["curl", "-sk", "-H", "Authorization: Bearer " +
                        open(os.path.join(run_dir, "demo-api-key")).read()
                        .strip(), "https://127.0.0.1:%d/api/v1/User" % port],
                       capture_output=True, text=True)
    t.ok('"userName":"%s"' % name in c.stdout,
         "Ringotel's Users hook (GET /User) lists the demo agent", c.stdout)


def trust_cert(key):
    """The README's ways for an integrator to trust the demo certificate,
    each with certificate verification on (as the official clients do)."""
    cert = os.path.join(run_dir, "tls", "cert.pem")
    url = "https://127.0.0.1:%d/api/v1/App/user" % port
    c = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                        "%{http_code}", "-H", "X-Api-Key: " + key, url],
                       capture_output=True, text=True)
    t.ok(c.stdout != "200", "without trusting it, verification fails "
         "(curl without -k)", c.stdout + c.stderr)
    c = subprocess.run(["curl", "-s", "--cacert", cert, "-o", "/dev/null",
                        "-w", "%{http_code}", "-H", "X-Api-Key: " + key,
                        url], capture_output=True, text=True)
    t.eq(c.stdout, "200", "curl --cacert run/tls/cert.pem (what PHP's "
         "curl.cainfo / CURLOPT_CAINFO sets)")
    ctx = ssl.create_default_context(cafile=cert)
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                           timeout=10)
        conn.request("GET", "/api/v1/App/user", headers={"X-Api-Key": key})
        st = conn.getresponse().status
    except (OSError, ssl.SSLError) as e:
        st = str(e)
    t.eq(st, 200, "Python: ssl.create_default_context(cafile=...) "
         "(requests: verify=... or REQUESTS_CA_BUNDLE)")
    node = shutil.which("node")
    js0 = ("require('https').get(%r,r=>{console.log(r.statusCode);"
           "process.exit(0)}).on('error',e=>{console.log(e.code);"
           "process.exit(0)})" % url)
    if node is not None:
        c = subprocess.run([node, "-e", js0], capture_output=True,
                           text=True, timeout=30)
        t.ok(c.stdout.strip() != "200" and c.stdout.strip() != "401",
             "Node without it refuses the certificate", c.stdout)
    if node is None:
        t.skip("Node: NODE_EXTRA_CA_CERTS", "node is not installed")
        return
    js = ("require('https').get(%r,{headers:{'X-Api-Key':%r}},"
          "r=>{console.log(r.statusCode);process.exit(0)}).on('error',"
          "e=>{console.log(e.code);process.exit(0)})" % (url, key))
    c = subprocess.run([node, "-e", js], capture_output=True, text=True,
                       env=dict(os.environ, NODE_EXTRA_CA_CERTS=cert),
                       timeout=30)
    t.eq(c.stdout.strip(), "200", "Node: NODE_EXTRA_CA_CERTS=run/tls/"
         "cert.pem")


try:
    p = script("start")
    t.ok(p.returncode == 0, "run.sh start succeeds", p.stdout + p.stderr)
    key = open(os.path.join(run_dir, "demo-api-key")).read().strip()
    t.ok(re.fullmatch(r"[0-9a-f]{32}", key), "the demo key is in the run dir")
    t.ok("https://127.0.0.1:%d" % port in p.stdout and key in p.stdout,
         "it prints the URL and the demo key")
    m = re.search(r"(curl -k [^\n]*)", p.stdout)
    t.ok(m is not None, "it prints a curl to try")
    c = subprocess.run(m.group(1), shell=True, capture_output=True, text=True)
    t.ok(c.returncode == 0 and '"total":0' in c.stdout,
         "the printed curl lists contacts", c.stdout + c.stderr)
    fpid = alive(os.path.join(run_dir, "fastcrm.pid"))
    t.ok(fpid, "the fastcrm master runs")
    demo_agent(p.stdout)
    trust_cert(key)
    p2 = script("start")
    t.ok(p2.returncode == 0, "running start twice is harmless", p2.stderr)
    t.eq(alive(os.path.join(run_dir, "fastcrm.pid")), fpid,
         "the second start did not start another master")
    t.ok(oct(os.stat(os.path.join(run_dir, "fastcrm.yaml")).st_mode & 0o777)
         == "0o600", "the configuration holding the key hash is 0600")
    p3 = script("stop")
    t.ok(p3.returncode == 0, "run.sh stop succeeds", p3.stderr)
    t.ok(alive(os.path.join(run_dir, "fastcrm.pid")) is None and fpid and
         not os.path.exists("/proc/%d" % fpid), "the master is gone")
    c = subprocess.run(m.group(1), shell=True, capture_output=True, text=True)
    t.ok(c.returncode != 0, "nothing answers on the port after stop")
finally:
    script("stop")
    shutil.rmtree(run_dir, ignore_errors=True)
t.done()
