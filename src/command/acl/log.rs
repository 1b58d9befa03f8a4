//! ACL LOG: the refusals of every core — commands, keys and channels a user
//! may not touch, and failed logins — newest first, at most
//! `acllog-max-len`. Like Redis, an entry repeating the last one of the same
//! reason, context, object and user within 60 s is counted rather than
//! added. One process-wide list, taken only when something is refused; it
//! never decides what is refused.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`.
const GROUPING: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Entry {
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    pub object: String,
    pub username: String,
    pub client_info: String,
    pub entry_id: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    updated: Instant,
}

static LOG: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static MAX_LEN: AtomicUsize = AtomicUsize::new(128);

fn log() -> std::sync::MutexGuard<'static, VecDeque<Entry>> {
    LOG.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `acllog-max-len`: the list is trimmed to it at once.
pub fn set_max_len(n: usize) {
    MAX_LEN.store(n, Ordering::Relaxed);
    log().truncate(n);
}

/// Record a refusal.
pub fn record(
    reason: &'static str,
    context: &'static str,
    object: String,
    username: String,
    client_info: String,
) {
    let max = MAX_LEN.load(Ordering::Relaxed);
    let mut log = log();
    let now = Instant::now();
    let same = log.iter().position(|e| {
        e.reason == reason
            && e.context == context
            && e.object == object
            && e.username == username
            && now.duration_since(e.updated) <= GROUPING
    });
    if let Some(i) = same {
        if let Some(mut e) = log.remove(i) {
            e.count += 1;
            e.updated = now;
            e.updated_ms = now_ms();
            e.client_info = client_info;
            log.push_front(e);
        }
        return;
    }
    let ms = now_ms();
    log.push_front(Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        client_info,
        entry_id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        created_ms: ms,
        updated_ms: ms,
        updated: now,
    });
    log.truncate(max);
}

/// The newest `count` entries (all when None).
pub fn entries(count: Option<usize>) -> Vec<Entry> {
    let log = log();
    log.iter()
        .take(count.unwrap_or(usize::MAX))
        .cloned()
        .collect()
}

pub fn reset() {
    log().clear();
}

impl Entry {
    /// Seconds since the entry was made, as Redis's `age-seconds`.
    pub fn age_seconds(&self) -> f64 {
        now_ms().saturating_sub(self.created_ms) as f64 / 1000.0
    }
}
