//! Persistence: the formats that let the store outlive its process — Redis's
//! RDB snapshot format both ways (`rdb`) and each core's append-only log
//! (`log`). These are codecs over byte streams (`Write`/`Read`) and file
//! checks: they never touch a shard, a core or a socket, never await and never
//! decide when to save or load; the core above calls them with its own
//! entries. They may import storage, runtime, protocol and config, never core,
//! command, net, control or server.

pub mod log;
pub mod rdb;
