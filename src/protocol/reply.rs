//! Reply encoding for RESP2 and RESP3 into a growable buffer.
//!
//! Every reply the server sends goes through these functions so the two
//! protocol versions differ in exactly one place. Nothing here allocates except
//! the output buffer growing.

use bytes::BytesMut;

/// The protocol version a connection negotiated with HELLO (2 unless HELLO 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// `+OK\r\n`-style status. `s` must not contain CR or LF.
pub fn simple(out: &mut BytesMut, s: &str) {
    // Callers promise no CR/LF; sanitising anyway keeps a bug elsewhere from
    // turning into a reply-stream desync.
    out.reserve(s.len() + 3);
    out.extend_from_slice(b"+");
    put_line_text(out, s.as_bytes());
    out.extend_from_slice(b"\r\n");
}
/// `-{msg}\r\n`. `msg` includes its code word, e.g. `ERR syntax error`. CR/LF in msg are replaced by spaces.
pub fn error(out: &mut BytesMut, msg: &str) {
    out.reserve(msg.len() + 3);
    out.extend_from_slice(b"-");
    put_line_text(out, msg.as_bytes());
    out.extend_from_slice(b"\r\n");
}
/// `:{n}\r\n`
pub fn int(out: &mut BytesMut, n: i64) {
    put_int_line(out, b':', n < 0, n.unsigned_abs());
}
/// `${len}\r\n{data}\r\n`
pub fn bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 24);
    put_int_line(out, b'$', false, data.len() as u64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}
