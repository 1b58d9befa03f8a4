//! Black-box protocol tests: RESP2/RESP3 framing, inline commands, malformed
//! input, pipelining, many connections, connection/server commands, AUTH, the
//! text protocol, redis-cli / redis-benchmark, and SIGTERM. Expected bytes are
//! Redis 7's exact replies.

mod common;

use common::{closed_by_peer, read_at_least, resp, roundtrip, Server};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Read timeout for raw sockets: no test can hang longer than this per read.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Bytes shown with escapes (`\r\n`, `\x00`) for assertion messages.
fn show(b: &[u8]) -> String {
    if b.len() > 600 {
        format!("{}... ({} bytes total)", b[..600].escape_ascii(), b.len())
    } else {
        b.escape_ascii().to_string()
    }
}

#[track_caller]
fn check(ctx: &str, actual: &[u8], expected: &[u8]) {
    assert!(
        actual == expected,
        "{ctx}:\n  expected: \"{}\"\n  actual:   \"{}\"",
        show(expected),
        show(actual)
    );
}

#[track_caller]
fn check_prefix(ctx: &str, actual: &[u8], prefix: &[u8]) {
    assert!(
        actual.starts_with(prefix),
        "{ctx}:\n  expected a reply starting with: \"{}\"\n  actual: \"{}\"",
        show(prefix),
        show(actual)
    );
}

#[track_caller]
fn check_contains(ctx: &str, actual: &[u8], needle: &[u8]) {
    assert!(
        actual.windows(needle.len()).any(|w| w == needle),
        "{ctx}:\n  expected a reply containing: \"{}\"\n  actual: \"{}\"",
        show(needle),
        show(actual)
    );
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

/// End offset of the complete RESP2/RESP3 reply starting at `pos`, or `None`
/// when more bytes are needed. Panics on a byte that starts no RESP type.
fn reply_end(buf: &[u8], pos: usize) -> Option<usize> {
    let t = *buf.get(pos)?;
    let e = find_crlf(buf, pos)?;
    let line = &buf[pos + 1..e];
    let next = e + 2;
    let num = || -> i64 {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad length line in reply: \"{}\"", show(&buf[pos..])))
    };
    match t {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(next),
        b'$' | b'!' | b'=' => {
            let n = num();
            if n < 0 {
                return Some(next);
            }
            let end = next + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num();
            if n < 0 {
                return Some(next);
            }
            let items = if t == b'%' || t == b'|' { 2 * n } else { n };
            let mut p = next;
            for _ in 0..items {
                p = reply_end(buf, p)?;
            }
            if t == b'|' {
                // An attribute precedes the value it describes.
                p = reply_end(buf, p)?;
            }
            Some(p)
        }
        _ => panic!(
            "reply does not start with a RESP type byte: \"{}\"",
            show(&buf[pos..])
        ),
    }
}

/// Split a byte stream of complete replies into one slice per reply.
fn split_replies(buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < buf.len() {
        match reply_end(buf, p) {
            Some(e) => {
                out.push(&buf[p..e]);
                p = e;
            }
            None => {
                out.push(&buf[p..]);
                break;
            }
        }
    }
    out
}

/// A raw RESP connection that reads exactly one reply at a time.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(s: TcpStream) -> Conn {
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        s.set_nodelay(true).ok();
        Conn { s, buf: Vec::new() }
    }

    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write to server");
    }

    /// Send a multibulk request and read its reply.
    fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&resp(args));
        self.reply()
    }

    /// Send an inline request (`\r\n` appended) and read its reply.
    fn inline(&mut self, line: &str) -> Vec<u8> {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    fn try_reply(&mut self) -> Result<Vec<u8>, String> {
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(end) = reply_end(&self.buf, 0) {
                return Ok(self.buf.drain(..end).collect());
            }
            match self.s.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "connection closed by server; partial reply \"{}\"",
                        show(&self.buf)
                    ))
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    return Err(format!(
                        "read failed ({e}); partial reply \"{}\"",
                        show(&self.buf)
                    ))
                }
            }
        }
    }

    #[track_caller]
    fn reply(&mut self) -> Vec<u8> {
        match self.try_reply() {
            Ok(r) => r,
            Err(e) => panic!("no complete reply: {e}"),
        }
    }

    /// Everything the server sends until it closes, and whether it did close
    /// (EOF or reset) within the read timeout.
    fn rest_until_close(&mut self) -> (Vec<u8>, bool) {
        let mut out = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 65536];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    let closed = matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset
                            | ErrorKind::BrokenPipe
                            | ErrorKind::ConnectionAborted
                    );
                    return (out, closed);
                }
            }
        }
    }
}

/// Send `data` from another thread (errors ignored: the server may close
/// before it has read everything) while this thread reads the server's answer
/// until it closes. Returns (bytes received, closed by server).
fn send_expecting_close(conn: &mut Conn, data: Vec<u8>) -> (Vec<u8>, bool) {
    let mut w = conn.s.try_clone().expect("clone socket");
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&data);
    });
    let r = conn.rest_until_close();
    let _ = writer.join();
    r
}

/// The server still accepts and serves a new connection, and the
/// already-open `other` connection still works.
#[track_caller]
fn assert_still_serving(srv: &Server, other: &mut Conn, ctx: &str) {
    let mut fresh = Conn::new(srv.raw());
    check(
        &format!("{ctx}: PING on a new connection"),
        &fresh.cmd(&[b"PING"]),
        b"+PONG\r\n",
    );
    check(
        &format!("{ctx}: PING on an already-open connection"),
        &other.cmd(&[b"PING"]),
        b"+PONG\r\n",
    );
    check(
        &format!("{ctx}: SET on an already-open connection"),
        &other.cmd(&[b"SET", b"alive", b"yes"]),
        b"+OK\r\n",
    );
    check(
        &format!("{ctx}: GET on a new connection"),
        &fresh.cmd(&[b"GET", b"alive"]),
        b"$3\r\nyes\r\n",
    );
}

/// Send malformed input on a fresh connection: expect exactly `expected`
/// (Redis's error line), then the server closes the connection; then the
/// server is still fine for new and existing connections.
#[track_caller]
fn expect_protocol_error(srv: &Server, other: &mut Conn, send: &[u8], expected: &[u8]) {
    let ctx = format!("sent \"{}\"", show(send));
    let mut c = Conn::new(srv.raw());
    let (got, closed) = send_expecting_close(&mut c, send.to_vec());
    check(&ctx, &got, expected);
    assert!(
        closed,
        "{ctx}: the server must close the connection after a protocol error"
    );
    assert_still_serving(srv, other, &ctx);
}

fn bulk(v: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

fn int_reply(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn err_text(r: &redis::RedisError) -> String {
    // `code` is the first word of the server's error line, `detail` the rest.
    match (r.code(), r.detail()) {
        (Some(c), Some(d)) => format!("{c} {d}"),
        (Some(c), None) => c.to_string(),
        _ => r.to_string(),
    }
}

// ---------------------------------------------------------------------------
// 1. RESP basics
// ---------------------------------------------------------------------------

#[test]
fn resp_multibulk_ping() {
    let srv = Server::start(1, &[]);
    let mut s = srv.raw();
    let r = roundtrip(&mut s, b"*1\r\n$4\r\nPING\r\n", 7);
    check("*1 PING", &r, b"+PONG\r\n");
    // Several requests split across writes at awkward places.
    s.write_all(b"*1\r\n$4\r\nPI").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"NG\r\n*2\r\n$4").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"\r\nECHO\r\n$2\r\nhi\r\n").unwrap();
    let r = read_at_least(&mut s, 15);
    check(
        "PING/ECHO split across writes",
        &r,
        b"+PONG\r\n$2\r\nhi\r\n",
    );
    // A pipeline delivered one byte per write.
    s.set_nodelay(true).unwrap();
    let mut req = resp(&[b"SET", b"k", b"hello"]);
    req.extend_from_slice(&resp(&[b"GET", b"k"]));
    req.extend_from_slice(b"ECHO inline\r\n");
    for b in &req {
        s.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
    let want: &[u8] = b"+OK\r\n$5\r\nhello\r\n$6\r\ninline\r\n";
    let r = read_at_least(&mut s, want.len());
    check("pipeline sent byte by byte", &r, want);
}

#[test]
fn large_values_roundtrip() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    for size in [
        16 * 1024 - 1,
        16 * 1024,
        16 * 1024 + 1,
        100_000,
        3 * 1024 * 1024,
    ] {
        let v: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let key = format!("big{size}");
        check(
            &format!("SET {size}-byte value"),
            &c.cmd(&[b"SET", key.as_bytes(), &v]),
            b"+OK\r\n",
        );
        let r = c.cmd(&[b"GET", key.as_bytes()]);
        assert!(
            r == bulk(&v),
            "GET {size}-byte value: got {} bytes",
            r.len()
        );
        check(
            &format!("STRLEN {size}"),
            &c.cmd(&[b"STRLEN", key.as_bytes()]),
            &int_reply(size as i64),
        );
    }
}

