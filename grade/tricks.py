"""Part E: the virtual-memory tricks library (zero page, lazy heap, stack,
null guard, watchpoints, working sets, replaceable handlers)."""

import re

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part E: virtual-memory tricks")

# --- E1: zero page and lazy heap (zeropage, lazyheap) ---



@test(10, "zeropage")
def test_zeropage():
    r = run_prog("zeropage", commands=["meminfo"], timeout=120)
    r.match(r"zeropage: read 16384 pages, 0 data pages allocated$",
            r"zeropage: 16384 pages map the zero page, its references went up by 16384; "
            r"\d+ new page-table pages$",
            r"zeropage: wrote 256 pages, 256 pages allocated$",
            r"zeropage: written pages: distinct frames yes, writable yes, "
            r"zero but for the byte written yes$",
            r"zeropage: shrank the heap: 0 pages mapped, zero page references (\d+) \(\1 at the start\)$",
            r"zeropage: map_zero 256 pages: 256 more zero page references, "
            r"reads allocated 0 pages, one write 1$",
            r"zeropage: unmapped them: 0 pages mapped, zero page references (\d+) \(\1 before\)$",
            r"zeropage: fork: the child's writes to the zero page and to a copy-on-write page OK$",
            r"zeropage: OK$", ordered=True,
            no=[r".*FAILED", KERNEL_PANIC, USER_PANIC, UNHANDLED])
    # 64 MiB of page tables is 16 pages (17 if the range straddles one more).
    m = r.search(r"zeropage: .* (\d+) new page-table pages$")
    require(int(m.group(1)) <= 17, "%s page-table pages for 64 MiB" % m.group(1))
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)


@test(10, "lazyheap")
def test_lazyheap():
    r = run_prog("lazyheap", commands=["meminfo"], timeout=120)
    r.match(r"lazyheap: heap at (%s): sbrk\(0\) = \1, sbrk\(1\) = \1, sbrk\(100\) = (%s), "
            r"sbrk\(0\) = (%s)$" % (HEX8, HEX8, HEX8),
            r"lazyheap: sbrk\(\d+\) past the limit %s: out of memory, break unchanged$" % HEX8,
            r"lazyheap: heap limit into the stack region \(above %s\): invalid parameter$" % HEX8,
            r"lazyheap: sbrk\(-101\) = (%s), sbrk\(0\) = (%s)$" % (HEX8, HEX8),
            r"lazyheap: before touching: 0 of 4 pages mapped; read: zero page; write: private page$",
            r"lazyheap: shrank back to %s: pages unmapped yes$" % HEX8,
            r"lazyheap: malloc stress: \d+ mallocs, \d+ reallocs, \d+ frees, \d+ bytes checked$",
            r"lazyheap: checksum written (%s), read back \1: match$" % HEX8,
            r"lazyheap: heap at the end of the loop: .* after freeing all: 0 in use, 1 free block",
            r"lazyheap: realloc 10 -> 5000 -> 3 bytes keeps the contents: yes$",
            r"lazyheap: posix_memalign to .*: aligned yes; alignment 24: invalid parameter$",
            r"lazyheap: Vec of 20000 u32s .* Box aligned to 256: yes$",
            r"lazyheap: sbrk\(5\) = %s between mallocs: .* untouched yes, heap consistent$" % HEX8,
            r"lazyheap: OK$", ordered=True,
            no=[r".*FAILED", r".*MISMATCH", KERNEL_PANIC, USER_PANIC, UNHANDLED])
    # sbrk(1) then sbrk(100) returned the previous breaks, to the byte.
    m = r.search(r"lazyheap: heap at (%s): sbrk\(0\) = \1, sbrk\(1\) = \1, sbrk\(100\) = (%s), "
                 r"sbrk\(0\) = (%s)$" % (HEX8, HEX8, HEX8))
    b0, b1, b2 = (int(x, 16) for x in m.groups())
    require((b1, b2) == (b0 + 1, b0 + 101),
            "breaks %08x, %08x, %08x: expected +1, then +100" % (b0, b1, b2))
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)

# --- E2: stack growth, null guard, watchpoints, working sets (stackgrow,
#         stackoverflow, nullderef, watchdemo, wss) ---

# Lines no E2 program may print: panics, the programs' own failure words,
# a fault no handler took, or the kernel's report of a user fault (the
# library's handlers must have caught it).
E2_NEVER = [KERNEL_PANIC, USER_PANIC, r".*UNEXPECTED", r".*MISMATCH", ENV + "user fault va"]



