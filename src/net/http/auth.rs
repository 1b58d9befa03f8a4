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
    let bad = || {
        reply::error(
            StatusCode::UNAUTHORIZED,
            "malformed Authorization header: use 'Bearer <password>' or 'Basic <base64 of user:password>'",
        )
    };
    let v = value.as_bytes();
    let (scheme, rest) = match v.iter().position(|&b| b == b' ') {
        Some(i) => (&v[..i], v[i + 1..].trim_ascii()),
        None => return Err(bad()),
    };
    if scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(Some(Token::Password(Bytes::copy_from_slice(rest))));
    }
    if scheme.eq_ignore_ascii_case(b"basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| bad())?;
        let colon = decoded.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let user = Bytes::copy_from_slice(&decoded[..colon]);
        let pass = Bytes::copy_from_slice(&decoded[colon + 1..]);
        return Ok(Some(Token::User(user, pass)));
    }
    Err(bad())
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
