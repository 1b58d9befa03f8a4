//! A core's side of transactions: taking and letting go of intent locks
//! (`core::locks`) on the keys it owns, registering and checking WATCHes
//! (`core::watch`), and marking watches spoiled when keys change. These are
//! `World` methods because they read the core's table and keyspace; the
//! order in which a transaction visits cores is the command layer's
//! (`command::transactions`). It also keeps a transaction's clock (its ops
//! carry the `now` it froze, Redis 7's rule) and its events: those its ops
//! raise on any core go back with their results (`execute_noting`) and the
//! core running it publishes them when it lets go, so nobody hears of a
//! transaction half-done. With the logs on, its ops log their changes as its
//! writes and each core it held logs its end when it lets go (`Hold`'s
//! `log_end`), so recovery keeps it whole or not at all (`persist::log`).
//! It never decides what a command does.

use super::aof::LoggedKeys;
use super::locks::{Grant, KeyPlace};
use super::mesh::{Answer, CoreTask, HeldEvent, Msg, OpEvents, TaskResult};
use super::watch::MovedWatch;
use super::world::World;
use crate::runtime::notify::Slot;
use crate::storage::now_ms;
use crate::storage::ops::{CoreOp, Op};
use crate::storage::staircase::ShardId;
use bytes::Bytes;
use std::rc::Rc;

/// A transaction's clock: its frozen `now`, or this core's clock outside one (0).
pub fn clock(now: u64) -> u64 {
    if now != 0 {
        now
    } else {
        now_ms()
    }
}

/// Would `op` wait, given whether a key of it would (`key`) and whether an op
/// over the whole keyspace would (`whole`)? Matched here rather than through
/// `aof::keys_of`, which clones the keys: this runs for every op while a
/// transaction holds anything on the core.
fn op_waits(op: &Op, key: impl Fn(&[u8]) -> bool, whole: impl Fn() -> bool) -> bool {
    match op {
        Op::Key { key: k, .. } => key(k),
        Op::Core(CoreOp::MSetNx { pairs }) => pairs.iter().any(|(k, _)| key(k)),
        Op::Core(CoreOp::Rename { src, dst, .. } | CoreOp::Copy { src, dst, .. }) => {
            key(src) || key(dst)
        }
        Op::Core(CoreOp::Publish { .. } | CoreOp::ShardStats) => false,
        Op::Core(_) => whole(),
    }
}

impl World {
    /// Run `op` (the `i`-th of its list) for transaction `tx` (0: none) at
    /// `now`. A transaction's events (keyspace events, PUBLISH deliveries)
    /// are not published but noted in `events`: they travel back with the
    /// op's result to the core running the transaction, which publishes them
    /// all in the order its commands ran once it lets go (`Hold`'s drop), so
    /// subscribers hear them after the step, in order, as Redis's do, and
    /// never of a transaction half-done.
    pub fn execute_noting(
        &self,
        op: Op,
        now: u64,
        tx: u64,
        i: usize,
        events: &mut OpEvents,
    ) -> crate::storage::ops::OpResult {
        if tx == 0 {
            return self.execute(op, now);
        }
        self.held_events.borrow_mut().capturing = true;
        self.aof.tx.set(tx);
        let r = self.execute(op, now);
        self.aof.tx.set(0);
        let mut h = self.held_events.borrow_mut();
        h.capturing = false;
        events.extend(h.captured.drain(..).map(|e| (i as u32, e)));
        r
    }

    /// A keyspace event about to be published: kept for the running
    /// transaction's op (None), or handed back to publish now.
    pub(super) fn hold_event(&self, channel: Bytes, payload: Bytes) -> Option<(Bytes, Bytes)> {
        let mut h = self.held_events.borrow_mut();
        if !h.capturing {
            return Some((channel, payload));
        }
        h.captured.push(HeldEvent::Keyspace(channel, payload));
        None
    }

