//! The per-core socket ring: one raw io_uring per core, set up with
//! `SINGLE_ISSUER` + `DEFER_TASKRUN`, that carries this core's accepts, receives
//! and sends. It exists because of a measurement (DESIGN.md, "The cores"): at
//! pipeline 1, glommio 0.9's stock `TcpStream` spends about 1.5× redis-server's
//! CPU per request — it re-arms a one-shot poll on its own ring for every read —
//! while a deferred-task-run ring completes a receive in the syscall that asks
//! for it, and batches every connection's submissions and completions into one
//! `io_uring_enter` per executor turn.
//!
//! glommio stays the executor: connection tasks await [`SocketRing`] operations
//! like any future, and one driver task per core ([`SocketRing::drive`]) submits,
//! reaps and wakes. When nothing has completed, the driver parks *in glommio* on
//! an eventfd registered on the ring, so the core sleeps in one place and timers
//! and cross-core messages still wake it. glommio 0.9 has no public "wait until
//! this fd is readable", so [`wait_readable`] borrows its socket readiness
//! machinery (see there).
//!
//! Buffers are owned by the ring while an operation is in flight: a connection
//! hands its buffer over and gets it back with the result, so a connection task
//! that is dropped mid-operation can never leave the kernel writing into freed
//! memory. This module never parses a byte and never touches the keyspace.

use bytes::BytesMut;
use io_uring::{opcode, squeue, types, IoUring};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::core::notify::Notify;

