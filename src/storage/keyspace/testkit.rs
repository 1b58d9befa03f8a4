//! Helpers the keyspace's unit tests share: a keyspace, running a key or core
//! op on it, building SETs and replies, and checking shard accounting.

// What the tests name, so that each test module needs one glob import.
pub(super) use super::Keyspace;
pub(super) use crate::storage::decimal::{self, Number};
pub(super) use crate::storage::hash::key_hash;
pub(super) use crate::storage::ops::{
    CoreOp, ExpireCond, GetExTtl, KeyOp, Op, OpResult, SetCond, SetTtl,
};
pub(super) use crate::storage::staircase::RoutingTable;
pub(super) use bytes::Bytes;
pub(super) use rand::{Rng, SeedableRng};
pub(super) use std::collections::{HashMap, HashSet};
pub(super) const NOW: u64 = 1_000_000;

pub(super) fn ks(cores: usize, shards: usize) -> Keyspace {
    Keyspace::new(0, RoutingTable::new(cores, shards))
}

pub(super) fn run(ks: &mut Keyspace, key: &str, op: KeyOp) -> OpResult {
    run_at(ks, key, op, NOW)
}

pub(super) fn run_at(ks: &mut Keyspace, key: &str, op: KeyOp, now: u64) -> OpResult {
    ks.execute(
        Op::Key {
            key: Bytes::copy_from_slice(key.as_bytes()),
            op,
        },
        now,
    )
}

pub(super) fn core(ks: &mut Keyspace, op: CoreOp) -> OpResult {
    ks.execute(Op::Core(op), NOW)
}

pub(super) fn set(value: &str) -> KeyOp {
    set_with(value, SetCond::Always, SetTtl::Clear, false)
}

pub(super) fn set_with(value: &str, cond: SetCond, ttl: SetTtl, get: bool) -> KeyOp {
    KeyOp::Set {
        value: Bytes::copy_from_slice(value.as_bytes()),
        cond,
        ttl,
        get,
    }
}

pub(super) fn b(s: &str) -> OpResult {
    OpResult::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub(super) fn incrf(by: &str) -> KeyOp {
    match decimal::parse(by.as_bytes()) {
        Some(Number::Finite(d)) => KeyOp::IncrByFloat(d),
        other => panic!("{by:?} is no finite increment: {other:?}"),
    }
}

pub(super) fn pttl(ks: &mut Keyspace, key: &str) -> OpResult {
    run(ks, key, KeyOp::Pttl)
}

/// Shard accounting equals what the entries say.
pub(super) fn check_accounting(ks: &Keyspace) {
    for (_, s) in ks.held() {
        let bytes: usize = s.iter().map(|e| e.mem_size()).sum();
        let ttl = s.iter().filter(|e| e.deadline().is_some()).count();
        assert_eq!(s.bytes(), bytes);
        assert_eq!(s.ttl_keys(), ttl);
    }
}
