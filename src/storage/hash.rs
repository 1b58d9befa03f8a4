//! Key hashing: ahash under fixed seeds, over the `{tag}` part of a key when it
//! has one (Redis Cluster's hash-tag rule), so tagged keys share a shard.
//! The seeds are fixed so every core — and every run — places a key the same way.
//!
//! Two hashes exist per key. The *route hash* ([`key_hash`]) decides the shard
//! and core. The *table hash* ([`table_hash`]) is what a shard's hash table is
//! probed with: it must differ from the route hash because every key in one
//! shard shares the route hash's low bits (that is what put them in the shard),
//! and tagged keys share the whole route hash.

use ahash::RandomState;

/// Seeds of the route hash. Changing them moves every key to another shard.
/// (SHA-512's initial values: arbitrary, but not ahash's own constants, which
/// `with_seeds` xors in — seeds equal to those would zero its keys.)
const ROUTE: RandomState = RandomState::with_seeds(
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
);

/// Seeds of the table hash of tagged keys: independent of [`ROUTE`], so keys
/// sharing a tag still spread over their shard's table.
const TABLE: RandomState = RandomState::with_seeds(
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
);

/// The hash that decides a key's shard (and so its core).
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    ROUTE.hash_one(hash_slice(key))
}

/// The part of `key` that is hashed: between the first `{` and the first `}`
/// after it, when that part is non-empty; otherwise the whole key.
#[inline]
pub fn hash_slice(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// The hash a shard's table is probed with, given the key's route hash.
///
/// Untagged keys reuse the route hash (no second pass over the key) but folded
/// through a multiply: all keys of shard `j` share `route_hash mod 2^level`, and
/// hashbrown takes the probe start from the low bits, so the raw route hash
/// would pile a shard's keys onto a few probe chains once there are more than a
/// handful of shards. Tagged keys share the whole route hash, so they get an
/// independent ahash of the full key instead.
#[inline]
pub fn table_hash(key: &[u8], route_hash: u64) -> u64 {
    if hash_slice(key).len() == key.len() {
        fold(route_hash)
    } else {
        TABLE.hash_one(key)
    }
}

/// `(route hash, table hash)` of a key, finding the hash tag only once.
#[inline]
pub fn hashes(key: &[u8]) -> (u64, u64) {
    let slice = hash_slice(key);
    let route = ROUTE.hash_one(slice);
    let table = if slice.len() == key.len() {
        fold(route)
    } else {
        TABLE.hash_one(key)
    };
    (route, table)
}

/// Folded multiply: the low half of the product depends only on the low bits of
/// `h`, the high half on all of them; xoring the halves spreads the high bits of
/// `h` into every bit of the result, low and top ones alike.
#[inline]
fn fold(h: u64) -> u64 {
    let p = (h as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Seeds of the hash inside a large hash or set: chosen at random once per
/// process (as Redis's siphash seed), since clients choose the fields and
/// members and a fixed hash would let them pile every one onto one probe
/// chain. Nothing persisted or routed depends on it.
static MEMBER: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();

/// The hash a field or member is probed with in its collection's table.
#[inline]
pub fn member_hash(m: &[u8]) -> u64 {
    MEMBER
        .get_or_init(|| {
            let mut seed = [0u8; 32];
            // No randomness (never seen on Linux): fall back to fixed seeds.
            let _ = getrandom::getrandom(&mut seed);
            let word = |i: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&seed[i * 8..i * 8 + 8]);
                u64::from_le_bytes(w)
            };
            RandomState::with_seeds(word(0), word(1), word(2), word(3))
        })
        .hash_one(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hash_slice_rules() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"foo", b"foo"),
            (b"", b""),
            (b"{user1000}.following", b"user1000"),
            (b"foo{bar}{zap}", b"bar"),
            (b"foo{}{bar}", b"foo{}{bar}"),
            (b"foo{{bar}}zap", b"{bar"),
            (b"{}", b"{}"),
            (b"{", b"{"),
            (b"}{", b"}{"),
            (b"a{b", b"a{b"),
            (b"a}b{c}", b"c"),
            (b"{x}", b"x"),
        ];
        for (key, want) in cases {
            assert_eq!(
                hash_slice(key),
                *want,
                "key {:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn key_hash_is_stable_and_tag_aware() {
        assert_eq!(key_hash(b"hello"), key_hash(b"hello"));
        assert_ne!(key_hash(b"hello"), key_hash(b"hellp"));
        assert_eq!(key_hash(b"{user}.a"), key_hash(b"{user}.b"));
        assert_eq!(key_hash(b"{user}.a"), key_hash(b"user"));
        assert_ne!(key_hash(b"{}.a"), key_hash(b"{}.b"));
    }

    #[test]
    fn hashes_agree_with_the_parts() {
        for key in [&b"plain"[..], b"{tag}1", b"{tag}2", b"", b"{}x", b"x{y}z"] {
            let (route, table) = hashes(key);
            assert_eq!(route, key_hash(key));
            assert_eq!(table, table_hash(key, route));
        }
    }

    #[test]
    fn hashes_depend_on_the_key() {
        let mut route = HashSet::new();
        let mut table = HashSet::new();
        for i in 0..10_000 {
            let key = format!("k{i}");
            route.insert(key_hash(key.as_bytes()));
            table.insert(TABLE.hash_one(key.as_bytes()));
        }
        assert_eq!(route.len(), 10_000);
        assert_eq!(table.len(), 10_000);
    }

    #[test]
    fn tagged_keys_get_distinct_table_hashes() {
        let mut seen = HashSet::new();
        for i in 0..1000 {
            let key = format!("{{tag}}{i}");
            let route = key_hash(key.as_bytes());
            assert_eq!(route, key_hash(b"tag"));
            assert!(seen.insert(table_hash(key.as_bytes(), route)));
        }
    }

    /// Keys of one shard at a high level share the route hash's low bits; their
    /// table hashes must still spread over low bits (bucket) and top bits (tag).
    #[test]
    fn table_hash_spreads_within_a_shard() {
        let level = 12;
        let mask = (1u64 << level) - 1;
        let mut low = HashSet::new();
        let mut top = HashSet::new();
        let mut found = 0;
        let mut i = 0u64;
        while found < 256 {
            let key = format!("key:{i}");
            i += 1;
            let (route, table) = hashes(key.as_bytes());
            if route & mask != 7 {
                continue;
            }
            found += 1;
            low.insert(table & 0xff);
            top.insert(table >> 57);
        }
        assert!(low.len() > 120, "low bits collapse: {}", low.len());
        assert!(top.len() > 60, "top bits collapse: {}", top.len());
    }
}
