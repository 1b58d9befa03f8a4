//! A connection's socket, whichever path carries its bytes: this core's
//! [`SocketRing`] (the default) or glommio's stock `TcpStream` (`--socket-path
//! stream`, and the fallback when the kernel lacks what the ring needs). The
//! connection loops see only [`Socket::read_into`], [`Socket::write_all`] and
//! [`Socket::finish`]; this module never looks at what the bytes mean.
//!
//! On the ring a write does not wait for the kernel: the reply goes out while
//! the connection already waits for its next request, so a request costs the
//! core one turn instead of two (send, then receive). The ring's driver
//! resubmits what a short send left, so a reply of any size arrives whole
//! whether or not the connection writes again. At most one send is in flight
//! per connection; the next write waits for it, which keeps a client that
//! does not read from making the server buffer without bound
//! ([`Socket::unsent`] says how much is waiting).

use crate::protocol::out::Out;
use crate::runtime::buf::Buf;
use crate::runtime::ops::{Op, Stream};
use crate::runtime::ring::SocketRing;
use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncWrite};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

/// Bytes read per receive (Redis's PROTO_IOBUF_LEN).
pub const READ_CHUNK: usize = 16 * 1024;

enum Path {
    Ring {
        ring: Rc<SocketRing>,
        /// The socket's multishot receive, where the kernel has provided-buffer
        /// rings; otherwise one receive per read. Declared before `sock` so it
        /// is cancelled before the descriptor closes.
        stream: Option<Stream>,
        /// Owns the descriptor (and answers address questions); never used for I/O.
        sock: std::net::TcpStream,
    },
    Stream(glommio::net::TcpStream),
}

pub struct Socket {
    path: Path,
    /// Receive buffer, handed to the ring while a receive is in flight.
    scratch: Vec<u8>,
    /// A receive whose future was dropped (a subscriber woken by a message
    /// instead): the next read takes its result, so no bytes are lost.
    pending: Option<Op>,
    /// The last receive left the socket empty (it did not fill its buffer), so
    /// the next one waits for data before it tries.
    drained: bool,
    /// The send in flight, if any (ring path), and its size.
    sending: Option<Op>,
    sending_len: usize,
    /// The write buffer not in flight: handed back to the caller in exchange
    /// for the one it gives to a send, so both keep their allocations.
    spare: BytesMut,
    /// glommio's stream: what a write has yet to hand to it.
    writing: Option<(VecDeque<Bytes>, BytesMut)>,
}

/// glommio reports its own error type; the connection loops speak `io::Error`.
fn from_glommio<T: std::fmt::Debug>(e: glommio::GlommioError<T>) -> io::Error {
    io::Error::other(e.to_string())
}

/// How a core accepts connections.
pub enum Acceptor {
    Ring {
        ring: Rc<SocketRing>,
        listener: std::net::TcpListener,
    },
    Stream(glommio::net::TcpListener),
}

impl Acceptor {
    /// Accept on `listener` through `ring`, or through glommio when there is none.
    pub fn new(listener: std::net::TcpListener, ring: Option<&Rc<SocketRing>>) -> Acceptor {
        match ring {
            Some(ring) => Acceptor::Ring {
                ring: ring.clone(),
                listener,
            },
            None => {
                use std::os::fd::IntoRawFd;
                // SAFETY: the descriptor is a bound, listening TCP socket we own.
                Acceptor::Stream(unsafe {
                    glommio::net::TcpListener::from_raw_fd(listener.into_raw_fd())
                })
            }
        }
    }

    pub async fn accept(&self) -> io::Result<Socket> {
        let path = match self {
            Acceptor::Ring { ring, listener } => {
                let (res, _) = ring.accept(listener.as_raw_fd()).await;
                if res < 0 {
                    return Err(io::Error::from_raw_os_error(-res));
                }
                // SAFETY: the kernel just created this descriptor for us; nothing else owns it.
                let sock = unsafe { std::net::TcpStream::from_raw_fd(res) };
                Path::Ring {
                    ring: ring.clone(),
                    stream: ring.stream(sock.as_raw_fd()),
                    sock,
                }
            }
            Acceptor::Stream(listener) => {
                Path::Stream(listener.accept().await.map_err(from_glommio)?)
            }
        };
        let s = Socket {
            path,
            // Allocated on the first read that needs it: a multishot stream
            // receives into the ring's buffers instead.
            scratch: Vec::new(),
            pending: None,
            drained: false,
            sending: None,
            sending_len: 0,
            spare: BytesMut::new(),
            writing: None,
        };
        // Replies are written whole, one write per batch: Nagle would only delay them.
        let _ = s.set_nodelay();
        Ok(s)
    }
}

impl Socket {
    fn set_nodelay(&self) -> io::Result<()> {
        match &self.path {
            Path::Ring { sock, .. } => sock.set_nodelay(true),
            Path::Stream(s) => s.set_nodelay(true).map_err(from_glommio),
        }
    }

    pub fn peer_addr(&self) -> String {
        match &self.path {
            Path::Ring { sock, .. } => sock.peer_addr().map(|a| a.to_string()),
            Path::Stream(s) => s.peer_addr().map(|a| a.to_string()).map_err(from_glommio),
        }
        .unwrap_or_default()
    }

    pub fn local_addr(&self) -> String {
        match &self.path {
            Path::Ring { sock, .. } => sock.local_addr().map(|a| a.to_string()),
            Path::Stream(s) => s.local_addr().map(|a| a.to_string()).map_err(from_glommio),
        }
        .unwrap_or_default()
    }

