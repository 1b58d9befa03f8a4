//! The operator tooling in tools/ against the real binary's `/metrics`: the
//! Grafana dashboard queries only metrics the server exports, promtool
//! accepts the Prometheus scrape config and a live scrape, and the per-core
//! series add up to what the clients did.

mod common;

use common::{keys_on_each_core, Server};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DASHBOARD: &str = "tools/grafana/stairkv-dashboard.json";
const SCRAPE_CONFIG: &str = "tools/prometheus/prometheus.yml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `GET {srv.http()}/metrics`, its body.
fn scrape(srv: &Server) -> String {
    let url = format!("{}/metrics", srv.http());
    let resp = ureq::get(&url)
        .timeout(Duration::from_secs(10))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status(), 200, "GET {url}");
    let ctype = resp.header("Content-Type").unwrap_or("").to_string();
    let body = resp.into_string().expect("the /metrics body as text");
    assert!(
        ctype.starts_with("text/plain"),
        "GET {url}: Content-Type {ctype:?}, want text/plain (Prometheus text format 0.0.4)"
    );
    body
}

/// One sample line of the text format.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape, and the names its `# TYPE` lines declare (with
/// their types).
struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split_whitespace();
                let name = it.next().expect("a name after # TYPE").to_string();
                let ty = it.next().unwrap_or("").to_string();
                types.insert(name, ty);
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            samples.push(parse_sample(line));
        }
        Scrape { samples, types }
    }

    /// Every name a query may use: sample names (`foo_bucket`, `foo_sum`...)
    /// and declared family names (`foo` of `# TYPE foo histogram`).
    fn names(&self) -> BTreeSet<String> {
        let mut n: BTreeSet<String> = self.samples.iter().map(|s| s.name.clone()).collect();
        n.extend(self.types.keys().cloned());
        n
    }

    fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The sum over the series of `name` whose labels include all of `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.series(name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// The value of `name` per `core` label.
    fn per_core(&self, name: &str) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for s in self.series(name) {
            let core = s
                .labels
                .get("core")
                .unwrap_or_else(|| panic!("{name} has a series without a core label: {s:?}"));
            *m.entry(core.clone()).or_insert(0.0) += s.value;
        }
        m
    }
}

/// `name{a="x",b="y"} value [timestamp]`.
fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or_else(|| panic!("no value on the line {line:?}"));
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let end = loop {
            // Skip separators before the next label name (or the closing brace).
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            let Some(&(start, c)) = chars.peek() else {
                panic!("unterminated labels on the line {line:?}")
            };
            if c == '}' {
                break start + 1;
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(
                chars.next().map(|(_, c)| c),
                Some('"'),
                "label {key} without a quoted value on the line {line:?}"
            );
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => panic!("bad escape on the line {line:?}"),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value on the line {line:?}"),
                }
            }
            labels.insert(key.trim().to_string(), value);
        };
        rest = &body[end..];
    }
    let value_text = rest
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no value on the line {line:?}"));
    let value = value_text
        .parse::<f64>()
        .unwrap_or_else(|e| panic!("value {value_text:?} on the line {line:?}: {e}"));
    Sample {
        name,
        labels,
        value,
    }
}

/// A few commands over RESP so that the counters the dashboard shows are not
/// all zero (and the families that only appear once used do appear): a SET,
/// a hit, a miss, a failed INCR, a rejected GET (wrong arity), an expired key.
fn warm_up(srv: &Server) {
    let mut con = srv.client();
    let _: () = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query(&mut con)
        .expect("SET");
    let hit: Option<String> = redis::cmd("GET")
        .arg("greeting")
        .query(&mut con)
        .expect("GET");
    assert_eq!(hit.as_deref(), Some("hello"));
    let miss: Option<String> = redis::cmd("GET")
        .arg("no-such-key")
        .query(&mut con)
        .expect("GET");
    assert_eq!(miss, None);
    let failed: redis::RedisResult<i64> = redis::cmd("INCR").arg("greeting").query(&mut con);
    assert!(failed.is_err(), "INCR of a non-integer: {failed:?}");
    let rejected: redis::RedisResult<redis::Value> = redis::cmd("GET").query(&mut con);
    assert!(rejected.is_err(), "GET without a key: {rejected:?}");
    let _: () = redis::cmd("SET")
        .arg("short-lived")
        .arg("x")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .expect("SET PX");
    std::thread::sleep(Duration::from_millis(20));
    let gone: Option<String> = redis::cmd("GET")
        .arg("short-lived")
        .query(&mut con)
        .expect("GET");
    assert_eq!(gone, None);
    let _: () = redis::cmd("EXPIRE")
        .arg("greeting")
        .arg(3600)
        .query(&mut con)
        .expect("EXPIRE");
}

/// Every `expr` of every target of every panel (rows' nested panels too),
/// and the templating variables' queries.
fn dashboard_exprs(dash: &serde_json::Value) -> Vec<String> {
    fn panels(ps: &serde_json::Value, out: &mut Vec<String>) {
        for p in ps.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push(e.to_string());
                }
            }
            panels(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dash["panels"], &mut out);
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] == "query" {
            match &v["query"] {
                serde_json::Value::String(q) => out.push(q.clone()),
                q => {
                    if let Some(q) = q["query"].as_str() {
                        out.push(q.to_string())
                    }
                }
            }
        }
    }
    out
}

/// Every panel, rows' nested panels included.
fn all_panels(dash: &serde_json::Value) -> Vec<serde_json::Value> {
    fn walk(ps: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        for p in ps.as_array().into_iter().flatten() {
            out.push(p.clone());
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// The `stairkv_[a-z0-9_]+` names in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut i = 0;
    while let Some(at) = expr[i..].find("stairkv_") {
        let start = i + at;
        // A whole identifier, not the tail of another one.
        let standalone =
            start == 0 || !(word(bytes[start - 1]) || bytes[start - 1].is_ascii_uppercase());
        let mut end = start + "stairkv_".len();
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if standalone && end > start + "stairkv_".len() {
            names.insert(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

#[test]
fn dashboard_queries_only_exported_metrics() {
    let path = root().join(DASHBOARD);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dash: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    // Shape: enough panels, each querying through the datasource variable.
    let panels = all_panels(&dash);
    let visual: Vec<&serde_json::Value> = panels.iter().filter(|p| p["type"] != "row").collect();
    assert!(
        visual.len() >= 10,
        "{DASHBOARD}: {} panels (rows not counted), want at least 10",
        visual.len()
    );
    let mut bad_ds = Vec::new();
    for p in &visual {
        let title = p["title"].as_str().unwrap_or("?");
        if p["datasource"]["uid"] != "${datasource}" {
            bad_ds.push(format!("panel {title:?}: datasource {}", p["datasource"]));
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            if !t["datasource"].is_null() && t["datasource"]["uid"] != "${datasource}" {
                bad_ds.push(format!(
                    "panel {title:?} target: datasource {}",
                    t["datasource"]
                ));
            }
        }
        if p["targets"].as_array().is_none_or(|t| t.is_empty()) {
            bad_ds.push(format!("panel {title:?}: no targets"));
        }
    }
    assert!(
        bad_ds.is_empty(),
        "panels not on ${{datasource}}:\n{}",
        bad_ds.join("\n")
    );

    let exprs = dashboard_exprs(&dash);
    let wanted: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(
        !wanted.is_empty(),
        "{DASHBOARD}: no stairkv_ metric in any expr"
    );

    let srv = Server::start(2, &[]);
    warm_up(&srv);
    let scraped = Scrape::parse(&scrape(&srv));
    let exported = scraped.names();
    let missing: Vec<&String> = wanted.iter().filter(|n| !exported.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics does not export: {missing:?}\n(exported: {exported:?})"
    );
    // The latency histogram is one, and declared as such.
    if wanted
        .iter()
        .any(|n| n.starts_with("stairkv_command_duration_seconds"))
    {
        assert_eq!(
            scraped
                .types
                .get("stairkv_command_duration_seconds")
                .map(String::as_str),
            Some("histogram"),
            "# TYPE of stairkv_command_duration_seconds"
        );
    }
}

/// `promtool`, or None (skipping) when it is not installed and
/// STAIRKV_REQUIRE_PROMTOOL=1 is not set.
fn promtool() -> Option<PathBuf> {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some(PathBuf::from("promtool"));
    }
    if std::env::var("STAIRKV_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("promtool is not installed (STAIRKV_REQUIRE_PROMTOOL=1)");
    }
    eprintln!(
        "skipped: promtool is not installed (set STAIRKV_REQUIRE_PROMTOOL=1 to fail instead)"
    );
    None
}

#[test]
fn promtool_accepts_the_scrape_config_and_a_live_scrape() {
    let Some(promtool) = promtool() else { return };

    let out = Command::new(&promtool)
        .args(["check", "config", SCRAPE_CONFIG])
        .current_dir(root())
        .output()
        .expect("run promtool check config");
    assert!(
        out.status.success(),
        "promtool check config {SCRAPE_CONFIG}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let srv = Server::start(2, &[]);
    warm_up(&srv);
    let body = scrape(&srv);
    assert!(body.contains("stairkv_commands_total"), "scrape:\n{body}");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool check metrics");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .expect("write the scrape to promtool");
    let out = child.wait_with_output().expect("promtool check metrics");
    let said: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        out.status.success() && said.is_empty(),
        "promtool check metrics: {}\n{}",
        out.status,
        said.join("\n")
    );
}

#[test]
fn metrics_are_per_core_and_move() {
    let srv = Server::start(2, &[]);
    let mut con = srv.client();

    let before = Scrape::parse(&scrape(&srv));
    assert_eq!(
        before.sum("stairkv_cores", &[]),
        2.0,
        "stairkv_cores of a --cores 2 server"
    );
    assert_eq!(before.sum("stairkv_up", &[]), 1.0, "stairkv_up");
    let sets_before = before.sum("stairkv_commands_total", &[("command", "set")]);

    // Keys owned by each core, so both cores' series have something to show.
    let [on0, on1] = keys_on_each_core(&mut con, 25, "mon:");
    let keys: Vec<String> = on0.into_iter().chain(on1).collect();
    let extra = 10; // SETs of keys already set: calls, not new keys
    for k in &keys {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("v")
            .query(&mut con)
            .expect("SET");
    }
    for k in keys.iter().take(extra) {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("w")
            .query(&mut con)
            .expect("SET");
    }
    let sent = (keys.len() + extra) as f64;
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, keys.len() as i64);

    // The counters are read at scrape time; allow a published snapshot a
    // moment to catch up, but no more.
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let s = Scrape::parse(&scrape(&srv));
        let sets = s.sum("stairkv_commands_total", &[("command", "set")]);
        let keys_now = s.sum("stairkv_keys", &[]);
        if (sets - sets_before == sent && keys_now == dbsize as f64) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let sets = after.sum("stairkv_commands_total", &[("command", "set")]);
    assert_eq!(
        sets - sets_before,
        sent,
        "sum over cores of stairkv_commands_total{{command=\"set\"}} moved by {} for {sent} SETs (per core: {:?})",
        sets - sets_before,
        after
            .series("stairkv_commands_total")
            .filter(|s| s.labels.get("command").map(String::as_str) == Some("set"))
            .map(|s| (s.labels.get("core").cloned(), s.value))
            .collect::<Vec<_>>()
    );
    assert_eq!(sets_before, 0.0, "a fresh server had counted SETs");

    let keys_per_core = after.per_core("stairkv_keys");
    assert!(
        keys_per_core.contains_key("0") && keys_per_core.contains_key("1"),
        "stairkv_keys should have core=\"0\" and core=\"1\" series: {keys_per_core:?}"
    );
    assert_eq!(
        keys_per_core.len(),
        2,
        "stairkv_keys on a 2-core server: {keys_per_core:?}"
    );
    assert!(
        keys_per_core.values().all(|&n| n >= 25.0),
        "25 keys were set on each core: {keys_per_core:?}"
    );
    let total: f64 = keys_per_core.values().sum();
    assert_eq!(
        total, dbsize as f64,
        "sum of stairkv_keys {keys_per_core:?} vs DBSIZE {dbsize}"
    );

    // Every per-core family names cores 0 and 1 only.
    for name in [
        "stairkv_commands_total",
        "stairkv_keys",
        "stairkv_memory_used_bytes",
        "stairkv_shards",
    ] {
        let cores: BTreeSet<String> = after.per_core(name).into_keys().collect();
        assert!(
            cores.iter().all(|c| c == "0" || c == "1"),
            "{name}: core labels {cores:?} on a 2-core server"
        );
    }
    // Keys take memory, and each core owns shards.
    let mem = after.per_core("stairkv_memory_used_bytes");
    assert!(
        mem.values().all(|&b| b > 0.0),
        "stairkv_memory_used_bytes: {mem:?}"
    );
    let shards = after.per_core("stairkv_shards");
    assert!(
        shards.values().all(|&n| n >= 1.0),
        "stairkv_shards: {shards:?}"
    );
}
