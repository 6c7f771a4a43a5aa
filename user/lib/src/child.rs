//! Children that run one function: the fork, run, exit of the test
//! programs (bigframe, nullderef, mmapfault, fstrust, stackoverflow,
//! pagerreview).
use abi::env::EnvId;

/// Forks a child that runs `f` and exits; returns the child's id (in
/// the parent: the child never returns). Panics if fork fails.
pub fn fork_child(f: impl FnOnce()) -> EnvId {
    match jos::fork() {
        Ok(0) => {
            f();
            jos::exit();
        }
        Ok(id) => id,
        Err(e) => panic!("fork: {e}"),
    }
}

/// Like [`fork_child`], then waits until the child is gone; returns its
/// id. Panics if fork fails.
pub fn run_child(f: impl FnOnce()) -> EnvId {
    let child = fork_child(f);
    jos::env::wait(child);
    child
}
