//! What Redis tools read and call besides the data path, through the real
//! binary: INFO's sections (replication, cpu and cluster among them, which
//! redis-py's own test suite and monitoring tools parse), ROLE and TOUCH,
//! with Redis's errors for bad arity.

mod common;

use common::{error_text, keys_on_each_core, Server};
use redis::{Commands, Value};
use std::time::{Duration, Instant};

fn info(con: &mut redis::Connection, section: Option<&str>) -> String {
    let mut c = redis::cmd("INFO");
    if let Some(s) = section {
        c.arg(s);
    }
    c.query(con).expect("INFO")
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO:\n{info}"))
        .trim()
        .to_string()
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn info_has_the_sections_tools_read() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let want = [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Cluster",
        "# Keyspace",
    ];
    for section in [None, Some("all"), Some("everything"), Some("default")] {
        let text = info(&mut c, section);
        for w in want {
            assert!(text.contains(w), "INFO {section:?} lacks {w}");
        }
    }
    // One section asked for: that one only.
    let cpu = info(&mut c, Some("cpu"));
    assert!(
        cpu.starts_with("# CPU") && !cpu.contains("# Server"),
        "{cpu}"
    );

    let repl = info(&mut c, Some("replication"));
    assert_eq!(field(&repl, "role"), "master");
    assert_eq!(field(&repl, "connected_slaves"), "0");
    assert_eq!(field(&repl, "master_repl_offset"), "0");
    let replid = field(&repl, "master_replid");
    assert!(is_hex40(&replid), "{replid}");
    assert_eq!(
        field(&info(&mut c, Some("replication")), "master_replid"),
        replid
    );

    // The run id is fixed for the life of the process, and not the replication id.
    let run_id = field(&info(&mut c, Some("server")), "run_id");
    assert!(is_hex40(&run_id), "{run_id}");
    assert_eq!(field(&info(&mut c, Some("server")), "run_id"), run_id);
    assert_ne!(run_id, replid);

    assert_eq!(
        field(&info(&mut c, Some("cluster")), "cluster_enabled"),
        "0"
    );

    let cpu_total = |c: &mut redis::Connection| -> f64 {
        let text = info(c, Some("cpu"));
        ["used_cpu_user", "used_cpu_sys"]
            .iter()
            .map(|f| field(&text, f).parse::<f64>().expect("a CPU figure"))
            .sum()
    };
    let before = cpu_total(&mut c);
    for f in [
        "used_cpu_sys_children",
        "used_cpu_user_children",
        "used_cpu_sys_main_thread",
        "used_cpu_user_main_thread",
    ] {
        field(&cpu, f).parse::<f64>().expect("a CPU figure");
    }
    // Work the server: its CPU time moves on (and never back).
    let mut p = redis::pipe();
    for i in 0..200_000 {
        p.cmd("SET").arg(format!("cpu:{i}")).arg(i).ignore();
    }
    p.query::<()>(&mut c).expect("SETs");
    let after = cpu_total(&mut c);
    assert!(
        after > before,
        "used_cpu_* did not move: {before} -> {after}"
    );
}

