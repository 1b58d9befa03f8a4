//! stairkv-bench's pub/sub measurements, on one pinned executor and its
//! socket ring: `expiry` times every `expired` keyspace event from the key's
//! deadline to its arrival at a subscriber (and checks each key is heard of
//! exactly once); `fanout` publishes to one channel with many subscribers and
//! counts deliveries per second (and checks each subscriber gets every
//! message, in order). Their flags ([`ExpiryArgs`], [`FanoutArgs`]) live
//! with the others in [`super::args`]. Works against any Redis-protocol
//! server; never touches the keyspace except through the wire.

use bytes::BytesMut;
use hdrhistogram::Histogram;
use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::args::{ExpiryArgs, FanoutArgs};
use super::client::resolve;
use super::hgrm::write_hgrm;
use super::stats::histogram;
use crate::protocol::client::{parse_resp, resp_command, Reply};
use crate::runtime::ring::SocketRing;
use crate::storage::now_us;

/// A bare RESP connection on the ring.
struct Wire {
    ring: Rc<SocketRing>,
    sock: std::net::TcpStream,
    inbuf: BytesMut,
    scratch: Vec<u8>,
}

impl Wire {
    fn connect(ring: &Rc<SocketRing>, addr: &std::net::SocketAddr) -> Result<Wire, String> {
        let sock = std::net::TcpStream::connect_timeout(addr, Duration::from_secs(10))
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = sock.set_nodelay(true);
        Ok(Wire {
            ring: ring.clone(),
            sock,
            inbuf: BytesMut::with_capacity(64 * 1024),
            scratch: Vec::with_capacity(64 * 1024),
        })
    }

    async fn send(&mut self, buf: BytesMut) -> Result<(), String> {
        let (r, _) = self.ring.send_all(self.sock.as_raw_fd(), buf).await;
        r.map_err(|e| format!("send failed: {e}"))
    }

    /// Read more bytes into `inbuf`; an error at end of stream.
    async fn fill(&mut self) -> Result<(), String> {
        let buf = std::mem::take(&mut self.scratch);
        let (res, buf) = self.ring.recv(self.sock.as_raw_fd(), buf).await;
        let Some(buf) = buf.into_received(res) else {
            return Err("socket ring returned no buffer".into());
        };
        self.inbuf.extend_from_slice(&buf);
        self.scratch = buf;
        match res {
            0 => Err("closed by the server".into()),
            r if r < 0 => Err(std::io::Error::from_raw_os_error(-r).to_string()),
            _ => Ok(()),
        }
    }

