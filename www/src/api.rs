//! The session API: request handlers and the JSON shapes they answer with.
//!
//! Each handler is a few lines: read the clock once, ask the store, shape the answer. Everything
//! that can fail on the way is an [`ApiError`], so the handlers never build an error response
//! themselves. Times are RFC 3339 UTC with milliseconds; `ttl_seconds` is the remaining lifetime
//! in seconds with millisecond precision, computed by the server so a client need not trust its
//! own clock.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::clock::Rfc3339;
use crate::error::ApiError;
use crate::json_body::JsonObject;
use crate::live::{self, MAX_CLIENT_MESSAGE, MAX_WRITE_BUFFER, Refusal};
use crate::metrics::{CreateRefusal, HeartbeatOutcome, StoreOp};
use crate::state::AppState;
use crate::store::{ClientInfo, EventSink, Session, SessionEvent, SessionStore};

/// The state every served session is in (an expired or deleted one is not served at all).
pub const ACTIVE: &str = "active";

/// A session as `POST /api/v1/session` and `GET /api/v1/session/{id}` answer it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// The server-made id.
    pub session_id: Uuid,
    /// Always `"active"`.
    pub state: &'static str,
    /// When it was created.
    pub created_at: Rfc3339,
    /// When it expires unless a heartbeat extends it.
    pub expires_at: Rfc3339,
    /// Seconds left, with millisecond precision.
    pub ttl_seconds: f64,
    /// When the last accepted heartbeat arrived (`null` if none has).
    pub last_heartbeat_at: Option<Rfc3339>,
    /// How many heartbeats were accepted.
    pub heartbeats: u64,
    /// The body of the last accepted heartbeat, size-limited (`null` if none).
    pub client_info: Option<Box<RawValue>>,
}

impl SessionView {
    /// The view of `session` as seen at `now`.
    pub fn new(session: Session, now: u64) -> Self {
        Self {
            session_id: session.id,
            state: ACTIVE,
            created_at: Rfc3339(session.created_at),
            expires_at: Rfc3339(session.expires_at),
            ttl_seconds: ttl_seconds(session.expires_at, now),
            last_heartbeat_at: session.last_heartbeat_at.map(Rfc3339),
            heartbeats: session.heartbeats,
            client_info: session.client_info.map(ClientInfo::into_raw),
        }
    }
}

/// The answer to an accepted heartbeat.
#[derive(Debug, Serialize)]
pub struct HeartbeatView {
    /// The session's id.
    pub session_id: Uuid,
    /// Always `"active"`.
    pub state: &'static str,
    /// The new expiry: the server's now plus the TTL.
    pub expires_at: Rfc3339,
    /// Seconds left, with millisecond precision.
    pub ttl_seconds: f64,
    /// The server's now.
    pub server_time: Rfc3339,
}

impl HeartbeatView {
    /// The answer's JSON text, byte for byte what `serde_json` writes for the derived
    /// `Serialize` (a test holds the two together), but with the id and the times copied in
    /// rather than escaped character by character: serializing was a twentieth of a heartbeat.
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut json = Vec::with_capacity(JSON_CAPACITY);
        json.extend_from_slice(br#"{"session_id":""#);
        let mut id = Uuid::encode_buffer();
        json.extend_from_slice(self.session_id.hyphenated().encode_lower(&mut id).as_bytes());
        json.extend_from_slice(br#"","state":"#);
        serde_json::to_writer(&mut json, self.state)?;
        json.extend_from_slice(br#","expires_at":""#);
        json.extend_from_slice(&self.expires_at.text());
        json.extend_from_slice(br#"","ttl_seconds":"#);
        serde_json::to_writer(&mut json, &self.ttl_seconds)?;
        json.extend_from_slice(br#","server_time":""#);
        json.extend_from_slice(&self.server_time.text());
        json.extend_from_slice(br#""}"#);
        Ok(json)
    }
}

impl IntoResponse for HeartbeatView {
    fn into_response(self) -> Response {
        match self.to_json() {
            Ok(json) => json_body(json),
            Err(_) => ApiError::Internal.into_response(),
        }
    }
}

/// The room a heartbeat's JSON answer starts with: it is about 170 bytes, where axum's `Json`
/// starts at 128 and so grew its buffer on every heartbeat.
const JSON_CAPACITY: usize = 256;

/// A 200 with `json` as its `application/json` body, as axum's `Json` answers it.
fn json_body(json: Vec<u8>) -> Response {
    let content_type = HeaderValue::from_static(mime::APPLICATION_JSON.as_ref());
    ([(header::CONTENT_TYPE, content_type)], json).into_response()
}

/// Seconds from `now` to `expires_at`, rounded to the millisecond (never negative).
pub fn ttl_seconds(expires_at: u64, now: u64) -> f64 {
    expires_at.saturating_sub(now) as f64 / 1000.0
}

/// Extractor: the `{id}` path segment as a session id. Anything that is not a UUID in its
/// hyphenated 36-character form, or not valid percent-encoded UTF-8, is simply
/// [`ApiError::SessionNotFound`]: a malformed id names no session, and says nothing more.
#[derive(Debug, Clone, Copy)]
pub struct SessionId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::SessionNotFound)?;
        parse_session_id(&raw).map(SessionId).ok_or(ApiError::SessionNotFound)
    }
}

/// Parses a session id in its hyphenated form (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn parse_session_id(raw: &str) -> Option<Uuid> {
    if raw.len() != 36 {
        return None;
    }
    Uuid::try_parse(raw).ok()
}

/// The path of a session's resource.
pub fn session_path(id: Uuid) -> String {
    format!("/api/v1/session/{id}")
}

/// Extractor: the client's IP address, from the connection (`None` when the request did not
/// come over a socket, as in in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let connected = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(connected.map(|ConnectInfo(address)| address.ip())))
    }
}

