//! Single-threaded wake-up primitives for tasks on one executor: a level-style
//! [`Notify`] and a one-shot [`Slot`]. They are `!Send` on purpose: they never
//! cross cores (the mesh does that). They know nothing of what they wake a
//! task for.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Wakes one waiting task; a notification sent while nobody waits is kept until the next wait.
#[derive(Default)]
pub struct Notify {
    pending: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    pub fn wait(&self) -> NotifyWait<'_> {
        NotifyWait { n: self }
    }
}

pub struct NotifyWait<'a> {
    n: &'a Notify,
}

impl Future for NotifyWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.n.pending.replace(false) {
            return Poll::Ready(());
        }
        *self.n.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A value delivered once, from whoever holds the other `Rc`.
pub struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    pub fn new() -> Rc<Slot<T>> {
        Rc::new(Slot {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    pub fn fill(&self, v: T) {
        *self.value.borrow_mut() = Some(v);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// The value, if it was filled already (taking it).
    pub fn take(&self) -> Option<T> {
        self.value.borrow_mut().take()
    }

    pub fn wait(self: &Rc<Self>) -> SlotWait<T> {
        SlotWait { s: self.clone() }
    }
}

pub struct SlotWait<T> {
    s: Rc<Slot<T>>,
}

impl<T> Future for SlotWait<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(v) = self.s.value.borrow_mut().take() {
            return Poll::Ready(v);
        }
        *self.s.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_before_wait_is_kept() {
        let ex = glommio::LocalExecutor::default();
        ex.run(async {
            let n = Rc::new(Notify::default());
            n.notify();
            n.wait().await;
            let n2 = n.clone();
            let t = glommio::spawn_local(async move { n2.wait().await });
            glommio::yield_if_needed().await;
            n.notify();
            t.await;
        });
    }

    #[test]
    fn slot_delivers_once() {
        let ex = glommio::LocalExecutor::default();
        ex.run(async {
            let s: Rc<Slot<u32>> = Slot::new();
            let s2 = s.clone();
            glommio::spawn_local(async move { s2.fill(7) }).detach();
            assert_eq!(s.wait().await, 7);
        });
    }
}
