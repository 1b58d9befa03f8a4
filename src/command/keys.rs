//! The generic key family: DEL/UNLINK/EXISTS across cores, TYPE, the EXPIRE
//! family and TTL readers, KEYS/SCAN/RANDOMKEY over every core, RENAME. It
//! stands on `context` and never imports another family or `dispatch`.

use super::args::{int_arg, is, parse_u64, SYNTAX};
use super::context::{clip, help_reply, subcommand, Ctx, Step};
use super::frame::Frame;
use crate::core::router::BatchSeed;
use crate::storage::cursor::Cursor;
use crate::storage::now_ms;
use crate::storage::ops::{CoreOp, ExpireCond, Inspect, KeyOp, OpResult};
use bytes::Bytes;

fn sum_ints(rs: Vec<OpResult>) -> Frame {
    let mut n = 0;
    for r in rs {
        match r {
            OpResult::Int(i) => n += i,
            OpResult::Err(_) => return Frame::from(r),
            _ => {}
        }
    }
    Frame::Int(n)
}

fn each_key(ctx: &mut Ctx, a: &[Bytes], op: KeyOp) -> Step {
    let tickets = a[1..]
        .iter()
        .map(|k| ctx.batch.key(k.clone(), op.clone()))
        .collect();
    Step::Many(tickets, sum_ints)
}

pub fn del(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    each_key(ctx, a, KeyOp::Del)
}

pub fn exists(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    each_key(ctx, a, KeyOp::Exists)
}

/// TOUCH: EXISTS's count; the lookup records an access for eviction, as Redis's does.
pub fn touch(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    each_key(ctx, a, KeyOp::Exists)
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, and HELP. Reading a key's
/// object never counts as an access to it.
pub fn object(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("encoding", 3),
        ("freq", 3),
        ("idletime", 3),
        ("refcount", 3),
        ("help", 2),
    ];
    let what =
        match subcommand("object", a, &subs) {
            Ok("encoding") => Inspect::Encoding,
            Ok("freq") => Inspect::Freq,
            Ok("idletime") => Inspect::IdleTime,
            Ok("refcount") => Inspect::RefCount,
            Ok(_) => return Step::Done(help_reply(&[
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Print this help.",
            ])),
            Err(f) => return Step::Done(f),
        };
    Step::One(
        ctx.batch.key(a[2].clone(), KeyOp::Inspect(what)),
        Frame::from,
    )
}

pub fn type_(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Type), Frame::from)
}

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT share one shape: a time, a unit, relative or absolute.
fn expire_generic(ctx: &mut Ctx, a: &[Bytes], unit_ms: i64, absolute: bool) -> Step {
    let mut cond = ExpireCond::Always;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        if is(o, "NX") {
            nx = true;
        } else if is(o, "XX") {
            xx = true;
        } else if is(o, "GT") {
            gt = true;
        } else if is(o, "LT") {
            lt = true;
        } else {
            return Step::Done(Frame::Error(
                format!("ERR Unsupported option {}", clip(o)).into(),
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return Step::Done(Frame::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Step::Done(Frame::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    if nx {
        cond = ExpireCond::Nx;
    } else if xx {
        cond = ExpireCond::Xx;
    }
    // GT already fails on a key without a deadline, so XX adds nothing to it;
    // XX with LT does add something and has its own condition.
    if gt {
        cond = ExpireCond::Gt;
    } else if lt {
        cond = if xx { ExpireCond::XxLt } else { ExpireCond::Lt };
    }
    // Redis checks the options before the time.
    let n = match int_arg(&a[2]) {
        Ok(n) => n,
        Err(f) => return Step::Done(f),
    };
    let bad = || {
        Step::Done(Frame::Error(
            format!("ERR invalid expire time in '{}' command", ctx_name(a)).into(),
        ))
    };
    let Some(ms) = n.checked_mul(unit_ms) else {
        return bad();
    };
    let at = if absolute {
        ms
    } else {
        // From the batch's clock: a transaction's frozen one inside it.
        match ms.checked_add(ctx.batch.now() as i64) {
            Some(v) => v,
            None => return bad(),
        }
    };
    let at_ms = at.max(0) as u64;
    Step::One(
        ctx.batch.key(a[1].clone(), KeyOp::Expire { at_ms, cond }),
        Frame::from,
    )
}

fn ctx_name(a: &[Bytes]) -> String {
    super::args::lower(&a[0])
}

pub fn expire(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    expire_generic(ctx, a, 1000, false)
}
pub fn pexpire(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    expire_generic(ctx, a, 1, false)
}
pub fn expireat(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    expire_generic(ctx, a, 1000, true)
}
pub fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    expire_generic(ctx, a, 1, true)
}

/// Redis rounds remaining seconds to the nearest: (ms + 500) / 1000.
fn to_secs(r: OpResult) -> Frame {
    match r {
        OpResult::Int(n) if n >= 0 => Frame::Int((n + 500) / 1000),
        other => Frame::from(other),
    }
}

pub fn ttl(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Pttl), to_secs)
}
pub fn pttl(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Pttl), Frame::from)
}
pub fn expiretime(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::PexpireTime), to_secs)
}
pub fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::PexpireTime), Frame::from)
}
pub fn persist(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::One(ctx.batch.key(a[1].clone(), KeyOp::Persist), Frame::from)
}

