//! A whole run: one pinned glommio executor per client thread, each with its
//! own socket ring and its share of the connections; a rendezvous so every
//! thread connects (and prefills) before any measures; a watchdog per thread
//! that gives up on stalled connections so the run always ends; and the
//! progress line, printed by the main thread from per-thread one-second
//! intervals. Threads share nothing while the load runs: they report by
//! message and hand over their counters at the end.

use glommio::{LocalExecutorBuilder, Placement};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use super::args::{Plan, Stop};
use super::client::{resolve, Conn, ThreadCtx, Watch};
use super::stats::{Interval, Stats};
use crate::runtime::ring::SocketRing;

/// How often the watchdog looks for stalled connections.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// The merged outcome of a run.
pub struct Outcome {
    pub stats: Stats,
    /// From the start of measurement to the last measured reply.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ops_per_sec(&self, ops: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            ops as f64 / secs
        } else {
            0.0
        }
    }
}

enum Msg {
    Tick(u64, Interval),
    Done(Box<ThreadResult>),
}

struct ThreadResult {
    stats: Stats,
    measure_from: Option<Instant>,
    last_reply: Option<Instant>,
}

/// Run the plan to the end. `Err` only when no load could be started at all.
pub fn run(plan: Plan) -> Result<Outcome, String> {
    let addr = resolve(&plan.host, plan.port)?;
    let threads = plan.threads;
    let barrier = Arc::new(Barrier::new(threads));
    let abort = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let plan = plan.clone();
        let (barrier, abort, tx) = (barrier.clone(), abort.clone(), tx.clone());
        let cpu = plan.cpu_of(t);
        let spawned = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("bench{t}"))
            .io_memory(256 * 1024)
            .spawn(move || async move {
                let result = thread_main(t, plan, addr, barrier, abort, tx.clone()).await;
                let _ = tx.send(Msg::Done(Box::new(result)));
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                return Err(format!(
                    "cannot start the client thread on CPU {cpu}: {e} (stairkv-bench needs io_uring and locked memory; see linux-only.md)"
                ))
            }
        }
    }
    drop(tx);
    let out = collect(&plan, rx);
    for h in handles {
        let _ = h.join();
    }
    out
}

/// Print progress until every thread is done, then merge.
fn collect(plan: &Plan, rx: mpsc::Receiver<Msg>) -> Result<Outcome, String> {
    let mut ticks: std::collections::BTreeMap<u64, (usize, Interval)> = Default::default();
    let mut stats = Stats::default();
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut done = 0;
    while done < plan.threads {
        match rx.recv() {
            Ok(Msg::Tick(n, iv)) => {
                let entry = ticks.entry(n).or_insert_with(|| (0, Interval::default()));
                entry.0 += 1;
                entry.1.merge(&iv);
                if entry.0 == plan.threads {
                    if let Some((_, iv)) = ticks.remove(&n) {
                        if !plan.quiet {
                            progress(plan, n, &iv);
                        }
                    }
                }
            }
            Ok(Msg::Done(r)) => {
                done += 1;
                stats.merge(&r.stats);
                first = match (first, r.measure_from) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                last = last.max(r.last_reply);
            }
            Err(_) => {
                stats.failed_connections += 1;
                stats.sample("a client thread stopped without reporting (it panicked)");
                break;
            }
        }
    }
    let elapsed = match (first, last) {
        (Some(a), Some(b)) => b.saturating_duration_since(a),
        _ => Duration::ZERO,
    };
    Ok(Outcome { stats, elapsed })
}

fn progress(plan: &Plan, n: u64, iv: &Interval) {
    let warm = if Duration::from_secs(n) <= plan.warmup {
        " (warmup)"
    } else {
        ""
    };
    eprintln!(
        "[{n:>4}s] {:>10.0} ops/s  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}{warm}",
        iv.ops as f64,
        iv.hist.value_at_quantile(0.5) as f64 / 1000.0,
        iv.hist.value_at_quantile(0.99) as f64 / 1000.0,
        iv.errors,
    );
}

