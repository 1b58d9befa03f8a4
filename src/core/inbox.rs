//! A core's inbox: what it does with each message from another core — ops to
//! run (at once when nothing stands in their way, else through
//! `World::serve`), answers to its own requests, tables, unlocks, events, and
//! core tasks, which it answers at once ([`World::run_task`]) or in a task of
//! their own when they wait (staircase changes, saves, flushes, locks). It
//! never sends a request of its own here; it only answers.

use super::mesh::{Answer, CoreTask, Msg, OpEvents, TaskResult};
use super::txn::clock;
use super::world::{add_counts, World};
use crate::storage::now_ms;
use crate::storage::ops::{Op, OpResult};
use std::rc::Rc;

impl World {
    /// Answer core `from`'s ops: at once, or once what they saw here is in
    /// the log (see `Aof::must_wait`).
    /// `before`: the log's position before they ran.
    pub(super) fn answer_ops(
        self: &Rc<Self>,
        from: usize,
        id: u64,
        results: Vec<OpResult>,
        events: OpEvents,
        before: u64,
    ) {
        let done = Msg::OpsDone {
            id,
            results,
            events,
        };
        if !self.aof.must_wait(before) {
            self.mesh.post(from, done);
            return;
        }
        let w = self.clone();
        crate::runtime::task::spawn(async move {
            w.aof.wait_durable(before).await;
            w.mesh.post(from, done);
        })
        .detach();
    }

