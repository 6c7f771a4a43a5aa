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
   Beside them, C JOS's: with --cjos DIR, measured now, run by run
   interleaved with ours (ours, C, ours, C...) so that both see the same
   machine load, under the same QEMU flags (see C_QEMUEXTRA), with the ratio
   ours / C; without it, the constants of issue 22 (measured weeks before,
   labelled as such). Then `cat lorem | num`
   typed at the `$ ` of icode, the first and the second time in one boot
   (from the typing to num's last line), and `make qemu-nox` to `$ ` in
   wall time (the ISO step, GRUB, the kernel, the file server, the shell).
   Each the median of RUNS boots.
2. Microbenchmarks inside the guest (user/bench/src/bin/bench.rs, and
   user/bench/src/bin/fsbench.rs for the file server's requests): time-stamp
   counter cycles per operation, the median of 7 runs of many iterations,
   with 1 and 2 CPUs.

C JOS (--cjos DIR): a complete C JOS through lab 5 (its grade-lab5 150/150),
built; bench runs `make run-<prog>-nox` and `make qemu-nox` there, with
--cjos-make's words (e.g. `GCCPREFIX= CC=...` to build it with the host gcc)
on every make command line. --cjos-lab4 DIR (the same student's lab-4 tree)
runs the lab-4 workloads there instead: a lab-5 C kernel starts the file
server beside every program, ours does not for lab-4 programs.

Usage: python3 scripts/bench.py [-n RUNS] [--save-baseline] [--cjos DIR [--cjos-lab4 DIR]
       [--cjos-make WORDS]] [program ...]   (standard library only)
"""

import argparse
import json
import os
import re
import select
import shlex
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_ENV = re.compile(r"\[00000000\] new env ")
NO_RUNNABLE = re.compile(r"No runnable environments in the system!")

# name, program, CPUs, the last line, C JOS's guest time (s) from issue 22: a
# student's complete C JOS (80/80 and 150/150 on MIT's graders) measured on
# this machine kind under the same QEMU flags, n=11, weeks before (printed
# only without --cjos, which measures C JOS now).
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

# The lab-4 workloads (run on --cjos-lab4's tree when given).
LAB4 = {"forktree", "pingpong", "primes", "stresssched"}

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


def launch(argv, cwd=ROOT):
    return subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


class Jos:
    """A JOS tree to boot: ours (cjos None) or a C JOS's directory, whose
    make command lines get `make_args` and our QEMU flags (C_QEMUEXTRA)."""

    def __init__(self, cwd=ROOT, make_args=(), cjos=False):
        self.cwd, self.make_args, self.cjos = cwd, list(make_args), cjos

    def argv(self, target, cpus=1, extra=()):
        argv = ["make", "-s", "--no-print-directory"] + self.make_args + [
            target, "CPUS=%d" % cpus, "GDBPORT=%d" % free_port()]
        if self.cjos:
            argv.append("QEMUEXTRA=" + C_QEMUEXTRA % {"cpus": cpus})
        return argv + list(extra)


OURS = Jos()

# What C JOS's QEMU gets beyond its own flags (-smp $(CPUS), its two disks,
# -serial mon:stdio, -gdb), so that it runs as ours does (GNUmakefile's
# QEMUOPTS): 128 MB; TCG in one host thread; the CPUs as sockets (a later
# -smp's keys override its `-smp N`; with QEMU 7's default of cores in one
# socket, SeaBIOS's MP table lists only the first CPU and C JOS finds 1); and
# its disk as a snapshot, as ours boots the clean disk (and as MIT's grader
# runs it), so that no run sees another's writes.
C_QEMUEXTRA = ("-m 128 -accel tcg,thread=single "
               "-smp cpus=%(cpus)d,cores=1,threads=1,sockets=%(cpus)d -snapshot")


def run(prog, cpus, until, timeout=120, steps=(), argv=None, extra=(), jos=OURS):
    """Boots `prog` on `jos` (or runs `argv` there); returns (lines, times, typed) up to the
    line matching `until`. `lines` are the console's lines, `times[i]` when
    line i reached us. `steps` are (regex, text) pairs: once the console
    (the unfinished line included) matches regex, text is typed; `typed[k]`
    is when step k was typed. Raises if `until` never comes."""
    if argv is None:
        argv = jos.argv("run-%s-nox" % prog, cpus, extra)
    p = launch(argv, jos.cwd)
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
        raise RuntimeError("%s: no line matching %r in %ds; its last lines:\n%s"
                           % (prog, until.pattern, timeout,
                              "\n".join(lines[-8:] + [buf.decode("utf-8", "replace")])))
    finally:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()


# MIT's lab-5 kern/env.c has the `new env` line commented out (most students'
# lab-5 trees keep it so): a C JOS without it is timed from the file
# server's first line, printed as soon as the kernel has made the envs and
# run the first; a little later than `new env`, so a little in C's favour
# (1.5 ms in icode's boot on a C JOS that prints both, of 60 to 80 ms).
C_FIRST_ENV_LATE = re.compile(r"^FS is running")
late_start = set()


def guest_time(prog, cpus, until, jos=OURS):
    """Seconds from the program's first env line to the line `until`."""
    lines, times, _ = run(prog, cpus, until, jos=jos)
    start = PROGRAM_START.get(prog, FIRST_ENV)
    first = next((i for i, line in enumerate(lines) if start.search(line)), None)
    if first is None and jos.cjos and start is FIRST_ENV:
        first = next(i for i, line in enumerate(lines) if C_FIRST_ENV_LATE.search(line))
        late_start.add(prog)
    if first is None:
        raise RuntimeError("%s: no line matching %r" % (prog, start.pattern))
    return times[-1] - times[first]


TYPED = "cat lorem | num\r"
# C JOS's guest times (s) for the typed pipeline, first and second run in one
# boot, from issue 22's measurements.
C_TYPED = (0.041, 0.029)
# C JOS's `make qemu-nox` to `$ ` (s), issue 22.
C_QEMU_NOX = 1.04
TYPED_END = re.compile(r"^\s*12 id est laborum\.$")


def typed_pipeline(jos=OURS):
    """(first, second): seconds from typing `cat lorem | num` at icode's
    `$ ` to num's last line, the first and the second time in one boot."""
    _, times, typed = run("icode", 1, TYPED_END, steps=[(r"\$ $", TYPED)], jos=jos)
    first = times[-1] - typed[0]
    _, times, typed = run("icode", 1, TYPED_END, steps=[(r"\$ $", TYPED), (r"\$ $", TYPED)],
                          jos=jos)
    return first, times[-1] - typed[1]


def boot_to_prompt(jos=OURS):
    """Seconds of wall time from starting `make qemu-nox` (its ISO, or C
    JOS's images, already built) to the shell's `$ `: the boot loader, the
    kernel, the file server and the shell."""
    if jos.cjos:
        # Its kernel as `make qemu-nox` boots it (the run-<prog> targets
        # leave one built for their program), built before the clock starts.
        subprocess.run(["make", "-s", "--no-print-directory"] + jos.make_args + ["all"],
                       cwd=jos.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
    t0 = time.monotonic()
    _, times, _ = run("qemu-nox", 1, re.compile(r"\$ $"), argv=jos.argv("qemu-nox"), jos=jos)
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
    """Prints figures as they come, each beside the committed baseline's
    and C JOS's (measured now, or issue 22's), and remembers them for
    --save-baseline."""

    def __init__(self, baseline, cjos_now=False):
        self.base = baseline["figures"]
        self.figures = {}
        self.worse = []
        self.cjos_label = "C JOS now" if cjos_now else "C, issue 22"

    def header(self, title, unit):
        self.unit = unit
        print()
        print(title)
        if unit == "s":
            print("  %-40s %12s %12s %7s %12s %8s" % ("", "now", "baseline", "ratio",
                                                     self.cjos_label, "now / C"))
        else:
            print("  %-40s %12s %12s %7s" % ("", "now", "baseline", "ratio"))

    def row(self, key, value, cjos=None):
        self.figures[key] = value
        fmt = "%11.3fs" if self.unit == "s" else "%12d"
        base = self.base.get(key)
        ratio = "%6.2fx" % (value / base) if base else "%7s" % "-"
        mark = ""
        if base and value > base * WORSE:
            mark = "  <- %d%% worse" % round((value / base - 1) * 100)
            self.worse.append(key)
        c = ""
        if self.unit == "s":
            c = " %11.3fs %7.2fx" % (cjos, value / cjos) if cjos else " %12s %8s" % ("-", "-")
        print("  %-40s %s %s %s%s%s" % (key, fmt % value,
                                        fmt % base if base else "%12s" % "-", ratio, c, mark),
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=7, help="boots per program (median)")
    ap.add_argument("--save-baseline", action="store_true",
                    help="write this run's figures to %s as the new baseline"
                    % os.path.relpath(BASELINE, ROOT))
    ap.add_argument("--cjos", metavar="DIR",
                    help="a built C JOS (through lab 5) to measure now, interleaved with ours")
    ap.add_argument("--cjos-lab4", metavar="DIR",
                    help="a built C JOS at lab 4, for the lab-4 workloads (default: --cjos)")
    ap.add_argument("--cjos-make", metavar="WORDS", default="",
                    help="words for C JOS's make command lines, e.g. 'GCCPREFIX= CC=mygcc'")
    ap.add_argument("programs", nargs="*", help="only these programs (and no microbenchmarks)")
    args = ap.parse_args()

    r = subprocess.run(["make", "-s", "--no-print-directory", "all"], cwd=ROOT)
    if r.returncode != 0:
        return r.returncode
    cjos = cjos4 = None
    if args.cjos:
        words = shlex.split(args.cjos_make)
        cjos = Jos(os.path.abspath(args.cjos), words, cjos=True)
        cjos4 = Jos(os.path.abspath(args.cjos_lab4), words, cjos=True) if args.cjos_lab4 else cjos
        for j in sorted({cjos.cwd, cjos4.cwd}):
            c = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=j,
                               capture_output=True, text=True).stdout.strip()
            print("C JOS: %s (%s)" % (j, c or "not a git tree"))
    baseline = load_baseline()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    print("This tree: %s%s; baseline: %s (%s). Marked: more than %d%% worse than the baseline."
          % (commit, " with changes" if dirty else "", baseline["commit"] or "none",
             os.path.relpath(BASELINE, ROOT), round((WORSE - 1) * 100)))
    t = Table(baseline, cjos is not None)

    def medians(f, c):
        """The medians of f() (ours) and, with --cjos, of c(C JOS), run by
        run interleaved: ours, C, ours, C..."""
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(f())
            if c:
                theirs.append(c())
        if not c:
            return statistics.median(ours), None
        return statistics.median(ours), statistics.median(theirs)

    t.header("Guest time, first env (or the program's first line) to last line, median of %d boots"
             " (TCG, thread=single)%s:" % (args.runs, ", C JOS's interleaved run by run"
                                            if cjos else ""), "s")
    for name, prog, cpus, until, c22 in PROGRAMS:
        if args.programs and prog not in args.programs:
            continue
        cj = cjos4 if prog in LAB4 else cjos
        ours, c = medians(lambda: guest_time(prog, cpus, until),
                          cj and (lambda: guest_time(prog, cpus, until, cj)))
        t.row(name, ours, c if cjos else c22)
    if not args.programs or "icode" in args.programs:
        runs, cruns = [], []
        for _ in range(args.runs):
            runs.append(typed_pipeline())
            if cjos:
                cruns.append(typed_pipeline(cjos))
        c = ([statistics.median(a for a, _ in cruns), statistics.median(b for _, b in cruns)]
             if cjos else C_TYPED)
        t.row("`cat lorem | num` typed, first", statistics.median(a for a, _ in runs), c[0])
        t.row("`cat lorem | num` typed, second", statistics.median(b for _, b in runs), c[1])
    if not args.programs or "qemu-nox" in args.programs:
        ours, c = medians(boot_to_prompt, cjos and (lambda: boot_to_prompt(cjos)))
        t.row("make qemu-nox to `$ `, whole", ours, c if cjos else C_QEMU_NOX)
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
    if late_start:
        print("C JOS printed no `new env` line; timed from `FS is running`: %s"
              % ", ".join(sorted(late_start)))
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
