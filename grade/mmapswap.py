"""Part G, then: mmap of anonymous memory and of files, and swap (issue 13),
with the pager attacked."""

import os
import re
import shutil
import tempfile

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part G: files, spawn, the shell, mmap")

MMAP_NEVER = [KERNEL_PANIC, USER_PANIC, ".*FAILED", "fs: ", "syntax error"]


def leakcheck_ok(cmd):
    """leakcheck's verdict for `cmd`: the second run gave back every page
    (the first warms the file server's block cache, which keeps the
    blocks it read: a run that uses files cannot end as `hello` does)."""
    return (r"leakcheck: %s: (\d+) pages free before the second run, \1 after: OK$"
            % re.escape(cmd))


@test(10, "mmapshare: mmap shared across fork or copy-on-write, anonymous and of a file (issue 13)")
def test_mmapshare():
    """MAP_SHARED|MAP_ANONYMOUS stays shared across fork (pages made at the
    fork too), MAP_PRIVATE is copy-on-write and reads the zero page until
    written, a write to a read-only mapping is reported and ends only its
    writer; a MAP_SHARED file mapping carries stores both ways between
    parent and child and agrees with read and write, a private one is the
    caller's own, spawn passes on no descriptor of a mapping, a file removed
    while mapped cannot be reached through the mapping; munmap, mprotect and
    msync of parts split mappings (and fail, changing nothing, with the area
    list full). Run twice by leakcheck: the second run gives back every
    page."""
    r = shell_session(["mmapshare", "leakcheck mmapshare"], timeout=90)
    r.match(no=MMAP_NEVER + [r"fd \d+: name mmapshare"])
    out = r.command(0, cut=USER_VIEW)
    out.match("mmapshare: shared mapping seen across fork, private one copy-on-write$",
              ENV + "unhandled page fault: write \\(protection\\) at va 5000[0-9a-f]{4} .*region mmap$",
              "mmapshare: two processes see each other's stores through a shared file mapping$",
              "mmapshare: lsfd, spawned, must list no descriptor:$",
              "mmapshare: a removed file's mapping is an orphan copy; the block's next file is "
              "untouched$",
              r"5000[0-9a-f]000-5000[0-9a-f]000 rw-s 00001000 mmap file shared +1/1 present$",
              "mmapshare: munmap, mprotect and msync of parts OK$",
              "mmapshare: OK$", ordered=True)
    out.match(r"50000000-50003000 rw-s 00000000 mmap shared +1/3 present$",
              r"50003000-50006000 rw-p 00000000 mmap +2/3 present$")
    r.command(1).match(leakcheck_ok("mmapshare"))
    check_shell_clients_freed(r)


@test(10, "mmapcat: a file printed through a read-only mapping is what cat prints")
def test_mmapcat():
    """A file of two pages (the last one partial) and one of less than a
    page, printed to the console and (through a write from the mapping into
    the file request page) into a file: the same lines as cat's. Run twice
    by leakcheck: the second run gives back every page."""
    cmds = ["cat %s > big" % " ".join(["lorem"] * 10), "cat big", "mmapcat big",
            "mmapcat big > copy", "cat copy", "cat testshell.key", "mmapcat testshell.key",
            "leakcheck mmapcat big"]
    r = shell_session(cmds, timeout=90)
    r.match(no=MMAP_NEVER + [ENV + "unhandled page fault", ENV + "user fault"])
    out = [list(r.command(i, cut=USER_VIEW))[1:] for i in range(len(cmds))]
    require(len(out[1]) >= 80, "cat big printed %d lines, expected 10 copies of lorem" % len(out[1]))
    for i in (2, 4):
        require(out[i] == out[1], "`%s` differs from `cat big`:\n%s" % (cmds[i], "\n".join(out[i])))
    require(len(out[5]) > 20 and out[6] == out[5],
            "`mmapcat testshell.key` differs from `cat testshell.key`")
    r.command(7).match(leakcheck_ok("mmapcat big"))
    check_shell_clients_freed(r)


