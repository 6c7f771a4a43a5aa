"""The grading harness: one QEMU boot per test, regular expressions over the
console (what MIT's gradelib.py is to its grade-labN). The tests are in the
other files of grade/, one per part; grade.py imports them in order and
calls main().

Tests in parallel
-----------------
`-j N` (or GRADE_JOBS=N; `make grade J=N`) runs N tests at once, each in a
thread of its own driving its own QEMU; the default is one per CPU, since a
QEMU (TCG, `thread=single`) keeps one CPU busy; 0 also means one per CPU. The
report does not depend on N: the same lines in the same order, each test's
block whole, in declaration order, printed as soon as that test and every test
before it are done. With more tests at once than CPUs, every timeout is
multiplied by N / CPUs (on top of --timeout-scale): each QEMU then gets only a
share of a CPU. `-v` runs one test at a time unless -j is given too; with -j N
(N > 1) each echoed console line is prefixed with `[test-name] `. With -j N
(N > 1) the longest tests start first, by the CPU seconds grade/times.txt
records for them (`--save-times` writes it; a test not in it starts last):
a long test started last would run on alone at the end.

Declaring a test
----------------
Tests are reported in the order they are declared, grouped by the last
`part(...)` call. They may run at the same time as others (see above), each in
its own thread: a test keeps its state in local variables, and anything shared
between tests is computed once under a lock (see free_pages_at_boot).

A program that runs and ends in the monitor, matched line by line:

    part("Part B: user environments")
    prog_test(5, "hello", "hello", make_vars={"FS": ""},   # without the file server
              expect=["hello, world", "i am environment 00001000",
                      r"\\[00001000\\] exiting gracefully"],
              never=["panic"])

Anything more involved is a function; it fails by raising TestFailure (which
`Console.match` and `require(cond, message)` do):

    @test(10, "backtrace lists mon_backtrace")
    def _():
        r = boot(commands=["backtrace"])    # stops at the prompt after the command
        out = r.command(0)                  # the lines `backtrace` printed
        out.match("Stack backtrace:", r"\\s+\\S+\\.rs:\\d+: \\S*mon_backtrace")
        require(len(out.all("  ebp ")) >= 2, "fewer than two frames")

    @test(5, "stresssched")   # @test(points, name, qemu=False): needs no build
    def _():
        r = run_prog("stresssched", cpus=4, stop=r"No runnable environments", timeout=120)
        r.match(*[r"\\[000010..\\] stresssched on CPU %d" % c for c in range(4)],
                no=[".*ran on two CPUs at once"])

`boot()`, `run_prog(prog, ...)` and `grub_boot()` take:
    cpus=N, kargs="...", qemuextra="..."    passed to make as CPUS=, KARGS=, QEMUEXTRA=
    commands=[...]    monitor commands, each typed when the next `K> ` arrives
    stop=PROMPT       stop at the prompt after the last command (the default);
                      or stop=N for the Nth prompt, stop="regex" for the first
                      line that matches, stop=callable(run) -> bool, or stop=None
                      to read until the timeout (which is then no failure)
    timeout=30        seconds (TCG is slow); not reaching `stop` in time fails
    inputs=[(s, text)]  text typed s seconds after the start, whatever the
                      console shows ("\\x01c" switches to QEMU's own monitor)
    answers=[(regex, text)]  text typed once the console shows `regex` (searched,
                      not matched, in what came after the previous answer's
                      match: a program's prompt needs no newline), in order
Each QEMU gets a free GDB port (GDBPORT=, an ephemeral port, never one given
to another test of the same run; chosen again if QEMU finds it taken), so the
tests running at once, a `make qemu-nox` in another terminal (its port is the
GNUmakefile's, 25000 + uid % 5000) and other users' QEMUs do not get in the way.

They return a Run: the console as `lines` (escape sequences removed) and `text`
(raw), plus `reason`, `prompts`, `elapsed`. Views, each a Console with the same
methods: `r.command(i)` (what commands[i] printed, up to the next prompt),
`r.after(rx)` / `r.before(rx)` (the lines after / before the first line that
matches), `r.kernel()` (the lines after the BIOS's and GRUB's). A Console has
`match`, `find(rx)` (index), `search(rx)` (re.Match), `all(rx)`, `first_line()`.

Regular expressions are matched with re.match against each console line (so `.`
is any character and a regex is anchored at the start of the line only; add `$`
to pin the end). `Console.match(*regexes, no=[...], ordered=False)` needs each
regex to match some line (with ordered=True, in that order) and no line to match
any of `no`.

Before the first test that boots QEMU, `make` runs once; if it fails, its output
is shown and every such test fails. Tests declared with qemu=False start first
and run alongside the build. Timeouts scale with --timeout-scale F (or
GRADE_TIMEOUT_SCALE) for slow machines.

Standard library only."""

import argparse
import codecs
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE = ["make", "-s", "--no-print-directory"]
# make for a test's QEMU: the build ran once before the first test (see
# _Build), so cargo is not asked again (CARGO=true): each `cargo build` would
# cost seconds, and the tests running at once would wait for its lock.
QEMU_MAKE = MAKE + ["CARGO=true"]
PROMPT_TEXT = "K> "


