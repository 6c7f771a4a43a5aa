//! `printfmt`: the printf engine shared by the kernel's `cprintf!` and the
//! user library's `cprintf!`, like JOS's lib/printfmt.c.
//!
//! A format string is plain text with conversions of the form
//! `%[-][0][width][l|ll]conv`, where `conv` is one of
//!
//! | conv | argument | prints |
//! |---|---|---|
//! | `d` `i` | integer | signed decimal |
//! | `u` | integer | unsigned decimal |
//! | `x` `X` | integer | hex (32-bit two's complement for negative values) |
//! | `o` | integer | octal |
//! | `p` | integer | `0x` and 8 hex digits |
//! | `s` | string | the string |
//! | `c` | char / byte | one character |
//! | `e` | error code | JOS's error message for a negative code |
//! | `%` | none | a literal `%` |
//!
//! Arguments are passed as a slice of [`Arg`], built by the `cprintf!` macros
//! through `From` conversions, so a wrong argument count or type prints a
//! visible marker (`%!d(MISSING)`, `%!s(BADTYPE)`) instead of reading garbage
//! off the stack as C would.
#![cfg_attr(not(test), no_std)]

/// One argument to a formatted print.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A string.
    Str(&'a str),
    /// A character.
    Char(char),
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(v: $t) -> Self { Arg::Int(v as i64) }
        }
    )*};
}
macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg<'_> {
            fn from(v: $t) -> Self { Arg::Uint(v as u64) }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, isize);
from_unsigned!(u8, u16, u32, u64, usize);

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Str(s)
    }
}
impl<'a> From<&'a &'a str> for Arg<'a> {
    fn from(s: &'a &'a str) -> Self {
        Arg::Str(s)
    }
}
impl From<char> for Arg<'_> {
    fn from(c: char) -> Self {
        Arg::Char(c)
    }
}
impl From<bool> for Arg<'_> {
    fn from(b: bool) -> Self {
        Arg::Uint(b as u64)
    }
}
impl<T> From<*const T> for Arg<'_> {
    fn from(p: *const T) -> Self {
        Arg::Uint(p as usize as u64)
    }
}
impl<T> From<*mut T> for Arg<'_> {
    fn from(p: *mut T) -> Self {
        Arg::Uint(p as usize as u64)
    }
}

/// JOS's messages for the error codes 1..=15 (`%e` prints them).
const ERROR_STRINGS: [&str; 16] = [
    "",
    "unspecified error",
    "bad environment",
    "invalid parameter",
    "out of memory",
    "out of environments",
    "segmentation fault",
    "env is not recving",
    "unexpected end of file",
    "no free space on disk",
    "too many files are open",
    "file or block not found",
    "invalid path",
    "file already exists",
    "file is not a valid executable",
    "operation not supported",
];

/// A conversion's flags and width.
#[derive(Clone, Copy, Default)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
}

/// Formats `fmt` with `args`, handing each output byte to `put`.
///
/// Never fails: a missing argument prints `%!c(MISSING)`, an argument of the
/// wrong kind `%!c(BADTYPE)`, an unknown conversion is printed as written.
pub fn vprintfmt(put: &mut dyn FnMut(u8), fmt: &str, args: &[Arg]) {
    let bytes = fmt.as_bytes();
    let mut args = args.iter();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'%' {
            put(b);
            continue;
        }
        let start = i - 1;
        let mut spec = Spec::default();
        while i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'0') {
            if bytes[i] == b'-' {
                spec.left = true;
            } else {
                spec.zero = true;
            }
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            spec.width = spec.width.saturating_mul(10) + (bytes[i] - b'0') as usize;
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b'l' {
            i += 1;
        }
        let Some(&conv) = bytes.get(i) else {
            fmt[start..].bytes().for_each(&mut *put);
            return;
        };
        i += 1;
        if conv == b'%' {
            put(b'%');
            continue;
        }
        if !b"diuxXopsce".contains(&conv) {
            fmt[start..i].bytes().for_each(&mut *put);
            continue;
        }
        match args.next() {
            None => marker(put, conv, "MISSING"),
            Some(arg) => convert(put, spec, conv, arg),
        }
    }
}

/// Prints `%!c(WHAT)` for a conversion that could not be done.
fn marker(put: &mut dyn FnMut(u8), conv: u8, what: &str) {
    put(b'%');
    put(b'!');
    put(conv);
    put(b'(');
    what.bytes().for_each(&mut *put);
    put(b')');
}

