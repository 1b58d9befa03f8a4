//! The fuzz targets' bodies and the invariants they check, shared by the AFL
//! binaries in `fuzz_targets/` (one `fuzz!` line each) and usable from a plain
//! `cargo test` in this crate. It owns what "correct" means for arbitrary input
//! to the RESP parser, the text-protocol parser, the config loader, the
//! append-only log reader and the RDB reader: no panic,
//! results that stay inside the input, the same answer whether the input came
//! whole or cut short first, and allocation bounded by the input's size. It must
//! never loosen a check to make a finding go away: a failed check is a bug in
//! stairkv (or a wrong invariant, to be argued in the commit that changes it).
//!
//! Entry points, one per target: [`fuzz_resp`], [`fuzz_resp_pieces`],
//! [`fuzz_text`], [`fuzz_config`], [`fuzz_aof`], [`fuzz_rdb`]. `resp_pieces` feeds a stream in the pieces
//! [`RespCase::pieces`] cuts it into through [`resp_by_pieces`] and compares
//! with [`resp_reference`] (the stream parsed whole); an incremental
//! (resumable) RESP parser plugs in by replacing `resp_by_pieces`'s body.

use base64::Engine;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ops::Range;
use std::sync::OnceLock;

use stairkv::config::{Config, Flags};
use stairkv::net::http::auth::{parse_authorization, Token};
use stairkv::net::http::query::Query;
use stairkv::net::http::ws::requests_of;
use stairkv::persist::log::{LogReader, Stop, HEADER_LEN};
use stairkv::persist::rdb::{self, FileWriter, Header, Item, Options, Reader};
use stairkv::protocol::resp::{parse_request, Limits, RequestKind, RequestParser};
use stairkv::protocol::text::{parse_line, TextRequest, MAX_LINE};
use stairkv::storage::object::Object;

// ---------------------------------------------------------------------------
// Allocation accounting
// ---------------------------------------------------------------------------

/// The system allocator, counting the bytes requested on this thread while a
/// [`measure`] is open. A `realloc` counts its whole new size, so a vector
/// grown by doubling to `n` bytes counts about `2n`: the bound is on total
/// allocation work, not only on what stays live.
pub struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static REQUESTED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = REQUESTED.try_with(|r| r.set(r.get().saturating_add(bytes)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counting touches
// only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Run `f` and return its result with the bytes it asked the allocator for.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    REQUESTED.with(|r| r.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (out, REQUESTED.with(|r| r.get()))
}

/// Bytes one parser call may allocate for an input of `len` bytes: a constant
/// for the fixed-size parts (the RESP parser reserves up to 1024 argument
/// ranges, 16 KiB, from a declared count before any argument arrived; an
/// error message) plus a small multiple of the input (unescaped inline
/// arguments, copied once more when the request switches to owned arguments,
/// vectors grown by doubling; a text error quoting up to 3 bytes per input byte).
pub fn parser_alloc_bound(len: usize) -> usize {
    8 * len + 32 * 1024
}

fn check_alloc(what: &str, input_len: usize, used: usize, bound: usize) {
    assert!(
        used <= bound,
        "{what}: {used} bytes allocated for a {input_len}-byte input (bound {bound})"
    );
}

// ---------------------------------------------------------------------------
// RESP
// ---------------------------------------------------------------------------

/// Bytes at the front of a RESP input that steer the harness, not the parser.
pub const RESP_HEADER: usize = 2;

/// One RESP fuzz input, decoded.
///
/// Layout: byte 0 picks the [`Limits`] (`% 4`: tiny, small, medium, the
/// server's defaults), byte 1 picks where each request's input is first cut
/// short (`cut_at`), and the rest is the byte stream a client sent. An input
/// shorter than the header is all stream under the tiny limits.
#[derive(Debug, Clone)]
pub struct RespCase<'a> {
    pub limits: Limits,
    /// A fraction of 256 (0 = nothing yet, 255 = almost all of it).
    pub cut: u8,
    pub stream: &'a [u8],
}

impl<'a> RespCase<'a> {
    pub fn decode(data: &'a [u8]) -> RespCase<'a> {
        if data.len() < RESP_HEADER {
            return RespCase {
                limits: resp_limits(0),
                cut: 0,
                stream: data,
            };
        }
        RespCase {
            limits: resp_limits(data[0]),
            cut: data[1],
            stream: &data[RESP_HEADER..],
        }
    }

    /// Where to cut a `len`-byte input: somewhere in `0..=len`.
    pub fn cut_at(&self, len: usize) -> usize {
        (usize::from(self.cut) * (len + 1)) / 256
    }

    /// The stream as a client's writes might arrive: consecutive non-empty
    /// ranges covering it exactly, of lengths `1..=cut + 1` drawn from a
    /// generator seeded by `cut` (so `cut == 0` is one byte per read, the
    /// worst case for a parser that starts over on every read).
    pub fn pieces(&self) -> Vec<Range<usize>> {
        let mut state = u32::from(self.cut).wrapping_mul(2_654_435_761) | 1;
        let mut out = Vec::new();
        let mut at = 0;
        while at < self.stream.len() {
            // xorshift32: cheap, deterministic, never stuck at 0.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = 1 + (state as usize) % (usize::from(self.cut) + 1);
            let end = (at + len).min(self.stream.len());
            out.push(at..end);
            at = end;
        }
        out
    }
}

/// Limits small enough that a fuzz input of a few hundred bytes crosses them,
/// and the server's own (the config's bulk and count limits, 64 KiB inline).
pub fn resp_limits(selector: u8) -> Limits {
    // Bit 7: the client has yet to AUTH (Redis 7's tighter bounds).
    let unauthenticated = selector & 0x80 != 0;
    match selector % 4 {
        0 => Limits {
            max_bulk_len: 8,
            max_multibulk_len: 4,
            max_inline_len: 16,
            unauthenticated,
        },
        1 => Limits {
            max_bulk_len: 64,
            max_multibulk_len: 16,
            max_inline_len: 128,
            unauthenticated,
        },
        2 => Limits {
            max_bulk_len: 1024,
            max_multibulk_len: 1024,
            max_inline_len: 4096,
            unauthenticated,
        },
        _ => Limits {
            unauthenticated,
            ..Limits::default()
        },
    }
}

/// What one `parse_request` call made of the front of a buffer, with the
/// arguments copied out so results over different buffers compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Request {
        consumed: usize,
        kind: RequestKind,
        /// Argument ranges into the buffer, when the parser returned ranges.
        ranges: Vec<Range<usize>>,
        /// The arguments' bytes, however the parser returned them.
        args: Vec<Vec<u8>>,
    },
    Incomplete,
    Error(String),
}

