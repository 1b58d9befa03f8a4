//! ACL users, as Redis 7 has them: the ACL command family (SETUSER, GETUSER,
//! DELUSER, USERS, LIST, WHOAMI, CAT, LOG, GENPASS, DRYRUN, SAVE, LOAD),
//! with `catalog`/`categories` (what rules name), `rules` (one user) and
//! `selector` (one set of its permissions),
//! `users` (the process-wide set, `requirepass`, the aclfile's text), `log`
//! (ACL LOG) and `permit` (the check of every request). Users are shared by
//! every core and every door: a change on one core holds everywhere from the
//! next command, and a deleted user's connections are closed on every core.
//! The aclfile is read and written off the core's thread.

pub mod catalog;
pub mod categories;
pub mod log;
pub mod permit;
pub mod rules;
pub mod selector;
pub mod users;

use super::args::{int_arg, is};
use super::context::{clip, help_reply, subcommand, Ctx, Step};
use super::frame::Frame;
use crate::core::clients::KillFilter;
use crate::core::mesh::CoreTask;
use bytes::Bytes;
use std::rc::Rc;

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("cat", -2),
    ("deluser", -3),
    ("dryrun", -4),
    ("genpass", -2),
    ("getuser", 3),
    ("list", 2),
    ("load", 2),
    ("log", -2),
    ("save", 2),
    ("setuser", -3),
    ("users", 2),
    ("whoami", 2),
    ("help", 2),
];

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn acl(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let sub = match subcommand("acl", a, SUBCOMMANDS) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    match sub {
        "whoami" => Step::Done(Frame::bulk(&ctx.client.user.name)),
        "users" => Step::Done(Frame::Array(
            users::all().iter().map(|u| Frame::bulk(&u.name)).collect(),
        )),
        "list" => Step::Done(Frame::Array(
            users::lines().iter().map(Frame::bulk).collect(),
        )),
        "setuser" => {
            let name = text(&a[2]);
            let rules: Vec<String> = a[3..].iter().map(text).collect();
            let before = users::get(&name).map(|u| u.channel_rules());
            if let Err(e) = users::set_user(&name, &rules) {
                return Step::Done(Frame::Error(e.into()));
            }
            let after = users::get(&name).map(|u| u.channel_rules());
            if before.is_none() || before == after {
                return Step::Done(Frame::Ok);
            }
            // Its channels changed: subscribers it may no longer have must
            // not go on hearing them (Redis closes such connections too).
            let world = ctx.world.clone();
            Step::Async(Box::pin(async move {
                kill_users(&world, vec![name], true).await;
                Frame::Ok
            }))
        }
        "getuser" => Step::Done(getuser(&text(&a[2]))),
        "deluser" => {
            let names: Vec<String> = a[2..].iter().map(text).collect();
            match users::del_users(&names) {
                Ok(n) => {
                    let world = ctx.world.clone();
                    Step::Async(Box::pin(async move {
                        kill_users(&world, names, false).await;
                        Frame::Int(n as i64)
                    }))
                }
                Err(e) => Step::Done(Frame::Error(e.into())),
            }
        }
        "cat" => Step::Done(cat(ctx, a)),
        "genpass" => Step::Done(genpass(a)),
        "dryrun" => Step::Done(dryrun(ctx, a)),
        "log" => Step::Done(acl_log(a)),
        "save" => save(ctx),
        "load" => load(ctx),
        _ => Step::Done(help_reply(HELP)),
    }
}

/// Close every connection, on every core, logged in as one of `names`
/// (only those with a subscription, when `subscribed`).
async fn kill_users(world: &Rc<crate::core::world::World>, names: Vec<String>, subscribed: bool) {
    for name in names {
        let filter = KillFilter {
            user: Some(name),
            subscribed,
            ..KillFilter::default()
        };
        world.broadcast_task(CoreTask::Kill(filter)).await;
    }
}

fn getuser(name: &str) -> Frame {
    let Some(u) = users::get(name) else {
        return Frame::Null;
    };
    let rules = |s: &rules::Selector| {
        vec![
            (Frame::bulk("commands"), Frame::bulk(s.describe_commands())),
            (Frame::bulk("keys"), Frame::bulk(s.describe_keys())),
            (Frame::bulk("channels"), Frame::bulk(s.describe_channels())),
        ]
    };
    let mut fields = vec![
        (
            Frame::bulk("flags"),
            Frame::Array(u.flags().iter().map(|f| Frame::bulk(*f)).collect()),
        ),
        (
            Frame::bulk("passwords"),
            Frame::Array(u.passwords.iter().map(Frame::bulk).collect()),
        ),
    ];
    fields.extend(rules(&u.root));
    fields.push((
        Frame::bulk("selectors"),
        Frame::Array(u.selectors.iter().map(|s| Frame::Map(rules(s))).collect()),
    ));
    Frame::Map(fields)
}

