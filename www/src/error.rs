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
//! service's 404 and 416, a timeout's 408) pass through [`json_errors`], which rewrites any error
//! response that is not already JSON into the envelope and keeps its headers. A client therefore
//! never sees a framework's `text/plain` rejection.

use std::time::Duration;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

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
    /// 503: the session store cannot serve the request.
    #[error("session store unavailable: {0}")]
    StoreUnavailable(String),
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
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Http(status) => *status,
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
            Self::RateLimited { .. } => "ERR_RATE_LIMITED",
            Self::StoreUnavailable(_) => "ERR_STORE_UNAVAILABLE",
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
            StoreError::Unavailable(reason) => Self::StoreUnavailable(reason),
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
        if let Self::RateLimited { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(retry_after)));
        }
        response
    }
}

/// Middleware: rewrites every error response (status 400 and above) that is not JSON into the
/// error envelope, keeping its status and headers (`Allow` on a 405, `Content-Range` on a 416).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 || is_json(response.headers().get(header::CONTENT_TYPE)) {
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

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type.is_some_and(|value| value.as_bytes().starts_with(b"application/json"))
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
