//! Test harness: starts the real `stairkv` binary on free loopback ports and
//! waits until it answers PING (a readiness check, not a sleep); stops it with
//! SIGTERM when dropped.
#![allow(dead_code)]

use redis::{Connection, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub text_port: u16,
    /// The HTTP door's port (never the default 8080: tests run side by side).
    pub http_port: u16,
}

/// A port free now and not handed to another test of this binary: tests run
/// in parallel threads, and the kernel may give two probes the same port, so
/// one test's RESP door and another's text door once met on one number.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

impl Server {
    /// Start with `--cores N` and extra flags.
    pub fn start(cores: usize, extra: &[&str]) -> Server {
        for _attempt in 0..5 {
            let port = free_port();
            let mut text_port = free_port();
            while text_port == port {
                text_port = free_port();
            }
            let mut http_port = free_port();
            while http_port == port || http_port == text_port {
                http_port = free_port();
            }
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_stairkv"));
            cmd.args([
                "--port",
                &port.to_string(),
                "--text-port",
                &text_port.to_string(),
                "--http-port",
                &http_port.to_string(),
                "--cores",
                &cores.to_string(),
                "--log-level",
                "warn",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
            let child = cmd.spawn().expect("spawn stairkv");
            let mut s = Server {
                child: Some(child),
                port,
                text_port,
                http_port,
            };
            if s.wait_ready(Duration::from_secs(20)) {
                return s;
            }
            s.kill();
        }
        panic!("stairkv did not become ready");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut buf = [0u8; 64];
                    if let Ok(n) = s.read(&mut buf) {
                        let r = &buf[..n];
                        // Our own server answered, not one that took the
                        // port while ours failed to bind it.
                        let alive = self
                            .child
                            .as_mut()
                            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
                        if alive && (r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH")) {
                            return true;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The HTTP door's address, `http://127.0.0.1:PORT`.
    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("connect")
    }

    /// A raw TCP socket to the RESP port, with a read timeout.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s
    }

    pub fn raw_text(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.text_port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: signalling our own child process by pid.
        unsafe {
            libc_kill(child.id() as i32, 15);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// `kill -9`: no shutdown path runs.
    pub fn kill9(&mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Send raw bytes and read until `want` bytes arrived or the peer closed / timed out.
pub fn roundtrip(s: &mut TcpStream, send: &[u8], want: usize) -> Vec<u8> {
    s.write_all(send).expect("write");
    read_at_least(s, want)
}

pub fn read_at_least(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < want {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// True when the server closed the connection (read returns 0 or a reset).
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                )
            }
        }
    }
}

/// A reply as text (bulk, simple, OK or integer; anything else debug-printed).
pub fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// A reply as a number (an integer, or text holding one).
pub fn num(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => text(other)
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {other:?}")),
    }
}

/// A RESP3 map, or its RESP2 form (a flat array of name, value, ...).
pub fn fields(v: Value, what: &str) -> HashMap<String, Value> {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Map(p) => p,
        Value::Array(flat) => {
            assert!(flat.len() % 2 == 0, "{what}: odd field list: {flat:?}");
            let mut it = flat.into_iter();
            let mut p = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                p.push((k, v));
            }
            p
        }
        other => panic!("{what}: not a map: {other:?}"),
    };
    pairs.into_iter().map(|(k, v)| (text(&k), v)).collect()
}

pub fn field<'a>(f: &'a HashMap<String, Value>, name: &str, what: &str) -> &'a Value {
    f.get(name)
        .unwrap_or_else(|| panic!("{what} without {name}: {f:?}"))
}

/// One row of `STAIRKV SHARDS`.
#[derive(Debug, Clone)]
pub struct ShardRow {
    pub shard: i64,
    pub core: i64,
    pub keys: i64,
    pub ttl_keys: i64,
    pub state: String,
}

/// `STAIRKV SHARDS`, each row checked to carry every documented field.
pub fn shard_rows(con: &mut Connection) -> Vec<ShardRow> {
    let v: Value = redis::cmd("STAIRKV")
        .arg("SHARDS")
        .query(con)
        .expect("STAIRKV SHARDS");
    let Value::Array(rows) = v else {
        panic!("STAIRKV SHARDS: not an array: {v:?}");
    };
    let w = "STAIRKV SHARDS row";
    rows.into_iter()
        .map(|row| {
            let f = fields(row, w);
            for name in ["shard", "core", "keys", "bytes", "ttl_keys", "state"] {
                field(&f, name, w);
            }
            ShardRow {
                shard: num(field(&f, "shard", w)),
                core: num(field(&f, "core", w)),
                keys: num(field(&f, "keys", w)),
                ttl_keys: num(field(&f, "ttl_keys", w)),
                state: text(field(&f, "state", w)),
            }
        })
        .collect()
}

