//! Shard-side operations: the only vocabulary the cross-core mesh carries.
//!
//! An [`Op`] is a self-contained, `Send` description of one operation on one key
//! (or on a whole core's keyspace); executing it ([`super::keyspace::Keyspace::execute`])
//! touches only the local keyspace and yields an [`OpResult`]. Ops know nothing of
//! commands, connections or reply encoding: the command layer builds ops and
//! turns results into replies. The one exception is a whole reply's page
//! ([`OpResult::Page`]), which the key's core encodes so that a big
//! collection never crosses cores element by element; its op says which
//! protocol where the two differ.

use super::decimal::Decimal;
use super::object::zset::{AddFlags, ZRange};
use super::object::Object;
use bytes::Bytes;

/// A key's value as it travels between cores and commands (RENAME and COPY
/// across cores, DUMP and RESTORE): a string's bytes, or a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Str(Bytes),
    Obj(Box<Object>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCond {
    Always,
    /// NX: only if the key does not exist.
    IfAbsent,
    /// XX: only if the key exists.
    IfPresent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTtl {
    /// Plain SET: any previous deadline is discarded.
    Clear,
    /// KEEPTTL.
    Keep,
    /// Absolute deadline, unix ms (already validated; may be in the past → the key is deleted / not set).
    At(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireCond {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
    /// XX and LT together: the key must have a deadline, and the new one must be earlier.
    XxLt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetExTtl {
    Keep,
    Persist,
    At(u64),
    /// An expire argument Redis rejects — but only once the key is found: GETEX on a
    /// missing key answers nil whatever its options say.
    Invalid(OpError),
}

/// The system's text for an errno, without Rust's "(os error N)" suffix.
fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

impl Op {
    /// Ops Redis flags `denyoom`: refused over `maxmemory` when nothing can be
    /// evicted. Deletes, reads, TTL changes and the second half of a cross-core
    /// RENAME (which must not lose the key it carries) always run.
    pub fn needs_memory(&self) -> bool {
        matches!(
            self,
            Op::Key {
                op: KeyOp::Set { .. }
                    | KeyOp::IncrBy(_)
                    | KeyOp::IncrByFloat(_)
                    | KeyOp::Append { .. }
                    | KeyOp::SetRange { .. }
                    | KeyOp::OnHash(
                        HashOp::Set { .. } | HashOp::IncrBy(..) | HashOp::IncrByFloat(..)
                    )
                    | KeyOp::OnSet(SetOp::Add(_) | SetOp::Store { .. })
                    | KeyOp::OnList(
                        ListOp::Push { .. }
                            | ListOp::Set { .. }
                            | ListOp::Insert { .. }
                            | ListOp::Store { .. }
                    )
                    | KeyOp::OnZset(ZsetOp::Add { .. } | ZsetOp::Store { .. })
                    | KeyOp::Bits(BitsOp::SetBit { .. } | BitsOp::Field(_))
                    | KeyOp::Hll(HllOp::Add { .. } | HllOp::Store(_)),
                ..
            } | Op::Core(CoreOp::MSetNx { .. } | CoreOp::Copy { .. })
        )
    }
}

/// How an op's result tells how many keys it changed (see [`Op::changes`]):
/// taken from the op before it runs, so the op itself can move into the shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changes {
    None,
    /// One key, whatever the result.
    One,
    /// One key unless the result is nil.
    UnlessNil,
    /// The result's integer.
    Counted,
    /// One key when something was taken.
    Taken,
    /// `n` keys when the result is 1 (MSETNX).
    AllOrNothing(u64),
    /// One key when the result is OK or 1 (RENAME, RENAMENX).
    Renamed,
    /// One key when something was popped (SPOP); each element LPOP or RPOP
    /// took with a count, as Redis counts them.
    Popped,
    /// `n` when the result is a length (LPUSH of `n` elements), none when nil
    /// or 0 (LPUSHX on no key).
    Pushed(u64),
    /// One key when the result is OK (LSET, LTRIM).
    OkOne,
    /// One key when the result is a length above 0 (LINSERT found its pivot).
    Inserted,
    /// Each member ZADD added or gave a new score.
    Zadd,
}

impl Changes {
    pub fn of(self, r: &OpResult) -> u64 {
        if matches!(r, OpResult::Err(_)) {
            return 0;
        }
        match self {
            Changes::None => 0,
            Changes::One => 1,
            Changes::UnlessNil => u64::from(!matches!(r, OpResult::Nil)),
            Changes::Counted => match r {
                OpResult::Int(n) => (*n).max(0) as u64,
                // ZREMRANGEBYLEX's members, when it names them.
                OpResult::Scored(v) => v.len() as u64,
                _ => 0,
            },
            Changes::Taken => u64::from(matches!(r, OpResult::Taken(Some(_)))),
            Changes::AllOrNothing(n) => {
                if matches!(r, OpResult::Int(1)) {
                    n
                } else {
                    0
                }
            }
            Changes::Renamed => u64::from(matches!(r, OpResult::Ok | OpResult::Int(1))),
            Changes::Popped => match r {
                OpResult::Bulk(_) => 1,
                OpResult::Members(m) => u64::from(!m.is_empty()),
                OpResult::Bulks(m) => m.len() as u64,
                OpResult::Scored(m) => m.len() as u64,
                _ => 0,
            },
            Changes::Pushed(n) => match r {
                OpResult::Int(len) if *len > 0 => n,
                _ => 0,
            },
            Changes::OkOne => u64::from(matches!(r, OpResult::Ok)),
            Changes::Inserted => u64::from(matches!(r, OpResult::Int(n) if *n > 0)),
            Changes::Zadd => match r {
                OpResult::Zadd { added, updated, .. } => (added + updated).max(0) as u64,
                _ => 0,
            },
        }
    }
}

impl Op {
    /// How to count the keys this op changes: Redis's "dirty" count behind
    /// `rdb_changes_since_last_save`. Reads change nothing, and neither does a
    /// refused write or a condition that stopped it.
    pub fn changes(&self) -> Changes {
        match self {
            Op::Key { op, .. } => match op {
                KeyOp::Get
                | KeyOp::StrLen
                | KeyOp::GetRange { .. }
                | KeyOp::Exists
                | KeyOp::Type
                | KeyOp::Pttl
                | KeyOp::PexpireTime
                | KeyOp::Inspect(_)
                | KeyOp::Track { .. }
                | KeyOp::Writer { .. }
                | KeyOp::Wake
                | KeyOp::Read
                | KeyOp::Sortable => Changes::None,
                KeyOp::Del | KeyOp::Expire { .. } | KeyOp::Persist | KeyOp::Put { .. } => {
                    Changes::Counted
                }
                KeyOp::Take => Changes::Taken,
                KeyOp::GetDel => Changes::UnlessNil,
                KeyOp::GetEx { ttl } => match ttl {
                    GetExTtl::Keep | GetExTtl::Invalid(_) => Changes::None,
                    GetExTtl::Persist | GetExTtl::At(_) => Changes::UnlessNil,
                },
                // With GET, nil means "there was no old value", not "not set".
                KeyOp::Set { get: true, .. } => Changes::One,
                KeyOp::Set { get: false, .. } => Changes::UnlessNil,
                KeyOp::IncrBy(_)
                | KeyOp::IncrByFloat(_)
                | KeyOp::Append { .. }
                | KeyOp::SetRange { .. } => Changes::One,
                KeyOp::OnHash(h) => match h {
                    // HSETNX changes nothing when the field is there: it
                    // answers 0, and nothing may be logged for it.
                    HashOp::Set { nx: true, .. } => Changes::Counted,
                    HashOp::Set { .. } | HashOp::IncrBy(..) | HashOp::IncrByFloat(..) => {
                        Changes::One
                    }
                    HashOp::Del(_) => Changes::Counted,
                    _ => Changes::None,
                },
                KeyOp::OnSet(s) => match s {
                    SetOp::Add(_) | SetOp::Rem(_) => Changes::Counted,
                    SetOp::Pop(_) => Changes::Popped,
                    SetOp::Store { .. } => Changes::One,
                    _ => Changes::None,
                },
                KeyOp::OnList(l) => match l {
                    // Redis counts each element pushed or removed.
                    ListOp::Push { values, .. } => Changes::Pushed(values.len() as u64),
                    ListOp::Pop { .. } => Changes::Popped,
                    ListOp::Set { .. } | ListOp::Trim { .. } => Changes::OkOne,
                    ListOp::Insert { .. } => Changes::Inserted,
                    ListOp::Rem { .. } => Changes::Counted,
                    ListOp::Store { .. } => Changes::One,
                    ListOp::Len
                    | ListOp::Range { .. }
                    | ListOp::RangePage { .. }
                    | ListOp::Index(_)
                    | ListOp::Pos { .. } => Changes::None,
                },
                KeyOp::OnZset(z) => match z {
                    ZsetOp::Add { .. } => Changes::Zadd,
                    ZsetOp::Rem(_) | ZsetOp::RemRange(_) => Changes::Counted,
                    ZsetOp::Pop { .. } => Changes::Popped,
                    ZsetOp::Store { .. } => Changes::One,
                    _ => Changes::None,
                },
                KeyOp::Bits(BitsOp::SetBit { .. }) => Changes::One,
                KeyOp::Bits(BitsOp::Field(ops)) if ops.iter().any(|o| o.is_write()) => Changes::One,
                KeyOp::Bits(_) => Changes::None,
                KeyOp::Hll(HllOp::Add { .. }) => Changes::Counted,
                KeyOp::Hll(HllOp::Store(_)) => Changes::One,
                KeyOp::Hll(HllOp::Count) => Changes::None,
            },
            Op::Core(c) => match c {
                CoreOp::Flush => Changes::One,
                CoreOp::MSetNx { pairs } => Changes::AllOrNothing(pairs.len() as u64),
                CoreOp::Rename { .. } | CoreOp::Copy { .. } => Changes::Renamed,
                _ => Changes::None,
            },
        }
    }
}

/// What OBJECT and MEMORY USAGE read of a key. Never an access: Redis's
/// OBJECT does not touch the key either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspect {
    /// → Status("int" | "embstr" | "raw")
    Encoding,
    /// → Int(the LFU counter, decayed) | Err(FreqNotTracked)
    Freq,
    /// → Int(seconds since the last access) | Err(IdleUnderLfu | IdleNotTracked)
    IdleTime,
    /// → Int(1)
    RefCount,
    /// → Int(bytes the key takes: its entry and its table slot)
    MemoryUsage,
}

/// An operation on one key.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyOp {
    /// → Bulk | Nil
    Get,
    /// Client-side caching: `client` (on any core) will read this key and
    /// caches what it reads — tell it when the key changes. Sent just ahead
    /// of the read, to the same core. Answered by the core (the keyspace
    /// never sees it). → Ok
    Track {
        client: u64,
        noloop: bool,
    },
    /// Client-side caching's NOLOOP: the next op here, on this key, is
    /// `client`'s own write (it is not told of its own change). Answered by
    /// the core. → Ok
    Writer {
        client: u64,
    },
    /// A blocking pop's waiter just registered: the core that owns this key
    /// looks whether it can be served now (`core::blocking`). Answered by the
    /// core. → Ok
    Wake,
    /// → Ok | Nil (condition failed); with `get`: Bulk(old) | Nil.
    /// A deadline already in the past deletes the key (Redis semantics) and still answers Ok.
    Set {
        value: Bytes,
        cond: SetCond,
        ttl: SetTtl,
        get: bool,
    },
    /// → Bulk | Nil
    GetDel,
    /// → Bulk | Nil. `At` in the past deletes the key after reading it.
    GetEx {
        ttl: GetExTtl,
    },
    /// → Int(new) | Err(NotInteger | Overflow). A missing key counts as 0; the TTL is kept.
    IncrBy(i64),
    /// → Bulk(formatted new value, Redis's format) | Err(NotFloat | NanOrInf)
    IncrByFloat(Decimal),
    /// → Int(new length) | Err(TooLarge { limit })
    Append {
        value: Bytes,
        max_len: usize,
    },
    /// → Int
    StrLen,
    /// → Bulk (empty when out of range or missing), Redis's GETRANGE index rules.
    GetRange {
        start: i64,
        end: i64,
    },
    /// → Int(new length) | Err(TooLarge). Empty `value` on a missing key creates nothing and returns 0.
    SetRange {
        offset: usize,
        value: Bytes,
        max_len: usize,
    },
    /// → Int(0|1)
    Del,
    /// → Int(0|1)
    Exists,
    /// → Status("string") | Status("none")
    Type,
    /// → Int(0|1). `at_ms` is absolute unix ms; at or before now deletes the key (answers 1 if it existed
    /// and the condition held). GT/LT treat "no deadline" as infinite.
    Expire {
        at_ms: u64,
        cond: ExpireCond,
    },
    /// → Int(ms remaining, >= 0) | Int(-1) no deadline | Int(-2) missing
    Pttl,
    /// → Int(absolute deadline ms) | Int(-1) | Int(-2)
    PexpireTime,
    /// → Int(0|1)
    Persist,
    /// OBJECT and MEMORY USAGE. → Nil when there is no such key, else as [`Inspect`] says.
    Inspect(Inspect),
    /// Remove and return the entry (for a RENAME whose keys live on two cores).
    /// → Taken(Some((value, deadline))) | Taken(None)
    Take,
    /// Store an entry taken elsewhere. `only_if_absent`: RENAMENX, COPY without
    /// REPLACE, RESTORE without REPLACE; `event`: the keyspace event it
    /// raises (`rename_to`, `copy_to`, `restore`).
    /// → Int(1) stored | Int(0) not stored.
    Put {
        value: Stored,
        deadline: Option<u64>,
        only_if_absent: bool,
        event: &'static str,
        /// RESTORE's IDLETIME or FREQ for the new entry.
        hint: Option<AccessHint>,
    },
    /// A copy of the value and its deadline, the key left as it is (COPY across
    /// cores). → Taken(Some((value, deadline))) | Taken(None)
    Read,
    /// SORT's source, in the collection's own order: a list's elements from
    /// head to tail → Bulks; a set's members → Members; a sorted set's
    /// members by rank → Scored. → Nil (no such key) | Err(WrongType) (a
    /// string or a hash)
    Sortable,
    OnHash(HashOp),
    OnSet(SetOp),
    OnList(ListOp),
    OnZset(ZsetOp),
    Bits(BitsOp),
    Hll(HllOp),
}

/// An operation on a hash (see [`crate::storage::keyspace`]'s `hash_ops`).
#[derive(Clone, Debug, PartialEq)]
pub enum HashOp {
    /// HSET, HMSET (→ Int(fields added)); with `nx`, HSETNX (→ Int(0|1)).
    Set {
        pairs: Vec<(Bytes, Bytes)>,
        nx: bool,
    },
    /// → Bulk | Nil
    Get(Bytes),
    /// → Bulks
    MGet(Vec<Bytes>),
    /// → Pairs
    GetAll,
    /// → Bulks
    Keys,
    /// → Bulks
    Vals,
    /// → Int
    Len,
    /// → Int(0|1)
    Exists(Bytes),
    /// → Int
    StrLen(Bytes),
    /// → Int(fields removed)
    Del(Vec<Bytes>),
    /// → Int(new) | Err(HashNotInteger | Overflow)
    IncrBy(Bytes, i64),
    /// → Bulk(new, Redis's format) | Err(HashNotFloat | NanOrInf)
    IncrByFloat(Bytes, Decimal),
    /// HRANDFIELD: no count → Bulk | Nil; a count → Bulks (fields) or
    /// Pairs (`values`), Redis's rules for negative counts.
    RandField { count: Option<i64>, values: bool },
    /// HSCAN → Scan { next, keys: fields and values (or fields alone) }
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
        novalues: bool,
    },
    /// A page of HGETALL, HKEYS or HVALS from `cursor` (0 first): up to
    /// [`PAGE`] fields' `part`, encoded. → Page
    Page { cursor: u64, part: HashPart },
}

/// What a page of a hash holds of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashPart {
    Fields,
    Values,
    Both,
}

