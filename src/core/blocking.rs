//! Blocking pops across cores (BLPOP, BRPOP, BLMPOP, BLMOVE, BZPOPMIN, ...):
//! registering each wait on every core and serving waiters when a key gets
//! elements (the waits' data is `core::waiters`). It owns the hand-off; it
//! never parses a command or
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
//!   them (the dispatcher, the inbox between a peer's ops and after its
//!   packet, a transaction's unlock, and this core's serving task for
//!   anything else), never in the
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
use super::waiters::{Served, Ticket, Waiter, Want};
use super::world::World;
use crate::runtime::notify::Slot;
use crate::storage::ops::{KeyOp, Op, OpResult};
use bytes::Bytes;
use std::rc::Rc;
use std::sync::Arc;

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
