//! The settings' values: their defaults, and the parsers and printers of
//! Redis's spellings for them (sizes, save points, switches, output-buffer
//! limits, keyspace-event letters, `appendfsync`). Pure functions of text: no
//! knowledge of flags, files or the resolved [`super::Config`].

/// RESP port (Redis's).
pub const DEFAULT_PORT: u16 = 6379;
/// The seed's plain text protocol port.
pub const DEFAULT_TEXT_PORT: u16 = 7171;
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// Loopback only unless told otherwise, like a fresh Redis in protected mode.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Redis's `proto-max-bulk-len`.
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// Redis's `client-query-buffer-limit`.
pub const DEFAULT_QUERY_BUFFER_LIMIT: u64 = 1024 * 1024 * 1024;
/// Redis's cap on a multibulk request's element count.
pub const DEFAULT_MAX_MULTIBULK_LEN: u64 = 1024 * 1024 * 1024 - 1;
/// A shard splits when the average shard holds more keys than this: small enough
/// that one shard's table resize (a few thousand entries moved) is not a visible pause.
pub const DEFAULT_SHARD_MAX_KEYS: u64 = 4096;
/// Shards that exist at start (rounded up to a power of two and to at least the core count).
pub const DEFAULT_INITIAL_SHARDS: u64 = 1;
/// Entries moved per split batch before yielding to request serving.
pub const DEFAULT_SPLIT_BATCH: u64 = 256;
/// How often core 0's controller samples the cores and decides.
pub const DEFAULT_CONTROLLER_INTERVAL_MS: u64 = 100;
/// Entries a migration sends per batch (one batch in flight at a time).
pub const DEFAULT_MIGRATE_BATCH: u64 = 512;
/// Microseconds a core spins for the next request before it sleeps
/// (`runtime::busy_poll::set_busy_poll`), by default on a one-core server
/// only: spins across cores were measured slow only beside a stray busy
/// process, and the several-core default awaits a tested change (see
/// `runtime::busy_poll`).
pub const DEFAULT_BUSY_POLL_US: u64 = 20;
/// Redis's `busy-reply-threshold` default, in milliseconds.
pub const DEFAULT_BUSY_REPLY_THRESHOLD: u64 = 5000;
/// The controller moves shards off a core whose load exceeds the cores' mean by more than this (percent).
pub const DEFAULT_REBALANCE_THRESHOLD: u64 = 25;
/// Redis's `maxclients`.
pub const DEFAULT_MAXCLIENTS: u64 = 10_000;

/// Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`: a subscriber whose
/// unsent messages pass the hard limit, or the soft limit for the time, is closed.
pub const DEFAULT_PUBSUB_LIMIT: [u64; 3] = [32 * 1024 * 1024, 8 * 1024 * 1024, 60];
/// Redis's `client-output-buffer-limit normal 0 0 0`: no client is closed for
/// replies it does not read. The server stops reading from such a client
/// instead (see `net::door`), so its unsent replies stay bounded all the same.
pub const DEFAULT_NORMAL_LIMIT: [u64; 3] = [0, 0, 0];
/// Redis's `protected-mode yes`: with no password, only loopback clients are served.
pub const DEFAULT_PROTECTED_MODE: bool = true;
/// Keyspace events published by default: expired-key events (`E` keyevent, `x`
/// expired), so `SUBSCRIBE __keyevent@0__:expired` works with no configuration.
/// Redis's default is none.
pub const DEFAULT_NOTIFY_KEYSPACE_EVENTS: &str = "Ex";
/// Where snapshots are written and read, as Redis: the working directory.
pub const DEFAULT_DIR: &str = ".";
/// The snapshot's file name inside `dir`, as Redis.
pub const DEFAULT_DBFILENAME: &str = "dump.rdb";
/// The logs' folder inside `dir`, and their files' name stem, as Redis 7.
pub const DEFAULT_APPENDDIRNAME: &str = "appendonlydir";
pub const DEFAULT_APPENDFILENAME: &str = "appendonly.aof";
/// A log is rewritten once it grew this many percent over its size after the
/// last rewrite, and is at least `auto-aof-rewrite-min-size` (Redis's defaults).
pub const DEFAULT_AOF_REWRITE_PERCENTAGE: u64 = 100;
pub const DEFAULT_AOF_REWRITE_MIN_SIZE: u64 = 64 << 20;

/// Redis's `tcp-keepalive`, in seconds.
pub const DEFAULT_TCP_KEEPALIVE: u64 = 300;

/// Redis's `loglevel` name for a tracing level (`log-level`), and back.
pub fn redis_loglevel(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "trace" | "debug" => "debug",
        "warn" => "warning",
        "error" | "off" => "nothing",
        _ => "notice",
    }
}

pub fn loglevel_from_redis(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Some("debug"),
        "verbose" => Some("debug"),
        "notice" => Some("info"),
        "warning" => Some("warn"),
        "nothing" => Some("error"),
        _ => None,
    }
}

