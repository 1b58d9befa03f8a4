//! Configuration: command-line flags and an optional TOML file whose keys match
//! the flags (`--text-port` ↔ `text-port`). Flags win over the file; the file
//! wins over the defaults named here. Nothing here starts anything.

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
/// How often core 0's controller checks whether the staircase must grow.
pub const DEFAULT_CONTROLLER_INTERVAL_MS: u64 = 100;
/// Redis's `maxclients`.
pub const DEFAULT_MAXCLIENTS: u64 = 10_000;

/// How connections' bytes move: see `net::ring` for why the ring is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketPath {
    /// One io_uring per core with SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1+);
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
    /// How connections' bytes move: `ring` (a per-core io_uring) or `stream`
    /// (glommio's TcpStream) [default: ring].
    #[arg(long, value_enum)]
    pub socket_path: Option<SocketPath>,
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
    split_batch: Option<u64>,
    controller_interval_ms: Option<u64>,
    socket_path: Option<SocketPath>,
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
    pub socket_path: SocketPath,
    pub config_file: Option<PathBuf>,
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
    /// Merge flags over the file over the defaults, and check the result.
    pub fn resolve(flags: Flags) -> Result<Config, ConfigError> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string().trim().replace('\n', " "),
                })?
            }
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
            shard_max_keys: flags
                .shard_max_keys
                .or(file.shard_max_keys)
                .unwrap_or(DEFAULT_SHARD_MAX_KEYS),
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
            socket_path: flags.socket_path.or(file.socket_path).unwrap_or_default(),
            config_file: flags.config,
        };
        if cfg.port == 0 && cfg.text_port == 0 {
            return Err(ConfigError::Invalid(
                "both --port and --text-port are 0: nothing to listen on".into(),
            ));
        }
        if cfg.shard_max_keys == 0 || cfg.split_batch == 0 || cfg.controller_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "shard-max-keys, split-batch and controller-interval-ms must be positive".into(),
            ));
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
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        let cfg = Config::resolve(Flags::default()).expect("defaults are valid");
        assert_eq!(cfg.port, 6379);
        assert_eq!(cfg.text_port, 7171);
        assert_eq!(cfg.bind, "127.0.0.1");
        assert!(!cfg.cores.is_empty());
        assert_eq!(cfg.proto_max_bulk_len, 512 * 1024 * 1024);
    }

    #[test]
    fn file_keys_match_flags_and_flags_win() {
        let dir = std::env::temp_dir().join(format!("stairkv-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("stairkv.toml");
        std::fs::write(&path, "port = 7000\ntext-port = 0\nshard-max-keys = 100\n").expect("write");
        let flags = Flags {
            config: Some(path.clone()),
            port: Some(7001),
            ..Flags::default()
        };
        let cfg = Config::resolve(flags).expect("valid");
        assert_eq!(cfg.port, 7001);
        assert_eq!(cfg.text_port, 0);
        assert_eq!(cfg.shard_max_keys, 100);
        std::fs::write(&path, "no-such-key = 1\n").expect("write");
        let err = Config::resolve(Flags {
            config: Some(path),
            ..Flags::default()
        })
        .expect_err("unknown key rejected");
        assert!(err.to_string().contains("no-such-key"), "{err}");
    }

    #[test]
    fn zero_cores_rejected() {
        let err = Config::resolve(Flags {
            cores: Some(0),
            ..Flags::default()
        })
        .expect_err("0 cores");
        assert!(err.to_string().contains("at least 1"));
    }
}
