//! Who an HTTP request is: `Authorization: Bearer <password>` (the default
//! user, as `AUTH <password>`), `Authorization: Basic` with `user:password`
//! (an ACL user, as `AUTH <user> <password>`), or for a WebSocket, which a
//! browser cannot give headers, `?token=<password>`. Every request carries its
//! own; the proof runs as the AUTH command on the connection's client, so a
//! wrong password is refused, counted and logged (ACL LOG) exactly as on the
//! RESP door. A connection that repeats the credentials it proved, with the
//! users unchanged since, is not checked again. Nothing here compares a
//! password itself.

use super::reply::{self, Reply};
use super::State;
use crate::command::acl::users;
use crate::command::frame::Frame;
use base64::Engine;
use bytes::Bytes;
use hyper::header::AUTHORIZATION;
use hyper::http::request::Parts;
use hyper::StatusCode;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Password(Bytes),
    User(Bytes, Bytes),
}

/// The credentials a request carries, if any; `query_token` is the
/// `?token=` of a WebSocket request.
pub fn token_of(head: &Parts, query_token: Option<Vec<u8>>) -> Result<Option<Token>, Reply> {
    let Some(value) = head.headers.get(AUTHORIZATION) else {
        return Ok(query_token.map(|t| Token::Password(Bytes::from(t))));
    };
    parse_authorization(value.as_bytes()).map(Some).ok_or_else(|| {
        reply::error(
            StatusCode::UNAUTHORIZED,
            "malformed Authorization header: use 'Bearer <password>' or 'Basic <base64 of user:password>'",
        )
    })
}

/// An `Authorization` header's value: `Bearer <password>` or `Basic
/// <base64 of user:password>` (schemes in any case); None when it is neither.
pub fn parse_authorization(v: &[u8]) -> Option<Token> {
    let i = v.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = (&v[..i], v[i + 1..].trim_ascii());
    if scheme.eq_ignore_ascii_case(b"bearer") {
        return Some(Token::Password(Bytes::copy_from_slice(rest)));
    }
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest)
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = Bytes::copy_from_slice(&decoded[..colon]);
    let pass = Bytes::copy_from_slice(&decoded[colon + 1..]);
    Some(Token::User(user, pass))
}

/// Let the request through, or the 401 that refuses it.
pub async fn check(state: &State, token: Option<Token>) -> Result<(), Reply> {
    let Some(token) = token else {
        if users::autologin() {
            return Ok(());
        }
        return Err(reply::error(
            StatusCode::UNAUTHORIZED,
            "authentication required: send 'Authorization: Bearer <password>'",
        ));
    };
    if matches!(token, Token::Password(_)) && users::autologin() {
        // No password is set: a bearer token has nothing to prove (Redis's
        // AUTH would refuse it for that, which would only lock out a
        // scraper configured ahead of the password).
        return Ok(());
    }
    let generation = users::generation();
    if state
        .proven
        .borrow()
        .as_ref()
        .is_some_and(|(t, g)| *t == token && *g == generation)
    {
        return Ok(());
    }
    let args = match &token {
        Token::Password(p) => vec![Bytes::from_static(b"auth"), p.clone()],
        Token::User(u, p) => vec![Bytes::from_static(b"auth"), u.clone(), p.clone()],
    };
    match state.run_one(args).await {
        Frame::Ok => {
            *state.proven.borrow_mut() = Some((token, generation));
            Ok(())
        }
        Frame::Error(e) => {
            *state.proven.borrow_mut() = None;
            Err(reply::error(StatusCode::UNAUTHORIZED, &e))
        }
        other => Err(reply::unexpected(&other)),
    }
}
