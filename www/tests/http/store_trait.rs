//! Another store behind the same handlers: how its failures reach the client. Also shows the
//! trait can be implemented outside the crate, as a Redis store would be.

use std::sync::Arc;
use std::time::Duration;

use keeper_server::clock::ManualClock;
use keeper_server::serve::{Limits, serve};
use keeper_server::store::{EventSink, Listing, Session, SessionStore, StoreError};
use keeper_server::{AppConfig, AppState, app};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{Reply, client};

/// A store whose backend is down for creates, throttles heartbeats, and has a bug on reads.
struct Troubled;

impl SessionStore for Troubled {
    async fn create(&self, _now: u64) -> Result<Session, StoreError> {
        Err(StoreError::Unavailable {
            reason: "backend connection refused".to_owned(),
            retry_after: Duration::from_millis(1500),
        })
    }

    async fn heartbeat(&self, _: Uuid, _: u64, _: &str) -> Result<u64, StoreError> {
        Err(StoreError::RateLimited { retry_after: Duration::from_millis(2500) })
    }

    async fn get(&self, _: Uuid, _: u64) -> Result<Session, StoreError> {
        panic!("a bug in the store");
    }

    async fn delete(&self, _: Uuid, _: u64) -> Result<(), StoreError> {
        Err(StoreError::NotFound)
    }

    async fn sweep(&self, _: u64) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn list(&self, _: usize, _: u64) -> Result<Listing, StoreError> {
        Ok(Listing::default())
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn health(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable { reason: "down".to_owned(), retry_after: Duration::ZERO })
    }

    fn needs_sweeping(&self) -> bool {
        false
    }

    fn listen(&self, _: Arc<dyn EventSink>, _: CancellationToken) -> Option<JoinHandle<()>> {
        None
    }
}

#[tokio::test]
async fn store_failures_become_json_errors_and_a_panic_is_a_json_500() {
    let state = AppState::new(Troubled, Arc::new(ManualClock::new(0)), AppConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        app(state, None),
        Limits::default(),
        shutdown.clone().cancelled_owned(),
    ));
    let http = client();
    let id = Uuid::new_v4();

    let send = |request: reqwest::RequestBuilder| async move {
        Reply::from(request.send().await.unwrap()).await
    };
    let json = |request: reqwest::RequestBuilder| {
        request.header("content-type", "application/json").body("{}")
    };

    let unavailable = send(json(http.post(format!("{base}/api/v1/session")))).await;
    let message = unavailable.assert_error(503, "ERR_STORE_UNAVAILABLE");
    assert!(message.contains("backend connection refused"), "{message}");
    assert_eq!(unavailable.header("retry-after"), Some("2"), "1.5 s rounds up");

    let health = send(http.get(format!("{base}/healthz"))).await;
    health.assert_error(503, "ERR_STORE_UNAVAILABLE");
    assert_eq!(health.header("retry-after"), Some("1"), "never less than a second");

    let limited = send(json(http.post(format!("{base}/api/v1/session/{id}/heartbeat")))).await;
    limited.assert_error(429, "ERR_RATE_LIMITED");
    assert_eq!(limited.header("retry-after"), Some("3"), "2.5 s rounds up");

    let crashed = send(http.get(format!("{base}/api/v1/session/{id}"))).await;
    let message = crashed.assert_error(500, "ERR_INTERNAL");
    assert!(!message.contains("bug"), "no panic detail reaches the client: {message}");

    // The server survived the panic.
    let deleted = send(http.delete(format!("{base}/api/v1/session/{id}"))).await;
    deleted.assert_error(404, "ERR_SESSION_NOT_FOUND");
    shutdown.cancel();
}
