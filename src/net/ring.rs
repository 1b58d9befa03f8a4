//! The per-core socket ring: one raw io_uring per core, set up with
//! `SINGLE_ISSUER` + `COOP_TASKRUN`, that carries this core's accepts, receives,
//! sends and the timers that must fire on time. It exists because of a
//! measurement (DESIGN.md, "The cores"): at pipeline 1, glommio 0.9's stock
//! `TcpStream` spends about 1.5× redis-server's CPU per request — it re-arms a
//! one-shot poll on its own ring for every read — while this ring batches every
//! connection's submissions and completions into one `io_uring_enter` per
//! executor turn, and skips even that when the kernel has nothing for it (the
//! `TASKRUN` flag).
//!
//! glommio stays the executor: connection tasks await [`SocketRing`] operations
//! like any future, and one driver task per core ([`SocketRing::drive`]) submits,
//! reaps and wakes. Between requests the driver first *naps* in this ring (one
//! syscall, bounded by [`NAP_MAX`]) while nothing else on the core wants to run;
//! a peer core's mesh packet rings the core's [`Bell`] to end the nap, and on
//! a busy core makes the driver step aside until glommio has read it
//! ([`let_peers_in`]). With
//! nothing in flight, or once the nap window is used up, it parks *in glommio*
//! on an eventfd registered on the ring, so glommio's timers and channels get
//! their turn. glommio 0.9 has no public "wait until this fd is readable", so
//! [`wait_readable`] borrows its socket readiness machinery (see there). A
//! park lasts at most [`PARK_MAX`], a safety net: the kernel signals the
//! eventfd only for completions that reach the CQ (not for ones in its
//! overflow list), so the driver looks again by itself and logs a warning when
//! completions or peers' packets were waiting. The cores that once slept for
//! seconds with requests received and unanswered (a soak; issue 14's silences
//! and slow starts under CPU contention) were glommio 0.9.0 parking with
//! runnable tasks queued, fixed in `vendor/glommio` (vendor/README.md).
//!
//! A connection receives through one multishot receive ([`Stream`]) for its
//! whole life, on buffers of a per-core provided-buffer ring
//! ([`super::bufring`]): the driver copies each completion's bytes into the
//! connection's inbox as it reaps it, shows them to a [`ReceiveHook`] (which
//! starts the request's key loading, see `net::prefetch`), and gives the
//! buffer back. Without provided-buffer rings a connection submits one
//! receive per read instead.
//!
//! Why not `DEFER_TASKRUN`, which an earlier measurement preferred: with it the
//! kernel signals the registered eventfd late (13–16 ms on Linux 6.18 here), so
//! a request reaching an idle core waited that long. See linux-only.md.
//!
//! Buffers are owned by the ring while an operation is in flight: a connection
//! hands its buffer over and gets it back with the result, so a connection task
//! that is dropped mid-operation can never leave the kernel writing into freed
//! memory. This module never parses a byte and never touches the keyspace.

use bytes::{Bytes, BytesMut};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::bufring::{self, BufRing};
use crate::core::notify::Notify;

thread_local! {
    /// This core's ring, for [`poke`].
    static DRIVER: RefCell<std::rc::Weak<SocketRing>> = const { RefCell::new(std::rc::Weak::new()) };
    /// Every core's bell by mesh peer id, for [`ring_bell`].
    static BELLS: RefCell<Vec<Arc<Bell>>> = const { RefCell::new(Vec::new()) };
    /// Polls of tasks spawned through [`spawn`]: the driver compares it across
    /// a yield to learn whether anything else on this core wanted to run.
    static POLLS: Cell<u64> = const { Cell::new(0) };
    /// Packets this core's mesh receivers have read (see [`packet_read`]).
    static READ: Cell<u64> = const { Cell::new(0) };
    /// Notified each time a mesh receiver has read a packet.
    static READ_NOTIFY: Notify = Notify::default();
}

/// A mesh receiver read a packet from a peer: call once per packet. The
/// driver waits for these after its bell rang (see [`SocketRing::drive`]).
pub fn packet_read() {
    READ.with(|r| r.set(r.get() + 1));
    READ_NOTIFY.with(Notify::notify);
}

/// The longest [`let_peers_in`] waits for the mesh receivers to read what
/// peers sent; only reached if some task kept glommio busy all that time.
const READ_WAIT_MAX: Duration = Duration::from_millis(1);

/// If peers sent this core packets its mesh receivers have not read yet, wait
/// (do not just yield) until they have: call it where a task would otherwise
/// stay ready for long — the ring's driver while it has completions to reap,
/// a background loop between slices (`core::pace`).
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

/// Wakes a core napping in its socket ring or parked through glommio (see
/// [`SocketRing::drive`]) when another core sends it a mesh packet: in a nap
/// glommio would notice the packet only once the core parks, and in a park its
/// own channel wake-up was seen to go missing.
pub struct Bell {
    /// Packets peers have sent this core, counted after each is in its channel.
    sent: AtomicU64,
    /// The core naps in its ring or parks through glommio: a peer writes `fd`.
    napping: AtomicBool,
    /// A peer sent a packet since the core last looked: set before the peer
    /// reads `napping`, taken by the core after it sets `napping`, so of any
    /// packet either the core sees the flag or the peer sees the nap.
    pending: AtomicBool,
    fd: OwnedFd,
}

