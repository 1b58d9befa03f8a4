//! `redis.call` and `redis.pcall`: one command run from a script, as Redis's
//! scripting client runs it — through the command table, on a client of its
//! own (the caller's connection state is never touched), inside the script's
//! transaction (its ops pass the script's own locks). Redis's refusals come
//! first: unknown commands, wrong arity, commands flagged `noscript`, writes
//! from a read-only script (EVAL_RO), and keys the script did not declare in
//! KEYS (they are not locked, so touching them could not be atomic). It never
//! takes a lock itself.

use super::lua::frame_to_lua;
use crate::command::acl::permit;
use crate::command::context::{arity_ok, ClientState, CommandSpec, Ctx, Reply, Step, Table};
use crate::command::frame::Frame;
use crate::command::keyspec::command_keys;
use crate::command::observe::{self, Watch};
use crate::core::clients::Door;
use crate::core::router::Batch;
use crate::core::txn::Hold;
use crate::core::world::World;
use bytes::Bytes;
use mlua::{Function, Lua, Value, Variadic};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Commands a script may not run on stairkv although Redis lets it: they
/// would have to hold every core whole while the script holds its keys.
fn over_everything_write(name: &str) -> bool {
    matches!(
        name,
        "flushall" | "flushdb" | "bgsave" | "bgrewriteaof" | "stairkv"
    )
}

/// What one running script's `redis.call` knows.
pub struct ScriptRun {
    pub world: Rc<World>,
    pub table: &'static Table,
    /// The transaction holding the script's keys (0 while it holds none).
    tx: Cell<u64>,
    /// Keys to take before the script first waits (it started without locks).
    take_before_waiting: RefCell<Option<Vec<Bytes>>>,
    /// What the script took then.
    held: RefCell<Option<Hold>>,
    pub declared: Rc<HashSet<Bytes>>,
    pub read_only: bool,
    /// A write command ran (SCRIPT KILL refuses to stop such a script).
    pub wrote: Cell<bool>,
    /// `redis.setresp(3)` was called.
    pub resp3: Cell<bool>,
    /// The script's frozen clock (milliseconds): its commands all run at it.
    now: u64,
    /// Its clock for `busy-reply-threshold` and its turns (`super::busy`).
    pub watchdog: super::busy::Watchdog,
    client: RefCell<ClientState>,
}

impl ScriptRun {
    pub fn new(
        world: Rc<World>,
        table: &'static Table,
        tx: u64,
        declared: HashSet<Bytes>,
        read_only: bool,
        now: u64,
        user: std::sync::Arc<crate::command::acl::rules::User>,
    ) -> ScriptRun {
        let mut client = ClientState::new(0, "lua".into(), String::new(), Door::Resp);
        client.name = "lua".into();
        client.authed = true;
        client.user = user;
        // Nothing a script runs may block (Redis's rule): BLMPOP answers at once.
        client.executing = true;
        let declared = Rc::new(declared);
        client.script_keys = Some(declared.clone());
        let threshold = world.config.borrow().busy_reply_threshold;
        let watchdog = super::busy::Watchdog::new(world.id, threshold);
        ScriptRun {
            world,
            table,
            tx: Cell::new(tx),
            take_before_waiting: RefCell::new(None),
            held: RefCell::new(None),
            declared,
            read_only,
            wrote: Cell::new(false),
            resp3: Cell::new(false),
            now,
            watchdog,
            client: RefCell::new(client),
        }
    }

    /// The script runs without locks on keys that are all this core's and
    /// held by nobody: take them if it ever has to wait (a `redis.call` that
    /// cannot run at once), before it waits.
    pub fn hold_before_waiting(&self, keys: Vec<Bytes>) {
        *self.take_before_waiting.borrow_mut() = Some(keys);
    }

    /// The script ended: what it took, to let go of.
    pub fn taken(&self) -> Option<Hold> {
        self.take_before_waiting.borrow_mut().take();
        self.held.borrow_mut().take()
    }

