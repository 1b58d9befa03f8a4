//! Executing an [`Op`] on this core: [`Keyspace::execute`] routes a key op to
//! [`super::shard_ops`] on the shard holding its key (after [`Keyspace::locate`]
//! pulled it out of a split's source) and runs the core-wide ops itself
//! (FLUSHALL, RANDOMKEY, MSETNX, RENAME) or hands them to [`super::scan`] and
//! [`super::stats`]. It is the top of the keyspace: nothing in the keyspace
//! calls it. It never decides where an op must run (the core layer routed it
//! here by the table, see [`crate::storage::migration::Placement`]).

use super::shard_ops::{key_op, key_op_with};
use super::Keyspace;
use crate::storage::entry::{Entry, MAX_KEY_LEN};
use crate::storage::ops::{
    BitsOp, CoreOp, HashOp, HllOp, KeyOp, ListOp, Op, OpError, OpResult, SetOp, ZsetOp,
};
use crate::storage::shard::Shard;
use bytes::Bytes;
/// Attempts RANDOMKEY makes (each a random shard and a random bucket walk) before
/// answering "no key": only shards full of expired-but-unpurged keys exhaust them.
const RANDOM_TRIES: usize = 16;
impl Keyspace {
    /// Execute one op at time `now` (unix ms). A key op for a shard this core does not own
    /// is executed anyway only if the shard exists here; callers route by the table first.
    ///
    /// When the shard does not exist here, an op that could create the key answers
    /// `Nil` (nothing was stored) and any other op answers as for a missing key.
    pub fn execute(&mut self, op: Op, now: u64) -> OpResult {
        match op {
            Op::Key { key, op } => self.key_op(&key, op, now),
            Op::Core(op) => self.core_op(op, now),
        }
    }

    fn key_op(&mut self, key: &[u8], op: KeyOp, now: u64) -> OpResult {
        if key.len() > MAX_KEY_LEN {
            // No such key can exist; one cannot be created either.
            return unplaceable(op, now, OpResult::Err(OpError::TooLarge));
        }
        let limits = self.limits;
        let collection = matches!(op, KeyOp::OnHash(_) | KeyOp::OnSet(_) | KeyOp::OnZset(_));
        let seed = if collection { self.next_rand() } else { 0 };
        match self.locate(key, now) {
            Some((id, thash)) => match self.shard_for_key(id, thash, key) {
                Some(shard) => {
                    shard.ops += 1;
                    let r = key_op_with(shard, thash, key, op, now, &limits, seed);
                    let resizing = collection
                        && shard
                            .peek(thash, key)
                            .and_then(|e| e.object())
                            .is_some_and(|o| o.resizing());
                    if resizing {
                        self.note_resizing(key, now);
                    }
                    r
                }
                None => unplaceable(op, now, OpResult::Nil),
            },
            None => unplaceable(op, now, OpResult::Nil),
        }
    }

    fn core_op(&mut self, op: CoreOp, now: u64) -> OpResult {
        match op {
            CoreOp::DbSize | CoreOp::Keys { .. } => self.count_part(&op, false, now),
            // Answered by the core before the keyspace is asked (core::world).
            CoreOp::Publish { .. } => OpResult::Int(0),
            CoreOp::Flush => {
                self.capture_all();
                self.flushes += 1;
                for shard in self.shards.iter_mut().flatten() {
                    shard.clear();
                }
                OpResult::Ok
            }
            CoreOp::RandomKey => self.random_key(now),
            CoreOp::Scan {
                cursor,
                count,
                pattern,
                type_name,
            } => {
                let filter = super::scan::ScanFilter::new(pattern.as_deref(), type_name.as_deref());
                self.scan(cursor, count, &filter, now)
            }
            CoreOp::ShardStats => OpResult::Stats(self.stats()),
            CoreOp::MSetNx { pairs } => self.msetnx(pairs, now),
            CoreOp::Rename { src, dst, nx } => self.rename(&src, &dst, nx, now),
            CoreOp::Copy { src, dst, replace } => self.copy(&src, &dst, replace, now),
        }
    }

