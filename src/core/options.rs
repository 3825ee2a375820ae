//! The keeper's options, their defaults, and the checks that turn a bad option into a clear
//! error at construction instead of a silent misbehaviour hours later.

use std::fmt;

/// The text in `url` that is replaced by the URL-encoded session id.
pub const SESSION_ID_PLACEHOLDER: &str = "{sessionId}";

/// The events that count as user activity when `activityEvents` is not given.
///
/// Listened to on `document` in the capture phase, so scrolling inside any element counts too.
pub const DEFAULT_ACTIVITY_EVENTS: [&str; 7] =
    ["mousemove", "mousedown", "keydown", "wheel", "scroll", "touchstart", "touchmove"];

/// Every duration that drives the schedule, in milliseconds.
///
/// The defaults fit a server session TTL of 20 minutes: a heartbeat every 5 minutes leaves four
/// chances before the session would expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// A heartbeat is sent this long after the last one (`intervalMs`, default 5 min).
    pub interval_ms: u64,
    /// At most one activity heartbeat per window this long (`activityThrottleMs`, default 1 min).
    pub activity_throttle_ms: u64,
    /// The session TTL assumed when the server's answer reports none (`ttlMs`, default 20 min).
    pub ttl_ms: u64,
    /// Failing this long without a success gives a warning (`failureWarningMs`, default 2 min).
    pub failure_warning_ms: u64,
    /// Each request is aborted after this long (`timeoutMs`, default 10 s).
    pub timeout_ms: u64,
    /// The first retry after a failure waits about this long (`retryMinMs`, default 2 s); each
    /// further retry doubles it.
    pub retry_min_ms: u64,
    /// No retry waits longer than this (`retryMaxMs`, default 1 min).
    pub retry_max_ms: u64,
    /// Send a heartbeat as soon as the keeper starts (`beatOnStart`, default true), so a wrong
    /// URL or header shows at once rather than one interval later.
    pub beat_on_start: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            interval_ms: 5 * 60_000,
            activity_throttle_ms: 60_000,
            ttl_ms: 20 * 60_000,
            failure_warning_ms: 2 * 60_000,
            timeout_ms: 10_000,
            retry_min_ms: 2_000,
            retry_max_ms: 60_000,
            beat_on_start: true,
        }
    }
}

impl Timing {
    /// Checks that the durations make a schedule that can keep a session alive.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let durations = [
            ("intervalMs", self.interval_ms),
            ("activityThrottleMs", self.activity_throttle_ms),
            ("ttlMs", self.ttl_ms),
            ("failureWarningMs", self.failure_warning_ms),
            ("timeoutMs", self.timeout_ms),
            ("retryMinMs", self.retry_min_ms),
            ("retryMaxMs", self.retry_max_ms),
        ];
        if let Some((option, _)) = durations.iter().find(|(_, ms)| *ms == 0) {
            return Err(OptionsError::NotPositive { option, value: "0".into() });
        }
        if self.activity_throttle_ms > self.interval_ms {
            return Err(OptionsError::ThrottleLongerThanInterval {
                throttle_ms: self.activity_throttle_ms,
                interval_ms: self.interval_ms,
            });
        }
        if self.interval_ms >= self.ttl_ms {
            return Err(OptionsError::IntervalNotShorterThanTtl {
                interval_ms: self.interval_ms,
                ttl_ms: self.ttl_ms,
            });
        }
        if self.retry_min_ms > self.retry_max_ms {
            return Err(OptionsError::RetryRange {
                min_ms: self.retry_min_ms,
                max_ms: self.retry_max_ms,
            });
        }
        Ok(())
    }
}

/// The `credentials` mode of every heartbeat `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credentials {
    /// Never send cookies (`"omit"`).
    Omit,
    /// Send cookies to the page's own origin only (`"same-origin"`, the default).
    #[default]
    SameOrigin,
    /// Send cookies to any origin the server's CORS policy allows (`"include"`).
    Include,
}

impl Credentials {
    /// Reads the `fetch` name of a mode.
    pub fn parse(text: &str) -> Result<Self, OptionsError> {
        match text {
            "omit" => Ok(Credentials::Omit),
            "same-origin" => Ok(Credentials::SameOrigin),
            "include" => Ok(Credentials::Include),
            other => Err(OptionsError::Invalid {
                option: "credentials",
                message: format!(
                    "must be \"omit\", \"same-origin\" or \"include\", got \"{other}\""
                ),
            }),
        }
    }
}

