//! One core's append-only log: its byte format, the encoder the core's write
//! path calls, and (in [`read`]) the reader recovery, a future replica and
//! `stairkv check` ([`check`]) use. It owns the format and nothing else: it
//! never opens, writes or syncs a file on a core's thread (the core writes the
//! bytes it encodes here through its own ring), and it never interprets a
//! command — replay does, one floor up.
//!
//! # Format (version 1; all integers little-endian)
//!
//! ```text
//! file    := header frame*
//! header  := "STAIRLOG" version:u16 core:u16 flags:u32
//!            start_lsn:u64 epoch:u64 crc:u32          (36 bytes; crc = CRC-32C of the 32 before)
//! frame   := len:u32 len_crc:u32 crc:u32 payload[len] (len_crc = CRC-32C of len's 4 bytes,
//!                                                      crc = CRC-32C of the payload)
//! payload := lsn:u64 epoch:u64 shard:u32 kind:u8 body
//! ```
//!
//! `flags` bit 0 (`zero_tail`): the writer pre-writes zeros ahead of its
//! records, so zeros from a frame boundary to the end of the file are room not
//! yet used — the clean end — rather than a torn tail. Other bits are 0.
//!
//! `kind` and `body` ([`Op`]): 1 `Write` (a RESP multibulk command: what the
//! server writes is the key's state after a change, `SET k v [PXAT t]` or
//! `DEL k`; an eviction is a `DEL`, as Redis logs it), 2 `Import` (from:u16
//! then a RESP command: an entry that arrived by migration, as this core
//! stored it), 11 `Claim` (base:u8 (0|1), count:u32, then count × (start:u64,
//! end:u64; 0 = open): the scan-position intervals this core vouches for, see
//! [`Op::Claim`]). Kinds 3–10 mark staircase events (3 `ShardLeaving`
//! (to:u16), 4 `ShardLeft` (to:u16), 5 `ShardArriving` (from:u16),
//! 6 `ShardArrived` (from:u16), 7 `SplitBegin` (new_shard:u32), 8 `SplitDone`
//! (new_shard:u32), 9 `MergeBegin` (from_shard:u32), 10 `MergeDone`
//! (from_shard:u32)): the format holds them for a replica that wants them;
//! recovery needs none (see below) and the server writes none today.
//! 12 `TxWrite` (tx:u64 then a RESP command: a `Write` made by transaction
//! `tx`), 13 `TxEnd` (tx:u64, parts:u16: transaction `tx` is over on this
//! core, and `parts` cores each log one such record for it) and 14
//! `TxCommit` (tx:u64: every part of `tx` is durable) and 15 `TxClaim`
//! (tx:u64, then a claim's count and intervals: a `FLUSHALL`'s claim made by
//! transaction `tx`, which a plain FLUSHALL is too): see "A transaction's
//! records" below. A body must fill its payload exactly, and a
//! RESP body is exactly one canonical multibulk request of at least one
//! argument.
//!
//! # Why this shape
//!
//! - **Positions.** `lsn` is dense: the first record carries the header's
//!   `start_lsn` and each next one the previous plus one. A reader checks it, so
//!   a lost, doubled or spliced record is corruption, never a silent gap; a
//!   replica resumes from "core C, position N". A core's positions go on across
//!   its files (a rewrite's new generation, a restart's), so a position names
//!   one record for good.
//! - **The order of replay.** Each record carries the routing-table epoch its
//!   core applied it under; a core's epoch only grows, and the reader refuses a
//!   log whose epochs go back. Records are key states, so replay keeps each
//!   key's newest record by (epoch, then generation and position on one core),
//!   and claims void what they cover: `persist::replay` says why that is the
//!   acknowledged state whatever migrations, splits and merges happened.
//! - **Framing.** The length has its own checksum, so a length that passes is
//!   the one written: a torn tail (a last write cut short by a crash, or pages
//!   of it never written: zeros) is told apart from corruption in the middle
//!   (a bad frame with data after it) — the first is dropped with a warning as
//!   Redis's `aof-load-truncated yes` does, the second stops the start (see
//!   [`read`] for the exact rule). An all-zero header fails its check, so a
//!   zeroed region never reads as records. The payload checksum covers the
//!   position and epoch too.
//! - **Cheap to write.** [`LogWriter::append`] appends one frame to the
//!   caller's `BytesMut` (the core's batch for one ring turn, flushed with one
//!   write and, under `appendfsync always`, one sync: group commit) and
//!   allocates nothing beyond that buffer's growth. RESP bodies keep the log
//!   readable with the tools people have and let a replica forward a command
//!   as it is.
//! - **Room written ahead.** Under `appendfsync always` the server keeps
//!   zeroed, already-synced room ahead of its records (`zero_tail`): a sync of
//!   records written into it is a pure data overwrite, without the journal
//!   commit that growing the file costs (on ext4, 120–135 µs against 185–200 µs
//!   per write and `fdatasync` here).
//!
//! # A transaction's records
//!
//! A transaction (MULTI/EXEC, a script) that holds locks may change keys on
//! several cores, each logging its own part to its own file, flushed on its
//! own schedule: a crash can keep one core's part and lose another's. So
//! every change a transaction makes is a `TxWrite` carrying its id, and when
//! it lets go, each core it held (written on or not) logs a `TxEnd` with
//! the number of cores it held. Recovery applies a transaction's `TxWrite`s
//! only when it finds that many `TxEnd`s (one per core): all of it or none,
//! as Redis drops a `MULTI` its AOF lost the `EXEC` of. Under `appendfsync
//! always` every core syncs its part before it answers, so the core running
//! the transaction knows at its end that all of it is durable and logs a
//! `TxCommit`, synced with its own part before the reply: that counts as
//! every end, so no core logs one then, and the reply waits for no other
//! core. Ids are unique
//! across the server's restarts (the core layer seeds them above any id in
//! the logs), so a new transaction never completes an old one. A rewrite
//! begins while no transaction holds anything, so a base never holds part
//! of a transaction whose other part a log still needs (`core::rewrite`).

