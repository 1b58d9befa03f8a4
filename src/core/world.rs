//! [`World`]: everything one core owns — its keyspace slice, its clients, its
//! run-time configuration copy, its counters and its end of the mesh — and how
//! an op runs on it ([`World::execute`]). A `World` is `!Send` and lives on one
//! executor; other cores reach it only through [`super::mesh`], and what it does
//! with their messages is [`super::inbox`].

use super::clients::Clients;
use super::events::{self, Before};
use super::mesh::{AdminRequest, Answer, CoreStats, CoreTask, MeshState, Msg, Packet, TaskResult};
use super::pubsub::{OutputLimit, Registry};
use crate::config::{notify, Config};
use crate::persist::rdb::Section;
use crate::runtime::notify::{Notify, Slot};
use crate::storage::keyspace::Keyspace;
use crate::storage::ops::{
    Changes, CoreOp, GetExTtl, HashOp, KeyOp, ListOp, Op, OpError, OpResult, SetOp, SetTtl, ZsetOp,
};
use crate::storage::policy::Room;
use crate::storage::staircase::RoutingTable;
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// Counters a core bumps as it serves.
#[derive(Default)]
pub struct Stats {
    pub connections_received: Cell<u64>,
    pub rejected_connections: Cell<u64>,
    pub commands: Cell<u64>,
    pub hits: Cell<u64>,
    pub misses: Cell<u64>,
    pub expired: Cell<u64>,
    pub evicted: Cell<u64>,
    pub net_input_bytes: Cell<u64>,
    pub net_output_bytes: Cell<u64>,
    pub splits: Cell<u64>,
    pub merges: Cell<u64>,
    pub keys_moved: Cell<u64>,
    pub migrations_in_flight: Cell<u64>,
    pub migrations_done: Cell<u64>,
    pub keys_migrated: Cell<u64>,
    /// Ops this core sent on because another core owns their shard.
    pub forwarded: Cell<u64>,
    /// Keys this core pulled from a migration's source before running an op.
    pub pulled: Cell<u64>,
    /// Migrations the controller made to even out load (core 0 counts them).
    pub rebalance_moves: Cell<u64>,
}

/// Keys one op may evict before answering; the background task does the rest.
const EVICT_PER_OP: usize = 64;

/// Give `ks` the memory limit, policy and sample count of `c`.
fn configure_memory(ks: &mut Keyspace, c: &Config) {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    ks.set_limits(crate::storage::object::Limits {
        hash_entries: n(c.hash_max_listpack_entries),
        hash_value: n(c.hash_max_listpack_value),
        set_intset_entries: n(c.set_max_intset_entries),
        set_entries: n(c.set_max_listpack_entries),
        set_value: n(c.set_max_listpack_value),
        list: crate::storage::object::ListLimit(c.list_max_listpack_size),
        zset_entries: n(c.zset_max_listpack_entries),
        zset_value: n(c.zset_max_listpack_value),
    });
    ks.set_memory_limit(
        c.maxmemory,
        c.maxmemory_policy,
        c.maxmemory_samples as usize,
    );
}

pub(super) fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get().wrapping_add(by));
}

