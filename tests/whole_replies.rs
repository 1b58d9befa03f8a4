//! Whole replies of big collections through the real binary — SMEMBERS,
//! HGETALL, HKEYS, HVALS, LRANGE and the ZRANGE forms of collections many
//! pages long: every element exactly once, in RESP2 and RESP3 shapes, inside
//! MULTI and scripts, byte for byte what one op (and redis-server, where
//! installed) answers, and atomic: a reply read page by page is the
//! collection at one instant while other clients change it.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use common::{resp, Server};
use redis::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const MEMBERS: usize = 30_000;

fn fill(c: &mut redis::Connection) {
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("member:{i}")).collect();
    let _: () = redis::cmd("SADD")
        .arg("s")
        .arg(&members)
        .query(c)
        .expect("SADD");
    let pairs: Vec<(String, String)> = (0..MEMBERS)
        .map(|i| (format!("field:{i}"), format!("value:{i}")))
        .collect();
    let _: () = redis::cmd("HSET")
        .arg("h")
        .arg(&pairs)
        .query(c)
        .expect("HSET");
}

fn want_pairs() -> BTreeMap<String, String> {
    (0..MEMBERS)
        .map(|i| (format!("field:{i}"), format!("value:{i}")))
        .collect()
}

#[test]
fn big_collections_come_back_whole_in_both_protocols() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    fill(&mut c);
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg("s")
        .query(&mut c)
        .expect("SMEMBERS");
    assert_eq!(members.len(), MEMBERS, "no member twice");
    let set: BTreeSet<String> = members.into_iter().collect();
    assert_eq!(set.len(), MEMBERS);
    assert!(set.contains("member:0") && set.contains(&format!("member:{}", MEMBERS - 1)));
    let flat: Vec<String> = redis::cmd("HGETALL")
        .arg("h")
        .query(&mut c)
        .expect("HGETALL");
    assert_eq!(flat.len(), 2 * MEMBERS);
    let got: BTreeMap<String, String> = flat
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    assert_eq!(got, want_pairs());
    let fields: Vec<String> = redis::cmd("HKEYS").arg("h").query(&mut c).expect("HKEYS");
    let values: Vec<String> = redis::cmd("HVALS").arg("h").query(&mut c).expect("HVALS");
    assert_eq!(fields.len(), MEMBERS);
    // HKEYS and HVALS walk the table the same way: the i-th value is the
    // i-th field's.
    for (f, v) in fields.iter().zip(&values) {
        assert_eq!(f.replace("field", "value"), *v);
    }
    // A missing key and a wrong type, as before.
    let none: Vec<String> = redis::cmd("SMEMBERS")
        .arg("nokey")
        .query(&mut c)
        .expect("nokey");
    assert!(none.is_empty());
    let err = redis::cmd("HGETALL")
        .arg("s")
        .query::<Value>(&mut c)
        .expect_err("WRONGTYPE");
    assert_eq!(err.code(), Some("WRONGTYPE"));
    // RESP3: a map and a set of the full sizes.
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port))
        .expect("client");
    let mut c3 = client.get_connection().expect("resp3");
    match redis::cmd("HGETALL")
        .arg("h")
        .query::<Value>(&mut c3)
        .expect("HGETALL")
    {
        Value::Map(pairs) => assert_eq!(pairs.len(), MEMBERS),
        other => panic!("not a map: {:?}", std::mem::discriminant(&other)),
    }
    match redis::cmd("SMEMBERS")
        .arg("s")
        .query::<Value>(&mut c3)
        .expect("SMEMBERS")
    {
        Value::Set(members) => assert_eq!(members.len(), MEMBERS),
        other => panic!("not a set: {:?}", std::mem::discriminant(&other)),
    }
    // Inside MULTI and a script: the same replies, read at once.
    let (inside, n): (Vec<String>, i64) = redis::pipe()
        .atomic()
        .cmd("SMEMBERS")
        .arg("s")
        .cmd("SCARD")
        .arg("s")
        .query(&mut c)
        .expect("MULTI");
    assert_eq!((inside.len(), n), (MEMBERS, MEMBERS as i64));
    let from_script: i64 = redis::cmd("EVAL")
        .arg("return #redis.call('HGETALL', KEYS[1])")
        .arg(1)
        .arg("h")
        .query(&mut c)
        .expect("EVAL");
    assert_eq!(from_script, 2 * MEMBERS as i64);
}

