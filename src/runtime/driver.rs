//! The socket ring's driver: one glommio task per core ([`SocketRing::drive`])
//! that submits what connections queued, reaps completions and wakes their
//! tasks. glommio stays the executor: connection tasks await ring operations
//! like any future. Between requests the driver first spins awake for a
//! moment ([`busy_poll`](super::busy_poll)), then *naps* in its ring (one syscall, bounded
//! by `NAP_MAX`) while nothing else on the core wants to run; a peer core's
//! mesh packet rings the core's bell (`bell`) to end the nap, and on a busy
//! core makes the driver step aside until glommio has read it
//! ([`let_peers_in`]). With nothing in flight, or once the nap window is
//! used up, it parks *in glommio* on an eventfd registered on the ring, so
//! glommio's timers and channels get their turn. glommio 0.9 has no public
//! "wait until this fd is readable", so `wait_readable` borrows its socket
//! readiness machinery (see there). A park lasts at most `PARK_MAX`, a
//! safety net: the kernel signals the eventfd only for completions that reach
//! the CQ (not for ones in its overflow list), so the driver looks again by
//! itself and logs a warning when completions or peers' packets were waiting.
//! The cores that once slept for seconds with requests received and
//! unanswered (a soak; issue 14's silences and slow starts under CPU
//! contention) were glommio 0.9.0 parking with runnable tasks queued, fixed in
//! `vendor/glommio` (vendor/README.md).
//!
//! It also owns this thread's handle to its ring, through which tasks that
//! hold no ring reach it: [`poke`], [`let_peers_in`], and `timer::sleep`. It
//! never parses a byte and never touches the keyspace.

use io_uring::{opcode, types};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::bell::{READ, READ_NOTIFY};
use super::buf::Buf;
use super::ops::Op;
use super::ring::SocketRing;
use super::task::POLLS;

thread_local! {
    /// This core's ring, for [`poke`], [`let_peers_in`] and `timer::sleep`.
    pub(super) static DRIVER: RefCell<std::rc::Weak<SocketRing>> = const { RefCell::new(std::rc::Weak::new()) };
}

/// The longest [`let_peers_in`] waits for the mesh receivers to read what
/// peers sent; only reached if some task kept glommio busy all that time.
const READ_WAIT_MAX: Duration = Duration::from_millis(1);

/// If peers sent this core packets its mesh receivers have not read yet, wait
/// (do not just yield) until they have: call it where a task would otherwise
/// stay ready for long — the ring's driver while it has completions to reap,
/// a background loop between slices (`pace`).
///
/// glommio wakes a shared channel's receiver only when it polls its reactor,
/// and it does that only once no task is ready (or when its preemption timer
/// fires, every 100 ms). On a busy core some task is always ready, so a
/// forwarded request, a pull's answer or a migration batch waited up to
/// 100 ms, and every request behind it with it (a `--cores 2` server under
/// load answered at a third of its speed, and moving a 1M-key shard held
/// requests for seconds). Once every such task waits here, the ready ones
/// finish their turn, glommio polls, and the receivers run. Costs one turn of
/// glommio's loop when packets came, two atomic loads when none did.
pub async fn let_peers_in() {
    let Some(sent) = DRIVER.with(|d| {
        d.borrow()
            .upgrade()
            .map(|r| r.bell.sent.load(Ordering::SeqCst))
    }) else {
        return;
    };
    if READ.with(Cell::get) >= sent {
        return;
    }
    let give_up = glommio::timer::sleep(READ_WAIT_MAX);
    futures_lite::pin!(give_up);
    while READ.with(Cell::get) < sent {
        let read =
            std::future::poll_fn(|cx| READ_NOTIFY.with(|n| std::pin::pin!(n.wait()).poll(cx)));
        let gave_up = futures_lite::future::or(
            async {
                read.await;
                false
            },
            async {
                (&mut give_up).await;
                true
            },
        )
        .await;
        if gave_up {
            return;
        }
    }
}

/// How long the driver may nap in its own ring before it parks through
/// glommio, which is what checks glommio's timers and cross-core channels.
/// Bounds how late a timer can fire while the core naps (a cross-core message
/// rings the bell instead).
const NAP_MAX: Duration = Duration::from_millis(1);

/// The longest the driver parks through glommio before it looks at its ring
/// again by itself: a bound on any completion whose eventfd signal never
/// comes (the kernel signals only completions that reach the CQ itself).
const PARK_MAX: Duration = Duration::from_millis(10);

