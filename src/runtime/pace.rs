//! Pacing for a core's background work — splits, merges, migrations and expiry
//! sweeps — so that it never holds the executor for long. glommio's
//! `yield_if_needed` yields only when its preemption timer (100 ms by default)
//! has fired, which let a run of splits hold replies that long; so a background
//! loop yields after each [`SLICE`] instead. Yielding alone is not enough: the
//! socket ring's driver, when it has nothing to reap, waits for the ring's
//! eventfd through the reactor, which glommio polls only when no task is ready;
//! so the loop pokes the driver (`driver::poke`) to reap now, and the
//! connections it wakes run before the loop continues; and packets from peer
//! cores are read before it continues too (`driver::let_peers_in`).
//!
//! One yield gives each waiting connection one turn, and a pipeline-1 client
//! has one request per turn: behind a loop that yields once per slice, 50
//! connections got 50 requests per 500 µs slice, a third of the core's speed,
//! and an open-loop load at 70% of the core queued for hundreds of
//! milliseconds while a bulk load's shards split. So work that can wait
//! ([`Pace::yielding`]: reshaping the staircase) rests [`REST`] after a
//! slice in which requests ran, and takes at most a quarter of
//! a busy core; on an idle core it runs on. It knows only time, the driver and
//! the poll count; it never touches the keyspace.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::task::POLLS;

/// The longest stretch background work runs before requests get a turn.
pub const SLICE: Duration = Duration::from_micros(500);

/// How long work that yields to requests ([`Pace::yielding`]) leaves a core
/// that is serving them after each slice: three slices, so it takes at most a
/// quarter of the core from requests.
pub const REST: Duration = Duration::from_micros(1500);

/// Time the other tasks took in one yield past which the core counts as busy
/// with requests (see [`Pace::yielding`]).
const BUSY: Duration = Duration::from_micros(100);

/// A background loop's clock: call [`Pace::breathe`] between batches.
pub struct Pace {
    since: Instant,
    /// Rest [`REST`] after a slice when other tasks wanted the core.
    yields: bool,
}

impl Pace {
    /// Pacing for work whose delay others wait on (expiry, eviction,
    /// snapshots): a turn for every ready task after each slice, no more.
    pub fn new() -> Pace {
        Pace {
            since: Instant::now(),
            yields: false,
        }
    }

    /// Pacing for work that can wait while requests are served (splits,
    /// merges): as [`Pace::new`], and a rest of [`REST`] after a slice whose
    /// yield other tasks took [`BUSY`] or more of.
    pub fn yielding() -> Pace {
        Pace {
            yields: true,
            ..Pace::new()
        }
    }

    /// Let the other ready tasks run when this loop has run for a slice since
    /// it last did.
    pub async fn breathe(&mut self) {
        if self.since.elapsed() < SLICE {
            return;
        }
        let polls = POLLS.with(Cell::get);
        let yielded = Instant::now();
        turn().await;
        // This task's own poll counts once when it is spawned through
        // `task::spawn`: more than that means others ran, and for long
        // enough to matter only on a core busy with requests (a lone client's
        // request or two need no rest, and each rest is a park on an idle core).
        if self.yields && POLLS.with(Cell::get).wrapping_sub(polls) > 1 && yielded.elapsed() >= BUSY
        {
            // The ring's timer: glommio's fires only when glommio polls its
            // reactor, which a core busy with requests does every 100 ms, and
            // the work starved (0.5% of the core in the test below).
            super::timer::sleep(REST).await;
        }
        self.since = Instant::now();
    }
}

/// One turn for every other ready task, with what the socket ring and the
/// peer cores have for this core reaped first (see the module doc).
pub async fn turn() {
    super::driver::poke();
    futures_lite::future::yield_now().await;
    // A loop that only yields keeps glommio from reading the mesh.
    super::driver::let_peers_in().await;
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::driver::tests::run;
    use crate::runtime::task::spawn;
    use std::rc::Rc;

    fn spin(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    /// The share of the core a background loop paced by `pace` takes beside
    /// a task that wants the core in short turns, as a pipeline-1 connection does.
    async fn background_share(mut pace: Pace) -> f64 {
        let stop = Rc::new(Cell::new(false));
        let (bg, fg) = (Rc::new(Cell::new(0.0)), Rc::new(Cell::new(0.0)));
        let turns = |time: Rc<Cell<f64>>, turn: Duration| {
            let stop = stop.clone();
            spawn(async move {
                while !stop.get() {
                    spin(turn);
                    time.set(time.get() + turn.as_secs_f64());
                    futures_lite::future::yield_now().await;
                }
            })
        };
        let foreground = turns(fg.clone(), Duration::from_micros(200));
        let background = {
            let (stop, bg) = (stop.clone(), bg.clone());
            spawn(async move {
                while !stop.get() {
                    spin(Duration::from_micros(100));
                    bg.set(bg.get() + 100e-6);
                    pace.breathe().await;
                }
            })
        };
        glommio::timer::sleep(Duration::from_millis(300)).await;
        stop.set(true);
        background.await;
        foreground.await;
        bg.get() / (bg.get() + fg.get())
    }

    #[test]
    fn yielding_work_takes_at_most_a_quarter_of_a_busy_core() {
        run(|_ring| async move {
            let plain = background_share(Pace::new()).await;
            let yielding = background_share(Pace::yielding()).await;
            assert!(plain > 0.6, "plain pacing took {plain:.2} of the core");
            assert!(
                (0.1..0.35).contains(&yielding),
                "yielding pacing took {yielding:.3} of the core"
            );
        });
    }
}
