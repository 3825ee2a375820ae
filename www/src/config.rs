//! Command line and environment configuration.
//!
//! Every setting is a flag with a `KEEPER_*` environment variable behind it and a default that
//! works from a fresh checkout, so `cargo run -p keeper-server` serves the demo with no flags.
//! Values are validated here, at start, with a message naming the flag; nothing later has to
//! second-guess them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};

use crate::demo;
use crate::live::LiveConfig;
use crate::rate_limit::RateLimit;
use crate::serve::Limits;
use crate::state::{AppConfig, default_pkg_dir, default_static_dir};
use crate::store::{MemoryStoreConfig, RedisStoreConfig};

/// The longest TTL accepted.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// `keeper-server`: the reference server of session-keeper.
#[derive(Debug, Parser)]
#[command(name = "keeper-server", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How to serve (when no subcommand is given).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks a live server by hand: create, heartbeat with and without a JSON Content-Type,
    /// heartbeat on a wrong path, delete, heartbeat after delete.
    Probe(ProbeArgs),
}

/// Settings of `keeper-server probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// The server's base URL (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// How long to wait for each answer.
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
}

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In this process's memory: lost on restart, not shared.
    Memory,
    /// In Redis at this URL: shared by every instance using it, kept across restarts.
    Redis(String),
}

