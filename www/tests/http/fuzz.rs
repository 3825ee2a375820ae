//! Property: whatever the method, path, id, Content-Type and body, the server never answers 5xx,
//! and every error it answers is the JSON envelope.

use std::sync::OnceLock;

use proptest::prelude::*;
use reqwest::Method;
use tokio::runtime::Runtime;

use crate::common::{Options, Reply, TestServer};

struct Shared {
    runtime: Runtime,
    server: TestServer,
    live_id: String,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, live_id) = runtime.block_on(async {
            let mut options = Options::demo();
            options.app.allowed_origins = vec!["http://localhost:3000".parse().unwrap()];
            let server = TestServer::with(options).await;
            let id = server.create().await;
            (server, id)
        });
        Shared { runtime, server, live_id }
    })
}

fn percent_encode(raw: &[u8]) -> String {
    raw.iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::OPTIONS),
        Just(Method::HEAD),
        Just(Method::from_bytes(b"BREW").unwrap()),
    ]
}

/// An id segment, already percent-encoded; `None` stands for the live session's id.
fn id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<u128>().prop_map(|n| Some(uuid::Uuid::from_u128(n).to_string())),
        "[0-9a-fA-F-]{30,40}".prop_map(Some),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|raw| Some(percent_encode(&raw))),
        (1usize..5000).prop_map(|n| Some("f".repeat(n))),
        Just(Some("..%2F..%2F..%2Fetc%2Fpasswd".to_owned())),
    ]
}

fn path() -> impl Strategy<Value = (u8, Option<String>, String)> {
    (0u8..8, id(), "[a-z0-9._-]{0,12}")
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("application/vnd.api+json".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("multipart/form-data; boundary=x".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{}".to_vec()),
        r#"\{("[a-z]{0,5}":([0-9]{0,3}|"[ -~]{0,8}"|\[\]|null|\{\}),?){0,3}\}"#
            .prop_map(String::into_bytes),
        "[ -~]{0,64}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..256),
        (16_000usize..17_000).prop_map(|n| format!("{{\"p\":\"{}\"}}", "x".repeat(n)).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_a_5xx_and_errors_are_json(
        method in method(),
        (shape, id, segment) in path(),
        content_type in content_type(),
        body in body(),
        with_origin in any::<bool>(),
    ) {
        let shared = shared();
        let id = id.unwrap_or_else(|| shared.live_id.clone());
        let path = match shape {
            0 => "/api/v1/session".to_owned(),
            1 => format!("/api/v1/session/{id}"),
            2 | 3 => format!("/api/v1/session/{id}/heartbeat"),
            4 => format!("/api/v1/{segment}"),
            5 => format!("/api/v1/demo/{}", if segment.len() % 2 == 0 { "sessions" } else { "requests" }),
            6 => format!("/{segment}"),
            _ => format!("/pkg/{segment}"),
        };
        let reply: Reply = shared.runtime.block_on(async {
            let server = &shared.server;
            let mut request = server.client.request(method.clone(), server.url(&path)).body(body.clone());
            if let Some(content_type) = &content_type {
                request = request.header("content-type", content_type);
            }
            if with_origin {
                request = request.header("origin", "http://localhost:3000");
            }
            Reply::from(request.send().await.unwrap()).await
        });
        prop_assert!(reply.status < 500, "{method} {path} ({content_type:?}) -> {}: {}", reply.status, reply.text());
        if reply.status >= 400 && method != Method::HEAD {
            prop_assert_eq!(reply.header("content-type"), Some("application/json"));
            let error = reply.json();
            prop_assert!(error["error"]["code"].as_str().is_some_and(|code| code.starts_with("ERR_")), "{}", reply.text());
            prop_assert!(error["error"]["message"].is_string());
        }
    }
}
