//! Concurrency: many simultaneous creates, and the sweeper (one session under many simultaneous
//! heartbeats is in the conformance suite).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use keeper_server::clock::Clock;
use keeper_server::store::{SessionStore, spawn_sweeper};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::common::{TTL, TestServer, heartbeat_path, session_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_creates_make_a_thousand_distinct_sessions() {
    let server = Arc::new(TestServer::start().await);
    // Bounded so the test also passes where file descriptors are few.
    let in_flight = Arc::new(Semaphore::new(200));
    let mut creates = JoinSet::new();
    for _ in 0..1000 {
        let server = Arc::clone(&server);
        let in_flight = Arc::clone(&in_flight);
        creates.spawn(async move {
            let _permit = in_flight.acquire_owned().await.unwrap();
            server.create().await
        });
    }
    let mut ids = HashSet::new();
    while let Some(id) = creates.join_next().await {
        assert!(ids.insert(id.unwrap()), "ids are distinct");
    }
    assert_eq!(ids.len(), 1000);
    assert_eq!(server.len().await, 1000, "none lost");
    let listed = server.state.store().list(usize::MAX, server.now()).await.unwrap().newest;
    let listed: HashSet<String> = listed.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn the_sweep_removes_exactly_the_expired_sessions() {
    let server = TestServer::start().await;
    let mut first = Vec::new();
    for _ in 0..10 {
        first.push(server.create().await);
    }
    server.clock.advance(Duration::from_secs(600));
    let mut second = Vec::new();
    for _ in 0..5 {
        second.push(server.create().await);
    }
    for id in &first[..3] {
        assert_eq!(server.post_json(&heartbeat_path(id), "{}").await.status, 200);
    }
    // The first ten expire now, except the three that beat.
    server.clock.advance(TTL - Duration::from_secs(600));
    let removed = server.state.store().sweep(server.now()).await.unwrap();
    assert_eq!(removed, 7);
    assert_eq!(server.len().await, 8);
    for id in first[..3].iter().chain(&second) {
        assert_eq!(server.get(&session_path(id)).await.status, 200);
    }
    for id in &first[3..] {
        assert_eq!(server.get(&session_path(id)).await.status, 404);
    }
}

#[tokio::test]
async fn the_background_sweeper_runs_until_stopped() {
    let server = TestServer::start().await;
    for _ in 0..20 {
        server.create().await;
    }
    let stop = CancellationToken::new();
    let clock: Arc<dyn Clock> = server.clock.clone();
    let sweeper = spawn_sweeper(
        Arc::clone(server.state.store()),
        clock,
        Arc::clone(server.state.metrics()),
        Duration::from_millis(10),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.len().await, 20, "nothing expired, nothing swept");

    server.clock.advance(TTL);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.len().await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the sweeper did not sweep");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(1), sweeper)
        .await
        .expect("the sweeper stops when told")
        .unwrap();
}
