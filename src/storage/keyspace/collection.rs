//! What every collection op does around its own work: find the key's
//! collection and refuse another type with WRONGTYPE, create the collection
//! a write needs, delete the key when its last element goes (Redis never
//! keeps an empty collection), pick random elements, and cut a SCAN page of
//! a collection. It knows one shard and one key, as `shard_ops` does.

use crate::storage::entry::Entry;
use crate::storage::glob::glob_match;
use crate::storage::object::table::{Elem, Table};
use crate::storage::object::{ObjRef, Object};
use crate::storage::ops::OpError;
use crate::storage::shard::Shard;
use bytes::Bytes;

/// Read the collection at `key` with `f` when it is of type `kind`; `None`
/// when there is no such key.
pub(super) fn read<R>(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    kind: &str,
    f: impl FnOnce(ObjRef<'_>) -> R,
) -> Result<Option<R>, OpError> {
    match shard.get(thash, key, now) {
        None => Ok(None),
        Some(e) => match e.object() {
            Some(o) if o.type_name() == kind => Ok(Some(f(o))),
            _ => Err(OpError::WrongType),
        },
    }
}

/// Change the collection at `key` with `f` when it is of type `kind`; when
/// there is none and `make` is given, on a new one from `make` (stored only
/// if `f` left something in it). A collection `f` empties is deleted.
/// `Ok(None)`: no such key, and nothing made.
pub(super) fn edit<R>(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    kind: &str,
    make: Option<&dyn Fn() -> Object>,
    f: impl FnOnce(&mut Object) -> R,
) -> Result<Option<R>, OpError> {
    let mut f = Some(f);
    let done = shard.update(thash, key, now, |e| {
        if e.object().is_none_or(|o| o.type_name() != kind) {
            return Err(OpError::WrongType);
        }
        let r = f.take().and_then(|f| e.edit_object(f));
        Ok((r, e.object().is_none_or(|o| o.is_empty())))
    });
    match done {
        Some(Ok((r, empty))) => {
            if empty {
                shard.remove(thash, key);
            }
            Ok(r)
        }
        Some(Err(err)) => Err(err),
        None => match (make, f.take()) {
            (Some(make), Some(f)) => {
                let mut obj = make();
                let r = f(&mut obj);
                if !obj.as_ref().is_empty() {
                    shard.insert(thash, Entry::with_object(key, obj, None));
                }
                Ok(Some(r))
            }
            _ => Ok(None),
        },
    }
}

/// A small, seeded randomness for picking elements (each op gets a fresh
/// seed from its keyspace).
pub(super) struct Rand(pub u64);

impl Rand {
    pub fn next(&mut self) -> u64 {
        crate::storage::xorshift64(&mut self.0)
    }
}

/// A field's or member's bytes as a reply holds them.
pub(super) fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

/// HRANDFIELD's and SRANDMEMBER's count rules over a collection of `n`
/// elements: negative → that many picks of `one` (repeats allowed); at
/// least `n` → every element; else that many distinct ones of `all`.
pub(super) fn rand_picks<T>(
    n: usize,
    count: i64,
    rand: &mut Rand,
    mut one: impl FnMut(u64) -> Option<T>,
    all: impl FnOnce() -> Vec<T>,
) -> Vec<T> {
    if count < 0 {
        return (0..count.unsigned_abs())
            .filter_map(|_| one(rand.next()))
            .collect();
    }
    if count as u64 >= n as u64 {
        return all();
    }
    let mut all: Vec<Option<T>> = all().into_iter().map(Some).collect();
    distinct(all.len(), (count as usize).min(all.len()), rand)
        .into_iter()
        .filter_map(|i| all[i].take())
        .collect()
}

/// `count` distinct indexes below `n` (count < n), in random order.
pub(super) fn distinct(n: usize, count: usize, rand: &mut Rand) -> Vec<usize> {
    if count * 3 > n {
        // Many of them: a partial shuffle of every index.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + (rand.next() % (n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = hashbrown::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let i = (rand.next() % n as u64) as usize;
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

/// One page of a SCAN over a large collection's table: from the bucket
/// `cursor` names, until `count` elements were found or `10 × count`
/// buckets looked at. The cursor carries the table's layout counter: when
/// elements may have moved since (a rehash in one step; a stepwise resize
/// keeps every index, see `Table`), the walk starts over
/// — an element may then be returned twice, which SCAN allows, but none
/// present all along is missed. Returns the next cursor (0 at the end).
pub(super) fn scan_table<T: Elem>(
    t: &Table<T>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    mut emit: impl FnMut(&T),
) -> u64 {
    let tag = u64::from(t.layout() & 0xff);
    let buckets = t.buckets();
    let mut i = if cursor & 0xff == tag {
        (cursor >> 8) as usize
    } else {
        0
    };
    i = i.max(buckets.start);
    let n = buckets.end;
    let (mut found, mut looked) = (0, 0);
    let count = count.max(1);
    while i < n && found < count && looked < count.saturating_mul(10) {
        if let Some(e) = t.at(i) {
            found += 1;
            if pattern.is_none_or(|p| glob_match(p, e.key())) {
                emit(e);
            }
        }
        i += 1;
        looked += 1;
    }
    if i >= n {
        0
    } else {
        ((i as u64) << 8) | tag
    }
}

/// A page of a whole reply being encoded: elements as RESP bulk strings,
/// a sorted set's scores as its reply writes them.
pub(super) struct PageOut {
    chunk: bytes::BytesMut,
    pub count: usize,
}

impl PageOut {
    pub fn new() -> PageOut {
        PageOut {
            chunk: bytes::BytesMut::new(),
            count: 0,
        }
    }

    pub fn push(&mut self, element: &[u8]) {
        crate::protocol::reply::bulk(&mut self.chunk, element);
        self.count += 1;
    }

    /// A member and its score as ZRANGE WITHSCORES writes them (the
    /// connection's `Frame::Pairs` of `Frame::Score`s): flat in RESP2, the
    /// score a bulk string, counted as two elements of the reply; a
    /// two-element array in RESP3, the score a double, counted as one.
    pub fn push_scored(&mut self, member: &[u8], score: f64, resp3: bool) {
        use crate::protocol::reply::{self, Proto};
        if resp3 {
            reply::array_header(&mut self.chunk, 2);
            reply::bulk(&mut self.chunk, member);
            reply::score(&mut self.chunk, score, Proto::Resp3);
            self.count += 1;
        } else {
            reply::bulk(&mut self.chunk, member);
            reply::score(&mut self.chunk, score, Proto::Resp2);
            self.count += 2;
        }
    }

    /// The page as an op's result.
    pub fn result(self, len: usize, next: u64) -> crate::storage::ops::OpResult {
        crate::storage::ops::OpResult::Page {
            len,
            next,
            count: self.count,
            chunk: self.chunk.freeze(),
        }
    }
}
