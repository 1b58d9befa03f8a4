//! What a run counted: a latency histogram per command (microseconds) and the
//! hit, miss, error and verify counters beside it, kept per client thread and
//! merged at the end; and the one-second interval figures the progress line
//! prints. Never shared between threads while a run is live: each thread owns
//! its own and hands it over when it is done.

use hdrhistogram::Histogram;

use super::workload::Cmd;

/// Longest latency a histogram holds: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Error messages and failures kept for the report; the rest are only counted.
const MAX_SAMPLES: usize = 8;

pub fn histogram() -> Histogram<u64> {
    // Bounds are constants well inside what hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// One command's figures.
#[derive(Debug, Clone)]
pub struct CmdStats {
    /// Every reply's latency, errors included.
    pub hist: Histogram<u64>,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
}

impl Default for CmdStats {
    fn default() -> Self {
        CmdStats {
            hist: histogram(),
            hits: 0,
            misses: 0,
            errors: 0,
        }
    }
}

impl CmdStats {
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    fn merge(&mut self, other: &CmdStats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
    }
}

/// A thread's (or, merged, the run's) figures for the measured part of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub set: CmdStats,
    pub get: CmdStats,
    /// GETs that returned something other than what this run last wrote.
    pub wrong_values: u64,
    /// GETs that missed a key this run wrote, before its TTL could have passed.
    pub unexpected_misses: u64,
    /// GETs of `--scan` keys (one-hit wonders), by reply; they are also in `get`.
    pub scan_hits: u64,
    pub scan_misses: u64,
    /// Error replies while prefilling (not part of the measured figures).
    pub prefill_errors: u64,
    /// Connections that failed: could not connect, closed by the server, timed out.
    pub failed_connections: u64,
    /// The first few error replies, verify failures and connection failures, verbatim.
    pub samples: Vec<String>,
    /// `--slow-log`: requests over the threshold, at most [`MAX_SLOW`], and how many more.
    pub slow: Vec<Slow>,
    pub slow_dropped: u64,
}

/// Lines of slow.csv a run keeps.
pub const MAX_SLOW: usize = 1_000_000;

/// One request slower than `--slow-log`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    /// Intended send time, Unix ms.
    pub at_ms: u64,
    pub latency_us: u64,
    pub cmd: &'static str,
    pub key: String,
}

impl Stats {
    pub fn cmd(&mut self, cmd: Cmd) -> &mut CmdStats {
        match cmd {
            // A transaction's inner replies are never counted; its result is a SET.
            Cmd::Set | Cmd::Skip => &mut self.set,
            Cmd::Get => &mut self.get,
        }
    }

    pub fn sample(&mut self, msg: impl Into<String>) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(msg.into());
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.set.merge(&other.set);
        self.get.merge(&other.get);
        self.wrong_values += other.wrong_values;
        self.unexpected_misses += other.unexpected_misses;
        self.scan_hits += other.scan_hits;
        self.scan_misses += other.scan_misses;
        self.prefill_errors += other.prefill_errors;
        self.failed_connections += other.failed_connections;
        for s in &other.samples {
            self.sample(s.clone());
        }
        for s in &other.slow {
            self.slow_request(s.clone());
        }
        self.slow_dropped += other.slow_dropped;
    }

    pub fn slow_request(&mut self, s: Slow) {
        if self.slow.len() < MAX_SLOW {
            self.slow.push(s);
        } else {
            self.slow_dropped += 1;
        }
    }

    /// Both commands in one histogram.
    pub fn total(&self) -> CmdStats {
        let mut t = self.set.clone();
        t.merge(&self.get);
        t
    }

    pub fn errors(&self) -> u64 {
        self.set.errors + self.get.errors + self.prefill_errors
    }

    /// Whether the run failed: error replies, verify failures or lost connections.
    pub fn failed(&self) -> bool {
        self.errors() > 0
            || self.wrong_values > 0
            || self.unexpected_misses > 0
            || self.failed_connections > 0
    }
}

/// One second of one thread, for the progress line (warmup included).
#[derive(Debug, Clone)]
pub struct Interval {
    pub ops: u64,
    pub errors: u64,
    pub hist: Histogram<u64>,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            ops: 0,
            errors: 0,
            hist: histogram(),
        }
    }
}

impl Interval {
    pub fn merge(&mut self, other: &Interval) {
        self.ops += other.ops;
        self.errors += other.errors;
        let _ = self.hist.add(&other.hist);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_threads_adds_histograms_and_counters() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for us in 1..=1000 {
            a.set.hist.saturating_record(us);
            b.get.hist.saturating_record(us * 10);
        }
        a.get.hits = 3;
        b.get.hits = 4;
        b.get.misses = 1;
        b.wrong_values = 2;
        (a.scan_hits, a.scan_misses, b.scan_misses) = (1, 2, 3);
        b.sample("wrong value for key:1");
        a.merge(&b);
        assert_eq!(a.set.count(), 1000);
        assert_eq!(a.get.count(), 1000);
        assert_eq!(a.get.hits, 7);
        assert_eq!(a.get.misses, 1);
        assert_eq!((a.scan_hits, a.scan_misses), (1, 5));
        assert!(a.failed());
        assert_eq!(a.samples, ["wrong value for key:1"]);
        let t = a.total();
        assert_eq!(t.count(), 2000);
        assert_eq!(t.hist.max(), b.get.hist.max());
        // The median of the merged histogram sits between the two inputs.
        let p50 = t.hist.value_at_quantile(0.5);
        assert!((900..=1100).contains(&p50), "{p50}");
    }

    #[test]
    fn a_clean_run_has_not_failed_and_samples_are_capped() {
        let mut s = Stats::default();
        assert!(!s.failed());
        for i in 0..100 {
            s.sample(format!("e{i}"));
        }
        assert_eq!(s.samples.len(), MAX_SAMPLES);
        s.prefill_errors = 1;
        assert!(s.failed());
    }
}