#[test]
fn role_and_touch() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let role: Value = redis::cmd("ROLE").query(&mut c).expect("ROLE");
    assert_eq!(
        role,
        Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(0),
            Value::Array(vec![]),
        ])
    );
    assert!(
        error_text(redis::cmd("ROLE").arg("x").query(&mut c)).contains("wrong number of arguments")
    );

    let [zero, one] = keys_on_each_core(&mut c, 1, "touch");
    let _: () = c.set(&zero[0], "a").unwrap();
    let _: () = c.set(&one[0], "b").unwrap();
    let n: i64 = redis::cmd("TOUCH")
        .arg(&zero[0])
        .arg(&one[0])
        .arg("missing")
        .arg(&zero[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3, "a key named twice counts twice, as in Redis");
    let n: i64 = redis::cmd("TOUCH").arg("missing").query(&mut c).unwrap();
    assert_eq!(n, 0);
    assert!(error_text(redis::cmd("TOUCH").query(&mut c)).contains("wrong number of arguments"));
    // Inside a transaction, on both cores.
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("TOUCH")
        .arg(&zero[0])
        .arg(&one[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
}

/// WAIT: there are no replicas, so it answers 0 — at once for a count of 0
/// (or a timeout of 0, which Redis would wait forever) and inside MULTI,
/// after the timeout otherwise — with Redis's errors for bad numbers.
#[test]
fn wait_answers_zero_replicas() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let wait =
        |c: &mut redis::Connection, n: &str, t: &str| -> (redis::RedisResult<i64>, Duration) {
            let start = Instant::now();
            let r = redis::cmd("WAIT").arg(n).arg(t).query(c);
            (r, start.elapsed())
        };
    let (r, took) = wait(&mut c, "0", "5000");
    assert_eq!(r.unwrap(), 0);
    assert!(took < Duration::from_millis(1000), "{took:?}");
    let (r, took) = wait(&mut c, "1", "300");
    assert_eq!(r.unwrap(), 0);
    assert!(
        took >= Duration::from_millis(290),
        "answered before the timeout: {took:?}"
    );
    let (r, took) = wait(&mut c, "2", "0");
    assert_eq!(r.unwrap(), 0);
    assert!(took < Duration::from_millis(1000), "{took:?}");
    let start = Instant::now();
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "WAIT waited inside MULTI"
    );
    assert!(error_text(wait(&mut c, "1", "-1").0.map(Value::Int)).contains("timeout is negative"));
    assert!(
        error_text(wait(&mut c, "1", "x").0.map(Value::Int)).contains("timeout is not an integer")
    );
    assert!(error_text(wait(&mut c, "x", "1").0.map(Value::Int)).contains("not an integer"));
    assert!(
        error_text(redis::cmd("WAIT").arg(1).query(&mut c)).contains("wrong number of arguments")
    );
}

fn object(c: &mut redis::Connection, sub: &str, key: &str) -> redis::RedisResult<Value> {
    redis::cmd("OBJECT").arg(sub).arg(key).query(c)
}

/// OBJECT: Redis's encoding names for what a string holds, REFCOUNT 1, nil
/// for a missing key; FREQ only under an LFU policy and IDLETIME only under
/// an LRU one, with Redis's errors otherwise; reading never counts as an access.
#[test]
fn object_reports_encodings_and_access_data_per_policy() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let _: () = c.set("n", 12345).unwrap();
    let _: () = c.set("short", "x".repeat(44)).unwrap();
    let _: () = c.set("long", "x".repeat(45)).unwrap();
    let _: () = c.set("big", "x".repeat(100_000)).unwrap();
    for (key, want) in [
        ("n", "int"),
        ("short", "embstr"),
        ("long", "raw"),
        ("big", "raw"),
    ] {
        assert_eq!(
            object(&mut c, "ENCODING", key).unwrap(),
            Value::SimpleString(want.into()),
            "{key}"
        );
    }
    assert_eq!(object(&mut c, "encoding", "missing").unwrap(), Value::Nil);
    assert_eq!(object(&mut c, "REFCOUNT", "n").unwrap(), Value::Int(1));
    assert!(
        error_text(object(&mut c, "FREQ", "n")).contains("An LFU maxmemory policy is not selected")
    );
    assert!(error_text(object(&mut c, "IDLETIME", "n")).contains("LRU maxmemory-policy"));
    let help: Vec<String> = redis::cmd("OBJECT").arg("HELP").query(&mut c).unwrap();
    assert!(help[0].starts_with("OBJECT <subcommand>"), "{help:?}");
    assert!(
        error_text(redis::cmd("OBJECT").arg("NOPE").arg("n").query(&mut c))
            .contains("unknown subcommand 'NOPE'. Try OBJECT HELP.")
    );
    assert!(
        error_text(redis::cmd("OBJECT").arg("ENCODING").query(&mut c))
            .contains("wrong number of arguments for 'object|encoding' command")
    );
    assert!(error_text(redis::cmd("OBJECT").query(&mut c)).contains("wrong number of arguments"));

    let lfu = Server::start(2, &["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = lfu.client();
    let _: () = c.set("k", "v").unwrap();
    for _ in 0..50 {
        let _: String = c.get("k").unwrap();
    }
    let freq = match object(&mut c, "FREQ", "k").unwrap() {
        Value::Int(n) => n,
        v => panic!("FREQ answered {v:?}"),
    };
    assert!((5..=255).contains(&freq), "{freq}");
    assert!(
        error_text(object(&mut c, "IDLETIME", "k")).contains("An LFU maxmemory policy is selected")
    );

    let lru = Server::start(2, &["--maxmemory-policy", "allkeys-lru"]);
    let mut c = lru.client();
    let _: () = c.set("k", "v").unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    // OBJECT itself is no access: the second read sees the same idle time.
    for _ in 0..2 {
        let idle = object(&mut c, "IDLETIME", "k").unwrap();
        assert!(matches!(idle, Value::Int(2..=3)), "{idle:?}");
    }
    let _: String = c.get("k").unwrap();
    assert_eq!(object(&mut c, "IDLETIME", "k").unwrap(), Value::Int(0));
    assert!(
        error_text(object(&mut c, "FREQ", "k")).contains("An LFU maxmemory policy is not selected")
    );
}

/// MEMORY USAGE counts a key's entry, its value and its table slot;
/// `redis-cli --memkeys` finds the biggest key by it.
#[test]
fn memory_usage_and_the_tools_that_read_it() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let _: () = c.set("small", "v").unwrap();
    let _: () = c.set("big", "x".repeat(100_000)).unwrap();
    let usage = |c: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<Value> {
        let mut cmd = redis::cmd("MEMORY");
        cmd.arg("USAGE");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(c)
    };
    let small = match usage(&mut c, &["small"]).unwrap() {
        Value::Int(n) => n,
        v => panic!("{v:?}"),
    };
    assert!((16..=64).contains(&small), "{small}");
    let big = match usage(&mut c, &["big", "SAMPLES", "0"]).unwrap() {
        Value::Int(n) => n,
        v => panic!("{v:?}"),
    };
    assert!((100_000..=110_000).contains(&big), "{big}");
    assert_eq!(usage(&mut c, &["missing"]).unwrap(), Value::Nil);
    assert!(error_text(usage(&mut c, &["big", "SAMPLES", "x"])).contains("not an integer"));
    assert!(error_text(usage(&mut c, &["big", "FOO"])).contains("syntax error"));
    assert!(error_text(usage(&mut c, &[]))
        .contains("wrong number of arguments for 'memory|usage' command"));
    for sub in ["DOCTOR", "MALLOC-STATS"] {
        let text: String = redis::cmd("MEMORY").arg(sub).query(&mut c).unwrap();
        assert!(!text.is_empty());
    }
    let _: () = redis::cmd("MEMORY").arg("PURGE").query(&mut c).unwrap();
    let help: Vec<String> = redis::cmd("MEMORY").arg("HELP").query(&mut c).unwrap();
    assert!(help[0].starts_with("MEMORY <subcommand>"));

    if std::process::Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &s.port.to_string(), "--memkeys"])
            .output()
            .expect("redis-cli --memkeys");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\"big\"") || text.contains("'big'"), "{text}");
    }
}

