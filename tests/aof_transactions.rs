//! Transactions that span cores in the per-core logs, through the real
//! binary: each core logs its own part, so a crash can keep one part and lose
//! the other — recovery must keep all of a transaction or none of it, and
//! never drop one that was whole (also across log rewrites).
//!
//! Pairs of keys, `a` on core 0 and `b` on core 1, are set to the same round
//! number by MULTI/EXEC and by EVAL. After a `kill -9` every pair must read
//! equal. A copy of the files with the end of core 1's log cut off (the crash
//! lost its last writes) must still read equal pairs — older ones where the
//! cut took them — while the files as they were keep the last round.

mod common;

use common::{keys_on_each_core, Server, TempDir};
use redis::{Commands, Connection, Value};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

const PAIRS: usize = 30;

fn logged(dir: &Path, fsync: &str) -> Server {
    Server::start(
        2,
        &[
            "--dir",
            &dir.to_string_lossy(),
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
            "--autoscale",
            "off",
        ],
    )
}

/// `n` pairs of keys, one on core 0 and one on core 1.
fn pairs(con: &mut Connection, n: usize) -> Vec<(String, String)> {
    let [a, b] = keys_on_each_core(con, n, "acct");
    a.into_iter().zip(b).collect()
}

const BOTH: &str =
    "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return 1";

/// Set both keys of a pair to `r` in one transaction: MULTI/EXEC, or EVAL.
fn set_pair(con: &mut Connection, a: &str, b: &str, r: u32, multi: bool) -> redis::RedisResult<()> {
    if multi {
        redis::pipe()
            .atomic()
            .set(a, r)
            .ignore()
            .set(b, r)
            .ignore()
            .query(con)
    } else {
        let one: i64 = redis::cmd("EVAL")
            .arg(BOTH)
            .arg(2)
            .arg(a)
            .arg(b)
            .arg(r)
            .query(con)?;
        assert_eq!(one, 1);
        Ok(())
    }
}

/// Round `r` over every pair: MULTI/EXEC for even pairs, EVAL for odd ones.
fn round(con: &mut Connection, pairs: &[(String, String)], r: u32) {
    for (i, (a, b)) in pairs.iter().enumerate() {
        set_pair(con, a, b, r, i.is_multiple_of(2)).expect("transaction");
    }
}

/// Each pair's two values; panics on a pair read unequal (half a transaction).
fn read_pairs(con: &mut Connection, pairs: &[(String, String)]) -> Vec<Option<u32>> {
    pairs
        .iter()
        .map(|(a, b)| {
            let va: Option<u32> = con.get(a).expect("GET");
            let vb: Option<u32> = con.get(b).expect("GET");
            assert_eq!(va, vb, "{a} and {b} were set by one transaction each time");
            va
        })
        .collect()
}

fn wait_rewrite(con: &mut Connection, at_least: u64) {
    let start = Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(con)
            .expect("INFO");
        let n = info
            .lines()
            .find_map(|l| l.strip_prefix("aof_rewrites:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if n >= at_least {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "rewrite never ended"
        );
        sleep(Duration::from_millis(20));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Core `core`'s log of the highest generation.
fn newest_log(dir: &Path, core: usize) -> PathBuf {
    let mark = format!(".aof.{core}.");
    std::fs::read_dir(dir.join("appendonlydir"))
        .expect("logs")
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let rest = name.strip_suffix(".log")?;
            let gen: u64 = rest.split_once(&mark)?.1.parse().ok()?;
            Some((gen, p))
        })
        .max_by_key(|(gen, _)| *gen)
        .map(|(_, p)| p)
        .expect("a log of the core")
}

