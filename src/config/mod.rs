//! Configuration: command-line flags and an optional TOML file whose keys match
//! the flags (`--text-port` ↔ `text-port`). Flags win over the file; the file
//! wins over the defaults. This file resolves the three into the [`Config`]
//! every core starts from and checks it; [`flags`] is the command line,
//! [`file`] the TOML form, [`values`] the defaults and Redis's spellings of
//! sizes, switches and event letters, [`policy`] the eviction policies' names
//! (what each policy does is `storage::policy` and `storage::evict`). Nothing
//! here starts anything, and this is the bottom floor: it never imports from
//! the rest of the crate.

use std::path::PathBuf;

mod file;
mod flags;
mod policy;
mod values;

use file::{FileConfig, SizeValue};
pub use flags::{Flags, SocketPath, Tool};
use policy::parse_policy_flag;
pub use policy::{Policy, DEFAULT_POLICY, DEFAULT_SAMPLES};
pub use values::*;

/// The resolved configuration every core starts from.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub text_port: u16,
    pub http_port: u16,
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
    /// Milliseconds before a running script counts as busy (`-BUSY`, SCRIPT KILL).
    pub busy_reply_threshold: u64,
    pub rebalance_threshold: u64,
    /// Microseconds a core spins for the next request before it sleeps.
    pub busy_poll_us: u64,
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
    /// Seconds after which an idle client is closed (0: never), and after
    /// which a silent connection gets TCP keepalives (0: none).
    pub timeout: u64,
    pub tcp_keepalive: u64,
    /// SLOWLOG: microseconds from which a command is logged (-1: off), and
    /// entries kept.
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    /// When small hashes and sets leave their compact encodings (Redis's
    /// `hash-max-listpack-*`, `set-max-intset-entries`, `set-max-listpack-*`).
    pub hash_max_listpack_entries: u64,
    /// `list-max-listpack-size`: a list node's bound (see `storage::object::list`).
    pub list_max_listpack_size: i64,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`: when a
    /// sorted set leaves its compact encoding (see `storage::object::zset`).
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub set_max_listpack_entries: u64,
    pub set_max_listpack_value: u64,
    /// `hll-sparse-max-bytes`.
    pub hll_sparse_max_bytes: u64,
    /// Client-side caching: keys remembered for readers (0: no cap).
    pub tracking_table_max_keys: u64,
    /// ACL users' file (None: users live only in memory).
    pub aclfile: Option<PathBuf>,
    /// Entries ACL LOG keeps.
    pub acllog_max_len: u64,
    /// `acl-pubsub-default allchannels`: new users get every channel.
    pub acl_pubsub_all: bool,
    /// LATENCY: milliseconds from which an event is recorded (0: off).
    pub latency_monitor_threshold: u64,
    /// Per-command latency histograms, and the percentiles INFO shows of them.
    pub latency_tracking: bool,
    pub latency_tracking_info_percentiles: Vec<f64>,
}

/// How the log filter changes at run time (CONFIG SET log-level/loglevel):
/// registered once by the binary, which owns the logger. Unset (tests, a
/// library user), a new level is only recorded.
pub static LOG_FILTER: std::sync::OnceLock<SetLogFilter> = std::sync::OnceLock::new();

/// Sets the log filter to a level or tracing filter, or says why not.
pub type SetLogFilter = fn(&str) -> Result<(), String>;

/// Apply a log level now, where the binary registered how.
pub fn apply_log_level(level: &str) -> Result<(), String> {
    match LOG_FILTER.get() {
        Some(set) => set(level),
        None => Ok(()),
    }
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
            http_port: flags
                .http_port
                .or(file.http_port)
                .unwrap_or(DEFAULT_HTTP_PORT),
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
            busy_reply_threshold: flags
                .busy_reply_threshold
                .or(file.busy_reply_threshold)
                .unwrap_or(DEFAULT_BUSY_REPLY_THRESHOLD),
            rebalance_threshold: flags
                .rebalance_threshold
                .or(file.rebalance_threshold)
                .unwrap_or(DEFAULT_REBALANCE_THRESHOLD),
            busy_poll_us: flags
                .busy_poll_us
                .or(file.busy_poll_us)
                .unwrap_or(if ncores == 1 { DEFAULT_BUSY_POLL_US } else { 0 }),
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
            timeout: flags.timeout.or(file.timeout).unwrap_or(0),
            tcp_keepalive: flags
                .tcp_keepalive
                .or(file.tcp_keepalive)
                .unwrap_or(DEFAULT_TCP_KEEPALIVE),
            slowlog_log_slower_than: flags
                .slowlog_log_slower_than
                .or(file.slowlog_log_slower_than)
                .unwrap_or(DEFAULT_SLOWLOG_SLOWER_THAN),
            slowlog_max_len: flags
                .slowlog_max_len
                .or(file.slowlog_max_len)
                .unwrap_or(DEFAULT_SLOWLOG_MAX_LEN),
            hash_max_listpack_entries: flags
                .hash_max_listpack_entries
                .or(file.hash_max_listpack_entries)
                .unwrap_or(128),
            hash_max_listpack_value: flags
                .hash_max_listpack_value
                .or(file.hash_max_listpack_value)
                .unwrap_or(64),
            set_max_intset_entries: flags
                .set_max_intset_entries
                .or(file.set_max_intset_entries)
                .unwrap_or(512),
            set_max_listpack_entries: flags
                .set_max_listpack_entries
                .or(file.set_max_listpack_entries)
                .unwrap_or(128),
            list_max_listpack_size: flags
                .list_max_listpack_size
                .or(file.list_max_listpack_size)
                .unwrap_or(-2),
            zset_max_listpack_entries: flags
                .zset_max_listpack_entries
                .or(file.zset_max_listpack_entries)
                .unwrap_or(128),
            zset_max_listpack_value: flags
                .zset_max_listpack_value
                .or(file.zset_max_listpack_value)
                .unwrap_or(64),
            hll_sparse_max_bytes: flags
                .hll_sparse_max_bytes
                .or(file.hll_sparse_max_bytes)
                .unwrap_or(3000),
            set_max_listpack_value: flags
                .set_max_listpack_value
                .or(file.set_max_listpack_value)
                .unwrap_or(64),
            aclfile: flags.aclfile.or(file.aclfile),
            tracking_table_max_keys: flags
                .tracking_table_max_keys
                .or(file.tracking_table_max_keys)
                .unwrap_or(DEFAULT_TRACKING_TABLE_MAX_KEYS),
            acllog_max_len: flags
                .acllog_max_len
                .or(file.acllog_max_len)
                .unwrap_or(DEFAULT_ACLLOG_MAX_LEN),
            acl_pubsub_all: match flags.acl_pubsub_default.or(file.acl_pubsub_default) {
                None => false,
                Some(v) => parse_acl_pubsub_default(&v)
                    .map_err(|e| ConfigError::Invalid(format!("acl-pubsub-default: {e}")))?,
            },
            latency_monitor_threshold: flags
                .latency_monitor_threshold
                .or(file.latency_monitor_threshold)
                .unwrap_or(0),
            latency_tracking: flags
                .latency_tracking
                .or(file.latency_tracking)
                .unwrap_or(true),
            latency_tracking_info_percentiles: match flags
                .latency_tracking_info_percentiles
                .or(file.latency_tracking_info_percentiles)
            {
                Some(s) => parse_percentiles(&s).map_err(|e| {
                    ConfigError::Invalid(format!("latency-tracking-info-percentiles: {e}"))
                })?,
                None => DEFAULT_LATENCY_PERCENTILES.to_vec(),
            },
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
        if cfg.port == 0 && cfg.text_port == 0 && cfg.http_port == 0 {
            return Err(ConfigError::Invalid(
                "--port, --text-port and --http-port are all 0: nothing to listen on".into(),
            ));
        }
        let doors = [
            ("--port", cfg.port),
            ("--text-port", cfg.text_port),
            ("--http-port", cfg.http_port),
        ];
        for (i, (a, pa)) in doors.iter().enumerate() {
            for (b, pb) in &doors[i + 1..] {
                if *pa != 0 && pa == pb {
                    return Err(ConfigError::Invalid(format!(
                        "{a} and {b} are both {pa}: each protocol needs its own port"
                    )));
                }
            }
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
