//! Formatted text written byte by byte to a raw address, as a C string
//! (faultalloc, faultallocbad: each byte may fault into a handler that maps
//! its page, so nothing is buffered and every store is volatile).

/// Writes `args` at `addr`, at most `max - 1` bytes of text and then a NUL.
///
/// # Safety
/// Every byte of [addr, addr + max) must be writable by the time it is
/// written (mapped, or mapped by the page-fault handler when the store
/// faults), and nothing else may use that memory.
pub unsafe fn write_cstr_at(addr: usize, max: usize, args: core::fmt::Arguments) {
    struct At {
        addr: usize,
        n: usize,
        room: usize,
    }
    impl At {
        fn put(&mut self, b: u8) {
            if self.n < self.room {
                // SAFETY: write_cstr_at's caller vouches for these bytes.
                unsafe { core::ptr::write_volatile((self.addr + self.n) as *mut u8, b) };
                self.n += 1;
            }
        }
    }
    impl core::fmt::Write for At {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            s.bytes().for_each(|b| self.put(b));
            Ok(())
        }
    }
    let mut w = At {
        addr,
        n: 0,
        room: max.saturating_sub(1),
    };
    let _ = core::fmt::Write::write_fmt(&mut w, args);
    w.room += 1;
    w.put(0);
}
