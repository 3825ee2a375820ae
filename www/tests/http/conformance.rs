//! The store conformance suite: the same test functions run against the in-memory store and
//! against a real Redis (`KEEPER_TEST_REDIS`, started by scripts/test.sh), each through the
//! whole server over loopback. Then what only a shared store does: two instances, Redis going
//! away and coming back, the change feed reconnecting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keeper_server::store::{CLIENT_INFO_LIMIT, MemoryStoreConfig};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::common::{
    Backend, Options, OwnRedis, Received, TTL, TTL_MS, TestServer, heartbeat_path, live_path, ms,
    redis_command, session_path,
};

/// Runs each listed test function once per store.
macro_rules! for_each_store {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Memory).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::fresh_redis()).await;
                }
            )*
        }
    };
}

for_each_store!(
    create_read_heartbeat_delete,
    a_deleted_session_stays_deleted,
    heartbeats_far_too_fast_get_429_with_retry_after,
    unknown_and_malformed_ids_are_404_and_create_nothing,
    client_info_is_kept_and_capped,
    concurrent_heartbeats_all_count,
    an_expired_session_is_pushed_and_never_brought_back,
    the_live_channel_pushes_extensions_and_deletion,
    the_live_channel_refuses_what_it_must,
    the_health_check_reports_the_store,
);

const WITHIN: Duration = Duration::from_secs(3);

/// Redis keeps its own time for the TTL: its expiry may be read a few milliseconds short.
fn about(got: u64, want: u64) {
    assert!(got.abs_diff(want) <= 50, "{got} is not about {want}");
}

async fn create_read_heartbeat_delete(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let t0 = server.now();
    let created = server.post_json("/api/v1/session", "{}").await;
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    let id = body["session_id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location"), Some(session_path(&id).as_str()));
    assert_eq!(body["state"], "active");
    assert_eq!(ms(&body["created_at"]), t0);
    assert_eq!(ms(&body["expires_at"]), t0 + TTL_MS);
    assert_eq!(body["heartbeats"], 0);
    assert_eq!(body["client_info"], Value::Null);

    let read = server.get(&session_path(&id)).await.json();
    about(ms(&read["expires_at"]), t0 + TTL_MS);
    assert_eq!(read["last_heartbeat_at"], Value::Null);

    // (Redis counts a TTL down in its own time, so the manual clock only moves before a write.)
    server.clock.advance(Duration::from_secs(60));
    let beat = server.post_json(&heartbeat_path(&id), r#"{"tab":"visible"}"#).await;
    assert_eq!(beat.status, 200, "{}", beat.text());
    let beat = beat.json();
    assert_eq!(ms(&beat["server_time"]), t0 + 60_000);
    about(ms(&beat["expires_at"]), t0 + 60_000 + TTL_MS);
    let read = server.get(&session_path(&id)).await.json();
    assert_eq!(read["heartbeats"], 1);
    assert_eq!(ms(&read["last_heartbeat_at"]), t0 + 60_000);
    assert_eq!(read["client_info"], json!({"tab": "visible"}));

    assert_eq!(server.delete(&session_path(&id)).await.status, 204);
    assert_eq!(server.len().await, 0);
}

