//! Serving ops while the staircase changes shape, and driving those changes on
//! the cores that own the shards: splits and merges (within one core) and
//! migrations (from core A to core B), each in batches that yield to request
//! serving, so no request waits for a change to finish.
//!
//! Requests are routed by the sender's copy of the routing table, which may be
//! older than the receiver's. [`World::serve`] places every op by this core's
//! table: ops for shards owned elsewhere are forwarded (never refused), keys of a
//! shard still arriving are pulled from its source first, and a SCAN of such a
//! shard merges in the source's remaining keys. The entry-level rules live in
//! `storage::migration`; this module only sends, waits and counts. It never
//! touches another core's shards.

use super::mesh::{Answer, CoreTask, Msg, OpEvents, TaskResult};
use super::txn::{clock, BusyScript, Hold};
use super::world::{bump, World};
use crate::runtime::pace::Pace;
use crate::storage::cursor::{pos52, Cursor};
use crate::storage::entry::Entry;
use crate::storage::keyspace::Keyspace;
use crate::storage::migration::Placement;
use crate::storage::now_ms;
use crate::storage::ops::{CoreOp, Op, OpError, OpResult};
use crate::storage::staircase::{RoutingTable, ShardId};
use bytes::Bytes;
use std::rc::Rc;

/// Forwards one request may take: each hop lands on a core with a newer table,
/// so only a burst of migrations of the same shard could need more than two.
const MAX_HOPS: u32 = 8;
/// A migration's pause between batches (see `migrate_out`).
const MIGRATE_REST: std::time::Duration = std::time::Duration::from_micros(100);

impl World {
    /// Serve ops from a peer that may need forwarding or pulls, then answer it.
    pub(super) fn serve_remote(
        self: &Rc<Self>,
        from: usize,
        id: u64,
        ops: Vec<Op>,
        hops: u32,
        tx: u64,
        now: u64,
    ) {
        // Most batches still run entirely here: answer them without a task.
        let all_here = {
            let ks = self.keyspace.borrow();
            ops.iter().all(|op| ks.placement(op) == Placement::Here)
        } && !self.ops_blocked(&ops, tx);
        if all_here {
            self.run_and_answer(from, id, ops, tx, now);
            return;
        }
        let w = self.clone();
        crate::runtime::task::spawn(async move {
            let before = w.aof.appended();
            let (results, events) = w.serve(ops, hops, tx, now).await;
            w.answer_ops(from, id, results, events, before);
        })
        .detach();
    }

    /// Serve `ops` but those that would wait for a busy script (`busy`),
    /// which are answered `-BUSY`.
    async fn serve_around(
        self: &Rc<Self>,
        ops: Vec<Op>,
        busy: Vec<bool>,
        hops: u32,
        tx: u64,
        now: u64,
    ) -> (Vec<OpResult>, OpEvents) {
        let rest: Vec<Op> = ops
            .into_iter()
            .zip(&busy)
            .filter(|(_, &b)| !b)
            .map(|(op, _)| op)
            .collect();
        let (served, events) = Box::pin(self.serve(rest, hops, tx, now)).await;
        // Indexes of the ops served, in the whole list.
        let at: Vec<usize> = (0..busy.len()).filter(|&i| !busy[i]).collect();
        let events = events
            .into_iter()
            .map(|(j, e)| (at[j as usize] as u32, e))
            .collect();
        let mut served = served.into_iter();
        let results = busy
            .into_iter()
            .map(|b| match b {
                true => OpResult::Err(OpError::Busy),
                false => served.next().unwrap_or(OpResult::Nil),
            })
            .collect();
        (results, events)
    }

    /// True when `op` can run on this core right now, synchronously.
    pub fn runs_here(&self, op: &Op) -> bool {
        let ks = self.keyspace.borrow();
        ks.table().moving.is_empty() || ks.placement(op) == Placement::Here
    }

