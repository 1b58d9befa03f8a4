//! The HTTP door through the real binary: every keys route with its statuses
//! and errors, binary and large values read back over RESP, passwords and ACL
//! users, limits, malformed and vanishing clients, `/metrics`, `/healthz`,
//! `/readyz`, and the WebSocket event and stats streams (an `expired` event
//! within 50 ms of its deadline).

mod common;

use common::{config_set, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A request's status and body, whatever the status.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> (u16, Vec<u8>) {
    let mut req = ureq::request(method, url).timeout(Duration::from_secs(20));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let res = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let mut out = Vec::new();
    resp.into_reader()
        .take(1 << 30)
        .read_to_end(&mut out)
        .expect("body");
    (status, out)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn error_of(body: &[u8]) -> String {
    json(body)["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field: {}", String::from_utf8_lossy(body)))
        .to_owned()
}

fn enc(key: &[u8]) -> String {
    key.iter().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn keys_api_routes_statuses_and_errors() {
    let srv = Server::start(2, &[]);
    let base = srv.http();
    let mut con = srv.client();
    // PUT then GET, read back over RESP too.
    let (s, b) = call(
        "PUT",
        &format!("{base}/v1/keys/greeting"),
        &[],
        Some(b"hello"),
    );
    assert_eq!((s, json(&b)), (200, serde_json::json!({ "ok": true })));
    let (s, b) = call("GET", &format!("{base}/v1/keys/greeting"), &[], None);
    assert_eq!((s, b.as_slice()), (200, &b"hello"[..]));
    let v: String = redis::cmd("GET")
        .arg("greeting")
        .query(&mut con)
        .expect("GET");
    assert_eq!(v, "hello");
    // What RESP writes, HTTP reads.
    let _: () = redis::cmd("SET")
        .arg("from-resp")
        .arg("v1")
        .query(&mut con)
        .expect("SET");
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/from-resp"), &[], None).1,
        b"v1"
    );
    // 404s.
    let (s, b) = call("GET", &format!("{base}/v1/keys/missing"), &[], None);
    assert_eq!((s, error_of(&b).as_str()), (404, "not found"));
    assert_eq!(
        call("DELETE", &format!("{base}/v1/keys/missing"), &[], None).0,
        404
    );
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/missing/ttl"), &[], None).0,
        404
    );
    assert_eq!(call("GET", &format!("{base}/nowhere"), &[], None).0, 404);
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/a/nothing"), &[], None).0,
        404
    );
    // nx / xx refusals are 409.
    let (s, b) = call(
        "PUT",
        &format!("{base}/v1/keys/greeting?nx"),
        &[],
        Some(b"x"),
    );
    assert_eq!((s, error_of(&b).as_str()), (409, "the key exists (nx)"));
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/fresh?xx"), &[], Some(b"x")).0,
        409
    );
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/fresh?nx"), &[], Some(b"x")).0,
        200
    );
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/fresh?xx"), &[], Some(b"y")).0,
        200
    );
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/keys/fresh?nx&xx"),
            &[],
            Some(b"y")
        )
        .0,
        400
    );
    // TTL.
    let (s, b) = call("GET", &format!("{base}/v1/keys/fresh/ttl"), &[], None);
    assert_eq!(
        (s, json(&b)),
        (200, serde_json::json!({ "ttl": -1, "pttl": -1 }))
    );
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/t?ttl=100"), &[], Some(b"x")).0,
        200
    );
    let ttl = json(&call("GET", &format!("{base}/v1/keys/t/ttl"), &[], None).1);
    assert_eq!(ttl["ttl"], 100);
    assert!((99_000..=100_000).contains(&ttl["pttl"].as_i64().expect("pttl")));
    let pttl: i64 = redis::cmd("PTTL").arg("t").query(&mut con).expect("PTTL");
    assert!(pttl > 98_000);
    for bad in ["0", "-1", "abc", "1.5"] {
        let (s, b) = call(
            "PUT",
            &format!("{base}/v1/keys/t?ttl={bad}"),
            &[],
            Some(b"x"),
        );
        assert_eq!(s, 400, "ttl={bad}");
        assert!(error_of(&b).contains("ttl"));
    }
    // INCR.
    let (s, b) = call("POST", &format!("{base}/v1/keys/n/incr"), &[], None);
    assert_eq!((s, json(&b)["value"].as_i64()), (200, Some(1)));
    let (s, b) = call("POST", &format!("{base}/v1/keys/n/incr?by=-11"), &[], None);
    assert_eq!((s, json(&b)["value"].as_i64()), (200, Some(-10)));
    assert_eq!(
        call("POST", &format!("{base}/v1/keys/n/incr?by=x"), &[], None).0,
        400
    );
    let (s, b) = call("POST", &format!("{base}/v1/keys/greeting/incr"), &[], None);
    assert_eq!(s, 409);
    assert!(error_of(&b).contains("not an integer"), "{}", error_of(&b));
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(i64::MAX)
        .query(&mut con)
        .expect("SET");
    assert_eq!(
        call("POST", &format!("{base}/v1/keys/big/incr"), &[], None).0,
        409
    );
    // DELETE.
    let (s, b) = call("DELETE", &format!("{base}/v1/keys/n"), &[], None);
    assert_eq!((s, json(&b)), (200, serde_json::json!({ "deleted": 1 })));
    let exists: i64 = redis::cmd("EXISTS")
        .arg("n")
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(exists, 0);
    // Wrong methods: 405 with Allow.
    assert_eq!(
        call("POST", &format!("{base}/v1/keys/fresh"), &[], None).0,
        405
    );
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/n/incr"), &[], None).0,
        405
    );
    assert_eq!(call("DELETE", &format!("{base}/v1/keys"), &[], None).0, 405);
    assert_eq!(call("POST", &format!("{base}/healthz"), &[], None).0, 405);
    // An empty key is refused; `/v1/keys/` is the list.
    assert_eq!(
        call("GET", &format!("{base}/v1/keys//ttl"), &[], None).0,
        400
    );
    assert_eq!(call("GET", &format!("{base}/v1/keys/"), &[], None).0, 200);
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/%20/incr"), &[], None).0,
        405
    );
}