/// Wake this core's ring driver so it reaps completions now. With nothing to
/// reap, the driver waits on the ring's eventfd through glommio's reactor, which
/// glommio polls only when no task is ready (or every 100 ms): a background
/// loop that keeps yielding (a split, a migration, see `pace`) calls this
/// between its slices, so replies never wait for the reactor.
pub fn poke() {
    DRIVER.with(|d| {
        if let Some(ring) = d.borrow().upgrade() {
            ring.work.notify();
        }
    });
}

/// Let the kernel finish this core's completed operations now rather than
/// at the driver's next turn (see `SocketRing::run_kernel_work`). The log
/// calls it while a durable write has replies waiting: io_uring completes a
/// direct write in the thread that submitted it, and the sync linked to it
/// starts only then, so on a busy core the sync waited for every other
/// connection's turn (116 µs median, traced).
pub fn hurry() {
    DRIVER.with(|d| {
        if let Some(ring) = d.borrow().upgrade() {
            ring.run_kernel_work();
        }
    });
}

impl SocketRing {
    /// Start this thread's driver ([`Self::drive`]) as a detached task.
    pub fn start(self: &Rc<Self>) {
        glommio::spawn_local(self.clone().drive()).detach();
    }

    /// The driver: run this once per core as a glommio task for as long as the
    /// core serves connections.
    ///
    /// With nothing completed it first *naps* in its own ring (an
    /// `io_uring_enter` that waits for one completion, up to `NAP_MAX`) when
    /// nothing else on the core wants to run; only then does it park through
    /// glommio. Parking through glommio costs several syscalls each time
    /// (glommio re-arms its preemption timers, links its rings, then this
    /// module waits on the ring's eventfd): at a few requests per wake-up that
    /// was a quarter of the server's CPU. A nap is one syscall. A peer's mesh
    /// packet rings this core's [`Bell`](super::bell::Bell), which ends the nap; on every turn,
    /// napping or not, a rung bell makes the driver wait in [`let_peers_in`]
    /// until glommio has handed the packets to the mesh receivers.
    ///
    /// Spawn it with [`Self::start`], not [`spawn`](super::task::spawn): its own polls must not
    /// count as other work, or it would never nap.
    pub async fn drive(self: Rc<Self>) {
        DRIVER.with(|d| *d.borrow_mut() = Rc::downgrade(&self));
        let mut bell_read: Option<Op> = None;
        let mut parked_at = Instant::now();
        loop {
            if self.bell.pending.load(Ordering::Relaxed)
                && self.bell.pending.swap(false, Ordering::SeqCst)
            {
                let_peers_in().await;
            }
            self.enter();
            let reaped = self.reap();
            // No clock read per turn while the busy poll is off.
            if reaped > 0 && self.busy_poll.enabled() {
                self.busy_poll.worked(Instant::now());
            }
            if reaped > 0 || !self.ring.borrow_mut().submission().is_empty() {
                // Let the woken connections run, then come back for their submissions.
                futures_lite::future::yield_now().await;
                continue;
            }
            if self.in_flight.get() == 0 {
                self.work.wait().await;
                continue;
            }
            if self.nap(&mut bell_read, parked_at).await {
                continue;
            }
            // The eventfd is on only while parked: signalling it for every
            // completion cost the kernel a wake-up attempt per request. A
            // completion that came before it was turned on is caught by the
            // second look.
            //
            // A peer's packet wakes the park through the bell as it wakes a
            // nap, not only through glommio's channel: soaks showed a core
            // parked for 10 ms with a packet in its channel (and, before parks
            // were bounded, everything stalled for seconds).
            if self.arm_bell(&mut bell_read).await {
                continue;
            }
            self.set_eventfd(true);
            self.enter();
            if self.reap() > 0 {
                self.set_eventfd(false);
                continue;
            }
            if !self.bell.fall_asleep() {
                self.set_eventfd(false);
                continue;
            }
            let park_began = Instant::now();
            let gave_up = futures_lite::future::or(
                async {
                    futures_lite::future::or(
                        self.work.wait(),
                        wait_readable(self.eventfd.as_raw_fd()),
                    )
                    .await;
                    false
                },
                async {
                    glommio::timer::sleep(PARK_MAX).await;
                    true
                },
            )
            .await;
            self.bell.wake_up();
            self.busy_poll.idled(park_began);
            self.set_eventfd(false);
            if gave_up {
                self.look_after_park(park_began.elapsed()).await;
            }
            parked_at = Instant::now();
            self.take_eventfd();
        }
    }

