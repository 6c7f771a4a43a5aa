"""Part A: boot and console (JOS's lab 1): GRUB and direct boot, the
monitor's commands, panics."""

import re

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part A: boot and console")


def check_boot_console(r):
    """The kernel's first line is the octal one, then the monitor's greeting."""
    k = r.kernel()
    first = k.first_line()
    require(first == OCTAL, "the kernel's first console line is %r, expected %r" % (first, OCTAL))
    k.match(WELCOME, "Type 'help' for a list of commands.", PROMPT_TEXT, ordered=True)


@test(5, "boot reaches the monitor")
def test_boot():
    check_boot_console(boot())


@test(5, "GRUB boot with no program (make qemu-nox PROG=) reaches the monitor")
def test_grub():
    check_boot_console(grub_boot(make_vars={"PROG": ""}))


# The kernel's line for each env made, ended and freed: JOS's, which the
# graders match (run-* targets), and which `make qemu-nox` turns off
# (envlog=0) so the shell's output is not buried in them.
ENV_LINES = [ENV + "new env ", ENV + "exiting gracefully$", ENV + "free env "]


@test(5, "make qemu-nox boots through GRUB into the shell (icode, init, sh, the disk)")
def test_grub_shell():
    r = grub_boot(qemuextra="-snapshot", commands=["echo typed at the shell prompt | cat"],
                  prompt=SHELL_PROMPT)
    k = r.kernel()
    require(k.first_line() == OCTAL, "the kernel's first line is %r" % k.first_line())
    k.match("FS is running$", "icode: read /motd$", "init: running sh$", ordered=True,
            no=[KERNEL_PANIC, ENV + "user panic", ENV + "unhandled page fault"] + ENV_LINES)
    r.command(0).match("typed at the shell prompt$")


@test(3, "make qemu-nox ENVLOG=1: the shell with the kernel's env lines back on")
def test_grub_shell_envlog():
    r = grub_boot(qemuextra="-snapshot", make_vars={"ENVLOG": "1"},
                  commands=["echo typed at the shell prompt | cat"], prompt=SHELL_PROMPT)
    r.kernel().match(*ENV_LINES, no=[KERNEL_PANIC])
    r.command(0).match(ENV + "new env ", "typed at the shell prompt$", ENV + "free env ")


@test(5, "monitor: help")
def test_help():
    r = boot(commands=["help"])
    r.command(0).match(r"help - \S", r"kerninfo - \S", r"backtrace - \S")


@test(5, "monitor: kerninfo")
def test_kerninfo():
    r = boot(commands=["kerninfo"])
    out = r.command(0)
    out.match("Special kernel symbols:", r"\s+_start\s+%s" % HEX8,
              r"Kernel executable memory footprint: \d+KB$", ordered=True)
    addr = {}
    for sym in ("entry", "etext", "edata", "end"):
        m = out.search(r"\s+%s\s+(%s) \(virt\)\s+(%s) \(phys\)$" % (sym, HEX8, HEX8))
        require(m, "%s: missing a line for %r: '  %s  %%08x (virt)  %%08x (phys)'" % (out.what, sym, sym))
        virt, phys = int(m.group(1), 16), int(m.group(2), 16)
        require(virt == phys + 0xF0000000, "%s: %s virt %08x is not phys %08x + KERNBASE" % (out.what, sym, virt, phys))
        addr[sym] = virt
    require(addr["entry"] < addr["etext"] <= addr["edata"] <= addr["end"],
            "%s: expected entry < etext <= edata <= end" % out.what)


FRAME = r"  ebp (%s)  eip (%s)  args %s %s %s %s %s$" % ((HEX8,) * 7)
SYMBOLIZED = r"\s+\S+\.rs:\d+: \S+\+0x[0-9a-f]+$"


@test(10, "monitor: backtrace")
def test_backtrace():
    r = boot(commands=["backtrace"])
    out = r.after("Stack backtrace:").before(PROMPT_TEXT)
    lines = out.lines
    frames = [i for i, line in enumerate(lines) if re.match(FRAME, line)]
    require(frames, "%s: no frame line matching %s" % (out.what, show(FRAME)))
    symbolized = [i for i in frames if i + 1 < len(lines) and re.match(SYMBOLIZED, lines[i + 1])]
    require(symbolized, "%s: no frame line is followed by a line matching %s" % (out.what, show(SYMBOLIZED)))
    # The walk starts in the monitor and follows the chain down to the
    # boot CPU's first Rust function.
    for name in (r"kern::monitor::", r"i386_init"):
        require(any(re.search(name, lines[i + 1]) for i in symbolized),
                "%s: no frame is symbolized as %s" % (out.what, name))


@test(5, "monitor: panic command")
def test_panic_command():
    r = boot(commands=["panic"])
    rx = r"kernel panic on CPU 0 at \S+:\d+: panic requested from the monitor$"
    r.command(0).match(rx)
    r.after(rx).match(WELCOME, PROMPT_TEXT, ordered=True)


@test(5, "boot option panic")
def test_panic_karg():
    r = boot(kargs="panic")
    rx = r"kernel panic on CPU 0 at \S+:\d+: panic requested on the command line$"
    r.match(rx)
    r.after(rx).match(WELCOME, PROMPT_TEXT, ordered=True)


@test(5, "boot option panic=ap: the panic names the AP")
def test_panic_ap():
    r = boot(kargs="panic=ap", cpus=2)
    rx = r"kernel panic on CPU 1 at \S+:\d+: panic requested on the command line$"
    r.match("SMP: CPU 1 starting", rx, ordered=True)
    r.after(rx).match(WELCOME, PROMPT_TEXT, ordered=True)
