//! The records a core's changes make in its append-only log (`core::aof`
//! keeps the log and writes it): the state of a key after a change (a hash
//! or set whole, as its RDB encoding) or, for a key that was there before the
//! change and still is, what the change did (`persist::delta`: fields,
//! members, bits, a deadline — so a change to a big collection costs its
//! size, not the collection's), an eviction's `DEL`, a claim (FLUSHALL, a rewrite's base), an import by
//! migration; a transaction's writes and its end; and the start of a new
//! log file. These are `World` methods
//! because they read the core's keyspace and table; they never write a file
//! and never wait.

use super::aof::{create_log, LogWriter};
use super::world::World;
use crate::persist::delta;
use crate::persist::log::{Cmd, Intervals, Op as LogOp};
use crate::storage::entry::{Entry, Value};
use crate::storage::keyspace::Keyspace;
use crate::storage::ops::{KeyOp, Op, OpResult};
use crate::storage::staircase::ShardId;
use bytes::BytesMut;

impl World {
    /// Log what `key` is now on this core (after a change to it).
    pub fn log_key(&self, key: &[u8]) {
        if !self.aof.on.get() {
            return;
        }
        let ks = self.keyspace.borrow();
        let epoch = ks.table().epoch;
        match live(&ks, key, None) {
            (shard, Some(e)) => self.log_entry(epoch, shard, e, None),
            (shard, None) => self
                .aof
                .append(epoch, shard, self.write(Cmd::Args(&[b"DEL", key]))),
        }
    }

    /// The op to log as a delta once it ran (a copy of it): when `op` has a
    /// per-element record and its key is live now, so the log already holds
    /// the state the delta applies to.
    pub(super) fn delta_base(&self, op: &Op, now: u64) -> Option<KeyOp> {
        let Op::Key { key, op } = op else {
            return None;
        };
        if !delta::loggable(op) {
            return None;
        }
        let ks = self.keyspace.borrow();
        live(&ks, key, Some(now)).1.map(|_| op.clone())
    }

    /// Log `op` (which ran on `key` with reply `r`) as a delta; false when
    /// the key is gone now or the op gave no per-element record (log it
    /// whole then).
    pub(super) fn log_delta(&self, key: &[u8], op: &KeyOp, r: &OpResult) -> bool {
        let ks = self.keyspace.borrow();
        let epoch = ks.table().epoch;
        let (shard, Some(e)) = live(&ks, key, None) else {
            return false;
        };
        delta::with_record(key, op, r, e.object(), e.deadline(), |args| {
            self.aof.append(epoch, shard, self.write(Cmd::Args(args)))
        })
        .is_some()
    }

