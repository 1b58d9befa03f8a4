//! Pub/sub and expiry notifications through real sockets: subscribers on both
//! cores, Redis's pattern rules, RESP2 subscribed mode and RESP3 pushes,
//! PUBSUB introspection, shard channels, a slow subscriber cut off by the
//! output-buffer limit while others keep receiving, and `expired` events for
//! keys on both cores heard exactly once.

mod common;

use common::Server;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<V>),
    Push(Vec<V>),
}

fn b(s: &str) -> V {
    V::Bulk(s.as_bytes().to_vec())
}

fn parse(buf: &[u8]) -> Option<(V, usize)> {
    let nl = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..nl]).ok()?;
    let after = nl + 2;
    match buf[0] {
        b'+' => Some((V::Simple(line.into()), after)),
        b'-' => Some((V::Err(line.into()), after)),
        b':' => Some((V::Int(line.parse().ok()?), after)),
        b'_' => Some((V::Nil, after)),
        b'$' | b'=' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, after));
            }
            let n = n as usize;
            (buf.len() >= after + n + 2)
                .then(|| (V::Bulk(buf[after..after + n].to_vec()), after + n + 2))
        }
        b'*' | b'>' | b'%' => {
            let mut n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((V::Nil, after));
            }
            if buf[0] == b'%' {
                n *= 2;
            }
            let mut items = Vec::new();
            let mut at = after;
            for _ in 0..n {
                let (v, used) = parse(&buf[at..])?;
                items.push(v);
                at += used;
            }
            Some((
                if buf[0] == b'>' {
                    V::Push(items)
                } else {
                    V::Arr(items)
                },
                at,
            ))
        }
        other => panic!("unexpected RESP type {:?}", other as char),
    }
}

