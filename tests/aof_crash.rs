//! `kill -9` crash cycles through the real binary (issue 16's "Measured"):
//! `stairkv --cores 2` with a tiny shard size, so shards split, merge and move
//! while it persists; writer threads that each own a disjoint key set and
//! remember, per key, every acknowledged state (with when its request was sent
//! and answered) and the one request still in flight; a thread forcing
//! `STAIRKV MIGRATE / SPLIT / MERGE / REBALANCE` without pause; a FLUSHALL in
//! some cycles (writers held off meanwhile, so it has a clear before and after);
//! `kill -9` after a random 100–1500 ms; a restart on the same `--dir`; then a
//! check of every key once every short TTL has run out.
//!
//! - `aof_kill_9_cycles`: `--appendonly yes --appendfsync $AOF_FSYNC` (default
//!   `always`), with BGREWRITEAOF and BGSAVE now and then. Under `always` each
//!   key must hold its last acknowledged state or the in-flight request's
//!   outcome: no key lost, no value older than acknowledged, no deleted or
//!   flushed key back. Under `everysec` (or `no`) losing the last writes is
//!   allowed and reported as the loss window (the longest time from a lost
//!   acknowledged write's reply to the kill), bounded by `$AOF_MAX_LOSS_MS`
//!   (default 5000; Redis's everysec rule loses about 2 s at worst). Note that
//!   `kill -9` kills the process, not the machine: what was written to the page
//!   cache survives it, so this measures what the server had not yet written,
//!   not what it had not yet synced.
//! - `snapshot_kill_9_cycles`: snapshots only, SAVE now and then from another
//!   thread. Each key must hold a state from inside the window of the last
//!   acknowledged SAVE (acknowledged before the SAVE was sent, or sent before
//!   it was answered), or anything from that window on if a SAVE was cut by
//!   the kill (the file is then the old one or the new one, never torn) —
//!   up to that kill, in later cycles too, until a SAVE is answered again
//!   (a cut SAVE whose file landed is what every later restart loads).
//!
//! In every mode: no value that was never written, no key with a TTL that ran
//! out back, no key nobody wrote, and every reply agreeing with the model while
//! the server runs. `AOF_CYCLES` (default 8) sets the cycles, `AOF_SEED` the
//! seed (printed). One line per cycle and a total are printed (`--nocapture`).

mod common;

use common::{field, fields, num, scan_reply, text, Server, TempDir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, RedisError, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 150;
/// A TTL that cannot run out during the test (`SET ... PX`, and EXPIRE's in seconds).
const FAR_TTL_MS: i64 = 3_600_000;
/// A PTTL above this is the far TTL: a cycle takes seconds, not half an hour.
const FAR_FLOOR_MS: i64 = FAR_TTL_MS / 2;
/// Short TTLs, in ms: most run out before the kill, some just after.
const SHORT_TTL_MS: (u64, u64) = (20, 300);
/// Slack past the last short deadline before keys are read (clock rounding).
const SETTLE_MS: u64 = 150;
/// How long a cycle writes before the kill.
const RUN_MS: (u64, u64) = (100, 1500);
/// Small shards split, merge and move all the time; tiny migration batches make
/// a move take many steps, so writes and kills land mid-move.
const STAIRCASE: &[&str] = &[
    "--shard-max-keys",
    "64",
    "--controller-interval-ms",
    "20",
    "--migrate-batch",
    "2",
];

// ---------------------------------------------------------------------------
// The model: per key, every acknowledged state.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ttl {
    None,
    Far,
    /// Runs out within SHORT_TTL_MS of its write; gone by the time keys are read.
    Short,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Present(i64, Ttl),
}

impl State {
    /// What a read returns once every short TTL has run out (checks wait for that).
    fn settled(self) -> State {
        match self {
            State::Present(_, Ttl::Short) => State::Absent,
            s => s,
        }
    }
}

/// One acknowledged state of a key: what it became, when its request was sent
/// and when its reply came.
#[derive(Clone, Copy, Debug)]
struct Entry {
    state: State,
    sent: Instant,
    ack: Instant,
}

struct Key {
    name: String,
    hist: Vec<Entry>,
}

impl Key {
    fn last(&self) -> State {
        self.hist
            .last()
            .expect("a key's history starts with Absent")
            .state
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Set(i64, Ttl, u64),
    Incr,
    Del,
    Expire,
}

impl Op {
    fn cmd(self, key: &str) -> redis::Cmd {
        let mut c;
        match self {
            Op::Set(v, ttl, short_ms) => {
                c = redis::cmd("SET");
                c.arg(key).arg(v);
                match ttl {
                    Ttl::None => {}
                    Ttl::Far => {
                        c.arg("PX").arg(FAR_TTL_MS);
                    }
                    Ttl::Short => {
                        c.arg("PX").arg(short_ms);
                    }
                }
            }
            Op::Incr => {
                c = redis::cmd("INCR");
                c.arg(key);
            }
            Op::Del => {
                c = redis::cmd("DEL");
                c.arg(key);
            }
            Op::Expire => {
                c = redis::cmd("EXPIRE");
                c.arg(key).arg(FAR_TTL_MS / 1000);
            }
        }
        c
    }

