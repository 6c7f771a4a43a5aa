#!/usr/bin/env python3
"""The network's figures (README, Network), measured: boots what each needs
(`make bench-net` runs this after `make`) and prints a table.

- httpd, requests/s: 16 host clients at once, each a loop of GET
  /index.html (HTTP/1.0: a connection a request) for --seconds s; counted
  are the whole 200 answers, and apart the connections refused or reset.
- httpd, a 1 MB file (six copies of /pagein and /sh, written by
  `cat` at the guest's shell first), through mmap + sendpage (`httpd`)
  and through read + send (`httpd -c`), each on a boot of its own: the
  host's time for the whole GET, best of -n, the bytes checked.
- echo round trip host <-> guest: 100 trips of 1 byte through echosrv
  (TCP, TCP_NODELAY on the host), after 5 not counted: median, min, max.
- TCP through echosrv: --echo-kb KiB sent while reading them back, on one
  connection: KB/s each way.
- UDP round trip between two machines: netpair's 200 echoes back to back
  (their total time in the guest over 200), on each machine at once, -n
  runs of scripts/pair.py; and its 20 echoes timed one by one (the
  guest's clock counts 10 ms ticks, and its timed receive looks every
  10 ms).
- TCP between two machines: pairtcp, A sends --pair-kb KiB to B (the
  receiver's count and time, in the guest), best of -n.

Every QEMU is one of this script's, on 127.0.0.1, with GDB ports from
--gdbport (default GDBPORT, else 27150) up to 29 above it. The load
average is printed at the start and at the end: on a shared machine, the
figures are worth what the load lets them be. Standard library only."""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE = ["make", "-s", "--no-print-directory", "CARGO=true"]
BIG_PARTS = ["pagein"] * 6 + ["sh"]  # /<name> (obj/fs/bin/<name>), concatenated into /big


class Guest:
    """One QEMU booted by make, its console read by a thread."""

    def __init__(self, target, gdbport, make_vars=()):
        self.gdbport = gdbport
        self.text = ""
        self.lock = threading.Lock()
        argv = MAKE + [target, "GDBPORT=%d" % gdbport, "PCAP=/dev/null"] + list(make_vars)
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        """The reader thread: the console into self.text."""
        while True:
            d = self.proc.stdout.read1(65536)
            if not d:
                return
            with self.lock:
                self.text += d.decode(errors="replace")

    def wait(self, regex, timeout=60, start=0):
        """Waits until the console (from offset `start`) shows `regex`;
        returns the match's end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                m = re.compile(regex, re.M).search(self.text, start)
            if m:
                return m.end()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("%s: no %r in %d s; the console ends with %r"
                           % (" ".join(self.proc.args[4:5]), regex, timeout, self.text[-400:]))

    def type(self, line):
        """Types `line` and a newline at the console."""
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stop(self):
        """Kills its make and QEMU."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


def shell_command(g, line, timeout=60):
    """Types `line` at the guest's shell and waits for the next prompt."""
    with g.lock:
        at = len(g.text)
    g.type(line)
    return g.wait(r"^\$ ", timeout, start=at)