impl Bell {
    pub fn new() -> io::Result<Arc<Bell>> {
        // Blocking on purpose: the ring reads it, and a read of a blocking
        // eventfd waits in the kernel until a peer writes.
        // SAFETY: eventfd has no memory arguments; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Arc::new(Bell {
            sent: AtomicU64::new(0),
            napping: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }))
    }

    /// The core is about to nap or park: from now on peers write the bell.
    /// False (and still awake) when a packet came before they could see it.
    fn fall_asleep(&self) -> bool {
        self.napping.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.napping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn wake_up(&self) {
        self.napping.store(false, Ordering::SeqCst);
    }

    /// Say that a packet is in one of this core's channels, and wake the core
    /// if it naps (a write syscall only then).
    pub fn ring(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.pending.store(true, Ordering::SeqCst);
        if self.napping.load(Ordering::SeqCst) {
            let one = 1u64.to_ne_bytes();
            // SAFETY: writes 8 bytes from `one` to an eventfd we own.
            unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), 8) };
        }
    }
}

/// Give this thread every core's bell, by mesh peer id.
pub fn set_bells(bells: Vec<Arc<Bell>>) {
    BELLS.with(|b| *b.borrow_mut() = bells);
}

/// Wake core `peer` if it naps in its ring: call after sending it a packet.
pub fn ring_bell(peer: usize) {
    BELLS.with(|b| {
        if let Some(bell) = b.borrow().get(peer) {
            bell.ring();
        }
    });
}

/// Spawn a task on this core. Use this rather than `glommio::spawn_local` for
/// every task of a thread that drives a [`SocketRing`]: the driver only naps
/// in its ring when no such task ran since it last looked.
pub fn spawn<T: 'static>(f: impl Future<Output = T> + 'static) -> glommio::Task<T> {
    glommio::spawn_local(Counted(Box::pin(f)))
}

struct Counted<F>(Pin<Box<F>>);

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS.with(|p| p.set(p.get() + 1));
        self.0.as_mut().poll(cx)
    }
}

/// Wake this core's ring driver so it reaps completions now. With nothing to
/// reap, the driver waits on the ring's eventfd through glommio's reactor, which
/// glommio polls only when no task is ready (or every 100 ms): a background
/// loop that keeps yielding (a split, a migration, see `core::pace`) calls this
/// between its slices, so replies never wait for the reactor.
pub fn poke() {
    DRIVER.with(|d| {
        if let Some(ring) = d.borrow().upgrade() {
            ring.work.notify();
        }
    });
}

/// Sleep for `d`: on this thread's socket ring when it has one (on time even
/// while the driver naps in the ring), else on glommio's timer.
pub async fn sleep(d: Duration) {
    let ring = DRIVER.with(|r| r.borrow().upgrade());
    match ring {
        Some(ring) => {
            ring.sleep(d).await;
        }
        None => glommio::timer::sleep(d).await,
    }
}

/// Submission queue entries; completions get twice as many.
const RING_ENTRIES: u32 = 1024;
/// `user_data` of operations whose completion nobody waits for (cancellations).
const IGNORED: u64 = u64::MAX;
/// `IORING_ENTER_GETEVENTS`: run this thread's pending completion work in the
/// enter, so its completions are in the queue when the call returns.
const ENTER_GETEVENTS: u32 = 1;
/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19; the io-uring crate keeps its
/// constants private).
const RECVSEND_POLL_FIRST: u16 = 1;

/// A buffer the kernel may be using: kept here until its operation completes.
pub enum Buf {
    /// No buffer: an accept.
    None,
    Vec(Vec<u8>),
    Bytes(BytesMut),
    /// A timeout's duration: the kernel reads it when the entry is submitted.
    Timespec(Box<types::Timespec>),
    /// A gathering send's segments, with the iovecs and header the kernel reads.
    Gather(Box<Gather>),
}

/// Most iovecs one `sendmsg` is given (Linux's `UIO_MAXIOV`); a send of more
/// segments carries on where the kernel stopped, as a short send does.
const IOV_MAX: usize = 1024;

/// Segments then a tail (a connection's replies with shared values), sent
/// with `sendmsg`.
/// Boxed in its [`Buf`], so the header and iovecs the kernel reads stay put
/// while the slot moves.
pub struct Gather {
    segs: VecDeque<Bytes>,
    tail: BytesMut,
    iov: Vec<libc::iovec>,
    msg: libc::msghdr,
}

impl Gather {
    fn new(segs: VecDeque<Bytes>, tail: BytesMut) -> Box<Gather> {
        Box::new(Gather {
            segs,
            tail,
            iov: Vec::new(),
            // SAFETY: msghdr is plain data; all zeroes is an empty header.
            msg: unsafe { std::mem::zeroed() },
        })
    }