pub struct World {
    pub id: usize,
    pub ncores: usize,
    pub keyspace: RefCell<Keyspace>,
    pub config: RefCell<Config>,
    pub clients: RefCell<Clients>,
    pub stats: Stats,
    pub mesh: Rc<MeshState>,
    /// Woken when a deadline earlier than the expiry task's planned wake is set.
    pub expiry_wake: Notify,
    /// Woken when this core is over its share of `maxmemory` and the per-op
    /// eviction left work over (see `core::evict`).
    pub evict_wake: Notify,
    pub next_expiry: Cell<u64>,
    /// Set when the server is shutting down: stop accepting, finish in-flight work.
    pub shutting_down: Cell<bool>,
    /// Connections in the middle of answering a pipeline (shutdown waits for them).
    pub busy: Cell<usize>,
    pub started: std::time::Instant,
    /// This core's pub/sub subscribers.
    pub pubsub: RefCell<Registry>,
    /// Held by core 0's coordinator while it changes the staircase: one change at a time.
    pub staircase_lock: glommio::sync::Semaphore,
    /// When `CoreTask::Sample` last ran here.
    pub last_sample: Cell<Option<std::time::Instant>>,
    /// Snapshot state and counters for LASTSAVE and INFO persistence.
    pub persist: Persistence,
    /// Carries out staircase changes asked for by hand, on core 0 (see [`Coordinator`]).
    pub coordinator: Cell<Option<Coordinator>>,
    /// This core's append-only log (see `core::aof`).
    pub aof: Rc<super::aof::Aof>,
    /// Transactions' intent locks on keys this core owns (see `core::locks`)...
    pub locks: RefCell<super::locks::Locks>,
    /// ...woken at every release (a migration waiting for its shard's keys).
    pub locks_released: Notify,
    /// WATCHes of keys this core owns (see `core::watch`).
    pub watches: RefCell<super::watch::Watches>,
    /// Client-side caching: readers of keys this core owns, every core's
    /// BCAST clients, this core's tracking connections (`core::tracking`).
    pub tracking: RefCell<super::tracking::Tracking>,
    /// The last transaction id made here (`World::new_tx`).
    pub next_tx: Cell<u64>,
    /// Events of transactions' ops: those of the op running here now, and of
    /// each transaction run here, published when it lets go (see `core::txn`'s
    /// `execute_noting`).
    pub held_events: RefCell<super::mesh::HeldEvents>,
    /// Transactions run here whose waiters were told they are busy scripts.
    pub busy_txs: RefCell<std::collections::HashSet<u64>>,
    /// Per-command counters, the slow log and the latency monitor of the
    /// commands run here (INFO commandstats, SLOWLOG, LATENCY).
    pub cmdstats: RefCell<super::cmdstats::CommandStats>,
    pub slowlog: RefCell<super::slowlog::SlowLog>,
    pub latency: RefCell<super::latency::LatencyMonitor>,
    /// Clients waiting in WAIT or held by CLIENT PAUSE.
    pub blocked: super::blocked::Blocked,
    /// Every blocking pop's wait, and the keys here ready to serve them
    /// (`core::blocking`)...
    pub blocking: RefCell<super::waiters::Blocking>,
    /// ...and the serving task's wake-up.
    pub blocking_wake: Notify,
}

/// Where a core's BGSAVE capture leaves its section.
pub type SectionSlot = Rc<Slot<Result<Section, String>>>;

/// What this core knows of snapshots; every core holds the same save times and
/// status (SAVE tells them all), and its own counts.
pub struct Persistence {
    /// Keys this core changed (Redis's "dirty" count)...
    pub dirty: Cell<u64>,
    /// ...and that count when its section of the running SAVE was written.
    pub dirty_at_save: Cell<u64>,
    /// Unix seconds of the last successful SAVE (the start, before one): LASTSAVE.
    pub last_save: Cell<u64>,
    pub last_save_ok: Cell<bool>,
    pub saves: Cell<u64>,
    /// This core is capturing or waiting for a BGSAVE's join (INFO).
    pub bgsave: Cell<bool>,
    /// The section this core's running BGSAVE capture fills.
    pub capture: RefCell<Option<SectionSlot>>,
    /// Core 0: a BGSAVE runs; another was asked for with SCHEDULE.
    pub bgsave_running: Cell<bool>,
    pub bgsave_scheduled: Cell<bool>,
    /// Core 0: a log rewrite runs; how the last one ended; rewrites done.
    pub rewrite_running: Cell<bool>,
    pub rewrite_ok: Cell<bool>,
    pub rewrites: Cell<u64>,
    /// Core 0: bytes of the files the logs being written build on — the
    /// bases of the last rewrite and, after a restart, the logs replayed —
    /// so that the logs' whole size is this plus every core's log.
    pub aof_settled: Cell<u64>,
    /// Core 0: Redis's `aof_rewrite_base_size`, what
    /// `auto-aof-rewrite-percentage` measures growth against: the whole
    /// size when the last rewrite ended (its bases and what was logged while
    /// it ran) or when the start's loading ended.
    pub aof_rewrite_base: Cell<u64>,
    /// Keys kept and dropped as expired from the snapshot loaded at start.
    pub loaded: Cell<u64>,
    pub loaded_expired: Cell<u64>,
}

