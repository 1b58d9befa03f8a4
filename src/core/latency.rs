//! One core's latency monitor (Redis's LATENCY): for each event that took at
//! least `latency-monitor-threshold` milliseconds, the worst sample of each
//! second, the last [`SAMPLES`] of them, and the worst ever. LATENCY gathers
//! every core's series and merges them per event (the worst of a second on
//! any core).
//!
//! Events are named as Redis names them (`command`, `fast-command`, ...).
//! This file never measures anything: the code that sees a slow event hands
//! its duration here.

use std::collections::VecDeque;

/// Samples kept per event, as Redis (`LATENCY_TS_LEN`).
pub const SAMPLES: usize = 160;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    /// (unix second, milliseconds), oldest first, one per second.
    pub samples: VecDeque<(u64, u64)>,
    /// The worst ever (since the last reset).
    pub max: u64,
}

impl Series {
    fn add(&mut self, at: u64, ms: u64) {
        self.max = self.max.max(ms);
        if let Some(last) = self.samples.back_mut() {
            if last.0 == at {
                last.1 = last.1.max(ms);
                return;
            }
        }
        self.samples.push_back((at, ms));
        if self.samples.len() > SAMPLES {
            self.samples.pop_front();
        }
    }

    fn merge(&mut self, o: &Series) {
        self.max = self.max.max(o.max);
        let mut all: Vec<(u64, u64)> = self.samples.iter().chain(&o.samples).copied().collect();
        all.sort_unstable();
        let mut merged: VecDeque<(u64, u64)> = VecDeque::with_capacity(all.len());
        for (at, ms) in all {
            match merged.back_mut() {
                Some(last) if last.0 == at => last.1 = last.1.max(ms),
                _ => merged.push_back((at, ms)),
            }
        }
        while merged.len() > SAMPLES {
            merged.pop_front();
        }
        self.samples = merged;
    }

    /// The latest sample (second, milliseconds).
    pub fn latest(&self) -> Option<(u64, u64)> {
        self.samples.back().copied()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyMonitor {
    /// In the order events were first seen.
    pub events: Vec<(String, Series)>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl LatencyMonitor {
    fn series(&mut self, event: &str) -> &mut Series {
        let i = match self.events.iter().position(|(e, _)| e == event) {
            Some(i) => i,
            None => {
                self.events.push((event.to_owned(), Series::default()));
                self.events.len() - 1
            }
        };
        &mut self.events[i].1
    }

    /// `event` took `ms` milliseconds now.
    pub fn add(&mut self, event: &str, ms: u64) {
        self.add_at(event, unix_now(), ms);
    }

    pub fn add_at(&mut self, event: &str, at: u64, ms: u64) {
        self.series(event).add(at, ms);
    }

    /// Add another core's series to these.
    pub fn merge(&mut self, o: &LatencyMonitor) {
        for (event, s) in &o.events {
            self.series(event).merge(s);
        }
    }

    pub fn get(&self, event: &str) -> Option<&Series> {
        self.events.iter().find(|(e, _)| e == event).map(|(_, s)| s)
    }

    /// LATENCY RESET: forget these events (all when empty); how many there were.
    pub fn reset(&mut self, events: &[String]) -> usize {
        let before = self.events.len();
        if events.is_empty() {
            self.events.clear();
        } else {
            self.events.retain(|(e, _)| !events.iter().any(|x| x == e));
        }
        before - self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_a_second_the_worst_kept() {
        let mut m = LatencyMonitor::default();
        m.add_at("command", 100, 5);
        m.add_at("command", 100, 9);
        m.add_at("command", 100, 2);
        m.add_at("command", 101, 3);
        let s = m.get("command").cloned().unwrap_or_default();
        assert_eq!(s.samples, VecDeque::from(vec![(100, 9), (101, 3)]));
        assert_eq!((s.max, s.latest()), (9, Some((101, 3))));
    }

    #[test]
    fn keeps_the_last_samples_and_merges_cores() {
        let mut a = LatencyMonitor::default();
        for t in 0..(SAMPLES as u64 + 10) {
            a.add_at("command", t, t);
        }
        assert_eq!(a.get("command").map(|s| s.samples.len()), Some(SAMPLES));
        let mut b = LatencyMonitor::default();
        b.add_at("command", 20, 1000);
        b.add_at("fast-command", 5, 7);
        let mut total = LatencyMonitor::default();
        total.merge(&a);
        total.merge(&b);
        let s = total.get("command").cloned().unwrap_or_default();
        assert_eq!(s.max, 1000);
        assert!(s.samples.contains(&(20, 1000)));
        assert_eq!(s.samples.len(), SAMPLES);
        assert_eq!(total.reset(&["fast-command".into(), "nope".into()]), 1);
        assert_eq!(total.reset(&[]), 1);
    }
}
