//! RESP request parsing (multibulk and inline), bounded by [`Limits`].
//!
//! The parser is a pure function over a byte slice: it reports the argument
//! ranges of one complete request and how many bytes it consumed, or that the
//! request is incomplete (`Ok(None)`), or that the stream is malformed and cannot
//! be resynchronised (`Err`, after which the connection must send the error and
//! close). It never copies argument bytes; the caller slices its own buffer.

use std::ops::Range;

/// Bounds that keep one client from exhausting the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest bulk string accepted (`proto-max-bulk-len`, Redis default 512 MB).
    pub max_bulk_len: usize,
    /// Largest multibulk element count accepted (Redis: 1024*1024*1024 - 1).
    pub max_multibulk_len: usize,
    /// Largest inline request line (Redis: 64 KB).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024 * 1024 - 1,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A malformed request. `message` is Redis's text after `ERR ` — e.g.
/// `Protocol error: invalid bulk length` — so the reply is `-ERR {message}\r\n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

/// How one request was written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Multibulk,
    Inline,
}

/// Parse one request from the front of `buf`.
///
/// On success with a complete request, clears `args`, pushes the byte range of
/// each argument (ranges index into `buf`) and returns `Ok(Some((consumed, kind)))`.
/// An empty request (`*0\r\n`, `*-1\r\n`, or an empty inline line) returns
/// `Ok(Some((consumed, kind)))` with `args` empty: the caller skips it silently,
/// as Redis does. `Ok(None)` means more bytes are needed (nothing consumed).
/// Inline requests split on spaces/tabs and honour Redis's quoting rules
/// ("..." with \n \r \t \b \a \\ \" \xHH escapes, '...' with \' escape);
/// a quoted argument's *unescaped* bytes cannot be a range into `buf`, so inline
/// arguments that needed unescaping are returned through `owned` instead: for
/// inline requests `args` holds ranges only when no argument needed unescaping,
/// otherwise `args` is empty and `owned` holds every argument.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    owned: &mut Vec<Vec<u8>>,
) -> Result<Option<(usize, RequestKind)>, ParseError> {
    let _ = (buf, limits, args, owned);
    todo!("protocol helper")
}
