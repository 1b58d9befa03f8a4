//! Loading at start, with the doors open: every core reads the snapshot, or
//! the logs and their bases, on a loader thread of its own and keeps the keys
//! its routing table gives it; meanwhile clients get Redis's `-LOADING` for
//! everything but a few connection and server commands (`loading`), and
//! `INFO persistence` shows `loading:1` with the bytes read so far.
//!
//! Which files: with `appendonly yes` and a manifest in `dir/appenddirname`,
//! the logs (see `persist::replay` for the rule that merges them; the
//! manifest names the last generation whose bases are all complete, older
//! files are void); otherwise `dir/dbfilename`. With `appendonly yes` and no
//! manifest (the first start with logs on), the snapshot is loaded and core 0
//! writes the first bases (a rewrite) before loading ends, so that no write is
//! ever accepted that a restart would not find.
//!
//! Loader threads parse and merge; a core only inserts what it is sent, a
//! batch at a time between requests, so the core's thread never blocks on
//! the disk. A snapshot has one loader thread that parses the file once and
//! routes each key to its core (RDB reads in order: a thread per core would
//! parse the whole file each); logs have one per core, each reading every
//! file and keeping its own keys (a key's records may be in any core's log). Corruption in the middle of a file stops the server with one
//! line naming the file and the offset; a torn last record is dropped with a
//! warning (`aof-load-truncated yes`, as Redis) or stops it (`no`).
//!
//! Nothing here runs once loading has ended.

use super::mesh::CoreTask;
use super::world::World;
use crate::persist::log::{LogReader, Op as LogOp, Stop};
use crate::persist::rdb::{self, Item};
use crate::persist::replay::{change_of, Merge, Part, Position};
use crate::storage::now_ms;
use crate::storage::object::Object;
use crate::storage::ops::Stored;
use crate::storage::staircase::{scan_pos, RoutingTable};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Set from the process's start until every core loaded (and, on a first
/// start with logs on, the first bases are written), when there is
/// something to load ([`begin`]).
static LOADING: AtomicBool = AtomicBool::new(false);
/// Bytes the loaders read so far, and in all (INFO's progress).
static LOADED_BYTES: AtomicU64 = AtomicU64::new(0);
static TOTAL_BYTES: AtomicU64 = AtomicU64::new(0);
static CORES_LOADED: AtomicUsize = AtomicUsize::new(0);
static LOAD_STARTED: AtomicU64 = AtomicU64::new(0);

/// Called once, before the cores start: loading lasts until every core has
/// loaded when there is a snapshot to read or the logs are on (their replay,
/// or the first bases); a start with neither opens ready.
pub fn begin(cfg: &crate::config::Config) {
    let something = cfg.appendonly || cfg.snapshot_path().exists();
    LOADING.store(something, Ordering::SeqCst);
}

/// Whether the server is still loading its data.
#[inline]
pub fn loading() -> bool {
    LOADING.load(Ordering::Relaxed)
}

/// (bytes read, bytes in all, unix seconds the load began) for INFO.
pub fn progress() -> (u64, u64, u64) {
    (
        LOADED_BYTES.load(Ordering::Relaxed),
        TOTAL_BYTES.load(Ordering::Relaxed),
        LOAD_STARTED.load(Ordering::Relaxed),
    )
}

/// Keys sent from a loader thread to its core at a time.
const BATCH: usize = 4096;

/// Keys for a core to store, in one buffer: a batch costs one allocation to
/// hand over, not two a key (allocated on the loader thread and freed on the
/// core, each key's buffers cost more than storing it).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Key length, value length, deadline; the bytes are key then value.
    items: Vec<(u32, u32, Option<u64>)>,
    /// Hashes and sets: key, value, deadline.
    objects: Vec<(Vec<u8>, Box<Object>, Option<u64>)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            bytes: Vec::with_capacity(BATCH * 64),
            items: Vec::with_capacity(BATCH),
            objects: Vec::new(),
        }
    }

    fn push_object(&mut self, key: &[u8], obj: Box<Object>, deadline: Option<u64>) {
        self.objects.push((key.to_vec(), obj, deadline));
    }

    fn push(&mut self, key: &[u8], value: &[u8], deadline: Option<u64>) {
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.items
            .push((key.len() as u32, value.len() as u32, deadline));
    }

    fn len(&self) -> usize {
        self.items.len() + self.objects.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], Option<u64>)> + '_ {
        let mut at = 0usize;
        self.items.iter().map(move |&(k, v, d)| {
            let (k, v) = (k as usize, v as usize);
            let key = &self.bytes[at..at + k];
            let value = &self.bytes[at + k..at + k + v];
            at += k + v;
            (key, value, d)
        })
    }
}

