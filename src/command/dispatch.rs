//! The top of the command layer: the command table (name, arity, flags, key
//! positions, group and handler for every command, as `COMMAND INFO`/`COMMAND
//! DOCS` report them) and the dispatcher that runs a connection's pipeline
//! with it: look each request up, check arity, authentication, the ACL
//! user's permissions (`acl::permit`) and subscribed mode, let its handler build ops into one [`Batch`], and write every reply
//! in request order within the batch budgets ([`OUT_BUDGET`], [`MAX_QUEUED`]).
//! A future step first finishes everything queued before it, so its view of
//! the keyspace respects pipeline order.
//!
//! Lookup is case-insensitive and allocation-free. This file imports the
//! families (for their handlers) and `context`; nothing in the command layer
//! imports it — COMMAND gets the table as [`Ctx::table`] ([`TABLE`]). It
//! never runs a command's semantics itself (handlers do) and never writes to
//! a socket: replies go into the connection's [`Out`].

use super::acl::{self, permit};
use super::context::{
    arity_ok, clip, wrong_arity, ClientState, CommandSpec, Ctx, Reply, Step, Table,
};
use super::frame::Frame;
use super::observe::{self, Watch};
use super::{
    admin, bitmap, config, connection, dump, hash, hyperloglog, info, keys, latency, list, monitor,
    pubsub, scripting, server, set, set_algebra, slowlog, sort, string, transactions, zset,
    zset_algebra, zset_range,
};
use crate::core::router::{Batch, Results};
use crate::core::world::World;
use crate::protocol::out::Out;
use crate::protocol::reply::Proto;
use crate::runtime::clock::Tick;
use bytes::Bytes;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

/// Replies a batch may add to the connection's output before it stops taking
/// requests: past this the connection sends what it has (and, if the client
/// is not reading, waits) before it runs more.
pub const OUT_BUDGET: usize = 64 * 1024;

/// Steps a batch may hold waiting for other cores' results. Their replies are
/// only known once the results are in, so this bounds what one batch can add
/// beyond [`OUT_BUDGET`]: a value of [`crate::protocol::out::SHARE_MIN`] bytes
/// or more is shared with the keyspace rather than copied, so 64 such replies
/// copy at most 256 KB (multi-key replies such as MGET aside, which are one
/// request each).
pub const MAX_QUEUED: usize = 64;

/// Execute parsed requests from the front of `requests` and append their
/// replies to `out`, in order. Stops early, leaving the rest in `requests`,
/// once the replies pass [`OUT_BUDGET`] or [`MAX_QUEUED`] steps wait on other
/// cores, so what one batch adds to a connection's unsent replies is bounded
/// whatever the pipeline holds. Requests after a QUIT are dropped.
pub async fn run_pipeline(
    world: &Rc<World>,
    client: &mut ClientState,
    requests: &mut Vec<Vec<Bytes>>,
    out: &mut Out,
) {
    let logged_before = world.aof.appended();
    let mut watch = Watch::new(world);
    let mut batch = Batch::new(world.clone());
    let mut queued: Vec<Queued> = Vec::new();
    let mut specs = std::mem::take(&mut client.specs);
    // Requests a batch cut short before were looked up then: only a new
    // pipeline is looked up (and its keys prefetched) again.
    if specs.len() != requests.len() {
        look_up_and_prefetch(world, requests, &mut specs);
    }
    let mut ran = 0;
    for (args, &spec) in requests.iter_mut().zip(specs.iter()) {
        // Clients blocked on keys the last command pushed to are served
        // before the next command runs (Redis's order; `core::blocking`).
        if world.blocking.borrow().has_ready() {
            world.serve_ready();
        }
        let full = out.len() >= OUT_BUDGET || queued.len() >= MAX_QUEUED;
        // A command that may wait goes first in a batch of its own: the
        // replies before it are sent before it waits, as Redis sends them.
        if client.closing || (ran > 0 && (full || may_block(spec))) {
            break;
        }
        ran += 1;
        if crate::core::pause::maybe_on() {
            let held = crate::core::pause::state()
                .and_then(|(_, all)| spec.filter(|s| pauses(client, s, all)));
            if let Some(spec) = held {
                batch = flush(world, batch, &mut queued, out, client, &mut watch).await;
                hold_while_paused(world, client, spec).await;
            }
        }
        let args = std::mem::take(args);
        let (step, spec) = dispatch(world, client, &mut batch, spec, &args);
        let silent = client.reply_silenced();
        let Some(spec) = spec else {
            // Refused, or queued by MULTI: its reply is all there is to it.
            match step {
                Step::Done(f) if queued.is_empty() => {
                    if !silent {
                        client.answer(out, f, client.proto)
                    }
                }
                other => queued.push(Queued::plain(other, client.proto, silent)),
            }
            continue;
        };
        // EXEC's line follows those of the commands it runs, as in Redis.
        let exec = matches!(step, Step::Exec);
        if watch.monitor && !exec {
            observe::feed_monitors(world, &client.addr, spec, &args);
        }
        let f = match step {
            Step::Async(fut) => {
                batch = flush(world, batch, &mut queued, out, client, &mut watch).await;
                fut.await
            }
            Step::Exec => {
                batch = flush(world, batch, &mut queued, out, client, &mut watch).await;
                let f = transactions::run_exec(world, client, &TABLE).await;
                if watch.monitor {
                    observe::feed_monitors(world, &client.addr, spec, &args);
                }
                f
            }
            Step::Done(f) if queued.is_empty() => f,
            Step::One(t, finish) if queued.is_empty() && batch.is_local() => {
                match batch.take_ready(t) {
                    Some(r) => finish(r),
                    None => {
                        let step = Step::One(t, finish);
                        queued.push(Queued::ran(step, client, spec, args, &mut watch, silent));
                        continue;
                    }
                }
            }
            Step::Then(t, finish) if queued.is_empty() && batch.is_local() => {
                match batch.take_ready(t) {
                    Some(r) => match finish(r) {
                        Reply::Now(f) => f,
                        Reply::Later(fut) => {
                            batch = flush(world, batch, &mut queued, out, client, &mut watch).await;
                            fut.await
                        }
                    },
                    None => {
                        let step = Step::Then(t, finish);
                        queued.push(Queued::ran(step, client, spec, args, &mut watch, silent));
                        continue;
                    }
                }
            }
            other => {
                queued.push(Queued::ran(other, client, spec, args, &mut watch, silent));
                continue;
            }
        };
        let took = watch.lap();
        observe::ran(
            world,
            &watch,
            &TABLE,
            spec,
            &args,
            observe::peer(client),
            &f,
            took,
        );
        if !silent {
            client.answer(out, f, client.proto);
        }
    }
    if client.closing {
        requests.clear();
        specs.clear();
    } else {
        requests.drain(..ran);
        specs.drain(..ran);
    }
    client.specs = specs;
    flush(world, batch, &mut queued, out, client, &mut watch).await;
    if world.blocking.borrow().has_ready() {
        world.serve_ready();
    }
    // Nothing is answered before what it saw is in the log (synced under
    // `always`); what other cores changed for it, they logged before answering.
    if world.aof.must_wait(logged_before) {
        world.aof.hurry();
        world.aof.wait_durable(logged_before).await;
    }
    // Once per pipeline, not per command: CLIENT LIST's idle time is in seconds.
    if !client.last_cmd.is_empty() {
        world.clients.borrow_mut().touch(client.id, client.last_cmd);
    }
}

