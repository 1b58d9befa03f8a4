//! Which categories each command of the table is in: from its flags (as
//! Redis's implicit rules: write, read, admin and dangerous, pubsub, fast or
//! slow) and its documentation group, with Redis's exceptions by name; each
//! container's subcommands with theirs. It builds the [`Catalog`] ACL rules
//! are read against, once; it never holds a user or checks a request.

use super::catalog::{bit, Catalog};
use crate::command::context::{CommandSpec, Table};
use std::sync::OnceLock;

const ADMIN: &[&str] = &["admin", "slow", "dangerous"];
const SLOW: &[&str] = &["slow"];
const CONN: &[&str] = &["slow", "connection"];
const ADMIN_CONN: &[&str] = &["admin", "slow", "dangerous", "connection"];
const READ: &[&str] = &["read", "slow"];
const KEYS_READ: &[&str] = &["keyspace", "read", "slow"];
const PUBSUB: &[&str] = &["pubsub", "slow"];
const SCRIPTING: &[&str] = &["slow", "scripting"];

/// Every container's subcommands with their categories (Redis 7's). A
/// subcommand missing here can only be run by a user allowed the whole
/// command (`+client`, `+@all`): the check fails closed.
/// A container's subcommands, each with its categories' names.
type Subcommands = &'static [(&'static str, &'static [&'static str])];

const SUBCOMMANDS: &[(&str, Subcommands)] = &[
    (
        "acl",
        &[
            ("cat", SLOW),
            ("deluser", ADMIN),
            ("dryrun", ADMIN),
            ("genpass", SLOW),
            ("getuser", ADMIN),
            ("list", ADMIN),
            ("load", ADMIN),
            ("log", ADMIN),
            ("save", ADMIN),
            ("setuser", ADMIN),
            ("users", ADMIN),
            ("whoami", SLOW),
            ("help", SLOW),
        ],
    ),
    (
        "client",
        &[
            ("id", CONN),
            ("getname", CONN),
            ("setname", CONN),
            ("setinfo", CONN),
            ("info", CONN),
            ("list", ADMIN_CONN),
            ("kill", ADMIN_CONN),
            ("no-evict", ADMIN_CONN),
            ("no-touch", CONN),
            ("reply", CONN),
            ("pause", ADMIN_CONN),
            ("unpause", ADMIN_CONN),
            ("unblock", ADMIN_CONN),
            ("tracking", CONN),
            ("trackinginfo", CONN),
            ("getredir", CONN),
            ("caching", CONN),
            ("help", CONN),
        ],
    ),
    (
        "command",
        &[
            ("count", CONN),
            ("list", CONN),
            ("info", CONN),
            ("docs", CONN),
            ("getkeys", CONN),
            ("getkeysandflags", CONN),
            ("help", CONN),
        ],
    ),
    (
        "config",
        &[
            ("get", ADMIN),
            ("set", ADMIN),
            ("resetstat", ADMIN),
            ("rewrite", ADMIN),
            ("help", SLOW),
        ],
    ),
    (
        "latency",
        &[
            ("latest", ADMIN),
            ("history", ADMIN),
            ("reset", ADMIN),
            ("graph", ADMIN),
            ("doctor", ADMIN),
            ("histogram", ADMIN),
            ("help", SLOW),
        ],
    ),
    (
        "memory",
        &[
            ("usage", READ),
            ("stats", SLOW),
            ("doctor", SLOW),
            ("malloc-stats", SLOW),
            ("purge", SLOW),
            ("help", SLOW),
        ],
    ),
    (
        "object",
        &[
            ("encoding", KEYS_READ),
            ("freq", KEYS_READ),
            ("idletime", KEYS_READ),
            ("refcount", KEYS_READ),
            ("help", &["keyspace", "slow"]),
        ],
    ),
    (
        "pubsub",
        &[
            ("channels", PUBSUB),
            ("numsub", PUBSUB),
            ("numpat", PUBSUB),
            ("shardchannels", PUBSUB),
            ("shardnumsub", PUBSUB),
            ("help", SLOW),
        ],
    ),
    (
        "script",
        &[
            ("load", SCRIPTING),
            ("exists", SCRIPTING),
            ("flush", SCRIPTING),
            ("kill", SCRIPTING),
            ("help", SCRIPTING),
        ],
    ),
    (
        "slowlog",
        &[
            ("get", ADMIN),
            ("len", ADMIN),
            ("reset", ADMIN),
            ("help", SLOW),
        ],
    ),
    (
        "stairkv",
        &[
            ("shards", ADMIN),
            ("table", ADMIN),
            ("migrate", ADMIN),
            ("split", ADMIN),
            ("merge", ADMIN),
            ("rebalance", ADMIN),
            ("keyshard", ADMIN),
            ("help", SLOW),
        ],
    ),
];

