#!/usr/bin/env python3
"""fastcrm's benchmark, through the real stack (`make bench`).

Generates a dataset (contacts with one to three numbers and an email,
cases, calls), imports it with `fastcrm import`, starts the real nginx,
master and workers on loopback, and drives them with wrk:

    S1  phone lookup as CCAI sends it (mixed formats, 10 % unknown numbers)
    S2  read a contact by id
    S3  a contact's cases, newest first (CCAI's "find a record")
    S4  create a case (a durable commit each)
    S5  whole CCAI sessions (lookup, create the contact on a miss, find
        cases, create a case, update it)

Beside them, in the same rounds, it measures the baselines: the same nginx
and the same number of workers running the same worker loop with an empty
handler that answers a fixed 300-byte JSON (`fastcrm serve -B`), and, for
writes, a bare C loop making the same LMDB puts and durable commits per
record on the same disk (tests/bench/lmdb_put). And S1 to S3 again on a
small dataset (BENCH_SMALL contacts, as many cases). Every scenario runs
BENCH_ROUNDS times, each time beside a run of its baseline (the order
alternating from round to round); the
table gives medians, each scenario's ratio to its baseline and its p99
over the baseline's p99 (medians of the per-round ratios), against the
targets of issue 17 (reads ≥ 0.92 with p99 ≤ 1.5×, S4 ≥ 2× the write
baseline with p99 ≤ 3×). The defaults measure the shipped configuration:
4 workers (conf/run.sh), nginx's worker_processes auto, write_batch as
shipped.

For each read scenario it also runs, in the same rounds, a sized
baseline: `serve -B -b BYTES` behind its own identical nginx, sent the
scenario's own requests and answering a fixed JSON of the scenario's
mean answer size.  Against the read baseline it shows what the longer
requests and larger answers cost in nginx, TLS and wrk alone, the most
any FastCGI application returning those answers can reach on this
machine; the scenario against it shows fastcrm's own share.  Every run
also records the CPU time per request of fastcrm, nginx and wrk (the
scheduler's count, time the hypervisor stole not included) and the
share of the machine's time the hypervisor stole.

Beside S4, in the same rounds, S4's floor: lmdb_put with 32 client
threads and one committer that takes every create waiting into its next
durable commit (the best group commit LMDB allows those clients, with no
HTTP and no application work), and lmdb_put with all 32 creates in each
commit.  LMDB keeps its one writer's lock through a commit's flushes, so
those latencies bound what any group commit can give the clients
(printed below the table, with the pages a commit wrote and what one
flush costs on the disk by the page, measured once).  And S4's own
batches, from fastcrm's /metrics before and after each S4 run
(fastcrm_write_*): creates per commit, how long a batch held the writer
lock serving its requests, and how long its commit took.

After the rounds, the floor LMDB itself puts under a read by id at both
sizes: tests/bench/lmdb_get reads random contacts of each dataset in one
process, a first pass (its mapping cold: page faults) and warm passes.

Then per-worker private memory (LMDB's map not counted) at 10,000 and at
BENCH_MEMORY_REQUESTS requests on freshly started workers.

The table is printed and written, with the machine's description, into
tests/bench/RESULTS.md between the "bench:begin" and "bench:end" markers.

Environment (defaults in brackets):
    BENCH_CONTACTS [1000000]  contacts; as many cases and calls
    BENCH_SMALL [10000]       contacts of the small dataset
    BENCH_SECONDS [6]         seconds per scenario and round
    BENCH_ROUNDS [5]
    BENCH_CONNECTIONS [32]    wrk connections (S5: one thread each)
    BENCH_THREADS [2]         wrk threads
    BENCH_WORKERS [4]         fastcrm workers (conf/run.sh's default)
    BENCH_NGINX_WORKERS [auto] nginx worker_processes (as shipped)
    BENCH_KEEPALIVE [0]       >0: nginx keeps that many FastCGI connections
                              per nginx worker open (fastcgi_keep_conn and an
                              upstream keepalive) instead of one per request
    BENCH_WRITE_BATCH         write_batch for fastcrm (1: group commit off;
                              default: the shipped value)
    BENCH_SIZED [1]           0: no sized baselines (below)
    BENCH_MEMORY_REQUESTS [1000000]
    BENCH_ONLY                comma-separated scenario prefixes to run (e.g.
                              "read,S1 phone" for tuning runs); no table file
    BENCH_RESULTS [tests/bench/RESULTS.md in the source tree]; "-" for none
    BENCH_DIR                 where the dataset and stacks live [a temp dir]
    LMDB_PUT                  the lmdb_put program [built by make bench]
    LMDB_GET                  the lmdb_get program [compiled here with cc
                              from tests/bench/lmdb_get.c]
"""

import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import Stack, _ppid  # noqa: E402


def env_int(name, default):
    return int(os.environ.get(name, default))


CONTACTS = env_int("BENCH_CONTACTS", 1000000)
SMALL = env_int("BENCH_SMALL", 10000)
SECONDS = env_int("BENCH_SECONDS", 6)
ROUNDS = env_int("BENCH_ROUNDS", 5)
CONNS = env_int("BENCH_CONNECTIONS", 32)
THREADS = env_int("BENCH_THREADS", 2)
WORKERS = env_int("BENCH_WORKERS", 4)
NGINX_WORKERS = os.environ.get("BENCH_NGINX_WORKERS", "auto")
MEMORY_REQUESTS = env_int("BENCH_MEMORY_REQUESTS", 1000000)
KEEPALIVE = env_int("BENCH_KEEPALIVE", 0)
SIZED = env_int("BENCH_SIZED", 1)
RESULTS = os.environ.get("BENCH_RESULTS",
                         os.path.join(HERE, "RESULTS.md"))
LMDB_PUT = os.environ.get("LMDB_PUT", os.path.join(HERE, "lmdb_put"))
SAMPLE = 100000           # lines in each request file

FIRST = ["Ana", "Ben", "Chloe", "Dmitri", "Eva", "Farid", "Grace", "Hiro",
         "Ines", "Jonas", "Kemi", "Luis", "Maya", "Noah", "Olga", "Priya"]
