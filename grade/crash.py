"""Part G's crash safety: QEMU killed (SIGKILL) in the middle of
crashload's writing, on a copy of the image written for real."""

import os
import random
import re
import select
import shutil
import subprocess
import tempfile
import time

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part G: files, spawn, the shell, mmap")

def crash_bytes(seed, start, n):
    """Bytes start..start+n of crashload's file with `seed` (its pattern())."""
    s = (seed * 2654435761) & 0xff
    return bytes((((i * 31) ^ (i >> 8)) & 0xff) ^ s for i in range(start, start + n))


def crash_rfile(r, k):
    """Seed and size of crashload's /crash/r<r>.<k>."""
    return r * 16 + k, 1 + (r * 7919 + k * 3571) % 40000 + (45000 if k == 2 else 0)


def crash_rwfile(r):
    """Seed and size of crashload's /crash/rw in round r."""
    return 100000 + r, 5000 + (r * 97) % 20000


def crash_once(img, delay):
    """Boots crashload on disk image `img` (written for real, no -snapshot)
    and kills QEMU with SIGKILL `delay` seconds after crashload starts.
    Returns the console lines printed before the kill."""
    argv = QEMU_MAKE + ["run-crashload-nox"] + gdbport_arg() + ["FS=1", "FSIMG=" + img]
    proc = start_tracked(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    text = b""
    started = None
    deadline = time.monotonic() + scaled(60)
    try:
        while True:
            now = time.monotonic()
            end = deadline if started is None else started + delay
            if now >= end:
                break
            ready, _, _ = select.select([proc.stdout], [], [], end - now)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            text += chunk
            if started is None and b"crashload: start\n" in text:
                started = time.monotonic()
    finally:
        kill_tracked(proc)
        # What QEMU printed before it died is still in the pipe.
        rest = proc.stdout.read()
        proc.wait()
        untrack(proc)
    text += rest or b""
    lines = split_lines(text.decode("utf-8", "replace"))
    if text and not text.endswith(b"\n"):
        lines = lines[:-1]  # a line cut by the kill says nothing
    require(started is not None, "crashload never started:\n" + "\n".join(lines[-15:]))
    return lines


def crash_cat(img, path):
    """File `path` of image `img` (fsformat --cat), or None if it is not there."""
    r = subprocess.run(["target/release/fsformat", "--cat", img, path], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.stdout if r.returncode == 0 else None


def crash_verify(img, lines):
    """Checks image `img` after a kill during crashload, whose console was
    `lines`: fsformat --check is clean, and everything crashload said was
    durable is there. Returns (problems, durable bytes checked, bytes lost)."""
    problems = []
    r = subprocess.run(["target/release/fsformat", "--check", img], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if r.returncode != 0:
        problems.append("fsformat --check:\n" + indent(r.stdout.decode(errors="replace").strip()))
    durable = {}  # path -> (seed, size, may_be_gone)
    removing = set()
    rw = app = None
    for line in lines:
        m = re.match(r"crashload: durable /crash/r(\d+)\.(\d+) (\d+)$", line)
        if m:
            rnd, k = int(m.group(1)), int(m.group(2))
            durable["/crash/r%d.%d" % (rnd, k)] = crash_rfile(rnd, k)
        m = re.match(r"crashload: durable /crash/rw (\d+) (\d+)$", line)
        if m:
            rw = int(m.group(1))
        m = re.match(r"crashload: synced (\d+) app (\d+)$", line)
        if m:
            rnd = int(m.group(1))
            app = int(m.group(2))
            for k in range(3):
                durable["/crash/r%d.%d" % (rnd, k)] = crash_rfile(rnd, k)
        m = re.match(r"crashload: removing round (\d+)$", line)
        if m:
            removing.add(int(m.group(1)))
    checked = lost = 0
    for path, (seed, size) in sorted(durable.items()):
        rnd = int(re.match(r"/crash/r(\d+)", path).group(1))
        data = crash_cat(img, path)
        if data is None and rnd in removing:
            continue  # removed after it was synced: gone is right
        want = crash_bytes(seed, 0, size)
        checked += size
        if data != want:
            data = data or b""
            bad = sum(1 for a, b in zip(data, want) if a != b) + max(0, size - len(data))
            lost += bad
            problems.append("%s: %d of its %d durable bytes wrong or missing (%d bytes on disk)"
                            % (path, bad, size, len(data)))
    if rw is not None:
        data = crash_cat(img, "/crash/rw")
        seed, size = crash_rwfile(rw)
        nseed, nsize = crash_rwfile(rw + 1)
        checked += size
        # Round rw's bytes, or (rewritten since, not yet synced) a prefix of
        # round rw+1's.
        if data is None or not (data == crash_bytes(seed, 0, size)
                                or (len(data) <= nsize and data == crash_bytes(nseed, 0, len(data)))):
            lost += size
            problems.append("/crash/rw: neither round %d's %d bytes nor a prefix of round %d's (%s)"
                            % (rw, size, rw + 1, "missing" if data is None else "%d bytes" % len(data)))
    if app is not None:
        data = crash_cat(img, "/crash/app") or b""
        checked += app
        want = crash_bytes(7, 0, app)
        if data[:app] != want:
            bad = sum(1 for a, b in zip(data[:app], want) if a != b) + max(0, app - len(data))
            lost += bad
            problems.append("/crash/app: %d of its first %d synced bytes wrong or missing" % (bad, app))
    return problems, checked, lost


def crash_series(runs, max_delay):
    """`runs` kills of QEMU at random moments (0.3 to `max_delay` seconds
    into crashload), each on a fresh copy of the image. Fails if any image
    is inconsistent or lost a durable byte; returns the figures."""
    seed = int(os.environ.get("CRASH_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="jos-crash-")
    failures = []
    consistent = checked = lost = rounds = replays = 0
    try:
        for n in range(runs):
            img = os.path.join(tmp, "fs.img")
            shutil.copyfile(os.path.join(ROOT, CLEAN_IMG), img)
            delay = rng.uniform(0.3, max_delay)
            lines = crash_once(img, delay)
            problems, c, l = crash_verify(img, lines)
            checked += c
            lost += l
            rounds += sum(1 for line in lines if re.match(r"crashload: synced ", line))
            if not any(p.startswith("fsformat --check") for p in problems):
                consistent += 1
            if not problems:
                # The server's own recovery: the next boot replays a
                # committed group, and the image stays right.
                b = run_prog("hello", make_vars={"FS": "1", "FSIMG": img},
                             stop=r".*No runnable environments in the system!", timeout=60)
                replays += any(re.match(r"fs: log: replayed \d+ committed blocks$", l) for l in b.lines)
                again, _, _ = crash_verify(img, lines)
                problems += ["after the next boot: " + p for p in again]
            if problems:
                failures.append("run %d (killed %.2fs in):\n%s" % (n + 1, delay, indent("\n".join(problems))))
                path = os.path.join(ROOT, "jos.out.crash-run%d" % (n + 1))
                with open(path, "w") as f:
                    f.write("\n".join(lines) + "\n")
                keep = os.path.join(ROOT, "jos.crash-run%d.img" % (n + 1))
                shutil.copyfile(img, keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures = ("%d runs, %d consistent, %d synced rounds, %d durable bytes checked, %d lost, "
               "%d replays of the log at the next boot; seed %d"
               % (runs, consistent, rounds, checked, lost, replays, seed))
    require(not failures, figures + "\n" + "\n".join(failures))
    return figures


@test(10, "crash: QEMU killed 3 times during crashload: images consistent, nothing synced lost")
def test_crash():
    """crashload writes, fsyncs, syncs and removes files; QEMU is killed
    (SIGKILL) at a random moment, on a copy of the image written for real;
    fsformat --check must find it clean and every byte crashload said was
    durable must be there (read with fsformat --cat), and again after the
    next boot (the server replays the log). Three times here; 100
    times in make grade-long. CRASH_RUNS=N makes it N kills."""
    return crash_series(int(os.environ.get("CRASH_RUNS", "3")), 4.0)


@test(20, "crash (long): QEMU killed 100 times during crashload", long=True)
def test_crash_long():
    return crash_series(100, 8.0)