    /// Run ops that arrived together (for transaction `tx`, or 0, at its
    /// frozen clock `now`, or 0 to read the clock), in order for
    /// each key: wait for the keys a transaction holds, pull what must be pulled,
    /// run what is owned here, forward the rest to its owner.
    pub async fn serve(
        self: &Rc<Self>,
        ops: Vec<Op>,
        hops: u32,
        tx: u64,
        now: u64,
    ) -> (Vec<OpResult>, OpEvents) {
        // Ops on keys another transaction holds wait for it in its queue, and
        // then hold their keys until they ran, so no transaction is seen half-done.
        let mut held: Option<Hold> = None;
        loop {
            if held.is_none() && self.ops_blocked(&ops, tx) {
                match self.hold_for_ops(&ops, tx).await {
                    Ok(hold) => held = Some(hold),
                    Err(BusyScript) => {
                        let busy: Vec<bool> =
                            ops.iter().map(|op| self.busy_blocks(op, tx)).collect();
                        if busy.contains(&true) {
                            return Box::pin(self.serve_around(ops, busy, hops, tx, now)).await;
                        }
                        // The busy script let go meanwhile: ask again.
                        continue;
                    }
                }
            }
            let pulls: Vec<(usize, Bytes)> = {
                let ks = self.keyspace.borrow();
                ops.iter()
                    .filter_map(|op| match ks.placement(op) {
                        Placement::Pull(keys) => Some(keys),
                        _ => None,
                    })
                    .flatten()
                    .collect()
            };
            if pulls.is_empty() {
                break;
            }
            self.pull(pulls).await;
            // A transaction may have taken a key during the pull.
            if held.is_some() || !self.ops_blocked(&ops, tx) {
                break;
            }
        }
        // No await from here until every op placed here has run: the keys just
        // pulled cannot have moved again, so a key missing now really is missing.
        let frozen = now;
        let now = clock(now);
        let n = ops.len();
        let mut results: Vec<Option<OpResult>> = (0..n).map(|_| None).collect();
        let mut forward: Vec<(usize, Vec<Op>, Vec<usize>)> = Vec::new();
        let mut scans = Vec::new();
        let mut counts = Vec::new();
        let mut events = OpEvents::new();
        self.keyspace.borrow_mut().set_settled(true);
        for (i, op) in ops.into_iter().enumerate() {
            let place = self.keyspace.borrow().placement(&op);
            match place {
                // Pull cannot come back while settled.
                Placement::Here | Placement::Pull(_) => {
                    results[i] = Some(self.execute_noting(op, now, tx, i, &mut events))
                }
                Placement::Forward(core) => match forward.iter_mut().find(|f| f.0 == core) {
                    Some(f) => {
                        f.1.push(op);
                        f.2.push(i);
                    }
                    None => forward.push((core, vec![op], vec![i])),
                },
                Placement::ScanMerge(from) => scans.push((i, op, from)),
                Placement::CountWith(from) => counts.push((i, op, from)),
                Placement::CrossCore => results[i] = Some(OpResult::Err(OpError::CrossCore)),
            }
        }
        self.keyspace.borrow_mut().set_settled(false);
        drop(held);
        let epoch = self.epoch();
        let mut waits = Vec::with_capacity(forward.len());
        for (core, ops, idx) in forward {
            if hops >= MAX_HOPS {
                tracing::warn!(core, hops, "request forwarded too many times");
                for i in idx {
                    results[i] = Some(OpResult::Err(OpError::TooManyHops));
                }
                continue;
            }
            bump(&self.stats.forwarded, ops.len() as u64);
            waits.push((
                self.mesh
                    .request_ops(core, ops, epoch, hops + 1, tx, frozen),
                idx,
            ));
        }
        for (i, op, from) in scans {
            results[i] = Some(self.scan_merge(op, from).await);
        }
        for (i, op, from) in counts {
            let Op::Core(op) = op else { continue };
            let slot = self.mesh.request_task(from, CoreTask::CountPart { op });
            if let Answer::Ops(mut r, _) = slot.wait().await {
                results[i] = r.pop();
            }
        }
        for (slot, idx) in waits {
            if let Answer::Ops(rs, evs) = slot.wait().await {
                events.extend(evs.into_iter().map(|(j, e)| (idx[j as usize] as u32, e)));
                for (i, r) in idx.into_iter().zip(rs) {
                    results[i] = Some(r);
                }
            }
        }
        let results = results
            .into_iter()
            .map(|r| r.unwrap_or(OpResult::Err(OpError::TooManyHops)))
            .collect();
        (results, events)
    }