async fn thread_main(
    t: usize,
    plan: Plan,
    addr: std::net::SocketAddr,
    barrier: Arc<Barrier>,
    abort: Arc<AtomicBool>,
    tx: mpsc::Sender<Msg>,
) -> ThreadResult {
    let mut result = ThreadResult {
        stats: Stats::default(),
        measure_from: None,
        last_reply: None,
    };
    let fail = |result: &mut ThreadResult, msg: String| {
        result.stats.failed_connections += 1;
        result.stats.sample(msg);
        abort.store(true, Ordering::SeqCst);
    };
    let ring = match SocketRing::new() {
        Ok(r) => Some(Rc::new(r)),
        Err(e) => {
            fail(
                &mut result,
                format!("stairkv-bench needs io_uring with SINGLE_ISSUER + COOP_TASKRUN (Linux 6.0+): {e}"),
            );
            None
        }
    };
    let mut conns = Vec::new();
    if ring.is_some() {
        for id in plan.thread_connections(t) {
            match Conn::connect(&plan, &addr, id) {
                Ok(c) => conns.push(c),
                Err(e) => {
                    fail(&mut result, e);
                    break;
                }
            }
        }
    }
    // Every thread connects before any thread loads the server. Blocking here is
    // fine: this thread's executor has nothing else to run yet.
    barrier.wait();
    let Some(ring) = ring else {
        return result;
    };
    if abort.load(Ordering::SeqCst) {
        return result;
    }
    ring.start();
    let plan = Rc::new(plan);
    let ctx = Rc::new(ThreadCtx::new(plan.clone(), ring));
    let watches: Vec<Rc<Watch>> = conns.iter().map(|c| c.watch.clone()).collect();
    let stop_watch = Rc::new(Cell::new(false));
    crate::runtime::task::spawn(watchdog(watches, plan.timeout, stop_watch.clone())).detach();

    if plan.prefill {
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                let ctx = ctx.clone();
                crate::runtime::task::spawn(async move {
                    let r = c.prefill(&ctx).await;
                    (c, r)
                })
            })
            .collect();
        conns = Vec::new();
        for task in tasks {
            let (c, r) = task.await;
            match r {
                Ok(()) => conns.push(c),
                Err(e) => fail(&mut result, format!("prefill: {e}")),
            }
        }
        barrier.wait();
        if abort.load(Ordering::SeqCst) {
            result.stats.merge(&ctx.stats.borrow());
            return result;
        }
    }

    let t0 = Instant::now();
    result.measure_from = Some(t0 + plan.warmup);
    crate::runtime::task::spawn(ticker(ctx.clone(), tx)).detach();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let ctx = ctx.clone();
            crate::runtime::task::spawn(async move { c.run(&ctx, t0).await })
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await {
            fail(&mut result, e);
        }
    }
    stop_watch.set(true);
    result.stats.merge(&ctx.stats.borrow());
    result.last_reply = ctx.last_reply.get();
    if let (Stop::After(d), Some(from)) = (plan.stop, result.measure_from) {
        // A duration run measures for its duration, whenever its last reply came.
        result.last_reply = Some(result.last_reply.map_or(from + d, |l| l.max(from + d)));
    }
    result
}

/// Every second, hand the main thread this thread's interval.
async fn ticker(ctx: Rc<ThreadCtx>, tx: mpsc::Sender<Msg>) {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        n += 1;
        let at = start + Duration::from_secs(n);
        crate::runtime::timer::sleep(at.saturating_duration_since(Instant::now())).await;
        let iv = std::mem::take(&mut *ctx.interval.borrow_mut());
        if tx.send(Msg::Tick(n, iv)).is_err() {
            return;
        }
    }
}

/// Give up on connections that have had requests outstanding and no reply for
/// longer than the time-out.
async fn watchdog(watches: Vec<Rc<Watch>>, timeout: Duration, stop: Rc<Cell<bool>>) {
    while !stop.get() {
        crate::runtime::timer::sleep(WATCH_EVERY).await;
        let now = Instant::now();
        for w in &watches {
            if w.outstanding.get() > 0
                && !w.timed_out.get()
                && now.saturating_duration_since(w.last_progress.get()) > timeout
            {
                w.give_up();
            }
        }
    }
}
