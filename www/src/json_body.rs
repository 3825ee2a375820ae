//! Reading a request body as exactly one JSON object.
//!
//! axum's own `Json` extractor answers its failures in `text/plain` and with its own status
//! choices; this server promises the JSON error envelope for every failure. [`JsonObject`] reads
//! the body itself, under the configured size limit, and maps each failure to an [`ApiError`]:
//!
//! - larger than the limit (by `Content-Length` or by counting): 413 `ERR_PAYLOAD_TOO_LARGE`;
//! - empty, malformed, trailing garbage, invalid UTF-8, or valid JSON that is not an object:
//!   400 `ERR_INVALID_JSON`.
//!
//! The body is kept as a validated [`RawValue`]: nothing is parsed into a tree the handlers do
//! not need, and the raw text is what the store keeps as the session's client info.

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// The largest request body the API reads, in bytes; part of the application state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Extractor: a request body that is exactly one JSON object (`{}` at least).
#[derive(Debug)]
pub struct JsonObject(pub Box<RawValue>);

impl<S> FromRequest<S> for JsonObject
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        let (parts, body) = request.into_parts();
        let bytes = read_limited(&parts.headers, body, limit).await?;
        parse_object(&bytes).map(JsonObject)
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(_) => Err(ApiError::InvalidJson("the request body could not be read".to_owned())),
    }
}

/// Validates that `bytes` hold exactly one JSON object (whitespace around it allowed).
///
/// ```
/// use keeper_server::json_body::parse_object;
///
/// assert_eq!(parse_object(b" {\"a\": 1} ").unwrap().get(), "{\"a\": 1}");
/// assert!(parse_object(b"[]").is_err());
/// assert!(parse_object(b"{} x").is_err());
/// ```
pub fn parse_object(bytes: &[u8]) -> Result<Box<RawValue>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "the body is empty; send a JSON object, `{}` at least".to_owned(),
        ));
    }
    let value: &RawValue =
        serde_json::from_slice(bytes).map_err(|error| ApiError::InvalidJson(error.to_string()))?;
    if !value.get().starts_with('{') {
        return Err(ApiError::InvalidJson(
            "expected a JSON object, found another JSON value".to_owned(),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejects(body: &[u8]) -> bool {
        matches!(parse_object(body), Err(ApiError::InvalidJson(_)))
    }

    #[test]
    fn accepts_objects() {
        assert_eq!(parse_object(b"{}").unwrap().get(), "{}");
        assert_eq!(parse_object(b"\n{\"visible\":true}\r\n").unwrap().get(), "{\"visible\":true}");
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
        assert!(parse_object(deep.as_bytes()).is_ok());
        let unbalanced = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(rejects(unbalanced.as_bytes()));
    }
}