/// One call of the parser under test, with the invariants every single result
/// must satisfy checked on the spot. `args`/`owned` are reused across calls,
/// as the connection loop does, so stale contents would show.
pub fn resp_step(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
    owned: &mut Vec<Vec<u8>>,
) -> Step {
    let (result, used) = measure(|| parse_request(buf, limits, args, owned));
    check_alloc(
        "parse_request",
        buf.len(),
        used,
        parser_alloc_bound(buf.len()),
    );
    match result {
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(
                e.message.starts_with("Protocol error: "),
                "error outside Redis's wording: {:?}",
                e.message
            );
            assert!(
                args.is_empty() && owned.is_empty(),
                "error left arguments behind"
            );
            Step::Error(e.message)
        }
        Ok(None) => {
            assert!(
                args.is_empty() && owned.is_empty(),
                "incomplete left arguments behind"
            );
            Step::Incomplete
        }
        Ok(Some((consumed, kind))) => {
            assert!(consumed > 0, "a request of 0 bytes");
            assert!(
                consumed <= buf.len(),
                "consumed {consumed} of {}",
                buf.len()
            );
            assert!(
                args.is_empty() || owned.is_empty(),
                "both ranges and owned returned"
            );
            for r in args.iter() {
                assert!(
                    r.start <= r.end && r.end <= consumed,
                    "range {r:?} outside the {consumed} consumed bytes"
                );
            }
            let vals: Vec<Vec<u8>> = if owned.is_empty() {
                args.iter().map(|r| buf[r.clone()].to_vec()).collect()
            } else {
                owned.clone()
            };
            let frame = &buf[..consumed];
            match kind {
                RequestKind::Multibulk => check_multibulk(frame, limits, args, owned, &vals),
                RequestKind::Inline => check_inline(frame, limits, &vals),
            }
            Step::Request {
                consumed,
                kind,
                ranges: args.clone(),
                args: vals,
            }
        }
    }
}

fn encode_multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn check_multibulk(
    frame: &[u8],
    limits: &Limits,
    args: &[Range<usize>],
    owned: &[Vec<u8>],
    vals: &[Vec<u8>],
) {
    assert_eq!(frame[0], b'*');
    assert!(
        owned.is_empty(),
        "a multibulk request returned owned arguments"
    );
    assert!(
        vals.len() <= limits.max_multibulk_len,
        "{} arguments past the limit",
        vals.len()
    );
    for v in vals {
        assert!(
            v.len() <= limits.max_bulk_len,
            "a {}-byte bulk past the limit",
            v.len()
        );
    }
    if vals.is_empty() {
        // `*0`, `*-1`, `*-5`: an empty request, skipped by the caller.
        let count = std::str::from_utf8(&frame[1..frame.len() - 2])
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        assert!(
            matches!(count, Some(n) if n <= 0) && frame.ends_with(b"\r\n"),
            "empty multibulk request from {:?}",
            String::from_utf8_lossy(frame)
        );
    } else {
        // The grammar has one spelling per request (no `+`, no leading zeros,
        // exact lengths), so what was accepted is exactly its re-encoding.
        assert_eq!(
            encode_multibulk(vals),
            frame,
            "multibulk frame is not the canonical encoding of its arguments"
        );
        // Ranges are in order and do not overlap.
        for w in args.windows(2) {
            assert!(w[0].end < w[1].start);
        }
    }
}

/// Quote `arg` the way redis-cli's `sdscatrepr` does (MONITOR's quoting,
/// `observe::repr`), which `sdssplitargs` (and so our inline parser) must
/// read back as `arg`.
fn quote_inline(arg: &[u8], out: &mut Vec<u8>) {
    stairkv::command::observe::repr(out, arg);
}

