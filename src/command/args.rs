//! Reading command arguments the way Redis reads them: strict integers
//! (`string2ll`), floats (`strtold` without spaces, NaN rejected), sorted
//! set scores, range ends and SORT's weights (C's own `strtod`, as Redis
//! reads them), case-insensitive option words. Every failure maps to
//! Redis's error text.

use super::frame::Frame;
use crate::storage::object::zset::{LexRange, ScoreRange, ZRange};
use bytes::Bytes;

pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";

pub use crate::protocol::ascii::parse_i64;

pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

pub fn int_arg(b: &[u8]) -> Result<i64, Frame> {
    parse_i64(b).ok_or_else(|| Frame::err(NOT_INTEGER))
}

pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

/// Glob match for ASCII option names (CONFIG GET patterns).
pub fn glob_str(pattern: &str, name: &str) -> bool {
    crate::storage::glob::glob_match(pattern.as_bytes(), name.as_bytes())
}

/// Redis's bound on a RANDFIELD / RANDMEMBER count: past half of i64's
/// range either way it answers "value is out of range".
pub fn rand_count(arg: &[u8]) -> Result<i64, Frame> {
    let n = int_arg(arg)?;
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(Frame::err("ERR value is out of range"));
    }
    Ok(n)
}

/// The options of HSCAN and SSCAN after the cursor: MATCH, COUNT and (for
/// HSCAN) NOVALUES.
pub struct ScanArgs {
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<Bytes>,
    pub novalues: bool,
}

pub fn scan_args(a: &[Bytes], novalues_ok: bool) -> Result<ScanArgs, Frame> {
    let cursor = parse_u64(&a[2]).ok_or_else(|| Frame::err("ERR invalid cursor"))?;
    let mut s = ScanArgs {
        cursor,
        count: 10,
        pattern: None,
        novalues: false,
    };
    let mut i = 3;
    while i < a.len() {
        if novalues_ok && is(&a[i], "NOVALUES") {
            s.novalues = true;
            i += 1;
            continue;
        }
        let v = a.get(i + 1).ok_or_else(|| Frame::err(SYNTAX))?;
        if is(&a[i], "COUNT") {
            match int_arg(v)? {
                n if n >= 1 => s.count = n as usize,
                _ => return Err(Frame::err(SYNTAX)),
            }
        } else if is(&a[i], "MATCH") {
            s.pattern = Some(v.clone()).filter(|p| &p[..] != b"*");
        } else {
            return Err(Frame::err(SYNTAX));
        }
        i += 2;
    }
    Ok(s)
}

