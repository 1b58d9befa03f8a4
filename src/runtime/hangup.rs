//! Noticing that a client hung up while nothing reads its socket: a
//! connection waiting in a blocking command (BLPOP) reads no requests, yet an
//! element must never be handed to a client that is gone. [`hangup`]
//! completes when the peer closed the connection (or it failed): a one-shot
//! poll for `POLLRDHUP | POLLHUP | POLLERR` on this core's socket ring, which
//! leaves the bytes already received where they are; on a core without a
//! ring, a zero-timeout `poll(2)` every [`FALLBACK_EVERY`]. It never reads or
//! closes the socket.

use io_uring::{opcode, types};
use std::os::fd::RawFd;
use std::time::Duration;

use super::buf::Buf;
use super::driver::DRIVER;

/// How often a core without a socket ring looks.
const FALLBACK_EVERY: Duration = Duration::from_millis(10);

const HUNG_UP: i16 = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR;

/// Complete once the peer of `fd` hung up. Cancel-safe: dropping it cancels
/// the poll.
pub async fn hangup(fd: RawFd) {
    if fd < 0 {
        return std::future::pending().await;
    }
    let ring = DRIVER.with(|r| r.borrow().upgrade());
    if let Some(ring) = ring {
        let sqe = opcode::PollAdd::new(types::Fd(fd), HUNG_UP as u16 as u32).build();
        let (res, _) = ring.submit(sqe, Buf::None).await;
        // A poll the kernel refused (-EINVAL on an odd fd) says nothing of
        // the peer: fall back to looking.
        if res >= 0 {
            return;
        }
    }
    while !hung_up_now(fd) {
        super::timer::sleep(FALLBACK_EVERY).await;
    }
}

/// Has the peer of `fd` hung up? Never waits.
pub fn hung_up_now(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: HUNG_UP,
        revents: 0,
    };
    // SAFETY: `p` is one valid, initialised pollfd that outlives the call;
    // a timeout of 0 never blocks.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (HUNG_UP | libc::POLLNVAL) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_peer_that_closes_is_noticed_and_one_that_sends_is_not() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (s, _) = l.accept().expect("accept");
        use std::os::fd::AsRawFd;
        let fd = s.as_raw_fd();
        c.write_all(b"PING\r\n").expect("write");
        assert!(!hung_up_now(fd), "data is not a hang-up");
        drop(c);
        let start = std::time::Instant::now();
        while !hung_up_now(fd) {
            assert!(start.elapsed() < Duration::from_secs(5), "close never seen");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_ring_poll_completes_when_the_peer_closes() {
        crate::runtime::driver::tests::run(|_ring| async move {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
            let (s, _) = l.accept().expect("accept");
            use std::os::fd::AsRawFd;
            let fd = s.as_raw_fd();
            let closer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                drop(c);
            });
            let start = std::time::Instant::now();
            hangup(fd).await;
            assert!(start.elapsed() >= Duration::from_millis(20));
            closer.join().expect("join");
        });
    }
}