@test(15, "mmapwrite: a file changed through a shared mapping, seen by cat, kept across a reboot")
def test_mmapwrite():
    """mmapwrite makes a file's letters upper-case with stores into a
    MAP_SHARED mapping: read sees them at once, the mapping sees a write,
    cat shows the change after munmap. Then, on a copy of the image run
    without -snapshot: mmapwrite and sync, a reboot of the copy shows the
    change, and fsformat --check finds the copy clean."""
    cmds = ["cat lorem", "mmapwrite lorem", "cat lorem", "leakcheck mmapwrite lorem"]
    r = shell_session(cmds, timeout=90)
    r.match(no=MMAP_NEVER + [ENV + "unhandled page fault", ENV + "user fault"])
    out = [list(r.command(i, cut=USER_VIEW))[1:] for i in range(len(cmds))]
    before = [l for l in out[0] if l]
    require(before and any(c.islower() for l in before for c in l), "cat lorem: %s" % before)
    r.command(1).match(r"mmapwrite: lorem: \d+ letters made upper-case through a shared mapping$",
                       "mmapwrite: read sees the stores, the mapping sees a write: OK$",
                       ordered=True)
    after = [l for l in out[2] if l]
    require(after == [l.upper() for l in before],
            "cat after mmapwrite:\n%s\nexpected:\n%s" % ("\n".join(after),
                                                           "\n".join(l.upper() for l in before)))
    r.command(3).match(leakcheck_ok("mmapwrite lorem"))
    check_shell_clients_freed(r)

    # The change reaches the disk: a copy of the image, written for real.
    tmp = tempfile.mkdtemp(prefix="jos-mmapwrite-")
    try:
        img = os.path.join(tmp, "fs.img")
        shutil.copyfile(CLEAN_IMG, img)
        w = run_prog("icode", make_vars={"FS": "1", "FSIMG": img}, prompt=SHELL_PROMPT,
                     commands=["cat motd", "mmapwrite motd", "sync"], timeout=60)
        w.match(no=MMAP_NEVER + [ENV + "unhandled page fault", ENV + "user fault"])
        motd = [l for l in list(w.command(0, cut=USER_VIEW))[1:] if l]
        require(motd and any(c.islower() for l in motd for c in l), "cat motd: %s" % motd)
        w.command(1).match("mmapwrite: read sees the stores, the mapping sees a write: OK$")
        fsck = run_command(["target/release/fsformat", "--check", img], timeout=60,
                           what="fsformat --check")
        require(fsck.reason == "exit" and fsck.returncode == 0,
                "fsformat --check of the written image failed:\n" + "\n".join(fsck.lines[-10:]))
        fsck.match(r".*clean$")
        b = run_prog("icode", make_vars={"FS": "1", "FSIMG": img}, prompt=SHELL_PROMPT,
                     commands=["cat motd"], timeout=60)
        again = [l for l in list(b.command(0, cut=USER_VIEW))[1:] if l]
        require(again == [l.upper() for l in motd],
                "after a reboot, cat motd:\n%s\nexpected:\n%s"
                % ("\n".join(again), "\n".join(l.upper() for l in motd)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test(10, "mmapfault: past the end of a file, a write to a read-only mapping: reports, parent unharmed")
def test_mmapfault():
    """Bad mmap calls get their errors; a read of a page wholly past the end
    of the file is reported as such, naming the mapping, and a write to a
    read-only file mapping as an unhandled write naming it; each ends only
    the child that made it, and the parent's mappings still work. Run twice
    by leakcheck: the second run gives back every page."""
    r = shell_session(["mmapfault", "leakcheck mmapfault"], timeout=90)
    r.match(no=MMAP_NEVER)
    out = r.command(0, cut=USER_VIEW)
    out.match("mmapfault: errors and the last page OK$",
              ENV + r"read at va 50001000 ip [0-9a-f]{8}: beyond the end of the file "
              r'\(offset 00001000\) in mapping "mmap file" 50000000-50002000$',
              ENV + r"unhandled page fault: write \(protection\) at va 50002000 .*"
              r"region mmap file shared$",
              "mmapfault: parent unharmed: OK$", ordered=True)
    require(len(out.all(ENV + "(read at|unhandled page fault)")) == 2,
            "expected exactly two fault reports")
    r.command(1).match(leakcheck_ok("mmapfault"))
    check_shell_clients_freed(r)


SWAPTEST = (r"swaptest (\d+): (\d+) MiB sorted: (\w+); page-ins (\d+), page-outs (\d+), "
            r"clean drops (\d+) \((\d+) page-outs while filling\); \d+ Mcycles, (\d+) s$")


PROGRESS = (r"swaptest (\d+): (\d+) s, (filling|sorting|checking): (\d+) of (\d+) pages done; "
            r"page-ins (\d+), page-outs (\d+)$")


def check_progress(r, pages, report):
    """swaptest's progress lines (one copy of `pages` pages; `report` the
    groups of its final line): well formed, one at least every 4 s (the
    program's clock says every 2 s; the seconds are whole), the phases in
    order, the pages done never going back within a phase, nor the
    page-ins and page-outs, which end at most at the report's counts."""
    phases = ["filling", "sorting", "checking"]
    lines = [m.group(0) for m in r.all(r"swaptest \d+: \d+ s, .*$")]
    bad = [l for l in lines if not re.match(PROGRESS, l)]
    require(not bad, "malformed progress lines: %s" % bad[:3])
    rows = [re.match(PROGRESS, l).groups() for l in lines]
    # As many as its time calls for, whatever the machine's speed: the
    # gaps are checked below, from its start (0 s) to its end (the report's
    # seconds).
    end = int(report[7])
    require(rows or end < 4, "no progress line in a sort of %d pages that took %d s"
            % (pages, end))
    last = (0, 0, 0, 0, 0)  # seconds, phase, pages done, page-ins, page-outs
    for copy, secs, phase, done, n, pin, pout in rows:
        now = (int(secs), phases.index(phase), int(done), int(pin), int(pout))
        require(copy == "0" and int(n) == pages and now[2] <= pages,
                "progress line of copy %s: %s of %s pages" % (copy, done, n))
        require(now[0] <= last[0] + 4, "no progress line from %d s to %d s" % (last[0], now[0]))
        require(now[1] > last[1] or (now[1] == last[1] and now[2] >= last[2]),
                "pages done went back: %s after %s" % (now, last))
        require(now[3] >= last[3] and now[4] >= last[4], "counts went back: %s after %s"
                % (now, last))
        last = now
    require(end <= last[0] + 4, "no progress line from %d s to the end at %d s" % (last[0], end))
    require(last[3] <= int(report[3]) and last[4] <= int(report[4]),
            "the last progress line counts more than the report: %s" % (last,))


def swap_session(commands, timeout):
    """Runs `commands` at the shell under mem=16M; returns the run."""
    return run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot", kargs="mem=16M",
                    commands=commands, prompt=SHELL_PROMPT, timeout=timeout)


def check_swaptest(r, runs, big):
    """`runs` swaptest reports (the first a sort of `big` MiB under mem=16M,
    which must swap), each sorted right; no slot in use after each command,
    no fault, every command's env gone."""
    for copy, mib, ok, pin, pout, drops, filling, _secs in runs:
        require(ok == "OK", "swaptest %s (%s MiB) sorted wrongly" % (copy, mib))
    first = runs[0]
    pages = big * 256
    require(first[1] == str(big) and int(first[4]) >= pages - 4096 and int(first[3]) > 0,
            "%d MiB under 16 MiB: %s page-ins, %s page-outs" % (big, first[3], first[4]))
    slots = [int(m.group(1)) for m in r.all(r"swaptest: swap slots in use after the sorts: (\d+)$")]
    require(slots == [0] * len(r.commands), "swap slots in use after the sorts: %s" % slots)
    r.match(no=[KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "fs: "])
    check_shell_clients_freed(r)


@test(10, "swaptest 20: sorts more than the machine's memory under mem=16M, swapping")
def test_swaptest_short():
    """make grade's swaptest: `swaptest 20` sorts 20 MiB (5120 pages, about
    1.5 times what mem=16M leaves free) in one env; it must page out and in,
    and be right; no swap slot is in use after it. (make grade-long sorts
    48 MiB, then runs copies at once.)"""
    r = swap_session(["swaptest 20"], timeout=300)
    runs = [m.groups() for m in r.all(SWAPTEST)]
    require(len(runs) == 1, "expected 1 swaptest report, got %d" % len(runs))
    check_swaptest(r, runs, 20)
    check_progress(r, 20 * 256, runs[0])


@test(20, "swaptest: sorts more than the machine's memory under mem=16M, swapping (issue 13)",
      long=True)
def test_swaptest():
    """Under mem=16M (about 3500 pages free for programs), `swaptest 48`
    sorts 48 MiB (12288 pages) in one env: it must page out and in, and be
    right; then `swaptest 8` fits and pages (almost) nothing; then two
    copies of 12 MiB swap at once and both are right. After each, no swap
    slot is in use, and every env is gone."""
    r = swap_session(["swaptest 48", "swaptest 8", "swaptest 12 2"], timeout=900)
    runs = [m.groups() for m in r.all(SWAPTEST)]
    require(len(runs) == 4, "expected 4 swaptest reports, got %d" % len(runs))
    small = runs[1]
    require(int(small[3]) + int(small[4]) < 64,
            "8 MiB fits: %s page-ins, %s page-outs" % (small[3], small[4]))
    require(all(int(x[4]) > 0 for x in runs[2:]), "two copies at once did not swap")
    check_swaptest(r, runs, 48)


SWAPFLOOD_NEVER = [".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault"]


@test(5, "fsattack swapfull 2000: one env floods 2000 swap slots and holds them; another still swaps; "
      "all comes back")
def test_fsattack_swapflood():
    """make grade's swap flood: as the long test below, but the child of
    fsattack stops at 2000 slots (8 MiB written) instead of one env's limit,
    holds them while fsattack gets a slot, and exits holding them: every
    slot comes back (fsattack counts the slots in use), and the server
    still serves. The refusal at the limit is the long test's."""
    r = shell_session(["fsattack swapfull 2000"], timeout=120)
    r.match("fsattack: a flood of swap-outs took 2000 slots$",
            "fsattack: another env swaps beside the flood OK$",
            "fsattack: OK$", ordered=True, no=SWAPFLOOD_NEVER)
    check_shell_clients_freed(r)


@test(5, "fsattack swapfull: one env floods the swap space up to its limit; another still swaps; all comes back",
      long=True)
def test_fsattack_swapfull():
    """From the shell: a child of fsattack writes new swap slots until the
    server refuses, at one env's limit (12800 slots, 50 MiB written), and
    holds them while fsattack still gets a slot; then it exits holding
    them; every slot comes back, and the server still serves."""
    r = shell_session(["fsattack swapfull"], timeout=400)
    r.match("fsattack: a flood of swap-outs took 12800 slots, then: no free space on disk$",
            "fsattack: another env swaps beside the flood OK$",
            "fsattack: OK$", ordered=True, no=SWAPFLOOD_NEVER)
    check_shell_clients_freed(r)


@test(10, "pagerattack: external pagers and the file server's pager, attacked (4 CPUs)")
def test_pagerattack():
    """Bad sys_env_set_pager arguments, a third env answering for the
    pager, a wrong answer, stop and resume while waiting, a declined fault,
    the pager killed, fake fault messages and bad FSREQ_PAGE requests to
    the file server, paged children killed during their first faults."""
    r = fs_run("pagerattack", cpus=4)
    r.match("pagerattack: OK$", no=[".*FAILED", KERNEL_PANIC, USER_PANIC])
    check_fs_clients_freed(r)
