//! Lifetime: create, sliding heartbeats, reads that do not extend, expiry, delete, rate limit.

use std::time::{Duration, UNIX_EPOCH};

use keeper_server::store::MemoryStoreConfig;
use serde_json::Value;

use crate::common::{Options, TTL, TestServer, heartbeat_path, session_path};

/// Milliseconds since the epoch of an RFC 3339 time in a JSON answer.
fn ms(value: &Value) -> u64 {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    assert!(text.ends_with('Z') && text.len() == 24, "RFC 3339 UTC with millis: {text}");
    let time = humantime::parse_rfc3339(text).unwrap();
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

const TTL_MS: u64 = TTL.as_millis() as u64;

#[tokio::test]
async fn create_heartbeat_read_and_expire() {
    let server = TestServer::start().await;
    let t0 = server.now();
    let created = server.post_json("/api/v1/session", "{}").await;
    assert_eq!(created.status, 201);
    let created = created.json();
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "active");
    assert_eq!(ms(&created["created_at"]), t0);
    assert_eq!(ms(&created["expires_at"]), t0 + TTL_MS);
    assert_eq!(created["ttl_seconds"], 1200.0);
    assert_eq!(created["last_heartbeat_at"], Value::Null);
    assert_eq!(created["heartbeats"], 0);

    // Reading does not extend; ttl_seconds counts down with millisecond precision.
    server.clock.advance(Duration::from_millis(127));
    let read = server.get(&session_path(&id)).await.json();
    assert_eq!(ms(&read["expires_at"]), t0 + TTL_MS);
    assert_eq!(read["ttl_seconds"], 1199.873);

    // A heartbeat moves expiry to now + TTL: by exactly how far the clock moved.
    server.clock.advance(Duration::from_millis(5 * 60 * 1000 - 127));
    let beat = server.post_json(&heartbeat_path(&id), "{}").await;
    assert_eq!(beat.status, 200, "{}", beat.text());
    let beat = beat.json();
    assert_eq!(beat["session_id"], id.as_str());
    assert_eq!(beat["state"], "active");
    assert_eq!(ms(&beat["server_time"]), t0 + 300_000);
    assert_eq!(ms(&beat["expires_at"]), t0 + TTL_MS + 300_000);
    assert_eq!(beat["ttl_seconds"], 1200.0);
    let read = server.get(&session_path(&id)).await.json();
    assert_eq!(ms(&read["last_heartbeat_at"]), t0 + 300_000);
    assert_eq!(read["heartbeats"], 1);
    assert_eq!(read["client_info"], serde_json::json!({}));

    // One millisecond before expiry it is alive; at expiry it is gone, without any sweep.
    server.clock.advance(TTL - Duration::from_millis(1));
    assert_eq!(server.get(&session_path(&id)).await.status, 200);
    server.clock.advance(Duration::from_millis(1));
    server.post_json(&heartbeat_path(&id), "{}").await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    assert_eq!(server.len().await, 0, "gone from the store");
    // Turning the clock back does not revive it.
    server.clock.set(t0);
    server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
}

#[tokio::test]
async fn delete_is_final() {
    let server = TestServer::start().await;
    let id = server.create().await;
    let reply = server.delete(&session_path(&id)).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    server.post_json(&heartbeat_path(&id), "{}").await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    server.delete(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    assert_eq!(server.len().await, 0);
}

#[tokio::test]
async fn heartbeats_far_too_fast_get_429_with_retry_after() {
    let server = TestServer::with(Options {
        store: MemoryStoreConfig {
            ttl: TTL,
            heartbeat_burst: 3,
            heartbeat_rate: 0.25,
            ..MemoryStoreConfig::default()
        },
        ..Options::default()
    })
    .await;
    let id = server.create().await;
    for _ in 0..3 {
        assert_eq!(server.post_json(&heartbeat_path(&id), "{}").await.status, 200);
    }
    let refused = server.post_json(&heartbeat_path(&id), "{}").await;
    refused.assert_error(429, "ERR_RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("4"), "1 token at 0.25/s");

    server.clock.advance(Duration::from_millis(3_500));
    let refused = server.post_json(&heartbeat_path(&id), "{}").await;
    refused.assert_error(429, "ERR_RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("1"), "0.5 s rounds up to 1");

    server.clock.advance(Duration::from_millis(500));
    assert_eq!(server.post_json(&heartbeat_path(&id), "{}").await.status, 200);
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["heartbeats"], 4, "refused heartbeats are not counted");
}

#[tokio::test]
async fn the_default_limit_lets_a_real_client_through() {
    // A keeper beats every few minutes, plus on activity at most once a minute: never near 10/s.
    let server = TestServer::start().await;
    let id = server.create().await;
    for _ in 0..100 {
        server.clock.advance(Duration::from_millis(50));
        assert_eq!(server.post_json(&heartbeat_path(&id), "{}").await.status, 200);
    }
}

#[tokio::test]
async fn a_full_store_answers_503_until_a_session_goes() {
    let server = TestServer::with(Options {
        store: MemoryStoreConfig { ttl: TTL, max_sessions: 2, ..MemoryStoreConfig::default() },
        ..Options::default()
    })
    .await;
    let first = server.create().await;
    server.create().await;
    server.post_json("/api/v1/session", "{}").await.assert_error(503, "ERR_STORE_UNAVAILABLE");
    assert_eq!(server.delete(&session_path(&first)).await.status, 204);
    assert_eq!(server.post_json("/api/v1/session", "{}").await.status, 201);
}