pub fn keys(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let op = CoreOp::Keys {
        pattern: a[1].clone(),
    };
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let mut out = Vec::new();
        for r in count_everywhere(&seed, op).await {
            if let OpResult::Keys(ks) = r {
                out.extend(ks.into_iter().map(Frame::Bulk));
            }
        }
        Frame::Array(out)
    }))
}

/// Tries a DBSIZE or KEYS makes for a count in which every core used the same table.
const COUNT_TRIES: usize = 16;

/// Run a DBSIZE or KEYS on every core and return the parts. The parts are added
/// only when every core counted under the same routing-table epoch: then no
/// shard moved between two cores' counts, and a shard in the middle of a move
/// is counted once by its target (see `storage::migration::count_part`).
/// Different epochs (a split or a migration step in between) mean another try.
pub async fn count_everywhere(seed: &BatchSeed, op: CoreOp) -> Vec<OpResult> {
    let mut parts = Vec::new();
    for _ in 0..COUNT_TRIES {
        let mut b = seed.batch();
        let tickets = b.all_cores(op.clone());
        let mut rs = b.finish().await;
        let mut epochs = Vec::with_capacity(tickets.len());
        parts.clear();
        for t in tickets {
            match rs.take(t) {
                OpResult::Counted { result, epoch } => {
                    epochs.push(epoch);
                    parts.push(*result);
                }
                other => parts.push(other),
            }
        }
        if epochs.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
    }
    parts
}

pub fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let tickets = ctx.batch.all_cores(CoreOp::RandomKey);
    Step::Many(tickets, |rs| {
        let found: Vec<Bytes> = rs
            .into_iter()
            .filter_map(|r| match r {
                OpResult::Keys(mut ks) => ks.pop(),
                _ => None,
            })
            .collect();
        if found.is_empty() {
            return Frame::Null;
        }
        let pick = (now_ms() as usize ^ found.len().wrapping_mul(0x9E37)) % found.len();
        Frame::Bulk(found[pick].clone())
    })
}

/// Cores a SCAN call visits at most before it answers a short page (its
/// cursor goes on from there): a bound on one call's time when shards of
/// every core alternate along the position space after many migrations.
const SCAN_HOPS: usize = 64;

/// SCAN: the cursor (`storage::cursor`, always below 2^53) names a shard and a
/// bucket in it; the core owning the shard walks on from there through the
/// shards it owns, and the call goes on to the next core until COUNT is spent.
pub fn scan(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let Some(cursor) = parse_u64(&a[1]).filter(|&c| Cursor::decode(c).is_some()) else {
        return Step::Done(Frame::err("ERR invalid cursor"));
    };
    let mut count = 10usize;
    let mut pattern = None;
    let mut type_name = None;
    let mut i = 2;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return Step::Done(Frame::err(SYNTAX));
        };
        if is(&a[i], "COUNT") {
            match int_arg(v) {
                Ok(n) if n >= 1 => count = n as usize,
                Ok(_) => return Step::Done(Frame::err(SYNTAX)),
                Err(f) => return Step::Done(f),
            }
        } else if is(&a[i], "MATCH") {
            pattern = Some(v.clone());
        } else if is(&a[i], "TYPE") {
            type_name = Some(v.clone());
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
        i += 2;
    }
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let world = seed.world();
        let (mut cursor, mut used, mut keys) = (cursor, 0usize, Vec::new());
        for _ in 0..SCAN_HOPS {
            let core = {
                let ks = world.keyspace.borrow();
                let t = ks.table();
                t.owner(t.shard_of_pos(Cursor::read(cursor).position()))
            };
            let op = CoreOp::Scan {
                cursor,
                count: count - used,
                pattern: pattern.clone(),
                type_name: type_name.clone(),
            };
            match seed.run_core(core, op).await {
                OpResult::Scan {
                    next,
                    keys: page,
                    used: spent,
                } => {
                    keys.extend(page.into_iter().map(Frame::Bulk));
                    used += spent;
                    let stuck = next == cursor && spent == 0;
                    cursor = next;
                    if next == 0 || used >= count || stuck {
                        break;
                    }
                }
                other => return Frame::from(other),
            }
        }
        Frame::Array(vec![Frame::bulk(cursor.to_string()), Frame::Array(keys)])
    }))
}

