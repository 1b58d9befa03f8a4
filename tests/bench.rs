//! stairkv-bench end to end: the real binary against the real server (RESP and
//! text, closed and open loop, with --verify), its reports read back, and its
//! behaviour against servers that refuse, vanish, stall or lie — those are
//! small fake servers in this file, so the failures are certain.

mod common;

use common::Server;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args(["--quiet", "--timeout", "5"])
        .args(args)
        .output()
        .expect("run stairkv-bench")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(dir: &Path) -> Value {
    let s = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&s).expect("summary.json is JSON")
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("stairkv-bench-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn verified_run_against_the_server_writes_reports() {
    let s = Server::start(2, &[]);
    let dir = tmpdir("verify");
    let port = s.port.to_string();
    let o = bench(&[
        "--port",
        &port,
        "--threads",
        "2",
        "-c",
        "8",
        "-P",
        "4",
        "--keys",
        "5000",
        "--duration",
        "2",
        "--verify",
        "--prefill",
        "--value-size",
        "1-200",
        "--report-dir",
        dir.to_str().expect("utf-8 path"),
        "--label",
        "stairkv",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("verify: 0 wrong values, 0 unexpected misses"),
        "{out}"
    );
    let j = summary(&dir);
    assert_eq!(j["ok"], true);
    assert_eq!(j["wrong_values"], 0);
    assert_eq!(j["unexpected_misses"], 0);
    let get = &j["commands"]["GET"];
    let set = &j["commands"]["SET"];
    assert!(get["ops"].as_u64().expect("ops") > 100, "{j}");
    assert!(set["ops"].as_u64().expect("ops") > 100, "{j}");
    assert!(
        j["commands"]["TOTAL"]["ops_per_sec"]
            .as_f64()
            .expect("ops/s")
            > 0.0
    );
    // After a prefill every GET of a verified run hits.
    assert_eq!(get["misses"], 0, "{j}");
    assert_eq!(get["errors"], 0);
    // The .hgrm files parse back and agree with the summary.
    for (file, cmd) in [
        ("set.hgrm", "SET"),
        ("get.hgrm", "GET"),
        ("total.hgrm", "TOTAL"),
    ] {
        let h = stairkv::loadgen::hgrm::parse_hgrm(
            &std::fs::read_to_string(dir.join(file)).expect("hgrm"),
        )
        .expect("hgrm parses");
        assert_eq!(
            h.total_count,
            j["commands"][cmd]["ops"].as_u64().expect("ops"),
            "{file}"
        );
        let max = j["commands"][cmd]["latency_ms"]["max"]
            .as_f64()
            .expect("max");
        assert!(
            (h.max_ms - max).abs() <= max * 0.01 + 0.002,
            "{file}: {} vs {max}",
            h.max_ms
        );
    }
    let svg = std::fs::read_to_string(dir.join("latency.svg")).expect("svg");
    assert!(svg.contains("<svg") && svg.contains("stairkv GET"), "{svg}");
    // The keys really are on the server, with the values the run wrote.
    let mut c = s.client();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
    assert_eq!(n, 5000);

    // Two results on one chart.
    let chart = dir.join("both.svg");
    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args([
            "plot",
            dir.to_str().expect("path"),
            &format!("{}=second", dir.join("get.hgrm").display()),
        ])
        .args(["--out", chart.to_str().expect("path"), "--title", "compare"])
        .output()
        .expect("plot");
    assert!(o.status.success(), "{}", text(&o));
    let svg = std::fs::read_to_string(&chart).expect("chart");
    assert!(
        svg.contains(">stairkv<") || svg.contains("stairkv"),
        "{svg}"
    );
    assert!(svg.contains("second") && svg.contains("compare"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_protocol_sequential_run_reads_back_what_it_wrote() {
    let s = Server::start(1, &[]);
    let port = s.text_port.to_string();
    // Sequential 1:1: every key is written and then read straight back.
    let o = bench(&[
        "--protocol",
        "text",
        "--port",
        &port,
        "-c",
        "4",
        "--keys",
        "2000",
        "--distribution",
        "sequential",
        "-n",
        "4000",
        "--verify",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let get = out.lines().find(|l| l.starts_with("GET")).expect("GET row");
    let cols: Vec<&str> = get.split_whitespace().collect();
    assert_eq!(cols[1], "2000", "{out}");
    assert_eq!(cols[3], "2000", "every GET hits: {out}");
    assert_eq!(cols[4], "0", "{out}");
}

#[test]
fn open_loop_keeps_its_rate_and_ttl_misses_are_not_failures() {
    let s = Server::start(1, &[]);
    let dir = tmpdir("open");
    let port = s.port.to_string();
    let o = bench(&[
        "--port",
        &port,
        "-c",
        "4",
        "--rate",
        "2000",
        "--duration",
        "2",
        "--keys",
        "100",
        "--ttl",
        "1",
        "--verify",
        "--report-dir",
        dir.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let j = summary(&dir);
    // 2000/s for 2 s: 4000 requests are scheduled; a loaded machine may send a
    // few late ones after the end, never more than scheduled.
    let ops = j["commands"]["TOTAL"]["ops"].as_u64().expect("ops");
    assert!((2000..=4004).contains(&ops), "{ops}: {j}");
    assert_eq!(j["unexpected_misses"], 0, "{j}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2_with_a_reason() {
    for (args, want) in [
        (&["--threads", "0"][..], "--threads"),
        (&["--protocol", "text", "--ttl", "3"], "no expiry"),
        (&["--distribution", "zipf:-1"], "zipf exponent"),
        (&["--ratio", "x"], "ratio"),
    ] {
        let o = bench(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{args:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn a_refused_connection_is_reported_not_a_panic() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
        .to_string();
    let o = bench(&["--port", &port, "--duration", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = text(&o);
    assert!(
        all.contains("cannot connect") && all.contains("refused"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
}

/// What a fake server does with a request.
enum Answer {
    Reply(&'static [u8]),
    /// Nothing, keeping the connection open.
    Ignore,
    Close,
}

/// A fake RESP server: each connection's requests, parsed one at a time, go
/// to `answer` with the request's bytes, whether it is a GET and how many
/// replies the connection has sent.
fn fake_with(answer: impl Fn(&[u8], bool, usize) -> Answer + Copy + Send + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut replies = 0;
                loop {
                    let Ok(n) = c.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some((is_get, used)) = one_request(&buf) {
                        let what = answer(&buf[..used], is_get, replies);
                        buf.drain(..used);
                        match what {
                            Answer::Reply(r) => {
                                replies += 1;
                                let _ = c.write_all(r);
                            }
                            Answer::Ignore => {}
                            Answer::Close => return,
                        }
                    }
                }
            });
        }
    });
    port
}

/// A fake RESP server: answers SET with +OK and GET with `get_reply`, closes a
/// connection after `close_after` replies, and stops answering after
/// `stall_after` replies (but keeps the socket open).
fn fake_server(get_reply: &'static [u8], close_after: usize, stall_after: usize) -> u16 {
    fake_with(move |_, is_get, replies| {
        if replies == close_after {
            Answer::Close
        } else if replies >= stall_after {
            Answer::Ignore
        } else {
            Answer::Reply(if is_get { get_reply } else { b"+OK\r\n" })
        }
    })
}

/// One whole RESP request at the front of `buf`: (is it a GET, bytes).
fn one_request(buf: &[u8]) -> Option<(bool, usize)> {
    let line = |at: usize| -> Option<(usize, usize)> {
        let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    };
    let (args, mut at) = line(0)?;
    let mut is_get = false;
    for i in 0..args {
        let (len, start) = line(at)?;
        if buf.len() < start + len + 2 {
            return None;
        }
        if i == 0 {
            is_get = &buf[start..start + len] == b"GET";
        }
        at = start + len + 2;
    }
    Some((is_get, at))
}

#[test]
fn verify_catches_wrong_values_and_misses() {
    let port = fake_server(b"$5\r\nwrong\r\n", usize::MAX, usize::MAX).to_string();
    let o = bench(&[
        "--port",
        &port,
        "-c",
        "2",
        "--keys",
        "10",
        "-n",
        "200",
        "--verify",
        "--prefill",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("verify: 100 wrong values"), "{out}");
    assert!(
        out.contains("expected") && out.contains("\"wrong\""),
        "{out}"
    );

    let port = fake_server(b"$-1\r\n", usize::MAX, usize::MAX).to_string();
    let o = bench(&[
        "--port",
        &port,
        "-c",
        "2",
        "--keys",
        "10",
        "-n",
        "200",
        "--verify",
        "--prefill",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("100 unexpected misses"),
        "{}",
        text(&o)
    );

    let port = fake_server(b"-ERR nope\r\n", usize::MAX, usize::MAX).to_string();
    let o = bench(&["--port", &port, "-c", "1", "-n", "100"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("GET: ERR nope"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_server_that_vanishes_or_stalls_ends_the_run() {
    // Closes every connection after 50 replies.
    let port = fake_server(b"$1\r\nx\r\n", 50, usize::MAX).to_string();
    let o = bench(&["--port", &port, "-c", "3", "--duration", "30"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("closed by the server after 50 replies"),
        "{out}"
    );
    assert!(out.contains("3 failed connections"), "{out}");

    // Stops answering after 20 replies: the time-out gives up on it.
    let port = fake_server(b"$1\r\nx\r\n", usize::MAX, 20).to_string();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args([
            "--quiet",
            "--port",
            &port,
            "-c",
            "2",
            "-n",
            "1000",
            "--timeout",
            "0.5",
        ])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("timed out"),
        "{}",
        text(&o)
    );
    // Generous bound: this only proves the run ended by itself.
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn help_explains_coordinated_omission() {
    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .arg("--help")
        .output()
        .expect("help");
    assert!(o.status.success());
    let h = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--host",
        "--port",
        "--threads",
        "--connections",
        "--pipeline",
        "--ratio",
        "--keys",
        "--key-prefix",
        "--distribution",
        "--value-size",
        "--ttl",
        "--duration",
        "--requests",
        "--warmup",
        "--prefill",
        "--protocol",
        "--rate",
        "--verify",
        "--report-dir",
        "--seed",
    ] {
        assert!(h.contains(flag), "{flag} missing from --help");
    }
    assert!(h.contains("coordinated omission"));
}

#[test]
fn expiry_and_fanout_measurements_run_against_the_server() {
    let s = Server::start(2, &[]);
    let port = s.port.to_string();
    let dir = tmpdir("expiry");
    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args([
            "expiry", "--port", &port, "--keys", "3000", "--spread", "0.5", "--lead", "1",
            "--grace", "5",
        ])
        .args([
            "--report-dir",
            dir.to_str().expect("path"),
            "--label",
            "stairkv",
        ])
        .output()
        .expect("expiry");
    assert!(o.status.success(), "{}", text(&o));
    let j = summary(&dir);
    assert_eq!(j["heard"], 3000, "{j}");
    assert_eq!(j["repeated"], 0);
    assert!(j["delay_ms"]["max"].as_f64().expect("max") >= 0.0);
    let h = stairkv::loadgen::hgrm::parse_hgrm(
        &std::fs::read_to_string(dir.join("expiry.hgrm")).expect("hgrm"),
    )
    .expect("parses");
    assert_eq!(h.total_count, 3000);

    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args([
            "fanout",
            "--port",
            &port,
            "--subscribers",
            "6",
            "--messages",
            "2000",
            "--size",
            "40",
        ])
        .args(["--report-dir", dir.to_str().expect("path")])
        .output()
        .expect("fanout");
    assert!(o.status.success(), "{}", text(&o));
    let j = summary(&dir);
    assert_eq!(j["deliveries"], 12000, "{j}");
    assert_eq!(j["publish_counted"], 12000);
    assert_eq!(j["out_of_order"], 0);
    let o = Command::new(env!("CARGO_BIN_EXE_stairkv-bench"))
        .args(["fanout", "--port", &port, "--size", "3"])
        .output()
        .expect("fanout");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--size at least 12"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_aside_fills_misses_and_the_seed_repeats_the_run() {
    let run = |seed: &str| {
        let s = Server::start(1, &[]);
        let dir = tmpdir(&format!("cache-{seed}"));
        let port = s.port.to_string();
        let o = bench(&[
            "--port",
            &port,
            "-c",
            "1",
            "--ratio",
            "0:1",
            "--keys",
            "100",
            "-n",
            "1000",
            "--distribution",
            "zipf:0.9",
            "--cache-aside",
            "--seed",
            seed,
            "--report-dir",
            dir.to_str().expect("path"),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("cache-aside: GET miss ratio"));
        let j = summary(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let mut c = s.client();
        let keys: u64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
        (j, keys)
    };
    let (j, keys) = run("7");
    let misses = j["commands"]["GET"]["misses"].as_u64().expect("misses");
    // Each key misses once, then lives in the cache: misses = keys filled = SETs sent.
    assert_eq!(misses, keys, "{j}");
    assert_eq!(j["commands"]["SET"]["ops"].as_u64(), Some(misses));
    assert_eq!(j["commands"]["GET"]["ops"], 1000);
    assert!(misses > 10 && misses <= 100, "{misses}");
    let ratio = j["get_miss_ratio"].as_f64().expect("ratio");
    assert!((ratio - misses as f64 / 1000.0).abs() < 1e-9);
    // The same seed gives the same key sequence, so the same misses.
    let (again, _) = run("7");
    assert_eq!(
        again["commands"]["GET"]["misses"],
        j["commands"]["GET"]["misses"]
    );
}

/// `--tx multi:N` and `--tx eval:N`: each SET is a transaction of N SETs; the
/// report counts whole transactions, and every key they name is written.
#[test]
fn transactions_load_counts_whole_transactions() {
    let s = Server::start(2, &[]);
    let port = s.port.to_string();
    for (tx, keys) in [("multi:4", "1000"), ("eval:3", "2000"), ("pipe:2", "1000")] {
        let dir = tmpdir(&format!("tx-{}", &tx[..4]));
        let o = bench(&[
            "--port",
            &port,
            "-c",
            "4",
            "--ratio",
            "1:0",
            "--key-prefix",
            &format!("{}:", &tx[..4]),
            "--keys",
            keys,
            "-n",
            "500",
            "--tx",
            tx,
            "--report-dir",
            dir.to_str().expect("path"),
        ]);
        assert!(o.status.success(), "{tx}: {}", text(&o));
        let j = summary(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(j["commands"]["SET"]["ops"], 500, "{tx}: {j}");
        assert_eq!(j["commands"]["SET"]["errors"], 0, "{tx}: {j}");
    }
    let mut c = s.client();
    let multi: Vec<String> = redis::cmd("KEYS")
        .arg("mult:*")
        .query(&mut c)
        .expect("keys");
    let eval: Vec<String> = redis::cmd("KEYS")
        .arg("eval:*")
        .query(&mut c)
        .expect("keys");
    // 500 transactions of 4 (and 3) SETs over 1000 (2000) keys: far more than 500 keys each.
    assert!(
        multi.len() > 800 && eval.len() > 700,
        "{} {}",
        multi.len(),
        eval.len()
    );
    let bad = bench(&["--port", &port, "--tx", "multi:0", "-n", "1"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let bad = bench(&["--port", &port, "--tx", "watch:2", "-n", "1"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

/// A fake RESP server that answers SET with +OK and GET with a nil, each after
/// `delay` when the key's last byte is `slow_suffix`, at once otherwise.
fn delaying_server(slow_suffix: u8, delay: Duration) -> u16 {
    fake_with(move |request, is_get, _| {
        // Lines: `*N`, `$3`, the command, `$len`, the key.
        let text = String::from_utf8_lossy(request);
        if text.split("\r\n").nth(4).and_then(|k| k.bytes().last()) == Some(slow_suffix) {
            std::thread::sleep(delay);
        }
        Answer::Reply(if is_get { b"$-1\r\n" } else { b"+OK\r\n" })
    })
}

#[test]
fn slow_log_lists_the_slow_requests_with_their_send_times() {
    let port = delaying_server(b'7', Duration::from_millis(150)).to_string();
    let dir = tmpdir("slow-log");
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    // Keys 0..19 in turn, each SET then GET: keys 7 and 17 answer late.
    let run = |slow: &str| {
        let o = bench(&[
            "--port",
            &port,
            "-c",
            "1",
            "--keys",
            "20",
            "--distribution",
            "sequential",
            "-n",
            "40",
            "--report-dir",
            dir.to_str().expect("path"),
            "--slow-log",
            slow,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let csv = std::fs::read_to_string(dir.join("slow.csv")).expect("slow.csv");
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("sent_unix_ms,latency_us,command,key"));
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), 4, "{l}");
                let at: u64 = f[0].parse().expect("time");
                let us: u64 = f[1].parse().expect("latency");
                (at, us, f[2].to_string(), f[3].to_string())
            })
            .collect::<Vec<_>>()
    };
    let slow = run("100");
    let keys: Vec<(&str, &str)> = slow.iter().map(|r| (r.2.as_str(), r.3.as_str())).collect();
    assert_eq!(
        keys,
        [
            ("write", "key:000000000007"),
            ("read", "key:000000000007"),
            ("write", "key:000000000017"),
            ("read", "key:000000000017")
        ],
        "{slow:?}"
    );
    for (at, us, _, _) in &slow {
        assert!(*us >= 150_000, "{slow:?}");
        assert!(*at >= started_ms && *at < started_ms + 60_000, "{slow:?}");
    }
    assert!(slow.windows(2).all(|w| w[0].0 <= w[1].0), "{slow:?}");
    // 0 logs every request.
    assert_eq!(run("0").len(), 40);
}
