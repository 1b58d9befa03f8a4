mod common;

// Black-box tests of the string and generic-key commands, with Redis's exact
// replies and error texts. Every expectation here is what Redis 7 answers.

use common::Server;
use redis::{Connection, FromRedisValue, RedisError, Value};
use std::collections::{BTreeSet, HashSet};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
const OFFSET_RANGE: &str = "ERR offset is out of range";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const NO_SUCH_KEY: &str = "ERR no such key";
const NX_XX_GT_LT: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
const GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
const I64_MAX: &str = "9223372036854775807";
const I64_MIN: &str = "-9223372036854775808";

// ---------------------------------------------------------------------------
// helpers

fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

fn bcmd(args: &[&[u8]]) -> redis::Cmd {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

#[track_caller]
fn q<T: FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    match cmd(args).query(con) {
        Ok(v) => v,
        Err(e) => panic!("{args:?} failed: {e}"),
    }
}

#[track_caller]
fn v(con: &mut Connection, args: &[&str]) -> Value {
    q(con, args)
}

#[track_caller]
fn bq<T: FromRedisValue>(con: &mut Connection, args: &[&[u8]]) -> T {
    match bcmd(args).query(con) {
        Ok(v) => v,
        Err(e) => panic!("{args:?} failed: {e}"),
    }
}

/// "CODE detail", as the server sent it on the wire (minus the leading '-').
fn err_text(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => format!("(not a server error) {e}"),
    }
}

#[track_caller]
fn qerr(con: &mut Connection, args: &[&str]) -> String {
    match cmd(args).query::<Value>(con) {
        Ok(v) => panic!("{args:?}: expected an error reply, got {v:?}"),
        Err(e) => err_text(&e),
    }
}

#[track_caller]
fn assert_err(con: &mut Connection, args: &[&str], expected: &str) {
    assert_eq!(qerr(con, args), expected, "error reply to {args:?}");
}

#[track_caller]
fn assert_ok(con: &mut Connection, args: &[&str]) {
    assert_eq!(v(con, args), Value::Okay, "reply to {args:?}");
}

#[track_caller]
fn assert_reply(con: &mut Connection, args: &[&str], expected: Value) {
    assert_eq!(v(con, args), expected, "reply to {args:?}");
}

#[track_caller]
fn assert_int(con: &mut Connection, args: &[&str], expected: i64) {
    assert_eq!(v(con, args), Value::Int(expected), "reply to {args:?}");
}

#[track_caller]
fn assert_in(con: &mut Connection, args: &[&str], lo: i64, hi: i64) {
    let got = v(con, args);
    match got {
        Value::Int(n) if n >= lo && n <= hi => {}
        other => panic!("reply to {args:?}: expected an integer in {lo}..={hi}, got {other:?}"),
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn bulks(items: &[Option<&str>]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| match i {
                Some(s) => bulk(s),
                None => Value::Nil,
            })
            .collect(),
    )
}

fn status(s: &str) -> Value {
    Value::SimpleString(s.to_string())
}

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn unix_s() -> i64 {
    unix_ms() / 1000
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

#[track_caller]
fn keys_of(con: &mut Connection, pattern: &str) -> Vec<String> {
    let got: Vec<String> = q(con, &["KEYS", pattern]);
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(
        unique.len(),
        got.len(),
        "KEYS {pattern} repeated a key: {got:?}"
    );
    sorted(got)
}

fn strs(v: &[&str]) -> Vec<String> {
    sorted(v.iter().map(|s| s.to_string()).collect())
}

/// Runs SCAN from cursor 0 until the server answers cursor "0"; returns every
/// key returned (with repeats) and the number of calls.
#[track_caller]
fn scan_all(con: &mut Connection, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for calls in 1..=200_000usize {
        let mut c = redis::cmd("SCAN");
        c.arg(&cursor);
        for e in extra {
            c.arg(*e);
        }
        let (next, keys): (String, Vec<String>) = match c.query(con) {
            Ok(r) => r,
            Err(e) => panic!("SCAN {cursor} {extra:?} failed: {e}"),
        };
        assert!(
            next.bytes().all(|b| b.is_ascii_digit()) && !next.is_empty(),
            "SCAN cursor must be an unsigned decimal, got {next:?}"
        );
        seen.extend(keys);
        if next == "0" {
            return (seen, calls);
        }
        cursor = next;
    }
    panic!("SCAN {extra:?} never returned cursor 0");
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// ---------------------------------------------------------------------------
// strings: GET / SET

#[test]
fn get_and_set_basics() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["GET", "missing"], Value::Nil);
    assert_ok(&mut con, &["SET", "k", "hello"]);
    assert_reply(&mut con, &["GET", "k"], bulk("hello"));
    assert_ok(&mut con, &["SET", "k", "world"]);
    assert_reply(&mut con, &["GET", "k"], bulk("world"));
    // an empty value is a value, not nil
    assert_ok(&mut con, &["SET", "empty", ""]);
    assert_reply(&mut con, &["GET", "empty"], bulk(""));
    assert_int(&mut con, &["EXISTS", "empty"], 1);
    assert_int(&mut con, &["STRLEN", "empty"], 0);
    // an empty key is a key
    assert_ok(&mut con, &["SET", "", "empty-key"]);
    assert_reply(&mut con, &["GET", ""], bulk("empty-key"));
    // command names and option words are case-insensitive
    assert_ok(&mut con, &["set", "lower", "1", "ex", "100", "nx"]);
    assert_reply(&mut con, &["gEt", "lower"], bulk("1"));
    assert_in(&mut con, &["TTL", "lower"], 99, 100);
    // numbers are stored as the text given
    assert_ok(&mut con, &["SET", "n", "12345"]);
    assert_reply(&mut con, &["GET", "n"], bulk("12345"));
    assert_ok(&mut con, &["SET", "z", "007"]);
    assert_reply(&mut con, &["GET", "z"], bulk("007"));
}

#[test]
fn set_nx_and_xx() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["SET", "k", "1", "XX"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_ok(&mut con, &["SET", "k", "1", "NX"]);
    assert_reply(&mut con, &["SET", "k", "2", "NX"], Value::Nil);
    assert_reply(&mut con, &["GET", "k"], bulk("1"));
    assert_ok(&mut con, &["SET", "k", "3", "XX"]);
    assert_reply(&mut con, &["GET", "k"], bulk("3"));
    assert_ok(&mut con, &["SET", "k", "4", "XX", "EX", "100"]);
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_reply(&mut con, &["SET", "k", "5", "NX", "EX", "500"], Value::Nil);
    assert_reply(&mut con, &["GET", "k"], bulk("4"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_reply(
        &mut con,
        &["SET", "other", "5", "EX", "100", "XX"],
        Value::Nil,
    );
    assert_int(&mut con, &["EXISTS", "other"], 0);
}

#[test]
fn set_get_option() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    // GET returns the old value (nil when there was none) and still sets
    assert_reply(&mut con, &["SET", "k", "v1", "GET"], Value::Nil);
    assert_reply(&mut con, &["GET", "k"], bulk("v1"));
    assert_reply(&mut con, &["SET", "k", "v2", "GET"], bulk("v1"));
    assert_reply(&mut con, &["GET", "k"], bulk("v2"));
    // NX GET (allowed since Redis 7.0): old value returned, nothing set
    assert_reply(&mut con, &["SET", "k", "v3", "NX", "GET"], bulk("v2"));
    assert_reply(&mut con, &["GET", "k"], bulk("v2"));
    assert_reply(&mut con, &["SET", "new", "n1", "NX", "GET"], Value::Nil);
    assert_reply(&mut con, &["GET", "new"], bulk("n1"));
    // XX GET
    assert_reply(&mut con, &["SET", "absent", "x", "XX", "GET"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "absent"], 0);
    assert_reply(&mut con, &["SET", "k", "v4", "GET", "XX"], bulk("v2"));
    assert_reply(&mut con, &["GET", "k"], bulk("v4"));
    // GET with an expiry
    assert_reply(
        &mut con,
        &["SET", "k", "v5", "GET", "EX", "100"],
        bulk("v4"),
    );
    assert_reply(&mut con, &["GET", "k"], bulk("v5"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_reply(&mut con, &["SET", "k", "v6", "KEEPTTL", "get"], bulk("v5"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
}

#[test]
fn set_expire_options() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v", "EX", "100"]);
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);

    assert_ok(&mut con, &["SET", "k", "v", "PX", "100000"]);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);
    assert_in(&mut con, &["TTL", "k"], 99, 100);

    let at = unix_s() + 1000;
    assert_ok(&mut con, &["SET", "k", "v", "EXAT", &at.to_string()]);
    assert_int(&mut con, &["EXPIRETIME", "k"], at);
    assert_int(&mut con, &["PEXPIRETIME", "k"], at * 1000);
    assert_in(&mut con, &["TTL", "k"], 998, 1000);

    let pat = unix_ms() + 100_000;
    assert_ok(&mut con, &["SET", "k", "v", "PXAT", &pat.to_string()]);
    assert_int(&mut con, &["PEXPIRETIME", "k"], pat);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);

    // lower-case option words
    assert_ok(&mut con, &["SET", "k", "v", "px", "100000"]);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);
    assert_ok(&mut con, &["SET", "k", "v", "exat", &at.to_string()]);
    assert_int(&mut con, &["EXPIRETIME", "k"], at);

    // a plain SET drops the TTL
    assert_ok(&mut con, &["SET", "k", "v"]);
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
}

#[test]
fn set_keepttl() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "a", "EX", "100"]);
    assert_ok(&mut con, &["SET", "k", "b", "KEEPTTL"]);
    assert_reply(&mut con, &["GET", "k"], bulk("b"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_ok(&mut con, &["SET", "k", "c", "XX", "KEEPTTL"]);
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_ok(&mut con, &["SET", "k", "d"]);
    assert_int(&mut con, &["TTL", "k"], -1);
    // KEEPTTL on a key without TTL, and on a new key
    assert_ok(&mut con, &["SET", "k", "e", "KEEPTTL"]);
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_ok(&mut con, &["SET", "fresh", "f", "keepttl"]);
    assert_int(&mut con, &["TTL", "fresh"], -1);
    assert_reply(&mut con, &["GET", "fresh"], bulk("f"));
}

#[test]
fn set_with_expiry_in_the_past_deletes_the_key() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v", "EXAT", "1"]);
    assert_reply(&mut con, &["GET", "k"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_int(&mut con, &["TTL", "k"], -2);

    assert_ok(&mut con, &["SET", "k", "old"]);
    assert_ok(&mut con, &["SET", "k", "new", "PXAT", "1"]);
    assert_reply(&mut con, &["GET", "k"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "k"], 0);

    assert_ok(&mut con, &["SET", "k", "old"]);
    let past = (unix_s() - 10).to_string();
    assert_reply(
        &mut con,
        &["SET", "k", "new", "EXAT", &past, "GET"],
        bulk("old"),
    );
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_reply(&mut con, &["MGET", "k"], bulks(&[None]));

    let past_ms = (unix_ms() - 10_000).to_string();
    assert_ok(&mut con, &["SET", "k2", "v", "PXAT", &past_ms]);
    assert_int(&mut con, &["EXISTS", "k2"], 0);
    assert_int(&mut con, &["STRLEN", "k2"], 0);
}

#[test]
fn set_syntax_and_expire_errors() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "orig"]);
    let far_s = (unix_s() + 1000).to_string();
    let far_ms = (unix_ms() + 1_000_000).to_string();
    let syntax: Vec<Vec<&str>> = vec![
        vec!["SET", "k", "v", "NX", "XX"],
        vec!["SET", "k", "v", "XX", "NX"],
        vec!["SET", "k", "v", "EX", "10", "PX", "100"],
        vec!["SET", "k", "v", "PX", "100", "EX", "10"],
        vec!["SET", "k", "v", "EX", "10", "EXAT", &far_s],
        vec!["SET", "k", "v", "PXAT", &far_ms, "EXAT", &far_s],
        vec!["SET", "k", "v", "PX", "100", "PXAT", &far_ms],
        vec!["SET", "k", "v", "EX", "10", "KEEPTTL"],
        vec!["SET", "k", "v", "KEEPTTL", "EX", "10"],
        vec!["SET", "k", "v", "KEEPTTL", "PXAT", &far_ms],
        vec!["SET", "k", "v", "EX"],
        vec!["SET", "k", "v", "PX"],
        vec!["SET", "k", "v", "EXAT"],
        vec!["SET", "k", "v", "PXAT"],
        vec!["SET", "k", "v", "NX", "EX"],
        vec!["SET", "k", "v", "FOO"],
        vec!["SET", "k", "v", "PERSIST"],
        vec!["SET", "k", "v", "EX", "10", "FOO"],
        vec!["SET", "k", "v", "NX", "GET", "XX"],
        vec!["SET", "k", "v", "GET", "10"],
        vec!["SET", "k", "v", "v2"],
        // every option is parsed before the expire value is checked
        vec!["SET", "k", "v", "EX", "0", "FOO"],
        vec!["SET", "k", "v", "EX", "abc", "NX", "XX"],
        vec!["SET", "k", "v", "PX", "-5", "KEEPTTL"],
    ];
    for args in &syntax {
        assert_err(&mut con, args, SYNTAX);
    }
    for bad in ["abc", "1.5", "", "10s", " 10", "99999999999999999999"] {
        assert_err(&mut con, &["SET", "k", "v", "EX", bad], NOT_INT);
        assert_err(&mut con, &["SET", "k", "v", "PXAT", bad], NOT_INT);
    }
    let invalid = "ERR invalid expire time in 'set' command";
    for (opt, val) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("PX", "-100"),
        ("EXAT", "0"),
        ("EXAT", "-1"),
        ("PXAT", "0"),
        ("PXAT", "-1"),
        ("EX", I64_MAX),
        ("EX", "9223372036854776"),
        ("EXAT", I64_MAX),
        ("PX", I64_MAX),
        ("PX", "9223372036854775000"),
        ("EX", I64_MIN),
    ] {
        assert_err(&mut con, &["SET", "k", "v", opt, val], invalid);
        assert_err(&mut con, &["SET", "k", "v", "NX", opt, val, "GET"], invalid);
    }
    // nothing above changed the key
    assert_reply(&mut con, &["GET", "k"], bulk("orig"));
    assert_int(&mut con, &["TTL", "k"], -1);
}

