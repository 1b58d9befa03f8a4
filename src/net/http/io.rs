//! The HTTP door's connection as the I/O traits its libraries read and write
//! through: hyper's `rt::Read`/`rt::Write` for HTTP/1.1 and futures'
//! `AsyncRead`/`AsyncWrite` for tungstenite's WebSocket frames, both over the
//! core's own [`Socket`] (the socket ring, or glommio's stream), so an HTTP
//! request costs what a RESP request costs on the wire.
//!
//! It never interprets the bytes. Bounds: it holds what one receive brought
//! and at most [`WRITE_BUDGET`] bytes of replies besides the one send in
//! flight, so a client that does not read stops being written to (the
//! libraries' writes wait) and is never buffered for without end. The `timeout`
//! setting ends a connection whose reads wait longer (WebSocket connections,
//! like subscribers, are exempt).

use crate::core::world::World;
use crate::net::socket::Socket;
use crate::protocol::out::Out;
use bytes::{Buf, BytesMut};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Replies held before a write waits for the send in flight: large enough
/// that a big value goes out in few sends, small enough to bound a client
/// that does not read.
pub const WRITE_BUDGET: usize = 256 * 1024;

/// A handle on the connection: hyper and tungstenite own one while they run,
/// the door keeps another, so that whatever they leave unsent (hyper's
/// `400 Bad Request` before it gives up on a client) still goes out before
/// the socket closes ([`Conn::close`]).
#[derive(Clone)]
pub struct Conn(Rc<RefCell<Wire>>);

pub struct Wire {
    sock: Option<Socket>,
    world: Rc<World>,
    rbuf: BytesMut,
    wbuf: Out,
    /// Close the connection when a read waits this long (`timeout`).
    idle: Option<Duration>,
    timer: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

impl Conn {
    pub fn new(sock: Socket, world: Rc<World>) -> Conn {
        let idle = match world.config.borrow().timeout {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        };
        Conn(Rc::new(RefCell::new(Wire {
            sock: Some(sock),
            world,
            rbuf: BytesMut::new(),
            wbuf: Out::new(),
            idle,
            timer: None,
        })))
    }

    /// Bytes that were read past an upgrade request are read first.
    pub fn unread(&self, bytes: &[u8]) {
        let mut w = self.0.borrow_mut();
        let mut front = BytesMut::from(bytes);
        front.extend_from_slice(&w.rbuf);
        w.rbuf = front;
    }

    /// Reads may wait for ever from now on (a WebSocket).
    pub fn never_idle(&self) {
        let mut w = self.0.borrow_mut();
        w.idle = None;
        w.timer = None;
    }

    /// Send what is left, then take the socket back (None if already taken).
    pub async fn close(&self) -> Option<Socket> {
        let settled = std::future::poll_fn(|cx| self.0.borrow_mut().settle(cx)).await;
        if let Err(e) = settled {
            tracing::debug!(error = %e, "last HTTP reply not delivered");
        }
        self.0.borrow_mut().sock.take()
    }
}

impl Wire {
    /// Read until something is buffered, unless the peer closed (then the
    /// buffer stays empty: end of stream).
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.rbuf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let sock = self.sock.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        match sock.poll_read_into(cx, &mut self.rbuf) {
            Poll::Ready(Ok(n)) => {
                self.world.count_io(n as u64, 0);
                self.timer = None;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if let Some(idle) = self.idle {
                    let timer = self
                        .timer
                        .get_or_insert_with(|| Box::pin(crate::runtime::timer::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("idle for {} s (timeout)", idle.as_secs()),
                        )));
                    }
                }
                Poll::Pending
            }
        }
    }

    /// Hand `put` up to `max` buffered bytes (none at end of stream); its
    /// count.
    fn read_with(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        ready!(self.fill(cx))?;
        let n = self.rbuf.len().min(max);
        put(&self.rbuf[..n]);
        self.rbuf.advance(n);
        Poll::Ready(Ok(n))
    }

    fn write_some(&mut self, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        if self.wbuf.len() >= WRITE_BUDGET {
            ready!(self.hand_off(cx))?;
        }
        let n = src.len().min(WRITE_BUDGET - self.wbuf.len());
        self.wbuf.extend_from_slice(&src[..n]);
        self.world.count_io(0, n as u64);
        Poll::Ready(Ok(n))
    }

    /// Give what is held to the socket once the send in flight is done; it
    /// goes out while the connection goes on (the socket keeps one send in
    /// flight).
    fn hand_off(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let sock = self.sock.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        sock.poll_write_all(cx, &mut self.wbuf)
    }

    /// Everything written is in the kernel's hands.
    fn settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.hand_off(cx))?;
        let sock = self.sock.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        sock.poll_settle(cx)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let max = buf.remaining();
        let read = self.0.borrow_mut().read_with(cx, max, |b| buf.put_slice(b));
        read.map_ok(|_| ())
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.borrow_mut().write_some(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.borrow_mut().hand_off(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.borrow_mut().settle(cx)
    }
}

impl futures_lite::AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.0
            .borrow_mut()
            .read_with(cx, buf.len(), |b| buf[..b.len()].copy_from_slice(b))
    }
}

impl futures_lite::AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.borrow_mut().write_some(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.borrow_mut().hand_off(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.borrow_mut().settle(cx)
    }
}
