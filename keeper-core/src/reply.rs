//! What a server's answer to a heartbeat means: the verdict of each status, the session's new
//! expiry, and how long a `Retry-After` asks to wait.
//!
//! Dates in answers (an RFC 3339 `expires_at`, an HTTP-date `Retry-After`) are read by the
//! browser's own date parser in the shell and arrive here as epoch milliseconds: a second date
//! parser in the package would only add bytes.
//!
//! A 2xx is not always the server saying yes. Session middlewares answer an expired session with
//! a redirect to a login page, which `fetch` follows to a 200 with HTML; proxies and captive
//! portals answer 200 with HTML too. Neither is a successful heartbeat here.

use alloc::string::String;

use crate::event::ExpiryReason;
use crate::text::{concat, cut, find, parse_u64, push_u64};

/// How a heartbeat request ended, as the browser shell saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The server answered with a status.
    Http {
        /// The HTTP status of the final answer.
        status: u16,
        /// The `Retry-After` header, when present and readable.
        retry_after: Option<RetryAfter>,
        /// The `Content-Type` header, when present.
        content_type: Option<String>,
        /// Where the request ended up after redirects that left the heartbeat's path (see
        /// [`redirected_elsewhere`]); an empty string for a redirect whose target the browser
        /// hides.
        redirected_to: Option<String>,
        /// What the body was.
        body: Body,
    },
    /// No answer: DNS, connection, CORS or TLS failure, as `fetch` reports them.
    Network {
        /// The browser's description.
        message: String,
    },
}

impl Reply {
    /// A bodiless answer with `status`.
    pub fn status(status: u16) -> Self {
        Reply::Http {
            status,
            retry_after: None,
            content_type: None,
            redirected_to: None,
            body: Body::Empty,
        }
    }

    /// A JSON answer with `status`.
    pub fn json(status: u16, fields: ReplyBody) -> Self {
        Reply::Http {
            status,
            retry_after: None,
            content_type: Some("application/json".into()),
            redirected_to: None,
            body: Body::Json(fields),
        }
    }
}

/// The body of an answer, as far as the keeper cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body at all (a 204, or an empty 200).
    Empty,
    /// A JSON value; the fields the keeper reads, if it was an object that had them.
    Json(ReplyBody),
    /// Something that is not JSON: a login page, a proxy's or a captive portal's HTML.
    Other,
}

/// The fields of a JSON answer the keeper reads; every one is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplyBody {
    /// `expires_at`: when the session expires, in epoch ms (a number as sent, or an RFC 3339
    /// text read by the browser's date parser).
    pub expires_at: Option<f64>,
    /// `ttl_seconds`: the session's remaining lifetime, in seconds.
    pub ttl_seconds: Option<f64>,
    /// `error.code`, e.g. `ERR_INVALID_CONTENT_TYPE`.
    pub error_code: Option<String>,
    /// `error.message`.
    pub error_message: Option<String>,
}

/// A `Retry-After` header: how long the server asks the keeper to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delta-seconds: `Retry-After: 120`.
    Seconds(u64),
    /// An HTTP date, in epoch ms: `Retry-After: Fri, 27 Nov 2026 10:00:00 GMT`.
    At(u64),
}

impl RetryAfter {
    /// Reads a header value: delta-seconds, or else the date `date_ms` that the caller's date
    /// parser made of it (`NaN` or `None` when it is not a date either).
    ///
    /// ```
    /// use keeper_core::reply::RetryAfter;
    /// assert_eq!(RetryAfter::read(" 120 ", None), Some(RetryAfter::Seconds(120)));
    /// assert_eq!(RetryAfter::read("Thu, 01 Jan 1970 00:01:00 GMT", Some(60_000.0)), Some(RetryAfter::At(60_000)));
    /// assert_eq!(RetryAfter::read("soon", Some(f64::NAN)), None);
    /// ```
    pub fn read(value: &str, date_ms: Option<f64>) -> Option<RetryAfter> {
        let value = value.trim_ascii();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Some(RetryAfter::Seconds(parse_u64(value).unwrap_or(u64::MAX)));
        }
        epoch_ms(date_ms?).map(RetryAfter::At)
    }

    /// How many milliseconds to wait from `now`.
    pub(crate) fn wait_ms(self, now: u64) -> u64 {
        match self {
            RetryAfter::Seconds(seconds) => seconds.min(u64::MAX / 2_000) * 1_000,
            RetryAfter::At(at) => at.saturating_sub(now),
        }
    }
}

/// A finite, non-negative number of epoch milliseconds.
fn epoch_ms(ms: f64) -> Option<u64> {
    (ms.is_finite() && ms >= 0.0).then_some(ms as u64)
}

/// What the keeper does with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A 2xx that is empty or JSON: the session lives on.
    Alive,
    /// 404, 410, 401, 403, or a redirect elsewhere: the session is gone; stop.
    Gone(ExpiryReason),
    /// 429: wait as the server says, then retry.
    Throttled,
    /// Any other 4xx: the request itself is wrong; retrying soon would fail the same way, so
    /// report it and keep the regular schedule.
    Rejected,
    /// 5xx, 1xx/3xx oddities, a 2xx that is not JSON, network failure, timeout: worth retrying
    /// with backoff.
    Transient,
}

