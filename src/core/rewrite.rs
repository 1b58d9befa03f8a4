//! Log rewrites: `BGREWRITEAOF`, the automatic one past
//! `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`, the first
//! bases when logging starts (`CONFIG SET appendonly yes`, or the first start
//! with it on), and turning logging off.
//!
//! A rewrite replaces every core's log by a base snapshot of its shards plus
//! the tail written meanwhile, without stopping writes: on core 0, under the
//! staircase lock (no shard changes core meanwhile), every core in one step
//! starts a new generation's log whose first record is a claim over the
//! shards it owns, and begins a capture of those shards (BGSAVE's fork-less
//! capture, `core::snapshot`): the base holds each key as it was at the claim,
//! and every change after the claim is in the new log. Once every core's
//! base is written (RDB files joined on threads, synced, renamed), core 0
//! writes the manifest naming the new generation — the moment the rewrite
//! counts — and removes the older files. A crash before that leaves the old
//! manifest, whose generation's files are all still there, plus the new logs
//! (their base claims are ignored without their bases): nothing is lost.
//!
//! The new logs begin while every core is held whole (`hold_everything`, as
//! FLUSHALL): no transaction is half-done at the claims, so a base never
//! holds part of one whose other part's end a log must still show. Plain
//! commands on keys no transaction holds wait for that moment too (a few
//! milliseconds: each core opens a file and starts a capture), where Redis's
//! fork stops the whole server for longer.
//!
//! It never runs beside a BGSAVE (the capture is one per core): each waits
//! for the other.

use super::mesh::{Answer, CoreTask, TaskResult};
use super::world::World;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// How often core 0 looks at the logs' sizes.
const AUTO_EVERY: Duration = Duration::from_secs(1);

impl World {
    fn aof_dir(&self) -> (PathBuf, String) {
        let c = self.config.borrow();
        (c.aof_dir(), c.appendfilename.clone())
    }

    /// The highest generation of any log file on disk or in use.
    fn newest_gen(&self) -> u64 {
        let (dir, name) = self.aof_dir();
        let on_disk = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let file = e.file_name().to_string_lossy().into_owned();
                        super::recover::parse_name(&name, &file).map(|(_, g, _)| g)
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        on_disk.max(self.aof.gen().unwrap_or(0))
    }

    /// This core's share of a rewrite's start: the new log with its claim,
    /// and the capture of the base, in one step.
    pub fn rewrite_begin(self: &Rc<Self>, gen: u64, part: PathBuf) -> TaskResult {
        if let Err(e) = self.open_generation(gen, true) {
            return TaskResult::Failed(e);
        }
        match self.capture_begin(part, false) {
            Ok(()) => TaskResult::Done,
            Err(e) => TaskResult::Failed(e),
        }
    }

    /// A rewrite of every core's log, on core 0; returns once the manifest
    /// names the new generation.
    pub async fn rewrite_now(self: &Rc<Self>) -> Result<(), String> {
        if self.persist.rewrite_running.replace(true) {
            return Err("Background append only file rewriting already in progress".into());
        }
        let result = self.rewrite_inner().await;
        self.persist.rewrite_running.set(false);
        let ok = result.is_ok();
        self.persist.rewrite_ok.set(ok);
        match &result {
            Ok(()) => tracing::info!("Background AOF rewrite finished successfully"),
            Err(e) => tracing::warn!(error = %e, "Background AOF rewrite failed"),
        }
        result
    }

    async fn rewrite_inner(self: &Rc<Self>) -> Result<(), String> {
        // One capture per core: wait for a BGSAVE to end first (a BGSAVE
        // asked for meanwhile is refused or scheduled, see `bgsave_start`).
        while self.persist.bgsave_running.get() {
            crate::runtime::timer::sleep(Duration::from_millis(10)).await;
        }
        self.rewrite_locked().await
    }

    async fn rewrite_locked(self: &Rc<Self>) -> Result<(), String> {
        // Every core whole while the new logs begin: no transaction holds
        // anything, so each is wholly before the claims (in the bases, its
        // ends gone with the old logs) or wholly after (in the new logs) —
        // never a base holding one part of it while a log still needs its
        // end (`persist::log`, "A transaction's records"). A script busy
        // past the threshold holds us back until it ends. Whole first, then
        // the staircase: FLUSHALL's order.
        let all = self.hold_everything_patiently().await;
        let _turn = self.staircase_lock.acquire_permit(1).await;
        let started = std::time::Instant::now();
        let (dir, name) = self.aof_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let gen = self.newest_gen() + 1;
        let bases: Vec<PathBuf> = (0..self.ncores)
            .map(|c| dir.join(super::aof::base_name(&name, c, gen)))
            .collect();
        let parts: Vec<PathBuf> = bases.iter().map(|b| b.with_extension("rdb.part")).collect();
        let began = self
            .ask_every_core(
                |core| CoreTask::RewriteBegin {
                    gen,
                    part: parts[core].clone(),
                },
                async { self.rewrite_begin(gen, parts[self.id].clone()) },
            )
            .await;
        // Transactions go on; what they write is in the new logs.
        drop(all);
        let failed = began.iter().find_map(|r| match r {
            TaskResult::Failed(e) => Some(e.clone()),
            _ => None,
        });
        // Every core that began a capture ends it, whatever the others did.
        let sections = self
            .ask_every_core(|_| CoreTask::CaptureWait, async {
                TaskResult::Section(self.capture_wait().await)
            })
            .await;
        let outcome = match failed {
            Some(e) => Err(e),
            None => self.write_bases(&bases, &parts, sections, gen).await,
        };
        super::snapshot::remove_parts(&parts).await;
        let sizes = outcome?;
        let path = super::functions::file_path(&dir, &name);
        crate::runtime::task::blocking(move || super::snapshot::save_functions(&path)).await?;
        self.persist.rewrites.set(self.persist.rewrites.get() + 1);
        let total: u64 = sizes.iter().sum();
        self.persist.aof_settled.set(total);
        // Redis's rewrite base: the bases and what was logged meanwhile.
        let logs = self.count_every_core(CoreTask::AofSize).await;
        self.persist.aof_rewrite_base.set(total + logs);
        tracing::info!(
            gen,
            base_bytes = total,
            secs = started.elapsed().as_secs_f64(),
            "logs rewritten"
        );
        Ok(())
    }

