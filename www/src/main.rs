//! The `keeper-server` binary: parses the configuration, builds the state, binds and serves
//! (or runs the `probe` subcommand).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use keeper_server::clock::SystemClock;
use keeper_server::config::{Cli, Command, ServeArgs};
use keeper_server::serve::{serve, shutdown_signal};
use keeper_server::store::{MemoryStore, spawn_sweeper};
use keeper_server::{AppState, app, probe};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Probe(args)) => probe::run(args).await,
        None => match run(cli.serve).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a line on stdout, where scripts read the URL from; a closed stdout is not an error.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

async fn run(args: ServeArgs) -> Result<(), String> {
    let filter = EnvFilter::try_new(&args.log).map_err(|error| format!("--log: {error}"))?;
    // A closed stderr must not turn a log line into a panic (say, in the shutdown task).
    tracing_subscriber::fmt().with_env_filter(filter).log_internal_errors(false).init();

    let clock = Arc::new(SystemClock);
    let state =
        AppState::new(MemoryStore::new(args.store_config()), clock.clone(), args.app_config());
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.addr))?;
    let addr =
        listener.local_addr().map_err(|error| format!("cannot read the bound address: {error}"))?;

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
            tracing::info!("shutting down: finishing requests in flight");
        }
    });
    let sweeper =
        spawn_sweeper(state.store().clone(), clock, args.sweep_interval, shutdown.clone());

    say(if args.demo {
        "demo mode: on (/api/v1/demo/sessions, /api/v1/demo/requests, /api/v1/demo/outage)"
    } else {
        "demo mode: off (--demo or KEEPER_DEMO=true turns it on)"
    });
    say(&format!(
        "ttl {}, static files from {}, package from {}",
        humantime::format_duration(args.ttl),
        args.static_dir.display(),
        args.pkg_dir.display()
    ));
    say(&format!("listening on http://{addr}"));

    let outages = state.outages().clone();
    let served = serve(listener, app(state), outages, shutdown.clone()).await;
    shutdown.cancel();
    let _ = sweeper.await;
    served.map_err(|error| format!("serving on {addr} failed: {error}"))
}
