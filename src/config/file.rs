//! The config file: a TOML table whose keys are the flags' names in
//! kebab-case (`text-port = 7171`), unknown keys refused. It only reads; what a
//! missing key means is decided in [`super::Config::resolve`].

use super::flags::SocketPath;
use super::values::parse_switch;
use serde::Deserialize;
use std::path::PathBuf;

/// The file form: same names as the flags, kebab-case.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) bind: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) text_port: Option<u16>,
    pub(super) http_port: Option<u16>,
    pub(super) cores: Option<usize>,
    pub(super) requirepass: Option<String>,
    pub(super) log_level: Option<String>,
    pub(super) proto_max_bulk_len: Option<u64>,
    pub(super) client_query_buffer_limit: Option<u64>,
    pub(super) max_multibulk_len: Option<u64>,
    pub(super) maxclients: Option<u64>,
    pub(super) shard_max_keys: Option<u64>,
    pub(super) initial_shards: Option<u64>,
    pub(super) client_output_buffer_limit_pubsub: Option<String>,
    pub(super) client_output_buffer_limit_normal: Option<String>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    pub(super) protected_mode: Option<bool>,
    pub(super) notify_keyspace_events: Option<String>,
    pub(super) split_batch: Option<u64>,
    pub(super) controller_interval_ms: Option<u64>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    pub(super) autoscale: Option<bool>,
    pub(super) shard_min_keys: Option<u64>,
    pub(super) migrate_batch: Option<u64>,
    #[serde(alias = "lua-time-limit")]
    pub(super) busy_reply_threshold: Option<u64>,
    pub(super) rebalance_threshold: Option<u64>,
    pub(super) busy_poll_us: Option<u64>,
    pub(super) socket_path: Option<SocketPath>,
    pub(super) dir: Option<PathBuf>,
    pub(super) dbfilename: Option<String>,
    pub(super) save: Option<String>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    pub(super) appendonly: Option<bool>,
    pub(super) appendfsync: Option<String>,
    pub(super) appenddirname: Option<String>,
    pub(super) appendfilename: Option<String>,
    pub(super) auto_aof_rewrite_percentage: Option<u64>,
    pub(super) auto_aof_rewrite_min_size: Option<SizeValue>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    pub(super) aof_load_truncated: Option<bool>,
    pub(super) timeout: Option<u64>,
    pub(super) tcp_keepalive: Option<u64>,
    pub(super) slowlog_log_slower_than: Option<i64>,
    pub(super) slowlog_max_len: Option<u64>,
    pub(super) hash_max_listpack_entries: Option<u64>,
    pub(super) hash_max_listpack_value: Option<u64>,
    pub(super) set_max_intset_entries: Option<u64>,
    pub(super) set_max_listpack_entries: Option<u64>,
    pub(super) set_max_listpack_value: Option<u64>,
    pub(super) list_max_listpack_size: Option<i64>,
    pub(super) zset_max_listpack_entries: Option<u64>,
    pub(super) zset_max_listpack_value: Option<u64>,
    pub(super) hll_sparse_max_bytes: Option<u64>,
    pub(super) aclfile: Option<PathBuf>,
    pub(super) tracking_table_max_keys: Option<u64>,
    pub(super) acllog_max_len: Option<u64>,
    pub(super) acl_pubsub_default: Option<String>,
    pub(super) latency_monitor_threshold: Option<u64>,
    #[serde(default, deserialize_with = "switch_from_toml")]
    pub(super) latency_tracking: Option<bool>,
    pub(super) latency_tracking_info_percentiles: Option<String>,
    pub(super) maxmemory: Option<SizeValue>,
    pub(super) maxmemory_policy: Option<String>,
    pub(super) maxmemory_samples: Option<u64>,
}

/// A size in the config file: a number of bytes, or text with a unit ("100mb").
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
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
