//! The shard-side operations: one [`KeyOp`] (GET, SET with its options,
//! INCRBY, INCRBYFLOAT, APPEND, GETRANGE, SETRANGE, EXPIRE and TTL, DEL,
//! TYPE, the migration's TAKE and PUT, ...) on the shard holding the key,
//! with Redis's semantics. It knows one shard and one key: never the
//! keyspace, the routing table or another shard; the caller
//! ([`super::exec`]) located the shard. Its unit tests are in `tests.rs`
//! beside it (one purpose, long tests).

use crate::protocol::ascii::parse_i64;
use crate::storage::decimal::{self, Decimal};
use crate::storage::entry::Entry;
use crate::storage::object::{Limits, ObjRef};
use crate::storage::ops::{
    ExpireCond, GetExTtl, Inspect, KeyOp, OpError, OpResult, SetCond, SetTtl,
};
use crate::storage::policy;
use crate::storage::shard::Shard;
use bytes::Bytes;
#[inline]
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One key op on the shard holding `key`, collections encoded by Redis's
/// default limits (and a fixed seed for random picks): what a shard that
/// cannot hold the key answers, and the unit tests.
pub(super) fn key_op(shard: &mut Shard, thash: u64, key: &[u8], op: KeyOp, now: u64) -> OpResult {
    key_op_with(shard, thash, key, op, now, &Limits::default(), 1)
}

/// SORT's source: a list's, set's or sorted set's elements in its own order
/// (the result's form tells which it was).
fn sortable(o: ObjRef<'_>) -> OpResult {
    let b = |x: &[u8]| Bytes::copy_from_slice(x);
    match o {
        ObjRef::List(l) => OpResult::Bulks(l.iter().map(|x| Some(b(x))).collect()),
        ObjRef::Set(s) => {
            let mut v = Vec::with_capacity(s.len());
            s.for_each(|m| v.push(b(&m)));
            OpResult::Members(v)
        }
        ObjRef::Zset(z) => {
            let mut v = Vec::with_capacity(z.len());
            z.for_each(|score, m| v.push((b(m), score)));
            OpResult::Scored(v)
        }
        ObjRef::Hash(_) => OpResult::Err(OpError::WrongType),
    }
}

