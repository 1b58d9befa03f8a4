//! The client side of the wire, for the load generator: encoding GET and SET
//! requests in RESP and in the text protocol, and finding where one reply ends
//! and what it says. It reads replies in place (ranges into the caller's
//! buffer) and never allocates per reply; it never opens a socket.

use bytes::BytesMut;
use std::ops::Range;

pub use super::ascii::format_u64 as decimal;
use super::ascii::{find_byte, parse_i64};

/// Deepest array nesting a reply may have before it is called malformed.
const MAX_DEPTH: usize = 8;

/// What one reply said. Ranges index into the buffer given to the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` (RESP) or `OK` (text).
    Status(Range<usize>),
    /// `-ERR ...` (RESP) or `ERROR ...` (text): the message without the marker.
    Error(Range<usize>),
    Int(i64),
    /// A bulk string (RESP) or a value line (text).
    Bulk(Range<usize>),
    /// `$-1`, `*-1`, `_` (RESP3) or `NOT_FOUND` (text).
    Nil,
    /// An aggregate (array, map, set, push); its elements are skipped.
    Aggregate,
}

/// Parse one RESP2/RESP3 reply from the front of `buf`: `Ok(None)` when it is not
/// complete yet, `Ok(Some((reply, consumed)))`, or `Err` when the bytes are not RESP.
pub fn parse_resp(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    let nl = from + find_byte(b'\n', &buf[from..])?;
    (nl > from && buf[nl - 1] == b'\r').then_some(nl - 1)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    let Some(&marker) = buf.get(at) else {
        return Ok(None);
    };
    let Some(end) = line_end(buf, at + 1) else {
        if find_byte(b'\n', &buf[at..]).is_some() {
            return Err("reply line not terminated by CRLF".into());
        }
        return Ok(None);
    };
    let line = at + 1..end;
    let after = end + 2;
    let number = || {
        parse_i64(&buf[line.clone()]).ok_or_else(|| {
            format!(
                "bad length or integer in reply: {:?}",
                String::from_utf8_lossy(&buf[line.clone()])
            )
        })
    };
    match marker {
        b'+' => Ok(Some((Reply::Status(line), after))),
        b'-' => Ok(Some((Reply::Error(line), after))),
        b':' => Ok(Some((Reply::Int(number()?), after))),
        b'_' => Ok(Some((Reply::Nil, after))),
        b',' | b'#' | b'(' => Ok(Some((Reply::Bulk(line), after))),
        b'$' | b'=' | b'!' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let n = n as usize;
            if buf.len() < after + n + 2 {
                return Ok(None);
            }
            if &buf[after + n..after + n + 2] != b"\r\n" {
                return Err("bulk reply not terminated by CRLF".into());
            }
            let body = after..after + n;
            if marker == b'!' {
                return Ok(Some((Reply::Error(body), after + n + 2)));
            }
            Ok(Some((Reply::Bulk(body), after + n + 2)))
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            if depth >= MAX_DEPTH {
                return Err("reply nested too deep".into());
            }
            let elems = if matches!(marker, b'%' | b'|') {
                n as usize * 2
            } else {
                n as usize
            };
            let mut pos = after;
            for _ in 0..elems {
                match parse_at(buf, pos, depth + 1)? {
                    Some((_, next)) => pos = next,
                    None => return Ok(None),
                }
            }
            if marker == b'|' {
                // An attribute map precedes the reply it annotates.
                return parse_at(buf, pos, depth + 1);
            }
            Ok(Some((Reply::Aggregate, pos)))
        }
        other => Err(format!("unexpected reply type byte {:?}", other as char)),
    }
}

/// Parse one text-protocol answer line: `OK`, `NOT_FOUND`, `ERROR <reason>`, or a value.
pub fn parse_text(buf: &[u8]) -> Option<(Reply, usize)> {
    let nl = find_byte(b'\n', buf)?;
    let end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let reply = match &buf[..end] {
        b"OK" => Reply::Status(0..end),
        b"NOT_FOUND" => Reply::Nil,
        line if line.starts_with(b"ERROR") => Reply::Error(5.min(end)..end),
        _ => Reply::Bulk(0..end),
    };
    Some((reply, nl + 1))
}