class _Prompt:
    """The default stop condition: the prompt after the last command."""

    def __repr__(self):
        return "PROMPT"


PROMPT = _Prompt()

# Set by main() from the command line.
VERBOSE = False
TIMEOUT_SCALE = 1.0
JOBS = 1  # tests run at once (-j)


class _Context(threading.local):
    """What the thread running a test knows about it: tests run in worker
    threads, several at once with -j N, so this is per thread."""

    def __init__(self):
        self.runs = []  # every process the current test started (Run objects)
        self.label = "grade"  # the test's slug: prefixes echoed lines with -v -j N
        self.cpu = 0.0  # CPU seconds of the processes the current test started


_ctx = _Context()

# Everything printed (report blocks, -v echo) goes out under this lock.
_out_lock = threading.RLock()


def _say(text):
    """Print whole lines at once, never interleaved with another thread's."""
    with _out_lock:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def _prefixed():
    """Echoed console lines are prefixed with the test's name when several
    tests run at once (-v with -j N, N > 1)."""
    return VERBOSE and JOBS > 1


class TestFailure(Exception):
    """A test's expectation did not hold; the message says which."""


def require(cond, message):
    """Fail the current test with `message` unless `cond` holds."""
    if not cond:
        raise TestFailure(message)


# ---------------------------------------------------------------------------
# The registry of tests

class Test:
    def __init__(self, fn, points, name, part_name, qemu, long=False):
        self.fn = fn
        self.points = points
        self.name = name
        self.part = part_name
        self.qemu = qemu  # needs the kernel built first
        self.long = long  # run only with --long (make grade-long)
        self.elapsed = self.cpu = None  # seconds, once it ran

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "test"


TESTS = []
_part = None


def part(name):
    """Start a part: the tests declared after this call belong to it."""
    global _part
    _part = name


def test(points, name=None, qemu=True, long=False):
    """Decorator declaring a test worth `points`. `qemu=False` for tests that do
    not boot the kernel (they then do not wait for the build); `long=True` for
    one that runs only with --long (`make grade-long`), never in `make grade`.
    The function may return a short string, shown after the name: `name
    (string): OK`."""

    def register(fn):
        t = Test(fn, points, name or fn.__name__, _part, qemu, long)
        assert all(o.slug != t.slug for o in TESTS), "two tests named %r" % t.name
        TESTS.append(t)
        return fn

    return register


def cpus_label(cpus):
    """"1 CPU" or "N CPUs", for the names of tests run on several counts."""
    return "%d CPU%s" % (cpus, "" if cpus == 1 else "s")


# ---------------------------------------------------------------------------
# Console text

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_a-z])")


def _overlay(line):
    """A line as a terminal shows it: text after a carriage return overwrites."""
    if "\r" not in line:
        return line
    shown = []
    for piece in line.split("\r"):
        shown[:len(piece)] = piece
    return "".join(shown)


