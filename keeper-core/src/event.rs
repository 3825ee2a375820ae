//! What the keeper reports to the page: its states, the reasons it sends, and its events.

use alloc::string::String;

use crate::text::{concat, push_u64};

/// Where a keeper is in its life; the user's presence is a separate matter ([`Presence`]).
///
/// `Ready` until the first start, `Running` while heartbeats succeed, `Failing` from the first
/// failure until the next success, `Expired` once the session is known to be gone (nothing more
/// is sent), `Stopped` after a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Constructed, not started yet.
    Ready,
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
    /// The name used in JavaScript: `"ready"`, `"running"`, `"failing"`, `"expired"`, `"stopped"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
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

/// Whether the user is there, under the idle policy (`idleTimeoutMs`). Without the policy the
/// user is always `Active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presence {
    /// The user did something less than `idleTimeoutMs - promptBeforeIdleMs` ago.
    #[default]
    Active,
    /// Idle is near and the page was asked to warn the user; only `activate()` dismisses it.
    Prompted,
    /// Nothing happened for `idleTimeoutMs`: timer heartbeats have stopped.
    Idle,
}

impl Presence {
    /// The name used in JavaScript: `"active"`, `"prompted"` or `"idle"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Active => "active",
            Presence::Prompted => "prompted",
            Presence::Idle => "idle",
        }
    }
}

/// Why a heartbeat was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The first heartbeat, sent by start (unless `beatOnStart` is false).
    Start,
    /// The interval elapsed.
    Timer,
    /// The user did something (in any tab) and the throttle window had passed.
    Activity,
    /// The page asked: `beat()`, or `activate()` (the "stay signed in" button).
    Manual,
    /// A heartbeat was overdue when the keeper looked again: the tab was in the background, the
    /// laptop slept, the network came back, or this tab took over from a leader that left.
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

    /// The reason named `text` by [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Reason::Start,
            Reason::Timer,
            Reason::Activity,
            Reason::Manual,
            Reason::Resume,
            Reason::Retry,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// Why the keeper decided the session is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryReason {
    /// The server answered 404 or 410: it no longer knows the session.
    NotFound,
    /// The server answered 401 or 403, or redirected the heartbeat elsewhere (to a login page):
    /// the credentials are no longer accepted.
    Unauthorized,
    /// The known expiry passed without a successful heartbeat (the device slept, the server was
    /// unreachable for longer than the TTL, or the user was idle).
    TtlElapsed,
    /// The server's live channel said the session was deleted (signed out elsewhere, or by an
    /// administrator).
    Revoked,
}

impl ExpiryReason {
    /// The name used in JavaScript: `"not_found"`, `"unauthorized"`, `"ttl_elapsed"` or
    /// `"revoked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryReason::NotFound => "not_found",
            ExpiryReason::Unauthorized => "unauthorized",
            ExpiryReason::TtlElapsed => "ttl_elapsed",
            ExpiryReason::Revoked => "revoked",
        }
    }

    /// The reason named `text` by [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        [
            ExpiryReason::NotFound,
            ExpiryReason::Unauthorized,
            ExpiryReason::TtlElapsed,
            ExpiryReason::Revoked,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// Which tab an event's news comes from. With `crossTab`, one tab (the leader) sends the
/// heartbeats for all and the others hear its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This tab sent the request, or saw the change itself.
    ThisTab,
    /// Another tab of the same session did, and told this one.
    OtherTab,
}

impl Source {
    /// The name used in JavaScript: `"this-tab"` or `"other-tab"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ThisTab => "this-tab",
            Source::OtherTab => "other-tab",
        }
    }
}

/// A heartbeat the server accepted (a 2xx that is empty or JSON).
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
    /// Which tab sent it.
    pub source: Source,
}

/// A heartbeat that failed, or could not be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Why it was sent.
    pub reason: Reason,
    /// The HTTP status, or 0 when no answer came (network error, timeout, offline).
    pub status: u16,
    /// The server's `error.code` when it sent one, otherwise one of the keeper's own codes:
    /// `ERR_NETWORK`, `ERR_TIMEOUT`, `ERR_OFFLINE`, `ERR_HTTP`, `ERR_UNEXPECTED_RESPONSE`.
    pub code: String,
    /// The server's `error.message`, or a description of what went wrong.
    pub message: String,
    /// When it was sent (or, offline, when it would have been), in epoch milliseconds.
    pub sent_at: u64,
    /// Which tab sent it.
    pub source: Source,
}

impl Failure {
    /// One line for a log: `timer heartbeat failed with HTTP 503: down (ERR_HTTP)`.
    pub fn describe(&self) -> String {
        let mut out = concat(&[self.reason.as_str(), " heartbeat failed"]);
        if self.status != 0 {
            out.push_str(" with HTTP ");
            push_u64(&mut out, u64::from(self.status));
        }
        out.push_str(&concat(&[": ", &self.message, " (", &self.code, ")"]));
        out
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.describe())
    }
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
        /// Which tab saw it.
        source: Source,
    },
    /// The first success after a warning.
    Recovered {
        /// Consecutive failures the episode counted.
        failures: u32,
        /// From the episode's first failure to this success, in milliseconds.
        downtime_ms: u64,
        /// Which tab saw it.
        source: Source,
    },
    /// The session is gone; the keeper has stopped.
    Expired {
        /// How the keeper knows.
        reason: ExpiryReason,
        /// Which tab found out.
        source: Source,
    },
    /// The keeper moved from one state to another.
    StateChange {
        /// The state before.
        from: State,
        /// The state now.
        to: State,
    },
    /// Idle is `remaining_ms` away: the page should warn the user (idle policy only).
    Prompt {
        /// When the user will be idle, in epoch milliseconds.
        idle_at: u64,
        /// From now to `idle_at`, in milliseconds.
        remaining_ms: u64,
    },
    /// No activity in any tab for `idleTimeoutMs`: timer heartbeats have stopped, and the
    /// server's TTL will end the session unless the user comes back first.
    Idle {
        /// When the user became idle, in epoch milliseconds.
        idle_at: u64,
    },
    /// The user is active again after a prompt or after idle.
    Active {
        /// The tab where the user came back.
        source: Source,
    },
    /// This tab became, or stopped being, the one that sends the heartbeats for all tabs.
    LeaderChange {
        /// True when this tab now leads.
        leader: bool,
    },
}
