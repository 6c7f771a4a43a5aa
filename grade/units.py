"""The host unit tests: `make test` (cargo test of the pure-logic crates),
run alongside the build."""

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)

part("Host unit tests")


@test(10, "host unit tests", qemu=False)
def test_host_units():
    r = run_command(MAKE[:2] + ["test"], timeout=1200, what="make test")
    passed = failed = 0
    results = r.all(r"test result: (\w+)\. (\d+) passed; (\d+) failed")
    for m in results:
        passed += int(m.group(2))
        failed += int(m.group(3))
    summary = "%d passed" % passed + (", %d failed" % failed if failed else "")
    if r.reason != "exit" or r.returncode != 0 or failed or not results:
        why = []
        if r.reason == "timeout":
            why.append("`make test` timed out after %.0fs" % r.timeout)
        elif r.returncode != 0:
            why.append("`make test` exited with status %s" % r.returncode)
        if not results:
            why.append("no `test result:` line in its output")
        # `---- name stdout ----` heads each failure's report, with or without -q.
        why += ["failed: " + m.group(1) for m in r.all(r"---- (\S+) stdout ----")]
        raise TestFailure("\n".join(why), summary)
    return summary



@test(2, "setup.sh: apt-get waits for another apt's lock, saying so", qemu=False)
def test_apt_lock_wait():
    # apt-get update on a scratch lists directory (no sources: nothing is
    # fetched, nothing of the machine's apt is touched) whose lock this test
    # holds for a second, as another apt would: apt locks with fcntl.
    import fcntl, shutil, subprocess, tempfile, threading
    require(shutil.which("apt-get"), "no apt-get here (scripts/setup.sh is for Debian)")
    tmp = tempfile.mkdtemp(prefix="jos-aptlock-")
    try:
        for d in ("lists/partial", "cache/archives/partial", "dpkg", "sources"):
            os.makedirs(os.path.join(tmp, d))
        for f in ("dpkg/status", "sources/none.list"):
            open(os.path.join(tmp, f), "w").close()
        opts = ["-o", "Dir::State::Lists=%s/lists" % tmp, "-o", "Dir::Cache=%s/cache" % tmp,
                "-o", "Dir::State::status=%s/dpkg/status" % tmp,
                "-o", "Dir::Etc::SourceList=%s/sources/none.list" % tmp,
                "-o", "Dir::Etc::SourceParts=%s/sources" % tmp]
        lock = open(os.path.join(tmp, "lists/lock"), "w")
        fcntl.lockf(lock, fcntl.LOCK_EX)
        threading.Timer(1.0, lock.close).start()
        env = dict(os.environ, APT_LOCK_WAIT="30")
        r = subprocess.run([os.path.join(ROOT, "scripts/apt-get-wait.sh"), "update", "-qq"] + opts,
                           env=env, capture_output=True, text=True, timeout=60)
        out = Console(split_lines(r.stderr + r.stdout), "apt-get-wait.sh's output")
        out.match(r"E: Could not get lock .*/lists/lock", r"setup: .*waiting for it",
                  r"setup: got the lock", ordered=True)
        require(r.returncode == 0, "apt-get-wait.sh exited with status %d" % r.returncode)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Issue 22's size goal, kept: the user programs' code (the sections `size`
# counts as text: allocated, not writable) at most twice C JOS's (a
# complete lab 5, gcc -O1: sh 15 508, cat 9 331, hello 8 824 bytes; see
# README, Build profile). Waits for the build (no QEMU).
C_JOS_TEXT = {"sh": 15508, "cat": 9331, "hello": 8824}


def elf_text_size(path):
    """Bytes of the ELF32 file's allocated, read-only sections (`size`'s text)."""
    import struct
    b = open(path, "rb").read()
    require(b[:4] == b"\x7fELF" and b[4] == 1, "%s: not an ELF32 file" % path)
    shoff, = struct.unpack_from("<I", b, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", b, 0x2e)
    total = 0
    for i in range(shnum):
        _name, typ, flags, _addr, _off, size = struct.unpack_from("<IIIIII", b, shoff + i * shentsize)
        if flags & 2 and not flags & 1 and typ != 8:  # SHF_ALLOC, not SHF_WRITE, not NOBITS
            total += size
    return total


@test(2, "sh, cat and hello: code at most twice C JOS's")
def test_text_sizes():
    got = {p: elf_text_size(os.path.join(ROOT, "obj", "user", p)) for p in C_JOS_TEXT}
    over = ["%s %d > %d" % (p, got[p], 2 * c) for p, c in C_JOS_TEXT.items() if got[p] > 2 * c]
    require(not over, "over twice C JOS's: " + ", ".join(over))
    return ", ".join("%s %d (%.2fx)" % (p, got[p], got[p] / c) for p, c in C_JOS_TEXT.items())
