//! Bodies: exactly one JSON object, within the size limit; and wrong methods.

use reqwest::Method;

use crate::common::{TestServer, heartbeat_path, session_path};

const LIMIT: usize = 16 * 1024;

#[tokio::test]
async fn anything_but_one_json_object_is_400() {
    let server = TestServer::start().await;
    let id = server.create().await;
    for path in ["/api/v1/session".to_owned(), heartbeat_path(&id)] {
        for body in [
            "",
            "   ",
            "{",
            "{\"a\":}",
            "{'a':1}",
            "{} trailing",
            "{}{}",
            "[]",
            "[{}]",
            "null",
            "42",
            "\"{}\"",
        ] {
            let reply = server.post_json(&path, body).await;
            reply.assert_error(400, "ERR_INVALID_JSON");
        }
    }
    assert_eq!(server.len().await, 1, "no refused create made a session");
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["heartbeats"], 0);
}

#[tokio::test]
async fn whitespace_around_the_object_is_fine() {
    let server = TestServer::start().await;
    let id = server.create().await;
    let reply = server.post_json(&heartbeat_path(&id), "\n  {\"tab\": \"visible\"}  \n").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn object_of_size(size: usize) -> String {
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(size - 10));
    assert_eq!(body.len(), size);
    body
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let server = TestServer::start().await;
    let id = server.create().await;
    let reply = server.post_json(&heartbeat_path(&id), &object_of_size(LIMIT)).await;
    assert_eq!(reply.status, 200, "exactly the limit is accepted");
    let message = server
        .post_json(&heartbeat_path(&id), &object_of_size(LIMIT + 1))
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");
    assert!(message.contains("16384"), "{message}");
    server
        .post_json("/api/v1/session", &object_of_size(1024 * 1024))
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");
    assert_eq!(server.len().await, 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    // No Content-Length: the limit is enforced while reading.
    let server = TestServer::start().await;
    let body = object_of_size(LIMIT + 100);
    let mut request = String::from(
        "POST /api/v1/session HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for chunk in body.as_bytes().chunks(1000) {
        request.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        ));
    }
    request.push_str("0\r\n\r\n");
    let answer = server.exchange(request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("ERR_PAYLOAD_TOO_LARGE"), "{answer}");
    assert_eq!(server.len().await, 0);
}

#[tokio::test]
async fn the_last_heartbeat_body_is_kept_and_capped() {
    let server = TestServer::start().await;
    let id = server.create().await;
    server.post_json(&heartbeat_path(&id), r#"{"page":"/inbox","visible":true}"#).await;
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["client_info"], serde_json::json!({"page": "/inbox", "visible": true}));
    server.post_json(&heartbeat_path(&id), &object_of_size(5000)).await;
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["client_info"], serde_json::json!({"truncated": true, "bytes": 5000}));
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_json() {
    let server = TestServer::start().await;
    let id = server.create().await;
    let cases = [
        (Method::GET, heartbeat_path(&id), "POST"),
        (Method::DELETE, heartbeat_path(&id), "POST"),
        (Method::GET, "/api/v1/session".to_owned(), "POST"),
        (Method::DELETE, "/api/v1/session".to_owned(), "POST"),
        (Method::POST, session_path(&id), "GET,HEAD,DELETE"),
        (Method::PUT, session_path(&id), "GET,HEAD,DELETE"),
        (Method::POST, "/healthz".to_owned(), "GET,HEAD"),
    ];
    for (method, path, allow) in cases {
        let reply = server.send(method.clone(), &path, Some("application/json"), "{}").await;
        reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
        let mut got: Vec<&str> = reply.header("allow").unwrap().split(',').map(str::trim).collect();
        let mut want: Vec<&str> = allow.split(',').collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{method} {path}");
    }
}
