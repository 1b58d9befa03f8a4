//! What the operator sees of the commands clients run, through the real
//! binary: INFO commandstats, errorstats and latencystats (per-command
//! counters kept per core and added up), CONFIG RESETSTAT, SLOWLOG, LATENCY
//! and MONITOR, their settings in CONFIG GET/SET, and Redis's errors for
//! their bad input.

mod common;

use common::{
    closed_by_peer, config_set, config_set_err, error_text, keys_on_each_core, read_at_least, resp,
    Server,
};
use redis::{Commands, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn info(con: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).expect("INFO")
}

/// `name:a=1,b=2` of an INFO text, as its `a`, `b`... values.
fn stat_line(info: &str, name: &str) -> Option<Vec<(String, String)>> {
    let rest = info
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))?;
    Some(
        rest.trim()
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn stat(info: &str, name: &str, key: &str) -> String {
    stat_line(info, name)
        .and_then(|kv| kv.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no {name} {key} in:\n{info}"))
}

#[test]
fn commandstats_errorstats_and_latencystats_add_up_every_core() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = keys_on_each_core(&mut c, 3, "cs");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    for k in here.iter().chain(&there) {
        let _: () = c.set(k, "v").expect("SET");
        let _: String = c.get(k).expect("GET");
    }
    // A failed call (WRONGTYPE-like: INCR of a non-number) and refused ones.
    assert!(error_text(redis::cmd("INCR").arg(&here[0]).query(&mut c)).contains("not an integer"));
    assert!(error_text(redis::cmd("GET").query(&mut c)).contains("wrong number"));
    assert!(error_text(redis::cmd("NOSUCH").query(&mut c)).contains("unknown command"));
    // Commands EXEC runs count one by one.
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .set(&there[1], "1")
        .ignore()
        .cmd("INCR")
        .arg(&there[1])
        .query(&mut c)
        .expect("MULTI");
    assert_eq!(n, 2);

    let text = info(&mut c, "commandstats");
    assert!(text.starts_with("# Commandstats"), "{text}");
    assert_eq!(stat(&text, "cmdstat_set", "calls"), "7");
    assert_eq!(stat(&text, "cmdstat_get", "calls"), "6");
    assert_eq!(stat(&text, "cmdstat_get", "rejected_calls"), "1");
    assert_eq!(stat(&text, "cmdstat_incr", "calls"), "2");
    assert_eq!(stat(&text, "cmdstat_incr", "failed_calls"), "1");
    assert_eq!(stat(&text, "cmdstat_exec", "calls"), "1");
    let usec: u64 = stat(&text, "cmdstat_set", "usec").parse().expect("usec");
    let per_call: f64 = stat(&text, "cmdstat_set", "usec_per_call")
        .parse()
        .expect("per call");
    assert!((per_call - usec as f64 / 7.0).abs() < 0.01, "{text}");
    assert!(stat_line(&text, "cmdstat_nosuch").is_none());

    let errors = info(&mut c, "errorstats");
    assert_eq!(stat(&errors, "errorstat_ERR", "count"), "3", "{errors}");
    let stats = info(&mut c, "stats");
    assert!(stats.contains("total_error_replies:3"), "{stats}");

    let lat = info(&mut c, "latencystats");
    for p in ["p50", "p99", "p99.9"] {
        let v: f64 = stat(&lat, "latency_percentiles_usec_get", p)
            .parse()
            .expect("µs");
        assert!(v > 0.0 && v < 1_000_000.0, "{lat}");
    }
    config_set(&mut c, "latency-tracking-info-percentiles", "90 100");
    let lat = info(&mut c, "latencystats");
    let keys: Vec<String> = stat_line(&lat, "latency_percentiles_usec_set")
        .expect("set")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["p90", "p100"]);

    // INFO and INFO default leave the per-command sections out; all has them.
    let plain: String = redis::cmd("INFO").query(&mut c).expect("INFO");
    assert!(plain.contains("# Errorstats") && !plain.contains("# Commandstats"));
    assert!(!plain.contains("# Latencystats"));
    let all = info(&mut c, "all");
    for section in [
        "# Commandstats",
        "# Errorstats",
        "# Latencystats",
        "# Cluster",
    ] {
        assert!(all.contains(section), "INFO all lacks {section}");
    }
    let order: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
    let at = |s: &str| order.iter().position(|l| *l == s).expect("section");
    assert!(at("# CPU") < at("# Commandstats") && at("# Latencystats") < at("# Cluster"));

    // RESETSTAT clears them on every core.
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut c)
        .expect("RESETSTAT");
    let text = info(&mut c, "commandstats");
    assert!(stat_line(&text, "cmdstat_set").is_none(), "{text}");
    assert!(!info(&mut c, "errorstats").contains("errorstat_ERR"));
}

