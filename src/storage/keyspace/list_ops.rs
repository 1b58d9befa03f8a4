//! The list ops ([`ListOp`]: LPUSH, RPOP, LRANGE, LINSERT, LPOS, ...) on
//! the shard holding the key, with Redis's semantics. It knows one shard and
//! one key, as `shard_ops` does; the encodings are
//! [`crate::storage::object::list`]'s.

use super::collection::{b, edit, read, PageOut};
use crate::storage::entry::Entry;
use crate::storage::object::list::{List, ListLimit, ListRef};
use crate::storage::object::{ObjRef, Object};
use crate::storage::ops::{ListOp, OpError, OpResult, PAGE};
use crate::storage::shard::Shard;

const KIND: &str = "list";

fn list_of(o: ObjRef<'_>) -> Option<ListRef<'_>> {
    match o {
        ObjRef::List(l) => Some(l),
        _ => None,
    }
}

fn with_list<R>(o: &mut Object, f: impl FnOnce(&mut List) -> R) -> Option<R> {
    match o {
        Object::List(l) => Some(f(l)),
        _ => None,
    }
}

pub(super) fn list_op(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    op: ListOp,
    now: u64,
    lim: ListLimit,
) -> OpResult {
    let r = match op {
        ListOp::Push { front, values, xx } => {
            let make = || Object::List(List::default());
            let make: Option<&dyn Fn() -> Object> = if xx { None } else { Some(&make) };
            edit(shard, thash, key, now, KIND, make, |o| {
                with_list(o, |l| {
                    l.push(front, &values, lim);
                    l.as_ref().len() as i64
                })
            })
            .map(|r| OpResult::Int(r.flatten().unwrap_or(0)))
        }
        ListOp::Pop { front, count } => edit(shard, thash, key, now, KIND, None, |o| {
            with_list(o, |l| l.pop(front, count.unwrap_or(1), lim))
        })
        .map(|r| match (r.flatten(), count) {
            (None, _) => OpResult::Nil,
            (Some(mut v), None) => v.pop().map_or(OpResult::Nil, |x| OpResult::Bulk(x.into())),
            (Some(v), Some(_)) => OpResult::Bulks(v.into_iter().map(|x| Some(x.into())).collect()),
        }),
        ListOp::Len => read(shard, thash, key, now, KIND, |o| o.len() as i64)
            .map(|r| OpResult::Int(r.unwrap_or(0))),
        ListOp::Range { start, stop } => read(shard, thash, key, now, KIND, |o| {
            list_of(o).map_or_else(Vec::new, |l| {
                l.range(start, stop)
                    .into_iter()
                    .map(|x| Some(b(x)))
                    .collect()
            })
        })
        .map(|r| OpResult::Bulks(r.unwrap_or_default())),
        ListOp::RangePage {
            start,
            stop,
            cursor,
        } => read(shard, thash, key, now, KIND, |o| {
            let mut page = PageOut::new();
            let Some(l) = list_of(o) else {
                return page.result(0, 0);
            };
            let Some((a, b)) = l.range_bounds(start, stop) else {
                return page.result(0, 0);
            };
            let from = if cursor == 0 { a } else { cursor as usize };
            let to = b.min(from.saturating_add(PAGE - 1));
            if from <= to {
                l.iter_from(from)
                    .take(to - from + 1)
                    .for_each(|x| page.push(x));
            }
            let next = if to >= b { 0 } else { to as u64 + 1 };
            page.result(b - a + 1, next)
        })
        .map(|r| r.unwrap_or_else(|| PageOut::new().result(0, 0))),
        ListOp::Index(i) => read(shard, thash, key, now, KIND, |o| {
            list_of(o).and_then(|l| l.get(i)).map(b)
        })
        .map(|r| r.flatten().map_or(OpResult::Nil, OpResult::Bulk)),
        ListOp::Set { index, value } => edit(shard, thash, key, now, KIND, None, |o| {
            with_list(o, |l| l.set(index, &value, lim))
        })
        .and_then(|r| match r {
            None => Err(OpError::NoSuchKey),
            Some(Some(true)) => Ok(OpResult::Ok),
            Some(_) => Err(OpError::IndexOutOfRange),
        }),
        ListOp::Insert {
            before,
            pivot,
            value,
        } => edit(shard, thash, key, now, KIND, None, |o| {
            with_list(o, |l| l.insert(before, &pivot, &value, lim))
        })
        .map(|r| match r {
            // No key: 0, as Redis answers.
            None => OpResult::Int(0),
            Some(Some(Some(len))) => OpResult::Int(len as i64),
            Some(_) => OpResult::Int(-1),
        }),
        ListOp::Store { values, .. } => {
            shard.remove(thash, key);
            if !values.is_empty() {
                let l = List::from_elements(&values, lim);
                shard.insert(thash, Entry::with_object(key, Object::List(l), None));
            }
            Ok(OpResult::Int(values.len() as i64))
        }
        ListOp::Rem { count, value } => edit(shard, thash, key, now, KIND, None, |o| {
            with_list(o, |l| l.remove(count, &value, lim) as i64)
        })
        .map(|r| OpResult::Int(r.flatten().unwrap_or(0))),
        ListOp::Trim { start, stop } => edit(shard, thash, key, now, KIND, None, |o| {
            with_list(o, |l| l.trim(start, stop, lim))
        })
        .map(|_| OpResult::Ok),
        ListOp::Pos {
            value,
            rank,
            count,
            maxlen,
        } => read(shard, thash, key, now, KIND, |o| {
            list_of(o).map_or_else(Vec::new, |l| {
                // Without COUNT, the first match the rank names.
                l.positions(&value, rank, count.unwrap_or(1), maxlen)
            })
        })
        .map(|r| {
            let found = r.unwrap_or_default();
            match count {
                None => found
                    .first()
                    .map_or(OpResult::Nil, |&i| OpResult::Int(i as i64)),
                Some(_) => OpResult::Ints(found.into_iter().map(|i| i as i64).collect()),
            }
        }),
    };
    r.unwrap_or_else(OpResult::Err)
}