/// One key op on the shard holding `key`: collections encoded by `lim`,
/// random picks seeded by `seed`.
pub(super) fn key_op_with(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    op: KeyOp,
    now: u64,
    lim: &Limits,
    seed: u64,
) -> OpResult {
    match op {
        KeyOp::Get => match shard.get(thash, key, now) {
            Some(e) if !e.is_string() => OpResult::Err(OpError::WrongType),
            Some(e) => OpResult::Bulk(e.value_bytes()),
            None => OpResult::Nil,
        },
        KeyOp::Set {
            value,
            cond,
            ttl,
            get,
        } => set(shard, thash, key, &value, cond, ttl, get, now),
        KeyOp::GetDel if wrong_type(shard, thash, key, now) => OpResult::Err(OpError::WrongType),
        KeyOp::GetDel => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => OpResult::Bulk(e.into_value()),
            _ => OpResult::Nil,
        },
        KeyOp::GetEx { ttl } => match ttl {
            GetExTtl::Keep => key_op(shard, thash, key, KeyOp::Get, now),
            GetExTtl::Invalid(err) => match shard.get(thash, key, now) {
                Some(e) if !e.is_string() => OpResult::Err(OpError::WrongType),
                Some(_) => OpResult::Err(err),
                None => OpResult::Nil,
            },
            GetExTtl::At(d) if d <= now => key_op(shard, thash, key, KeyOp::GetDel, now),
            GetExTtl::Persist | GetExTtl::At(_) => {
                let deadline = match ttl {
                    GetExTtl::At(d) => Some(d),
                    _ => None,
                };
                shard
                    .update(thash, key, now, |e| {
                        if !e.is_string() {
                            return OpResult::Err(OpError::WrongType);
                        }
                        e.set_deadline(deadline);
                        OpResult::Bulk(e.value_bytes())
                    })
                    .unwrap_or(OpResult::Nil)
            }
        },
        KeyOp::IncrBy(by) => {
            let r = shard.update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                let cur = match e.as_int() {
                    Some(cur) => cur,
                    None => parse_i64(&e.value()).ok_or(OpError::NotInteger)?,
                };
                let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
                e.set_int(new);
                Ok(new)
            });
            match r {
                Some(Ok(v)) => OpResult::Int(v),
                Some(Err(err)) => OpResult::Err(err),
                None => {
                    shard.insert(thash, Entry::from_int(key, by, None));
                    OpResult::Int(by)
                }
            }
        }
        KeyOp::IncrByFloat(by) => {
            let r = shard.update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                let text = add_float(&e.value(), &by)?;
                e.set_value(text.as_bytes());
                Ok(text)
            });
            let r = match r {
                Some(r) => r,
                None => add_float(b"0", &by).inspect(|text| {
                    shard.insert(thash, Entry::new(key, text.as_bytes(), None));
                }),
            };
            match r {
                Ok(text) => OpResult::Bulk(Bytes::from(text)),
                Err(err) => OpResult::Err(err),
            }
        }
        KeyOp::Append { value, max_len } => {
            let r = shard.update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                match e.value().len().checked_add(value.len()) {
                    Some(n) if n <= max_len => {
                        e.append(&value);
                        Ok(n)
                    }
                    _ => Err(OpError::TooLarge),
                }
            });
            match r {
                Some(Ok(n)) => OpResult::Int(to_i64(n as u64)),
                Some(Err(err)) => OpResult::Err(err),
                None if value.len() > max_len => OpResult::Err(OpError::TooLarge),
                None => {
                    shard.insert(thash, Entry::new(key, &value, None));
                    OpResult::Int(to_i64(value.len() as u64))
                }
            }
        }
        KeyOp::StrLen => match shard.get(thash, key, now) {
            Some(e) if !e.is_string() => OpResult::Err(OpError::WrongType),
            Some(e) => OpResult::Int(to_i64(e.value().len() as u64)),
            None => OpResult::Int(0),
        },
        KeyOp::GetRange { start, end } => match shard.get(thash, key, now) {
            Some(e) if !e.is_string() => OpResult::Err(OpError::WrongType),
            Some(e) => match range(e.value_len(), start, end) {
                Some((a, b)) => OpResult::Bulk(e.value_slice(a, b + 1)),
                None => OpResult::Bulk(Bytes::new()),
            },
            None => OpResult::Bulk(Bytes::new()),
        },
        KeyOp::SetRange {
            offset,
            value,
            max_len,
        } => {
            if value.is_empty() {
                // Redis answers the current length (or WRONGTYPE) and creates nothing.
                return key_op(shard, thash, key, KeyOp::StrLen, now);
            }
            // Redis checks the key's type before the length.
            let need = offset.checked_add(value.len()).filter(|&n| n <= max_len);
            let r = shard.update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                let need = need.ok_or(OpError::TooLarge)?;
                if need > e.value().len() {
                    e.resize_value(need);
                }
                e.write_at(offset, &value);
                Ok(e.value().len())
            });
            let len = match (r, need) {
                (Some(r), _) => r,
                (None, None) => Err(OpError::TooLarge),
                (None, Some(need)) => {
                    let mut e = Entry::zeroed(key, need, None);
                    e.write_at(offset, &value);
                    shard.insert(thash, e);
                    Ok(need)
                }
            };
            match len {
                Ok(len) => OpResult::Int(to_i64(len as u64)),
                Err(err) => OpResult::Err(err),
            }
        }
        KeyOp::Del => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => OpResult::Int(1),
            _ => OpResult::Int(0),
        },
        KeyOp::Exists => OpResult::Int(shard.get(thash, key, now).is_some() as i64),
        KeyOp::Inspect(what) => match shard.peek(thash, key).filter(|e| !e.is_expired(now)) {
            None => OpResult::Nil,
            Some(e) => inspect(e, what, now),
        },
        // The core answers these before the keyspace is asked.
        KeyOp::Track { .. } | KeyOp::Writer { .. } | KeyOp::Wake => OpResult::Ok,
        KeyOp::OnHash(op) => super::hash_ops::hash_op(shard, thash, key, op, now, lim, seed),
        KeyOp::OnSet(op) => super::set_ops::set_op(shard, thash, key, op, now, lim, seed),
        KeyOp::OnList(op) => super::list_ops::list_op(shard, thash, key, op, now, lim.list),
        KeyOp::OnZset(op) => super::zset_ops::zset_op(shard, thash, key, op, now, lim, seed),
        KeyOp::Bits(op) => super::bits_ops::bits_op(shard, thash, key, op, now),
        KeyOp::Hll(op) => super::bits_ops::hll_op(shard, thash, key, op, now),
        KeyOp::Sortable => match shard.get(thash, key, now).map(|e| e.object()) {
            None => OpResult::Nil,
            Some(Some(o)) => sortable(o),
            Some(None) => OpResult::Err(OpError::WrongType),
        },
        KeyOp::Type => match shard.get(thash, key, now) {
            Some(e) => OpResult::Status(e.type_name()),
            None => OpResult::Status("none"),
        },
        KeyOp::Expire { at_ms, cond } => {
            let applies = shard.update(thash, key, now, |e| {
                let cur = e.deadline();
                // No deadline counts as infinite for GT and LT.
                let ok = match cond {
                    ExpireCond::Always => true,
                    ExpireCond::Nx => cur.is_none(),
                    ExpireCond::Xx => cur.is_some(),
                    ExpireCond::Gt => cur.is_some_and(|c| at_ms > c),
                    ExpireCond::Lt => cur.is_none_or(|c| at_ms < c),
                    ExpireCond::XxLt => cur.is_some_and(|c| at_ms < c),
                };
                if ok && at_ms > now {
                    e.set_deadline(Some(at_ms));
                }
                ok
            });
            match applies {
                Some(true) => {
                    if at_ms <= now {
                        shard.remove(thash, key);
                    }
                    OpResult::Int(1)
                }
                _ => OpResult::Int(0),
            }
        }
        KeyOp::Pttl => match shard.get(thash, key, now) {
            Some(e) => match e.deadline() {
                Some(d) => OpResult::Int(to_i64(d.saturating_sub(now))),
                None => OpResult::Int(-1),
            },
            None => OpResult::Int(-2),
        },
        KeyOp::PexpireTime => match shard.get(thash, key, now) {
            Some(e) => match e.deadline() {
                Some(d) => OpResult::Int(to_i64(d)),
                None => OpResult::Int(-1),
            },
            None => OpResult::Int(-2),
        },
        KeyOp::Persist => {
            let r = shard.update(thash, key, now, |e| {
                let had = e.deadline().is_some();
                if had {
                    e.set_deadline(None);
                }
                had
            });
            OpResult::Int(r.unwrap_or(false) as i64)
        }
        KeyOp::Take => match shard.remove(thash, key) {
            Some(e) if !e.is_expired(now) => {
                let deadline = e.deadline();
                OpResult::Taken(Some((e.into_stored(), deadline)))
            }
            _ => OpResult::Taken(None),
        },
        KeyOp::Read => match shard.get(thash, key, now) {
            Some(e) => OpResult::Taken(Some((e.stored(), e.deadline()))),
            None => OpResult::Taken(None),
        },
        KeyOp::Put {
            value,
            deadline,
            only_if_absent,
            hint,
            ..
        } => {
            if only_if_absent && shard.get(thash, key, now).is_some() {
                return OpResult::Int(0);
            }
            if deadline.is_some_and(|d| d <= now) {
                // Stored and expired at once: whatever was there is overwritten, then gone.
                shard.remove(thash, key);
            } else {
                // The value left an entry (RENAME's Take): share it, no copy.
                let mut e = Entry::from_stored(key, value, deadline);
                if let Some(h) = hint {
                    crate::storage::policy::restore_access(&mut e, now, h);
                }
                shard.insert(thash, e);
            }
            OpResult::Int(1)
        }
    }
}

