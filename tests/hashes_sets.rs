mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;
#[path = "common/cmds.rs"]
mod cmds;
use cmds::{cmd, e, err_of, q, sorted, WRONGTYPE};

// Hashes and sets through the real binary: every command with Redis 7's
// replies and error texts, RESP2 and RESP3 shapes, the encodings and their
// limits, WRONGTYPE both ways, HSCAN/SSCAN over big collections, keyspace
// events, expiry, RENAME/COPY across cores, DUMP/RESTORE, and a randomized
// model of both types while the staircase migrates, splits and merges.

use common::{config_set, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

#[test]
fn hash_commands_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2"]), 2);
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "a", "10", "c", "3"]), 1);
    assert_eq!(q::<String>(&mut c, &["HMSET", "h", "d", "4"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "h", "a", "x"]), 0);
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "h", "e", "5"]), 1);
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "a"]), "10");
    assert_eq!(q::<Option<String>>(&mut c, &["HGET", "h", "zz"]), None);
    assert_eq!(q::<Option<String>>(&mut c, &["HGET", "nokey", "a"]), None);
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["HMGET", "h", "a", "zz", "c"]),
        [Some("10".into()), None, Some("3".into())]
    );
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["HMGET", "nokey", "a", "b"]),
        [None, None]
    );
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), 5);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut c, &["HEXISTS", "h", "b"]), 1);
    assert_eq!(q::<i64>(&mut c, &["HEXISTS", "h", "zz"]), 0);
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "h", "a"]), 2);
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "h", "zz"]), 0);
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]);
    assert_eq!(all.len(), 5);
    assert_eq!(all["a"], "10");
    assert_eq!(
        sorted(q(&mut c, &["HKEYS", "h"])),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        sorted(q(&mut c, &["HVALS", "h"])),
        ["10", "2", "3", "4", "5"]
    );
    assert_eq!(q::<Vec<String>>(&mut c, &["HKEYS", "nokey"]).len(), 0);
    assert_eq!(q::<i64>(&mut c, &["HDEL", "h", "a", "a", "zz", "b"]), 2);
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "d", "x"]),
        "ERR value is not an integer or out of range"
    );
    q::<i64>(
        &mut c,
        &["HSET", "h", "s", "abc", "big", "9223372036854775807"],
    );
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "s", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        e(&mut c, &["HINCRBY", "h", "big", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]),
        "10.5"
    );
    assert_eq!(
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]),
        "10.6"
    );
    assert_eq!(
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "-10.6"]),
        "0"
    );
    assert_eq!(
        e(&mut c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        e(&mut c, &["HINCRBYFLOAT", "h", "f", "abc"]),
        "ERR value is not a valid float"
    );
    // Arity, including HSET's odd pairs.
    assert_eq!(
        e(&mut c, &["HSET", "h", "a"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        e(&mut c, &["HSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        e(&mut c, &["HMSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(
        e(&mut c, &["HGET", "h"]),
        "ERR wrong number of arguments for 'hget' command"
    );
    // The last field deleted deletes the key.
    q::<i64>(&mut c, &["HSET", "one", "f", "v"]);
    assert_eq!(q::<i64>(&mut c, &["HDEL", "one", "f"]), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "one"]), 0);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "hash");
}

#[test]
fn set_commands_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &["SADD", "s", "a", "b", "a", "c"]), 3);
    assert_eq!(q::<i64>(&mut c, &["SADD", "s", "a", "d"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "s"]), 4);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "z"]), 0);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "a", "z", "d"]),
        [1, 0, 1]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["SMISMEMBER", "nokey", "a", "b"]),
        [0, 0]
    );
    assert_eq!(sorted(q(&mut c, &["SMEMBERS", "s"])), ["a", "b", "c", "d"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["SMEMBERS", "nokey"]).len(), 0);
    assert_eq!(q::<i64>(&mut c, &["SREM", "s", "a", "z"]), 1);
    // SRANDMEMBER's count rules.
    let one: String = q(&mut c, &["SRANDMEMBER", "s"]);
    assert!(["b", "c", "d"].contains(&one.as_str()));
    let two: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "2"]);
    assert_eq!(two.len(), 2);
    assert_eq!(two.iter().collect::<HashSet<_>>().len(), 2);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SRANDMEMBER", "s", "10"]).len(),
        3
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SRANDMEMBER", "s", "-10"]).len(),
        10
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SRANDMEMBER", "s", "0"]).len(),
        0
    );
    assert_eq!(q::<Option<String>>(&mut c, &["SRANDMEMBER", "nokey"]), None);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SRANDMEMBER", "nokey", "5"]).len(),
        0
    );
    assert_eq!(
        e(&mut c, &["SRANDMEMBER", "s", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["SRANDMEMBER", "s", "-9223372036854775807"]),
        "ERR value is out of range"
    );
    // SPOP: one, a count, all of them (the key goes), errors.
    let popped: String = q(&mut c, &["SPOP", "s"]);
    assert!(["b", "c", "d"].contains(&popped.as_str()));
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", &popped]), 0);
    assert_eq!(q::<Vec<String>>(&mut c, &["SPOP", "s", "0"]).len(), 0);
    assert_eq!(q::<Vec<String>>(&mut c, &["SPOP", "s", "5"]).len(), 2);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "s"]), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["SPOP", "s"]), None);
    assert_eq!(q::<Vec<String>>(&mut c, &["SPOP", "s", "3"]).len(), 0);
    assert_eq!(
        e(&mut c, &["SPOP", "s", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        e(&mut c, &["SADD", "s"]),
        "ERR wrong number of arguments for 'sadd' command"
    );
    // SPOP with a count from a big set takes distinct members.
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let mut add = redis::cmd("SADD");
    add.arg("big").arg(&members);
    add.query::<i64>(&mut c).expect("SADD big");
    let got: Vec<String> = q(&mut c, &["SPOP", "big", "300"]);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 300);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "big"]), 700);
    assert_eq!(q::<String>(&mut c, &["TYPE", "big"]), "set");
}

