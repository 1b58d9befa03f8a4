//! One connection of a run: it builds requests, sends them through its
//! thread's socket ring, reads the replies in order and counts them into its
//! thread's [`Stats`]. Closed loop sends a pipeline and waits for it; open
//! loop sends at the intended times of a [`Schedule`], keeping a receive in
//! flight while it sleeps so replies and due requests are both served on time.
//!
//! A connection never blocks its thread, never panics on what the server
//! sends (a malformed reply ends the connection with a message), and never
//! touches another connection's keys when verifying.
//!
//! Where a connection goes is decided here too: [`resolve`] turns the
//! `--host`/`--port` flags into the one address every connection of a run
//! (and the pub/sub measurements) dials.

use bytes::BytesMut;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::net::ToSocketAddrs;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use super::args::{DataType, Plan, Protocol, Stop, Tx};
use super::keys::{Distribution, KeyPicker, Rng};
use super::stats::{Interval, Slow, Stats};
use super::workload::{verified_value, Cmd, Schedule};
use crate::protocol::client::{self as wire, Reply};
use crate::runtime::buf::Buf;
use crate::runtime::ops::Op;
use crate::runtime::ring::SocketRing;

/// Bytes asked of each receive.
const RECV_CHUNK: usize = 64 * 1024;
/// Prefill pipelines at least this deep: it is setup, not measurement.
const PREFILL_PIPELINE: usize = 64;
/// How much of a value a verify failure message quotes.
const QUOTE: usize = 48;

/// What this run last wrote to a key (verify only). `set_ms` is when that SET
/// was sent, in ms since the thread's epoch, to tell an expiry from a loss.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyState {
    version: u32,
    set_ms: u32,
}

/// The first address `host:port` resolves to.
pub fn resolve(host: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port} resolves to no address"))
}

/// What a thread's connections share: the plan, the ring, the counters.
pub struct ThreadCtx {
    pub plan: Rc<Plan>,
    pub ring: Rc<SocketRing>,
    pub stats: RefCell<Stats>,
    pub interval: RefCell<Interval>,
    /// Indexed by key; empty unless `--verify`.
    keys: RefCell<Vec<KeyState>>,
    epoch: Instant,
    /// `epoch` as Unix ms, for slow.csv.
    epoch_unix_ms: u64,
    /// When the last measured reply arrived.
    pub last_reply: Cell<Option<Instant>>,
}

impl ThreadCtx {
    pub fn new(plan: Rc<Plan>, ring: Rc<SocketRing>) -> ThreadCtx {
        let keys = if plan.verify {
            vec![KeyState::default(); plan.keys as usize]
        } else {
            Vec::new()
        };
        ThreadCtx {
            plan,
            ring,
            stats: RefCell::default(),
            interval: RefCell::default(),
            keys: RefCell::new(keys),
            epoch: Instant::now(),
            epoch_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            last_reply: Cell::new(None),
        }
    }

    fn ms_since_epoch(&self, t: Instant) -> u32 {
        t.saturating_duration_since(self.epoch).as_millis() as u32
    }
}

/// What the watchdog sees of a connection, to give up on one that stalls.
pub struct Watch {
    pub fd: RawFd,
    pub last_progress: Cell<Instant>,
    pub outstanding: Cell<usize>,
    pub timed_out: Cell<bool>,
}

impl Watch {
    /// Wake the connection's pending receive and send with an error: the
    /// connection then ends on its own and reports the time-out.
    pub fn give_up(&self) {
        self.timed_out.set(true);
        // SAFETY: shutdown takes no memory; the descriptor stays owned (and
        // open) by the connection, so this cannot hit a reused number.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
    }
}

struct InFlight {
    cmd: Cmd,
    key: u64,
    /// The version written (SET) or expected (GET).
    version: u32,
    set_ms: u32,
    /// Latency is measured from here: the send time (closed loop) or the
    /// intended send time (open loop).
    intended: Instant,
    measured: bool,
}

