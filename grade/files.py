"""Part G, last: file descriptors over devices (JOS's lib/fd.c: the
console, pipes, files shared across fork), JOS's shell and ours, the
address-space map, the pager's corner cases, the image checked."""

import re
import threading

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part G: files, spawn, the shell, mmap")

# File descriptors over devices (JOS's lib/fd.c): the console, pipes, and
# files shared across fork. JOS's programs, printing JOS's lines.

_fs_baseline = []
_fs_baseline_lock = threading.Lock()


def fs_pages_baseline():
    """Free pages once `hello`, run with the file server, has gone (booted once per run, by the first test that
    asks): what any program that never asks the server for anything must
    leave, the server and its block cache being then the same."""
    with _fs_baseline_lock:
        if not _fs_baseline:
            r = fs_run("hello", commands=["meminfo"])
            _fs_baseline.append(free_pages(r.command(0)))
        return _fs_baseline[0]


def check_fs_no_leak(r):
    """The last command was `meminfo`, typed once every client was gone,
    and the program never used a file: every page it took came back (the
    free pages are as many as after `hello`)."""
    got = free_pages(r.command(len(r.commands) - 1))
    base = fs_pages_baseline()
    require(got == base, "%d pages free after the program; %d after hello "
            "with the file server: %+d page(s)" % (got, base, got - base))