#[test]
fn wrong_types_are_refused_both_ways() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<()>(&mut c, &["SET", "str", "v"]);
    q::<i64>(&mut c, &["HSET", "h", "f", "v"]);
    q::<i64>(&mut c, &["SADD", "s", "m"]);
    for args in [
        &["HGET", "str", "f"][..],
        &["HSET", "str", "f", "v"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "f", "1"],
        &["HLEN", "s"],
        &["SADD", "h", "m"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "h", "m"],
        &["SPOP", "h"],
        &["GET", "h"],
        &["INCR", "s"],
        &["APPEND", "h", "x"],
        &["STRLEN", "s"],
        &["GETRANGE", "h", "0", "1"],
        &["SETRANGE", "h", "0", "x"],
        &["GETDEL", "h"],
        &["GETEX", "s"],
        &["INCRBYFLOAT", "h", "1"],
        &["SET", "h", "v", "GET"],
        &["HSCAN", "s", "0"],
        &["SSCAN", "h", "0"],
    ] {
        assert_eq!(e(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // MGET answers nil for a key of another type, as Redis.
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["MGET", "h", "str"]),
        [None, Some("v".into())]
    );
    // A plain SET replaces any type.
    q::<()>(&mut c, &["SET", "h", "now a string"]);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "string");
    assert_eq!(q::<String>(&mut c, &["TYPE", "s"]), "set");
    assert_eq!(q::<String>(&mut c, &["TYPE", "none"]), "none");
}

#[test]
fn encodings_follow_the_limits_and_report_honestly() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["HSET", "h", "f", "v"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]),
        "listpack"
    );
    q::<i64>(&mut c, &["HSET", "h", "long", &"x".repeat(65)]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]),
        "hashtable"
    );
    q::<i64>(&mut c, &["SADD", "ints", "1", "2", "-3"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]),
        "intset"
    );
    q::<i64>(&mut c, &["SADD", "ints", "x"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]),
        "listpack"
    );
    q::<i64>(&mut c, &["SADD", "strs", "a"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "strs"]),
        "listpack"
    );
    // The settings, read and changed as Redis's.
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "hash-max-listpack-entries"]);
    assert_eq!(got, ["hash-max-listpack-entries", "128"]);
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "set-max-intset-entries"]);
    assert_eq!(got, ["set-max-intset-entries", "512"]);
    config_set(&mut c, "hash-max-ziplist-entries", "4");
    config_set(&mut c, "set-max-intset-entries", "3");
    for i in 0..5 {
        q::<i64>(&mut c, &["HSET", "h2", &format!("f{i}"), "v"]);
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h2"]),
        "hashtable"
    );
    q::<i64>(&mut c, &["SADD", "i2", "1", "2", "3", "4"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "i2"]),
        "listpack"
    );
    // MEMORY USAGE grows with a collection.
    let small: i64 = q(&mut c, &["MEMORY", "USAGE", "i2"]);
    let members: Vec<String> = (0..5000).map(|i| format!("member:{i}")).collect();
    redis::cmd("SADD")
        .arg("i2")
        .arg(&members)
        .query::<i64>(&mut c)
        .expect("SADD");
    let big: i64 = q(&mut c, &["MEMORY", "USAGE", "i2"]);
    assert!(big > small + 5000 * 16, "MEMORY USAGE {small} → {big}");
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "i2"]),
        "hashtable"
    );
}