/// Redis's `slowlog-log-slower-than` (microseconds) and `slowlog-max-len`.
pub const DEFAULT_SLOWLOG_SLOWER_THAN: i64 = 10_000;
pub const DEFAULT_SLOWLOG_MAX_LEN: u64 = 128;
/// Redis's `tracking-table-max-keys`.
pub const DEFAULT_TRACKING_TABLE_MAX_KEYS: u64 = 1_000_000;
/// Redis's `acllog-max-len`.
pub const DEFAULT_ACLLOG_MAX_LEN: u64 = 128;

/// `acl-pubsub-default`: whether new users get every channel.
pub fn parse_acl_pubsub_default(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "allchannels" => Ok(true),
        "resetchannels" => Ok(false),
        _ => Err("argument(s) must be one of the following: allchannels, resetchannels".into()),
    }
}
/// Redis's `latency-tracking-info-percentiles`.
pub const DEFAULT_LATENCY_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// `latency-tracking-info-percentiles`: numbers from 0 to 100 apart by spaces
/// (none at all is allowed: INFO then shows no percentile).
pub fn parse_percentiles(s: &str) -> Result<Vec<f64>, String> {
    s.split_whitespace()
        .map(|w| match w.parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            _ => Err(format!("'{w}' is not a percentile between 0 and 100")),
        })
        .collect()
}

/// How INFO and CONFIG GET print a percentile: `50`, `99.9`.
pub fn percentile_string(p: f64) -> String {
    let s = format!("{p}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// When a core's log is synced to the disk (Redis's `appendfsync`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fsync {
    /// Before the reply of every write (group commit: one sync a ring turn).
    Always,
    /// At least once a second.
    #[default]
    EverySec,
    /// When the kernel decides.
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// A file or folder name inside `dir`, never a path (Redis's rule).
pub fn check_file_name(what: &str, name: String) -> Result<String, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("{what} can't be a path, just a filename"));
    }
    Ok(name)
}

/// Save points in Redis's syntax: pairs of "seconds changes", space separated;
/// "" is none.
pub fn parse_save_points(text: &str) -> Result<Vec<(u64, u64)>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    words
        .chunks(2)
        .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
            (Ok(secs), Ok(changes)) if secs > 0 => Ok((secs, changes)),
            _ => Err("Invalid save parameters".into()),
        })
        .collect()
}

/// Save points as Redis's CONFIG GET writes them.
pub fn save_points_string(points: &[(u64, u64)]) -> String {
    points
        .iter()
        .map(|(s, c)| format!("{s} {c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `dbfilename` names a file inside `dir`, never a path (Redis's rule and text).
pub fn check_dbfilename(name: String) -> Result<String, String> {
    check_file_name("dbfilename", name)
}

/// `on`/`off` (also `yes`/`no`, as Redis's boolean settings read).
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("'{s}' is not on or off")),
    }
}

/// A size as Redis's `memtoll` reads it: digits with an optional unit
/// b, k (1000), kb (1024), m, mb, g, gb — case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// "HARD SOFT SECONDS" of an output buffer limit class (normal, pubsub).
pub fn parse_output_limit(s: &str) -> Result<[u64; 3], String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [hard, soft, secs] = parts[..] else {
        return Err(format!("expected \"HARD SOFT SECONDS\", got '{s}'"));
    };
    let size = |v: &str| parse_memory(v).ok_or_else(|| format!("'{v}' is not a size"));
    let secs: u64 = secs
        .parse()
        .map_err(|_| format!("'{secs}' is not a number of seconds"))?;
    Ok([size(hard)?, size(soft)?, secs])
}

/// Keyspace-notification classes, as bits (Redis's NOTIFY_* values).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// `A`: every class but m and n.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Redis's `keyspaceEventsStringToFlags`; `None` for an unknown letter.
pub fn parse_keyspace_events(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => notify::ALL,
            'g' => notify::GENERIC,
            '$' => notify::STRING,
            'l' => notify::LIST,
            's' => notify::SET,
            'h' => notify::HASH,
            'z' => notify::ZSET,
            'x' => notify::EXPIRED,
            'e' => notify::EVICTED,
            'K' => notify::KEYSPACE,
            'E' => notify::KEYEVENT,
            't' => notify::STREAM,
            'm' => notify::KEY_MISS,
            'd' => notify::MODULE,
            'n' => notify::NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Redis's `keyspaceEventsFlagsToString`: what CONFIG GET shows.
pub fn keyspace_events_string(f: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (KEYSPACE, 'K'),
        (KEYEVENT, 'E'),
        (KEY_MISS, 'm'),
        (NEW, 'n'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// `appendfsync` as a flag or file value, with the error a user sees.
pub(super) fn parse_fsync_flag(s: &str) -> Result<Fsync, String> {
    Fsync::parse(s).ok_or_else(|| format!("'{s}': expected always, everysec or no"))
}

/// A size as a flag or file value, with the error a user sees.
pub(super) fn parse_memory_flag(s: &str) -> Result<u64, String> {
    parse_memory(s)
        .ok_or_else(|| format!("'{s}' is not a size (a number with b, k, kb, m, mb, g or gb)"))
}
