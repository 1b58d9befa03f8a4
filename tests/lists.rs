mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;
#[path = "common/cmds.rs"]
mod cmds;
use cmds::{e, q, WRONGTYPE};

// Lists through the real binary (first step of issue 22): the one-key list
// commands with Redis 7's replies and error texts, both encodings and the
// conversion between them, WRONGTYPE both ways, keyspace events,
// persistence through the logs and a snapshot, and a randomized model while
// the staircase moves.

use common::{config_set, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::Value;
use std::collections::{HashMap, VecDeque};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn list_commands_answer_as_redis() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]), 3);
    assert_eq!(q::<i64>(&mut c, &["LPUSH", "l", "x", "y"]), 5);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]),
        strs(&["y", "x", "a", "b", "c"])
    );
    assert_eq!(q::<i64>(&mut c, &["LLEN", "l"]), 5);
    assert_eq!(q::<i64>(&mut c, &["LLEN", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut c, &["LPUSHX", "nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["RPUSHX", "nokey", "a"]), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "nokey"]), 0);
    assert_eq!(q::<i64>(&mut c, &["RPUSHX", "l", "z"]), 6);
    assert_eq!(q::<String>(&mut c, &["LINDEX", "l", "-1"]), "z");
    assert_eq!(q::<String>(&mut c, &["LINDEX", "l", "0"]), "y");
    assert_eq!(q::<Option<String>>(&mut c, &["LINDEX", "l", "6"]), None);
    assert_eq!(q::<Option<String>>(&mut c, &["LINDEX", "nokey", "0"]), None);
    // Ranges clamp as Redis's do.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "-100", "1"]),
        strs(&["y", "x"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "4", "2"]).len(),
        0
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "9", "20"]).len(),
        0
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "nokey", "0", "-1"]).len(),
        0
    );
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "1", "X"]), "OK");
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "-1", "Z"]), "OK");
    assert_eq!(
        e(&mut c, &["LSET", "l", "6", "v"]),
        "ERR index out of range"
    );
    assert_eq!(e(&mut c, &["LSET", "nokey", "0", "v"]), "ERR no such key");
    assert_eq!(q::<i64>(&mut c, &["LINSERT", "l", "BEFORE", "a", "A"]), 7);
    assert_eq!(q::<i64>(&mut c, &["LINSERT", "l", "after", "Z", "end"]), 8);
    assert_eq!(
        q::<i64>(&mut c, &["LINSERT", "l", "AFTER", "none", "v"]),
        -1
    );
    assert_eq!(
        q::<i64>(&mut c, &["LINSERT", "nokey", "AFTER", "a", "v"]),
        0
    );
    assert_eq!(
        e(&mut c, &["LINSERT", "l", "MIDDLE", "a", "v"]),
        "ERR syntax error"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]),
        strs(&["y", "X", "A", "a", "b", "c", "Z", "end"])
    );
    // Pops, one and several; a count on a missing key is a null array.
    assert_eq!(q::<String>(&mut c, &["LPOP", "l"]), "y");
    assert_eq!(q::<String>(&mut c, &["RPOP", "l"]), "end");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LPOP", "l", "2"]),
        strs(&["X", "A"])
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["RPOP", "l", "2"]),
        strs(&["Z", "c"])
    );
    assert_eq!(q::<Vec<String>>(&mut c, &["LPOP", "l", "0"]).len(), 0);
    assert_eq!(
        redis::cmd("LPOP")
            .arg("nokey")
            .arg(2)
            .query::<Value>(&mut c),
        Ok(Value::Nil)
    );
    assert_eq!(q::<Option<String>>(&mut c, &["RPOP", "nokey"]), None);
    assert_eq!(
        e(&mut c, &["LPOP", "l", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        e(&mut c, &["LPOP", "l", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(e(&mut c, &["LPOP", "l", "1", "2"]), "ERR syntax error");
    // The last pop deletes the key.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["RPOP", "l", "10"]),
        strs(&["b", "a"])
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "l"]), 0);

    // LREM from either end, LTRIM, LPOS.
    q::<i64>(&mut c, &["RPUSH", "r", "a", "b", "a", "c", "a", "b"]);
    assert_eq!(q::<i64>(&mut c, &["LREM", "r", "-1", "a"]), 1);
    assert_eq!(q::<i64>(&mut c, &["LREM", "r", "1", "a"]), 1);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "r", "0", "-1"]),
        strs(&["b", "a", "c", "b"])
    );
    assert_eq!(q::<i64>(&mut c, &["LREM", "r", "0", "b"]), 2);
    assert_eq!(q::<i64>(&mut c, &["LREM", "nokey", "0", "b"]), 0);
    q::<i64>(
        &mut c,
        &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"],
    );
    assert_eq!(q::<i64>(&mut c, &["LPOS", "p", "c"]), 2);
    assert_eq!(q::<i64>(&mut c, &["LPOS", "p", "c", "RANK", "2"]), 6);
    assert_eq!(q::<i64>(&mut c, &["LPOS", "p", "c", "RANK", "-1"]), 7);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "COUNT", "0"]),
        [2, 6, 7]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "RANK", "-1", "COUNT", "2"]),
        [7, 6]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "COUNT", "0", "MAXLEN", "3"]),
        [2]
    );
    assert_eq!(q::<Option<i64>>(&mut c, &["LPOS", "p", "zz"]), None);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LPOS", "p", "zz", "COUNT", "1"]).len(),
        0
    );
    assert_eq!(q::<Option<i64>>(&mut c, &["LPOS", "nokey", "a"]), None);
    assert!(e(&mut c, &["LPOS", "p", "c", "RANK", "0"]).starts_with("ERR RANK can't be zero"));
    assert_eq!(
        e(&mut c, &["LPOS", "p", "c", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        e(&mut c, &["LPOS", "p", "c", "MAXLEN", "-1"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(e(&mut c, &["LPOS", "p", "c", "RANK"]), "ERR syntax error");
    assert_eq!(
        e(&mut c, &["LPOS", "p", "c", "FOO", "1"]),
        "ERR syntax error"
    );
    assert_eq!(q::<String>(&mut c, &["LTRIM", "p", "1", "-2"]), "OK");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "p", "0", "-1"]),
        strs(&["b", "c", "1", "2", "3", "c"])
    );
    assert_eq!(q::<String>(&mut c, &["LTRIM", "p", "5", "1"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "p"]), 0);
    assert_eq!(q::<String>(&mut c, &["LTRIM", "nokey", "0", "1"]), "OK");

    // Arity, integers and types.
    assert_eq!(
        e(&mut c, &["LPUSH", "l"]),
        "ERR wrong number of arguments for 'lpush' command"
    );
    assert_eq!(
        e(&mut c, &["LRANGE", "l", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, &["LINDEX", "l", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    q::<String>(&mut c, &["SET", "str", "v"]);
    for args in [
        &["LPUSH", "str", "a"][..],
        &["RPOP", "str"],
        &["LLEN", "str"],
        &["LRANGE", "str", "0", "1"],
        &["LINDEX", "str", "0"],
        &["LSET", "str", "0", "v"],
        &["LINSERT", "str", "BEFORE", "a", "b"],
        &["LREM", "str", "0", "a"],
        &["LTRIM", "str", "0", "1"],
        &["LPOS", "str", "a"],
        &["LPUSHX", "str", "a"],
    ] {
        assert_eq!(e(&mut c, args), WRONGTYPE, "{args:?}");
    }
    q::<i64>(&mut c, &["RPUSH", "lst", "a"]);
    assert_eq!(e(&mut c, &["GET", "lst"]), WRONGTYPE);
    assert_eq!(e(&mut c, &["SADD", "lst", "a"]), WRONGTYPE);
    assert_eq!(e(&mut c, &["HSET", "lst", "a", "b"]), WRONGTYPE);
    assert_eq!(q::<String>(&mut c, &["TYPE", "lst"]), "list");
    // SET replaces a list, as any value.
    assert_eq!(q::<String>(&mut c, &["SET", "lst", "v"]), "OK");
    assert_eq!(q::<String>(&mut c, &["TYPE", "lst"]), "string");
}

#[test]
fn lists_change_encoding_at_the_node_limit_and_back() {
    let s = Server::start(1, &[]);
    let mut c = s.client();
    q::<i64>(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "l"]),
        "listpack"
    );
    // Past 8 KB (list-max-listpack-size -2): a quicklist.
    let big = "x".repeat(1000);
    for _ in 0..9 {
        q::<i64>(&mut c, &["RPUSH", "l", &big]);
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "l"]),
        "quicklist"
    );
    assert_eq!(q::<i64>(&mut c, &["LLEN", "l"]), 11);
    // Back under half the limit: compact again.
    q::<Vec<String>>(&mut c, &["RPOP", "l", "6"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "l"]),
        "listpack"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "2"]),
        vec!["a".to_string(), "b".to_string(), big.clone()]
    );
    // A count limit, set at run time, as Redis's positive setting.
    config_set(&mut c, "list-max-listpack-size", "4");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["CONFIG", "GET", "list-max-listpack-size"]),
        strs(&["list-max-listpack-size", "4"])
    );
    q::<i64>(&mut c, &["RPUSH", "n", "1", "2", "3", "4"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "n"]),
        "listpack"
    );
    q::<i64>(&mut c, &["RPUSH", "n", "5"]);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "n"]),
        "quicklist"
    );
    assert!(e(&mut c, &["CONFIG", "SET", "list-max-listpack-size", "x"])
        .starts_with("ERR CONFIG SET failed"));
    assert!(q::<i64>(&mut c, &["MEMORY", "USAGE", "n"]) > 0);
}