fn check_inline(frame: &[u8], limits: &Limits, vals: &[Vec<u8>]) {
    // The request is the first line, whole, and no longer than the limit.
    assert_eq!(
        frame.last(),
        Some(&b'\n'),
        "inline request not ending at a newline"
    );
    assert!(
        !frame[..frame.len() - 1].contains(&b'\n'),
        "inline request spans lines"
    );
    assert!(
        frame.len() <= limits.max_inline_len + 1,
        "inline line past the limit"
    );
    assert_ne!(frame[0], b'*');
    for v in vals {
        assert!(v.len() <= frame.len(), "an argument longer than its line");
    }
    // Round trip: the arguments, quoted as redis-cli would, parse back to
    // themselves (with room for the quoting's growth).
    let mut line = Vec::new();
    for v in vals {
        quote_inline(v, &mut line);
        line.push(b' ');
    }
    line.extend_from_slice(b"\r\n");
    if vals.is_empty() {
        return;
    }
    let roomy = Limits {
        max_inline_len: line.len(),
        ..Limits::default()
    };
    let mut args = Vec::new();
    let mut owned = Vec::new();
    match parse_request(&line, &roomy, &mut args, &mut owned) {
        Ok(Some((consumed, RequestKind::Inline))) => {
            assert_eq!(consumed, line.len());
            let back: Vec<Vec<u8>> = if owned.is_empty() {
                args.iter().map(|r| line[r.clone()].to_vec()).collect()
            } else {
                owned
            };
            assert_eq!(
                back, vals,
                "inline arguments do not survive redis-cli quoting"
            );
        }
        other => panic!(
            "re-quoted inline request {:?} parsed as {other:?}",
            String::from_utf8_lossy(&line)
        ),
    }
}

/// What a buffer cut short at `cut` must give, knowing what the whole gave:
/// the parser's answer may only firm up as bytes arrive, never change.
pub fn check_prefix(whole: &Step, prefix: &Step, cut: usize) {
    match whole {
        Step::Request { consumed, .. } if cut >= *consumed => assert_eq!(
            prefix, whole,
            "a request complete within the first {cut} bytes parsed differently from them"
        ),
        Step::Request { consumed, .. } => assert_eq!(
            prefix,
            &Step::Incomplete,
            "the first {cut} of a {consumed}-byte request are not incomplete"
        ),
        Step::Incomplete => assert_eq!(
            prefix,
            &Step::Incomplete,
            "a prefix of an incomplete request is not incomplete"
        ),
        Step::Error(_) => assert!(
            prefix == &Step::Incomplete || prefix == whole,
            "prefix of an erroneous stream gave {prefix:?}, the whole {whole:?}"
        ),
    }
}

/// The oracle: the requests a connection reading `stream` all at once would
/// run, in order, ending with what stops it (`Incomplete` or `Error`).
pub fn resp_reference(stream: &[u8], limits: &Limits) -> Vec<Step> {
    let mut args = Vec::new();
    let mut owned = Vec::new();
    let mut steps = Vec::new();
    let mut pos = 0;
    loop {
        let step = resp_step(&stream[pos..], limits, &mut args, &mut owned);
        let done = !matches!(step, Step::Request { .. });
        if let Step::Request { consumed, .. } = step {
            pos += consumed;
        }
        steps.push(step);
        if done {
            return steps;
        }
    }
}

/// Target `resp`: parse the stream request after request as a connection
/// would; before each request, parse the same bytes cut short (the "incomplete
/// first, then whole" a slow client produces) and check the answers agree.
pub fn fuzz_resp(data: &[u8]) {
    let case = RespCase::decode(data);
    let mut args = Vec::new();
    let mut owned = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &case.stream[pos..];
        let cut = case.cut_at(rest.len());
        let prefix = resp_step(&rest[..cut], &case.limits, &mut args, &mut owned);
        let whole = resp_step(rest, &case.limits, &mut args, &mut owned);
        check_prefix(&whole, &prefix, cut);
        match whole {
            Step::Request { consumed, .. } => pos += consumed,
            Step::Incomplete => {
                if rest.first() != Some(&b'*') {
                    // An inline request waits only while it may still fit.
                    assert!(!rest.contains(&b'\n'), "a whole line left unparsed");
                    assert!(rest.len() <= case.limits.max_inline_len);
                }
                return;
            }
            Step::Error(_) => return,
        }
    }
}

/// The connection loop over a stream that arrives in `pieces`: after each
/// piece, parse as many requests as the buffer holds, stop at the first error.
/// Today this re-parses the unconsumed buffer from its front on every read, as
/// `net::resp` does; an incremental parser replaces this function's body
/// (same signature, same steps out).
pub fn resp_by_pieces(stream: &[u8], limits: &Limits, pieces: &[Range<usize>]) -> Vec<Step> {
    // The connection loop's own parser: it resumes a request where the last
    // piece ended instead of parsing it again from its start.
    let mut p = RequestParser::new();
    let mut steps = Vec::new();
    let mut pos = 0;
    for piece in pieces {
        loop {
            let buf = &stream[pos..piece.end];
            let (result, used) = measure(|| p.parse(buf, limits));
            check_alloc(
                "RequestParser::parse",
                buf.len(),
                used,
                parser_alloc_bound(buf.len()),
            );
            match result {
                Ok(Some((consumed, kind))) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    let (ranges, args) = if p.owned.is_empty() {
                        let vals = p.args.iter().map(|r| buf[r.clone()].to_vec()).collect();
                        (p.args.clone(), vals)
                    } else {
                        (Vec::new(), p.owned.clone())
                    };
                    steps.push(Step::Request {
                        consumed,
                        kind,
                        ranges,
                        args,
                    });
                    pos += consumed;
                }
                Ok(None) => break,
                Err(e) => {
                    steps.push(Step::Error(e.message));
                    return steps;
                }
            }
        }
    }
    steps.push(Step::Incomplete);
    steps
}

