//! The eviction policy in force on this core, as entries and shards see it:
//! what an access records in an entry (the LRU clock, Redis's logarithmic LFU
//! counter, the S3-FIFO frequency bits), how much a candidate deserves
//! eviction, and the state this core's eviction keeps between passes (its
//! share of `maxmemory`, the candidate pool, the S3-FIFO victim shard).
//!
//! It sits below [`super::shard`] and [`super::keyspace`], which record
//! accesses through [`touch`] and [`init`]; the walk that picks and removes
//! victims is above the keyspace, in [`super::evict`]. It never looks at a
//! shard or a keyspace, never removes anything, and never sends anything. The
//! policy's names and parsing are the user's choice and live in
//! [`crate::config::Policy`].

use crate::config::{Policy, DEFAULT_POLICY, DEFAULT_SAMPLES};
use crate::storage::entry::Entry;
use crate::storage::ops::{AccessHint, OpError};
use crate::storage::staircase::ShardId;
use bytes::Bytes;
use std::cell::Cell;

/// Candidates kept between eviction rounds (Redis's EVPOOL_SIZE).
pub(super) const POOL: usize = 16;
/// Evictions from one S3-FIFO victim shard before the fullest shard is looked for again.
pub(super) const VICTIM_REUSE: u32 = 16;
/// Redis's LFU constants: a new key's counter, the log factor, the decay period (minutes).
const LFU_INIT: u32 = 5;
const LFU_LOG_FACTOR: f64 = 10.0;
const LFU_DECAY_MINUTES: u32 = 1;

/// What an access records in an entry, for the policy in force on this core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    None,
    Lru,
    Lfu,
    /// S3-FIFO with a limit set: shards keep their queues.
    S3Fifo,
}

/// The access mode `policy` keeps on a core with a limit set (`limited`) or not.
pub fn access_mode(policy: Policy, limited: bool) -> Access {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => Access::Lru,
        Policy::AllKeysLfu | Policy::VolatileLfu => Access::Lfu,
        // The queues cost 8 bytes a key: kept only while there is a limit.
        Policy::AllKeysS3Fifo if limited => Access::S3Fifo,
        _ => Access::None,
    }
}

thread_local! {
    /// The policy's access mode on this core (a core is one thread).
    static ACCESS: Cell<Access> = const { Cell::new(Access::None) };
    static RNG: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) };
}

pub fn access() -> Access {
    ACCESS.with(Cell::get)
}

pub(super) fn set_access(a: Access) {
    ACCESS.with(|c| c.set(a));
}

pub(super) fn next_rand() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        let r = super::xorshift64(&mut x);
        c.set(x);
        r
    })
}

#[inline]
fn lru_clock(now: u64) -> u32 {
    // Milliseconds, wrapping every 49.7 days: a key idle longer looks recent.
    now as u32
}

#[inline]
fn minutes(now: u64) -> u32 {
    ((now / 60_000) & 0xffff) as u32
}

/// Redis's `LFUDecrAndReturn`: the counter after the decay its idle minutes earn.
fn lfu_decayed(meta: u32, now: u64) -> u32 {
    let counter = meta & 0xff;
    let then = meta >> 8;
    let now_min = minutes(now);
    let elapsed = if now_min >= then {
        now_min - then
    } else {
        65_535 - then + now_min
    };
    counter.saturating_sub(elapsed / LFU_DECAY_MINUTES)
}

/// Record an access to `e` at `now` (ms) for the policy in force.
#[inline]
pub fn touch(e: &mut Entry, now: u64) {
    if e.freq() < 3 {
        e.set_freq(e.freq() + 1);
    }
    match access() {
        Access::Lru => e.set_meta(lru_clock(now)),
        Access::Lfu => {
            let mut counter = lfu_decayed(e.meta(), now);
            if counter < 255 {
                let base = counter.saturating_sub(LFU_INIT) as f64;
                let p = 1.0 / (base * LFU_LOG_FACTOR + 1.0);
                let r = (next_rand() >> 11) as f64 / (1u64 << 53) as f64;
                if r < p {
                    counter += 1;
                }
            }
            e.set_meta(minutes(now) << 8 | counter);
        }
        Access::None | Access::S3Fifo => {}
    }
}

