//! Persistence: the formats that let the store outlive its process — Redis's
//! RDB snapshot format both ways (`rdb`), each core's append-only log
//! (`log`) and recovery's rule for which record of a key is the last word
//! (`replay`). These are codecs over byte streams (`Write`/`Read`) and file
//! checks: they never touch a shard, a core or a socket, never await and never
//! decide when to save or load; the core above calls them with its own
//! entries. They may import storage, runtime, protocol and config, never core,
//! command, net, control or server.

pub mod delta;
pub mod log;
pub mod rdb;
pub mod replay;