    /// The key's state if the server applied this to `prev`.
    fn outcome(self, prev: State) -> State {
        match (self, prev) {
            (Op::Set(v, ttl, _), _) => State::Present(v, ttl),
            (Op::Incr, State::Absent) => State::Present(1, Ttl::None),
            (Op::Incr, State::Present(v, ttl)) => State::Present(v + 1, ttl),
            (Op::Del, _) => State::Absent,
            (Op::Expire, State::Present(v, _)) => State::Present(v, Ttl::Far),
            (Op::Expire, State::Absent) => State::Absent,
        }
    }

    /// Checks the reply against the model: the new state, or what disagreed.
    fn acked(self, prev: State, reply: &Value) -> Result<State, String> {
        let want = self.outcome(prev);
        let ok = match (self, reply) {
            (Op::Set(..), Value::Okay) => true,
            (Op::Set(..), Value::SimpleString(s)) => s == "OK",
            (Op::Incr, Value::Int(n)) => matches!(want, State::Present(v, _) if v == *n),
            // A short TTL may or may not have run out when the DEL arrives.
            (Op::Del, Value::Int(n)) => match prev {
                State::Present(_, Ttl::Short) => *n == 0 || *n == 1,
                State::Present(..) => *n == 1,
                State::Absent => *n == 0,
            },
            (Op::Expire, Value::Int(n)) => *n == i64::from(prev != State::Absent),
            _ => false,
        };
        if ok {
            Ok(want)
        } else {
            Err(format!(
                "{self:?} on {prev:?} answered {reply:?}, the model wants {want:?}"
            ))
        }
    }
}

/// A write's value: unique across the run, spaced so that INCRs on it do not
/// reach the next one.
static VALUES: AtomicI64 = AtomicI64::new(1_000_000);

fn pick_op(rng: &mut StdRng, prev: State) -> Op {
    let set = |rng: &mut StdRng, ttl: Ttl| {
        Op::Set(
            VALUES.fetch_add(1000, Ordering::Relaxed),
            ttl,
            rng.gen_range(SHORT_TTL_MS.0..=SHORT_TTL_MS.1),
        )
    };
    // A key with a short TTL only gets SET or DEL: whether it has run out when
    // an INCR or EXPIRE arrives is the server's clock's call, not the model's.
    let short = matches!(prev, State::Present(_, Ttl::Short));
    match rng.gen_range(0..100) {
        0..=34 => set(rng, Ttl::None),
        35..=44 => set(rng, Ttl::Far),
        45..=54 => set(rng, Ttl::Short),
        55..=74 if !short => Op::Incr,
        75..=89 => Op::Del,
        90..=99 if !short => Op::Expire,
        _ => set(rng, Ttl::None),
    }
}

// ---------------------------------------------------------------------------
// The threads of a cycle.

/// A request sent whose reply never came: the kill cut it.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    key: usize,
    outcome: State,
    sent: Instant,
}

/// Acknowledged FLUSHALLs (sent, answered), in order: a writer adds each to
/// its keys' histories before its next request.
type Flushes = Mutex<Vec<(Instant, Instant)>>;

struct WriterOut {
    keys: Vec<Key>,
    /// How many of the acknowledged FLUSHALLs are in `keys`' histories.
    flushes_seen: usize,
    acked: u64,
    in_flight: Option<InFlight>,
    /// Replies that disagreed with the model, and error replies.
    errors: Vec<String>,
}

fn err_text(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(d)) if !d.is_empty() => format!("{code} {d}"),
        (Some(code), _) => code.to_string(),
        _ => format!("client error: {e}"),
    }
}

/// An error reply from the server (the request was refused, so not applied),
/// as against a connection that broke (the request may or may not have been).
fn is_reply(e: &RedisError) -> bool {
    e.code().is_some()
}

/// Adds the FLUSHALLs acknowledged since `seen` to every key's history.
fn apply_flushes(keys: &mut [Key], flushes: &Flushes, seen: &mut usize) {
    let f = flushes.lock().unwrap_or_else(|e| e.into_inner());
    for &(sent, ack) in &f[*seen..] {
        for k in keys.iter_mut() {
            k.hist.push(Entry {
                state: State::Absent,
                sent,
                ack,
            });
        }
    }
    *seen = f.len();
}

