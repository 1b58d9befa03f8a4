//! The command line: `stairkv`'s flags and subcommands as clap reads them,
//! each flag's value checked by the parsers of [`super::values`] and
//! [`super::policy`]. Defaults are applied later, in [`super::Config::resolve`],
//! so that a flag can be told apart from a setting of the config file.

use super::policy::{parse_policy_flag, Policy};
use super::values::*;
use clap::Parser;
use serde::Deserialize;
use std::path::PathBuf;

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
    /// HTTP port (keys API, /metrics, WebSocket events, the dashboard); 0 turns it off [default: 8080].
    #[arg(long)]
    pub http_port: Option<u16>,
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
    /// Milliseconds a script runs before whoever waits for its keys is
    /// answered -BUSY and SCRIPT KILL may stop it (Redis's
    /// busy-reply-threshold, alias lua-time-limit) [default: 5000].
    #[arg(long, alias = "lua-time-limit")]
    pub busy_reply_threshold: Option<u64>,
    /// Microseconds a core spins, awake, for the next request after its last
    /// one before it sleeps (0: never spin) [default: 20 with one core, 0 with more].
    #[arg(long)]
    pub busy_poll_us: Option<u64>,
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
    /// Close a client idle for this many seconds; 0 = never (subscribers and
    /// monitors are never closed for it) [default: 0].
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Send TCP keepalives to clients silent for this many seconds; 0 = off
    /// [default: 300].
    #[arg(long)]
    pub tcp_keepalive: Option<u64>,
    /// Log commands that take at least this many microseconds in SLOWLOG;
    /// -1 turns the slow log off, 0 logs every command [default: 10000].
    #[arg(long, allow_negative_numbers = true)]
    pub slowlog_log_slower_than: Option<i64>,
    /// Entries SLOWLOG keeps [default: 128].
    #[arg(long)]
    pub slowlog_max_len: Option<u64>,
    /// Fields a hash keeps in its compact encoding before it becomes a hash table [default: 128].
    #[arg(long)]
    pub hash_max_listpack_entries: Option<u64>,
    /// Longest field or value (bytes) a hash keeps in its compact encoding [default: 64].
    #[arg(long)]
    pub hash_max_listpack_value: Option<u64>,
    /// Integers a set keeps in its intset encoding [default: 512].
    #[arg(long)]
    pub set_max_intset_entries: Option<u64>,
    /// Members a set keeps in its compact encoding before it becomes a hash table [default: 128].
    #[arg(long)]
    pub set_max_listpack_entries: Option<u64>,
    /// Longest member (bytes) a set keeps in its compact encoding [default: 64].
    #[arg(long)]
    pub set_max_listpack_value: Option<u64>,
    /// A list node's size: negative -1..-5 for at most 4..64 KB of elements, positive for at most that many elements; a list of one node that fits stays compact inside its key [default: -2].
    #[arg(long, allow_negative_numbers = true)]
    pub list_max_listpack_size: Option<i64>,
    /// Members a sorted set keeps in its compact encoding before it becomes a B+ tree with an index [default: 128].
    #[arg(long)]
    pub zset_max_listpack_entries: Option<u64>,
    /// Longest member (bytes) a sorted set keeps in its compact encoding [default: 64].
    #[arg(long)]
    pub zset_max_listpack_value: Option<u64>,
    /// Bytes a HyperLogLog keeps in its sparse encoding before it turns dense [default: 3000].
    #[arg(long)]
    pub hll_sparse_max_bytes: Option<u64>,
    /// Keys client-side caching remembers for their readers; past it the
    /// oldest keys' readers are told to drop them; 0 = no cap [default: 1000000].
    #[arg(long)]
    pub tracking_table_max_keys: Option<u64>,
    /// ACL users file (`user <name> <rules>` lines), read at start and by
    /// ACL LOAD, written by ACL SAVE.
    #[arg(long)]
    pub aclfile: Option<PathBuf>,
    /// Entries ACL LOG keeps [default: 128].
    #[arg(long)]
    pub acllog_max_len: Option<u64>,
    /// Channels of a new ACL user: resetchannels (none) or allchannels [default: resetchannels].
    #[arg(long)]
    pub acl_pubsub_default: Option<String>,
    /// LATENCY records events of at least this many milliseconds; 0 = off [default: 0].
    #[arg(long)]
    pub latency_monitor_threshold: Option<u64>,
    /// Per-command latency histograms for INFO latencystats and LATENCY
    /// HISTOGRAM (yes/no) [default: yes].
    #[arg(long, value_parser = parse_switch)]
    pub latency_tracking: Option<bool>,
    /// The percentiles INFO latencystats shows [default: "50 99 99.9"].
    #[arg(long)]
    pub latency_tracking_info_percentiles: Option<String>,
    /// A tool to run instead of the server.
    #[command(subcommand)]
    pub tool: Option<Tool>,
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
