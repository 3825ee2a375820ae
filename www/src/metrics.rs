//! `GET /metrics`: what the server did, in the Prometheus text format.
//!
//! The counter that matters most is `keeper_unsupported_media_type_total`: the bug this project
//! exists for was heartbeats refused with 415 for weeks, and a graph of 415s by path shows it in
//! minutes. Beside it: heartbeats by outcome, creations (and refusals), expiries, the store's
//! latency by operation, live sessions and live sockets.
//!
//! Every handle is resolved once, when the state is built, so counting on the request path is
//! one atomic add: no registry lookup, no lock, and nothing taken under the store's locks. Each
//! application state has its own registry (no process-wide recorder), so tests and several
//! servers in one process do not mix their figures. Labels come from fixed lists (a 415's path
//! is reduced to its route, anything else is `other`), so no client can grow the registry.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `keeper_heartbeats_total` | counter | `outcome`: `ok`, `not_found`, `rate_limited`, `unavailable`, `rejected` (a 400, 413 or 408 before the store was asked) |
//! | `keeper_unsupported_media_type_total` | counter | `path`: `/api/v1/session`, `/api/v1/session/{id}/heartbeat`, `/api/v1/session/{id}`, `other` |
//! | `keeper_sessions_created_total` | counter | |
//! | `keeper_sessions_create_refused_total` | counter | `reason`: `rate_limited` (per client address), `unavailable` (store full or down) |
//! | `keeper_sessions_expired_total` | counter | (removed by the in-memory store's sweeper) |
//! | `keeper_store_seconds` | histogram | `op`: `create`, `heartbeat`, `get`, `delete` |
//! | `keeper_sessions_live` | gauge | (in-memory store only: counting keys in Redis is not cheap) |
//! | `keeper_live_sockets` | gauge | |

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How often histogram samples are folded into their buckets (and their memory released).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The buckets of `keeper_store_seconds`, from 50 µs to 1 s.
const STORE_BUCKETS: [f64; 12] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

/// How a heartbeat request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// 200: the session was extended.
    Ok,
    /// 404: no such live session.
    NotFound,
    /// 429: the session's rate limit.
    RateLimited,
    /// 503: the store could not answer.
    Unavailable,
    /// 400, 413 or 408: the request was refused before the store was asked.
    Rejected,
}

impl HeartbeatOutcome {
    const ALL: [Self; 5] =
        [Self::Ok, Self::NotFound, Self::RateLimited, Self::Unavailable, Self::Rejected];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Rejected => "rejected",
        }
    }
}

/// A store operation, for its latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Creating a session.
    Create,
    /// A heartbeat.
    Heartbeat,
    /// Reading a session.
    Get,
    /// Deleting a session.
    Delete,
}

impl StoreOp {
    const ALL: [Self; 4] = [Self::Create, Self::Heartbeat, Self::Get, Self::Delete];

    fn label(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Heartbeat => "heartbeat",
            Self::Get => "get",
            Self::Delete => "delete",
        }
    }
}

/// Why a create was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateRefusal {
    /// The client address's create rate limit.
    RateLimited,
    /// The store was full or down.
    Unavailable,
}

const ROUTES: [&str; 4] =
    ["/api/v1/session", "/api/v1/session/{id}/heartbeat", "/api/v1/session/{id}", "other"];