    /// The next whole reply, as (reply, its bytes) — ranges index the bytes.
    async fn next(&mut self) -> Result<(Reply, bytes::Bytes), String> {
        loop {
            if let Some((r, used)) = parse_resp(&self.inbuf)? {
                return Ok((r, self.inbuf.split_to(used).freeze()));
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<(Reply, bytes::Bytes), String> {
        let mut out = BytesMut::new();
        resp_command(&mut out, args);
        self.send(out).await?;
        self.next().await
    }
}

/// The elements of an array reply, as byte strings (non-bulk elements empty).
fn elements(frame: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = match frame.iter().position(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => return out,
    };
    while at < frame.len() {
        match parse_resp(&frame[at..]) {
            Ok(Some((Reply::Bulk(r), used))) => {
                out.push(&frame[at..][r]);
                at += used;
            }
            Ok(Some((_, used))) => {
                out.push(&[]);
                at += used;
            }
            _ => break,
        }
    }
    out
}

/// Run `f` on one executor pinned to `cpu`, with a socket ring.
fn on_executor<T: Send + 'static, F, Fut>(cpu: Option<usize>, f: F) -> Result<T, String>
where
    F: FnOnce(Rc<SocketRing>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + 'static,
{
    let cpu = cpu
        .or_else(|| crate::config::available_cpus().first().copied())
        .unwrap_or(0);
    let h = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu))
        .io_memory(256 * 1024)
        .spawn(move || async move {
            let ring = Rc::new(SocketRing::new().map_err(|e| {
                format!("stairkv-bench needs io_uring with SINGLE_ISSUER + COOP_TASKRUN (Linux 6.0+): {e}")
            })?);
            ring.start();
            f(ring).await
        })
        .map_err(|e| format!("cannot start the client executor on CPU {cpu}: {e}"))?;
    h.join()
        .map_err(|e| format!("the client executor failed: {e}"))?
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn percentiles(h: &Histogram<u64>) -> serde_json::Value {
    serde_json::json!({
        "p50": ms(h.value_at_quantile(0.5)),
        "p90": ms(h.value_at_quantile(0.9)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p99.9": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
    })
}

fn write_report(
    dir: &Option<PathBuf>,
    summary: &serde_json::Value,
    hist: Option<(&str, &Histogram<u64>)>,
) -> Result<(), String> {
    let Some(dir) = dir else { return Ok(()) };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(summary).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("summary.json"), text)
        .map_err(|e| format!("cannot write summary: {e}"))?;
    if let Some((name, h)) = hist {
        let mut s = String::new();
        write_hgrm(h, &mut s);
        std::fs::write(dir.join(name), s).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    Ok(())
}

const KEY_PREFIX: &str = "expiry:";

/// `stairkv-bench expiry`. Returns whether every key was heard exactly once.
pub fn expiry(a: ExpiryArgs) -> Result<bool, String> {
    if a.keys == 0 || a.spread.is_nan() || a.spread <= 0.0 || a.lead < 0.0 || a.grace < 0.0 {
        return Err("--keys, --spread must be positive; --lead, --grace at least 0".into());
    }
    let t = &a.target;
    let addr = resolve(&t.host, t.port)?;
    let (keys, spread, lead, grace) = (a.keys, a.spread, a.lead, a.grace);
    let (hist, heard, dupes, strays) = on_executor(t.cpu, move |ring| async move {
        let mut setup = Wire::connect(&ring, &addr)?;
        // Redis announces nothing by default; stairkv announces expiries already.
        setup
            .command(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"Ex"])
            .await?;
        let mut sub = Wire::connect(&ring, &addr)?;
        sub.command(&[b"SUBSCRIBE", b"__keyevent@0__:expired"])
            .await?;
        let start_us = now_us() + (lead * 1e6) as u64;
        let step_us = spread * 1e6 / keys as f64;
        let deadline_us = move |i: u64| start_us + (i as f64 * step_us) as u64;
        let seen = Rc::new(RefCell::new(vec![false; keys as usize]));
        let counts = Rc::new((Cell::new(0u64), Cell::new(0u64), Cell::new(0u64)));
        let hist = Rc::new(RefCell::new(histogram()));
        let listener = {
            let (seen, counts, hist) = (seen.clone(), counts.clone(), hist.clone());
            crate::runtime::task::spawn(async move {
                let (heard, dupes, strays) = (&counts.0, &counts.1, &counts.2);
                while heard.get() < keys {
                    let Ok((_, frame)) = sub.next().await else {
                        break;
                    };
                    let now = now_us();
                    let el = elements(&frame);
                    let idx = el
                        .get(2)
                        .and_then(|k| k.strip_prefix(KEY_PREFIX.as_bytes()))
                        .and_then(|d| std::str::from_utf8(d).ok())
                        .and_then(|d| d.parse::<u64>().ok())
                        .filter(|&i| i < keys);
                    let Some(i) = idx else {
                        strays.set(strays.get() + 1);
                        continue;
                    };
                    let mut seen = seen.borrow_mut();
                    if seen[i as usize] {
                        dupes.set(dupes.get() + 1);
                        continue;
                    }
                    seen[i as usize] = true;
                    heard.set(heard.get() + 1);
                    hist.borrow_mut()
                        .saturating_record(now.saturating_sub(deadline_us(i)).max(1));
                }
            })
        };
        // Write the keys, in deadline order, on 4 connections pipelined 256 deep.
        let mut writers = Vec::new();
        for w in 0..4u64 {
            let mut conn = Wire::connect(&ring, &addr)?;
            writers.push(crate::runtime::task::spawn(async move {
                let mut i = w;
                while i < keys {
                    let mut out = BytesMut::new();
                    let mut n = 0;
                    while n < 256 && i < keys {
                        let key = format!("{KEY_PREFIX}{i:012}");
                        let at = (deadline_us(i) / 1000).to_string();
                        resp_command(
                            &mut out,
                            &[b"SET", key.as_bytes(), b"v", b"PXAT", at.as_bytes()],
                        );
                        n += 1;
                        i += 4;
                    }
                    conn.send(out).await?;
                    for _ in 0..n {
                        if let (Reply::Error(r), f) = conn.next().await? {
                            return Err(String::from_utf8_lossy(&f[r]).into_owned());
                        }
                    }
                }
                Ok::<(), String>(())
            }));
        }
        for w in writers {
            w.await?;
        }
        let written_us = now_us();
        if written_us > start_us {
            eprintln!(
                "stairkv-bench expiry: writing took past the first deadline by {:.1} s; raise --lead",
                (written_us - start_us) as f64 / 1e6
            );
        }
        let give_up = deadline_us(keys - 1) + (grace * 1e6) as u64;
        let waited = futures_lite::future::or(
            async {
                listener.await;
                true
            },
            async {
                crate::runtime::timer::sleep(Duration::from_micros(
                    give_up.saturating_sub(now_us()),
                ))
                .await;
                false
            },
        )
        .await;
        let _ = waited;
        let h = hist.borrow().clone();
        Ok((h, counts.0.get(), counts.1.get(), counts.2.get()))
    })?;
    let missing = keys - heard;
    let ok = missing == 0 && dupes == 0;
    println!(
        "{}: {keys} keys, deadlines over {spread} s: heard {heard}, missing {missing}, repeated {dupes}, other {strays}",
        t.label
    );
    println!(
        "delay from deadline to event (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        ms(hist.value_at_quantile(0.5)),
        ms(hist.value_at_quantile(0.9)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.value_at_quantile(0.999)),
        ms(hist.max())
    );
    let summary = serde_json::json!({
        "label": t.label, "keys": keys, "spread_s": spread, "heard": heard,
        "missing": missing, "repeated": dupes, "other": strays,
        "delay_ms": percentiles(&hist), "ok": ok,
    });
    write_report(&t.report_dir, &summary, Some(("expiry.hgrm", &hist)))?;
    Ok(ok)
}

/// `stairkv-bench fanout`. Returns whether every subscriber got every message in order.
pub fn fanout(a: FanoutArgs) -> Result<bool, String> {
    if a.subscribers == 0 || a.messages == 0 || a.pipeline == 0 || a.size < 12 {
        return Err(
            "--subscribers, --messages, --pipeline must be positive and --size at least 12".into(),
        );
    }
    let t = &a.target;
    let addr = resolve(&t.host, t.port)?;
    let (subs, msgs, size, depth) = (a.subscribers, a.messages, a.size, a.pipeline);
    let (elapsed, promised, received, disorder) = on_executor(t.cpu, move |ring| async move {
        let mut listeners = Vec::new();
        let received = Rc::new(Cell::new(0u64));
        let disorder = Rc::new(Cell::new(0u64));
        let done_at = Rc::new(Cell::new(None::<Instant>));
        let finished = Rc::new(Cell::new(0usize));
        for _ in 0..subs {
            let mut w = Wire::connect(&ring, &addr)?;
            w.command(&[b"SUBSCRIBE", b"fanout"]).await?;
            let (received, disorder, done_at, finished) = (
                received.clone(),
                disorder.clone(),
                done_at.clone(),
                finished.clone(),
            );
            listeners.push(crate::runtime::task::spawn(async move {
                let mut expect = 0u64;
                while expect < msgs {
                    let Ok((_, frame)) = w.next().await else {
                        break;
                    };
                    let el = elements(&frame);
                    let seq = el
                        .get(2)
                        .and_then(|p| std::str::from_utf8(&p[..12.min(p.len())]).ok())
                        .and_then(|d| d.parse::<u64>().ok());
                    if seq != Some(expect) {
                        disorder.set(disorder.get() + 1);
                    }
                    expect += 1;
                    received.set(received.get() + 1);
                }
                finished.set(finished.get() + 1);
                if finished.get() == subs {
                    done_at.set(Some(Instant::now()));
                }
            }));
        }
        let mut publisher = Wire::connect(&ring, &addr)?;
        let start = Instant::now();
        let mut promised = 0u64;
        let mut seq = 0u64;
        while seq < msgs {
            let mut out = BytesMut::new();
            let mut n = 0;
            while n < depth && seq < msgs {
                let mut payload = format!("{seq:012}").into_bytes();
                payload.resize(size, b'x');
                resp_command(&mut out, &[b"PUBLISH", b"fanout", &payload]);
                seq += 1;
                n += 1;
            }
            publisher.send(out).await?;
            for _ in 0..n {
                match publisher.next().await? {
                    (Reply::Int(k), _) => promised += k.max(0) as u64,
                    (_, f) => return Err(format!("PUBLISH: {}", String::from_utf8_lossy(&f))),
                }
            }
        }
        let limit = crate::runtime::timer::sleep(Duration::from_secs(30));
        let all = async {
            for l in listeners {
                l.await;
            }
        };
        futures_lite::future::or(all, limit).await;
        let end = done_at.get().unwrap_or_else(Instant::now);
        Ok((end - start, promised, received.get(), disorder.get()))
    })?;
    let want = subs as u64 * msgs;
    let rate = received as f64 / elapsed.as_secs_f64().max(1e-9);
    let ok = received == want && promised == want && disorder == 0;
    println!(
        "{}: {subs} subscribers, {msgs} messages of {size} B: {received} of {want} deliveries in {:.2} s = {rate:.0} deliveries/s, {:.0} publishes/s; PUBLISH counted {promised}; out of order {disorder}",
        t.label,
        elapsed.as_secs_f64(),
        msgs as f64 / elapsed.as_secs_f64().max(1e-9),
    );
    let summary = serde_json::json!({
        "label": t.label, "subscribers": subs, "messages": msgs, "size": size,
        "deliveries": received, "expected": want, "publish_counted": promised,
        "out_of_order": disorder, "seconds": elapsed.as_secs_f64(),
        "deliveries_per_sec": rate, "ok": ok,
    });
    write_report(&t.report_dir, &summary, None)?;
    Ok(ok)
}
