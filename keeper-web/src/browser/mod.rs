//! The browser shell: the thin layer that feeds the [core](crate::keeper_core) real time and
//! real events, and carries its commands out with `fetch`, one timer, DOM listeners, a
//! `BroadcastChannel`, a Web Lock and a WebSocket.
//!
//! Every callback the shell hands the browser is the same closure type, and promises are
//! followed with plain callbacks rather than Rust futures: each closure type and the futures
//! executor would otherwise add their own glue to the package.

mod fetch;
mod keeper;
mod listen;
mod live;
mod tabs;

use alloc::boxed::Box;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

pub use keeper::{BeatOutcome, KeeperError, Shell};

/// A callback the browser calls: an event listener, a timer, a promise handler, a socket or
/// channel handler. Its return value is a promise's next value where that matters.
type Handler = Closure<dyn FnMut(JsValue) -> JsValue>;

fn handler(f: impl FnMut(JsValue) -> JsValue + 'static) -> Handler {
    Closure::wrap(Box::new(f) as Box<dyn FnMut(JsValue) -> JsValue>)
}

/// A handler handed over to JavaScript for good: freed when the browser no longer references
/// it, so a promise that settles after its keeper is gone calls nothing that was dropped.
fn one_shot(f: impl FnMut(JsValue) -> JsValue + 'static) -> js_sys::Function {
    handler(f).into_js_value().unchecked_into()
}

/// `window`, or `None` outside a browser page (a server-side render, a worker).
fn window() -> Option<web_sys::Window> {
    WINDOW.with(Clone::clone)
}

/// `object[key]`, or `undefined`: for the few properties read once, where a typed binding would
/// cost one more import in the package.
fn prop(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The wall clock, in epoch milliseconds. Wall time, not a monotonic clock, on purpose: it keeps
/// running while a laptop sleeps, which is what the session's TTL does too.
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: Option<web_sys::Window>;

    /// Anything with a `then` method: a promise.
    type Thenable;

    #[wasm_bindgen(method)]
    fn then(this: &Thenable, ok: &JsValue, err: &JsValue) -> js_sys::Promise;
}

/// `promise.then(ok, err)` with plain functions; an `undefined` handler passes the value or the
/// rejection on to the next `then`.
fn then_call(promise: &JsValue, ok: &JsValue, err: &JsValue) -> js_sys::Promise {
    promise.unchecked_ref::<Thenable>().then(ok, err)
}
