//! Demo mode (`--demo`): read-only views and test-support endpoints for the demo page and the
//! browser tests of the wasm crate. Off by default; when off, these paths are plain 404s and the
//! request log is not even installed, so it costs nothing.
//!
//! - `GET /api/v1/demo/sessions`: how many sessions the store holds and the newest 100.
//! - `GET /api/v1/demo/requests[?session_id=ID]`: the last 1,000 requests under `/api/` as the
//!   server received them (raw path, Content-Type, status), newest first. A browser test asserts
//!   from it the path a keeper used (seed 001's wrong path), the Content-Type it sent (seed 004's
//!   415), and that nothing arrived after a point (a freed keeper sends nothing): each entry has
//!   an increasing `seq` for that. The demo endpoints themselves are not recorded; rejected
//!   requests and CORS preflights are.
//! - `POST /api/v1/demo/outage {"ms": N}`: 202, then the server really goes away for N
//!   milliseconds (1 to 300,000): the listening socket is closed, connections are closed, and it
//!   comes back on the same address with the same sessions. See [`crate::serve`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::{SessionId, SessionView};
use crate::app::AppState;
use crate::clock::{Clock, Rfc3339};
use crate::content_type::is_api_path;
use crate::error::ApiError;
use crate::json_body::JsonObject;
use crate::store::SessionStore;

/// How many requests the log keeps.
pub const REQUEST_LOG_CAPACITY: usize = 1000;

/// How many sessions `GET /api/v1/demo/sessions` lists.
pub const LISTED_SESSIONS: usize = 100;

/// The longest outage the demo endpoint accepts, in milliseconds.
pub const MAX_OUTAGE_MS: u64 = 300_000;

const DEMO_PREFIX: &str = "/api/v1/demo/";
const SESSION_PREFIX: &str = "/api/v1/session/";

/// The demo routes (merged into the application only in demo mode).
pub fn routes<S: SessionStore>() -> Router<AppState<S>> {
    Router::new()
        .route("/api/v1/demo/sessions", get(sessions::<S>))
        .route("/api/v1/demo/requests", get(requests::<S>))
        .route("/api/v1/demo/outage", post(outage::<S>))
}

/// One request as the server received it.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Increases by one with every recorded request.
    pub seq: u64,
    /// When it arrived.
    pub at: Rfc3339,
    /// The method.
    #[serde(serialize_with = "serialize_method")]
    pub method: Method,
    /// The path exactly as received (still percent-encoded), without the query.
    pub path: String,
    /// The Content-Type header, if any (lossy for non-UTF-8 bytes).
    pub content_type: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The session the request was about: the id segment of a session path, or the id a create
    /// made.
    pub session_id: Option<String>,
}

fn serialize_method<S: serde::Serializer>(
    method: &Method,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(method.as_str())
}

/// A ring buffer of the last [`REQUEST_LOG_CAPACITY`] API requests.
pub struct RequestLog {
    clock: Arc<dyn Clock>,
    next_seq: AtomicU64,
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog").field("next_seq", &self.next_seq).finish_non_exhaustive()
    }
}

impl RequestLog {
    /// An empty log whose entries are timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            next_seq: AtomicU64::new(1),
            entries: Mutex::new(VecDeque::with_capacity(REQUEST_LOG_CAPACITY)),
        }
    }

    fn push(&self, entry: LoggedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == REQUEST_LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The recorded requests, newest first, optionally only those about one session.
    pub fn newest_first(&self, session_id: Option<&str>) -> Vec<LoggedRequest> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .rev()
            .filter(|entry| session_id.is_none_or(|id| entry.session_id.as_deref() == Some(id)))
            .cloned()
            .collect()
    }
}

/// Middleware (demo mode only): records every request under `/api/` except the demo endpoints.
pub async fn record_requests(
    State(log): State<Arc<RequestLog>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !is_api_path(path) || path.starts_with(DEMO_PREFIX) {
        return next.run(request).await;
    }
    let seq = log.next_seq.fetch_add(1, Ordering::Relaxed);
    let at = Rfc3339(log.clock.now_ms());
    let method = request.method().clone();
    let path = path.to_owned();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let response = next.run(request).await;
    let session_id = path
        .strip_prefix(SESSION_PREFIX)
        .and_then(|rest| rest.split('/').next())
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .or_else(|| response.extensions().get::<SessionId>().map(|SessionId(id)| id.to_string()));
    log.push(LoggedRequest {
        seq,
        at,
        method,
        path,
        content_type,
        status: response.status().as_u16(),
        session_id,
    });
    response
}

/// The answer of `GET /api/v1/demo/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionsView {
    /// How many sessions are alive.
    pub count: usize,
    /// The newest of them, at most 100.
    pub sessions: Vec<SessionView>,
}

async fn sessions<S: SessionStore>(
    State(state): State<AppState<S>>,
) -> Result<Json<SessionsView>, ApiError> {
    let now = state.now();
    let listing = state.store().list(LISTED_SESSIONS, now).await?;
    Ok(Json(SessionsView {
        count: listing.alive,
        sessions: listing
            .newest
            .into_iter()
            .map(|session| SessionView::new(session, now))
            .collect(),
    }))
}

/// The query of `GET /api/v1/demo/requests`.
#[derive(Debug, Deserialize)]
pub struct RequestsQuery {
    /// Only the requests about this session.
    pub session_id: Option<String>,
}

/// The answer of `GET /api/v1/demo/requests`.
#[derive(Debug, Serialize)]
pub struct RequestsView {
    /// Newest first.
    pub requests: Vec<LoggedRequest>,
}

async fn requests<S: SessionStore>(
    State(state): State<AppState<S>>,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Json<RequestsView>, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let requests = state
        .request_log()
        .map(|log| log.newest_first(query.session_id.as_deref()))
        .unwrap_or_default();
    Ok(Json(RequestsView { requests }))
}

#[derive(Debug, Deserialize)]
struct OutageRequest {
    ms: u64,
}

/// The answer of `POST /api/v1/demo/outage`.
#[derive(Debug, Serialize)]
pub struct OutageView {
    /// How long the server will be away.
    pub down_for_ms: u64,
    /// When it will listen again.
    pub back_at: Rfc3339,
}

async fn outage<S: SessionStore>(
    State(state): State<AppState<S>>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let ms = serde_json::from_str::<OutageRequest>(body.get())
        .ok()
        .map(|request| request.ms)
        .filter(|ms| (1..=MAX_OUTAGE_MS).contains(ms))
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "the body must be {{\"ms\": N}} with N from 1 to {MAX_OUTAGE_MS}"
            ))
        })?;
    // The switch only takes effect once this answer is on its way: serving stops gracefully,
    // which finishes the requests in flight, this one included.
    state.outages().trigger(Duration::from_millis(ms));
    let view = OutageView { down_for_ms: ms, back_at: Rfc3339(state.now().saturating_add(ms)) };
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}
