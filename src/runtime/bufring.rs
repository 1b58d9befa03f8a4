//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): buffers
//! the kernel picks from for multishot receives, so a connection keeps one
//! receive armed for its whole life instead of submitting (and arming a poll
//! for) a new one per request. The socket ring copies what a buffer received
//! into the connection's own queue as it reaps the completion and hands the
//! buffer straight back, so buffers are held only for the length of a reap
//! and a few of them serve any number of connections.
//!
//! This module owns the ring's memory and its tail; it never reads a socket
//! and never touches the keyspace.

use io_uring::types::BufRingEntry;
use io_uring::IoUring;
use std::alloc::{alloc_zeroed, Layout};
use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// Buffers in the ring (a power of two).
pub const BUFFERS: u16 = 256;
/// Bytes per buffer: Redis's read size (PROTO_IOBUF_LEN).
pub const BUFFER_SIZE: usize = 16 * 1024;
/// The buffer group id multishot receives name.
pub const GROUP: u16 = 0;

pub struct BufRing {
    /// `BUFFERS` entries of 16 bytes, page-aligned, registered with the kernel.
    entries: NonNull<BufRingEntry>,
    /// `BUFFERS` buffers of `BUFFER_SIZE` bytes.
    data: NonNull<u8>,
    /// Our copy of the tail: entries up to it are the kernel's to pick.
    tail: Cell<u16>,
}

fn layouts() -> (Layout, Layout) {
    let entries =
        Layout::from_size_align(BUFFERS as usize * std::mem::size_of::<BufRingEntry>(), 4096);
    let data = Layout::from_size_align(BUFFERS as usize * BUFFER_SIZE, 4096);
    match (entries, data) {
        (Ok(e), Ok(d)) => (e, d),
        // Both are constant, non-zero and aligned to a power of two.
        _ => unreachable!("buffer ring layouts are constant and valid"),
    }
}

impl BufRing {
    /// Allocate the buffers, register them as group [`GROUP`] on `ring` and
    /// hand every one of them to the kernel.
    pub fn register(ring: &IoUring) -> io::Result<BufRing> {
        let (el, dl) = layouts();
        // SAFETY: both layouts have a non-zero size (see `layouts`).
        let (entries, data) = unsafe { (alloc_zeroed(el), alloc_zeroed(dl)) };
        let (Some(entries), Some(data)) = (NonNull::new(entries), NonNull::new(data)) else {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer ring"));
        };
        let br = BufRing {
            entries: entries.cast(),
            data,
            tail: Cell::new(0),
        };
        // SAFETY: the entries are page-aligned, `BUFFERS` long, and live as long
        // as the ring: `Drop` never frees them (see there).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries.as_ptr() as u64,
                BUFFERS,
                GROUP,
                0,
            )?;
        }
        for bid in 0..BUFFERS {
            br.push(bid);
        }
        br.publish();
        Ok(br)
    }

    /// The first `len` bytes of buffer `bid`, as a completion reported them.
    pub fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        let bid = (bid % BUFFERS) as usize;
        // SAFETY: buffer `bid` lies inside `data` (bid < BUFFERS) and is not the
        // kernel's until `give_back`; `len` is clamped to its size.
        unsafe {
            std::slice::from_raw_parts(
                self.data.as_ptr().add(bid * BUFFER_SIZE),
                len.min(BUFFER_SIZE),
            )
        }
    }

    /// Hand buffer `bid` back to the kernel once its bytes are copied out.
    pub fn give_back(&self, bid: u16) {
        self.push(bid % BUFFERS);
        self.publish();
    }

    fn push(&self, bid: u16) {
        let tail = self.tail.get();
        // SAFETY: `tail & (BUFFERS - 1)` indexes one of the `BUFFERS` entries; the
        // kernel reads only entries below the published tail, and this one is
        // above it until `publish`.
        let entry = unsafe { &mut *self.entries.as_ptr().add((tail & (BUFFERS - 1)) as usize) };
        // SAFETY: `bid < BUFFERS`, so the address is inside `data`.
        let addr = unsafe { self.data.as_ptr().add(bid as usize * BUFFER_SIZE) };
        entry.set_addr(addr as u64);
        entry.set_len(BUFFER_SIZE as u32);
        entry.set_bid(bid);
        self.tail.set(tail.wrapping_add(1));
    }

    /// Let the kernel see every entry pushed so far.
    fn publish(&self) {
        // SAFETY: the first entry's reserved field is the ring's tail (the
        // kernel's layout, which `BufRingEntry::tail` names); it is a u16 the
        // kernel reads concurrently, so it is written atomically.
        unsafe {
            let tail = BufRingEntry::tail(self.entries.as_ptr()) as *const AtomicU16;
            (*tail).store(self.tail.get(), Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // The kernel may use the buffers until the ring's teardown, which
        // finishes after its descriptor is closed: the memory is leaked on
        // purpose (rings live as long as their core).
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_ring_hands_out_and_takes_back_buffers() {
        let ring = match IoUring::new(8) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("SKIPPED: no io_uring: {e}");
                return;
            }
        };
        let br = match BufRing::register(&ring) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("SKIPPED: no provided-buffer rings: {e}");
                return;
            }
        };
        assert_eq!(br.tail.get(), BUFFERS);
        br.give_back(3);
        assert_eq!(br.tail.get(), BUFFERS.wrapping_add(1));
        assert_eq!(br.bytes(3, usize::MAX).len(), BUFFER_SIZE);
        assert!(br.bytes(BUFFERS + 3, 10).len() == 10);
    }
}
