//! A running script's watchdog: the Lua hook that, every [`CHECK_EVERY`]
//! instructions, gives the script's core to its other clients for a turn
//! (the script's coroutine yields where it stands; its keys stay held),
//! marks the script busy past `busy-reply-threshold` (whoever waits for one
//! of its keys, on any core, is answered `-BUSY`), and stops it when SCRIPT
//! KILL asks and it has not written. It never runs a command and never
//! touches the keyspace.
//!
//! Why a raw hook: mlua refuses to yield from a hook under Lua 5.1, but Lua
//! 5.1 itself resumes a coroutine that a count hook suspended where it
//! stopped (`luaV_execute`'s "did hook yield?"). A hook may yield only where
//! `lua_yield` would not cross a C call (a metamethod, a `table.sort`
//! comparator, `string.gsub`'s callback); Lua 5.1 has no `lua_isyieldable`,
//! so the hook reads the two counters `lua_yield` checks (`nCcalls`,
//! `baseCcalls`) through a mirror of the vendored Lua 5.1.5 `lua_State`,
//! which a test checks against Lua's own API. Coroutines a script makes
//! itself get a hook that never yields (a yield there would reach the
//! script's own `coroutine.resume`, not the executor).

use mlua::ffi;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::raw::c_int;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Instructions between two looks of the hook at the clock.
const CHECK_EVERY: c_int = 100_000;
/// Longest stretch a script runs before its core's other clients get a turn.
const SLICE: Duration = Duration::from_millis(1);
const MAX_CORES: usize = 1024;
const KILLED: &std::ffi::CStr = c"ERR Script killed by user with SCRIPT KILL...";

/// Per core: 0 no busy script, 1 a busy script that has not written, 2 one that has.
static BUSY: [AtomicU8; MAX_CORES] = [const { AtomicU8::new(0) }; MAX_CORES];
/// Per core: SCRIPT KILL asked its busy script to stop.
static KILL: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];

/// What the watchdog needs of a running script (`call::ScriptRun` is one).
pub trait Watched {
    fn watchdog(&self) -> &Watchdog;
    /// Hold its keys now, before anyone else runs (false: it must not yield).
    fn hold_at_once(&self) -> bool;
    /// It has run a write command.
    fn wrote(&self) -> bool;
    /// The transaction holding its keys (0: none).
    fn tx(&self) -> u64;
    /// Tell every core that `tx`'s waiters get `-BUSY`.
    fn mark_busy(&self, tx: u64);
}

thread_local! {
    /// The script whose coroutine this core is running now (its hook reads it).
    static CURRENT: RefCell<Option<Rc<dyn Watched>>> = const { RefCell::new(None) };
    /// The hook suspended the running script to give others a turn.
    static YIELDED: Cell<bool> = const { Cell::new(false) };
}

/// One script run's clock and state for the hook.
pub struct Watchdog {
    started: Instant,
    threshold: Duration,
    core: usize,
    /// When the script last got the core back.
    resumed: Cell<Instant>,
    /// Its waiters were told it is busy.
    announced: Cell<bool>,
    /// SCRIPT KILL stopped it: every later look raises again (through `pcall`).
    killed: Cell<bool>,
    /// A function's name and command line, for FUNCTION STATS once it is busy.
    label: RefCell<Option<(String, Vec<bytes::Bytes>)>>,
    /// It is FUNCTION STATS's running function.
    listed: Cell<bool>,
}

/// The function busy past the threshold: its core, name, command line and start.
type Running = (usize, String, Vec<bytes::Bytes>, Instant);
static RUNNING: std::sync::Mutex<Option<Running>> = std::sync::Mutex::new(None);

/// FUNCTION STATS's `running_script`: a function busy past
/// `busy-reply-threshold` on any core (name, command line, milliseconds).
pub fn running_function() -> Option<(String, Vec<bytes::Bytes>, u64)> {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running.as_ref().map(|(_, name, command, started)| {
        (
            name.clone(),
            command.clone(),
            started.elapsed().as_millis() as u64,
        )
    })
}

impl Watchdog {
    pub fn new(core: usize, threshold_ms: u64) -> Watchdog {
        let now = Instant::now();
        Watchdog {
            started: now,
            threshold: Duration::from_millis(threshold_ms),
            core: core % MAX_CORES,
            resumed: Cell::new(now),
            announced: Cell::new(false),
            killed: Cell::new(false),
            label: RefCell::new(None),
            listed: Cell::new(false),
        }
    }

