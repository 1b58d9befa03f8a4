//! stairkv-bench, the bundled load generator: it drives any Redis-protocol
//! server (or stairkv's text protocol) from pinned glommio executors, one
//! socket ring per thread, and reports hdrhistogram percentiles. It shares
//! the runtime ([`crate::runtime`]: socket ring, spawning, timers) and the wire encoding
//! ([`crate::protocol::client`]) with the server, and from storage only the key
//! hash (`--hash-mod` aims keys at one shard) and the clock: it never touches the
//! keyspace, the command layer or the doors.
//!
//! Imports run one way, top to bottom of this list (each file uses only
//! files below it):
//!
//! - [`report`]: the table and JSON of a finished run, and `plot`'s charts.
//! - [`pubsub`]: the `expiry` and `fanout` measurements of pub/sub.
//! - [`run`]: threads, rendezvous, watchdog, progress line.
//! - [`client`]: one connection's closed or open loop, reply checking,
//!   verify; [`client::resolve`], the address every connection dials.
//! - [`args`]: every subcommand's flags and the checked [`args::Plan`].
//! - [`stats`]: per-command histograms and counters, merged across threads.
//! - [`workload`]: command mix, key names, values, the open-loop schedule.
//! - [`keys`]: the seeded RNG, key distributions (uniform, Zipf, sequential), scans.
//! - [`plot`], [`hgrm`]: SVG charts and `.hgrm` files (leaves).

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