/// `POST /api/v1/session`: 201 and the new session, with its `Location`.
pub async fn create_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    ClientAddr(client): ClientAddr,
    _body: JsonObject,
) -> Result<Response, ApiError> {
    let now = state.now();
    if let Some(Err(retry_after)) = client.map(|address| state.creates().take(address, now)) {
        state.metrics().create_refused(CreateRefusal::RateLimited);
        return Err(ApiError::CreateRateLimited { retry_after });
    }
    let session =
        state.timed(StoreOp::Create, state.store().create(now)).await.inspect_err(|_| {
            state.metrics().create_refused(CreateRefusal::Unavailable);
        })?;
    state.metrics().created();
    let location = HeaderValue::try_from(session_path(session.id));
    let mut response = (StatusCode::CREATED, Json(SessionView::new(session, now))).into_response();
    if let Ok(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /api/v1/session/{id}/heartbeat`: extends the session to now + TTL and tells its live
/// sockets.
pub async fn heartbeat<S: SessionStore>(
    State(state): State<AppState<S>>,
    id: Result<SessionId, ApiError>,
    body: Result<JsonObject, ApiError>,
) -> Result<HeartbeatView, ApiError> {
    let answer = extend(&state, id, body).await;
    state.metrics().heartbeat(match &answer {
        Ok(_) => HeartbeatOutcome::Ok,
        Err(ApiError::SessionNotFound) => HeartbeatOutcome::NotFound,
        Err(ApiError::RateLimited { .. }) => HeartbeatOutcome::RateLimited,
        Err(ApiError::StoreUnavailable { .. }) => HeartbeatOutcome::Unavailable,
        Err(_) => HeartbeatOutcome::Rejected,
    });
    answer
}

async fn extend<S: SessionStore>(
    state: &AppState<S>,
    id: Result<SessionId, ApiError>,
    body: Result<JsonObject, ApiError>,
) -> Result<HeartbeatView, ApiError> {
    let SessionId(id) = id?;
    let body = body?;
    let now = state.now();
    let expires_at =
        state.timed(StoreOp::Heartbeat, state.store().heartbeat(id, now, body.as_str())).await?;
    state.live().deliver(SessionEvent::Extended { id, expires_at });
    Ok(HeartbeatView {
        session_id: id,
        state: ACTIVE,
        expires_at: Rfc3339(expires_at),
        ttl_seconds: ttl_seconds(expires_at, now),
        server_time: Rfc3339(now),
    })
}

/// `GET /api/v1/session/{id}`: the session; reading does not extend it.
pub async fn get_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
) -> Result<Json<SessionView>, ApiError> {
    let now = state.now();
    let session = state.timed(StoreOp::Get, state.store().get(id, now)).await?;
    Ok(Json(SessionView::new(session, now)))
}

/// `DELETE /api/v1/session/{id}`: 204; nothing brings the session back, and its live sockets
/// are told at once.
pub async fn delete_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
) -> Result<StatusCode, ApiError> {
    state.timed(StoreOp::Delete, state.store().delete(id, state.now())).await?;
    state.live().deliver(SessionEvent::Deleted { id });
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/session/{id}/live`: upgrades to the live channel's WebSocket (see
/// [`crate::live`]). Refused with 403 from a page on an origin that is neither this server's nor
/// allowed, 404 for a session that is not alive, 426 without a WebSocket upgrade, 429 or 503 when
/// the session or the server holds its maximum of sockets.
pub async fn live<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !origin_allowed(&headers, &state.config().allowed_origins) {
        return Err(ApiError::ForbiddenOrigin);
    }
    let session = state.timed(StoreOp::Get, state.store().get(id, state.now())).await?;
    let upgrade = upgrade.map_err(|_| ApiError::UpgradeRequired)?;
    let subscription =
        state.live().join(id, session.expires_at).map_err(|refusal| match refusal {
            Refusal::SessionFull => ApiError::TooManyLiveSockets,
            Refusal::ServerFull => ApiError::ServerBusy { retry_after: BUSY_RETRY_AFTER },
        })?;
    let hub = Arc::clone(state.live());
    let (store, clock) = (Arc::clone(state.store()), Arc::clone(state.clock()));
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .read_buffer_size(MAX_CLIENT_MESSAGE)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| hub.track(live::run(socket, subscription, store, clock))))
}

