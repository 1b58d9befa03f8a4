//! The rest of the server family: COMMAND, TIME, DBSIZE, FLUSHDB/FLUSHALL,
//! SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, SHUTDOWN (INFO and CONFIG have their
//! own files). They answer from this core or from a per-core op. COMMAND reads
//! the command table from [`Ctx::table`], passed down by `dispatch`: this file
//! never imports the table (which names its handlers).

use super::args::{int_arg, is, lower, SYNTAX};
use super::context::{arity_ok, help_reply, subcommand, CommandSpec, Ctx, Step};
use super::frame::Frame;
use super::keyspec::{command_keys, key_flags};
use crate::core::blocked::Unblock;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::storage::ops::{CoreOp, Inspect, KeyOp, OpResult};
use bytes::Bytes;

pub fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Step::Done(Frame::Array(vec![
        Frame::bulk(d.as_secs().to_string()),
        Frame::bulk(d.subsec_micros().to_string()),
    ]))
}

/// MEMORY USAGE key [SAMPLES count], DOCTOR, MALLOC-STATS, PURGE, HELP.
/// USAGE is the bytes the key takes here: its entry's allocations (value
/// included) and its table slot; SAMPLES is checked and, with strings only,
/// has nothing to sample.
pub fn memory(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("usage", -3),
        ("stats", 2),
        ("doctor", 2),
        ("malloc-stats", 2),
        ("purge", 2),
        ("help", 2),
    ];
    match subcommand("memory", a, &subs) {
        Ok("usage") => {
            match &a[3..] {
                [] => {}
                [opt, n] if is(opt, "SAMPLES") => {
                    if let Err(f) = int_arg(n) {
                        return Step::Done(f);
                    }
                }
                _ => return Step::Done(Frame::err(SYNTAX)),
            }
            Step::One(ctx.batch.key(a[2].clone(), KeyOp::Inspect(Inspect::MemoryUsage)), Frame::from)
        }
        Ok("stats") => {
            let world = ctx.world.clone();
            Step::Async(Box::pin(async move { memory_stats(&world).await }))
        }
        Ok("doctor") => Step::Done(Frame::bulk(
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        )),
        // Redis's answer for an allocator it has no statistics of (stairkv uses the libc allocator).
        Ok("malloc-stats") => Step::Done(Frame::bulk("Stats not supported for the current allocator")),
        Ok("purge") => Step::Done(Frame::Ok),
        Ok(_) => Step::Done(help_reply(&[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Print this help.",
        ])),
        Err(f) => Step::Done(f),
    }
}

/// MEMORY STATS: Redis's names for what stairkv counts, summed over every
/// core. `total.allocated` is the data structures' memory (`used_memory`),
/// `dataset.bytes` the keys' and values' bytes, the overhead the rest (tables
/// and entry headers); fragmentation compares the process's RSS with it.
async fn memory_stats(world: &std::rc::Rc<crate::core::world::World>) -> Frame {
    let (mut used, mut dataset, mut keys, mut ttl_keys) = (0u64, 0u64, 0u64, 0u64);
    for r in world.broadcast_task(CoreTask::Stats).await {
        if let TaskResult::Stats(s) = r {
            used += s.used_memory;
            dataset += s.bytes;
            keys += s.keys;
            ttl_keys += s.ttl_keys;
        }
    }
    let rss = super::info::rss_bytes();
    let overhead = used.saturating_sub(dataset);
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let int = |n: u64| Frame::Int(n.min(i64::MAX as u64) as i64);
    let pair = |k: &'static str, v: Frame| (Frame::bulk(k), v);
    Frame::Map(vec![
        pair("total.allocated", int(used)),
        pair("startup.allocated", int(0)),
        pair(
            "db.0",
            Frame::Map(vec![
                pair("overhead.hashtable.main", int(overhead)),
                pair("overhead.hashtable.expires", int(0)),
            ]),
        ),
        pair("overhead.total", int(overhead)),
        pair("keys.count", int(keys)),
        pair(
            "keys.bytes-per-key",
            int(used.checked_div(keys).unwrap_or(0)),
        ),
        pair("keys.with-expire", int(ttl_keys)),
        pair("dataset.bytes", int(dataset)),
        pair("dataset.percentage", Frame::Double(pct(dataset, used))),
        pair("allocator.resident", int(rss)),
        pair(
            "fragmentation",
            Frame::Double(if used == 0 {
                0.0
            } else {
                rss as f64 / used as f64
            }),
        ),
        pair("fragmentation.bytes", Frame::Int(rss as i64 - used as i64)),
    ])
}

/// ROLE: a master with no replicas (replication is still to come), at offset 0.
pub fn role(_ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    Step::Done(Frame::Array(vec![
        Frame::bulk("master"),
        Frame::Int(0),
        Frame::Array(Vec::new()),
    ]))
}