#[test]
fn set_accepts_repeated_compatible_options() {
    // Redis's parser only rejects conflicting options; repeating one is fine
    // and for EX/PX the last value wins.
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "a", "NX", "NX"]);
    assert_ok(&mut con, &["SET", "k", "b", "XX", "XX"]);
    assert_reply(&mut con, &["SET", "k", "c", "GET", "GET"], bulk("b"));
    assert_ok(&mut con, &["SET", "k", "d", "EX", "10", "EX", "1000"]);
    assert_in(&mut con, &["TTL", "k"], 999, 1000);
    assert_ok(&mut con, &["SET", "k", "e", "KEEPTTL", "KEEPTTL"]);
    assert_in(&mut con, &["TTL", "k"], 999, 1000);
    assert_ok(&mut con, &["SET", "k", "f", "PX", "5000", "PX", "100000"]);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);
    assert_reply(&mut con, &["GET", "k"], bulk("f"));
}

#[test]
fn setnx_setex_psetex() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["SETNX", "k", "v"], 1);
    assert_int(&mut con, &["SETNX", "k", "w"], 0);
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
    assert_int(&mut con, &["TTL", "k"], -1);

    assert_ok(&mut con, &["SETEX", "k", "100", "x"]);
    assert_reply(&mut con, &["GET", "k"], bulk("x"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_ok(&mut con, &["SETEX", "k", "1000", "y"]);
    assert_in(&mut con, &["TTL", "k"], 999, 1000);
    assert_reply(&mut con, &["GET", "k"], bulk("y"));

    assert_ok(&mut con, &["PSETEX", "p", "100000", "z"]);
    assert_reply(&mut con, &["GET", "p"], bulk("z"));
    assert_in(&mut con, &["PTTL", "p"], 99_000, 100_000);

    for n in ["0", "-1", "-100", I64_MIN, I64_MAX, "9223372036854776"] {
        assert_err(
            &mut con,
            &["SETEX", "k", n, "bad"],
            "ERR invalid expire time in 'setex' command",
        );
    }
    for n in ["0", "-1", "-100", I64_MIN, I64_MAX, "9223372036854775000"] {
        assert_err(
            &mut con,
            &["PSETEX", "p", n, "bad"],
            "ERR invalid expire time in 'psetex' command",
        );
    }
    assert_err(&mut con, &["SETEX", "k", "abc", "bad"], NOT_INT);
    assert_err(&mut con, &["SETEX", "k", "1.5", "bad"], NOT_INT);
    assert_err(&mut con, &["PSETEX", "p", "abc", "bad"], NOT_INT);
    assert_reply(&mut con, &["GET", "k"], bulk("y"));
    assert_reply(&mut con, &["GET", "p"], bulk("z"));
    // SETNX on a key with a TTL does not touch it
    assert_int(&mut con, &["SETNX", "p", "zz"], 0);
    assert_in(&mut con, &["PTTL", "p"], 99_000, 100_000);
}

#[test]
fn getset_and_getdel() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["GETSET", "k", "v"], Value::Nil);
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
    assert_reply(&mut con, &["GETSET", "k", "w"], bulk("v"));
    assert_reply(&mut con, &["GET", "k"], bulk("w"));
    // GETSET drops the TTL
    assert_ok(&mut con, &["SET", "t", "1", "EX", "100"]);
    assert_reply(&mut con, &["GETSET", "t", "2"], bulk("1"));
    assert_int(&mut con, &["TTL", "t"], -1);

    assert_reply(&mut con, &["GETDEL", "k"], bulk("w"));
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_reply(&mut con, &["GETDEL", "k"], Value::Nil);
    assert_reply(&mut con, &["GETDEL", "missing"], Value::Nil);
    assert_ok(&mut con, &["SET", "t", "3", "EX", "100"]);
    assert_reply(&mut con, &["GETDEL", "t"], bulk("3"));
    assert_int(&mut con, &["TTL", "t"], -2);
    assert_int(&mut con, &["DBSIZE"], 0);
}

#[test]
fn getex_options() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["GETEX", "missing"], Value::Nil);
    assert_reply(&mut con, &["GETEX", "missing", "EX", "100"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "missing"], 0);

    assert_ok(&mut con, &["SET", "k", "v", "EX", "100"]);
    // no option: value returned, TTL untouched
    assert_reply(&mut con, &["GETEX", "k"], bulk("v"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_reply(&mut con, &["GETEX", "k", "PERSIST"], bulk("v"));
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_reply(&mut con, &["GETEX", "k", "EX", "200"], bulk("v"));
    assert_in(&mut con, &["TTL", "k"], 199, 200);
    assert_reply(&mut con, &["GETEX", "k", "PX", "300000"], bulk("v"));
    assert_in(&mut con, &["PTTL", "k"], 299_000, 300_000);
    let at = unix_s() + 500;
    assert_reply(
        &mut con,
        &["GETEX", "k", "EXAT", &at.to_string()],
        bulk("v"),
    );
    assert_int(&mut con, &["EXPIRETIME", "k"], at);
    let pat = unix_ms() + 400_000;
    assert_reply(
        &mut con,
        &["GETEX", "k", "PXAT", &pat.to_string()],
        bulk("v"),
    );
    assert_int(&mut con, &["PEXPIRETIME", "k"], pat);
    assert_reply(&mut con, &["getex", "k", "persist"], bulk("v"));
    assert_int(&mut con, &["PEXPIRETIME", "k"], -1);
    // PERSIST on a key without TTL is fine
    assert_reply(&mut con, &["GETEX", "k", "PERSIST"], bulk("v"));
    assert_int(&mut con, &["TTL", "k"], -1);
    // repeating PERSIST is accepted, as Redis does
    assert_reply(&mut con, &["GETEX", "k", "PERSIST", "PERSIST"], bulk("v"));

    // absolute times in the past: value returned, key deleted
    assert_reply(&mut con, &["GETEX", "k", "EXAT", "1"], bulk("v"));
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_ok(&mut con, &["SET", "k", "w"]);
    let past = (unix_ms() - 5000).to_string();
    assert_reply(&mut con, &["GETEX", "k", "PXAT", &past], bulk("w"));
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_reply(&mut con, &["GET", "k"], Value::Nil);
}

#[test]
fn getex_errors() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v", "EX", "100"]);
    let invalid = "ERR invalid expire time in 'getex' command";
    for (opt, val) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("PX", "-1"),
        ("EXAT", "0"),
        ("EXAT", "-10"),
        ("PXAT", "0"),
        ("PXAT", "-1"),
        ("EX", I64_MAX),
        ("PX", I64_MAX),
        ("EXAT", I64_MAX),
    ] {
        assert_err(&mut con, &["GETEX", "k", opt, val], invalid);
    }
    for bad in ["abc", "1.5", ""] {
        assert_err(&mut con, &["GETEX", "k", "EX", bad], NOT_INT);
        assert_err(&mut con, &["GETEX", "k", "PXAT", bad], NOT_INT);
    }
    let far = (unix_s() + 1000).to_string();
    for args in [
        vec!["GETEX", "k", "EX", "10", "PX", "10"],
        vec!["GETEX", "k", "PX", "10", "EX", "10"],
        vec!["GETEX", "k", "EX", "10", "EXAT", &far],
        vec!["GETEX", "k", "PERSIST", "EX", "10"],
        vec!["GETEX", "k", "EX", "10", "PERSIST"],
        vec!["GETEX", "k", "PXAT", "99999999999999", "PERSIST"],
        vec!["GETEX", "k", "NX"],
        vec!["GETEX", "k", "XX"],
        vec!["GETEX", "k", "KEEPTTL"],
        vec!["GETEX", "k", "GET"],
        vec!["GETEX", "k", "EX"],
        vec!["GETEX", "k", "PXAT"],
        vec!["GETEX", "k", "FOO"],
        vec!["GETEX", "k", "10"],
        vec!["GETEX", "missing", "FOO"],
        vec!["GETEX", "missing", "EX", "10", "PX", "10"],
    ] {
        assert_err(&mut con, &args, SYNTAX);
    }
    // nothing above touched the key
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    // Redis checks the expire value only when the key exists
    assert_reply(&mut con, &["GETEX", "missing", "EX", "0"], Value::Nil);
    assert_reply(&mut con, &["GETEX", "missing", "PX", "abc"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "missing"], 0);
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_reply(
        &mut con,
        &["MGET", "a", "b", "missing", "c", "a"],
        bulks(&[Some("1"), Some("2"), None, Some("3"), Some("1")]),
    );
    assert_reply(&mut con, &["MGET", "nope"], bulks(&[None]));
    // a repeated key: the last value wins
    assert_ok(&mut con, &["MSET", "a", "10", "a", "20"]);
    assert_reply(&mut con, &["GET", "a"], bulk("20"));
    // MSET drops TTLs
    assert_ok(&mut con, &["SET", "t", "x", "EX", "100"]);
    assert_ok(&mut con, &["MSET", "t", "y"]);
    assert_int(&mut con, &["TTL", "t"], -1);

    assert_err(&mut con, &["MSET", "a", "1", "b"], &arity("mset"));
    assert_err(&mut con, &["MSET", "a"], &arity("mset"));
    assert_err(&mut con, &["MSET"], &arity("mset"));
    assert_reply(
        &mut con,
        &["MGET", "a", "b"],
        bulks(&[Some("20"), Some("2")]),
    );

    assert_int(&mut con, &["MSETNX", "x", "1", "y", "2"], 1);
    assert_reply(
        &mut con,
        &["MGET", "x", "y"],
        bulks(&[Some("1"), Some("2")]),
    );
    // any existing key: nothing is set
    assert_int(&mut con, &["MSETNX", "z", "3", "y", "9", "w", "4"], 0);
    assert_reply(
        &mut con,
        &["MGET", "z", "y", "w"],
        bulks(&[None, Some("2"), None]),
    );
    // a repeated new key: set in order, last wins
    assert_int(&mut con, &["MSETNX", "n", "1", "n", "2"], 1);
    assert_reply(&mut con, &["GET", "n"], bulk("2"));
    assert_err(&mut con, &["MSETNX", "p", "1", "q"], &arity("msetnx"));
    assert_err(&mut con, &["MSETNX", "p"], &arity("msetnx"));
    assert_int(&mut con, &["EXISTS", "p", "q"], 0);
}

