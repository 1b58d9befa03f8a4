//! Where a request's keys are and what it does to each: the table's key
//! positions, the EVAL family's `numkeys`, SORT's `STORE` destination, and
//! Redis 7's key-spec flags per key (`RO`/`RW`/`OW`/`RM` with `access`,
//! `update`, `insert`, `delete`). COMMAND GETKEYS shows them, transactions
//! hold the keys, scripts check them against KEYS and ACL users against their
//! key patterns. It reads arguments only; it never runs anything.

use super::args::is;
use super::context::CommandSpec;
use bytes::Bytes;

/// The argument indices of a request's keys. Empty when the arguments are
/// too few to hold them (arity is checked elsewhere).
pub fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> Vec<usize> {
    // A count of keys, then that many keys (EVAL's `numkeys`, SINTERCARD's,
    // LMPOP's).
    let counted = |at: usize| -> Vec<usize> {
        let n = args
            .get(at)
            .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        (at + 1..args.len()).take(n).collect()
    };
    match spec.name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => return counted(2),
        "sintercard" | "lmpop" | "zmpop" | "zunion" | "zinter" | "zdiff" | "zintercard" => {
            return counted(1)
        }
        "blmpop" | "bzmpop" => return counted(2),
        // The destination, then numkeys and the sources.
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let mut at = if args.len() > 1 { vec![1] } else { Vec::new() };
            at.extend(counted(2));
            return at;
        }
        _ => {}
    }
    if spec.first_key <= 0 || args.len() <= spec.first_key as usize {
        return Vec::new();
    }
    let last = if spec.last_key < 0 {
        args.len() as i32 + spec.last_key
    } else {
        spec.last_key.min(args.len() as i32 - 1)
    };
    let step = spec.step.max(1) as usize;
    let mut at: Vec<usize> = (spec.first_key..=last)
        .step_by(step)
        .map(|i| i as usize)
        .collect();
    if spec.name == "sort" {
        at.extend(sort_store(args));
    }
    at
}

/// Whether the request's one key is its first argument and nothing else is
/// a key (GET, SET, INCR, …): what [`key_positions`] would say, without
/// building a list.
pub fn one_key(spec: &CommandSpec, args: &[Bytes]) -> bool {
    spec.first_key == 1 && spec.last_key == 1 && args.len() > 1 && spec.name != "sort"
}

/// SORT's `STORE` destination, skipping the arguments of its other options
/// (a `BY` pattern may be the word `store`), as Redis's `sortGetKeys`.
fn sort_store(args: &[Bytes]) -> Option<usize> {
    let mut i = 2;
    let mut found = None;
    while i < args.len() {
        let skip = if is(&args[i], "LIMIT") {
            2
        } else if is(&args[i], "BY") || is(&args[i], "GET") {
            1
        } else if is(&args[i], "STORE") {
            if i + 1 < args.len() {
                found = Some(i + 1);
            }
            1
        } else {
            0
        };
        i += 1 + skip;
    }
    found
}

/// Where a SORT pattern's `*` is, as C's `strchr` finds it (before any
/// NUL): where an element goes to form a key. None: the pattern forms no key
/// (a BY pattern without one means "do not sort").
pub fn sort_star(pattern: &[u8]) -> Option<usize> {
    pattern
        .iter()
        .take_while(|&&c| c != 0)
        .position(|&c| c == b'*')
}

/// Whether a SORT's BY or GET patterns form keys from its elements: keys no
/// argument names, known only once the elements are read, so a transaction
/// holding it holds every key (`command::transactions`). Options are walked
/// as [`sort_store`] walks them; a request that fails to parse never runs.
pub fn sort_forms_keys(args: &[Bytes]) -> bool {
    let (mut by_star, mut nosort, mut get) = (false, false, false);
    let mut i = 2;
    while i < args.len() {
        let next = args.get(i + 1);
        let skip = if is(&args[i], "LIMIT") {
            2
        } else if is(&args[i], "BY") {
            if let Some(p) = next {
                // Redis keeps "do not sort" once any BY lacks a `*`.
                match sort_star(p) {
                    Some(_) => by_star = true,
                    None => nosort = true,
                }
            }
            1
        } else if is(&args[i], "GET") {
            get |= next.is_some_and(|p| sort_star(p).is_some() && !is_hash_sign(p));
            1
        } else if is(&args[i], "STORE") {
            1
        } else {
            0
        };
        i += 1 + skip;
    }
    get || (by_star && !nosort)
}

/// `GET #`, as C compares it (a NUL ends the pattern): the element itself.
pub fn is_hash_sign(pattern: &[u8]) -> bool {
    pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&c| c == 0)
}

/// The keys a request names.
pub fn command_keys(spec: &CommandSpec, args: &[Bytes]) -> Vec<Bytes> {
    key_positions(spec, args)
        .into_iter()
        .map(|i| args[i].clone())
        .collect()
}

/// Redis 7's key-spec flags of a request's `i`th key.
pub fn key_flags(c: &CommandSpec, args: &[Bytes], i: usize) -> &'static [&'static str] {
    const RO: &[&str] = &["RO", "access"];
    const RW: &[&str] = &["RW", "access", "update"];
    const OW: &[&str] = &["OW", "update"];
    const RM: &[&str] = &["RM", "delete"];
    match (c.name, i) {
        ("del" | "unlink", _) => RM,
        ("getdel", _) => &["RW", "access", "delete"],
        ("rename" | "renamenx", 0) => &["RW", "access", "delete"],
        ("copy" | "sort", 0) => RO,
        ("sinterstore" | "sunionstore" | "sdiffstore" | "bitop", 0) => OW,
        ("sinterstore" | "sunionstore" | "sdiffstore" | "bitop", _) => RO,
        ("zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore", 0) => OW,
        ("zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore", _) => RO,
        ("zadd", _) => &["RW", "update"],
        ("zrem" | "zremrangebyrank" | "zremrangebyscore" | "zremrangebylex", _) => {
            &["RW", "delete"]
        }
        ("zpopmin" | "zpopmax" | "zmpop", _) => &["RW", "access", "delete"],
        ("pfmerge", 0) => &["RW", "access", "insert"],
        ("pfmerge", _) => RO,
        ("rename" | "renamenx" | "copy" | "sort", _) => OW,
        // SET with GET reads the old value too.
        ("set", _) if args.iter().skip(3).any(|a| is(a, "GET")) => RW,
        ("set" | "setex" | "psetex" | "mset" | "restore", _) => OW,
        ("setnx" | "msetnx", _) => &["OW", "insert"],
        ("append", _) => &["RW", "insert"],
        ("setrange" | "expire" | "pexpire" | "expireat" | "pexpireat" | "persist", _) => {
            &["RW", "update"]
        }
        // What reads a key's metadata, never its value.
        (
            "exists" | "type" | "ttl" | "pttl" | "expiretime" | "pexpiretime" | "strlen" | "touch"
            | "object" | "memory" | "watch",
            _,
        ) => &["RO"],
        _ if c.flags.contains(&"readonly") => RO,
        _ => RW,
    }
}

/// What an ACL user needs on a key with these flags: read for `access`,
/// write for `update`, `insert` or `delete` (Redis's `ACLSelectorCheckKey`).
pub fn acl_need(flags: &[&str]) -> u8 {
    let mut need = 0;
    if flags.contains(&"access") {
        need |= super::acl::rules::READ;
    }
    if flags
        .iter()
        .any(|f| matches!(*f, "update" | "insert" | "delete"))
    {
        need |= super::acl::rules::WRITE;
    }
    need
}
