//! Lifetime in the in-memory store under a manual clock: sliding heartbeats and expiry to the
//! millisecond, the default rate limit, a full store (what both stores do is in the conformance
//! suite).

use std::time::Duration;

use keeper_server::store::MemoryStoreConfig;
use serde_json::Value;

use crate::common::{Options, TTL, TTL_MS, TestServer, heartbeat_path, ms, session_path};

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
    let full = server.post_json("/api/v1/session", "{}").await;
    full.assert_error(503, "ERR_STORE_UNAVAILABLE");
    assert_eq!(full.header("retry-after"), Some("30"), "sessions only leave by expiry or delete");
    assert_eq!(server.delete(&session_path(&first)).await.status, 204);
    assert_eq!(server.post_json("/api/v1/session", "{}").await.status, 201);
}
