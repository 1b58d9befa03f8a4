//! The connection family: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH and
//! CLIENT. These act on the connection's own state; CLIENT LIST/KILL reach the
//! other cores' client tables through a core task; RESET drops subscriptions
//! through the pubsub family's `forget_client` (one way: pubsub never imports
//! this file). It stands on `context` and never imports `dispatch`.

use super::acl::log as acl_log;
use super::acl::{permit, users};
use super::args::{int_arg, is, lower, SYNTAX};
use super::context::{
    clip, help_reply, subcommand, wrong_arity, ClientState, Ctx, ReplyMode, Step,
};
use super::frame::Frame;
use crate::core::blocked::Unblock;
use crate::core::clients::KillFilter;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::protocol::reply::Proto;
use bytes::Bytes;

/// The Redis version we answer to clients that branch on it (HELLO, INFO).
pub const REDIS_COMPAT_VERSION: &str = "7.2.4";

pub fn ping(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    if a.len() > 2 {
        return Step::Done(wrong_arity("ping"));
    }
    // RESP2's subscribed mode answers in the shape of a message.
    if ctx.client.proto == Proto::Resp2 && ctx.client.subs.as_ref().is_some_and(|s| s.active()) {
        let arg = a.get(1).cloned().unwrap_or_default();
        return Step::Done(Frame::Array(vec![Frame::bulk("pong"), Frame::Bulk(arg)]));
    }
    match a.len() {
        1 => Step::Done(Frame::simple("PONG")),
        2 => Step::Done(Frame::Bulk(a[1].clone())),
        _ => Step::Done(wrong_arity("ping")),
    }
}

pub fn echo(_ctx: &mut Ctx, a: &[Bytes]) -> Step {
    Step::Done(Frame::Bulk(a[1].clone()))
}

pub fn select(_ctx: &mut Ctx, a: &[Bytes]) -> Step {
    match int_arg(&a[1]) {
        Ok(0) => Step::Done(Frame::Ok),
        Ok(_) => Step::Done(Frame::err(
            "ERR DB index is out of range (stairkv has database 0 only)",
        )),
        Err(f) => Step::Done(f),
    }
}

pub fn quit(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    ctx.client.closing = true;
    Step::Done(Frame::Ok)
}

pub fn reset(ctx: &mut Ctx, _a: &[Bytes]) -> Step {
    super::pubsub::forget_client(ctx.world, ctx.client);
    super::transactions::forget_client(ctx.world, ctx.client);
    super::tracking::reset(ctx.world, ctx.client);
    // Back to the default user, logged in only if it needs no password.
    ctx.client.proto = Proto::Resp2;
    ctx.client.authed = users::autologin();
    ctx.client.user = users::default_user();
    ctx.client.acl_gen = users::generation();
    ctx.client.name.clear();
    let id = ctx.client.id;
    ctx.world.clients.borrow_mut().update(id, |c| {
        c.name.clear();
        c.resp = 2;
        c.user = "default".into();
        c.redir = -1;
    });
    Step::Done(Frame::simple("RESET"))
}

