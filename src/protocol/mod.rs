//! The wire: RESP2/RESP3 request parsing, reply encoding, and the seed's plain
//! text protocol. This layer owns bytes and frames only; it never looks at the
//! keyspace, never knows which core owns a key, and never allocates per byte of
//! input beyond what the caller's buffer already holds.
//!
//! Imports run one way, top to bottom of this list (each file uses only
//! files below it):
//!
//! - [`resp`]: the resumable RESP request parser and its [`resp::Limits`].
//! - [`inline`]: splitting an inline request line (Redis's `sdssplitargs`).
//! - [`error`]: the parser's [`error::ParseError`] and Redis's error texts.
//! - [`client`]: the load generator's side: request encoding, reply parsing.
//! - [`text`]: the seed's plain text protocol, line by line.
//! - [`out`]: a connection's output buffer, large values kept by reference.
//! - [`reply`]: RESP2/RESP3 reply encoding.
//! - [`peek`]: a guess at the first request's key, for prefetching.
//! - [`ascii`]: finding a byte; Redis's integer syntax read and written.

pub mod ascii;
pub mod client;
pub mod error;
pub mod inline;
pub mod out;
pub mod peek;
pub mod reply;
pub mod resp;
pub mod text;
