//! JOS error codes.
//!
//! System calls return a negative error code in `eax` on failure (`-E_INVAL`
//! and so on) and a non-negative value on success. [`Error`] holds the
//! positive JOS number as its discriminant; [`Error::code`] gives the negative
//! value that crosses the boundary, [`Error::from_code`] turns it back.

use core::fmt;

/// A JOS error. The discriminant is JOS's positive `E_*` number.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// `E_UNSPECIFIED`: unspecified or unknown problem.
    Unspecified = 1,
    /// `E_BAD_ENV`: environment doesn't exist or otherwise cannot be used in
    /// the requested action.
    BadEnv = 2,
    /// `E_INVAL`: invalid parameter.
    Inval = 3,
    /// `E_NO_MEM`: request failed due to memory shortage.
    NoMem = 4,
    /// `E_NO_FREE_ENV`: attempt to create a new environment beyond the
    /// maximum allowed.
    NoFreeEnv = 5,
    /// `E_FAULT`: memory fault.
    Fault = 6,
    /// `E_IPC_NOT_RECV`: attempt to send to an env that is not receiving.
    IpcNotRecv = 7,
    /// `E_EOF`: unexpected end of file.
    Eof = 8,
    /// `E_NO_DISK`: no free space left on disk.
    NoDisk = 9,
    /// `E_MAX_OPEN`: too many files are open.
    MaxOpen = 10,
    /// `E_NOT_FOUND`: file or block not found.
    NotFound = 11,
    /// `E_BAD_PATH`: bad path.
    BadPath = 12,
    /// `E_FILE_EXISTS`: file already exists.
    FileExists = 13,
    /// `E_NOT_EXEC`: file is not a valid executable.
    NotExec = 14,
    /// `E_NOT_SUPP`: file system operation not supported.
    NotSupp = 15,
    /// `E_AGAIN`: not now, try again (a full transmit ring, no frame
    /// received yet).
    Again = 16,
    /// `E_CONN_REFUSED` (ours, for the network): nobody listens there.
    ConnRefused = 17,
    /// `E_CONN_RESET` (ours): the connection was reset or timed out.
    ConnReset = 18,
    /// `E_ADDR_IN_USE` (ours): the address or port is taken.
    AddrInUse = 19,
    /// `E_NOT_CONN` (ours): the socket is not connected (or listening).
    NotConn = 20,
}

/// The largest JOS error number (`MAXERROR`).
pub const MAXERROR: i32 = 20;

/// `Result` with a JOS [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// Every error, in numerical order (`ALL[i]` has number `i + 1`).
    pub const ALL: [Error; MAXERROR as usize] = [
        Error::Unspecified,
        Error::BadEnv,
        Error::Inval,
        Error::NoMem,
        Error::NoFreeEnv,
        Error::Fault,
        Error::IpcNotRecv,
        Error::Eof,
        Error::NoDisk,
        Error::MaxOpen,
        Error::NotFound,
        Error::BadPath,
        Error::FileExists,
        Error::NotExec,
        Error::NotSupp,
        Error::Again,
        Error::ConnRefused,
        Error::ConnReset,
        Error::AddrInUse,
        Error::NotConn,
    ];

    /// Returns the negative value that a system call returns for this error
    /// (e.g. -3 for [`Error::Inval`]).
    pub const fn code(self) -> i32 {
        -(self as i32)
    }

    /// Returns the error whose [`code`](Error::code) is `code` (a negative
    /// number, e.g. -3 gives [`Error::Inval`]).
    ///
    /// Returns `None` for 0, positive numbers and unknown negative codes.
    pub const fn from_code(code: i32) -> Option<Error> {
        // A match, not a lookup in `ALL`: each number is its variant's
        // discriminant, so the compiler makes this a range check and no
        // table (it is inlined wherever a system call's result is decoded).
        Some(match code.wrapping_neg() {
            1 => Error::Unspecified,
            2 => Error::BadEnv,
            3 => Error::Inval,
            4 => Error::NoMem,
            5 => Error::NoFreeEnv,
            6 => Error::Fault,
            7 => Error::IpcNotRecv,
            8 => Error::Eof,
            9 => Error::NoDisk,
            10 => Error::MaxOpen,
            11 => Error::NotFound,
            12 => Error::BadPath,
            13 => Error::FileExists,
            14 => Error::NotExec,
            15 => Error::NotSupp,
            16 => Error::Again,
            17 => Error::ConnRefused,
            18 => Error::ConnReset,
            19 => Error::AddrInUse,
            20 => Error::NotConn,
            _ => return None,
        })
    }

    /// Returns JOS's message for this error (as printed by `%e`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Unspecified => "unspecified error",
            Error::BadEnv => "bad environment",
            Error::Inval => "invalid parameter",
            Error::NoMem => "out of memory",
            Error::NoFreeEnv => "out of environments",
            Error::Fault => "segmentation fault",
            Error::IpcNotRecv => "env is not recving",
            Error::Eof => "unexpected end of file",
            Error::NoDisk => "no free space on disk",
            Error::MaxOpen => "too many files are open",
            Error::NotFound => "file or block not found",
            Error::BadPath => "invalid path",
            Error::FileExists => "file already exists",
            Error::NotExec => "file is not a valid executable",
            Error::NotSupp => "operation not supported",
            Error::Again => "resource temporarily unavailable",
            Error::ConnRefused => "connection refused",
            Error::ConnReset => "connection reset",
            Error::AddrInUse => "address in use",
            Error::NotConn => "socket not connected",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encodes a system call's result as the value returned in `eax`: `Ok(v)`
