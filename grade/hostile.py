"""Part F: hostile testing. Programs that attack the kernel and the library
as a hostile user would (races against other CPUs, bad arguments,
exhaustion); each checks that the kernel lives, that results are right,
and that every page comes back."""

import os
import re
import shutil
import struct
import subprocess
import tempfile

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part F: hostile")

# --- F1: kernel isolation (kill and change races, FPU, orphans, bad pointers) ---

FPULEAK_LINES = [
    "a fresh env sees an empty FPU, not another env's registers",
    "FPU registers survive switches to other envs",
    "fork copies the FPU, then each keeps its own",
]


def hostile_test(points, name, prog, lines, cpus=4, timeout=120, allow=()):
    """Declare a test that runs `prog` (on `cpus` CPUs) and needs `<prog>:
    <line> OK` for each of `lines` in order, then `<prog>: OK`; no FAILED
    line, no panic, no unexpected fault report; every env freed once and
    every page back."""

    def fn():
        r = run_prog(prog, cpus=cpus, commands=["meminfo"], timeout=timeout)
        r.match(*["%s: %s OK$" % (prog, re.escape(line)) for line in lines]
                + ["%s: OK$" % prog], ordered=True,
                no=[r".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault"]
                + ([] if "user fault" in allow else [ENV + "user fault"]))
        check_ended(r)
        check_all_freed(r)
        check_no_leak(r)

    fn.__name__ = "test_" + re.sub(r"\W", "_", name)
    test(points, name)(fn)


hostile_test(10, "fpuleak (1 CPU)", "fpuleak", FPULEAK_LINES, cpus=1)
hostile_test(10, "fpuleak (4 CPUs)", "fpuleak", FPULEAK_LINES)

ORPHANS_LINES = [
    "children never started are freed when their parent exits",
    "children of a parent killed in the middle of fork are freed",
    "an orphan waiting in ipc_recv lives on",
    "when it exits, its never-started children are freed",
    "an env whose parent is gone may not make itself NOT_RUNNABLE",
]

hostile_test(10, "orphans", "orphans", ORPHANS_LINES)

KILLRACE_LINES = [
    "destroy stops a child spinning in user mode at once",
    "destroy stops a child making system calls at once",
    "a page unmapped from a running child is never written by it again",
    "set_trapframe on a running child takes effect",
    "set_status NOT_RUNNABLE stops a running child at once, again and again",
    "a child stopped in set_status(self, RUNNABLE) stays stopped",
    "a child stopped in page calls: its pages do not change after the stop",
    "set_trapframe on a child blocked in IPC cancels the wait",
]

hostile_test(10, "killrace", "killrace", KILLRACE_LINES)

@test(10, "jobctl: Ctrl-C and the env tree: no forged stop, a growing job destroyed whole (4 CPUs)")
def test_jobctl():
    """jobctl alone (no shell, no file server): destroying a tree counts
    a child freed as stranded; its children may not destroy it nor forge
    a Ctrl-C; with no controller a typed Ctrl-C is the character 0x03 (and
    readline drops it, as JOS's does), with one it is kept for it; a job
    forking on 4 CPUs is destroyed whole, round after round; every env
    freed, every page back."""
    r = run_prog("jobctl", cpus=4, commands=["meminfo"], timeout=90,
                 answers=[("type Ctrl-C\n", "\x03"), ("type Ctrl-C again\n", "\x03"),
                          ("type a line with Ctrl-C in it\n", "ab\x03cd\n")])
    r.match("jobctl: count: OK$", "jobctl: forge: OK$", r"jobctl: char: OK \(got 0x03\)$",
            "jobctl: intr: OK$", "jobctl: readline: OK$",
            r"jobctl: tree: OK \(\d+ envs destroyed in 3 rounds\)$", "jobctl: done$",
            ordered=True, no=[r".*FAILED", ".*got through", KERNEL_PANIC, USER_PANIC,
                              ENV + "unhandled page fault", ENV + "user fault"])
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)


BADPTR_LINES = [
    "int $0x30 with every register zero",
    "sys_cputs of length 0 at null, kernel, unmapped and top addresses",
    "sys_cputs from a mapped page 0",
    "sys_env_set_trapframe with a frame at address 0",
]

hostile_test(5, "badptr", "badptr", BADPTR_LINES, cpus=1)


