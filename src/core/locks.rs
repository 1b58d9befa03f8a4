//! This core's intent locks (VLL-style, as Dragonfly orders its multi-key
//! transactions): which keys a transaction holds here, and who waits, first
//! come first served. It decides grants only; it never runs an op, never
//! sends a message and never looks at a value.
//!
//! How a transaction that spans cores stays atomic with these
//! (`command::transactions` drives it): it asks the cores its keys live on for
//! them one core at a time, in ascending core order, and each core grants all
//! of its keys at once. A transaction waits only while holding keys of lower
//! cores, so no cycle of waits can form (ordered acquisition), and a core's
//! queue is FIFO, so no request waits behind later ones (no starvation). Once
//! it holds every key it runs its commands, whose ops carry its id so that
//! they pass its own locks; then it lets go everywhere. Any other op on a
//! held key waits here (`World::serve`) in the same queue, as a short-lived
//! holder of its keys; ops on other keys never look at this table beyond
//! [`Locks::is_idle`].
//!
//! A request with `whole` holds the core's whole keyspace (FLUSHALL, KEYS,
//! DBSIZE inside a transaction): it conflicts with every holder. A request
//! with no keys and no `whole` conflicts only with a whole holder (a
//! core-wide read such as DBSIZE outside a transaction).
//!
//! A holder running a script past `busy-reply-threshold` is marked busy
//! ([`Locks::mark_busy`]): whoever waits for what it holds is answered
//! [`Grant::Busy`] (the client gets `-BUSY`) instead of waiting on.
//!
//! Keys and migrations: a key is locked on the core that owns it. A
//! migration of a shard waits until no key of it is held here and, while it
//! waits, grants no new key of it ([`Locks::freeze`]); once the shard has
//! moved, waiters for its keys are answered [`Grant::Moved`] and the
//! transaction starts again from its first core. Splits and merges keep keys
//! on their core, so they never wait for a lock.

use crate::runtime::notify::Slot;
use crate::storage::staircase::ShardId;
use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// How a lock request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Granted,
    /// A key is not (or no longer) owned here: ask again by a newer table.
    Moved,
    /// Released before it was granted.
    Cancelled,
    /// A holder of a key asked for is a script busy past
    /// `busy-reply-threshold`: the requester is answered `-BUSY` rather than
    /// wait (Redis answers every client so while a script is busy).
    Busy,
}

/// Where a key stands for a grant, as the core's table sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlace {
    /// Owned here, in this shard.
    Here(ShardId),
    Elsewhere,
}

struct Waiter {
    tx: u64,
    keys: Vec<Bytes>,
    whole: bool,
    slot: Rc<Slot<Grant>>,
}

#[derive(Default)]
pub struct Locks {
    /// Key → the transaction holding it.
    held: HashMap<Bytes, u64, ahash::RandomState>,
    /// How many keys each holder holds (for release).
    holders: HashMap<u64, Vec<Bytes>, ahash::RandomState>,
    /// A transaction holding the whole keyspace.
    whole: Option<u64>,
    queue: VecDeque<Waiter>,
    /// Shards whose migration waits for their keys to be let go.
    frozen: Vec<ShardId>,
    /// Holders running a script past `busy-reply-threshold`.
    busy: HashSet<u64, ahash::RandomState>,
}

impl Locks {
    /// Nothing is held: every op runs without looking further.
    pub fn is_idle(&self) -> bool {
        self.whole.is_none() && self.held.is_empty()
    }

    /// Would an op of `tx` (0 for none) on `key` have to wait?
    pub fn blocks(&self, key: &[u8], tx: u64) -> bool {
        self.whole.is_some_and(|h| h != tx) || self.held.get(key).is_some_and(|&h| h != tx)
    }

    /// Does `tx` hold `key` (or everything) here?
    pub fn held_by(&self, key: &[u8], tx: u64) -> bool {
        self.whole == Some(tx) || self.held.get(key) == Some(&tx)
    }

    /// Would a core-wide op of `tx` have to wait (a whole holder other than it)?
    pub fn blocks_core(&self, tx: u64) -> bool {
        self.whole.is_some_and(|h| h != tx)
    }

    /// Ask for `keys` (or the whole keyspace) for `tx`; the slot fills once
    /// granted (at once when nothing conflicts). `place` says where each key is.
    pub fn request(
        &mut self,
        tx: u64,
        keys: Vec<Bytes>,
        whole: bool,
        place: &dyn Fn(&[u8]) -> KeyPlace,
    ) -> Rc<Slot<Grant>> {
        let slot = Slot::new();
        self.queue.push_back(Waiter {
            tx,
            keys,
            whole,
            slot: slot.clone(),
        });
        self.pump(place);
        slot
    }

    /// Take `keys` for `tx` now, ahead of any waiter, if nobody holds one of
    /// them (false, taking nothing, otherwise). For a caller that knows it
    /// started before any waiter could want them (see `World::hold_free_keys`).
    pub fn force(&mut self, tx: u64, keys: &[Bytes]) -> bool {
        if self.whole.is_some() || keys.iter().any(|k| self.held.contains_key(k)) {
            return false;
        }
        let mine = self.holders.entry(tx).or_default();
        for k in keys {
            self.held.insert(k.clone(), tx);
            mine.push(k.clone());
        }
        true
    }