/// Everything a keeper needs to know, with the defaults of [`Options::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The heartbeat URL; [`SESSION_ID_PLACEHOLDER`] in it is replaced by the encoded session id.
    pub url: String,
    /// The session id, required when `url` holds the placeholder.
    pub session_id: Option<String>,
    /// The schedule.
    pub timing: Timing,
    /// The DOM events that count as user activity.
    pub activity_events: Vec<String>,
    /// Extra request headers, such as a CSRF token. `Content-Type` is not allowed here: it is
    /// always `application/json`.
    pub headers: Vec<(String, String)>,
    /// The request body: the text of a JSON object, `{}` by default.
    pub body: String,
    /// The `fetch` credentials mode.
    pub credentials: Credentials,
}

impl Options {
    /// Options for `url` with every default.
    pub fn new(url: impl Into<String>) -> Self {
        Options {
            url: url.into(),
            session_id: None,
            timing: Timing::default(),
            activity_events: DEFAULT_ACTIVITY_EVENTS.iter().map(|e| e.to_string()).collect(),
            headers: Vec::new(),
            body: "{}".into(),
            credentials: Credentials::default(),
        }
    }

    /// Checks every option and returns the heartbeat URL with the session id in place.
    ///
    /// ```
    /// use session_keeper::core::options::Options;
    /// let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
    /// options.session_id = Some("a b/c".into());
    /// assert_eq!(options.validate().unwrap(), "/api/v1/session/a%20b%2Fc/heartbeat");
    /// ```
    pub fn validate(&self) -> Result<String, OptionsError> {
        if self.url.trim().is_empty() {
            return Err(OptionsError::MissingUrl);
        }
        self.timing.validate()?;
        let body = self.body.trim();
        if !(body.starts_with('{') && body.ends_with('}')) {
            return Err(OptionsError::BodyNotObject);
        }
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-type") {
                return Err(OptionsError::ContentTypeHeader);
            }
            let bad = |s: &str| s.contains(['\r', '\n', '\0']);
            if name.is_empty() || bad(name) || bad(value) {
                return Err(OptionsError::Invalid {
                    option: "headers",
                    message: format!("\"{name}\" is not a valid header"),
                });
            }
        }
        if self.activity_events.iter().any(|e| e.is_empty()) {
            return Err(OptionsError::Invalid {
                option: "activityEvents",
                message: "event names must not be empty".into(),
            });
        }
        if !self.url.contains(SESSION_ID_PLACEHOLDER) {
            return Ok(self.url.clone());
        }
        match self.session_id.as_deref() {
            Some(id) if !id.is_empty() => {
                Ok(self.url.replace(SESSION_ID_PLACEHOLDER, &encode_uri_component(id)))
            }
            _ => Err(OptionsError::MissingSessionId),
        }
    }
}

/// Percent-encodes like JavaScript's `encodeURIComponent`, so an id can never change the path.
pub fn encode_uri_component(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            out.extend([
                '%',
                HEX[usize::from(byte >> 4)] as char,
                HEX[usize::from(byte & 15)] as char,
            ]);
        }
    }
    out
}

/// A bad option, named as JavaScript spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// `url` is missing or empty.
    MissingUrl,
    /// `url` holds `{sessionId}` but no session id was given.
    MissingSessionId,
    /// A duration is zero, negative, or not a finite number.
    NotPositive {
        /// The option's name.
        option: &'static str,
        /// What was given.
        value: String,
    },
    /// `activityThrottleMs` is longer than `intervalMs`.
    ThrottleLongerThanInterval {
        /// The throttle given.
        throttle_ms: u64,
        /// The interval given.
        interval_ms: u64,
    },
    /// `intervalMs` is not shorter than `ttlMs`: the session would expire between heartbeats.
    IntervalNotShorterThanTtl {
        /// The interval given.
        interval_ms: u64,
        /// The TTL given.
        ttl_ms: u64,
    },
    /// `retryMinMs` is longer than `retryMaxMs`.
    RetryRange {
        /// The minimum given.
        min_ms: u64,
        /// The maximum given.
        max_ms: u64,
    },
    /// `body` is not a JSON object.
    BodyNotObject,
    /// `headers` tries to set `Content-Type`.
    ContentTypeHeader,
    /// Any other option of the wrong type or value.
    Invalid {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::MissingUrl => f.write_str("url is required"),
            OptionsError::MissingSessionId => {
                write!(f, "sessionId is required when url contains {SESSION_ID_PLACEHOLDER}")
            }
            OptionsError::NotPositive { option, value } => {
                write!(f, "{option} must be a positive number of milliseconds, got {value}")
            }
            OptionsError::ThrottleLongerThanInterval { throttle_ms, interval_ms } => write!(
                f,
                "activityThrottleMs ({throttle_ms}) must not be longer than intervalMs ({interval_ms})"
            ),
            OptionsError::IntervalNotShorterThanTtl { interval_ms, ttl_ms } => write!(
                f,
                "intervalMs ({interval_ms}) must be shorter than ttlMs ({ttl_ms}), \
                 or the session expires between heartbeats"
            ),
            OptionsError::RetryRange { min_ms, max_ms } => {
                write!(f, "retryMinMs ({min_ms}) must not be longer than retryMaxMs ({max_ms})")
            }
            OptionsError::BodyNotObject => f.write_str("body must be a JSON object"),
            OptionsError::ContentTypeHeader => f.write_str(
                "headers must not set Content-Type: heartbeats are always application/json",
            ),
            OptionsError::Invalid { option, message } => write!(f, "{option} {message}"),
        }
    }
}

