//! Functions (Redis 7): FUNCTION LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE,
//! KILL, STATS and HELP, and FCALL / FCALL_RO, with Redis's replies and
//! errors. A library is Lua code that starts with `#!lua name=<library>` and
//! registers its functions with `redis.register_function`; its code and
//! declarations live in one store for the server (`core::functions`), and
//! each core compiles a library the first time one of its functions is
//! called there (`lua::Engine::function`). A function runs exactly as an
//! EVAL does — holding its KEYS like a transaction across cores, under the
//! busy-script watchdog — with `(keys, args)` as its arguments; a function
//! flagged `no-writes` runs read-only, and only such functions may be called
//! with FCALL_RO.
//!
//! It never keeps a library anywhere but the store: snapshots and the logs'
//! side file save the store, and a restart reads libraries back through
//! [`read_library`], which the server installs in the store at start.

use super::{call, lua, Code, Script};
use crate::command::context::{help_reply, subcommand, Ctx, Step};
use crate::command::frame::Frame;
use crate::core::functions::{self, Clash, Func, Library, Mode, FLAG_NAMES, NO_WRITES};
use bytes::Bytes;

pub fn fcall(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    fcall_generic(ctx, a, false)
}

pub fn fcall_ro(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    fcall_generic(ctx, a, true)
}

