//! The keys API: each route is the Redis command it means, run as the
//! connection's client (so it reaches the key's core, obeys ACL rules and
//! limits, and counts in the statistics like the same command over RESP):
//!
//! | route | command |
//! |---|---|
//! | `GET /v1/keys?match=&cursor=&count=` | `SCAN cursor MATCH m COUNT c` |
//! | `GET /v1/keys/{key}` | `GET key` |
//! | `PUT /v1/keys/{key}?ttl=&nx&xx` | `SET key body [EX ttl] [NX\|XX]` |
//! | `DELETE /v1/keys/{key}` | `DEL key` |
//! | `POST /v1/keys/{key}/incr?by=N` | `INCRBY key N` |
//! | `GET /v1/keys/{key}/ttl` | `PTTL key` |
//!
//! Keys are percent-encoded path segments and values raw bodies, so both are
//! binary-safe. A body is read only after the password was proven, and never
//! past `proto-max-bulk-len` (413).

use super::query::Query;
use super::reply::{self, bytes_value, Reply};
use super::State;
use crate::command::frame::Frame;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::json;

/// Keys a page of `GET /v1/keys` asks SCAN for when `count` is not given,
/// and the most it may ask.
const DEFAULT_COUNT: u64 = 100;
const MAX_COUNT: u64 = 10_000;

pub async fn route(
    state: &State,
    method: &Method,
    rest: &str,
    query: &Query,
    head: &Parts,
    body: Incoming,
) -> Reply {
    let not_allowed =
        |allow: &'static str| reply::not_allowed(&format!("{method} is not allowed here"), allow);
    if rest.is_empty() || rest == "/" {
        return match *method {
            Method::GET => scan(state, query).await,
            _ => not_allowed("GET"),
        };
    }
    let Some(path) = rest.strip_prefix('/') else {
        return reply::error(StatusCode::NOT_FOUND, &format!("no route /v1/keys{rest}"));
    };
    let (encoded, action) = match path.split_once('/') {
        Some((k, a)) => (k, Some(a)),
        None => (path, None),
    };
    let key = Bytes::from(percent_decode_str(encoded).collect::<Vec<u8>>());
    if key.is_empty() {
        return reply::error(StatusCode::BAD_REQUEST, "the key is empty");
    }
    match (action, method) {
        (None, &Method::GET) => get(state, key).await,
        (None, &Method::PUT) => put(state, key, query, head, body).await,
        (None, &Method::DELETE) => delete(state, key).await,
        (None, _) => not_allowed("GET, PUT, DELETE"),
        (Some("ttl"), &Method::GET) => ttl(state, key).await,
        (Some("ttl"), _) => not_allowed("GET"),
        (Some("incr"), &Method::POST) => incr(state, key, query).await,
        (Some("incr"), _) => not_allowed("POST"),
        (Some(other), _) => reply::error(
            StatusCode::NOT_FOUND,
            &format!("no route /v1/keys/{{key}}/{other}"),
        ),
    }
}

fn cmd(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}

async fn get(state: &State, key: Bytes) -> Reply {
    match state.run_one(vec![Bytes::from_static(b"get"), key]).await {
        Frame::Bulk(v) => reply::with(StatusCode::OK, "application/octet-stream", v),
        Frame::Null => reply::error(StatusCode::NOT_FOUND, "not found"),
        other => reply::unexpected(&other),
    }
}