    /// A PUBLISH run for a transaction: kept (answering how many it will
    /// reach), or None to deliver now.
    pub(super) fn hold_publish(
        &self,
        shard: bool,
        channel: &Bytes,
        payload: &Bytes,
    ) -> Option<usize> {
        let mut h = self.held_events.borrow_mut();
        if !h.capturing {
            return None;
        }
        h.captured.push(HeldEvent::Message {
            core: self.id,
            shard,
            channel: channel.clone(),
            payload: payload.clone(),
        });
        Some(self.pubsub.borrow().receivers(shard, channel))
    }

    /// Keep events of transaction `tx` (run here), after those kept before.
    pub fn keep_tx_events(&self, tx: u64, events: impl IntoIterator<Item = HeldEvent>) {
        let mut events = events.into_iter().peekable();
        if events.peek().is_none() {
            return;
        }
        let live = {
            let mut h = self.held_events.borrow_mut();
            let live = h.live.contains(&tx);
            h.by_tx.entry(tx).or_default().extend(events);
            live
        };
        // Its hold is gone already (a batch outlived it: the client went
        // away mid-EXEC): publish now rather than keep them for nobody.
        if !live {
            self.publish_tx_events(tx);
        }
    }

    /// Publish what transaction `tx` (run here) raised, in order: keyspace
    /// events to every core from here, PUBLISH deliveries to the core whose
    /// subscribers they were counted for (each peer's channel is FIFO, so a
    /// subscriber anywhere hears them in this order).
    fn publish_tx_events(&self, tx: u64) {
        let Some(events) = self.held_events.borrow_mut().by_tx.remove(&tx) else {
            return;
        };
        for e in events {
            match e {
                HeldEvent::Keyspace(channel, payload) => self.publish_event(channel, payload),
                HeldEvent::Message {
                    core,
                    shard,
                    channel,
                    payload,
                } => {
                    if core == self.id {
                        self.deliver(shard, &channel, &payload);
                    } else {
                        let event = Msg::Event {
                            shard,
                            channel,
                            payload,
                        };
                        self.mesh.post(core, event);
                    }
                }
            }
        }
    }

    /// A transaction id unique across cores and never 0 (0 is "no transaction").
    pub fn new_tx(&self) -> u64 {
        let seq = self.next_tx.get() + 1;
        self.next_tx.set(seq);
        (seq << 8) | (self.id as u64 + 1)
    }

    /// Where `key` stands for a lock under this core's table.
    pub fn lock_place(&self, key: &[u8]) -> KeyPlace {
        let ks = self.keyspace.borrow();
        let id = ks.table().shard_of(crate::storage::hash::key_hash(key));
        if ks.table().owner(id) == self.id {
            KeyPlace::Here(id)
        } else {
            KeyPlace::Elsewhere
        }
    }

    /// Take `keys` (or, with `whole`, everything) here for `tx`, waiting
    /// behind earlier holders. Answers the grant and, when it is granted and
    /// `watch` names a client, whether that client's watch here is spoiled.
    pub async fn lock(&self, tx: u64, keys: Vec<Bytes>, whole: bool, watch: u64) -> (Grant, bool) {
        let grant = self.request_lock(tx, keys, whole).wait().await;
        self.granted(grant, watch)
    }

    /// Ask for a lock (see [`Self::lock`]); the slot is filled already when
    /// nothing stood in the way.
    pub(super) fn request_lock(&self, tx: u64, keys: Vec<Bytes>, whole: bool) -> Rc<Slot<Grant>> {
        let place = |k: &[u8]| self.lock_place(k);
        self.locks.borrow_mut().request(tx, keys, whole, &place)
    }

    /// A lock's answer: the grant, and whether `watch`'s watch here is spoiled.
    pub(super) fn granted(&self, grant: Grant, watch: u64) -> (Grant, bool) {
        let spoiled = grant == Grant::Granted && watch != 0 && self.watch_spoiled(watch);
        (grant, spoiled)
    }