#[test]
fn a_paged_reply_is_the_collection_at_one_instant() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    fill(&mut c);
    let stop = Arc::new(AtomicBool::new(false));
    // A writer keeps the set's size and the hash's sum fixed at every
    // instant: each MULTI swaps one member for another, and moves one unit
    // from one field to another. A reply that saw half of a swap, or the
    // table resized under it, would not add up.
    let writer = {
        let stop = stop.clone();
        let mut w = s.client();
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let i = rounds as usize % MEMBERS;
                let (gone, new) = if (rounds as usize / MEMBERS).is_multiple_of(2) {
                    (format!("member:{i}"), format!("other:{i}"))
                } else {
                    (format!("other:{i}"), format!("member:{i}"))
                };
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("SREM")
                    .arg("s")
                    .arg(&gone)
                    .ignore()
                    .cmd("SADD")
                    .arg("s")
                    .arg(&new)
                    .ignore()
                    .cmd("HINCRBY")
                    .arg("n")
                    .arg(format!("f{}", i % 7))
                    .arg(-1)
                    .ignore()
                    .cmd("HINCRBY")
                    .arg("n")
                    .arg(format!("f{}", (i + 1) % 7))
                    .arg(1)
                    .ignore()
                    .query(&mut w)
                    .expect("swap");
                rounds += 1;
            }
            rounds
        })
    };
    // "n" grows past a page of fields too.
    let pairs: Vec<(String, i64)> = (7..20_000).map(|i| (format!("f{i}"), 0)).collect();
    let _: () = redis::cmd("HSET")
        .arg("n")
        .arg(&pairs)
        .query(&mut c)
        .expect("HSET");
    for _ in 0..40 {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg("s")
            .query(&mut c)
            .expect("SMEMBERS");
        assert_eq!(members.len(), MEMBERS);
        assert_eq!(members.iter().collect::<BTreeSet<_>>().len(), MEMBERS);
        let all: BTreeMap<String, i64> = redis::cmd("HGETALL")
            .arg("n")
            .query(&mut c)
            .expect("HGETALL");
        assert_eq!(all.values().sum::<i64>(), 0, "a half-done move was seen");
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer");
    assert!(rounds > 100, "only {rounds} swaps ran meanwhile");
}

/// A set past 4,096 members grows in steps (`storage/object/table.rs`):
/// SSCAN goes on through the resizes writes cause between its calls, and
/// SMEMBERS, SCARD and SISMEMBER are exact while the table is half moved.
#[test]
fn a_set_growing_in_steps_stays_exact_under_scan() {
    let server = Server::start(2, &[]);
    let mut c = server.client();
    let first: Vec<String> = (0..7_000).map(|i| format!("m:{i}")).collect();
    let _: () = redis::cmd("SADD")
        .arg("g")
        .arg(&first)
        .query(&mut c)
        .expect("SADD");
    let (mut cursor, mut seen, mut next) = (0u64, BTreeSet::new(), first.len());
    loop {
        let (c2, page): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg("g")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .expect("SSCAN");
        seen.extend(page);
        cursor = c2;
        if cursor == 0 {
            break;
        }
        // New members between calls: the table passes 7,168 and 14,336
        // members (two stepwise resizes) while the scan walks it, then stops
        // growing (a scan slower than the table grows would never end).
        let more: Vec<String> = (next..(next + 150).min(16_000))
            .map(|i| format!("m:{i}"))
            .collect();
        next += more.len();
        if !more.is_empty() {
            let _: () = redis::cmd("SADD")
                .arg("g")
                .arg(&more)
                .query(&mut c)
                .expect("SADD");
        }
    }
    assert_eq!(next, 16_000, "the scan ended before the set grew twice");
    for m in &first {
        assert!(seen.contains(m), "SSCAN missed {m}");
    }
    let card: usize = redis::cmd("SCARD").arg("g").query(&mut c).expect("SCARD");
    assert_eq!(card, next);
    let all: Vec<String> = redis::cmd("SMEMBERS")
        .arg("g")
        .query(&mut c)
        .expect("SMEMBERS");
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(
        (all.len(), distinct.len()),
        (next, next),
        "SMEMBERS repeated a member"
    );
    for i in (0..next).step_by(997) {
        let there: bool = redis::cmd("SISMEMBER")
            .arg("g")
            .arg(format!("m:{i}"))
            .query(&mut c)
            .expect("SISMEMBER");
        assert!(there, "m:{i} lost");
    }
}