@test(5, "stackgrow")
def test_stackgrow():
    r = run_prog("stackgrow", commands=["meminfo"], timeout=60)
    r.match(r"stackgrow: stack pages before: 1 \(limit 10\)$",
            r"stackgrow: wrote 10 KiB down a 12 KiB local array at eebf[0-9a-f]{4}$",
            r"stackgrow: stack pages after the first write: ([3-9]|10)$",
            r"stackgrow: stack is contiguous: \[eebf[0-9a-f]000, eebfe000\), ([3-9]|10) pages$",
            r"stackgrow: limit now 32 pages$",
            r"stackgrow: wrote 96 KiB down a 96 KiB local array at eeb[ef][0-9a-f]{4}$",
            r"stackgrow: stack pages after the first write: (2[5-9]|3[0-2])$",
            r"stackgrow: OK$", U + "exiting gracefully$", ordered=True,
            no=E2_NEVER + [ENV + "user stack overflow", ENV + "unhandled page fault"])
    check_vm_run(r)


@test(5, "stackoverflow")
def test_stackoverflow():
    r = run_prog("stackoverflow", commands=["meminfo"], timeout=60)
    r.match(r"stackoverflow: stack limit 10 pages, parent 00001000$",
            no=E2_NEVER + [U + "user stack overflow"])
    kids = []
    for what in ("recursing forever", "faulting in its fault handler forever"):
        rx = r"stackoverflow: child (%s) %s$" % (HEX8, what)
        m = r.search(rx)
        require(m, "missing %s" % show(rx))
        kids.append(m.group(1))
    rec, xs = kids
    # The recursion ends in the guard zone below the 10-page limit.
    rx = r"\[%s\] user stack overflow at va (%s)$" % (rec, HEX8)
    m = r.search(rx)
    require(m, "missing %s" % show(rx))
    va, lo = int(m.group(1), 16), USTACKTOP - 10 * PGSIZE
    require(lo - 16 * PGSIZE <= va < lo, "stack overflow at va %08x: not in the guard zone "
            "[%08x, %08x) below the 10-page limit" % (va, lo - 16 * PGSIZE, lo))
    # The handler that faults forever runs off its one-page exception stack
    # (0xeebff000-0xeec00000) into the empty guard page below it: the kernel
    # finds no room for the next frame (user_mem_check), or a push lands in
    # the guard page and nothing handles that fault.
    xs_end = (r"\[%s\] (user_mem_check assertion failure for va eebfe[0-9a-f]{3}"
              r"|unhandled page fault: write \(not present\) at va eebfe[0-9a-f]{3} .*)$" % xs)
    r.match(rx, ENV + "free env %s$" % rec, "stackoverflow: child %s is gone$" % rec,
            xs_end, ENV + "free env %s$" % xs, "stackoverflow: child %s is gone$" % xs,
            r"stackoverflow: parent still fine \(recursed 100 deep, [5-9] stack pages, sum \d+\)$",
            U + "exiting gracefully$", U + "free env 00001000$", ordered=True)
    check_vm_run(r)


@test(5, "nullderef")
def test_nullderef():
    r = run_prog("nullderef", commands=["meminfo"], timeout=60)
    r.match(no=E2_NEVER + [ENV + "unhandled page fault"])
    expect = []
    for what, va in (("reads address 0", "00000000"), ("writes address 0x10", "00000010")):
        rx = r"nullderef: child (%s) %s at ip (008[0-9a-f]{5})$" % (HEX8, what)
        m = r.search(rx)
        require(m, "missing %s" % show(rx))
        child, ip = m.groups()
        access = "read" if what.startswith("reads") else "write"
        expect += [re.escape(m.group(0)),
                   r"\[%s\] null pointer dereference: %s at va %s ip %s$" % (child, access, va, ip),
                   ENV + "free env %s$" % child]
    rx = r"nullderef: child (%s) calls address 0$" % HEX8
    m = r.search(rx)
    require(m, "missing %s" % show(rx))
    expect += [rx, r"\[%s\] null pointer dereference: execute at va 00000000 ip 00000000$"
               % m.group(1), ENV + "free env %s$" % m.group(1)]
    r.match(*expect + ["nullderef: OK$", U + "exiting gracefully$"], ordered=True)
    check_vm_run(r)


