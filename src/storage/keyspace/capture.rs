//! A point-in-time copy of this core's shards while requests keep changing
//! them (what BGSAVE and a log rewrite's bases write). At the start every
//! held shard is pending; a background step copies pending shards one at a
//! time. A request that changes a key of a pending shard first saves that
//! one key as it was ([`Keyspace::shard_for_key`]: a clone of one entry, or
//! "absent"), and the copy of the shard later reads the shard through those
//! saved keys ([`as_it_was`]); any other change to a pending shard (expiry,
//! eviction, FLUSHALL, a migration) copies the whole shard first
//! (`Keyspace::shard_mut` calls [`Keyspace::capture_shard`]). So each key is
//! copied as it was when the capture began, and a write pays for one entry,
//! not for its shard: copying whole shards on first write held requests for
//! the copy of a shard each, a p99.9 of 10× steady during a BGSAVE.
//!
//! What a copy does with a shard is the caller's (`copy`): this file never
//! encodes, writes or awaits. Two things the copy may miss, and why that is
//! right: a key whose deadline passes during the capture and is purged first
//! (a loader drops it anyway: its deadline has passed), and shards that
//! arrive, split or merge during it — the caller keeps the staircase still
//! while a capture runs.

use super::super::entry::Entry;
use super::super::shard::Shard;
use super::super::staircase::ShardId;
use super::{Capture, CopyShard, Keyspace};
use bytes::Bytes;

/// Keys of one shard changed during a capture before the shard was copied,
/// each as it was when the capture began (None: it did not exist).
pub type Saved = std::collections::HashMap<Bytes, Option<Entry>, ahash::RandomState>;

/// The entries of `shard` as they were when the capture began: those no
/// request changed since, and the saved ones that existed.
pub fn as_it_was<'a>(shard: &'a Shard, saved: &'a Saved) -> impl Iterator<Item = &'a Entry> + 'a {
    let none_saved = saved.is_empty();
    shard
        .iter()
        .filter(move |e| none_saved || !saved.contains_key(e.key()))
        .chain(saved.values().filter_map(Option::as_ref))
}

impl Keyspace {
    /// Begin a capture of every shard held now; `copy` gets each one once.
    pub fn begin_capture(&mut self, copy: CopyShard) {
        let pending: Vec<bool> = self.shards.iter().map(Option::is_some).collect();
        let left = pending.iter().filter(|p| **p).count();
        self.capture = Some(Capture {
            pending,
            left,
            copy,
            saved: Default::default(),
        });
    }

    /// The shard a request changes `key` in: while the shard waits for the
    /// running capture, the key is saved first (once) instead of the whole
    /// shard being copied.
    pub(super) fn shard_for_key(
        &mut self,
        id: ShardId,
        thash: u64,
        key: &[u8],
    ) -> Option<&mut Shard> {
        let pending = self
            .capture
            .as_ref()
            .is_some_and(|c| c.pending.get(id as usize).copied().unwrap_or(false));
        if !pending {
            return self.shard_mut(id);
        }
        let shard = self.shards.get_mut(id as usize).and_then(Option::as_mut)?;
        if let Some(c) = self.capture.as_mut() {
            let saved = c.saved.entry(id).or_default();
            if !saved.contains_key(key) {
                saved.insert(Bytes::copy_from_slice(key), shard.peek(thash, key).cloned());
            }
        }
        Some(shard)
    }

    /// Copy shard `id` now if the running capture has not yet.
    pub fn capture_shard(&mut self, id: ShardId) {
        let Some(c) = self.capture.as_mut() else {
            return;
        };
        if !c.pending.get(id as usize).copied().unwrap_or(false) {
            return;
        }
        c.pending[id as usize] = false;
        c.left -= 1;
        let saved = c.saved.remove(&id).unwrap_or_default();
        if let Some(shard) = self.shards.get(id as usize).and_then(Option::as_ref) {
            (c.copy)(id, shard, &saved);
        }
    }

    /// Copy every shard still pending (before a change to all of them).
    pub fn capture_all(&mut self) {
        let n = self.capture.as_ref().map_or(0, |c| c.pending.len());
        for id in 0..n {
            self.capture_shard(id as ShardId);
        }
    }

