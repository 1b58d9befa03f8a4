//! Blocking pops across cores (BLPOP, BRPOP, BLMPOP, BLMOVE, BZPOPMIN, ...):
//! who waits on which key, and serving them when a key gets elements. It
//! owns the waiters and their hand-off; it never parses a command or
//! formats a reply (the command layer's `blocking` does), and it never
//! decides what a pop takes (the waiter's [`Want`] names the op).
//!
//! How a wait works, and why nothing is lost or served twice:
//! - A client that must wait gets a global [`Ticket`] (one counter for the
//!   whole server: FIFO per key means oldest ticket first, wherever the
//!   waiters came from) and its [`Waiter`] is registered on **every** core,
//!   acknowledged before it asks its keys' owners to look once more
//!   ([`KeyOp::Wake`]), so a push that came between its first try and its
//!   registration is not missed. Every core holding every waiter is what
//!   lets a wait survive its keys' shards moving, splitting and merging:
//!   whichever core owns a key when it is pushed to knows who waits.
//! - A write to a key someone waits on marks it ready on the core that
//!   applied it. Ready keys are served at the end of the command that wrote
//!   them (the dispatcher, the inbox after a peer's packet, a transaction's
//!   unlock, and this core's serving task for anything else), never in the
//!   middle of a transaction or script, and only on a key this core owns
//!   with nothing moving and no transaction holding it.
//! - Serving takes waiters oldest first whose type matches the key, and
//!   **claims** each one (an atomic WAITING → CLAIMED) before popping for
//!   it. A waiter's own core ends a wait (timeout, CLIENT UNBLOCK, hang-up)
//!   only through WAITING → DONE; if that fails, the claim won and the
//!   popped elements are on their way: the wait takes them, and if its
//!   client is gone puts them back where they came from. So an element is
//!   either in its key or in exactly one client's reply.
//! - A pop for a waiter is an ordinary op on its key (logged, its keyspace
//!   event published); its elements reach the waiter once the log has them
//!   under `appendfsync always`, as any reply. BLMOVE is not popped for: its
//!   waiter is claimed and woken, and runs LMOVE itself (atomic across
//!   cores, `command::atomic`); if someone was quicker, it waits again with
//!   its old ticket.

