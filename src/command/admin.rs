//! STAIRKV: the staircase's own admin command. `STAIRKV SHARDS` lists every
//! shard (id, core, keys, bytes, ops/s, state) by asking each core for its rows;
//! `STAIRKV TABLE` shows this core's copy of the routing table and `STAIRKV
//! KEYSHARD` where it places one key; MIGRATE, SPLIT,
//! MERGE and REBALANCE ask core 0's coordinator (`control`) for a change and
//! answer when it is done. Like every family it stands on `context` and never
//! imports `dispatch` (which names its handler).

use super::args::parse_u64;
use super::context::{help_reply, subcommand, wrong_arity, Ctx, Step};
use super::frame::Frame;
use crate::core::mesh::AdminRequest;
use crate::storage::ops::{CoreOp, OpResult};
use bytes::Bytes;

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("shards", 2),
    ("table", 2),
    ("migrate", 4),
    ("split", -2),
    ("merge", 2),
    ("rebalance", 2),
    ("keyshard", 3),
    ("help", 2),
];

pub fn stairkv(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let sub = match subcommand("stairkv", a, SUBCOMMANDS) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    let number = |i: usize, what: &str| {
        parse_u64(&a[i])
            .filter(|&n| n <= u32::MAX as u64)
            .ok_or_else(|| {
                Frame::Error(format!("ERR {what} must be a non-negative integer").into())
            })
    };
    let request = match sub {
        "migrate" => match (number(2, "shard"), number(3, "core")) {
            (Ok(shard), Ok(to)) => Some(AdminRequest::Migrate {
                shard: shard as u32,
                to: to as usize,
            }),
            (Err(f), _) | (_, Err(f)) => return Step::Done(f),
        },
        "split" if a.len() > 3 => return Step::Done(wrong_arity("stairkv|split")),
        "split" => match a.get(2).map(|_| number(2, "shard")) {
            None => Some(AdminRequest::Split { shard: None }),
            Some(Ok(s)) => Some(AdminRequest::Split {
                shard: Some(s as u32),
            }),
            Some(Err(f)) => return Step::Done(f),
        },
        "merge" => Some(AdminRequest::Merge),
        "rebalance" => Some(AdminRequest::Rebalance),
        _ => None,
    };
    if let Some(req) = request {
        let world = ctx.world.clone();
        let ok_int = matches!(req, AdminRequest::Split { .. } | AdminRequest::Rebalance);
        return Step::Async(Box::pin(async move {
            match crate::control::admin(&world, req).await {
                Ok(n) if ok_int => Frame::Int(n),
                Ok(_) => Frame::Ok,
                Err(e) => Frame::Error(format!("ERR {e}").into()),
            }
        }));
    }
    match sub {
        "shards" => {
            let tickets = ctx.batch.all_cores(CoreOp::ShardStats);
            Step::Many(tickets, |rs| {
                let mut rows = Vec::new();
                for r in rs {
                    if let OpResult::Stats(s) = r {
                        rows.extend(s);
                    }
                }
                rows.sort_by_key(|s| s.shard);
                Frame::Array(
                    rows.into_iter()
                        .map(|s| {
                            Frame::Map(vec![
                                (Frame::bulk("shard"), Frame::Int(s.shard as i64)),
                                (Frame::bulk("core"), Frame::Int(s.core as i64)),
                                (Frame::bulk("keys"), Frame::Int(s.keys as i64)),
                                (Frame::bulk("bytes"), Frame::Int(s.bytes as i64)),
                                (Frame::bulk("ttl_keys"), Frame::Int(s.ttl_keys as i64)),
                                (Frame::bulk("ops"), Frame::Int(s.ops as i64)),
                                (
                                    Frame::bulk("ops_per_sec"),
                                    Frame::Int(s.ops_per_sec.round() as i64),
                                ),
                                (Frame::bulk("state"), Frame::bulk(s.state)),
                            ])
                        })
                        .collect(),
                )
            })
        }
        "keyshard" => {
            let ks = ctx.world.keyspace.borrow();
            let t = ks.table();
            let shard = t.shard_of(crate::storage::hash::key_hash(&a[2]));
            Step::Done(Frame::Array(vec![
                Frame::Int(shard as i64),
                Frame::Int(t.owner(shard) as i64),
            ]))
        }
        "table" => {
            let ks = ctx.world.keyspace.borrow();
            let t = ks.table();
            Step::Done(Frame::Map(vec![
                (Frame::bulk("level"), Frame::Int(t.level as i64)),
                (Frame::bulk("split"), Frame::Int(t.split as i64)),
                (Frame::bulk("shards"), Frame::Int(t.num_shards() as i64)),
                (Frame::bulk("epoch"), Frame::Int(t.epoch as i64)),
                (
                    Frame::bulk("moving"),
                    Frame::Array(
                        t.moving
                            .iter()
                            .map(|&(s, from)| {
                                Frame::Array(vec![Frame::Int(s as i64), Frame::Int(from as i64)])
                            })
                            .collect(),
                    ),
                ),
                (
                    Frame::bulk("owners"),
                    Frame::Array(t.owners.iter().map(|&o| Frame::Int(o as i64)).collect()),
                ),
            ]))
        }
        _ => Step::Done(help_reply(&[
            "STAIRKV <subcommand>. Subcommands are:",
            "SHARDS",
            "    List every shard: id, core holding it, keys, bytes, keys with a TTL, ops, ops/s, state.",
            "TABLE",
            "    Show this core's routing table: level, split pointer, shards, epoch, moving shards, owners.",
            "MIGRATE <shard> <core>",
            "    Move a shard to a core while it serves; answers once it has moved.",
            "SPLIT [<shard>]",
            "    Split the next shard (or split until <shard> has split); answers the splits made.",
            "MERGE",
            "    Merge the staircase's last step back (moving a shard first if needed).",
            "REBALANCE",
            "    Move shards from busy cores to idle ones now; answers the migrations made.",
            "KEYSHARD <key>",
            "    The shard a key lives in and the core that owns it, by this core's table.",
        ])),
    }
}
