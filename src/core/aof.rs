//! One core's append-only log as the core writes it: which records a change
//! makes, the buffer they wait in, the writer task that moves them to the
//! file through the core's ring (`runtime::file`), the sync policy, and the
//! wait of a reply for it. Which records a change makes is `core::logging`;
//! the record format is `persist::log`; recovery is `core::recover`;
//! rewrites are `core::rewrite`. It never reads the keyspace.
//!
//! What is logged is the state of a key after a change — `SET k v [PXAT t]` or
//! `DEL k` — never the command (see `persist::replay` for why that makes the
//! order of replay simple): every op that may write logs its keys' states once
//! it ran; a `FLUSHALL` logs a claim; an eviction logs a `DEL` (as Redis); an
//! entry that arrives by migration logs an import. An expiry logs nothing —
//! the deadline is in the record, and replay drops a key past it.
//!
//! **Group commit.** Records go into one buffer per core; the writer task takes
//! the whole buffer at once, writes it with one `write` and, under `always`,
//! syncs it with one `fdatasync` — every write the core applied while the last
//! flush ran shares the next one. Replies of a pipeline that wrote (and
//! answers to other cores' ops that wrote) wait until what they depend on is
//! synced. Under `everysec` the writer syncs at most once a second and
//! replies never wait: a stalled disk holds no reply, it only widens the window
//! of what a crash may lose (Redis instead delays writes once a sync is 2 s
//! late; here the buffer just grows). Under `no` the kernel decides. One
//! flush runs at a time: two groups' syncs in flight measured slower (51k and
//! 48k SET/s against 56k and 57k with one, `redis-benchmark -t set -c 50 -P 1`,
//! server alone on CPU 0: concurrent `fdatasync`s of one ext4 file each wait
//! for their own journal commit).
//!
//! **Room written ahead** (`always` only). Syncing records appended to a file
//! commits its new size to the journal too; syncing records written over
//! zeros already on the disk does not. So the writer keeps zeroed, synced room
//! ahead of its records, 1 MiB at a time ([`make_room`]; the log format reads
//! zeros after the last record as the end), and writes each group into it with
//! an `O_DIRECT` write linked to an `fdatasync` ([`write_direct`]): both
//! handed to the kernel at once, the sync started by the kernel the moment
//! the write completes. Measured, same load (2026-12-05): write +
//! `fdatasync` appending 56–58k SET/s; into room 78–83k; one `O_DIRECT |
//! O_DSYNC` write 85k (redis-server's `always` 62k). The `O_DSYNC` write's
//! completion needs a kernel worker on the CPU that took the disk's
//! interrupt, which here is the load generator's: traced on 2026-12-07, 337
//! µs from submission to completion for 90 µs of disk time; the linked pair
//! measured 72k SET/s against the `O_DSYNC` write's 59k (redis-server 57k),
//! 5 alternating rounds. Where the file system refuses `O_DIRECT` (tmpfs)
//! the records are written and synced as before.
//!
//! **Faults.** A failed write or sync keeps the records and tries again every
//! second; meanwhile every core refuses writes with Redis's `-MISCONF` (see
//! [`write_error`]) and replies waiting under `always` keep waiting — nothing
//! acknowledged is lost — until a flush succeeds and writes resume by
//! themselves.
//!
//! No syscall of the log runs on the core's thread except creating a new
//! file at a rewrite or at start.

use crate::config::Fsync;
pub use crate::persist::log::LogWriter;
use crate::runtime::notify::Notify;
use bytes::{Bytes, BytesMut};
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Cores whose last log write or sync failed, and the last errno: any of them
/// refuses writes on every core (Redis refuses all writes on an AOF error).
static FAILING: AtomicUsize = AtomicUsize::new(0);
static LAST_ERRNO: AtomicI32 = AtomicI32::new(0);

/// The errno of a log that cannot be written, while one cannot.
pub fn write_error() -> Option<i32> {
    (FAILING.load(Ordering::Relaxed) > 0).then(|| LAST_ERRNO.load(Ordering::Relaxed))
}