    /// The keys still to take before the script first waits, under a new
    /// transaction that is the script's from now on.
    fn take_keys(&self) -> Option<(u64, Vec<Bytes>)> {
        let keys = self.take_before_waiting.borrow_mut().take()?;
        // Made once (`hold_at_once` may have made it and failed to take them).
        if self.held.borrow().is_none() {
            // Under the id its writes were logged with so far.
            let tx = match self.tx.get() {
                0 => self.world.new_tx(),
                tx => tx,
            };
            let hold = Hold::new(self.world.clone(), tx);
            hold.log_end(false);
            hold.cores.borrow_mut().push(self.world.id);
            self.tx.set(hold.tx);
            *self.held.borrow_mut() = Some(hold);
        }
        Some((self.tx.get(), keys))
    }

    /// About to wait for the first time: hold the keys now. Nothing ran on
    /// this core since the script started, so nobody holds them and the grant
    /// is immediate.
    async fn hold_now(&self) {
        if let Some((tx, keys)) = self.take_keys() {
            self.world.hold_free_keys(tx, keys).await;
        }
    }

    /// Redis's refusals of a command from a script, or its table entry.
    fn check(&self, args: &[Bytes]) -> Result<&'static CommandSpec, Frame> {
        if args.is_empty() {
            return Err(Frame::err(
                "ERR Please specify at least one argument for this redis lib call",
            ));
        }
        let Some(spec) = (self.table.lookup)(&args[0]) else {
            return Err(Frame::err("ERR Unknown Redis command called from script"));
        };
        if !arity_ok(spec.arity, args.len()) {
            return Err(Frame::err(
                "ERR Wrong number of args calling Redis command from script",
            ));
        }
        if spec.flags.contains(&"noscript") || over_everything_write(spec.name) {
            return Err(Frame::err(
                "ERR This Redis command is not allowed from script",
            ));
        }
        if spec.flags.contains(&"write") && self.read_only {
            return Err(Frame::err(
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        // As the calling user, Redis 7.2's text.
        let client = self.client.borrow();
        if let Err(r) = permit::check_user(&client.user, self.table, spec, args) {
            permit::log_refusal(&self.world, &client, &r, permit::Context::Lua);
            return Err(Frame::Error(
                format!(
                    "ERR ACL failure in script: {}",
                    permit::message(&client.user.name, &r, false)
                )
                .into(),
            ));
        }
        Ok(spec)
    }

    /// Run one command for the script and answer its reply (errors as `Frame::Error`).
    pub async fn call(&self, args: Vec<Bytes>) -> Frame {
        let spec = match self.check(&args) {
            Ok(spec) => spec,
            Err(f) => return f,
        };
        let keys = command_keys(spec, &args);
        if keys.iter().any(|k| !self.declared.contains(k)) {
            return undeclared();
        }
        self.hold_now().await;
        let mut watch = self.watch(spec, &args);
        let (step, batch) = self.start(spec, &args);
        let frame = match step {
            Step::Done(f) => f,
            Step::One(t, finish) => finish(batch.finish().await.take(t)),
            Step::Then(t, finish) => finish(batch.finish().await.take(t)).resolve().await,
            Step::Many(ts, finish) => {
                let mut rs = batch.finish().await;
                finish(ts.into_iter().map(|t| rs.take(t)).collect())
            }
            Step::Async(fut) => {
                batch.finish().await;
                fut.await
            }
            Step::Exec => Frame::err("ERR This Redis command is not allowed from script"),
        };
        observe::ran_in_script(&self.world, &mut watch, self.table, spec, &frame);
        frame
    }

    /// Start a command's records: its monitor line now (`lua` as its
    /// address, as Redis), its count and time once answered.
    fn watch(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Watch {
        let watch = Watch::new(&self.world);
        if watch.monitor {
            observe::feed_monitors(&self.world, "lua", spec, args);
        }
        watch
    }

    /// [`Self::call`] without suspending, when the command can run to its end
    /// now: a string or generic key command whose keys are all this core's,
    /// held by no other transaction, with no shard moving here (its ops run
    /// as they are routed). None, having done nothing, when it might have to
    /// wait: the script then suspends in [`Self::call`]. A command that runs
    /// now costs no suspension of the script's coroutine.
    pub fn call_now(&self, args: &[Bytes]) -> Option<Frame> {
        let spec = match self.check(args) {
            Ok(spec) => spec,
            Err(f) => return Some(f),
        };
        let keys = command_keys(spec, args);
        if keys.iter().any(|k| !self.declared.contains(k)) {
            return Some(undeclared());
        }
        let w = &self.world;
        let now = matches!(spec.name, "ping" | "echo" | "time")
            || (matches!(spec.group, "string" | "generic")
                && !matches!(
                    spec.name,
                    "msetnx" | "rename" | "renamenx" | "sort" | "sort_ro"
                )
                && !keys.is_empty()
                && w.keys_free_here(&keys, self.tx.get()));
        if !now {
            return None;
        }
        let mut watch = self.watch(spec, args);
        let (step, mut batch) = self.start(spec, args);
        // Every op ran as it was routed (the conditions above): each result is
        // here. Were one missing, the command must not run a second time.
        let mut ready = |t| batch.take_ready(t).ok_or(());
        let frame = match step {
            Step::Done(f) => Ok(f),
            Step::One(t, finish) => ready(t).map(finish),
            Step::Then(t, finish) => match ready(t).map(finish) {
                Ok(Reply::Now(f)) => Ok(f),
                _ => Err(()),
            },
            Step::Many(ts, finish) => ts
                .into_iter()
                .map(ready)
                .collect::<Result<_, _>>()
                .map(finish),
            Step::Async(_) | Step::Exec => Err(()),
        };
        let frame = frame.unwrap_or_else(|()| {
            tracing::error!(
                command = spec.name,
                "a script's command expected to run at once did not"
            );
            Frame::err("ERR the command could not run at once; retry the script")
        });
        observe::ran_in_script(&self.world, &mut watch, self.table, spec, &frame);
        Some(frame)
    }

    /// Count the command and let its handler build its ops into a batch of
    /// the script's transaction.
    fn start(&self, spec: &'static CommandSpec, args: &[Bytes]) -> (Step, Batch) {
        if spec.flags.contains(&"write") {
            self.wrote.set(true);
        }
        self.world.count_command();
        let mut batch = Batch::for_tx(self.world.clone(), self.tx.get(), self.now);
        let step = {
            let mut client = self.client.borrow_mut();
            let mut ctx = Ctx {
                world: &self.world,
                client: &mut client,
                batch: &mut batch,
                spec,
                table: self.table,
            };
            (spec.handler)(&mut ctx, args)
        };
        (step, batch)
    }
}

impl super::busy::Watched for ScriptRun {
    fn watchdog(&self) -> &super::busy::Watchdog {
        &self.watchdog
    }
    /// [`ScriptRun::hold_now`] without waiting, for the watchdog about to give
    /// others a turn: false (the script must not let anyone in) in the case
    /// that cannot happen, a key of it held by someone else.
    fn hold_at_once(&self) -> bool {
        let Some((tx, keys)) = self.take_keys() else {
            return true;
        };
        if self.world.locks.borrow_mut().force(tx, &keys) {
            return true;
        }
        tracing::error!("a script's free keys were held; it keeps its core");
        // Its next wait asks for them as any request does (`hold_free_keys`).
        *self.take_before_waiting.borrow_mut() = Some(keys);
        false
    }
    fn wrote(&self) -> bool {
        self.wrote.get()
    }
    fn tx(&self) -> u64 {
        self.tx.get()
    }
    fn mark_busy(&self, tx: u64) {
        self.world.mark_busy_everywhere(tx);
    }
}

fn undeclared() -> Frame {
    Frame::err("ERR Script attempted to access a non local key in a cluster node script")
}

thread_local! {
    /// The scripts running on this core, by the id their `redis` closures carry.
    static RUNS: RefCell<HashMap<u64, Rc<ScriptRun>>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(0) };
    /// The run whose coroutine this core is driving now ([`driving`]).
    static DRIVING: Cell<u64> = const { Cell::new(0) };
}

/// Poll `fut` (a run's coroutine) with `id` as the run being driven: a
/// function library's `redis` calls for id 0, whichever run that is (one
/// compiled function serves every run, so it cannot carry an id of its own).
pub async fn driving<F: std::future::Future>(id: u64, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let before = DRIVING.with(|d| d.replace(id));
        let polled = fut.as_mut().poll(cx);
        DRIVING.with(|d| d.set(before));
        polled
    })
    .await
}

