//! What an operation hands the kernel: its buffer ([`Buf`]), kept by the ring
//! until the operation completes, a gathering send's segments ([`Gather`]),
//! and the submission entries that point into them (a send of what is left,
//! a multishot receive's byte limit). A buffer is never freed while the
//! kernel may still write into it: that is the ring's job (`ring`), which
//! keeps each in its slot. This module never reads what a buffer holds.

use bytes::{Bytes, BytesMut};
use io_uring::{opcode, squeue, types};
use std::collections::VecDeque;
use std::os::fd::RawFd;

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
    pub(super) fn new(segs: VecDeque<Bytes>, tail: BytesMut) -> Box<Gather> {
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
    /// The buffer of a completed [`SocketRing::recv`](super::ring::SocketRing::recv), its length set to the
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

    pub(super) fn ptr_len(&mut self) -> (*mut u8, usize) {
        match self {
            Buf::None | Buf::Timespec(_) | Buf::Gather(_) => (std::ptr::null_mut(), 0),
            Buf::Vec(v) => (v.as_mut_ptr(), v.capacity()),
            Buf::Bytes(b) => (b.as_mut_ptr(), b.len()),
        }
    }
}

/// `sqe` with its `optlen` field (bytes 44..48 of the 64-byte entry) set:
/// a multishot receive's total byte limit. The io-uring crate has no setter
/// for it on `RecvMulti` yet.
pub(super) fn with_optlen(sqe: squeue::Entry, optlen: u32) -> squeue::Entry {
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
pub(super) fn send_sqe(fd: RawFd, buf: &mut Buf) -> squeue::Entry {
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
pub(super) fn advance(buf: &mut Buf, n: usize) -> usize {
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
pub(super) fn close_if_accepted(res: i32, buf: &Buf) {
    if res >= 0 && matches!(buf, Buf::None) {
        // SAFETY: the kernel created this descriptor for us and nothing else holds it.
        unsafe { libc::close(res) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
