//! Ids: anything that is not a live session is 404, and a lookup never creates anything.
//!
//! The client normalizes dot segments (`..`, `%2e%2e`) away, so paths that must reach the server
//! verbatim are sent over a raw socket.

use reqwest::Method;
use uuid::Uuid;

use crate::common::{TestServer, heartbeat_path, session_path};

fn bad_ids() -> Vec<String> {
    let known = Uuid::new_v4();
    vec![
        Uuid::new_v4().to_string(),
        Uuid::nil().to_string(),
        "x".to_owned(),
        "not-a-uuid".to_owned(),
        "a".repeat(10_000),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "..%2F..%2F..%2F..%2Fetc".to_owned(),
        "..%2f".to_owned(),
        "%FF%FE".to_owned(),
        "%00".to_owned(),
        known.simple().to_string(),
        format!("%7B{known}%7D"),
        known.urn().to_string(),
        format!("{known}%20"),
        format!("{known}x"),
    ]
}

#[tokio::test]
async fn unknown_malformed_long_and_traversal_ids_are_404_and_create_nothing() {
    let server = TestServer::start().await;
    let real = server.create().await;
    for id in bad_ids() {
        let what = &id[..id.len().min(40)];
        server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
        server
            .post_json(&heartbeat_path(&id), "{}")
            .await
            .assert_error(404, "ERR_SESSION_NOT_FOUND");
        let reply = server.delete(&session_path(&id)).await;
        assert_eq!(reply.status, 404, "{what}");
        reply.assert_error(404, "ERR_SESSION_NOT_FOUND");
    }
    assert_eq!(server.len().await, 1, "the store holds nothing new");
    assert_eq!(server.get(&session_path(&real)).await.status, 200);
}

#[tokio::test]
async fn a_raw_dot_dot_path_is_a_json_404() {
    let server = TestServer::start().await;
    server.create().await;
    for (method, path) in [
        ("GET", "/api/v1/session/../../../etc/passwd"),
        ("POST", "/api/v1/session/../../../etc/passwd/heartbeat"),
        ("POST", "/api/v1/session//heartbeat"),
        ("POST", "/api/v1/session/%2e%2e/heartbeat"),
        ("GET", "/api/v1/session/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        ("DELETE", "/api/v1/session/%2e%2e"),
    ] {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let answer = server.exchange(request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(answer.contains("content-type: application/json"), "{answer}");
        assert!(answer.contains("\"error\""), "{answer}");
    }
    assert_eq!(server.len().await, 1);
}

#[tokio::test]
async fn ids_are_server_made_uuid_v4() {
    let server = TestServer::start().await;
    let a: Uuid = server.create().await.parse().unwrap();
    let b: Uuid = server.create().await.parse().unwrap();
    assert_eq!(a.get_version_num(), 4);
    assert_ne!(a, b);
    // Heartbeating a client-chosen id does not create it.
    let chosen = Uuid::new_v4().to_string();
    server
        .send(Method::POST, &heartbeat_path(&chosen), Some("application/json"), "{}")
        .await
        .assert_error(404, "ERR_SESSION_NOT_FOUND");
    assert_eq!(server.len().await, 2);
}
