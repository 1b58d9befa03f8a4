//! Commands: the table (name, arity, flags, key positions) and one file per
//! family as Redis's documentation groups them — `string`, `keys` (generic),
//! `connection`, `server`, `pubsub`, plus `admin` for STAIRKV. Handlers turn arguments into
//! storage ops routed through a `core::router::Batch` and turn results into
//! [`frame::Frame`]s. This layer never touches a shard directly and never
//! writes to a socket.

pub mod admin;
pub mod args;
pub mod connection;
pub mod exec;
pub mod frame;
pub mod keys;
pub mod pubsub;
pub mod server;
pub mod string;
pub mod table;
