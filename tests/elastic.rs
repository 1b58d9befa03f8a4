//! The elastic staircase, black-box against the real binary: shards migrate
//! between cores, split and merge while clients read and write, and no client
//! can tell. A randomized test runs four clients against an exact model (each
//! plain key belongs to one client, who checks every reply at once; shared
//! counters count acknowledged INCRs; short TTLs are judged inside a window
//! around their deadline) while a forcing thread migrates, splits, merges and
//! rebalances without pause, then checks every key for loss and resurrection.
//! The other tests prove that a full SCAN returns every key while shards move
//! under it, that a shard of about a million keys moves under load with every
//! value intact, that STAIRKV's MIGRATE/SPLIT/MERGE answer as documented
//! (errors included), and that a key's deadline travels with it.

mod common;

use common::{field, fields, num, scan_reply, shard_rows, Server, ShardRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, RedisError, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

// ---------------------------------------------------------------------------
// Helpers: replies, STAIRKV SHARDS / TABLE, INFO staircase.

fn err_text(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(d)) if !d.is_empty() => format!("{code} {d}"),
        (Some(code), _) => code.to_string(),
        _ => format!("client error: {e}"),
    }
}

#[derive(Debug, Clone)]
struct Table {
    shards: i64,
    owners: Vec<i64>,
    moving: usize,
}

fn table(con: &mut Connection) -> Table {
    let v: Value = redis::cmd("STAIRKV")
        .arg("TABLE")
        .query(con)
        .expect("STAIRKV TABLE");
    let f = fields(v, "STAIRKV TABLE");
    let w = "STAIRKV TABLE";
    let list = |name: &str| match field(&f, name, w) {
        Value::Array(a) => a.clone(),
        other => panic!("STAIRKV TABLE {name}: not an array: {other:?}"),
    };
    Table {
        shards: num(field(&f, "shards", w)),
        owners: list("owners").iter().map(num).collect(),
        moving: list("moving").len(),
    }
}

