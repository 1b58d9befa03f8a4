//! One core's per-command counters: calls, time, calls refused before they
//! ran and calls that answered an error, a latency histogram per command, and
//! the error codes of every error reply — what INFO `commandstats`,
//! `errorstats` and `latencystats` and LATENCY HISTOGRAM report once the
//! command layer has gathered every core's copy and added them up.
//!
//! Commands are known here only by their index in the command table, so this
//! layer never depends on the command layer. It never reads a clock: callers
//! pass a duration only when some consumer wants one, so counting costs one
//! add per command when every timing consumer is off.

use hdrhistogram::Histogram;

/// Redis's bounds for a command's latency histogram: 1 ns to 1 s at 2
/// significant figures (longer calls count as 1 s).
const HIST_LOW_NS: u64 = 1;
const HIST_HIGH_NS: u64 = 1_000_000_000;
const HIST_SIGFIG: u8 = 2;

/// Distinct error codes kept, as Redis's errorstats table: one more code
/// than fits is counted under [`OVERFLOW_CODE`] instead, so a client that
/// invents codes (a script's `redis.error_reply`) cannot grow it without end.
pub const MAX_ERROR_CODES: usize = 128;
pub const OVERFLOW_CODE: &str = "ERRORSTATS_OVERFLOW";

/// An empty latency histogram, in nanoseconds (every command's has these bounds).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(HIST_LOW_NS, HIST_HIGH_NS, HIST_SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// One command's counters.
#[derive(Clone, Debug, Default)]
pub struct CommandStat {
    pub calls: u64,
    /// Nanoseconds spent in timed calls (only timed calls add to it).
    pub nanos: u64,
    /// Refused before running: wrong arity, not authenticated, loading, OOM...
    pub rejected: u64,
    /// Ran and answered an error.
    pub failed: u64,
    /// Latency of the timed calls, when `latency-tracking` is on.
    pub latency: Option<Box<Histogram<u64>>>,
}

impl CommandStat {
    fn merge(&mut self, o: &CommandStat) {
        self.calls += o.calls;
        self.nanos += o.nanos;
        self.rejected += o.rejected;
        self.failed += o.failed;
        if let Some(h) = &o.latency {
            match &mut self.latency {
                Some(mine) => {
                    // Same bounds on every core: adding cannot fail.
                    let _ = mine.add(h.as_ref());
                }
                None => self.latency = Some(h.clone()),
            }
        }
    }

    /// The counters alone.
    fn clone_counts(&self) -> CommandStat {
        CommandStat {
            calls: self.calls,
            nanos: self.nanos,
            rejected: self.rejected,
            failed: self.failed,
            latency: None,
        }
    }

    /// Nothing was counted (nothing to report).
    pub fn is_empty(&self) -> bool {
        self.calls == 0 && self.rejected == 0 && self.failed == 0
    }
}

/// A core's counters, and (added up) the server's.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    /// By command-table index.
    pub commands: Vec<CommandStat>,
    /// Error code (the reply's first word) → replies, in first-seen order.
    pub errors: Vec<(Box<str>, u64)>,
    /// Every error reply (Redis's `total_error_replies`).
    pub error_replies: u64,
}

impl CommandStats {
    fn slot(&mut self, cmd: usize) -> &mut CommandStat {
        if cmd >= self.commands.len() {
            self.commands.resize_with(cmd + 1, CommandStat::default);
        }
        &mut self.commands[cmd]
    }

    /// The latency histograms of the commands `pick` chooses, added up, and
    /// the nanoseconds they hold (None: none of them was timed).
    pub fn latency_of(&self, pick: impl Fn(usize) -> bool) -> Option<(Histogram<u64>, u64)> {
        let mut merged: Option<(Histogram<u64>, u64)> = None;
        for (i, s) in self.commands.iter().enumerate() {
            let Some(h) = s.latency.as_deref().filter(|_| pick(i)) else {
                continue;
            };
            let (all, nanos) = merged.get_or_insert_with(|| (histogram(), 0));
            // Same bounds on every histogram: adding cannot fail.
            let _ = all.add(h);
            *nanos += s.nanos;
        }
        merged
    }

    /// Command `cmd` ran, untimed, and answered no error.
    #[inline]
    pub fn count(&mut self, cmd: usize) {
        match self.commands.get_mut(cmd) {
            Some(s) => s.calls += 1,
            None => self.slot(cmd).calls += 1,
        }
    }