/// Writes its own keys until the connection breaks or `stop`. Each request
/// holds `gate` for reading, so a FLUSHALL (which takes it for writing) never
/// overlaps one, and every FLUSHALL is ordered before or after each request.
fn run_writer(
    mut con: Connection,
    mut keys: Vec<Key>,
    seed: u64,
    stop: &AtomicBool,
    gate: &RwLock<()>,
    flushes: &Flushes,
) -> WriterOut {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = WriterOut {
        keys: Vec::new(),
        flushes_seen: 0,
        acked: 0,
        in_flight: None,
        errors: Vec::new(),
    };
    while !stop.load(Ordering::Relaxed) {
        let _held = gate.read().unwrap_or_else(|e| e.into_inner());
        apply_flushes(&mut keys, flushes, &mut out.flushes_seen);
        let i = rng.gen_range(0..keys.len());
        let prev = keys[i].last();
        let op = pick_op(&mut rng, prev);
        let cmd = op.cmd(&keys[i].name);
        let sent = Instant::now();
        match cmd.query::<Value>(&mut con) {
            Ok(reply) => {
                let ack = Instant::now();
                let state = match op.acked(prev, &reply) {
                    Ok(s) => s,
                    Err(e) => {
                        out.errors.push(format!("{}: {e}", keys[i].name));
                        // Go on from what the reply says where it says it.
                        match (op, &reply) {
                            (Op::Incr, Value::Int(n)) => State::Present(*n, Ttl::None),
                            _ => op.outcome(prev),
                        }
                    }
                };
                keys[i].hist.push(Entry { state, sent, ack });
                out.acked += 1;
            }
            Err(e) if is_reply(&e) => {
                out.errors.push(format!(
                    "{}: {op:?} refused: {}",
                    keys[i].name,
                    err_text(&e)
                ));
            }
            Err(_) => {
                out.in_flight = Some(InFlight {
                    key: i,
                    outcome: op.outcome(prev),
                    sent,
                });
                break;
            }
        }
    }
    out.keys = keys;
    out
}

#[derive(Debug, Default)]
struct Forced {
    migrations: u64,
    splits: i64,
    merges: u64,
    rebalances: i64,
    refused: u64,
}

/// `STAIRKV TABLE`: shard count and each shard's owner.
fn table(con: &mut Connection) -> Result<(i64, Vec<i64>), RedisError> {
    let v: Value = redis::cmd("STAIRKV").arg("TABLE").query(con)?;
    let f = fields(v, "STAIRKV TABLE");
    let owners = match field(&f, "owners", "STAIRKV TABLE") {
        Value::Array(a) => a.iter().map(num).collect(),
        other => panic!("STAIRKV TABLE owners: not an array: {other:?}"),
    };
    Ok((num(field(&f, "shards", "STAIRKV TABLE")), owners))
}

/// Random MIGRATE / SPLIT / MERGE / REBALANCE without pause until the
/// connection breaks or `stop`. ERR replies (a move already running, nothing
/// to merge) are counted, not failures.
fn run_forcer(mut con: Connection, seed: u64, stop: &AtomicBool) -> Forced {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut f = Forced::default();
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.gen_range(0..100);
        let mut c = redis::cmd("STAIRKV");
        if roll < 55 {
            let Ok((shards, owners)) = table(&mut con) else {
                break;
            };
            let shard = rng.gen_range(0..shards.max(1));
            let core = match owners.get(shard as usize) {
                Some(&owner) if rng.gen_bool(0.8) => 1 - owner.clamp(0, 1),
                _ => rng.gen_range(0..2),
            };
            c.arg("MIGRATE").arg(shard).arg(core);
        } else if roll < 75 {
            c.arg("SPLIT");
        } else if roll < 95 {
            c.arg("MERGE");
        } else {
            c.arg("REBALANCE");
        }
        match c.query::<Value>(&mut con) {
            Ok(_) if roll < 55 => f.migrations += 1,
            Ok(v) if roll < 75 => f.splits += num(&v),
            Ok(_) if roll < 95 => f.merges += 1,
            Ok(v) => f.rebalances += num(&v),
            Err(e) if is_reply(&e) => f.refused += 1,
            Err(_) => break,
        }
    }
    f
}

#[derive(Debug, Clone, Copy)]
enum Flush {
    NotSent,
    Acked,
    InFlight { sent: Instant },
}

/// One FLUSHALL at `at`, holding every writer off meanwhile; an acknowledged
/// one goes into `flushes` before the writers go on.
fn run_flusher(
    mut con: Connection,
    at: Instant,
    stop: &AtomicBool,
    gate: &RwLock<()>,
    flushes: &Flushes,
) -> Flush {
    while Instant::now() < at {
        if stop.load(Ordering::Relaxed) {
            return Flush::NotSent;
        }
        sleep(Duration::from_millis(2));
    }
    let _held = gate.write().unwrap_or_else(|e| e.into_inner());
    if stop.load(Ordering::Relaxed) {
        return Flush::NotSent;
    }
    let sent = Instant::now();
    match redis::cmd("FLUSHALL").query::<Value>(&mut con) {
        Ok(_) => {
            let ack = Instant::now();
            flushes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((sent, ack));
            Flush::Acked
        }
        Err(e) if is_reply(&e) => panic!("FLUSHALL refused: {}", err_text(&e)),
        Err(_) => Flush::InFlight { sent },
    }
}

/// A finished SAVE: the snapshot's point lies between the two on every core.
#[derive(Debug, Clone, Copy)]
struct Save {
    sent: Instant,
    ack: Instant,
}