/// C's `strtod` over `b` (at most up to its first NUL, as C reads a
/// string): the number, the bytes it read and whether it set `ERANGE`.
fn strtod(b: &[u8]) -> (f64, usize, bool) {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if b.len() < stack.len() {
        stack[..b.len()].copy_from_slice(b);
        &mut stack[..=b.len()]
    } else {
        heap.extend_from_slice(b);
        heap.push(0);
        &mut heap[..]
    };
    let start = buf.as_ptr();
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` holds `b` and a NUL after it (`b` has none inside), so
    // strtod reads within it and sets `end` to a place in it; errno is this
    // thread's own.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(start.cast(), &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let used = (end as usize).saturating_sub(start as usize).min(b.len());
    (v, used, erange)
}

/// A score, an increment or a weight as Redis reads one (`string2d`:
/// `strtod` over the whole argument): no leading space, no NaN, no
/// overflow to ±inf and no underflow to 0; `inf`, `-inf` and hexadecimal
/// floats are numbers.
pub fn parse_score(b: &[u8]) -> Option<f64> {
    if b.is_empty() || matches!(b[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (v, used, erange) = strtod(b);
    let refused = used != b.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0));
    (!refused).then_some(v)
}

/// A SORT weight as Redis reads one (`strtod` up to the first NUL, then a
/// check that it read it all): leading spaces are taken and an empty string
/// is 0; NaN and `ERANGE` (overflow or underflow) are not numbers.
pub fn sort_score(b: &[u8]) -> Option<f64> {
    let text = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    let (v, used, erange) = strtod(text);
    (used == text.len() && !erange && !v.is_nan()).then_some(v)
}

/// `parse_score` with Redis's error.
pub fn score_arg(b: &[u8]) -> Result<f64, Frame> {
    parse_score(b).ok_or_else(|| Frame::err(NOT_FLOAT))
}

/// A score range's end as Redis reads one (`zslParseRange`): `(` for an
/// exclusive end, then `strtod` of the rest up to a NUL — leading spaces,
/// an empty string (0) and overflow (±inf) are taken, NaN and anything
/// after the number are not. `(value, exclusive)`.
pub fn score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match b.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, b),
    };
    let text = &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())];
    let (v, used, _) = strtod(text);
    (used == text.len() && !v.is_nan()).then_some((v, ex))
}

/// A lex range's end (`zslParseLexRangeItem`): `-`, `+`, `[member` or
/// `(member`.
pub fn lex_bound(b: &Bytes) -> Option<crate::storage::object::zset::LexBound> {
    use crate::storage::object::zset::LexBound;
    match b.split_first()? {
        (b'-', []) => Some(LexBound::NegInf),
        (b'+', []) => Some(LexBound::PosInf),
        (b'[', _) => Some(LexBound::Incl(b.slice(1..))),
        (b'(', _) => Some(LexBound::Excl(b.slice(1..))),
        _ => None,
    }
}

/// ZRANGEBYSCORE's `min` and `max`, with Redis's error.
pub fn score_range(min: &[u8], max: &[u8]) -> Result<ZRange, Frame> {
    match (score_bound(min), score_bound(max)) {
        (Some((min, min_ex)), Some((max, max_ex))) => Ok(ZRange::Score(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })),
        _ => Err(Frame::err("ERR min or max is not a float")),
    }
}

/// ZRANGEBYLEX's `min` and `max`, with Redis's error.
pub fn lex_range(min: &Bytes, max: &Bytes) -> Result<ZRange, Frame> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(ZRange::Lex(LexRange { min, max })),
        _ => Err(Frame::err("ERR min or max not valid string range item")),
    }
}

/// `numkeys key [key ...] WHERE [COUNT count]` from `a[1]` on (LMPOP's and
/// ZMPOP's arguments; their blocking forms' after the timeout), `WHERE`
/// one of `sides` (LEFT|RIGHT, MIN|MAX): the keys, whether it named the
/// first side, the count — with Redis's errors.
pub fn mpop_args(a: &[Bytes], sides: [&str; 2]) -> Result<(Vec<Bytes>, bool, usize), Frame> {
    let n = match int_arg(&a[1]) {
        Ok(n) if n > 0 => n as usize,
        _ => return Err(Frame::err("ERR numkeys should be greater than 0")),
    };
    // The keys, a side, and COUNT with its value at most.
    if n > a.len().saturating_sub(3) {
        return Err(Frame::err(SYNTAX));
    }
    let keys = a[2..2 + n].to_vec();
    let first = if is(&a[2 + n], sides[0]) {
        true
    } else if is(&a[2 + n], sides[1]) {
        false
    } else {
        return Err(Frame::err(SYNTAX));
    };
    let mut count = 1usize;
    match &a[3 + n..] {
        [] => {}
        [word, c] if is(word, "count") => match int_arg(c) {
            Ok(c) if c > 0 => count = c as usize,
            _ => return Err(Frame::err("ERR count should be greater than 0")),
        },
        _ => return Err(Frame::err(SYNTAX)),
    }
    Ok((keys, first, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_bounds_read_as_redis_reads_them() {
        for (t, v) in [
            ("1.5", 1.5),
            ("-3", -3.0),
            ("inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("0x10", 16.0),
            ("1e308", 1e308),
            ("4.9e-324", 5e-324),
            ("0", 0.0),
        ] {
            assert_eq!(parse_score(t.as_bytes()), Some(v), "{t}");
        }
        for t in [
            "", " 1", "1 ", "nan", "NaN", "1e400", "-1e400", "1e-400", "abc", "1\x001",
        ] {
            assert_eq!(parse_score(t.as_bytes()), None, "{t:?}");
        }
        let long = format!("{}1", "0".repeat(300));
        assert_eq!(parse_score(long.as_bytes()), Some(1.0));
        let b = |t: &str| score_bound(t.as_bytes());
        assert_eq!(b("(1.5"), Some((1.5, true)));
        assert_eq!(b(" 2"), Some((2.0, false)));
        assert_eq!(b(""), Some((0.0, false)));
        assert_eq!(b("("), Some((0.0, true)));
        assert_eq!(b("1e400"), Some((f64::INFINITY, false)));
        assert_eq!(b("-inf"), Some((f64::NEG_INFINITY, false)));
        assert_eq!(b("3\0junk"), Some((3.0, false)));
        assert_eq!(b("(nan"), None);
        assert_eq!(b("1 "), None);
        assert_eq!(b("x"), None);
        use crate::storage::object::zset::LexBound;
        let l = |t: &'static str| lex_bound(&Bytes::from_static(t.as_bytes()));
        assert_eq!(l("-"), Some(LexBound::NegInf));
        assert_eq!(l("+"), Some(LexBound::PosInf));
        assert_eq!(l("[a"), Some(LexBound::Incl(Bytes::from_static(b"a"))));
        assert_eq!(l("("), Some(LexBound::Excl(Bytes::new())));
        assert_eq!(l("+a"), None);
        assert_eq!(l("a"), None);
        assert_eq!(l(""), None);
    }
}