@test(10, "watchdemo")
def test_watchdemo():
    r = run_prog("watchdemo", commands=["meminfo"], timeout=90)
    r.match(no=E2_NEVER + [ENV + "unhandled page fault"])
    addr = {}
    for key, rx in (("var", r"watchdemo: watching (%s); neighbours at" % HEX8),
                    ("insn", r"watchdemo: next write by the instruction at (%s)$" % HEX8),
                    ("var2", r"watchdemo: also watching (%s)$" % HEX8),
                    ("local", r"watchdemo: watching a stack variable at (%s)$" % HEX8)):
        m = r.search(rx)
        require(m, "missing %s" % show(rx))
        addr[key] = m.group(1)
    ip = "008[0-9a-f]{5}"
    want = [(ip, "var", 0, 1), (ip, "var", 1, 2), (addr["insn"], "var", 2, 3),
            (ip, "var2", 0, 0x77), (ip, "var2", 0x77, 0x78), (ip, "local", 7, 42)]
    got = [line for line in r.lines if line.startswith("watch:")]
    require(len(got) == len(want), "%d 'watch:' reports, expected exactly %d:\n%s"
            % (len(got), len(want), "\n".join(got)))
    for line, (at, key, old, new) in zip(got, want):
        rx = r"watch: write at ip %s to %s: %08x -> %08x$" % (at, addr[key], old, new)
        require(re.match(rx, line), "report %r, expected %s" % (line, show(rx)))
    r.match("watchdemo: unwatched the first watch after 3 reports$",
            "watchdemo: unwatched the second watch after 2 reports$",
            "watchdemo: the stack variable is now 42$",
            "watchdemo: unwatched the stack variable after 1 reports$",
            "watchdemo: every write landed$",
            r"watchdemo: \d+ writes single-stepped, 6 reported$",
            "watchdemo: OK$", U + "exiting gracefully$", ordered=True)
    check_vm_run(r)


@test(5, "wss")
def test_wss():
    r = run_prog("wss", commands=["meminfo"], timeout=60)
    phases = [(0, 0, 0), (16, 16, 0), (64, 64, 64), (200, 200, 0), (120, 120, 40)]
    r.match(*["wss: phase %d touched %d pages: accessed %d dirty %d$" % ((n,) + p)
              for n, p in enumerate(phases)]
            + [r"wss: all of user space: \d+ pages cleared, as many as mapped$",
               "wss: OK$", U + "exiting gracefully$"],
            ordered=True, no=E2_NEVER + [ENV + "unhandled page fault"])
    check_vm_run(r)

# --- E3: replaceable handlers (myhandler) ---


@test(10, "myhandler")
def test_myhandler():
    """A student's own COW handler and region, with fork, heap and stack."""
    r = run_prog("myhandler", commands=["meminfo"], timeout=120)
    r.match(r"myhandler: before fork: 4 region faults for 4 new pages$",
            U + "new env 00001001",
            r"myhandler: parent: 4 copy-on-write faults for 4 shared pages$",
            r"myhandler: parent: 4 region faults for 4 new pages$",
            r"myhandler: parent OK$",
            r"myhandler: child: 4 copy-on-write faults for 4 shared pages$",
            r"myhandler: child: 4 region faults for 4 new pages$",
            r"myhandler: child OK$",
            r"myhandler: OK$",
            no=[r".*FAILED", KERNEL_PANIC, USER_PANIC, UNHANDLED])
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)


@test(5, "myhandler from the shell: the same copy-on-write faults, demand-paged")
def test_myhandler_shell():
    """`$ myhandler`: spawned, the program is paged in on demand; fork
    brings its data in first, so the handler sees one copy-on-write fault
    per shared page on each side, as booted directly."""
    r = shell_session(["myhandler"], timeout=60)
    r.match(no=[r".*FAILED", KERNEL_PANIC, USER_PANIC, UNHANDLED, "fs: "])
    u = r.command(0, cut=USER_VIEW)
    for who in ("parent", "child"):
        u.match(r"myhandler: before fork: 4 region faults for 4 new pages$",
                r"myhandler: %s: 4 copy-on-write faults for 4 shared pages$" % who,
                r"myhandler: %s: 4 region faults for 4 new pages$" % who,
                r"myhandler: %s OK$" % who, ordered=True)
    u.match(r"myhandler: OK$")
    check_shell_clients_freed(r)