/// Elements in a page of a big collection's whole reply: what one op hands
/// over before the core serves others (a few hundred microseconds).
pub const PAGE: usize = 4096;

/// An operation on a set (see [`crate::storage::keyspace`]'s `set_ops`).
#[derive(Clone, Debug, PartialEq)]
pub enum SetOp {
    /// → Int(members added)
    Add(Vec<Bytes>),
    /// → Int(members removed)
    Rem(Vec<Bytes>),
    /// → Int(0|1)
    IsMember(Bytes),
    /// → Ints
    MIsMember(Vec<Bytes>),
    /// → Members
    Members,
    /// → Int
    Card,
    /// SPOP: no count → Bulk | Nil; a count → Members.
    Pop(Option<usize>),
    /// SRANDMEMBER: no count → Bulk | Nil; a count → Bulks (Redis's rules
    /// for negative counts: repeats allowed).
    RandMember(Option<i64>),
    /// SSCAN → Scan { next, keys: members }
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
    },
    /// A page of SMEMBERS from `cursor` (0 first): up to [`PAGE`] members,
    /// encoded. → Page
    Page { cursor: u64 },
    /// The STORE forms (SINTERSTORE, ...): the key becomes a set of exactly
    /// `members` (whatever it held before), or is deleted when there are
    /// none. `event` is the command's keyspace event. → Int(members)
    Store {
        members: Vec<Bytes>,
        event: &'static str,
    },
}

