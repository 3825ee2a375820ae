//! Keeps a web application's server session alive from the browser, and tells the page when it
//! cannot.
//!
//! A keeper POSTs a heartbeat with `Content-Type: application/json` every `intervalMs` (5 min)
//! and on user activity at most once per `activityThrottleMs` (1 min), against a server session
//! TTL of `ttlMs` (20 min). It reads every answer: a 415 or any other refusal is an error event
//! with the server's code, a 404 means the session is gone, a redirect to a login page is not
//! mistaken for success, a server down for minutes gives a warning and then a recovery, and a
//! laptop that slept past the TTL is reported as expired instead of pretended away. Tabs of one
//! session share one stream of heartbeats; an optional idle policy signs an absent user out with
//! a prompt first; an optional live channel hears a revoked session at once. This crate was born
//! of two real bugs: a heartbeat sent without a JSON Content-Type that the server refused with
//! 415 for months, and one sent to a wrong path whose 404 silently dropped the session.
//!
//! Three layers:
//!
//! - [`keeper_core`] (its own crate, re-exported): every rule, as a state machine that takes the
//!   current time as an input. No browser, no clock, no I/O, so it is tested natively in
//!   simulated time.
//! - the browser shell, seen from Rust as [`Keeper`]: feeds the core the wall clock, one timer,
//!   DOM listeners, `fetch`, a `BroadcastChannel`, a Web Lock and a WebSocket, and carries out
//!   its commands. Dropping it releases everything.
//! - the JavaScript binding, `SessionKeeper` (the `js` feature): options and events as plain
//!   objects, with TypeScript types. The npm package, the crate `session-keeper` at the root of
//!   the repository, is this binding built alone.
//!
//! From JavaScript (the npm package, `wasm-pack build --release --target web`):
//!
//! ```js
//! import init, { SessionKeeper } from "session-keeper";
//! await init();
//! const keeper = new SessionKeeper({
//!   url: "/api/v1/session/{sessionId}/heartbeat",
//!   sessionId,
//!   onExpired: (e) => location.assign(`/login?reason=${e.reason}`),
//! });
//! keeper.start();
//! ```
//!
//! From Rust (a Leptos, Yew or Dioxus app), see [`Keeper`].
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod browser;
#[cfg(feature = "js")]
mod js;
mod json;
mod keeper;

#[cfg(feature = "js")]
pub use js::SessionKeeper;
pub use keeper::{BeatError, Keeper, KeeperError};
pub use keeper_core;
