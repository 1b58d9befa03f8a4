//! Client-side caching through the real binary: CLIENT TRACKING in its
//! default mode (a reader told once when a key it read changes — written,
//! deleted, expired, flushed — on either core, and when its shard moves),
//! NOLOOP, BCAST with PREFIX, OPTIN/OPTOUT with CLIENT CACHING, REDIRECT to a
//! RESP2 subscriber of `__redis__:invalidate` and a broken redirect,
//! TRACKINGINFO, GETREDIR and Redis's errors, over raw RESP3 connections;
//! and node-redis 5's client-side cache (`clientSideCache`), which caches
//! reads locally and must never serve a stale value.

mod common;

use common::{config_set, keys_on_each_core, resp, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A RESP3 value, as much of it as these tests look at.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Str(String),
    Err(String),
    Int(i64),
    Null,
    Arr(Vec<V>),
    Push(Vec<V>),
}

struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(s: &Server, resp3: bool) -> Conn {
        let t = s.raw();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut c = Conn {
            r: BufReader::new(t),
        };
        if resp3 {
            c.send(&["HELLO", "3"]);
            let hello = c.read();
            assert!(matches!(hello, V::Arr(_)), "{hello:?}");
        }
        c
    }

    fn send(&mut self, args: &[&str]) {
        let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.r.get_mut().write_all(&resp(&parts)).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("a reply line");
        assert!(!l.is_empty(), "connection closed");
        l.trim_end().to_string()
    }

    fn read(&mut self) -> V {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        match t {
            "+" => V::Str(rest.into()),
            "-" => V::Err(rest.into()),
            ":" => V::Int(rest.parse().unwrap()),
            "_" => V::Null,
            "$" | "=" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let mut b = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                V::Str(String::from_utf8_lossy(&b[..n as usize]).into())
            }
            "*" | "~" | ">" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let items = (0..n).map(|_| self.read()).collect();
                if t == ">" {
                    V::Push(items)
                } else {
                    V::Arr(items)
                }
            }
            "%" => {
                let n: usize = rest.parse().unwrap();
                V::Arr((0..2 * n).map(|_| self.read()).collect())
            }
            other => panic!("unexpected reply type {other}: {l}"),
        }
    }

    /// A command's reply (pushes before it are returned apart).
    fn call(&mut self, args: &[&str]) -> (V, Vec<V>) {
        self.send(args);
        let mut pushes = Vec::new();
        loop {
            match self.read() {
                V::Push(p) => pushes.push(V::Push(p)),
                v => return (v, pushes),
            }
        }
    }

    fn ok(&mut self, args: &[&str]) -> V {
        let (v, pushes) = self.call(args);
        assert!(pushes.is_empty(), "{args:?}: unexpected pushes {pushes:?}");
        v
    }

    /// Pushes that arrive within `ms` (a PING's reply marks the end).
    fn pushes(&mut self, ms: u64) -> Vec<V> {
        std::thread::sleep(Duration::from_millis(ms));
        let (v, pushes) = self.call(&["PING"]);
        assert_eq!(v, V::Str("PONG".into()));
        pushes
    }
}

fn inval(keys: &[&str]) -> V {
    V::Push(vec![
        V::Str("invalidate".into()),
        V::Arr(keys.iter().map(|k| V::Str(k.to_string())).collect()),
    ])
}

