//! The live channel's socket. The [core](keeper_core::live) decides when to connect; this only
//! opens the WebSocket and turns what happens on it into inputs.

use alloc::rc::Weak;

use keeper_core::live::Push;
use keeper_core::machine::Input;
use wasm_bindgen::JsValue;
use web_sys::WebSocket;

use super::fetch::{field, read_fields};
use super::keeper::Shell;
use super::listen::Listeners;
use super::{Hook, hook, prop};

/// An open (or opening) live channel; dropping it closes the socket and silences its handlers.
pub(crate) struct LiveSocket {
    socket: WebSocket,
    _listeners: Listeners,
}

impl LiveSocket {
    /// Opens `url`; `None` when the browser refuses the URL at once.
    pub(crate) fn open(url: &str, shell: &Weak<Shell>) -> Option<LiveSocket> {
        let socket = WebSocket::new(url).ok()?;
        let mut listeners = Listeners::new(hook(shell, Hook::Live));
        for kind in ["open", "message", "close"] {
            listeners.on(&socket, kind);
        }
        Some(LiveSocket { socket, _listeners: listeners })
    }
}

/// What a socket event means for the machine.
pub(crate) fn input_of(event: &JsValue) -> Option<Input> {
    match prop(event, "type").as_string().as_deref().unwrap_or("") {
        "open" => Some(Input::LinkUp),
        "close" => Some(Input::LinkDown),
        _ => {
            let text = prop(event, "data").as_string()?;
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
        super::close(&self.socket);
    }
}
