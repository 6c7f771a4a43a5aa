"""What the tests of several parts check: the kernel's console lines, a
program's end (no env left, every env freed once, every page back), the
file server's and the shell's sessions. The harness (Console, Run, boot,
run_prog, test, require) is gradelib's."""

import re
import threading

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)

# --- Console lines ---

# Literal lines (no regex metacharacters in them).
OCTAL = "6828 decimal is 15254 octal!"
WELCOME = "Welcome to the JOS kernel monitor!"
HEX8 = "[0-9a-f]{8}"

PGSIZE = 4096
NO_RUNNABLE = r"No runnable environments in the system!$"
HELP = r"Type 'help' for a list of commands\.$"
ENV = r"\[[0-9a-f]{8}\] "  # "[%08x] ": a kernel line about an environment
U = r"\[00001000\] "  # ... about the first one
KERNEL_PANIC = r".*kernel panic"
USER_PANIC = ENV + r"user panic"

BREAKPOINT = "  trap 0x00000003 Breakpoint"
UNHANDLED = ENV + r"unhandled page fault"

USTACKTOP = 0xEEBFE000


# --- A program that runs alone (labs 3 and 4): it ended, freed, no leak ---


def check_ended(r):
    """No environment is left: the first prompt comes after `No runnable
    environments` and the monitor's greeting (not after a panic or a trap)."""
    r.before(PROMPT_TEXT).match(NO_RUNNABLE, WELCOME, HELP, ordered=True)


def env_test(points, name, prog, expect=(), never=(), ordered=False, **kw):
    """Declare a test that runs `prog` until no environment is left (the first
    prompt; see check_ended) and matches `expect` and `never`. Keywords as for
    run_prog."""

    def fn():
        r = run_prog(prog, **kw)
        r.match(*expect, no=never, ordered=ordered)
        check_ended(r)

    fn.__name__ = "test_" + re.sub(r"\W", "_", name)
    test(points, name)(fn)


def free_pages(out):
    """N from `meminfo`'s `free pages: N of M` in `out`."""
    m = out.search(r"free pages: (\d+) of \d+$")
    require(m, "%s: missing 'free pages: N of M'" % out.what)
    return int(m.group(1))


_free_at_boot = []
_free_at_boot_lock = threading.Lock()


def free_pages_at_boot():
    """`meminfo`'s free pages after a boot with no program (booted once per run,
    by the first test that asks; tests asking meanwhile wait for it)."""
    with _free_at_boot_lock:
        if not _free_at_boot:
            r = boot(commands=["meminfo"])
            _free_at_boot.append(free_pages(r.command(0)))
        return _free_at_boot[0]


def check_no_leak(r):
    """The last command was `meminfo`, typed once every environment was gone:
    as many pages are free as after a boot with no program (the boot
    modules' memory is freed once their envs exist)."""
    free = free_pages(r.command(len(r.commands) - 1))
    base = free_pages_at_boot()
    require(free == base, "%d pages free after the program; %d at boot with no program: "
            "%+d page(s)" % (free, base, free - base))


def check_all_freed(r):
    """Every environment created (`new env X`) was freed (`free env X`) once."""
    created = [m.group(1) for m in r.all(ENV + r"new env ([0-9a-f]{8})$")]
    freed = [m.group(1) for m in r.all(ENV + r"free env ([0-9a-f]{8})$")]
    require(created, "%s: no 'new env' line" % r.what)
    missing = sorted(set(created) - set(freed))
    require(not missing, "%d environment(s) created and never freed: %s" % (
        len(missing), " ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")))
    twice = sorted(set(x for x in freed if freed.count(x) > 1))
    require(not twice, "freed twice: %s" % " ".join(twice[:10]))
    unknown = sorted(set(freed) - set(created))
    require(not unknown, "freed but never created: %s" % " ".join(unknown[:10]))


def check_vm_run(r):
    """The program ended, every environment was freed, no page leaked."""
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)


# --- With the file server (FS=1): JOS's lab 5 and everything after it ---

def check_fs_clients_freed(r):
    """With the file server (env 00001000, which serves for ever): every
    other env created was freed once, and the system went idle."""
    created = [m.group(1) for m in r.all(ENV + r"new env ([0-9a-f]{8})$")]
    freed = [m.group(1) for m in r.all(ENV + r"free env ([0-9a-f]{8})$")]
    clients = [e for e in created if e != "00001000"]
    require(clients, "%s: no env besides the file server" % r.what)
    missing = sorted(set(clients) - set(freed))
    require(not missing, "environment(s) never freed: %s" % " ".join(missing))
    require("00001000" not in freed, "the file server was freed")
    r.match(NO_RUNNABLE)


def fs_run(prog, **kw):
    """Runs `prog` with the file server first (FS=1), the image under
    -snapshot (tests at once never write it under each other)."""
    return run_prog(prog, make_vars={"FS": "1"}, qemuextra="-snapshot", **kw)


# The kernel's notes about envs come as whole lines, but may land in the
# middle of a program's line (the console is shared): cut out, the rest is
# what the programs printed.
USER_VIEW = re.compile(r"\[[0-9a-f]{8}\] (?:new env [0-9a-f]{8}|free env [0-9a-f]{8}|"
                       r"exiting gracefully)\r?\n")


def user_view(r):
    """The console of run `r` without the kernel's notes about envs."""
    return Console(split_lines(USER_VIEW.sub("", r.text)), "console without env notes")


SHELL_PROMPT = "$ "


def shell_session(commands, timeout=60):
    """Boots icode with the file server (icode spawns init, which runs sh
    on the console, JOS's lab-5 start) and types `commands` at the shell's
    `$ ` prompts; returns the run, stopped at the prompt after the last."""
    return run_prog("icode", make_vars={"FS": "1"}, qemuextra="-snapshot", commands=commands,
                    prompt=SHELL_PROMPT, timeout=timeout)


def check_shell_clients_freed(r):
    """Every env created was freed but the file server, init (icode's
    child) and the shell init runs: the commands' envs all went."""
    created = [m.groups() for m in r.all(r"\[(%s)\] new env (%s)$" % (HEX8, HEX8))]
    freed = set(m.group(1) for m in r.all(ENV + r"free env (" + HEX8 + ")$"))
    icode = [c for p, c in created if p == "00000000" and c != "00001000"]
    require(icode, "no env for icode")
    init = [c for p, c in created if p == icode[0]]
    require(init, "icode spawned nothing")
    sh = [c for p, c in created if p == init[0]]
    require(sh, "init spawned no shell")
    alive = {"00001000", init[0], sh[0]}
    missing = sorted(c for _, c in created if c not in freed and c not in alive)
    require(not missing, "environment(s) never freed: %s" % " ".join(missing))
    require(not alive & freed, "freed: %s" % " ".join(sorted(alive & freed)))
