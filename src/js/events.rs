//! Events as the plain JavaScript objects the `.d.ts` describes, handed to the page's callbacks.
//!
//! Each payload is a small struct serialized by serde-wasm-bindgen, so its shape is declared
//! once, in Rust, next to the TypeScript that describes it.

use js_sys::Function;
use serde::Serialize;
use wasm_bindgen::JsValue;

use super::options::Callbacks;
use crate::core::event::{Event, Failure, Heartbeat};

/// `HeartbeatEvent` in the `.d.ts`; also what `beat()` resolves with on success.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatPayload {
    ok: bool,
    reason: &'static str,
    status: u16,
    sent_at: f64,
    expires_at: f64,
    latency_ms: f64,
}

/// `FailureEvent` in the `.d.ts`; also what `beat()` resolves with on failure.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailurePayload<'a> {
    ok: bool,
    reason: &'static str,
    status: u16,
    code: &'a str,
    message: &'a str,
    sent_at: f64,
}

#[derive(Serialize)]
struct WarningPayload {
    since: f64,
    failures: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveredPayload {
    failures: u32,
    downtime_ms: f64,
}

#[derive(Serialize)]
struct ExpiredPayload {
    reason: &'static str,
}

#[derive(Serialize)]
struct StateChangePayload {
    from: &'static str,
    to: &'static str,
}

impl Callbacks {
    /// Calls the callback for `event`, if the page gave one. A callback that throws is logged
    /// and otherwise ignored: the page's bug must not stop the keeper.
    pub(crate) fn dispatch(&self, event: &Event) {
        let (callback, name) = match event {
            Event::Heartbeat(_) => (&self.on_heartbeat, "onHeartbeat"),
            Event::Error(_) => (&self.on_error, "onError"),
            Event::Warning { .. } => (&self.on_warning, "onWarning"),
            Event::Recovered { .. } => (&self.on_recovered, "onRecovered"),
            Event::Expired { .. } => (&self.on_expired, "onExpired"),
            Event::StateChange { .. } => (&self.on_state_change, "onStateChange"),
        };
        if let Some(callback) = callback {
            call(callback, &payload(event), name);
        }
    }
}

fn call(callback: &Function, payload: &JsValue, name: &str) {
    if let Err(thrown) = callback.call1(&JsValue::UNDEFINED, payload) {
        web_sys::console::error_2(&format!("session-keeper: {name} threw").into(), &thrown);
    }
}

fn payload(event: &Event) -> JsValue {
    match event {
        Event::Heartbeat(h) => heartbeat(h),
        Event::Error(f) => failure(f),
        Event::Warning { since, failures } => {
            to_js(&WarningPayload { since: *since as f64, failures: *failures })
        }
        Event::Recovered { failures, downtime_ms } => {
            to_js(&RecoveredPayload { failures: *failures, downtime_ms: *downtime_ms as f64 })
        }
        Event::Expired { reason } => to_js(&ExpiredPayload { reason: reason.as_str() }),
        Event::StateChange { from, to } => {
            to_js(&StateChangePayload { from: from.as_str(), to: to.as_str() })
        }
    }
}

pub(crate) fn heartbeat(h: &Heartbeat) -> JsValue {
    to_js(&HeartbeatPayload {
        ok: true,
        reason: h.reason.as_str(),
        status: h.status,
        sent_at: h.sent_at as f64,
        expires_at: h.expires_at as f64,
        latency_ms: h.latency_ms as f64,
    })
}

pub(crate) fn failure(f: &Failure) -> JsValue {
    to_js(&FailurePayload {
        ok: false,
        reason: f.reason.as_str(),
        status: f.status,
        code: &f.code,
        message: &f.message,
        sent_at: f.sent_at as f64,
    })
}

/// Plain structs of numbers and strings always serialize; `undefined` would only mark a bug.
fn to_js(payload: &impl Serialize) -> JsValue {
    serde_wasm_bindgen::to_value(payload).unwrap_or(JsValue::UNDEFINED)
}
