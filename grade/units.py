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
