//! One heartbeat request: a JSON `fetch` POST that can be aborted, and its answer read into a
//! [`Reply`] for the core to judge.
//!
//! `fetch` is called through web-sys directly: gloo-net's request builder parses and rebuilds the
//! URL on every request and added about 2 KB (gzipped) to the package for nothing used here.

use js_sys::{JSON, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCredentials, RequestInit, Response, Window};

use crate::core::options::Credentials;
use crate::core::reply::{ExpiresAt, Reply, ReplyBody};

/// Where and how heartbeats are sent; fixed when the keeper is built.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) credentials: Credentials,
}

impl Endpoint {
    /// POSTs one heartbeat. Never fails: every way a request can end is a [`Reply`].
    pub(crate) async fn post(&self, window: &Window, signal: &AbortSignal) -> Reply {
        match self.fetch(window, signal).await {
            Ok(reply) => reply,
            Err(error) => Reply::Network { message: error_message(&error) },
        }
    }

    async fn fetch(&self, window: &Window, signal: &AbortSignal) -> Result<Reply, JsValue> {
        let headers = Headers::new()?;
        // The whole reason this crate exists (seed 004): without it the server answers 415.
        headers.set("Content-Type", "application/json")?;
        for (name, value) in &self.headers {
            headers.set(name, value)?;
        }
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(&self.body));
        init.set_signal(Some(signal));
        init.set_credentials(match self.credentials {
            Credentials::Omit => RequestCredentials::Omit,
            Credentials::SameOrigin => RequestCredentials::SameOrigin,
            Credentials::Include => RequestCredentials::Include,
        });
        let response: Response = JsFuture::from(window.fetch_with_str_and_init(&self.url, &init))
            .await?
            .unchecked_into();
        // A body that cannot be read or parsed only loses the optional fields.
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        };
        Ok(Reply::Http {
            status: response.status(),
            retry_after: response.headers().get("retry-after").ok().flatten(),
            body: text.map(|text| read_body(&text)).unwrap_or_default(),
        })
    }
}

/// `error.message` of a rejection, such as "Failed to fetch".
fn error_message(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the request failed".into())
}

/// Reads the fields the keeper cares about from a JSON body; anything else gives defaults.
fn read_body(text: &str) -> ReplyBody {
    let Ok(json) = JSON::parse(text) else {
        return ReplyBody::default();
    };
    let error = field(&json, "error");
    let error_text = |key| error.as_ref().and_then(|e| field(e, key)).and_then(|v| v.as_string());
    ReplyBody {
        expires_at: field(&json, "expires_at").and_then(|v| {
            v.as_string().map(ExpiresAt::Text).or_else(|| v.as_f64().map(ExpiresAt::EpochMs))
        }),
        ttl_seconds: field(&json, "ttl_seconds").and_then(|v| v.as_f64()),
        error_code: error_text("code"),
        error_message: error_text("message"),
    }
}

/// `value[key]` when `value` is an object that has it.
fn field(value: &JsValue, key: &str) -> Option<JsValue> {
    if !value.is_object() {
        return None;
    }
    Reflect::get(value, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}
