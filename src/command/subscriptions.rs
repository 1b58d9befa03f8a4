//! A connection's pub/sub subscriptions ([`SubState`]): the client state that
//! both the context (which holds it in its `ClientState`, and
//! whose dispatcher checks RESP2's subscribed mode) and the pub/sub family
//! (which fills and empties it) read. It sits under both so neither imports
//! the other for it. It only mirrors the core's registry
//! ([`crate::core::pubsub`]); it never subscribes, delivers or writes.

use crate::core::pubsub::{Kind, Mailbox};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::rc::Rc;

/// A subscribed connection's subscriptions, mirrored from the registry so that
/// counts and UNSUBSCRIBE-all need no registry scan.
pub struct SubState {
    pub mailbox: Rc<Mailbox>,
    pub(super) channels: BTreeSet<Bytes>,
    pub(super) patterns: BTreeSet<Bytes>,
    pub(super) shard: BTreeSet<Bytes>,
    /// Holds the empty name while the connection is a MONITOR.
    pub(super) monitor: BTreeSet<Bytes>,
}

impl std::fmt::Debug for SubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubState")
            .field("channels", &self.channels.len())
            .field("patterns", &self.patterns.len())
            .field("shard", &self.shard.len())
            .finish()
    }
}

impl SubState {
    /// Nothing subscribed yet; messages go to a mailbox bounded by `fd`'s
    /// shutdown (the pub/sub output limit).
    pub fn new(fd: std::os::fd::RawFd) -> SubState {
        SubState {
            mailbox: Mailbox::new(fd),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            shard: BTreeSet::new(),
            monitor: BTreeSet::new(),
        }
    }

    pub(super) fn set(&mut self, kind: Kind) -> &mut BTreeSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
            Kind::Monitor => &mut self.monitor,
        }
    }

    /// Redis's reply count: channels and patterns together; shard channels apart.
    pub(super) fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            Kind::Monitor => self.monitor.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// Whether RESP2's subscribed mode is on (a MONITOR runs commands as usual).
    pub fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }
}
