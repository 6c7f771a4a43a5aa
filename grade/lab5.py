"""Part G, first: the file server and spawn (JOS's lab 5, and issue 13's
first parts): the disk image, the server's own tests and requests,
directories, demand-paged spawn and its pager. The file server boots
first with FS=1; each QEMU gets the image with -snapshot, so tests running
at once (and a student's QEMU) never write it under each other."""

import os
import tempfile

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403

part("Part G: files, spawn, the shell, mmap")


@test(5, "the file server boots first, with I/O privilege and disk 1")
def test_fs_boot():
    r = fs_run("hello")
    r.match(r"\[00000000\] new env 00001000$", r"\[00000000\] new env 00001001$",
            "FS is running$", "FS can do I/O$", "Device 1 presence: 1$",
            ordered=True, no=[KERNEL_PANIC, USER_PANIC, "  trap ", "fs: "])
    r.match("hello, world$", "i am environment 00001001$")
    check_fs_clients_freed(r)


FS_START = ["FS is running", "FS can do I/O", "Device 1 presence: 1", "block cache is good",
            "superblock is good", "bitmap is good", "alloc_block is good", "file_open is good",
            "file_get_block is good", "file_flush is good", "file_truncate is good",
            "file rewrite is good"]


@test(5, "the program booted with the file server runs once the server serves: the server's "
      "start-up lines come first (2 CPUs)")
def test_fs_first():
    """The kernel holds the program it starts at boot until the file server
    waits for its first request (kern/src/hold.rs). On 2 CPUs the program
    would otherwise run beside the server's start-up checks, its lines
    among theirs."""
    r = fs_run("hello", cpus=2)
    r.match(*["%s$" % re.escape(l) for l in FS_START] + ["hello, world$",
            "i am environment 00001001$"], ordered=True, no=[KERNEL_PANIC, USER_PANIC, "fs: "])
    first = r.find("hello, world$")
    require(all(r.find("%s$" % re.escape(l)) < first for l in FS_START),
            "a line of the file server's start-up after the program's first line")
    check_fs_clients_freed(r)


@test(5, "a file server that ends before it serves (a disk of zeros) lets the program booted "
      "with it run")
def test_fs_gone_first():
    """On a disk of zeros the server finds no superblock and exits before
    its first request: the program the kernel held for it runs all the
    same."""
    with tempfile.TemporaryDirectory(prefix="jos-zeros-") as tmp:
        img = os.path.join(tmp, "zeros.img")
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        r = run_prog("hello", make_vars={"FS": "1", "FSIMG": img}, qemuextra="-snapshot")
    r.match("Device 1 presence: 1$", r"fs: bad superblock \(magic 00000000, 0 blocks\)$",
            "hello, world$", "i am environment 00001001$", ordered=True,
            no=[KERNEL_PANIC, USER_PANIC])


@test(3, "a file server with no disk at all gives up its probe and lets the program booted "
      "with it run")
def test_fs_no_disk():
    """FS=1 and no -drive at all: the IDE status register reads 0 (neither
    busy nor ready) for ever. The server's probe gives up after a bounded
    wait, says there is no disk and exits; the program held for it runs."""
    with tempfile.TemporaryDirectory(prefix="jos-nodisk-") as tmp:
        r = run_prog("hello", make_vars={"FS": "1", "FSIMG": os.path.join(tmp, "none.img")},
                     timeout=30)
    r.match("FS can do I/O$", "Device 1 presence: 0$", r"fs: no disk 1 .*nothing to serve$",
            "hello, world$", "i am environment 00001001$", ordered=True,
            no=[KERNEL_PANIC, USER_PANIC])


def fs_lines_test(points, name, prog, lines):
    """Declare a test that runs `prog` with the file server and needs each
    of `lines`, in order: no panic, no fault, no complaint from the server,
    and every client env freed."""

    def fn():
        r = fs_run(prog)
        r.match(*["%s$" % re.escape(line) for line in lines], ordered=True,
                no=[KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "fs: "])
        check_fs_clients_freed(r)

    fn.__name__ = "test_" + re.sub(r"\W", "_", name)
    test(points, name)(fn)


fs_lines_test(10, "the file server's own tests (JOS's fs/test.c) through the block cache",
              "hello", ["block cache is good", "superblock is good", "bitmap is good",
                        "alloc_block is good", "file_open is good", "file_get_block is good",
                        "file_flush is good", "file_truncate is good", "file rewrite is good"])

