//! The WebSocket routes, framed by tungstenite once hyper has answered the
//! upgrade (`101`) and let go of the connection:
//! - `/v1/events`: the connection becomes a pub/sub subscriber. Channels and
//!   patterns come in the query (`?channels=a,b&patterns=__keyevent@0__:*`)
//!   and in JSON text frames (`{"subscribe": [...]}`, `psubscribe`,
//!   `unsubscribe`, `punsubscribe`), run as the SUBSCRIBE commands they mean;
//!   messages go out as JSON frames. A client that does not read is bounded
//!   as a slow subscriber is (`client-output-buffer-limit pubsub`): its
//!   mailbox closes and so does the socket.
//! - `/v1/stats`: a JSON tick a second ([`super::stats::Ticker`]).
//!
//! Neither is ever closed for `timeout`. Both end when the client closes,
//! is killed (CLIENT KILL), or the server stops.

use super::io::Conn;
use super::query::Query;
use super::reply::{self, bytes_value, Body, Reply};
use super::stats::Ticker;
use super::{run_as, State};
use crate::command::context::ClientState;
use crate::command::frame::Frame;
use crate::core::pubsub::{Kind as PushKind, Push};
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Largest frame or message a client may send (subscription requests).
const MAX_INCOMING: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Events,
    Stats,
}

/// An accepted upgrade, run once hyper lets go of the connection.
pub struct Upgrade {
    kind: Kind,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
}

