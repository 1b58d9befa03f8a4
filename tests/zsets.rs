#[path = "common/cmds.rs"]
mod cmds;
mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use cmds::{e, q, WRONGTYPE};

// Sorted sets through the real binary: every command with Redis 7's
// replies and error texts (scores in `%.17g`, doubles in RESP3), both
// encodings and the conversion between them, WRONGTYPE both ways, keyspace
// events, the multi-key forms with keys on both cores (and never seen
// half-done), and a randomized model while the staircase moves.

use common::{config_set, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;
use std::collections::HashMap;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `(member, score)` pairs of a WITHSCORES reply (RESP2: flat).
fn pairs(v: &[&str]) -> Vec<(String, String)> {
    v.chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}

#[track_caller]
fn with_scores(c: &mut redis::Connection, args: &[&str]) -> Vec<(String, String)> {
    q::<Vec<(String, String)>>(c, args)
}

#[test]
fn zadd_and_its_flags_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        3
    );
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "10", "a", "4", "d"]), 1);
    // CH counts changed scores too; a score set again changes nothing.
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "CH", "1", "a", "4", "d", "5", "e"]),
        2
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "NX", "100", "a", "6", "f"]),
        1
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "a"]), "1");
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "XX", "CH", "7", "a", "7", "g"]),
        1
    );
    assert_eq!(q::<Option<String>>(&mut c, &["ZSCORE", "z", "g"]), None);
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "GT", "CH", "6", "a", "8", "b"]),
        1
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "a"]), "7");
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "LT", "CH", "9", "a", "1", "b"]),
        1
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "b"]), "1");
    // GT and LT add new members.
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "GT", "1", "h"]), 1);
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "XX", "GT", "0", "h"]), 0);
    // INCR: the new score, nil when a condition held it back.
    assert_eq!(
        q::<String>(&mut c, &["ZADD", "z", "INCR", "2.5", "h"]),
        "3.5"
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "z", "NX", "INCR", "1", "h"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "z", "XX", "INCR", "1", "nope"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "h"]),
        None
    );
    assert_eq!(q::<String>(&mut c, &["ZADD", "z", "INCR", "0", "h"]), "3.5");
    assert_eq!(q::<String>(&mut c, &["ZINCRBY", "z", "-0.5", "h"]), "3");
    assert_eq!(q::<String>(&mut c, &["ZINCRBY", "z", "5", "new"]), "5");
    // XX on no key makes nothing.
    assert_eq!(q::<i64>(&mut c, &["ZADD", "nokey", "XX", "1", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "nokey"]), 0);
    assert_eq!(
        q::<Option<String>>(&mut c, &["ZADD", "nokey", "XX", "INCR", "1", "a"]),
        None
    );
    // Options are case-insensitive and may repeat.
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "ch", "Ch", "2", "new"]), 1);

    // Errors, in Redis's words.
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZADD", "z", "1"],
            "ERR wrong number of arguments for 'zadd' command",
        ),
        (
            &["ZADD", "z", "CH"],
            "ERR wrong number of arguments for 'zadd' command",
        ),
        (&["ZADD", "z", "1", "a", "2"], "ERR syntax error"),
        (&["ZADD", "z", "CH", "1"], "ERR syntax error"),
        (
            &["ZADD", "z", "NX", "XX", "1", "a"],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "NX", "GT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "GT", "LT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "ERR INCR option supports a single increment-element pair",
        ),
        (&["ZADD", "z", "abc", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "nan", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", " 1", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "1 ", "a"], "ERR value is not a valid float"),
        (
            &["ZADD", "z", "1e400", "a"],
            "ERR value is not a valid float",
        ),
        (
            &["ZADD", "z", "1", "a", "x", "b"],
            "ERR value is not a valid float",
        ),
        (
            &["ZINCRBY", "z", "x", "a"],
            "ERR value is not a valid float",
        ),
        (&["ZINCRBY", "z", "nx", "a"], "ERR syntax error"),
        (
            &["ZINCRBY", "z", "1"],
            "ERR wrong number of arguments for 'zincrby' command",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(e(&mut c, args), *want, "{args:?}");
    }
    // A bad score anywhere changes nothing.
    assert_eq!(q::<Option<String>>(&mut c, &["ZSCORE", "z", "x"]), None);
    // NaN from +inf + -inf is refused, and the member keeps its score.
    assert_eq!(q::<i64>(&mut c, &["ZADD", "z", "inf", "i"]), 1);
    assert_eq!(
        e(&mut c, &["ZINCRBY", "z", "-inf", "i"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        e(&mut c, &["ZADD", "z", "INCR", "-inf", "i"]),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "i"]), "inf");
    // Odd floats strtod reads: hexadecimal, "infinity", a subnormal.
    assert_eq!(
        q::<i64>(
            &mut c,
            &[
                "ZADD",
                "f",
                "0x10",
                "hex",
                "-Infinity",
                "low",
                "4.9e-324",
                "tiny"
            ]
        ),
        3
    );
    assert_eq!(
        with_scores(&mut c, &["ZRANGE", "f", "0", "-1", "WITHSCORES"]),
        pairs(&[
            "low",
            "-inf",
            "tiny",
            "4.9406564584124654e-324",
            "hex",
            "16"
        ])
    );
    // -0 is kept as 0.
    q::<i64>(&mut c, &["ZADD", "f", "-0", "zero"]);
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "f", "zero"]), "0");
}