    pub fn raw_fd(&self) -> RawFd {
        match &self.path {
            Path::Ring { sock, .. } => sock.as_raw_fd(),
            Path::Stream(s) => s.as_raw_fd(),
        }
    }

    /// Read what the socket has and append it to `dst` (at most [`READ_CHUNK`]
    /// bytes per call without a multishot receive). Returns the count; 0 means the peer closed. Cancel-safe: if the
    /// future is dropped, bytes that arrive meanwhile go to the next call.
    pub async fn read_into(&mut self, dst: &mut BytesMut) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_read_into(cx, dst)).await
    }

    /// [`Self::read_into`] as a poll, for the I/O traits of the HTTP door's
    /// libraries.
    pub fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match &mut self.path {
            Path::Ring {
                stream: Some(stream),
                ..
            } => stream.poll_read(cx, dst),
            Path::Ring { ring, sock, .. } => {
                let op = match &mut self.pending {
                    Some(op) => op,
                    pending => {
                        let mut buf = std::mem::take(&mut self.scratch);
                        buf.reserve(READ_CHUNK);
                        pending.insert(ring.recv_with(sock.as_raw_fd(), buf, self.drained))
                    }
                };
                let (res, buf) = ready!(Pin::new(op).poll(cx));
                self.pending = None;
                let Some(buf) = buf.into_received(res) else {
                    return Poll::Ready(Err(io::Error::other("socket ring returned no buffer")));
                };
                self.drained = res >= 0 && buf.len() < buf.capacity();
                dst.extend_from_slice(&buf);
                self.scratch = buf;
                if res < 0 {
                    return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
                }
                Poll::Ready(Ok(res as usize))
            }
            Path::Stream(s) => {
                self.scratch.resize(READ_CHUNK, 0);
                let n = ready!(Pin::new(s).poll_read(cx, &mut self.scratch))?;
                dst.extend_from_slice(&self.scratch[..n]);
                Poll::Ready(Ok(n))
            }
        }
    }

    /// Write all of `src`; `src` is left empty, with an allocation for reuse.
    /// On the ring this returns once the previous write is done and this one
    /// is handed to the kernel; [`Self::finish`] waits for the last one.
    pub async fn write_all(&mut self, src: &mut Out) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_write_all(cx, src)).await
    }

    /// [`Self::write_all`] as a poll. Its first call takes all of `src`;
    /// later calls finish that write (`src` is not read again until it is
    /// Ready).
    pub fn poll_write_all(&mut self, cx: &mut Context<'_>, src: &mut Out) -> Poll<io::Result<()>> {
        match &mut self.path {
            Path::Ring { ring, sock, .. } => {
                let (ring, fd) = (ring.clone(), sock.as_raw_fd());
                ready!(self.poll_settle(cx))?;
                if src.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let spare = Out::from_tail(std::mem::take(&mut self.spare));
                let (segs, tail) = std::mem::replace(src, spare).into_parts();
                self.sending_len = segs.iter().map(|s| s.len()).sum::<usize>() + tail.len();
                self.sending = Some(ring.send_gather(fd, segs, tail));
                Poll::Ready(Ok(()))
            }
            Path::Stream(s) => {
                let write = match self.writing.take() {
                    Some(w) => w,
                    None if src.is_empty() => return Poll::Ready(Ok(())),
                    None => std::mem::take(src).into_parts(),
                };
                let (segs, tail) = self.writing.insert(write);
                loop {
                    while segs.front().is_some_and(|seg| seg.is_empty()) {
                        segs.pop_front();
                    }
                    let front: &mut dyn bytes::Buf = match segs.front_mut() {
                        Some(seg) => seg,
                        None if tail.is_empty() => break,
                        None => tail,
                    };
                    let n = ready!(Pin::new(&mut *s).poll_write(cx, front.chunk()))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    front.advance(n);
                }
                if let Some((_, tail)) = self.writing.take() {
                    *src = Out::from_tail(tail);
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    /// Bytes in the socket's send queue in the kernel, not yet acknowledged by
    /// the peer (`SIOCOUTQ`). One syscall: asked only where a limit needs it.
    pub fn queued_in_kernel(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer; the
        // descriptor is this connection's own socket.
        let r = unsafe { libc::ioctl(self.raw_fd(), libc::TIOCOUTQ, &mut n) };
        if r == 0 {
            n.max(0) as usize
        } else {
            0
        }
    }

    /// Bytes handed to [`Self::write_all`] that the kernel has not taken yet
    /// (all of the send in flight: the ring reports a send when it is whole).
    pub fn unsent(&self) -> usize {
        if self.sending.is_some() {
            self.sending_len
        } else {
            0
        }
    }

    /// Wait until every byte written has been handed to the kernel's socket
    /// buffer: call before closing, so the last reply (QUIT's `+OK`, a protocol
    /// error) reaches the client.
    pub async fn finish(&mut self) -> io::Result<()> {
        self.settle().await
    }

    /// Wait until the send in flight is whole (the ring resubmits short sends
    /// itself). Cancel-safe: the send stays in flight if this future is dropped.
    pub async fn settle(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_settle(cx)).await
    }

    /// [`Self::settle`] as a poll.
    pub fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(op) = self.sending.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let (res, buf) = ready!(Pin::new(op).poll(cx));
        self.sending = None;
        self.sending_len = 0;
        let mut tail = match buf {
            Buf::Bytes(b) => b,
            Buf::Gather(g) => g.into_tail(),
            _ => return Poll::Ready(Err(io::Error::other("socket ring returned no buffer"))),
        };
        if res < 0 {
            return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
        }
        if res == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        tail.clear();
        self.spare = tail;
        Poll::Ready(Ok(()))
    }
}
