mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;
#[path = "common/cmds.rs"]
mod cmds;
use cmds::{cmd, e, q, sorted, WRONGTYPE};

// SORT and SORT_RO through the real binary: numeric, ALPHA, DESC and LIMIT
// over lists, sets and sorted sets; BY and GET patterns (string keys, hash
// fields, `#`, BY without `*`); STORE onto any type and any core, with its
// keyspace events; errors in Redis's order; atomicity while the keys its
// patterns form change under it (cross-core, MULTI and scripts); and a
// randomized comparison with redis-server 7.0 when it is installed.

use common::{config_set, keys_on_each_core, Server};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use redis::{Connection, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A SORT's reply with nils as `None`.
fn opt(con: &mut Connection, args: &[&str]) -> Vec<Option<String>> {
    q(con, args)
}

#[test]
fn sorts_lists_sets_and_sorted_sets() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(
        &mut c,
        &["RPUSH", "l", "3", "1", "2", "10", "-1.5", "1e1", "2"],
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l"]),
        strs(&["-1.5", "1", "2", "2", "3", "10", "1e1"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "DESC"]),
        strs(&["1e1", "10", "3", "2", "2", "1", "-1.5"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "ALPHA"]),
        strs(&["-1.5", "1", "10", "1e1", "2", "2", "3"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "ALPHA", "DESC", "LIMIT", "1", "2"]),
        strs(&["2", "2"])
    );
    // LIMIT clamps as Redis's: negative offset 0, negative count all.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "LIMIT", "-5", "2"]),
        strs(&["-1.5", "1"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "LIMIT", "5", "-1"]),
        strs(&["10", "1e1"])
    );
    assert!(q::<Vec<String>>(&mut c, &["SORT", "l", "LIMIT", "7", "1"]).is_empty());
    assert!(q::<Vec<String>>(&mut c, &["SORT", "l", "LIMIT", "0", "0"]).is_empty());
    // The source is untouched.
    assert_eq!(q::<i64>(&mut c, &["LLEN", "l"]), 7);

    // Sets, small (an intset, a listpack) and big (a table).
    q::<i64>(&mut c, &["SADD", "si", "5", "-3", "100", "7"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "si"]),
        strs(&["-3", "5", "7", "100"])
    );
    q::<i64>(&mut c, &["SADD", "sa", "pear", "apple", "fig"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "sa", "ALPHA", "DESC"]),
        strs(&["pear", "fig", "apple"])
    );
    let big: Vec<String> = (0..1000).map(|i| (i * 7919 % 1000).to_string()).collect();
    redis::cmd("SADD")
        .arg("sbig")
        .arg(&big)
        .query::<i64>(&mut c)
        .expect("SADD");
    let got: Vec<i64> = q(&mut c, &["SORT", "sbig", "LIMIT", "10", "5"]);
    assert_eq!(got, vec![10, 11, 12, 13, 14]);

    // A sorted set sorts by its members, not its scores.
    q::<i64>(&mut c, &["ZADD", "z", "1", "30", "2", "20", "3", "10"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "z"]),
        strs(&["10", "20", "30"])
    );
    // A missing key sorts as empty.
    assert!(q::<Vec<String>>(&mut c, &["SORT", "nokey", "ALPHA"]).is_empty());
    assert!(q::<Vec<String>>(&mut c, &["SORT_RO", "nokey"]).is_empty());
    // Equal numbers are ordered by the elements' bytes.
    q::<i64>(&mut c, &["RPUSH", "ties", "1.0", "1", "01", "0x1", " 1"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "ties"]),
        strs(&[" 1", "01", "0x1", "1", "1.0"])
    );
}

