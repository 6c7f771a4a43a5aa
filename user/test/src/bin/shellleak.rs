// make: FS=1
//! shellleak: the shell gives back every page. Makes the console its
//! descriptors 0 and 1, starts `leakcheck sh shellleak.sh` (the script
//! runs pipes, redirections, lists, quotes and a background job; leakcheck
//! runs it twice and compares free pages before and after the second run)
//! and exits, so that leakcheck, which waits for every other env to be
//! gone, is not kept waiting for us.
#![no_std]
#![no_main]

jos::main!(umain);

fn umain(_argv: &[&str]) {
    let _ = jos::fd::close(0);
    let _ = jos::fd::close(1);
    let _ = jos::console::opencons();
    let _ = jos::console::opencons();
    if let Err(e) = jos::spawnl!("/leakcheck", "leakcheck", "sh", "shellleak.sh") {
        panic!("spawn leakcheck: {e}");
    }
}
