//! Routing a connection's pipelined ops: each op goes to the core that owns its
//! key under this core's routing table. Ops for this core run at once (the local
//! fast path); ops for another core are collected per core and travel as one
//! request per core when the batch is finished. Results come back indexed by
//! [`Ticket`], so the caller can answer in request order.
//!
//! Ordering: ops for one core run in the order they were pushed, so commands on
//! the same key keep their pipeline order; ops on different cores may take effect
//! in a different order (as with Dragonfly's pipeline squashing).
//!
//! An op on a key a transaction holds (`core::locks`) is not run at once
//! either: it waits in [`World::serve`] until the transaction lets go. A
//! transaction's own batch ([`Batch::for_tx`]) passes its locks.
//!
//! While a shard is migrating to this core, an op on it that needs the source's
//! copy is not run at once: it joins a queue for this core that
//! [`World::serve`] runs when the batch finishes, after the pulls it needs. All
//! ops on one key take the same path, so their order holds.

use super::mesh::{Answer, OpEvents};
use super::world::World;
use crate::storage::now_ms;
use crate::storage::ops::{CoreOp, KeyOp, Op, OpError, OpResult};
use bytes::Bytes;
use std::rc::Rc;

/// Index of one op's result in a [`Batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(pub usize);

pub struct Batch {
    world: Rc<World>,
    now: u64,
    results: Vec<Option<OpResult>>,
    /// Per remote core: the ops and the tickets they answer.
    remote: Vec<(Vec<Op>, Vec<usize>)>,
    remote_count: usize,
    /// The transaction these ops run for (0: none): they pass its locks.
    tx: u64,
    /// Its events so far, by ticket: kept for the transaction when the
    /// batch is done (see `World::execute_noting`).
    events: OpEvents,
}

/// Makes batches for the transaction (and frozen clock) of the batch it came
/// from ([`Batch::seed`]); outside a transaction, plain batches.
#[derive(Clone)]
pub struct BatchSeed {
    world: Rc<World>,
    tx: u64,
    now: u64,
}

impl BatchSeed {
    pub fn batch(&self) -> Batch {
        Batch::for_tx(self.world.clone(), self.tx, self.now)
    }
    pub fn world(&self) -> &Rc<World> {
        &self.world
    }
    /// The transaction its batches run in (0: none).
    pub fn tx(&self) -> u64 {
        self.tx
    }

    /// `op` alone on `core`, in a batch of its own: its result.
    pub async fn run_core(&self, core: usize, op: CoreOp) -> OpResult {
        let mut b = self.batch();
        let t = b.core(core, op);
        b.finish().await.take(t)
    }

    /// `op` alone on `key`'s core, in a batch of its own: its result.
    pub async fn run_key(&self, key: Bytes, op: KeyOp) -> OpResult {
        let mut b = self.batch();
        let t = b.key(key, op);
        b.finish().await.take(t)
    }

    /// The multi-key op `op()` run where `keys` all live: None, having run
    /// nothing, when they live on several cores, or when a migration spread
    /// them since they were routed (the op answered `CrossCore`): the caller
    /// then runs its cross-core form.
    pub async fn run_on_one_core(
        &self,
        keys: &[&Bytes],
        op: impl FnOnce() -> CoreOp,
    ) -> Option<OpResult> {
        let core = self.world.core_of(keys.first()?);
        if keys.iter().any(|k| self.world.core_of(k) != core) {
            return None;
        }
        Some(self.run_core(core, op()).await).filter(|r| *r != OpResult::Err(OpError::CrossCore))
    }
}

impl Batch {
    pub fn new(world: Rc<World>) -> Batch {
        Batch {
            world,
            now: now_ms(),
            results: Vec::new(),
            // Filled on the first remote op: most batches never leave this core.
            remote: Vec::new(),
            remote_count: 0,
            tx: 0,
            events: Vec::new(),
        }
    }

    /// A batch whose ops run for transaction `tx`, which holds their keys, at
    /// its frozen clock `now` (milliseconds; 0 reads the clock): a key alive
    /// when the transaction began stays alive to its last command, as Redis 7
    /// freezes time for EXEC and scripts.
    pub fn for_tx(world: Rc<World>, tx: u64, now: u64) -> Batch {
        let mut b = Batch::new(world);
        b.tx = tx;
        if now != 0 {
            b.now = now;
        }
        b
    }

    pub fn world(&self) -> &Rc<World> {
        &self.world
    }

    /// The transaction these ops run for (0: none).
    pub fn tx(&self) -> u64 {
        self.tx
    }