#[derive(Debug, Default)]
struct Background {
    /// Command name -> (answered OK, refused).
    counts: BTreeMap<&'static str, (u64, u64)>,
    saves: Vec<Save>,
    /// A SAVE the kill cut: the file may be the old one or the new one.
    save_in_flight: bool,
}

/// Every 50–500 ms, one of `cmds` (chosen at random): BGREWRITEAOF and BGSAVE
/// beside the logs, SAVE alone for the snapshot test.
fn run_background(
    mut con: Connection,
    cmds: &'static [&'static str],
    seed: u64,
    stop: &AtomicBool,
) -> Background {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = Background::default();
    loop {
        let until = Instant::now() + Duration::from_millis(rng.gen_range(50..500));
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return b;
            }
            sleep(Duration::from_millis(5));
        }
        let name = cmds[rng.gen_range(0..cmds.len())];
        let sent = Instant::now();
        match redis::cmd(name).query::<Value>(&mut con) {
            Ok(_) => {
                b.counts.entry(name).or_default().0 += 1;
                if name == "SAVE" {
                    b.saves.push(Save {
                        sent,
                        ack: Instant::now(),
                    });
                }
            }
            Err(e) if is_reply(&e) => b.counts.entry(name).or_default().1 += 1,
            Err(_) => {
                b.save_in_flight = name == "SAVE";
                return b;
            }
        }
    }
}

fn join<T>(h: JoinHandle<T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn client(server: &Server) -> Connection {
    let con = server.client();
    con.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    con.set_write_timeout(Some(Duration::from_secs(30)))
        .expect("set a write timeout");
    con
}

// ---------------------------------------------------------------------------
// The check after a restart.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Always,
    Everysec,
    No,
    Snapshot,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Everysec => "everysec",
            Mode::No => "no",
            Mode::Snapshot => "snapshot",
        }
    }
}

/// Which acknowledged states a key may be found in after the restart.
struct Window {
    /// The oldest history entry allowed (older ones are losses).
    lo: usize,
    /// The newest history entry allowed (newer ones are "too new").
    hi: usize,
    /// Whether a request cut by the kill may have taken effect.
    in_flight: bool,
    /// Whether a FLUSHALL cut by the kill may have taken effect.
    flush: bool,
}

/// The snapshot the restart loaded: the last acknowledged SAVE (or the
/// empty start), and whether a later one was cut by the kill.
struct SnapshotBound {
    last: Save,
    /// A later SAVE cut by a kill at this instant: its file may have landed
    /// (renamed before the kill), and it stays the file until a SAVE is
    /// acknowledged again — in later cycles too.
    cut: Option<Instant>,
    /// That kill is this cycle's (its request in flight and its FLUSHALL
    /// may be in the file).
    cut_now: bool,
}

fn window(mode: Mode, h: &[Entry], snap: &SnapshotBound, inflight_sent: Option<Instant>) -> Window {
    let last = h.len() - 1;
    if mode != Mode::Snapshot {
        return Window {
            lo: last,
            hi: last,
            in_flight: true,
            flush: true,
        };
    }
    let Save { sent, ack } = snap.last;
    let lo = h.iter().rposition(|e| e.ack <= sent).unwrap_or(0);
    let hi = if let Some(at) = snap.cut {
        h.iter().rposition(|e| e.sent <= at).unwrap_or(0).max(lo)
    } else {
        h.iter().rposition(|e| e.sent <= ack).unwrap_or(0).max(lo)
    };
    Window {
        lo,
        hi,
        in_flight: snap.cut_now || inflight_sent.is_some_and(|s| s <= ack),
        flush: snap.cut_now,
    }
}

#[derive(Debug, Default, Clone)]
struct Check {
    keys: u64,
    /// Keys found absent whose last acknowledged state was present.
    lost: u64,
    /// Keys holding a value older than acknowledged.
    older: u64,
    /// Keys present whose last acknowledged state was absent (deleted or flushed).
    resurrected: u64,
    /// Acknowledged writes whose effect is missing (over all keys).
    lost_writes: u64,
    /// The longest time from a lost acknowledged write's reply to the kill.
    window_ms: Option<u64>,
    /// Keys holding a value written with a short TTL that ran out.
    expired_back: u64,
    /// Keys holding a state acknowledged after the snapshot could have been taken.
    too_new: u64,
    /// States never acknowledged nor in flight, and keys nobody wrote.
    wrong: u64,
    /// Requests cut by the kill, and how many of them had taken effect.
    in_flight: u64,
    in_flight_applied: u64,
    /// Snapshot mode: acknowledged writes not in the snapshot (the design's loss).
    behind: u64,
    samples: Vec<String>,
}

impl Check {
    fn add(&mut self, o: &Check) {
        self.keys += o.keys;
        self.lost += o.lost;
        self.older += o.older;
        self.resurrected += o.resurrected;
        self.lost_writes += o.lost_writes;
        self.window_ms = self.window_ms.max(o.window_ms);
        self.expired_back += o.expired_back;
        self.too_new += o.too_new;
        self.wrong += o.wrong;
        self.in_flight += o.in_flight;
        self.in_flight_applied += o.in_flight_applied;
        self.behind += o.behind;
        for s in &o.samples {
            if self.samples.len() < 20 {
                self.samples.push(s.clone());
            }
        }
    }