/// Target `resp_pieces`: the same stream fed in pieces must give exactly the
/// requests, and the stop (incomplete or the error), of the stream fed whole.
pub fn fuzz_resp_pieces(data: &[u8]) {
    let case = RespCase::decode(data);
    let reference = resp_reference(case.stream, &case.limits);
    let pieces = case.pieces();
    let got = resp_by_pieces(case.stream, &case.limits, &pieces);
    assert_eq!(got, reference, "fed in pieces {pieces:?}");
}

// ---------------------------------------------------------------------------
// Text protocol
// ---------------------------------------------------------------------------

/// One `parse_line` result, checked: the line is the first `\n`-terminated
/// run, ranges stay inside it (before any stripped `\r`), keys are single
/// space-free tokens and the command word is the one the variant claims.
pub fn text_step(buf: &[u8]) -> Result<Option<(TextRequest, usize)>, String> {
    let (result, used) = measure(|| parse_line(buf));
    check_alloc("parse_line", buf.len(), used, parser_alloc_bound(buf.len()));
    match &result {
        Err(e) => {
            assert!(!e.is_empty());
            assert!(
                buf.len() > MAX_LINE,
                "line-too-long error for {} bytes",
                buf.len()
            );
        }
        Ok(None) => {
            assert!(!buf.contains(&b'\n'), "a whole line left unparsed");
            assert!(buf.len() <= MAX_LINE);
        }
        Ok(Some((req, consumed))) => {
            let consumed = *consumed;
            assert!(consumed > 0 && consumed <= buf.len());
            assert_eq!(buf[consumed - 1], b'\n');
            assert!(!buf[..consumed - 1].contains(&b'\n'), "line spans lines");
            let mut end = consumed - 1;
            if end > 0 && buf[end - 1] == b'\r' {
                end -= 1;
            }
            let line = &buf[..end];
            let in_line = |r: &Range<usize>| r.start <= r.end && r.end <= line.len();
            let token = |r: &Range<usize>| {
                assert!(
                    in_line(r),
                    "range {r:?} outside the {}-byte line",
                    line.len()
                );
                assert!(!r.is_empty(), "empty token");
                assert!(!line[r.clone()].contains(&b' '), "token with a space");
            };
            // What precedes the key: spaces, the command word, spaces.
            let command_before = |key: &Range<usize>, word: &[u8]| {
                let head = &line[..key.start];
                let trimmed: Vec<u8> = head
                    .split(|&b| b == b' ')
                    .filter(|t| !t.is_empty())
                    .flat_map(|t| t.to_vec())
                    .collect();
                assert!(
                    trimmed.eq_ignore_ascii_case(word),
                    "command is not {word:?}"
                );
                assert_eq!(head.last(), Some(&b' '));
            };
            match req {
                TextRequest::Put { key, value } => {
                    token(key);
                    command_before(key, b"PUT");
                    assert!(in_line(value));
                    assert_eq!(value.start, key.end + 1, "value not after one space");
                    assert_eq!(value.end, line.len(), "value not the rest of the line");
                }
                TextRequest::Get { key } | TextRequest::Del { key } => {
                    token(key);
                    let word: &[u8] = if matches!(req, TextRequest::Get { .. }) {
                        b"GET"
                    } else {
                        b"DEL"
                    };
                    command_before(key, word);
                    assert!(
                        line[key.end..].iter().all(|&b| b == b' '),
                        "more than one key"
                    );
                }
                TextRequest::Auth { password } => {
                    assert!(in_line(password));
                    assert_eq!(
                        password.end,
                        line.len(),
                        "password not the rest of the line"
                    );
                    let word = &line[..password.start - 1];
                    assert!(
                        word.split(|&b| b == b' ')
                            .filter(|t| !t.is_empty())
                            .eq([&b"AUTH"[..]].into_iter().map(|w| w.to_ascii_uppercase()))
                            || word.trim_ascii().eq_ignore_ascii_case(b"AUTH"),
                        "command is not AUTH"
                    );
                }
                TextRequest::Login { user, password } => {
                    token(user);
                    command_before(user, b"LOGIN");
                    assert!(in_line(password));
                    assert_eq!(password.start, user.end + 1, "password not after one space");
                    assert_eq!(
                        password.end,
                        line.len(),
                        "password not the rest of the line"
                    );
                }
                TextRequest::Invalid(msg) => {
                    assert!(!msg.is_empty());
                    // The reply is one line: a message must not break it.
                    assert!(!msg.contains('\n'), "error message with a newline: {msg:?}");
                }
            }
        }
    }
    result
}

/// Target `text`: the stream line after line, each line also cut short first.
/// The first byte picks the cut (as in [`RespCase`]); the rest is the stream.
pub fn fuzz_text(data: &[u8]) {
    let (cut, stream) = match data.split_first() {
        Some((&c, rest)) => (c, rest),
        None => return,
    };
    let mut pos = 0;
    loop {
        let rest = &stream[pos..];
        let at = (usize::from(cut) * (rest.len() + 1)) / 256;
        let prefix = text_step(&rest[..at]);
        let whole = text_step(rest);
        match &whole {
            Ok(Some((_, consumed))) if at >= *consumed => assert_eq!(prefix, whole),
            Ok(Some(_)) | Ok(None) => assert_eq!(prefix, Ok(None)),
            Err(_) => assert!(prefix == Ok(None) || prefix == whole),
        }
        match whole {
            Ok(Some((_, consumed))) => pos += consumed,
            _ => return,
        }
    }
}