// ---------------------------------------------------------------------------
// strings: counters

#[test]
fn incr_decr_family() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["INCR", "c"], 1);
    assert_int(&mut con, &["INCR", "c"], 2);
    assert_int(&mut con, &["INCRBY", "c", "10"], 12);
    assert_int(&mut con, &["DECR", "c"], 11);
    assert_int(&mut con, &["DECRBY", "c", "5"], 6);
    assert_int(&mut con, &["INCRBY", "c", "-10"], -4);
    assert_int(&mut con, &["DECRBY", "c", "-4"], 0);
    assert_reply(&mut con, &["GET", "c"], bulk("0"));
    assert_int(&mut con, &["INCRBY", "c", "0"], 0);
    assert_int(&mut con, &["INCRBY", "new1", "5"], 5);
    assert_int(&mut con, &["DECR", "new2"], -1);
    assert_int(&mut con, &["DECRBY", "new3", "3"], -3);
    assert_reply(&mut con, &["GET", "new3"], bulk("-3"));
    // counters work on values written by SET
    assert_ok(&mut con, &["SET", "s", "41"]);
    assert_int(&mut con, &["INCR", "s"], 42);
    assert_ok(&mut con, &["SET", "s", "-7"]);
    assert_int(&mut con, &["INCRBY", "s", "7"], 0);
    assert_ok(&mut con, &["SET", "s", "1000000000000"]);
    assert_int(&mut con, &["DECRBY", "s", "1"], 999_999_999_999);
    assert_int(&mut con, &["STRLEN", "s"], 12);
    assert_reply(&mut con, &["GET", "s"], bulk("999999999999"));
}

#[test]
fn incr_overflow_and_non_integers() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "max", I64_MAX]);
    assert_err(&mut con, &["INCR", "max"], OVERFLOW);
    assert_err(&mut con, &["INCRBY", "max", "1"], OVERFLOW);
    assert_err(&mut con, &["DECRBY", "max", "-1"], OVERFLOW);
    assert_reply(&mut con, &["GET", "max"], bulk(I64_MAX));
    assert_int(&mut con, &["DECR", "max"], i64::MAX - 1);

    assert_ok(&mut con, &["SET", "min", I64_MIN]);
    assert_err(&mut con, &["DECR", "min"], OVERFLOW);
    assert_err(&mut con, &["DECRBY", "min", "1"], OVERFLOW);
    assert_err(&mut con, &["INCRBY", "min", "-1"], OVERFLOW);
    assert_reply(&mut con, &["GET", "min"], bulk(I64_MIN));
    assert_int(&mut con, &["INCR", "min"], i64::MIN + 1);

    assert_ok(&mut con, &["SET", "z", "0"]);
    assert_err(
        &mut con,
        &["DECRBY", "z", I64_MIN],
        "ERR decrement would overflow",
    );
    assert_err(
        &mut con,
        &["DECRBY", "nokey", I64_MIN],
        "ERR decrement would overflow",
    );
    assert_int(&mut con, &["EXISTS", "nokey"], 0);
    assert_int(&mut con, &["INCRBY", "z", I64_MIN], i64::MIN);
    assert_ok(&mut con, &["SET", "z", "1"]);
    assert_err(&mut con, &["INCRBY", "z", I64_MAX], OVERFLOW);
    assert_reply(&mut con, &["GET", "z"], bulk("1"));

    // bad increments
    for bad in [
        "abc",
        "1.5",
        "",
        " 1",
        "1 ",
        "+1",
        "01",
        "-0",
        "1e3",
        "0x10",
        "9223372036854775808",
        "-9223372036854775809",
    ] {
        assert_err(&mut con, &["INCRBY", "z", bad], NOT_INT);
        assert_err(&mut con, &["DECRBY", "z", bad], NOT_INT);
    }
    assert_reply(&mut con, &["GET", "z"], bulk("1"));

    // values that are not integers as Redis reads them (string2ll)
    for bad in [
        "abc",
        "1.5",
        "",
        " 1",
        "1 ",
        "+1",
        "01",
        "-0",
        "1e3",
        "9223372036854775808",
        "1\r\n",
    ] {
        assert_ok(&mut con, &["SET", "s", bad]);
        assert_err(&mut con, &["INCR", "s"], NOT_INT);
        assert_err(&mut con, &["DECR", "s"], NOT_INT);
        assert_err(&mut con, &["INCRBY", "s", "1"], NOT_INT);
        assert_err(&mut con, &["DECRBY", "s", "1"], NOT_INT);
        assert_reply(&mut con, &["GET", "s"], bulk(bad));
    }
    assert_ok(&mut con, &["SET", "s", "0"]);
    assert_int(&mut con, &["INCR", "s"], 1);
}

#[test]
fn incrbyfloat() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    // the examples from the Redis documentation
    assert_ok(&mut con, &["SET", "f", "10.50"]);
    assert_reply(&mut con, &["INCRBYFLOAT", "f", "0.1"], bulk("10.6"));
    assert_reply(&mut con, &["INCRBYFLOAT", "f", "-5"], bulk("5.6"));
    assert_reply(&mut con, &["GET", "f"], bulk("5.6"));
    assert_ok(&mut con, &["SET", "g", "5.0e3"]);
    assert_reply(&mut con, &["INCRBYFLOAT", "g", "2.0e2"], bulk("5200"));
    assert_reply(&mut con, &["GET", "g"], bulk("5200"));
    // a missing key counts as 0
    assert_reply(&mut con, &["INCRBYFLOAT", "h", "5.0e3"], bulk("5000"));
    assert_reply(&mut con, &["GET", "h"], bulk("5000"));
    // integer values, integral results are printed without a fraction
    assert_ok(&mut con, &["SET", "i", "10"]);
    assert_reply(&mut con, &["INCRBYFLOAT", "i", "1.5"], bulk("11.5"));
    assert_reply(&mut con, &["INCRBYFLOAT", "i", "-11.5"], bulk("0"));
    assert_reply(&mut con, &["INCRBYFLOAT", "i", "3.0"], bulk("3"));
    assert_int(&mut con, &["INCR", "i"], 4);
    assert_reply(&mut con, &["INCRBYFLOAT", "i", "-10"], bulk("-6"));
    // Redis computes in long double and prints with 17 digits: 0.1 + 0.2 is 0.3
    assert_ok(&mut con, &["SET", "p", "0.1"]);
    assert_reply(&mut con, &["INCRBYFLOAT", "p", "0.2"], bulk("0.3"));
    // a float value is no integer
    assert_err(&mut con, &["INCR", "f"], NOT_INT);

    for bad in ["abc", "", " 1", "1 ", "nan", "1.5.5", "0x"] {
        assert_err(&mut con, &["INCRBYFLOAT", "f", bad], NOT_FLOAT);
    }
    assert_ok(&mut con, &["SET", "s", "abc"]);
    assert_err(&mut con, &["INCRBYFLOAT", "s", "1"], NOT_FLOAT);
    assert_ok(&mut con, &["SET", "s", " 1"]);
    assert_err(&mut con, &["INCRBYFLOAT", "s", "1"], NOT_FLOAT);
    assert_ok(&mut con, &["SET", "s", ""]);
    assert_err(&mut con, &["INCRBYFLOAT", "s", "1"], NOT_FLOAT);
    for inf in ["inf", "-inf", "+inf", "Infinity"] {
        assert_err(&mut con, &["INCRBYFLOAT", "f", inf], NAN_OR_INF);
        assert_err(&mut con, &["INCRBYFLOAT", "fresh", inf], NAN_OR_INF);
    }
    assert_int(&mut con, &["EXISTS", "fresh"], 0);
    assert_reply(&mut con, &["GET", "f"], bulk("5.6"));
}

#[test]
fn writes_keep_or_drop_the_ttl_like_redis() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "10", "EX", "100"]);
    for args in [
        vec!["INCR", "k"],
        vec!["DECR", "k"],
        vec!["INCRBY", "k", "5"],
        vec!["DECRBY", "k", "2"],
        vec!["INCRBYFLOAT", "k", "1.5"],
        vec!["APPEND", "k", "0"],
        vec!["SETRANGE", "k", "0", "7"],
        vec!["SET", "k", "x", "KEEPTTL"],
        vec!["GETEX", "k"],
        vec!["SETNX", "k", "y"],
        vec!["MSETNX", "k", "y"],
        vec!["SET", "k", "z", "NX"],
    ] {
        let _: Value = q(&mut con, &args);
        assert_in(&mut con, &["TTL", "k"], 95, 100);
    }
    assert_reply(&mut con, &["GET", "k"], bulk("x"));
    for args in [
        vec!["SET", "k", "y"],
        vec!["GETSET", "k", "y"],
        vec!["MSET", "k", "y"],
        vec!["SET", "k", "y", "XX"],
        vec!["SET", "k", "y", "GET"],
    ] {
        assert_ok(&mut con, &["SET", "k", "10", "EX", "100"]);
        let _: Value = q(&mut con, &args);
        assert_int(&mut con, &["TTL", "k"], -1);
        assert_reply(&mut con, &["GET", "k"], bulk("y"));
    }
}

// ---------------------------------------------------------------------------
// strings: APPEND, STRLEN, ranges

#[test]
fn append_and_strlen() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["STRLEN", "k"], 0);
    assert_int(&mut con, &["APPEND", "k", "Hello"], 5);
    assert_int(&mut con, &["APPEND", "k", " World"], 11);
    assert_reply(&mut con, &["GET", "k"], bulk("Hello World"));
    assert_int(&mut con, &["STRLEN", "k"], 11);
    assert_int(&mut con, &["APPEND", "k", ""], 11);
    assert_int(&mut con, &["APPEND", "empty", ""], 0);
    assert_int(&mut con, &["EXISTS", "empty"], 1);
    assert_reply(&mut con, &["GET", "empty"], bulk(""));
    // appending to a number keeps it a number-looking string
    assert_ok(&mut con, &["SET", "n", "10"]);
    assert_int(&mut con, &["APPEND", "n", "5"], 3);
    assert_int(&mut con, &["INCR", "n"], 106);
    assert_int(&mut con, &["STRLEN", "n"], 3);
    assert_ok(&mut con, &["SET", "n", "-12345"]);
    assert_int(&mut con, &["STRLEN", "n"], 6);
    assert_int(&mut con, &["INCR", "n"], -12344);
    assert_int(&mut con, &["STRLEN", "n"], 6);
}

#[test]
fn getrange_and_substr() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "This is a string"]);
    for name in ["GETRANGE", "SUBSTR"] {
        let cases: &[(&str, &str, &str)] = &[
            ("0", "3", "This"),
            ("-3", "-1", "ing"),
            ("0", "-1", "This is a string"),
            ("10", "100", "string"),
            ("0", "0", "T"),
            ("-1", "-1", "g"),
            ("15", "15", "g"),
            ("5", "3", ""),
            ("16", "20", ""),
            ("100", "200", ""),
            ("-100", "100", "This is a string"),
            ("-100", "3", "This"),
            ("-1", "-5", ""),
            ("3", "-14", ""),
            ("0", I64_MAX, "This is a string"),
            (I64_MIN, I64_MAX, "This is a string"),
        ];
        for (a, b, want) in cases {
            assert_reply(&mut con, &[name, "k", a, b], bulk(want));
        }
        // missing key: an empty string, never nil
        assert_reply(&mut con, &[name, "missing", "0", "-1"], bulk(""));
        assert_reply(&mut con, &[name, "missing", "0", "10"], bulk(""));
        assert_err(&mut con, &[name, "k", "a", "1"], NOT_INT);
        assert_err(&mut con, &[name, "k", "0", "1.5"], NOT_INT);
        assert_err(&mut con, &[name, "k", "0", "9223372036854775808"], NOT_INT);
    }
    assert_ok(&mut con, &["SET", "e", ""]);
    assert_reply(&mut con, &["GETRANGE", "e", "0", "-1"], bulk(""));
    assert_reply(&mut con, &["GETRANGE", "e", "0", "0"], bulk(""));
    // integers stored by SET/INCR are ranged as their text
    assert_ok(&mut con, &["SET", "n", "12345"]);
    assert_reply(&mut con, &["GETRANGE", "n", "1", "3"], bulk("234"));
    assert_int(&mut con, &["INCR", "n"], 12346);
    assert_reply(&mut con, &["GETRANGE", "n", "-2", "-1"], bulk("46"));
}

