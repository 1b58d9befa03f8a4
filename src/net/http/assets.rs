//! The dashboard's files, compiled into the binary (`assets/`): nothing is
//! fetched from anywhere at run time. They hold no data (the page asks the
//! password-protected routes for it), so they are served without one: the
//! page must load to ask for the password.

use super::reply::{self, Reply};
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Method, StatusCode};

const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
];

/// The file at `path`, if it is one of the dashboard's (GET only).
pub fn serve(method: &Method, path: &str) -> Option<Reply> {
    let (_, kind, body) = FILES.iter().find(|(p, _, _)| *p == path)?;
    if method != Method::GET {
        return Some(reply::not_allowed(
            "the dashboard's files are read with GET",
            "GET",
        ));
    }
    let mut r = reply::with(StatusCode::OK, kind, *body);
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(r)
}
