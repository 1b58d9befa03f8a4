//! Persistence: what the store writes to disk and reads back — Redis's RDB
//! snapshot format both ways (`rdb`). These are codecs over byte streams
//! (`Write`/`Read`): they never touch a shard, a core or a socket, never await
//! and never decide when to save or load; the core above calls them with its
//! own entries. They may import storage, runtime, protocol and config, never
//! core, command, net, control or server.

pub mod rdb;
