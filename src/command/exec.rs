//! Running a connection's pipeline: look each request up in the command table,
//! check arity and authentication, let its handler build ops into one
//! [`Batch`], and write every reply in request order.
//!
//! A handler returns a [`Step`]: a reply now, a reply once its ops' results are
//! in, or (for the few commands that need several rounds across cores, like a
//! RENAME between two cores) a future. A future step first finishes everything
//! queued before it, so its view of the keyspace respects pipeline order.

use super::frame::Frame;
use super::table::{lookup, CommandSpec};
use crate::core::clients::Door;
use crate::core::router::{Batch, Results, Ticket};
use crate::core::world::World;
use crate::protocol::out::Out;
use crate::protocol::reply::Proto;
use crate::storage::ops::OpResult;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A connection's own state, as commands see it.
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub proto: Proto,
    pub authed: bool,
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub addr: String,
    pub laddr: String,
    /// Set by QUIT (and CLIENT KILL of oneself): close after writing the replies so far.
    pub closing: bool,
    /// The last command run, published to CLIENT LIST once per pipeline.
    pub last_cmd: &'static str,
    /// The connection's socket, for pub/sub's output-buffer limit to shut down.
    pub fd: std::os::fd::RawFd,
    /// Subscriptions, once the connection has subscribed to anything.
    pub subs: Option<Box<super::pubsub::SubState>>,
    /// The pipeline's commands as looked up in its first pass (kept for its allocation).
    specs: Vec<Option<&'static CommandSpec>>,
    /// The door the connection came in by: replies are written in its protocol.
    pub door: Door,
    /// Since when the unsent replies have been over the soft output limit.
    pub over_soft_limit_since: Option<std::time::Instant>,
    /// Closed for its output buffer limit: its unsent replies are dropped.
    pub output_dropped: bool,
}

impl ClientState {
    pub fn new(id: u64, addr: String, laddr: String, needs_auth: bool, door: Door) -> ClientState {
        ClientState {
            door,
            over_soft_limit_since: None,
            output_dropped: false,
            id,
            proto: Proto::Resp2,
            authed: !needs_auth,
            name: String::new(),
            lib_name: String::new(),
            lib_ver: String::new(),
            addr,
            laddr,
            closing: false,
            last_cmd: "",
            fd: -1,
            subs: None,
            specs: Vec::new(),
        }
    }
}

pub type AsyncReply = Pin<Box<dyn Future<Output = Frame>>>;

/// Turns the results of a step's ops into its reply.
pub type Finish1 = fn(OpResult) -> Frame;
pub type FinishN = fn(Vec<OpResult>) -> Frame;

pub enum Step {
    Done(Frame),
    One(Ticket, Finish1),
    Many(Vec<Ticket>, FinishN),
    Async(AsyncReply),
}

