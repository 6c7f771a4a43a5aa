//! The DSM programs' page count (dsmcount, dsmmatmul, dsmpingpong): the
//! program runs in a child (which becomes its DSM daemon, with the
//! application and helpers below it), and once they are all gone the
//! machine must have as many free pages as before.
use jos::net::{NetAddr, bind, socket};

/// Runs `f` in a child and waits for it and everything it made; then
/// prints `NAME: no page leaked`, or both counts of free pages.
///
/// Frames still on their way through the network server when we look
/// (the peer's last acknowledgements, say) hold pages for a moment: the
/// count is taken again every 100 ms, for up to 5 s, until it is back.
pub fn leak_checked(name: &str, f: impl FnOnce()) {
    use abi::nsipc::{IPPROTO_UDP, PF_INET, SOCK_DGRAM};
    // A socket like the daemon's, made and closed first: the network
    // server's own memory grows to what one needs, and stays.
    if let Ok(s) = socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP) {
        let _ = bind(s, NetAddr::new([0; 4], jos::dsm::DSM_PORT));
        let _ = jos::fd::close(s);
    }
    // And a child: our first fork gives us an exception stack and, at our
    // first copy-on-write fault, a page table for PFTEMP, for good.
    crate::child::run_child(|| {});
    let before = jos::uvpt::unreferenced_pages();
    crate::child::run_child(f);
    let mut after = jos::uvpt::unreferenced_pages();
    for _ in 0..50 {
        if after >= before {
            break;
        }
        jos::time::sleep_msec(100);
        after = jos::uvpt::unreferenced_pages();
    }
    if after == before {
        jos::cprintf!("{}: no page leaked\n", name);
    } else {
        jos::cprintf!("{}: {} pages free before, {} after\n", name, before, after);
    }
}