/// Does one conversion of `arg`.
fn convert(put: &mut dyn FnMut(u8), spec: Spec, conv: u8, arg: &Arg) {
    // Integers are formatted into this buffer, right to left.
    let mut buf = [0u8; 24];
    let int = match *arg {
        Arg::Int(v) => Some(v as u64),
        Arg::Uint(v) => Some(v),
        _ => None,
    };
    let text: &[u8] = match conv {
        b'd' | b'i' => match *arg {
            Arg::Int(v) => signed(&mut buf, v),
            Arg::Uint(v) => unsigned(&mut buf, v, 10, false),
            _ => return marker(put, conv, "BADTYPE"),
        },
        b'u' | b'x' | b'X' | b'o' | b'p' => {
            let Some(mut v) = int else {
                return marker(put, conv, "BADTYPE");
            };
            // Negative values print as 32-bit two's complement, as on i386.
            if let Arg::Int(s) = *arg
                && s < 0
                && s >= i32::MIN as i64
            {
                v = s as i32 as u32 as u64;
            }
            let base = match conv {
                b'u' => 10,
                b'o' => 8,
                _ => 16,
            };
            if conv == b'p' {
                put(b'0');
                put(b'x');
                let spec = Spec {
                    zero: true,
                    width: 8,
                    left: false,
                };
                return pad(put, spec, unsigned(&mut buf, v, 16, false));
            }
            unsigned(&mut buf, v, base, conv == b'X')
        }
        b's' => match *arg {
            Arg::Str(s) => s.as_bytes(),
            _ => return marker(put, conv, "BADTYPE"),
        },
        b'c' => match *arg {
            Arg::Char(c) => c.encode_utf8(&mut buf).as_bytes(),
            Arg::Uint(v) if v < 256 => {
                buf[0] = v as u8;
                &buf[..1]
            }
            _ => return marker(put, conv, "BADTYPE"),
        },
        b'e' => {
            let code = match *arg {
                Arg::Int(v) => v.unsigned_abs(),
                Arg::Uint(v) => v,
                _ => return marker(put, conv, "BADTYPE"),
            };
            match ERROR_STRINGS.get(code as usize) {
                Some(s) if code != 0 => s.as_bytes(),
                _ => {
                    let spec = Spec { width: 0, ..spec };
                    "error ".bytes().for_each(&mut *put);
                    return pad(put, spec, unsigned(&mut buf, code, 10, false));
                }
            }
        }
        _ => unreachable!("conversion checked by the caller"),
    };
    pad(put, spec, text);
}

/// Prints `text` padded to the spec's width (zeros go after a sign).
fn pad(put: &mut dyn FnMut(u8), spec: Spec, text: &[u8]) {
    let fill = spec.width.saturating_sub(text.len());
    if spec.left {
        text.iter().for_each(|&b| put(b));
        (0..fill).for_each(|_| put(b' '));
    } else if spec.zero {
        let (sign, digits) = match text.first() {
            Some(b'-') => (&text[..1], &text[1..]),
            _ => (&text[..0], text),
        };
        sign.iter().for_each(|&b| put(b));
        (0..fill).for_each(|_| put(b'0'));
        digits.iter().for_each(|&b| put(b));
    } else {
        (0..fill).for_each(|_| put(b' '));
        text.iter().for_each(|&b| put(b));
    }
}

/// Writes `v` in `base` at the end of `buf`; returns the digits.
fn unsigned(buf: &mut [u8; 24], mut v: u64, base: u64, upper: bool) -> &[u8] {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = digits[(v % base) as usize];
        v /= base;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Writes `v` in decimal with its sign at the end of `buf`.
fn signed(buf: &mut [u8; 24], v: i64) -> &[u8] {
    let neg = v < 0;
    let len = unsigned(buf, v.unsigned_abs(), 10, false).len();
    let mut i = buf.len() - len;
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, args: &[Arg]) -> String {
        let mut out = Vec::new();
        vprintfmt(&mut |b| out.push(b), f, args);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_octal_line() {
        assert_eq!(
            fmt("%d decimal is %o octal!", &[6828.into(), 6828.into()]),
            "6828 decimal is 15254 octal!"
        );
    }

    #[test]
    fn widths_and_padding() {
        assert_eq!(fmt("%08x", &[0xbeefu32.into()]), "0000beef");
        assert_eq!(fmt("[%5d]", &[42.into()]), "[   42]");
        assert_eq!(fmt("[%-5d]", &[42.into()]), "[42   ]");
        assert_eq!(fmt("[%05d]", &[(-42).into()]), "[-0042]");
        assert_eq!(fmt("[%3s]", &["abcdef".into()]), "[abcdef]");
        assert_eq!(
            fmt("[%-4s|%4s]", &["ab".into(), "cd".into()]),
            "[ab  |  cd]"
        );
        assert_eq!(fmt("%04x", &[0x12345u32.into()]), "12345");
    }

    #[test]
    fn conversions() {
        assert_eq!(
            fmt("%u %d", &[u32::MAX.into(), i32::MIN.into()]),
            "4294967295 -2147483648"
        );
        assert_eq!(fmt("%x %X", &[255u8.into(), 255u8.into()]), "ff FF");
        assert_eq!(fmt("%x", &[(-1i32).into()]), "ffffffff");
        assert_eq!(fmt("%p", &[0xf0100000u32.into()]), "0xf0100000");
        assert_eq!(fmt("%p", &[0x20usize.into()]), "0x00000020");
        assert_eq!(fmt("%c%c", &['h'.into(), b'i'.into()]), "hi");
        assert_eq!(fmt("100%%", &[]), "100%");
        assert_eq!(
            fmt("%ld %lld %lx", &[1.into(), 2.into(), 3u64.into()]),
            "1 2 3"
        );
        assert_eq!(fmt("%o", &[0.into()]), "0");
    }

    #[test]
    fn errors() {
        assert_eq!(fmt("%e", &[(-4).into()]), "out of memory");
        assert_eq!(fmt("%e", &[(-99).into()]), "error 99");
    }

    #[test]
    fn bad_arguments_are_visible() {
        assert_eq!(fmt("%d %d", &[1.into()]), "1 %!d(MISSING)");
        assert_eq!(fmt("%s", &[1.into()]), "%!s(BADTYPE)");
        assert_eq!(fmt("%d", &["x".into()]), "%!d(BADTYPE)");
        assert_eq!(fmt("%q and %", &[]), "%q and %");
    }
}
