#!/usr/bin/env python3
"""make bench: how fast the guest is, measured, not asserted.

Every figure is printed beside the committed baseline's
(scripts/bench-baseline.json: the figures and the commit they came from),
with the ratio; one more than 10% worse than its baseline is marked, and
listed at the end. `--save-baseline` (make bench-baseline) rewrites the
baseline from this run: do it on purpose, on a quiet machine, from a
committed tree.

1. Whole programs, guest time: from the first env's `new env` line (for
   spawnhello, testshell, primespipe: their first line) to their last line
   (`No runnable environments` when it ends by itself; for primes, the line of prime 1877;
   icode: the shell's `$ `), taken from when each console line reaches us.
   Beside them: C JOS's figures measured on this machine kind under the same
   QEMU flags (TCG, thread=single), from issue 22. Then `cat lorem | num`
   typed at the `$ ` of icode, the first and the second time in one boot
   (from the typing to num's last line), and `make qemu-nox` to `$ ` in
   wall time (the ISO step, GRUB, the kernel, the file server, the shell).
   Each the median of RUNS boots.
2. Microbenchmarks inside the guest (user/bench/src/bin/bench.rs, and
   user/bench/src/bin/fsbench.rs for the file server's requests): time-stamp
   counter cycles per operation, the median of 7 runs of many iterations,
   with 1 and 2 CPUs.

Usage: python3 scripts/bench.py [-n RUNS] [--save-baseline] [program ...]   (standard library only)
"""

import argparse
import json
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

# name, program, CPUs, the last line, C JOS's guest time (s): a student's
# complete C JOS (80/80 and 150/150 on MIT's graders) measured on this machine
# kind under the same QEMU flags, n=11, from issue 22.
PROGRAMS = [
    ("forktree, 1 CPU", "forktree", 1, NO_RUNNABLE, 0.038),
    ("pingpong, 1 CPU", "pingpong", 1, NO_RUNNABLE, 0.015),
    ("primes to 1877, 1 CPU", "primes", 1, re.compile(r"CPU .: 1877 "), 1.283),
    ("primes to 1877, 4 CPUs", "primes", 4, re.compile(r"CPU .: 1877 "), 1.578),
    ("stresssched, 4 CPUs", "stresssched", 4, NO_RUNNABLE, 0.178),
    # Lab 5: from the program's first line (see PROGRAM_START), except
    # icode, which is timed from the first env, as the whole boot after the
    # kernel's (the file server's start-up checks included).
    ("spawnhello, 1 CPU", "spawnhello", 1, re.compile(r"^i am environment "), 0.038),
    ("testshell, 1 CPU", "testshell", 1, re.compile(r"shell ran correctly"), 0.710),
    ("primespipe to 997, 1 CPU", "primespipe", 1, re.compile(r"^997$"), 0.493),
    ("icode boot to `$ `, 1 CPU", "icode", 1, re.compile(r"\$ $"), 0.069),
]

