//! Serving: graceful shutdown, real outages, and the binary itself.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::{
    Options, Reply, TestServer, client, heartbeat_path, session_path, test_redis_url,
};

async fn refused(addr: std::net::SocketAddr) -> bool {
    matches!(
        TcpStream::connect(addr).await,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test]
async fn graceful_shutdown_completes_a_request_in_flight() {
    let mut server = TestServer::start().await;
    let id = server.create().await;

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
        heartbeat_path(&id)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Let the server read the head and start the handler, which now waits for the body.
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(refused(server.addr).await, "no new connections once shutting down");
    assert!(server.is_serving(), "still finishing the request in flight");

    stream.write_all(b"{}").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&id), "{answer}");

    server.served(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn an_outage_refuses_connections_then_serves_the_same_sessions_again() {
    let server = TestServer::with(Options::demo()).await;
    let id = server.create().await;

    // An idle keep-alive connection, as a browser would hold.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();

    let started = Instant::now();
    let reply = server.post_json("/api/v1/demo/outage", r#"{"ms":800}"#).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let reply = reply.json();
    assert_eq!(reply["down_for_ms"], 800);
    assert!(reply["back_at"].as_str().unwrap().ends_with('Z'));

    // The idle connection is closed at once, and new ones are refused.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_millis(500), idle.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "idle connection closed: {closed:?}");
    let mut saw_refused = false;
    while started.elapsed() < Duration::from_millis(600) {
        if refused(server.addr).await {
            saw_refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_refused, "connections are refused during the outage");

    // Back on the same address, with the same store.
    let fresh = client();
    let back = loop {
        if let Ok(response) = fresh.get(server.url("/healthz")).send().await {
            break (response.status().as_u16(), started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the server never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(back.0, 200);
    assert!(back.1 >= Duration::from_millis(800), "back too early: {:?}", back.1);
    let session = fresh.get(server.url(&session_path(&id))).send().await.unwrap();
    assert_eq!(session.status().as_u16(), 200);
    assert!(server.is_serving());
}

#[tokio::test]
async fn a_shutdown_during_an_outage_ends_serving_at_once() {
    let mut server = TestServer::with(Options::demo()).await;
    let reply = server.post_json("/api/v1/demo/outage", r#"{"ms":60000}"#).await;
    assert_eq!(reply.status, 202);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(refused(server.addr).await);
    server.shutdown.cancel();
    server.served(Duration::from_secs(2)).await.unwrap();
}

/// The real binary, killed and reaped however the test ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the real binary on a free port; returns it, its base URL and what it printed first.
/// Its stderr is a pipe closed at once: logging must not break serving or shutting down.
fn spawn_binary(args: &[&str]) -> (Running, String, Vec<String>) {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_keeper-server"))
            .args(["--addr", "127.0.0.1:0", "--log", "info"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    drop(child.0.stderr.take());
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let url = line.strip_prefix("listening on ").map(str::to_owned);
        lines.push(line);
        if let Some(url) = url {
            return (child, url, lines);
        }
    }
    panic!("the server printed no URL: {lines:?}");
}

fn probe(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keeper-server"))
        .args(["probe", "--url", url])
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_binary_serves_passes_the_probe_and_stops_on_sigterm() {
    let (mut child, url, lines) = spawn_binary(&["--demo"]);
    assert!(lines.iter().any(|line| line.starts_with("demo mode: on")), "{lines:?}");

    let output = probe(&url);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    assert!(table.starts_with("check "), "{table}");
    let passed = table.lines().skip(1).filter(|line| line.ends_with("| ok"));
    assert_eq!(passed.count(), 6, "{table}");

    let killed = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");

    // Nothing listens there any more: a clear error and a non-zero exit, no panic.
    let output = probe(&url);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: cannot reach the server at"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Sends SIGTERM to the binary and waits for it to exit, at most `within`; returns how long it
/// took.
async fn terminate(child: &mut Running, within: Duration) -> Duration {
    let started = Instant::now();
    let killed = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "SIGTERM did not stop the server within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a session on the server at `url` and returns its id.
async fn create_on(http: &reqwest::Client, url: &str) -> String {
    let created = http
        .post(format!("{url}/api/v1/session"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    Reply::from(created).await.json()["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sigterm_with_a_stalled_client_exits_within_the_shutdown_deadline() {
    let (mut child, url, _) = spawn_binary(&["--shutdown-deadline", "1s"]);
    let http = client();
    let id = create_on(&http, &url).await;
    let addr = url.trim_start_matches("http://");
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{{",
        heartbeat_path(&id)
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    assert!(http.get(format!("{url}/healthz")).send().await.unwrap().status().is_success());

    let took = terminate(&mut child, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "took {took:?} with a stalled body in flight");
}

#[test]
fn demo_mode_refuses_a_public_address_unless_asked_loudly() {
    let output = Command::new(env!("CARGO_BIN_EXE_keeper-server"))
        .args(["--demo", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--demo-on-public-address"), "{stderr}");
}

#[tokio::test]
async fn sessions_in_redis_survive_a_restart_of_the_server() {
    let prefix = format!("keeper-test:{}:", uuid::Uuid::new_v4());
    let redis = test_redis_url();
    let args = ["--store", redis.as_str(), "--redis-prefix", prefix.as_str()];
    let (mut first, url, lines) = spawn_binary(&args);
    assert!(lines.iter().any(|line| line.starts_with("store: redis at")), "{lines:?}");
    let http = client();
    let id = create_on(&http, &url).await;
    terminate(&mut first, Duration::from_secs(5)).await;

    let (_second, url, _) = spawn_binary(&args);
    let read = client().get(format!("{url}{}", session_path(&id))).send().await.unwrap();
    assert_eq!(read.status(), 200, "the session outlived the process that made it");
}