/// A raw RESP connection that reads one whole value at a time.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(server: &Server) -> Conn {
        Conn {
            s: server.raw(),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.s.write_all(&out).expect("write");
    }

    /// The next value, or None if nothing whole arrives within `wait`.
    fn read_within(&mut self, wait: Duration) -> Option<V> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some((v, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.s.set_read_timeout(Some(left)).ok();
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    fn read(&mut self) -> V {
        self.read_within(Duration::from_secs(10))
            .expect("a reply within 10 s")
    }

    fn cmd(&mut self, args: &[&str]) -> V {
        self.send(args);
        self.read()
    }
}

fn confirm(kind: &str, name: &str, n: i64) -> V {
    V::Arr(vec![b(kind), b(name), V::Int(n)])
}

#[test]
fn publish_reaches_subscribers_on_every_core_in_order() {
    let s = Server::start(2, &[]);
    // Connections spread over both cores (the kernel's SO_REUSEPORT hash decides).
    let mut subs: Vec<Conn> = (0..8).map(|_| Conn::new(&s)).collect();
    for c in &mut subs {
        assert_eq!(
            c.cmd(&["SUBSCRIBE", "news", "other"]),
            confirm("subscribe", "news", 1)
        );
        assert_eq!(c.read(), confirm("subscribe", "other", 2));
    }
    let mut p = Conn::new(&s);
    for i in 0..200 {
        assert_eq!(p.cmd(&["PUBLISH", "news", &format!("m{i}")]), V::Int(8));
    }
    assert_eq!(p.cmd(&["PUBLISH", "nobody", "x"]), V::Int(0));
    for c in &mut subs {
        for i in 0..200 {
            assert_eq!(
                c.read(),
                V::Arr(vec![b("message"), b("news"), b(&format!("m{i}"))])
            );
        }
    }
}

#[test]
fn patterns_follow_redis_matching_rules() {
    let s = Server::start(2, &[]);
    // (pattern, channel, matches) — Redis's stringmatchlen cases.
    let table: &[(&str, &str, bool)] = &[
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h*llo", "hllo", true),
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[a-b]llo", "hcllo", false),
        ("h[b-a]llo", "hallo", true),
        ("h\\*llo", "h*llo", true),
        ("h\\*llo", "hello", false),
        ("*", "anything", true),
        ("*", "", false),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYY", false),
        ("[abc", "a", true),
        ("news.*", "news.art", true),
        ("news.*", "news", false),
    ];
    let mut sub = Conn::new(&s);
    let mut p = Conn::new(&s);
    for (i, (pattern, channel, want)) in table.iter().enumerate() {
        assert_eq!(
            sub.cmd(&["PSUBSCRIBE", pattern]),
            confirm("psubscribe", pattern, 1),
            "{pattern}"
        );
        let n = p.cmd(&["PUBLISH", channel, &format!("#{i}")]);
        assert_eq!(n, V::Int(i64::from(*want)), "{pattern} vs {channel:?}");
        if *want {
            assert_eq!(
                sub.read(),
                V::Arr(vec![
                    b("pmessage"),
                    b(pattern),
                    b(channel),
                    b(&format!("#{i}"))
                ])
            );
        }
        assert_eq!(
            sub.cmd(&["PUNSUBSCRIBE", pattern]),
            confirm("punsubscribe", pattern, 0)
        );
    }
    // A channel subscription and a matching pattern both count.
    sub.cmd(&["SUBSCRIBE", "a.b"]);
    sub.cmd(&["PSUBSCRIBE", "a.*"]);
    assert_eq!(p.cmd(&["PUBLISH", "a.b", "x"]), V::Int(2));
}

#[test]
fn resp2_subscribed_mode_allows_only_what_redis_allows() {
    let s = Server::start(1, &[]);
    let mut c = Conn::new(&s);
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE"]),
        V::Arr(vec![b("unsubscribe"), V::Nil, V::Int(0)])
    );
    assert_eq!(
        c.cmd(&["PUNSUBSCRIBE"]),
        V::Arr(vec![b("punsubscribe"), V::Nil, V::Int(0)])
    );
    assert_eq!(
        c.cmd(&["UNSUBSCRIBE", "x", "y"]),
        confirm("unsubscribe", "x", 0)
    );
    assert_eq!(c.read(), confirm("unsubscribe", "y", 0));
    c.cmd(&["SUBSCRIBE", "ch"]);
    assert_eq!(
        c.cmd(&["GET", "k"]),
        V::Err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context".into())
    );
    assert_eq!(c.cmd(&["PING"]), V::Arr(vec![b("pong"), b("")]));
    assert_eq!(c.cmd(&["PING", "hi"]), V::Arr(vec![b("pong"), b("hi")]));
    assert_eq!(c.cmd(&["PSUBSCRIBE", "p*"]), confirm("psubscribe", "p*", 2));
    // UNSUBSCRIBE with no names drops every channel; patterns stay.
    assert_eq!(c.cmd(&["UNSUBSCRIBE"]), confirm("unsubscribe", "ch", 1));
    assert!(matches!(c.cmd(&["SET", "k", "v"]), V::Err(_)));
    assert_eq!(c.cmd(&["PUNSUBSCRIBE"]), confirm("punsubscribe", "p*", 0));
    // Out of subscribed mode: everything works again.
    assert_eq!(c.cmd(&["SET", "k", "v"]), V::Simple("OK".into()));
    assert_eq!(c.cmd(&["PING"]), V::Simple("PONG".into()));
    // RESET leaves subscribed mode and drops the subscriptions.
    c.cmd(&["SUBSCRIBE", "x"]);
    assert_eq!(c.cmd(&["RESET"]), V::Simple("RESET".into()));
    let mut p = Conn::new(&s);
    assert_eq!(p.cmd(&["PUBLISH", "x", "m"]), V::Int(0));
    assert_eq!(c.cmd(&["GET", "k"]), b("v"));
    // Wrong arity is still Redis's error.
    assert!(
        matches!(c.cmd(&["SUBSCRIBE"]), V::Err(e) if e.contains("wrong number of arguments for 'subscribe'"))
    );
    assert!(
        matches!(p.cmd(&["PUBLISH", "x"]), V::Err(e) if e.contains("wrong number of arguments"))
    );
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    let s = Server::start(2, &[]);
    let mut c = Conn::new(&s);
    assert!(matches!(c.cmd(&["HELLO", "3"]), V::Arr(_)));
    assert_eq!(
        c.cmd(&["SUBSCRIBE", "ch"]),
        V::Push(vec![b("subscribe"), b("ch"), V::Int(1)])
    );
    // Normal commands work while subscribed in RESP3.
    assert_eq!(c.cmd(&["SET", "k", "v"]), V::Simple("OK".into()));
    let mut p = Conn::new(&s);
    assert_eq!(p.cmd(&["PUBLISH", "ch", "hello"]), V::Int(1));
    assert_eq!(c.read(), V::Push(vec![b("message"), b("ch"), b("hello")]));
    assert_eq!(c.cmd(&["GET", "k"]), b("v"));
    assert_eq!(
        c.cmd(&["SSUBSCRIBE", "sh"]),
        V::Push(vec![b("ssubscribe"), b("sh"), V::Int(1)])
    );
    assert_eq!(p.cmd(&["SPUBLISH", "sh", "s1"]), V::Int(1));
    assert_eq!(p.cmd(&["PUBLISH", "sh", "not-shard"]), V::Int(0));
    assert_eq!(c.read(), V::Push(vec![b("smessage"), b("sh"), b("s1")]));
    // CLIENT LIST shows the subscriptions.
    let V::Bulk(info) = c.cmd(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(
        info.contains(" flags=P ") && info.contains(" sub=1 psub=0 ssub=1 "),
        "{info}"
    );
    assert_eq!(
        c.cmd(&["SUNSUBSCRIBE"]),
        V::Push(vec![b("sunsubscribe"), b("sh"), V::Int(0)])
    );
    assert_eq!(p.cmd(&["SPUBLISH", "sh", "s2"]), V::Int(0));
}

#[test]
fn pubsub_introspection_counts_every_core() {
    let s = Server::start(2, &[]);
    let mut subs: Vec<Conn> = (0..6).map(|_| Conn::new(&s)).collect();
    for (i, c) in subs.iter_mut().enumerate() {
        c.cmd(&["SUBSCRIBE", "common", &format!("own{i}")]);
        c.read();
        c.cmd(&["PSUBSCRIBE", "pat*"]);
        c.cmd(&["SSUBSCRIBE", "shardy"]);
    }
    let mut q = s.client();
    let mut chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query(&mut q)
        .expect("channels");
    chans.sort();
    let mut want: Vec<String> = (0..6).map(|i| format!("own{i}")).collect();
    want.push("common".into());
    want.sort();
    assert_eq!(chans, want);
    let own: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("own*")
        .query(&mut q)
        .expect("channels");
    assert_eq!(own.len(), 6);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("common")
        .arg("own3")
        .arg("none")
        .query(&mut q)
        .expect("numsub");
    assert_eq!(
        numsub,
        vec![
            redis::Value::BulkString(b"common".to_vec()),
            redis::Value::Int(6),
            redis::Value::BulkString(b"own3".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"none".to_vec()),
            redis::Value::Int(0),
        ]
    );
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut q)
        .expect("numpat");
    assert_eq!(numpat, 1, "one unique pattern");
    let shard: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut q)
        .expect("shardchannels");
    assert_eq!(shard, ["shardy"]);
    let sn: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("shardy")
        .query(&mut q)
        .expect("shardnumsub");
    assert_eq!(sn[1], redis::Value::Int(6));
    let err = redis::cmd("PUBSUB")
        .arg("NOPE")
        .query::<String>(&mut q)
        .expect_err("unknown");
    assert!(err.to_string().contains("unknown subcommand"), "{err}");
    // Subscribers that disconnect are forgotten.
    drop(subs);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("common")
            .query(&mut q)
            .expect("numsub");
        if n[1] == redis::Value::Int(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscribers not forgotten: {n:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_slow_subscriber_is_cut_off_and_others_keep_receiving() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 256kb 64kb 1")
        .query(&mut admin)
        .expect("config set");
    let limit: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut admin)
        .expect("get");
    assert!(limit[1].ends_with("pubsub 262144 65536 1"), "{limit:?}");
    // The slow one never reads; its socket buffers are kept small so they fill.
    let slow = {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        sock.set_recv_buffer_size(4096).expect("rcvbuf");
        sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], s.port)).into())
            .expect("connect");
        let mut t: TcpStream = sock.into();
        t.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
            .expect("subscribe");
        t
    };
    let mut fast = Conn::new(&s);
    fast.cmd(&["SUBSCRIBE", "feed"]);
    // Wait until both subscriptions are registered.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut p = Conn::new(&s);
    while p.cmd(&["PUBSUB", "NUMSUB", "feed"]) != V::Arr(vec![b("feed"), V::Int(2)]) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let payload = "x".repeat(16 * 1024);
    let mut cut_at = None;
    for i in 0..1000 {
        let n = p.cmd(&["PUBLISH", "feed", &payload]);
        assert!(matches!(n, V::Int(1) | V::Int(2)), "{n:?}");
        assert_eq!(
            fast.read(),
            V::Arr(vec![b("message"), b("feed"), b(&payload)]),
            "message {i} to the reading subscriber"
        );
        if n == V::Int(1) && cut_at.is_none() {
            cut_at = Some(i);
        }
    }
    let cut_at = cut_at.expect("the slow subscriber was never disconnected");
    // 256 KB in the mailbox plus what the kernel's socket buffers hold (up to a
    // few MB on loopback): cut long before the 16 MB sent in all.
    assert!(cut_at < 900, "cut after {cut_at} messages");
    // Its connection is closed: reading drains what was sent, then ends.
    let mut slow = slow;
    slow.set_read_timeout(Some(Duration::from_secs(10))).ok();
    assert!(common::closed_by_peer(&mut slow));
}

