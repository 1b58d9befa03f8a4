//! The HTTP door (`--http-port`, 8080): HTTP/1.1 with keep-alive through
//! hyper, on the core's own sockets ([`io`]), one SO_REUSEPORT listener per
//! core like the other doors. A connection is admitted, listed, limited and
//! killed as any ([`crate::net::door`]); its requests become the commands
//! they mean and run through the same command layer as RESP's, as this
//! connection's client, so passwords, ACL users, limits, statistics and the
//! owning core are the same whichever door a request used ([`routes`],
//! [`keys`], [`auth`]). `/metrics` and the WebSocket stats gather every core's
//! counters only when asked ([`stats`], [`metrics`]); `/v1/events` makes the
//! connection a pub/sub subscriber ([`ws`]); the dashboard is served from the
//! binary ([`assets`]).
//!
//! This module never parses HTTP or WebSocket framing itself (hyper and
//! tungstenite do) and never touches a key but through a command.

pub mod assets;
pub mod auth;
pub mod io;
pub mod keys;
pub mod metrics;
pub mod query;
pub mod reply;
pub mod routes;
pub mod stats;
pub mod ws;

use crate::command::context::ClientState;
use crate::command::dispatch::run_pipeline;
use crate::command::frame::Frame;
use crate::core::clients::Door;
use crate::core::world::World;
use crate::net::door::{self, Refusal};
use crate::net::socket::Socket;
use crate::protocol::out::Out;
use crate::protocol::reply::Proto;
use bytes::Bytes;
use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

/// Largest request head (request line and headers) hyper reads.
const MAX_HEAD: usize = 64 * 1024;

/// One HTTP connection: its client (as CLIENT LIST shows it) and what its
/// requests have established.
pub struct State {
    pub world: Rc<World>,
    /// None when the connection was refused, or while a request runs.
    client: RefCell<Option<ClientState>>,
    pub refused: Option<Refusal>,
    /// The credentials this connection last proved, and the ACL generation
    /// then: a request with the same ones is not checked again.
    pub proven: RefCell<Option<(auth::Token, u64)>>,
    /// A WebSocket the last request asked for, run once hyper lets go.
    pub upgrade: RefCell<Option<ws::Upgrade>>,
}

impl State {
    /// Run commands as this connection's client, in order; their replies.
    pub async fn run(&self, requests: Vec<Vec<Bytes>>) -> Vec<Frame> {
        let mut lease = Lease::take(&self.client);
        match lease.client.as_mut() {
            Some(client) => run_as(&self.world, client, requests).await,
            None => vec![Frame::err("ERR connection busy"); requests.len()],
        }
    }

    /// Run one command; its reply.
    pub async fn run_one(&self, args: Vec<Bytes>) -> Frame {
        self.run(vec![args])
            .await
            .pop()
            .unwrap_or_else(|| Frame::err("ERR no reply"))
    }

    /// The client, for what needs it whole (a WebSocket's subscriptions).
    pub fn lease(&self) -> Lease<'_> {
        Lease::take(&self.client)
    }
}

/// Run commands as `client`, in order, through the command layer as any
/// door does; their replies, kept whole.
pub async fn run_as(
    world: &Rc<World>,
    client: &mut ClientState,
    mut requests: Vec<Vec<Bytes>>,
) -> Vec<Frame> {
    let want = requests.len();
    client.frames = Some(Vec::with_capacity(want));
    let mut out = Out::new();
    while !requests.is_empty() && !client.closing {
        world.busy.set(world.busy.get() + 1);
        run_pipeline(world, client, &mut requests, &mut out).await;
        world.busy.set(world.busy.get() - 1);
    }
    let mut frames = client.frames.take().unwrap_or_default();
    frames.resize(want, Frame::err("ERR no reply"));
    frames
}

/// The connection's client, out of its cell while a request runs, and put
/// back even when the request is dropped half-way (a client that vanished),
/// so the connection is always forgotten whole when it ends.
pub struct Lease<'a> {
    cell: &'a RefCell<Option<ClientState>>,
    pub client: Option<ClientState>,
}

impl<'a> Lease<'a> {
    fn take(cell: &'a RefCell<Option<ClientState>>) -> Lease<'a> {
        let client = cell.borrow_mut().take();
        Lease { cell, client }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            *self.cell.borrow_mut() = Some(c);
        }
    }
}

/// How long, and how much, a closing connection may still send that is read
/// and dropped.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

/// Close the way HTTP servers must (a "lingering close"): a reply sent
/// before its request was read whole (a 413 or 401 refusing a body, a 400)
/// is followed by a FIN, and what the client still sends is read and
/// dropped for a moment. Closing with unread bytes would make the kernel
/// reset the connection, and the client could lose the reply before reading
/// it. A client that already closed costs one read.
async fn linger(sock: &mut Socket) {
    // SAFETY: shutdown only ends the sending side of the connection's own
    // live descriptor, which `sock` still owns and closes later.
    unsafe { libc::shutdown(sock.raw_fd(), libc::SHUT_WR) };
    let drain = async {
        let mut scratch = bytes::BytesMut::new();
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            match sock.read_into(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
            scratch.clear();
        }
    };
    futures_lite::future::or(drain, crate::runtime::timer::sleep(LINGER_TIME)).await;
}

/// Serve one HTTP connection until it closes (or becomes a WebSocket, then
/// until that closes).
pub async fn serve(world: Rc<World>, stream: Socket) {
    let (client, refused) = match door::admission(&world, &stream, Door::Http) {
        Ok(mut c) => {
            // Replies are kept as frames, never written as RESP: RESP3 so
            // that a map or a null is told apart.
            c.proto = Proto::Resp3;
            (Some(c), None)
        }
        Err(why) => (None, Some(why)),
    };
    let conn = io::Conn::new(stream, world.clone());
    let state = Rc::new(State {
        world: world.clone(),
        client: RefCell::new(client),
        refused,
        proven: RefCell::new(None),
        upgrade: RefCell::new(None),
    });
    let for_service = state.clone();
    let service = hyper::service::service_fn(move |req| {
        let state = for_service.clone();
        Box::pin(async move { Ok::<_, Infallible>(routes::route(&state, req).await) })
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(refused.is_none()).max_buf_size(MAX_HEAD);
    let mut upgraded = false;
    match builder
        .serve_connection(conn.clone(), service)
        .without_shutdown()
        .await
    {
        Ok(parts) => {
            let upgrade = state.upgrade.borrow_mut().take();
            if let Some(up) = upgrade {
                upgraded = true;
                conn.unread(&parts.read_buf);
                drop(parts);
                ws::run(&state, conn.clone(), up).await;
            }
        }
        Err(e) => tracing::debug!(core = world.id, error = %e, "HTTP connection ended"),
    }
    if let Some(mut sock) = conn.close().await {
        if !upgraded {
            linger(&mut sock).await;
        }
    }
    let client = state.client.borrow_mut().take();
    if let Some(mut client) = client {
        door::forget(&world, &mut client);
    }
}