/// What a loader thread tells its core.
enum Msg {
    /// About this many keys are coming (RDB's RESIZEDB hint): room is made once.
    Expect(usize),
    Keys(Batch),
    Done(Result<Summary, String>),
}

/// What a load found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Keys in the files (whichever core they belong to), and keys of this
    /// core dropped because their deadline had passed.
    pub read: u64,
    pub expired: u64,
    /// The newest epoch, generation and position in the logs (0 without).
    pub max_epoch: u64,
    pub max_gen: u64,
    pub max_lsn: u64,
    /// The highest transaction id in the logs (new ones start above it).
    pub max_tx: u64,
}

/// What the start loads.
#[derive(Clone, Debug)]
pub enum Plan {
    Nothing,
    Snapshot(PathBuf),
    Logs(LogSet),
}

/// The files of the logs to replay: the manifest's generation, the bases of
/// that generation and every log at or after it, by core and generation.
#[derive(Clone, Debug, Default)]
pub struct LogSet {
    pub dir: PathBuf,
    pub gen: u64,
    pub bases: BTreeMap<u16, PathBuf>,
    pub logs: BTreeMap<(u16, u64), PathBuf>,
    /// Files of older generations: void, removed once loading ended.
    pub void: Vec<PathBuf>,
    pub max_gen: u64,
}

/// Parse `<name>.<core>.<gen>.log` or `<name>.<core>.<gen>.base.rdb`.
pub(super) fn parse_name(name: &str, file: &str) -> Option<(u16, u64, bool)> {
    let rest = file.strip_prefix(name)?.strip_prefix('.')?;
    let (rest, base) = match rest.strip_suffix(".base.rdb") {
        Some(r) => (r, true),
        None => (rest.strip_suffix(".log")?, false),
    };
    let (core, gen) = rest.split_once('.')?;
    Some((core.parse().ok()?, gen.parse().ok()?, base))
}

/// The manifest: `stairkv-aof 1`, `gen <g>`, `cores <n>`.
pub fn read_manifest(path: &Path) -> Result<Option<(u64, u16)>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut lines = text.lines();
    let bad = || format!("{}: not a stairkv manifest", path.display());
    if lines.next() != Some("stairkv-aof 1") {
        return Err(bad());
    }
    let mut field = |name: &str| {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let gen = field("gen ").ok_or_else(bad)?;
    let cores = field("cores ").ok_or_else(bad)?;
    Ok(Some((gen, cores as u16)))
}

/// The text [`read_manifest`] reads.
pub fn manifest_text(gen: u64, cores: usize) -> String {
    format!("stairkv-aof 1\ngen {gen}\ncores {cores}\n")
}

/// Decide what to load: see the module doc.
pub fn plan(world: &World) -> Result<Plan, String> {
    let c = world.config.borrow();
    if c.appendonly {
        let dir = c.aof_dir();
        let manifest = dir.join(super::aof::manifest_name(&c.appendfilename));
        if let Some((gen, cores)) = read_manifest(&manifest)? {
            let mut set = LogSet {
                dir: dir.clone(),
                gen,
                ..LogSet::default()
            };
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some((core, g, base)) = parse_name(&c.appendfilename, &file) else {
                    continue;
                };
                set.max_gen = set.max_gen.max(g);
                let path = entry.path();
                if g < gen || (base && g != gen) {
                    set.void.push(path);
                } else if base {
                    set.bases.insert(core, path);
                } else {
                    set.logs.insert((core, g), path);
                }
            }
            for core in 0..cores {
                if !set.bases.contains_key(&core) {
                    return Err(format!(
                        "{}: the base of core {core} for generation {gen} is missing",
                        dir.display()
                    ));
                }
            }
            return Ok(Plan::Logs(set));
        }
    }
    let path = c.snapshot_path();
    Ok(if path.exists() {
        Plan::Snapshot(path)
    } else {
        Plan::Nothing
    })
}

