//! The throughput ceiling of this machine for the benchmarks (`bench/run.sh`): a bare axum server
//! on the same runtime as `keeper-server` (tokio's multi-threaded scheduler, `TCP_NODELAY`) whose
//! heartbeat route answers a constant JSON body, with no store, no middleware and no clock.
//!
//! ```sh
//! cargo run --release -p keeper-server --example ceiling -- --addr 127.0.0.1:8090
//! ```
//!
//! It answers `POST /api/v1/session` with 201 and `POST /api/v1/session/{id}/heartbeat` with 200,
//! so the benchmark drives it with the same requests as the real servers.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt;
use clap::Parser;

/// A constant answer of the same shape and about the same size as keeper-server's heartbeat.
const HEARTBEAT: &str = r#"{"session_id":"00000000-0000-4000-8000-000000000000","state":"active","expires_at":"2030-01-01T00:20:00.000Z","ttl_seconds":1200.0,"server_time":"2030-01-01T00:00:00.000Z"}"#;

/// A constant created session.
const CREATED: &str = r#"{"session_id":"00000000-0000-4000-8000-000000000000","state":"active","created_at":"2030-01-01T00:00:00.000Z","expires_at":"2030-01-01T00:20:00.000Z","ttl_seconds":1200.0,"last_heartbeat_at":null,"heartbeats":0,"client_info":null}"#;

/// The ceiling server's flags.
#[derive(Debug, Parser)]
#[command(name = "ceiling", about = "A bare axum endpoint answering a constant JSON body")]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = Router::new()
        .route(
            "/api/v1/session",
            post(|| async {
                (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], CREATED)
            }),
        )
        .route(
            "/api/v1/session/{id}/heartbeat",
            post(|| async {
                ([(header::CONTENT_TYPE, "application/json")], HEARTBEAT).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