/// Settings of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "KEEPER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Where sessions live: `memory`, or a Redis URL such as redis://127.0.0.1:6379/0 (shared by
    /// every instance pointed at it, and kept across restarts).
    #[arg(long, env = "KEEPER_STORE", default_value = "memory", value_parser = parse_store)]
    pub store: StoreChoice,

    /// What every Redis key and the events channel start with.
    #[arg(long, env = "KEEPER_REDIS_PREFIX", default_value = "keeper:")]
    pub redis_prefix: String,

    /// The longest one call to Redis may take; past it the request is answered 503.
    #[arg(long, env = "KEEPER_REDIS_TIMEOUT", default_value = "500ms", value_parser = parse_positive_duration)]
    pub redis_timeout: Duration,

    /// How long a session lives after its creation or its last heartbeat (e.g. 90s, 20m, 1500ms).
    #[arg(long, env = "KEEPER_TTL", default_value = "20m", value_parser = parse_ttl)]
    pub ttl: Duration,

    /// How often expired sessions are swept.
    #[arg(long, env = "KEEPER_SWEEP_INTERVAL", default_value = "10s", value_parser = parse_positive_duration)]
    pub sweep_interval: Duration,

    /// An origin allowed to call the API from a browser, with credentials (exact, e.g.
    /// http://localhost:3000). Repeatable; the environment variable takes a comma-separated list.
    #[arg(
        long = "allowed-origin",
        env = "KEEPER_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub allowed_origins: Vec<HeaderValue>,

    /// The folder served at / (the demo page).
    #[arg(long, env = "KEEPER_STATIC_DIR", default_value_os_t = default_static_dir())]
    pub static_dir: PathBuf,

    /// The folder served at /pkg/ (the wasm-pack output).
    #[arg(long, env = "KEEPER_PKG_DIR", default_value_os_t = default_pkg_dir())]
    pub pkg_dir: PathBuf,

    /// The largest request body accepted (e.g. 16KiB, 1MiB, 4096).
    #[arg(long, env = "KEEPER_MAX_BODY", default_value = "16KiB", value_parser = parse_size)]
    pub max_body: usize,

    /// The most sessions held at once (in-memory store); creating more answers 503.
    #[arg(long, env = "KEEPER_MAX_SESSIONS", default_value_t = 5_000_000)]
    pub max_sessions: usize,

    /// The most memory sessions may take (in-memory store), counted as 160 B each plus their
    /// client info (e.g. 512MiB, 2GiB); creating more answers 503.
    #[arg(long, env = "KEEPER_MEMORY_BUDGET", default_value = "1GiB", value_parser = parse_size)]
    pub memory_budget: usize,

    /// How many sessions one client address may create at once before the rate limit applies.
    #[arg(
        long,
        env = "KEEPER_CREATE_BURST",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub create_burst: u32,

    /// How many sessions per second one client address may create, on average.
    #[arg(long, env = "KEEPER_CREATE_RATE", default_value_t = 1.0, value_parser = parse_rate)]
    pub create_rate: f64,

    /// How many heartbeats one session may send at once before the rate limit applies.
    #[arg(
        long,
        env = "KEEPER_HEARTBEAT_BURST",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub heartbeat_burst: u32,

    /// How many heartbeats per second one session earns back, on average.
    #[arg(long, env = "KEEPER_HEARTBEAT_RATE", default_value_t = 10.0, value_parser = parse_rate)]
    pub heartbeat_rate: f64,

    /// How often each live-channel WebSocket is pinged; one that misses two pongs is closed.
    #[arg(long, env = "KEEPER_WS_PING_INTERVAL", default_value = "30s", value_parser = parse_positive_duration)]
    pub ws_ping_interval: Duration,

    /// The most live sockets one session may hold at once.
    #[arg(
        long,
        env = "KEEPER_WS_MAX_PER_SESSION",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub ws_max_per_session: u32,

    /// The most live sockets the server holds at once.
    #[arg(long, env = "KEEPER_WS_MAX_SOCKETS", default_value_t = 100_000)]
    pub ws_max_sockets: usize,

    /// How long a connection may take to send a request head, counted from when the server
    /// waits for one (so also how long a keep-alive connection may stay idle between requests).
    #[arg(long, env = "KEEPER_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub header_read_timeout: Duration,

    /// How long a connection may go with no byte moving either way (must exceed
    /// --ws-ping-interval, which keeps live sockets busy).
    #[arg(long, env = "KEEPER_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_positive_duration)]
    pub idle_timeout: Duration,

    /// The most HTTP connections served at once; more are answered 503 and closed.
    #[arg(
        long,
        env = "KEEPER_MAX_CONNECTIONS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,

    /// How long a graceful shutdown may take before the connections still open are dropped.
    #[arg(long, env = "KEEPER_SHUTDOWN_DEADLINE", default_value = "10s", value_parser = parse_positive_duration)]
    pub shutdown_deadline: Duration,

    /// What to log, as a tracing filter (e.g. info, debug, keeper_server=debug).
    #[arg(long, env = "KEEPER_LOG", default_value = "info")]
    pub log: String,

    /// Turns on the demo and test-support endpoints under /api/v1/demo/ (the environment
    /// variable takes true/false, 1/0, yes/no, on/off).
    #[arg(long, env = "KEEPER_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,

    /// Lets --demo listen on an address other than loopback: anyone who reaches it can then list
    /// and delete sessions and take the server down.
    #[arg(long, env = "KEEPER_DEMO_ON_PUBLIC_ADDRESS", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo_on_public_address: bool,
}

impl ServeArgs {
    /// Checks what no single flag can: demo mode stays on loopback unless asked, and live
    /// sockets, kept busy by their pings, are not closed as idle.
    pub fn validate(&self) -> Result<(), String> {
        if self.demo {
            demo::check_address(self.addr, self.demo_on_public_address)?;
        }
        if self.idle_timeout <= self.ws_ping_interval {
            return Err(format!(
                "--idle-timeout ({}) must be longer than --ws-ping-interval ({}), or live sockets \
                 are closed between two pings",
                humantime::format_duration(self.idle_timeout),
                humantime::format_duration(self.ws_ping_interval)
            ));
        }
        Ok(())
    }

    /// The settings of the in-memory store.
    pub fn memory_config(&self) -> MemoryStoreConfig {
        MemoryStoreConfig {
            ttl: self.ttl,
            max_sessions: self.max_sessions,
            memory_budget: self.memory_budget,
            heartbeat_burst: self.heartbeat_burst,
            heartbeat_rate: self.heartbeat_rate,
        }
    }

