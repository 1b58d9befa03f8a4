//! The per-core append-only logs through the real binary: what was written
//! (every kind of write, expiries, FLUSHALL, evictions) is what a restart
//! after `kill -9` holds, whatever the staircase did in between (migrations
//! there and back, splits, merges); rewrites (by hand, automatic, and the
//! first one when `CONFIG SET appendonly yes` turns the logs on) keep every
//! write made meanwhile; the start answers `-LOADING` while it replays; a
//! torn tail is dropped and corruption stops the start naming the file; a
//! full disk refuses writes with `-MISCONF` until it has room again.

mod common;

use common::{Server, TempDir};
use redis::{Commands, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The files of the logs' folder, sorted.
fn logs_of(dir: &TempDir) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.0.join("appendonlydir"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every key with its value and whether it has a TTL.
type State = BTreeMap<Vec<u8>, (Vec<u8>, bool)>;

fn state(con: &mut redis::Connection) -> State {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
    let mut m = BTreeMap::new();
    for k in keys {
        let v: Option<Vec<u8>> = con.get(&k).expect("GET");
        let ttl: i64 = con.pttl(&k).expect("PTTL");
        if let Some(v) = v {
            m.insert(k, (v, ttl > 0));
        }
    }
    m
}

/// The two states are equal; else panic naming the keys that differ.
#[track_caller]
fn same(got: &State, want: &State) {
    let show = |k: &[u8], v: Option<&(Vec<u8>, bool)>| {
        let v = v.map(|(v, ttl)| {
            let t = String::from_utf8_lossy(&v[..v.len().min(40)]).into_owned();
            format!("{t:?} ttl={ttl}")
        });
        format!("{}: {v:?}", String::from_utf8_lossy(k))
    };
    let mut diff = Vec::new();
    for k in got.keys().chain(want.keys()) {
        if got.get(k) != want.get(k) && diff.len() < 20 {
            diff.push(format!(
                "got {} / want {}",
                show(k, got.get(k)),
                show(k, want.get(k))
            ));
        }
    }
    assert!(
        diff.is_empty(),
        "{} keys differ:\n{}",
        diff.len(),
        diff.join("\n")
    );
}

fn logged(dir: &TempDir, cores: usize, extra: &[&str]) -> Server {
    let mut args = vec![
        "--dir",
        dir.arg(),
        "--appendonly",
        "yes",
        "--autoscale",
        "off",
    ];
    args.extend_from_slice(extra);
    Server::start(cores, &args)
}

fn info(con: &mut redis::Connection, section: &str) -> BTreeMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn stairkv(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd("STAIRKV");
    for a in args {
        c.arg(*a);
    }
    c.query(con)
        .unwrap_or_else(|e| panic!("STAIRKV {}: {e}", args.join(" ")))
}

/// Every kind of write the string commands make, on both cores.
fn write_everything(con: &mut redis::Connection, round: u32) {
    for i in 0..400u32 {
        let k = format!("k{i}");
        let _: () = con.set(&k, format!("v{i}-{round}")).expect("SET");
    }
    for i in 0..50u32 {
        let _: i64 = con.incr(format!("n{i}"), i64::from(i) + 1).expect("INCR");
        let _: usize = con.append(format!("k{i}"), "+app").expect("APPEND");
        let _: usize = con
            .setrange(format!("k{}", i + 50), 2, "RANGE")
            .expect("SETRANGE");
        let _: bool = con.expire(format!("k{}", i + 100), 3600).expect("EXPIRE");
        let _: () = con.del(format!("k{}", i + 150)).expect("DEL");
        let _: Option<String> = con.get_del(format!("k{}", i + 200)).expect("GETDEL");
        let _: () = redis::cmd("SET")
            .arg(format!("px{i}"))
            .arg("long")
            .arg("PX")
            .arg(3_600_000)
            .query(con)
            .expect("SET PX");
    }
    let _: () = redis::cmd("MSET")
        .arg("m1")
        .arg(format!("one-{round}"))
        .arg("m2")
        .arg("two")
        .arg("m3")
        .arg(vec![0u8, 13, 10, 255])
        .query(con)
        .expect("MSET");
    let _: () = con
        .rename("k300", format!("renamed-{round}"))
        .expect("RENAME");
    let _: bool = con.persist("k100").expect("PERSIST");
    let big = "x".repeat(100_000);
    let _: () = con.set("big", &big).expect("SET big");
    let _: () = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("1.5")
        .query(con)
        .expect("INCRBYFLOAT");
    // Gone before the restart: an expiry needs no record to stay gone.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("x")
        .arg("PX")
        .arg(100)
        .query(con)
        .expect("SET short");
    std::thread::sleep(Duration::from_millis(150));
}

#[test]
fn every_kind_of_write_survives_kill_9_on_every_core() {
    let dir = TempDir::new("writes");
    let mut s = logged(&dir, 2, &["--appendfsync", "always"]);
    let mut con = s.client();
    write_everything(&mut con, 1);
    std::thread::sleep(Duration::from_millis(300));
    let before = state(&mut con);
    assert!(before.len() > 300 && !before.contains_key(b"short".as_slice()));
    s.kill9();
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
    // And again after a second life: the logs of both runs replay together.
    let _: () = con.set("second", "life").expect("SET");
    let _: () = con.del("k1").expect("DEL");
    let before = state(&mut con);
    drop(s);
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
    let i = info(&mut con, "persistence");
    assert_eq!(i["aof_enabled"], "1");
    assert_eq!(i["loading"], "0");
    assert_eq!(i["aof_last_write_status"], "ok");
}

#[test]
fn migrations_splits_and_merges_between_writes_replay_exactly() {
    let dir = TempDir::new("staircase");
    let mut s = logged(
        &dir,
        2,
        &["--appendfsync", "always", "--initial-shards", "4"],
    );
    let mut con = s.client();
    write_everything(&mut con, 1);
    // A key written on core A, moved to B, written there, moved back.
    stairkv(&mut con, &["MIGRATE", "0", "1"]);
    write_everything(&mut con, 2);
    stairkv(&mut con, &["MIGRATE", "0", "0"]);
    write_everything(&mut con, 3);
    stairkv(&mut con, &["SPLIT"]);
    stairkv(&mut con, &["MIGRATE", "1", "0"]);
    write_everything(&mut con, 4);
    stairkv(&mut con, &["MERGE"]);
    let _: () = con.del("k7").expect("DEL");
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
    write_everything(&mut con, 5);
    stairkv(&mut con, &["MIGRATE", "2", "1"]);
    let _: () = con.set("last", "word").expect("SET");
    std::thread::sleep(Duration::from_millis(300));
    let before = state(&mut con);
    s.kill9();
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
    // A restart on one core reads the two cores' logs the same way.
    drop(s);
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
}

#[test]
fn flushall_and_evictions_are_logged() {
    let dir = TempDir::new("flush");
    let mut s = logged(&dir, 2, &[]);
    let mut con = s.client();
    write_everything(&mut con, 1);
    let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
    let _: () = con.set("after", "flush").expect("SET");
    // Evictions: a limit that holds a fraction of what is written.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("3mb")
        .query(&mut con)
        .expect("CONFIG SET");
    let value = "e".repeat(1000);
    for i in 0..20_000u32 {
        let _: () = con.set(format!("e{i}"), &value).expect("SET");
    }
    let evicted: u64 = info(&mut con, "stats")["evicted_keys"]
        .parse()
        .expect("evicted");
    assert!(evicted > 1000, "evicted {evicted}");
    let before = state(&mut con);
    // Everysec: a clean stop writes and syncs what is buffered.
    let _ = s.terminate();
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    assert_eq!(
        state(&mut con),
        before,
        "no evicted or flushed key comes back"
    );
}

/// Wait for INFO persistence to say a rewrite ran and ended.
fn wait_rewrites(con: &mut redis::Connection, at_least: u64) {
    let start = Instant::now();
    loop {
        let i = info(con, "persistence");
        let done: u64 = i["aof_rewrites"].parse().expect("aof_rewrites");
        if done >= at_least && i["aof_rewrite_in_progress"] == "0" {
            assert_eq!(i["aof_last_bgrewrite_status"], "ok");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no rewrite: {i:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bgrewriteaof_replaces_the_logs_and_keeps_writes_made_meanwhile() {
    let dir = TempDir::new("rewrite");
    let mut s = logged(&dir, 2, &["--appendfsync", "always"]);
    let mut con = s.client();
    let mut pipe = redis::pipe();
    for i in 0..100_000u32 {
        pipe.set(format!("r{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut con).expect("fill");
    let first = logs_of(&dir);
    let reply: String = redis::cmd("BGREWRITEAOF")
        .query(&mut con)
        .expect("BGREWRITEAOF");
    assert_eq!(reply, "Background append only file rewriting started");
    // Written while the bases are captured: each key's new value must win.
    for i in (0..100_000u32).step_by(7) {
        let _: () = con.set(format!("r{i}"), "new").expect("SET");
    }
    wait_rewrites(&mut con, 2);
    let files = logs_of(&dir);
    let names: Vec<String> = files
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !first.iter().any(|f| f.ends_with(n)) || n.ends_with("manifest")),
        "every file of the first generation is gone: before {first:?}, now {names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with(".base.rdb")), "{names:?}");
    // A rewrite while one runs is refused with Redis's text.
    let before = state(&mut con);
    s.kill9();
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
}

#[test]
fn logs_rewrite_by_themselves_past_the_threshold() {
    let dir = TempDir::new("auto");
    let s = logged(
        &dir,
        2,
        &[
            "--auto-aof-rewrite-min-size",
            "64kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut con = s.client();
    // Overwriting the same keys grows the logs, not the data.
    for round in 0..40u32 {
        let mut pipe = redis::pipe();
        for i in 0..200u32 {
            pipe.set(format!("a{i}"), format!("{round}-{}", "p".repeat(40)))
                .ignore();
        }
        let _: () = pipe.query(&mut con).expect("fill");
    }
    wait_rewrites(&mut con, 2);
    let i = info(&mut con, "persistence");
    let size: u64 = i["aof_current_size"].parse().expect("size");
    assert!(size < 200_000, "the rewrite shrank the logs: {i:?}");
}

/// The bytes of the logs' files on disk: every base and log.
fn log_bytes(dir: &TempDir) -> u64 {
    logs_of(dir)
        .iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".log") || name.ends_with(".base.rdb")
        })
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

/// INFO persistence once `aof_current_size` is what the files hold (the
/// writer has written everything buffered).
fn settled_info(con: &mut redis::Connection, dir: &TempDir) -> BTreeMap<String, String> {
    let start = Instant::now();
    loop {
        let i = info(con, "persistence");
        let size: u64 = i["aof_current_size"].parse().expect("aof_current_size");
        if size == log_bytes(dir) && i["aof_rewrite_in_progress"] == "0" {
            return i;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "aof_current_size {size} against {} on disk: {i:?}",
            log_bytes(dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `aof_current_size` is the bases and logs on disk, and `aof_base_size`
/// (what `auto-aof-rewrite-percentage` measures growth from) is the whole
/// size the last rewrite or the start left, as Redis 7 counts them: after a
/// restart it holds the files replayed, so the first automatic rewrite is not
/// due at once.
#[test]
fn info_sizes_are_the_files_and_growth_counts_from_redis_s_base() {
    let dir = TempDir::new("sizes");
    let args = ["--auto-aof-rewrite-percentage", "0"];
    let mut s = logged(&dir, 2, &args);
    let mut con = s.client();
    let size = |i: &BTreeMap<String, String>, k: &str| -> u64 { i[k].parse().expect(k) };
    let mut pipe = redis::pipe();
    for i in 0..500u32 {
        pipe.set(format!("k{i}"), "v".repeat(50)).ignore();
    }
    let _: () = pipe.query(&mut con).expect("fill");
    let i = settled_info(&mut con, &dir);
    // The first bases, written at the first start, are what growth counts from.
    let (current, base) = (size(&i, "aof_current_size"), size(&i, "aof_base_size"));
    assert!(base > 0 && current > base + 500 * 50, "{i:?}");
    let rewrites = size(&i, "aof_rewrites");
    let _: String = redis::cmd("BGREWRITEAOF")
        .query(&mut con)
        .expect("BGREWRITEAOF");
    wait_rewrites(&mut con, rewrites + 1);
    let i = settled_info(&mut con, &dir);
    let (current, base) = (size(&i, "aof_current_size"), size(&i, "aof_base_size"));
    let bases: u64 = logs_of(&dir)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".base.rdb"))
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    assert!(
        bases > 0 && base >= bases && base <= current,
        "{bases}: {i:?}"
    );
    let before = log_bytes(&dir);
    s.kill9();
    let s = logged(&dir, 2, &args);
    let mut con = s.client();
    let i = settled_info(&mut con, &dir);
    let (current, base) = (size(&i, "aof_current_size"), size(&i, "aof_base_size"));
    // The replayed files count; only the new logs' headers came since.
    assert!(
        base >= before && current >= base && current < base + 1024,
        "{before}: {i:?}"
    );
}

#[test]
fn config_set_appendonly_turns_the_logs_on_from_everything_held() {
    let dir = TempDir::new("config");
    let mut s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    let get = |con: &mut redis::Connection, name: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .expect("GET");
        v.get(1).cloned().unwrap_or_default()
    };
    assert_eq!(get(&mut con, "appendonly"), "no");
    assert_eq!(get(&mut con, "appendfsync"), "everysec");
    write_everything(&mut con, 1);
    let ok: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query(&mut con)
        .expect("CONFIG SET appendonly yes");
    assert_eq!(ok, "OK");
    assert_eq!(get(&mut con, "appendonly"), "yes");
    let bad: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("sometimes")
        .query(&mut con);
    assert!(bad.is_err(), "a bad appendfsync is refused");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("always")
        .query(&mut con)
        .expect("CONFIG SET appendfsync");
    assert_eq!(get(&mut con, "appendfsync"), "always");
    write_everything(&mut con, 2);
    let before = state(&mut con);
    s.kill9();
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
    // Off again: INFO says so, and writes go on.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut con)
        .expect("CONFIG SET appendonly no");
    assert_eq!(info(&mut con, "persistence")["aof_enabled"], "0");
    let _: () = con.set("unlogged", "1").expect("SET");
}

/// Read one reply line (or a bulk) from a raw socket.
fn reply(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut b) {
            Ok(1) => out.push(b[0]),
            _ => return out,
        }
    }
    if out.starts_with(b"$") {
        let n: i64 = std::str::from_utf8(&out[1..out.len() - 2])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1);
        if n >= 0 {
            let mut body = vec![0u8; n as usize + 2];
            let _ = s.read_exact(&mut body);
            out.extend_from_slice(&body);
        }
    }
    out
}

#[test]
fn the_start_answers_loading_while_it_replays() {
    let dir = TempDir::new("loading");
    let s = logged(&dir, 2, &[]);
    let mut con = s.client();
    let value = "l".repeat(64);
    common::fill_million(&mut con, &value);
    drop(con);
    drop(s);
    // Start it by hand: the harness waits for PONG, which loading refuses.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--port",
            &port.to_string(),
            "--text-port",
            "0",
            "--http-port",
            "0",
            "--cores",
            "2",
        ])
        .args([
            "--log-level",
            "warn",
            "--dir",
            dir.arg(),
            "--appendonly",
            "yes",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut sock = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never listened");
        std::thread::sleep(Duration::from_millis(2));
    };
    // INFO asks every core, and a core replaying shares the CPU with the
    // suite's other tests: once (fresh-clone CI) its answer took over 10 s,
    // the read timed out, and the next GET read INFO's late reply.
    sock.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let (mut saw_loading, mut saw_progress) = (false, false);
    loop {
        sock.write_all(b"GET key:0:0\r\n").expect("send");
        let r = reply(&mut sock);
        if r.starts_with(b"-LOADING") {
            saw_loading = true;
            sock.write_all(b"INFO persistence\r\n").expect("send");
            let text = String::from_utf8_lossy(&reply(&mut sock)).into_owned();
            saw_progress |= text.contains("loading:1") && text.contains("loading_loaded_bytes:");
            continue;
        }
        assert_eq!(r, format!("$64\r\n{value}\r\n").into_bytes());
        break;
    }
    assert!(
        saw_loading,
        "a client saw -LOADING while 1,000,000 keys replayed"
    );
    assert!(
        saw_progress,
        "INFO persistence showed loading:1 with progress"
    );
    sock.write_all(b"DBSIZE\r\n").expect("send");
    assert_eq!(reply(&mut sock), b":1000000\r\n");
    let _ = child.kill();
    let _ = child.wait();
}

fn start_fails(dir: &TempDir, extra: &[&str]) -> String {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--port",
            &port.to_string(),
            "--text-port",
            "0",
            "--http-port",
            "0",
            "--log-level",
            "warn",
        ])
        .args(["--dir", dir.arg(), "--appendonly", "yes"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run stairkv");
    assert!(!out.status.success(), "stairkv started with {extra:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The newest log file of core 0.
fn newest_log(dir: &TempDir) -> PathBuf {
    logs_of(dir)
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().ends_with(".log") && p.to_string_lossy().contains(".aof.0.")
        })
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a log of core 0")
}

#[test]
fn a_torn_tail_is_dropped_and_corruption_stops_the_start() {
    let dir = TempDir::new("torn");
    let mut s = logged(&dir, 1, &[]);
    let mut con = s.client();
    for i in 0..100u32 {
        let _: () = con.set(format!("t{i}"), i).expect("SET");
    }
    let before = state(&mut con);
    let _ = s.terminate();
    let log = newest_log(&dir);
    let good = std::fs::read(&log).expect("read");
    // Half a frame at the end: a write cut by the crash.
    let mut torn = good.clone();
    torn.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&log, &torn).expect("write");
    let err = start_fails(&dir, &["--aof-load-truncated", "no"]);
    assert!(
        err.contains("torn") && err.contains(".log"),
        "stderr: {err}"
    );
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    assert_eq!(
        state(&mut con),
        before,
        "the torn record is dropped, the rest kept"
    );
    drop(con);
    drop(s);
    // One flipped byte in the middle of the log: the start stops, naming it.
    let log = newest_log(&dir);
    let mut bad = std::fs::read(&log).expect("read");
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(&log, &bad).expect("write");
    let err = start_fails(&dir, &[]);
    assert!(
        err.contains("corrupt at offset") && err.contains(&*log.to_string_lossy()),
        "stderr: {err}"
    );
    // `stairkv check --fix` cuts it there, and the start goes on.
    let fix = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args(["check", &log.to_string_lossy(), "--fix"])
        .output()
        .expect("check");
    assert!(
        fix.status.success(),
        "{}",
        String::from_utf8_lossy(&fix.stdout)
    );
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    let after = state(&mut con);
    assert!(after.len() <= before.len() && after.iter().all(|(k, v)| before.get(k) == Some(v)));
}

/// `stairkv check FILE`: its output, and the bytes it read as records.
fn check(log: &Path) -> (String, u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args(["check", &log.to_string_lossy()])
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let good = text
        .lines()
        .flat_map(|l| l.split(", "))
        .find_map(|part| {
            part.strip_suffix(" bytes")
                .and_then(|p| p.split(" of ").next())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no byte count in: {text}"));
    (text, good)
}

#[test]
fn always_writes_into_synced_room_that_reads_as_the_clean_end() {
    let dir = TempDir::new("room");
    let mut s = logged(&dir, 1, &["--appendfsync", "always"]);
    let mut con = s.client();
    for i in 0..2000u32 {
        let _: () = con
            .set(format!("r{i}"), "v".repeat(i as usize % 300))
            .expect("SET");
    }
    let before = state(&mut con);
    s.kill9();
    let log = newest_log(&dir);
    let size = std::fs::metadata(&log).expect("stat").len();
    let (text, good) = check(&log);
    // Zeroed room ahead of the records, in whole MiBs; it reads as the end.
    assert!(
        size.is_multiple_of(1 << 20) && good < size,
        "{size} bytes, {text}"
    );
    assert!(text.contains("OK: the log reads to its end"), "{text}");
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
    drop(con);
    drop(s);
    // A record cut short inside the room is a torn tail, as at a file's end.
    let log = newest_log(&dir);
    let (_, good) = check(&log);
    let mut bytes = std::fs::read(&log).expect("read");
    let at = good as usize;
    bytes[at..at + 7].copy_from_slice(&[40, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&log, &bytes).expect("write");
    let err = start_fails(&dir, &["--aof-load-truncated", "no"]);
    assert!(err.contains("torn"), "stderr: {err}");
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    same(&state(&mut con), &before);
}

/// Mount a tmpfs of `size` on `at` (root only); None where that is not possible.
/// The guard unmounts it when dropped.
fn mount_tmpfs(at: &Path, size: &str) -> Option<Unmount> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Unmount(at.to_path_buf()))
}

fn remount(at: &Path, size: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,size={size}")])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount {}", at.display());
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_until_it_has_room() {
    let dir = TempDir::new("full");
    let Some(_mounted) = mount_tmpfs(&dir.0, "3m") else {
        eprintln!("SKIP a_full_disk_refuses_writes_with_misconf_until_it_has_room: cannot mount a tmpfs (needs root)");
        return;
    };
    let s = logged(&dir, 1, &["--appendfsync", "always"]);
    let mut con = s.client();
    let _: () = con.set("before", "full").expect("SET");
    // A writer that fills the disk: its last write waits (always: no reply
    // before the record is on disk) instead of being lost.
    let port = s.port;
    let writer = std::thread::spawn(move || {
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .expect("client")
            .get_connection()
            .expect("connect");
        let value = "f".repeat(64 * 1024);
        let mut acked = Vec::new();
        for i in 0..200u32 {
            match con.set::<_, _, ()>(format!("fill{i}"), &value) {
                Ok(()) => acked.push(i),
                Err(e) => return (acked, Some(e.to_string())),
            }
        }
        (acked, None)
    });
    // Probe on fresh connections: a probe sent just before the disk filled
    // waits for its record like the writer's last write (a read timeout).
    let start = Instant::now();
    let misconf = loop {
        let mut probe = s.client();
        probe
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let r: redis::RedisResult<()> = probe.set("probe", "x");
        if let Err(e) = r.as_ref().map_err(|e| e.to_string()) {
            if e.contains("MISCONF") {
                break e;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the disk never filled: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        misconf.contains("MISCONF") && misconf.contains("No space left on device"),
        "{misconf}"
    );
    let read: String = con.get("before").expect("reads go on");
    assert_eq!(read, "full");
    // FLUSHALL is a write: refused too, and nothing is emptied.
    let flush = redis::cmd("FLUSHALL")
        .query::<()>(&mut con)
        .map_err(|e| e.to_string());
    assert!(
        flush.as_ref().is_err_and(|e| e.contains("MISCONF")),
        "{flush:?}"
    );
    let read: String = con.get("before").expect("still there");
    assert_eq!(read, "full");
    // A script's write too, answered at once: a script logs its writes as a
    // transaction's, but one that wrote nothing logs no end to wait for.
    con.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let script = redis::cmd("EVAL")
        .arg("return redis.call('SET', KEYS[1], 'x')")
        .arg(1)
        .arg("before")
        .query::<()>(&mut con)
        .map_err(|e| e.to_string());
    assert!(
        script.as_ref().is_err_and(|e| e.contains("MISCONF")),
        "{script:?}"
    );
    con.set_read_timeout(None).expect("timeout");
    assert_eq!(
        info(&mut con, "persistence")["aof_last_write_status"],
        "err"
    );
    // Room again: the waiting write completes and writes resume by themselves.
    remount(&dir.0, "64m");
    let (acked, err) = writer.join().expect("writer");
    assert!(
        err.is_none() || err.as_deref().is_some_and(|e| e.contains("MISCONF")),
        "{err:?}"
    );
    let start = Instant::now();
    while con.set::<_, _, ()>("resumed", "1").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes never resumed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info(&mut con, "persistence")["aof_last_write_status"], "ok");
    let mut s = s;
    s.kill9();
    let s = logged(&dir, 1, &[]);
    let mut con = s.client();
    for i in acked {
        let v: Option<Vec<u8>> = con.get(format!("fill{i}")).expect("GET");
        assert!(
            v.is_some_and(|v| v.len() == 64 * 1024),
            "acknowledged fill{i} lost"
        );
    }
    let r: String = con.get("resumed").expect("GET");
    assert_eq!(r, "1");
}

#[test]
fn a_failed_background_save_refuses_writes_until_a_save_succeeds() {
    let dir = TempDir::new("rdbfull");
    let Some(_mounted) = mount_tmpfs(&dir.0, "1m") else {
        eprintln!("SKIP a_failed_background_save_refuses_writes_until_a_save_succeeds: cannot mount a tmpfs (needs root)");
        return;
    };
    let s = Server::start(1, &["--dir", dir.arg(), "--save", "1 1"]);
    let mut con = s.client();
    // 4 MB of data LZF cannot shrink cannot be saved on a 1 MB disk.
    for i in 0..64u32 {
        let value = common::noise(64 * 1024, u64::from(i) + 1);
        let _: () = con.set(format!("big{i}"), value).expect("SET");
    }
    // The save's writer runs at nice 10: on a machine busy with the other
    // tests it may take a while to reach the full disk.
    let start = Instant::now();
    while info(&mut con, "persistence")["rdb_last_bgsave_status"] != "err" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the save never failed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = con
        .set::<_, _, ()>("more", "1")
        .expect_err("writes are refused");
    assert!(
        err.to_string().contains("MISCONF") && err.to_string().contains("RDB snapshots"),
        "{err}"
    );
    let read: Vec<u8> = con.get("big1").expect("reads go on");
    assert_eq!(read.len(), 64 * 1024);
    // Room again: the next try (5 s after the failure) saves, writes resume.
    remount(&dir.0, "64m");
    let start = Instant::now();
    while con.set::<_, _, ()>("more", "1").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "writes never resumed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        info(&mut con, "persistence")["rdb_last_bgsave_status"],
        "ok"
    );
}
