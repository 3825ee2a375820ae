//! What the keeper reports to the page: its states, the reasons it sends, and its events.

use std::fmt;

/// Where a keeper is in its life.
///
/// `Idle` before the first [`start`](crate::Keeper::start), `Running` while heartbeats succeed,
/// `Failing` from the first failure until the next success, `Expired` once the session is known
/// to be gone (nothing more is sent), `Stopped` after [`stop`](crate::Keeper::stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Constructed, not started.
    Idle,
    /// Started; the last heartbeat (if any) succeeded.
    Running,
    /// Started; one or more heartbeats in a row have failed.
    Failing,
    /// The server session is gone; the keeper has stopped itself.
    Expired,
    /// Stopped by the page.
    Stopped,
}

impl State {
    /// The name used in JavaScript: `"idle"`, `"running"`, `"failing"`, `"expired"`, `"stopped"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Failing => "failing",
            State::Expired => "expired",
            State::Stopped => "stopped",
        }
    }

    /// True while the keeper schedules heartbeats and listens for activity.
    pub fn is_active(self) -> bool {
        matches!(self, State::Running | State::Failing)
    }
}

/// Why a heartbeat was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The first heartbeat, sent by `start()` (unless `beatOnStart` is false).
    Start,
    /// The interval elapsed.
    Timer,
    /// The user did something and the throttle window had passed.
    Activity,
    /// The page called `beat()`.
    Manual,
    /// A heartbeat was overdue when the keeper looked again: the tab was in the background, the
    /// laptop slept, or the network came back.
    Resume,
    /// A retry after a failure (5xx, network error, timeout, 429).
    Retry,
}

impl Reason {
    /// The name used in JavaScript, e.g. `"timer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Timer => "timer",
            Reason::Activity => "activity",
            Reason::Manual => "manual",
            Reason::Resume => "resume",
            Reason::Retry => "retry",
        }
    }
}

/// Why the keeper decided the session is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReason {
    /// The server answered 404 or 410: it no longer knows the session.
    NotFound,
    /// The server answered 401 or 403: the credentials are no longer accepted.
    Unauthorized,
    /// The known expiry passed without a successful heartbeat (the device slept, or the server
    /// was unreachable for longer than the TTL).
    TtlElapsed,
}

impl ExpiryReason {
    /// The name used in JavaScript: `"not_found"`, `"unauthorized"` or `"ttl_elapsed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryReason::NotFound => "not_found",
            ExpiryReason::Unauthorized => "unauthorized",
            ExpiryReason::TtlElapsed => "ttl_elapsed",
        }
    }
}

/// A heartbeat the server accepted (any 2xx).
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    /// Why it was sent.
    pub reason: Reason,
    /// The HTTP status, 200 to 299.
    pub status: u16,
    /// When it was sent, in epoch milliseconds.
    pub sent_at: u64,
    /// When the session now expires, in epoch milliseconds.
    pub expires_at: u64,
    /// Time from sending to the answer, in milliseconds.
    pub latency_ms: u64,
}

/// A heartbeat that failed, or could not be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Why it was sent.
    pub reason: Reason,
    /// The HTTP status, or 0 when no answer came (network error, timeout, offline).
    pub status: u16,
    /// The server's `error.code` when it sent one, otherwise one of the keeper's own codes:
    /// `ERR_NETWORK`, `ERR_TIMEOUT`, `ERR_OFFLINE`, `ERR_HTTP`.
    pub code: String,
    /// The server's `error.message`, or a description of what went wrong.
    pub message: String,
    /// When it was sent (or, offline, when it would have been), in epoch milliseconds.
    pub sent_at: u64,
}

/// Everything the keeper tells the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A heartbeat succeeded.
    Heartbeat(Heartbeat),
    /// A heartbeat failed. Every failure gives one, never silently.
    Error(Failure),
    /// Heartbeats have failed without a success for `failureWarningMs`; once per failure episode.
    Warning {
        /// When the episode began, in epoch milliseconds.
        since: u64,
        /// Consecutive failures so far.
        failures: u32,
    },
    /// The first success after a warning.
    Recovered {
        /// Consecutive failures the episode counted.
        failures: u32,
        /// From the episode's first failure to this success, in milliseconds.
        downtime_ms: u64,
    },
    /// The session is gone; the keeper has stopped.
    Expired {
        /// How the keeper knows.
        reason: ExpiryReason,
    },
    /// The keeper moved from one state to another.
    StateChange {
        /// The state before.
        from: State,
        /// The state now.
        to: State,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            0 => write!(
                f,
                "{} heartbeat failed: {} ({})",
                self.reason.as_str(),
                self.message,
                self.code
            ),
            status => write!(
                f,
                "{} heartbeat failed with HTTP {status}: {} ({})",
                self.reason.as_str(),
                self.message,
                self.code
            ),
        }
    }
}