/// The registry and its resolved handles.
pub struct Metrics {
    handle: PrometheusHandle,
    heartbeats: Vec<Counter>,
    unsupported: Vec<Counter>,
    created: Counter,
    refused: [Counter; 2],
    expired: Counter,
    store_seconds: Vec<Histogram>,
    sessions_live: Gauge,
    live_sockets: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered (at zero).
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&STORE_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("keeper_heartbeats_total", "Heartbeat requests by outcome.");
            metrics::describe_counter!(
                "keeper_unsupported_media_type_total",
                "API writes refused with 415 ERR_INVALID_CONTENT_TYPE, by route."
            );
            metrics::describe_counter!("keeper_sessions_created_total", "Sessions created.");
            metrics::describe_counter!(
                "keeper_sessions_create_refused_total",
                "Creates refused, by reason."
            );
            metrics::describe_counter!(
                "keeper_sessions_expired_total",
                "Expired sessions removed by the sweeper."
            );
            metrics::describe_histogram!(
                "keeper_store_seconds",
                Unit::Seconds,
                "Time the session store took, by operation."
            );
            metrics::describe_gauge!("keeper_sessions_live", "Sessions held by the store.");
            metrics::describe_gauge!("keeper_live_sockets", "Open live-channel WebSockets.");
            Self {
                heartbeats: HeartbeatOutcome::ALL
                    .iter()
                    .map(|outcome| metrics::counter!("keeper_heartbeats_total", "outcome" => outcome.label()))
                    .collect(),
                unsupported: ROUTES
                    .iter()
                    .map(|path| metrics::counter!("keeper_unsupported_media_type_total", "path" => *path))
                    .collect(),
                created: metrics::counter!("keeper_sessions_created_total"),
                refused: [
                    metrics::counter!("keeper_sessions_create_refused_total", "reason" => "rate_limited"),
                    metrics::counter!("keeper_sessions_create_refused_total", "reason" => "unavailable"),
                ],
                expired: metrics::counter!("keeper_sessions_expired_total"),
                store_seconds: StoreOp::ALL
                    .iter()
                    .map(|op| metrics::histogram!("keeper_store_seconds", "op" => op.label()))
                    .collect(),
                sessions_live: metrics::gauge!("keeper_sessions_live"),
                live_sockets: metrics::gauge!("keeper_live_sockets"),
                handle,
            }
        })
    }

    /// Counts a heartbeat request.
    pub fn heartbeat(&self, outcome: HeartbeatOutcome) {
        self.heartbeats[outcome as usize].increment(1);
    }

    /// Counts a 415 on `path` (reduced to its route).
    pub fn unsupported_media_type(&self, path: &str) {
        self.unsupported[route_of(path)].increment(1);
    }

    /// Counts a created session.
    pub fn created(&self) {
        self.created.increment(1);
    }

    /// Counts a refused create.
    pub fn create_refused(&self, why: CreateRefusal) {
        self.refused[why as usize].increment(1);
    }

    /// Counts sessions removed by expiry.
    pub fn expired(&self, count: usize) {
        self.expired.increment(count as u64);
    }

    /// Records how long a store operation took.
    pub fn store_time(&self, op: StoreOp, took: Duration) {
        self.store_seconds[op as usize].record(took.as_secs_f64());
    }

    /// Folds histogram samples into their buckets; call every [`UPKEEP_EVERY`].
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, sessions_live: Option<usize>, live_sockets: usize) -> String {
        if let Some(sessions) = sessions_live {
            self.sessions_live.set(sessions as f64);
        }
        self.live_sockets.set(live_sockets as f64);
        self.handle.render()
    }
}

/// Which of [`ROUTES`] a path is.
fn route_of(path: &str) -> usize {
    let Some(rest) = path.strip_prefix("/api/v1/session") else {
        return ROUTES.len() - 1;
    };
    match rest.strip_prefix('/') {
        None if rest.is_empty() => 0,
        Some(rest) => match rest.split_once('/') {
            Some((id, "heartbeat")) if !id.is_empty() => 1,
            None if !rest.is_empty() => 2,
            _ => ROUTES.len() - 1,
        },
        None => ROUTES.len() - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reduce_to_their_routes() {
        let id = "0b7e2f4e-9a53-4f7e-a0c1-2d8e3f1a5b6c";
        assert_eq!(ROUTES[route_of("/api/v1/session")], "/api/v1/session");
        assert_eq!(
            ROUTES[route_of(&format!("/api/v1/session/{id}/heartbeat"))],
            "/api/v1/session/{id}/heartbeat"
        );
        assert_eq!(ROUTES[route_of(&format!("/api/v1/session/{id}"))], "/api/v1/session/{id}");
        for other in ["/api/v1/heartbeat", "/api/v1/sessions", "/api/v1/session//heartbeat", "/x"] {
            assert_eq!(ROUTES[route_of(other)], "other", "{other}");
        }
    }

    #[test]
    fn counts_show_in_the_text() {
        let metrics = Metrics::new();
        metrics.heartbeat(HeartbeatOutcome::Ok);
        metrics.heartbeat(HeartbeatOutcome::Ok);
        metrics.unsupported_media_type("/api/v1/session/x/heartbeat");
        metrics.store_time(StoreOp::Heartbeat, Duration::from_micros(70));
        metrics.upkeep();
        let text = metrics.render(Some(3), 2);
        assert!(text.contains(r#"keeper_heartbeats_total{outcome="ok"} 2"#), "{text}");
        assert!(text.contains(r#"keeper_heartbeats_total{outcome="not_found"} 0"#), "{text}");
        assert!(
            text.contains(
                r#"keeper_unsupported_media_type_total{path="/api/v1/session/{id}/heartbeat"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"keeper_store_seconds_bucket{op="heartbeat",le="0.0001"} 1"#),
            "{text}"
        );
        assert!(text.contains("keeper_sessions_live 3"), "{text}");
        assert!(text.contains("keeper_live_sockets 2"), "{text}");
    }
}