#[test]
fn resp3_answers_maps_and_sets() {
    let s = Server::start(1, &[]);
    let mut raw = s.raw();
    let reply = common::roundtrip(
        &mut raw,
        &[
            common::resp(&[b"HELLO", b"3"]),
            common::resp(&[b"HSET", b"h", b"f", b"v"]),
            common::resp(&[b"SADD", b"s", b"m"]),
        ]
        .concat(),
        1,
    );
    let _ = reply;
    let wait = |raw: &mut std::net::TcpStream, args: &[&[u8]], want: &[u8]| {
        use std::io::Write;
        raw.write_all(&common::resp(args)).expect("write");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while !got.ends_with(want) && Instant::now() < deadline {
            got.extend(common::read_at_least(raw, 1));
        }
        assert!(
            got.ends_with(want),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
    };
    wait(&mut raw, &[b"PING"], b"+PONG\r\n");
    wait(
        &mut raw,
        &[b"HGETALL", b"h"],
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    wait(&mut raw, &[b"SMEMBERS", b"s"], b"~1\r\n$1\r\nm\r\n");
    wait(
        &mut raw,
        &[b"HRANDFIELD", b"h", b"1", b"WITHVALUES"],
        b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    // RESP2: flat.
    let mut c = s.client();
    let v: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "-2", "WITHVALUES"]);
    assert_eq!(v, ["f", "v", "f", "v"]);
    let v: Vec<String> = q(&mut c, &["HGETALL", "h"]);
    assert_eq!(v, ["f", "v"]);
    assert_eq!(q::<String>(&mut c, &["HRANDFIELD", "h"]), "f");
    assert_eq!(q::<Option<String>>(&mut c, &["HRANDFIELD", "nokey"]), None);
    assert_eq!(
        e(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUE"]),
        "ERR syntax error"
    );
}

#[test]
fn hscan_and_sscan_return_everything_present_throughout() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let n = 20_000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut h = redis::cmd("HSET");
        h.arg("h");
        let mut st = redis::cmd("SADD");
        st.arg("s");
        for i in chunk {
            h.arg(format!("f{i}")).arg(format!("v{i}"));
            st.arg(format!("m{i}"));
        }
        h.query::<i64>(&mut c).expect("HSET");
        st.query::<i64>(&mut c).expect("SADD");
    }
    // Scan while other fields come and go: every field present throughout is returned.
    let mut seen_f = HashSet::new();
    let mut seen_m = HashSet::new();
    let (mut hc, mut sc) = ("0".to_string(), "0".to_string());
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = q(&mut c, &["HSCAN", "h", &hc, "COUNT", "50"]);
        assert!(items.len() % 2 == 0);
        for p in items.chunks(2) {
            if let Some(i) = p[0].strip_prefix('f') {
                assert_eq!(p[1], format!("v{i}"));
            }
            seen_f.insert(p[0].clone());
        }
        hc = next;
        calls += 1;
        // Churn: new fields make the table grow while the scan runs.
        q::<i64>(&mut c, &["HSET", "h", &format!("extra{calls}"), "x"]);
        q::<i64>(&mut c, &["SADD", "s", &format!("extra{calls}")]);
        if sc != "0" || calls == 1 {
            let (next, items): (String, Vec<String>) =
                q(&mut c, &["SSCAN", "s", &sc, "COUNT", "50"]);
            seen_m.extend(items);
            sc = next;
        }
        if hc == "0" && sc == "0" {
            break;
        }
        assert!(calls < 100_000, "scan does not end");
    }
    for i in 0..n {
        assert!(seen_f.contains(&format!("f{i}")), "HSCAN missed f{i}");
        assert!(seen_m.contains(&format!("m{i}")), "SSCAN missed m{i}");
    }
    // Cursors stay exact for every client language.
    // MATCH, NOVALUES, small collections in one call.
    let (next, items): (String, Vec<String>) = q(
        &mut c,
        &["HSCAN", "h", "0", "MATCH", "f1999*", "COUNT", "100000"],
    );
    let mut all = items;
    let mut cur = next;
    while cur != "0" {
        let (n2, more): (String, Vec<String>) = q(
            &mut c,
            &["HSCAN", "h", &cur, "MATCH", "f1999*", "COUNT", "100000"],
        );
        all.extend(more);
        cur = n2;
    }
    // f1999 and f19990 to f19999, each with its value.
    assert_eq!(all.len(), 2 * 11, "{all:?}");
    q::<i64>(&mut c, &["HSET", "small", "a", "1", "b", "2"]);
    let (next, items): (String, Vec<String>) = q(&mut c, &["HSCAN", "small", "0", "NOVALUES"]);
    assert_eq!(
        (next.as_str(), sorted(items)),
        ("0", vec!["a".into(), "b".into()])
    );
    assert_eq!(e(&mut c, &["HSCAN", "small", "x"]), "ERR invalid cursor");
    assert_eq!(
        e(&mut c, &["SSCAN", "s", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["SSCAN", "s", "0", "NOVALUES"]),
        "ERR syntax error"
    );
    let (next, items): (String, Vec<String>) = q(&mut c, &["SSCAN", "nokey", "0"]);
    assert_eq!((next.as_str(), items.len()), ("0", 0));
}

