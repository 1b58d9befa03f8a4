//! How the HTTP door answers: JSON bodies, `{"error": "..."}` with the status
//! a command's error reply means, raw values, and keys or payloads that may
//! not be UTF-8 (as `{"base64": "..."}`). It never runs a command.

use crate::command::frame::Frame;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::Value;

pub type Body = Full<Bytes>;
pub type Reply = Response<Body>;

/// A response with `body` of `content_type`.
pub fn with(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn json(status: StatusCode, v: &Value) -> Reply {
    with(status, "application/json", v.to_string())
}

pub fn error(status: StatusCode, msg: &str) -> Reply {
    json(status, &serde_json::json!({ "error": msg }))
}

/// `405` with `msg`, and the methods the route takes in `Allow`.
pub fn not_allowed(msg: &str, allow: &'static str) -> Reply {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED, msg);
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// The status a command's error reply means for an HTTP client.
pub fn status_of(msg: &str) -> StatusCode {
    let code = msg.split(' ').next().unwrap_or("");
    match code {
        "NOAUTH" | "WRONGPASS" => StatusCode::UNAUTHORIZED,
        "NOPERM" => StatusCode::FORBIDDEN,
        "LOADING" | "BUSY" | "MISCONF" | "MASTERDOWN" => StatusCode::SERVICE_UNAVAILABLE,
        "OOM" => StatusCode::INSUFFICIENT_STORAGE,
        // The request was fine; what the key holds is not what it needs.
        "WRONGTYPE" => StatusCode::CONFLICT,
        _ if msg.contains("is not an integer")
            || msg.contains("would overflow")
            || msg.contains("not a valid float") =>
        {
            StatusCode::CONFLICT
        }
        _ if msg.contains("exceeds maximum allowed size") => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A command's error reply as an HTTP error; any other reply it did not
/// expect as a 500 (a bug, said so).
pub fn unexpected(f: &Frame) -> Reply {
    match f {
        Frame::Error(e) => error(status_of(e), e),
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("unexpected reply {other:?}"),
        ),
    }
}

/// Bytes as a JSON string when they are UTF-8, else `{"base64": "..."}`,
/// so that no key or payload is mangled on its way to a browser.
pub fn bytes_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => serde_json::json!({
            "base64": base64::engine::general_purpose::STANDARD.encode(b)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_map_to_statuses() {
        assert_eq!(
            status_of("NOAUTH Authentication required."),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of("OOM command not allowed when used memory > 'maxmemory'."),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(
            status_of("LOADING Redis is loading the dataset in memory"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of("ERR value is not an integer or out of range"),
            StatusCode::CONFLICT
        );
        assert_eq!(status_of("ERR syntax error"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("NOPERM no"), StatusCode::FORBIDDEN);
    }

    #[test]
    fn bytes_that_are_not_utf8_come_as_base64() {
        assert_eq!(bytes_value(b"abc"), Value::String("abc".into()));
        assert_eq!(
            bytes_value(&[0xff, 0x00]),
            serde_json::json!({ "base64": "/wA=" })
        );
    }
}
