"""Part K: shared memory across machines (issue 24). Two machines (two
QEMUs on one UDP wire, grade/net.py's run_pair) run one program over one
shared range kept consistent by jos::dsm (IVY: one writer or many readers
per page). Each program runs in a child of the boot program, which counts
the free pages before and after (`NAME: no page leaked`)."""

import re

from .gradelib import *  # noqa: F401,F403 (the harness, as MIT's grade-labN)
from .checks import *  # noqa: F401,F403
from .net import NS_NEVER, run_pair, pair

part("Part K: shared memory across machines")

STATS = (r"%s: node %d: read faults (\d+), write faults (\d+), read ahead \d+, pages sent (\d+), "
         r"invalidations (\d+), retransmissions (\d+)$")
DSM_NEVER = NS_NEVER + [r"dsm: .*lost", r"dsm: cannot", r"dsm_attach:"]


def stats_of(r, prog, node):
    """The statistics line of machine `r` (node `node`), as numbers."""
    m = r.search(STATS % (prog, node))
    require(m is not None, "%s: no statistics of node %d" % (r.what, node))
    return [int(x) for x in m.groups()]


def check_dsm(p, prog, lines):
    """Both machines printed `lines(node)` in order, their statistics and
    `no page leaked`, and finished, with no error anywhere."""
    for node, r in enumerate(p):
        r.match(*lines(node), STATS % (prog, node), r"%s: no page leaked$" % prog, pair.DONE,
                ordered=True, no=DSM_NEVER)


def check_lossy(p):
    c = p.relay
    what = "relay: %s" % c
    require(c["a>b"]["dropped"] + c["b>a"]["dropped"] > 0, what + ": nothing dropped")
    require(c["a>b"]["duplicated"] + c["b>a"]["duplicated"] > 0, what + ": nothing duplicated")
    retrans = sum(stats_of(r, "dsmcount", node)[4] for node, r in enumerate(p))
    require(retrans > 0, "a lossy link and no retransmission")


def count_lines(n):
    return lambda node: [r"dsmcount: node %d of 2: adding %d$" % (node, n), r"dsmcount: node %d: halfway$" % node,
                         r"dsmcount: node %d: counter %d \(expected %d\) in \d+ ms$" % (node, 2 * n, 2 * n)]


# dsmcount: each machine adds 1 to a shared counter 40 times under a lock
# in the shared memory, sleeping 10 ms between additions (so the lock and
# its page go back and forth): the total is exactly 80 on both.
@test(10, "dsmcount: a counter under a lock in shared memory, two machines: exactly 2N on both")
def test_dsmcount():
    p = run_pair("dsmcount", kargs="n=40 think=10", name="dsmcount", timeout=90)
    check_dsm(p, "dsmcount", count_lines(40))
    # The page went back and forth: each machine faulted it in for writing.
    for node, r in enumerate(p):
        require(stats_of(r, "dsmcount", node)[1] >= 5, "node %d: too few write faults" % node)


# The same through scripts/relay.py dropping 1 frame in 10 and duplicating
# 1 in 20 each way: still exactly 2N, no page leaked, retransmissions.
@test(10, "dsmcount over a link losing 1 frame in 10, duplicating 1 in 20: exact, no leak")
def test_dsmcount_lossy():
    p = run_pair("dsmcount", kargs="n=30 think=10", relay="--drop 0.1 --dup 0.05 --seed 7",
                 name="dsmcount-lossy", timeout=120)
    check_dsm(p, "dsmcount", count_lines(30))
    check_lossy(p)


def matmul_lines(node, size, parties, checksum):
    lo, hi = node * size // parties, (node + 1) * size // parties
    return [r"dsmmatmul: node %d of %d: %dx%d$" % (node, parties, size, size),
            r"dsmmatmul: node %d: rows %d\.\.%d in \d+ ms; checksum %s$" % (node, lo, hi, checksum)]


# dsmmatmul: C = A x B (48x48 doubles), rows split between the machines,
# each machine's rows of C on pages of its own: every machine's checksum
# of the whole C is the one the same program computes on one machine.
@test(10, "dsmmatmul: a matrix product split across two machines has one machine's checksum")
def test_dsmmatmul():
    size = 48
    one = run_prog("dsmmatmul", kargs="exitdone size=%d" % size, make_vars={"FS": "1", "NS": "1"},
                   stop=r"%s|%s" % (pair.DONE, KERNEL_PANIC), timeout=60)
    one.match(*matmul_lines(0, size, 1, r"(-?\d+)"), r"dsmmatmul: no page leaked$", pair.DONE,
              ordered=True, no=DSM_NEVER)
    checksum = one.search(r"dsmmatmul: node 0: rows .* checksum (-?\d+)$").group(1)
    p = run_pair("dsmmatmul", kargs="size=%d" % size, name="dsmmatmul", timeout=90)
    check_dsm(p, "dsmmatmul", lambda node: matmul_lines(node, size, 2, re.escape(checksum)))
    # Machine 1 read A and B from machine 0.
    require(stats_of(p.b, "dsmmatmul", 1)[0] >= 2, "machine B: too few read faults")


# dsmpingpong: one page written by the machines in turn, 15 turns each:
# the ball ends at 30 on both, and each write took the page away from the
# other (invalidations, pages sent).
@test(10, "dsmpingpong: one page written in turn by two machines")
def test_dsmpingpong():
    p = run_pair("dsmpingpong", kargs="n=15", name="dsmpingpong", timeout=90)
    check_dsm(p, "dsmpingpong",
              lambda node: [r"dsmpingpong: node %d: ball 30 after 15 turns each, \d+ ms$" % node])
    sent = sum(stats_of(r, "dsmpingpong", node)[2] for node, r in enumerate(p))
    inval = sum(stats_of(r, "dsmpingpong", node)[3] for node, r in enumerate(p))
    require(sent >= 15 and inval >= 5, "pages sent %d, invalidations %d: no ping-pong" % (sent, inval))


# One machine killed halfway: machine B's QEMU dies once it has done half
# its additions; A reports the lost peer within the protocol's bound, its
# application says the shared memory is lost and exits, and A's program
# ends (its daemon and helpers gone, no page leaked).
@test(10, "dsmcount with machine B killed halfway: A reports the lost peer and exits cleanly")
def test_dsm_lost_peer():
    p = run_pair("dsmcount", kargs="n=200 think=10", kill_b=r"dsmcount: node 1: halfway", name="dsm-lost",
                 timeout=90)
    p.a.match(r"dsmcount: node 0 of 2: adding 200$",
              r"dsm: node 0: node 1 \(10\.0\.3\.2\) stopped answering: shared memory lost$",
              r"dsm: shared memory lost \(a peer stopped answering\) at 0x[0-9a-f]+: exiting$",
              r"dsmcount: no page leaked$", pair.DONE, ordered=True, no=NS_NEVER + [r"dsmcount: node 0: counter"])


# mydsm: the README's own handler over the range (registered after
# dsm_attach, asking the daemon through dsm_request) prints each write
# fault; each machine reads the word the other wrote.
@test(5, "mydsm: a student's own DSM fault handler (the README's) serves the range")
def test_mydsm():
    p = run_pair("mydsm", name="mydsm", timeout=60)
    for node, r in enumerate(p):
        r.match(r"mydsm: node %d reads %d from node %d$" % (node, 101 - node, 1 - node), pair.DONE,
                ordered=True, no=DSM_NEVER)
        # Node 0 starts with every page writable: its first write fault
        # may come after its read.
        r.match(r"write fault at 0xa000[0-9a-f]{4}$")