/// A reader that counts what it read into the load's progress.
struct Counted<R>(R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        LOADED_BYTES.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open(path: &Path) -> Result<Counted<BufReader<File>>, String> {
    let f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(Counted(BufReader::with_capacity(1 << 20, f)))
}

/// Whether `key` is this core's under the table the load routes by.
fn mine(table: &RoutingTable, core: usize, key: &[u8]) -> bool {
    table.core_of(crate::storage::hash::key_hash(key)) == core
}

/// The one loader thread of a snapshot: it parses the file once and hands
/// each core its keys (a core's share of the parse would be the whole file:
/// RDB is read in order). Ends by telling every core what it found.
fn load_snapshot(path: &Path, table: &RoutingTable, txs: &[mpsc::SyncSender<Msg>]) {
    let result = route_snapshot(path, table, txs);
    for (core, tx) in txs.iter().enumerate() {
        let _ = tx.send(Msg::Done(
            result.as_ref().map(|s| s[core]).map_err(Clone::clone),
        ));
    }
}

fn route_snapshot(
    path: &Path,
    table: &RoutingTable,
    txs: &[mpsc::SyncSender<Msg>],
) -> Result<Vec<Summary>, String> {
    let bad = |e: rdb::Error| format!("{}: {e}", path.display());
    let mut reader = rdb::Reader::new(open(path)?).map_err(bad)?;
    let now = now_ms() as i64;
    let mut sums = vec![Summary::default(); txs.len()];
    let mut batches: Vec<Batch> = (0..txs.len()).map(|_| Batch::new()).collect();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        let (expire_at_ms, object) = match reader.next_into(&mut key, &mut value).map_err(bad)? {
            rdb::Step::End => break,
            rdb::Step::Other(Item::ResizeDb { db_size, .. }) => {
                let each = db_size as usize / txs.len().max(1);
                for tx in txs {
                    let _ = tx.send(Msg::Expect(each));
                }
                continue;
            }
            rdb::Step::Other(Item::Function(code)) => {
                let source = path.display().to_string();
                super::functions::load_codes([code.into()], &source)?;
                continue;
            }
            rdb::Step::Other(_) => continue,
            rdb::Step::Key {
                expire_at_ms,
                object,
                ..
            } => (expire_at_ms, object),
        };
        let core = table.core_of(crate::storage::hash::key_hash(&key));
        let (Some(sum), Some(batch)) = (sums.get_mut(core), batches.get_mut(core)) else {
            continue;
        };
        sum.read += 1;
        if expire_at_ms.is_some_and(|at| at <= now) {
            sum.expired += 1;
            continue;
        }
        match object {
            Some(o) => batch.push_object(&key, o, expire_at_ms.map(|d| d as u64)),
            None => batch.push(&key, &value, expire_at_ms.map(|d| d as u64)),
        }
        if batch.len() == BATCH {
            send(&txs[core], std::mem::replace(batch, Batch::new()))?;
        }
    }
    for (tx, batch) in txs.iter().zip(batches) {
        send(tx, batch)?;
    }
    let read = sums.iter().map(|s| s.read).sum();
    sums.iter_mut().for_each(|s| s.read = read);
    Ok(sums)
}

/// Where each core finds its receiver of the snapshot's one loader thread
/// (the first core to ask, finding none, starts it).
static SNAPSHOT_LOAD: std::sync::Mutex<Vec<Option<mpsc::Receiver<Msg>>>> =
    std::sync::Mutex::new(Vec::new());

/// This core's end of the snapshot loader, started by the first core here.
fn snapshot_receiver(
    path: &Path,
    table: &RoutingTable,
    ncores: usize,
    core: usize,
) -> Result<mpsc::Receiver<Msg>, String> {
    let mut slots = SNAPSHOT_LOAD
        .lock()
        .map_err(|_| "the snapshot loader's slots are poisoned".to_string())?;
    if slots.is_empty() {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..ncores).map(|_| mpsc::sync_channel(4)).unzip();
        *slots = rxs.into_iter().map(Some).collect();
        let (path, table) = (path.to_path_buf(), table.clone());
        std::thread::Builder::new()
            .name("stairkv-load".into())
            .spawn(move || load_snapshot(&path, &table, &txs))
            .map_err(|e| format!("cannot start the loader thread: {e}"))?;
    }
    slots
        .get_mut(core)
        .and_then(Option::take)
        .ok_or_else(|| format!("no snapshot loader for core {core}"))
}

fn send(tx: &mpsc::SyncSender<Msg>, batch: Batch) -> Result<(), String> {
    if batch.len() == 0 {
        return Ok(());
    }
    tx.send(Msg::Keys(batch))
        .map_err(|_| "the core stopped loading".to_string())
}