// ---------------------------------------------------------------------------
// Config file
// ---------------------------------------------------------------------------

/// Bytes the config loader may allocate for a `len`-byte file: TOML builds a
/// document tree and error messages quote the offending line, so the budget
/// is looser than a parser's on the request path; it is there to catch a
/// blow-up (quadratic messages, a tree exploding from a small file).
pub fn config_alloc_bound(len: usize) -> usize {
    64 * len + 1024 * 1024
}

/// Target `config`: the file's text through the real loader (`Config::resolve`
/// short of reading the file), with default flags so every key in the file
/// counts. Whatever the text, an error or a configuration that passes the
/// loader's own checks.
pub fn fuzz_config(data: &[u8]) {
    // `resolve` reads the file with `read_to_string`, which refuses non-UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (result, used) = measure(|| Config::resolve_text(Flags::default(), Some(text)));
    check_alloc(
        "Config::resolve_text",
        data.len(),
        used,
        config_alloc_bound(data.len()),
    );
    let Ok(cfg) = result else {
        return;
    };
    let ports = [cfg.port, cfg.text_port, cfg.http_port];
    assert!(ports.iter().any(|&p| p != 0), "nothing to listen on");
    for (i, a) in ports.iter().enumerate() {
        assert!(
            *a == 0 || !ports[i + 1..].contains(a),
            "one port for two protocols"
        );
    }
    assert!(!cfg.cores.is_empty(), "no cores");
    static AVAILABLE: OnceLock<Vec<usize>> = OnceLock::new();
    let available = AVAILABLE.get_or_init(stairkv::config::available_cpus);
    assert!(
        cfg.cores.iter().all(|c| available.contains(c)),
        "a core we may not run on"
    );
    assert!(cfg.shard_max_keys > 0 && cfg.split_batch > 0);
    assert!(cfg.migrate_batch > 0 && cfg.controller_interval_ms > 0);
    assert!((1..=64).contains(&cfg.maxmemory_samples));
    assert!(cfg.shard_min_keys.saturating_mul(2) < cfg.shard_max_keys);
    assert!(cfg.proto_max_bulk_len >= 1024);
    assert!(
        cfg.requirepass.as_deref() != Some(""),
        "an empty password kept"
    );
}

// ---------------------------------------------------------------------------
// Append-only log reader
// ---------------------------------------------------------------------------

/// Bytes reading a log of `len` bytes may allocate: the reader's buffer grows
/// only with bytes read, by doubling (counted at every new size: up to 4x what
/// it holds) plus one 64 KiB chunk of room, and the stop's message.
pub fn aof_alloc_bound(len: usize) -> usize {
    4 * len + 512 * 1024
}

/// The reader alone over `log`, as recovery runs it: how many records.
fn aof_count(log: &[u8]) -> u64 {
    let mut r = LogReader::new(log);
    while let Ok(Some(_)) = r.next_record() {}
    r.records()
}

/// A source that delivers at most `piece` bytes per read, as a pipe or a
/// slow device might.
struct Pieces<'a> {
    data: &'a [u8],
    piece: usize,
}

impl std::io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// One record as read, comparable across readers: its position, its epoch,
/// its frame re-encoded, and the file offset where it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct AofRecord {
    pub lsn: u64,
    pub epoch: u64,
    pub frame: Vec<u8>,
    pub end: u64,
}

/// Reads a whole log from `src`, checking each record's invariants on the
/// spot: dense positions from the header's, epochs that never go back, and a
/// frame that re-encodes to exactly the bytes it was read from.
pub fn aof_read(log: &[u8], src: impl std::io::Read) -> (Vec<AofRecord>, Stop, u64) {
    let mut r = LogReader::new(src);
    let mut out: Vec<AofRecord> = Vec::new();
    let mut start = HEADER_LEN as u64;
    loop {
        let rec = match r.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => panic!("a byte source that cannot fail failed: {e}"),
        };
        let mut frame = bytes::BytesMut::new();
        rec.encode(&mut frame).expect("a record read re-encodes");
        let (lsn, epoch) = (rec.lsn, rec.epoch);
        let end = r.good_len();
        assert_eq!(
            &log[start as usize..end as usize],
            &frame[..],
            "record at {start} does not re-encode to its bytes"
        );
        match out.last() {
            Some(prev) => {
                assert_eq!(lsn, prev.lsn + 1, "positions not dense");
                assert!(epoch >= prev.epoch, "epoch went back");
            }
            None => {
                let h = r
                    .header()
                    .expect("header")
                    .expect("a record without a header");
                assert_eq!(
                    lsn, h.start_lsn,
                    "first record not at the header's position"
                );
                assert!(epoch >= h.epoch, "record older than its file");
            }
        }
        out.push(AofRecord {
            lsn,
            epoch,
            frame: frame.to_vec(),
            end,
        });
        start = end;
    }
    let stop = r
        .stop()
        .cloned()
        .expect("a reader that returned None has stopped");
    let good = r.good_len();
    let len = log.len() as u64;
    match &stop {
        Stop::End => assert_eq!(good, len, "clean end before the end"),
        Stop::Torn { offset, lost, .. } | Stop::Corrupt { offset, lost, .. } => {
            assert_eq!(
                *offset, good,
                "stop offset is not the end of the good records"
            );
            assert_eq!(offset + lost, len, "lost bytes do not reach the end");
            assert!(*lost > 0);
        }
    }
    (out, stop, good)
}