impl Verdict {
    pub(crate) fn of(reply: &Reply) -> Self {
        let Reply::Http { status, redirected_to, body, .. } = reply else {
            return Verdict::Transient;
        };
        if redirected_to.is_some() {
            return Verdict::Gone(ExpiryReason::Unauthorized);
        }
        match status {
            200..=299 if *body == Body::Other => Verdict::Transient,
            200..=299 => Verdict::Alive,
            404 | 410 => Verdict::Gone(ExpiryReason::NotFound),
            401 | 403 => Verdict::Gone(ExpiryReason::Unauthorized),
            429 => Verdict::Throttled,
            400..=499 => Verdict::Rejected,
            _ => Verdict::Transient,
        }
    }
}

/// The `(code, message)` an error event carries for a reply that is not a success.
pub(crate) fn describe_failure(reply: &Reply) -> (String, String) {
    const UNEXPECTED: &str = "ERR_UNEXPECTED_RESPONSE";
    let (status, content_type, redirected_to, body) = match reply {
        Reply::Network { message } => return ("ERR_NETWORK".into(), message.clone()),
        Reply::Http { status, content_type, redirected_to, body, .. } => {
            (*status, content_type.as_deref(), redirected_to, body)
        }
    };
    if let Some(to) = redirected_to {
        let target = if to.is_empty() { "another address" } else { to.as_str() };
        return (
            UNEXPECTED.into(),
            concat(&["the server redirected the heartbeat to ", target, " (a login page?)"]),
        );
    }
    let mut status_text = String::new();
    push_u64(&mut status_text, u64::from(status));
    if (200..300).contains(&status) {
        let what = content_type.unwrap_or("a body that is not JSON");
        return (
            UNEXPECTED.into(),
            concat(&["the server answered ", &status_text, " with ", what, " instead of JSON"]),
        );
    }
    let fields = match body {
        Body::Json(fields) => Some(fields),
        _ => None,
    };
    let code = fields.and_then(|f| f.error_code.clone()).unwrap_or_else(|| "ERR_HTTP".into());
    let message = fields
        .and_then(|f| f.error_message.clone())
        .unwrap_or_else(|| concat(&["the server answered HTTP ", &status_text]));
    (code, message)
}

impl ReplyBody {
    /// The session's expiry in epoch ms, preferring `ttl_seconds`: it is relative, so it holds
    /// even when the browser's clock disagrees with the server's. It is counted from the moment
    /// the request was sent, which can only err on the early side. Absent or unusable fields
    /// give `None`.
    pub(crate) fn expiry(&self, sent_at: u64) -> Option<u64> {
        if let Some(ttl) = self.ttl_seconds.filter(|t| t.is_finite() && *t >= 0.0) {
            return Some(sent_at.saturating_add((ttl * 1_000.0) as u64));
        }
        epoch_ms(self.expires_at?)
    }
}

/// True when a request to `requested` that was redirected to `landed` ended on another path:
/// how session middlewares send an expired session to a login page. A redirect that keeps the
/// path (to HTTPS, or another host) is judged by its answer like any other. Query strings and
/// fragments are ignored.
///
/// ```
/// use keeper_core::reply::redirected_elsewhere;
/// let url = "/api/v1/session/s1/heartbeat";
/// assert!(redirected_elsewhere(url, "https://app.test/login?next=%2F"));
/// assert!(!redirected_elsewhere(url, "https://app.test/api/v1/session/s1/heartbeat"));
/// ```
pub fn redirected_elsewhere(requested: &str, landed: &str) -> bool {
    path_of(requested) != path_of(landed)
}

