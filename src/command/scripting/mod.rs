//! The scripting family: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! (LOAD, EXISTS, FLUSH, KILL, HELP), with Redis's replies and errors.
//!
//! A script runs on the core of the connection that sent it, in a Lua
//! coroutine of that core's engine (`lua`). Before it starts, it holds the
//! keys it declares in KEYS exactly as a MULTI/EXEC does (`core::txn`'s
//! `hold_keys`: intent locks, core by core in ascending order), so no other
//! client sees it half-done, whichever cores the keys live on; commands on
//! other keys never wait for it. Its `redis.call`s run inside that
//! transaction (`call`); one on a key of another core suspends the script's
//! coroutine until that core answers, while this core serves others. Inside
//! MULTI an EVAL runs in the transaction's own locks.
//!
//! Scripts are kept by SHA-1 in one store for the whole server (SCRIPT LOAD on
//! any core makes EVALSHA work on every core); each core compiles a script
//! once and keeps the compiled function until SCRIPT FLUSH.
//!
//! A script that loops in Lua without calling Redis does not keep its core
//! from others: every millisecond or so its coroutine gives the core's other
//! clients a turn, its keys still held (`busy`). Past `busy-reply-threshold`
//! (5 s by default) whoever waits for one of its keys, on any core, is
//! answered `-BUSY` (Redis answers every client so), and SCRIPT KILL from any
//! connection stops it unless it has written.

pub mod busy;
pub mod call;
pub mod function;
pub mod libs;
pub mod lua;
pub mod lua_struct;
pub mod msgpack;

use super::context::{subcommand, Ctx, Step, Table};
use super::frame::Frame;
use crate::core::world::World;
use bytes::Bytes;
use call::ScriptRun;
use mlua::Value;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Every script sent by EVAL or SCRIPT LOAD, by SHA-1 (lower-case hex).
fn store() -> &'static Mutex<HashMap<String, Bytes>> {
    static STORE: OnceLock<Mutex<HashMap<String, Bytes>>> = OnceLock::new();
    STORE.get_or_init(Default::default)
}

/// Bumped by SCRIPT FLUSH: each core's compiled scripts of an older generation are stale.
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn remember(sha: &str, body: &Bytes) {
    let mut s = store().lock().unwrap_or_else(|e| e.into_inner());
    s.entry(sha.to_string()).or_insert_with(|| body.clone());
}

fn recall(sha: &[u8]) -> Option<(String, Bytes)> {
    let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
    let s = store().lock().unwrap_or_else(|e| e.into_inner());
    s.get(&sha).map(|b| (sha, b.clone()))
}

pub fn eval(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    eval_generic(ctx, a, false, false)
}

pub fn evalsha(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    eval_generic(ctx, a, true, false)
}

pub fn eval_ro(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    eval_generic(ctx, a, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx, a: &[Bytes]) -> Step {
    eval_generic(ctx, a, true, true)
}

fn eval_generic(ctx: &mut Ctx, a: &[Bytes], by_sha: bool, read_only: bool) -> Step {
    let (keys, argv) = match keys_and_args(a) {
        Ok(split) => split,
        Err(f) => return Step::Done(f),
    };
    let (sha, body) = if by_sha {
        match recall(&a[1]) {
            Some(found) => found,
            None => return Step::Done(Frame::err("NOSCRIPT No matching script. Please use EVAL.")),
        }
    } else {
        if let Err(e) = shebang(&a[1]) {
            return Step::Done(Frame::Error(e.into()));
        }
        let sha = lua::sha1_hex(&a[1]);
        // Compiled here in this generation means it is in the store already.
        let known = lua::engine(call::hooks)
            .is_ok_and(|e| e.knows(&sha, GENERATION.load(Ordering::Relaxed)));
        if !known {
            remember(&sha, &a[1]);
        }
        (sha, a[1].clone())
    };
    // Redis 7's `#!lua flags=...`: `no-writes` makes the script read-only,
    // and a script with a shebang may run under *_RO only with it.
    let read_only = match shebang(&body) {
        Err(e) => return Step::Done(Frame::Error(e.into())),
        Ok(None) => read_only,
        Ok(Some(flags)) => {
            let no_writes = flags & crate::core::functions::NO_WRITES != 0;
            if read_only && !no_writes {
                return Step::Done(Frame::err(
                    "ERR Can not execute a script with write flag using *_ro command.",
                ));
            }
            no_writes
        }
    };
    Step::Async(Box::pin(
        Script::new(ctx, Code::Eval { sha, body }, keys, argv, read_only).run(),
    ))
}

/// A script's `#!lua [flags=a,b]` line (Redis 7): its flags as
/// `core::functions` bits, None without one, or Redis's error.
fn shebang(body: &[u8]) -> Result<Option<u8>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let end = body
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("ERR Invalid script shebang")?;
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut bits = 0;
    for part in parts {
        let Some(flags) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            let (_, bit) = crate::core::functions::FLAG_NAMES
                .iter()
                .find(|(n, _)| *n == flag)
                .ok_or_else(|| format!("ERR Unexpected flag in script shebang: {flag}"))?;
            bits |= bit;
        }
    }
    Ok(Some(bits))
}

