//! Client-side caching (CLIENT TRACKING) on this core: which clients cache
//! which of the keys this core owns, the BCAST prefixes of every core's
//! clients, and this core's own tracking connections. A key's readers are
//! remembered where the key lives, by an op sent just ahead of the read
//! (`KeyOp::Track`), so a write, expiry, eviction or flush here finds them
//! with no message; each is told once (the entry goes, as Redis's), on the
//! core its connection lives on ([`Delivery`] over the mesh). When a shard
//! leaves this core, its keys' readers are told at once (`take_where`):
//! their next read is remembered where the key went. Like Redis it never
//! forgets a reader that disconnected until the key changes; a table past
//! `tracking-table-max-keys` tells readers of its oldest keys to drop them.
//! It never reads a value or writes to a socket.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::pubsub::Mailbox;
pub use super::pubsub::Notice;

/// A notice on its way to the connection of `client` (and, from there, to
/// the client it redirects to: `redirected` is set once it was).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub client: u64,
    /// The tracking client the notice is for (where a broken redirect is told).
    pub from: u64,
    pub redirected: bool,
    pub notice: Notice,
}

/// A BCAST client: told of every change to a key under one of its prefixes.
#[derive(Debug, Clone)]
pub struct Bcast {
    pub client: u64,
    /// Empty: every key.
    pub prefixes: Vec<Bytes>,
    pub noloop: bool,
}

/// One of this core's tracking connections.
pub struct Local {
    pub mailbox: Rc<Mailbox>,
    /// The client its notices go to instead (0: itself).
    pub redirect: u64,
    /// Its redirect target was found gone (TRACKINGINFO's `broken_redirect`).
    pub broken: bool,
}

#[derive(Default)]
pub struct Tracking {
    /// Keys owned here → their readers (client, noloop).
    by_key: HashMap<Bytes, Vec<(u64, bool)>, ahash::RandomState>,
    /// Keys in the order first remembered (the table's cap drops the oldest).
    order: VecDeque<Bytes>,
    /// Every core's BCAST clients.
    bcast: Vec<Bcast>,
    /// This core's tracking connections.
    pub local: HashMap<u64, Local, ahash::RandomState>,
    /// The NOLOOP writer of the next op here: (key, client).
    writer: Option<(Bytes, u64)>,
}

impl Tracking {
    /// Whether a change here may have to be told to anyone (a FLUSHALL is
    /// told to this core's own tracking connections).
    #[inline]
    pub fn active(&self) -> bool {
        !self.by_key.is_empty() || !self.bcast.is_empty() || !self.local.is_empty()
    }

    /// Remember that `client` caches `key`; past `max` keys (0: no cap), the
    /// oldest keys' readers are returned, to be told to drop them.
    pub fn remember(&mut self, key: Bytes, client: u64, noloop: bool, max: usize) -> Vec<Delivery> {
        let readers = self.by_key.entry(key.clone()).or_default();
        if readers.is_empty() {
            self.order.push_back(key);
        }
        if !readers.iter().any(|&(c, _)| c == client) {
            readers.push((client, noloop));
        }
        self.trim_order();
        let mut out = Vec::new();
        while max > 0 && self.by_key.len() > max {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(readers) = self.by_key.remove(&old) {
                push_keys(&mut out, readers.into_iter().map(|(c, _)| c), &old);
            }
        }
        out
    }

    /// The next op here on `key` is `client`'s own write.
    pub fn set_writer(&mut self, key: Bytes, client: u64) {
        self.writer = Some((key, client));
    }

    /// Take the NOLOOP writer mark (every op consumes it).
    #[inline]
    pub fn take_writer(&mut self) -> Option<(Bytes, u64)> {
        self.writer.take()
    }