#[test]
fn timing_off_keeps_counting_calls() {
    let s = Server::start(
        2,
        &[
            "--latency-tracking",
            "no",
            "--slowlog-log-slower-than",
            "-1",
        ],
    );
    let mut c = s.client();
    for i in 0..5 {
        let _: () = c.set(format!("k{i}"), i).expect("SET");
    }
    let text = info(&mut c, "commandstats");
    assert_eq!(stat(&text, "cmdstat_set", "calls"), "5");
    assert_eq!(stat(&text, "cmdstat_set", "usec"), "0");
    assert!(!info(&mut c, "latencystats").contains("latency_percentiles_usec_set"));
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("LEN");
    assert_eq!(n, 0);
}

/// A command's time is what it took: a script that spins 60 ms by TIME
/// is logged slower than that and no slower than its client saw it take
/// (the command clock counts the CPU's time-stamp counter where it can).
#[test]
fn a_slow_command_is_timed_as_long_as_it_took() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    config_set(&mut c, "slowlog-log-slower-than", "10000");
    let spin = "local t0 = redis.call('TIME') local s0 = t0[1] * 1000000 + t0[2] \
                while true do local t = redis.call('TIME') \
                if t[1] * 1000000 + t[2] - s0 >= 60000 then return 1 end end";
    let start = Instant::now();
    let _: i64 = redis::cmd("EVAL")
        .arg(spin)
        .arg(0)
        .query(&mut c)
        .expect("EVAL");
    let seen = start.elapsed().as_micros() as i64;
    let entries: Vec<Vec<Value>> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query(&mut c)
        .expect("SLOWLOG GET");
    let took = match entries.first().and_then(|e| e.get(2)) {
        Some(Value::Int(us)) => *us,
        other => panic!("slow log entry {entries:?}: {other:?}"),
    };
    assert!(
        (60_000..=seen).contains(&took),
        "logged {took} us for a 60 ms spin its client saw take {seen} us"
    );
}

