"""`make run` and `make stop` as an administrator uses them: the run
script brings nginx and fastcrm up on the chosen port and run dir, prints
the URL, the demo key and a curl; running it twice is harmless; the printed
curl works; stop stops exactly what it started."""

import os
import re
import shutil
import socket
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
