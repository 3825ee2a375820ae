//! Demo mode (`--demo`): read-only views and test-support endpoints for the demo page and the
//! browser tests of the wasm crate. Off by default; when off, these paths are plain 404s and none
//! of this module's state exists, so production pays nothing for it. It refuses to listen on an
//! address other than loopback unless told so with a flag that says what it does.
//!
//! - `GET /api/v1/demo/sessions`: how many sessions the store holds and the newest 100 (their
//!   client info always `null`).
//! - `GET /api/v1/demo/requests[?session_id=ID]`: the last 1,000 requests under `/api/` as the
//!   server received them (raw path, Content-Type, status), newest first; paths are kept up to
//!   256 bytes and Content-Types up to 128, so the answer stays under a megabyte. A browser test
//!   asserts from it the path a keeper used (seed 001's wrong path), the Content-Type it sent
//!   (seed 004's 415), and that nothing arrived after a point (a freed keeper sends nothing):
//!   each entry has an increasing `seq` for that. The demo's own views are not recorded;
//!   rejected requests, CORS preflights and the fixtures below are.
//! - `POST /api/v1/demo/outage {"ms": N}`: 202, then the server really goes away for N
//!   milliseconds (1 to 60,000): the listening socket is closed, connections and live sockets
//!   are closed, and it comes back on the same address with the same sessions.
//! - `POST /api/v1/demo/redirect-to-login`: 302 to `/login.html`, as a session middleware answers
//!   an expired session (a `fetch` follows it and ends on an HTML page).
//! - `POST /api/v1/demo/html-200`: 200 with an HTML page, as a captive portal or a proxy answers.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{SessionView, parse_session_id};
use crate::clock::{Clock, Rfc3339};
use crate::content_type::is_api_path;
use crate::error::ApiError;
use crate::json_body::{BodyLimit, JsonObject};
use crate::live::LiveHub;
use crate::serve::{Limits, serve};
use crate::state::AppState;
use crate::store::{Session, SessionStore};

/// How many requests the log keeps.
pub const REQUEST_LOG_CAPACITY: usize = 1000;

/// How much of a path the log keeps, in bytes.
pub const LOGGED_PATH_BYTES: usize = 256;

/// How much of a Content-Type the log keeps, in bytes.
pub const LOGGED_CONTENT_TYPE_BYTES: usize = 128;

/// How many sessions `GET /api/v1/demo/sessions` lists.
pub const LISTED_SESSIONS: usize = 100;

/// The longest outage the demo endpoint accepts, in milliseconds.
pub const MAX_OUTAGE_MS: u64 = 60_000;

/// How long the loop keeps trying to bind its address again after an outage.
pub const REBIND_FOR: Duration = Duration::from_secs(10);

const UNRECORDED: [&str; 3] =
    ["/api/v1/demo/sessions", "/api/v1/demo/requests", "/api/v1/demo/outage"];
const SESSION_PREFIX: &str = "/api/v1/session/";

/// The page a redirected request ends on.
pub const LOGIN_PAGE: &str = "/login.html";

const PORTAL_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Network login</title></head><body><h1>Network login</h1>\
<p>Accept the terms of use to continue.</p></body></html>\n";

/// Refuses demo mode on an address other than loopback, unless `public_on_purpose`: the demo
/// lets anyone list and delete sessions and take the server down.
pub fn check_address(addr: SocketAddr, public_on_purpose: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || public_on_purpose {
        return Ok(());
    }
    Err(format!(
        "--demo on {addr}, which is not a loopback address: the demo endpoints let anyone list and \
         delete sessions and take the server down; add --demo-on-public-address if that is \
         really what you want"
    ))
}

/// The demo's own state: the request log and the outage switch. Exists only in demo mode.
#[derive(Clone)]
pub struct Demo {
    requests: Arc<RequestLog>,
    outages: OutageSwitch,
    live: Arc<LiveHub>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo").field("requests", &self.requests).finish_non_exhaustive()
    }
}

