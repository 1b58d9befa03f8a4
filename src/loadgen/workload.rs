//! What a run sends, apart from which key: the command mix, key names, value
//! sizes and contents, and the open-loop schedule. Pure arithmetic on
//! numbers and byte buffers the caller owns: this module never does I/O and
//! never reads a clock (callers pass elapsed times in).

use std::str::FromStr;
use std::time::Duration;

/// The two commands a run mixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Set,
    Get,
    /// A reply that is part of a transaction but not its result (`--tx`).
    Skip,
}

/// `--ratio SET:GET`. The mix is a fixed cycle (the SETs first, then the GETs)
/// rather than a coin toss: the ratio is then exact over any whole number of
/// cycles, and a sequential run can write a key and read it straight back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub sets: u32,
    pub gets: u32,
}

impl Ratio {
    pub fn cycle(&self) -> u64 {
        u64::from(self.sets) + u64::from(self.gets)
    }

    /// The command of a connection's `i`-th request.
    pub fn cmd(&self, i: u64) -> Cmd {
        if i % self.cycle() < u64::from(self.sets) {
            Cmd::Set
        } else {
            Cmd::Get
        }
    }
}

impl FromStr for Ratio {
    type Err = String;
    fn from_str(s: &str) -> Result<Ratio, String> {
        let bad = || format!("ratio must be SET:GET with whole numbers, like 1:10, got '{s}'");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let sets: u32 = a.trim().parse().map_err(|_| bad())?;
        let gets: u32 = b.trim().parse().map_err(|_| bad())?;
        if sets == 0 && gets == 0 {
            return Err(format!("ratio '{s}' sends nothing: one side must be > 0"));
        }
        Ok(Ratio { sets, gets })
    }
}

/// Largest value a run may write: Redis's default `proto-max-bulk-len`.
pub const MAX_VALUE: usize = 512 * 1024 * 1024;

/// `--value-size N` or `MIN-MAX` (bytes, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSize {
    pub min: usize,
    pub max: usize,
}

impl FromStr for ValueSize {
    type Err = String;
    fn from_str(s: &str) -> Result<ValueSize, String> {
        let bad = || format!("value size must be N or MIN-MAX in bytes, got '{s}'");
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let n = s.trim().parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if min == 0 || min > max {
            return Err(format!(
                "value size '{s}': need 1 <= MIN <= MAX (an empty value cannot be told from a miss in the text protocol)"
            ));
        }
        if max > MAX_VALUE {
            return Err(format!(
                "value size '{s}': at most {MAX_VALUE} bytes (proto-max-bulk-len)"
            ));
        }
        Ok(ValueSize { min, max })
    }
}

/// A 64-bit mix (splitmix64's finaliser): sizes and fill bytes of verified
/// values are a function of (key, version), so nothing but the version needs
/// remembering to check a value read back.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl ValueSize {
    /// The size of the value of `key` at `version` (or of a random pick `r`).
    pub fn pick(&self, r: u64) -> usize {
        let span = (self.max - self.min) as u64 + 1;
        self.min + (r % span) as usize
    }
}

/// Key names are the prefix and the index in 12 zero-padded digits, as
/// redis-benchmark's `-r` writes them (`key:000000001234`): with the default
/// prefix a key is 16 bytes.
pub fn key_name(out: &mut Vec<u8>, prefix: &[u8], index: u64) {
    out.clear();
    out.extend_from_slice(prefix);
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut n = index;
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(digits.len() - 12);
    out.extend_from_slice(&digits[start..]);
}

/// `--hash-mod N:R`: only keys whose route hash is `R` modulo `N`. On a fresh
/// `stairkv --cores 2` shard `j` is owned by core `j % 2` and a key's shard is
/// the low bits of its route hash, so `2:0` sends every request to core 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashMod {
    pub n: u64,
    pub r: u64,
}

/// Largest `N` for `--hash-mod`: a key name costs about `N` hashes to find,
/// and that is paid on every request.
pub const MAX_HASH_MOD: u64 = 1024;

