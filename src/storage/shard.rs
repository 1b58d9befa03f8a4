//! A shard: one small hashbrown table of entries plus its own expiry heap and
//! byte count. Shards are kept small (the staircase splits them) so that no
//! table resize is a visible pause. A shard never decides routing; lookups are
//! by the *table hash* ([`super::hash::table_hash`]) of the full key.
//!
//! Expiry: a min-heap of `(deadline, table_hash)` per shard. Heap entries are
//! never removed eagerly when a TTL changes; an entry is acted on only when the
//! live entry with that hash still has exactly that deadline. The heap is rebuilt
//! from the table when stale items exceed live TTL keys (plus slack), so its size
//! stays proportional to the shard — which the staircase keeps small.
//!
//! Eviction: a shard records each access for the policy in force through
//! [`super::policy`] and offers its victims (its S3-FIFO queues, a random or
//! sampled entry); which shard to evict from is decided above the keyspace,
//! in [`super::evict`], which a shard never imports.

use super::entry::{chunk_size, Entry};
use super::hash::hashes;
use super::memory;
use super::policy::{self, Access};
use super::prefetch;
use super::s3fifo::Fifo;
use bytes::Bytes;
use hashbrown::HashTable;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Stale heap items tolerated beyond twice the live TTL keys before a rebuild.
const HEAP_SLACK: usize = 64;
/// Heap items [`Shard::expire_due`] may pop per key it may remove.
const STALE_POPS: usize = 4;
/// How far ahead of a walk by bucket [`load_ahead`] starts entries loading.
const WALK_AHEAD: usize = 24;

thread_local! {
    /// Keys removed on access because their deadline had passed, waiting for
    /// their core to count them and publish their `expired` events. Thread-local
    /// is core-local here: every core is one thread, and ops on a core run one
    /// at a time.
    static EXPIRED_ON_ACCESS: std::cell::RefCell<Vec<Bytes>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The next layout number of a table on this core. Numbers are never
    /// reused on a core, and each core starts at a different point, so a SCAN
    /// cursor's layout tag ([`super::cursor`]) names one table's one layout.
    static LAYOUTS: Cell<u64> = Cell::new(layout_seed());
}

/// Where a core's layout numbers start: the clock and the thread's own
/// address, so cores (and runs) count from different points.
fn layout_seed() -> u64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let here = &clock as *const u64 as u64;
    (clock ^ here.rotate_left(32)).wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn next_layout() -> u64 {
    LAYOUTS.with(|n| {
        let v = n.get();
        n.set(v.wrapping_add(1));
        v
    })
}

fn note_expired_on_access(key: &[u8]) {
    EXPIRED_ON_ACCESS.with(|v| v.borrow_mut().push(Bytes::copy_from_slice(key)));
}

/// Move the keys expired on access since the last call into `out`.
pub fn take_expired_on_access(out: &mut Vec<Bytes>) {
    EXPIRED_ON_ACCESS.with(|v| {
        let mut v = v.borrow_mut();
        if !v.is_empty() {
            out.append(&mut v);
        }
    });
}

/// A walk over a shard's buckets by index, taking entries out as it goes (a
/// split, merge or migration moving them elsewhere). Bucket indexes stay valid
/// only while the table keeps its bucket count and layout: when either changed,
/// entries may have moved into buckets already walked, so the walk starts over
/// (entries already taken are gone, so a second walk only finds what is left).
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    next: usize,
    buckets: usize,
    layout: u64,
}

impl Walk {
    pub fn new(shard: &Shard) -> Walk {
        Walk {
            next: 0,
            buckets: shard.num_buckets(),
            layout: shard.layout_epoch(),
        }
    }
    fn resync(&mut self, shard: &Shard) {
        if shard.num_buckets() != self.buckets || shard.layout_epoch() != self.layout {
            *self = Walk::new(shard);
        }
    }
    /// Walk the shard again from its first bucket.
    pub fn restart(&mut self) {
        self.next = 0;
    }
}

