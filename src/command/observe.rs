//! What running a command tells the operator. The dispatcher (and EXEC, for
//! the commands it runs) records each command once here:
//! - its call, time and error reply in the core's per-command counters
//!   (INFO `commandstats`, `errorstats`, `latencystats`, LATENCY HISTOGRAM);
//! - a SLOWLOG entry when it took `slowlog-log-slower-than` or more;
//! - a LATENCY sample when it took `latency-monitor-threshold` or more;
//! - a MONITOR line while any core has a monitor.
//!
//! Which of these want a clock is read once per pipeline ([`Watch`]). With
//! all of them off, no clock is read and a command costs one add. A
//! command's time runs from the start of its dispatch to the moment its
//! reply is known. For a command that waits on other cores, that includes
//! the round trip. Passwords never reach the slow log or a monitor
//! (Redis's "(redacted)"). This file never changes a reply.

use super::context::{ClientState, CommandSpec, Table};
use super::frame::Frame;
use crate::core::cmdstats::CommandStats;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::core::world::World;
use crate::runtime::clock::{self, Tick};
use bytes::Bytes;
use std::borrow::Cow;
use std::rc::Rc;
use std::time::Duration;

/// What records commands in one pipeline, read from the config once.
pub struct Watch {
    /// `latency-tracking`: times go into per-command histograms.
    track: bool,
    slower_than: i64,
    slow_max: usize,
    latency_ms: u64,
    /// Some core has a MONITOR client.
    pub monitor: bool,
    /// When the command running now began; None when no consumer wants
    /// times (then the clock is never read).
    last: Option<Tick>,
}

impl Watch {
    pub fn new(world: &World) -> Watch {
        let c = world.config.borrow();
        let timing =
            c.latency_tracking || c.slowlog_log_slower_than >= 0 || c.latency_monitor_threshold > 0;
        Watch {
            track: c.latency_tracking,
            slower_than: c.slowlog_log_slower_than,
            slow_max: c.slowlog_max_len as usize,
            latency_ms: c.latency_monitor_threshold,
            monitor: crate::core::pubsub::monitors_anywhere(),
            last: timing.then(clock::now),
        }
    }

    /// The time of the command that just finished; the next one begins now.
    pub fn lap(&mut self) -> Option<Duration> {
        let start = self.last?;
        let now = clock::now();
        self.last = Some(now);
        Some(now.since(start))
    }

    /// When the command running now began (None when not timing).
    pub fn began(&self) -> Option<Tick> {
        self.last
    }

    /// The time since `began`, for a command whose reply came after others
    /// began; the next command begins now.
    pub fn since(&mut self, began: Option<Tick>) -> Option<Duration> {
        let began = began?;
        let now = clock::now();
        self.last = Some(now);
        Some(now.since(began))
    }
}

/// Every core's per-command counters, added up (with the latency
/// histograms only when asked: they are the bulk of it).
pub async fn gathered(world: &Rc<World>, histograms: bool) -> CommandStats {
    let mut all = CommandStats::default();
    for r in world
        .broadcast_task(CoreTask::CommandStats { histograms })
        .await
    {
        if let TaskResult::Commands(s) = r {
            all.merge(&s);
        }
    }
    all
}

/// A command's place in the command table: the per-command counters' index.
#[inline]
pub fn index(table: &Table, spec: &'static CommandSpec) -> usize {
    // Every spec handed to a handler is an element of the table's one
    // static slice, so its address says where.
    let base = table.all.as_ptr() as usize;
    let at = spec as *const CommandSpec as usize;
    (at - base) / std::mem::size_of::<CommandSpec>()
}

/// Count an error reply's code, if `frame` is one; whether it was.
fn count_error(world: &World, frame: &Frame) -> bool {
    match frame {
        Frame::Error(e) => {
            world.cmdstats.borrow_mut().error(e);
            true
        }
        _ => false,
    }
}

/// A request refused before it ran (unknown command: `spec` None).
pub fn rejected(world: &World, table: &Table, spec: Option<&'static CommandSpec>, frame: &Frame) {
    count_error(world, frame);
    let cmd = spec.map(|s| index(table, s));
    world.cmdstats.borrow_mut().rejected(cmd);
}

