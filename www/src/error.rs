//! The one error type of the API and the one place it becomes a response.
//!
//! A client of this server is a keep-alive loop in a browser: when something goes wrong it has to
//! tell "my session is gone" (404 `ERR_SESSION_NOT_FOUND`: start a new one) from "I sent it
//! wrong" (415, 400: a bug to report) from "slow down" (429: wait `Retry-After`) from "the server
//! is in trouble" (503, 5xx: retry later). So every failure, whichever layer produced it, is the
//! same JSON envelope with a stable machine-readable `code`:
//!
//! ```json
//! {"error": {"code": "ERR_SESSION_NOT_FOUND", "message": "session not found"}}
//! ```
//!
//! [`ApiError`] has the only `IntoResponse` impl that writes that envelope. Responses that other
//! layers produce on their own (the router's 405 with its `Allow` header, the static-file
//! service's 404 and 416) pass through [`into_json_error`] (in [`crate::guard::ApiGuard`]), which
//! rewrites any error response that is not already JSON into the envelope and keeps its headers. A client therefore
//! never sees a framework's `text/plain` rejection.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::content_type::is_json_media_type;
use crate::store::StoreError;

/// What a client holding its session's maximum of live sockets is told to wait: by then one of
/// them has usually gone (a closed tab).
pub const LIVE_SOCKETS_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Every way an API request can fail, as the client sees it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 415: a POST, PUT or PATCH under `/api/` without a JSON Content-Type.
    #[error("Content-Type must be application/json for API endpoints")]
    InvalidContentType,
    /// 400: the body is not exactly one JSON object.
    #[error("request body must be a JSON object: {0}")]
    InvalidJson(String),
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 404: no live session has this id (unknown, expired, deleted or malformed).
    #[error("session not found")]
    SessionNotFound,
    /// 404: no such route.
    #[error("not found")]
    NotFound,
    /// 405: the route exists but not for this method (the `Allow` header lists the methods).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429: this session sends heartbeats far faster than any client should.
    #[error("too many heartbeats for this session, retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited {
        /// How long until the next heartbeat will be accepted.
        retry_after: Duration,
    },
    /// 429: this client address creates sessions far faster than any page should.
    #[error("too many sessions created from this address, retry in {} s", retry_after_secs(*.retry_after))]
    CreateRateLimited {
        /// How long until the next create will be accepted.
        retry_after: Duration,
    },
    /// 503: the session store cannot serve the request (full, or its backend is down).
    #[error("session store unavailable: {reason}")]
    StoreUnavailable {
        /// What is wrong.
        reason: String,
        /// When trying again makes sense.
        retry_after: Duration,
    },
    /// 426: a live-channel request that is not a WebSocket upgrade.
    #[error("this endpoint speaks WebSocket only: send an upgrade request")]
    UpgradeRequired,
    /// 403: a live-channel request from a page on an origin that is not allowed.
    #[error("the origin of this page may not open a live channel")]
    ForbiddenOrigin,
    /// 429: the session already holds its maximum of live sockets.
    #[error("this session holds its maximum of live sockets")]
    TooManyLiveSockets,
    /// 503: the server holds its maximum of connections or live sockets, or is shutting down.
    #[error("the server is at capacity, retry in {} s", retry_after_secs(*.retry_after))]
    ServerBusy {
        /// When trying again makes sense.
        retry_after: Duration,
    },
    /// 400: a well-formed request with values out of range (demo endpoints).
    #[error("{0}")]
    InvalidRequest(String),
    /// 500: a bug; the details stay in the server log.
    #[error("internal server error")]
    Internal,
    /// Any other error status produced outside the handlers (e.g. 408, 416).
    #[error("{}", .0.canonical_reason().unwrap_or("error"))]
    Http(StatusCode),
}