pub struct Shard {
    table: HashTable<Entry>,
    /// Min-heap of `(deadline, table hash)`; may hold stale items (see the module doc).
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    bytes: usize,
    ttl_keys: usize,
    /// Bumped whenever entries may have moved between buckets (a resize or an
    /// in-place rehash, both only on insert, and `clear`), so a walk by bucket
    /// index knows to start over.
    layout: u64,
    /// Key ops run on this shard (the controller's load signal).
    pub ops: u64,
    /// `ops` at the last sample, and the rate measured then (ops/s).
    pub sampled_ops: u64,
    pub rate: f64,
    /// S3-FIFO's queues, while that policy runs with a limit (see [`super::s3fifo`]).
    fifo: Option<Box<Fifo>>,
    /// The footprint last added to this core's figure ([`super::memory`]).
    accounted: usize,
    /// `(layout, address)` of the table's control bytes, for [`Shard::prefetch_slots`].
    ctrl_hint: Cell<(u64, usize)>,
}

impl Drop for Shard {
    fn drop(&mut self) {
        memory::changed(self.accounted, 0);
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::new()
    }
}

/// What leaves a shard's counts with entry `e`: its bytes, its TTL, and its
/// place in S3-FIFO's counts when `fifo` is given. A free function because
/// `Shard::get` must do it while it holds a borrow of the table.
#[inline]
fn forget_in(bytes: &mut usize, ttl_keys: &mut usize, fifo: Option<&mut Fifo>, e: &Entry) {
    *bytes -= e.mem_size();
    if e.deadline().is_some() {
        *ttl_keys -= 1;
    }
    if let Some(f) = fifo {
        f.uncount(e.in_main());
    }
}

/// For a walk over `table` by bucket that is at `index`: start the entry
/// [`WALK_AHEAD`] buckets on loading, so that reading each entry's key is not
/// one cache miss after another.
#[inline]
fn load_ahead(table: &HashTable<Entry>, index: usize) {
    if let Some(e) = table.get_bucket(index + WALK_AHEAD) {
        e.prefetch();
    }
}

/// The table hash of an entry, recomputed from its key (tables do not store hashes).
#[inline]
fn thash_of(e: &Entry) -> u64 {
    hashes(e.key()).1
}

/// A table of `buckets` buckets as a malloc chunk: an 8-byte pointer and a
/// control byte each, plus hashbrown's group padding.
fn table_bytes(buckets: usize) -> usize {
    match buckets {
        0 => 0,
        n => chunk_size(n * (std::mem::size_of::<Entry>() + 1) + 16),
    }
}

/// The buckets hashbrown gives a table sized for `len` entries (its load
/// factor is 7/8 from 8 buckets up).
fn buckets_for(len: usize) -> usize {
    match len {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        n => (n * 8).div_ceil(7).next_power_of_two(),
    }
}

impl Shard {
    /// Shrink the table and the deadline heap when they are at most a quarter
    /// full, so memory freed by deletes and expiry is not kept as empty buckets.
    pub fn compact(&mut self) {
        if self.table.capacity() > 64 && self.table.len() <= self.table.capacity() / 4 {
            self.rebuild(self.table.len());
        }
        if self.heap.len() > 2 * self.ttl_keys + HEAP_SLACK {
            // Mostly stale items of deleted keys: keep only the live deadlines.
            self.rebuild_heap();
        }
        if self.heap.capacity() > 64 && self.heap.len() <= self.heap.capacity() / 4 {
            self.heap.shrink_to_fit();
        }
        if let Some(f) = self.fifo.as_mut() {
            // Room left by a queue that was longer (all of a shard starts in
            // the small one) counts against the limit: give it back, keeping
            // a quarter for growth.
            for q in [&mut f.small, &mut f.main] {
                if q.capacity() > 2 * q.len() + 64 {
                    q.shrink_to(q.len() + q.len() / 4 + 16);
                }
            }
        }
        self.sync();
    }

