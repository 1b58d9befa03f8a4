//! The wire: RESP2/RESP3 request parsing, reply encoding, and the seed's plain
//! text protocol. This layer owns bytes and frames only; it never looks at the
//! keyspace, never knows which core owns a key, and never allocates per byte of
//! input beyond what the caller's buffer already holds.

pub mod client;
pub mod out;
pub mod reply;
pub mod resp;
pub mod text;
