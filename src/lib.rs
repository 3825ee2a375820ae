//! Keeps a web application's server session alive from the browser.
#![deny(missing_docs)]

mod browser;
pub mod core;
mod js;

pub use browser::{BeatError, Keeper, KeeperError};
pub use js::SessionKeeper;
