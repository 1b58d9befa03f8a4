//! SLOWLOG GET/LEN/RESET/HELP: the commands that took at least
//! `slowlog-log-slower-than` microseconds, gathered from every core's slow
//! log (`core::slowlog`) and ordered newest first, at most `slowlog-max-len`
//! of them in all. It only reads and clears those logs; what is slow is
//! decided where commands run (`observe`).

use super::args::{int_arg, SYNTAX};
use super::context::{help_reply, subcommand, Ctx, Step};
use super::frame::Frame;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::core::slowlog::SlowEntry;
use crate::core::world::World;
use bytes::Bytes;
use std::rc::Rc;

/// Redis's default count for SLOWLOG GET.
const DEFAULT_GET: usize = 10;

/// Every core's newest `count` entries, newest first, at most
/// `slowlog-max-len` in all.
async fn gather(world: &Rc<World>, count: Option<usize>) -> Vec<SlowEntry> {
    let mut all: Vec<SlowEntry> = world
        .broadcast_task(CoreTask::Slowlog { count })
        .await
        .into_iter()
        .flat_map(|r| match r {
            TaskResult::Slow(v) => v,
            _ => Vec::new(),
        })
        .collect();
    all.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
    let max = world.config.borrow().slowlog_max_len as usize;
    all.truncate(count.unwrap_or(usize::MAX).min(max));
    all
}

fn entry_frame(e: SlowEntry) -> Frame {
    Frame::Array(vec![
        Frame::Int(e.id as i64),
        Frame::Int(e.at as i64),
        Frame::Int(e.micros as i64),
        Frame::Array(e.args.into_iter().map(Frame::Bulk).collect()),
        Frame::bulk(e.peer),
        Frame::bulk(e.name),
    ])
}

pub fn slowlog(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [("get", -2), ("len", 2), ("reset", 2), ("help", 2)];
    let sub = match subcommand("slowlog", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    let world = ctx.world.clone();
    match sub {
        "get" => {
            let count = match a.get(2).map(|c| int_arg(c)) {
                None => Some(DEFAULT_GET),
                Some(Ok(-1)) => None,
                Some(Ok(n)) if n >= 0 => Some(n as usize),
                Some(Ok(_)) => {
                    return Step::Done(Frame::err(
                        "ERR count should be greater than or equal to -1",
                    ))
                }
                Some(Err(f)) => return Step::Done(f),
            };
            if a.len() > 3 {
                return Step::Done(Frame::err(SYNTAX));
            }
            Step::Async(Box::pin(async move {
                let entries = gather(&world, count).await;
                Frame::Array(entries.into_iter().map(entry_frame).collect())
            }))
        }
        "len" => Step::Async(Box::pin(async move {
            Frame::Int(gather(&world, None).await.len() as i64)
        })),
        "reset" => Step::Async(Box::pin(async move {
            world.broadcast_task(CoreTask::SlowlogReset).await;
            Frame::Ok
        })),
        _ => Step::Done(help_reply(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ])),
    }
}