/// A command ran and answered `frame`, taking `took` (when timed). `peer`
/// is the client's address (`lua` for a script's command) and name.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn ran(
    world: &World,
    watch: &Watch,
    table: &Table,
    spec: &'static CommandSpec,
    args: &[Bytes],
    peer: (&str, &str),
    frame: &Frame,
    took: Option<Duration>,
) {
    // Nothing timed and no error: one add, the path every command takes
    // when the timing consumers are off.
    if took.is_none() && !matches!(frame, Frame::Error(_)) {
        world.cmdstats.borrow_mut().count(index(table, spec));
        return;
    }
    ran_in_full(world, watch, table, spec, args, peer, frame, took);
}

#[allow(clippy::too_many_arguments)]
fn ran_in_full(
    world: &World,
    watch: &Watch,
    table: &Table,
    spec: &'static CommandSpec,
    args: &[Bytes],
    peer: (&str, &str),
    frame: &Frame,
    took: Option<Duration>,
) {
    let Some(ns) = counted(world, watch, table, spec, frame, took) else {
        return;
    };
    let micros = ns / 1000;
    if watch.slower_than >= 0
        && micros >= watch.slower_than as u64
        && !spec.flags.contains(&"skip_slowlog")
    {
        world.slowlog.borrow_mut().push(
            &redacted(spec, args),
            micros,
            peer.0,
            peer.1,
            watch.slow_max,
        );
    }
    let ms = micros / 1000;
    if watch.latency_ms > 0 && ms >= watch.latency_ms {
        let event = if spec.flags.contains(&"fast") {
            "fast-command"
        } else {
            "command"
        };
        world.latency.borrow_mut().add(event, ms);
    }
}

/// Count a command's call, error and time; its time in nanoseconds.
fn counted(
    world: &World,
    watch: &Watch,
    table: &Table,
    spec: &'static CommandSpec,
    frame: &Frame,
    took: Option<Duration>,
) -> Option<u64> {
    let failed = count_error(world, frame);
    let ns = took.map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    world
        .cmdstats
        .borrow_mut()
        .called(index(table, spec), failed, ns, watch.track);
    ns
}

/// A command a script ran (`redis.call`): counted as any, never a slow log
/// entry or latency sample of its own (its EVAL is one), as in Redis.
pub fn ran_in_script(
    world: &World,
    watch: &mut Watch,
    table: &Table,
    spec: &'static CommandSpec,
    frame: &Frame,
) {
    let took = watch.lap();
    counted(world, watch, table, spec, frame, took);
}

/// The commands a client ran, as `ran` needs to know them: the client's
/// address and name.
pub fn peer(client: &ClientState) -> (&str, &str) {
    (&client.addr, &client.name)
}

/// Give every monitor this command's line, as Redis writes it:
/// `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"` (`lua` as the address
/// for a script's commands). Admin commands and those that ask not to be
/// shown (EVAL: its commands are shown instead) are not.
pub fn feed_monitors(world: &World, addr: &str, spec: &'static CommandSpec, args: &[Bytes]) {
    if spec
        .flags
        .iter()
        .any(|f| *f == "admin" || *f == "skip_monitor")
    {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!("{}.{:06} [0 {addr}]", now.as_secs(), now.subsec_micros()).into_bytes();
    for a in redacted(spec, args).iter() {
        line.push(b' ');
        repr(&mut line, a);
    }
    world.feed_monitors(line.into());
}

/// The arguments with passwords replaced, as Redis shows them: AUTH's, and
/// the two after HELLO's AUTH.
fn redacted<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Cow<'a, [Bytes]> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    match spec.name {
        "auth" => {
            let mut v = args.to_vec();
            v[1..].fill(HIDDEN);
            Cow::Owned(v)
        }
        "hello" => {
            let mut v = args.to_vec();
            if let Some(i) = v.iter().position(|a| a.eq_ignore_ascii_case(b"auth")) {
                for a in v.iter_mut().skip(i + 1).take(2) {
                    *a = HIDDEN;
                }
            }
            Cow::Owned(v)
        }
        _ => Cow::Borrowed(args),
    }
}

/// Redis's `sdscatrepr`: the argument quoted, with `\\`, `\"`, `\n`, `\r`,
/// `\t`, `\a`, `\b` escaped and other unprintable bytes as `\xHH`.
pub fn repr(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'"');
    for &b in a {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_as_redis() {
        let mut v = Vec::new();
        repr(&mut v, b"a\"b\\c\n\r\t\x07\x08\x00\xff z");
        assert_eq!(v, br#""a\"b\\c\n\r\t\a\b\x00\xff z""#.to_vec());
    }
}