fs_lines_test(15, "testfile: the file server's requests, by hand and through descriptors",
              "testfile", ["serve_open is good", "file_stat is good", "file_read is good",
                           "file_close is good", "stale fileid is good", "file_write is good",
                           "file_read after file_write is good", "open is good",
                           "large file is good"])


fs_lines_test(10, "testdir: directories through descriptors, O_MKDIR, rename",
              "testdir", ["read directory is good", "mkdir is good",
                          "create in a subdirectory is good", "rename is good",
                          "remove while open is good", "testdir: OK"])

fs_lines_test(10, "fsevict: with no page free, the file server gives up clean cached blocks",
              "fsevict", ["fsevict: the server read 4 files with no page free: OK"])


@test(10, "fsattack: hostile requests to the file server")
def test_fsattack():
    """Bad, stale and closed file ids on every request, unterminated paths,
    wrong modes, huge counts and offsets, unknown requests, a read-only
    request page, swap requests without a page or on slots not the
    sender's, the swap files opened, removed or renamed: each gets an
    error, and the server still serves. A child that hoards 300 swap slots
    and exits without freeing them leaves none in use."""
    r = fs_run("fsattack")
    r.match("fsattack: a hoard of 300 swap slots$", "fsattack: OK$",
            no=[".*FAILED", KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault", "  trap "])
    check_fs_clients_freed(r)


fs_lines_test(10, "spawnhello: spawn from the file system (JOS's lab-5 lines)",
              "spawnhello", ["i am parent environment 00001001", "hello, world",
                             "i am environment 00001002"])


@test(5, "spawnfaultio: a spawned child has no I/O privilege")
def test_spawnfaultio():
    r = fs_run("spawnfaultio")
    r.match("i am parent environment 00001001$", "TRAP frame at 0x[0-9a-f]{8} from CPU 0$",
            "  trap 0x0000000d General Protection$", r"\[00001002\] free env 00001002$",
            ordered=True, no=[KERNEL_PANIC, USER_PANIC])
    check_fs_clients_freed(r)


@test(10, "testpteshare: PTE_SHARE pages stay shared across fork and spawn")
def test_testpteshare():
    r = fs_run("testpteshare")
    r.match("fork handles PTE_SHARE right$", "spawn handles PTE_SHARE right$", ordered=True,
            no=[KERNEL_PANIC, USER_PANIC, ".*PTE_SHARE wrong"])


PAGEIN_PARTS = (r"pagein ([0-9a-f]{8}): table (\d+) of (\d+) pages present, "
                r"buffer (\d+) of (\d+)$")
PAGEIN = (r"pagein ([0-9a-f]{8}): (\d+) of (\d+) program pages present, (\d+) of them read-only, "
          r"(\d+) shared with another copy$")


@test(10, "demandpage: spawned programs are paged in on demand, their text shared")
def test_demandpage():
    """Three copies of pagein (32 pages of read-only table and 16 of bss it
    touches only when told): the first two touch a few pages of their
    program; the second's read-only pages are all the first's (the file
    server's cached blocks, shared); the third touches the table and the
    buffer too, and has those 48 pages more."""
    r = fs_run("demandpage")
    r.match("demandpage: done$", no=[KERNEL_PANIC, USER_PANIC, ENV + "unhandled page fault"])
    runs = [tuple(int(x) for x in m.groups()[1:]) for m in r.all(PAGEIN)]
    require(len(runs) == 3, "expected 3 'pagein' reports, got %d" % len(runs))
    (p1, t1, r1, s1), (p2, t2, r2, s2), (p3, t3, r3, s3) = runs
    require(t1 >= 48 and p1 * 4 < t1,
            "first copy: %d of %d pages present (expected under a quarter)" % (p1, t1))
    require(r2 > 0 and s2 == r2,
            "second copy: %d of its %d read-only pages shared with the first" % (s2, r2))
    # The third touched all of its table and buffer (the rest of its count
    # depends on which code ran and where the linker put it).
    parts = [tuple(int(x) for x in m.groups()[1:]) for m in r.all(PAGEIN_PARTS)]
    require(len(parts) == 3, "expected 3 'pagein' table/buffer reports, got %d" % len(parts))
    tp, tt, bp, bt = parts[2]
    require(tp == tt and bp == bt and p3 >= tt + bt,
            "third copy touched everything but has %d of %d table pages, %d of %d buffer "
            "pages, %d of %d in all" % (tp, tt, bp, bt, p3, t3))
    check_fs_clients_freed(r)


fs_lines_test(10, "leakcheck: spawned programs give back every page (second run)",
              "leakcheck", ["leakcheck: all OK"])