impl Demo {
    /// The demo state for an application with this state.
    pub fn new<S: SessionStore>(state: &AppState<S>) -> Self {
        Self {
            requests: Arc::new(RequestLog::new(Arc::clone(state.clock()))),
            outages: OutageSwitch::default(),
            live: Arc::clone(state.live()),
        }
    }

    /// The request log.
    pub fn request_log(&self) -> &Arc<RequestLog> {
        &self.requests
    }

    /// The demo routes, with their state, ready to merge into the application.
    pub fn routes<S: SessionStore>(&self, state: AppState<S>) -> Router {
        Router::new()
            .route("/api/v1/demo/sessions", get(sessions::<S>))
            .route("/api/v1/demo/requests", get(requests::<S>))
            .route("/api/v1/demo/outage", post(outage::<S>))
            .route("/api/v1/demo/redirect-to-login", post(redirect_to_login))
            .route("/api/v1/demo/html-200", post(html_200))
            .with_state(DemoState { app: state, demo: self.clone() })
    }

    /// Serves `app` on `listener` as [`serve`] does, until `shutdown` is cancelled, going away
    /// and coming back on the same address whenever the outage endpoint asks.
    pub async fn serve(
        &self,
        listener: TcpListener,
        app: Router,
        limits: Limits,
        shutdown: CancellationToken,
    ) -> io::Result<()> {
        let addr = listener.local_addr()?;
        let mut listener = listener;
        loop {
            let (stop_tx, stop_rx) = oneshot::channel();
            let signal = {
                let shutdown = shutdown.clone();
                let outages = self.outages.clone();
                async move {
                    let stop = tokio::select! {
                        () = shutdown.cancelled() => None,
                        until = outages.requested() => Some(until),
                    };
                    let _ = stop_tx.send(stop);
                }
            };
            serve(listener, app.clone(), limits, signal).await?;
            let Ok(Some(until)) = stop_rx.await else {
                return Ok(());
            };
            self.live.disconnect_all();
            tracing::info!(
                down_for_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64,
                "outage: not listening"
            );
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(until) => {}
            }
            listener = match rebind(addr, &shutdown).await? {
                Some(listener) => listener,
                None => return Ok(()),
            };
            tracing::info!("outage over: listening on http://{addr}");
        }
    }
}

struct DemoState<S> {
    app: AppState<S>,
    demo: Demo,
}

impl<S> Clone for DemoState<S> {
    fn clone(&self) -> Self {
        Self { app: self.app.clone(), demo: self.demo.clone() }
    }
}

impl<S> FromRef<DemoState<S>> for BodyLimit {
    fn from_ref(state: &DemoState<S>) -> Self {
        BodyLimit::from_ref(&state.app)
    }
}

/// Asks the serve loop to go away for a while and come back.
#[derive(Debug, Clone, Default)]
pub struct OutageSwitch(Arc<OutageInner>);

#[derive(Debug, Default)]
struct OutageInner {
    /// When the server should be back, if an outage was asked for and not yet started.
    until: Mutex<Option<Instant>>,
    notify: Notify,
}

impl OutageSwitch {
    /// Asks for an outage of `down_for`, counted from now. If one is already pending, the later
    /// end wins.
    pub fn trigger(&self, down_for: Duration) {
        let until = Instant::now() + down_for;
        {
            let mut pending = self.0.until.lock().unwrap_or_else(PoisonError::into_inner);
            *pending = Some(pending.map_or(until, |earlier| earlier.max(until)));
        }
        self.0.notify.notify_one();
    }

    /// Waits for an outage to be asked for and returns when it should end.
    async fn requested(&self) -> Instant {
        loop {
            self.0.notify.notified().await;
            let pending = self.0.until.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(until) = pending {
                return until;
            }
        }
    }
}

