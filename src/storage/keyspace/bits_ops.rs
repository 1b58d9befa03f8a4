//! The ops that read strings as bits or as HyperLogLogs: SETBIT, GETBIT,
//! BITCOUNT, BITPOS, BITFIELD ([`BitsOp`]) and PFADD, PFCOUNT of one key and
//! PFMERGE's store ([`HllOp`]), on the shard holding the key. The bit and
//! HLL algorithms are [`crate::storage::bits`]'s and
//! [`crate::storage::hll`]'s; this file only finds the string, grows it,
//! and refuses other types. It knows one shard and one key.

use crate::storage::bits::{self, FieldOp};
use crate::storage::entry::Entry;
use crate::storage::hll::{self, HllError};
use crate::storage::ops::{BitsOp, HllOp, OpError, OpResult};
use crate::storage::shard::Shard;

fn hll_error(e: HllError) -> OpError {
    match e {
        HllError::NotHll => OpError::NotHll,
        HllError::Corrupt => OpError::HllCorrupt,
    }
}

/// The string at `key` as `f` reads it (`None`: no such key).
fn read<R>(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>, OpError> {
    match shard.get(thash, key, now) {
        None => Ok(None),
        Some(e) if !e.is_string() => Err(OpError::WrongType),
        Some(e) => Ok(Some(f(&e.value()))),
    }
}

/// Change the string at `key` (made of `len` zero bytes when missing and
/// `create`), first grown with zero bytes to at least `len`.
fn write<R>(
    shard: &mut Shard,
    thash: u64,
    key: &[u8],
    now: u64,
    len: usize,
    create: bool,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Result<Option<R>, OpError> {
    let mut f = Some(f);
    let r = shard.update(thash, key, now, |e| {
        if !e.is_string() {
            return Err(OpError::WrongType);
        }
        if e.value_len() < len {
            e.resize_value(len);
        }
        Ok(f.take().map(|f| e.value_mut(f)))
    });
    match r {
        Some(r) => r,
        None if create => {
            let mut e = Entry::zeroed(key, len, None);
            let r = f.take().map(|f| e.value_mut(f));
            shard.insert(thash, e);
            Ok(r)
        }
        None => Ok(None),
    }
}

pub(super) fn bits_op(shard: &mut Shard, thash: u64, key: &[u8], op: BitsOp, now: u64) -> OpResult {
    let r = match op {
        BitsOp::SetBit { offset, on } => {
            let len = (offset / 8) as usize + 1;
            write(shard, thash, key, now, len, true, |v| {
                bits::setbit(v, offset, on)
            })
            .map(|r| OpResult::Int(i64::from(r.unwrap_or(0))))
        }
        BitsOp::GetBit(offset) => read(shard, thash, key, now, |v| bits::getbit(v, offset))
            .map(|r| OpResult::Int(i64::from(r.unwrap_or(0)))),
        BitsOp::Count { range, unit } => {
            read(shard, thash, key, now, |v| bits::bitcount(v, range, unit))
                .map(|r| OpResult::Int(r.unwrap_or(0) as i64))
        }
        BitsOp::Pos {
            bit,
            start,
            end,
            unit,
        } => read(shard, thash, key, now, |v| {
            bits::bitpos(v, bit, start, end, unit)
        })
        // A missing key is all clear bits, endless: 0 is found at once.
        .map(|r| OpResult::Int(r.unwrap_or(if bit { -1 } else { 0 }))),
        BitsOp::Field(ops) => {
            if ops.iter().any(FieldOp::is_write) {
                let len = bits::bitfield_needed_len(&ops);
                write(shard, thash, key, now, len, true, |v| {
                    bits::bitfield_run(v, &ops).0
                })
                .map(|r| OpResult::Fields(r.unwrap_or_default()))
            } else {
                // Reads only: a copy of the bytes they reach (past the end
                // reads zeros).
                let reach = ops
                    .iter()
                    .map(|o| match o {
                        FieldOp::Get { ty, offset } => {
                            ((offset + u64::from(ty.bits)).div_ceil(8)) as usize
                        }
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                read(shard, thash, key, now, |v| {
                    let mut copy = v[..v.len().min(reach)].to_vec();
                    copy.resize(reach, 0);
                    bits::bitfield_run(&mut copy, &ops).0
                })
                .map(|r| {
                    OpResult::Fields(r.unwrap_or_else(|| {
                        let mut zeros = vec![0u8; reach];
                        bits::bitfield_run(&mut zeros, &ops).0
                    }))
                })
            }
        }
    };
    r.unwrap_or_else(OpResult::Err)
}

pub(super) fn hll_op(shard: &mut Shard, thash: u64, key: &[u8], op: HllOp, now: u64) -> OpResult {
    let r = match op {
        HllOp::Add {
            elements,
            sparse_max,
        } => {
            let elems: Vec<&[u8]> = elements.iter().map(|e| &e[..]).collect();
            let r = shard.update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                let mut v = e.value().to_vec();
                let r = hll::add(&mut v, &elems, sparse_max);
                // A corrupt sketch keeps what was added before the damage
                // was found, as Redis's does.
                if matches!(r, Ok(true) | Err(HllError::Corrupt)) {
                    e.set_value(&v);
                }
                r.map_err(hll_error)
            });
            match r {
                Some(r) => r.map(|changed| OpResult::Int(i64::from(changed))),
                None => {
                    let mut v = hll::new_empty();
                    hll::add(&mut v, &elems, sparse_max)
                        .map_err(hll_error)
                        .map(|_| {
                            shard.insert(thash, Entry::new(key, &v, None));
                            OpResult::Int(1)
                        })
                }
            }
        }
        HllOp::Count => shard
            .update(thash, key, now, |e| {
                if !e.is_string() {
                    return Err(OpError::WrongType);
                }
                let mut v = e.value().to_vec();
                let (n, cached) = hll::count(&mut v).map_err(hll_error)?;
                if cached {
                    // The refreshed cache: same length, written in place.
                    e.write_at(0, &v);
                }
                Ok(n)
            })
            .unwrap_or(Ok(0))
            .map(|n| OpResult::Int(n as i64)),
        HllOp::Store(value) => {
            let done = shard.update(thash, key, now, |e| {
                if e.is_string() {
                    e.set_value(&value);
                    true
                } else {
                    false
                }
            });
            match done {
                Some(true) => Ok(OpResult::Ok),
                Some(false) => Err(OpError::WrongType),
                None => {
                    shard.insert(thash, Entry::new(key, &value, None));
                    Ok(OpResult::Ok)
                }
            }
        }
    };
    r.unwrap_or_else(OpResult::Err)
}
