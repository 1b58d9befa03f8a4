//! The cross-core transport: a full glommio channel mesh carrying packets of
//! [`Msg`] — shard tasks and their results, core tasks, routing-table updates —
//! never commands.
//!
//! Every outbound message goes into a per-peer queue first and a per-peer sender
//! task moves the whole queue as one packet. So the tasks that *receive* never
//! wait on a full channel (two cores answering each other cannot deadlock), and
//! all the requests that connections on this core issued in one executor tick
//! travel to a peer together. After each packet the sender rings the peer's
//! bell (`runtime::bell::ring_bell`), which wakes a napping peer and, on a busy
//! one, makes it let glommio read its channels now rather than at glommio's
//! next preemption (`runtime::driver::let_peers_in`).

use super::clients::{ClientInfo, KillFilter};
use super::locks::Grant;
use super::pubsub::Kind;
use crate::config::Config;
use crate::persist::rdb::Section;
use crate::runtime::notify::{Notify, Slot};
use crate::storage::entry::Entry;
use crate::storage::ops::{CoreOp, Op, OpResult, ShardStat};
use crate::storage::staircase::{RoutingTable, ShardId};
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Work a core does for another that is not a keyspace op.
#[derive(Debug, Clone)]
pub enum CoreTask {
    /// Are you serving? (the HTTP door's `/readyz`) → Done
    Ping,
    /// → Clients
    Clients,
    /// → Count
    Kill(KillFilter),
    /// Is client `id` connected here? → Count(0 or 1)
    HasClient { id: u64 },
    /// A client's BCAST registration (None: its end), kept by every core → Done
    TrackBcast {
        client: u64,
        reg: Option<super::tracking::Bcast>,
    },
    /// Replace the run-time configuration → Done
    SetConfig(Box<Config>),
    /// → Stats
    Stats,
    /// Zero the counters CONFIG RESETSTAT resets → Done
    ResetStats,
    /// Per-command counters, with their latency histograms or not → Commands
    CommandStats { histograms: bool },
    /// The newest `count` slow log entries (all: None) → Slow
    Slowlog { count: Option<usize> },
    /// SLOWLOG RESET → Done
    SlowlogReset,
    /// A blocking pop's wait, held by every core (`core::blocking`) → Done
    Block(std::sync::Arc<super::waiters::Waiter>),
    /// The wait with this ticket ended → Done
    Unwait(super::waiters::Ticket),
    /// CLIENT UNBLOCK: let client `id` go if it waits here → Count(0 or 1)
    Unblock {
        id: u64,
        how: super::blocked::Unblock,
    },
    /// The latency monitor's series → Latency
    Latency,
    /// LATENCY RESET of these events (all: empty) → Count
    LatencyReset { events: Vec<String> },
    /// Adopt this table, then perform its next split if the source is yours, to completion
    /// → Split(Some((source, target))) | Split(None) when not owned here
    Split(RoutingTable),
    /// Adopt this table, then merge its last step if both shards are yours, to completion
    /// → Merged(Some((into, from))) | Merged(None)
    Merge(RoutingTable),
    /// Adopt this table, then hand `shard` to core `to`, to completion
    /// → Migrated { keys, table } | Failed
    Migrate {
        table: RoutingTable,
        shard: ShardId,
        to: usize,
    },
    /// (to a migration's source) Remove and return these keys → Entries
    Pull { keys: Vec<Bytes> },
    /// (to a migration's target) Store these entries of `shard`, sent after
    /// `flushes` FLUSHALLs, unless newer ones are there; `remaining` more (these
    /// included) are still to come → Done
    Install {
        shard: ShardId,
        entries: Vec<Entry>,
        flushes: u64,
        remaining: usize,
    },
    /// (to a migration's target) Everything was sent: forget the source → Table
    FinishIncoming { shard: ShardId },
    /// (to a migration's source) This DBSIZE or KEYS over the shards it is handing
    /// over → Part
    CountPart { op: CoreOp },
    /// (to a migration's source) Keys still held of `shard` from position `from` → Names
    ScanPart {
        shard: ShardId,
        /// A 52-bit position (`storage::cursor`).
        from: u64,
        count: usize,
    },
    /// Measure ops/s per shard over the last `secs` → Shards
    Sample { secs: f64 },
    /// (to core 0) A change of the staircase, run by the coordinator → Admin
    Admin(AdminRequest),
    /// Names with subscribers here (matching the pattern, if any) → Names
    PubsubNames { kind: Kind, pattern: Option<Bytes> },
    /// Subscribers here to each name → Counts
    PubsubCounts { kind: Kind, names: Vec<Bytes> },
    /// (to core 0) SAVE: every core's section joined into the snapshot → Saved
    Save,
    /// This core's section of a SAVE, written to `part` in one step → Section
    SaveSection { part: std::path::PathBuf },
    /// (to core 0) BGSAVE [SCHEDULE] → Started
    BgSave { schedule: bool },
    /// Begin this core's section of a BGSAVE, captured while serving → Done | Failed
    CaptureBegin { part: std::path::PathBuf },
    /// The section begun, once written → Section
    CaptureWait,
    /// Keys changed here since the last save (save points) → Count
    Changes,
    /// A SAVE finished at this unix second (LASTSAVE), or failed (None) → Done
    SaveDone(Option<u64>),
    /// Start this core's log of generation `gen` with a base claim and
    /// capture the base into `part` (see `core::rewrite`) → Done | Failed
    RewriteBegin { gen: u64, part: std::path::PathBuf },
    /// (to core 0) BGREWRITEAOF → Started
    BgRewrite,
    /// (to core 0) Rewrite the logs and answer when done → Started
    RewriteNow,
    /// Bytes in this core's current log → Count
    AofSize,
    /// Stop logging here (appendonly no) → Done
    AofOff,
    /// To core 0: FLUSHALL under the staircase lock, for transaction `tx`
    /// (0: none) → Flushed (`core::flush`)
    FlushAll { tx: u64 },
    /// Empty this core's keyspace for transaction `tx` (a plain FLUSHALL is
    /// one too: its claims count on every core or none), answered once
    /// logged → Flushed
    Flush { tx: u64 },
    /// Take these keys (or everything) for transaction `tx`, once earlier
    /// holders let go; with `watch`, say whether that client's watch here is
    /// spoiled (`core::txn`) → Locked
    Lock {
        tx: u64,
        keys: Vec<Bytes>,
        whole: bool,
        watch: u64,
    },
    /// Client `id` watches these keys here → Done
    Watch { id: u64, keys: Vec<Bytes> },
    /// Let go of what transaction `tx` holds here, logging its end as one
    /// of `parts` (0: no end) → Done
    Unlock { tx: u64, parts: u16 },
}

