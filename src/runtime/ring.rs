//! The per-core socket ring: one raw io_uring per core, set up with
//! `SINGLE_ISSUER` + `COOP_TASKRUN`, that carries this core's accepts,
//! receives, sends and the timers that must fire on time, and the state of
//! every operation in it: a `Slot` per operation, which `SocketRing::reap`
//! moves from in flight to done and wakes the task waiting on it. Reaping also
//! resubmits what a short send left (`Slot::Sending`) and copies what each
//! multishot receive brought into its stream's inbox, shows it to a
//! [`ReceiveHook`] (which starts the request's key loading, see
//! `net::prefetch`), and gives the provided buffer (`bufring`) straight back.
//! Without provided-buffer rings a connection submits one receive per read
//! instead. The operations themselves and the futures that wait for them are
//! in `ops`; the task that enters the ring, naps and parks is `driver`.
//!
//! Why not `DEFER_TASKRUN`, which an earlier measurement preferred: with it the
//! kernel signals the registered eventfd late (13–16 ms on Linux 6.18 here), so
//! a request reaching an idle core waited that long. See linux-only.md.
//!
//! Buffers are owned by the ring while an operation is in flight: a connection
//! hands its buffer over and gets it back with the result, so a connection task
//! that is dropped mid-operation can never leave the kernel writing into freed
//! memory. This module never parses a byte and never touches the keyspace.

use bytes::BytesMut;
use io_uring::{cqueue, opcode, squeue, IoUring};
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::Waker;

use super::bell::Bell;
use super::buf::{advance, close_if_accepted, send_sqe, Buf};
use super::bufring::BufRing;
use super::notify::Notify;

/// Submission queue entries; completions get twice as many.
const RING_ENTRIES: u32 = 1024;
/// `user_data` of operations whose completion nobody waits for (cancellations).
const IGNORED: u64 = u64::MAX;
/// `IORING_ENTER_GETEVENTS`: run this thread's pending completion work in the
/// enter, so its completions are in the queue when the call returns.
const ENTER_GETEVENTS: u32 = 1;

