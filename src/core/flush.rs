//! FLUSHALL and FLUSHDB: every core empties its keyspace, under core 0's
//! `staircase_lock`, so that no split, merge or migration runs meanwhile. It
//! owns the order of a flush against the staircase; it never empties a shard
//! itself (the keyspace's `CoreOp::Flush` does, on each core).
//!
//! Why the lock: each core logs its flush as a claim over the shards *its*
//! table says it owns (`core::logging::log_claim`). A flush sent to every core
//! while a migration of shard S from A to B was being announced could reach A
//! after A gave S away and B before B learned it had S: neither claim covered
//! S, so after a crash A's older records of S's keys came back (the kill -9
//! cycles caught 15 keys resurrected once in 150 cycles). Under the lock every
//! move has landed and every core involved holds the same table, so each
//! shard is claimed by its one owner. Every core's claim is a transaction's
//! (`TxClaim`: the FLUSHALL holds every core whole as a transaction, or runs
//! inside one), so after a crash that kept one core's claim and lost
//! another's, the flush counts on no core (`persist::replay`). A flush waits for a running change
//! (or a log rewrite, or a SAVE) to finish; Redis's FLUSHALL blocks its
//! server too.

use super::mesh::{Answer, CoreTask, TaskResult};
use super::world::World;
use crate::storage::ops::{CoreOp, Op, OpError, OpResult};
use std::rc::Rc;

impl World {
    /// FLUSHALL from any core: run on core 0 under the staircase lock; the
    /// first core's refusal (`-MISCONF`, …) is the answer, else `Ok`. `Err`
    /// only if core 0 did not answer.
    pub async fn flush_all(self: &Rc<Self>, tx: u64) -> Result<OpResult, String> {
        if self.id != 0 {
            return match self
                .mesh
                .request_task(0, CoreTask::FlushAll { tx })
                .wait()
                .await
            {
                Answer::Task(TaskResult::Flushed(result)) => Ok(result),
                Answer::Task(TaskResult::Failed(e)) => Err(e),
                _ => Err("the coordinator did not answer".into()),
            };
        }
        // Between transactions, never inside one (see `core::locks`); a
        // transaction's own FLUSHALL (`tx`) already holds every core whole.
        // Whole first, then the staircase, as a transaction's FLUSHALL does:
        // one order, so neither waits for the other in a circle.
        // A plain FLUSHALL is a transaction of its own: every core logs its
        // claim as the transaction's and, when it lets go, its end, so after
        // a crash the flush counts on every core or none.
        let all = if tx == 0 {
            match self.hold_everything().await {
                Ok(hold) => {
                    hold.log_end(true);
                    Some(hold)
                }
                Err(_) => return Ok(OpResult::Err(OpError::Busy)),
            }
        } else {
            None
        };
        let tx = all.as_ref().map_or(tx, |h| h.tx);
        let turn = self.staircase_lock.acquire_permit(1).await;
        let results = self
            .ask_every_core(|_| CoreTask::Flush { tx }, self.flush_here(tx))
            .await;
        drop(turn);
        if let Some(hold) = all {
            // Under `always` its commit, synced before the answer: the
            // client may be another core's, whose reply waits for its own log.
            let before = self.aof.appended();
            self.finish_hold(hold).await;
            if self.aof.must_wait(before) {
                self.aof.wait_durable(before).await;
            }
        }
        let refused = results.into_iter().find_map(|r| match r {
            TaskResult::Flushed(e @ OpResult::Err(_)) => Some(e),
            _ => None,
        });
        Ok(refused.unwrap_or(OpResult::Ok))
    }

    /// This core's part: empty its keyspace (and log the claim, as
    /// transaction `tx`'s), answered once the claim is as durable as the
    /// log's policy asks.
    pub async fn flush_here(self: &Rc<Self>, tx: u64) -> TaskResult {
        let before = self.aof.appended();
        self.aof.tx.set(tx);
        let result = self.execute(Op::Core(CoreOp::Flush), crate::storage::now_ms());
        self.aof.tx.set(0);
        if self.aof.must_wait(before) {
            self.aof.wait_durable(before).await;
        }
        TaskResult::Flushed(result)
    }
}
