//! Recovery's rule: which of everything the logs and bases say about a key is
//! the last word. Fed every record of every core's files (in any order of
//! files), it keeps per key the newest state by position, and at the end
//! drops the keys a newer claim voided. It never reads a file (the core layer
//! does, and feeds it) and never touches a shard.
//!
//! # Why this order is the acknowledged state
//!
//! A whole record says what a key *is* after a change (`SET k v [PXAT t]`,
//! `OBJ k payload [PXAT t]` or `DEL k`), so replaying a key is choosing its
//! newest whole record, then applying the **deltas** (`persist::delta`:
//! fields, members, bits, ranges, a deadline) newer than it, oldest first. A
//! core logs a delta only for a key that was live before the op and still is
//! after it, so the key's whole state at the delta's moment is the newest
//! whole record before it plus the deltas between: a key made or remade
//! (after a delete, an expiry, a FLUSHALL) gets a whole record first, an
//! import by migration is whole, and a rewrite's base is the key as it was at
//! the base's claim (a point-in-time capture), which every delta after the
//! claim builds on. A claim newer than a key's whole record voids it and the
//! deltas before the claim alike.
//!
//! "Newest" is the order of [`Position`]: the routing-table epoch first, then
//! (within one core) the file generation, the part (a base's claim, the base,
//! the log) and the record's LSN. Epochs form one line (only core 0's
//! coordinator changes the staircase), and in any epoch a key's shard has one
//! owner, the only core that may change or log it: a migration gives a shard
//! to its new core by bumping the epoch on the source first, the source never
//! logs the shard again, and the target logs each key it installs or pulls
//! (an import is a `SET` of the key as it arrived) and every later change
//! under that epoch or a later one. So a key written on core A, moved to B,
//! written there and moved back to A has records in three epoch ranges on two
//! logs, and the newest is the last acknowledged one. A migration cut by a
//! crash leaves keys not yet installed with only the source's records: they
//! come back from the source, which is where they were. A split or merge moves
//! keys between shards of one core and changes no value: nothing to replay.
//! An expiry needs no record (the deadline is in the `SET`); an eviction is a
//! `DEL`, as in Redis.
//!
//! A core-wide change is a **claim**: "every key whose scan position lies in
//! these intervals (the shards this core owned) is, from here on, only what my
//! later records say". `FLUSHALL` logs one on every core; a log rewrite starts
//! the new file with one that stands for the base snapshot written beside it
//! (counted only when that base is complete). A claim voids every older record
//! of the keys it covers, on whatever core they were written — that is what
//! makes old records of a key that moved away and was deleted elsewhere stay
//! dead after that core rewrote its log.
//!
//! Positions are compared across cores by epoch alone; two cores never log
//! one key under one epoch (see above), and if a damaged history did, the
//! higher core number wins, deterministically.
//!
//! A transaction's records (`TxWrite`) count only when every core it held
//! logged its end (`TxEnd`, which says how many there are): a crash that
//! kept one core's part and lost another's drops the whole transaction
//! ([`Merge::settle`]) — unless the core that ran it logged that every part
//! was durable (`TxCommit`, under `always`). Its records then compete by position as any other:
//! the locks it held kept every other write to its keys before or after it.

use crate::storage::ops::Stored;
use bytes::Bytes;
use std::collections::HashMap;

use super::delta::{apply_all, Delta};

use super::log::{Cmd, Intervals};

/// Where a record sits in the history, ordered oldest to newest (see the
/// module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub epoch: u64,
    pub core: u16,
    pub gen: u64,
    pub part: Part,
    pub seq: u64,
}

/// A generation's parts, in their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The base's claim, read from the first record of the generation's log.
    Claim,
    /// The base snapshot's keys.
    Base,
    /// The log's records.
    Log,
}

/// A key's state: its value and deadline (unix ms), or gone.
pub type State = Option<(Stored, Option<u64>)>;

/// What a log's `Write`/`Import` command says of a key.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Bytes,
    pub edit: Edit,
}

/// A record's word on a key: its whole new state, or a change to apply to
/// the state before it.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    Becomes(State),
    Delta(Delta),
}