/// becomes `v`, `Err(e)` becomes `e.code()`.
///
/// Never fails; a successful value must be non-negative, or the caller would
/// read it as an error (debug assertion).
pub const fn ret_from_result(result: Result<i32>) -> i32 {
    match result {
        Ok(v) => {
            debug_assert!(v >= 0, "a successful syscall result must be non-negative");
            v
        }
        Err(e) => e.code(),
    }
}

/// Decodes a value returned in `eax` by a system call: non-negative values
/// are `Ok`, negative ones the matching error.
///
/// A negative value that is not a JOS error code decodes as
/// `Err(Error::Unspecified)`.
pub const fn result_from_ret(ret: i32) -> Result<i32> {
    if ret >= 0 {
        Ok(ret)
    } else {
        match Error::from_code(ret) {
            Some(e) => Err(e),
            None => Err(Error::Unspecified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_jos_numbers_negated() {
        assert_eq!(Error::Unspecified.code(), -1);
        assert_eq!(Error::BadEnv.code(), -2);
        assert_eq!(Error::Inval.code(), -3);
        assert_eq!(Error::NoMem.code(), -4);
        assert_eq!(Error::NoFreeEnv.code(), -5);
        assert_eq!(Error::Fault.code(), -6);
        assert_eq!(Error::IpcNotRecv.code(), -7);
        assert_eq!(Error::Eof.code(), -8);
        assert_eq!(Error::NotSupp.code(), -15);
        assert_eq!(Error::Again.code(), -16);
        for (i, e) in Error::ALL.iter().enumerate() {
            assert_eq!(*e as i32, i as i32 + 1);
        }
    }

    #[test]
    fn from_code_round_trips() {
        for e in Error::ALL {
            assert_eq!(Error::from_code(e.code()), Some(e));
        }
    }

    #[test]
    fn from_code_rejects_non_errors() {
        for c in [0, 1, 3, 16, 20, -21, -100, i32::MIN, i32::MAX] {
            assert_eq!(Error::from_code(c), None, "{c}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(Error::Unspecified.to_string(), "unspecified error");
        assert_eq!(Error::IpcNotRecv.to_string(), "env is not recving");
        assert_eq!(Error::NotExec.to_string(), "file is not a valid executable");
        assert_eq!(Error::NotSupp.as_str(), "operation not supported");
        // All distinct and non-empty.
        for (i, a) in Error::ALL.iter().enumerate() {
            assert!(!a.as_str().is_empty());
            for b in &Error::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn syscall_return_values() {
        assert_eq!(ret_from_result(Ok(0x1001)), 0x1001);
        assert_eq!(ret_from_result(Err(Error::NoMem)), -4);
        assert_eq!(result_from_ret(0), Ok(0));
        assert_eq!(result_from_ret(0x1001), Ok(0x1001));
        assert_eq!(result_from_ret(-7), Err(Error::IpcNotRecv));
        assert_eq!(result_from_ret(-99), Err(Error::Unspecified));
        assert_eq!(result_from_ret(i32::MIN), Err(Error::Unspecified));
        for e in Error::ALL {
            assert_eq!(result_from_ret(ret_from_result(Err(e))), Err(e));
        }
    }
}