impl Persistence {
    fn new() -> Persistence {
        Persistence {
            dirty: Cell::new(0),
            dirty_at_save: Cell::new(0),
            last_save: Cell::new(crate::storage::now_ms() / 1000),
            last_save_ok: Cell::new(true),
            saves: Cell::new(0),
            bgsave: Cell::new(false),
            capture: RefCell::new(None),
            bgsave_running: Cell::new(false),
            bgsave_scheduled: Cell::new(false),
            rewrite_running: Cell::new(false),
            rewrite_ok: Cell::new(true),
            rewrites: Cell::new(0),
            aof_settled: Cell::new(0),
            aof_rewrite_base: Cell::new(0),
            loaded: Cell::new(0),
            loaded_expired: Cell::new(0),
        }
    }
}

/// Runs a staircase change asked for by hand (`STAIRKV SPLIT|MERGE|MIGRATE`) on core 0. The
/// coordinator lives in `control/`, a floor above the engine; `server` installs it here at start,
/// so the engine hands an `Admin` task up through this hook instead of importing the controller.
pub type Coordinator =
    fn(Rc<World>, AdminRequest) -> Pin<Box<dyn Future<Output = Result<i64, String>>>>;

impl World {
    pub fn new(id: usize, ncores: usize, config: Config) -> World {
        let table = RoutingTable::new(ncores, config.initial_shards as usize);
        let mut keyspace = Keyspace::new(id, table);
        // On this core's own thread: the policy's access mode is thread-local.
        configure_memory(&mut keyspace, &config);
        World {
            id,
            ncores,
            keyspace: RefCell::new(keyspace),
            config: RefCell::new(config),
            clients: RefCell::new(Clients::default()),
            stats: Stats::default(),
            mesh: Rc::new(MeshState::new(ncores)),
            expiry_wake: Notify::default(),
            evict_wake: Notify::default(),
            next_expiry: Cell::new(u64::MAX),
            shutting_down: Cell::new(false),
            busy: Cell::new(0),
            started: std::time::Instant::now(),
            pubsub: RefCell::default(),
            cmdstats: RefCell::default(),
            slowlog: RefCell::default(),
            latency: RefCell::default(),
            blocked: Default::default(),
            blocking: RefCell::default(),
            blocking_wake: Notify::default(),
            staircase_lock: glommio::sync::Semaphore::new(1),
            last_sample: Cell::new(None),
            coordinator: Cell::new(None),
            persist: Persistence::new(),
            aof: Rc::default(),
            locks: RefCell::default(),
            locks_released: Notify::default(),
            watches: RefCell::default(),
            tracking: RefCell::default(),
            next_tx: Cell::new(0),
            held_events: RefCell::default(),
            busy_txs: RefCell::default(),
        }
    }

    /// This core's routing-table epoch.
    pub fn epoch(&self) -> u64 {
        self.keyspace.borrow().table().epoch
    }

    /// The core that owns `key` under this core's routing table.
    pub fn core_of(&self, key: &[u8]) -> usize {
        if self.ncores == 1 {
            return 0;
        }
        let h = crate::storage::hash::key_hash(key);
        self.keyspace.borrow().table().core_of(h)
    }