    /// A change as its record: a transaction's while one runs its op here.
    fn write<'a>(&self, cmd: Cmd<'a>) -> LogOp<'a> {
        match self.aof.tx.get() {
            0 => LogOp::Write(cmd),
            tx => {
                self.aof.tx_logged.borrow_mut().insert(tx);
                LogOp::TxWrite { tx, cmd }
            }
        }
    }

    /// Whether a transaction's end or commit is worth a record here: not
    /// while the log cannot be written unless the transaction logged a change
    /// here (every write is refused then, so it wrote nothing; a record
    /// nobody needs would hold the client's reply until the disk has room).
    fn end_needed(&self, tx: u64) -> bool {
        self.aof.tx_logged.borrow().contains(&tx) || super::aof::write_error().is_none()
    }

    /// Append a record about no one shard (a claim, a transaction's end or
    /// commit) under the current epoch.
    fn log_unsharded(&self, op: LogOp<'_>) {
        let epoch = self.keyspace.borrow().table().epoch;
        self.aof.append(epoch, crate::persist::log::NO_SHARD, op);
    }

    /// Every part of transaction `tx` (run here) is durable: a `TxCommit`.
    pub fn log_tx_commit(&self, tx: u64) {
        if self.aof.on.get() && self.end_needed(tx) {
            self.log_unsharded(LogOp::TxCommit { tx });
        }
    }

    /// Transaction `tx` let go of this core, one of `parts` it held: its end
    /// (recovery counts its writes only once every part logged one).
    pub fn log_tx_end(&self, tx: u64, parts: u16) {
        let needed = self.end_needed(tx);
        self.aof.tx_logged.borrow_mut().remove(&tx);
        if self.aof.on.get() && parts > 0 && needed {
            self.log_unsharded(LogOp::TxEnd { tx, parts });
        }
    }

    /// Log `e` as a `SET` (an import from core `from` when given).
    fn log_entry(&self, epoch: u64, shard: ShardId, e: &Entry, from: Option<usize>) {
        // A hash or set is logged whole, as its RDB encoding.
        let payload = e.object().map(crate::persist::rdb::encode_object);
        let (name, value): (&[u8], Value<'_>) = match &payload {
            Some(p) => (b"OBJ", Value::Raw(p)),
            None => (b"SET", e.value()),
        };
        let mut digits = [0u8; 20];
        let full: [&[u8]; 5] = match e.deadline() {
            Some(d) => [
                name,
                e.key(),
                &value,
                b"PXAT",
                crate::protocol::ascii::format_u64(d, &mut digits),
            ],
            None => [name, e.key(), &value, b"", b""],
        };
        let cmd = Cmd::Args(&full[..if e.deadline().is_some() { 5 } else { 3 }]);
        let op = match from {
            Some(from) => LogOp::Import {
                from: from as u16,
                cmd,
            },
            None => self.write(cmd),
        };
        self.aof.append(epoch, shard, op);
    }

    /// Log that `key` is gone (an eviction).
    pub fn log_del(&self, key: &[u8]) {
        if !self.aof.on.get() {
            return;
        }
        let ks = self.keyspace.borrow();
        let (epoch, shard) = (ks.table().epoch, ks.peek(key).0);
        self.aof
            .append(epoch, shard, LogOp::Write(Cmd::Args(&[b"DEL", key])));
    }

    /// Log a claim over the shards this core owns (FLUSHALL; a rewrite's base).
    pub fn log_claim(&self, base: bool) {
        if !self.aof.on.get() {
            return;
        }
        let intervals = self.keyspace.borrow().owned_intervals();
        let intervals = Intervals::List(&intervals);
        let op = match self.aof.tx.get() {
            tx if tx != 0 && !base => {
                self.aof.tx_logged.borrow_mut().insert(tx);
                LogOp::TxClaim { tx, intervals }
            }
            _ => LogOp::Claim { base, intervals },
        };
        self.log_unsharded(op);
    }

    /// Start logging to a new file of generation `gen` under `dir/appenddirname`
    /// (continuing this core's positions); with `base`, its first record is
    /// the claim of the base a rewrite is about to capture.
    pub fn open_generation(&self, gen: u64, base: bool) -> Result<(), String> {
        let (dir, name, fsync) = {
            let c = self.config.borrow();
            (c.aof_dir(), c.appendfilename.clone(), c.appendfsync)
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = create_log(&dir, &name, self.id, gen)
            .map_err(|e| format!("cannot create a log in {}: {e}", dir.display()))?;
        let start = match self.aof.writer.borrow().as_ref() {
            Some(w) => w.next_lsn(),
            None => self.aof.first_lsn.get().max(1),
        };
        let epoch = self.keyspace.borrow().table().epoch;
        let mut head = BytesMut::with_capacity(64 << 10);
        let writer = LogWriter::start(&mut head, self.id as u16, start, epoch);
        self.aof.fsync.set(fsync);
        self.aof.switch_to(file, writer, head);
        if base {
            self.log_claim(true);
        }
        Ok(())
    }

    /// Log an entry that arrived from core `from` by migration, as stored
    /// (called while the keyspace stores it: `epoch` is its table's).
    pub fn log_import(&self, epoch: u64, from: usize, shard: ShardId, e: &Entry) {
        if self.aof.on.get() {
            self.log_entry(epoch, shard, e, Some(from));
        }
    }
}

/// `key`'s shard and its entry on this core unless it expired by `now` —
/// without `now`, the clock is read only for an entry with a deadline (most
/// have none).
fn live<'a>(ks: &'a Keyspace, key: &[u8], now: Option<u64>) -> (ShardId, Option<&'a Entry>) {
    let (shard, e) = ks.peek(key);
    let now = || now.unwrap_or_else(crate::storage::now_ms);
    (shard, e.filter(|e| e.deadline().is_none_or(|d| d > now())))
}