#[test]
fn setrange() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "Hello World"]);
    assert_int(&mut con, &["SETRANGE", "k", "6", "Redis"], 11);
    assert_reply(&mut con, &["GET", "k"], bulk("Hello Redis"));
    assert_int(&mut con, &["SETRANGE", "k", "0", "J"], 11);
    assert_reply(&mut con, &["GET", "k"], bulk("Jello Redis"));
    // growing, with zero padding
    assert_int(&mut con, &["SETRANGE", "k", "9", "dish!"], 14);
    assert_reply(&mut con, &["GET", "k"], bulk("Jello Reddish!"));
    assert_int(&mut con, &["SETRANGE", "k", "16", "x"], 17);
    assert_reply(&mut con, &["GET", "k"], bulk("Jello Reddish!\0\0x"));
    // a missing key is zero padded from the start
    assert_int(&mut con, &["SETRANGE", "m", "5", "x"], 6);
    assert_reply(&mut con, &["GET", "m"], bulk("\0\0\0\0\0x"));
    assert_int(&mut con, &["SETRANGE", "m0", "0", "abc"], 3);
    assert_reply(&mut con, &["GET", "m0"], bulk("abc"));
    // an empty value: current length, no key created
    assert_int(&mut con, &["SETRANGE", "k", "0", ""], 17);
    assert_int(&mut con, &["SETRANGE", "k", "100", ""], 17);
    assert_int(&mut con, &["STRLEN", "k"], 17);
    assert_int(&mut con, &["SETRANGE", "none", "0", ""], 0);
    assert_int(&mut con, &["SETRANGE", "none", "100", ""], 0);
    assert_int(&mut con, &["EXISTS", "none"], 0);
    // integer values are overwritten as text
    assert_ok(&mut con, &["SET", "n", "12345"]);
    assert_int(&mut con, &["SETRANGE", "n", "1", "9"], 5);
    assert_reply(&mut con, &["GET", "n"], bulk("19345"));
    assert_int(&mut con, &["INCR", "n"], 19346);
    // errors
    assert_err(&mut con, &["SETRANGE", "k", "-1", "x"], OFFSET_RANGE);
    assert_err(&mut con, &["SETRANGE", "none", "-1", "x"], OFFSET_RANGE);
    assert_err(&mut con, &["SETRANGE", "k", I64_MIN, "x"], OFFSET_RANGE);
    assert_err(&mut con, &["SETRANGE", "k", "abc", "x"], NOT_INT);
    assert_err(&mut con, &["SETRANGE", "k", "1.5", "x"], NOT_INT);
    assert_err(&mut con, &["SETRANGE", "k", "536870912", "x"], TOO_BIG);
    assert_err(&mut con, &["SETRANGE", "k", "536870911", "xy"], TOO_BIG);
    assert_err(&mut con, &["SETRANGE", "none", "536870912", "x"], TOO_BIG);
    assert_err(&mut con, &["SETRANGE", "k", I64_MAX, "x"], TOO_BIG);
    assert_int(&mut con, &["EXISTS", "none"], 0);
    // an empty value never hits the size check
    assert_int(&mut con, &["SETRANGE", "k", "536870912", ""], 17);
    assert_int(&mut con, &["SETRANGE", "none", "536870912", ""], 0);
    assert_reply(&mut con, &["GET", "k"], bulk("Jello Reddish!\0\0x"));
}

#[test]
fn setrange_and_append_respect_proto_max_bulk_len() {
    let s = Server::start(1, &["--proto-max-bulk-len", "1048576"]);
    let mut con = s.client();
    assert_err(&mut con, &["SETRANGE", "k", "1048576", "x"], TOO_BIG);
    assert_err(
        &mut con,
        &["SETRANGE", "k", "1048570", "0123456789"],
        TOO_BIG,
    );
    assert_int(&mut con, &["EXISTS", "k"], 0);
    assert_int(&mut con, &["SETRANGE", "k", "1048575", "x"], 1_048_576);
    assert_int(&mut con, &["STRLEN", "k"], 1_048_576);
    assert_err(&mut con, &["APPEND", "k", "y"], TOO_BIG);
    assert_err(&mut con, &["SETRANGE", "k", "1048575", "xy"], TOO_BIG);
    assert_int(&mut con, &["STRLEN", "k"], 1_048_576);
    assert_int(&mut con, &["APPEND", "k", ""], 1_048_576);
    assert_reply(&mut con, &["GETRANGE", "k", "-2", "-1"], bulk("\0x"));
    let almost = "a".repeat(1_048_570);
    assert_ok(&mut con, &["SET", "a", &almost]);
    assert_err(&mut con, &["APPEND", "a", "0123456789"], TOO_BIG);
    assert_int(&mut con, &["APPEND", "a", "012345"], 1_048_576);
    assert_int(&mut con, &["STRLEN", "a"], 1_048_576);
}

// ---------------------------------------------------------------------------
// arity

#[test]
fn wrong_number_of_arguments() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let cases: &[(&str, &[&str])] = &[
        ("get", &[]),
        ("get", &["a", "b"]),
        ("set", &[]),
        ("set", &["a"]),
        ("setnx", &["a"]),
        ("setnx", &["a", "b", "c"]),
        ("setex", &["a", "10"]),
        ("setex", &["a", "10", "v", "x"]),
        ("psetex", &["a", "10"]),
        ("getset", &["a"]),
        ("getset", &["a", "b", "c"]),
        ("getdel", &[]),
        ("getdel", &["a", "b"]),
        ("getex", &[]),
        ("mget", &[]),
        ("mset", &[]),
        ("mset", &["a"]),
        ("mset", &["a", "1", "b"]),
        ("msetnx", &[]),
        ("msetnx", &["a"]),
        ("msetnx", &["a", "1", "b"]),
        ("incr", &[]),
        ("incr", &["a", "b"]),
        ("decr", &[]),
        ("decr", &["a", "b"]),
        ("incrby", &["a"]),
        ("incrby", &["a", "1", "2"]),
        ("decrby", &["a"]),
        ("incrbyfloat", &["a"]),
        ("incrbyfloat", &["a", "1", "2"]),
        ("append", &["a"]),
        ("append", &["a", "b", "c"]),
        ("strlen", &[]),
        ("strlen", &["a", "b"]),
        ("getrange", &["a", "0"]),
        ("getrange", &["a", "0", "1", "2"]),
        ("substr", &["a", "0"]),
        ("setrange", &["a", "0"]),
        ("setrange", &["a", "0", "x", "y"]),
        ("del", &[]),
        ("unlink", &[]),
        ("exists", &[]),
        ("type", &[]),
        ("type", &["a", "b"]),
        ("expire", &["a"]),
        ("expire", &[]),
        ("pexpire", &["a"]),
        ("expireat", &["a"]),
        ("pexpireat", &["a"]),
        ("ttl", &[]),
        ("ttl", &["a", "b"]),
        ("pttl", &[]),
        ("expiretime", &[]),
        ("pexpiretime", &["a", "b"]),
        ("persist", &[]),
        ("persist", &["a", "b"]),
        ("keys", &[]),
        ("keys", &["a", "b"]),
        ("scan", &[]),
        ("randomkey", &["a"]),
        ("rename", &["a"]),
        ("rename", &["a", "b", "c"]),
        ("renamenx", &["a"]),
        ("dbsize", &["a"]),
    ];
    for (name, rest) in cases {
        // send the name upper-case: the error names the command lower-case
        let upper = name.to_ascii_uppercase();
        let mut args = vec![upper.as_str()];
        args.extend_from_slice(rest);
        assert_err(&mut con, &args, &arity(name));
    }
    assert_err(&mut con, &["GeT"], &arity("get"));
    // the connection is still usable and nothing was written
    assert_int(&mut con, &["DBSIZE"], 0);
}

// ---------------------------------------------------------------------------
// keys: DEL UNLINK EXISTS TYPE

#[test]
fn del_unlink_exists_type() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_int(&mut con, &["EXISTS", "a"], 1);
    assert_int(&mut con, &["EXISTS", "missing"], 0);
    assert_int(&mut con, &["EXISTS", "a", "b", "missing", "c"], 3);
    assert_int(&mut con, &["EXISTS", "a", "a"], 2);
    assert_int(
        &mut con,
        &["EXISTS", "c", "c", "c", "missing", "missing"],
        3,
    );
    assert_reply(&mut con, &["TYPE", "a"], status("string"));
    assert_reply(&mut con, &["TYPE", "missing"], status("none"));

    assert_int(&mut con, &["DEL", "a", "b", "missing"], 2);
    assert_int(&mut con, &["DEL", "a"], 0);
    assert_int(&mut con, &["EXISTS", "a", "b", "c"], 1);
    assert_reply(&mut con, &["TYPE", "a"], status("none"));
    assert_reply(&mut con, &["GET", "a"], Value::Nil);
    // a key named twice is deleted once
    assert_int(&mut con, &["DEL", "c", "c"], 1);
    assert_int(&mut con, &["UNLINK", "d", "missing", "d"], 1);
    assert_int(&mut con, &["UNLINK", "d"], 0);
    assert_int(&mut con, &["DBSIZE"], 0);
    // deleting a key with a TTL removes the TTL too
    assert_ok(&mut con, &["SET", "t", "1", "EX", "100"]);
    assert_int(&mut con, &["DEL", "t"], 1);
    assert_ok(&mut con, &["SET", "t", "2"]);
    assert_int(&mut con, &["TTL", "t"], -1);
    assert_ok(&mut con, &["SET", "u", "1", "PX", "100000"]);
    assert_int(&mut con, &["UNLINK", "u"], 1);
    assert_int(&mut con, &["SETNX", "u", "2"], 1);
    assert_int(&mut con, &["PTTL", "u"], -1);
}

// ---------------------------------------------------------------------------
// keys: expiry commands

#[test]
fn expire_family_and_ttl_readers() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    for reader in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_int(&mut con, &[reader, "missing"], -2);
    }
    assert_ok(&mut con, &["SET", "k", "v"]);
    for reader in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_int(&mut con, &[reader, "k"], -1);
    }
    assert_int(&mut con, &["EXPIRE", "missing", "100"], 0);
    assert_int(&mut con, &["PEXPIRE", "missing", "100000"], 0);
    assert_int(&mut con, &["EXPIREAT", "missing", "99999999999"], 0);
    assert_int(&mut con, &["PEXPIREAT", "missing", "99999999999999"], 0);
    assert_int(&mut con, &["EXISTS", "missing"], 0);

    assert_int(&mut con, &["EXPIRE", "k", "100"], 1);
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    assert_in(&mut con, &["PTTL", "k"], 99_000, 100_000);
    let now = unix_ms();
    let et: i64 = q(&mut con, &["PEXPIRETIME", "k"]);
    assert!(
        (now + 98_000..=now + 101_000).contains(&et),
        "PEXPIRETIME {et} vs now {now}"
    );
    assert_int(&mut con, &["PEXPIRE", "k", "200000"], 1);
    assert_in(&mut con, &["PTTL", "k"], 199_000, 200_000);
    assert_in(&mut con, &["TTL", "k"], 199, 200);

    let at = unix_s() + 1000;
    assert_int(&mut con, &["EXPIREAT", "k", &at.to_string()], 1);
    assert_int(&mut con, &["EXPIRETIME", "k"], at);
    assert_int(&mut con, &["PEXPIRETIME", "k"], at * 1000);
    assert_in(&mut con, &["TTL", "k"], 998, 1000);

    let pat = unix_ms() + 300_000;
    assert_int(&mut con, &["PEXPIREAT", "k", &pat.to_string()], 1);
    assert_int(&mut con, &["PEXPIRETIME", "k"], pat);
    assert_in(&mut con, &["PTTL", "k"], 299_000, 300_000);

    // TTL and EXPIRETIME round to the nearest second, as Redis does
    let base = (unix_s() + 2000) * 1000;
    assert_int(&mut con, &["PEXPIREAT", "k", &(base + 200).to_string()], 1);
    assert_int(&mut con, &["EXPIRETIME", "k"], base / 1000);
    assert_int(&mut con, &["PEXPIREAT", "k", &(base + 700).to_string()], 1);
    assert_int(&mut con, &["EXPIRETIME", "k"], base / 1000 + 1);
    assert_int(&mut con, &["PEXPIRE", "k", "1999"], 1);
    assert_int(&mut con, &["TTL", "k"], 2);
    assert_int(&mut con, &["PEXPIRE", "k", "1400"], 1);
    assert_int(&mut con, &["TTL", "k"], 1);

    // the command names and values are checked
    assert_err(&mut con, &["EXPIRE", "k", "abc"], NOT_INT);
    assert_err(&mut con, &["PEXPIRE", "k", "1.5"], NOT_INT);
    assert_err(&mut con, &["EXPIREAT", "k", ""], NOT_INT);
    assert_err(
        &mut con,
        &["PEXPIREAT", "k", "9223372036854775808"],
        NOT_INT,
    );
    assert_err(&mut con, &["EXPIRE", "missing", "abc"], NOT_INT);
    assert_int(&mut con, &["expire", "k", "500"], 1);
    assert_in(&mut con, &["ttl", "k"], 499, 500);
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
}

