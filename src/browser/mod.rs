//! The browser shell: the thin layer that feeds the [core](crate::core) real time and real
//! events, and carries its commands out with `fetch`, one timer and DOM listeners.

mod http;
mod keeper;
mod listeners;

pub use keeper::{BeatError, Keeper, KeeperError};

/// The wall clock, in epoch milliseconds. Wall time, not a monotonic clock, on purpose: it keeps
/// running while a laptop sleeps, which is what the session's TTL does too.
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}
