//! Which route a request takes, and what every route shares: the refusal of a
//! connection the door did not admit, the password (every route but
//! `/healthz`, `/readyz` and the dashboard's own files, which hold no data),
//! the query string, and `Connection: close` once the server stops.

use super::query::Query;
use super::reply::{self, Reply};
use super::{assets, auth, keys, metrics, stats, ws, State};
use crate::core::clients::Door;
use crate::core::mesh::{CoreTask, TaskResult};
use crate::net::door::Refusal;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{Method, Request, StatusCode};
use std::time::Duration;

/// How long `/readyz` waits for every core to answer.
const READY_WAIT: Duration = Duration::from_secs(1);

pub async fn route(state: &State, req: Request<Incoming>) -> Reply {
    let mut r = answer(state, req).await;
    if state.world.shutting_down.get() || state.refused.is_some() {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn answer(state: &State, req: Request<Incoming>) -> Reply {
    if let Some(why) = state.refused {
        let status = match why {
            Refusal::Protected => StatusCode::FORBIDDEN,
            Refusal::Full => StatusCode::SERVICE_UNAVAILABLE,
        };
        return reply::error(status, why.message(Door::Http));
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let allow = |methods: &'static str| {
        reply::not_allowed(&format!("{method} is not allowed on {path}"), methods)
    };
    // Routes that need no password.
    match path.as_str() {
        "/healthz" if method == Method::GET => {
            return reply::json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
        }
        "/readyz" if method == Method::GET => return readyz(state).await,
        "/healthz" | "/readyz" => return allow("GET"),
        _ => {}
    }
    if let Some(r) = assets::serve(&method, &path) {
        return r;
    }
    let query = Query::parse(req.uri().query());
    let (head, body) = req.into_parts();
    let websocket = matches!(path.as_str(), "/v1/events" | "/v1/stats");
    // A browser cannot give a WebSocket headers: its token comes in the query.
    let query_token = websocket
        .then(|| query.get("token").map(<[u8]>::to_vec))
        .flatten();
    let token = match auth::token_of(&head, query_token) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = auth::check(state, token).await {
        // The one thing a dashboard may learn before the password: that it
        // needs one (a 401 would be a console error in every browser).
        if path == "/v1/info" && method == Method::GET {
            let v = serde_json::json!({ "auth_required": true, "authenticated": false });
            return reply::json(StatusCode::OK, &v);
        }
        return r;
    }
    match path.as_str() {
        "/metrics" if method == Method::GET => metrics::render(state).await,
        "/metrics" => allow("GET"),
        "/v1/info" if method == Method::GET => stats::info(state),
        "/v1/info" => allow("GET"),
        "/v1/events" | "/v1/stats" => ws::accept(state, &head, &path, query),
        _ => match path.strip_prefix("/v1/keys") {
            Some(rest) => keys::route(state, &method, rest, &query, &head, body).await,
            None => reply::error(StatusCode::NOT_FOUND, &format!("no route {path}")),
        },
    }
}

/// 200 once every core answers and the dataset is loaded; 503 before.
async fn readyz(state: &State) -> Reply {
    if crate::core::recover::loading() {
        return reply::error(StatusCode::SERVICE_UNAVAILABLE, "loading the dataset");
    }
    let asked = async { Some(state.world.broadcast_task(CoreTask::Ping).await) };
    let late = async {
        crate::runtime::timer::sleep(READY_WAIT).await;
        None
    };
    match futures_lite::future::or(asked, late).await {
        Some(rs) if rs.iter().all(|r| matches!(r, TaskResult::Done)) => reply::json(
            StatusCode::OK,
            &serde_json::json!({ "status": "ready", "cores": rs.len() }),
        ),
        Some(_) => reply::error(StatusCode::SERVICE_UNAVAILABLE, "a core failed to answer"),
        None => reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "a core did not answer within 1 s",
        ),
    }
}
