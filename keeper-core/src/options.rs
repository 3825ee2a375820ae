//! The keeper's options, their defaults, and the checks that turn a bad option into a clear
//! error at construction instead of a silent misbehaviour hours later.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::text::{HEX_DIGITS, concat, cut, find, push_u64};

/// The text in `url` (and `live`) that is replaced by the URL-encoded session id.
pub const SESSION_ID_PLACEHOLDER: &str = "{sessionId}";

/// The media type of every heartbeat unless `headers` names another JSON type. A heartbeat POST
/// without it was refused with 415 by servers that accept only JSON.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

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
    /// The idle policy; `None` (the default) keeps the session alive for as long as the page is
    /// open.
    pub idle: Option<IdlePolicy>,
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
            idle: None,
        }
    }
}

/// "Sign the user out after this long without activity, with a warning first."
///
/// A keep-alive that beats on a timer would otherwise keep an abandoned tab's session alive
/// forever, defeating the idle logout the session TTL exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// After this long without activity in any tab the user is idle and timer heartbeats stop
    /// (`idleTimeoutMs`). It may be longer than the TTL: the TTL then decides.
    pub timeout_ms: u64,
    /// The page is prompted this long before idle (`promptBeforeIdleMs`); 0 for no prompt.
    pub prompt_before_ms: u64,
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
            ("idleTimeoutMs", self.idle.map_or(1, |i| i.timeout_ms)),
        ];
        if let Some((option, _)) = durations.iter().find(|(_, ms)| *ms == 0) {
            return Err(OptionsError::NotPositive { option, value: "0".into() });
        }
        let order = [
            (
                "activityThrottleMs",
                self.activity_throttle_ms,
                "intervalMs",
                self.interval_ms,
                false,
            ),
            ("intervalMs", self.interval_ms, "ttlMs", self.ttl_ms, true),
            ("retryMinMs", self.retry_min_ms, "retryMaxMs", self.retry_max_ms, false),
        ];
        for (shorter, a, longer, b, strict) in order {
            if a > b || (strict && a == b) {
                return Err(OptionsError::Order {
                    shorter,
                    shorter_ms: a,
                    longer,
                    longer_ms: b,
                    equal_allowed: !strict,
                });
            }
        }
        if let Some(idle) = self.idle
            && idle.prompt_before_ms >= idle.timeout_ms
        {
            return Err(OptionsError::Order {
                shorter: "promptBeforeIdleMs",
                shorter_ms: idle.prompt_before_ms,
                longer: "idleTimeoutMs",
                longer_ms: idle.timeout_ms,
                equal_allowed: false,
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
                message: concat(&[
                    "must be \"omit\", \"same-origin\" or \"include\", got \"",
                    other,
                    "\"",
                ]),
            }),
        }
    }

    /// The `fetch` name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
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
    /// Extra request headers, such as a CSRF token. A `Content-Type` here must be a JSON media
    /// type; it replaces [`DEFAULT_CONTENT_TYPE`].
    pub headers: Vec<(String, String)>,
    /// The request body: the text of a JSON object, `{}` by default.
    pub body: String,
    /// The `fetch` credentials mode.
    pub credentials: Credentials,
    /// Share one stream of heartbeats between the tabs of this session (`crossTab`, default
    /// true).
    pub cross_tab: bool,
    /// The live channel's URL template (`live`): `None` for no live channel.
    pub live: Option<String>,
}