    fn msetnx(&mut self, pairs: Vec<(Bytes, Bytes)>, now: u64) -> OpResult {
        if pairs.iter().any(|(k, _)| k.len() > MAX_KEY_LEN) {
            return OpResult::Err(OpError::TooLarge);
        }
        for (key, _) in &pairs {
            let Some((id, thash)) = self.locate(key, now) else {
                return OpResult::Nil;
            };
            if self
                .shard_mut(id)
                .is_some_and(|s| s.get(thash, key, now).is_some())
            {
                return OpResult::Int(0);
            }
        }
        for (key, value) in &pairs {
            // Located above: every shard is held here.
            if let Some((id, thash)) = self.locate(key, now) {
                if let Some(shard) = self.shard_mut(id) {
                    shard.insert(thash, Entry::new(key, value, None));
                }
            }
        }
        OpResult::Int(1)
    }

    /// COPY with both keys here: the copy shares a large value's buffer until
    /// either is written (`Entry` copies on write), and keeps the access record.
    fn copy(&mut self, src: &[u8], dst: &[u8], replace: bool, now: u64) -> OpResult {
        if src.len() > MAX_KEY_LEN {
            return OpResult::Int(0);
        }
        if dst.len() > MAX_KEY_LEN {
            return OpResult::Err(OpError::TooLarge);
        }
        let Some((sid, sthash)) = self.locate(src, now) else {
            return OpResult::Err(OpError::CrossCore);
        };
        let Some(copied) = self.shard_mut(sid).and_then(|s| {
            let e = s.get(sthash, src, now)?;
            let mut c = Entry::from_stored(dst, e.stored(), e.deadline());
            c.inherit(e);
            Some(c)
        }) else {
            return OpResult::Int(0);
        };
        let Some((did, dthash)) = self.locate(dst, now) else {
            return OpResult::Err(OpError::CrossCore);
        };
        let Some(shard) = self.shard_mut(did) else {
            return OpResult::Err(OpError::CrossCore);
        };
        if !replace && shard.get(dthash, dst, now).is_some() {
            return OpResult::Int(0);
        }
        shard.insert(dthash, copied);
        OpResult::Int(1)
    }

    fn rename(&mut self, src: &[u8], dst: &[u8], nx: bool, now: u64) -> OpResult {
        if src.len() > MAX_KEY_LEN {
            return OpResult::Err(OpError::NoSuchKey);
        }
        let Some((sid, sthash)) = self.locate(src, now) else {
            return OpResult::Err(OpError::NoSuchKey);
        };
        let exists = self
            .shard_mut(sid)
            .is_some_and(|s| s.get(sthash, src, now).is_some());
        if !exists {
            return OpResult::Err(OpError::NoSuchKey);
        }
        let done = if nx { OpResult::Int(1) } else { OpResult::Ok };
        if src == dst {
            return if nx { OpResult::Int(0) } else { OpResult::Ok };
        }
        if dst.len() > MAX_KEY_LEN {
            return OpResult::Err(OpError::TooLarge);
        }
        let Some((did, dthash)) = self.locate(dst, now) else {
            return OpResult::Nil;
        };
        if nx
            && self
                .shard_mut(did)
                .is_some_and(|s| s.get(dthash, dst, now).is_some())
        {
            return OpResult::Int(0);
        }
        let Some(e) = self.shard_mut(sid).and_then(|s| s.remove(sthash, src)) else {
            return OpResult::Err(OpError::NoSuchKey);
        };
        let moved = e.rekeyed(dst);
        if let Some(shard) = self.shard_mut(did) {
            shard.insert(dthash, moved);
        }
        done
    }

    /// A random shard (weighted by its key count), then a walk from a random bucket
    /// to the first live entry: roughly uniform, as Redis's RANDOMKEY is.
    fn random_key(&mut self, now: u64) -> OpResult {
        for _ in 0..RANDOM_TRIES {
            let rand = self.next_rand();
            let start = self.next_rand() as usize;
            let Some(shard) = self
                .weighted_shard(rand, Shard::len)
                .and_then(|id| self.shard(id))
            else {
                break;
            };
            if let Some(e) = shard.entry_from(start, |e| !e.is_expired(now)) {
                return OpResult::Keys(vec![Bytes::copy_from_slice(e.key())]);
            }
        }
        OpResult::Keys(Vec::new())
    }
}

