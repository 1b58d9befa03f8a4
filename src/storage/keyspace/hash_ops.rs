//! The hash ops ([`HashOp`]: HSET, HGET, HDEL, HINCRBY, HRANDFIELD, HSCAN,
//! ...) on the shard holding the key, with Redis's semantics. It knows one
//! shard and one key, as `shard_ops` does; the encodings are
//! [`crate::storage::object`]'s.

use super::collection::{b, edit, rand_picks, read, scan_table, PageOut, Rand};
use crate::protocol::ascii::parse_i64;
use crate::storage::decimal;
use crate::storage::glob::glob_match;
use crate::storage::object::hash::{self, OnePair};
use crate::storage::object::{Hash, HashRef, Limits, ObjRef, Object, TAG_HASH_PACKED};
use crate::storage::ops::{HashOp, HashPart, OpError, OpResult, PAGE};
use crate::storage::shard::Shard;
use bytes::Bytes;

const KIND: &str = "hash";

fn hash_of(o: ObjRef<'_>) -> Option<HashRef<'_>> {
    match o {
        ObjRef::Hash(h) => Some(h),
        _ => None,
    }
}

fn with_hash<R>(o: &mut Object, f: impl FnOnce(&mut Hash) -> R) -> Option<R> {
    match o {
        Object::Hash(h) => Some(f(h)),
        _ => None,
    }
}

fn new_hash() -> Object {
    Object::Hash(Hash::default())
}

/// HSET of a packed hash that needs no copy of it: fields all there with
/// values as long as the new ones, written where the entry keeps them
/// ([`hash::set_in_place`]), or one new field appended as the entry is
/// rebuilt from its own bytes ([`hash::plan_one`]). None to go the
/// general way. Looked at before the entry is touched, so a key it does not
/// suit (another type included) is touched once, by the general way.
fn set_packed(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    pairs: &[(Bytes, Bytes)],
    lim: &Limits,
) -> Option<OpResult> {
    let ObjRef::Hash(HashRef::Packed(p)) = shard.peek(thash, key)?.object()? else {
        return None;
    };
    // One pair (the usual HSET) is looked for once.
    if let [(field, value)] = pairs {
        let done = match hash::plan_one(p, field, value, lim) {
            OnePair::Overwrite(at) => shard.update(thash, key, now, |e| {
                e.edit_compact(|tag, p| {
                    let v = p
                        .get_mut(at)
                        .filter(|v| tag == TAG_HASH_PACKED && v.len() == value.len())?;
                    v.copy_from_slice(value);
                    Some(0)
                })
            }),
            OnePair::Append(header, n) => shard.update(thash, key, now, |e| {
                e.append_compact(&[&header[..n], field, value]).then_some(1)
            }),
            OnePair::Neither => return None,
        };
        return done.flatten().map(OpResult::Int);
    }
    if hash::fits_in_place(p, pairs) {
        let done = shard.update(thash, key, now, |e| {
            e.edit_compact(|tag, p| {
                (tag == TAG_HASH_PACKED && hash::set_in_place(p, pairs)).then_some(())
            })
        });
        return done.flatten().map(|()| OpResult::Int(0));
    }
    None
}

pub(super) fn hash_op(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    op: HashOp,
    now: u64,
    lim: &Limits,
    seed: u64,
) -> OpResult {
    if let HashOp::Set { pairs, nx: false } = &op {
        if let Some(r) = set_packed(shard, thash, key, now, pairs, lim) {
            return r;
        }
    }
    let r = match op {
        HashOp::Set { pairs, nx } => edit(shard, thash, key, now, KIND, Some(&new_hash), |o| {
            with_hash(o, |h| {
                if nx {
                    let (f, v) = &pairs[0];
                    if h.as_ref().get(f).is_some() {
                        return 0;
                    }
                    return i64::from(h.set(f, v, lim));
                }
                pairs.iter().filter(|(f, v)| h.set(f, v, lim)).count() as i64
            })
        })
        .map(|r| OpResult::Int(r.flatten().unwrap_or(0))),
        HashOp::Get(f) => read(shard, thash, key, now, KIND, |o| {
            hash_of(o).and_then(|h| h.get(&f)).map(b)
        })
        .map(|r| r.flatten().map_or(OpResult::Nil, OpResult::Bulk)),
        HashOp::MGet(fields) => read(shard, thash, key, now, KIND, |o| {
            fields
                .iter()
                .map(|f| hash_of(o).and_then(|h| h.get(f)).map(b))
                .collect()
        })
        .map(|r| OpResult::Bulks(r.unwrap_or_else(|| vec![None; fields.len()]))),
        HashOp::GetAll => read(shard, thash, key, now, KIND, |o| {
            let mut v = Vec::with_capacity(o.len());
            if let Some(h) = hash_of(o) {
                h.for_each(|f, x| v.push((b(f), b(x))));
            }
            v
        })
        .map(|r| OpResult::Pairs(r.unwrap_or_default())),
        HashOp::Keys | HashOp::Vals => {
            let keys = matches!(op, HashOp::Keys);
            read(shard, thash, key, now, KIND, |o| {
                let mut v = Vec::with_capacity(o.len());
                if let Some(h) = hash_of(o) {
                    h.for_each(|f, x| v.push(Some(b(if keys { f } else { x }))));
                }
                v
            })
            .map(|r| OpResult::Bulks(r.unwrap_or_default()))
        }
        HashOp::Page { cursor, part } => read(shard, thash, key, now, KIND, |o| {
            let mut page = PageOut::new();
            let mut push = |f: &[u8], v: &[u8]| match part {
                HashPart::Fields => page.push(f),
                HashPart::Values => page.push(v),
                HashPart::Both => {
                    page.push(f);
                    page.push(v);
                }
            };
            let next = walk(hash_of(o), cursor, PAGE, None, &mut push);
            page.result(o.len(), next)
        })
        .map(|r| r.unwrap_or_else(|| PageOut::new().result(0, 0))),
        HashOp::Len => read(shard, thash, key, now, KIND, |o| o.len() as i64)
            .map(|r| OpResult::Int(r.unwrap_or(0))),
        HashOp::Exists(f) => read(shard, thash, key, now, KIND, |o| {
            hash_of(o).is_some_and(|h| h.get(&f).is_some())
        })
        .map(|r| OpResult::Int(i64::from(r.unwrap_or(false)))),
        HashOp::StrLen(f) => read(shard, thash, key, now, KIND, |o| {
            hash_of(o)
                .and_then(|h| h.get(&f))
                .map_or(0, |v| v.len() as i64)
        })
        .map(|r| OpResult::Int(r.unwrap_or(0))),
        HashOp::Del(fields) => edit(shard, thash, key, now, KIND, None, |o| {
            with_hash(o, |h| fields.iter().filter(|f| h.remove(f)).count() as i64)
        })
        .map(|r| OpResult::Int(r.flatten().unwrap_or(0))),
        HashOp::IncrBy(f, by) => edit(shard, thash, key, now, KIND, Some(&new_hash), |o| {
            with_hash(o, |h| {
                let cur = match h.as_ref().get(&f) {
                    Some(v) => parse_i64(v).ok_or(OpError::HashNotInteger)?,
                    None => 0,
                };
                let new = cur.checked_add(by).ok_or(OpError::Overflow)?;
                h.set(&f, new.to_string().as_bytes(), lim);
                Ok(new)
            })
        })
        .and_then(|r| r.flatten().unwrap_or(Err(OpError::WrongType)))
        .map(OpResult::Int),
        HashOp::IncrByFloat(f, by) => edit(shard, thash, key, now, KIND, Some(&new_hash), |o| {
            with_hash(o, |h| {
                let cur = h.as_ref().get(&f).unwrap_or(b"0");
                let text = decimal::add_text(cur, &by).map_err(|e| match e {
                    decimal::AddError::NotFloat => OpError::HashNotFloat,
                    decimal::AddError::NanOrInf => OpError::NanOrInf,
                })?;
                h.set(&f, text.as_bytes(), lim);
                Ok(text)
            })
        })
        .and_then(|r| r.flatten().unwrap_or(Err(OpError::WrongType)))
        .map(|t| OpResult::Bulk(Bytes::from(t))),
        HashOp::RandField { count, values } => read(shard, thash, key, now, KIND, |o| {
            hash_of(o).map(|h| rand_field(h, count, values, &mut Rand(seed | 1)))
        })
        .map(|r| match r.flatten() {
            Some(r) => r,
            None if count.is_none() => OpResult::Nil,
            None if values => OpResult::Pairs(Vec::new()),
            None => OpResult::Bulks(Vec::new()),
        }),
        HashOp::Scan {
            cursor,
            count,
            pattern,
            novalues,
        } => read(shard, thash, key, now, KIND, |o| {
            let mut out = Vec::new();
            let mut push = |f: &[u8], v: &[u8]| {
                out.push(b(f));
                if !novalues {
                    out.push(b(v));
                }
            };
            let next = walk(hash_of(o), cursor, count, pattern.as_deref(), &mut push);
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

/// HSCAN's and HGETALL's pages: from `cursor`, about `count` fields of a
/// table (those matching `pattern`) or every one of a compact hash, each
/// field and value to `emit`; returns the next cursor (0 at the end).
fn walk(
    h: Option<HashRef<'_>>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    emit: &mut impl FnMut(&[u8], &[u8]),
) -> u64 {
    match h {
        Some(HashRef::Table(t)) => {
            scan_table(t, cursor, count, pattern, |p| emit(&p.field, &p.value))
        }
        Some(h) => {
            h.for_each(|f, v| {
                if pattern.is_none_or(|p| glob_match(p, f)) {
                    emit(f, v)
                }
            });
            0
        }
        None => 0,
    }
}

/// HRANDFIELD with Redis's count rules: none → one field; 0 → nothing;
/// negative → that many picks, repeats allowed; at least the size → the
/// whole hash; else that many distinct fields.
fn rand_field(h: HashRef<'_>, count: Option<i64>, values: bool, rand: &mut Rand) -> OpResult {
    let n = h.len();
    let Some(count) = count else {
        return h
            .random(rand.next())
            .map_or(OpResult::Nil, |(f, _)| OpResult::Bulk(b(f)));
    };
    let picks = rand_picks(
        n,
        count,
        rand,
        |r| h.random(r),
        || {
            let mut all = Vec::with_capacity(n);
            h.for_each(|f, v| all.push((f, v)));
            all
        },
    );
    if values {
        OpResult::Pairs(picks.into_iter().map(|(f, v)| (b(f), b(v))).collect())
    } else {
        OpResult::Bulks(picks.into_iter().map(|(f, _)| Some(b(f))).collect())
    }
}
