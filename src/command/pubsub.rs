//! The pub/sub family: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB, with Redis's
//! replies. Subscriptions live in the registry of the core the connection is
//! on ([`crate::core::pubsub`]); PUBLISH asks every core to deliver and adds up
//! the receivers. Shard channels are a namespace of their own, as in a
//! single-node Redis. This file never writes to a socket: messages reach
//! subscribers through their mailbox, which the connection loop drains. The
//! connection's side of its subscriptions ([`SubState`]) lives in
//! `subscriptions`, under both this file and `context`. It stands on `context`
//! and never imports `dispatch` or another family.

use super::context::{help_reply, subcommand, wrong_arity, ClientState, Ctx, Step};
use super::frame::Frame;
use super::subscriptions::SubState;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::core::pubsub::Kind;
use crate::core::world::World;
use crate::storage::ops::{CoreOp, OpResult};
use bytes::Bytes;
use std::rc::Rc;

/// Show the connection's subscription counts in CLIENT LIST.
fn publish_counts(world: &World, id: u64, subs: &SubState) {
    let counts = [subs.channels.len(), subs.patterns.len(), subs.shard.len()];
    world.clients.borrow_mut().update(id, |c| c.subs = counts);
}

fn words(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
        Kind::Monitor => ("monitor", "reset"),
    }
}

fn confirm(word: &'static str, name: Option<Bytes>, count: usize) -> Frame {
    Frame::Push(vec![
        Frame::bulk(word),
        name.map_or(Frame::Null, Frame::Bulk),
        Frame::Int(count as i64),
    ])
}

fn do_subscribe(ctx: &mut Ctx, kind: Kind, names: &[Bytes]) -> Step {
    let client = &mut *ctx.client;
    let subs = client
        .subs
        .get_or_insert_with(|| Box::new(SubState::new(client.fd)));
    let mut registry = ctx.world.pubsub.borrow_mut();
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        if subs.set(kind).insert(name.clone()) {
            registry.subscribe(kind, name.clone(), client.id, &subs.mailbox);
        }
        replies.push(confirm(words(kind).0, Some(name.clone()), subs.count(kind)));
    }
    publish_counts(ctx.world, client.id, subs);
    Step::Done(Frame::Multi(replies))
}

fn do_unsubscribe(ctx: &mut Ctx, kind: Kind, names: &[Bytes]) -> Step {
    let word = words(kind).1;
    let client = &mut *ctx.client;
    let Some(subs) = client.subs.as_mut() else {
        // Never subscribed: one confirmation per name (or one nil), all at 0.
        if names.is_empty() {
            return Step::Done(confirm(word, None, 0));
        }
        let replies = names
            .iter()
            .map(|n| confirm(word, Some(n.clone()), 0))
            .collect();
        return Step::Done(Frame::Multi(replies));
    };
    let targets: Vec<Bytes> = if names.is_empty() {
        subs.set(kind).iter().cloned().collect()
    } else {
        names.to_vec()
    };
    if targets.is_empty() {
        return Step::Done(confirm(word, None, subs.count(kind)));
    }
    let mut registry = ctx.world.pubsub.borrow_mut();
    let mut replies = Vec::with_capacity(targets.len());
    for name in targets {
        if subs.set(kind).remove(&name) {
            registry.unsubscribe(kind, &name, client.id);
        }
        replies.push(confirm(word, Some(name), subs.count(kind)));
    }
    publish_counts(ctx.world, client.id, subs);
    Step::Done(Frame::Multi(replies))
}

/// Drop every subscription of a connection that is closing or RESETting.
pub fn forget_client(world: &World, client: &mut ClientState) {
    let Some(subs) = client.subs.take() else {
        return;
    };
    let mut registry = world.pubsub.borrow_mut();
    for (kind, set) in [
        (Kind::Channel, &subs.channels),
        (Kind::Pattern, &subs.patterns),
        (Kind::Shard, &subs.shard),
        (Kind::Monitor, &subs.monitor),
    ] {
        for name in set {
            registry.unsubscribe(kind, name, client.id);
        }
    }
    world
        .clients
        .borrow_mut()
        .update(client.id, |c| c.subs = [0; 3]);
}

pub fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_subscribe(ctx, Kind::Channel, &a[1..])
}

pub fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_subscribe(ctx, Kind::Pattern, &a[1..])
}

pub fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_subscribe(ctx, Kind::Shard, &a[1..])
}

pub fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_unsubscribe(ctx, Kind::Channel, &a[1..])
}

pub fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_unsubscribe(ctx, Kind::Pattern, &a[1..])
}

pub fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_unsubscribe(ctx, Kind::Shard, &a[1..])
}

fn do_publish(ctx: &mut Ctx, shard: bool, a: &[Bytes]) -> Step {
    // One op per core, batched with the pipeline's other ops for that core.
    let tickets = ctx.batch.all_cores(CoreOp::Publish {
        shard,
        channel: a[1].clone(),
        payload: a[2].clone(),
    });
    Step::Many(tickets, receivers)
}

fn receivers(rs: Vec<OpResult>) -> Frame {
    Frame::Int(
        rs.iter()
            .map(|r| match r {
                OpResult::Int(n) => *n,
                _ => 0,
            })
            .sum(),
    )
}

pub fn publish(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_publish(ctx, false, a)
}

pub fn spublish(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    do_publish(ctx, true, a)
}

/// Every core's names of `kind` (matching `pattern`), without repeats, sorted.
async fn all_names(
    world: &Rc<World>,
    kind: Kind,
    pattern: Option<Bytes>,
) -> std::collections::BTreeSet<Bytes> {
    let mut all = std::collections::BTreeSet::new();
    for r in world
        .broadcast_task(CoreTask::PubsubNames { kind, pattern })
        .await
    {
        if let TaskResult::Names(names) = r {
            all.extend(names);
        }
    }
    all
}

pub fn pubsub(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("channels", -2),
        ("numsub", -2),
        ("numpat", 2),
        ("shardchannels", -2),
        ("shardnumsub", -2),
        ("help", 2),
    ];
    let sub = match subcommand("pubsub", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    let world = ctx.world.clone();
    let rest: Vec<Bytes> = a[2..].to_vec();
    match sub {
        "channels" | "shardchannels" => {
            if rest.len() > 1 {
                return Step::Done(wrong_arity(&format!("pubsub|{sub}")));
            }
            let kind = if sub == "channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            Step::Async(Box::pin(async move {
                let names = all_names(&world, kind, rest.into_iter().next()).await;
                Frame::Array(names.into_iter().map(Frame::Bulk).collect())
            }))
        }
        "numsub" | "shardnumsub" => {
            let kind = if sub == "numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            Step::Async(Box::pin(async move {
                let mut totals = vec![0usize; rest.len()];
                let task = CoreTask::PubsubCounts {
                    kind,
                    names: rest.clone(),
                };
                for r in world.broadcast_task(task).await {
                    if let TaskResult::Counts(c) = r {
                        for (t, n) in totals.iter_mut().zip(c) {
                            *t += n;
                        }
                    }
                }
                let mut out = Vec::with_capacity(rest.len() * 2);
                for (name, n) in rest.into_iter().zip(totals) {
                    out.push(Frame::Bulk(name));
                    out.push(Frame::Int(n as i64));
                }
                Frame::Array(out)
            }))
        }
        "numpat" => Step::Async(Box::pin(async move {
            Frame::Int(all_names(&world, Kind::Pattern, None).await.len() as i64)
        })),
        _ => Step::Done(help_reply(&[
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Print this help.",
        ])),
    }
}
