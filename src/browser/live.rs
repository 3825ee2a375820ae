//! The live channel's socket. The [core](keeper_core::live) decides when to connect; this only
//! opens the WebSocket and turns what happens on it into inputs.

use alloc::rc::Weak;

use keeper_core::live::Push;
use keeper_core::machine::Input;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, MessageEvent, WebSocket};

use super::fetch::{field, read_fields};
use super::keeper::Shell;
use super::{Handler, handler};

/// An open (or opening) live channel; dropping it closes the socket and silences its handlers.
pub(crate) struct LiveSocket {
    socket: WebSocket,
    _handler: Handler,
}

impl LiveSocket {
    /// Opens `url`; `None` when the browser refuses the URL at once.
    pub(crate) fn open(url: &str, shell: Weak<Shell>) -> Option<LiveSocket> {
        let socket = WebSocket::new(url).ok()?;
        let on_event = handler(move |event| {
            if let Some(shell) = shell.upgrade()
                && let Some(input) = input_of(&event)
            {
                shell.feed(input);
            }
            JsValue::UNDEFINED
        });
        let function = Some(on_event.as_ref().unchecked_ref());
        socket.set_onopen(function);
        socket.set_onmessage(function);
        socket.set_onclose(function);
        Some(LiveSocket { socket, _handler: on_event })
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
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