    /// Let go of everything `tx` holds or waits for here; grants what can now go.
    pub fn release(&mut self, tx: u64, place: &dyn Fn(&[u8]) -> KeyPlace) {
        if let Some(keys) = self.holders.remove(&tx) {
            for k in keys {
                if self.held.get(&k) == Some(&tx) {
                    self.held.remove(&k);
                }
            }
        }
        if self.whole == Some(tx) {
            self.whole = None;
        }
        self.busy.remove(&tx);
        self.queue.retain(|w| {
            if w.tx == tx {
                w.slot.fill(Grant::Cancelled);
            }
            w.tx != tx
        });
        self.pump(place);
    }

    /// `tx` runs a script past `busy-reply-threshold`: whoever waits for what
    /// it holds here, now or later, is answered [`Grant::Busy`]. Nothing if
    /// it holds nothing here.
    pub fn mark_busy(&mut self, tx: u64, place: &dyn Fn(&[u8]) -> KeyPlace) {
        if self.holders.contains_key(&tx) || self.whole == Some(tx) {
            self.busy.insert(tx);
            self.pump(place);
        }
    }

    /// Does a busy holder hold one of `keys` (or, with `whole`, anything)?
    fn busy_holds(&self, keys: &[Bytes], whole: bool) -> bool {
        if self.busy.is_empty() {
            return false;
        }
        let busy = |h: &u64| self.busy.contains(h);
        self.whole.as_ref().is_some_and(busy)
            || (whole && self.held.values().any(busy))
            || keys.iter().any(|k| self.held.get(k).is_some_and(busy))
    }

    /// Would an op of `tx` on `key` wait for a busy holder?
    pub fn busy_blocks(&self, key: &[u8], tx: u64) -> bool {
        self.blocks(key, tx)
            && (self.whole.iter().chain(self.held.get(key)))
                .any(|h| *h != tx && self.busy.contains(h))
    }

    /// Would a core-wide op of `tx` wait for a busy whole holder?
    pub fn busy_whole(&self, tx: u64) -> bool {
        self.whole
            .is_some_and(|h| h != tx && self.busy.contains(&h))
    }

    /// Hold back new grants of `shard`'s keys (a migration of it is about to start).
    pub fn freeze(&mut self, shard: ShardId) {
        self.frozen.push(shard);
    }

    /// The migration of `shard` started (or gave up): grant, or answer Moved, what waited.
    pub fn thaw(&mut self, shard: ShardId, place: &dyn Fn(&[u8]) -> KeyPlace) {
        self.frozen.retain(|&s| s != shard);
        self.pump(place);
    }

    /// Is any key of `shard` held here?
    pub fn holds_shard(&self, shard: ShardId, place: &dyn Fn(&[u8]) -> KeyPlace) -> bool {
        self.held.keys().any(|k| place(k) == KeyPlace::Here(shard))
    }