/// Target `aof`: byte 0 chooses a read size, byte 1 a cut, the rest is a log
/// file. The log read whole and read in pieces must agree; reading it cut
/// short within its good records must give exactly the records that end
/// before the cut and a clean end or a torn tail, never corruption; and the
/// reader's allocation stays within a multiple of the input.
pub fn fuzz_aof(data: &[u8]) {
    let (piece, cut, log) = match data {
        [p, c, rest @ ..] => (usize::from(*p).max(1), *c, rest),
        _ => return,
    };
    let (count, used) = measure(|| aof_count(log));
    check_alloc("LogReader", log.len(), used, aof_alloc_bound(log.len()));
    let whole = aof_read(log, log);
    assert_eq!(whole.0.len() as u64, count);
    let pieces = aof_read(log, Pieces { data: log, piece });
    assert_eq!(pieces, whole, "read in pieces of {piece}");
    let (records, _, good) = &whole;
    let c = (good * u64::from(cut) / 255) as usize;
    let (short, stop, _) = aof_read(&log[..c], &log[..c]);
    let n = records.iter().filter(|r| r.end <= c as u64).count();
    assert_eq!(short[..], records[..n], "cut at {c}");
    match stop {
        Stop::End => assert!(
            c == 0
                || c as u64
                    == records
                        .get(n.wrapping_sub(1))
                        .map_or(HEADER_LEN as u64, |r| r.end),
            "clean end at {c}, inside a record"
        ),
        Stop::Torn { .. } => {}
        Stop::Corrupt { .. } => panic!("a cut at {c} inside good records reads as corruption"),
    }
}

// ---------------------------------------------------------------------------
// RDB
// ---------------------------------------------------------------------------

/// Bytes reading an RDB file of `len` bytes may allocate: what it holds can
/// legitimately be up to 88 times larger (an LZF back reference is 3 bytes
/// for 264), the records are collected (about 90 bytes each, from 3 input
/// bytes, vectors grown by doubling), and one string that turns out
/// truncated may have reserved its first 64 KiB piece.
pub fn rdb_alloc_bound(len: usize) -> usize {
    256 * len + 256 * 1024
}

/// One key read: its name, a string's value or a collection, its deadline.
type RdbKey = (Vec<u8>, Vec<u8>, Option<Box<Object>>, Option<i64>);

/// A whole read: aux fields, the keys, and where it ended.
type RdbRead = (Vec<(Vec<u8>, Vec<u8>)>, Vec<RdbKey>, u64);

fn read_rdb(data: &[u8]) -> Result<RdbRead, rdb::Error> {
    let mut reader = Reader::new(data)?;
    let mut aux = Vec::new();
    let mut keys = Vec::new();
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Aux { key, value } => aux.push((key, value)),
            Item::ResizeDb { .. } | Item::Function(_) => {}
            Item::Key(r) => keys.push((r.key, r.value, r.object, r.expire_at_ms)),
        }
    }
    Ok((aux, keys, reader.offset()))
}

