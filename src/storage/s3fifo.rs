//! The queues of S3-FIFO (Yang et al., "FIFO queues are all you need for cache
//! eviction", SOSP 2023) for one shard: a small FIFO that new keys enter, a main
//! FIFO for keys that were read while in the small one, and a ghost of keys
//! recently evicted from the small queue, so a key that comes back soon goes
//! straight to main. Queue items are table hashes; the entry itself carries
//! its queue (main or small) and a 2-bit access count, so an item whose entry
//! is gone or moved on is recognised as stale and skipped.
//!
//! The ghost is a direct-mapped table of 16-bit fingerprints, one slot per
//! entry of the shard rounded up to a power of two: 2–4 bytes a key instead of
//! a second FIFO of hashes plus a set (a false hit, 1 in 32,768, only sends a
//! new key to main). A newer ghost overwrites an older one
//! in its slot, which ages the ghost out as a FIFO would, at random.
//!
//! This module only keeps the queues; the shard runs the algorithm, because
//! removing an entry is the shard's business (its accounting, its heap).

use std::collections::VecDeque;

/// Share of a shard's entries the small queue aims for (the paper's 10%).
pub const SMALL_PERCENT: usize = 10;

#[derive(Default)]
pub struct Fifo {
    pub small: VecDeque<u64>,
    pub main: VecDeque<u64>,
    /// Live entries in each queue (the queues may also hold stale items).
    pub small_len: usize,
    pub main_len: usize,
    ghost: Vec<u16>,
}

#[inline]
fn fingerprint(thash: u64) -> u16 {
    // The top bits (the slot is from the bottom ones); never 0, an empty slot.
    ((thash >> 48) as u16) | 1
}

impl Fifo {
    /// Queue an entry at the back of the main or the small queue, and count it.
    pub fn push(&mut self, thash: u64, main: bool) {
        if main {
            self.main.push_back(thash);
            self.main_len += 1;
        } else {
            self.small.push_back(thash);
            self.small_len += 1;
        }
    }

    /// An entry of the main or the small queue left the shard (its item, now
    /// stale, is skipped when it comes up).
    pub fn uncount(&mut self, main: bool) {
        if main {
            self.main_len -= 1;
        } else {
            self.small_len -= 1;
        }
    }

    /// Remember a key evicted from the small queue.
    pub fn ghost_insert(&mut self, thash: u64, entries: usize) {
        self.size_ghost(entries);
        let i = thash as usize & (self.ghost.len() - 1);
        self.ghost[i] = fingerprint(thash);
    }

    /// True (once) when the key was evicted from the small queue lately.
    pub fn ghost_take(&mut self, thash: u64) -> bool {
        if self.ghost.is_empty() {
            return false;
        }
        let i = thash as usize & (self.ghost.len() - 1);
        if self.ghost[i] == fingerprint(thash) {
            self.ghost[i] = 0;
            return true;
        }
        false
    }

    /// Keep the ghost near one slot per entry; a resize forgets it.
    fn size_ghost(&mut self, entries: usize) {
        let want = entries.max(64).next_power_of_two();
        if self.ghost.len() < want / 2 || self.ghost.len() > want * 2 || self.ghost.is_empty() {
            self.ghost = vec![0; want];
        }
    }

    /// True when the next eviction should come from the small queue.
    pub fn evict_small(&self, entries: usize) -> bool {
        self.small_len > 0
            && (self.small_len * 100 >= entries * SMALL_PERCENT || self.main_len == 0)
    }

    /// True when stale items outnumber live entries enough to be worth dropping.
    pub fn bloated(&self) -> bool {
        self.small.len() + self.main.len() > 2 * (self.small_len + self.main_len) + 64
    }

    /// Bytes the queues and the ghost take.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Fifo>()
            + (self.small.capacity() + self.main.capacity()) * 8
            + self.ghost.capacity() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghost_remembers_until_overwritten_or_taken() {
        let mut f = Fifo::default();
        assert!(!f.ghost_take(7));
        f.ghost_insert(0xdead_beef_0000_0005, 100);
        assert_eq!(f.ghost.len(), 128);
        assert!(f.ghost_take(0xdead_beef_0000_0005));
        assert!(!f.ghost_take(0xdead_beef_0000_0005), "taken once");
        // Same slot, other fingerprint: the newer one wins.
        f.ghost_insert(0x0002_0000_0000_0005, 100);
        f.ghost_insert(0x0004_0000_0000_0005, 100);
        assert!(!f.ghost_take(0x0002_0000_0000_0005));
        assert!(f.ghost_take(0x0004_0000_0000_0005));
        // Resized to the shard: forgotten.
        f.ghost_insert(1 << 60, 100);
        f.ghost_insert(3, 10_000);
        assert_eq!(f.ghost.len(), 16_384);
        assert!(!f.ghost_take(1 << 60));
    }

    #[test]
    fn small_queue_share() {
        let mut f = Fifo {
            small_len: 9,
            main_len: 91,
            ..Fifo::default()
        };
        assert!(!f.evict_small(100));
        f.small_len = 10;
        assert!(f.evict_small(100));
        f.small_len = 0;
        assert!(!f.evict_small(100));
        f.small_len = 1;
        f.main_len = 0;
        assert!(f.evict_small(100));
    }
}
