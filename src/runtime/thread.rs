//! Threads beside the cores for work a core hands off so that it never blocks
//! on it (a snapshot's writer, the join of its parts, lazy frees). A thread
//! spawned from a pinned core inherits that core's CPU, so it competes with
//! the core's requests for it: [`spawn_background`] starts it at a lower
//! priority ([`BACKGROUND_NICE`]), so the scheduler runs the core first
//! whenever it wants the CPU. It owns that rule and nothing else: it never
//! decides what the thread does or where it runs.

use std::thread::JoinHandle;

/// The nice value of a background thread: a tenth of a core thread's weight
/// (110 against 1024), so it gets the CPU when the core leaves it room and
/// still a share when the core is saturated (a snapshot never starves).
/// Measured: a BGSAVE's writer thread at nice 0 delayed its core by up to 5 ms
/// at a time (`perf sched latency`, 10,000,000 keys under load).
pub const BACKGROUND_NICE: i32 = 10;

/// Spawn `f` on a thread named `name` at [`BACKGROUND_NICE`].
pub fn spawn_background<F, T>(name: String, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new().name(name).spawn(move || {
        lower_priority();
        f()
    })
}

/// Give the calling thread [`BACKGROUND_NICE`]; a refusal leaves it as it was.
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers and touch no memory of
    // ours; on Linux a nice value belongs to one thread, named by its tid.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE)
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "a background thread keeps its priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: as in `lower_priority`; getpriority returns the nice value.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        }
    }

    #[test]
    fn a_background_thread_runs_below_its_parent() {
        let parent = own_nice();
        let child = spawn_background("t".into(), own_nice)
            .expect("spawn")
            .join()
            .expect("join");
        assert_eq!(child, BACKGROUND_NICE.max(parent).min(19));
        assert_eq!(own_nice(), parent, "the spawning thread kept its own");
    }
}