    /// The park ran out: if completions (or peers' packets) were waiting all
    /// the same, their wake-up never came. Say so (the first few times), with
    /// whether the ring's eventfd had been signalled, and reap.
    ///
    /// Every wake-up of a park goes through the ring's eventfd: a socket's
    /// completion signals it, and so does a peer's packet (its bell's read
    /// completes). So a packet sent while the core was parked shows as a
    /// completion (its bell's read), and one counted as unread but without a
    /// completion came after the park ended (a peer sending just as the timer
    /// fired): no missed wake-up, yet it raised this warning
    /// (`unread_packets=1`); such packets are read here (`let_peers_in`) and
    /// no longer counted. A completion waiting with the eventfd unsignalled is
    /// the kernel's miss (`signalled=false`); with it signalled, glommio's poll
    /// of the eventfd lagged (`signalled=true`): seen once in 90 s of two busy
    /// loops on the server's CPUs, never on a quiet machine.
    async fn look_after_park(&self, parked_for: Duration) {
        let sent = self.bell.sent.load(Ordering::SeqCst);
        let (waiting, overflowed) = {
            let mut ring = self.ring.borrow_mut();
            let waiting = ring.completion().len();
            let overflowed = ring.submission().cq_overflow();
            (waiting, overflowed)
        };
        let signalled = self.take_eventfd() > 0;
        let_peers_in().await;
        let unread = sent.saturating_sub(READ.with(Cell::get));
        self.enter();
        self.reap();
        if waiting > 0 || overflowed {
            let times = self.missed_wakes.get() + 1;
            self.missed_wakes.set(times);
            if times <= 10 || times.is_power_of_two() {
                tracing::warn!(
                    completions = waiting,
                    overflowed,
                    unread_packets = unread,
                    signalled,
                    parked_ms = parked_for.as_millis() as u64,
                    times,
                    "core parked for {PARK_MAX:?} while completions or peers' packets were waiting"
                );
            }
        }
    }