    fn remaining(&self) -> usize {
        self.segs.iter().map(Bytes::len).sum::<usize>() + self.tail.len()
    }

    /// Drop the first `n` bytes (what a send took).
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.segs.front_mut() {
                Some(s) if s.len() <= n => {
                    n -= s.len();
                    self.segs.pop_front();
                }
                Some(s) => {
                    bytes::Buf::advance(s, n);
                    return;
                }
                None => {
                    let n = n.min(self.tail.len());
                    bytes::Buf::advance(&mut self.tail, n);
                    return;
                }
            }
        }
    }

    /// Point the header at iovecs for what is left (at most [`IOV_MAX`]).
    fn prepare(&mut self) -> *const libc::msghdr {
        self.iov.clear();
        let parts = self.segs.iter().map(|s| &s[..]);
        let parts = parts.chain(std::iter::once(&self.tail[..]));
        for p in parts.filter(|p| !p.is_empty()).take(IOV_MAX) {
            self.iov.push(libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            });
        }
        self.msg.msg_iov = self.iov.as_mut_ptr();
        self.msg.msg_iovlen = self.iov.len() as _;
        &self.msg
    }

    /// The tail's allocation, for the connection's next replies.
    pub fn into_tail(self) -> BytesMut {
        self.tail
    }
}

impl Buf {
    /// The buffer of a completed [`SocketRing::recv`], its length set to the
    /// bytes the kernel wrote (empty on error or end of stream). `None` if this
    /// was not a receive buffer.
    pub fn into_received(self, res: i32) -> Option<Vec<u8>> {
        let Buf::Vec(mut v) = self else {
            return None;
        };
        let n = if res > 0 { res as usize } else { 0 };
        // SAFETY: a receive hands the kernel the spare capacity from index 0
        // (`recv` clears the vector first), and the kernel reported writing `n`
        // bytes of it; `min` keeps the length within the allocation regardless.
        unsafe { v.set_len(n.min(v.capacity())) };
        Some(v)
    }

    fn ptr_len(&mut self) -> (*mut u8, usize) {
        match self {
            Buf::None | Buf::Timespec(_) | Buf::Gather(_) => (std::ptr::null_mut(), 0),
            Buf::Vec(v) => (v.as_mut_ptr(), v.capacity()),
            Buf::Bytes(b) => (b.as_mut_ptr(), b.len()),
        }
    }
}

enum Slot {
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
enum StreamState {
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

/// What [`SocketRing::reap`] does with a stream's slot after a completion.
enum After {
    Keep,
    Free,
    /// Cancel its receive (the inbox is full), once the ring is free to use.
    Pause,
}

/// Bytes a [`Stream`] may hold unread before its receive is paused: past this
/// the client's further bytes wait in the kernel, and TCP slows it down. Part
/// of what one connection can cost whatever it sends (README, "Security").
pub const INBOX_MAX: usize = 64 * 1024;

pub struct SocketRing {
    ring: RefCell<IoUring>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    in_flight: Cell<usize>,
    /// Parks that ran out with work waiting (see `look_after_park`).
    missed_wakes: Cell<u64>,
    /// The kernel takes a multishot receive's byte limit (see [`Self::arm`]).
    mshot_limit: Cell<bool>,
    /// The driver's read of its bell is in the kernel (one of `in_flight`).
    bell_armed: Cell<bool>,
    eventfd: OwnedFd,
    /// Wakes the driver when a task queued a submission.
    work: Notify,
    bell: Arc<Bell>,
    /// Buffers for multishot receives; None where the kernel has none.
    bufs: Option<BufRing>,
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

    /// Start this thread's driver ([`Self::drive`]) as a detached task.
    pub fn start(self: &Rc<Self>) {
        glommio::spawn_local(self.clone().drive()).detach();
    }

    /// A multishot receive on `fd` for the socket's whole life, or None where
    /// the kernel has no provided-buffer rings (then use [`Self::recv`]).
    pub fn stream(self: &Rc<Self>, fd: RawFd) -> Option<Stream> {
        self.bufs.as_ref()?;
        let slot = self.alloc(Slot::Stream {
            waker: None,
            inbox: BytesMut::new(),
            state: StreamState::Armed,
        });
        self.arm(slot, fd, INBOX_MAX);
        Some(Stream {
            ring: self.clone(),
            slot,
            fd,
        })
    }

    /// Arm a multishot receive that takes at most `room` bytes before it
    /// ends by itself (Linux 6.15's multishot byte limit), so a client the
    /// server stopped reading cannot have more than [`INBOX_MAX`] moved out of
    /// its socket into the server's memory. Where the kernel lacks the limit,
    /// the receive is armed without one and paused (cancelled) past the bound.
    fn arm(&self, slot: u32, fd: RawFd, room: usize) {
        let sqe = opcode::RecvMulti::new(types::Fd(fd), bufring::GROUP).build();
        let sqe = if self.mshot_limit.get() {
            with_optlen(sqe, room.clamp(1, INBOX_MAX) as u32)
        } else {
            sqe
        };
        let sqe = sqe.user_data(slot as u64);
        self.push(sqe);
        self.in_flight.set(self.in_flight.get() + 1);
    }