#[test]
fn by_and_get_patterns() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c", "d"]);
    q::<String>(
        &mut c,
        &[
            "MSET", "w_a", "3", "w_b", "1", "w_c", "2", "o_a", "A", "o_c", "C",
        ],
    );
    // BY a string key; a missing weight (d) is 0.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "BY", "w_*"]),
        strs(&["d", "b", "c", "a"])
    );
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["SORT", "l", "BY", "w_*", "DESC", "LIMIT", "0", "2"]
        ),
        strs(&["a", "c"])
    );
    // ALPHA BY: a missing weight comes first.
    q::<String>(&mut c, &["MSET", "n_a", "x", "n_b", "y", "n_c", "w"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "BY", "n_*", "ALPHA"]),
        strs(&["d", "c", "a", "b"])
    );
    // A weight that is no number.
    assert_eq!(
        e(&mut c, &["SORT", "l", "BY", "n_*"]),
        "ERR One or more scores can't be converted into double"
    );
    // BY a hash field; a key of another type is missing.
    for (k, v) in [("a", "20"), ("b", "10"), ("c", "30")] {
        q::<i64>(
            &mut c,
            &["HSET", &format!("h_{k}"), "f", v, "g", &format!("G{k}")],
        );
    }
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "BY", "h_*->f"]),
        strs(&["d", "b", "a", "c"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "BY", "o_*->f", "DESC"]),
        strs(&["d", "c", "b", "a"])
    );
    // GET: `#`, a string, a hash field, a pattern without `*`; nil when missing.
    assert_eq!(
        opt(
            &mut c,
            &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "o_*", "GET", "h_*->g", "GET", "x"]
        ),
        vec![
            Some("d".into()),
            None,
            None,
            None,
            Some("b".into()),
            None,
            Some("Gb".into()),
            None,
            Some("c".into()),
            Some("C".into()),
            Some("Gc".into()),
            None,
            Some("a".into()),
            Some("A".into()),
            Some("Ga".into()),
            None,
        ]
    );
    // GET of a hash as a string, of a string as a hash: nil.
    assert_eq!(
        opt(
            &mut c,
            &["SORT", "l", "ALPHA", "GET", "h_*", "GET", "o_*->f", "LIMIT", "0", "1"]
        ),
        vec![None, None]
    );
    // BY without `*`: no sort. A list keeps its order, DESC turns it round.
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"]
        ),
        strs(&["c", "b"])
    );
    // ... and once any BY lacks `*`, a later one does not sort either.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "l", "BY", "nosort", "BY", "w_*"]),
        strs(&["a", "b", "c", "d"])
    );
    // A sorted set keeps its rank order, LIMIT taken there.
    q::<i64>(&mut c, &["ZADD", "z", "3", "a", "1", "b", "2", "c"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT", "z", "BY", "nosort"]),
        strs(&["b", "c", "a"])
    );
    assert_eq!(
        opt(
            &mut c,
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "5", "GET", "o_*"]
        ),
        vec![Some("C".into()), None]
    );
    // A set is answered in its own order, but sorted when stored.
    q::<i64>(&mut c, &["SADD", "s", "c", "a", "b"]);
    assert_eq!(
        sorted(q::<Vec<String>>(&mut c, &["SORT", "s", "BY", "nosort"])),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        q::<i64>(&mut c, &["SORT", "s", "BY", "nosort", "STORE", "d"]),
        3
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "d", "0", "-1"]),
        strs(&["a", "b", "c"])
    );
    // Patterns with the element in the middle, and a `->` with no field.
    q::<String>(
        &mut c,
        &["MSET", "pre:b:post", "1", "pre:a:post", "2", "k_a->", "z"],
    );
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["SORT", "l", "BY", "pre:*:post", "LIMIT", "2", "2"]
        ),
        strs(&["b", "a"])
    );
    assert_eq!(
        opt(
            &mut c,
            &["SORT", "l", "ALPHA", "GET", "k_*->", "LIMIT", "0", "2"]
        ),
        vec![Some("z".into()), None]
    );
}