impl FromStr for HashMod {
    type Err = String;
    fn from_str(s: &str) -> Result<HashMod, String> {
        let bad = || format!("hash-mod must be N:R with whole numbers, like 2:0, got '{s}'");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let n: u64 = a.trim().parse().map_err(|_| bad())?;
        let r: u64 = b.trim().parse().map_err(|_| bad())?;
        if n == 0 || n > MAX_HASH_MOD {
            return Err(format!(
                "hash-mod '{s}': N must be between 1 and {MAX_HASH_MOD} (each key name costs about N hashes)"
            ));
        }
        if r >= n {
            return Err(format!(
                "hash-mod '{s}': R must be less than N (a remainder of N)"
            ));
        }
        Ok(HashMod { n, r })
    }
}

/// Key index → key name, the one place a run names keys (requests, prefill,
/// verify messages), so every picker and every seed sees the same names.
/// Without a filter index `i` is `<prefix><12-digit i>`; with `--hash-mod N:R`
/// it is that name if its route hash matches, else the name followed by `:s`
/// for the smallest `s` = 1, 2, … that matches. Digits never contain `:`, so
/// names stay unique per index, and the name is a pure function of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    prefix: Vec<u8>,
    filter: Option<HashMod>,
}

impl KeyNames {
    /// Refuses a prefix with a `{hash tag}` under a filter: every key would
    /// then hash the same (only the tag is hashed), so either all match or no
    /// suffix ever would.
    pub fn new(prefix: Vec<u8>, filter: Option<HashMod>) -> Result<KeyNames, String> {
        if filter.is_some() && crate::storage::hash::hash_slice(&prefix).len() != prefix.len() {
            return Err(
                "--hash-mod needs a --key-prefix without a {hash tag}: only the tag would be hashed, so every key would hash the same"
                    .into(),
            );
        }
        Ok(KeyNames { prefix, filter })
    }

    pub fn filter(&self) -> Option<HashMod> {
        self.filter
    }

    /// Write the name of key `index` into `out`.
    pub fn name(&self, out: &mut Vec<u8>, index: u64) {
        key_name(out, &self.prefix, index);
        let Some(HashMod { n, r }) = self.filter else {
            return;
        };
        let base = out.len();
        let mut digits = [0u8; 20];
        // A hash matches with probability 1/N, so this ends after about N
        // tries; a run of 64·N misses in a row has odds around e^-64.
        for s in 1u64.. {
            if crate::storage::hash::key_hash(out) % n == r {
                return;
            }
            out.truncate(base);
            out.push(b':');
            out.extend_from_slice(crate::protocol::client::decimal(s, &mut digits));
        }
    }
}

/// The value a verifying run writes to `key` at `version`: the version in
/// decimal, a colon, then one letter that depends on both, cut or padded to
/// the size. Any stale or foreign value differs from it.
pub fn verified_value(out: &mut Vec<u8>, key: u64, version: u32, sizes: &ValueSize) {
    out.clear();
    let h = mix(key, u64::from(version));
    let size = sizes.pick(h);
    out.extend_from_slice(crate::protocol::client::decimal(
        u64::from(version),
        &mut [0; 20],
    ));
    out.push(b':');
    let fill = b'a' + (h >> 59) as u8 % 26;
    out.resize(size.max(out.len()), fill);
    out.truncate(size);
}

/// Open-loop timing for one connection: requests at a fixed interval,
/// staggered across connections so they do not all fire in the same
/// microsecond. Latency is measured from these intended times.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    interval_ns: f64,
    offset_ns: f64,
}

impl Schedule {
    /// `rate` requests per second over `conns` connections; this is connection `conn`.
    pub fn new(rate: f64, conn: u64, conns: u64) -> Schedule {
        let interval_ns = 1e9 * conns as f64 / rate;
        Schedule {
            interval_ns,
            offset_ns: interval_ns * conn as f64 / conns as f64,
        }
    }

