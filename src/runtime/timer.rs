//! Timers that fire on time on a core that naps in its socket ring: a
//! timeout in the ring itself ends the driver's nap when it expires, where a
//! glommio timer is checked only once the driver parks (up to the driver's
//! `NAP_MAX` late). [`sleep`] uses this thread's ring when it has one, else
//! glommio's timer. It owns no state of its own.

use io_uring::{opcode, types};
use std::rc::Rc;
use std::time::Duration;

use super::buf::Buf;
use super::driver::DRIVER;
use super::ops::Op;
use super::ring::SocketRing;

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

/// Sleep for `d` on glommio's timer: up to the driver's `NAP_MAX` late,
/// but it puts nothing in the ring, so a sleep that is usually cancelled
/// early (a blocking pop's timeout) costs no submission, no cancellation
/// and no completion that wakes a napping core.
pub async fn sleep_coarse(d: Duration) {
    glommio::timer::sleep(d).await;
}

impl SocketRing {
    /// Complete after `after`. A timer in this ring ends the driver's nap (see
    /// `Self::drive`) on time, where a glommio timer can fire up to
    /// `NAP_MAX` late. Resolves with `-ETIME` when it expires.
    pub fn sleep(self: &Rc<Self>, after: Duration) -> Op {
        let ts = Box::new(types::Timespec::from(after));
        let sqe = opcode::Timeout::new(&*ts as *const types::Timespec).build();
        self.submit(sqe, Buf::Timespec(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::driver::tests::run;
    use std::time::Instant;

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
}