/// How long a failed flush waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// The largest buffer kept for the next flush ([`Aof::spare`]).
const SPARE_MAX: usize = 4 << 20;
/// `everysec`: the most time between a write and its sync.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// A log file being appended to.
pub struct LogFile {
    pub file: File,
    pub gen: u64,
    /// Bytes of records (and header) written to it so far.
    pub len: Cell<u64>,
    /// The file's size: records, then zeroed room written ahead under
    /// `always` ([`make_room`]).
    room: Cell<u64>,
    /// The same file opened `O_DIRECT` ([`write_direct`]); `None`
    /// where the file system refuses that (tmpfs).
    direct: Option<File>,
    /// The bytes of the last block the records only partly fill.
    tail: RefCell<Vec<u8>>,
}

impl LogFile {
    /// `bytes` were written at the end: count them in and keep the new last
    /// partial block.
    fn advance(&self, bytes: &[u8]) {
        let len = self.len.get() + bytes.len() as u64;
        self.len.set(len);
        let keep = (len % BLOCK as u64) as usize;
        let mut tail = self.tail.borrow_mut();
        if keep <= bytes.len() {
            tail.clear();
            tail.extend_from_slice(&bytes[bytes.len() - keep..]);
        } else {
            tail.extend_from_slice(bytes);
        }
    }
}

/// How much zeroed room `always` writes ahead at a time: 1 MiB costs ~0.9 ms
/// to write and sync here, against 28 ms for 4 MiB; at 10 MB/s of records
/// that is ten short stalls a second rather than three long ones.
const ROOM: u64 = 1 << 20;

/// This core's log: off, or the file its records go to and what is pending.
#[derive(Default)]
pub struct Aof {
    /// Records are being logged.
    pub on: Cell<bool>,
    pub fsync: Cell<Fsync>,
    pub writer: RefCell<Option<LogWriter>>,
    pub file: RefCell<Option<Rc<LogFile>>>,
    /// Records not yet handed to the writer task.
    pub buf: RefCell<BytesMut>,
    /// The buffer the last flush wrote, cleared: it becomes `buf` when the
    /// writer takes `buf`, so records never go into a buffer that grows
    /// from nothing (a regrowth copied every byte again: 10% of what
    /// logging cost at 700k SET/s).
    spare: RefCell<BytesMut>,
    /// Files a rewrite switched away from, with what they still need written.
    retiring: RefCell<Vec<(Rc<LogFile>, BytesMut)>>,
    /// Every record before this LSN can be acknowledged: synced under
    /// `always`, written to the file under `everysec` and `no`.
    durable: Cell<u64>,
    /// A durable write (`always`) is with the kernel: see [`Self::hurry`].
    writing_durably: Cell<bool>,
    /// Wakes the writer task.
    wake: Notify,
    waiters: RefCell<Vec<Waker>>,
    failing: Cell<bool>,
    /// Syncs done, for INFO.
    pub syncs: Cell<u64>,
    /// The position a new log starts at when none runs (above every position
    /// the logs recovered at start hold).
    pub first_lsn: Cell<u64>,
    /// The transaction whose op is running (0: none): its changes are logged
    /// as its `TxWrite`s (see `persist::log`, "A transaction's records").
    pub tx: Cell<u64>,
    /// Transactions that logged a change here and have not logged their end.
    pub tx_logged: RefCell<std::collections::HashSet<u64>>,
}

impl Aof {
    /// The position the next record gets (every one before it is appended):
    /// taken before a batch runs, it tells [`Self::must_wait`] whether the
    /// batch logged anything.
    pub fn appended(&self) -> u64 {
        self.writer.borrow().as_ref().map_or(0, LogWriter::next_lsn)
    }

    /// A reply must wait for the log before it is sent: under `always`, when
    /// the core logged records not yet synced. While the log cannot be
    /// written, only replies whose own batch logged something (`since`:
    /// [`Self::appended`] before it ran) wait; reads go on. Under `everysec`
    /// and `no` nothing waits (see the module doc for what that costs).
    #[inline]
    pub fn must_wait(&self, since: u64) -> bool {
        if !self.on.get() || self.fsync.get() != Fsync::Always {
            return false;
        }
        let appended = self.appended();
        self.durable.get() < appended && (appended > since || !self.failing.get())
    }

