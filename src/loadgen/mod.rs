//! stairkv-bench, the bundled load generator: it drives any Redis-protocol
//! server (or stairkv's text protocol) from pinned glommio executors, one
//! socket ring per thread, and reports hdrhistogram percentiles. It shares
//! the runtime ([`crate::runtime`]: socket ring, spawning, timers) and the wire encoding
//! ([`crate::protocol::client`]) with the server and nothing else: it never
//! touches the keyspace or the command layer.
//!
//! - [`args`]: the flags and the checked [`args::Plan`].
//! - [`keys`]: the seeded RNG, key distributions (uniform, Zipf, sequential), scans.
//! - [`workload`]: command mix, key names, values, the open-loop schedule.
//! - [`client`]: one connection's closed or open loop, reply checking, verify.
//! - [`run`]: threads, rendezvous, watchdog, progress line.
//! - [`stats`]: per-command histograms and counters, merged across threads.
//! - [`report`], [`hgrm`], [`plot`]: the table, JSON, `.hgrm` files and SVG charts.
//! - [`pubsub`]: the `expiry` and `fanout` measurements of pub/sub.

pub mod args;
pub mod client;
pub mod hgrm;
pub mod keys;
pub mod plot;
pub mod pubsub;
pub mod report;
pub mod run;
pub mod stats;
pub mod workload;
