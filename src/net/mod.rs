//! The doors: one SO_REUSEPORT listener per core per protocol ([`listener`]),
//! what every door does the same way — admission, batches, output limits
//! ([`door`]) — a connection's socket over this core's socket ring or glommio's
//! stream ([`socket`]), and the connection loops that read requests, run them
//! through the command layer and write replies ([`resp`], [`text`], and
//! [`http`]: the keys API, `/metrics`, the WebSockets and the dashboard);
//! [`prefetch`] starts the keys of arriving requests loading as the ring reaps
//! them. A connection lives and dies on the core that accepted it. This layer
//! never interprets a command itself, and nothing below it imports it: the
//! ring, timers and tasks it runs on are `runtime`'s.

pub mod door;
pub mod http;
pub mod listener;
pub mod prefetch;
pub mod resp;
pub mod socket;
pub mod text;