/// Whether a command may wait for other clients: those the table flags
/// `blocking` (BLPOP and kin), and WAIT.
#[inline]
fn may_block(spec: Option<&'static CommandSpec>) -> bool {
    spec.is_some_and(|s| s.flags.contains(&"blocking") || s.name == "wait")
}

/// A step waiting for the batch's results, with what its reply is written
/// in and, for a command that ran, what the operator's records need.
struct Queued {
    step: Step,
    proto: Proto,
    ran: Option<(&'static CommandSpec, Vec<Bytes>, Option<Tick>)>,
    /// CLIENT REPLY dropped its reply.
    silent: bool,
}

impl Queued {
    fn plain(step: Step, proto: Proto, silent: bool) -> Queued {
        Queued {
            step,
            proto,
            ran: None,
            silent,
        }
    }

    /// A command whose reply waits: its time runs from its start until the
    /// results are in; the next command starts now.
    fn ran(
        step: Step,
        client: &ClientState,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        watch: &mut Watch,
        silent: bool,
    ) -> Queued {
        let began = watch.began();
        watch.lap();
        Queued {
            step,
            proto: client.proto,
            ran: Some((spec, args, began)),
            silent,
        }
    }
}

/// Finish the batch and encode the queued steps; returns a fresh batch.
async fn flush(
    world: &Rc<World>,
    batch: Batch,
    queued: &mut Vec<Queued>,
    out: &mut Out,
    client: &mut ClientState,
    watch: &mut Watch,
) -> Batch {
    if queued.is_empty() && batch.is_local() {
        return batch;
    }
    let mut results: Results = batch.finish().await;
    for q in queued.drain(..) {
        let frame = match q.step {
            Step::Done(f) => f,
            Step::One(t, finish) => finish(results.take(t)),
            Step::Many(ts, finish) => finish(ts.into_iter().map(|t| results.take(t)).collect()),
            Step::Then(t, finish) => finish(results.take(t)).resolve().await,
            Step::Async(fut) => fut.await,
            // Run by `run_pipeline` as it comes, never queued.
            Step::Exec => Frame::err("ERR EXEC without MULTI"),
        };
        if let Some((spec, args, began)) = &q.ran {
            let took = watch.since(*began);
            let peer = observe::peer(client);
            observe::ran(world, watch, &TABLE, spec, args, peer, &frame, took);
        }
        if !q.silent {
            client.answer(out, frame, q.proto);
        }
    }
    Batch::new(world.clone())
}

/// Whether CLIENT PAUSE holds this command (under a WRITE pause, `all`
/// false, only what may write): Redis's rules, and CLIENT itself never, so
/// an operator can always UNPAUSE. Commands queued by MULTI wait at EXEC.
fn pauses(client: &ClientState, spec: &CommandSpec, all: bool) -> bool {
    if spec.name == "client" {
        return false;
    }
    if client.multi.is_some() && !transactions::runs_inside_multi(spec.name) {
        return false;
    }
    if all {
        return true;
    }
    let writes = |s: &CommandSpec| {
        s.flags.contains(&"write")
            || matches!(
                s.name,
                "eval" | "evalsha" | "fcall" | "publish" | "spublish" | "script" | "function"
            )
    };
    if spec.name == "exec" {
        return client.multi.as_ref().is_some_and(|m| {
            m.queued
                .iter()
                .any(|args| args.first().and_then(|n| lookup(n)).is_some_and(writes))
        });
    }
    writes(spec)
}

/// Wait while CLIENT PAUSE holds the command (counted as a blocked client).
async fn hold_while_paused(world: &World, client: &ClientState, spec: &CommandSpec) {
    world.blocked.paused(true);
    while let Some((left, all)) = crate::core::pause::state() {
        if !pauses(client, spec, all) {
            break;
        }
        let nap = std::time::Duration::from_millis(left.clamp(1, 10));
        crate::runtime::timer::sleep(nap).await;
    }
    world.blocked.paused(false);
}

/// What RESP2's subscribed mode lets a connection run.
fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// The first pass over a pipeline: each request's command, and, when the
/// pipeline holds several requests, a prefetch of each first key so that the
/// lookups of the second pass find their cache lines loaded or on the way
/// (`Keyspace::prefetch`). A single request gains nothing from it.
fn look_up_and_prefetch(
    world: &World,
    requests: &[Vec<Bytes>],
    specs: &mut Vec<Option<&'static CommandSpec>>,
) {
    specs.clear();
    // A pipeline often repeats one command: it is looked up once per run.
    let mut last: Option<(&[u8], Option<&'static CommandSpec>)> = None;
    specs.extend(requests.iter().map(|args| {
        let name = &args[0][..];
        match last {
            Some((n, spec)) if n == name => spec,
            _ => {
                let spec = lookup(name);
                last = Some((name, spec));
                spec
            }
        }
    }));
    if requests.len() < 2 {
        return;
    }
    let keyed = || {
        requests
            .iter()
            .zip(specs.iter())
            .filter_map(|(args, spec)| {
                let spec = spec.filter(|s| s.first_key == 1)?;
                Some((&args.get(1)?[..], args, spec))
            })
    };
    // A hash or set command's second argument is, in most of them, a field
    // or member of the key (HSET, HGET, SADD, SISMEMBER, ...): its lines in a
    // big collection's table start loading too. Where it is something else
    // (a count, a cursor, another key) the guess costs a hash and a probe.
    let items = keyed().map(|(key, args, spec)| {
        let member = args.get(2).filter(|_| matches!(spec.group, "hash" | "set"));
        (key, member.map(|m| &m[..]))
    });
    world.keyspace.borrow().prefetch_requests(items);
}

/// Look a request up, check it may run, and let its handler build its
/// ops. Returns its step and, when it ran (rather than being refused or
/// queued by MULTI), its spec.
fn dispatch(
    world: &Rc<World>,
    client: &mut ClientState,
    batch: &mut Batch,
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> (Step, Option<&'static CommandSpec>) {
    let refuse = |client: &mut ClientState, spec: Option<&'static CommandSpec>, f: Frame| {
        transactions::doom(client);
        observe::rejected(world, &TABLE, spec, &f);
        (Step::Done(f), None)
    };
    let Some(spec) = spec else {
        return refuse(client, None, unknown_command(args));
    };
    world.count_command();
    if !client.authed && !permit::no_auth(spec.name) {
        return refuse(
            client,
            Some(spec),
            Frame::err("NOAUTH Authentication required."),
        );
    }
    if !arity_ok(spec.arity, args.len()) {
        return refuse(client, Some(spec), wrong_arity(spec.name));
    }
    if let Err(f) = permit::check(world, client, &TABLE, spec, args, permit::Context::TopLevel) {
        return refuse(client, Some(spec), f);
    }
    if crate::core::recover::loading() && !allowed_while_loading(spec.name) {
        let f = Frame::err("LOADING Redis is loading the dataset in memory");
        return refuse(client, Some(spec), f);
    }
    if client.multi.is_some() && !transactions::runs_inside_multi(spec.name) {
        return (
            Step::Done(transactions::queue(client, spec, args.to_vec())),
            None,
        );
    }
    if client.proto == Proto::Resp2
        && client.subs.as_ref().is_some_and(|s| s.active())
        && !allowed_when_subscribed(spec.name)
    {
        let f = Frame::Error(
            format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )
            .into(),
        );
        observe::rejected(world, &TABLE, Some(spec), &f);
        return (Step::Done(f), None);
    }
    client.last_cmd = spec.name;
    if client.tracking.is_some() {
        super::tracking::before_command(client, batch, spec, args);
    }
    let mut ctx = Ctx {
        world,
        client,
        batch,
        spec,
        table: &TABLE,
    };
    ((spec.handler)(&mut ctx, args), Some(spec))
}

/// What answers while the start loads (Redis's `loading` flag, for the
/// commands stairkv has): connection handling, INFO and what reads settings.
fn allowed_while_loading(name: &str) -> bool {
    matches!(
        name,
        "auth"
            | "hello"
            | "info"
            | "command"
            | "client"
            | "config"
            | "quit"
            | "reset"
            | "select"
            | "shutdown"
            | "lastsave"
            | "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "publish"
            | "spublish"
    )
}

/// Redis's text: `ERR unknown command 'x', with args beginning with: 'a' 'b' `, with
/// at most 128 bytes of the name and 128 bytes of arguments in all.
pub fn unknown_command(args: &[Bytes]) -> Frame {
    let mut shown = String::new();
    for a in &args[1..] {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push('\'');
        shown.push_str(&clip(&a[..a.len().min(room)]));
        shown.push_str("' ");
    }
    Frame::Error(
        format!(
            "ERR unknown command '{}', with args beginning with: {shown}",
            clip(&args[0])
        )
        .into(),
    )
}

const W: &[&str] = &["write", "denyoom", "fast"];
const WS: &[&str] = &["write"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const C: &[&str] = &["fast", "loading", "stale"];
const CN: &[&str] = &["noscript", "fast", "loading", "stale"];
const A: &[&str] = &["admin", "noscript", "loading", "stale"];
const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PP: &[&str] = &["pubsub", "loading", "stale", "fast"];

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $fk:expr, $lk:expr, $st:expr, $group:expr, $since:expr, $summary:expr, $h:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $fk,
            last_key: $lk,
            step: $st,
            group: $group,
            since: $since,
            summary: $summary,
            handler: $h,
        }
    };
}

