//! Configuration: command-line flags and an optional TOML file whose keys match
//! the flags (`--text-port` ↔ `text-port`). Flags win over the file; the file
//! wins over the defaults named here, among them the eviction [`Policy`] the
//! user chose (its names and parsing; what each policy does is
//! `storage::policy` and `storage::evict`). Nothing here starts anything, and
//! this is the bottom floor: it never imports from the rest of the crate.

use clap::Parser;
use serde::Deserialize;
use std::path::PathBuf;

/// RESP port (Redis's).
pub const DEFAULT_PORT: u16 = 6379;
/// The seed's plain text protocol port.
pub const DEFAULT_TEXT_PORT: u16 = 7171;
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

fn parse_fsync_flag(s: &str) -> Result<Fsync, String> {
    Fsync::parse(s).ok_or_else(|| format!("'{s}': expected always, everysec or no"))
}

/// A file or folder name inside `dir`, never a path (Redis's rule).
pub fn check_file_name(what: &str, name: String) -> Result<String, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("{what} can't be a path, just a filename"));
    }
    Ok(name)
}

/// How connections' bytes move: see `runtime` for why the ring is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketPath {
    /// One io_uring per core with SINGLE_ISSUER + COOP_TASKRUN (Linux 6.0+);
    /// falls back to `stream` when the kernel refuses it.
    #[default]
    Ring,
    /// glommio's own TcpStream.
    Stream,
}