    /// Execute one op on this core's keyspace, keeping the expiry task's wake-up current
    /// and the hit/miss counters true.
    pub fn execute(&self, op: Op, now: u64) -> OpResult {
        if let Op::Core(CoreOp::Publish {
            shard,
            channel,
            payload,
        }) = &op
        {
            if let Some(n) = self.hold_publish(*shard, channel, payload) {
                return OpResult::Int(n as i64);
            }
            return OpResult::Int(self.deliver(*shard, channel, payload) as i64);
        }
        match &op {
            Op::Key {
                key,
                op: KeyOp::Track { client, noloop },
            } => return self.track_read(key, *client, *noloop),
            Op::Key {
                key,
                op: KeyOp::Writer { client },
            } => {
                self.tracking.borrow_mut().set_writer(key.clone(), *client);
                return OpResult::Ok;
            }
            Op::Key {
                key,
                op: KeyOp::Wake,
            } => {
                self.wake_key(key);
                return OpResult::Ok;
            }
            _ => {}
        }
        // A NOLOOP writer mark holds for this op only.
        let writer = self.tracking.borrow_mut().take_writer();
        if let Op::Core(CoreOp::DbSize | CoreOp::Keys { .. }) = &op {
            let r = self.keyspace.borrow_mut().execute(op, now);
            return self.stamp(r);
        }
        if self.keyspace.borrow_mut().over_limit() && !self.make_room(now) && op.needs_memory() {
            return OpResult::Err(OpError::OutOfMemory);
        }
        let deadline = op_deadline(&op);
        let lookup = matches!(
            op,
            Op::Key {
                op: KeyOp::Get | KeyOp::GetDel | KeyOp::GetEx { .. },
                ..
            }
        );
        let watched = self
            .wants_key_events(&op)
            .then(|| (op.clone(), self.before(&op, now)));
        let changes = op.changes();
        let (logged, watched_keys) = if changes != Changes::None {
            if let Some(refused) = self.refuse_write() {
                return OpResult::Err(refused);
            }
            let watched = !self.watches.borrow().is_empty() || self.tracking.borrow().active();
            (
                self.aof.on.get().then(|| super::aof::keys_of(&op)),
                watched.then(|| super::aof::keys_of(&op)),
            )
        } else {
            (None, None)
        };
        let delta = logged.as_ref().and_then(|_| self.delta_base(&op, now));
        // A write to a key someone waits on makes it ready (`core::blocking`).
        let waited = (changes != Changes::None && self.blocking.borrow().any())
            .then(|| super::aof::keys_of(&op));
        // Only a hash or set op can leave a table resizing (see below).
        let collection = matches!(
            op,
            Op::Key {
                op: KeyOp::OnHash(_) | KeyOp::OnSet(_) | KeyOp::OnZset(_),
                ..
            }
        );
        let r = self.keyspace.borrow_mut().execute(op, now);
        let changed = changes.of(&r);
        bump(&self.persist.dirty, changed);
        if let (Some(keys), true) = (watched_keys, changed > 0) {
            if let Some((k, c)) = writer {
                self.tracking.borrow_mut().set_writer(k, c);
            }
            self.touch_changed(keys);
            self.tracking.borrow_mut().take_writer();
        }
        if let (Some(keys), true) = (waited, changed > 0) {
            self.note_ready(keys);
        }
        if let (Some(keys), true) = (logged, changed > 0) {
            match (&keys, delta) {
                (super::aof::LoggedKeys::One(k), Some(op)) if self.log_delta(k, &op, &r) => {}
                _ => self.log_keys(keys),
            }
        }
        self.publish_expired_on_access();
        if let Some((op, mut before)) = watched {
            if let Op::Key {
                key,
                op:
                    KeyOp::OnHash(HashOp::Del(_))
                    | KeyOp::OnSet(SetOp::Rem(_) | SetOp::Pop(_))
                    | KeyOp::OnList(ListOp::Pop { .. } | ListOp::Rem { .. } | ListOp::Trim { .. })
                    | KeyOp::OnZset(ZsetOp::Rem(_) | ZsetOp::Pop { .. } | ZsetOp::RemRange(_)),
            } = &op
            {
                before.gone_after = self.keyspace.borrow().peek(key).1.is_none();
            }
            for (class, name, key) in events::events(&op, &r, before, now) {
                self.notify_keyspace_event(class, name, &key);
            }
        }
        if lookup {
            match r {
                OpResult::Nil => bump(&self.stats.misses, 1),
                _ => bump(&self.stats.hits, 1),
            }
        }
        if let Some(d) = deadline {
            self.deadline_set(d);
        }
        if collection {
            if let Some(at) = self.keyspace.borrow().next_settle() {
                // A table resizing in steps: the expiry task's upkeep finishes it.
                self.deadline_set(at);
            }
        }
        if self.keyspace.borrow_mut().over_limit() {
            self.make_room(now);
        }
        r
    }

