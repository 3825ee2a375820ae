//! What the native test files share: times, timings with the idle policy, and ways to pick events
//! out of a simulation's log.
#![allow(dead_code)]

use keeper_core::event::{Event, ExpiryReason, Failure, Heartbeat, Reason, Source};
use keeper_core::machine::{Command, RequestId};
use keeper_core::options::{IdlePolicy, Timing};

/// One second, in milliseconds.
pub const SEC: u64 = 1_000;
/// One minute, in milliseconds.
pub const MIN: u64 = 60 * SEC;
/// One hour, in milliseconds.
pub const HOUR: u64 = 60 * MIN;
/// Any start time: 2027-01-15T08:00:00Z.
pub const T0: u64 = 1_800_000_000_000;

/// The default timings with an idle policy: idle after `timeout_ms` without activity, prompted
/// `prompt_before_ms` before.
pub fn idle_timing(timeout_ms: u64, prompt_before_ms: u64) -> Timing {
    Timing { idle: Some(IdlePolicy { timeout_ms, prompt_before_ms }), ..Timing::default() }
}

/// The event of a session that ran out, as the tab that found it reports it.
pub fn ttl_elapsed() -> Event {
    Event::Expired { reason: ExpiryReason::TtlElapsed, source: Source::ThisTab }
}

/// The events `pick` maps to `Some`, with their times.
pub fn picked<T>(events: &[(u64, Event)], pick: impl Fn(&Event) -> Option<T>) -> Vec<(u64, T)> {
    events.iter().filter_map(|(at, e)| pick(e).map(|t| (*at, t))).collect()
}

/// How many events `pick` is true for.
pub fn count(events: &[(u64, Event)], pick: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|(_, e)| pick(e)).count()
}

/// The successful heartbeats.
pub fn heartbeats(events: &[(u64, Event)]) -> Vec<(u64, Heartbeat)> {
    picked(events, |e| match e {
        Event::Heartbeat(h) => Some(h.clone()),
        _ => None,
    })
}

/// The failures.
pub fn errors(events: &[(u64, Event)]) -> Vec<(u64, Failure)> {
    picked(events, |e| match e {
        Event::Error(f) => Some(f.clone()),
        _ => None,
    })
}

/// True for the idle policy's events: prompt, idle, active again.
pub fn is_presence_event(event: &Event) -> bool {
    matches!(event, Event::Prompt { .. } | Event::Idle { .. } | Event::Active { .. })
}

/// `Active` events, by the tab they name.
pub fn actives(events: &[(u64, Event)]) -> Vec<(u64, Source)> {
    picked(events, |e| match e {
        Event::Active { source } => Some(*source),
        _ => None,
    })
}

/// The requests a list of commands sends.
pub fn sends(commands: &[Command]) -> Vec<(RequestId, Reason)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send { request, reason } => Some((*request, *reason)),
            _ => None,
        })
        .collect()
}

/// `Prompt` events: (when, `idle_at`, `remaining_ms`).
pub fn prompts(events: &[(u64, Event)]) -> Vec<(u64, u64, u64)> {
    events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Prompt { idle_at, remaining_ms } => Some((*at, *idle_at, *remaining_ms)),
            _ => None,
        })
        .collect()
}

/// `Idle` events: (when, `idle_at`).
pub fn idles(events: &[(u64, Event)]) -> Vec<(u64, u64)> {
    picked(events, |e| match e {
        Event::Idle { idle_at } => Some(*idle_at),
        _ => None,
    })
}