/// What a client is told to wait when the server holds its maximum of sockets.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Whether a WebSocket request may be served: it comes from no page (no `Origin`), from a page
/// this server served (the `Origin` names the `Host` asked for), or from an allowed origin. A
/// page elsewhere must not ride on the user's cookies (cross-site WebSocket hijacking).
pub fn origin_allowed(headers: &HeaderMap, allowed: &[HeaderValue]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if allowed.contains(origin) {
        return true;
    }
    let (Ok(origin), Some(host)) =
        (origin.to_str(), headers.get(header::HOST).and_then(|host| host.to_str().ok()))
    else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"ok"`: a server whose store is down answers 503 `ERR_STORE_UNAVAILABLE` instead.
    pub status: &'static str,
    /// Always `"up"` in a 200.
    pub store: &'static str,
    /// Whether the demo endpoints are on, so a page can tell without probing one.
    pub demo: bool,
}

/// `GET /healthz`: 200 `{"status":"ok","store":"up","demo":false}` when the store answers, else
/// 503 `ERR_STORE_UNAVAILABLE`: a readiness check a load balancer can use.
pub async fn healthz<S: SessionStore>(
    state: AppState<S>,
    demo: bool,
) -> Result<Json<Health>, ApiError> {
    state.store().health().await?;
    Ok(Json(Health { status: "ok", store: "up", demo }))
}

/// `GET /metrics`: the Prometheus text format (see [`crate::metrics`]).
pub async fn metrics<S: SessionStore>(State(state): State<AppState<S>>) -> Response {
    // Counting keys in Redis is a scan: only the in-memory store (the one that sweeps) counts.
    let sessions =
        if state.store().needs_sweeping() { state.store().len().await.ok() } else { None };
    let text = state.metrics().render(sessions, state.live().sockets());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Any path under `/api/` that no route matches: 404 `ERR_NOT_FOUND`.
pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_hyphenated_uuids_only() {
        let id = Uuid::new_v4();
        assert_eq!(parse_session_id(&id.to_string()), Some(id));
        assert_eq!(parse_session_id(&id.to_string().to_uppercase()), Some(id));
        assert_eq!(parse_session_id(&id.simple().to_string()), None);
        assert_eq!(parse_session_id(&id.braced().to_string()), None);
        assert_eq!(parse_session_id(&id.urn().to_string()), None);
        assert_eq!(parse_session_id("x"), None);
        assert_eq!(parse_session_id(&"a".repeat(36)), None);
        assert_eq!(parse_session_id("../../../../etc/passwd/../../../../.."), None);
    }

    #[test]
    fn live_sockets_come_from_no_page_this_server_or_an_allowed_origin() {
        let allowed: Vec<HeaderValue> = vec![HeaderValue::from_static("http://app.example")];
        let headers = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("keeper.example:8080"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            headers
        };
        for fine in [None, Some("http://keeper.example:8080"), Some("https://KEEPER.example:8080")]
        {
            assert!(origin_allowed(&headers(fine), &allowed), "{fine:?}");
        }
        assert!(origin_allowed(&headers(Some("http://app.example")), &allowed));
        for refused in [
            "http://evil.example",
            "http://keeper.example",
            "http://keeper.example:8080.evil.example",
            "null",
            "http://app.example:80",
        ] {
            assert!(!origin_allowed(&headers(Some(refused)), &allowed), "{refused}");
        }
    }

    #[test]
    fn a_heartbeat_answer_is_what_serde_json_writes() {
        let latest = 253_402_300_799_999;
        for (expires_at, now) in
            [(0, 0), (1_200_000, 127), (1_764_000_000_123, 1_763_998_800_000), (u64::MAX, latest)]
        {
            let view = HeartbeatView {
                session_id: Uuid::new_v4(),
                state: ACTIVE,
                expires_at: Rfc3339(expires_at),
                ttl_seconds: ttl_seconds(expires_at, now),
                server_time: Rfc3339(now),
            };
            let ours = String::from_utf8(view.to_json().unwrap()).unwrap();
            assert_eq!(ours, serde_json::to_string(&view).unwrap());
        }
    }

    #[test]
    fn ttl_has_millisecond_precision() {
        assert_eq!(ttl_seconds(1_200_000, 127), 1199.873);
        assert_eq!(ttl_seconds(5, 10), 0.0);
    }
}
