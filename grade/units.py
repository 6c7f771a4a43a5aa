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