#[test]
fn scores_are_written_as_redis_writes_them() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    for (score, want) in [
        ("1.5", "1.5"),
        ("3", "3"),
        ("3.0", "3"),
        ("0.1", "0.10000000000000001"),
        ("1e20", "1e+20"),
        ("-1e-5", "-1.0000000000000001e-05"),
        ("123456789012345678", "1.2345678901234568e+17"),
        ("10000000000000000", "10000000000000000"),
        ("+inf", "inf"),
        ("-inf", "-inf"),
    ] {
        q::<i64>(&mut c, &["ZADD", "s", score, "m"]);
        assert_eq!(q::<String>(&mut c, &["ZSCORE", "s", "m"]), want, "{score}");
        let scan: (String, Vec<String>) = q(&mut c, &["ZSCAN", "s", "0"]);
        assert_eq!(scan.1, strs(&["m", want]), "{score}");
    }
    // RESP3: scores are doubles, pairs nested.
    let mut raw = s.raw();
    {
        use std::io::{Read, Write};
        let mut hello = common::resp(&[b"HELLO", b"3"]);
        hello.extend(common::resp(&[b"PING"]));
        raw.write_all(&hello).expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"+PONG\r\n") {
            let n = raw.read(&mut buf).expect("HELLO's reply");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"%"), "{}", String::from_utf8_lossy(&got));
    }
    let mut ask = |args: &[&[u8]], want: &[u8]| {
        let got = common::roundtrip(&mut raw, &common::resp(args), want.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    };
    ask(&[b"ZADD", b"r", b"0.1", b"a", b"2", b"b"], b":2\r\n");
    ask(&[b"ZSCORE", b"r", b"a"], b",0.10000000000000001\r\n");
    ask(&[b"ZSCORE", b"r", b"x"], b"_\r\n");
    ask(&[b"ZMSCORE", b"r", b"b", b"x"], b"*2\r\n,2\r\n_\r\n");
    // A script's score comes back as the command wrote it.
    ask(
        &[
            b"EVAL",
            b"redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'a')",
            b"1",
            b"r",
        ],
        b",0.10000000000000001\r\n",
    );
    ask(
        &[
            b"EVAL",
            b"return redis.call('ZSCORE', KEYS[1], 'a')",
            b"1",
            b"r",
        ],
        b"$19\r\n0.10000000000000001\r\n",
    );
    ask(
        &[b"ZRANGE", b"r", b"0", b"-1", b"WITHSCORES"],
        b"*2\r\n*2\r\n$1\r\na\r\n,0.10000000000000001\r\n*2\r\n$1\r\nb\r\n,2\r\n",
    );
    ask(&[b"ZINCRBY", b"r", b"1", b"b"], b",3\r\n");
    ask(&[b"ZRANK", b"r", b"b", b"WITHSCORE"], b"*2\r\n:1\r\n,3\r\n");
    ask(&[b"ZRANK", b"r", b"x", b"WITHSCORE"], b"_\r\n");
    ask(
        &[b"ZPOPMIN", b"r"],
        b"*2\r\n$1\r\na\r\n,0.10000000000000001\r\n",
    );
    ask(&[b"ZPOPMAX", b"r", b"1"], b"*1\r\n*2\r\n$1\r\nb\r\n,3\r\n");
    ask(&[b"ZADD", b"r", b"inf", b"i"], b":1\r\n");
    ask(
        &[b"ZRANGE", b"r", b"0", b"-1", b"WITHSCORES"],
        b"*1\r\n*2\r\n$1\r\ni\r\n,inf\r\n",
    );
    ask(
        &[b"ZMPOP", b"1", b"r", b"MIN"],
        b"*2\r\n$1\r\nr\r\n*1\r\n*2\r\n$1\r\ni\r\n,inf\r\n",
    );
    // RESP2: the same as bulk strings, flat.
    let mut raw2 = s.raw();
    let mut ask2 = |args: &[&[u8]], want: &[u8]| {
        let got = common::roundtrip(&mut raw2, &common::resp(args), want.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    };
    ask2(&[b"ZADD", b"r2", b"0.1", b"a", b"2", b"b"], b":2\r\n");
    ask2(
        &[b"ZRANGE", b"r2", b"0", b"-1", b"WITHSCORES"],
        b"*4\r\n$1\r\na\r\n$19\r\n0.10000000000000001\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    ask2(&[b"ZPOPMAX", b"r2", b"1"], b"*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    ask2(
        &[b"ZMPOP", b"1", b"r2", b"MAX"],
        b"*2\r\n$2\r\nr2\r\n*1\r\n*2\r\n$1\r\na\r\n$19\r\n0.10000000000000001\r\n",
    );
}

#[test]
fn one_key_reads_and_removals_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "z"]), 5);
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "nokey"]), 0);
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["ZMSCORE", "z", "a", "x", "e"]),
        [Some("1".into()), None, Some("5".into())]
    );
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["ZMSCORE", "nokey", "a", "b"]),
        [None, None]
    );
    assert_eq!(q::<i64>(&mut c, &["ZRANK", "z", "c"]), 2);
    assert_eq!(q::<i64>(&mut c, &["ZREVRANK", "z", "c"]), 2);
    assert_eq!(q::<i64>(&mut c, &["ZREVRANK", "z", "a"]), 4);
    assert_eq!(q::<Option<i64>>(&mut c, &["ZRANK", "z", "x"]), None);
    assert_eq!(q::<Option<i64>>(&mut c, &["ZRANK", "nokey", "x"]), None);
    assert_eq!(
        q::<(i64, String)>(&mut c, &["ZRANK", "z", "b", "WITHSCORE"]),
        (1, "2".into())
    );
    assert_eq!(
        q::<(i64, String)>(&mut c, &["ZREVRANK", "z", "b", "withscore"]),
        (3, "2".into())
    );
    assert_eq!(
        redis::cmd("ZRANK")
            .arg("z")
            .arg("x")
            .arg("WITHSCORE")
            .query::<Value>(&mut c),
        Ok(Value::Nil)
    );
    assert_eq!(e(&mut c, &["ZRANK", "z", "a", "foo"]), "ERR syntax error");
    assert_eq!(
        e(&mut c, &["ZRANK", "z", "a", "WITHSCORE", "x"]),
        "ERR wrong number of arguments for 'zrank' command"
    );
    // Counts over score and lex ranges, with Redis's reading of the ends.
    for (min, max, n) in [
        ("-inf", "+inf", 5),
        ("(1", "3", 2),
        ("(1", "(3", 1),
        ("3", "1", 0),
        ("(3", "3", 0),
        ("", "2", 2),
        (" 2", "2", 1),
        ("1e400", "inf", 0),
        ("-1e400", "(2", 1),
    ] {
        assert_eq!(
            q::<i64>(&mut c, &["ZCOUNT", "z", min, max]),
            n,
            "{min} {max}"
        );
    }
    assert_eq!(q::<i64>(&mut c, &["ZCOUNT", "nokey", "-inf", "inf"]), 0);
    for bad in [("(nan", "1"), ("1", "x"), ("1 ", "2"), ("((1", "2")] {
        assert_eq!(
            e(&mut c, &["ZCOUNT", "z", bad.0, bad.1]),
            "ERR min or max is not a float",
            "{bad:?}"
        );
    }
    q::<i64>(
        &mut c,
        &[
            "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
    );
    for (min, max, n) in [
        ("-", "+", 5),
        ("[b", "[d", 3),
        ("(b", "(d", 1),
        ("[b", "(b", 0),
        ("+", "-", 0),
        ("(a", "+", 4),
        ("[", "+", 5),
        ("-", "[", 0),
    ] {
        assert_eq!(
            q::<i64>(&mut c, &["ZLEXCOUNT", "l", min, max]),
            n,
            "{min} {max}"
        );
    }
    for bad in [("a", "+"), ("-", "b"), ("+a", "+"), ("", "+")] {
        assert_eq!(
            e(&mut c, &["ZLEXCOUNT", "l", bad.0, bad.1]),
            "ERR min or max not valid string range item",
            "{bad:?}"
        );
    }
    // ZREM, and the last member deletes the key.
    assert_eq!(q::<i64>(&mut c, &["ZREM", "z", "a", "x", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["ZREM", "nokey", "a"]), 0);
    // Range removals.
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "z", "-1", "-1"]), 1);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGE", "z", "0", "-1"]),
        strs(&["b", "c", "d"])
    );
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYSCORE", "z", "(2", "3"]), 1);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYSCORE", "z", "5", "1"]), 0);
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYLEX", "l", "(a", "[c"]), 2);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGE", "l", "0", "-1"]),
        strs(&["a", "d", "e"])
    );
    assert_eq!(q::<i64>(&mut c, &["ZREMRANGEBYRANK", "l", "0", "-1"]), 3);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "l"]), 0);
    assert_eq!(
        q::<i64>(&mut c, &["ZREMRANGEBYRANK", "nokey", "0", "-1"]),
        0
    );
    assert_eq!(
        e(&mut c, &["ZREMRANGEBYRANK", "z", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["ZREMRANGEBYSCORE", "z", "a", "1"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        e(&mut c, &["ZREMRANGEBYLEX", "z", "a", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(q::<i64>(&mut c, &["ZREM", "z", "b", "d"]), 2);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "z"]), 0);

    // Pops.
    q::<i64>(
        &mut c,
        &["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZPOPMIN", "p"]),
        strs(&["a", "1"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZPOPMAX", "p", "2"]),
        strs(&["d", "4", "c", "3"])
    );
    assert_eq!(q::<Vec<String>>(&mut c, &["ZPOPMAX", "p", "0"]).len(), 0);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZPOPMIN", "nokey"]).len(), 0);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZPOPMIN", "nokey", "3"]).len(),
        0
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZPOPMIN", "p", "10"]),
        strs(&["b", "2"])
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "p"]), 0);
    assert_eq!(
        e(&mut c, &["ZPOPMIN", "p", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        e(&mut c, &["ZPOPMIN", "p", "x"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(e(&mut c, &["ZPOPMAX", "p", "1", "2"]), "ERR syntax error");

    // ZRANDMEMBER: one, distinct ones, repeats for a negative count.
    q::<i64>(&mut c, &["ZADD", "r", "1", "a", "2", "b", "3", "c"]);
    let one: String = q(&mut c, &["ZRANDMEMBER", "r"]);
    assert!(["a", "b", "c"].contains(&one.as_str()));
    assert_eq!(q::<Option<String>>(&mut c, &["ZRANDMEMBER", "nokey"]), None);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANDMEMBER", "nokey", "3"]).len(),
        0
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANDMEMBER", "r", "0"]).len(),
        0
    );
    let mut two: Vec<String> = q(&mut c, &["ZRANDMEMBER", "r", "2"]);
    two.sort();
    two.dedup();
    assert_eq!(two.len(), 2);
    let mut all: Vec<String> = q(&mut c, &["ZRANDMEMBER", "r", "10"]);
    all.sort();
    assert_eq!(all, strs(&["a", "b", "c"]));
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANDMEMBER", "r", "-10"]).len(),
        10
    );
    let scored = with_scores(&mut c, &["ZRANDMEMBER", "r", "-5", "WITHSCORES"]);
    assert_eq!(scored.len(), 5);
    for (m, s) in &scored {
        let want = match m.as_str() {
            "a" => "1",
            "b" => "2",
            _ => "3",
        };
        assert_eq!(s, want);
    }
    assert_eq!(
        e(&mut c, &["ZRANDMEMBER", "r", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        e(
            &mut c,
            &["ZRANDMEMBER", "r", "9223372036854775807", "WITHSCORES"]
        ),
        "ERR value is out of range"
    );
    assert_eq!(
        e(&mut c, &["ZRANDMEMBER", "r", "1", "foo"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["ZRANDMEMBER", "r", "x"]),
        "ERR value is not an integer or out of range"
    );

    // ZSCAN of a small set: everything at once; MATCH filters; COUNT checked.
    let (next, all): (String, Vec<String>) = q(&mut c, &["ZSCAN", "r", "0", "MATCH", "[ab]"]);
    assert_eq!((next.as_str(), all), ("0", strs(&["a", "1", "b", "2"])));
    assert_eq!(
        e(&mut c, &["ZSCAN", "r", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(e(&mut c, &["ZSCAN", "r", "x"]), "ERR invalid cursor");
    let (next, none): (String, Vec<String>) = q(&mut c, &["ZSCAN", "nokey", "0"]);
    assert_eq!((next.as_str(), none.len()), ("0", 0));
}

#[test]
fn ranges_answer_as_redis() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    q::<i64>(
        &mut c,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    let r = |c: &mut redis::Connection, args: &[&str]| q::<Vec<String>>(c, args);
    assert_eq!(
        r(&mut c, &["ZRANGE", "z", "0", "-1"]),
        strs(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(r(&mut c, &["ZRANGE", "z", "-2", "100"]), strs(&["d", "e"]));
    assert_eq!(r(&mut c, &["ZRANGE", "z", "3", "1"]).len(), 0);
    assert_eq!(
        r(&mut c, &["ZRANGE", "z", "0", "1", "REV"]),
        strs(&["e", "d"])
    );
    assert_eq!(r(&mut c, &["ZREVRANGE", "z", "1", "2"]), strs(&["d", "c"]));
    assert_eq!(
        r(&mut c, &["ZREVRANGE", "z", "0", "0", "WITHSCORES"]),
        strs(&["e", "5"])
    );
    assert_eq!(
        r(&mut c, &["ZRANGE", "z", "(1", "3", "BYSCORE"]),
        strs(&["b", "c"])
    );
    assert_eq!(
        r(
            &mut c,
            &[
                "ZRANGE",
                "z",
                "5",
                "(1",
                "BYSCORE",
                "REV",
                "LIMIT",
                "1",
                "2",
                "WITHSCORES"
            ]
        ),
        strs(&["d", "4", "c", "3"])
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "-1"]
        ),
        strs(&["b", "c", "d", "e"])
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "2"]
        )
        .len(),
        0
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "0"]
        )
        .len(),
        0
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "9", "1"]
        )
        .len(),
        0
    );
    assert_eq!(
        r(&mut c, &["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1", "5"]),
        strs(&["c", "d"])
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGEBYSCORE", "z", "2", "3", "WITHSCORES", "WITHSCORES"]
        ),
        strs(&["b", "2", "c", "3"])
    );
    assert_eq!(
        r(&mut c, &["ZREVRANGEBYSCORE", "z", "+inf", "(4"]),
        strs(&["e"])
    );
    assert_eq!(r(&mut c, &["ZREVRANGEBYSCORE", "z", "1", "5"]).len(), 0);
    q::<i64>(
        &mut c,
        &[
            "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
    );
    assert_eq!(
        r(&mut c, &["ZRANGE", "l", "[b", "(d", "BYLEX"]),
        strs(&["b", "c"])
    );
    assert_eq!(
        r(
            &mut c,
            &["ZRANGE", "l", "+", "[c", "BYLEX", "REV", "LIMIT", "0", "2"]
        ),
        strs(&["e", "d"])
    );
    assert_eq!(
        r(&mut c, &["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2", "2"]),
        strs(&["c", "d"])
    );
    assert_eq!(
        r(&mut c, &["ZREVRANGEBYLEX", "l", "(c", "-"]),
        strs(&["b", "a"])
    );
    assert_eq!(r(&mut c, &["ZRANGE", "nokey", "0", "-1"]).len(), 0);
    assert_eq!(r(&mut c, &["ZRANGEBYLEX", "nokey", "-", "+"]).len(), 0);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
            "ERR syntax error",
        ),
        (&["ZRANGE", "z", "0", "1", "FOO"], "ERR syntax error"),
        (
            &["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "0"],
            "ERR syntax error",
        ),
        (
            &["ZRANGE", "z", "a", "1"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZRANGE", "z", "x", "1", "BYSCORE"],
            "ERR min or max is not a float",
        ),
        (
            &["ZRANGE", "z", "a", "b", "BYLEX"],
            "ERR min or max not valid string range item",
        ),
        (
            &["ZRANGEBYSCORE", "z", "1", "2", "BYSCORE"],
            "ERR syntax error",
        ),
        (&["ZRANGEBYSCORE", "z", "1", "2", "REV"], "ERR syntax error"),
        (
            &["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1"],
            "ERR syntax error",
        ),
        (&["ZREVRANGE", "z", "0", "1", "REV"], "ERR syntax error"),
        (
            &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGE", "z", "0"],
            "ERR wrong number of arguments for 'zrange' command",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(e(&mut c, args), *want, "{args:?}");
    }
    // ZRANGESTORE: the range stored; an empty one deletes the destination.
    assert_eq!(
        q::<i64>(
            &mut c,
            &[
                "ZRANGESTORE",
                "d",
                "z",
                "3",
                "1",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "2"
            ]
        ),
        2
    );
    assert_eq!(
        with_scores(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        pairs(&["b", "2", "c", "3"])
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZRANGESTORE", "d", "l", "[b", "[b", "BYLEX"]),
        1
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZRANGESTORE", "d", "nokey", "0", "-1"]),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "d"]), 0);
    assert_eq!(
        e(&mut c, &["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"]),
        "ERR syntax error"
    );
    q::<String>(&mut c, &["SET", "str", "v"]);
    assert_eq!(
        e(&mut c, &["ZRANGESTORE", "d", "str", "0", "-1"]),
        WRONGTYPE
    );
    // The destination is replaced whatever it held, its TTL gone.
    q::<String>(&mut c, &["SET", "d", "v", "EX", "100"]);
    assert_eq!(q::<i64>(&mut c, &["ZRANGESTORE", "d", "z", "0", "0"]), 1);
    assert_eq!(q::<String>(&mut c, &["TYPE", "d"]), "zset");
    assert_eq!(q::<i64>(&mut c, &["TTL", "d"]), -1);
}

#[test]
fn every_zset_command_refuses_another_type_and_others_refuse_a_zset() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<String>(&mut c, &["SET", "str", "v"]);
    for args in [
        &["ZADD", "str", "1", "a"][..],
        &["ZINCRBY", "str", "1", "a"],
        &["ZREM", "str", "a"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZCARD", "str"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZRANGE", "str", "0", "-1"],
        &["ZREVRANGE", "str", "0", "-1"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZREVRANGEBYSCORE", "str", "1", "0"],
        &["ZRANGEBYLEX", "str", "-", "+"],
        &["ZREVRANGEBYLEX", "str", "+", "-"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "2"],
        &["ZMPOP", "1", "str", "MIN"],
        &["ZRANDMEMBER", "str"],
        &["ZRANDMEMBER", "str", "2"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZREMRANGEBYLEX", "str", "-", "+"],
        &["ZSCAN", "str", "0"],
        &["ZUNION", "1", "str"],
        &["ZINTER", "1", "str"],
        &["ZDIFF", "1", "str"],
        &["ZUNIONSTORE", "d", "1", "str"],
        &["ZINTERCARD", "1", "str"],
        &["ZRANGESTORE", "d", "str", "0", "1"],
    ] {
        assert_eq!(e(&mut c, args), WRONGTYPE, "{args:?}");
    }
    q::<i64>(&mut c, &["ZADD", "z", "1", "a"]);
    assert_eq!(q::<String>(&mut c, &["TYPE", "z"]), "zset");
    for args in [
        &["GET", "z"][..],
        &["SADD", "z", "a"],
        &["HSET", "z", "a", "b"],
        &["LPUSH", "z", "a"],
        &["SMEMBERS", "z"],
        &["INCR", "z"],
        &["SINTER", "z"],
    ] {
        assert_eq!(e(&mut c, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(q::<String>(&mut c, &["SET", "z", "v"]), "OK");
    assert_eq!(q::<String>(&mut c, &["TYPE", "z"]), "string");
}

#[test]
fn zsets_change_encoding_at_the_limits_and_go_everywhere_a_key_goes() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["ZADD", "z", "1", "a"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "listpack"
    );
    let small: i64 = q(&mut c, &["MEMORY", "USAGE", "z"]);
    for i in 0..127 {
        q::<i64>(&mut c, &["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]),
        "listpack"
    );
    q::<i64>(&mut c, &["ZADD", "z", "1000", "one-too-many"]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]), "btree");
    let big: i64 = q(&mut c, &["MEMORY", "USAGE", "z"]);
    assert!(big > small + 129 * 24, "{small} -> {big}");
    // It never goes back as it shrinks (as Redis).
    q::<i64>(&mut c, &["ZREMRANGEBYRANK", "z", "0", "-3"]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]), "btree");
    // A long member converts too.
    q::<i64>(&mut c, &["ZADD", "long", "1", &"x".repeat(64)]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "long"]),
        "listpack"
    );
    q::<i64>(&mut c, &["ZADD", "long", "1", &"x".repeat(65)]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "long"]),
        "btree"
    );
    // The limits are settings (with Redis 7's old names too).
    config_set(&mut c, "zset-max-ziplist-entries", "2");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["CONFIG", "GET", "zset-max-listpack-entries"]),
        strs(&["zset-max-listpack-entries", "2"])
    );
    q::<i64>(&mut c, &["ZADD", "three", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "three"]),
        "btree"
    );
    config_set(&mut c, "zset-max-listpack-value", "3");
    config_set(&mut c, "zset-max-listpack-entries", "128");
    q::<i64>(&mut c, &["ZADD", "v", "1", "abcd"]);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "v"]), "btree");
    assert!(
        common::config_set_err(&mut c, "zset-max-listpack-entries", "x")
            .contains("zset-max-listpack-entries")
    );
    config_set(&mut c, "zset-max-listpack-value", "64");
    // A STORE result takes the encoding its size calls for.
    assert_eq!(q::<i64>(&mut c, &["ZUNIONSTORE", "u", "1", "three"]), 3);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "u"]),
        "listpack"
    );
    // SCAN TYPE, RENAME, COPY, EXPIRE.
    let (_, keys): (String, Vec<String>) =
        q(&mut c, &["SCAN", "0", "TYPE", "zset", "COUNT", "1000"]);
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, strs(&["long", "three", "u", "v", "z"]));
    assert_eq!(q::<String>(&mut c, &["RENAME", "z", "z2"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["COPY", "z2", "z3"]), 1);
    q::<i64>(&mut c, &["ZADD", "z3", "5", "extra"]);
    assert_eq!(
        q::<i64>(&mut c, &["ZCARD", "z2"]) + 1,
        q::<i64>(&mut c, &["ZCARD", "z3"])
    );
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "z3"]), "btree");
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "z3", "50"]), 1);
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "z3"]), 0);
    // A big set's ZSCAN walks its index: every member once, in pages.
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, page): (String, Vec<String>) =
            q(&mut c, &["ZSCAN", "z2", &cursor, "COUNT", "1"]);
        for p in page.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len() as i64, q::<i64>(&mut c, &["ZCARD", "z2"]));
    assert_eq!(seen.get("one-too-many").map(String::as_str), Some("1000"));
}

