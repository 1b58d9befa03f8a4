//! The byte-level primitives every parser and encoder of the wire shares:
//! finding a byte in a line (`find_byte`), and Redis's one integer syntax
//! read ([`parse_i64`]) and written ([`format_u64`]). Also used by commands
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
