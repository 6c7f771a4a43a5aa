#!/usr/bin/env python3
"""dsmmatmul on one machine against two (make bench-dsm): the product of
two SIZE x SIZE matrices of doubles (256 by default), run N times each
way, turn about: alone (no peer: plain memory) and on two machines
through scripts/pair.py (rows split, pages moved by jos::dsm). Prints,
for each, the median time of the multiplication (the guest's clock, from
the first barrier to the second), the checksum (equal in every run), and
for two machines the pages each sent, the read and write faults and the
retransmissions, then the speed-up. The load average is printed too: a
busy host makes every figure worse (each QEMU wants a core of its own).

    python3 scripts/dsmbench.py [-n N] [--size SIZE] [--gdbport PORT]

Standard library only."""

import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = re.compile(r"dsmmatmul: node (\d+): rows \d+\.\.\d+ in (\d+) ms; checksum (-?\d+)")
STATS = re.compile(r"dsmmatmul: node (\d+): read faults (\d+), write faults (\d+), read ahead (\d+), "
                   r"pages sent (\d+), invalidations (\d+), retransmissions (\d+)")


def one(size, gdbport):
    """One machine alone: (ms, checksum)."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "run-dsmmatmul-nox", "NS=1",
                          "GDBPORT=%d" % gdbport, "KARGS=exitdone size=%d" % size],
                         cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=600).stdout
    m = ROWS.search(out)
    if not m:
        sys.exit("dsmbench: no result from one machine:\n" + out[-2000:])
    return int(m.group(2)), m.group(3)


def two(size, gdbport):
    """Two machines: (ms of the slower, checksum, {node: stats})."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "pair.py"), "dsmmatmul",
                          "--kargs", "size=%d" % size, "--gdbport", str(gdbport), "--timeout", "600"],
                         cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=700).stdout
    rows = ROWS.findall(out)
    stats = {int(s[0]): [int(x) for x in s[1:]] for s in STATS.findall(out)}
    sums = set(r[2] for r in rows)
    if len(rows) != 2 or len(stats) != 2 or len(sums) != 1:
        sys.exit("dsmbench: no result from two machines:\n" + out[-3000:])
    return max(int(r[1]) for r in rows), sums.pop(), stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3, help="runs each way (default 3)")
    ap.add_argument("--size", type=int, default=256, help="the matrices' size (default 256)")
    ap.add_argument("--gdbport", type=int, default=int(os.environ.get("GDBPORT") or 26000))
    a = ap.parse_args()
    alone, pair, sums, last = [], [], set(), None
    for _ in range(a.n):
        ms, s = one(a.size, a.gdbport)
        alone.append(ms)
        sums.add(s)
        ms, s, last = two(a.size, a.gdbport)
        pair.append(ms)
        sums.add(s)
    load = os.getloadavg()[0]
    m1, m2 = statistics.median(alone), statistics.median(pair)
    print("dsmmatmul %dx%d doubles, n=%d each, load average %.2f" % (a.size, a.size, a.n, load))
    print("  one machine:  %6d ms (runs: %s)" % (m1, " ".join(map(str, alone))))
    print("  two machines: %6d ms (runs: %s)" % (m2, " ".join(map(str, pair))))
    print("  speed-up:     %6.2fx" % (m1 / m2))
    print("  checksums:    %s" % ("all equal (%s)" % sums.pop() if len(sums) == 1 else "DIFFER: %s" % sums))
    for node in sorted(last):
        r, w, ahead, sent, inval, re_ = last[node][:6]
        print("  node %d (last run): read faults %d, write faults %d, read ahead %d, pages sent %d, "
              "invalidations %d, retransmissions %d" % (node, r, w, ahead, sent, inval, re_))


if __name__ == "__main__":
    main()