#[test]
fn expired_events_from_both_cores_are_heard_once() {
    let s = Server::start(2, &[]);
    let mut sub = Conn::new(&s);
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]),
        confirm("subscribe", "__keyevent@0__:expired", 1)
    );
    let mut c = s.client();
    let keys: Vec<String> = (0..300).map(|i| format!("exp:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("v")
            .arg("PX")
            .arg(50 + i % 100)
            .query(&mut c)
            .expect("set");
    }
    // A key that is read after its deadline is announced once too (by the read
    // or by the timer, whichever comes first). Its TTL leaves room for the SET
    // to reach the key's core before the deadline: a deadline already past when
    // the write lands deletes the key with no `expired` event, as in Redis.
    let _: () = redis::cmd("SET")
        .arg("lazy")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .expect("set");
    std::thread::sleep(Duration::from_millis(40));
    let _: Option<String> = redis::cmd("GET").arg("lazy").query(&mut c).expect("get");
    let mut heard = Vec::new();
    while heard.len() < keys.len() + 1 {
        match sub.read_within(Duration::from_secs(10)) {
            Some(V::Arr(v)) if v.len() == 3 && v[0] == b("message") => {
                if let V::Bulk(k) = &v[2] {
                    heard.push(String::from_utf8_lossy(k).into_owned());
                }
            }
            other => panic!(
                "expected an expired event, got {other:?} after {}",
                heard.len()
            ),
        }
    }
    let unique: HashSet<&String> = heard.iter().collect();
    assert_eq!(unique.len(), heard.len(), "an event was repeated");
    for k in keys.iter().chain(std::iter::once(&"lazy".to_string())) {
        assert!(unique.contains(k), "{k} never announced");
    }
    // Nothing more: each key exactly once.
    assert_eq!(sub.read_within(Duration::from_millis(300)), None);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
    assert_eq!(dbsize, 0);
}