#[test]
fn expire_nx_xx_gt_lt() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v"]);
    // no TTL: GT never applies (no TTL counts as infinite), LT does
    assert_int(&mut con, &["EXPIRE", "k", "100", "XX"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "100", "GT"], 0);
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_int(&mut con, &["EXPIRE", "k", "100", "LT"], 1);
    assert_in(&mut con, &["TTL", "k"], 99, 100);
    // with a TTL
    assert_int(&mut con, &["EXPIRE", "k", "50", "GT"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "200", "GT"], 1);
    assert_in(&mut con, &["TTL", "k"], 199, 200);
    assert_int(&mut con, &["EXPIRE", "k", "300", "LT"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "150", "LT"], 1);
    assert_in(&mut con, &["TTL", "k"], 149, 150);
    assert_int(&mut con, &["EXPIRE", "k", "150", "NX"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "120", "XX"], 1);
    assert_in(&mut con, &["TTL", "k"], 119, 120);
    assert_int(&mut con, &["EXPIRE", "k", "500", "XX", "GT"], 1);
    assert_in(&mut con, &["TTL", "k"], 499, 500);
    assert_int(&mut con, &["EXPIRE", "k", "600", "XX", "LT"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "400", "lt", "xx"], 1);
    assert_in(&mut con, &["TTL", "k"], 399, 400);
    assert_int(&mut con, &["PERSIST", "k"], 1);
    assert_int(&mut con, &["EXPIRE", "k", "100", "XX"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "100", "XX", "LT"], 0);
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_int(&mut con, &["EXPIRE", "k", "100", "nx"], 1);
    assert_in(&mut con, &["TTL", "k"], 99, 100);

    // the same flags on the other three commands
    assert_ok(&mut con, &["SET", "p", "v"]);
    assert_int(&mut con, &["PEXPIRE", "p", "100000", "GT"], 0);
    assert_int(&mut con, &["PEXPIRE", "p", "100000", "NX"], 1);
    assert_int(&mut con, &["PEXPIRE", "p", "50000", "GT"], 0);
    assert_int(&mut con, &["PEXPIRE", "p", "50000", "LT"], 1);
    assert_in(&mut con, &["PTTL", "p"], 49_000, 50_000);
    let at = unix_s() + 1000;
    assert_int(&mut con, &["EXPIREAT", "p", &at.to_string(), "LT"], 0);
    assert_int(&mut con, &["EXPIREAT", "p", &at.to_string(), "GT"], 1);
    assert_int(&mut con, &["EXPIRETIME", "p"], at);
    assert_int(&mut con, &["EXPIREAT", "p", &(at + 1).to_string(), "NX"], 0);
    assert_int(&mut con, &["EXPIRETIME", "p"], at);
    let pat = at * 1000 - 500;
    assert_int(&mut con, &["PEXPIREAT", "p", &pat.to_string(), "GT"], 0);
    assert_int(&mut con, &["PEXPIREAT", "p", &pat.to_string(), "LT"], 1);
    assert_int(&mut con, &["PEXPIRETIME", "p"], pat);
    assert_int(&mut con, &["PEXPIREAT", "p", &pat.to_string(), "XX"], 1);
    // equal is neither greater nor less
    assert_int(&mut con, &["PEXPIREAT", "p", &pat.to_string(), "GT"], 0);
    assert_int(&mut con, &["PEXPIREAT", "p", &pat.to_string(), "LT"], 0);
    // missing key: 0 whatever the flags
    for f in ["NX", "XX", "GT", "LT"] {
        assert_int(&mut con, &["EXPIRE", "missing", "100", f], 0);
    }
    assert_int(&mut con, &["EXISTS", "missing"], 0);
    // LT with a negative time on a key without TTL deletes it
    assert_ok(&mut con, &["SET", "gone", "v"]);
    assert_int(&mut con, &["EXPIRE", "gone", "-1", "LT"], 1);
    assert_int(&mut con, &["EXISTS", "gone"], 0);
}

#[test]
fn expire_option_errors() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v"]);
    for name in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        let t = "99999999999";
        for flags in [
            vec!["NX", "XX"],
            vec!["XX", "NX"],
            vec!["NX", "GT"],
            vec!["NX", "LT"],
            vec!["LT", "NX"],
            vec!["nx", "xx"],
            vec!["NX", "XX", "GT", "LT"],
        ] {
            let mut args = vec![name, "k", t];
            args.extend(flags);
            assert_err(&mut con, &args, NX_XX_GT_LT);
        }
        assert_err(&mut con, &[name, "k", t, "GT", "LT"], GT_LT);
        assert_err(&mut con, &[name, "k", t, "LT", "XX", "GT"], GT_LT);
        assert_err(
            &mut con,
            &[name, "k", t, "FOO"],
            "ERR Unsupported option FOO",
        );
        assert_err(
            &mut con,
            &[name, "k", t, "NX", "bar"],
            "ERR Unsupported option bar",
        );
        assert_err(&mut con, &[name, "k", t, "10"], "ERR Unsupported option 10");
        // the flags are checked before the time
        assert_err(&mut con, &[name, "k", "abc", "NX", "XX"], NX_XX_GT_LT);
        assert_err(&mut con, &[name, "missing", t, "GT", "LT"], GT_LT);
    }
    // nothing above set a TTL
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_int(&mut con, &["EXISTS", "missing"], 0);
}

#[test]
fn expire_negative_and_overflowing_times() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    for (name, t) in [
        ("EXPIRE", "-1"),
        ("EXPIRE", "0"),
        ("PEXPIRE", "-100"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("EXPIREAT", "0"),
        ("EXPIREAT", "-5"),
        ("PEXPIREAT", "1"),
        ("PEXPIREAT", "0"),
    ] {
        assert_ok(&mut con, &["SET", "k", "v", "EX", "100"]);
        assert_int(&mut con, &[name, "k", t], 1);
        assert_int(&mut con, &["EXISTS", "k"], 0);
        assert_reply(&mut con, &["GET", "k"], Value::Nil);
        assert_int(&mut con, &["TTL", "k"], -2);
        assert_int(&mut con, &[name, "k", t], 0);
    }
    let past = (unix_ms() - 1000).to_string();
    assert_ok(&mut con, &["SET", "k", "v"]);
    assert_int(&mut con, &["PEXPIREAT", "k", &past], 1);
    assert_int(&mut con, &["EXISTS", "k"], 0);

    assert_ok(&mut con, &["SET", "k", "v"]);
    for (name, t) in [
        ("EXPIRE", I64_MAX),
        ("EXPIRE", I64_MIN),
        ("EXPIRE", "9223372036854776"),
        // fits in ms, but not once the current time is added
        ("EXPIRE", "9223372036854775"),
        ("PEXPIRE", I64_MAX),
        ("PEXPIRE", "9223372036854775000"),
        ("EXPIREAT", I64_MAX),
        ("EXPIREAT", I64_MIN),
        ("EXPIREAT", "9223372036854776"),
    ] {
        let lower = name.to_ascii_lowercase();
        let want = format!("ERR invalid expire time in '{lower}' command");
        assert_err(&mut con, &[name, "k", t], &want);
        // checked even when the key does not exist
        assert_err(&mut con, &[name, "missing", t], &want);
    }
    assert_reply(&mut con, &["GET", "k"], bulk("v"));
    assert_int(&mut con, &["TTL", "k"], -1);
}

#[test]
fn persist() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["PERSIST", "missing"], 0);
    assert_ok(&mut con, &["SET", "k", "v"]);
    assert_int(&mut con, &["PERSIST", "k"], 0);
    assert_int(&mut con, &["EXPIRE", "k", "100"], 1);
    assert_int(&mut con, &["PERSIST", "k"], 1);
    assert_int(&mut con, &["TTL", "k"], -1);
    assert_int(&mut con, &["PERSIST", "k"], 0);
    assert_ok(&mut con, &["SET", "p", "v", "PX", "100000"]);
    assert_int(&mut con, &["persist", "p"], 1);
    assert_int(&mut con, &["PTTL", "p"], -1);
    assert_int(&mut con, &["PEXPIRETIME", "p"], -1);
    assert_reply(&mut con, &["GET", "p"], bulk("v"));
}

// ---------------------------------------------------------------------------
// keys: KEYS, SCAN, RANDOMKEY

#[test]
fn keys_glob_patterns() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_eq!(keys_of(&mut con, "*"), Vec::<String>::new());
    let all = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "a?b", "axb", "a1", "b1", "c1", "d1",
        "[x]", "x",
    ];
    for k in all {
        assert_ok(&mut con, &["SET", k, "v"]);
    }
    assert_eq!(keys_of(&mut con, "*"), strs(&all));
    assert_eq!(
        keys_of(&mut con, "h?llo"),
        strs(&["hello", "hallo", "hxllo"])
    );
    assert_eq!(
        keys_of(&mut con, "h*llo"),
        strs(&["hello", "hallo", "hxllo", "hllo", "heeeello"])
    );
    assert_eq!(keys_of(&mut con, "h[ae]llo"), strs(&["hello", "hallo"]));
    assert_eq!(keys_of(&mut con, "h[^e]llo"), strs(&["hallo", "hxllo"]));
    assert_eq!(keys_of(&mut con, "h[a-b]llo"), strs(&["hallo"]));
    assert_eq!(keys_of(&mut con, "[a-c]1"), strs(&["a1", "b1", "c1"]));
    assert_eq!(keys_of(&mut con, "[c-a]1"), strs(&["a1", "b1", "c1"]));
    assert_eq!(keys_of(&mut con, "[^a-c]1"), strs(&["d1"]));
    assert_eq!(keys_of(&mut con, "a\\*b"), strs(&["a*b"]));
    assert_eq!(keys_of(&mut con, "a\\?b"), strs(&["a?b"]));
    assert_eq!(keys_of(&mut con, "a?b"), strs(&["a*b", "a?b", "axb"]));
    assert_eq!(keys_of(&mut con, "a*b"), strs(&["a*b", "a?b", "axb"]));
    assert_eq!(keys_of(&mut con, "\\[x\\]"), strs(&["[x]"]));
    assert_eq!(keys_of(&mut con, "hello"), strs(&["hello"]));
    assert_eq!(keys_of(&mut con, "*1"), strs(&["a1", "b1", "c1", "d1"]));
    assert_eq!(keys_of(&mut con, "?"), strs(&["x"]));
    assert_eq!(keys_of(&mut con, "nomatch*"), Vec::<String>::new());
    assert_eq!(keys_of(&mut con, "HELLO"), Vec::<String>::new());
    assert_eq!(keys_of(&mut con, "**o"), keys_of(&mut con, "*o"));
}