/// A SCAN reply: the next cursor and the keys.
pub fn scan_reply(v: Value) -> (String, Vec<String>) {
    match v {
        Value::Array(mut parts) if parts.len() == 2 => {
            let keys = parts.pop().expect("keys");
            let next = text(&parts.pop().expect("cursor"));
            let Value::Array(keys) = keys else {
                panic!("SCAN keys not an array: {keys:?}");
            };
            (next, keys.iter().map(text).collect())
        }
        other => panic!("SCAN reply shape: {other:?}"),
    }
}

/// One field of an INFO section.
pub fn info_field(con: &mut Connection, section: &str, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}: {info}"))
        .trim()
        .to_string()
}

/// A numeric field of an INFO section.
pub fn info_num(con: &mut Connection, section: &str, name: &str) -> u64 {
    let v = info_field(con, section, name);
    v.parse()
        .unwrap_or_else(|_| panic!("INFO {section} {name} is not a number: {v}"))
}

/// Encode one request as a RESP multibulk.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A process's resident set size, in KB (VmRSS).
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS")
}

static DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh directory under the system's temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let n = DIRS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("stairkv-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    /// The path as a command-line argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }

    /// Flags for a server that logs every write here, each synced before
    /// its reply (`appendfsync always`): a restart must find all of them.
    pub fn logged_always(&self) -> [&str; 6] {
        [
            "--dir",
            self.arg(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` pseudo-random bytes (xorshift64): values LZF cannot shrink.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// The error a command was expected to answer, as text; panics on a reply.
pub fn error_text(r: redis::RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Keys that live on core 0 and core 1 of a two-core server, by STAIRKV's
/// own routing: the first `n` names `prefix<i>` of each.
pub fn keys_on_each_core(con: &mut Connection, n: usize, prefix: &str) -> [Vec<String>; 2] {
    let mut found: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for i in 0.. {
        let k = format!("{prefix}{i}");
        let (_shard, core): (u64, usize) = redis::cmd("STAIRKV")
            .arg("KEYSHARD")
            .arg(&k)
            .query(con)
            .expect("STAIRKV KEYSHARD");
        if core < 2 && found[core].len() < n {
            found[core].push(k);
        }
        if found.iter().all(|f| f.len() == n) {
            break;
        }
        assert!(i < 10_000, "no keys found on both cores");
    }
    found
}

/// CONFIG SET one parameter; panics (naming it) unless the server says OK.
pub fn config_set(con: &mut Connection, name: &str, value: &str) {
    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap_or_else(|e| panic!("CONFIG SET {name} {value}: {e}"));
    assert_eq!(ok, "OK");
}

/// Whether node and the npm package `package` under tests/node (which
/// `.ci/run` installs) are here. Without them a node test is skipped —
/// unless STAIRKV_REQUIRE_NODE is set (CI sets it), when that is a failure.
pub fn have_node_package(package: &str) -> bool {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let have = dir.join("node_modules").join(package).exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !have {
        assert!(
            std::env::var_os("STAIRKV_REQUIRE_NODE").is_none(),
            "node or tests/node/node_modules/{package} missing (npm ci --prefix tests/node)"
        );
        eprintln!("skipped: no node or no {package} under tests/node");
    }
    have
}

/// Run `tests/node/<script>` with `args`; its standard output, after it
/// exited successfully (panics, with its output, otherwise).
pub fn run_node(script: &str, args: &[String]) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {script} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// CONFIG SET one parameter that must be refused; the error's text.
pub fn config_set_err(con: &mut Connection, name: &str, value: &str) -> String {
    error_text(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(con),
    )
}

/// 1,000,000 keys `key:{chunk}:{i}` (40 chunks of 25,000) holding `value`,
/// in pipelines: a dataset whose load at start takes long enough to watch.
pub fn fill_million(con: &mut Connection, value: &str) {
    for chunk in 0..40u32 {
        let mut pipe = redis::pipe();
        for i in 0..25_000u32 {
            pipe.set(format!("key:{chunk}:{i}"), value).ignore();
        }
        let _: () = pipe.query(con).expect("fill");
    }
}
