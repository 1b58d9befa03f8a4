//! A cheap monotonic clock for timing what a core runs (a command's
//! duration for INFO `commandstats`, the latency histograms, SLOWLOG): the
//! CPU's time-stamp counter where the kernel keeps its own time with it
//! (clocksource `tsc`: the kernel checked that it is invariant and agrees
//! across CPUs), else `Instant`. A command is timed once; at pipeline 16
//! `Instant::now` (a vDSO `clock_gettime`) was 5% of a core's samples, one
//! `rdtsc` is a few cycles. It never tells the time of day and must never
//! stand in for a deadline or a timer: those keep `Instant` and the ring's
//! timeouts.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A moment on this clock: counter ticks (or nanoseconds since [`EPOCH`]
/// where the counter is not used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick(u64);

/// Nanoseconds per counter tick, or `None` to read `Instant` instead.
static SCALE: OnceLock<Option<f64>> = OnceLock::new();
/// The zero of the `Instant` fallback.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// How long the counter is measured against `Instant` to learn its rate:
/// once per process, at start (`calibrate`), off any request's path.
const CALIBRATION: Duration = Duration::from_millis(10);

/// Learn the counter's rate now (a 10 ms spin), so that no command pays for
/// it; [`now`] does it on first use otherwise.
pub fn calibrate() {
    scale();
}

fn scale() -> Option<f64> {
    *SCALE.get_or_init(|| {
        EPOCH.get_or_init(Instant::now);
        if !kernel_uses_tsc() {
            return None;
        }
        let (i0, c0) = (Instant::now(), counter()?);
        while i0.elapsed() < CALIBRATION {
            std::hint::spin_loop();
        }
        let (i1, c1) = (Instant::now(), counter()?);
        let ticks = c1.checked_sub(c0).filter(|&t| t > 0)?;
        Some((i1 - i0).as_nanos() as f64 / ticks as f64)
    })
}

/// Whether the kernel's clocksource is the time-stamp counter.
fn kernel_uses_tsc() -> bool {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|s| s.trim() == "tsc")
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn counter() -> Option<u64> {
    // SAFETY: `rdtsc` exists on every x86_64 CPU, reads a register and
    // touches no memory.
    Some(unsafe { core::arch::x86_64::_rdtsc() })
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn counter() -> Option<u64> {
    None
}

/// Now.
#[inline]
pub fn now() -> Tick {
    match scale() {
        Some(_) => Tick(counter().unwrap_or(0)),
        None => Tick(fallback()),
    }
}

fn fallback() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
}

impl Tick {
    /// The time from `earlier` to this moment (zero if `earlier` is later).
    #[inline]
    pub fn since(self, earlier: Tick) -> Duration {
        let d = self.0.saturating_sub(earlier.0);
        match scale() {
            Some(ns) => Duration::from_nanos((d as f64 * ns) as u64),
            None => Duration::from_nanos(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_instant_and_never_goes_back() {
        calibrate();
        let (t0, i0) = (now(), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (t1, i1) = (now(), Instant::now());
        let ours = t1.since(t0).as_secs_f64();
        let std = (i1 - i0).as_secs_f64();
        assert!(
            (ours - std).abs() < 0.002 + std * 0.01,
            "clock measured {ours} s where Instant measured {std} s"
        );
        assert_eq!(t0.since(t1), Duration::ZERO);
        let mut last = now();
        for _ in 0..10_000 {
            let t = now();
            assert!(t >= last);
            last = t;
        }
    }

    #[test]
    fn the_fallback_counts_nanoseconds() {
        let a = Tick(fallback());
        std::thread::sleep(Duration::from_millis(5));
        let b = Tick(fallback());
        assert!(b.0 - a.0 >= 5_000_000);
    }
}
