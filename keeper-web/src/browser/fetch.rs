//! One heartbeat request: a JSON `fetch` POST that can be aborted, and its answer read into a
//! [`Reply`] for the core to judge.
//!
//! `fetch` is called through web-sys directly: gloo-net's request builder parses and rebuilds the
//! URL on every request and added about 2 KB (gzipped) to the package for nothing used here. The
//! request's options are one object, built once from JSON; only its abort signal changes.

use alloc::rc::Weak;
use alloc::string::String;

use js_sys::{JSON, Reflect};
use keeper_core::machine::RequestId;
use keeper_core::options::{Credentials, Endpoint};
use keeper_core::reply::{Body, Reply, ReplyBody, RetryAfter, redirected_elsewhere};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, Headers, RequestInit, Window};

use super::keeper::Shell;
use super::{Hook, one_shot, prop, then_call};
use crate::json::{JsonObject, push_string};

/// Where and how heartbeats are sent; fixed when the keeper is built.
pub(crate) struct Poster {
    url: String,
    init: RequestInit,
}

/// What the first half of an answer said, kept until its body is read.
pub(crate) struct Head {
    status: u16,
    retry_after: Option<RetryAfter>,
    content_type: Option<String>,
    redirected_to: Option<String>,
}

impl Poster {
    pub(crate) fn new(endpoint: &Endpoint, body: &str, credentials: Credentials) -> Self {
        let mut headers = JsonObject::new();
        headers.str("Content-Type", &endpoint.content_type);
        for (name, value) in &endpoint.headers {
            headers.str(name, value);
        }
        let mut body_text = String::new();
        push_string(&mut body_text, body);
        let init = JsonObject::new()
            .str("method", "POST")
            .str("credentials", credentials.as_str())
            .raw("body", &body_text)
            .raw("headers", &headers.finish())
            .parse();
        Poster { url: endpoint.url.clone(), init: init.unchecked_into() }
    }

    /// POSTs one heartbeat; its end reaches the shell as [`Hook::Response`], then
    /// [`Hook::Body`] or [`Hook::Failed`], for `request`. An aborted request still ends there
    /// (with an AbortError); the machine ignores the answer to a request it no longer waits for.
    pub(crate) fn post(
        &self,
        window: &Window,
        shell: &Weak<Shell>,
        request: RequestId,
    ) -> Option<AbortController> {
        let controller = AbortController::new().ok()?;
        let _ = Reflect::set(&self.init, &"signal".into(), &prop(&controller, "signal"));
        let promise = window.fetch_with_str_and_init(&self.url, &self.init);
        let on_response = one_shot(shell, Hook::Response(request));
        let read = then_call(&promise, &on_response, &JsValue::UNDEFINED);
        let on_body = one_shot(shell, Hook::Body(request));
        let _ = then_call(&read, &on_body, &one_shot(shell, Hook::Failed(request)));
        Some(controller)
    }

    /// What the first half of an answer says; `response` is a `Response`. Its properties are
    /// read with [`prop`], once per heartbeat: a typed binding for each would cost the package
    /// an import.
    pub(crate) fn head(&self, response: &JsValue) -> Head {
        let landed = prop(response, "url").as_string().unwrap_or_default();
        let headers: Headers = prop(response, "headers").unchecked_into();
        let redirected = prop(response, "redirected").as_bool() == Some(true);
        Head {
            status: prop(response, "status").as_f64().map_or(0, |status| status as u16),
            retry_after: headers
                .get("retry-after")
                .ok()
                .flatten()
                .and_then(|value| RetryAfter::read(&value, Some(js_sys::Date::parse(&value)))),
            content_type: headers.get("content-type").ok().flatten(),
            redirected_to: (redirected && redirected_elsewhere(&self.url, &landed))
                .then_some(landed),
        }
    }
}

/// How a request ended: its head if an answer came, and its body text if it could be read
/// (a body that cannot be read only loses its fields, as an empty one would), or the error.
pub(crate) fn reply(head: Option<Head>, text: Option<String>, error: &JsValue) -> Reply {
    match head {
        Some(head) => answer(head, text.as_deref().unwrap_or("")),
        None => Reply::Network { message: error_message(error) },
    }
}

fn answer(head: Head, text: &str) -> Reply {
    Reply::Http {
        status: head.status,
        retry_after: head.retry_after,
        content_type: head.content_type,
        redirected_to: head.redirected_to,
        body: read_body(text),
    }
}

/// `error.message` of a rejection, such as "Failed to fetch".
fn error_message(error: &JsValue) -> String {
    field(error, "message")
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the request failed".into())
}

/// Reads the fields the keeper cares about from a body: empty, JSON, or something else.
pub(crate) fn read_body(text: &str) -> Body {
    if text.trim_ascii().is_empty() {
        return Body::Empty;
    }
    match JSON::parse(text) {
        Ok(json) => Body::Json(read_fields(&json)),
        Err(_) => Body::Other,
    }
}

/// The fields of a JSON answer or push that the keeper reads.
pub(crate) fn read_fields(json: &JsValue) -> ReplyBody {
    let error = field(json, "error");
    let error_text = |key| error.as_ref().and_then(|e| field(e, key)).and_then(|v| v.as_string());
    ReplyBody {
        // An RFC 3339 text is read by the browser's date parser; a number is epoch ms.
        expires_at: field(json, "expires_at")
            .and_then(|v| v.as_f64().or_else(|| v.as_string().map(|t| js_sys::Date::parse(&t)))),
        ttl_seconds: field(json, "ttl_seconds").and_then(|v| v.as_f64()),
        error_code: error_text("code"),
        error_message: error_text("message"),
    }
}

/// `value[key]` when `value` is an object that has it.
pub(crate) fn field(value: &JsValue, key: &str) -> Option<JsValue> {
    if !value.is_object() {
        return None;
    }
    Some(prop(value, key)).filter(|v| !v.is_null_or_undefined())
}
