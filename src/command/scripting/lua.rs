//! The Lua 5.1 engine of one core (as Redis, Lua 5.1, embedded with mlua):
//! the sandbox every script runs in, the compiled-script cache, and the
//! conversions between Redis replies and Lua values both ways, with Redis's
//! rules. It never runs a command itself: `redis.call` reaches the command
//! table through [`super::call`].
//!
//! The sandbox: the base, table, string and math libraries, Redis's `cjson`,
//! `bit` ([`super::libs`]), `cmsgpack` ([`super::msgpack`]) and `struct`
//! ([`super::lua_struct`]), without
//! `loadfile`, `dofile`, `print`, `setfenv`/`getfenv`, `module`/`require` or
//! `os`/`io`; global variables are read-only (`Attempt to modify a readonly
//! table`) and reading a missing one is an error, as in Redis 7.
//!
//! How a script gets its `KEYS`, `ARGV` and `redis`: scripts on one core may be
//! in flight at once (a `redis.call` on a key of another core waits for that
//! core while others run), so they cannot share globals. A script is compiled
//! as a chunk that starts with `local KEYS, ARGV, redis = ...` (on its first
//! line, so line numbers stay the script's), and each run passes its own:
//! its `redis` is a small table of closures over the run's id, made in Lua,
//! around two functions made once per core.
//!
//! Why `pcall` is replaced: a `redis.call` that waits for another core
//! suspends the script's coroutine, and Lua 5.1 cannot suspend across the C
//! function `pcall`. The sandbox's `pcall`/`xpcall` run their function in a
//! coroutine of their own and pass suspensions up, which Lua 5.1 allows.

