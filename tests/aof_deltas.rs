//! Per-element log records through the real binary: a change to a key that
//! stays (a field of a hash, members of a set, a bit, a range or a tail of a
//! string, an HLL's elements, a sorted set's scores, a deadline) is logged
//! as what it did, so the
//! log grows by the change's size, not the key's; and whatever the order of
//! whole records and deltas, across migrations, splits, merges, rewrites,
//! transactions and FLUSHALL, a restart after `kill -9` holds exactly what
//! was acknowledged.

mod common;

use common::{Server, TempDir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn logged(dir: &TempDir, extra: &[&str]) -> Server {
    let mut args = vec![
        "--dir",
        dir.arg(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--autoscale",
        "off",
    ];
    args.extend_from_slice(extra);
    Server::start(2, &args)
}

/// Bytes in the logs' folder (logs, bases, manifest).
fn log_bytes(dir: &TempDir) -> u64 {
    std::fs::read_dir(dir.0.join("appendonlydir"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// Every key: its type, its value in a comparable form, and its absolute
/// deadline (PEXPIRETIME).
type State = BTreeMap<Vec<u8>, (String, String, i64)>;

fn state(c: &mut redis::Connection) -> State {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).expect("KEYS");
    let mut m = BTreeMap::new();
    for k in keys {
        let ty: String = redis::cmd("TYPE").arg(&k).query(c).expect("TYPE");
        let value = match ty.as_str() {
            "string" => {
                let v: Vec<u8> = redis::cmd("GET").arg(&k).query(c).expect("GET");
                format!("{v:?}")
            }
            "hash" => {
                let v: BTreeMap<Vec<u8>, Vec<u8>> =
                    redis::cmd("HGETALL").arg(&k).query(c).expect("HGETALL");
                format!("{v:?}")
            }
            "set" => {
                let mut v: Vec<Vec<u8>> =
                    redis::cmd("SMEMBERS").arg(&k).query(c).expect("SMEMBERS");
                v.sort();
                format!("{v:?}")
            }
            "zset" => {
                let v: Vec<(Vec<u8>, String)> = redis::cmd("ZRANGE")
                    .arg(&k)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(c)
                    .expect("ZRANGE");
                format!("{v:?}")
            }
            "none" => continue,
            other => panic!("a type this test never writes: {other}"),
        };
        let at: i64 = redis::cmd("PEXPIRETIME")
            .arg(&k)
            .query(c)
            .expect("PEXPIRETIME");
        m.insert(k, (ty, value, at));
    }
    m
}

#[track_caller]
fn same(got: &State, want: &State) {
    let mut diff = Vec::new();
    for k in got.keys().chain(want.keys()) {
        if got.get(k) != want.get(k) && diff.len() < 10 {
            let show = |v: Option<&(String, String, i64)>| {
                v.map(|(t, v, at)| format!("{t} {} at {at}", &v[..v.len().min(200)]))
            };
            diff.push(format!(
                "{}: got {:?} / want {:?}",
                String::from_utf8_lossy(k),
                show(got.get(k)),
                show(want.get(k))
            ));
        }
    }
    assert!(diff.is_empty(), "keys differ:\n{}", diff.join("\n"));
}

#[test]
fn a_change_to_a_big_key_costs_the_change_in_the_log() {
    let dir = TempDir::new("deltas-size");
    let mut s = logged(&dir, &[]);
    let mut c = s.client();
    let fields: Vec<(String, String)> = (0..5000)
        .map(|i| (format!("field:{i:06}"), format!("value-{i:012}")))
        .collect();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg(&fields)
        .query(&mut c)
        .expect("HSET");
    let members: Vec<String> = (0..5000).map(|i| format!("member:{i:08}")).collect();
    let _: () = redis::cmd("SADD")
        .arg("s")
        .arg(&members)
        .query(&mut c)
        .expect("SADD");
    let scored: Vec<(i64, String)> = (0..5000).map(|i| (i, format!("member:{i:08}"))).collect();
    let _: () = redis::cmd("ZADD")
        .arg("z")
        .arg(&scored)
        .query(&mut c)
        .expect("ZADD");
    let _: () = redis::cmd("SET")
        .arg("str")
        .arg(vec![b'x'; 100_000])
        .query(&mut c)
        .expect("SET");
    let whole = log_bytes(&dir);
    assert!(whole > 300_000, "the big keys are logged once: {whole}");
    for i in 0..300 {
        let n = i.to_string();
        q::<i64>(&mut c, &["HSET", "h", &format!("field:{:06}", i * 7), &n]);
        q::<i64>(&mut c, &["HINCRBY", "h", "counter", "3"]);
        // Refused (the field is there): nothing to log, nothing replayed.
        q::<i64>(&mut c, &["HSETNX", "h", "field:000001", &n]);
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "float", "0.25"]);
        q::<i64>(&mut c, &["HDEL", "h", &format!("field:{:06}", i * 11)]);
        q::<i64>(&mut c, &["SADD", "s", &format!("new:{i}")]);
        q::<i64>(&mut c, &["SREM", "s", &format!("member:{:08}", i * 13)]);
        q::<Value>(&mut c, &["SPOP", "s"]);
        q::<i64>(&mut c, &["SETBIT", "str", &(i * 997).to_string(), "1"]);
        q::<i64>(&mut c, &["SETRANGE", "str", &(i * 300).to_string(), "abc"]);
        q::<i64>(&mut c, &["APPEND", "str", "t"]);
        // Answered with the length, padding nothing.
        q::<i64>(&mut c, &["SETRANGE", "str", "200000", ""]);
        q::<i64>(&mut c, &["EXPIRE", "h", &(10_000 + i).to_string()]);
        q::<i64>(&mut c, &["PERSIST", "h"]);
        q::<i64>(&mut c, &["PEXPIRE", "s", "100000000"]);
        q::<i64>(&mut c, &["ZADD", "z", "0.5", &format!("new:{i}")]);
        q::<String>(
            &mut c,
            &["ZINCRBY", "z", "2", &format!("member:{:08}", i * 3)],
        );
        q::<i64>(&mut c, &["ZREM", "z", &format!("member:{:08}", i * 13 + 1)]);
        q::<Value>(&mut c, &["ZPOPMAX", "z"]);
    }
    let grown = log_bytes(&dir) - whole;
    // 5,100 changes logged whole would be ~600 MB; as deltas, tens of bytes
    // each.
    assert!(
        grown < 520_000,
        "5,100 changes to big keys grew the logs by {grown} bytes"
    );
    let before = state(&mut c);
    s.kill9();
    let s = logged(&dir, &[]);
    let mut c = s.client();
    same(&state(&mut c), &before);
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "counter"]), "900");
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "float"]), "75");
}