/// The RDB reader on arbitrary bytes: never a panic, allocation bounded by
/// the input, an error's offset inside the input; and what it accepts, our
/// writer writes again into a file it reads back the same.
pub fn fuzz_rdb(data: &[u8]) {
    let (result, used) = measure(|| read_rdb(data));
    check_alloc("rdb::Reader", data.len(), used, rdb_alloc_bound(data.len()));
    let (aux, keys, end) = match result {
        Err(e) => {
            assert!(
                e.offset <= data.len() as u64,
                "error offset {} past a {}-byte input: {e}",
                e.offset,
                data.len()
            );
            let _ = e.to_string();
            return;
        }
        Ok(read) => read,
    };
    assert!(
        end <= data.len() as u64,
        "read {end} bytes of {}",
        data.len()
    );
    let header = Header {
        aux,
        db_size: keys.len() as u64,
        expires_size: 0,
    };
    let write = || -> std::io::Result<Vec<u8>> {
        let mut w = FileWriter::new(Vec::new(), &header, Options::default())?;
        for (k, v, o, t) in &keys {
            match o {
                Some(o) => w.write_object(k, Object::as_ref(o), *t)?,
                None => w.write_string(k, v, *t)?,
            }
        }
        Ok(w.finish()?.0)
    };
    let again = write().expect("writing to a Vec cannot fail");
    match read_rdb(&again) {
        Ok((aux2, keys2, _)) => {
            assert!(aux2 == header.aux, "aux fields changed through a rewrite");
            assert!(keys2 == keys, "records changed through a rewrite");
        }
        Err(e) => panic!("our own rewrite of an accepted file does not read: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Values a client hands over whole: RESTORE payloads, HyperLogLogs it SETs
// and then counts, BITFIELD's arguments
// ---------------------------------------------------------------------------

/// A RESTORE payload (any bytes, with a right checksum so the body is
/// decoded) never panics and what it accepts dumps and restores the same;
/// the bytes as a HyperLogLog never panic PFADD, PFCOUNT or a merge; the
/// bytes split on spaces as BITFIELD's arguments never panic the parser,
/// and what it accepts runs on a string it says is long enough.
pub fn fuzz_values(data: &[u8]) {
    use stairkv::storage::{bits, hll};
    // RESTORE: the raw bytes, and the bytes with a version and checksum.
    let _ = rdb::restore_value(data);
    let mut payload = data.to_vec();
    payload.extend_from_slice(&(rdb::RDB_VERSION as u16).to_le_bytes());
    let crc = rdb::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    if let Ok(v) = rdb::restore_value(&payload) {
        let again = rdb::dump_value(&v);
        assert_eq!(
            rdb::restore_value(&again).ok(),
            Some(v),
            "a restored value dumps back"
        );
    }
    // HyperLogLog on whatever a client could SET.
    let mut v = data.to_vec();
    let _ = hll::count(&mut v);
    let mut v = data.to_vec();
    let _ = hll::add(&mut v, &[b"a", b"bb", data], 300);
    let mut regs = hll::Registers::new();
    if regs.merge(data).is_ok() {
        let _ = regs.count();
        let _ = hll::merge_into(Some(data), &regs, hll::is_dense(data), 300);
    }
    let args: Vec<&[u8]> = data.split(|&b| b == b' ').collect();
    // A small hash's packed pairs, as an entry may hold them: every reading
    // of them stays inside the bytes.
    use stairkv::storage::object::{packed, ObjRef, TAG_HASH_PACKED};
    if let Some(ObjRef::Hash(h)) = ObjRef::from_inline(TAG_HASH_PACKED, data) {
        let n = packed::pairs(data).count();
        assert_eq!(h.len(), n);
        let mut seen = 0;
        h.for_each(|f, v| {
            seen += 1;
            assert!(f.len() + v.len() <= data.len());
        });
        assert_eq!(seen, n);
        let _ = h.random(data.len() as u64);
        let mut again = Vec::new();
        packed::pairs(data).for_each(|(f, v)| packed::push_pair(&mut again, f, v));
        let back: Vec<_> = packed::pairs(&again).collect();
        assert_eq!(
            back,
            packed::pairs(data).collect::<Vec<_>>(),
            "pairs re-pack"
        );
    }
    // A small list's and a small sorted set's packed bytes, as an entry may
    // hold them (a list's with its count ahead): every reading stays inside
    // the bytes; elements the list layout accepts make a list that counts
    // them and stays the same through a push and a pop.
    use stairkv::storage::object::list::{List, ListLimit};
    use stairkv::storage::object::zset::ZRange;
    use stairkv::storage::object::{TAG_LIST_PACKED, TAG_ZSET_PACKED};
    if let Some(ObjRef::List(l)) = ObjRef::from_inline(TAG_LIST_PACKED, data) {
        assert!(l.range(0, -1).len() <= data.len());
        let _ = (l.get(0), l.get(-1), l.range_bounds(1, -2));
        let _ = l.positions(b"a", -1, 0, 0);
        if let Some(mut owned) = List::from_packed(data.to_vec()) {
            let before: Vec<Vec<u8>> = owned.as_ref().iter().map(<[u8]>::to_vec).collect();
            let n = owned.as_ref().len();
            assert_eq!(before.len(), n, "a valid packed list counts its elements");
            let lim = ListLimit::default();
            owned.push_front(b"x", lim);
            assert_eq!(owned.pop_front(lim).as_deref(), Some(&b"x"[..]));
            let after: Vec<Vec<u8>> = owned.as_ref().iter().map(<[u8]>::to_vec).collect();
            assert_eq!(after, before, "a push and a pop leave the list as it was");
        }
    }
    if let Some(ObjRef::Zset(z)) = ObjRef::from_inline(TAG_ZSET_PACKED, data) {
        let n = z.len();
        let mut seen = 0;
        z.for_each(|_, m| {
            seen += 1;
            assert!(m.len() <= data.len());
        });
        assert_eq!(seen, n, "a packed sorted set counts what it walks");
        let _ = (
            z.score(b"a"),
            z.rank(b"a"),
            z.get(0),
            z.random(data.len() as u64),
        );
        let all = ZRange::Rank { start: 0, stop: -1 };
        assert!(z.range(&all, false, 0, None).len() <= n);
        assert!(z.range(&all, true, 1, Some(2)).len() <= 2);
    }
    // A log's per-element record, as replay reads and applies it (offsets
    // kept small: a real one never passes the string limit).
    use stairkv::persist::delta::{apply_all, Delta};
    use stairkv::storage::ops::Stored;
    if let [name, rest @ ..] = args.as_slice() {
        let far = rest.iter().any(|a| {
            std::str::from_utf8(a)
                .ok()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 1 << 20)
        });
        if let (Some(Ok(d)), false) = (Delta::parse(name, rest), far) {
            let string = Some((Stored::Str(bytes::Bytes::from_static(b"abc")), None));
            let _ = apply_all(string, [d.clone()]);
            let _ = apply_all(None, [d.clone(), d]);
        }
    }
    // BITFIELD's parser and a run of what it accepts.
    if let Ok(ops) = bits::parse_bitfield(&args, false, 1 << 16) {
        let mut s = vec![0u8; bits::bitfield_needed_len(&ops)];
        let (replies, _) = bits::bitfield_run(&mut s, &ops);
        assert_eq!(replies.len(), ops.len());
    }
}

// ---------------------------------------------------------------------------
// The HTTP door's own small parsers (HTTP and WebSocket framing are hyper's
// and tungstenite's)
// ---------------------------------------------------------------------------

/// The query string, the Authorization header and the WebSocket JSON
/// requests never panic, and each says back what was written:
/// - any bytes, percent-encoded whole as a parameter's value, decode to
///   themselves, beside a second parameter that stays apart;
/// - `Bearer <x>` is the password `x` (trimmed), and `Basic` the user and
///   password it encodes;
/// - a JSON request is only ever one of the four subscription commands.
pub fn fuzz_http(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Query::parse(Some(&text));
    let encoded: String = data.iter().map(|b| format!("%{b:02X}")).collect();
    let q = Query::parse(Some(&format!("k={encoded}&other=1")));
    assert_eq!(q.get("k"), Some(data), "a value percent-encoded whole");
    assert_eq!(q.get("other"), Some(&b"1"[..]));

    let _ = parse_authorization(data);
    let mut bearer = b"Bearer ".to_vec();
    bearer.extend_from_slice(data);
    match parse_authorization(&bearer) {
        Some(Token::Password(p)) => assert_eq!(&p[..], data.trim_ascii()),
        other => panic!("Bearer read as {other:?}"),
    }
    if let Some(colon) = data.iter().position(|&b| b == b':') {
        let mut basic = b"Basic ".to_vec();
        basic.extend(
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .bytes(),
        );
        match parse_authorization(&basic) {
            Some(Token::User(u, p)) => {
                assert_eq!(&u[..], &data[..colon]);
                assert_eq!(&p[..], &data[colon + 1..]);
            }
            other => panic!("Basic read as {other:?}"),
        }
    }

    if let Ok(requests) = requests_of(&text) {
        for r in requests {
            let name = &r[0][..];
            assert!(
                [
                    &b"subscribe"[..],
                    b"psubscribe",
                    b"unsubscribe",
                    b"punsubscribe"
                ]
                .contains(&name),
                "a request outside the four: {name:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every committed seed passes its target: the corpus is valid input to
    /// start from, and the harness's invariants hold on the cases we know.
    #[test]
    fn seeds_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for (dir, body) in [
            ("resp", fuzz_resp as fn(&[u8])),
            ("resp", fuzz_resp_pieces),
            ("text", fuzz_text),
            ("config", fuzz_config),
            ("aof", fuzz_aof),
            ("rdb", fuzz_rdb),
            ("http", fuzz_http),
            ("values", fuzz_values),
        ] {
            let mut n = 0;
            for entry in std::fs::read_dir(root.join(dir)).expect("corpus dir") {
                let path = entry.expect("entry").path();
                let data = std::fs::read(&path).expect("seed");
                body(&data);
                n += 1;
            }
            assert!(n > 0, "no seeds for {dir}");
        }
    }

    #[test]
    fn every_cut_of_the_seeds_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for dir in ["resp", "text"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("corpus dir") {
                let mut data = std::fs::read(entry.expect("entry").path()).expect("seed");
                if data.len() < 2 {
                    continue;
                }
                for cut in 0..=255u8 {
                    let i = if dir == "resp" { 1 } else { 0 };
                    data[i] = cut;
                    if dir == "resp" {
                        for sel in 0..4 {
                            data[0] = sel;
                            fuzz_resp(&data);
                            fuzz_resp_pieces(&data);
                        }
                    } else {
                        fuzz_text(&data);
                    }
                }
            }
        }
    }

    /// Every aof seed under many read sizes and every cut selector.
    #[test]
    fn every_read_size_and_cut_of_the_aof_seeds_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/aof");
        for entry in std::fs::read_dir(root).expect("corpus dir") {
            let mut data = std::fs::read(entry.expect("entry").path()).expect("seed");
            if data.len() < 2 {
                continue;
            }
            for piece in [1u8, 2, 3, 7, 12, 13, 64, 255] {
                data[0] = piece;
                for cut in 0..=255u8 {
                    data[1] = cut;
                    fuzz_aof(&data);
                }
            }
        }
    }

    #[test]
    fn pieces_cover_the_stream_exactly() {
        let stream = [7u8; 1000];
        for cut in 0..=255u8 {
            let case = RespCase {
                limits: resp_limits(0),
                cut,
                stream: &stream,
            };
            let pieces = case.pieces();
            let mut at = 0;
            for p in &pieces {
                assert_eq!(p.start, at);
                assert!(!p.is_empty() && p.len() <= usize::from(cut) + 1);
                at = p.end;
            }
            assert_eq!(at, stream.len());
        }
    }

    #[test]
    fn the_allocation_check_sees_allocations() {
        let (v, used) = measure(|| vec![0u8; 4096]);
        assert_eq!(v.len(), 4096);
        assert!(used >= 4096);
        let ((), none) = measure(|| ());
        assert_eq!(none, 0);
    }

    #[test]
    #[should_panic(expected = "not incomplete")]
    fn a_prefix_that_answers_early_is_caught() {
        let whole = Step::Request {
            consumed: 10,
            kind: RequestKind::Inline,
            ranges: vec![],
            args: vec![],
        };
        check_prefix(&whole, &Step::Error("Protocol error: x".into()), 3);
    }

    /// Every cut and every single-byte change of the RDB seeds passes the
    /// target (truncations and corruptions in every field of real files).
    #[test]
    fn every_cut_and_flip_of_the_rdb_seeds_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/rdb");
        for entry in std::fs::read_dir(root).expect("corpus dir") {
            let data = std::fs::read(entry.expect("entry").path()).expect("seed");
            for cut in 0..data.len() {
                fuzz_rdb(&data[..cut]);
            }
            for i in 0..data.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = data.clone();
                    bad[i] ^= flip;
                    fuzz_rdb(&bad);
                }
            }
        }
    }
}
