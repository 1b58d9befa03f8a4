//! The `maxmemory-policy` names: which policies exist, how their Redis names
//! parse and print, and the default. What each policy records and evicts is
//! `storage::policy` and `storage::evict`.

/// The `maxmemory-policy` the user chose: its Redis names and how they parse.
/// What each policy records and evicts is `storage::policy` and `storage::evict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    AllKeysS3Fifo,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

/// The policy a cache gets unless told otherwise.
pub const DEFAULT_POLICY: Policy = Policy::AllKeysS3Fifo;
/// Redis's `maxmemory-samples` default.
pub const DEFAULT_SAMPLES: usize = 5;

impl Policy {
    pub const ALL: [Policy; 9] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::AllKeysS3Fifo,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::AllKeysS3Fifo => "allkeys-s3fifo",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Every policy's name, comma-separated (for error messages).
    pub fn names() -> String {
        let names: Vec<_> = Policy::ALL.iter().map(|p| p.name()).collect();
        names.join(", ")
    }

    /// Case-insensitive, as Redis's enum configs are.
    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Only keys with a deadline may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// `maxmemory-policy` as a flag or file value, with the error a user sees.
pub(super) fn parse_policy_flag(s: &str) -> Result<Policy, String> {
    Policy::parse(s).ok_or_else(|| format!("'{s}' is not a maxmemory policy ({})", Policy::names()))
}
