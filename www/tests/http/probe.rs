//! The probe: passes against this server, fails against one without the Content-Type rule.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use keeper_server::probe::{probe, table};

use crate::common::{TestServer, client};

#[tokio::test]
async fn every_check_passes_against_the_reference_server() {
    let server = TestServer::start().await;
    let checks = probe(&client(), &server.base).await.unwrap();
    assert_eq!(checks.len(), 6);
    assert!(checks.iter().all(|check| check.ok()), "{}", table(&checks));
    assert_eq!(server.len().await, 0, "the probe cleans up after itself");
}

#[tokio::test]
async fn a_server_without_the_content_type_rule_fails_the_probe() {
    // Accepts heartbeats whatever their Content-Type, and never forgets a session.
    let lenient = Router::new()
        .route(
            "/api/v1/session",
            post(|| async {
                (StatusCode::CREATED, axum::Json(serde_json::json!({"session_id": "abc"})))
            }),
        )
        .route("/api/v1/session/{id}/heartbeat", post(|| async { "{}" }))
        .route("/api/v1/session/{id}", delete(|| async { StatusCode::NO_CONTENT }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, lenient).await });

    let checks = probe(&client(), &base).await.unwrap();
    let failed: Vec<&str> =
        checks.iter().filter(|check| !check.ok()).map(|check| check.name).collect();
    assert_eq!(
        failed,
        ["heartbeat without Content-Type", "heartbeat after delete"],
        "{}",
        table(&checks)
    );
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_table() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = probe(&client(), &base).await.unwrap_err();
    assert!(error.to_lowercase().contains("connect"), "{error}");
}
