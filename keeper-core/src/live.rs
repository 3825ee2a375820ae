//! The live channel: a WebSocket on which the server pushes a session's extension and its end,
//! so a session revoked elsewhere (signed out on another device, deleted by an administrator)
//! is known at once instead of at the next heartbeat.
//!
//! The channel is a bonus, never a dependency: heartbeats go on whether it is up or not. This
//! module holds its reconnect rules; the browser shell owns the socket.

use alloc::vec::Vec;

use crate::event::ExpiryReason;
use crate::machine::{Command, backoff};
use crate::reply::ReplyBody;

/// The first reconnect waits about this long; each further one doubles it.
pub const RECONNECT_MIN_MS: u64 = 1_000;
/// No reconnect waits longer than this.
pub const RECONNECT_MAX_MS: u64 = 30_000;

/// What the server pushed.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// `{"type":"extended","expires_at":…,"ttl_seconds":…}`: the session's new expiry, after a
    /// heartbeat from any tab or device.
    Extended(ReplyBody),
    /// `{"type":"ended","reason":"deleted"|"expired"}`: the session is gone.
    Ended(ExpiryReason),
}

impl Push {
    /// Reads a message's `type` and `reason` (its other fields in `fields`); `None` for a message
    /// this keeper does not know, which is ignored so the server can add kinds.
    ///
    /// ```
    /// use keeper_core::{event::ExpiryReason, live::Push, reply::ReplyBody};
    /// let ended = Push::read("ended", Some("deleted"), ReplyBody::default());
    /// assert_eq!(ended, Some(Push::Ended(ExpiryReason::Revoked)));
    /// ```
    pub fn read(kind: &str, reason: Option<&str>, fields: ReplyBody) -> Option<Push> {
        match (kind, reason) {
            ("extended", _) => Some(Push::Extended(fields)),
            ("ended", Some("expired")) => Some(Push::Ended(ExpiryReason::TtlElapsed)),
            ("ended", _) => Some(Push::Ended(ExpiryReason::Revoked)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Down,
    Connecting,
    Open,
}

/// The connection's state and reconnect schedule.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    state: LinkState,
    failures: u32,
    retry_at: u64,
}

impl Link {
    pub(crate) fn new() -> Self {
        Link { state: LinkState::Down, failures: 0, retry_at: 0 }
    }

    /// Connects or disconnects as `wanted` says (running, and this tab sends the heartbeats).
    pub(crate) fn sync(&mut self, wanted: bool, now: u64, out: &mut Vec<Command>) {
        if wanted && self.state == LinkState::Down && now >= self.retry_at {
            self.state = LinkState::Connecting;
            out.push(Command::Connect);
        } else if !wanted && self.state != LinkState::Down {
            *self = Link::new();
            out.push(Command::Disconnect);
        }
    }

    /// Connects no earlier than `at`.
    pub(crate) fn hold_until(&mut self, at: u64) {
        if self.state == LinkState::Down {
            self.retry_at = self.retry_at.max(at);
        }
    }

    pub(crate) fn opened(&mut self) {
        if self.state == LinkState::Connecting {
            self.state = LinkState::Open;
            self.failures = 0;
        }
    }

    /// The socket closed or could not open: try again after a jittered, doubling delay.
    pub(crate) fn closed(&mut self, now: u64, random: u64) {
        if self.state == LinkState::Down {
            return;
        }
        self.state = LinkState::Down;
        self.failures += 1;
        self.retry_at = now + backoff(RECONNECT_MIN_MS, RECONNECT_MAX_MS, self.failures, random);
    }

    pub(crate) fn next_wake(&self, wanted: bool) -> Option<u64> {
        (wanted && self.state == LinkState::Down).then_some(self.retry_at)
    }

    pub(crate) fn shift_back(&mut self, ms: u64) {
        self.retry_at = self.retry_at.saturating_sub(ms);
    }
}