#[test]
fn scan_iterates_every_key() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let (empty, _) = scan_all(&mut con, &[]);
    assert!(empty.is_empty(), "SCAN on an empty db returned {empty:?}");

    let keys = numbered("key:", 500);
    let others = numbered("other:", 30);
    let mut all: HashSet<String> = HashSet::new();
    for chunk in keys.chunks(100).chain(others.chunks(100)) {
        let mut c = redis::cmd("MSET");
        for k in chunk {
            c.arg(k).arg("v");
            all.insert(k.clone());
        }
        let _: () = c.query(&mut con).expect("MSET");
    }
    let check = |got: Vec<String>, want: &HashSet<String>, what: &str| {
        let set: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(&set, want, "SCAN {what}: key set differs");
    };
    let (got, _) = scan_all(&mut con, &[]);
    check(got, &all, "(no options)");
    let (got, calls) = scan_all(&mut con, &["COUNT", "1"]);
    check(got, &all, "COUNT 1");
    assert!(calls > 10, "COUNT 1 finished in {calls} calls");
    let (got, _) = scan_all(&mut con, &["COUNT", "1000"]);
    check(got, &all, "COUNT 1000");
    let (got, _) = scan_all(&mut con, &["TYPE", "string"]);
    check(got, &all, "TYPE string");
    let (got, _) = scan_all(&mut con, &["TYPE", "hash"]);
    check(got, &HashSet::new(), "TYPE hash");
    let (got, _) = scan_all(&mut con, &["type", "list", "count", "50"]);
    check(got, &HashSet::new(), "TYPE list");
    let want: HashSet<String> = others.iter().cloned().collect();
    let (got, _) = scan_all(&mut con, &["MATCH", "other:*"]);
    check(got, &want, "MATCH other:*");
    let want: HashSet<String> = keys
        .iter()
        .filter(|k| k.starts_with("key:1"))
        .cloned()
        .collect();
    let (got, _) = scan_all(
        &mut con,
        &["MATCH", "key:1*", "COUNT", "7", "TYPE", "string"],
    );
    check(got, &want, "MATCH key:1* COUNT 7 TYPE string");
    let (got, _) = scan_all(&mut con, &["match", "key:?", "count", "3"]);
    check(
        got,
        &numbered("key:", 10).into_iter().collect(),
        "MATCH key:?",
    );
    let (got, _) = scan_all(&mut con, &["MATCH", "nothing*"]);
    check(got, &HashSet::new(), "MATCH nothing*");
    // MATCH and COUNT given twice: the last one counts
    let (got, _) = scan_all(
        &mut con,
        &[
            "MATCH", "key:*", "MATCH", "other:*", "COUNT", "5", "COUNT", "100",
        ],
    );
    check(got, &others.iter().cloned().collect(), "MATCH twice");
}

#[test]
fn scan_errors() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_ok(&mut con, &["SET", "k", "v"]);
    assert_err(&mut con, &["SCAN", "abc"], "ERR invalid cursor");
    assert_err(&mut con, &["SCAN", "1.5"], "ERR invalid cursor");
    assert_err(&mut con, &["SCAN", "0", "COUNT", "0"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "COUNT", "-1"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "COUNT", "abc"], NOT_INT);
    assert_err(&mut con, &["SCAN", "0", "COUNT"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "MATCH"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "TYPE"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "FOO", "bar"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "MATCH", "*", "COUNT"], SYNTAX);
    assert_err(&mut con, &["SCAN", "0", "10"], SYNTAX);
    assert_int(&mut con, &["DBSIZE"], 1);
}

#[test]
fn randomkey() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["RANDOMKEY"], Value::Nil);
    assert_ok(&mut con, &["SET", "only", "v"]);
    assert_reply(&mut con, &["RANDOMKEY"], bulk("only"));
    let keys = numbered("r", 20);
    for k in &keys {
        assert_ok(&mut con, &["SET", k, "v"]);
    }
    let mut all: HashSet<String> = keys.into_iter().collect();
    all.insert("only".into());
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k: String = q(&mut con, &["RANDOMKEY"]);
        assert!(all.contains(&k), "RANDOMKEY returned unknown key {k:?}");
        seen.insert(k);
    }
    assert!(seen.len() > 1, "RANDOMKEY always returned {seen:?}");
    assert_ok(&mut con, &["FLUSHDB"]);
    assert_reply(&mut con, &["RANDOMKEY"], Value::Nil);
}

// ---------------------------------------------------------------------------
// keys: RENAME, RENAMENX, DBSIZE, FLUSH*

#[test]
fn rename_and_renamenx() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_err(&mut con, &["RENAME", "missing", "x"], NO_SUCH_KEY);
    assert_err(&mut con, &["RENAMENX", "missing", "x"], NO_SUCH_KEY);
    assert_err(&mut con, &["RENAME", "missing", "missing"], NO_SUCH_KEY);
    assert_int(&mut con, &["EXISTS", "x"], 0);

    // the TTL moves with the key
    assert_ok(&mut con, &["SET", "a", "1", "EX", "100"]);
    assert_ok(&mut con, &["RENAME", "a", "b"]);
    assert_int(&mut con, &["EXISTS", "a"], 0);
    assert_reply(&mut con, &["GET", "b"], bulk("1"));
    assert_in(&mut con, &["TTL", "b"], 99, 100);
    // overwrites the destination, which takes the source's TTL
    assert_ok(&mut con, &["SET", "c", "3"]);
    assert_ok(&mut con, &["RENAME", "b", "c"]);
    assert_reply(&mut con, &["GET", "c"], bulk("1"));
    assert_in(&mut con, &["TTL", "c"], 99, 100);
    assert_int(&mut con, &["EXISTS", "b"], 0);
    // ... or loses its own when the source has none
    assert_ok(&mut con, &["SET", "d", "4", "EX", "100"]);
    assert_ok(&mut con, &["SET", "e", "5"]);
    assert_ok(&mut con, &["RENAME", "e", "d"]);
    assert_reply(&mut con, &["GET", "d"], bulk("5"));
    assert_int(&mut con, &["TTL", "d"], -1);
    // onto itself
    assert_ok(&mut con, &["RENAME", "c", "c"]);
    assert_reply(&mut con, &["GET", "c"], bulk("1"));
    assert_in(&mut con, &["TTL", "c"], 99, 100);
    assert_int(&mut con, &["RENAMENX", "c", "c"], 0);
    assert_reply(&mut con, &["GET", "c"], bulk("1"));

    // RENAMENX
    assert_int(&mut con, &["RENAMENX", "c", "f"], 1);
    assert_int(&mut con, &["EXISTS", "c"], 0);
    assert_reply(&mut con, &["GET", "f"], bulk("1"));
    assert_in(&mut con, &["TTL", "f"], 99, 100);
    assert_int(&mut con, &["RENAMENX", "f", "d"], 0);
    assert_reply(
        &mut con,
        &["MGET", "f", "d"],
        bulks(&[Some("1"), Some("5")]),
    );
    assert_in(&mut con, &["TTL", "f"], 99, 100);
    assert_int(&mut con, &["TTL", "d"], -1);
    assert_int(&mut con, &["DBSIZE"], 2);
    assert_ok(&mut con, &["rename", "d", "g"]);
    assert_int(&mut con, &["renamenx", "g", "h"], 1);
    assert_reply(&mut con, &["GET", "h"], bulk("5"));
}

#[test]
fn dbsize_flushdb_flushall() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["DBSIZE"], 0);
    assert_ok(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_ok(&mut con, &["SET", "t", "1", "EX", "100"]);
    assert_int(&mut con, &["DBSIZE"], 4);
    assert_int(&mut con, &["DEL", "a"], 1);
    assert_int(&mut con, &["DBSIZE"], 3);
    assert_ok(&mut con, &["FLUSHDB"]);
    assert_int(&mut con, &["DBSIZE"], 0);
    assert_reply(
        &mut con,
        &["MGET", "b", "c", "t"],
        bulks(&[None, None, None]),
    );
    assert_int(&mut con, &["TTL", "t"], -2);
    assert_ok(&mut con, &["SET", "t", "2"]);
    assert_int(&mut con, &["TTL", "t"], -1);

    assert_ok(&mut con, &["MSET", "a", "1", "b", "2"]);
    assert_ok(&mut con, &["FLUSHALL"]);
    assert_int(&mut con, &["DBSIZE"], 0);
    assert_eq!(keys_of(&mut con, "*"), Vec::<String>::new());
    for args in [
        vec!["FLUSHDB", "ASYNC"],
        vec!["FLUSHDB", "SYNC"],
        vec!["FLUSHALL", "ASYNC"],
        vec!["flushall", "sync"],
    ] {
        assert_ok(&mut con, &["SET", "x", "1"]);
        assert_ok(&mut con, &args);
        assert_int(&mut con, &["DBSIZE"], 0);
    }
    assert_ok(&mut con, &["SET", "x", "1"]);
    assert_err(&mut con, &["FLUSHDB", "FOO"], SYNTAX);
    assert_err(&mut con, &["FLUSHALL", "FOO"], SYNTAX);
    assert_err(&mut con, &["FLUSHDB", "ASYNC", "SYNC"], SYNTAX);
    assert_int(&mut con, &["DBSIZE"], 1);
}

// ---------------------------------------------------------------------------
// expiry exactness

#[test]
fn px_key_is_never_served_after_its_deadline() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let start = Instant::now();
    assert_ok(&mut con, &["SET", "k", "v", "PX", "100"]);
    // the server stamped its deadline before this point
    let deadline = Instant::now() + Duration::from_millis(100);
    // allow for the server's millisecond clock granularity
    let strict_after = deadline + Duration::from_millis(3);
    let mut pttls: Vec<i64> = Vec::new();
    loop {
        let sent = Instant::now();
        let got: Option<String> = q(&mut con, &["GET", "k"]);
        if sent > strict_after {
            assert_eq!(
                got,
                None,
                "GET served the key {:?} after its deadline",
                sent - deadline
            );
        }
        let sent_e = Instant::now();
        let exists: i64 = q(&mut con, &["EXISTS", "k"]);
        if sent_e > strict_after {
            assert_eq!(
                exists,
                0,
                "EXISTS saw the key {:?} after its deadline",
                sent_e - deadline
            );
        }
        let sent_p = Instant::now();
        let pttl: i64 = q(&mut con, &["PTTL", "k"]);
        if sent_p > strict_after {
            assert_eq!(pttl, -2, "PTTL saw the key after its deadline");
        }
        if pttl >= 0 {
            assert!(pttl <= 100, "PTTL {pttl} above the 100 ms given");
            pttls.push(pttl);
        } else {
            assert_eq!(pttl, -2, "a key with PX never has PTTL -1");
        }
        if got.is_none() && exists == 0 && pttl == -2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "key with PX 100 still there after 1 s (GET {got:?}, EXISTS {exists}, PTTL {pttl})"
        );
        sleep(Duration::from_millis(5));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "disappeared only after {:?}",
        start.elapsed()
    );
    assert!(
        pttls.windows(2).all(|w| w[1] <= w[0]),
        "PTTL went up: {pttls:?}"
    );
    if pttls.len() >= 2 {
        assert!(
            pttls.last() < pttls.first(),
            "PTTL never decreased: {pttls:?}"
        );
    }
    // after the deadline the key stays gone
    assert_reply(&mut con, &["GET", "k"], Value::Nil);
    assert_int(&mut con, &["EXISTS", "k"], 0);
}