#[test]
fn list_changes_are_announced_as_redis_does() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    config_set(&mut c, "notify-keyspace-events", "KElg");
    let mut sub = s.client();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").expect("psubscribe");
    q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    q::<i64>(&mut c, &["LPUSH", "l", "z"]);
    q::<String>(&mut c, &["LPOP", "l"]);
    q::<String>(&mut c, &["LSET", "l", "0", "A"]);
    q::<i64>(&mut c, &["LINSERT", "l", "AFTER", "A", "B"]);
    q::<i64>(&mut c, &["LREM", "l", "0", "B"]);
    q::<String>(&mut c, &["LTRIM", "l", "0", "0"]);
    q::<String>(&mut c, &["RPOP", "l"]);
    let want = [
        "rpush", "lpush", "lpop", "lset", "linsert", "lrem", "ltrim", "rpop", "del",
    ];
    for name in want {
        let m = ps.get_message().expect("event");
        assert_eq!(m.get_channel_name(), format!("__keyevent@0__:{name}"));
        assert_eq!(m.get_payload::<String>().expect("payload"), "l");
    }
}

#[test]
fn persistence_keeps_lists() {
    let dir = common::TempDir::new("lists-persist");
    let flags = dir.logged_always();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    q::<i64>(&mut c, &["RPUSH", "small", "a", "b", "c"]);
    q::<String>(&mut c, &["LPOP", "small"]);
    let elements: Vec<String> = (0..3000).map(|i| format!("element:{i}")).collect();
    redis::cmd("RPUSH")
        .arg("big")
        .arg(&elements)
        .query::<i64>(&mut c)
        .expect("RPUSH");
    // Each change below is logged as what it did to the list, not the list.
    let mut want: VecDeque<String> = elements.iter().cloned().collect();
    q::<i64>(&mut c, &["LREM", "big", "0", "element:7"]);
    want.remove(7);
    q::<i64>(&mut c, &["LPUSH", "big", "h1", "h2"]);
    want.push_front("h1".into());
    want.push_front("h2".into());
    q::<Vec<String>>(&mut c, &["RPOP", "big", "2"]);
    want.pop_back();
    want.pop_back();
    q::<String>(&mut c, &["LSET", "big", "5", "five"]);
    want[5] = "five".into();
    q::<i64>(&mut c, &["LINSERT", "big", "AFTER", "five", "six"]);
    want.insert(6, "six".into());
    q::<String>(&mut c, &["LTRIM", "big", "1", "-2"]);
    want.pop_front();
    want.pop_back();
    q::<i64>(&mut c, &["RPUSH", "gone", "x"]);
    q::<String>(&mut c, &["RPOP", "gone"]);
    s.kill9();
    let mut s = Server::start(2, &flags);
    let mut c = s.client();
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "small", "0", "-1"]),
        strs(&["b", "c"])
    );
    let want: Vec<String> = want.into_iter().collect();
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "big", "0", "-1"]),
        want
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]),
        "quicklist"
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "gone"]), 0);
    // A snapshot (Redis's RDB encodings), loaded without the logs.
    assert_eq!(q::<String>(&mut c, &["SAVE"]), "OK");
    s.terminate();
    let s = Server::start(2, &["--dir", dir.arg(), "--appendonly", "no"]);
    let mut c = s.client();
    let back: Vec<String> = q(&mut c, &["LRANGE", "big", "0", "-1"]);
    assert_eq!(back, want);
    assert_eq!(q::<String>(&mut c, &["LINDEX", "small", "0"]), "b");
    // DUMP and RESTORE carry a list too.
    let dump: Vec<u8> = redis::cmd("DUMP").arg("small").query(&mut c).expect("DUMP");
    redis::cmd("RESTORE")
        .arg("copy")
        .arg(0)
        .arg(dump)
        .query::<String>(&mut c)
        .expect("RESTORE");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "copy", "0", "-1"]),
        strs(&["b", "c"])
    );
}