pub mod check;
pub mod read;
#[cfg(test)]
mod tests;

use bytes::{BufMut, BytesMut};

use crate::protocol::ascii::format_u64;
use crate::storage::staircase::ShardId;

pub use check::{check_log, CheckReport};
pub use read::{LogReader, Stop};

/// The file's first 8 bytes.
pub const MAGIC: [u8; 8] = *b"STAIRLOG";
/// The format this code writes and the only one it reads.
pub const VERSION: u16 = 1;
/// Bytes of the file header.
pub const HEADER_LEN: usize = 36;
/// Bytes of a frame's header (`len`, `len_crc`, `crc`).
pub const FRAME_LEN: usize = 12;
/// Bytes of a payload before its body (`lsn`, `epoch`, `shard`, `kind`).
pub const PAYLOAD_FIXED: usize = 21;
/// The shard of a record that is not about one shard (a claim).
pub const NO_SHARD: ShardId = ShardId::MAX;
/// The largest payload a frame holds (its `len` field is a `u32`).
pub const MAX_PAYLOAD: usize = u32::MAX as usize;

/// CRC-32C (Castagnoli, as iSCSI, ext4 and RocksDB use) of `bytes`: the
/// `crc32c` crate uses the CPU's own instruction (SSE 4.2, ARMv8) where it
/// has one — a record's checksums were 2.5% of a core's time at
/// `redis-benchmark -P 16` with slice-by-16 tables.
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// What a log file says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The core whose writes the file holds.
    pub core: u16,
    /// The position of the file's first record.
    pub start_lsn: u64,
    /// The routing-table epoch when the file was started; no record is older.
    pub epoch: u64,
    /// Zeros after the last record are pre-written room, not a torn tail.
    pub zero_tail: bool,
}

/// `flags` bit: see [`Header::zero_tail`].
const FLAG_ZERO_TAIL: u32 = 1;

impl Header {
    /// Appends the 36-byte header to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_slice(&MAGIC);
        out.put_u16_le(VERSION);
        out.put_u16_le(self.core);
        out.put_u32_le(if self.zero_tail { FLAG_ZERO_TAIL } else { 0 });
        out.put_u64_le(self.start_lsn);
        out.put_u64_le(self.epoch);
        let crc = crc32c(&out[start..]);
        out.put_u32_le(crc);
    }

    /// Reads a whole header; the error says what is wrong with it.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Header, String> {
        if b[..8] != MAGIC {
            return Err("not a stairkv log (bad magic)".into());
        }
        let crc = le_u32(&b[32..36]);
        if crc != crc32c(&b[..32]) {
            return Err("header checksum mismatch".into());
        }
        let version = le_u16(&b[8..10]);
        if version != VERSION {
            return Err(format!(
                "log format version {version}, this stairkv reads {VERSION}"
            ));
        }
        let flags = le_u32(&b[12..16]);
        if flags & !FLAG_ZERO_TAIL != 0 {
            return Err(format!("unknown header flags {flags:#x}"));
        }
        Ok(Header {
            core: le_u16(&b[10..12]),
            start_lsn: le_u64(&b[16..24]),
            epoch: le_u64(&b[24..32]),
            zero_tail: flags & FLAG_ZERO_TAIL != 0,
        })
    }
}

