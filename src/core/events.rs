//! Which keyspace events an op caused, as Redis's commands announce them
//! (`set`, `del`, `expire`, `persist`, `incrby`, `incrbyfloat`, `append`,
//! `setrange`, `rename_from`/`rename_to`, `new`, and the hash and set
//! events: `hset`, `hdel`, `hincrby`, `hincrbyfloat`, `sadd`, `srem`,
//! `spop`, the list events, the sorted set events: `zadd`, `zincr`,
//! `zrem`, `zpopmin`, `zpopmax`, `zremrangebyrank`/`score`/`lex` and the
//! STORE forms', with a `del` when the last element went). A pure function of the op,
//! its result and what was true of the key just before: it never publishes
//! and never reads the keyspace itself ([`super::world::World`] does both).
//! `expired` events are not here: the expiry task and reads announce those.

use bytes::Bytes;

use crate::storage::object::zset::ZRange;

use crate::config::notify::{GENERIC, HASH, LIST, NEW, SET, STRING, ZSET};
use crate::storage::ops::{
    BitsOp, CoreOp, GetExTtl, HashOp, HllOp, KeyOp, ListOp, Op, OpResult, SetCond, SetOp, SetTtl,
    ZsetOp,
};

/// What the world looked up before running a write, when events are wanted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Before {
    /// The op's key (RENAME: its destination) held a live value.
    pub existed: bool,
    /// That value had a deadline.
    pub had_ttl: bool,
    /// After the op the key no longer exists (a collection lost its last
    /// element): looked up after the op, only for ops that remove elements.
    pub gone_after: bool,
}