/// RENAME/RENAMENX: atomic when both keys live on one core; otherwise (or when a
/// migration has just spread them over two cores) the value and its deadline are
/// taken from the source core and put on the destination core.
fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> Step {
    let (src, dst) = (a[1].clone(), a[2].clone());
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let rename = || CoreOp::Rename {
            src: src.clone(),
            dst: dst.clone(),
            nx,
        };
        if let Some(r) = seed.run_on_one_core(&[&src, &dst], rename).await {
            return Frame::from(r);
        }
        if nx {
            let mut b = seed.batch();
            let (s, d) = (
                b.key(src.clone(), KeyOp::Exists),
                b.key(dst.clone(), KeyOp::Exists),
            );
            let mut rs = b.finish().await;
            let (s, d) = (rs.take(s), rs.take(d));
            if s != OpResult::Int(1) {
                return Frame::err("ERR no such key");
            }
            if d == OpResult::Int(1) {
                return Frame::Int(0);
            }
        }
        let Some((value, deadline)) = (match seed.run_key(src.clone(), KeyOp::Take).await {
            OpResult::Taken(v) => v,
            _ => None,
        }) else {
            return Frame::err("ERR no such key");
        };
        let put = KeyOp::Put {
            value: value.clone(),
            deadline,
            only_if_absent: nx,
            event: "rename_to",
            hint: None,
        };
        if seed.run_key(dst, put).await == OpResult::Int(1) {
            return if nx { Frame::Int(1) } else { Frame::Ok };
        }
        // RENAMENX lost a race for the destination: give the source its value back.
        let back = KeyOp::Put {
            value,
            deadline,
            only_if_absent: true,
            event: "rename_to",
            hint: None,
        };
        seed.run_key(src, back).await;
        Frame::Int(0)
    }))
}

/// COPY source destination [DB 0] [REPLACE]: atomic when both keys live on one
/// core (or inside MULTI or a script, which hold both); otherwise the source's
/// value and deadline are read on its core and stored on the destination's,
/// as RENAME does across cores.
pub fn copy(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (src, dst) = (a[1].clone(), a[2].clone());
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "REPLACE") {
            replace = true;
            i += 1;
        } else if is(&a[i], "DB") && i + 1 < a.len() {
            // One database: index 0 only (Redis's text for an index it has not).
            match int_arg(&a[i + 1]) {
                Ok(0) => {}
                Ok(_) => return Step::Done(Frame::err("ERR DB index is out of range")),
                Err(f) => return Step::Done(f),
            }
            i += 2;
        } else {
            return Step::Done(Frame::err(SYNTAX));
        }
    }
    if src == dst {
        return Step::Done(Frame::err(
            "ERR source and destination objects are the same",
        ));
    }
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let copy = || CoreOp::Copy {
            src: src.clone(),
            dst: dst.clone(),
            replace,
        };
        if let Some(r) = seed.run_on_one_core(&[&src, &dst], copy).await {
            return Frame::from(r);
        }
        let Some((value, deadline)) = (match seed.run_key(src, KeyOp::Read).await {
            OpResult::Taken(v) => v,
            _ => None,
        }) else {
            return Frame::Int(0);
        };
        let put = KeyOp::Put {
            value,
            deadline,
            only_if_absent: !replace,
            event: "copy_to",
            hint: None,
        };
        Frame::from(seed.run_key(dst, put).await)
    }))
}

pub fn rename(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    rename_generic(ctx, a, false)
}

pub fn renamenx(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    rename_generic(ctx, a, true)
}