impl ApiError {
    /// The error for a bare status code that some layer answered with.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::InvalidContentType,
            StatusCode::INTERNAL_SERVER_ERROR => Self::Internal,
            other => Self::Http(other),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidJson(_) | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SessionNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. }
            | Self::CreateRateLimited { .. }
            | Self::TooManyLiveSockets => StatusCode::TOO_MANY_REQUESTS,
            Self::StoreUnavailable { .. } | Self::ServerBusy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Http(status) => *status,
        }
    }

    /// How long the client should wait before trying again (sent as `Retry-After`), if the error
    /// is one where waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after }
            | Self::CreateRateLimited { retry_after }
            | Self::StoreUnavailable { retry_after, .. }
            | Self::ServerBusy { retry_after } => Some(*retry_after),
            Self::TooManyLiveSockets => Some(LIVE_SOCKETS_RETRY_AFTER),
            _ => None,
        }
    }

    /// The stable machine-readable code, e.g. `ERR_SESSION_NOT_FOUND`.
    pub fn code(&self) -> String {
        let code = match self {
            Self::InvalidContentType => "ERR_INVALID_CONTENT_TYPE",
            Self::InvalidJson(_) => "ERR_INVALID_JSON",
            Self::PayloadTooLarge { .. } => "ERR_PAYLOAD_TOO_LARGE",
            Self::SessionNotFound => "ERR_SESSION_NOT_FOUND",
            Self::NotFound => "ERR_NOT_FOUND",
            Self::MethodNotAllowed => "ERR_METHOD_NOT_ALLOWED",
            Self::RateLimited { .. } | Self::CreateRateLimited { .. } => "ERR_RATE_LIMITED",
            Self::StoreUnavailable { .. } => "ERR_STORE_UNAVAILABLE",
            Self::UpgradeRequired => "ERR_UPGRADE_REQUIRED",
            Self::ForbiddenOrigin => "ERR_FORBIDDEN_ORIGIN",
            Self::TooManyLiveSockets => "ERR_TOO_MANY_LIVE_SOCKETS",
            Self::ServerBusy { .. } => "ERR_SERVER_BUSY",
            Self::InvalidRequest(_) => "ERR_INVALID_REQUEST",
            Self::Internal => "ERR_INTERNAL",
            Self::Http(status) => return http_code(*status),
        };
        code.to_owned()
    }
}

/// `ERR_` and the status's reason phrase in upper snake case, e.g. `ERR_REQUEST_TIMEOUT`.
fn http_code(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => {
            let words = reason
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                .collect::<String>();
            format!("ERR_{words}")
        }
        None => format!("ERR_HTTP_{}", status.as_u16()),
    }
}

/// `Retry-After` in whole seconds: rounded up, and at least 1 so a client never retries at once.
pub fn retry_after_secs(retry_after: Duration) -> u64 {
    retry_after.as_secs_f64().ceil().max(1.0) as u64
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::SessionNotFound,
            StoreError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            StoreError::Unavailable { reason, retry_after } => {
                Self::StoreUnavailable { reason, retry_after }
            }
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = self.to_string();
        let envelope = Envelope { error: Body { code: &code, message: &message } };
        let mut response = (self.status(), Json(envelope)).into_response();
        if let Some(retry_after) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(retry_after)));
        }
        if matches!(self, Self::UpgradeRequired) {
            let headers = response.headers_mut();
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(HeaderName::from_static("sec-websocket-version"), HeaderValue::from(13));
        }
        response
    }
}

/// Rewrites an error response (status 400 and above) that is not JSON into the error envelope,
/// keeping its status and headers (`Allow` on a 405, `Content-Range` on a 416); any other
/// response is returned as it is.
pub fn into_json_error(response: Response) -> Response {
    let status = response.status();
    // The status first: it settles nearly every response without reading a header.
    if status.as_u16() < 400 {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_media_type);
    if is_json {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let mut rewritten = ApiError::from_status(status).into_response();
    let content_type = rewritten.headers_mut().remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    *rewritten.headers_mut() = parts.headers;
    if let Some(content_type) = content_type {
        rewritten.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    *rewritten.extensions_mut() = parts.extensions;
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_at_least_one_second() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn codes_for_bare_statuses() {
        assert_eq!(
            ApiError::from_status(StatusCode::REQUEST_TIMEOUT).code(),
            "ERR_REQUEST_TIMEOUT"
        );
        assert_eq!(
            ApiError::from_status(StatusCode::RANGE_NOT_SATISFIABLE).code(),
            "ERR_RANGE_NOT_SATISFIABLE"
        );
        assert_eq!(ApiError::from_status(StatusCode::NOT_FOUND).code(), "ERR_NOT_FOUND");
        assert_eq!(
            ApiError::from_status(StatusCode::from_u16(599).unwrap()).code(),
            "ERR_HTTP_599"
        );
    }
}
