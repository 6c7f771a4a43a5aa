"""Part I: the network (issue 23, in progress): the clock's testtime, the PCI
bus and the E1000's attach line. The driver's and the stack's tests come
here as they are built (see gradelib's docstring for the harness, checks.py
for the shared checks)."""

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part I: the network")

# JOS's attach line (kern/pci.c's pci_func_enable) for QEMU's E1000 at
# 00:03.0, the slot the GNUmakefile's -device e1000 gets; MIT's grade-lab6
# matches it.
E1000_ENABLED = r"PCI function 00:03\.0 \(8086:100e\) enabled$"
ANY_ENABLED = r"PCI function "

# A machine with a PCI-to-PCI bridge (00:03.0) with an E1000 behind it (bus
# 1), and a second E1000 on bus 0 (00:04.0), instead of the GNUmakefile's
# network (QEMUNET).
BRIDGED_NET = ("-device pci-bridge,id=br1,chassis_nr=1 "
               "-netdev user,id=n1 -device e1000,bus=br1,addr=1,netdev=n1 "
               "-netdev user,id=n2 -device e1000,netdev=n2")


def enabled_lines(k):
    return [line for line in k.lines if line.startswith(ANY_ENABLED)]


@test(5, "pci: the E1000's attach line at boot, after the CPUs are found")
def test_pci_attach():
    r = boot()
    k = r.kernel()
    k.match(OCTAL, r"SMP: CPU 0 found \d+ CPU\(s\)$", E1000_ENABLED, WELCOME, ordered=True,
            no=[KERNEL_PANIC, r".*may be misconfigured"])
    require(len(enabled_lines(k)) == 1, "expected one 'PCI function' line, got %s" % enabled_lines(k))


@test(5, "pci: lspci lists every function (multi-function devices too), follows a bridge, enables one E1000")
def test_pci_bridge():
    r = boot(kargs="lspci", make_vars={"QEMUNET": BRIDGED_NET})
    k = r.kernel()
    k.match(r"PCI: 00:00\.0: 8086:1237: class: 6\.0 \(Bridge device\) irq: \d+$",
            r"PCI: 00:01\.0: 8086:7000: class: 6\.1 \(Bridge device\)",
            r"PCI: 00:01\.1: 8086:7010: class: 1\.1 \(Storage controller\)",
            r"PCI: 00:01\.3: 8086:7113: class: 6\.80 \(Bridge device\)",
            r"PCI: 00:03\.0: 1b36:0001: class: 6\.4 \(Bridge device\)",
            r"PCI: 00:03\.0: bridge to PCI bus 1--1$",
            r"PCI: 01:01\.0: 8086:100e: class: 2\.0 \(Network controller\) irq: \d+$",
            r"PCI function 01:01\.0 \(8086:100e\) enabled$",
            r"PCI: 00:04\.0: 8086:100e: class: 2\.0 \(Network controller\)",
            WELCOME, ordered=True, no=[KERNEL_PANIC])
    # The first E1000 is the one driven; the second is listed, not enabled.
    require(len(enabled_lines(k)) == 1, "expected one 'PCI function' line, got %s" % enabled_lines(k))


@test(2, "pci: no network card: no attach line, the boot goes on")
def test_pci_no_nic():
    r = boot(make_vars={"QEMUNET": "-nic none"})
    r.kernel().match(OCTAL, WELCOME, ordered=True, no=[ANY_ENABLED, KERNEL_PANIC])


@test(10, "testtime: counts down 5 to 0 a second apart, breaks into the monitor, continues and exits")
def test_testtime():
    r = run_prog("testtime", commands=["continue"], timeout=60)
    r.before(PROMPT_TEXT).match(r"starting count down: 5 4 3 2 1 0 $", BREAKPOINT, ordered=True,
                                no=[USER_PANIC, KERNEL_PANIC])
    r.command(0).match(U + "exiting gracefully", U + "free env 00001000", NO_RUNNABLE, ordered=True)
    # Six sleeps of a second each by the guest's clock, which can run slow
    # (a tick lost when the host is busy) but never fast: at least 6 s here.
    require(r.elapsed >= 6, "testtime took %.1f s, less than its six 1-second sleeps" % r.elapsed)