thread_local! {
    /// This core's ring, for [`poke`].
    static DRIVER: RefCell<std::rc::Weak<SocketRing>> = const { RefCell::new(std::rc::Weak::new()) };
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

/// Submission queue entries; completions get twice as many.
const RING_ENTRIES: u32 = 1024;
/// `user_data` of operations whose completion nobody waits for (cancellations).
const IGNORED: u64 = u64::MAX;
/// `IORING_ENTER_GETEVENTS`: with DEFER_TASKRUN, completions are only produced by
/// an enter that carries this flag.
const ENTER_GETEVENTS: u32 = 1;

/// A buffer the kernel may be using: kept here until its operation completes.
pub enum Buf {
    /// No buffer: an accept.
    None,
    Vec(Vec<u8>),
    Bytes(BytesMut),
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
            Buf::None => (std::ptr::null_mut(), 0),
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
    /// Completed, result not yet collected.
    Done {
        res: i32,
        buf: Buf,
    },
    /// In flight, but its future was dropped: the buffer waits for the completion.
    Orphan {
        buf: Buf,
    },
}

pub struct SocketRing {
    ring: RefCell<IoUring>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    in_flight: Cell<usize>,
    eventfd: OwnedFd,
    /// Wakes the driver when a task queued a submission.
    work: Notify,
}

impl SocketRing {
    /// A ring for this thread. Fails on kernels without `SINGLE_ISSUER` and
    /// `DEFER_TASKRUN` (Linux 6.1); the caller then falls back to glommio's stream.
    pub fn new() -> io::Result<SocketRing> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(RING_ENTRIES * 2)
            .build(RING_ENTRIES)?;
        // SAFETY: eventfd has no memory arguments; the result is checked below.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` is a fresh descriptor that nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(efd) };
        ring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        Ok(SocketRing {
            ring: RefCell::new(ring),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            eventfd,
            work: Notify::default(),
        })
    }

    /// Receive into `buf` (its spare capacity from index 0; its length is ignored).
    /// Resolves to the byte count (0 at end of stream) and the buffer.
    pub fn recv(self: &Rc<Self>, fd: RawFd, mut buf: Vec<u8>) -> Op {
        buf.clear();
        let mut buf = Buf::Vec(buf);
        let (ptr, len) = buf.ptr_len();
        let sqe = opcode::Recv::new(types::Fd(fd), ptr, len as u32).build();
        self.submit(sqe, buf)
    }

    /// Send the bytes of `buf` (one `send`: it may send fewer).
    pub fn send(self: &Rc<Self>, fd: RawFd, buf: BytesMut) -> Op {
        let mut buf = Buf::Bytes(buf);
        let (ptr, len) = buf.ptr_len();
        let sqe = opcode::Send::new(types::Fd(fd), ptr, len as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        self.submit(sqe, buf)
    }

    /// Send every byte of `buf`, one `send` after another (a `send` may take
    /// fewer). Hands the buffer back, emptied with its allocation kept on
    /// success, with the outcome; a `send` of 0 bytes is `WriteZero`.
    pub async fn send_all(
        self: &Rc<Self>,
        fd: RawFd,
        mut buf: BytesMut,
    ) -> (io::Result<()>, BytesMut) {
        while !buf.is_empty() {
            let (res, back) = self.send(fd, buf).await;
            let Buf::Bytes(back) = back else {
                let e = io::Error::other("socket ring returned no buffer");
                return (Err(e), BytesMut::new());
            };
            buf = back;
            if res < 0 {
                return (Err(io::Error::from_raw_os_error(-res)), buf);
            }
            if res == 0 {
                return (Err(io::ErrorKind::WriteZero.into()), buf);
            }
            bytes::Buf::advance(&mut buf, res as usize);
        }
        buf.clear();
        (Ok(()), buf)
    }

    /// Accept one connection on a listening socket. Resolves to the new fd.
    pub fn accept(self: &Rc<Self>, fd: RawFd) -> Op {
        let sqe = opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build();
        self.submit(sqe, Buf::None)
    }

    fn submit(self: &Rc<Self>, sqe: squeue::Entry, buf: Buf) -> Op {
        let slot = {
            let mut slots = self.slots.borrow_mut();
            match self.free.borrow_mut().pop() {
                Some(i) => {
                    slots[i as usize] = Slot::Waiting { waker: None, buf };
                    i
                }
                None => {
                    slots.push(Slot::Waiting { waker: None, buf });
                    (slots.len() - 1) as u32
                }
            }
        };
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

    /// Submit what is queued and run deferred completions without blocking.
    fn enter(&self) {
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len();
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
        for cqe in ring.completion() {
            let id = cqe.user_data();
            if id == IGNORED {
                continue;
            }
            n += 1;
            self.in_flight.set(self.in_flight.get() - 1);
            let Some(slot) = slots.get_mut(id as usize) else {
                continue;
            };
            match std::mem::replace(slot, Slot::Free) {
                Slot::Waiting { waker, buf } => {
                    *slot = Slot::Done {
                        res: cqe.result(),
                        buf,
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
                Slot::Orphan { buf } => {
                    close_if_accepted(cqe.result(), &buf);
                    self.free.borrow_mut().push(id as u32);
                }
                other => *slot = other,
            }
        }
        n
    }

    /// The driver: run this once per core as a glommio task for as long as the
    /// core serves connections.
    pub async fn drive(self: Rc<Self>) {
        DRIVER.with(|d| *d.borrow_mut() = Rc::downgrade(&self));
        loop {
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
            futures_lite::future::or(self.work.wait(), wait_readable(self.eventfd.as_raw_fd()))
                .await;
            let mut count = [0u8; 8];
            // SAFETY: reads at most 8 bytes into `count`; the eventfd is non-blocking.
            unsafe { libc::read(self.eventfd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
        }
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
                Slot::Waiting { buf, .. } | Slot::Orphan { buf } => std::mem::forget(buf),
                Slot::Done { .. } | Slot::Free => {}
            }
        }
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
            Slot::Waiting { buf, .. } => {
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
                    eprintln!("SKIPPED: no io_uring with SINGLE_ISSUER + DEFER_TASKRUN: {e}");
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
            while ring.in_flight.get() > 0 {
                assert!(
                    start.elapsed().as_secs() < 10,
                    "cancellations never completed"
                );
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
            assert_eq!(ring.free.borrow().len(), ring.slots.borrow().len());
            b.write_all(b"x").expect("write");
            // Nothing consumed the byte: the ring still works and reuses its slots.
            let (res, _) = ring.recv(a.as_raw_fd(), Vec::with_capacity(8)).await;
            assert_eq!(res, 1);
            assert!(ring.slots.borrow().len() <= 102);
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