    /// Fetch keys of shards still arriving from their source cores and store them here.
    async fn pull(self: &Rc<Self>, pulls: Vec<(usize, Bytes)>) {
        let mut by_source: Vec<(usize, Vec<Bytes>)> = Vec::new();
        for (from, key) in pulls {
            match by_source.iter_mut().find(|(c, _)| *c == from) {
                Some((_, keys)) => keys.push(key),
                None => by_source.push((from, vec![key])),
            }
        }
        let waits: Vec<_> = by_source
            .into_iter()
            .map(|(from, keys)| {
                bump(&self.stats.pulled, keys.len() as u64);
                (from, self.mesh.request_task(from, CoreTask::Pull { keys }))
            })
            .collect();
        for (from, slot) in waits {
            if let Answer::Task(TaskResult::Entries(entries, flushes)) = slot.wait().await {
                self.install(from, entries, flushes);
            }
        }
    }

    /// Store entries handed over by `from`, announce those that expired on the
    /// way, and wake the expiry task for earlier deadlines.
    fn install(&self, from: usize, entries: Vec<Entry>, flushes: u64) {
        let mut expired = Vec::new();
        let (_, earliest) = {
            let mut ks = self.keyspace.borrow_mut();
            let epoch = ks.table().epoch;
            ks.install_with(
                from,
                entries,
                flushes,
                now_ms(),
                &mut expired,
                &mut |shard, e| self.log_import(epoch, from, shard, e),
            )
        };
        self.expired(&expired);
        if let Some(d) = earliest {
            self.deadline_set(d);
        }
        self.memory_changed();
    }

    /// A SCAN of a shard still arriving from `from`: its remaining keys, merged with ours.
    async fn scan_merge(self: &Rc<Self>, op: Op, from: usize) -> OpResult {
        let Op::Core(CoreOp::Scan {
            cursor,
            count,
            pattern,
            type_name,
        }) = op
        else {
            return OpResult::Nil;
        };
        let pos = Cursor::read(cursor).position();
        let shard = self.keyspace.borrow().table().shard_of_pos(pos);
        let task = CoreTask::ScanPart {
            shard,
            from: pos52(pos),
            count,
        };
        let theirs = match self.mesh.request_task(from, task).wait().await {
            Answer::Task(TaskResult::Typed(keys)) => keys,
            _ => Vec::new(),
        };
        let scan = (cursor, count, pattern.as_deref(), type_name.as_deref());
        self.keyspace.borrow().scan_merged(scan, &theirs, now_ms())
    }

    /// Tasks a peer sends while a migration runs, answered at once (see `handle`).
    pub(super) fn run_peer_task(&self, from: usize, task: CoreTask) -> TaskResult {
        match task {
            CoreTask::Pull { keys } => {
                let mut expired = Vec::new();
                let entries = self
                    .keyspace
                    .borrow_mut()
                    .give(&keys, now_ms(), &mut expired);
                self.expired(&expired);
                TaskResult::Entries(entries, self.keyspace.borrow().flushes())
            }
            CoreTask::Install {
                shard,
                entries,
                flushes,
                remaining,
            } => {
                self.keyspace
                    .borrow_mut()
                    .prepare_incoming(shard, remaining);
                self.install(from, entries, flushes);
                TaskResult::Done
            }
            CoreTask::FinishIncoming { shard } => {
                if self.keyspace.borrow_mut().finish_incoming(shard) {
                    self.broadcast_table();
                }
                TaskResult::Table(self.keyspace.borrow().table().clone())
            }
            CoreTask::CountPart { op } => {
                let result = self.keyspace.borrow().count_part(&op, true, now_ms());
                TaskResult::Part { op, result }
            }
            CoreTask::ScanPart { shard, from, count } => TaskResult::Typed(
                self.keyspace
                    .borrow()
                    .scan_part(shard, from, count, now_ms()),
            ),
            task => self.run_task(task),
        }
    }