@test(5, "one monitor with 4 CPUs and no program")
def test_one_monitor():
    """Every CPU finds nothing to run: one of them runs the monitor, the
    others halt (two monitors would print two greetings and prompts)."""
    # Read on for a while after the last prompt: a second monitor would
    # show itself by then.
    r = boot(cpus=4, commands=["kerninfo", "help"], stop=None, timeout=6)
    require(len(r.all(WELCOME)) == 1, "%d monitor greetings" % len(r.all(WELCOME)))
    require(r.prompts == 3, "%d prompts, expected 3 (one per command and the last)" % r.prompts)
    r.command(1).match(r"help - \S", r"kerninfo - \S")


@test(5, "one monitor with 4 CPUs when the last env exits")
def test_one_monitor_after_envs():
    r = run_prog("forktree", cpus=4, commands=["kerninfo"], stop=None, timeout=8)
    for line in (NO_RUNNABLE, WELCOME):
        require(len(r.all(line)) == 1, "%r printed %d times" % (line, len(r.all(line))))
    require(r.prompts == 2, "%d prompts, expected 2" % r.prompts)


FUZZSTORM_FUZZERS = 6


@test(10, "fuzzstorm (4 CPUs)")
def test_fuzzstorm():
    # Six syscall fuzzers at once, seeded from rdtsc (the seed is printed:
    # FUZZSTORM_SEED=<seed> make run-fuzzstorm-nox CPUS=4 replays it), each
    # also attacking children that run on other CPUs (destroy, set_status,
    # set_trapframe, page calls, upcall, ipc) and checking the results. The
    # children run with random registers fault (the kernel prints their trap
    # frames, as in syscallfuzz); nothing else may: no panic, no FAILED, no
    # UNEXPECTED, every env freed once, every page back.
    r = run_prog("fuzzstorm", cpus=4, commands=["meminfo"], timeout=120)
    m = r.search(r"fuzzstorm: seed (%s)$" % HEX8)
    require(m, "no 'fuzzstorm: seed' line")
    seed = m.group(1)
    try:
        r.match(*[r"fuzzstorm: fuzzer %d: \d+ calls, \d+ errors, done$" % n
                  for n in range(FUZZSTORM_FUZZERS)],
                no=[r".*FAILED", r".*UNEXPECTED", KERNEL_PANIC, USER_PANIC,
                    ENV + "unhandled page fault"])
        r.match(r"fuzzstorm: seed %s$" % seed, r"fuzzstorm: \d+ calls in all, seed %s$" % seed,
                r"fuzzstorm: OK$", ordered=True)
        check_ended(r)
        check_all_freed(r)
        check_no_leak(r)
    except TestFailure as e:
        raise TestFailure("%s (seed %s)" % (e, seed))


PERENVEXEC_LINES = [
    "an exec-like start (set_trapframe) knows its own id",
    "fork in a page-fault handler fails with invalid parameter",
    "sfork chains: each env sees its own id",
]

hostile_test(5, "perenvexec: the library's cached env id", "perenvexec", PERENVEXEC_LINES)

# --- F2: the user library under exhaustion, oversized frames ---

@test(10, "bigframe")
def test_bigframe():
    # A frame larger than a page must hit the guard below its stack (stack
    # probes), not jump it: on the normal stack, the stack-growth report in
    # the guard zone; on the exception stack, the kernel's user_mem_check in
    # the guard page below it.
    r = run_prog("bigframe", commands=["meminfo"], timeout=60)
    r.match(r"bigframe: stack: calling a 128 KiB frame, guard zone %s-%s, victims below$"
            % (HEX8, HEX8),
            ENV + r"user stack overflow at va %s$" % HEX8,
            r"bigframe: handler: calling a 8 KiB frame on the exception stack$",
            ENV + r"user_mem_check assertion failure for va %s$" % HEX8,
            r"bigframe: OK$", ordered=True,
            no=[KERNEL_PANIC, USER_PANIC, r".*FAILED", UNHANDLED, ENV + "user fault va"])
    m = r.search(r"bigframe: stack: .* guard zone (%s)-(%s)" % (HEX8, HEX8))
    lo, hi = (int(x, 16) for x in m.groups())
    va = int(r.search(ENV + r"user stack overflow at va (%s)$" % HEX8).group(1), 16)
    require(lo <= va < hi, "the overflow at %08x is not in the guard zone %08x-%08x" % (va, lo, hi))
    va = int(r.search(ENV + r"user_mem_check assertion failure for va (%s)$" % HEX8).group(1), 16)
    require(USTACKTOP <= va < USTACKTOP + 4096,
            "user_mem_check at %08x, not in the guard page below the exception stack" % va)
    check_vm_run(r)


