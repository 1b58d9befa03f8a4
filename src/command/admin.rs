//! STAIRKV: the staircase's own admin command. `STAIRKV SHARDS` lists every
//! shard (id, core, keys, bytes) by asking each core for its rows; `STAIRKV
//! TABLE` shows this core's copy of the routing table.

use super::exec::{help_reply, subcommand, Ctx, Step};
use super::frame::Frame;
use crate::storage::ops::{CoreOp, OpResult};
use bytes::Bytes;

pub fn stairkv(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let sub = match subcommand("stairkv", a, &[("shards", 2), ("table", 2), ("help", 2)]) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
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
                                (
                                    Frame::bulk("state"),
                                    Frame::bulk(if s.splitting { "splitting" } else { "stable" }),
                                ),
                            ])
                        })
                        .collect(),
                )
            })
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
                    Frame::bulk("owners"),
                    Frame::Array(t.owners.iter().map(|&o| Frame::Int(o as i64)).collect()),
                ),
            ]))
        }
        _ => Step::Done(help_reply(&[
            "STAIRKV <subcommand>. Subcommands are:",
            "SHARDS",
            "    List every shard: id, owning core, keys, bytes, keys with a TTL, state.",
            "TABLE",
            "    Show the routing table: level, split pointer, shard count, epoch, owners.",
        ])),
    }
}
