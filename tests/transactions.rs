//! MULTI/EXEC/DISCARD/WATCH/UNWATCH (and EVAL in the bank) through real clients against the real
//! binary: Redis's replies and errors (RESP2 and RESP3), WATCH spoiled by every
//! kind of touch on either core, clients that vanish mid-transaction, and a
//! bank whose money is moved by concurrent transactions across both cores while
//! the staircase splits, merges and migrates under it — every audit sees the
//! same total and every account ends exactly where the committed transfers say.

mod common;

use common::{error_text as err_text, keys_on_each_core, read_at_least, resp, Server};
use redis::{Commands, Connection, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

fn cmd(con: &mut Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

#[test]
fn multi_exec_queues_and_answers_in_order() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // Raw, to see the exact bytes (the redis crate turns an EXEC holding an error into one error).
    let mut raw = s.raw();
    let mut req = resp(&[b"MULTI"]);
    for args in [
        &[&b"SET"[..], b"a", b"1"][..],
        &[b"INCR", b"a"],
        &[b"SET", b"b", b"x"],
        &[b"INCR", b"b"],
        &[b"MGET", b"a", b"b", b"nope"],
    ] {
        req.extend(resp(args));
    }
    req.extend(resp(&[b"EXEC"]));
    raw.write_all(&req).unwrap();
    let want: &[u8] = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
*5\r\n+OK\r\n:2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n\
*3\r\n$1\r\n2\r\n$1\r\nx\r\n$-1\r\n";
    // A run-time error is the command's reply, in place; the rest still ran.
    assert_eq!(
        String::from_utf8_lossy(&read_at_least(&mut raw, want.len())),
        String::from_utf8_lossy(want)
    );
    // The redis crate's atomic pipeline is MULTI ... EXEC.
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .incr("a", 5)
        .incr("a", 1)
        .query(&mut c)
        .unwrap();
    assert_eq!((x, y), (7, 8));
    // An empty transaction answers an empty array.
    cmd(&mut c, &["MULTI"]).unwrap();
    assert_eq!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(vec![]));
}

#[test]
fn queue_time_errors_and_misuse_get_redis_texts() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert!(err_text(cmd(&mut c, &["EXEC"])).contains("EXEC without MULTI"));
    assert!(err_text(cmd(&mut c, &["DISCARD"])).contains("DISCARD without MULTI"));
    cmd(&mut c, &["MULTI"]).unwrap();
    assert!(err_text(cmd(&mut c, &["MULTI"])).contains("MULTI calls can not be nested"));
    assert!(err_text(cmd(&mut c, &["WATCH", "a"])).contains("WATCH inside MULTI is not allowed"));
    // Neither of those dooms the transaction.
    cmd(&mut c, &["SET", "t", "1"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["EXEC"]).unwrap(),
        Value::Array(vec![Value::Okay])
    );

    for bad in [
        vec!["NOSUCHCOMMAND", "x"],
        vec!["GET"],
        vec!["SET", "a"],
        vec!["SAVE"],
    ] {
        cmd(&mut c, &["MULTI"]).unwrap();
        cmd(&mut c, &["SET", "doomed", "1"]).unwrap();
        let e = err_text(cmd(&mut c, &bad));
        assert!(
            e.contains("unknown command")
                || e.contains("wrong number")
                || e.contains("not allowed inside a transaction"),
            "{bad:?}: {e}"
        );
        let e = err_text(cmd(&mut c, &["EXEC"]));
        assert!(
            e.contains("Transaction discarded because of previous errors"),
            "{e}"
        );
        let v: Option<String> = c.get("doomed").unwrap();
        assert_eq!(v, None, "a doomed transaction must not run ({bad:?})");
    }

    // DISCARD drops the queue; the connection is usable again.
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", "dropped", "1"]).unwrap();
    assert_eq!(cmd(&mut c, &["DISCARD"]).unwrap(), Value::Okay);
    let v: Option<String> = c.get("dropped").unwrap();
    assert_eq!(v, None);
    // Wrong arity of the transaction commands themselves.
    assert!(err_text(cmd(&mut c, &["MULTI", "x"])).contains("wrong number"));
    assert!(err_text(cmd(&mut c, &["WATCH"])).contains("wrong number"));
    // COMMAND knows them, with WATCH's keys.
    let v = cmd(&mut c, &["COMMAND", "GETKEYS", "WATCH", "a", "b"]);
    if let Ok(v) = v {
        assert_eq!(
            v,
            Value::Array(vec![
                Value::BulkString(b"a".to_vec()),
                Value::BulkString(b"b".to_vec())
            ])
        );
    }
    let v = cmd(&mut c, &["COMMAND", "INFO", "exec"]).unwrap();
    assert!(format!("{v:?}").contains("exec"));
}