    /// Receive into `buf` (its spare capacity from index 0; its length is ignored).
    /// Resolves to the byte count (0 at end of stream) and the buffer.
    pub fn recv(self: &Rc<Self>, fd: RawFd, buf: Vec<u8>) -> Op {
        self.recv_with(fd, buf, false)
    }

    /// As [`Self::recv`]; `poll_first` when the socket is known to be drained
    /// (the last receive did not fill its buffer): the kernel then waits for
    /// data before it tries, instead of trying, failing and then waiting. At
    /// pipeline 1 that saves a receive attempt per request.
    pub fn recv_with(self: &Rc<Self>, fd: RawFd, mut buf: Vec<u8>, poll_first: bool) -> Op {
        buf.clear();
        let mut buf = Buf::Vec(buf);
        let (ptr, len) = buf.ptr_len();
        let ioprio = if poll_first { RECVSEND_POLL_FIRST } else { 0 };
        let sqe = opcode::Recv::new(types::Fd(fd), ptr, len as u32)
            .ioprio(ioprio)
            .build();
        self.submit(sqe, buf)
    }

    /// Complete after `after`. A timer in this ring ends the driver's nap (see
    /// [`Self::drive`]) on time, where a glommio timer can fire up to
    /// [`NAP_MAX`] late. Resolves with `-ETIME` when it expires.
    pub fn sleep(self: &Rc<Self>, after: Duration) -> Op {
        let ts = Box::new(types::Timespec::from(after));
        let sqe = opcode::Timeout::new(&*ts as *const types::Timespec).build();
        self.submit(sqe, Buf::Timespec(ts))
    }

    /// Send every byte of `buf`. The driver resubmits what a short send left
    /// (see [`Slot::Sending`]), so the op completes once all is sent (result:
    /// the byte count, capped at `i32::MAX`) or on the first failure (a
    /// negative errno; 0 when the kernel took nothing).
    pub fn send(self: &Rc<Self>, fd: RawFd, buf: BytesMut) -> Op {
        self.send_buf(fd, Buf::Bytes(buf))
    }

    /// As [`Self::send`], for `segs` then `tail`: one gathering `sendmsg`
    /// over them, so large values shared by reference are never copied.
    pub fn send_gather(self: &Rc<Self>, fd: RawFd, segs: VecDeque<Bytes>, tail: BytesMut) -> Op {
        if segs.is_empty() {
            return self.send(fd, tail);
        }
        self.send_buf(fd, Buf::Gather(Gather::new(segs, tail)))
    }

    fn send_buf(self: &Rc<Self>, fd: RawFd, mut buf: Buf) -> Op {
        let sqe = send_sqe(fd, &mut buf);
        let state = Slot::Sending {
            waker: None,
            buf,
            fd,
            sent: 0,
        };
        self.submit_as(sqe, state)
    }

    /// Send every byte of `buf`. Hands the buffer back, emptied with its
    /// allocation kept on success, with the outcome; a send the kernel took
    /// nothing of is `WriteZero`.
    pub async fn send_all(self: &Rc<Self>, fd: RawFd, buf: BytesMut) -> (io::Result<()>, BytesMut) {
        if buf.is_empty() {
            return (Ok(()), buf);
        }
        let (res, back) = self.send(fd, buf).await;
        let Buf::Bytes(mut back) = back else {
            let e = io::Error::other("socket ring returned no buffer");
            return (Err(e), BytesMut::new());
        };
        let r = match res {
            r if r < 0 => Err(io::Error::from_raw_os_error(-r)),
            0 => Err(io::ErrorKind::WriteZero.into()),
            _ => Ok(()),
        };
        back.clear();
        (r, back)
    }

    /// Accept one connection on a listening socket. Resolves to the new fd.
    pub fn accept(self: &Rc<Self>, fd: RawFd) -> Op {
        let sqe = opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build();
        self.submit(sqe, Buf::None)
    }

