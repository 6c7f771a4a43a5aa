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
//! is gone; a frame never waits in them for long: output retries a full
//! transmit ring (yielding) until the card takes the frame, input polls
//! the receive ring (yielding) while it is empty.
pub mod inet;
mod input;
pub mod nsipc;
mod output;
pub mod sockets;

pub use abi::nsipc::NetAddr;
pub use input::input;
pub use output::{output, transmit};
pub use sockets::*;