# exhaust's lines, in order: `exhaust: <check> OK` for each string, or the
# line itself for a tuple.
EXHAUST_LINES = [
    # Out of memory before any handler exists: each would install the
    # upcall (and its exception stack) first.
    (r"exhaust: hoarded \d+ pages, no upcall yet$",),
    "first fork NoMem", "first sfork NoMem", "set_pgfault_handler NoMem", "add_region NoMem",
    "stack growth NoMem", "first sbrk NoMem", "first malloc null", "first map_zero NoMem",
    # Sizes near 4 GiB.
    r"malloc\(~4 GiB\) null", "calloc overflow null", r"realloc\(p, ~4 GiB\) null, p kept",
    r"posix_memalign\(~4 GiB\) NoMem", r"Vec::try_reserve\(~2 GiB\) Err",
    r"sbrk\(huge / very negative\) refused, break unchanged", "heap consistent after overflows",
    # Out of memory with the upcall and the heap set up.
    "malloc with memory", (r"exhaust: hoarded \d+ pages, upcall installed$",),
    (r"exhaust: \d+ small mallocs before null$",), "malloc until null, heap consistent", r"malloc\(1 MiB\) null", r"calloc\(1000, 1000\) null",
    r"realloc\(p, 1 MiB\) null, p kept", "posix_memalign NoMem", r"Vec::try_reserve\(1 MiB\) Err",
    "fork NoMem", "sfork NoMem", "map_zero NoMem", "watch of a zero-page page NoMem",
    "heap consistent after the failures",
    # map_zero refusals.
    "page 0", "the null guard", "a range into the null guard", "the exception stack",
    "a range onto the exception stack", "UTOP", "a wrapping range",
    # The memory back.
    "fork after freeing", r"malloc\(1 MiB\) after freeing",
]


@test(10, "exhaust")
def test_exhaust():
    # Every library call that allocates returns its error when memory runs
    # out, never panics; sizes near 4 GiB are refused; map_zero refuses the
    # null guard, the exception stack, UTOP and wrapping ranges.
    r = run_prog("exhaust", commands=["meminfo"], timeout=120)
    lines = [c[0] if isinstance(c, tuple) else r"exhaust: %s OK$" % c for c in EXHAUST_LINES]
    r.match(*(lines + [r"exhaust: OK$"]), ordered=True,
            no=[KERNEL_PANIC, USER_PANIC, r".*FAILED", UNHANDLED, ENV + "user fault va"])
    check_vm_run(r)


# --- F3: issue 19 (the file server as the root of trust): a running program's
# code, the server under a client's demands, exit with memory full. The
# helpers (fs_run, check_fs_clients_freed) are Part G's. ---

TEXTATTACK_CASES = ["control (write, no mapping)", "write while mapped MAP_SHARED",
                    "store through MAP_SHARED|PROT_WRITE", "mapped before the spawn, then a store"]


def textattack_test(cpus):
    """Issue 19, item 1: no env changes the code or read-only data of a
    running program. A copy of textattack runs as a victim that has touched
    a page of its read-only data and a function of its text; its file is
    then rewritten there by a plain write (the control), a write while the
    pages are mapped MAP_SHARED, stores through a MAP_SHARED|PROT_WRITE
    mapping, and stores through one made before the victim was spawned. The
    victim must find its bytes and its function's result unchanged, while
    the file and the mapping show the new bytes. The whole run is made
    twice: the second gives back every page."""

    def fn():
        r = fs_run("textattack", cpus=cpus, timeout=120)
        ok = ["textattack: %s: the victim's code and read-only data unchanged, the file "
              "changed OK$" % re.escape(c) for c in TEXTATTACK_CASES]
        r.match(*(ok + ok + ["textattack: no page leaked OK$", "textattack: OK$"]),
                ordered=True, no=[".*FAILED", KERNEL_PANIC, USER_PANIC,
                                  ENV + "unhandled page fault", ENV + "user fault", "fs: "])
        check_fs_clients_freed(r)

    name = "textattack: no env rewrites a running program's code (%s)" % cpus_label(cpus)
    fn.__name__ = "test_textattack_%d" % cpus
    test(10, name)(fn)


textattack_test(1)
textattack_test(4)


