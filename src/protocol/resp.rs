//! RESP request parsing (multibulk and inline), bounded by [`Limits`].
//!
//! [`RequestParser`] reports the argument ranges of one complete request and
//! how many bytes it consumed, or that the request is incomplete (`Ok(None)`),
//! or that the stream is malformed and cannot be resynchronised (`Err`, after
//! which the connection must send the error and close). It never copies
//! argument bytes; the caller slices its own buffer. A request that arrives in
//! pieces is resumed where the last call stopped — arguments already parsed
//! and lines already searched are not looked at again — so the work is linear
//! in the bytes received however they are split (a two-million-argument
//! request trickling in 8 KB pieces once cost seconds of re-parsing).
//! [`parse_request`] is the same parser from a fresh start, for one-shot use.
//!
//! This file owns the request framing: which kind of request starts the
//! buffer, the multibulk `*`/`$` lines and bulk bodies, the [`Limits`], and
//! where an unfinished request stopped. It hands a complete inline line to
//! [`super::inline`] to split, and takes its error texts from
//! [`super::error`]; it never encodes replies and never runs a command.

use std::ops::Range;

use super::ascii::{find_byte, parse_i64};
use super::error::{
    perr, ParseError, INVALID_BULK, INVALID_MBULK, TOO_BIG_BULK, TOO_BIG_INLINE, TOO_BIG_MBULK,
    UNAUTH_BULK, UNAUTH_MBULK,
};
use super::inline::parse_inline_line;

/// Bounds that keep one client from exhausting the server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest bulk string accepted (`proto-max-bulk-len`, Redis default 512 MB).
    pub max_bulk_len: usize,
    /// Largest multibulk element count accepted (Redis: 1024*1024*1024 - 1).
    pub max_multibulk_len: usize,
    /// Largest inline request line (Redis: 64 KB).
    pub max_inline_len: usize,
    /// The client has yet to authenticate while a password is required: Redis 7
    /// then refuses a multibulk count over [`UNAUTH_MAX_MULTIBULK`] and a bulk
    /// over [`UNAUTH_MAX_BULK`] bytes, so a stranger cannot make the server
    /// buffer much.
    pub unauthenticated: bool,
}

/// Largest multibulk count accepted before AUTH (Redis 7).
pub const UNAUTH_MAX_MULTIBULK: u64 = 10;
/// Largest bulk accepted before AUTH (Redis 7).
pub const UNAUTH_MAX_BULK: u64 = 16384;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024 * 1024 - 1,
            max_inline_len: 64 * 1024,
            unauthenticated: false,
        }
    }
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
    let mut p = RequestParser {
        args: std::mem::take(args),
        owned: std::mem::take(owned),
        state: Progress::default(),
    };
    let result = p.parse(buf, limits);
    if !matches!(result, Ok(Some(_))) {
        // Only a complete request leaves arguments behind; a partial parse must
        // not be mistaken for one by a caller that looks at `args` anyway.
        p.args.clear();
        p.owned.clear();
    }
    *args = p.args;
    *owned = p.owned;
    result
}

/// Where a request that has not fully arrived stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// Arguments still expected once a multibulk header was read.
    left: Option<u64>,
    /// Where the next unparsed part (header, `$` line, bulk) starts.
    pos: usize,
    /// How far the search for the line end of the part at `pos` got.
    scanned: usize,
    /// Where the bulk being received ends (after its CRLF), once its `$`
    /// line is in: lets the caller size its buffer for it at once.
    bulk_end: usize,
}

/// A parser that resumes a request arriving in pieces (see the module doc).
///
/// Contract: between calls that return `Ok(None)`, the buffer may only grow at
/// its end. After `Ok(Some((consumed, _)))` the arguments are in [`Self::args`]
/// (ranges into the buffer) or, for an inline request that needed unescaping,
/// in [`Self::owned`] (as [`parse_request`] describes); the caller then drops
/// `consumed` bytes from the front before the next call. After an `Err` the
/// connection must close: the parser is not reset.
#[derive(Debug, Default)]
pub struct RequestParser {
    pub args: Vec<Range<usize>>,
    pub owned: Vec<Vec<u8>>,
    state: Progress,
}