#[test]
fn collections_expire_rename_copy_and_scan_by_type() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["HSET", "h", "f", "v"]);
    q::<i64>(&mut c, &["SADD", "s", "1", "2"]);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "h", "100"]), 1);
    assert!(q::<i64>(&mut c, &["PTTL", "h"]) > 0);
    q::<i64>(&mut c, &["HSET", "h", "g", "w"]);
    assert!(q::<i64>(&mut c, &["PTTL", "h"]) > 0, "HSET keeps the TTL");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "h"]), 0);
    // RENAME and COPY, on one core and across cores, keep type and contents.
    let [a, b] = common::keys_on_each_core(&mut c, 2, "k");
    let (x, y) = (&a[0], &b[0]);
    q::<i64>(&mut c, &["HSET", x, "f1", "v1", "f2", "v2"]);
    assert_eq!(q::<String>(&mut c, &["RENAME", x, y]), "OK");
    assert_eq!(q::<String>(&mut c, &["TYPE", y]), "hash");
    assert_eq!(q::<String>(&mut c, &["HGET", y, "f2"]), "v2");
    assert_eq!(q::<i64>(&mut c, &["COPY", y, x]), 1);
    assert_eq!(q::<i64>(&mut c, &["HLEN", x]), 2);
    q::<i64>(&mut c, &["HSET", x, "f3", "v3"]);
    assert_eq!(q::<i64>(&mut c, &["HLEN", y]), 2, "a copy is its own");
    assert_eq!(q::<i64>(&mut c, &["COPY", "s", &a[1]]), 1);
    assert_eq!(sorted(q(&mut c, &["SMEMBERS", &a[1]])), ["1", "2"]);
    // SCAN's TYPE filter.
    let mut cursor = "0".to_string();
    let mut sets = Vec::new();
    loop {
        let (next, keys): (String, Vec<String>) =
            q(&mut c, &["SCAN", &cursor, "TYPE", "set", "COUNT", "100"]);
        sets.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(sorted(sets), sorted(vec!["s".to_string(), a[1].clone()]));
}

#[test]
fn keyspace_events_name_hash_and_set_changes() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    config_set(&mut c, "notify-keyspace-events", "KEAn");
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").expect("psubscribe");
    ps.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let script: &[&[&str]] = &[
        &["HSET", "h", "a", "1"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBYFLOAT", "h", "x", "1.5"],
        &["HDEL", "h", "zz"],
        &["HDEL", "h", "a", "n", "x"],
        &["SADD", "s", "m", "n"],
        &["SADD", "s", "m"],
        &["SREM", "s", "m"],
        &["SPOP", "s"],
    ];
    for args in script {
        cmd(args).query::<Value>(&mut c).expect("command");
    }
    let want = [
        ("new", "h"),
        ("hset", "h"),
        ("hincrby", "h"),
        ("hincrbyfloat", "h"),
        ("hdel", "h"),
        ("del", "h"),
        ("new", "s"),
        ("sadd", "s"),
        ("srem", "s"),
        ("spop", "s"),
        ("del", "s"),
    ];
    for (event, key) in want {
        let msg = ps.get_message().expect("an event");
        let channel = msg.get_channel_name().to_string();
        let payload: String = msg.get_payload().expect("payload");
        assert_eq!(
            (channel.as_str(), payload.as_str()),
            (format!("__keyevent@0__:{event}").as_str(), key)
        );
    }
}

