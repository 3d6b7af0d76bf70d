#!/usr/bin/env python3
"""LMDB bytes per contact, case and call, for choosing map_size.

    FASTCRM_BIN=./fastcrm python3 tests/bench/size.py [N]

Imports N (default 100000) records of each kind, shaped as the
benchmark's (bench.py's generators: contacts with three phone numbers and
an e-mail address, CCAI cases and calls linked to random contacts), with
`fastcrm import` into an empty store in a temp directory, and prints how
much the environment grew with each kind (mdb_stat's pages in use, times
the page size): the figures of conf/INSTALL.md's sizing section.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import bench  # noqa: E402
import harness  # noqa: E402


def used(data):
    o = subprocess.run(["mdb_stat", "-e", data], capture_output=True,
                       text=True, check=True).stdout
    page = int(re.search(r"Page size: (\d+)", o).group(1))
    return page * int(re.search(r"Number of pages used: (\d+)", o).group(1))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    fastcrm = harness.find_fastcrm()
    d = tempfile.mkdtemp(prefix="fastcrm-size-")
    try:
        cfg = harness.base_config(d, harness.make_key()[1])
        cfg["map_size"] = "16GiB"
        conf = os.path.join(d, "fastcrm.yaml")
        with open(conf, "w") as f:
            f.write(harness.yaml_dump(cfg))
        rnd = random.Random(1)
        bench.write_contacts(d + "/Contact.jsonl", n)
        bench.write_cases(d + "/Case.jsonl", n, n, rnd)
        bench.write_calls(d + "/Call.jsonl", n, n, rnd)
        subprocess.run([fastcrm, "verify", "-c", conf], check=True,
                       capture_output=True)
        prev = used(cfg["data_dir"])
        print("empty store: %d bytes" % prev)
        for e in ("Contact", "Case", "Call"):
            src = "%s/%s.jsonl" % (d, e)
            subprocess.run([fastcrm, "import", "--entity", e, src, "-c",
                            conf], check=True, capture_output=True)
            now = used(cfg["data_dir"])
            print("%-8s %d records: JSON %4.0f bytes each, LMDB %5.0f "
                  "bytes each (indexes included)" %
                  (e, n, os.path.getsize(src) / n, (now - prev) / n))
            prev = now
        print("data.mdb: %d bytes" % prev)
    finally:
        shutil.rmtree(d, True)


if __name__ == "__main__":
    main()
