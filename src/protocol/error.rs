//! [`ParseError`], the one error of RESP request parsing, and the texts
//! Redis sends for each kind of malformed request (so a client sees, word for
//! word, what Redis would have told it). Shared by the request parser
//! ([`super::resp`]) and the inline splitter ([`super::inline`]); it holds
//! values only and never parses anything itself.

/// A malformed request. `message` is Redis's text after `ERR ` — e.g.
/// `Protocol error: invalid bulk length` — so the reply is `-ERR {message}\r\n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

pub(super) const INVALID_MBULK: &str = "Protocol error: invalid multibulk length";
pub(super) const TOO_BIG_MBULK: &str = "Protocol error: too big mbulk count string";
pub(super) const INVALID_BULK: &str = "Protocol error: invalid bulk length";
pub(super) const TOO_BIG_BULK: &str = "Protocol error: too big bulk count string";
pub(super) const TOO_BIG_INLINE: &str = "Protocol error: too big inline request";
pub(super) const UNBALANCED_QUOTES: &str = "Protocol error: unbalanced quotes in request";
pub(super) const UNAUTH_MBULK: &str = "Protocol error: unauthenticated multibulk length";
pub(super) const UNAUTH_BULK: &str = "Protocol error: unauthenticated bulk length";

pub(super) fn perr(message: &str) -> ParseError {
    ParseError {
        message: message.to_owned(),
    }
}