#[test]
fn scan_pages_list_every_key_once() {
    let srv = Server::start(2, &[]);
    let base = srv.http();
    let mut con = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.set(format!("user:{i}"), i).ignore();
        pipe.set(format!("other:{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("fill");
    let _: () = redis::cmd("SET")
        .arg(&b"bin\xff\x00"[..])
        .arg("v")
        .query(&mut con)
        .expect("SET");
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut pages = 0;
    loop {
        let (s, b) = call(
            "GET",
            &format!("{base}/v1/keys?match=user%3A*&count=37&cursor={cursor}"),
            &[],
            None,
        );
        assert_eq!(s, 200);
        let page = json(&b);
        for k in page["keys"].as_array().expect("keys") {
            let k = k.as_str().expect("utf-8 key").to_owned();
            assert!(k.starts_with("user:"), "{k}");
            assert!(seen.insert(k), "a key listed twice");
        }
        cursor = page["cursor"].as_str().expect("cursor").to_owned();
        pages += 1;
        if cursor == "0" {
            break;
        }
        assert!(pages < 1000);
    }
    assert_eq!(seen.len(), 500);
    // A key that is not UTF-8 comes as base64 (COUNT is work, as SCAN's:
    // pages may be empty until the cursor comes back to 0).
    let mut found = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let url = format!("{base}/v1/keys?match=bin*&cursor={cursor}");
        let page = json(&call("GET", &url, &[], None).1);
        found.extend(page["keys"].as_array().expect("keys").iter().cloned());
        cursor = page["cursor"].as_str().expect("cursor").to_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(
        found,
        [serde_json::json!({ "base64": base64_of(b"bin\xff\x00") })]
    );
    for bad in ["cursor=x", "count=0", "count=10001", "count=-1"] {
        assert_eq!(
            call("GET", &format!("{base}/v1/keys?{bad}"), &[], None).0,
            400,
            "{bad}"
        );
    }
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn binary_and_large_values_cross_doors_whole() {
    let srv = Server::start(2, &[]);
    let base = srv.http();
    let mut con = srv.client();
    let key: Vec<u8> = (0..=255u8).collect();
    let value: Vec<u8> = (0..=255u8).rev().cycle().take(4096).collect();
    let url = format!("{base}/v1/keys/{}", enc(&key));
    assert_eq!(call("PUT", &url, &[], Some(&value)).0, 200);
    let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).expect("GET");
    assert_eq!(got, value);
    assert_eq!(call("GET", &url, &[], None).1, value);
    // 24 MB each way.
    let big = common::noise(24 << 20, 7);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .expect("SET");
    let (s, b) = call("GET", &format!("{base}/v1/keys/big"), &[], None);
    assert_eq!(s, 200);
    assert!(b == big, "the large value came back whole");
    let big2 = common::noise(24 << 20, 8);
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/big2"), &[], Some(&big2)).0,
        200
    );
    let got: Vec<u8> = redis::cmd("GET").arg("big2").query(&mut con).expect("GET");
    assert!(got == big2);
}

#[test]
fn bodies_past_proto_max_bulk_len_are_413_and_oom_is_507() {
    let srv = Server::start(1, &[]);
    let base = srv.http();
    let mut con = srv.client();
    config_set(&mut con, "proto-max-bulk-len", "1048576");
    // Far past the limit, so the client is still sending when the 413 comes:
    // the server reads and drops the rest before it closes, or the client's
    // writes would meet a reset and lose the reply.
    let too_big = vec![b'x'; 16 << 20];
    let (s, b) = call("PUT", &format!("{base}/v1/keys/k"), &[], Some(&too_big));
    assert_eq!(s, 413);
    assert!(error_of(&b).contains("proto-max-bulk-len"));
    // Chunked, with no length given: cut off at the limit all the same.
    let mut sock = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok();
    sock.write_all(b"PUT /v1/keys/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .expect("head");
    let chunk = vec![b'y'; 64 * 1024];
    let mut refused = false;
    for _ in 0..40 {
        let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
        c.extend_from_slice(&chunk);
        c.extend_from_slice(b"\r\n");
        if sock.write_all(&c).is_err() {
            refused = true;
            break;
        }
    }
    let mut reply = vec![0u8; 4096];
    let n = sock.read(&mut reply).unwrap_or(0);
    let text = String::from_utf8_lossy(&reply[..n]);
    assert!(refused || text.starts_with("HTTP/1.1 413"), "{text}");
    let exists: i64 = redis::cmd("EXISTS")
        .arg("k")
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(exists, 0);
    // Exactly at the limit is fine.
    assert_eq!(
        call(
            "PUT",
            &format!("{base}/v1/keys/k"),
            &[],
            Some(&too_big[..1 << 20])
        )
        .0,
        200
    );
    // noeviction past maxmemory: 507 with Redis's OOM text.
    config_set(&mut con, "maxmemory", "1");
    let (s, b) = call("PUT", &format!("{base}/v1/keys/more"), &[], Some(b"x"));
    assert_eq!(s, 507);
    assert!(error_of(&b).starts_with("OOM"), "{}", error_of(&b));
}

#[test]
fn passwords_and_acl_users_guard_every_route_but_the_probes() {
    let srv = Server::start(2, &["--requirepass", "s3cret"]);
    let base = srv.http();
    // Probes and the dashboard's files need no password.
    assert_eq!(call("GET", &format!("{base}/healthz"), &[], None).0, 200);
    assert_eq!(call("GET", &format!("{base}/readyz"), &[], None).0, 200);
    let (s, page) = call("GET", &format!("{base}/"), &[], None);
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&page).contains("stairkv"));
    for (method, path) in [
        ("GET", "/v1/keys/a"),
        ("PUT", "/v1/keys/a"),
        ("DELETE", "/v1/keys/a"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/keys/a/ttl"),
        ("POST", "/v1/keys/a/incr"),
        ("GET", "/metrics"),
        ("GET", "/v1/stats"),
        ("GET", "/v1/events"),
    ] {
        let url = format!("{base}{path}");
        let (s, b) = call(method, &url, &[], Some(b"v"));
        assert_eq!(s, 401, "{method} {path} without a password");
        if method == "PUT" {
            // A big body refused unread still gets its 401 (the server
            // drops the rest before it closes).
            let big = vec![b'v'; 8 << 20];
            assert_eq!(call(method, &url, &[], Some(&big)).0, 401);
        }
        assert!(error_of(&b).contains("authentication required"));
        let (s, b) = call(
            method,
            &url,
            &[("Authorization", "Bearer wrong")],
            Some(b"v"),
        );
        assert_eq!(s, 401, "{method} {path} with a wrong password");
        assert!(error_of(&b).starts_with("WRONGPASS"), "{}", error_of(&b));
        let (s, _) = call(method, &url, &[("Authorization", "Basic !!!")], Some(b"v"));
        assert_eq!(s, 401);
    }
    // /v1/info tells a dashboard that it needs a password, and nothing else.
    let (s, b) = call("GET", &format!("{base}/v1/info"), &[], None);
    assert_eq!(
        (s, json(&b)),
        (
            200,
            serde_json::json!({ "auth_required": true, "authenticated": false })
        )
    );
    let auth = [("Authorization", "Bearer s3cret")];
    let info = json(&call("GET", &format!("{base}/v1/info"), &auth, None).1);
    assert_eq!(info["cores"], 2);
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/a"), &auth, Some(b"v")).0,
        200
    );
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/a"), &auth, None).1,
        b"v"
    );
    // The same connection without the header is refused again (ureq keeps it alive).
    assert_eq!(call("GET", &format!("{base}/v1/keys/a"), &[], None).0, 401);
    // Wrong passwords are in ACL LOG, as over RESP.
    let mut con = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", srv.port))
        .expect("client")
        .get_connection()
        .expect("connect");
    let log: Vec<redis::Value> = redis::cmd("ACL")
        .arg("LOG")
        .query(&mut con)
        .expect("ACL LOG");
    assert!(!log.is_empty(), "failed HTTP logins are logged");
    // An ACL user through Basic auth, held to its rules.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "reader", "on", ">rpw", "~pub:*", "+get", "+scan"])
        .query(&mut con)
        .expect("SETUSER");
    let basic = format!("Basic {}", base64_of(b"reader:rpw"));
    let reader = [("Authorization", basic.as_str())];
    let _: () = redis::cmd("SET")
        .arg("pub:1")
        .arg("p")
        .query(&mut con)
        .expect("SET");
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/pub:1"), &reader, None).1,
        b"p"
    );
    let (s, b) = call("PUT", &format!("{base}/v1/keys/pub:1"), &reader, Some(b"x"));
    assert_eq!(s, 403);
    assert!(error_of(&b).starts_with("NOPERM"), "{}", error_of(&b));
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/a"), &reader, None).0,
        403
    );
    let bad = format!("Basic {}", base64_of(b"reader:nope"));
    assert_eq!(
        call(
            "GET",
            &format!("{base}/v1/keys/pub:1"),
            &[("Authorization", bad.as_str())],
            None
        )
        .0,
        401
    );
    // A changed password takes effect on the next request.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "reader", "resetpass", ">new"])
        .query(&mut con)
        .expect("SETUSER");
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/pub:1"), &reader, None).0,
        401
    );
    // The stats socket takes the password in its query.
    let (mut ws, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/v1/stats?token=s3cret",
        srv.http_port
    ))
    .expect("stats socket with a token");
    let tick = ws.read().expect("a tick");
    assert!(tick.to_text().expect("text").contains("\"cores\""));
    assert!(tungstenite::connect(format!(
        "ws://127.0.0.1:{}/v1/stats?token=no",
        srv.http_port
    ))
    .is_err());
}