impl RequestParser {
    pub fn new() -> RequestParser {
        RequestParser::default()
    }

    /// True when part of a request has been parsed and the rest is awaited.
    pub fn is_mid_request(&self) -> bool {
        self.state != Progress::default()
    }

    /// The buffer length at which the bulk being received is complete, when
    /// its `$` line has arrived (0 otherwise). A connection reserves that
    /// much at once for a large value, instead of growing its buffer by
    /// doubling (and copying) many times on the way.
    pub fn bulk_end(&self) -> usize {
        self.state.bulk_end
    }

    /// Parse (or go on parsing) the request at the front of `buf`.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, RequestKind)>, ParseError> {
        if self.state.left.is_none() && self.state.pos == 0 {
            // A new request: forget the last one's arguments.
            self.args.clear();
            self.owned.clear();
        }
        let result = match buf.first() {
            None => Ok(None),
            Some(b'*') => self.multibulk(buf, limits),
            Some(_) => self.inline(buf, limits),
        };
        if matches!(result, Ok(Some(_))) {
            self.state = Progress::default();
        }
        result
    }

    fn multibulk(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, RequestKind)>, ParseError> {
        let st = &mut self.state;
        let left = match st.left {
            Some(n) => n,
            None => {
                let Some((count, next)) =
                    number_line(buf, 0, &mut st.scanned, TOO_BIG_MBULK, INVALID_MBULK)?
                else {
                    return Ok(None);
                };
                // Redis checks the upper bound before treating n <= 0 as an empty request.
                if count > 0 && count.unsigned_abs() > limits.max_multibulk_len as u64 {
                    return Err(perr(INVALID_MBULK));
                }
                if count > 0
                    && limits.unauthenticated
                    && count.unsigned_abs() > UNAUTH_MAX_MULTIBULK
                {
                    return Err(perr(UNAUTH_MBULK));
                }
                if count <= 0 {
                    return Ok(Some((next, RequestKind::Multibulk)));
                }
                let count = count.unsigned_abs();
                self.args.reserve((count as usize).min(MAX_PREALLOC_ARGS));
                st.pos = next;
                st.scanned = next;
                st.left = Some(count);
                count
            }
        };
        for _ in 0..left {
            let pos = st.pos;
            let Some(&kind) = buf.get(pos) else {
                return Ok(None);
            };
            // Checked as soon as the byte is here (Redis waits for the CR first);
            // the outcome for any stream that eventually sends a CR is the same.
            if kind != b'$' {
                return Err(ParseError {
                    message: format!("Protocol error: expected '$', got '{}'", char::from(kind)),
                });
            }
            let Some((len, start)) =
                number_line(buf, pos, &mut st.scanned, TOO_BIG_BULK, INVALID_BULK)?
            else {
                return Ok(None);
            };
            if len < 0 || len.unsigned_abs() > limits.max_bulk_len as u64 {
                return Err(perr(INVALID_BULK));
            }
            if limits.unauthenticated && len.unsigned_abs() > UNAUTH_MAX_BULK {
                return Err(perr(UNAUTH_BULK));
            }
            // `len <= max_bulk_len`, a usize, so the conversion is lossless; a sum
            // that overflows cannot be in memory yet, i.e. the bulk is incomplete.
            let Some(end) = start.checked_add(len.unsigned_abs() as usize) else {
                return Ok(None);
            };
            // Bulk bodies are skipped by length, never scanned; the `$` line is
            // parsed again when its body is incomplete (at most 23 bytes).
            match buf.get(end) {
                None => {
                    st.bulk_end = end.saturating_add(2);
                    return Ok(None);
                }
                // Data that does not end in CRLF means the declared length does not
                // match what the client sent: report it as a bad bulk length.
                Some(&b) if b != b'\r' => return Err(perr(INVALID_BULK)),
                Some(_) => {}
            }
            match buf.get(end + 1) {
                None => return Ok(None),
                Some(&b) if b != b'\n' => return Err(perr(INVALID_BULK)),
                Some(_) => {}
            }
            self.args.push(start..end);
            st.bulk_end = 0;
            st.pos = end + 2;
            st.scanned = st.pos;
            st.left = Some(st.left.unwrap_or(1) - 1);
        }
        Ok(Some((st.pos, RequestKind::Multibulk)))
    }

    fn inline(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, RequestKind)>, ParseError> {
        let st = &mut self.state;
        let limit = limits.max_inline_len.saturating_add(1).min(buf.len());
        let from = st.scanned.min(limit);
        let Some(newline) = find_byte(b'\n', &buf[from..limit]).map(|i| from + i) else {
            st.scanned = limit;
            return if buf.len() > limits.max_inline_len {
                Err(perr(TOO_BIG_INLINE))
            } else {
                Ok(None)
            };
        };
        parse_inline_line(buf, newline, &mut self.args, &mut self.owned)?;
        Ok(Some((newline + 1, RequestKind::Inline)))
    }
}

