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
pub(crate) mod tests {
    use super::*;

    use proptest::prelude::*;

    pub(crate) type Parsed = (usize, RequestKind, Vec<Vec<u8>>);

    /// Parse with `limits` and materialise the arguments the way the
    /// connection loop does (ranges when `owned` is empty, else `owned`).
    fn parse_with(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, String> {
        let mut args = vec![0..1, 5..7]; // stale junk must be cleared
        let mut owned = vec![b"stale".to_vec()];
        match parse_request(buf, limits, &mut args, &mut owned) {
            Err(e) => Err(e.message),
            Ok(None) => {
                assert!(args.is_empty() && owned.is_empty());
                Ok(None)
            }
            Ok(Some((consumed, kind))) => {
                assert!(consumed <= buf.len());
                assert!(
                    args.is_empty() || owned.is_empty(),
                    "both ranges and owned returned"
                );
                let vals = if owned.is_empty() {
                    args.iter().map(|r| buf[r.clone()].to_vec()).collect()
                } else {
                    owned
                };
                Ok(Some((consumed, kind, vals)))
            }
        }
    }

    fn parse(buf: &[u8]) -> Result<Option<Parsed>, String> {
        parse_with(buf, &Limits::default())
    }

    pub(crate) fn err(buf: &[u8]) -> String {
        match parse(buf) {
            Err(e) => e,
            other => panic!("expected error for {:?}, got {other:?}", buf),
        }
    }

    pub(crate) fn complete(buf: &[u8]) -> Parsed {
        match parse(buf) {
            Ok(Some(p)) => p,
            other => panic!("expected request for {:?}, got {other:?}", buf),
        }
    }

    pub(crate) fn bytes(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Every strict prefix of a valid request is incomplete.
    fn assert_prefixes_incomplete(buf: &[u8]) {
        for cut in 0..buf.len() {
            assert_eq!(
                parse(&buf[..cut]),
                Ok(None),
                "prefix {:?} of {:?}",
                String::from_utf8_lossy(&buf[..cut]),
                String::from_utf8_lossy(buf)
            );
        }
    }

    // ---- multibulk: happy paths ----

    #[test]
    fn simple_multibulk() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        assert_eq!(
            complete(buf),
            (
                buf.len(),
                RequestKind::Multibulk,
                bytes(&["SET", "k", "hello"])
            )
        );
    }

    #[test]
    fn multibulk_ranges_index_into_buffer() {
        let buf = b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n";
        let mut args = Vec::new();
        let mut owned = Vec::new();
        let r = parse_request(buf, &Limits::default(), &mut args, &mut owned);
        assert_eq!(r, Ok(Some((buf.len(), RequestKind::Multibulk))));
        assert_eq!(args, vec![8..11, 17..17]);
        assert!(owned.is_empty());
    }

    #[test]
    fn empty_bulk_argument() {
        assert_eq!(
            complete(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n").2,
            bytes(&["GET", ""])
        );
    }

    #[test]
    fn binary_safe_bulk() {
        let payload = b"a\0b\r\nc\r\n\0*1\r\n$";
        let buf = encode(&[b"SET".to_vec(), payload.to_vec()]);
        let (consumed, _, vals) = complete(&buf);
        assert_eq!(consumed, buf.len());
        assert_eq!(vals[1], payload.to_vec());
        assert_prefixes_incomplete(&buf);
    }

    #[test]
    fn pipelined_multibulk_and_inline() {
        let mut stream = Vec::new();
        let reqs: Vec<Vec<Vec<u8>>> = vec![
            bytes(&["PING"]),
            bytes(&["SET", "a", "1"]),
            bytes(&["GET", "a"]),
        ];
        for r in &reqs {
            stream.extend_from_slice(&encode(r));
        }
        stream.extend_from_slice(b"INCR a\r\n*0\r\nECHO \"x y\"\n");
        let mut expect: Vec<(RequestKind, Vec<Vec<u8>>)> = reqs
            .into_iter()
            .map(|r| (RequestKind::Multibulk, r))
            .collect();
        expect.push((RequestKind::Inline, bytes(&["INCR", "a"])));
        expect.push((RequestKind::Multibulk, vec![]));
        expect.push((RequestKind::Inline, bytes(&["ECHO", "x y"])));

        let mut pos = 0;
        for (kind, vals) in expect {
            let (consumed, k, v) = complete(&stream[pos..]);
            assert_eq!((k, v), (kind, vals));
            pos += consumed;
        }
        assert_eq!(pos, stream.len());
        assert_eq!(parse(&stream[pos..]), Ok(None));
    }

    #[test]
    fn pipelined_consumed_counts_are_exact() {
        let one = b"*1\r\n$4\r\nPING\r\n";
        let mut buf = one.repeat(3);
        buf.extend_from_slice(b"*1\r\n$4\r\nPI"); // trailing partial request
        let mut pos = 0;
        for _ in 0..3 {
            let (consumed, _, vals) = complete(&buf[pos..]);
            assert_eq!(consumed, one.len());
            assert_eq!(vals, bytes(&["PING"]));
            pos += consumed;
        }
        assert_eq!(parse(&buf[pos..]), Ok(None));
    }

    #[test]
    fn every_prefix_of_valid_requests_is_incomplete() {
        assert_prefixes_incomplete(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n");
        assert_prefixes_incomplete(b"*1\r\n$0\r\n\r\n");
        assert_prefixes_incomplete(b"*0\r\n");
        assert_prefixes_incomplete(b"*-1\r\n");
        assert_prefixes_incomplete(b"*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
        assert_prefixes_incomplete(b"SET k \"a b\\x41\" 'c\\'d'\r\n");
        assert_prefixes_incomplete(b"PING\n");
    }

    #[test]
    fn empty_buffer_is_incomplete() {
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn zero_and_negative_counts_are_empty_requests() {
        for buf in [&b"*0\r\n"[..], b"*-1\r\n", b"*-5\r\n"] {
            assert_eq!(complete(buf), (buf.len(), RequestKind::Multibulk, vec![]));
        }
        // Whatever follows is the next request, untouched.
        assert_eq!(complete(b"*-1\r\n*1\r\n$1\r\nx\r\n").0, 5);
    }

    #[test]
    fn huge_legal_bulk_not_yet_arrived_is_incomplete() {
        let mut buf = b"*2\r\n$3\r\nSET\r\n$104857600\r\n".to_vec();
        assert_eq!(parse(&buf), Ok(None));
        buf.extend_from_slice(&[b'x'; 4096]);
        assert_eq!(parse(&buf), Ok(None));
    }

    #[test]
    fn bulk_at_exact_limit_is_accepted() {
        let limits = Limits {
            max_bulk_len: 5,
            ..Limits::default()
        };
        let ok = b"*1\r\n$5\r\nhello\r\n";
        assert_eq!(
            parse_with(ok, &limits),
            Ok(Some((ok.len(), RequestKind::Multibulk, bytes(&["hello"]))))
        );
        assert_eq!(
            parse_with(b"*1\r\n$6\r\nhello!\r\n", &limits),
            Err(INVALID_BULK.to_owned())
        );
    }

    #[test]
    fn multibulk_count_at_exact_limit_is_accepted() {
        let limits = Limits {
            max_multibulk_len: 2,
            ..Limits::default()
        };
        let ok = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
        assert_eq!(
            parse_with(ok, &limits).map(|r| r.map(|p| p.0)),
            Ok(Some(ok.len()))
        );
        assert_eq!(
            parse_with(b"*3\r\n", &limits),
            Err(INVALID_MBULK.to_owned())
        );
    }

    #[test]
    fn huge_declared_count_does_not_preallocate() {
        // A legal count of a billion arguments with none sent is incomplete and
        // must not reserve memory for them.
        let mut args = Vec::new();
        let mut owned = Vec::new();
        let r = parse_request(
            b"*1000000000\r\n$1\r\na\r\n",
            &Limits::default(),
            &mut args,
            &mut owned,
        );
        assert_eq!(r, Ok(None));
        assert!(args.capacity() <= MAX_PREALLOC_ARGS);
    }

    // ---- multibulk: errors ----

    #[test]
    fn invalid_multibulk_length() {
        for buf in [
            &b"*abc\r\n"[..],
            b"*\r\n",
            b"*+1\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*01\r\n",
            b"*-0\r\n",
            b"*1.5\r\n",
            b"*99999999999999999999\r\n",
            b"*1073741824\r\n", // one over Redis's default cap
            b"*9223372036854775807\r\n",
            b"*1\rX",
        ] {
            assert_eq!(
                err(buf),
                INVALID_MBULK,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        // The junk is rejected as soon as the CR arrives, before the LF.
        assert_eq!(err(b"*x\r"), INVALID_MBULK);
        // The largest legal count is merely incomplete.
        assert_eq!(parse(b"*1073741823\r\n"), Ok(None));
    }

    #[test]
    fn too_big_mbulk_count_string() {
        let mut buf = vec![b'*'];
        buf.extend(std::iter::repeat_n(b'1', MAX_COUNT_LINE - 1));
        assert_eq!(buf.len(), MAX_COUNT_LINE);
        assert_eq!(parse(&buf), Ok(None)); // still within Redis's patience
        buf.push(b'1');
        assert_eq!(
            parse(&buf),
            Err("Protocol error: too big mbulk count string".to_owned())
        );
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err(b"*1\r\n:3\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            err(b"*2\r\n$1\r\na\r\nX"),
            "Protocol error: expected '$', got 'X'"
        );
        assert_eq!(
            err(b"*1\r\n*1\r\n"),
            "Protocol error: expected '$', got '*'"
        );
    }

    #[test]
    fn invalid_bulk_length() {
        for buf in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$-5\r\n",
            b"*1\r\n$abc\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$+3\r\nabc\r\n",
            b"*1\r\n$ 3\r\nabc\r\n",
            b"*1\r\n$03\r\nabc\r\n",
            b"*1\r\n$99999999999999999999\r\n",
            b"*1\r\n$3\rXabc\r\n",
            // 2 GB declared with the default 512 MB limit.
            b"*2\r\n$3\r\nSET\r\n$2147483648\r\n",
            b"*1\r\n$536870913\r\n",
        ] {
            assert_eq!(err(buf), INVALID_BULK, "{:?}", String::from_utf8_lossy(buf));
        }
        // Exactly proto-max-bulk-len is legal (and incomplete here).
        assert_eq!(parse(b"*1\r\n$536870912\r\n"), Ok(None));
    }

    #[test]
    fn bulk_data_must_end_in_crlf() {
        // Declared length shorter or longer than the data sent.
        assert_eq!(err(b"*1\r\n$2\r\nabc\r\n"), INVALID_BULK);
        assert_eq!(err(b"*1\r\n$4\r\nabc\r\n\r\n"), INVALID_BULK);
        assert_eq!(err(b"*1\r\n$3\r\nabc\n\n"), INVALID_BULK);
        assert_eq!(err(b"*1\r\n$3\r\nabc\rX"), INVALID_BULK);
        // Detected as soon as the first wrong byte is visible.
        assert_eq!(err(b"*1\r\n$3\r\nabcd"), INVALID_BULK);
        assert_eq!(parse(b"*1\r\n$3\r\nabc\r"), Ok(None));
    }

    #[test]
    fn too_big_bulk_count_string() {
        let mut buf = b"*1\r\n$".to_vec();
        buf.extend(std::iter::repeat_n(b'9', MAX_COUNT_LINE));
        assert_eq!(
            parse(&buf),
            Err("Protocol error: too big bulk count string".to_owned())
        );
        buf.pop();
        assert_eq!(parse(&buf), Ok(None));
    }

    // ---- inline ----

    #[test]
    fn inline_too_big() {
        let limits = Limits {
            max_inline_len: 16,
            ..Limits::default()
        };
        let exact = b"0123456789abcdef\n";
        assert_eq!(
            parse_with(exact, &limits).map(|r| r.map(|p| p.0)),
            Ok(Some(exact.len()))
        );
        assert_eq!(parse_with(&exact[..16], &limits), Ok(None));
        assert_eq!(
            parse_with(b"0123456789abcdefg", &limits),
            Err(TOO_BIG_INLINE.to_owned())
        );
        // The default limit is 64 KB.
        let big = vec![b'a'; 64 * 1024 + 1];
        assert_eq!(parse(&big), Err(TOO_BIG_INLINE.to_owned()));
        assert_eq!(parse(&big[..64 * 1024]), Ok(None));
    }

    #[test]
    fn buffers_are_cleared_between_requests() {
        let mut args = Vec::new();
        let mut owned = Vec::new();
        let limits = Limits::default();
        let quoted = b"ECHO \"a\\tb\"\n";
        parse_request(quoted, &limits, &mut args, &mut owned).unwrap();
        assert_eq!(owned.len(), 2);
        let plain = b"*1\r\n$4\r\nPING\r\n";
        parse_request(plain, &limits, &mut args, &mut owned).unwrap();
        assert!(owned.is_empty());
        assert_eq!(args, vec![8..12]);
        assert_eq!(
            parse_request(b"*2\r\n$1\r\na\r\n", &limits, &mut args, &mut owned),
            Ok(None)
        );
        assert!(args.is_empty() && owned.is_empty());
    }

    // ---- properties ----

    proptest! {
        #[test]
        fn multibulk_round_trips(
            reqs in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
                1..5,
            ),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut stream = Vec::new();
            for r in &reqs {
                stream.extend_from_slice(&encode(r));
            }
            let mut pos = 0;
            for r in &reqs {
                let (consumed, kind, vals) = complete(&stream[pos..]);
                prop_assert_eq!(kind, RequestKind::Multibulk);
                prop_assert_eq!(&vals, r);
                pos += consumed;
            }
            prop_assert_eq!(pos, stream.len());
            // Any cut inside the first request leaves it incomplete.
            let first = encode(&reqs[0]).len();
            let at = cut.index(first);
            prop_assert_eq!(parse(&stream[..at]), Ok(None));
        }

        #[test]
        fn arbitrary_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let limits = Limits { max_inline_len: 64, max_bulk_len: 64, max_multibulk_len: 8, unauthenticated: false };
            let mut args = Vec::new();
            let mut owned = Vec::new();
            if let Ok(Some((consumed, _))) = parse_request(&data, &limits, &mut args, &mut owned) {
                prop_assert!(consumed > 0 && consumed <= data.len());
                for r in &args {
                    prop_assert!(r.end <= consumed);
                }
            }
        }

        /// Fed in pieces (the buffer growing at its end between calls), the
        /// resumable parser gives exactly what one call over the whole input
        /// gives: the same requests, consumed counts, arguments and errors.
        #[test]
        fn pieces_parse_as_the_whole(
            reqs in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
            junk in prop::collection::vec(any::<u8>(), 0..30),
            cuts in prop::collection::vec(1usize..50, 0..20),
            unauthenticated in any::<bool>(),
        ) {
            let mut input = Vec::new();
            for r in &reqs {
                input.extend_from_slice(&encode(r));
            }
            input.extend_from_slice(&junk);
            let limits = Limits { max_inline_len: 64, max_bulk_len: 30, max_multibulk_len: 5, unauthenticated };
            let whole = parse_all(&input, &limits, &[]);
            let pieces = parse_all(&input, &limits, &cuts);
            prop_assert_eq!(whole, pieces);
        }
    }

    /// Every request of `input` (then the error or the incomplete rest), fed
    /// to one [`RequestParser`] in pieces of the sizes in `cuts` (all at once
    /// when empty), dropping each request's bytes as the connection loop does.
    fn parse_all(input: &[u8], limits: &Limits, cuts: &[usize]) -> Vec<Result<Parsed, String>> {
        let mut p = RequestParser::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut cut = cuts.iter().cycle();
        let mut out = Vec::new();
        loop {
            let step = if cuts.is_empty() {
                input.len()
            } else {
                *cut.next().unwrap_or(&1)
            };
            let more = (input.len() - fed).min(step);
            buf.extend_from_slice(&input[fed..fed + more]);
            fed += more;
            loop {
                match p.parse(&buf, limits) {
                    Ok(Some((n, kind))) => {
                        let vals = if p.owned.is_empty() {
                            p.args.iter().map(|r| buf[r.clone()].to_vec()).collect()
                        } else {
                            p.owned.clone()
                        };
                        out.push(Ok((n, kind, vals)));
                        buf.drain(..n);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e.message));
                        return out;
                    }
                }
            }
            if fed == input.len() {
                return out;
            }
        }
    }

    /// A request arriving in pieces keeps what was parsed: each call looks
    /// only at the new bytes (the arguments parsed so far are not re-parsed).
    #[test]
    fn a_request_in_pieces_is_resumed_not_reparsed() {
        let args: Vec<Vec<u8>> = (0..1000).map(|i| format!("a{i}").into_bytes()).collect();
        let input = encode(&args);
        let mut p = RequestParser::new();
        let limits = Limits::default();
        let mut fed = 0;
        while fed < input.len() {
            fed = (fed + 64).min(input.len());
            match p.parse(&input[..fed], &limits) {
                Ok(None) => {
                    // Every argument wholly in the prefix is already held.
                    let whole = args
                        .iter()
                        .scan("*1000\r\n".len(), |at, a| {
                            *at += format!("${}\r\n", a.len()).len() + a.len() + 2;
                            Some(*at)
                        })
                        .take_while(|&end| end <= fed)
                        .count();
                    assert_eq!(p.args.len(), whole, "after {fed} bytes");
                    assert!(p.is_mid_request());
                }
                Ok(Some((n, _))) => {
                    assert_eq!(n, input.len());
                    assert_eq!(p.args.len(), 1000);
                    assert!(!p.is_mid_request());
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn unauthenticated_limits_are_redis_7s() {
        let strict = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let ten: Vec<Vec<u8>> = (0..10).map(|_| b"x".to_vec()).collect();
        assert!(matches!(parse_with(&encode(&ten), &strict), Ok(Some(_))));
        let eleven: Vec<Vec<u8>> = (0..11).map(|_| b"x".to_vec()).collect();
        assert_eq!(
            parse_with(&encode(&eleven), &strict),
            Err("Protocol error: unauthenticated multibulk length".into())
        );
        // Refused from the header alone, before any element arrives.
        assert_eq!(
            parse_with(b"*2000001\r\n", &strict),
            Err("Protocol error: unauthenticated multibulk length".into())
        );
        let big = vec![b'v'; 16385];
        assert_eq!(
            parse_with(&encode(&[b"AUTH".to_vec(), big.clone()]), &strict),
            Err("Protocol error: unauthenticated bulk length".into())
        );
        assert_eq!(
            parse_with(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", &strict),
            Err("Protocol error: unauthenticated bulk length".into())
        );
        let ok = vec![b'v'; 16384];
        assert!(matches!(
            parse_with(&encode(&[b"AUTH".to_vec(), ok]), &strict),
            Ok(Some(_))
        ));
        // Authenticated, the same requests are fine.
        assert!(matches!(parse(&encode(&eleven)), Ok(Some(_))));
        assert!(matches!(
            parse(&encode(&[b"SET".to_vec(), big])),
            Ok(Some(_))
        ));
    }
}