    fn sample(&mut self, s: String) {
        if self.samples.len() < 20 {
            self.samples.push(s);
        }
    }
}

/// GET and PTTL of every key, pipelined: what the restarted server holds.
fn observe(con: &mut Connection, names: &[&str]) -> Vec<Result<State, String>> {
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(200) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("GET").arg(*k).cmd("PTTL").arg(*k);
        }
        let replies: Vec<Value> = p.query(con).expect("GET and PTTL after the restart");
        for pair in replies.chunks(2) {
            out.push(match (&pair[0], &pair[1]) {
                (Value::Nil, Value::Int(-2)) => Ok(State::Absent),
                (v, Value::Int(pttl)) => {
                    let t = text(v);
                    match t.parse::<i64>() {
                        Ok(n) if *pttl == -1 => Ok(State::Present(n, Ttl::None)),
                        Ok(n) if *pttl >= FAR_FLOOR_MS => Ok(State::Present(n, Ttl::Far)),
                        Ok(n) if *pttl > 0 => Ok(State::Present(n, Ttl::Short)),
                        _ => Err(format!("GET {t:?} PTTL {pttl}")),
                    }
                }
                (a, b) => Err(format!("GET {a:?} PTTL {b:?}")),
            });
        }
    }
    out
}

/// Every key name the server holds (SCAN).
fn all_keys(con: &mut Connection) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let v: Value = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .expect("SCAN");
        let (next, keys) = scan_reply(v);
        seen.extend(keys);
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

/// What a cycle's check knows besides each key's own history.
struct Cycle {
    mode: Mode,
    flush: Flush,
    snap: SnapshotBound,
    kill_at: Instant,
    /// When the check ran: the time of the state it records.
    now: Instant,
}

/// Checks one key, then records what was found as its newest state.
fn check_key(
    cy: &Cycle,
    key: &mut Key,
    found: Result<State, String>,
    in_flight: Option<InFlight>,
    c: &mut Check,
) {
    let (mode, snap, kill_at, now) = (cy.mode, &cy.snap, cy.kill_at, cy.now);
    c.keys += 1;
    let found = match found {
        Ok(s) => s,
        Err(e) => {
            c.wrong += 1;
            c.sample(format!("{}: {e}", key.name));
            return;
        }
    };
    let h = &key.hist;
    let w = window(mode, h, snap, in_flight.map(|f| f.sent));
    let flush_ok = match cy.flush {
        Flush::InFlight { sent } => w.flush || snap.last.ack >= sent,
        _ => false,
    };
    let inflight_ok = in_flight
        .filter(|_| w.in_flight)
        .map(|f| f.outcome.settled());
    let matched = (w.lo..=w.hi).rev().find(|&i| h[i].state.settled() == found);
    if let Some(i) = matched {
        c.behind += (h.len() - 1 - i) as u64;
    } else if inflight_ok == Some(found) {
        c.in_flight_applied += 1;
    } else if flush_ok && found == State::Absent {
        // The cut FLUSHALL reached this key's core.
    } else if let Some(j) = (0..w.lo).rev().find(|&j| h[j].state.settled() == found) {
        if h[w.lo].state.settled() == State::Absent {
            c.resurrected += 1;
        } else if found == State::Absent {
            c.lost += 1;
        } else {
            c.older += 1;
        }
        c.lost_writes += (w.lo - j) as u64;
        let since = kill_at.saturating_duration_since(h[j + 1].ack).as_millis() as u64;
        c.window_ms = c.window_ms.max(Some(since));
        c.sample(format!(
            "{}: found {found:?}, acknowledged {:?} ({} ms before the kill), {} acknowledged write(s) missing",
            key.name,
            h[w.lo].state,
            kill_at.saturating_duration_since(h[w.lo].ack).as_millis(),
            w.lo - j
        ));
    } else if matches!(found, State::Present(v, _) if h.iter().any(|e| e.state == State::Present(v, Ttl::Short)))
    {
        c.expired_back += 1;
        c.sample(format!(
            "{}: found {found:?}, written with a short TTL that ran out",
            key.name
        ));
    } else if (w.hi + 1..h.len()).any(|j| h[j].state.settled() == found) {
        c.too_new += 1;
        c.sample(format!(
            "{}: found {found:?}, acknowledged only after the last SAVE answered",
            key.name
        ));
    } else {
        c.wrong += 1;
        c.sample(format!(
            "{}: found {found:?}, never acknowledged; last acknowledged {:?}, in flight {:?}",
            key.name,
            h[w.lo].state,
            in_flight.map(|f| f.outcome)
        ));
    }
    key.hist.push(Entry {
        state: found,
        sent: now,
        ack: now,
    });
}

// ---------------------------------------------------------------------------
// The cycles.

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

