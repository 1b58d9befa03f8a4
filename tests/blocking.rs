#[path = "common/cmds.rs"]
mod cmds;
mod common;
use cmds::{e, q, WRONGTYPE};

// Blocking pops through the real binary (issue 22): BLPOP, BRPOP, BLMPOP,
// BLMOVE and BRPOPLPUSH with Redis 7's replies and errors; waiters on both
// cores of a two-core server served oldest first; timeouts, CLIENT UNBLOCK,
// clients that hang up mid-wait (nothing they would have had is lost),
// MULTI and scripts that never block, a wait that outlives its key's shard
// moving, a job queue of producers and consumers on both cores while the
// staircase moves (every job delivered exactly once), and the BRPOPLPUSH
// reliable-queue pattern.

use common::{info_num, keys_on_each_core, resp, Server};
use redis::{Connection, Value};
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A connection on core `core` of a two-core server (client ids carry
/// their core as the residue).
fn client_on(s: &Server, core: u64) -> Connection {
    for _ in 0..200 {
        let mut c = s.client();
        let id: u64 = q(&mut c, &["CLIENT", "ID"]);
        if id % 2 == core {
            return c;
        }
    }
    panic!("no connection landed on core {core}");
}

/// Wait until `n` clients are blocked.
fn wait_blocked(c: &mut Connection, n: u64) {
    let start = Instant::now();
    while info_num(c, "clients", "blocked_clients") != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "blocked_clients never reached {n}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Run `args` on `c` in a thread; its reply comes back when it returns.
fn spawn_cmd(mut c: Connection, args: &[&str]) -> thread::JoinHandle<(Connection, Value)> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    thread::spawn(move || {
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let v: Value = q(&mut c, &refs);
        (c, v)
    })
}

/// What arrives on `r` within `d` (until it closes).
fn read_for(r: &mut std::net::TcpStream, d: Duration) -> Vec<u8> {
    use std::io::Read;
    let end = Instant::now() + d;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Some(left) = end
        .checked_duration_since(Instant::now())
        .filter(|l| !l.is_zero())
    {
        let _ = r.set_read_timeout(Some(left));
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// The last bulk string of a RESP reply `[key, element]` (None: a null or nothing).
fn last_bulk(reply: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(reply);
    let parts: Vec<&str> = text.split("\r\n").collect();
    (text.starts_with("*2") && parts.len() >= 5).then(|| parts[4].to_string())
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::BulkString(b) => vec![String::from_utf8_lossy(b).into_owned()],
        Value::Nil => vec!["(nil)".into()],
        Value::Int(n) => vec![n.to_string()],
        other => vec![format!("{other:?}")],
    }
}

#[test]
fn blocking_pops_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // What is there is taken at once, from the first key holding a list.
    q::<i64>(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    let v: Value = q(&mut c, &["BLPOP", "a", "b", "0"]);
    assert_eq!(texts(&v), ["b", "1"]);
    let v: Value = q(&mut c, &["BRPOP", "a", "b", "0"]);
    assert_eq!(texts(&v), ["b", "3"]);
    let v: Value = q(
        &mut c,
        &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5"],
    );
    assert_eq!(texts(&v), ["b", "2"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "b"]), 0);
    q::<i64>(&mut c, &["RPUSH", "src", "x", "y"]);
    assert_eq!(
        q::<String>(&mut c, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]),
        "x"
    );
    assert_eq!(q::<String>(&mut c, &["BRPOPLPUSH", "src", "dst", "0"]), "y");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "dst", "0", "-1"]),
        ["y", "x"]
    );
    // Nothing there: a null at the timeout (fractions of a second).
    let start = Instant::now();
    let v: Value = q(&mut c, &["BLPOP", "none1", "none2", "0.15"]);
    assert_eq!(v, Value::Nil);
    assert!(start.elapsed() >= Duration::from_millis(140));
    assert_eq!(
        q::<Value>(&mut c, &["BLMPOP", "0.01", "1", "none", "RIGHT"]),
        Value::Nil
    );
    assert_eq!(
        q::<Value>(&mut c, &["BLMOVE", "none", "dst", "LEFT", "LEFT", "0.01"]),
        Value::Nil
    );
    assert_eq!(
        q::<Value>(&mut c, &["BRPOPLPUSH", "none", "dst", "0.01"]),
        Value::Nil
    );
    // Errors as Redis writes them.
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(e(&mut c, &["BLPOP", "str", "0"]), WRONGTYPE);
    assert_eq!(e(&mut c, &["BRPOP", "none", "str", "0"]), WRONGTYPE);
    assert_eq!(
        e(&mut c, &["BLMOVE", "str", "dst", "LEFT", "LEFT", "0"]),
        WRONGTYPE
    );
    q::<i64>(&mut c, &["RPUSH", "full", "1"]);
    assert_eq!(e(&mut c, &["BRPOPLPUSH", "full", "str", "0"]), WRONGTYPE);
    assert_eq!(
        q::<i64>(&mut c, &["LLEN", "full"]),
        1,
        "nothing popped onto a wrong type"
    );
    assert_eq!(e(&mut c, &["BLPOP", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(
        e(&mut c, &["BLPOP", "k", "1e300"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        e(&mut c, &["BLPOP", "k", "abc"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        e(&mut c, &["BLPOP", "k", "nan"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        e(&mut c, &["BLPOP", "k"]),
        "ERR wrong number of arguments for 'blpop' command"
    );
    assert_eq!(
        e(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["BLMPOP", "0", "0", "a", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        e(&mut c, &["BLMPOP", "0", "1", "a", "MIDDLE"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["BLMPOP", "0", "1", "a", "LEFT", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(
        e(&mut c, &["BLMPOP", "abc", "1", "a", "LEFT"]),
        "ERR timeout is not a float or out of range"
    );
    // MULTI and scripts never block (Redis's rule): a null at once.
    let start = Instant::now();
    let v: Value = redis::pipe()
        .atomic()
        .cmd("BLPOP")
        .arg("empty")
        .arg("0")
        .cmd("BLMOVE")
        .arg("empty")
        .arg("d")
        .arg("LEFT")
        .arg("LEFT")
        .arg("0")
        .query(&mut c)
        .expect("MULTI");
    assert_eq!(v, Value::Array(vec![Value::Nil, Value::Nil]));
    assert!(start.elapsed() < Duration::from_secs(2));
    let script = "return redis.call('blmpop', 0, 1, KEYS[1], 'LEFT')";
    assert_eq!(
        q::<Value>(&mut c, &["EVAL", script, "1", "empty"]),
        Value::Nil
    );
    let script = "return redis.call('blpop', KEYS[1], 0)";
    assert!(e(&mut c, &["EVAL", script, "1", "empty"])
        .starts_with("ERR This Redis command is not allowed from script"));
    // The blocking commands are in @blocking, and BLMPOP's keys are counted.
    let cats: Vec<String> = q(&mut c, &["ACL", "CAT", "blocking"]);
    for name in ["blpop", "brpop", "blmpop", "blmove", "brpoplpush"] {
        assert!(
            cats.contains(&name.to_string()),
            "{name} in @blocking: {cats:?}"
        );
    }
    let keys: Vec<String> = q(
        &mut c,
        &["COMMAND", "GETKEYS", "BLMPOP", "0", "2", "a", "b", "LEFT"],
    );
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(info_num(&mut c, "clients", "blocked_clients"), 0);
}

#[test]
fn waiters_on_both_cores_are_served_oldest_first() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // Waiters alternate between the cores; each pushes one element per
    // round, and they take them in the order they began to wait.
    let mut waiting = Vec::new();
    for i in 0..6u64 {
        let w = client_on(&s, i % 2);
        waiting.push(spawn_cmd(w, &["BLPOP", "q", "10"]));
        wait_blocked(&mut c, i + 1);
    }
    q::<i64>(&mut c, &["RPUSH", "q", "e0", "e1", "e2", "e3", "e4", "e5"]);
    for (i, h) in waiting.into_iter().enumerate() {
        let (_, v) = h.join().expect("waiter");
        assert_eq!(texts(&v), ["q".to_string(), format!("e{i}")], "waiter {i}");
    }
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "q"]), 0);
    // BLMPOP takes up to its count, and the next waiter gets the rest.
    let first = spawn_cmd(
        client_on(&s, 0),
        &["BLMPOP", "10", "1", "m", "RIGHT", "COUNT", "3"],
    );
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(client_on(&s, 1), &["BRPOP", "m", "10"]);
    wait_blocked(&mut c, 2);
    q::<i64>(&mut c, &["RPUSH", "m", "1", "2", "3", "4"]);
    assert_eq!(texts(&first.join().expect("first").1), ["m", "4", "3", "2"]);
    assert_eq!(texts(&second.join().expect("second").1), ["m", "1"]);
    // A waiter on several keys, on keys of both cores: the one pushed to.
    let [k0, k1] = keys_on_each_core(&mut c, 1, "multi:");
    let w = spawn_cmd(client_on(&s, 0), &["BRPOP", &k0[0], &k1[0], "10"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["LPUSH", &k1[0], "v"]);
    assert_eq!(texts(&w.join().expect("w").1), [k1[0].clone(), "v".into()]);
    // BLMOVE and BRPOPLPUSH, woken across cores, move atomically.
    let w = spawn_cmd(
        client_on(&s, 1),
        &["BLMOVE", &k0[0], &k1[0], "LEFT", "RIGHT", "10"],
    );
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["RPUSH", &k0[0], "moved"]);
    assert_eq!(texts(&w.join().expect("w").1), ["moved"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", &k1[0], "0", "-1"]),
        ["moved"]
    );
    let w = spawn_cmd(client_on(&s, 0), &["BRPOPLPUSH", &k1[0], &k0[0], "10"]);
    q::<i64>(&mut c, &["DEL", &k1[0]]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["RPUSH", &k1[0], "back"]);
    assert_eq!(texts(&w.join().expect("w").1), ["back"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", &k0[0], "0", "-1"]),
        ["back"]
    );
    assert_eq!(info_num(&mut c, "clients", "blocked_clients"), 0);
}

#[test]
fn a_push_in_a_transaction_serves_waiters_after_it_and_only_what_is_left() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // LPUSH then DEL in one transaction: the waiter sees neither (Redis's
    // "LPUSH + DEL should not awake blocked client").
    let w = spawn_cmd(s.client(), &["BLPOP", "t", "0.5"]);
    wait_blocked(&mut c, 1);
    let _: Value = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg("t")
        .arg("a")
        .cmd("DEL")
        .arg("t")
        .query(&mut c)
        .expect("MULTI");
    assert_eq!(w.join().expect("w").1, Value::Nil);
    // LPUSH a b then LPOP in one transaction: the waiter gets what is left.
    let w = spawn_cmd(s.client(), &["BLPOP", "t", "5"]);
    wait_blocked(&mut c, 1);
    let v: Value = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg("t")
        .arg("a")
        .arg("b")
        .cmd("LPOP")
        .arg("t")
        .query(&mut c)
        .expect("MULTI");
    assert_eq!(texts(&v), ["2", "a"]);
    assert_eq!(texts(&w.join().expect("w").1), ["t", "b"]);
}

#[test]
fn timeouts_unblock_and_clients_that_hang_up() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // CLIENT UNBLOCK: as a timeout, or with Redis's error.
    let mut w = s.client();
    let id: u64 = q(&mut w, &["CLIENT", "ID"]);
    let h = spawn_cmd(w, &["BLPOP", "u", "u2", "u", "0"]);
    wait_blocked(&mut c, 1);
    // A waiter shows as such in CLIENT LIST and INFO, as in Redis 7.2.
    let list: String = q(&mut c, &["CLIENT", "LIST"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .expect("the waiter's row");
    assert!(row.contains(" flags=b "), "{row}");
    assert!(row.contains(" cmd=blpop "), "{row}");
    assert_eq!(info_num(&mut c, "clients", "total_blocking_keys"), 2);
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]), 1);
    let (mut w, v) = h.join().expect("w");
    assert_eq!(v, Value::Nil);
    assert_eq!(info_num(&mut c, "clients", "total_blocking_keys"), 0);
    let list: String = q(&mut c, &["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(list.contains(" flags=N "), "{list}");
    let h = thread::spawn(move || {
        let r = cmds::e(&mut w, &["BRPOP", "u", "0"]);
        (w, r)
    });
    wait_blocked(&mut c, 1);
    assert_eq!(
        q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        1
    );
    let (mut w, r) = h.join().expect("w");
    assert_eq!(r, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]), 0);
    // Still usable afterwards.
    assert_eq!(q::<String>(&mut w, &["PING"]), "PONG");
    // Clients that hang up mid-wait, on both cores: nothing pushed later is
    // handed to them; every element stays for the next reader.
    for core in 0..2u64 {
        for _ in 0..3 {
            let mut raw = loop {
                let mut r = s.raw();
                r.write_all(&resp(&[b"CLIENT", b"ID"])).expect("write");
                let got = common::read_at_least(&mut r, 4);
                let id: u64 = String::from_utf8_lossy(&got[1..])
                    .trim()
                    .parse()
                    .expect("id");
                if id % 2 == core {
                    break r;
                }
            };
            raw.write_all(&resp(&[b"BLPOP", b"gone", b"0"]))
                .expect("write");
            wait_blocked(&mut c, 1);
            drop(raw);
            wait_blocked(&mut c, 0);
        }
    }
    q::<i64>(&mut c, &["RPUSH", "gone", "kept1", "kept2"]);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "gone", "0", "-1"]),
        ["kept1", "kept2"]
    );
    // A timeout of 0 waits past any small timeout.
    let h = spawn_cmd(s.client(), &["BRPOP", "late", "0"]);
    wait_blocked(&mut c, 1);
    thread::sleep(Duration::from_millis(300));
    q::<i64>(&mut c, &["RPUSH", "late", "finally"]);
    assert_eq!(texts(&h.join().expect("h").1), ["late", "finally"]);
}

#[test]
fn a_wait_outlives_its_key_moving_to_the_other_core() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for round in 0..4 {
        let key = format!("mover:{round}");
        let (shard, core): (u64, u64) = redis::cmd("STAIRKV")
            .arg("KEYSHARD")
            .arg(&key)
            .query(&mut c)
            .expect("KEYSHARD");
        let h = spawn_cmd(client_on(&s, round % 2), &["BRPOP", &key, "20"]);
        wait_blocked(&mut c, 1);
        let _: Value = redis::cmd("STAIRKV")
            .arg("MIGRATE")
            .arg(shard)
            .arg(1 - core)
            .query(&mut c)
            .expect("MIGRATE");
        let (_, now): (u64, u64) = redis::cmd("STAIRKV")
            .arg("KEYSHARD")
            .arg(&key)
            .query(&mut c)
            .expect("KEYSHARD");
        assert_eq!(now, 1 - core, "the shard moved");
        q::<i64>(&mut c, &["LPUSH", &key, "job"]);
        assert_eq!(texts(&h.join().expect("h").1), [key.clone(), "job".into()]);
    }
}

/// Producers push jobs from both cores, consumers pop them with BRPOP on
/// both cores (some hang up mid-wait), while shards move, split and merge:
/// every job is delivered exactly once, or is still in its queue.
#[test]
fn a_job_queue_delivers_every_job_once_while_shards_move() {
    let s = Server::start(2, &["--initial-shards", "4"]);
    let mut c = s.client();
    const JOBS: usize = 3000;
    const QUEUES: [&str; 3] = ["jobs:a", "jobs:b", "jobs:c"];
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    let mover = {
        let stop = stop.clone();
        let mut con = s.client();
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: redis::RedisResult<Value> = match i % 3 {
                    0 => redis::cmd("STAIRKV")
                        .arg("MIGRATE")
                        .arg(i % 4)
                        .arg((i / 3) % 2)
                        .query(&mut con),
                    1 => redis::cmd("STAIRKV").arg("SPLIT").query(&mut con),
                    _ => redis::cmd("STAIRKV").arg("MERGE").query(&mut con),
                };
                i += 1;
                thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let consumers: Vec<_> = (0..6u64)
        .map(|n| {
            let mut con = client_on(&s, n % 2);
            let (got, done) = (got.clone(), done.clone());
            thread::spawn(move || loop {
                let v: Value = q(&mut con, &["BRPOP", QUEUES[0], QUEUES[1], QUEUES[2], "0.2"]);
                match v {
                    Value::Nil if done.load(Ordering::Relaxed) => return,
                    Value::Nil => {}
                    v => got.lock().expect("got").push(texts(&v)[1].clone()),
                }
            })
        })
        .collect();
    // Consumers that hang up mid-wait, over and over. What one of them was
    // handed before it hung up counts as delivered to it: it reads for a
    // while after closing its side, so a reply already sent is not lost
    // on the way.
    let quitters = {
        let (stop, got) = (stop.clone(), got.clone());
        let raws: Vec<_> = (0..40).map(|_| s.raw()).collect();
        thread::spawn(move || {
            for mut r in raws {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = r.write_all(&resp(&[b"BRPOP", b"jobs:a", b"jobs:b", b"jobs:c", b"0"]));
                let mut reply = read_for(&mut r, Duration::from_millis(7));
                let _ = r.shutdown(std::net::Shutdown::Write);
                reply.extend(read_for(&mut r, Duration::from_millis(150)));
                if let Some(job) = last_bulk(&reply) {
                    got.lock().expect("got").push(job);
                }
            }
        })
    };
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let mut con = client_on(&s, p % 2);
            thread::spawn(move || {
                for j in (p as usize..JOBS).step_by(4) {
                    let queue = QUEUES[j % 3];
                    q::<i64>(&mut con, &["LPUSH", queue, &format!("job{j}")]);
                    if j % 50 == 0 {
                        thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    quitters.join().expect("quitters");
    // Let the consumers drain what is left, then stop them.
    let start = Instant::now();
    while QUEUES
        .iter()
        .map(|k| q::<i64>(&mut c, &["LLEN", k]))
        .sum::<i64>()
        > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "queues never drained"
        );
        thread::sleep(Duration::from_millis(20));
    }
    done.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for h in consumers {
        h.join().expect("consumer");
    }
    mover.join().expect("mover");
    let got = got.lock().expect("got");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "a job was delivered twice");
    assert_eq!(got.len(), JOBS, "jobs lost: {}", JOBS - got.len());
    assert_eq!(info_num(&mut c, "clients", "blocked_clients"), 0);
}

/// The reliable-queue pattern (Redis's RPOPLPUSH documentation): workers
/// move a job to their processing list with BRPOPLPUSH, do it, then LREM
/// it. Every job is done once and nothing is left in processing.
#[test]
fn the_brpoplpush_reliable_queue_pattern_works() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    const JOBS: usize = 600;
    let done = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4u64)
        .map(|n| {
            let mut con = client_on(&s, n % 2);
            let (done, stop) = (done.clone(), stop.clone());
            thread::spawn(move || {
                let processing = format!("processing:{n}");
                loop {
                    let job: Option<String> =
                        q(&mut con, &["BRPOPLPUSH", "queue", &processing, "0.2"]);
                    match job {
                        None if stop.load(Ordering::Relaxed) => return,
                        None => {}
                        Some(job) => {
                            done.lock().expect("done").push(job.clone());
                            assert_eq!(q::<i64>(&mut con, &["LREM", &processing, "1", &job]), 1);
                        }
                    }
                }
            })
        })
        .collect();
    for j in 0..JOBS {
        q::<i64>(&mut c, &["LPUSH", "queue", &format!("job{j}")]);
    }
    let start = Instant::now();
    while done.lock().expect("done").len() < JOBS {
        assert!(start.elapsed() < Duration::from_secs(30), "jobs never done");
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let done = done.lock().expect("done");
    let unique: HashSet<&String> = done.iter().collect();
    assert_eq!((done.len(), unique.len()), (JOBS, JOBS));
    for n in 0..4 {
        assert_eq!(q::<i64>(&mut c, &["LLEN", &format!("processing:{n}")]), 0);
    }
}

/// A stopping server lets its waiting clients go instead of waiting for
/// them (their timeout is 0: forever): each gets a null or, as from Redis,
/// which closes its clients as it exits, the end of the connection.
#[test]
fn a_stopping_server_lets_its_waiters_go() {
    let mut s = Server::start(2, &[]);
    let mut c = s.client();
    let waiters: Vec<_> = (0..2u64)
        .map(|core| {
            let mut w = client_on(&s, core);
            thread::spawn(move || cmds::cmd(&["BLPOP", "never", "0"]).query::<Value>(&mut w))
        })
        .collect();
    wait_blocked(&mut c, 2);
    let start = Instant::now();
    let status = s.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    for w in waiters {
        match w.join().expect("waiter") {
            Ok(v) => assert_eq!(v, Value::Nil),
            Err(e) => assert!(e.is_io_error() || e.is_connection_dropped(), "{e}"),
        }
    }
}

/// Replies to the commands pipelined before a blocking one are sent before
/// it waits, as Redis sends them (bee-queue's workers pipeline several
/// BRPOPLPUSHes on one connection and act on each reply as it comes).
/// A pipeline that pushes to a key and pops it again, sent from either
/// core: the waiter gets the pushed element between the two commands, as
/// Redis serves blocked clients after each command, and the pop finds the
/// list empty — whether the key is on the pipeline's core or the other one.
#[test]
fn a_waiter_is_served_between_a_pipelined_push_and_pop() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let keys = keys_on_each_core(&mut c, 1, "pp:");
    for from in 0..2u64 {
        for key in keys.iter().map(|k| k[0].as_str()) {
            let w = spawn_cmd(s.client(), &["BLPOP", key, "5"]);
            wait_blocked(&mut c, 1);
            let mut p = client_on(&s, from);
            let (pushed, popped): (i64, Value) = redis::pipe()
                .cmd("LPUSH")
                .arg(key)
                .arg("job")
                .cmd("LPOP")
                .arg(key)
                .query(&mut p)
                .expect("pipeline");
            assert_eq!(pushed, 1);
            assert_eq!(
                popped,
                Value::Nil,
                "{key} from core {from}: the pop took the job"
            );
            assert_eq!(texts(&w.join().expect("waiter").1), [key, "job"]);
        }
    }
}

#[test]
fn replies_before_a_waiting_command_are_sent_at_once() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let mut raw = s.raw();
    let mut req = resp(&[b"PING"]);
    req.extend(resp(&[b"BRPOP", b"mk", b"5"]));
    raw.write_all(&req).expect("write");
    let got = read_for(&mut raw, Duration::from_millis(500));
    assert_eq!(got, b"+PONG\r\n", "PONG before BRPOP waits");
    // Two waits in one pipeline: the first is answered when it is served,
    // while the second still waits.
    let mut raw = s.raw();
    let mut req = resp(&[b"BRPOPLPUSH", b"src", b"dst", b"0"]);
    req.extend(resp(&[b"BRPOPLPUSH", b"src", b"dst", b"0"]));
    raw.write_all(&req).expect("write");
    wait_blocked(&mut c, 2);
    q::<i64>(&mut c, &["LPUSH", "src", "x1"]);
    let got = read_for(&mut raw, Duration::from_millis(500));
    assert_eq!(got, b"$2\r\nx1\r\n");
    q::<i64>(&mut c, &["LPUSH", "src", "x2"]);
    let got = read_for(&mut raw, Duration::from_millis(500));
    assert_eq!(got, b"$2\r\nx2\r\n");
}

/// BZPOPMIN, BZPOPMAX and BZMPOP: Redis's replies (RESP2 and RESP3 bytes),
/// errors, and waiters on both cores served oldest first by ZADD.
#[test]
fn sorted_set_blocking_pops_answer_and_wait_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        texts(&q(&mut c, &["BZPOPMIN", "none", "z", "0"])),
        ["z", "a", "1"]
    );
    assert_eq!(texts(&q(&mut c, &["BZPOPMAX", "z", "0"])), ["z", "c", "3"]);
    assert_eq!(
        texts(&q(
            &mut c,
            &["BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "5"]
        )),
        ["z", "b", "2"]
    );
    assert_eq!(q::<Value>(&mut c, &["BZPOPMIN", "z", "0.01"]), Value::Nil);
    assert_eq!(
        q::<Value>(&mut c, &["BZMPOP", "0.01", "1", "z", "MAX"]),
        Value::Nil
    );
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(e(&mut c, &["BZPOPMIN", "str", "0"]), WRONGTYPE);
    q::<i64>(&mut c, &["RPUSH", "list", "x"]);
    assert_eq!(e(&mut c, &["BZPOPMAX", "list", "0"]), WRONGTYPE);
    assert_eq!(
        e(&mut c, &["BZPOPMIN", "z", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        e(&mut c, &["BZMPOP", "0", "1", "z", "UP"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "-1"]),
        "ERR count should be greater than 0"
    );
    let script = "return redis.call('bzpopmin', KEYS[1], 0)";
    assert!(e(&mut c, &["EVAL", script, "1", "z"])
        .starts_with("ERR This Redis command is not allowed from script"));
    let script = "return redis.call('bzmpop', 0, 1, KEYS[1], 'MIN')";
    assert_eq!(q::<Value>(&mut c, &["EVAL", script, "1", "z"]), Value::Nil);
    // RESP3: the score is a double, as Redis 7 sends it.
    let mut raw = s.raw();
    q::<i64>(&mut c, &["ZADD", "r3", "1.5", "m"]);
    let mut req = resp(&[b"HELLO", b"3"]);
    req.extend(resp(&[b"BZPOPMIN", b"r3", b"0"]));
    raw.write_all(&req).expect("write");
    let got = read_for(&mut raw, Duration::from_millis(300));
    assert!(
        got.ends_with(b"*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,1.5\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Waiters on both cores, oldest first; a list waiter on the same key
    // name is not served by a sorted set.
    let list_waiter = spawn_cmd(client_on(&s, 1), &["BLPOP", "lb", "1"]);
    wait_blocked(&mut c, 1);
    let mut waiting = Vec::new();
    for i in 0..4u64 {
        let cmd: &[&str] = if i % 2 == 0 {
            &["BZPOPMIN", "lb", "10"]
        } else {
            &["BZMPOP", "10", "1", "lb", "MIN", "COUNT", "1"]
        };
        waiting.push(spawn_cmd(client_on(&s, i % 2), cmd));
        wait_blocked(&mut c, i + 2);
    }
    q::<i64>(
        &mut c,
        &["ZADD", "lb", "4", "d", "1", "a", "3", "c", "2", "b"],
    );
    let expect = [
        vec!["lb", "a", "1"],
        vec!["lb", "b", "2"],
        vec!["lb", "c", "3"],
        vec!["lb", "d", "4"],
    ];
    for (i, h) in waiting.into_iter().enumerate() {
        assert_eq!(texts(&h.join().expect("waiter").1), expect[i], "waiter {i}");
    }
    assert_eq!(list_waiter.join().expect("list waiter").1, Value::Nil);
}