PIPE_NEVER = [KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", ENV + "user fault", "fs: "]


@test(10, "testpipe: a pipe's reader sees its end, its writer stops when the reader is gone")
def test_testpipe():
    r = fs_run("testpipe", commands=["meminfo"])
    r.match(r"\[00001001\] pipereadeof close 0$", r"\[00001001\] pipereadeof write 1$",
            ordered=True, no=PIPE_NEVER + [r"got \d+ bytes"])
    r.match(r"\[00001002\] pipereadeof close 1$", r"\[00001002\] pipereadeof readn 0$",
            "pipe read closed properly$", r"\.+$", "pipe write closed properly$",
            "pipe tests passed$", ordered=True)
    check_fs_clients_freed(r)
    check_fs_no_leak(r)


def piperace_test(points, prog, cpus, lines, leak_check):
    """Declare a test that runs `prog` on `cpus` CPUs and needs `lines` in
    order and no `RACE`; with `leak_check`, every client must be freed and
    every page come back."""

    def fn():
        r = fs_run(prog, cpus=cpus, commands=["meminfo"] if leak_check else [], timeout=60)
        r.match(*lines, ordered=True, no=PIPE_NEVER + [".*RACE", ".*child detected race"])
        r.match(NO_RUNNABLE)
        if leak_check:
            check_fs_clients_freed(r)
            check_fs_no_leak(r)

    fn.__name__ = "test_%s_%d" % (prog, cpus)
    test(points, "%s, %d CPU%s: pipeisclosed is never fooled" % (prog, cpus, "s" * (cpus > 1)))(fn)


for _cpus in (1, 2):
    # The child stays blocked in ipc_recv (holding its end): no leak check.
    piperace_test(5, "testpiperace", _cpus,
                  [r"testing for dup race\.\.\.$", "pid is 4098$", "kid is 2$",
                   "child done with loop$", "race didn't happen$"], leak_check=False)
    piperace_test(5, "testpiperace2", _cpus,
                  [r"testing for pipeisclosed race\.\.\.$", "child done with loop$",
                   "race didn't happen$"], leak_check=True)


# (On 2 CPUs the checker sees the most of the parent's forks.)
piperace_test(5, "pipefork", 2, ["pipefork: OK$"], leak_check=True)


def gen_primes(n):
    """The primes below n."""
    return [p for p in range(2, n) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


@test(10, "primespipe: the primes below 1000 through a chain of pipes")
def test_primespipe():
    """As MIT's grade-lab5: every prime below 1000 and no other number, up
    to the first 4-digit line."""
    r = fs_run("primespipe", stop=r"[0-9]{4}$", timeout=120)
    primes = set(gen_primes(1000))
    r.match(*["%d$" % p for p in sorted(primes)],
            no=["%d$" % n for n in range(1000) if n not in primes] + PIPE_NEVER)


@test(10, "fdcheck: the file-descriptor layer's contracts on files, the console and pipes")
def test_fdcheck():
    """Bad descriptors and modes, stat and truncate per device, a pipe's
    size and end of file, a reader gone, dup of files and pipes and over an
    open descriptor, running out of descriptors, close_all."""
    r = fs_run("fdcheck")
    r.match("fdcheck: OK$", no=[".*FAILED"] + PIPE_NEVER)
    check_fs_clients_freed(r)


@test(5, "testfdsharing: a file descriptor's offset is shared across fork")
def test_testfdsharing():
    r = fs_run("testfdsharing")
    r.match(r"going to read in child \(might page fault if your sharing is buggy\)$",
            "read in child succeeded$", "read in parent succeeded$",
            "  trap 0x00000003 Breakpoint$", ordered=True, no=PIPE_NEVER)


@test(5, "testkbd: the console device: readline, echo, backspace, Ctrl-D, dup, fprintf")
def test_testkbd():
    """Typed after each prompt: a line with a DEL in it, then Ctrl-D. The
    file server's start-up lines are all out before testkbd runs (the kernel
    holds it until the server serves: kern/src/hold.rs), so nothing else
    prints while it prompts: its lines are matched on the plain console."""
    prompt = "Type a line: "
    eof = r"Type a line: \(end of file received\)$"
    r = fs_run("testkbd", answers=[(prompt, "helo\x7fp world\r"), (prompt, "\x04")], stop=eof)
    r.match(r"Type a line: helo\x08 \x08p world$", "help world$", eof, ordered=True,
            no=PIPE_NEVER)


@test(15, "testshell: JOS's shell test (sh -x < testshell.sh against testshell.key)")
def test_testshell():
    """JOS's testshell stops at a breakpoint once it has compared the
    output; `continue` lets it exit."""
    r = fs_run("testshell", commands=["continue"], timeout=60)
    r.before(PROMPT_TEXT).match(r"running sh -x < testshell\.sh \| cat$", "shell ran correctly$",
                                BREAKPOINT, ordered=True,
                                no=["shell produced incorrect output", KERNEL_PANIC, USER_PANIC,
                                    ENV + "user fault", ENV + "unhandled page fault"])
    check_fs_clients_freed(r)


@test(10, "shellleak: the shell's pipes, redirections, lists and background jobs give back every page")
def test_shellleak():
    """leakcheck runs `sh shellleak.sh` twice; the second run's pages all
    come back. Both runs print the same."""
    r = fs_run("shellleak", timeout=60)
    r.match(no=[KERNEL_PANIC, USER_PANIC, ENV + "user fault", ENV + "unhandled page fault", "fs: "])
    once = ["hello world", r"\s+4", r"\s+4\s+24\s+160 out2", 'quoted  "words" and \\| symbols ;',
            "fd 0: name shellleak.sh isdir 0 size 379 dev file",
            "fd 1: name fds isdir 0 size 50 dev file",
            "ls: stat out: file or block not found"]
    u = user_view(r)
    u.match(*["%s$" % l for l in once + once], ordered=True)
    require(len(u.all("background$")) == 2 and len(u.all("foreground$")) == 2,
            "the background job or the command after it did not run twice")
    r.match(r"leakcheck: sh shellleak\.sh: (\d+) pages free before the second run, \1 after: OK$",
            "leakcheck: all OK$", ordered=True)
    check_fs_clients_freed(r)


SCRIPT_OUTPUT = ["This is from the script.", "    1 Lorem ipsum dolor sit amet, consectetur",
                 "   12 id est laborum.", "These are my file descriptors.",
                 "fd 0: name script isdir 0 size 132 dev file",
                 "fd 1: name <cons> isdir 0 size 0 dev cons", "This is the end of the script."]


@test(10, "the virtual-memory tricks run from the shell, paged in on demand")
def test_shell_vm_tricks():
    """Programs of Part E spawned by the shell: their library handlers
    (zero page, lazy heap, stack growth, null guard, watchpoints, COW fork)
    work alongside the file server paging the program in."""
    cmds = ["zeropage", "lazyheap", "stackgrow", "nullderef", "cowcheck", "watchdemo", "wss",
            "demandpage"]
    r = shell_session(cmds, timeout=120)
    r.match(no=[KERNEL_PANIC, USER_PANIC, "syntax error", "fs: "])
    r.command(0).match(r"zeropage: read 16384 pages, 0 data pages allocated$")
    r.command(1).match(r"lazyheap: checksum written (%s), read back \1: match$" % HEX8)
    r.command(2).match(r"stackgrow: OK$")
    r.command(3).match(r"nullderef: OK$")
    r.command(4).match(r"cowcheck: all checks passed$")
    r.command(5).match(r"watchdemo: .*")
    r.command(6).match(r"wss: .*")
    r.command(7).match(r"demandpage: done$")
    check_shell_clients_freed(r)


MAPS_LINE = (r"(%s)-(%s) ([r-][w-][x-][ps]) (%s) (\S+) +(\d+)/(\d+) present$"
             % (HEX8, HEX8, HEX8))


def maps_areas(console):
    """The map lines `maps` printed in `console`: a list of (start, end,
    perms, name, present, pages), in the order printed."""
    return [(int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(5),
             int(m.group(6)), int(m.group(7))) for m in console.all(MAPS_LINE)]


def check_maps(r, spawned):
    """Checks the two maps `maps` printed: sorted, the program's areas with
    their protections, and what malloc, stack growth and a watch added."""
    before = maps_areas(r.after(r"maps: at start$").before(r"maps: after "))
    after = maps_areas(r.after(r"maps: after malloc, stack growth and a watch$"))
    r.match(r"maps: OK")
    for which, areas in (("first", before), ("second", after)):
        starts = [a[0] for a in areas]
        require(starts == sorted(starts), "the %s map is not sorted: %s" % (which, areas))
        for a in areas:
            require(a[0] < a[1] and a[0] % 4096 == 0 and a[1] % 4096 == 0,
                    "bad range in %s" % (a,))
            require(a[5] == (a[1] - a[0]) // 4096 and 0 <= a[4] <= a[5], "bad counts in %s" % (a,))
    names = lambda areas: {a[3]: a for a in areas}  # noqa: E731 (the last of a name)
    b, a = names(before), names(after)
    want = {"text": "r-xp", "rodata": "r--p", "data": "rw-p", "bss": "rw-p", "stack": "rw-p"}
    for name, perms in want.items():
        require(name in b, "no %s area at start: %s" % (name, before))
        require(b[name][2] == perms, "%s is %s, not %s" % (name, b[name][2], perms))
    require(b["text"][0] == 0x800000, "text starts at %08x" % b["text"][0])
    require(b["stack"][:2] == (0xeebfd000, 0xeebfe000) and b["stack"][4] == 1,
            "the stack page: %s" % (b["stack"],))
    if not spawned:  # the kernel loads every page; the pager only what is used
        for name in ("text", "rodata", "data"):
            require(b[name][4] == b[name][5], "%s not all present: %s" % (name, b[name]))
    require("heap" not in b, "a heap before malloc: %s" % (b.get("heap"),))
    require("heap" in a and a["heap"][4] >= 3 and a["heap"][2] == "rw-p",
            "the heap after malloc of 3 pages: %s" % (a.get("heap"),))
    stack = lambda areas: sum(x[4] for x in areas if x[3] == "stack")  # noqa: E731
    require(stack(after) >= stack(before) + 3,
            "stack pages present: %d, then %d" % (stack(before), stack(after)))
    require("watch" in a and a["watch"][5] == 1 and a["watch"][4] == 1,
            "the watched page: %s" % (a.get("watch"),))
    require("xstack" in a and a["xstack"][:2] == (0xeebff000, 0xeec00000),
            "the exception stack: %s" % (a.get("xstack"),))
    require("null" in a and a["null"][:2] == (0, 0x10000) and a["null"][2] == "---p",
            "the null guard: %s" % (a.get("null"),))
    for name in ("text", "rodata", "data", "bss"):
        require(a[name][:3] == b[name][:3] and a[name][4] >= b[name][4],
                "%s changed: %s, then %s" % (name, b[name], a[name]))


@test(10, "maps: one's own address space, /proc/self/maps style, as it grows")
def test_maps():
    r = fs_run("maps")
    r.match(no=[KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "fs: "])
    check_maps(r, spawned=False)
    check_fs_clients_freed(r)


@test(5, "maps from the shell: a demand-paged program's map")
def test_maps_shell():
    r = shell_session(["maps"])
    r.match(no=[KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "fs: "])
    check_maps(r.command(0, cut=USER_VIEW), spawned=True)
    check_shell_clients_freed(r)


@test(20, "the shell on the console: pipes, redirections, lists, quotes, scripts, utilities")
def test_shell_session():
    cmds = ["echo hi > f; cat f",
            "ls",
            "ls | wc",
            "cat lorem | grep dolor | wc -l",
            "cat < lorem | num | head -n 2 > out; cat out",
            "mkdir d; cp lorem d; mv d/lorem d/ipsum; ls -l d",
            "rm d/ipsum; rm -d d; ls -d d",
            "echo 'a  b' \"c|d\" >> f; cat f",
            "sh script",
            "lsfd",
            "nosuch; cat nosuch; grep -c in lorem motd"]
    r = shell_session(cmds)
    r.match("init: running sh$", r"\$ ", ordered=True)
    r.match(no=[KERNEL_PANIC, USER_PANIC, ENV + "user fault", ENV + "unhandled page fault",
                "syntax error", "fs: "])
    out = [r.command(i, cut=USER_VIEW) for i in range(len(cmds))]
    for i, c in enumerate(cmds):  # the shell echoes what is typed
        out[i].match("%s$" % re.escape(c))
    out[0].match("hi$")
    names = [l for l in list(out[1])[1:] if l]
    require("lorem" in names and "sh" in names and "f" in names, "ls: %s" % names)
    out[2].match(r"\s*%d\s+%d\s+\d+$" % (len(names), len(names)))
    out[3].match(r"\s*4$")
    out[4].match("    1 Lorem ipsum dolor sit amet, consectetur$",
                 "    2 adipisicing elit, sed do eiusmod tempor$", ordered=True,
                 no=["    3 "])
    out[5].match("        447 - d/ipsum$")
    out[6].match("ls: stat d: file or block not found$")
    out[7].match("hi$", "a  b c\\|d$", ordered=True)
    out[8].match(*["%s$" % re.escape(l) for l in SCRIPT_OUTPUT], ordered=True)
    out[9].match("fd 0: name <cons> isdir 0 size 0 dev cons$",
                 "fd 1: name <cons> isdir 0 size 0 dev cons$", no=["fd [2-9]"])
    out[10].match("spawn /nosuch: file or block not found$",
                  "cat: can't open nosuch: file or block not found$", "lorem:7$", "motd:0$",
                  ordered=True)
    check_shell_clients_freed(r)


SHELL_FAULTS = [KERNEL_PANIC, USER_PANIC, ENV + "user fault", ENV + "unhandled page fault"]


@test(3, "the shell's line editing: Ctrl-U erases the line typed")
def test_shell_ctrl_u():
    """Typed: `echo abc`, Ctrl-U, `echo def`: only def runs, and the screen
    backs over the 8 characters erased."""
    r = shell_session(["echo abc\x15echo def"])
    r.match(no=SHELL_FAULTS)
    r.command(0, cut=USER_VIEW).match(re.escape("echo abc" + "\x08 \x08" * 8 + "echo def") + "$",
                                      "def$", no=["abc"])
    check_shell_clients_freed(r)


@test(3, "the shell's line editing: the up and down arrows recall earlier lines")
def test_shell_history():
    """Two lines, then: up + Enter (the last again); up, up, up (no older
    one), down + Enter (the last); up, up, Backspace, 9 + Enter (the first,
    edited)."""
    up, down = "\x1b[A", "\x1b[B"
    cmds = ["echo hist1", "echo hist2", up, up * 3 + down, up * 2 + "\x7f9"]
    r = shell_session(cmds)
    r.match(no=SHELL_FAULTS)
    out = [r.command(i, cut=USER_VIEW) for i in range(len(cmds))]
    for i, want in enumerate(["hist1", "hist2", "hist2", "hist2", "hist9"]):
        out[i].match(want + "$", no=[h + "$" for h in ("hist1", "hist2", "hist9") if h != want])
    out[2].match("echo hist2$")  # the recalled line is shown as typed
    check_shell_clients_freed(r)


@test(3, "the shell's line editing: a line too long is refused, not cut and run")
def test_shell_line_too_long():
    """A line of 1100 characters (the buffer holds 1023): an error and
    nothing run; the next line runs."""
    cmds = ["echo " + "x" * 1095, "echo after"]
    r = shell_session(cmds)
    r.match(no=SHELL_FAULTS)
    r.command(0, cut=USER_VIEW).match(r"sh: line too long \(max 1023 characters\)$",
                                      no=["x{100}"])
    r.command(1, cut=USER_VIEW).match("after$")
    check_shell_clients_freed(r)


PAGERREVIEW_CASES = ["cycle", "setwait", "slots", "lostreply", "rowrite", "cputs", "upcall",
                     "sfork", "removed"]


def pagerreview_test(cpus):
    """Pagers paging each other (refused), a pager changed under an env
    waiting for it, one child registered with the server again and again,
    a call to the server whose request page is not paged in yet (answered
    by the server, E_INVAL for a read-only page), a write to
    read-only program text with no upcall (killed, not retried for ever),
    sys_cputs and an upcall whose bytes or code are not paged in yet, sfork
    sharing bss not paged in yet, a running program's file removed and its
    blocks and directory entry reused by a new file."""

    def fn():
        r = fs_run("pagerreview", cpus=cpus)
        r.match(*["pagerreview: %s: OK" % c for c in PAGERREVIEW_CASES] + ["pagerreview: done$"],
                ordered=True, no=[".*BUG", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault",
                                  ENV + "user_mem_check", "fs: "])
        r.match(r"pagerreview: lostreply: OK \(reply -3 from 00001000, read 5a\)$")
        check_fs_clients_freed(r)

    name = "pagerreview: the pager's corner cases (%s)" % cpus_label(cpus)
    fn.__name__ = "test_pagerreview_%d" % cpus
    test(10, name)(fn)


pagerreview_test(1)
pagerreview_test(4)



env_test(5, "faultio: only the file server may use I/O ports", "faultio",
         expect=["  trap 0x0000000d General Protection", U + "free env 00001000"],
         never=[".*made it here", "eflags wrong"])


@test(5, "fsformat --check: obj/fs/fs.img is clean")
def test_fsck():
    r = run_command(MAKE[:2] + ["CARGO=true", "fsck"], timeout=120, what="make fsck")
    require(r.reason == "exit" and r.returncode == 0,
            "make fsck failed:\n" + "\n".join(r.lines[-10:]))
    r.match(r".*fs\.img: clean$")
