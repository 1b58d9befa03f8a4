//! Pacing for a core's background work — splits, merges, migrations and expiry
//! sweeps — so that it never holds the executor for long. glommio's own
//! `yield_if_needed` waits for its preemption timer (100 ms by default), and the
//! sockets' completions are only looked at when the task queue gives the
//! executor back; so background loops give it back every [`SLICE`] instead.
//! This module never touches the keyspace.

use std::time::{Duration, Instant};

/// The longest stretch background work runs before requests get a turn.
pub const SLICE: Duration = Duration::from_micros(500);

/// A background loop's clock: call [`Pace::breathe`] between batches.
pub struct Pace {
    since: Instant,
}

impl Pace {
    pub fn new() -> Pace {
        Pace {
            since: Instant::now(),
        }
    }

    /// Give the executor back (so it polls for I/O and runs the connections)
    /// when this loop has run for a slice since it last did.
    pub async fn breathe(&mut self) {
        if self.since.elapsed() >= SLICE {
            glommio::executor().yield_task_queue_now().await;
            self.since = Instant::now();
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}