/// The key's scan position, the space claims are over.
fn position_of(key: &[u8]) -> u64 {
    scan_pos(crate::storage::hash::key_hash(key))
}

/// The loader thread's work for logs: merge every file, then send the
/// survivors of this core.
fn load_logs(
    set: &LogSet,
    table: &RoutingTable,
    core: usize,
    truncated_ok: bool,
    tx: &mpsc::SyncSender<Msg>,
) -> Result<Summary, String> {
    let mut merge = Merge::new(position_of);
    let mut sum = Summary {
        max_gen: set.max_gen,
        ..Summary::default()
    };
    // Each base is positioned by its generation's log header (the epoch the
    // rewrite began at; its claim is that log's first record).
    for (&c, base) in &set.bases {
        let log = set.logs.get(&(c, set.gen)).ok_or_else(|| {
            format!(
                "{}: the log of core {c} for generation {} is missing",
                set.dir.display(),
                set.gen
            )
        })?;
        let mut head = LogReader::new(open(log)?);
        let epoch = head
            .header()
            .map_err(|e| format!("{}: {e}", log.display()))?
            .map(|h| h.epoch)
            .ok_or_else(|| format!("{}: no header", log.display()))?;
        let bad = |e: rdb::Error| format!("{}: {e}", base.display());
        let mut reader = rdb::Reader::new(open(base)?).map_err(bad)?;
        let mut seq = 0;
        while let Some(item) = reader.next_item().map_err(bad)? {
            let Item::Key(rec) = item else { continue };
            sum.read += 1;
            if !mine(table, core, &rec.key) {
                continue;
            }
            let at = Position {
                epoch,
                core: c,
                gen: set.gen,
                part: Part::Base,
                seq,
            };
            seq += 1;
            let value = match rec.object {
                Some(o) => Stored::Obj(o),
                None => Stored::Str(Bytes::from(rec.value)),
            };
            let state = Some((value, rec.expire_at_ms.map(|d| d.max(0) as u64)));
            merge.record(at, Bytes::from(rec.key), state);
        }
    }
    for (&(c, gen), path) in &set.logs {
        let mut reader = LogReader::new(open(path)?);
        let name = path.display();
        match reader.header().map_err(|e| format!("{name}: {e}"))? {
            Some(h) => sum.max_epoch = sum.max_epoch.max(h.epoch),
            None => continue,
        }
        while let Some(rec) = reader.next_record().map_err(|e| format!("{name}: {e}"))? {
            sum.max_epoch = sum.max_epoch.max(rec.epoch);
            sum.max_lsn = sum.max_lsn.max(rec.lsn);
            sum.max_tx = sum.max_tx.max(rec.op.tx().unwrap_or(0));
            let at = |part| Position {
                epoch: rec.epoch,
                core: c,
                gen,
                part,
                seq: rec.lsn,
            };
            match rec.op {
                LogOp::Write(cmd) | LogOp::Import { cmd, .. } | LogOp::TxWrite { cmd, .. } => {
                    let change =
                        change_of(cmd).map_err(|e| format!("{name}: record {}: {e}", rec.lsn))?;
                    sum.read += 1;
                    let at = at(Part::Log);
                    match rec.op.tx() {
                        _ if !mine(table, core, &change.key) => {}
                        Some(tx) => merge.tx_record(tx, at, change.key, change.edit),
                        None => merge.edit(at, change.key, change.edit),
                    }
                }
                LogOp::TxEnd { tx, parts } => merge.tx_end(tx, c, parts),
                LogOp::TxCommit { tx } => merge.tx_commit(tx),
                LogOp::TxClaim { tx, intervals } => merge.tx_claim(tx, at(Part::Log), intervals),
                // Only the manifest's generation has a complete base.
                LogOp::Claim {
                    base: true,
                    intervals,
                } if gen == set.gen => merge.claim(at(Part::Claim), intervals),
                LogOp::Claim { base: true, .. } => {}
                LogOp::Claim {
                    base: false,
                    intervals,
                } => merge.claim(at(Part::Log), intervals),
                _ => {}
            }
        }
        match reader.stop() {
            Some(Stop::Corrupt { offset, reason, .. }) => {
                return Err(format!(
                    "{name} is corrupt at offset {offset}: {reason} (stairkv check --fix truncates it there)"
                ))
            }
            Some(Stop::Torn { offset, lost, reason }) => {
                if !truncated_ok {
                    return Err(format!(
                        "{name} ends in a torn record at offset {offset} ({reason}); aof-load-truncated is no"
                    ));
                }
                if core == 0 {
                    tracing::warn!(file = %name, offset, lost, reason = %reason, "dropping the torn last record of a log");
                }
            }
            _ => {}
        }
    }
    // A transaction whose parts a crash did not all keep counts not at all.
    let dropped = merge.settle();
    if dropped.transactions > 0 && core == 0 {
        tracing::warn!(
            transactions = dropped.transactions,
            records = dropped.records,
            "dropping transactions the crash cut short (not every core logged its end)"
        );
    }
    let now = now_ms();
    let _ = tx.send(Msg::Expect(merge.len()));
    let mut batch = Batch::new();
    let (keys, misfits) = merge.finish();
    if misfits > 0 && core == 0 {
        tracing::warn!(
            records = misfits,
            "skipped logged changes that do not fit their key's type (a damaged history)"
        );
    }
    for (key, value, deadline) in keys {
        if deadline.is_some_and(|d| d <= now) {
            sum.expired += 1;
            continue;
        }
        match value {
            Stored::Str(v) => batch.push(&key, &v, deadline),
            Stored::Obj(o) => batch.push_object(&key, o, deadline),
        }
        if batch.len() == BATCH {
            send(tx, std::mem::replace(&mut batch, Batch::new()))?;
        }
    }
    send(tx, batch)?;
    Ok(sum)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

impl World {
    /// Load this core's keys per `plan` on a loader thread, inserting what it
    /// sends between requests. Returns what was found.
    pub async fn load(self: &Rc<Self>, plan: &Plan) -> Result<Summary, String> {
        let table = self.keyspace.borrow().table().clone();
        let (core, truncated_ok) = (self.id, self.config.borrow().aof_load_truncated);
        if self.id == 0 {
            let total: u64 = match plan {
                Plan::Nothing => 0,
                Plan::Snapshot(p) => file_len(p),
                Plan::Logs(s) => s
                    .bases
                    .values()
                    .chain(s.logs.values())
                    .map(|p| file_len(p))
                    .sum(),
            };
            // Every core reads every log; a snapshot is read once.
            let readers = if matches!(plan, Plan::Logs(_)) {
                self.ncores
            } else {
                1
            };
            TOTAL_BYTES.store(total * readers as u64, Ordering::Relaxed);
            LOAD_STARTED.store(now_ms() / 1000, Ordering::Relaxed);
        }
        let rx = match plan {
            Plan::Snapshot(p) => snapshot_receiver(p, &table, self.ncores, core)?,
            _ => {
                let (tx, rx) = mpsc::sync_channel::<Msg>(4);
                let work = plan.clone();
                std::thread::Builder::new()
                    .name(format!("stairkv-load{core}"))
                    .spawn(move || {
                        let result = match &work {
                            Plan::Logs(s) => load_logs(s, &table, core, truncated_ok, &tx),
                            _ => Ok(Summary::default()),
                        };
                        let _ = tx.send(Msg::Done(result));
                    })
                    .map_err(|e| format!("cannot start a loader thread: {e}"))?;
                rx
            }
        };
        let mut kept = 0u64;
        let mut pace = crate::runtime::pace::Pace::new();
        loop {
            match rx.try_recv() {
                Ok(Msg::Expect(n)) => self.keyspace.borrow_mut().reserve_for_load(n),
                Ok(Msg::Keys(batch)) => {
                    let mut earliest: Option<u64> = None;
                    {
                        let mut ks = self.keyspace.borrow_mut();
                        let mut loaded = |done: bool, deadline: Option<u64>| {
                            if done {
                                kept += 1;
                                if let Some(d) = deadline {
                                    earliest = Some(earliest.map_or(d, |e| e.min(d)));
                                }
                            }
                        };
                        for (key, value, deadline) in batch.iter() {
                            loaded(ks.load_entry(key, value, deadline), deadline);
                        }
                        for (key, obj, deadline) in batch.objects {
                            loaded(ks.load_object(&key, *obj, deadline), deadline);
                        }
                    }
                    if let Some(d) = earliest {
                        self.deadline_set(d);
                    }
                    self.memory_changed();
                    pace.breathe().await;
                }
                Ok(Msg::Done(result)) => {
                    let sum = result?;
                    // Loading is not a change to save again.
                    self.persist.dirty.set(0);
                    self.persist.loaded.set(kept);
                    self.persist.loaded_expired.set(sum.expired);
                    return Ok(sum);
                }
                Err(mpsc::TryRecvError::Empty) => {
                    crate::runtime::timer::sleep(Duration::from_millis(1)).await
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Err("the loader thread stopped".into())
                }
            }
        }
    }
}

/// The start's loading on one core (spawned once the doors may open): load,
/// start this core's log, and on core 0 wait for the others, write the first
/// bases when needed and end the loading. A load that fails stops the server.
pub async fn run_at_start(world: Rc<World>) {
    let outcome = start_here(&world).await;
    if let Err(e) = outcome {
        tracing::error!("{e}");
        eprintln!("stairkv: cannot load the data: {e}");
        std::process::exit(1);
    }
}

async fn start_here(world: &Rc<World>) -> Result<(), String> {
    let plan = plan(world)?;
    if let (0, Plan::Logs(set)) = (world.id, &plan) {
        let path = super::functions::file_path(&set.dir, &world.config.borrow().appendfilename);
        let n = super::functions::load_file(&path)?;
        if n > 0 {
            tracing::info!(libraries = n, file = %path.display(), "function libraries loaded");
        }
    }
    let started = std::time::Instant::now();
    let sum = world.load(&plan).await?;
    let kept = world.persist.loaded.get();
    match &plan {
        Plan::Nothing => {}
        Plan::Snapshot(p) => {
            tracing::info!(core = world.id, kept, expired = sum.expired, in_file = sum.read, file = %p.display(), secs = started.elapsed().as_secs_f64(), "snapshot loaded")
        }
        Plan::Logs(s) => {
            tracing::info!(core = world.id, kept, expired = sum.expired, records = sum.read, dir = %s.dir.display(), secs = started.elapsed().as_secs_f64(), "logs replayed")
        }
    }
    world.keyspace.borrow_mut().raise_epoch(sum.max_epoch);
    // Positions go on after every one the logs hold (a replica resumes by them).
    world.aof.first_lsn.set(sum.max_lsn + 1);
    // Transaction ids too: a new transaction must never complete one the
    // logs hold cut short (`persist::replay`). Ids are `seq << 8 | core + 1`.
    world.next_tx.set(world.next_tx.get().max(sum.max_tx >> 8));
    let appendonly = world.config.borrow().appendonly;
    if let (true, Plan::Logs(_)) = (appendonly, &plan) {
        world.open_generation(sum.max_gen + 1, false)?;
    }
    CORES_LOADED.fetch_add(1, Ordering::SeqCst);
    if world.id != 0 {
        return Ok(());
    }
    while CORES_LOADED.load(Ordering::SeqCst) < world.ncores {
        crate::runtime::timer::sleep(Duration::from_millis(1)).await;
    }
    if appendonly && !matches!(plan, Plan::Logs(_)) {
        // The first start with logs on: the first bases, before any write.
        world.rewrite_now().await?;
    }
    if let Plan::Logs(set) = &plan {
        for p in &set.void {
            let _ = std::fs::remove_file(p);
        }
        // The files replayed stay until the next rewrite: the logs' whole
        // size counts them, and growth is measured from here (Redis sets
        // its rewrite base when its load ends).
        let size = |p: &PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let settled: u64 = set.bases.values().chain(set.logs.values()).map(size).sum();
        world.persist.aof_settled.set(settled);
        if appendonly {
            let logs = world.count_every_core(CoreTask::AofSize).await;
            world.persist.aof_rewrite_base.set(settled + logs);
        }
    }
    LOADING.store(false, Ordering::SeqCst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_manifests_read_back() {
        assert_eq!(
            parse_name("appendonly.aof", "appendonly.aof.3.17.log"),
            Some((3, 17, false))
        );
        assert_eq!(
            parse_name("appendonly.aof", "appendonly.aof.0.2.base.rdb"),
            Some((0, 2, true))
        );
        for other in [
            "appendonly.aof.manifest",
            "x.0.1.log",
            "appendonly.aof.a.1.log",
            "appendonly.aof.1.log",
        ] {
            assert_eq!(parse_name("appendonly.aof", other), None, "{other}");
        }
        let dir = std::env::temp_dir().join(format!("stairkv-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let m = dir.join("m");
        assert_eq!(read_manifest(&m), Ok(None));
        std::fs::write(&m, manifest_text(9, 2)).expect("write");
        assert_eq!(read_manifest(&m), Ok(Some((9, 2))));
        std::fs::write(&m, "stairkv-aof 1\ngen x\n").expect("write");
        assert!(read_manifest(&m).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