fn id_of(c: &mut Conn) -> String {
    match c.ok(&["CLIENT", "ID"]) {
        V::Int(n) => n.to_string(),
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_reader_is_told_once_of_each_change_on_either_core() {
    let s = Server::start(2, &[]);
    let mut admin = s.client();
    let [on0, on1] = keys_on_each_core(&mut admin, 2, "csc");
    let (a, b) = (on0[0].as_str(), on1[0].as_str());
    let mut w = Conn::new(&s, true);
    w.ok(&["SET", a, "1"]);
    w.ok(&["SET", b, "1"]);
    let mut t = Conn::new(&s, true);
    assert_eq!(t.ok(&["CLIENT", "TRACKING", "ON"]), V::Str("OK".into()));
    t.ok(&["GET", a]);
    t.ok(&["MGET", b]);
    w.ok(&["SET", a, "2"]);
    w.ok(&["SET", b, "2"]);
    let got = t.pushes(100);
    assert!(
        got.contains(&inval(&[a])) && got.contains(&inval(&[b])),
        "{got:?}"
    );
    // Told once: the next change goes unheard until it is read again.
    w.ok(&["SET", a, "3"]);
    assert!(t.pushes(50).is_empty());
    t.ok(&["GET", a]);
    w.ok(&["DEL", a]);
    assert_eq!(t.pushes(100), vec![inval(&[a])]);
    // Expiry (the active one) counts as a change.
    w.ok(&["SET", a, "x", "PX", "50"]);
    t.ok(&["GET", a]);
    assert_eq!(t.pushes(400), vec![inval(&[a])]);
    // FLUSHALL tells every tracking client to drop everything, once.
    t.ok(&["GET", b]);
    w.ok(&["FLUSHALL"]);
    let got = t.pushes(100);
    assert_eq!(
        got,
        vec![V::Push(vec![V::Str("invalidate".into()), V::Null])],
        "{got:?}"
    );
    // A reader that is not tracking hears nothing.
    let mut plain = Conn::new(&s, true);
    plain.ok(&["GET", a]);
    w.ok(&["SET", a, "9"]);
    assert!(plain.pushes(50).is_empty());
}

#[test]
fn noloop_bcast_and_optin() {
    let s = Server::start(2, &[]);
    let mut w = Conn::new(&s, true);
    // NOLOOP: its own writes are not told back; others' are.
    let mut n = Conn::new(&s, true);
    n.ok(&["CLIENT", "TRACKING", "ON", "NOLOOP"]);
    n.ok(&["GET", "k"]);
    n.ok(&["SET", "k", "mine"]);
    assert!(n.pushes(100).is_empty());
    n.ok(&["GET", "k"]);
    w.ok(&["SET", "k", "theirs"]);
    assert_eq!(n.pushes(100), vec![inval(&["k"])]);
    // BCAST: every change under a prefix, read or not.
    let mut b = Conn::new(&s, true);
    b.ok(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "cfg:",
    ]);
    for k in ["user:1", "item:1", "cfg:x", "user:2"] {
        w.ok(&["SET", k, "v"]);
    }
    let got = b.pushes(150);
    let keys: Vec<V> = got
        .iter()
        .flat_map(|p| match p {
            V::Push(v) => match &v[1] {
                V::Arr(ks) => ks.clone(),
                _ => vec![],
            },
            _ => vec![],
        })
        .collect();
    let mut names: Vec<String> = keys
        .into_iter()
        .map(|k| match k {
            V::Str(s) => s,
            _ => String::new(),
        })
        .collect();
    names.sort();
    assert_eq!(names, vec!["cfg:x", "user:1", "user:2"]);
    let info = b.ok(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        info,
        V::Arr(vec![
            V::Str("flags".into()),
            V::Arr(vec![V::Str("on".into()), V::Str("bcast".into())]),
            V::Str("redirect".into()),
            V::Int(0),
            V::Str("prefixes".into()),
            V::Arr(vec![V::Str("user:".into()), V::Str("cfg:".into())]),
        ])
    );
    let info = format!("{:?}", w.ok(&["INFO", "everything"]));
    assert!(info.contains("tracking_clients:2"), "{info}");
    assert!(info.contains("tracking_total_prefixes:2"), "{info}");
    assert!(info.contains("tracking_total_keys:"), "{info}");
    // OFF: nothing more.
    b.ok(&["CLIENT", "TRACKING", "OFF"]);
    w.ok(&["SET", "user:3", "v"]);
    assert!(b.pushes(100).is_empty());
    // OPTIN: only the command after CLIENT CACHING YES is remembered.
    let mut o = Conn::new(&s, true);
    o.ok(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    o.ok(&["CLIENT", "CACHING", "YES"]);
    o.ok(&["GET", "a"]);
    o.ok(&["GET", "b"]);
    w.ok(&["SET", "b", "1"]);
    w.ok(&["SET", "a", "1"]);
    assert_eq!(o.pushes(100), vec![inval(&["a"])]);
    // OPTOUT: every read but the one after CLIENT CACHING NO.
    let mut x = Conn::new(&s, true);
    x.ok(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    x.ok(&["CLIENT", "CACHING", "NO"]);
    x.ok(&["GET", "c"]);
    x.ok(&["GET", "d"]);
    w.ok(&["SET", "c", "1"]);
    w.ok(&["SET", "d", "1"]);
    assert_eq!(x.pushes(100), vec![inval(&["d"])]);
    // Inside MULTI, read keys are remembered too (CACHING YES covers it all).
    o.ok(&["CLIENT", "CACHING", "YES"]);
    o.ok(&["MULTI"]);
    o.ok(&["GET", "m1"]);
    o.ok(&["GET", "m2"]);
    o.ok(&["EXEC"]);
    w.ok(&["SET", "m2", "1"]);
    assert_eq!(o.pushes(100), vec![inval(&["m2"])]);
}

#[test]
fn redirect_to_a_resp2_subscriber_and_a_broken_redirect() {
    let s = Server::start(2, &[]);
    let mut w = Conn::new(&s, true);
    let mut sub = Conn::new(&s, false);
    let sub_id = id_of(&mut sub);
    sub.send(&["SUBSCRIBE", "__redis__:invalidate"]);
    assert!(matches!(sub.read(), V::Arr(_)));
    // A RESP2 tracker: it cannot hear pushes itself, so it redirects.
    let mut t = Conn::new(&s, false);
    t.ok(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id]);
    assert_eq!(
        t.ok(&["CLIENT", "GETREDIR"]),
        V::Int(sub_id.parse().unwrap())
    );
    t.ok(&["GET", "r"]);
    w.ok(&["SET", "r", "1"]);
    assert_eq!(
        sub.read(),
        V::Arr(vec![
            V::Str("message".into()),
            V::Str("__redis__:invalidate".into()),
            V::Arr(vec![V::Str("r".into())]),
        ])
    );
    let list = match w.ok(&["CLIENT", "LIST"]) {
        V::Str(s) => s,
        v => panic!("{v:?}"),
    };
    assert!(list.contains(&format!("redir={sub_id}")), "{list}");
    // A RESP3 tracker redirecting to a client that then leaves hears it once.
    let mut gone = Conn::new(&s, true);
    let gone_id = id_of(&mut gone);
    let mut t3 = Conn::new(&s, true);
    t3.ok(&["CLIENT", "TRACKING", "ON", "REDIRECT", &gone_id]);
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    t3.ok(&["GET", "q"]);
    w.ok(&["SET", "q", "1"]);
    let got = t3.pushes(150);
    assert_eq!(
        got,
        vec![V::Push(vec![
            V::Str("tracking-redir-broken".into()),
            V::Int(gone_id.parse().unwrap())
        ])]
    );
    let info = format!("{:?}", t3.ok(&["CLIENT", "TRACKINGINFO"]));
    assert!(info.contains("broken_redirect"), "{info}");
}

#[test]
fn tracking_errors_and_info() {
    let s = Server::start(1, &[]);
    let mut c = Conn::new(&s, true);
    let cases: &[(&[&str], &str)] = &[
        (&["CLIENT", "TRACKING", "ON", "PREFIX", "a"], "ERR PREFIX option requires BCAST mode to be enabled"),
        (&["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], "ERR You can't use both OPTIN and OPTOUT"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], "ERR OPTIN and OPTOUT are not compatible with BCAST"),
        (&["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"], "ERR The client ID you want redirect to does not exist"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"], "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap."),
        (&["CLIENT", "TRACKING", "MAYBE"], "ERR syntax error"),
        (&["CLIENT", "CACHING", "YES"], "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"),
        (&["CLIENT", "TRACKING"], "ERR wrong number of arguments for 'client|tracking' command"),
    ];
    for (args, want) in cases {
        assert_eq!(c.ok(args), V::Err(want.to_string()), "{args:?}");
    }
    // The refused REDIRECT left tracking off.
    assert_eq!(c.ok(&["CLIENT", "GETREDIR"]), V::Int(-1));
    assert_eq!(
        c.ok(&["CLIENT", "TRACKINGINFO"]),
        V::Arr(vec![
            V::Str("flags".into()),
            V::Arr(vec![V::Str("off".into())]),
            V::Str("redirect".into()),
            V::Int(-1),
            V::Str("prefixes".into()),
            V::Arr(vec![]),
        ])
    );
    c.ok(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    assert_eq!(c.ok(&["CLIENT", "GETREDIR"]), V::Int(0));
    assert_eq!(
        c.ok(&["CLIENT", "CACHING", "NO"]),
        V::Err(
            "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into()
        )
    );
    assert_eq!(
        c.ok(&["CLIENT", "TRACKING", "ON", "OPTOUT"]),
        V::Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into())
    );
    assert_eq!(
        c.ok(&["CLIENT", "TRACKING", "ON", "BCAST"]),
        V::Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into())
    );
    let mut b = Conn::new(&s, true);
    b.ok(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"]);
    assert_eq!(
        b.ok(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"]),
        V::Err("ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must not overlap.".into())
    );
    assert_eq!(
        b.ok(&["CLIENT", "TRACKING", "ON"]),
        V::Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into())
    );
    // RESET turns tracking off.
    b.ok(&["RESET"]);
    assert_eq!(b.ok(&["CLIENT", "GETREDIR"]), V::Int(-1));
}

#[test]
fn readers_are_told_when_their_keys_shard_moves() {
    let s = Server::start(2, &["--autoscale", "off"]);
    let mut admin = s.client();
    config_set(&mut admin, "tracking-table-max-keys", "0");
    let mut w = Conn::new(&s, true);
    w.ok(&["SET", "mv", "1"]);
    let mut t = Conn::new(&s, true);
    t.ok(&["CLIENT", "TRACKING", "ON"]);
    t.ok(&["GET", "mv"]);
    let (shard, core): (u64, usize) = redis::cmd("STAIRKV")
        .arg("KEYSHARD")
        .arg("mv")
        .query(&mut admin)
        .unwrap();
    let _: redis::Value = redis::cmd("STAIRKV")
        .arg("MIGRATE")
        .arg(shard)
        .arg(1 - core)
        .query(&mut admin)
        .unwrap();
    // Told at the move (its next read is remembered where the key went)...
    assert_eq!(t.pushes(200), vec![inval(&["mv"])]);
    t.ok(&["GET", "mv"]);
    // ...and of the next change there.
    w.ok(&["SET", "mv", "2"]);
    assert_eq!(t.pushes(100), vec![inval(&["mv"])]);
}

/// node-redis 5's client-side cache caches GETs and drops them when the
/// server says so: a second GET is served from the cache, and after
/// another client's SET the next GET sees the new value.
#[test]
fn node_redis_5_client_side_cache_is_never_stale() {
    if !common::have_node_package("redis5") {
        return;
    }
    let s = Server::start(2, &[]);
    let text = common::run_node("tracking.mjs", &[format!("redis://127.0.0.1:{}", s.port)]);
    assert!(
        text.contains("ok hits=") && text.contains("stale=0"),
        "{text}"
    );
}
