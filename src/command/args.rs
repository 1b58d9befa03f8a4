//! Reading command arguments the way Redis reads them: strict integers
//! (`string2ll`), floats (`strtold` without spaces, NaN rejected),
//! case-insensitive option words. Every failure maps to Redis's error text.

use super::frame::Frame;
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