/// Answer a WebSocket request with `101 Switching Protocols`, or say why not.
pub fn accept(state: &State, head: &Parts, path: &str, query: Query) -> Reply {
    if head.method != Method::GET {
        return reply::not_allowed("a WebSocket opens with GET", "GET");
    }
    let has = |name: header::HeaderName, token: &str| {
        head.headers.get_all(name).iter().any(|v| {
            v.to_str()
                .unwrap_or("")
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        let mut r = reply::error(
            StatusCode::UPGRADE_REQUIRED,
            &format!("{path} is a WebSocket: open it with a WebSocket client"),
        );
        r.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return r;
    }
    if head
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        let mut r = reply::error(
            StatusCode::UPGRADE_REQUIRED,
            "unsupported WebSocket version (13 is)",
        );
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let Some(key) = head.headers.get(header::SEC_WEBSOCKET_KEY) else {
        return reply::error(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
    let list = |name: &str| -> Vec<Bytes> {
        query
            .get(name)
            .map(|v| {
                v.split(|&b| b == b',')
                    .filter(|s| !s.is_empty())
                    .map(Bytes::copy_from_slice)
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = if path == "/v1/events" {
        Kind::Events
    } else {
        Kind::Stats
    };
    *state.upgrade.borrow_mut() = Some(Upgrade {
        kind,
        channels: list("channels"),
        patterns: list("patterns"),
    });
    let accept_key = derive_accept_key(key.as_bytes());
    let mut r = Response::new(Body::default());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept_key) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

type Socket = WebSocketStream<Conn>;

/// Run an accepted WebSocket until it ends.
pub async fn run(state: &State, conn: Conn, up: Upgrade) {
    conn.never_idle();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_INCOMING))
        .max_frame_size(Some(MAX_INCOMING));
    let ws = WebSocketStream::from_raw_socket(conn, Role::Server, Some(config)).await;
    let mut lease = state.lease();
    let Some(client) = lease.client.as_mut() else {
        return;
    };
    let ended = match up.kind {
        Kind::Events => events(state, client, ws, up).await,
        Kind::Stats => stats(state, client, ws).await,
    };
    if let Err(e) = ended {
        tracing::debug!(client = client.id, error = %e, "WebSocket ended");
    }
}

fn gone(state: &State, client: &ClientState) -> bool {
    state.world.shutting_down.get() || state.world.clients.borrow().is_killed(client.id)
}

async fn stats(
    state: &State,
    client: &mut ClientState,
    mut ws: Socket,
) -> async_tungstenite::tungstenite::Result<()> {
    let mut ticker = Ticker::default();
    client.last_cmd = "ws:stats";
    while !gone(state, client) {
        let tick = ticker.tick(&state.world).await;
        ws.send(Message::text(tick.to_string())).await?;
        // Until the next tick, answer what the client sends (pings, a close).
        let mut next = std::pin::pin!(crate::runtime::timer::sleep(Duration::from_secs(1)));
        loop {
            let incoming = async { Some(ws.next().await) };
            let tick = async {
                next.as_mut().await;
                None
            };
            match futures_lite::future::or(incoming, tick).await {
                None => break,
                Some(None) | Some(Some(Ok(Message::Close(_)))) => return Ok(()),
                Some(Some(Err(e))) => return Err(e),
                Some(Some(Ok(_))) => {}
            }
        }
    }
    Ok(())
}

async fn events(
    state: &State,
    client: &mut ClientState,
    mut ws: Socket,
    up: Upgrade,
) -> async_tungstenite::tungstenite::Result<()> {
    let world = &state.world;
    let mut first = Vec::new();
    if !up.channels.is_empty() {
        first.push(command("subscribe", up.channels));
    }
    if !up.patterns.is_empty() {
        first.push(command("psubscribe", up.patterns));
    }
    for f in run_as(world, client, first).await {
        send_frames(&mut ws, f).await?;
    }
    loop {
        if gone(state, client) {
            return Ok(());
        }
        let mailbox = client.subs.as_ref().map(|s| s.mailbox.clone());
        if let Some(mb) = &mailbox {
            let msgs = mb.take();
            // Client-side caching notices are RESP's alone.
            for m in msgs.iter().filter(|m| m.tracking.is_none()) {
                ws.feed(Message::text(message(m).to_string())).await?;
            }
            if !msgs.is_empty() {
                ws.flush().await?;
            }
            mb.sent();
            if mb.is_closed() {
                // Past the pubsub output limit: closed, as Redis closes a slow subscriber.
                return Ok(());
            }
        }
        let incoming = async { Some(ws.next().await) };
        let mail = async {
            match &mailbox {
                Some(mb) => mb.wait().await,
                None => std::future::pending::<()>().await,
            }
            None
        };
        let msg = match futures_lite::future::or(incoming, mail).await {
            None => continue,
            Some(None) | Some(Some(Ok(Message::Close(_)))) => return Ok(()),
            Some(Some(Err(e))) => return Err(e),
            Some(Some(Ok(m))) => m,
        };
        let requests = match msg {
            Message::Text(t) => match requests_of(t.as_str()) {
                Ok(r) => r,
                Err(e) => {
                    send(&mut ws, json!({ "type": "error", "error": e })).await?;
                    continue;
                }
            },
            Message::Binary(_) => {
                let e = "send JSON text frames, e.g. {\"psubscribe\": [\"__keyevent@0__:*\"]}";
                send(&mut ws, json!({ "type": "error", "error": e })).await?;
                continue;
            }
            _ => continue,
        };
        for f in run_as(world, client, requests).await {
            send_frames(&mut ws, f).await?;
        }
    }
}

fn command(name: &'static str, args: Vec<Bytes>) -> Vec<Bytes> {
    let mut c = vec![Bytes::from_static(name.as_bytes())];
    c.extend(args);
    c
}

/// The commands a client's JSON frame asks for.
pub fn requests_of(text: &str) -> Result<Vec<Vec<Bytes>>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("send a JSON object such as {\"subscribe\": [\"news\"]}".into());
    };
    let mut out = Vec::new();
    for (k, v) in obj {
        let name = match k.as_str() {
            "subscribe" => "subscribe",
            "psubscribe" => "psubscribe",
            "unsubscribe" => "unsubscribe",
            "punsubscribe" => "punsubscribe",
            other => {
                return Err(format!(
                    "unknown request '{other}' (subscribe, psubscribe, unsubscribe, punsubscribe)"
                ))
            }
        };
        let Some(items) = v.as_array() else {
            return Err(format!("'{k}' takes an array of strings"));
        };
        let mut args = Vec::with_capacity(items.len());
        for it in items {
            match it.as_str() {
                Some(s) => args.push(Bytes::copy_from_slice(s.as_bytes())),
                None => return Err(format!("'{k}' takes an array of strings")),
            }
        }
        if args.is_empty() && matches!(name, "subscribe" | "psubscribe") {
            return Err(format!("'{k}' needs at least one name"));
        }
        out.push(command(name, args));
    }
    Ok(out)
}

async fn send(ws: &mut Socket, v: Value) -> async_tungstenite::tungstenite::Result<()> {
    ws.send(Message::text(v.to_string())).await
}

/// A command's reply as JSON frames: one acknowledgement per channel, or
/// the error.
async fn send_frames(ws: &mut Socket, f: Frame) -> async_tungstenite::tungstenite::Result<()> {
    match f {
        Frame::Multi(parts) => {
            for p in parts {
                Box::pin(send_frames(ws, p)).await?;
            }
            Ok(())
        }
        Frame::Push(items) | Frame::Array(items) => {
            let text = |f: Option<&Frame>| match f {
                Some(Frame::Bulk(b)) => bytes_value(b),
                Some(Frame::Null) | None => Value::Null,
                Some(other) => Value::String(format!("{other:?}")),
            };
            let kind = text(items.first());
            let count = match items.get(2) {
                Some(Frame::Int(n)) => json!(n),
                _ => Value::Null,
            };
            send(
                ws,
                json!({ "type": kind, "channel": text(items.get(1)), "count": count }),
            )
            .await
        }
        Frame::Error(e) => send(ws, json!({ "type": "error", "error": e })).await,
        _ => Ok(()),
    }
}

/// A published message as JSON, with the time it went out (ms since the epoch).
fn message(m: &Push) -> Value {
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    match (&m.kind, &m.pattern) {
        (PushKind::Pattern, Some(p)) => json!({
            "type": "pmessage",
            "pattern": bytes_value(p),
            "channel": bytes_value(&m.channel),
            "data": bytes_value(&m.payload),
            "time_ms": time_ms,
        }),
        _ => json!({
            "type": "message",
            "channel": bytes_value(&m.channel),
            "data": bytes_value(&m.payload),
            "time_ms": time_ms,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_requests_become_commands() {
        let r = requests_of(r#"{"psubscribe": ["__keyevent@0__:*"]}"#).expect("valid");
        assert_eq!(
            r,
            vec![command("psubscribe", vec![Bytes::from("__keyevent@0__:*")])]
        );
        assert!(requests_of("[1]").is_err());
        assert!(requests_of("{").is_err());
        assert!(requests_of(r#"{"flushall": []}"#).is_err());
        assert!(requests_of(r#"{"subscribe": [1]}"#).is_err());
        assert!(requests_of(r#"{"subscribe": []}"#).is_err());
        // Unsubscribing from everything takes no names.
        assert!(requests_of(r#"{"unsubscribe": []}"#).is_ok());
    }
}