#[test]
fn resp3_exec_and_nil_exec() {
    let s = Server::start(2, &[]);
    let mut raw = s.raw();
    raw.write_all(&resp(&[b"HELLO", b"3"])).unwrap();
    let hello = read_at_least(&mut raw, 50);
    assert!(hello.starts_with(b"%"));
    raw.write_all(
        &[
            resp(&[b"MULTI"]),
            resp(&[b"SET", b"r3", b"v"]),
            resp(&[b"GET", b"r3"]),
            resp(&[b"EXEC"]),
        ]
        .concat(),
    )
    .unwrap();
    let want = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\nv\r\n";
    assert_eq!(read_at_least(&mut raw, want.len()), want);

    // A spoiled WATCH: EXEC answers RESP3's null.
    raw.write_all(&resp(&[b"WATCH", b"r3"])).unwrap();
    assert_eq!(read_at_least(&mut raw, 5), b"+OK\r\n");
    let mut other = s.client();
    let _: () = other.set("r3", "changed").unwrap();
    raw.write_all(
        &[
            resp(&[b"MULTI"]),
            resp(&[b"SET", b"r3", b"mine"]),
            resp(&[b"EXEC"]),
        ]
        .concat(),
    )
    .unwrap();
    let want = b"+OK\r\n+QUEUED\r\n_\r\n";
    assert_eq!(read_at_least(&mut raw, want.len()), want);
    let v: String = other.get("r3").unwrap();
    assert_eq!(v, "changed");

    // RESP2: a null array.
    let mut raw2 = s.raw();
    raw2.write_all(&resp(&[b"WATCH", b"r3"])).unwrap();
    assert_eq!(read_at_least(&mut raw2, 5), b"+OK\r\n");
    let _: () = other.set("r3", "again").unwrap();
    raw2.write_all(&[resp(&[b"MULTI"]), resp(&[b"GET", b"r3"]), resp(&[b"EXEC"])].concat())
        .unwrap();
    let want = b"+OK\r\n+QUEUED\r\n*-1\r\n";
    assert_eq!(read_at_least(&mut raw2, want.len()), want);
}