/// WAIT numreplicas timeout: no replica can acknowledge anything (replication
/// is still to come), so the answer is always 0. A count of 0 answers at once;
/// a positive count waits out the timeout first, as Redis with no replicas
/// does — except a timeout of 0, which Redis waits forever and this answers
/// at once (nothing can ever arrive). Inside MULTI it never waits (Redis's rule).
pub fn wait(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let wanted = match int_arg(&a[1]) {
        Ok(n) => n,
        Err(f) => return Step::Done(f),
    };
    let Some(timeout) = crate::protocol::ascii::parse_i64(&a[2]) else {
        return Step::Done(Frame::err("ERR timeout is not an integer or out of range"));
    };
    if timeout < 0 {
        return Step::Done(Frame::err("ERR timeout is negative"));
    }
    if wanted <= 0 || timeout == 0 || ctx.client.executing {
        return Step::Done(Frame::Int(0));
    }
    let (world, id) = (ctx.world.clone(), ctx.client.id);
    Step::Async(Box::pin(async move {
        // A blocked client: counted in INFO, and CLIENT UNBLOCK may end it.
        let unblocked = world.client_waits(id, "wait");
        let timer = async {
            crate::runtime::timer::sleep(std::time::Duration::from_millis(timeout as u64)).await;
            None
        };
        let how = futures_lite::future::or(timer, async { Some(unblocked.wait().await) }).await;
        world.client_waited(id);
        match how {
            Some(Unblock::Error) => Frame::err("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
            _ => Frame::Int(0),
        }
    }))
}

pub fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let seed = ctx.batch.seed();
    Step::Async(Box::pin(async move {
        let parts = super::keys::count_everywhere(&seed, CoreOp::DbSize).await;
        Frame::Int(
            parts
                .into_iter()
                .map(|r| if let OpResult::Int(n) = r { n } else { 0 })
                .sum(),
        )
    }))
}

pub fn flush(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    for o in &a[1..] {
        if !(is(o, "ASYNC") || is(o, "SYNC")) || a.len() > 2 {
            return Step::Done(Frame::err("ERR syntax error"));
        }
    }
    // On every core under the staircase lock (`core::flush` says why).
    let world = ctx.world.clone();
    // Inside a transaction, which already holds every core whole.
    let tx = ctx.batch.tx();
    Step::Async(Box::pin(async move {
        match world.flush_all(tx).await {
            Ok(r) => Frame::from(r),
            Err(e) => Frame::err(format!("ERR {e}")),
        }
    }))
}

fn command_info(c: &CommandSpec) -> Frame {
    Frame::Array(vec![
        Frame::bulk(c.name),
        Frame::Int(c.arity as i64),
        Frame::Set(c.flags.iter().map(|f| Frame::Simple((*f).into())).collect()),
        Frame::Int(c.first_key as i64),
        Frame::Int(c.last_key as i64),
        Frame::Int(c.step as i64),
        Frame::Set(
            super::acl::catalog::names(super::acl::categories::of_command(c))
                .into_iter()
                .map(|n| Frame::Simple(n.into()))
                .collect(),
        ),
        Frame::Set(vec![]),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
    ])
}

fn command_docs(c: &CommandSpec) -> Frame {
    Frame::Map(vec![
        (Frame::bulk("summary"), Frame::bulk(c.summary)),
        (Frame::bulk("since"), Frame::bulk(c.since)),
        (Frame::bulk("group"), Frame::bulk(c.group)),
    ])
}

