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
