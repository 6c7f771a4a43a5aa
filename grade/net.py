"""Part I: the network (issue 23, in progress): the clock's testtime, the PCI
bus and the E1000's attach line. The driver's and the stack's tests come
here as they are built (see gradelib's docstring for the harness, checks.py
for the shared checks)."""

import os
import re
import socket
import threading

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


# --- The network server (ns, sockets over IPC) and its programs ---------

part("Part J: the network server")

NS_LINE = r"ns: 52:54:00:12:34:56 bound to static IP 10\.0\.2\.15/24 via 10\.0\.2\.2$"
NS_NEVER = [KERNEL_PANIC, USER_PANIC, ENV + r"user fault", UNHANDLED]


def _ports(run):
    """PORT7 and PORT80 of `run`'s QEMU (GDBPORT + 1, + 2)."""
    m = re.search(r"GDBPORT=(\d+)", " ".join(run.argv))
    return int(m.group(1)) + 1, int(m.group(1)) + 2


def net_client_run(prog, ready, client, timeout=30, **kw):
    """Boots `prog` with the network server; once a console line matches
    `ready`, calls client(port7, port80) on the host (its sockets go to
    127.0.0.1 only) and stops. Returns (run, what client returned); a
    client's exception fails the test after the run is saved."""
    state = {}

    def stop(run):
        if "done" in state:
            return True
        if any(re.match(ready, line) for line in run.lines):
            state["done"] = True
            try:
                state["result"] = client(*_ports(run))
            except Exception as e:  # noqa: BLE001: reported below
                state["error"] = e
            return True
        return False

    stop.__doc__ = "a line matching %s, then the host's client" % show(ready)
    r = run_prog(prog, stop=stop, timeout=timeout, make_vars={"PCAP": os.devnull}, **kw)
    require("error" not in state, "the host's client: %r" % state.get("error"))
    return r, state.get("result")


def _tcp_exchange(port, data, timeout=5):
    """Sends `data` to 127.0.0.1:port and reads until len(data) bytes came
    back or the peer closed; returns them."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    finally:
        s.close()


def _http_get(port, path, timeout=5):
    """GET `path` from 127.0.0.1:port (HTTP/1.0); returns (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.0 (\d+) ", head)
    require(m, "%s: no HTTP status line in %r" % (path, head[:80]))
    return int(m.group(1)), body


@test(10, "echosrv: the host's bytes come back")
def test_ns_echosrv():
    msgs = [b"%d: network server works" % os.getpid(), bytes(range(256)) * 20]

    def client(port7, _port80):
        return [_tcp_exchange(port7, m) for m in msgs] + [_tcp_exchange(port7, m) for m in msgs[:1]]

    r, got = net_client_run("echosrv", r"bound$", client)
    r.match(NS_LINE, r"opened socket$", r"bound$", ordered=True, no=NS_NEVER)
    require(got == msgs + msgs[:1], "echoed: %r" % [g[:40] for g in got])


@test(10, "httpd: index.html, a 90 KB program (mmap + sendpage), 404s")
def test_ns_httpd():
    index = open(os.path.join(ROOT, "fs", "index.html"), "rb").read()
    big = open(os.path.join(ROOT, "obj", "fs", "bin", "sh"), "rb").read()

    def client(_port7, port80):
        return [_http_get(port80, p) for p in ("/index.html", "/", "/random_file.txt", "/sh")]

    r, got = net_client_run("httpd", r"Waiting for http connections", client)
    r.match(NS_LINE, r"Waiting for http connections", ordered=True, no=NS_NEVER)
    require(got[0] == (200, index), "/index.html: %r" % ((got[0][0], got[0][1][:60]),))
    require(got[1][0] == 404 and got[2][0] == 404, "/ and /random_file.txt: %d, %d" % (got[1][0], got[2][0]))
    require(got[3][0] == 200 and got[3][1] == big,
            "/sh: status %d, %d bytes of %d, equal: %s" % (got[3][0], len(got[3][1]), len(big), got[3][1] == big))


# TCP (40 KB each way) and UDP through 127.0.0.1 and 10.0.2.15, no card.
prog_test(10, "netloop: sockets on one machine",
          "netloop", expect=[r"netloop: tcp ok$", r"netloop: udp ok$", r"netloop: all ok$"], never=NS_NEVER,
          ordered=True, stop=r"netloop: all ok$|.*panic", make_vars={"QEMUNET": "-nic none"})


def net_shell(commands, timeout=60, **kw):
    """The shell (icode, as `make qemu-nox`) with the network server;
    `commands` typed at its prompts."""
    return run_prog("icode", make_vars={"FS": "1", "NS": "1", "PCAP": os.devnull}, commands=commands,
                    prompt=SHELL_PROMPT, timeout=timeout, **kw)


# ping the gateway, udpecho to ourselves, tcpcat to a server on the host.
@test(10, "ping, udpecho, tcpcat from the shell")
def test_ns_tools():
    # A TCP server on the host (127.0.0.1), which the guest reaches as
    # 10.0.2.2 (QEMU's user network): tcpcat sends a line, the server
    # answers it upper-cased.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    hport = srv.getsockname()[1]
    seen = []

    def serve():
        try:
            c, _ = srv.accept()
            c.settimeout(10)
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            seen.append(data)
            c.sendall(data.upper())
            c.close()
        except OSError as e:
            seen.append(e)
        finally:
            srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = net_shell(["udpecho -s 7007 &",
                   "ping -c 3 10.0.2.2",
                   "udpecho 10.0.2.15 7007 one two",
                   "echo hello tcpcat | tcpcat 10.0.2.2 %d" % hport])
    t.join(10)
    r.command(1).match(r"PING 10\.0\.2\.2: 32 data bytes$", r"40 bytes from 10\.0\.2\.2: icmp_seq=0 time=\d+ ms$",
                       r"40 bytes from 10\.0\.2\.2: icmp_seq=2 time=\d+ ms$",
                       r"3 packets transmitted, 3 received$", ordered=True)
    r.command(2).match(r"reply from 10\.0\.2\.15:7007: one \(\d+ ms\)$",
                       r"reply from 10\.0\.2\.15:7007: two \(\d+ ms\)$", ordered=True)
    r.command(3).match(r"HELLO TCPCAT$")
    require(seen == [b"hello tcpcat\n"], "the host's server got %r" % seen)
    r.match(no=NS_NEVER)