/// A command's arguments: given one by one (to encode), or as the canonical
/// RESP multibulk bytes a record holds (decoded, or to copy into another log
/// as they are).
#[derive(Clone, Copy, Debug)]
pub enum Cmd<'a> {
    Args(&'a [&'a [u8]]),
    /// A validated multibulk (see [`validate_multibulk`]).
    Resp(&'a [u8]),
}

impl<'a> Cmd<'a> {
    /// The arguments, in order.
    pub fn args(&self) -> CmdArgs<'a> {
        match *self {
            Cmd::Args(a) => CmdArgs::Args(a.iter()),
            Cmd::Resp(r) => {
                // Skip `*N\r\n`; validation guaranteed the shape.
                let at = r
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(r.len(), |i| i + 1);
                CmdArgs::Resp(&r[at..])
            }
        }
    }

    /// How many arguments.
    pub fn len(&self) -> usize {
        match *self {
            Cmd::Args(a) => a.len(),
            Cmd::Resp(_) => self.args().count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn encode(&self, out: &mut BytesMut) {
        match *self {
            Cmd::Resp(r) => out.put_slice(r),
            Cmd::Args(args) => {
                let mut digits = [0u8; 20];
                out.put_u8(b'*');
                out.put_slice(format_u64(args.len() as u64, &mut digits));
                out.put_slice(b"\r\n");
                for a in args {
                    out.put_u8(b'$');
                    out.put_slice(format_u64(a.len() as u64, &mut digits));
                    out.put_slice(b"\r\n");
                    out.put_slice(a);
                    out.put_slice(b"\r\n");
                }
            }
        }
    }
}

impl PartialEq for Cmd<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.args().eq(other.args())
    }
}

impl Eq for Cmd<'_> {}

/// Iterator over a [`Cmd`]'s arguments.
pub enum CmdArgs<'a> {
    Args(std::slice::Iter<'a, &'a [u8]>),
    Resp(&'a [u8]),
}

impl<'a> Iterator for CmdArgs<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            CmdArgs::Args(it) => it.next().copied(),
            CmdArgs::Resp(rest) => {
                // `$len\r\n<bytes>\r\n`, validated before a `Cmd::Resp` exists;
                // a malformed rest (only reachable by building `Cmd::Resp` from
                // unvalidated bytes) ends the iteration instead of panicking.
                let r: &'a [u8] = rest;
                let nl = r.iter().position(|&b| b == b'\n')?;
                let len: usize = std::str::from_utf8(r.get(1..nl.checked_sub(1)?)?)
                    .ok()?
                    .parse()
                    .ok()?;
                let arg = r.get(nl + 1..nl + 1 + len)?;
                *rest = r.get(nl + 3 + len..).unwrap_or(&[]);
                Some(arg)
            }
        }
    }
}

