"""Part G, last: file descriptors over devices (JOS's lib/fd.c: the
console, pipes, files shared across fork), JOS's shell and ours, the
address-space map, the pager's corner cases, the image checked."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
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


@test(10, "the shell's current directory: cd, pwd, relative paths everywhere; help; exit; rm -r")
def test_shell_cwd():
    """cd and pwd; relative paths in ls (no argument: the current
    directory), cat, redirections (<, >, >>), mkdir, rm and a program's path
    (`../wc`: spawn resolves it) from a directory the shell moved to, and
    the programs spawned there start in it; cd's errors leave the directory
    as it was; cd alone goes to /; help; rm of a directory without -r
    refused, rm's usage (the README's), rm -r of a tree; exit leaves the
    shell (init starts a new one, in /)."""
    cmds = ["pwd",
            "mkdir cwd; cd cwd; pwd",
            "echo hello > f; cat f; ls",
            "mkdir e; cd e; echo deep >> g; cd ..; cat e/g; ls -l e",
            "cd /nosuch; cd f; cd a b; pwd",
            "cat < f | ../wc; ./nosuch",
            "rm f; ls; cd; pwd",
            "help",
            "rm cwd; rm; rm -r cwd; ls -d cwd",
            "mkdir x; cd x; exit",
            "pwd; rm -d x; ls -d x"]
    r = shell_session(cmds)
    r.match(no=SHELL_FAULTS + ["syntax error", "fs: "])
    out = [r.command(i, cut=USER_VIEW) for i in range(len(cmds))]
    out[0].match("/$")
    out[1].match("/cwd$")
    out[2].match("hello$", "f$", ordered=True, no=["/f$"])
    out[3].match("deep$", "          5 - e/g$", ordered=True)
    out[4].match("cd: /nosuch: file or block not found$", "cd: f: not a directory$",
                 r"usage: cd \[dir\]$", "/cwd$", ordered=True)
    out[5].match(r"\s+1\s+1\s+6$", "spawn ./nosuch: file or block not found$", ordered=True)
    out[6].match("e$", "/$", ordered=True, no=["f$"])
    out[7].match(r"  cd \[dir\] +change the current directory", "  pwd +print the current directory",
                 "  exit +leave the shell", "  help +list the built-ins", "Programs in /:$",
                 ordered=True)
    progs = " ".join(out[7].after("Programs in /:$")).split()
    for want in ("cat", "ls", "sh", "wc", "rm", "hello"):
        require(want in progs, "help lists no %s: %s" % (want, progs))
    for other in ("motd", "lorem", "script", "cwd"):  # a file, a directory: not programs
        require(other not in progs, "help lists %s as a program" % other)
    out[8].match("rm: cwd: is a directory", r"rm: usage: rm \[-dr\] file\.\.\.$",
                 "ls: stat cwd: file or block not found$", ordered=True)
    out[9].match("init: starting sh$")
    out[10].match("/$", "ls: stat x: file or block not found$", ordered=True)
    readme = " ".join(open("README.md").read().split())  # as wrapped, one line
    require("`rm [-dr] file...`" in readme, "the README does not give rm's usage, rm [-dr] file...")
    # The first shell exited; the second, the file server and init live.
    created = [m.groups() for m in r.all(r"\[(%s)\] new env (%s)$" % (HEX8, HEX8))]
    freed = set(m.group(1) for m in r.all(ENV + r"free env (" + HEX8 + ")$"))
    icode = [c for p, c in created if p == "00000000" and c != "00001000"]
    init = [c for p, c in created if icode and p == icode[0]]
    shells = [c for p, c in created if init and p == init[0]]
    require(len(shells) == 2, "init started %d shell(s), not 2" % len(shells))
    alive = sorted(c for _, c in created if c not in freed)
    require(alive == sorted(["00001000", init[0], shells[1]]), "alive at the end: %s" % alive)


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


@test(3, "the shell's line editing: the PC keyboard's up arrow recalls the last line")
def test_shell_kbd_arrows():
    """`echo kbd1`, then, on the PC keyboard (QEMU's monitor: sendkey),
    up and Enter: the kernel's keyboard driver turns the E0-prefixed
    cursor key into `ESC [ A`, and the line runs again. Then `echo kbd2`
    typed with Print Screen held on the `e`: the keyboard sends it as the
    fake shift E0 2A and E0 37, which type nothing and leave the shift
    state alone (not `*Echo`)."""
    keys = "\x01csendkey up\nsendkey ret\n\x01c"
    line2 = ["print-e", "c", "h", "o", "spc", "k", "b", "d", "2", "ret"]
    keys2 = "\x01c" + "".join("sendkey %s\n" % k for k in line2) + "\x01c"
    r = run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot", commands=["echo kbd1"],
                 answers=[(r"(?s)kbd1\r?\n.*\$ ", keys),
                          (r"(?s)kbd1\r?\n.*kbd1\r?\n.*\$ ", keys2)],
                 prompt=SHELL_PROMPT, stop=4, timeout=60)
    r.match(no=SHELL_FAULTS)
    u = user_view(r)
    require(len(u.all("kbd1$")) == 2, "kbd1 printed %d time(s), not twice" % len(u.all("kbd1$")))
    u.match(r"(\(qemu\) )?\$ echo kbd1$")
    # (The `$ ` prompt is on the line of QEMU's monitor, before.)
    u.match("echo kbd2$", "kbd2$", ordered=True, no=[r".*Echo kbd2"])


@test(5, "Ctrl-C stops a pipeline at once, all of it, and the prompt comes back")
def test_shell_ctrl_c():
    """`jobctl spin | cat | cat` (its line comes out of the last cat: every
    stage runs), Ctrl-C: `^C` and a prompt; every env of the pipeline is
    freed; three times, with the free pages counted after each: the third
    stop gives back every page (the first two warm the file server's
    tables, as any pipeline does); the rest of a line after a job stopped
    does not run. The second Ctrl-C comes after 600 characters typed ahead
    (more than the kernel's input buffer holds; the job never reads them).
    Then Ctrl-C still works after an interactive `sh` (which took the
    controller role) exited earlier on the line (`sh; jobctl spin`), and
    after a program's child took the role and exited (`jobctl grab`: the
    kernel gives the role back to the shell). Then a command runs."""
    job = "jobctl spin | cat | cat"
    cmds = ([job + "; echo skipped", "jobctl pages"] + [job, "jobctl pages"] * 2
            + ["sh; jobctl spin", "exit", "jobctl grab", "echo after"])
    answers = [("jobctl: spinning", "\x03"), ("jobctl: spinning", "y" * 600 + "\x03")]
    r = run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot", commands=cmds,
                 answers=answers + [("jobctl: spinning", "\x03")] * 3, prompt=SHELL_PROMPT,
                 timeout=60)
    r.match(no=SHELL_FAULTS)
    out = [r.command(i, cut=USER_VIEW) for i in range(len(cmds))]
    for i in (0, 2, 4, 7, 8):
        out[i].match("jobctl: spinning$", r"\^C$", ordered=True, no=["skipped$", "y+$"])
    pages = [int(out[i].search(r"jobctl: (\d+) pages free$").group(1)) for i in (3, 5)]
    require(pages[0] == pages[1], "%d pages free after the second stop, %d after the third"
            % tuple(pages))
    out[9].match("after$")
    require(len(r.all(ENV + "destroying " + HEX8 + "$")) >= 2, "no env destroyed by the shell")
    check_shell_clients_freed(r)


@test(3, "Ctrl-C at the prompt throws the line away")
def test_shell_ctrl_c_prompt():
    """Typed: `echo abc`, Ctrl-C, `echo def`: `^C`, a fresh prompt, and
    only def runs."""
    r = run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot",
                 commands=["echo abc\x03echo def"], prompt=SHELL_PROMPT, stop=3, timeout=60)
    r.match(no=SHELL_FAULTS)
    u = user_view(r)
    u.match(r"\$ echo abc\^C$", r"\$ echo def$", "def$", ordered=True, no=["abc$"])
    check_shell_clients_freed(r)


PAGERREVIEW_CASES = ["cycle", "setwait", "slots", "kids", "lostreply", "rowrite", "cputs", "upcall",
                     "sfork", "removed"]


def pagerreview_test(cpus):
    """Pagers paging each other (refused), a pager changed under an env
    waiting for it, one child registered with the server again and again,
    300 stopped children registered by one env (a quarter of the table at
    most, then E_MAX_OPEN, and spawn still works),
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


@test(5, "fsformat --check: obj/fs/clean.img, the disk the tests boot, is clean")
def test_fsck():
    r = run_command(MAKE[:2] + ["CARGO=true", "fsck", "FSIMG=" + CLEAN_IMG], timeout=120,
                    what="make fsck")
    require(r.reason == "exit" and r.returncode == 0,
            "make fsck failed:\n" + "\n".join(r.lines[-10:]))
    r.match(r".*clean\.img: clean$")


FSFORMAT_BIN = os.path.join("target", "release", "fsformat")


def _disk_cat(img, path):
    """File `path` of image `img` (bytes), or None if it is not there."""
    p = subprocess.run([FSFORMAT_BIN, "--cat", img, path], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return p.stdout if p.returncode == 0 else None


def _disk_make(disk, *args):
    """`make DISK=disk args...`, the build done (CARGO=true); its Run."""
    r = run_command(MAKE[:2] + ["CARGO=true", "DISK=" + disk] + list(args), timeout=120,
                    what="make DISK=%s %s" % (disk, " ".join(args)))
    require(r.reason == "exit" and r.returncode == 0,
            "make %s failed:\n%s" % (" ".join(args), "\n".join(r.lines[-10:])))
    return r


@test(10, "your disk: make updates obj/fs/fs.img in place and keeps your files; "
          "the tests boot the clean image")
def test_disk_update():
    """The person's way, on a disk of the test's own (DISK=): `make` makes
    it; files written in the shell stay on it; the build's files change
    (motd edited, a program added, one taken out of the list: fsformat
    --update as make runs it), then `make` brings the disk back to the
    build's list, and takes a group of programs off the disk and the clean
    image when the list loses them; the person's files are kept byte for
    byte throughout, fsck is clean, and a boot reads them back. An old
    layout is refused, untouched. The run-* targets (every grader's) boot
    the clean image under snapshot=on whatever DISK is."""
    tmp = tempfile.mkdtemp(prefix="jos-disk-")
    try:
        disk = os.path.join(tmp, "fs.img")
        # The list of files and the clean image of this test's own too, so
        # that a change to the list (below) leaves the other tests' alone.
        clean = os.path.join(tmp, "clean.img")
        own = ["FSIMG_LIST=" + os.path.join(tmp, "files.list"), "FSIMG_CLEAN=" + clean]
        _disk_make(disk, disk, clean, *own)
        require(_disk_cat(disk, "/motd") is not None, "make made no disk at DISK")
        # The shell writes on your disk, for real (booted directly: that
        # make qemu-nox boots DISK is checked at the end).
        w = run_prog("icode", make_vars={"FS": "1", "FSIMG": disk}, prompt=SHELL_PROMPT,
                     timeout=60, commands=["echo my words > mine; mkdir d; echo deep > d/f; "
                                           "rm hello", "sync"])
        w.match(no=[KERNEL_PANIC, USER_PANIC])
        mine = _disk_cat(disk, "/mine")
        require(mine == b"my words\n", "the shell's file on the disk: %r" % mine)
        # The build changes: motd edited, newprog added, num taken out.
        built = [l for l in open(disk + ".built").read().splitlines()
                 if l and not l.startswith("#")]
        require("num" in built and "motd" in built, "%s.built: %s" % (disk, built))
        motd = os.path.join(tmp, "motd")
        with open(motd, "w") as f:
            f.write("an edited motd\n")
        newprog = os.path.join(tmp, "newprog")
        shutil.copyfile(os.path.join("obj", "fs", "bin", "hello"), newprog)
        files = [os.path.join("user", "files", n) if os.path.exists(os.path.join("user", "files", n))
                 else os.path.join("obj", "fs", "bin", n) for n in built if n not in ("motd", "num")]
        layout = ["20480", "--swap", "16"]
        u = run_command([FSFORMAT_BIN, "--update", disk] + layout + files + [motd, newprog],
                        timeout=60, what="fsformat --update")
        require(u.reason == "exit" and u.returncode == 0, "fsformat --update failed:\n" + u.text)
        u.match(r".*: added hello newprog; replaced motd; removed num; \d+ unchanged")
        require(_disk_cat(disk, "/mine") == mine and _disk_cat(disk, "/d/f") == b"deep\n",
                "your files after the update: %r %r" % (_disk_cat(disk, "/mine"),
                                                         _disk_cat(disk, "/d/f")))
        require(_disk_cat(disk, "/motd") == b"an edited motd\n", "motd not replaced")
        require(_disk_cat(disk, "/num") is None, "num, out of the list, is still there")
        require(_disk_cat(disk, "/newprog") == open(newprog, "rb").read(), "newprog not added")
        # make, the build's list again: newprog (put there by the last
        # update, no longer given) goes, num and the real motd come back.
        os.utime(disk, (946684800, 946684800))  # older than the build's files
        r = _disk_make(disk, disk, *own)
        r.match(r".*: added num; replaced motd; removed newprog; \d+ unchanged, your files kept$")
        require(_disk_cat(disk, "/motd") == open(os.path.join("user", "files", "motd"), "rb").read(),
                "motd not the build's again")
        require(_disk_cat(disk, "/newprog") is None, "newprog not removed")
        require(_disk_cat(disk, "/mine") == mine, "your file after make")
        # A group of programs out of the list (user/test's, as if their
        # sources were gone): make takes them off your disk and makes the
        # clean image without them.
        require(_disk_cat(disk, "/crashload") is not None and
                _disk_cat(clean, "/crashload") is not None, "no crashload to start with")
        r = _disk_make(disk, disk, clean, "FSIMG_GROUPS=jos tools demo", *own)
        r.match(r".*: removed .*\bcrashload\b.*; \d+ unchanged, your files kept$")
        for img in (disk, clean):
            require(_disk_cat(img, "/crashload") is None and _disk_cat(img, "/cat") is not None,
                    "%s: crashload, out of the list, is still there" % img)
        require(_disk_cat(disk, "/mine") == mine, "your file after the list changed")
        fsck = run_command([FSFORMAT_BIN, "--check", disk], timeout=60, what="fsformat --check")
        require(fsck.returncode == 0, "fsck of the updated disk:\n" + fsck.text)
        # An old layout (another block count): refused, not a byte changed.
        before = hashlib.sha1(open(disk, "rb").read()).hexdigest()
        o = run_command([FSFORMAT_BIN, "--update", disk, "10240", "--swap", "16"] + files,
                        timeout=60, what="fsformat --update (old layout)")
        require(o.returncode == 1, "an old layout was not refused:\n" + o.text)
        o.match(r"fsformat: .*: not updated: an old layout: 20480 blocks")
        require(hashlib.sha1(open(disk, "rb").read()).hexdigest() == before,
                "the refused disk changed")
        # A boot reads your files back.
        b = run_prog("icode", make_vars={"FS": "1", "FSIMG": disk}, prompt=SHELL_PROMPT,
                     commands=["cat mine d/f; newprog"], timeout=60)
        b.command(0, cut=USER_VIEW).match("my words$", "deep$", "spawn /newprog: file or block "
                                          "not found$", ordered=True)
        # The graders' targets boot the clean image, not DISK; make qemu-nox DISK.
        for target, drive in [("run-testfile-nox", "obj/fs/clean.img,index=1,media=disk,"
                               "format=raw,snapshot=on"),
                              ("qemu-nox", disk + ",index=1,media=disk,format=raw")]:
            n = _disk_make(disk, "-n", target)
            qemu = [l for l in n.lines if l.startswith("qemu-system")]
            require(len(qemu) == 1 and qemu[0].endswith(" -drive file=" + drive),
                    "make %s boots: %s" % (target, qemu))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
