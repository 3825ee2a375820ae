//! The idle policy's clock: when the user is prompted, when idle, and what activity does.
//!
//! The clock restarts at every activity in any tab. `promptBeforeIdleMs` before idle the page is
//! prompted; while prompted, ordinary activity is ignored (a mouse bumped by accident is not
//! consent) and only `activate()` brings the user back; once idle, any activity does. Every
//! deadline is compared with the wall clock, so a sleeping laptop or a throttled background tab
//! fires them late at worst, never skips them, and a device that wakes after the idle deadline
//! reports idle, not a prompt.

use alloc::vec::Vec;

use crate::event::{Event, Presence, Source};
use crate::machine::Command;
use crate::options::IdlePolicy;

/// The user's presence under an optional [`IdlePolicy`]; without one, always `Active`.
#[derive(Debug, Clone)]
pub(crate) struct IdleClock {
    policy: Option<IdlePolicy>,
    presence: Presence,
    last_activity_at: u64,
    /// The latest `activate()` in any tab: a prompt older than it is over.
    activated_at: u64,
}

impl IdleClock {
    pub(crate) fn new(policy: Option<IdlePolicy>) -> Self {
        IdleClock { policy, presence: Presence::Active, last_activity_at: 0, activated_at: 0 }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.policy.is_some()
    }

    pub(crate) fn presence(&self) -> Presence {
        self.presence
    }

    /// The latest activity known in any tab, with the policy on.
    pub(crate) fn last_activity_at(&self) -> Option<u64> {
        self.policy.map(|_| self.last_activity_at)
    }

    /// Starting counts as activity: the idle clock starts now.
    pub(crate) fn start(&mut self, now: u64) {
        self.presence = Presence::Active;
        self.last_activity_at = now;
        self.activated_at = 0;
    }

    /// When the user becomes idle, with the policy on.
    pub(crate) fn idle_at(&self) -> Option<u64> {
        self.policy.map(|p| self.last_activity_at.saturating_add(p.timeout_ms))
    }

    fn prompt_at(&self) -> Option<u64> {
        let policy = self.policy.filter(|p| p.prompt_before_ms > 0)?;
        self.idle_at().map(|idle| idle - policy.prompt_before_ms)
    }

    /// Ordinary activity at `at`, here or in another tab. Returns false when it is ignored
    /// because the user is being prompted. Activity from before the prompt was due (news from
    /// another tab that crossed the prompt) ends it.
    pub(crate) fn activity(&mut self, at: u64, source: Source, out: &mut Vec<Command>) -> bool {
        match self.presence {
            Presence::Prompted if self.prompt_at().is_none_or(|prompt_at| at >= prompt_at) => {
                return false;
            }
            Presence::Prompted | Presence::Idle => {
                self.presence = Presence::Active;
                out.push(Command::Emit(Event::Active { source }));
            }
            Presence::Active => {}
        }
        self.last_activity_at = self.last_activity_at.max(at);
        true
    }

    /// A tab that opens takes the other tabs' clock: their latest activity, and their prompt if
    /// they are in one (its own opening was ordinary activity, which a prompt ignores). Their
    /// idle it does not take: its opening ends idle, and it has told them so.
    pub(crate) fn join(&mut self, now: u64, at: u64, presence: Presence, out: &mut Vec<Command>) {
        // A prompt that an `activate()` heard since has dismissed is over.
        if presence == Presence::Prompted && at >= self.activated_at {
            self.last_activity_at = at;
            self.review(now, out);
        } else {
            self.last_activity_at = self.last_activity_at.max(at);
        }
    }

    /// The user confirmed they are there ("stay signed in"): dismisses a prompt or idle.
    pub(crate) fn activate(&mut self, at: u64, source: Source, out: &mut Vec<Command>) {
        if self.presence != Presence::Active {
            self.presence = Presence::Active;
            out.push(Command::Emit(Event::Active { source }));
        }
        self.last_activity_at = self.last_activity_at.max(at);
        self.activated_at = self.activated_at.max(at);
    }

    /// Moves to prompted or idle when their time has come.
    pub(crate) fn review(&mut self, now: u64, out: &mut Vec<Command>) {
        let Some(idle_at) = self.idle_at() else { return };
        if self.presence != Presence::Idle && now >= idle_at {
            self.presence = Presence::Idle;
            out.push(Command::Emit(Event::Idle { idle_at }));
        } else if self.presence == Presence::Active && self.prompt_at().is_some_and(|p| now >= p) {
            self.presence = Presence::Prompted;
            out.push(Command::Emit(Event::Prompt { idle_at, remaining_ms: idle_at - now }));
        }
    }

    /// When [`review`](Self::review) has something to do next.
    pub(crate) fn next_wake(&self) -> Option<u64> {
        match self.presence {
            Presence::Active => self.prompt_at().or(self.idle_at()),
            Presence::Prompted => self.idle_at(),
            Presence::Idle => None,
        }
    }

    /// Moves the clock back with a wall clock that was set back.
    pub(crate) fn shift_back(&mut self, ms: u64) {
        self.last_activity_at = self.last_activity_at.saturating_sub(ms);
    }
}
