//! The defences: each test here fails without the limit it names (a short configured limit, and
//! a client that would hold the server far longer without it).

use std::net::IpAddr;
use std::time::Duration;

use keeper_server::live::LiveConfig;
use keeper_server::rate_limit::RateLimit;
use keeper_server::serve::Limits;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::{Options, Received, Reply, TestServer, client, heartbeat_path, session_path};

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(60);

fn limits(header_read_timeout: Duration, idle_timeout: Duration) -> Limits {
    Limits { header_read_timeout, idle_timeout, ..Limits::default() }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(started + within, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after {within:?}"),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_client_trickling_its_header_is_closed_by_the_header_timeout() {
    let server =
        TestServer::with(Options { limits: limits(SHORT, LONG), ..Options::default() }).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    let started = Instant::now();
    // A header line every 100 ms: bytes keep moving, the head never completes.
    let trickle = async {
        for n in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(format!("X-Slow-{n}: 1\r\n").as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), trickle).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "the connection was held {took:?}");
    let (_, _) = until_closed(&mut stream, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_by_the_idle_timeout() {
    let server =
        TestServer::with(Options { limits: limits(LONG, SHORT), ..Options::default() }).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let (answer, took) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(2), "the idle keep-alive connection was held {took:?}");
}

#[tokio::test]
async fn a_keep_alive_connection_waiting_for_a_request_is_closed_by_the_header_timeout() {
    let server =
        TestServer::with(Options { limits: limits(SHORT, LONG), ..Options::default() }).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let (answer, took) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(2), "held {took:?}");
}