#[test]
fn inline_commands_and_quoting() {
    let srv = Server::start(1, &[]);
    let mut c = Conn::new(srv.raw());
    check("inline PING", &c.inline("PING"), b"+PONG\r\n");
    check("inline ping lower case", &c.inline("ping"), b"+PONG\r\n");
    check(
        "inline SET k \"hello world\"",
        &c.inline("SET k \"hello world\""),
        b"+OK\r\n",
    );
    check(
        "inline GET k",
        &c.inline("GET k"),
        b"$11\r\nhello world\r\n",
    );
    check(
        "RESP GET k",
        &c.cmd(&[b"GET", b"k"]),
        b"$11\r\nhello world\r\n",
    );
    // Redis's sdssplitargs: escapes inside double quotes, single quotes literal,
    // runs of spaces/tabs separate arguments.
    check(
        "inline SET with escapes",
        &c.inline("SET  e\t\"a\\x41\\n\\\"q\\\"\""),
        b"+OK\r\n",
    );
    check("GET e", &c.inline("GET e"), b"$6\r\naA\n\"q\"\r\n");
    check(
        "inline SET with single quotes",
        &c.inline("SET s 'x \"y\" \\'z\\''"),
        b"+OK\r\n",
    );
    check("GET s", &c.inline("GET s"), b"$9\r\nx \"y\" 'z'\r\n");
    // An inline line ended by a bare \n works too (telnet/nc).
    c.send(b"PING\n");
    check("inline PING ended by \\n", &c.reply(), b"+PONG\r\n");
    // Inline and multibulk requests mixed in one write.
    c.send(b"GET k\r\n*1\r\n$4\r\nPING\r\nECHO x\r\n");
    check("mixed 1", &c.reply(), b"$11\r\nhello world\r\n");
    check("mixed 2", &c.reply(), b"+PONG\r\n");
    check("mixed 3", &c.reply(), b"$1\r\nx\r\n");
}

#[test]
fn inline_unbalanced_quotes_closes_connection() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"SET k \"hello\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"SET k 'hello\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    // A closing quote must be followed by a space or the end of the line.
    expect_protocol_error(
        &srv,
        &mut other,
        b"SET k \"a\"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    // The key was never set.
    check(
        "GET k after rejected SETs",
        &other.cmd(&[b"GET", b"k"]),
        b"$-1\r\n",
    );
}

// ---------------------------------------------------------------------------
// 2. Bad input
// ---------------------------------------------------------------------------

#[test]
fn client_vanishes_mid_request() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    for _ in 0..5 {
        let mut s = srv.raw();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(s);
    }
    // Also vanish in the middle of a length line and of an inline request.
    let mut s = srv.raw();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$1").unwrap();
    drop(s);
    let mut s = srv.raw();
    s.write_all(b"SET k \"abc").unwrap();
    drop(s);
    std::thread::sleep(Duration::from_millis(100));
    assert_still_serving(&srv, &mut other, "after clients vanished mid-request");
    check(
        "the truncated SET must not have been executed",
        &other.cmd(&[b"GET", b"k"]),
        b"$-1\r\n",
    );
}