/// Reads a logged command: `SET k v`, `SET k v PXAT t`, `OBJ k payload`,
/// `OBJ k payload PXAT t` (a hash or set: its RDB type byte and body),
/// `DEL k`, or a delta (`persist::delta`), exactly as the core writes them;
/// anything else is not a record this code wrote.
pub fn change_of(cmd: Cmd<'_>) -> Result<Change, String> {
    let args: Vec<&[u8]> = cmd.args().collect();
    let upper = |a: &[u8]| a.to_ascii_uppercase();
    if let [name, key, rest @ ..] = args.as_slice() {
        if let Some(delta) = Delta::parse(&upper(name), rest) {
            return Ok(Change {
                key: Bytes::copy_from_slice(key),
                edit: Edit::Delta(delta?),
            });
        }
    }
    let state = |key: &[u8], state| Change {
        key: Bytes::copy_from_slice(key),
        edit: Edit::Becomes(state),
    };
    match args.as_slice() {
        [name, key] if upper(name) == b"DEL" => Ok(state(key, None)),
        [name, key, value] if upper(name) == b"SET" => Ok(state(
            key,
            Some((Stored::Str(Bytes::copy_from_slice(value)), None)),
        )),
        [name, key, value, px, at] if upper(name) == b"SET" && upper(px) == b"PXAT" => Ok(state(
            key,
            Some((Stored::Str(Bytes::copy_from_slice(value)), Some(pxat(at)?))),
        )),
        [name, key, payload] if upper(name) == b"OBJ" => {
            Ok(state(key, Some((object_of(payload)?, None))))
        }
        [name, key, payload, px, at] if upper(name) == b"OBJ" && upper(px) == b"PXAT" => {
            Ok(state(key, Some((object_of(payload)?, Some(pxat(at)?)))))
        }
        _ => {
            let name = args
                .first()
                .map(|a| String::from_utf8_lossy(a).into_owned());
            Err(format!(
                "a logged command this stairkv never writes: {} with {} arguments",
                name.unwrap_or_default(),
                args.len()
            ))
        }
    }
}

fn pxat(at: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(at)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| "a logged record with a bad PXAT".to_string())
}

/// A logged collection: its RDB type byte, then its RDB body.
fn object_of(payload: &[u8]) -> Result<Stored, String> {
    super::rdb::decode_object(payload)
        .map(|o| Stored::Obj(Box::new(o)))
        .map_err(|e| format!("a logged hash or set that does not decode: {e}"))
}

/// Scan-position intervals, as a claim lists them.
type Spans = Vec<(u64, Option<u64>)>;

/// The newest state per key, and the claims that may void them.
pub struct Merge {
    keys: HashMap<Bytes, (Position, State)>,
    /// Deltas newer than the key's whole record in `keys` (if any).
    deltas: HashMap<Bytes, Vec<(Position, Delta)>>,
    claims: Vec<(Position, Spans)>,
    /// A key's scan position (the hash the claims' intervals are over).
    pos_of: fn(&[u8]) -> u64,
    /// Transactions' records, until [`Merge::settle`] knows which are whole.
    tx_records: HashMap<u64, Vec<(Position, Bytes, Edit)>>,
    /// Per transaction: the cores that logged its end, and how many it had.
    tx_ends: HashMap<u64, (Vec<u16>, u16)>,
    /// Transactions' claims (a FLUSHALL), until [`Merge::settle`].
    tx_claims: HashMap<u64, Vec<(Position, Spans)>>,
    /// Transactions whose every part was durable (`TxCommit`).
    tx_commits: std::collections::HashSet<u64>,
}

/// What [`Merge::settle`] dropped: transactions a crash cut short.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub transactions: usize,
    pub records: usize,
}

impl Merge {
    pub fn new(pos_of: fn(&[u8]) -> u64) -> Merge {
        Merge {
            keys: HashMap::new(),
            deltas: HashMap::new(),
            claims: Vec::new(),
            pos_of,
            tx_records: HashMap::new(),
            tx_ends: HashMap::new(),
            tx_commits: Default::default(),
            tx_claims: HashMap::new(),
        }
    }

