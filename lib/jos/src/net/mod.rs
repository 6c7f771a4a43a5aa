//! The network's user-level helpers (JOS's net/input.c and net/output.c,
//! lab 6): the two environments a network server forks to move frames
//! between itself and the E1000, whose driver is in the kernel
//! (`sys_net_try_transmit`, `sys_net_try_receive`).
//!
//! ```text
//!   server --ipc NSREQ_OUTPUT (a jif_pkt page)--> output --transmit--> card
//!   card --receive--> input --ipc NSREQ_INPUT (a fresh jif_pkt page)--> server
//! ```
//!
//! Use (a server, or a test standing in for one, as JOS's testinput):
//!
//! ```ignore
//! let ns = jos::env::thisenv_id();
//! match jos::fork()? { 0 => { jos::net::output(ns); jos::exit() } _ => {} }
//! match jos::fork()? { 0 => { jos::net::input(ns); jos::exit() } _ => {} }
//! // then: ipc_send(output, NSREQ_OUTPUT, page, P|U|W) to send a frame,
//! // ipc_recv(Some(REQVA)) for NSREQ_INPUT from the input env.
//! ```
//!
//! The page layout (`jif_pkt`), the request numbers and the helpers'
//! addresses are in abi::net. Both helpers return only once the server
//! is gone, and neither spins while the network is idle: input waits in
//! the kernel for a frame (sys_net_receive, woken by the card's receive
//! interrupt), output in IPC for the server's next request. Output
//! retries a full transmit ring, yielding, until the card takes the
//! frame (QEMU's card never lets it fill: see the README's "Network").
mod input;
mod output;

pub use input::{input, receive};
pub use output::{output, transmit};