static COMMANDS: &[CommandSpec] = &[
    // strings
    cmd!("get", 2, R, 1, 1, 1, "string", "1.0.0", "Returns the string value of a key.", string::get),
    cmd!("set", -3, WS, 1, 1, 1, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", string::set),
    cmd!("setnx", 3, W, 1, 1, 1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", string::setnx),
    cmd!("setex", 4, WS, 1, 1, 1, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", string::setex),
    cmd!("psetex", 4, WS, 1, 1, 1, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", string::psetex),
    cmd!("getset", 3, W, 1, 1, 1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", string::getset),
    cmd!("getdel", 2, W, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", string::getdel),
    cmd!("getex", -2, W, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", string::getex),
    cmd!("mget", -2, R, 1, -1, 1, "string", "1.0.0", "Atomically returns the string values of one or more keys.", string::mget),
    cmd!("mset", -3, WS, 1, -1, 2, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", string::mset),
    cmd!("msetnx", -3, WS, 1, -1, 2, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", string::msetnx),
    cmd!("incr", 2, W, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::incr),
    cmd!("decr", 2, W, 1, 1, 1, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::decr),
    cmd!("incrby", 3, W, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrby),
    cmd!("decrby", 3, W, 1, 1, 1, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", string::decrby),
    cmd!("incrbyfloat", 3, W, 1, 1, 1, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrbyfloat),
    cmd!("append", 3, W, 1, 1, 1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", string::append),
    cmd!("strlen", 2, R, 1, 1, 1, "string", "2.2.0", "Returns the length of a string value.", string::strlen),
    cmd!("getrange", 4, RS, 1, 1, 1, "string", "2.4.0", "Returns a substring of the string stored at a key.", string::getrange),
    cmd!("substr", 4, RS, 1, 1, 1, "string", "1.0.0", "Returns a substring from a string value.", string::getrange),
    cmd!("lcs", -3, RS, 1, 2, 1, "string", "7.0.0", "Finds the longest common substring.", string::lcs),
    cmd!("setrange", 4, WS, 1, 1, 1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", string::setrange),
    // keys
    // hashes
    cmd!("hset", -4, W, 1, 1, 1, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hash::hset),
    cmd!("hsetnx", 4, W, 1, 1, 1, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hash::hsetnx),
    cmd!("hmset", -4, W, 1, 1, 1, "hash", "2.0.0", "Sets the values of multiple fields.", hash::hmset),
    cmd!("hget", 3, R, 1, 1, 1, "hash", "2.0.0", "Returns the value of a field in a hash.", hash::hget),
    cmd!("hmget", -3, R, 1, 1, 1, "hash", "2.0.0", "Returns the values of all fields in a hash.", hash::hmget),
    cmd!("hgetall", 2, RS, 1, 1, 1, "hash", "2.0.0", "Returns all fields and values in a hash.", hash::hgetall),
    cmd!("hkeys", 2, RS, 1, 1, 1, "hash", "2.0.0", "Returns all fields in a hash.", hash::hkeys),
    cmd!("hvals", 2, RS, 1, 1, 1, "hash", "2.0.0", "Returns all values in a hash.", hash::hvals),
    cmd!("hlen", 2, R, 1, 1, 1, "hash", "2.0.0", "Returns the number of fields in a hash.", hash::hlen),
    cmd!("hexists", 3, R, 1, 1, 1, "hash", "2.0.0", "Determines whether a field exists in a hash.", hash::hexists),
    cmd!("hstrlen", 3, R, 1, 1, 1, "hash", "3.2.0", "Returns the length of the value of a field.", hash::hstrlen),
    cmd!("hdel", -3, W, 1, 1, 1, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hash::hdel),
    cmd!("hincrby", 4, W, 1, 1, 1, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrby),
    cmd!("hincrbyfloat", 4, W, 1, 1, 1, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrbyfloat),
    cmd!("hrandfield", -2, RS, 1, 1, 1, "hash", "6.2.0", "Returns one or more random fields from a hash.", hash::hrandfield),
    cmd!("hscan", -3, RS, 1, 1, 1, "hash", "2.8.0", "Iterates over fields and values of a hash.", hash::hscan),
    // sets
    cmd!("sadd", -3, W, 1, 1, 1, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", set::sadd),
    cmd!("srem", -3, &["write", "fast"], 1, 1, 1, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", set::srem),
    cmd!("sismember", 3, R, 1, 1, 1, "set", "1.0.0", "Determines whether a member belongs to a set.", set::sismember),
    cmd!("smismember", -3, R, 1, 1, 1, "set", "6.2.0", "Determines whether multiple members belong to a set.", set::smismember),
    cmd!("smembers", 2, RS, 1, 1, 1, "set", "1.0.0", "Returns all members of a set.", set::smembers),
    cmd!("scard", 2, R, 1, 1, 1, "set", "1.0.0", "Returns the number of members in a set.", set::scard),
    cmd!("spop", -2, &["write", "fast"], 1, 1, 1, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", set::spop),
    cmd!("srandmember", -2, RS, 1, 1, 1, "set", "1.0.0", "Get one or multiple random members from a set", set::srandmember),
    cmd!("sscan", -3, RS, 1, 1, 1, "set", "2.8.0", "Iterates over members of a set.", set::sscan),
    cmd!("sinter", -2, RS, 1, -1, 1, "set", "1.0.0", "Returns the intersect of multiple sets.", set_algebra::sinter),
    cmd!("sinterstore", -3, &["write", "denyoom"], 1, -1, 1, "set", "1.0.0", "Stores the intersect of multiple sets in a key.", set_algebra::sinterstore),
    cmd!("sintercard", -3, &["readonly", "movablekeys"], 0, 0, 0, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", set_algebra::sintercard),
    cmd!("sunion", -2, RS, 1, -1, 1, "set", "1.0.0", "Returns the union of multiple sets.", set_algebra::sunion),
    cmd!("sunionstore", -3, &["write", "denyoom"], 1, -1, 1, "set", "1.0.0", "Stores the union of multiple sets in a key.", set_algebra::sunionstore),
    cmd!("sdiff", -2, RS, 1, -1, 1, "set", "1.0.0", "Returns the difference of multiple sets.", set_algebra::sdiff),
    cmd!("sdiffstore", -3, &["write", "denyoom"], 1, -1, 1, "set", "1.0.0", "Stores the difference of multiple sets in a key.", set_algebra::sdiffstore),
    cmd!("smove", 4, &["write", "fast"], 1, 2, 1, "set", "1.0.0", "Moves a member from one set to another.", set_algebra::smove),
    // lists
    cmd!("lpush", -3, W, 1, 1, 1, "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", list::lpush),
    cmd!("rpush", -3, W, 1, 1, 1, "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", list::rpush),
    cmd!("lpushx", -3, W, 1, 1, 1, "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", list::lpushx),
    cmd!("rpushx", -3, W, 1, 1, 1, "list", "2.2.0", "Appends an element to a list only when the list exists.", list::rpushx),
    cmd!("lpop", -2, &["write", "fast"], 1, 1, 1, "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", list::lpop),
    cmd!("rpop", -2, &["write", "fast"], 1, 1, 1, "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", list::rpop),
    cmd!("llen", 2, R, 1, 1, 1, "list", "1.0.0", "Returns the length of a list.", list::llen),
    cmd!("lrange", 4, RS, 1, 1, 1, "list", "1.0.0", "Returns a range of elements from a list.", list::lrange),
    cmd!("lindex", 3, RS, 1, 1, 1, "list", "1.0.0", "Returns an element from a list by its index.", list::lindex),
    cmd!("lset", 4, &["write", "denyoom"], 1, 1, 1, "list", "1.0.0", "Sets the value of an element in a list by its index.", list::lset),
    cmd!("linsert", 5, &["write", "denyoom"], 1, 1, 1, "list", "2.2.0", "Inserts an element before or after another element in a list.", list::linsert),
    cmd!("lrem", 4, WS, 1, 1, 1, "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", list::lrem),
    cmd!("ltrim", 4, WS, 1, 1, 1, "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", list::ltrim),
    cmd!("lpos", -3, RS, 1, 1, 1, "list", "6.0.6", "Returns the index of matching elements in a list.", list::lpos),
    cmd!("lmove", 5, &["write", "denyoom"], 1, 2, 1, "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", list::lmove),
    cmd!("rpoplpush", 3, &["write", "denyoom"], 1, 2, 1, "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", list::rpoplpush),
    cmd!("blpop", -3, &["write", "noscript", "blocking"], 1, -2, 1, "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::blpop),
    cmd!("brpop", -3, &["write", "noscript", "blocking"], 1, -2, 1, "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::brpop),
    cmd!("blmpop", -5, &["write", "blocking", "movablekeys"], 0, 0, 0, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::blmpop),
    cmd!("blmove", 6, &["write", "denyoom", "noscript", "blocking"], 1, 2, 1, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", list::blmove),
    cmd!("brpoplpush", 4, &["write", "denyoom", "noscript", "blocking"], 1, 2, 1, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", list::brpoplpush),
    cmd!("lmpop", -4, &["write", "movablekeys"], 0, 0, 0, "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", list::lmpop),
    // sorted sets
    cmd!("zadd", -4, W, 1, 1, 1, "sorted_set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zset::zadd),
    cmd!("zincrby", 4, W, 1, 1, 1, "sorted_set", "1.2.0", "Increments the score of a member in a sorted set.", zset::zincrby),
    cmd!("zrem", -3, &["write", "fast"], 1, 1, 1, "sorted_set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zset::zrem),
    cmd!("zscore", 3, R, 1, 1, 1, "sorted_set", "1.2.0", "Returns the score of a member in a sorted set.", zset::zscore),
    cmd!("zmscore", -3, R, 1, 1, 1, "sorted_set", "6.2.0", "Returns the score of one or more members in a sorted set.", zset::zmscore),
    cmd!("zcard", 2, R, 1, 1, 1, "sorted_set", "1.2.0", "Returns the number of members in a sorted set.", zset::zcard),
    cmd!("zcount", 4, R, 1, 1, 1, "sorted_set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", zset::zcount),
    cmd!("zlexcount", 4, R, 1, 1, 1, "sorted_set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", zset::zlexcount),
    cmd!("zrange", -4, RS, 1, 1, 1, "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes.", zset_range::zrange),
    cmd!("zrangestore", -5, &["write", "denyoom"], 1, 2, 1, "sorted_set", "6.2.0", "Stores a range of members from sorted set in a key.", zset_range::zrangestore),
    cmd!("zrevrange", -4, RS, 1, 1, 1, "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", zset_range::zrevrange),
    cmd!("zrangebyscore", -4, RS, 1, 1, 1, "sorted_set", "1.0.5", "Returns members in a sorted set within a range of scores.", zset_range::zrangebyscore),
    cmd!("zrevrangebyscore", -4, RS, 1, 1, 1, "sorted_set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", zset_range::zrevrangebyscore),
    cmd!("zrangebylex", -4, RS, 1, 1, 1, "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", zset_range::zrangebylex),
    cmd!("zrevrangebylex", -4, RS, 1, 1, 1, "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", zset_range::zrevrangebylex),
    cmd!("zrank", -3, R, 1, 1, 1, "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zset::zrank),
    cmd!("zrevrank", -3, R, 1, 1, 1, "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zset::zrevrank),
    cmd!("zpopmin", -2, &["write", "fast"], 1, 1, 1, "sorted_set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmin),
    cmd!("zpopmax", -2, &["write", "fast"], 1, 1, 1, "sorted_set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmax),
    cmd!("zmpop", -4, &["write", "movablekeys"], 0, 0, 0, "sorted_set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zset::zmpop),
    cmd!("bzpopmin", -3, &["write", "noscript", "blocking", "fast"], 1, -2, 1, "sorted_set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zset::bzpopmin),
    cmd!("bzpopmax", -3, &["write", "noscript", "blocking", "fast"], 1, -2, 1, "sorted_set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", zset::bzpopmax),
    cmd!("bzmpop", -5, &["write", "blocking", "movablekeys"], 0, 0, 0, "sorted_set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zset::bzmpop),
    cmd!("zrandmember", -2, RS, 1, 1, 1, "sorted_set", "6.2.0", "Returns one or more random members from a sorted set.", zset::zrandmember),
    cmd!("zremrangebyrank", 4, WS, 1, 1, 1, "sorted_set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zset::zremrangebyrank),
    cmd!("zremrangebyscore", 4, WS, 1, 1, 1, "sorted_set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zset::zremrangebyscore),
    cmd!("zremrangebylex", 4, WS, 1, 1, 1, "sorted_set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zset::zremrangebylex),
    cmd!("zunion", -3, &["readonly", "movablekeys"], 0, 0, 0, "sorted_set", "6.2.0", "Returns the union of multiple sorted sets.", zset_algebra::zunion),
    cmd!("zinter", -3, &["readonly", "movablekeys"], 0, 0, 0, "sorted_set", "6.2.0", "Returns the intersect of multiple sorted sets.", zset_algebra::zinter),
    cmd!("zdiff", -3, &["readonly", "movablekeys"], 0, 0, 0, "sorted_set", "6.2.0", "Returns the difference between multiple sorted sets.", zset_algebra::zdiff),
    cmd!("zunionstore", -4, &["write", "denyoom", "movablekeys"], 1, 1, 1, "sorted_set", "2.0.0", "Stores the union of multiple sorted sets in a key.", zset_algebra::zunionstore),
    cmd!("zinterstore", -4, &["write", "denyoom", "movablekeys"], 1, 1, 1, "sorted_set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", zset_algebra::zinterstore),
    cmd!("zdiffstore", -4, &["write", "denyoom", "movablekeys"], 1, 1, 1, "sorted_set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", zset_algebra::zdiffstore),
    cmd!("zintercard", -3, &["readonly", "movablekeys"], 0, 0, 0, "sorted_set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", zset_algebra::zintercard),
    cmd!("zscan", -3, RS, 1, 1, 1, "sorted_set", "2.8.0", "Iterates over members and scores of a sorted set.", zset::zscan),
    // bitmaps
    cmd!("setbit", 4, W, 1, 1, 1, "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", bitmap::setbit),
    cmd!("getbit", 3, R, 1, 1, 1, "bitmap", "2.2.0", "Returns a bit value by offset.", bitmap::getbit),
    cmd!("bitcount", -2, RS, 1, 1, 1, "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string.", bitmap::bitcount),
    cmd!("bitpos", -3, RS, 1, 1, 1, "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", bitmap::bitpos),
    cmd!("bitfield", -2, &["write", "denyoom"], 1, 1, 1, "bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings.", bitmap::bitfield),
    cmd!("bitfield_ro", -2, R, 1, 1, 1, "bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", bitmap::bitfield_ro),
    cmd!("bitop", -4, &["write", "denyoom"], 2, -1, 1, "bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", bitmap::bitop),
    // HyperLogLog
    cmd!("pfadd", -2, W, 1, 1, 1, "hyperloglog", "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", hyperloglog::pfadd),
    cmd!("pfcount", -2, RS, 1, -1, 1, "hyperloglog", "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", hyperloglog::pfcount),
    cmd!("pfmerge", -2, &["write", "denyoom"], 1, -1, 1, "hyperloglog", "2.8.9", "Merges one or more HyperLogLog values into a single key.", hyperloglog::pfmerge),
    // generic
    cmd!("del", -2, WS, 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys.", keys::del),
    cmd!("unlink", -2, W, 1, -1, 1, "generic", "4.0.0", "Asynchronously deletes one or more keys.", keys::del),
    cmd!("exists", -2, R, 1, -1, 1, "generic", "1.0.0", "Determines whether one or more keys exist.", keys::exists),
    cmd!("type", 2, R, 1, 1, 1, "generic", "1.0.0", "Determines the type of value stored at a key.", keys::type_),
    cmd!("copy", -3, WS, 1, 2, 1, "generic", "6.2.0", "Copies the value of a key to a new key.", keys::copy),
    cmd!("dump", 2, RS, 1, 1, 1, "generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", dump::dump),
    cmd!("restore", -4, &["write", "denyoom"], 1, 1, 1, "generic", "2.6.0", "Creates a key from the serialized representation of a value.", dump::restore),
    cmd!("sort", -2, &["write", "denyoom", "movablekeys"], 1, 1, 1, "generic", "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", sort::sort),
    cmd!("sort_ro", -2, &["readonly", "movablekeys"], 1, 1, 1, "generic", "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set.", sort::sort_ro),
    cmd!("object", -2, RS, 2, 2, 1, "generic", "2.2.3", "A container for object introspection commands.", keys::object),
    cmd!("touch", -2, R, 1, -1, 1, "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", keys::touch),
    cmd!("expire", -3, W, 1, 1, 1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", keys::expire),
    cmd!("pexpire", -3, W, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", keys::pexpire),
    cmd!("expireat", -3, W, 1, 1, 1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", keys::expireat),
    cmd!("pexpireat", -3, W, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", keys::pexpireat),
    cmd!("ttl", 2, R, 1, 1, 1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", keys::ttl),
    cmd!("pttl", 2, R, 1, 1, 1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", keys::pttl),
    cmd!("expiretime", 2, R, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", keys::expiretime),
    cmd!("pexpiretime", 2, R, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", keys::pexpiretime),
    cmd!("persist", 2, W, 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key.", keys::persist),
    cmd!("keys", 2, RS, 0, 0, 0, "generic", "1.0.0", "Returns all key names that match a pattern.", keys::keys),
    cmd!("scan", -2, RS, 0, 0, 0, "generic", "2.8.0", "Iterates over the key names in the database.", keys::scan),
    cmd!("randomkey", 1, RS, 0, 0, 0, "generic", "1.0.0", "Returns a random key name from the database.", keys::randomkey),
    cmd!("rename", 3, WS, 1, 2, 1, "generic", "1.0.0", "Renames a key and overwrites the destination.", keys::rename),
    cmd!("renamenx", 3, W, 1, 2, 1, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    // server
    cmd!("dbsize", 1, R, 0, 0, 0, "server", "1.0.0", "Returns the number of keys in the database.", server::dbsize),
    cmd!("flushdb", -1, WS, 0, 0, 0, "server", "1.0.0", "Removes all keys from the current database.", server::flush),
    cmd!("flushall", -1, WS, 0, 0, 0, "server", "1.0.0", "Removes all keys from all databases.", server::flush),
    cmd!("info", -1, &["loading", "stale"], 0, 0, 0, "server", "1.0.0", "Returns information and statistics about the server.", info::info),
    cmd!("config", -2, A, 0, 0, 0, "server", "2.0.0", "A container for server configuration commands.", config::config),
    cmd!("command", -1, &["loading", "stale"], 0, 0, 0, "server", "2.8.13", "Returns detailed information about all commands.", server::command),
    cmd!("time", 1, C, 0, 0, 0, "server", "2.6.0", "Returns the server time.", server::time),
    cmd!("memory", -2, RS, 2, 2, 1, "server", "4.0.0", "A container for memory diagnostics commands.", server::memory),
    cmd!("slowlog", -2, &["admin", "loading", "stale"], 0, 0, 0, "server", "2.2.12", "A container for slow log commands.", slowlog::slowlog),
    cmd!("latency", -2, &["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "2.8.13", "A container for latency diagnostics commands.", latency::latency),
    cmd!("monitor", 1, &["admin", "noscript", "loading", "stale"], 0, 0, 0, "server", "1.0.0", "Listens for all requests received by the server in real-time.", monitor::monitor),
    cmd!("role", 1, CN, 0, 0, 0, "server", "2.8.12", "Returns the replication role.", server::role),
    cmd!("wait", 3, &["noscript"], 0, 0, 0, "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", server::wait),
    cmd!("save", 1, &["admin", "noscript", "no_async_loading", "no_multi"], 0, 0, 0, "server", "1.0.0", "Synchronously saves the database(s) to disk.", server::save),
    cmd!("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], 0, 0, 0, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", server::shutdown),
    cmd!("bgrewriteaof", 1, &["admin", "noscript", "no_async_loading"], 0, 0, 0, "server", "1.0.0", "Asynchronously rewrites the append-only file to disk.", server::bgrewriteaof),
    cmd!("bgsave", -1, &["admin", "noscript", "no_async_loading"], 0, 0, 0, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", server::bgsave),
    cmd!("lastsave", 1, &["loading", "stale", "fast"], 0, 0, 0, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", server::lastsave),
    // pubsub
    cmd!("subscribe", -2, PS, 0, 0, 0, "pubsub", "2.0.0", "Listens for messages published to channels.", pubsub::subscribe),
    cmd!("unsubscribe", -1, PS, 0, 0, 0, "pubsub", "2.0.0", "Stops listening to messages posted to channels.", pubsub::unsubscribe),
    cmd!("psubscribe", -2, PS, 0, 0, 0, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", pubsub::psubscribe),
    cmd!("punsubscribe", -1, PS, 0, 0, 0, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", pubsub::punsubscribe),
    cmd!("ssubscribe", -2, PS, 1, -1, 1, "pubsub", "7.0.0", "Listens for messages published to shard channels.", pubsub::ssubscribe),
    cmd!("sunsubscribe", -1, PS, 1, -1, 1, "pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", pubsub::sunsubscribe),
    cmd!("publish", 3, PP, 0, 0, 0, "pubsub", "2.0.0", "Posts a message to a channel.", pubsub::publish),
    cmd!("spublish", 3, PP, 1, 1, 1, "pubsub", "7.0.0", "Post a message to a shard channel", pubsub::spublish),
    cmd!("pubsub", -2, RS, 0, 0, 0, "pubsub", "2.8.0", "A container for Pub/Sub commands.", pubsub::pubsub),
    // connection
    cmd!("ping", -1, C, 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    cmd!("echo", 2, C, 0, 0, 0, "connection", "1.0.0", "Returns the given string.", connection::echo),
    cmd!("select", 2, C, 0, 0, 0, "connection", "1.0.0", "Changes the selected database (stairkv has database 0 only).", connection::select),
    cmd!("quit", -1, CN, 0, 0, 0, "connection", "1.0.0", "Closes the connection.", connection::quit),
    cmd!("reset", 1, CN, 0, 0, 0, "connection", "6.2.0", "Resets the connection.", connection::reset),
    cmd!("hello", -1, CN, 0, 0, 0, "connection", "6.0.0", "Handshakes with the server.", connection::hello),
    cmd!("auth", -2, CN, 0, 0, 0, "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    cmd!("client", -2, &["admin", "noscript", "loading", "stale"], 0, 0, 0, "connection", "2.4.0", "A container for client connection commands.", connection::client),
    // transactions
    cmd!("multi", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "1.2.0", "Starts a transaction.", transactions::multi),
    cmd!("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], 0, 0, 0, "transactions", "1.2.0", "Executes all commands in a transaction.", transactions::exec),
    cmd!("discard", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "2.0.0", "Discards a transaction.", transactions::discard),
    cmd!("watch", -2, &["noscript", "loading", "stale", "fast", "allow_busy"], 1, -1, 1, "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", transactions::watch),
    cmd!("unwatch", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], 0, 0, 0, "transactions", "2.2.0", "Forgets about watched keys of a transaction.", transactions::unwatch),
    // scripting
    cmd!("eval", -3, &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "2.6.0", "Executes a server-side Lua script.", scripting::eval),
    cmd!("evalsha", -3, &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "2.6.0", "Executes a server-side Lua script by SHA1 digest.", scripting::evalsha),
    cmd!("eval_ro", -3, &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "7.0.0", "Executes a read-only server-side Lua script.", scripting::eval_ro),
    cmd!("evalsha_ro", -3, &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", scripting::evalsha_ro),
    cmd!("script", -2, &["noscript"], 0, 0, 0, "scripting", "2.6.0", "A container for Lua scripts management commands.", scripting::script),
    cmd!("fcall", -3, &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "7.0.0", "Invokes a function.", scripting::function::fcall),
    cmd!("fcall_ro", -3, &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale"], 0, 0, 0, "scripting", "7.0.0", "Invokes a read-only function.", scripting::function::fcall_ro),
    cmd!("function", -2, &["noscript"], 0, 0, 0, "scripting", "7.0.0", "A container for function commands.", scripting::function::function),
    // ACL users
    cmd!("acl", -2, &["noscript", "loading", "stale"], 0, 0, 0, "server", "6.0.0", "A container for Access List Control commands.", acl::acl),
    // stairkv
    cmd!("stairkv", -2, A, 0, 0, 0, "server", "0.1.0", "Inspects the shard staircase (SHARDS, TABLE).", admin::stairkv),
];

pub fn all_commands() -> &'static [CommandSpec] {
    COMMANDS
}

/// Name → spec, hashed with ahash: every request looks its command up, and
/// std's SipHash showed in profiles.
type Index = HashMap<&'static str, &'static CommandSpec, ahash::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// Find a command by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 24];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    index().get(lower).copied()
}

/// The table as handlers see it, passed down in every [`Ctx`].
pub static TABLE: Table = Table {
    all: COMMANDS,
    lookup,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[0xff, 0xfe]).is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in all_commands() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
        }
    }
}
