//! The DOM listeners a running keeper holds: user activity, page visibility and network status.
//!
//! Each is a gloo [`EventListener`], which removes itself when dropped, so stopping the keeper
//! is dropping a [`Listeners`] and nothing can leak.

use std::cell::Cell;
use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use web_sys::{Document, VisibilityState, Window};

use super::now_ms;
use crate::core::machine::Input;

/// Feeds an input to the keeper that owns the listeners.
pub(crate) type Feed = Rc<dyn Fn(Input)>;

/// Every listener of one running keeper.
pub(crate) struct Listeners(#[allow(dead_code)] Vec<EventListener>);

impl Listeners {
    /// Listens for `activity_events` on `document` and for the page and network changes that
    /// make the keeper look at the wall clock again.
    ///
    /// `gate` is the time before which activity cannot send a heartbeat. Checking it here keeps
    /// the activity handler, which runs on every mouse move, to one clock read and one
    /// comparison: no allocation, no string crossing into wasm, no borrow of the keeper.
    pub(crate) fn attach(
        window: &Window,
        document: &Document,
        activity_events: &[String],
        gate: Rc<Cell<u64>>,
        feed: Feed,
    ) -> Self {
        let passive = EventListenerOptions { phase: EventListenerPhase::Capture, passive: true };
        let mut listeners: Vec<EventListener> = activity_events
            .iter()
            .map(|name| {
                let (gate, feed) = (gate.clone(), feed.clone());
                EventListener::new_with_options(document, name.clone(), passive, move |_| {
                    if now_ms() >= gate.get() {
                        feed(Input::Activity);
                    }
                })
            })
            .collect();
        let visible_feed = feed.clone();
        let page = document.clone();
        listeners.push(EventListener::new(document, "visibilitychange", move |_| {
            if page.visibility_state() == VisibilityState::Visible {
                visible_feed(Input::Visible);
            }
        }));
        let online_feed = feed.clone();
        listeners.push(EventListener::new(window, "online", move |_| online_feed(Input::Online)));
        listeners.push(EventListener::new(window, "offline", move |_| feed(Input::Offline)));
        Listeners(listeners)
    }
}