/// COPY on one core and across cores (and inside MULTI): the value and its
/// deadline, REPLACE, DB 0 only, Redis's errors; a copy of a large value is
/// its own (writing it leaves the source alone).
#[test]
fn copy_on_one_core_and_across_cores() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let copy = |c: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<i64> {
        let mut cmd = redis::cmd("COPY");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(c)
    };
    let [zero, one] = keys_on_each_core(&mut c, 3, "copy");
    let _: () = redis::cmd("SET")
        .arg(&zero[0])
        .arg("v0")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    // One core, then across cores.
    for dst in [&zero[1], &one[0]] {
        assert_eq!(copy(&mut c, &[&zero[0], dst]).unwrap(), 1, "{dst}");
        let v: String = c.get(dst).unwrap();
        assert_eq!(v, "v0");
        let ttl: i64 = c.ttl(dst).unwrap();
        assert!((95..=100).contains(&ttl), "{dst}: TTL {ttl}");
        let _: () = c.set(&zero[2], "other").unwrap();
        let _: () = c.set(dst, "taken").unwrap();
        assert_eq!(copy(&mut c, &[&zero[0], dst]).unwrap(), 0, "{dst} exists");
        assert_eq!(copy(&mut c, &[&zero[0], dst, "REPLACE"]).unwrap(), 1);
        let v: String = c.get(dst).unwrap();
        assert_eq!(v, "v0");
        assert_eq!(
            copy(&mut c, &[&zero[0], dst, "DB", "0", "REPLACE"]).unwrap(),
            1
        );
    }
    assert_eq!(copy(&mut c, &["missing", &one[1]]).unwrap(), 0);
    let exists: bool = c.exists(&one[1]).unwrap();
    assert!(!exists);
    // A large value's copy is its own.
    let big = "x".repeat(100_000);
    let _: () = c.set(&one[2], &big).unwrap();
    assert_eq!(copy(&mut c, &[&one[2], &zero[2], "REPLACE"]).unwrap(), 1);
    let _: () = redis::cmd("APPEND")
        .arg(&zero[2])
        .arg("y")
        .query(&mut c)
        .unwrap();
    let src: String = c.get(&one[2]).unwrap();
    assert_eq!(src.len(), 100_000);
    let dst: String = c.get(&zero[2]).unwrap();
    assert_eq!(dst.len(), 100_001);
    // Inside a transaction, across cores.
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("COPY")
        .arg(&zero[0])
        .arg(&one[1])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    // Errors.
    assert!(
        error_text(copy(&mut c, &[&zero[0], &zero[0]]).map(Value::Int))
            .contains("source and destination objects are the same")
    );
    assert!(
        error_text(copy(&mut c, &[&zero[0], "x", "DB", "1"]).map(Value::Int))
            .contains("DB index is out of range")
    );
    assert!(
        error_text(copy(&mut c, &[&zero[0], "x", "DB", "z"]).map(Value::Int))
            .contains("not an integer")
    );
    assert!(
        error_text(copy(&mut c, &[&zero[0], "x", "FOO"]).map(Value::Int)).contains("syntax error")
    );
    assert!(
        error_text(copy(&mut c, &[&zero[0], "x", "DB"]).map(Value::Int)).contains("syntax error")
    );
    assert!(
        error_text(copy(&mut c, &[&zero[0]]).map(Value::Int)).contains("wrong number of arguments")
    );
}