pub(super) enum Slot {
    Free,
    /// In flight; the future that waits for it may have registered a waker.
    Waiting {
        waker: Option<Waker>,
        buf: Buf,
    },
    /// A send in flight that the driver resubmits from where a short send
    /// stopped, until every byte is sent or the socket fails: a connection
    /// that waits for its next request meanwhile loses nothing.
    Sending {
        waker: Option<Waker>,
        buf: Buf,
        fd: RawFd,
        sent: usize,
    },
    /// Completed, result not yet collected.
    Done {
        res: i32,
        buf: Buf,
    },
    /// In flight, but its future was dropped: the buffer waits for the completion.
    Orphan {
        buf: Buf,
    },
    /// A multishot receive ([`Stream`]): what it received and nobody read yet.
    Stream {
        waker: Option<Waker>,
        inbox: BytesMut,
        state: StreamState,
    },
    /// A multishot receive whose [`Stream`] was dropped: its completions give
    /// their buffers back until the last one frees the slot.
    OrphanStream,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum StreamState {
    /// The receive is armed in the kernel.
    Armed,
    /// Its inbox passed [`INBOX_MAX`]: cancelled until the reader catches up.
    Paused,
    /// Not in the kernel (out of buffers, paused, or the kernel ended it):
    /// the next read submits it again.
    Rearm,
    /// End of stream (0) or an error (negative errno).
    Ended(i32),
}

/// Sees what every multishot receive brought as the driver reaps it, then
/// hears when the reap is over — before any of the woken connections runs.
/// The connection layer uses it to start loading the keys those connections
/// are about to look up, so that their cache misses overlap (see
/// `net::prefetch`). It must not block, and it cannot change what is read.
pub trait ReceiveHook {
    fn received(&self, bytes: &[u8]);
    fn reaped(&self);
}

/// Submit `to_submit` queued entries and run this thread's pending
/// completion work, without waiting for a completion. False when the enter
/// failed (logged unless interrupted or busy).
fn enter_getevents(ring: &mut IoUring, to_submit: u32) -> bool {
    // SAFETY: no signal mask or argument pointers are passed.
    let r = unsafe {
        ring.submitter()
            .enter::<libc::sigset_t>(to_submit, 0, ENTER_GETEVENTS, None)
    };
    match r {
        Ok(_) => true,
        Err(e) => {
            if e.raw_os_error() != Some(libc::EINTR) && e.raw_os_error() != Some(libc::EBUSY) {
                tracing::error!(error = %e, "socket ring enter failed");
            }
            false
        }
    }
}

/// What [`SocketRing::reap`] does with a stream's slot after a completion.
enum After {
    Keep,
    Free,
    /// Cancel its receive (the inbox is full), once the ring is free to use.
    Pause,
}

/// Bytes a [`Stream`](super::ops::Stream) may hold unread before its receive is paused: past this
/// the client's further bytes wait in the kernel, and TCP slows it down. Part
/// of what one connection can cost whatever it sends (README, "Security").
pub const INBOX_MAX: usize = 64 * 1024;

pub struct SocketRing {
    pub(super) ring: RefCell<IoUring>,
    pub(super) slots: RefCell<Vec<Slot>>,
    pub(super) free: RefCell<Vec<u32>>,
    pub(super) in_flight: Cell<usize>,
    /// Parks that ran out with work waiting (see `look_after_park`).
    pub(super) missed_wakes: Cell<u64>,
    /// The kernel takes a multishot receive's byte limit (see [`Self::arm`]).
    pub(super) mshot_limit: Cell<bool>,
    /// The driver's read of its bell is in the kernel (one of `in_flight`).
    pub(super) bell_armed: Cell<bool>,
    /// Whether and how long a nap spins first (`driver::BusyPoll`).
    pub(super) busy_poll: super::busy_poll::BusyPoll,
    pub(super) eventfd: OwnedFd,
    /// Wakes the driver when a task queued a submission.
    pub(super) work: Notify,
    pub(super) bell: Arc<Bell>,
    /// Buffers for multishot receives; None where the kernel has none.
    pub(super) bufs: Option<BufRing>,
    hook: RefCell<Option<Box<dyn ReceiveHook>>>,
}

impl SocketRing {
    /// A ring for this thread. Fails on kernels without `SINGLE_ISSUER` and
    /// `COOP_TASKRUN` (Linux 6.0); the caller then falls back to glommio's stream.
    pub fn new() -> io::Result<SocketRing> {
        SocketRing::with_bell(Bell::new()?)
    }