#[test]
fn http_clients_are_listed_limited_killed_and_idle_closed() {
    let srv = Server::start(1, &["--maxclients", "3"]);
    let mut con = srv.client();
    // A keep-alive HTTP connection shows in CLIENT LIST as door=http.
    let mut h = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    h.set_read_timeout(Some(Duration::from_secs(10))).ok();
    h.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let n = h.read(&mut buf).expect("reply");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("LIST");
    let row = list
        .lines()
        .find(|l| l.contains("door=http"))
        .expect("an http row");
    let id = row
        .split(' ')
        .find_map(|f| f.strip_prefix("id="))
        .expect("id");
    // maxclients counts HTTP connections: the fourth is refused with 503.
    let _third = srv.client();
    let (s, b) = call("GET", &format!("{}/v1/keys/a", srv.http()), &[], None);
    assert_eq!(s, 503);
    assert!(error_of(&b).contains("max number of clients"));
    // CLIENT KILL ends it.
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "ID", id])
        .query(&mut con)
        .expect("KILL");
    assert_eq!(killed, 1);
    assert!(
        common::closed_by_peer(&mut h),
        "killed HTTP connection closed"
    );
    // `timeout` closes an idle keep-alive connection.
    config_set(&mut con, "timeout", "1");
    let mut h = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    h.set_read_timeout(Some(Duration::from_secs(10))).ok();
    h.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let n = h.read(&mut buf).expect("reply");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    assert!(common::closed_by_peer(&mut h));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn malformed_and_vanishing_clients_leave_the_server_serving() {
    let srv = Server::start(2, &[]);
    let base = srv.http();
    // Garbage: hyper answers 400 and closes.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(b"\x00\x01 NOT HTTP\r\n\r\n").expect("send");
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    // A head over the limit is refused, not buffered.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 200 * 1024));
    let _ = s.write_all(&head);
    let mut r = Vec::new();
    let _ = s.read_to_end(&mut r);
    assert!(
        r.starts_with(b"HTTP/1.1 431") || r.is_empty(),
        "{}",
        String::from_utf8_lossy(&r)
    );
    // A client that vanishes half-way through a body.
    for _ in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
        s.write_all(b"PUT /v1/keys/half HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
            .expect("send");
        drop(s);
    }
    // A bad percent-encoding is taken as it is written.
    assert_eq!(
        call("GET", &format!("{base}/v1/keys/%ZZ"), &[], None).0,
        404
    );
    assert_eq!(call("GET", &format!("{base}/healthz"), &[], None).0, 200);
    let mut con = srv.client();
    let exists: i64 = redis::cmd("EXISTS")
        .arg("half")
        .query(&mut con)
        .expect("EXISTS");
    assert_eq!(exists, 0);
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("LIST");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut http_rows = clients.lines().filter(|l| l.contains("door=http")).count();
    while http_rows > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query(&mut con)
            .expect("LIST");
        http_rows = clients.lines().filter(|l| l.contains("door=http")).count();
    }
    assert!(
        http_rows <= 1,
        "vanished HTTP clients are forgotten ({http_rows} left)"
    );
}