fn staircase_info(con: &mut Connection) -> HashMap<String, String> {
    let info: String = redis::cmd("INFO")
        .arg("staircase")
        .query(con)
        .expect("INFO staircase");
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn info_num(info: &HashMap<String, String>, name: &str) -> i64 {
    info.get(name)
        .unwrap_or_else(|| panic!("INFO staircase has no {name}: {info:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("INFO staircase {name} is not a number: {info:?}"))
}

fn dbsize(con: &mut Connection) -> i64 {
    redis::cmd("DBSIZE").query(con).expect("DBSIZE")
}

/// A STAIRKV admin command whose ERR reply is legitimate: Ok(reply) or Err(error text).
fn admin(con: &mut Connection, args: &[&str]) -> Result<Value, String> {
    let mut c = redis::cmd("STAIRKV");
    for a in args {
        c.arg(*a);
    }
    c.query::<Value>(con).map_err(|e| err_text(&e))
}

/// A STAIRKV admin command that must succeed.
fn admin_ok(con: &mut Connection, args: &[&str]) -> Value {
    admin(con, args).unwrap_or_else(|e| panic!("STAIRKV {}: {e}", args.join(" ")))
}

/// A client with a generous read timeout: a hang fails the test instead of stalling it.
fn client(server: &Server, timeout: Duration) -> Connection {
    let con = server.client();
    con.set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    con.set_write_timeout(Some(timeout))
        .expect("set a write timeout");
    con
}

fn set_pipelined(con: &mut Connection, kvs: impl Iterator<Item = (String, String)>) {
    let kvs: Vec<(String, String)> = kvs.collect();
    for chunk in kvs.chunks(1000) {
        let mut p = redis::pipe();
        for (k, v) in chunk {
            p.cmd("SET").arg(k).arg(v).ignore();
        }
        p.query::<()>(con).expect("pipelined SETs");
    }
}

/// Join a thread, passing its panic on.
fn join<T>(h: JoinHandle<T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

// ---------------------------------------------------------------------------
// 1. Randomized concurrent test against an exact model.

const CLIENTS: usize = 4;
const PLAIN_KEYS: usize = 2_000;
const COUNTERS: usize = 50;
const RUN: Duration = Duration::from_secs(8);
/// Slack around a short TTL's deadline for the millisecond clock's rounding.
const MARGIN_MS: i64 = 10;
/// A TTL that cannot run out during the test.
const LONG_TTL_S: i64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ttl {
    None,
    Long,
    /// The deadline lies in [lo, hi] (absolute unix ms).
    Short {
        lo: i64,
        hi: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Live {
    value: i64,
    ttl: Ttl,
}

/// For a command sent at `sent` and answered at `got`: must the key still be
/// alive (the server ran it before the earliest deadline), must it be gone?
fn alive_gone(live: &Live, sent: i64, got: i64) -> (bool, bool) {
    match live.ttl {
        Ttl::Short { lo, hi } => (got < lo, sent > hi),
        _ => (true, false),
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    Set,
    Del,
    Incr,
    Expire,
    Pexpire,
    Counter,
}

/// Op weights by phase: fill the key space, drain most of it (so the
/// controller merges), then a mixed load.
fn pick_op(rng: &mut StdRng, phase: f64) -> Op {
    let w: [(Op, u32); 7] = if phase < 0.35 {
        [
            (Op::Get, 25),
            (Op::Set, 35),
            (Op::Del, 4),
            (Op::Incr, 10),
            (Op::Expire, 5),
            (Op::Pexpire, 6),
            (Op::Counter, 15),
        ]
    } else if phase < 0.6 {
        [
            (Op::Get, 25),
            (Op::Set, 2),
            (Op::Del, 45),
            (Op::Incr, 1),
            (Op::Expire, 5),
            (Op::Pexpire, 7),
            (Op::Counter, 15),
        ]
    } else {
        [
            (Op::Get, 30),
            (Op::Set, 20),
            (Op::Del, 12),
            (Op::Incr, 8),
            (Op::Expire, 5),
            (Op::Pexpire, 10),
            (Op::Counter, 15),
        ]
    };
    let total: u32 = w.iter().map(|x| x.1).sum();
    let mut r = rng.gen_range(0..total);
    for (op, weight) in w {
        if r < weight {
            return op;
        }
        r -= weight;
    }
    Op::Get
}

struct ClientReport {
    ops: u64,
    /// Acknowledged INCRs per shared counter.
    acks: Vec<u64>,
    /// The model of this client's own keys.
    model: HashMap<usize, Option<Live>>,
}

fn plain_key(i: usize) -> String {
    format!("k:{i}")
}

fn counter_key(j: usize) -> String {
    format!("ctr:{j}")
}

/// One client: random ops on its own keys (checked at once against its model)
/// and INCRs of the shared counters.
fn run_client(
    id: usize,
    mut con: Connection,
    stop: &AtomicBool,
    start: Instant,
) -> Result<ClientReport, String> {
    let mut rng = StdRng::seed_from_u64(0x5EED_0000 + id as u64);
    let own: Vec<usize> = (0..PLAIN_KEYS).filter(|i| i % CLIENTS == id).collect();
    let mut model: HashMap<usize, Option<Live>> = own.iter().map(|&i| (i, None)).collect();
    let mut acks = vec![0u64; COUNTERS];
    let mut last_seen = vec![0i64; COUNTERS];
    let mut ops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let phase = start.elapsed().as_secs_f64() / RUN.as_secs_f64();
        let op = pick_op(&mut rng, phase);
        ops += 1;
        if let Op::Counter = op {
            let j = rng.gen_range(0..COUNTERS);
            let r: i64 = redis::cmd("INCR")
                .arg(counter_key(j))
                .query(&mut con)
                .map_err(|e| format!("client {id}: INCR {}: {}", counter_key(j), err_text(&e)))?;
            acks[j] += 1;
            if r < acks[j] as i64 || r <= last_seen[j] {
                return Err(format!(
                    "client {id}: INCR {} answered {r}, but this client alone has had {} INCRs acknowledged and last saw {}",
                    counter_key(j),
                    acks[j],
                    last_seen[j]
                ));
            }
            last_seen[j] = r;
            continue;
        }
        let i = own[rng.gen_range(0..own.len())];
        let key = plain_key(i);
        let before = model[&i];
        let fail = |what: String, sent: i64, got: i64| {
            Err(format!(
                "client {id}: {what} (key {key}, model {before:?}, sent at {sent}, answered at {got}, {} ms into the run)",
                start.elapsed().as_millis()
            ))
        };
        let sent = now_ms();
        match op {
            Op::Get => {
                let r: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query(&mut con)
                    .map_err(|e| format!("client {id}: GET {key}: {}", err_text(&e)))?;
                let got = now_ms();
                let r: Option<i64> = match r {
                    None => None,
                    Some(s) => match s.parse() {
                        Ok(n) => Some(n),
                        Err(_) => return fail(format!("GET answered {s:?}"), sent, got),
                    },
                };
                match (before, r) {
                    (None, None) => {}
                    (None, Some(v)) => {
                        return fail(
                            format!("GET resurrected a deleted or expired key: {v}"),
                            sent,
                            got,
                        )
                    }
                    (Some(live), None) => {
                        let (alive, _) = alive_gone(&live, sent, got);
                        if alive {
                            return fail("GET lost a live key: nil".into(), sent, got);
                        }
                        model.insert(i, None);
                    }
                    (Some(live), Some(v)) => {
                        let (_, gone) = alive_gone(&live, sent, got);
                        if v != live.value {
                            return fail(format!("GET answered {v}"), sent, got);
                        }
                        if gone {
                            return fail(format!("GET served an expired key: {v}"), sent, got);
                        }
                    }
                }
            }
            Op::Set => {
                let v: i64 = rng.gen_range(1_000..1_000_000_000);
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(v)
                    .query(&mut con)
                    .map_err(|e| format!("client {id}: SET {key}: {}", err_text(&e)))?;
                model.insert(
                    i,
                    Some(Live {
                        value: v,
                        ttl: Ttl::None,
                    }),
                );
            }
            Op::Del => {
                let n: i64 = redis::cmd("DEL")
                    .arg(&key)
                    .query(&mut con)
                    .map_err(|e| format!("client {id}: DEL {key}: {}", err_text(&e)))?;
                let got = now_ms();
                let ok = match before {
                    None => n == 0,
                    Some(live) => {
                        let (alive, gone) = alive_gone(&live, sent, got);
                        (n == 1 && !gone) || (n == 0 && !alive)
                    }
                };
                if !ok {
                    return fail(format!("DEL answered {n}"), sent, got);
                }
                model.insert(i, None);
            }
            Op::Incr => {
                let r: i64 = redis::cmd("INCR")
                    .arg(&key)
                    .query(&mut con)
                    .map_err(|e| format!("client {id}: INCR {key}: {}", err_text(&e)))?;
                let got = now_ms();
                match before {
                    None if r == 1 => {
                        model.insert(
                            i,
                            Some(Live {
                                value: 1,
                                ttl: Ttl::None,
                            }),
                        );
                    }
                    // Values are >= 1, so value + 1 >= 2 and never looks like a new key.
                    Some(live) if r == live.value + 1 && !alive_gone(&live, sent, got).1 => {
                        model.insert(i, Some(Live { value: r, ..live }));
                    }
                    Some(live) if r == 1 && !alive_gone(&live, sent, got).0 => {
                        model.insert(
                            i,
                            Some(Live {
                                value: 1,
                                ttl: Ttl::None,
                            }),
                        );
                    }
                    _ => return fail(format!("INCR answered {r}"), sent, got),
                }
            }
            Op::Expire | Op::Pexpire => {
                let short = matches!(op, Op::Pexpire);
                let ttl: i64 = if short {
                    rng.gen_range(20..=200)
                } else {
                    LONG_TTL_S
                };
                let name = if short { "PEXPIRE" } else { "EXPIRE" };
                let n: i64 = redis::cmd(name)
                    .arg(&key)
                    .arg(ttl)
                    .query(&mut con)
                    .map_err(|e| format!("client {id}: {name} {key}: {}", err_text(&e)))?;
                let got = now_ms();
                let new_ttl = if short {
                    Ttl::Short {
                        lo: sent + ttl - MARGIN_MS,
                        hi: got + ttl + MARGIN_MS,
                    }
                } else {
                    Ttl::Long
                };
                match before {
                    None if n == 0 => {}
                    Some(live) if n == 1 && !alive_gone(&live, sent, got).1 => {
                        model.insert(
                            i,
                            Some(Live {
                                value: live.value,
                                ttl: new_ttl,
                            }),
                        );
                    }
                    Some(live) if n == 0 && !alive_gone(&live, sent, got).0 => {
                        model.insert(i, None);
                    }
                    _ => return fail(format!("{name} {ttl} answered {n}"), sent, got),
                }
            }
            Op::Counter => unreachable!("handled above"),
        }
    }
    Ok(ClientReport { ops, acks, model })
}

#[derive(Default, Debug)]
struct Forced {
    migrations: u64,
    splits: i64,
    merges: u64,
    rebalances: i64,
    /// Error replies, with digits blanked so that alike ones group together.
    errors: BTreeMap<String, u64>,
}

fn blank_digits(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            out.push(c);
            in_num = false;
        }
    }
    out
}

/// Random MIGRATE / SPLIT / MERGE / REBALANCE without pause until `stop`.
fn run_forcer(mut con: Connection, stop: &AtomicBool) -> Forced {
    let mut rng = StdRng::seed_from_u64(0xF0_4CE);
    let mut f = Forced::default();
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.gen_range(0..100);
        let result = if roll < 55 {
            // Mostly to the other core; sometimes to a random one (maybe its own).
            let t = table(&mut con);
            let shard = rng.gen_range(0..t.shards);
            let core = match t.owners.get(shard as usize) {
                Some(&owner) if rng.gen_bool(0.8) => 1 - owner,
                _ => rng.gen_range(0..2),
            };
            let (shard, core) = (shard.to_string(), core.to_string());
            admin(&mut con, &["MIGRATE", &shard, &core]).map(|_| f.migrations += 1)
        } else if roll < 70 {
            admin(&mut con, &["SPLIT"]).map(|v| f.splits += num(&v))
        } else if roll < 90 {
            admin(&mut con, &["MERGE"]).map(|_| f.merges += 1)
        } else {
            admin(&mut con, &["REBALANCE"]).map(|v| f.rebalances += num(&v))
        };
        if let Err(e) = result {
            assert!(
                e.starts_with("ERR"),
                "a STAIRKV command failed without an error reply: {e}"
            );
            *f.errors.entry(blank_digits(&e)).or_default() += 1;
        }
    }
    f
}

#[test]
fn randomized_clients_while_the_staircase_moves() {
    // Tiny migration batches: a shard of ~64 keys takes dozens of batches to
    // move, so many client ops land mid-migration (pulls, forwards, installs
    // racing writes and deletes).
    let server = Server::start(
        2,
        &[
            "--shard-max-keys",
            "64",
            "--controller-interval-ms",
            "20",
            "--migrate-batch",
            "2",
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let clients: Vec<JoinHandle<Result<ClientReport, String>>> = (0..CLIENTS)
        .map(|id| {
            let con = client(&server, Duration::from_secs(30));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let r = run_client(id, con, &stop, start);
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                r
            })
        })
        .collect();
    let forcer = {
        let con = client(&server, Duration::from_secs(60));
        let stop = stop.clone();
        std::thread::spawn(move || run_forcer(con, &stop))
    };
    while !stop.load(Ordering::Relaxed) && start.elapsed() < RUN {
        sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let reports: Vec<Result<ClientReport, String>> = clients.into_iter().map(join).collect();
    let forced = join(forcer);
    let failures: Vec<&String> = reports.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "client replies disagreed with the model: {failures:#?}"
    );
    let reports: Vec<ClientReport> = reports.into_iter().map(|r| r.expect("checked")).collect();

    // Past every short TTL's window.
    sleep(Duration::from_millis(600));
    let now = now_ms();
    let mut con = client(&server, Duration::from_secs(30));

    // Every plain key: loss and resurrection.
    let mut expected: Vec<(usize, Option<Live>)> = Vec::new();
    for r in &reports {
        for (&i, live) in &r.model {
            let live = match live {
                Some(Live {
                    ttl: Ttl::Short { hi, .. },
                    ..
                }) => {
                    assert!(*hi < now, "the final check started inside a TTL window");
                    None
                }
                other => *other,
            };
            expected.push((i, live));
        }
    }
    expected.sort_by_key(|e| e.0);
    let mut wrong = Vec::new();
    for chunk in expected.chunks(500) {
        let mut mget = redis::cmd("MGET");
        let mut pttl = redis::pipe();
        for (i, _) in chunk {
            mget.arg(plain_key(*i));
            pttl.cmd("PTTL").arg(plain_key(*i));
        }
        let values: Vec<Option<String>> = mget.query(&mut con).expect("final MGET");
        let ttls: Vec<i64> = pttl.query(&mut con).expect("final PTTLs");
        for (((i, want), got), ttl) in chunk.iter().zip(values).zip(ttls) {
            let got_num = got.as_ref().map(|s| s.parse::<i64>().ok());
            let ok = match want {
                None => got.is_none() && ttl == -2,
                Some(live) => {
                    got_num == Some(Some(live.value))
                        && match live.ttl {
                            Ttl::None => ttl == -1,
                            Ttl::Long => ttl > 0 && ttl <= LONG_TTL_S * 1000,
                            Ttl::Short { .. } => false,
                        }
                }
            };
            if !ok {
                wrong.push(format!(
                    "{}: want {want:?}, got {got:?} with PTTL {ttl}",
                    plain_key(*i)
                ));
            }
        }
    }
    let live = expected.iter().filter(|e| e.1.is_some()).count() as i64;

    // Every shared counter: the sum of acknowledged INCRs.
    let mut counters_used = 0i64;
    for j in 0..COUNTERS {
        let want: u64 = reports.iter().map(|r| r.acks[j]).sum();
        let got: Option<i64> = redis::cmd("GET")
            .arg(counter_key(j))
            .query(&mut con)
            .expect("GET counter");
        if want > 0 {
            counters_used += 1;
        }
        let want = if want == 0 { None } else { Some(want as i64) };
        if got != want {
            wrong.push(format!("{}: want {want:?}, got {got:?}", counter_key(j)));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} keys differ from the model at the end, e.g. {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
    assert_eq!(
        dbsize(&mut con),
        live + counters_used,
        "DBSIZE: {live} live plain keys + {counters_used} counters"
    );

    let info = staircase_info(&mut con);
    let ops: u64 = reports.iter().map(|r| r.ops).sum();
    eprintln!(
        "randomized: {ops} client ops; by hand {} migrations, {} splits, {} merges, {} rebalance moves; error replies {:?}",
        forced.migrations, forced.splits, forced.merges, forced.rebalances, forced.errors
    );
    eprintln!(
        "randomized: INFO staircase migrations_done={} splits_done={} merges_done={} keys_migrated={} rebalance_moves={} pulled_keys={} forwarded_ops={} shards={}; {live} live plain keys at the end",
        info_num(&info, "migrations_done"),
        info_num(&info, "splits_done"),
        info_num(&info, "merges_done"),
        info_num(&info, "keys_migrated"),
        info_num(&info, "rebalance_moves"),
        info_num(&info, "pulled_keys"),
        info_num(&info, "forwarded_ops"),
        info_num(&info, "shards"),
    );
    assert!(
        info_num(&info, "migrations_done") >= 20,
        "too few migrations to prove anything: {info:?}"
    );
    assert!(
        info_num(&info, "splits_done") > 0,
        "no split happened: {info:?}"
    );
    assert!(
        info_num(&info, "merges_done") > 0,
        "no merge happened: {info:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. Full SCANs while shards migrate back and forth.

fn scan_call(
    con: &mut Connection,
    cursor: &str,
    count: usize,
    pattern: Option<&str>,
) -> (String, Vec<String>) {
    let mut c = redis::cmd("SCAN");
    c.arg(cursor).arg("COUNT").arg(count);
    if let Some(p) = pattern {
        c.arg("MATCH").arg(p);
    }
    let v: Value = c.query(con).unwrap_or_else(|e| {
        panic!(
            "SCAN {cursor} COUNT {count} MATCH {pattern:?}: {}",
            err_text(&e)
        )
    });
    scan_reply(v)
}

/// Redis glob for the two shapes used here: "prefix*" and "*suffix".
fn glob(pattern: &str, key: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        key.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        key.ends_with(suffix)
    } else {
        key == pattern
    }
}

#[test]
fn scan_while_shards_migrate() {
    const N: usize = 50_000;
    let server = Server::start(
        2,
        &[
            "--autoscale",
            "off",
            "--initial-shards",
            "8",
            "--shard-max-keys",
            "1000000",
            "--migrate-batch",
            "64",
        ],
    );
    let mut con = client(&server, Duration::from_secs(30));
    let written: HashSet<String> = (0..N).map(|i| format!("scan:{i}")).collect();
    set_pipelined(
        &mut con,
        (0..N).map(|i| (format!("scan:{i}"), i.to_string())),
    );
    assert_eq!(dbsize(&mut con), N as i64, "DBSIZE after loading");
    assert_eq!(table(&mut con).shards, 8, "--initial-shards 8");

    let stop = Arc::new(AtomicBool::new(false));
    let moved = Arc::new(AtomicU64::new(0));
    let migrator = {
        let mut con = client(&server, Duration::from_secs(120));
        let (stop, moved) = (stop.clone(), moved.clone());
        std::thread::spawn(move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                for shard in 0..8usize {
                    let owner = table(&mut con).owners[shard];
                    let to = (1 - owner).to_string();
                    admin(&mut con, &["MIGRATE", &shard.to_string(), &to])
                        .map_err(|e| format!("MIGRATE {shard} {to}: {e}"))?;
                    moved.fetch_add(1, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
            Ok(())
        })
    };

    let variants: [(usize, Option<&str>); 4] = [
        (100, None),
        (1000, None),
        (100, Some("scan:1*")),
        (1000, Some("*7")),
    ];
    let mut calls = 0usize;
    let mut mid_migration = 0usize;
    let (mut dbsize_off, mut dbsize_min) = (0usize, N as i64);
    let mut scans = 0usize;
    let started = Instant::now();
    // Two rounds of every variant, and on until the migrator has moved every
    // shard at least twice, so that scans overlap many migrations.
    while scans < 8
        || (moved.load(Ordering::Relaxed) < 16 && started.elapsed() < Duration::from_secs(30))
    {
        let (count, pattern) = variants[scans % variants.len()];
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursor = "0".to_string();
        let mut these = 0usize;
        loop {
            if table(&mut con).moving > 0 {
                mid_migration += 1;
                // The target counts the source's part when its answer arrives,
                // in order with the batches: nothing in flight is missed or
                // counted twice.
                let d = dbsize(&mut con);
                if d != N as i64 {
                    dbsize_off += 1;
                    dbsize_min = dbsize_min.min(d);
                }
                if mid_migration % 50 == 1 {
                    let keys: Vec<String> =
                        redis::cmd("KEYS").arg("*").query(&mut con).expect("KEYS");
                    let unique: HashSet<&String> = keys.iter().collect();
                    assert_eq!(
                        (keys.len(), unique.len()),
                        (N, N),
                        "KEYS * during a migration lists every key once"
                    );
                }
            }
            let (next, keys) = scan_call(&mut con, &cursor, count, pattern);
            for k in keys {
                assert!(
                    written.contains(&k),
                    "SCAN returned a key nobody wrote: {k:?}"
                );
                if let Some(p) = pattern {
                    assert!(glob(p, &k), "SCAN MATCH {p} returned {k:?}");
                }
                seen.insert(k);
            }
            calls += 1;
            these += 1;
            cursor = next;
            if cursor == "0" {
                break;
            }
            assert!(
                these < 100_000,
                "SCAN COUNT {count} MATCH {pattern:?} did not terminate after {these} calls"
            );
        }
        let missing: Vec<&String> = written
            .iter()
            .filter(|k| pattern.is_none_or(|p| glob(p, k)) && !seen.contains(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "a full SCAN COUNT {count} MATCH {pattern:?} missed {} keys ({these} calls, {} migrations so far), e.g. {:?}",
            missing.len(),
            moved.load(Ordering::Relaxed),
            &missing[..missing.len().min(10)]
        );
        scans += 1;
    }
    stop.store(true, Ordering::Relaxed);
    join(migrator).expect("every MIGRATE succeeds with autoscale off");
    let migrations = moved.load(Ordering::Relaxed);
    let info = staircase_info(&mut con);
    eprintln!(
        "scan: {scans} full scans, {calls} SCAN calls, {mid_migration} of them while a shard was moving; {migrations} migrations, keys_migrated={} pulled_keys={} forwarded_ops={}; DBSIZE sampled mid-migration was off {dbsize_off} of {mid_migration} times (lowest {dbsize_min}, want {N})",
        info_num(&info, "keys_migrated"),
        info_num(&info, "pulled_keys"),
        info_num(&info, "forwarded_ops"),
    );
    assert!(
        mid_migration > 0,
        "no SCAN call landed during a migration: the test proved nothing"
    );
    assert!(migrations >= 8, "only {migrations} migrations ran");
    assert_eq!(
        dbsize_off, 0,
        "DBSIZE during migrations was off {dbsize_off} times (lowest {dbsize_min}, want {N})"
    );
    assert_eq!(dbsize(&mut con), N as i64, "DBSIZE once migrations stopped");
    let rows = shard_rows(&mut con);
    assert_eq!(
        rows.iter().map(|r| r.keys).sum::<i64>(),
        N as i64,
        "STAIRKV SHARDS keys: {rows:?}"
    );
    assert_eq!(rows.len(), 8, "one row per shard once settled: {rows:?}");
}

// ---------------------------------------------------------------------------
// 3. A shard of about a million keys moved under load.

/// Scaled down in debug builds, where loading two million keys takes minutes.
const BIG: usize = if cfg!(debug_assertions) {
    200_000
} else {
    2_000_000
};

fn big_key(i: usize) -> String {
    format!("big:{i}")
}

fn big_value(i: usize) -> String {
    format!("v{:x}", i.wrapping_mul(2_654_435_761) % 1_000_000_007)
}

struct Worker {
    ops: u64,
    ops_during: u64,
    /// Values this worker SET on loaded keys.
    updates: HashMap<usize, String>,
    /// INCR counters it created: key -> value.
    counters: HashMap<String, i64>,
}

fn run_worker(
    id: usize,
    mut con: Connection,
    stop: &AtomicBool,
    migrating: &AtomicBool,
) -> Result<Worker, String> {
    let mut rng = StdRng::seed_from_u64(0xB16_0000 + id as u64);
    let mut w = Worker {
        ops: 0,
        ops_during: 0,
        updates: HashMap::new(),
        counters: HashMap::new(),
    };
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Own keys: i % 2 == id.
        let i = rng.gen_range(0..BIG / 2) * 2 + id;
        let key = big_key(i);
        match rng.gen_range(0..10) {
            0..=5 => {
                let got: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query(&mut con)
                    .map_err(|e| format!("worker {id}: GET {key}: {}", err_text(&e)))?;
                let want = w.updates.get(&i).cloned().unwrap_or_else(|| big_value(i));
                if got.as_deref() != Some(want.as_str()) {
                    return Err(format!(
                        "worker {id}: GET {key} answered {got:?}, want {want:?}"
                    ));
                }
            }
            6..=8 => {
                seq += 1;
                let v = format!("w{id}-{seq}");
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(&v)
                    .query(&mut con)
                    .map_err(|e| format!("worker {id}: SET {key}: {}", err_text(&e)))?;
                w.updates.insert(i, v);
            }
            _ => {
                let c = format!("inc:{id}:{}", rng.gen_range(0..100));
                let got: i64 = redis::cmd("INCR")
                    .arg(&c)
                    .query(&mut con)
                    .map_err(|e| format!("worker {id}: INCR {c}: {}", err_text(&e)))?;
                let want = w.counters.get(&c).copied().unwrap_or(0) + 1;
                if got != want {
                    return Err(format!("worker {id}: INCR {c} answered {got}, want {want}"));
                }
                w.counters.insert(c, want);
            }
        }
        w.ops += 1;
        if migrating.load(Ordering::Relaxed) {
            w.ops_during += 1;
        }
    }
    Ok(w)
}

#[test]
fn a_million_key_shard_moves_under_load() {
    let server = Server::start(
        2,
        &[
            "--autoscale",
            "off",
            "--initial-shards",
            "2",
            "--shard-max-keys",
            "10000000",
        ],
    );
    let t = Instant::now();
    let loaders: Vec<JoinHandle<()>> = (0..2)
        .map(|part| {
            let mut con = client(&server, Duration::from_secs(60));
            std::thread::spawn(move || {
                let range = (part * BIG / 2)..((part + 1) * BIG / 2);
                set_pipelined(&mut con, range.map(|i| (big_key(i), big_value(i))));
            })
        })
        .collect();
    for l in loaders {
        join(l);
    }
    let load_time = t.elapsed();
    let mut con = client(&server, Duration::from_secs(600));
    assert_eq!(dbsize(&mut con), BIG as i64, "DBSIZE after loading");
    let rows = shard_rows(&mut con);
    assert_eq!(rows.len(), 2, "two shards: {rows:?}");
    let shard0 = rows.iter().find(|r| r.shard == 0).expect("shard 0").clone();
    assert_eq!(shard0.core, 0, "shard 0 starts on core 0: {rows:?}");
    assert!(
        shard0.keys as usize >= BIG * 9 / 20,
        "shard 0 holds only {} of {BIG} keys",
        shard0.keys
    );

    let stop = Arc::new(AtomicBool::new(false));
    let migrating = Arc::new(AtomicBool::new(true));
    let workers: Vec<JoinHandle<Result<Worker, String>>> = (0..2)
        .map(|id| {
            let con = client(&server, Duration::from_secs(60));
            let (stop, migrating) = (stop.clone(), migrating.clone());
            std::thread::spawn(move || {
                let r = run_worker(id, con, &stop, &migrating);
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                r
            })
        })
        .collect();
    sleep(Duration::from_millis(100));
    let t = Instant::now();
    let reply = admin(&mut con, &["MIGRATE", "0", "1"]);
    let took = t.elapsed();
    migrating.store(false, Ordering::Relaxed);
    sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let workers: Vec<Result<Worker, String>> = workers.into_iter().map(join).collect();
    reply.expect("STAIRKV MIGRATE 0 1");
    let errors: Vec<&String> = workers.iter().filter_map(|w| w.as_ref().err()).collect();
    assert!(
        errors.is_empty(),
        "clients during the migration: {errors:#?}"
    );
    let workers: Vec<Worker> = workers.into_iter().map(|w| w.expect("checked")).collect();
    let ops_during: u64 = workers.iter().map(|w| w.ops_during).sum();

    let info = staircase_info(&mut con);
    eprintln!(
        "million: loaded {BIG} keys in {:.1} s; shard 0 ({} keys) moved core 0 -> 1 in {:.2} s; keys_migrated={} pulled_keys={} forwarded_ops={}; {} client ops in all, {ops_during} during the move",
        load_time.as_secs_f64(),
        shard0.keys,
        took.as_secs_f64(),
        info_num(&info, "keys_migrated"),
        info_num(&info, "pulled_keys"),
        info_num(&info, "forwarded_ops"),
        workers.iter().map(|w| w.ops).sum::<u64>(),
    );
    assert!(ops_during > 0, "no client op ran during the migration");

    let counters: usize = workers.iter().map(|w| w.counters.len()).sum();
    let rows = shard_rows(&mut con);
    let zero: Vec<&ShardRow> = rows.iter().filter(|r| r.shard == 0).collect();
    assert_eq!(
        zero.len(),
        1,
        "shard 0 listed once after the move: {rows:?}"
    );
    assert_eq!(zero[0].core, 1, "shard 0 on core 1: {rows:?}");
    assert_eq!(zero[0].state, "stable", "shard 0 settled: {rows:?}");
    assert!(
        zero[0].keys >= shard0.keys && zero[0].keys <= shard0.keys + counters as i64,
        "shard 0 held {} keys before the move and {} after ({counters} counters were added)",
        shard0.keys,
        zero[0].keys
    );
    assert_eq!(
        rows.iter().map(|r| r.keys).sum::<i64>(),
        (BIG + counters) as i64,
        "STAIRKV SHARDS keys: {rows:?}"
    );
    assert_eq!(
        dbsize(&mut con),
        (BIG + counters) as i64,
        "DBSIZE: {BIG} loaded + {counters} counters"
    );
    // Every key of the shard reached core 1 by the stream, by a pull, or by a
    // client's SET there (which makes the streamed copy stale).
    let updated: usize = workers.iter().map(|w| w.updates.len()).sum();
    assert!(
        info_num(&info, "keys_migrated") + info_num(&info, "pulled_keys") + updated as i64
            >= shard0.keys,
        "keys_migrated + pulled_keys + {updated} updates below the shard's {} keys: {info:?}",
        shard0.keys
    );

    // Every value.
    let mut updates: HashMap<usize, &String> = HashMap::new();
    for w in &workers {
        updates.extend(w.updates.iter().map(|(i, v)| (*i, v)));
    }
    let mut wrong = Vec::new();
    for start in (0..BIG).step_by(1000) {
        let end = (start + 1000).min(BIG);
        let mut mget = redis::cmd("MGET");
        for i in start..end {
            mget.arg(big_key(i));
        }
        let got: Vec<Option<String>> = mget.query(&mut con).expect("MGET");
        assert_eq!(got.len(), end - start, "MGET reply length");
        for (i, g) in (start..end).zip(got) {
            let want = updates
                .get(&i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| big_value(i));
            if g.as_deref() != Some(want.as_str()) {
                wrong.push(format!("{}: want {want:?}, got {g:?}", big_key(i)));
            }
        }
    }
    for w in &workers {
        for (c, &n) in &w.counters {
            let got: Option<i64> = redis::cmd("GET")
                .arg(c)
                .query(&mut con)
                .expect("GET counter");
            if got != Some(n) {
                wrong.push(format!("{c}: want {n}, got {got:?}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} keys wrong after the move, e.g. {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
}

// ---------------------------------------------------------------------------
// 4. STAIRKV by hand: errors, split and merge, a TTL across migrations.

fn admin_err(con: &mut Connection, args: &[&str]) -> String {
    match admin(con, args) {
        Ok(v) => panic!("STAIRKV {} answered {v:?}, want an error", args.join(" ")),
        Err(e) => e,
    }
}

#[test]
fn migrate_errors() {
    let server = Server::start(2, &["--autoscale", "off"]);
    let mut con = client(&server, Duration::from_secs(30));
    let t = table(&mut con);
    assert!(t.shards >= 2, "at least one shard per core: {t:?}");
    let n = t.shards;

    assert_eq!(
        admin_err(&mut con, &["MIGRATE", "99", "1"]),
        "ERR no such shard 99"
    );
    assert_eq!(
        admin_err(&mut con, &["MIGRATE", &n.to_string(), "1"]),
        format!("ERR no such shard {n}"),
        "the shard one past the last"
    );
    assert_eq!(
        admin_err(&mut con, &["MIGRATE", "0", "2"]),
        "ERR no such core 2 (cores are 0..1)"
    );
    assert_eq!(
        admin_err(&mut con, &["MIGRATE", "0", "7"]),
        "ERR no such core 7 (cores are 0..1)"
    );
    for args in [
        ["MIGRATE", "x", "1"],
        ["MIGRATE", "0", "y"],
        ["MIGRATE", "-1", "1"],
        ["MIGRATE", "0", "-1"],
        ["MIGRATE", "1.5", "0"],
    ] {
        let e = admin_err(&mut con, &args);
        assert!(
            e.starts_with("ERR") && e.contains("integer"),
            "STAIRKV {}: {e}",
            args.join(" ")
        );
    }
    let owner = t.owners[0];
    assert_eq!(
        admin_err(&mut con, &["MIGRATE", "0", &owner.to_string()]),
        format!("ERR shard 0 is already on core {owner}")
    );
    for args in [
        &["MIGRATE"][..],
        &["MIGRATE", "0"],
        &["MIGRATE", "0", "1", "2"],
    ] {
        let e = admin_err(&mut con, args);
        assert!(
            e.starts_with("ERR wrong number of arguments"),
            "STAIRKV {}: {e}",
            args.join(" ")
        );
    }
    // None of that changed anything; a real move does, and then it is "already there".
    let after = table(&mut con);
    assert_eq!(after.owners, t.owners, "errors moved a shard");
    let other = (1 - owner).to_string();
    admin_ok(&mut con, &["MIGRATE", "0", &other]);
    assert_eq!(table(&mut con).owners[0], 1 - owner, "shard 0 moved");
    assert_eq!(
        admin_err(&mut con, &["MIGRATE", "0", &other]),
        format!("ERR shard 0 is already on core {other}")
    );
}

#[test]
fn split_and_merge_by_hand() {
    let server = Server::start(2, &["--autoscale", "off"]);
    let mut con = client(&server, Duration::from_secs(30));
    const N: usize = 2_000;
    set_pipelined(
        &mut con,
        (0..N).map(|i| (format!("sm:{i}"), format!("v{i}"))),
    );
    let check_all = |con: &mut Connection, when: &str| {
        for start in (0..N).step_by(500) {
            let mut mget = redis::cmd("MGET");
            for i in start..start + 500 {
                mget.arg(format!("sm:{i}"));
            }
            let got: Vec<Option<String>> = mget.query(con).expect("MGET");
            for (i, g) in (start..start + 500).zip(got) {
                assert_eq!(g, Some(format!("v{i}")), "sm:{i} {when}");
            }
        }
        assert_eq!(dbsize(con), N as i64, "DBSIZE {when}");
    };
    let before = table(&mut con).shards;
    assert_eq!(
        admin_err(&mut con, &["MERGE"]),
        "ERR the staircase is at its smallest",
        "MERGE on a fresh server"
    );
    assert_eq!(
        admin_err(&mut con, &["SPLIT", "99"]),
        "ERR no such shard 99"
    );
    assert_eq!(
        table(&mut con).shards,
        before,
        "failed commands changed the table"
    );

    assert_eq!(num(&admin_ok(&mut con, &["SPLIT"])), 1, "STAIRKV SPLIT");
    assert_eq!(
        table(&mut con).shards,
        before + 1,
        "one split, one more shard"
    );
    assert_eq!(
        shard_rows(&mut con).len() as i64,
        before + 1,
        "STAIRKV SHARDS rows"
    );
    check_all(&mut con, "after a split");
    assert_eq!(
        num(&admin_ok(&mut con, &["SPLIT"])),
        1,
        "a second STAIRKV SPLIT"
    );
    assert_eq!(table(&mut con).shards, before + 2);
    check_all(&mut con, "after two splits");

    // The last step's two shards may sit on different cores: MERGE brings them together.
    let last = (before + 1).to_string();
    let owners = table(&mut con).owners;
    let _ = admin(
        &mut con,
        &[
            "MIGRATE",
            &last,
            &(1 - owners[(before + 1) as usize]).to_string(),
        ],
    );
    assert_eq!(admin_ok(&mut con, &["MERGE"]), Value::Okay, "STAIRKV MERGE");
    assert_eq!(
        table(&mut con).shards,
        before + 1,
        "one merge, one shard fewer"
    );
    check_all(&mut con, "after a merge");
    assert_eq!(
        admin_ok(&mut con, &["MERGE"]),
        Value::Okay,
        "second STAIRKV MERGE"
    );
    assert_eq!(table(&mut con).shards, before, "back to the start");
    assert_eq!(
        shard_rows(&mut con).len() as i64,
        before,
        "STAIRKV SHARDS rows"
    );
    check_all(&mut con, "after merging back");
    assert_eq!(
        admin_err(&mut con, &["MERGE"]),
        "ERR the staircase is at its smallest"
    );
    let info = staircase_info(&mut con);
    assert_eq!(info_num(&info, "splits_done"), 2, "{info:?}");
    assert_eq!(info_num(&info, "merges_done"), 2, "{info:?}");
}

#[test]
fn ttl_survives_migration() {
    let server = Server::start(2, &["--autoscale", "off", "--initial-shards", "4"]);
    let mut con = client(&server, Duration::from_secs(30));
    const TTL: i64 = 3_000;
    const N: usize = 200;
    let keys: Vec<String> = (0..N).map(|i| format!("ttl:{i}")).collect();
    let set_at = now_ms();
    let mut p = redis::pipe();
    for k in &keys {
        p.cmd("SET").arg(k).arg("v").arg("PX").arg(TTL).ignore();
    }
    p.cmd("SET").arg("ttl:forever").arg("f").ignore();
    p.query::<()>(&mut con).expect("SET PX");
    let set_done = now_ms();

    let check = |con: &mut Connection, when: &str| {
        let sent = now_ms();
        let mut p = redis::pipe();
        for k in &keys {
            p.cmd("PTTL").arg(k);
        }
        let ttls: Vec<i64> = p.query(con).expect("PTTLs");
        // The deadline is set_at..=set_done + TTL; it must not have moved.
        for (k, ttl) in keys.iter().zip(ttls) {
            assert!(
                ttl > 0 && ttl <= TTL && ttl <= set_done + TTL - sent + 5,
                "{k}: PTTL {ttl} {when} ({} ms after the SET)",
                sent - set_at
            );
        }
        let pttl: i64 = redis::cmd("PTTL")
            .arg("ttl:forever")
            .query(con)
            .expect("PTTL");
        assert_eq!(pttl, -1, "ttl:forever {when}");
    };
    check(&mut con, "before any migration");
    let shards = table(&mut con).shards as usize;
    let mut moves = 0;
    for round in 0..2 {
        for s in 0..shards {
            let owner = table(&mut con).owners[s];
            admin_ok(
                &mut con,
                &["MIGRATE", &s.to_string(), &(1 - owner).to_string()],
            );
            moves += 1;
        }
        check(&mut con, &format!("after migration round {round}"));
    }
    assert!(
        now_ms() < set_at + TTL,
        "the migrations took longer than the TTL: no proof"
    );
    let wait = set_done + TTL + 50 - now_ms();
    if wait > 0 {
        sleep(Duration::from_millis(wait as u64));
    }
    for k in &keys {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut con).expect("GET");
        assert_eq!(
            v, None,
            "{k} outlived its deadline after {moves} migrations"
        );
    }
    // Active expiry removes them without being touched again (GET above already
    // touched them; DBSIZE counts what is stored).
    let deadline = Instant::now() + Duration::from_secs(5);
    while dbsize(&mut con) != 1 && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    assert_eq!(dbsize(&mut con), 1, "only ttl:forever is left");
    let info = staircase_info(&mut con);
    assert_eq!(info_num(&info, "migrations_done"), moves, "{info:?}");
}

/// The knobs: `--autoscale off` leaves the staircase alone however full it gets,
/// `CONFIG SET autoscale on` lets the controller grow it, and the staircase
/// settings answer CONFIG GET and refuse values that would make it oscillate.
#[test]
fn autoscale_and_staircase_settings() {
    let server = Server::start(
        2,
        &[
            "--autoscale",
            "off",
            "--shard-max-keys",
            "64",
            "--controller-interval-ms",
            "10",
        ],
    );
    let mut con = client(&server, Duration::from_secs(10));
    let get = |con: &mut Connection, name: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .expect("CONFIG GET");
        v.get(1).cloned().unwrap_or_default()
    };
    assert_eq!(get(&mut con, "autoscale"), "off");
    assert_eq!(
        get(&mut con, "shard-min-keys"),
        "16",
        "a quarter of shard-max-keys"
    );
    assert_eq!(get(&mut con, "migrate-batch"), "512");
    assert_eq!(get(&mut con, "rebalance-threshold"), "25");
    set_pipelined(
        &mut con,
        (0..5000).map(|i| (format!("a:{i}"), i.to_string())),
    );
    sleep(Duration::from_millis(200));
    let before = table(&mut con).shards;
    assert_eq!(before, 2, "with autoscale off nothing splits");
    let info = staircase_info(&mut con);
    assert_eq!(info.get("autoscale").map(String::as_str), Some("off"));

    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("autoscale")
        .arg("on")
        .query(&mut con)
        .expect("CONFIG SET autoscale on");
    assert_eq!(ok, "OK");
    let deadline = Instant::now() + Duration::from_secs(20);
    while table(&mut con).shards * 64 < 5000 && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    let grown = table(&mut con).shards;
    assert!(
        grown * 64 >= 5000,
        "autoscale on: the staircase grew to {grown} shards"
    );
    assert_eq!(dbsize(&mut con), 5000);

    for (name, value) in [
        ("shard-min-keys", "32"),
        ("shard-max-keys", "20"),
        ("autoscale", "maybe"),
        ("migrate-batch", "x"),
    ] {
        let e = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<String>(&mut con)
            .expect_err("a bad staircase setting is refused");
        assert!(
            err_text(&e).contains(name),
            "CONFIG SET {name} {value}: {}",
            err_text(&e)
        );
    }
    assert_eq!(
        get(&mut con, "shard-max-keys"),
        "64",
        "a refused SET changes nothing"
    );

    // A bad flag is one line and exit status 2, never a panic.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args(["--autoscale", "maybe", "--port", "0", "--text-port", "0"])
        .output()
        .expect("run stairkv");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not on or off"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--shard-max-keys",
            "100",
            "--shard-min-keys",
            "60",
            "--port",
            "0",
        ])
        .output()
        .expect("run stairkv");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shard-min-keys"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