fn crash_cycles(mode: Mode) {
    let cycles = env_u64("AOF_CYCLES", 8);
    let seed = env_u64(
        "AOF_SEED",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TempDir::new(mode.name());
    let mut flags: Vec<&str> = vec!["--dir", dir.arg()];
    flags.extend_from_slice(STAIRCASE);
    if mode != Mode::Snapshot {
        flags.extend_from_slice(&["--appendonly", "yes", "--appendfsync", mode.name()]);
    }
    let background: &'static [&'static str] = if mode == Mode::Snapshot {
        &["SAVE"]
    } else {
        &["BGREWRITEAOF", "BGREWRITEAOF", "BGSAVE"]
    };
    let label = format!("aof_crash {}", mode.name());
    println!(
        "{label}: {cycles} cycles, seed {seed} (AOF_SEED), dir {}",
        dir.arg()
    );

    let t0 = Instant::now();
    let mut models: Vec<Vec<Key>> = (0..WRITERS)
        .map(|w| {
            (0..KEYS_PER_WRITER)
                .map(|i| Key {
                    name: format!("w{w}:k{i}"),
                    hist: vec![Entry {
                        state: State::Absent,
                        sent: t0,
                        ack: t0,
                    }],
                })
                .collect()
        })
        .collect();
    let names: HashSet<String> = models.iter().flatten().map(|k| k.name.clone()).collect();
    // Before any SAVE the restart must find nothing: an empty SAVE at t0.
    let mut last_save = Save { sent: t0, ack: t0 };
    let mut cut_at: Option<Instant> = None;

    let mut server = Server::start(2, &flags);
    let mut total = Check::default();
    let mut total_acked = 0u64;
    let mut live_errors: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for cycle in 1..=cycles {
        let run = Duration::from_millis(rng.gen_range(RUN_MS.0..=RUN_MS.1));
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(RwLock::new(()));
        let flushes: Arc<Flushes> = Arc::default();
        let writers: Vec<JoinHandle<WriterOut>> = std::mem::take(&mut models)
            .into_iter()
            .map(|keys| {
                let (con, stop, gate) = (client(&server), stop.clone(), gate.clone());
                let (flushes, s) = (flushes.clone(), rng.gen());
                std::thread::spawn(move || run_writer(con, keys, s, &stop, &gate, &flushes))
            })
            .collect();
        let forcer = {
            let (con, stop, s) = (client(&server), stop.clone(), rng.gen());
            std::thread::spawn(move || run_forcer(con, s, &stop))
        };
        let back = {
            let (con, stop, s) = (client(&server), stop.clone(), rng.gen());
            std::thread::spawn(move || run_background(con, background, s, &stop))
        };
        let flusher = (cycle % 3 == 2).then(|| {
            let at = start + run.mul_f64(rng.gen_range(0.1..1.1));
            let (con, stop, gate) = (client(&server), stop.clone(), gate.clone());
            let flushes = flushes.clone();
            std::thread::spawn(move || run_flusher(con, at, &stop, &gate, &flushes))
        });

        sleep(run.saturating_sub(start.elapsed()));
        let kill_at = Instant::now();
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let outs: Vec<WriterOut> = writers.into_iter().map(join).collect();
        let forced = join(forcer);
        let back = join(back);
        let flush = flusher.map(join).unwrap_or(Flush::NotSent);

        let restart = Instant::now();
        server = Server::start(2, &flags);
        let ready_ms = restart.elapsed().as_millis();
        // Every short TTL written before the kill has run out by now.
        let settle = kill_at + Duration::from_millis(SHORT_TTL_MS.1 + SETTLE_MS);
        sleep(settle.saturating_duration_since(Instant::now()));

        // A SAVE answered ends an earlier cut SAVE's say; one this kill cut
        // (always after the answered ones) may be the file from now on.
        if let Some(s) = back.saves.last() {
            last_save = *s;
            cut_at = None;
        }
        if back.save_in_flight {
            cut_at = Some(kill_at);
        }
        let mut con = client(&server);
        let cy = Cycle {
            mode,
            flush,
            snap: SnapshotBound {
                last: last_save,
                cut: cut_at,
                cut_now: back.save_in_flight,
            },
            kill_at,
            now: Instant::now(),
        };
        let mut c = Check::default();
        let mut acked = 0;
        for mut out in outs {
            acked += out.acked;
            live_errors.append(&mut out.errors);
            // A FLUSHALL after this writer's last request.
            apply_flushes(&mut out.keys, &flushes, &mut out.flushes_seen);
            let key_names: Vec<&str> = out.keys.iter().map(|k| k.name.as_str()).collect();
            let found = observe(&mut con, &key_names);
            for (i, (k, f)) in out.keys.iter_mut().zip(found).enumerate() {
                let inf = out.in_flight.filter(|f| f.key == i);
                c.in_flight += u64::from(inf.is_some());
                check_key(&cy, k, f, inf, &mut c);
            }
            models.push(out.keys);
        }
        for k in all_keys(&mut con) {
            if !names.contains(&k) {
                c.wrong += 1;
                c.sample(format!("{k:?}: a key nobody wrote"));
            }
        }
        if matches!(flush, Flush::Acked) {
            acked += 1;
        }
        total_acked += acked;
        let flush_text = match flush {
            Flush::NotSent => String::new(),
            Flush::Acked => ", FLUSHALL acknowledged".into(),
            Flush::InFlight { .. } => ", FLUSHALL cut by the kill".into(),
        };
        let bg: Vec<String> = back
            .counts
            .iter()
            .map(|(n, (ok, no))| format!("{ok} {n} ({no} refused)"))
            .collect();
        let line = format!(
            "{label} cycle {cycle}/{cycles}: ran {} ms, {acked} acked writes, kill -9, ready in {ready_ms} ms; \
             {} keys: lost {}, older {}, resurrected {}, lost acked writes {}, loss window {}, \
             expired back {}, too new {}, wrong {}; in flight {} (applied {}){}{flush_text}; \
             forced {} migrate, {} split, {} merge, {} rebalance ({} refused); {}",
            run.as_millis(),
            c.keys,
            c.lost,
            c.older,
            c.resurrected,
            c.lost_writes,
            c.window_ms.map_or("-".into(), |w| format!("{w} ms")),
            c.expired_back,
            c.too_new,
            c.wrong,
            c.in_flight,
            c.in_flight_applied,
            if mode == Mode::Snapshot {
                format!(", {} acked writes after the loaded SAVE", c.behind)
            } else {
                String::new()
            },
            forced.migrations,
            forced.splits,
            forced.merges,
            forced.rebalances,
            forced.refused,
            if bg.is_empty() { "-".into() } else { bg.join(", ") },
        );
        println!("{line}");
        lines.push(line);
        total.add(&c);
    }
    let summary = format!(
        "{label} total: {cycles} cycles, {total_acked} acked writes; lost {}, older {}, resurrected {}, \
         lost acked writes {}, loss window max {}, expired back {}, too new {}, wrong {}, \
         in flight {} (applied {}), live reply errors {}",
        total.lost,
        total.older,
        total.resurrected,
        total.lost_writes,
        total
            .window_ms
            .map_or("- (nothing lost)".into(), |w| format!("{w} ms")),
        total.expired_back,
        total.too_new,
        total.wrong,
        total.in_flight,
        total.in_flight_applied,
        live_errors.len(),
    );
    println!("{summary}");
    let context = format!(
        "{summary}\nsamples: {:#?}\nlive reply errors: {:#?}\nseed {seed}",
        total.samples,
        &live_errors[..live_errors.len().min(20)]
    );
    assert!(total_acked > 0, "no write was acknowledged: {context}");
    assert!(
        live_errors.is_empty(),
        "replies disagreed with the model while the server ran: {context}"
    );
    assert_eq!(
        (total.wrong, total.expired_back, total.too_new),
        (0, 0, 0),
        "states never acknowledged, expired keys back, or snapshot states too new: {context}"
    );
    match mode {
        Mode::Always | Mode::Snapshot => assert_eq!(
            (total.lost, total.older, total.resurrected),
            (0, 0, 0),
            "acknowledged writes lost (lost, older, resurrected): {context}"
        ),
        Mode::Everysec => {
            let bound = env_u64("AOF_MAX_LOSS_MS", 5000);
            assert!(
                total.window_ms.unwrap_or(0) <= bound,
                "everysec lost writes acknowledged more than {bound} ms before the kill: {context}"
            );
        }
        Mode::No => {}
    }
}

