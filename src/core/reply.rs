//! What a server's answer to a heartbeat means: the verdict of each status, the session's new
//! expiry, and how long a `Retry-After` asks to wait.

use super::date::{parse_http_date, parse_rfc3339};
use super::event::ExpiryReason;

/// How a heartbeat request ended, as the browser shell saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The server answered with a status.
    Http {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header, when present.
        retry_after: Option<String>,
        /// What the JSON body said, when it was JSON.
        body: ReplyBody,
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
        Reply::Http { status, retry_after: None, body: ReplyBody::default() }
    }
}

/// The fields of a JSON answer the keeper reads; every one is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplyBody {
    /// `expires_at`: when the session expires.
    pub expires_at: Option<ExpiresAt>,
    /// `ttl_seconds`: the session's remaining lifetime, in seconds.
    pub ttl_seconds: Option<f64>,
    /// `error.code`, e.g. `ERR_INVALID_CONTENT_TYPE`.
    pub error_code: Option<String>,
    /// `error.message`.
    pub error_message: Option<String>,
}

/// An `expires_at` value in either form the keeper accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpiresAt {
    /// An RFC 3339 timestamp.
    Text(String),
    /// Epoch milliseconds.
    EpochMs(f64),
}

/// What the keeper does with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: the session lives on.
    Alive,
    /// 404, 410, 401, 403: the session is gone; stop.
    Gone(ExpiryReason),
    /// 429: wait as the server says, then retry.
    Throttled,
    /// Any other 4xx: the request itself is wrong; retrying soon would fail the same way, so
    /// report it and keep the regular schedule.
    Rejected,
    /// 5xx, 1xx/3xx oddities, network failure, timeout: worth retrying with backoff.
    Transient,
}

impl Verdict {
    pub(crate) fn of(reply: &Reply) -> Self {
        match reply {
            Reply::Network { .. } => Verdict::Transient,
            Reply::Http { status, .. } => match status {
                200..=299 => Verdict::Alive,
                404 | 410 => Verdict::Gone(ExpiryReason::NotFound),
                401 | 403 => Verdict::Gone(ExpiryReason::Unauthorized),
                429 => Verdict::Throttled,
                400..=499 => Verdict::Rejected,
                _ => Verdict::Transient,
            },
        }
    }
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
        match self.expires_at.as_ref()? {
            ExpiresAt::Text(text) => parse_rfc3339(text),
            ExpiresAt::EpochMs(ms) if ms.is_finite() && *ms >= 0.0 => Some(*ms as u64),
            ExpiresAt::EpochMs(_) => None,
        }
    }
}

/// How many milliseconds a `Retry-After` value asks to wait: delta-seconds or an HTTP date.
pub(crate) fn retry_after_ms(value: &str, now: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse::<u64>().unwrap_or(u64::MAX / 2_000).saturating_mul(1_000));
    }
    parse_http_date(value).map(|at| at.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn expiry_prefers_ttl_seconds_then_expires_at() {
        let body = |ttl, at| ReplyBody { ttl_seconds: ttl, expires_at: at, ..Default::default() };
        let text = |s: &str| Some(ExpiresAt::Text(s.into()));
        assert_eq!(body(Some(1.5), text("1970-01-01T00:00:09Z")).expiry(1_000), Some(2_500));
        assert_eq!(body(None, text("1970-01-01T00:00:09Z")).expiry(1_000), Some(9_000));
        assert_eq!(body(None, Some(ExpiresAt::EpochMs(7_000.0))).expiry(1_000), Some(7_000));
        assert_eq!(
            body(Some(f64::NAN), Some(ExpiresAt::EpochMs(7_000.0))).expiry(1_000),
            Some(7_000)
        );
        assert_eq!(body(Some(-1.0), None).expiry(1_000), None);
        assert_eq!(body(None, text("soon")).expiry(1_000), None);
        assert_eq!(body(None, Some(ExpiresAt::EpochMs(f64::INFINITY))).expiry(1_000), None);
        assert_eq!(body(None, None).expiry(1_000), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after_ms("3", 0), Some(3_000));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        assert_eq!(retry_after_ms("Thu, 01 Jan 1970 00:01:00 GMT", 15_000), Some(45_000));
        assert_eq!(retry_after_ms("Thu, 01 Jan 1970 00:01:00 GMT", 90_000), Some(0));
        assert_eq!(retry_after_ms("99999999999999999999999", 0), Some(u64::MAX / 2_000 * 1_000));
        assert_eq!(retry_after_ms("-5", 0), None);
        assert_eq!(retry_after_ms("soon", 0), None);
        assert_eq!(retry_after_ms("", 0), None);
    }
}
