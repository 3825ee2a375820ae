//! The pure core of [session-keeper]: every rule about when to send a heartbeat and what an
//! answer means, with no browser in sight.
//!
//! Nothing here reads a clock, touches the DOM or does I/O: the crate is `#![no_std]` and has no
//! dependencies, so purity is a compile error rather than a convention. The current time is an
//! argument, so the rules run natively under `cargo test` with simulated time: hours of
//! heartbeats, sleeps, outages and tabs that come and go, checked in milliseconds without
//! sleeping. The browser shell only feeds inputs in and carries commands out.
//!
//! - [`options`]: the options, their defaults and their validation.
//! - [`machine`]: the scheduling state machine.
//! - [`reply`]: what each server answer means.
//! - the idle policy's clock (private, driven by [`machine`]): prompt, idle, active again.
//! - [`event`]: the states, reasons and events the page sees.
//! - [`tabs`]: what the tabs of one session tell each other.
//! - [`election`]: choosing the leader tab where the Web Locks API is missing.
//! - [`live`]: the live channel's messages and reconnect rules.
//! - [`text`]: decimal numbers without `core::fmt`.
//! - [`sim`]: drivers that run machines through simulated time.
//!
//! [session-keeper]: https://github.com/session-keeper/session-keeper
#![no_std]
#![deny(missing_docs)]
// Text is built from `&str` only, one-character strings included: `String::push(char)`, which
// this lint asks for, is not inlined at opt-level "z" and brings UTF-8 encoding into the package.
#![allow(clippy::single_char_add_str)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod election;
pub mod event;
pub mod live;
pub mod machine;
pub mod options;
mod presence;
pub mod reply;
pub mod sim;
pub mod tabs;
pub mod text;
