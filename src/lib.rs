//! stairkv: a thread-per-core, shared-nothing, Redis-protocol key-value cache
//! and store on glommio and io_uring.
//!
//! The layers, each using only the ones below it:
//! - [`config`]: flags and the TOML file, every default named.
//! - [`server`]: starts the cores, the listeners, the signal handling.
//! - [`net`]: the doors — listeners, door admission, the connection loops
//!   (RESP and text) and their sockets.
//! - [`command`]: the command table and one file per command family; builds ops.
//! - [`core`]: the per-core world — cross-core mesh, routing, expiry and split timers.
//! - [`storage`]: entries, shards, the staircase, the shard-side operations.
//! - [`runtime`]: what a pinned core runs on — the per-core socket ring
//!   (io_uring, SINGLE_ISSUER + COOP_TASKRUN) and its driver, the bell between
//!   cores, spawning, timers, pacing.
//! - [`protocol`]: RESP parsing and reply encoding, the text protocol, and the
//!   client side of both (request encoding, reply reading).
//!
//! Beside the server, [`loadgen`] is stairkv-bench, the load generator: it uses
//! only `runtime` and `protocol`.

pub mod command;
pub mod config;
pub mod control;
pub mod core;
pub mod loadgen;
pub mod net;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod storage;
