//! How the server treats its connections, through the real binary: `timeout`
//! closing idle clients on both doors (never subscribers), `tcp-keepalive`
//! on every accepted socket, CLIENT REPLY, CLIENT PAUSE/UNPAUSE, CLIENT
//! UNBLOCK of a WAIT, `blocked_clients` and the pause in INFO, and the
//! settings in CONFIG GET/SET with Redis's errors.

mod common;

use common::{closed_by_peer, config_set, config_set_err, error_text, read_at_least, resp, Server};
use redis::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .expect("CONFIG GET");
    assert_eq!(v.len(), 2, "{name}: {v:?}");
    v[1].clone()
}

fn info_line(con: &mut redis::Connection, name: &str) -> String {
    let text: String = redis::cmd("INFO").arg("clients").query(con).expect("INFO");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .to_string()
}

#[test]
fn idle_clients_are_closed_after_timeout_but_subscribers_are_not() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    assert_eq!(config_get(&mut c, "timeout"), "0");
    config_set(&mut c, "timeout", "1");
    assert_eq!(config_get(&mut c, "timeout"), "1");
    let mut idle = s.raw();
    let mut idle_text = s.raw_text();
    let mut sub = s.raw();
    sub.write_all(&resp(&[b"SUBSCRIBE", b"ch"]))
        .expect("SUBSCRIBE");
    assert!(read_at_least(&mut sub, 30).starts_with(b"*3\r\n$9\r\nsubscribe"));
    let mut busy = s.raw();
    let start = Instant::now();
    // A client that keeps talking stays.
    while start.elapsed() < Duration::from_millis(2500) {
        busy.write_all(&resp(&[b"PING"])).expect("PING");
        assert_eq!(read_at_least(&mut busy, 7), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    for (what, sock) in [("resp", &mut idle), ("text", &mut idle_text)] {
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        assert!(closed_by_peer(sock), "an idle {what} client is closed");
    }
    // `c` was idle too, and is gone: a new client publishes.
    let mut c = s.client();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("ch")
        .arg("still here")
        .query(&mut c)
        .expect("PUBLISH");
    assert_eq!(n, 1, "the subscriber was not closed");
    assert!(String::from_utf8_lossy(&read_at_least(&mut sub, 40)).contains("still here"));
    config_set(&mut c, "timeout", "0");
}

/// The keepalive timer of the server's side of connections to `port`, from
/// /proc/net/tcp: Some(seconds left) when a keepalive timer runs.
fn keepalive_timers(port: u16) -> Vec<Option<u64>> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let hz = 100; // USER_HZ-independent: the kernel prints jiffies in clock_t
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f[1].split(':').nth(1)?, 16).ok()?;
            // 01: established; the server's end has the server's port.
            (local_port == port && f[3] == "01").then(|| {
                let (tr, when) = f[5].split_once(':')?;
                (tr == "02").then(|| u64::from_str_radix(when, 16).unwrap_or(0) / hz)
            })
        })
        .collect()
}

/// [`keepalive_timers`] once every row shows a timer or none as `want`
/// says: a reply not yet acknowledged (a delayed ACK) shows the
/// retransmission timer instead for up to 200 ms.
fn settled_timers(port: u16, want_keepalive: bool) -> Vec<Option<u64>> {
    let start = Instant::now();
    loop {
        let t = keepalive_timers(port);
        if !t.is_empty() && t.iter().all(|x| x.is_some() == want_keepalive) {
            return t;
        }
        if start.elapsed() > Duration::from_secs(3) {
            return t;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tcp_keepalive_is_on_for_every_client() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    // (A reply means the server took the connection, keepalive and all.)
    assert_eq!(config_get(&mut c, "tcp-keepalive"), "300");
    let timers = settled_timers(s.port, true);
    assert!(
        timers.iter().all(|t| t.is_some_and(|t| t <= 300)),
        "{timers:?}"
    );
    config_set(&mut c, "tcp-keepalive", "60");
    let mut fresh = s.raw();
    fresh.write_all(&resp(&[b"PING"])).expect("PING");
    assert_eq!(read_at_least(&mut fresh, 7), b"+PONG\r\n");
    let timers = settled_timers(s.port, true);
    assert!(
        timers.iter().any(|t| t.is_some_and(|t| t <= 60)),
        "{timers:?}"
    );

    let off = Server::start(1, &["--tcp-keepalive", "0"]);
    let mut oc = off.client();
    let _: String = redis::cmd("PING").query(&mut oc).expect("PING");
    let timers = settled_timers(off.port, false);
    assert!(
        !timers.is_empty() && timers.iter().all(Option::is_none),
        "{timers:?}"
    );
}

#[test]
fn client_reply_off_skip_and_on() {
    let s = Server::start(2, &[]);
    let mut r = s.raw();
    let mut send = Vec::new();
    for cmd in [
        &[&b"CLIENT"[..], b"REPLY", b"OFF"][..],
        &[b"SET", b"a", b"1"],
        &[b"GET", b"a"],
        &[b"NOSUCH"],
        &[b"CLIENT", b"REPLY", b"ON"],
        &[b"GET", b"a"],
        &[b"CLIENT", b"REPLY", b"SKIP"],
        &[b"SET", b"b", b"2"],
        &[b"GET", b"b"],
    ] {
        send.extend(resp(cmd));
    }
    r.write_all(&send).expect("write");
    let want = b"+OK\r\n$1\r\n1\r\n$1\r\n2\r\n";
    let got = read_at_least(&mut r, want.len());
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&got));
    r.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut more = [0u8; 64];
    assert!(r.read(&mut more).is_err(), "nothing else was sent");
    let mut c = s.client();
    assert!(
        error_text(redis::cmd("CLIENT").arg("REPLY").arg("MAYBE").query(&mut c))
            .contains("syntax error")
    );
    assert!(error_text(redis::cmd("CLIENT").arg("REPLY").query(&mut c))
        .contains("wrong number of arguments for 'client|reply'"));
}