def http_get(port, path, timeout=30):
    """GET `path` from 127.0.0.1:port; returns (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
        chunks = []
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            chunks.append(d)
    finally:
        s.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.0 (\d+) ", head)
    return (int(m.group(1)) if m else 0), body


def httpd_figures(args, gdbport, copy):
    """Boots the shell, writes /big, starts httpd (-c if `copy`); returns
    (best seconds for /big, its size, requests/s, refused or reset)."""
    g = Guest("run-icode-nox", gdbport, ["FS=1", "NS=1"])
    try:
        g.wait(r"^\$ ", 60)
        shell_command(g, "cat %s > /big" % " ".join("/" + p for p in BIG_PARTS), 120)
        g.type("httpd -c &" if copy else "httpd &")
        g.wait(r"Waiting for http connections", 30)
        port = gdbport + 2
        big = b"".join(open(os.path.join(ROOT, "obj", "fs", "bin", p), "rb").read() for p in BIG_PARTS)
        times = []
        for _ in range(args.n):
            t0 = time.monotonic()
            status, body = http_get(port, "/big")
            times.append(time.monotonic() - t0)
            if status != 200 or body != big:
                raise RuntimeError("/big: status %d, %d bytes of %d, equal %s"
                                   % (status, len(body), len(big), body == big))
        ok, bad = [0], [0]
        lock = threading.Lock()
        end = time.monotonic() + args.seconds

        def client():
            while time.monotonic() < end:
                try:
                    status, _ = http_get(port, "/index.html", timeout=10)
                    with lock:
                        (ok if status == 200 else bad)[0] += 1
                except OSError:
                    with lock:
                        bad[0] += 1
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rps = ok[0] / (time.monotonic() - t0)
        return min(times), len(big), rps, bad[0], times
    finally:
        g.stop()


def echo_figures(args, gdbport):
    """Boots echosrv; returns (RTT list in ms, KB/s each way)."""
    g = Guest("run-echosrv-nox", gdbport)
    try:
        g.wait(r"^bound", 60)
        port = gdbport + 1
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for i in range(105):
            t0 = time.monotonic()
            s.sendall(bytes([i]))
            if s.recv(1) != bytes([i]):
                raise RuntimeError("echosrv: a wrong byte back")
            rtts.append((time.monotonic() - t0) * 1000)
        del rtts[:5]  # warming up: the first waits for ARP and the connection
        s.close()
        data = bytes(range(256)) * (args.echo_kb * 4)
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        got = []
        t0 = time.monotonic()
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        n = 0
        while n < len(data):
            d = s.recv(1 << 16)
            if not d:
                break
            got.append(d)
            n += len(d)
        secs = time.monotonic() - t0
        sender.join()
        s.close()
        if b"".join(got) != data:
            raise RuntimeError("echosrv: %d bytes back of %d, or different" % (n, len(data)))
        return rtts, len(data) / 1024 / secs
    finally:
        g.stop()


def pair_run(gdbport, prog, kargs=""):
    """scripts/pair.py PROG; returns both machines' lines."""
    argv = [sys.executable, os.path.join(ROOT, "scripts", "pair.py"), prog, "--gdbport", str(gdbport),
            "--timeout", "120", "--kargs", kargs, "CARGO=true"]
    r = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise RuntimeError("pair.py %s failed:\n%s" % (prog, out[-1500:]))
    return out.splitlines()


def pair_udp(args, gdbport):
    """netpair's UDP round trips, -n runs: [(min, avg, max)] of its 20 timed
    trips (10 ms ticks) and [us] of its back-to-back trips, both machines'."""
    ticks, b2b = [], []
    for _ in range(args.n):
        for line in pair_run(gdbport, "netpair"):
            m = re.match(r"[AB]\| netpair: udp rtt min/avg/max (\d+)/(\d+)/(\d+) ms \(20 of 20\)", line)
            if m:
                ticks.append(tuple(int(x) for x in m.groups()))
            m = re.match(r"[AB]\| netpair: udp back to back: (\d+) trips in (\d+) ms \((\d+) us each\)", line)
            if m:
                b2b.append(int(m.group(3)))
    return ticks, b2b


def pair_tcp(args, gdbport):
    """pairtcp's receiver's (bytes, ms), -n runs."""
    rows = []
    for _ in range(args.n):
        for line in pair_run(gdbport, "pairtcp", "kb=%d" % args.pair_kb):
            m = re.match(r"B\| pairtcp: received (\d+) bytes from \S+ in (\d+) ms", line)
            if m:
                rows.append((int(m.group(1)), int(m.group(2))))
    return rows


def loadavg():
    """The 1, 5 and 15 minute load averages, as strings."""
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


