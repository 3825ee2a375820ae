//! `keeper-server`: the reference server of session-keeper.
//!
//! Sessions with a sliding TTL behind a JSON-only API, reproducing exactly the rules real clients
//! broke on: a heartbeat without `Content-Type: application/json` is refused with 415
//! (seed 004), a wrong heartbeat path is a 404 (seed 001), and an expired session is gone for
//! good. The wasm crate at the repository root is tested against it; its users read it as the
//! protocol's reference.
//!
//! The pieces:
//!
//! - [`app()`] builds the whole router from an [`AppState`] (store, clock, settings);
//! - [`serve::serve`] runs it with graceful shutdown and the demo's real outages;
//! - [`store::SessionStore`] is the storage trait, [`store::MemoryStore`] the embedded store;
//! - [`clock::Clock`] is where time comes from, [`clock::ManualClock`] for tests;
//! - [`probe`] checks a live server from the command line.
//!
//! ```no_run
//! use std::sync::Arc;
//! use keeper_server::{AppConfig, AppState, app};
//! use keeper_server::clock::SystemClock;
//! use keeper_server::serve::serve;
//! use keeper_server::store::{MemoryStore, MemoryStoreConfig};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn run() -> std::io::Result<()> {
//! let state = AppState::new(
//!     MemoryStore::new(MemoryStoreConfig::default()),
//!     Arc::new(SystemClock),
//!     AppConfig::default(),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let outages = state.outages().clone();
//! serve(listener, app(state), outages, CancellationToken::new()).await
//! # }
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod content_type;
pub mod demo;
pub mod error;
pub mod json_body;
pub mod probe;
pub mod serve;
pub mod store;

pub use app::{AppConfig, AppState, app};
pub use error::ApiError;