    /// The settings of the Redis store at `url`.
    pub fn redis_config(&self, url: &str) -> RedisStoreConfig {
        RedisStoreConfig {
            url: url.to_owned(),
            prefix: self.redis_prefix.clone(),
            ttl: self.ttl,
            heartbeat_burst: self.heartbeat_burst,
            heartbeat_rate: self.heartbeat_rate,
            timeout: self.redis_timeout,
        }
    }

    /// The settings of the application.
    pub fn app_config(&self) -> AppConfig {
        AppConfig {
            max_body: self.max_body,
            allowed_origins: self.allowed_origins.clone(),
            static_dir: self.static_dir.clone(),
            pkg_dir: self.pkg_dir.clone(),
            live: LiveConfig {
                ping_interval: self.ws_ping_interval,
                max_per_session: self.ws_max_per_session as usize,
                max_sockets: self.ws_max_sockets,
            },
            create_limit: RateLimit { burst: self.create_burst, per_second: self.create_rate },
        }
    }

    /// The connection limits.
    pub fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections as usize,
            shutdown_deadline: self.shutdown_deadline,
        }
    }
}

/// `memory` or a `redis://` URL.
pub fn parse_store(value: &str) -> Result<StoreChoice, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("memory") {
        return Ok(StoreChoice::Memory);
    }
    if value.starts_with("redis://") {
        return Ok(StoreChoice::Redis(value.to_owned()));
    }
    Err(format!("`{value}` is neither `memory` nor a redis:// URL"))
}

/// A human duration (`90s`, `20m`, `1500ms`) that is not zero.
pub fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value.trim()).map_err(|error| error.to_string())?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

/// A TTL: a human duration of at least a millisecond and at most a year.
pub fn parse_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_positive_duration(value)?;
    if ttl < Duration::from_millis(1) || ttl > MAX_TTL {
        return Err("must be between 1ms and 365days".to_owned());
    }
    Ok(ttl)
}

/// A positive, finite rate per second.
pub fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value.trim().parse().map_err(|_| format!("`{value}` is not a number"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err("must be a number above zero".to_owned());
    }
    Ok(rate)
}

/// A byte size: a number with an optional unit `B`, `KiB`, `MiB` or `GiB` (case-insensitive;
/// `K`, `M` and `G` are the same binary units). At least 2 bytes, so `{}` always fits.
pub fn parse_size(value: &str) -> Result<usize, String> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: usize =
        number.parse().map_err(|_| format!("`{value}` is not a size such as 16KiB"))?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        "g" | "gib" => 1024 * 1024 * 1024,
        _ => return Err(format!("unknown unit in `{value}`: use B, KiB, MiB or GiB")),
    };
    let size = number.checked_mul(multiplier).ok_or_else(|| format!("`{value}` is too large"))?;
    if size < 2 {
        return Err("must be at least 2 bytes".to_owned());
    }
    Ok(size)
}