/// What [`Options::validate`] works out: where to send, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The heartbeat URL with the session id in place.
    pub url: String,
    /// The `Content-Type` of every heartbeat.
    pub content_type: String,
    /// The other headers, `Content-Type` removed.
    pub headers: Vec<(String, String)>,
    /// The live channel's URL with the session id in place, if there is one.
    pub live: Option<String>,
    /// The name tabs keeping the same session share: the URL and the body.
    pub session_key: String,
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
            cross_tab: true,
            live: None,
        }
    }

    /// Checks every option and works out the [`Endpoint`].
    ///
    /// ```
    /// use keeper_core::options::Options;
    /// let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
    /// options.session_id = Some("a b/c".into());
    /// options.headers.push(("Content-Type".into(), "application/vnd.api+json".into()));
    /// let endpoint = options.validate().unwrap();
    /// assert_eq!(endpoint.url, "/api/v1/session/a%20b%2Fc/heartbeat");
    /// assert_eq!(endpoint.content_type, "application/vnd.api+json");
    /// ```
    pub fn validate(&self) -> Result<Endpoint, OptionsError> {
        if self.url.trim_ascii().is_empty() {
            return Err(OptionsError::MissingUrl);
        }
        self.timing.validate()?;
        let body = self.body.trim_ascii();
        if !(body.starts_with('{') && body.ends_with('}')) {
            return Err(OptionsError::BodyNotObject);
        }
        let mut content_type = DEFAULT_CONTENT_TYPE.to_string();
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let bad = |s: &str| s.contains(['\r', '\n', '\0']);
            if name.is_empty() || bad(name) || bad(value) {
                return Err(OptionsError::Invalid {
                    option: "headers",
                    message: concat(&["\"", name, "\" is not a valid header"]),
                });
            }
            if name.eq_ignore_ascii_case("content-type") {
                if !is_json_media_type(value) {
                    return Err(OptionsError::ContentTypeNotJson { value: value.clone() });
                }
                content_type = value.clone();
            } else {
                headers.push((name.clone(), value.clone()));
            }
        }
        if self.activity_events.iter().any(|e| e.is_empty()) {
            return Err(OptionsError::Invalid {
                option: "activityEvents",
                message: "event names must not be empty".into(),
            });
        }
        let url = self.fill(&self.url)?;
        let live = match &self.live {
            Some(template) if template.trim_ascii().is_empty() => {
                return Err(OptionsError::Invalid {
                    option: "live",
                    message: "must be true or a URL template, got \"\"".into(),
                });
            }
            Some(template) => Some(websocket_url(self.fill(template)?)),
            None => None,
        };
        let session_key = concat(&[&url, "\n", body]);
        Ok(Endpoint { url, content_type, headers, live, session_key })
    }

    /// `template` with the encoded session id in place of the placeholder.
    fn fill(&self, template: &str) -> Result<String, OptionsError> {
        let mut rest = template;
        let mut out = String::new();
        while let Some(at) = find(rest, SESSION_ID_PLACEHOLDER) {
            let id = self.session_id.as_deref().filter(|id| !id.is_empty());
            let (Some(id), Some(before), Some(after)) =
                (id, rest.get(..at), rest.get(at + SESSION_ID_PLACEHOLDER.len()..))
            else {
                return Err(OptionsError::MissingSessionId);
            };
            out.push_str(before);
            out.push_str(&encode_uri_component(id));
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The live channel's conventional URL template beside a heartbeat URL template: its last path
/// segment `heartbeat` becomes `live` (`/api/v1/session/{sessionId}/live`), which is what
/// `live: true` means.
///
/// ```
/// use keeper_core::options::conventional_live_url;
/// assert_eq!(
///     conventional_live_url("https://a.test/api/v1/session/{sessionId}/heartbeat").unwrap(),
///     "https://a.test/api/v1/session/{sessionId}/live"
/// );
/// assert!(conventional_live_url("/api/keepalive").is_err());
/// ```
pub fn conventional_live_url(url: &str) -> Result<String, OptionsError> {
    match url.strip_suffix("/heartbeat") {
        Some(base) => Ok(concat(&[base, "/live"])),
        None => Err(OptionsError::Invalid {
            option: "live",
            message:
                "true needs a url that ends in /heartbeat; give the live channel's URL instead"
                    .into(),
        }),
    }
}

/// A live channel URL as `new WebSocket()` takes it everywhere: `http(s)://` becomes `ws(s)://`
/// (browsers before 2024 refuse the HTTP schemes); a relative URL is left for the browser to
/// resolve against the page.
fn websocket_url(url: String) -> String {
    match url.strip_prefix("http") {
        Some(rest) if rest.starts_with("://") || rest.starts_with("s://") => concat(&["ws", rest]),
        _ => url,
    }
}

/// True for `application/json` and the `application/*+json` types of RFC 6839 (JSON:API's
/// `application/vnd.api+json`, `application/merge-patch+json`), in any case, with parameters.
///
/// ```
/// use keeper_core::options::is_json_media_type;
/// assert!(is_json_media_type("application/json; charset=utf-8"));
/// assert!(is_json_media_type("Application/VND.API+JSON"));
/// assert!(!is_json_media_type("text/plain"));
/// assert!(!is_json_media_type("application/jsonp"));
/// ```
pub fn is_json_media_type(value: &str) -> bool {
    let essence = cut(value, b';').0.trim_ascii().as_bytes();
    let Some(subtype) = strip_prefix_ignore_case(essence, b"application/") else {
        return false;
    };
    if subtype.eq_ignore_ascii_case(b"json") {
        return true;
    }
    match subtype.len().checked_sub(5).map(|at| subtype.split_at(at)) {
        Some((name, suffix)) => {
            !name.is_empty()
                && suffix.eq_ignore_ascii_case(b"+json")
                && name.iter().all(|&b| is_token_byte(b))
        }
        None => false,
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let (head, tail) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(tail)
}

/// A byte of an RFC 9110 token.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Percent-encodes like JavaScript's `encodeURIComponent`, so an id can never change the path.
pub fn encode_uri_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, byte) in text.bytes().enumerate() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push_str(text.get(at..=at).unwrap_or(""));
        } else {
            out.push('%');
            out.push_str(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push_str(HEX_DIGITS[usize::from(byte & 15)]);
        }
    }
    out
}

