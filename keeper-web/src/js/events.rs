//! Events as the plain JavaScript objects the `.d.ts` describes, handed to the page's callbacks.
//!
//! Each payload is written as JSON and parsed once: smaller in the package than setting each
//! property from Rust, or than serde-wasm-bindgen (which this crate used to ship; see the
//! README's size table for what it cost).

use js_sys::Function;
use keeper_core::event::{Event, Failure, Heartbeat};
use wasm_bindgen::JsValue;

use super::options::{CALLBACKS, Callbacks};
use crate::json::JsonObject;

impl Callbacks {
    /// Calls the callback for `event`, if the page gave one. A callback that throws is logged
    /// and otherwise ignored: the page's bug must not stop the keeper.
    pub(crate) fn dispatch(&self, event: &Event) {
        let index = match event {
            Event::Heartbeat(_) => 0,
            Event::Error(_) => 1,
            Event::Warning { .. } => 2,
            Event::Recovered { .. } => 3,
            Event::Expired { .. } => 4,
            Event::StateChange { .. } => 5,
            Event::Prompt { .. } => 6,
            Event::Idle { .. } => 7,
            Event::Active { .. } => 8,
            Event::LeaderChange { .. } => 9,
        };
        if let Some(Some(callback)) = self.0.get(index) {
            call(callback, &payload(event), CALLBACKS[index]);
        }
    }
}

fn call(callback: &Function, payload: &JsValue, name: &str) {
    if let Err(thrown) = callback.call1(&JsValue::UNDEFINED, payload) {
        let message = keeper_core::text::concat(&["session-keeper: ", name, " threw"]);
        web_sys::console::error_2(&message.into(), &thrown);
    }
}

fn payload(event: &Event) -> JsValue {
    let object = JsonObject::new();
    match event {
        Event::Heartbeat(h) => return heartbeat(h),
        Event::Error(f) => return failure(f),
        Event::Warning { since, failures, source } => object
            .num("since", *since)
            .num("failures", u64::from(*failures))
            .str("source", source.as_str()),
        Event::Recovered { failures, downtime_ms, source } => object
            .num("failures", u64::from(*failures))
            .num("downtimeMs", *downtime_ms)
            .str("source", source.as_str()),
        Event::Expired { reason, source } => {
            object.str("reason", reason.as_str()).str("source", source.as_str())
        }
        Event::StateChange { from, to } => object.str("from", from.as_str()).str("to", to.as_str()),
        Event::Prompt { idle_at, remaining_ms } => {
            object.num("idleAt", *idle_at).num("remainingMs", *remaining_ms)
        }
        Event::Idle { idle_at } => object.num("idleAt", *idle_at),
        Event::Active { source } => object.str("source", source.as_str()),
        Event::LeaderChange { leader } => object.bool("isLeader", *leader),
    }
    .parse()
}

/// `HeartbeatEvent` in the `.d.ts`; also what `beat()` resolves with on success.
pub(crate) fn heartbeat(h: &Heartbeat) -> JsValue {
    JsonObject::new()
        .bool("ok", true)
        .str("reason", h.reason.as_str())
        .num("status", u64::from(h.status))
        .num("sentAt", h.sent_at)
        .num("expiresAt", h.expires_at)
        .num("latencyMs", h.latency_ms)
        .str("source", h.source.as_str())
        .parse()
}

/// `FailureEvent` in the `.d.ts`; also what `beat()` resolves with on failure.
pub(crate) fn failure(f: &Failure) -> JsValue {
    JsonObject::new()
        .bool("ok", false)
        .str("reason", f.reason.as_str())
        .num("status", u64::from(f.status))
        .str("code", &f.code)
        .str("message", &f.message)
        .num("sentAt", f.sent_at)
        .str("source", f.source.as_str())
        .parse()
}
