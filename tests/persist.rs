//! Snapshots through the real binary: SAVE writes `dir/dbfilename` in Redis's
//! RDB format, a restart (after `kill -9`) loads it on every core, redis-server
//! 7.0 loads what stairkv saved and stairkv loads what redis-server saved; a
//! file stairkv cannot hold stops the start with the reason, the file and the
//! offset. Interop cases skip with a message when redis-server is missing.

mod common;

use common::{Server, TempDir};
use redis::Commands;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The data every case writes: integers, short and long (compressible and
/// not) strings, a value past the 4 KB shared-value size, binary keys, TTLs.
fn dataset() -> BTreeMap<Vec<u8>, (Vec<u8>, bool)> {
    let mut m = BTreeMap::new();
    for i in 0..3000u32 {
        let key = format!("key:{i}").into_bytes();
        let value = match i % 6 {
            0 => (i as i64 * 7919 - 10_000).to_string().into_bytes(),
            1 => format!("v{i}").into_bytes(),
            2 => "abcabcabc".repeat(40).into_bytes(),
            3 => (0..300u32)
                .map(|j| (j.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            4 => vec![b'x'; 5000 + i as usize],
            _ => u64::MAX.to_string().into_bytes(),
        };
        m.insert(key, (value, i % 5 == 0));
    }
    m.insert(
        b"bin\x00\r\n\xffkey".to_vec(),
        (b"\x00\x01\x02".to_vec(), false),
    );
    m.insert(b"empty".to_vec(), (Vec::new(), false));
    m
}

fn fill(con: &mut redis::Connection, data: &BTreeMap<Vec<u8>, (Vec<u8>, bool)>) {
    let mut pipe = redis::pipe();
    for (k, (v, ttl)) in data {
        if *ttl {
            pipe.cmd("SET")
                .arg(k)
                .arg(v)
                .arg("PX")
                .arg(3_600_000)
                .ignore();
        } else {
            pipe.cmd("SET").arg(k).arg(v).ignore();
        }
    }
    let _: () = pipe.query(con).expect("fill");
}

fn check(con: &mut redis::Connection, data: &BTreeMap<Vec<u8>, (Vec<u8>, bool)>, who: &str) {
    let size: usize = redis::cmd("DBSIZE").query(con).expect("dbsize");
    assert_eq!(size, data.len(), "{who}: DBSIZE");
    for (k, (v, ttl)) in data {
        let got: Option<Vec<u8>> = con.get(k).expect("get");
        assert_eq!(got.as_deref(), Some(&v[..]), "{who}: value of {k:?}");
        let pttl: i64 = con.pttl(k).expect("pttl");
        if *ttl {
            assert!(
                pttl > 3_000_000 && pttl <= 3_600_000,
                "{who}: PTTL of {k:?} = {pttl}"
            );
        } else {
            assert_eq!(pttl, -1, "{who}: {k:?} has no TTL");
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A redis-server with its snapshot in `dir`, stopped when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "no",
            ])
            .args([
                "--save",
                "",
                "--dbfilename",
                "dump.rdb",
                "--daemonize",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let r = Redis { child, port };
        let start = Instant::now();
        // redis-server answers LOADING while it reads its file: wait for a real PONG.
        loop {
            if let Ok(mut c) = r.client() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return r;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    fn client(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?
            .get_connection_with_timeout(Duration::from_secs(5))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start stairkv expecting it to refuse: its exit status and stderr.
fn start_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stairkv"))
        .args([
            "--port",
            &free_port().to_string(),
            "--text-port",
            "0",
            "--http-port",
            "0",
            "--log-level",
            "warn",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run stairkv");
    assert!(!out.status.success(), "stairkv started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn save_then_kill_9_then_restart_has_every_key() {
    let dir = TempDir::new("restart");
    let data = dataset();
    let mut s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    let before: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("lastsave");
    fill(&mut con, &data);
    // A key that expires before the restart does not come back.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("x")
        .arg("PX")
        .arg(300)
        .query(&mut con)
        .expect("set");
    std::thread::sleep(Duration::from_millis(1100));
    let ok: String = redis::cmd("SAVE").query(&mut con).expect("save");
    assert_eq!(ok, "OK");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("lastsave");
    assert!(after > before, "LASTSAVE moves: {before} -> {after}");
    let _ = std::fs::metadata(dir.0.join("dump.rdb")).expect("dump.rdb written");
    assert!(
        std::fs::read_dir(&dir.0).expect("dir").count() == 1,
        "no part or temp file is left beside dump.rdb"
    );
    // Written after the SAVE: not in the snapshot.
    let _: () = con.set("later", "1").expect("set");
    s.kill9();

    let s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    check(&mut con, &data, "stairkv after restart");
    let later: Option<String> = con.get("later").expect("get");
    assert_eq!(later, None);
    let short: Option<String> = con.get("short").expect("get");
    assert_eq!(short, None);
    // One core's restart reads what two cores saved, and the other way round.
    drop(con);
    drop(s);
    let s = Server::start(1, &["--dir", dir.arg()]);
    check(&mut s.client(), &data, "stairkv --cores 1 after restart");
}

#[test]
fn redis_server_loads_what_stairkv_saved() {
    if !have("redis-server") || !have("redis-check-rdb") {
        eprintln!("SKIP redis_server_loads_what_stairkv_saved: redis-server / redis-check-rdb not installed (apt-get install redis-server)");
        return;
    }
    let dir = TempDir::new("to-redis");
    let data = dataset();
    {
        let s = Server::start(2, &["--dir", dir.arg()]);
        let mut con = s.client();
        fill(&mut con, &data);
        load_library(&mut con, "fromstairkv");
        let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    }
    let check_rdb = Command::new("redis-check-rdb")
        .arg(dir.0.join("dump.rdb"))
        .output()
        .expect("redis-check-rdb");
    let said = String::from_utf8_lossy(&check_rdb.stdout);
    assert!(
        check_rdb.status.success() && said.contains("RDB looks OK"),
        "redis-check-rdb: {said}"
    );
    let r = Redis::start(&dir.0);
    let mut con = r.client().expect("connect");
    check(&mut con, &data, "redis-server loading stairkv's dump");
    assert_eq!(call_library(&mut con, "fromstairkv"), "fromstairkv says hi");
}

/// A function library named `name` whose function `name` says hi.
fn load_library(con: &mut redis::Connection, name: &str) {
    let code = format!(
        "#!lua name={name}\nredis.register_function('{name}', function(keys, args) return '{name} says ' .. args[1] end)"
    );
    let loaded: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(code)
        .query(con)
        .expect("FUNCTION LOAD");
    assert_eq!(loaded, name);
}

fn call_library(con: &mut redis::Connection, name: &str) -> String {
    redis::cmd("FCALL")
        .arg(name)
        .arg(0)
        .arg("hi")
        .query(con)
        .expect("FCALL")
}

#[test]
fn stairkv_loads_what_redis_server_saved() {
    if !have("redis-server") {
        eprintln!("SKIP stairkv_loads_what_redis_server_saved: redis-server not installed (apt-get install redis-server)");
        return;
    }
    let dir = TempDir::new("from-redis");
    let data = dataset();
    {
        let r = Redis::start(&dir.0);
        let mut con = r.client().expect("connect");
        fill(&mut con, &data);
        load_library(&mut con, "fromredis");
        let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    }
    let s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    check(&mut con, &data, "stairkv loading redis-server's dump");
    assert_eq!(call_library(&mut con, "fromredis"), "fromredis says hi");
}

/// Function libraries come back after `kill -9`: from a snapshot, and from
/// the logs' libraries file (every change acknowledged is in it), through
/// LOAD, REPLACE, DELETE and a first start with logs on.
#[test]
fn function_libraries_survive_restarts() {
    let dir = TempDir::new("functions");
    let mut s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    load_library(&mut con, "snap");
    let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    s.kill9();
    // Logs on for the first time: the first rewrite writes the libraries' file.
    let mut s = Server::start(2, &dir.logged_always());
    let mut con = s.client();
    assert_eq!(call_library(&mut con, "snap"), "snap says hi");
    let files: Vec<String> = std::fs::read_dir(dir.0.join("appendonlydir"))
        .expect("the logs' folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.iter().any(|f| f == "appendonly.aof.functions"),
        "{files:?}"
    );
    load_library(&mut con, "logged");
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("snap")
        .query(&mut con)
        .expect("delete");
    s.kill9();
    let mut s = Server::start(2, &dir.logged_always());
    let mut con = s.client();
    assert_eq!(call_library(&mut con, "logged"), "logged says hi");
    let e = redis::cmd("FCALL")
        .arg("snap")
        .arg(0)
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(e.to_string().contains("Function not found"), "{e}");
    let _: () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query(&mut con)
        .expect("flush");
    s.kill9();
    let s = Server::start(1, &dir.logged_always());
    let mut con = s.client();
    let list: redis::Value = redis::cmd("FUNCTION")
        .arg("LIST")
        .query(&mut con)
        .expect("list");
    assert_eq!(list, redis::Value::Array(vec![]));
}

#[test]
fn a_type_stairkv_does_not_hold_stops_the_start_naming_it() {
    if !have("redis-server") {
        eprintln!("SKIP a_type_stairkv_does_not_hold_stops_the_start_naming_it: redis-server not installed");
        return;
    }
    let dir = TempDir::new("stream");
    {
        let r = Redis::start(&dir.0);
        let mut con = r.client().expect("connect");
        let _: () = con.set("fine", "1").expect("set");
        let _: String = redis::cmd("XADD")
            .arg("events")
            .arg("*")
            .arg("f")
            .arg("v")
            .query(&mut con)
            .expect("XADD");
        let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    }
    let err = start_fails(&["--dir", dir.arg()]);
    assert!(
        err.contains("events") && err.contains("stream"),
        "stderr: {err}"
    );
    assert!(err.contains("dump.rdb"), "names the file: {err}");
}

#[test]
fn a_corrupt_snapshot_stops_the_start_naming_file_and_offset() {
    let dir = TempDir::new("corrupt");
    {
        let s = Server::start(1, &["--dir", dir.arg()]);
        let mut con = s.client();
        for i in 0..100 {
            let _: () = con
                .set(format!("k{i}"), format!("value number {i}"))
                .expect("set");
        }
        let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    }
    let path = dir.0.join("dump.rdb");
    let mut bytes = std::fs::read(&path).expect("read dump");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&path, &bytes).expect("write");
    let err = start_fails(&["--dir", dir.arg()]);
    assert!(
        err.contains("dump.rdb") && err.contains("offset"),
        "stderr: {err}"
    );

    // Cut short: refused too, never loaded in part.
    bytes[mid] ^= 0x5a;
    std::fs::write(&path, &bytes[..bytes.len() - 20]).expect("write");
    let err = start_fails(&["--dir", dir.arg()]);
    assert!(
        err.contains("dump.rdb") && err.contains("offset"),
        "stderr: {err}"
    );

    std::fs::write(&path, b"not an rdb file at all").expect("write");
    let err = start_fails(&["--dir", dir.arg()]);
    assert!(err.contains("not an RDB file"), "stderr: {err}");
}

#[test]
fn dir_and_dbfilename_are_config() {
    let dir = TempDir::new("config");
    let other = TempDir::new("config-other");
    let s = Server::start(2, &["--dir", dir.arg(), "--dbfilename", "mine.rdb"]);
    let mut con = s.client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dbfilename")
        .query(&mut con)
        .expect("config get");
    assert_eq!(got, vec!["dbfilename".to_string(), "mine.rdb".into()]);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query(&mut con)
        .expect("config get");
    let canon = std::fs::canonicalize(&dir.0).expect("canonical");
    assert_eq!(got[1], canon.display().to_string());
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("dbfilename")
        .arg("../escape.rdb")
        .query::<()>(&mut con)
        .expect_err("a path is refused");
    assert!(
        err.to_string().contains("dbfilename can't be a path"),
        "{err}"
    );
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("dir")
        .arg("/no/such/dir/here")
        .query::<()>(&mut con)
        .expect_err("a missing dir is refused");
    assert!(
        err.to_string().contains("No such file or directory"),
        "{err}"
    );
    // SAVE goes where CONFIG SET points it, on every core.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("dir")
        .arg(other.arg())
        .query(&mut con)
        .expect("set dir");
    let _: () = con.set("a", "1").expect("set");
    let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    assert!(other.0.join("mine.rdb").is_file());
    assert!(!dir.0.join("mine.rdb").exists());
    let err = redis::cmd("SAVE")
        .arg("extra")
        .query::<()>(&mut con)
        .expect_err("arity");
    assert!(
        err.to_string().contains("wrong number of arguments"),
        "{err}"
    );

    let err = start_fails(&["--dir", "/no/such/dir/here"]);
    assert!(err.contains("/no/such/dir/here"), "stderr: {err}");
    let err = start_fails(&["--dbfilename", "a/b.rdb"]);
    assert!(err.contains("dbfilename can't be a path"), "stderr: {err}");
}

fn info_persistence(con: &mut redis::Connection) -> BTreeMap<String, String> {
    let text: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("info");
    assert!(text.starts_with("# Persistence"), "{text}");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn info_persistence_counts_changes_saves_and_loads() {
    let dir = TempDir::new("info");
    let s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    let i = info_persistence(&mut con);
    for (k, v) in [
        ("loading", "0"),
        ("rdb_changes_since_last_save", "0"),
        ("rdb_bgsave_in_progress", "0"),
        ("rdb_last_bgsave_status", "ok"),
        ("aof_enabled", "0"),
    ] {
        assert_eq!(i.get(k).map(String::as_str), Some(v), "{k} in {i:?}");
    }
    for n in 0..50 {
        let _: () = con.set(format!("k{n}"), n).expect("set");
    }
    let _: i64 = con.del(&["k0", "k1", "missing"]).expect("del");
    let _: Option<String> = con.get("k2").expect("get");
    let refused: Option<String> = redis::cmd("SET")
        .arg("k3")
        .arg("x")
        .arg("NX")
        .query(&mut con)
        .expect("set nx");
    assert_eq!(refused, None, "k3 exists: NX refuses");
    // 50 SETs and 2 deletes changed keys; the GET, the missing key and the refused NX did not.
    assert_eq!(
        info_persistence(&mut con)["rdb_changes_since_last_save"],
        "52"
    );
    let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    let i = info_persistence(&mut con);
    assert_eq!(i["rdb_changes_since_last_save"], "0");
    assert_eq!(i["rdb_saves"], "1");
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).expect("lastsave");
    assert_eq!(i["rdb_last_save_time"], lastsave.to_string());
    let _: () = con.set("after", 1).expect("set");
    assert_eq!(
        info_persistence(&mut con)["rdb_changes_since_last_save"],
        "1"
    );
    drop(con);
    drop(s);
    let s = Server::start(2, &["--dir", dir.arg()]);
    let i = info_persistence(&mut s.client());
    assert_eq!(i["rdb_last_load_keys_loaded"], "48");
    assert_eq!(i["rdb_changes_since_last_save"], "0");
}

#[test]
fn shutdown_save_writes_the_snapshot_then_stops() {
    let dir = TempDir::new("shutdown");
    let data = dataset();
    let mut s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    fill(&mut con, &data);
    for (args, want) in [
        (vec!["ABORT"], "No shutdown in progress"),
        (vec!["SAVE", "NOSAVE"], "syntax error"),
        (vec!["NOW", "ABORT"], "syntax error"),
        (vec!["LATER"], "syntax error"),
    ] {
        let err = redis::cmd("SHUTDOWN")
            .arg(&args)
            .query::<()>(&mut con)
            .expect_err("refused");
        assert!(err.to_string().contains(want), "SHUTDOWN {args:?}: {err}");
    }
    // Still serving after the refusals.
    let n: usize = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
    assert_eq!(n, data.len());
    // No reply: the connection closes with the server.
    let r = redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .query::<redis::Value>(&mut con);
    assert!(r.is_err(), "SHUTDOWN answered {r:?}");
    let status = s.terminate().expect("exit status");
    assert!(status.success(), "stairkv exited with {status:?}");
    let s = Server::start(1, &["--dir", dir.arg()]);
    check(&mut s.client(), &data, "after SHUTDOWN SAVE");
}

#[test]
fn shutdown_without_save_points_does_not_save() {
    let dir = TempDir::new("shutdown-nosave");
    let mut s = Server::start(1, &["--dir", dir.arg()]);
    let mut con = s.client();
    let _: () = con.set("a", "1").expect("set");
    let r = redis::cmd("SHUTDOWN").query::<redis::Value>(&mut con);
    assert!(r.is_err(), "SHUTDOWN answered {r:?}");
    let status = s.terminate().expect("exit status");
    assert!(status.success(), "stairkv exited with {status:?}");
    assert!(
        !dir.0.join("dump.rdb").exists(),
        "no save points: nothing saved"
    );
}

#[test]
fn stairkv_check_reads_snapshots() {
    let dir = TempDir::new("check");
    {
        let s = Server::start(2, &["--dir", dir.arg()]);
        let mut con = s.client();
        fill(&mut con, &dataset());
        let _: String = redis::cmd("SAVE").query(&mut con).expect("save");
    }
    let path = dir.0.join("dump.rdb");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stairkv"))
            .arg("check")
            .arg(&path)
            .args(extra)
            .output()
            .expect("stairkv check")
    };
    let out = run(&[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let n = dataset().len();
    let ttl = dataset().values().filter(|(_, t)| *t).count();
    assert!(
        said.contains(&format!("{n} keys ({ttl} with a TTL)"))
            && said.contains("checksum verified"),
        "{said}"
    );
    let out = run(&["--fix"]);
    assert_eq!(out.status.code(), Some(2), "--fix refuses a snapshot");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    let out = run(&[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("checksum mismatch") && said.contains("offset"),
        "{said}"
    );
}

#[test]
fn bgsave_keeps_every_key_as_it_was_when_it_began() {
    let dir = TempDir::new("bgsave");
    let mut s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    const N: usize = 300_000;
    let pad = "p".repeat(150);
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("old{i}{pad}"))
                .ignore();
        }
        let _: () = pipe.query(&mut con).expect("fill");
    }
    // A second client rewrites every key, deletes some and adds others while the
    // snapshot runs; it starts the moment BGSAVE has answered.
    let go = std::sync::Arc::new(std::sync::Barrier::new(2));
    let writer_go = go.clone();
    let mut wcon = s.client();
    let writer = std::thread::spawn(move || {
        writer_go.wait();
        for round in 0..(N / 10_000) {
            let mut pipe = redis::pipe();
            for j in 0..10_000 {
                // Scattered over every shard, not one after another.
                let i = (j * 7919 + round * 31) % N;
                pipe.cmd("SET").arg(format!("k{i}")).arg("new").ignore();
                if j % 7 == 0 {
                    pipe.cmd("DEL").arg(format!("k{}", (i + 1) % N)).ignore();
                    pipe.cmd("SET")
                        .arg(format!("fresh{round}-{j}"))
                        .arg("x")
                        .ignore();
                }
            }
            let _: () = pipe.query(&mut wcon).expect("writes during BGSAVE");
        }
    });
    let started: String = redis::cmd("BGSAVE").query(&mut con).expect("bgsave");
    assert_eq!(started, "Background saving started");
    go.wait();
    let again = redis::cmd("BGSAVE").query::<String>(&mut con);
    let mut saw_running = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = info_persistence(&mut con);
        if i["rdb_bgsave_in_progress"] == "1" {
            saw_running = true;
        } else if i["rdb_saves"] != "0" {
            assert_eq!(i["rdb_last_bgsave_status"], "ok");
            break;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not finish: {i:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    writer.join().expect("writer");
    if let Err(err) = &again {
        assert!(
            err.to_string()
                .contains("Background save already in progress"),
            "{err}"
        );
    }
    s.kill9();
    drop(con);

    // Restarted from the snapshot: every key as it was when BGSAVE began.
    let s = Server::start(2, &["--dir", dir.arg()]);
    let mut con = s.client();
    let n: usize = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
    assert_eq!(
        n, N,
        "the keys deleted meanwhile are there, the ones added are not"
    );
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i}")).collect();
        let values: Vec<Option<String>> = con.mget(&keys).expect("mget");
        for (i, v) in chunk.iter().zip(values) {
            assert_eq!(v, Some(format!("old{i}{pad}")), "k{i} after restart");
        }
    }
    let fresh: Option<String> = con.get("fresh0-0").expect("get");
    assert_eq!(fresh, None);

    // SCHEDULE while one runs queues the next; a second plain BGSAVE is refused.
    let first: String = redis::cmd("BGSAVE").query(&mut con).expect("bgsave");
    assert_eq!(first, "Background saving started");
    match redis::cmd("BGSAVE")
        .arg("SCHEDULE")
        .query::<String>(&mut con)
    {
        Ok(s) => assert!(
            s == "Background saving scheduled" || s == "Background saving started",
            "{s}"
        ),
        Err(e) => panic!("BGSAVE SCHEDULE: {e}"),
    }
    let err = redis::cmd("BGSAVE")
        .arg("LATER")
        .query::<()>(&mut con)
        .expect_err("syntax");
    assert!(err.to_string().contains("syntax error"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = info_persistence(&mut con);
        if i["rdb_bgsave_in_progress"] == "0" && i["rdb_saves"] == "2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled BGSAVE did not run: {i:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        saw_running || again.is_ok(),
        "BGSAVE was neither seen running nor answered twice"
    );
}

#[test]
fn save_points_save_in_the_background_and_on_sigterm() {
    let dir = TempDir::new("savepoints");
    let mut s = Server::start(2, &["--dir", dir.arg(), "--save", "1 3"]);
    let mut con = s.client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .expect("config get");
    assert_eq!(got, vec!["save".to_string(), "1 3".into()]);
    // Two changes are under the point: nothing is saved however long we wait.
    let _: () = con.set("a", "1").expect("set");
    let _: () = con.set("b", "2").expect("set");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(info_persistence(&mut con)["rdb_saves"], "0");
    // The third reaches it: a BGSAVE follows within the next look.
    let _: () = con.set("c", "3").expect("set");
    // The save's threads run at nice 10: under the suite's parallel load a
    // save of three keys once took longer than 10 s to finish.
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_persistence(&mut con)["rdb_saves"] == "0" {
        assert!(Instant::now() < deadline, "the save point did not save");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        info_persistence(&mut con)["rdb_changes_since_last_save"],
        "0"
    );
    // SIGTERM with save points set saves what came since.
    let _: () = con.set("d", "4").expect("set");
    drop(con);
    let status = s.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
    let s = Server::start(1, &["--dir", dir.arg()]);
    let mut con = s.client();
    let n: usize = redis::cmd("DBSIZE").query(&mut con).expect("dbsize");
    assert_eq!(n, 4, "a, b, c from the save point, d from the SIGTERM save");
    // CONFIG SET save: Redis's syntax, "" turns them off, nonsense is refused.
    for bad in ["1", "x 1", "0 5", "60 -1"] {
        let err = redis::cmd("CONFIG")
            .arg("SET")
            .arg("save")
            .arg(bad)
            .query::<()>(&mut con)
            .expect_err(bad);
        assert!(
            err.to_string().contains("Invalid save parameters"),
            "{bad}: {err}"
        );
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("3600 1 300 100")
        .query(&mut con)
        .expect("set");
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .expect("config get");
    assert_eq!(got[1], "3600 1 300 100");
    let err = start_fails(&["--save", "10"]);
    assert!(err.contains("Invalid save parameters"), "{err}");
}

#[test]
fn shutdown_nosave_with_save_points_does_not_save() {
    let dir = TempDir::new("nosave");
    let mut s = Server::start(1, &["--dir", dir.arg(), "--save", "3600 1"]);
    let mut con = s.client();
    let _: () = con.set("a", "1").expect("set");
    let r = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<redis::Value>(&mut con);
    assert!(r.is_err(), "SHUTDOWN answered {r:?}");
    let status = s.terminate().expect("exit status");
    assert!(status.success(), "{status:?}");
    assert!(
        !dir.0.join("dump.rdb").exists(),
        "NOSAVE: nothing saved, not even by the stop"
    );
    // With save points, a plain SHUTDOWN saves.
    let mut s = Server::start(1, &["--dir", dir.arg(), "--save", "3600 1"]);
    let mut con = s.client();
    let _: () = con.set("b", "1").expect("set");
    let r = redis::cmd("SHUTDOWN").query::<redis::Value>(&mut con);
    assert!(r.is_err(), "SHUTDOWN answered {r:?}");
    let _ = s.terminate();
    let s = Server::start(1, &["--dir", dir.arg()]);
    let b: Option<String> = s.client().get("b").expect("get");
    assert_eq!(b.as_deref(), Some("1"));
}
