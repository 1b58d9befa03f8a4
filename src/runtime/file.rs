//! File writes and syncs on this core's ring, so that a core's log never
//! blocks its thread: the kernel does a buffered write inline when it can and
//! hands it (and every `fdatasync`) to its own workers when it would block,
//! while the core goes on serving. Where the thread has no ring (a tool, a
//! test without the driver), the same calls run as plain blocking syscalls.
//!
//! It never decides what is written or when; it only moves bytes to a file.

use bytes::BytesMut;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::RawFd;

use super::buf::Buf;
use super::driver::DRIVER;

fn errno(res: i32) -> io::Error {
    io::Error::from_raw_os_error(-res)
}

/// Write every byte of `buf` to `fd` at `offset`, carrying on after short
/// writes; with `dsync`, each write is durable when it completes
/// (`RWF_DSYNC`: as `O_DSYNC`, the write and its `fdatasync` in one
/// operation). Hands the buffer back as it was, with the outcome, so that a
/// failed write can be tried again with the same bytes.
pub async fn write_all_at(
    fd: RawFd,
    mut buf: BytesMut,
    offset: u64,
    dsync: bool,
) -> (io::Result<()>, BytesMut) {
    let flags = if dsync { libc::RWF_DSYNC } else { 0 };
    let ring = DRIVER.with(|r| r.borrow().upgrade());
    let mut done = 0usize;
    while done < buf.len() {
        let rest = &buf[done..];
        let at = offset + done as u64;
        let n = match &ring {
            Some(ring) => {
                let len = rest.len().min(i32::MAX as usize) as u32;
                let sqe = opcode::Write::new(types::Fd(fd), rest.as_ptr(), len)
                    .offset(at)
                    .rw_flags(flags)
                    .build();
                let (res, back) = ring.submit(sqe, Buf::Bytes(buf)).await;
                let Buf::Bytes(back) = back else {
                    return (
                        Err(io::Error::other("the ring returned no buffer")),
                        BytesMut::new(),
                    );
                };
                buf = back;
                if res < 0 {
                    return (Err(errno(res)), buf);
                }
                res as usize
            }
            None => {
                let iov = libc::iovec {
                    iov_base: rest.as_ptr() as *mut libc::c_void,
                    iov_len: rest.len(),
                };
                // SAFETY: `iov` points at `rest`, valid for its length for the call.
                let res = unsafe { libc::pwritev2(fd, &iov, 1, at as libc::off_t, flags) };
                if res < 0 {
                    return (Err(io::Error::last_os_error()), buf);
                }
                res as usize
            }
        };
        if n == 0 {
            return (Err(io::ErrorKind::WriteZero.into()), buf);
        }
        done += n;
    }
    (Ok(()), buf)
}

/// Write all of `buf` to `fd` at `offset`, then `fdatasync` it, as two
/// linked operations in one submission: the sync starts in the kernel the
/// moment the write completed, with no turn of this core between them (for
/// an `O_DIRECT` write, whose completion needs no kernel worker, unlike one
/// with `RWF_DSYNC`). A short write cancels the linked sync; the rest is then
/// written and synced one after the other. Hands the buffer back.
pub async fn write_all_at_synced(
    fd: RawFd,
    buf: BytesMut,
    offset: u64,
) -> (io::Result<()>, BytesMut) {
    let Some(ring) = DRIVER.with(|r| r.borrow().upgrade()) else {
        let (res, buf) = write_all_at(fd, buf, offset, false).await;
        return (res.and(sync_data(fd).await), buf);
    };
    let len = buf.len().min(i32::MAX as usize) as u32;
    let write = opcode::Write::new(types::Fd(fd), buf.as_ptr(), len)
        .offset(offset)
        .build();
    let sync = opcode::Fsync::new(types::Fd(fd))
        .flags(types::FsyncFlags::DATASYNC)
        .build();
    let (wrote, synced) = ring.submit_linked(write, Buf::Bytes(buf), sync);
    let ((res, back), (sync_res, _)) = futures_lite::future::zip(wrote, synced).await;
    let Buf::Bytes(mut buf) = back else {
        return (
            Err(io::Error::other("the ring returned no buffer")),
            BytesMut::new(),
        );
    };
    if res < 0 {
        return (Err(errno(res)), buf);
    }
    if res as u32 == len && len as usize == buf.len() {
        return (
            if sync_res < 0 {
                Err(errno(sync_res))
            } else {
                Ok(())
            },
            buf,
        );
    }
    // Short: the sync was cancelled; finish in two steps.
    let done = res as usize;
    let rest = buf.split_off(done);
    let (res, rest) = write_all_at(fd, rest, offset + done as u64, false).await;
    buf.unsplit(rest);
    match res {
        Ok(()) => (sync_data(fd).await, buf),
        Err(e) => (Err(e), buf),
    }
}