#[derive(Parser, Debug, Clone, Default)]
#[command(
    name = "stairkv",
    version,
    about = "Thread-per-core Redis-protocol key-value store on glommio and io_uring"
)]
pub struct Flags {
    /// TOML config file; its keys match these flags (e.g. `text-port = 7171`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    pub bind: Option<String>,
    /// RESP port; 0 turns RESP off [default: 6379].
    #[arg(long)]
    pub port: Option<u16>,
    /// Plain text protocol port; 0 turns it off [default: 7171].
    #[arg(long)]
    pub text_port: Option<u16>,
    /// Number of cores (one pinned executor each) [default: every CPU in the affinity mask].
    #[arg(long)]
    pub cores: Option<usize>,
    /// Require clients to AUTH with this password.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Log level: error, warn, info, debug, trace [default: info].
    #[arg(long)]
    pub log_level: Option<String>,
    /// Largest bulk string a client may send [default: 536870912].
    #[arg(long)]
    pub proto_max_bulk_len: Option<u64>,
    /// Largest unparsed input buffered per client [default: 1073741824].
    #[arg(long)]
    pub client_query_buffer_limit: Option<u64>,
    /// Largest multibulk element count [default: 1073741823].
    #[arg(long)]
    pub max_multibulk_len: Option<u64>,
    /// Maximum simultaneous clients per server [default: 10000].
    #[arg(long)]
    pub maxclients: Option<u64>,
    /// Staircase: split when the average shard holds more keys than this [default: 4096].
    #[arg(long)]
    pub shard_max_keys: Option<u64>,
    /// Staircase: shards at start [default: 1, raised to the core count].
    #[arg(long)]
    pub initial_shards: Option<u64>,
    /// Staircase: entries moved per split batch before yielding [default: 256].
    #[arg(long)]
    pub split_batch: Option<u64>,
    /// Staircase: controller check interval in ms [default: 100].
    #[arg(long)]
    pub controller_interval_ms: Option<u64>,
    /// Staircase: let the controller split, merge and migrate shards by itself: on or off [default: on].
    #[arg(long, value_parser = parse_switch)]
    pub autoscale: Option<bool>,
    /// Staircase: merge the last step when the average shard holds fewer keys than this
    /// (must be under half of shard-max-keys) [default: a quarter of shard-max-keys].
    #[arg(long)]
    pub shard_min_keys: Option<u64>,
    /// Staircase: entries per migration batch [default: 512].
    #[arg(long)]
    pub migrate_batch: Option<u64>,
    /// Staircase: rebalance when a core's load exceeds the mean by this many percent [default: 25].
    #[arg(long)]
    pub rebalance_threshold: Option<u64>,
    /// Pub/sub output buffer limit: "HARD SOFT SECONDS", sizes with units
    /// (b, k, kb, m, mb, g, gb) [default: "32mb 8mb 60"].
    #[arg(long)]
    pub client_output_buffer_limit_pubsub: Option<String>,
    /// Output buffer limit of normal clients (RESP and text): "HARD SOFT SECONDS";
    /// 0 disables a limit. The server stops reading from a client that does not
    /// read its replies either way [default: "0 0 0"].
    #[arg(long)]
    pub client_output_buffer_limit_normal: Option<String>,
    /// Protected mode: with no password set, refuse clients that do not come
    /// from loopback (yes/no) [default: yes].
    #[arg(long, value_parser = parse_switch)]
    pub protected_mode: Option<bool>,
    /// Keyspace notifications, Redis's flag letters (K E g $ x e n t m d A) [default: "Ex"].
    #[arg(long)]
    pub notify_keyspace_events: Option<String>,
    /// Memory limit for the data, with units (b, k, kb, m, mb, g, gb); 0 = no limit.
    /// Over it, the policy evicts (a cache) or writes are refused (a database) [default: 0].
    #[arg(long, value_parser = parse_memory_flag)]
    pub maxmemory: Option<u64>,
    /// What to do at maxmemory: noeviction (a database: writes get OOM errors),
    /// allkeys-s3fifo, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru,
    /// volatile-lfu, volatile-random, volatile-ttl [default: allkeys-s3fifo].
    #[arg(long, value_parser = parse_policy_flag)]
    pub maxmemory_policy: Option<Policy>,
    /// Keys sampled per eviction by the LRU, LFU and TTL policies [default: 5].
    #[arg(long)]
    pub maxmemory_samples: Option<u64>,
    /// How connections' bytes move: `ring` (a per-core io_uring) or `stream`
    /// (glommio's TcpStream) [default: ring].
    #[arg(long, value_enum)]
    pub socket_path: Option<SocketPath>,
    /// Directory of the snapshot file (read at start, written by SAVE) [default: "."].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// File name of the snapshot inside --dir, in Redis's RDB format [default: dump.rdb].
    #[arg(long)]
    pub dbfilename: Option<String>,
    /// Save points, Redis's syntax: "SECONDS CHANGES [SECONDS CHANGES ...]" —
    /// BGSAVE when at least CHANGES keys changed and SECONDS passed since the
    /// last save; SIGTERM and SHUTDOWN save too when any is set [default: "" (none)].
    #[arg(long)]
    pub save: Option<String>,
    /// Log every write to per-core append-only logs under --dir/--appenddirname,
    /// replayed at start (yes|no) [default: no].
    #[arg(long, value_parser = parse_switch)]
    pub appendonly: Option<bool>,
    /// When the logs are synced: always (before a write's reply, one sync per
    /// ring turn), everysec, no [default: everysec].
    #[arg(long, value_parser = parse_fsync_flag)]
    pub appendfsync: Option<Fsync>,
    /// The logs' folder inside --dir [default: appendonlydir].
    #[arg(long)]
    pub appenddirname: Option<String>,
    /// The logs' file name stem [default: appendonly.aof].
    #[arg(long)]
    pub appendfilename: Option<String>,
    /// Rewrite the logs once they grew this many percent over their size after
    /// the last rewrite; 0 = never by itself [default: 100].
    #[arg(long)]
    pub auto_aof_rewrite_percentage: Option<u64>,
    /// ...and are at least this big, with units [default: 64mb].
    #[arg(long, value_parser = parse_memory_flag)]
    pub auto_aof_rewrite_min_size: Option<u64>,
    /// At start, drop a log's torn last record with a warning (yes) or refuse
    /// to start (no) [default: yes].
    #[arg(long, value_parser = parse_switch)]
    pub aof_load_truncated: Option<bool>,
    /// A tool to run instead of the server.
    #[command(subcommand)]
    pub tool: Option<Tool>,
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

/// `stairkv TOOL ...`: what the binary runs instead of serving.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// Check an append-only log: its records, its last position, the first bad
    /// offset. Exits 0 when the file reads to its end (or was fixed), 1 when it
    /// is torn or corrupt, 2 when it cannot be read.
    Check {
        /// The file to check.
        file: PathBuf,
        /// Truncate a torn or corrupt log to its last good record (as
        /// redis-check-aof --fix), saying how many bytes go.
        #[arg(long)]
        fix: bool,
    },
}