    /// Move every entry into a new table with room for `capacity` entries.
    /// hashbrown's own resize hashes each entry's key in bucket order, a cache
    /// miss per entry one after the other (a 31,000-key shard took 6 ms, and
    /// every request on the core waited); this walk starts the entries a few
    /// buckets ahead loading meanwhile, as [`Shard::take_walking`] does.
    /// Entries change buckets: a walk by bucket index starts over.
    fn rebuild(&mut self, capacity: usize) {
        let mut old = std::mem::replace(&mut self.table, HashTable::with_capacity(capacity));
        for index in 0..old.num_buckets() {
            load_ahead(&old, index);
            if let Ok(slot) = old.get_bucket_entry(index) {
                let (e, _) = slot.remove();
                self.table.insert_unique(thash_of(&e), e, thash_of);
            }
        }
        self.layout = next_layout();
    }

    /// Grow the table by hand ([`Shard::rebuild`]) where inserting one more
    /// entry would make hashbrown resize or rehash it in place: to the same
    /// bucket count when at most half the room is used by live entries (the
    /// rest are tombstones), else to twice as many buckets.
    fn make_room_for_one(&mut self) {
        let (len, buckets) = (self.table.len(), self.table.num_buckets());
        if buckets == 0 || !self.is_full() {
            return;
        }
        let full = if buckets < 8 {
            buckets - 1
        } else {
            buckets / 8 * 7
        };
        let capacity = if len < full / 2 { full } else { full + 1 };
        self.rebuild(capacity);
    }

    /// Make room for `additional` more entries in one step (a migration's
    /// target, so that filling it never resizes the table while it serves).
    pub fn reserve(&mut self, additional: usize) {
        if self.table.capacity() - self.table.len() < additional {
            self.rebuild(self.table.len() + additional);
            self.sync();
        }
    }

    pub fn new() -> Shard {
        Shard {
            table: HashTable::new(),
            heap: BinaryHeap::new(),
            bytes: 0,
            ttl_keys: 0,
            layout: next_layout(),
            ctrl_hint: Cell::new((u64::MAX, 0)),
            ops: 0,
            sampled_ops: 0,
            rate: 0.0,
            fifo: None,
            accounted: 0,
        }
    }

    /// Bytes this shard takes: its entries as malloc chunks, its table's buckets
    /// (an 8-byte pointer and a control byte each), its deadline heap and its
    /// eviction queues.
    pub fn footprint(&self) -> usize {
        let table = table_bytes(self.allocated_buckets());
        let heap = match self.heap.capacity() {
            0 => 0,
            n => chunk_size(n * 16),
        };
        self.bytes + table + heap + self.fifo.as_ref().map_or(0, |f| f.footprint())
    }

    /// Table bytes a shrink to the live entries would give back: what a split,
    /// merge or migration in progress holds of it comes back when that ends.
    pub fn table_slack(&self) -> usize {
        table_bytes(self.allocated_buckets()).saturating_sub(table_bytes(buckets_for(self.len())))
    }

    /// The table's buckets, 0 for a table never allocated (hashbrown reports
    /// one bucket for its shared empty singleton).
    fn allocated_buckets(&self) -> usize {
        if self.table.capacity() == 0 {
            0
        } else {
            self.table.num_buckets()
        }
    }

    /// Bring this core's memory figure up to date with this shard.
    #[inline]
    fn sync(&mut self) {
        let now = self.footprint();
        memory::changed(self.accounted, now);
        self.accounted = now;
    }
    /// Live and not-yet-purged entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sum of `Entry::mem_size` over entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Entries that carry a deadline.
    pub fn ttl_keys(&self) -> usize {
        self.ttl_keys
    }
    /// Items on the expiry heap, stale ones included (for tests and stats).
    pub fn heap_len(&self) -> usize {
        self.heap.len()
    }
    /// Changes whenever bucket indexes may have been invalidated (see [`Shard::entry_at`]).
    pub fn layout_epoch(&self) -> u64 {
        self.layout
    }