    /// Copy the next pending shard: the background step. False when none is left.
    pub fn capture_next(&mut self) -> bool {
        let next = self
            .capture
            .as_ref()
            .and_then(|c| c.pending.iter().position(|p| *p));
        match next {
            Some(id) => {
                self.capture_shard(id as ShardId);
                true
            }
            None => false,
        }
    }

    /// Shards the running capture has still to copy (None: no capture).
    pub fn capture_left(&self) -> Option<usize> {
        self.capture.as_ref().map(|c| c.left)
    }

    /// End the capture (every shard copied, or given up).
    pub fn end_capture(&mut self) {
        self.capture = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    fn put(k: &[u8], v: &[u8]) -> Op {
        Op::Key {
            key: Bytes::copy_from_slice(k),
            op: KeyOp::Set {
                value: Bytes::copy_from_slice(v),
                cond: SetCond::Always,
                ttl: SetTtl::Clear,
                get: false,
            },
        }
    }

    #[test]
    fn a_capture_sees_every_key_as_it_was_when_it_began() {
        let mut ks = ks(1, 8);
        for i in 0..2000u32 {
            ks.execute(put(format!("k{i}").as_bytes(), b"old"), NOW);
        }
        let copied: Rc<RefCell<BTreeMap<Vec<u8>, Vec<u8>>>> = Rc::default();
        let sink = copied.clone();
        ks.begin_capture(Box::new(move |_, shard, saved| {
            for e in super::as_it_was(shard, saved) {
                let prev = sink
                    .borrow_mut()
                    .insert(e.key().to_vec(), e.value().to_vec());
                assert!(prev.is_none(), "a key copied twice");
            }
        }));
        // Changes interleaved with background steps: every copy is of the old
        // state (overwritten, deleted and new keys alike).
        let mut i = 0u32;
        while ks.capture_next() {
            for _ in 0..50 {
                ks.execute(put(format!("k{}", i % 2000).as_bytes(), b"new"), NOW);
                ks.execute(put(format!("fresh{i}").as_bytes(), b"new"), NOW);
                let gone = Op::Key {
                    key: Bytes::from(format!("k{}", (i * 7 + 3) % 2000)),
                    op: KeyOp::Del,
                };
                ks.execute(gone, NOW);
                i += 1;
            }
        }
        assert_eq!(ks.capture_left(), Some(0));
        ks.end_capture();
        let copied = copied.borrow();
        assert_eq!(copied.len(), 2000);
        assert!(copied.values().all(|v| v == b"old"));
        assert!(matches!(ks.execute(put(b"k1", b"x"), NOW), OpResult::Ok));
    }

    #[test]
    fn flushall_during_a_capture_copies_first() {
        let mut ks = ks(1, 4);
        for i in 0..500u32 {
            ks.execute(put(format!("k{i}").as_bytes(), b"v"), NOW);
        }
        let n = Rc::new(RefCell::new(0usize));
        let sink = n.clone();
        ks.begin_capture(Box::new(move |_, shard, saved| {
            *sink.borrow_mut() += super::as_it_was(shard, saved).count()
        }));
        ks.execute(Op::Core(CoreOp::Flush), NOW);
        assert_eq!(*n.borrow(), 500);
        assert!(!ks.capture_next());
    }

    #[test]
    fn a_write_saves_its_key_not_its_shard() {
        let mut ks = ks(1, 1);
        for i in 0..1000u32 {
            ks.execute(put(format!("k{i}").as_bytes(), b"old"), NOW);
        }
        let copies = Rc::new(RefCell::new(Vec::new()));
        let sink = copies.clone();
        ks.begin_capture(Box::new(move |_, shard, saved| {
            let mut seen: Vec<(Vec<u8>, Vec<u8>)> = super::as_it_was(shard, saved)
                .map(|e| (e.key().to_vec(), e.value().to_vec()))
                .collect();
            seen.sort();
            sink.borrow_mut().push(seen);
        }));
        ks.execute(put(b"k1", b"new"), NOW);
        ks.execute(put(b"brand-new", b"x"), NOW);
        let del = Op::Key {
            key: Bytes::from_static(b"k2"),
            op: KeyOp::Del,
        };
        ks.execute(del, NOW);
        assert!(copies.borrow().is_empty(), "no write copied the shard");
        while ks.capture_next() {}
        let copies = copies.borrow();
        let all: Vec<_> = copies.iter().flatten().collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|(k, v)| k.starts_with(b"k") && v == b"old"));
    }
}