use super::mesh::{CoreTask, Msg};
use super::world::World;
use crate::runtime::notify::Slot;
use crate::storage::ops::{KeyOp, ListOp, Op, OpResult, ZsetOp};
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
    fn kind(self) -> &'static str {
        match self {
            Want::List { .. } | Want::Move => "list",
            Want::Zset { .. } => "zset",
        }
    }

    /// The op that takes what it wants (None: wake it instead).
    fn pop(self) -> Option<KeyOp> {
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
    fn claim(&self) -> bool {
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

    fn waiting(&self) -> bool {
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
    by_key: HashMap<Bytes, Vec<Arc<Waiter>>, ahash::RandomState>,
    by_ticket: HashMap<Ticket, Arc<Waiter>, ahash::RandomState>,
    ready: Vec<Bytes>,
    ready_set: HashSet<Bytes, ahash::RandomState>,
    /// Waits of this core's connections → where their hand-off goes.
    local: HashMap<Ticket, Rc<Slot<Served>>, ahash::RandomState>,
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

    fn add(&mut self, w: Arc<Waiter>) {
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

    fn forget(&mut self, ticket: Ticket) {
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

    fn mark_ready(&mut self, key: &[u8]) {
        if self.by_key.contains_key(key) && !self.ready_set.contains(key) {
            let key = Bytes::copy_from_slice(key);
            self.ready_set.insert(key.clone());
            self.ready.push(key);
        }
    }

    /// The oldest waiter on `key` that is still waiting and wants `kind`,
    /// dropping those that stopped waiting on the way.
    fn front(&mut self, key: &[u8], kind: &str) -> Option<Arc<Waiter>> {
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

/// A wait of one of this core's connections.
pub struct Wait {
    pub waiter: Arc<Waiter>,
    pub slot: Rc<Slot<Served>>,
}

impl World {
    /// Start waiting: register `waiter` (of a connection here) on every
    /// core, answered once all have it; then its keys' owners look again.
    pub async fn block(self: &Rc<Self>, waiter: Waiter) -> Wait {
        let waiter = Arc::new(waiter);
        let slot = Slot::new();
        self.blocking
            .borrow_mut()
            .local
            .insert(waiter.ticket, slot.clone());
        self.broadcast_task(CoreTask::Block(waiter.clone())).await;
        Wait { waiter, slot }
    }

    /// The wait ended here (served, timed out, let go): forget it everywhere.
    pub fn unblock_done(self: &Rc<Self>, wait: &Wait) {
        self.blocking.borrow_mut().local.remove(&wait.waiter.ticket);
        self.tell_every_core(CoreTask::Unwait(wait.waiter.ticket));
    }

    /// (every core) Hold `w` in the lines of its keys.
    pub(super) fn add_waiter(&self, w: Arc<Waiter>) {
        self.blocking.borrow_mut().add(w);
    }

    /// (every core) Drop the wait `ticket`.
    pub(super) fn forget_waiter(&self, ticket: Ticket) {
        self.blocking.borrow_mut().forget(ticket);
    }

    /// A write changed `keys` here: those someone waits on are ready.
    pub(super) fn note_ready(&self, keys: super::aof::LoggedKeys) {
        let mut b = self.blocking.borrow_mut();
        match keys {
            super::aof::LoggedKeys::One(k) => b.mark_ready(&k),
            super::aof::LoggedKeys::Many(ks) => ks.iter().for_each(|k| b.mark_ready(k)),
            _ => {}
        }
        if b.has_ready() {
            self.blocking_wake.notify();
        }
    }

    /// (the key's owner, from `KeyOp::Wake`) Look at `key` again.
    pub(super) fn wake_key(&self, key: &[u8]) {
        let mut b = self.blocking.borrow_mut();
        b.mark_ready(key);
        if b.has_ready() {
            self.blocking_wake.notify();
        }
    }

    /// Serve every ready key that can be served now; those that cannot yet
    /// (a move or a transaction in the way) stay ready. True if some stay.
    pub fn serve_ready(self: &Rc<Self>) -> bool {
        if !self.blocking.borrow().has_ready() {
            return false;
        }
        let keys = {
            let mut b = self.blocking.borrow_mut();
            b.ready_set.clear();
            std::mem::take(&mut b.ready)
        };
        let mut left = Vec::new();
        for key in keys {
            if !self.serve_key(&key) {
                left.push(key);
            }
        }
        let mut b = self.blocking.borrow_mut();
        for k in left {
            b.mark_ready(&k);
        }
        b.has_ready()
    }

    /// Serve `key`'s waiters while it has what they want. False: not now.
    fn serve_key(self: &Rc<Self>, key: &Bytes) -> bool {
        if self.core_of(key) != self.id {
            // It moved on: its owner has every waiter too; tell it to look.
            let mut b = crate::core::router::Batch::new(self.clone());
            b.key(key.clone(), KeyOp::Wake);
            crate::runtime::task::spawn(async move {
                b.finish().await;
            })
            .detach();
            return true;
        }
        if !self.servable_here(key) {
            return false;
        }
        let now = crate::storage::now_ms();
        loop {
            let kind = match self.execute(
                Op::Key {
                    key: key.clone(),
                    op: KeyOp::Type,
                },
                now,
            ) {
                OpResult::Status(kind) => kind,
                _ => return true,
            };
            if kind == "none" {
                return true;
            }
            let Some(w) = self.blocking.borrow_mut().front(key, kind) else {
                return true;
            };
            if !w.claim() {
                continue;
            }
            self.blocking.borrow_mut().forget(w.ticket);
            let Some(pop) = w.want.pop() else {
                // Woken, it takes the element itself: the others wait for
                // what it leaves (its pop marks the key ready again).
                self.hand_over(&w, Served::Woken { key: key.clone() }, None);
                return true;
            };
            let before = self.aof.appended();
            let result = self.execute(
                Op::Key {
                    key: key.clone(),
                    op: pop,
                },
                now,
            );
            let served = Served::Popped {
                key: key.clone(),
                result,
                want: w.want,
            };
            self.hand_over(&w, served, Some(before));
        }
    }

    /// Can `key` (owned here) be popped from now? Not while its own shard's
    /// entries are still arriving from another core, nor while a
    /// transaction holds it; other shards' moves do not matter.
    fn servable_here(&self, key: &[u8]) -> bool {
        {
            let ks = self.keyspace.borrow();
            let t = ks.table();
            let id = t.shard_of(crate::storage::hash::key_hash(key));
            if t.moving.iter().any(|(s, _)| *s == id) {
                return false;
            }
        }
        let locks = self.locks.borrow();
        locks.is_idle() || !locks.blocks(key, 0)
    }

    /// Give `served` to claimed waiter `w`: at once, or once the log holds
    /// what it saw (`before`: the log's position before its pop).
    fn hand_over(self: &Rc<Self>, w: &Waiter, served: Served, before: Option<u64>) {
        let (ticket, core) = (w.ticket, w.core);
        let must_wait = before.is_some_and(|b| self.aof.must_wait(b));
        if !must_wait {
            self.deliver_served(core, ticket, served);
            return;
        }
        let (world, before) = (self.clone(), before.unwrap_or(0));
        crate::runtime::task::spawn(async move {
            world.aof.wait_durable(before).await;
            world.deliver_served(core, ticket, served);
        })
        .detach();
    }

    fn deliver_served(self: &Rc<Self>, core: usize, ticket: Ticket, served: Served) {
        if core == self.id {
            self.waiter_served(ticket, served);
        } else {
            self.mesh.post(core, Msg::Served { ticket, served });
        }
    }

    /// (the waiter's core) What a serving core handed wait `ticket`. Its
    /// connection went away before taking it (the server is stopping): put
    /// it back.
    pub(super) fn waiter_served(self: &Rc<Self>, ticket: Ticket, served: Served) {
        let slot = self.blocking.borrow_mut().local.remove(&ticket);
        match slot {
            Some(slot) => slot.fill(served),
            None => {
                if let Served::Popped { key, result, want } = served {
                    self.put_back(want, key, result);
                }
                self.tell_every_core(CoreTask::Unwait(ticket));
            }
        }
    }

    /// Return what a pop for a client that went away took, where it came from.
    pub fn put_back(self: &Rc<Self>, want: Want, key: Bytes, result: OpResult) {
        let Some(op) = want.put_back(&result) else {
            return;
        };
        let mut b = crate::core::router::Batch::new(self.clone());
        b.key(key, op);
        crate::runtime::task::spawn(async move {
            b.finish().await;
        })
        .detach();
    }
}

/// This core's serving task: serves what the fast paths left ready, and
/// looks again every few milliseconds at keys a move or a transaction held.
pub async fn run(world: Rc<World>) {
    loop {
        if !world.blocking.borrow().has_ready() {
            world.blocking_wake.wait().await;
        }
        if world.serve_ready() {
            crate::runtime::timer::sleep(std::time::Duration::from_millis(2)).await;
        }
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
