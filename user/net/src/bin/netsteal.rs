// make: FS=1 NS=1
//! netsteal (review PoC): any env may call sys_net_try_receive, so an
//! ordinary env spinning on it takes the frames meant for the network
//! server: its ARP replies and TCP segments never reach it, and every
//! client's connection fails (here a TCP connect to the gateway's closed
//! port: refused at once without the thief, a timeout with it). The thief
//! also reads frames of other envs' connections. Seen on 1 CPU (the
//! default): with 2 CPUs under TCG the input helper, on the CPU that just
//! transmitted, usually polls first. The verdict: `netsteal: OK` (the
//! thief refused, the connect refused at once while it runs) or
//! `netsteal: BUG`.
#![no_std]
#![no_main]

use abi::nsipc::*;
use jos::cprintf;
use jos::net::{NetAddr, connect, socket};
use jos::syscall::{sys_env_destroy, sys_net_try_receive, sys_time_msec};

jos::main!(umain);

/// Connects to the gateway's closed port; returns whether the refusal
/// came within 2 s (QEMU's gateway answers a RST at once).
fn try_connect(what: &str) -> bool {
    let s = socket(PF_INET, SOCK_STREAM, 0).expect("socket");
    let t0 = sys_time_msec();
    let r = connect(s, NetAddr::new([10, 0, 2, 2], 9));
    let ms = sys_time_msec() - t0;
    cprintf!(
        "netsteal: {}: connect to 10.0.2.2:9: {:?} after {} ms\n",
        what,
        r,
        ms
    );
    let _ = jos::fd::close(s);
    r == Err(abi::error::Error::ConnRefused) && ms < 2000
}

fn umain(_args: &[&str]) {
    try_connect("no thief");
    match jos::fork() {
        Ok(0) => {
            let mut buf = [0u8; 1518];
            let mut n = 0u32;
            let mut other = 0u32;
            let mut refused = false;
            cprintf!("netsteal: thief {:08x} running\n", jos::env::thisenv_id());
            loop {
                let r = sys_net_try_receive(&mut buf);
                if r == Err(abi::error::Error::BadEnv) && !refused {
                    refused = true;
                    cprintf!("netsteal: thief refused: BadEnv\n");
                }
                if let Err(e) = r
                    && e != abi::error::Error::Again
                {
                    other += 1;
                    if other < 3 {
                        cprintf!("netsteal: thief: {:?}\n", e);
                    }
                }
                if let Ok(len) = r {
                    n += 1;
                    if n <= 5 {
                        cprintf!(
                            "netsteal: thief took a frame of {} bytes (ethertype {:02x}{:02x})\n",
                            len,
                            buf[12],
                            buf[13]
                        );
                    }
                }
            }
        }
        Ok(thief) => {
            jos::time::sleep_msec(100);
            let ok = try_connect("thief running");
            let _ = sys_env_destroy(thief);
            jos::time::sleep_msec(100);
            try_connect("thief gone");
            if ok {
                cprintf!("netsteal: OK: the thief took nothing from the server\n");
            } else {
                cprintf!("netsteal: BUG: the thief took the server's frames\n");
            }
        }
        Err(e) => cprintf!("netsteal: fork: {}\n", e),
    }
}
