//! Snapshots on the staircase: `SAVE` and `BGSAVE` write every core's keys
//! into one Redis RDB file, and a start loads that file on every core in
//! parallel.
//!
//! SAVE runs on core 0, under the coordinator's `staircase_lock`, so no shard
//! moves between cores while it runs: a migration in progress finishes first,
//! and none starts until the file is written (a key therefore sits on exactly
//! one core's section). Core 0 then asks every core, itself included, for its
//! section: the core writes its held shards' live keys to a part file beside
//! the snapshot in one synchronous step — as Redis's SAVE, it blocks that core
//! while it writes, which makes each section the state of its core at one
//! instant. Core 0 has the parts joined behind the header on a thread (their
//! CRC64s combined, not recomputed), the file synced and renamed over
//! `dir/dbfilename`, so a crash mid-save leaves the previous snapshot whole.
//!
//! Each core's section is its state at one instant; that the instants of
//! all cores form one consistent cut is what every core held whole
//! (`hold_everything`, as FLUSHALL) gives: no transaction is half-done
//! while the sections (SAVE) or captures (BGSAVE) begin, so a transaction
//! that spans cores is wholly in the snapshot or wholly after it.
//!
//! At start every core reads the whole file and keeps the keys its routing
//! table gives it (keys already expired are dropped, as a Redis master does):
//! the cores parse in parallel and each inserts only its share, while clients
//! get `-LOADING` (`core::recover`).
//!
//! BGSAVE does the same without stopping anyone and without forking: under
//! the same lock, every core begins a capture of its shards
//! (`storage::keyspace::capture`): a background task copies them one at a
//! time between requests, and a write to a shard not copied yet copies that
//! shard first, so every key is saved as it was when the capture began on its
//! core. The encoded bytes go to a writer thread per core, and the join is
//! SAVE's: no disk write blocks a core. Memory: at most
//! [`IN_FLIGHT_MAX`] bytes a core waiting for its writer, plus the shards that
//! writes made the core copy ahead of the background task.
//!
//! This module never decides where a key lives (the routing table does) and
//! never runs while shards move between cores. Its blocking file I/O runs on a
//! core's thread only in SAVE, which blocks by definition. The capture is
//! also what a log rewrite's bases are made of (`core::rewrite`).

use super::mesh::{Answer, CoreTask, Saved, TaskResult};
use super::world::World;
use crate::persist::rdb::{FileWriter, Header, Options, Section, SectionWriter};
use crate::runtime::notify::Slot;
use crate::storage::now_ms;
use crate::storage::shard::Shard;
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Encoded bytes a core may have handed its writer thread and not yet seen
/// written, before its background copy waits.
pub const IN_FLIGHT_MAX: usize = 64 << 20;

/// Set once a SHUTDOWN has saved (or was told not to): the stop that follows
/// must not save again.
pub static STOP_SAVE_DONE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How often core 0 looks at the save points.
const SAVE_POINTS_EVERY: Duration = Duration::from_millis(100);
/// After a failed background save, the next try waits this long (as Redis).
const SAVE_RETRY_DELAY: Duration = Duration::from_secs(5);

/// What one core loaded at start.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    /// Keys in the file, whichever core they belong to.
    pub read: u64,
    /// Keys this core keeps.
    pub kept: u64,
    /// Keys of this core dropped because their deadline had passed.
    pub expired: u64,
}

/// Where core `core` writes its section during a SAVE to `target`.
fn part_path(target: &Path, core: usize) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".part{core}.tmp"));
    target.with_file_name(name)
}

/// A shard's keys live at `now` into a section: storage's integers as RDB
/// integers, everything else as strings, with their deadlines.
fn write_shard<W: Write>(w: &mut SectionWriter<W>, shard: &Shard, now: u64) -> std::io::Result<()> {
    write_entries(w, shard.iter(), now)
}

/// Entries live at `now` into a section.
fn write_entries<'a, W: Write>(
    w: &mut SectionWriter<W>,
    entries: impl Iterator<Item = &'a crate::storage::entry::Entry>,
    now: u64,
) -> std::io::Result<()> {
    for e in entries {
        if e.is_expired(now) {
            continue;
        }
        let deadline = e.deadline().map(|d| d as i64);
        if let Some(obj) = e.object() {
            w.write_object(e.key(), obj, deadline)?;
            continue;
        }
        match e.as_int() {
            Some(v) => w.write_int(e.key(), v, deadline)?,
            None => w.write_string(e.key(), &e.value(), deadline)?,
        }
    }
    Ok(())
}