/// An operation on a list (see [`crate::storage::keyspace`]'s `list_ops`),
/// with Redis's index rules: negative indexes count from the tail.
#[derive(Clone, Debug, PartialEq)]
pub enum ListOp {
    /// LPUSH / RPUSH (`front`), LPUSHX / RPUSHX (`xx`: only onto a list that
    /// exists) → Int(the length after)
    Push {
        front: bool,
        values: Vec<Bytes>,
        xx: bool,
    },
    /// LPOP / RPOP: no count → Bulk | Nil; a count → Bulks | Nil (no key)
    Pop { front: bool, count: Option<usize> },
    /// LLEN → Int
    Len,
    /// LRANGE → Bulks
    Range { start: i64, stop: i64 },
    /// LRANGE as a whole reply: up to [`PAGE`] elements of the range, from
    /// index `cursor` (0: the range's start), encoded. → Page (`len`: the
    /// range's length, `next`: the index the next page starts at)
    RangePage { start: i64, stop: i64, cursor: u64 },
    /// LINDEX → Bulk | Nil
    Index(i64),
    /// LSET → Ok | Err(NoSuchKey | IndexOutOfRange)
    Set { index: i64, value: Bytes },
    /// LINSERT → Int(the length after) | Int(-1) (no pivot) | Int(0) (no key)
    Insert {
        before: bool,
        pivot: Bytes,
        value: Bytes,
    },
    /// LREM → Int(elements removed)
    Rem { count: i64, value: Bytes },
    /// LTRIM → Ok
    Trim { start: i64, stop: i64 },
    /// LPOS: without COUNT → Int | Nil; with it → Ints
    Pos {
        value: Bytes,
        rank: i64,
        count: Option<usize>,
        maxlen: usize,
    },
    /// SORT's STORE: the key becomes a list of exactly `values`, in order
    /// (whatever it held before, its deadline gone), or is deleted when
    /// there are none. `event` is the command's keyspace event.
    /// → Int(elements)
    Store {
        values: Vec<Bytes>,
        event: &'static str,
    },
}