#[test]
fn slowlog_keeps_slow_commands_trimmed_and_without_passwords() {
    let s = Server::start(2, &["--requirepass", "sekret"]);
    let mut c = redis::Client::open(format!("redis://:sekret@127.0.0.1:{}/", s.port))
        .expect("url")
        .get_connection()
        .expect("connect");
    let [here, there] = keys_on_each_core(&mut c, 1, "sl");
    config_set(&mut c, "slowlog-log-slower-than", "0");
    let _: () = c.set(&here[0], "a").expect("SET");
    let _: () = c.set(&there[0], "b").expect("SET");
    let long = "x".repeat(200);
    let mut many = redis::cmd("MGET");
    for i in 0..40 {
        many.arg(if i == 1 {
            long.clone()
        } else {
            format!("m{i}")
        });
    }
    let _: Value = many.query(&mut c).expect("MGET");
    let _: () = redis::cmd("AUTH")
        .arg("sekret")
        .query(&mut c)
        .expect("AUTH");
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("me")
        .query(&mut c)
        .expect("SETNAME");
    let _: String = c.get(&there[0]).expect("GET");

    let entries: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut c)
        .expect("GET");
    let parsed: Vec<(i64, Vec<String>, String, String)> = entries
        .into_iter()
        .map(|e| match e {
            Value::Array(v) if v.len() == 6 => {
                let args = match &v[3] {
                    Value::Array(a) => a.iter().map(common::text).collect(),
                    other => panic!("args {other:?}"),
                };
                (
                    common::num(&v[0]),
                    args,
                    common::text(&v[4]),
                    common::text(&v[5]),
                )
            }
            other => panic!("entry {other:?}"),
        })
        .collect();
    // Newest first, ids falling, from both cores' logs.
    assert!(parsed.windows(2).all(|w| w[0].0 > w[1].0), "{parsed:?}");
    assert_eq!(parsed[0].1, ["GET".to_string(), there[0].clone()]);
    assert_eq!(parsed[0].3, "me");
    assert!(parsed[0].2.starts_with("127.0.0.1:"));
    let auth = parsed
        .iter()
        .find(|e| e.1[0].eq_ignore_ascii_case("auth"))
        .expect("AUTH entry");
    assert_eq!(auth.1, ["AUTH", "(redacted)"]);
    assert!(parsed
        .iter()
        .all(|e| !e.1.iter().any(|a| a.contains("sekret"))));
    let mget = parsed
        .iter()
        .find(|e| e.1[0] == "MGET")
        .expect("MGET entry");
    assert_eq!(mget.1.len(), 32);
    assert_eq!(mget.1[31], "... (10 more arguments)");
    assert_eq!(mget.1[2], format!("{}... (72 more bytes)", "x".repeat(128)));
    assert!(parsed.iter().any(|e| e.1 == ["SET", here[0].as_str(), "a"]));

    let two: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(2)
        .query(&mut c)
        .expect("GET 2");
    assert_eq!(two.len(), 2);
    let ten: Vec<Value> = redis::cmd("SLOWLOG").arg("GET").query(&mut c).expect("GET");
    assert!(ten.len() <= 10);

    // slowlog-max-len bounds the whole log, on every core.
    config_set(&mut c, "slowlog-max-len", "3");
    for i in 0..10 {
        let _: () = c.set(format!("z{i}"), i).expect("SET");
    }
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("LEN");
    assert_eq!(n, 3);

    // Bad input.
    let get = |arg: &str, c: &mut redis::Connection| {
        error_text(redis::cmd("SLOWLOG").arg("GET").arg(arg).query(c))
    };
    assert!(get("-2", &mut c).contains("count should be greater than or equal to -1"));
    assert!(get("x", &mut c).contains("not an integer"));
    assert!(error_text(redis::cmd("SLOWLOG").arg("NOPE").query(&mut c))
        .contains("unknown subcommand 'NOPE'. Try SLOWLOG HELP."));
    assert!(
        error_text(redis::cmd("SLOWLOG").arg("LEN").arg("x").query(&mut c))
            .contains("wrong number of arguments for 'slowlog|len'")
    );
    assert!(error_text(redis::cmd("SLOWLOG").query(&mut c)).contains("wrong number of arguments"));
    let help: Vec<String> = redis::cmd("SLOWLOG")
        .arg("HELP")
        .query(&mut c)
        .expect("HELP");
    assert!(help.iter().any(|l| l.starts_with("GET")));
    for (name, bad) in [("slowlog-log-slower-than", "-2"), ("slowlog-max-len", "x")] {
        let e = config_set_err(&mut c, name, bad);
        assert!(e.contains("CONFIG SET failed"), "{name}: {e}");
    }

    // Off, nothing more is kept; RESET empties every core's log.
    config_set(&mut c, "slowlog-log-slower-than", "-1");
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query(&mut c)
        .expect("RESET");
    let _: () = c.set("after", 1).expect("SET");
    let n: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).expect("LEN");
    assert_eq!(n, 0);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("slowlog-*")
        .query(&mut c)
        .expect("CONFIG GET");
    assert_eq!(
        got,
        ["slowlog-log-slower-than", "-1", "slowlog-max-len", "3"]
    );
}

