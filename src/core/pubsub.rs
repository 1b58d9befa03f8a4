//! This core's pub/sub registry: which of *this core's* connections subscribe
//! to which channels, patterns and shard channels, and a mailbox per
//! subscribed connection. A PUBLISH on any core is carried to every core by
//! the mesh, and each core delivers to its own subscribers only — so the
//! registry never touches another core's connections and needs no locks.
//!
//! Delivery never waits: a message is queued in the subscriber's mailbox and
//! its connection task is woken to write it. A subscriber that stops reading
//! is bounded by the pub/sub output-buffer limit (Redis's `client-output-
//! buffer-limit pubsub`): past the hard limit, or past the soft limit for
//! longer than its time, the connection is shut down and its messages
//! dropped, so the server's memory stays bounded and nobody else slows down.
//! Messages are kept as (kind, pattern, channel, payload); the connection
//! encodes them for its protocol version — this layer never encodes replies.

use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::runtime::notify::Notify;
use crate::storage::glob::glob_match;

/// Bytes counted per queued message on top of its channel and payload: the
/// framing and the queue entry, so a flood of empty messages is bounded too.
const MESSAGE_OVERHEAD: usize = 64;

/// The three subscription namespaces, and MONITOR: a monitor subscribes to
/// one unnamed feed of every command run on any core (its lines come as a
/// message's payload and are written as simple strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
    Monitor,
}

/// MONITOR clients on every core: while there are none, no core formats a
/// monitor line (one relaxed load per pipeline is what MONITOR costs then).
static MONITORS: AtomicUsize = AtomicUsize::new(0);

/// Whether any core has a MONITOR client.
pub fn monitors_anywhere() -> bool {
    MONITORS.load(Ordering::Relaxed) > 0
}

/// What a client-side caching client is told (`core::tracking`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// These keys changed: drop them.
    Keys(Vec<Bytes>),
    /// Everything changed (FLUSHALL, FLUSHDB): drop every key.
    All,
    /// The client its notices were redirected to is gone.
    RedirBroken(u64),
}

/// Where RESP2 clients hear client-side caching notices redirected to them.
pub const TRACKING_CHANNEL: &[u8] = b"__redis__:invalidate";

/// One message waiting for a subscriber.
#[derive(Debug, Clone)]
pub struct Push {
    pub kind: Kind,
    /// The pattern that matched (pattern subscriptions only).
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
    /// A client-side caching notice (`core::tracking`) instead of a message:
    /// `channel` is `__redis__:invalidate` when it was redirected here.
    pub tracking: Option<Notice>,
}

/// `client-output-buffer-limit pubsub <hard> <soft> <seconds>`; 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl Default for OutputLimit {
    /// Redis's defaults for pub/sub clients: 32 MB hard, 8 MB for 60 s soft.
    fn default() -> Self {
        OutputLimit {
            hard: 32 * 1024 * 1024,
            soft: 8 * 1024 * 1024,
            soft_seconds: 60,
        }
    }
}

/// A subscribed connection's queue of messages not yet written.
pub struct Mailbox {
    fd: RawFd,
    queue: RefCell<VecDeque<Push>>,
    /// Bytes queued here plus bytes taken by the connection and not yet sent.
    bytes: Cell<usize>,
    in_flight: Cell<usize>,
    soft_since: Cell<Option<Instant>>,
    closed: Cell<bool>,
    wake: Notify,
}

impl Mailbox {
    pub fn new(fd: RawFd) -> Rc<Mailbox> {
        Rc::new(Mailbox {
            fd,
            queue: RefCell::default(),
            bytes: Cell::new(0),
            in_flight: Cell::new(0),
            soft_since: Cell::new(None),
            closed: Cell::new(false),
            wake: Notify::default(),
        })
    }

    /// Wait until a message is queued (returns at once if one is).
    pub async fn wait(&self) {
        if self.queue.borrow().is_empty() {
            self.wake.wait().await;
        }
    }

    /// Take every queued message; their bytes count as in flight until
    /// [`Mailbox::sent`].
    pub fn take(&self) -> VecDeque<Push> {
        let q = std::mem::take(&mut *self.queue.borrow_mut());
        self.in_flight.set(self.bytes.get());
        q
    }

