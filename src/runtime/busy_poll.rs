//! The busy poll: whether a core's ring driver spins, awake, for the next
//! completion before it naps in the kernel, and for how long (`busy-poll-us`).
//! It owns the setting, the core's recent idleness and the hit counter; it
//! never touches the ring (the driver spins, `driver::SocketRing::spin`).

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// How long a nap spins before it sleeps (`busy-poll-us`; see [`set_busy_poll`]).
    static BUSY_POLL: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    /// Spins that ended with work arriving: a sleep and a wake-up saved.
    static BUSY_POLL_HITS: Cell<u64> = const { Cell::new(0) };
}

/// How long this core's driver spins, awake, after its last completion before
/// it naps in the kernel (0: never). A core that sleeps between requests pays
/// for a wake-up on every request that finds it asleep: on a VM, where an idle
/// vCPU halts, a single client's round trip was 55 µs against 31 µs with a
/// 20 µs spin, for the same server CPU per request. The spin yields the CPU to
/// any other thread that wants it, so it only fills time nobody else uses.
pub fn set_busy_poll(micros: u64) {
    BUSY_POLL.with(|b| b.set(Duration::from_micros(micros)));
}

/// Spins on this core that ended with work arriving (INFO `busy_poll_hits`).
pub fn busy_poll_hits() -> u64 {
    BUSY_POLL_HITS.with(Cell::get)
}

fn spin_window() -> Duration {
    BUSY_POLL.with(Cell::get)
}

/// How often the busy poll looks at how idle its core was.
const LOAD_PERIOD: Duration = Duration::from_millis(5);

/// Involuntary switches in one period that say the core shares its CPU:
/// the kernel's own threads take a pinned core's CPU now and then (about 50
/// times a second under a single client here), clients that share it take
/// it every few hundred microseconds (2,400 times a second in the cross-core
/// ping-pong).
const SHARED_SWITCHES: u64 = 3;

/// Periods a core does not spin after another thread took its CPU: clients
/// that share it come and go, and one spin in their way costs more than
/// many spins save.
const SHARED_PERIODS: u32 = 200;

/// The busy poll's state. A core spins only while it was idle (spinning,
/// napping or parked) for at least a quarter of the last [`LOAD_PERIOD`] and
/// no other thread took its CPU from it meanwhile:
/// - on a busy core a spin catches each request the moment it comes, so the
///   core answers in smaller batches than the ones a nap gathers (at
///   pipeline 16 that measured 7% fewer GETs per second);
/// - where the core shares its CPU with other threads (its clients, on a
///   2-CPU machine with `--cores 2`), a spin keeps them from the CPU they
///   need to answer it (a cross-core BRPOP ping-pong beside a busy process
///   on one CPU went from 0.4 to 8 ms per cycle). A yield that handed the
///   CPU over counts as an involuntary switch of the core's thread, which is
///   how the poll tells. A clean re-run showed no slowdown across cores; a
///   server of several cores still spins only when `busy-poll-us` is set
///   (`config`) until that default is changed and tested.
pub struct BusyPoll {
    /// When the driver last reaped a completion: a spin lasts the window from it.
    busy_at: Cell<Instant>,
    /// Time spent spinning, napping or parked since `since`.
    idle: Cell<Duration>,
    since: Cell<Instant>,
    /// The thread's involuntary switches at `since`.
    switches: Cell<u64>,
    /// Periods left before a core that shared its CPU may spin again.
    shared: Cell<u32>,
    on: Cell<bool>,
}

impl Default for BusyPoll {
    fn default() -> BusyPoll {
        let now = Instant::now();
        BusyPoll {
            busy_at: Cell::new(now),
            idle: Cell::new(Duration::ZERO),
            since: Cell::new(now),
            switches: Cell::new(involuntary_switches()),
            shared: Cell::new(0),
            on: Cell::new(false),
        }
    }
}

impl BusyPoll {
    /// `busy-poll-us` is not 0 on this core.
    pub fn enabled(&self) -> bool {
        !spin_window().is_zero()
    }

