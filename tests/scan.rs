//! SCAN for tools, through real clients against the real binary: cursors
//! below 2^53 (node-redis 4 turns them into JavaScript numbers), pages that
//! fill COUNT across shards and cores, a shard of many keys walked from
//! where the last call stopped, `redis-cli --scan`, every key present for a
//! whole scan listed while the staircase splits under a writer, and
//! Redis's errors for bad cursors and options.

mod common;

use common::{error_text, scan_reply, Server};
use redis::{Connection, Value};
use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const JS_EXACT: u64 = 1 << 53;

fn scan(con: &mut Connection, cursor: &str, extra: &[&str]) -> (String, Vec<String>) {
    let mut c = redis::cmd("SCAN");
    c.arg(cursor);
    for a in extra {
        c.arg(*a);
    }
    let v: Value = c
        .query(con)
        .unwrap_or_else(|e| panic!("SCAN {cursor} {extra:?}: {e}"));
    let (next, keys) = scan_reply(v);
    let n: u64 = next.parse().expect("a cursor is a number");
    assert!(n < JS_EXACT, "cursor {n} is not below 2^53");
    (next, keys)
}

/// Every key of a full scan, and the page sizes on the way.
fn full_scan(con: &mut Connection, extra: &[&str]) -> (Vec<String>, Vec<usize>) {
    let (mut cursor, mut keys, mut pages) = ("0".to_string(), Vec::new(), Vec::new());
    loop {
        let (next, page) = scan(con, &cursor, extra);
        pages.push(page.len());
        keys.extend(page);
        if next == "0" {
            return (keys, pages);
        }
        assert!(pages.len() < 1_000_000, "the scan never ended");
        cursor = next;
    }
}

fn set_many(con: &mut Connection, keys: impl Iterator<Item = String>) {
    let keys: Vec<String> = keys.collect();
    for chunk in keys.chunks(1000) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("SET").arg(k).arg("v").ignore();
        }
        p.query::<()>(con).expect("SET pipeline");
    }
}

#[test]
fn pages_fill_count_across_shards_and_cores() {
    // The staircase stays put, so that no key may come twice.
    let s = Server::start(2, &["--initial-shards", "16", "--autoscale", "off"]);
    let mut c = s.client();
    set_many(&mut c, ["a", "b", "c"].iter().map(|k| k.to_string()));
    // Three keys over sixteen shards on two cores: one call, and the end.
    let (next, mut keys) = scan(&mut c, "0", &[]);
    keys.sort();
    assert_eq!(
        (next.as_str(), keys),
        ("0", vec!["a".into(), "b".into(), "c".into()])
    );

    set_many(&mut c, (0..20_000).map(|i| format!("k:{i}")));
    for count in [1usize, 10, 100, 1000] {
        let count_arg = count.to_string();
        let (keys, pages) = full_scan(&mut c, &["COUNT", &count_arg]);
        let unique: HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), 20_003, "COUNT {count}");
        assert_eq!(
            keys.len(),
            20_003,
            "COUNT {count}: a key came twice with nothing moving"
        );
        // Every page but the last is full: COUNT keys, across shards and cores.
        // A page comes short only after ten empty buckets per key asked for,
        // which a run of empty buckets can give COUNT 1.
        let short = pages[..pages.len() - 1]
            .iter()
            .filter(|&&n| n != count && count >= 10)
            .count();
        assert_eq!(
            short,
            0,
            "COUNT {count}: pages {:?}",
            &pages[..pages.len().min(20)]
        );
    }
    // MATCH and TYPE filter after counting, as in Redis.
    let (keys, _) = full_scan(&mut c, &["MATCH", "k:1*", "COUNT", "500"]);
    assert_eq!(keys.len(), 1 + 10 + 100 + 1000 + 10_000);
    let (keys, _) = full_scan(&mut c, &["TYPE", "string", "COUNT", "500"]);
    assert_eq!(keys.len(), 20_003);
    let (keys, _) = full_scan(&mut c, &["TYPE", "hash", "COUNT", "500"]);
    assert!(keys.is_empty());
}

#[test]
fn bad_cursors_and_options_get_redis_errors() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let mut err = |args: &[&str]| {
        let mut cmd = redis::cmd("SCAN");
        for a in args {
            cmd.arg(*a);
        }
        error_text(cmd.query(&mut c))
    };
    for bad in ["abc", "-1", "9007199254740992", "18446744073709551616", ""] {
        assert!(err(&[bad]).contains("invalid cursor"), "SCAN {bad:?}");
    }
    assert!(err(&[]).contains("wrong number of arguments"));
    assert!(err(&["0", "COUNT", "0"]).contains("syntax error"));
    assert!(err(&["0", "COUNT"]).contains("syntax error"));
    assert!(err(&["0", "COUNT", "x"]).contains("not an integer"));
    assert!(err(&["0", "NOPE", "1"]).contains("syntax error"));
}