fn cat(ctx: &Ctx, a: &[Bytes]) -> Frame {
    let Some(name) = a.get(2) else {
        return Frame::Array(
            catalog::CATEGORIES
                .iter()
                .map(|c| Frame::bulk(*c))
                .collect(),
        );
    };
    let Some(set) = catalog::category(&text(name)) else {
        return Frame::Error(format!("ERR Unknown category '{}'", clip(name)).into());
    };
    let cat = categories::catalog(ctx.table);
    Frame::Array(
        cat.in_category(set)
            .map(|id| Frame::bulk(cat.name(id)))
            .collect(),
    )
}

fn genpass(a: &[Bytes]) -> Frame {
    let bits = match a.get(2) {
        None => 256,
        Some(b) => match int_arg(b) {
            Ok(n) if (1..=4096).contains(&n) => n as usize,
            _ => {
                return Frame::err(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                )
            }
        },
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    if let Err(e) = getrandom::getrandom(&mut bytes) {
        return Frame::Error(format!("ERR cannot read random bytes: {e}").into());
    }
    let mut hex = rules::hex(&bytes);
    hex.truncate(chars);
    Frame::bulk(hex)
}

fn dryrun(ctx: &Ctx, a: &[Bytes]) -> Frame {
    let name = text(&a[2]);
    let Some(user) = users::get(&name) else {
        return Frame::Error(format!("ERR User '{}' not found", clip(&a[2])).into());
    };
    let Some(spec) = (ctx.table.lookup)(&a[3]) else {
        return Frame::Error(format!("ERR Command '{}' not found", clip(&a[3])).into());
    };
    let args = &a[3..];
    if !super::context::arity_ok(spec.arity, args.len()) {
        return Frame::Error(
            format!("ERR wrong number of arguments for '{}' command", spec.name).into(),
        );
    }
    match permit::check_user(&user, ctx.table, spec, args) {
        Ok(()) => Frame::Ok,
        Err(r) => Frame::bulk(permit::message(&user.name, &r, true)),
    }
}

fn acl_log(a: &[Bytes]) -> Frame {
    let count = match a.get(2) {
        None => None,
        Some(x) if is(x, "RESET") => {
            log::reset();
            return Frame::Ok;
        }
        Some(x) => match int_arg(x) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Frame::err("ERR value is out of range, must be positive"),
        },
    };
    Frame::Array(
        log::entries(count)
            .into_iter()
            .map(|e| {
                Frame::Map(vec![
                    (Frame::bulk("count"), Frame::Int(e.count as i64)),
                    (Frame::bulk("reason"), Frame::bulk(e.reason)),
                    (Frame::bulk("context"), Frame::bulk(e.context)),
                    (Frame::bulk("object"), Frame::bulk(&e.object)),
                    (Frame::bulk("username"), Frame::bulk(&e.username)),
                    (Frame::bulk("age-seconds"), Frame::Double(e.age_seconds())),
                    (Frame::bulk("client-info"), Frame::bulk(&e.client_info)),
                    (Frame::bulk("entry-id"), Frame::Int(e.entry_id as i64)),
                    (
                        Frame::bulk("timestamp-created"),
                        Frame::Int(e.created_ms as i64),
                    ),
                    (
                        Frame::bulk("timestamp-last-updated"),
                        Frame::Int(e.updated_ms as i64),
                    ),
                ])
            })
            .collect(),
    )
}

const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL SAVE: every user into the aclfile, through a temporary file renamed
/// in place (a crash leaves the old file or the new one, never half).
fn save(ctx: &Ctx) -> Step {
    let Some(path) = ctx.world.config.borrow().aclfile.clone() else {
        return Step::Done(Frame::err(NO_FILE));
    };
    let mut body = users::lines().join("\n");
    body.push('\n');
    Step::Async(Box::pin(async move {
        let shown = path.display().to_string();
        let wrote = crate::runtime::task::blocking(move || write_atomically(&path, &body)).await;
        match wrote {
            Ok(()) => Frame::Ok,
            Err(e) => {
                tracing::warn!(file = %shown, error = %e, "ACL SAVE failed");
                Frame::err("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
            }
        }
    }))
}

fn write_atomically(path: &std::path::Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// ACL LOAD: replace every user by the aclfile's, all or nothing; a user
/// gone or changed has its connections closed, as Redis does.
fn load(ctx: &Ctx) -> Step {
    let Some(path) = ctx.world.config.borrow().aclfile.clone() else {
        return Step::Done(Frame::err(NO_FILE));
    };
    let world = ctx.world.clone();
    Step::Async(Box::pin(async move {
        // Off the core's thread.
        let new = match crate::runtime::task::blocking(move || users::load_file(&path)).await {
            Ok(u) => u,
            Err(e) => return Frame::Error(format!("ERR {e}").into()),
        };
        let before = users::all();
        let gone: Vec<String> = before
            .iter()
            .filter(|u| new.get(&u.name).is_none_or(|n| n != &***u) && u.name != "default")
            .map(|u| u.name.clone())
            .collect();
        users::replace(new);
        kill_users(&world, gone, false).await;
        Frame::Ok
    }))
}