/// A script that spins for about `ms` milliseconds.
fn spin(con: &mut redis::Connection, ms: u64) {
    let _: Value = redis::cmd("EVAL")
        .arg("local t = redis.call('TIME'); local s = t[1]*1000000 + t[2]; repeat t = redis.call('TIME') until t[1]*1000000 + t[2] - s >= tonumber(ARGV[1]) * 1000 return 1")
        .arg(0)
        .arg(ms)
        .query(con)
        .expect("EVAL");
}

#[test]
fn latency_monitor_records_slow_commands_and_reports_them() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let doctor: String = redis::cmd("LATENCY")
        .arg("DOCTOR")
        .query(&mut c)
        .expect("DOCTOR");
    assert!(doctor.contains("disabled"), "{doctor}");
    config_set(&mut c, "latency-monitor-threshold", "5");
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    spin(&mut c, 30);
    let _: () = c.set("fast", 1).expect("SET");

    let latest: Vec<Vec<Value>> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(&mut c)
        .expect("LATEST");
    assert_eq!(latest.len(), 1, "{latest:?}");
    let row = &latest[0];
    assert_eq!(common::text(&row[0]), "command");
    assert!((common::num(&row[1]) - t0).abs() <= 5);
    assert!(common::num(&row[2]) >= 30 && common::num(&row[3]) >= common::num(&row[2]));

    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut c)
        .expect("HISTORY");
    assert_eq!(history.len(), 1);
    assert!(history[0].1 >= 30);
    let none: Vec<Value> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("nope")
        .query(&mut c)
        .expect("HISTORY");
    assert!(none.is_empty());
    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut c)
        .expect("GRAPH");
    assert!(graph.starts_with("command - high"), "{graph}");
    assert!(
        error_text(redis::cmd("LATENCY").arg("GRAPH").arg("nope").query(&mut c))
            .contains("No samples available for event 'nope'")
    );
    let doctor: String = redis::cmd("LATENCY")
        .arg("DOCTOR")
        .query(&mut c)
        .expect("DOCTOR");
    assert!(doctor.contains("command: 1 latency spikes"), "{doctor}");

    // HISTOGRAM: a map per command, cumulative counts rising to its calls.
    let h: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .arg("nosuch")
        .query(&mut c)
        .expect("HISTOGRAM");
    let rows = common::fields(h, "HISTOGRAM");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let set = common::fields(rows["set"].clone(), "set");
    assert_eq!(common::num(&set["calls"]), 1);
    let buckets = common::fields(set["histogram_usec"].clone(), "buckets");
    assert_eq!(buckets.values().map(common::num).max(), Some(1));

    assert!(
        error_text(redis::cmd("LATENCY").arg("HISTORY").query(&mut c))
            .contains("wrong number of arguments for 'latency|history'")
    );
    assert!(
        error_text(redis::cmd("LATENCY").arg("NOPE").query(&mut c)).contains("Try LATENCY HELP")
    );
    let n: i64 = redis::cmd("LATENCY")
        .arg("RESET")
        .arg("nope")
        .query(&mut c)
        .expect("RESET");
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("LATENCY")
        .arg("RESET")
        .query(&mut c)
        .expect("RESET");
    assert_eq!(n, 1);
    let latest: Vec<Value> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(&mut c)
        .expect("LATEST");
    assert!(latest.is_empty());
}

/// A raw connection that sent MONITOR and got its +OK.
fn monitor(s: &Server) -> BufReader<TcpStream> {
    let mut m = s.raw();
    m.write_all(&resp(&[b"MONITOR"])).expect("MONITOR");
    let mut r = BufReader::new(m);
    let mut line = String::new();
    r.read_line(&mut line).expect("+OK");
    assert_eq!(line, "+OK\r\n");
    r
}

fn next_line(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("a monitor line");
    line
}