    /// When the `i`-th request is due, from the start of the run.
    pub fn due(&self, i: u64) -> Duration {
        Duration::from_nanos((self.offset_ns + self.interval_ns * i as f64) as u64)
    }

    /// How many requests are due by `elapsed` (those with `due(i) <= elapsed`).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let t = elapsed.as_nanos() as f64;
        let mut n = ((t - self.offset_ns) / self.interval_ns).floor().max(-1.0) as i64 + 1;
        // `due` rounds down to whole nanoseconds; it is the reference, and the
        // estimate is at most one off it either way.
        while n > 0 && self.due(n as u64 - 1) > elapsed {
            n -= 1;
        }
        let mut n = n.max(0) as u64;
        while self.due(n) <= elapsed {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_parses_and_cycles() {
        let r: Ratio = "1:3".parse().expect("ratio");
        let cmds: Vec<Cmd> = (0..8).map(|i| r.cmd(i)).collect();
        use Cmd::*;
        assert_eq!(cmds, [Set, Get, Get, Get, Set, Get, Get, Get]);
        let only_gets: Ratio = "0:1".parse().expect("ratio");
        assert!((0..10).all(|i| only_gets.cmd(i) == Get));
        let only_sets: Ratio = "5:0".parse().expect("ratio");
        assert!((0..10).all(|i| only_sets.cmd(i) == Set));
        for bad in ["", "1", "1:", "a:b", "0:0", "-1:2", "1:2:3"] {
            assert!(bad.parse::<Ratio>().is_err(), "{bad}");
        }
    }

    #[test]
    fn value_size_parses() {
        assert_eq!("32".parse(), Ok(ValueSize { min: 32, max: 32 }));
        assert_eq!("16-64".parse(), Ok(ValueSize { min: 16, max: 64 }));
        for bad in ["0", "64-16", "x", "1-", "600000000"] {
            assert!(bad.parse::<ValueSize>().is_err(), "{bad}");
        }
        let s = ValueSize { min: 10, max: 12 };
        let picks: std::collections::BTreeSet<usize> = (0..100).map(|r| s.pick(r)).collect();
        assert_eq!(picks.into_iter().collect::<Vec<_>>(), [10, 11, 12]);
    }

    #[test]
    fn key_names_are_redis_benchmark_shaped() {
        let mut k = Vec::new();
        key_name(&mut k, b"key:", 1234);
        assert_eq!(k, b"key:000000001234");
        key_name(&mut k, b"", 0);
        assert_eq!(k, b"000000000000");
        key_name(&mut k, b"p", 1_234_567_890_123_456);
        assert_eq!(k, b"p1234567890123456");
    }

    #[test]
    fn hash_mod_names_match_the_filter_and_stay_unique() {
        use crate::storage::hash::key_hash;
        let mut k = Vec::new();
        for (n, r) in [(2, 0), (2, 1), (3, 2), (16, 5)] {
            let names = KeyNames::new(b"key:".to_vec(), Some(HashMod { n, r })).expect("names");
            let mut seen = std::collections::HashSet::new();
            let mut suffixed = 0;
            for i in 0..20_000 {
                names.name(&mut k, i);
                assert_eq!(key_hash(&k) % n, r, "{}", String::from_utf8_lossy(&k));
                let mut plain = Vec::new();
                key_name(&mut plain, b"key:", i);
                assert!(k.starts_with(&plain), "index {i} keeps its digits");
                suffixed += usize::from(k.len() > plain.len());
                assert!(seen.insert(k.clone()), "duplicate name for {i}");
                // Pure: the same index names the same key every time.
                let mut again = Vec::new();
                names.name(&mut again, i);
                assert_eq!(again, k);
            }
            // About (N-1)/N of the plain names miss and take a suffix.
            let want = 20_000.0 * (n - 1) as f64 / n as f64;
            assert!(
                (suffixed as f64 - want).abs() < 0.05 * 20_000.0,
                "{n}:{r}: {suffixed}"
            );
        }
        // Index 10^12 and beyond has more than 12 digits and stays unique.
        let names = KeyNames::new(b"k".to_vec(), Some(HashMod { n: 2, r: 1 })).expect("names");
        names.name(&mut k, 1_000_000_000_000);
        assert!(k.starts_with(b"k1000000000000"));
        assert_eq!(key_hash(&k) % 2, 1);
    }

    #[test]
    fn no_filter_or_mod_one_leaves_names_unchanged() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let plain = KeyNames::new(b"key:".to_vec(), None).expect("names");
        let all = KeyNames::new(b"key:".to_vec(), Some(HashMod { n: 1, r: 0 })).expect("names");
        for i in [0, 1, 1234, 999_999_999_999, u64::MAX] {
            key_name(&mut a, b"key:", i);
            plain.name(&mut b, i);
            assert_eq!(a, b);
            all.name(&mut b, i);
            assert_eq!(a, b);
        }
        // A tagged prefix is refused only under a filter.
        assert!(KeyNames::new(b"{t}:".to_vec(), None).is_ok());
        let f = Some(HashMod { n: 2, r: 0 });
        assert!(KeyNames::new(b"{t}:".to_vec(), f).is_err());
        assert!(KeyNames::new(b"{}:".to_vec(), f).is_ok());
        assert!(KeyNames::new(b"a{b".to_vec(), f).is_ok());
    }

