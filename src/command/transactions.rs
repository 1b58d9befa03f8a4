//! The transactions family: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with
//! Redis's replies and errors, atomic across cores.
//!
//! EXEC takes the intent locks of every key its commands name (by the
//! command table's key positions) and of every key the connection watches,
//! core by core in ascending core order (`core::locks` says why that cannot
//! deadlock), learns from each core whether a watch there was spoiled, runs
//! the queued commands with a batch that passes its own locks, and lets go.
//! Meanwhile any other op on those keys waits; ops on other keys do not. A
//! transaction with a command over the whole keyspace (FLUSHALL, KEYS,
//! DBSIZE, SCAN, RANDOMKEY, BGSAVE, ...) or with a SORT whose BY or GET
//! patterns form keys from its elements holds every core whole instead.
//!
//! Keys that move: a migration waits until no transaction holds a key of the
//! shard it moves and then moves it (the transaction never follows a key; it
//! waits for the move, or the move waits for it). A lock request that reaches
//! a core which no longer owns the key is answered "moved": EXEC lets go of
//! everything and starts again with its core's newer table. A watch
//! follows its key when the key's shard moves (`core::watch`); EXEC asks the
//! key's core now and the core the watch was registered on (where a WATCH
//! that raced the move is spoiled).
//!
//! It stands on `context` and `txstate`; it never imports `dispatch` (the
//! command table reaches it as [`Ctx::table`] and as an argument).

use super::acl::permit;
use super::context::{ClientState, CommandSpec, Ctx, Step, Table};
use super::frame::Frame;
use super::keyspec::{command_keys, sort_forms_keys};
use super::observe::{self, Watch};
use super::txstate::{MultiState, WatchState};
use crate::core::mesh::CoreTask;
use crate::core::router::{Batch, Results};
use crate::core::world::World;
use crate::storage::now_ms;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Commands run directly inside MULTI rather than queued (as Redis).
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Commands with no key that read or change the whole keyspace: a
/// transaction holding one of them holds every core whole.
pub fn over_everything(name: &str) -> bool {
    matches!(
        name,
        "flushall"
            | "flushdb"
            | "keys"
            | "scan"
            | "dbsize"
            | "randomkey"
            | "bgsave"
            | "bgrewriteaof"
            | "stairkv"
    )
}

/// A command asked for inside MULTI: queue it (`+QUEUED`), or refuse it and
/// doom the transaction, as Redis does for commands flagged `no_multi`.
pub fn queue(client: &mut ClientState, spec: &'static CommandSpec, args: Vec<Bytes>) -> Frame {
    let Some(multi) = client.multi.as_mut() else {
        return Frame::err("ERR EXEC without MULTI");
    };
    if spec.flags.contains(&"no_multi") {
        multi.aborted = true;
        return Frame::err("ERR Command not allowed inside a transaction");
    }
    multi.queued.push(args);
    Frame::simple("QUEUED")
}

/// A command refused while queueing (unknown, wrong arity, ...): EXEC will
/// answer EXECABORT.
pub fn doom(client: &mut ClientState) {
    if let Some(m) = client.multi.as_mut() {
        m.aborted = true;
    }
}

