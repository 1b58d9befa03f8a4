//! What a pinned core runs on, below everything that knows what the server
//! is for: one raw io_uring per core (the socket ring) that carries the core's
//! accepts, receives, sends and on-time timers; the driver task that submits,
//! reaps, naps in that ring and parks through glommio; the bell that wakes a
//! core when a peer core sends it a mesh packet; spawning, sleeping, pacing
//! of background work, and the single-threaded wake-ups all of them share.
//! glommio stays the executor; this is what sits between it and the kernel.
//!
//! The ring exists because of a measurement (DESIGN.md, "The cores"): at
//! pipeline 1, glommio 0.9's stock `TcpStream` spends about 1.5× redis-server's
//! CPU per request — it re-arms a one-shot poll on its own ring for every read
//! — while this ring batches every connection's submissions and completions
//! into one `io_uring_enter` per executor turn, and skips even that when the
//! kernel has nothing for it (the `TASKRUN` flag).
//!
//! This layer knows nothing of keys, commands or what the bytes mean: it moves
//! buffers in and out of the kernel and wakes tasks. It must never import
//! anything from `net`, `command`, `control`, `core`, `storage`, `loadgen` or
//! `server`; what a layer above needs to see of arriving bytes it gets through
//! a trait it implements ([`ring::ReceiveHook`]).
//!
//! The files, bottom up (each uses only those above it in this list):
//! - [`clock`]: a cheap monotonic clock for timing commands (the CPU's
//!   time-stamp counter where the kernel trusts it).
//! - [`notify`]: `Notify` and a one-shot `Slot`, wake-ups between tasks of one core.
//! - [`task`]: [`task::spawn`], which counts polls so the driver knows when
//!   the core is idle.
//! - [`bell`]: [`bell::Bell`], [`bell::ring_bell`], [`bell::packet_read`]:
//!   waking a peer core, counting the packets it was rung for.
//! - [`bufring`]: the provided-buffer ring multishot receives pick from.
//! - [`buf`]: the buffers an operation hands the kernel, and the submission
//!   entries that point into them.
//! - [`ring`]: [`ring::SocketRing`] — the io_uring, one slot per operation,
//!   reaping completions, resubmitting short sends, filling multishot inboxes.
//! - [`ops`]: what a task submits (receive, multishot [`ops::Stream`], send,
//!   accept) and the future that waits for it ([`ops::Op`]).
//! - [`busy_poll`]: whether and how long a core spins for the next request
//!   before it naps (`busy-poll-us`).
//! - [`driver`]: the per-core driver task (nap, park, let peers' packets in)
//!   and this thread's handle to its ring ([`driver::poke`]).
//! - [`timer`]: [`timer::sleep`], on the ring so that it fires on time.
//! - [`file`]: file writes and `fdatasync` on the ring (a core's log).
//! - [`hangup`]: noticing a peer hung up on a socket nobody reads.
//! - [`pace`]: slicing background loops so requests get their turn.
//! - [`thread`]: threads a core hands blocking work to, below its priority.

pub mod bell;
pub mod buf;
pub mod bufring;
pub mod busy_poll;
pub mod clock;
pub mod driver;
pub mod file;
pub mod hangup;
pub mod notify;
pub mod ops;
pub mod pace;
pub mod ring;
pub mod task;
pub mod thread;
pub mod timer;