#[test]
fn monitor_shows_every_core_in_redis_format() {
    let s = Server::start(2, &["--requirepass", "pw"]);
    let mut c = redis::Client::open(format!("redis://:pw@127.0.0.1:{}/", s.port))
        .expect("url")
        .get_connection()
        .expect("connect");
    let [here, there] = keys_on_each_core(&mut c, 1, "mon");
    let mut m = {
        let mut raw = s.raw();
        raw.write_all(&resp(&[b"AUTH", b"pw"])).expect("AUTH");
        assert_eq!(read_at_least(&mut raw, 5), b"+OK\r\n");
        raw.write_all(&resp(&[b"MONITOR"])).expect("MONITOR");
        let mut r = BufReader::new(raw);
        assert_eq!(next_line(&mut r), "+OK\r\n");
        r
    };
    m.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _: () = c.set(&here[0], "a \"b\"\n").expect("SET");
    let _: String = c.get(&there[0]).unwrap_or_default();
    let _: () = redis::cmd("AUTH").arg("pw").query(&mut c).expect("AUTH");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("100")
        .query(&mut c)
        .expect("CONFIG");
    let _: Value = redis::cmd("EVAL")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg(&there[0])
        .query(&mut c)
        .expect("EVAL");
    let _: ((),) = redis::pipe()
        .atomic()
        .set("tx", 1)
        .query(&mut c)
        .expect("MULTI");

    let want = [
        format!("\"SET\" \"{}\" \"a \\\"b\\\"\\n\"", here[0]),
        format!("\"GET\" \"{}\"", there[0]),
        "\"AUTH\" \"(redacted)\"".to_string(),
        format!("\"GET\" \"{}\"", there[0]),
        "\"MULTI\"".to_string(),
        "\"SET\" \"tx\" \"1\"".to_string(),
        "\"EXEC\"".to_string(),
    ];
    for (i, w) in want.iter().enumerate() {
        let line = next_line(&mut m);
        let line = line.strip_prefix('+').expect("a simple string").trim_end();
        let (stamp, rest) = line.split_once(' ').expect("stamp");
        let (secs, micros) = stamp.split_once('.').expect("secs.micros");
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        let peer = if i == 3 { "[0 lua]" } else { "[0 127.0.0.1:" };
        assert!(rest.starts_with(peer), "{line}");
        assert!(rest.ends_with(w.as_str()), "line {i}: {line} (want {w})");
        assert!(!line.contains("pw\""), "{line}");
    }
    // CONFIG (an admin command) and EVAL itself are not shown: the next
    // line is the next command.
    let _: i64 = redis::cmd("INCR").arg("after").query(&mut c).expect("INCR");
    assert!(next_line(&mut m).ends_with("\"INCR\" \"after\"\r\n"));
}

#[test]
fn a_monitor_that_does_not_read_is_closed_and_others_go_on() {
    let s = Server::start(2, &["--client-output-buffer-limit-pubsub", "1mb 0 0"]);
    let mut c = s.client();
    let mut stuck = monitor(&s);
    let mut reader = monitor(&s);
    // The reading monitor drains as the load runs, in a thread of its own.
    let drained = std::thread::spawn(move || {
        reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        let mut n = 0u64;
        let mut line = String::new();
        while reader.read_line(&mut line).map(|k| k > 0).unwrap_or(false) {
            n += 1;
            line.clear();
            if n == 100_000 {
                break;
            }
        }
        n
    });
    let value = "v".repeat(200);
    let start = Instant::now();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.set(format!("load{i}"), &value).ignore();
    }
    // 100,000 lines of about 250 bytes: far more than the socket buffers
    // of a monitor that does not read hold, 250 KB a round for one that does.
    for _ in 0..100 {
        let _: () = p.query(&mut c).expect("load");
    }
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(drained.join().expect("reader"), 100_000);
    // The stuck one passed the limit and was shut down.
    stuck
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert!(closed_by_peer(stuck.get_mut()));
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert_eq!(n, 1000);
    // A monitor that goes away leaves nothing behind.
    drop(monitor(&s));
    let _: () = c.set("x", 1).expect("SET");
    assert_eq!(c.get::<_, i64>("x").expect("GET"), 1);
    // MONITOR is not for the text door (its lines are RESP).
    let mut t = s.raw_text();
    t.write_all(b"MONITOR\r\n").expect("write");
    let got = read_at_least(&mut t, 5);
    assert!(
        String::from_utf8_lossy(&got).starts_with("ERROR"),
        "{got:?}"
    );
}