    /// While a durable write is with the kernel, let the kernel finish this
    /// core's completed operations now (`runtime::driver::hurry`): its sync
    /// starts when the write's completion runs on this thread, which on a
    /// busy core otherwise waits for the driver's next turn. A reply about to
    /// wait for the log calls it.
    pub fn hurry(&self) {
        if self.writing_durably.get() {
            crate::runtime::driver::hurry();
        }
    }

    /// Logging under `appendfsync always`: a reply waits for its records.
    pub fn syncs_each_write(&self) -> bool {
        self.on.get() && self.fsync.get() == Fsync::Always
    }

    /// Bytes in the file being appended to (written so far).
    pub fn size(&self) -> u64 {
        self.file.borrow().as_ref().map_or(0, |f| f.len.get())
    }

    /// The generation of the file being appended to.
    pub fn gen(&self) -> Option<u64> {
        self.file.borrow().as_ref().map(|f| f.gen)
    }

    /// Wait until every record appended so far is durable (or logging
    /// stops) — for a reply whose batch began at log position `since`. If
    /// the log starts failing meanwhile and that batch logged nothing (a
    /// read), it goes on at once, as [`Self::must_wait`] says: it must not
    /// wait for a disk with no room, for writes that are not its own.
    pub fn wait_durable(&self, since: u64) -> WaitDurable<'_> {
        WaitDurable {
            aof: self,
            target: self.appended(),
            since,
        }
    }

    fn progress(&self, durable: u64) {
        self.durable.set(self.durable.get().max(durable));
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    fn set_failing(&self, err: Option<&std::io::Error>) {
        match err {
            Some(e) => {
                LAST_ERRNO.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
                if !self.failing.replace(true) {
                    FAILING.fetch_add(1, Ordering::Relaxed);
                    // Reads waiting since before the failure go on now.
                    for w in self.waiters.borrow_mut().drain(..) {
                        w.wake();
                    }
                }
            }
            None => {
                if self.failing.replace(false) {
                    FAILING.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Start appending to `file` (a new generation); what the old file still
    /// had pending goes with it to the writer. `writer` continues the
    /// positions; its header is already in `head`.
    pub fn switch_to(&self, file: LogFile, writer: LogWriter, head: BytesMut) {
        let old = self.file.borrow_mut().replace(Rc::new(file));
        let rest = std::mem::replace(&mut *self.buf.borrow_mut(), head);
        if let Some(old) = old {
            self.retiring.borrow_mut().push((old, rest));
        }
        *self.writer.borrow_mut() = Some(writer);
        self.on.set(true);
        self.wake.notify();
    }

    /// Stop logging (CONFIG SET appendonly no): what is buffered is still
    /// written and synced by the writer, then the file is closed.
    pub fn stop(&self) {
        self.on.set(false);
        if let Some(old) = self.file.borrow_mut().take() {
            let rest = std::mem::take(&mut *self.buf.borrow_mut());
            self.retiring.borrow_mut().push((old, rest));
        }
        self.wake.notify();
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Stop logging and wait (at most `limit`) until the writer has written
    /// and synced what was buffered: the end of a clean stop.
    pub async fn close(&self, limit: Duration) {
        if self.file.borrow().is_none() {
            return;
        }
        self.stop();
        let start = Instant::now();
        while !self.retiring.borrow().is_empty() && start.elapsed() < limit {
            crate::runtime::timer::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A write or sync of this core's log failed and was not yet redone.
    pub fn failing(&self) -> bool {
        self.failing.get()
    }

    /// Append one record under `epoch` (the caller's view of the table: the
    /// keyspace may be borrowed by the caller, so it is passed in) to the
    /// buffer the writer flushes.
    pub fn append(
        &self,
        epoch: u64,
        shard: crate::storage::staircase::ShardId,
        op: crate::persist::log::Op<'_>,
    ) {
        let mut w = self.writer.borrow_mut();
        let Some(w) = w.as_mut() else { return };
        let mut buf = self.buf.borrow_mut();
        let was_empty = buf.is_empty();
        if let Err(e) = w.append(&mut buf, epoch, shard, op) {
            tracing::error!(error = %e, "cannot log a change");
            return;
        }
        if was_empty {
            self.wake.notify();
        }
    }
}

/// See [`Aof::wait_durable`].
pub struct WaitDurable<'a> {
    aof: &'a Aof,
    target: u64,
    /// Where the waiting reply's batch began in the log.
    since: u64,
}

impl Future for WaitDurable<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let read_only = self.target <= self.since;
        if !self.aof.on.get()
            || self.aof.durable.get() >= self.target
            || (read_only && self.aof.failing.get())
        {
            return Poll::Ready(());
        }
        self.aof.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

/// The writer task of one core: moves buffered records to the file, syncs
/// per the policy, wakes the replies waiting for it, and retries on failure.
pub async fn run_writer(aof: Rc<Aof>) {
    let aof = &*aof;
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    loop {
        let idle = aof.buf.borrow().is_empty() && aof.retiring.borrow().is_empty();
        if idle {
            match (unsynced, aof.fsync.get()) {
                // A sync that failed: try it again.
                (true, Fsync::Always) => {}
                (true, Fsync::EverySec) => {
                    let due = SYNC_EVERY.saturating_sub(last_sync.elapsed());
                    if !due.is_zero() {
                        let sleep = crate::runtime::timer::sleep(due);
                        futures_lite::future::or(aof.wake.wait(), sleep).await;
                    }
                }
                _ => {
                    aof.wake.wait().await;
                    continue;
                }
            }
        }
        // What the flush of the current file takes is exactly what was
        // appended when it starts (no await in between): read the position
        // there, not before the retired files' flush, whose await lets new
        // records in — they were written and synced, but a position read
        // earlier left them "not durable" with the writer idle, and a reply
        // waiting for them waited for ever (a BGREWRITEAOF under `always`).
        let flushed = match flush_retiring(aof).await {
            Err(e) => Err(e),
            Ok(()) => {
                let upto = aof.appended();
                flush_current(aof, &mut unsynced, &mut last_sync)
                    .await
                    .map(|()| upto)
            }
        };
        match flushed {
            Err(e) => {
                if !aof.failing.get() {
                    tracing::warn!(error = %e, "cannot write the append-only log: refusing writes until it can");
                }
                aof.set_failing(Some(&e));
                crate::runtime::timer::sleep(RETRY).await;
            }
            Ok(upto) => {
                if aof.failing.get() {
                    tracing::info!("the append-only log is written again: writes resume");
                }
                aof.set_failing(None);
                aof.progress(upto);
            }
        }
    }
}

/// Write and sync what files a rewrite retired still held, then close them.
async fn flush_retiring(aof: &Aof) -> std::io::Result<()> {
    loop {
        let next = {
            let mut r = aof.retiring.borrow_mut();
            (!r.is_empty()).then(|| r.remove(0))
        };
        let Some((file, rest)) = next else {
            return Ok(());
        };
        let (res, rest) = write_out(&file, rest).await;
        let res = match res {
            Ok(()) => crate::runtime::file::sync_data(file.file.as_raw_fd()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            aof.retiring.borrow_mut().insert(0, (file, rest));
            return Err(e);
        }
    }
}

/// Write the current file's buffered records (every record the core applied
/// since the last flush: group commit) and sync them when the policy says so.
async fn flush_current(
    aof: &Aof,
    unsynced: &mut bool,
    last_sync: &mut Instant,
) -> std::io::Result<()> {
    let Some(file) = aof.file.borrow().clone() else {
        return Ok(());
    };
    let spare = std::mem::take(&mut *aof.spare.borrow_mut());
    let pending = std::mem::replace(&mut *aof.buf.borrow_mut(), spare);
    let wrote = !pending.is_empty();
    let always = aof.fsync.get() == Fsync::Always;
    // Under `always`, records go into synced room with one durable direct
    // write where the file system allows it, else are written and synced.
    let direct = file
        .direct
        .as_ref()
        .filter(|_| always && wrote && !*unsynced);
    let (res, mut pending) = if always && wrote {
        match (make_room(&file, pending.len() as u64).await, direct) {
            (Err(e), _) => (Err(e), pending),
            (Ok(()), Some(fd)) => {
                aof.writing_durably.set(true);
                let done = write_direct(&file, fd, pending).await;
                aof.writing_durably.set(false);
                done
            }
            (Ok(()), None) => write_out(&file, pending).await,
        }
    } else {
        write_out(&file, pending).await
    };
    if let Err(e) = res {
        // Put the records back in front of what came meanwhile.
        let mut buf = aof.buf.borrow_mut();
        pending.extend_from_slice(&buf);
        *buf = pending;
        return Err(e);
    }
    if direct.is_some() {
        *last_sync = Instant::now();
        bump(&aof.syncs);
    } else {
        *unsynced |= wrote;
    }
    // Keep the allocation for the flush after next, unless a burst made it
    // big.
    pending.clear();
    if pending.capacity() <= SPARE_MAX {
        *aof.spare.borrow_mut() = pending;
    }
    let sync_now = match aof.fsync.get() {
        Fsync::Always => true,
        Fsync::EverySec => last_sync.elapsed() >= SYNC_EVERY,
        Fsync::No => false,
    };
    if sync_now && *unsynced {
        crate::runtime::file::sync_data(file.file.as_raw_fd()).await?;
        *unsynced = false;
        *last_sync = Instant::now();
        bump(&aof.syncs);
    }
    Ok(())
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// Under `always`: make sure `need` more bytes of records go into zeroed
/// room that is already on the disk (written and synced), so that the
/// records' sync overwrites data and commits no metadata (see
/// `persist::log`, "Room written ahead").
async fn make_room(file: &LogFile, need: u64) -> std::io::Result<()> {
    let end = file.len.get() + need;
    if file.room.get() >= end {
        return Ok(());
    }
    // From a block boundary, so that a direct write's padded last block
    // never reaches past the synced room (records written without room, as
    // under `everysec`, may end mid-block).
    let mut room = file
        .room
        .get()
        .max(file.len.get())
        .next_multiple_of(BLOCK as u64);
    while room < end {
        let zeros = BytesMut::zeroed(ROOM as usize);
        let (res, _) =
            crate::runtime::file::write_all_at(file.file.as_raw_fd(), zeros, room, false).await;
        res?;
        room += ROOM;
    }
    crate::runtime::file::sync_data(file.file.as_raw_fd()).await?;
    file.room.set(room);
    Ok(())
}

/// The block size direct writes are aligned to (memory, offset and length).
const BLOCK: usize = 4096;

/// Write `bytes` at the end of `file` durably, with one `O_DIRECT` write
/// into room [`make_room`] made, linked to an `fdatasync`: the last partial
/// block is written again with what it held (kept in `LogFile::tail`) and
/// zeros pad the new last block, as the room on the disk holds. The pair goes
/// to the kernel in one submission and needs no turn of the core between
/// them (see the module doc for what it measured). `direct` is the file's
/// `O_DIRECT` descriptor.
async fn write_direct(
    file: &LogFile,
    direct: &File,
    bytes: BytesMut,
) -> (std::io::Result<()>, BytesMut) {
    let len = file.len.get();
    let start = len - (len % BLOCK as u64);
    let out = blocks(&file.tail.borrow(), &bytes);
    let (res, _) = crate::runtime::file::write_all_at_synced(direct.as_raw_fd(), out, start).await;
    if res.is_ok() {
        file.advance(&bytes);
    }
    (res, bytes)
}

/// `tail` then `bytes`, padded with zeros to whole blocks, in memory aligned
/// to a block (as `O_DIRECT` needs).
fn blocks(tail: &[u8], bytes: &[u8]) -> BytesMut {
    let padded = (tail.len() + bytes.len()).div_ceil(BLOCK) * BLOCK;
    let mut out = BytesMut::with_capacity(padded + BLOCK);
    let skip = out.as_ptr().align_offset(BLOCK);
    out.resize(skip, 0);
    let _ = out.split_to(skip);
    // Within the capacity reserved above: nothing reallocates, so the start
    // stays aligned.
    out.extend_from_slice(tail);
    out.extend_from_slice(bytes);
    out.resize(padded, 0);
    debug_assert_eq!(out.as_ptr().align_offset(BLOCK), 0);
    out
}

/// Write `bytes` at the end of `file`, counting them in; the buffer comes
/// back either way.
async fn write_out(file: &LogFile, bytes: BytesMut) -> (std::io::Result<()>, BytesMut) {
    if bytes.is_empty() {
        return (Ok(()), bytes);
    }
    let (res, back) =
        crate::runtime::file::write_all_at(file.file.as_raw_fd(), bytes, file.len.get(), false)
            .await;
    if res.is_ok() {
        file.advance(&back);
    }
    (res, back)
}

/// A new log file for `gen` in `dir` (created, never overwritten).
pub fn create_log(
    dir: &std::path::Path,
    name: &str,
    core: usize,
    gen: u64,
) -> std::io::Result<LogFile> {
    let path = dir.join(log_name(name, core, gen));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .ok();
    Ok(LogFile {
        file,
        gen,
        len: Cell::new(0),
        room: Cell::new(0),
        direct,
        tail: RefCell::new(Vec::new()),
    })
}

/// `<appendfilename>.<core>.<gen>.log`
pub fn log_name(name: &str, core: usize, gen: u64) -> String {
    format!("{name}.{core}.{gen}.log")
}

/// `<appendfilename>.<core>.<gen>.base.rdb`
pub fn base_name(name: &str, core: usize, gen: u64) -> String {
    format!("{name}.{core}.{gen}.base.rdb")
}

/// `<appendfilename>.manifest`: which generation's bases are complete.
pub fn manifest_name(name: &str) -> String {
    format!("{name}.manifest")
}

/// Keys of an op, cloned before it runs so they can be logged after.
pub fn keys_of(op: &crate::storage::ops::Op) -> LoggedKeys {
    use crate::storage::ops::{CoreOp, Op};
    match op {
        Op::Key { key, .. } => LoggedKeys::One(key.clone()),
        Op::Core(CoreOp::MSetNx { pairs }) => {
            LoggedKeys::Many(pairs.iter().map(|(k, _)| k.clone()).collect())
        }
        Op::Core(CoreOp::Rename { src, dst, .. }) => {
            LoggedKeys::Many(vec![src.clone(), dst.clone()])
        }
        Op::Core(CoreOp::Copy { dst, .. }) => LoggedKeys::One(dst.clone()),
        Op::Core(CoreOp::Flush) => LoggedKeys::Flush,
        Op::Core(_) => LoggedKeys::None,
    }
}

/// What [`keys_of`] found.
pub enum LoggedKeys {
    None,
    One(Bytes),
    Many(Vec<Bytes>),
    Flush,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_partial_block_whatever_the_write_sizes() {
        let dir = std::env::temp_dir().join(format!("stairkv-aof-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = create_log(&dir, "t", 0, 1).expect("create");
        let mut all = Vec::new();
        for (i, n) in [36usize, 100, 4000, 5000, 0, 8192, 1, 4095, 3]
            .iter()
            .enumerate()
        {
            let bytes = vec![i as u8 + 1; *n];
            file.advance(&bytes);
            all.extend_from_slice(&bytes);
            assert_eq!(file.len.get(), all.len() as u64);
            let start = all.len() - all.len() % BLOCK;
            assert_eq!(&file.tail.borrow()[..], &all[start..], "after write {i}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn blocks_are_aligned_whole_and_zero_padded() {
        for (t, b) in [
            (0usize, 1usize),
            (100, 3996),
            (4095, 2),
            (0, 8192),
            (17, 9000),
        ] {
            let out = blocks(&vec![1; t], &vec![2; b]);
            assert_eq!(out.as_ptr().align_offset(BLOCK), 0);
            assert_eq!(out.len() % BLOCK, 0);
            assert!(out.len() >= t + b && out.len() < t + b + BLOCK);
            assert!(out[..t].iter().all(|&x| x == 1) && out[t..t + b].iter().all(|&x| x == 2));
            assert!(out[t + b..].iter().all(|&x| x == 0));
        }
    }
}
