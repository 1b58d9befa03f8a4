//! What the blocking commands share (BLPOP, BRPOP, BLMPOP, BLMOVE,
//! BRPOPLPUSH, and the sorted sets' BZPOPMIN, BZPOPMAX, BZMPOP): Redis's
//! timeout argument, and one client's wait from registration to its end —
//! served, timed out, let go by CLIENT UNBLOCK, or its client gone. The
//! waiting itself (who is served first, the hand-off across cores) is
//! `core::blocking`'s; this never pops anything or formats a reply.

use super::atomic::{atomically, key_types, Steps};
use super::frame::Frame;
use crate::core::blocked::Unblock;
use crate::core::router::BatchSeed;
use crate::core::waiters::{Served, Ticket, Waiter, Want};
use crate::storage::ops::{KeyOp, OpError, OpResult};
use bytes::Bytes;
use futures_lite::future::or;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// A blocking command's timeout in seconds, read as Redis 7 reads it:
/// fractions allowed, truncated to milliseconds, and 0 ms waits forever
/// (so does `0.0001`); below 0 ms, or too large for Redis's millisecond
/// clock (which it then sees as negative), is "negative".
pub fn timeout_arg(arg: &[u8]) -> Result<Option<Duration>, Frame> {
    let secs = std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && !s.starts_with(char::is_whitespace))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| !s.is_nan());
    let Some(secs) = secs else {
        return Err(Frame::err("ERR timeout is not a float or out of range"));
    };
    let ms = (secs * 1000.0).trunc();
    if !(0.0..9.2e18).contains(&ms) {
        return Err(Frame::err("ERR timeout is negative"));
    }
    let ms = ms as u64;
    if ms > i64::MAX as u64 - crate::storage::now_ms() {
        return Err(Frame::err("ERR timeout is out of range"));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// How long a wait goes before it watches its socket for a hang-up.
const HANGUP_WATCH_AFTER: Duration = Duration::from_millis(20);

/// The client that waits, as the wait needs it.
pub struct Client {
    pub id: u64,
    /// Its socket, watched for a hang-up (-1: none to watch).
    pub fd: RawFd,
    /// The command waiting (CLIENT LIST's `cmd` while it waits, as Redis).
    pub cmd: &'static str,
}

/// How a wait ended.
pub enum Ended {
    /// A pop's result from `key` (for BLMOVE: `key` has an element).
    Served(Served),
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
    /// The client hung up; anything popped for it went back.
    Gone,
}

/// Wait on `keys` for `want` until `deadline` (None: forever), in line
/// with `ticket` (a new one, or the one an earlier wait of the same command
/// had). Called once the keys held nothing to take.
pub async fn wait(
    seed: &BatchSeed,
    client: &Client,
    keys: &[Bytes],
    want: Want,
    deadline: Option<Instant>,
    ticket: Ticket,
) -> Ended {
    let world = seed.world().clone();
    let unblocked = world.client_waits(client.id, client.cmd);
    let waiter = Waiter::new(ticket, world.id, client.id, keys.to_vec(), want);
    let wait = world.block(waiter).await;
    // Every core knows of it now; a push that came before that is looked
    // at again by the key's owner.
    let mut b = seed.batch();
    for k in keys {
        b.key(k.clone(), KeyOp::Wake);
    }
    b.finish().await;
    world.serve_ready();

    let timer = async {
        match deadline {
            // Redis's own timeouts are coarser (its clock ticks at `hz`).
            Some(d) => {
                crate::runtime::timer::sleep_coarse(d.saturating_duration_since(Instant::now()))
                    .await
            }
            None => std::future::pending().await,
        }
        Ended::TimedOut
    };
    let let_go = async {
        match unblocked.wait().await {
            Unblock::Timeout => Ended::TimedOut,
            Unblock::Error => Ended::Unblocked,
        }
    };
    // A wait that ends soon (a busy queue) arms no hang-up poll: one client
    // that hung up meanwhile is still never handed anything (checked at
    // the hand-over), it just waits out the delay first.
    let gone = async {
        crate::runtime::timer::sleep_coarse(HANGUP_WATCH_AFTER).await;
        crate::runtime::hangup::hangup(client.fd).await;
        Ended::Gone
    };
    // (A stopping server lets every waiter go through `let_go`.)
    let others = or(timer, or(let_go, gone));
    let first = or(async { Ok(wait.slot.wait().await) }, async {
        Err(others.await)
    })
    .await;
    let ended = match first {
        // Handed over just as its client hung up: not to a client that is gone.
        Ok(s) if crate::runtime::hangup::hung_up_now(client.fd) => {
            give_back(seed, s);
            Ended::Gone
        }
        Ok(s) => Ended::Served(s),
        Err(e) if wait.waiter.cancel() => e,
        Err(e) => {
            // A serving core claimed the wait first: what it took is on its
            // way, and is this client's — or goes back if the client is gone.
            let s = wait.slot.wait().await;
            match e {
                Ended::Gone => {
                    give_back(seed, s);
                    Ended::Gone
                }
                _ => Ended::Served(s),
            }
        }
    };
    world.client_waited(client.id);
    world.unblock_done(&wait);
    ended
}

/// What was handed to a client that is gone: popped elements go back where
/// they came from; a wake-up passes to the next in line.
pub fn give_back(seed: &BatchSeed, s: Served) {
    match s {
        Served::Popped { key, result, want } => seed.world().put_back(want, key, result),
        Served::Woken { key } => {
            let mut b = seed.batch();
            b.key(key, KeyOp::Wake);
            crate::runtime::task::spawn(async move {
                b.finish().await;
            })
            .detach();
        }
    }
}

/// One blocking command: its keys, what it takes, its timeout, and what it
/// answers when there is nothing (a null array, or BLMOVE's null).
pub struct Blocker {
    pub keys: Vec<Bytes>,
    pub want: Want,
    pub timeout: Option<Duration>,
    pub nothing: Frame,
}

/// The command's non-blocking form, run first and again after a wake-up:
/// its reply, or `nothing` when there was nothing to take.
pub type Attempt = Box<dyn Fn(BatchSeed) -> Steps>;

/// How a pop's result reads with the key it came from: the reply of the
/// pop and of its blocking form alike.
pub type Keyed = fn(Bytes, OpResult) -> Frame;

/// `[key, what was popped]`: LMPOP's, BLPOP's and BLMPOP's reply.
pub fn keyed(key: Bytes, r: OpResult) -> Frame {
    match r {
        OpResult::Bulk(_) | OpResult::Bulks(_) => {
            Frame::Array(vec![Frame::Bulk(key), Frame::from(r)])
        }
        other => Frame::from(other),
    }
}

/// The keys before a final timeout (BLPOP, BRPOP, BZPOPMIN, BZPOPMAX).
pub fn keys_then_timeout(a: &[Bytes]) -> Result<(Vec<Bytes>, Option<Duration>), Frame> {
    let timeout = timeout_arg(&a[a.len() - 1])?;
    Ok((a[1..a.len() - 1].to_vec(), timeout))
}

/// Pop what `want` takes from the first of `keys` holding its type — the
/// very op a serving core runs for a waiter — as one step wherever the
/// keys live: `reply(key, result)`, or a null array when none holds one.
/// As Redis, a key of another type before it is WRONGTYPE, one after it is
/// never looked at.
pub fn first_pop(seed: BatchSeed, keys: Vec<Bytes>, want: Want, reply: Keyed) -> Steps {
    Box::pin(atomically(seed, keys.clone(), true, move |s| {
        Box::pin(async move {
            let Some(pop) = want.pop() else {
                return Frame::NullArray;
            };
            for (key, kind) in keys.iter().zip(key_types(&s, &keys).await) {
                if kind == "none" {
                    continue;
                }
                if kind != want.kind() {
                    return Frame::err(OpError::WrongType.to_string());
                }
                let r = s.run_key(key.clone(), pop).await;
                return reply(key.clone(), r);
            }
            Frame::NullArray
        })
    }))
}

/// A blocking pop (not BLMOVE): [`first_pop`] first, then a wait; a null
/// array at the timeout.
pub fn run_pop(
    ctx: &mut super::context::Ctx,
    keys: Vec<Bytes>,
    want: Want,
    timeout: Option<Duration>,
    reply: Keyed,
) -> super::context::Step {
    let b = Blocker {
        keys: keys.clone(),
        want,
        timeout,
        nothing: Frame::NullArray,
    };
    let attempt = move |s: BatchSeed| first_pop(s, keys.clone(), want, reply);
    run(ctx, b, Box::new(attempt), reply)
}

/// Run a blocking command: its non-blocking form first; if that found
/// nothing, wait (never inside MULTI or a script, Redis's rule) and answer
/// with what a serving core popped for it (`reply`), or `nothing` at the
/// timeout.
pub fn run(
    ctx: &mut super::context::Ctx,
    b: Blocker,
    attempt: Attempt,
    reply: Keyed,
) -> super::context::Step {
    let seed = ctx.batch.seed();
    let may_wait = !ctx.client.executing;
    let client = Client {
        id: ctx.client.id,
        fd: ctx.client.fd,
        cmd: ctx.client.last_cmd,
    };
    super::context::Step::Async(Box::pin(async move {
        let deadline = b.timeout.map(|t| Instant::now() + t);
        let mut ticket = None;
        loop {
            // A client that already hung up (its request was still unread)
            // takes nothing.
            if may_wait && client.fd >= 0 && crate::runtime::hangup::hung_up_now(client.fd) {
                return b.nothing;
            }
            let f = attempt(seed.clone()).await;
            if f != b.nothing || !may_wait {
                return f;
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return f;
            }
            let t = *ticket.get_or_insert_with(crate::core::waiters::next_ticket);
            match wait(&seed, &client, &b.keys, b.want, deadline, t).await {
                // Woken to take it itself (BLMOVE): try again, keeping its place.
                Ended::Served(Served::Woken { .. }) => continue,
                Ended::Served(Served::Popped { key, result, .. }) => return reply(key, result),
                Ended::TimedOut | Ended::Gone => return b.nothing,
                Ended::Unblocked => {
                    return Frame::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_reads_them() {
        assert_eq!(timeout_arg(b"0").ok(), Some(None));
        assert_eq!(timeout_arg(b"0.0").ok(), Some(None));
        assert_eq!(
            timeout_arg(b"1.5").ok(),
            Some(Some(Duration::from_millis(1500)))
        );
        // Under a millisecond is 0 ms: forever, as in Redis 7.
        assert_eq!(timeout_arg(b"0.0001").ok(), Some(None));
        assert_eq!(timeout_arg(b"-0.0001").ok(), Some(None));
        assert!(timeout_arg(b"9e15").is_ok());
        let neg = Frame::err("ERR timeout is negative");
        for b in [&b"-1"[..], b"9.3e15", b"1e300", b"inf", b"-inf"] {
            assert_eq!(timeout_arg(b).err(), Some(neg.clone()), "{b:?}");
        }
        let bad = Frame::err("ERR timeout is not a float or out of range");
        for b in [&b"abc"[..], b"", b"nan", b" 1"] {
            assert_eq!(timeout_arg(b).err(), Some(bad.clone()), "{b:?}");
        }
    }
}