/// The path of an absolute or root-relative URL.
fn path_of(url: &str) -> &str {
    let url = cut(cut(url, b'?').0, b'#').0;
    let after_scheme = match find(url, "://") {
        Some(at) => url.get(at + 3..).unwrap_or(""),
        None => match url.strip_prefix("//") {
            Some(rest) => rest,
            None => return url,
        },
    };
    match after_scheme.bytes().position(|b| b == b'/') {
        Some(at) => after_scheme.get(at..).unwrap_or("/"),
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: Body, redirected_to: Option<&str>) -> Reply {
        Reply::Http {
            status,
            retry_after: None,
            content_type: Some("text/html; charset=utf-8".into()),
            redirected_to: redirected_to.map(String::from),
            body,
        }
    }

    #[test]
    fn verdicts_follow_the_status() {
        let v = |s| Verdict::of(&Reply::status(s));
        assert_eq!(v(200), Verdict::Alive);
        assert_eq!(v(204), Verdict::Alive);
        assert_eq!(v(404), Verdict::Gone(ExpiryReason::NotFound));
        assert_eq!(v(410), Verdict::Gone(ExpiryReason::NotFound));
        assert_eq!(v(401), Verdict::Gone(ExpiryReason::Unauthorized));
        assert_eq!(v(403), Verdict::Gone(ExpiryReason::Unauthorized));
        assert_eq!(v(429), Verdict::Throttled);
        for s in [400, 405, 413, 415, 422] {
            assert_eq!(v(s), Verdict::Rejected, "{s}");
        }
        for s in [500, 502, 503, 504, 302, 0] {
            assert_eq!(v(s), Verdict::Transient, "{s}");
        }
        assert_eq!(Verdict::of(&Reply::Network { message: "x".into() }), Verdict::Transient);
        assert_eq!(Verdict::of(&Reply::json(200, ReplyBody::default())), Verdict::Alive);
    }

    #[test]
    fn a_2xx_that_is_not_json_is_not_a_success() {
        assert_eq!(Verdict::of(&http(200, Body::Other, None)), Verdict::Transient);
        let (code, message) = describe_failure(&http(200, Body::Other, None));
        assert_eq!(code, "ERR_UNEXPECTED_RESPONSE");
        assert_eq!(
            message,
            "the server answered 200 with text/html; charset=utf-8 instead of JSON"
        );
    }

    #[test]
    fn a_redirect_elsewhere_means_the_session_is_gone() {
        let login = http(200, Body::Other, Some("https://app.test/login"));
        assert_eq!(Verdict::of(&login), Verdict::Gone(ExpiryReason::Unauthorized));
        let (code, message) = describe_failure(&login);
        assert_eq!(code, "ERR_UNEXPECTED_RESPONSE");
        assert_eq!(
            message,
            "the server redirected the heartbeat to https://app.test/login (a login page?)"
        );
        let hidden = http(0, Body::Empty, Some(""));
        assert_eq!(Verdict::of(&hidden), Verdict::Gone(ExpiryReason::Unauthorized));
        assert!(describe_failure(&hidden).1.contains("another address"));
    }

    #[test]
    fn paths_are_compared_without_scheme_host_query_or_fragment() {
        let url = "/api/v1/session/s1/heartbeat";
        assert!(!redirected_elsewhere(url, "http://a.test/api/v1/session/s1/heartbeat?x#y"));
        assert!(!redirected_elsewhere("https://a.test/api/h", "https://b.test/api/h"));
        assert!(!redirected_elsewhere("//a.test/api/h", "https://a.test/api/h"));
        assert!(redirected_elsewhere(url, "http://a.test/login"));
        assert!(redirected_elsewhere("https://a.test", "https://a.test/login"));
        assert!(!redirected_elsewhere("https://a.test", "https://b.test/"));
    }

    #[test]
    fn errors_carry_the_server_code_or_the_keeper_s_own() {
        let body = ReplyBody {
            error_code: Some("ERR_INVALID_CONTENT_TYPE".into()),
            error_message: Some("Content-Type must be application/json".into()),
            ..ReplyBody::default()
        };
        assert_eq!(
            describe_failure(&Reply::json(415, body)),
            ("ERR_INVALID_CONTENT_TYPE".into(), "Content-Type must be application/json".into())
        );
        assert_eq!(
            describe_failure(&Reply::status(502)),
            ("ERR_HTTP".into(), "the server answered HTTP 502".into())
        );
        assert_eq!(
            describe_failure(&Reply::Network { message: "Failed to fetch".into() }),
            ("ERR_NETWORK".into(), "Failed to fetch".into())
        );
    }

    #[test]
    fn expiry_prefers_ttl_seconds_then_expires_at() {
        let body = |ttl, at| ReplyBody { ttl_seconds: ttl, expires_at: at, ..Default::default() };
        assert_eq!(body(Some(1.5), Some(9_000.0)).expiry(1_000), Some(2_500));
        assert_eq!(body(None, Some(9_000.0)).expiry(1_000), Some(9_000));
        assert_eq!(body(Some(f64::NAN), Some(7_000.0)).expiry(1_000), Some(7_000));
        assert_eq!(body(Some(-1.0), None).expiry(1_000), None);
        assert_eq!(
            body(None, Some(f64::NAN)).expiry(1_000),
            None,
            "a date the browser could not read"
        );
        assert_eq!(body(None, Some(f64::INFINITY)).expiry(1_000), None);
        assert_eq!(body(None, None).expiry(1_000), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let wait = |value: &str, date: Option<f64>, now| {
            RetryAfter::read(value, date).map(|r| r.wait_ms(now))
        };
        assert_eq!(wait("3", None, 0), Some(3_000));
        assert_eq!(wait(" 0 ", None, 0), Some(0));
        assert_eq!(wait("Thu, 01 Jan 1970 00:01:00 GMT", Some(60_000.0), 15_000), Some(45_000));
        assert_eq!(wait("Thu, 01 Jan 1970 00:01:00 GMT", Some(60_000.0), 90_000), Some(0));
        assert_eq!(wait("99999999999999999999999", None, 0), Some(u64::MAX / 2_000 * 1_000));
        assert_eq!(wait("-5", Some(f64::NAN), 0), None);
        assert_eq!(wait("soon", None, 0), None);
        assert_eq!(wait("", None, 0), None);
    }
}