/// One shard of 60,000 keys (they share a hash tag): each call of COUNT 10
/// lists at most ten keys and goes on from the bucket the last one stopped
/// at, so the pages never overlap and the scan lists each key once.
#[test]
fn a_big_shard_is_walked_from_where_the_last_call_stopped() {
    let s = Server::start(2, &["--autoscale", "off"]);
    let mut c = s.client();
    set_many(&mut c, (0..60_000).map(|i| format!("{{one}}:{i}")));
    let (keys, pages) = full_scan(&mut c, &[]);
    assert!(pages.iter().all(|&n| n <= 10), "a page over COUNT 10");
    assert_eq!(keys.len(), 60_000, "a key came twice or never");
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 60_000);
    assert!(pages.len() >= 6_000, "{} calls", pages.len());
}

/// `redis-cli --scan` (and `--pattern`) lists every key.
#[test]
fn redis_cli_scan_lists_every_key() {
    if Command::new("redis-cli").arg("--version").output().is_err() {
        eprintln!("skipped: no redis-cli");
        return;
    }
    let s = Server::start(2, &[]);
    let mut c = s.client();
    set_many(&mut c, (0..30_000).map(|i| format!("cli:{i}")));
    let run = |extra: &[&str]| -> HashSet<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &s.port.to_string(), "--scan"])
            .args(extra)
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(run(&[]).len(), 30_000);
    let some = run(&["--pattern", "cli:2*"]);
    assert_eq!(some.len(), 1 + 10 + 100 + 1000 + 10_000);
}

/// While a writer adds keys fast enough to split shards again and again
/// (and grow and rebuild their tables), every full scan lists every key
/// that was there before it began, and no key nobody wrote.
#[test]
fn every_key_present_throughout_is_listed_while_shards_split() {
    let s = Server::start(
        2,
        &["--shard-max-keys", "500", "--controller-interval-ms", "20"],
    );
    let mut c = s.client();
    let stable: HashSet<String> = (0..10_000).map(|i| format!("stable:{i}")).collect();
    set_many(&mut c, stable.iter().cloned());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut w = s.client();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                set_many(&mut w, (n..n + 500).map(|i| format!("new:{i}")));
                n += 500;
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        })
    };
    let shards = |c: &mut Connection| -> usize {
        let rows: Vec<Value> = redis::cmd("STAIRKV")
            .arg("SHARDS")
            .query(c)
            .expect("SHARDS");
        rows.len()
    };
    let before = shards(&mut c);
    for round in 0..6 {
        let count = ["10", "100", "1000"][round % 3];
        let (keys, _) = full_scan(&mut c, &["COUNT", count]);
        let seen: HashSet<String> = keys.into_iter().collect();
        assert!(
            seen.iter()
                .all(|k| k.starts_with("stable:") || k.starts_with("new:")),
            "a key nobody wrote"
        );
        let missed: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(
            missed.is_empty(),
            "round {round} missed {} keys, e.g. {:?}",
            missed.len(),
            &missed[..missed.len().min(5)]
        );
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    let after = shards(&mut c);
    assert!(
        after > before,
        "no split happened ({before} -> {after} shards, {written} keys written)"
    );
}

/// node-redis 4 (`redis@4`) holds cursors as JavaScript numbers: its scan
/// iterator must reach the end and list every key. Needs node and the
/// package `.ci/run` installs under tests/node; skipped without them unless
/// STAIRKV_REQUIRE_NODE is set (CI sets it).
#[test]
fn node_redis_4_scans_to_the_end() {
    if !common::have_node_package("redis") {
        return;
    }
    let s = Server::start(2, &[]);
    let mut c = s.client();
    set_many(&mut c, (0..25_000).map(|i| format!("node:{i}")));
    let text = common::run_node("scan.mjs", &[s.port.to_string()]);
    // "<keys> <unique keys> <calls> <largest cursor>"
    let f: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().expect("a number"))
        .collect();
    assert_eq!(f.len(), 4, "{text}");
    assert_eq!((f[0], f[1]), (25_000, 25_000), "{text}");
    assert!(f[3] < JS_EXACT, "{text}");
}