    /// Let go of what `tx` holds or waits for here; forget `watch`'s keys
    /// (unless 0). With `parts`, first log the transaction's end here, one
    /// of `parts` (see `persist::log`, "A transaction's records"): before
    /// anyone else can take its keys.
    pub fn unlock(&self, tx: u64, watch: u64, parts: u16) {
        self.log_tx_end(tx, parts);
        let place = |k: &[u8]| self.lock_place(k);
        self.locks.borrow_mut().release(tx, &place);
        self.locks_released.notify();
        // Keys the transaction made ready were held until now.
        if self.blocking.borrow().has_ready() {
            self.blocking_wake.notify();
        }
        if watch != 0 {
            self.watches.borrow_mut().forget(watch);
        }
    }

    /// Transaction `tx` runs a script past `busy-reply-threshold`: whoever
    /// waits here for what it holds is answered `-BUSY`.
    pub fn mark_busy(&self, tx: u64) {
        let place = |k: &[u8]| self.lock_place(k);
        self.locks.borrow_mut().mark_busy(tx, &place);
    }

    /// [`Self::mark_busy`] on every core (only those where `tx` holds keys act).
    pub fn mark_busy_everywhere(&self, tx: u64) {
        self.busy_txs.borrow_mut().insert(tx);
        for core in 0..self.ncores {
            if core == self.id {
                self.mark_busy(tx);
            } else {
                self.mesh.post(core, Msg::Busy { tx });
            }
        }
    }

    /// [`Self::unlock`] on `core`, this one or another (a message nobody waits for).
    pub fn unlock_on(&self, core: usize, tx: u64, watch: u64, parts: u16) {
        if core == self.id {
            self.unlock(tx, watch, parts);
        } else {
            self.mesh.post(core, Msg::Unlock { tx, watch, parts });
        }
    }

    /// Client `id` watches `keys` here.
    pub fn watch_keys(&self, id: u64, keys: Vec<Bytes>) {
        let now = now_ms();
        let ks = self.keyspace.borrow();
        let mut w = self.watches.borrow_mut();
        for key in keys {
            let (shard, entry) = ks.peek(&key);
            let owned = ks.table().owner(shard) == self.id;
            let expired = entry.is_some_and(|e| e.is_expired(now));
            w.watch(id, key, expired, owned);
        }
    }

    /// Is client `id`'s watch here spoiled?
    pub fn watch_spoiled(&self, id: u64) -> bool {
        let now = now_ms();
        let ks = self.keyspace.borrow();
        let expired = |k: &[u8]| ks.peek(k).1.is_some_and(|e| e.is_expired(now));
        self.watches.borrow().spoiled(id, expired)
    }

