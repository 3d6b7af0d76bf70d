#!/usr/bin/env python3
"""What reloads cost with kept FastCGI connections (tests/bench/RESULTS.md,
"FastCGI connections that nginx keeps"): 3 workers behind nginx with an
upstream keepalive of 8 and fastcgi_keep_conn on, 8 clients creating and
listing Cases while fastcrm reloads 6 times; prints the answers by status.

    FASTCRM_BIN=./fastcrm python3 tests/bench/keepalive_reload.py [KEEPALIVE]

KEEPALIVE 0 renders nginx as shipped (one connection per request)."""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from harness import Load, Stack  # noqa: E402

keep = int(sys.argv[1]) if len(sys.argv) > 1 else 8
with Stack(workers=3, fastcgi_keepalive=keep) as s:
    with Load(s, threads=8, read_path="/Case?maxSize=2", name="r") as load:
        for _ in range(6):
            time.sleep(0.7)
            s.reload()
        time.sleep(0.5)
    statuses = load.statuses
    print("keepalive %d, 6 reloads: %s" % (
        keep, dict(sorted(collections.Counter(statuses).items()))))
