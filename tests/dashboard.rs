//! The dashboard at `/` in a real browser: headless Chromium driven over the
//! W3C WebDriver protocol (tests/common/webdriver.rs). It shows one row per
//! core and one staircase cell per shard, follows a migration made over RESP,
//! sets and finds keys through the key browser, streams keyspace events, stays
//! free of console errors under load, and asks for the password of a server
//! that has one. Skipped without chromium and chromedriver unless
//! STAIRKV_REQUIRE_BROWSER=1; with STAIRKV_SCREENSHOT_DIR set, the screenshot
//! under load is written there as `dashboard.png`.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use common::{shard_rows, Server};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use webdriver::{LogEntry, WebDriver};

/// What the page shows while a wait is failing.
fn page_state(wd: &WebDriver) -> String {
    let v = wd.execute(
        "const t = (s) => { const e = document.querySelector(s); return e ? e.textContent : null; };
         return {status: t('#status'), kb_status: t('#kb-status'), auth_error: t('#auth-error'),
                 cores: [...document.querySelectorAll('#cores .core')].map((e) => e.dataset.core),
                 shards: [...document.querySelectorAll('#staircase .shard')].map((e) => e.dataset.shard + '@c' + e.dataset.core),
                 events: [...document.querySelectorAll('#events .event')].slice(0, 10).map((e) => e.textContent),
                 kb_list: [...document.querySelectorAll('#kb-list .kb-item')].map((e) => e.dataset.key)};",
        &[],
    );
    format!("page: {v}")
}

fn wait_live(wd: &WebDriver) {
    wd.wait_for(
        "#status to read live",
        Duration::from_secs(15),
        |wd| wd.text("#status").contains("live").then_some(()),
        page_state,
    );
}

fn severe(log: &[LogEntry]) -> Vec<&LogEntry> {
    log.iter().filter(|e| e.level == "SEVERE").collect()
}

/// The page's staircase cells as (shard, core).
fn page_shards(wd: &WebDriver) -> BTreeSet<(i64, i64)> {
    let v = wd.execute(
        "return [...document.querySelectorAll('#staircase .shard')].map((e) => [+e.dataset.shard, +e.dataset.core]);",
        &[],
    );
    v.as_array()
        .expect("cells")
        .iter()
        .map(|p| (p[0].as_i64().expect("shard"), p[1].as_i64().expect("core")))
        .collect()
}

/// A line of `#events` containing `needle`, if any.
fn event_line(wd: &WebDriver, needle: &str) -> Option<String> {
    let v = wd.execute(
        "const e = [...document.querySelectorAll('#events .event')].find((e) => e.textContent.includes(arguments[0]));
         return e ? e.textContent : null;",
        &[json!(needle)],
    );
    v.as_str().map(str::to_owned)
}

