//! The live channel's socket. The [core](keeper_core::live) decides when to connect; this only
//! opens the WebSocket and turns what happens on it into inputs.

use alloc::rc::Weak;

use keeper_core::live::Push;
use keeper_core::machine::Input;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, MessageEvent, WebSocket};

use super::fetch::{field, read_fields};
use super::handler;
use super::keeper::Shell;
use super::listen::Listeners;

/// An open (or opening) live channel; dropping it closes the socket and silences its handlers.
pub(crate) struct LiveSocket {
    socket: WebSocket,
    _listeners: Listeners,
}

impl LiveSocket {
    /// Opens `url`; `None` when the browser refuses the URL at once.
    pub(crate) fn open(url: &str, shell: Weak<Shell>) -> Option<LiveSocket> {
        let socket = WebSocket::new(url).ok()?;
        let mut listeners = Listeners::new(handler(move |event| {
            if let Some(shell) = shell.upgrade()
                && let Some(input) = input_of(&event)
            {
                shell.feed(input);
            }
            JsValue::UNDEFINED
        }));
        for kind in ["open", "message", "close"] {
            listeners.on(&socket, kind);
        }
        Some(LiveSocket { socket, _listeners: listeners })
    }
}

fn input_of(event: &JsValue) -> Option<Input> {
    match event.unchecked_ref::<Event>().type_().as_str() {
        "open" => Some(Input::LinkUp),
        "close" => Some(Input::LinkDown),
        _ => {
            let text = event.unchecked_ref::<MessageEvent>().data().as_string()?;
            let json = js_sys::JSON::parse(&text).ok()?;
            let text_of = |key| field(&json, key).and_then(|v| v.as_string());
            let kind = text_of("type")?;
            Push::read(&kind, text_of("reason").as_deref(), read_fields(&json)).map(Input::Push)
        }
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        // The listeners are removed as the fields drop, after the close: its event is not heard.
        let _ = self.socket.close();
    }
}
