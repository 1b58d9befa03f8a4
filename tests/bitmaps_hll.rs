mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;
#[path = "common/cmds.rs"]
mod cmds;
use cmds::{e, q, sorted, WRONGTYPE};

// Bitmaps, HyperLogLog, LCS and the multi-key set commands through the real
// binary: Redis 7's replies and error texts, keys on both cores (BITOP,
// PFMERGE, SINTERSTORE and SMOVE run as one step wherever their keys live),
// and byte-compatibility of HyperLogLogs with redis-server when installed.

use common::{config_set, Server};
use redis::{Connection, Value};
use std::collections::HashSet;

#[test]
fn bit_commands_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &["SETBIT", "b", "7", "1"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SETBIT", "b", "7", "0"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SETBIT", "b", "100", "1"]), 0);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "b"]), 13);
    assert_eq!(q::<i64>(&mut c, &["GETBIT", "b", "100"]), 1);
    assert_eq!(q::<i64>(&mut c, &["GETBIT", "b", "1000000"]), 0);
    assert_eq!(q::<i64>(&mut c, &["GETBIT", "nokey", "3"]), 0);
    assert_eq!(
        e(&mut c, &["SETBIT", "b", "-1", "1"]),
        "ERR bit offset is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["SETBIT", "b", "1", "2"]),
        "ERR bit is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["SETBIT", "b", "4294967296", "1"]),
        "ERR bit offset is not an integer or out of range"
    );
    q::<()>(&mut c, &["SET", "s", "foobar"]);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s"]), 26);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s", "0", "0"]), 4);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s", "1", "1"]), 6);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s", "1", "1", "BYTE"]), 6);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s", "5", "30", "BIT"]), 17);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "s", "-2", "-1"]), 7);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "nokey"]), 0);
    assert_eq!(e(&mut c, &["BITCOUNT", "s", "0"]), "ERR syntax error");
    assert_eq!(
        e(&mut c, &["BITCOUNT", "s", "0", "1", "WORD"]),
        "ERR syntax error"
    );
    q::<()>(&mut c, &["SET", "z", "\x00\x00\x00"]);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "z", "1"]), -1);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "z", "0"]), 0);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "nokey", "0"]), 0);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "nokey", "1"]), -1);
    q::<()>(&mut c, &["SET", "ones", "\x7f"]);
    assert_eq!(q::<i64>(&mut c, &["BITPOS", "ones", "1"]), 1);
    assert_eq!(
        e(&mut c, &["BITPOS", "ones", "2"]),
        "ERR The bit argument must be 1 or 0."
    );
    // BITFIELD: Redis's own example, then overflow modes.
    assert_eq!(
        q::<Vec<i64>>(
            &mut c,
            &["BITFIELD", "f", "INCRBY", "i5", "100", "1", "GET", "u4", "0"]
        ),
        [1, 0]
    );
    let v: Vec<Option<i64>> = q(
        &mut c,
        &[
            "BITFIELD", "o", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5",
        ],
    );
    assert_eq!(v, [None]);
    let v: Vec<i64> = q(
        &mut c,
        &[
            "BITFIELD", "o", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "300", "OVERFLOW", "WRAP",
            "INCRBY", "u8", "8", "257",
        ],
    );
    assert_eq!(v, [127, 1]);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["BITFIELD_RO", "o", "GET", "i8", "0"]),
        [127]
    );
    assert_eq!(
        e(&mut c, &["BITFIELD_RO", "o", "SET", "i8", "0", "1"]),
        "ERR BITFIELD_RO only supports the GET subcommand"
    );
    assert_eq!(
        e(&mut c, &["BITFIELD", "o", "GET", "u64", "0"]),
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
    );
    q::<i64>(&mut c, &["HSET", "h", "f", "v"]);
    for args in [
        &["SETBIT", "h", "1", "1"][..],
        &["GETBIT", "h", "1"],
        &["BITCOUNT", "h"],
        &["BITPOS", "h", "1"],
        &["BITFIELD", "h", "GET", "u8", "0"],
    ] {
        assert_eq!(e(&mut c, args), WRONGTYPE, "{args:?}");
    }
}