    /// The messages taken last have been written to the socket.
    pub fn sent(&self) {
        self.bytes.set(self.bytes.get() - self.in_flight.get());
        self.in_flight.set(0);
        if self.bytes.get() == 0 {
            self.soft_since.set(None);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub fn queued_bytes(&self) -> usize {
        self.bytes.get()
    }

    /// Queue a client-side caching notice (bounded like any message).
    pub fn notice(&self, notice: Notice, redirected: bool, limit: &OutputLimit) {
        let channel = if redirected {
            Bytes::from_static(TRACKING_CHANNEL)
        } else {
            Bytes::new()
        };
        let msg = Push {
            kind: Kind::Channel,
            pattern: None,
            channel,
            payload: Bytes::new(),
            tracking: Some(notice),
        };
        self.push(msg, limit, Instant::now());
    }

    fn push(&self, msg: Push, limit: &OutputLimit, now: Instant) {
        if self.closed.get() {
            return;
        }
        let keys = match &msg.tracking {
            Some(Notice::Keys(k)) => k.iter().map(|k| k.len() + 16).sum(),
            _ => 0,
        };
        let size = msg.channel.len()
            + msg.payload.len()
            + msg.pattern.as_ref().map_or(0, |p| p.len())
            + keys
            + MESSAGE_OVERHEAD;
        let total = (self.bytes.get() + size) as u64;
        let over_hard = limit.hard > 0 && total > limit.hard;
        let over_soft = limit.soft > 0 && total > limit.soft;
        let soft_expired = over_soft
            && match self.soft_since.get() {
                None => {
                    self.soft_since.set(Some(now));
                    false
                }
                Some(t) => now.duration_since(t) >= Duration::from_secs(limit.soft_seconds),
            };
        if !over_soft {
            self.soft_since.set(None);
        }
        if over_hard || soft_expired {
            self.close(total);
            return;
        }
        self.bytes.set(total as usize);
        self.queue.borrow_mut().push_back(msg);
        self.wake.notify();
    }

    fn close(&self, total: u64) {
        self.closed.set(true);
        tracing::warn!(
            fd = self.fd,
            bytes = total,
            "closing a pub/sub client that passed the output buffer limit"
        );
        self.queue.borrow_mut().clear();
        self.bytes.set(self.in_flight.get());
        // SAFETY: shutdown takes no memory; the descriptor stays owned (and open)
        // by the connection, which sees its pending read or write fail and ends.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        self.wake.notify();
    }
}

type Subs = HashMap<Bytes, Vec<(u64, Rc<Mailbox>)>>;

/// This core's subscriptions.
#[derive(Default)]
pub struct Registry {
    channels: Subs,
    patterns: Subs,
    shard: Subs,
    /// MONITOR clients, under the empty name.
    monitors: Subs,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut Subs {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
            Kind::Monitor => &mut self.monitors,
        }
    }

    fn map_ref(&self, kind: Kind) -> &Subs {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
            Kind::Monitor => &self.monitors,
        }
    }