/// The phase a connection is in; prefill replies are checked but not timed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prefill,
    Measure,
}

pub struct Conn {
    pub id: usize,
    sock: std::net::TcpStream,
    pub watch: Rc<Watch>,
    out: BytesMut,
    inbuf: Vec<u8>,
    scratch: Vec<u8>,
    recv: Option<Op>,
    inflight: VecDeque<InFlight>,
    key: Vec<u8>,
    value: Vec<u8>,
    expect: Vec<u8>,
    picker: KeyPicker,
    rng: Rng,
    seq_key: u64,
    replies: u64,
    /// Keys whose GET missed, to SET next (cache-aside), and whether measured.
    refill: VecDeque<(u64, bool)>,
}

impl Conn {
    /// Connect connection `id` of the plan (blocking: done before the run starts).
    pub fn connect(plan: &Plan, addr: &std::net::SocketAddr, id: usize) -> Result<Conn, String> {
        let sock = std::net::TcpStream::connect_timeout(addr, plan.timeout)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        // Requests are written whole, one write per batch: Nagle would only delay them.
        let _ = sock.set_nodelay(true);
        let conns = plan.connections as u64;
        let picker = KeyPicker::new(
            &plan.distribution,
            plan.keys,
            id as u64,
            conns,
            plan.verify,
            plan.seed,
        )?
        .with_scan(plan.scan);
        let watch = Rc::new(Watch {
            fd: sock.as_raw_fd(),
            last_progress: Cell::new(Instant::now()),
            outstanding: Cell::new(0),
            timed_out: Cell::new(false),
        });
        Ok(Conn {
            id,
            sock,
            watch,
            out: BytesMut::with_capacity(RECV_CHUNK),
            inbuf: Vec::with_capacity(RECV_CHUNK),
            scratch: Vec::with_capacity(RECV_CHUNK),
            recv: None,
            inflight: VecDeque::new(),
            key: Vec::with_capacity(64),
            value: Vec::new(),
            expect: Vec::new(),
            picker,
            rng: Rng::new(super::workload::mix(plan.seed ^ 0x5eed, id as u64)),
            seq_key: 0,
            replies: 0,
            refill: VecDeque::new(),
        })
    }

    /// Write every key this connection owns (index ≡ id mod connections) once.
    pub async fn prefill(&mut self, ctx: &ThreadCtx) -> Result<(), String> {
        let plan = &ctx.plan;
        let step = plan.connections as u64;
        let depth = plan.pipeline.max(PREFILL_PIPELINE);
        let mut k = self.id as u64;
        while k < plan.keys {
            let now = Instant::now();
            for _ in 0..depth {
                if k >= plan.keys {
                    break;
                }
                self.push(ctx, Cmd::Set, k, now, false);
                k += step;
            }
            self.flush(ctx).await?;
            while !self.inflight.is_empty() {
                self.receive(ctx, Phase::Prefill).await?;
            }
        }
        Ok(())
    }