/// OBJECT FREQ: the entry's LFU counter after its decay, while an LFU policy
/// keeps one.
pub fn frequency(e: &Entry, now: u64) -> Result<u32, OpError> {
    match access() {
        Access::Lfu => Ok(lfu_decayed(e.meta(), now)),
        _ => Err(OpError::FreqNotTracked),
    }
}

/// OBJECT IDLETIME: seconds since the entry's last access, while an LRU
/// policy keeps its access clock.
pub fn idle_seconds(e: &Entry, now: u64) -> Result<u64, OpError> {
    match access() {
        Access::Lru => Ok(u64::from(lru_clock(now).wrapping_sub(e.meta())) / 1000),
        Access::Lfu => Err(OpError::IdleUnderLfu),
        Access::None | Access::S3Fifo => Err(OpError::IdleNotTracked),
    }
}

/// RESTORE's IDLETIME or FREQ, as Redis's `objectSetLRUOrLFU`: the idle
/// time sets the access clock under an LRU policy, the frequency the
/// counter under an LFU one; the other policies keep neither.
pub fn restore_access(e: &mut Entry, now: u64, hint: AccessHint) {
    match (access(), hint) {
        (Access::Lru, AccessHint::IdleSecs(s)) => {
            e.set_meta(lru_clock(now.saturating_sub(s.saturating_mul(1000))))
        }
        (Access::Lfu, AccessHint::Freq(f)) => e.set_meta(minutes(now) << 8 | u32::from(f)),
        _ => {}
    }
}

/// Give a new entry its first access record (entries that move between shards
/// or cores keep theirs: they are not new).
#[inline]
pub fn init(e: &mut Entry) {
    match access() {
        Access::Lru => e.set_meta(lru_clock(super::now_ms())),
        Access::Lfu => e.set_meta(minutes(super::now_ms()) << 8 | LFU_INIT),
        Access::None | Access::S3Fifo => {}
    }
}

/// How much more an entry deserves eviction: higher is evicted first.
pub(super) fn score(policy: Policy, e: &Entry, now: u64) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => {
            u64::from(lru_clock(now).wrapping_sub(e.meta()))
        }
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - u64::from(lfu_decayed(e.meta(), now)),
        Policy::VolatileTtl => u64::MAX - e.deadline().unwrap_or(u64::MAX),
        _ => 0,
    }
}

pub(super) struct Candidate {
    pub(super) score: u64,
    pub(super) key: Bytes,
}

/// What an eviction pass left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// This core is within its share of `maxmemory`.
    Enough,
    /// Still over after the `max` keys a pass may evict.
    More,
    /// Over only by table space a split, merge or migration holds for now:
    /// evicting would not free it, its end does.
    Held,
    /// Over with nothing the policy may evict (`noeviction`, or no key with a
    /// deadline for a volatile policy): writes that need memory are refused.
    Full,
}

/// This core's eviction state.
pub struct Evictor {
    pub(super) policy: Policy,
    /// The whole server's limit (0: none), and this core's share of it.
    pub(super) maxmemory: u64,
    pub(super) limit: usize,
    /// The table epoch `limit` was computed under.
    pub(super) limit_epoch: Option<u64>,
    pub(super) samples: usize,
    pub(super) pool: Vec<Candidate>,
    pub(super) victim: Option<ShardId>,
    pub(super) victim_uses: u32,
    /// `Keyspace::held_slack` (in [`super::evict`]) and the millisecond it was summed in.
    pub(super) held_slack: Option<(u64, usize)>,
    /// Keys evicted here.
    pub evicted: u64,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            policy: DEFAULT_POLICY,
            maxmemory: 0,
            limit: 0,
            limit_epoch: None,
            samples: DEFAULT_SAMPLES,
            pool: Vec::new(),
            victim: None,
            victim_uses: 0,
            held_slack: None,
            evicted: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_grows_slowly_and_decays() {
        set_access(Access::Lfu);
        let mut e = Entry::new(b"k", b"v", None);
        init(&mut e);
        assert_eq!(e.meta() & 0xff, LFU_INIT);
        let now = super::super::now_ms();
        for _ in 0..10_000 {
            touch(&mut e, now);
        }
        let c = e.meta() & 0xff;
        assert!(c > LFU_INIT + 5 && c < 100, "counter {c}");
        // Ten idle minutes take ten off.
        assert_eq!(lfu_decayed(e.meta(), now + 10 * 60_000), c - 10);
        set_access(Access::None);
    }
}