    /// A record transaction `tx` made: it counts once the transaction is
    /// known whole ([`Self::settle`]).
    pub fn tx_record(&mut self, tx: u64, at: Position, key: Bytes, edit: Edit) {
        self.tx_records.entry(tx).or_default().push((at, key, edit));
    }

    /// A claim transaction `tx` made (a FLUSHALL): it counts once the
    /// transaction is known whole.
    pub fn tx_claim(&mut self, tx: u64, at: Position, intervals: Intervals<'_>) {
        let spans = intervals.iter().collect();
        self.tx_claims.entry(tx).or_default().push((at, spans));
    }

    /// Core `core` logged the end of transaction `tx`, one of `parts`.
    pub fn tx_end(&mut self, tx: u64, core: u16, parts: u16) {
        let (cores, n) = self.tx_ends.entry(tx).or_insert((Vec::new(), parts));
        *n = (*n).max(parts);
        if !cores.contains(&core) {
            cores.push(core);
        }
    }

    /// The core that ran transaction `tx` logged that every part of it was
    /// durable: it is whole whatever ends a crash kept.
    pub fn tx_commit(&mut self, tx: u64) {
        self.tx_commits.insert(tx);
    }

    /// Apply the records of every transaction whose every part logged its
    /// end; drop the others' (a crash cut them short) and say how many.
    pub fn settle(&mut self) -> Dropped {
        let mut dropped = Dropped::default();
        let ends = std::mem::take(&mut self.tx_ends);
        let commits = std::mem::take(&mut self.tx_commits);
        let whole = |tx: &u64| {
            commits.contains(tx)
                || ends
                    .get(tx)
                    .is_some_and(|(cores, parts)| cores.len() == usize::from(*parts))
        };
        for (tx, claims) in std::mem::take(&mut self.tx_claims) {
            if whole(&tx) {
                self.claims.extend(claims);
            } else if !self.tx_records.contains_key(&tx) {
                dropped.transactions += 1;
            }
        }
        for (tx, records) in std::mem::take(&mut self.tx_records) {
            if whole(&tx) {
                for (at, key, edit) in records {
                    self.edit(at, key, edit);
                }
            } else {
                dropped.transactions += 1;
                dropped.records += records.len();
            }
        }
        dropped
    }

    /// One record of `key`, whole or a delta.
    pub fn edit(&mut self, at: Position, key: Bytes, edit: Edit) {
        match edit {
            Edit::Becomes(state) => self.record(at, key, state),
            Edit::Delta(d) => self.delta(at, key, d),
        }
    }

    /// One whole record of `key`: kept if it is the newest seen (and the
    /// deltas older than it dropped).
    pub fn record(&mut self, at: Position, key: Bytes, state: State) {
        if !self.deltas.is_empty() {
            if let Some(ds) = self.deltas.get_mut(&key) {
                ds.retain(|(p, _)| *p > at);
            }
        }
        match self.keys.get_mut(&key) {
            Some(seen) if seen.0 >= at => {}
            Some(seen) => *seen = (at, state),
            None => {
                self.keys.insert(key, (at, state));
            }
        }
    }

    /// One delta of `key`: kept unless a newer whole record is seen.
    pub fn delta(&mut self, at: Position, key: Bytes, d: Delta) {
        if self.keys.get(&key).is_some_and(|seen| seen.0 >= at) {
            return;
        }
        self.deltas.entry(key).or_default().push((at, d));
    }

    /// A claim at `at` over `intervals`.
    pub fn claim(&mut self, at: Position, intervals: Intervals<'_>) {
        self.claims.push((at, intervals.iter().collect()));
    }

    /// Keys in the merge so far, at most (gone ones included).
    pub fn len(&self) -> usize {
        self.keys.len() + self.deltas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.deltas.is_empty()
    }