#[test]
fn keyspace_event_flags_are_configurable() {
    let s = Server::start(1, &["--notify-keyspace-events", "KEA"]);
    let mut c = s.client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .expect("get");
    assert_eq!(got, ["notify-keyspace-events", "AKE"]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("")
        .query(&mut c)
        .expect("set");
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .expect("get");
    assert_eq!(got, ["notify-keyspace-events", ""]);
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Q")
        .query::<()>(&mut c)
        .expect_err("bad");
    assert!(
        err.to_string().contains("Invalid event class character"),
        "{err}"
    );
    // With events off, expiring keys announce nothing.
    let mut sub = Conn::new(&s);
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(10)
        .query(&mut c)
        .expect("set");
    assert_eq!(sub.read_within(Duration::from_millis(300)), None);
}

#[test]
fn string_and_key_commands_announce_redis_events() {
    let s = Server::start(1, &["--notify-keyspace-events", "KEAn"]);
    let mut sub = Conn::new(&s);
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut space = Conn::new(&s);
    space.cmd(&["SUBSCRIBE", "__keyspace@0__:k"]);
    let mut c = Conn::new(&s);
    // (command, the (event, key) pairs it announces on __keyevent@0__)
    type Step<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let steps: &[Step] = &[
        (&["SET", "k", "v"], &[("new", "k"), ("set", "k")]),
        (
            &["SET", "k", "v2", "EX", "100"],
            &[("set", "k"), ("expire", "k")],
        ),
        (&["SET", "k", "v3", "NX"], &[]),
        (&["PERSIST", "k"], &[("persist", "k")]),
        (&["PERSIST", "k"], &[]),
        (&["EXPIRE", "k", "100"], &[("expire", "k")]),
        (&["GETEX", "k", "PERSIST"], &[("persist", "k")]),
        (&["INCRBY", "n", "5"], &[("new", "n"), ("incrby", "n")]),
        (&["DECR", "n"], &[("incrby", "n")]),
        (&["INCRBYFLOAT", "n", "1.5"], &[("incrbyfloat", "n")]),
        (&["APPEND", "k", "x"], &[("append", "k")]),
        (&["SETRANGE", "k", "0", "y"], &[("setrange", "k")]),
        (
            &["MSET", "a", "1", "b", "2"],
            &[("new", "a"), ("set", "a"), ("new", "b"), ("set", "b")],
        ),
        (
            &["RENAME", "k", "k2"],
            &[("rename_from", "k"), ("new", "k2"), ("rename_to", "k2")],
        ),
        (&["DEL", "k2", "missing"], &[("del", "k2")]),
        (&["GETDEL", "n"], &[("del", "n")]),
        (&["EXPIRE", "a", "-1"], &[("del", "a")]),
        (&["GET", "b"], &[]),
    ];
    for (cmd, want) in steps {
        let r = c.cmd(cmd);
        assert!(!matches!(r, V::Err(_)), "{cmd:?}: {r:?}");
        for (event, key) in *want {
            assert_eq!(
                sub.read(),
                V::Arr(vec![
                    b("pmessage"),
                    b("__keyevent@0__:*"),
                    b(&format!("__keyevent@0__:{event}")),
                    b(key)
                ]),
                "after {cmd:?}"
            );
        }
        assert_eq!(
            sub.read_within(Duration::from_millis(50)),
            None,
            "extra event after {cmd:?}"
        );
    }
    // The keyspace channel of k heard its events by name, in order.
    let mut heard = Vec::new();
    while let Some(v) = space.read_within(Duration::from_millis(200)) {
        if let V::Arr(m) = v {
            if let V::Bulk(e) = &m[2] {
                heard.push(String::from_utf8_lossy(e).into_owned());
            }
        }
    }
    assert_eq!(
        heard,
        [
            "new",
            "set",
            "set",
            "expire",
            "persist",
            "expire",
            "persist",
            "append",
            "setrange",
            "rename_from"
        ]
    );
}

#[test]
fn memory_of_expired_keys_goes_back_to_the_kernel() {
    let s = Server::start(1, &[]);
    let mut sub = Conn::new(&s);
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    let mut c = s.raw();
    // 200,000 keys with 100-byte values, all expiring within half a second.
    let n = 200_000;
    let value = "v".repeat(100);
    let mut batch = Vec::new();
    for i in 0..n {
        let key = format!("big:{i}");
        let ttl = (1500 + i % 500).to_string();
        batch.extend_from_slice(
            format!(
                "*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n$2\r\nPX\r\n${}\r\n{ttl}\r\n",
                key.len(),
                value.len(),
                ttl.len()
            )
            .as_bytes(),
        );
    }
    c.write_all(&batch).expect("write");
    let replies = common::read_at_least(&mut c, 5 * n);
    assert_eq!(replies.len(), 5 * n, "every SET answered +OK");
    let peak = common::rss_kb(s.pid());
    let mut heard = 0;
    while heard < n {
        match sub.read_within(Duration::from_secs(20)) {
            Some(V::Arr(_)) => heard += 1,
            other => panic!("after {heard} events: {other:?}"),
        }
    }
    // Freed memory is handed back in the first pause after the wave.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = common::rss_kb(s.pid());
    while now > peak / 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        now = common::rss_kb(s.pid());
    }
    assert!(
        now <= peak / 2,
        "RSS {now} kB after expiry, {peak} kB at peak"
    );
}