/// The file form: same names as the flags, kebab-case.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    port: Option<u16>,
    text_port: Option<u16>,
    cores: Option<usize>,
    requirepass: Option<String>,
    log_level: Option<String>,
    proto_max_bulk_len: Option<u64>,
    client_query_buffer_limit: Option<u64>,
    max_multibulk_len: Option<u64>,
    maxclients: Option<u64>,
    shard_max_keys: Option<u64>,
    initial_shards: Option<u64>,
    client_output_buffer_limit_pubsub: Option<String>,
    client_output_buffer_limit_normal: Option<String>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    protected_mode: Option<bool>,
    notify_keyspace_events: Option<String>,
    split_batch: Option<u64>,
    controller_interval_ms: Option<u64>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    autoscale: Option<bool>,
    shard_min_keys: Option<u64>,
    migrate_batch: Option<u64>,
    rebalance_threshold: Option<u64>,
    socket_path: Option<SocketPath>,
    dir: Option<PathBuf>,
    dbfilename: Option<String>,
    save: Option<String>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    appendonly: Option<bool>,
    appendfsync: Option<String>,
    appenddirname: Option<String>,
    appendfilename: Option<String>,
    auto_aof_rewrite_percentage: Option<u64>,
    auto_aof_rewrite_min_size: Option<SizeValue>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    aof_load_truncated: Option<bool>,
    maxmemory: Option<SizeValue>,
    maxmemory_policy: Option<String>,
    maxmemory_samples: Option<u64>,
}

/// A size in the config file: a number of bytes, or text with a unit ("100mb").
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

fn parse_memory_flag(s: &str) -> Result<u64, String> {
    parse_memory(s)
        .ok_or_else(|| format!("'{s}' is not a size (a number with b, k, kb, m, mb, g or gb)"))
}

/// The `maxmemory-policy` the user chose: its Redis names and how they parse.
/// What each policy records and evicts is `storage::policy` and `storage::evict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    AllKeysS3Fifo,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

/// The policy a cache gets unless told otherwise.
pub const DEFAULT_POLICY: Policy = Policy::AllKeysS3Fifo;
/// Redis's `maxmemory-samples` default.
pub const DEFAULT_SAMPLES: usize = 5;

impl Policy {
    pub const ALL: [Policy; 9] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::AllKeysS3Fifo,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::AllKeysS3Fifo => "allkeys-s3fifo",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Every policy's name, comma-separated (for error messages).
    pub fn names() -> String {
        let names: Vec<_> = Policy::ALL.iter().map(|p| p.name()).collect();
        names.join(", ")
    }

