//! The controller's rebalancing, black-box against the real binary: a skewed
//! load ends balanced. The load is the bundled `stairkv-bench` with
//! `--hash-mod 2:R`, which names only keys whose route hash is R mod 2: on a
//! two-core server every such key lives in the shards that started on core R,
//! so the other core idles until the controller moves shards. Balance is read
//! where an operator reads it, on INFO staircase's per-core lines.
//!
//! Two paths: under load the controller steers by ops/s (here the keys are even
//! across the cores and only the load is skewed, so balancing keys would do
//! nothing); with no load it steers by keys. Both tests wait for a balance that
//! holds for several samples and for the moves to stop (no oscillation), with
//! deadlines generous enough for a 2-CPU machine that the load generator shares.

mod common;

use common::{config_set, Server};
use redis::Connection;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Balanced: the slower core does at least this share of the faster one's work.
const BALANCED: f64 = 0.9;

fn bench_cmd(server: &Server, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"));
    c.args([
        "--port",
        &server.port.to_string(),
        "--quiet",
        "--timeout",
        "30",
    ])
    .args(args);
    c
}

fn bench(server: &Server, args: &[&str]) -> Output {
    let out = bench_cmd(server, args).output().expect("run stairkv-bench");
    assert!(
        out.status.success(),
        "stairkv-bench {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `n` keys named `<prefix><i>` whose route hash is `r` mod 2, written once.
fn prefill(server: &Server, prefix: &str, n: u64, r: u32) {
    bench(
        server,
        &[
            "--key-prefix",
            prefix,
            "--keys",
            &n.to_string(),
            "--hash-mod",
            &format!("2:{r}"),
            "--value-size",
            "16",
            "-c",
            "8",
            "-P",
            "32",
            "--prefill",
            "-n",
            "1",
        ],
    );
}

/// A load generator that stops itself when dropped.
struct Load(Child);

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct CoreLine {
    keys: f64,
    ops_per_sec: f64,
}

#[derive(Debug)]
struct Poll {
    at: Instant,
    moves: u64,
    cores: Vec<CoreLine>,
}

/// INFO staircase: `rebalance_moves` and every `coreN:...` line.
fn poll(con: &mut Connection) -> Poll {
    let info: String = redis::cmd("INFO")
        .arg("staircase")
        .query(con)
        .expect("INFO staircase");
    let mut moves = None;
    let mut cores = Vec::new();
    for line in info.lines() {
        let Some((name, value)) = line.trim().split_once(':') else {
            continue;
        };
        if name == "rebalance_moves" {
            moves = value.parse().ok();
        } else if name.starts_with("core") {
            let field = |f: &str| -> f64 {
                value
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("INFO staircase {name} has no {f}: {line}"))
            };
            cores.push(CoreLine {
                keys: field("keys"),
                ops_per_sec: field("ops_per_sec"),
            });
        }
    }
    assert_eq!(cores.len(), 2, "two core lines: {info}");
    Poll {
        at: Instant::now(),
        moves: moves.unwrap_or_else(|| panic!("INFO staircase has no rebalance_moves: {info}")),
        cores,
    }
}

/// The slower core's share of the faster one's `f`.
fn ratio(p: &Poll, f: fn(&CoreLine) -> f64) -> f64 {
    let (a, b) = (f(&p.cores[0]), f(&p.cores[1]));
    let hi = a.max(b);
    if hi <= 0.0 {
        0.0
    } else {
        a.min(b) / hi
    }
}

/// Poll every 250 ms until the cores have been balanced by `f`, with no
/// rebalance move, for `hold` — every poll in it, and at least `min_polls` —
/// or until `deadline`. Returns every poll, and whether it held.
fn wait_balanced(
    con: &mut Connection,
    f: fn(&CoreLine) -> f64,
    hold: Duration,
    deadline: Duration,
) -> (Vec<Poll>, bool) {
    let start = Instant::now();
    let mut polls: Vec<Poll> = Vec::new();
    while start.elapsed() < deadline {
        polls.push(poll(con));
        let last = polls.last().expect("a poll");
        // The newest run of balanced polls with one moves count.
        let run: Vec<&Poll> = polls
            .iter()
            .rev()
            .take_while(|p| ratio(p, f) >= BALANCED && p.moves == last.moves)
            .collect();
        if let Some(first) = run.last() {
            if last.at - first.at >= hold {
                return (polls, true);
            }
        }
        sleep(Duration::from_millis(250));
    }
    (polls, false)
}

fn show(polls: &[Poll], f: fn(&CoreLine) -> f64) -> String {
    let t0 = polls.first().map(|p| p.at).unwrap_or_else(Instant::now);
    polls
        .iter()
        .map(|p| {
            format!(
                "{:5.2}s moves={} core0={:.0} core1={:.0} ratio={:.2}",
                (p.at - t0).as_secs_f64(),
                p.moves,
                f(&p.cores[0]),
                f(&p.cores[1]),
                ratio(p, f)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn client(server: &Server) -> Connection {
    let con = server.client();
    con.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    con
}

/// Wait until the staircase has stopped splitting (the key count per shard is
/// under the bound) so that the keys sit where the test put them.
fn wait_grown(con: &mut Connection, keys: f64, max_keys: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("staircase")
            .query(con)
            .expect("INFO staircase");
        let shards: f64 = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("shards:")?.parse().ok())
            .expect("INFO staircase shards");
        if shards * max_keys >= keys {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the staircase did not grow: {info}"
        );
        sleep(Duration::from_millis(50));
    }
}

/// Keys even across the cores, load all on core 0's keys: the controller
/// moves shards by their measured ops/s until the cores serve about as many
/// ops each, which leaves core 1 with most of the keys.
#[test]
fn a_skewed_load_ends_balanced_by_ops() {
    // No rebalancing while the keys go in, so that they stay where they land:
    // hot keys on core 0, as many cold ones on core 1.
    let server = Server::start(
        2,
        &[
            "--shard-max-keys",
            "1024",
            "--rebalance-threshold",
            "1000000000",
        ],
    );
    let mut con = client(&server);
    let n = 40_000u64;
    prefill(&server, "hot:", n, 0);
    prefill(&server, "cold:", n, 1);
    wait_grown(&mut con, 2.0 * n as f64, 1024.0);
    let before = poll(&mut con);
    assert!(
        ratio(&before, |c| c.keys) >= 0.95,
        "the keys start even: {before:?}"
    );

    // An open-loop load, far above the ops/s under which keys are balanced
    // instead, on the hot keys only: core 1's shards see none of it.
    let _load = Load(
        bench_cmd(
            &server,
            &[
                "--key-prefix",
                "hot:",
                "--keys",
                &n.to_string(),
                "--hash-mod",
                "2:0",
                "--value-size",
                "16",
                "--threads",
                "1",
                "-c",
                "4",
                "-P",
                "16",
                "--rate",
                "15000",
                "--duration",
                "120",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stairkv-bench"),
    );
    // Let the load show in a sample (after the prefill's, which was on core 1
    // last) before the controller may act on it: all of it on core 0.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = poll(&mut con);
        if p.cores[0].ops_per_sec >= 2000.0 && p.cores[1].ops_per_sec < 100.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the load never showed on core 0 alone: {p:?}"
        );
        sleep(Duration::from_millis(100));
    }
    config_set(&mut con, "rebalance-threshold", "25");

    let (polls, held) = wait_balanced(
        &mut con,
        |c| c.ops_per_sec,
        Duration::from_secs(4),
        Duration::from_secs(60),
    );
    assert!(
        held,
        "the cores never stayed balanced by ops/s for 4 s:\n{}",
        show(&polls, |c| c.ops_per_sec)
    );
    let last = polls.last().expect("a poll");
    assert!(last.moves > 0, "shards moved: {last:?}");
    // Balancing ops, not keys: core 1 now holds its cold keys and part of the hot.
    assert!(
        last.cores[1].keys > 1.5 * last.cores[0].keys,
        "core 1 holds most keys: {last:?}"
    );
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 2 * n, "every key is still there");
}

/// No load: all keys on core 0's shards, the controller moves shards by key
/// count until the cores hold about as many keys each, and then stops.
#[test]
fn an_idle_server_ends_balanced_by_keys() {
    // Autoscale off while the keys go in: two shards, one per core, and every
    // key in core 0's. Turned on, the controller splits core 0's shard into
    // many and moves some of them.
    let server = Server::start(2, &["--shard-max-keys", "1024", "--autoscale", "off"]);
    let mut con = client(&server);
    let n = 40_000u64;
    prefill(&server, "k:", n, 0);
    let p = poll(&mut con);
    assert_eq!(
        (p.cores[0].keys, p.cores[1].keys),
        (n as f64, 0.0),
        "every key on core 0"
    );
    // Wait until the prefill's ops/s leave INFO: from then on the load is thin.
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll(&mut con).cores[0].ops_per_sec > 0.0 {
        assert!(Instant::now() < deadline, "the prefill's rate never ended");
        sleep(Duration::from_millis(100));
    }
    config_set(&mut con, "autoscale", "on");
    let (polls, held) = wait_balanced(
        &mut con,
        |c| c.keys,
        Duration::from_secs(3),
        Duration::from_secs(60),
    );
    assert!(
        held,
        "the cores never stayed balanced by keys for 3 s:\n{}",
        show(&polls, |c| c.keys)
    );
    let last = polls.last().expect("a poll");
    assert!(last.moves > 0, "shards moved: {last:?}");
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, n, "every key is still there");
}

/// The elastic benchmark's skew, smaller: every key on core 0's shards, written
/// while the controller runs (so its first measurements see shards splitting
/// and the prefill's load, not the run's), then a steady load on them. A
/// controller that plans once from the first sample falls short here; this one
/// goes on round by round until the cores serve about as many ops each.
#[test]
fn a_skewed_prefill_and_load_end_balanced() {
    let server = Server::start(2, &["--shard-max-keys", "1024"]);
    let mut con = client(&server);
    let n = 100_000u64;
    prefill(&server, "k:", n, 0);
    let _load = Load(
        bench_cmd(
            &server,
            &[
                "--key-prefix",
                "k:",
                "--keys",
                &n.to_string(),
                "--hash-mod",
                "2:0",
                "--value-size",
                "16",
                "--threads",
                "1",
                "-c",
                "4",
                "-P",
                "16",
                "--rate",
                "15000",
                "--duration",
                "120",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stairkv-bench"),
    );
    let (polls, held) = wait_balanced(
        &mut con,
        |c| c.ops_per_sec,
        Duration::from_secs(4),
        Duration::from_secs(60),
    );
    assert!(
        held,
        "the cores never stayed balanced by ops/s for 4 s:\n{}",
        show(&polls, |c| c.ops_per_sec)
    );
    let last = polls.last().expect("a poll");
    assert!(last.moves > 0, "shards moved: {last:?}");
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, n, "every key is still there");
}