#[test]
fn hash_and_set_events_alone_are_announced() {
    // Only the `h` and `s` classes on: their events still come.
    let s = Server::start(1, &[]);
    let mut c = s.client();
    config_set(&mut c, "notify-keyspace-events", "Ehs");
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").expect("psubscribe");
    ps.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    q::<i64>(&mut c, &["HSET", "h", "a", "1"]);
    q::<i64>(&mut c, &["SADD", "s", "m"]);
    for want in ["__keyevent@0__:hset", "__keyevent@0__:sadd"] {
        let msg = ps.get_message().expect("an event");
        assert_eq!(msg.get_channel_name(), want);
    }
}

#[test]
fn dump_and_restore_keep_collections() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["HSET", "h", "f", "v", "n", "12"]);
    q::<i64>(&mut c, &["SADD", "ints", "1", "-2", "70000"]);
    let members: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    redis::cmd("SADD")
        .arg("big")
        .arg(&members)
        .query::<i64>(&mut c)
        .expect("SADD");
    for key in ["h", "ints", "big"] {
        let payload: Vec<u8> = q(&mut c, &["DUMP", key]);
        let copy = format!("{key}:copy");
        redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&payload)
            .query::<()>(&mut c)
            .expect("RESTORE");
        assert_eq!(
            q::<String>(&mut c, &["TYPE", &copy]),
            q::<String>(&mut c, &["TYPE", key])
        );
    }
    let h: HashMap<String, String> = q(&mut c, &["HGETALL", "h:copy"]);
    assert_eq!(h["n"], "12");
    assert_eq!(
        sorted(q(&mut c, &["SMEMBERS", "ints:copy"])),
        ["-2", "1", "70000"]
    );
    assert_eq!(q::<i64>(&mut c, &["SCARD", "big:copy"]), 600);
    // A payload of redis-server's own, when it is installed.
    if let Some(payloads) = redis_server_payloads() {
        for (key, payload) in payloads {
            redis::cmd("RESTORE")
                .arg(format!("theirs:{key}"))
                .arg(0)
                .arg(&payload)
                .query::<()>(&mut c)
                .unwrap_or_else(|e| panic!("RESTORE of redis-server's {key}: {e}"));
        }
        let h: HashMap<String, String> = q(&mut c, &["HGETALL", "theirs:h"]);
        assert_eq!(h.len(), 3);
        assert_eq!(h["n"], "-7");
        assert_eq!(q::<i64>(&mut c, &["SCARD", "theirs:ints"]), 3);
        assert_eq!(q::<i64>(&mut c, &["SCARD", "theirs:strs"]), 3);
        assert_eq!(q::<i64>(&mut c, &["HLEN", "theirs:big"]), 300);
    }
}

/// DUMPs of a listpack hash, an intset, a small string set and a big hash
/// from redis-server, or None when it is not installed.
fn redis_server_payloads() -> Option<Vec<(String, Vec<u8>)>> {
    let server = RedisServer::start()?;
    let mut con = server.try_client().expect("a client of redis-server");
    q::<i64>(
        &mut con,
        &["HSET", "h", "f", "v", "n", "-7", "long", &"y".repeat(70)],
    );
    q::<i64>(&mut con, &["HSET", "small", "a", "1"]);
    q::<i64>(&mut con, &["SADD", "ints", "1", "2", "300000"]);
    q::<i64>(&mut con, &["SADD", "strs", "a", "b", "c"]);
    let mut big = redis::cmd("HSET");
    big.arg("big");
    for i in 0..300 {
        big.arg(format!("field{i}")).arg(i);
    }
    big.query::<i64>(&mut con).expect("HSET big");
    let out = ["h", "small", "ints", "strs", "big"]
        .iter()
        .map(|k| (k.to_string(), q::<Vec<u8>>(&mut con, &["DUMP", k])))
        .collect();
    Some(out)
}

#[test]
fn persistence_keeps_hashes_and_sets() {
    let dir = common::TempDir::new("hashes-sets-persist");
    // `always`: every acknowledged write is on disk before the kill.
    let flags = dir.logged_always();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    q::<i64>(&mut c, &["HSET", "h", "f", "v", "g", "w"]);
    q::<i64>(&mut c, &["HDEL", "h", "g"]);
    q::<i64>(&mut c, &["SADD", "ints", "1", "2", "3"]);
    q::<i64>(&mut c, &["SADD", "gone", "x"]);
    q::<i64>(&mut c, &["SREM", "gone", "x"]);
    let members: Vec<String> = (0..2000).map(|i| format!("m{i}")).collect();
    redis::cmd("SADD")
        .arg("big")
        .arg(&members)
        .query::<i64>(&mut c)
        .expect("SADD");
    q::<i64>(&mut c, &["EXPIRE", "big", "1000"]);
    s.kill9();
    // The logs bring every change back.
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    let h: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]);
    assert_eq!(h, HashMap::from([("f".to_string(), "v".to_string())]));
    assert_eq!(q::<i64>(&mut c, &["SCARD", "ints"]), 3);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]),
        "intset"
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "gone"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "big"]), 2000);
    assert!(q::<i64>(&mut c, &["TTL", "big"]) > 900);
    // A snapshot, loaded back without the logs.
    assert_eq!(q::<String>(&mut c, &["SAVE"]), "OK");
    s.terminate();
    let snap = ["--dir", dir.arg(), "--appendonly", "no"];
    let s = Server::start(2, &snap);
    let mut c = s.client();
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "f"]), "v");
    assert_eq!(q::<i64>(&mut c, &["SCARD", "big"]), 2000);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "ints", "2"]), 1);
}