/// Binds `addr` again, retrying while the port is still held; `None` if shut down meanwhile.
async fn rebind(addr: SocketAddr, shutdown: &CancellationToken) -> io::Result<Option<TcpListener>> {
    let give_up = Instant::now() + REBIND_FOR;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(Some(listener)),
            Err(error) if Instant::now() >= give_up => return Err(error),
            Err(error) => tracing::debug!(%error, "rebinding {addr}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
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
    /// The path exactly as received (still percent-encoded), without the query, cut at
    /// [`LOGGED_PATH_BYTES`].
    pub path: String,
    /// The Content-Type header, if any (lossy for non-UTF-8 bytes), cut at
    /// [`LOGGED_CONTENT_TYPE_BYTES`].
    pub content_type: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The session the request was about: the id segment of a session path, or the id a create
    /// made (from its `Location`).
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

/// `text` cut to at most `limit` bytes, on a character boundary.
fn truncated(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Middleware (demo mode only): records every request under `/api/` except the demo's views.
pub async fn record_requests(
    State(log): State<Arc<RequestLog>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !is_api_path(path) || UNRECORDED.contains(&path) {
        return next.run(request).await;
    }
    let seq = log.next_seq.fetch_add(1, Ordering::Relaxed);
    let at = Rfc3339(log.clock.now_ms());
    let method = request.method().clone();
    let path = truncated(path, LOGGED_PATH_BYTES);
    let content_type = request.headers().get(header::CONTENT_TYPE).map(|value| {
        truncated(&String::from_utf8_lossy(value.as_bytes()), LOGGED_CONTENT_TYPE_BYTES)
    });
    let response = next.run(request).await;
    let created = response
        .headers()
        .get(header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .and_then(|location| location.strip_prefix(SESSION_PREFIX))
        .and_then(parse_session_id)
        .map(|id| id.to_string());
    let session_id = path
        .strip_prefix(SESSION_PREFIX)
        .and_then(|rest| rest.split('/').next())
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .or(created);
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
    /// The newest of them, at most 100, without their client info (what a client sent is its
    /// own): `client_info` is always `null` here.
    pub sessions: Vec<SessionView>,
}

async fn sessions<S: SessionStore>(
    State(state): State<DemoState<S>>,
) -> Result<Json<SessionsView>, ApiError> {
    let now = state.app.now();
    let listing = state.app.store().list(LISTED_SESSIONS, now).await?;
    let sessions = listing
        .newest
        .into_iter()
        .map(|session| SessionView::new(Session { client_info: None, ..session }, now))
        .collect();
    Ok(Json(SessionsView { count: listing.alive, sessions }))
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
    State(state): State<DemoState<S>>,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Json<RequestsView>, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let requests = state.demo.requests.newest_first(query.session_id.as_deref());
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
    State(state): State<DemoState<S>>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let ms = serde_json::from_str::<OutageRequest>(body.as_str())
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
    state.demo.outages.trigger(Duration::from_millis(ms));
    let view = OutageView { down_for_ms: ms, back_at: Rfc3339(state.app.now().saturating_add(ms)) };
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

async fn redirect_to_login() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, HeaderValue::from_static(LOGIN_PAGE))]).into_response()
}

async fn html_200() -> Html<&'static str> {
    Html(PORTAL_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("abc", 10), "abc");
        assert_eq!(truncated("abcdef", 3), "abc");
        assert_eq!(truncated("aé", 2), "a", "é is two bytes");
    }

    #[test]
    fn demo_mode_stays_on_loopback_unless_asked() {
        assert!(check_address("127.0.0.1:8080".parse().unwrap(), false).is_ok());
        assert!(check_address("[::1]:8080".parse().unwrap(), false).is_ok());
        let refused = check_address("0.0.0.0:8080".parse().unwrap(), false).unwrap_err();
        assert!(refused.contains("--demo-on-public-address"), "{refused}");
        assert!(check_address("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }
}
