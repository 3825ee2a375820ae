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

use crate::app::{AppConfig, default_pkg_dir, default_static_dir};
use crate::store::MemoryStoreConfig;

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

/// Settings of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "KEEPER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

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

    /// The most sessions held at once; creating more answers 503.
    #[arg(long, env = "KEEPER_MAX_SESSIONS", default_value_t = 5_000_000)]
    pub max_sessions: usize,

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

    /// What to log, as a tracing filter (e.g. info, debug, keeper_server=debug).
    #[arg(long, env = "KEEPER_LOG", default_value = "info")]
    pub log: String,

    /// Turns on the demo and test-support endpoints under /api/v1/demo/ (the environment
    /// variable takes true/false, 1/0, yes/no, on/off).
    #[arg(long, env = "KEEPER_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
}

impl ServeArgs {
    /// The settings of the in-memory store.
    pub fn store_config(&self) -> MemoryStoreConfig {
        MemoryStoreConfig {
            ttl: self.ttl,
            max_sessions: self.max_sessions,
            heartbeat_burst: self.heartbeat_burst,
            heartbeat_rate: self.heartbeat_rate,
        }
    }

    /// The settings of the application.
    pub fn app_config(&self) -> AppConfig {
        AppConfig {
            max_body: self.max_body,
            allowed_origins: self.allowed_origins.clone(),
            static_dir: self.static_dir.clone(),
            pkg_dir: self.pkg_dir.clone(),
            demo: self.demo,
        }
    }
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

/// A byte size: a number with an optional unit `B`, `KiB` or `MiB` (case-insensitive; `K` and
/// `M` are the same binary units). At least 2 bytes, so `{}` always fits.
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
        _ => return Err(format!("unknown unit in `{value}`: use B, KiB or MiB")),
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
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} should be refused");
        }
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