#[test]
fn a_cross_core_transaction_survives_whole_or_not_at_all() {
    let dir = TempDir::new("txlog");
    let mut s = logged(&dir.0, "everysec");
    let mut con = s.client();
    let pairs = pairs(&mut con, PAIRS);
    // Rounds with rewrites between them: transactions before a rewrite live
    // on in its bases, after it in the new logs.
    let rounds = 12;
    for r in 1..=rounds {
        round(&mut con, &pairs, r);
        if r % 4 == 0 {
            let _: String = redis::cmd("BGREWRITEAOF")
                .query(&mut con)
                .expect("BGREWRITEAOF");
            wait_rewrite(&mut con, (r / 4) as u64);
        }
    }
    // Two more rounds after the last rewrite: the cut below reaches them.
    round(&mut con, &pairs, rounds + 1);
    round(&mut con, &pairs, rounds + 2);
    let last = rounds + 2;
    // `everysec`: wait for the writes to be in the files, then crash.
    sleep(Duration::from_millis(1500));
    drop(con);
    s.kill9();
    let cut = TempDir::new("txlog-cut");
    copy_dir(&dir.0, &cut.0);

    // The files as they were: every transaction was whole, none is dropped.
    let s = logged(&dir.0, "everysec");
    let mut con = s.client();
    let got = read_pairs(&mut con, &pairs);
    assert!(
        got.iter().all(|v| *v == Some(last)),
        "every pair at round {last}: {got:?}"
    );
    drop(con);
    drop(s);

    // Core 1 lost the end of its log: the transactions whose part there was
    // cut are gone on core 0 too; the others stay.
    let log = newest_log(&cut.0, 1);
    let bytes = std::fs::read(&log).expect("read log");
    let keep = bytes.len().saturating_sub(1500);
    assert!(keep > 36, "the log holds records past its header");
    std::fs::write(&log, &bytes[..keep]).expect("cut");
    let s = logged(&cut.0, "everysec");
    let mut con = s.client();
    let got = read_pairs(&mut con, &pairs);
    let older = got.iter().filter(|v| **v != Some(last)).count();
    assert!(
        older > 0,
        "the cut took some transactions of the last rounds: {got:?}"
    );
    assert!(
        got.iter().all(|v| v.is_some_and(|r| r + 2 >= last)),
        "nothing older than the rounds the cut reached: {got:?}"
    );
}

#[test]
fn an_answered_transaction_survives_kill_9_under_always() {
    let dir = TempDir::new("txalways");
    let mut s = logged(&dir.0, "always");
    let mut con = s.client();
    let pairs = pairs(&mut con, 10);
    for r in 1..=5 {
        round(&mut con, &pairs, r);
    }
    // No wait: under `always` an answer means every part and end is synced.
    drop(con);
    s.kill9();
    let s = logged(&dir.0, "always");
    let mut con = s.client();
    let got = read_pairs(&mut con, &pairs);
    assert!(got.iter().all(|v| *v == Some(5)), "{got:?}");
}

/// One writer's pairs: the round each pair last answered, and the round in
/// flight (a crash may or may not keep it).
struct Progress {
    acked: Vec<u32>,
    sent: Vec<u32>,
}

/// Rounds over `pairs` until the connection breaks (the kill).
fn write_until_killed(mut con: Connection, pairs: &[(String, String)], p: &mut Progress) {
    for r in p.acked.iter().copied().max().unwrap_or(0) + 1.. {
        for (i, (a, b)) in pairs.iter().enumerate() {
            p.sent[i] = r;
            let ok = set_pair(&mut con, a, b, r, (i + r as usize).is_multiple_of(2)).is_ok();
            if !ok {
                return;
            }
            p.acked[i] = r;
        }
    }
}

/// Moves the pairs' shards between the cores, splits, merges and rewrites
/// the logs until the connection breaks; how many changes went through.
fn churn(mut con: Connection, pairs: &[(String, String)], seed: u64) -> u64 {
    let mut n = 0u64;
    let mut x = seed;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = match x % 10 {
            0 => redis::cmd("BGREWRITEAOF").query::<Value>(&mut con),
            1..=2 => redis::cmd("STAIRKV").arg("SPLIT").query(&mut con),
            3..=4 => redis::cmd("STAIRKV").arg("MERGE").query(&mut con),
            _ => {
                let (a, b) = &pairs[(x >> 8) as usize % pairs.len()];
                let key = if x & 1 == 0 { a } else { b };
                let place: redis::RedisResult<(u64, u64)> = redis::cmd("STAIRKV")
                    .arg("KEYSHARD")
                    .arg(key)
                    .query(&mut con);
                match place {
                    Ok((shard, core)) => redis::cmd("STAIRKV")
                        .arg("MIGRATE")
                        .arg(shard)
                        .arg(1 - core.min(1))
                        .query(&mut con),
                    Err(e) => Err(e),
                }
            }
        };
        match r {
            Ok(_) => n += 1,
            // A move already running, nothing to merge, a rewrite running.
            Err(e) if e.kind() != redis::ErrorKind::IoError && !e.is_connection_dropped() => {}
            Err(_) => return n,
        }
    }
}

/// The core that owns `key` now.
fn core_of(con: &mut Connection, key: &str) -> u64 {
    let (_, core): (u64, u64) = redis::cmd("STAIRKV")
        .arg("KEYSHARD")
        .arg(key)
        .query(con)
        .expect("KEYSHARD");
    core
}

