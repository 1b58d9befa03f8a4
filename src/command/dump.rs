//! DUMP and RESTORE (Redis's generic group, apart from `keys.rs` for its
//! size): a key's value in Redis's serialization (`persist::rdb`'s DUMP
//! payload, RDB version 10 with its CRC64), so a payload from redis-server
//! 7.0 restores here and one from here restores there. RESTORE stores the
//! value with its TTL (relative, or with ABSTTL a unix time in ms), over an
//! existing key only with REPLACE, and with IDLETIME or FREQ sets what the
//! eviction policy in force keeps of past accesses. Strings only, until the
//! other types come.

use super::args::{int_arg, is, SYNTAX};
use super::context::{Ctx, Step};
use super::frame::Frame;
use crate::persist::rdb::{dump_value, restore_value, BadPayload};
use crate::storage::now_ms;
use crate::storage::ops::{AccessHint, KeyOp, OpResult};
use bytes::Bytes;

pub fn dump(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Read), dumped)
}

fn dumped(r: OpResult) -> Frame {
    match r {
        OpResult::Taken(Some((value, _))) => Frame::Bulk(dump_value(&value).into()),
        OpResult::Taken(None) => Frame::Null,
        other => Frame::from(other),
    }
}

pub fn restore(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match restore_op(a) {
        Ok(put) => Step::One(ctx.batch.key(a[1].clone(), put), restored),
        Err(f) => Step::Done(f),
    }
}

/// The options and payload of a RESTORE, as the Put that stores it.
fn restore_op(a: &[Bytes]) -> Result<KeyOp, Frame> {
    let ttl = int_arg(&a[2])?;
    if ttl < 0 {
        return Err(Frame::err("ERR Invalid TTL value, must be >= 0"));
    }
    let (mut replace, mut absttl, mut hint) = (false, false, None);
    let mut i = 4;
    while i < a.len() {
        let more = i + 1 < a.len();
        if is(&a[i], "REPLACE") {
            replace = true;
        } else if is(&a[i], "ABSTTL") {
            absttl = true;
        } else if is(&a[i], "IDLETIME") && more && hint.is_none() {
            i += 1;
            match int_arg(&a[i])? {
                n if n < 0 => return Err(Frame::err("ERR Invalid IDLETIME value, must be >= 0")),
                n => hint = Some(AccessHint::IdleSecs(n as u64)),
            }
        } else if is(&a[i], "FREQ") && more && hint.is_none() {
            i += 1;
            match int_arg(&a[i])? {
                n @ 0..=255 => hint = Some(AccessHint::Freq(n as u8)),
                _ => {
                    return Err(Frame::err(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ))
                }
            }
        } else {
            return Err(Frame::err(SYNTAX));
        }
        i += 1;
    }
    let value = restore_value(&a[3]).map_err(|e| match e {
        BadPayload::VersionOrChecksum => {
            Frame::err("ERR DUMP payload version or checksum are wrong")
        }
        BadPayload::Format => Frame::err("ERR Bad data format"),
    })?;
    let deadline = match (ttl, absttl) {
        (0, _) => None,
        (t, true) => Some(t as u64),
        (t, false) => Some(now_ms().saturating_add(t as u64)),
    };
    Ok(KeyOp::Put {
        value,
        deadline,
        only_if_absent: !replace,
        event: "restore",
        hint,
    })
}

fn restored(r: OpResult) -> Frame {
    match r {
        OpResult::Int(1) => Frame::Ok,
        OpResult::Int(_) => Frame::err("BUSYKEY Target key name already exists."),
        other => Frame::from(other),
    }
}