    /// Keys changed here: their watchers' EXEC fails.
    pub(super) fn touch_watched<'a>(&self, keys: impl IntoIterator<Item = &'a Bytes> + Clone) {
        self.tracked_changed(keys.clone());
        let mut w = self.watches.borrow_mut();
        if w.is_empty() {
            return;
        }
        for k in keys {
            w.touch(k);
        }
    }

    /// The keys an op changed (as the log names them).
    pub(super) fn touch_changed(&self, keys: LoggedKeys) {
        match keys {
            LoggedKeys::None => {}
            LoggedKeys::One(k) => self.touch_watched([&k]),
            LoggedKeys::Many(ks) => self.touch_watched(&ks),
            LoggedKeys::Flush => {
                self.watches.borrow_mut().touch_all();
                self.tracked_flushed();
            }
        }
    }

    /// Take `keys` (or everything) on `core` for `tx`: this core's table
    /// directly, another's by message.
    pub async fn lock_on(
        &self,
        core: usize,
        tx: u64,
        keys: Vec<Bytes>,
        whole: bool,
        watch: u64,
    ) -> (Grant, bool) {
        if core == self.id {
            return self.lock(tx, keys, whole, watch).await;
        }
        let task = CoreTask::Lock {
            tx,
            keys,
            whole,
            watch,
        };
        match self.mesh.request_task(core, task).wait().await {
            Answer::Task(TaskResult::Locked { grant, spoiled }) => (grant, spoiled),
            _ => (Grant::Cancelled, false),
        }
    }

    /// Hold `keys` (or, with `whole`, every core whole) for a new
    /// transaction: the cores that own them, one at a time in ascending core
    /// order, each granting all of its keys at once (see `core::locks` for why
    /// this cannot deadlock). A core that no longer owns a key answers
    /// "moved": everything is let go and asked for again by the newer table.
    /// With `watches` (a client and its watched keys, among `keys`, each with
    /// the core it was registered on), also says whether any of them was
    /// spoiled, asking each key's core now (a watch follows its key when the
    /// key's shard moves) and the core it was registered on.
    /// [`BusyScript`] when a key is held by a script busy past
    /// `busy-reply-threshold` (nothing is held then).
    pub async fn hold_keys(
        self: &Rc<Self>,
        mut keys: Vec<Bytes>,
        whole: bool,
        watches: Option<(u64, &[(Bytes, usize)])>,
    ) -> Result<(Hold, bool), BusyScript> {
        keys.sort();
        keys.dedup();
        let hold = Hold::new(self.clone(), self.new_tx());
        'attempt: loop {
            // A watch lives with its key, on the core that owns it now; but
            // one that reached its core just after the key left is spoiled
            // there, not sent on: ask where it was registered too.
            let watch_cores: Vec<usize> = watches
                .map(|(_, w)| {
                    w.iter()
                        .flat_map(|(k, registered)| [self.core_of(k), *registered])
                        .collect()
                })
                .unwrap_or_default();
            let mut by_core: std::collections::BTreeMap<usize, Vec<Bytes>> = Default::default();
            if whole {
                for core in 0..self.ncores {
                    by_core.insert(core, Vec::new());
                }
            }
            for &core in &watch_cores {
                by_core.entry(core).or_default();
            }
            for k in &keys {
                by_core.entry(self.core_of(k)).or_default().push(k.clone());
            }
            let mut spoiled = false;
            for (core, keys) in by_core {
                hold.cores.borrow_mut().push(core);
                let watch = match watches {
                    Some((id, _)) if watch_cores.contains(&core) => id,
                    _ => 0,
                };
                let (grant, s) = self.lock_on(core, hold.tx, keys, whole, watch).await;
                match grant {
                    Grant::Granted => spoiled |= s,
                    Grant::Busy => {
                        hold.release();
                        return Err(BusyScript);
                    }
                    Grant::Moved | Grant::Cancelled => {
                        hold.release();
                        // Wait for the table that moved the key to reach this core.
                        crate::runtime::timer::sleep(std::time::Duration::from_millis(1)).await;
                        continue 'attempt;
                    }
                }
            }
            return Ok((hold, spoiled));
        }
    }

    /// Give `tx` these keys of this core at once: the caller knows nobody
    /// holds them (a script that started without locks and has not let
    /// another task run since; see `command::scripting`). Should one be held
    /// after all, it waits as any request does, rather than share it.
    pub async fn hold_free_keys(&self, tx: u64, keys: Vec<Bytes>) {
        if self.locks.borrow_mut().force(tx, &keys) {
            return;
        }
        tracing::error!("a script's free keys were held; it waits for them");
        self.lock(tx, keys, false, 0).await;
    }

    /// Hold every core's whole keyspace, in core order (FLUSHALL, and what a
    /// transaction does over all keys): no transaction is half-done meanwhile.
    pub async fn hold_everything(self: &Rc<Self>) -> Result<Hold, BusyScript> {
        let hold = Hold::new(self.clone(), self.new_tx());
        for core in 0..self.ncores {
            hold.cores.borrow_mut().push(core);
            if self.lock_on(core, hold.tx, Vec::new(), true, 0).await.0 == Grant::Busy {
                return Err(BusyScript);
            }
        }
        Ok(hold)
    }

    /// [`Self::hold_everything`] for the server's own work (a rewrite's or a
    /// snapshot's start): past a busy script by waiting for it to end.
    pub async fn hold_everything_patiently(self: &Rc<Self>) -> Hold {
        loop {
            match self.hold_everything().await {
                Ok(hold) => return hold,
                Err(BusyScript) => {
                    crate::runtime::timer::sleep(std::time::Duration::from_millis(10)).await
                }
            }
        }
    }

    /// Can ops on `keys`, run for `tx` (0: none), run here at once, as they
    /// are routed? Every key is this core's, no shard is moving here (none
    /// needs a pull) and no other transaction holds one of them. What lets a
    /// transaction or a script on one core run in one step without locks.
    pub fn keys_free_here(&self, keys: &[Bytes], tx: u64) -> bool {
        let locks = self.locks.borrow();
        keys.iter().all(|k| self.core_of(k) == self.id)
            && self.keyspace.borrow().table().moving.is_empty()
            && (locks.is_idle() || !keys.iter().any(|k| locks.blocks(k, tx)))
    }

    /// Would any of `ops`, run for `tx` (0: none), wait for a lock here?
    pub fn ops_blocked(&self, ops: &[Op], tx: u64) -> bool {
        let locks = self.locks.borrow();
        if locks.is_idle() {
            return false;
        }
        ops.iter()
            .any(|op| op_waits(op, |k| locks.blocks(k, tx), || locks.blocks_core(tx)))
    }

    /// Hold every key `ops` touch here (but those `tx` holds itself) for a
    /// fresh id, once what holds them has let go: ops on keys a transaction
    /// holds wait in the same queue as transactions (FIFO). Dropping the
    /// [`Hold`] lets go. [`BusyScript`] when a holder is a busy script.
    pub async fn hold_for_ops(self: &Rc<Self>, ops: &[Op], tx: u64) -> Result<Hold, BusyScript> {
        let mut keys: Vec<Bytes> = Vec::new();
        for op in ops {
            match super::aof::keys_of(op) {
                LoggedKeys::One(k) => keys.push(k),
                LoggedKeys::Many(ks) => keys.extend(ks),
                LoggedKeys::None | LoggedKeys::Flush => {}
            }
        }
        // Keys owned elsewhere are forwarded by `serve`, not held here.
        keys.retain(|k| {
            self.lock_place(k) != KeyPlace::Elsewhere
                && (tx == 0 || !self.locks.borrow().held_by(k, tx))
        });
        keys.sort();
        keys.dedup();
        let hold = Hold::new(self.clone(), self.new_tx());
        hold.cores.borrow_mut().push(self.id);
        match self.lock(hold.tx, keys, false, 0).await.0 {
            Grant::Busy => Err(BusyScript),
            _ => Ok(hold),
        }
    }

    /// Run `f` on the keyspace with the test for keys a transaction holds
    /// here, which expiry and eviction leave (time stands still for it).
    pub fn sparing_held<R>(
        &self,
        f: impl FnOnce(&mut crate::storage::keyspace::Keyspace, &dyn Fn(&[u8]) -> bool) -> R,
    ) -> R {
        let locks = self.locks.borrow();
        let idle = locks.is_idle();
        let held = |k: &[u8]| !idle && locks.blocks(k, 0);
        f(&mut self.keyspace.borrow_mut(), &held)
    }

    /// Would `op`, run for `tx`, wait for a script busy past the threshold?
    pub fn busy_blocks(&self, op: &Op, tx: u64) -> bool {
        let locks = self.locks.borrow();
        op_waits(op, |k| locks.busy_blocks(k, tx), || locks.busy_whole(tx))
    }

    /// A migration of `shard` is about to begin here: hold back new grants of
    /// its keys and wait until none is held, then take out its keys' watches to
    /// send after it. The caller must give the shard away before it awaits
    /// anything: from here no write to those keys may run on this core.
    pub async fn quiesce_shard(self: &Rc<Self>, shard: ShardId) -> Vec<MovedWatch> {
        self.locks.borrow_mut().freeze(shard);
        loop {
            let held = {
                let place = |k: &[u8]| self.lock_place(k);
                self.locks.borrow().holds_shard(shard, &place)
            };
            if !held {
                break;
            }
            self.locks_released.wait().await;
        }
        let ks = self.keyspace.borrow();
        let table = ks.table();
        let moving = |k: &[u8]| table.shard_of(crate::storage::hash::key_hash(k)) == shard;
        // Its keys' readers cache no more: they read again where it goes.
        let told = self.tracking.borrow_mut().take_where(moving);
        self.tell(told);
        self.watches.borrow_mut().take_where(moving)
    }

    /// The migration of `shard` began (or failed to): waiters for its keys go on.
    pub fn thaw_shard(&self, shard: ShardId) {
        let place = |k: &[u8]| self.lock_place(k);
        self.locks.borrow_mut().thaw(shard, &place);
    }

    /// The transaction of `hold` ended: let go. One that was marked busy
    /// waits until every core let go, so no request its client sends next
    /// meets the old lock and hears `-BUSY` from a script that ended. One
    /// that wrote under `appendfsync always` logs here that all of it is
    /// durable (every core synced its part before answering its ops): synced
    /// with this core's own part before the reply, it stands for every
    /// core's end (`persist::log`, "A transaction's records").
    pub async fn finish_hold(&self, hold: Hold) {
        if hold.parts() > 0 && hold.wrote.get() && self.aof.syncs_each_write() {
            self.log_tx_commit(hold.tx);
            // No core needs to log its end now.
            hold.committed.set(true);
        }
        if !self.busy_txs.borrow_mut().remove(&hold.tx) {
            return;
        }
        let parts = hold.parts();
        self.publish_tx_events(hold.tx);
        let cores = std::mem::take(&mut *hold.cores.borrow_mut());
        let mut waits = Vec::new();
        for core in cores {
            if core == self.id {
                self.unlock(hold.tx, 0, parts);
            } else {
                let task = CoreTask::Unlock { tx: hold.tx, parts };
                waits.push(self.mesh.request_task(core, task));
            }
        }
        for w in waits {
            w.wait().await;
        }
    }
}