def split_lines(text):
    """Console text as lines: terminal escape sequences removed, line ends
    (\\n or \\r\\n) dropped, carriage returns applied. A last partial line (such
    as the prompt) is kept."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    lines = [_overlay(line.rstrip("\r")) for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def show(regex):
    """A regex for a message: quoted, backslashes not doubled."""
    return "'%s'" % (regex.pattern if hasattr(regex, "pattern") else regex)


class Console:
    """A list of console lines to match regular expressions against."""

    def __init__(self, lines, what="console"):
        self.lines = list(lines)
        self.what = what

    def __iter__(self):
        return iter(self.lines)

    def __str__(self):
        return "\n".join(self.lines)

    def find(self, regex, start=0):
        """Index of the first line at or after `start` that matches, or None."""
        for i in range(start, len(self.lines)):
            if re.match(regex, self.lines[i]):
                return i
        return None

    def search(self, regex):
        """The re.Match of the first matching line, or None."""
        for line in self.lines:
            m = re.match(regex, line)
            if m:
                return m
        return None

    def all(self, regex):
        """The re.Match of every matching line."""
        return [m for m in (re.match(regex, line) for line in self.lines) if m]

    def after(self, regex):
        """The lines after the first line that matches (fails if none does)."""
        i = self.find(regex)
        require(i is not None, "%s: missing %s" % (self.what, show(regex)))
        return Console(self.lines[i + 1:], "%s after %s" % (self.what, show(regex)))

    def before(self, regex):
        """The lines before the first line that matches (all if none does)."""
        i = self.find(regex)
        return Console(self.lines[:len(self.lines) if i is None else i], self.what)

    def first_line(self):
        """The first line that is not blank, or None."""
        for line in self.lines:
            if line.strip():
                return line
        return None

    def match(self, *regexes, no=(), ordered=False):
        """Require each regex to match some line (with ordered=True, each on a
        line after the previous one's) and no line to match a regex of `no`.
        Returns self, so checks can be chained."""
        errors = []
        if ordered:
            pos = 0
            for rx in regexes:
                i = self.find(rx, pos)
                if i is None:
                    where = "" if pos == 0 else " after line %d %r" % (pos, self.lines[pos - 1])
                    errors.append("%s: missing %s%s" % (self.what, show(rx), where))
                    if self.find(rx) is not None:
                        errors[-1] += " (it appears earlier, out of order)"
                else:
                    pos = i + 1
        else:
            for rx in regexes:
                if self.find(rx) is None:
                    errors.append("%s: missing %s" % (self.what, show(rx)))
        for rx in no:
            for line in self.lines:
                if re.match(rx, line):
                    errors.append("%s: unexpected line %r (matches %s)" % (self.what, line, show(rx)))
                    break
        if errors:
            raise TestFailure("\n".join(errors))
        return self


# ---------------------------------------------------------------------------
# Subprocesses: read incrementally, stop on a condition, kill the whole group

# Every process running now, whichever test started it: an interrupted grading
# run (Ctrl-C) ends them all. Once _cancelled is set, no process starts.
_live_lock = threading.Lock()
_live = set()
_cancelled = False


def _cancel_all():
    """Start no more processes and end every running one (and its group); the
    threads reading them then see the end and clean up as usual."""
    global _cancelled
    with _live_lock:
        _cancelled = True
        procs = list(_live)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            try:
                os.killpg(proc.pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(_group_alive(p.pid) for p in procs):
            time.sleep(0.05)


def _proc_stats():
    """The fields after the command name of every process's /proc/PID/stat
    (state first, then ppid, pgrp, ...), or None without /proc."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    stats = []
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        stats.append(stat[stat.rfind(")") + 2:].split())
    return stats


def _group_alive(pgid):
    """Whether a process other than a zombie is still in process group `pgid`."""
    stats = _proc_stats()
    if stats is None:
        try:
            os.killpg(pgid, 0)
            return True
        except OSError:
            return False
    return any(len(f) > 2 and f[0] != "Z" and f[2] == str(pgid) for f in stats)


def _group_cpu(pgid):
    """CPU seconds used so far by the processes of group `pgid` (user and
    system, with their children that ended), or 0.0 without /proc."""
    stats = _proc_stats() or []
    ticks = sum(sum(int(x) for x in f[11:15])  # utime stime cutime cstime
                for f in stats if len(f) > 14 and f[2] == str(pgid))
    return ticks / os.sysconf("SC_CLK_TCK")


_echo_midline = False


def _echo(run, text):
    """Echo console text (-v), without the escapes that would reset the terminal.
    With several tests at once, only whole lines, each prefixed `[test] `."""
    global _echo_midline
    with _out_lock:
        if _prefixed():
            run._echo_buf += text  # escapes are removed from whole lines
            *lines, run._echo_buf = run._echo_buf.split("\n")
            for line in lines:
                sys.stdout.write("[%s] %s\n" % (run.label, _ANSI.sub("", line).rstrip("\r")))
        else:
            # An escape sequence may be split between two reads: keep its
            # start back until the rest arrives.
            text = run._echo_buf + text
            run._echo_buf = ""
            esc = text.rfind("\x1b")
            if esc >= 0 and len(text) - esc < 16 and not _ANSI.match(text, esc):
                text, run._echo_buf = text[:esc], text[esc:]
            text = _ANSI.sub("", text)
            if not text:
                return
            sys.stdout.write(text)
            _echo_midline = not text.endswith("\n")
        sys.stdout.flush()


def _echo_end(run):
    """End a partial echoed line, so the report starts on its own line."""
    global _echo_midline
    with _out_lock:
        if _prefixed():
            if run._echo_buf:
                sys.stdout.write("[%s] %s\n" % (run.label, _ANSI.sub("", run._echo_buf).rstrip("\r")))
                run._echo_buf = ""
        else:
            rest, run._echo_buf = _ANSI.sub("", run._echo_buf), ""
            if rest:
                sys.stdout.write(rest)
                _echo_midline = not rest.endswith("\n")
            if _echo_midline:
                sys.stdout.write("\n")
                _echo_midline = False
        sys.stdout.flush()


def _kill_group(proc):
    """End `proc` and everything it started (make, the shell, QEMU)."""
    pgid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.02)
        else:
            continue
        break
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for f in (proc.stdin, proc.stdout):
        try:
            if f:
                f.close()
        except OSError:
            pass


