//! The RESP connection loop: read what the socket has, parse every complete
//! request (pipelining), run them as one batch, write all replies at once.
//!
//! Bounded input: a request over `proto-max-bulk-len`, a multibulk count over its
//! cap, or an unparsable stream gets Redis's `Protocol error` reply and the
//! connection is closed (it cannot be resynchronised); a client whose unparsed
//! input passes `client-query-buffer-limit` is closed. Nothing a client sends can
//! panic this task or touch another connection.

use super::socket::{Socket, READ_CHUNK};
use crate::command::exec::{run_pipeline, ClientState};
use crate::command::pubsub::forget_client;
use crate::core::clients::ClientInfo;
use crate::core::pubsub::{Kind, Mailbox, Push};
use crate::core::world::World;
use crate::protocol::reply::{self, Proto};
use crate::protocol::resp::{parse_request, Limits};
use bytes::{Bytes, BytesMut};
use std::rc::Rc;
/// Requests executed per batch before replies are written, so one huge pipeline
/// cannot hold an unbounded number of replies in memory.
const MAX_BATCH: usize = 4096;

pub async fn serve(world: Rc<World>, mut stream: Socket) {
    world
        .stats
        .connections_received
        .set(world.stats.connections_received.get() + 1);
    let (maxclients, needs_auth) = {
        let c = world.config.borrow();
        (c.maxclients, c.requirepass.is_some())
    };
    // maxclients is split evenly over cores: the kernel spreads connections evenly.
    let per_core = maxclients.div_ceil(world.ncores as u64) as usize;
    if world.clients.borrow().len() >= per_core {
        world
            .stats
            .rejected_connections
            .set(world.stats.rejected_connections.get() + 1);
        let mut msg = BytesMut::from(&b"-ERR max number of clients reached\r\n"[..]);
        let _ = stream.write_all(&mut msg).await;
        let _ = stream.finish().await;
        return;
    }
    let addr = stream.peer_addr();
    let laddr = stream.local_addr();
    let id = world.clients.borrow_mut().next_id(world.id, world.ncores);
    world.clients.borrow_mut().add(ClientInfo {
        id,
        addr: addr.clone(),
        laddr: laddr.clone(),
        fd: stream.raw_fd(),
        name: String::new(),
        age_secs: 0,
        idle_secs: 0,
        db: 0,
        resp: 2,
        last_cmd: String::new(),
        core: world.id,
        lib_name: String::new(),
        lib_ver: String::new(),
        subs: [0; 3],
    });
    let mut client = ClientState::new(id, addr, laddr, needs_auth);
    client.fd = stream.raw_fd();
    if let Err(e) = connection_loop(&world, &mut stream, &mut client).await {
        tracing::debug!(client = id, error = %e, "connection ended");
    }
    // The last reply may still be on its way; a killed client gets none.
    if !world.clients.borrow().is_killed(id) {
        if let Err(e) = stream.finish().await {
            tracing::debug!(client = id, error = %e, "last reply not delivered");
        }
    }
    forget_client(&world, &mut client);
    world.clients.borrow_mut().remove(id);
}

async fn connection_loop(
    world: &Rc<World>,
    stream: &mut Socket,
    client: &mut ClientState,
) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut ranges = Vec::new();
    let mut owned = Vec::new();
    let mut requests: Vec<Vec<Bytes>> = Vec::new();
    loop {
        let mailbox = client.subs.as_ref().map(|s| s.mailbox.clone());
        let n = match mailbox {
            None => stream.read_into(&mut rbuf).await?,
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
        let (limits, qbuf_limit) = {
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
        let mut fatal = None;
        loop {
            match parse_request(&rbuf, &limits, &mut ranges, &mut owned) {
                Ok(Some((consumed, _kind))) => {
                    let frame = rbuf.split_to(consumed).freeze();
                    let args: Vec<Bytes> = if owned.is_empty() {
                        ranges.iter().map(|r| frame.slice(r.clone())).collect()
                    } else {
                        owned.drain(..).map(Bytes::from).collect()
                    };
                    if !args.is_empty() {
                        requests.push(args);
                    }
                    if requests.len() >= MAX_BATCH {
                        run_pipeline(world, client, &mut requests, &mut wbuf).await;
                        flush(world, stream, &mut wbuf).await?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    fatal = Some(e.message);
                    break;
                }
            }
        }
        world.busy.set(world.busy.get() + 1);
        if !requests.is_empty() {
            run_pipeline(world, client, &mut requests, &mut wbuf).await;
        }
        world.busy.set(world.busy.get() - 1);
        if let Some(msg) = fatal {
            reply::error(&mut wbuf, &format!("ERR {msg}"));
            flush(world, stream, &mut wbuf).await?;
            tracing::debug!(client = client.id, "closing after protocol error: {msg}");
            return Ok(());
        }
        flush(world, stream, &mut wbuf).await?;
        if client.closing || world.clients.borrow().is_killed(client.id) {
            return Ok(());
        }
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

async fn flush(world: &World, stream: &mut Socket, wbuf: &mut BytesMut) -> std::io::Result<()> {
    if wbuf.is_empty() {
        return Ok(());
    }
    world.count_io(0, wbuf.len() as u64);
    stream.write_all(wbuf).await
}

/// Write the messages waiting in a subscriber's mailbox.
async fn deliver(
    world: &World,
    stream: &mut Socket,
    mb: &Mailbox,
    proto: Proto,
    wbuf: &mut BytesMut,
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
fn encode_push(out: &mut BytesMut, m: &Push, proto: Proto) {
    match (&m.kind, &m.pattern) {
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
    reply::bulk(out, &m.channel);
    reply::bulk(out, &m.payload);
}
