#!/usr/bin/env python3
"""Two machines in one command: boots PROG on two QEMUs wired to each other
(through scripts/relay.py when --relay is given), shows both consoles, each
line prefixed `A| ` or `B| `, until both programs have finished, then ends
both QEMUs and the relay. `make pair-<prog>-nox` runs it:

    make pair-netpair-nox
    make pair-netpair-nox RELAY="--drop 0.1 --dup 0.05" KARGS=lossy

Machine A is 10.0.3.1 (MAC 52:54:00:12:34:57), B 10.0.3.2 (...:58); each
runs with the network server (NS=1) and gets the kernel words
`ip=<its address>/24 gw=<the other> peer=<the other> exitdone`, then KARGS.
Each has an E1000 on `-netdev socket,udp=127.0.0.1:PEER,localaddr=
127.0.0.1:SELF`; PEER is the other machine's SELF, or, with a relay, the
relay's port for this machine.

When a program has finished: the kernel word `exitdone` makes the kernel
print `exitdone: the boot program and its envs have exited` once the boot
program and every env it started are gone (the network server and its
helpers never exit: see kern/src/done.rs) and reset the machine, which
ends QEMU (-no-reboot). A machine is finished at that line, at a kernel
panic (it then sits in the monitor), or when its QEMU ends; --until REGEX
also finishes a machine at a line of its own that matches.

--kill-b-after REGEX kills machine B's QEMU at the first line of B that
matches; --kill-b-at S kills it S seconds after it starts: a peer that
dies halfway.

Ports: A's GDB port is --gdbport (GDBPORT), B's GDBPORT+3; the wire's UDP
ports are GDBPORT+5 (A's own), +6 (B's own), +7 and +8 (the relay's for A
and for B). Captures go to obj/pair-a.pcap and obj/pair-b.pcap; the
relay's counts to obj/pair-relay.txt.

The exit status is 0 if both machines finished with the `exitdone` line
(B killed on request counts as finished), 1 otherwise. Grade tests use the
same wiring through grade/net.py's run_pair. Standard library only."""

import argparse
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELAY = os.path.join(ROOT, "scripts", "relay.py")

# The two machines: name, address, MAC.
MACHINES = (("a", "10.0.3.1", "52:54:00:12:34:57"), ("b", "10.0.3.2", "52:54:00:12:34:58"))
# The kernel's line once the boot program and its envs are gone (kern/src/done.rs).
DONE = r"exitdone: the boot program and its envs have exited"
PANIC = r".*kernel panic"
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_a-z])")


def machine_kargs(name, kargs=""):
    """The kernel words of machine `name` ("a" or "b"): its address, the
    other's as gateway and peer, exitdone, then `kargs` (the first of two
    words with one key wins, so these cannot be overridden by kargs)."""
    me = [m for m in MACHINES if m[0] == name][0]
    other = [m for m in MACHINES if m[0] != name][0]
    return ("ip=%s/24 gw=%s peer=%s exitdone %s" % (me[1], other[1], other[1], kargs)).strip()


def machine_make_vars(name, self_port, peer_port, kargs="", pcap=os.devnull):
    """make's variables for machine `name`: the network server, its MAC, its
    kernel words (machine_kargs), and a socket network that receives on
    127.0.0.1:self_port and sends to 127.0.0.1:peer_port."""
    mac = [m for m in MACHINES if m[0] == name][0][2]
    net = ("-netdev socket,id=net0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d "
           "-device e1000,netdev=net0,mac=%s -object filter-dump,id=dump0,netdev=net0,file=%s"
           % (peer_port, self_port, mac, pcap))
    return {"NS": "1", "MAC": mac, "KARGS": machine_kargs(name, kargs), "QEMUNET": net}


def wire_ports(base, relay):
    """{"a": (self, peer), "b": (self, peer)} and the relay's arguments (or
    None without one), from `base`, the first of four UDP ports: A's own,
    B's own, the relay's for A, the relay's for B."""
    pa, pb, ra, rb = base, base + 1, base + 2, base + 3
    if relay is None:
        return {"a": (pa, pb), "b": (pb, pa)}, None
    return {"a": (pa, ra), "b": (pb, rb)}, ["--listen-a", str(ra), "--to-a", str(pa),
                                            "--listen-b", str(rb), "--to-b", str(pb)]


def relay_argv(ports_args, relay, stats):
    """The relay's command line: its ports, the words of `relay` (a string,
    e.g. "--drop 0.1 --dup 0.05"), and --stats `stats`."""
    return [sys.executable, RELAY] + ports_args + shlex.split(relay) + ["--stats", stats]


def wait_ready(proc, timeout=10):
    """Reads the relay's `relay: ready` line; returns it (or fails)."""
    fd = proc.stdout.fileno()
    got = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in got:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            raise RuntimeError("the relay did not start in %d s" % timeout)
        d = os.read(fd, 4096)
        if not d:
            raise RuntimeError("the relay ended at its start: %r" % got)
        got += d
    line = got.decode(errors="replace").split("\n")[0]
    if not line.startswith("relay: ready"):
        raise RuntimeError("the relay said %r" % line)
    return line


def _kill(proc, sig=signal.SIGKILL):
    """Sends `sig` to `proc`'s process group (make and its QEMU)."""
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass


class Machine:
    """One QEMU (make run-PROG-nox) whose console is shown prefixed."""

    def __init__(self, name, argv):
        self.name = name
        self.argv = argv
        self.proc = None
        self.buf = b""
        self.lines = []
        self.state = None  # None running; "done", "panic", "until", "killed", "exited", "timeout"
        self.t0 = self.t1 = None

    def start(self):
        """Starts its make (and QEMU), in a process group of its own."""
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def end(self, state):
        """Records how it ended (the first reason given) and kills it."""
        if self.state is None:
            self.state = state
            self.t1 = time.monotonic()
        _kill(self.proc)


def run(args):
    """Boots both machines and shows their consoles until both finish;
    returns the exit status."""
    base = args.gdbport + 5
    ports, relay_ports = wire_ports(base, args.relay)
    obj = os.path.join(ROOT, "obj")
    os.makedirs(obj, exist_ok=True)
    out = sys.stdout
    relay = None
    if relay_ports is not None:
        stats = os.path.join(obj, "pair-relay.txt")
        relay = subprocess.Popen(relay_argv(relay_ports, args.relay, stats), cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        out.write("relay| %s\n" % wait_ready(relay))
    machines = []
    for (name, ip, _mac), gdb in zip(MACHINES, (args.gdbport, args.gdbport + 3)):
        mv = machine_make_vars(name, ports[name][0], ports[name][1], args.kargs,
                               pcap=os.path.join(obj, "pair-%s.pcap" % name))
        argv = ["make", "-s", "--no-print-directory", "CARGO=true", "run-%s-nox" % args.prog,
                "GDBPORT=%d" % gdb] + ["%s=%s" % kv for kv in mv.items()] + args.make
        out.write("pair: machine %s is %s (%s)\n" % (name.upper(), ip, mv["KARGS"]))
        machines.append(Machine(name, argv))
    out.flush()
    for m in machines:
        m.start()
    deadline = time.monotonic() + args.timeout
    try:
        while any(m.state is None or m.proc.poll() is None for m in machines):
            now = time.monotonic()
            if now > deadline:
                for m in machines:
                    m.end("timeout")
            b = machines[1]
            if args.kill_b_at is not None and b.state is None and now - b.t0 >= args.kill_b_at:
                out.write("pair: killing machine B (%.1f s)\n" % (now - b.t0))
                b.end("killed")
            fds = {m.proc.stdout.fileno(): m for m in machines if m.proc.stdout and not m.proc.stdout.closed}
            if not fds:
                time.sleep(0.05)
                continue
            ready, _, _ = select.select(list(fds), [], [], 0.2)
            for fd in ready:
                m = fds[fd]
                data = os.read(fd, 65536)
                if not data:
                    m.proc.stdout.close()
                    m.proc.wait()
                    if m.buf:
                        data = b"\n"
                    else:
                        m.end("exited")
                        continue
                m.buf += data
                *whole, m.buf = m.buf.split(b"\n")
                for raw in whole:
                    line = _ANSI.sub("", raw.decode(errors="replace")).rstrip("\r")
                    m.lines.append(line)
                    out.write("%s| %s\n" % (m.name.upper(), line))
                    if m.state is not None:
                        continue
                    if re.match(DONE, line):
                        m.end("done")
                    elif re.match(PANIC, line):
                        m.end("panic")
                    elif args.until and re.match(args.until, line):
                        m.end("until")
                    elif m.name == "b" and args.kill_b_after and re.match(args.kill_b_after, line):
                        out.write("pair: killing machine B\n")
                        m.end("killed")
                if m.proc.stdout.closed and m.state is None:
                    m.end("exited")
            out.flush()
    except KeyboardInterrupt:
        for m in machines:
            m.end("interrupted")
    finally:
        for m in machines:
            if m.proc:
                _kill(m.proc)
                m.proc.wait()
        if relay is not None:
            _kill(relay, signal.SIGTERM)
            try:
                _, err = relay.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                _kill(relay)
                _, err = relay.communicate()
            for line in err.decode(errors="replace").splitlines():
                out.write("relay| %s\n" % line)
    for m in machines:
        out.write("pair: machine %s: %s after %.1f s\n" % (m.name.upper(), m.state, (m.t1 or m.t0) - m.t0))
    out.flush()
    a, b = machines
    ok = a.state in ("done", "until") and b.state in ("done", "until", "killed")
    return 0 if ok else 1


def parse_args(argv):
    """The command line: PROG, options, then make variables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prog", help="the program both machines run (user/*/src/bin/PROG.rs)")
    ap.add_argument("--kargs", default="", help="more kernel words for both machines (e.g. n=1000)")
    ap.add_argument("--relay", default=None, metavar="ARGS",
                    help='put scripts/relay.py between the machines with these options ("" for none)')
    ap.add_argument("--until", default=None, metavar="REGEX",
                    help="a machine is also finished at a line of its own that matches")
    ap.add_argument("--kill-b-after", default=None, metavar="REGEX",
                    help="kill machine B at its first line that matches")
    ap.add_argument("--kill-b-at", type=float, default=None, metavar="S",
                    help="kill machine B S seconds after it starts")
    ap.add_argument("--timeout", type=float, default=300, metavar="S",
                    help="end both machines after S seconds (default 300)")
    ap.add_argument("--gdbport", type=int, default=int(os.environ.get("GDBPORT") or 26000),
                    help="A's GDB port; B's is 3 more, the wire's ports 5 to 8 more")
    ap.add_argument("make", nargs="*", metavar="VAR=VALUE", help="more make variables for both (e.g. CPUS=2)")
    args = ap.parse_intermixed_args(argv)
    if args.relay is not None and not args.relay.strip():
        args.relay = ""
    return args


if __name__ == "__main__":
    sys.exit(run(parse_args(sys.argv[1:])))