    /// The keys that exist at the end: each one's newest whole state, unless
    /// a newer claim covers it, with its newer deltas applied (the second
    /// value counts deltas that did not fit their key's type: a damaged
    /// history). Deadlines are left to the caller (a key whose deadline
    /// passed is dropped at load, as everywhere).
    pub fn finish(mut self) -> (Vec<(Bytes, Stored, Option<u64>)>, usize) {
        self.claims.sort_by_key(|c| std::cmp::Reverse(c.0));
        let (claims, pos_of) = (self.claims, self.pos_of);
        let mut deltas = self.deltas;
        // The newest claim over `key` newer than `at` (any, without `at`).
        let voided_by = |key: &[u8], at: Option<Position>| {
            let pos = pos_of(key);
            claims
                .iter()
                .take_while(|(c, _)| at.is_none_or(|at| *c > at))
                .find(|(_, iv)| Intervals::List(iv).contain(pos))
                .map(|(c, _)| *c)
        };
        let mut misfits = 0;
        let mut out = Vec::with_capacity(self.keys.len());
        let mut settle = |key: Bytes, base: Option<Position>, state: State, ds: Option<Vec<_>>| {
            let (from, state) = match voided_by(&key, base) {
                Some(claim) => (Some(claim), None),
                None => (base, state),
            };
            let state = match ds {
                Some(mut ds) => {
                    ds.sort_by_key(|d: &(Position, Delta)| d.0);
                    let newer = ds.into_iter().filter(|(p, _)| from.is_none_or(|f| *p > f));
                    let (state, bad) = apply_all(state, newer.map(|(_, d)| d));
                    misfits += bad;
                    state
                }
                None => state,
            };
            if let Some((value, deadline)) = state {
                out.push((key, value, deadline));
            }
        };
        for (key, (at, state)) in self.keys {
            let ds = deltas.remove(&key);
            settle(key, Some(at), state, ds);
        }
        // Keys with deltas and no whole record (a damaged history, or
        // records a test feeds).
        for (key, ds) in deltas {
            settle(key, None, None, Some(ds));
        }
        (out, misfits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: u64, core: u16, gen: u64, part: Part, seq: u64) -> Position {
        Position {
            epoch,
            core,
            gen,
            part,
            seq,
        }
    }

    /// Positions are the keys' first byte, spread over the space.
    fn first_byte(key: &[u8]) -> u64 {
        u64::from(key.first().copied().unwrap_or(0)) << 56
    }

    fn set(v: &str) -> State {
        Some((Stored::Str(Bytes::copy_from_slice(v.as_bytes())), None))
    }

    fn result(m: Merge) -> Vec<(String, String)> {
        let mut v: Vec<_> = m
            .finish()
            .0
            .into_iter()
            .map(|(k, v, _)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    match v {
                        Stored::Str(v) => String::from_utf8_lossy(&v).into_owned(),
                        Stored::Obj(o) => format!("{o:?}"),
                    },
                )
            })
            .collect();
        v.sort();
        v
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn the_newest_record_wins_whatever_order_the_files_come_in() {
        // A key written on core 0, moved to core 1 (epoch 5), written there,
        // moved back (epoch 9) and written again; the files fed backwards.
        let mut m = Merge::new(first_byte);
        m.record(at(9, 0, 1, Part::Log, 40), b("k"), set("third"));
        m.record(at(5, 1, 1, Part::Log, 3), b("k"), set("second"));
        m.record(at(2, 0, 1, Part::Log, 7), b("k"), set("first"));
        // Within one core and epoch, the later LSN.
        m.record(at(2, 0, 1, Part::Log, 8), b("j"), set("b"));
        m.record(at(2, 0, 1, Part::Log, 6), b("j"), set("a"));
        // A later generation beats an earlier one's higher LSN.
        m.record(at(2, 0, 2, Part::Log, 1), b("g"), set("new"));
        m.record(at(2, 0, 1, Part::Log, 99), b("g"), set("old"));
        // A delete is a state too.
        m.record(at(3, 1, 1, Part::Log, 1), b("d"), set("v"));
        m.record(at(4, 1, 1, Part::Log, 2), b("d"), None);
        assert_eq!(
            result(m),
            vec![
                ("g".into(), "new".into()),
                ("j".into(), "b".into()),
                ("k".into(), "third".into())
            ]
        );
    }