    /// What a command that needs more than one round (a `Step::Async` reply)
    /// makes its later batches from: inside EXEC or a script they must run for
    /// the same transaction, or they would wait for its own locks forever.
    pub fn seed(&self) -> BatchSeed {
        BatchSeed {
            world: self.world.clone(),
            tx: self.tx,
            now: if self.tx != 0 { self.now } else { 0 },
        }
    }

    /// The clock these ops run at (milliseconds).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// True when nothing is waiting on another core.
    pub fn is_local(&self) -> bool {
        self.remote_count == 0
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// An op on one key, routed to its owner.
    pub fn key(&mut self, key: Bytes, op: KeyOp) -> Ticket {
        let core = self.world.core_of(&key);
        self.route(core, Op::Key { key, op })
    }

    /// An op for a given core.
    pub fn core(&mut self, core: usize, op: CoreOp) -> Ticket {
        self.route(core, Op::Core(op))
    }

    /// The same core op on every core; tickets in core order.
    pub fn all_cores(&mut self, op: CoreOp) -> Vec<Ticket> {
        (0..self.world.ncores)
            .map(|c| self.core(c, op.clone()))
            .collect()
    }

    fn route(&mut self, core: usize, op: Op) -> Ticket {
        let t = self.results.len();
        if core == self.world.id
            && self.world.runs_here(&op)
            && !self.world.ops_blocked(std::slice::from_ref(&op), self.tx)
        {
            let r = self
                .world
                .execute_noting(op, self.now, self.tx, t, &mut self.events);
            self.results.push(Some(r));
        } else {
            self.results.push(None);
            if self.remote.is_empty() {
                let n = self.world.ncores;
                self.remote = (0..n).map(|_| (Vec::new(), Vec::new())).collect();
            }
            let (ops, tickets) = &mut self.remote[core];
            ops.push(op);
            tickets.push(t);
            self.remote_count += 1;
        }
        Ticket(t)
    }

    /// Send the remote ops, wait for every answer, and return all results by ticket.
    pub async fn finish(mut self) -> Results {
        if self.remote_count > 0 {
            let mut waits = Vec::new();
            let epoch = self.world.epoch();
            // Only a transaction's ops carry its clock; others read their core's.
            let now = if self.tx != 0 { self.now } else { 0 };
            let mut here = None;
            for (core, (ops, tickets)) in self.remote.iter_mut().enumerate() {
                if ops.is_empty() {
                    continue;
                }
                let (ops, tickets) = (std::mem::take(ops), std::mem::take(tickets));
                if core == self.world.id {
                    here = Some((ops, tickets));
                    continue;
                }
                let slot = self
                    .world
                    .mesh
                    .request_ops(core, ops, epoch, 0, self.tx, now);
                waits.push((slot, tickets));
            }
            if let Some((ops, tickets)) = here {
                let (rs, evs) = self.world.serve(ops, 0, self.tx, now).await;
                self.answered(&tickets, rs, evs);
            }
            for (slot, tickets) in waits {
                match slot.wait().await {
                    Answer::Ops(rs, evs) => self.answered(&tickets, rs, evs),
                    Answer::Task(_) => {
                        tracing::error!("mesh answered ops with a task result");
                    }
                }
            }
        }
        Results {
            results: std::mem::take(&mut self.results),
        }
    }

    /// Results (and events) of ops sent together, for their tickets.
    fn answered(&mut self, tickets: &[usize], rs: Vec<OpResult>, evs: OpEvents) {
        for (&t, r) in tickets.iter().zip(rs) {
            self.results[t] = Some(r);
        }
        self.events.extend(
            evs.into_iter()
                .map(|(i, e)| (tickets[i as usize] as u32, e)),
        );
    }
}

impl Drop for Batch {
    /// A transaction's batch hands its events on in command (ticket) order,
    /// however the ops were answered — also when its results were taken at
    /// once (`take_ready`) and it was never finished.
    fn drop(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|(t, _)| *t);
        self.world
            .keep_tx_events(self.tx, events.into_iter().map(|(_, e)| e));
    }
}

/// A finished batch's results.
pub struct Results {
    results: Vec<Option<OpResult>>,
}

impl Results {
    /// Take the result for a ticket (each is taken once).
    pub fn take(&mut self, t: Ticket) -> OpResult {
        self.results
            .get_mut(t.0)
            .and_then(|r| r.take())
            .unwrap_or(OpResult::Nil)
    }
}

impl Batch {
    /// The result of a ticket that already ran on this core (the local fast path).
    pub fn take_ready(&mut self, t: Ticket) -> Option<OpResult> {
        self.results.get_mut(t.0).and_then(|r| r.take())
    }
}
