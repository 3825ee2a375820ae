//! Reading a request body as exactly one JSON object.
//!
//! axum's own `Json` extractor answers its failures in `text/plain` and with its own status
//! choices; this server promises the JSON error envelope for every failure. [`JsonObject`] reads
//! the body with axum's `Bytes` extractor, under the limit a [`axum::extract::DefaultBodyLimit`]
//! layer sets from the configuration, and maps each failure to an [`ApiError`]:
//!
//! - larger than the limit: 413 `ERR_PAYLOAD_TOO_LARGE`;
//! - not all there within [`BODY_READ_TIMEOUT`]: 408 (a client trickling its body cannot hold a
//!   request open for hours);
//! - empty, malformed, trailing garbage, invalid UTF-8, or valid JSON that is not an object:
//!   400 `ERR_INVALID_JSON`.
//!
//! The object is validated without being parsed into a tree and kept as a slice of the received
//! bytes: nothing is copied, and its text is what the store keeps as the session's client info.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// How long reading a request body may take.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request body the API reads, in bytes; part of the application state, for the
/// error message (the limit itself is enforced by `DefaultBodyLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Extractor: a request body that is exactly one JSON object (`{}` at least).
#[derive(Debug, Clone)]
pub struct JsonObject(Bytes);

impl<S> FromRequest<S> for JsonObject
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        match tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(request, state)).await {
            Ok(Ok(bytes)) => Self::parse(bytes),
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge { limit })
            }
            Ok(Err(_)) => {
                Err(ApiError::InvalidJson("the request body could not be read".to_owned()))
            }
            Err(_) => Err(ApiError::Http(StatusCode::REQUEST_TIMEOUT)),
        }
    }
}

impl JsonObject {
    /// Validates that `bytes` hold exactly one JSON object (whitespace around it allowed) and
    /// keeps the object.
    ///
    /// ```
    /// use axum::body::Bytes;
    /// use keeper_server::json_body::JsonObject;
    ///
    /// let object = JsonObject::parse(Bytes::from_static(b" {\"a\": 1} ")).unwrap();
    /// assert_eq!(object.as_str(), "{\"a\": 1}");
    /// assert!(JsonObject::parse(Bytes::from_static(b"[]")).is_err());
    /// assert!(JsonObject::parse(Bytes::from_static(b"{} x")).is_err());
    /// ```
    pub fn parse(bytes: Bytes) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::InvalidJson(
                "the body is empty; send a JSON object, `{}` at least".to_owned(),
            ));
        }
        let value: &RawValue = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::InvalidJson(error.to_string()))?;
        let text = value.get();
        if !text.starts_with('{') {
            return Err(ApiError::InvalidJson(
                "expected a JSON object, found another JSON value".to_owned(),
            ));
        }
        let start = text.as_ptr() as usize - bytes.as_ptr() as usize;
        Ok(Self(bytes.slice(start..start + text.len())))
    }

    /// The object's JSON text.
    pub fn as_str(&self) -> &str {
        // Validated as JSON, hence UTF-8, when it was parsed.
        std::str::from_utf8(&self.0).unwrap_or("{}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> Result<JsonObject, ApiError> {
        JsonObject::parse(Bytes::copy_from_slice(body))
    }

    fn rejects(body: &[u8]) -> bool {
        matches!(parse(body), Err(ApiError::InvalidJson(_)))
    }

    #[test]
    fn accepts_objects() {
        assert_eq!(parse(b"{}").unwrap().as_str(), "{}");
        assert_eq!(parse(b"\n{\"visible\":true}\r\n").unwrap().as_str(), "{\"visible\":true}");
    }

    #[test]
    fn refuses_everything_that_is_not_one_object() {
        for body in [
            &b""[..],
            b"   ",
            b"{",
            b"{}}",
            b"{} {}",
            b"{}garbage",
            b"[]",
            b"[{}]",
            b"null",
            b"1",
            b"\"{}\"",
            b"{'a':1}",
            b"{\"a\":\xff}",
            b"\xef\xbb\xbf{}",
        ] {
            assert!(rejects(body), "{:?} should be refused", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        // Validating into a `RawValue` does not recurse, so depth is bounded only by the size.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_ok());
        let unbalanced = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(rejects(unbalanced.as_bytes()));
    }
}