    /// Evict toward this core's share of `maxmemory`, a bounded number of keys
    /// here and the rest in the background. False when over the limit with
    /// nothing the policy may evict.
    pub fn make_room(&self, now: u64) -> bool {
        match self.evict_step(now, EVICT_PER_OP) {
            Room::Full => false,
            Room::More => {
                self.evict_wake.notify();
                true
            }
            // Held: the split, merge or migration that holds the space wakes
            // the task when it ends (`memory_changed`).
            Room::Enough | Room::Held => true,
        }
    }

    /// Evict up to `max` keys while over the limit, announcing them; when the
    /// policy finds nothing to evict, give back table space that deletes and
    /// evictions emptied.
    pub fn evict_step(&self, now: u64, max: usize) -> Room {
        let mut keys = Vec::new();
        // Keys a transaction holds stay (Redis evicts only between commands).
        let room = self.sparing_held(|ks, held| ks.evict(now, max, &mut keys, held));
        self.evicted(&keys);
        if room != Room::Full {
            return room;
        }
        let mut ks = self.keyspace.borrow_mut();
        ks.compact();
        if ks.over_limit() {
            Room::Full
        } else {
            Room::Enough
        }
    }

    /// Count, log and announce keys evicted here.
    pub fn evicted(&self, keys: &[Bytes]) {
        bump(&self.stats.evicted, keys.len() as u64);
        self.touch_watched(keys);
        for k in keys {
            self.log_del(k);
        }
        for k in keys {
            self.notify_keyspace_event(notify::EVICTED, "evicted", k);
        }
    }

    /// Apply the memory settings of the configuration in force.
    pub fn apply_memory_config(&self) {
        let mut ks = self.keyspace.borrow_mut();
        configure_memory(&mut ks, &self.config.borrow());
        drop(ks);
        self.memory_changed();
    }

    /// This core's memory or its share of `maxmemory` changed without a write
    /// (a new limit, a split, merge or migration, a new routing table): wake
    /// the eviction task if that left the core over its share, since no write
    /// may come to do it.
    pub fn memory_changed(&self) {
        if self.keyspace.borrow_mut().over_limit() {
            self.evict_wake.notify();
        }
    }

    /// A deadline `d` now exists on this core: wake the expiry task if it planned
    /// to sleep past it.
    pub(super) fn deadline_set(&self, d: u64) {
        if d < self.next_expiry.get() {
            self.next_expiry.set(d);
            self.expiry_wake.notify();
        }
    }

    /// A DBSIZE or KEYS part with the table epoch it was counted under: the
    /// command adds parts only when every core counted under the same epoch.
    pub(super) fn stamp(&self, r: OpResult) -> OpResult {
        OpResult::Counted {
            result: Box::new(r),
            epoch: self.epoch(),
        }
    }

    /// Why a write must be refused now: a log or the last background save
    /// cannot be written (Redis's MISCONF rules).
    fn refuse_write(&self) -> Option<OpError> {
        if let Some(errno) = super::aof::write_error() {
            return Some(OpError::MisconfAof(errno));
        }
        if !self.persist.last_save_ok.get() && !self.config.borrow().save.is_empty() {
            return Some(OpError::MisconfRdb);
        }
        None
    }

    /// Log the states of keys an op changed.
    fn log_keys(&self, keys: super::aof::LoggedKeys) {
        use super::aof::LoggedKeys;
        match keys {
            LoggedKeys::None => {}
            LoggedKeys::One(k) => self.log_key(&k),
            LoggedKeys::Many(ks) => ks.iter().for_each(|k| self.log_key(k)),
            LoggedKeys::Flush => self.log_claim(false),
        }
    }