    /// Add `client` to `name`; false if it was already there.
    pub fn subscribe(&mut self, kind: Kind, name: Bytes, client: u64, mb: &Rc<Mailbox>) -> bool {
        let subs = self.map(kind).entry(name).or_default();
        if subs.iter().any(|(c, _)| *c == client) {
            return false;
        }
        subs.push((client, mb.clone()));
        if kind == Kind::Monitor {
            MONITORS.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Remove `client` from `name`; false if it was not there.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], client: u64) -> bool {
        let map = self.map(kind);
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let before = subs.len();
        subs.retain(|(c, _)| *c != client);
        let removed = subs.len() != before;
        if subs.is_empty() {
            map.remove(name);
        }
        if removed && kind == Kind::Monitor {
            MONITORS.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Give a monitor line to this core's MONITOR clients.
    pub fn feed_monitors(&self, line: &Bytes, limit: &OutputLimit) {
        let Some(subs) = self.monitors.get(&b""[..]) else {
            return;
        };
        let now = Instant::now();
        for (_, mb) in subs {
            let msg = Push {
                kind: Kind::Monitor,
                pattern: None,
                channel: Bytes::new(),
                payload: line.clone(),
                tracking: None,
            };
            mb.push(msg, limit, now);
        }
    }

    /// Deliver to this core's subscribers; returns how many received it (a
    /// client subscribed to the channel and to a matching pattern counts twice,
    /// as in Redis).
    pub fn deliver(
        &self,
        shard: bool,
        channel: &Bytes,
        payload: &Bytes,
        limit: &OutputLimit,
    ) -> usize {
        let now = Instant::now();
        let mut n = 0;
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        if let Some(subs) = self.map_ref(kind).get(channel) {
            for (_, mb) in subs {
                mb.push(
                    Push {
                        kind,
                        pattern: None,
                        channel: channel.clone(),
                        payload: payload.clone(),
                        tracking: None,
                    },
                    limit,
                    now,
                );
            }
            n += subs.len();
        }
        if shard {
            return n;
        }
        for (pattern, subs) in &self.patterns {
            if !glob_match(pattern, channel) {
                continue;
            }
            for (_, mb) in subs {
                mb.push(
                    Push {
                        kind: Kind::Pattern,
                        pattern: Some(pattern.clone()),
                        channel: channel.clone(),
                        payload: payload.clone(),
                        tracking: None,
                    },
                    limit,
                    now,
                );
            }
            n += subs.len();
        }
        n
    }

    /// The mailbox of `client` if it subscribes to `channel` here.
    pub fn subscriber(&self, channel: &[u8], client: u64) -> Option<Rc<Mailbox>> {
        self.channels
            .get(channel)?
            .iter()
            .find(|(c, _)| *c == client)
            .map(|(_, mb)| mb.clone())
    }

    /// How many subscriptions here [`Self::deliver`] would reach now.
    pub fn receivers(&self, shard: bool, channel: &[u8]) -> usize {
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        let direct = self.map_ref(kind).get(channel).map_or(0, Vec::len);
        if shard {
            return direct;
        }
        direct
            + self
                .patterns
                .iter()
                .filter(|(p, _)| glob_match(p, channel))
                .map(|(_, subs)| subs.len())
                .sum::<usize>()
    }

    /// Channels (or shard channels) with at least one subscriber here,
    /// matching `pattern` when given.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map_ref(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c)))
            .cloned()
            .collect()
    }

    /// Subscribers here to each of `names`.
    pub fn counts(&self, kind: Kind, names: &[Bytes]) -> Vec<usize> {
        let map = self.map_ref(kind);
        names
            .iter()
            .map(|n| map.get(n).map_or(0, Vec::len))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn delivery_counts_channel_and_pattern_subscribers() {
        let mut r = Registry::default();
        let (a, c) = (Mailbox::new(-1), Mailbox::new(-1));
        assert!(r.subscribe(Kind::Channel, b("news"), 1, &a));
        assert!(!r.subscribe(Kind::Channel, b("news"), 1, &a));
        assert!(r.subscribe(Kind::Pattern, b("n*"), 1, &a));
        assert!(r.subscribe(Kind::Pattern, b("x*"), 2, &c));
        let lim = OutputLimit::default();
        assert_eq!(r.receivers(false, b"news"), 2);
        assert_eq!(r.deliver(false, &b("news"), &b("hi"), &lim), 2);
        assert_eq!(r.deliver(true, &b("news"), &b("hi"), &lim), 0);
        let got: Vec<Push> = a.take().into_iter().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].pattern.as_deref(), Some(&b"n*"[..]));
        assert!(c.take().is_empty());
        assert!(r.unsubscribe(Kind::Channel, b"news", 1));
        assert!(!r.unsubscribe(Kind::Channel, b"news", 1));
        assert_eq!(r.names(Kind::Channel, None), Vec::<Bytes>::new());
        assert_eq!(r.names(Kind::Pattern, Some(b"n*")), vec![b("n*")]);
    }

    #[test]
    fn a_mailbox_past_the_hard_limit_closes_and_drops() {
        let mut r = Registry::default();
        let mb = Mailbox::new(-1);
        r.subscribe(Kind::Channel, b("c"), 7, &mb);
        let lim = OutputLimit {
            hard: 1000,
            soft: 0,
            soft_seconds: 0,
        };
        let payload = Bytes::from(vec![b'x'; 300]);
        for _ in 0..10 {
            r.deliver(false, &b("c"), &payload, &lim);
        }
        assert!(mb.is_closed());
        assert!(mb.queued_bytes() <= 1000);
        assert!(mb.take().is_empty());
    }

    #[test]
    fn the_soft_limit_needs_its_time() {
        let mb = Mailbox::new(-1);
        let lim = OutputLimit {
            hard: 0,
            soft: 100,
            soft_seconds: 5,
        };
        let msg = |n| Push {
            tracking: None,
            kind: Kind::Channel,
            pattern: None,
            channel: b("c"),
            payload: Bytes::from(vec![b'x'; n]),
        };
        let t0 = Instant::now();
        mb.push(msg(200), &lim, t0);
        assert!(!mb.is_closed(), "over soft, but only just");
        mb.push(msg(10), &lim, t0 + Duration::from_secs(4));
        assert!(!mb.is_closed());
        mb.push(msg(10), &lim, t0 + Duration::from_secs(6));
        assert!(mb.is_closed(), "over soft for longer than its time");

        // Draining below the soft limit restarts the clock.
        let mb = Mailbox::new(-1);
        mb.push(msg(200), &lim, t0);
        mb.take();
        mb.sent();
        mb.push(msg(200), &lim, t0 + Duration::from_secs(10));
        assert!(!mb.is_closed());
    }
}