    #[test]
    fn claims_void_older_records_they_cover_and_nothing_else() {
        let mut m = Merge::new(first_byte);
        // Core 0 owned "a…" and "b…" (positions below 0x63 << 56); core 1 "x…".
        let mine = [(0u64, Some(0x63u64 << 56))];
        m.record(at(3, 0, 1, Part::Log, 1), b("apple"), set("1"));
        m.record(at(3, 1, 1, Part::Log, 1), b("xray"), set("1"));
        // A key that moved to core 0 from core 1 before the flush: voided too.
        m.record(at(2, 1, 1, Part::Log, 9), b("berry"), set("old"));
        m.claim(at(4, 0, 1, Part::Log, 2), Intervals::List(&mine));
        // Written after the flush: kept.
        m.record(at(4, 0, 1, Part::Log, 3), b("banana"), set("after"));
        // Older in the same epoch and core: voided.
        m.record(at(4, 0, 1, Part::Log, 1), b("avocado"), set("before"));
        assert_eq!(
            result(m),
            vec![
                ("banana".into(), "after".into()),
                ("xray".into(), "1".into())
            ]
        );
    }

    #[test]
    fn a_base_stands_between_its_claim_and_its_log() {
        // Generation 2's base holds "a"; a key deleted before the rewrite on
        // another core's watch (an old record elsewhere) stays dead.
        let mut m = Merge::new(first_byte);
        let all = [(0u64, None)];
        m.record(at(1, 1, 1, Part::Log, 5), b("zombie"), set("old"));
        m.claim(at(7, 0, 2, Part::Claim, 0), Intervals::List(&all));
        m.record(at(7, 0, 2, Part::Base, 0), b("a"), set("base"));
        m.record(at(7, 0, 2, Part::Base, 1), b("c"), set("base"));
        m.record(at(7, 0, 2, Part::Log, 1), b("c"), set("tail"));
        m.record(at(6, 0, 1, Part::Log, 50), b("a"), set("older log"));
        assert_eq!(
            result(m),
            vec![("a".into(), "base".into()), ("c".into(), "tail".into())]
        );
    }