/// Redis's `PROTO_INLINE_MAX_SIZE`: how far we look for the CR that ends a
/// `*<count>` or `$<len>` line before declaring the line hopeless. A valid count
/// line is at most 21 bytes, but Redis waits this long, and so do we, so the
/// error a misbehaving client sees is the one it would get from Redis.
const MAX_COUNT_LINE: usize = 64 * 1024;

/// Upper bound on the `args` capacity reserved up front from a declared element
/// count: the count is client-controlled, so reserving it blindly would let
/// `*1000000000\r\n` allocate gigabytes before a single element arrives.
const MAX_PREALLOC_ARGS: usize = 1024;

/// Parse the `<type><number>\r\n` line whose type byte is at `pos`.
///
/// Returns the number and the index just past the `\r\n`, `Ok(None)` when the
/// line has not fully arrived, `Err(too_big)` when no CR shows up within
/// [`MAX_COUNT_LINE`] bytes and `Err(invalid)` when the line is not a number.
fn number_line(
    buf: &[u8],
    pos: usize,
    scanned: &mut usize,
    too_big: &str,
    invalid: &str,
) -> Result<Option<(i64, usize)>, ParseError> {
    let rest = &buf[pos..];
    // Most count lines are one or two digits (`*3`, `$5`, `$20`): those are
    // read without the search. Anything else (a leading zero, a sign, more
    // digits, a line not yet whole) takes the general path below.
    match *rest {
        [_, d @ b'0'..=b'9', b'\r', b'\n', ..] => return Ok(Some((i64::from(d - b'0'), pos + 4))),
        [_, a @ b'1'..=b'9', b @ b'0'..=b'9', b'\r', b'\n', ..] => {
            return Ok(Some((i64::from((a - b'0') * 10 + (b - b'0')), pos + 5)))
        }
        _ => {}
    }
    // The search resumes where the last call's stopped (`scanned`), and never
    // looks past MAX_COUNT_LINE, so a slow junk stream costs linear work.
    let limit = rest.len().min(MAX_COUNT_LINE + 1);
    let from = scanned.saturating_sub(pos).min(limit);
    let Some(cr) = find_byte(b'\r', &rest[from..limit]).map(|i| from + i) else {
        *scanned = pos + limit;
        return if rest.len() > MAX_COUNT_LINE {
            Err(perr(too_big))
        } else {
            Ok(None)
        };
    };
    // Validate the number before waiting for the LF so junk fails fast.
    let n = parse_i64(&rest[1..cr]).ok_or_else(|| perr(invalid))?;
    match rest.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((n, pos + cr + 2))),
        // Redis blindly skips the byte after CR; accepting `\rX` would silently
        // desynchronise, so treat it as the malformed number line it is.
        Some(_) => Err(perr(invalid)),
    }
}

#[cfg(test)]
pub(crate) mod tests;
