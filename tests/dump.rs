//! DUMP and RESTORE through the real binary, against redis-server 7.0: a
//! payload redis-server dumps restores here with the same value, and one
//! dumped here restores there, in every string encoding (int, raw, LZF);
//! RESTORE's TTL, ABSTTL, REPLACE, IDLETIME and FREQ, and Redis's errors for
//! bad payloads and options. Without redis-server installed the cross-server
//! test says SKIPPED (`.ci/run` installs it).

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

use common::{error_text, keys_on_each_core, Server};
use redis::{Commands, Value};
use std::time::{SystemTime, UNIX_EPOCH};

fn values() -> Vec<Vec<u8>> {
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    vec![
        b"bar".to_vec(),
        b"".to_vec(),
        b"42".to_vec(),
        b"-129".to_vec(),
        b"40000".to_vec(),
        b"2147483648".to_vec(),
        b"007".to_vec(),
        b"bin\x00\xff\r\n".to_vec(),
        vec![b'a'; 1000],
        b"abcabcabcabcabcabcabcabcabcabcabc".to_vec(),
        noise,
    ]
}

fn dump(con: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(con).expect("DUMP")
}

fn restore(con: &mut redis::Connection, key: &str, payload: &[u8]) -> redis::RedisResult<Value> {
    redis::cmd("RESTORE")
        .arg(key)
        .arg(0)
        .arg(payload)
        .query(con)
}