#[test]
fn bitop_and_multi_key_sets_span_cores() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [a, b] = common::keys_on_each_core(&mut c, 4, "k");
    // BITOP with sources on both cores and the destination on either.
    let set = |c: &mut Connection, k: &str, v: &[u8]| {
        redis::cmd("SET").arg(k).arg(v).query::<()>(c).expect("SET");
    };
    set(&mut c, &a[0], &[0x0f, 0xf0]);
    set(&mut c, &b[0], &[0xff]);
    assert_eq!(q::<i64>(&mut c, &["BITOP", "AND", &b[1], &a[0], &b[0]]), 2);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", &b[1]]), [0x0f, 0x00]);
    assert_eq!(q::<i64>(&mut c, &["BITOP", "OR", &a[1], &a[0], &b[0]]), 2);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", &a[1]]), [0xff, 0xf0]);
    assert_eq!(q::<i64>(&mut c, &["BITOP", "XOR", &a[1], &a[0], &b[0]]), 2);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", &a[1]]), [0xf0, 0xf0]);
    assert_eq!(q::<i64>(&mut c, &["BITOP", "NOT", &a[2], &b[0]]), 1);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", &a[2]]), [0x00]);
    assert_eq!(
        q::<i64>(&mut c, &["BITOP", "AND", &a[2], "nokey1", "nokey2"]),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", &a[2]]),
        0,
        "an empty result deletes"
    );
    assert_eq!(
        e(&mut c, &["BITOP", "NOT", &a[2], &a[0], &b[0]]),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(
        e(&mut c, &["BITOP", "NAND", &a[2], &a[0]]),
        "ERR syntax error"
    );
    // Sets on both cores.
    q::<i64>(&mut c, &["SADD", &a[3], "1", "2", "3", "x"]);
    q::<i64>(&mut c, &["SADD", &b[3], "2", "3", "4"]);
    assert_eq!(sorted(q(&mut c, &["SINTER", &a[3], &b[3]])), ["2", "3"]);
    assert_eq!(
        sorted(q(&mut c, &["SUNION", &a[3], &b[3], "nokey"])),
        ["1", "2", "3", "4", "x"]
    );
    assert_eq!(sorted(q(&mut c, &["SDIFF", &a[3], &b[3]])), ["1", "x"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SINTER", &a[3], "nokey"]).len(),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["SINTERCARD", "2", &a[3], &b[3]]), 2);
    assert_eq!(
        q::<i64>(&mut c, &["SINTERCARD", "2", &a[3], &b[3], "LIMIT", "1"]),
        1
    );
    assert_eq!(
        e(&mut c, &["SINTERCARD", "0", &a[3]]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        e(&mut c, &["SINTERCARD", "3", &a[3], &b[3]]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(q::<i64>(&mut c, &["SINTERSTORE", &b[2], &a[3], &b[3]]), 2);
    assert_eq!(sorted(q(&mut c, &["SMEMBERS", &b[2]])), ["2", "3"]);
    assert_eq!(q::<i64>(&mut c, &["SUNIONSTORE", &a[2], &a[3], &b[3]]), 5);
    assert_eq!(q::<i64>(&mut c, &["SDIFFSTORE", &a[2], &a[3], &a[3]]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", &a[2]]), 0);
    q::<()>(&mut c, &["SET", "str", "v"]);
    assert_eq!(e(&mut c, &["SUNION", &a[3], "str"]), WRONGTYPE);
    assert_eq!(e(&mut c, &["SINTERSTORE", &b[2], &a[3], "str"]), WRONGTYPE);
    // SMOVE between cores.
    assert_eq!(q::<i64>(&mut c, &["SMOVE", &a[3], &b[3], "x"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", &b[3], "x"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", &a[3], "x"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", &a[3], &b[3], "nope"]), 0);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", &a[3], &a[3], "1"]), 1);
    assert_eq!(e(&mut c, &["SMOVE", &a[3], "str", "1"]), WRONGTYPE);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "nokey", &a[3], "1"]), 0);
}

#[test]
fn multi_key_set_commands_are_never_seen_half_done() {
    // SMOVE one member back and forth between sets on two cores while
    // another client counts the member in both: always exactly once.
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [a, b] = common::keys_on_each_core(&mut c, 1, "m");
    let (x, y) = (a[0].clone(), b[0].clone());
    q::<i64>(&mut c, &["SADD", &x, "token", "pad"]);
    q::<i64>(&mut c, &["SADD", &y, "pad"]);
    let mover = {
        let mut c = s.client();
        let (x, y) = (x.clone(), y.clone());
        std::thread::spawn(move || {
            for i in 0..2000 {
                let (from, to) = if i % 2 == 0 { (&x, &y) } else { (&y, &x) };
                assert_eq!(q::<i64>(&mut c, &["SMOVE", from, to, "token"]), 1);
            }
        })
    };
    let mut checks = 0;
    while !mover.is_finished() {
        // SUNION reads both sets as one step, and SMOVE moves as one: the
        // token is in exactly one of them at every instant anyone can see.
        let both: Vec<String> = q(&mut c, &["SUNION", &x, &y]);
        assert_eq!(both.iter().filter(|m| *m == "token").count(), 1, "{both:?}");
        let n: i64 = q(&mut c, &["SINTERCARD", "2", &x, &y]);
        assert_eq!(n, 1, "only the pad is in both");
        checks += 1;
    }
    mover.join().expect("mover");
    assert!(checks > 10);
}

#[test]
fn hyperloglogs_count_merge_and_refuse_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [a, b] = common::keys_on_each_core(&mut c, 3, "h");
    assert_eq!(q::<i64>(&mut c, &["PFADD", &a[0], "a", "b", "c"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PFADD", &a[0], "a"]), 0);
    assert_eq!(
        q::<i64>(&mut c, &["PFADD", &a[1]]),
        1,
        "PFADD of nothing makes the key"
    );
    assert_eq!(q::<i64>(&mut c, &["PFADD", &a[1]]), 0);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", &a[0]]), 3);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "nokey"]), 0);
    let mut add = redis::cmd("PFADD");
    add.arg(&b[0]);
    for i in 0..10_000 {
        add.arg(format!("e{i}"));
    }
    add.query::<i64>(&mut c).expect("PFADD many");
    let n: i64 = q(&mut c, &["PFCOUNT", &b[0]]);
    assert!((9_800..=10_200).contains(&n), "PFCOUNT {n}");
    let both: i64 = q(&mut c, &["PFCOUNT", &a[0], &b[0]]);
    assert!((n..=n + 5).contains(&both), "{both} vs {n}");
    assert_eq!(q::<String>(&mut c, &["PFMERGE", &b[1], &a[0], &b[0]]), "OK");
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", &b[1]]), both);
    assert_eq!(q::<String>(&mut c, &["PFMERGE", &a[2]]), "OK");
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", &a[2]]), 0);
    q::<()>(&mut c, &["SET", "str", "not an hll"]);
    q::<i64>(&mut c, &["SADD", "set", "m"]);
    let not_hll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    assert_eq!(e(&mut c, &["PFADD", "str", "x"]), not_hll);
    assert_eq!(e(&mut c, &["PFCOUNT", "str"]), not_hll);
    assert_eq!(e(&mut c, &["PFCOUNT", &a[0], "str"]), not_hll);
    assert_eq!(e(&mut c, &["PFMERGE", &a[2], "str"]), not_hll);
    assert_eq!(e(&mut c, &["PFADD", "set", "x"]), WRONGTYPE);
    assert_eq!(e(&mut c, &["PFCOUNT", "set"]), WRONGTYPE);
    // A sketch moves as a string: GET it, SET it elsewhere, same count.
    let raw: Vec<u8> = q(&mut c, &["GET", &b[0]]);
    redis::cmd("SET")
        .arg("copy")
        .arg(&raw)
        .query::<()>(&mut c)
        .expect("SET");
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "copy"]), n);
    config_set(&mut c, "hll-sparse-max-bytes", "100");
    let got: Vec<String> = q(&mut c, &["CONFIG", "GET", "hll-sparse-max-bytes"]);
    assert_eq!(got, ["hll-sparse-max-bytes", "100"]);
    // Byte for byte what redis-server makes, when it is installed.
    if let Some(theirs) = redis_server_hlls() {
        for (elements, bytes, count) in theirs {
            let mut add = redis::cmd("PFADD");
            add.arg("mine");
            add.arg(&elements);
            q::<i64>(&mut c, &["DEL", "mine"]);
            config_set(&mut c, "hll-sparse-max-bytes", "3000");
            add.query::<i64>(&mut c).expect("PFADD");
            assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "mine"]), count);
            let mine: Vec<u8> = q(&mut c, &["GET", "mine"]);
            assert_eq!(mine, bytes, "{} elements", elements.len());
            redis::cmd("SET")
                .arg("theirs")
                .arg(&bytes)
                .query::<()>(&mut c)
                .expect("SET");
            assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "theirs"]), count);
        }
    }
}

