//! Whole replies of big collections through the real binary — SMEMBERS,
//! HGETALL, HKEYS, HVALS and LRANGE of collections many pages long: every element
//! exactly once, in RESP2 and RESP3 shapes, inside MULTI and scripts, and
//! atomic: a reply read page by page is the collection at one instant while
//! other clients change it.

mod common;

use common::Server;
use redis::Value;
use std::collections::{BTreeMap, BTreeSet};
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
