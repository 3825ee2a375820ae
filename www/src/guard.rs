//! The API guard: the one layer every request and response passes through.
//!
//! On the way in it applies the 415 rule before any route is chosen (a POST, PUT or PATCH under
//! `/api/` without a JSON Content-Type; see [`crate::content_type`]) and counts each 415 by route.
//! On the way out it turns any error response that is not JSON into the error envelope
//! ([`into_json_error`]) and marks every response `X-Content-Type-Options: nosniff`, so no
//! browser second-guesses a content type.
//!
//! It is a plain tower service rather than `axum::middleware::from_fn`: the heartbeat is the
//! hot path, and this costs no boxed future and no clone of the inner service per request.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{Either, Map, Ready, ready};
use tower::{Layer, Service};

use crate::content_type::{has_json_body, needs_json};
use crate::error::{ApiError, into_json_error};
use crate::metrics::Metrics;

/// Wraps a service in an [`ApiGuard`].
#[derive(Debug, Clone)]
pub struct ApiGuardLayer {
    metrics: Arc<Metrics>,
}

impl ApiGuardLayer {
    /// A guard counting its 415s in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ApiGuardLayer {
    type Service = ApiGuard<S>;

    fn layer(&self, inner: S) -> ApiGuard<S> {
        ApiGuard { inner, metrics: Arc::clone(&self.metrics) }
    }
}

/// The service [`ApiGuardLayer`] makes; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct ApiGuard<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

type Finish = fn(Result<Response, Infallible>) -> Result<Response, Infallible>;

impl<S> Service<Request> for ApiGuard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, Map<S::Future, Finish>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if needs_json(request.method(), request.uri().path()) && !has_json_body(request.headers()) {
            self.metrics.unsupported_media_type(request.uri().path());
            return Either::Left(ready(Ok(finish(ApiError::InvalidContentType.into_response()))));
        }
        Either::Right(self.inner.call(request).map(finish_result as Finish))
    }
}

fn finish_result(response: Result<Response, Infallible>) -> Result<Response, Infallible> {
    response.map(finish)
}

fn finish(response: Response) -> Response {
    let mut response = into_json_error(response);
    response
        .headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