use crate::command::frame::Frame;
use bytes::Bytes;
use mlua::{Function, Lua, StdLib, Table, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Set up once per core: the sandbox, `redis`'s shared functions, and the
/// helpers that make each run's `redis.call`.
const PRELUDE: &str = r##"
local pcall_, setfenv_, rawget_, select_, type_, pairs_, ipairs_, tostring_, error_, find_ =
  pcall, setfenv, rawget, select, type, pairs, ipairs, tostring, error, string.find
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local function settle(co, ok, ...)
  if not ok then return false, ... end
  if co_status(co) == "dead" then return true, ... end
  return settle(co, co_resume(co, co_yield(...)))
end
pcall = function(f, ...)
  local co = co_create(function(...) return f(...) end)
  return settle(co, co_resume(co, ...))
end
xpcall = function(f, handler)
  local co = co_create(function() return f() end)
  local function finish(ok, ...)
    if ok then return true, ... end
    return false, handler((...))
  end
  return finish(settle(co, co_resume(co)))
end
local errmt = { __tostring = function(t) return t.err end }
local base = {
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  error_reply = function(msg)
    if type(msg) ~= "string" then error("wrong number or type of arguments", 2) end
    return setmetatable({ err = msg }, errmt)
  end,
  status_reply = function(msg)
    if type(msg) ~= "string" then error("wrong number or type of arguments", 2) end
    return { ok = msg }
  end,
  set_repl = function() end,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
}
base.REPL_NONE, base.REPL_AOF, base.REPL_SLAVE, base.REPL_REPLICA, base.REPL_ALL = 0, 1, 2, 2, 3
local redismt = { __index = base, __metatable = false }
-- `now_(id, ...)` runs a command for run `id` if it can without waiting
-- (true, reply) or answers false; `call_(id, ...)` runs it, waiting for other
-- cores; both answer an error as a table. `setresp_(id, v)` sets the run's
-- protocol. They are set once (`init`).
local now_, call_, setresp_
local function run(id, ...)
  local done, v = now_(id, ...)
  if not done then v = call_(id, ...) end
  return v
end
-- One constructor, so the table is made at its size (growing it key by key
-- was a fifteenth of an EVAL's CPU).
local function make_redis(id)
  return setmetatable({
    pcall = function(...)
      local v = run(id, ...)
      if type(v) == "table" and rawget(v, "err") ~= nil then setmetatable(v, errmt) end
      return v
    end,
    call = function(...)
      local v = run(id, ...)
      if type(v) == "table" and rawget(v, "err") ~= nil then
        error(setmetatable(v, errmt), 0)
      end
      return v
    end,
    setresp = function(v) return setresp_(id, v) end,
  }, redismt)
end
-- Coroutines a script makes get the watchdog's hook that never yields
-- (`busy`): `mark_(co)`. pcall's coroutines above use the original create.
local mark_
local co_create_user = function(f)
  local co = co_create(f)
  mark_(co)
  return co
end
local function unwrap(ok, ...)
  if not ok then error((...), 0) end
  return ...
end
coroutine.create = co_create_user
coroutine.wrap = function(f)
  local co = co_create_user(f)
  return function(...) return unwrap(co_resume(co, ...)) end
end
local function init(n, c, s, m) now_, call_, setresp_, mark_ = n, c, s, m end
-- Function libraries (FUNCTION LOAD): a library's chunk
-- runs in an environment of its own. While it loads it sees only `redis`
-- with `register_function` and `log` (Redis 7's load-time API; anything else
-- is a missing global); once loaded, its functions see the sandbox's globals
-- and a `redis` whose calls belong to whichever run the core is driving
-- (id 0, see `driving` in the call module), so one compiled function serves every run.
local fredis = make_redis(0)
local FLAGS = { ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true }
local function readonly() error_("Attempt to modify a readonly table", 2) end
local function library(chunk)
  local loading, registered, seen = true, {}, {}
  local function register(...)
    local n = select_("#", ...)
    local name, callback, flags, desc
    if n == 1 then
      local t = ...
      if type_(t) ~= "table" then
        error_("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).", 0)
      end
      for k, v in pairs_(t) do
        if k == "function_name" then name = v
        elseif k == "callback" then callback = v
        elseif k == "flags" then flags = v
        elseif k == "description" then desc = v
        else error_("unknown argument given to redis.register_function", 0) end
      end
      if name == nil then error_("redis.register_function must get a function name argument", 0) end
      if callback == nil then error_("redis.register_function must get a callback argument", 0) end
    elseif n == 2 then
      name, callback = ...
    else
      error_("wrong number of arguments to redis.register_function", 0)
    end
    if type_(name) ~= "string" then error_("function name argument given to redis.register_function must be a string", 0) end
    if type_(callback) ~= "function" then error_("second argument to redis.register_function must be a function", 0) end
    if desc ~= nil and type_(desc) ~= "string" then
      error_("description argument given to redis.register_function must be a string", 0)
    end
    local names = {}
    if flags ~= nil then
      if type_(flags) ~= "table" then
        error_("flags argument to redis.register_function must be a table representing function flags", 0)
      end
      for _, f in ipairs_(flags) do
        if not FLAGS[f] then error_("unknown flag given", 0) end
        names[#names + 1] = f
      end
    end
    if not find_(name, "^[%w_]+$") then
      error_("Function names can only contain letters, numbers, or underscores(_) and must be at least one character long", 0)
    end
    if seen[name] then error_("Function already exists in the library", 0) end
    seen[name] = true
    registered[#registered + 1] = { name, callback, names, desc }
  end
  local load_redis = setmetatable({
    register_function = register,
    log = function(...) return base.log(...) end,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  }, {
    __index = function(_, k)
      error_("Script attempted to access nonexistent global variable '" .. tostring_(k) .. "'", 2)
    end,
    __newindex = readonly,
    __metatable = false,
  })
  setfenv_(chunk, setmetatable({}, {
    __index = function(_, k)
      if k == "redis" then
        if loading then return load_redis end
        return fredis
      end
      if not loading then
        local v = rawget_(_G, k)
        if v ~= nil then return v end
      end
      error_("Script attempted to access nonexistent global variable '" .. tostring_(k) .. "'", 2)
    end,
    __newindex = readonly,
    __metatable = false,
  }))
  local ok, err = pcall_(chunk)
  loading = false
  if not ok then return nil, tostring_(err) end
  return registered
end
return base, make_redis, init, library
"##;

/// Locks the globals once the prelude and libraries are in place: the
/// library tables become read-only views (a proxy per library; the string
/// metatable looks methods up through `string`'s), `rawset` refuses them and
/// `_G`, and the globals table refuses new names — so no script changes what
/// the next one finds, as Redis 7's read-only tables ensure.
const LOCK_GLOBALS: &str = r#"
local rawget, rawset, error, tostring, setmetatable = rawget, rawset, error, tostring, setmetatable
local readonly = setmetatable({}, { __mode = "k" })
local function deny() error("Attempt to modify a readonly table", 2) end
for _, name in ipairs({ "string", "table", "math", "coroutine", "cjson", "bit", "cmsgpack", "struct" }) do
  local lib = rawget(_G, name)
  if lib then
    local view = setmetatable({}, { __index = lib, __newindex = deny, __metatable = false })
    readonly[view] = true
    rawset(_G, name, view)
  end
end
local strmt = getmetatable("")
strmt.__index = rawget(_G, "string")
strmt.__metatable = false
readonly[_G] = true
rawset(_G, "rawset", function(t, k, v)
  if readonly[t] then error("Attempt to modify a readonly table", 2) end
  return rawset(t, k, v)
end)
setmetatable(_G, {
  __newindex = function() error("Attempt to modify a readonly table", 2) end,
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __metatable = false,
})
"#;

pub struct Engine {
    pub lua: Lua,
    make_redis: Function,
    /// Compiled scripts by SHA-1 (hex), with the store generation they were compiled in.
    cache: RefCell<HashMap<String, (u64, Function)>>,
    /// The prelude's `library(chunk)`: runs a library's code, answers what it registered.
    library: Function,
    /// Function libraries compiled here, by name: the version compiled and its functions.
    libraries: RefCell<HashMap<String, (u64, Compiled)>>,
    /// The library store's change count when `libraries` was last pruned.
    libraries_seen: std::cell::Cell<u64>,
}

/// A library's functions compiled in one engine, by name.
type Compiled = HashMap<String, Function>;

/// One function a library registered as it loaded.
pub struct Registration {
    pub name: String,
    pub callback: Function,
    pub flags: Vec<String>,
    pub description: Option<String>,
}

/// How long a library's code may run while it loads (Redis's FUNCTION LOAD timeout).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Makes the three functions every run's `redis` calls into: `now_(id, ...)`,
/// `call_(id, ...)` and `setresp_(id, v)` (`super::call` provides them).
pub type Hooks = fn(&Lua) -> mlua::Result<(Function, Function, Function)>;

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
}

/// This core's engine, made on first use with `hooks`.
pub fn engine(hooks: Hooks) -> Result<Rc<Engine>, String> {
    ENGINE.with(|e| {
        if let Some(engine) = e.borrow().as_ref() {
            return Ok(engine.clone());
        }
        let engine = Rc::new(Engine::new(hooks).map_err(|err| format!("ERR Lua: {err}"))?);
        *e.borrow_mut() = Some(engine.clone());
        Ok(engine)
    })
}

impl Engine {
    fn new(hooks: Hooks) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            mlua::LuaOptions::default(),
        )?;
        let g = lua.globals();
        // The prelude keeps `setfenv` for function libraries before it goes.
        let (base, make_redis, init, library): (Table, Function, Function, Function) =
            lua.load(PRELUDE).set_name("=prelude").call(())?;
        for name in [
            "loadfile", "dofile", "print", "setfenv", "getfenv", "module", "require", "newproxy",
            "gcinfo",
        ] {
            g.raw_set(name, Value::Nil)?;
        }
        let (now_, call_, setresp_) = hooks(&lua)?;
        let mark = lua.create_function(|_, co: mlua::Thread| {
            super::busy::watch_inner(&co);
            Ok(())
        })?;
        init.call::<()>((now_, call_, setresp_, mark))?;
        base.raw_set(
            "sha1hex",
            lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?,
        )?;
        base.raw_set(
            "log",
            lua.create_function(|_, (level, parts): (i64, mlua::Variadic<mlua::String>)| {
                let text: Vec<String> = parts.iter().map(|p| p.to_string_lossy()).collect();
                let text = text.join(" ");
                match level {
                    0 => tracing::debug!(target: "stairkv::script", "{text}"),
                    1 | 2 => tracing::info!(target: "stairkv::script", "{text}"),
                    _ => tracing::warn!(target: "stairkv::script", "{text}"),
                }
                Ok(())
            })?,
        )?;
        super::libs::install(&lua, &g)?;
        g.raw_set("struct", super::lua_struct::make(&lua)?)?;
        g.raw_set("cmsgpack", super::msgpack::cmsgpack(&lua)?)?;
        lua.load(LOCK_GLOBALS).set_name("=lock").exec()?;
        Ok(Engine {
            lua,
            make_redis,
            cache: RefCell::new(HashMap::new()),
            library,
            libraries: RefCell::new(HashMap::new()),
            libraries_seen: std::cell::Cell::new(0),
        })
    }

    /// Run a library's code (its `#!` line already blanked) as FUNCTION LOAD
    /// does: what it registered, or Redis's error. Its code may run for
    /// [`LOAD_TIMEOUT`] at most.
    pub fn load_library(&self, code: &[u8]) -> Result<Vec<Registration>, String> {
        let chunk = self
            .lua
            .load(code)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", one_line(&e.to_string())))?;
        let deadline = std::time::Instant::now() + LOAD_TIMEOUT;
        self.lua.set_hook(
            mlua::HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if std::time::Instant::now() > deadline {
                    Err(mlua::Error::runtime("FUNCTION LOAD timeout"))
                } else {
                    Ok(mlua::VmState::Continue)
                }
            },
        );
        let result = self.library.call::<(Value, Value)>(chunk);
        self.lua.remove_hook();
        let failed =
            |text: &str| format!("ERR Error registering functions: ERR {}", one_line(text));
        let registered = match result {
            Ok((Value::Table(t), _)) => t,
            Ok((_, Value::String(e))) => return Err(failed(&e.to_string_lossy())),
            Ok(_) => return Err(failed("the library did not load")),
            Err(e) => return Err(failed(&e.to_string())),
        };
        let mut out = Vec::new();
        for entry in registered.sequence_values::<Table>() {
            let entry = entry.map_err(|e| failed(&e.to_string()))?;
            let read = || -> mlua::Result<Registration> {
                let flags: Table = entry.raw_get(3)?;
                Ok(Registration {
                    name: entry.raw_get(1)?,
                    callback: entry.raw_get(2)?,
                    flags: flags
                        .sequence_values::<String>()
                        .collect::<mlua::Result<_>>()?,
                    description: entry.raw_get(4)?,
                })
            };
            out.push(read().map_err(|e| failed(&e.to_string()))?);
        }
        if out.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(out)
    }

    /// Function `name` of `lib` compiled in this engine: from what it
    /// compiled while the library is the version it compiled, else by
    /// loading the library here first.
    pub fn function(
        &self,
        lib: &crate::core::functions::Library,
        name: &str,
    ) -> Result<Function, String> {
        use crate::core::functions;
        let changes = functions::changes();
        if self.libraries_seen.replace(changes) != changes {
            self.libraries
                .borrow_mut()
                .retain(|n, (v, _)| functions::current(n, *v));
        }
        let cached = self
            .libraries
            .borrow()
            .get(&lib.name)
            .and_then(|(v, fns)| (*v == lib.version).then(|| fns.get(name).cloned()));
        let found = match cached {
            Some(found) => found,
            None => {
                let fns: Compiled = self
                    .load_library(&blank_first_line(&lib.code))?
                    .into_iter()
                    .map(|r| (r.name, r.callback))
                    .collect();
                let found = fns.get(name).cloned();
                self.libraries
                    .borrow_mut()
                    .insert(lib.name.clone(), (lib.version, fns));
                found
            }
        };
        found.ok_or_else(|| "ERR Function not found".to_string())
    }

    /// The compiled script `sha` (of `body`), from the cache while it belongs to `generation`.
    pub fn compile(&self, sha: &str, body: &[u8], generation: u64) -> Result<Function, String> {
        if let Some((g, f)) = self.cache.borrow().get(sha) {
            if *g == generation {
                return Ok(f.clone());
            }
        }
        let mut src = b"local KEYS, ARGV, redis = ...; ".to_vec();
        if body.starts_with(b"#!") {
            // Redis 7's shebang line (`super::shebang` read it).
            src.extend_from_slice(&blank_first_line(body));
        } else {
            src.extend_from_slice(body);
        }
        let f = self
            .lua
            .load(&src[..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    one_line(&e.to_string())
                )
            })?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(sha.to_string(), (generation, f.clone()));
        Ok(f)
    }

    /// Is `sha` compiled here in this `generation` (so already in the store)?
    pub fn knows(&self, sha: &str, generation: u64) -> bool {
        self.cache
            .borrow()
            .get(sha)
            .is_some_and(|(g, _)| *g == generation)
    }

    /// Run `id`'s `redis` table.
    pub fn make_redis(&self, id: u64) -> mlua::Result<Table> {
        self.make_redis.call(id)
    }
}

