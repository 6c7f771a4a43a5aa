//! Command-line flags (JOS's lib/args.c: `argstart`, `argnext`,
//! `argnextvalue`), getopt-style: flags come first, one or more per
//! argument (`-d -x` or `-dx`); the first argument that does not start
//! with `-`, a `-` alone, or `--` (dropped) ends them.
//!
//! ```ignore
//! let mut args = Argstate::new(argv);
//! while let Some(c) = args.next_flag() {
//!     match c {
//!         'n' => count = args.value(),   // `-n 5` or `-n5`
//!         'x' => echo = true,
//!         _ => usage(),
//!     }
//! }
//! for file in args.rest() { ... }
//! ```

/// Where flag parsing is (JOS's `struct Argstate`).
pub struct Argstate<'a> {
    /// The arguments after the program's name.
    args: &'a [&'a str],
    /// The first argument not consumed yet.
    next: usize,
    /// The rest of the flag argument being read; `None` once flags ended.
    cur: Option<&'a str>,
}

impl<'a> Argstate<'a> {
    /// Starts reading the flags of `argv` (as `umain` gets it: `argv[0]`
    /// is the program's name) (JOS's `argstart`).
    pub fn new(argv: &'a [&'a str]) -> Argstate<'a> {
        let args = argv.get(1..).unwrap_or(&[]);
        Argstate {
            args,
            next: 0,
            cur: (!args.is_empty()).then_some(""),
        }
    }

    /// The value of the flag just read (JOS's `argnextvalue`): the rest
    /// of its argument (`-n5`) or, if none, the next argument (`-n 5`).
    /// Returns `None` if there is none.
    pub fn value(&mut self) -> Option<&'a str> {
        let cur = self.cur?;
        if !cur.is_empty() {
            self.cur = Some("");
            Some(cur)
        } else if let Some(&v) = self.args.get(self.next) {
            self.next += 1;
            Some(v)
        } else {
            self.cur = None;
            None
        }
    }

    /// The arguments after the flags (JOS's `argv` once `argnext` has
    /// returned -1; complete only after that).
    pub fn rest(&self) -> &'a [&'a str] {
        &self.args[self.next.min(self.args.len())..]
    }

    /// Returns the next flag's letter (JOS's `argnext`), or `None` when
    /// the flags have ended.
    pub fn next_flag(&mut self) -> Option<char> {
        let mut cur = self.cur?;
        if cur.is_empty() {
            match self.args.get(self.next) {
                // (strip_prefix, not `&a[1..]`: a str slice that could
                // panic links core's char-boundary report, 3 KB with its
                // Unicode tables, into every program with flags.)
                Some(a) if a.len() > 1 && a.starts_with('-') => {
                    self.next += 1;
                    cur = a.strip_prefix('-').unwrap_or(a);
                    if cur == "-" {
                        self.cur = None;
                        return None;
                    }
                }
                _ => {
                    self.cur = None;
                    return None;
                }
            }
        }
        let mut chars = cur.chars();
        let c = chars.next()?;
        self.cur = Some(chars.as_str());
        Some(c)
    }
}