    /// Join each core's captured section into its base, write the manifest,
    /// drop the older generations (on threads). Returns the bases' sizes.
    async fn write_bases(
        self: &Rc<Self>,
        bases: &[PathBuf],
        parts: &[PathBuf],
        sections: Vec<TaskResult>,
        gen: u64,
    ) -> Result<Vec<u64>, String> {
        let (dir, name) = self.aof_dir();
        let (bases, parts, ncores) = (bases.to_vec(), parts.to_vec(), self.ncores);
        let used = crate::storage::memory::used() as u64;
        let (tx, rx) = std::sync::mpsc::channel();
        crate::runtime::thread::spawn_background("stairkv-rewrite".into(), move || {
            let run = || -> Result<Vec<u64>, String> {
                let mut sizes = Vec::with_capacity(bases.len());
                for ((base, part), section) in bases.iter().zip(&parts).zip(sections) {
                    let saved = super::snapshot::join_sections(
                        base,
                        std::slice::from_ref(part),
                        vec![section],
                        used,
                    )?;
                    sizes.push(saved.bytes);
                }
                let manifest = dir.join(super::aof::manifest_name(&name));
                let text = super::recover::manifest_text(gen, ncores);
                super::snapshot::write_durably(&manifest, text.as_bytes())?;
                remove_older(&dir, &name, gen);
                Ok(sizes)
            };
            let _ = tx.send(run());
        })
        .map_err(|e| format!("cannot start the rewrite thread: {e}"))?;
        super::snapshot::answer_of(&rx)
            .await
            .unwrap_or_else(|| Err("the rewrite thread stopped".into()))
    }

    /// Turn logging on at run time (CONFIG SET appendonly yes), from any
    /// core: a rewrite first, as Redis, so the logs start from everything
    /// held; answers once its manifest is written.
    pub async fn aof_enable(self: &Rc<Self>) -> Result<(), String> {
        if self.id == 0 {
            return self.rewrite_now().await;
        }
        match self.mesh.request_task(0, CoreTask::RewriteNow).wait().await {
            Answer::Task(TaskResult::Started(r)) => r.map(|_| ()),
            _ => Err("core 0 did not answer the rewrite".into()),
        }
    }

    /// Turn logging off on every core (CONFIG SET appendonly no).
    pub async fn aof_disable(self: &Rc<Self>) {
        self.broadcast_task(CoreTask::AofOff).await;
    }
}

/// Remove every log and base of a generation before `gen`.
fn remove_older(dir: &std::path::Path, name: &str, gen: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some((_, g, _)) = super::recover::parse_name(name, &file) {
            if g < gen {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// BGREWRITEAOF from any core: core 0 starts it in the background.
pub async fn bgrewriteaof(world: &Rc<World>) -> Result<&'static str, String> {
    if world.id != 0 {
        return match world.mesh.request_task(0, CoreTask::BgRewrite).wait().await {
            Answer::Task(TaskResult::Started(r)) => r,
            _ => Err("ERR core 0 did not answer BGREWRITEAOF".into()),
        };
    }
    if world.persist.rewrite_running.get() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    let w = world.clone();
    crate::runtime::task::spawn(async move {
        let _ = w.rewrite_now().await;
    })
    .detach();
    Ok("Background append only file rewriting started")
}

/// Core 0: rewrite once the logs' whole size (bases and logs) is over
/// `auto-aof-rewrite-min-size` and grew by `auto-aof-rewrite-percentage`
/// over the size the last rewrite (or the start) left — Redis 7's rule and
/// base: what was logged while a rewrite ran counts in the size it left, so
/// the next rewrite is not due sooner than Redis's would be.
pub async fn run_auto_rewrite(world: Rc<World>) {
    loop {
        crate::runtime::timer::sleep(AUTO_EVERY).await;
        if world.shutting_down.get() {
            return;
        }
        let (on, percent, min) = {
            let c = world.config.borrow();
            (
                c.appendonly,
                c.auto_aof_rewrite_percentage,
                c.auto_aof_rewrite_min_size,
            )
        };
        if !on || percent == 0 || world.persist.rewrite_running.get() || super::recover::loading() {
            continue;
        }
        let logs: u64 = world.count_every_core(CoreTask::AofSize).await;
        let total = world.persist.aof_settled.get() + logs;
        let base = world.persist.aof_rewrite_base.get().max(1);
        if total > min && total.saturating_mul(100) >= base.saturating_mul(100 + percent) {
            tracing::info!(base, total, percent, "Starting automatic rewriting of AOF");
            let _ = world.rewrite_now().await;
        }
    }
}