#[test]
fn expired_keys_are_absent_for_every_command() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let names = numbered("e", 40);
    let mut p = redis::pipe();
    for k in &names {
        p.cmd("SET").arg(k).arg("old").arg("PX").arg(50).ignore();
    }
    p.cmd("SET").arg("live").arg("v").ignore();
    let _: () = p.query(&mut con).expect("pipeline");
    sleep(Duration::from_millis(150));
    let k = |i: usize| names[i].as_str();
    assert_reply(&mut con, &["GET", k(0)], Value::Nil);
    assert_int(&mut con, &["EXISTS", k(1)], 0);
    assert_int(&mut con, &["EXISTS", k(1), k(2), "live"], 1);
    assert_int(&mut con, &["STRLEN", k(2)], 0);
    assert_int(&mut con, &["TTL", k(3)], -2);
    assert_int(&mut con, &["PTTL", k(3)], -2);
    assert_int(&mut con, &["EXPIRETIME", k(3)], -2);
    assert_int(&mut con, &["PEXPIRETIME", k(3)], -2);
    assert_reply(&mut con, &["TYPE", k(4)], status("none"));
    assert_reply(&mut con, &["GETRANGE", k(5), "0", "-1"], bulk(""));
    assert_reply(
        &mut con,
        &["MGET", k(6), "live", k(7)],
        bulks(&[None, Some("v"), None]),
    );
    assert_reply(&mut con, &["GETDEL", k(8)], Value::Nil);
    assert_reply(&mut con, &["GETEX", k(9), "PERSIST"], Value::Nil);
    assert_int(&mut con, &["EXISTS", k(9)], 0);
    assert_reply(&mut con, &["GETSET", k(10), "new"], Value::Nil);
    assert_int(&mut con, &["TTL", k(10)], -1);
    assert_int(&mut con, &["INCR", k(11)], 1);
    assert_int(&mut con, &["TTL", k(11)], -1);
    assert_int(&mut con, &["APPEND", k(12), "x"], 1);
    assert_int(&mut con, &["SETNX", k(13), "n"], 1);
    assert_reply(&mut con, &["SET", k(14), "n", "XX"], Value::Nil);
    assert_int(&mut con, &["EXISTS", k(14)], 0);
    assert_ok(&mut con, &["SET", k(15), "n", "NX"]);
    assert_reply(&mut con, &["SET", k(16), "n", "GET"], Value::Nil);
    assert_int(&mut con, &["EXPIRE", k(17), "100"], 0);
    assert_int(&mut con, &["PERSIST", k(18)], 0);
    assert_err(&mut con, &["RENAME", k(19), "dst"], NO_SUCH_KEY);
    assert_err(&mut con, &["RENAMENX", k(20), "dst"], NO_SUCH_KEY);
    assert_int(&mut con, &["EXISTS", "dst"], 0);
    assert_int(&mut con, &["MSETNX", k(21), "n", k(22), "n"], 1);
    assert_reply(&mut con, &["INCRBYFLOAT", k(23), "1.5"], bulk("1.5"));
    assert_int(&mut con, &["SETRANGE", k(24), "0", "ab"], 2);
    assert_reply(&mut con, &["GET", k(24)], bulk("ab"));
    assert_int(&mut con, &["DEL", k(25)], 0);
    assert_int(&mut con, &["UNLINK", k(26)], 0);
    assert_ok(&mut con, &["RENAME", "live", k(27)]);
    assert_int(&mut con, &["TTL", k(27)], -1);
    assert_ok(&mut con, &["SET", "live", "v"]);
    assert_int(&mut con, &["RENAMENX", "live", k(28)], 1);
    assert_ok(&mut con, &["SET", "live", "v"]);
    assert_int(&mut con, &["EXPIRE", k(29), "100", "LT"], 0);
    assert_int(&mut con, &["SETRANGE", k(30), "0", ""], 0);
    assert_int(&mut con, &["EXISTS", k(30)], 0);
    assert_int(&mut con, &["DECRBY", k(31), "5"], -5);
    // KEYS and SCAN list only what was (re)created
    let recreated = [10, 11, 12, 13, 15, 16, 21, 22, 23, 24, 27, 28, 31];
    let mut want: Vec<String> = recreated.iter().map(|&i| names[i].clone()).collect();
    want.push("live".into());
    let want = sorted(want);
    assert_eq!(keys_of(&mut con, "*"), want);
    let (scanned, _) = scan_all(&mut con, &[]);
    let scanned: BTreeSet<String> = scanned.into_iter().collect();
    assert_eq!(scanned, want.iter().cloned().collect::<BTreeSet<_>>());
    assert_int(&mut con, &["DBSIZE"], want.len() as i64);
}

#[test]
fn active_expiry_drops_dbsize_without_access() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    active_expiry_case(&mut con);
}

fn active_expiry_case(con: &mut Connection) {
    let mut p = redis::pipe();
    for i in 0..200 {
        p.cmd("SET")
            .arg(format!("ax:{i}"))
            .arg("v")
            .arg("PX")
            .arg(50)
            .ignore();
    }
    p.cmd("SET").arg("keeper").arg("v").ignore();
    p.cmd("SET")
        .arg("later")
        .arg("v")
        .arg("EX")
        .arg(100)
        .ignore();
    let _: () = p.query(con).expect("pipeline");
    let set_at = Instant::now();
    assert_int(con, &["DBSIZE"], 202);
    sleep(Duration::from_millis(300));
    // only DBSIZE from here on: it must not touch the keys
    let mut n: i64 = q(con, &["DBSIZE"]);
    while n != 2 && set_at.elapsed() < Duration::from_millis(1500) {
        sleep(Duration::from_millis(20));
        n = q(con, &["DBSIZE"]);
    }
    assert_eq!(
        n,
        2,
        "DBSIZE {:?} after the keys expired, without touching them",
        set_at.elapsed()
    );
    assert_reply(
        con,
        &["MGET", "keeper", "later", "ax:0"],
        bulks(&[Some("v"), Some("v"), None]),
    );
}

// ---------------------------------------------------------------------------
// binary safety

#[test]
fn binary_keys_and_values_round_trip() {
    let s = Server::start(1, &[]);
    let mut con = s.client();
    let key: &[u8] = b"k\0ey\r\nwith\r\n\0crlf";
    let val: &[u8] = b"v\0al\r\nue\r\n\0";
    let _: () = bq(&mut con, &[b"SET", key, val]);
    let got: Vec<u8> = bq(&mut con, &[b"GET", key]);
    assert_eq!(got, val);
    let n: i64 = bq(&mut con, &[b"STRLEN", key]);
    assert_eq!(n, val.len() as i64);
    let n: i64 = bq(&mut con, &[b"EXISTS", key, b"k\0ey"]);
    assert_eq!(n, 1, "a key is not cut at its NUL byte");
    let got: Option<Vec<u8>> = bq(&mut con, &[b"GET", b"k\0ey"]);
    assert_eq!(got, None);
    let got: Option<Vec<u8>> = bq(&mut con, &[b"GET", b"k"]);
    assert_eq!(got, None);
    let n: i64 = bq(&mut con, &[b"APPEND", key, b"\0\r\n"]);
    assert_eq!(n, val.len() as i64 + 3);
    let got: Vec<u8> = bq(&mut con, &[b"GETRANGE", key, b"1", b"5"]);
    assert_eq!(got, b"\0al\r\n");
    let n: i64 = bq(&mut con, &[b"SETRANGE", key, b"0", b"\r\n\0"]);
    assert_eq!(n, val.len() as i64 + 3);
    let got: Vec<u8> = bq(&mut con, &[b"GET", key]);
    assert_eq!(got, b"\r\n\0l\r\nue\r\n\0\0\r\n");

    // every byte value, in keys and values
    let all: Vec<u8> = (0..=255u8).collect();
    let _: () = bq(&mut con, &[b"SET", &all, &all]);
    let got: Vec<u8> = bq(&mut con, &[b"GET", &all]);
    assert_eq!(got, all);
    let _: () = bq(&mut con, &[b"MSET", b"\0", b"\r\n", b"\r\n", b"\0"]);
    let got: Vec<Option<Vec<u8>>> = bq(&mut con, &[b"MGET", b"\0", b"\r\n", b"\n"]);
    assert_eq!(
        got,
        vec![Some(b"\r\n".to_vec()), Some(b"\0".to_vec()), None]
    );
    let _: () = bq(&mut con, &[b"RENAME", b"\0", b"\0\0"]);
    let got: Vec<u8> = bq(&mut con, &[b"GET", b"\0\0"]);
    assert_eq!(got, b"\r\n");
    let t: String = bq(&mut con, &[b"TYPE", b"\r\n"]);
    assert_eq!(t, "string");
    let mut keys: Vec<Vec<u8>> = bq(&mut con, &[b"KEYS", b"*"]);
    keys.sort();
    let mut want = vec![
        key.to_vec(),
        all.clone(),
        b"\0\0".to_vec(),
        b"\r\n".to_vec(),
    ];
    want.sort();
    assert_eq!(keys, want);
    let got: Vec<u8> = bq(&mut con, &[b"GETDEL", b"\r\n"]);
    assert_eq!(got, b"\0");
    let n: i64 = bq(&mut con, &[b"DEL", key, &all]);
    assert_eq!(n, 2);

    // a 1 MiB value of arbitrary bytes
    let big: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _: () = bq(&mut con, &[b"SET", b"big", &big]);
    let got: Vec<u8> = bq(&mut con, &[b"GET", b"big"]);
    assert!(got == big, "1 MiB binary value did not round-trip");
}

// ---------------------------------------------------------------------------
// across cores (two executors; 200 keys always land on both)

fn mset_many(con: &mut Connection, keys: &[String], prefix: &str) {
    let mut c = redis::cmd("MSET");
    for k in keys {
        c.arg(k).arg(format!("{prefix}{k}"));
    }
    let r: Value = c.query(con).expect("MSET");
    assert_eq!(r, Value::Okay);
}

#[test]
fn cross_core_mset_mget_in_key_order() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    let keys = numbered("k", 200);
    mset_many(&mut con, &keys, "v-");
    assert_int(&mut con, &["DBSIZE"], 200);
    // reversed, with missing keys interleaved
    let mut asked: Vec<String> = Vec::new();
    let mut want: Vec<Option<String>> = Vec::new();
    for (i, k) in keys.iter().enumerate().rev() {
        asked.push(k.clone());
        want.push(Some(format!("v-{k}")));
        if i % 3 == 0 {
            asked.push(format!("missing{i}"));
            want.push(None);
        }
    }
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&asked)
        .query(&mut con)
        .expect("MGET");
    assert_eq!(got, want);
    // overwrite every other key with one MSET, values read back in order
    let half: Vec<String> = keys.iter().step_by(2).cloned().collect();
    mset_many(&mut con, &half, "w-");
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    let want: Vec<Option<String>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Some(format!("{}-{k}", if i % 2 == 0 { "w" } else { "v" })))
        .collect();
    assert_eq!(got, want);
    // the same key repeated far apart in one MSET: the last value wins
    let mut c = redis::cmd("MSET");
    c.arg("dup").arg("first");
    for k in &keys {
        c.arg(k).arg("x");
    }
    c.arg("dup").arg("last");
    let _: () = c.query(&mut con).expect("MSET");
    assert_reply(&mut con, &["GET", "dup"], bulk("last"));
    assert_int(&mut con, &["DBSIZE"], 201);
    assert_err(&mut con, &["MSET", "k1", "1", "k2"], &arity("mset"));
    assert_reply(&mut con, &["GET", "k1"], bulk("x"));
}

#[test]
fn cross_core_del_exists_unlink() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    let keys = numbered("d", 200);
    mset_many(&mut con, &keys, "");
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(n, 200);
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .arg(&keys)
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(n, 400, "EXISTS counts a key once per mention");
    let mut mixed: Vec<String> = Vec::new();
    for k in &keys {
        mixed.push(k.clone());
        mixed.push(format!("no-{k}"));
    }
    let n: i64 = redis::cmd("EXISTS")
        .arg(&mixed)
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(n, 200);
    // DEL the first 100, each named twice, plus missing keys
    let first: Vec<String> = keys[..100].to_vec();
    let n: i64 = redis::cmd("DEL")
        .arg(&first)
        .arg(&first)
        .arg("missing-a")
        .arg("missing-b")
        .query(&mut con)
        .expect("DEL");
    assert_eq!(n, 100);
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(n, 100);
    assert_int(&mut con, &["DBSIZE"], 100);
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    for (i, g) in got.iter().enumerate() {
        if i < 100 {
            assert_eq!(g, &None, "{} should be deleted", keys[i]);
        } else {
            assert_eq!(g.as_deref(), Some(keys[i].as_str()));
        }
    }
    let n: i64 = redis::cmd("UNLINK")
        .arg(&keys)
        .query(&mut con)
        .expect("UNLINK");
    assert_eq!(n, 100);
    let n: i64 = redis::cmd("UNLINK")
        .arg(&keys)
        .query(&mut con)
        .expect("UNLINK");
    assert_eq!(n, 0);
    assert_int(&mut con, &["DBSIZE"], 0);
}