#[tokio::test]
async fn connections_over_the_cap_get_a_503_and_a_freed_slot_serves_again() {
    let server = TestServer::with(Options {
        limits: Limits { max_connections: 2, ..limits(LONG, LONG) },
        ..Options::default()
    })
    .await;
    let held = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let (answer, took) = until_closed(&mut third, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains(r#""code":"ERR_SERVER_BUSY""#), "{answer}");
    assert!(took < Duration::from_secs(1));

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let fresh = client();
        if let Ok(reply) = fresh.get(server.url("/healthz")).send().await
            && reply.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_shutdown_ends_within_its_deadline_despite_a_stalled_request() {
    let mut server = TestServer::with(Options {
        limits: Limits { shutdown_deadline: Duration::from_millis(500), ..limits(LONG, LONG) },
        ..Options::default()
    })
    .await;
    let id = server.create().await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        heartbeat_path(&id)
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // The request is in flight once the server answers another one after it.
    assert_eq!(server.send_http(Method::GET, "/healthz", None, "").await.status, 200);

    let started = Instant::now();
    server.shutdown.cancel();
    server.served(Duration::from_secs(5)).await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(450), "the request in flight had its chance: {took:?}");
    assert!(took < Duration::from_millis(1500), "the deadline held: {took:?}");
}

#[tokio::test]
async fn a_create_flood_gets_429_and_another_client_still_creates() {
    let mut options = Options::default();
    options.app.create_limit = RateLimit { burst: 5, per_second: 1.0 };
    let server = TestServer::with(options).await;
    let create =
        || server.send_http(Method::POST, "/api/v1/session", Some("application/json"), "{}");
    for _ in 0..5 {
        assert_eq!(create().await.status, 201);
    }
    let flooded = create().await;
    flooded.assert_error(429, "ERR_RATE_LIMITED");
    assert_eq!(flooded.header("retry-after"), Some("1"));
    assert_eq!(server.len().await, 5);

    let elsewhere: IpAddr = "127.0.0.2".parse().unwrap();
    let other = reqwest::Client::builder().no_proxy().local_address(elsewhere).build().unwrap();
    let response = other
        .post(server.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "another address is not affected");

    server.clock.advance(Duration::from_secs(1));
    assert_eq!(create().await.status, 201, "one more a second");
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed() {
    let mut options = Options::default();
    options.app.live =
        LiveConfig { ping_interval: Duration::from_millis(100), ..LiveConfig::default() };
    let server = TestServer::with(options).await;
    let id = server.create().await;
    let mut live = server.live(&id, None).await.unwrap();
    let started = Instant::now();
    // Not reading means not answering pings: after the third interval the server gives up.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(live.json(Duration::from_secs(1)).await["type"], "extended");
    assert_eq!(live.closed(Duration::from_secs(2)).await, (1000, "heartbeat timeout".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(live);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.state.live().sockets() > 0 {
        assert!(Instant::now() < deadline, "its place was not given back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_open() {
    let mut options = Options::default();
    options.app.live =
        LiveConfig { ping_interval: Duration::from_millis(50), ..LiveConfig::default() };
    let server = TestServer::with(options).await;
    let id = server.create().await;
    let mut live = server.live(&id, None).await.unwrap();
    assert_eq!(live.json(Duration::from_secs(1)).await["type"], "extended");
    // Reading answers pings; ten intervals pass with nothing else to say.
    let quiet = tokio::time::timeout(Duration::from_millis(500), live.next(Duration::from_secs(5)));
    assert!(quiet.await.is_err(), "nothing arrived: still open");
}

#[tokio::test]
async fn live_sockets_are_capped_per_session_and_closed_with_1001_on_shutdown() {
    let mut options = Options::default();
    options.app.live = LiveConfig { max_per_session: 2, ..LiveConfig::default() };
    let server = TestServer::with(options).await;
    let id = server.create().await;
    let mut first = server.live(&id, None).await.unwrap();
    let mut second = server.live(&id, None).await.unwrap();
    let refused = server.live(&id, None).await.err().unwrap();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP answer: {refused}");
    };
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));

    for live in [&mut first, &mut second] {
        assert_eq!(live.json(Duration::from_secs(1)).await["type"], "extended");
    }
    server.shutdown.cancel();
    for live in [&mut first, &mut second] {
        let (code, _) = live.closed(Duration::from_secs(2)).await;
        assert_eq!(code, 1001, "going away");
    }
}

#[tokio::test]
async fn client_messages_are_capped() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start().await;
    let id = server.create().await;
    let mut live = server.live(&id, None).await.unwrap();
    assert_eq!(live.json(Duration::from_secs(1)).await["type"], "extended");
    live.0.send(Message::text("small messages are ignored")).await.unwrap();
    live.0.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let ended = live.next(Duration::from_secs(2)).await;
    assert!(
        matches!(ended, Received::Closed(_) | Received::Failed),
        "the socket is dropped: {ended:?}"
    );
    assert_eq!(server.get(&session_path(&id)).await.status, 200, "the session is untouched");
}

#[tokio::test]
async fn metrics_count_heartbeats_415s_creations_and_sockets() {
    let server = TestServer::start().await;
    let id = server.create().await;
    server.post_json(&heartbeat_path(&id), "{}").await;
    server.post_json(&heartbeat_path(&uuid::Uuid::new_v4().to_string()), "{}").await;
    server.send(Method::POST, &heartbeat_path(&id), Some("text/plain"), "{}").await;
    server.send(Method::POST, &heartbeat_path(&id), None, "{}").await;
    server.post_json(&heartbeat_path(&id), "[]").await;
    let _live = server.live(&id, None).await.unwrap();

    let reply: Reply = server.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    for line in [
        r#"keeper_heartbeats_total{outcome="ok"} 1"#,
        r#"keeper_heartbeats_total{outcome="not_found"} 1"#,
        r#"keeper_heartbeats_total{outcome="rejected"} 1"#,
        r#"keeper_unsupported_media_type_total{path="/api/v1/session/{id}/heartbeat"} 2"#,
        "keeper_sessions_created_total 1",
        "keeper_sessions_live 1",
        "keeper_live_sockets 1",
        r#"keeper_store_seconds_count{op="heartbeat"}"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
