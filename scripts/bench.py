#!/usr/bin/env python3
"""make bench: how fast the guest is, measured, not asserted.

Two tables:

1. Whole programs, guest time: from the moment the kernel prints the first
   env's `new env` line to the program's last line (`No runnable
   environments` when it ends by itself; for primes, the line of prime 1877),
   taken from when each console line reaches us. Median of RUNS boots each.
   Beside ours: the C JOS (lab 4) figures measured on this machine kind under
   the same QEMU flags (TCG, thread=single), quoted from issue 11.
2. Microbenchmarks inside the guest (user/bench/src/bin/bench.rs, and
   user/bench/src/bin/fsbench.rs for the file server's requests): time-stamp
   counter cycles per operation, the median of 7 runs of many iterations,
   with 1 and 2 CPUs.

Usage: python3 scripts/bench.py [-n RUNS] [program ...]   (standard library only)
"""

import argparse
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_ENV = re.compile(r"\[00000000\] new env ")
NO_RUNNABLE = re.compile(r"No runnable environments in the system!")

# name, program, CPUs, the last line, C JOS's guest time (s) from issue 11.
PROGRAMS = [
    ("forktree, 1 CPU", "forktree", 1, NO_RUNNABLE, 0.035),
    ("pingpong, 1 CPU", "pingpong", 1, NO_RUNNABLE, 0.013),
    ("primes to 1877, 1 CPU", "primes", 1, re.compile(r"CPU .: 1877 "), 1.25),
    ("primes to 1877, 4 CPUs", "primes", 4, re.compile(r"CPU .: 1877 "), 1.68),
    ("stresssched, 4 CPUs", "stresssched", 4, NO_RUNNABLE, 0.14),
    # Lab 5 (no C JOS figure measured): from the program's env (the file
    # server, env 00001000, starts first and runs its own tests meanwhile).
    ("testshell, 1 CPU", "testshell", 1, re.compile(r"shell ran correctly"), None),
    ("primespipe to 997, 1 CPU", "primespipe", 1, re.compile(r"^997$"), None),
]

# Where a lab-5 program's time starts: its env, the second the kernel makes.
PROGRAM_ENV = re.compile(r"\[00000000\] new env 00001001")
LAB5 = {"testshell", "primespipe"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(prog, cpus, until, timeout=120):
    """Boots `prog`; returns (lines, {index: arrival time}) up to the line
    matching `until`, or raises if it never comes."""
    argv = ["make", "-s", "--no-print-directory", "run-%s-nox" % prog, "CPUS=%d" % cpus,
            "GDBPORT=%d" % free_port()]
    p = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    buf = b""
    lines, times = [], []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if not r:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            now = time.monotonic()
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").rstrip("\r")
                lines.append(text)
                times.append(now)
                if until.search(text):
                    return lines, times
            # A last line without its newline yet (primes prints the prime,
            # then forks, then the newline comes with the next env).
            text = buf.decode("utf-8", "replace")
            if until.search(text):
                lines.append(text)
                times.append(now)
                return lines, times
        raise RuntimeError("%s: no line matching %r in %ds" % (prog, until.pattern, timeout))
    finally:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()


def guest_time(prog, cpus, until):
    lines, times = run(prog, cpus, until)
    start = PROGRAM_ENV if prog in LAB5 else FIRST_ENV
    first = next(i for i, line in enumerate(lines) if start.search(line))
    return times[-1] - times[first]


def microbenchmarks(cpus, prog="bench"):
    """The `<prog>: <operation>: N cycles` lines of one boot of `prog`."""
    lines, _ = run(prog, cpus, re.compile(r"%s: done" % prog), timeout=300)
    out = {}
    for line in lines:
        m = re.match(r"%s: (.+): (\d+) cycles$" % prog, line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=7, help="boots per program (median)")
    ap.add_argument("programs", nargs="*", help="only these programs (and no microbenchmarks)")
    args = ap.parse_args()

    r = subprocess.run(["make", "-s", "--no-print-directory", "all"], cwd=ROOT)
    if r.returncode != 0:
        return r.returncode

    print("Guest time, first env to last line, median of %d boots (TCG, thread=single):"
          % args.runs)
    print("  %-26s %9s %9s %7s" % ("program", "ours", "C JOS", "ratio"))
    for name, prog, cpus, until, cjos in PROGRAMS:
        if args.programs and prog not in args.programs:
            continue
        t = statistics.median(guest_time(prog, cpus, until) for _ in range(args.runs))
        if cjos is None:
            print("  %-26s %8.3fs %9s %7s" % (name, t, "-", "-"), flush=True)
        else:
            print("  %-26s %8.3fs %8.3fs %6.2fx" % (name, t, cjos, t / cjos), flush=True)
    if args.programs:
        return 0

    print()
    print("Microbenchmarks (user/bench/src/bin/bench.rs), TSC cycles per operation, median of 7:")
    one, two = microbenchmarks(1), microbenchmarks(2)
    print("  %-26s %12s %12s" % ("operation", "1 CPU", "2 CPUs"))
    for k in one:
        print("  %-26s %12d %12s" % (k, one[k], two.get(k, "-")), flush=True)
    # The file server's requests (user/bench/src/bin/fsbench.rs, with the server).
    one, two = microbenchmarks(1, "fsbench"), microbenchmarks(2, "fsbench")
    for k in one:
        print("  %-26s %12d %12s" % (k, one[k], two.get(k, "-")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
