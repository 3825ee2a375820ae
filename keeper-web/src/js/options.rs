//! The JavaScript options object, read into [`Options`] and the page's callbacks.
//!
//! The options are one table: its names are what the parser accepts (an unknown name such as
//! `intervalMS` fails loudly instead of being ignored) and, with their types and docs, the
//! `SessionKeeperOptions` interface of the `.d.ts`. Each option is read by name with
//! `Reflect.get` and converted on its own, so a wrong value is reported with the option's name
//! ("intervalMs must be a positive number of milliseconds, got \"5 min\"").
//!
//! Why not serde-wasm-bindgen: deserializing options with it added 18 KB (gzipped) to the
//! package, because serde's type-error path formats floats and so links Rust's float printer;
//! its errors also do not name the field.

use alloc::string::String;

use js_sys::{Array, Function, JSON, Object, Reflect};
use keeper_core::options::{Credentials, IdlePolicy, Options, OptionsError, conventional_live_url};
use keeper_core::text::concat;
use wasm_bindgen::{JsCast, JsValue};

/// Declares the options once: their names for the parser, and the TypeScript interface.
macro_rules! options_table {
    ($($(#[doc = $doc:literal])+ $name:literal $optional:literal $ts:literal;)+) => {
        /// Every option `SessionKeeper` accepts, as JavaScript spells it.
        pub(crate) const KNOWN: &[&str] = &[$($name),+];

        /// `SessionKeeperOptions` in the `.d.ts`, from the same table.
        #[allow(dead_code)] // read by the typescript_custom_section, which the lint does not see
        pub(crate) const OPTIONS_TS: &str = concat!(
            "/** What `new SessionKeeper(options)` takes. */\n",
            "export interface SessionKeeperOptions {\n",
            $("  /**", $($doc, "\n   *",)+ "/\n  ", $name, $optional, ": ", $ts, ";\n",)+
            "}\n"
        );
    };
}

options_table! {
    /// The heartbeat URL; `{sessionId}` in it is replaced by the URL-encoded `sessionId`.
    "url" "" "string";
    /// Required when `url` contains `{sessionId}`.
    "sessionId" "?" "string | number";
    /// Timer heartbeat period after the last heartbeat, ms. Default 300000 (5 min).
    "intervalMs" "?" "number";
    /// At most one activity heartbeat per window, ms. Default 60000 (1 min).
    "activityThrottleMs" "?" "number";
    /// Session TTL assumed when the server reports none, ms. Default 1200000 (20 min).
    "ttlMs" "?" "number";
    /// Failing this long without a success fires `onWarning`, ms. Default 120000 (2 min).
    "failureWarningMs" "?" "number";
    /// Each request is aborted after this, ms. Default 10000.
    "timeoutMs" "?" "number";
    /// First retry delay after a failure, doubled per failure, ms. Default 2000.
    "retryMinMs" "?" "number";
    /// Longest retry delay, ms. Default 60000.
    "retryMaxMs" "?" "number";
    /// Idle policy: after this long without activity in any tab the user is idle, timer
    /// heartbeats stop and `onIdle` fires, ms. Default: no idle policy. May exceed the TTL
    /// (the TTL then decides).
    "idleTimeoutMs" "?" "number";
    /// `onPrompt` fires this long before idle, ms; needs `idleTimeoutMs`, and must be shorter.
    "promptBeforeIdleMs" "?" "number";
    /// Send a heartbeat as soon as `start()` is called. Default true.
    "beatOnStart" "?" "boolean";
    /// One heartbeat stream for all tabs keeping this session (same url and body). Default true.
    "crossTab" "?" "boolean";
    /// The live channel: a WebSocket URL template (like `url`), or `true` for `url` with its
    /// last segment `heartbeat` replaced by `live`. Default: none.
    "live" "?" "boolean | string";
    /// DOM events on `document` that count as activity. Default
    /// ["mousemove", "mousedown", "keydown", "wheel", "scroll", "touchstart", "touchmove"].
    "activityEvents" "?" "string[]";
    /// Extra headers, e.g. a CSRF token. A Content-Type must be JSON (`application/json`, or
    /// `application/*+json` such as JSON:API's `application/vnd.api+json`); default
    /// `application/json`.
    "headers" "?" "Record<string, string>";
    /// JSON object sent with every heartbeat. Default {}.
    "body" "?" "Record<string, unknown>";
    /// fetch credentials mode. Default "same-origin".
    "credentials" "?" "\"omit\" | \"same-origin\" | \"include\"";
    /// A heartbeat succeeded, in this tab or (with `crossTab`) the leader tab.
    "onHeartbeat" "?" "(event: HeartbeatEvent) => void";
    /// A heartbeat failed. Every failure gives one.
    "onError" "?" "(event: FailureEvent) => void";
    /// Heartbeats have failed for `failureWarningMs`; once per failure episode.
    "onWarning" "?" "(event: WarningEvent) => void";
    /// The first success after a warning.
    "onRecovered" "?" "(event: RecoveredEvent) => void";
    /// The session is gone; the keeper has stopped.
    "onExpired" "?" "(event: ExpiredEvent) => void";
    /// The keeper's state changed.
    "onStateChange" "?" "(event: StateChangeEvent) => void";
    /// Idle policy: idle is near; warn the user. Only `activate()` dismisses it.
    "onPrompt" "?" "(event: PromptEvent) => void";
    /// Idle policy: no activity in any tab for `idleTimeoutMs`; sign the user out.
    "onIdle" "?" "(event: IdleEvent) => void";
    /// Idle policy: the user is back after a prompt or idle.
    "onActive" "?" "(event: ActiveEvent) => void";
    /// This tab started or stopped sending the heartbeats for all tabs.
    "onLeaderChange" "?" "(event: LeaderChangeEvent) => void";
}

/// The callback options, in the order [`Callbacks`] holds them.
pub(crate) const CALLBACKS: [&str; 10] = [
    "onHeartbeat",
    "onError",
    "onWarning",
    "onRecovered",
    "onExpired",
    "onStateChange",
    "onPrompt",
    "onIdle",
    "onActive",
    "onLeaderChange",
];

/// The page's callbacks, in [`CALLBACKS`] order; each may be absent.
pub(crate) struct Callbacks(pub(crate) [Option<Function>; CALLBACKS.len()]);

/// Reads a JavaScript options object.
pub(crate) fn parse(value: &JsValue) -> Result<(Options, Callbacks), OptionsError> {
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(invalid("options", "must be an object such as { url: \"/api/heartbeat\" }"));
    }
    for key in keys(value) {
        if !KNOWN.contains(&key.as_str()) {
            let mut message = concat(&["have an unknown option `", &key, "`; known: "]);
            for (i, name) in KNOWN.iter().enumerate() {
                message.push_str(if i == 0 { "" } else { ", " });
                message.push_str(name);
            }
            return Err(invalid("options", &message));
        }
    }
    let get =
        |key: &str| Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    let url = get("url");
    if url.is_undefined() || url.is_null() {
        return Err(OptionsError::MissingUrl);
    }
    let mut options = Options::new(text("url", &url)?);
    let timing = &mut options.timing;
    for (name, slot) in [
        ("intervalMs", &mut timing.interval_ms),
        ("activityThrottleMs", &mut timing.activity_throttle_ms),
        ("ttlMs", &mut timing.ttl_ms),
        ("failureWarningMs", &mut timing.failure_warning_ms),
        ("timeoutMs", &mut timing.timeout_ms),
        ("retryMinMs", &mut timing.retry_min_ms),
        ("retryMaxMs", &mut timing.retry_max_ms),
    ] {
        if let Some(ms) = millis(name, get(name))? {
            *slot = ms;
        }
    }
    let prompt = millis("promptBeforeIdleMs", get("promptBeforeIdleMs"))?;
    timing.idle = match millis("idleTimeoutMs", get("idleTimeoutMs"))? {
        Some(timeout_ms) => Some(IdlePolicy { timeout_ms, prompt_before_ms: prompt.unwrap_or(0) }),
        None if prompt.is_some() => {
            return Err(invalid("promptBeforeIdleMs", "needs idleTimeoutMs (the idle policy)"));
        }
        None => None,
    };
    timing.beat_on_start = flag("beatOnStart", get("beatOnStart"), timing.beat_on_start)?;
    options.cross_tab = flag("crossTab", get("crossTab"), true)?;
    let session_id = get("sessionId");
    options.session_id = match session_id.as_f64() {
        // Numeric ids are common enough to take as they print.
        Some(n) if n.is_finite() => Some(number_text(n)),
        _ if session_id.is_undefined() || session_id.is_null() => None,
        _ => Some(text("sessionId", &session_id)?),
    };
    let live = get("live");
    options.live = match live.as_bool() {
        Some(true) => Some(conventional_live_url(&options.url)?),
        Some(false) => None,
        None if live.is_undefined() => None,
        None => Some(text("live", &live)?),
    };
    let events = get("activityEvents");
    if !events.is_undefined() {
        let list = events
            .dyn_ref::<Array>()
            .ok_or_else(|| wrong("activityEvents", "an array of event names", &events))?;
        options.activity_events.clear();
        for name in list.iter() {
            options.activity_events.push(text("activityEvents", &name)?);
        }
    }
    let headers = get("headers");
    if !headers.is_undefined() {
        if !headers.is_object() || Array::is_array(&headers) {
            return Err(wrong("headers", "an object of strings", &headers));
        }
        for name in keys(&headers) {
            let value = Reflect::get(&headers, &JsValue::from_str(&name)).unwrap_or_default();
            options.headers.push((name, text("headers", &value)?));
        }
    }
    let body = get("body");
    if !body.is_undefined() {
        if !body.is_object() || Array::is_array(&body) || body.is_function() {
            return Err(OptionsError::BodyNotObject);
        }
        let json = JSON::stringify(&body)
            .map_err(|_| invalid("body", "cannot be turned into JSON (a cycle, or a BigInt?)"))?;
        options.body = json.as_string().ok_or(OptionsError::BodyNotObject)?;
    }
    let credentials = get("credentials");
    if !credentials.is_undefined() {
        options.credentials = Credentials::parse(&text("credentials", &credentials)?)?;
    }
    let mut callbacks = Callbacks(Default::default());
    for (slot, name) in callbacks.0.iter_mut().zip(CALLBACKS) {
        let value = get(name);
        if value.is_undefined() || value.is_null() {
            continue;
        }
        *slot = Some(value.dyn_into().map_err(|v| wrong(name, "a function", &v))?);
    }
    Ok((options, callbacks))
}

/// The own enumerable property names of an object.
fn keys(object: &JsValue) -> impl Iterator<Item = String> {
    Object::keys(object.unchecked_ref::<Object>()).into_iter().filter_map(|k| k.as_string())
}

fn invalid(option: &'static str, message: &str) -> OptionsError {
    OptionsError::Invalid { option, message: message.into() }
}

/// "`option` must be `expected`, got `value`".
fn wrong(option: &'static str, expected: &str, value: &JsValue) -> OptionsError {
    invalid(option, &concat(&["must be ", expected, ", got ", &describe(value)]))
}

fn text(option: &'static str, value: &JsValue) -> Result<String, OptionsError> {
    value.as_string().ok_or_else(|| wrong(option, "a string", value))
}

fn flag(option: &'static str, value: JsValue, default: bool) -> Result<bool, OptionsError> {
    if value.is_undefined() {
        return Ok(default);
    }
    value.as_bool().ok_or_else(|| wrong(option, "true or false", &value))
}

/// A duration in milliseconds, if given: anything but a positive finite number is an error
/// naming the option.
fn millis(option: &'static str, value: JsValue) -> Result<Option<u64>, OptionsError> {
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.5 => Ok(Some((n + 0.5) as u64)),
        _ => Err(OptionsError::NotPositive { option, value: describe(&value) }),
    }
}

/// A value as an error message shows it: strings quoted, numbers as JavaScript prints them.
fn describe(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        concat(&["\"", &text, "\""])
    } else if let Some(n) = value.as_f64() {
        number_text(n)
    } else if let Some(b) = value.as_bool() {
        if b { "true" } else { "false" }.into()
    } else if value.is_null() {
        "null".into()
    } else if Array::is_array(value) {
        "an array".into()
    } else if value.is_function() {
        "a function".into()
    } else {
        "an object".into()
    }
}

/// A number as JavaScript prints it; Rust's float formatting would add kilobytes to the wasm.
fn number_text(n: f64) -> String {
    JSON::stringify(&JsValue::from_f64(n))
        .ok()
        .and_then(|s| s.as_string())
        .filter(|s| s != "null")
        .unwrap_or_else(|| {
            if n.is_nan() {
                "NaN".into()
            } else if n > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }
        })
}