/// `fdatasync(fd)`: what was written is on the disk once this returns Ok.
pub async fn sync_data(fd: RawFd) -> io::Result<()> {
    let ring = DRIVER.with(|r| r.borrow().upgrade());
    match ring {
        Some(ring) => {
            let sqe = opcode::Fsync::new(types::Fd(fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build();
            let (res, _) = ring.submit(sqe, Buf::None).await;
            if res < 0 {
                return Err(errno(res));
            }
            Ok(())
        }
        None => {
            // SAFETY: a plain syscall on a descriptor the caller owns.
            if unsafe { libc::fdatasync(fd) } < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::driver::tests::run;
    use std::os::fd::AsRawFd;

    #[test]
    fn writes_and_syncs_through_the_ring_and_without_it() {
        let dir = std::env::temp_dir().join(format!("stairkv-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("ring.bin");
        let file = std::fs::File::create(&path).expect("create");
        let fd = file.as_raw_fd();
        run(move |_ring| async move {
            let big = BytesMut::from(&vec![7u8; 3 << 20][..]);
            let (res, back) = write_all_at(fd, big, 0, false).await;
            res.expect("write");
            assert_eq!(back.len(), 3 << 20, "the buffer comes back whole");
            let tail = BytesMut::from(&b"tail"[..]);
            write_all_at(fd, tail, 3 << 20, true)
                .await
                .0
                .expect("write tail");
            sync_data(fd).await.expect("sync");
            // A bad descriptor is an error, not a panic, and the bytes come back.
            assert!(sync_data(-1).await.is_err());
            let (res, back) = write_all_at(-1, BytesMut::from(&b"x"[..]), 0, true).await;
            assert!(res.is_err() && &back[..] == b"x");
            drop(file);
        });
        let got = std::fs::read(&path).expect("read");
        assert_eq!(got.len(), (3 << 20) + 4);
        assert!(got[..3 << 20].iter().all(|&b| b == 7) && got.ends_with(b"tail"));
        // Without a ring on the thread: plain syscalls.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let done = futures_lite::future::block_on(async {
            write_all_at(file.as_raw_fd(), BytesMut::from(&b"head"[..]), 0, true)
                .await
                .0?;
            sync_data(file.as_raw_fd()).await
        });
        assert!(done.is_ok());
        assert_eq!(&std::fs::read(&path).expect("read")[..4], b"head");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_linked_write_and_sync_through_the_ring_and_without_it() {
        let dir = std::env::temp_dir().join(format!("stairkv-file-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("linked.bin");
        let file = std::fs::File::create(&path).expect("create");
        let fd = file.as_raw_fd();
        run(move |_ring| async move {
            let big = BytesMut::from(&vec![5u8; 1 << 20][..]);
            let (res, back) = write_all_at_synced(fd, big, 0).await;
            res.expect("write and sync");
            assert_eq!(back.len(), 1 << 20, "the buffer comes back whole");
            let (res, back) = write_all_at_synced(fd, BytesMut::from(&b"end"[..]), 1 << 20).await;
            res.expect("second pair");
            assert_eq!(&back[..], b"end");
            // A failed write cancels its sync: an error, the bytes back.
            let (res, back) = write_all_at_synced(-1, BytesMut::from(&b"x"[..]), 0).await;
            assert!(res.is_err() && &back[..] == b"x");
            // The ring is still usable after the cancelled link.
            write_all_at_synced(fd, BytesMut::from(&b"!"[..]), 0)
                .await
                .0
                .expect("after a failure");
            drop(file);
        });
        let got = std::fs::read(&path).expect("read");
        assert_eq!(got.len(), (1 << 20) + 3);
        assert!(got.starts_with(b"!") && got[1..1 << 20].iter().all(|&b| b == 5));
        assert!(got.ends_with(b"end"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        let done = futures_lite::future::block_on(async {
            write_all_at_synced(file.as_raw_fd(), BytesMut::from(&b"ab"[..]), 0)
                .await
                .0
        });
        assert!(done.is_ok());
        assert_eq!(&std::fs::read(&path).expect("read")[..2], b"ab");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