    #[test]
    fn hash_mod_parses() {
        assert_eq!("2:0".parse(), Ok(HashMod { n: 2, r: 0 }));
        assert_eq!("1:0".parse(), Ok(HashMod { n: 1, r: 0 }));
        assert_eq!("1024:1023".parse(), Ok(HashMod { n: 1024, r: 1023 }));
        for bad in [
            "", "2", "2:", "a:0", "0:0", "2:2", "2:5", "-2:0", "1025:0", "2:0:1",
        ] {
            assert!(bad.parse::<HashMod>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verified_values_depend_on_key_and_version() {
        let sizes = ValueSize { min: 8, max: 40 };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        verified_value(&mut a, 7, 3, &sizes);
        verified_value(&mut b, 7, 3, &sizes);
        assert_eq!(a, b, "deterministic");
        assert!(a.starts_with(b"3:"));
        assert!((8..=40).contains(&a.len()));
        verified_value(&mut b, 7, 4, &sizes);
        assert_ne!(a, b);
        let tiny = ValueSize { min: 1, max: 1 };
        verified_value(&mut a, 1, 12345, &tiny);
        assert_eq!(a, b"1");
    }

    #[test]
    fn schedule_arithmetic() {
        // 1000 req/s over 4 connections: each sends every 4 ms, staggered by 1 ms.
        let s = Schedule::new(1000.0, 1, 4);
        assert_eq!(s.due(0), Duration::from_millis(1));
        assert_eq!(s.due(2), Duration::from_millis(9));
        assert_eq!(s.due_by(Duration::from_micros(999)), 0);
        assert_eq!(s.due_by(Duration::from_millis(1)), 1);
        assert_eq!(s.due_by(Duration::from_millis(8)), 2);
        assert_eq!(s.due_by(Duration::from_millis(9)), 3);
        assert_eq!(s.due_by(Duration::from_secs(1)), 250);
        // Every connection together sends the total rate.
        let total: u64 = (0..4)
            .map(|c| Schedule::new(1000.0, c, 4).due_by(Duration::from_secs(10)))
            .sum();
        assert!((9999..=10001).contains(&total), "{total}");
        // due_by agrees with due at every boundary, even with awkward rates.
        let s = Schedule::new(333.3, 2, 7);
        for i in 0..10_000 {
            let t = s.due(i);
            assert_eq!(s.due_by(t), i + 1, "at {i}");
            if t > Duration::ZERO {
                assert_eq!(s.due_by(t - Duration::from_nanos(1)), i, "before {i}");
            }
        }
    }
}