#[test]
fn zset_changes_are_announced_as_redis_does() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    config_set(&mut c, "notify-keyspace-events", "KEzg");
    let mut sub = s.client();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").expect("psubscribe");
    let [here, there] = common::keys_on_each_core(&mut c, 1, "ev:");
    let (z, d) = (here[0].as_str(), there[0].as_str());
    q::<i64>(&mut c, &["ZADD", z, "1", "a", "2", "b", "3", "c", "4", "d"]);
    q::<i64>(&mut c, &["ZADD", z, "1", "a"]); // no change: no event
    q::<String>(&mut c, &["ZINCRBY", z, "1", "a"]);
    q::<i64>(&mut c, &["ZREM", z, "a", "x"]);
    q::<i64>(&mut c, &["ZREM", z, "x"]); // nothing removed: no event
    q::<Vec<String>>(&mut c, &["ZPOPMIN", z]);
    q::<Vec<String>>(&mut c, &["ZPOPMAX", z]);
    q::<i64>(&mut c, &["ZADD", z, "5", "e", "6", "f", "7", "g"]);
    q::<i64>(&mut c, &["ZREMRANGEBYRANK", z, "0", "0"]);
    q::<i64>(&mut c, &["ZREMRANGEBYSCORE", z, "5", "5"]);
    q::<i64>(&mut c, &["ZREMRANGEBYLEX", z, "[f", "[f"]);
    q::<i64>(&mut c, &["ZUNIONSTORE", d, "1", z]);
    q::<i64>(&mut c, &["ZINTERSTORE", d, "1", z]);
    q::<i64>(&mut c, &["ZDIFFSTORE", d, "1", z]);
    q::<i64>(&mut c, &["ZRANGESTORE", d, z, "0", "-1"]);
    q::<i64>(&mut c, &["ZRANGESTORE", d, "nokey", "0", "-1"]);
    q::<Value>(&mut c, &["ZMPOP", "1", z, "MAX"]);
    let want: &[(&str, &str)] = &[
        ("zadd", z),
        ("zincr", z),
        ("zrem", z),
        ("zpopmin", z),
        ("zpopmax", z),
        ("zadd", z),
        ("zremrangebyrank", z),
        ("zremrangebyscore", z),
        ("zremrangebylex", z),
        ("zunionstore", d),
        ("zinterstore", d),
        ("zdiffstore", d),
        ("zrangestore", d),
        ("del", d),
        ("zpopmax", z),
        ("del", z),
    ];
    for (name, key) in want {
        let m = ps.get_message().expect("event");
        assert_eq!(m.get_channel_name(), format!("__keyevent@0__:{name}"));
        assert_eq!(m.get_payload::<String>().expect("payload"), *key, "{name}");
    }
}