#[test]
fn metrics_health_and_readiness() {
    let srv = Server::start(2, &[]);
    let base = srv.http();
    let mut con = srv.client();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .expect("SET");
    }
    let (s, b) = call("GET", &format!("{base}/metrics"), &[], None);
    assert_eq!(s, 200);
    let text = String::from_utf8(b).expect("utf-8");
    let sum = |name: &str, filter: &str| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with(name) && l[name.len()..].starts_with('{') && l.contains(filter)
            })
            .map(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            })
            .sum()
    };
    assert_eq!(sum("stairkv_commands_total", "command=\"set\""), 100.0);
    assert_eq!(sum("stairkv_keys", "core="), 100.0);
    assert!(text.contains("stairkv_keys{core=\"0\"}") && text.contains("stairkv_keys{core=\"1\"}"));
    assert!(text.contains("stairkv_command_duration_seconds_bucket{core="));
    assert!(text.contains("family=\"string\""));
    assert_eq!(
        json(&call("GET", &format!("{base}/healthz"), &[], None).1)["status"],
        "ok"
    );
    let ready = json(&call("GET", &format!("{base}/readyz"), &[], None).1);
    assert_eq!(
        (ready["status"].as_str(), ready["cores"].as_u64()),
        (Some("ready"), Some(2))
    );
    let info = json(&call("GET", &format!("{base}/v1/info"), &[], None).1);
    assert_eq!(info["cores"], 2);
    assert_eq!(info["auth_required"], false);
}

