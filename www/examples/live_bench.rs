//! Load for the live channel's benchmarks (`bench/server.py`), on loopback only, bounded in
//! count and time:
//!
//! ```sh
//! # create on A, open A's live socket, delete on B: how long until A's socket says so
//! cargo run --release -p keeper-server --example live_bench -- latency --a URL --b URL --rounds 50
//! # open COUNT idle live sockets (one session each), hold them HOLD seconds answering pings
//! cargo run --release -p keeper-server --example live_bench -- sockets --url URL --count 10000 --hold 30s
//! ```
//!
//! Each prints one line `LIVE_JSON {...}` that the bench reads. The sockets come from several
//! loopback source addresses (127.0.0.2, .3, ...), so 50,000 of them do not run out of ports.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How many sockets one source address opens at most.
const PER_SOURCE: usize = 20_000;

/// How many handshakes are under way at once.
const OPENING_AT_ONCE: usize = 256;

#[derive(Debug, Parser)]
#[command(name = "live_bench", about = "Load for the live channel's benchmarks (loopback only)")]
struct Args {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Create on A, watch on A, delete on B, ROUNDS times: the end's latency.
    Latency {
        #[arg(long)]
        a: String,
        #[arg(long)]
        b: String,
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
    /// Open COUNT idle sockets, hold them, close them.
    Sockets {
        #[arg(long)]
        url: String,
        #[arg(long)]
        count: usize,
        #[arg(long, value_parser = humantime::parse_duration)]
        hold: Duration,
    },
}

fn loopback_only(url: &str) -> SocketAddr {
    let addr: SocketAddr = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    assert!(addr.ip().is_loopback(), "this load goes to loopback addresses only");
    addr
}

async fn create(http: &reqwest::Client, url: &str) -> String {
    let response = http
        .post(format!("{url}/api/v1/session"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "create");
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    body["session_id"].as_str().unwrap().to_owned()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(server: SocketAddr, source: IpAddr, id: &str) -> Result<Socket, String> {
    let socket = TcpSocket::new_v4().map_err(|error| error.to_string())?;
    socket.bind(SocketAddr::new(source, 0)).map_err(|error| error.to_string())?;
    let stream = socket.connect(server).await.map_err(|error| error.to_string())?;
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let url = format!("ws://{server}/api/v1/session/{id}/live");
    let (socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|error| error.to_string())?;
    Ok(socket)
}

async fn next_text(socket: &mut Socket) -> Option<String> {
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // One descriptor per socket: lift the soft limit to the hard one (the bench raises that).
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    match args.command {
        Bench::Latency { a, b, rounds } => {
            let server_a = loopback_only(&a);
            loopback_only(&b);
            let mut took = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let id = create(&http, &a).await;
                let mut socket =
                    open(server_a, IpAddr::V4(Ipv4Addr::LOCALHOST), &id).await.expect("opened");
                let opened = next_text(&mut socket).await.expect("the opening message");
                assert!(opened.contains("extended"), "{opened}");
                let started = Instant::now();
                let deleted = http.delete(format!("{b}/api/v1/session/{id}")).send().await.unwrap();
                assert_eq!(deleted.status(), 204);
                let ended = tokio::time::timeout(Duration::from_secs(5), next_text(&mut socket))
                    .await
                    .expect("the end arrived within 5 s")
                    .expect("a message");
                took.push(started.elapsed().as_secs_f64() * 1000.0);
                assert!(ended.contains("deleted"), "{ended}");
            }
            took.sort_by(f64::total_cmp);
            println!(
                "LIVE_JSON {}",
                serde_json::json!({
                    "rounds": rounds,
                    "ms": {"p50": percentile(&took, 0.5), "p90": percentile(&took, 0.9),
                           "max": took[took.len() - 1], "min": took[0]},
                })
            );
        }
        Bench::Sockets { url, count, hold } => {
            let server = loopback_only(&url);
            let started = Instant::now();
            let mut ids = Vec::with_capacity(count);
            let mut creates = JoinSet::new();
            for chunk in 0..count.div_ceil(1000) {
                let (http, url) = (http.clone(), url.clone());
                let n = 1000.min(count - chunk * 1000);
                creates.spawn(async move {
                    let mut ids = Vec::with_capacity(n);
                    for _ in 0..n {
                        ids.push(create(&http, &url).await);
                    }
                    ids
                });
            }
            while let Some(made) = creates.join_next().await {
                ids.extend(made.unwrap());
            }
            let created_in = started.elapsed();
            let stop = tokio_util::sync::CancellationToken::new();
            let mut sockets = JoinSet::new();
            let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel();
            // A few hundred handshakes at a time, as tabs would arrive, not all at once.
            let opening_slots = std::sync::Arc::new(tokio::sync::Semaphore::new(OPENING_AT_ONCE));
            let opening = Instant::now();
            for (n, id) in ids.into_iter().enumerate() {
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (n / PER_SOURCE) as u8));
                let (stop, opened_tx) = (stop.clone(), opened_tx.clone());
                let slots = std::sync::Arc::clone(&opening_slots);
                sockets.spawn(async move {
                    let slot = slots.acquire_owned().await;
                    let mut socket = match open(server, source, &id).await {
                        Ok(socket) => socket,
                        Err(error) => {
                            let _ = opened_tx.send(Err(error));
                            return;
                        }
                    };
                    let _ = next_text(&mut socket).await;
                    drop(slot);
                    let _ = opened_tx.send(Ok(()));
                    // Reading answers the server's pings.
                    tokio::select! {
                        () = stop.cancelled() => {}
                        _ = next_text(&mut socket) => {}
                    }
                    let _ = socket.close(None).await;
                });
                if n % 500 == 499 {
                    tokio::task::yield_now().await;
                }
            }
            drop(opened_tx);
            let (mut opened, mut failed) = (0, Vec::new());
            while opened + failed.len() < count {
                match opened_rx.recv().await {
                    Some(Ok(())) => opened += 1,
                    Some(Err(error)) => failed.push(error),
                    None => break,
                }
            }
            if let Some(first) = failed.first() {
                eprintln!(
                    "live_bench: {} sockets failed to open, the first: {first}",
                    failed.len()
                );
            }
            let opened_in = opening.elapsed();
            println!(
                "LIVE_OPEN {}",
                serde_json::json!({
                    "sockets": opened, "failed": failed.len(), "open_s": opened_in.as_secs_f64()
                })
            );
            tokio::time::sleep(hold).await;
            stop.cancel();
            let closing = Instant::now();
            while sockets.join_next().await.is_some() {}
            println!(
                "LIVE_JSON {}",
                serde_json::json!({
                    "sockets": opened,
                    "create_s": created_in.as_secs_f64(),
                    "open_s": opened_in.as_secs_f64(),
                    "close_s": closing.elapsed().as_secs_f64(),
                })
            );
        }
    }
}
