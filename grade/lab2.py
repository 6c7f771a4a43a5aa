"""Part B: physical memory and the kernel's address space (JOS's lab 2):
the boot self checks, the monitor's views of the page tables, mem=."""

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part B: physical memory and page tables")

KSTKSIZE = KSTKGAP = 8 * 4096
KSTACKTOP = 0xF0000000
NCPU = 8


@test(10, "memory self checks")
def test_mem_checks():
    r = boot()
    r.match(r"Physical memory: \d+K available, base = \d+K, extended = \d+K$",
            r"check_page_free_list\(\) succeeded!",
            r"check_page_alloc\(\) succeeded!",
            r"check_page\(\) succeeded!",
            r"check_kern_pgdir\(\) succeeded!",
            r"check_page_free_list\(\) succeeded!",
            r"check_page_installed_pgdir\(\) succeeded!",
            WELCOME, ordered=True, no=[r"kernel panic"])
    m = r.search(r"Physical memory: (\d+)K available, base = (\d+)K, extended = (\d+)K")
    avail, base, ext = (int(g) for g in m.groups())
    require(avail == base + ext, "available != base + extended")
    # QEMU's -m 128: a little under 128 MiB is usable, 639K or 640K of it base.
    require(120 * 1024 < avail <= 128 * 1024, "%dK available with -m 128" % avail)
    require(base in (639, 640), "base memory is %dK" % base)


@test(10, "showmappings: UVPT, UPAGES, UENVS, KERNBASE permissions")
def test_showmappings():
    r = boot(commands=["showmappings ef7bd000 ef7bd000", "showmappings ef000000 ef000000",
                       "showmappings eec00000 eec00000", "showmappings f0100000 f0100000",
                       "showmappings 0 0"])
    # UVPD: the page directory mapped as a page, user read-only.
    r.command(0).match(r"ef7bd000-ef7bdfff  %s  P - U" % HEX8)
    r.command(1).match(r"ef000000-ef000fff  %s  P - U" % HEX8)
    r.command(2).match(r"eec00000-eec00fff  %s  P - U" % HEX8)
    # Kernel memory: writable, not user (a 4 MiB page here).
    r.command(3).match(r"f0(0|1)00000-f0(3|1)fffff  00(0|1)00000  P W - ")
    r.command(4).match(r"00000000-00000fff  unmapped")


@test(10, "showmappings: kernel stacks and their guards")
def test_kstack_guards():
    cmds = []
    for cpu in range(NCPU):
        top = KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP)
        cmds.append("showmappings %x %x" % (top - KSTKSIZE - KSTKGAP, top - 1))
    r = boot(commands=cmds)
    for cpu in range(NCPU):
        top = KSTACKTOP - cpu * (KSTKSIZE + KSTKGAP)
        gap_lo, stack_lo = top - KSTKSIZE - KSTKGAP, top - KSTKSIZE
        out = r.command(cpu)
        out.match(r"%08x-%08x  unmapped$" % (gap_lo, stack_lo - 1))
        mapped = out.all(r"([0-9a-f]{8})-[0-9a-f]{8}  [0-9a-f]{8}  P W - ")
        require(len(mapped) == KSTKSIZE // 4096,
                "CPU %d: %d stack pages mapped writable, expected %d" % (cpu, len(mapped), KSTKSIZE // 4096))


@test(5, "vmmap shows the layout")
def test_vmmap():
    r = boot(commands=["vmmap"])
    r.command(0).match(r"eec00000-eec[0-9a-f]{5} r-u  environments \(UENVS\)",
                       r"ef000000-ef0[0-9a-f]{5} r-u  page info array \(UPAGES\)",
                       r"ef400000-ef800000 r-u  page tables \(UVPT\)",
                       r"efff8000-f0000000 rwk  kernel stacks",
                       r"f0000000-00000000 rwk  kernel: all physical memory", ordered=True)


@test(5, "mem=16M: the kernel uses no memory above 16 MiB (a bad size is ignored)")
def test_mem_limit():
    r = boot(kargs="mem=16M", commands=["meminfo"])
    r.match(r"Physical memory: 15999K available, base = 639K, extended = 15360K$")
    n = free_pages(r.command(0))
    require(3000 < n < 4096, "%d pages free under mem=16M (16 MiB is 4096 pages)" % n)
    r = boot(kargs="mem=lots")
    r.match(r"mem=lots: not a size \(like 16M\); ignored$",
            r"Physical memory: 130559K available, base = 639K, extended = 129920K$")
    r = fs_run("hello", kargs="mem=1M")
    r.match(r"mem=1024K: too little for the kernel and its modules; using \d+K$",
            "hello, world$", "i am environment 00001001$", ordered=True)


@test(5, "dump and meminfo")
def test_dump_meminfo():
    r = boot(commands=["dump f0100000 10", "dump -p 100000 10", "meminfo"])
    # The multiboot v1 header is the first thing in the kernel image.
    r.command(0).match(r"f0100000: 02 b0 ad 1b ")
    r.command(1).match(r"00100000: 02 b0 ad 1b ")
    r.command(2).match(r"free pages: \d+ of \d+$")