#[test]
fn readyz_is_503_while_the_dataset_loads() {
    let dir = TempDir::new("http-loading");
    let srv = Server::start(2, &["--dir", dir.arg()]);
    let mut con = srv.client();
    let value = "l".repeat(64);
    common::fill_million(&mut con, &value);
    let _: () = redis::cmd("SAVE").query(&mut con).expect("SAVE");
    drop(con);
    drop(srv);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--port",
            "0",
            "--text-port",
            "0",
            "--cores",
            "2",
            "--log-level",
            "warn",
        ])
        .args(["--http-port", &port.to_string(), "--dir", dir.arg()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let (mut saw_loading, mut saw_key_503) = (false, false);
    loop {
        assert!(start.elapsed() < Duration::from_secs(60), "never ready");
        let Ok(_) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let (s, b) = call("GET", &format!("http://127.0.0.1:{port}/readyz"), &[], None);
        if s == 503 {
            saw_loading = true;
            assert!(error_of(&b).contains("loading"));
            let (s, b) = call(
                "GET",
                &format!("http://127.0.0.1:{port}/v1/keys/key:0:0"),
                &[],
                None,
            );
            if s == 503 {
                saw_key_503 = true;
                assert!(error_of(&b).starts_with("LOADING"));
            }
            continue;
        }
        assert_eq!(s, 200);
        break;
    }
    assert!(
        saw_loading,
        "/readyz answered 503 while 1,000,000 keys loaded"
    );
    assert!(saw_key_503, "a key read answered 503 while loading");
    let (s, b) = call(
        "GET",
        &format!("http://127.0.0.1:{port}/v1/keys/key:0:0"),
        &[],
        None,
    );
    assert_eq!((s, b), (200, value.into_bytes()));
    let _ = child.kill();
    let _ = child.wait();
}

fn ws(url: &str) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
    let (ws, resp) = tungstenite::connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(resp.status(), 101);
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    }
    ws
}