/// What a record says happened. The staircase events name the other core or
/// the other shard; the record's own `shard` is the one the event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// A write this core applied, as the command that reproduces it.
    Write(Cmd<'a>),
    /// An entry of a migrating shard, arrived from core `from` and applied here.
    Import { from: u16, cmd: Cmd<'a> },
    /// The table gave the shard to core `to` at this record's epoch: this core
    /// logs no more writes for it.
    ShardLeaving { to: u16 },
    /// Core `to` has every entry of the shard; this core dropped its copy.
    ShardLeft { to: u16 },
    /// The shard started arriving from core `from`.
    ShardArriving { from: u16 },
    /// Every entry of the shard arrived from core `from`.
    ShardArrived { from: u16 },
    /// The shard started splitting into itself and `new_shard`.
    SplitBegin { new_shard: ShardId },
    /// The split into `new_shard` finished.
    SplitDone { new_shard: ShardId },
    /// `from_shard` started merging back into the shard.
    MergeBegin { from_shard: ShardId },
    /// The merge of `from_shard` finished.
    MergeDone { from_shard: ShardId },
    /// This core vouches, at this record's position, for every key whose scan
    /// position lies in `intervals` (the shards it owned then): whatever any
    /// log said of those keys before is void. A `FLUSHALL` logs one (with
    /// `base: false`); a log rewrite starts its new file with one (`base:
    /// true`) that stands for the base snapshot written beside it and counts
    /// only once that base is complete.
    Claim {
        base: bool,
        intervals: Intervals<'a>,
    },
    /// A write transaction `tx` made (see "A transaction's records").
    TxWrite { tx: u64, cmd: Cmd<'a> },
    /// Transaction `tx` let go of this core; each of `parts` cores logs one.
    TxEnd { tx: u64, parts: u16 },
    /// Every part of transaction `tx`, on every core, is durable (logged by
    /// the core that ran it, under `appendfsync always`).
    TxCommit { tx: u64 },
    /// A claim (never a base's) made by transaction `tx`: a FLUSHALL, which
    /// every core logs, counts on all of them or none.
    TxClaim { tx: u64, intervals: Intervals<'a> },
}

/// Half-open intervals of scan positions (`end == None`: to the end of the
/// position space), given as a list (to encode) or as a record's validated
/// body bytes (decoded): `count:u32` then `count` × (`start:u64`, `end:u64`,
/// an `end` of 0 meaning none, since no interval ends at 0).
#[derive(Clone, Copy, Debug)]
pub enum Intervals<'a> {
    List(&'a [(u64, Option<u64>)]),
    Raw(&'a [u8]),
}

impl<'a> Intervals<'a> {
    /// The intervals, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Option<u64>)> + 'a {
        let (list, raw): (&'a [(u64, Option<u64>)], &'a [u8]) = match *self {
            Intervals::List(l) => (l, &[]),
            Intervals::Raw(r) => (&[], r.get(4..).unwrap_or(&[])),
        };
        list.iter().copied().chain(raw.chunks_exact(16).map(|c| {
            let end = le_u64(&c[8..16]);
            (le_u64(&c[..8]), (end != 0).then_some(end))
        }))
    }

    /// Whether scan position `pos` lies in one of them.
    pub fn contain(&self, pos: u64) -> bool {
        self.iter()
            .any(|(start, end)| pos >= start && end.is_none_or(|e| pos < e))
    }

    fn encode(&self, out: &mut BytesMut) {
        match *self {
            Intervals::Raw(r) => out.put_slice(r),
            Intervals::List(l) => {
                out.put_u32_le(l.len() as u32);
                for &(start, end) in l {
                    out.put_u64_le(start);
                    out.put_u64_le(end.unwrap_or(0));
                }
            }
        }
    }
}

impl PartialEq for Intervals<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Intervals<'_> {}

impl Op<'_> {
    /// The transaction a record belongs to, if it is a transaction's.
    pub fn tx(&self) -> Option<u64> {
        match *self {
            Op::TxWrite { tx, .. }
            | Op::TxEnd { tx, .. }
            | Op::TxCommit { tx }
            | Op::TxClaim { tx, .. } => Some(tx),
            _ => None,
        }
    }

    /// The `kind` byte.
    pub fn kind(&self) -> u8 {
        match self {
            Op::Write(_) => 1,
            Op::Import { .. } => 2,
            Op::ShardLeaving { .. } => 3,
            Op::ShardLeft { .. } => 4,
            Op::ShardArriving { .. } => 5,
            Op::ShardArrived { .. } => 6,
            Op::SplitBegin { .. } => 7,
            Op::SplitDone { .. } => 8,
            Op::MergeBegin { .. } => 9,
            Op::MergeDone { .. } => 10,
            Op::Claim { .. } => 11,
            Op::TxWrite { .. } => 12,
            Op::TxEnd { .. } => 13,
            Op::TxCommit { .. } => 14,
            Op::TxClaim { .. } => 15,
        }
    }

    fn encode_body(&self, out: &mut BytesMut) {
        match *self {
            Op::Write(cmd) => cmd.encode(out),
            Op::Import { from, cmd } => {
                out.put_u16_le(from);
                cmd.encode(out);
            }
            Op::ShardLeaving { to: c }
            | Op::ShardLeft { to: c }
            | Op::ShardArriving { from: c }
            | Op::ShardArrived { from: c } => out.put_u16_le(c),
            Op::SplitBegin { new_shard: s }
            | Op::SplitDone { new_shard: s }
            | Op::MergeBegin { from_shard: s }
            | Op::MergeDone { from_shard: s } => out.put_u32_le(s),
            Op::Claim { base, intervals } => {
                out.put_u8(u8::from(base));
                intervals.encode(out);
            }
            Op::TxWrite { tx, cmd } => {
                out.put_u64_le(tx);
                cmd.encode(out);
            }
            Op::TxEnd { tx, parts } => {
                out.put_u64_le(tx);
                out.put_u16_le(parts);
            }
            Op::TxCommit { tx } => out.put_u64_le(tx),
            Op::TxClaim { tx, intervals } => {
                out.put_u64_le(tx);
                intervals.encode(out);
            }
        }
    }
}

/// One record: its position, the epoch it was applied under, its shard and
/// what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub lsn: u64,
    pub epoch: u64,
    pub shard: ShardId,
    pub op: Op<'a>,
}

impl<'a> Record<'a> {
    /// Appends the record's frame to `out`; on error `out` is as it was.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_bytes(0, FRAME_LEN);
        out.put_u64_le(self.lsn);
        out.put_u64_le(self.epoch);
        out.put_u32_le(self.shard);
        out.put_u8(self.op.kind());
        self.op.encode_body(out);
        let len = out.len() - start - FRAME_LEN;
        let Ok(len32) = u32::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::TooLarge(len));
        };
        let crc = crc32c(&out[start + FRAME_LEN..]);
        let len_bytes = len32.to_le_bytes();
        out[start..start + 4].copy_from_slice(&len_bytes);
        out[start + 4..start + 8].copy_from_slice(&crc32c(&len_bytes).to_le_bytes());
        out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Reads a payload whose checksum already passed; the error says what in
    /// it breaks the format.
    pub fn decode(p: &'a [u8]) -> Result<Record<'a>, String> {
        if p.len() < PAYLOAD_FIXED {
            return Err(format!("record payload of {} bytes is too short", p.len()));
        }
        let lsn = le_u64(&p[0..8]);
        let epoch = le_u64(&p[8..16]);
        let shard = le_u32(&p[16..20]);
        let kind = p[20];
        let body = &p[PAYLOAD_FIXED..];
        let fixed = |n: usize| -> Result<&[u8], String> {
            if body.len() == n {
                Ok(body)
            } else {
                Err(format!(
                    "record kind {kind} has a {}-byte body, expected {n}",
                    body.len()
                ))
            }
        };
        let op = match kind {
            1 => Op::Write(resp_body(body)?),
            2 => {
                if body.len() < 2 {
                    return Err("import record without its source core".into());
                }
                Op::Import {
                    from: le_u16(&body[..2]),
                    cmd: resp_body(&body[2..])?,
                }
            }
            3 => Op::ShardLeaving {
                to: le_u16(fixed(2)?),
            },
            4 => Op::ShardLeft {
                to: le_u16(fixed(2)?),
            },
            5 => Op::ShardArriving {
                from: le_u16(fixed(2)?),
            },
            6 => Op::ShardArrived {
                from: le_u16(fixed(2)?),
            },
            7 => Op::SplitBegin {
                new_shard: le_u32(fixed(4)?),
            },
            8 => Op::SplitDone {
                new_shard: le_u32(fixed(4)?),
            },
            9 => Op::MergeBegin {
                from_shard: le_u32(fixed(4)?),
            },
            10 => Op::MergeDone {
                from_shard: le_u32(fixed(4)?),
            },
            11 => {
                let (&flag, raw) = body.split_first().ok_or("claim record without its flag")?;
                if flag > 1 {
                    return Err(format!("claim record with flag {flag}"));
                }
                Op::Claim {
                    base: flag == 1,
                    intervals: intervals_body(raw)?,
                }
            }
            12 => {
                if body.len() < 8 {
                    return Err("transaction write without its id".into());
                }
                Op::TxWrite {
                    tx: le_u64(&body[..8]),
                    cmd: resp_body(&body[8..])?,
                }
            }
            13 => {
                let b = fixed(10)?;
                let parts = le_u16(&b[8..10]);
                if parts == 0 {
                    return Err("transaction end of 0 parts".into());
                }
                Op::TxEnd {
                    tx: le_u64(&b[..8]),
                    parts,
                }
            }
            14 => Op::TxCommit {
                tx: le_u64(fixed(8)?),
            },
            15 => {
                if body.len() < 8 {
                    return Err("transaction claim without its id".into());
                }
                Op::TxClaim {
                    tx: le_u64(&body[..8]),
                    intervals: intervals_body(&body[8..])?,
                }
            }
            k => return Err(format!("unknown record kind {k}")),
        };
        Ok(Record {
            lsn,
            epoch,
            shard,
            op,
        })
    }
}