#[test]
fn transactions_stay_whole_through_kill_9_while_the_staircase_moves() {
    let dir = TempDir::new("txcycles");
    let args = |fsync: &'static str| -> Vec<String> {
        [
            "--dir",
            dir.arg(),
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
            "--shard-max-keys",
            "16",
            "--controller-interval-ms",
            "20",
            "--migrate-batch",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let start = || {
        let a = args("always");
        let refs: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        Server::start(2, &refs)
    };
    let mut s = start();
    let mut con = s.client();
    let names: Vec<(String, String)> = (0..40)
        .map(|i| (format!("pair{i}:a"), format!("pair{i}:b")))
        .collect();
    let halves: Vec<Vec<(String, String)>> = names.chunks(20).map(|c| c.to_vec()).collect();
    let mut progress: Vec<Progress> = halves
        .iter()
        .map(|h| Progress {
            acked: vec![0; h.len()],
            sent: vec![0; h.len()],
        })
        .collect();
    let (mut changes, mut cross) = (0u64, 0usize);
    for cycle in 0..4u64 {
        // Pairs whose keys live on different cores now (they move).
        for (a, b) in &names {
            cross += usize::from(core_of(&mut con, a) != core_of(&mut con, b));
        }
        let run_ms = 300 + (cycle * 397) % 700;
        std::thread::scope(|scope| {
            let writers: Vec<_> = halves
                .iter()
                .zip(progress.iter_mut())
                .map(|(h, p)| {
                    let c = s.client();
                    scope.spawn(move || write_until_killed(c, h, p))
                })
                .collect();
            let c = s.client();
            let names = &names;
            let churner = scope.spawn(move || churn(c, names, 0x9e37_79b9 + cycle));
            sleep(Duration::from_millis(run_ms));
            s.kill9();
            for w in writers {
                w.join().expect("writer");
            }
            changes += churner.join().expect("churn");
        });
        s = start();
        con = s.client();
        // Every pair equal (whole or not at all), and at its last answered
        // round or the one in flight (`always`: nothing answered is lost).
        for (h, p) in halves.iter().zip(&progress) {
            let got = read_pairs(&mut con, h);
            for (i, v) in got.iter().enumerate() {
                let v = v.unwrap_or(0);
                assert!(
                    v == p.acked[i] || v == p.sent[i],
                    "cycle {cycle}: {} at round {v}, answered {} and in flight {}",
                    h[i].0,
                    p.acked[i],
                    p.sent[i]
                );
            }
        }
        for (h, p) in halves.iter().zip(progress.iter_mut()) {
            let got = read_pairs(&mut con, h);
            p.acked = got.iter().map(|v| v.unwrap_or(0)).collect();
        }
    }
    let rounds: u32 = progress.iter().flat_map(|p| p.acked.iter()).sum();
    println!("4 kill -9 cycles: {rounds} transactions answered and kept, {changes} staircase changes and rewrites, {cross} pair-cycles across cores");
    assert!(
        changes > 0 && cross > 0,
        "the staircase moved and pairs spanned cores"
    );
}

/// A FLUSHALL logs a claim on every core: after a crash that kept one core's
/// and lost the other's, it must count on neither.
#[test]
fn a_flushall_counts_on_every_core_or_none() {
    let dir = TempDir::new("txflush");
    let mut s = logged(&dir.0, "everysec");
    let mut con = s.client();
    let pairs = pairs(&mut con, 20);
    round(&mut con, &pairs, 1);
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
    sleep(Duration::from_millis(1500));
    drop(con);
    s.kill9();
    let cut = TempDir::new("txflush-cut");
    copy_dir(&dir.0, &cut.0);
    // As it was: flushed on both cores.
    let s = logged(&dir.0, "everysec");
    let mut con = s.client();
    assert_eq!(read_pairs(&mut con, &pairs), vec![None; pairs.len()]);
    drop(con);
    drop(s);
    // Core 1's end of the flush lost (its last record cut short): the flush
    // is undone on core 0 too, every pair back at round 1.
    let log = newest_log(&cut.0, 1);
    let bytes = std::fs::read(&log).expect("read log");
    std::fs::write(&log, &bytes[..bytes.len() - 5]).expect("cut");
    let s = logged(&cut.0, "everysec");
    let mut con = s.client();
    assert_eq!(read_pairs(&mut con, &pairs), vec![Some(1); pairs.len()]);
}
