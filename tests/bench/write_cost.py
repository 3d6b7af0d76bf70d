#!/usr/bin/env python3
"""Worker instructions per write, under callgrind (cost.py's toggles: only
what a worker runs for a request): WRITE_N Contact creates (phone and
email), WRITE_N updates of them (a new number), WRITE_N Case creates
linked to them, through the real nginx and one worker, on an empty store.
Counts instructions, not time: repeatable on a busy machine (two runs of
one binary differ by ~0.01%).

    FASTCRM_BIN=./fastcrm FASTCRM_SRCDIR=. python3 tests/bench/write_cost.py

Environment: WRITE_N [150]; FASTCRM_BIN as for the tests.
"""

import glob
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import cost  # noqa: E402
from harness import Stack  # noqa: E402

N = int(os.environ.get("WRITE_N", 150))


def main():
    if shutil.which("valgrind") is None:
        sys.exit("write_cost: valgrind is not installed")
    top = tempfile.mkdtemp(prefix="fcwcost-")
    try:
        out = os.path.join(top, "cg")
        os.makedirs(out)
        s = Stack(workers=1, start=False)
        s.bin = cost.callgrind_wrapper(top, out, s.bin)
        os.environ["FASTCRM_TEST_TIMEOUT"] = "120"
        s.start()
        ids = []
        for i in range(N):
            r = s.request("POST", "/Contact", body={
                "firstName": "W%d" % i, "lastName": "Cost%d" % i,
                "phoneNumber": "+1555%07d" % i,
                "emailAddress": "w%d@example.com" % i, "title": "t"})
            if r.status != 200:
                sys.exit("write_cost: create: %d %s" % (r.status, r.reason))
            ids.append(json.loads(r.body)["id"])
        for i, cid in enumerate(ids):
            r = s.request("PUT", "/Contact/" + cid, body={
                "title": "u%d" % i, "phoneNumber": "+1556%07d" % i})
            if r.status != 200:
                sys.exit("write_cost: update: %d %s" % (r.status, r.reason))
        for i, cid in enumerate(ids):
            r = s.request("POST", "/Case", body={
                "name": "Case %d" % i, "contactId": cid, "status": "New"})
            if r.status != 200:
                sys.exit("write_cost: case: %d %s" % (r.status, r.reason))
        s.stop()
        total = sum(cost.callgrind_ir(p) for p in glob.glob(out + "/cg.*"))
        print("write_cost: %d writes, %.0f worker instructions per write"
              % (3 * N, total / (3 * N)))
        return 0
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