/// An operation on a sorted set (see [`crate::storage::keyspace`]'s
/// `zset_ops`), with Redis's rules (`zsetAdd`, ranks, score and lex ranges).
#[derive(Clone, Debug, PartialEq)]
pub enum ZsetOp {
    /// ZADD, and ZINCRBY (`flags.incr`, one pair) → Zadd
    Add {
        pairs: Vec<(f64, Bytes)>,
        flags: AddFlags,
    },
    /// ZREM → Int(members removed)
    Rem(Vec<Bytes>),
    /// ZSCORE, ZMSCORE → Scores (all nil for no key)
    Score(Vec<Bytes>),
    /// ZCARD → Int
    Card,
    /// ZCOUNT, ZLEXCOUNT → Int
    Count(ZRange),
    /// ZRANGE and its older forms: what `range` covers (counted from the
    /// highest when `rev`), `offset` of it skipped, at most `count` taken.
    /// → Scored
    Range {
        range: ZRange,
        rev: bool,
        offset: usize,
        count: Option<usize>,
    },
    /// `Range` as a whole reply: up to [`PAGE`] of its elements, from its
    /// `cursor`-th (0: the first), encoded — each member a bulk string,
    /// followed by its score with `withscores`: a bulk string in RESP2, and
    /// in RESP3 (`resp3`) a double, member and score in a two-element array.
    /// → Page (`len` and `count` in the reply's header's terms: elements,
    /// with RESP2's scores counted; `next`: the element the next page
    /// starts at)
    RangePage {
        range: ZRange,
        rev: bool,
        offset: usize,
        count: Option<usize>,
        withscores: bool,
        resp3: bool,
        cursor: u64,
    },
    /// ZRANK, ZREVRANK (`rev`) → Rank | Nil
    Rank { member: Bytes, rev: bool },
    /// ZPOPMIN, ZPOPMAX (`max`), ZMPOP's pop and the blocking pops' (one
    /// function for all): up to `count` elements, in the order taken.
    /// → Scored (empty: no key)
    Pop { max: bool, count: usize },
    /// ZRANDMEMBER: no count → Scored of one | Nil; a count → Scored
    /// (Redis's rules: negative counts repeat)
    RandMember(Option<i64>),
    /// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX → Int(removed);
    /// a lex range over members of different scores → Scored(the members
    /// removed), which the log records one by one
    RemRange(ZRange),
    /// ZSCAN → Scan { next, keys: members and their scores' text }
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
    },
    /// A source of ZUNION, ZINTER, ZDIFF and their STORE forms: a sorted
    /// set's members and scores, or a set's with score 1. → Scored (empty:
    /// no key) | Err(WrongType)
    Members,
    /// The STORE forms (ZUNIONSTORE, ZRANGESTORE, ...): the key becomes a
    /// sorted set of exactly `pairs` (distinct members), or is deleted when
    /// there are none. `event` is the command's keyspace event.
    /// → Int(members)
    Store {
        pairs: Vec<(Bytes, f64)>,
        event: &'static str,
    },
}

