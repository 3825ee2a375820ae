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
//! - [`app()`] builds the whole router from an [`AppState`] (store, clock, settings, live hub,
//!   metrics), with the [`demo`] endpoints when asked;
//! - [`serve::serve`] runs it with connection limits and a bounded graceful shutdown;
//! - [`store::SessionStore`] is the storage trait, with [`store::MemoryStore`] (embedded) and
//!   [`store::RedisStore`] (shared by several instances) behind [`store::AnyStore`];
//! - [`live`] pushes session changes over a WebSocket; [`metrics`] counts for `/metrics`;
//! - [`clock::Clock`] is where time comes from, [`clock::ManualClock`] for tests;
//! - [`probe`] checks a live server from the command line.
//!
//! ```no_run
//! use std::sync::Arc;
//! use keeper_server::{AppConfig, AppState, app};
//! use keeper_server::clock::SystemClock;
//! use keeper_server::serve::{Limits, serve};
//! use keeper_server::store::{MemoryStore, MemoryStoreConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let state = AppState::new(
//!     MemoryStore::new(MemoryStoreConfig::default()),
//!     Arc::new(SystemClock),
//!     AppConfig::default(),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(listener, app(state, None), Limits::default(), tokio::signal::ctrl_c().map(drop)).await
//! # }
//! # use futures_util::FutureExt;
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod content_type;
pub mod demo;
pub mod error;
pub mod guard;
pub mod json_body;
pub mod live;
pub mod metrics;
pub mod probe;
pub mod rate_limit;
pub mod serve;
pub mod state;
pub mod static_files;
pub mod store;

pub use app::app;
pub use error::ApiError;
pub use state::{AppConfig, AppState};