/// A bad option, named as JavaScript spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// `url` is missing or empty.
    MissingUrl,
    /// `url` (or `live`) holds `{sessionId}` but no session id was given.
    MissingSessionId,
    /// A duration is zero, negative, or not a finite number.
    NotPositive {
        /// The option's name.
        option: &'static str,
        /// What was given, as JavaScript prints it.
        value: String,
    },
    /// Two durations in the wrong order: the session would expire between heartbeats, a prompt
    /// would come before the idle clock starts, and so on.
    Order {
        /// The option that must be shorter.
        shorter: &'static str,
        /// Its value.
        shorter_ms: u64,
        /// The option that must be longer.
        longer: &'static str,
        /// Its value.
        longer_ms: u64,
        /// Whether the two may be equal.
        equal_allowed: bool,
    },
    /// `body` is not a JSON object.
    BodyNotObject,
    /// `headers` sets a `Content-Type` that is not JSON.
    ContentTypeNotJson {
        /// What was given.
        value: String,
    },
    /// Any other option of the wrong type or value.
    Invalid {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it, after the name.
        message: String,
    },
}

impl OptionsError {
    /// The option the error is about.
    pub fn option(&self) -> &'static str {
        match self {
            OptionsError::MissingUrl => "url",
            OptionsError::MissingSessionId => "sessionId",
            OptionsError::NotPositive { option, .. } | OptionsError::Invalid { option, .. } => {
                option
            }
            OptionsError::Order { shorter, .. } => shorter,
            OptionsError::BodyNotObject => "body",
            OptionsError::ContentTypeNotJson { .. } => "headers",
        }
    }

    /// What to tell the developer, starting with the option's name.
    pub fn message(&self) -> String {
        match self {
            OptionsError::MissingUrl => "url is required".into(),
            OptionsError::MissingSessionId => {
                concat(&["sessionId is required when url contains ", SESSION_ID_PLACEHOLDER])
            }
            OptionsError::NotPositive { option, value } => {
                concat(&[option, " must be a positive number of milliseconds, got ", value])
            }
            OptionsError::Order { shorter, shorter_ms, longer, longer_ms, equal_allowed } => {
                let mut out = concat(&[shorter, " ("]);
                push_u64(&mut out, *shorter_ms);
                let rule = if *equal_allowed {
                    ") must not be longer than "
                } else {
                    ") must be shorter than "
                };
                out.push_str(&concat(&[rule, longer, " ("]));
                push_u64(&mut out, *longer_ms);
                out.push(')');
                out
            }
            OptionsError::BodyNotObject => "body must be a JSON object".into(),
            OptionsError::ContentTypeNotJson { value } => concat(&[
                "headers Content-Type must be a JSON media type such as application/json or \
                 application/vnd.api+json, got \"",
                value,
                "\"",
            ]),
            OptionsError::Invalid { option, message } => concat(&[option, " ", message]),
        }
    }
}