fn unix_secs() -> u64 {
    now_ms() / 1000
}

impl World {
    /// The snapshot file: `dir/dbfilename`.
    pub fn snapshot_path(&self) -> PathBuf {
        self.config.borrow().snapshot_path()
    }

    /// This core's section of a SAVE: its live keys into `part`, in one step.
    pub fn save_section(&self, part: &Path) -> Result<Section, String> {
        let file =
            File::create(part).map_err(|e| format!("cannot create {}: {e}", part.display()))?;
        let mut w = SectionWriter::new(BufWriter::with_capacity(1 << 20, file), Options::default());
        let now = now_ms();
        let ks = self.keyspace.borrow();
        for (_, shard) in ks.held() {
            write_shard(&mut w, shard, now)
                .map_err(|err| format!("cannot write {}: {err}", part.display()))?;
        }
        let (out, section) = w
            .finish()
            .map_err(|err| format!("cannot write {}: {err}", part.display()))?;
        let file = out
            .into_inner()
            .map_err(|err| format!("cannot write {}: {}", part.display(), err.error()))?;
        drop(file);
        Ok(section)
    }

    /// SAVE, run on core 0: every core's section, joined into the snapshot.
    pub async fn save_here(self: &Rc<Self>) -> Result<Saved, String> {
        if self.persist.bgsave_running.get() {
            return Err("Background save already in progress".into());
        }
        // Every core whole, as a rewrite's start: no transaction half-done in
        // it. A script busy past the threshold refuses SAVE, as Redis's does.
        let Ok(_all) = self.hold_everything().await else {
            return Err(crate::storage::ops::OpError::Busy.to_string());
        };
        let _turn = self.staircase_lock.acquire_permit(1).await;
        let target = self.snapshot_path();
        let parts: Vec<PathBuf> = (0..self.ncores).map(|c| part_path(&target, c)).collect();
        let results = self
            .ask_every_core(
                |core| CoreTask::SaveSection {
                    part: parts[core].clone(),
                },
                async {
                    self.run_task(CoreTask::SaveSection {
                        part: parts[self.id].clone(),
                    })
                },
            )
            .await;
        let saved = self.finish_save(&target, &parts, Ok(results)).await?;
        tracing::info!(keys = saved.keys, bytes = saved.bytes, file = %target.display(), "DB saved on disk");
        Ok(saved)
    }
}

/// Remove a save's part files off the core's thread: unlinking a file of
/// hundreds of MB frees its pages in the call (a 10,000,000-key part held
/// its core for 42 ms when removed here).
pub(super) async fn remove_parts(parts: &[PathBuf]) {
    let parts = parts.to_vec();
    crate::runtime::task::blocking(move || {
        for p in parts {
            let _ = std::fs::remove_file(p);
        }
    })
    .await
}

/// Wait for a thread's answer without blocking the core: it is polled between
/// short sleeps (a snapshot's threads answer once, after seconds of work).
pub(super) async fn answer_of<T>(rx: &mpsc::Receiver<T>) -> Option<T> {
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(mpsc::TryRecvError::Empty) => {
                crate::runtime::timer::sleep(Duration::from_millis(2)).await
            }
            Err(mpsc::TryRecvError::Disconnected) => return None,
        }
    }
}

/// The encoder a capture's copies write into, and the bytes it has produced
/// that the core has not yet handed to its writer thread.
type Encoder = Rc<RefCell<SectionWriter<Vec<u8>>>>;

