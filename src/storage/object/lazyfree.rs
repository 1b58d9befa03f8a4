//! Freeing a large collection off the core that dropped it (Redis's
//! `lazyfree`): dropping a table of millions of elements walks every bucket
//! and frees every long member, milliseconds to tens of milliseconds on the
//! core's thread — a pause for every other request there. A collection of at
//! least [`LAZY_MIN`] elements is instead handed to one background thread
//! that drops it. Nothing here looks inside a collection; the thread only
//! frees, never touches a key or a core.

use super::Object;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Elements from which dropping is worth a hand-off (Redis: 64 allocations;
/// here a small table frees in microseconds, so the bar is higher).
pub const LAZY_MIN: usize = 4096;

static FREER: OnceLock<Mutex<Sender<Box<Object>>>> = OnceLock::new();

thread_local! {
    /// Each core's own sender (a clone), so handing off takes no lock.
    static SENDER: Sender<Box<Object>> = FREER
        .get_or_init(|| {
            let (tx, rx) = channel::<Box<Object>>();
            let spawned = crate::runtime::thread::spawn_background(
                "stairkv-lazyfree".into(),
                move || rx.into_iter().for_each(drop),
            );
            if let Err(e) = spawned {
                tracing::warn!("no lazyfree thread ({e}): large collections are freed in place");
            }
            Mutex::new(tx)
        })
        .lock()
        .map(|tx| tx.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
}

/// Drop `obj`: in the background when it is large, else here.
pub fn dispose(obj: Box<Object>) {
    if Object::as_ref(&obj).len() < LAZY_MIN {
        return;
    }
    // A closed channel (the thread never started) gives the object back:
    // it is then dropped here.
    let _ = SENDER.with(|tx| tx.send(obj));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::object::{Limits, Set};

    #[test]
    fn large_collections_are_freed_elsewhere_small_ones_here() {
        let lim = Limits::default();
        let mut s = Set::for_first(b"a", &lim);
        for i in 0..LAZY_MIN {
            s.add(format!("member-{i}-with-a-long-name").as_bytes(), &lim);
        }
        dispose(Box::new(Object::Set(s)));
        dispose(Box::new(Object::Set(Set::for_first(b"x", &lim))));
        let pairs: Vec<(Vec<u8>, f64)> = (0..LAZY_MIN)
            .map(|i| {
                (
                    format!("member-{i}-with-a-long-name").into_bytes(),
                    i as f64,
                )
            })
            .collect();
        let z = crate::storage::object::Zset::from_pairs(pairs, &lim);
        assert_eq!(z.as_ref().len(), LAZY_MIN);
        dispose(Box::new(Object::Zset(z)));
    }
}