fn fcall_generic(ctx: &mut Ctx, a: &[Bytes], ro: bool) -> Step {
    let Some((lib, f)) = std::str::from_utf8(&a[1]).ok().and_then(functions::find) else {
        return Step::Done(Frame::err("ERR Function not found"));
    };
    let read_only = f.flags & NO_WRITES != 0;
    if ro && !read_only {
        return Step::Done(Frame::err(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    if crate::command::args::int_arg(&a[2]).is_err() {
        return Step::Done(Frame::err("ERR Bad number of keys provided"));
    }
    let (keys, argv) = match super::keys_and_args(a) {
        Ok(split) => split,
        Err(e) => return Step::Done(e),
    };
    let command = if ro { "fcall_ro" } else { "fcall" };
    let code = Code::Function {
        lib,
        name: f.name,
        command,
    };
    Step::Async(Box::pin(
        Script::new(ctx, code, keys, argv, read_only).run(),
    ))
}

/// A library's name from its `#!<engine> name=<name>` line, with Redis's errors.
fn metadata(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(n) => name = Some(n.to_string()),
            None => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok(name)
}

/// A library's declarations, read by running its code in this thread's
/// engine (`core::functions::Reader`: FUNCTION LOAD and RESTORE use it, and
/// so does a restart that finds libraries in a snapshot or the logs).
pub fn read_library(code: &Bytes) -> Result<Library, String> {
    let name = metadata(code)?;
    let engine = lua::engine(call::hooks)?;
    let registered = engine.load_library(&lua::blank_first_line(code))?;
    let functions = registered
        .into_iter()
        .map(|r| Func {
            name: r.name,
            description: r.description,
            flags: FLAG_NAMES
                .iter()
                .filter(|(n, _)| r.flags.iter().any(|f| f == n))
                .fold(0, |bits, (_, b)| bits | b),
        })
        .collect();
    Ok(Library {
        name,
        code: code.clone(),
        functions,
        version: functions::new_version(),
    })
}

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("load", -3),
    ("delete", 3),
    ("flush", -2),
    ("list", -2),
    ("dump", 2),
    ("restore", -3),
    ("kill", 2),
    ("stats", 2),
    ("help", 2),
];

pub fn function(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let sub = match subcommand("function", a, SUBCOMMANDS) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    let reply = match sub {
        "load" => load(&a[2..]),
        "delete" => match functions::delete(&String::from_utf8_lossy(&a[2])) {
            true => Frame::Ok,
            false => Frame::err("ERR Library not found"),
        },
        "flush" => {
            if !super::flush_mode_ok(a) {
                Frame::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            } else {
                functions::flush();
                Frame::Ok
            }
        }
        "list" => list(&a[2..]),
        "dump" => {
            let codes = functions::codes();
            Frame::Bulk(crate::persist::rdb::dump_functions(codes.iter().map(|c| &c[..])).into())
        }
        "restore" => restore(&a[2..]),
        "kill" => super::busy::kill(),
        "stats" => stats(),
        _ => help_reply(&[
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Print this help.",
        ]),
    };
    match sub {
        "load" | "delete" | "flush" | "restore" => saved(ctx, reply),
        _ => Step::Done(reply),
    }
}

/// A change's reply, once the libraries' file beside the logs holds it
/// (`core::functions::file_path`), when the logs are on: a restart from the
/// logs finds every library a reply acknowledged.
fn saved(ctx: &Ctx, reply: Frame) -> Step {
    let path = {
        let c = ctx.world.config.borrow();
        if matches!(reply, Frame::Error(_)) || !c.appendonly {
            return Step::Done(reply);
        }
        functions::file_path(&c.aof_dir(), &c.appendfilename)
    };
    Step::Async(Box::pin(async move {
        let shown = path.display().to_string();
        match crate::runtime::task::blocking(move || crate::core::snapshot::save_functions(&path))
            .await
        {
            Ok(()) => reply,
            Err(e) => {
                tracing::warn!(error = %e, file = %shown, "function libraries not saved");
                Frame::Error(
                    format!("ERR the libraries changed but could not be saved: {e}").into(),
                )
            }
        }
    }))
}

/// FUNCTION LOAD [REPLACE] code.
fn load(args: &[Bytes]) -> Frame {
    let (code, options) = args.split_last().expect("arity checked");
    let mut mode = Mode::Refuse;
    for o in options {
        if o.eq_ignore_ascii_case(b"REPLACE") {
            mode = Mode::Replace;
        } else {
            return Frame::Error(
                format!("ERR Unknown option given: {}", String::from_utf8_lossy(o)).into(),
            );
        }
    }
    let lib = match read_library(code) {
        Ok(lib) => lib,
        Err(e) => return Frame::Error(e.into()),
    };
    let name = lib.name.clone();
    match functions::insert(vec![lib], mode) {
        Ok(()) => Frame::bulk(name),
        Err(Clash::Library(l)) => Frame::Error(format!("ERR Library '{l}' already exists").into()),
        Err(Clash::Function(f)) => Frame::Error(format!("ERR Function {f} already exists").into()),
    }
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
fn list(args: &[Bytes]) -> Frame {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"WITHCODE") && !with_code {
            with_code = true;
        } else if a.eq_ignore_ascii_case(b"LIBRARYNAME") && pattern.is_none() {
            i += 1;
            match args.get(i) {
                Some(p) => pattern = Some(p.clone()),
                None => return Frame::err("ERR library name argument was not given"),
            }
        } else {
            return Frame::Error(
                format!("ERR Unknown argument {}", String::from_utf8_lossy(a)).into(),
            );
        }
        i += 1;
    }
    let pair = |k: &'static str, v: Frame| (Frame::simple(k), v);
    let libs = functions::all()
        .into_iter()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::storage::glob::glob_match(p, l.name.as_bytes()))
        })
        .map(|l| {
            let fns = l
                .functions
                .iter()
                .map(|f| {
                    Frame::Map(vec![
                        pair("name", Frame::bulk(&f.name)),
                        pair(
                            "description",
                            f.description.as_ref().map_or(Frame::Null, Frame::bulk),
                        ),
                        pair(
                            "flags",
                            Frame::Set(
                                FLAG_NAMES
                                    .iter()
                                    .filter(|(_, b)| f.flags & b != 0)
                                    .map(|(n, _)| Frame::simple(n))
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                pair("library_name", Frame::bulk(&l.name)),
                pair("engine", Frame::bulk("LUA")),
                pair("functions", Frame::Array(fns)),
            ];
            if with_code {
                fields.push(pair("library_code", Frame::Bulk(l.code.clone())));
            }
            Frame::Map(fields)
        })
        .collect();
    Frame::Array(libs)
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn restore(args: &[Bytes]) -> Frame {
    use crate::persist::rdb::RestoreFunctions as Bad;
    let mode =
        match args.get(1) {
            None => Mode::Refuse,
            Some(p) if args.len() == 2 && p.eq_ignore_ascii_case(b"APPEND") => Mode::Refuse,
            Some(p) if args.len() == 2 && p.eq_ignore_ascii_case(b"REPLACE") => Mode::Replace,
            Some(p) if args.len() == 2 && p.eq_ignore_ascii_case(b"FLUSH") => Mode::Flush,
            Some(_) => return Frame::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match crate::persist::rdb::restore_functions(&args[0]) {
        Ok(codes) => codes,
        Err(Bad::VersionOrChecksum) => {
            return Frame::err("ERR DUMP payload version or checksum are wrong")
        }
        Err(Bad::NotFunction) => return Frame::err("ERR given type is not a function"),
        Err(Bad::Format) => return Frame::err("ERR Bad data format"),
    };
    let mut libs = Vec::with_capacity(codes.len());
    for code in codes {
        match read_library(&Bytes::from(code)) {
            Ok(lib) => libs.push(lib),
            Err(e) => return Frame::Error(e.into()),
        }
    }
    match functions::insert(libs, mode) {
        Ok(()) => Frame::Ok,
        Err(Clash::Library(l)) => Frame::Error(format!("ERR Library {l} already exists").into()),
        Err(Clash::Function(f)) => Frame::Error(format!("ERR Function {f} already exists").into()),
    }
}

/// FUNCTION STATS: the function busy past `busy-reply-threshold`, if any
/// (the only one another client can see running, as in Redis), and the
/// engine's counts.
fn stats() -> Frame {
    let (libraries, fns) = functions::counts();
    let running = match super::busy::running_function() {
        Some((name, command, ms)) => Frame::Map(vec![
            (Frame::simple("name"), Frame::bulk(name)),
            (
                Frame::simple("command"),
                Frame::Array(command.into_iter().map(Frame::Bulk).collect()),
            ),
            (Frame::simple("duration_ms"), Frame::Int(ms as i64)),
        ]),
        None => Frame::Null,
    };
    Frame::Map(vec![
        (Frame::simple("running_script"), running),
        (
            Frame::simple("engines"),
            Frame::Map(vec![(
                Frame::bulk("LUA"),
                Frame::Map(vec![
                    (
                        Frame::simple("libraries_count"),
                        Frame::Int(libraries as i64),
                    ),
                    (Frame::simple("functions_count"), Frame::Int(fns as i64)),
                ]),
            )]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_are_redis_texts() {
        assert_eq!(metadata(b"#!lua name=lib1\nx").as_deref(), Ok("lib1"));
        assert_eq!(metadata(b"#!LUA  name=a_1 \nx").as_deref(), Ok("a_1"));
        let err = |c: &[u8]| metadata(c).unwrap_err();
        assert_eq!(err(b"return 1"), "ERR Missing library metadata");
        assert_eq!(err(b"#!lua name=a"), "ERR Invalid library metadata");
        assert_eq!(err(b"#!js name=a\n"), "ERR Engine 'js' not found");
        assert_eq!(
            err(b"#!lua name=a b=c\n"),
            "ERR Invalid metadata value given: b=c"
        );
        assert_eq!(err(b"#!lua\n"), "ERR Library name was not given");
        assert!(err(b"#!lua name=a-b\n").starts_with("ERR Library names can only"));
    }
}
