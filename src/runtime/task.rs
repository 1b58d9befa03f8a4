//! Spawning a task on this core: [`spawn`] is `glommio::spawn_local` with a
//! count of the task's polls, which is how the ring's driver learns whether
//! anything else on the core wanted to run before it naps (see `driver`).
//! Every task of a thread that drives a socket ring is spawned through here.
//! It owns that count and nothing else.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// Polls of tasks spawned through [`spawn`]: the driver compares it across
    /// a yield to learn whether anything else on this core wanted to run.
    pub(super) static POLLS: Cell<u64> = const { Cell::new(0) };
}

/// Spawn a task on this core. Use this rather than `glommio::spawn_local` for
/// every task of a thread that drives a `SocketRing`: the driver only naps
/// in its ring when no such task ran since it last looked.
pub fn spawn<T: 'static>(f: impl Future<Output = T> + 'static) -> glommio::Task<T> {
    glommio::spawn_local(Counted(Box::pin(f)))
}

struct Counted<F>(Pin<Box<F>>);

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS.with(|p| p.set(p.get() + 1));
        self.0.as_mut().poll(cx)
    }
}

/// Run blocking work (a small file read or written by an admin command, a big
/// file removed) on glommio's helper thread, so this core's other tasks go on
/// meanwhile.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(f).await
}