/// One event: its class (a `notify` bit), its name, and the key.
pub type Event = (u32, &'static str, Bytes);

/// Whether an op can cause an event at all (so reads cost nothing extra).
pub fn may_notify(op: &Op) -> bool {
    match op {
        Op::Key { op, .. } => !matches!(
            op,
            KeyOp::Get
                | KeyOp::StrLen
                | KeyOp::GetRange { .. }
                | KeyOp::Exists
                | KeyOp::Type
                | KeyOp::Track { .. }
                | KeyOp::Writer { .. }
                | KeyOp::Pttl
                | KeyOp::PexpireTime
                | KeyOp::Inspect(_)
                | KeyOp::Read
                | KeyOp::Sortable
                | KeyOp::OnHash(
                    HashOp::Get(_)
                        | HashOp::MGet(_)
                        | HashOp::GetAll
                        | HashOp::Keys
                        | HashOp::Vals
                        | HashOp::Len
                        | HashOp::Exists(_)
                        | HashOp::StrLen(_)
                        | HashOp::RandField { .. }
                        | HashOp::Scan { .. }
                        | HashOp::Page { .. }
                )
                | KeyOp::OnZset(
                    ZsetOp::Score(_)
                        | ZsetOp::Card
                        | ZsetOp::Count(_)
                        | ZsetOp::Range { .. }
                        | ZsetOp::RangePage { .. }
                        | ZsetOp::Rank { .. }
                        | ZsetOp::RandMember(_)
                        | ZsetOp::Scan { .. }
                        | ZsetOp::Members
                )
                | KeyOp::Bits(BitsOp::GetBit(_) | BitsOp::Count { .. } | BitsOp::Pos { .. })
                | KeyOp::Hll(HllOp::Count)
                | KeyOp::OnSet(
                    SetOp::IsMember(_)
                        | SetOp::MIsMember(_)
                        | SetOp::Members
                        | SetOp::Card
                        | SetOp::RandMember(_)
                        | SetOp::Scan { .. }
                        | SetOp::Page { .. }
                )
        ),
        Op::Core(c) => matches!(
            c,
            CoreOp::Rename { .. } | CoreOp::MSetNx { .. } | CoreOp::Copy { .. }
        ),
    }
}

/// The key whose state [`Before`] describes.
pub fn before_key(op: &Op) -> Option<&Bytes> {
    match op {
        Op::Key { key, .. } => Some(key),
        Op::Core(CoreOp::Rename { dst, .. } | CoreOp::Copy { dst, .. }) => Some(dst),
        Op::Core(_) => None,
    }
}

/// The events `op` caused, given its result, in Redis's order.
pub fn events(op: &Op, r: &OpResult, before: Before, now_ms: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let new = |out: &mut Vec<Event>, key: &Bytes| out.push((NEW, "new", key.clone()));
    match op {
        Op::Key { key, op } => {
            let k = || key.clone();
            match (op, r) {
                (KeyOp::Set { cond, ttl, get, .. }, r) => {
                    let done = if *get {
                        match cond {
                            SetCond::Always => !matches!(r, OpResult::Err(_)),
                            SetCond::IfAbsent => !before.existed,
                            SetCond::IfPresent => before.existed,
                        }
                    } else {
                        matches!(r, OpResult::Ok)
                    };
                    if !done {
                        return out;
                    }
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "set", k()));
                    if let SetTtl::At(d) = ttl {
                        if *d <= now_ms {
                            out.push((GENERIC, "del", k()));
                        } else {
                            out.push((GENERIC, "expire", k()));
                        }
                    }
                }
                (KeyOp::GetDel, OpResult::Bulk(_)) | (KeyOp::Del, OpResult::Int(1)) => {
                    out.push((GENERIC, "del", k()))
                }
                (KeyOp::GetEx { ttl }, OpResult::Bulk(_)) => match ttl {
                    GetExTtl::At(d) if *d <= now_ms => out.push((GENERIC, "del", k())),
                    GetExTtl::At(_) => out.push((GENERIC, "expire", k())),
                    GetExTtl::Persist if before.had_ttl => out.push((GENERIC, "persist", k())),
                    _ => {}
                },
                (KeyOp::IncrBy(_), OpResult::Int(_)) => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "incrby", k()));
                }
                (KeyOp::IncrByFloat(_), OpResult::Bulk(_)) => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "incrbyfloat", k()));
                }
                (KeyOp::Append { .. }, OpResult::Int(_)) => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "append", k()));
                }
                (KeyOp::SetRange { value, .. }, OpResult::Int(_)) if !value.is_empty() => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "setrange", k()));
                }
                (KeyOp::Expire { at_ms, .. }, OpResult::Int(1)) => {
                    let name = if *at_ms <= now_ms { "del" } else { "expire" };
                    out.push((GENERIC, name, k()));
                }
                (KeyOp::Persist, OpResult::Int(1)) => out.push((GENERIC, "persist", k())),
                (KeyOp::Take, OpResult::Taken(Some(_))) => out.push((GENERIC, "rename_from", k())),
                (KeyOp::OnHash(h), r) if !matches!(r, OpResult::Err(_)) => {
                    let (name, done) = match h {
                        HashOp::Set { nx: false, .. } => ("hset", true),
                        HashOp::Set { nx: true, .. } => ("hset", matches!(r, OpResult::Int(1))),
                        HashOp::IncrBy(..) => ("hincrby", true),
                        HashOp::IncrByFloat(..) => ("hincrbyfloat", true),
                        HashOp::Del(_) => ("hdel", matches!(r, OpResult::Int(n) if *n > 0)),
                        _ => ("", false),
                    };
                    if done {
                        if !before.existed && name != "hdel" {
                            new(&mut out, key);
                        }
                        out.push((HASH, name, k()));
                        if before.gone_after && name == "hdel" {
                            out.push((GENERIC, "del", k()));
                        }
                    }
                }
                // A STORE form: the destination made, or deleted by an empty result.
                (KeyOp::OnSet(SetOp::Store { event, .. }), OpResult::Int(n)) => {
                    if *n > 0 {
                        if !before.existed {
                            new(&mut out, key);
                        }
                        out.push((SET, event, k()));
                    } else if before.existed {
                        out.push((GENERIC, "del", k()));
                    }
                }
                (KeyOp::OnSet(s), r) => {
                    let (name, done) = match (s, r) {
                        (SetOp::Add(_), OpResult::Int(n)) => ("sadd", *n > 0),
                        (SetOp::Rem(_), OpResult::Int(n)) => ("srem", *n > 0),
                        (SetOp::Pop(_), OpResult::Bulk(_)) => ("spop", true),
                        (SetOp::Pop(_), OpResult::Members(m)) => ("spop", !m.is_empty()),
                        _ => ("", false),
                    };
                    if done {
                        if !before.existed && name == "sadd" {
                            new(&mut out, key);
                        }
                        out.push((SET, name, k()));
                        if before.gone_after && name != "sadd" {
                            out.push((GENERIC, "del", k()));
                        }
                    }
                }
                // A STORE form: the destination made, or deleted by an empty result.
                (KeyOp::OnZset(ZsetOp::Store { event, .. }), OpResult::Int(n)) => {
                    if *n > 0 {
                        if !before.existed {
                            new(&mut out, key);
                        }
                        out.push((ZSET, event, k()));
                    } else if before.existed {
                        out.push((GENERIC, "del", k()));
                    }
                }
                (KeyOp::OnZset(z), r) => {
                    let (name, done) = match (z, r) {
                        (ZsetOp::Add { flags, .. }, OpResult::Zadd { added, updated, .. }) => (
                            if flags.incr { "zincr" } else { "zadd" },
                            added + updated > 0,
                        ),
                        (ZsetOp::Rem(_), OpResult::Int(n)) => ("zrem", *n > 0),
                        (ZsetOp::Pop { max, .. }, OpResult::Scored(v)) => {
                            (if *max { "zpopmax" } else { "zpopmin" }, !v.is_empty())
                        }
                        (ZsetOp::RemRange(range), OpResult::Int(_) | OpResult::Scored(_)) => (
                            match range {
                                ZRange::Rank { .. } => "zremrangebyrank",
                                ZRange::Score(_) => "zremrangebyscore",
                                ZRange::Lex(_) => "zremrangebylex",
                            },
                            match r {
                                OpResult::Int(n) => *n > 0,
                                OpResult::Scored(v) => !v.is_empty(),
                                _ => false,
                            },
                        ),
                        _ => ("", false),
                    };
                    if done {
                        let adds = matches!(z, ZsetOp::Add { .. });
                        if !before.existed && adds {
                            new(&mut out, key);
                        }
                        out.push((ZSET, name, k()));
                        if before.gone_after && !adds {
                            out.push((GENERIC, "del", k()));
                        }
                    }
                }
                // SORT's STORE: the destination made, or deleted by an empty result.
                (KeyOp::OnList(ListOp::Store { event, .. }), OpResult::Int(n)) => {
                    if *n > 0 {
                        if !before.existed {
                            new(&mut out, key);
                        }
                        out.push((LIST, event, k()));
                    } else if before.existed {
                        out.push((GENERIC, "del", k()));
                    }
                }
                (KeyOp::OnList(l), r) => {
                    let (name, done) = match (l, r) {
                        (ListOp::Push { front, .. }, OpResult::Int(n)) => {
                            (if *front { "lpush" } else { "rpush" }, *n > 0)
                        }
                        (ListOp::Pop { front, .. }, OpResult::Bulk(_)) => {
                            (if *front { "lpop" } else { "rpop" }, true)
                        }
                        (ListOp::Pop { front, .. }, OpResult::Bulks(v)) => {
                            (if *front { "lpop" } else { "rpop" }, !v.is_empty())
                        }
                        (ListOp::Insert { .. }, OpResult::Int(n)) => ("linsert", *n > 0),
                        (ListOp::Set { .. }, OpResult::Ok) => ("lset", true),
                        (ListOp::Rem { .. }, OpResult::Int(n)) => ("lrem", *n > 0),
                        // Redis announces LTRIM on any list, trimmed or not.
                        (ListOp::Trim { .. }, OpResult::Ok) => ("ltrim", before.existed),
                        _ => ("", false),
                    };
                    if done {
                        if !before.existed && name.ends_with("push") {
                            new(&mut out, key);
                        }
                        out.push((LIST, name, k()));
                        if before.gone_after {
                            out.push((GENERIC, "del", k()));
                        }
                    }
                }
                (KeyOp::Bits(BitsOp::SetBit { .. }), OpResult::Int(_))
                | (KeyOp::Bits(BitsOp::Field(_)), OpResult::Fields(_)) => {
                    let wrote = match op {
                        KeyOp::Bits(BitsOp::Field(ops)) => ops.iter().any(|o| o.is_write()),
                        _ => true,
                    };
                    if wrote {
                        if !before.existed {
                            new(&mut out, key);
                        }
                        out.push((STRING, "setbit", k()));
                    }
                }
                (KeyOp::Hll(HllOp::Add { .. }), OpResult::Int(1))
                | (KeyOp::Hll(HllOp::Store(_)), OpResult::Ok) => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((STRING, "pfadd", k()));
                }
                (KeyOp::Put { event, .. }, OpResult::Int(1)) => {
                    if !before.existed {
                        new(&mut out, key);
                    }
                    out.push((GENERIC, event, k()));
                }
                _ => {}
            }
        }
        Op::Core(CoreOp::Rename { src, dst, .. }) => {
            if matches!(r, OpResult::Ok | OpResult::Int(1)) {
                out.push((GENERIC, "rename_from", src.clone()));
                if !before.existed {
                    new(&mut out, dst);
                }
                out.push((GENERIC, "rename_to", dst.clone()));
            }
        }
        Op::Core(CoreOp::Copy { dst, .. }) => {
            if matches!(r, OpResult::Int(1)) {
                if !before.existed {
                    new(&mut out, dst);
                }
                out.push((GENERIC, "copy_to", dst.clone()));
            }
        }
        Op::Core(CoreOp::MSetNx { pairs }) => {
            if matches!(r, OpResult::Int(1)) {
                for (k, _) in pairs {
                    new(&mut out, k);
                    out.push((STRING, "set", k.clone()));
                }
            }
        }
        Op::Core(_) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(op: KeyOp) -> Op {
        Op::Key {
            key: Bytes::from_static(b"k"),
            op,
        }
    }

    fn names(e: &[Event]) -> Vec<&'static str> {
        e.iter().map(|(_, n, _)| *n).collect()
    }

    fn set(cond: SetCond, ttl: SetTtl, get: bool) -> Op {
        key(KeyOp::Set {
            value: Bytes::from_static(b"v"),
            cond,
            ttl,
            get,
        })
    }

    #[test]
    fn set_announces_new_set_and_expire() {
        let fresh = Before::default();
        let old = Before {
            existed: true,
            had_ttl: false,
            gone_after: false,
        };
        let e = events(
            &set(SetCond::Always, SetTtl::Clear, false),
            &OpResult::Ok,
            fresh,
            0,
        );
        assert_eq!(names(&e), ["new", "set"]);
        let e = events(
            &set(SetCond::Always, SetTtl::At(100), false),
            &OpResult::Ok,
            old,
            50,
        );
        assert_eq!(names(&e), ["set", "expire"]);
        let e = events(
            &set(SetCond::Always, SetTtl::At(10), false),
            &OpResult::Ok,
            old,
            50,
        );
        assert_eq!(names(&e), ["set", "del"]);
        // NX that failed, and SET ... NX GET on an existing key: nothing happened.
        assert!(events(
            &set(SetCond::IfAbsent, SetTtl::Clear, false),
            &OpResult::Nil,
            old,
            0
        )
        .is_empty());
        let r = OpResult::Bulk(Bytes::from_static(b"old"));
        assert!(events(&set(SetCond::IfAbsent, SetTtl::Clear, true), &r, old, 0).is_empty());
        assert_eq!(
            names(&events(
                &set(SetCond::IfPresent, SetTtl::Keep, true),
                &r,
                old,
                0
            )),
            ["set"]
        );
    }

    #[test]
    fn key_commands_announce_what_they_did() {
        let had = |ttl| Before {
            existed: true,
            had_ttl: ttl,
            gone_after: false,
        };
        let one = OpResult::Int(1);
        let zero = OpResult::Int(0);
        assert_eq!(
            names(&events(&key(KeyOp::Del), &one, had(false), 0)),
            ["del"]
        );
        assert!(events(&key(KeyOp::Del), &zero, had(false), 0).is_empty());
        let exp = key(KeyOp::Expire {
            at_ms: 100,
            cond: crate::storage::ops::ExpireCond::Always,
        });
        assert_eq!(names(&events(&exp, &one, had(false), 50)), ["expire"]);
        assert_eq!(names(&events(&exp, &one, had(false), 150)), ["del"]);
        assert_eq!(
            names(&events(&key(KeyOp::Persist), &one, had(true), 0)),
            ["persist"]
        );
        let getex = key(KeyOp::GetEx {
            ttl: GetExTtl::Persist,
        });
        let bulk = OpResult::Bulk(Bytes::from_static(b"v"));
        assert_eq!(names(&events(&getex, &bulk, had(true), 0)), ["persist"]);
        assert!(events(&getex, &bulk, had(false), 0).is_empty());
        assert_eq!(
            names(&events(&key(KeyOp::IncrBy(1)), &one, Before::default(), 0)),
            ["new", "incrby"]
        );
        let empty_range = key(KeyOp::SetRange {
            offset: 0,
            value: Bytes::new(),
            max_len: 10,
        });
        assert!(events(&empty_range, &zero, had(false), 0).is_empty());
        let rename = Op::Core(CoreOp::Rename {
            src: Bytes::from_static(b"a"),
            dst: Bytes::from_static(b"b"),
            nx: false,
        });
        let e = events(&rename, &OpResult::Ok, Before::default(), 0);
        assert_eq!(names(&e), ["rename_from", "new", "rename_to"]);
        // COPY: "copy_to" on the destination (after "new" when it was absent),
        // on one core and as the cross-core Put.
        let copy = Op::Core(CoreOp::Copy {
            src: Bytes::from_static(b"a"),
            dst: Bytes::from_static(b"b"),
            replace: true,
        });
        assert_eq!(
            names(&events(&copy, &one, Before::default(), 0)),
            ["new", "copy_to"]
        );
        assert_eq!(names(&events(&copy, &one, had(true), 0)), ["copy_to"]);
        assert!(events(&copy, &zero, Before::default(), 0).is_empty());
        let put = |event| {
            key(KeyOp::Put {
                value: crate::storage::ops::Stored::Str(Bytes::from_static(b"v")),
                deadline: None,
                only_if_absent: false,
                event,
                hint: None,
            })
        };
        assert_eq!(
            names(&events(&put("copy_to"), &one, had(true), 0)),
            ["copy_to"]
        );
        assert_eq!(
            names(&events(&put("rename_to"), &one, had(true), 0)),
            ["rename_to"]
        );
        assert_eq!(
            names(&events(&put("restore"), &one, Before::default(), 0)),
            ["new", "restore"]
        );
        assert_eq!(e[0].2, Bytes::from_static(b"a"));
        assert_eq!(e[2].2, Bytes::from_static(b"b"));
        assert!(!may_notify(&key(KeyOp::Get)));
        assert!(may_notify(&key(KeyOp::Del)));
    }
}
