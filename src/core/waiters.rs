//! The waits of blocking pops (BLPOP and kin) as data: a wait's place in
//! line ([`Ticket`]), what it takes ([`Want`]), the [`Waiter`] every core
//! holds with its claim (WAITING → CLAIMED by a serving core, or → DONE by
//! its own core: exactly one wins), what a serving core hands it
//! ([`Served`]), and a core's registry of them ([`Blocking`]: the lines per
//! key, the keys ready to serve, this core's own waits). `core::blocking`
//! runs them; this file never sends a message, runs an op or knows a core.

use crate::runtime::notify::Slot;
use crate::storage::ops::{KeyOp, ListOp, OpResult, ZsetOp};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// A waiter's place in line (lower: waiting longer).
pub type Ticket = u64;

static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

/// A new place at the back of every line.
pub fn next_ticket() -> Ticket {
    NEXT_TICKET.fetch_add(1, Ordering::Relaxed)
}

const WAITING: u8 = 0;
const CLAIMED: u8 = 1;
const DONE: u8 = 2;

/// What a waiter takes from the first of its keys that can give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// BLPOP / BRPOP (`count` None: one element), BLMPOP (`count`).
    List { front: bool, count: Option<usize> },
    /// BZPOPMIN / BZPOPMAX (`count` None: one member), BZMPOP (`count`).
    Zset { max: bool, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH: woken, it moves the element itself.
    Move,
}

impl Want {
    /// The TYPE a key must have to serve it.
    pub fn kind(self) -> &'static str {
        match self {
            Want::List { .. } | Want::Move => "list",
            Want::Zset { .. } => "zset",
        }
    }

    /// The op that takes what it wants (None: wake it instead).
    pub fn pop(self) -> Option<KeyOp> {
        match self {
            Want::List { front, count } => Some(KeyOp::OnList(ListOp::Pop { front, count })),
            Want::Zset { max, count } => Some(KeyOp::OnZset(ZsetOp::Pop {
                max,
                count: count.unwrap_or(1),
            })),
            Want::Move => None,
        }
    }

    /// The op that puts back what its pop took (`result`), where it came from.
    pub fn put_back(self, result: &OpResult) -> Option<KeyOp> {
        if let (Want::Zset { .. }, OpResult::Scored(popped)) = (self, result) {
            // A sorted set puts each member back by its score.
            let pairs = popped.iter().map(|(m, s)| (*s, m.clone())).collect();
            return Some(KeyOp::OnZset(ZsetOp::Add {
                pairs,
                flags: Default::default(),
            }));
        }
        let values: Vec<Bytes> = match result {
            OpResult::Bulk(v) => vec![v.clone()],
            OpResult::Bulks(vs) => vs.iter().flatten().cloned().collect(),
            _ => return None,
        };
        match self {
            // Pushed back in reverse, the first popped ends up nearest the end.
            Want::List { front, .. } => Some(KeyOp::OnList(ListOp::Push {
                front,
                values: values.into_iter().rev().collect(),
                xx: false,
            })),
            Want::Zset { .. } | Want::Move => None,
        }
    }
}

/// One client's wait, known to every core.
#[derive(Debug)]
pub struct Waiter {
    pub ticket: Ticket,
    /// The core of its connection.
    pub core: usize,
    pub client: u64,
    pub keys: Vec<Bytes>,
    pub want: Want,
    state: AtomicU8,
}

impl Waiter {
    pub fn new(ticket: Ticket, core: usize, client: u64, keys: Vec<Bytes>, want: Want) -> Waiter {
        Waiter {
            ticket,
            core,
            client,
            keys,
            want,
            state: AtomicU8::new(WAITING),
        }
    }