    /// The measured run (with its warmup) from `t0`; ends when the plan says stop.
    pub async fn run(&mut self, ctx: &ThreadCtx, t0: Instant) -> Result<(), String> {
        let plan = ctx.plan.clone();
        let measure_from = t0 + plan.warmup;
        let end = match plan.stop {
            Stop::After(d) => Some(measure_from + d),
            Stop::Requests(_) => None,
        };
        let share = plan.requests_of(self.id);
        let schedule = plan
            .rate
            .map(|r| Schedule::new(r, self.id as u64, plan.connections as u64));
        let mut measured_sent = 0u64;
        let mut i = 0u64;
        loop {
            let now = Instant::now();
            let done_sending =
                end.is_some_and(|e| now >= e) || share.is_some_and(|s| measured_sent >= s);
            if done_sending && self.inflight.is_empty() {
                return Ok(());
            }
            let mut wake = None;
            if !done_sending {
                let room = plan.pipeline - self.inflight.len().min(plan.pipeline);
                let sendable = |measured_sent: u64| {
                    share.map_or(u64::MAX, |s| s.saturating_sub(measured_sent))
                };
                let mut sent = 0;
                // Cache-aside: fill what missed before anything new, in the same write.
                let may_send = match schedule {
                    None => self.inflight.is_empty(),
                    Some(_) => room > 0,
                };
                if may_send {
                    while let Some((key, measured)) = self.refill.pop_front() {
                        self.push(ctx, Cmd::Set, key, now, measured);
                        sent += 1;
                    }
                }
                match schedule {
                    None if self.inflight.is_empty() => {
                        // Closed loop: a whole pipeline, timed from now.
                        while sent < plan.pipeline && sendable(measured_sent) > 0 {
                            let measured = now >= measure_from;
                            self.next_request(ctx, i, now, measured);
                            measured_sent += u64::from(measured);
                            i += 1;
                            sent += 1;
                        }
                    }
                    None => {}
                    Some(s) => {
                        // Open loop: everything due, as far as the window allows;
                        // each timed from when it should have gone out.
                        while sent < room && sendable(measured_sent) > 0 {
                            let due = t0 + s.due(i);
                            if due > now || end.is_some_and(|e| due >= e) {
                                break;
                            }
                            let measured = due >= measure_from;
                            self.next_request(ctx, i, due, measured);
                            measured_sent += u64::from(measured);
                            i += 1;
                            sent += 1;
                        }
                        if sent == room || sendable(measured_sent) == 0 {
                            wake = None;
                        } else {
                            wake = Some(t0 + s.due(i));
                        }
                    }
                }
                if sent > 0 {
                    self.flush(ctx).await?;
                }
            }
            if self.inflight.is_empty() {
                if let Some(at) = wake {
                    ctx.ring
                        .sleep(at.saturating_duration_since(Instant::now()))
                        .await;
                }
                continue;
            }
            match wake {
                Some(at) => {
                    self.receive_until(ctx, at).await?;
                }
                None => self.receive(ctx, Phase::Measure).await?,
            }
        }
    }

    /// Queue the `i`-th request of the run.
    fn next_request(&mut self, ctx: &ThreadCtx, i: u64, intended: Instant, measured: bool) {
        let plan = &ctx.plan;
        let cmd = plan.ratio.cmd(i);
        let key = if plan.distribution == Distribution::Sequential {
            // A key keeps its whole ratio cycle: its SETs, then its GETs.
            if i.is_multiple_of(plan.ratio.cycle()) {
                self.seq_key = self.picker.next();
            }
            self.seq_key
        } else {
            self.picker.next()
        };
        self.push(ctx, cmd, key, intended, measured);
    }

    /// A random field or member name (`prefix` and a number below `n`).
    fn element(&mut self, prefix: u8, n: u64) -> Vec<u8> {
        let mut e = vec![prefix];
        e.extend_from_slice((self.rng.next_u64() % n.max(1)).to_string().as_bytes());
        e
    }