#[test]
fn store_makes_a_list_on_any_core() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = keys_on_each_core(&mut c, 4, "st");
    // Source on core 0, weights and GET keys on both, destination on core 1.
    let src = &here[0];
    let elems: Vec<&str> = vec![&here[1], &there[1], &here[2], &there[2]];
    let mut push = vec!["RPUSH", src];
    push.extend(&elems);
    q::<i64>(&mut c, &push);
    for (i, e) in elems.iter().enumerate() {
        q::<String>(&mut c, &["SET", &format!("w{e}"), &(10 - i).to_string()]);
        if i % 2 == 0 {
            q::<String>(&mut c, &["SET", &format!("v{e}"), &format!("V{i}")]);
        }
    }
    // The destination holds a string with a TTL: it becomes a list, no TTL.
    let dst = &there[0];
    q::<String>(&mut c, &["SET", dst, "old", "EX", "100"]);
    assert_eq!(
        q::<i64>(
            &mut c,
            &["SORT", src, "BY", "w*", "GET", "v*", "GET", "#", "STORE", dst]
        ),
        8
    );
    assert_eq!(q::<String>(&mut c, &["TYPE", dst]), "list");
    assert_eq!(q::<i64>(&mut c, &["TTL", dst]), -1);
    // A missing GET is stored as an empty string.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", dst, "0", "-1"]),
        vec![
            String::new(),
            elems[3].to_string(),
            "V2".into(),
            elems[2].to_string(),
            String::new(),
            elems[1].to_string(),
            "V0".into(),
            elems[0].to_string(),
        ]
    );
    // Onto a set, a hash and a sorted set on the other core, and onto the source.
    q::<i64>(&mut c, &["SADD", &there[1], "x"]);
    q::<i64>(&mut c, &["HSET", &there[2], "f", "v"]);
    q::<i64>(&mut c, &["ZADD", &there[3], "1", "m"]);
    for d in [&there[1], &there[2], &there[3], src] {
        assert_eq!(q::<i64>(&mut c, &["SORT", src, "ALPHA", "STORE", d]), 4);
        assert_eq!(q::<String>(&mut c, &["TYPE", d]), "list");
    }
    let mut want: Vec<String> = elems.iter().map(|e| e.to_string()).collect();
    want.sort();
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", src, "0", "-1"]), want);
    // A big result is a quicklist.
    let many: Vec<String> = (0..3000).map(|i| format!("{i}")).collect();
    redis::cmd("RPUSH")
        .arg(&here[3])
        .arg(&many)
        .query::<i64>(&mut c)
        .expect("RPUSH");
    assert_eq!(
        q::<i64>(&mut c, &["SORT", &here[3], "DESC", "STORE", dst]),
        3000
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", dst]),
        "quicklist"
    );
    assert_eq!(q::<String>(&mut c, &["LINDEX", dst, "0"]), "2999");
    assert_eq!(q::<String>(&mut c, &["LINDEX", dst, "-1"]), "0");
    // An empty result deletes the destination and answers 0.
    assert_eq!(
        q::<i64>(
            &mut c,
            &["SORT", src, "ALPHA", "LIMIT", "9", "9", "STORE", dst]
        ),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", dst]), 0);
    assert_eq!(q::<i64>(&mut c, &["SORT", "nokey", "STORE", dst]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", dst]), 0);
    // An error stores nothing.
    q::<String>(&mut c, &["SET", dst, "kept"]);
    q::<i64>(&mut c, &["RPUSH", "bad", "1", "x"]);
    assert_eq!(
        e(&mut c, &["SORT", "bad", "STORE", dst]),
        "ERR One or more scores can't be converted into double"
    );
    assert_eq!(q::<String>(&mut c, &["GET", dst]), "kept");
}

#[test]
fn a_stored_list_serves_a_waiter_and_is_logged() {
    let dir = common::TempDir::new("sort-persist");
    let flags = dir.logged_always();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    let [here, there] = keys_on_each_core(&mut c, 2, "p");
    q::<i64>(&mut c, &["RPUSH", &here[0], "3", "1", "2"]);
    q::<String>(&mut c, &["SET", &there[1], "gone"]);
    // A client waits on the destination (another core): the stored list serves it.
    let mut waiter = s.client();
    let dst = there[0].clone();
    let popped =
        std::thread::spawn(move || -> Vec<String> { q(&mut waiter, &["BLPOP", &dst, "10"]) });
    let until = Instant::now() + Duration::from_secs(10);
    while common::info_num(&mut c, "clients", "blocked_clients") == 0 {
        assert!(Instant::now() < until, "BLPOP never waited");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(q::<i64>(&mut c, &["SORT", &here[0], "STORE", &there[0]]), 3);
    assert_eq!(
        popped.join().expect("waiter"),
        vec![there[0].clone(), "1".into()]
    );
    assert_eq!(
        q::<i64>(&mut c, &["SORT", &here[0], "DESC", "STORE", &here[1]]),
        3
    );
    assert_eq!(q::<i64>(&mut c, &["SORT", "nokey", "STORE", &there[1]]), 0);
    s.kill9();
    let s = Server::start(2, &flags);
    let mut c = s.client();
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", &there[0], "0", "-1"]),
        strs(&["2", "3"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", &here[1], "0", "-1"]),
        strs(&["3", "2", "1"])
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", &there[1]]), 0);
}

#[test]
fn store_is_announced_as_redis_does() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    config_set(&mut c, "notify-keyspace-events", "KEA");
    let mut sub = s.client();
    sub.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").expect("psubscribe");
    q::<i64>(&mut c, &["RPUSH", "l", "2", "1"]);
    q::<i64>(&mut c, &["SORT", "l", "STORE", "d"]);
    q::<i64>(&mut c, &["SORT", "l", "STORE", "d"]);
    q::<i64>(&mut c, &["SORT", "nokey", "STORE", "d"]);
    // Nothing to delete: no event.
    q::<i64>(&mut c, &["SORT", "nokey", "STORE", "d"]);
    q::<Vec<String>>(&mut c, &["SORT", "l"]);
    q::<i64>(&mut c, &["DEL", "l"]);
    let want = [
        ("rpush", "l"),
        ("sortstore", "d"),
        ("sortstore", "d"),
        ("del", "d"),
        ("del", "l"),
    ];
    for (name, key) in want {
        let m = ps.get_message().expect("event");
        assert_eq!(m.get_channel_name(), format!("__keyevent@0__:{name}"));
        assert_eq!(m.get_payload::<String>().expect("payload"), key);
    }
}

#[test]
fn sort_ro_and_errors() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["RPUSH", "l", "2", "x", "1"]);
    q::<i64>(&mut c, &["RPUSH", "n", "2", "3", "1"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT_RO", "n", "DESC"]),
        strs(&["3", "2", "1"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SORT_RO", "l", "ALPHA", "GET", "#"]),
        strs(&["1", "2", "x"])
    );
    assert_eq!(
        e(&mut c, &["SORT_RO", "n", "STORE", "d"]),
        "ERR syntax error"
    );
    assert_eq!(
        e(&mut c, &["SORT", "l"]),
        "ERR One or more scores can't be converted into double"
    );
    assert_eq!(
        e(&mut c, &["SORT_RO", "l", "LIMIT", "0", "1"]),
        "ERR One or more scores can't be converted into double"
    );
    for (k, make) in [
        ("str", &["SET", "str", "v"][..]),
        ("hash", &["HSET", "hash", "f", "v"][..]),
    ] {
        let _: Value = cmd(make).query(&mut c).expect("make");
        assert_eq!(e(&mut c, &["SORT", k]), WRONGTYPE);
        assert_eq!(e(&mut c, &["SORT_RO", k]), WRONGTYPE);
        assert_eq!(e(&mut c, &["SORT", k, "STORE", "d"]), WRONGTYPE);
        assert_eq!(
            e(&mut c, &["SORT", k, "BY", "w_*", "GET", "o_*"]),
            WRONGTYPE
        );
    }
    // Option errors come before the type.
    assert_eq!(e(&mut c, &["SORT", "str", "NOPE"]), "ERR syntax error");
    assert_eq!(e(&mut c, &["SORT", "l", "LIMIT", "1"]), "ERR syntax error");
    assert_eq!(e(&mut c, &["SORT", "l", "STORE"]), "ERR syntax error");
    assert_eq!(e(&mut c, &["SORT", "l", "BY"]), "ERR syntax error");
    assert_eq!(e(&mut c, &["SORT", "l", "GET"]), "ERR syntax error");
    assert_eq!(
        e(&mut c, &["SORT", "l", "LIMIT", "x", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["SORT"]),
        "ERR wrong number of arguments for 'sort' command"
    );
}

/// The same permutation of 1..=n as weights (`w_<e>`) and as values
/// (`o_<e>`) of both element sets, in one transaction: a SORT that sees
/// them at one instant answers 1..=n.
fn shuffle_weights(c: &mut Connection, rng: &mut StdRng, n: usize) {
    let mut p = redis::pipe();
    p.atomic();
    for set in ["e", "f"] {
        let mut perm: Vec<usize> = (1..=n).collect();
        perm.shuffle(rng);
        for (i, v) in perm.iter().enumerate() {
            p.cmd("SET").arg(format!("w_{set}{i}")).arg(v).ignore();
            p.cmd("SET").arg(format!("o_{set}{i}")).arg(v).ignore();
        }
    }
    let _: () = p.query(c).expect("MULTI");
}

#[test]
fn stays_atomic_while_its_keys_change_on_both_cores() {
    let s = Server::start(2, &[]);
    let n = 12;
    let mut c = s.client();
    let mut rng = StdRng::seed_from_u64(7);
    shuffle_weights(&mut c, &mut rng, n);
    let elems = move |set: &str| -> Vec<String> { (0..n).map(|i| format!("{set}{i}")).collect() };
    redis::cmd("RPUSH")
        .arg("l")
        .arg(elems("e"))
        .query::<i64>(&mut c)
        .expect("RPUSH");
    let want: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    // One changes the weights, one swaps the list's elements (a set of
    // keys the SORT did not hold), each atomically.
    for w in 0..2u64 {
        let (mut c, stop) = (s.client(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(100 + w);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                if w == 0 {
                    shuffle_weights(&mut c, &mut rng, n);
                } else {
                    let set = if i % 2 == 0 { "f" } else { "e" };
                    let mut p = redis::pipe();
                    p.atomic().cmd("DEL").arg("l").ignore();
                    p.cmd("RPUSH").arg("l").arg(elems(set)).ignore();
                    let _: () = p.query(&mut c).expect("swap");
                }
                i += 1;
            }
        }));
    }
    let until = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0;
    while Instant::now() < until || rounds < 50 {
        let got: Vec<String> = q(&mut c, &["SORT", "l", "BY", "w_*", "GET", "o_*"]);
        assert_eq!(got, want, "SORT saw weights and values of two instants");
        let stored: i64 = q(
            &mut c,
            &["SORT", "l", "BY", "w_*", "GET", "o_*", "STORE", "dst"],
        );
        assert_eq!(stored, n as i64);
        assert_eq!(
            q::<Vec<String>>(&mut c, &["LRANGE", "dst", "0", "-1"]),
            want
        );
        // Inside MULTI, the transaction holds what the patterns form.
        let mut p = redis::pipe();
        p.atomic()
            .cmd("SORT")
            .arg("l")
            .arg("BY")
            .arg("w_*")
            .arg("GET")
            .arg("o_*")
            .cmd("SORT_RO")
            .arg("l")
            .arg("BY")
            .arg("o_*")
            .arg("GET")
            .arg("w_*");
        let (a, b): (Vec<String>, Vec<String>) = p.query(&mut c).expect("EXEC");
        assert_eq!((&a, &b), (&want, &want));
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
}

#[test]
fn a_big_sort_by_patterns_holds_every_core() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // More keys than are held one by one: 6000 weights and values.
    let n = 3000;
    let elems: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    redis::cmd("RPUSH")
        .arg("big")
        .arg(&elems)
        .query::<i64>(&mut c)
        .expect("RPUSH");
    let mut mset = redis::cmd("MSET");
    for (i, e) in elems.iter().enumerate() {
        // Weights run backwards; the last ten elements have none (0).
        if i < n - 10 {
            mset.arg(format!("w_{e}")).arg(n - i);
        }
        mset.arg(format!("o_{e}")).arg(i);
    }
    mset.query::<()>(&mut c).expect("MSET");
    let got: Vec<i64> = q(
        &mut c,
        &["SORT", "big", "BY", "w_*", "GET", "o_*", "LIMIT", "8", "4"],
    );
    assert_eq!(got, vec![2998, 2999, 2989, 2988]);
    assert_eq!(
        q::<i64>(
            &mut c,
            &["SORT", "big", "BY", "w_*", "DESC", "GET", "o_*", "STORE", "d"]
        ),
        n as i64
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LRANGE", "d", "0", "1"]),
        vec![0, 1]
    );
}

#[test]
fn scripts_sort_the_keys_they_declare() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["RPUSH", "l", "a", "b"]);
    q::<String>(&mut c, &["MSET", "w_a", "2", "w_b", "1"]);
    q::<i64>(&mut c, &["SADD", "s", "y", "x", "z"]);
    let script = "return redis.call('SORT', KEYS[1], 'BY', KEYS[2])";
    // Formed keys the script declared.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["EVAL", script, "4", "l", "w_*", "w_a", "w_b"]),
        strs(&["b", "a"])
    );
    // One it did not: refused, as any key it did not declare.
    let err = e(&mut c, &["EVAL", script, "3", "l", "w_*", "w_a"]);
    assert!(err.contains("non local key"), "{err}");
    // A set a script does not sort is sorted ALPHA, as Redis does.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["EVAL", script, "2", "s", "nosort"]),
        strs(&["x", "y", "z"])
    );
    let store = "return redis.call('SORT', KEYS[1], 'ALPHA', 'DESC', 'STORE', KEYS[2])";
    assert_eq!(q::<i64>(&mut c, &["EVAL", store, "2", "l", "d"]), 2);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "d", "0", "-1"]),
        strs(&["b", "a"])
    );
    assert_eq!(q::<i64>(&mut c, &["EVAL", store, "2", "nokey", "d"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "d"]), 0);
    let err = e(
        &mut c,
        &["EVAL", "return redis.call('SORT', 'l', 'STORE', 'd')", "0"],
    );
    assert!(err.contains("non local key"), "{err}");
}