/// Log the connection in as `user` (the default user when None), or
/// Redis's refusal (logged in ACL LOG as an `auth` failure).
fn log_in(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), Frame> {
    if user.is_none() && users::default_user().nopass {
        return Err(Frame::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
    }
    let name = String::from_utf8_lossy(user.unwrap_or(b"default")).into_owned();
    let Some(u) = users::authenticate(&name, pass) else {
        let info = permit::client_info(ctx.world, ctx.client);
        acl_log::record("auth", "toplevel", "AUTH".into(), name, info);
        return Err(Frame::err(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    };
    ctx.client.authed = true;
    ctx.client.acl_gen = users::generation();
    let id = ctx.client.id;
    let user_name = u.name.clone();
    ctx.client.user = u;
    ctx.world
        .clients
        .borrow_mut()
        .update(id, |c| c.user = user_name);
    Ok(())
}

pub fn auth(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let (user, pass) = match a.len() {
        2 => (None, &a[1]),
        3 => (Some(&a[1][..]), &a[2]),
        _ => return Step::Done(Frame::err("ERR syntax error")),
    };
    match log_in(ctx, user, pass) {
        Ok(()) => Step::Done(Frame::Ok),
        Err(f) => Step::Done(f),
    }
}

pub fn hello(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut proto = ctx.client.proto;
    let mut i = 1;
    if a.len() > 1 {
        match int_arg(&a[1]) {
            Ok(2) => proto = Proto::Resp2,
            Ok(3) => proto = Proto::Resp3,
            Ok(_) => return Step::Done(Frame::err("NOPROTO unsupported protocol version")),
            Err(_) => {
                return Step::Done(Frame::err(
                    "ERR Protocol version is not an integer or out of range",
                ))
            }
        }
        i = 2;
    }
    let mut name = None;
    while i < a.len() {
        if is(&a[i], "AUTH") && i + 2 < a.len() {
            let (u, p) = (a[i + 1].clone(), a[i + 2].clone());
            if let Err(f) = log_in(ctx, Some(&u), &p) {
                return Step::Done(f);
            }
            i += 3;
        } else if is(&a[i], "SETNAME") && i + 1 < a.len() {
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Step::Done(Frame::Error(
                format!("ERR Syntax error in HELLO option '{}'", clip(&a[i])).into(),
            ));
        }
    }
    if !ctx.client.authed {
        return Step::Done(Frame::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        if let Err(f) = set_name(ctx, &n) {
            return Step::Done(f);
        }
    }
    ctx.client.proto = proto;
    let id = ctx.client.id;
    let resp = if proto == Proto::Resp3 { 3 } else { 2 };
    ctx.world.clients.borrow_mut().update(id, |c| c.resp = resp);
    Step::Done(Frame::Map(vec![
        (Frame::bulk("server"), Frame::bulk("redis")),
        (Frame::bulk("version"), Frame::bulk(REDIS_COMPAT_VERSION)),
        (Frame::bulk("proto"), Frame::Int(resp as i64)),
        (Frame::bulk("id"), Frame::Int(id as i64)),
        (Frame::bulk("mode"), Frame::bulk("standalone")),
        (Frame::bulk("role"), Frame::bulk("master")),
        (Frame::bulk("modules"), Frame::Array(vec![])),
    ]))
}

fn set_name(ctx: &mut Ctx, name: &[u8]) -> Result<(), Frame> {
    if name.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err(Frame::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    let n = String::from_utf8_lossy(name).into_owned();
    ctx.client.name = n.clone();
    let id = ctx.client.id;
    ctx.world.clients.borrow_mut().update(id, |c| c.name = n);
    Ok(())
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ID",
    "    Return the ID of the current connection.",
    "GETNAME",
    "    Return the name of the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [TYPE NORMAL] [ID <id> [<id> ...]]",
    "    Return information about client connections (on every core).",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options: ID, ADDR, LADDR, SKIPME.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "HELP",
    "    Print this help.",
];

pub fn client(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let subs = [
        ("id", 2),
        ("getname", 2),
        ("setname", 3),
        ("setinfo", 4),
        ("info", 2),
        ("list", -2),
        ("kill", -3),
        ("no-evict", 3),
        ("no-touch", 3),
        ("reply", 3),
        ("pause", -3),
        ("unpause", 2),
        ("unblock", -3),
        ("tracking", -3),
        ("trackinginfo", 2),
        ("getredir", 2),
        ("caching", 3),
        ("help", 2),
    ];
    let sub = match subcommand("client", a, &subs) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    match sub {
        "id" => Step::Done(Frame::Int(ctx.client.id as i64)),
        "getname" => Step::Done(if ctx.client.name.is_empty() {
            Frame::Null
        } else {
            Frame::bulk(&ctx.client.name)
        }),
        "setname" => match set_name(ctx, &a[2]) {
            Ok(()) => Step::Done(Frame::Ok),
            Err(f) => Step::Done(f),
        },
        "setinfo" => {
            let v = String::from_utf8_lossy(&a[3]).into_owned();
            if v.contains(' ') || v.contains('\n') {
                return Step::Done(Frame::err(
                    "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.",
                ));
            }
            let id = ctx.client.id;
            if is(&a[2], "LIB-NAME") {
                ctx.client.lib_name = v.clone();
                ctx.world
                    .clients
                    .borrow_mut()
                    .update(id, |c| c.lib_name = v);
            } else if is(&a[2], "LIB-VER") {
                ctx.client.lib_ver = v.clone();
                ctx.world.clients.borrow_mut().update(id, |c| c.lib_ver = v);
            } else {
                return Step::Done(Frame::Error(
                    format!("ERR Unrecognized option '{}'", clip(&a[2])).into(),
                ));
            }
            Step::Done(Frame::Ok)
        }
        "info" => {
            let line = ctx
                .world
                .clients
                .borrow()
                .get(ctx.client.id)
                .map(|c| c.line())
                .unwrap_or_default();
            Step::Done(Frame::Verbatim(format!("{line}\n")))
        }
        "list" => client_list(ctx, a),
        "kill" => client_kill(ctx, a),
        "no-evict" | "no-touch" => Step::Done(Frame::Ok),
        "reply" => Step::Done(client_reply(ctx.client, &a[2])),
        "pause" => Step::Done(client_pause(a)),
        "unpause" => {
            crate::core::pause::unpause();
            Step::Done(Frame::Ok)
        }
        "unblock" => client_unblock(ctx, a),
        "tracking" => super::tracking::client_tracking(ctx, a),
        "trackinginfo" => super::tracking::client_trackinginfo(ctx),
        "getredir" => super::tracking::client_getredir(ctx),
        "caching" => super::tracking::client_caching(ctx, a),
        _ => Step::Done(help_reply(CLIENT_HELP)),
    }
}

/// CLIENT REPLY ON|OFF|SKIP: the dispatcher drops the replies it says
/// (`ClientState::reply_silenced`), OFF's and SKIP's own included.
fn client_reply(client: &mut ClientState, mode: &[u8]) -> Frame {
    client.reply = if is(mode, "ON") {
        ReplyMode::On
    } else if is(mode, "OFF") {
        ReplyMode::Off
    } else if is(mode, "SKIP") {
        ReplyMode::SkipThis
    } else {
        return Frame::err(SYNTAX);
    };
    Frame::Ok
}

/// CLIENT PAUSE timeout [WRITE|ALL]: every core's dispatcher holds the
/// commands it says until the time is up or CLIENT UNPAUSE.
fn client_pause(a: &[Bytes]) -> Frame {
    let Some(ms) = super::args::parse_i64(&a[2]) else {
        return Frame::err("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return Frame::err("ERR timeout is negative");
    }
    let all = match a.get(3) {
        None => true,
        Some(m) if is(m, "ALL") => true,
        Some(m) if is(m, "WRITE") => false,
        Some(_) => return Frame::err(SYNTAX),
    };
    if a.len() > 4 {
        return Frame::err(SYNTAX);
    }
    crate::core::pause::pause(ms as u64, all);
    Frame::Ok
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when the client waited (in WAIT) on
/// some core and was let go, 0 otherwise.
fn client_unblock(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let id = match int_arg(&a[2]) {
        Ok(id) => id,
        Err(f) => return Step::Done(f),
    };
    let how = match a.get(3) {
        None => Unblock::Timeout,
        Some(m) if is(m, "TIMEOUT") => Unblock::Timeout,
        Some(m) if is(m, "ERROR") => Unblock::Error,
        Some(_) => {
            return Step::Done(Frame::err(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    if a.len() > 4 {
        return Step::Done(Frame::err(SYNTAX));
    }
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        let n = world
            .count_every_core(CoreTask::Unblock { id: id as u64, how })
            .await;
        Frame::Int(n.min(1) as i64)
    }))
}

fn client_list(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < a.len() {
        if is(&a[i], "TYPE") && i + 1 < a.len() {
            let t = lower(&a[i + 1]);
            if !matches!(t.as_str(), "normal" | "master" | "replica" | "pubsub") {
                return Step::Done(Frame::Error(
                    format!("ERR Unknown client type '{}'", clip(&a[i + 1])).into(),
                ));
            }
            if t != "normal" {
                ids = Some(vec![]);
            }
            i += 2;
        } else if is(&a[i], "ID") && i + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[i + 1..] {
                match super::args::parse_u64(x) {
                    Some(n) if n > 0 => v.push(n),
                    _ => return Step::Done(Frame::err("ERR Invalid client ID")),
                }
            }
            ids = Some(v);
            i = a.len();
        } else {
            return Step::Done(Frame::err("ERR syntax error"));
        }
    }
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        let mut rows = Vec::new();
        for r in world.broadcast_task(CoreTask::Clients).await {
            if let TaskResult::Clients(cs) = r {
                rows.extend(cs);
            }
        }
        rows.sort_by_key(|c| c.id);
        let mut out = String::new();
        for c in rows {
            if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
                continue;
            }
            out.push_str(&c.line());
            out.push('\n');
        }
        Frame::Verbatim(out)
    }))
}

fn client_kill(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let me = ctx.client.id;
    let world = ctx.world.clone();
    if a.len() == 3 {
        // Old form: CLIENT KILL ip:port → OK or an error.
        let filter = KillFilter {
            addr: Some(String::from_utf8_lossy(&a[2]).into_owned()),
            ..KillFilter::default()
        };
        return Step::Async(Box::pin(async move {
            let n = killed(world.broadcast_task(CoreTask::Kill(filter)).await);
            if n == 0 {
                Frame::err("ERR No such client")
            } else {
                Frame::Ok
            }
        }));
    }
    let mut filter = KillFilter {
        skip_id: Some(me),
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return Step::Done(Frame::err("ERR syntax error"));
        };
        if is(&a[i], "ID") {
            match super::args::parse_u64(v) {
                Some(n) if n > 0 => filter.id = Some(n),
                _ => return Step::Done(Frame::err("ERR client-id should be greater than 0")),
            }
        } else if is(&a[i], "ADDR") {
            filter.addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(&a[i], "LADDR") {
            filter.laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(&a[i], "SKIPME") {
            if is(v, "yes") {
                filter.skip_id = Some(me);
            } else if is(v, "no") {
                filter.skip_id = None;
            } else {
                return Step::Done(Frame::err("ERR syntax error"));
            }
        } else if is(&a[i], "USER") {
            let name = String::from_utf8_lossy(v).into_owned();
            if users::get(&name).is_none() {
                return Step::Done(Frame::Error(
                    format!("ERR No such user '{}'", clip(v)).into(),
                ));
            }
            filter.user = Some(name);
        } else if is(&a[i], "TYPE") || is(&a[i], "MAXAGE") {
            // Accepted for compatibility; every client here is a normal client.
        } else {
            return Step::Done(Frame::err("ERR syntax error"));
        }
        i += 2;
    }
    let kills_me = filter.skip_id.is_none()
        && filter.id.is_none_or(|id| id == me)
        && filter.addr.as_ref().is_none_or(|x| *x == ctx.client.addr)
        && filter.laddr.as_ref().is_none_or(|x| *x == ctx.client.laddr)
        && filter
            .user
            .as_ref()
            .is_none_or(|x| *x == ctx.client.user.name);
    if kills_me {
        // Redis answers first and then closes the calling connection.
        ctx.client.closing = true;
    }
    Step::Async(Box::pin(async move {
        Frame::Int(killed(world.broadcast_task(CoreTask::Kill(filter)).await) as i64)
    }))
}

fn killed(rs: Vec<TaskResult>) -> usize {
    rs.into_iter()
        .map(|r| match r {
            TaskResult::Count(n) => n,
            _ => 0,
        })
        .sum()
}