/// What SAVE wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub keys: u64,
    pub bytes: u64,
    /// Unix seconds: LASTSAVE from now on.
    pub at: u64,
}

/// A core's counters, copied out for INFO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoreStats {
    pub core: usize,
    pub keys: u64,
    pub ttl_keys: u64,
    pub bytes: u64,
    pub shards: u64,
    pub clients: u64,
    /// Clients waiting in WAIT or held by CLIENT PAUSE.
    pub blocked: u64,
    /// Keys blocked clients wait on (every core holds every wait, so each
    /// core's figure is the server's).
    pub blocking_keys: u64,
    /// Client-side caching: this core's tracking connections, keys
    /// remembered here and their readers, BCAST prefixes (every core's).
    pub tracking_clients: u64,
    pub tracking_keys: u64,
    pub tracking_items: u64,
    pub tracking_prefixes: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub commands: u64,
    /// Error replies sent (INFO stats' `total_error_replies`).
    pub error_replies: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
    /// This core's memory figure and its share of `maxmemory` (0: no limit).
    pub used_memory: u64,
    pub memory_limit: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub splits: u64,
    pub merges: u64,
    pub keys_moved: u64,
    pub migrations_in_flight: u64,
    pub migrations_done: u64,
    pub keys_migrated: u64,
    pub forwarded: u64,
    pub pulled: u64,
    pub rebalance_moves: u64,
    pub ops_per_sec: f64,
    pub mesh_sent: u64,
    /// Times this core's spin before a nap saw work come (`busy-poll-us`).
    pub busy_poll_hits: u64,
    /// Keys changed since the last SAVE, and keys loaded at start (kept, expired).
    pub changes: u64,
    /// 1 while this core takes part in a BGSAVE.
    pub bgsave: u64,
    pub loaded: u64,
    pub loaded_expired: u64,
    pub table_epoch: u64,
    /// This core logs; its log's bytes; its last flush failed; syncs done.
    pub aof_on: u64,
    pub aof_size: u64,
    pub aof_failing: u64,
    pub aof_syncs: u64,
    /// Core 0: a rewrite runs; the last failed; rewrites done; the bytes
    /// the logs build on and the rewrite base (`Persist`'s fields).
    pub aof_rewriting: u64,
    pub aof_rewrite_failed: u64,
    pub aof_rewrites: u64,
    pub aof_settled: u64,
    pub aof_rewrite_base: u64,
}