/// WATCH a key on each core; touch one of them in a given way from another
/// client; EXEC must answer nil, and must succeed when nothing was touched.
#[test]
fn watch_is_spoiled_by_every_kind_of_touch_on_either_core() {
    let s = Server::start(2, &["--autoscale", "off"]);
    let mut c = s.client();
    let mut other = s.client();
    let [on0, on1] = keys_on_each_core(&mut c, 1, "k");
    let (a, b) = (on0[0].clone(), on1[0].clone());

    let run = |c: &mut Connection, watch: &[&str]| -> Value {
        cmd(c, &["MULTI"]).unwrap();
        cmd(c, &["SET", "marker", "1"]).unwrap();
        let v = cmd(c, &["EXEC"]).unwrap();
        let _ = watch;
        v
    };

    // Untouched: EXEC runs.
    let _: () = c.set(&a, "1").unwrap();
    let _: () = c.set(&b, "1").unwrap();
    cmd(&mut c, &["WATCH", &a, &b]).unwrap();
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));

    type Touch = Box<dyn Fn(&mut Connection, &str)>;
    let touches: Vec<(&str, Touch)> = vec![
        (
            "SET",
            Box::new(|o, k| {
                let _: () = o.set(k, "2").unwrap();
            }),
        ),
        (
            "INCR",
            Box::new(|o, k| {
                let _: i64 = o.incr(k, 1).unwrap();
            }),
        ),
        (
            "DEL",
            Box::new(|o, k| {
                let _: i64 = o.del(k).unwrap();
            }),
        ),
        (
            "EXPIRE",
            Box::new(|o, k| {
                let _: i64 = o.expire(k, 100).unwrap();
            }),
        ),
        (
            "expiry",
            Box::new(|o, k| {
                let _: i64 = redis::cmd("PEXPIRE").arg(k).arg(30).query(o).unwrap();
                sleep(Duration::from_millis(80));
            }),
        ),
        (
            "FLUSHALL",
            Box::new(|o, _| {
                let _: () = redis::cmd("FLUSHALL").query(o).unwrap();
            }),
        ),
        (
            "RENAME",
            Box::new(|o, k| {
                let _: () = o.rename(k, "renamed-away").unwrap();
            }),
        ),
    ];
    for (name, touch) in &touches {
        for key in [&a, &b] {
            let _: () = c.set(key.as_str(), "1").unwrap();
            let _: () = c.set(&a, "1").unwrap();
            let _: () = c.set(&b, "1").unwrap();
            cmd(&mut c, &["WATCH", &a, &b]).unwrap();
            touch(&mut other, key);
            assert_eq!(
                run(&mut c, &[]),
                Value::Nil,
                "{name} on {key} must spoil the watch"
            );
        }
    }

    // A write that changes nothing (SET NX on an existing key) does not spoil.
    let _: () = c.set(&a, "1").unwrap();
    cmd(&mut c, &["WATCH", &a]).unwrap();
    let _: Option<String> = redis::cmd("SET")
        .arg(&a)
        .arg("9")
        .arg("NX")
        .query(&mut other)
        .unwrap();
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));

    // A key already expired when watched, and still missing: not spoiled.
    let _: () = redis::cmd("SET")
        .arg(&b)
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    sleep(Duration::from_millis(20));
    cmd(&mut c, &["WATCH", &b]).unwrap();
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));

    // UNWATCH forgets; DISCARD forgets; EXEC forgets.
    cmd(&mut c, &["WATCH", &a]).unwrap();
    cmd(&mut c, &["UNWATCH"]).unwrap();
    let _: () = other.set(&a, "3").unwrap();
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));
    cmd(&mut c, &["WATCH", &a]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["DISCARD"]).unwrap();
    let _: () = other.set(&a, "4").unwrap();
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));
    // The transaction's own writes to its watched keys do not spoil the next one.
    cmd(&mut c, &["WATCH", &a]).unwrap();
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["SET", &a, "5"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["EXEC"]).unwrap(),
        Value::Array(vec![Value::Okay])
    );
    assert_eq!(run(&mut c, &[]), Value::Array(vec![Value::Okay]));

    // A watch follows its key to another core: a move alone does not spoil
    // it, a write on the new core does; both ways.
    let keyshard = |c: &mut Connection, k: &str| -> (u64, usize) {
        redis::cmd("STAIRKV")
            .arg("KEYSHARD")
            .arg(k)
            .query(c)
            .unwrap()
    };
    for (key, write) in [(&a, false), (&b, true), (&a, true), (&b, false)] {
        let _: () = c.set(key.as_str(), "1").unwrap();
        cmd(&mut c, &["WATCH", key]).unwrap();
        let (shard, core) = keyshard(&mut c, key);
        let to = 1 - core;
        let _: Value = redis::cmd("STAIRKV")
            .arg("MIGRATE")
            .arg(shard)
            .arg(to)
            .query(&mut other)
            .unwrap();
        assert_eq!(keyshard(&mut c, key).1, to, "{key} moved");
        if write {
            let _: () = other.set(key.as_str(), "2").unwrap();
        }
        let want = if write {
            Value::Nil
        } else {
            Value::Array(vec![Value::Okay])
        };
        assert_eq!(
            run(&mut c, &[]),
            want,
            "{key} moved to core {to}, written: {write}"
        );
    }

    // redis-py's and the redis crate's optimistic pattern: WATCH, read, MULTI, write, EXEC, retry on nil.
    let _: () = c.set("counter", 0).unwrap();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let mut con = s.client();
        handles.push(std::thread::spawn(move || {
            for _ in 0..100 {
                let _: () = redis::transaction(&mut con, &["counter"], |con, pipe| {
                    let n: i64 = con.get("counter")?;
                    pipe.set("counter", n + 1).ignore().query(con)
                })
                .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let n: i64 = c.get("counter").unwrap();
    assert_eq!(n, 400, "optimistic increments lost or doubled");
}

/// Clients that vanish mid-transaction leave nothing held: not in MULTI, not
/// while WATCHing, not with EXEC sent and the reply never read.
/// Commands that need more than one round between cores (KEYS, SCAN and DBSIZE
/// over every core, RENAME and MSETNX across cores) run inside EXEC and inside
/// a script. Their later rounds once ran outside the transaction and waited
/// for its own locks: the EXEC never answered and its keys stayed locked.
#[test]
fn commands_of_several_rounds_run_inside_exec_and_scripts() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [zero, one] = keys_on_each_core(&mut c, 3, "round");
    for k in zero.iter().chain(&one) {
        let _: () = c.set(k, "v").unwrap();
    }
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (keys, scanned, size, renamed, msetnx): (Vec<String>, Value, i64, String, i64) =
        redis::pipe()
            .atomic()
            .cmd("KEYS")
            .arg("round*")
            .cmd("SCAN")
            .arg(0)
            .arg("COUNT")
            .arg(1000)
            .cmd("DBSIZE")
            .cmd("RENAME")
            .arg(&zero[0])
            .arg(&one[2])
            .cmd("MSETNX")
            .arg(&zero[1])
            .arg("x")
            .arg("fresh-on-one")
            .arg("y")
            .query(&mut c)
            .expect("EXEC of commands of several rounds");
    assert_eq!(keys.len(), 6, "{keys:?}");
    let (_, scanned) = common::scan_reply(scanned);
    assert_eq!(scanned.len(), 6, "{scanned:?}");
    assert_eq!(size, 6);
    assert_eq!(renamed, "OK");
    assert_eq!(msetnx, 0, "{} exists", zero[1]);
    let gone: bool = c.exists(&zero[0]).unwrap();
    assert!(!gone);
    // Every key is free again: a plain write to each answers.
    for k in zero[1..].iter().chain(&one) {
        let _: () = c.set(k, "after").unwrap();
    }
    // The same inside a script (its keys declared, so it holds both cores).
    let script = redis::Script::new(
        "local n = redis.call('DBSIZE') \
         local ks = redis.call('KEYS', 'round*') \
         redis.call('RENAME', KEYS[1], KEYS[2]) \
         local scanned = redis.call('SCAN', '0', 'COUNT', '1000') \
         return {n, #ks, #scanned[2]}",
    );
    let got: Vec<i64> = script
        .key(&one[2])
        .key(&zero[2])
        .invoke(&mut c)
        .expect("script of commands of several rounds");
    assert_eq!(got, vec![5, 5, 4]);
    let v: String = c.get(&zero[2]).unwrap();
    assert_eq!(v, "after");
}

#[test]
fn clients_that_vanish_mid_transaction_release_everything() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for _ in 0..20 {
        let mut raw = s.raw();
        raw.write_all(
            &[
                resp(&[b"WATCH", b"v1", b"v2"]),
                resp(&[b"MULTI"]),
                resp(&[b"SET", b"v1", b"x"]),
                resp(&[b"MGET", b"v1", b"v2", b"v3"]),
            ]
            .concat(),
        )
        .unwrap();
        drop(raw);
        let mut raw = s.raw();
        let mut big = Vec::new();
        big.extend(resp(&[b"MULTI"]));
        for i in 0..200 {
            big.extend(resp(&[b"INCR", format!("v{}", i % 7).as_bytes()]));
        }
        big.extend(resp(&[b"EXEC"]));
        raw.write_all(&big).unwrap();
        drop(raw);
    }
    // Every key is usable at once afterwards, and each vanished EXEC ran whole or not at all.
    let start = Instant::now();
    for i in 0..7 {
        let k = format!("v{i}");
        let _: Option<String> = c.get(&k).unwrap();
        let _: () = c.set(&k, "free").unwrap();
    }
    cmd(&mut c, &["MULTI"]).unwrap();
    cmd(&mut c, &["MGET", "v0", "v1", "v2", "v3", "v4", "v5", "v6"]).unwrap();
    assert!(matches!(cmd(&mut c, &["EXEC"]).unwrap(), Value::Array(_)));
    assert!(start.elapsed() < Duration::from_secs(5));
}

const ACCOUNTS: usize = 1000;
const START: i64 = 1000;

fn account(i: usize) -> String {
    format!("acct:{i}")
}

#[derive(Default)]
struct Ledger {
    /// Committed transfers: (from, to, amount).
    moves: Vec<(usize, usize, i64)>,
    /// Deposits outside transactions: (to, amount).
    deposits: Vec<(usize, i64)>,
    retries: u64,
}

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Two different accounts of the same half: money moves within the audited
/// half (whose total never changes) or within the other (which also takes deposits).
fn pick_pair(seed: &mut u64) -> (usize, usize) {
    let half = ACCOUNTS / 2;
    let base = if rng(seed).is_multiple_of(2) { 0 } else { half };
    let from = rng(seed) as usize % half;
    let to = (from + 1 + rng(seed) as usize % (half - 1)) % half;
    (base + from, base + to)
}

/// Deposits into the unaudited half with plain INCRBY, outside any
/// transaction: one that lands while a transaction holds its account must
/// wait for it, or the transaction's SET would erase it.
fn deposits(mut con: Connection, stop: Arc<AtomicBool>, mut seed: u64) -> Ledger {
    let mut ledger = Ledger::default();
    while !stop.load(Ordering::Relaxed) {
        let to = ACCOUNTS / 2 + rng(&mut seed) as usize % (ACCOUNTS / 2);
        let amount = (rng(&mut seed) % 9) as i64 + 1;
        let _: i64 = con.incr(account(to), amount).unwrap();
        ledger.deposits.push((to, amount));
    }
    ledger
}

/// Move money with WATCH + GET + MULTI/SET/SET/EXEC, retrying on nil.
fn optimistic_transfers(mut con: Connection, stop: Arc<AtomicBool>, mut seed: u64) -> Ledger {
    let mut ledger = Ledger::default();
    while !stop.load(Ordering::Relaxed) {
        let (from, to) = pick_pair(&mut seed);
        let amount = (rng(&mut seed) % 50) as i64 + 1;
        let (fk, tk) = (account(from), account(to));
        loop {
            cmd(&mut con, &["WATCH", &fk, &tk]).unwrap();
            let (f, t): (i64, i64) = redis::pipe().get(&fk).get(&tk).query(&mut con).unwrap();
            let r: Option<(String, String)> = redis::pipe()
                .atomic()
                .set(&fk, f - amount)
                .set(&tk, t + amount)
                .query(&mut con)
                .unwrap();
            if r.is_some() {
                ledger.moves.push((from, to, amount));
                break;
            }
            ledger.retries += 1;
        }
    }
    ledger
}

/// Move money with MULTI/DECRBY/INCRBY/EXEC: atomic without WATCH.
fn blind_transfers(mut con: Connection, stop: Arc<AtomicBool>, mut seed: u64) -> Ledger {
    let mut ledger = Ledger::default();
    while !stop.load(Ordering::Relaxed) {
        let (from, to) = pick_pair(&mut seed);
        let amount = (rng(&mut seed) % 50) as i64 + 1;
        let _: (i64, i64) = redis::pipe()
            .atomic()
            .decr(account(from), amount)
            .incr(account(to), amount)
            .query(&mut con)
            .unwrap();
        ledger.moves.push((from, to, amount));
    }
    ledger
}

/// Move money with one EVAL over both accounts (the script declares them).
fn script_transfers(mut con: Connection, stop: Arc<AtomicBool>, mut seed: u64) -> Ledger {
    const MOVE: &str = "local f = tonumber(redis.call('get', KEYS[1])) \
        redis.call('set', KEYS[1], f - ARGV[1]) \
        redis.call('incrby', KEYS[2], ARGV[1]) return 1";
    let mut ledger = Ledger::default();
    while !stop.load(Ordering::Relaxed) {
        let (from, to) = pick_pair(&mut seed);
        let amount = (rng(&mut seed) % 50) as i64 + 1;
        let r: i64 = redis::cmd("EVAL")
            .arg(MOVE)
            .arg(2)
            .arg(account(from))
            .arg(account(to))
            .arg(amount)
            .query(&mut con)
            .unwrap();
        assert_eq!(r, 1);
        ledger.moves.push((from, to, amount));
    }
    ledger
}

/// Read every balance of the audited half in one EVAL, key by key (each GET
/// of the other core's key suspends the script while that core answers).
fn audit_by_script(con: &mut Connection) -> i64 {
    let mut c = redis::cmd("EVAL");
    c.arg("local s = 0 for _, k in ipairs(KEYS) do s = s + tonumber(redis.call('get', k)) end return s")
        .arg(ACCOUNTS / 2);
    for i in 0..ACCOUNTS / 2 {
        c.arg(account(i));
    }
    c.query(con).unwrap()
}

/// Read every balance of the audited half in one MULTI.
fn audit(con: &mut Connection) -> i64 {
    let keys: Vec<String> = (0..ACCOUNTS / 2).map(account).collect();
    let (balances,): (Vec<i64>,) = redis::pipe().atomic().mget(&keys).query(con).unwrap();
    assert_eq!(balances.len(), ACCOUNTS / 2);
    balances.iter().sum()
}

#[test]
fn a_bank_never_loses_a_cent_while_the_staircase_moves() {
    let s = Server::start(2, &["--autoscale", "off"]);
    let mut admin = s.client();
    let keys: Vec<String> = (0..ACCOUNTS).map(account).collect();
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.set(k, START).ignore();
    }
    let _: () = pipe.query(&mut admin).unwrap();
    let audited = START * (ACCOUNTS / 2) as i64;

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..3u64 {
        let (con, stop) = (s.client(), stop.clone());
        workers.push(std::thread::spawn(move || {
            optimistic_transfers(con, stop, 0x9e37 + i)
        }));
    }
    for i in 0..2u64 {
        let (con, stop) = (s.client(), stop.clone());
        workers.push(std::thread::spawn(move || {
            blind_transfers(con, stop, 0x51ed + i)
        }));
    }
    for i in 0..2u64 {
        let (con, stop) = (s.client(), stop.clone());
        workers.push(std::thread::spawn(move || deposits(con, stop, 0xd1ce + i)));
    }
    for i in 0..2u64 {
        let (con, stop) = (s.client(), stop.clone());
        workers.push(std::thread::spawn(move || {
            script_transfers(con, stop, 0x5c1 + i)
        }));
    }
    let auditor = {
        let (mut con, stop) = (s.client(), stop.clone());
        std::thread::spawn(move || {
            let mut audits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(
                    audit(&mut con),
                    audited,
                    "an audit saw a transfer half-done"
                );
                assert_eq!(
                    audit_by_script(&mut con),
                    audited,
                    "a script's audit saw a transfer half-done"
                );
                audits += 2;
            }
            audits
        })
    };
    // The staircase moves under the load: splits, merges and migrations both ways.
    let deadline = Instant::now() + Duration::from_secs(8);
    let (mut splits, mut migrations, mut merges) = (0, 0, 0);
    let stairkv = |con: &mut Connection, args: &[String]| -> bool {
        let mut c = redis::cmd("STAIRKV");
        for a in args {
            c.arg(a);
        }
        c.query::<Value>(con).is_ok()
    };
    while Instant::now() < deadline {
        splits += stairkv(&mut admin, &["SPLIT".into()]) as u32;
        for r in common::shard_rows(&mut admin).iter().take(4) {
            let to = 1 - r.core;
            let args = ["MIGRATE".into(), r.shard.to_string(), to.to_string()];
            migrations += stairkv(&mut admin, &args) as u32;
        }
        merges += stairkv(&mut admin, &["MERGE".into()]) as u32;
    }
    stop.store(true, Ordering::Relaxed);
    let ledgers: Vec<Ledger> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let audits = auditor.join().unwrap();

    let mut expected = vec![START; ACCOUNTS];
    let mut committed = 0;
    for l in &ledgers {
        for &(from, to, amount) in &l.moves {
            expected[from] -= amount;
            expected[to] += amount;
            committed += 1;
        }
        for &(to, amount) in &l.deposits {
            expected[to] += amount;
        }
    }
    let (actual,): (Vec<i64>,) = redis::pipe()
        .atomic()
        .mget(&keys)
        .query(&mut admin)
        .unwrap();
    for i in 0..ACCOUNTS {
        assert_eq!(
            actual[i], expected[i],
            "account {i}: a transfer was lost or applied twice"
        );
    }
    assert_eq!(actual[..ACCOUNTS / 2].iter().sum::<i64>(), audited);
    eprintln!(
        "bank: {committed} transfers, {} WATCH retries, {audits} audits, \
         {splits} splits, {migrations} migrations, {merges} merges",
        ledgers.iter().map(|l| l.retries).sum::<u64>()
    );
    assert!(committed > 500 && audits > 10);
    assert!(splits > 5 && migrations > 5 && merges > 5);
}
