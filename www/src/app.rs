//! The one function that builds the whole router.
//!
//! [`app`] is the single place where routes and layers are put together, so the order of the
//! layers, which decides what every response looks like, can be read top to bottom. From the
//! outside in:
//!
//! 1. the demo request log (demo mode only): records every `/api/` request as received,
//!    CORS preflights included;
//! 2. CORS: outermost of everything that answers, so error responses (415, 404, 429...) carry the
//!    CORS headers too and a page on an allowed origin can read `error.code`;
//! 3. a per-request tracing span at debug level (left out when the log filter can never enable
//!    debug, as with the default `--log info`);
//! 4. [`ApiGuard`](crate::guard::ApiGuard): the 415 rule before any route is chosen, the JSON
//!    error envelope for any error response that is not JSON yet, and `nosniff` on everything;
//! 5. a panic guard that answers a JSON 500 `ERR_INTERNAL`;
//! 6. the routes, under a body limit: the session API and its live channel, `/healthz`,
//!    `/metrics`, the demo endpoints in demo mode, a JSON 404 for any other `/api/` path, and the
//!    static files (see [`crate::static_files`]).
//!
//! There is no per-request timeout layer: a body must arrive within
//! [`BODY_READ_TIMEOUT`](crate::json_body::BODY_READ_TIMEOUT), the store bounds its own calls,
//! and the connection limits of [`crate::serve`] close what stalls.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing::level_filters::LevelFilter;

use crate::api;
use crate::demo::{self, Demo};
use crate::error::ApiError;
use crate::guard::ApiGuardLayer;
use crate::state::AppState;
use crate::static_files::{self, StaticFiles};
use crate::store::SessionStore;

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Builds the whole application: routes, static files and layers (see the module docs), with
/// the demo endpoints when `demo` is given.
///
/// Install the tracing subscriber first: whether requests are traced at debug level is decided
/// here, from the filter in force.
pub fn app<S: SessionStore>(state: AppState<S>, demo: Option<&Demo>) -> Router {
    let config = state.config();
    let demo_on = demo.is_some();
    let files = StaticFiles::new(&config.static_dir, &config.pkg_dir);

    let mut routes = Router::new()
        .route("/api/v1/session", post(api::create_session::<S>))
        .route("/api/v1/session/{id}", get(api::get_session::<S>).delete(api::delete_session::<S>))
        .route("/api/v1/session/{id}/heartbeat", post(api::heartbeat::<S>))
        .route("/api/v1/session/{id}/live", get(api::live::<S>))
        .route(
            "/healthz",
            get(move |State(state): State<AppState<S>>| api::healthz(state, demo_on)),
        )
        .route("/metrics", get(api::metrics::<S>))
        .nest("/api", Router::new().fallback(api::not_found))
        .with_state(state.clone());
    if let Some(demo) = demo {
        routes = routes.merge(demo.routes(state.clone()));
    }
    let routes = routes.fallback_service(static_files::serve.with_state(files));

    // The layers wrap the routed application as one service, so they run before routing. They are
    // stacked here rather than with `Router::layer`, which boxes each layer as a route of its own:
    // axum clones a route on every call, so each request would clone the whole stack below every
    // layer (a box per layer per level) before reaching the handler.
    // The per-request span and response event at debug level, left out when the subscriber
    // installed at this point can never enable debug (the default `--log info`): the layer would
    // record nothing, and skipping it saves two clock reads and a body wrapper per request.
    let trace = (LevelFilter::current() >= LevelFilter::DEBUG).then(|| {
        ServiceBuilder::new().map_response(IntoResponse::into_response).layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
    });
    let stack = ServiceBuilder::new()
        .layer(cors(&config.allowed_origins))
        .option_layer(trace)
        .layer(ApiGuardLayer::new(Arc::clone(state.metrics())))
        .map_response(IntoResponse::into_response)
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal.into_response()))
        .layer(DefaultBodyLimit::max(config.max_body))
        .service(routes);
    let router = Router::new().fallback_service(stack);

    match demo {
        Some(demo) => router.layer(middleware::from_fn_with_state(
            Arc::clone(demo.request_log()),
            demo::record_requests,
        )),
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