    /// Keys changed here: who must be told, one delivery per client.
    pub fn changed<'a>(&mut self, keys: impl IntoIterator<Item = &'a Bytes>) -> Vec<Delivery> {
        let mut out = Vec::new();
        for key in keys {
            let writer = match &self.writer {
                Some((k, c)) if k == key => *c,
                _ => 0,
            };
            if let Some(readers) = self.by_key.remove(key) {
                let told = readers
                    .into_iter()
                    .filter(|&(c, noloop)| !(noloop && c == writer))
                    .map(|(c, _)| c);
                push_keys(&mut out, told, key);
            }
            let matching = self
                .bcast
                .iter()
                .filter(|b| !(b.noloop && b.client == writer))
                .filter(|b| b.prefixes.is_empty() || b.prefixes.iter().any(|p| key.starts_with(p)))
                .map(|b| b.client)
                .collect::<Vec<_>>();
            push_keys(&mut out, matching, key);
        }
        self.trim_order();
        out
    }

    /// Drop keys no longer remembered from the age order once they are
    /// most of it (changes, moves and the cap leave them behind).
    fn trim_order(&mut self) {
        if self.order.len() > 2 * self.by_key.len() + 64 {
            let by_key = &self.by_key;
            self.order.retain(|k| by_key.contains_key(k));
        }
    }

    /// Everything here was flushed: no reader is remembered any more (each
    /// core tells its own connections, [`Tracking::locals`]).
    pub fn flushed(&mut self) {
        self.by_key.clear();
        self.order.clear();
    }

    /// Take out the readers of keys for which `pred` holds (their shard is
    /// leaving this core): they must be told now.
    pub fn take_where(&mut self, pred: impl Fn(&[u8]) -> bool) -> Vec<Delivery> {
        let keys: Vec<Bytes> = self.by_key.keys().filter(|k| pred(k)).cloned().collect();
        let mut out = Vec::new();
        for key in keys {
            if let Some(readers) = self.by_key.remove(&key) {
                push_keys(&mut out, readers.into_iter().map(|(c, _)| c), &key);
            }
        }
        out
    }

    /// A client's BCAST registration (replacing any), or its end.
    pub fn set_bcast(&mut self, client: u64, reg: Option<Bcast>) {
        self.bcast.retain(|b| b.client != client);
        if let Some(b) = reg {
            self.bcast.push(b);
        }
    }

    /// This core's tracking connections.
    pub fn locals(&self) -> Vec<u64> {
        self.local.keys().copied().collect()
    }

    /// Keys remembered here, their readers, and BCAST prefixes (INFO).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let items = self.by_key.values().map(Vec::len).sum();
        let prefixes = self.bcast.iter().map(|b| b.prefixes.len().max(1)).sum();
        (self.by_key.len(), items, prefixes)
    }
}

/// Add `key` to each client's delivery in `out`.
fn push_keys(out: &mut Vec<Delivery>, clients: impl IntoIterator<Item = u64>, key: &Bytes) {
    for c in clients {
        match out.iter_mut().find(|d| d.client == c) {
            Some(Delivery {
                notice: Notice::Keys(ks),
                ..
            }) => ks.push(key.clone()),
            _ => out.push(Delivery {
                client: c,
                from: c,
                redirected: false,
                notice: Notice::Keys(vec![key.clone()]),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn keys(d: &[Delivery], client: u64) -> Vec<Bytes> {
        d.iter()
            .filter(|d| d.client == client)
            .flat_map(|d| match &d.notice {
                Notice::Keys(k) => k.clone(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn a_change_tells_each_reader_once() {
        let mut t = Tracking::default();
        t.remember(b("a"), 1, false, 0);
        t.remember(b("a"), 2, false, 0);
        t.remember(b("b"), 1, false, 0);
        let d = t.changed(&[b("a"), b("b")]);
        assert_eq!(keys(&d, 1), vec![b("a"), b("b")]);
        assert_eq!(keys(&d, 2), vec![b("a")]);
        assert!(t.changed(&[b("a")]).is_empty(), "told once");
        assert!(!t.active());
    }

    #[test]
    fn noloop_skips_the_writers_own_change_only() {
        let mut t = Tracking::default();
        t.remember(b("a"), 1, true, 0);
        t.remember(b("a"), 2, false, 0);
        t.set_writer(b("a"), 1);
        let d = t.changed(&[b("a")]);
        assert!(keys(&d, 1).is_empty());
        assert_eq!(keys(&d, 2), vec![b("a")]);
        t.take_writer();
        t.remember(b("a"), 1, true, 0);
        assert_eq!(keys(&t.changed(&[b("a")]), 1), vec![b("a")]);
    }

    #[test]
    fn bcast_prefixes_and_the_cap() {
        let mut t = Tracking::default();
        t.set_bcast(
            7,
            Some(Bcast {
                client: 7,
                prefixes: vec![b("user:")],
                noloop: false,
            }),
        );
        t.set_bcast(
            8,
            Some(Bcast {
                client: 8,
                prefixes: vec![],
                noloop: false,
            }),
        );
        let d = t.changed(&[b("user:1"), b("item:1")]);
        assert_eq!(keys(&d, 7), vec![b("user:1")]);
        assert_eq!(keys(&d, 8), vec![b("user:1"), b("item:1")]);
        t.set_bcast(8, None);
        assert!(keys(&t.changed(&[b("item:1")]), 8).is_empty());
        // Past the cap the oldest key's readers are told at once.
        t.remember(b("x"), 1, false, 2);
        t.remember(b("y"), 1, false, 2);
        let d = t.remember(b("z"), 1, false, 2);
        assert_eq!(keys(&d, 1), vec![b("x")]);
        let moved = t.take_where(|k| k == b"y");
        assert_eq!(keys(&moved, 1), vec![b("y")]);
        assert_eq!(t.sizes().0, 1);
    }
}