/// True when `key` holds a collection (a string op on it is refused).
fn wrong_type(shard: &mut Shard, thash: u64, key: &[u8], now: u64) -> bool {
    shard.get(thash, key, now).is_some_and(|e| !e.is_string())
}

/// SET with all its options (Redis 7 semantics).
#[allow(clippy::too_many_arguments)]
fn set(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    value: &[u8],
    cond: SetCond,
    ttl: SetTtl,
    get: bool,
    now: u64,
) -> OpResult {
    if cond == SetCond::Always && !get && ttl != SetTtl::Keep {
        // The common case needs nothing from the old entry: one lookup.
        match ttl {
            SetTtl::At(d) if d <= now => {
                shard.remove(thash, key);
            }
            SetTtl::At(d) => {
                shard.insert(thash, Entry::new(key, value, Some(d)));
            }
            _ => {
                shard.insert(thash, Entry::new(key, value, None));
            }
        }
        return OpResult::Ok;
    }
    let (exists, old_value, old_deadline) = match shard.get(thash, key, now) {
        Some(e) if get && !e.is_string() => return OpResult::Err(OpError::WrongType),
        Some(e) => (true, get.then(|| e.value_bytes()), e.deadline()),
        None => (false, None, None),
    };
    let reply = if get {
        old_value.map_or(OpResult::Nil, OpResult::Bulk)
    } else {
        OpResult::Ok
    };
    let proceed = match cond {
        SetCond::Always => true,
        SetCond::IfAbsent => !exists,
        SetCond::IfPresent => exists,
    };
    if !proceed {
        // With GET the old value is still the answer (nil when missing).
        return if get { reply } else { OpResult::Nil };
    }
    let deadline = match ttl {
        SetTtl::Clear => None,
        SetTtl::Keep => old_deadline,
        SetTtl::At(d) => Some(d),
    };
    if deadline.is_some_and(|d| d <= now) {
        shard.remove(thash, key);
    } else {
        shard.insert(thash, Entry::new(key, value, deadline));
    }
    reply
}

