//! The bell: how one core wakes another that may be asleep. A peer core that
//! puts a mesh packet in this core's channel rings this core's [`Bell`] (an
//! eventfd the core's driver keeps a read of in its ring), which ends a nap in
//! the ring or a park through glommio; and this core's mesh receivers count
//! what they read ([`packet_read`]), so the driver can tell when every packet
//! rung for has been read (`driver::let_peers_in`).
//!
//! It owns the eventfd and the counters; it never looks inside a packet and
//! never touches the ring itself.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::notify::Notify;

thread_local! {
    /// Every core's bell by mesh peer id, for [`ring_bell`].
    static BELLS: RefCell<Vec<Arc<Bell>>> = const { RefCell::new(Vec::new()) };
    /// Packets this core's mesh receivers have read (see [`packet_read`]).
    pub(super) static READ: Cell<u64> = const { Cell::new(0) };
    /// Notified each time a mesh receiver has read a packet.
    pub(super) static READ_NOTIFY: Notify = Notify::default();
}

/// A mesh receiver read a packet from a peer: call once per packet. The
/// driver waits for these after its bell rang (see `SocketRing::drive`).
pub fn packet_read() {
    READ.with(|r| r.set(r.get() + 1));
    READ_NOTIFY.with(Notify::notify);
}

/// Wakes a core napping in its socket ring or parked through glommio (see
/// `SocketRing::drive`) when another core sends it a mesh packet: in a nap
/// glommio would notice the packet only once the core parks, and in a park its
/// own channel wake-up was seen to go missing.
pub struct Bell {
    /// Packets peers have sent this core, counted after each is in its channel.
    pub(super) sent: AtomicU64,
    /// The core naps in its ring or parks through glommio: a peer writes `fd`.
    napping: AtomicBool,
    /// A peer sent a packet since the core last looked: set before the peer
    /// reads `napping`, taken by the core after it sets `napping`, so of any
    /// packet either the core sees the flag or the peer sees the nap.
    pub(super) pending: AtomicBool,
    pub(super) fd: OwnedFd,
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
    pub(super) fn fall_asleep(&self) -> bool {
        self.napping.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.napping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(super) fn wake_up(&self) {
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