    /// The pub/sub output limit in force.
    pub fn pubsub_limit(&self) -> OutputLimit {
        let [hard, soft, soft_seconds] = self.config.borrow().pubsub_limit;
        OutputLimit {
            hard,
            soft,
            soft_seconds,
        }
    }

    /// Deliver to this core's subscribers; returns the receiver count.
    pub fn deliver(&self, shard: bool, channel: &Bytes, payload: &Bytes) -> usize {
        let limit = self.pubsub_limit();
        self.pubsub
            .borrow()
            .deliver(shard, channel, payload, &limit)
    }

    /// Give a MONITOR line to every core's monitors (this core's now): per
    /// destination core, lines arrive in the order this core ran commands.
    pub fn feed_monitors(&self, line: Bytes) {
        self.pubsub
            .borrow()
            .feed_monitors(&line, &self.pubsub_limit());
        for peer in 0..self.ncores {
            if peer != self.id {
                self.mesh.post(peer, Msg::Monitor(line.clone()));
            }
        }
    }

    /// Redis's `notifyKeyspaceEvent`: publish `event` about `key` on
    /// `__keyspace@0__:<key>` and/or `__keyevent@0__:<event>`, as the
    /// `notify-keyspace-events` flags select.
    pub fn notify_keyspace_event(&self, class: u32, event: &str, key: &[u8]) {
        let flags = self.config.borrow().notify_keyspace_events;
        if flags & class == 0 {
            return;
        }
        if flags & notify::KEYSPACE != 0 {
            let mut ch = Vec::with_capacity(15 + key.len());
            ch.extend_from_slice(b"__keyspace@0__:");
            ch.extend_from_slice(key);
            self.publish_event(ch.into(), Bytes::copy_from_slice(event.as_bytes()));
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@0__:{event}");
            self.publish_event(ch.into(), Bytes::copy_from_slice(key));
        }
    }

    /// Whether `op` may cause an event that the configured flags publish.
    fn wants_key_events(&self, op: &Op) -> bool {
        let f = self.config.borrow().notify_keyspace_events;
        f & (notify::KEYSPACE | notify::KEYEVENT) != 0
            && f & (notify::GENERIC | notify::STRING | notify::HASH | notify::SET | notify::NEW)
                != 0
            && events::may_notify(op)
    }

    /// What was true of the op's key just before it runs (for `new`, NX/XX
    /// with GET, and PERSIST through GETEX).
    fn before(&self, op: &Op, now: u64) -> Before {
        let Some(key) = events::before_key(op) else {
            return Before::default();
        };
        let probe = Op::Key {
            key: key.clone(),
            op: KeyOp::Pttl,
        };
        match self.keyspace.borrow_mut().execute(probe, now) {
            OpResult::Int(-2) => Before::default(),
            OpResult::Int(-1) => Before {
                existed: true,
                ..Before::default()
            },
            OpResult::Int(_) => Before {
                existed: true,
                had_ttl: true,
                ..Before::default()
            },
            _ => Before::default(),
        }
    }

    /// Keys the active expiry removed: count them and announce them.
    pub fn expired(&self, keys: &[Bytes]) {
        self.count_expired(keys.len() as u64);
        self.touch_watched(keys);
        for k in keys {
            self.notify_keyspace_event(notify::EXPIRED, "expired", k);
        }
    }

    /// Keys an op found past their deadline (and removed) are announced like
    /// the active expiry's, so every expiry is heard of exactly once.
    fn publish_expired_on_access(&self) {
        let mut keys = Vec::new();
        crate::storage::shard::take_expired_on_access(&mut keys);
        if !keys.is_empty() {
            self.expired(&keys);
        }
    }

    /// Publish to every core's subscribers without waiting (keyspace events):
    /// per destination core, events arrive in the order this core sent them.
    pub fn publish_event(&self, channel: Bytes, payload: Bytes) {
        let (channel, payload) = match self.hold_event(channel, payload) {
            Some(unheld) => unheld,
            None => return,
        };
        self.deliver(false, &channel, &payload);
        for peer in 0..self.ncores {
            if peer != self.id {
                self.mesh.post(
                    peer,
                    Msg::Event {
                        shard: false,
                        channel: channel.clone(),
                        payload: payload.clone(),
                    },
                );
            }
        }
    }