impl core::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn options() -> Options {
        let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
        options.session_id = Some("s1".into());
        options
    }

    fn message(options: &Options) -> String {
        options.validate().unwrap_err().message()
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
        assert_eq!(timing.idle, None);
        let endpoint = options().validate().unwrap();
        assert_eq!(endpoint.url, "/api/v1/session/s1/heartbeat");
        assert_eq!(endpoint.content_type, "application/json");
        assert_eq!(endpoint.session_key, "/api/v1/session/s1/heartbeat\n{}");
        assert_eq!(endpoint.live, None);
        assert!(options().cross_tab);
        assert_eq!(options().credentials, Credentials::SameOrigin);
    }

    #[test]
    fn the_session_id_is_encoded_and_required_by_the_placeholder() {
        let mut o = options();
        o.session_id = Some("../admin?x=1#".into());
        assert_eq!(o.validate().unwrap().url, "/api/v1/session/..%2Fadmin%3Fx%3D1%23/heartbeat");
        o.session_id = Some(String::new());
        assert_eq!(o.validate(), Err(OptionsError::MissingSessionId));
        o.session_id = None;
        assert_eq!(message(&o), "sessionId is required when url contains {sessionId}");
        let plain = Options::new("/api/heartbeat");
        assert_eq!(plain.validate().unwrap().url, "/api/heartbeat");
        assert_eq!(Options::new("  ").validate(), Err(OptionsError::MissingUrl));
    }

    #[test]
    fn durations_must_be_positive_and_in_order() {
        let mut o = options();
        o.timing.timeout_ms = 0;
        assert_eq!(message(&o), "timeoutMs must be a positive number of milliseconds, got 0");
        let mut o = options();
        o.timing.activity_throttle_ms = 600_000;
        assert_eq!(
            message(&o),
            "activityThrottleMs (600000) must not be longer than intervalMs (300000)"
        );
        let mut o = options();
        o.timing.interval_ms = o.timing.ttl_ms;
        assert_eq!(message(&o), "intervalMs (1200000) must be shorter than ttlMs (1200000)");
        let mut o = options();
        o.timing.retry_min_ms = 70_000;
        assert_eq!(o.validate().unwrap_err().option(), "retryMinMs");
        let mut o = options();
        o.timing.activity_throttle_ms = o.timing.interval_ms;
        assert!(o.validate().is_ok(), "a throttle as long as the interval is allowed");
    }

    #[test]
    fn the_idle_policy_needs_its_prompt_before_idle() {
        let mut o = options();
        o.timing.idle = Some(IdlePolicy { timeout_ms: 60_000, prompt_before_ms: 60_000 });
        assert_eq!(
            message(&o),
            "promptBeforeIdleMs (60000) must be shorter than idleTimeoutMs (60000)"
        );
        o.timing.idle = Some(IdlePolicy { timeout_ms: 0, prompt_before_ms: 0 });
        assert_eq!(o.validate().unwrap_err().option(), "idleTimeoutMs");
        // Longer than the TTL is allowed: the TTL decides.
        o.timing.idle = Some(IdlePolicy { timeout_ms: 3_600_000, prompt_before_ms: 60_000 });
        assert!(o.validate().is_ok());
    }

    #[test]
    fn body_and_headers_are_checked() {
        let mut o = options();
        o.body = "[1]".into();
        assert_eq!(o.validate(), Err(OptionsError::BodyNotObject));
        o.body = " {\"tab\": 1} ".into();
        assert_eq!(o.validate().unwrap().session_key, "/api/v1/session/s1/heartbeat\n{\"tab\": 1}");
        o.headers = vec![("X-CSRF-Token".into(), "a\r\nSet-Cookie: x".into())];
        assert!(message(&o).starts_with("headers \"X-CSRF-Token\" is not a valid header"));
        o.headers = vec![("X-CSRF-Token".into(), "abc".into())];
        assert_eq!(o.validate().unwrap().headers, vec![("X-CSRF-Token".into(), "abc".into())]);
        o.activity_events.push(String::new());
        assert!(message(&o).starts_with("activityEvents "));
    }

    #[test]
    fn a_json_content_type_in_headers_replaces_the_default_and_any_other_is_refused() {
        for given in [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/vnd.api+json",
            "application/merge-patch+json",
        ] {
            let mut o = options();
            o.headers = vec![("content-type".into(), given.into()), ("X-A".into(), "1".into())];
            let endpoint = o.validate().unwrap();
            assert_eq!(endpoint.content_type, given);
            assert_eq!(endpoint.headers, vec![("X-A".into(), "1".into())], "{given}");
        }
        for refused in ["text/plain", "application/jsonp", "application/+json", "json", ""] {
            let mut o = options();
            o.headers = vec![("Content-Type".into(), refused.into())];
            let error = o.validate().unwrap_err();
            assert_eq!(error, OptionsError::ContentTypeNotJson { value: refused.into() });
            assert!(error.message().starts_with("headers Content-Type must be a JSON media type"));
        }
    }

    #[test]
    fn live_takes_a_template_or_the_conventional_path() {
        let mut o = options();
        o.live = Some(conventional_live_url(&o.url).unwrap());
        assert_eq!(o.validate().unwrap().live.as_deref(), Some("/api/v1/session/s1/live"));
        o.live = Some("wss://push.test/s/{sessionId}".into());
        assert_eq!(o.validate().unwrap().live.as_deref(), Some("wss://push.test/s/s1"));
        o.live = Some("https://app.test/api/v1/session/{sessionId}/live".into());
        assert_eq!(
            o.validate().unwrap().live.as_deref(),
            Some("wss://app.test/api/v1/session/s1/live")
        );
        o.live = Some("http://127.0.0.1:8080/live".into());
        assert_eq!(o.validate().unwrap().live.as_deref(), Some("ws://127.0.0.1:8080/live"));
        o.live = Some("/httpish/live".into());
        assert_eq!(o.validate().unwrap().live.as_deref(), Some("/httpish/live"));
        o.live = Some(" ".into());
        assert_eq!(o.validate().unwrap_err().option(), "live");
        assert_eq!(conventional_live_url("/api/ping").unwrap_err().option(), "live");
    }

    #[test]
    fn credentials_parse() {
        assert_eq!(Credentials::parse("include"), Ok(Credentials::Include));
        assert_eq!(Credentials::parse("omit").map(Credentials::as_str), Ok("omit"));
        assert!(
            Credentials::parse("same_origin").unwrap_err().message().contains("\"same-origin\"")
        );
    }
}