/// A command's categories: from its flags (as Redis's implicit rules: write,
/// read, admin and dangerous, pubsub, fast or slow) and its group, with
/// Redis's exceptions by name.
pub fn of_command(c: &CommandSpec) -> u32 {
    let has = |f: &str| c.flags.contains(&f);
    let mut set = 0;
    if has("write") {
        set |= bit("write");
    }
    if has("readonly") && c.group != "scripting" {
        set |= bit("read");
    }
    if has("admin") {
        set |= bit("admin") | bit("dangerous");
    }
    if has("pubsub") {
        set |= bit("pubsub");
    }
    if has("blocking") {
        set |= bit("blocking");
    }
    set |= if has("fast") {
        bit("fast")
    } else {
        bit("slow")
    };
    set |= match c.group {
        "string" => bit("string"),
        "hash" => bit("hash"),
        "set" => bit("set"),
        "list" => bit("list"),
        "sorted_set" => bit("sortedset"),
        "bitmap" => bit("bitmap"),
        "hyperloglog" => bit("hyperloglog"),
        // WAIT is in @connection only, not @keyspace.
        "generic" if c.name != "wait" => bit("keyspace"),
        "connection" => bit("connection"),
        "transactions" => bit("transaction"),
        "scripting" => bit("scripting"),
        "pubsub" => bit("pubsub"),
        _ => 0,
    };
    set |= match c.name {
        "flushall" | "flushdb" => bit("keyspace") | bit("dangerous"),
        "keys" | "restore" => bit("dangerous"),
        "sort" => bit("set") | bit("sortedset") | bit("list") | bit("dangerous"),
        "sort_ro" => bit("set") | bit("sortedset") | bit("list"),
        "dbsize" | "randomkey" | "scan" => bit("keyspace"),
        "info" => bit("dangerous"),
        "role" | "lastsave" => bit("admin") | bit("dangerous"),
        "command" | "wait" => bit("connection"),
        _ => 0,
    };
    set
}

fn set_of(names: &[&str]) -> u32 {
    names.iter().fold(0, |s, n| s | bit(n))
}

fn build(table: &'static Table) -> Catalog {
    let n = table.all.len();
    let mut categories: Vec<u32> = table.all.iter().map(of_command).collect();
    let mut subs = Vec::new();
    let mut sub_range = vec![0..0; n];
    for (i, c) in table.all.iter().enumerate() {
        let Some((_, list)) = SUBCOMMANDS.iter().find(|(name, _)| *name == c.name) else {
            continue;
        };
        let start = n + subs.len();
        for (sub, cats) in list.iter() {
            subs.push((i, *sub));
            categories.push(set_of(cats));
        }
        sub_range[i] = start..n + subs.len();
    }
    Catalog {
        names: table.all.iter().map(|c| c.name).collect(),
        categories,
        subs,
        sub_range,
    }
}

/// The catalog of the table every connection runs on (there is one).
pub fn catalog(table: &'static Table) -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| build(table))
}