    #[test]
    fn a_transaction_counts_only_when_every_part_ended() {
        let mut m = Merge::new(first_byte);
        m.record(at(1, 0, 1, Part::Log, 1), b("a"), set("a0"));
        m.record(at(1, 1, 1, Part::Log, 1), b("b"), set("b0"));
        // Transaction 7 over both cores, whole: both ends logged.
        m.tx_record(
            7,
            at(1, 0, 1, Part::Log, 2),
            b("a"),
            Edit::Becomes(set("a7")),
        );
        m.tx_record(
            7,
            at(1, 1, 1, Part::Log, 2),
            b("b"),
            Edit::Becomes(set("b7")),
        );
        m.tx_end(7, 0, 2);
        m.tx_end(7, 1, 2);
        // Transaction 9: core 1's part (and its end) was lost in the crash.
        m.tx_record(
            9,
            at(1, 0, 1, Part::Log, 3),
            b("a"),
            Edit::Becomes(set("a9")),
        );
        m.tx_record(
            9,
            at(1, 0, 1, Part::Log, 4),
            b("c"),
            Edit::Becomes(set("c9")),
        );
        m.tx_end(9, 0, 2);
        // Transaction 11: one core, no end (cut before it let go).
        m.tx_record(11, at(1, 1, 1, Part::Log, 3), b("d"), Edit::Becomes(None));
        // Transaction 12 wrote on core 1 only; core 0 held a key and logged
        // its end too (a read there), a core seen twice counts once.
        m.record(at(1, 1, 1, Part::Log, 4), b("e"), set("e0"));
        m.tx_record(
            12,
            at(1, 1, 1, Part::Log, 5),
            b("e"),
            Edit::Becomes(set("e12")),
        );
        m.tx_end(12, 1, 2);
        m.tx_end(12, 1, 2);
        assert_eq!(
            m.settle(),
            Dropped {
                transactions: 3,
                records: 4
            }
        );
        assert_eq!(
            result(m),
            vec![
                ("a".into(), "a7".into()),
                ("b".into(), "b7".into()),
                ("e".into(), "e0".into())
            ]
        );
        // A FLUSHALL's claims count only when every core logged its end.
        let mut m = Merge::new(first_byte);
        let all = [(0u64, None)];
        m.record(at(1, 0, 1, Part::Log, 1), b("a"), set("1"));
        m.record(at(1, 1, 1, Part::Log, 1), b("b"), set("1"));
        m.tx_claim(5, at(1, 0, 1, Part::Log, 2), Intervals::List(&all));
        m.tx_claim(5, at(1, 1, 1, Part::Log, 2), Intervals::List(&all));
        m.tx_end(5, 0, 2);
        m.tx_claim(6, at(1, 0, 1, Part::Log, 3), Intervals::List(&all));
        m.tx_claim(6, at(1, 1, 1, Part::Log, 3), Intervals::List(&all));
        m.tx_end(6, 0, 2);
        m.tx_end(6, 1, 2);
        m.record(at(1, 1, 1, Part::Log, 4), b("c"), set("after"));
        assert_eq!(
            m.settle(),
            Dropped {
                transactions: 1,
                records: 0
            }
        );
        // Transaction 5 was cut on core 1: its claims are void; 6 is whole.
        assert_eq!(result(m), vec![("c".into(), "after".into())]);
        let mut m = Merge::new(first_byte);
        m.record(at(1, 0, 1, Part::Log, 1), b("a"), set("1"));
        m.tx_claim(5, at(1, 0, 1, Part::Log, 2), Intervals::List(&all));
        m.tx_end(5, 0, 2);
        m.settle();
        assert_eq!(result(m), vec![("a".into(), "1".into())]);
        // A commit stands for every end.
        let mut m = Merge::new(first_byte);
        m.tx_record(
            4,
            at(1, 0, 1, Part::Log, 1),
            b("x"),
            Edit::Becomes(set("committed")),
        );
        m.tx_record(
            4,
            at(1, 1, 1, Part::Log, 1),
            b("y"),
            Edit::Becomes(set("committed")),
        );
        m.tx_end(4, 0, 2);
        m.tx_commit(4);
        assert_eq!(m.settle(), Dropped::default());
        assert_eq!(result(m).len(), 2);
        // A whole transaction's records still lose to newer plain ones.
        let mut m = Merge::new(first_byte);
        m.tx_record(
            3,
            at(1, 0, 1, Part::Log, 1),
            b("k"),
            Edit::Becomes(set("tx")),
        );
        m.tx_end(3, 0, 1);
        m.record(at(1, 0, 1, Part::Log, 2), b("k"), set("later"));
        assert_eq!(m.settle(), Dropped::default());
        assert_eq!(result(m), vec![("k".into(), "later".into())]);
    }