/// EVAL's and FCALL's `numkeys key... arg...` (from `a[2]`), with Redis's errors.
fn keys_and_args(a: &[Bytes]) -> Result<(Vec<Bytes>, Vec<Bytes>), Frame> {
    let n = super::args::int_arg(&a[2])?;
    if n < 0 {
        return Err(Frame::err("ERR Number of keys can't be negative"));
    }
    if n as usize > a.len() - 3 {
        return Err(Frame::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let n = n as usize;
    Ok((a[3..3 + n].to_vec(), a[3 + n..].to_vec()))
}

/// What a run runs: an EVAL's script, or a function of a library.
enum Code {
    Eval {
        sha: String,
        body: Bytes,
    },
    Function {
        lib: std::sync::Arc<crate::core::functions::Library>,
        name: String,
        /// FCALL or FCALL_RO, for FUNCTION STATS.
        command: &'static str,
    },
}

impl Script {
    fn new(ctx: &Ctx, code: Code, keys: Vec<Bytes>, argv: Vec<Bytes>, read_only: bool) -> Script {
        Script {
            world: ctx.world.clone(),
            table: ctx.table,
            code,
            keys,
            argv,
            tx: ctx.batch.tx(),
            // Inside MULTI the script runs at the transaction's frozen clock.
            now: if ctx.batch.tx() != 0 {
                ctx.batch.now()
            } else {
                0
            },
            read_only,
            user: ctx.client.user.clone(),
        }
    }
}

struct Script {
    world: Rc<World>,
    table: &'static Table,
    code: Code,
    keys: Vec<Bytes>,
    argv: Vec<Bytes>,
    /// The transaction this EVAL runs in (inside MULTI), or 0.
    tx: u64,
    /// That transaction's frozen clock (0: none).
    now: u64,
    read_only: bool,
    /// The caller's ACL user: every `redis.call` is checked against it.
    user: std::sync::Arc<crate::command::acl::rules::User>,
}

impl Script {
    async fn run(self) -> Frame {
        let engine = match lua::engine(call::hooks) {
            Ok(e) => e,
            Err(e) => return Frame::Error(e.into()),
        };
        let func = match &self.code {
            Code::Eval { sha, body } => {
                engine.compile(sha, body, GENERATION.load(Ordering::Relaxed))
            }
            Code::Function { lib, name, .. } => engine.function(lib, name),
        };
        let func = match func {
            Ok(f) => f,
            Err(e) => return Frame::Error(e.into()),
        };
        // Its keys start loading now, as a pipeline's do (`dispatch`): the
        // script reaches them one `redis.call` at a time.
        self.world
            .keyspace
            .borrow()
            .prefetch_keys(self.keys.iter().map(|k| &k[..]));
        // The script's keys, held like a transaction's (unless it runs in
        // one) — or, when they are all this core's and free, taken only if the
        // script ever has to wait (`ScriptRun::call`): until then nothing else
        // runs on this core, so nothing can see it half-done.
        let w = &self.world;
        let here = self.tx == 0 && w.keys_free_here(&self.keys, 0);
        let hold = if self.tx == 0 && !self.keys.is_empty() && !here {
            match self.world.hold_keys(self.keys.clone(), false, None).await {
                Ok((hold, _)) => Some(hold),
                Err(_) => return super::transactions::busy_reply(),
            }
        } else {
            None
        };
        // A script without locks still logs its writes as one transaction's
        // (`persist::log`): it may give its core turns, and the log is
        // written meanwhile. Without logs it runs as before, under no id.
        let tx = match &hold {
            Some(h) => {
                h.log_end(false);
                h.tx
            }
            None if here && w.aof.on.get() => w.new_tx(),
            None => self.tx,
        };
        let declared: HashSet<Bytes> = self.keys.iter().cloned().collect();
        // Time stands still for the script from here (Redis 7's rule).
        let now = crate::core::txn::clock(self.now);
        let run = Rc::new(ScriptRun::new(
            self.world.clone(),
            self.table,
            tx,
            declared,
            self.read_only,
            now,
            self.user.clone(),
        ));
        if here && !self.keys.is_empty() {
            run.hold_before_waiting(self.keys.clone());
        }
        if let Code::Function { name, command, .. } = &self.code {
            let mut line = vec![
                Bytes::from_static(command.as_bytes()),
                Bytes::from(name.clone()),
                Bytes::from(self.keys.len().to_string()),
            ];
            line.extend(self.keys.iter().chain(&self.argv).cloned());
            run.watchdog.label(name.clone(), line);
        }
        let result = self.call(&engine, func, run.clone()).await;
        run.watchdog.finish();
        let taken = run.taken();
        if here && taken.is_none() && tx != 0 {
            // It never took its keys: its one core logs its end now.
            if run.wrote.get() {
                self.world.log_tx_end(tx, 1);
            }
            self.world.busy_txs.borrow_mut().remove(&tx);
        }
        for hold in [taken, hold].into_iter().flatten() {
            hold.log_end(run.wrote.get());
            self.world.finish_hold(hold).await;
        }
        match result {
            Ok(v) => lua::lua_to_frame(&v, 0),
            Err(e) => Frame::Error(script_error(&e, self.code.name()).into()),
        }
    }

    async fn call(
        &self,
        engine: &lua::Engine,
        func: mlua::Function,
        run: Rc<ScriptRun>,
    ) -> mlua::Result<Value> {
        let l = &engine.lua;
        let registered = call::Registered::new(run.clone());
        let strings = |v: &[Bytes]| -> mlua::Result<mlua::Table> {
            let t = l.create_table_with_capacity(v.len(), 0)?;
            for (i, s) in v.iter().enumerate() {
                t.raw_set(i + 1, l.create_string(&s[..])?)?;
            }
            Ok(t)
        };
        let (keys, argv) = (strings(&self.keys)?, strings(&self.argv)?);
        let thread = l.create_thread(func)?;
        busy::watch(&thread);
        let watched: Rc<dyn busy::Watched> = run;
        // A script gets its own `redis`; a function reaches the run through
        // the one being driven (`call::driving`).
        use mlua::IntoLuaMulti;
        let args = match self.code {
            Code::Eval { .. } => {
                (keys, argv, engine.make_redis(registered.0)?).into_lua_multi(l)?
            }
            Code::Function { .. } => (keys, argv).into_lua_multi(l)?,
        };
        let coroutine = thread.into_async::<Value>(args);
        let result = call::driving(registered.0, busy::drive(watched, coroutine)).await;
        drop(registered);
        result
    }
}

impl Code {
    /// What an error names: the script's SHA-1, or the function's name.
    fn name(&self) -> &str {
        match self {
            Code::Eval { sha, .. } => sha,
            Code::Function { name, .. } => name,
        }
    }
}

/// The reply for a script that failed: its error (a Redis error raised by
/// `redis.call` keeps its code; a Lua error is an ERR), with the script named.
fn script_error(e: &mlua::Error, sha: &str) -> String {
    let text = match e {
        mlua::Error::CallbackError { cause, .. } => cause.to_string(),
        e => e.to_string(),
    };
    let text = lua::one_line(&text);
    let coded = text
        .split(' ')
        .next()
        .is_some_and(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_uppercase()));
    if coded {
        format!("{text} script: {sha}")
    } else {
        format!("ERR {text} script: {sha}")
    }
}

/// SCRIPT FLUSH's and FUNCTION FLUSH's `[ASYNC|SYNC]` (both flush at once).
fn flush_mode_ok(a: &[Bytes]) -> bool {
    a.len() <= 3
        && a.get(2)
            .is_none_or(|m| m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC"))
}

const SCRIPT_SUBCOMMANDS: &[(&str, i32)] = &[
    ("load", 3),
    ("exists", -3),
    ("flush", -2),
    ("kill", 2),
    ("help", 2),
];

pub fn script(_ctx: &mut Ctx, a: &[Bytes]) -> Step {
    let sub = match subcommand("script", a, SCRIPT_SUBCOMMANDS) {
        Ok(s) => s,
        Err(f) => return Step::Done(f),
    };
    Step::Done(match sub {
        "load" if shebang(&a[2]).is_err() => {
            Frame::Error(shebang(&a[2]).err().unwrap_or_default().into())
        }
        "load" => {
            let sha = lua::sha1_hex(&a[2]);
            match lua::engine(call::hooks)
                .and_then(|e| e.compile(&sha, &a[2], GENERATION.load(Ordering::Relaxed)))
            {
                Ok(_) => {
                    remember(&sha, &a[2]);
                    Frame::bulk(sha)
                }
                Err(e) => Frame::Error(e.into()),
            }
        }
        "exists" => Frame::Array(
            a[2..]
                .iter()
                .map(|s| Frame::Int(recall(s).is_some() as i64))
                .collect(),
        ),
        "flush" => {
            if !flush_mode_ok(a) {
                Frame::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            } else {
                store().lock().unwrap_or_else(|e| e.into_inner()).clear();
                GENERATION.fetch_add(1, Ordering::Relaxed);
                Frame::Ok
            }
        }
        "kill" => busy::kill(),
        _ => super::context::help_reply(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Print this help.",
        ]),
    })
}