    /// Tasks that run to completion in their own task: staircase changes.
    pub async fn run_long_task(self: &Rc<Self>, task: CoreTask) -> TaskResult {
        let result = match task {
            CoreTask::Split(table) => self.split(table).await,
            CoreTask::Merge(table) => self.merge(table).await,
            CoreTask::Migrate { table, shard, to } => self.migrate_out(table, shard, to).await,
            CoreTask::Admin(req) => TaskResult::Admin(match self.coordinator.get() {
                Some(coordinate) => coordinate(self.clone(), req).await,
                None => Err("no coordinator on this core".into()),
            }),
            CoreTask::Save => TaskResult::Saved(self.save_here().await),
            CoreTask::BgSave { schedule } => TaskResult::Started(self.bgsave_start(schedule).await),
            CoreTask::RewriteBegin { gen, part } => self.rewrite_begin(gen, part),
            CoreTask::RewriteNow => TaskResult::Started(self.rewrite_now().await.map(|_| "OK")),
            CoreTask::BgRewrite => TaskResult::Started(super::rewrite::bgrewriteaof(self).await),
            CoreTask::CaptureBegin { part } => match self.capture_begin(part, true) {
                Ok(()) => TaskResult::Done,
                Err(e) => TaskResult::Failed(e),
            },
            CoreTask::CaptureWait => TaskResult::Section(self.capture_wait().await),
            CoreTask::FlushAll { tx } => match self.flush_all(tx).await {
                Ok(result) => TaskResult::Flushed(result),
                Err(e) => TaskResult::Failed(e),
            },
            CoreTask::Flush { tx } => self.flush_here(tx).await,
            task => self.run_task(task),
        };
        // A merge can leave one table bigger than the two it replaced.
        self.memory_changed();
        result
    }

    /// Adopt `table`, split its next shard if the source is ours, moving entries in
    /// batches that yield to request serving, and tell every core about the new table.
    pub async fn split(self: &Rc<Self>, table: RoutingTable) -> TaskResult {
        let done = self.reshape(table, Keyspace::begin_split).await;
        if let Some((source, target)) = done {
            bump(&self.stats.splits, 1);
            tracing::debug!(core = self.id, source, target, "split done");
        }
        TaskResult::Split(done)
    }

    /// Adopt `table` and merge its last step if both shards are ours, the same way.
    pub async fn merge(self: &Rc<Self>, table: RoutingTable) -> TaskResult {
        let done = self.reshape(table, Keyspace::begin_merge).await;
        if let Some((into, from)) = done {
            bump(&self.stats.merges, 1);
            tracing::debug!(core = self.id, into, from, "merge done");
        }
        TaskResult::Merged(done)
    }

    /// Adopt `table`, begin a split or merge, broadcast the new table and fill
    /// the shard it fills to the end.
    async fn reshape(
        self: &Rc<Self>,
        table: RoutingTable,
        begin: fn(&mut Keyspace) -> Option<(ShardId, ShardId)>,
    ) -> Option<(ShardId, ShardId)> {
        let (began, target) = {
            let mut ks = self.keyspace.borrow_mut();
            ks.set_table(table);
            let began = begin(&mut ks);
            (began, ks.filling())
        };
        let (began, target) = (began?, target?);
        self.broadcast_table();
        self.run_fill(target).await;
        Some(began)
    }