/// LRANGE of a list many pages long: any range, read page by page where the
/// list lives, is exact and at one instant while another client rotates
/// the list (RPOPLPUSH of the list onto itself keeps every element once).
#[test]
fn a_long_lrange_is_exact_and_at_one_instant() {
    const N: i64 = 20_000;
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let items: Vec<String> = (0..N).map(|i| format!("item:{i}")).collect();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg(&items)
        .query(&mut c)
        .expect("RPUSH");
    for (start, stop) in [
        (0, -1),
        (100, -100),
        (4090, 8200),
        (-5000, -1),
        (N - 1, N + 5),
    ] {
        let got: Vec<String> = redis::cmd("LRANGE")
            .arg("l")
            .arg(start)
            .arg(stop)
            .query(&mut c)
            .expect("LRANGE");
        let from = if start < 0 { N + start } else { start } as usize;
        let to = (if stop < 0 { N + stop } else { stop.min(N - 1) }) as usize;
        assert_eq!(got, items[from..=to].to_vec(), "LRANGE l {start} {stop}");
    }
    let none: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(N)
        .arg(-1)
        .query(&mut c)
        .expect("past the end");
    assert!(none.is_empty());
    // RESP3 and MULTI give the same array.
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port))
        .expect("client");
    let mut c3 = client.get_connection().expect("resp3");
    let all3: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c3)
        .expect("LRANGE resp3");
    assert_eq!(all3, items);
    let (inside,): (Vec<String>,) = redis::pipe()
        .atomic()
        .cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("MULTI");
    assert_eq!(inside, items);
    let stop = Arc::new(AtomicBool::new(false));
    let rotator = {
        let stop = stop.clone();
        let mut w = s.client();
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: String = redis::cmd("RPOPLPUSH")
                    .arg("l")
                    .arg("l")
                    .query(&mut w)
                    .expect("rotate");
                rounds += 1;
            }
            rounds
        })
    };
    for _ in 0..30 {
        let got: Vec<String> = redis::cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .expect("LRANGE");
        assert_eq!(got.len(), N as usize);
        // A rotation of the original: find where item:0 went, and every
        // element follows it in order.
        let at = got.iter().position(|x| x == "item:0").expect("item:0");
        let rotated: Vec<&String> = got[at..].iter().chain(&got[..at]).collect();
        assert!(
            rotated.iter().zip(&items).all(|(a, b)| *a == b),
            "LRANGE saw the list mid-rotation"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = rotator.join().expect("rotator");
    assert!(rounds > 50, "only {rounds} rotations ran meanwhile");
}

const ZN: usize = 20_000;

/// "z": scores in quarters from -100 up, four members on each (ties are
/// ordered by member), in the set's order.
fn z_model() -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = (0..ZN)
        .map(|i| {
            let q = (i * 7919) % 5000;
            (format!("m:{i:05}"), q as f64 / 4.0 - 100.0)
        })
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// "lex": the same members, every score 0 (what a lex range is meant for).
fn lex_model() -> Vec<(String, f64)> {
    (0..ZN).map(|i| (format!("m:{i:05}"), 0.0)).collect()
}

fn fill_zsets(c: &mut redis::Connection) {
    for (key, model) in [("z", z_model()), ("lex", lex_model())] {
        for part in model.chunks(5000) {
            let args: Vec<(f64, &str)> = part.iter().map(|(m, s)| (*s, m.as_str())).collect();
            let _: () = redis::cmd("ZADD")
                .arg(key)
                .arg(&args)
                .query(c)
                .expect("ZADD");
        }
    }
    let _: () = redis::cmd("SET").arg("str").arg("x").query(c).expect("SET");
}

/// How a range is read: ranks, or score or lex bounds (`min`, `max`, as
/// written in a command).
#[derive(Clone, Copy, Debug)]
enum By {
    Rank(i64, i64),
    Score(&'static str, &'static str),
    Lex(&'static str, &'static str),
}

/// One range query, as a model of what it covers.
#[derive(Clone, Copy, Debug)]
struct Range {
    key: &'static str,
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
    scores: bool,
}

fn score_within(s: f64, min: &str, max: &str) -> bool {
    let bound = |b: &str| -> (f64, bool) {
        match b {
            "-inf" => (f64::NEG_INFINITY, false),
            "+inf" => (f64::INFINITY, false),
            _ => match b.strip_prefix('(') {
                Some(x) => (x.parse().expect("bound"), true),
                None => (b.parse().expect("bound"), false),
            },
        }
    };
    let ((lo, lo_ex), (hi, hi_ex)) = (bound(min), bound(max));
    (if lo_ex { s > lo } else { s >= lo }) && (if hi_ex { s < hi } else { s <= hi })
}

fn lex_within(m: &str, min: &str, max: &str) -> bool {
    let above_min = match min {
        "-" => true,
        "+" => false,
        _ if min.starts_with('(') => m > &min[1..],
        _ => m >= &min[1..],
    };
    let below_max = match max {
        "+" => true,
        "-" => false,
        _ if max.starts_with('(') => m < &max[1..],
        _ => m <= &max[1..],
    };
    above_min && below_max
}

/// What the query answers, by Redis's rules, from the set in order.
fn expect(model: &[(String, f64)], q: &Range) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = match q.by {
        By::Rank(start, stop) => {
            let mut all = model.to_vec();
            if q.rev {
                all.reverse();
            }
            let n = all.len() as i64;
            let a = if start < 0 { (start + n).max(0) } else { start };
            let b = if stop < 0 { stop + n } else { stop.min(n - 1) };
            if a > b || a >= n {
                Vec::new()
            } else {
                all[a as usize..=b as usize].to_vec()
            }
        }
        By::Score(min, max) => model
            .iter()
            .filter(|(_, s)| score_within(*s, min, max))
            .cloned()
            .collect(),
        By::Lex(min, max) => model
            .iter()
            .filter(|(m, _)| lex_within(m, min, max))
            .cloned()
            .collect(),
    };
    if q.rev && !matches!(q.by, By::Rank(..)) {
        v.reverse();
    }
    match q.limit {
        Some((o, _)) if o < 0 => Vec::new(),
        Some((o, c)) => v
            .into_iter()
            .skip(o as usize)
            .take(usize::try_from(c).unwrap_or(usize::MAX))
            .collect(),
        None => v,
    }
}