    /// The run is function `name`, called by `command`.
    pub fn label(&self, name: String, command: Vec<bytes::Bytes>) {
        *self.label.borrow_mut() = Some((name, command));
    }

    /// The script ended: its core has no busy script any more.
    pub fn finish(&self) {
        BUSY[self.core].store(0, Ordering::Relaxed);
        KILL[self.core].store(false, Ordering::Relaxed);
        if self.listed.get() {
            let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
            if running.as_ref().is_some_and(|r| r.0 == self.core) {
                *running = None;
            }
        }
    }

    /// A busy function shows in FUNCTION STATS.
    fn list(&self) {
        if self.listed.get() {
            return;
        }
        if let Some((name, command)) = self.label.borrow().clone() {
            self.listed.set(true);
            *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((self.core, name, command, self.started));
        }
    }
}

enum Act {
    Go,
    Yield,
    Kill,
}

/// What the hook does at this look, for the script running now. `may_yield`:
/// the coroutine can be suspended here.
fn decide(may_yield: bool) -> Act {
    let Some(run) = CURRENT.with(|c| c.borrow().clone()) else {
        return Act::Go;
    };
    let w = run.watchdog();
    if w.killed.get() {
        return Act::Kill;
    }
    let now = Instant::now();
    let past = now.duration_since(w.started) >= w.threshold;
    let turn = may_yield && (past || now.duration_since(w.resumed.get()) >= SLICE);
    // Before anyone else runs, the script must hold its keys (one that
    // started without locks takes them now, at once).
    let yields = turn && run.hold_at_once();
    if past {
        w.list();
        let wrote = run.wrote();
        BUSY[w.core].store(1 + wrote as u8, Ordering::Relaxed);
        let tx = run.tx();
        if tx != 0 && !w.announced.replace(true) {
            tracing::warn!(
                ms = w.threshold.as_millis() as u64,
                "a script runs past busy-reply-threshold: waiters for its keys get -BUSY"
            );
            run.mark_busy(tx);
        }
        if !wrote && KILL[w.core].swap(false, Ordering::Relaxed) {
            w.killed.set(true);
            return Act::Kill;
        }
    }
    if yields {
        YIELDED.with(|y| y.set(true));
        Act::Yield
    } else {
        Act::Go
    }
}

/// The mirror of Lua 5.1.5's `struct lua_State` (lstate.h) up to the hook
/// fields: only `n_ccalls` and `base_ccalls` are read.
#[repr(C)]
struct State51 {
    next: *mut std::ffi::c_void,
    tt: u8,
    marked: u8,
    status: u8,
    top: *mut std::ffi::c_void,
    base: *mut std::ffi::c_void,
    l_g: *mut std::ffi::c_void,
    ci: *mut std::ffi::c_void,
    savedpc: *const std::ffi::c_void,
    stack_last: *mut std::ffi::c_void,
    stack: *mut std::ffi::c_void,
    end_ci: *mut std::ffi::c_void,
    base_ci: *mut std::ffi::c_void,
    stacksize: c_int,
    size_ci: c_int,
    n_ccalls: u16,
    base_ccalls: u16,
    hookmask: u8,
    allowhook: u8,
    basehookcount: c_int,
    hookcount: c_int,
    hook: Option<ffi::lua_Hook>,
}

/// Would `lua_yield` on `l` succeed now (no C call in between)?
///
/// # Safety
/// `l` is a live Lua 5.1.5 state (the hook's own).
unsafe fn yieldable(l: *mut ffi::lua_State) -> bool {
    // SAFETY: the caller passes a live state; `State51` mirrors the vendored
    // Lua's layout up to these fields (checked by `mirror_matches_lua`).
    let s = unsafe { &*(l as *const State51) };
    s.n_ccalls == s.base_ccalls
}

/// The hook of a script's own coroutine and of the `pcall`s it runs.
unsafe extern "C-unwind" fn script_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: Lua calls the hook with its running state.
    unsafe { hook(l, true) }
}

/// The hook of coroutines the script makes itself: never yields.
unsafe extern "C-unwind" fn inner_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: Lua calls the hook with its running state.
    unsafe { hook(l, false) }
}

