//! The `keeper-server` binary: parses the configuration, builds the state, binds and serves
//! (or runs the `probe` subcommand).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use keeper_server::clock::SystemClock;
use keeper_server::config::{Cli, Command, ServeArgs, StoreChoice};
use keeper_server::demo::Demo;
use keeper_server::serve::{raise_fd_limit, serve, shutdown_signal};
use keeper_server::store::{AnyStore, MemoryStore, RedisStore};
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

/// A Redis URL without its password, for printing.
fn redacted(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("redis://…@{host}"),
        None => url.to_owned(),
    }
}

async fn run(args: ServeArgs) -> Result<(), String> {
    args.validate()?;
    let filter = EnvFilter::try_new(&args.log).map_err(|error| format!("--log: {error}"))?;
    // A closed stderr must not turn a log line into a panic (say, in the shutdown task).
    tracing_subscriber::fmt().with_env_filter(filter).log_internal_errors(false).init();

    let files = raise_fd_limit();
    let limits = args.limits();
    let needed = (limits.max_connections + args.ws_max_sockets) as u64;
    if files.is_some_and(|files| files < needed) {
        tracing::warn!(
            open_files = files,
            needed,
            "the open-file limit is below --max-connections + --ws-max-sockets"
        );
    }
    let (store, store_line) = match &args.store {
        StoreChoice::Memory => {
            (AnyStore::Memory(MemoryStore::new(args.memory_config())), "memory".to_owned())
        }
        StoreChoice::Redis(url) => (
            AnyStore::Redis(RedisStore::open(args.redis_config(url))?),
            format!("redis at {} (keys under {})", redacted(url), args.redis_prefix),
        ),
    };
    let state = AppState::new(store, Arc::new(SystemClock), args.app_config());
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.addr))?;
    let addr =
        listener.local_addr().map_err(|error| format!("cannot read the bound address: {error}"))?;

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        let live = Arc::clone(state.live());
        async move {
            shutdown_signal().await;
            shutdown.cancel();
            live.shut_down();
            tracing::info!("shutting down: finishing requests in flight");
        }
    });
    let background = state.start_background(args.sweep_interval, shutdown.clone());

    say(if args.demo {
        "demo mode: on (/api/v1/demo/sessions, /api/v1/demo/requests, /api/v1/demo/outage)"
    } else {
        "demo mode: off (--demo or KEEPER_DEMO=true turns it on)"
    });
    say(&format!(
        "store: {store_line}; ttl {}; static files from {}, package from {}",
        humantime::format_duration(args.ttl),
        args.static_dir.display(),
        args.pkg_dir.display()
    ));
    say(&format!("listening on http://{addr}"));

    let demo = args.demo.then(|| Demo::new(&state));
    let router = app(state.clone(), demo.as_ref());
    let served = match &demo {
        Some(demo) => demo.serve(listener, router, limits, shutdown.clone()).await,
        None => serve(listener, router, limits, shutdown.clone().cancelled_owned()).await,
    };
    shutdown.cancel();
    state.live().shut_down();
    if tokio::time::timeout(limits.shutdown_deadline, state.live().closed()).await.is_err() {
        tracing::warn!("live sockets were still closing at the shutdown deadline");
    }
    background.finished().await;
    served.map_err(|error| format!("serving on {addr} failed: {error}"))
}