/// The query as ZRANGE's options and as its older form (when it has one).
fn forms(q: &Range) -> Vec<Vec<String>> {
    let (a, b) = match q.by {
        By::Rank(start, stop) => (start.to_string(), stop.to_string()),
        // Reversed score and lex ranges are written max first.
        By::Score(min, max) | By::Lex(min, max) if q.rev => (max.to_string(), min.to_string()),
        By::Score(min, max) | By::Lex(min, max) => (min.to_string(), max.to_string()),
    };
    let limit: Vec<String> = q
        .limit
        .map(|(o, c)| vec!["LIMIT".into(), o.to_string(), c.to_string()])
        .unwrap_or_default();
    let scores: Vec<String> = if q.scores {
        vec!["WITHSCORES".into()]
    } else {
        Vec::new()
    };
    let mut modern: Vec<String> = vec!["ZRANGE".into(), q.key.into(), a.clone(), b.clone()];
    match q.by {
        By::Score(..) => modern.push("BYSCORE".into()),
        By::Lex(..) => modern.push("BYLEX".into()),
        By::Rank(..) => {}
    }
    if q.rev {
        modern.push("REV".into());
    }
    modern.extend(limit.iter().cloned());
    modern.extend(scores.iter().cloned());
    let older = match (q.by, q.rev) {
        (By::Rank(..), false) => return vec![modern],
        (By::Rank(..), true) => "ZREVRANGE",
        (By::Score(..), false) => "ZRANGEBYSCORE",
        (By::Score(..), true) => "ZREVRANGEBYSCORE",
        (By::Lex(..), false) => "ZRANGEBYLEX",
        (By::Lex(..), true) => "ZREVRANGEBYLEX",
    };
    let mut old: Vec<String> = vec![older.into(), q.key.into(), a, b];
    old.extend(scores);
    old.extend(limit);
    vec![modern, old]
}