#[derive(Debug, Clone)]
pub enum TaskResult {
    Done,
    Count(usize),
    Clients(Vec<ClientInfo>),
    Stats(Box<CoreStats>),
    Commands(Box<super::cmdstats::CommandStats>),
    Slow(Vec<super::slowlog::SlowEntry>),
    Latency(Box<super::latency::LatencyMonitor>),
    Split(Option<(u32, u32)>),
    Names(Vec<Bytes>),
    /// Keys and their types (a migration's source's part of a SCAN).
    Typed(Vec<(Bytes, &'static str)>),
    Counts(Vec<usize>),
    Merged(Option<(u32, u32)>),
    Migrated {
        keys: u64,
        table: RoutingTable,
    },
    Failed(String),
    /// Entries handed over, and the FLUSHALLs run by the sender before it sent them.
    Entries(Vec<Entry>, u64),
    Table(RoutingTable),
    Shards(Vec<ShardStat>),
    /// The source's part of a DBSIZE or KEYS; the target adds its own the moment
    /// this arrives (in `World::handle`), in order with the batches.
    Part {
        op: CoreOp,
        result: OpResult,
    },
    Admin(Result<i64, String>),
    /// A flush's outcome (`core::flush`).
    Flushed(OpResult),
    Section(Result<Section, String>),
    Saved(Result<Saved, String>),
    Started(Result<&'static str, String>),
    /// A lock request's outcome, and whether the watch it named is spoiled.
    Locked {
        grant: Grant,
        spoiled: bool,
    },
}

/// A change of the staircase asked for by hand (`STAIRKV ...`) on any core and
/// run by core 0's coordinator, one change at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// → Ok(keys moved)
    Migrate { shard: ShardId, to: usize },
    /// Split until `shard` has split once more (the next split when None) → Ok(splits made)
    Split { shard: Option<ShardId> },
    /// Merge the last step → Ok(1)
    Merge,
    /// One balancing round now → Ok(migrations made)
    Rebalance,
}

#[derive(Debug)]
pub enum Msg {
    /// Ops routed by the sender's table at `epoch`; `hops` counts forwards so far;
    /// `tx`: the transaction they run for (0: none), whose own locks they pass;
    /// `now`: its frozen clock (milliseconds; 0 outside a transaction: read the clock).
    Ops {
        id: u64,
        ops: Vec<Op>,
        epoch: u64,
        hops: u32,
        tx: u64,
        now: u64,
    },
    OpsDone {
        id: u64,
        results: Vec<OpResult>,
        /// A transaction's events, by op (see `World::execute_noting`).
        events: OpEvents,
    },
    Task {
        id: u64,
        task: CoreTask,
    },
    TaskDone {
        id: u64,
        result: TaskResult,
    },
    Table(RoutingTable),
    /// Let go of what transaction `tx` holds here and forget client `watch`'s
    /// watches (either may be 0), logging the transaction's end as one of
    /// `parts` (0: none); nobody waits for it.
    Unlock {
        tx: u64,
        watch: u64,
        parts: u16,
    },
    /// Watches of keys whose shard the sender is giving to this core (sent
    /// before the table that does so); nobody waits for it.
    Watches(Vec<super::watch::MovedWatch>),
    /// Client-side caching notices for this core's connections (or the
    /// clients they redirect to); nobody waits for it.
    Track(Vec<super::tracking::Delivery>),
    /// Transaction `tx` runs a script past `busy-reply-threshold`: answer
    /// `-BUSY` to whoever waits for what it holds here; nobody waits for it.
    Busy {
        tx: u64,
    },
    /// A MONITOR line for this core's monitors; nobody waits for it.
    Monitor(Bytes),
    /// (to a waiter's core) What a serving core handed wait `ticket`.
    Served {
        ticket: super::waiters::Ticket,
        served: super::waiters::Served,
    },
    /// A keyspace event to deliver to this core's subscribers; nobody waits for it.
    Event {
        shard: bool,
        channel: Bytes,
        payload: Bytes,
    },
}

/// What travels in one channel send.
pub type Packet = Vec<Msg>;

/// An event a transaction's op raised, held until the transaction lets go.
#[derive(Debug)]
pub enum HeldEvent {
    /// A keyspace event: published to every core then.
    Keyspace(Bytes, Bytes),
    /// A PUBLISH's delivery to core `core`'s subscribers (shard channel or not).
    Message {
        core: usize,
        shard: bool,
        channel: Bytes,
        payload: Bytes,
    },
}

/// Events raised by a list of ops, each with the index of its op.
pub type OpEvents = Vec<(u32, HeldEvent)>;

/// Events of transactions' ops: those of the op running now, and, on the
/// core that runs a transaction, all of its events so far, in command order.
#[derive(Default)]
pub struct HeldEvents {
    /// An op of a transaction runs now: its events go to `captured`.
    pub(super) capturing: bool,
    pub(super) captured: Vec<HeldEvent>,
    pub(super) by_tx: HashMap<u64, Vec<HeldEvent>, ahash::RandomState>,
    /// Transactions run here whose `Hold` lives: the others' events are
    /// published as they come (nobody is left to publish them later).
    pub(super) live: std::collections::HashSet<u64, ahash::RandomState>,
}

pub enum Answer {
    /// Results in order, and a transaction's events by op.
    Ops(Vec<OpResult>, OpEvents),
    Task(TaskResult),
}

/// This core's end of the mesh: outbound queues and the requests awaiting answers.
pub struct MeshState {
    outq: Vec<RefCell<Packet>>,
    wake: Vec<Notify>,
    pending: RefCell<HashMap<u64, Rc<Slot<Answer>>>>,
    next_id: Cell<u64>,
    pub sent: Cell<u64>,
}

impl MeshState {
    pub fn new(ncores: usize) -> MeshState {
        MeshState {
            outq: (0..ncores).map(|_| RefCell::new(Vec::new())).collect(),
            wake: (0..ncores).map(|_| Notify::default()).collect(),
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            sent: Cell::new(0),
        }
    }

    /// Queue a message for `peer`; its sender task ships it on the next tick.
    pub fn post(&self, peer: usize, msg: Msg) {
        let mut q = self.outq[peer].borrow_mut();
        q.push(msg);
        if q.len() == 1 {
            self.wake[peer].notify();
        }
    }

    fn register(&self) -> (u64, Rc<Slot<Answer>>) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let slot = Slot::new();
        self.pending.borrow_mut().insert(id, slot.clone());
        (id, slot)
    }

    /// Send ops routed with the table at `epoch` to `peer`; the returned slot
    /// fills with their results, in order.
    pub fn request_ops(
        &self,
        peer: usize,
        ops: Vec<Op>,
        epoch: u64,
        hops: u32,
        tx: u64,
        now: u64,
    ) -> Rc<Slot<Answer>> {
        let (id, slot) = self.register();
        self.post(
            peer,
            Msg::Ops {
                id,
                ops,
                epoch,
                hops,
                tx,
                now,
            },
        );
        slot
    }

    pub fn request_task(&self, peer: usize, task: CoreTask) -> Rc<Slot<Answer>> {
        let (id, slot) = self.register();
        self.post(peer, Msg::Task { id, task });
        slot
    }

    /// Deliver an answer that arrived for one of our requests.
    pub fn complete(&self, id: u64, answer: Answer) {
        let slot = self.pending.borrow_mut().remove(&id);
        match slot {
            Some(s) => s.fill(answer),
            None => tracing::warn!(id, "mesh answer for an unknown request"),
        }
    }

    /// The sender task for one peer: waits for queued messages and ships them as one packet.
    pub async fn run_sender(
        self: Rc<Self>,
        peer: usize,
        senders: Rc<glommio::channels::channel_mesh::Senders<Packet>>,
    ) {
        loop {
            self.wake[peer].wait().await;
            let packet = std::mem::take(&mut *self.outq[peer].borrow_mut());
            if packet.is_empty() {
                continue;
            }
            self.sent.set(self.sent.get() + packet.len() as u64);
            if senders.send_to(peer, packet).await.is_err() {
                tracing::debug!(peer, "mesh peer closed; sender stops");
                return;
            }
            // The peer may be napping in its socket ring, where glommio's
            // channel cannot wake it.
            crate::runtime::bell::ring_bell(peer);
        }
    }
}
