//! WATCH on this core: which clients watch which of the keys it owns, and
//! which of those watches a change has spoiled since. A watch lives on the
//! core that owns its key, so a write marks it where it happens, with no
//! message; EXEC asks each core whether its watch is spoiled while it holds
//! the keys (`core::locks`), so nothing can spoil it between the question and
//! the transaction. It never reads or changes a value.
//!
//! What spoils a watch, as in Redis 7: a write that changed the key, its
//! deletion, expiry or eviction, FLUSHALL/FLUSHDB (every watch here), and a
//! key that was live when watched and is past its deadline at EXEC. Beyond
//! Redis: the key's shard moving to another core (the watch cannot follow it),
//! and a watch that reached a core that does not own its key.

use bytes::Bytes;
use std::collections::{HashMap, HashSet};

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

    /// The watched keys for which `pred` holds changed (a shard moving away).
    pub fn touch_where(&mut self, pred: impl Fn(&[u8]) -> bool) {
        for (k, ids) in &self.by_key {
            if pred(k) {
                self.spoiled.extend(ids.iter().map(|&(i, _)| i));
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
    fn flush_moves_and_foreign_keys_spoil() {
        let mut w = Watches::default();
        w.watch(1, b("a"), false, true);
        w.watch(2, b("b"), false, false);
        assert!(!w.spoiled(1, |_| false) && w.spoiled(2, |_| false));
        w.touch_where(|k| k == b"a");
        assert!(w.spoiled(1, |_| false));
        w.forget(1);
        w.watch(1, b("a"), false, true);
        w.touch_all();
        assert!(w.spoiled(1, |_| false));
    }
}