/// # Safety
/// Called by Lua only, from a count hook on state `l`.
unsafe fn hook(l: *mut ffi::lua_State, ours: bool) {
    // SAFETY: `l` is the hook's live state.
    let may_yield = ours && unsafe { yieldable(l) };
    // No Rust value lives past this line: `lua_error` below unwinds by longjmp.
    let act = std::panic::catch_unwind(|| decide(may_yield)).unwrap_or(Act::Go);
    match act {
        Act::Go => {}
        // SAFETY: a count hook may yield with no values when `yieldable`
        // (Lua 5.1 then resumes the coroutine where it stopped).
        Act::Yield => unsafe {
            ffi::lua_yield(l, 0);
        },
        // SAFETY: raising from a hook is how Lua stops running code; only C
        // frames lie between here and the resume that catches it.
        Act::Kill => unsafe {
            ffi::lua_pushstring(l, KILLED.as_ptr());
            ffi::lua_error(l);
        },
    }
}

/// Watch `thread` (a script's coroutine) with the yielding hook; coroutines
/// it creates inherit it (Lua 5.1 copies the hook to a new thread).
pub fn watch(thread: &mlua::Thread) {
    set_hook(thread, script_hook);
}

/// Watch a coroutine the script made itself with the hook that never yields.
pub fn watch_inner(thread: &mlua::Thread) {
    set_hook(thread, inner_hook);
}

fn set_hook(thread: &mlua::Thread, hook: ffi::lua_Hook) {
    // SAFETY: for a thread, `lua_topointer` (behind `to_pointer`) is its
    // `lua_State`, alive while `thread` is.
    unsafe {
        ffi::lua_sethook(
            thread.to_pointer() as *mut ffi::lua_State,
            Some(hook),
            ffi::LUA_MASKCOUNT,
            CHECK_EVERY,
        );
    }
}

/// Run `fut` (the script's coroutine) with `run` as the hook's current
/// script; each time the hook suspends it, let the core's other tasks run
/// (connections, peers' messages) before going on.
pub async fn drive<F: Future>(run: Rc<dyn Watched>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = std::future::poll_fn(|cx| {
            run.watchdog().resumed.set(Instant::now());
            let before = CURRENT.with(|c| c.replace(Some(run.clone())));
            YIELDED.with(|y| y.set(false));
            let polled = fut.as_mut().poll(cx);
            CURRENT.with(|c| *c.borrow_mut() = before);
            match polled {
                Poll::Ready(v) => Poll::Ready(Some(v)),
                Poll::Pending if YIELDED.with(|y| y.replace(false)) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match step {
            Some(v) => return v,
            None => crate::runtime::pace::turn().await,
        }
    }
}

/// SCRIPT KILL: stop a script that has been busy past the threshold on any
/// core, unless it has written.
pub fn kill() -> super::Frame {
    use super::Frame;
    let mut found_unkillable = false;
    for core in 0..MAX_CORES {
        match BUSY[core].load(Ordering::Relaxed) {
            1 => {
                KILL[core].store(true, Ordering::Relaxed);
                return Frame::Ok;
            }
            2 => found_unkillable = true,
            _ => {}
        }
    }
    if found_unkillable {
        Frame::err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    } else {
        Frame::err("NOTBUSY No scripts in execution right now.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_matches_lua() {
        let lua = mlua::Lua::new();
        let f = lua.load("return 1").into_function().expect("chunk");
        let thread = lua.create_thread(f).expect("thread");
        let l = thread.to_pointer() as *mut ffi::lua_State;
        watch_inner(&thread);
        // SAFETY: `l` is the live state of `thread`; the reads go through
        // Lua's API and the mirror being checked.
        unsafe {
            let s = &*(l as *const State51);
            assert_eq!(c_int::from(s.hookmask), ffi::lua_gethookmask(l));
            assert_eq!(s.basehookcount, ffi::lua_gethookcount(l));
            assert_eq!(s.basehookcount, CHECK_EVERY);
            assert_eq!(
                s.hook.map(|h| h as usize),
                ffi::lua_gethook(l).map(|h| h as usize)
            );
            assert_eq!(s.status, 0);
            // A thread not running: no C call in progress.
            assert_eq!(s.n_ccalls, s.base_ccalls);
            assert!(yieldable(l));
        }
    }
}