// ---------------------------------------------------------------------------
// The model: both types, random commands, the staircase moving meanwhile.

#[derive(Default)]
struct Model {
    hashes: HashMap<String, BTreeMap<String, String>>,
    sets: HashMap<String, BTreeSet<String>>,
}

#[test]
fn a_model_of_hashes_and_sets_agrees_while_shards_move() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut con = s.client();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(9);
            let mut moves = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r: redis::RedisResult<Value> = match rng.gen_range(0..3) {
                    0 => redis::cmd("STAIRKV")
                        .arg("MIGRATE")
                        .arg(rng.gen_range(0..4))
                        .arg(rng.gen_range(0..2))
                        .query(&mut con),
                    1 => redis::cmd("STAIRKV").arg("SPLIT").query(&mut con),
                    _ => redis::cmd("STAIRKV").arg("MERGE").query(&mut con),
                };
                if r.is_ok() {
                    moves += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            moves
        })
    };
    let mut m = Model::default();
    let mut rng = StdRng::seed_from_u64(21);
    // Small collections cross the encodings' limits often.
    config_set(&mut c, "hash-max-listpack-entries", "8");
    config_set(&mut c, "set-max-listpack-entries", "8");
    config_set(&mut c, "set-max-intset-entries", "8");
    for step in 0..6000 {
        let key = format!("k{}", rng.gen_range(0..40));
        let f = format!("{}", rng.gen_range(0..20));
        let v = format!("v{}", rng.gen_range(0..1000));
        match rng.gen_range(0..10) {
            0 | 1 => {
                let r = cmd(&["HSET", &key, &f, &v]).query::<Value>(&mut c);
                if m.sets.contains_key(&key) {
                    assert_eq!(err_of(r), WRONGTYPE);
                } else {
                    let h = m.hashes.entry(key.clone()).or_default();
                    let new = h.insert(f, v).is_none();
                    assert_eq!(r.ok(), Some(Value::Int(i64::from(new))), "step {step}");
                }
            }
            2 => {
                let r = cmd(&["HDEL", &key, &f]).query::<Value>(&mut c);
                if m.sets.contains_key(&key) {
                    assert_eq!(err_of(r), WRONGTYPE);
                } else {
                    let gone = m
                        .hashes
                        .get_mut(&key)
                        .is_some_and(|h| h.remove(&f).is_some());
                    if m.hashes.get(&key).is_some_and(|h| h.is_empty()) {
                        m.hashes.remove(&key);
                    }
                    assert_eq!(r.ok(), Some(Value::Int(i64::from(gone))), "step {step}");
                }
            }
            3 | 4 => {
                let r = cmd(&["SADD", &key, &f]).query::<Value>(&mut c);
                if m.hashes.contains_key(&key) {
                    assert_eq!(err_of(r), WRONGTYPE);
                } else {
                    let new = m.sets.entry(key.clone()).or_default().insert(f);
                    assert_eq!(r.ok(), Some(Value::Int(i64::from(new))), "step {step}");
                }
            }
            5 => {
                let r = cmd(&["SREM", &key, &f]).query::<Value>(&mut c);
                if m.hashes.contains_key(&key) {
                    assert_eq!(err_of(r), WRONGTYPE);
                } else {
                    let gone = m.sets.get_mut(&key).is_some_and(|s| s.remove(&f));
                    if m.sets.get(&key).is_some_and(|s| s.is_empty()) {
                        m.sets.remove(&key);
                    }
                    assert_eq!(r.ok(), Some(Value::Int(i64::from(gone))), "step {step}");
                }
            }
            6 => {
                if let Some(h) = m.hashes.get(&key) {
                    let got: BTreeMap<String, String> = q(&mut c, &["HGETALL", &key]);
                    assert_eq!(&got, h, "step {step}: HGETALL {key}");
                }
            }
            7 => {
                if let Some(s) = m.sets.get(&key) {
                    let got: BTreeSet<String> = q(&mut c, &["SMEMBERS", &key]);
                    assert_eq!(&got, s, "step {step}: SMEMBERS {key}");
                }
            }
            8 => {
                let t: String = q(&mut c, &["TYPE", &key]);
                let want = if m.hashes.contains_key(&key) {
                    "hash"
                } else if m.sets.contains_key(&key) {
                    "set"
                } else {
                    "none"
                };
                assert_eq!(t, want, "step {step}: TYPE {key}");
            }
            _ => {
                if rng.gen_bool(0.1) {
                    q::<i64>(&mut c, &["DEL", &key]);
                    m.hashes.remove(&key);
                    m.sets.remove(&key);
                }
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let moves = mover.join().expect("mover");
    assert!(moves > 0, "no shard moved during the model test");
    for (k, h) in &m.hashes {
        let got: BTreeMap<String, String> = q(&mut c, &["HGETALL", k]);
        assert_eq!(&got, h, "final {k}");
    }
    for (k, s) in &m.sets {
        let got: BTreeSet<String> = q(&mut c, &["SMEMBERS", k]);
        assert_eq!(&got, s, "final {k}");
    }
}

/// A pipeline into big collections (their tables, one resizing) answers
/// each request as it would alone: the dispatcher prefetches each request's
/// field or member before running them, and must neither change what they
/// see nor trip on requests too short to have one (wrong arity), on a
/// second argument that is not a member (a count, another key), or on a key
/// of another type.
#[test]
fn pipelines_into_big_collections_answer_each_request() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for chunk in (0..6000).collect::<Vec<u32>>().chunks(500) {
        let mut h = cmd(&["HSET", "bh"]);
        let mut m = cmd(&["SADD", "bs"]);
        for i in chunk {
            h.arg(format!("f:{i}")).arg(format!("v{i}"));
            m.arg(format!("a-member-with-a-long-name:{i}"));
        }
        let _: i64 = h.query(&mut c).expect("HSET");
        let _: i64 = m.query(&mut c).expect("SADD");
    }
    assert_eq!(q::<String>(&mut c, &["SET", "str", "x"]), "OK");
    let long = |i: u32| format!("a-member-with-a-long-name:{i}");
    let (m1, m3, m4) = (long(1), long(3), long(4));
    let steps: Vec<(Vec<&str>, String)> = vec![
        (vec!["HSET", "bh", "f:1", "new"], ":0\r\n".into()),
        (vec!["HGET", "bh", "f:1"], "$3\r\nnew\r\n".into()),
        (vec!["HGET", "bh", "nofield"], "$-1\r\n".into()),
        (vec!["HEXISTS", "bh", "f:5999"], ":1\r\n".into()),
        (vec!["HDEL", "bh", "f:2"], ":1\r\n".into()),
        (vec!["HGET", "bh", "f:2"], "$-1\r\n".into()),
        (
            vec!["HSET", "bh"],
            "-ERR wrong number of arguments for 'hset' command\r\n".into(),
        ),
        (
            vec!["HGET"],
            "-ERR wrong number of arguments for 'hget' command\r\n".into(),
        ),
        (vec!["SADD", "bs", &m1], ":0\r\n".into()),
        (vec!["SADD", "bs", "fresh"], ":1\r\n".into()),
        (vec!["SISMEMBER", "bs", "fresh"], ":1\r\n".into()),
        (vec!["SREM", "bs", &m3], ":1\r\n".into()),
        (vec!["SISMEMBER", "bs", &m3], ":0\r\n".into()),
        (vec!["SADD", "str", "a"], format!("-{WRONGTYPE}\r\n")),
        (vec!["HGET", "str", "a"], format!("-{WRONGTYPE}\r\n")),
        (vec!["HLEN", "bh"], ":5999\r\n".into()),
        (vec!["SCARD", "bs"], ":6000\r\n".into()),
        (vec!["SMOVE", "bs", "bs2", &m4], ":1\r\n".into()),
        (vec!["SISMEMBER", "bs2", &m4], ":1\r\n".into()),
        (vec!["SRANDMEMBER", "bs", "0"], "*0\r\n".into()),
        (vec!["HGET", "missing", "f"], "$-1\r\n".into()),
    ];
    let mut send = Vec::new();
    let mut want = String::new();
    for (args, reply) in &steps {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        send.extend(common::resp(&args));
        want.push_str(reply);
    }
    let mut raw = s.raw();
    raw.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let got = common::roundtrip(&mut raw, &send, want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// HSET of a small hash is done where its entry keeps it when it can (a
/// value as long as the old one is overwritten, a new field appended): the
/// hash answers as a model does through every kind of change, keeps its
/// TTL, and turns into a table at `hash-max-listpack-entries` as before.
#[test]
fn small_hashes_change_in_place_as_a_model_says() {
    let s = Server::start(1, &["--hash-max-listpack-entries", "20"]);
    let mut c = s.client();
    let mut rng = StdRng::seed_from_u64(21);
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "seed", "x"]), 1);
    model.insert("seed".into(), "x".into());
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "h", "1000"]), 1);
    for _ in 0..3000 {
        let field = format!("f{}", rng.gen_range(0..19));
        let len = rng.gen_range(0..20);
        let value: String = (0..len)
            .map(|_| rng.gen_range(b'a'..=b'z') as char)
            .collect();
        let added = q::<i64>(&mut c, &["HSET", "h", &field, &value]);
        let was = model.insert(field.clone(), value.clone());
        assert_eq!(added, i64::from(was.is_none()), "HSET h {field} {value}");
        assert_eq!(
            q::<Option<String>>(&mut c, &["HGET", "h", &field]),
            Some(value)
        );
    }
    let all: BTreeMap<String, String> = cmd(&["HGETALL", "h"]).query(&mut c).expect("HGETALL");
    assert_eq!(all, model);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]),
        "listpack"
    );
    assert!(q::<i64>(&mut c, &["TTL", "h"]) > 900, "HSET kept the TTL");
    // The 21st field turns it into a table; the same fast path is not taken.
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "f19", "v"]), 1);
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "f20", "v"]), 1);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]),
        "hashtable"
    );
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), model.len() as i64 + 2);
    assert_eq!(q::<String>(&mut c, &["SET", "str", "abc"]), "OK");
    assert_eq!(e(&mut c, &["HSET", "str", "f", "v"]), WRONGTYPE);
    assert_eq!(q::<String>(&mut c, &["GET", "str"]), "abc");
}

