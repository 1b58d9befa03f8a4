//! The socket operations a task submits to this core's ring — receive,
//! multishot receive ([`Stream`]), send (whole, resubmitted after short
//! sends), gathering send, accept — and the futures that wait for their
//! completion ([`Op`], [`Stream::read`]): a generic "submit this I/O, get the
//! completion and the buffer back" interface over [`SocketRing`]. Both futures
//! are cancel-safe: dropping one mid-flight cancels the operation in the
//! kernel and leaves its buffer with the ring until the completion comes.
//!
//! It never looks at what the bytes mean.

use bytes::{Bytes, BytesMut};
use io_uring::{opcode, squeue, types};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::buf::{close_if_accepted, send_sqe, with_optlen, Buf, Gather};
use super::bufring;
use super::ring::{Slot, SocketRing, StreamState, INBOX_MAX};

/// `IORING_RECVSEND_POLL_FIRST` (Linux 5.19; the io-uring crate keeps its
/// constants private).
const RECVSEND_POLL_FIRST: u16 = 1;

impl SocketRing {
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

    /// Send every byte of `buf`. The driver resubmits what a short send left
    /// (see `Slot::Sending`), so the op completes once all is sent (result:
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

    pub(super) fn submit(self: &Rc<Self>, sqe: squeue::Entry, buf: Buf) -> Op {
        self.submit_as(sqe, Slot::Waiting { waker: None, buf })
    }

    /// Queue `first` (with `buf`) and `then`, linked: `then` starts once
    /// `first` completed in full; a failed or short `first` cancels it
    /// (`-ECANCELED`). Both futures must be awaited.
    pub(super) fn submit_linked(
        self: &Rc<Self>,
        first: squeue::Entry,
        buf: Buf,
        then: squeue::Entry,
    ) -> (Op, Op) {
        let a = self.alloc(Slot::Waiting { waker: None, buf });
        let b = self.alloc(Slot::Waiting {
            waker: None,
            buf: Buf::None,
        });
        self.push_pair(
            first.user_data(a as u64).flags(squeue::Flags::IO_LINK),
            then.user_data(b as u64),
        );
        self.in_flight.set(self.in_flight.get() + 2);
        let op = |slot| Op {
            ring: self.clone(),
            slot,
            finished: false,
        };
        (op(a), op(b))
    }

    /// Queue `sqe` with its slot in `state`, and hand back its future.
    pub(super) fn submit_as(self: &Rc<Self>, sqe: squeue::Entry, state: Slot) -> Op {
        let slot = self.alloc(state);
        self.push(sqe.user_data(slot as u64));
        self.in_flight.set(self.in_flight.get() + 1);
        Op {
            ring: self.clone(),
            slot,
            finished: false,
        }
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

    /// `read` as a poll, for a socket read through I/O traits.
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::driver::tests::run;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

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