/// GETRANGE's index rules: the inclusive byte range, or None for an empty answer.
fn range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let len = len as i128;
    let (mut start, mut end) = (start as i128, end as i128);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

/// INCRBYFLOAT's sum of a stored value and the increment, as Redis stores it.
fn add_float(cur: &[u8], by: &Decimal) -> Result<String, OpError> {
    decimal::add_text(cur, by).map_err(|e| match e {
        decimal::AddError::NotFloat => OpError::NotFloat,
        decimal::AddError::NanOrInf => OpError::NanOrInf,
    })
}

/// OBJECT and MEMORY USAGE of a live entry (see [`Inspect`]).
fn inspect(e: &Entry, what: Inspect, now: u64) -> OpResult {
    match what {
        // Redis's names: its strings are integers, "embstr" up to 44 bytes (in
        // one allocation with their header, as every stairkv value up to 4 KB
        // is) or "raw"; tools read these names.
        Inspect::Encoding if !e.is_string() => {
            OpResult::Status(e.object().map_or("unknown", |o| o.encoding()))
        }
        Inspect::Encoding => OpResult::Status(if e.as_int().is_some() {
            "int"
        } else if e.value_len() <= EMBSTR_MAX {
            "embstr"
        } else {
            "raw"
        }),
        Inspect::Freq => {
            policy::frequency(e, now).map_or_else(OpResult::Err, |f| OpResult::Int(i64::from(f)))
        }
        Inspect::IdleTime => {
            policy::idle_seconds(e, now).map_or_else(OpResult::Err, |s| OpResult::Int(to_i64(s)))
        }
        Inspect::RefCount => OpResult::Int(1),
        // The entry's allocation(s) and its slot in the table: a pointer and a control byte.
        Inspect::MemoryUsage => OpResult::Int(to_i64((e.mem_size() + SLOT_BYTES) as u64)),
    }
}

/// Longest string Redis encodes "embstr".
const EMBSTR_MAX: usize = 44;
/// A table slot: the entry's pointer and hashbrown's control byte.
const SLOT_BYTES: usize = std::mem::size_of::<usize>() + 1;

#[cfg(test)]
mod tests;
