//! The byte-level primitives every parser and encoder of the wire shares:
//! finding a byte in a line (`find_byte`), Redis's one integer syntax
//! read ([`parse_i64`]) and written ([`format_u64`]), and a sorted set's
//! score as Redis 7.0 writes it ([`format_score`], C's `%.17g`, through
//! [`format_g`], which Lua's `cjson` uses at 14 digits). Also used by commands
//! and storage for the numbers clients store. Plain functions over slices:
//! they never allocate and know nothing of requests, replies or keys.

/// Redis's `LONG_STR_SIZE`: a decimal `long long` never needs 21 characters.
const MAX_NUMBER_LEN: usize = 21;

/// Index of the first `needle` in `hay`.
///
/// Word-at-a-time (SWAR) search: the crate has no `memchr` dependency and the
/// inline and text parsers scan lines of up to a megabyte, where a byte loop is
/// several times slower.
pub(crate) fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Bytes equal to `needle` become zero; the classic has-zero-byte test
        // can flag false positives only *above* a real zero byte, and with a
        // little-endian load "above" means later in the slice, so the lowest
        // flagged byte is always the first real match.
        let x = u64::from_le_bytes(word) ^ pattern;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// `n` in decimal, written into the end of `buf`; returns the digits.
pub fn format_u64(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// A score as Redis 7.0 writes it in replies, listpacks and RDB files:
/// C's `%.17g` ([`format_g`]). Exact: `%.17g` of a double parses back to it.
pub fn format_score(f: f64, buf: &mut [u8; 32]) -> &[u8] {
    format_g(f, 17, buf)
}

/// C's `%.<precision>g` (`precision` from 1 to 17): that many significant
/// digits, trailing zeros dropped, an exponent of at least two digits below
/// 1e-4 and from 1e<precision>; `inf`, `-inf`, `nan`, `-0`. Written into
/// `buf`; returns the text. Scores use 17, Lua's `cjson` 14.
pub fn format_g(f: f64, precision: usize, buf: &mut [u8; 32]) -> &[u8] {
    use std::io::Write;
    let p = precision.clamp(1, 17);
    let special: Option<&[u8]> = if f.is_nan() {
        Some(b"nan")
    } else if f.is_infinite() {
        Some(if f > 0.0 { b"inf" } else { b"-inf" })
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { b"-0" } else { b"0" })
    } else {
        None
    };
    if let Some(t) = special {
        buf[..t.len()].copy_from_slice(t);
        return &buf[..t.len()];
    }
    // `p` significant digits, correctly rounded: d.ddd…de[-]x.
    let mut sci = [0u8; 40];
    let used = {
        let mut w = &mut sci[..];
        let room = w.len();
        if write!(w, "{:.*e}", p - 1, f.abs()).is_err() {
            return &buf[..0];
        }
        room - w.len()
    };
    let sci = &sci[..used];
    let Some(e_at) = sci.iter().position(|&c| c == b'e') else {
        return &buf[..0];
    };
    let mut digits = [0u8; 17];
    digits[0] = sci[0];
    if p > 1 {
        digits[1..p].copy_from_slice(&sci[2..e_at]);
    }
    let digits = &digits[..p];
    let exp: i32 = std::str::from_utf8(&sci[e_at + 1..])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    // The digits that matter: trailing zeros go.
    let sig = p - digits.iter().rev().take_while(|&&d| d == b'0').count();
    let mut n = 0;
    let mut put = |bytes: &[u8], n: &mut usize| {
        buf[*n..*n + bytes.len()].copy_from_slice(bytes);
        *n += bytes.len();
    };
    if f < 0.0 {
        put(b"-", &mut n);
    }
    if !(-4..p as i32).contains(&exp) {
        put(&digits[..1], &mut n);
        if sig > 1 {
            put(b".", &mut n);
            put(&digits[1..sig], &mut n);
        }
        put(if exp < 0 { b"e-" } else { b"e+" }, &mut n);
        let a = exp.unsigned_abs();
        if a < 10 {
            put(b"0", &mut n);
        }
        let mut num = [0u8; 20];
        put(format_u64(u64::from(a), &mut num), &mut n);
    } else if exp >= 0 {
        let int = exp as usize + 1;
        put(&digits[..int], &mut n);
        if sig > int {
            put(b".", &mut n);
            put(&digits[int..sig], &mut n);
        }
    } else {
        put(b"0.", &mut n);
        for _ in 0..(-exp - 1) {
            put(b"0", &mut n);
        }
        put(&digits[..sig], &mut n);
    }
    &buf[..n]
}