#[test]
fn sort_of_a_missing_key_and_a_string() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = keys_on_each_core(&mut c, 1, "so");
    // A missing key sorts as empty, whatever the options.
    let v: Vec<String> = redis::cmd("SORT")
        .arg("nokey")
        .arg("BY")
        .arg("w_*")
        .arg("LIMIT")
        .arg(0)
        .arg(5)
        .arg("GET")
        .arg("#")
        .arg("DESC")
        .arg("ALPHA")
        .query(&mut c)
        .expect("SORT");
    assert!(v.is_empty());
    let v: Vec<String> = redis::cmd("SORT_RO")
        .arg("nokey")
        .query(&mut c)
        .expect("SORT_RO");
    assert!(v.is_empty());
    // STORE of nothing deletes the destination (on another core) and answers 0.
    let _: () = c.set(&there[0], "old").expect("SET");
    let n: i64 = redis::cmd("SORT")
        .arg(&here[0])
        .arg("STORE")
        .arg(&there[0])
        .query(&mut c)
        .expect("SORT STORE");
    assert_eq!(n, 0);
    assert!(!c.exists::<_, bool>(&there[0]).expect("EXISTS"));
    // A string is not sortable.
    let _: () = c.set(&here[0], "v").expect("SET");
    for cmd in ["SORT", "SORT_RO"] {
        let e = error_text(redis::cmd(cmd).arg(&here[0]).query(&mut c));
        assert!(e.contains("WRONGTYPE"), "{cmd}: {e}");
    }
    let e = error_text(
        redis::cmd("SORT")
            .arg(&here[0])
            .arg("STORE")
            .arg("d")
            .query(&mut c),
    );
    assert!(e.contains("WRONGTYPE"), "{e}");
    for (cmd, args, want) in [
        ("SORT_RO", &["k", "STORE", "d"][..], "syntax error"),
        ("SORT", &["k", "LIMIT", "1"], "syntax error"),
        ("SORT", &["k", "LIMIT", "x", "1"], "not an integer"),
        ("SORT", &["k", "SIDEWAYS"], "syntax error"),
        ("SORT", &[], "wrong number of arguments"),
    ] {
        let e = error_text(redis::cmd(cmd).arg(args).query(&mut c));
        assert!(e.contains(want), "{cmd} {args:?}: {e}");
    }
}