impl World {
    /// Begin this core's section of a BGSAVE: a capture of its shards
    /// (`storage::keyspace::capture`), copied between requests by a task of
    /// its own and written to `part` by a writer thread; [`Self::capture_wait`]
    /// gets the result. Every change from here on is after the snapshot.
    /// `for_save` is false for a log rewrite's base, which is not a save
    /// (LASTSAVE, the change count and INFO's bgsave flag stay as they are).
    pub fn capture_begin(self: &Rc<Self>, part: PathBuf, for_save: bool) -> Result<(), String> {
        let file =
            File::create(&part).map_err(|e| format!("cannot create {}: {e}", part.display()))?;
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (chunks, chunks_rx) = mpsc::channel::<Vec<u8>>();
        let (done, done_rx) = mpsc::channel::<Result<(), String>>();
        let writer_flight = in_flight.clone();
        let writer_part = part.clone();
        crate::runtime::thread::spawn_background(format!("stairkv-save{}", self.id), move || {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut result = Ok(());
            for chunk in chunks_rx {
                if result.is_ok() {
                    result = out.write_all(&chunk);
                }
                writer_flight.fetch_sub(chunk.len(), Ordering::Relaxed);
            }
            let result = result.and_then(|_| out.flush());
            let _ = done
                .send(result.map_err(|e| format!("cannot write {}: {e}", writer_part.display())));
        })
        .map_err(|e| format!("cannot start a writer thread: {e}"))?;
        if for_save {
            self.persist.dirty_at_save.set(self.persist.dirty.get());
            self.persist.bgsave.set(true);
        }
        let encoder: Encoder = Rc::new(RefCell::new(SectionWriter::new(
            Vec::new(),
            Options::default(),
        )));
        let begun = now_ms();
        let copying = encoder.clone();
        let failed: Rc<RefCell<Option<String>>> = Rc::default();
        let copy_failed = failed.clone();
        self.keyspace
            .borrow_mut()
            .begin_capture(Box::new(move |_, entries| {
                if let Err(err) = write_entries(&mut copying.borrow_mut(), entries, begun) {
                    *copy_failed.borrow_mut() = Some(err.to_string());
                }
            }));
        let slot = Slot::new();
        *self.persist.capture.borrow_mut() = Some(slot.clone());
        let world = self.clone();
        crate::runtime::task::spawn(async move {
            let hand_over = |encoder: &Encoder| {
                let chunk = std::mem::take(encoder.borrow_mut().get_mut());
                if !chunk.is_empty() {
                    in_flight.fetch_add(chunk.len(), Ordering::Relaxed);
                    let _ = chunks.send(chunk);
                }
            };
            let mut pace = crate::runtime::pace::Pace::new();
            loop {
                while in_flight.load(Ordering::Relaxed) > IN_FLIGHT_MAX {
                    crate::runtime::timer::sleep(Duration::from_millis(1)).await;
                }
                let more = world.keyspace.borrow_mut().capture_next();
                hand_over(&encoder);
                if !more {
                    break;
                }
                pace.breathe().await;
            }
            world.keyspace.borrow_mut().end_capture();
            hand_over(&encoder);
            let section = encoder.borrow().section();
            drop(chunks);
            let written = answer_of(&done_rx)
                .await
                .unwrap_or_else(|| Err("the writer thread stopped".into()));
            let failed = failed.borrow_mut().take();
            slot.fill(match failed {
                Some(e) => Err(format!("cannot encode a key: {e}")),
                None => written.map(|_| section),
            });
        })
        .detach();
        Ok(())
    }

    /// The section [`Self::capture_begin`] began, once it is written.
    pub async fn capture_wait(&self) -> Result<Section, String> {
        let slot = self.persist.capture.borrow_mut().take();
        match slot {
            Some(slot) => slot.wait().await,
            None => Err("no capture was begun on this core".into()),
        }
    }

    /// BGSAVE on core 0, in the background: under the staircase lock, begin
    /// every core's capture, tell `begun` (the client's reply waits for it),
    /// then wait for the sections and join them on a thread.
    async fn bgsave_here(
        self: &Rc<Self>,
        begun: Option<Rc<Slot<Result<(), String>>>>,
    ) -> Result<Saved, String> {
        // Every core whole while the captures begin (a rewrite's rule): a
        // transaction is wholly in the snapshot or wholly after it.
        let all = self.hold_everything_patiently().await;
        let _turn = self.staircase_lock.acquire_permit(1).await;
        let target = self.snapshot_path();
        let parts: Vec<PathBuf> = (0..self.ncores).map(|c| part_path(&target, c)).collect();
        let began = self
            .ask_every_core(
                |core| CoreTask::CaptureBegin {
                    part: parts[core].clone(),
                },
                async {
                    match self.capture_begin(parts[self.id].clone(), true) {
                        Ok(()) => TaskResult::Done,
                        Err(e) => TaskResult::Failed(e),
                    }
                },
            )
            .await;
        drop(all);
        let failed = began.iter().find_map(|r| match r {
            TaskResult::Failed(e) => Some(e.clone()),
            _ => None,
        });
        if let Some(b) = begun {
            b.fill(failed.clone().map_or(Ok(()), Err));
        }
        // Every core that began a capture ends it, whatever the others did.
        let results = self
            .ask_every_core(|_| CoreTask::CaptureWait, async {
                TaskResult::Section(self.capture_wait().await)
            })
            .await;
        self.finish_save(&target, &parts, failed.map_or(Ok(results), Err))
            .await
    }

