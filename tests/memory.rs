//! maxmemory through the real binary and a real client: noeviction as a
//! database (Redis's OOM error on writes, reads and deletes still served),
//! every eviction policy keeping used memory under the limit while writes go
//! on, volatile policies sparing keys without a TTL, a lower limit set at run
//! time evicting down to it with `evicted` events, and the settings' errors.

mod common;

use common::{info_field, info_num, Server};
use redis::{Connection, RedisResult, Value};
use std::time::{Duration, Instant};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn config_set(con: &mut Connection, name: &str, value: &str) -> RedisResult<()> {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
}

/// SET `n` keys `prefix<i>` with 40-byte values (and a long TTL on the keys
/// `ttl_every` picks), pipelined; returns the errors (the client stops reading
/// a pipeline's replies at its first error).
fn fill(con: &mut Connection, prefix: &str, n: usize, ttl_every: Option<usize>) -> Vec<String> {
    let mut errors = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        for &i in chunk {
            let c = p
                .cmd("SET")
                .arg(format!("{prefix}{i}"))
                .arg(&[b'v'; 40][..]);
            if ttl_every.is_some_and(|k| i % k == 0) {
                c.arg("EX").arg(3600);
            }
        }
        if let Err(e) = p.query::<()>(con) {
            errors.push(format!(
                "{} {}",
                e.code().unwrap_or_default(),
                e.detail().unwrap_or_default()
            ));
        }
    }
    errors
}

fn err_text<T: std::fmt::Debug>(r: RedisResult<T>) -> String {
    let e = r.expect_err("an error reply");
    format!(
        "{} {}",
        e.code().unwrap_or_default(),
        e.detail().unwrap_or_default()
    )
}

#[test]
fn noeviction_refuses_writes_and_serves_reads_and_deletes() {
    let s = Server::start(2, &["--maxmemory-policy", "noeviction"]);
    let mut con = s.client();
    assert!(fill(&mut con, "k", 20_000, None).is_empty());
    let used = info_num(&mut con, "memory", "used_memory");
    assert!(used > 20_000 * 48, "used_memory {used} for 20,000 keys");
    // A limit under what is held: a database that is full.
    config_set(&mut con, "maxmemory", &(used / 2).to_string()).unwrap();
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "noeviction"
    );
    for cmd in [
        redis::cmd("SET").arg("new").arg("v").clone(),
        redis::cmd("SET").arg("k1").arg("overwrite").clone(),
        redis::cmd("INCR").arg("counter").clone(),
        redis::cmd("APPEND").arg("k2").arg("more").clone(),
        redis::cmd("SETRANGE").arg("k3").arg(0).arg("x").clone(),
        redis::cmd("MSET").arg("a").arg(1).arg("b").arg(2).clone(),
    ] {
        let r: RedisResult<Value> = cmd.query(&mut con);
        assert_eq!(err_text(r), OOM);
    }
    for i in 0..100 {
        let r: RedisResult<()> = redis::cmd("SET")
            .arg(format!("more{i}"))
            .arg("v")
            .query(&mut con);
        assert_eq!(err_text(r), OOM, "every write refused");
    }
    // Reads, TTL changes and deletes still work, and nothing was evicted.
    let v: Vec<u8> = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    assert_eq!(v, vec![b'v'; 40]);
    let n: i64 = redis::cmd("EXPIRE")
        .arg("k4")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(info_num(&mut con, "stats", "evicted_keys"), 0);
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 20_000);
    let mut p = redis::pipe();
    for i in 0..15_000 {
        p.cmd("DEL").arg(format!("k{i}")).ignore();
    }
    p.query::<()>(&mut con).unwrap();
    // Room again: writes are accepted.
    let r: String = redis::cmd("SET")
        .arg("new")
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert_eq!(r, "OK");
    assert!(info_num(&mut con, "memory", "used_memory") <= used / 2);
}