fn range_cases() -> Vec<Range> {
    let r = |key, by, rev, limit, scores| Range {
        key,
        by,
        rev,
        limit,
        scores,
    };
    let n = ZN as i64;
    vec![
        r("z", By::Rank(0, -1), false, None, false),
        r("z", By::Rank(0, -1), false, None, true),
        r("z", By::Rank(100, -100), true, None, true),
        r("z", By::Rank(4000, 12000), true, None, false),
        // One page exactly, and one element past it.
        r("z", By::Rank(0, 4095), false, None, true),
        r("z", By::Rank(0, 4096), false, None, true),
        r("z", By::Rank(-5000, -1), false, None, true),
        r("z", By::Rank(n, -1), false, None, true),
        r("z", By::Rank(5, 2), true, None, false),
        r("z", By::Score("(10", "1000.5"), false, None, true),
        r(
            "z",
            By::Score("-inf", "+inf"),
            false,
            Some((3000, 9000)),
            true,
        ),
        r("z", By::Score("-inf", "+inf"), true, Some((5, -1)), true),
        r(
            "z",
            By::Score("50", "(1200"),
            true,
            Some((100, 10_000)),
            false,
        ),
        r("z", By::Score("-inf", "+inf"), false, Some((-1, 10)), true),
        r("z", By::Score("-100", "-100"), true, None, true),
        r(
            "z",
            By::Score("-inf", "+inf"),
            false,
            Some((19_990, 50)),
            true,
        ),
        r("lex", By::Lex("-", "+"), false, None, false),
        r(
            "lex",
            By::Lex("(m:01000", "[m:15000"),
            true,
            Some((10, 9000)),
            false,
        ),
        r(
            "lex",
            By::Lex("[m:00500", "+"),
            false,
            Some((0, 8193)),
            false,
        ),
        r("lex", By::Lex("[m:19999", "+"), true, None, false),
        r("nokey", By::Rank(0, -1), false, None, true),
        r("nokey", By::Score("-inf", "+inf"), true, None, false),
    ]
}

fn model_of(key: &str) -> Vec<(String, f64)> {
    match key {
        "z" => z_model(),
        "lex" => lex_model(),
        _ => Vec::new(),
    }
}

/// The length of the first whole RESP value in `b`; None while it is not
/// all there.
fn resp_len(b: &[u8]) -> Option<usize> {
    let eol = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..eol]).ok()?;
    let after = eol + 2;
    match b[0] {
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = head.parse().ok()?;
            let n = if b[0] == b'%' { 2 * n } else { n };
            let mut at = after;
            for _ in 0..n.max(0) {
                at += resp_len(&b[at..])?;
            }
            Some(at)
        }
        _ => Some(after),
    }
}

/// The next whole reply on a raw connection, as bytes.
fn next_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if let Some(n) = resp_len(buf) {
            return buf.drain(..n).collect();
        }
        let got = s.read(&mut chunk).expect("read a reply");
        assert!(got > 0, "the connection closed mid-reply");
        buf.extend_from_slice(&chunk[..got]);
    }
}

/// A raw connection (RESP3 after HELLO 3 when `resp3`) and its read buffer.
fn raw_to(port: u16, resp3: bool) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok();
    let mut buf = Vec::new();
    if resp3 {
        s.write_all(&resp(&[b"HELLO", b"3"])).expect("HELLO");
        let hello = next_reply(&mut s, &mut buf);
        assert_eq!(hello[0], b'%', "HELLO 3");
    }
    (s, buf)
}