/// The same setup command on both servers, answered alike.
fn both(ours: &mut Connection, theirs: &mut Connection, args: &[&str]) {
    let a: Vec<Vec<u8>> = args.iter().map(|s| b(s)).collect();
    assert_eq!(reply(ours, &a), reply(theirs, &a), "setup {args:?}");
}

/// A reply, or the error's text, for comparing two servers.
fn reply(con: &mut Connection, args: &[Vec<u8>]) -> Result<Value, String> {
    let mut c = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("SORT"));
    for a in &args[1..] {
        c.arg(&a[..]);
    }
    c.query::<Value>(con)
        .map_err(|e| match (e.code(), e.detail()) {
            (Some(code), Some(d)) => format!("{code} {d}"),
            _ => e.to_string(),
        })
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A reply's elements as sorted text (a set left unsorted comes in each
/// server's own table order).
fn as_multiset(v: &Result<Value, String>) -> Vec<String> {
    match v {
        Ok(Value::Array(items)) => {
            let mut out: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            out.sort();
            out
        }
        other => vec![format!("{other:?}")],
    }
}

const NUMBERS: &[&str] = &[
    "1", "2", "3", "10", "-1", "0", "1.5", "-2.5", "007", "1e2", "0x10", " 4", "+5", "inf", "-inf",
    "3.0", "1e-3",
];
const WORDS: &[&str] = &[
    "a", "b", "c", "ab", "B", "Z", "", "a b", "é", "zz", "10", "9",
];