    fn alloc(&self, state: Slot) -> u32 {
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

    fn submit(self: &Rc<Self>, sqe: squeue::Entry, buf: Buf) -> Op {
        self.submit_as(sqe, Slot::Waiting { waker: None, buf })
    }

    /// Queue `sqe` with its slot in `state`, and hand back its future.
    fn submit_as(self: &Rc<Self>, sqe: squeue::Entry, state: Slot) -> Op {
        let slot = self.alloc(state);
        self.push(sqe.user_data(slot as u64));
        self.in_flight.set(self.in_flight.get() + 1);
        Op {
            ring: self.clone(),
            slot,
            finished: false,
        }
    }

    fn push(&self, sqe: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        // SAFETY: every buffer an entry points into is owned by its slot until the
        // completion for that slot is reaped (or, at teardown, leaked).
        while unsafe { ring.submission().push(&sqe) }.is_err() {
            // Queue full: hand what is queued to the kernel and try again.
            if let Err(e) = ring.submit() {
                tracing::error!(error = %e, "socket ring submit failed");
                break;
            }
        }
        drop(ring);
        self.work.notify();
    }

    /// Submit what is queued and run pending completions without blocking. A
    /// no-op, with no syscall, when nothing is queued and the kernel has no
    /// completion work waiting for this thread (the `TASKRUN` flag).
    fn enter(&self) {
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len();
        // Completions the CQ had no room for wait in the kernel's overflow list,
        // and only an enter with GETEVENTS moves them over; nothing signals them.
        if queued == 0 && !ring.submission().taskrun() && !ring.submission().cq_overflow() {
            return;
        }
        // SAFETY: no signal mask or argument pointers are passed.
        let r = unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued as u32, 0, ENTER_GETEVENTS, None)
        };
        if let Err(e) = r {
            if e.raw_os_error() != Some(libc::EINTR) && e.raw_os_error() != Some(libc::EBUSY) {
                tracing::error!(error = %e, "socket ring enter failed");
            }
        }
    }

