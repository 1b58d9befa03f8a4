//! The command table: name, arity, flags, key positions, group and handler for
//! every command, as `COMMAND INFO`/`COMMAND DOCS` report them. Lookup is
//! case-insensitive and allocation-free.

use super::exec::{Ctx, Step};
use super::{admin, connection, keys, pubsub, server, string};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> Step;

pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const W: &[&str] = &["write", "denyoom", "fast"];
const WS: &[&str] = &["write"];
const R: &[&str] = &["readonly", "fast"];
const RS: &[&str] = &["readonly"];
const C: &[&str] = &["fast", "loading", "stale"];
const A: &[&str] = &["admin", "noscript", "loading", "stale"];
const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PP: &[&str] = &["pubsub", "loading", "stale", "fast"];

macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $fk:expr, $lk:expr, $st:expr, $group:expr, $since:expr, $summary:expr, $h:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $fk,
            last_key: $lk,
            step: $st,
            group: $group,
            since: $since,
            summary: $summary,
            handler: $h,
        }
    };
}

static COMMANDS: &[CommandSpec] = &[
    // strings
    cmd!("get", 2, R, 1, 1, 1, "string", "1.0.0", "Returns the string value of a key.", string::get),
    cmd!("set", -3, WS, 1, 1, 1, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", string::set),
    cmd!("setnx", 3, W, 1, 1, 1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", string::setnx),
    cmd!("setex", 4, WS, 1, 1, 1, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", string::setex),
    cmd!("psetex", 4, WS, 1, 1, 1, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", string::psetex),
    cmd!("getset", 3, W, 1, 1, 1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", string::getset),
    cmd!("getdel", 2, W, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", string::getdel),
    cmd!("getex", -2, W, 1, 1, 1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", string::getex),
    cmd!("mget", -2, R, 1, -1, 1, "string", "1.0.0", "Atomically returns the string values of one or more keys.", string::mget),
    cmd!("mset", -3, WS, 1, -1, 2, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", string::mset),
    cmd!("msetnx", -3, WS, 1, -1, 2, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", string::msetnx),
    cmd!("incr", 2, W, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::incr),
    cmd!("decr", 2, W, 1, 1, 1, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", string::decr),
    cmd!("incrby", 3, W, 1, 1, 1, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrby),
    cmd!("decrby", 3, W, 1, 1, 1, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", string::decrby),
    cmd!("incrbyfloat", 3, W, 1, 1, 1, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", string::incrbyfloat),
    cmd!("append", 3, W, 1, 1, 1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", string::append),
    cmd!("strlen", 2, R, 1, 1, 1, "string", "2.2.0", "Returns the length of a string value.", string::strlen),
    cmd!("getrange", 4, RS, 1, 1, 1, "string", "2.4.0", "Returns a substring of the string stored at a key.", string::getrange),
    cmd!("substr", 4, RS, 1, 1, 1, "string", "1.0.0", "Returns a substring from a string value.", string::getrange),
    cmd!("setrange", 4, WS, 1, 1, 1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", string::setrange),
    // keys
    cmd!("del", -2, WS, 1, -1, 1, "generic", "1.0.0", "Deletes one or more keys.", keys::del),
    cmd!("unlink", -2, W, 1, -1, 1, "generic", "4.0.0", "Asynchronously deletes one or more keys.", keys::del),
    cmd!("exists", -2, R, 1, -1, 1, "generic", "1.0.0", "Determines whether one or more keys exist.", keys::exists),
    cmd!("type", 2, R, 1, 1, 1, "generic", "1.0.0", "Determines the type of value stored at a key.", keys::type_),
    cmd!("expire", -3, W, 1, 1, 1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", keys::expire),
    cmd!("pexpire", -3, W, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", keys::pexpire),
    cmd!("expireat", -3, W, 1, 1, 1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", keys::expireat),
    cmd!("pexpireat", -3, W, 1, 1, 1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", keys::pexpireat),
    cmd!("ttl", 2, R, 1, 1, 1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", keys::ttl),
    cmd!("pttl", 2, R, 1, 1, 1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", keys::pttl),
    cmd!("expiretime", 2, R, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", keys::expiretime),
    cmd!("pexpiretime", 2, R, 1, 1, 1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", keys::pexpiretime),
    cmd!("persist", 2, W, 1, 1, 1, "generic", "2.2.0", "Removes the expiration time of a key.", keys::persist),
    cmd!("keys", 2, RS, 0, 0, 0, "generic", "1.0.0", "Returns all key names that match a pattern.", keys::keys),
    cmd!("scan", -2, RS, 0, 0, 0, "generic", "2.8.0", "Iterates over the key names in the database.", keys::scan),
    cmd!("randomkey", 1, RS, 0, 0, 0, "generic", "1.0.0", "Returns a random key name from the database.", keys::randomkey),
    cmd!("rename", 3, WS, 1, 2, 1, "generic", "1.0.0", "Renames a key and overwrites the destination.", keys::rename),
    cmd!("renamenx", 3, W, 1, 2, 1, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", keys::renamenx),
    // server
    cmd!("dbsize", 1, R, 0, 0, 0, "server", "1.0.0", "Returns the number of keys in the database.", server::dbsize),
    cmd!("flushdb", -1, WS, 0, 0, 0, "server", "1.0.0", "Removes all keys from the current database.", server::flush),
    cmd!("flushall", -1, WS, 0, 0, 0, "server", "1.0.0", "Removes all keys from all databases.", server::flush),
    cmd!("info", -1, &["loading", "stale"], 0, 0, 0, "server", "1.0.0", "Returns information and statistics about the server.", server::info),
    cmd!("config", -2, A, 0, 0, 0, "server", "2.0.0", "A container for server configuration commands.", server::config),
    cmd!("command", -1, &["loading", "stale"], 0, 0, 0, "server", "2.8.13", "Returns detailed information about all commands.", server::command),
    cmd!("time", 1, C, 0, 0, 0, "server", "2.6.0", "Returns the server time.", server::time),
    // pubsub
    cmd!("subscribe", -2, PS, 0, 0, 0, "pubsub", "2.0.0", "Listens for messages published to channels.", pubsub::subscribe),
    cmd!("unsubscribe", -1, PS, 0, 0, 0, "pubsub", "2.0.0", "Stops listening to messages posted to channels.", pubsub::unsubscribe),
    cmd!("psubscribe", -2, PS, 0, 0, 0, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", pubsub::psubscribe),
    cmd!("punsubscribe", -1, PS, 0, 0, 0, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", pubsub::punsubscribe),
    cmd!("ssubscribe", -2, PS, 1, -1, 1, "pubsub", "7.0.0", "Listens for messages published to shard channels.", pubsub::ssubscribe),
    cmd!("sunsubscribe", -1, PS, 1, -1, 1, "pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", pubsub::sunsubscribe),
    cmd!("publish", 3, PP, 0, 0, 0, "pubsub", "2.0.0", "Posts a message to a channel.", pubsub::publish),
    cmd!("spublish", 3, PP, 1, 1, 1, "pubsub", "7.0.0", "Post a message to a shard channel", pubsub::spublish),
    cmd!("pubsub", -2, RS, 0, 0, 0, "pubsub", "2.8.0", "A container for Pub/Sub commands.", pubsub::pubsub),
    // connection
    cmd!("ping", -1, C, 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    cmd!("echo", 2, C, 0, 0, 0, "connection", "1.0.0", "Returns the given string.", connection::echo),
    cmd!("select", 2, C, 0, 0, 0, "connection", "1.0.0", "Changes the selected database (stairkv has database 0 only).", connection::select),
    cmd!("quit", -1, C, 0, 0, 0, "connection", "1.0.0", "Closes the connection.", connection::quit),
    cmd!("reset", 1, C, 0, 0, 0, "connection", "6.2.0", "Resets the connection.", connection::reset),
    cmd!("hello", -1, C, 0, 0, 0, "connection", "6.0.0", "Handshakes with the server.", connection::hello),
    cmd!("auth", -2, C, 0, 0, 0, "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    cmd!("client", -2, &["admin", "loading", "stale"], 0, 0, 0, "connection", "2.4.0", "A container for client connection commands.", connection::client),
    // stairkv
    cmd!("stairkv", -2, A, 0, 0, 0, "server", "0.1.0", "Inspects the shard staircase (SHARDS, TABLE).", admin::stairkv),
];

pub fn all_commands() -> &'static [CommandSpec] {
    COMMANDS
}

/// Name → spec, hashed with ahash: every request looks its command up, and
/// std's SipHash showed in profiles.
type Index = HashMap<&'static str, &'static CommandSpec, ahash::RandomState>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// Find a command by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 24];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
    index().get(lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[0xff, 0xfe]).is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in all_commands() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
        }
    }
}
