//! The session API: request handlers and the JSON shapes they answer with.
//!
//! Each handler is a few lines: read the clock once, ask the store, shape the answer. Everything
//! that can fail on the way is an [`ApiError`], so the handlers never build an error response
//! themselves. Times are RFC 3339 UTC with milliseconds; `ttl_seconds` is the remaining lifetime
//! in seconds with millisecond precision, computed by the server so a client need not trust its
//! own clock.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::app::AppState;
use crate::clock::Rfc3339;
use crate::error::ApiError;
use crate::json_body::JsonObject;
use crate::store::{ClientInfo, Session, SessionStore};

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

/// `POST /api/v1/session`: 201 and the new session, with its `Location`.
pub async fn create_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    JsonObject(_): JsonObject,
) -> Result<Response, ApiError> {
    let now = state.now();
    let session = state.store().create(now).await?;
    let id = session.id;
    let mut response = (StatusCode::CREATED, Json(SessionView::new(session, now))).into_response();
    if let Ok(location) = HeaderValue::try_from(session_path(id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.extensions_mut().insert(SessionId(id));
    Ok(response)
}

/// `POST /api/v1/session/{id}/heartbeat`: extends the session to now + TTL.
pub async fn heartbeat<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
    JsonObject(body): JsonObject,
) -> Result<Json<HeartbeatView>, ApiError> {
    let now = state.now();
    let expires_at = state.store().heartbeat(id, now, ClientInfo::capped(&body)).await?;
    Ok(Json(HeartbeatView {
        session_id: id,
        state: ACTIVE,
        expires_at: Rfc3339(expires_at),
        ttl_seconds: ttl_seconds(expires_at, now),
        server_time: Rfc3339(now),
    }))
}

/// `GET /api/v1/session/{id}`: the session; reading does not extend it.
pub async fn get_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
) -> Result<Json<SessionView>, ApiError> {
    let now = state.now();
    let session = state.store().get(id, now).await?;
    Ok(Json(SessionView::new(session, now)))
}

/// `DELETE /api/v1/session/{id}`: 204; nothing brings the session back.
pub async fn delete_session<S: SessionStore>(
    State(state): State<AppState<S>>,
    SessionId(id): SessionId,
) -> Result<StatusCode, ApiError> {
    state.store().delete(id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: &'static str,
    /// Whether the demo endpoints are on, so a page can tell without probing one.
    pub demo: bool,
}

/// `GET /healthz`: 200 `{"status":"ok","demo":false}`.
pub async fn healthz<S: SessionStore>(State(state): State<AppState<S>>) -> Json<Health> {
    Json(Health { status: "ok", demo: state.config().demo })
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
    fn ttl_has_millisecond_precision() {
        assert_eq!(ttl_seconds(1_200_000, 127), 1199.873);
        assert_eq!(ttl_seconds(5, 10), 0.0);
    }
}
