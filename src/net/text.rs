//! The seed's plain text protocol connection loop (`nc localhost 7171`):
//! `PUT k v` / `GET k` / `DEL k` / `AUTH password` / `LOGIN user password`,
//! one line each, against the same keyspace as RESP. Each line becomes the
//! RESP command it means (`SET`, `GET`, `DEL`, `AUTH`) and runs through the same command layer, so a text
//! client is checked, counted, listed, limited and killed exactly as a RESP
//! client is (`net::door`); only the replies are written as text lines.

use super::door;
use super::socket::{Socket, READ_CHUNK};
use crate::command::context::ClientState;
use crate::core::clients::Door;
use crate::core::world::World;
use crate::protocol::out::Out;
use crate::protocol::text::{TextParser, TextRequest, MAX_LINE, UNAUTH_MAX_LINE};
use bytes::{Bytes, BytesMut};
use std::rc::Rc;

/// Lines parsed ahead of running them (as RESP's `MAX_PARSED`).
const MAX_PARSED: usize = 256;

pub async fn serve(world: Rc<World>, mut stream: Socket) {
    let Some(mut client) = door::admit(&world, &mut stream, Door::Text).await else {
        return;
    };
    if let Err(e) = text_loop(&world, &mut stream, &mut client).await {
        tracing::debug!(client = client.id, error = %e, "text connection ended");
    }
    door::leave(&world, &mut stream, &mut client).await;
}

async fn text_loop(
    world: &Rc<World>,
    stream: &mut Socket,
    client: &mut ClientState,
) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Out::with_capacity(READ_CHUNK);
    let mut parser = TextParser::default();
    let mut requests: Vec<Vec<Bytes>> = Vec::new();
    loop {
        let n = door::read_or_idle(world, stream, &mut rbuf).await?;
        if n == 0 {
            return Ok(());
        }
        world.count_io(n as u64, 0);
        let _busy = door::Busy::new(world);
        loop {
            let max_line = if client.authed {
                MAX_LINE
            } else {
                UNAUTH_MAX_LINE
            };
            let mut fatal = None;
            let mut parsed_any = false;
            while requests.len() < MAX_PARSED {
                match parser.parse(&rbuf, max_line) {
                    Ok(Some((req, consumed))) => {
                        parsed_any = true;
                        let line = rbuf.split_to(consumed).freeze();
                        match command(&line, req) {
                            Ok(args) => requests.push(args),
                            Err(_) if !client.authed => {
                                out.extend_from_slice(b"ERROR authentication required\n");
                            }
                            Err(reason) => {
                                // Answered in its place: run what came before it first.
                                door::run(world, stream, client, &mut requests, &mut out).await?;
                                out.extend_from_slice(b"ERROR ");
                                out.extend_from_slice(reason.as_bytes());
                                out.extend_from_slice(b"\n");
                            }
                        }
                        // Before AUTH every line runs before the next is parsed.
                        if !client.authed {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(reason) => {
                        fatal = Some(reason);
                        break;
                    }
                }
            }
            door::run(world, stream, client, &mut requests, &mut out).await?;
            if let Some(reason) = fatal {
                out.extend_from_slice(format!("ERROR {reason}\n").as_bytes());
                door::send(world, stream, client, &mut out).await?;
                return Ok(());
            }
            if client.closing || world.clients.borrow().is_killed(client.id) {
                return Ok(());
            }
            if !parsed_any || rbuf.is_empty() {
                break;
            }
        }
        door::send(world, stream, client, &mut out).await?;
        if world.shutting_down.get() {
            return Ok(());
        }
    }
}

/// The RESP command a text line means, or the reason it is not one.
fn command(line: &Bytes, req: TextRequest) -> Result<Vec<Bytes>, String> {
    let part = |r: std::ops::Range<usize>| line.slice(r);
    Ok(match req {
        TextRequest::Put { key, value } => {
            vec![Bytes::from_static(b"set"), part(key), part(value)]
        }
        TextRequest::Get { key } => vec![Bytes::from_static(b"get"), part(key)],
        TextRequest::Del { key } => vec![Bytes::from_static(b"del"), part(key)],
        TextRequest::Auth { password } => vec![Bytes::from_static(b"auth"), part(password)],
        TextRequest::Login { user, password } => {
            vec![Bytes::from_static(b"auth"), part(user), part(password)]
        }
        TextRequest::Invalid(reason) => return Err(reason),
    })
}