    /// A serving core takes this waiter (only one ever does).
    pub(super) fn claim(&self) -> bool {
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Its own core ends the wait; false when a serving core claimed it first.
    pub fn cancel(&self) -> bool {
        self.state
            .compare_exchange(WAITING, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(super) fn waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }
}

/// What a serving core hands a claimed waiter.
#[derive(Debug)]
pub enum Served {
    /// Its pop's result (never empty) from `key`, and what it wanted (to
    /// put the result back if nobody takes it).
    Popped {
        key: Bytes,
        result: OpResult,
        want: Want,
    },
    /// `key` has an element: come and take it (BLMOVE).
    Woken { key: Bytes },
}

/// This core's copy of every wait, the keys ready to serve, and the slots
/// of the waits of its own connections.
#[derive(Default)]
pub struct Blocking {
    /// Key → its waiters, oldest first.
    pub(super) by_key: HashMap<Bytes, Vec<Arc<Waiter>>, ahash::RandomState>,
    pub(super) by_ticket: HashMap<Ticket, Arc<Waiter>, ahash::RandomState>,
    pub(super) ready: Vec<Bytes>,
    pub(super) ready_set: HashSet<Bytes, ahash::RandomState>,
    /// Waits of this core's connections → where their hand-off goes.
    pub(super) local: HashMap<Ticket, Rc<Slot<Served>>, ahash::RandomState>,
}

impl Blocking {
    /// Does anyone wait anywhere? (One branch for every write when not.)
    #[inline]
    pub fn any(&self) -> bool {
        !self.by_ticket.is_empty()
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub(super) fn add(&mut self, w: Arc<Waiter>) {
        if self.by_ticket.contains_key(&w.ticket) {
            return;
        }
        for k in &w.keys {
            let line = self.by_key.entry(k.clone()).or_default();
            if line.iter().any(|o| o.ticket == w.ticket) {
                continue;
            }
            let at = line.partition_point(|o| o.ticket < w.ticket);
            line.insert(at, w.clone());
        }
        self.by_ticket.insert(w.ticket, w);
    }

    pub(super) fn forget(&mut self, ticket: Ticket) {
        let Some(w) = self.by_ticket.remove(&ticket) else {
            return;
        };
        for k in &w.keys {
            if let Some(line) = self.by_key.get_mut(k) {
                line.retain(|o| o.ticket != ticket);
                if line.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
    }

    pub(super) fn mark_ready(&mut self, key: &[u8]) {
        if self.by_key.contains_key(key) && !self.ready_set.contains(key) {
            let key = Bytes::copy_from_slice(key);
            self.ready_set.insert(key.clone());
            self.ready.push(key);
        }
    }

    /// The oldest waiter on `key` that is still waiting and wants `kind`,
    /// dropping those that stopped waiting on the way.
    pub(super) fn front(&mut self, key: &[u8], kind: &str) -> Option<Arc<Waiter>> {
        let line = self.by_key.get_mut(key)?;
        line.retain(|w| w.waiting());
        let found = line.iter().find(|w| w.want.kind() == kind).cloned();
        if line.is_empty() {
            self.by_key.remove(key);
        }
        found
    }

    /// Waits, for INFO (`blocking_keys`).
    pub fn keys(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(ticket: Ticket, keys: &[&str]) -> Arc<Waiter> {
        let keys = keys.iter().map(|k| Bytes::from(k.to_string())).collect();
        let want = Want::List {
            front: true,
            count: None,
        };
        Arc::new(Waiter::new(ticket, 0, ticket, keys, want))
    }

    #[test]
    fn lines_are_oldest_first_whatever_order_waiters_arrive_in() {
        let mut b = Blocking::default();
        b.add(waiter(5, &["q"]));
        b.add(waiter(2, &["q", "r"]));
        b.add(waiter(9, &["q"]));
        b.add(waiter(2, &["q", "r"]));
        assert_eq!(b.front(b"q", "list").map(|w| w.ticket), Some(2));
        b.forget(2);
        assert_eq!(b.front(b"q", "list").map(|w| w.ticket), Some(5));
        assert!(b.front(b"r", "list").is_none());
        assert!(b.front(b"q", "zset").is_none());
        let z = Want::Zset {
            max: false,
            count: None,
        };
        let zw = Arc::new(Waiter::new(10, 0, 10, vec![Bytes::from_static(b"q")], z));
        b.add(zw);
        assert_eq!(b.front(b"q", "zset").map(|w| w.ticket), Some(10));
    }

    #[test]
    fn a_claimed_waiter_cannot_be_cancelled_and_a_cancelled_one_is_skipped() {
        let mut b = Blocking::default();
        let (a, c) = (waiter(1, &["q"]), waiter(2, &["q"]));
        b.add(a.clone());
        b.add(c.clone());
        assert!(a.claim());
        assert!(
            !a.cancel(),
            "the claim won: the wait must take the elements"
        );
        assert!(!a.claim(), "claimed once only");
        assert!(c.cancel());
        assert!(!c.claim());
        assert!(b.front(b"q", "list").is_none());
        assert_eq!(b.keys(), 0);
    }

    #[test]
    fn only_keys_someone_waits_on_become_ready_and_once() {
        let mut b = Blocking::default();
        b.add(waiter(1, &["q"]));
        b.mark_ready(b"other");
        b.mark_ready(b"q");
        b.mark_ready(b"q");
        assert_eq!(b.ready, vec![Bytes::from_static(b"q")]);
    }

    #[test]
    fn a_popped_sorted_set_member_goes_back_with_its_score() {
        let w = Want::Zset {
            max: true,
            count: Some(2),
        };
        let popped = OpResult::Scored(vec![("b".into(), 2.5), ("a".into(), 1.0)]);
        assert_eq!(
            w.put_back(&popped),
            Some(KeyOp::OnZset(ZsetOp::Add {
                pairs: vec![(2.5, "b".into()), (1.0, "a".into())],
                flags: Default::default(),
            }))
        );
    }

    #[test]
    fn put_back_restores_the_popped_order() {
        let w = Want::List {
            front: true,
            count: Some(2),
        };
        let popped = OpResult::Bulks(vec![Some("a".into()), Some("b".into())]);
        // LPOP took a then b from the head: pushing b, a at the head restores a, b.
        assert_eq!(
            w.put_back(&popped),
            Some(KeyOp::OnList(ListOp::Push {
                front: true,
                values: vec!["b".into(), "a".into()],
                xx: false
            }))
        );
    }
}