/// Redis's `string2ll` — the one integer syntax of the protocol, of command
/// arguments and of stored values: optional `-`, then `0` alone or a non-zero digit
/// followed by digits, no `+`, no spaces, no leading zeros, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= MAX_NUMBER_LEN {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, tail) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in tail {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive_search() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        for start in 0..40 {
            for needle in [0u8, 1, 7, 13, 128, 250, 255, b'\n'] {
                let hay = &data[start..];
                assert_eq!(
                    find_byte(needle, hay),
                    hay.iter().position(|&b| b == needle),
                    "needle {needle} start {start}"
                );
            }
        }
        assert_eq!(find_byte(b'x', b""), None);
        // A byte one above the needle right after it must not confuse the
        // has-zero trick (borrow propagation).
        assert_eq!(find_byte(b'\n', b"aaaaaaa\n\x0baaaaaaa"), Some(7));
        assert_eq!(find_byte(0x80, &[0x00, 0x81, 0x80, 0x7f]), Some(2));
        assert_eq!(find_byte(0x00, &[0x01; 16]), None);
    }

    /// `%.<precision>g` from glibc's own `snprintf`.
    fn c_g(f: f64, precision: usize) -> Vec<u8> {
        let mut out = [0u8; 64];
        // SAFETY: a 64-byte buffer, its length given, a NUL-terminated
        // format with one `*` precision (an int passed) and one `double`
        // conversion (a double passed).
        let n = unsafe {
            libc::snprintf(
                out.as_mut_ptr().cast(),
                out.len(),
                c"%.*g".as_ptr(),
                precision as libc::c_int,
                f,
            )
        };
        out[..n.max(0) as usize].to_vec()
    }

    #[test]
    fn format_score_is_c_g17() {
        let cases = [
            0.1,
            1.5,
            3.0,
            1e20,
            -1e20,
            1e16,
            1e17,
            123456789012345678.0,
            0.0001,
            0.00001,
            1.0 / 3.0,
            -2.5e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            4503599627370496.0,
            99999999999999999.0,
            0.30000000000000004,
            -7.0,
        ];
        let mut buf = [0u8; 32];
        for f in cases {
            assert_eq!(format_score(f, &mut buf), &c_g(f, 17)[..], "{f:e}");
            for p in [1, 6, 14] {
                assert_eq!(format_g(f, p, &mut buf), &c_g(f, p)[..], "%.{p}g of {f:e}");
            }
        }
        assert_eq!(format_score(f64::INFINITY, &mut buf), b"inf");
        assert_eq!(format_score(f64::NEG_INFINITY, &mut buf), b"-inf");
        assert_eq!(format_score(0.1, &mut buf), b"0.10000000000000001");
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            assert_eq!(format_g(f, 14, &mut buf), &c_g(f, 14)[..], "%.14g of {f:e}");
            let got = format_score(f, &mut buf).to_vec();
            assert_eq!(got, c_g(f, 17), "{f:e}");
            let back: f64 = std::str::from_utf8(&got)
                .expect("ascii")
                .parse()
                .expect("a number");
            assert_eq!(
                back.to_bits(),
                if f == 0.0 {
                    back.to_bits()
                } else {
                    f.to_bits()
                }
            );
        }
    }

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"7"), Some(7));
        assert_eq!(parse_i64(b"-7"), Some(-7));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"00",
            b"-0",
            b"1a",
            b"0x10",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
