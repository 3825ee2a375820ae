//! The 415 rule: JSON Content-Type on every POST, PUT and PATCH under /api/, checked before routing.

use reqwest::Method;

use crate::common::{TestServer, heartbeat_path};

const EXACT_415: &str = r#"{"error":{"code":"ERR_INVALID_CONTENT_TYPE","message":"Content-Type must be application/json for API endpoints"}}"#;

#[tokio::test]
async fn heartbeats_without_a_json_content_type_get_415_and_change_nothing() {
    let server = TestServer::start().await;
    let id = server.create().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("text/json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=----x"),
        Some("application/jsonp"),
        Some("application/json-seq"),
        Some("json"),
        Some(""),
    ] {
        let reply = server.send(Method::POST, &heartbeat_path(&id), content_type, "{}").await;
        reply.assert_error(415, "ERR_INVALID_CONTENT_TYPE");
        assert_eq!(reply.text(), EXACT_415, "for {content_type:?}");
    }
    let session = server.get(&format!("/api/v1/session/{id}")).await.json();
    assert_eq!(session["heartbeats"], 0, "no refused heartbeat was counted");
}

#[tokio::test]
async fn json_in_any_case_with_parameters_and_suffix_types_are_accepted() {
    let server = TestServer::start().await;
    let id = server.create().await;
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "Application/Json;Charset=UTF-8",
        "application/vnd.api+json",
        "application/merge-patch+json",
    ] {
        let reply = server.send(Method::POST, &heartbeat_path(&id), Some(content_type), "{}").await;
        assert_eq!(reply.status, 200, "{content_type}: {}", reply.text());
    }
    let created = server
        .send(Method::POST, "/api/v1/session", Some("application/json; charset=utf-8"), "{}")
        .await;
    assert_eq!(created.status, 201);
}

#[tokio::test]
async fn the_check_runs_before_routing() {
    let server = TestServer::start().await;
    // Unknown API path: 415 without JSON, 404 with it.
    server
        .send(Method::POST, "/api/v1/heartbeat", None, "{}")
        .await
        .assert_error(415, "ERR_INVALID_CONTENT_TYPE");
    server.post_json("/api/v1/heartbeat", "{}").await.assert_error(404, "ERR_NOT_FOUND");
    // A method the route does not have: 415 without JSON, 405 with it.
    for method in [Method::PUT, Method::PATCH] {
        server
            .send(method.clone(), "/api/v1/session", None, "{}")
            .await
            .assert_error(415, "ERR_INVALID_CONTENT_TYPE");
        let reply = server.send(method, "/api/v1/session", Some("application/json"), "{}").await;
        reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    }
    // A refused create creates nothing.
    server
        .send(Method::POST, "/api/v1/session", Some("text/plain"), "{}")
        .await
        .assert_error(415, "ERR_INVALID_CONTENT_TYPE");
    assert_eq!(server.len().await, 0);
}

#[tokio::test]
async fn reads_deletes_and_non_api_paths_need_no_content_type() {
    let server = TestServer::start().await;
    let id = server.create().await;
    assert_eq!(server.get(&format!("/api/v1/session/{id}")).await.status, 200);
    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(server.delete(&format!("/api/v1/session/{id}")).await.status, 204);
    // Not under /api/: whatever it is, it is not a 415.
    let reply = server.send(Method::POST, "/apis", None, "{}").await;
    assert_ne!(reply.status, 415);
}

#[tokio::test]
async fn two_content_type_headers_are_refused() {
    let server = TestServer::start().await;
    let reply = server
        .client
        .post(server.url("/api/v1/session"))
        .header("content-type", "application/json")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    crate::common::Reply::from(reply).await.assert_error(415, "ERR_INVALID_CONTENT_TYPE");
}