# Where a lab-5 program's time starts: its first line. (Its env is made at
# boot with the file server's, but the kernel holds it until the server has
# run its start-up checks and waits for requests: kern/src/hold.rs.)
PROGRAM_START = {
    "spawnhello": re.compile(r"^i am parent environment "),
    "testshell": re.compile(r"^running sh -x"),
    "primespipe": re.compile(r"^2$"),
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def launch(argv):
    return subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def run(prog, cpus, until, timeout=120, steps=(), argv=None, extra=()):
    """Boots `prog` (or runs `argv`); returns (lines, times, typed) up to the
    line matching `until`. `lines` are the console's lines, `times[i]` when
    line i reached us. `steps` are (regex, text) pairs: once the console
    (the unfinished line included) matches regex, text is typed; `typed[k]`
    is when step k was typed. Raises if `until` never comes."""
    if argv is None:
        argv = ["make", "-s", "--no-print-directory", "run-%s-nox" % prog, "CPUS=%d" % cpus,
                "GDBPORT=%d" % free_port()] + list(extra)
    p = launch(argv)
    buf = b""
    lines, times, typed = [], [], []
    steps = [(re.compile(rx), text) for rx, text in steps]
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
                if until.search(text) and len(typed) == len(steps):
                    return lines, times, typed
            # A last line without its newline yet (primes prints the prime,
            # then forks, then the newline comes with the next env; the
            # shell's prompt has none).
            text = buf.decode("utf-8", "replace")
            if len(typed) < len(steps) and steps[len(typed)][0].search(text):
                p.stdin.write(steps[len(typed)][1].encode())
                p.stdin.flush()
                typed.append(time.monotonic())
                buf = b""
                lines.append(text)
                times.append(now)
            elif len(typed) == len(steps) and until.search(text):
                lines.append(text)
                times.append(now)
                return lines, times, typed
        raise RuntimeError("%s: no line matching %r in %ds" % (prog, until.pattern, timeout))
    finally:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()


def guest_time(prog, cpus, until):
    """Seconds from the program's first env line to the line `until`."""
    lines, times, _ = run(prog, cpus, until)
    start = PROGRAM_START.get(prog, FIRST_ENV)
    first = next(i for i, line in enumerate(lines) if start.search(line))
    return times[-1] - times[first]


TYPED = "cat lorem | num\r"
# C JOS's guest times (s) for the typed pipeline, first and second run in one
# boot, from issue 22's measurements.
C_TYPED = (0.041, 0.029)
TYPED_END = re.compile(r"^\s*12 id est laborum\.$")


def typed_pipeline():
    """(first, second): seconds from typing `cat lorem | num` at icode's
    `$ ` to num's last line, the first and the second time in one boot."""
    _, times, typed = run("icode", 1, TYPED_END, steps=[(r"\$ $", TYPED)])
    first = times[-1] - typed[0]
    _, times, typed = run("icode", 1, TYPED_END, steps=[(r"\$ $", TYPED), (r"\$ $", TYPED)])
    return first, times[-1] - typed[1]


def boot_to_prompt():
    """Seconds of wall time from starting `make qemu-nox` (its ISO already
    built) to the shell's `$ `: the boot loader, the kernel, the file
    server and the shell."""
    t0 = time.monotonic()
    _, times, _ = run("qemu-nox", 1, re.compile(r"\$ $"),
                      argv=["make", "-s", "--no-print-directory", "qemu-nox",
                            "GDBPORT=%d" % free_port()])
    return times[-1] - t0


# QEMU's instruction counting: the guest's clock (and so its time-stamp
# counter) advances by one nanosecond per instruction executed, whatever the
# host is doing, so a "cycle" figure counts guest instructions and is the
# same from run to run.
ICOUNT = ["QEMUEXTRA=-icount shift=0"]


def microbenchmarks(cpus, prog="bench", extra=()):
    """The `<prog>: <operation>: N cycles` lines of one boot of `prog`."""
    lines, _, _ = run(prog, cpus, re.compile(r"%s: done" % prog), timeout=300, extra=extra)
    out = {}
    for line in lines:
        m = re.match(r"%s: (.+): (\d+) cycles$" % prog, line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


BASELINE = os.path.join(ROOT, "scripts", "bench-baseline.json")
WORSE = 1.10  # a figure more than 10% above its baseline is marked


def load_baseline():
    try:
        with open(BASELINE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"commit": None, "figures": {}}


class Table:
    """Prints figures as they come, each beside the committed baseline's,
    and remembers them for --save-baseline."""

    def __init__(self, baseline):
        self.base = baseline["figures"]
        self.figures = {}
        self.worse = []

    def header(self, title, unit):
        self.unit = unit
        print()
        print(title)
        print("  %-40s %12s %12s %7s %9s" % ("", "now", "baseline", "ratio", "C JOS"))

    def row(self, key, value, cjos=None):
        self.figures[key] = value
        fmt = "%11.3fs" if self.unit == "s" else "%12d"
        base = self.base.get(key)
        ratio = "%6.2fx" % (value / base) if base else "%7s" % "-"
        mark = ""
        if base and value > base * WORSE:
            mark = "  <- %d%% worse" % round((value / base - 1) * 100)
            self.worse.append(key)
        c = "%8.3fs" % cjos if cjos else "%9s" % "-"
        print("  %-40s %s %s %s %s%s" % (key, fmt % value,
                                          fmt % base if base else "%12s" % "-", ratio, c, mark),
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=7, help="boots per program (median)")
    ap.add_argument("--save-baseline", action="store_true",
                    help="write this run's figures to %s as the new baseline"
                    % os.path.relpath(BASELINE, ROOT))
    ap.add_argument("programs", nargs="*", help="only these programs (and no microbenchmarks)")
    args = ap.parse_args()

    r = subprocess.run(["make", "-s", "--no-print-directory", "all"], cwd=ROOT)
    if r.returncode != 0:
        return r.returncode
    baseline = load_baseline()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    print("This tree: %s%s; baseline: %s (%s). Marked: more than %d%% worse than the baseline."
          % (commit, " with changes" if dirty else "", baseline["commit"] or "none",
             os.path.relpath(BASELINE, ROOT), round((WORSE - 1) * 100)))
    t = Table(baseline)

    def median(f):
        return statistics.median(f() for _ in range(args.runs))

    t.header("Guest time, first env (or the program's first line) to last line, median of %d boots"
             " (TCG, thread=single):" % args.runs, "s")
    for name, prog, cpus, until, cjos in PROGRAMS:
        if args.programs and prog not in args.programs:
            continue
        t.row(name, median(lambda: guest_time(prog, cpus, until)), cjos)
    if not args.programs or "icode" in args.programs:
        runs = [typed_pipeline() for _ in range(args.runs)]
        t.row("`cat lorem | num` typed, first", statistics.median(a for a, _ in runs), C_TYPED[0])
        t.row("`cat lorem | num` typed, second", statistics.median(b for _, b in runs),
              C_TYPED[1])
    if not args.programs or "qemu-nox" in args.programs:
        t.row("make qemu-nox to `$ `, whole", median(boot_to_prompt), 1.04)
    if args.programs:
        return finish(args, t, commit, dirty)

    t.unit = "cycles"
    t.header("Microbenchmarks (user/bench/src/bin/bench.rs, fsbench.rs), TSC cycles per "
             "operation, median of 7 runs in one boot:", "cycles")
    for prog in ("bench", "fsbench"):
        for cpus in (1, 2):
            for k, v in microbenchmarks(cpus, prog).items():
                t.row("%s, %d CPU%s" % (k, cpus, "s" if cpus > 1 else ""), v)
    t.header("The same, 1 CPU, counted in guest instructions (QEMU's -icount shift=0: the same "
             "in every run, whatever the host is doing):", "cycles")
    for prog in ("bench", "fsbench"):
        for k, v in microbenchmarks(1, prog, ICOUNT).items():
            t.row("%s, instructions" % k, v)
    return finish(args, t, commit, dirty)


def finish(args, t, commit, dirty):
    """Prints the summary; with --save-baseline, writes the figures."""
    print()
    if t.worse:
        print("%d figure%s more than %d%% worse than the baseline: %s"
              % (len(t.worse), "s" if len(t.worse) > 1 else "", round((WORSE - 1) * 100),
                 ", ".join(t.worse)))
    else:
        print("No figure more than %d%% worse than the baseline." % round((WORSE - 1) * 100))
    if args.save_baseline:
        if dirty:
            print("not saved: the tree has uncommitted changes; commit first, so that the "
                  "baseline names the code it measured")
            return 1
        old = load_baseline()["figures"]
        old.update(t.figures)
        with open(BASELINE, "w") as f:
            json.dump({"commit": commit, "date": time.strftime("%Y-%m-%d"),
                       "runs": args.runs, "figures": old}, f, indent=1, sort_keys=True)
            f.write("\n")
        print("baseline written: %s (commit %s); commit it on purpose"
              % (os.path.relpath(BASELINE, ROOT), commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