/// The answer for a key op whose shard is not here (or whose key is too long to
/// store): ops that could create the key answer `refuse`; every other op answers
/// as it would for a missing key.
fn unplaceable(op: KeyOp, now: u64, refuse: OpResult) -> OpResult {
    match op {
        KeyOp::Set { .. }
        | KeyOp::IncrBy(_)
        | KeyOp::IncrByFloat(_)
        | KeyOp::Append { .. }
        | KeyOp::SetRange { .. }
        | KeyOp::Put { .. } => refuse,
        KeyOp::OnHash(HashOp::Set { .. } | HashOp::IncrBy(..) | HashOp::IncrByFloat(..))
        | KeyOp::OnSet(SetOp::Add(_) | SetOp::Store { .. })
        | KeyOp::OnList(ListOp::Push { .. } | ListOp::Store { .. })
        | KeyOp::OnZset(ZsetOp::Add { .. } | ZsetOp::Store { .. })
        | KeyOp::Bits(BitsOp::SetBit { .. })
        | KeyOp::Hll(HllOp::Add { .. } | HllOp::Store(_)) => refuse,
        KeyOp::Bits(BitsOp::Field(ops)) if ops.iter().any(|o| o.is_write()) => refuse,
        op => key_op(&mut Shard::new(), 0, b"", op, now),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::storage::ops::Stored;

    #[test]
    fn take_put_and_rename() {
        let mut k = ks(1, 4);
        run(
            &mut k,
            "a",
            set_with("va", SetCond::Always, SetTtl::At(NOW + 70), false),
        );
        assert_eq!(
            run(&mut k, "a", KeyOp::Take),
            OpResult::Taken(Some((Stored::Str(Bytes::from("va")), Some(NOW + 70))))
        );
        assert_eq!(run(&mut k, "a", KeyOp::Take), OpResult::Taken(None));
        let put = |v: &str, deadline, only_if_absent| KeyOp::Put {
            value: Stored::Str(Bytes::copy_from_slice(v.as_bytes())),
            deadline,
            only_if_absent,
            event: "rename_to",
            hint: None,
        };
        assert_eq!(
            run(&mut k, "b", put("x", Some(NOW + 5), false)),
            OpResult::Int(1)
        );
        assert_eq!(pttl(&mut k, "b"), OpResult::Int(5));
        assert_eq!(run(&mut k, "b", put("y", None, true)), OpResult::Int(0));
        assert_eq!(run(&mut k, "b", put("y", None, false)), OpResult::Int(1));
        assert_eq!(run(&mut k, "b", KeyOp::Get), b("y"));
        assert_eq!(pttl(&mut k, "b"), OpResult::Int(-1));
        assert_eq!(
            run(&mut k, "b", put("z", Some(NOW), false)),
            OpResult::Int(1)
        );
        assert_eq!(run(&mut k, "b", KeyOp::Exists), OpResult::Int(0));

        let rename = |src: &str, dst: &str, nx| CoreOp::Rename {
            src: Bytes::copy_from_slice(src.as_bytes()),
            dst: Bytes::copy_from_slice(dst.as_bytes()),
            nx,
        };
        assert_eq!(
            core(&mut k, rename("nope", "x", false)),
            OpResult::Err(OpError::NoSuchKey)
        );
        assert_eq!(
            core(&mut k, rename("nope", "nope", true)),
            OpResult::Err(OpError::NoSuchKey)
        );
        run(
            &mut k,
            "s",
            set_with("sv", SetCond::Always, SetTtl::At(NOW + 40), false),
        );
        assert_eq!(core(&mut k, rename("s", "s", false)), OpResult::Ok);
        assert_eq!(core(&mut k, rename("s", "s", true)), OpResult::Int(0));
        run(
            &mut k,
            "d",
            set_with("dv", SetCond::Always, SetTtl::At(NOW + 90), false),
        );
        assert_eq!(core(&mut k, rename("s", "d", true)), OpResult::Int(0));
        assert_eq!(core(&mut k, rename("s", "d", false)), OpResult::Ok);
        assert_eq!(run(&mut k, "s", KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, "d", KeyOp::Get), b("sv"));
        assert_eq!(pttl(&mut k, "d"), OpResult::Int(40));
        assert_eq!(core(&mut k, rename("d", "e", true)), OpResult::Int(1));
        assert_eq!(run(&mut k, "e", KeyOp::Get), b("sv"));
        assert_eq!(pttl(&mut k, "e"), OpResult::Int(40));
        run(&mut k, "p", set("pv"));
        run(
            &mut k,
            "q",
            set_with("qv", SetCond::Always, SetTtl::At(NOW + 90), false),
        );
        assert_eq!(core(&mut k, rename("p", "q", false)), OpResult::Ok);
        assert_eq!(pttl(&mut k, "q"), OpResult::Int(-1));
        assert_eq!(k.len(), 2);
        check_accounting(&k);
    }

    #[test]
    fn core_ops() {
        let mut k = ks(1, 8);
        for i in 0..100 {
            run(&mut k, &format!("key:{i}"), set("v"));
        }
        run(&mut k, "other", set("v"));
        assert_eq!(core(&mut k, CoreOp::DbSize), OpResult::Int(101));
        let OpResult::Keys(mut keys) = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("key:1*"),
            },
        ) else {
            panic!("keys")
        };
        keys.sort();
        let mut want: Vec<Bytes> = (0..100)
            .map(|i| format!("key:{i}"))
            .filter(|s| s.starts_with("key:1"))
            .map(Bytes::from)
            .collect();
        want.sort();
        assert_eq!(keys, want);
        let OpResult::Keys(all) = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("*"),
            },
        ) else {
            panic!("keys")
        };
        assert_eq!(all.len(), 101);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let OpResult::Keys(r) = core(&mut k, CoreOp::RandomKey) else {
                panic!("randomkey")
            };
            assert_eq!(r.len(), 1);
            seen.insert(r[0].clone());
        }
        assert!(seen.len() > 60, "randomkey covers few keys: {}", seen.len());
        let OpResult::Stats(stats) = core(&mut k, CoreOp::ShardStats) else {
            panic!("stats")
        };
        assert_eq!(stats.len(), 8);
        assert_eq!(stats.iter().map(|s| s.keys).sum::<usize>(), 101);
        assert_eq!(stats.iter().map(|s| s.bytes).sum::<usize>(), k.bytes());
        assert!(stats.iter().all(|s| s.core == 0 && s.state == "stable"));
        assert_eq!(core(&mut k, CoreOp::Flush), OpResult::Ok);
        assert_eq!(core(&mut k, CoreOp::DbSize), OpResult::Int(0));
        assert_eq!(k.bytes(), 0);
        assert_eq!(core(&mut k, CoreOp::RandomKey), OpResult::Keys(vec![]));
        // The empty key is matched by KEYS *.
        run(&mut k, "", set("v"));
        let r = core(
            &mut k,
            CoreOp::Keys {
                pattern: Bytes::from("*"),
            },
        );
        assert_eq!(r, OpResult::Keys(vec![Bytes::new()]));
    }

    #[test]
    fn msetnx() {
        let mut k = ks(1, 4);
        let pairs = |ks: &[&str]| CoreOp::MSetNx {
            pairs: ks
                .iter()
                .map(|s| (Bytes::copy_from_slice(s.as_bytes()), Bytes::from("v")))
                .collect(),
        };
        assert_eq!(core(&mut k, pairs(&["a", "b", "c"])), OpResult::Int(1));
        assert_eq!(core(&mut k, pairs(&["d", "c"])), OpResult::Int(0));
        assert_eq!(run(&mut k, "d", KeyOp::Exists), OpResult::Int(0));
        run(
            &mut k,
            "e",
            set_with("v", SetCond::Always, SetTtl::At(NOW), false),
        );
        assert_eq!(core(&mut k, pairs(&["e", "f", "f"])), OpResult::Int(1));
        assert_eq!(k.len(), 5);
    }

    #[test]
    fn foreign_shards() {
        // Core 0 of two: shards 1 and 3 belong to core 1.
        let table = RoutingTable::new(2, 4);
        let mut k = Keyspace::new(0, table.clone());
        assert_eq!(k.stats().len(), 2);
        let foreign = (0..)
            .map(|i| format!("k{i}"))
            .find(|s| !k.owns_hash(key_hash(s.as_bytes())))
            .unwrap_or_default();
        assert_eq!(run(&mut k, &foreign, set("v")), OpResult::Nil);
        assert_eq!(run(&mut k, &foreign, KeyOp::Get), OpResult::Nil);
        assert_eq!(run(&mut k, &foreign, KeyOp::Exists), OpResult::Int(0));
        assert_eq!(run(&mut k, &foreign, KeyOp::Pttl), OpResult::Int(-2));
        assert_eq!(run(&mut k, &foreign, KeyOp::Take), OpResult::Taken(None));
        assert!(k.is_empty());
        // A newer table giving this core shard 3 creates it; older tables are ignored.
        let mut t2 = table.clone();
        t2.owners[3] = 0;
        t2.epoch = 5;
        k.set_table(t2.clone());
        assert_eq!(k.stats().len(), 3);
        let mut t3 = table;
        t3.owners[1] = 0;
        t3.epoch = 4;
        k.set_table(t3);
        assert_eq!(k.table(), &t2);
        assert_eq!(k.stats().len(), 3);
    }

    #[test]
    fn too_long_keys_are_refused() {
        // Exercised through the helper directly: building a 4 GiB key is not an option.
        assert_eq!(
            unplaceable(set("v"), NOW, OpResult::Err(OpError::TooLarge)),
            OpResult::Err(OpError::TooLarge)
        );
        assert_eq!(unplaceable(KeyOp::Get, NOW, OpResult::Nil), OpResult::Nil);
        assert_eq!(
            unplaceable(KeyOp::Del, NOW, OpResult::Nil),
            OpResult::Int(0)
        );
        assert_eq!(
            unplaceable(KeyOp::Type, NOW, OpResult::Nil),
            OpResult::Status("none")
        );
        assert_eq!(
            unplaceable(KeyOp::GetRange { start: 0, end: -1 }, NOW, OpResult::Nil),
            OpResult::Bulk(Bytes::new())
        );
    }

    /// Random ops with random clocks on a multi-shard keyspace with splits: the
    /// accounting of every shard stays exact.
    #[test]
    fn randomized_accounting() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut k = ks(1, 2);
        let mut now = NOW;
        for step in 0..20_000 {
            let key = format!("k{}", rng.gen_range(0..500));
            let op = match rng.gen_range(0..12) {
                0 => set("value"),
                1 => set_with(
                    "xx",
                    SetCond::Always,
                    SetTtl::At(now + rng.gen_range(0..100)),
                    false,
                ),
                2 => KeyOp::IncrBy(1),
                3 => KeyOp::Append {
                    value: Bytes::from("ab"),
                    max_len: 1000,
                },
                4 => KeyOp::SetRange {
                    offset: rng.gen_range(0..20),
                    value: Bytes::from("zz"),
                    max_len: 1000,
                },
                5 => KeyOp::Expire {
                    at_ms: now + rng.gen_range(0..100),
                    cond: ExpireCond::Always,
                },
                6 => KeyOp::Persist,
                7 => KeyOp::Del,
                8 => KeyOp::GetEx {
                    ttl: GetExTtl::At(now + rng.gen_range(0..50)),
                },
                9 => incrf("0.5"),
                10 => KeyOp::Take,
                _ => KeyOp::Get,
            };
            run_at(&mut k, &key, op, now);
            now += rng.gen_range(0..3);
            if step % 1000 == 0 && !k.split_in_progress() {
                k.begin_split();
            }
            k.fill_step(5, now, &mut Vec::new());
            if step % 50 == 0 {
                let mut out = Vec::new();
                k.expire_due(now, 10, &mut out, &|_| false);
                check_accounting(&k);
            }
        }
        check_accounting(&k);
    }
}
