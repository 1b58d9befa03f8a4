//! A point-in-time copy of this core's shards while requests keep changing
//! them (what BGSAVE writes). At the start every held shard is pending; a
//! background step copies pending shards one at a time, and any change to a
//! pending shard's entries copies that shard first (`Keyspace::shard_mut`
//! calls [`Keyspace::capture_shard`]; FLUSHALL copies every pending shard).
//! So each key is copied as it was when the capture began. A shard is the
//! unit: its keys are few (the controller splits shards past
//! `shard-max-keys`), so a first write to one pays for copying that shard.
//!
//! What a copy does with a shard is the caller's (`copy`): this file never
//! encodes, writes or awaits. Two things the copy may miss, and why that is
//! right: a key whose deadline passes during the capture and is purged first
//! (a loader drops it anyway: its deadline has passed), and shards that
//! arrive, split or merge during it — the caller keeps the staircase still
//! while a capture runs.

use super::super::staircase::ShardId;
use super::{Capture, CopyShard, Keyspace};

impl Keyspace {
    /// Begin a capture of every shard held now; `copy` gets each one once.
    pub fn begin_capture(&mut self, copy: CopyShard) {
        let pending: Vec<bool> = self.shards.iter().map(Option::is_some).collect();
        let left = pending.iter().filter(|p| **p).count();
        self.capture = Some(Capture {
            pending,
            left,
            copy,
        });
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
        if let Some(shard) = self.shards.get(id as usize).and_then(Option::as_ref) {
            (c.copy)(id, shard);
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
        ks.begin_capture(Box::new(move |_, shard| {
            for e in shard.iter() {
                let prev = sink
                    .borrow_mut()
                    .insert(e.key().to_vec(), e.value().to_vec());
                assert!(prev.is_none(), "a key copied twice");
            }
        }));
        // Changes interleaved with background steps: every copy is of the old state.
        let mut i = 0u32;
        while ks.capture_next() {
            for _ in 0..50 {
                ks.execute(put(format!("k{}", i % 2000).as_bytes(), b"new"), NOW);
                ks.execute(put(format!("fresh{i}").as_bytes(), b"new"), NOW);
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
        ks.begin_capture(Box::new(move |_, shard| *sink.borrow_mut() += shard.len()));
        ks.execute(Op::Core(CoreOp::Flush), NOW);
        assert_eq!(*n.borrow(), 500);
        assert!(!ks.capture_next());
    }
}