/// A claim's `count:u32` and intervals, filling `raw` exactly.
fn intervals_body(raw: &[u8]) -> Result<Intervals<'_>, String> {
    let count = raw
        .get(..4)
        .map(le_u32)
        .ok_or("claim record without its count")?;
    if (raw.len() - 4) as u64 != u64::from(count) * 16 {
        return Err(format!(
            "claim record of {count} intervals has {} bytes of them",
            raw.len() - 4
        ));
    }
    Ok(Intervals::Raw(raw))
}

fn resp_body(body: &[u8]) -> Result<Cmd<'_>, String> {
    validate_multibulk(body).map_err(|e| format!("bad command in record: {e}"))?;
    Ok(Cmd::Resp(body))
}

/// Checks that `b` is exactly one multibulk request of at least one argument,
/// spelled canonically (no sign, no leading zero), with nothing after it. It
/// walks the bytes once and allocates nothing: every length is checked
/// against the bytes that remain before it is used.
pub fn validate_multibulk(b: &[u8]) -> Result<(), &'static str> {
    fn number(b: &[u8], at: &mut usize, mark: u8) -> Result<usize, &'static str> {
        if b.get(*at) != Some(&mark) {
            return Err("expected a length marker");
        }
        let digits_start = *at + 1;
        let mut i = digits_start;
        let mut n: usize = 0;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i > digits_start && b[digits_start] == b'0' {
                return Err("length with a leading zero");
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .ok_or("length overflows")?;
            i += 1;
        }
        if i == digits_start {
            return Err("length without digits");
        }
        if b.get(i..i + 2) != Some(b"\r\n") {
            return Err("length not ended by CRLF");
        }
        *at = i + 2;
        Ok(n)
    }
    let mut at = 0;
    let count = number(b, &mut at, b'*')?;
    if count == 0 {
        return Err("command without arguments");
    }
    // Every argument takes at least 6 bytes (`$0\r\n\r\n`).
    if count > (b.len() - at) / 6 {
        return Err("more arguments than bytes");
    }
    for _ in 0..count {
        let len = number(b, &mut at, b'$')?;
        if len > b.len() - at || b.len() - at - len < 2 {
            return Err("argument longer than the record");
        }
        at += len;
        if &b[at..at + 2] != b"\r\n" {
            return Err("argument not ended by CRLF");
        }
        at += 2;
    }
    if at != b.len() {
        return Err("bytes after the command");
    }
    Ok(())
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("a log record of {0} bytes is larger than a frame holds (4 GiB)")]
    TooLarge(usize),
    #[error("epoch {epoch} is older than the log's {last}")]
    EpochWentBack { epoch: u64, last: u64 },
}