/// `${len}\r\n`: a bulk string's header, its data and CRLF to follow.
pub fn bulk_header(out: &mut BytesMut, len: usize) {
    put_int_line(out, b'$', false, len as u64);
}
/// Null: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null(out: &mut BytesMut, proto: Proto) {
    out.extend_from_slice(match proto {
        Proto::Resp2 => b"$-1\r\n".as_slice(),
        Proto::Resp3 => b"_\r\n",
    });
}
/// Null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
pub fn null_array(out: &mut BytesMut, proto: Proto) {
    out.extend_from_slice(match proto {
        Proto::Resp2 => b"*-1\r\n".as_slice(),
        Proto::Resp3 => b"_\r\n",
    });
}
/// `*{n}\r\n`
pub fn array_header(out: &mut BytesMut, n: usize) {
    put_int_line(out, b'*', false, n as u64);
}
/// RESP3 `%{n}\r\n`; RESP2 `*{2n}\r\n` (a flat key/value array).
pub fn map_header(out: &mut BytesMut, n: usize, proto: Proto) {
    match proto {
        // Widened before doubling so a (theoretical) huge count cannot wrap.
        Proto::Resp2 => put_int_line(out, b'*', false, (n as u64).saturating_mul(2)),
        Proto::Resp3 => put_int_line(out, b'%', false, n as u64),
    }
}
/// RESP3 `~{n}\r\n`; RESP2 `*{n}\r\n`.
pub fn set_header(out: &mut BytesMut, n: usize, proto: Proto) {
    let prefix = match proto {
        Proto::Resp2 => b'*',
        Proto::Resp3 => b'~',
    };
    put_int_line(out, prefix, false, n as u64);
}
/// RESP3 `>{n}\r\n`; RESP2 `*{n}\r\n`.
pub fn push_header(out: &mut BytesMut, n: usize, proto: Proto) {
    let prefix = match proto {
        Proto::Resp2 => b'*',
        Proto::Resp3 => b'>',
    };
    put_int_line(out, prefix, false, n as u64);
}
/// RESP3 `,{f}\r\n` (inf/-inf/nan spelled as Redis does); RESP2 a bulk string of
/// the shortest decimal that round-trips. Both use the text of [`format_double`]
/// (what INCRBYFLOAT returns): `3.5`, `10`, `1e20` → `100000000000000000000`.
pub fn double(out: &mut BytesMut, f: f64, proto: Proto) {
    let mut text = DoubleBuf::new();
    text.write_double(f);
    match proto {
        Proto::Resp2 => bulk(out, text.as_bytes()),
        Proto::Resp3 => {
            out.reserve(text.as_bytes().len() + 3);
            out.extend_from_slice(b",");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}
/// RESP3 `#t\r\n`/`#f\r\n`; RESP2 `:1`/`:0`.
pub fn boolean(out: &mut BytesMut, b: bool, proto: Proto) {
    out.extend_from_slice(match (proto, b) {
        (Proto::Resp2, true) => b":1\r\n".as_slice(),
        (Proto::Resp2, false) => b":0\r\n",
        (Proto::Resp3, true) => b"#t\r\n",
        (Proto::Resp3, false) => b"#f\r\n",
    });
}
/// RESP3 verbatim string `={len+4}\r\n{fmt}:{data}\r\n` (fmt is 3 bytes, e.g. "txt");
/// RESP2 a bulk string of `data`.
pub fn verbatim(out: &mut BytesMut, fmt: &str, data: &[u8], proto: Proto) {
    match proto {
        Proto::Resp2 => bulk(out, data),
        Proto::Resp3 => {
            // The length counts `fmt` as given (the contract says 3 bytes) so
            // the frame stays self-consistent even if a caller gets that wrong.
            let len = fmt.len() + 1 + data.len();
            out.reserve(len + 24);
            put_int_line(out, b'=', false, len as u64);
            out.extend_from_slice(fmt.as_bytes());
            out.extend_from_slice(b":");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A sorted set's score as Redis 7.0 replies with one (`addReplyDouble`):
/// `%.17g` ([`crate::protocol::ascii::format_score`]), a bulk string in
/// RESP2 and a double in RESP3 (`,0.10000000000000001`, `,inf`).
pub fn score(out: &mut BytesMut, f: f64, proto: Proto) {
    let mut buf = [0u8; 32];
    let text = crate::protocol::ascii::format_score(f, &mut buf);
    match proto {
        Proto::Resp2 => bulk(out, text),
        Proto::Resp3 => {
            out.reserve(text.len() + 3);
            out.extend_from_slice(b",");
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Format a float the way Redis formats INCRBYFLOAT results and RESP2 doubles:
/// up to 17 significant digits, no trailing zeros, no exponent for values that
/// Redis prints plainly (Redis uses `%.17Lf` then strips trailing zeros, so
/// `1e20` prints as `100000000000000000000`). `inf`/`-inf` as Redis prints them.
pub fn format_double(f: f64) -> String {
    let mut text = DoubleBuf::new();
    text.write_double(f);
    String::from_utf8_lossy(text.as_bytes()).into_owned()
}

/// Append `text`, turning CR and LF into spaces: a bare CR or LF inside a
/// status or error line would end it early and desynchronise the client.
fn put_line_text(out: &mut BytesMut, text: &[u8]) {
    if find_line_break(text).is_none() {
        out.extend_from_slice(text);
        return;
    }
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

fn find_line_break(text: &[u8]) -> Option<usize> {
    text.iter().position(|&b| b == b'\r' || b == b'\n')
}

/// "00".."99", so integers are written two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Append `{prefix}{-}{magnitude}\r\n` with a single copy into `out`.
///
/// The line is built right-to-left in a stack buffer: 1 prefix + 1 sign + at
/// most 20 digits (u64::MAX) + CRLF = 24 bytes.
fn put_int_line(out: &mut BytesMut, prefix: u8, negative: bool, magnitude: u64) {
    let mut buf = [0u8; 24];
    let mut i = buf.len() - 2;
    buf[i] = b'\r';
    buf[i + 1] = b'\n';
    let mut n = magnitude;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    i -= 1;
    buf[i] = prefix;
    out.extend_from_slice(&buf[i..]);
}

/// Stack buffer a double is formatted into, so replies need no allocation.
///
/// The longest plain-decimal f64 is the smallest negative subnormal at about
/// 330 characters (`-0.000…4940656458412465`), so 512 bytes always suffice.
struct DoubleBuf {
    buf: [u8; 512],
    len: usize,
}

impl DoubleBuf {
    fn new() -> Self {
        DoubleBuf {
            buf: [0; 512],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Redis's INCRBYFLOAT text (`ld2string` in `LD_STR_HUMAN` mode), except
    /// that the digits are Rust's shortest round-trip ones instead of a fixed
    /// 17 decimals: Rust's `Display` for f64 never uses an exponent and prints
    /// the shortest digits that parse back to the same value, which is exactly
    /// `%.17Lf` with trailing zeros stripped for every "normal" value while also
    /// guaranteeing `parse(format(x)) == x`.
    fn write_double(&mut self, f: f64) {
        use std::fmt::Write;
        self.len = 0;
        let special: Option<&str> = if f.is_nan() {
            Some("nan")
        } else if f.is_infinite() {
            Some(if f > 0.0 { "inf" } else { "-inf" })
        } else if f == 0.0 {
            // Redis rewrites "-0" to "0" (ld2string), so -0.0 prints as 0 too.
            Some("0")
        } else {
            None
        };
        if let Some(s) = special {
            self.buf[..s.len()].copy_from_slice(s.as_bytes());
            self.len = s.len();
            return;
        }
        if write!(self, "{f}").is_err() {
            // Unreachable given the buffer size; an exponent form is still a
            // valid, round-tripping number if it ever were reached.
            self.len = 0;
            let _ = write!(self, "{f:e}");
        }
    }
}

impl std::fmt::Write for DoubleBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut out = BytesMut::new();
        f(&mut out);
        out.to_vec()
    }

    #[test]
    fn simple_and_error() {
        assert_eq!(enc(|o| simple(o, "OK")), b"+OK\r\n");
        assert_eq!(enc(|o| simple(o, "")), b"+\r\n");
        assert_eq!(
            enc(|o| error(o, "ERR syntax error")),
            b"-ERR syntax error\r\n"
        );
        assert_eq!(
            enc(|o| error(o, "ERR bad\r\nthing\n")),
            b"-ERR bad  thing \r\n"
        );
        assert_eq!(enc(|o| simple(o, "a\rb")), b"+a b\r\n");
    }

    #[test]
    fn integers() {
        for n in [
            0i64,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            101,
            12345,
            -98765,
            1_000_000_007,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(enc(|o| int(o, n)), format!(":{n}\r\n").into_bytes(), "{n}");
        }
        let mut n: i64 = 1;
        while let Some(next) = n.checked_mul(10) {
            for v in [n - 1, n, n + 1, -n, -(n - 1)] {
                assert_eq!(enc(|o| int(o, v)), format!(":{v}\r\n").into_bytes());
            }
            n = next;
        }
    }

    #[test]
    fn bulk_strings() {
        assert_eq!(enc(|o| bulk(o, b"hello")), b"$5\r\nhello\r\n");
        assert_eq!(enc(|o| bulk(o, b"")), b"$0\r\n\r\n");
        assert_eq!(enc(|o| bulk(o, b"a\r\n\0b")), b"$5\r\na\r\n\0b\r\n");
        let big = vec![b'x'; 12345];
        let out = enc(|o| bulk(o, &big));
        assert!(out.starts_with(b"$12345\r\nxxx"));
        assert_eq!(out.len(), 8 + 12345 + 2);
    }

    #[test]
    fn nulls() {
        assert_eq!(enc(|o| null(o, Proto::Resp2)), b"$-1\r\n");
        assert_eq!(enc(|o| null(o, Proto::Resp3)), b"_\r\n");
        assert_eq!(enc(|o| null_array(o, Proto::Resp2)), b"*-1\r\n");
        assert_eq!(enc(|o| null_array(o, Proto::Resp3)), b"_\r\n");
    }

    #[test]
    fn aggregate_headers() {
        assert_eq!(enc(|o| array_header(o, 0)), b"*0\r\n");
        assert_eq!(enc(|o| array_header(o, 3)), b"*3\r\n");
        assert_eq!(enc(|o| map_header(o, 2, Proto::Resp2)), b"*4\r\n");
        assert_eq!(enc(|o| map_header(o, 2, Proto::Resp3)), b"%2\r\n");
        assert_eq!(enc(|o| map_header(o, 0, Proto::Resp2)), b"*0\r\n");
        assert_eq!(enc(|o| set_header(o, 5, Proto::Resp2)), b"*5\r\n");
        assert_eq!(enc(|o| set_header(o, 5, Proto::Resp3)), b"~5\r\n");
        assert_eq!(enc(|o| push_header(o, 3, Proto::Resp2)), b"*3\r\n");
        assert_eq!(enc(|o| push_header(o, 3, Proto::Resp3)), b">3\r\n");
        assert_eq!(
            enc(|o| array_header(o, usize::MAX)),
            format!("*{}\r\n", usize::MAX).into_bytes()
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(enc(|o| boolean(o, true, Proto::Resp2)), b":1\r\n");
        assert_eq!(enc(|o| boolean(o, false, Proto::Resp2)), b":0\r\n");
        assert_eq!(enc(|o| boolean(o, true, Proto::Resp3)), b"#t\r\n");
        assert_eq!(enc(|o| boolean(o, false, Proto::Resp3)), b"#f\r\n");
    }

    #[test]
    fn verbatim_strings() {
        assert_eq!(
            enc(|o| verbatim(o, "txt", b"Some string", Proto::Resp3)),
            b"=15\r\ntxt:Some string\r\n"
        );
        assert_eq!(
            enc(|o| verbatim(o, "txt", b"", Proto::Resp3)),
            b"=4\r\ntxt:\r\n"
        );
        assert_eq!(
            enc(|o| verbatim(o, "txt", b"Some string", Proto::Resp2)),
            b"$11\r\nSome string\r\n"
        );
    }

    #[test]
    fn doubles_resp2_are_bulk_strings() {
        assert_eq!(enc(|o| double(o, 3.5, Proto::Resp2)), b"$3\r\n3.5\r\n");
        assert_eq!(enc(|o| double(o, 10.0, Proto::Resp2)), b"$2\r\n10\r\n");
        assert_eq!(enc(|o| double(o, -2.25, Proto::Resp2)), b"$5\r\n-2.25\r\n");
        assert_eq!(
            enc(|o| double(o, f64::INFINITY, Proto::Resp2)),
            b"$3\r\ninf\r\n"
        );
        assert_eq!(
            enc(|o| double(o, f64::NEG_INFINITY, Proto::Resp2)),
            b"$4\r\n-inf\r\n"
        );
        assert_eq!(enc(|o| double(o, f64::NAN, Proto::Resp2)), b"$3\r\nnan\r\n");
        assert_eq!(
            enc(|o| double(o, 1e20, Proto::Resp2)),
            b"$21\r\n100000000000000000000\r\n"
        );
    }

    #[test]
    fn doubles_resp3() {
        assert_eq!(enc(|o| double(o, 3.5, Proto::Resp3)), b",3.5\r\n");
        assert_eq!(enc(|o| double(o, 10.0, Proto::Resp3)), b",10\r\n");
        assert_eq!(enc(|o| double(o, 0.0, Proto::Resp3)), b",0\r\n");
        assert_eq!(enc(|o| double(o, f64::INFINITY, Proto::Resp3)), b",inf\r\n");
        assert_eq!(
            enc(|o| double(o, f64::NEG_INFINITY, Proto::Resp3)),
            b",-inf\r\n"
        );
        assert_eq!(enc(|o| double(o, f64::NAN, Proto::Resp3)), b",nan\r\n");
        assert_eq!(enc(|o| double(o, -f64::NAN, Proto::Resp3)), b",nan\r\n");
    }

    #[test]
    fn format_double_matches_incrbyfloat() {
        let cases: &[(f64, &str)] = &[
            (10.5, "10.5"),
            (3.0, "3"),
            (0.0, "0"),
            (-0.0, "0"),
            (-3.0, "-3"),
            (1e20, "100000000000000000000"),
            (-1e20, "-100000000000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.1, "0.1"),
            (5.0e-5, "0.00005"),
            (1.5e-7, "0.00000015"),
            (123456789.125, "123456789.125"),
            (9007199254740993.0, "9007199254740992"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for &(f, want) in cases {
            assert_eq!(format_double(f), want, "{f:?}");
        }
        let max = format_double(f64::MAX);
        assert_eq!(max.len(), 309);
        assert!(max.starts_with("17976931348623157") && max.bytes().skip(17).all(|b| b == b'0'));
        let tiny = format_double(-f64::from_bits(1)); // smallest subnormal
        assert!(tiny.starts_with("-0.000") && tiny.ends_with("5"));
        assert_eq!(tiny.parse::<f64>(), Ok(-f64::from_bits(1)));
    }

    proptest! {
        #[test]
        fn format_double_round_trips_without_exponent(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            let s = format_double(f);
            if f.is_finite() {
                prop_assert!(!s.contains(['e', 'E']));
                prop_assert!(!s.ends_with('.'));
                if s.contains('.') {
                    prop_assert!(!s.ends_with('0'));
                }
                let back: f64 = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
                prop_assert!(back == f, "{} -> {} -> {}", f, s, back);
            }
            let resp3 = enc(|o| double(o, f, Proto::Resp3));
            prop_assert_eq!(resp3, format!(",{s}\r\n").into_bytes());
            let resp2 = enc(|o| double(o, f, Proto::Resp2));
            prop_assert_eq!(resp2, format!("${}\r\n{s}\r\n", s.len()).into_bytes());
        }

        #[test]
        fn int_matches_std(n in any::<i64>()) {
            prop_assert_eq!(enc(|o| int(o, n)), format!(":{n}\r\n").into_bytes());
        }
    }
}