    /// Client `id` starts waiting in command `cmd` (a blocking pop, WAIT):
    /// it counts in `blocked_clients`, shows `flags=b` and `cmd` in CLIENT
    /// LIST while it waits, and the slot fills if CLIENT UNBLOCK names it.
    pub fn client_waits(&self, id: u64, cmd: &str) -> Rc<Slot<super::blocked::Unblock>> {
        self.clients.borrow_mut().update(id, |c| {
            c.blocked = true;
            if c.last_cmd != cmd {
                c.last_cmd = cmd.to_string();
            }
        });
        self.blocked.wait(id)
    }

    /// Client `id`'s wait is over, however it ended.
    pub fn client_waited(&self, id: u64) {
        self.clients.borrow_mut().update(id, |c| c.blocked = false);
        self.blocked.done(id);
    }

    pub fn core_stats(&self) -> CoreStats {
        let mut ks = self.keyspace.borrow_mut();
        let rows = ks.stats();
        let s = &self.stats;
        CoreStats {
            core: self.id,
            keys: ks.len() as u64,
            ttl_keys: ks.ttl_keys() as u64,
            bytes: ks.bytes() as u64,
            shards: rows.len() as u64,
            clients: self.clients.borrow().len() as u64,
            error_replies: self.cmdstats.borrow().error_replies,
            blocked: self.blocked.count(),
            blocking_keys: self.blocking.borrow().keys() as u64,
            tracking_clients: self.tracking.borrow().local.len() as u64,
            tracking_keys: self.tracking.borrow().sizes().0 as u64,
            tracking_items: self.tracking.borrow().sizes().1 as u64,
            tracking_prefixes: self.tracking.borrow().sizes().2 as u64,
            connections_received: s.connections_received.get(),
            rejected_connections: s.rejected_connections.get(),
            commands: s.commands.get(),
            hits: s.hits.get(),
            misses: s.misses.get(),
            expired: s.expired.get(),
            evicted: s.evicted.get(),
            used_memory: crate::storage::memory::used() as u64,
            memory_limit: ks.memory_limit() as u64,
            net_input_bytes: s.net_input_bytes.get(),
            net_output_bytes: s.net_output_bytes.get(),
            splits: s.splits.get(),
            merges: s.merges.get(),
            keys_moved: s.keys_moved.get(),
            migrations_in_flight: s.migrations_in_flight.get(),
            migrations_done: s.migrations_done.get(),
            keys_migrated: s.keys_migrated.get(),
            forwarded: s.forwarded.get(),
            pulled: s.pulled.get(),
            rebalance_moves: s.rebalance_moves.get(),
            ops_per_sec: rows.iter().map(|r| r.ops_per_sec).sum(),
            mesh_sent: self.mesh.sent.get(),
            busy_poll_hits: crate::runtime::busy_poll::busy_poll_hits(),
            changes: self.persist.dirty.get(),
            bgsave: u64::from(self.persist.bgsave.get()),
            loaded: self.persist.loaded.get(),
            loaded_expired: self.persist.loaded_expired.get(),
            table_epoch: ks.table().epoch,
            aof_on: u64::from(self.aof.on.get()),
            aof_size: self.aof.size(),
            aof_failing: u64::from(self.aof.failing()),
            aof_syncs: self.aof.syncs.get(),
            aof_rewriting: u64::from(self.persist.rewrite_running.get()),
            aof_rewrite_failed: u64::from(!self.persist.rewrite_ok.get()),
            aof_rewrites: self.persist.rewrites.get(),
            aof_settled: self.persist.aof_settled.get(),
            aof_rewrite_base: self.persist.aof_rewrite_base.get(),
        }
    }

    /// Send this core's routing table to every other core.
    pub fn broadcast_table(&self) {
        let t = self.keyspace.borrow().table().clone();
        for peer in 0..self.ncores {
            if peer != self.id {
                self.mesh.post(peer, Msg::Table(t.clone()));
            }
        }
    }