#[test]
fn payloads_cross_between_redis_server_and_stairkv() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    let mut r = redis.try_client().expect("redis-server");
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for (i, v) in values().iter().enumerate() {
        let k = format!("v{i}");
        let _: () = r.set(&k, v).expect("SET on redis");
        let theirs = dump(&mut r, &k);
        restore(&mut c, &k, &theirs).expect("RESTORE of redis-server's DUMP");
        let got: Vec<u8> = c.get(&k).expect("GET");
        assert_eq!(&got, v, "value {i} from redis-server");

        let _: () = c.set(format!("o{i}"), v).expect("SET");
        let ours = dump(&mut c, &format!("o{i}"));
        restore(&mut r, &format!("o{i}"), &ours).expect("redis-server RESTOREs our DUMP");
        let got: Vec<u8> = r.get(format!("o{i}")).expect("GET on redis");
        assert_eq!(&got, v, "value {i} to redis-server");
        // Short values have one encoding: the payloads are the same bytes.
        if v.len() <= 20 {
            assert_eq!(ours, theirs, "payload of value {i}");
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[test]
fn restore_options_and_errors() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let [here, there] = keys_on_each_core(&mut c, 2, "dr");
    let _: () = c.set(&here[0], "hello").expect("SET");
    let p = dump(&mut c, &here[0]);
    assert_eq!(
        redis::cmd("DUMP")
            .arg("missing")
            .query::<Value>(&mut c)
            .expect("DUMP"),
        Value::Nil
    );

    // Onto another core, with a relative TTL.
    let _: () = redis::cmd("RESTORE")
        .arg(&there[0])
        .arg(5000)
        .arg(&p)
        .query(&mut c)
        .expect("RESTORE");
    let pttl: i64 = c.pttl(&there[0]).expect("PTTL");
    assert!(pttl > 3000 && pttl <= 5000, "{pttl}");
    assert_eq!(c.get::<_, String>(&there[0]).expect("GET"), "hello");
    // An existing key needs REPLACE.
    let e = error_text(
        redis::cmd("RESTORE")
            .arg(&there[0])
            .arg(0)
            .arg(&p)
            .query(&mut c),
    );
    assert!(
        e.contains("BUSYKEY") && e.contains("Target key name already exists"),
        "{e}"
    );
    let _: () = redis::cmd("RESTORE")
        .arg(&there[0])
        .arg(0)
        .arg(&p)
        .arg("REPLACE")
        .query(&mut c)
        .expect("REPLACE");
    assert_eq!(c.ttl::<_, i64>(&there[0]).expect("TTL"), -1);
    // ABSTTL: a unix time in ms; one in the past stores nothing.
    let at = now_ms() + 60_000;
    let _: () = redis::cmd("RESTORE")
        .arg(&here[1])
        .arg(at)
        .arg(&p)
        .arg("ABSTTL")
        .query(&mut c)
        .expect("ABSTTL");
    let expiretime: i64 = redis::cmd("PEXPIRETIME")
        .arg(&here[1])
        .query(&mut c)
        .expect("PEXPIRETIME");
    assert_eq!(expiretime, at);
    let _: () = redis::cmd("RESTORE")
        .arg(&there[1])
        .arg(1000)
        .arg(&p)
        .arg("ABSTTL")
        .query(&mut c)
        .expect("ABSTTL past");
    assert!(!c.exists::<_, bool>(&there[1]).expect("EXISTS"));

    // IDLETIME under an LRU policy, FREQ under an LFU one.
    let set_policy = |c: &mut redis::Connection, p: &str| {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(p)
            .query(c)
            .expect("policy");
    };
    set_policy(&mut c, "allkeys-lru");
    let _: () = redis::cmd("RESTORE")
        .arg("idle")
        .arg(0)
        .arg(&p)
        .arg("IDLETIME")
        .arg(1000)
        .query(&mut c)
        .expect("IDLETIME");
    let idle: i64 = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("idle")
        .query(&mut c)
        .expect("OBJECT IDLETIME");
    assert!((1000..1010).contains(&idle), "{idle}");
    set_policy(&mut c, "allkeys-lfu");
    let _: () = redis::cmd("RESTORE")
        .arg("freq")
        .arg(0)
        .arg(&p)
        .arg("FREQ")
        .arg(77)
        .query(&mut c)
        .expect("FREQ");
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("freq")
        .query(&mut c)
        .expect("OBJECT FREQ");
    assert_eq!(freq, 77);

    let mut bad = p.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let cases: Vec<(Vec<&[u8]>, &str)> = vec![
        (vec![b"k", b"-1", &p], "Invalid TTL value, must be >= 0"),
        (vec![b"k", b"x", &p], "not an integer"),
        (
            vec![b"k", b"0", &bad],
            "DUMP payload version or checksum are wrong",
        ),
        (
            vec![b"k", b"0", b"xyz"],
            "DUMP payload version or checksum are wrong",
        ),
        (
            vec![b"k", b"0", &p, b"IDLETIME", b"-1"],
            "Invalid IDLETIME value, must be >= 0",
        ),
        (
            vec![b"k", b"0", &p, b"FREQ", b"256"],
            "Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (
            vec![b"k", b"0", &p, b"FREQ", b"1", b"IDLETIME", b"1"],
            "syntax error",
        ),
        (vec![b"k", b"0", &p, b"SOON"], "syntax error"),
        (vec![b"k", b"0", &p, b"IDLETIME"], "syntax error"),
        (vec![b"k", b"0"], "wrong number of arguments for 'restore'"),
    ];
    for (args, want) in cases {
        let mut cmd = redis::cmd("RESTORE");
        for a in &args {
            cmd.arg(*a);
        }
        let e = error_text(cmd.query(&mut c));
        assert!(e.contains(want), "{want}: {e}");
    }
    // A payload of a type stairkv does not hold yet (a list's, from Redis 7.0).
    let mut list = vec![18u8, 1, 2, 11, 11, 0, 0, 0, 1, 0, 129, 97, 2, 255];
    list.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&list);
    list.extend_from_slice(&crc.to_le_bytes());
    assert!(error_text(restore(&mut c, "l", &list)).contains("Bad data format"));
    assert!(error_text(redis::cmd("DUMP").query(&mut c)).contains("wrong number of arguments"));
}

/// Redis's CRC64 (Jones polynomial, reflected), for a payload made here.
fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}