    /// Case-insensitive, as Redis's enum configs are.
    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Only keys with a deadline may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

fn parse_policy_flag(s: &str) -> Result<Policy, String> {
    Policy::parse(s).ok_or_else(|| format!("'{s}' is not a maxmemory policy ({})", Policy::names()))
}

/// The resolved configuration every core starts from.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub text_port: u16,
    pub cores: Vec<usize>,
    pub requirepass: Option<String>,
    pub log_level: String,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub max_multibulk_len: u64,
    pub maxclients: u64,
    pub shard_max_keys: u64,
    pub initial_shards: u64,
    pub split_batch: u64,
    pub controller_interval_ms: u64,
    pub autoscale: bool,
    pub shard_min_keys: u64,
    pub migrate_batch: u64,
    pub rebalance_threshold: u64,
    pub socket_path: SocketPath,
    pub config_file: Option<PathBuf>,
    /// Hard bytes, soft bytes, soft seconds (0 disables a limit).
    pub pubsub_limit: [u64; 3],
    /// The same for normal clients of every door.
    pub normal_limit: [u64; 3],
    pub protected_mode: bool,
    /// Keyspace-notification classes ([`notify`] bits).
    pub notify_keyspace_events: u32,
    /// Bytes of data the server may hold (0: no limit), and what happens there.
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub maxmemory_samples: u64,
    /// The snapshot: `dir`/`dbfilename`.
    pub dir: PathBuf,
    pub dbfilename: String,
    /// Save points: (seconds, changes), as `save` in redis.conf.
    pub save: Vec<(u64, u64)>,
    /// The per-core logs: on or off, when synced, where (`dir`/`appenddirname`,
    /// files named from `appendfilename`), when rewritten, how a torn tail is met.
    pub appendonly: bool,
    pub appendfsync: Fsync,
    pub appenddirname: String,
    pub appendfilename: String,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// The snapshot file: `dir/dbfilename`.
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }

    /// The logs' folder: `dir/appenddirname`.
    pub fn aof_dir(&self) -> PathBuf {
        self.dir.join(&self.appenddirname)
    }

    /// Merge flags over the file over the defaults, and check the result.
    pub fn resolve(flags: Flags) -> Result<Config, ConfigError> {
        let text = flags
            .config
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })
            })
            .transpose()?;
        Config::resolve_text(flags, text.as_deref())
    }

    /// [`Config::resolve`] with the config file's text already read (`None`: no
    /// file): the whole loader short of the read, so a fuzz target can drive it.
    pub fn resolve_text(flags: Flags, text: Option<&str>) -> Result<Config, ConfigError> {
        let file = match text {
            Some(text) => toml::from_str::<FileConfig>(text).map_err(|e| ConfigError::Parse {
                path: flags.config.clone().unwrap_or_default(),
                message: e.to_string().trim().replace('\n', " "),
            })?,
            None => FileConfig::default(),
        };
        let available = available_cpus();
        let ncores = flags.cores.or(file.cores).unwrap_or(available.len());
        if ncores == 0 {
            return Err(ConfigError::Invalid("--cores must be at least 1".into()));
        }
        if ncores > available.len() {
            return Err(ConfigError::Invalid(format!(
                "--cores {ncores} asks for more CPUs than this process may run on ({}: {:?})",
                available.len(),
                available
            )));
        }
        let shard_max_keys = flags
            .shard_max_keys
            .or(file.shard_max_keys)
            .unwrap_or(DEFAULT_SHARD_MAX_KEYS);
        let cfg = Config {
            bind: flags
                .bind
                .or(file.bind)
                .unwrap_or_else(|| DEFAULT_BIND.into()),
            port: flags.port.or(file.port).unwrap_or(DEFAULT_PORT),
            text_port: flags
                .text_port
                .or(file.text_port)
                .unwrap_or(DEFAULT_TEXT_PORT),
            cores: available[..ncores].to_vec(),
            requirepass: flags
                .requirepass
                .or(file.requirepass)
                .filter(|p| !p.is_empty()),
            log_level: flags
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            proto_max_bulk_len: flags
                .proto_max_bulk_len
                .or(file.proto_max_bulk_len)
                .unwrap_or(DEFAULT_PROTO_MAX_BULK_LEN),
            client_query_buffer_limit: flags
                .client_query_buffer_limit
                .or(file.client_query_buffer_limit)
                .unwrap_or(DEFAULT_QUERY_BUFFER_LIMIT),
            max_multibulk_len: flags
                .max_multibulk_len
                .or(file.max_multibulk_len)
                .unwrap_or(DEFAULT_MAX_MULTIBULK_LEN),
            maxclients: flags
                .maxclients
                .or(file.maxclients)
                .unwrap_or(DEFAULT_MAXCLIENTS),
            shard_max_keys,
            initial_shards: flags
                .initial_shards
                .or(file.initial_shards)
                .unwrap_or(DEFAULT_INITIAL_SHARDS),
            split_batch: flags
                .split_batch
                .or(file.split_batch)
                .unwrap_or(DEFAULT_SPLIT_BATCH),
            controller_interval_ms: flags
                .controller_interval_ms
                .or(file.controller_interval_ms)
                .unwrap_or(DEFAULT_CONTROLLER_INTERVAL_MS),
            autoscale: flags.autoscale.or(file.autoscale).unwrap_or(true),
            shard_min_keys: flags
                .shard_min_keys
                .or(file.shard_min_keys)
                .unwrap_or(shard_max_keys / 4),
            migrate_batch: flags
                .migrate_batch
                .or(file.migrate_batch)
                .unwrap_or(DEFAULT_MIGRATE_BATCH),
            rebalance_threshold: flags
                .rebalance_threshold
                .or(file.rebalance_threshold)
                .unwrap_or(DEFAULT_REBALANCE_THRESHOLD),
            socket_path: flags.socket_path.or(file.socket_path).unwrap_or_default(),
            dir: flags
                .dir
                .or(file.dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR)),
            dbfilename: check_dbfilename(
                flags
                    .dbfilename
                    .or(file.dbfilename)
                    .unwrap_or_else(|| DEFAULT_DBFILENAME.into()),
            )
            .map_err(ConfigError::Invalid)?,
            save: parse_save_points(&flags.save.or(file.save).unwrap_or_default())
                .map_err(|e| ConfigError::Invalid(format!("save: {e}")))?,
            appendonly: flags.appendonly.or(file.appendonly).unwrap_or(false),
            appendfsync: match (flags.appendfsync, file.appendfsync) {
                (Some(f), _) => f,
                (None, Some(t)) => parse_fsync_flag(&t)
                    .map_err(|e| ConfigError::Invalid(format!("appendfsync: {e}")))?,
                (None, None) => Fsync::default(),
            },
            appenddirname: check_file_name(
                "appenddirname",
                flags
                    .appenddirname
                    .or(file.appenddirname)
                    .unwrap_or_else(|| DEFAULT_APPENDDIRNAME.into()),
            )
            .map_err(ConfigError::Invalid)?,
            appendfilename: check_file_name(
                "appendfilename",
                flags
                    .appendfilename
                    .or(file.appendfilename)
                    .unwrap_or_else(|| DEFAULT_APPENDFILENAME.into()),
            )
            .map_err(ConfigError::Invalid)?,
            auto_aof_rewrite_percentage: flags
                .auto_aof_rewrite_percentage
                .or(file.auto_aof_rewrite_percentage)
                .unwrap_or(DEFAULT_AOF_REWRITE_PERCENTAGE),
            auto_aof_rewrite_min_size: match (
                flags.auto_aof_rewrite_min_size,
                file.auto_aof_rewrite_min_size,
            ) {
                (Some(n), _) | (None, Some(SizeValue::Bytes(n))) => n,
                (None, Some(SizeValue::Text(t))) => parse_memory_flag(&t)
                    .map_err(|e| ConfigError::Invalid(format!("auto-aof-rewrite-min-size: {e}")))?,
                (None, None) => DEFAULT_AOF_REWRITE_MIN_SIZE,
            },
            aof_load_truncated: flags
                .aof_load_truncated
                .or(file.aof_load_truncated)
                .unwrap_or(true),
            maxmemory: match (flags.maxmemory, file.maxmemory) {
                (Some(n), _) | (None, Some(SizeValue::Bytes(n))) => n,
                (None, Some(SizeValue::Text(t))) => parse_memory_flag(&t)
                    .map_err(|e| ConfigError::Invalid(format!("maxmemory: {e}")))?,
                (None, None) => 0,
            },
            maxmemory_policy: match (flags.maxmemory_policy, file.maxmemory_policy) {
                (Some(p), _) => p,
                (None, Some(t)) => parse_policy_flag(&t)
                    .map_err(|e| ConfigError::Invalid(format!("maxmemory-policy: {e}")))?,
                (None, None) => DEFAULT_POLICY,
            },
            maxmemory_samples: flags
                .maxmemory_samples
                .or(file.maxmemory_samples)
                .unwrap_or(DEFAULT_SAMPLES as u64),
            config_file: flags.config,
            pubsub_limit: match flags
                .client_output_buffer_limit_pubsub
                .or(file.client_output_buffer_limit_pubsub)
            {
                Some(s) => parse_output_limit(&s).map_err(|e| {
                    ConfigError::Invalid(format!("client-output-buffer-limit-pubsub: {e}"))
                })?,
                None => DEFAULT_PUBSUB_LIMIT,
            },
            normal_limit: match flags
                .client_output_buffer_limit_normal
                .or(file.client_output_buffer_limit_normal)
            {
                Some(s) => parse_output_limit(&s).map_err(|e| {
                    ConfigError::Invalid(format!("client-output-buffer-limit-normal: {e}"))
                })?,
                None => DEFAULT_NORMAL_LIMIT,
            },
            protected_mode: flags
                .protected_mode
                .or(file.protected_mode)
                .unwrap_or(DEFAULT_PROTECTED_MODE),
            notify_keyspace_events: {
                let s = flags
                    .notify_keyspace_events
                    .or(file.notify_keyspace_events)
                    .unwrap_or_else(|| DEFAULT_NOTIFY_KEYSPACE_EVENTS.into());
                parse_keyspace_events(&s).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "notify-keyspace-events: '{s}' has a letter outside K E g $ l s h z x e t m d n A"
                    ))
                })?
            },
        };
        if cfg.port == 0 && cfg.text_port == 0 {
            return Err(ConfigError::Invalid(
                "both --port and --text-port are 0: nothing to listen on".into(),
            ));
        }
        if cfg.port != 0 && cfg.port == cfg.text_port {
            return Err(ConfigError::Invalid(format!(
                "--port and --text-port are both {}: the two protocols need two ports",
                cfg.port
            )));
        }
        if cfg.shard_max_keys == 0
            || cfg.split_batch == 0
            || cfg.controller_interval_ms == 0
            || cfg.migrate_batch == 0
        {
            return Err(ConfigError::Invalid(
                "shard-max-keys, split-batch, migrate-batch and controller-interval-ms must be positive"
                    .into(),
            ));
        }
        if cfg.maxmemory_samples == 0 || cfg.maxmemory_samples > 64 {
            return Err(ConfigError::Invalid(
                "maxmemory-samples must be between 1 and 64".into(),
            ));
        }
        if cfg.shard_min_keys.saturating_mul(2) >= cfg.shard_max_keys {
            return Err(ConfigError::Invalid(format!(
                "shard-min-keys ({}) must be under half of shard-max-keys ({}), or a merge would make a split due",
                cfg.shard_min_keys, cfg.shard_max_keys
            )));
        }
        if cfg.proto_max_bulk_len < 1024 {
            return Err(ConfigError::Invalid(
                "proto-max-bulk-len must be at least 1024".into(),
            ));
        }
        Ok(cfg)
    }
}

/// `on`/`off` (also `yes`/`no`, as Redis's boolean settings read).
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("'{s}' is not on or off")),
    }
}

/// A TOML switch: a boolean or one of the words [`parse_switch`] reads.
fn switch_from_toml<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Word(String),
    }
    match Switch::deserialize(d)? {
        Switch::Bool(b) => Ok(Some(b)),
        Switch::Word(w) => parse_switch(&w).map(Some).map_err(serde::de::Error::custom),
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

/// CPUs this process may run on, in order (honours `taskset`).
pub fn available_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 = this thread; the pointer and size describe `set`.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        return (0..n).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: i < CPU_SETSIZE, the bound CPU_ISSET requires.
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

#[cfg(test)]
mod tests;