/// A bitmap op on a string (see [`crate::storage::keyspace`]'s `bits_ops`).
#[derive(Clone, Debug, PartialEq)]
pub enum BitsOp {
    /// SETBIT → Int(the old bit); grows the string with zero bytes.
    SetBit { offset: u64, on: bool },
    /// GETBIT → Int
    GetBit(u64),
    /// BITCOUNT → Int
    Count {
        range: Option<(i64, i64)>,
        unit: crate::storage::bits::Unit,
    },
    /// BITPOS → Int
    Pos {
        bit: bool,
        start: Option<i64>,
        end: Option<i64>,
        unit: crate::storage::bits::Unit,
    },
    /// BITFIELD / BITFIELD_RO → Fields
    Field(Vec<crate::storage::bits::FieldOp>),
}

/// A HyperLogLog op on a string (Redis's encodings, byte for byte).
#[derive(Clone, Debug, PartialEq)]
pub enum HllOp {
    /// PFADD → Int(1 when a register changed or the key was made)
    Add {
        elements: Vec<Bytes>,
        sparse_max: usize,
    },
    /// PFCOUNT of one key → Int (the cached count is refreshed in place)
    Count,
    /// PFMERGE's result stored: the key's deadline is kept. → Ok
    Store(Bytes),
}

/// What RESTORE says of a key's past accesses (IDLETIME, FREQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessHint {
    IdleSecs(u64),
    Freq(u8),
}