    #[test]
    fn deltas_apply_after_the_newest_whole_record_and_die_with_it() {
        let d = |s: &str| Edit::Delta(Delta::Append(b(s)));
        let mut m = Merge::new(first_byte);
        // Fed out of order: a whole record, deltas on either side of a newer
        // whole record (the older ones die), a delta in another epoch.
        m.edit(at(1, 0, 1, Part::Log, 5), b("a"), d("-late"));
        m.record(at(1, 0, 1, Part::Log, 1), b("a"), set("old"));
        m.edit(at(1, 0, 1, Part::Log, 2), b("a"), d("-dead"));
        m.record(at(1, 0, 1, Part::Log, 3), b("a"), set("new"));
        m.edit(at(1, 0, 1, Part::Log, 4), b("a"), d("-on"));
        m.edit(at(2, 1, 1, Part::Log, 1), b("a"), d("-moved"));
        // A base (of the shard holding "b…") and the deltas of the tail
        // after its claim.
        let b_shard = [(0x62u64 << 56, Some(0x63u64 << 56))];
        m.record(at(1, 0, 1, Part::Log, 9), b("b"), set("before the rewrite"));
        m.edit(at(1, 0, 1, Part::Log, 10), b("b"), d("-gone too"));
        m.claim(at(3, 0, 2, Part::Claim, 0), Intervals::List(&b_shard));
        m.record(at(3, 0, 2, Part::Base, 0), b("b"), set("base"));
        m.edit(at(3, 0, 2, Part::Log, 1), b("b"), d("-tail"));
        // A transaction's delta counts when it is whole, not otherwise.
        m.tx_record(8, at(3, 0, 2, Part::Log, 2), b("b"), d("-tx"));
        m.tx_end(8, 0, 1);
        m.tx_record(9, at(3, 0, 2, Part::Log, 3), b("b"), d("-cut"));
        m.tx_end(9, 0, 2);
        m.settle();
        assert_eq!(
            result(m),
            vec![
                ("a".into(), "new-on-late-moved".into()),
                ("b".into(), "base-tail-tx".into())
            ]
        );
        // A claim between a key's deltas (a FLUSHALL) voids the ones before
        // it: what follows starts from nothing.
        let all = [(0u64, None)];
        let mut m = Merge::new(first_byte);
        m.record(at(1, 0, 1, Part::Log, 1), b("c"), set("x"));
        m.edit(at(1, 0, 1, Part::Log, 2), b("c"), d("-y"));
        m.claim(at(1, 0, 1, Part::Log, 3), Intervals::List(&all));
        m.edit(at(1, 0, 1, Part::Log, 4), b("c"), d("z"));
        let (keys, misfits) = m.finish();
        assert_eq!(misfits, 0);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].1, Stored::Str(b("z")));
    }

    #[test]
    fn logged_commands_read_back_and_others_are_refused() {
        let set = [&b"SET"[..], b"k", b"v"];
        let px = [&b"SET"[..], b"k", b"v", b"PXAT", b"123"];
        let del = [&b"DEL"[..], b"k"];
        assert_eq!(
            change_of(Cmd::Args(&set)).map(|c| c.edit),
            Ok(Edit::Becomes(Some((Stored::Str(b("v")), None))))
        );
        assert_eq!(
            change_of(Cmd::Args(&px)).map(|c| c.edit),
            Ok(Edit::Becomes(Some((Stored::Str(b("v")), Some(123)))))
        );
        assert_eq!(
            change_of(Cmd::Args(&del)).map(|c| c.edit),
            Ok(Edit::Becomes(None))
        );
        // A collection: its RDB encoding, with and without a deadline.
        let lim = crate::storage::object::Limits::default();
        let mut h = crate::storage::object::Hash::default();
        h.set(b"f", b"v", &lim);
        let obj = crate::storage::object::Object::Hash(h);
        let payload = crate::persist::rdb::encode_object(obj.as_ref());
        let rec = [&b"OBJ"[..], b"k", &payload, b"PXAT", b"7"];
        assert_eq!(
            change_of(Cmd::Args(&rec)).map(|c| c.edit),
            Ok(Edit::Becomes(Some((
                Stored::Obj(Box::new(obj.clone())),
                Some(7)
            ))))
        );
        let rec = [&b"OBJ"[..], b"k", &payload];
        assert_eq!(
            change_of(Cmd::Args(&rec)).map(|c| c.edit),
            Ok(Edit::Becomes(Some((Stored::Obj(Box::new(obj)), None))))
        );
        for bad in [
            &[&b"OBJ"[..], b"k", b"\x04\x05"][..],
            &[&b"OBJ"[..], b"k", b""],
            &[&b"OBJ"[..], b"k", b"\x00\x01a"],
        ] {
            assert!(change_of(Cmd::Args(bad)).is_err(), "{bad:?}");
        }
        for bad in [
            &[&b"INCR"[..], b"k"][..],
            &[&b"SET"[..], b"k"],
            &[&b"SET"[..], b"k", b"v", b"PXAT", b"x"],
            &[&b"SET"[..], b"k", b"v", b"EX", b"1"],
            &[&b"HSET"[..], b"k", b"f"],
            &[&b"SETBIT"[..], b"k", b"x", b"1"],
            &[&b"PERSIST"[..], b"k", b"1"],
            &[&b"PEXPIREAT"[..], b"k"],
            &[&b"SETRANGE"[..], b"k", b"18446744073709551615", b"v"],
            &[&b"SETBIT"[..], b"k", b"18446744073709551615", b"1"],
        ] {
            assert!(change_of(Cmd::Args(bad)).is_err(), "{bad:?}");
        }
    }
}