    /// The end of SAVE and BGSAVE on core 0: join the cores' sections into
    /// `target` on a thread (so the copy never blocks this core), remove the
    /// parts, and tell every core how it went (LASTSAVE, INFO).
    async fn finish_save(
        self: &Rc<Self>,
        target: &Path,
        parts: &[PathBuf],
        sections: Result<Vec<TaskResult>, String>,
    ) -> Result<Saved, String> {
        let outcome = match sections {
            Err(e) => Err(e),
            Ok(results) => {
                let (tx, rx) = mpsc::channel();
                let used = crate::storage::memory::used() as u64;
                let (join_target, join_parts) = (target.to_path_buf(), parts.to_vec());
                let spawned =
                    crate::runtime::thread::spawn_background("stairkv-join".into(), move || {
                        let _ = tx.send(join_sections(&join_target, &join_parts, results, used));
                    });
                match spawned {
                    Ok(_) => answer_of(&rx)
                        .await
                        .unwrap_or_else(|| Err("the join thread stopped".into())),
                    Err(e) => Err(format!("cannot start the join thread: {e}")),
                }
            }
        };
        remove_parts(parts).await;
        self.broadcast_task(CoreTask::SaveDone(outcome.as_ref().ok().map(|s| s.at)))
            .await;
        outcome
    }

    /// BGSAVE [SCHEDULE] on core 0: start one in the background and answer
    /// once every core's capture has begun, or schedule the next when one runs.
    pub async fn bgsave_start(self: &Rc<Self>, schedule: bool) -> Result<&'static str, String> {
        let p = &self.persist;
        if p.rewrite_running.get() && !schedule {
            return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
        }
        if p.bgsave_running.get() || p.rewrite_running.get() {
            if schedule {
                p.bgsave_scheduled.set(true);
                return Ok("Background saving scheduled");
            }
            return Err("ERR Background save already in progress".into());
        }
        p.bgsave_running.set(true);
        let begun = Slot::new();
        let world = self.clone();
        let mut tell = Some(begun.clone());
        crate::runtime::task::spawn(async move {
            loop {
                let started = std::time::Instant::now();
                match world.bgsave_here(tell.take()).await {
                    Ok(s) => tracing::info!(
                        keys = s.keys,
                        bytes = s.bytes,
                        secs = started.elapsed().as_secs_f64(),
                        "Background saving terminated with success"
                    ),
                    Err(e) => tracing::warn!(error = %e, "Background saving error"),
                }
                if !world.persist.bgsave_scheduled.replace(false) {
                    break;
                }
            }
            world.persist.bgsave_running.set(false);
        })
        .detach();
        match begun.wait().await {
            Ok(()) => Ok("Background saving started"),
            Err(e) => Err(format!("ERR {e}")),
        }
    }
}

/// BGSAVE from any core: core 0 starts it.
pub async fn bgsave(world: &Rc<World>, schedule: bool) -> Result<&'static str, String> {
    if world.id == 0 {
        return world.bgsave_start(schedule).await;
    }
    match world
        .mesh
        .request_task(0, CoreTask::BgSave { schedule })
        .wait()
        .await
    {
        Answer::Task(TaskResult::Started(r)) => r,
        _ => Err("ERR core 0 did not answer BGSAVE".into()),
    }
}