pub fn command(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let table = ctx.table;
    if a.len() == 1 {
        return Step::Done(Frame::Array(table.all.iter().map(command_info).collect()));
    }
    let subs = [
        ("count", 2),
        ("list", -2),
        ("info", -2),
        ("docs", -2),
        ("getkeys", -3),
        ("getkeysandflags", -3),
        ("help", 2),
    ];
    let sub = match subcommand("command", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    match sub {
        "count" => Step::Done(Frame::Int(table.all.len() as i64)),
        "list" => Step::Done(Frame::Array(
            table.all.iter().map(|c| Frame::bulk(c.name)).collect(),
        )),
        "info" => {
            if a.len() == 2 {
                return Step::Done(Frame::Array(table.all.iter().map(command_info).collect()));
            }
            Step::Done(Frame::Array(
                a[2..]
                    .iter()
                    .map(|n| {
                        (table.lookup)(n)
                            .map(command_info)
                            .unwrap_or(Frame::NullArray)
                    })
                    .collect(),
            ))
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if a.len() == 2 {
                table.all.iter().collect()
            } else {
                a[2..].iter().filter_map(|n| (table.lookup)(n)).collect()
            };
            Step::Done(Frame::Map(
                specs
                    .into_iter()
                    .map(|c| (Frame::bulk(c.name), command_docs(c)))
                    .collect(),
            ))
        }
        "getkeys" | "getkeysandflags" => {
            let Some(c) = (table.lookup)(&a[2]) else {
                return Step::Done(Frame::err("ERR Invalid command specified"));
            };
            let args = &a[2..];
            if !arity_ok(c.arity, args.len()) {
                return Step::Done(Frame::err(
                    "ERR Invalid number of arguments specified for command",
                ));
            }
            let keys = command_keys(c, args);
            if keys.is_empty() {
                return Step::Done(Frame::err("ERR The command has no key arguments"));
            }
            if sub == "getkeys" {
                return Step::Done(Frame::Array(keys.into_iter().map(Frame::Bulk).collect()));
            }
            let rows = keys
                .into_iter()
                .enumerate()
                .map(|(i, k)| {
                    let flags = key_flags(c, args, i)
                        .iter()
                        .map(|f| Frame::simple(f))
                        .collect();
                    Frame::Array(vec![Frame::Bulk(k), Frame::Array(flags)])
                })
                .collect();
            Step::Done(Frame::Array(rows))
        }
        _ => Step::Done(help_reply(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full command.",
            "HELP",
            "    Print this help.",
        ])),
    }
}

/// SAVE: every core's keys into `dir/dbfilename`, in Redis's RDB format
/// (`core::snapshot`). Replies once the file is synced and renamed in place.
pub fn save(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::snapshot::save(&world).await {
            Ok(_) => Frame::Ok,
            Err(e) => {
                tracing::warn!(error = %e, "SAVE failed");
                // A busy script's refusal keeps its own code.
                match e.starts_with("BUSY ") {
                    true => Frame::err(e),
                    false => Frame::err(format!("ERR {e}")),
                }
            }
        }
    }))
}

/// BGSAVE [SCHEDULE]: a fork-less snapshot while every core keeps serving
/// (`core::snapshot`); replies as soon as it has started.
pub fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let schedule = match a.get(1).map(|s| lower(s)) {
        None => false,
        Some(s) if s == "schedule" && a.len() == 2 => true,
        Some(_) => return Step::Done(Frame::err("ERR syntax error")),
    };
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::snapshot::bgsave(&world, schedule).await {
            Ok(status) => Frame::Simple(status.into()),
            Err(e) => Frame::err(e),
        }
    }))
}

/// BGREWRITEAOF: every core's log replaced by a base and the tail written
/// meanwhile (`core::rewrite`), in the background.
pub fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        match crate::core::rewrite::bgrewriteaof(&world).await {
            Ok(status) => Frame::Simple(status.into()),
            Err(e) => Frame::err(e),
        }
    }))
}

/// LASTSAVE: the unix time of the last successful SAVE (the start before one).
pub fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    Step::Done(Frame::Int(ctx.world.persist.last_save.get() as i64))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stop the server as SIGTERM
/// does (finish in-flight requests, close every door). It saves with SAVE, or
/// when save points are set and NOSAVE is not given, as Redis; a failed save
/// stops the shutdown unless FORCE. Nothing is answered on success: the
/// connection closes with the server, as clients expect.
pub fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (mut save, mut nosave, mut force, mut abort) = (false, false, false, false);
    for arg in &a[1..] {
        match lower(arg).as_str() {
            "save" => save = true,
            "nosave" => nosave = true,
            "now" => {}
            "force" => force = true,
            "abort" => abort = true,
            _ => return Step::Done(Frame::err("ERR syntax error")),
        }
    }
    if (save && nosave) || (abort && a.len() > 2) {
        return Step::Done(Frame::err("ERR syntax error"));
    }
    if abort {
        return Step::Done(Frame::err("ERR No shutdown in progress."));
    }
    let world = ctx.world.clone();
    // With save points set, a plain SHUTDOWN saves too (Redis's rule).
    let save = save || (!nosave && !world.config.borrow().save.is_empty());
    Step::Async(Box::pin(async move {
        if save {
            if let Err(e) = crate::core::snapshot::save(&world).await {
                tracing::warn!(error = %e, "SHUTDOWN: the save failed");
                if !force {
                    return Frame::err("ERR Errors trying to SHUTDOWN. Check logs.");
                }
            }
        }
        tracing::info!(save, "SHUTDOWN asked for by a client");
        // Saved (or told not to): the stop that follows must not save again.
        crate::core::snapshot::STOP_SAVE_DONE.store(true, std::sync::atomic::Ordering::SeqCst);
        // The main thread waits for SIGTERM (server::run): the same road as a signal.
        // SAFETY: kill(2) on our own pid with a valid signal number touches no memory.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
        Frame::Multi(Vec::new())
    }))
}
