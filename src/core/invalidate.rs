//! Telling client-side caches (CLIENT TRACKING) what changed: this core's
//! side of `core::tracking`. A read's `KeyOp::Track` is remembered here when
//! this core owns the key (else the reader is told at once, so it reads again
//! where the key is); every change to keys here — writes, expiry, eviction,
//! FLUSHALL, a shard leaving — becomes [`Delivery`]s, carried by the mesh to
//! the core of each client's connection, and from there to the client it
//! redirects to. A redirect target that is gone is told back to the tracking
//! client once (`tracking-redir-broken`). It never encodes a reply.

use super::mesh::Msg;
use super::pubsub::TRACKING_CHANNEL;
use super::tracking::{Delivery, Notice};
use super::world::World;
use crate::storage::ops::OpResult;
use bytes::Bytes;

impl World {
    /// The core a client's connection lives on (client ids are
    /// `sequence × cores + core`).
    fn core_of_client(&self, client: u64) -> usize {
        (client % self.ncores as u64) as usize
    }

    /// `client` reads `key` and caches it.
    pub(super) fn track_read(&self, key: &Bytes, client: u64, noloop: bool) -> OpResult {
        if self.core_of(key) != self.id {
            // Moved away meanwhile: read again where it lives, and be
            // remembered there.
            self.tell(vec![Delivery {
                client,
                from: client,
                redirected: false,
                notice: Notice::Keys(vec![key.clone()]),
            }]);
            return OpResult::Ok;
        }
        let max = self.config.borrow().tracking_table_max_keys as usize;
        let per_core = max.div_ceil(self.ncores);
        let dropped = self
            .tracking
            .borrow_mut()
            .remember(key.clone(), client, noloop, per_core);
        self.tell(dropped);
        OpResult::Ok
    }

    /// Keys changed here: tell whoever caches them.
    pub(super) fn tracked_changed<'a>(&self, keys: impl IntoIterator<Item = &'a Bytes>) {
        let mut t = self.tracking.borrow_mut();
        if !t.active() {
            return;
        }
        let told = t.changed(keys);
        drop(t);
        self.tell(told);
    }

    /// Everything here was flushed: every tracking connection of this core is
    /// told to drop everything (every core flushes, so each is told once).
    pub(super) fn tracked_flushed(&self) {
        let mut t = self.tracking.borrow_mut();
        t.flushed();
        let locals = t.locals();
        drop(t);
        let all = locals
            .into_iter()
            .map(|c| Delivery {
                client: c,
                from: c,
                redirected: false,
                notice: Notice::All,
            })
            .collect();
        self.tell(all);
    }

    /// Send each delivery to its connection's core.
    pub fn tell(&self, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let mut by_core: Vec<Vec<Delivery>> = (0..self.ncores).map(|_| Vec::new()).collect();
        for d in deliveries {
            let core = self.core_of_client(d.client);
            by_core[core].push(d);
        }
        for (core, ds) in by_core.into_iter().enumerate() {
            if ds.is_empty() {
                continue;
            }
            if core == self.id {
                for d in ds {
                    self.deliver_notice(d);
                }
            } else {
                self.mesh.post(core, Msg::Track(ds));
            }
        }
    }

    /// A delivery for a connection of this core.
    pub(super) fn deliver_notice(&self, d: Delivery) {
        let limit = self.pubsub_limit();
        if d.redirected {
            // A redirect target: subscribed to `__redis__:invalidate`, or
            // tracking itself (RESP3 pushes).
            let sub = self.pubsub.borrow().subscriber(TRACKING_CHANNEL, d.client);
            let mb = sub.or_else(|| {
                self.tracking
                    .borrow()
                    .local
                    .get(&d.client)
                    .map(|l| l.mailbox.clone())
            });
            match mb {
                Some(mb) => mb.notice(d.notice, true, &limit),
                None => self.tell(vec![Delivery {
                    client: d.from,
                    from: d.from,
                    redirected: false,
                    notice: Notice::RedirBroken(d.client),
                }]),
            }
            return;
        }
        let mut t = self.tracking.borrow_mut();
        // Gone since: like Redis, readers are forgotten lazily.
        let Some(local) = t.local.get_mut(&d.client) else {
            return;
        };
        if let Notice::RedirBroken(_) = d.notice {
            if local.broken {
                return;
            }
            local.broken = true;
            local.mailbox.notice(d.notice, false, &limit);
            return;
        }
        if local.redirect != 0 {
            let fwd = Delivery {
                client: local.redirect,
                from: d.client,
                redirected: true,
                notice: d.notice,
            };
            drop(t);
            self.tell(vec![fwd]);
            return;
        }
        local.mailbox.notice(d.notice, false, &limit);
    }
}
