//! CLIENT PAUSE: one pause for the whole server — until when, and whether
//! every command waits (`ALL`) or only those that may write (`WRITE`). It is
//! process-wide state read by every core's dispatcher with one relaxed load
//! per command while no pause is on; a pause is rare and admin-driven, so it
//! needs no message to every core. It only says whether to wait: the
//! command layer decides which commands write and does the waiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Unix milliseconds the pause ends at; 0: none.
static UNTIL_MS: AtomicU64 = AtomicU64::new(0);
/// The pause holds every command, not only writes.
static ALL: AtomicBool = AtomicBool::new(false);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Pause for `ms` more milliseconds. A pause already on is never shortened
/// or weakened: the later end and the stronger mode win, as in Redis.
pub fn pause(ms: u64, all: bool) {
    let now = now_ms();
    let until = now.saturating_add(ms);
    let cur = UNTIL_MS.load(Ordering::Relaxed);
    if cur > now {
        ALL.fetch_or(all, Ordering::Relaxed);
        UNTIL_MS.fetch_max(until, Ordering::Relaxed);
    } else {
        ALL.store(all, Ordering::Relaxed);
        UNTIL_MS.store(until, Ordering::Relaxed);
    }
}

/// CLIENT UNPAUSE.
pub fn unpause() {
    UNTIL_MS.store(0, Ordering::Relaxed);
    ALL.store(false, Ordering::Relaxed);
}

/// A pause may be on (the cheap check before [`state`]).
#[inline]
pub fn maybe_on() -> bool {
    UNTIL_MS.load(Ordering::Relaxed) != 0
}

/// The pause in force: milliseconds left and whether it holds every command.
pub fn state() -> Option<(u64, bool)> {
    let until = UNTIL_MS.load(Ordering::Relaxed);
    let now = now_ms();
    if until <= now {
        if until != 0 {
            // Ended by itself: later checks are the cheap one again.
            let _ = UNTIL_MS.compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        return None;
    }
    Some((until - now, ALL.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_never_weakened_and_ends() {
        pause(60_000, false);
        assert!(maybe_on());
        assert_eq!(state().map(|s| s.1), Some(false));
        pause(10, true);
        let (left, all) = state().unwrap_or_default();
        assert!(all && left > 50_000, "later end and stronger mode kept");
        unpause();
        assert!(state().is_none() && !maybe_on());
        pause(0, true);
        assert!(state().is_none());
        assert!(!maybe_on(), "an ended pause is forgotten");
    }
}
