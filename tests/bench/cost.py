#!/usr/bin/env python3
"""The cost of one request in a fastcrm worker (`make bench-cost`).

Two measurements per scenario, on a dataset of COST_CONTACTS contacts
(and as many cases), through the real nginx and one worker:

  instructions  valgrind --tool=callgrind counting only inside the
                functions a worker runs for a request (libfcgi's accept,
                parse, route, handler, response, log line, libfcgi's
                finish; not the wait for the next connection), for
                COST_REQUESTS requests sent one after another, divided by
                their number.  Repeatable on
                a busy machine: it counts instructions, not time.
  worker µs     the worker's user + system CPU time (/proc/PID/stat) over a
                wrk run of COST_SECONDS, divided by the requests answered:
                everything the worker does per request, libfcgi included.

Scenarios: the baseline (`serve -B`, a fixed answer), S1 phone lookup, S2
read by id, S3 a contact's cases (the same request files as bench.py).

Environment: COST_CONTACTS [10000], COST_REQUESTS [300],
COST_SECONDS [5]; COST_NO_CALLGRIND=1 (CPU time only); COST_ONLY (a label prefix, e.g. "S2"); COST_KEEP=1
keeps the temp dir with the callgrind files (callgrind_annotate reads
them); FASTCRM_BIN as for the tests.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import bench  # noqa: E402
from harness import Stack  # noqa: E402

CONTACTS = int(os.environ.get("COST_CONTACTS", 10000))
REQUESTS = int(os.environ.get("COST_REQUESTS", 300))
SECONDS = int(os.environ.get("COST_SECONDS", 5))
TICK = os.sysconf("SC_CLK_TCK")
# Everything a worker does for a request, the wait for it aside.
TOGGLES = ("FCGX_Accept_r", "http_request_parse", "route_dispatch",
           "http_response", "FCGX_PutStr", "log_info", "FCGX_Finish_r")


def cpu_us(pid):
    """CPU time (µs) and minor page faults of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / TICK, int(fields[7])


def callgrind_ir(path):
    """The total of the events line of a callgrind output file."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


def paths(d, name, n):
    with open(os.path.join(d, name)) as f:
        lines = [l.strip() for l in f if l.strip()]
    return [lines[i % len(lines)] for i in range(n)]


def callgrind_wrapper(top, out, binary):
    """A script in top that runs binary under callgrind, counting only
    TOGGLES, one output file per process in out; returns its path."""
    wrapper = os.path.join(top, "vg-fastcrm")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind -q --tool=callgrind "
                "--collect-atstart=no %s "
                "--callgrind-out-file=%s/cg.%%p %s \"$@\"\n"
                % (" ".join("--toggle-collect=" + t for t in TOGGLES), out,
                   binary))
    os.chmod(wrapper, 0o755)
    return wrapper


def instructions(make, d, name, serve_args, top):
    """Instructions per request (callgrind, TOGGLES) for REQUESTS requests."""
    out = os.path.join(top, "cg-%s" % name)
    os.makedirs(out, exist_ok=True)
    wrapper = callgrind_wrapper(top, out, bench_bin())
    s = make(serve_args)
    s.bin = wrapper
    os.environ["FASTCRM_TEST_TIMEOUT"] = "120"
    s.start()
    workers = s.worker_pids()
    ps = paths(d, name, REQUESTS)
    for p in ps:
        r = s.request("GET", p)
        if r.status != 200:
            sys.exit("cost: %s %s: %d" % (name, p, r.status))
    s.stop()
    total = sum(callgrind_ir(os.path.join(out, "cg.%d" % w))
                for w in workers)
    return total / len(ps)


def worker_us(make, d, name, serve_args):
    s = make(serve_args)
    s.start()
    (w,) = s.worker_pids()
    bench.wrk(s, "get.lua", [os.path.join(d, name), s.key], seconds=1,
              threads=1, conns=4)
    c0, f0 = cpu_us(w)
    r = bench.wrk(s, "get.lua", [os.path.join(d, name), s.key],
                  seconds=SECONDS, threads=1, conns=4)
    c1, f1 = cpu_us(w)
    s.stop()
    if r["errors"]:
        sys.exit("cost: %s: %d errors" % (name, r["errors"]))
    return (c1 - c0) / r["requests"], (f1 - f0) / r["requests"]


_bin = []


def bench_bin():
    return _bin[0]


def main():
    if shutil.which("valgrind") is None:
        sys.exit("cost: valgrind is not installed")
    top = tempfile.mkdtemp(prefix="fccost-")
    try:
        data = os.path.join(top, "data")
        first = Stack(config_extra={"map_size": "16GiB"}, workers=1,
                      start=False)
        _bin.append(first.bin)
        rnd = random.Random(20261201)
        _rates, have = bench.load(first, top, CONTACTS, rnd, True)
        bench.write_requests(top, CONTACTS, have, rnd)
        shutil.copytree(first.data_dir, data)
        first.stop()

        def make(serve_args):
            s = Stack(config_extra={"map_size": "16GiB"}, workers=1,
                      start=False, serve_args=serve_args)
            shutil.rmtree(s.data_dir)
            shutil.copytree(data, s.data_dir)
            return s

        rows = []
        for label, name, args in (("baseline (serve -B)", "baseline.txt",
                                   ["-B"]),
                                  ("S1 phone lookup", "s1.txt", []),
                                  ("S2 read by id", "s2.txt", []),
                                  ("S3 contact's cases", "s3.txt", [])):
            if not label.startswith(os.environ.get("COST_ONLY", "")):
                continue
            ir = instructions(make, top, name, args, top) \
                if not os.environ.get("COST_NO_CALLGRIND") else 0
            us, faults = worker_us(make, top, name, args)
            rows.append((label, ir, us, faults))
            print("cost: %-22s %9.0f instructions, %6.1f µs "
                  "worker CPU, %.2f page faults per request"
                  % (label, ir, us, faults), flush=True)
        print("")
        print("| scenario | worker instructions / request | "
              "worker CPU µs / request | minor page faults / request |")
        print("|---|---:|---:|---:|")
        for label, ir, us, faults in rows:
            print("| %s | %.0f | %.1f | %.2f |" % (label, ir, us, faults))
        print("")
        print("%d contacts, %d requests under callgrind, wrk -t1 -c4 %d s "
              "for CPU time, 1 worker; load average %s" % (
                  CONTACTS, REQUESTS, SECONDS,
                  " ".join(open("/proc/loadavg").read().split()[:3])))
        return 0
    finally:
        if os.environ.get("COST_KEEP"):
            print("cost: kept " + top)
        else:
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
