//! The network (JOS's lab 6), for programs: BSD-style sockets served by
//! the network server over IPC.
//!
//! - `nsipc`: the requests (JOS's lib/nsipc.c), one function each.
//! - `sockets`: the socket calls (`socket`, `bind`, `listen`, `accept`,
//!   `connect`, `recv`, `send`, `sendto`, `recvfrom`, `shutdown`) and the
//!   socket device (`DEVSOCK`), so `read`, `write` and `close` work on a
//!   socket's descriptor (JOS's lib/sockets.c).
//! - `inet`: parsing and printing dotted addresses.
pub mod inet;
pub mod nsipc;
pub mod sockets;

pub use abi::nsipc::NetAddr;
pub use sockets::*;
