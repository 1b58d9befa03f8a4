//! This core's blocked clients: those waiting in a command that waits (WAIT)
//! and those held by CLIENT PAUSE. Their count is INFO's `blocked_clients`;
//! those in a waiting command can be let go early by CLIENT UNBLOCK, from
//! any core, through the [`Unblock`] slot registered here. It never decides
//! how long anyone waits.

use crate::runtime::notify::Slot;
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

/// How CLIENT UNBLOCK ends a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// As if its timeout had passed.
    Timeout,
    /// With Redis's `-UNBLOCKED` error.
    Error,
}

#[derive(Default)]
pub struct Blocked {
    waiting: std::cell::RefCell<HashMap<u64, Rc<Slot<Unblock>>>>,
    paused: Cell<u64>,
}

impl Blocked {
    /// Client `id` starts waiting; the slot fills if CLIENT UNBLOCK names it.
    pub fn wait(&self, id: u64) -> Rc<Slot<Unblock>> {
        let slot = Slot::new();
        self.waiting.borrow_mut().insert(id, slot.clone());
        slot
    }

    /// Client `id` stopped waiting (however it ended).
    pub fn done(&self, id: u64) {
        self.waiting.borrow_mut().remove(&id);
    }

    /// CLIENT UNBLOCK: let `id` go if it waits here.
    pub fn unblock(&self, id: u64, how: Unblock) -> bool {
        match self.waiting.borrow_mut().remove(&id) {
            Some(slot) => {
                slot.fill(how);
                true
            }
            None => false,
        }
    }

    /// The server is stopping: let every waiting client go, as at its timeout.
    pub fn unblock_all(&self) {
        for (_, slot) in self.waiting.borrow_mut().drain() {
            slot.fill(Unblock::Timeout);
        }
    }

    /// A client is held by CLIENT PAUSE (true) or let go (false).
    pub fn paused(&self, on: bool) {
        let n = self.paused.get();
        self.paused
            .set(if on { n + 1 } else { n.saturating_sub(1) });
    }

    pub fn count(&self) -> u64 {
        self.waiting.borrow().len() as u64 + self.paused.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_clients_are_counted_and_released_once() {
        let b = Blocked::default();
        let slot = b.wait(7);
        b.paused(true);
        assert_eq!(b.count(), 2);
        assert!(b.unblock(7, Unblock::Error));
        assert_eq!(slot.take(), Some(Unblock::Error));
        assert!(!b.unblock(7, Unblock::Timeout));
        b.paused(false);
        b.paused(false);
        assert_eq!(b.count(), 0);
    }
}