/// A running script, findable by `redis.call` until the returned guard drops.
pub struct Registered(pub u64);

impl Registered {
    pub fn new(run: Rc<ScriptRun>) -> Registered {
        let id = NEXT.with(|n| {
            n.set(n.get() + 1);
            n.get()
        });
        RUNS.with(|r| r.borrow_mut().insert(id, run));
        Registered(id)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        RUNS.with(|r| r.borrow_mut().remove(&self.0));
    }
}

fn run_of(id: u64) -> Option<Rc<ScriptRun>> {
    let id = match id {
        0 => DRIVING.with(Cell::get),
        id => id,
    };
    RUNS.with(|r| r.borrow().get(&id).cloned())
}

/// `now_(id, ...)`, `call_(id, ...)` and `setresp_(id, v)` for the engine (`lua::Hooks`).
pub fn hooks(lua: &Lua) -> mlua::Result<(Function, Function, Function)> {
    let call_ =
        lua.create_async_function(|lua, (id, args): (u64, Variadic<Value>)| async move {
            let Some(run) = run_of(id) else {
                return Err(mlua::Error::runtime("redis.call outside its script"));
            };
            let frame = match command_args(&args) {
                Ok(argv) => run.call(argv).await,
                Err(e) => e,
            };
            frame_to_lua(&lua, frame, run.resp3.get())
        })?;
    let now_ = lua.create_function(|lua, (id, args): (u64, Variadic<Value>)| {
        let Some(run) = run_of(id) else {
            return Err(mlua::Error::runtime("redis.call outside its script"));
        };
        let frame = match command_args(&args) {
            Ok(argv) => match run.call_now(&argv) {
                Some(f) => f,
                None => return Ok((false, Value::Nil)),
            },
            Err(e) => e,
        };
        Ok((true, frame_to_lua(lua, frame, run.resp3.get())?))
    })?;
    let setresp_ = lua.create_function(|_, (id, v): (u64, i64)| {
        let Some(run) = run_of(id) else {
            return Err(mlua::Error::runtime("redis.setresp outside its script"));
        };
        match v {
            2 | 3 => {
                run.resp3.set(v == 3);
                Ok(())
            }
            _ => Err(mlua::Error::runtime("RESP version must be 2 or 3.")),
        }
    })?;
    Ok((now_, call_, setresp_))
}

/// A `redis.call`'s arguments as a command: strings as they are, numbers
/// as Lua prints them (integers without a fraction), anything else refused.
/// All of them are copied into one buffer that each argument is a slice of:
/// one allocation per call, not one per argument.
fn command_args(args: &[Value]) -> Result<Vec<Bytes>, Frame> {
    let size: usize = args
        .iter()
        .map(|v| match v {
            Value::String(s) => s.as_bytes().len(),
            _ => 24,
        })
        .sum();
    let mut buf = bytes::BytesMut::with_capacity(size);
    let mut ends = Vec::with_capacity(args.len());
    for v in args {
        match v {
            Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => buf.extend_from_slice(i.to_string().as_bytes()),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                buf.extend_from_slice((*n as i64).to_string().as_bytes())
            }
            Value::Number(n) => buf.extend_from_slice(format!("{n}").as_bytes()),
            _ => {
                return Err(Frame::err(
                    "ERR Lua redis lib command arguments must be strings or integers",
                ))
            }
        }
        ends.push(buf.len());
    }
    let all = buf.freeze();
    let mut start = 0;
    Ok(ends
        .into_iter()
        .map(|end| {
            let arg = all.slice(start..end);
            start = end;
            arg
        })
        .collect())
}