async fn a_deleted_session_stays_deleted(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let id = server.create().await;
    let reply = server.delete(&session_path(&id)).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    server.post_json(&heartbeat_path(&id), "{}").await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    server.delete(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    assert_eq!(server.len().await, 0, "the heartbeat after the delete created nothing");
}

async fn heartbeats_far_too_fast_get_429_with_retry_after(backend: Backend) {
    let server = TestServer::with(Options {
        store: MemoryStoreConfig {
            ttl: TTL,
            heartbeat_burst: 3,
            heartbeat_rate: 0.25,
            ..MemoryStoreConfig::default()
        },
        ..Options::on(&backend)
    })
    .await;
    let id = server.create().await;
    for _ in 0..3 {
        assert_eq!(server.post_json(&heartbeat_path(&id), "{}").await.status, 200);
    }
    let refused = server.post_json(&heartbeat_path(&id), r#"{"refused":true}"#).await;
    refused.assert_error(429, "ERR_RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("4"), "1 token at 0.25/s");

    server.clock.advance(Duration::from_millis(3_500));
    let refused = server.post_json(&heartbeat_path(&id), "{}").await;
    assert_eq!(refused.header("retry-after"), Some("1"), "0.5 s rounds up to 1");

    server.clock.advance(Duration::from_millis(500));
    assert_eq!(server.post_json(&heartbeat_path(&id), "{}").await.status, 200);
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["heartbeats"], 4, "refused heartbeats are not counted");
    assert_eq!(session["client_info"], json!({}), "nor kept");
}

async fn unknown_and_malformed_ids_are_404_and_create_nothing(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let real = server.create().await;
    for id in [uuid::Uuid::new_v4().to_string(), "x".to_owned(), "a".repeat(5000)] {
        server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
        let beat = server.post_json(&heartbeat_path(&id), "{}").await;
        beat.assert_error(404, "ERR_SESSION_NOT_FOUND");
        server.delete(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    }
    assert_eq!(server.len().await, 1);
    assert_eq!(server.get(&session_path(&real)).await.status, 200);
}

async fn client_info_is_kept_and_capped(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let id = server.create().await;
    let with_bar = r#"{"page":"/a|b","visible":true}"#;
    server.post_json(&heartbeat_path(&id), with_bar).await;
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["client_info"], json!({"page": "/a|b", "visible": true}));
    let large = format!(r#"{{"p":"{}"}}"#, "x".repeat(CLIENT_INFO_LIMIT));
    server.post_json(&heartbeat_path(&id), &large).await;
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["client_info"], json!({"truncated": true, "bytes": large.len()}));
}

async fn concurrent_heartbeats_all_count(backend: Backend) {
    let server = Arc::new(TestServer::on(&backend).await);
    let id = server.create().await;
    let mut beats = JoinSet::new();
    for i in 0..64 {
        let server = Arc::clone(&server);
        let path = heartbeat_path(&id);
        beats.spawn(async move { server.post_json(&path, &format!("{{\"n\":{i}}}")).await });
    }
    while let Some(reply) = beats.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let session = server.get(&session_path(&id)).await.json();
    assert_eq!(session["heartbeats"], 64, "every heartbeat counted once");
}

async fn an_expired_session_is_pushed_and_never_brought_back(backend: Backend) {
    let ttl = Duration::from_millis(400);
    let server = TestServer::with(Options {
        store: MemoryStoreConfig { ttl, ..MemoryStoreConfig::default() },
        real_time: true,
        ..Options::on(&backend)
    })
    .await;
    let id = server.create().await;
    let mut live = server.live(&id, None).await.unwrap();
    let opened = live.json(WITHIN).await;
    assert_eq!(opened["type"], "extended");
    let expires_at = ms(&opened["expires_at"]);

    let ended = live.json(WITHIN).await;
    let pushed_at = server.now();
    assert_eq!(ended, json!({"type": "ended", "reason": "expired"}));
    assert!(pushed_at >= expires_at, "not before the expiry");
    assert!(pushed_at < expires_at + 1000, "within a second of it: {}", pushed_at - expires_at);
    assert_eq!(live.closed(WITHIN).await, (1000, "session expired".to_owned()));

    server.post_json(&heartbeat_path(&id), "{}").await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    server.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
    assert_eq!(server.len().await, 0);
}

async fn the_live_channel_pushes_extensions_and_deletion(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let id = server.create().await;
    let mut live = server.live(&id, None).await.unwrap();
    let opened = live.json(WITHIN).await;
    assert_eq!(opened["type"], "extended");
    about(ms(&opened["expires_at"]), server.now() + TTL_MS);
    assert_eq!(opened["ttl_seconds"].as_f64().map(f64::round), Some(1200.0));

    server.clock.advance(Duration::from_secs(90));
    let beat = server.post_json(&heartbeat_path(&id), "{}").await.json();
    let pushed = live.json(WITHIN).await;
    assert_eq!(pushed["type"], "extended");
    assert_eq!(pushed["expires_at"], beat["expires_at"]);

    let started = Instant::now();
    assert_eq!(server.delete(&session_path(&id)).await.status, 204);
    assert_eq!(live.json(WITHIN).await, json!({"type": "ended", "reason": "deleted"}));
    assert_eq!(live.closed(WITHIN).await, (1000, "session deleted".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

async fn the_live_channel_refuses_what_it_must(backend: Backend) {
    let mut options = Options::on(&backend);
    options.app.allowed_origins = vec!["http://app.example".parse().unwrap()];
    let server = TestServer::with(options).await;
    let id = server.create().await;

    let unknown = server.live(&uuid::Uuid::new_v4().to_string(), None).await.err().unwrap();
    assert_http_error(unknown, 404, "ERR_SESSION_NOT_FOUND");
    let cross_site = server.live(&id, Some("http://evil.example")).await.err().unwrap();
    assert_http_error(cross_site, 403, "ERR_FORBIDDEN_ORIGIN");

    let plain = server.get(&live_path(&id)).await;
    plain.assert_error(426, "ERR_UPGRADE_REQUIRED");
    assert_eq!(plain.header("upgrade"), Some("websocket"));

    let same_site = format!("http://{}", server.addr);
    for origin in [None, Some(same_site.as_str()), Some("http://app.example")] {
        let mut live = server.live(&id, origin).await.unwrap();
        assert_eq!(live.json(WITHIN).await["type"], "extended", "{origin:?}");
    }
}

#[track_caller]
fn assert_http_error(error: tokio_tungstenite::tungstenite::Error, status: u16, code: &str) {
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else {
        panic!("expected an HTTP answer, got {error}");
    };
    assert_eq!(response.status().as_u16(), status);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
        .expect("a JSON body");
    assert_eq!(body["error"]["code"], code);
}

async fn the_health_check_reports_the_store(backend: Backend) {
    let server = TestServer::on(&backend).await;
    let health = server.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok", "store": "up", "demo": false}));
}

// ---- What only a shared store does ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_and_an_end_reaches_the_other_at_once() {
    let shared = Backend::fresh_redis();
    let a = TestServer::on(&shared).await;
    let b = TestServer::on(&shared).await;

    let id = a.create().await;
    let mut live = a.live(&id, None).await.unwrap();
    assert_eq!(live.json(WITHIN).await["type"], "extended");

    b.clock.advance(Duration::from_secs(30));
    let beat = b.post_json(&heartbeat_path(&id), r#"{"from":"b"}"#).await;
    assert_eq!(beat.status, 200, "{}", beat.text());
    let pushed = live.json(WITHIN).await;
    assert_eq!(pushed["expires_at"], beat.json()["expires_at"], "B's extension reached A's socket");
    let read = a.get(&session_path(&id)).await.json();
    assert_eq!(
        (read["heartbeats"].clone(), read["client_info"].clone()),
        (json!(1), json!({"from": "b"}))
    );

    let started = Instant::now();
    assert_eq!(b.delete(&session_path(&id)).await.status, 204);
    assert_eq!(live.json(WITHIN).await, json!({"type": "ended", "reason": "deleted"}));
    assert_eq!(live.closed(WITHIN).await, (1000, "session deleted".to_owned()));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "A's socket closed {took:?} after B's delete");
    a.get(&session_path(&id)).await.assert_error(404, "ERR_SESSION_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_a_quick_503_and_service_comes_back_by_itself() {
    let mut redis = OwnRedis::start().await;
    let backend = Backend::RedisAt { url: redis.url(), prefix: "down:".to_owned() };
    let server = TestServer::on(&backend).await;
    let id = server.create().await;

    redis.stop();
    for (method, path) in [
        (Method::POST, "/api/v1/session".to_owned()),
        (Method::POST, heartbeat_path(&id)),
        (Method::GET, session_path(&id)),
        (Method::GET, "/healthz".to_owned()),
    ] {
        let started = Instant::now();
        let reply = server.send(method.clone(), &path, Some("application/json"), "{}").await;
        let took = started.elapsed();
        reply.assert_error(503, "ERR_STORE_UNAVAILABLE");
        assert_eq!(reply.header("retry-after"), Some("1"), "{method} {path}");
        assert!(took < Duration::from_secs(1), "{method} {path} took {took:?}");
    }

    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = server.post_json("/api/v1/session", "{}").await;
        if reply.status == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "not back: {}", reply.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_resubscribes_after_losing_its_connection() {
    let redis = OwnRedis::start().await;
    let backend = Backend::RedisAt { url: redis.url(), prefix: "feed:".to_owned() };
    let a = TestServer::on(&backend).await;
    let b = TestServer::on(&backend).await;
    let url = redis.url();
    let subscribers = || redis_command(&url, &["PUBSUB", "NUMSUB", "feed:events"]);
    wait_for(|| async { subscribers().await.contains("int(2)") }, "both instances subscribe").await;

    let id = a.create().await;
    let mut live = a.live(&id, None).await.unwrap();
    assert_eq!(live.json(WITHIN).await["type"], "extended");
    redis_command(&url, &["CLIENT", "KILL", "TYPE", "pubsub"]).await;
    wait_for(|| async { subscribers().await.contains("int(2)") }, "both subscribe again").await;

    assert_eq!(b.delete(&session_path(&id)).await.status, 204);
    match live.next(WITHIN).await {
        Received::Json(ended) => assert_eq!(ended, json!({"type": "ended", "reason": "deleted"})),
        other => panic!("expected the end, got {other:?}"),
    }
}

/// Waits (up to five seconds) until `check` holds.
async fn wait_for<F, Fut>(check: F, what: &str)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