class Run(Console):
    """One process (usually make + QEMU) and the console it printed.

    After it ends: `text` (raw, decoded), `lines`, `reason` ("stop" when the stop
    condition was reached, "timeout", or "exit" when the process ended first),
    `returncode` (when it exited by itself), `elapsed`, `cpu` (CPU seconds
    of the process and everything it started), `prompts` (number of prompts
    seen: `K> `, or what `prompt` says) and `argv`."""

    def __init__(self, argv, commands=(), stop=None, timeout=30.0, what="console", inputs=(),
                 answers=(), prompt=PROMPT_TEXT):
        super().__init__([], what)
        self.argv = list(argv)
        self.prompt = prompt  # commands are typed after each of these
        self.commands = list(commands)
        self.inputs = sorted(inputs, key=lambda i: i[0])  # (seconds, text)
        self.answers = list(answers)  # (regex, text), in order
        self._answered = 0  # offset in text after the last answer's match
        self.stop = stop
        self.timeout = timeout
        self.text = ""
        self.reason = None
        self.returncode = None
        self.elapsed = 0.0
        self.cpu = 0.0
        self._prompt_at = []  # offsets in text just after each prompt
        self._scan = 0  # prompt search resumes here
        self._line_start = 0  # offset of the first incomplete line
        self._new_lines = []  # complete lines that arrived with the last chunk
        self.label = _ctx.label  # the test that started it (for -v -j N)
        self._echo_buf = ""  # text not echoed yet (-v): a partial line, or escape

    # -- the stop condition, in words ------------------------------------
    def _prompts_wanted(self):
        if self.stop is PROMPT:
            return len(self.commands) + 1
        if isinstance(self.stop, int) and not isinstance(self.stop, bool):
            return self.stop
        return None

    def describe_stop(self):
        n = self._prompts_wanted()
        if n is not None:
            return "prompt %r number %d (%d seen)" % (self.prompt, n, len(self._prompt_at))
        if self.stop is None:
            return "the timeout"
        if callable(self.stop):
            return getattr(self.stop, "__doc__", None) or "the stop condition"
        return "a line matching %s" % show(self.stop)

    @property
    def prompts(self):
        return len(self._prompt_at)

    # -- running -----------------------------------------------------------
    def start(self):
        _ctx.runs.append(self)
        if VERBOSE:
            _say(("[%s] + " % self.label if _prefixed() else "+ ") + " ".join(self.argv))
        t0 = time.monotonic()
        with _live_lock:
            if _cancelled:
                raise TestFailure("interrupted")
            proc = subprocess.Popen(self.argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, bufsize=0, start_new_session=True)
            _live.add(proc)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = proc.stdout.fileno()
        deadline = t0 + self.timeout
        sent = 0
        inputs = list(self.inputs)
        try:
            while self.reason is None:
                now = time.monotonic()
                # Type what is due (timed input, e.g. for QEMU's monitor).
                while inputs and t0 + inputs[0][0] <= now:
                    try:
                        proc.stdin.write(inputs.pop(0)[1].encode())
                        proc.stdin.flush()
                    except OSError:
                        pass
                remaining = deadline - now
                if remaining <= 0:
                    self.reason = "timeout"
                    break
                wait = remaining if not inputs else max(0.0, min(remaining, t0 + inputs[0][0] - now))
                ready, _, _ = select.select([fd], [], [], wait)
                if not ready:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    self._feed(decoder.decode(b"", final=True))
                    self.reason = "stop" if self._stopped() else "exit"
                    # wait4: its CPU time, its children's included.
                    _, status, usage = os.wait4(proc.pid, 0)
                    proc.returncode = self.returncode = os.waitstatus_to_exitcode(status)
                    self.cpu = usage.ru_utime + usage.ru_stime
                    break
                self._feed(decoder.decode(data))
                # Type the next command once its prompt is there.
                while sent < len(self.commands) and sent < len(self._prompt_at):
                    try:
                        proc.stdin.write((self.commands[sent] + "\n").encode())
                        proc.stdin.flush()
                    except OSError:
                        pass
                    sent += 1
                # Answer what the program asks for, once it has asked.
                while self.answers:
                    m = re.compile(self.answers[0][0]).search(self.text, self._answered)
                    if not m:
                        break
                    self._answered = m.end()
                    try:
                        proc.stdin.write(self.answers.pop(0)[1].encode())
                        proc.stdin.flush()
                    except OSError:
                        pass
                if self._stopped():
                    self.reason = "stop"
        finally:
            if self.returncode is None:
                self.cpu = _group_cpu(proc.pid)
            _ctx.cpu += self.cpu
            _kill_group(proc)  # even after an exit: its children may outlive it
            with _live_lock:
                _live.discard(proc)
            self.elapsed = time.monotonic() - t0
            self.lines = split_lines(self.text)
            if VERBOSE:
                _echo_end(self)
        return self

    def _feed(self, chunk):
        if not chunk:
            return
        if VERBOSE:
            _echo(self, chunk)
        self.text += chunk
        while True:
            i = self.text.find(self.prompt, self._scan)
            if i < 0:
                self._scan = max(self._scan, len(self.text) - len(self.prompt) + 1)
                break
            self._prompt_at.append(i + len(self.prompt))
            self._scan = i + len(self.prompt)
        self._new_lines = []
        end = self.text.rfind("\n")
        if end >= self._line_start:
            self._new_lines = split_lines(self.text[self._line_start:end + 1])
            self._line_start = end + 1

    def _stopped(self):
        n = self._prompts_wanted()
        if n is not None:
            return len(self._prompt_at) >= n
        if self.stop is None:
            return False
        if callable(self.stop):
            self.lines = split_lines(self.text)
            return bool(self.stop(self))
        return any(re.match(self.stop, line) for line in self._new_lines)

    # -- views -----------------------------------------------------------
    def command(self, i, cut=None):
        """The lines printed between the prompt where commands[i] was typed and
        the next prompt (the first line is the echoed command); `cut`, a
        compiled regex, is removed from the text first (see USER_VIEW)."""
        require(i < len(self._prompt_at), "no prompt for command %d: only %d prompt(s) seen" % (i, len(self._prompt_at)))
        start = self._prompt_at[i]
        end = self._prompt_at[i + 1] - len(self.prompt) if i + 1 < len(self._prompt_at) else len(self.text)
        what = "output of %r" % (self.commands[i] if i < len(self.commands) else "command %d" % i)
        text = self.text[start:end]
        return Console(split_lines(cut.sub("", text) if cut else text), what)

    def kernel(self):
        """The lines after the firmware's: SeaBIOS prints on the serial port too,
        ending with `Booting from ...`, and GRUB ends with `  Booting `JOS'`."""
        i = None
        for j, line in enumerate(self.lines):
            if re.match(r"Booting from |\s*Booting `", line):
                i = j
        return Console(self.lines[0 if i is None else i + 1:], self.what)

    def check_stopped(self):
        """Fail unless the stop condition was reached (with stop=None, any end
        is fine)."""
        if self.reason == "stop" or self.stop is None:
            return self
        if self.reason == "timeout":
            msg = "timed out after %.0fs waiting for %s" % (self.timeout, self.describe_stop())
        else:
            cmd = " ".join(a for a in self.argv if not a.startswith("-"))
            msg = "`%s` exited (status %s) before %s" % (cmd, self.returncode, self.describe_stop())
        raise TestFailure(msg)


