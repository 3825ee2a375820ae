//! The browser shell: the thin layer that feeds the [core](crate::keeper_core) real time and
//! real events, and carries its commands out with `fetch`, one timer, DOM listeners, a
//! `BroadcastChannel`, a Web Lock and a WebSocket.
//!
//! Every callback the shell hands the browser is the same closure, a [`Hook`] on the shell, and
//! promises are followed with plain callbacks rather than Rust futures: each closure type (its
//! boxing, vtable, drop and call shims) and the futures executor would otherwise add their own
//! code to the package.

mod fetch;
mod keeper;
mod listen;
mod live;
mod tabs;

use alloc::boxed::Box;
use alloc::rc::Weak;

use keeper_core::machine::RequestId;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

pub use keeper::{BeatOutcome, KeeperError, Shell};

/// A callback the browser calls: an event listener, a timer, a promise handler, a socket or
/// channel handler. Its return value is a promise's next value where that matters.
type Handler = Closure<dyn FnMut(JsValue) -> JsValue>;

/// What a browser callback tells the shell; [`Shell::on`] handles each.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hook {
    /// The timer fired.
    Tick,
    /// A DOM event that counts as user activity.
    Activity,
    /// A page lifecycle or network event (`visibilitychange`, `online`, `pagehide`...).
    Lifecycle,
    /// A message from another tab on the `BroadcastChannel`.
    TabMessage,
    /// The Web Lock was granted; what this returns holds it.
    LockGranted,
    /// An `open`, `message` or `close` event on the live channel's socket.
    Live,
    /// A heartbeat's `Response` arrived; this returns the promise of its body text.
    Response(RequestId),
    /// A heartbeat's body text arrived.
    Body(RequestId),
    /// A heartbeat's request or body read failed.
    Failed(RequestId),
    /// A rejection that is expected and means nothing (a lock request given up).
    Ignore,
}

/// A callback that hands `hook` and its value to the shell, if the shell is still there.
fn hook(shell: &Weak<Shell>, hook: Hook) -> Handler {
    let shell = shell.clone();
    let f = move |value| match shell.upgrade() {
        Some(shell) => shell.on(hook, value),
        None => JsValue::UNDEFINED,
    };
    Closure::wrap(Box::new(f) as Box<dyn FnMut(JsValue) -> JsValue>)
}

/// A hook handed over to JavaScript for good: freed when the browser no longer references it,
/// so a promise that settles after its keeper is gone calls nothing that was dropped.
fn one_shot(shell: &Weak<Shell>, hook: Hook) -> js_sys::Function {
    self::hook(shell, hook).into_js_value().unchecked_into()
}

/// `window`, or `None` outside a browser page (a server-side render, a worker).
fn window() -> Option<web_sys::Window> {
    WINDOW.with(Clone::clone)
}

/// `object[key]`, or `undefined`: for the few properties read once, where a typed binding would
/// cost one more import in the package.
pub(crate) fn prop(object: &JsValue, key: &str) -> JsValue {
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

    /// Anything with a `close()` that does not throw when called without arguments: a
    /// `BroadcastChannel`, a `WebSocket`. One import for both.
    type Closable;

    #[wasm_bindgen(method)]
    fn close(this: &Closable);
}

/// `target.close()`.
fn close(target: &JsValue) {
    target.unchecked_ref::<Closable>().close();
}

/// `promise.then(ok, err)` with plain functions; an `undefined` handler passes the value or the
/// rejection on to the next `then`.
fn then_call(promise: &JsValue, ok: &JsValue, err: &JsValue) -> js_sys::Promise {
    promise.unchecked_ref::<Thenable>().then(ok, err)
}
