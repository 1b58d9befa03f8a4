//! stairkv: a thread-per-core, shared-nothing, Redis-protocol key-value cache
//! and store on glommio and io_uring.
//!
//! The layers, top to bottom; each uses only the ones below it, and no two
//! files import each other in a loop (`make layers` checks both):
//! - `bin/`: `stairkv` and `stairkv-bench`: parse flags, call in.
//! - [`server`]: starts the cores, the listeners, the controller, the signal handling.
//! - [`net`]: the doors — listeners, one admission for every door, the
//!   connection loops (RESP and text) and their sockets: bytes in, commands
//!   down, replies out. Nothing below imports it.
//! - [`command`]: `dispatch` (the command table and the pipeline runner) above
//!   one file per Redis command family (transactions and Lua scripting among
//!   them), above the context every handler gets.
//! - [`control`]: the staircase coordinator and controller (core 0): decides
//!   splits, merges and migrations; the engine reaches it only through the
//!   hook `server` installs (`core::world::Coordinator`).
//! - [`core`]: the per-core world — cross-core mesh, routing, migration,
//!   expiry, eviction pacing, pub/sub, clients, snapshots (SAVE, BGSAVE),
//!   each core's append-only log and its rewrites, loading at start, and
//!   transactions' intent locks and watches.
//! - [`persist`]: what makes the store survive a restart — Redis's RDB
//!   format both ways (a core's keys written as a section, sections joined
//!   into one `dump.rdb`, read back), the per-core append-only log's record
//!   format with its reader and the `stairkv check` tool, and recovery's rule
//!   for which record of a key wins (`replay`): codecs over byte streams,
//!   which never decide when to save or load.
//! - [`storage`]: entries, shards, the staircase, the keyspace's walks and
//!   scans, eviction, the shard-side operations — plain data, never awaits.
//! - [`runtime`]: what a pinned core runs on — the per-core socket ring
//!   (io_uring, SINGLE_ISSUER + COOP_TASKRUN) and its driver, the bell between
//!   cores, spawning, timers, pacing; it knows nothing of keys or commands.
//! - [`protocol`]: RESP parsing and reply encoding, the text protocol, and the
//!   client side of both (request encoding, reply reading).
//! - [`config`]: flags and the TOML file, every default named (the ground:
//!   it imports nothing from the crate).
//!
//! Beside the server, [`loadgen`] is stairkv-bench, the load generator, on the
//! same floor as `net`: it uses `runtime` and `protocol`, and from `storage`
//! only the key hash and the clock.

pub mod command;
pub mod config;
pub mod control;
pub mod core;
pub mod loadgen;
pub mod net;
pub mod persist;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod storage;
