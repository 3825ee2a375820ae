//! The pure core: every rule about when to send a heartbeat and what an answer means, with no
//! browser in sight.
//!
//! Nothing here reads a clock, touches the DOM or does I/O. The current time is an argument, so
//! the rules run natively under `cargo test` with simulated time: hours of heartbeats, sleeps and
//! outages checked in milliseconds, without sleeping. The browser shell ([`Keeper`](crate::Keeper))
//! only feeds inputs in and carries commands out.
//!
//! - [`options`]: the options, their defaults and their validation.
//! - [`machine`]: the scheduling state machine.
//! - [`reply`]: what each server answer means.
//! - [`event`]: the states, reasons and events the page sees.
//! - [`date`]: the date formats answers carry.
//! - [`sim`]: a driver that runs the machine through simulated time.

pub mod date;
pub mod event;
pub mod machine;
pub mod options;
pub mod reply;
pub mod sim;
