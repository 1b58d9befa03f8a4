//! Reading command arguments the way Redis reads them: strict integers
//! (`string2ll`), floats (`strtold` without spaces, NaN rejected),
//! case-insensitive option words. Every failure maps to Redis's error text.

use super::frame::Frame;

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