fn raw_ask(s: &mut TcpStream, buf: &mut Vec<u8>, args: &[String]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    s.write_all(&resp(&args)).expect("write");
    next_reply(s, buf)
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

/// Every ZRANGE form over ranges many pages long — by rank, score and lex,
/// REV, LIMIT, WITHSCORES — answers what a model of the set says, in RESP2
/// and RESP3; the reply read in pages is byte for byte the one read by one
/// op inside MULTI, and redis-server's (where installed).
#[test]
fn long_zranges_are_exact_in_every_form_and_protocol() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    fill_zsets(&mut c);
    let client3 = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port))
        .expect("client");
    let mut c3 = client3.get_connection().expect("resp3");
    let redis = redis_server::RedisServer::start();
    match &redis {
        Some(r) => fill_zsets(&mut r.try_client().expect("a client of redis-server")),
        None => eprintln!("redis-server not installed: its byte comparison skipped"),
    }
    for q in range_cases() {
        let want = expect(&model_of(q.key), &q);
        for args in forms(&q) {
            let what = args.join(" ");
            // RESP2: members, and each score as Redis writes it.
            let flat: Vec<String> = redis::cmd(&args[0])
                .arg(&args[1..])
                .query(&mut c)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let model: Vec<String> = if q.scores {
                want.iter()
                    .flat_map(|(m, s)| [m.clone(), s.to_string()])
                    .collect()
            } else {
                want.iter().map(|(m, _)| m.clone()).collect()
            };
            assert_eq!(flat.len(), model.len(), "{what}: length");
            assert!(flat == model, "{what}: RESP2 differs from the model");
            // RESP3: [member, double] pairs with WITHSCORES.
            let v3: Value = redis::cmd(&args[0])
                .arg(&args[1..])
                .query(&mut c3)
                .unwrap_or_else(|e| panic!("{what} (RESP3): {e}"));
            let Value::Array(items) = v3 else {
                panic!("{what} (RESP3): not an array");
            };
            assert_eq!(items.len(), want.len(), "{what} (RESP3): length");
            for (item, (m, sc)) in items.iter().zip(&want) {
                let ok = match item {
                    Value::Array(pair) if q.scores => matches!(
                        &pair[..],
                        [Value::BulkString(x), Value::Double(y)] if x == m.as_bytes() && y == sc
                    ),
                    Value::BulkString(x) => !q.scores && x == m.as_bytes(),
                    _ => false,
                };
                assert!(ok, "{what} (RESP3): {item:?} where {m} {sc} was due");
            }
        }
    }
    // Byte for byte: paged, one op (MULTI), redis-server; wrong types too.
    let mut raw_cases: Vec<Vec<String>> = range_cases().iter().flat_map(forms).collect();
    raw_cases.push(vec!["ZRANGE".into(), "str".into(), "0".into(), "-1".into()]);
    raw_cases.push(
        ["ZRANGEBYSCORE", "str", "-inf", "+inf", "WITHSCORES"]
            .map(String::from)
            .to_vec(),
    );
    for resp3 in [false, true] {
        let (mut ours, mut ours_buf) = raw_to(s.port, resp3);
        let mut theirs = redis.as_ref().map(|r| raw_to(r.port, resp3));
        for args in &raw_cases {
            let what = format!("{} (RESP{})", args.join(" "), if resp3 { 3 } else { 2 });
            let paged = raw_ask(&mut ours, &mut ours_buf, args);
            assert_eq!(
                raw_ask(&mut ours, &mut ours_buf, &["MULTI".into()]),
                b"+OK\r\n"
            );
            assert_eq!(raw_ask(&mut ours, &mut ours_buf, args), b"+QUEUED\r\n");
            let exec = raw_ask(&mut ours, &mut ours_buf, &["EXEC".into()]);
            let mut one_op = b"*1\r\n".to_vec();
            one_op.extend_from_slice(&paged);
            assert!(
                exec == one_op,
                "{what}: paged {} vs one op {}",
                show(&paged),
                show(&exec)
            );
            if let Some((r, r_buf)) = theirs.as_mut() {
                let redis_says = raw_ask(r, r_buf, args);
                assert!(
                    redis_says == paged,
                    "{what}: ours {} vs redis-server's {}",
                    show(&paged),
                    show(&redis_says)
                );
            }
        }
    }
    // A script reads the range by one op and sees Redis's conversion.
    let from_script: Vec<String> = redis::cmd("EVAL")
        .arg("return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')")
        .arg(1)
        .arg("z")
        .query(&mut c)
        .expect("EVAL");
    let model: Vec<String> = z_model()
        .into_iter()
        .flat_map(|(m, s)| [m, s.to_string()])
        .collect();
    assert!(from_script == model, "ZRANGE inside a script");
    let (inside,): (Vec<String>,) = redis::pipe()
        .atomic()
        .cmd("ZREVRANGEBYLEX")
        .arg("lex")
        .arg("+")
        .arg("-")
        .query(&mut c)
        .expect("MULTI");
    let mut rev: Vec<String> = lex_model().into_iter().map(|(m, _)| m).collect();
    rev.reverse();
    assert!(inside == rev, "ZREVRANGEBYLEX inside MULTI");
}