fn push_bulk(out: &mut BytesMut, data: &[u8]) {
    out.extend_from_slice(b"$");
    out.extend_from_slice(decimal(data.len() as u64, &mut [0; 20]));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Any command as a RESP array of bulk strings.
pub fn resp_command(out: &mut BytesMut, args: &[&[u8]]) {
    out.extend_from_slice(b"*");
    out.extend_from_slice(decimal(args.len() as u64, &mut [0; 20]));
    out.extend_from_slice(b"\r\n");
    for a in args {
        push_bulk(out, a);
    }
}

/// The script `--tx eval:N` runs: SET each of its KEYS to ARGV[1].
pub const EVAL_SETS: &str =
    "for i = 1, #KEYS do redis.call('set', KEYS[i], ARGV[1]) end return redis.status_reply('OK')";

/// `EVAL <EVAL_SETS> N key... value` as a RESP array.
pub fn resp_eval_sets(out: &mut BytesMut, keys: &[Vec<u8>], value: &[u8]) {
    out.extend_from_slice(b"*");
    out.extend_from_slice(decimal(keys.len() as u64 + 4, &mut [0; 20]));
    out.extend_from_slice(b"\r\n$4\r\nEVAL\r\n");
    push_bulk(out, EVAL_SETS.as_bytes());
    push_bulk(out, decimal(keys.len() as u64, &mut [0; 20]));
    for k in keys {
        push_bulk(out, k);
    }
    push_bulk(out, value);
}

/// `SET key value [EX ttl]` as a RESP array.
pub fn resp_set(out: &mut BytesMut, key: &[u8], value: &[u8], ttl_secs: Option<u64>) {
    out.extend_from_slice(if ttl_secs.is_some() {
        b"*5\r\n$3\r\nSET\r\n"
    } else {
        b"*3\r\n$3\r\nSET\r\n"
    });
    push_bulk(out, key);
    push_bulk(out, value);
    if let Some(ttl) = ttl_secs {
        out.extend_from_slice(b"$2\r\nEX\r\n");
        push_bulk(out, decimal(ttl, &mut [0; 20]));
    }
}

/// `GET key` as a RESP array.
pub fn resp_get(out: &mut BytesMut, key: &[u8]) {
    out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
    push_bulk(out, key);
}

/// `PUT key value` in the text protocol (the value must hold no newline).
pub fn text_put(out: &mut BytesMut, key: &[u8], value: &[u8]) {
    out.extend_from_slice(b"PUT ");
    out.extend_from_slice(key);
    out.extend_from_slice(b" ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\n");
}

/// `GET key` in the text protocol.
pub fn text_get(out: &mut BytesMut, key: &[u8]) {
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(key);
    out.extend_from_slice(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> (Reply, usize) {
        parse_resp(buf).expect("valid").expect("complete")
    }

    #[test]
    fn simple_replies() {
        assert_eq!(one(b"+OK\r\n"), (Reply::Status(1..3), 5));
        assert_eq!(one(b"-ERR no\r\n"), (Reply::Error(1..7), 9));
        assert_eq!(one(b":-42\r\n"), (Reply::Int(-42), 6));
        assert_eq!(one(b"$-1\r\n"), (Reply::Nil, 5));
        assert_eq!(one(b"_\r\n"), (Reply::Nil, 3));
        assert_eq!(one(b"$3\r\nabc\r\n+OK\r\n"), (Reply::Bulk(4..7), 9));
        assert_eq!(one(b"$0\r\n\r\n"), (Reply::Bulk(4..4), 6));
    }

    #[test]
    fn aggregates_are_skipped_whole() {
        let buf = b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n+next\r\n";
        assert_eq!(one(buf), (Reply::Aggregate, 19));
        assert_eq!(one(b"%1\r\n+k\r\n+v\r\n"), (Reply::Aggregate, 12));
        assert_eq!(one(b"*-1\r\n"), (Reply::Nil, 5));
    }

    #[test]
    fn incomplete_replies_wait_for_more() {
        for buf in [
            &b""[..],
            b"+O",
            b"+OK\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"*2\r\n:1\r\n",
        ] {
            assert_eq!(parse_resp(buf), Ok(None), "{buf:?}");
        }
    }

    #[test]
    fn malformed_replies_are_errors() {
        for buf in [
            &b"?x\r\n"[..],
            b":abc\r\n",
            b"$x\r\n",
            b"$3\r\nabcde\r\n",
            b"+OK\n",
        ] {
            assert!(parse_resp(buf).is_err(), "{buf:?}");
        }
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(parse_resp(&deep).is_err());
    }

    #[test]
    fn text_answers() {
        assert_eq!(parse_text(b"OK\n"), Some((Reply::Status(0..2), 3)));
        assert_eq!(parse_text(b"NOT_FOUND\r\n"), Some((Reply::Nil, 11)));
        assert_eq!(parse_text(b"ERROR bad\n"), Some((Reply::Error(5..9), 10)));
        assert_eq!(
            parse_text(b"hello world\nOK"),
            Some((Reply::Bulk(0..11), 12))
        );
        assert_eq!(parse_text(b"partial"), None);
    }

    #[test]
    fn encodings_parse_back_as_requests() {
        let mut out = BytesMut::new();
        resp_set(&mut out, b"k", b"value", Some(30));
        resp_get(&mut out, b"k");
        assert_eq!(
            &out[..],
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n$2\r\nEX\r\n$2\r\n30\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
        let mut text = BytesMut::new();
        text_put(&mut text, b"k", b"v v");
        text_get(&mut text, b"k");
        assert_eq!(&text[..], b"PUT k v v\nGET k\n");
        let mut cmd = BytesMut::new();
        resp_command(&mut cmd, &[b"GET", b"k"]);
        let mut get = BytesMut::new();
        resp_get(&mut get, b"k");
        assert_eq!(cmd, get);
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }
}