    fn push(&mut self, ctx: &ThreadCtx, cmd: Cmd, key: u64, intended: Instant, measured: bool) {
        let plan = &ctx.plan;
        plan.key_names.name(&mut self.key, key);
        let mut req = InFlight {
            cmd,
            key,
            version: 0,
            set_ms: 0,
            intended,
            measured,
        };
        let mut keys = ctx.keys.borrow_mut();
        let state = keys.get_mut(key as usize);
        match cmd {
            Cmd::Set if plan.tx.is_some() => {
                drop(keys);
                self.push_tx(ctx, key, &req);
            }
            Cmd::Set => {
                if let Some(st) = state {
                    st.version = st.version.wrapping_add(1).max(1);
                    st.set_ms = ctx.ms_since_epoch(intended);
                    req.version = st.version;
                    verified_value(&mut self.value, key, st.version, &plan.value_size);
                } else {
                    let size = plan.value_size.pick(self.rng.next_u64());
                    self.value.clear();
                    self.value.resize(size, b'x');
                }
                match (plan.protocol, plan.data_type) {
                    (Protocol::Resp, DataType::String) => {
                        wire::resp_set(&mut self.out, &self.key, &self.value, plan.ttl)
                    }
                    (Protocol::Resp, DataType::Hash) => {
                        let f = self.element(b'f', plan.fields);
                        wire::resp_command(&mut self.out, &[b"HSET", &self.key, &f, &self.value])
                    }
                    (Protocol::Resp, DataType::Set) => {
                        let m = self.element(b'm', plan.fields);
                        wire::resp_command(&mut self.out, &[b"SADD", &self.key, &m])
                    }
                    (Protocol::Text, _) => wire::text_put(&mut self.out, &self.key, &self.value),
                }
            }
            Cmd::Get => {
                if let Some(st) = state {
                    req.version = st.version;
                    req.set_ms = st.set_ms;
                }
                match (plan.protocol, plan.data_type) {
                    (Protocol::Resp, DataType::String) => wire::resp_get(&mut self.out, &self.key),
                    (Protocol::Resp, DataType::Hash) => {
                        let f = self.element(b'f', plan.fields);
                        wire::resp_command(&mut self.out, &[b"HGET", &self.key, &f])
                    }
                    (Protocol::Resp, DataType::Set) => {
                        let m = self.element(b'm', plan.fields);
                        wire::resp_command(&mut self.out, &[b"SISMEMBER", &self.key, &m])
                    }
                    (Protocol::Text, _) => wire::text_get(&mut self.out, &self.key),
                }
            }
            // Only `push_tx` makes these, never the ratio.
            Cmd::Skip => {}
        }
        self.inflight.push_back(req);
    }

    /// A transaction of SETs on `first` and the next keys the picker gives
    /// (`--tx`). MULTI's and the SETs' own replies are skipped; EXEC's or
    /// EVAL's is the one measured.
    fn push_tx(&mut self, ctx: &ThreadCtx, first: u64, req: &InFlight) {
        let plan = &ctx.plan;
        let size = plan.value_size.pick(self.rng.next_u64());
        self.value.clear();
        self.value.resize(size, b'x');
        let (n, eval, multi) = match plan.tx {
            Some(Tx::Multi(n)) => (n, false, true),
            Some(Tx::Eval(n)) => (n, true, false),
            Some(Tx::Pipe(n)) => (n, false, false),
            None => return,
        };
        let mut names = Vec::with_capacity(n);
        for i in 0..n {
            let k = if i == 0 { first } else { self.picker.next() };
            plan.key_names.name(&mut self.key, k);
            names.push(self.key.clone());
        }
        if eval {
            wire::resp_eval_sets(&mut self.out, &names, &self.value);
            return;
        }
        let skip = |cmd| InFlight {
            cmd,
            key: first,
            version: 0,
            set_ms: 0,
            intended: req.intended,
            measured: false,
        };
        if !multi {
            // A plain pipeline: the last SET's reply is the one measured.
            for (i, name) in names.iter().enumerate() {
                wire::resp_set(&mut self.out, name, &self.value, plan.ttl);
                if i + 1 < names.len() {
                    self.inflight.push_back(skip(Cmd::Skip));
                }
            }
            return;
        }
        wire::resp_command(&mut self.out, &[b"MULTI"]);
        self.inflight.push_back(skip(Cmd::Skip));
        for name in &names {
            wire::resp_set(&mut self.out, name, &self.value, plan.ttl);
            self.inflight.push_back(skip(Cmd::Skip));
        }
        wire::resp_command(&mut self.out, &[b"EXEC"]);
    }