impl std::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
        options.session_id = Some("s1".into());
        options
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let timing = Timing::default();
        assert_eq!(timing.interval_ms, 300_000);
        assert_eq!(timing.activity_throttle_ms, 60_000);
        assert_eq!(timing.ttl_ms, 1_200_000);
        assert_eq!(timing.failure_warning_ms, 120_000);
        assert_eq!(timing.timeout_ms, 10_000);
        assert!(timing.beat_on_start);
        assert_eq!(options().validate(), Ok("/api/v1/session/s1/heartbeat".into()));
        assert_eq!(options().body, "{}");
        assert_eq!(options().credentials, Credentials::SameOrigin);
    }

    #[test]
    fn session_id_is_encoded_so_it_cannot_change_the_path() {
        let mut o = options();
        o.session_id = Some("../../admin?x=1#é".into());
        assert_eq!(
            o.validate().unwrap(),
            "/api/v1/session/..%2F..%2Fadmin%3Fx%3D1%23%C3%A9/heartbeat"
        );
        o.url = "/hb/{sessionId}/{sessionId}".into();
        o.session_id = Some("a-b_c.d!e~f*g'h(i)j".into());
        assert_eq!(o.validate().unwrap(), "/hb/a-b_c.d!e~f*g'h(i)j/a-b_c.d!e~f*g'h(i)j");
    }

    #[test]
    fn url_and_session_id_are_checked() {
        let mut o = options();
        o.url = "  ".into();
        assert_eq!(o.validate(), Err(OptionsError::MissingUrl));
        let mut o = options();
        o.session_id = None;
        assert_eq!(o.validate(), Err(OptionsError::MissingSessionId));
        o.session_id = Some(String::new());
        assert_eq!(o.validate(), Err(OptionsError::MissingSessionId));
        o.url = "/api/heartbeat".into();
        assert_eq!(o.validate(), Ok("/api/heartbeat".into()));
    }

    #[test]
    fn timing_is_checked() {
        let check = |f: fn(&mut Timing)| {
            let mut o = options();
            f(&mut o.timing);
            o.validate().map(|_| ()).map_err(|e| e.to_string())
        };
        assert_eq!(
            check(|t| t.interval_ms = 0),
            Err("intervalMs must be a positive number of milliseconds, got 0".into())
        );
        assert_eq!(
            check(|t| t.timeout_ms = 0),
            Err("timeoutMs must be a positive number of milliseconds, got 0".into())
        );
        assert_eq!(
            check(|t| t.activity_throttle_ms = t.interval_ms + 1),
            Err("activityThrottleMs (300001) must not be longer than intervalMs (300000)".into())
        );
        assert_eq!(check(|t| t.activity_throttle_ms = t.interval_ms), Ok(()));
        assert!(
            check(|t| t.interval_ms = t.ttl_ms).unwrap_err().contains("must be shorter than ttlMs")
        );
        assert_eq!(
            check(|t| t.retry_min_ms = t.retry_max_ms + 1),
            Err("retryMinMs (60001) must not be longer than retryMaxMs (60000)".into())
        );
    }

    #[test]
    fn body_headers_and_events_are_checked() {
        let mut o = options();
        o.body = "[1]".into();
        assert_eq!(o.validate(), Err(OptionsError::BodyNotObject));
        o.body = " {\"tab\": 1} ".into();
        assert!(o.validate().is_ok());
        o.headers = vec![("content-TYPE".into(), "text/plain".into())];
        assert_eq!(o.validate(), Err(OptionsError::ContentTypeHeader));
        o.headers = vec![("X-CSRF-Token".into(), "a\r\nSet-Cookie: x".into())];
        assert!(o.validate().unwrap_err().to_string().starts_with("headers "));
        o.headers = vec![("X-CSRF-Token".into(), "abc".into())];
        assert!(o.validate().is_ok());
        o.activity_events.push(String::new());
        assert!(o.validate().unwrap_err().to_string().starts_with("activityEvents "));
    }

    #[test]
    fn credentials_parse() {
        assert_eq!(Credentials::parse("include"), Ok(Credentials::Include));
        assert_eq!(Credentials::parse("omit"), Ok(Credentials::Omit));
        assert!(
            Credentials::parse("same_origin").unwrap_err().to_string().contains("\"same-origin\"")
        );
    }
}