    /// Read (and reset) the ring's eventfd: how many signals it got.
    fn take_eventfd(&self) -> u64 {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `count`; the eventfd is non-blocking.
        let n = unsafe { libc::read(self.eventfd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        if n == 8 {
            u64::from_ne_bytes(count)
        } else {
            0
        }
    }

    fn set_eventfd(&self, on: bool) {
        let mut ring = self.ring.borrow_mut();
        if on {
            ring.completion().enable_eventfd();
        } else {
            ring.completion().disable_eventfd();
        }
    }

    /// Wait for a completion in this ring, if nothing else on the core wants to
    /// run and glommio was last given the core less than [`NAP_MAX`] ago. True
    /// when there is ring work to do now; false when the driver should park
    /// through glommio (the bell rang, the window ran out, or glommio wants the
    /// core back).
    async fn nap(self: &Rc<Self>, bell_read: &mut Option<Op>, parked_at: Instant) -> bool {
        let polls = POLLS.with(Cell::get);
        // Every task queued before this one runs first.
        futures_lite::future::yield_now().await;
        if POLLS.with(Cell::get) != polls || !self.ring.borrow_mut().submission().is_empty() {
            return true;
        }
        let Some(window) = NAP_MAX.checked_sub(parked_at.elapsed()) else {
            return false;
        };
        if glommio::executor().need_preempt() {
            return false;
        }
        if self.arm_bell(bell_read).await {
            // It rang since the last nap: the loop lets glommio read the packet.
            return true;
        }
        self.enter();
        if self.reap() > 0 {
            return true;
        }
        let began = Instant::now();
        if self.spin() {
            self.busy_poll.idled(began);
            return true;
        }
        if !self.bell.fall_asleep() {
            // A packet came before the nap could be seen: no nap; the loop
            // lets glommio read it.
            return true;
        }
        let ts = types::Timespec::from(window);
        let args = types::SubmitArgs::new().timespec(&ts);
        let r = self
            .ring
            .borrow_mut()
            .submitter()
            .submit_with_args(1, &args);
        self.bell.wake_up();
        self.busy_poll.idled(began);
        if let Err(e) = r {
            if !matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) {
                tracing::error!(error = %e, "socket ring nap failed");
            }
        }
        let reaped = self.reap();
        self.bell_rang(bell_read).await || reaped > 0
    }

    /// Spin (awake, no syscall) for up to the spin window after the last
    /// completion, watching the ring for completions or completion work.
    /// True when some came. A peer's packet is not watched for: it waits for
    /// the spin's end, when `fall_asleep` sees it.
    fn spin(&self) -> bool {
        let Some(until) = self.busy_poll.spin_until() else {
            return false;
        };
        let mut turns = 0u32;
        loop {
            let came = {
                let mut ring = self.ring.borrow_mut();
                ring.submission().taskrun() || !ring.completion().is_empty()
            };
            if came {
                super::busy_poll::hit();
                return true;
            }
            turns += 1;
            if turns.is_multiple_of(32) {
                if Instant::now() >= until {
                    return false;
                }
                // Whatever else wants this CPU (a client, the kernel's
                // workers) gets it: a spin only fills time nobody wants.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Keep a read of the bell in the kernel, so that a peer's ring ends a nap
    /// or a park. True when the last read had completed: the bell rang.
    async fn arm_bell(self: &Rc<Self>, bell_read: &mut Option<Op>) -> bool {
        let rang = self.bell_rang(bell_read).await;
        if bell_read.is_none() {
            *bell_read = Some(self.read_bell());
        }
        rang
    }

    /// True (and the read is gone) when the bell's read has completed.
    async fn bell_rang(&self, bell_read: &mut Option<Op>) -> bool {
        let Some(op) = bell_read.as_mut() else {
            return false;
        };
        if futures_lite::future::poll_once(op).await.is_none() {
            return false;
        }
        *bell_read = None;
        self.bell_armed.set(false);
        true
    }

    /// Read this core's bell: completes when a peer rings it.
    fn read_bell(self: &Rc<Self>) -> Op {
        self.bell_armed.set(true);
        let mut buf = Buf::Vec(Vec::with_capacity(8));
        let (ptr, _) = buf.ptr_len();
        let sqe = opcode::Read::new(types::Fd(self.bell.fd.as_raw_fd()), ptr, 8).build();
        self.submit(sqe, buf)
    }
}

/// Wait until `fd` is readable, parked in glommio's reactor.
///
/// glommio 0.9 keeps its readiness polling crate-private; its stream types arm a
/// one-shot poll for readability as soon as they wrap a descriptor and wake the
/// reader when it fires. So we wrap a duplicate of the eventfd in a
/// `UnixStream` and read: the read is woken by that poll, then fails with
/// ENOTSOCK (an eventfd is no socket), which here just means "readable".
/// Dropping the stream closes the duplicate. Costs a dup and a close per park,
/// which happens only when the core has nothing to do.
async fn wait_readable(fd: RawFd) {
    use futures_lite::AsyncReadExt;
    // SAFETY: F_DUPFD_CLOEXEC has no memory arguments; the result is checked.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        tracing::error!(error = %io::Error::last_os_error(), "cannot dup the ring's eventfd");
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        return;
    }
    // SAFETY: `dup` is a fresh descriptor owned by the stream from here on.
    let mut doorbell = unsafe { glommio::net::UnixStream::from_raw_fd(dup) };
    let mut byte = [0u8; 1];
    let _ = doorbell.read(&mut byte).await;
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::runtime::bell::{packet_read, Bell};
    use crate::runtime::task::spawn;
    use bytes::BytesMut;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    pub(in crate::runtime) fn run<F: Future<Output = ()> + 'static>(
        f: impl FnOnce(Rc<SocketRing>) -> F + 'static,
    ) {
        let ex = glommio::LocalExecutor::default();
        ex.run(async move {
            let ring = match SocketRing::new() {
                Ok(r) => Rc::new(r),
                Err(e) => {
                    // The server falls back to glommio's stream here, which
                    // tests/protocol.rs covers; say so rather than pass quietly.
                    eprintln!("SKIPPED: no io_uring with SINGLE_ISSUER + COOP_TASKRUN: {e}");
                    return;
                }
            };
            let driver = glommio::spawn_local(ring.clone().drive());
            f(ring).await;
            driver.cancel().await;
        });
    }

    /// The wake-up path of a core parked in glommio: a receive that completes
    /// while the driver waits on the ring's eventfd must wake it at once. With
    /// `DEFER_TASKRUN` Linux 6.18 signals that eventfd 13-16 ms late; the
    /// fastest of five tries is compared, so a slow scheduler cannot fail it.
    #[test]
    fn a_core_parked_in_glommio_wakes_at_once() {
        run(|ring| async move {
            let (a, b) = UnixStream::pair().expect("socketpair");
            let mut b = Some(b);
            let mut fastest = Duration::MAX;
            for _ in 0..5 {
                let mut peer = b.take().expect("peer");
                // Long enough for the driver to nap out its window and park in glommio.
                let writer = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(30));
                    let sent = Instant::now();
                    peer.write_all(b"x").expect("write");
                    (peer, sent)
                });
                let (res, _) = ring.recv(a.as_raw_fd(), Vec::with_capacity(8)).await;
                let woke = Instant::now();
                assert_eq!(res, 1);
                let (peer, sent) = writer.join().expect("writer");
                fastest = fastest.min(woke.saturating_duration_since(sent));
                b = Some(peer);
            }
            assert!(
                fastest < Duration::from_millis(8),
                "a receive completed {fastest:?} after the data arrived"
            );
        });
    }

    /// A packet from a peer core reaches this core's mesh receiver at once
    /// even while the core never runs out of ready work: a background loop
    /// that works in slices (as splits do) and a socket that keeps the driver
    /// reaping. glommio alone reads its channels only when no task is ready,
    /// or every 100 ms; that is what made a busy `--cores 2` server slow.
    #[test]
    fn a_busy_core_reads_a_peers_packet_at_once() {
        use glommio::channels::shared_channel;
        const PACKETS: usize = 20;
        let bell = Bell::new().expect("eventfd");
        let (tx, rx) = shared_channel::new_bounded::<Instant>(64);
        let peer_bell = bell.clone();
        let sender = std::thread::spawn(move || {
            glommio::LocalExecutor::default().run(async move {
                let tx = tx.connect().await;
                // Let the receiving core get busy first.
                glommio::timer::sleep(Duration::from_millis(100)).await;
                for _ in 0..PACKETS {
                    if tx.send(Instant::now()).await.is_err() {
                        return;
                    }
                    peer_bell.ring();
                    glommio::timer::sleep(Duration::from_millis(7)).await;
                }
            })
        });
        let delays = glommio::LocalExecutor::default().run(async move {
            let rx = rx.connect().await;
            let ring = match SocketRing::with_bell(bell) {
                Ok(r) => Rc::new(r),
                Err(e) => {
                    eprintln!("SKIPPED: no io_uring with SINGLE_ISSUER + COOP_TASKRUN: {e}");
                    while rx.recv().await.is_some() {}
                    return Vec::new();
                }
            };
            let driver = glommio::spawn_local(ring.clone().drive());
            let stop = Rc::new(Cell::new(false));
            let background = {
                let stop = stop.clone();
                spawn(async move {
                    let mut pace = crate::runtime::pace::Pace::new();
                    while !stop.get() {
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(100) {
                            std::hint::spin_loop();
                        }
                        pace.breathe().await;
                    }
                })
            };
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            let writing = Arc::new(AtomicBool::new(true));
            let writer = {
                let writing = writing.clone();
                std::thread::spawn(move || {
                    while writing.load(Ordering::Relaxed) {
                        if b.write_all(b"0123456789abcdef").is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_micros(20));
                    }
                })
            };
            let reader = {
                let ring = ring.clone();
                let stop = stop.clone();
                spawn(async move {
                    let mut got = BytesMut::new();
                    while !stop.get() {
                        let (res, _) = ring.recv(a.as_raw_fd(), Vec::with_capacity(4096)).await;
                        if res <= 0 {
                            return;
                        }
                        got.clear();
                    }
                })
            };
            let mut delays = Vec::new();
            while let Some(sent) = rx.recv().await {
                packet_read();
                delays.push(sent.elapsed());
                if delays.len() == PACKETS {
                    break;
                }
            }
            stop.set(true);
            writing.store(false, Ordering::Relaxed);
            background.await;
            reader.await;
            writer.join().expect("writer");
            driver.cancel().await;
            delays
        });
        sender.join().expect("sender");
        if delays.is_empty() {
            return;
        }
        let mut sorted = delays.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        assert!(
            median < Duration::from_millis(20),
            "a busy core read its peer's packets {median:?} late (median; all: {delays:?})"
        );
    }
}
