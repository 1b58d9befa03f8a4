//! The seed's plain text protocol connection loop (`nc localhost 7171`):
//! `PUT k v` / `GET k` / `DEL k`, one line each, against the same keyspace as
//! RESP. Lines are routed to the owning core like any other op.

use super::socket::Socket;
use crate::core::router::Batch;
use crate::core::world::World;
use crate::protocol::text::{parse_line, TextRequest};
use crate::storage::ops::{KeyOp, OpResult, SetCond, SetTtl};
use bytes::BytesMut;
use std::rc::Rc;

pub async fn serve(world: Rc<World>, mut stream: Socket) {
    if let Err(e) = text_loop(&world, &mut stream).await {
        tracing::debug!(error = %e, "text connection ended");
    }
    if let Err(e) = stream.finish().await {
        tracing::debug!(error = %e, "last text reply not delivered");
    }
}

async fn text_loop(world: &Rc<World>, stream: &mut Socket) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(4096);
    let mut out = BytesMut::with_capacity(4096);
    loop {
        let n = stream.read_into(&mut rbuf).await?;
        if n == 0 {
            return Ok(());
        }
        let mut batch = Batch::new(world.clone());
        // Replies in line order: either a fixed text or the ticket of an op.
        let mut pending: Vec<Result<crate::core::router::Ticket, String>> = Vec::new();
        let mut close = false;
        loop {
            match parse_line(&rbuf) {
                Ok(Some((req, consumed))) => {
                    let line = rbuf.split_to(consumed).freeze();
                    let key = |r: &std::ops::Range<usize>| line.slice(r.clone());
                    let item = match req {
                        TextRequest::Put { key: k, value } => {
                            let op = KeyOp::Set {
                                value: line.slice(value),
                                cond: SetCond::Always,
                                ttl: SetTtl::Clear,
                                get: false,
                            };
                            Ok(batch.key(key(&k), op))
                        }
                        TextRequest::Get { key: k } => Ok(batch.key(key(&k), KeyOp::Get)),
                        TextRequest::Del { key: k } => Ok(batch.key(key(&k), KeyOp::Del)),
                        TextRequest::Invalid(reason) => Err(format!("ERROR {reason}\n")),
                    };
                    pending.push(item);
                }
                Ok(None) => break,
                Err(reason) => {
                    pending.push(Err(format!("ERROR {reason}\n")));
                    close = true;
                    break;
                }
            }
        }
        let mut results = batch.finish().await;
        for item in pending {
            match item {
                Err(text) => out.extend_from_slice(text.as_bytes()),
                Ok(t) => match results.take(t) {
                    OpResult::Ok => out.extend_from_slice(b"OK\n"),
                    OpResult::Bulk(v) => {
                        out.extend_from_slice(&v);
                        out.extend_from_slice(b"\n");
                    }
                    OpResult::Nil | OpResult::Int(0) => out.extend_from_slice(b"NOT_FOUND\n"),
                    OpResult::Int(_) => out.extend_from_slice(b"OK\n"),
                    OpResult::Err(e) => {
                        out.extend_from_slice(format!("ERROR {e}\n").as_bytes());
                    }
                    _ => out.extend_from_slice(b"ERROR internal\n"),
                },
            }
        }
        world.count_io(n as u64, out.len() as u64);
        stream.write_all(&mut out).await?;
        if close || world.shutting_down.get() {
            return Ok(());
        }
    }
}