    /// Grant waiters in order. A waiter that cannot go yet keeps its keys (and,
    /// if whole, everything) from the waiters behind it, so a queue is FIFO per key.
    fn pump(&mut self, place: &dyn Fn(&[u8]) -> KeyPlace) {
        let mut taken: HashSet<Bytes, ahash::RandomState> = HashSet::default();
        let mut blocked_all = false;
        let mut i = 0;
        while i < self.queue.len() {
            let w = &self.queue[i];
            let mut moved = false;
            let mut frozen = false;
            for k in &w.keys {
                match place(k) {
                    KeyPlace::Elsewhere => moved = true,
                    KeyPlace::Here(s) => frozen |= self.frozen.contains(&s),
                }
            }
            if moved {
                let w = self.queue.remove(i).expect("index in range");
                w.slot.fill(Grant::Moved);
                continue;
            }
            if self.busy_holds(&w.keys, w.whole) {
                let w = self.queue.remove(i).expect("index in range");
                w.slot.fill(Grant::Busy);
                continue;
            }
            let conflict = blocked_all
                || frozen
                || self.whole.is_some()
                || (w.whole && (!self.held.is_empty() || !taken.is_empty()))
                || w.keys
                    .iter()
                    .any(|k| self.held.contains_key(k) || taken.contains(k));
            if conflict {
                if w.whole {
                    blocked_all = true;
                }
                taken.extend(w.keys.iter().cloned());
                i += 1;
                continue;
            }
            let w = self.queue.remove(i).expect("index in range");
            if w.whole {
                self.whole = Some(w.tx);
            }
            let mine = self.holders.entry(w.tx).or_default();
            for k in w.keys {
                self.held.insert(k.clone(), w.tx);
                mine.push(k);
            }
            w.slot.fill(Grant::Granted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here(k: &[u8]) -> KeyPlace {
        KeyPlace::Here(k.first().map_or(0, |&b| b as ShardId % 4))
    }

    fn keys(ks: &[&str]) -> Vec<Bytes> {
        ks.iter()
            .map(|k| Bytes::copy_from_slice(k.as_bytes()))
            .collect()
    }

    fn granted(s: &Rc<Slot<Grant>>) -> Option<Grant> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut f = s.wait();
        match std::future::Future::poll(std::pin::Pin::new(&mut f), &mut cx) {
            std::task::Poll::Ready(g) => Some(g),
            std::task::Poll::Pending => None,
        }
    }

    #[test]
    fn conflicting_requests_are_granted_in_order() {
        let mut l = Locks::default();
        let a = l.request(1, keys(&["a", "b"]), false, &here);
        let b = l.request(2, keys(&["b"]), false, &here);
        let c = l.request(3, keys(&["c"]), false, &here);
        assert_eq!(granted(&a), Some(Grant::Granted));
        assert_eq!(granted(&b), None);
        assert_eq!(granted(&c), Some(Grant::Granted), "other keys never wait");
        assert!(l.blocks(b"b", 0) && !l.blocks(b"b", 1) && !l.blocks(b"z", 0));
        l.release(1, &here);
        assert_eq!(granted(&b), Some(Grant::Granted));
        l.release(2, &here);
        l.release(3, &here);
        assert!(l.is_idle());
    }

    #[test]
    fn a_waiter_keeps_its_keys_from_later_waiters() {
        let mut l = Locks::default();
        let _a = l.request(1, keys(&["a"]), false, &here);
        let b = l.request(2, keys(&["a", "x"]), false, &here);
        // "x" is free, but 2 asked for it first: 3 waits behind 2.
        let c = l.request(3, keys(&["x"]), false, &here);
        assert_eq!((granted(&b), granted(&c)), (None, None));
        l.release(1, &here);
        assert_eq!(granted(&b), Some(Grant::Granted));
        assert_eq!(granted(&c), None);
        l.release(2, &here);
        assert_eq!(granted(&c), Some(Grant::Granted));
    }

    #[test]
    fn whole_conflicts_with_everything() {
        let mut l = Locks::default();
        let a = l.request(1, keys(&["a"]), false, &here);
        let w = l.request(2, vec![], true, &here);
        let b = l.request(3, keys(&["b"]), false, &here);
        assert_eq!(granted(&a), Some(Grant::Granted));
        assert_eq!(granted(&w), None);
        assert_eq!(granted(&b), None, "behind a waiting whole request");
        l.release(1, &here);
        assert_eq!(granted(&w), Some(Grant::Granted));
        assert!(l.blocks(b"zz", 0) && l.blocks_core(0) && !l.blocks_core(2));
        l.release(2, &here);
        assert_eq!(granted(&b), Some(Grant::Granted));
    }

    #[test]
    fn waiters_for_a_busy_holder_are_answered_busy() {
        let mut l = Locks::default();
        let a = l.request(1, keys(&["a"]), false, &here);
        let b = l.request(2, keys(&["a", "b"]), false, &here);
        let c = l.request(3, keys(&["b"]), false, &here);
        assert_eq!(granted(&a), Some(Grant::Granted));
        assert_eq!((granted(&b), granted(&c)), (None, None));
        l.mark_busy(9, &here); // holds nothing here: no effect
        assert_eq!(granted(&b), None);
        l.mark_busy(1, &here);
        assert_eq!(granted(&b), Some(Grant::Busy));
        // 2 no longer keeps "b" from 3.
        assert_eq!(granted(&c), Some(Grant::Granted));
        assert!(l.busy_blocks(b"a", 0) && !l.busy_blocks(b"a", 1) && !l.busy_blocks(b"b", 0));
        let d = l.request(4, keys(&["a"]), false, &here);
        assert_eq!(granted(&d), Some(Grant::Busy), "new requests too");
        l.release(1, &here);
        let e = l.request(5, keys(&["a"]), false, &here);
        assert_eq!(granted(&e), Some(Grant::Granted), "busy ends with the hold");
    }

    #[test]
    fn release_cancels_a_waiter_and_freeze_holds_back_a_shard() {
        let mut l = Locks::default();
        let _a = l.request(1, keys(&["a"]), false, &here);
        let b = l.request(2, keys(&["a"]), false, &here);
        l.release(2, &here);
        assert_eq!(granted(&b), Some(Grant::Cancelled));
        let shard = match here(b"a") {
            KeyPlace::Here(s) => s,
            KeyPlace::Elsewhere => unreachable!(),
        };
        assert!(l.holds_shard(shard, &here));
        l.freeze(shard);
        l.release(1, &here);
        assert!(!l.holds_shard(shard, &here));
        let c = l.request(3, keys(&["a"]), false, &here);
        assert_eq!(granted(&c), None, "frozen shard");
        // The shard moved away: the waiter is told so.
        l.thaw(shard, &|_| KeyPlace::Elsewhere);
        assert_eq!(granted(&c), Some(Grant::Moved));
        assert!(l.is_idle());
    }
}
