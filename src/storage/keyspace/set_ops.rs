//! The set ops ([`SetOp`]: SADD, SREM, SISMEMBER, SPOP, SRANDMEMBER, SSCAN,
//! ...) on the shard holding the key, with Redis's semantics. It knows one
//! shard and one key, as `shard_ops` does; the encodings are
//! [`crate::storage::object`]'s.

use super::collection::{b, distinct, edit, rand_picks, read, scan_table, PageOut, Rand};
use crate::storage::entry::Entry;
use crate::storage::glob::glob_match;
use crate::storage::object::set::{self, OneMember};
use crate::storage::object::{Limits, ObjRef, Object, Set, SetRef};
use crate::storage::ops::{OpResult, SetOp, PAGE};
use crate::storage::shard::Shard;
use bytes::Bytes;

const KIND: &str = "set";

fn set_of(o: ObjRef<'_>) -> Option<SetRef<'_>> {
    match o {
        ObjRef::Set(s) => Some(s),
        _ => None,
    }
}

fn with_set<R>(o: &mut Object, f: impl FnOnce(&mut Set) -> R) -> Option<R> {
    match o {
        Object::Set(s) => Some(f(s)),
        _ => None,
    }
}

/// SADD of one member that needs no copy of a small set
/// ([`set::plan_add`]): one already there (the key is touched, nothing
/// written), or a new last member of a packed set, appended as the entry is
/// rebuilt once from its own bytes. None to go the general way (a big set's
/// table is changed in place there, with one probe). Looked at before the entry is
/// touched, so a key it does not suit is touched once, by the general way.
fn add_one(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    m: &[u8],
    lim: &Limits,
) -> Option<OpResult> {
    let ObjRef::Set(s) = shard.peek(thash, key)?.object()? else {
        return None;
    };
    let done = match set::plan_add(s, m, lim) {
        OneMember::Present => shard.update(thash, key, now, |_| Some(0)),
        OneMember::Append(prefix, used) => shard.update(thash, key, now, |e| {
            e.append_compact(&[&prefix[..used], m]).then_some(1)
        }),
        OneMember::Neither => return None,
    };
    done.flatten().map(OpResult::Int)
}

pub(super) fn set_op(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    op: SetOp,
    now: u64,
    lim: &Limits,
    seed: u64,
) -> OpResult {
    if let SetOp::Add(members) = &op {
        if let [m] = &members[..] {
            if let Some(r) = add_one(shard, thash, key, now, m, lim) {
                return r;
            }
        }
    }
    let mut rand = Rand(seed | 1);
    let r = match op {
        SetOp::Add(members) => {
            let first = members.first().cloned().unwrap_or_default();
            let make = move || Object::Set(Set::for_first(&first, lim));
            edit(shard, thash, key, now, KIND, Some(&make), |o| {
                with_set(o, |s| {
                    members.iter().filter(|m| s.add(m, lim)).count() as i64
                })
            })
            .map(|r| OpResult::Int(r.flatten().unwrap_or(0)))
        }
        SetOp::Store { members, .. } => {
            shard.remove(thash, key);
            let mut uniq = 0;
            if let Some(first) = members.first() {
                let mut s = Set::for_first(first, lim);
                uniq = members.iter().filter(|m| s.add(m, lim)).count();
                shard.insert(thash, Entry::with_object(key, Object::Set(s), None));
            }
            Ok(OpResult::Int(uniq as i64))
        }
        SetOp::Rem(members) => edit(shard, thash, key, now, KIND, None, |o| {
            with_set(o, |s| members.iter().filter(|m| s.remove(m)).count() as i64)
        })
        .map(|r| OpResult::Int(r.flatten().unwrap_or(0))),
        SetOp::IsMember(m) => read(shard, thash, key, now, KIND, |o| {
            set_of(o).is_some_and(|s| s.contains(&m))
        })
        .map(|r| OpResult::Int(i64::from(r.unwrap_or(false)))),
        SetOp::MIsMember(ms) => read(shard, thash, key, now, KIND, |o| {
            ms.iter()
                .map(|m| i64::from(set_of(o).is_some_and(|s| s.contains(m))))
                .collect()
        })
        .map(|r| OpResult::Ints(r.unwrap_or_else(|| vec![0; ms.len()]))),
        SetOp::Members => read(shard, thash, key, now, KIND, |o| {
            set_of(o).map_or_else(Vec::new, |s| {
                let mut v = Vec::with_capacity(s.len());
                s.for_each(|m| v.push(b(&m)));
                v
            })
        })
        .map(|r| OpResult::Members(r.unwrap_or_default())),
        SetOp::Page { cursor } => read(shard, thash, key, now, KIND, |o| {
            let mut page = PageOut::new();
            let next = walk(set_of(o), cursor, PAGE, None, |m| page.push(m));
            page.result(o.len(), next)
        })
        .map(|r| r.unwrap_or_else(|| PageOut::new().result(0, 0))),
        SetOp::Card => read(shard, thash, key, now, KIND, |o| o.len() as i64)
            .map(|r| OpResult::Int(r.unwrap_or(0))),
        SetOp::Pop(count) => edit(shard, thash, key, now, KIND, None, |o| {
            with_set(o, |s| pop(s, count, &mut rand))
        })
        .map(|r| match r.flatten() {
            Some(r) => r,
            None if count.is_none() => OpResult::Nil,
            None => OpResult::Members(Vec::new()),
        }),
        SetOp::RandMember(count) => read(shard, thash, key, now, KIND, |o| {
            set_of(o).map(|s| rand_member(s, count, &mut rand))
        })
        .map(|r| match r.flatten() {
            Some(r) => r,
            None if count.is_none() => OpResult::Nil,
            None => OpResult::Bulks(Vec::new()),
        }),
        SetOp::Scan {
            cursor,
            count,
            pattern,
        } => read(shard, thash, key, now, KIND, |o| {
            let mut out = Vec::new();
            let next = walk(set_of(o), cursor, count, pattern.as_deref(), |m| {
                out.push(b(m))
            });
            (next, out)
        })
        .map(|r| {
            let (next, keys) = r.unwrap_or_default();
            OpResult::Scan {
                next,
                keys,
                used: 0,
            }
        }),
    };
    r.unwrap_or_else(OpResult::Err)
}

/// SSCAN's and SMEMBERS' pages: from `cursor`, about `count` members of a
/// table (those matching `pattern`) or every one of a compact set; returns
/// the next cursor (0 at the end).
fn walk(
    s: Option<SetRef<'_>>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    mut emit: impl FnMut(&[u8]),
) -> u64 {
    match s {
        Some(SetRef::Table(t)) => scan_table(t, cursor, count, pattern, |m| emit(m)),
        Some(s) => {
            s.for_each(|m| {
                if pattern.is_none_or(|p| glob_match(p, &m)) {
                    emit(&m)
                }
            });
            0
        }
        None => 0,
    }
}

/// SPOP: one member, or `count` distinct ones (all of them when the set
/// has no more).
fn pop(s: &mut Set, count: Option<usize>, rand: &mut Rand) -> OpResult {
    let n = s.as_ref().len();
    let Some(count) = count else {
        let Some(m) = s.as_ref().random(rand.next()).map(|m| m.into_owned()) else {
            return OpResult::Nil;
        };
        s.remove(&m);
        return OpResult::Bulk(Bytes::from(m));
    };
    let picked: Vec<Vec<u8>> = if count >= n {
        s.as_ref()
            .members()
            .into_iter()
            .map(|m| m.into_owned())
            .collect()
    } else if count * 8 < n {
        // A few of many: random picks one at a time.
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            match s.as_ref().random(rand.next()).map(|m| m.into_owned()) {
                Some(m) => {
                    s.remove(&m);
                    v.push(m);
                }
                None => break,
            }
        }
        return OpResult::Members(v.into_iter().map(Bytes::from).collect());
    } else {
        let all = s.as_ref().members();
        distinct(n, count, rand)
            .into_iter()
            .map(|i| all[i].to_vec())
            .collect()
    };
    for m in &picked {
        s.remove(m);
    }
    OpResult::Members(picked.into_iter().map(Bytes::from).collect())
}

/// SRANDMEMBER with Redis's count rules (as HRANDFIELD's).
fn rand_member(s: SetRef<'_>, count: Option<i64>, rand: &mut Rand) -> OpResult {
    let n = s.len();
    let Some(count) = count else {
        return s
            .random(rand.next())
            .map_or(OpResult::Nil, |m| OpResult::Bulk(b(&m)));
    };
    let picks = rand_picks(n, count, rand, |r| s.random(r), || s.members());
    OpResult::Bulks(picks.into_iter().map(|m| Some(b(&m))).collect())
}