    /// Command `cmd` ran; it took `nanos` when timed, and with `track` its
    /// latency goes into its histogram too.
    #[inline]
    pub fn called(&mut self, cmd: usize, failed: bool, nanos: Option<u64>, track: bool) {
        let s = self.slot(cmd);
        s.calls += 1;
        s.failed += u64::from(failed);
        if let Some(ns) = nanos {
            s.nanos += ns;
            if track {
                let h = s.latency.get_or_insert_with(|| Box::new(histogram()));
                h.saturating_record(ns.max(HIST_LOW_NS));
            }
        }
    }

    /// Command `cmd` (None: a name nobody knows) was refused before it ran.
    pub fn rejected(&mut self, cmd: Option<usize>) {
        if let Some(cmd) = cmd {
            self.slot(cmd).rejected += 1;
        }
    }

    /// An error reply `text` went out: count its code (Redis: the first word).
    pub fn error(&mut self, text: &str) {
        self.error_replies += 1;
        let code = text.split(' ').next().unwrap_or("ERR");
        self.add_error(code, 1);
    }

    fn add_error(&mut self, code: &str, n: u64) {
        if let Some((_, c)) = self.errors.iter_mut().find(|(k, _)| &**k == code) {
            *c += n;
            return;
        }
        // The last place is kept for the overflow entry.
        if self.errors.len() >= MAX_ERROR_CODES - 1 && code != OVERFLOW_CODE {
            return self.add_error(OVERFLOW_CODE, n);
        }
        self.errors.push((code.into(), n));
    }

    /// Add another core's counters to these.
    pub fn merge(&mut self, o: &CommandStats) {
        for (i, s) in o.commands.iter().enumerate() {
            if !s.is_empty() {
                self.slot(i).merge(s);
            }
        }
        for (code, n) in &o.errors {
            self.add_error(code, *n);
        }
        self.error_replies += o.error_replies;
    }

    /// A copy without the latency histograms (24 KB a timed command): what
    /// INFO's commandstats and errorstats need.
    pub fn without_histograms(&self) -> CommandStats {
        CommandStats {
            commands: self
                .commands
                .iter()
                .map(CommandStat::clone_counts)
                .collect(),
            errors: self.errors.clone(),
            error_replies: self.error_replies,
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = CommandStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_time_errors_and_merges() {
        let mut a = CommandStats::default();
        a.called(3, false, Some(2_000), true);
        a.called(3, true, Some(4_000), true);
        a.called(1, false, None, true);
        a.rejected(Some(3));
        a.rejected(None);
        a.error("WRONGTYPE Operation against a key");
        a.error("ERR syntax error");
        let mut b = CommandStats::default();
        b.called(3, false, Some(6_000), false);
        b.error("ERR other");
        let mut total = CommandStats::default();
        total.merge(&a);
        total.merge(&b);
        let s = &total.commands[3];
        assert_eq!((s.calls, s.failed, s.rejected, s.nanos), (3, 1, 1, 12_000));
        assert_eq!(s.latency.as_ref().map(|h| h.len()), Some(2));
        assert_eq!(total.commands[1].calls, 1);
        assert!(total.commands[1].latency.is_none());
        assert_eq!(total.error_replies, 3);
        let light = total.without_histograms();
        assert!(light.commands.iter().all(|s| s.latency.is_none()));
        assert_eq!(
            (light.commands[3].calls, light.commands[3].nanos),
            (3, 12_000)
        );
        assert_eq!((light.errors.len(), light.error_replies), (2, 3));
        assert_eq!(
            total.errors,
            vec![("WRONGTYPE".into(), 1), ("ERR".into(), 2)]
        );
        total.reset();
        assert!(total.commands.is_empty() && total.errors.is_empty());
    }

    #[test]
    fn error_codes_past_the_limit_share_one_entry() {
        let mut s = CommandStats::default();
        for i in 0..MAX_ERROR_CODES + 5 {
            s.error(&format!("CODE{i} x"));
        }
        assert_eq!(s.errors.len(), MAX_ERROR_CODES);
        // The overflow entry took the last place and holds the rest.
        let last = s.errors.last().cloned();
        assert_eq!(last, Some((OVERFLOW_CODE.into(), 6)));
    }

    #[test]
    fn a_call_longer_than_the_histogram_counts_at_its_top() {
        let mut s = CommandStats::default();
        s.called(0, false, Some(5_000_000_000), true);
        let h = s.commands[0].latency.as_ref().map(|h| h.max());
        assert!(h.is_some_and(|m| m >= HIST_HIGH_NS / 2));
    }
}
