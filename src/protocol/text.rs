//! The seed's plain newline text protocol (port 7171 by default), for `nc`.
//!
//! `PUT <key> <value>` → `OK`, `GET <key>` → the value or `NOT_FOUND`,
//! `DEL <key>` → `OK` or `NOT_FOUND`, anything else → `ERROR <reason>`. Lines end
//! in `\n` (a trailing `\r` is stripped). The value of PUT is the rest of the
//! line after the key's single separating space, so it may contain spaces.
//! This module only parses lines and formats answers; it never touches storage.

use std::ops::Range;

/// A parsed text-protocol line. Ranges index into the buffer given to [`parse_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRequest {
    Put { key: Range<usize>, value: Range<usize> },
    Get { key: Range<usize> },
    Del { key: Range<usize> },
    /// A line that is not a valid request: answer `ERROR {0}` and keep the connection.
    Invalid(String),
}

/// Longest line accepted; a longer line without `\n` is an error and the connection closes.
pub const MAX_LINE: usize = 1024 * 1024;

/// Parse one line from the front of `buf`. Returns `Ok(None)` when no full line
/// is present yet, `Ok(Some((request, consumed)))` otherwise (consumed includes
/// the newline), and `Err(reason)` when `buf` holds more than [`MAX_LINE`] bytes
/// without a newline (the caller answers `ERROR {reason}` and closes).
/// Commands are case-insensitive. Empty lines are `Invalid("empty command")`.
pub fn parse_line(buf: &[u8]) -> Result<Option<(TextRequest, usize)>, String> {
    let _ = buf;
    todo!()
}