#[test]
fn every_cache_policy_evicts_and_stays_under_the_limit() {
    for policy in [
        "allkeys-s3fifo",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let s = Server::start(2, &["--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let mut con = s.client();
        let volatile = policy.starts_with("volatile");
        // Volatile: four keys in five carry a TTL; the rest must all survive.
        let ttl_every = volatile.then_some(1);
        assert!(fill(&mut con, "plain", if volatile { 15_000 } else { 0 }, None).is_empty());
        let errors = fill(&mut con, "k", 100_000, ttl_every);
        assert!(
            errors.is_empty(),
            "{policy}: {:?}",
            &errors[..errors.len().min(3)]
        );
        let used = info_num(&mut con, "memory", "used_memory");
        let max = info_num(&mut con, "memory", "maxmemory");
        assert_eq!(max, 4 * 1024 * 1024);
        assert!(
            used <= max,
            "{policy}: used_memory {used} over maxmemory {max}"
        );
        assert_eq!(info_field(&mut con, "memory", "maxmemory_policy"), policy);
        let evicted = info_num(&mut con, "stats", "evicted_keys");
        let size: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        let written = if volatile { 115_000 } else { 100_000 };
        assert!(
            evicted > 0 && size < written,
            "{policy}: {size} keys, {evicted} evicted"
        );
        assert_eq!(
            size + evicted,
            written,
            "{policy}: every key is held or evicted"
        );
        if volatile {
            let mut p = redis::pipe();
            for i in 0..15_000 {
                p.cmd("EXISTS").arg(format!("plain{i}"));
            }
            let found: Vec<i64> = p.query(&mut con).unwrap();
            assert!(
                found.iter().all(|&f| f == 1),
                "{policy} evicted a key without a TTL"
            );
        }
        // The server serves on at the limit.
        let pong: String = redis::cmd("PING").query(&mut con).unwrap();
        assert_eq!(pong, "PONG");
    }
}

#[test]
fn lower_maxmemory_at_run_time_evicts_down_with_events() {
    let s = Server::start(2, &["--notify-keyspace-events", "Ee"]);
    let mut con = s.client();
    let mut sub_con = s.client();
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("__keyevent@0__:evicted").unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(fill(&mut con, "k", 50_000, None).is_empty());
    assert_eq!(info_num(&mut con, "stats", "evicted_keys"), 0);
    let used = info_num(&mut con, "memory", "used_memory");
    let limit = used / 3;
    config_set(&mut con, "maxmemory", &limit.to_string()).unwrap();
    let start = Instant::now();
    while info_num(&mut con, "memory", "used_memory") > limit {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never got under the new limit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let evicted = info_num(&mut con, "stats", "evicted_keys");
    let size: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size + evicted, 50_000);
    assert!(
        size > 5_000,
        "evicted far below the limit: {size} keys left"
    );
    // One event per evicted key, naming it.
    let mut heard = std::collections::HashSet::new();
    while heard.len() < evicted as usize {
        let m = sub.get_message().expect("an evicted event");
        let key: String = m.get_payload().unwrap();
        assert!(key.starts_with('k'), "{key}");
        assert!(heard.insert(key), "a key announced twice");
    }
    // Writes go on at the limit, evicting as they go.
    assert!(fill(&mut con, "again", 10_000, None).is_empty());
    assert!(info_num(&mut con, "memory", "used_memory") <= limit);
}

#[test]
fn memory_settings_and_their_errors() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let get = |con: &mut Connection, name: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .unwrap();
        v[1].clone()
    };
    // The defaults: no limit, and the cache policy ready for one.
    assert_eq!(get(&mut con, "maxmemory"), "0");
    assert_eq!(get(&mut con, "maxmemory-policy"), "allkeys-s3fifo");
    assert_eq!(get(&mut con, "maxmemory-samples"), "5");
    config_set(&mut con, "maxmemory", "100mb").unwrap();
    assert_eq!(get(&mut con, "maxmemory"), "104857600");
    assert_eq!(info_field(&mut con, "memory", "maxmemory_human"), "100.00M");
    config_set(&mut con, "maxmemory", "2GB").unwrap();
    assert_eq!(get(&mut con, "maxmemory"), (2u64 << 30).to_string());
    config_set(&mut con, "maxmemory-policy", "VOLATILE-TTL").unwrap();
    assert_eq!(get(&mut con, "maxmemory-policy"), "volatile-ttl");
    let e = err_text(config_set(&mut con, "maxmemory", "lots"));
    assert!(e.contains("maxmemory") && e.contains("memory value"), "{e}");
    let e = err_text(config_set(&mut con, "maxmemory-policy", "lru"));
    assert!(
        e.contains("must be one of the following") && e.contains("allkeys-s3fifo"),
        "{e}"
    );
    let e = err_text(config_set(&mut con, "maxmemory-samples", "0"));
    assert!(e.contains("between 1 and 64"), "{e}");
    assert_eq!(
        get(&mut con, "maxmemory-policy"),
        "volatile-ttl",
        "a refused SET changes nothing"
    );
    // A bad flag is a one-line error at start, not a panic.
    for args in [["--maxmemory", "ten"], ["--maxmemory-policy", "fifo"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[1]) && !err.contains("panicked"), "{err}");
    }
}