def scaled(seconds):
    """`seconds` stretched as every timeout is (--timeout-scale, and jobs
    beyond the CPUs)."""
    return seconds * TIMEOUT_SCALE


def start_tracked(argv, **kw):
    """subprocess.Popen(argv, cwd=ROOT, start_new_session=True, **kw) for a
    test that reads the process itself: registered, so that an interrupted
    run ends it too. End it with kill_tracked, then untrack it once reaped."""
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, **kw)
    with _live_lock:
        _live.add(proc)
    return proc


def kill_tracked(proc):
    """SIGKILL to `proc`'s whole group, its CPU time counted to the test."""
    _ctx.cpu += _group_cpu(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def stop_tracked(proc, sig=signal.SIGTERM, timeout=5):
    """Sends `sig` to `proc`'s group (start_tracked) and waits up to
    `timeout` seconds for it to end (then SIGKILL); its CPU time counted to
    the test, it is reaped and untracked. Returns its exit status."""
    _ctx.cpu += _group_cpu(proc.pid)
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        code = proc.wait()
    untrack(proc)
    return code


def untrack(proc):
    """Forget `proc` (start_tracked), reaped."""
    with _live_lock:
        _live.discard(proc)


def run_command(argv, timeout=1200, what="output"):
    """Run a host command to completion (or its timeout), output collected."""
    r = Run(argv, stop=None, timeout=timeout * TIMEOUT_SCALE, what=what)
    r.start()  # r.reason is "exit" (see r.returncode) or "timeout"
    return r


_ports_lock = threading.Lock()
_ports_given = set()


def _port_free(port):
    """Whether TCP `port` (on every address) and UDP `port` on 127.0.0.1
    can be bound right now."""
    try:
        with socket.socket() as s:
            s.bind(("", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def gdbport_arg():
    """`GDBPORT=N` for make, N a port free right now: QEMU refuses to start when
    its GDB port is taken, and the GNUmakefile's choice is the same for every
    QEMU of the same user (another terminal, another grading run). The kernel
    picks N among the ephemeral ports (the GNUmakefile's, 25000-29999, are
    below them). The network's forwarded ports are N+1 and N+2 (PORT7 and
    PORT80, see the GNUmakefile), so those must be free too; none of the
    three is one this run gave to another QEMU, which may not be listening
    yet."""
    with _ports_lock:
        while True:
            with socket.socket() as s:
                s.bind(("", 0))
                port = s.getsockname()[1]
            ports = {port, port + 1, port + 2}
            if (port + 2 < 65536 and not ports & _ports_given
                    and _port_free(port + 1) and _port_free(port + 2)):
                _ports_given.update(ports)
                return ["GDBPORT=%d" % port]


# QEMU's complaint when its GDB port, or a port forwarded to the guest's
# network, was taken between our choice and its start.
_GDBPORT_TAKEN = re.compile(r".*(-gdb tcp::\d+: Failed to find an available port"
                            r"|Could not set up host forwarding rule)")


def run_qemu(target, cpus=None, kargs=None, qemuextra=None, commands=(), stop=PROMPT,
             timeout=30, make_vars=None, inputs=(), answers=(), prompt=PROMPT_TEXT):
    """Boot QEMU through `make <target>` and read its console until `stop`;
    fails the test if `stop` is not reached within `timeout` seconds.
    `commands` are typed one after each `prompt` (the monitor's `K> `, or
    the shell's `$ `). `inputs`: [(seconds, text)], text typed that long
    after the start (\\x01c switches the console to QEMU's monitor);
    `answers`: [(regex, text)], text typed once the console shows regex."""
    argv = []
    if cpus is not None:
        argv.append("CPUS=%d" % cpus)
    if kargs is not None:
        argv.append("KARGS=%s" % kargs)
    if qemuextra is not None:
        argv.append("QEMUEXTRA=%s" % qemuextra)
    for k, v in (make_vars or {}).items():
        argv.append("%s=%s" % (k, v))
    inputs = [(t * TIMEOUT_SCALE, text) for t, text in inputs]
    for attempt in range(3):
        r = Run(QEMU_MAKE + [target] + gdbport_arg() + argv, commands=commands, stop=stop,
                timeout=timeout * TIMEOUT_SCALE, inputs=inputs, answers=answers,
                prompt=prompt)
        r.start()
        if r.reason != "exit" or not any(_GDBPORT_TAKEN.match(line) for line in r.lines[-5:]):
            break
        if attempt < 2:
            _ctx.runs.remove(r)  # someone else took the port: try another
    return r.check_stopped()


def boot(**kw):
    """Boot the kernel directly (`make boot-nox`), no program."""
    return run_qemu("boot-nox", **kw)


# The build's disk image, which the run-* targets boot under snapshot=on:
# the tests never boot the person's disk (obj/fs/fs.img), whatever is on it.
CLEAN_IMG = os.path.join("obj", "fs", "clean.img")


def grub_boot(timeout=120, **kw):
    """Boot through GRUB (`make qemu-nox`), with the build's clean disk
    image (FSIMG=obj/fs/clean.img, which the make file boots under
    snapshot=on), not the person's `make qemu-nox` gets."""
    make_vars = dict(kw.pop("make_vars", None) or {})
    make_vars.setdefault("FSIMG", CLEAN_IMG)
    return run_qemu("qemu-nox", timeout=timeout, make_vars=make_vars, **kw)


def run_prog(prog, **kw):
    """Boot the kernel with `prog` as the first environment (`make run-<prog>-nox`)."""
    return run_qemu("run-%s-nox" % prog, **kw)


def prog_test(points, name, prog, expect=(), never=(), ordered=False, **kw):
    """Declare a test that runs `prog` (keywords as for run_prog: cpus, commands,
    stop, timeout, kargs) and matches `expect` and `never` against its console."""

    def fn():
        run_prog(prog, **kw).match(*expect, no=never, ordered=ordered)

    fn.__name__ = "test_" + re.sub(r"\W", "_", name)
    test(points, name)(fn)




# ---------------------------------------------------------------------------
# The runner

def _selected(args):
    tests = [t for t in TESTS if t.long == args.long]
    if not args.filters:
        return tests
    words = [w.lower() for w in args.filters]
    return [t for t in tests
            if any(w in t.name.lower() or w in (t.part or "").lower() for w in words)]


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.split("\n"))


def _save_console(t, runs):
    path = os.path.join(ROOT, "jos.out." + t.slug)
    with open(path, "w") as f:
        for r in runs:
            if len(runs) > 1:
                f.write("==== %s (%s, %.1fs)\n" % (" ".join(r.argv), r.reason, r.elapsed))
            f.write(r.text)
            if r.text and not r.text.endswith("\n"):
                f.write("\n")
    return os.path.relpath(path)


class _Build:
    """`make` once before the first QEMU test; QEMU tests wait for it."""

    def __init__(self):
        self.done = threading.Event()
        self.ok = None

    def run(self):
        """Build and print `build: OK|FAIL`. Returns whether it worked."""
        # .gdbinit too, now: made later, it would get a test's GDBPORT.
        _ctx.label = "build"
        try:
            r = run_command(MAKE[:2] + ["all", ".gdbinit"], timeout=1800, what="make")
            ok = r.reason == "exit" and r.returncode == 0
            lines = ["build: %s (%.1fs)" % ("OK" if ok else "FAIL", r.elapsed)]
            if not ok:
                if r.reason == "timeout":
                    lines.append("    `make` timed out after %.0fs" % r.timeout)
                else:
                    lines.append("    `make` exited with status %s; its output:" % r.returncode)
                lines.append(indent(r.text.rstrip("\n") or "(none)", "    | "))
            _say("\n".join(lines))
            self.ok = ok
        except BaseException:  # Ctrl-C: the tests waiting for the build must not run
            _cancel_all()
            raise
        finally:
            _ctx.runs.clear()
            self.done.set()
        return self.ok


class _Report:
    """The report, in declaration order whatever order the tests finish in:
    test i's block is printed whole as soon as it and every test before it are
    done (by the thread that finished the last of them). Keeps the score."""

    def __init__(self, tests, build):
        self.tests = tests
        self.build = build
        self.blocks = [None] * len(tests)  # (ok, text) once done
        self.headed = [False] * len(tests)
        self.next = 0  # the first test not printed yet
        self.all_done = threading.Event()
        self.passed = self.failed = self.score = self.total = 0
        self.part_score = self.part_total = 0
        if not tests:
            self.all_done.set()

    def _head(self, i):
        """`== part` before the first test of a part."""
        t = self.tests[i]
        if not self.headed[i] and (i == 0 or t.part != self.tests[i - 1].part):
            self.part_score = self.part_total = 0
            if t.part:
                sys.stdout.write("== %s\n" % t.part)
        self.headed[i] = True

    def starting(self, i):
        """Test i starts: its part's heading goes out now if nothing is
        printed before it any more (as it did when tests ran one by one)."""
        with _out_lock:
            if i == self.next and self.build.done.is_set():
                self._head(i)
                sys.stdout.flush()

    def finished(self, i, ok, block):
        with _out_lock:
            self.blocks[i] = (ok, block)
            while self.next < len(self.tests) and self.blocks[self.next] is not None:
                j = self.next
                t = self.tests[j]
                self._head(j)
                ok, block = self.blocks[j]
                sys.stdout.write(block + "\n")
                self.passed += ok
                self.failed += not ok
                self.total += t.points
                self.part_total += t.points
                if ok:
                    self.score += t.points
                    self.part_score += t.points
                if t.part and (j + 1 == len(self.tests) or self.tests[j + 1].part != t.part):
                    sys.stdout.write("%s: %d/%d\n" % (t.part, self.part_score, self.part_total))
                self.next += 1
            sys.stdout.flush()
            if self.next == len(self.tests):
                self.all_done.set()


def _run_test(t, i, build, report):
    """Run test number i in this thread. Returns (ok, its report block)."""
    _ctx.runs = []
    _ctx.label = t.slug
    _ctx.cpu = 0.0
    if t.qemu:
        build.done.wait()
    report.starting(i)
    if VERBOSE:
        _say(("[%s] " % t.slug if _prefixed() else "") + "==> %s" % t.name)
    t0 = time.monotonic()
    note = None
    error = None
    try:
        if t.qemu and not build.ok:
            raise TestFailure("not run: the build failed (see above)")
        note = t.fn()
    except TestFailure as e:
        error = str(e.args[0]) if e.args else "failed"
        if len(e.args) > 1:
            note = e.args[1]
    except Exception:
        error = "the test raised an exception:\n" + traceback.format_exc().rstrip()
    elapsed = time.monotonic() - t0
    t.elapsed, t.cpu = elapsed, _ctx.cpu
    label = t.name + (" (%s)" % note if note else "")
    lines = ["%s: %s (%.1fs)" % (label, "FAIL" if error else "OK", elapsed)]
    out = os.path.join(ROOT, "jos.out." + t.slug)
    runs = _ctx.runs
    if error:
        lines.append(indent(error))
        if runs:
            last = runs[-1]
            lines.append("    %s (%s after %.1fs)" % (" ".join(last.argv), last.reason, last.elapsed))
            tail = last.lines[-20:]
            lines.append("    last %d console line(s):" % len(tail))
            lines.append(indent("\n".join(tail) or "(none)", "    | "))
            lines.append("    full console in %s" % _save_console(t, runs))
    elif os.path.exists(out):
        os.remove(out)  # stale, from an earlier failure
    return not error, "\n".join(lines)


def _worker(queue, queue_lock, build, report):
    """Take the next test from `queue` (indices into report.tests) until none is left."""
    while True:
        with queue_lock:
            if not queue or _cancelled:
                return
            i = queue.pop(0)
        t = report.tests[i]
        try:
            ok, block = _run_test(t, i, build, report)
        except Exception:
            ok, block = False, "%s: FAIL\n%s" % (t.name, indent(traceback.format_exc().rstrip()))
        if _cancelled:
            return
        report.finished(i, ok, block)


def _cpus():
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Each test's CPU seconds in a whole run, to start the longest first with
# -j N (python3 grade.py --save-times records a run's).
TIMES_FILE = os.path.join(ROOT, "grade", "times.txt")


def _load_times():
    """{test slug: CPU seconds} from TIMES_FILE ({} if there is none)."""
    times = {}
    try:
        with open(TIMES_FILE) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    secs, slug = line.split(None, 1)
                    times[slug.strip()] = float(secs)
    except (OSError, ValueError):
        pass
    return times


def _save_times(tests):
    """Record the CPU seconds of the tests that ran in TIMES_FILE, keeping
    the other tests' figures (of tests that still exist)."""
    slugs = set(t.slug for t in TESTS)
    times = {slug: secs for slug, secs in _load_times().items() if slug in slugs}
    for t in tests:
        if t.cpu is not None:
            times[t.slug] = t.cpu
    with open(TIMES_FILE, "w") as f:
        f.write("# CPU seconds of each test (python3 grade.py --save-times): with -j N\n"
                "# the longest tests start first. Only the order depends on these.\n")
        for slug, secs in sorted(times.items(), key=lambda x: (-x[1], x[0])):
            f.write("%7.1f %s\n" % (secs, slug))


def _print_times(tests, jobs, wall):
    """Each test's wall-clock and CPU seconds, the slowest first, and what
    the run would take on `jobs` quiet CPUs."""
    ran = [t for t in tests if t.elapsed is not None]
    print("Times (wall, CPU seconds), the slowest first:")
    for t in sorted(ran, key=lambda t: -t.elapsed):
        print("  %7.1f %7.1f  %s" % (t.elapsed, t.cpu, t.name))
    cpu = sum(t.cpu for t in ran)
    longest = max((t.cpu for t in ran), default=0.0)
    print("CPU %.1fs in all, the longest test %.1fs: on %d quiet CPU%s, about %.0fs "
          "(wall here %.1fs)" % (cpu, longest, jobs, "s"[:jobs > 1], max(cpu / jobs, longest), wall))


def _count():
    """The number of tests and points of each tier (for the README)."""
    for tier, flag in (("make grade", ""), ("make grade-long", " --long")):
        tests = [t for t in TESTS if t.long == bool(flag)]
        print("%s (python3 grade.py%s): %d tests, %d points"
              % (tier, flag, len(tests), sum(t.points for t in tests)))


def main():
    """The command line (see grade.py). Returns the exit status."""
    global VERBOSE, TIMEOUT_SCALE, JOBS
    ap = argparse.ArgumentParser(description="Grade the JOS kernel: boot it in QEMU and match its console.")
    ap.add_argument("filters", nargs="*", metavar="FILTER",
                    help="run only tests whose name or part contains one of these words")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo the console while tests run (one test at a time unless -j is given)")
    ap.add_argument("-j", "--jobs", type=int, metavar="N",
                    default=int(os.environ["GRADE_JOBS"]) if os.environ.get("GRADE_JOBS") else None,
                    help="run N tests at once (default: GRADE_JOBS, else one per CPU, or 1 with -v); "
                    "0 means one per CPU")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    ap.add_argument("--count", action="store_true",
                    help="print the number of tests and points of make grade and make grade-long, and exit")
    ap.add_argument("--long", action="store_true",
                    help="run the long tests instead (make grade-long: e.g. 100 crashes)")
    ap.add_argument("--times", action="store_true",
                    help="after the report, each test's wall-clock and CPU time, the slowest first")
    ap.add_argument("--save-times", action="store_true",
                    help="record each test's CPU time in grade/times.txt (which tests start first with -j)")
    ap.add_argument("--timeout-scale", type=float, default=float(os.environ.get("GRADE_TIMEOUT_SCALE", "1")),
                    metavar="F", help="multiply every timeout by F (slow machines)")
    args = ap.parse_args()
    VERBOSE = args.verbose
    os.chdir(ROOT)

    if args.count:
        _count()
        return 0
    tests = _selected(args)
    if not tests:
        print("no test matches %s" % " ".join(args.filters), file=sys.stderr)
        return 2
    if args.list:
        last = object()
        for t in tests:
            if t.part != last:
                print(t.part or "(no part)")
                last = t.part
            print("  %s (%d points)" % (t.name, t.points))
        print("%d tests, %d points" % (len(tests), sum(t.points for t in tests)))
        return 0

    cpus = _cpus()
    jobs = args.jobs
    if jobs is None:
        jobs = 1 if VERBOSE else cpus
    elif jobs <= 0:
        jobs = cpus
    JOBS = min(jobs, len(tests))
    # Each QEMU (TCG, one thread) wants a CPU of its own: with more tests at
    # once than CPUs, each gets a share, and its timeouts grow in proportion.
    TIMEOUT_SCALE = args.timeout_scale * max(1.0, JOBS / cpus)

    start = time.monotonic()
    build = _Build()
    report = _Report(tests, build)
    # Tests that need no build (host unit tests) first: they run alongside
    # it. Then, with several at once, the longest first (as last recorded):
    # a long test started last would run on alone at the end.
    queue = list(range(len(tests)))
    if JOBS > 1:
        times = _load_times()
        queue.sort(key=lambda i: (tests[i].qemu, -times.get(tests[i].slug, 0.0)))
    queue_lock = threading.Lock()
    workers = [threading.Thread(target=_worker, args=(queue, queue_lock, build, report),
                                name="grade-%d" % n, daemon=True) for n in range(JOBS)]
    try:
        for w in workers:
            w.start()
        # Build once, before the first test that boots the kernel.
        if any(t.qemu for t in tests):
            build.run()
        else:
            build.done.set()
        while not report.all_done.wait(0.5):
            # (The last worker may set all_done and end between the wait
            # and this look: ended, with all done, is no error.)
            if not any(w.is_alive() for w in workers) and not report.all_done.is_set():
                raise RuntimeError("the workers ended with tests left")
        for w in workers:
            w.join()
    except KeyboardInterrupt:
        _cancel_all()
        for w in workers:
            w.join(timeout=10)
        with _out_lock:
            print("\ninterrupted")
            print("Total time: %.1fs (%d job%s)" % (time.monotonic() - start, JOBS, "s"[:JOBS > 1]))
            print("Score: %d/%d" % (report.score, report.total))
            print("%d passed, %d failed" % (report.passed, report.failed + 1), flush=True)
        return 130
    wall = time.monotonic() - start
    if args.times:
        _print_times(tests, JOBS, wall)
    if args.save_times:
        _save_times(tests)
    print("Total time: %.1fs (%d job%s)" % (wall, JOBS, "s"[:JOBS > 1]))
    print("Score: %d/%d" % (report.score, report.total))
    print("%d passed, %d failed" % (report.passed, report.failed), flush=True)
    return 1 if report.failed else 0