    /// Run core `from`'s ops here, now, in order (each runs here: the caller
    /// checked), for transaction `tx` at its clock `now` (0: none), and answer.
    pub(super) fn run_and_answer(
        self: &Rc<Self>,
        from: usize,
        id: u64,
        ops: Vec<Op>,
        tx: u64,
        now: u64,
    ) {
        let now = clock(now);
        let before = self.aof.appended();
        let mut events = OpEvents::new();
        let results = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                // The peer's ops are its client's commands in order: waiters
                // on a key one of them pushed to are served before the next
                // runs, as Redis serves blocked clients after each command
                // (a pipelined `LPUSH k x; LPOP k` leaves `x` to the client
                // waiting on `k`) — never inside a transaction.
                if i > 0 && tx == 0 && self.blocking.borrow().has_ready() {
                    self.serve_ready();
                }
                self.execute_noting(op, now, tx, i, &mut events)
            })
            .collect();
        self.answer_ops(from, id, results, events, before);
    }

    /// Handle one message from core `from`.
    pub fn handle(self: &Rc<Self>, from: usize, msg: Msg) {
        match msg {
            Msg::Ops {
                id,
                ops,
                epoch,
                hops,
                tx,
                now,
            } => {
                // Routed with this very table, nothing is moving and no key is
                // locked: every op runs here, now.
                if epoch == self.epoch()
                    && self.keyspace.borrow().table().moving.is_empty()
                    && self.locks.borrow().is_idle()
                {
                    self.run_and_answer(from, id, ops, tx, now);
                } else {
                    self.serve_remote(from, id, ops, hops, tx, now);
                }
            }
            Msg::OpsDone {
                id,
                results,
                events,
            } => self.mesh.complete(id, Answer::Ops(results, events)),
            Msg::TaskDone {
                id,
                result: TaskResult::Part { op, result },
            } => {
                // Now, not when the waiting task runs: later batches must not be counted.
                let mine = self.keyspace.borrow_mut().execute(Op::Core(op), now_ms());
                let both = self.stamp(add_counts(result, mine));
                self.mesh.complete(id, Answer::Ops(vec![both], Vec::new()));
            }
            Msg::TaskDone { id, result } => self.mesh.complete(id, Answer::Task(result)),
            Msg::Table(t) => {
                self.keyspace.borrow_mut().set_table(t);
                self.memory_changed();
            }
            Msg::Unlock { tx, watch, parts } => self.unlock(tx, watch, parts),
            Msg::Busy { tx } => self.mark_busy(tx),
            Msg::Watches(moved) => self.watches.borrow_mut().adopt(moved),
            Msg::Track(deliveries) => {
                for d in deliveries {
                    self.deliver_notice(d);
                }
            }
            Msg::Monitor(line) => {
                let limit = self.pubsub_limit();
                self.pubsub.borrow().feed_monitors(&line, &limit);
            }
            Msg::Event {
                shard,
                channel,
                payload,
            } => {
                self.deliver(shard, &channel, &payload);
            }
            Msg::Served { ticket, served } => self.waiter_served(ticket, served),
            Msg::Task { id, task } => match task {
                CoreTask::Lock {
                    tx,
                    keys,
                    whole,
                    watch,
                } => {
                    let slot = self.request_lock(tx, keys, whole);
                    // Granted at once (the usual case): answer without a task.
                    if let Some(grant) = slot.take() {
                        let (grant, spoiled) = self.granted(grant, watch);
                        let result = TaskResult::Locked { grant, spoiled };
                        self.mesh.post(from, Msg::TaskDone { id, result });
                        return;
                    }
                    let w = self.clone();
                    crate::runtime::task::spawn(async move {
                        let (grant, spoiled) = w.granted(slot.wait().await, watch);
                        let result = TaskResult::Locked { grant, spoiled };
                        w.mesh.post(from, Msg::TaskDone { id, result });
                    })
                    .detach();
                }
                CoreTask::Split(_)
                | CoreTask::Merge(_)
                | CoreTask::Migrate { .. }
                | CoreTask::Admin(_)
                | CoreTask::Save
                | CoreTask::BgSave { .. }
                | CoreTask::CaptureBegin { .. }
                | CoreTask::CaptureWait
                | CoreTask::RewriteBegin { .. }
                | CoreTask::RewriteNow
                | CoreTask::BgRewrite
                | CoreTask::FlushAll { .. }
                | CoreTask::Flush { .. } => {
                    let w = self.clone();
                    crate::runtime::task::spawn(async move {
                        let result = w.run_long_task(task).await;
                        w.mesh.post(from, Msg::TaskDone { id, result });
                    })
                    .detach();
                }
                // Answered at once, in order with the batches this core sends `from`:
                // the migration protocol depends on it (see `storage::migration`).
                task => {
                    let result = self.run_peer_task(from, task);
                    self.mesh.post(from, Msg::TaskDone { id, result });
                }
            },
        }
    }

    /// Run a core task here (also used for this core's own share of a broadcast).
    pub fn run_task(&self, task: CoreTask) -> TaskResult {
        match task {
            CoreTask::Ping => TaskResult::Done,
            CoreTask::Clients => TaskResult::Clients(self.clients.borrow().snapshot()),
            CoreTask::Kill(f) => TaskResult::Count(self.clients.borrow_mut().kill(&f)),
            CoreTask::HasClient { id } => {
                TaskResult::Count(usize::from(self.clients.borrow().get(id).is_some()))
            }
            CoreTask::TrackBcast { client, reg } => {
                self.tracking.borrow_mut().set_bcast(client, reg);
                TaskResult::Done
            }
            CoreTask::SetConfig(c) => {
                self.aof.fsync.set(c.appendfsync);
                crate::runtime::busy_poll::set_busy_poll(c.busy_poll_us);
                *self.config.borrow_mut() = *c;
                self.apply_memory_config();
                TaskResult::Done
            }
            CoreTask::Stats => TaskResult::Stats(Box::new(self.core_stats())),
            CoreTask::Changes => TaskResult::Count(self.persist.dirty.get() as usize),
            CoreTask::ResetStats => {
                let s = &self.stats;
                for c in [
                    &s.connections_received,
                    &s.rejected_connections,
                    &s.commands,
                    &s.hits,
                    &s.misses,
                    &s.expired,
                    &s.evicted,
                    &s.net_input_bytes,
                    &s.net_output_bytes,
                ] {
                    c.set(0);
                }
                self.cmdstats.borrow_mut().reset();
                TaskResult::Done
            }
            CoreTask::CommandStats { histograms } => {
                let stats = self.cmdstats.borrow();
                TaskResult::Commands(Box::new(if histograms {
                    stats.clone()
                } else {
                    stats.without_histograms()
                }))
            }
            CoreTask::Slowlog { count } => TaskResult::Slow(self.slowlog.borrow().newest(count)),
            CoreTask::SlowlogReset => {
                self.slowlog.borrow_mut().reset();
                TaskResult::Done
            }
            CoreTask::Block(w) => {
                self.add_waiter(w);
                TaskResult::Done
            }
            CoreTask::Unwait(ticket) => {
                self.forget_waiter(ticket);
                TaskResult::Done
            }
            CoreTask::Unblock { id, how } => {
                TaskResult::Count(usize::from(self.blocked.unblock(id, how)))
            }
            CoreTask::Latency => TaskResult::Latency(Box::new(self.latency.borrow().clone())),
            CoreTask::LatencyReset { events } => {
                TaskResult::Count(self.latency.borrow_mut().reset(&events))
            }
            CoreTask::Sample { secs } => {
                let mut ks = self.keyspace.borrow_mut();
                ks.sample_rates(secs);
                TaskResult::Shards(ks.stats())
            }
            CoreTask::Split(_)
            | CoreTask::Merge(_)
            | CoreTask::Migrate { .. }
            | CoreTask::Admin(_)
            | CoreTask::Pull { .. }
            | CoreTask::Install { .. }
            | CoreTask::FinishIncoming { .. }
            | CoreTask::CountPart { .. }
            | CoreTask::ScanPart { .. }
            | CoreTask::Save
            | CoreTask::BgSave { .. }
            | CoreTask::CaptureBegin { .. }
            | CoreTask::CaptureWait
            | CoreTask::RewriteBegin { .. }
            | CoreTask::BgRewrite => TaskResult::Failed("not a broadcast task".into()),
            CoreTask::RewriteNow
            | CoreTask::FlushAll { .. }
            | CoreTask::Flush { .. }
            | CoreTask::Lock { .. } => TaskResult::Failed("not a broadcast task".into()),
            CoreTask::Watch { id, keys } => {
                self.watch_keys(id, keys);
                TaskResult::Done
            }
            CoreTask::Unlock { tx, parts } => {
                self.unlock(tx, 0, parts);
                TaskResult::Done
            }
            CoreTask::AofSize => TaskResult::Count(self.aof.size() as usize),
            CoreTask::AofOff => {
                self.aof.stop();
                TaskResult::Done
            }
            CoreTask::SaveSection { part } => {
                self.persist.dirty_at_save.set(self.persist.dirty.get());
                TaskResult::Section(self.save_section(&part))
            }
            CoreTask::SaveDone(at) => {
                let p = &self.persist;
                if let Some(at) = at {
                    p.last_save.set(at);
                    p.dirty
                        .set(p.dirty.get().saturating_sub(p.dirty_at_save.get()));
                    p.saves.set(p.saves.get() + 1);
                }
                p.last_save_ok.set(at.is_some());
                p.dirty_at_save.set(0);
                p.bgsave.set(false);
                TaskResult::Done
            }
            CoreTask::PubsubNames { kind, pattern } => {
                TaskResult::Names(self.pubsub.borrow().names(kind, pattern.as_deref()))
            }
            CoreTask::PubsubCounts { kind, names } => {
                TaskResult::Counts(self.pubsub.borrow().counts(kind, &names))
            }
        }
    }
}