/// A browser origin, `scheme://host[:port]`, compared exactly (lower-cased as browsers send it).
pub fn parse_origin(value: &str) -> Result<HeaderValue, String> {
    let origin = value.trim().to_ascii_lowercase();
    let Some(rest) = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))
    else {
        return Err(format!(
            "`{value}` is not an origin: it must start with http:// or https:// (`*` is never allowed)"
        ));
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*', '@']) {
        return Err(format!(
            "`{value}` is not an origin: only scheme://host[:port], no path or trailing slash"
        ));
    }
    HeaderValue::from_str(&origin).map_err(|_| format!("`{value}` is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_the_demo_locally() {
        let cli = Cli::try_parse_from(["keeper-server"]).unwrap();
        assert!(cli.command.is_none());
        let args = cli.serve;
        assert_eq!(args.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(args.ttl, Duration::from_secs(1200));
        assert_eq!(args.sweep_interval, Duration::from_secs(10));
        assert_eq!(args.max_body, 16 * 1024);
        assert_eq!(args.max_sessions, 5_000_000);
        assert_eq!(args.heartbeat_burst, 100);
        assert_eq!(args.heartbeat_rate, 10.0);
        assert!(!args.demo);
        assert_eq!(args.store, StoreChoice::Memory);
        assert_eq!(args.memory_budget, 1024 * 1024 * 1024);
        assert_eq!((args.create_burst, args.create_rate), (20, 1.0));
        assert_eq!(args.ws_ping_interval, Duration::from_secs(30));
        assert_eq!(args.limits(), Limits::default());
        assert_eq!(args.app_config().live, LiveConfig::default());
        assert!(args.validate().is_ok());
        assert!(args.allowed_origins.is_empty());
        assert!(args.static_dir.ends_with("www/demo"));
        assert!(args.pkg_dir.ends_with("pkg"));
        assert!(!args.pkg_dir.to_string_lossy().contains(".."));
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "keeper-server",
            "--ttl",
            "1500ms",
            "--allowed-origin",
            "http://localhost:3000",
            "--allowed-origin",
            "HTTPS://Example.COM:8443,http://127.0.0.1:9000",
            "--max-body",
            "1MiB",
            "--demo",
        ])
        .unwrap();
        assert_eq!(cli.serve.ttl, Duration::from_millis(1500));
        assert_eq!(
            cli.serve.allowed_origins,
            ["http://localhost:3000", "https://example.com:8443", "http://127.0.0.1:9000"]
        );
        assert_eq!(cli.serve.max_body, 1024 * 1024);
        assert!(cli.serve.demo);
    }

    #[test]
    fn probe_subcommand() {
        let cli = Cli::try_parse_from(["keeper-server", "probe", "--url", "http://h:1"]).unwrap();
        let Some(Command::Probe(args)) = cli.command else {
            panic!("expected probe");
        };
        assert_eq!(args.url, "http://h:1");
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["keeper-server", "--ttl", "0s"][..],
            &["keeper-server", "--ttl", "soon"],
            &["keeper-server", "--ttl", "400days"],
            &["keeper-server", "--allowed-origin", "*"],
            &["keeper-server", "--allowed-origin", "http://a.com/"],
            &["keeper-server", "--allowed-origin", "a.com"],
            &["keeper-server", "--heartbeat-burst", "0"],
            &["keeper-server", "--heartbeat-rate", "0"],
            &["keeper-server", "--heartbeat-rate", "NaN"],
            &["keeper-server", "--max-body", "1"],
            &["keeper-server", "--max-body", "16GB"],
            &["keeper-server", "--addr", "localhost"],
            &["keeper-server", "--store", "postgres://x"],
            &["keeper-server", "--create-burst", "0"],
            &["keeper-server", "--max-connections", "0"],
            &["keeper-server", "--ws-ping-interval", "0s"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} should be refused");
        }
    }

    #[test]
    fn stores_and_cross_flag_rules() {
        let cli =
            Cli::try_parse_from(["keeper-server", "--store", "redis://127.0.0.1:6379/0"]).unwrap();
        assert_eq!(cli.serve.store, StoreChoice::Redis("redis://127.0.0.1:6379/0".to_owned()));
        let public_demo =
            Cli::try_parse_from(["keeper-server", "--demo", "--addr", "0.0.0.0:8080"]).unwrap();
        assert!(public_demo.serve.validate().unwrap_err().contains("--demo-on-public-address"));
        let on_purpose = Cli::try_parse_from([
            "keeper-server",
            "--demo",
            "--addr",
            "0.0.0.0:8080",
            "--demo-on-public-address",
        ])
        .unwrap();
        assert!(on_purpose.serve.validate().is_ok());
        let idle = Cli::try_parse_from(["keeper-server", "--idle-timeout", "30s"]).unwrap();
        assert!(idle.serve.validate().unwrap_err().contains("--ws-ping-interval"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16KiB"), Ok(16384));
        assert_eq!(parse_size("16k"), Ok(16384));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2 MiB"), Ok(2 * 1024 * 1024));
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("99999999999999999999MiB").is_err());
    }
}
