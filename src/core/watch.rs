//! WATCH on this core: which clients watch which of the keys it owns, and
//! which of those watches a change has spoiled since. A watch lives on the
//! core that owns its key, so a write marks it where it happens, with no
//! message; EXEC asks each core whether its watch is spoiled while it holds
//! the keys (`core::locks`), so nothing can spoil it between the question and
//! the transaction. It never reads or changes a value.
//!
//! What spoils a watch, as in Redis 7: a write that changed the key, its
//! deletion, expiry or eviction, FLUSHALL/FLUSHDB (every watch here), and a
//! key that was live when watched and is past its deadline at EXEC. A watch
//! follows its key when the key's shard moves to another core
//! ([`Watches::take_where`] here, [`Watches::adopt`] there, sent ahead of the
//! table that gives the shard away, so the new owner has it before it can
//! apply a write to the key). Beyond Redis: a watch that reached a core that
//! no longer owns its key (a move raced the WATCH) is spoiled at once.

use bytes::Bytes;
use std::collections::{HashMap, HashSet};

/// One client's watch of one key, on its way to the key's new core.
#[derive(Debug)]
pub struct MovedWatch {
    pub key: Bytes,
    pub id: u64,
    /// The key was past its deadline when watched.
    pub expired: bool,
    /// The client's watch was spoiled where it came from.
    pub spoiled: bool,
}

#[derive(Default)]
pub struct Watches {
    /// Key → (watching client, was the key already past its deadline when watched).
    by_key: HashMap<Bytes, Vec<(u64, bool)>, ahash::RandomState>,
    by_id: HashMap<u64, Vec<Bytes>, ahash::RandomState>,
    spoiled: HashSet<u64, ahash::RandomState>,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Client `id` watches `key`. `expired`: the key is past its deadline now;
    /// `owned`: this core owns the key (a watch elsewhere is spoiled at once).
    pub fn watch(&mut self, id: u64, key: Bytes, expired: bool, owned: bool) {
        let ids = self.by_key.entry(key.clone()).or_default();
        if !ids.iter().any(|&(i, _)| i == id) {
            ids.push((id, expired));
            self.by_id.entry(id).or_default().push(key);
        }
        if !owned {
            self.spoiled.insert(id);
        }
    }

    /// `key` changed.
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(ids) = self.by_key.get(key) {
            self.spoiled.extend(ids.iter().map(|&(i, _)| i));
        }
    }

    /// Every watched key here changed (FLUSHALL).
    pub fn touch_all(&mut self) {
        self.spoiled.extend(self.by_id.keys().copied());
    }

    /// Take out the watches of keys for which `pred` holds (their shard is
    /// leaving this core), to be adopted where it goes.
    pub fn take_where(&mut self, pred: impl Fn(&[u8]) -> bool) -> Vec<MovedWatch> {
        let keys: Vec<Bytes> = self.by_key.keys().filter(|k| pred(k)).cloned().collect();
        let mut out = Vec::new();
        for key in keys {
            let Some(ids) = self.by_key.remove(&key) else {
                continue;
            };
            for (id, expired) in ids {
                if let Some(mine) = self.by_id.get_mut(&id) {
                    mine.retain(|k| k != &key);
                    if mine.is_empty() {
                        self.by_id.remove(&id);
                    }
                }
                // Spoiled here by whichever key: spoiled there too (a client
                // spoiled on one core fails its EXEC anyway).
                let spoiled = self.spoiled.contains(&id);
                out.push(MovedWatch {
                    key: key.clone(),
                    id,
                    expired,
                    spoiled,
                });
            }
        }
        out
    }

    /// Watches that followed their keys here.
    pub fn adopt(&mut self, moved: Vec<MovedWatch>) {
        for m in moved {
            self.watch(m.id, m.key, m.expired, true);
            if m.spoiled {
                self.spoiled.insert(m.id);
            }
        }
    }

    /// Has client `id`'s watch here been spoiled? `expired` says whether a key
    /// is past its deadline now.
    pub fn spoiled(&self, id: u64, expired: impl Fn(&[u8]) -> bool) -> bool {
        if self.spoiled.contains(&id) {
            return true;
        }
        let Some(keys) = self.by_id.get(&id) else {
            return false;
        };
        keys.iter().any(|k| {
            let was = self.by_key.get(k).and_then(|ids| {
                ids.iter()
                    .find(|&&(i, _)| i == id)
                    .map(|&(_, expired)| expired)
            });
            was == Some(false) && expired(k)
        })
    }

    /// Client `id` stops watching (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn forget(&mut self, id: u64) {
        self.spoiled.remove(&id);
        let Some(keys) = self.by_id.remove(&id) else {
            return;
        };
        for k in keys {
            if let Some(ids) = self.by_key.get_mut(&k) {
                ids.retain(|&(i, _)| i != id);
                if ids.is_empty() {
                    self.by_key.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn a_touch_spoils_only_the_watchers_of_that_key() {
        let mut w = Watches::default();
        w.watch(1, b("a"), false, true);
        w.watch(2, b("b"), false, true);
        w.touch(b"a");
        assert!(w.spoiled(1, |_| false));
        assert!(!w.spoiled(2, |_| false));
        w.forget(1);
        assert!(!w.spoiled(1, |_| false));
        w.forget(2);
        assert!(w.is_empty() && w.by_key.is_empty());
    }

    #[test]
    fn expiry_between_watch_and_exec_spoils_unless_already_expired() {
        let mut w = Watches::default();
        w.watch(1, b("live"), false, true);
        w.watch(2, b("dead"), true, true);
        assert!(w.spoiled(1, |_| true));
        assert!(!w.spoiled(2, |_| true));
    }

    #[test]
    fn watches_follow_their_keys_with_their_state() {
        let mut here = Watches::default();
        here.watch(1, b("moves"), false, true);
        here.watch(1, b("stays"), false, true);
        here.watch(2, b("moves"), true, true);
        here.watch(3, b("moves2"), false, true);
        here.touch(b"moves2");
        let moved = here.take_where(|k| k.starts_with(b"moves"));
        assert_eq!(moved.len(), 3);
        assert!(here.by_key.keys().all(|k| k == &b("stays")));
        assert!(!here.by_id.contains_key(&2) && !here.spoiled(1, |_| false));
        let mut there = Watches::default();
        there.adopt(moved);
        assert!(!there.spoiled(1, |_| false));
        assert!(
            !there.spoiled(2, |_| true),
            "was already expired when watched"
        );
        assert!(there.spoiled(3, |_| false), "spoiled before it moved");
        there.touch(b"moves");
        assert!(there.spoiled(1, |_| false) && there.spoiled(2, |_| false));
    }

    #[test]
    fn flush_and_foreign_keys_spoil() {
        let mut w = Watches::default();
        w.watch(1, b("a"), false, true);
        w.watch(2, b("b"), false, false);
        assert!(!w.spoiled(1, |_| false) && w.spoiled(2, |_| false));
        w.touch(b"a");
        assert!(w.spoiled(1, |_| false));
        w.forget(1);
        w.watch(1, b("a"), false, true);
        w.touch_all();
        assert!(w.spoiled(1, |_| false));
    }
}