/// Run `cmd` on a new connection in a thread; its reply and when it came.
fn in_thread(
    s: &Server,
    cmd: redis::Cmd,
) -> std::thread::JoinHandle<(redis::RedisResult<Value>, Instant)> {
    let mut c = s.client();
    std::thread::spawn(move || {
        let r = cmd.query(&mut c);
        (r, Instant::now())
    })
}

fn wait_blocked(c: &mut redis::Connection, n: &str) {
    let t = Instant::now();
    while info_line(c, "blocked_clients") != n {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "blocked_clients never {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_pause_holds_writes_or_everything_until_unpaused() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    let _: () = redis::cmd("SET")
        .arg("y")
        .arg("1")
        .query(&mut admin)
        .expect("SET");
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query(&mut admin)
        .expect("PAUSE");
    assert_eq!(info_line(&mut admin, "paused_actions"), "write");
    assert_eq!(info_line(&mut admin, "paused_reason"), "client_pause");
    let writer = in_thread(&s, redis::cmd("SET").arg("x").arg("1").clone());
    let script = in_thread(&s, redis::cmd("EVAL").arg("return 1").arg(0).clone());
    wait_blocked(&mut admin, "2");
    // Reads, and a transaction of reads, go on.
    let mut reader = s.client();
    let v: String = redis::cmd("GET").arg("y").query(&mut reader).expect("GET");
    assert_eq!(v, "1");
    let (v,): (String,) = redis::pipe()
        .atomic()
        .get("y")
        .query(&mut reader)
        .expect("EXEC");
    assert_eq!(v, "1");
    let writes_tx = in_thread(&s, {
        let mut p = redis::cmd("EVAL");
        p.arg("return redis.call('SET', KEYS[1], '2')")
            .arg(1)
            .arg("z");
        p
    });
    wait_blocked(&mut admin, "3");
    let unpaused = Instant::now();
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .expect("UNPAUSE");
    for h in [writer, script, writes_tx] {
        let (r, answered) = h.join().expect("thread");
        assert!(r.is_ok(), "{r:?}");
        assert!(answered >= unpaused, "answered only once unpaused");
    }
    assert_eq!(info_line(&mut admin, "blocked_clients"), "0");
    assert_eq!(info_line(&mut admin, "paused_actions"), "none");

    // ALL holds reads too, until the time is up; CLIENT itself never waits.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .query(&mut admin)
        .expect("PAUSE");
    let t = Instant::now();
    let _: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut admin)
        .expect("CLIENT ID");
    assert!(t.elapsed() < Duration::from_millis(200));
    let v: String = redis::cmd("GET").arg("y").query(&mut reader).expect("GET");
    assert_eq!(v, "1");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    for (args, err) in [
        (&["x"][..], "timeout is not an integer or out of range"),
        (&["-1"], "timeout is negative"),
        (&["10", "SOMETIMES"], "syntax error"),
    ] {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("PAUSE").arg(args);
        assert!(error_text(cmd.query(&mut admin)).contains(err), "{args:?}");
    }
}

