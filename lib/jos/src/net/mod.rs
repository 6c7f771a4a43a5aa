//! The network (JOS's lab 6), for programs and the network server.
//!
//! For programs: BSD-style sockets served by the network server over IPC.
//!
//! - `nsipc`: the requests (JOS's lib/nsipc.c), one function each.
//! - `sockets`: the socket calls (`socket`, `bind`, `listen`, `accept`,
//!   `connect`, `recv`, `send`, `sendto`, `recvfrom`, `sendpage`,
//!   `shutdown`) and the socket device (`DEVSOCK`), so `read`, `write` and
//!   `close` work on a socket's descriptor (JOS's lib/sockets.c).
//! - `inet`: parsing and printing dotted addresses.
//!
//! For the server: its input and output helpers (JOS's net/input.c and
//! net/output.c), the two environments a network server forks to move
//! frames between itself and the E1000, whose driver is in the kernel
//! (`sys_net_try_transmit`, `sys_net_try_receive`).
//!
//! ```text
//!   server --ipc NSREQ_OUTPUT (a jif_pkt page)--> output --transmit--> card
//!   card --receive--> input --ipc NSREQ_INPUT (a fresh jif_pkt page)--> server
//! ```
//!
//! The page layout (`jif_pkt`), the request numbers and the helpers'
//! addresses are in abi::net. Both helpers return only once the server
//! is gone, and neither spins while the network is idle: input waits in
//! the kernel for a frame (sys_net_receive, woken by the card's receive
//! interrupt), output in IPC for the server's next request. Output
//! retries a full transmit ring, yielding, until the card takes the
//! frame (QEMU's card never lets it fill: see the README's "Network").
pub mod inet;
mod input;
pub mod nsipc;
mod output;
pub mod sockets;

pub use abi::nsipc::NetAddr;
pub use input::{input, receive};
pub use output::{output, transmit};
pub use sockets::*;