/// A sketch redis-server made: its elements, its bytes after PFCOUNT, its count.
type Sketch = (Vec<String>, Vec<u8>, i64);

/// A sparse and a dense sketch from redis-server, or None when it is not
/// installed.
fn redis_server_hlls() -> Option<Vec<Sketch>> {
    let server = RedisServer::start()?;
    let mut con = server.try_client().expect("a client of redis-server");
    let mut out = Vec::new();
    for n in [50, 20_000] {
        let elements: Vec<String> = (0..n).map(|i| format!("item:{i}")).collect();
        let key = format!("k{n}");
        redis::cmd("PFADD")
            .arg(&key)
            .arg(&elements)
            .query::<i64>(&mut con)
            .expect("PFADD");
        let count: i64 = q(&mut con, &["PFCOUNT", &key]);
        let bytes: Vec<u8> = q(&mut con, &["GET", &key]);
        out.push((elements, bytes, count));
    }
    Some(out)
}

#[test]
fn lcs_answers_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<()>(
        &mut c,
        &["MSET", "key1{x}", "ohmytext", "key2{x}", "mynewtext"],
    );
    assert_eq!(
        q::<String>(&mut c, &["LCS", "key1{x}", "key2{x}"]),
        "mytext"
    );
    assert_eq!(q::<i64>(&mut c, &["LCS", "key1{x}", "key2{x}", "LEN"]), 6);
    let v: Value = q(
        &mut c,
        &[
            "LCS",
            "key1{x}",
            "key2{x}",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN",
        ],
    );
    let want = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![Value::Array(vec![
            Value::Array(vec![Value::Int(4), Value::Int(7)]),
            Value::Array(vec![Value::Int(5), Value::Int(8)]),
            Value::Int(4),
        ])]),
        Value::BulkString(b"len".to_vec()),
        Value::Int(6),
    ]);
    assert_eq!(v, want);
    assert_eq!(
        e(&mut c, &["LCS", "key1{x}", "key2{x}", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(q::<String>(&mut c, &["LCS", "nokey", "key2{x}"]), "");
    q::<i64>(&mut c, &["SADD", "set", "m"]);
    assert_eq!(e(&mut c, &["LCS", "set", "key1{x}"]), WRONGTYPE);
}

#[test]
fn bitmaps_and_sketches_survive_a_restart() {
    let dir = common::TempDir::new("bits-persist");
    let flags = dir.logged_always();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    q::<i64>(&mut c, &["SETBIT", "bits", "1000", "1"]);
    q::<i64>(&mut c, &["PFADD", "hll", "a", "b", "c", "d"]);
    q::<i64>(&mut c, &["SADD", "s1", "a", "b"]);
    q::<i64>(&mut c, &["SADD", "s2", "b", "c"]);
    q::<i64>(&mut c, &["SUNIONSTORE", "s3", "s1", "s2"]);
    s.kill9();
    let s = Server::start(2, &flags);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &["GETBIT", "bits", "1000"]), 1);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "bits"]), 1);
    assert_eq!(q::<i64>(&mut c, &["PFCOUNT", "hll"]), 4);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SMEMBERS", "s3"])
            .into_iter()
            .collect::<HashSet<_>>(),
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    );
}
