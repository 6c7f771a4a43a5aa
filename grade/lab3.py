"""Part C: user environments, traps and system calls (JOS's lab 3): MIT's
programs, breakpoints, the system-call fuzzer, hostile ELF images."""

import os
import struct

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part C: user environments, traps and system calls")



# (hello runs with the file server by default, as in JOS's lab 5: FS= runs
# it alone, as the lab-3 program it is.)
NO_FS = {"FS": ""}

env_test(10, "hello", "hello", make_vars=NO_FS,
         expect=["hello, world", "i am environment 00001000",
                 U + "exiting gracefully", U + "free env 00001000"], ordered=True)

env_test(10, "buggyhello", "buggyhello",
         expect=[U + "user_mem_check assertion failure for va 00000001", U + "free env 00001000"])

env_test(10, "buggyhello2", "buggyhello2",
         expect=[U + "user_mem_check assertion failure for va 0....000"],
         never=[".*hello, world"])

env_test(10, "evilhello", "evilhello",
         expect=[U + "user_mem_check assertion failure for va f0100..."])

env_test(10, "divzero", "divzero",
         expect=["  trap 0x00000000 Divide error", "  eip  0x008.....", U + "free env 00001000"],
         never=[".*1/0 is ........!"])

env_test(10, "softint", "softint",
         expect=["  trap 0x0000000d General Protection"])

env_test(10, "badsegment", "badsegment",
         expect=["  trap 0x0000000d General Protection", "  err  0x00000028"])

env_test(10, "faultread", "faultread",
         expect=[U + "user fault va 00000000 ip 008.....", "  err  0x00000004.*"],
         never=[".*I read ........ from location 0"])

env_test(10, "faultreadkernel", "faultreadkernel",
         expect=[U + "user fault va f0100000", "  err  0x00000005.*"])

env_test(10, "faultwrite", "faultwrite",
         expect=["  err  0x00000006.*"])

env_test(10, "faultwritekernel", "faultwritekernel",
         expect=["  err  0x00000007.*"])



@test(10, "breakpoint")
def test_breakpoint():
    r = run_prog("breakpoint")  # stops at the first prompt
    r.match(BREAKPOINT, PROMPT_TEXT, ordered=True, no=[ENV + "free env", NO_RUNNABLE])


env_test(10, "testbss", "testbss",
         expect=["Making sure bss works right...",
                 "Yes, good.  Now doing a wild write off the end...",
                 U + "user fault va 00c..... ip 008....."], ordered=True)


@test(5, "double fault on kernel stack overflow")
def test_double_fault():
    r = boot(commands=["kstackoverflow"])
    panic = r"kernel panic on CPU 0 at \S+:\d+: double fault"
    r.command(0).match(r"double fault: eip %s esp %s" % (HEX8, HEX8), panic, ordered=True)
    r.after(panic).match(PROMPT_TEXT)  # the monitor is back


@test(5, "breakpoint continue")
def test_breakpoint_continue():
    r = run_prog("breakpoint", commands=["continue"])
    r.before(PROMPT_TEXT).match(BREAKPOINT, no=[ENV + "free env"])
    r.command(0).match(U + "exiting gracefully", U + "free env 00001000", NO_RUNNABLE, ordered=True)


@test(5, "breakpoint stepi")
def test_breakpoint_stepi():
    r = run_prog("breakpoint", commands=["stepi", "stepi", "continue"])
    m = r.before(PROMPT_TEXT).match(BREAKPOINT).search(r"  eip  0x(%s)$" % HEX8)
    require(m, "missing the trap frame's '  eip  0x%08x'")
    eips = [int(m.group(1), 16)]
    for i in (0, 1):
        out = r.command(i)
        m = out.search(r"stepped: eip (008[0-9a-f]{5})$")
        require(m, "%s: missing 'stepped: eip 008.....'" % out.what)
        eips.append(int(m.group(1), 16))
    # breakpoint's `int $3` is followed by two one-byte nops: each stepi
    # runs exactly one of them.
    require(eips[1] == eips[0] + 1 and eips[2] == eips[1] + 1,
            "eip at the breakpoint, then after each stepi: %s (expected one byte further each)"
            % ", ".join("%08x" % e for e in eips))
    r.command(2).match(U + "exiting gracefully", U + "free env 00001000", NO_RUNNABLE, ordered=True)


@test(10, "syscallfuzz")
def test_syscallfuzz():
    r = run_prog("syscallfuzz", commands=["meminfo"], timeout=120)
    r.match(r"syscallfuzz: \d+ calls, seed %s$" % HEX8,
            r"syscallfuzz: \d+ calls, \d+ errors, done$",
            U + "exiting gracefully", U + "free env 00001000", ordered=True,
            no=[KERNEL_PANIC, USER_PANIC, r"syscallfuzz: UNEXPECTED",
                r"syscallfuzz: \d+ calls succeeded that must fail"])
    check_ended(r)
    check_all_freed(r)
    check_no_leak(r)


@test(5, "hello frees its pages")
def test_hello_pages():
    r = run_prog("hello", commands=["meminfo"], make_vars=NO_FS)
    r.match(U + "free env 00001000")
    check_ended(r)
    check_no_leak(r)


def _bad_images():
    """Hostile boot modules made from hello: each must be rejected by the
    ELF loader with a message, never trusted, and never panic the kernel."""
    with open(os.path.join(ROOT, "obj", "user", "hello"), "rb") as f:
        good = f.read()
    bad = {
        "notelf": b"this is not an ELF file\n" * 100,
        "truncated": good[:300],
    }
    # Program headers said to lie far beyond the file (e_phoff at byte 28).
    img = bytearray(good)
    img[28:32] = struct.pack("<I", 0x7FFFFFF0)
    bad["phoffbad"] = bytes(img)
    # The first program header's file size beyond the end of the file
    # (p_filesz at e_phoff + 16).
    phoff = struct.unpack_from("<I", good, 28)[0]
    img = bytearray(good)
    img[phoff + 16:phoff + 20] = struct.pack("<I", 0x7FFFFFFF)
    bad["filesztoobig"] = bytes(img)
    d = os.path.join(ROOT, "obj", "bad")
    os.makedirs(d, exist_ok=True)
    for name, data in bad.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return sorted(bad)


@test(5, "hostile ELF images are rejected")
def test_bad_elf():
    for name in _bad_images():
        r = boot(kargs="run=%s" % name, qemuextra="-initrd obj/bad/%s" % name)
        r.match(r"load_icode: bad ELF image: \S.*",
                r"run %s: file is not a valid executable$" % name,
                "No runnable environments in the system!", ordered=True,
                no=[KERNEL_PANIC, r".*new env", r"\[00001000\]"])