    async fn flush(&mut self, ctx: &ThreadCtx) -> Result<(), String> {
        if self.watch.outstanding.get() == 0 {
            // The wait for a reply starts now, not at the last reply.
            self.watch.last_progress.set(Instant::now());
        }
        self.watch.outstanding.set(self.inflight.len());
        let out = std::mem::take(&mut self.out);
        let (r, buf) = ctx.ring.send_all(self.sock.as_raw_fd(), out).await;
        self.out = buf;
        r.map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::WriteZero {
                "the server stopped reading".to_string()
            } else {
                e.to_string()
            };
            self.fail(&format!("send failed: {why}"))
        })
    }

    fn start_recv(&mut self, ctx: &ThreadCtx) -> &mut Op {
        let fd = self.sock.as_raw_fd();
        let scratch = &mut self.scratch;
        self.recv.get_or_insert_with(|| {
            let mut buf = std::mem::take(scratch);
            buf.reserve(RECV_CHUNK);
            ctx.ring.recv(fd, buf)
        })
    }

    /// Wait for bytes and account for every whole reply they complete.
    async fn receive(&mut self, ctx: &ThreadCtx, phase: Phase) -> Result<(), String> {
        let op = self.start_recv(ctx);
        let (res, buf) = op.await;
        self.recv = None;
        self.received(ctx, res, buf, phase)
    }

    /// As [`Self::receive`], but return at `at` if nothing has arrived by then
    /// (the receive stays in flight for next time).
    async fn receive_until(&mut self, ctx: &ThreadCtx, at: Instant) -> Result<(), String> {
        // A ring timer, not glommio's: it ends the ring driver's nap on time.
        let mut timer = ctx.ring.sleep(at.saturating_duration_since(Instant::now()));
        let op = self.start_recv(ctx);
        let done = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = Pin::new(&mut *op).poll(cx) {
                return Poll::Ready(Some(r));
            }
            if Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match done {
            Some((res, buf)) => {
                self.recv = None;
                self.received(ctx, res, buf, Phase::Measure)
            }
            None => Ok(()),
        }
    }

    fn received(
        &mut self,
        ctx: &ThreadCtx,
        res: i32,
        buf: Buf,
        phase: Phase,
    ) -> Result<(), String> {
        let now = Instant::now();
        let Some(buf) = buf.into_received(res) else {
            return Err(self.fail("socket ring returned no buffer"));
        };
        self.inbuf.extend_from_slice(&buf);
        self.scratch = buf;
        if res <= 0 {
            let why = if self.watch.timed_out.get() {
                format!(
                    "timed out: no reply for {:.1} s",
                    ctx.plan.timeout.as_secs_f64()
                )
            } else if res == 0 {
                "closed by the server".to_string()
            } else {
                std::io::Error::from_raw_os_error(-res).to_string()
            };
            return Err(self.fail(&why));
        }
        self.watch.last_progress.set(now);
        let mut pos = 0;
        while !self.inflight.is_empty() {
            let parsed = match ctx.plan.protocol {
                Protocol::Resp => wire::parse_resp(&self.inbuf[pos..])
                    .map_err(|e| self.fail(&format!("malformed reply: {e}")))?,
                Protocol::Text => wire::parse_text(&self.inbuf[pos..]),
            };
            let Some((reply, used)) = parsed else {
                break;
            };
            let req = self.inflight.pop_front();
            if let Some(req) = req {
                self.account(ctx, &req, reply, pos, now, phase);
            }
            pos += used;
        }
        if self.inflight.is_empty() && pos < self.inbuf.len() {
            return Err(self.fail("the server sent a reply nobody asked for"));
        }
        self.inbuf.drain(..pos);
        self.watch.outstanding.set(self.inflight.len());
        Ok(())
    }

    fn account(
        &mut self,
        ctx: &ThreadCtx,
        req: &InFlight,
        reply: Reply,
        base: usize,
        now: Instant,
        phase: Phase,
    ) {
        self.replies += 1;
        let plan = &ctx.plan;
        let mut stats = ctx.stats.borrow_mut();
        let latency_us = now.saturating_duration_since(req.intended).as_micros() as u64;
        let error = match &reply {
            Reply::Error(r) => {
                Some(String::from_utf8_lossy(&self.inbuf[base..][r.clone()]).into_owned())
            }
            // A transaction's MULTI and +QUEUED replies: only its EXEC counts.
            _ if req.cmd == Cmd::Skip => return,
            Reply::Status(_) if req.cmd == Cmd::Set => None,
            // HSET, SADD, SISMEMBER answer integers.
            Reply::Int(_) if plan.data_type != DataType::String => None,
            Reply::Aggregate if req.cmd == Cmd::Set && plan.tx.is_some() => None,
            Reply::Bulk(_) | Reply::Nil if req.cmd == Cmd::Get => None,
            other => Some(format!("unexpected reply {other:?}")),
        };
        if phase == Phase::Prefill {
            if let Some(e) = error {
                stats.prefill_errors += 1;
                stats.sample(format!("prefill SET: {e}"));
            }
            return;
        }
        {
            let mut iv = ctx.interval.borrow_mut();
            iv.ops += 1;
            iv.errors += u64::from(error.is_some());
            iv.hist.saturating_record(latency_us.max(1));
        }
        if plan.cache_aside && req.cmd == Cmd::Get && error.is_none() && reply == Reply::Nil {
            // Warmup misses fill the cache too.
            self.refill.push_back((req.key, req.measured));
        }
        if !req.measured {
            return;
        }
        ctx.last_reply.set(Some(now));
        stats.cmd(req.cmd).hist.saturating_record(latency_us.max(1));
        if plan.slow_us.is_some_and(|t| latency_us > t) {
            plan.key_names.name(&mut self.key, req.key);
            stats.slow_request(Slow {
                at_ms: ctx.epoch_unix_ms + u64::from(ctx.ms_since_epoch(req.intended)),
                latency_us,
                cmd: if req.cmd == Cmd::Get { "read" } else { "write" },
                key: String::from_utf8_lossy(&self.key).into_owned(),
            });
        }
        if let Some(e) = error {
            stats.cmd(req.cmd).errors += 1;
            let name = if req.cmd == Cmd::Set { "SET" } else { "GET" };
            stats.sample(format!("{name}: {e}"));
            return;
        }
        if req.cmd == Cmd::Get && self.picker.is_scan_key(req.key) {
            match &reply {
                Reply::Bulk(_) => stats.scan_hits += 1,
                Reply::Nil => stats.scan_misses += 1,
                _ => {}
            }
        }
        match reply {
            Reply::Bulk(r) if req.cmd == Cmd::Get => {
                stats.get.hits += 1;
                if !plan.verify || req.version == 0 {
                    return;
                }
                verified_value(&mut self.expect, req.key, req.version, &plan.value_size);
                let got = &self.inbuf[base..][r];
                if got != &self.expect[..] {
                    stats.wrong_values += 1;
                    plan.key_names.name(&mut self.key, req.key);
                    stats.sample(format!(
                        "GET {}: expected {:?}, got {:?}",
                        String::from_utf8_lossy(&self.key),
                        String::from_utf8_lossy(&self.expect[..self.expect.len().min(QUOTE)]),
                        String::from_utf8_lossy(&got[..got.len().min(QUOTE)]),
                    ));
                }
            }
            Reply::Nil => {
                stats.get.misses += 1;
                if !plan.verify || req.version == 0 {
                    return;
                }
                // A miss is lost data unless the key's TTL could have run out.
                let expired = plan.ttl.is_some_and(|ttl| {
                    u64::from(ctx.ms_since_epoch(now)) >= u64::from(req.set_ms) + ttl * 1000
                });
                if !expired {
                    stats.unexpected_misses += 1;
                    plan.key_names.name(&mut self.key, req.key);
                    stats.sample(format!(
                        "GET {}: miss, but this run wrote version {}",
                        String::from_utf8_lossy(&self.key),
                        req.version
                    ));
                }
            }
            _ => {}
        }
    }

    /// The message for this connection's failure: why, and how far it got.
    fn fail(&self, why: &str) -> String {
        format!(
            "connection {}: {why} after {} replies, {} requests outstanding",
            self.id,
            self.replies,
            self.inflight.len()
        )
    }
}