fn next_json(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
) -> serde_json::Value {
    loop {
        match ws.read().expect("a frame") {
            tungstenite::Message::Text(t) => return json(t.as_bytes()),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[test]
fn websocket_events_arrive_within_50_ms_of_the_deadline() {
    let srv = Server::start(2, &["--notify-keyspace-events", "KEA"]);
    let mut events = ws(&format!(
        "ws://127.0.0.1:{}/v1/events?patterns=__keyevent@0__:expired",
        srv.http_port
    ));
    let ack = next_json(&mut events);
    assert_eq!(ack["type"], "psubscribe");
    assert_eq!(ack["channel"], "__keyevent@0__:expired");
    let mut con = srv.client();
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let key = format!("session:{i}");
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .arg("PX")
            .arg(200)
            .query(&mut con)
            .expect("SET");
        let deadline = Instant::now() + Duration::from_millis(200);
        let ev = next_json(&mut events);
        let late = Instant::now().saturating_duration_since(deadline);
        assert_eq!(ev["type"], "pmessage");
        assert_eq!(ev["channel"], "__keyevent@0__:expired");
        assert_eq!(ev["data"], key.as_str());
        worst = worst.max(late);
    }
    assert!(
        worst <= Duration::from_millis(50),
        "an expired event came {worst:?} after its deadline"
    );
    // Subscribing by message, and ordinary channels.
    events
        .send(tungstenite::Message::text(r#"{"subscribe": ["news"]}"#))
        .expect("send");
    let ack = next_json(&mut events);
    assert_eq!(
        (
            ack["type"].as_str(),
            ack["channel"].as_str(),
            ack["count"].as_i64()
        ),
        (Some("subscribe"), Some("news"), Some(2))
    );
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg(&b"\xffbin"[..])
        .query(&mut con)
        .expect("PUBLISH");
    assert_eq!(n, 1);
    let m = next_json(&mut events);
    assert_eq!(m["type"], "message");
    assert_eq!(m["data"]["base64"], base64_of(b"\xffbin"));
    // Bad requests are answered, not fatal.
    events
        .send(tungstenite::Message::text("{oops"))
        .expect("send");
    assert_eq!(next_json(&mut events)["type"], "error");
    events
        .send(tungstenite::Message::text(r#"{"flushall": []}"#))
        .expect("send");
    assert_eq!(next_json(&mut events)["type"], "error");
    events
        .send(tungstenite::Message::binary(vec![1, 2, 3]))
        .expect("send");
    assert_eq!(next_json(&mut events)["type"], "error");
    // PUBSUB sees the WebSocket as a subscriber.
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg(&["NUMSUB", "news"])
        .query(&mut con)
        .expect("NUMSUB");
    assert_eq!(numsub.get(1), Some(&redis::Value::Int(1)));
    // A plain GET on the socket's route says it is a WebSocket.
    assert_eq!(
        call("GET", &format!("{}/v1/events", srv.http()), &[], None).0,
        426
    );
    events.close(None).expect("close");
}

#[test]
fn a_websocket_that_does_not_read_is_cut_off_like_a_slow_subscriber() {
    let srv = Server::start(1, &[]);
    let mut con = srv.client();
    config_set(
        &mut con,
        "client-output-buffer-limit",
        "pubsub 256kb 128kb 1",
    );
    let events = ws(&format!(
        "ws://127.0.0.1:{}/v1/events?channels=flood",
        srv.http_port
    ));
    std::thread::sleep(Duration::from_millis(100));
    let payload = "z".repeat(16 * 1024);
    let start = Instant::now();
    loop {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("flood")
            .arg(&payload)
            .query(&mut con)
            .expect("PUBLISH");
        if n == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never cut off");
    }
    drop(events);
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
}

#[test]
fn websocket_stats_tick_every_second_with_cores_and_shards() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg(1)
        .query(&mut con)
        .expect("SET");
    let mut stats = ws(&format!("ws://127.0.0.1:{}/v1/stats", srv.http_port));
    let first = next_json(&mut stats);
    let t0 = Instant::now();
    let second = next_json(&mut stats);
    let gap = t0.elapsed();
    assert!(
        gap > Duration::from_millis(700) && gap < Duration::from_millis(1500),
        "{gap:?}"
    );
    for tick in [&first, &second] {
        assert_eq!(tick["type"], "stats");
        assert_eq!(tick["cores"].as_array().expect("cores").len(), 2);
        let shards = tick["staircase"]["shards"].as_array().expect("shards");
        assert!(!shards.is_empty());
        assert!(shards
            .iter()
            .all(|s| s["core"].as_u64().is_some_and(|c| c < 2)));
        assert_eq!(tick["totals"]["keys"], 1);
    }
    let keys: u64 = second["staircase"]["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| s["keys"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(keys, 1);
}

/// The door works the same on glommio's stream path (`--socket-path stream`,
/// the fallback where the kernel lacks what the socket ring needs).
#[test]
fn the_stream_path_serves_http_and_websockets() {
    let srv = Server::start(1, &["--socket-path", "stream"]);
    let base = srv.http();
    let big = common::noise(3 << 20, 9);
    assert_eq!(
        call("PUT", &format!("{base}/v1/keys/big"), &[], Some(&big)).0,
        200
    );
    let (s, b) = call("GET", &format!("{base}/v1/keys/big"), &[], None);
    assert!(s == 200 && b == big);
    let mut stats = ws(&format!("ws://127.0.0.1:{}/v1/stats", srv.http_port));
    assert_eq!(next_json(&mut stats)["totals"]["keys"], 1);
}