/// SADD of one member needs no copy of the set when it can (a member there
/// already, or a new last member of a packed set): sets answer as a model
/// does through every encoding and conversion, and keep their TTL.
#[test]
fn small_sets_take_members_without_a_copy_as_a_model_says() {
    let s = Server::start(
        1,
        &[
            "--set-max-intset-entries",
            "16",
            "--set-max-listpack-entries",
            "24",
        ],
    );
    let mut c = s.client();
    let mut rng = StdRng::seed_from_u64(22);
    for round in 0..30 {
        let key = format!("s{round}");
        let mut model: BTreeSet<String> = BTreeSet::new();
        for i in 0..60 {
            let m = match rng.gen_range(0..3) {
                0 => rng.gen_range(0..40).to_string(),
                1 => format!("m{}", rng.gen_range(0..20)),
                _ => format!("a-member-longer-than-sixty-four-bytes-{}", "x".repeat(40)),
            };
            let added = q::<i64>(&mut c, &["SADD", &key, &m]);
            assert_eq!(added, i64::from(model.insert(m.clone())), "SADD {key} {m}");
            if i == 0 {
                assert_eq!(q::<i64>(&mut c, &["EXPIRE", &key, "1000"]), 1);
            }
        }
        let got: BTreeSet<String> = cmd(&["SMEMBERS", &key]).query(&mut c).expect("SMEMBERS");
        assert_eq!(got, model);
        assert_eq!(q::<i64>(&mut c, &["SCARD", &key]), model.len() as i64);
        assert!(q::<i64>(&mut c, &["TTL", &key]) > 900, "SADD kept the TTL");
    }
    // Each encoding, reached by SADDs of one member.
    for i in 0..16 {
        q::<i64>(&mut c, &["SADD", "ints", &i.to_string()]);
        q::<i64>(&mut c, &["SADD", "packed", &format!("p{i}")]);
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]),
        "intset"
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "packed"]),
        "listpack"
    );
    assert_eq!(q::<i64>(&mut c, &["SADD", "ints", "16"]), 1);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]),
        "listpack"
    );
    for i in 16..25 {
        q::<i64>(&mut c, &["SADD", "packed", &format!("p{i}")]);
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "packed"]),
        "hashtable"
    );
    assert_eq!(q::<i64>(&mut c, &["SADD", "packed", "p3"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SCARD", "packed"]), 25);
    assert_eq!(q::<i64>(&mut c, &["HSET", "h", "f", "v"]), 1);
    assert_eq!(e(&mut c, &["SADD", "h", "m"]), WRONGTYPE);
}