/// What a handler may touch.
pub struct Ctx<'a> {
    pub world: &'a Rc<World>,
    pub client: &'a mut ClientState,
    pub batch: &'a mut Batch,
    pub spec: &'static CommandSpec,
}

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
    let mut batch = Batch::new(world.clone());
    let mut queued: Vec<(Step, Proto)> = Vec::new();
    let mut specs = std::mem::take(&mut client.specs);
    // Requests a batch cut short before were looked up then: only a new
    // pipeline is looked up (and its keys prefetched) again.
    if specs.len() != requests.len() {
        look_up_and_prefetch(world, requests, &mut specs);
    }
    let mut ran = 0;
    for (args, &spec) in requests.iter_mut().zip(specs.iter()) {
        let full = out.len() >= OUT_BUDGET || queued.len() >= MAX_QUEUED;
        if client.closing || (ran > 0 && full) {
            break;
        }
        ran += 1;
        let args = std::mem::take(args);
        let step = dispatch(world, client, &mut batch, spec, &args);
        match step {
            Step::Async(fut) => {
                batch = flush(world, batch, &mut queued, out, client.door).await;
                let f = fut.await;
                f.write(out, client.proto, client.door);
            }
            Step::Done(f) if queued.is_empty() => f.write(out, client.proto, client.door),
            Step::One(t, finish) if queued.is_empty() && batch.is_local() => {
                match batch.take_ready(t) {
                    Some(r) => finish(r).write(out, client.proto, client.door),
                    None => queued.push((Step::One(t, finish), client.proto)),
                }
            }
            other => queued.push((other, client.proto)),
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
    flush(world, batch, &mut queued, out, client.door).await;
    // Once per pipeline, not per command: CLIENT LIST's idle time is in seconds.
    if !client.last_cmd.is_empty() {
        world.clients.borrow_mut().touch(client.id, client.last_cmd);
    }
}

/// Finish the batch and encode the queued steps; returns a fresh batch.
async fn flush(
    world: &Rc<World>,
    batch: Batch,
    queued: &mut Vec<(Step, Proto)>,
    out: &mut Out,
    door: Door,
) -> Batch {
    if queued.is_empty() && batch.is_local() {
        return batch;
    }
    let mut results: Results = batch.finish().await;
    for (step, proto) in queued.drain(..) {
        let frame = match step {
            Step::Done(f) => f,
            Step::One(t, finish) => finish(results.take(t)),
            Step::Many(ts, finish) => finish(ts.into_iter().map(|t| results.take(t)).collect()),
            Step::Async(fut) => fut.await,
        };
        frame.write(out, proto, door);
    }
    Batch::new(world.clone())
}

/// Commands a client may run before authenticating.
fn allowed_before_auth(name: &str) -> bool {
    matches!(name, "auth" | "hello" | "quit" | "reset")
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
    specs.extend(requests.iter().map(|args| lookup(&args[0])));
    if requests.len() < 2 {
        return;
    }
    let keys = requests
        .iter()
        .zip(specs.iter())
        .filter_map(|(args, spec)| {
            let key = args.get(1)?;
            (spec.as_ref()?.first_key == 1).then_some(&key[..])
        });
    world.keyspace.borrow().prefetch_keys(keys);
}

fn dispatch(
    world: &Rc<World>,
    client: &mut ClientState,
    batch: &mut Batch,
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> Step {
    let Some(spec) = spec else {
        return Step::Done(unknown_command(args));
    };
    world.count_command();
    if !client.authed && !allowed_before_auth(spec.name) {
        return Step::Done(Frame::err("NOAUTH Authentication required."));
    }
    if !arity_ok(spec.arity, args.len()) {
        return Step::Done(wrong_arity(spec.name));
    }
    if client.proto == Proto::Resp2
        && client.subs.as_ref().is_some_and(|s| s.active())
        && !allowed_when_subscribed(spec.name)
    {
        return Step::Done(Frame::Error(
            format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            )
            .into(),
        ));
    }
    client.last_cmd = spec.name;
    let mut ctx = Ctx {
        world,
        client,
        batch,
        spec,
    };
    (spec.handler)(&mut ctx, args)
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

/// The subcommand of a container command (CONFIG, CLIENT, COMMAND, STAIRKV), found in
/// `subs` — each `(name, arity)` with Redis's arity counting the container word and
/// the subcommand — or Redis 7's error for an unknown one or a wrong argument count.
pub fn subcommand(
    container: &str,
    a: &[Bytes],
    subs: &[(&'static str, i32)],
) -> Result<&'static str, Frame> {
    let Some(&(name, arity)) = subs
        .iter()
        .find(|(n, _)| a[1].eq_ignore_ascii_case(n.as_bytes()))
    else {
        return Err(Frame::Error(
            format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                clip(&a[1]),
                container.to_ascii_uppercase()
            )
            .into(),
        ));
    };
    if !arity_ok(arity, a.len()) {
        return Err(wrong_arity(&format!("{container}|{name}")));
    }
    Ok(name)
}

/// Redis's arity rule: exactly `arity` arguments when positive, at least
/// `-arity` when negative (the command name, and subcommand, included).
fn arity_ok(arity: i32, argc: usize) -> bool {
    let n = argc as i32;
    if arity > 0 {
        n == arity
    } else {
        n >= -arity
    }
}

/// A container's HELP reply: one simple string per line, as Redis sends it.
pub fn help_reply(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|l| Frame::simple(l)).collect())
}

pub fn wrong_arity(name: &str) -> Frame {
    Frame::Error(format!("ERR wrong number of arguments for '{name}' command").into())
}

/// A client-sent argument made printable for an error message (Redis caps at 128 bytes).
pub fn clip(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(128)]);
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