#[test]
fn wrong_type_byte_in_multibulk() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n+PING\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"-ERR Protocol error: expected '$', got ':'\r\n",
    );
    // Requests before the malformed one in the same packet are answered first.
    expect_protocol_error(
        &srv,
        &mut other,
        b"PING\r\n*1\r\n+PING\r\n",
        b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"SET pre 1\r\nGET pre\r\n*1\r\n$x\r\nGET pre\r\n",
        b"+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn negative_bulk_length() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n$-5\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // $-1 (a null bulk) is not a valid request argument either.
    expect_protocol_error(
        &srv,
        &mut other,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-1\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn two_gigabyte_bulk_length() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n$2147483648\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Just over the default proto-max-bulk-len (512 MB).
    expect_protocol_error(
        &srv,
        &mut other,
        b"*2\r\n$3\r\nGET\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Larger than u64.
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n$99999999999999999999999\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn huge_multibulk_count() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*2147483648\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"*99999999999999999999999\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn non_numeric_lengths() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1a\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    expect_protocol_error(
        &srv,
        &mut other,
        b"*1\r\n$4a\r\nPING\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn binary_key_and_value_roundtrip() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    let key: &[u8] = b"bin\0key\r\nwith\r\n\0crlf\xff";
    let value: &[u8] = b"\0\r\n$3\r\n*1\r\n\xfe\xff\r";
    check("SET binary key", &c.cmd(&[b"SET", key, value]), b"+OK\r\n");
    check("GET binary key", &c.cmd(&[b"GET", key]), &bulk(value));
    check("EXISTS binary key", &c.cmd(&[b"EXISTS", key]), b":1\r\n");
    check(
        "STRLEN binary value",
        &c.cmd(&[b"STRLEN", key]),
        &int_reply(value.len() as i64),
    );
    // A key that differs only after the NUL byte is a different key.
    check(
        "GET prefix up to NUL",
        &c.cmd(&[b"GET", b"bin\0key"]),
        b"$-1\r\n",
    );
    check("GET 'bin'", &c.cmd(&[b"GET", b"bin"]), b"$-1\r\n");
    // The empty key and the empty value are valid too.
    check("SET empty key", &c.cmd(&[b"SET", b"", b""]), b"+OK\r\n");
    check("GET empty key", &c.cmd(&[b"GET", b""]), b"$0\r\n\r\n");
    // Visible from another connection (possibly another core).
    let mut d = Conn::new(srv.raw());
    check(
        "GET binary key from another connection",
        &d.cmd(&[b"GET", key]),
        &bulk(value),
    );
    check("DEL binary key", &d.cmd(&[b"DEL", key]), b":1\r\n");
    check("GET after DEL", &c.cmd(&[b"GET", key]), b"$-1\r\n");
}

#[test]
fn too_big_inline_request() {
    let srv = Server::start(2, &[]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    let mut c = Conn::new(srv.raw());
    let big = vec![b'a'; 70 * 1024];
    let (got, closed) = send_expecting_close(&mut c, big);
    check(
        "70 KB inline request without newline",
        &got,
        b"-ERR Protocol error: too big inline request\r\n",
    );
    assert!(
        closed,
        "connection must be closed after too big inline request"
    );
    assert_still_serving(&srv, &mut other, "after a too big inline request");
    // An inline request just under 64 KB still works.
    let mut c = Conn::new(srv.raw());
    let val = "v".repeat(60 * 1024);
    check(
        "60 KB inline SET",
        &c.inline(&format!("SET big {val}")),
        b"+OK\r\n",
    );
    check("STRLEN big", &c.cmd(&[b"STRLEN", b"big"]), b":61440\r\n");
}

#[test]
fn proto_max_bulk_len_flag() {
    let srv = Server::start(2, &["--proto-max-bulk-len", "2048"]);
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    // At the limit: accepted.
    let ok_val = vec![b'y'; 2048];
    check(
        "SET with a 2048-byte value",
        &other.cmd(&[b"SET", b"k", &ok_val]),
        b"+OK\r\n",
    );
    // Over it: rejected as soon as the length line arrives.
    let mut c = Conn::new(srv.raw());
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4096\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 4096));
    req.extend_from_slice(b"\r\n");
    let (got, closed) = send_expecting_close(&mut c, req);
    check(
        "SET with a 4096-byte value under --proto-max-bulk-len 2048",
        &got,
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    assert!(
        closed,
        "connection must be closed after invalid bulk length"
    );
    assert_still_serving(&srv, &mut other, "after a bulk over proto-max-bulk-len");
    check(
        "the rejected SET did not change k",
        &other.cmd(&[b"STRLEN", b"k"]),
        b":2048\r\n",
    );
}

#[test]
fn empty_requests_are_ignored() {
    let srv = Server::start(1, &[]);
    let mut c = Conn::new(srv.raw());
    c.send(b"*0\r\n");
    c.send(b"*0\r\n*0\r\n*1\r\n$4\r\nPING\r\n");
    check("*0 then PING", &c.reply(), b"+PONG\r\n");
    // Empty inline lines and *-1 are skipped as well.
    c.send(b"\r\n\r\n*-1\r\nPING\r\n");
    check("empty lines, *-1, then PING", &c.reply(), b"+PONG\r\n");
    // Nothing else was queued: the next reply is the next command's.
    check("ECHO after", &c.cmd(&[b"ECHO", b"z"]), b"$1\r\nz\r\n");
}

// ---------------------------------------------------------------------------
// 3. Unknown command, arity
// ---------------------------------------------------------------------------

#[test]
fn unknown_command_and_wrong_arity() {
    let srv = Server::start(1, &[]);
    let mut c = Conn::new(srv.raw());
    check(
        "unknown command foo a b",
        &c.cmd(&[b"foo", b"a", b"b"]),
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
    check(
        "unknown command without args",
        &c.cmd(&[b"nosuchcmd"]),
        b"-ERR unknown command 'nosuchcmd', with args beginning with: \r\n",
    );
    check(
        "unknown inline command",
        &c.inline("FOO x"),
        b"-ERR unknown command 'FOO', with args beginning with: 'x' \r\n",
    );
    check(
        "GET without key",
        &c.cmd(&[b"GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    check(
        "GET with two keys (upper-case name still reported lower-case)",
        &c.cmd(&[b"GET", b"a", b"b"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    check(
        "SET with one arg",
        &c.cmd(&[b"set", b"a"]),
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    // The connection is still usable after errors.
    check("PING after errors", &c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn unknown_command_error_is_truncated_and_sanitized() {
    let srv = Server::start(1, &[]);
    let mut c = Conn::new(srv.raw());
    // Redis prints at most ~128 characters of arguments and of the name.
    let long_a = "a".repeat(200);
    let mut want = b"-ERR unknown command 'foo', with args beginning with: '".to_vec();
    want.extend_from_slice("a".repeat(128).as_bytes());
    want.extend_from_slice(b"' \r\n");
    check(
        "unknown command with a 200-byte arg",
        &c.cmd(&[b"foo", long_a.as_bytes(), b"b"]),
        &want,
    );
    let a100 = "a".repeat(100);
    let b100 = "b".repeat(100);
    let mut want = b"-ERR unknown command 'foo', with args beginning with: '".to_vec();
    want.extend_from_slice(a100.as_bytes());
    want.extend_from_slice(b"' '");
    want.extend_from_slice("b".repeat(25).as_bytes());
    want.extend_from_slice(b"' \r\n");
    check(
        "unknown command with two 100-byte args",
        &c.cmd(&[b"foo", a100.as_bytes(), b100.as_bytes(), b"c"]),
        &want,
    );
    let long_name = "f".repeat(200);
    let mut want = b"-ERR unknown command '".to_vec();
    want.extend_from_slice("f".repeat(128).as_bytes());
    want.extend_from_slice(b"', with args beginning with: 'x' \r\n");
    check(
        "unknown 200-byte command name",
        &c.cmd(&[long_name.as_bytes(), b"x"]),
        &want,
    );
    // CR and LF inside an error line become spaces.
    check(
        "unknown command with CRLF in its name",
        &c.cmd(&[b"fo\r\n", b"a"]),
        b"-ERR unknown command 'fo  ', with args beginning with: 'a' \r\n",
    );
    check(
        "unknown command with CRLF in an argument",
        &c.cmd(&[b"foo", b"a\r\n"]),
        b"-ERR unknown command 'foo', with args beginning with: 'a  ' \r\n",
    );
    check("PING after", &c.cmd(&[b"PING"]), b"+PONG\r\n");
}

// ---------------------------------------------------------------------------
// 4. Pipelining
// ---------------------------------------------------------------------------

/// A deterministic mix of commands and the replies sequential execution gives.
/// Keys are `{prefix}k_N` plus the counter `{prefix}c`, so several connections
/// can run independent mixes at once.
fn mixed_pipeline(n: usize, prefix: &str, seed: u64) -> (Vec<Vec<Vec<u8>>>, Vec<Vec<u8>>) {
    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut cmds = Vec::with_capacity(n);
    let mut replies = Vec::with_capacity(n);
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed;
    let mut next = |m: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % m
    };
    let key = |i: u64| format!("{prefix}k_{i}").into_bytes();
    let counter = format!("{prefix}c").into_bytes();
    for i in 0..n {
        let pick = next(100);
        let k = key(next(300));
        let (cmd, reply): (Vec<Vec<u8>>, Vec<u8>) = match pick {
            0..=24 => {
                // Even: an integer value; odd: not an integer.
                let v = if i.is_multiple_of(2) {
                    i.to_string().into_bytes()
                } else {
                    format!("v{i}").into_bytes()
                };
                model.insert(k.clone(), v.clone());
                (vec![b"SET".to_vec(), k, v], b"+OK\r\n".to_vec())
            }
            25..=39 => {
                let c = counter.clone();
                let cur: i64 = model
                    .get(&c)
                    .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
                    .unwrap_or(0);
                model.insert(c.clone(), (cur + 1).to_string().into_bytes());
                (vec![b"INCR".to_vec(), c], int_reply(cur + 1))
            }
            40..=59 => {
                let r = match model.get(&k) {
                    Some(v) => bulk(v),
                    None => b"$-1\r\n".to_vec(),
                };
                (vec![b"GET".to_vec(), k], r)
            }
            60..=69 => {
                let r = int_reply(model.remove(&k).is_some() as i64);
                (vec![b"DEL".to_vec(), k], r)
            }
            70..=79 => {
                let k2 = key(next(300));
                let count = model.contains_key(&k) as i64 + model.contains_key(&k2) as i64;
                (vec![b"EXISTS".to_vec(), k, k2], int_reply(count))
            }
            80..=89 => {
                // INCR on a key that may hold an integer, a non-integer, or nothing.
                let r = match model.get(&k) {
                    None => {
                        model.insert(k.clone(), b"1".to_vec());
                        int_reply(1)
                    }
                    Some(v) => match std::str::from_utf8(v).unwrap().parse::<i64>() {
                        Ok(n) => {
                            model.insert(k.clone(), (n + 1).to_string().into_bytes());
                            int_reply(n + 1)
                        }
                        Err(_) => b"-ERR value is not an integer or out of range\r\n".to_vec(),
                    },
                };
                (vec![b"INCR".to_vec(), k], r)
            }
            90..=94 => {
                let r = match model.get(&counter) {
                    Some(v) => bulk(v),
                    None => b"$-1\r\n".to_vec(),
                };
                (vec![b"GET".to_vec(), counter.clone()], r)
            }
            95..=97 => (vec![b"PING".to_vec()], b"+PONG\r\n".to_vec()),
            _ => {
                let r = int_reply(model.remove(&counter).is_some() as i64);
                (vec![b"DEL".to_vec(), counter.clone()], r)
            }
        };
        cmds.push(cmd);
        replies.push(reply);
    }
    (cmds, replies)
}

/// Send `cmds` as one pipeline (in `chunk`-byte writes from another thread,
/// the whole thing in one write when `chunk` is 0) and check every reply
/// against `expected`, in order. Returns the socket for further use.
fn check_pipeline(
    mut s: TcpStream,
    cmds: &[Vec<Vec<u8>>],
    expected: &[Vec<u8>],
    chunk: usize,
    ctx: &str,
) -> TcpStream {
    let mut wire = Vec::new();
    for c in cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
        wire.extend_from_slice(&resp(&args));
    }
    let expected_bytes: Vec<u8> = expected.concat();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // Write from another thread while reading, so neither side's socket
    // buffer can deadlock the exchange.
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        if chunk == 0 {
            w.write_all(&wire)
        } else {
            wire.chunks(chunk).try_for_each(|c| w.write_all(c))
        }
    });
    let got = read_at_least(&mut s, expected_bytes.len());
    writer.join().unwrap().expect("write pipeline");
    if got != expected_bytes {
        let replies = split_replies(&got);
        for (i, exp) in expected.iter().enumerate() {
            let act = replies.get(i).copied().unwrap_or(b"<missing>");
            if act != exp.as_slice() {
                let shown: Vec<String> = cmds[i].iter().map(|a| show(a)).collect();
                panic!(
                    "{ctx}: pipeline reply #{i} for {:?} differs:\n  expected: \"{}\"\n  actual:   \"{}\"\n  ({} of {} replies received, {} of {} bytes)",
                    shown,
                    show(exp),
                    show(act),
                    replies.len(),
                    expected.len(),
                    got.len(),
                    expected_bytes.len()
                );
            }
        }
        panic!(
            "{ctx}: extra bytes after the expected replies: \"{}\"",
            show(&got[expected_bytes.len().min(got.len())..])
        );
    }
    s
}

#[test]
fn pipeline_10000_mixed_commands_in_one_write() {
    let srv = Server::start(2, &[]);
    let (cmds, expected) = mixed_pipeline(10_000, "", 0);
    let s = check_pipeline(srv.raw(), &cmds, &expected, 0, "one write of 10,000");
    // Nothing more arrives, and the connection still works.
    let mut c = Conn::new(s);
    check("PING after the pipeline", &c.cmd(&[b"PING"]), b"+PONG\r\n");
    // The same connection can do it again, now in odd-sized writes.
    let (cmds, expected) = mixed_pipeline(3_000, "again:", 7);
    check_pipeline(
        c.s,
        &cmds,
        &expected,
        1_337,
        "second pipeline, 1,337-byte writes",
    );
}

#[test]
fn concurrent_pipelines_keep_their_order() {
    let srv = Server::start(2, &[]);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let s = srv.raw();
            std::thread::spawn(move || {
                let (cmds, expected) = mixed_pipeline(3_000, &format!("t{t}:"), t + 1);
                let chunk = [0, 7, 100, 4096][t as usize % 4];
                let s = check_pipeline(s, &cmds, &expected, chunk, &format!("connection {t}"));
                let mut c = Conn::new(s);
                check("PING after", &c.cmd(&[b"PING"]), b"+PONG\r\n");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a pipelining connection failed");
    }
}

#[test]
fn pipeline_with_redis_crate() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    for i in 0..1000 {
        p.cmd("GET").arg(format!("p{i}"));
    }
    let vals: Vec<i64> = p.query(&mut con).expect("pipeline query");
    assert_eq!(vals, (0..1000).collect::<Vec<i64>>());

    let mut p = redis::pipe();
    p.cmd("INCR").arg("pc");
    p.cmd("INCRBY").arg("pc").arg(10);
    p.cmd("DEL").arg("p0").arg("p1").arg("nope");
    p.cmd("EXISTS").arg("p0").arg("p2");
    p.cmd("GET").arg("p0");
    p.cmd("MGET").arg("p2").arg("p3").arg("missing");
    let (a, b, d, e, g, m): (i64, i64, i64, i64, Option<String>, Vec<Option<String>>) =
        p.query(&mut con).expect("second pipeline");
    assert_eq!((a, b, d, e), (1, 11, 2, 1));
    assert_eq!(g, None);
    assert_eq!(m, vec![Some("2".into()), Some("3".into()), None]);

    // An error in the middle of a pipeline does not disturb the others' replies.
    let mut p = redis::pipe();
    p.cmd("SET").arg("s").arg("text");
    p.cmd("INCR").arg("s");
    p.cmd("GET").arg("s");
    let r: redis::RedisResult<Vec<redis::Value>> = p.query(&mut con);
    match r {
        Err(e) => assert!(
            err_text(&e).contains("value is not an integer or out of range"),
            "unexpected pipeline error: {e}"
        ),
        Ok(v) => panic!("expected the INCR error to surface, got {v:?}"),
    }
    let s: String = redis::cmd("GET").arg("s").query(&mut con).unwrap();
    assert_eq!(s, "text");
}

// ---------------------------------------------------------------------------
// 5. Many connections
// ---------------------------------------------------------------------------

fn open_file_limit() -> Option<u64> {
    let out = Command::new("sh").args(["-c", "ulimit -n"]).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if s == "unlimited" {
        return Some(u64::MAX);
    }
    s.parse().ok()
}

fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

#[test]
fn thousand_concurrent_connections() {
    match open_file_limit() {
        Some(n) if n >= 2100 => {}
        other => {
            eprintln!(
                "NOTE: thousand_concurrent_connections skipped: ulimit -n is {other:?} (< 2100)"
            );
            return;
        }
    }
    let srv = Server::start(2, &[]);
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let s = TcpStream::connect(("127.0.0.1", srv.port))
                .unwrap_or_else(|e| panic!("connect #{i}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        })
        .collect();
    for (i, s) in conns.iter_mut().enumerate() {
        let k = format!("conn_{i}");
        let v = format!("value_{i}");
        s.write_all(&resp(&[b"SET", k.as_bytes(), v.as_bytes()]))
            .unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let r = read_at_least(s, 5);
        check(&format!("SET on connection #{i}"), &r, b"+OK\r\n");
    }
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(&resp(&[b"GET", format!("conn_{i}").as_bytes()]))
            .unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let v = format!("value_{i}");
        let want = bulk(v.as_bytes());
        let r = read_at_least(s, want.len());
        check(&format!("GET on connection #{i}"), &r, &want);
    }
    let mut con = srv.client();
    let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
    assert_eq!(
        info_field(&info, "connected_clients").as_deref(),
        Some("1001"),
        "INFO clients with 1000 raw connections + this one:\n{info}"
    );
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 1000);
    drop(conns);
    // The server notices the closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
        let n = info_field(&info, "connected_clients");
        if n.as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connected_clients did not drop back to 1 after closing 1000 connections: {n:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("1000 connections took {:?}", start.elapsed());
}

// ---------------------------------------------------------------------------
// 6. RESP3
// ---------------------------------------------------------------------------

#[test]
fn resp3_hello_and_nulls() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    check(
        "GET missing in RESP2",
        &c.cmd(&[b"GET", b"missing"]),
        b"$-1\r\n",
    );
    let hello = c.cmd(&[b"HELLO", b"3"]);
    check_prefix("HELLO 3 is a 7-entry map", &hello, b"%7\r\n");
    check_contains("HELLO 3", &hello, b"$5\r\nproto\r\n:3\r\n");
    check_contains("HELLO 3", &hello, b"$6\r\nserver\r\n");
    check_contains("HELLO 3", &hello, b"$7\r\nversion\r\n");
    check_contains("HELLO 3", &hello, b"$2\r\nid\r\n:");
    check_contains("HELLO 3", &hello, b"$4\r\nmode\r\n$10\r\nstandalone\r\n");
    check_contains("HELLO 3", &hello, b"$4\r\nrole\r\n$6\r\nmaster\r\n");
    check_contains("HELLO 3", &hello, b"$7\r\nmodules\r\n*0\r\n");
    check(
        "GET missing in RESP3",
        &c.cmd(&[b"GET", b"missing"]),
        b"_\r\n",
    );
    check(
        "CONFIG GET in RESP3 is a map",
        &c.cmd(&[b"CONFIG", b"GET", b"maxclients"]),
        b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
    check("SET in RESP3", &c.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    check("GET in RESP3", &c.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    check(
        "MGET with a miss in RESP3",
        &c.cmd(&[b"MGET", b"k", b"missing"]),
        b"*2\r\n$1\r\nv\r\n_\r\n",
    );
    let h = c.cmd(&[b"HELLO"]);
    check_prefix("HELLO without a version keeps RESP3", &h, b"%7\r\n");
    check_contains("HELLO without a version", &h, b"$5\r\nproto\r\n:3\r\n");
    let hello2 = c.cmd(&[b"HELLO", b"2"]);
    check_prefix("HELLO 2 is a flat array", &hello2, b"*14\r\n");
    check_contains("HELLO 2", &hello2, b"$5\r\nproto\r\n:2\r\n");
    check(
        "GET missing back in RESP2",
        &c.cmd(&[b"GET", b"missing"]),
        b"$-1\r\n",
    );
    check(
        "HELLO 4",
        &c.cmd(&[b"HELLO", b"4"]),
        b"-NOPROTO unsupported protocol version\r\n",
    );
    check(
        "protocol unchanged after HELLO 4",
        &c.cmd(&[b"GET", b"missing"]),
        b"$-1\r\n",
    );
    // HELLO with SETNAME names the connection.
    let h = c.cmd(&[b"HELLO", b"3", b"SETNAME", b"r3client"]);
    check_prefix("HELLO 3 SETNAME", &h, b"%7\r\n");
    check(
        "CLIENT GETNAME after HELLO SETNAME",
        &c.cmd(&[b"CLIENT", b"GETNAME"]),
        b"$8\r\nr3client\r\n",
    );

    // The redis crate speaking RESP3.
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", srv.port)).unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("RESP3 connection");
    let v: redis::Value = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
}

// ---------------------------------------------------------------------------
// 7. Connection and server commands
// ---------------------------------------------------------------------------

#[test]
fn ping_echo_select_time_reset_quit() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    check("PING hi", &c.cmd(&[b"PING", b"hi"]), b"$2\r\nhi\r\n");
    check(
        "PING a b",
        &c.cmd(&[b"PING", b"a", b"b"]),
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    );
    check(
        "ECHO",
        &c.cmd(&[b"ECHO", b"hello world"]),
        b"$11\r\nhello world\r\n",
    );
    check(
        "ECHO without arg",
        &c.cmd(&[b"ECHO"]),
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
    check("SELECT 0", &c.cmd(&[b"SELECT", b"0"]), b"+OK\r\n");
    let r = c.cmd(&[b"SELECT", b"1"]);
    check_prefix("SELECT 1", &r, b"-ERR DB index is out of range");
    check(
        "SELECT x",
        &c.cmd(&[b"SELECT", b"x"]),
        b"-ERR value is not an integer or out of range\r\n",
    );

    // TIME: two bulk strings, seconds and microseconds.
    let r = c.cmd(&[b"TIME"]);
    let parts = split_replies(&r[4..]);
    check_prefix("TIME", &r, b"*2\r\n");
    assert_eq!(parts.len(), 2, "TIME: \"{}\"", show(&r));
    let num = |p: &[u8]| -> u64 {
        let e = find_crlf(p, 0).unwrap();
        assert_eq!(p[0], b'$', "TIME element is a bulk string: \"{}\"", show(p));
        std::str::from_utf8(&p[e + 2..p.len() - 2])
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("TIME element is an integer: \"{}\"", show(p)))
    };
    let secs = num(parts[0]);
    let micros = num(parts[1]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 5, "TIME seconds {secs} vs now {now}");
    assert!(micros < 1_000_000, "TIME microseconds {micros}");

    // RESET: back to RESP2, no name.
    let hello = c.cmd(&[b"HELLO", b"3"]);
    check_prefix("HELLO 3", &hello, b"%7\r\n");
    check(
        "CLIENT SETNAME",
        &c.cmd(&[b"CLIENT", b"SETNAME", b"before-reset"]),
        b"+OK\r\n",
    );
    check("RESET", &c.cmd(&[b"RESET"]), b"+RESET\r\n");
    check(
        "GET missing after RESET is RESP2",
        &c.cmd(&[b"GET", b"nokey"]),
        b"$-1\r\n",
    );
    check(
        "CLIENT GETNAME after RESET",
        &c.cmd(&[b"CLIENT", b"GETNAME"]),
        b"$-1\r\n",
    );

    // QUIT: +OK then the server closes; a pipelined command after it is not run.
    c.send(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$9\r\nafterquit\r\n$1\r\n1\r\n");
    check("QUIT", &c.reply(), b"+OK\r\n");
    let (rest, closed) = c.rest_until_close();
    check("nothing after QUIT's +OK", &rest, b"");
    assert!(closed, "server must close the connection after QUIT");
    let mut d = Conn::new(srv.raw());
    check(
        "a command pipelined after QUIT is not executed",
        &d.cmd(&[b"EXISTS", b"afterquit"]),
        b":0\r\n",
    );
}

fn client_id(c: &mut Conn) -> i64 {
    let r = c.cmd(&[b"CLIENT", b"ID"]);
    assert_eq!(r[0], b':', "CLIENT ID is an integer: \"{}\"", show(&r));
    std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

fn bulk_text(r: &[u8]) -> String {
    assert_eq!(r[0], b'$', "expected a bulk string: \"{}\"", show(r));
    let e = find_crlf(r, 0).unwrap();
    String::from_utf8(r[e + 2..r.len() - 2].to_vec()).unwrap()
}

#[track_caller]
fn assert_closed_without_sending(victim: &mut Conn, ctx: &str) {
    let (rest, closed) = victim.rest_until_close();
    assert!(
        closed,
        "{ctx}: the killed connection must be closed by the server (received \"{}\")",
        show(&rest)
    );
    check(&format!("{ctx}: no bytes before close"), &rest, b"");
}

#[test]
fn client_subcommands() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    let id = client_id(&mut c);
    assert!(id > 0);
    let local = c.s.local_addr().unwrap().to_string();
    check(
        "CLIENT GETNAME unset",
        &c.cmd(&[b"CLIENT", b"GETNAME"]),
        b"$-1\r\n",
    );
    check(
        "CLIENT SETNAME",
        &c.cmd(&[b"CLIENT", b"SETNAME", b"alice"]),
        b"+OK\r\n",
    );
    check(
        "CLIENT GETNAME",
        &c.cmd(&[b"CLIENT", b"GETNAME"]),
        b"$5\r\nalice\r\n",
    );
    check(
        "CLIENT SETNAME with a space",
        &c.cmd(&[b"CLIENT", b"SETNAME", b"a b"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    check(
        "CLIENT SETINFO LIB-NAME",
        &c.cmd(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"mylib"]),
        b"+OK\r\n",
    );
    check(
        "CLIENT SETINFO LIB-VER",
        &c.cmd(&[b"CLIENT", b"SETINFO", b"LIB-VER", b"1.2.3"]),
        b"+OK\r\n",
    );

    let info = bulk_text(&c.cmd(&[b"CLIENT", b"INFO"]));
    assert!(
        info.starts_with(&format!("id={id} ")),
        "CLIENT INFO: {info}"
    );
    assert!(
        info.contains(&format!(" addr={local} ")),
        "CLIENT INFO addr {local}: {info}"
    );
    assert!(info.contains(" name=alice "), "CLIENT INFO name: {info}");
    assert!(
        info.contains(" lib-name=mylib"),
        "CLIENT INFO lib-name: {info}"
    );
    assert!(
        info.contains(" lib-ver=1.2.3"),
        "CLIENT INFO lib-ver: {info}"
    );

    let mut others: Vec<Conn> = (0..4).map(|_| Conn::new(srv.raw())).collect();
    let other_ids: Vec<i64> = others.iter_mut().map(client_id).collect();
    let list = bulk_text(&c.cmd(&[b"CLIENT", b"LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 5, "CLIENT LIST with 5 connections:\n{list}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("id={id} ")) && l.contains(" name=alice ")),
        "CLIENT LIST has our line:\n{list}"
    );
    for oid in &other_ids {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("id={oid} "))),
            "CLIENT LIST has id={oid}:\n{list}"
        );
    }
    let ids_only = bulk_text(&c.cmd(&[
        b"CLIENT",
        b"LIST",
        b"ID",
        other_ids[0].to_string().as_bytes(),
    ]));
    assert_eq!(ids_only.lines().count(), 1, "CLIENT LIST ID: {ids_only}");

    // CLIENT KILL ID of other connections (on whichever core they landed).
    for (i, victim) in others.iter_mut().enumerate() {
        let vid = other_ids[i].to_string();
        check(
            &format!("CLIENT KILL ID {vid}"),
            &c.cmd(&[b"CLIENT", b"KILL", b"ID", vid.as_bytes()]),
            b":1\r\n",
        );
        assert_closed_without_sending(victim, &format!("after CLIENT KILL ID {vid}"));
        check(
            &format!("CLIENT KILL ID {vid} again"),
            &c.cmd(&[b"CLIENT", b"KILL", b"ID", vid.as_bytes()]),
            b":0\r\n",
        );
    }
    let list = bulk_text(&c.cmd(&[b"CLIENT", b"LIST"]));
    assert_eq!(list.lines().count(), 1, "CLIENT LIST after kills:\n{list}");
    check(
        "still alive after killing others",
        &c.cmd(&[b"PING"]),
        b"+PONG\r\n",
    );
}

#[test]
fn client_kill_old_form_by_address() {
    let srv = Server::start(2, &[]);
    let mut c = Conn::new(srv.raw());
    let mut victims: Vec<Conn> = (0..3).map(|_| Conn::new(srv.raw())).collect();
    for v in victims.iter_mut() {
        check("victim PING", &v.cmd(&[b"PING"]), b"+PONG\r\n");
    }
    for v in victims.iter_mut() {
        let addr = v.s.local_addr().unwrap().to_string();
        check(
            &format!("CLIENT KILL {addr}"),
            &c.cmd(&[b"CLIENT", b"KILL", addr.as_bytes()]),
            b"+OK\r\n",
        );
        assert_closed_without_sending(v, &format!("after CLIENT KILL {addr}"));
    }
    check(
        "CLIENT KILL unknown address",
        &c.cmd(&[b"CLIENT", b"KILL", b"1.2.3.4:5"]),
        b"-ERR No such client\r\n",
    );
    // New form by ADDR as well.
    let mut v = Conn::new(srv.raw());
    check("victim PING", &v.cmd(&[b"PING"]), b"+PONG\r\n");
    let addr = v.s.local_addr().unwrap().to_string();
    check(
        "CLIENT KILL ADDR",
        &c.cmd(&[b"CLIENT", b"KILL", b"ADDR", addr.as_bytes()]),
        b":1\r\n",
    );
    assert_closed_without_sending(&mut v, "after CLIENT KILL ADDR");
    check("killer still alive", &c.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn maxclients_limit() {
    let srv = Server::start(1, &["--maxclients", "3"]);
    // Wait until the harness's readiness probe has been seen to close, so this
    // connection is the only client.
    let mut first = Conn::new(srv.raw());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = first.cmd(&[b"INFO", b"clients"]);
        if String::from_utf8_lossy(&r).contains("connected_clients:1\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "INFO clients: \"{}\"", show(&r));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut conns = vec![first, Conn::new(srv.raw()), Conn::new(srv.raw())];
    for c in conns.iter_mut() {
        check("PING within maxclients", &c.cmd(&[b"PING"]), b"+PONG\r\n");
    }
    let mut extra = Conn::new(srv.raw());
    let (got, closed) = extra.rest_until_close();
    check(
        "connection over maxclients",
        &got,
        b"-ERR max number of clients reached\r\n",
    );
    assert!(closed, "a connection over maxclients must be closed");
    // Existing clients are unaffected; after one leaves, a new one is served.
    check(
        "PING on an admitted connection",
        &conns[2].cmd(&[b"PING"]),
        b"+PONG\r\n",
    );
    conns.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Conn::new(srv.raw());
        c.send(b"PING\r\n");
        match c.try_reply() {
            Ok(r) if r == b"+PONG\r\n" => break,
            Ok(r) => check_prefix(
                "retry after a client left",
                &r,
                b"-ERR max number of clients reached",
            ),
            Err(e) => panic!("retry after a client left: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "a slot never freed up after a client left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn info_sections() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let _: () = redis::cmd("SET")
        .arg("somekey")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    for needle in [
        "# Server\r\n",
        "redis_version:",
        "# Clients\r\n",
        "# Keyspace\r\n",
        "db0:keys=1,",
        "# Staircase\r\n",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle:?}:\n{info}");
    }
    let port = info_field(&info, "tcp_port");
    assert_eq!(port, Some(srv.port.to_string()), "tcp_port in INFO");
    let ks: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(ks.contains("# Keyspace\r\n"), "INFO keyspace:\n{ks}");
    assert!(ks.contains("db0:keys=1,"), "INFO keyspace:\n{ks}");
    for other in [
        "# Server",
        "# Clients",
        "# Staircase",
        "# Memory",
        "# Stats",
    ] {
        assert!(
            !ks.contains(other),
            "INFO keyspace must contain only that section, found {other:?}:\n{ks}"
        );
    }
    let sv: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
    assert!(sv.starts_with("# Server\r\n"), "INFO server:\n{sv}");
    assert!(!sv.contains("# Keyspace"), "INFO server:\n{sv}");
    // Section names are case-insensitive.
    let ks2: String = redis::cmd("INFO").arg("KEYSPACE").query(&mut con).unwrap();
    assert!(ks2.contains("# Keyspace\r\n"), "INFO KEYSPACE:\n{ks2}");
}

#[test]
fn config_get_and_set() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert_eq!(v, vec!["maxclients".to_string(), "10000".to_string()]);
    let all: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut con)
        .unwrap();
    assert!(
        all.len().is_multiple_of(2) && all.len() >= 10,
        "CONFIG GET *: {all:?}"
    );
    let map: HashMap<&str, &str> = all
        .chunks(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect();
    assert_eq!(
        map.get("maxclients"),
        Some(&"10000"),
        "CONFIG GET *: {all:?}"
    );
    let port = srv.port.to_string();
    assert_eq!(
        map.get("port"),
        Some(&port.as_str()),
        "CONFIG GET *: {all:?}"
    );
    assert_eq!(
        map.get("proto-max-bulk-len"),
        Some(&"536870912"),
        "CONFIG GET *: {all:?}"
    );
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("max*")
        .query(&mut con)
        .unwrap();
    assert!(
        pair.chunks(2).all(|p| p[0].starts_with("max")) && pair.contains(&"maxclients".into()),
        "CONFIG GET max*: {pair:?}"
    );

    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1048576")
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("proto-max-bulk-len")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        v,
        vec!["proto-max-bulk-len".to_string(), "1048576".to_string()]
    );
    // The new limit applies to requests.
    let mut other = Conn::new(srv.raw());
    check("other PING", &other.cmd(&[b"PING"]), b"+PONG\r\n");
    expect_protocol_error(
        &srv,
        &mut other,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );

    let mut c = Conn::new(srv.raw());
    let r = c.cmd(&[b"CONFIG", b"SET", b"port", b"7000"]);
    check_prefix("CONFIG SET port", &r, b"-ERR ");
    check_contains("CONFIG SET port", &r, b"immutable");
    check(
        "CONFIG SET nosuch",
        &c.cmd(&[b"CONFIG", b"SET", b"nosuch", b"1"]),
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
    );
    check(
        "CONFIG GET unknown parameter",
        &c.cmd(&[b"CONFIG", b"GET", b"nosuch"]),
        b"*0\r\n",
    );
}

/// Redis 7 reports a subcommand's arity error with the `container|sub` name.
#[test]
fn subcommand_arity_errors() {
    let srv = Server::start(1, &[]);
    let mut c = Conn::new(srv.raw());
    check(
        "CONFIG GET without parameter",
        &c.cmd(&[b"CONFIG", b"GET"]),
        b"-ERR wrong number of arguments for 'config|get' command\r\n",
    );
    check(
        "CONFIG SET without value",
        &c.cmd(&[b"CONFIG", b"SET", b"maxclients"]),
        b"-ERR wrong number of arguments for 'config|set' command\r\n",
    );
    check(
        "CLIENT SETNAME without name",
        &c.cmd(&[b"CLIENT", b"SETNAME"]),
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    check(
        "CLIENT without subcommand",
        &c.cmd(&[b"CLIENT"]),
        b"-ERR wrong number of arguments for 'client' command\r\n",
    );
    check(
        "CONFIG without subcommand",
        &c.cmd(&[b"CONFIG"]),
        b"-ERR wrong number of arguments for 'config' command\r\n",
    );
    check(
        "unknown CLIENT subcommand",
        &c.cmd(&[b"CLIENT", b"NOSUCH"]),
        b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n",
    );
    check(
        "unknown CONFIG subcommand",
        &c.cmd(&[b"CONFIG", b"NOSUCH"]),
        b"-ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP.\r\n",
    );
}

#[test]
fn command_introspection_and_dbsize() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let n: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    assert!(n > 40, "COMMAND COUNT = {n}");
    let info: redis::Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .query(&mut con)
        .unwrap();
    match &info {
        redis::Value::Array(outer) if outer.len() == 1 => match &outer[0] {
            redis::Value::Array(entry) => {
                assert!(
                    matches!(&entry[0], redis::Value::BulkString(b) if b == b"get")
                        || matches!(&entry[0], redis::Value::SimpleString(s) if s == "get"),
                    "COMMAND INFO get name: {info:?}"
                );
                assert_eq!(entry[1], redis::Value::Int(2), "COMMAND INFO get arity");
            }
            other => panic!("COMMAND INFO get entry: {other:?}"),
        },
        other => panic!("COMMAND INFO get: {other:?}"),
    }
    let set_info: redis::Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("set")
        .arg("nosuchcommand")
        .query(&mut con)
        .unwrap();
    match &set_info {
        redis::Value::Array(outer) => {
            assert_eq!(
                outer.len(),
                2,
                "COMMAND INFO set nosuchcommand: {set_info:?}"
            );
            match &outer[0] {
                redis::Value::Array(e) => assert_eq!(e[1], redis::Value::Int(-3), "SET arity"),
                o => panic!("COMMAND INFO set: {o:?}"),
            }
            assert_eq!(
                outer[1],
                redis::Value::Nil,
                "unknown command in COMMAND INFO"
            );
        }
        o => panic!("COMMAND INFO set nosuchcommand: {o:?}"),
    }

    // COMMAND DOCS: RESP2 flat array, RESP3 map; both with a summary.
    let mut c = Conn::new(srv.raw());
    let docs = c.cmd(&[b"COMMAND", b"DOCS", b"get"]);
    check_prefix("COMMAND DOCS get (RESP2)", &docs, b"*2\r\n$3\r\nget\r\n*");
    check_contains("COMMAND DOCS get (RESP2)", &docs, b"$7\r\nsummary\r\n");
    check_prefix("HELLO 3", &c.cmd(&[b"HELLO", b"3"]), b"%7\r\n");
    let docs = c.cmd(&[b"COMMAND", b"DOCS", b"get"]);
    check_prefix("COMMAND DOCS get (RESP3)", &docs, b"%1\r\n$3\r\nget\r\n%");
    check_contains("COMMAND DOCS get (RESP3)", &docs, b"$7\r\nsummary\r\n");

    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0, "DBSIZE of a fresh server");
    for k in ["a", "b", "c"] {
        let _: () = redis::cmd("SET").arg(k).arg(1).query(&mut con).unwrap();
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 3);
    let _: i64 = redis::cmd("DEL").arg("a").query(&mut con).unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------
// 8. AUTH
// ---------------------------------------------------------------------------

#[test]
fn auth_with_requirepass() {
    let srv = Server::start(2, &["--requirepass", "secret"]);
    let mut c = Conn::new(srv.raw());
    check(
        "GET before AUTH",
        &c.cmd(&[b"GET", b"k"]),
        b"-NOAUTH Authentication required.\r\n",
    );
    check(
        "SET before AUTH",
        &c.cmd(&[b"SET", b"k", b"v"]),
        b"-NOAUTH Authentication required.\r\n",
    );
    let r = c.cmd(&[b"AUTH", b"wrong"]);
    check_prefix("AUTH wrong", &r, b"-WRONGPASS");
    check(
        "AUTH wrong (exact)",
        &r,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    check(
        "GET after failed AUTH",
        &c.cmd(&[b"GET", b"k"]),
        b"-NOAUTH Authentication required.\r\n",
    );
    check("AUTH secret", &c.cmd(&[b"AUTH", b"secret"]), b"+OK\r\n");
    check("GET after AUTH", &c.cmd(&[b"GET", b"k"]), b"$-1\r\n");
    check("SET after AUTH", &c.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");

    // AUTH default <password> (two-argument form).
    let mut d = Conn::new(srv.raw());
    check(
        "AUTH default secret",
        &d.cmd(&[b"AUTH", b"default", b"secret"]),
        b"+OK\r\n",
    );
    check("GET k on d", &d.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
    // RESET de-authenticates.
    check("RESET", &d.cmd(&[b"RESET"]), b"+RESET\r\n");
    check(
        "GET after RESET",
        &d.cmd(&[b"GET", b"k"]),
        b"-NOAUTH Authentication required.\r\n",
    );

    // HELLO 3 without AUTH is refused; HELLO 3 AUTH default secret works.
    let mut h = Conn::new(srv.raw());
    let r = h.cmd(&[b"HELLO", b"3"]);
    check_prefix("HELLO 3 before auth", &r, b"-NOAUTH");
    let r = h.cmd(&[b"HELLO", b"3", b"AUTH", b"default", b"wrong"]);
    check_prefix("HELLO 3 AUTH default wrong", &r, b"-WRONGPASS");
    let r = h.cmd(&[b"HELLO", b"3", b"AUTH", b"default", b"secret"]);
    check_prefix("HELLO 3 AUTH default secret", &r, b"%7\r\n");
    check_contains("HELLO 3 AUTH default secret", &r, b"$5\r\nproto\r\n:3\r\n");
    check(
        "GET after HELLO AUTH",
        &h.cmd(&[b"GET", b"k"]),
        b"$1\r\nv\r\n",
    );
    check(
        "GET missing in RESP3 after HELLO AUTH",
        &h.cmd(&[b"GET", b"zz"]),
        b"_\r\n",
    );

    // The redis crate with a password in the URL.
    let client = redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", srv.port)).unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect with password in URL");
    let _: () = redis::cmd("SET")
        .arg("url")
        .arg("works")
        .query(&mut con)
        .unwrap();
    let v: String = redis::cmd("GET").arg("url").query(&mut con).unwrap();
    assert_eq!(v, "works");
    // RESP3 with a password in the URL (HELLO 3 AUTH).
    let client = redis::Client::open(format!(
        "redis://:secret@127.0.0.1:{}/?protocol=resp3",
        srv.port
    ))
    .unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect with password in URL (RESP3)");
    let v: String = redis::cmd("GET").arg("url").query(&mut con).unwrap();
    assert_eq!(v, "works");
    // A wrong password fails the connection.
    let client = redis::Client::open(format!("redis://:nope@127.0.0.1:{}/", srv.port)).unwrap();
    assert!(
        client
            .get_connection_with_timeout(Duration::from_secs(10))
            .is_err(),
        "connecting with a wrong password must fail"
    );
    // No password: commands fail with NOAUTH.
    let mut con = srv.client();
    let e = redis::cmd("GET")
        .arg("url")
        .query::<Option<String>>(&mut con)
        .expect_err("GET without AUTH must fail");
    assert_eq!(e.code(), Some("NOAUTH"), "{e}");
}

// ---------------------------------------------------------------------------
// 9. Text protocol
// ---------------------------------------------------------------------------

fn text_line(s: &mut TcpStream, line: &str) -> String {
    s.write_all(line.as_bytes()).expect("write text");
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => {
                out.push(b[0]);
                if b[0] == b'\n' {
                    break;
                }
            }
            Err(e) => panic!("text reply to {line:?}: {e}; partial {:?}", show(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn text_protocol_basics() {
    let srv = Server::start(1, &[]);
    let mut t = srv.raw_text();
    t.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    assert_eq!(text_line(&mut t, "PUT k hello world\n"), "OK\n");
    assert_eq!(text_line(&mut t, "GET k\n"), "hello world\n");
    assert_eq!(text_line(&mut t, "GET missing\n"), "NOT_FOUND\n");
    assert_eq!(text_line(&mut t, "DEL k\n"), "OK\n");
    assert_eq!(text_line(&mut t, "GET k\n"), "NOT_FOUND\n");
    assert_eq!(text_line(&mut t, "DEL k\n"), "NOT_FOUND\n");
    let r = text_line(&mut t, "FOO\n");
    assert!(r.starts_with("ERROR ") && r.ends_with('\n'), "FOO -> {r:?}");
    let r = text_line(&mut t, "\n");
    assert!(r.starts_with("ERROR "), "empty line -> {r:?}");
    // Case-insensitive commands, CRLF line ends.
    assert_eq!(text_line(&mut t, "put a  two  spaces \r\n"), "OK\n");
    assert_eq!(text_line(&mut t, "get a\r\n"), " two  spaces \n");
    // Pipelined lines in one write.
    t.write_all(b"PUT p1 x\nPUT p2 y\nGET p1\nGET p2\nGET p3\n")
        .unwrap();
    let got = read_at_least(&mut t, "OK\nOK\nx\ny\nNOT_FOUND\n".len());
    assert_eq!(String::from_utf8_lossy(&got), "OK\nOK\nx\ny\nNOT_FOUND\n");
    // After errors the connection still works.
    assert_eq!(text_line(&mut t, "GET p1\n"), "x\n");
}

#[test]
fn text_and_resp_share_one_keyspace() {
    for cores in [1usize, 2] {
        let srv = Server::start(cores, &[]);
        let mut t = srv.raw_text();
        t.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut con = srv.client();
        for i in 0..50 {
            // Text → RESP.
            assert_eq!(
                text_line(&mut t, &format!("PUT tk{i} text value {i}\n")),
                "OK\n",
                "cores={cores}"
            );
            let v: Option<String> = redis::cmd("GET")
                .arg(format!("tk{i}"))
                .query(&mut con)
                .unwrap();
            assert_eq!(
                v,
                Some(format!("text value {i}")),
                "cores={cores} key tk{i}"
            );
            // RESP → text.
            let _: () = redis::cmd("SET")
                .arg(format!("rk{i}"))
                .arg(format!("resp {i}"))
                .query(&mut con)
                .unwrap();
            assert_eq!(
                text_line(&mut t, &format!("GET rk{i}\n")),
                format!("resp {i}\n"),
                "cores={cores} key rk{i}"
            );
            // DEL via text is seen by RESP.
            assert_eq!(text_line(&mut t, &format!("DEL rk{i}\n")), "OK\n");
            let n: i64 = redis::cmd("EXISTS")
                .arg(format!("rk{i}"))
                .query(&mut con)
                .unwrap();
            assert_eq!(n, 0, "cores={cores} rk{i} after text DEL");
        }
        let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(n, 50, "cores={cores}");
    }
}

// ---------------------------------------------------------------------------
// 10. redis-cli and redis-benchmark
// ---------------------------------------------------------------------------

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Run a command with a time limit (coreutils `timeout`).
fn run_limited(secs: u64, prog: &str, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .arg(secs.to_string())
        .arg(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"))
}

#[test]
fn redis_cli_works() {
    if !have("redis-cli") || !have("timeout") {
        eprintln!("NOTE: redis_cli_works skipped: redis-cli (or timeout) not installed");
        return;
    }
    let srv = Server::start(2, &[]);
    let port = srv.port.to_string();
    let o = run_limited(20, "redis-cli", &["-p", &port, "SET", "a", "b"]);
    assert!(o.status.success(), "redis-cli SET: {o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "OK\n");
    let o = run_limited(20, "redis-cli", &["-p", &port, "GET", "a"]);
    assert!(o.status.success(), "redis-cli GET: {o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "b\n");
    let o = run_limited(20, "redis-cli", &["-p", &port, "GET", "nope"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "\n",
        "redis-cli GET missing"
    );
    let o = run_limited(20, "redis-cli", &["-p", &port, "INCR", "n"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n");
    let o = run_limited(20, "redis-cli", &["-p", &port, "INFO", "server"]);
    assert!(o.status.success(), "redis-cli INFO server: {o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("# Server") && out.contains("redis_version:"),
        "{out}"
    );
    // RESP3 mode.
    let o = run_limited(20, "redis-cli", &["-3", "-p", &port, "GET", "a"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "b\n",
        "redis-cli -3 GET: {o:?}"
    );
    // Commands on stdin, as a user would pipe them.
    let mut child = Command::new("timeout")
        .args(["20", "redis-cli", "-p", &port])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SET x 1\nINCR x\nGET x\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "OK\n2\n2\n");
}

#[test]
fn redis_benchmark_works() {
    if !have("redis-benchmark") || !have("timeout") {
        eprintln!(
            "NOTE: redis_benchmark_works skipped: redis-benchmark (or timeout) not installed"
        );
        return;
    }
    let srv = Server::start(2, &[]);
    let port = srv.port.to_string();
    let o = run_limited(
        40,
        "redis-benchmark",
        &["-p", &port, "-t", "set,get", "-n", "2000", "-q"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "redis-benchmark exit {:?}\nstdout: {out}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("SET: ") && out.contains("GET: "), "{out}");
    assert!(out.contains("requests per second"), "{out}");
    // Pipelined benchmark too.
    let o = run_limited(
        40,
        "redis-benchmark",
        &["-p", &port, "-t", "set,get", "-n", "2000", "-P", "16", "-q"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "redis-benchmark -P 16: {out}");
    assert!(out.contains("SET: ") && out.contains("GET: "), "{out}");
    // The server is fine afterwards.
    let mut con = srv.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

// ---------------------------------------------------------------------------
// 11. SIGTERM
// ---------------------------------------------------------------------------

#[test]
fn sigterm_exits_zero() {
    let mut srv = Server::start(2, &[]);
    let mut con = srv.client();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 200);
    // Idle connections stay open while the server is told to stop.
    let mut idle = Conn::new(srv.raw());
    check("idle PING", &idle.cmd(&[b"PING"]), b"+PONG\r\n");
    let mut t = srv.raw_text();
    t.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    assert_eq!(text_line(&mut t, "GET k1\n"), "1\n");
    let started = Instant::now();
    let status = srv.terminate().expect("server was running");
    assert!(
        status.success(),
        "exit status after SIGTERM: {status:?} (expected code 0)"
    );
    assert_eq!(status.code(), Some(0));
    eprintln!("SIGTERM shutdown took {:?}", started.elapsed());
    assert!(
        closed_by_peer(&mut idle.s),
        "idle connection must be closed when the server exits"
    );
}

/// glommio's stock TcpStream path (`--socket-path stream`, also the fallback on
/// kernels without the socket ring's flags) serves the same protocol as the ring.
#[test]
fn stream_socket_path_serves_resp_and_text() {
    let srv = Server::start(2, &["--socket-path", "stream"]);
    let mut con = srv.client();
    let big = vec![b'z'; 300_000];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .expect("SET big");
    let got: Vec<u8> = redis::cmd("GET")
        .arg("big")
        .query(&mut con)
        .expect("GET big");
    assert_eq!(got, big);
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i);
    }
    for i in 0..2000 {
        pipe.cmd("GET").arg(format!("k{i}"));
    }
    let replies: Vec<redis::Value> = pipe.query(&mut con).expect("pipeline");
    assert_eq!(replies.len(), 4000);
    for (i, r) in replies[2000..].iter().enumerate() {
        assert_eq!(*r, redis::Value::BulkString(i.to_string().into_bytes()));
    }
    let mut t = srv.raw_text();
    let out = roundtrip(&mut t, b"PUT tk hello there\nGET tk\n", 15);
    assert_eq!(out, b"OK\nhello there\n");
}

/// A port another server already listens on is refused with one line, as
/// Redis does; before, SO_REUSEPORT let a second stairkv silently share it and
/// take part of its connections.
#[test]
fn port_in_use_is_refused_with_one_line() {
    let srv = Server::start(1, &[]);
    for (port, text_port, http_port, what) in [
        (
            srv.port.to_string(),
            "0".to_string(),
            "0".to_string(),
            "RESP",
        ),
        (
            "0".to_string(),
            srv.text_port.to_string(),
            "0".to_string(),
            "text protocol",
        ),
        (
            "0".to_string(),
            "0".to_string(),
            srv.http_port.to_string(),
            "HTTP",
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stairkv"))
            .args(["--port", &port, "--text-port", &text_port, "--cores", "1"])
            .args(["--http-port", &http_port])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run stairkv");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("a second server started on the busy {what} port");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("stderr");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "second server on a busy port: {err}");
        assert!(
            err.contains("cannot listen on") && err.contains(what) && err.contains("in use"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // Every connection still reaches the first server.
    for _ in 0..20 {
        let mut con = srv.client();
        let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
        assert_eq!(pong, "PONG");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args(["--port", "7399", "--text-port", "7399"])
        .output()
        .expect("run stairkv");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs its own port"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A request that reaches an idle server is answered at once, on the core
/// that holds the connection (PING) and across cores (an MGET over keys of
/// both cores, which wakes the other core through the mesh). Each try follows
/// 60 ms of silence, so the cores have parked; the fastest of five tries is
/// compared, so a slow scheduler cannot fail it. With the socket ring set up
/// with DEFER_TASKRUN, Linux 6.18 woke a parked core 13-16 ms late.
#[test]
fn an_idle_server_answers_at_once() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let keys: Vec<String> = (0..64).map(|i| format!("idle:{i}")).collect();
    let mut mset = redis::cmd("MSET");
    for k in &keys {
        mset.arg(k).arg("v");
    }
    let _: () = mset.query(&mut con).expect("MSET");
    let (mut ping, mut mget) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(60));
        let t = Instant::now();
        let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
        ping = ping.min(t.elapsed());
        assert_eq!(pong, "PONG");
        std::thread::sleep(Duration::from_millis(60));
        let t = Instant::now();
        let vals: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
        mget = mget.min(t.elapsed());
        assert_eq!(vals.len(), keys.len());
        assert!(vals.iter().all(|v| v == "v"));
    }
    assert!(ping < Duration::from_millis(8), "idle PING took {ping:?}");
    assert!(
        mget < Duration::from_millis(8),
        "idle cross-core MGET took {mget:?}"
    );
}