    /// A ring for this thread that naps until `bell` rings (or a completion).
    pub fn with_bell(bell: Arc<Bell>) -> io::Result<SocketRing> {
        let mut b = IoUring::builder();
        // COOP_TASKRUN, not DEFER_TASKRUN: with DEFER_TASKRUN the kernel may
        // signal the registered eventfd late (13-16 ms on Linux 6.18 here, see
        // linux-only.md), and the eventfd is how a core parked in glommio learns
        // that a socket has data. COOP_TASKRUN runs completions at the core's
        // next syscall without an interrupt and signals the eventfd at once.
        b.setup_single_issuer()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .setup_cqsize(RING_ENTRIES * 2);
        let mut ring = b.build(RING_ENTRIES)?;
        // SAFETY: eventfd has no memory arguments; the result is checked below.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` is a fresh descriptor that nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        ring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        // On only while the driver parks in glommio (see `drive`).
        ring.completion().disable_eventfd();
        let bufs = match BufRing::register(&ring) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::debug!(error = %e, "no provided-buffer ring: one receive per read");
                None
            }
        };
        Ok(SocketRing {
            ring: RefCell::new(ring),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            missed_wakes: Cell::new(0),
            mshot_limit: Cell::new(true),
            bell_armed: Cell::new(false),
            busy_poll: super::busy_poll::BusyPoll::default(),
            eventfd,
            work: Notify::default(),
            bell,
            bufs,
            hook: RefCell::new(None),
        })
    }

    /// Show every multishot receive's bytes to `hook` as they are reaped.
    pub fn set_receive_hook(&self, hook: Box<dyn ReceiveHook>) {
        *self.hook.borrow_mut() = Some(hook);
    }

    pub(super) fn alloc(&self, state: Slot) -> u32 {
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(i) => {
                slots[i as usize] = state;
                i
            }
            None => {
                slots.push(state);
                (slots.len() - 1) as u32
            }
        }
    }

    /// Queue `first` and `then` next to each other, so that the kernel takes
    /// them in one submission (a link between them holds only then).
    pub(super) fn push_pair(&self, first: squeue::Entry, then: squeue::Entry) {
        self.push_all(&[first, then]);
    }

    pub(super) fn push(&self, sqe: squeue::Entry) {
        self.push_all(std::slice::from_ref(&sqe));
    }

    /// Queue `sqes` together (all or none at a time).
    fn push_all(&self, sqes: &[squeue::Entry]) {
        let mut ring = self.ring.borrow_mut();
        // SAFETY: every buffer an entry points into is owned by its slot until the
        // completion for that slot is reaped (or, at teardown, leaked).
        while unsafe { ring.submission().push_multiple(sqes) }.is_err() {
            // Queue full: hand what is queued to the kernel and try again.
            if let Err(e) = ring.submit() {
                tracing::error!(error = %e, "socket ring submit failed");
                break;
            }
        }
        drop(ring);
        self.work.notify();
    }

    /// Run the kernel's completion work for this thread now, if it has some
    /// (the `TASKRUN` flag), without submitting what is queued, and reap what
    /// that completed. For a task that knows a completion matters before the
    /// driver's next turn comes round on a busy core; a load of the flag when
    /// there is none.
    pub(super) fn run_kernel_work(&self) {
        {
            let mut ring = self.ring.borrow_mut();
            if !ring.submission().taskrun() {
                return;
            }
            if !enter_getevents(&mut ring, 0) {
                return;
            }
        }
        self.reap();
    }

    /// Submit what is queued and run pending completions without blocking. A
    /// no-op, with no syscall, when nothing is queued and the kernel has no
    /// completion work waiting for this thread (the `TASKRUN` flag).
    pub(super) fn enter(&self) {
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len();
        // Completions the CQ had no room for wait in the kernel's overflow list,
        // and only an enter with GETEVENTS moves them over; nothing signals them.
        if queued == 0 && !ring.submission().taskrun() && !ring.submission().cq_overflow() {
            return;
        }
        enter_getevents(&mut ring, queued as u32);
    }

    /// Move completions into their slots and wake their futures. Returns how many.
    pub(super) fn reap(&self) -> usize {
        let mut ring = self.ring.borrow_mut();
        let mut slots = self.slots.borrow_mut();
        let mut n = 0;
        // Streams to pause: cancelled once the ring is no longer borrowed.
        let mut pause = Vec::new();
        // Sends a short send left unfinished: resubmitted likewise.
        let mut resend = Vec::new();
        for cqe in ring.completion() {
            let id = cqe.user_data();
            if id == IGNORED {
                continue;
            }
            n += 1;
            let (res, flags) = (cqe.result(), cqe.flags());
            let last = !cqueue::more(flags);
            if last {
                self.in_flight.set(self.in_flight.get() - 1);
            }
            let Some(slot) = slots.get_mut(id as usize) else {
                continue;
            };
            if let Slot::Stream { .. } | Slot::OrphanStream = slot {
                match self.received(slot, res, flags) {
                    After::Keep => {}
                    After::Free => self.free.borrow_mut().push(id as u32),
                    After::Pause => pause.push(id as u32),
                }
                continue;
            }
            match std::mem::replace(slot, Slot::Free) {
                Slot::Waiting { waker, buf } => {
                    *slot = Slot::Done { res, buf };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
                Slot::Sending {
                    waker,
                    mut buf,
                    fd,
                    sent,
                } => {
                    let left = if res > 0 {
                        advance(&mut buf, res as usize)
                    } else {
                        0
                    };
                    if res > 0 && left > 0 {
                        let sent = sent + res as usize;
                        *slot = Slot::Sending {
                            waker,
                            buf,
                            fd,
                            sent,
                        };
                        resend.push(id as u32);
                        continue;
                    }
                    let res = if res > 0 {
                        i32::try_from(sent + res as usize).unwrap_or(i32::MAX)
                    } else if res == 0 && sent > 0 {
                        // Part went out, then the kernel took nothing: a dead peer.
                        -libc::EPIPE
                    } else {
                        res
                    };
                    *slot = Slot::Done { res, buf };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
                Slot::Orphan { buf } => {
                    close_if_accepted(res, &buf);
                    self.free.borrow_mut().push(id as u32);
                }
                other => *slot = other,
            }
        }
        drop((ring, slots));
        for slot in pause {
            self.cancel(slot);
        }
        for id in resend {
            let sqe = match self.slots.borrow_mut().get_mut(id as usize) {
                Some(Slot::Sending { buf, fd, .. }) => send_sqe(*fd, buf).user_data(u64::from(id)),
                _ => continue,
            };
            self.push(sqe);
            self.in_flight.set(self.in_flight.get() + 1);
        }
        if n > 0 {
            if let Some(hook) = &*self.hook.borrow() {
                hook.reaped();
            }
        }
        n
    }

    /// A multishot receive's completion: copy what its buffer holds into the
    /// stream's inbox and give the buffer straight back.
    fn received(&self, entry: &mut Slot, res: i32, flags: u32) -> After {
        let last = !cqueue::more(flags);
        let bytes = match (&self.bufs, cqueue::buffer_select(flags)) {
            (Some(bufs), Some(bid)) => {
                let got = (res > 0).then(|| bufs.bytes(bid, res as usize));
                Some((bufs, bid, got))
            }
            _ => None,
        };
        match entry {
            Slot::OrphanStream => {
                if let Some((bufs, bid, _)) = bytes {
                    bufs.give_back(bid);
                }
                if last {
                    *entry = Slot::Free;
                    return After::Free;
                }
                After::Keep
            }
            Slot::Stream {
                waker,
                inbox,
                state,
            } => {
                if let Some((bufs, bid, got)) = bytes {
                    if let Some(got) = got {
                        if let Some(hook) = &*self.hook.borrow() {
                            hook.received(got);
                        }
                        inbox.extend_from_slice(got);
                    }
                    bufs.give_back(bid);
                }
                if res == 0 {
                    *state = StreamState::Ended(0);
                } else if res < 0 {
                    *state = match (res, *state) {
                        (e, _) if e == -libc::ENOBUFS => StreamState::Rearm,
                        (e, _) if e == -libc::EINVAL && self.mshot_limit.get() => {
                            // A kernel before 6.15 refuses the byte limit.
                            tracing::debug!(
                                "no multishot byte limit here: pausing past INBOX_MAX instead"
                            );
                            self.mshot_limit.set(false);
                            StreamState::Rearm
                        }
                        (e, StreamState::Paused) if e == -libc::ECANCELED => StreamState::Rearm,
                        (e, _) => StreamState::Ended(e),
                    };
                } else if last {
                    *state = StreamState::Rearm;
                }
                if let Some(w) = waker.take() {
                    w.wake();
                }
                if *state == StreamState::Armed && inbox.len() > INBOX_MAX {
                    // The reader is behind: stop receiving until it catches up.
                    *state = StreamState::Paused;
                    return After::Pause;
                }
                After::Keep
            }
            _ => After::Keep,
        }
    }

    pub(super) fn cancel(&self, slot: u32) {
        let sqe = opcode::AsyncCancel::new(slot as u64)
            .build()
            .user_data(IGNORED);
        self.push(sqe);
    }
}

impl Drop for SocketRing {
    fn drop(&mut self) {
        // Operations still in flight may be written by the kernel until the ring's
        // teardown cancels them: their buffers must outlive the ring, so leak them.
        for slot in self.slots.get_mut().drain(..) {
            match slot {
                Slot::Waiting { buf, .. } | Slot::Sending { buf, .. } | Slot::Orphan { buf } => {
                    std::mem::forget(buf)
                }
                Slot::Done { .. } | Slot::Free | Slot::Stream { .. } | Slot::OrphanStream => {}
            }
        }
    }
}

#[cfg(test)]
impl SocketRing {
    /// Operations in the kernel other than the driver's own read of its bell.
    pub(super) fn ops_in_kernel(&self) -> usize {
        self.in_flight.get() - usize::from(self.bell_armed.get())
    }
}
