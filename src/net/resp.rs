//! The RESP connection loop: read what the socket has, parse every complete
//! request (pipelining), run them as one batch, write all replies at once.
//!
//! Bounded input: a request over `proto-max-bulk-len`, a multibulk count over its
//! cap, or an unparsable stream gets Redis's `Protocol error` reply and the
//! connection is closed (it cannot be resynchronised); before AUTH the
//! stricter Redis 7 limits apply; a client whose unparsed input passes
//! `client-query-buffer-limit` is closed. A request arriving in pieces is
//! resumed, never re-parsed. Bounded output: batches and back-pressure as
//! `net::door` describes. Nothing a client sends can panic this task or touch
//! another connection.

use super::door;
use super::socket::{Socket, READ_CHUNK};
use crate::command::context::ClientState;
use crate::core::clients::Door;
use crate::core::pubsub::{Kind, Mailbox, Push, TRACKING_CHANNEL};
use crate::core::tracking::Notice;
use crate::core::world::World;
use crate::protocol::out::Out;
use crate::protocol::reply::{self, Proto};
use crate::protocol::resp::{Limits, RequestParser};
use bytes::{Bytes, BytesMut};
use std::rc::Rc;

/// Requests parsed ahead of running them: the pipeline a batch is cut from.
const MAX_PARSED: usize = 256;

pub async fn serve(world: Rc<World>, mut stream: Socket) {
    let Some(mut client) = door::admit(&world, &mut stream, Door::Resp).await else {
        return;
    };
    if let Err(e) = connection_loop(&world, &mut stream, &mut client).await {
        tracing::debug!(client = client.id, error = %e, "connection ended");
    }
    door::leave(&world, &mut stream, &mut client).await;
}

async fn connection_loop(
    world: &Rc<World>,
    stream: &mut Socket,
    client: &mut ClientState,
) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = Out::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut requests: Vec<Vec<Bytes>> = Vec::new();
    loop {
        let mailbox = client.subs.as_ref().map(|s| s.mailbox.clone());
        let n = match mailbox {
            None => door::read_or_idle(world, stream, &mut rbuf).await?,
            Some(mb) => {
                // A subscriber waits for its next request or its next message,
                // whichever comes first; the read is cancel-safe.
                deliver(world, stream, &mb, client.proto, &mut wbuf).await?;
                if mb.is_closed() {
                    return Ok(());
                }
                let read = async { Some(stream.read_into(&mut rbuf).await) };
                let mail = async {
                    mb.wait().await;
                    None
                };
                match futures_lite::future::or(read, mail).await {
                    Some(r) => r?,
                    None => continue,
                }
            }
        };
        if n == 0 {
            return Ok(());
        }
        world.count_io(n as u64, 0);
        let _busy = door::Busy::new(world);
        let (mut limits, qbuf_limit) = {
            let c = world.config.borrow();
            (
                Limits {
                    max_bulk_len: c.proto_max_bulk_len as usize,
                    max_multibulk_len: c.max_multibulk_len as usize,
                    ..Limits::default()
                },
                c.client_query_buffer_limit as usize,
            )
        };
        loop {
            // Before AUTH every request runs before the next is parsed: the
            // stricter limits end with a successful AUTH, as in Redis.
            limits.unauthenticated = !client.authed;
            let mut fatal = None;
            while requests.len() < MAX_PARSED {
                match parser.parse(&rbuf, &limits) {
                    Ok(Some((consumed, _kind))) => {
                        let frame = rbuf.split_to(consumed).freeze();
                        let args: Vec<Bytes> = if parser.owned.is_empty() {
                            parser.args.iter().map(|r| frame.slice(r.clone())).collect()
                        } else {
                            parser.owned.drain(..).map(Bytes::from).collect()
                        };
                        if !args.is_empty() {
                            requests.push(args);
                        }
                        if !client.authed {
                            break;
                        }
                    }
                    Ok(None) => {
                        // A large value on its way: room for all of it now.
                        let end = parser.bulk_end();
                        if end > rbuf.len() + READ_CHUNK {
                            rbuf.reserve(end - rbuf.len());
                        }
                        break;
                    }
                    Err(e) => {
                        fatal = Some(e.message);
                        break;
                    }
                }
            }
            let parsed_any = !requests.is_empty();
            door::run(world, stream, client, &mut requests, &mut wbuf).await?;
            if let Some(msg) = fatal {
                reply::error(&mut wbuf, &format!("ERR {msg}"));
                door::send(world, stream, client, &mut wbuf).await?;
                tracing::debug!(client = client.id, "closing after protocol error: {msg}");
                return Ok(());
            }
            if client.closing || world.clients.borrow().is_killed(client.id) {
                door::send(world, stream, client, &mut wbuf).await?;
                return Ok(());
            }
            // More complete requests may wait in `rbuf` (a batch was cut short).
            if !parsed_any || rbuf.is_empty() {
                break;
            }
        }
        door::send(world, stream, client, &mut wbuf).await?;
        if rbuf.len() > qbuf_limit {
            tracing::warn!(
                client = client.id,
                "closing client that reached max query buffer length ({} bytes)",
                rbuf.len()
            );
            return Ok(());
        }
        if world.shutting_down.get() {
            return Ok(());
        }
    }
}