#[test]
fn client_unblock_ends_a_wait() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    for (how, want_error) in [("TIMEOUT", false), ("ERROR", true)] {
        let mut waiter = s.client();
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query(&mut waiter)
            .expect("ID");
        let h = std::thread::spawn(move || {
            let t = Instant::now();
            let r: redis::RedisResult<Value> =
                redis::cmd("WAIT").arg(1).arg(30_000).query(&mut waiter);
            (r, t.elapsed())
        });
        wait_blocked(&mut admin, "1");
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(id)
            .arg(how)
            .query(&mut admin)
            .expect("UNBLOCK");
        assert_eq!(n, 1);
        let (r, took) = h.join().expect("thread");
        assert!(took < Duration::from_secs(10));
        if want_error {
            let e = error_text(r);
            assert!(
                e.contains("UNBLOCKED") && e.contains("client unblocked via CLIENT UNBLOCK"),
                "{e}"
            );
        } else {
            assert_eq!(r.expect("WAIT"), Value::Int(0));
        }
        assert_eq!(info_line(&mut admin, "blocked_clients"), "0");
    }
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(999_999)
        .query(&mut admin)
        .expect("UNBLOCK");
    assert_eq!(n, 0);
    assert!(error_text(
        redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(1)
            .arg("SOFTLY")
            .query(&mut admin)
    )
    .contains("CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    assert!(error_text(
        redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg("x")
            .query(&mut admin)
    )
    .contains("not an integer"));
}

#[test]
fn config_get_answers_the_redis_settings_honoured() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    for (name, want) in [
        ("timeout", "0"),
        ("tcp-keepalive", "300"),
        // The tests' servers start with --log-level warn.
        ("loglevel", "warning"),
        ("databases", "1"),
        ("slowlog-log-slower-than", "10000"),
        ("slowlog-max-len", "128"),
        ("latency-monitor-threshold", "0"),
        ("latency-tracking", "yes"),
        ("latency-tracking-info-percentiles", "50 99 99.9"),
    ] {
        assert_eq!(config_get(&mut c, name), want, "{name}");
    }
    config_set(&mut c, "loglevel", "notice");
    assert_eq!(config_get(&mut c, "log-level"), "info");
    assert_eq!(config_get(&mut c, "loglevel"), "notice");
    config_set(&mut c, "log-level", "warn");
    assert_eq!(config_get(&mut c, "loglevel"), "warning");
    for (name, bad, err) in [
        ("loglevel", "chatty", "must be one of the following"),
        ("timeout", "-1", "couldn't be parsed into an integer"),
        ("tcp-keepalive", "x", "couldn't be parsed into an integer"),
        ("latency-tracking", "maybe", "must be 'yes' or 'no'"),
        (
            "latency-tracking-info-percentiles",
            "50 101",
            "not a percentile",
        ),
        ("log-level", "[[[", "bad log level"),
    ] {
        let e = config_set_err(&mut c, name, bad);
        assert!(e.contains(err), "{name} {bad}: {e}");
    }
    // The server still answers after a refused log level.
    let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
    assert_eq!(pong, "PONG");
}

#[test]
fn a_client_that_vanishes_while_paused_or_waiting_leaves_nothing_blocked() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    let mut gone = s.raw();
    gone.write_all(&resp(&[b"WAIT", b"1", b"300"]))
        .expect("WAIT");
    wait_blocked(&mut admin, "1");
    drop(gone);
    // The wait ends at its timeout; its registration with it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(info_line(&mut admin, "blocked_clients"), "0");
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .arg("WRITE")
        .query(&mut admin)
        .expect("PAUSE");
    let mut gone = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    gone.write_all(&resp(&[b"SET", b"k", b"v"])).expect("SET");
    wait_blocked(&mut admin, "1");
    drop(gone);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(info_line(&mut admin, "blocked_clients"), "0");
    // Its write ran once the pause ended, as it was sent before it went.
    let v: String = redis::cmd("GET").arg("k").query(&mut admin).expect("GET");
    assert_eq!(v, "v");
}

/// CLIENT PAUSE holds expiry (and eviction) as Redis's does: a key whose
/// deadline passes during the pause is removed, and its `expired` event
/// heard, only once the pause ends.
#[test]
fn client_pause_holds_expiry_until_unpaused() {
    let s = Server::start(2, &[]);
    let mut c = s.client();
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.subscribe("__keyevent@0__:expired").unwrap();
    ps.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(150)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(5000)
        .arg("WRITE")
        .query(&mut c)
        .unwrap();
    // Past the deadline, still paused: nothing expires.
    assert!(ps.get_message().is_err(), "a key expired during the pause");
    assert!(ps.get_message().is_err(), "a key expired during the pause");
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut c).unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let m = ps.get_message().expect("the expiry after the pause");
    let key: String = m.get_payload().unwrap();
    assert_eq!(key, "short");
}
