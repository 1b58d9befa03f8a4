//! Interop of the RDB codec (`stairkv::persist::rdb`) with the real
//! redis-server 7.0: a file our writer makes passes `redis-check-rdb` and
//! loads into redis-server with every key, value and deadline; a file
//! redis-server saves reads back through our reader with every key, value and
//! deadline, whatever its `rdbcompression`, `rdbchecksum` and eviction policy
//! (which add LRU/LFU opcodes); the types stairkv does not hold are refused by
//! name. Each test starts its own redis-server on a free port in a temp dir,
//! and stops it (and removes the dir) when it ends. Without redis-server on
//! the PATH the tests print why and pass without checking anything.

mod common;

use common::noise;
use stairkv::persist::rdb::{
    check_rdb, Checksum, ErrorKind, FileWriter, Header, Item, Options, Reader, SectionWriter,
};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Key -> (value, deadline in unix ms).
type Dataset = BTreeMap<Vec<u8>, (Vec<u8>, Option<i64>)>;

fn have_redis() -> bool {
    let ok = |bin: &str| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if ok("redis-server") && ok("redis-check-rdb") {
        return true;
    }
    eprintln!(
        "SKIPPED: redis-server or redis-check-rdb is not installed (apt-get install redis-server)"
    );
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("stairkv-rdb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A redis-server child, killed on drop.
struct Redis {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Redis {
    /// Start redis-server in `dir` with `dbfilename` (loaded when present).
    fn start(dir: &Path, dbfilename: &str) -> Redis {
        Redis::start_with(dir, dbfilename, &[])
    }

    fn start_with(dir: &Path, dbfilename: &str, extra: &[&str]) -> Redis {
        let port = free_port();
        let log = dir.join(format!("redis-{port}.log"));
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--dbfilename",
                dbfilename,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--rdbcompression", "yes", "--daemonize", "no"])
            .args(extra)
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let mut r = Redis { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!("redis-server exited ({status}) at start:\n{}", r.log_text());
            }
            if let Ok(mut con) = r.try_client() {
                // Still loading answers -LOADING: wait until PING is a PONG.
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return r;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server not ready in 30 s:\n{}",
                r.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_client(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    fn client(&self) -> redis::Connection {
        self.try_client().expect("connect to redis-server")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keys of every kind the string encodings distinguish: integers at each
/// int8/16/32 boundary and past them, non-canonical digits, short strings,
/// 21+ byte compressible ones up to 200 KB, incompressible ones, binary and
/// empty keys; every third one with a deadline an hour or more ahead.
fn dataset() -> Dataset {
    let mut values: Vec<Vec<u8>> = [
        "0",
        "-1",
        "127",
        "-128",
        "128",
        "32767",
        "-32769",
        "70000",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "007",
        "-0",
        "+5",
        "",
        "x",
        "hello world",
        "twenty bytes exactly",
        "twenty-one bytes here",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    values.push(b"a".repeat(21));
    values.push(b"abcdefgh".repeat(1000));
    values.push(
        "the quick brown fox jumps over the lazy dog "
            .repeat(5000)
            .into_bytes(),
    );
    values.push(noise(100, 1));
    values.push(noise(5000, 2));
    values.push(noise(100_000, 3));
    let mut mixed = noise(3000, 4);
    mixed.extend_from_slice(&[b'z'; 3000]);
    values.push(mixed);
    let keys: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\x00\x01\x02".to_vec(),
        b"\xff\xfe binary \r\n key".to_vec(),
        b"12345".to_vec(),
        "ключ".as_bytes().to_vec(),
        b"k".repeat(300),
    ];
    let base = now_ms() + 3_600_000;
    let mut data = Dataset::new();
    for (i, v) in values.into_iter().enumerate() {
        let key = match keys.get(i) {
            Some(k) => k.clone(),
            None => format!("key:{i}").into_bytes(),
        };
        let ttl = (i % 3 == 1).then_some(base + i as i64 * 1001);
        data.insert(key, (v, ttl));
    }
    data
}

/// Every key, value and deadline redis-server holds.
fn dump_redis(con: &mut redis::Connection) -> Dataset {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
    let mut out = Dataset::new();
    for k in keys {
        let v: Vec<u8> = redis::cmd("GET").arg(&k).query(con).expect("GET");
        let t: i64 = redis::cmd("PEXPIRETIME")
            .arg(&k)
            .query(con)
            .expect("PEXPIRETIME");
        out.insert(k, (v, (t >= 0).then_some(t)));
    }
    out
}

/// Every key, value and deadline an RDB file holds, with its records' LRU
/// and LFU fields counted, and the checksum verdict.
struct Read {
    data: Dataset,
    with_idle: usize,
    with_freq: usize,
    aux: BTreeMap<String, String>,
    checksum: Checksum,
}

fn read_file(path: &Path) -> Read {
    let file = std::fs::File::open(path).expect("open the RDB file");
    let mut r = Reader::new(BufReader::new(file)).expect("an RDB header");
    let mut out = Read {
        data: Dataset::new(),
        with_idle: 0,
        with_freq: 0,
        aux: BTreeMap::new(),
        checksum: Checksum::Absent,
    };
    loop {
        match r.next_item() {
            Ok(Some(Item::Key(rec))) => {
                out.with_idle += usize::from(rec.lru_idle_secs.is_some());
                out.with_freq += usize::from(rec.lfu_freq.is_some());
                let dup = out.data.insert(rec.key, (rec.value, rec.expire_at_ms));
                assert!(dup.is_none(), "a key twice");
            }
            Ok(Some(Item::Aux { key, value })) => {
                out.aux.insert(
                    String::from_utf8_lossy(&key).into_owned(),
                    String::from_utf8_lossy(&value).into_owned(),
                );
            }
            Ok(Some(Item::ResizeDb { .. })) | Ok(Some(Item::Function(_))) => {}
            Ok(None) => break,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    out.checksum = r.checksum().expect("read to the end");
    out
}

fn write_file(path: &Path, data: &Dataset) {
    // Three ways in, as the cores will use them: a section appended from
    // bytes, one from a reader, and keys written directly.
    let entries: Vec<_> = data.iter().collect();
    let third = entries.len() / 3;
    let expires = data.values().filter(|(_, t)| t.is_some()).count() as u64;
    let header = Header::redis((now_ms() / 1000) as u64, 1 << 20).sizes(data.len() as u64, expires);
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = FileWriter::new(file, &header, Options::default()).expect("header");
    for (n, part) in [&entries[..third], &entries[third..2 * third]]
        .into_iter()
        .enumerate()
    {
        let mut s = SectionWriter::new(Vec::new(), Options::default());
        for (k, (v, t)) in part {
            s.write_string(k, v, *t).expect("encode");
        }
        let (bytes, section) = s.finish().expect("encode");
        if n == 0 {
            w.append_section(&bytes, section).expect("write");
        } else {
            w.append_section_from(&bytes[..], section).expect("write");
        }
    }
    for (k, (v, t)) in &entries[2 * third..] {
        w.write_string(k, v, *t).expect("write");
    }
    let (_, written) = w.finish().expect("finish");
    assert_eq!(written.keys, data.len() as u64);
    assert_eq!(written.keys_with_ttl, expires);
}

fn diff(what: &str, got: &Dataset, want: &Dataset) {
    assert_eq!(got.len(), want.len(), "{what}: number of keys");
    for (k, w) in want {
        let g = got
            .get(k)
            .unwrap_or_else(|| panic!("{what}: key {k:?} missing"));
        assert!(
            g.0 == w.0,
            "{what}: key {k:?}: value of {} bytes, want {}",
            g.0.len(),
            w.0.len()
        );
        assert_eq!(g.1, w.1, "{what}: key {k:?}: deadline");
    }
}

#[test]
fn redis_loads_what_we_write() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("ours");
    let data = dataset();
    let path = dir.0.join("ours.rdb");
    write_file(&path, &data);

    let check = Command::new("redis-check-rdb")
        .arg(&path)
        .output()
        .expect("run redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && out.contains("RDB looks OK"),
        "redis-check-rdb refused our file:\n{out}"
    );
    let expires = data.values().filter(|(_, t)| t.is_some()).count();
    assert!(
        out.contains(&format!("[info] {} keys read", data.len()))
            && out.contains(&format!("[info] {expires} expires"))
            && out.contains("[info] 0 already expired"),
        "redis-check-rdb counted otherwise:\n{out}"
    );

    let redis = Redis::start(&dir.0, "ours.rdb");
    let mut con = redis.client();
    let n: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(
        n,
        data.len(),
        "redis-server loaded {n} keys:\n{}",
        redis.log_text()
    );
    diff(
        "redis-server after loading ours",
        &dump_redis(&mut con),
        &data,
    );
}

#[test]
fn we_read_what_redis_writes() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("theirs");
    let redis = Redis::start(&dir.0, "dump.rdb");
    let mut con = redis.client();
    let mut data = dataset();
    for (k, (v, t)) in &data {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg(v)
            .query(&mut con)
            .expect("SET");
        if let Some(t) = t {
            let _: () = redis::cmd("PEXPIREAT")
                .arg(k)
                .arg(t)
                .query(&mut con)
                .expect("PEXPIREAT");
        }
    }
    // Relative TTLs and INCR'd integers (stored as integer objects) too.
    for i in 0..20 {
        let k = format!("rel:{i}");
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg(i * 1000)
            .query(&mut con)
            .expect("SET");
        let _: () = redis::cmd("PEXPIRE")
            .arg(&k)
            .arg(3_600_000 + i)
            .query(&mut con)
            .expect("PEXPIRE");
        let _: () = redis::cmd("INCRBY")
            .arg(&k)
            .arg(7)
            .query(&mut con)
            .expect("INCRBY");
        let t: i64 = redis::cmd("PEXPIRETIME")
            .arg(&k)
            .query(&mut con)
            .expect("PEXPIRETIME");
        data.insert(
            k.into_bytes(),
            ((i * 1000 + 7).to_string().into_bytes(), Some(t)),
        );
    }
    let _: () = redis::cmd("SET")
        .arg("ex")
        .arg("seconds")
        .arg("EX")
        .arg(7200)
        .query(&mut con)
        .expect("SET EX");
    let t: i64 = redis::cmd("PEXPIRETIME")
        .arg("ex")
        .query(&mut con)
        .expect("PEXPIRETIME");
    data.insert(b"ex".to_vec(), (b"seconds".to_vec(), Some(t)));
    diff("redis-server before SAVE", &dump_redis(&mut con), &data);
    let raw_total: usize = data.iter().map(|(k, (v, _))| k.len() + v.len()).sum();

    let path = dir.0.join("dump.rdb");
    let save = |con: &mut redis::Connection| {
        let _: () = redis::cmd("SAVE").query(con).expect("SAVE");
    };
    let set = |con: &mut redis::Connection, name: &str, value: &str| {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(con)
            .expect("CONFIG SET");
    };

    // rdbcompression yes (the default): LZF strings.
    save(&mut con);
    let compressed_size = std::fs::metadata(&path).expect("dump.rdb").len() as usize;
    let got = read_file(&path);
    diff("our reader on redis's dump (compressed)", &got.data, &data);
    assert!(
        matches!(got.checksum, Checksum::Verified(_)),
        "{:?}",
        got.checksum
    );
    assert!(
        got.aux
            .get("redis-ver")
            .is_some_and(|v| v.starts_with("7.")),
        "{:?}",
        got.aux
    );
    let summary = check_rdb(&path).expect("check_rdb");
    assert_eq!(summary.keys, data.len() as u64);
    assert_eq!(
        summary.keys_with_ttl,
        data.values().filter(|(_, t)| t.is_some()).count() as u64
    );
    assert_eq!(summary.bytes, compressed_size as u64);

    // rdbcompression no: the same keys raw, so the file is larger — which
    // shows the first one really held LZF strings our reader expanded.
    set(&mut con, "rdbcompression", "no");
    save(&mut con);
    let raw_size = std::fs::metadata(&path).expect("dump.rdb").len() as usize;
    assert!(
        compressed_size * 2 < raw_size && raw_size > raw_total,
        "compressed {compressed_size} raw {raw_size} data {raw_total}"
    );
    diff(
        "our reader on redis's dump (raw)",
        &read_file(&path).data,
        &data,
    );

    // LRU and LFU policies add IDLE and FREQ opcodes before each key.
    set(&mut con, "maxmemory-policy", "allkeys-lru");
    save(&mut con);
    let got = read_file(&path);
    assert_eq!(got.with_idle, data.len());
    diff("our reader on redis's dump (LRU)", &got.data, &data);
    set(&mut con, "maxmemory-policy", "allkeys-lfu");
    save(&mut con);
    let got = read_file(&path);
    assert_eq!(got.with_freq, data.len());
    diff("our reader on redis's dump (LFU)", &got.data, &data);
    drop(con);
    drop(redis);

    // rdbchecksum no (fixed at start): a zero trailer, accepted as "not
    // computed". This server loads the file the first one saved.
    let redis = Redis::start_with(&dir.0, "dump.rdb", &["--rdbchecksum", "no"]);
    let mut con = redis.client();
    save(&mut con);
    let got = read_file(&path);
    assert_eq!(got.checksum, Checksum::NotComputed);
    diff("our reader on redis's dump (no checksum)", &got.data, &data);
}

#[test]
fn what_stairkv_does_not_hold_is_refused_by_name() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("types");
    let redis = Redis::start(&dir.0, "dump.rdb");
    let mut con = redis.client();
    let path = dir.0.join("dump.rdb");
    let cases: [(&[&str], &str, &str); 9] = [
        // Hashes, sets, lists and sorted sets load (tests/hashes_sets.rs,
        // tests/lists.rs and tests/zsets.rs check their contents).
        (&["RPUSH", "my list", "a", "b"], "", ""),
        (&["SADD", "s", "1", "2"], "", ""),
        (&["SADD", "s2", "a", "b"], "", ""),
        (&["HSET", "h", "f", "v"], "", ""),
        (&["ZADD", "z", "1", "m"], "", ""),
        (&["XADD", "x", "*", "f", "v"], "x", "stream (listpacks_2)"),
        (&["SELECT", "2"], "", "database 2"),
        // A function library reads (its code; tests/persist.rs loads it).
        (
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
            ],
            "",
            "",
        ),
        (&["SET", "plain", "v"], "", ""),
    ];
    for (cmd, key, want) in cases {
        let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
        let _: () = redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query(&mut con)
            .expect("FUNCTION FLUSH");
        // A string key before the refused one: it is read, then the refusal stops the load.
        let _: () = redis::cmd("SET")
            .arg("before")
            .arg("1")
            .query(&mut con)
            .expect("SET");
        let mut c = redis::cmd(cmd[0]);
        for a in &cmd[1..] {
            c.arg(*a);
        }
        let _: redis::Value = c.query(&mut con).expect("the command");
        if cmd[0] == "SELECT" {
            let _: () = redis::cmd("SET")
                .arg("in db 2")
                .arg("v")
                .query(&mut con)
                .expect("SET");
            let _: () = redis::cmd("SELECT")
                .arg(0)
                .query(&mut con)
                .expect("SELECT 0");
        }
        let _: () = redis::cmd("SAVE").query(&mut con).expect("SAVE");
        let result = check_rdb(&path);
        if want.is_empty() {
            let keys = if cmd[0] == "FUNCTION" { 1 } else { 2 };
            assert_eq!(result.expect("a file of types stairkv holds").keys, keys);
            continue;
        }
        let e = result.expect_err(want);
        let text = e.to_string();
        assert!(text.contains(want), "{cmd:?}: {text}");
        if !key.is_empty() {
            assert!(text.contains(&format!("\"{key}\"")), "{cmd:?}: {text}");
            assert!(
                matches!(e.kind, ErrorKind::UnsupportedType { .. }),
                "{text}"
            );
        }
        let size = std::fs::metadata(&path).expect("dump.rdb").len();
        assert!(
            e.offset > 9 && e.offset < size,
            "{cmd:?}: offset {}",
            e.offset
        );
    }
}

/// The codec's own speed, no redis-server: 1,000,000 keys (16-byte keys,
/// 32-byte values, a third with a TTL) encoded as two sections, joined, and
/// read back. Prints the figures; run with
/// `cargo test --release --test rdb -- --ignored --nocapture codec_speed`.
#[test]
#[ignore]
fn codec_speed() {
    const N: usize = 1_000_000;
    use std::io::Write;
    // Keys and values spelled into reused buffers: the time is the codec's
    // (plus the formatting of two numbers), not the allocator's.
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut parts = Vec::new();
    for half in 0..2 {
        let mut s = SectionWriter::new(Vec::with_capacity(N * 30), Options::default());
        for i in (half..N).step_by(2) {
            let ttl = (i % 3 == 0).then_some(1_900_000_000_000 + i as i64);
            key.clear();
            value.clear();
            write!(key, "key:{i:012}").expect("vec");
            write!(value, "value-{i:026}").expect("vec");
            s.write_string(&key, &value, ttl).expect("encode");
        }
        parts.push(s.finish().expect("encode"));
    }
    let encode = start.elapsed();
    let start = Instant::now();
    let mut w =
        FileWriter::new(Vec::new(), &Header::redis(0, 0), Options::default()).expect("header");
    for (bytes, section) in &parts {
        w.append_section(bytes, *section).expect("join");
    }
    let (file, written) = w.finish().expect("finish");
    let join = start.elapsed();
    let start = Instant::now();
    let mut r = Reader::new(&file[..]).expect("header");
    let mut n = 0;
    while let Some(rec) = r.next_record().expect("read") {
        n += 1;
        std::hint::black_box(rec);
    }
    let read = start.elapsed();
    assert_eq!(n, N);
    assert_eq!(written.keys, N as u64);
    let mb = file.len() as f64 / 1e6;
    eprintln!(
        "{N} keys, {mb:.1} MB: encode {:.0} ms ({:.2} M keys/s, 2 sections on one thread), \
         join {:.2} ms, read {:.0} ms ({:.2} M keys/s, {:.0} MB/s)",
        encode.as_secs_f64() * 1e3,
        N as f64 / encode.as_secs_f64() / 1e6,
        join.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
        N as f64 / read.as_secs_f64() / 1e6,
        mb / read.as_secs_f64(),
    );
}
