//! Pacing for a core's background work — splits, merges, migrations and expiry
//! sweeps — so that it never holds the executor for long. glommio's
//! `yield_if_needed` yields only when its preemption timer (100 ms by default)
//! has fired, which let a run of splits hold replies that long; so a background
//! loop yields after each [`SLICE`] instead. Yielding alone is not enough: the
//! socket ring's driver, when it has nothing to reap, waits for the ring's
//! eventfd through the reactor, which glommio polls only when no task is ready;
//! so the loop pokes the driver (`driver::poke`) to reap now, and the
//! connections it wakes run before the loop continues; and packets from peer
//! cores are read before it continues too (`driver::let_peers_in`). It knows
//! only time and the driver; it never touches the keyspace.

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

    /// Let the other ready tasks run when this loop has run for a slice since
    /// it last did.
    pub async fn breathe(&mut self) {
        if self.since.elapsed() >= SLICE {
            super::driver::poke();
            futures_lite::future::yield_now().await;
            // A loop that only yields keeps glommio from reading the mesh.
            super::driver::let_peers_in().await;
            self.since = Instant::now();
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}
