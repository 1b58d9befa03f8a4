//! Commands, in three floors that import one way, down:
//! - `dispatch` (top): the command table (name, arity, flags, key positions,
//!   group, handler) and the dispatcher that runs a connection's pipeline with
//!   it (lookup, arity/auth/subscribed-mode checks, batch budgets, replies in
//!   request order). It names every family's handler and passes the table down
//!   to them in the context; nothing in this folder imports it.
//! - the families, one file per Redis documentation group: `string`, `list`,
//!   `zset` (with its ranges in `zset_range` and its algebra in `zset_algebra`), `keys`
//!   (generic, with DUMP/RESTORE in `dump` and SORT in `sort`), `connection`, `server` (with its big commands in their own
//!   files: `info`, `config`, `slowlog`, `latency`, `monitor`), `pubsub`,
//!   plus `admin` for STAIRKV, `acl` (ACL users: the family, the users
//!   and their rules, the check of each request in `acl::permit`) and
//!   `tracking` (CLIENT TRACKING and its kin, client-side caching). A
//!   family may use a lower one (info uses connection's version; connection
//!   uses pubsub's `forget_client`), never `dispatch`.
//! - under them: `context` (what every handler needs: `Ctx`, `Step`, the
//!   connection's `ClientState`, the spec and table types, Redis's arity and
//!   help replies), `subscriptions` (a connection's pub/sub state, held by the
//!   context and kept by the pubsub family), `trackstate` (a connection's
//!   client-side caching mode, likewise for the tracking family), `observe` (what each command's
//!   run records for the operator: per-command counters, SLOWLOG, LATENCY,
//!   MONITOR lines; used by `dispatch` and EXEC), `keyspec` (where a
//!   request's keys are and what it does to them), `args` (argument parsing)
//!   and `frame` (replies); beside the families, `atomic` (running a
//!   multi-key command so no client sees it half-done), `blocking` (a
//!   blocking command's wait: BLPOP and kin) and `whole`
//!   (SMEMBERS/HGETALL-style replies read in pages under a key's lock), which
//!   the set, hash, bitmap and HyperLogLog families share.
//!
//! Handlers turn arguments into storage ops routed through a
//! `core::router::Batch` and turn results into [`frame::Frame`]s. This layer
//! never touches a shard directly and never writes to a socket.

pub mod acl;
pub mod admin;
pub mod args;
pub mod atomic;
pub mod bitmap;
pub mod blocking;
pub mod config;
pub mod connection;
pub mod context;
pub mod dispatch;
pub mod dump;
pub mod frame;
pub mod hash;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod keyspec;
pub mod latency;
pub mod list;
pub mod monitor;
pub mod observe;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod set_algebra;
pub mod slowlog;
pub mod sort;
pub mod string;
pub mod subscriptions;
pub mod tracking;
pub mod trackstate;
pub mod transactions;
pub mod txstate;
pub mod whole;
pub mod zset;
pub mod zset_algebra;
pub mod zset_range;
