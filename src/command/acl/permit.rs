//! The check every request passes before it runs — at the dispatcher, again
//! at EXEC for what MULTI queued, and for each `redis.call` of a script (as
//! the calling user): its command or subcommand, its keys with what it does
//! to them, and its channels, against the connection's user. A refusal is
//! answered with Redis's NOPERM text and recorded in ACL LOG. A user allowed
//! everything (the default user, as it starts) costs one atomic load and a
//! flag. It never runs a command.

use super::catalog::Catalog;
use super::rules::{Denied, Request, User};
use super::{categories, log, users};
use crate::command::context::{ClientState, CommandSpec, Table};
use crate::command::frame::Frame;
use crate::command::keyspec::{acl_need, key_flags, key_positions, one_key};
use crate::command::observe;
use crate::core::world::World;
use bytes::Bytes;

/// Where a refused request came from (ACL LOG's `context`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    TopLevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::TopLevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// Bring the connection's user up to date with the registry; false when
/// its user no longer exists (the connection must end, as Redis ends it).
#[inline]
pub fn refresh(client: &mut ClientState) -> bool {
    let g = users::generation();
    if client.acl_gen == g {
        return true;
    }
    client.acl_gen = g;
    match users::get(&client.user.name) {
        Some(u) => {
            client.user = u;
            true
        }
        None => false,
    }
}

/// The id a request runs as: its subcommand's for a container (the
/// container's own for a subcommand the catalog does not know, which only
/// a user allowed the whole command may run).
fn request_id(cat: &Catalog, table: &Table, spec: &'static CommandSpec, args: &[Bytes]) -> usize {
    let cmd = observe::index(table, spec);
    if !cat.is_container(cmd) {
        return cmd;
    }
    args.get(1)
        .and_then(|sub| cat.subcommand(cmd, sub))
        .unwrap_or(cmd)
}

/// AUTH, HELLO, QUIT and RESET: run before logging in, and by every user
/// (Redis's `no_auth` flag).
pub fn no_auth(name: &str) -> bool {
    matches!(name, "auth" | "hello" | "quit" | "reset")
}

/// A refusal and the argument it names (the command's full name for a
/// command refusal).
pub struct Refusal {
    pub denied: Denied,
    pub object: String,
}

/// Whether `user` may run the request.
pub fn check_user(
    user: &User,
    table: &'static Table,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Result<(), Refusal> {
    if user.unrestricted() || no_auth(spec.name) {
        return Ok(());
    }
    let cat = categories::catalog(table);
    let id = request_id(cat, table, spec, args);
    let mut keys = Vec::new();
    let mut channels = Vec::new();
    let mut patterns = false;
    // One key in place (GET, SET, INCR, …): no allocation on the way.
    let one;
    let mut single_key = false;
    match spec.name {
        "publish" | "spublish" => channels.push((1, &args[1][..])),
        "subscribe" | "ssubscribe" | "psubscribe" => {
            patterns = spec.name == "psubscribe";
            channels.extend((1..args.len()).map(|i| (i, &args[i][..])));
        }
        _ if spec.group == "pubsub" => {}
        _ if one_key(spec, args) => single_key = true,
        _ => {
            for (n, i) in key_positions(spec, args).into_iter().enumerate() {
                keys.push((i, &args[i][..], acl_need(key_flags(spec, args, n))));
            }
        }
    }
    let keys: &[(usize, &[u8], u8)] = if single_key {
        one = [(1, &args[1][..], acl_need(key_flags(spec, args, 0)))];
        &one
    } else {
        &keys
    };
    let request = Request {
        id,
        keys,
        channels: &channels,
        patterns,
        first_arg: args.get(1).map(|a| &a[..]),
    };
    user.check(cat, &request).map_err(|denied| Refusal {
        object: match denied {
            Denied::Command => cat.name(id),
            Denied::Key(i) | Denied::Channel(i) => String::from_utf8_lossy(&args[i]).into_owned(),
        },
        denied,
    })
}

/// Redis's reply to a refusal: terse for a request, naming the key or
/// channel for ACL DRYRUN (`verbose`).
pub fn message(user: &str, r: &Refusal, verbose: bool) -> String {
    match (r.denied, verbose) {
        (Denied::Command, _) => format!(
            "User {user} has no permissions to run the '{}' command",
            r.object
        ),
        (Denied::Key(_), false) => "No permissions to access a key".into(),
        (Denied::Channel(_), false) => "No permissions to access a channel".into(),
        (Denied::Key(_), true) => {
            format!(
                "User {user} has no permissions to access the '{}' key",
                r.object
            )
        }
        (Denied::Channel(_), true) => format!(
            "User {user} has no permissions to access the '{}' channel",
            r.object
        ),
    }
}

/// Record a refusal in ACL LOG.
pub fn log_refusal(world: &World, client: &ClientState, r: &Refusal, context: Context) {
    let reason = match r.denied {
        Denied::Command => "command",
        Denied::Key(_) => "key",
        Denied::Channel(_) => "channel",
    };
    log::record(
        reason,
        context.name(),
        r.object.clone(),
        client.user.name.clone(),
        client_info(world, client),
    );
}

/// The connection's CLIENT LIST line, for ACL LOG.
pub fn client_info(world: &World, client: &ClientState) -> String {
    world
        .clients
        .borrow()
        .get(client.id)
        .map(|c| c.line())
        .unwrap_or_default()
}

/// The dispatcher's and EXEC's check: Ok, or the NOPERM reply (logged).
#[inline]
pub fn check(
    world: &World,
    client: &mut ClientState,
    table: &'static Table,
    spec: &'static CommandSpec,
    args: &[Bytes],
    context: Context,
) -> Result<(), Frame> {
    if !refresh(client) {
        // Its user was deleted: the connection ends (DELUSER's kill is on
        // its way; this covers a command that got here first).
        client.closing = true;
        return Err(Frame::err("NOAUTH Authentication required."));
    }
    if client.user.unrestricted() {
        return Ok(());
    }
    check_user(&client.user, table, spec, args).map_err(|r| {
        log_refusal(world, client, &r, context);
        Frame::Error(format!("NOPERM {}", message(&client.user.name, &r, false)).into())
    })
}