#[test]
fn cross_core_msetnx() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    let keys = numbered("n", 200);
    let mut c = redis::cmd("MSETNX");
    for k in &keys {
        c.arg(k).arg(format!("v{k}"));
    }
    let n: i64 = c.query(&mut con).expect("MSETNX");
    assert_eq!(n, 1);
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
    assert_eq!(
        got,
        keys.iter()
            .map(|k| Some(format!("v{k}")))
            .collect::<Vec<_>>()
    );
    // one existing key anywhere among 200 new ones: nothing is set
    let fresh = numbered("f", 200);
    for pos in [0usize, 77, 200] {
        let mut c = redis::cmd("MSETNX");
        for (i, k) in fresh.iter().enumerate() {
            if i == pos {
                c.arg(&keys[123]).arg("clobbered");
            }
            c.arg(k).arg("x");
        }
        if pos == fresh.len() {
            c.arg(&keys[123]).arg("clobbered");
        }
        let n: i64 = c.query(&mut con).expect("MSETNX");
        assert_eq!(n, 0, "existing key at position {pos}");
        let n: i64 = redis::cmd("EXISTS")
            .arg(&fresh)
            .query(&mut con)
            .expect("EXISTS");
        assert_eq!(
            n, 0,
            "MSETNX that returned 0 set some keys (existing at {pos})"
        );
        assert_reply(&mut con, &["GET", &keys[123]], bulk("vn123"));
    }
    assert_int(&mut con, &["DBSIZE"], 200);
    assert_err(&mut con, &["MSETNX", "f1", "1", "f2"], &arity("msetnx"));
}

#[test]
fn cross_core_rename_and_renamenx() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    // 100 pairs: plenty cross from one core to the other
    for i in 0..100 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        if i % 2 == 0 {
            assert_ok(&mut con, &["SET", &src, &format!("val{i}"), "EX", "1000"]);
        } else {
            assert_ok(&mut con, &["SET", &src, &format!("val{i}")]);
        }
        if i % 3 == 0 {
            assert_ok(&mut con, &["SET", &dst, "old", "EX", "50"]);
        }
        assert_ok(&mut con, &["RENAME", &src, &dst]);
        assert_int(&mut con, &["EXISTS", &src], 0);
        assert_reply(&mut con, &["GET", &dst], bulk(&format!("val{i}")));
        if i % 2 == 0 {
            assert_in(&mut con, &["TTL", &dst], 995, 1000);
        } else {
            assert_int(&mut con, &["TTL", &dst], -1);
        }
    }
    assert_int(&mut con, &["DBSIZE"], 100);
    for i in 0..100 {
        let (dst, back) = (format!("dst{i}"), format!("back{i}"));
        if i % 4 == 0 {
            assert_ok(&mut con, &["SET", &back, "taken"]);
            assert_int(&mut con, &["RENAMENX", &dst, &back], 0);
            assert_reply(&mut con, &["GET", &back], bulk("taken"));
            assert_reply(&mut con, &["GET", &dst], bulk(&format!("val{i}")));
        } else {
            assert_int(&mut con, &["RENAMENX", &dst, &back], 1);
            assert_int(&mut con, &["EXISTS", &dst], 0);
            assert_reply(&mut con, &["GET", &back], bulk(&format!("val{i}")));
            if i % 2 == 0 {
                assert_in(&mut con, &["TTL", &back], 995, 1000);
            } else {
                assert_int(&mut con, &["TTL", &back], -1);
            }
        }
        assert_err(
            &mut con,
            &["RENAME", &format!("none{i}"), &back],
            NO_SUCH_KEY,
        );
        assert_err(
            &mut con,
            &["RENAMENX", &format!("none{i}"), &dst],
            NO_SUCH_KEY,
        );
    }
    assert_int(&mut con, &["DBSIZE"], 125);
}

#[test]
fn cross_core_hash_tags() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    assert_int(&mut con, &["MSETNX", "{user1}:a", "1", "{user1}:b", "2"], 1);
    assert_int(&mut con, &["MSETNX", "{user1}:b", "x", "{user1}:c", "3"], 0);
    assert_int(&mut con, &["EXISTS", "{user1}:c"], 0);
    assert_reply(
        &mut con,
        &["MGET", "{user1}:a", "{user1}:b", "{user1}:c"],
        bulks(&[Some("1"), Some("2"), None]),
    );
    assert_ok(&mut con, &["SET", "{user1}:t", "9", "EX", "100"]);
    assert_ok(&mut con, &["RENAME", "{user1}:t", "{user1}:z"]);
    assert_reply(&mut con, &["GET", "{user1}:z"], bulk("9"));
    assert_in(&mut con, &["TTL", "{user1}:z"], 99, 100);
    assert_int(&mut con, &["RENAMENX", "{user1}:a", "{user1}:b"], 0);
    assert_int(&mut con, &["RENAMENX", "{user1}:a", "{user1}:c"], 1);
    assert_reply(
        &mut con,
        &["MGET", "{user1}:a", "{user1}:b", "{user1}:c", "{user1}:z"],
        bulks(&[None, Some("2"), Some("1"), Some("9")]),
    );
    assert_int(&mut con, &["DEL", "{user1}:b", "{user1}:c", "{user1}:z"], 3);
    assert_int(&mut con, &["DBSIZE"], 0);

    // many tags, so both cores own some; each MSETNX/RENAME stays within one tag
    for t in 0..60 {
        let a = format!("{{tag{t}}}:a");
        let b = format!("{{tag{t}}}:b");
        let c = format!("{{tag{t}}}:c");
        let n: i64 = redis::cmd("MSETNX")
            .arg(&a)
            .arg(t)
            .arg(&b)
            .arg(t * 10)
            .query(&mut con)
            .expect("MSETNX");
        assert_eq!(n, 1);
        let n: i64 = redis::cmd("MSETNX")
            .arg(&c)
            .arg(1)
            .arg(&a)
            .arg(0)
            .query(&mut con)
            .expect("MSETNX");
        assert_eq!(n, 0);
        assert_ok(&mut con, &["RENAME", &a, &c]);
        assert_int(&mut con, &["RENAMENX", &b, &c], 0);
        let got: Vec<Option<i64>> = redis::cmd("MGET")
            .arg(&a)
            .arg(&b)
            .arg(&c)
            .query(&mut con)
            .expect("MGET");
        assert_eq!(got, vec![None, Some(t * 10), Some(t)]);
    }
    assert_int(&mut con, &["DBSIZE"], 120);
    // tagged keys are grouped but still listed by KEYS and SCAN
    let all = keys_of(&mut con, "{tag*");
    assert_eq!(all.len(), 120);
    let (scanned, _) = scan_all(&mut con, &["COUNT", "1"]);
    let scanned: BTreeSet<String> = scanned.into_iter().collect();
    assert_eq!(scanned, all.into_iter().collect::<BTreeSet<_>>());
}

#[test]
fn cross_core_keys_scan_dbsize_flush_randomkey() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    assert_reply(&mut con, &["RANDOMKEY"], Value::Nil);
    let keys = numbered("key:", 300);
    mset_many(&mut con, &keys, "");
    let all: HashSet<String> = keys.iter().cloned().collect();
    assert_int(&mut con, &["DBSIZE"], 300);
    let listed: HashSet<String> = keys_of(&mut con, "*").into_iter().collect();
    assert_eq!(listed, all);
    let ones: HashSet<String> = keys
        .iter()
        .filter(|k| k.starts_with("key:1"))
        .cloned()
        .collect();
    let listed: HashSet<String> = keys_of(&mut con, "key:1*").into_iter().collect();
    assert_eq!(listed, ones);
    for extra in [
        vec![],
        vec!["COUNT", "1"],
        vec!["COUNT", "7"],
        vec!["COUNT", "1000"],
        vec!["TYPE", "string"],
    ] {
        let (got, _) = scan_all(&mut con, &extra);
        let set: HashSet<String> = got.into_iter().collect();
        assert_eq!(set, all, "SCAN {extra:?}");
    }
    let (got, _) = scan_all(&mut con, &["MATCH", "key:1*", "COUNT", "5"]);
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), ones);
    let (got, _) = scan_all(&mut con, &["TYPE", "hash"]);
    assert!(got.is_empty());
    for _ in 0..50 {
        let k: String = q(&mut con, &["RANDOMKEY"]);
        assert!(all.contains(&k), "RANDOMKEY gave {k:?}");
    }
    assert_ok(&mut con, &["FLUSHDB"]);
    assert_int(&mut con, &["DBSIZE"], 0);
    assert_eq!(keys_of(&mut con, "*"), Vec::<String>::new());
    assert_reply(&mut con, &["RANDOMKEY"], Value::Nil);
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys)
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(n, 0);
    mset_many(&mut con, &keys, "");
    assert_int(&mut con, &["DBSIZE"], 300);
    assert_ok(&mut con, &["FLUSHALL"]);
    assert_int(&mut con, &["DBSIZE"], 0);
    let (got, _) = scan_all(&mut con, &[]);
    assert!(got.is_empty());
}

#[test]
fn cross_core_pipeline_replies_in_order() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    let mut p = redis::pipe();
    for i in 0..200 {
        let k = format!("p{i}");
        p.cmd("SET").arg(&k).arg(i);
        p.cmd("INCR").arg(&k);
        p.cmd("GET").arg(&k);
        p.cmd("GET").arg(format!("p{}", (i + 1) % 200));
        p.cmd("EXISTS").arg(&k).arg(format!("nope{i}"));
    }
    let got: Vec<Value> = p.query(&mut con).expect("pipeline");
    assert_eq!(got.len(), 1000);
    for i in 0..200usize {
        let r = &got[i * 5..i * 5 + 5];
        assert_eq!(r[0], Value::Okay, "SET p{i}");
        assert_eq!(r[1], Value::Int(i as i64 + 1), "INCR p{i}");
        assert_eq!(r[2], bulk(&(i + 1).to_string()), "GET p{i}");
        // the next key is set later in the pipeline (except for the wrap-around)
        if i == 199 {
            assert_eq!(r[3], bulk("1"), "GET p0");
        } else {
            assert_eq!(r[3], Value::Nil, "GET p{}", i + 1);
        }
        assert_eq!(r[4], Value::Int(1), "EXISTS p{i}");
    }
    // a pipeline of single-key reads over both cores answers in order
    let mut p = redis::pipe();
    for i in (0..200).rev() {
        p.cmd("GET").arg(format!("p{i}"));
    }
    let got: Vec<String> = p.query(&mut con).expect("pipeline");
    let want: Vec<String> = (0..200).rev().map(|i| (i + 1).to_string()).collect();
    assert_eq!(got, want);
    // multi-key commands inside a pipeline too
    let keys = numbered("p", 200);
    let mut p = redis::pipe();
    p.cmd("MGET").arg(&keys);
    p.cmd("DEL").arg(&keys[..50]);
    p.cmd("EXISTS").arg(&keys);
    p.cmd("MGET").arg(&keys[..2]).arg(&keys[199]);
    let (mget, del, exists, mget2): (Vec<String>, i64, i64, Vec<Option<String>>) =
        p.query(&mut con).expect("pipeline");
    assert_eq!(mget, (1..=200).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(del, 50);
    assert_eq!(exists, 150);
    assert_eq!(mget2, vec![None, None, Some("200".to_string())]);
}

#[test]
fn cross_core_active_expiry() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    active_expiry_case(&mut con);
}

#[test]
fn cross_core_binary_multi_key() {
    let s = Server::start(2, &[]);
    let mut con = s.client();
    let keys: Vec<Vec<u8>> = (0..200u32)
        .map(|i| {
            let mut k = b"bin\0\r\n".to_vec();
            k.extend_from_slice(&i.to_le_bytes());
            k
        })
        .collect();
    let mut c = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        let mut v = b"\r\n\0".to_vec();
        v.extend_from_slice(&(i as u32).to_be_bytes());
        c.arg(k.as_slice()).arg(v);
    }
    let _: () = c.query(&mut con).expect("MSET");
    let mut c = redis::cmd("MGET");
    for k in &keys {
        c.arg(k.as_slice());
    }
    let got: Vec<Vec<u8>> = c.query(&mut con).expect("MGET");
    for (i, g) in got.iter().enumerate() {
        let mut v = b"\r\n\0".to_vec();
        v.extend_from_slice(&(i as u32).to_be_bytes());
        assert_eq!(g, &v, "value of key {i}");
    }
    let mut c = redis::cmd("DEL");
    for k in &keys {
        c.arg(k.as_slice());
    }
    let n: i64 = c.query(&mut con).expect("DEL");
    assert_eq!(n, 200);
    assert_int(&mut con, &["DBSIZE"], 0);
}