#[test]
fn memory_stats_and_getkeysandflags() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for i in 0..100 {
        let _: () = c.set(format!("m{i}"), "x".repeat(100)).expect("SET");
    }
    let _: () = c.expire("m0", 100).expect("EXPIRE");
    let stats: Value = redis::cmd("MEMORY")
        .arg("STATS")
        .query(&mut c)
        .expect("MEMORY STATS");
    let f = common::fields(stats, "MEMORY STATS");
    assert_eq!(common::num(&f["keys.count"]), 100);
    assert_eq!(common::num(&f["keys.with-expire"]), 1);
    let total = common::num(&f["total.allocated"]);
    let dataset = common::num(&f["dataset.bytes"]);
    assert!(
        dataset >= 100 * 100 && dataset <= total,
        "{dataset} of {total}"
    );
    assert_eq!(common::num(&f["overhead.total"]), total - dataset);
    assert_eq!(common::num(&f["keys.bytes-per-key"]), total / 100);
    assert!(f.contains_key("db.0") && f.contains_key("fragmentation"));

    let rows: Vec<(String, Vec<String>)> = redis::cmd("COMMAND")
        .arg("GETKEYSANDFLAGS")
        .arg("RENAME")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .expect("GETKEYSANDFLAGS");
    assert_eq!(
        rows,
        [
            (
                "a".to_string(),
                vec!["RW".to_string(), "access".into(), "delete".into()]
            ),
            ("b".to_string(), vec!["OW".to_string(), "update".into()]),
        ]
    );
    let rows: Vec<(String, Vec<String>)> = redis::cmd("COMMAND")
        .arg("GETKEYSANDFLAGS")
        .arg("MGET")
        .arg("x")
        .arg("y")
        .query(&mut c)
        .expect("GETKEYSANDFLAGS");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(_, f)| f[0] == "RO"));
    let e = error_text(
        redis::cmd("COMMAND")
            .arg("GETKEYSANDFLAGS")
            .arg("PING")
            .query(&mut c),
    );
    assert!(e.contains("The command has no key arguments"), "{e}");
    let e = error_text(
        redis::cmd("COMMAND")
            .arg("GETKEYSANDFLAGS")
            .arg("NOPE")
            .arg("x")
            .query(&mut c),
    );
    assert!(e.contains("Invalid command specified"), "{e}");
}

/// `busy-poll-us`: a core spins that long for the next request before it
/// sleeps. Off, no spin ever ends in a request (INFO's `busy_poll_hits` stays
/// put), also after it was on; CONFIG SET changes it at run time, with
/// Redis's errors for bad values; a server of several cores does not spin
/// unless asked to.
#[test]
fn busy_poll_is_a_setting_and_counts_what_it_caught() {
    let s = Server::start(1, &["--busy-poll-us", "0"]);
    let mut c = s.client();
    let hits = |c: &mut redis::Connection| -> u64 {
        field(&info(c, Some("stats")), "busy_poll_hits")
            .parse()
            .expect("busy_poll_hits is a number")
    };
    let get = |c: &mut redis::Connection| -> Vec<String> {
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("busy-poll-us")
            .query(c)
            .expect("CONFIG GET")
    };
    let set = |c: &mut redis::Connection, v: &str| -> redis::RedisResult<()> {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("busy-poll-us")
            .arg(v)
            .query(c)
    };
    let sequential = |c: &mut redis::Connection| {
        for i in 0..2000 {
            let _: () = c.set(format!("k{i}"), i).expect("SET");
        }
    };
    assert_eq!(get(&mut c), ["busy-poll-us", "0"]);
    let before = hits(&mut c);
    sequential(&mut c);
    assert_eq!(hits(&mut c), before, "a spin ran with busy-poll-us 0");

    // On: whether a spin catches a request depends on who else wants the
    // CPU (a core that keeps losing its CPU to other threads does not spin,
    // and tests run side by side): the unit tests of `runtime::busy_poll`
    // check those rules, bench/results/2026-12-07-busy-poll what it buys.
    // Here: it is set at run time and the server answers as before.
    set(&mut c, "200000").expect("CONFIG SET busy-poll-us");
    assert_eq!(get(&mut c), ["busy-poll-us", "200000"]);
    sequential(&mut c);
    let back: Option<String> = c.get("k1999").expect("GET");
    assert_eq!(back.as_deref(), Some("1999"));

    set(&mut c, "0").expect("CONFIG SET busy-poll-us 0");
    let before = hits(&mut c);
    sequential(&mut c);
    assert_eq!(
        hits(&mut c),
        before,
        "the spin went on after busy-poll-us 0"
    );

    for bad in ["-1", "soon", ""] {
        let e = error_text(set(&mut c, bad).map(|()| Value::Nil));
        assert!(
            e.contains("CONFIG SET failed (possibly related to argument 'busy-poll-us')"),
            "{bad:?}: {e}"
        );
    }
    assert_eq!(get(&mut c), ["busy-poll-us", "0"]);

    let one = Server::start(1, &[]);
    assert_eq!(get(&mut one.client()), ["busy-poll-us", "20"]);
    let two = Server::start(2, &[]);
    assert_eq!(get(&mut two.client()), ["busy-poll-us", "0"]);
}