def main():
    """Measures what --only says and prints the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=3, help="runs of each figure taken as best of n (default 3)")
    ap.add_argument("--clients", type=int, default=16, help="httpd's clients at once (default 16)")
    ap.add_argument("--seconds", type=float, default=5, help="how long they ask (default 5)")
    ap.add_argument("--echo-kb", type=int, default=256, help="KiB through echosrv (default 256)")
    ap.add_argument("--pair-kb", type=int, default=4096, help="KiB from A to B by pairtcp (default 4096)")
    ap.add_argument("--gdbport", type=int, default=int(os.environ.get("GDBPORT") or 27150))
    ap.add_argument("--only", default="httpd,echo,pair", help="which: httpd, echo, pair (default all)")
    args = ap.parse_args()
    only = args.only.split(",")
    load0 = loadavg()
    print("netbench: load average %s at the start; n = %d" % (" ".join(load0), args.n), flush=True)
    rows = []
    if "httpd" in only:
        for copy, port in ((False, args.gdbport), (True, args.gdbport + 10)):
            best, size, rps, bad, times = httpd_figures(args, port, copy)
            name = "httpd -c, read + send" if copy else "httpd, mmap + sendpage"
            rows.append(("%s, %d KB file" % (name, size // 1024),
                         "%.2f s, %.1f MB/s (%s s)" % (best, size / best / 1e6,
                                                       "-".join("%.2f" % t for t in (min(times), max(times))))))
            rows.append(("%s, /index.html, %d clients for %g s" % (name.split(",")[0], args.clients, args.seconds),
                         "%.0f requests/s (%d refused or reset)" % (rps, bad)))
            print("| %s | %s |\n| %s | %s |" % (rows[-2] + rows[-1]), flush=True)
    if "echo" in only:
        rtts, kbs = echo_figures(args, args.gdbport + 20)
        rows.append(("echo round trip host <-> guest (1 byte, TCP, echosrv, 100 trips)",
                     "median %.2f ms (%.2f-%.2f ms)" % (statistics.median(rtts), min(rtts), max(rtts))))
        rows.append(("TCP through echosrv, %d KiB up and back at once" % args.echo_kb,
                     "%.0f KB/s each way" % kbs))
        print("| %s | %s |\n| %s | %s |" % (rows[-2] + rows[-1]), flush=True)
    if "pair" in only:
        ticks, b2b = pair_udp(args, args.gdbport)
        if b2b:
            rows.append(("UDP round trip between two machines (netpair, 200 trips back to back, both machines at "
                         "once, %d runs x 2 machines)" % args.n,
                         "median %.2f ms (%.2f-%.2f ms)" % (statistics.median(b2b) / 1000, min(b2b) / 1000,
                                                           max(b2b) / 1000)))
            print("| %s | %s |" % rows[-1], flush=True)
        if ticks:
            rows.append(("the same, 20 trips each timed (the guest's 10 ms clock, a look every 10 ms)",
                         "min %d, avg %d-%d, max %d ms" % (min(u[0] for u in ticks), min(u[1] for u in ticks),
                                                          max(u[1] for u in ticks), max(u[2] for u in ticks))))
            print("| %s | %s |" % rows[-1], flush=True)
        tcp = pair_tcp(args, args.gdbport)
        if tcp:
            kbs = [b / 1024 / (ms / 1000) for b, ms in tcp]
            rows.append(("TCP between two machines (pairtcp, %d KiB A -> B, best of %d)" % (args.pair_kb, len(tcp)),
                         "%.0f KB/s (%s KB/s)" % (max(kbs), "-".join("%.0f" % k for k in (min(kbs), max(kbs))))))
            print("| %s | %s |" % rows[-1], flush=True)
    load1 = loadavg()
    print()
    print("Load average %s at the start, %s at the end; n = %d." % (" ".join(load0), " ".join(load1), args.n))
    print()
    print("| what | figure |")
    print("|---|---|")
    for what, fig in rows:
        print("| %s | %s |" % (what, fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
