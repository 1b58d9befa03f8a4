//! Starting the keys of arriving requests loading before their connections
//! run. At pipeline 1 each connection carries one request per turn, so the
//! pipeline's own prefetch (`command::dispatch`) has nothing to overlap; but one
//! reap of the socket ring wakes many connections at once. As the ring copies
//! each receive out, this hook peeks at the first request's key and starts the
//! table lines its lookup will probe; once the reap is over, the entries. By
//! the time the woken connections run, their lookups find those lines loaded
//! or on the way instead of waiting for three misses each.
//!
//! It reads the keyspace (through `try_borrow`, so it never conflicts with a
//! writer) and never changes it; a wrong guess costs a hash and a prefetch.

use crate::core::world::World;
use crate::protocol::peek::peek_first_key;
use crate::runtime::ring::ReceiveHook;
use crate::storage::staircase::ShardId;
use std::cell::RefCell;
use std::rc::Rc;

/// Keys noted in one reap, beyond which the rest are not prefetched.
const MAX_PER_REAP: usize = 64;

pub struct KeyPrefetch {
    world: Rc<World>,
    /// The keys of this reap whose table lines are on their way.
    noted: RefCell<Vec<(ShardId, u64)>>,
}

impl KeyPrefetch {
    pub fn new(world: Rc<World>) -> KeyPrefetch {
        KeyPrefetch {
            world,
            noted: RefCell::new(Vec::with_capacity(MAX_PER_REAP)),
        }
    }
}

impl ReceiveHook for KeyPrefetch {
    fn received(&self, bytes: &[u8]) {
        let mut noted = self.noted.borrow_mut();
        if noted.len() >= MAX_PER_REAP {
            return;
        }
        let (Some(key), Ok(ks)) = (peek_first_key(bytes), self.world.keyspace.try_borrow()) else {
            return;
        };
        if let Some(found) = ks.prefetch_slots(key) {
            noted.push(found);
        }
    }

    fn reaped(&self) {
        let mut noted = self.noted.borrow_mut();
        if let Ok(ks) = self.world.keyspace.try_borrow() {
            for &found in noted.iter() {
                ks.prefetch_entry(found);
            }
        }
        noted.clear();
    }
}