def mapflood_test(cpus):
    """Issue 19, item 3: the file server never dies of a client's demands.
    An env takes every free page, then maps the blocks of the files in /
    MAP_SHARED up to its per-env limit (256, none cached) and keeps them:
    the server must
    answer E_NO_MEM (the client then gives four pages back and asks again)
    rather than die of its shared set's growth or of a block it cannot read
    in, serve an honest read afterwards, and have mapped each file's own
    blocks. Run twice: the second run gives back every page."""

    def fn():
        r = fs_run("mapflood", cpus=cpus, timeout=400)
        r.match(r"mapflood: hoarded \d+ pages; 2[0-5]\d blocks of \d+ files \(the per-env limit\) "
                r"mapped MAP_SHARED with memory full, after [1-9]\d* E_NO_MEM replies OK$",
                "mapflood: the server still serves, every file's last page as read OK$",
                "mapflood: no page leaked OK$", "mapflood: OK$", ordered=True,
                no=[".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault",
                    ENV + "user fault", "fs: "])
        check_fs_clients_freed(r)

    name = ("mapflood: a client with all memory maps blocks up to its limit; the server lives (%s)"
            % cpus_label(cpus))
    fn.__name__ = "test_mapflood_%d" % cpus
    # About 5 CPU seconds each since the server warms its cache after each
    # flood: in make grade (it was a long test at about 40 s).
    test(10, name)(fn)


mapflood_test(1)
mapflood_test(4)


def oomexit_test(cpus):
    """Issue 19, item 7: a forked child that takes every free page and then
    exits (closing a file it shares with its parent) exits cleanly, with no
    panic, three times over; every page it took comes back (the parent
    counts the pages no one maps before the fork and once the child is
    gone)."""

    def fn():
        r = fs_run("oomexit", cpus=cpus, timeout=120)
        r.match(*["oomexit: child %d exited cleanly, every page back OK$" % i for i in range(3)]
                + ["oomexit: OK$"], ordered=True,
                no=[".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault",
                    ENV + "user_mem_check", ENV + "user fault", "fs: "])
        check_fs_clients_freed(r)

    name = "oomexit: a child exits with memory full, no panic (%s)" % cpus_label(cpus)
    fn.__name__ = "test_oomexit_%d" % cpus
    test(5, name)(fn)


oomexit_test(1)
oomexit_test(4)

# --- F4: no env denies the file server's service to the others (issue 19,
#         item 6): per-env limits on open files, MAP_SHARED blocks and swap
#         slots (user/serv/src/bin/fs/quota.rs); swap space of its own; the
#         server gives back the memory of what it no longer holds ---

DOS_NEVER = [".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "  trap ",
             "fs: "]


def dos_session(commands, cpus, timeout, kargs=None):
    """Runs `commands` at the shell (icode, init, sh) with the file server
    on `cpus` CPUs; returns the run, stopped at the prompt after the last."""
    return run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot", kargs=kargs,
                    cpus=cpus, commands=commands, prompt=SHELL_PROMPT, timeout=timeout)


def dos_test(points, name, cpus, commands, lines, timeout, kargs=None, check=None, long=False):
    """Declare a test that types `commands` at the shell on `cpus` CPUs and
    needs each of `lines` (regexes) in order: no FAILED line, no panic, no
    fault, no complaint from the server, every command's env freed
    (`long`: only in make grade-long)."""

    def fn():
        r = dos_session(commands, cpus, timeout, kargs)
        r.match(*lines, ordered=True, no=DOS_NEVER)
        if check:
            check(r)
        check_shell_clients_freed(r)

    cpu = cpus_label(cpus)
    fn.__name__ = "test_" + re.sub(r"\W", "_", "%s %s" % (name.split(":")[0], cpu))
    test(points, "%s (%s)" % (name, cpu), long=long)(fn)


HOG_LINES = [
    "fsattack: a file hog opened 256 files, then: too many files are open$",
    "fsattack: hog: its child, sharing its files, opens files of its own OK$",
    "fsattack: hog: it is still refused after its child is gone OK$",
    "fsattack: hog: another env opens and reads files beside it OK$",
    "fsattack: hog: once it closed its files it may open again OK$",
    r"fsattack: hog: (\d+) pages free before the hog, \1 after it exited: OK$",
    "fsattack: OK$",
]

MAPHOG_LINES = [
    "fsattack: a MAP_SHARED hog mapped 256 blocks, then: out of memory$",
    "fsattack: maphog: another env maps blocks MAP_SHARED beside it OK$",
    "fsattack: maphog: once it exited, its blocks are mapped by another env OK$",
    "fsattack: OK$",
]

FILLSWAP_LINES = [
    r"fsattack: filled the disk with \d+ blocks, then: no free space on disk$",
    "fsattack: OK$",
    r"swaptest 0: 14 MiB sorted: OK; page-ins [1-9]\d*, page-outs [1-9]\d*, ",
    "swaptest: swap slots in use after the sorts: 0$",
    "cat: can't open nosuch: file or block not found$",
]

