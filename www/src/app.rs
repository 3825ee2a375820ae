//! The application: its state and the one function that builds the whole router.
//!
//! [`app`] is the single place where routes and layers are put together, so the order of the
//! layers, which decides what every response looks like, can be read top to bottom. From the
//! outside in:
//!
//! 1. the demo request log (demo mode only): records every `/api/` request as received,
//!    CORS preflights included;
//! 2. CORS: outermost of everything that answers, so error responses (415, 404, 429...) carry the
//!    CORS headers too and a page on an allowed origin can read `error.code`;
//! 3. a per-request tracing span at debug level;
//! 4. [`json_errors`]: any error response that is not yet JSON becomes the error envelope;
//! 5. a 30-second request timeout, so a stalled body cannot hold a graceful shutdown forever;
//! 6. a panic guard that answers a JSON 500 `ERR_INTERNAL`;
//! 7. [`require_json`]: the 415 rule, before any route is chosen;
//! 8. the routes: the session API, `/healthz`, the demo endpoints in demo mode, a JSON 404 for
//!    any other `/api/` path, `/pkg/` from the package folder and everything else from the demo
//!    folder, both with `Cache-Control: no-cache`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api;
use crate::clock::Clock;
use crate::content_type::require_json;
use crate::demo::{self, RequestLog};
use crate::error::{ApiError, json_errors};
use crate::json_body::BodyLimit;
use crate::serve::OutageSwitch;
use crate::store::SessionStore;

/// How long one request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Settings of the application (the store has its own).
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The largest request body the API reads, in bytes.
    pub max_body: usize,
    /// Origins allowed to call the API from a browser, with credentials; exact matches.
    pub allowed_origins: Vec<HeaderValue>,
    /// The folder served at `/` (the demo page).
    pub static_dir: PathBuf,
    /// The folder served at `/pkg/` (the wasm-pack output).
    pub pkg_dir: PathBuf,
    /// Whether the demo and test-support endpoints are on.
    pub demo: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            max_body: 16 * 1024,
            allowed_origins: Vec::new(),
            static_dir: default_static_dir(),
            pkg_dir: default_pkg_dir(),
            demo: false,
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

/// What every handler shares: the store, the clock and the settings.
pub struct AppState<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: Arc<AppConfig>,
    requests: Option<Arc<RequestLog>>,
    outages: OutageSwitch,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            config: Arc::clone(&self.config),
            requests: self.requests.clone(),
            outages: self.outages.clone(),
        }
    }
}

impl<S: SessionStore> AppState<S> {
    /// The state of an application serving `store`, reading time from `clock`.
    pub fn new(store: S, clock: Arc<dyn Clock>, config: AppConfig) -> Self {
        let requests = config.demo.then(|| Arc::new(RequestLog::new(Arc::clone(&clock))));
        Self {
            store: Arc::new(store),
            clock,
            config: Arc::new(config),
            requests,
            outages: OutageSwitch::default(),
        }
    }

    /// The session store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The settings.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The request log, in demo mode.
    pub fn request_log(&self) -> Option<&Arc<RequestLog>> {
        self.requests.as_ref()
    }

    /// The switch the demo outage endpoint flips; [`crate::serve::serve`] watches it.
    pub fn outages(&self) -> &OutageSwitch {
        &self.outages
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }
}

impl<S> FromRef<AppState<S>> for BodyLimit {
    fn from_ref(state: &AppState<S>) -> Self {
        BodyLimit(state.config.max_body)
    }
}

/// Builds the whole application: routes, static files and layers (see the module docs).
pub fn app<S: SessionStore>(state: AppState<S>) -> Router {
    let config = state.config();

    let static_files = Router::new()
        .nest_service("/pkg", ServeDir::new(&config.pkg_dir))
        .fallback_service(ServeDir::new(&config.static_dir))
        .layer(middleware::from_fn(no_cache));

    let mut routes = Router::new()
        .route("/api/v1/session", post(api::create_session::<S>))
        .route("/api/v1/session/{id}", get(api::get_session::<S>).delete(api::delete_session::<S>))
        .route("/api/v1/session/{id}/heartbeat", post(api::heartbeat::<S>))
        .route("/healthz", get(api::healthz::<S>));
    if config.demo {
        routes = routes.merge(demo::routes::<S>());
    }

    let routes = routes
        .nest("/api", Router::new().fallback(api::not_found))
        .merge(static_files)
        .with_state(state.clone());

    // The layers wrap the routed application as one service, so they run before routing.
    let router = Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(require_json))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal.into_response()))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(middleware::from_fn(json_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(cors(&config.allowed_origins));

    match state.request_log() {
        Some(log) => {
            router.layer(middleware::from_fn_with_state(Arc::clone(log), demo::record_requests))
        }
        None => router,
    }
}

/// CORS for an allowlist of exact origins: credentials only for them, never `*`.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    let listed: Arc<[HeaderValue]> = origins.into();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_credentials(AllowCredentials::predicate(move |origin, _| listed.contains(origin)))
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// Static files are revalidated on every load, so a rebuilt package is picked up at once.
async fn no_cache(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
