//! The JSON-only rule: a POST, PUT or PATCH under `/api/` must say its body is JSON, or it gets
//! 415 `ERR_INVALID_CONTENT_TYPE`.
//!
//! This is the rule that broke the product this project exists for (seed 004): a backend refused
//! heartbeats that carried no `Content-Type: application/json`, every five minutes, and sessions
//! expired under active users. The reference server enforces it exactly so a client is tested
//! against it. [`require_json`] runs as a middleware around the whole application, before any
//! route is chosen, so every API path answers the same: a POST without JSON to an unknown API path
//! gets 415, and with JSON gets 404.
//!
//! The header is parsed as an RFC 9110 media type (`type "/" subtype *(OWS ";" OWS parameter)`),
//! not matched by prefix, so `application/jsonp` or `application/json-seq` do not slip through.
//! Accepted:
//!
//! - `application/json`, in any letter case, with any well-formed parameters
//!   (`application/json; charset=utf-8`);
//! - **structured-suffix JSON types** (RFC 6839) `application/<name>+json`, such as
//!   `application/vnd.api+json` or `application/merge-patch+json`. Their bodies are JSON by
//!   definition, a JSON parser reads them as such, and refusing them would only break clients of
//!   JSON:API-style conventions for no safety gained. This is a deliberate decision.
//!
//! Refused: a missing header, more than one Content-Type header, `text/json`, `text/plain`, form
//! and multipart types, `application/jsonp`, `application/json-seq`, and anything that does not
//! parse as a media type.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Middleware: answers 415 `ERR_INVALID_CONTENT_TYPE` to a POST, PUT or PATCH under `/api/`
/// whose Content-Type is missing or not JSON; passes every other request on.
pub async fn require_json(request: Request, next: Next) -> Response {
    if needs_json(request.method(), request.uri().path()) && !has_json_body(request.headers()) {
        return ApiError::InvalidContentType.into_response();
    }
    next.run(request).await
}

/// Whether a request with this method and path must declare a JSON body.
pub fn needs_json(method: &Method, path: &str) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH) && is_api_path(path)
}

/// Whether a path is under `/api/` (or is `/api` itself).
pub fn is_api_path(path: &str) -> bool {
    path.strip_prefix("/api").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether the headers hold exactly one Content-Type and it names JSON.
pub fn has_json_body(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().is_ok_and(is_json_media_type),
        _ => false,
    }
}

/// Whether a Content-Type value is a well-formed media type that names JSON:
/// `application/json` or `application/<name>+json`, in any case, with any parameters.
///
/// ```
/// use keeper_server::content_type::is_json_media_type;
///
/// assert!(is_json_media_type("application/json; charset=utf-8"));
/// assert!(is_json_media_type("application/vnd.api+json"));
/// assert!(!is_json_media_type("text/json"));
/// assert!(!is_json_media_type("application/jsonp"));
/// ```
pub fn is_json_media_type(value: &str) -> bool {
    let Some((kind, subtype)) = parse_media_type(value) else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > "+json".len()
                && subtype
                    .get(subtype.len() - "+json".len()..)
                    .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
}

/// Parses `type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )` and returns
/// the type and subtype, or `None` if the value is not a media type.
pub fn parse_media_type(value: &str) -> Option<(&str, &str)> {
    let mut cursor = Cursor { rest: value.trim_matches(is_ows) };
    let kind = cursor.token()?;
    cursor.expect('/')?;
    let subtype = cursor.token()?;
    loop {
        cursor.skip_ows();
        if cursor.rest.is_empty() {
            return Some((kind, subtype));
        }
        cursor.expect(';')?;
        cursor.skip_ows();
        if cursor.rest.is_empty() || cursor.rest.starts_with(';') {
            continue; // an empty parameter is allowed by the grammar
        }
        cursor.token()?;
        cursor.expect('=')?;
        if cursor.rest.starts_with('"') {
            cursor.quoted_string()?;
        } else {
            cursor.token()?;
        }
    }
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// A non-empty run of RFC 9110 `tchar`.
    fn token(&mut self) -> Option<&'a str> {
        let end = self.rest.find(|c: char| !is_tchar(c)).unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(c)?;
        Some(())
    }

    fn skip_ows(&mut self) {
        self.rest = self.rest.trim_start_matches(is_ows);
    }

    /// `DQUOTE *( qdtext / quoted-pair ) DQUOTE`, for visible ASCII text.
    fn quoted_string(&mut self) -> Option<()> {
        let mut chars = self.rest.strip_prefix('"')?.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[at + 2..]; // past the opening and closing quotes
                    return Some(());
                }
                '\\' => {
                    chars.next().filter(|(_, escaped)| is_qdtext(*escaped) || *escaped == '"')?;
                }
                c if is_qdtext(c) => {}
                _ => return None,
            }
        }
        None
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_qdtext(c: char) -> bool {
    c == '\t' || c == ' ' || c == '!' || ('#'..='~').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_json_in_any_case_with_parameters() {
        for value in [
            "application/json",
            "APPLICATION/JSON",
            "Application/Json",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json ; charset=utf-8",
            "application/json;",
            "application/json; charset=\"utf-8\"; q=\"a;b\\\"c\"",
            "  application/json  ",
        ] {
            assert!(is_json_media_type(value), "{value:?} should be JSON");
        }
    }

    #[test]
    fn accepts_structured_suffix_json_types() {
        for value in [
            "application/vnd.api+json",
            "application/merge-patch+json",
            "application/problem+JSON; charset=utf-8",
        ] {
            assert!(is_json_media_type(value), "{value:?} should be JSON");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for value in [
            "",
            "json",
            "application",
            "application/",
            "/json",
            "text/json",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/jsonp",
            "application/json-seq",
            "application/+json",
            "application/json+xml",
            "application/xjson",
            "application/json garbage",
            "application/json, text/plain",
            "application/json; charset",
            "application/json; =utf-8",
            "application/json; charset=\"utf-8",
            "application/json; charset=utf 8",
            "application /json",
            "application/ json",
            "*/*",
            "application/*",
        ] {
            assert!(!is_json_media_type(value), "{value:?} should not be JSON");
        }
    }

    #[test]
    fn parses_type_and_subtype() {
        assert_eq!(parse_media_type("Text/HTML; charset=utf-8"), Some(("Text", "HTML")));
        assert_eq!(parse_media_type("text/html;a=\"\\\""), None);
    }

    #[test]
    fn only_api_writes_need_json() {
        assert!(needs_json(&Method::POST, "/api/v1/session"));
        assert!(needs_json(&Method::PUT, "/api"));
        assert!(needs_json(&Method::PATCH, "/api/anything"));
        assert!(!needs_json(&Method::GET, "/api/v1/session/x"));
        assert!(!needs_json(&Method::DELETE, "/api/v1/session/x"));
        assert!(!needs_json(&Method::POST, "/apis"));
        assert!(!needs_json(&Method::POST, "/"));
    }

    #[test]
    fn exactly_one_header() {
        let mut headers = HeaderMap::new();
        assert!(!has_json_body(&headers));
        headers.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(has_json_body(&headers));
        headers.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!has_json_body(&headers));
    }
}
