// make: FS=1 NS=1
//! echosrv: JOS's TCP echo server on port 7: each connection, one at a
//! time, gets back every byte it sends until it closes. Prints JOS's
//! lines (`bound` once it listens, `Client connected: a.b.c.d` each time).
#![no_std]
#![no_main]

use abi::nsipc::{IPPROTO_TCP, PF_INET, SOCK_STREAM};
use jos::cprintf;
use jos::net::inet::Dotted;
use jos::net::{NetAddr, accept, bind, listen, recv, send, socket};

jos::main!(umain);

/// The port (the echo service's).
const PORT: u16 = 7;
/// Bytes received at once (JOS's BUFFSIZE).
const BUFFSIZE: usize = 32;
/// Connections waiting to be accepted.
const MAXPENDING: i32 = 5;

/// Says what failed and exits (JOS's `die`).
fn die(m: &str, e: abi::error::Error) -> ! {
    cprintf!("{}: {}\n", m, e);
    jos::exit();
}

/// Echoes what `sock` sends until it closes, then closes it.
fn handle_client(sock: usize) {
    let mut buf = [0u8; BUFFSIZE];
    loop {
        let n = match recv(sock, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                cprintf!("Failed to receive initial bytes from client: {}\n", e);
                break;
            }
        };
        if let Err(e) = send(sock, &buf[..n]) {
            cprintf!("Failed to send bytes to client: {}\n", e);
            break;
        }
    }
    let _ = jos::fd::close(sock);
}

fn umain(args: &[&str]) {
    // Frames over a page (buffers) grow the stack.
    if let Err(e) = jos::vm::enable_default_guards() {
        panic!("no stack growth: {e}");
    }
    run(args);
}

/// The program, once the stack can grow (a frame over a page).
#[inline(never)]
fn run(_args: &[&str]) {
    let server = socket(PF_INET, SOCK_STREAM, IPPROTO_TCP)
        .unwrap_or_else(|e| die("Failed to create socket", e));
    cprintf!("opened socket\n");
    cprintf!("trying to bind\n");
    if let Err(e) = bind(server, NetAddr::new([0; 4], PORT)) {
        die("Failed to bind the server socket", e);
    }
    if let Err(e) = listen(server, MAXPENDING) {
        die("Failed to listen on server socket", e);
    }
    cprintf!("bound\n");
    loop {
        let (client, peer) =
            accept(server).unwrap_or_else(|e| die("Failed to accept client connection", e));
        cprintf!("Client connected: {}\n", Dotted(peer.addr));
        handle_client(client);
    }
}