#[test]
fn algebra_answers_as_redis_across_cores() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 3, "alg:");
    let (a, b, st) = (here[0].as_str(), there[0].as_str(), here[1].as_str());
    let (d, d2) = (there[1].as_str(), here[2].as_str());
    q::<i64>(&mut c, &["ZADD", a, "1", "x", "2", "y", "3", "z"]);
    q::<i64>(&mut c, &["ZADD", b, "10", "y", "20", "z", "30", "w"]);
    q::<i64>(&mut c, &["SADD", st, "z", "w", "v"]);
    assert_eq!(
        with_scores(&mut c, &["ZUNION", "2", a, b, "WITHSCORES"]),
        pairs(&["x", "1", "y", "12", "z", "23", "w", "30"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZUNION", "2", a, b]),
        strs(&["x", "y", "z", "w"])
    );
    assert_eq!(
        with_scores(
            &mut c,
            &[
                "ZINTER",
                "2",
                a,
                b,
                "WEIGHTS",
                "2",
                "0.5",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        pairs(&["y", "5", "z", "10"])
    );
    assert_eq!(
        with_scores(
            &mut c,
            &["ZINTER", "2", a, b, "aggregate", "min", "withscores"]
        ),
        pairs(&["y", "2", "z", "3"])
    );
    assert_eq!(
        with_scores(&mut c, &["ZDIFF", "2", a, b, "WITHSCORES"]),
        pairs(&["x", "1"])
    );
    // A set's members score 1.
    assert_eq!(
        with_scores(&mut c, &["ZUNION", "2", b, st, "WITHSCORES"]),
        pairs(&["v", "1", "y", "10", "z", "21", "w", "31"])
    );
    assert_eq!(
        with_scores(
            &mut c,
            &["ZINTER", "2", st, a, "WEIGHTS", "3", "1", "WITHSCORES"]
        ),
        pairs(&["z", "6"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZDIFF", "2", st, b]),
        strs(&["v"])
    );
    // Missing keys are empty sets.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZUNION", "2", "nokey", a]),
        strs(&["x", "y", "z"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZINTER", "2", "nokey", a]).len(),
        0
    );
    // +inf plus -inf sums to 0; inf × 0 weighs 0.
    q::<i64>(&mut c, &["ZADD", d2, "inf", "i"]);
    q::<i64>(&mut c, &["ZADD", d, "-inf", "i"]);
    assert_eq!(
        with_scores(&mut c, &["ZUNION", "2", d2, d, "WITHSCORES"]),
        pairs(&["i", "0"])
    );
    assert_eq!(
        with_scores(
            &mut c,
            &["ZINTER", "2", d2, d, "WEIGHTS", "0", "1", "WITHSCORES"]
        ),
        pairs(&["i", "-inf"])
    );
    // The STORE forms replace the destination (any type) or delete it.
    q::<String>(&mut c, &["SET", d, "v"]);
    assert_eq!(q::<i64>(&mut c, &["ZUNIONSTORE", d, "2", a, b]), 4);
    assert_eq!(
        with_scores(&mut c, &["ZRANGE", d, "0", "-1", "WITHSCORES"]),
        pairs(&["x", "1", "y", "12", "z", "23", "w", "30"])
    );
    assert_eq!(
        q::<i64>(
            &mut c,
            &["ZINTERSTORE", d, "3", a, b, st, "AGGREGATE", "MAX"]
        ),
        1
    );
    assert_eq!(
        with_scores(&mut c, &["ZRANGE", d, "0", "-1", "WITHSCORES"]),
        pairs(&["z", "20"])
    );
    assert_eq!(q::<i64>(&mut c, &["ZDIFFSTORE", d, "2", a, a]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", d]), 0);
    // A destination among the sources.
    assert_eq!(q::<i64>(&mut c, &["ZUNIONSTORE", a, "2", a, b]), 4);
    assert_eq!(q::<String>(&mut c, &["ZSCORE", a, "z"]), "23");
    assert_eq!(q::<i64>(&mut c, &["ZINTERCARD", "2", a, b]), 3);
    assert_eq!(
        q::<i64>(&mut c, &["ZINTERCARD", "2", a, b, "LIMIT", "2"]),
        2
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZINTERCARD", "2", a, b, "LIMIT", "0"]),
        3
    );
    assert_eq!(q::<i64>(&mut c, &["ZINTERCARD", "2", a, st]), 2);
    // Errors in Redis's order: the keys' types before the options.
    q::<String>(&mut c, &["SET", "str", "v"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZUNION", "0", a],
            "ERR at least 1 input key is needed for 'zunion' command",
        ),
        (
            &["ZUNIONSTORE", d, "0", a],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (
            &["ZINTERCARD", "0", a],
            "ERR at least 1 input key is needed for 'zintercard' command",
        ),
        (
            &["ZUNION", "x", a],
            "ERR value is not an integer or out of range",
        ),
        (&["ZUNION", "3", a, b], "ERR syntax error"),
        (&["ZUNION", "1", "str", "WEIGHTS", "x"], WRONGTYPE),
        (
            &["ZUNION", "1", a, "WEIGHTS", "x"],
            "ERR weight value is not a float",
        ),
        (
            &["ZUNION", "1", a, "WEIGHTS", "nan"],
            "ERR weight value is not a float",
        ),
        (&["ZUNION", "2", a, b, "WEIGHTS", "1"], "ERR syntax error"),
        (&["ZUNION", "1", a, "AGGREGATE", "avg"], "ERR syntax error"),
        (&["ZUNION", "1", a, "AGGREGATE"], "ERR syntax error"),
        (
            &["ZUNIONSTORE", d, "1", a, "WITHSCORES"],
            "ERR syntax error",
        ),
        (&["ZDIFF", "1", a, "WEIGHTS", "1"], "ERR syntax error"),
        (&["ZDIFF", "1", a, "AGGREGATE", "SUM"], "ERR syntax error"),
        (
            &["ZINTERCARD", "1", a, "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        ),
        (
            &["ZINTERCARD", "1", a, "LIMIT", "x"],
            "ERR LIMIT can't be negative",
        ),
        (&["ZINTERCARD", "1", a, "WITHSCORES"], "ERR syntax error"),
        (&["ZINTERCARD", "2", a], "ERR syntax error"),
        (&["ZINTERSTORE", d, "2", a, "str"], WRONGTYPE),
    ];
    for (args, want) in cases {
        assert_eq!(e(&mut c, args), *want, "{args:?}");
    }
    // COMMAND GETKEYS knows the numkeys forms.
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "dst",
                "2",
                "k1",
                "k2",
                "WEIGHTS",
                "1",
                "2"
            ]
        ),
        strs(&["dst", "k1", "k2"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["COMMAND", "GETKEYS", "ZINTER", "2", "k1", "k2"]),
        strs(&["k1", "k2"])
    );
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["COMMAND", "GETKEYS", "ZMPOP", "2", "k1", "k2", "MIN"]
        ),
        strs(&["k1", "k2"])
    );
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["COMMAND", "GETKEYS", "ZRANGESTORE", "dst", "src", "0", "-1"]
        ),
        strs(&["dst", "src"])
    );
}

#[test]
fn zmpop_and_zrangestore_answer_as_redis_across_cores() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 2, "mp:");
    let (x, y) = (here[0].as_str(), there[0].as_str());
    q::<i64>(&mut c, &["ZADD", y, "1", "a", "2", "b", "3", "c"]);
    let v: (String, Vec<(String, String)>) = q(&mut c, &["ZMPOP", "2", x, y, "MIN"]);
    assert_eq!(v, (y.to_string(), pairs(&["a", "1"])));
    let v: (String, Vec<(String, String)>) = q(&mut c, &["ZMPOP", "2", x, y, "max", "COUNT", "5"]);
    assert_eq!(v, (y.to_string(), pairs(&["c", "3", "b", "2"])));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", y]), 0);
    assert_eq!(
        redis::cmd("ZMPOP")
            .arg(2)
            .arg(x)
            .arg(y)
            .arg("MIN")
            .query::<Value>(&mut c),
        Ok(Value::Nil)
    );
    q::<String>(&mut c, &["SET", here[1].as_str(), "v"]);
    q::<i64>(&mut c, &["ZADD", y, "1", "a"]);
    assert_eq!(
        e(&mut c, &["ZMPOP", "2", here[1].as_str(), y, "MIN"]),
        WRONGTYPE
    );
    let v: (String, Vec<(String, String)>) = q(&mut c, &["ZMPOP", "2", y, here[1].as_str(), "MIN"]);
    assert_eq!(v.0, y);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZMPOP", "0", x, "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["ZMPOP", "x", x, "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (&["ZMPOP", "3", x, "MIN"], "ERR syntax error"),
        (&["ZMPOP", "1", x, "MIDDLE"], "ERR syntax error"),
        (
            &["ZMPOP", "1", x, "MIN", "COUNT", "0"],
            "ERR count should be greater than 0",
        ),
        (
            &["ZMPOP", "1", x, "MIN", "COUNT", "x"],
            "ERR count should be greater than 0",
        ),
        (&["ZMPOP", "1", x, "MIN", "COUNT"], "ERR syntax error"),
        (
            &["ZMPOP", "1", x, "MIN", "COUNT", "1", "COUNT", "1"],
            "ERR syntax error",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(e(&mut c, args), *want, "{args:?}");
    }
    // ZRANGESTORE from one core to the other.
    q::<i64>(&mut c, &["ZADD", x, "1", "a", "2", "b", "3", "c"]);
    assert_eq!(q::<i64>(&mut c, &["ZRANGESTORE", y, x, "0", "1", "REV"]), 2);
    assert_eq!(
        with_scores(&mut c, &["ZRANGE", y, "0", "-1", "WITHSCORES"]),
        pairs(&["b", "2", "c", "3"])
    );
    assert_eq!(
        q::<i64>(&mut c, &["ZRANGESTORE", x, y, "(2", "+inf", "BYSCORE"]),
        1
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGE", x, "0", "-1"]),
        strs(&["c"])
    );
}

#[test]
fn zunionstore_across_cores_is_never_seen_half_done() {
    // Two sets on two cores always hold the same score (a transaction
    // writes both); ZUNIONSTORE sums them into a third. A store that read
    // one before a write and the other after would leave an odd sum; a
    // transaction reading the sources and the sum sees them agree.
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 2, "hd:");
    let (s1, s2, sum) = (here[0].clone(), there[0].clone(), there[1].clone());
    q::<i64>(&mut c, &["ZADD", &s1, "0", "m"]);
    q::<i64>(&mut c, &["ZADD", &s2, "0", "m"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (mut con, s1, s2, stop) = (s.client(), s1.clone(), s2.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut k = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                k += 1;
                let ks = k.to_string();
                redis::pipe()
                    .atomic()
                    .cmd("ZADD")
                    .arg(&s1)
                    .arg(&ks)
                    .arg("m")
                    .cmd("ZADD")
                    .arg(&s2)
                    .arg(&ks)
                    .arg("m")
                    .query::<()>(&mut con)
                    .expect("MULTI");
            }
            k
        })
    };
    let storer = {
        let (mut con, s1, s2, sum, stop) = (
            s.client(),
            s1.clone(),
            s2.clone(),
            sum.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got: i64 = q(&mut con, &["ZUNIONSTORE", &sum, "2", &s1, &s2]);
                assert_eq!(got, 1);
                let both: Vec<(String, String)> =
                    q(&mut con, &["ZINTER", "2", &s1, &s2, "WITHSCORES"]);
                let v: f64 = both[0].1.parse().expect("a score");
                assert_eq!(v % 2.0, 0.0, "ZINTER read the sources apart");
                n += 1;
            }
            n
        })
    };
    for _ in 0..300 {
        let (a, b, t): (f64, f64, Option<f64>) = redis::pipe()
            .atomic()
            .cmd("ZSCORE")
            .arg(&s1)
            .arg("m")
            .cmd("ZSCORE")
            .arg(&s2)
            .arg("m")
            .cmd("ZSCORE")
            .arg(&sum)
            .arg("m")
            .query(&mut c)
            .expect("MULTI");
        assert_eq!(a, b, "the transaction saw the sources apart");
        if let Some(t) = t {
            assert_eq!(t % 2.0, 0.0, "ZUNIONSTORE read its sources apart: {t}");
            assert!(t <= a + b, "{t} > {a} + {b}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    let stores = storer.join().expect("storer");
    assert!(
        writes > 50 && stores > 50,
        "{writes} writes, {stores} stores"
    );
}

#[test]
fn a_model_of_zsets_agrees_while_shards_move() {
    let s = Server::start(2, &["--zset-max-listpack-entries", "6"]);
    let mut c = s.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut con = s.client();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(5);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _: redis::RedisResult<Value> = match rng.gen_range(0..3) {
                    0 => redis::cmd("STAIRKV")
                        .arg("MIGRATE")
                        .arg(rng.gen_range(0..4))
                        .arg(rng.gen_range(0..2))
                        .query(&mut con),
                    1 => redis::cmd("STAIRKV").arg("SPLIT").query(&mut con),
                    _ => redis::cmd("STAIRKV").arg("MERGE").query(&mut con),
                };
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let mut rng = StdRng::seed_from_u64(23);
    let mut model: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let sorted = |z: &HashMap<String, i64>| {
        let mut v: Vec<(String, i64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        v
    };
    for step in 0..6000 {
        let key = format!("zset:{}", rng.gen_range(0..12));
        let z = model.entry(key.clone()).or_default();
        let m = format!("m{}", rng.gen_range(0..20));
        let sc = rng.gen_range(-5i64..5);
        match rng.gen_range(0..8) {
            0 | 1 => {
                let n: i64 = q(&mut c, &["ZADD", &key, &sc.to_string(), &m]);
                assert_eq!(n, i64::from(z.insert(m, sc).is_none()), "step {step}");
            }
            2 => {
                let got: String = q(&mut c, &["ZINCRBY", &key, &sc.to_string(), &m]);
                let v = z.entry(m).or_insert(0);
                *v += sc;
                assert_eq!(got, v.to_string(), "step {step}");
            }
            3 => {
                let n: i64 = q(&mut c, &["ZREM", &key, &m]);
                assert_eq!(n, i64::from(z.remove(&m).is_some()), "step {step}");
            }
            4 => {
                let got: Vec<(String, String)> = q(&mut c, &["ZPOPMIN", &key]);
                let want: Vec<(String, String)> = sorted(z)
                    .into_iter()
                    .take(1)
                    .map(|(m, s)| (m, s.to_string()))
                    .collect();
                for (m, _) in &want {
                    z.remove(m);
                }
                assert_eq!(got, want, "step {step}");
            }
            5 => {
                let got: Option<i64> = q(&mut c, &["ZRANK", &key, &m]);
                let want = sorted(z)
                    .iter()
                    .position(|(x, _)| *x == m)
                    .map(|i| i as i64);
                assert_eq!(got, want, "step {step}");
            }
            6 => {
                let got: Vec<String> = q(&mut c, &["ZRANGEBYSCORE", &key, "-2", "(3"]);
                let want: Vec<String> = sorted(z)
                    .into_iter()
                    .filter(|(_, s)| (-2..3).contains(s))
                    .map(|(m, _)| m)
                    .collect();
                assert_eq!(got, want, "step {step}");
            }
            _ => {
                let got: Vec<(String, String)> =
                    q(&mut c, &["ZRANGE", &key, "0", "-1", "WITHSCORES"]);
                let want: Vec<(String, String)> = sorted(z)
                    .into_iter()
                    .map(|(m, s)| (m, s.to_string()))
                    .collect();
                assert_eq!(got, want, "step {step}");
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mover.join().expect("mover");
    for (key, z) in &model {
        let got: Vec<(String, String)> = q(&mut c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]);
        let want: Vec<(String, String)> = sorted(z)
            .into_iter()
            .map(|(m, s)| (m, s.to_string()))
            .collect();
        assert_eq!(got, want, "{key}");
    }
}

/// A sorted set's members and scores, in order (empty for no key).
fn contents(c: &mut redis::Connection, key: &str) -> Vec<(String, String)> {
    with_scores(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

/// Every key of the given names and its contents.
fn snapshot(c: &mut redis::Connection, keys: &[&str]) -> Vec<(String, Vec<(String, String)>)> {
    keys.iter()
        .map(|k| (k.to_string(), contents(c, k)))
        .collect()
}

#[test]
fn persistence_keeps_every_zset_write() {
    let dir = common::TempDir::new("zsets-persist");
    let flags = dir.logged_always();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 4, "p:");
    let (small, big, dst, other) = (&here[0], &there[0], &there[1], &here[1]);
    let (pops, copy) = (&here[2], &there[2]);
    q::<i64>(
        &mut c,
        &["ZADD", small, "1", "a", "2", "b", "0.1", "c", "inf", "d"],
    );
    let mut add = redis::cmd("ZADD");
    add.arg(big.as_str());
    for i in 0..3000 {
        add.arg(i % 50).arg(format!("member:{i}"));
    }
    add.query::<i64>(&mut c).expect("ZADD big");
    // Each write below is logged as what it did (the scores it left, the
    // members it removed, the range it cut), not as the set.
    q::<i64>(&mut c, &["ZADD", small, "XX", "CH", "5", "a", "7", "nope"]);
    q::<i64>(&mut c, &["ZADD", small, "GT", "1", "b", "3", "c"]);
    q::<String>(&mut c, &["ZINCRBY", small, "0.2", "c"]);
    q::<String>(&mut c, &["ZADD", small, "INCR", "-1.5", "e"]);
    q::<i64>(&mut c, &["ZREM", small, "d", "zz"]);
    q::<String>(&mut c, &["ZINCRBY", big, "1000.5", "member:7"]);
    q::<i64>(&mut c, &["ZADD", big, "-1e20", "first", "1e20", "last"]);
    q::<i64>(&mut c, &["ZREM", big, "member:8", "member:9"]);
    q::<Vec<String>>(&mut c, &["ZPOPMIN", big, "3"]);
    q::<Vec<String>>(&mut c, &["ZPOPMAX", big]);
    q::<i64>(&mut c, &["ZREMRANGEBYRANK", big, "10", "19"]);
    q::<i64>(&mut c, &["ZREMRANGEBYSCORE", big, "(3", "4"]);
    // A lex range over members of different scores: which members it
    // covers is the encoding's affair, so the log names them.
    q::<i64>(&mut c, &["ZREMRANGEBYLEX", big, "[member:5", "(member:6"]);
    q::<i64>(
        &mut c,
        &["ZADD", other, "0", "aa", "0", "bb", "0", "cc", "0", "dd"],
    );
    q::<i64>(&mut c, &["ZREMRANGEBYLEX", other, "(aa", "[cc"]);
    q::<Value>(&mut c, &["ZMPOP", "2", "nokey", other, "MAX"]);
    q::<i64>(
        &mut c,
        &["ZUNIONSTORE", dst, "2", small, other, "WEIGHTS", "2", "1"],
    );
    q::<i64>(&mut c, &["ZINTERSTORE", copy, "2", small, big]);
    q::<i64>(&mut c, &["ZADD", pops, "1", "x"]);
    q::<Vec<String>>(&mut c, &["ZPOPMIN", pops]);
    q::<i64>(&mut c, &["ZRANGESTORE", pops, big, "0", "99"]);
    q::<i64>(&mut c, &["ZDIFFSTORE", "diffed", "2", big, pops]);
    q::<i64>(&mut c, &["EXPIRE", "diffed", "1000"]);
    q::<String>(&mut c, &["RENAME", "diffed", "renamed"]);
    q::<i64>(&mut c, &["COPY", small, "copied"]);
    let keys = [
        small.as_str(),
        big,
        dst,
        other,
        pops,
        copy,
        "renamed",
        "copied",
    ];
    let want = snapshot(&mut c, &keys);
    assert_eq!(
        want[0].1,
        pairs(&["e", "-1.5", "b", "2", "c", "3.2000000000000002", "a", "5"])
    );
    assert_eq!(want[3].1, pairs(&["aa", "0"]));
    assert_eq!(want[4].1.len(), 100);
    s.kill9();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    assert_eq!(snapshot(&mut c, &keys), want, "after the logs' replay");
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", big]), "btree");
    assert!(q::<i64>(&mut c, &["TTL", "renamed"]) > 900);
    // A snapshot (Redis's RDB encodings), loaded without the logs.
    assert_eq!(q::<String>(&mut c, &["SAVE"]), "OK");
    s.terminate();
    let s = Server::start(2, &["--dir", dir.arg(), "--appendonly", "no"]);
    let mut c = s.client();
    assert_eq!(snapshot(&mut c, &keys), want, "after the snapshot");
    assert!(q::<i64>(&mut c, &["TTL", "renamed"]) > 900);
    // DUMP and RESTORE carry a sorted set too.
    for k in [small.as_str(), big] {
        let payload: Vec<u8> = q(&mut c, &["DUMP", k]);
        let to = format!("{k}:restored");
        redis::cmd("RESTORE")
            .arg(&to)
            .arg(0)
            .arg(payload)
            .query::<String>(&mut c)
            .expect("RESTORE");
        assert_eq!(contents(&mut c, &to), contents(&mut c, k));
    }
}

/// Sorted sets whose payloads and files cover Redis's encodings: a small
/// one (integer, fractional and infinite scores, an integer member), a big
/// one, and one with a member past the packed limit.
fn fill_zsets(c: &mut redis::Connection) -> Vec<String> {
    q::<i64>(
        c,
        &[
            "ZADD", "small", "1", "a", "2.5", "b", "-3", "c", "100000", "d", "0", "77", "inf", "e",
            "0.1", "f",
        ],
    );
    let mut add = redis::cmd("ZADD");
    add.arg("big");
    for i in 0..300 {
        add.arg(f64::from(i) / 7.0).arg(format!("member:{i}"));
    }
    add.query::<i64>(c).expect("ZADD big");
    q::<i64>(
        c,
        &["ZADD", "long", "-inf", &"L".repeat(100), "1e-300", "x"],
    );
    strs(&["small", "big", "long"])
}

#[test]
fn zsets_move_between_redis_server_and_stairkv_by_dump_and_restore() {
    let Some(redis) = redis_server::RedisServer::start() else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut theirs = redis.try_client().expect("a client of redis-server");
    let s = Server::start(2, &[]);
    let mut ours = s.client();
    let keys = fill_zsets(&mut theirs);
    for k in &keys {
        let want = contents(&mut theirs, k);
        // Theirs into ours...
        let payload: Vec<u8> = q(&mut theirs, &["DUMP", k]);
        redis::cmd("RESTORE")
            .arg(k)
            .arg(0)
            .arg(&payload)
            .query::<()>(&mut ours)
            .unwrap_or_else(|e| panic!("RESTORE of redis-server's {k}: {e}"));
        assert_eq!(contents(&mut ours, k), want, "{k}");
        // ...and ours back into theirs.
        let mine: Vec<u8> = q(&mut ours, &["DUMP", k]);
        if k == "small" {
            assert_eq!(
                mine, payload,
                "a small set's payload is redis-server's, byte for byte"
            );
        }
        redis::cmd("RESTORE")
            .arg(format!("{k}:back"))
            .arg(0)
            .arg(&mine)
            .query::<()>(&mut theirs)
            .unwrap_or_else(|e| panic!("redis-server's RESTORE of our {k}: {e}"));
        assert_eq!(contents(&mut theirs, &format!("{k}:back")), want, "{k}");
        assert_eq!(
            q::<String>(&mut theirs, &["OBJECT", "ENCODING", &format!("{k}:back")]),
            q::<String>(&mut theirs, &["OBJECT", "ENCODING", k]),
        );
    }
}

/// A redis-server with its snapshot in `dir`, on a free port.
fn redis_in(dir: &str) -> Option<(std::process::Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", dir, "--dbfilename", "dump.rdb", "--save", ""])
        .args(["--appendonly", "no", "--daemonize", "no"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let ok = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if ok.is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("redis-server did not start");
}

#[test]
fn rdb_files_with_zsets_move_between_redis_server_and_stairkv() {
    let theirs_dir = common::TempDir::new("zsets-rdb-theirs");
    let Some((mut child, port)) = redis_in(theirs_dir.arg()) else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("a client of redis-server");
    let keys = fill_zsets(&mut theirs);
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let want = snapshot(&mut theirs, &key_refs);
    q::<String>(&mut theirs, &["SAVE"]);
    let _ = child.kill();
    let _ = child.wait();
    // Their file, loaded here...
    let mut s = Server::start(2, &["--dir", theirs_dir.arg()]);
    let mut ours = s.client();
    assert_eq!(
        snapshot(&mut ours, &key_refs),
        want,
        "redis-server's dump.rdb"
    );
    assert_eq!(
        q::<String>(&mut ours, &["OBJECT", "ENCODING", "small"]),
        "listpack"
    );
    assert_eq!(
        q::<String>(&mut ours, &["OBJECT", "ENCODING", "big"]),
        "btree"
    );
    // ...and ours, loaded there.
    let ours_dir = common::TempDir::new("zsets-rdb-ours");
    config_set(&mut ours, "dir", ours_dir.arg());
    assert_eq!(q::<String>(&mut ours, &["SAVE"]), "OK");
    s.terminate();
    let (mut child, port) = redis_in(ours_dir.arg()).expect("redis-server");
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("a client of redis-server");
    assert_eq!(
        snapshot(&mut theirs, &key_refs),
        want,
        "our dump.rdb in redis-server"
    );
    assert_eq!(
        q::<String>(&mut theirs, &["OBJECT", "ENCODING", "small"]),
        "listpack"
    );
    assert_eq!(
        q::<String>(&mut theirs, &["OBJECT", "ENCODING", "big"]),
        "skiplist"
    );
    let _ = child.kill();
    let _ = child.wait();
}
