//! A small W3C WebDriver client for browser tests: starts Debian's
//! `chromedriver` on a free loopback port, opens one headless Chromium session
//! (a fresh profile directory each time) and speaks the protocol's JSON over
//! plain HTTP with `ureq`. Dropping it ends the session (chromedriver closes
//! the browser), kills chromedriver and removes the profile.
//!
//! Endpoints used: `GET /status` (readiness), `POST /session`,
//! `DELETE /session/{id}`, `POST .../url`, `POST .../execute/sync`,
//! `POST .../element` and `.../elements` (CSS selectors),
//! `POST .../element/{e}/click`, `.../clear`, `.../value` (typing),
//! `GET .../element/{e}/displayed`, `GET .../screenshot` and chromedriver's
//! own `POST .../se/log` (`{"type": "browser"}`: the console entries since the
//! last call, which it then forgets; kept here in `console`).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One entry of the browser's console (chromedriver's log format).
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// SEVERE, WARNING, INFO, DEBUG.
    pub level: String,
    /// `console-api`, `javascript` (uncaught exceptions), `network`, ...
    pub source: String,
    pub message: String,
}

/// An error the driver answered (`{"value": {"error", "message"}}`) or a
/// transport failure (`error` = "transport").
#[derive(Debug, Clone)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The first line: chromedriver appends a native stack trace.
        let first = self.message.lines().next().unwrap_or("");
        write!(f, "{}: {first}", self.error)
    }
}

/// A found element (its W3C reference).
#[derive(Debug, Clone)]
pub struct Element(pub String);

pub struct WebDriver {
    child: Option<Child>,
    base: String,
    session: Option<String>,
    agent: ureq::Agent,
    dir: PathBuf,
    console: RefCell<Vec<LogEntry>>,
}

/// A port free at the time of asking (chromedriver is retried on another one
/// if something takes it first).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl WebDriver {
    /// Chromium and chromedriver are both installed. When they are not, the
    /// caller skips its test (an `eprintln`) — unless STAIRKV_REQUIRE_BROWSER
    /// is `1`, when that is a failure.
    pub fn available() -> bool {
        let have = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
        if !have {
            assert!(
                std::env::var("STAIRKV_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "STAIRKV_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no {CHROMIUM} or {CHROMEDRIVER}");
        }
        have
    }

    /// Start chromedriver and open a headless Chromium session; `None` (after
    /// saying so) when the browser is not installed.
    pub fn start() -> Option<WebDriver> {
        if !Self::available() {
            return None;
        }
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("stairkv-chromium-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("profile")).expect("browser temp dir");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut wd = WebDriver {
            child: None,
            base: String::new(),
            session: None,
            agent,
            dir,
            console: RefCell::new(Vec::new()),
        };
        for _attempt in 0..5 {
            let port = free_port();
            let log = File::create(wd.dir.join("chromedriver.log")).expect("chromedriver log");
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {CHROMEDRIVER}: {e}"));
            wd.child = Some(child);
            wd.base = format!("http://127.0.0.1:{port}");
            if wd.wait_ready(Duration::from_secs(20)) {
                break;
            }
            wd.stop_driver();
        }
        assert!(
            wd.child.is_some(),
            "chromedriver did not become ready: {}",
            wd.driver_log()
        );
        let profile = wd.dir.join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1400,900",
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = wd
            .call("POST", "/session", Some(caps))
            .unwrap_or_else(|e| panic!("new session: {e}\n{}", wd.driver_log()));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_owned();
        wd.session = Some(id);
        Some(wd)
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false; // exited: the port was taken, most likely
                }
            }
            if let Ok(v) = self.call("GET", "/status", None) {
                if v["ready"] == true {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }

    fn stop_driver(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One command: the reply's `value`, or the driver's error.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.base);
        let req = self.agent.request(method, &url);
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/json; charset=utf-8")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return Err(WdError {
                    error: "transport".into(),
                    message: format!("{method} {url}: {e}"),
                })
            }
        };
        let status = resp.status();
        let text = resp.into_string().map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{method} {url}: reading the reply: {e}"),
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{method} {url}: HTTP {status}, not JSON ({e}): {text}"),
        })?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status >= 400 {
            return Err(WdError {
                error: value["error"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
                message: value["message"].as_str().unwrap_or(&text).to_owned(),
            });
        }
        Ok(value)
    }

    fn session_path(&self, rest: &str) -> String {
        format!(
            "/session/{}{rest}",
            self.session.as_deref().expect("a session")
        )
    }

    /// A command of this session; panics (naming it) on an error.
    fn s(&self, method: &str, rest: &str, body: Option<Value>) -> Value {
        self.try_s(method, rest, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {rest}: {e}"))
    }

    fn try_s(&self, method: &str, rest: &str, body: Option<Value>) -> Result<Value, WdError> {
        self.call(method, &self.session_path(rest), body)
    }

    /// Navigate and wait for the load event (the page-load strategy "normal").
    pub fn goto(&self, url: &str) {
        self.s("POST", "/url", Some(json!({ "url": url })));
    }

    /// Run `script` (a function body: `arguments[i]`, `return ...`) in the page.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.s(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The first element matching a CSS selector, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        match self.try_s(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        ) {
            Ok(v) => Some(Element(v[ELEMENT].as_str().expect("element id").to_owned())),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("WebDriver find {css}: {e}"),
        }
    }

    pub fn find(&self, css: &str) -> Element {
        self.try_find(css)
            .unwrap_or_else(|| panic!("no element matches {css}"))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.s(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .expect("elements")
            .iter()
            .map(|e| Element(e[ELEMENT].as_str().expect("element id").to_owned()))
            .collect()
    }

    /// Click as a user would (scrolled into view; an error if covered).
    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.s("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Empty an input, then type `text` into it key by key.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.s("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.s(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Whether the element is rendered visibly (WebDriver's "displayed").
    pub fn displayed(&self, css: &str) -> bool {
        let e = self.find(css);
        self.s("GET", &format!("/element/{}/displayed", e.0), None)
            .as_bool()
            .expect("displayed is a boolean")
    }

    /// `textContent` of the first match ("" when nothing matches).
    pub fn text(&self, css: &str) -> String {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            &[json!(css)],
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// How many elements match a CSS selector.
    pub fn count(&self, css: &str) -> usize {
        self.execute(
            "return document.querySelectorAll(arguments[0]).length;",
            &[json!(css)],
        )
        .as_u64()
        .expect("a count") as usize
    }

    /// The viewport as a PNG.
    pub fn screenshot_png(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.s("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .expect("screenshot is base64")
    }

    /// Every console entry since the session began (chromedriver hands each
    /// out once, so they are collected here).
    pub fn console(&self) -> Vec<LogEntry> {
        let v = self.s("POST", "/se/log", Some(json!({"type": "browser"})));
        let mut all = self.console.borrow_mut();
        for e in v.as_array().expect("log entries") {
            all.push(LogEntry {
                level: e["level"].as_str().unwrap_or("").to_owned(),
                source: e["source"].as_str().unwrap_or("").to_owned(),
                message: e["message"].as_str().unwrap_or("").to_owned(),
            });
        }
        all.clone()
    }

    /// Poll `probe` until it gives `Some` or `limit` passes; on time-out
    /// panic with `what` and the last thing `state` reported.
    pub fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut probe: impl FnMut(&WebDriver) -> Option<T>,
        state: impl Fn(&WebDriver) -> String,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {what}; {}\nconsole: {:#?}",
                    state(self),
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            // Closes the browser; chromedriver waits for it to go.
            let _ = self.call("DELETE", &format!("/session/{id}"), None);
        }
        self.stop_driver();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