STATUSES = ["New", "Assigned", "Pending", "Closed"]
PHONE_TYPES = ["Mobile", "Office", "Home"]
BASE_TIME = 1700000000    # 2023-11-14; createdAt grows one second a record


def log(msg):
    print("bench: " + msg, flush=True)


# -- the dataset --------------------------------------------------------

def contact_id(i):
    return "c%016x" % i


def case_id(i):
    return "a%016x" % i


def phones(i):
    """The numbers (11 digits, country 1) of contact i: one to three."""
    return ["1%d" % (2000000000 + 3 * i + j) for j in range(1 + i % 3)]


def stamp(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def write_contacts(path, n):
    with open(path, "w") as f:
        for i in range(n):
            nums = phones(i)
            data = ",".join(
                '{"phoneNumber":"+%s","type":"%s","primary":%s}'
                % (p, PHONE_TYPES[j], "true" if j == 0 else "false")
                for j, p in enumerate(nums))
            f.write('{"id":"%s","firstName":"%s","lastName":"Caller%d",'
                    '"phoneNumberData":[%s],'
                    '"emailAddress":"caller%d@bench.example.com",'
                    '"createdAt":"%s"}\n'
                    % (contact_id(i), FIRST[i % 16], i, data, i,
                       stamp(BASE_TIME + i)))


def write_cases(path, n, contacts, rnd):
    """Cases for random contacts; returns the contacts that have cases."""
    have = set()
    with open(path, "w") as f:
        for i in range(n):
            c = rnd.randrange(contacts)
            have.add(c)
            f.write('{"id":"%s","name":"Inbound Call from +%s",'
                    '"contactId":"%s","status":"%s","description":'
                    '"Call Session: %d","ccallId":"h%d","cChannel":"voice",'
                    '"createdAt":"%s"}\n'
                    % (case_id(i), phones(c)[0], contact_id(c),
                       STATUSES[i % 4], i, i, stamp(BASE_TIME + i)))
    return have


def write_calls(path, n, contacts, rnd):
    with open(path, "w") as f:
        for i in range(n):
            c = rnd.randrange(contacts)
            start = BASE_TIME + i * 7
            f.write('{"id":"b%016x","name":"Call with %s","status":"Held",'
                    '"direction":"Inbound","dateStart":"%s","dateEnd":"%s",'
                    '"parentType":"Contact","parentId":"%s"}\n'
                    % (i, FIRST[c % 16], stamp(start), stamp(start + 180),
                       contact_id(c)))


def lookup_value(digits, rnd):
    """A known number the way CCAI may send it, URL-encoded or not."""
    national = digits[1:]
    form = rnd.randrange(5)
    if form == 0:
        return "%2B" + digits                       # +1..., encoded
    if form == 1:
        return "+" + digits                         # '+' unencoded: a space
    if form == 2:
        return digits
    if form == 3:
        return urllib.parse.quote("(%s) %s-%s" % (national[:3], national[3:6],
                                                  national[6:]))
    return "%s-%s-%s" % (national[:3], national[3:6], national[6:])


def lookup_path(value, rnd):
    if rnd.randrange(2):
        w = "where[0][%s]"
    else:
        w = "where%%5B0%%5D%%5B%s%%5D"
    return ("/api/v1/Contact?%s=phoneNumber&%s=equals&%s=%s"
            "&sortBy=createdAt&asc=false"
            % (w % "attribute", w % "type", w % "value", value))


def cases_path(cid):
    return ("/api/v1/Case?where[0][attribute]=contactId&where[0][type]=equals"
            "&where[0][value]=%s&contactId=%s&sortBy=createdAt&asc=false"
            % (cid, cid))


def write_requests(d, n, with_cases, rnd):
    """The request files for wrk; returns a few expectations to check."""
    expect = []
    with open(os.path.join(d, "s1.txt"), "w") as f:
        for k in range(SAMPLE):
            if rnd.random() < 0.10:
                digits = "1%d" % (3000000000 + rnd.randrange(999999999))
                who = None
            else:
                who = rnd.randrange(n)
                digits = rnd.choice(phones(who))
            p = lookup_path(lookup_value(digits, rnd), rnd)
            f.write(p + "\n")
            if k < 40:
                expect.append(("S1", p, who))
    with open(os.path.join(d, "s2.txt"), "w") as f:
        for k in range(SAMPLE):
            who = rnd.randrange(n)
            f.write("/api/v1/Contact/%s\n" % contact_id(who))
    if with_cases:
        have = sorted(with_cases)
        with open(os.path.join(d, "s3.txt"), "w") as f:
            for k in range(SAMPLE):
                who = rnd.choice(have)
                f.write(cases_path(contact_id(who)) + "\n")
                if k < 10:
                    expect.append(("S3", cases_path(contact_id(who)), who))
    with open(os.path.join(d, "contact_ids.txt"), "w") as f:
        for k in range(SAMPLE):
            f.write(contact_id(rnd.randrange(n)) + "\n")
    with open(os.path.join(d, "numbers.txt"), "w") as f:
        for k in range(SAMPLE):
            digits = rnd.choice(phones(rnd.randrange(n)))
            f.write("%s\t+%s\n" % (lookup_value(digits, rnd).replace("+", "%2B")
                                   if rnd.randrange(2) else "%2B" + digits,
                                   digits))
    with open(os.path.join(d, "mix.txt"), "w") as f:
        for name in ("s1.txt", "s2.txt", "s3.txt"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                with open(p) as g:
                    f.writelines(g.readlines()[:SAMPLE // 3])
    with open(os.path.join(d, "baseline.txt"), "w") as f:
        f.write("/api/v1/Contact/%s\n" % contact_id(0))
    return expect


def fastcrm(stack, *args):
    p = subprocess.run([stack.bin] + list(args) + ["-c", stack.config_path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench: fastcrm %s failed:\n%s" % (" ".join(args), p.stderr))
    return p


def load(stack, d, n, rnd, full):
    """Generates and imports a dataset; returns import rates and contacts
    that have cases."""
    rates = {}
    t = time.monotonic()
    write_contacts(os.path.join(d, "contacts.jsonl"), n)
    have = None
    if full:
        have = write_cases(os.path.join(d, "cases.jsonl"), n, n, rnd)
        write_calls(os.path.join(d, "calls.jsonl"), n, n, rnd)
    log("generated %d contacts%s in %.1f s" % (
        n, " and as many cases and calls" if full else "",
        time.monotonic() - t))
    for entity, name in (("Contact", "contacts"), ("Case", "cases"),
                         ("Call", "calls")):
        path = os.path.join(d, name + ".jsonl")
        if not os.path.exists(path):
            continue
        t = time.monotonic()
        p = fastcrm(stack, "import", "--entity", entity, path)
        secs = time.monotonic() - t
        rates[entity] = (n, secs)
        log("imported %d %s in %.1f s: %.0f/s — %s" % (
            n, name, secs, n / secs, p.stderr.strip().splitlines()[-1]))
        os.unlink(path)
    return rates, have


def BenchStack(**kw):
    """A Stack whose nginx keeps FastCGI connections open with
    BENCH_KEEPALIVE set."""
    return Stack(fastcgi_keepalive=KEEPALIVE, **kw)


# -- measuring ----------------------------------------------------------

def children(pid):
    """The processes whose parent is pid."""
    return [int(n) for n in os.listdir("/proc")
            if n.isdigit() and _ppid(int(n)) == pid]


def run_ns(pids):
    """CPU time (ns) the processes' threads ran so far: the scheduler's
    own count (/proc/PID/task/TID/schedstat), time stolen by the
    hypervisor not included."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def minor_faults(pids):
    """Minor page faults of the processes so far (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                total += int(f.read().rsplit(")", 1)[1].split()[7])
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_ticks():
    """(steal, all) jiffies of every CPU so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[7], sum(v[:8])


def stack_pids(stack):
    """fastcrm's master and workers, nginx's master and workers."""
    out = {"fastcrm": [], "nginx": []}
    for name, proc in (("fastcrm", stack.fastcrm_proc),
                       ("nginx", stack.nginx_proc)):
        if proc is not None and proc.poll() is None:
            out[name] = [proc.pid] + children(proc.pid)
    return out


def wrk(stack, script, args, seconds=None, threads=None, conns=None):
    """One wrk run: its results, plus the CPU time each part of the stack
    (fastcrm, nginx, wrk itself) spent per request and the share of the
    machine's time the hypervisor stole meanwhile."""
    threads = threads or THREADS
    conns = conns or CONNS
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns,
           "-d%ds" % (seconds or SECONDS), "--timeout", "10s",
           "-s", os.path.join(HERE, script),
           "https://127.0.0.1:%d" % stack.port, "--"] + list(args)
    pids = stack_pids(stack)
    before = {k: run_ns(v) for k, v in pids.items()}
    faults = minor_faults(pids["fastcrm"])
    ticks = cpu_ticks()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        out, err = p.communicate(timeout=(seconds or SECONDS) + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks2 = cpu_ticks()
    after = {k: run_ns(v) for k, v in pids.items()}
    faults = minor_faults(pids["fastcrm"]) - faults
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.exit("bench: wrk failed (%s):\n%s\n%s" % (" ".join(cmd),
                                                       out, err))
    r = json.loads(lines[-1])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = (r["connect_errors"] + r["read_errors"] +
                   r["write_errors"] + r["timeouts"] + r["status_errors"])
    n = max(1, r["requests"])
    for k in before:
        r["cpu_" + k] = (after[k] - before[k]) / 1e3 / n
    # Only wrk was reaped in between: the children's rusage grew by its
    # CPU time (user + system, as the scheduler counted it).
    r["cpu_wrk"] = ((ru2.ru_utime - ru.ru_utime) +
                    (ru2.ru_stime - ru.ru_stime)) * 1e6 / n
    r["steal"] = 100.0 * (ticks2[0] - ticks[0]) / max(1, ticks2[1] - ticks[1])
    r["faults"] = faults / n
    return r


# The write-batch counters of GET /metrics that S4's batch figures use.
BATCH_SERIES = {
    'fastcrm_write_commits_total{result="ok"}': "commits",
    "fastcrm_write_batch_requests_total": "requests",
    "fastcrm_write_batch_open_seconds_total": "open",
    "fastcrm_write_commit_duration_seconds_sum": "commit",
}


def batch_counters(stack):
    """The stack's write-batch counters now, from its /metrics."""
    r = stack.request("GET", "/metrics", raw_path=True, key=None)
    if r.status != 200:
        sys.exit("bench: /metrics: %d %s" % (r.status, r.text[:300]))
    got = {}
    for line in r.text.splitlines():
        name, _, v = line.rpartition(" ")
        if name in BATCH_SERIES:
            got[BATCH_SERIES[name]] = float(v)
    missing = [k for k, v in BATCH_SERIES.items() if v not in got]
    if missing:
        sys.exit("bench: /metrics lacks %s" % ", ".join(missing))
    return got


def with_batches(stack, fn):
    """fn (a wrk run on stack), with its write batches from /metrics: the
    mean requests per commit, and the mean time a batch was open (its
    worker serving its requests under LMDB's writer lock) and
    committing."""
    def run():
        a = batch_counters(stack)
        r = fn()
        b = batch_counters(stack)
        n = b["commits"] - a["commits"]
        if n > 0:
            r["batch"] = (b["requests"] - a["requests"]) / n
            r["open_us"] = (b["open"] - a["open"]) * 1e6 / n
            r["commit_us"] = (b["commit"] - a["commit"]) * 1e6 / n
        return r
    return run


def answer_bytes(stack, path, rnd, n=200):
    """The mean answer size of n requests drawn from a request file."""
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f]
    total = 0
    for p in rnd.sample(lines, min(n, len(lines))):
        r = stack.request("GET", p, raw_path=True)
        if r.status != 200:
            sys.exit("bench: %s: %d %s" % (p, r.status, r.text))
        total += len(r.body)
    return total // min(n, len(lines))


def lmdb_put(d, batch=1, clients=0):
    """The write baseline, in a directory loaded (once) with as many
    records as the dataset has cases, so its B-trees are as deep; with
    batch > 1, that many creates in each durable commit (req/s: creates
    per second; the latencies are a commit's); with clients, that many
    client threads and one committer taking up to batch of their creates
    into each commit (the latencies are the clients')."""
    args = [LMDB_PUT, d, str(SECONDS), str(CONTACTS), str(batch)]
    if clients:
        args.append(str(clients))
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench: lmdb_put failed:\n" + p.stderr)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    out = {"rps": r["records"] / r["seconds"], "requests": r["records"],
           "errors": 0}
    for k in ("p50_us", "p99_us", "mean_us", "commit_mean_us",
              "commit_p99_us", "pages_per_commit", "writes_per_commit"):
        out[k] = r[k]
    out["per_commit"] = r["records"] / max(1, r["commits"])
    return out


def disk_flush(d, reps=100):
    """What one durable flush costs on the disk under the stores: the
    median fdatasync after writing n 4 KiB pages at random places of a
    64 MiB file, and after writing them in one run (ms by case)."""
    path = os.path.join(d, "flush-test")
    pages = 16384
    page = os.urandom(4096)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for off in range(0, pages, 256):
            os.pwrite(fd, page * 256, off * 4096)
        os.fdatasync(fd)
        rnd = random.Random(7)
        out = {}
        for case, n in (("scattered", 1), ("scattered", 32),
                        ("scattered", 128), ("contiguous", 128)):
            ts = []
            for _ in range(reps):
                if case == "scattered":
                    for pg in sorted(rnd.sample(range(pages), n)):
                        os.pwrite(fd, page, pg * 4096)
                else:
                    os.pwrite(fd, page * n, rnd.randrange(pages - n) * 4096)
                t = time.perf_counter()
                os.fdatasync(fd)
                ts.append(time.perf_counter() - t)
            out[(case, n)] = statistics.median(ts) * 1e3
        return out
    finally:
        os.close(fd)
        os.unlink(path)


def lmdb_get_program(top):
    """LMDB_GET, or lmdb_get.c compiled into top."""
    prog = os.environ.get("LMDB_GET")
    if prog:
        return prog
    prog = os.path.join(top, "lmdb_get")
    p = subprocess.run(["cc", "-O2", "-o", prog,
                        os.path.join(HERE, "lmdb_get.c"), "-llmdb"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench: cannot build lmdb_get:\n" + p.stderr)
    return prog


def lmdb_get(prog, data_dir, d):
    """LMDB alone reading the contacts of S2's request file."""
    keys = os.path.join(d, "s2-keys.txt")
    with open(os.path.join(d, "s2.txt")) as f, open(keys, "w") as g:
        for line in f:
            g.write(line.rstrip("\n").rsplit("/", 1)[1] + "\n")
    p = subprocess.run([prog, data_dir, "rec.Contact", keys, "3"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench: lmdb_get failed:\n" + p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def private_kb(pid):
    """Private memory of a process, LMDB's files not counted."""
    total, skip = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                skip = line.rstrip().endswith((".mdb",))
            elif not skip and line.startswith(("Private_Clean:",
                                               "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def check(stack, expect):
    """The benchmark measures right answers: a sample checked first."""
    for name, path, who in expect:
        r = stack.request("GET", path)
        if r.status != 200:
            sys.exit("bench: %s %s: %d %s" % (name, path, r.status, r.text))
        got = r.json["list"]
        if name == "S1":
            ids = [c["id"] for c in got]
            want = [] if who is None else [contact_id(who)]
            if ids != want:
                sys.exit("bench: %s %s: got %s, want %s" % (name, path, ids,
                                                            want))
        else:
            dates = [c["createdAt"] for c in got]
            if (not got or dates != sorted(dates, reverse=True) or
                    any(c["contactId"] != contact_id(who) for c in got)):
                sys.exit("bench: %s %s: wrong list %s" % (name, path, got))


def machine():
    def cmd(*a):
        try:
            p = subprocess.run(a, capture_output=True, text=True)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024
    return [
        "%s, %d cores (%s), %d GiB RAM" % (platform.node() or "host",
                                           os.cpu_count(), cpu, mem),
        "%s %s" % (platform.system(), platform.release()),
        cmd("nginx", "-v"), cmd("wrk", "-v"),
        "lmdb %s" % cmd("sh", "-c", "dpkg-query -W -f '${Version}' liblmdb0"),
        "load average at start: %s" % " ".join(
            open("/proc/loadavg").read().split()[:3]),
    ]


# -- the run ------------------------------------------------------------

def main():
    # Stopped by a signal: still stop the stacks (in the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (conf/install-deps installs it)")
    if not os.access(LMDB_PUT, os.X_OK):
        sys.exit("bench: %s is missing; run `make bench`" % LMDB_PUT)
    rnd = random.Random(20261121)
    top = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="fcbench-")
    os.makedirs(top, exist_ok=True)
    started = time.time()
    info = machine()
    extra = {"map_size": "16GiB"}
    if os.environ.get("BENCH_WRITE_BATCH"):
        extra["write_batch"] = env_int("BENCH_WRITE_BATCH", 32)
    stacks = []
    try:
        big = BenchStack(config_extra=extra, workers=WORKERS,
                    nginx_workers=NGINX_WORKERS, start=False)
        stacks.append(big)
        small = BenchStack(config_extra=extra, workers=WORKERS,
                      nginx_workers=NGINX_WORKERS, start=False)
        stacks.append(small)
        base = BenchStack(workers=WORKERS, nginx_workers=NGINX_WORKERS,
                     serve_args=["-B"])
        stacks.append(base)

        bd = os.path.join(top, "big")
        sd = os.path.join(top, "small")
        os.makedirs(bd, exist_ok=True)
        os.makedirs(sd, exist_ok=True)
        rates, have = load(big, bd, CONTACTS, rnd, True)
        _, have_small = load(small, sd, SMALL, rnd, True)
        big_expect = write_requests(bd, CONTACTS, have, rnd)
        small_expect = write_requests(sd, SMALL, have_small, rnd)
        big.start()
        small.start()
        check(big, big_expect)
        check(small, small_expect)
        log("answers checked; %d workers, %s nginx worker(s), wrk -t%d -c%d, "
            "%d s per scenario, %d rounds" % (WORKERS, NGINX_WORKERS, THREADS,
                                              CONNS, SECONDS, ROUNDS))

        bf = lambda d, n: os.path.join(d, n)  # noqa: E731

        def get(stack, d, name):
            return lambda: wrk(stack, "get.lua", [bf(d, name), stack.key])

        read_base = get(base, bd, "baseline.txt")
        put_dir = os.path.join(big.dir, "lmdb-put")
        write_base = lambda: lmdb_put(put_dir)  # noqa: E731
        # Each measured scenario runs right after its baseline, in every
        # round: the pair sees the same load from whatever else runs on
        # the machine, and its ratio is taken within the pair.
        scen = [
            ("S1 phone lookup", get(big, bd, "s1.txt"), read_base),
            ("S2 read by id", get(big, bd, "s2.txt"), read_base),
            ("S3 contact's cases", get(big, bd, "s3.txt"), read_base),
            ("S1 at %d contacts" % SMALL, get(small, sd, "s1.txt"),
             read_base),
            ("S2 at %d contacts" % SMALL, get(small, sd, "s2.txt"),
             read_base),
            ("S3 at %d contacts" % SMALL, get(small, sd, "s3.txt"),
             read_base),
            ("S4 create case", with_batches(big, lambda: wrk(
                big, "create_case.lua", [bf(bd, "contact_ids.txt"), big.key])),
             write_base),
            ("S5 CCAI session", lambda: wrk(big, "session.lua",
                                            [bf(bd, "numbers.txt"), big.key],
                                            threads=CONNS), None),
        ]
        # Beside S4, in the same rounds, S4's floor: LMDB alone taking the
        # same creates from 32 clients, the best group commit allows them
        # (every create waiting goes into the next commit), and all 32 in
        # each commit; in a directory of its own: its many creates do not
        # grow the baseline's.
        floor_dir = os.path.join(big.dir, "lmdb-put-batched")
        extra = {"S4 create case": [
            (GROUP_NAME, lambda: lmdb_put(floor_dir, CONNS, CONNS)),
            (FULL_NAME, lambda: lmdb_put(floor_dir, CONNS))]}
        only = [x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",")
                if x.strip()]
        if only:
            scen = [x for x in scen if any(x[0].startswith(o) for o in only)]
        # The disk under the stores, once: what a flush costs by the page.
        disk = None
        if any(x[0].startswith("S4") for x in scen):
            disk = disk_flush(big.dir)
            log("disk: a flush after " + ", ".join(
                "%d %s pages %.2f ms" % (n, case, ms)
                for (case, n), ms in disk.items()))
        # For each read scenario, the bare responder once more, answering
        # the scenario's own requests with a fixed answer of the
        # scenario's mean answer size: what nginx, TLS and wrk cost for
        # those requests and answers with no application work at all.
        sized = {}    # name -> (bytes, the run)
        files = {"S1": "s1.txt", "S2": "s2.txt", "S3": "s3.txt"}
        if SIZED:
            for name, _, basefn in scen:
                if basefn is not read_base:
                    continue
                st, d = (small, sd) if " at %d " % SMALL in name + " " \
                    else (big, bd)
                f = files[name[:2]]
                size = answer_bytes(st, bf(d, f), rnd)
                sb = BenchStack(workers=WORKERS, nginx_workers=NGINX_WORKERS,
                                serve_args=["-B", "-b", str(max(300, size))])
                stacks.append(sb)
                sized[name] = (max(300, size), get(sb, d, f))
                log("%s: answers of %d bytes on average; its sized baseline "
                    "answers %d" % (name, size, max(300, size)))
        res = {}      # name -> results, one per round
        pairs = {}    # name -> the baseline results it was paired with
        for rnd_no in range(ROUNDS):
            for name, fn, basefn in scen:
                todo = [(name, fn)]
                if basefn is not None:
                    bname = ("read baseline" if basefn is read_base else
                             "write baseline")
                    todo.insert(0, (bname, basefn))
                if name in sized:
                    todo.append(("sized: " + name, sized[name][1]))
                todo += extra.get(name, [])
                # Every other round the scenario goes first: a load that
                # grows or fades during a pair then favours neither side.
                if rnd_no % 2 == 1:
                    todo.reverse()
                got = {}
                for n, f in todo:
                    r = f()
                    got[n] = r
                    res.setdefault(n, []).append(r)
                    log("round %d %-22s %8.0f req/s  p50 %6.2f ms  p99 %7.2f "
                        "ms  errors %d%s" % (rnd_no + 1, n, r["rps"],
                                             r["p50_us"] / 1e3,
                                             r["p99_us"] / 1e3, r["errors"],
                                             cpu_text(r)))
                if basefn is not None:
                    pairs.setdefault(name, []).append(got[bname])
                if name in sized:
                    pairs.setdefault("sized: " + name, []).append(
                        got[bname])

        if only:
            for line in report(res, pairs, None, None, sized=sized,
                               disk=disk):
                print(line)
            return 0
        prog = lmdb_get_program(top)
        floor = [(n, lmdb_get(prog, st.data_dir, d)) for n, st, d in
                 ((CONTACTS, big, bd), (SMALL, small, sd))]
        mem = memory(big, bd)
        table = report(res, pairs, rates, mem, floor, sized=sized,
                       disk=disk)
        for line in table:
            print(line)
        if RESULTS != "-":
            write_results(info, table, started)
        errors = sum(r["errors"] for rs in res.values() for r in rs)
        if errors:
            log("%d requests failed; see above" % errors)
            return 1
        return 0
    finally:
        for s in stacks:
            s.stop()
        if not os.environ.get("BENCH_DIR"):
            shutil.rmtree(top, ignore_errors=True)


def memory(stack, d):
    """Worker private memory at 10k and MEMORY_REQUESTS requests."""
    stack.restart_fastcrm()
    # The master creates the socket before it forks every worker: wait
    # for all of them, then for an answer.
    deadline = time.monotonic() + 60
    while len(stack.worker_pids()) < WORKERS:
        if time.monotonic() > deadline:
            sys.exit("bench: %d workers after a restart, not %d:\n%s" % (
                len(stack.worker_pids()), WORKERS, stack.log_text()[-3000:]))
        time.sleep(0.1)
    stack.request("GET", "/App/user")
    pids = stack.worker_pids()
    start = {p: private_kb(p) for p in pids}
    done = 0
    marks = {}
    for target in (10000, MEMORY_REQUESTS):
        while done < target:
            secs = max(1, min(30, (target - done) // 8000))
            r = wrk(stack, "get.lua", [os.path.join(d, "mix.txt"), stack.key],
                    seconds=secs)
            done += r["requests"]
            if r["errors"]:
                sys.exit("bench: memory run: %d errors" % r["errors"])
        if sorted(stack.worker_pids()) != sorted(pids):
            sys.exit("bench: a worker was replaced during the memory run "
                     "(%s, now %s); the log's last lines:\n%s" % (
                         pids, stack.worker_pids(),
                         "\n".join(l for l in stack.log_text().splitlines()
                                   if " info " not in l)[-3000:]))
        marks[target] = (done, {p: private_kb(p) for p in pids})
    return start, marks


def med(rs, k):
    return statistics.median(r[k] for r in rs)


def cpu_total(r):
    return r["cpu_fastcrm"] + r["cpu_nginx"] + r["cpu_wrk"]


def cpu_text(r):
    if "cpu_fastcrm" not in r:
        return ""
    return ("  CPU µs/request: fastcrm %.1f nginx %.1f wrk %.1f  steal %.0f%%"
            "  fastcrm page faults/request %.3f"
            % (r["cpu_fastcrm"], r["cpu_nginx"], r["cpu_wrk"], r["steal"],
               r["faults"])) + (
                "  batches: %.1f requests, open %.2f ms, commit %.2f ms" % (
                    r["batch"], r["open_us"] / 1e3, r["commit_us"] / 1e3)
                if "batch" in r else "")


# S4's floor rows: LMDB alone, S4's creates from its clients.
GROUP_NAME = "LMDB alone, group commit for %d clients" % CONNS
FULL_NAME = "LMDB alone, %d creates per commit" % CONNS

# name prefix -> (baseline, minimum ratio, maximum p99 / baseline p99)
TARGETS = [
    ("S1 ", "read", 0.92, 1.5),
    ("S2 ", "read", 0.92, 1.5),
    ("S3 ", "read", 0.92, 1.5),
    ("S4 ", "write", 2.0, 3.0),
]


def s4_floor(res, pairs, disk=None):
    """What LMDB alone gives S4's clients, from the floor rows."""
    s4 = "S4 create case"
    if not all(n in res for n in (s4, GROUP_NAME, FULL_NAME)) or \
            s4 not in pairs:
        return []
    base = pairs[s4]

    def per_base(rows, k):
        # Over the paired baseline's p99, by round.
        return statistics.median(r[k] / b["p99_us"]
                                 for r, b in zip(rows, base))
    grp, full = res[GROUP_NAME], res[FULL_NAME]
    g99, f99 = per_base(grp, "p99_us"), per_base(full, "commit_p99_us")
    s4_99 = statistics.median(a["p99_us"] / g["p99_us"]
                              for a, g in zip(res[s4], grp))
    one = med(base, "pages_per_commit") if "pages_per_commit" in base[0] \
        else None
    if min(g99, f99) > 3:
        verdict = ("Both are above the target's 3 ×, with no HTTP and no "
                   "application work: on this machine no design that "
                   "commits S4's creates through LMDB's one writer meets "
                   "S4's p99 target")
    else:
        verdict = ("Within the target's 3 ×: this run does not show the "
                   "target out of reach")
    out = ["", "S4's floor, measured beside it in every round (the table's "
           "\"LMDB alone\" rows; tests/bench/lmdb_put: S4's puts with no "
           "HTTP and no application work, in a directory as deep as S4's "
           "store). Group commit for the %d clients: %d threads each "
           "submit a create and wait until it is durable; one committer "
           "takes every create waiting into its next transaction. It "
           "committed %.1f creates at a time in %.2f ms, and its clients "
           "waited "
           "%.2f ms on average, %.2f ms at the p99: %.2f × the write "
           "baseline's p99. With all %d creates in every commit (the "
           "other row; p50 and p99 there are a commit's), a commit took "
           "%.2f ms on average and %.2f ms at the p99: %.2f ×. %s. S4's "
           "own p99 was %.2f × the group floor's." % (
               CONNS, CONNS, med(grp, "per_commit"),
               med(grp, "commit_mean_us") / 1e3, med(grp, "mean_us") / 1e3, med(grp, "p99_us") / 1e3, g99,
               CONNS, med(full, "commit_mean_us") / 1e3,
               med(full, "commit_p99_us") / 1e3, f99, verdict, s4_99)]
    if one is not None:
        pages = med(full, "pages_per_commit")
        out += ["", "Why a commit grows with its creates: a durable commit "
                "of one create wrote %.1f pages (the write baseline, in "
                "%.1f write calls), one of %d creates %.1f pages in %.1f "
                "write calls, %.1f pages a create. LMDB copies every page it "
                "changes to a free page, and the free pages are scattered "
                "over the file, so nearly every page is a write of its own "
                "(two of S4's puts go to random places of indexes as large "
                "as the dataset: the case's contact, in ix.Case.contactId "
                "and ix.Case.contactsIds)." % (
                    one, med(base, "writes_per_commit"), CONNS, pages,
                    med(full, "writes_per_commit"), (pages - one) /
                    max(1, CONNS - 1))]
    if disk:
        out[-1] += (" The disk under the stores, flushing after n 4 KiB "
                    "pages written (medians of 100, measured once before the "
                    "rounds): 1 page %.2f ms; 32 pages at random places "
                    "%.2f ms, 128 at random places %.2f ms; 128 in one run "
                    "%.2f ms. A flush costs by the scattered page, not by "
                    "the byte." % (
                        disk[("scattered", 1)], disk[("scattered", 32)],
                        disk[("scattered", 128)], disk[("contiguous", 128)]))
    return out


def s4_batches(res, pairs):
    """Where S4's wait goes, from fastcrm's own batch counters."""
    s4 = "S4 create case"
    rows = [r for r in res.get(s4, []) if "batch" in r]
    if not rows or s4 not in pairs:
        return []
    bp99 = med(pairs[s4], "p99_us") / 1e3
    n, o, c = (med(rows, "batch"), med(rows, "open_us") / 1e3,
               med(rows, "commit_us") / 1e3)
    wait = statistics.median(CONNS / r["rps"] * 1e3 for r in rows)
    return ["", "S4's batches, from fastcrm's /metrics "
            "(fastcrm_write_*; medians over the rounds): %.1f creates per "
            "commit on average. A batch was open %.2f ms, its worker serving "
            "its requests one after another under LMDB's writer lock (%.0f µs "
            "a request), then committed in %.2f ms; the next batch begins "
            "after that. A cycle of %.2f ms, against the %.2f ms the clients "
            "waited on average (Little's law). The commit alone is %.2f × "
            "the write baseline's p99, the cycle %.2f ×; the target is 3 × "
            "for the p99." % (n, o, o * 1e3 / n if n else 0, c, o + c, wait,
                              c / bp99, (o + c) / bp99)]


def report(res, pairs, rates, mem, floor=None, sized=None, disk=None):
    def ratio(name, base, k="rps"):
        return statistics.median(a[k] / b[k] for a, b in zip(res[name], base))

    out = ["| scenario | req/s | p50 ms | p99 ms | CPU µs/req: fastcrm + "
           "nginx + wrk | steal | baseline | ratio | "
           "p99 / baseline p99 | target | met |",
           "|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|"]
    for name, rs in res.items():
        if name.startswith("sized: "):
            continue
        cpu = steal = ""
        if "cpu_fastcrm" in rs[0]:
            cpu = "%.1f + %.1f + %.1f = %.1f" % (
                med(rs, "cpu_fastcrm"), med(rs, "cpu_nginx"),
                med(rs, "cpu_wrk"), statistics.median(cpu_total(r)
                                                      for r in rs))
            steal = "%.0f %%" % med(rs, "steal")
        line = "| %s | %.0f | %.2f | %.2f | %s | %s |" % (
            name, med(rs, "rps"), med(rs, "p50_us") / 1e3,
            med(rs, "p99_us") / 1e3, cpu, steal)
        target = [x for x in TARGETS if name.startswith(x[0])]
        if name in pairs:
            bname = "write" if name.startswith("S4") else "read"
            q = ratio(name, pairs[name])
            pq = ratio(name, pairs[name], "p99_us")
            if target:
                _, bname, want, p99 = target[0]
                met = q >= want and pq <= p99
                line += " %s | %.2f | %.2f | ≥ %.2f, p99 ≤ %.1f× | %s |" % (
                    bname, q, pq, want, p99, "yes" if met else "**no**")
            else:
                line += " %s | %.2f | %.2f | — | — |" % (bname, q, pq)
        else:
            line += " | | | | |"
        out.append(line)
    out += ["", "Ratios are medians of the per-round ratios, each scenario "
            "measured beside its baseline in the same round (the order "
            "alternating). CPU µs/req: the CPU time per request of fastcrm's "
            "master and workers, of nginx and of wrk, as the scheduler "
            "counts it (time the hypervisor stole not included); steal: the "
            "share of the two CPUs' time the hypervisor took during the run."]
    cpu_lines = []
    for name, rs in res.items():
        if (name not in pairs or not name.startswith(("S1", "S2", "S3")) or
                "cpu_fastcrm" not in rs[0]):
            continue
        base = pairs[name]
        bound = statistics.median(cpu_total(b) / cpu_total(a)
                                  for a, b in zip(rs, base))
        own = statistics.median(a["cpu_fastcrm"] - b["cpu_fastcrm"]
                                for a, b in zip(rs, base))
        rest = statistics.median(
            (a["cpu_nginx"] + a["cpu_wrk"]) - (b["cpu_nginx"] + b["cpu_wrk"])
            for a, b in zip(rs, base))
        ideal = statistics.median(
            cpu_total(b) / (cpu_total(b) + (a["cpu_nginx"] + a["cpu_wrk"]) -
                            (b["cpu_nginx"] + b["cpu_wrk"]))
            for a, b in zip(rs, base))
        # What fastcrm may spend over the bare responder, nginx's and
        # wrk's extra as measured, for the CPU ratio to reach the target.
        want = [x[2] for x in TARGETS if name.startswith(x[0])]
        budget = "" if not want else "%+.1f" % statistics.median(
            cpu_total(b) / want[0] - cpu_total(b) -
            ((a["cpu_nginx"] + a["cpu_wrk"]) -
             (b["cpu_nginx"] + b["cpu_wrk"]))
            for a, b in zip(rs, base))
        cpu_lines.append(
            "| %s | %+.1f | %+.1f | %.2f | %.2f | %s | %.3f |" % (
                name, own, rest, bound, ideal, budget, med(rs, "faults")))
    if cpu_lines:
        out += ["", "Where the CPU of a request goes, against the paired "
                "baseline (medians over the rounds): fastcrm's own extra CPU "
                "time per request, the extra of nginx and wrk together (a "
                "longer request line and a larger answer through TLS, and "
                "more wake-ups while fastcrm works), the ratio the CPU time "
                "allows (baseline CPU per request / scenario CPU per request: "
                "what the throughput ratio is when both runs keep the two "
                "cores busy), that ratio with fastcrm's own extra taken "
                "as zero (nginx's and wrk's extra kept), and the extra "
                "fastcrm may spend for the CPU ratio to reach the target "
                "(baseline CPU / target − baseline CPU − nginx's and wrk's "
                "extra; below zero: not even a responder with no work "
                "would), and the minor page faults fastcrm's processes "
                "took per request (a worker mapping a page of the store "
                "it had not read before):", "",
                "| scenario | fastcrm extra µs | nginx + wrk extra µs | "
                "CPU ratio | CPU ratio without fastcrm's extra | "
                "fastcrm extra the target allows µs | fastcrm page faults "
                "/ req |",
                "|---|---:|---:|---:|---:|---:|---:|"] + cpu_lines
    sized_lines = []
    for name, (size, _) in (sized or {}).items():
        sname = "sized: " + name
        if sname not in res or name not in res:
            continue
        plain = ratio(sname, pairs[sname])
        own = statistics.median(a["rps"] / b["rps"]
                                for a, b in zip(res[name], res[sname]))
        cpu = statistics.median(cpu_total(b) / cpu_total(a)
                                for a, b in zip(res[name], res[sname]))
        plain_cpu = statistics.median(
            cpu_total(b) / cpu_total(a)
            for a, b in zip(res[sname], pairs[sname]))
        # What an application answering these may spend over the sized
        # responder for the CPU ratio to reach the target.
        want = [x[2] for x in TARGETS if name.startswith(x[0])]
        leaves = "" if not want else "%+.1f" % statistics.median(
            cpu_total(b) / want[0] - cpu_total(a)
            for a, b in zip(res[sname], pairs[sname]))
        sized_lines.append(
            "| %s | %d | %.0f | %.1f | %.2f | %.2f | %.2f | %.2f | %s |" % (
                name, size, med(res[sname], "rps"),
                statistics.median(cpu_total(r) for r in res[sname]), plain,
                plain_cpu, own, cpu, leaves))
    if sized_lines:
        out += ["", "The same bare responder (`serve -B -b BYTES`) answering "
                "each read scenario's own requests with a fixed answer of "
                "the scenario's mean answer size, in the same rounds: its "
                "ratio to the read baseline is the most any FastCGI "
                "application returning those answers to those requests can "
                "reach here (nginx, TLS and wrk's share alone); the "
                "scenario's ratio to it is fastcrm's own share; the last "
                "column is the CPU an application returning those answers "
                "may spend per request over the sized responder for the "
                "CPU ratio to reach the target (read baseline CPU / target "
                "− the sized responder's CPU, paired by round).", "",
                "| scenario | answer bytes | sized baseline req/s | its CPU "
                "µs/req | sized / read baseline | the same by CPU time | "
                "scenario / sized | the same by CPU time | "
                "the target leaves an application µs |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"] + \
            sized_lines
    if "S4 create case" in res and "S4 create case" in pairs:
        # Little's law: CONNS clients in a closed loop wait CONNS / X on
        # average; no p99 is below that mean.
        x = med(res["S4 create case"], "rps")
        mean = CONNS / x * 1e3
        bp99 = med(pairs["S4 create case"], "p99_us") / 1e3
        out += ["", "S4: %d clients at %.0f req/s wait %.1f ms on average "
                "(Little's law: clients / throughput); its p99 is %.1f × "
                "that mean. A p99 within 3 × the write baseline's p99 "
                "(%.1f ms) needs %.0f req/s or more even if every request "
                "waited exactly the mean." % (
                    CONNS, x, mean, med(res["S4 create case"], "p99_us") /
                    1e3 / mean, 3 * bp99, CONNS / (3 * bp99 / 1e3))]
    out += s4_batches(res, pairs)
    out += s4_floor(res, pairs, disk)
    small = "S1 at %d contacts" % SMALL
    if "S1 phone lookup" in res and small in res:
        q = ratio("S1 phone lookup", res[small])
        out += ["", "S1 at %d contacts / S1 at %d contacts: %.2f (target "
                "≥ 0.90: %s)" % (CONTACTS, SMALL, q,
                                 "yes" if q >= 0.90 else "**no**")]
    if rates is None:
        return out
    if floor:
        out.append("")
        out.append("LMDB alone, a read by id (tests/bench/lmdb_get: mdb_get "
                   "of S2's contacts in one process, the value read):")
        for n, g in floor:
            out.append("  %d contacts: B-tree depth %d, %d leaf pages; "
                       "first pass %.2f µs and %.3f page faults a read, "
                       "warm %.2f µs" % (n, g["depth"], g["leaf_pages"],
                                         g["first_ns"] / 1e3,
                                         g["first_faults"],
                                         g["warm_ns"] / 1e3))
    out.append("")
    for entity, (n, secs) in rates.items():
        out.append("import %s: %d in %.1f s = %.0f records/s%s" % (
            entity, n, secs, n / secs,
            " (target ≥ 50,000/s: %s)" % ("yes" if n / secs >= 50000 else
                                           "**no**")
            if entity == "Contact" else ""))
    start, marks = mem
    out.append("")
    out.append("worker private memory (kB, LMDB map not counted), max over "
               "%d workers:" % len(start))
    out.append("  after start-up: %d" % max(start.values()))
    peak = 0
    for target, (done, kb) in sorted(marks.items()):
        out.append("  after %d requests: %d" % (done, max(kb.values())))
        peak = max(peak, max(kb.values()))
    first = max(marks[min(marks)][1].values())
    last = max(marks[max(marks)][1].values())
    out.append("  growth from 10k to %d requests: %+d kB; under 16 MiB: %s"
               % (marks[max(marks)][0], last - first,
                  "yes" if peak < 16384 else "**no**"))
    return out


def write_results(info, table, started):
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = ""
    if os.path.exists(RESULTS):
        text = open(RESULTS).read()
    block = [begin, "",
             "Last run: %s, %d s; %d contacts (+ as many cases and calls), "
             "%d workers, %s nginx worker(s), %s, wrk -t%d -c%d (S5: -t%d), "
             "%d s × %d rounds, medians." % (
                 time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
                 time.time() - started, CONTACTS, WORKERS, NGINX_WORKERS,
                 "FastCGI keepalive %d" % KEEPALIVE if KEEPALIVE else
                 "a FastCGI connection per request",
                 THREADS, CONNS, CONNS, SECONDS, ROUNDS),
             "", "Machine:", ""] + ["- " + l for l in info] + [""] + \
        table + ["", end]
    if begin in text and end in text:
        text = (text[:text.index(begin)] + "\n".join(block) +
                text[text.index(end) + len(end):])
    else:
        text += "\n" + "\n".join(block) + "\n"
    with open(RESULTS, "w") as f:
        f.write(text)
    log("results written to " + RESULTS)


if __name__ == "__main__":
    sys.exit(main())