#[test]
fn dashboard_shows_the_cores_the_staircase_events_and_the_key_browser() {
    let Some(wd) = WebDriver::start() else { return };
    let srv = Server::start(2, &["--notify-keyspace-events", "KEA"]);
    let mut con = srv.client();
    let began = Instant::now();

    // 1. Live, and a clean console.
    wd.goto(&format!("{}/", srv.http()));
    wait_live(&wd);
    // The events socket is subscribed (its psubscribe confirmation is a line).
    wd.wait_for(
        "the events socket's psubscribe",
        Duration::from_secs(10),
        |wd| event_line(wd, "psubscribe __keyevent@0__:*"),
        page_state,
    );
    let log = wd.console();
    assert!(severe(&log).is_empty(), "console errors on load: {log:#?}");

    // 2. One row per core; one cell per shard, as STAIRKV SHARDS lists them.
    let cores = wd.execute(
        "return [...document.querySelectorAll('#cores .core')].map((e) => e.dataset.core);",
        &[],
    );
    assert_eq!(cores, json!(["0", "1"]), "#cores .core rows");
    let want = || -> BTreeSet<(i64, i64)> {
        let mut c = srv.client();
        shard_rows(&mut c)
            .iter()
            .map(|r| (r.shard, r.core))
            .collect()
    };
    let (shards, cells) = wd.wait_for(
        "the staircase to show STAIRKV SHARDS",
        Duration::from_secs(5),
        |wd| {
            let (w, p) = (want(), page_shards(wd));
            (w == p).then_some((w, p))
        },
        |wd| format!("STAIRKV SHARDS {:?}; {}", want(), page_state(wd)),
    );
    assert!(!shards.is_empty(), "no shards");
    assert_eq!(wd.count("#staircase .shard"), shards.len());
    assert_eq!(cells.len(), shards.len());

    // 3. A migration over RESP shows within 2 s of the command's reply. The
    // server holds no keys yet, so the controller (autoscale is on) has no load
    // to even out and leaves the shard where MIGRATE put it; once keys arrive
    // (step 4) it moves it back, which the staircase shows too.
    let rows = shard_rows(&mut con);
    let shard = rows
        .iter()
        .find(|r| r.core == 0)
        .unwrap_or_else(|| panic!("no shard on core 0: {rows:?}"))
        .shard;
    let _: () = redis::cmd("STAIRKV")
        .arg("MIGRATE")
        .arg(shard)
        .arg(1)
        .query(&mut con)
        .unwrap_or_else(|e| panic!("STAIRKV MIGRATE {shard} 1: {e}"));
    let migrated = Instant::now();
    let cell = format!("#staircase .shard[data-shard=\"{shard}\"]");
    wd.wait_for(
        &format!("shard {shard} on core 1 in the staircase"),
        Duration::from_secs(2),
        |wd| {
            let core = wd.execute(
                "const e = document.querySelector(arguments[0]); return e ? e.dataset.core : null;",
                &[json!(cell)],
            );
            (core == json!("1")).then_some(())
        },
        page_state,
    );
    eprintln!("migration shown {:?} after the reply", migrated.elapsed());
    assert!(
        shard_rows(&mut con)
            .iter()
            .any(|r| r.shard == shard && r.core == 1),
        "STAIRKV SHARDS: shard {shard} not on core 1 after MIGRATE"
    );

    // 4. The key browser: set a key, read it over RESP, find it by pattern.
    let _: () = redis::cmd("SET")
        .arg("other:key")
        .arg("x")
        .query(&mut con)
        .expect("SET other:key");
    wd.type_into("#kb-key", "browser:key");
    wd.type_into("#kb-value", "from the browser");
    wd.click("#kb-set");
    wd.wait_for(
        "#kb-status to say saved",
        Duration::from_secs(5),
        |wd| wd.text("#kb-status").contains("saved").then_some(()),
        page_state,
    );
    let got: Option<String> = redis::cmd("GET")
        .arg("browser:key")
        .query(&mut con)
        .expect("GET browser:key");
    assert_eq!(got.as_deref(), Some("from the browser"));
    // The set is a keyspace event too.
    wd.wait_for(
        "a set browser:key event",
        Duration::from_secs(3),
        |wd| event_line(wd, "set browser:key"),
        page_state,
    );
    wd.type_into("#kb-match", "browser:*");
    wd.click("#kb-search");
    let listed = wd.wait_for(
        "browser:key in the key list",
        Duration::from_secs(5),
        |wd| {
            wd.try_find(".kb-item[data-key=\"browser:key\"]")?;
            let keys = wd.execute(
                "return [...document.querySelectorAll('#kb-list .kb-item')].map((e) => e.dataset.key);",
                &[],
            );
            Some(keys)
        },
        page_state,
    );
    assert_eq!(listed, json!(["browser:key"]), "#kb-list for browser:*");

    // 5. An expiry reaches the events panel within 3 s.
    let _: () = redis::cmd("SET")
        .arg("expiring:key")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query(&mut con)
        .expect("SET expiring:key PX 300");
    let set_at = Instant::now();
    let line = wd.wait_for(
        "expired expiring:key in #events",
        Duration::from_secs(3),
        |wd| event_line(wd, "expired expiring:key"),
        page_state,
    );
    eprintln!("expiry shown {:?} after the SET: {line}", set_at.elapsed());

    // 6. Under load: the page keeps up, a screenshot, still a clean console.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, mut c) = (stop.clone(), srv.client());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut ops = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(20) {
                let k = format!("load:{}", i % 5000);
                let _: () = redis::cmd("SET")
                    .arg(&k)
                    .arg(i)
                    .query(&mut c)
                    .expect("load SET");
                let v: Option<u64> = redis::cmd("GET").arg(&k).query(&mut c).expect("load GET");
                assert_eq!(v, Some(i));
                ops += 2;
                i += 1;
            }
            ops
        })
    };
    let load_began = Instant::now();
    // The header's ops/s shows the load (a tick a second).
    wd.wait_for(
        "#h-ops to show the load",
        Duration::from_secs(5),
        |wd| {
            let t = wd.text("#h-ops");
            (!t.is_empty() && t != "0" && t != "–").then_some(t)
        },
        page_state,
    );
    // A few seconds of history on the charts, polling that the page stays live.
    while load_began.elapsed() < Duration::from_secs(3) {
        assert!(
            wd.text("#status").contains("live"),
            "not live under load: {}",
            page_state(&wd)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let png = wd.screenshot_png();
    stop.store(true, Ordering::Relaxed);
    let ops = load.join().expect("load thread");
    assert!(ops > 0);
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert!(w >= 1000 && h >= 600, "screenshot {w}x{h}");
    eprintln!(
        "screenshot {w}x{h}, {} bytes; load did {ops} commands",
        png.len()
    );
    if let Some(dir) = std::env::var_os("STAIRKV_SCREENSHOT_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join("dashboard.png");
        std::fs::write(&path, &png).expect("write the screenshot");
        eprintln!("wrote {}", path.display());
    }
    wait_live(&wd);
    let log = wd.console();
    assert!(severe(&log).is_empty(), "console errors: {log:#?}");
    eprintln!("dashboard test took {:?}", began.elapsed());
}

#[test]
fn dashboard_asks_for_the_password() {
    let Some(wd) = WebDriver::start() else { return };
    let srv = Server::start(2, &["--requirepass", "pw"]);

    wd.goto(&format!("{}/", srv.http()));
    wd.wait_for(
        "the password dialog",
        Duration::from_secs(10),
        |wd| wd.displayed("#auth-dialog").then_some(()),
        page_state,
    );
    let status = wd.text("#status");
    assert!(
        status.contains("password required"),
        "#status before the password: {status:?}"
    );

    // A wrong password: an error, the dialog stays.
    wd.type_into("#auth-password", "not-the-password");
    wd.click("#auth-submit");
    let err = wd.wait_for(
        "#auth-error to show an error",
        Duration::from_secs(5),
        |wd| {
            let t = wd.text("#auth-error");
            (!t.trim().is_empty()).then_some(t)
        },
        page_state,
    );
    assert!(err.contains("wrong password"), "#auth-error: {err:?}");
    assert!(
        wd.displayed("#auth-dialog"),
        "the dialog hid after a wrong password"
    );
    assert_eq!(
        wd.count("#cores .core"),
        0,
        "stats shown without the password"
    );
    assert!(
        !wd.console()
            .iter()
            .any(|e| e.message.contains("token=not-the-password")),
        "a socket was opened with the wrong password"
    );
    assert_eq!(
        wd.execute("return sessionStorage.getItem('stairkv.token')", &[]),
        serde_json::Value::Null,
        "the wrong password was kept"
    );

    // The right one: the dialog goes, the stats come.
    wd.type_into("#auth-password", "pw");
    wd.click("#auth-submit");
    wd.wait_for(
        "the password dialog to hide",
        Duration::from_secs(5),
        |wd| (!wd.displayed("#auth-dialog")).then_some(()),
        page_state,
    );
    wait_live(&wd);
    wd.wait_for(
        "two #cores .core rows",
        Duration::from_secs(5),
        |wd| (wd.count("#cores .core") == 2).then_some(()),
        page_state,
    );
    // The 401s of the first load and the wrong password are logged as failed
    // requests; nothing may have thrown.
    let log = wd.console();
    let thrown: Vec<_> = log
        .iter()
        .filter(|e| e.message.contains("Uncaught"))
        .collect();
    assert!(thrown.is_empty(), "JavaScript exceptions: {log:#?}");
    eprintln!("console with a password: {log:#?}");
}