pub fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    if ctx.client.multi.is_some() {
        return Step::Done(Frame::err("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Box::default());
    Step::Done(Frame::Ok)
}

pub fn exec(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    if ctx.client.multi.is_none() {
        return Step::Done(Frame::err("ERR EXEC without MULTI"));
    }
    Step::Exec
}

pub fn discard(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    if ctx.client.multi.take().is_none() {
        return Step::Done(Frame::err("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx.world, ctx.client);
    Step::Done(Frame::Ok)
}

pub fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    unwatch_all(ctx.world, ctx.client);
    Step::Done(Frame::Ok)
}

/// WATCH: each key's watch is registered on the core that owns it, and the
/// reply waits for every registration (a write after the reply is seen).
pub fn watch(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if ctx.client.multi.is_some() {
        return Step::Done(Frame::err("ERR WATCH inside MULTI is not allowed"));
    }
    let world = ctx.world.clone();
    let id = ctx.client.id;
    let mut by_core: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
    for key in &a[1..] {
        by_core
            .entry(world.core_of(key))
            .or_default()
            .push(key.clone());
    }
    let state = ctx.client.watching.get_or_insert_with(Box::default);
    for (&core, keys) in &by_core {
        state.keys.extend(keys.iter().map(|k| (k.clone(), core)));
    }
    Step::Async(Box::pin(async move {
        let mut waits = Vec::new();
        for (core, keys) in by_core {
            if core == world.id {
                world.watch_keys(id, keys);
            } else {
                waits.push(world.mesh.request_task(core, CoreTask::Watch { id, keys }));
            }
        }
        for w in waits {
            w.wait().await;
        }
        Frame::Ok
    }))
}

/// Forget this connection's watches, if it has any.
fn unwatch_all(world: &Rc<World>, client: &mut ClientState) {
    if client.watching.take().is_some() {
        forget_watches(world, client.id);
    }
}

/// Forget client `id`'s watches on every core: a watch follows its key's
/// shard, so it may live on a core it was not registered on.
fn forget_watches(world: &World, id: u64) {
    for core in 0..world.ncores {
        world.unlock_on(core, 0, id, 0);
    }
}

/// A closing or RESET connection: drop its queue and its watches.
pub fn forget_client(world: &Rc<World>, client: &mut ClientState) {
    client.multi = None;
    unwatch_all(world, client);
}

/// Run the connection's transaction (the dispatcher calls this for
/// [`Step::Exec`], once everything before it has run).
pub async fn run_exec(world: &Rc<World>, client: &mut ClientState, table: &'static Table) -> Frame {
    let Some(multi) = client.multi.take() else {
        return Frame::err("ERR EXEC without MULTI");
    };
    let watching = client.watching.take();
    let frame = if multi.aborted {
        Frame::err("EXECABORT Transaction discarded because of previous errors.")
    } else {
        exec_locked(world, client, table, *multi, watching.as_deref()).await
    };
    if watching.is_some() {
        forget_watches(world, client.id);
    }
    frame
}

async fn exec_locked(
    world: &Rc<World>,
    client: &mut ClientState,
    table: &'static Table,
    multi: MultiState,
    watching: Option<&WatchState>,
) -> Frame {
    let queued: Vec<(&'static CommandSpec, Vec<Bytes>)> = multi
        .queued
        .into_iter()
        .filter_map(|args| Some(((table.lookup)(&args[0])?, args)))
        .collect();
    // A SORT whose patterns form keys from its elements names keys no one
    // can know before it runs: holding everything is what holds them.
    let whole = queued.iter().any(|(s, a)| {
        over_everything(s.name) || (matches!(s.name, "sort" | "sort_ro") && sort_forms_keys(a))
    });
    let mut keys: Vec<Bytes> = queued
        .iter()
        .flat_map(|(spec, args)| command_keys(spec, args))
        .collect();
    if let Some(w) = watching {
        keys.extend(w.keys.iter().map(|(k, _)| k.clone()));
    }
    if keys.is_empty() && !whole {
        return Frame::Array(run_queued(world, client, table, queued, 0, 0).await);
    }
    if !whole && runs_now_here(world, &queued, &keys, watching) {
        // One core, nothing in the way: no lock, and no await that could let
        // another task in between the watch check and the last command.
        if watching.is_some_and(|_| world.watch_spoiled(client.id)) {
            return Frame::NullArray;
        }
        let now = now_ms();
        return Frame::Array(run_queued(world, client, table, queued, 0, now).await);
    }
    let watches = watching.map(|w| (client.id, &w.keys[..]));
    let Ok((hold, spoiled)) = world.hold_keys(keys, whole, watches).await else {
        return busy_reply();
    };
    if spoiled {
        return Frame::NullArray;
    }
    // Each core logs its end, so a crash keeps all of it or none.
    hold.log_end(queued.iter().any(|(spec, _)| may_write(spec)));
    // Time stands still from here to the last command (Redis 7's rule).
    let replies = run_queued(world, client, table, queued, hold.tx, now_ms()).await;
    world.finish_hold(hold).await;
    Frame::Array(replies)
}

/// Can this command change a key (a script may)?
pub fn may_write(spec: &CommandSpec) -> bool {
    spec.flags.contains(&"write") || matches!(spec.name, "eval" | "evalsha" | "fcall")
}

/// Redis's reply to whoever would wait for a script busy past `busy-reply-threshold`.
pub fn busy_reply() -> Frame {
    Frame::err(crate::storage::ops::OpError::Busy.to_string())
}

/// Can this transaction run to its end on this core without waiting for
/// anything — so without locks, in one step, as Redis runs it? Every key and
/// watch is this core's, no other transaction holds one of them, no shard is
/// moving here (no key needs a pull), and every command is one whose handler
/// only builds ops on its keys (strings, hashes, sets, bitmaps,
/// HyperLogLogs and generic key commands: the multi-key ones' batches are all
/// local here, so ready at once) or touches no key at all (PING, ECHO, TIME): its ops then run as they are routed, and
/// every step is ready the first time it is polled.
fn runs_now_here(
    world: &Rc<World>,
    queued: &[(&'static CommandSpec, Vec<Bytes>)],
    keys: &[Bytes],
    watching: Option<&WatchState>,
) -> bool {
    // The watched keys are among `keys`; their watches must live here too.
    world.keys_free_here(keys, 0)
        && watching.is_none_or(|w| {
            // Where it was registered too: a watch that reached its core just
            // after its key left is spoiled there (`core::txn::hold_keys`).
            w.keys
                .iter()
                .all(|(k, registered)| *registered == world.id && world.core_of(k) == world.id)
        })
        && queued.iter().all(|(spec, args)| {
            matches!(spec.name, "ping" | "echo" | "time")
                || (matches!(
                    spec.group,
                    "string"
                        | "generic"
                        | "hash"
                        | "set"
                        | "list"
                        | "sorted_set"
                        | "bitmap"
                        | "hyperloglog"
                ) && !command_keys(spec, args).is_empty())
        })
}

/// Run queued commands in order as one pipeline of transaction `tx` (0: none)
/// at the frozen clock `now` (0: read the clock), and collect their replies.
async fn run_queued(
    world: &Rc<World>,
    client: &mut ClientState,
    table: &'static Table,
    queued: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    tx: u64,
    now: u64,
) -> Vec<Frame> {
    let mut replies: Vec<Option<Frame>> = Vec::with_capacity(queued.len());
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut batch = Batch::for_tx(world.clone(), tx, now);
    // Each command is counted, timed and shown to monitors as if sent alone.
    let mut watch = Watch::new(world);
    client.executing = true;
    for (spec, args) in queued {
        world.count_command();
        client.last_cmd = spec.name;
        if watch.monitor {
            observe::feed_monitors(world, &client.addr, spec, &args);
        }
        // Checked when queued, and again now: the user's rules may have
        // changed since (Redis's rule), answered in the command's place.
        if let Err(f) = permit::check(world, client, table, spec, &args, permit::Context::Multi) {
            replies.push(Some(f));
            continue;
        }
        if client.tracking.is_some() {
            super::tracking::before_command(client, &mut batch, spec, &args);
        }
        let mut ctx = Ctx {
            world,
            client,
            batch: &mut batch,
            spec,
            table,
        };
        let step = (spec.handler)(&mut ctx, &args);
        let i = replies.len();
        replies.push(None);
        let f = match step {
            Step::Done(f) => f,
            Step::Async(fut) => {
                let done = std::mem::replace(&mut batch, Batch::for_tx(world.clone(), tx, now));
                let results = done.finish().await;
                answer(
                    world,
                    client,
                    table,
                    &mut watch,
                    results,
                    &mut waiting,
                    &mut replies,
                )
                .await;
                fut.await
            }
            // EXEC is never queued (it runs inside MULTI); nothing else asks for it.
            Step::Exec => Frame::err("ERR EXEC without MULTI"),
            step => {
                let began = watch.began();
                watch.lap();
                waiting.push(Waiting {
                    i,
                    step,
                    spec,
                    args,
                    began,
                });
                continue;
            }
        };
        let took = watch.lap();
        observe::ran(
            world,
            &watch,
            table,
            spec,
            &args,
            observe::peer(client),
            &f,
            took,
        );
        replies[i] = Some(f);
    }
    let results = batch.finish().await;
    answer(
        world,
        client,
        table,
        &mut watch,
        results,
        &mut waiting,
        &mut replies,
    )
    .await;
    client.executing = false;
    super::tracking::transaction_done(client);
    replies
        .into_iter()
        .map(|r| r.unwrap_or(Frame::Null))
        .collect()
}

/// A queued command whose reply waits for its batch's results.
struct Waiting {
    i: usize,
    step: Step,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    began: Option<crate::runtime::clock::Tick>,
}

async fn answer(
    world: &World,
    client: &ClientState,
    table: &Table,
    watch: &mut Watch,
    mut results: Results,
    waiting: &mut Vec<Waiting>,
    replies: &mut [Option<Frame>],
) {
    for w in waiting.drain(..) {
        let f = match w.step {
            Step::Done(f) => f,
            Step::One(t, finish) => finish(results.take(t)),
            Step::Many(ts, finish) => finish(ts.into_iter().map(|t| results.take(t)).collect()),
            Step::Then(t, finish) => finish(results.take(t)).resolve().await,
            Step::Async(fut) => fut.await,
            Step::Exec => Frame::err("ERR EXEC without MULTI"),
        };
        let took = watch.since(w.began);
        observe::ran(
            world,
            watch,
            table,
            w.spec,
            &w.args,
            observe::peer(client),
            &f,
            took,
        );
        replies[w.i] = Some(f);
    }
}