#[test]
fn a_model_of_lists_agrees_while_shards_move() {
    let s = Server::start(2, &["--list-max-listpack-size", "5"]);
    let mut c = s.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let mut con = s.client();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(3);
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
    let mut rng = StdRng::seed_from_u64(21);
    let mut model: HashMap<String, VecDeque<String>> = HashMap::new();
    for step in 0..6000 {
        let key = format!("list:{}", rng.gen_range(0..12));
        let l = model.entry(key.clone()).or_default();
        let v = format!("v{}", rng.gen_range(0..30));
        match rng.gen_range(0..8) {
            0 | 1 => {
                let n: i64 = q(&mut c, &["LPUSH", &key, &v]);
                l.push_front(v);
                assert_eq!(n as usize, l.len(), "step {step}");
            }
            2 | 3 => {
                let n: i64 = q(&mut c, &["RPUSH", &key, &v, &v]);
                l.push_back(v.clone());
                l.push_back(v);
                assert_eq!(n as usize, l.len(), "step {step}");
            }
            4 => {
                let got: Option<String> = q(&mut c, &["RPOP", &key]);
                assert_eq!(got, l.pop_back(), "step {step}");
            }
            5 => {
                let got: i64 = q(&mut c, &["LREM", &key, "1", &v]);
                let at = l.iter().position(|x| *x == v);
                if let Some(i) = at {
                    l.remove(i);
                }
                assert_eq!(got, i64::from(at.is_some()), "step {step}");
            }
            6 => {
                let i = rng.gen_range(-8i64..8);
                let got: Option<String> = q(&mut c, &["LINDEX", &key, &i.to_string()]);
                let n = l.len() as i64;
                let at = if i < 0 { i + n } else { i };
                let want = (0..n).contains(&at).then(|| l[at as usize].clone());
                assert_eq!(got, want, "step {step}");
            }
            _ => {
                let got: Vec<String> = q(&mut c, &["LRANGE", &key, "0", "-1"]);
                assert_eq!(got, l.iter().cloned().collect::<Vec<_>>(), "step {step}");
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mover.join().expect("mover");
    for (key, l) in &model {
        let got: Vec<String> = q(&mut c, &["LRANGE", key, "0", "-1"]);
        assert_eq!(got, l.iter().cloned().collect::<Vec<_>>(), "{key}");
    }
}

/// Lists whose DUMP payloads cover Redis's list encodings: a small one, one
/// of several nodes with integers (which a listpack stores as numbers) and
/// an element longer than a node.
fn fill_lists(c: &mut redis::Connection) -> Vec<(String, Vec<String>)> {
    let small = strs(&["a", "", "-12", "x y"]);
    let mut many: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    many.push("z".repeat(20_000));
    many.extend((0..50).map(|i| format!("tail:{i}")));
    let lists = vec![("small".to_string(), small), ("many".to_string(), many)];
    for (k, v) in &lists {
        redis::cmd("RPUSH")
            .arg(k)
            .arg(v)
            .query::<i64>(c)
            .expect("RPUSH");
    }
    lists
}

#[test]
fn lists_move_between_redis_server_and_stairkv_by_dump_and_restore() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut theirs = redis.try_client().expect("a client of redis-server");
    let s = Server::start(2, &[]);
    let mut ours = s.client();
    let lists = fill_lists(&mut theirs);
    for (k, v) in &lists {
        // Theirs into ours...
        let payload: Vec<u8> = q(&mut theirs, &["DUMP", k]);
        redis::cmd("RESTORE")
            .arg(k)
            .arg(0)
            .arg(&payload)
            .query::<()>(&mut ours)
            .unwrap_or_else(|e| panic!("RESTORE of redis-server's {k}: {e}"));
        assert_eq!(&q::<Vec<String>>(&mut ours, &["LRANGE", k, "0", "-1"]), v);
        // ...and ours back into theirs.
        let payload: Vec<u8> = q(&mut ours, &["DUMP", k]);
        redis::cmd("RESTORE")
            .arg(format!("{k}:back"))
            .arg(0)
            .arg(&payload)
            .query::<()>(&mut theirs)
            .unwrap_or_else(|e| panic!("redis-server's RESTORE of our {k}: {e}"));
        let back: Vec<String> = q(&mut theirs, &["LRANGE", &format!("{k}:back"), "0", "-1"]);
        assert_eq!(&back, v);
    }
}

#[test]
fn lmove_rpoplpush_and_lmpop_answer_as_redis_across_cores() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 2, "lm:");
    let (a, b) = (here[0].as_str(), there[0].as_str());
    q::<i64>(&mut c, &["RPUSH", a, "1", "2", "3"]);
    assert_eq!(q::<String>(&mut c, &["LMOVE", a, b, "LEFT", "RIGHT"]), "1");
    assert_eq!(q::<String>(&mut c, &["LMOVE", a, b, "right", "left"]), "3");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", b, "0", "-1"]),
        strs(&["3", "1"])
    );
    assert_eq!(q::<String>(&mut c, &["RPOPLPUSH", b, a]), "1");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", a, "0", "-1"]),
        strs(&["1", "2"])
    );
    // The same key: a rotation.
    assert_eq!(q::<String>(&mut c, &["LMOVE", a, a, "LEFT", "RIGHT"]), "1");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", a, "0", "-1"]),
        strs(&["2", "1"])
    );
    // The last element moved deletes the source.
    assert_eq!(q::<String>(&mut c, &["RPOPLPUSH", b, a]), "3");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", b]), 0);
    assert_eq!(
        q::<Option<String>>(&mut c, &["LMOVE", "nokey", a, "LEFT", "LEFT"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["RPOPLPUSH", "nokey", a]),
        None
    );
    // A destination of another type: WRONGTYPE, and nothing popped.
    q::<String>(&mut c, &["SET", there[1].as_str(), "v"]);
    assert_eq!(
        e(&mut c, &["LMOVE", a, there[1].as_str(), "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(e(&mut c, &["RPOPLPUSH", there[1].as_str(), a]), WRONGTYPE);
    assert_eq!(q::<i64>(&mut c, &["LLEN", a]), 3);
    assert_eq!(
        e(&mut c, &["LMOVE", a, b, "UP", "LEFT"]),
        "ERR syntax error"
    );

    // LMPOP: the first key holding a list, as [key, elements].
    let (x, y) = (here[1].as_str(), b);
    q::<i64>(&mut c, &["RPUSH", y, "a", "b", "c"]);
    let v: (String, Vec<String>) = q(&mut c, &["LMPOP", "2", x, y, "LEFT"]);
    assert_eq!(v, (y.to_string(), strs(&["a"])));
    let v: (String, Vec<String>) = q(&mut c, &["LMPOP", "2", x, y, "RIGHT", "COUNT", "5"]);
    assert_eq!(v, (y.to_string(), strs(&["c", "b"])));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", y]), 0);
    assert_eq!(
        redis::cmd("LMPOP")
            .arg(2)
            .arg(x)
            .arg(y)
            .arg("LEFT")
            .query::<Value>(&mut c),
        Ok(Value::Nil)
    );
    // A key of another type before the first list is WRONGTYPE; after it, unread.
    assert_eq!(
        e(&mut c, &["LMPOP", "2", there[1].as_str(), a, "LEFT"]),
        WRONGTYPE
    );
    let v: (String, Vec<String>) = q(&mut c, &["LMPOP", "2", a, there[1].as_str(), "LEFT"]);
    assert_eq!(v.0, a);
    for (args, want) in [
        (
            &["LMPOP", "0", a, "LEFT"][..],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["LMPOP", "x", a, "LEFT"],
            "ERR numkeys should be greater than 0",
        ),
        (&["LMPOP", "3", a, "LEFT"], "ERR syntax error"),
        (&["LMPOP", "1", a, "MIDDLE"], "ERR syntax error"),
        (
            &["LMPOP", "1", a, "LEFT", "COUNT", "0"],
            "ERR count should be greater than 0",
        ),
        (&["LMPOP", "1", a, "LEFT", "COUNT"], "ERR syntax error"),
        (
            &["LMPOP", "1", a, "LEFT", "COUNT", "1", "COUNT", "1"],
            "ERR syntax error",
        ),
    ] {
        assert_eq!(e(&mut c, args), want, "{args:?}");
    }
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["COMMAND", "GETKEYS", "LMPOP", "2", "k1", "k2", "LEFT"]
        ),
        strs(&["k1", "k2"])
    );
}

#[test]
fn lmove_between_cores_is_never_seen_half_done() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = common::keys_on_each_core(&mut c, 1, "swing:");
    let (a, b) = (here[0].clone(), there[0].clone());
    let n = 50;
    let elements: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    redis::cmd("RPUSH")
        .arg(&a)
        .arg(&elements)
        .query::<i64>(&mut c)
        .expect("RPUSH");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let movers: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
        .into_iter()
        .map(|(from, to)| {
            let mut con = s.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut moved = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r: Option<String> = q(&mut con, &["RPOPLPUSH", &from, &to]);
                    moved += usize::from(r.is_some());
                }
                moved
            })
        })
        .collect();
    // Both lengths read in one transaction: their sum never moves.
    for _ in 0..400 {
        let (la, lb): (usize, usize) = redis::pipe()
            .atomic()
            .cmd("LLEN")
            .arg(&a)
            .cmd("LLEN")
            .arg(&b)
            .query(&mut c)
            .expect("MULTI");
        assert_eq!(la + lb, n, "{la} + {lb}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let moved: usize = movers.into_iter().map(|m| m.join().expect("mover")).sum();
    assert!(moved > 100, "only {moved} moves");
    let mut all: Vec<String> = q(&mut c, &["LRANGE", &a, "0", "-1"]);
    all.extend(q::<Vec<String>>(&mut c, &["LRANGE", &b, "0", "-1"]));
    all.sort_by_key(|x| x.parse::<usize>().unwrap_or(usize::MAX));
    assert_eq!(all, elements);
}