    /// Account for an entry leaving the table.
    #[inline]
    fn forget(&mut self, e: &Entry) {
        forget_in(
            &mut self.bytes,
            &mut self.ttl_keys,
            self.fifo.as_deref_mut(),
            e,
        );
    }

    /// Queue a deadline, rebuilding the heap when stale items dominate it.
    #[inline]
    fn push_deadline(&mut self, deadline: u64, thash: u64) {
        self.heap.push(Reverse((deadline, thash)));
        if self.heap.len() > 2 * self.ttl_keys + HEAP_SLACK {
            self.rebuild_heap();
        }
    }

    /// Before sampling the heap: rebuild it when most of its items are stale, so
    /// samples find live deadlines (O(shard) at most once per as many stale items).
    fn drop_stale_deadlines(&mut self) {
        if self.heap.len() > 2 * self.ttl_keys + 8 {
            self.rebuild_heap();
        }
    }

    /// Rebuild the heap from the table's TTL entries, reusing its allocation.
    fn rebuild_heap(&mut self) {
        let mut items = std::mem::take(&mut self.heap).into_vec();
        items.clear();
        for e in self.iter() {
            if let Some(d) = e.deadline() {
                items.push(Reverse((d, thash_of(e))));
            }
        }
        self.heap = BinaryHeap::from(items);
    }

    /// The entry for `key` whatever its expiry state, without purging it.
    #[inline]
    pub fn peek(&self, thash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.find(thash, |e| e.key() == key)
    }

    /// First stage of a prefetch (see `Keyspace::prefetch_keys`): start loading
    /// the control bytes and the first slots of the group a lookup of `thash`
    /// probes first, without reading them ([`prefetch::prefetch_group`]; the
    /// control bytes' address is learnt once per table layout).
    #[inline]
    pub fn prefetch_slots(&self, thash: u64) {
        if let Some(ctrl) = self.ctrl_addr() {
            prefetch::prefetch_group(&self.table, ctrl, thash);
        }
    }

    /// Second stage: probe the table with a test that only prefetches each
    /// candidate entry and fails, so the entry `thash` names starts loading
    /// while no entry is read.
    #[inline]
    pub fn prefetch_entry(&self, thash: u64) {
        prefetch::prefetch_candidates(&self.table, thash, |e| e.prefetch());
    }

    /// The address of the control bytes ([`prefetch::ctrl_addr`]), cached per
    /// table layout.
    fn ctrl_addr(&self) -> Option<usize> {
        let (layout, addr) = self.ctrl_hint.get();
        if layout == self.layout {
            return Some(addr);
        }
        let addr = prefetch::ctrl_addr(&self.table)?;
        self.ctrl_hint.set((self.layout, addr));
        Some(addr)
    }

    /// True when an entry for `key` is stored, expired or not.
    #[inline]
    pub fn contains(&self, thash: u64, key: &[u8]) -> bool {
        self.peek(thash, key).is_some()
    }

