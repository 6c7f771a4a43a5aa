//! A small deterministic pseudo-random generator (xorshift32) for test
//! programs: the same seed gives the same sequence on every run, so a
//! failing run can be repeated.

/// A xorshift32 generator.
pub struct Rng(u32);

impl Rng {
    /// A generator starting from `seed` (0, which xorshift cannot leave, is
    /// replaced by a fixed non-zero seed).
    pub const fn new(seed: u32) -> Rng {
        Rng(if seed == 0 { 0x6828_1234 } else { seed })
    }

    /// The next 32-bit number.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A number in 0..n; panics if n is 0.
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }

    /// One of `choices`; panics if it is empty.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.below(choices.len() as u32) as usize]
    }
}