async fn flush(world: &World, stream: &mut Socket, wbuf: &mut Out) -> std::io::Result<()> {
    if wbuf.is_empty() {
        return Ok(());
    }
    world.count_io(0, wbuf.len() as u64);
    stream.write_all(wbuf).await
}

/// A client-side caching notice, as Redis frames it: a RESP3 push
/// `invalidate`, or for a RESP2 client that notices are redirected to, a
/// message on `__redis__:invalidate`; its keys as an array, or null for
/// "everything". RESP2 has no way to tell a client itself, so nothing is
/// written then (Redis's rule).
fn encode_notice(out: &mut Out, n: &Notice, redirected: bool, proto: Proto) {
    if let Notice::RedirBroken(id) = n {
        if proto == Proto::Resp3 {
            reply::push_header(out, 2, proto);
            reply::bulk(out, b"tracking-redir-broken");
            reply::int(out, *id as i64);
        }
        return;
    }
    if proto == Proto::Resp3 {
        reply::push_header(out, 2, proto);
        reply::bulk(out, b"invalidate");
    } else if redirected {
        reply::push_header(out, 3, proto);
        reply::bulk(out, b"message");
        reply::bulk(out, TRACKING_CHANNEL);
    } else {
        return;
    }
    match n {
        Notice::Keys(keys) => {
            reply::array_header(out, keys.len());
            for k in keys {
                out.bulk(k);
            }
        }
        _ => reply::null(out, proto),
    }
}

/// Write the messages waiting in a subscriber's mailbox.
async fn deliver(
    world: &World,
    stream: &mut Socket,
    mb: &Mailbox,
    proto: Proto,
    wbuf: &mut Out,
) -> std::io::Result<()> {
    let msgs = mb.take();
    if msgs.is_empty() {
        return Ok(());
    }
    for m in &msgs {
        encode_push(wbuf, m, proto);
    }
    let r = flush(world, stream, wbuf).await;
    mb.sent();
    r
}

/// `message`, `pmessage` or `smessage`, as Redis frames it.
fn encode_push(out: &mut Out, m: &Push, proto: Proto) {
    if let Some(n) = &m.tracking {
        encode_notice(out, n, !m.channel.is_empty(), proto);
        return;
    }
    match (&m.kind, &m.pattern) {
        // Redis writes a monitor line as a simple string, in RESP3 too.
        (Kind::Monitor, _) => {
            out.extend_from_slice(b"+");
            out.extend_from_slice(&m.payload);
            out.extend_from_slice(b"\r\n");
            return;
        }
        (Kind::Pattern, Some(p)) => {
            reply::push_header(out, 4, proto);
            reply::bulk(out, b"pmessage");
            reply::bulk(out, p);
        }
        (Kind::Shard, _) => {
            reply::push_header(out, 3, proto);
            reply::bulk(out, b"smessage");
        }
        _ => {
            reply::push_header(out, 3, proto);
            reply::bulk(out, b"message");
        }
    }
    out.bulk(&m.channel);
    out.bulk(&m.payload);
}