# 4-CPU TCG is many times slower at this IPC-heavy work than 1 CPU: the
# 4-CPU maphog (about 80 s) and the disk fill (minutes) are long tests
# (make grade-long); the fill runs on 1 CPU only.
for _cpus in (1, 4):
    dos_test(10, "fsattack hog: one env opens files until refused at its limit (a quarter of "
             "the table); the others still open files; its Fd pages come back", _cpus,
             ["fsattack hog"], HOG_LINES, timeout=120)
    dos_test(10, "fsattack maphog: one env maps blocks MAP_SHARED until refused at its limit; "
             "the others still map", _cpus, ["fsattack maphog"], MAPHOG_LINES, timeout=300,
             long=_cpus == 4)
dos_test(10, "fsattack fill: with the file system full, a program still swaps (swap "
         "space of its own)", 1, ["fsattack fill", "swaptest 14", "cat nosuch"],
         FILLSWAP_LINES, timeout=600, kargs="mem=16M", long=True)

FSFORMAT = os.path.join(ROOT, "target", "release", "fsformat")


def free_blocks(img):
    """(free blocks, all blocks) of image `img`, by its superblock (block 1:
    magic, then the block count) and bitmap (from block 2: a set bit is a
    free block)."""
    with open(img, "rb") as f:
        data = f.read()
    nblocks = struct.unpack_from("<I", data, 4096 + 4)[0]
    bitmap = data[2 * 4096:]
    return sum(bitmap[b // 8] >> (b % 8) & 1 for b in range(nblocks)), nblocks


def nearly_full_image(tmp, keep):
    """Makes `tmp`/fs.img: obj/fs/clean.img's files and swap files, and
    padding files that leave about `keep` blocks free. Returns its path."""
    clean = os.path.join(ROOT, CLEAN_IMG)
    listing = subprocess.run([FSFORMAT, "--list", clean], stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout
    files, swaps = [], 0
    for line in listing.splitlines():
        size, kind, path = line.split(None, 2)
        if path.startswith("/swap/"):
            swaps += 1
        elif kind == "file":
            name = path.lstrip("/")
            built = os.path.join(ROOT, "obj", "fs", "bin", name)  # the stripped programs
            if not (os.path.isfile(built) and os.path.getsize(built) == int(size)):
                built = os.path.join(tmp, name)
                with open(built, "wb") as f:
                    subprocess.run([FSFORMAT, "--cat", clean, path], stdout=f, check=True)
            files.append(built)
    img = os.path.join(tmp, "fs.img")
    _, nblocks = free_blocks(clean)
    pads = []
    for _ in range(3):  # each round comes closer (directory blocks, indirect blocks)
        subprocess.run([FSFORMAT, img, str(nblocks), "--swap", str(swaps)] + files + pads,
                       check=True)
        free, _ = free_blocks(img)
        if keep // 2 <= free <= keep * 2:
            return img
        # Data blocks to add: a file of over 10 blocks takes an indirect block.
        more = free - keep - (free - keep) // 1034 - 1
        sizes = [os.path.getsize(p) // 4096 for p in pads]
        total = max(0, sum(sizes) + more)
        pads = []
        while total > 0:
            n = min(total, 1033)  # fsformat (as JOS's) makes files under 1034 blocks
            pads.append(os.path.join(tmp, "pad%02d" % len(pads)))
            with open(pads[-1], "wb") as f:
                f.write(b"\xee" * n * 4096)
            total -= n
    raise TestFailure("could not leave about %d blocks free in %s: %d free" % (keep, img, free))


@test(10, "fsattack fill, on a nearly full image: with the file system full, a program still swaps")
def test_fsattack_fill_short():
    """make grade's disk fill: the image is made nearly full on the host
    (padding files leave 64 blocks free), so `fsattack fill` writes a few
    blocks before the server says the disk is full, as in the long test;
    then `swaptest 14` still swaps under mem=16M (swap space of its own)."""
    tmp = tempfile.mkdtemp(prefix="jos-fill-")
    try:
        img = nearly_full_image(tmp, 64)
        r = run_prog("icode", make_vars={"FS": "1", "FSIMG": img}, kargs="mem=16M",
                     commands=["fsattack fill", "swaptest 14", "cat nosuch"],
                     prompt=SHELL_PROMPT, timeout=300)
        r.match(*FILLSWAP_LINES, ordered=True, no=DOS_NEVER)
        m = r.search(r"fsattack: filled the disk with (\d+) blocks")
        require(int(m.group(1)) <= 128, "the fill wrote %s blocks: the image was not nearly full"
                % m.group(1))
        check_shell_clients_freed(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
