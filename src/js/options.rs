//! The JavaScript options object, read into [`Options`] and the page's callbacks.
//!
//! Each option is read by name with `Reflect.get` and converted on its own, so a wrong value is
//! reported with the option's name ("intervalMs must be a positive number of milliseconds, got
//! \"5 min\""), and an unknown name such as `intervalMS` fails loudly instead of being ignored.
//!
//! Why not serde-wasm-bindgen, which the events use: deserializing options with it added 18 KB
//! (gzipped) to the package, because serde's type-error path formats floats and so links Rust's
//! float printer; its errors also do not name the field.

use js_sys::{Array, Function, JSON, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::options::{Credentials, Options, OptionsError, Timing};

/// Every option `SessionKeeper` accepts, as JavaScript spells it.
const KNOWN: [&str; 20] = [
    "url",
    "sessionId",
    "intervalMs",
    "activityThrottleMs",
    "ttlMs",
    "failureWarningMs",
    "timeoutMs",
    "retryMinMs",
    "retryMaxMs",
    "beatOnStart",
    "activityEvents",
    "headers",
    "body",
    "credentials",
    "onHeartbeat",
    "onError",
    "onWarning",
    "onRecovered",
    "onExpired",
    "onStateChange",
];

/// The page's callbacks; each may be absent.
pub(crate) struct Callbacks {
    pub(crate) on_heartbeat: Option<Function>,
    pub(crate) on_error: Option<Function>,
    pub(crate) on_warning: Option<Function>,
    pub(crate) on_recovered: Option<Function>,
    pub(crate) on_expired: Option<Function>,
    pub(crate) on_state_change: Option<Function>,
}

/// Reads a JavaScript options object.
pub(crate) fn parse(value: &JsValue) -> Result<(Options, Callbacks), OptionsError> {
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(invalid("options", "must be an object such as { url: \"/api/heartbeat\" }"));
    }
    for key in Object::keys(value.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
        if !KNOWN.contains(&key.as_str()) {
            return Err(invalid(
                "options",
                &format!("have an unknown option `{key}`; known: {}", KNOWN.join(", ")),
            ));
        }
    }
    let get =
        |key: &str| Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    let defaults = Timing::default();
    let timing = Timing {
        interval_ms: millis("intervalMs", get("intervalMs"), defaults.interval_ms)?,
        activity_throttle_ms: millis(
            "activityThrottleMs",
            get("activityThrottleMs"),
            defaults.activity_throttle_ms,
        )?,
        ttl_ms: millis("ttlMs", get("ttlMs"), defaults.ttl_ms)?,
        failure_warning_ms: millis(
            "failureWarningMs",
            get("failureWarningMs"),
            defaults.failure_warning_ms,
        )?,
        timeout_ms: millis("timeoutMs", get("timeoutMs"), defaults.timeout_ms)?,
        retry_min_ms: millis("retryMinMs", get("retryMinMs"), defaults.retry_min_ms)?,
        retry_max_ms: millis("retryMaxMs", get("retryMaxMs"), defaults.retry_max_ms)?,
        beat_on_start: match get("beatOnStart") {
            v if v.is_undefined() => defaults.beat_on_start,
            v => v.as_bool().ok_or_else(|| {
                invalid("beatOnStart", &format!("must be true or false, got {}", describe(&v)))
            })?,
        },
    };
    let url = get("url");
    if url.is_undefined() || url.is_null() {
        return Err(OptionsError::MissingUrl);
    }
    let mut options = Options::new(
        url.as_string()
            .ok_or_else(|| invalid("url", &format!("must be a string, got {}", describe(&url))))?,
    );
    options.timing = timing;
    let session_id = get("sessionId");
    options.session_id = match session_id.as_f64() {
        // Numeric ids are common enough to take as they print.
        Some(n) if n.is_finite() => Some(number_text(n)),
        _ if session_id.is_undefined() || session_id.is_null() => None,
        _ => Some(session_id.as_string().ok_or_else(|| {
            invalid("sessionId", &format!("must be a string, got {}", describe(&session_id)))
        })?),
    };
    let events = get("activityEvents");
    if !events.is_undefined() {
        let list = events.dyn_ref::<Array>().ok_or_else(|| {
            invalid(
                "activityEvents",
                &format!("must be an array of event names, got {}", describe(&events)),
            )
        })?;
        options.activity_events = list
            .iter()
            .map(|name| {
                name.as_string().ok_or_else(|| {
                    invalid(
                        "activityEvents",
                        &format!("must hold strings, got {}", describe(&name)),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    let headers = get("headers");
    if !headers.is_undefined() {
        if !headers.is_object() || Array::is_array(&headers) {
            return Err(invalid(
                "headers",
                &format!("must be an object of strings, got {}", describe(&headers)),
            ));
        }
        options.headers = Object::entries(headers.unchecked_ref::<Object>())
            .iter()
            .map(|entry| {
                let entry: Array = entry.unchecked_into();
                let (name, value) = (entry.get(0).as_string().unwrap_or_default(), entry.get(1));
                let text = value.as_string().ok_or_else(|| {
                    invalid(
                        "headers",
                        &format!("values must be strings, got {} for \"{name}\"", describe(&value)),
                    )
                })?;
                Ok((name, text))
            })
            .collect::<Result<_, _>>()?;
    }
    let body = get("body");
    if !body.is_undefined() {
        if !body.is_object() || Array::is_array(&body) || body.is_function() {
            return Err(OptionsError::BodyNotObject);
        }
        let text = JSON::stringify(&body)
            .map_err(|_| invalid("body", "cannot be turned into JSON (a cycle, or a BigInt?)"))?;
        options.body = text.as_string().ok_or(OptionsError::BodyNotObject)?;
    }
    let credentials = get("credentials");
    if !credentials.is_undefined() {
        let mode = credentials.as_string().ok_or_else(|| {
            invalid("credentials", &format!("must be a string, got {}", describe(&credentials)))
        })?;
        options.credentials = Credentials::parse(&mode)?;
    }
    let callback = |name: &'static str| -> Result<Option<Function>, OptionsError> {
        match get(name) {
            v if v.is_undefined() || v.is_null() => Ok(None),
            v => v
                .dyn_into()
                .map(Some)
                .map_err(|v| invalid(name, &format!("must be a function, got {}", describe(&v)))),
        }
    };
    let callbacks = Callbacks {
        on_heartbeat: callback("onHeartbeat")?,
        on_error: callback("onError")?,
        on_warning: callback("onWarning")?,
        on_recovered: callback("onRecovered")?,
        on_expired: callback("onExpired")?,
        on_state_change: callback("onStateChange")?,
    };
    Ok((options, callbacks))
}

fn invalid(option: &'static str, message: &str) -> OptionsError {
    OptionsError::Invalid { option, message: message.to_string() }
}

/// A duration in milliseconds: absent gives the default, anything but a positive finite number
/// is an error naming the option.
fn millis(option: &'static str, value: JsValue, default: u64) -> Result<u64, OptionsError> {
    if value.is_undefined() {
        return Ok(default);
    }
    match value.as_f64() {
        Some(n) if n.is_finite() && n >= 0.5 => Ok(n.round() as u64),
        _ => Err(OptionsError::NotPositive { option, value: describe(&value) }),
    }
}

/// A value as an error message shows it: strings quoted, numbers as JavaScript prints them.
fn describe(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        format!("\"{text}\"")
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
    js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_default()
}
