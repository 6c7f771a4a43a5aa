#!/usr/bin/env python3
"""A UDP relay between two QEMUs wired by `-netdev socket,udp=...`, which can
drop, duplicate, delay and reorder their frames.

QEMU's socket network sends each Ethernet frame as one UDP datagram to the
`udp=` address, and takes every datagram that reaches its `localaddr=` as a
frame. Two machines are wired to each other by giving each the other's
localaddr; to put this relay between them, give machine A
`udp=127.0.0.1:LISTEN_A` and machine B `udp=127.0.0.1:LISTEN_B`. A frame
that reaches LISTEN_A came from A and goes to A's peer, B (127.0.0.1:TO_B,
B's localaddr), and the other way round:

    python3 scripts/relay.py --listen-a 27117 --to-a 27115 \\
        --listen-b 27118 --to-b 27116 --drop 0.1 --dup 0.05 --seed 1

(scripts/pair.py starts it so for `make pair-<prog>-nox RELAY="..."`.)

Each frame is dropped with probability --drop; one not dropped is sent
twice with probability --dup. Each copy waits --delay ms plus a uniform
0..--jitter ms before it goes, so with jitter frames overtake each other.
--seed makes the choices repeat: each direction draws from its own
generator, so a direction's n-th frame meets the same fate whatever the
other direction does meanwhile.

It prints `relay: ready` on standard output once both ports are bound, and
at its end (SIGTERM, SIGINT, or --time seconds) the counts per direction,
one line each, on standard error, and in the file --stats names:

    a>b in=120 dropped=12 duplicated=5 sent=113
    b>a in=118 dropped=9 duplicated=6 sent=115

(`in` frames received, `sent` datagrams sent: in - dropped + duplicated,
less any still waiting for their delay at the end.) Only 127.0.0.1 is used.
Standard library only."""

import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time

HOST = "127.0.0.1"


def probability(s):
    """`s` as a float in [0, 1] (argparse's type for --drop and --dup)."""
    p = float(s)
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError("%s: not a probability (0 to 1)" % s)
    return p


def parse_args(argv):
    """The command line (see the module's docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-a", type=int, required=True, metavar="PORT",
                    help="the relay's port that machine A sends to (A's udp=)")
    ap.add_argument("--to-a", type=int, required=True, metavar="PORT",
                    help="machine A's own port (its localaddr=): B's frames go there")
    ap.add_argument("--listen-b", type=int, required=True, metavar="PORT",
                    help="the relay's port that machine B sends to (B's udp=)")
    ap.add_argument("--to-b", type=int, required=True, metavar="PORT",
                    help="machine B's own port (its localaddr=): A's frames go there")
    ap.add_argument("--drop", type=probability, default=0.0, metavar="P",
                    help="probability that a frame is dropped (default 0)")
    ap.add_argument("--dup", type=probability, default=0.0, metavar="P",
                    help="probability that a frame is sent twice (default 0)")
    ap.add_argument("--delay", type=float, default=0.0, metavar="MS",
                    help="every frame waits this long (default 0)")
    ap.add_argument("--jitter", type=float, default=0.0, metavar="MS",
                    help="and a further uniform 0..MS, so frames reorder (default 0)")
    ap.add_argument("--seed", type=int, default=None, metavar="N",
                    help="seed for the choices (default: a random one, printed)")
    ap.add_argument("--stats", metavar="FILE", help="also write the counts to FILE at the end")
    ap.add_argument("--time", type=float, default=None, metavar="S",
                    help="end after S seconds (default: at SIGTERM or SIGINT)")
    return ap.parse_args(argv)


class Direction:
    """One way through the relay: frames arriving on `sock` go to `dest`."""

    def __init__(self, name, sock, dest, rng):
        self.name = name
        self.sock = sock
        self.dest = dest
        self.rng = rng
        self.counts = {"in": 0, "dropped": 0, "duplicated": 0, "sent": 0}

    def line(self):
        """Its counts as one line: `a>b in=N dropped=N duplicated=N sent=N`."""
        return "%s %s" % (self.name, " ".join("%s=%d" % kv for kv in self.counts.items()))


class Stop(Exception):
    """Raised by the signal handler to end the loop."""


def _stop(_sig, _frame):
    raise Stop()


def relay(args):
    """Runs the relay until a signal or --time; returns the two Directions."""
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    socks = []
    for port in (args.listen_a, args.listen_b):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((HOST, port))
        s.setblocking(False)
        socks.append(s)
    # A's frames arrive on listen_a and go to B; they leave by B's socket.
    ab = Direction("a>b", socks[0], (HOST, args.to_b), random.Random(seed * 2))
    ba = Direction("b>a", socks[1], (HOST, args.to_a), random.Random(seed * 2 + 1))
    out_sock = {id(ab): socks[1], id(ba): socks[0]}
    by_sock = {socks[0].fileno(): ab, socks[1].fileno(): ba}
    pending = []  # heap of (due, serial, direction, frame)
    serial = 0
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("relay: ready (seed %d)" % seed, flush=True)
    end = time.monotonic() + args.time if args.time is not None else None
    try:
        while True:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            while pending and pending[0][0] <= now:
                _, _, d, frame = heapq.heappop(pending)
                try:
                    out_sock[id(d)].sendto(frame, d.dest)
                    d.counts["sent"] += 1
                except OSError:
                    pass  # the machine is not there (yet): a frame lost on the wire
            timeout = None
            if pending:
                timeout = max(0.0, pending[0][0] - now)
            if end is not None:
                timeout = max(0.0, end - now) if timeout is None else min(timeout, max(0.0, end - now))
            ready, _, _ = select.select(list(by_sock), [], [], timeout)
            for fd in ready:
                d = by_sock[fd]
                while True:
                    try:
                        frame = d.sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # e.g. ICMP port unreachable reported on this socket
                    d.counts["in"] += 1
                    if d.rng.random() < args.drop:
                        d.counts["dropped"] += 1
                        continue
                    copies = 1
                    if d.rng.random() < args.dup:
                        d.counts["duplicated"] += 1
                        copies = 2
                    for _ in range(copies):
                        wait = args.delay + (d.rng.uniform(0, args.jitter) if args.jitter else 0.0)
                        serial += 1
                        heapq.heappush(pending, (time.monotonic() + wait / 1000.0, serial, d, frame))
    except Stop:
        pass
    return ab, ba


def main(argv=None):
    """Runs the relay, then prints (and writes) its counts."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ab, ba = relay(args)
    text = "%s\n%s\n" % (ab.line(), ba.line())
    sys.stderr.write(text)
    sys.stderr.flush()
    if args.stats:
        with open(args.stats, "w") as f:
            f.write(text)
    return 0


def read_stats(path):
    """The counts a --stats file holds: {"a>b": {"in": N, ...}, "b>a": ...}."""
    stats = {}
    with open(path) as f:
        for line in f:
            words = line.split()
            if words:
                stats[words[0]] = {k: int(v) for k, v in (w.split("=") for w in words[1:])}
    return stats


if __name__ == "__main__":
    sys.exit(main())