    /// Move the entries of the split or merge in progress into `target`, a batch at a time.
    async fn run_fill(self: &Rc<Self>, target: ShardId) {
        let batch = self.config.borrow().split_batch as usize;
        let held = |w: &World| w.keyspace.borrow().shard(target).map_or(0, |s| s.len());
        let mut pace = Pace::yielding();
        loop {
            let before = held(self);
            let mut expired = Vec::new();
            let done = self
                .keyspace
                .borrow_mut()
                .fill_step(batch, now_ms(), &mut expired);
            bump(
                &self.stats.keys_moved,
                held(self).saturating_sub(before) as u64,
            );
            self.expired(&expired);
            if done {
                return;
            }
            pace.breathe().await;
        }
    }

    /// Adopt `table` and hand `shard` to core `to`: epoch e+1 gives it to `to`
    /// (broadcast), batches of entries follow, and once this core's copy is empty
    /// `to` publishes epoch e+2. Answers with the keys moved and the final table.
    pub async fn migrate_out(
        self: &Rc<Self>,
        table: RoutingTable,
        shard: ShardId,
        to: usize,
    ) -> TaskResult {
        // No transaction may hold a key of the shard as it leaves: its locks
        // here could not follow it (see `core::locks`). Its watches do, sent
        // ahead of the table that makes `to` the owner (one FIFO channel).
        let watches = self.quiesce_shard(shard).await;
        let began = {
            let mut ks = self.keyspace.borrow_mut();
            ks.set_table(table);
            ks.begin_migration(shard, to)
        };
        self.thaw_shard(shard);
        if let Err(e) = began {
            self.watches.borrow_mut().adopt(watches);
            return TaskResult::Failed(e);
        }
        if !watches.is_empty() {
            self.mesh.post(to, Msg::Watches(watches));
        }
        self.broadcast_table();
        bump(&self.stats.migrations_in_flight, 1);
        tracing::info!(shard, from = self.id, to, "migration started");
        let batch = self.config.borrow().migrate_batch as usize;
        let mut moved = 0u64;
        let mut pace = Pace::new();
        loop {
            let mut expired = Vec::new();
            let (entries, done) =
                self.keyspace
                    .borrow_mut()
                    .migration_take(shard, batch, now_ms(), &mut expired);
            self.expired(&expired);
            if !entries.is_empty() {
                moved += entries.len() as u64;
                // One batch in flight: the target installs as fast as it serves.
                let (flushes, left) = {
                    let ks = self.keyspace.borrow();
                    (ks.flushes(), ks.outgoing_len(shard))
                };
                let task = CoreTask::Install {
                    shard,
                    remaining: entries.len() + left,
                    entries,
                    flushes,
                };
                let slot = self.mesh.request_task(to, task);
                slot.wait().await;
            }
            if done {
                break;
            }
            // A pause on a timer, which fires when the core next looks for I/O:
            // the busier the core is with requests, the slower its shard moves.
            crate::runtime::timer::sleep(MIGRATE_REST).await;
            pace.breathe().await;
        }
        self.keyspace.borrow_mut().end_outgoing(shard);
        let table = match self
            .mesh
            .request_task(to, CoreTask::FinishIncoming { shard })
            .wait()
            .await
        {
            Answer::Task(TaskResult::Table(t)) => t,
            _ => self.keyspace.borrow().table().clone(),
        };
        self.keyspace.borrow_mut().set_table(table.clone());
        let s = &self.stats;
        s.migrations_in_flight
            .set(s.migrations_in_flight.get().saturating_sub(1));
        bump(&s.migrations_done, 1);
        bump(&s.keys_migrated, moved);
        tracing::info!(shard, from = self.id, to, keys = moved, "migration done");
        TaskResult::Migrated { keys: moved, table }
    }
}
