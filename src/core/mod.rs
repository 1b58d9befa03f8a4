//! The per-core world: everything one pinned executor owns (its slice of the
//! keyspace, its clients, its counters) and the cross-core mesh that carries
//! shard tasks between cores. A core touches only its own shards; another
//! core's shards are reached by message, never by reference. This layer knows
//! storage ops but never commands or reply encoding; it runs on `runtime`
//! (tasks, timers, pacing of background work, the bell between cores) and
//! never touches a socket. It drives persistence through `persist`'s codecs,
//! which know nothing of cores: snapshots (`snapshot`), each core's log (`aof`
//! keeps and writes it, `logging` says what a change records), loading at
//! start (`recover`) and log rewrites (`rewrite`). Transactions across cores
//! stand on its intent locks (`locks`), watches (`watch`) and a core's side
//! of both (`txn`); the order in which a transaction visits cores is the
//! command layer's. Client-side caching keeps each key's readers where the
//! key lives (`tracking`) and tells them of changes (`invalidate`). Blocking
//! pops wait in `blocking`: every core holds every wait, and the core that
//! owns a key serves its waiters when it gets elements.

pub mod aof;
pub mod blocked;
pub mod blocking;
pub mod clients;
pub mod cmdstats;
pub mod events;
pub mod evict;
pub mod expiry;
pub mod flush;
pub mod functions;
pub mod inbox;
pub mod invalidate;
pub mod latency;
pub mod locks;
pub mod logging;
pub mod mesh;
pub mod migrate;
pub mod pause;
pub mod pubsub;
pub mod recover;
pub mod rewrite;
pub mod router;
pub mod slowlog;
pub mod snapshot;
pub mod tracking;
pub mod txn;
pub mod waiters;
pub mod watch;
pub mod world;