#[test]
fn sorts_as_redis_server_does() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    let mut r = redis.try_client().expect("redis-server");
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let seed: u64 = std::env::var("SORT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_260_101);
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..400 {
        for con in [&mut c, &mut r] {
            let _: () = redis::cmd("FLUSHALL").query(con).expect("FLUSHALL");
        }
        // The source: numbers, words or both; a list (with repeats), a set,
        // a sorted set, sometimes a hash or nothing.
        let pool: Vec<&str> = match rng.gen_range(0..4) {
            0 | 1 => NUMBERS.to_vec(),
            2 => WORDS.to_vec(),
            _ => NUMBERS.iter().chain(WORDS).copied().collect(),
        };
        let n = rng.gen_range(0..12);
        let elems: Vec<&str> = (0..n).map(|_| pool[rng.gen_range(0..pool.len())]).collect();
        let kind = rng.gen_range(0..10);
        let mut distinct: Vec<&str> = elems.clone();
        distinct.sort();
        distinct.dedup();
        if !elems.is_empty() {
            let scores: Vec<String> = (0..elems.len())
                .map(|_| rng.gen_range(0..4).to_string())
                .collect();
            let make: Vec<&str> = match kind {
                0..=3 => ["RPUSH", "src"]
                    .into_iter()
                    .chain(elems.iter().copied())
                    .collect(),
                4..=6 => ["SADD", "src"]
                    .into_iter()
                    .chain(elems.iter().copied())
                    .collect(),
                7 | 8 => ["ZADD", "src"]
                    .into_iter()
                    .chain(
                        scores
                            .iter()
                            .zip(&elems)
                            .flat_map(|(s, e)| [s.as_str(), *e]),
                    )
                    .collect(),
                _ => vec!["HSET", "src", "f", "v"],
            };
            both(&mut c, &mut r, &make);
        }
        // Weights: numbers (some missing, some not numbers); for ALPHA BY,
        // distinct words so that no two tie (Redis leaves ties unordered).
        let alpha = rng.gen_bool(0.4);
        let by_kind = rng.gen_range(0..5);
        let mut words: Vec<String> = (0..distinct.len()).map(|i| format!("w{i:02}")).collect();
        words.shuffle(&mut rng);
        for (i, e) in distinct.iter().enumerate() {
            let w = if alpha {
                words[i].clone()
            } else if rng.gen_bool(0.05) {
                "nope".into()
            } else {
                rng.gen_range(-5..5).to_string()
            };
            let missing = !alpha && rng.gen_bool(0.2);
            if !missing {
                both(&mut c, &mut r, &["SET", &format!("w_{e}"), &w]);
                both(&mut c, &mut r, &["HSET", &format!("h_{e}"), "f", &w]);
            }
            if rng.gen_bool(0.7) {
                both(
                    &mut c,
                    &mut r,
                    &["SET", &format!("o_{e}"), &format!("O{e}")],
                );
                both(
                    &mut c,
                    &mut r,
                    &["HSET", &format!("h_{e}"), "g", &format!("G{e}")],
                );
            }
        }
        // The options, in a random order.
        let mut opts: Vec<Vec<String>> = Vec::new();
        match by_kind {
            1 => opts.push(vec!["BY".into(), "w_*".into()]),
            2 => opts.push(vec!["BY".into(), "h_*->f".into()]),
            3 => opts.push(vec!["BY".into(), "nosort".into()]),
            _ => {}
        }
        let limit = rng.gen_bool(0.4);
        if limit {
            opts.push(vec![
                "LIMIT".into(),
                rng.gen_range(-2..8).to_string(),
                rng.gen_range(-2..8).to_string(),
            ]);
        }
        for _ in 0..rng.gen_range(0..3) {
            let g = ["#", "o_*", "h_*->g", "h_*->f", "w_*", "nostar"][rng.gen_range(0..6)];
            opts.push(vec!["GET".into(), g.into()]);
        }
        if rng.gen_bool(0.5) {
            opts.push(vec![if rng.gen_bool(0.5) { "DESC" } else { "ASC" }.into()]);
        }
        if alpha {
            opts.push(vec!["ALPHA".into()]);
        }
        let store = rng.gen_bool(0.3);
        if store {
            let dst = ["d1", "d2", "src", "w_a"][rng.gen_range(0..4)];
            if rng.gen_bool(0.3) {
                both(&mut c, &mut r, &["SET", dst, "old"]);
            }
            opts.push(vec!["STORE".into(), dst.into()]);
        }
        opts.shuffle(&mut rng);
        let mut args = vec![
            if store || rng.gen_bool(0.5) {
                "SORT"
            } else {
                "SORT_RO"
            }
            .to_string(),
            "src".into(),
        ];
        args.extend(opts.into_iter().flatten());
        let a: Vec<Vec<u8>> = args.iter().map(|s| b(s)).collect();
        let (ours, theirs) = (reply(&mut c, &a), reply(&mut r, &a));
        let unsorted_set = (4..=6).contains(&kind) && by_kind == 3 && !store;
        if unsorted_set {
            // Each server's own order: the same elements (or as many).
            if limit {
                assert_eq!(
                    as_multiset(&ours).len(),
                    as_multiset(&theirs).len(),
                    "round {round} (seed {seed}): {args:?}"
                );
            } else {
                assert_eq!(
                    as_multiset(&ours),
                    as_multiset(&theirs),
                    "round {round} (seed {seed}): {args:?}"
                );
            }
        } else {
            assert_eq!(ours, theirs, "round {round} (seed {seed}): {args:?}");
        }
        if store {
            let dst = &args[args.iter().position(|a| a == "STORE").unwrap_or(0) + 1];
            for check in [vec!["TYPE", dst], vec!["LRANGE", dst, "0", "-1"]] {
                let a: Vec<Vec<u8>> = check.iter().map(|s| b(s)).collect();
                assert_eq!(
                    reply(&mut c, &a),
                    reply(&mut r, &a),
                    "round {round} (seed {seed}): {args:?} then {check:?}"
                );
            }
        }
    }
    // Scripts sort a set they would not otherwise.
    for con in [&mut c, &mut r] {
        let _: () = redis::cmd("FLUSHALL").query(con).expect("FLUSHALL");
        let _: i64 = cmd(&["SADD", "s", "b", "c", "a"]).query(con).expect("SADD");
    }
    let eval = [
        "EVAL",
        "return redis.call('SORT', KEYS[1], 'BY', 'x')",
        "1",
        "s",
    ];
    let a: Vec<Vec<u8>> = eval.iter().map(|s| b(s)).collect();
    assert_eq!(reply(&mut c, &a), reply(&mut r, &a));
}