async fn put(state: &State, key: Bytes, query: &Query, head: &Parts, body: Incoming) -> Reply {
    let mut args = vec![Bytes::from_static(b"set"), key];
    let mut options = Vec::new();
    match query.text("ttl") {
        Err(r) => return r,
        Ok(None) => {}
        Ok(Some(t)) => match t.parse::<u64>() {
            Ok(secs) if secs > 0 => {
                options.push(Bytes::from_static(b"ex"));
                options.push(Bytes::from(secs.to_string()));
            }
            _ => {
                return reply::error(
                    StatusCode::BAD_REQUEST,
                    "ttl must be a positive integer (seconds)",
                )
            }
        },
    }
    let (nx, xx) = (query.has("nx"), query.has("xx"));
    if nx && xx {
        return reply::error(StatusCode::BAD_REQUEST, "nx and xx exclude each other");
    }
    if nx {
        options.push(Bytes::from_static(b"nx"));
    }
    if xx {
        options.push(Bytes::from_static(b"xx"));
    }
    let value = match read_body(state, head, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    args.push(value);
    args.extend(options);
    match state.run_one(args).await {
        Frame::Ok => reply::json(StatusCode::OK, &json!({ "ok": true })),
        Frame::Null if nx => reply::error(StatusCode::CONFLICT, "the key exists (nx)"),
        Frame::Null => reply::error(StatusCode::CONFLICT, "the key does not exist (xx)"),
        other => reply::unexpected(&other),
    }
}

/// The request's body, refused with 413 past `proto-max-bulk-len` (what a
/// RESP bulk string may hold) before more than that is read.
async fn read_body(state: &State, head: &Parts, body: Incoming) -> Result<Bytes, Reply> {
    let limit = state.world.config.borrow().proto_max_bulk_len;
    let too_large = || {
        reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the value exceeds proto-max-bulk-len ({limit} bytes)"),
        )
    };
    let declared = body.size_hint().exact().or_else(|| {
        head.headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
    });
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(reply::error(
            StatusCode::BAD_REQUEST,
            &format!("reading the body: {e}"),
        )),
    }
}

async fn delete(state: &State, key: Bytes) -> Reply {
    match state.run_one(vec![Bytes::from_static(b"del"), key]).await {
        Frame::Int(0) => reply::error(StatusCode::NOT_FOUND, "not found"),
        Frame::Int(n) => reply::json(StatusCode::OK, &json!({ "deleted": n })),
        other => reply::unexpected(&other),
    }
}

async fn ttl(state: &State, key: Bytes) -> Reply {
    match state.run_one(vec![Bytes::from_static(b"pttl"), key]).await {
        Frame::Int(-2) => reply::error(StatusCode::NOT_FOUND, "not found"),
        Frame::Int(-1) => reply::json(StatusCode::OK, &json!({ "ttl": -1, "pttl": -1 })),
        // TTL's rounding: to the nearest second.
        Frame::Int(ms) => reply::json(
            StatusCode::OK,
            &json!({ "ttl": (ms + 500) / 1000, "pttl": ms }),
        ),
        other => reply::unexpected(&other),
    }
}

async fn incr(state: &State, key: Bytes, query: &Query) -> Reply {
    let by = match query.text("by") {
        Err(r) => return r,
        Ok(None) => 1,
        Ok(Some(t)) => match t.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return reply::error(StatusCode::BAD_REQUEST, "by must be an integer (i64)"),
        },
    };
    let args = vec![
        Bytes::from_static(b"incrby"),
        key,
        Bytes::from(by.to_string()),
    ];
    match state.run_one(args).await {
        Frame::Int(n) => reply::json(StatusCode::OK, &json!({ "value": n })),
        other => reply::unexpected(&other),
    }
}

async fn scan(state: &State, query: &Query) -> Reply {
    let cursor = match query.text("cursor") {
        Err(r) => return r,
        Ok(c) => c.unwrap_or("0").to_owned(),
    };
    if cursor.parse::<u64>().is_err() {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "cursor must be a non-negative integer",
        );
    }
    let count = match query.text("count") {
        Err(r) => return r,
        Ok(None) => DEFAULT_COUNT,
        Ok(Some(t)) => match t.parse::<u64>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("count must be an integer from 1 to {MAX_COUNT}"),
                )
            }
        },
    };
    let mut args = cmd(&[b"scan", cursor.as_bytes()]);
    if let Some(m) = query.get("match") {
        args.extend(cmd(&[b"match", m]));
    }
    args.extend(cmd(&[b"count", count.to_string().as_bytes()]));
    match state.run_one(args).await {
        Frame::Array(mut parts) if parts.len() == 2 => {
            let keys = match parts.pop() {
                Some(Frame::Array(keys)) => keys,
                _ => Vec::new(),
            };
            let next = match parts.pop() {
                Some(Frame::Bulk(c)) => String::from_utf8_lossy(&c).into_owned(),
                _ => "0".into(),
            };
            let keys: Vec<serde_json::Value> = keys
                .iter()
                .filter_map(|k| match k {
                    Frame::Bulk(b) => Some(bytes_value(b)),
                    _ => None,
                })
                .collect();
            reply::json(StatusCode::OK, &json!({ "cursor": next, "keys": keys }))
        }
        other => reply::unexpected(&other),
    }
}
