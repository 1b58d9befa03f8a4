//! What every command handler needs, and nothing above it: the context a
//! handler runs in ([`Ctx`]: the world, the connection's [`ClientState`], the
//! pipeline's [`Batch`], its own [`CommandSpec`] and the command [`Table`]),
//! the [`Step`] it returns, and Redis's error and help replies shared by the
//! families (arity, unknown subcommand, HELP, a client's argument clipped for
//! an error message).
//!
//! A handler returns a [`Step`]: a reply now, a reply once its ops' results are
//! in, or (for the few commands that need several rounds across cores, like a
//! RENAME between two cores) a future.
//!
//! This file sits under the families and `dispatch`: it never imports either.
//! The table itself (which names every family's handler) lives in `dispatch`,
//! which passes it down in [`Ctx::table`] for COMMAND to read.

use super::acl::rules::User;
use super::acl::users;
use super::frame::Frame;
use super::subscriptions::SubState;
use super::txstate::{MultiState, WatchState};
use crate::core::clients::Door;
use crate::core::router::{Batch, Ticket};
use crate::core::world::World;
use crate::protocol::out::Out;
use crate::protocol::reply::Proto;
use crate::storage::ops::OpResult;
use bytes::Bytes;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

/// A connection's own state, as commands see it.
#[derive(Debug)]
pub struct ClientState {
    pub id: u64,
    pub proto: Proto,
    pub authed: bool,
    /// The ACL user it runs as (the default user until AUTH), as of
    /// `acl_gen`: the dispatcher looks it up again when users change.
    pub user: Arc<User>,
    pub acl_gen: u64,
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
    pub subs: Option<Box<SubState>>,
    /// The pipeline's commands as looked up in its first pass (kept for its allocation).
    pub(super) specs: Vec<Option<&'static CommandSpec>>,
    /// The door the connection came in by: replies are written in its protocol.
    pub door: Door,
    /// Commands queued since MULTI (None outside a transaction).
    pub multi: Option<Box<MultiState>>,
    /// Keys this connection WATCHes (None when it watches none).
    pub watching: Option<Box<WatchState>>,
    /// Set while EXEC runs the queued commands: none of them may block (Redis's rule).
    pub executing: bool,
    /// Since when the unsent replies have been over the soft output limit.
    pub over_soft_limit_since: Option<std::time::Instant>,
    /// Closed for its output buffer limit: its unsent replies are dropped.
    pub output_dropped: bool,
    /// CLIENT REPLY: which replies are written.
    pub reply: ReplyMode,
    /// CLIENT TRACKING's mode, while on.
    pub tracking: Option<Box<super::trackstate::TrackState>>,
    /// The HTTP door's replies, kept whole instead of encoded (a value is
    /// then shared with the keyspace, never copied into a reply buffer).
    pub frames: Option<Vec<Frame>>,
    /// A script's own client: the keys the script declared, the only ones
    /// its commands may touch (a SORT's pattern-formed keys too).
    pub script_keys: Option<Rc<HashSet<Bytes>>>,
}

/// CLIENT REPLY's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Set by CLIENT REPLY SKIP: its own reply and the next command's go.
    SkipThis,
    SkipNext,
}

impl ClientState {
    /// A new connection: the default user's, logged in when that user has
    /// no password (Redis's rule).
    pub fn new(id: u64, addr: String, laddr: String, door: Door) -> ClientState {
        ClientState {
            user: users::default_user(),
            acl_gen: users::generation(),
            door,
            over_soft_limit_since: None,
            output_dropped: false,
            reply: ReplyMode::On,
            tracking: None,
            multi: None,
            executing: false,
            watching: None,
            id,
            proto: Proto::Resp2,
            authed: users::autologin(),
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
            frames: None,
            script_keys: None,
        }
    }
}

impl ClientState {
    /// Hand a reply to the client: encoded into `out` in its door's protocol,
    /// or kept whole for the HTTP door.
    #[inline]
    pub fn answer(&mut self, out: &mut Out, f: Frame, proto: Proto) {
        match &mut self.frames {
            None => f.write(out, proto, self.door),
            Some(frames) => frames.push(f),
        }
    }

    /// Whether the reply of the command just dispatched is dropped (CLIENT
    /// REPLY), moving a SKIP on to the next command.
    #[inline]
    pub fn reply_silenced(&mut self) -> bool {
        match self.reply {
            ReplyMode::On => false,
            ReplyMode::Off => true,
            ReplyMode::SkipThis => {
                self.reply = ReplyMode::SkipNext;
                true
            }
            ReplyMode::SkipNext => {
                self.reply = ReplyMode::On;
                true
            }
        }
    }
}

pub type AsyncReply = Pin<Box<dyn Future<Output = Frame>>>;

/// Turns the results of a step's ops into its reply.
pub type Finish1 = fn(OpResult) -> Frame;
pub type FinishN = fn(Vec<OpResult>) -> Frame;
pub type FinishThen = Box<dyn FnOnce(OpResult) -> Reply>;

/// A reply known now, or one that needs more rounds.
pub enum Reply {
    Now(Frame),
    Later(AsyncReply),
}

impl Reply {
    pub async fn resolve(self) -> Frame {
        match self {
            Reply::Now(f) => f,
            Reply::Later(fut) => fut.await,
        }
    }
}

pub enum Step {
    Done(Frame),
    One(Ticket, Finish1),
    Many(Vec<Ticket>, FinishN),
    Async(AsyncReply),
    /// As `One`, but the result may call for more rounds (a big
    /// collection's whole reply, read in pages: `command::whole`).
    Then(Ticket, FinishThen),
    /// EXEC: the dispatcher finishes what is queued before it, then runs the
    /// connection's transaction (it needs the connection's state, which a
    /// future cannot borrow).
    Exec,
}

/// What a handler may touch.
pub struct Ctx<'a> {
    pub world: &'a Rc<World>,
    pub client: &'a mut ClientState,
    pub batch: &'a mut Batch,
    pub spec: &'static CommandSpec,
    /// The command table, passed down by `dispatch` (COMMAND lists and looks up specs).
    pub table: &'static Table,
}

pub type Handler = fn(&mut Ctx, &[Bytes]) -> Step;

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The command table as the server family's COMMAND reads it: every spec, and
/// the dispatcher's own case-insensitive lookup. `dispatch` owns the table
/// (it names every family's handler) and passes this down in [`Ctx`], so no
/// family imports it.
pub struct Table {
    pub all: &'static [CommandSpec],
    pub lookup: fn(&[u8]) -> Option<&'static CommandSpec>,
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
pub fn arity_ok(arity: i32, argc: usize) -> bool {
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