/// A random write to one of a few keys of every type; errors (WRONGTYPE and
/// the like) are part of the game: the server's answer is the truth.
fn random_write(c: &mut redis::Connection, rng: &mut StdRng) {
    let key = format!("k{}", rng.gen_range(0..30));
    let f = format!("f{}", rng.gen_range(0..40));
    let v = format!("v{}", rng.gen_range(0..1000));
    let n = rng.gen_range(0..4000).to_string();
    let score = format!("{}.{}", rng.gen_range(-50..50), rng.gen_range(0..10));
    let args: Vec<String> = match rng.gen_range(0..26) {
        20 | 21 => vec!["ZADD".into(), key, score, f, n, v],
        22 => vec!["ZINCRBY".into(), key, score, f],
        23 => vec!["ZREM".into(), key, f],
        24 => vec!["ZPOPMIN".into(), key, rng.gen_range(1..3).to_string()],
        25 => vec!["ZREMRANGEBYSCORE".into(), key, "(0".into(), score],
        0..=2 => vec!["HSET".into(), key, f, v],
        3 => vec!["HDEL".into(), key, f],
        4 => vec!["HINCRBY".into(), key, f, "7".into()],
        5 => vec!["HSETNX".into(), key, f, v],
        6..=8 => vec!["SADD".into(), key, f, v],
        9 => vec!["SREM".into(), key, f],
        10 => vec!["SPOP".into(), key, rng.gen_range(1..4).to_string()],
        11 => vec!["SETBIT".into(), key, n, "1".into()],
        12 => vec!["SETRANGE".into(), key, rng.gen_range(0..300).to_string(), v],
        13 => vec!["APPEND".into(), key, v],
        14 => vec!["PFADD".into(), key, f, v],
        15 => vec![
            "EXPIRE".into(),
            key,
            (100_000 + rng.gen_range(0..1000)).to_string(),
        ],
        16 => vec!["PERSIST".into(), key],
        17 => vec!["SET".into(), key, v],
        18 => vec!["DEL".into(), key],
        _ => vec![
            "SINTERSTORE".into(),
            key.clone(),
            key,
            format!("k{}", rng.gen_range(0..30)),
        ],
    };
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    let _: redis::RedisResult<Value> = cmd.query(c);
}

#[test]
fn every_type_replays_exactly_through_moves_rewrites_and_transactions() {
    let dir = TempDir::new("deltas-random");
    let mut s = logged(&dir, &["--initial-shards", "4"]);
    let mut c = s.client();
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut con = s.client();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(5);
            let mut moves = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut cmd = redis::cmd("STAIRKV");
                match rng.gen_range(0..3) {
                    0 => cmd
                        .arg("MIGRATE")
                        .arg(rng.gen_range(0..4))
                        .arg(rng.gen_range(0..2)),
                    1 => cmd.arg("SPLIT"),
                    _ => cmd.arg("MERGE"),
                };
                if cmd.query::<Value>(&mut con).is_ok() {
                    moves += 1;
                }
                std::thread::sleep(Duration::from_millis(3));
            }
            moves
        })
    };
    let mut rng = StdRng::seed_from_u64(17);
    // Small limits: collections cross from packed to tables often.
    for (name, value) in [
        ("hash-max-listpack-entries", "8"),
        ("set-max-listpack-entries", "8"),
        ("set-max-intset-entries", "8"),
        ("zset-max-listpack-entries", "8"),
    ] {
        common::config_set(&mut c, name, value);
    }
    for step in 0..6000 {
        match step {
            2000 | 4500 => {
                let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).expect("rewrite");
            }
            3000 => {
                let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
            }
            _ if step % 97 == 0 => {
                // A transaction over keys on both cores, deltas inside.
                let _: () = redis::cmd("MULTI").query(&mut c).expect("MULTI");
                for _ in 0..4 {
                    random_write(&mut c, &mut rng);
                }
                // An element may be an error (WRONGTYPE): the crate fails the
                // whole reply then, which is fine here.
                let _: redis::RedisResult<Value> = redis::cmd("EXEC").query(&mut c);
            }
            _ => random_write(&mut c, &mut rng),
        }
    }
    let before = state(&mut c);
    let types: std::collections::BTreeSet<&str> =
        before.values().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(types.len(), 4, "every type is left at the end: {types:?}");
    // Killed while shards still move: a migration, split or merge is cut.
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    let moves = mover.join().expect("mover");
    assert!(moves > 10, "only {moves} moves");
    let s = logged(&dir, &[]);
    let mut c = s.client();
    same(&state(&mut c), &before);
}
