//! One heartbeat request: a JSON `fetch` POST that can be aborted, and its answer read into a
//! [`Reply`] for the core to judge.
//!
//! `fetch` is called through web-sys directly: gloo-net's request builder parses and rebuilds the
//! URL on every request and added about 2 KB (gzipped) to the package for nothing used here. The
//! request's options are one object, built once from JSON; only its abort signal changes.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::Cell;

use js_sys::{JSON, Reflect};
use keeper_core::options::{Credentials, Endpoint};
use keeper_core::reply::{Body, Reply, ReplyBody, RetryAfter, redirected_elsewhere};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, RequestInit, Response, Window};

use super::{one_shot, then_call};
use crate::json::{JsonObject, push_string};

/// Where and how heartbeats are sent; fixed when the keeper is built.
pub(crate) struct Poster {
    url: String,
    init: RequestInit,
}

/// Where a request's end is reported, once.
type Report = Box<dyn FnOnce(Reply)>;

/// What the first half of an answer said, kept until its body is read.
struct Head {
    status: u16,
    retry_after: Option<RetryAfter>,
    content_type: Option<String>,
    redirected_to: Option<String>,
}

impl Poster {
    pub(crate) fn new(endpoint: &Endpoint, body: &str, credentials: Credentials) -> Self {
        let mut headers = JsonObject::new().str("Content-Type", &endpoint.content_type);
        for (name, value) in &endpoint.headers {
            headers = headers.str(name, value);
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

    /// POSTs one heartbeat and calls `report` once with how it ended; a request aborted with
    /// the returned controller reports nothing.
    pub(crate) fn post(
        &self,
        window: &Window,
        report: impl FnOnce(Reply) + 'static,
    ) -> Option<AbortController> {
        let controller = AbortController::new().ok()?;
        let signal = controller.signal();
        let _ = Reflect::set(&self.init, &"signal".into(), &signal);
        let promise = window.fetch_with_str_and_init(&self.url, &self.init);
        let head: Rc<Cell<Option<Head>>> = Rc::default();
        let report: Cell<Option<Report>> = Cell::new(Some(Box::new(report)));
        let url = self.url.clone();
        let seen = head.clone();
        let on_response =
            one_shot(move |value| {
                let response: Response = value.unchecked_into();
                let landed = response.url();
                let headers = response.headers();
                seen.set(Some(Head {
                    status: response.status(),
                    retry_after: headers.get("retry-after").ok().flatten().and_then(|value| {
                        RetryAfter::read(&value, Some(js_sys::Date::parse(&value)))
                    }),
                    content_type: headers.get("content-type").ok().flatten(),
                    redirected_to: (response.redirected() && redirected_elsewhere(&url, &landed))
                        .then_some(landed),
                }));
                response.text().map(JsValue::from).unwrap_or_default()
            });
        // An aborted request still ends here (with an AbortError); the machine ignores the
        // answer to a request it no longer waits for.
        let finish = move |text: Option<String>, error: JsValue| {
            let reply = match head.take() {
                Some(head) => answer(head, text.as_deref().unwrap_or("")),
                None => Reply::Network { message: error_message(&error) },
            };
            if let Some(report) = report.take() {
                report(reply);
            }
        };
        let finish = Rc::new(finish);
        let (on_text, on_error) = (finish.clone(), finish);
        let on_text = one_shot(move |text| {
            on_text(text.as_string(), JsValue::UNDEFINED);
            JsValue::UNDEFINED
        });
        // A body that cannot be read only loses its fields, as an empty one would.
        let on_error = one_shot(move |error| {
            on_error(None, error);
            JsValue::UNDEFINED
        });
        let read = then_call(&promise, &on_response, &JsValue::UNDEFINED);
        let _ = then_call(&read, &on_text, &on_error);
        Some(controller)
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
    Reflect::get(value, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}