    /// Move completions into their slots and wake their futures. Returns how many.
    fn reap(&self) -> usize {
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

    /// The driver: run this once per core as a glommio task for as long as the
    /// core serves connections.
    ///
    /// With nothing completed it first *naps* in its own ring (an
    /// `io_uring_enter` that waits for one completion, up to [`NAP_MAX`]) when
    /// nothing else on the core wants to run; only then does it park through
    /// glommio. Parking through glommio costs several syscalls each time
    /// (glommio re-arms its preemption timers, links its rings, then this
    /// module waits on the ring's eventfd): at a few requests per wake-up that
    /// was a quarter of the server's CPU. A nap is one syscall. A peer's mesh
    /// packet rings this core's [`Bell`], which ends the nap; on every turn,
    /// napping or not, a rung bell makes the driver wait in [`let_peers_in`]
    /// until glommio has handed the packets to the mesh receivers.
    ///
    /// Spawn it with [`Self::start`], not [`spawn`]: its own polls must not
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
            self.set_eventfd(false);
            if gave_up {
                self.look_after_park().await;
            }
            parked_at = Instant::now();
            let mut count = [0u8; 8];
            // SAFETY: reads at most 8 bytes into `count`; the eventfd is non-blocking.
            unsafe { libc::read(self.eventfd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        }
    }

    /// The park ran out: if completions (or peers' packets) were waiting all
    /// the same, their wake-up never came. Say so (the first few times) and reap.
    async fn look_after_park(&self) {
        // What was waiting when the park ran out: packets peers had sent, and
        // completions already in the CQ (whose eventfd signal should have
        // ended the park) or in the kernel's overflow list (which signals
        // nothing).
        let sent = self.bell.sent.load(Ordering::SeqCst);
        let (waiting, overflowed) = {
            let mut ring = self.ring.borrow_mut();
            let waiting = ring.completion().len();
            let overflowed = ring.submission().cq_overflow();
            (waiting, overflowed)
        };
        // A packet's wake-up and the park's timer can come due in the same
        // turn of glommio (a core descheduled for longer than PARK_MAX sees
        // both at once): the mesh receiver it woke is queued behind this task.
        // Let it run first, so that only a packet nobody woke counts.
        futures_lite::future::yield_now().await;
        let unread = sent.saturating_sub(READ.with(Cell::get));
        self.enter();
        self.reap();
        if waiting > 0 || overflowed || unread > 0 {
            let times = self.missed_wakes.get() + 1;
            self.missed_wakes.set(times);
            if times <= 10 || times.is_power_of_two() {
                tracing::warn!(
                    completions = waiting,
                    overflowed,
                    unread_packets = unread,
                    times,
                    "core parked for {PARK_MAX:?} while completions or peers' packets were waiting"
                );
            }
        }
    }

    /// Operations in the kernel other than the driver's own read of its bell.
    #[cfg(test)]
    fn ops_in_kernel(&self) -> usize {
        self.in_flight.get() - usize::from(self.bell_armed.get())
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

    fn cancel(&self, slot: u32) {
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

/// `sqe` with its `optlen` field (bytes 44..48 of the 64-byte entry) set:
/// a multishot receive's total byte limit. The io-uring crate has no setter
/// for it on `RecvMulti` yet.
fn with_optlen(sqe: squeue::Entry, optlen: u32) -> squeue::Entry {
    const _: () = assert!(std::mem::size_of::<squeue::Entry>() == 64);
    // SAFETY: `squeue::Entry` is `#[repr(C)]` around the kernel's 64-byte
    // `io_uring_sqe` (size checked above), so it is plain bytes either way;
    // offset 44 is the `optlen` union member (checked by a unit test
    // against the crate's own `SetSockOpt`).
    let mut raw: [u8; 64] = unsafe { std::mem::transmute(sqe) };
    raw[44..48].copy_from_slice(&optlen.to_ne_bytes());
    // SAFETY: as above, back to the type it came from.
    unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) }
}

/// The submission that sends what is left of `buf` on `fd`.
fn send_sqe(fd: RawFd, buf: &mut Buf) -> squeue::Entry {
    match buf {
        Buf::Gather(g) => {
            let msg = g.prepare();
            opcode::SendMsg::new(types::Fd(fd), msg)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build()
        }
        other => {
            let (ptr, len) = other.ptr_len();
            // One send takes at most 4 GB; the rest follows as after a short send.
            let len = len.min(u32::MAX as usize) as u32;
            opcode::Send::new(types::Fd(fd), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        }
    }
}

/// Drop the `n` bytes a send took from the front of `buf`; returns what is left.
fn advance(buf: &mut Buf, n: usize) -> usize {
    match buf {
        Buf::Bytes(b) => {
            bytes::Buf::advance(b, n.min(b.len()));
            b.len()
        }
        Buf::Gather(g) => {
            g.advance(n);
            g.remaining()
        }
        _ => 0,
    }
}

/// An accept that completed after its future was dropped made a socket nobody
/// will use: close it. (Only accepts carry no buffer.)
fn close_if_accepted(res: i32, buf: &Buf) {
    if res >= 0 && matches!(buf, Buf::None) {
        // SAFETY: the kernel created this descriptor for us and nothing else holds it.
        unsafe { libc::close(res) };
    }
}

/// A socket's multishot receive: armed once, it delivers whatever the
/// socket receives into an inbox that [`Stream::read`] drains. Cancel-safe: a
/// read future dropped mid-wait loses nothing. Dropping the stream cancels the
/// receive.
pub struct Stream {
    ring: Rc<SocketRing>,
    slot: u32,
    fd: RawFd,
}

impl Stream {
    /// Append what has arrived to `dst`, waiting until something has. Ok(0) at
    /// end of stream.
    pub async fn read(&mut self, dst: &mut BytesMut) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_read(cx, dst)).await
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, dst: &mut BytesMut) -> Poll<io::Result<usize>> {
        let mut slots = self.ring.slots.borrow_mut();
        let Some(Slot::Stream {
            waker,
            inbox,
            state,
        }) = slots.get_mut(self.slot as usize)
        else {
            return Poll::Ready(Err(io::Error::other("socket ring lost a stream")));
        };
        if !inbox.is_empty() {
            let n = inbox.len();
            if dst.is_empty() {
                // Hand the inbox over whole; the stream keeps `dst`'s allocation.
                std::mem::swap(dst, inbox);
            } else {
                dst.extend_from_slice(inbox);
                inbox.clear();
            }
            return Poll::Ready(Ok(n));
        }
        match *state {
            StreamState::Ended(0) => Poll::Ready(Ok(0)),
            StreamState::Ended(e) => Poll::Ready(Err(io::Error::from_raw_os_error(-e))),
            StreamState::Rearm => {
                *state = StreamState::Armed;
                *waker = Some(cx.waker().clone());
                drop(slots);
                self.ring.arm(self.slot, self.fd, INBOX_MAX);
                Poll::Pending
            }
            StreamState::Armed | StreamState::Paused => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut slots = self.ring.slots.borrow_mut();
        let Some(entry) = slots.get_mut(self.slot as usize) else {
            return;
        };
        let in_kernel = matches!(
            entry,
            Slot::Stream {
                state: StreamState::Armed | StreamState::Paused,
                ..
            }
        );
        if in_kernel {
            *entry = Slot::OrphanStream;
            drop(slots);
            self.ring.cancel(self.slot);
        } else {
            *entry = Slot::Free;
            drop(slots);
            self.ring.free.borrow_mut().push(self.slot);
        }
    }
}

/// An operation in flight on a [`SocketRing`].
pub struct Op {
    ring: Rc<SocketRing>,
    slot: u32,
    finished: bool,
}

impl Future for Op {
    /// The kernel's result (negative errno on failure) and the buffer handed in.
    type Output = (i32, Buf);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(i32, Buf)> {
        let mut slots = self.ring.slots.borrow_mut();
        let slot = &mut slots[self.slot as usize];
        match std::mem::replace(slot, Slot::Free) {
            Slot::Done { res, buf } => {
                drop(slots);
                self.ring.free.borrow_mut().push(self.slot);
                self.finished = true;
                Poll::Ready((res, buf))
            }
            Slot::Waiting { buf, .. } => {
                *slot = Slot::Waiting {
                    waker: Some(cx.waker().clone()),
                    buf,
                };
                Poll::Pending
            }
            Slot::Sending { buf, fd, sent, .. } => {
                *slot = Slot::Sending {
                    waker: Some(cx.waker().clone()),
                    buf,
                    fd,
                    sent,
                };
                Poll::Pending
            }
            other => {
                *slot = other;
                Poll::Pending
            }
        }
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut slots = self.ring.slots.borrow_mut();
        let slot = &mut slots[self.slot as usize];
        match std::mem::replace(slot, Slot::Free) {
            Slot::Waiting { buf, .. } | Slot::Sending { buf, .. } => {
                *slot = Slot::Orphan { buf };
                drop(slots);
                self.ring.cancel(self.slot);
            }
            Slot::Done { res, buf } => {
                drop(slots);
                close_if_accepted(res, &buf);
                self.ring.free.borrow_mut().push(self.slot);
            }
            other => *slot = other,
        }
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
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce(Rc<SocketRing>) -> F + 'static) {
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

    #[test]
    fn send_and_receive_through_the_ring() {
        run(|ring| async move {
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            let out = BytesMut::from(&b"hello ring"[..]);
            let (res, back) = ring.send(a.as_raw_fd(), out).await;
            assert_eq!(res, 10);
            assert!(matches!(back, Buf::Bytes(_)));
            let mut got = [0u8; 10];
            b.read_exact(&mut got).expect("read");
            assert_eq!(&got, b"hello ring");
            // A receive that parks until the peer writes: wakes through the eventfd.
            let writer = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                b.write_all(b"back").expect("write");
                b
            });
            let (res, buf) = ring.recv(a.as_raw_fd(), Vec::with_capacity(64)).await;
            assert_eq!(res, 4);
            let Buf::Vec(mut v) = buf else {
                panic!("receive returned no buffer")
            };
            // SAFETY: the kernel wrote `res` bytes at the start of the buffer.
            unsafe { v.set_len(res as usize) };
            assert_eq!(&v, b"back");
            let b = writer.join().expect("writer");
            drop(b);
            // End of stream is a zero-byte receive.
            let (res, _) = ring.recv(a.as_raw_fd(), Vec::with_capacity(64)).await;
            assert_eq!(res, 0);
        });
    }

    #[test]
    fn a_dropped_receive_keeps_its_buffer_until_completion() {
        run(|ring| async move {
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            for _ in 0..100 {
                // Start a receive, poll it once so it is submitted, then drop it.
                let op = ring.recv(a.as_raw_fd(), vec![0u8; 4096]);
                let _ = futures_lite::future::poll_once(op).await;
            }
            // Every dropped receive is cancelled and its slot comes back.
            let start = std::time::Instant::now();
            while ring.ops_in_kernel() > 0 {
                assert!(
                    start.elapsed().as_secs() < 10,
                    "cancellations never completed"
                );
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
            assert_eq!(
                ring.free.borrow().len() + usize::from(ring.bell_armed.get()),
                ring.slots.borrow().len()
            );
            b.write_all(b"x").expect("write");
            // Nothing consumed the byte: the ring still works and reuses its slots.
            let (res, _) = ring.recv(a.as_raw_fd(), Vec::with_capacity(8)).await;
            assert_eq!(res, 1);
            assert!(ring.slots.borrow().len() <= 102);
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

    #[test]
    fn ring_timers_fire_and_dropped_ones_are_cancelled() {
        run(|ring| async move {
            let start = Instant::now();
            let (res, _) = ring.sleep(Duration::from_millis(20)).await;
            assert_eq!(res, -libc::ETIME);
            assert!(start.elapsed() >= Duration::from_millis(20));
            let before = ring.ops_in_kernel();
            for _ in 0..50 {
                let op = ring.sleep(Duration::from_secs(3600));
                let _ = futures_lite::future::poll_once(op).await;
            }
            let start = Instant::now();
            while ring.ops_in_kernel() > before {
                assert!(start.elapsed().as_secs() < 10, "timers never cancelled");
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            // The thread-wide helper uses this ring once the driver runs.
            let start = Instant::now();
            super::sleep(Duration::from_millis(5)).await;
            assert!(start.elapsed() >= Duration::from_millis(5));
        });
    }

    /// 16 MB through one multishot receive, read slowly so the inbox passes
    /// its limit and the receive is paused and re-armed: every byte arrives,
    /// in order, then the end of the stream.
    #[test]
    fn a_stream_delivers_every_byte_in_order_through_pauses() {
        run(|ring| async move {
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            let Some(mut stream) = ring.stream(a.as_raw_fd()) else {
                eprintln!("SKIPPED: no provided-buffer ring");
                return;
            };
            let total = 16 << 20;
            let writer = std::thread::spawn(move || {
                let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
                for chunk in data.chunks(100_003) {
                    b.write_all(chunk).expect("write");
                }
            });
            let mut got = BytesMut::new();
            let mut reads = 0;
            loop {
                let n = stream.read(&mut got).await.expect("read");
                if n == 0 {
                    break;
                }
                reads += 1;
                if reads % 2 == 0 {
                    // Fall behind, so the inbox fills up.
                    glommio::timer::sleep(Duration::from_millis(20)).await;
                }
            }
            writer.join().expect("writer");
            assert_eq!(got.len(), total);
            assert!(got.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8));
            // After the end a read keeps saying so.
            assert_eq!(stream.read(&mut got).await.expect("read after end"), 0);
        });
    }

    /// More sockets with data than the ring has buffers, all arriving before
    /// one reap: those that find no buffer are re-armed and still deliver.
    /// Dropped streams give their buffers back and free their slots.
    #[test]
    fn streams_outnumbering_the_buffers_all_deliver_and_clean_up() {
        run(|ring| async move {
            let n = bufring::BUFFERS as usize + 64;
            let mut pairs = Vec::new();
            let mut streams = Vec::new();
            for _ in 0..n {
                let (a, b) = UnixStream::pair().expect("socketpair");
                let Some(s) = ring.stream(a.as_raw_fd()) else {
                    eprintln!("SKIPPED: no provided-buffer ring");
                    return;
                };
                streams.push(s);
                pairs.push((a, b));
            }
            // Let every receive arm before any data comes.
            glommio::timer::sleep(Duration::from_millis(20)).await;
            let before = ring.ops_in_kernel();
            for (i, (_, b)) in pairs.iter_mut().enumerate() {
                b.write_all(format!("socket {i}").as_bytes())
                    .expect("write");
            }
            for (i, s) in streams.iter_mut().enumerate() {
                let mut got = BytesMut::new();
                s.read(&mut got).await.expect("read");
                assert_eq!(&got[..], format!("socket {i}").as_bytes());
            }
            assert_eq!(
                ring.ops_in_kernel(),
                before,
                "re-armed receives are counted once"
            );
            // Data left unread, then the streams dropped: the buffers come back.
            for (_, b) in pairs.iter_mut() {
                b.write_all(b"never read").expect("write");
            }
            drop(streams);
            let start = Instant::now();
            while ring.ops_in_kernel() > 0 {
                assert!(
                    start.elapsed().as_secs() < 10,
                    "dropped streams never finished"
                );
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(
                ring.free.borrow().len() + usize::from(ring.bell_armed.get()),
                ring.slots.borrow().len()
            );
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            let mut s = ring.stream(a.as_raw_fd()).expect("stream");
            b.write_all(b"after").expect("write");
            let mut got = BytesMut::new();
            s.read(&mut got).await.expect("read");
            assert_eq!(&got[..], b"after");
            drop(pairs);
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
                    let mut pace = crate::core::pace::Pace::new();
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

    /// `with_optlen` writes where the crate itself puts `optlen`.
    #[test]
    fn optlen_is_written_where_the_kernel_reads_it() {
        let reference =
            opcode::SetSockOpt::new(types::Fd(3), 1, 2, std::ptr::null(), 0x0102_0304).build();
        // SAFETY: a 64-byte repr(C) entry viewed as bytes (see `with_optlen`).
        let reference: [u8; 64] = unsafe { std::mem::transmute(reference) };
        let ours = with_optlen(opcode::Nop::new().build(), 0x0102_0304);
        // SAFETY: as above.
        let ours: [u8; 64] = unsafe { std::mem::transmute(ours) };
        assert_eq!(reference[44..48], ours[44..48]);
        assert_eq!(&ours[44..48], &0x0102_0304u32.to_ne_bytes());
    }

    /// With the multishot byte limit, a reader that falls behind never has
    /// more than INBOX_MAX taken from its socket, however much is waiting there.
    #[test]
    fn a_stream_takes_no_more_than_its_room_from_the_socket() {
        run(|ring| async move {
            let (a, b) = UnixStream::pair().expect("socketpair");
            let Some(mut stream) = ring.stream(a.as_raw_fd()) else {
                eprintln!("SKIPPED: no provided-buffer ring");
                return;
            };
            let writer = std::thread::spawn(move || {
                let mut b = b;
                let chunk = vec![7u8; 64 * 1024];
                // Far more than the inbox may hold; the writer blocks once
                // the socket is full, and ends when the reader drops.
                for _ in 0..64 {
                    if b.write_all(&chunk).is_err() {
                        break;
                    }
                }
                b
            });
            // Let the kernel deliver all it will without the reader reading.
            glommio::timer::sleep(Duration::from_millis(200)).await;
            let held = match ring.slots.borrow().get(stream.slot as usize) {
                Some(Slot::Stream { inbox, .. }) => inbox.len(),
                _ => panic!("stream slot"),
            };
            if ring.mshot_limit.get() {
                assert!(
                    held <= INBOX_MAX,
                    "{held} bytes taken past the {INBOX_MAX}-byte room"
                );
            } else {
                eprintln!("NOTE: kernel without multishot byte limits; held {held}");
            }
            // Everything still arrives once the reader reads.
            let mut got = BytesMut::new();
            let mut total = 0;
            while total < 64 * 64 * 1024 {
                let n = stream.read(&mut got).await.expect("read");
                assert!(n > 0);
                assert!(got.iter().all(|&b| b == 7));
                total += n;
                got.clear();
            }
            drop(stream);
            drop(writer.join().expect("writer"));
        });
    }

    #[test]
    fn refused_operations_report_errno() {
        run(|ring| async move {
            let (res, _) = ring.recv(-1, Vec::with_capacity(8)).await;
            assert_eq!(res, -libc::EBADF);
            let (res, _) = ring.accept(-1).await;
            assert_eq!(res, -libc::EBADF);
        });
    }
}