/// A library's code with its `#!` line emptied, so Lua's line numbers stay
/// the code's (Redis's `user_function:2` is the line after the metadata).
pub fn blank_first_line(code: &[u8]) -> Vec<u8> {
    match code.iter().position(|&b| b == b'\n') {
        Some(i) => code[i..].to_vec(),
        None => Vec::new(),
    }
}

/// SHA-1 in lower-case hex, as SCRIPT LOAD and `redis.sha1hex` answer.
pub fn sha1_hex(b: &[u8]) -> String {
    // By hand: the digest's `Display` goes through `fmt` byte by byte, and
    // every EVAL hashes its script (it was a tenth of an EVAL's CPU).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha1_smol::Sha1::from(b).digest().bytes();
    let mut out = String::with_capacity(40);
    for byte in digest {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
    out
}

/// An mlua error as one line of text (tracebacks dropped).
pub fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim();
    first
        .strip_prefix("runtime error: ")
        .or_else(|| first.strip_prefix("syntax error: "))
        .unwrap_or(first)
        .to_string()
}

/// A Redis reply as a Lua value, by Redis's conversion rules (RESP2 unless
/// the script asked for RESP3 with `redis.setresp(3)`).
pub fn frame_to_lua(lua: &Lua, f: Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Ok => status(lua, "OK")?,
        Frame::Simple(s) => status(lua, &s)?,
        Frame::Error(e) => {
            let t = lua.create_table()?;
            t.raw_set("err", &*e)?;
            Value::Table(t)
        }
        Frame::Int(i) => Value::Integer(i as mlua::Integer),
        Frame::Bulk(b) => Value::String(lua.create_string(&b[..])?),
        // Never in a script: there, whole replies are read by one op
        // (`command::whole`), never in pages.
        Frame::Encoded { .. } => {
            frame_to_lua(lua, Frame::err("ERR a paged reply inside a script"), resp3)?
        }
        Frame::Null | Frame::NullArray if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) | Frame::Multi(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(frame_to_lua(lua, item, resp3)?, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", set)?;
            Value::Table(t)
        }
        Frame::Set(items) => frame_to_lua(lua, Frame::Array(items), resp3)?,
        Frame::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", map)?;
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let flat = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            frame_to_lua(lua, Frame::Array(flat), resp3)?
        }
        Frame::Double(d) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("double", d)?;
            Value::Table(t)
        }
        Frame::Double(d) => {
            Value::String(lua.create_string(crate::protocol::reply::format_double(d))?)
        }
        Frame::Score(d) if resp3 => frame_to_lua(lua, Frame::Double(d), resp3)?,
        Frame::Score(d) => {
            let mut buf = [0u8; 32];
            Value::String(lua.create_string(crate::protocol::ascii::format_score(d, &mut buf))?)
        }
        Frame::Pairs(pairs) if resp3 => {
            let nested = pairs
                .into_iter()
                .map(|(a, b)| Frame::Array(vec![a, b]))
                .collect();
            frame_to_lua(lua, Frame::Array(nested), resp3)?
        }
        Frame::Pairs(pairs) => {
            let flat = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            frame_to_lua(lua, Frame::Array(flat), resp3)?
        }
        Frame::Bool(b) if resp3 => Value::Boolean(b),
        Frame::Bool(b) => Value::Integer(b as mlua::Integer),
        Frame::Verbatim(s) => Value::String(lua.create_string(&s)?),
    })
}

fn status(lua: &Lua, s: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("ok", s)?;
    Ok(Value::Table(t))
}

/// A script's return value as a Redis reply, by Redis's conversion rules:
/// numbers truncate to integers, tables are arrays up to their first nil
/// unless they carry `err` (an error) or `ok` (a status), `false` and `nil`
/// are nil, `true` is 1.
pub fn lua_to_frame(v: &Value, depth: usize) -> Frame {
    match v {
        Value::Nil | Value::Boolean(false) => Frame::Null,
        Value::Boolean(true) => Frame::Int(1),
        Value::Integer(i) => Frame::Int(*i),
        Value::Number(n) => Frame::Int(n.trunc() as i64),
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Frame::Error(e.to_string_lossy().into());
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Frame::Simple(s.to_string_lossy().into());
            }
            if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
                // As Redis 7.0's `addReplyDouble`: `%.17g` (a sorted set's
                // score comes back as the command wrote it).
                return Frame::Score(d);
            }
            if depth > 100 {
                return Frame::err("ERR reached lua stack limit");
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(item) => items.push(lua_to_frame(&item, depth + 1)),
                }
            }
            Frame::Array(items)
        }
        _ => Frame::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_hex_matches_redis() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }
}