    /// The live entry for `key`; an expired entry is removed here and `None` returned.
    #[inline]
    pub fn get(&mut self, thash: u64, key: &[u8], now: u64) -> Option<&Entry> {
        match self.table.find_entry(thash, |e| e.key() == key) {
            Ok(slot) if !slot.get().is_expired(now) => {
                let e = slot.into_mut();
                policy::touch(e, now);
                Some(e)
            }
            Ok(slot) => {
                let (e, _) = slot.remove();
                note_expired_on_access(e.key());
                // Field by field: the returned reference's borrow of `self.table`
                // rules out a `&mut self` helper here. A removal leaves the
                // table's size alone, so only the entry's bytes leave the figure.
                forget_in(
                    &mut self.bytes,
                    &mut self.ttl_keys,
                    self.fifo.as_deref_mut(),
                    &e,
                );
                let size = e.mem_size();
                memory::changed(self.accounted, self.accounted - size);
                self.accounted -= size;
                None
            }
            Err(_) => None,
        }
    }
    /// Apply `f` to the live entry for `key` (expired → removed, returns None), then
    /// fix byte accounting and, if the deadline changed to a new `Some`, push it on the heap.
    pub fn update<R>(
        &mut self,
        thash: u64,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        let slot = self.table.find_entry(thash, |e| e.key() == key).ok()?;
        if slot.get().is_expired(now) {
            let (e, _) = slot.remove();
            note_expired_on_access(e.key());
            self.forget(&e);
            self.sync();
            return None;
        }
        let e = slot.into_mut();
        policy::touch(e, now);
        let (size, deadline) = (e.mem_size(), e.deadline());
        let r = f(e);
        let (new_size, new_deadline) = (e.mem_size(), e.deadline());
        self.bytes = self.bytes - size + new_size;
        match (deadline.is_some(), new_deadline.is_some()) {
            (false, true) => self.ttl_keys += 1,
            (true, false) => self.ttl_keys -= 1,
            _ => {}
        }
        if let Some(d) = new_deadline {
            if deadline != new_deadline {
                self.push_deadline(d, thash);
            }
        }
        self.sync();
        Some(r)
    }
    /// Insert or replace; returns the previous entry (even if it was expired).
    pub fn insert(&mut self, thash: u64, mut entry: Entry) -> Option<Entry> {
        let tracking = self.fifo_tracking();
        if entry.meta() == 0 {
            policy::init(&mut entry);
        }
        let size = entry.mem_size();
        let deadline = entry.deadline();
        let old = match self.table.find_mut(thash, |e| e.key() == entry.key()) {
            Some(o) => {
                // A new value for the same key keeps its place in the eviction
                // order, and its bucket: a full table does not grow for it.
                entry.inherit(o);
                Some(std::mem::replace(o, entry))
            }
            None => {
                self.make_room_for_one();
                if let Some(f) = self.fifo.as_mut().filter(|_| tracking) {
                    // Back soon after leaving the small queue: straight to main.
                    if !entry.in_main() && f.ghost_take(thash) {
                        entry.set_in_main(true);
                    }
                    f.push(thash, entry.in_main());
                }
                // The hasher runs only when the table resizes or rehashes in
                // place (which `make_room_for_one` leaves no cause for):
                // either way entries may change buckets.
                let rehashed = Cell::new(false);
                self.table.insert_unique(thash, entry, |e| {
                    rehashed.set(true);
                    thash_of(e)
                });
                if rehashed.get() {
                    self.layout = next_layout();
                }
                None
            }
        };
        self.bytes += size;
        if deadline.is_some() {
            self.ttl_keys += 1;
        }
        if let Some(o) = &old {
            // Overwriting a value whose deadline passed before the expiry task
            // reached it: that value expired, and is announced like any other.
            if o.deadline().is_some_and(|d| d <= super::now_ms()) {
                note_expired_on_access(o.key());
            }
            // The new value took the old one's place (and count) in its queue.
            forget_in(&mut self.bytes, &mut self.ttl_keys, None, o);
        }
        if let Some(d) = deadline {
            // An unchanged deadline already has its heap item.
            if old.as_ref().and_then(|o| o.deadline()) != Some(d) {
                self.push_deadline(d, thash);
            }
        }
        if self.fifo.as_ref().is_some_and(|f| f.bloated()) {
            self.drop_stale_items();
        }
        self.sync();
        old
    }
    /// Remove `key` whatever its expiry state; returns it.
    pub fn remove(&mut self, thash: u64, key: &[u8]) -> Option<Entry> {
        let (e, _) = self
            .table
            .find_entry(thash, |e| e.key() == key)
            .ok()?
            .remove();
        self.forget(&e);
        self.sync();
        Some(e)
    }
    /// Remove up to `max` entries whose deadline is `<= now`, found through the heap
    /// (never a scan of the table). Pushes each removed key onto `expired`. Returns the count.
    /// Keys `held` names (a transaction holds them: time stands still for it)
    /// stay, due for a later pass.
    pub fn expire_due(
        &mut self,
        now: u64,
        max: usize,
        expired: &mut Vec<Bytes>,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> usize {
        let mut n = 0;
        let mut kept = Vec::new();
        // Stale items cost a pop each too: a heap left mostly stale by splits
        // once made one call pop for 20 ms while finding 83 keys due.
        let mut pops = max.saturating_mul(STALE_POPS);
        while n < max && pops > 0 {
            let Some(&Reverse((d, thash))) = self.heap.peek() else {
                break;
            };
            if d > now {
                break;
            }
            self.heap.pop();
            pops -= 1;
            // Only the entry this item was pushed for, still carrying that deadline;
            // anything else makes the item stale.
            let found = self
                .table
                .find_entry(thash, |e| e.deadline() == Some(d) && thash_of(e) == thash);
            if let Ok(slot) = found {
                if held(slot.get().key()) {
                    kept.push(Reverse((d, thash)));
                    continue;
                }
                let (e, _) = slot.remove();
                self.forget(&e);
                expired.push(Bytes::copy_from_slice(e.key()));
                n += 1;
            }
        }
        self.heap.extend(kept);
        self.sync();
        n
    }
    /// Earliest deadline that still belongs to a live entry (stale heap tops are popped).
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((d, thash))) = self.heap.peek() {
            // No table-hash check needed here: any entry found carries deadline `d`,
            // so `d` is a real deadline whichever item it was pushed under.
            if self
                .table
                .find(thash, |e| e.deadline() == Some(d))
                .is_some()
            {
                return Some(d);
            }
            self.heap.pop();
        }
        None
    }
    /// Number of buckets in the table: valid bucket indexes are `0..num_buckets()`.
    /// Indexes stay valid until the table is resized (which only an insert can do).
    /// An insert can also rehash in place without changing this number; watch
    /// [`Shard::layout_epoch`] to notice either.
    pub fn num_buckets(&self) -> usize {
        self.table.num_buckets()
    }
    /// The bucket `key`'s entry is in, if it is here.
    pub fn bucket_of(&self, thash: u64, key: &[u8]) -> Option<usize> {
        self.table.find_bucket_index(thash, |e| e.key() == key)
    }
    /// True when inserting one more key rebuilds the table, moving entries
    /// to other buckets ([`Shard::make_room_for_one`]); a new value for a
    /// key already here does not.
    pub fn is_full(&self) -> bool {
        self.table.capacity() <= self.table.len()
    }
    /// Start loading the entry a few buckets past `index`, for a walk by bucket
    /// that reads each entry's key.
    #[inline]
    pub fn load_ahead(&self, index: usize) {
        load_ahead(&self.table, index);
    }
    /// The entry in bucket `index`, if that bucket is full.
    #[inline]
    pub fn entry_at(&self, index: usize) -> Option<&Entry> {
        self.table.get_bucket(index)
    }
    /// The first entry `pred` accepts in the buckets from `start` on, wrapping
    /// round (a random `start` makes it a random entry).
    pub fn entry_from(&self, start: usize, pred: impl Fn(&Entry) -> bool) -> Option<&Entry> {
        let n = self.num_buckets();
        (0..n)
            .filter_map(|k| self.entry_at(start.wrapping_add(k) % n))
            .find(|e| pred(e))
    }
    /// Continue `walk`: take the entries `pred` picks and hand each to `keep`,
    /// until `budget` of them counted (`keep` says whether one counts) or
    /// `8 × budget` buckets were looked at, so a sparse table cannot make one
    /// step long. Returns true when the walk has passed the last bucket.
    pub fn take_walking(
        &mut self,
        walk: &mut Walk,
        budget: usize,
        mut pred: impl FnMut(&Entry) -> bool,
        mut keep: impl FnMut(Entry) -> bool,
    ) -> bool {
        walk.resync(self);
        let budget = budget.max(1);
        let (mut counted, mut visited) = (0, 0);
        while walk.next < walk.buckets && counted < budget && visited < budget.saturating_mul(8) {
            let index = walk.next;
            walk.next += 1;
            visited += 1;
            // `pred` reads each entry's key.
            load_ahead(&self.table, index);
            if let Some(e) = self.take_at(index, &mut pred) {
                if keep(e) {
                    counted += 1;
                }
            }
        }
        walk.next >= walk.buckets
    }
    /// Remove and return the entry in bucket `index` if the bucket is full and `pred` says so.
    pub fn take_at(&mut self, index: usize, pred: impl FnOnce(&Entry) -> bool) -> Option<Entry> {
        let slot = self.table.get_bucket_entry(index).ok()?;
        if !pred(slot.get()) {
            return None;
        }
        let (e, _) = slot.remove();
        self.forget(&e);
        self.sync();
        Some(e)
    }
    /// Whether this shard keeps S3-FIFO queues now: builds them when the policy
    /// has just started needing them, drops them when it stopped.
    fn fifo_tracking(&mut self) -> bool {
        let on = policy::access() == Access::S3Fifo;
        match (on, self.fifo.is_some()) {
            (true, false) => self.build_fifo(),
            (false, true) => self.fifo = None,
            _ => {}
        }
        on
    }

    /// Queue every entry by the queue it says it is in (order within a queue is
    /// the table's; from here on it is the order of arrival).
    fn build_fifo(&mut self) {
        let mut f = Fifo::default();
        for e in self.iter() {
            f.push(thash_of(e), e.in_main());
        }
        self.fifo = Some(Box::new(f));
    }

    /// Drop queue items whose entry is gone or in the other queue, keeping order.
    fn drop_stale_items(&mut self) {
        let Some(f) = self.fifo.as_mut() else {
            return;
        };
        let table = &self.table;
        let live = |thash: u64, main: bool| {
            table
                .find(thash, |e| e.in_main() == main && thash_of(e) == thash)
                .is_some()
        };
        f.small.retain(|&h| live(h, false));
        f.main.retain(|&h| live(h, true));
    }

    /// Evict one entry by S3-FIFO: from the small queue while it holds its share
    /// (an entry read there moves to main instead; one never read leaves a ghost),
    /// else from main (an entry read since its last pass goes round again, its
    /// count lowered). None when the shard is empty.
    pub fn evict_s3fifo(&mut self, held: &dyn Fn(&[u8]) -> bool) -> Option<Entry> {
        if self.table.is_empty() {
            return None;
        }
        self.fifo_tracking();
        if self.fifo.is_none() {
            self.build_fifo();
        }
        // Nothing inserts into a shard that a split, merge or migration is
        // emptying, so its stale items are dropped here too: otherwise they
        // could outnumber the budget below and the eviction would give up.
        if self.fifo.as_ref().is_some_and(|f| f.bloated()) {
            self.drop_stale_items();
        }
        // Every live entry is in a queue, and each pass over main lowers counts:
        // bounded, with room for stale items (at most twice the live ones).
        let mut budget = 8 * (self.table.len() + 64);
        let victim = loop {
            let entries = self.table.len();
            let f = self.fifo.as_mut()?;
            let small = f.evict_small(entries);
            let item = if small {
                f.small.pop_front()
            } else {
                f.main.pop_front()
            };
            let Some(thash) = item else {
                // Counts and queues disagree: start the queues over.
                self.build_fifo();
                budget = budget.checked_sub(self.table.len() + 1)?;
                continue;
            };
            budget = budget.checked_sub(1)?;
            let Ok(slot) = self
                .table
                .find_entry(thash, |e| e.in_main() != small && thash_of(e) == thash)
            else {
                continue; // stale
            };
            let e = slot.get();
            // A key a transaction holds is passed over as if just used: it
            // must not vanish between two of the transaction's commands.
            let kept = held(e.key());
            let (freq, give_up) = (e.freq(), budget == 0);
            if (freq == 0 || give_up) && !kept {
                if small {
                    f.ghost_insert(thash, entries);
                }
                break slot.remove().0;
            }
            let slot = slot.into_mut();
            if small {
                slot.set_in_main(true);
                slot.set_freq(0);
                f.uncount(false);
                f.push(thash, true);
            } else {
                slot.set_freq(freq.saturating_sub(1));
                f.main.push_back(thash);
            }
        };
        self.forget(&victim);
        self.sync();
        Some(victim)
    }

    /// Remove a random entry (one with a deadline, when `volatile`), starting
    /// from position `seed`: the table's buckets, or the deadline heap's items.
    pub fn take_random(
        &mut self,
        seed: u64,
        volatile: bool,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> Option<Entry> {
        if volatile {
            self.drop_stale_deadlines();
        }
        let thash = if volatile {
            let items = self.heap.as_slice();
            let n = items.len();
            (0..n.min(64)).find_map(|k| {
                let Reverse((d, thash)) = items[(seed as usize).wrapping_add(k) % n];
                self.table
                    .find(thash, |e| e.deadline() == Some(d) && !held(e.key()))
                    .map(|_| thash)
            })?
        } else {
            self.entry_from(seed as usize, |e| !held(e.key()))
                .map(thash_of)?
        };
        let (e, _) = self
            .table
            .find_entry(thash, |e| !volatile || e.deadline().is_some())
            .ok()?
            .remove();
        self.forget(&e);
        self.sync();
        Some(e)
    }

    /// Hand up to `n` entries found from position `seed` to `f`: entries at
    /// random buckets, or (when `volatile`) entries of random deadline-heap items.
    pub fn sample(&mut self, seed: u64, n: usize, volatile: bool, mut f: impl FnMut(&Entry)) {
        if volatile {
            self.drop_stale_deadlines();
        }
        let mut seed = seed;
        let mut step = || super::xorshift64(&mut seed) as usize;
        if volatile {
            let items = self.heap.as_slice();
            if items.is_empty() {
                return;
            }
            for _ in 0..n {
                let Reverse((d, thash)) = items[step() % items.len()];
                if let Some(e) = self.table.find(thash, |e| e.deadline() == Some(d)) {
                    f(e);
                }
            }
        } else {
            if self.table.is_empty() {
                return;
            }
            for _ in 0..n {
                if let Some(e) = self.entry_from(step(), |_| true) {
                    f(e);
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.entries_in(0..self.num_buckets())
    }
    /// The entries in buckets `buckets`, in bucket order (a capture's step).
    pub fn entries_in(&self, buckets: std::ops::Range<usize>) -> impl Iterator<Item = &Entry> + '_ {
        // By bucket rather than hashbrown's `iter`, so that entries load
        // ahead: a snapshot or a log rewrite of a big shard was otherwise a
        // cache miss per entry (97% of a rewrite's capture of 1,000,000 keys
        // waited on the first byte of each).
        let table = &self.table;
        buckets.filter_map(move |index| {
            load_ahead(table, index);
            table.get_bucket(index)
        })
    }
    /// Drop every entry and give the table's and heap's space back (FLUSHALL
    /// frees memory, as Redis's does).
    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.heap = BinaryHeap::new();
        self.bytes = 0;
        self.ttl_keys = 0;
        self.layout = next_layout();
        self.fifo = None;
        self.sync();
    }
}

#[cfg(test)]
mod tests;