/// A lock request met a script busy past `busy-reply-threshold`: the
/// requester answers `-BUSY` instead of waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyScript;

/// What a transaction holds, let go of (on every core it asked) when dropped —
/// also when the task holding it is dropped mid-way, so a client that vanishes
/// never leaves keys locked.
pub struct Hold {
    world: Rc<World>,
    pub tx: u64,
    /// Cores asked for locks (or holding watches) so far.
    pub cores: std::cell::RefCell<Vec<usize>>,
    /// A transaction's (EXEC's, a script's) hold: each core it held logs its
    /// end when it lets go ([`Hold::log_end`]).
    log_end: std::cell::Cell<bool>,
    /// It may have written: under `always` it logs its commit at its end.
    pub wrote: std::cell::Cell<bool>,
    /// Its commit is logged: the cores it held log no end.
    committed: std::cell::Cell<bool>,
}

impl Hold {
    pub fn new(world: Rc<World>, tx: u64) -> Hold {
        world.held_events.borrow_mut().live.insert(tx);
        Hold {
            world,
            tx,
            cores: Default::default(),
            log_end: Default::default(),
            wrote: Default::default(),
            committed: Default::default(),
        }
    }

    /// This hold is a transaction's (which `wrote`, or may have): every
    /// core it holds logs its end when it lets go, so recovery can tell a
    /// whole transaction from one a crash cut short.
    pub fn log_end(&self, wrote: bool) {
        self.log_end.set(true);
        self.wrote.set(self.wrote.get() || wrote);
    }

    /// How many cores log its end (0: none do).
    fn parts(&self) -> u16 {
        if !self.log_end.get() || self.committed.get() || !self.world.aof.on.get() {
            return 0;
        }
        let mut cores = self.cores.borrow().clone();
        cores.sort_unstable();
        cores.dedup();
        cores.len() as u16
    }

    /// Let go everywhere now (nothing ran) and start over with nothing held.
    pub fn release(&self) {
        for core in self.cores.borrow_mut().drain(..) {
            self.world.unlock_on(core, self.tx, 0, 0);
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // Its events first: heard after the step, yet before anyone can
        // act on the keys it lets go of.
        self.world.held_events.borrow_mut().live.remove(&self.tx);
        self.world.publish_tx_events(self.tx);
        let parts = self.parts();
        for &core in self.cores.borrow().iter() {
            self.world.unlock_on(core, self.tx, 0, parts);
        }
    }
}
