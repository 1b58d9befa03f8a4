//! Key hashing: ahash under fixed seeds, over the `{tag}` part of a key when it
//! has one (Redis Cluster's hash-tag rule), so tagged keys share a shard.
//! The seeds are fixed so every core — and every run — places a key the same way.

/// The hash that decides a key's shard (and so its core).
pub fn key_hash(key: &[u8]) -> u64 {
    let _ = key;
    todo!()
}

/// The part of `key` that is hashed: between the first `{` and the first `}`
/// after it, when that part is non-empty; otherwise the whole key.
pub fn hash_slice(key: &[u8]) -> &[u8] {
    let _ = key;
    todo!()
}
