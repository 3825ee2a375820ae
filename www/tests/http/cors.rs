//! CORS: an allowlist of exact origins, credentials only for them, on error responses too.

use keeper_server::store::MemoryStoreConfig;
use reqwest::Method;

use crate::common::{Options, Reply, TTL, TestServer, heartbeat_path};

const ALLOWED: &str = "http://localhost:3000";
const REFUSED: &str = "http://evil.example";

async fn server() -> TestServer {
    let mut options = Options {
        store: MemoryStoreConfig {
            ttl: TTL,
            heartbeat_burst: 1,
            heartbeat_rate: 0.1,
            ..MemoryStoreConfig::default()
        },
        ..Options::default()
    };
    options.app.allowed_origins =
        vec![ALLOWED.parse().unwrap(), "https://app.example".parse().unwrap()];
    TestServer::with(options).await
}

async fn preflight(server: &TestServer, origin: &str, path: &str) -> Reply {
    let response = server
        .client
        .request(Method::OPTIONS, server.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-csrf-token")
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

async fn from_origin(
    server: &TestServer,
    origin: &str,
    path: &str,
    content_type: Option<&str>,
) -> Reply {
    let mut request = server.client.post(server.url(path)).header("origin", origin).body("{}");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    Reply::from(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_preflight_of_a_json_post_succeeds_for_a_listed_origin() {
    let server = server().await;
    let id = server.create().await;
    let reply = preflight(&server, ALLOWED, &heartbeat_path(&id)).await;
    assert!(reply.status < 300, "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
    let methods = reply.header("access-control-allow-methods").unwrap().to_lowercase();
    assert!(methods.contains("post") && methods.contains("delete"), "{methods}");
    let headers = reply.header("access-control-allow-headers").unwrap().to_lowercase();
    assert!(headers.contains("content-type") && headers.contains("x-csrf-token"), "{headers}");
    assert!(reply.header("vary").unwrap().to_lowercase().contains("origin"));
    // The second listed origin too, and only exactly.
    let reply = preflight(&server, "https://app.example", "/api/v1/session").await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("https://app.example"));
}

#[tokio::test]
async fn the_preflight_from_another_origin_gets_no_cors_grant() {
    let server = server().await;
    for origin in [REFUSED, "http://localhost:3001", "https://localhost:3000", "null"] {
        let reply = preflight(&server, origin, "/api/v1/session").await;
        assert_eq!(reply.header("access-control-allow-origin"), None, "{origin}");
        assert_eq!(reply.header("access-control-allow-credentials"), None, "{origin}");
    }
}

#[tokio::test]
async fn error_responses_carry_cors_headers_for_listed_origins() {
    let server = server().await;
    let id = server.create().await;

    let unsupported = from_origin(&server, ALLOWED, &heartbeat_path(&id), None).await;
    unsupported.assert_error(415, "ERR_INVALID_CONTENT_TYPE");
    let not_found =
        from_origin(&server, ALLOWED, "/api/v1/heartbeat", Some("application/json")).await;
    not_found.assert_error(404, "ERR_NOT_FOUND");
    let ok = from_origin(&server, ALLOWED, &heartbeat_path(&id), Some("application/json")).await;
    assert_eq!(ok.status, 200);
    let limited =
        from_origin(&server, ALLOWED, &heartbeat_path(&id), Some("application/json")).await;
    limited.assert_error(429, "ERR_RATE_LIMITED");

    for reply in [&unsupported, &not_found, &ok, &limited] {
        assert_eq!(reply.header("access-control-allow-origin"), Some(ALLOWED));
        assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
    }
    let exposed = limited.header("access-control-expose-headers").unwrap().to_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
}

#[tokio::test]
async fn other_origins_never_get_a_grant_and_nobody_gets_a_wildcard() {
    let server = server().await;
    let reply = from_origin(&server, REFUSED, "/api/v1/session", Some("application/json")).await;
    assert_eq!(reply.status, 201, "CORS is the browser's job; the server just grants nothing");
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-credentials"), None);
    for origin in [ALLOWED, REFUSED] {
        let reply = from_origin(&server, origin, "/api/v1/session", None).await;
        assert_ne!(reply.header("access-control-allow-origin"), Some("*"));
    }
}
