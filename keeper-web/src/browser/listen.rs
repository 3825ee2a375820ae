//! DOM listeners that remove themselves: a [`Listeners`] set is one handler added for several
//! event types, and dropping the set removes every one of them, so nothing can leak.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::JsCast;
use web_sys::EventTarget;

use super::Handler;

/// One handler, listening in the capture phase for several event types on several targets.
pub(crate) struct Listeners {
    handler: Handler,
    attached: Vec<(EventTarget, String)>,
}

impl Listeners {
    pub(crate) fn new(handler: Handler) -> Self {
        Listeners { handler, attached: Vec::new() }
    }

    /// Listens for `kind` on `target`. Capture, so that scrolling inside any element counts; the
    /// browsers treat touch and wheel listeners on the document as passive already.
    pub(crate) fn on(&mut self, target: &EventTarget, kind: &str) {
        let function = self.handler.as_ref().unchecked_ref();
        if target.add_event_listener_with_callback_and_bool(kind, function, true).is_ok() {
            self.attached.push((target.clone(), kind.into()));
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let function = self.handler.as_ref().unchecked_ref();
        for (target, kind) in &self.attached {
            let _ = target.remove_event_listener_with_callback_and_bool(kind, function, true);
        }
    }
}