    /// The driver reaped completions at `now` (called only while enabled: a
    /// core that starts spinning again judges itself after one period).
    pub fn worked(&self, now: Instant) {
        self.busy_at.set(now);
        if now.saturating_duration_since(self.since.get()) >= LOAD_PERIOD {
            self.review(now, involuntary_switches());
        }
    }

    /// Judge the period that ends `now`, given the thread's involuntary
    /// switches so far.
    fn review(&self, now: Instant, switches: u64) {
        let period = now.saturating_duration_since(self.since.get());
        if switches.saturating_sub(self.switches.get()) >= SHARED_SWITCHES {
            self.shared.set(SHARED_PERIODS);
        } else {
            self.shared.set(self.shared.get().saturating_sub(1));
        }
        self.on
            .set(self.shared.get() == 0 && self.idle.get() * 4 >= period);
        self.idle.set(Duration::ZERO);
        self.since.set(now);
        self.switches.set(switches);
    }

    pub fn idled(&self, began: Instant) {
        self.idle.set(self.idle.get() + began.elapsed());
    }

    /// Until when a nap starting now may spin, if at all.
    pub fn spin_until(&self) -> Option<Instant> {
        let window = spin_window();
        (!window.is_zero() && self.on.get()).then(|| self.busy_at.get() + window)
    }
}

/// How many times the kernel took this thread's CPU while it could run
/// (preempted, or a yield that gave the CPU to another thread).
fn involuntary_switches() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` into the zeroed storage it is given.
    let r = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if r != 0 {
        return 0;
    }
    // SAFETY: zeroed is a valid rusage, and getrusage filled it in.
    unsafe { usage.assume_init() }.ru_nivcsw as u64
}

/// A spin saw work come.
pub(super) fn hit() {
    BUSY_POLL_HITS.with(|h| h.set(h.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_only_on_an_idle_core_alone_on_its_cpu_and_only_when_set() {
        set_busy_poll(20);
        let p = BusyPoll::default();
        let t0 = p.since.get();
        let n = p.switches.get();
        let ms = Duration::from_millis;
        // Not judged yet: a new core does not spin.
        assert_eq!(p.spin_until(), None);
        // 4 ms idle of the first 6, alone: spins for 20 µs from its last work.
        p.idled(Instant::now() - ms(4));
        let t1 = t0 + ms(6);
        p.busy_at.set(t1);
        p.review(t1, n);
        assert_eq!(p.spin_until(), Some(t1 + Duration::from_micros(20)));
        // Within a period, work only moves the spin's start.
        let t2 = t1 + ms(1);
        p.worked(t2);
        assert_eq!(p.spin_until(), Some(t2 + Duration::from_micros(20)));
        // Busy for the whole next period: no spin.
        p.review(t1 + ms(6), n);
        assert_eq!(p.spin_until(), None);
        // 1 ms idle of 6 (under a quarter): still none.
        p.idled(Instant::now() - ms(1));
        p.review(t1 + ms(12), n);
        assert_eq!(p.spin_until(), None);
        // Idle, and the kernel took the CPU once: spins.
        p.idled(Instant::now() - ms(5));
        p.review(t1 + ms(15), n + 1);
        assert!(p.spin_until().is_some());
        // Idle, but other threads took the CPU again and again: none.
        p.idled(Instant::now() - ms(5));
        p.review(t1 + ms(18), n + 1 + SHARED_SWITCHES);
        assert_eq!(p.spin_until(), None);
        // Alone again: not for a while (a second of periods).
        let mut t = t1 + ms(18);
        for _ in 0..SHARED_PERIODS - 1 {
            t += ms(6);
            p.idled(Instant::now() - ms(5));
            p.review(t, n + 1 + SHARED_SWITCHES);
            assert_eq!(p.spin_until(), None);
        }
        t += ms(6);
        p.idled(Instant::now() - ms(5));
        p.review(t, n + 1 + SHARED_SWITCHES);
        assert!(p.spin_until().is_some());
        // But busy-poll-us 0: never.
        set_busy_poll(0);
        assert_eq!(p.spin_until(), None);
        set_busy_poll(20);
        assert!(p.spin_until().is_some());
        assert_eq!(busy_poll_hits(), 0);
        hit();
        assert_eq!(busy_poll_hits(), 1);
    }
}