/// A ZRANGE many pages long is the set at one instant while another client
/// keeps moving scores: each MULTI adds 1 to one member's score and takes 1
/// from another's, so the sum of the scores is fixed at every instant, and
/// a reply that saw half a move (or a member moved across a page) would
/// not add up.
#[test]
fn a_long_zrange_is_the_set_at_one_instant() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let pairs: Vec<(i64, String)> = (0..ZN as i64)
        .map(|i| (i % 1000, format!("m:{i}")))
        .collect();
    let _: () = redis::cmd("ZADD")
        .arg("z")
        .arg(&pairs)
        .query(&mut c)
        .expect("ZADD");
    let sum: i64 = pairs.iter().map(|(s, _)| s).sum();
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut w = s.client();
        std::thread::spawn(move || {
            let mut rounds = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let up = (rounds * 7919) % ZN;
                let down = (up + 1 + rounds % (ZN - 1)) % ZN;
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("ZINCRBY")
                    .arg("z")
                    .arg(1)
                    .arg(format!("m:{up}"))
                    .ignore()
                    .cmd("ZINCRBY")
                    .arg("z")
                    .arg(-1)
                    .arg(format!("m:{down}"))
                    .ignore()
                    .query(&mut w)
                    .expect("move");
                rounds += 1;
            }
            rounds
        })
    };
    let client3 = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", s.port))
        .expect("client");
    let mut c3 = client3.get_connection().expect("resp3");
    let forms: [&[&str]; 3] = [
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"],
        &[
            "ZRANGE",
            "z",
            "+inf",
            "-inf",
            "BYSCORE",
            "REV",
            "WITHSCORES",
        ],
    ];
    for round in 0..30 {
        let args = forms[round % forms.len()];
        let got: Vec<(String, f64)> = if round % 2 == 0 {
            redis::cmd(args[0])
                .arg(&args[1..])
                .query(&mut c)
                .expect("ZRANGE")
        } else {
            match redis::cmd(args[0])
                .arg(&args[1..])
                .query::<Value>(&mut c3)
                .expect("ZRANGE (RESP3)")
            {
                Value::Array(items) => items
                    .into_iter()
                    .map(|p| match p {
                        Value::Array(p) => match &p[..] {
                            [Value::BulkString(m), Value::Double(s)] => {
                                (String::from_utf8_lossy(m).into_owned(), *s)
                            }
                            other => panic!("not a pair: {other:?}"),
                        },
                        other => panic!("not a pair: {other:?}"),
                    })
                    .collect(),
                other => panic!("not an array: {other:?}"),
            }
        };
        assert_eq!(got.len(), ZN, "{args:?}: members");
        let distinct: BTreeSet<&String> = got.iter().map(|(m, _)| m).collect();
        assert_eq!(distinct.len(), ZN, "{args:?}: a member twice");
        let total: f64 = got.iter().map(|(_, s)| s).sum();
        assert_eq!(total, sum as f64, "{args:?}: a half-done move was seen");
        let rev = args.contains(&"REV");
        let in_order = got.windows(2).all(|w| {
            let (a, b) = if rev { (&w[1], &w[0]) } else { (&w[0], &w[1]) };
            a.1 < b.1 || (a.1 == b.1 && a.0 < b.0)
        });
        assert!(in_order, "{args:?}: out of order");
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = mover.join().expect("mover");
    assert!(rounds > 50, "only {rounds} moves ran meanwhile");
}