/// Core 0's save points: a BGSAVE once `changes` keys changed and `seconds`
/// passed since the last save, for any configured pair (Redis's `save`).
pub async fn run_save_points(world: Rc<World>) {
    let mut failed_at: Option<std::time::Instant> = None;
    loop {
        crate::runtime::timer::sleep(SAVE_POINTS_EVERY).await;
        if world.shutting_down.get() {
            return;
        }
        let points = world.config.borrow().save.clone();
        if points.is_empty() || world.persist.bgsave_running.get() || super::recover::loading() {
            continue;
        }
        if !world.persist.last_save_ok.get()
            && failed_at.is_some_and(|t| t.elapsed() < SAVE_RETRY_DELAY)
        {
            continue;
        }
        // A counter a core, not the whole of INFO's stats: this runs ten times a second.
        let changes: u64 = world.count_every_core(CoreTask::Changes).await;
        let since = unix_secs().saturating_sub(world.persist.last_save.get());
        if let Some((secs, n)) = points
            .iter()
            .find(|(secs, n)| changes >= *n && changes > 0 && since >= *secs)
        {
            tracing::info!(
                changes,
                seconds = secs,
                needed = n,
                "save point reached: saving"
            );
            match world.bgsave_start(false).await {
                Ok(_) => failed_at = None,
                Err(e) => {
                    tracing::warn!(error = %e, "save point: BGSAVE did not start");
                    failed_at = Some(std::time::Instant::now());
                }
            }
            // Wait for it, so the next look sees its result.
            while world.persist.bgsave_running.get() {
                crate::runtime::timer::sleep(SAVE_POINTS_EVERY).await;
            }
            if !world.persist.last_save_ok.get() {
                failed_at = Some(std::time::Instant::now());
            }
        }
    }
}

/// SAVE from any core: core 0 runs it.
pub async fn save(world: &Rc<World>) -> Result<Saved, String> {
    if world.id == 0 {
        return world.save_here().await;
    }
    match world.mesh.request_task(0, CoreTask::Save).wait().await {
        Answer::Task(TaskResult::Saved(r)) => r,
        _ => Err("core 0 did not answer SAVE".into()),
    }
}

/// Rename `temp` over `target` and sync the directory, so the rename
/// survives a crash; on failure `temp` is removed.
fn rename_durably(temp: &Path, target: &Path) -> Result<(), String> {
    std::fs::rename(temp, target).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        format!(
            "cannot rename {} to {}: {e}",
            temp.display(),
            target.display()
        )
    })?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Write a small file (a manifest) so that it is either whole or absent
/// after a crash: beside it, synced, renamed over it.
pub(super) fn write_durably(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut temp_name = target.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".tmp");
    let temp = target.with_file_name(temp_name);
    let io = |e: std::io::Error| format!("cannot write {}: {e}", temp.display());
    let mut file = File::create(&temp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    rename_durably(&temp, target)
}

/// Write the function libraries (`core::functions`) to `path` (blocking: a helper thread's work). Writers
/// take turns, and each writes the store as it is when its turn comes, so
/// the last file written holds the newest libraries.
pub fn save_functions(path: &std::path::Path) -> Result<(), String> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let codes = super::functions::codes();
    if codes.is_empty() && !path.exists() {
        return Ok(());
    }
    let payload = crate::persist::rdb::dump_functions(codes.iter().map(|c| &c[..]));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_durably(path, &payload)
}

/// Join the cores' sections (part files, in core order) behind the header into
/// `target`: written beside it, synced, renamed over it.
pub(super) fn join_sections(
    target: &Path,
    parts: &[PathBuf],
    results: Vec<TaskResult>,
    used: u64,
) -> Result<Saved, String> {
    let mut sections = Vec::with_capacity(results.len());
    let (mut keys, mut ttl) = (0, 0);
    for r in results {
        match r {
            TaskResult::Section(Ok(s)) => {
                keys += s.keys;
                ttl += s.keys_with_ttl;
                sections.push(s);
            }
            TaskResult::Section(Err(e)) => return Err(e),
            other => return Err(format!("a core answered {other:?} to SAVE")),
        }
    }
    let at = unix_secs();
    let header = Header::redis(at, used).sizes(keys, ttl).functions(
        super::functions::codes()
            .iter()
            .map(|c| c.to_vec())
            .collect(),
    );
    let mut temp_name = target.file_name().unwrap_or_default().to_os_string();
    temp_name.push(format!(".temp-{}.tmp", std::process::id()));
    let temp = target.with_file_name(temp_name);
    let io = |e: std::io::Error| format!("cannot write {}: {e}", temp.display());
    let file = File::create(&temp).map_err(io)?;
    let mut w = FileWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        &header,
        Options::default(),
    )
    .map_err(io)?;
    for (part, section) in parts.iter().zip(sections) {
        let from = File::open(part).map_err(|e| format!("cannot read {}: {e}", part.display()))?;
        w.append_section_from(BufReader::with_capacity(1 << 20, from), section)
            .map_err(io)?;
    }
    let (out, written) = w.finish().map_err(io)?;
    let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.flush().map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    rename_durably(&temp, target)?;
    Ok(Saved {
        keys: written.keys,
        bytes: written.bytes,
        at,
    })
}