/// Whether this stairkv build has the append-only log's flag at all.
fn has_appendonly_flag() -> bool {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .arg("--help")
        .output()
        .expect("run stairkv --help");
    String::from_utf8_lossy(&out.stdout).contains("--appendonly")
}

#[test]
fn aof_kill_9_cycles() {
    let mode = match std::env::var("AOF_FSYNC").as_deref() {
        Err(_) | Ok("always") => Mode::Always,
        Ok("everysec") => Mode::Everysec,
        Ok("no") => Mode::No,
        Ok(other) => panic!("AOF_FSYNC={other}: always, everysec or no"),
    };
    assert!(
        has_appendonly_flag(),
        "stairkv has no --appendonly flag: this test needs the append-only logs (issue 16)"
    );
    crash_cycles(mode);
}

#[test]
fn snapshot_kill_9_cycles() {
    crash_cycles(Mode::Snapshot);
}

/// The check itself, without a server: each kind of finding is told apart
/// (what the logs' test relies on before they exist, and after).
#[test]
fn the_check_tells_each_finding_apart() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let entry = |state, sent, ack| Entry {
        state,
        sent: at(sent),
        ack: at(ack),
    };
    let key = |hist: Vec<Entry>| Key {
        name: "k".into(),
        hist,
    };
    let p = |v| State::Present(v, Ttl::None);
    let base = vec![
        entry(State::Absent, 0, 0),
        entry(p(5), 10, 20),
        entry(State::Present(6, Ttl::Far), 30, 40),
    ];
    let cycle = |mode, flush, save: (u64, u64), cut: bool| Cycle {
        mode,
        flush,
        snap: SnapshotBound {
            last: Save {
                sent: at(save.0),
                ack: at(save.1),
            },
            cut: cut.then(|| at(100)),
            cut_now: cut,
        },
        kill_at: at(100),
        now: at(200),
    };
    let always = cycle(Mode::Always, Flush::NotSent, (0, 0), false);
    let run = |cy: &Cycle, hist: Vec<Entry>, found: State, inf: Option<State>| {
        let mut k = key(hist);
        let mut c = Check::default();
        let inf = inf.map(|outcome| InFlight {
            key: 0,
            outcome,
            sent: at(50),
        });
        check_key(cy, &mut k, Ok(found), inf, &mut c);
        assert_eq!(k.last(), found, "the found state becomes the newest");
        c
    };
    let quiet = |c: &Check| {
        (
            c.lost,
            c.older,
            c.resurrected,
            c.expired_back,
            c.too_new,
            c.wrong,
        ) == (0, 0, 0, 0, 0, 0)
    };

    let c = run(&always, base.clone(), State::Present(6, Ttl::Far), None);
    assert!(quiet(&c), "{c:?}");
    // The value right but its TTL lost matches no acknowledged state.
    let c = run(&always, base.clone(), p(6), None);
    assert_eq!(c.wrong, 1, "{c:?}");
    let c = run(&always, base.clone(), p(5), None);
    assert_eq!(
        (c.older, c.lost_writes, c.window_ms),
        (1, 1, Some(60)),
        "{c:?}"
    );
    let c = run(&always, base.clone(), State::Absent, None);
    assert_eq!(
        (c.lost, c.lost_writes, c.window_ms),
        (1, 2, Some(80)),
        "{c:?}"
    );
    let mut deleted = base.clone();
    deleted.push(entry(State::Absent, 60, 70));
    let c = run(&always, deleted.clone(), p(5), None);
    assert_eq!((c.resurrected, c.lost_writes), (1, 2), "{c:?}");
    let c = run(&always, deleted, State::Absent, None);
    assert!(quiet(&c), "{c:?}");
    // The request the kill cut: its outcome or the state before it.
    let c = run(&always, base.clone(), p(7), Some(p(7)));
    assert!(quiet(&c) && c.in_flight_applied == 1, "{c:?}");
    let c = run(&always, base.clone(), p(7), None);
    assert_eq!(c.wrong, 1, "{c:?}");
    // A FLUSHALL the kill cut may have reached the key.
    let cut = cycle(
        Mode::Always,
        Flush::InFlight { sent: at(90) },
        (0, 0),
        false,
    );
    let c = run(&cut, base.clone(), State::Absent, None);
    assert!(quiet(&c), "{c:?}");
    // A short TTL that ran out stays out, and its value never comes back.
    let mut short = base.clone();
    short.push(entry(State::Present(8, Ttl::Short), 60, 70));
    let c = run(&always, short.clone(), State::Absent, None);
    assert!(quiet(&c), "{c:?}");
    let c = run(&always, short, State::Present(8, Ttl::None), None);
    assert_eq!(c.expired_back, 1, "{c:?}");

    // Snapshots: a SAVE sent at 25 and answered at 35 holds 5 (acknowledged
    // before it began) or 6 (sent before it ended), not 0 nor a later 9.
    let mut later = base.clone();
    later.push(entry(p(9), 60, 70));
    let snap = cycle(Mode::Snapshot, Flush::NotSent, (25, 35), false);
    let c = run(&snap, later.clone(), p(5), None);
    assert!(quiet(&c) && c.behind == 2, "{c:?}");
    let c = run(&snap, later.clone(), State::Present(6, Ttl::Far), None);
    assert!(quiet(&c) && c.behind == 1, "{c:?}");
    let c = run(&snap, later.clone(), State::Absent, None);
    assert_eq!(c.lost, 1, "{c:?}");
    let c = run(&snap, later.clone(), p(9), None);
    assert_eq!(c.too_new, 1, "{c:?}");
    // A SAVE an earlier cycle's kill cut (at 65) may still be the file:
    // 9 (sent at 60) may be in it, a write sent after that kill may not.
    let mut snap_before = cycle(Mode::Snapshot, Flush::NotSent, (25, 35), false);
    snap_before.snap.cut = Some(at(65));
    let c = run(&snap_before, later.clone(), p(9), None);
    assert!(quiet(&c) && c.behind == 0, "{c:?}");
    let mut after = later.clone();
    after.push(entry(p(11), 80, 90));
    let c = run(&snap_before, after, p(11), None);
    assert_eq!(c.too_new, 1, "{c:?}");
    // ... unless a later SAVE was cut by the kill: then anything from 5 on.
    let snap_cut = cycle(Mode::Snapshot, Flush::NotSent, (25, 35), true);
    let c = run(&snap_cut, later, p(9), None);
    assert!(quiet(&c), "{c:?}");
}
