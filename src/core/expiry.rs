//! The per-core expiry task: removes keys whose deadline passed, found through
//! each shard's deadline heap (never a scan of the keyspace), and sleeps until
//! the earliest remaining deadline. A write that sets an earlier deadline wakes
//! it early (see `World::execute`), so a key is removed within about a
//! millisecond of its deadline. Reads never serve an expired key regardless:
//! shards check deadlines on access.
//!
//! Why a deadline heap per shard rather than a timing wheel: deadlines are
//! exact milliseconds, so the heap's top is the exact next wake-up and the task
//! sleeps precisely until then (a wheel rounds to its tick and wakes every tick
//! whether or not anything is due); a heap lives inside its shard, so a split or
//! a migration moves a key's deadline with the key (the entry is re-inserted and
//! its deadline pushed on the new shard's heap) with no global structure to
//! fix up; and stale items (a key deleted or given a new deadline) cost only a
//! check when they reach the top. Every removal (here, on a read, or on an
//! overwrite) publishes the key's `expired` event once (`World::expired`).
//! A key a transaction or script holds is left until it lets go (time stands
//! still inside them, as in Redis 7): the pass looks again a millisecond later.
//! While CLIENT PAUSE is on, the task removes nothing (Redis pauses expiry).
//! The same task finishes hash and set tables that writes left half resized
//! (`Keyspace::settle`), a pass every 100 ms while one is: their next pass
//! counts as a deadline.

use super::world::World;
use crate::runtime::pace::Pace;
use crate::storage::{now_ms, now_us};
use futures_lite::future;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Keys removed per batch before the task yields to request serving.
const BATCH: usize = 512;
/// How soon a pass looks again at due keys a transaction held.
const HELD_RETRY: Duration = Duration::from_millis(1);
/// Longest sleep with nothing scheduled: a bound, not a poll — a new deadline wakes the task.
const IDLE: Duration = Duration::from_secs(60);
/// After this many expirations, a pause in expiring hands freed memory back to
/// the kernel (see [`release_memory`]).
const TRIM_AFTER: u64 = 16 * 1024;
/// A pause this long (or longer) before the next deadline counts as one.
const TRIM_PAUSE: Duration = Duration::from_millis(100);
/// How long into such a pause the trim waits, so that replies and events
/// queued by the last pass go out first.
const TRIM_SETTLE: Duration = Duration::from_millis(2);

pub async fn run(world: Rc<World>) {
    let mut expired = Vec::with_capacity(BATCH);
    let mut since_trim = 0u64;
    let mut pace = Pace::new();
    loop {
        // CLIENT PAUSE WRITE or ALL stops expiring, as Redis's pause does:
        // the data set stays as it was while writes are held.
        if let Some((left, _)) = super::pause::state() {
            crate::runtime::timer::sleep(Duration::from_millis(left.clamp(1, 10))).await;
            continue;
        }
        let now = now_ms();
        // Keys a transaction holds stay until it lets go: time stands still
        // inside EXEC and scripts (Redis 7), so a key alive when one began
        // must not vanish between two of its commands.
        let kept = Cell::new(0usize);
        loop {
            let n = world.sparing_held(|ks, held| {
                let counted = |k: &[u8]| {
                    let h = held(k);
                    kept.set(kept.get() + h as usize);
                    h
                };
                ks.expire_due(now, BATCH, &mut expired, &counted)
            });
            world.expired(&expired);
            since_trim += n as u64;
            expired.clear();
            if n < BATCH {
                break;
            }
            pace.breathe().await;
        }
        world.sparing_held(|ks, held| ks.settle(now, held));
        let next = {
            let mut ks = world.keyspace.borrow_mut();
            let due = ks.next_deadline();
            due.into_iter().chain(ks.next_settle()).min()
        };
        let next = next.unwrap_or(u64::MAX);
        world.next_expiry.set(next);
        let wait = if next == u64::MAX {
            IDLE
        } else {
            // To the microsecond: rounding "now" down to its millisecond would
            // wake up to a millisecond after the deadline.
            Duration::from_micros(next.saturating_mul(1000).saturating_sub(now_us()))
        };
        // A held key is due but kept: look again shortly, not at once.
        let wait = if kept.get() > 0 {
            wait.max(HELD_RETRY)
        } else {
            wait
        };
        if wait.is_zero() {
            pace.breathe().await;
            continue;
        }
        if since_trim >= TRIM_AFTER && wait >= TRIM_PAUSE {
            // A turn later, not now: the keys just removed still have events
            // to send, and a compaction with a trim holds the core for
            // milliseconds (it made the last events of a wave 5 ms late).
            if !sleep_unless_woken(&world, TRIM_SETTLE).await {
                world.keyspace.borrow_mut().compact();
                release_memory();
                since_trim = 0;
            }
            continue;
        }
        sleep_unless_woken(&world, wait).await;
    }
}

/// Sleep for `d`, or less if a write with an earlier deadline wakes the task:
/// true when it was woken.
async fn sleep_unless_woken(world: &World, d: Duration) -> bool {
    future::or(
        async {
            crate::runtime::timer::sleep(d).await;
            false
        },
        async {
            world.expiry_wake.wait().await;
            true
        },
    )
    .await
}

/// Hand memory freed by expired keys back to the kernel. glibc's malloc keeps
/// freed small blocks in its arenas, so without this a wave of expiries leaves
/// RSS at its peak. It walks the arenas (milliseconds for a large heap), so it
/// runs only in a pause between expiry waves, never per key.
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes no pointers and is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