/// An operation on a whole core's keyspace (or a multi-key op whose keys all live on this core,
/// executed atomically because a core runs one op to completion before the next).
#[derive(Clone, Debug, PartialEq)]
pub enum CoreOp {
    /// → Int(live keys on this core)
    DbSize,
    /// → Ok
    Flush,
    /// → Keys(matching live keys on this core)
    Keys { pattern: Bytes },
    /// → Keys(zero or one key) picked at random among this core's live keys
    RandomKey,
    /// Scan from `cursor` ([`crate::storage::cursor`]) through the shards this core owns
    /// that follow it in position order, until `count` keys' worth of buckets were looked
    /// at. `next == 0` means the end of the position space was reached. Filters apply after
    /// counting, as in Redis. → Scan { next, keys, used (of `count`) }
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
        type_name: Option<Bytes>,
    },
    /// → Stats(one row per shard this core owns)
    ShardStats,
    /// All keys on this core: set all only if none exists. → Int(1|0)
    MSetNx { pairs: Vec<(Bytes, Bytes)> },
    /// Both keys on this core. → Ok (RENAME) / Int(1|0) (RENAMENX) / Err(NoSuchKey).
    Rename { src: Bytes, dst: Bytes, nx: bool },
    /// COPY, both keys on this core: `dst` gets `src`'s value and deadline, over an
    /// existing `dst` only with `replace`. → Int(1) copied | Int(0) (no `src`, or `dst`
    /// exists) | Err(CrossCore).
    Copy {
        src: Bytes,
        dst: Bytes,
        replace: bool,
    },
    /// Deliver a pub/sub message to the core's subscribers. The core answers it
    /// itself (the keyspace never sees it); it is an op so that a pipeline of
    /// PUBLISHes travels with the pipeline's other ops, one round trip per core,
    /// in order. → Int(receivers)
    Publish {
        shard: bool,
        channel: Bytes,
        payload: Bytes,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Key { key: Bytes, op: KeyOp },
    Core(CoreOp),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShardStat {
    pub shard: u32,
    pub core: usize,
    pub keys: usize,
    pub bytes: usize,
    pub ttl_keys: usize,
    /// Key ops run on it since it was created here, and the last sampled rate.
    pub ops: u64,
    pub ops_per_sec: f64,
    /// stable, splitting, merging, merging-away, migrating-in or migrating-out.
    pub state: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInf,
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooLarge,
    #[error("ERR invalid expire time in 'getex' command")]
    InvalidGetExExpire,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR index out of range")]
    IndexOutOfRange,
    #[error("ERR resulting score is not a number (NaN)")]
    NanScore,
    #[error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    FreqNotTracked,
    #[error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    IdleUnderLfu,
    /// Redis tracks idle time under every policy but LFU; stairkv keeps an
    /// access clock only under the LRU policies (the others need none).
    #[error(
        "ERR idle time is tracked only under an LRU maxmemory-policy (allkeys-lru, volatile-lru)"
    )]
    IdleNotTracked,
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    HllCorrupt,
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    /// Over `maxmemory` with nothing the policy may evict (Redis's text).
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
    /// A log cannot be written (the errno): writes are refused until it can.
    #[error("MISCONF Errors writing to the AOF file: {}", strerror(*.0))]
    MisconfAof(i32),
    /// The last background save failed while save points are set.
    #[error("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")]
    MisconfRdb,
    /// A multi-key op found its keys on several cores after a migration: the
    /// command layer then runs its cross-core form (Redis Cluster's text, should
    /// it ever reach a client).
    #[error("TRYAGAIN Multiple keys request during rehashing of slot")]
    CrossCore,
    /// A request was forwarded more times than any sequence of migrations needs.
    #[error("TRYAGAIN the keyspace is being rearranged, retry")]
    TooManyHops,
    /// The op's key is held by a script running past `busy-reply-threshold`.
    #[error(
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    )]
    Busy,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    Ok,
    Nil,
    Int(i64),
    Bulk(Bytes),
    Status(&'static str),
    Err(OpError),
    Keys(Vec<Bytes>),
    Scan {
        next: u64,
        keys: Vec<Bytes>,
        used: usize,
    },
    Taken(Option<(Stored, Option<u64>)>),
    /// An array of values, some of them nil (HMGET, HKEYS, SRANDMEMBER).
    Bulks(Vec<Option<Bytes>>),
    /// Fields and values (HGETALL: a map in RESP3).
    Pairs(Vec<(Bytes, Bytes)>),
    /// A set's members (SMEMBERS: a set in RESP3).
    Members(Vec<Bytes>),
    /// A page of a collection's whole reply: `chunk` holds `count` elements
    /// as RESP bulk strings (a sorted set's scores as its op says); `len`
    /// is the collection's size (pairs for a hash's fields and values),
    /// `next` the cursor of the next page (0: this was the last).
    Page {
        len: usize,
        next: u64,
        count: usize,
        chunk: Bytes,
    },
    /// An array of integers (SMISMEMBER).
    Ints(Vec<i64>),
    /// Members and their scores (ZRANGE, ZPOPMIN, a ZUNION's source).
    Scored(Vec<(Bytes, f64)>),
    /// A score each, nil for a member not there (ZSCORE, ZMSCORE).
    Scores(Vec<Option<f64>>),
    /// A member's rank and score (ZRANK).
    Rank(i64, f64),
    /// What ZADD did: members added, members given a new score, and the
    /// (last) member's score after it — with INCR, what ZADD answers (None
    /// when NX, XX, GT or LT held it back).
    Zadd {
        added: i64,
        updated: i64,
        score: Option<f64>,
    },
    /// BITFIELD's replies: an integer each, nil for an overflow that failed.
    Fields(Vec<Option<i64>>),
    Stats(Vec<ShardStat>),
    /// One core's part of a DBSIZE or KEYS and the routing-table epoch it was counted under.
    Counted {
        result: Box<OpResult>,
        epoch: u64,
    },
}