/// One core's position in its log: hands out the next LSN and keeps the
/// epochs from going back. The core owns one and calls [`LogWriter::append`]
/// for every change it applies, into the buffer it flushes.
#[derive(Debug, Clone)]
pub struct LogWriter {
    next_lsn: u64,
    epoch: u64,
}

impl LogWriter {
    /// A writer that goes on after `header` (a new file) or after the last
    /// good record a [`LogReader`] read (`next_lsn`, `epoch`: see
    /// [`LogReader::next_lsn`], [`LogReader::epoch`]).
    pub fn new(next_lsn: u64, epoch: u64) -> LogWriter {
        LogWriter { next_lsn, epoch }
    }

    /// Starts a new file: appends its header to `out` and returns the writer
    /// whose first record will carry `start_lsn`. The header allows room
    /// written ahead ([`Header::zero_tail`]) whether or not the writer uses it.
    pub fn start(out: &mut BytesMut, core: u16, start_lsn: u64, epoch: u64) -> LogWriter {
        Header {
            core,
            start_lsn,
            epoch,
            zero_tail: true,
        }
        .encode(out);
        LogWriter::new(start_lsn, epoch)
    }

    /// Appends one record (the next position, under `epoch`) to `out` and
    /// returns its LSN. On error nothing was appended and no position used.
    pub fn append(
        &mut self,
        out: &mut BytesMut,
        epoch: u64,
        shard: ShardId,
        op: Op<'_>,
    ) -> Result<u64, EncodeError> {
        if epoch < self.epoch {
            return Err(EncodeError::EpochWentBack {
                epoch,
                last: self.epoch,
            });
        }
        let lsn = self.next_lsn;
        Record {
            lsn,
            epoch,
            shard,
            op,
        }
        .encode(out)?;
        self.next_lsn += 1;
        self.epoch = epoch;
        Ok(lsn)
    }

    /// The position the next record will get.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// The newest epoch written.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

fn le_u16(b: &[u8]) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[..2]);
    u16::from_le_bytes(a)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}
