//! Snapshots on the staircase, first step: `SAVE` writes every core's keys into
//! one Redis RDB file, and a start loads that file on every core in parallel.
//!
//! SAVE runs on core 0, under the coordinator's `staircase_lock`, so no shard
//! moves between cores while it runs: a migration in progress finishes first,
//! and none starts until the file is written (a key therefore sits on exactly
//! one core's section). Core 0 then asks every core, itself included, for its
//! section: the core writes its held shards' live keys to a part file beside
//! the snapshot in one synchronous step — as Redis's SAVE, it blocks that core
//! while it writes, which makes each section the state of its core at one
//! instant. Core 0 joins the parts behind the header (their CRC64s combined,
//! not recomputed), syncs the file and renames it over `dir/dbfilename`, so a
//! crash mid-save leaves the previous snapshot whole.
//!
//! At start every core reads the whole file and keeps the keys its routing
//! table gives it (keys already expired are dropped, as a Redis master does):
//! the cores parse in parallel and each inserts only its share. Loading runs
//! before the doors open, so no client sees a half-loaded keyspace.
//!
//! This module never decides where a key lives (the routing table does) and
//! never runs while shards move between cores. Its file I/O is blocking and
//! runs on the core's thread: at start before any client, and in SAVE, which
//! blocks by definition. BGSAVE (capturing a shard before a write changes it),
//! the per-core logs and `-LOADING` are the next steps.

use super::mesh::{Answer, CoreTask, Saved, TaskResult};
use super::world::World;
use crate::persist::rdb::{self, FileWriter, Header, Item, Options, Section, SectionWriter};
use crate::storage::now_ms;
use crate::storage::ops::{KeyOp, Op, SetCond, SetTtl};
use bytes::Bytes;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

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

fn unix_secs() -> u64 {
    now_ms() / 1000
}

impl World {
    /// The snapshot file: `dir/dbfilename`.
    pub fn snapshot_path(&self) -> PathBuf {
        let c = self.config.borrow();
        c.dir.join(&c.dbfilename)
    }

    /// This core's section of a SAVE: its live keys into `part`, in one step.
    pub fn save_section(&self, part: &Path) -> Result<Section, String> {
        let file =
            File::create(part).map_err(|e| format!("cannot create {}: {e}", part.display()))?;
        let mut w = SectionWriter::new(BufWriter::with_capacity(1 << 20, file), Options::default());
        let now = now_ms();
        let ks = self.keyspace.borrow();
        for (_, shard) in ks.held() {
            for e in shard.iter() {
                if e.is_expired(now) {
                    continue;
                }
                let deadline = e.deadline().map(|d| d as i64);
                let r = match e.as_int() {
                    Some(v) => w.write_int(e.key(), v, deadline),
                    None => w.write_string(e.key(), &e.value(), deadline),
                };
                r.map_err(|err| format!("cannot write {}: {err}", part.display()))?;
            }
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
        let _turn = self.staircase_lock.acquire_permit(1).await;
        let target = self.snapshot_path();
        let parts: Vec<PathBuf> = (0..self.ncores).map(|c| part_path(&target, c)).collect();
        let results = self
            .broadcast_per_core(|core| CoreTask::SaveSection {
                part: parts[core].clone(),
            })
            .await;
        let outcome = self.join_sections(&target, &parts, results);
        for p in &parts {
            let _ = std::fs::remove_file(p);
        }
        self.broadcast_task(CoreTask::SaveDone(outcome.as_ref().ok().map(|s| s.at)))
            .await;
        let saved = outcome?;
        tracing::info!(keys = saved.keys, bytes = saved.bytes, file = %target.display(), "DB saved on disk");
        Ok(saved)
    }

    fn join_sections(
        &self,
        target: &Path,
        parts: &[PathBuf],
        results: Vec<TaskResult>,
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
        let used = crate::storage::memory::used() as u64;
        let header = Header::redis(at, used).sizes(keys, ttl);
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
            let from =
                File::open(part).map_err(|e| format!("cannot read {}: {e}", part.display()))?;
            w.append_section_from(BufReader::with_capacity(1 << 20, from), section)
                .map_err(io)?;
        }
        let (out, written) = w.finish().map_err(io)?;
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.flush().map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&temp, target).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                target.display()
            )
        })?;
        // The rename is durable once the directory is.
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(Saved {
            keys: written.keys,
            bytes: written.bytes,
            at,
        })
    }

    /// Load the snapshot at start, keeping this core's keys. `Ok(None)` when
    /// there is no file.
    pub fn load_snapshot(&self) -> Result<Option<Loaded>, String> {
        let path = self.snapshot_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
        };
        let bad = |e: rdb::Error| format!("{}: {e}", path.display());
        let mut reader = rdb::Reader::new(BufReader::with_capacity(1 << 20, file)).map_err(bad)?;
        let now = now_ms();
        let mut loaded = Loaded::default();
        while let Some(item) = reader.next_item().map_err(bad)? {
            let Item::Key(rec) = item else { continue };
            loaded.read += 1;
            if self.core_of(&rec.key) != self.id {
                continue;
            }
            let ttl = match rec.expire_at_ms {
                Some(at) if at <= now as i64 => {
                    loaded.expired += 1;
                    continue;
                }
                Some(at) => SetTtl::At(at as u64),
                None => SetTtl::Clear,
            };
            let op = Op::Key {
                key: Bytes::from(rec.key),
                op: KeyOp::Set {
                    value: Bytes::from(rec.value),
                    cond: SetCond::Always,
                    ttl,
                    get: false,
                },
            };
            self.execute(op, now);
            loaded.kept += 1;
        }
        // Loading is not a change to save again.
        self.persist.dirty.set(0);
        self.persist.loaded.set(loaded.kept);
        self.persist.loaded_expired.set(loaded.expired);
        Ok(Some(loaded))
    }

    /// Send each core its own task (built by `task(core)`) and collect the
    /// answers in core order; this core's runs here.
    async fn broadcast_per_core(
        self: &Rc<Self>,
        task: impl Fn(usize) -> CoreTask,
    ) -> Vec<TaskResult> {
        let slots: Vec<_> = (0..self.ncores)
            .map(|peer| (peer != self.id).then(|| self.mesh.request_task(peer, task(peer))))
            .collect();
        let mut out = Vec::with_capacity(self.ncores);
        for (peer, slot) in slots.into_iter().enumerate() {
            out.push(match slot {
                None => self.run_task(task(peer)),
                Some(s) => match s.wait().await {
                    Answer::Task(r) => r,
                    Answer::Ops(_) => TaskResult::Failed("an op answer to a task".into()),
                },
            });
        }
        out
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