    /// Run `task` on every core (this one included) and collect the results in core order.
    pub async fn broadcast_task(self: &Rc<Self>, task: CoreTask) -> Vec<TaskResult> {
        self.ask_every_core(|_| task.clone(), async { self.run_task(task.clone()) })
            .await
    }

    /// Run `task` here and send it to every other core now, answers not
    /// awaited: whatever this core sends a core later arrives after it.
    pub fn tell_every_core(self: &Rc<Self>, task: CoreTask) {
        for peer in (0..self.ncores).filter(|&p| p != self.id) {
            drop(self.mesh.request_task(peer, task.clone()));
        }
        self.run_task(task);
    }

    /// The sum of every core's [`TaskResult::Count`] answer to `task`.
    pub async fn count_every_core(self: &Rc<Self>, task: CoreTask) -> u64 {
        self.broadcast_task(task)
            .await
            .iter()
            .map(|r| match r {
                TaskResult::Count(n) => *n as u64,
                _ => 0,
            })
            .sum()
    }

    /// Ask every other core for `task(core)` and collect the answers in core
    /// order, with `here` — this core's share, run once the others' requests
    /// are on their way — in this core's place.
    pub async fn ask_every_core(
        self: &Rc<Self>,
        task: impl Fn(usize) -> CoreTask,
        here: impl Future<Output = TaskResult>,
    ) -> Vec<TaskResult> {
        let slots: Vec<_> = (0..self.ncores)
            .map(|peer| (peer != self.id).then(|| self.mesh.request_task(peer, task(peer))))
            .collect();
        let mut mine = Some(here.await);
        let mut out = Vec::with_capacity(self.ncores);
        for slot in slots {
            out.push(match slot {
                None => mine.take().unwrap_or(TaskResult::Done),
                Some(s) => match s.wait().await {
                    Answer::Task(r) => r,
                    Answer::Ops(..) => TaskResult::Failed("an op answer to a task".into()),
                },
            });
        }
        out
    }

    /// Receive packets from one peer forever.
    pub async fn run_receiver(
        self: Rc<Self>,
        peer: usize,
        rx: glommio::channels::shared_channel::ConnectedReceiver<Packet>,
    ) {
        while let Some(packet) = rx.recv().await {
            for msg in packet {
                self.handle(peer, msg);
            }
            // Waiters on keys the peer's ops wrote are served before anything else runs here.
            self.serve_ready();
            crate::runtime::bell::packet_read();
        }
    }

    pub fn count_command(&self) {
        bump(&self.stats.commands, 1);
    }

    pub fn count_io(&self, input: u64, output: u64) {
        bump(&self.stats.net_input_bytes, input);
        bump(&self.stats.net_output_bytes, output);
    }

    pub fn count_expired(&self, n: u64) {
        bump(&self.stats.expired, n);
    }
}

/// Two parts of one DBSIZE or KEYS.
pub(super) fn add_counts(a: OpResult, b: OpResult) -> OpResult {
    match (a, b) {
        (OpResult::Int(x), OpResult::Int(y)) => OpResult::Int(x + y),
        (OpResult::Keys(mut x), OpResult::Keys(y)) => {
            x.extend(y);
            OpResult::Keys(x)
        }
        (_, b) => b,
    }
}

/// The deadline an op may set, so the expiry task can be woken early for it.
fn op_deadline(op: &Op) -> Option<u64> {
    match op {
        Op::Key { op, .. } => match op {
            KeyOp::Set {
                ttl: SetTtl::At(d), ..
            } => Some(*d),
            KeyOp::GetEx {
                ttl: GetExTtl::At(d),
            } => Some(*d),
            KeyOp::Expire { at_ms, .. } => Some(*at_ms),
            KeyOp::Put { deadline, .. } => *deadline,
            _ => None,
        },
        // A same-core RENAME carries the source's deadline along; the heap of the
        // destination shard gets it, so wake the expiry task to recompute.
        Op::Core(CoreOp::Rename { .. } | CoreOp::Copy { .. }) => Some(0),
        Op::Core(_) => None,
    }
}
