//! What every handler shares, [`AppState`], and the application's settings, [`AppConfig`].
//!
//! The state is one `Arc`: cloning it for a request is one reference count, whatever it holds.
//! It holds what production needs and nothing of the demo's (see [`crate::demo`]), and starts the
//! background work the store needs in one place, [`AppState::start_background`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use axum::http::HeaderValue;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::json_body::BodyLimit;
use crate::live::{LiveConfig, LiveHub};
use crate::metrics::{Metrics, StoreOp, UPKEEP_EVERY};
use crate::rate_limit::{AddressLimiter, RateLimit};
use crate::store::{EventSink, SessionStore, spawn_sweeper};

/// Settings of the application (the store and the connections have their own).
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The largest request body the API reads, in bytes.
    pub max_body: usize,
    /// Origins allowed to call the API from a browser, with credentials, and to open live
    /// sockets; exact matches.
    pub allowed_origins: Vec<HeaderValue>,
    /// The folder served at `/` (the demo page).
    pub static_dir: PathBuf,
    /// The folder served at `/pkg/` (the wasm-pack output).
    pub pkg_dir: PathBuf,
    /// The live channel's settings.
    pub live: LiveConfig,
    /// How fast one client address may create sessions.
    pub create_limit: RateLimit,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            max_body: 16 * 1024,
            allowed_origins: Vec::new(),
            static_dir: default_static_dir(),
            pkg_dir: default_pkg_dir(),
            live: LiveConfig::default(),
            create_limit: RateLimit::default(),
        }
    }
}

/// The demo page's folder, `www/demo` in this package, wherever the server is started from.
pub fn default_static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

/// The wasm package folder, `pkg/` at the repository root, where `wasm-pack build` writes.
pub fn default_pkg_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).join("pkg")
}

/// What every handler shares: the store, the clock, the settings, the live hub, the metrics and
/// the create rate limit.
pub struct AppState<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: AppConfig,
    live: Arc<LiveHub>,
    metrics: Arc<Metrics>,
    creates: AddressLimiter,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<S: SessionStore> AppState<S> {
    /// The state of an application serving `store`, reading time from `clock`.
    pub fn new(store: S, clock: Arc<dyn Clock>, config: AppConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                store: Arc::new(store),
                clock,
                live: Arc::new(LiveHub::new(config.live)),
                metrics: Arc::new(Metrics::new()),
                creates: AddressLimiter::new(config.create_limit),
                config,
            }),
        }
    }

    /// The session store.
    pub fn store(&self) -> &Arc<S> {
        &self.shared.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// The settings.
    pub fn config(&self) -> &AppConfig {
        &self.shared.config
    }

    /// The live channel's sockets.
    pub fn live(&self) -> &Arc<LiveHub> {
        &self.shared.live
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The create rate limit by client address.
    pub fn creates(&self) -> &AddressLimiter {
        &self.shared.creates
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Runs a store operation and records how long it took.
    pub async fn timed<T>(&self, op: StoreOp, operation: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = operation.await;
        self.shared.metrics.store_time(op, started.elapsed());
        result
    }

    /// Starts what runs beside the requests until `stop` is cancelled: the sweeper every
    /// `sweep_every` if the store needs one, the feed of other instances' changes if the store has
    /// one, and the metrics' upkeep.
    pub fn start_background(&self, sweep_every: Duration, stop: CancellationToken) -> Background {
        let mut tasks = Vec::new();
        if self.store().needs_sweeping() {
            tasks.push(spawn_sweeper(
                Arc::clone(self.store()),
                Arc::clone(self.clock()),
                Arc::clone(self.metrics()),
                sweep_every,
                stop.clone(),
            ));
        }
        let sink: Arc<dyn EventSink> = self.live().clone();
        tasks.extend(self.store().listen(sink, stop.clone()));
        let metrics = Arc::clone(self.metrics());
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = ticks.tick() => metrics.upkeep(),
                }
            }
        }));
        Background { tasks }
    }
}

/// The tasks [`AppState::start_background`] started.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Waits for them to end (after their stop token was cancelled).
    pub async fn finished(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl<S> FromRef<AppState<S>> for BodyLimit {
    fn from_ref(state: &AppState<S>) -> Self {
        BodyLimit(state.shared.config.max_body)
    }
}
