//! The JSON-only rule: a POST, PUT or PATCH under `/api/` must say its body is JSON, or it gets
//! 415 `ERR_INVALID_CONTENT_TYPE`.
//!
//! This is the rule that broke the product this project exists for (seed 004): a backend refused
//! heartbeats that carried no `Content-Type: application/json`, every five minutes, and sessions
//! expired under active users. The reference server enforces it exactly so a client is tested
//! against it. [`crate::guard::ApiGuard`] applies it around the whole application, before any
//! route is chosen, so every API path answers the same: a POST without JSON to an unknown API path
//! gets 415, and with JSON gets 404.
//!
//! The header is parsed as an RFC 9110 media type by the `mime` crate (which axum already links),
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

use axum::http::{HeaderMap, Method, header};

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
/// `application/json` or `application/<name>+json`, in any case, with any parameters. The one
/// JSON test of the server: the 415 rule and the error rewriting both use it.
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
    let value = value.trim_matches(OWS);
    // What nearly every client sends, answered without parsing (which allocates) on the hot path.
    if value.eq_ignore_ascii_case("application/json") {
        return true;
    }
    // RFC 9110 allows whitespace before the `;` of a parameter; `mime` does not.
    let parsed = match value.split_once(';') {
        Some((essence, parameters)) => {
            format!("{};{parameters}", essence.trim_end_matches(OWS)).parse()
        }
        None => value.parse::<mime::Mime>(),
    };
    let Ok(media) = parsed else {
        return false;
    };
    media.type_() == mime::APPLICATION
        && match media.suffix() {
            None => media.subtype() == mime::JSON,
            Some(suffix) => suffix == mime::JSON,
        }
}

const OWS: [char; 2] = [' ', '\t'];

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
            "application/json; charset=\"utf-8\"; q=\"a;b\"",
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
