//! Every scheduling rule of the keeper, in one state machine that never looks at a clock.
//!
//! The browser shell feeds it an [`Input`] with the current wall-clock time and carries out the
//! [`Command`]s it returns; between inputs it arms one timer for [`Machine::next_wake`]. Because
//! time is an argument, hours of heartbeats, sleeps and outages are tested natively in
//! milliseconds (see [`Simulation`](crate::sim::Simulation)).
//!
//! Wall-clock time rather than timer counts is the truth here: background tabs throttle timers
//! and laptops sleep, so every wake-up compares `now` with what is due instead of assuming a timer
//! fired on time.
//!
//! Tabs of one session share one machine's work through plain inputs. A machine is
//! [`Role::Solo`] on its own; with `crossTab` it is a follower until the shell says it leads
//! ([`Input::Lead`]). The leader sends the heartbeats and tells the others each result
//! ([`Command::Tell`]); followers mirror what they hear ([`Input::Peer`]), forward activity and
//! `beat()` to the leader, and keep their own idle clock and expiry check, so every tab fires its
//! own callbacks and they all agree.

use alloc::string::String;
use alloc::vec::Vec;

use crate::event::{Event, ExpiryReason, Failure, Heartbeat, Presence, Reason, Source, State};
use crate::live::{Link, Push};
use crate::options::Timing;
use crate::presence::IdleClock;
use crate::reply::{Reply, Verdict, describe_failure};
use crate::tabs::{Fact, Snapshot};
use crate::text::push_u64;

/// Identifies one heartbeat request, so a late answer to an aborted request is ignored.
pub type RequestId = u64;

/// A tab that has just taken over from another leader sends nothing, and opens no live channel,
/// for this long. The old leader's last messages may still be on their way through the
/// `BroadcastChannel`, above all that the session ended, which is what hands the lock over: a
/// heartbeat sent meanwhile would get a 404 (and a console error in the page), and a socket would
/// be refused or closed while still connecting. What it would have sent, it sends after.
pub const LEAD_SETTLE_MS: u64 = 250;

/// A tab that opens takes the leader's answer to its hello if it comes within this long. A hello
/// that no leader answered (none led yet) must not make the tab take, minutes later, the answer
/// to another tab's hello: it knows more recent news by then.
pub const SNAPSHOT_WAIT_MS: u64 = 5_000;

/// A timer heartbeat that runs later than this after it was due is reported as a `resume`:
/// the tab was throttled in the background or the device slept. Chrome delays background
/// timers by up to a second, which still counts as on time.
pub const LATE_TOLERANCE_MS: u64 = 1_000;

/// A wall clock that reads this much earlier than before was set back (NTP, a user, a time zone
/// bug), and every time the machine holds is moved back with it.
pub const CLOCK_STEP_TOLERANCE_MS: u64 = 1_000;

/// The most a retry is brought forward before a known expiry.
pub const MAX_SAFETY_MARGIN_MS: u64 = 30_000;

/// With the idle policy or other tabs to tell, activity is noted at most this often: the idle
/// clock's resolution, and the most a `mousemove` storm costs the channel between tabs.
pub const ACTIVITY_NOTE_MS: u64 = 1_000;

/// A follower gives the leader's news this long past the expiry, on top of `timeoutMs` (the
/// leader's last request may be in flight until then), before it calls the session expired
/// itself, so a success that is still on its way is not mistaken for none.
pub const PEER_GRACE_MS: u64 = 2_000;

/// Something that happened, fed to [`Machine::handle`] with the time it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The page started the keeper.
    Start,
    /// The page stopped the keeper.
    Stop,
    /// The user did something in this tab (a click, a key, a scroll...).
    Activity,
    /// The page asked for a heartbeat now (`beat()`).
    Manual,
    /// The user confirmed they are there (`activate()`, "stay signed in").
    Activate,
    /// The timer armed for [`Machine::next_wake`] fired.
    Tick,
    /// The page became visible again.
    Visible,
    /// The browser reports it is online again.
    Online,
    /// The browser reports it is offline.
    Offline,
    /// A heartbeat request ended.
    Reply {
        /// The request, from [`Command::Send`].
        request: RequestId,
        /// How it ended.
        reply: Reply,
    },
    /// This tab now sends the heartbeats for all tabs of the session.
    Lead,
    /// Another tab sends them now (this one is hidden for good, frozen, or lost an election).
    Follow,
    /// News from another tab.
    Peer(Fact),
    /// The live channel opened.
    LinkUp,
    /// The live channel closed or could not open.
    LinkDown,
    /// The live channel brought news.
    Push(Push),
}

/// What the machine asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// POST a heartbeat now and report its end as [`Input::Reply`] with this id.
    Send {
        /// The id to report the answer with.
        request: RequestId,
        /// Why it is sent.
        reason: Reason,
    },
    /// Abort this request; its answer, if one still comes, will be ignored.
    Abort {
        /// The request to abort.
        request: RequestId,
    },
    /// Tell the page.
    Emit(Event),
    /// Tell the other tabs of the session.
    Tell(Fact),
    /// Open the live channel.
    Connect,
    /// Close the live channel.
    Disconnect,
}

/// Whether this machine sends the heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Alone: sends, tells nobody (`crossTab: false`, or no way to reach other tabs).
    Solo,
    /// Sends for every tab of the session and tells them each result.
    Leader,
    /// Another tab sends; this one mirrors what it is told.
    Follower,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    request: RequestId,
    reason: Reason,
    sent_at: u64,
}

/// When the session expires, and how long the server granted, which sizes the safety margin.
#[derive(Debug, Clone, Copy)]
struct Expiry {
    at: u64,
    lifetime_ms: u64,
}

/// A retry after a failure.
#[derive(Debug, Clone, Copy)]
struct Retry {
    at: u64,
    /// The server set the time with `Retry-After`: a manual beat waits for it too.
    server_asked: bool,
}

/// How to schedule the next attempt after a failure.
enum Backoff {
    /// Keep the regular schedule.
    None,
    /// Exponential backoff with jitter.
    Exponential,
    /// Wait this long (a `Retry-After`), or back off when the server did not say.
    ServerAsked(Option<u64>),
}

/// The keeper's scheduling rules. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Machine {
    timing: Timing,
    state: State,
    role: Role,
    rng: u64,
    next_request: RequestId,
    in_flight: Option<InFlight>,
    /// The regular schedule counts from here: the last send, or the start.
    anchor_at: u64,
    last_sent_at: Option<u64>,
    last_success_at: Option<u64>,
    expiry: Option<Expiry>,
    retry: Option<Retry>,
    failures: u32,
    failing_since: Option<u64>,
    warned: bool,
    offline: bool,
    /// A follower's last forward of activity to the leader.
    forwarded_at: Option<u64>,
    /// A follower asked the leader for a heartbeat (`beat()`, `activate()`) and heard no result
    /// yet: if it becomes the leader first, it sends the heartbeat itself.
    beat_requested: bool,
    /// Until when this tab, having said hello, takes the leader's snapshot. The leader's answer
    /// reaches every tab, and only the one that asked takes it on: the others would reset their
    /// failure count and be prompted a second time. See [`SNAPSHOT_WAIT_MS`].
    snapshot_until: u64,
    /// Until when the server asked the leader to wait (`Retry-After`), as this tab last heard:
    /// taking over a failure episode, it waits as long.
    server_wait_until: u64,
    /// A new leader sends nothing before this; what it would have sent meanwhile is `owed`.
    /// See [`LEAD_SETTLE_MS`].
    settle_until: u64,
    owed: Option<Reason>,
    idle: IdleClock,
    link: Option<Link>,
    /// The latest `now` seen, to notice the wall clock being set back.
    last_now: u64,
}

impl Machine {
    /// A [`Role::Solo`] machine in the `Ready` state. `seed` drives the retry jitter; the
    /// browser passes a random one so that many tabs do not retry in lockstep, tests pass a
    /// fixed one.
    pub fn new(timing: Timing, seed: u64) -> Self {
        Machine {
            idle: IdleClock::new(timing.idle),
            timing,
            state: State::Ready,
            role: Role::Solo,
            rng: seed | 1,
            next_request: 1,
            in_flight: None,
            anchor_at: 0,
            last_sent_at: None,
            last_success_at: None,
            expiry: None,
            retry: None,
            failures: 0,
            failing_since: None,
            warned: false,
            offline: false,
            forwarded_at: None,
            beat_requested: false,
            snapshot_until: 0,
            server_wait_until: 0,
            settle_until: 0,
            owed: None,
            link: None,
            last_now: 0,
        }
    }

    /// This machine shares the session with other tabs: it follows until told it leads.
    pub fn coordinated(mut self) -> Self {
        self.role = Role::Follower;
        self
    }

    /// This machine keeps the live channel open while it runs and sends the heartbeats.
    pub fn with_live_channel(mut self) -> Self {
        self.link = Some(Link::new());
        self
    }

    /// Applies `input`, which happened at `now` (epoch ms), and returns what to do, in order.
    pub fn handle(&mut self, now: u64, input: Input) -> Vec<Command> {
        if now + CLOCK_STEP_TOLERANCE_MS < self.last_now {
            self.shift_back(self.last_now - now);
        }
        self.last_now = now;
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Stop => self.stop(&mut out),
            Input::Activity => self.activity(now, &mut out),
            Input::Manual => self.manual(now, &mut out),
            Input::Activate => self.activate(now, Source::ThisTab, &mut out),
            Input::Tick | Input::Visible => self.review(now, &mut out),
            Input::Online => {
                self.offline = false;
                // The network is back: a pending retry need not wait out its backoff, unless the
                // server asked for the wait (`Retry-After`).
                if let Some(retry) = self.retry.as_mut().filter(|r| !r.server_asked) {
                    retry.at = retry.at.min(now);
                }
                self.review(now, &mut out);
            }
            Input::Offline => self.offline = true,
            Input::Reply { request, reply } => {
                if let Some(flight) = self.in_flight.filter(|f| f.request == request) {
                    self.in_flight = None;
                    self.answer(now, flight, &reply, &mut out);
                }
            }
            Input::Lead => self.lead(now, &mut out),
            Input::Follow => self.follow(&mut out),
            Input::Peer(fact) => self.hear(now, fact, &mut out),
            Input::LinkUp => {
                if let Some(link) = self.link.as_mut() {
                    link.opened();
                }
            }
            Input::LinkDown => {
                let random = self.next_random();
                if let Some(link) = self.link.as_mut() {
                    link.closed(now, random);
                }
            }
            Input::Push(push) => self.pushed(now, push, &mut out),
        }
        let wanted = self.link_wanted();
        if let Some(link) = self.link.as_mut() {
            link.sync(wanted, now, &mut out);
        }
        if self.role == Role::Leader {
            tell_results(&mut out, self.retry.filter(|r| r.server_asked).map(|r| r.at));
        }
        out
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the user is active, prompted or idle (always active without the idle policy).
    pub fn presence(&self) -> Presence {
        self.idle.presence()
    }

    /// Whether this machine sends the heartbeats.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The schedule this machine follows.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// When the user becomes idle unless there is activity first (epoch ms), with the idle
    /// policy on.
    pub fn idle_at(&self) -> Option<u64> {
        self.idle.idle_at()
    }

    /// When the session expires, as of the last success (epoch ms).
    pub fn expires_at(&self) -> Option<u64> {
        self.expiry.map(|e| e.at)
    }

    /// When the last successful heartbeat was answered (epoch ms).
    pub fn last_heartbeat_at(&self) -> Option<u64> {
        self.last_success_at
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// True while a request is on its way.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The earliest time at which [`Input::Activity`] does anything; `u64::MAX` when it cannot
    /// (not running, the user is being prompted, or nothing is due before a request in flight
    /// ends).
    ///
    /// The shell caches this after every input so the activity handler, which runs on every
    /// mouse move, is one comparison and touches nothing else.
    pub fn activity_gate(&self) -> u64 {
        if !self.state.is_active() {
            return u64::MAX;
        }
        match self.idle.presence() {
            Presence::Prompted => u64::MAX,
            Presence::Idle => 0,
            Presence::Active => {
                let note = self.idle.last_activity_at().map_or(u64::MAX, |t| t + ACTIVITY_NOTE_MS);
                self.beat_gate().min(note)
            }
        }
    }

    /// When the shell should next feed [`Input::Tick`]; `None` when nothing is pending.
    pub fn next_wake(&self) -> Option<u64> {
        if !self.state.is_active() {
            return None;
        }
        let link = self.link.as_ref().and_then(|l| l.next_wake(self.link_wanted()));
        let expiry = self.expiry.map(|e| self.expiry_deadline(e));
        let work = match (self.role, self.in_flight) {
            (Role::Follower, _) => expiry,
            (_, Some(flight)) => Some(flight.sent_at + self.timing.timeout_ms),
            (_, None) if self.idle.presence() == Presence::Idle => Some(self.idle_end()),
            (_, None) if self.owed.is_some() => Some(self.settle_until),
            (_, None) => Some(expiry.map_or(self.due_at(), |e| e.min(self.due_at()))),
        };
        let warning = self
            .failing_since
            .filter(|_| !self.warned && self.role != Role::Follower)
            .map(|since| since + self.timing.failure_warning_ms);
        earliest(&[work, warning, self.idle.next_wake(), link])
    }

    /// What a tab that joins needs to know; the leader answers [`Fact::Hello`] with it.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            expires_at: self.expiry.map(|e| e.at),
            lifetime_ms: self.expiry.map_or(0, |e| e.lifetime_ms),
            last_sent_at: self.last_sent_at,
            last_success_at: self.last_success_at,
            failures: self.failures,
            failing_since: self.failing_since,
            warned: self.warned,
            last_activity_at: self.idle.last_activity_at(),
            presence: self.idle.presence(),
        }
    }

    fn start(&mut self, now: u64, out: &mut Vec<Command>) {
        if self.state.is_active() {
            return;
        }
        // A start is a fresh start: what the keeper knew of an earlier run may be stale.
        // Request ids keep counting, so a late answer from before a stop can never match.
        *self = Machine {
            state: self.state,
            role: self.role,
            next_request: self.next_request,
            offline: self.offline,
            last_now: self.last_now,
            link: self.link.as_ref().map(|_| Link::new()),
            ..Machine::new(self.timing.clone(), self.rng)
        };
        self.anchor_at = now;
        self.idle.start(now);
        self.set_state(State::Running, out);
        if self.role == Role::Follower {
            self.snapshot_until = now + SNAPSHOT_WAIT_MS;
            out.push(Command::Tell(Fact::Hello));
            if self.idle.enabled() {
                // Opening a tab is activity too.
                out.push(Command::Tell(Fact::Activity { at: now }));
            }
        } else if self.timing.beat_on_start {
            self.send(now, Reason::Start, out);
        }
    }

    fn stop(&mut self, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        self.abort_in_flight(out);
        self.retry = None;
        self.set_state(State::Stopped, out);
    }

    fn activity(&mut self, now: u64, out: &mut Vec<Command>) {
        if now < self.activity_gate() || !self.idle.activity(now, Source::ThisTab, out) {
            return;
        }
        let mut told = false;
        if self.idle.enabled() && self.role != Role::Solo {
            out.push(Command::Tell(Fact::Activity { at: now }));
            told = true;
        }
        if now >= self.beat_gate() {
            if self.role == Role::Follower {
                self.forwarded_at = Some(now);
                if !told {
                    out.push(Command::Tell(Fact::Activity { at: now }));
                }
            } else {
                self.send(now, Reason::Activity, out);
            }
        }
    }

    fn manual(&mut self, now: u64, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        if self.role == Role::Follower {
            self.beat_requested = true;
            out.push(Command::Tell(Fact::BeatRequest));
        } else {
            self.beat_now(now, out);
        }
    }

    /// A heartbeat the page asked for, unless one is on its way (it is joined instead) or the
    /// server asked to wait (`Retry-After`): the request then waits for the allowed retry.
    fn beat_now(&mut self, now: u64, out: &mut Vec<Command>) {
        if self.in_flight.is_none() && !self.retry.is_some_and(|r| r.server_asked) {
            self.send(now, Reason::Manual, out);
        }
    }

    fn activate(&mut self, at: u64, source: Source, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        self.idle.activate(at, source, out);
        if source == Source::ThisTab && self.role != Role::Solo {
            // The leader sends the heartbeat when it hears this.
            self.beat_requested = self.role == Role::Follower;
            out.push(Command::Tell(Fact::Activate { at }));
        }
        if self.role != Role::Follower {
            self.beat_now(self.last_now, out);
        }
    }

    fn lead(&mut self, now: u64, out: &mut Vec<Command>) {
        if self.role == Role::Leader {
            return;
        }
        self.role = Role::Leader;
        self.snapshot_until = 0;
        out.push(Command::Emit(Event::LeaderChange { leader: true }));
        // A tab led before this one (this tab heard of a heartbeat or a push): its last news,
        // above all that the session ended, may still be on its way. The very first leader has
        // nothing to wait for.
        if self.last_sent_at.is_some() || self.expiry.is_some() || self.failing_since.is_some() {
            self.settle_until = now + LEAD_SETTLE_MS;
        }
        if let Some(link) = self.link.as_mut() {
            link.hold_until(self.settle_until);
        }
        if !self.state.is_active() || self.in_flight.is_some() {
            return;
        }
        if core::mem::take(&mut self.beat_requested) {
            // This tab's page asked for a heartbeat that no leader sent.
            return self.send(now, Reason::Manual, out);
        }
        if self.forwarded_at.take() > self.last_sent_at && self.idle.presence() != Presence::Idle {
            // Activity here that no leader heard: it is this tab's to send.
            return self.send(now, Reason::Activity, out);
        }
        if self.last_sent_at.is_none() {
            // Nobody sent for this session yet: this is the start.
            if self.timing.beat_on_start {
                self.send(now, Reason::Start, out);
            }
            return;
        }
        // The schedule counts from the session's last heartbeat, whichever tab sent it, not from
        // when this tab opened: a tab opened just before it takes over must not wait a full
        // interval more.
        self.anchor_at = self.last_sent_at.unwrap_or(self.anchor_at);
        if self.failures > 0 {
            // Take over a failure episode with a retry at once, not a full interval later; but not
            // before the server said (`Retry-After`).
            let at = now.max(self.server_wait_until);
            self.retry = Some(Retry { at, server_asked: at > now });
        }
        self.review(now, out);
    }

    fn follow(&mut self, out: &mut Vec<Command>) {
        if self.role != Role::Leader {
            return;
        }
        self.role = Role::Follower;
        self.abort_in_flight(out);
        self.retry = None;
        // A heartbeat the page asked for is still wanted if this tab leads again.
        self.beat_requested |= self.owed.take() == Some(Reason::Manual);
        out.push(Command::Emit(Event::LeaderChange { leader: false }));
    }

    fn hear(&mut self, now: u64, fact: Fact, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        let leader = self.role == Role::Leader;
        match fact {
            Fact::Hello if leader => out.push(Command::Tell(Fact::Snapshot(self.snapshot()))),
            Fact::Snapshot(snapshot)
                if !leader && now <= core::mem::take(&mut self.snapshot_until) =>
            {
                self.adopt(now, snapshot, out);
            }
            Fact::Beat(heartbeat) => self.succeed(heartbeat, out),
            Fact::Failed(failure) if !leader => {
                self.note_failure(failure.sent_at);
                out.push(Command::Emit(Event::Error(failure)));
                self.set_state(State::Failing, out);
            }
            Fact::Wait { until } if !leader => self.server_wait_until = until,
            // Across a handover both leaders may warn of one episode: the page hears it once.
            Fact::Warning { since, failures } if !leader && !self.warned => {
                self.warned = true;
                out.push(Command::Emit(Event::Warning {
                    since,
                    failures,
                    source: Source::OtherTab,
                }));
            }
            Fact::Recovered { failures, downtime_ms } if !leader => {
                let source = Source::OtherTab;
                out.push(Command::Emit(Event::Recovered { failures, downtime_ms, source }));
            }
            Fact::Expired(reason) => self.expire(reason, Source::OtherTab, out),
            Fact::Gone(failure, reason) => {
                out.push(Command::Emit(Event::Error(failure)));
                self.expire(reason, Source::OtherTab, out);
            }
            Fact::Extended { expires_at } => self.extend(now, expires_at),
            Fact::Activity { at }
                if self.idle.activity(at, Source::OtherTab, out)
                    && leader
                    && now >= self.beat_gate() =>
            {
                self.send(now, Reason::Activity, out);
            }
            Fact::Activate { at } => self.activate(at, Source::OtherTab, out),
            Fact::BeatRequest if leader => self.beat_now(now, out),
            _ => {}
        }
    }

    /// A joining follower takes on the leader's view.
    fn adopt(&mut self, now: u64, s: Snapshot, out: &mut Vec<Command>) {
        if let Some(at) = s.expires_at {
            self.expiry = Some(Expiry { at, lifetime_ms: s.lifetime_ms });
        }
        self.last_sent_at = self.last_sent_at.max(s.last_sent_at);
        self.anchor_at = self.anchor_at.max(s.last_sent_at.unwrap_or(0));
        self.last_success_at = self.last_success_at.max(s.last_success_at);
        self.failures = s.failures;
        self.failing_since = s.failing_since;
        self.warned = s.warned;
        if let Some(at) = s.last_activity_at {
            self.idle.join(now, at, s.presence, out);
        }
        let state = if s.failures > 0 { State::Failing } else { State::Running };
        self.set_state(state, out);
    }

    fn pushed(&mut self, now: u64, push: Push, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        match push {
            Push::Extended(fields) => {
                if let Some(at) = fields.expiry(now) {
                    self.extend(now, at);
                    if self.role == Role::Leader {
                        out.push(Command::Tell(Fact::Extended { expires_at: at }));
                    }
                }
            }
            Push::Ended(reason) => self.expire(reason, Source::ThisTab, out),
        }
    }

    /// The server moved the expiry (a heartbeat from another device, told by the live channel).
    fn extend(&mut self, now: u64, at: u64) {
        self.expiry = Some(Expiry { at, lifetime_ms: at.saturating_sub(now) });
    }

    /// Compares the wall clock with everything that is due: the idle policy's prompt and idle, a
    /// request past its timeout, an expiry that passed, a warning, a heartbeat.
    fn review(&mut self, now: u64, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        self.idle.review(now, out);
        if let Some(flight) = self.in_flight {
            if now < flight.sent_at + self.timing.timeout_ms {
                return self.warn_if_due(now, out);
            }
            self.abort_in_flight(out);
            let mut message = String::from("no answer within ");
            push_u64(&mut message, self.timing.timeout_ms);
            message.push_str(" ms");
            let failure = self.failure(flight, 0, "ERR_TIMEOUT".into(), message);
            self.fail(now, failure, Backoff::Exponential, out);
        }
        if self.expiry.is_some_and(|e| now >= self.expiry_deadline(e)) {
            return self.expire(ExpiryReason::TtlElapsed, Source::ThisTab, out);
        }
        if self.role == Role::Follower {
            return;
        }
        self.warn_if_due(now, out);
        if self.idle.presence() == Presence::Idle {
            // Idle: the server's TTL is left to end the session.
            if now >= self.idle_end() {
                self.expire(ExpiryReason::TtlElapsed, Source::ThisTab, out);
            }
            return;
        }
        if let Some(reason) = self.owed.filter(|_| now >= self.settle_until) {
            return self.send(now, reason, out);
        }
        let due = self.due_at();
        if now >= due {
            let reason = if self.retry.is_some() {
                Reason::Retry
            } else if now > due + LATE_TOLERANCE_MS {
                Reason::Resume
            } else {
                Reason::Timer
            };
            self.send(now, reason, out);
        }
    }

    /// When an idle user's session is over: its known expiry, or, when no heartbeat has
    /// succeeded yet, `ttlMs` after the last request (or the start), so that its end is reported
    /// even then, late at worst.
    fn idle_end(&self) -> u64 {
        self.expiry.map_or(self.anchor_at + self.timing.ttl_ms, |e| self.expiry_deadline(e))
    }

    fn expiry_deadline(&self, expiry: Expiry) -> u64 {
        match self.role {
            Role::Follower => expiry.at + self.timing.timeout_ms + PEER_GRACE_MS,
            _ => expiry.at,
        }
    }

    fn warn_if_due(&mut self, now: u64, out: &mut Vec<Command>) {
        if let Some(since) = self.failing_since
            && !self.warned
            && now >= since + self.timing.failure_warning_ms
        {
            self.warned = true;
            let (failures, source) = (self.failures, Source::ThisTab);
            out.push(Command::Emit(Event::Warning { since, failures, source }));
        }
    }

    /// When the next heartbeat is due (ignoring any request in flight): a pending retry, or one
    /// interval after the anchor, brought forward to leave a safety margin before a known expiry.
    fn due_at(&self) -> u64 {
        if let Some(retry) = self.retry {
            return retry.at;
        }
        let regular = self.anchor_at + self.timing.interval_ms;
        match self.expiry {
            // The floor keeps a server that reports an absurdly short TTL from causing a loop.
            Some(e) => regular
                .min(e.at.saturating_sub(safety_margin(e)))
                .max(self.anchor_at + self.timing.retry_min_ms.min(self.timing.interval_ms)),
            None => regular,
        }
    }

    /// The earliest time activity may send (or, in a follower, forward) a heartbeat.
    fn beat_gate(&self) -> u64 {
        if self.in_flight.is_some() || self.owed.is_some() {
            return u64::MAX;
        }
        let last = self.last_sent_at.max(self.forwarded_at);
        let throttle_end = last.map_or(0, |t| t + self.timing.activity_throttle_ms);
        throttle_end.max(self.retry.map_or(0, |r| r.at))
    }

    fn link_wanted(&self) -> bool {
        self.state.is_active() && self.role != Role::Follower
    }

    fn send(&mut self, now: u64, reason: Reason, out: &mut Vec<Command>) {
        if now < self.settle_until {
            // The first reason is kept: the page's own request or activity, or the start.
            self.owed = self.owed.or(Some(reason));
            return;
        }
        self.owed = None;
        self.anchor_at = now;
        self.last_sent_at = Some(now);
        self.retry = None;
        let flight = InFlight { request: self.next_request, reason, sent_at: now };
        if self.offline {
            let message = "the browser is offline".into();
            let failure = self.failure(flight, 0, "ERR_OFFLINE".into(), message);
            return self.fail(now, failure, Backoff::Exponential, out);
        }
        self.next_request += 1;
        self.in_flight = Some(flight);
        out.push(Command::Send { request: flight.request, reason });
    }

    fn answer(&mut self, now: u64, flight: InFlight, reply: &Reply, out: &mut Vec<Command>) {
        let verdict = Verdict::of(reply);
        if verdict == Verdict::Alive {
            let Reply::Http { status, body, .. } = reply else { return };
            let fields = match body {
                crate::reply::Body::Json(fields) => fields.expiry(flight.sent_at),
                _ => None,
            };
            let expires_at = fields.unwrap_or(now + self.timing.ttl_ms);
            let heartbeat = Heartbeat {
                reason: flight.reason,
                status: *status,
                sent_at: flight.sent_at,
                expires_at,
                latency_ms: now.saturating_sub(flight.sent_at),
                source: Source::ThisTab,
            };
            return self.succeed(heartbeat, out);
        }
        let status = match reply {
            Reply::Http { status, .. } => *status,
            Reply::Network { .. } => 0,
        };
        let (code, message) = describe_failure(reply);
        let failure = self.failure(flight, status, code, message);
        match verdict {
            Verdict::Gone(reason) => {
                out.push(Command::Emit(Event::Error(failure)));
                self.expire(reason, Source::ThisTab, out);
            }
            Verdict::Throttled => {
                let wait = match reply {
                    Reply::Http { retry_after: Some(value), .. } => Some(value.wait_ms(now)),
                    _ => None,
                };
                self.fail(now, failure, Backoff::ServerAsked(wait), out);
            }
            Verdict::Rejected => self.fail(now, failure, Backoff::None, out),
            Verdict::Transient | Verdict::Alive => {
                self.fail(now, failure, Backoff::Exponential, out)
            }
        }
    }

    /// A success, this tab's or the leader's.
    fn succeed(&mut self, heartbeat: Heartbeat, out: &mut Vec<Command>) {
        self.beat_requested = false;
        let Heartbeat { sent_at, expires_at, latency_ms, source, .. } = heartbeat;
        let answered_at = sent_at + latency_ms;
        self.expiry =
            Some(Expiry { at: expires_at, lifetime_ms: expires_at.saturating_sub(sent_at) });
        self.last_success_at = self.last_success_at.max(Some(answered_at));
        self.last_sent_at = self.last_sent_at.max(Some(sent_at));
        self.anchor_at = self.anchor_at.max(sent_at);
        self.retry = None;
        self.server_wait_until = 0;
        out.push(Command::Emit(Event::Heartbeat(heartbeat)));
        // A follower hears the leader's own recovery as a fact of its own.
        if let (Source::ThisTab, true, Some(since)) = (source, self.warned, self.failing_since) {
            let (failures, downtime_ms) = (self.failures, answered_at.saturating_sub(since));
            out.push(Command::Emit(Event::Recovered { failures, downtime_ms, source }));
        }
        self.failures = 0;
        self.failing_since = None;
        self.warned = false;
        self.set_state(State::Running, out);
    }

    fn note_failure(&mut self, at: u64) {
        self.beat_requested = false;
        self.failures += 1;
        self.failing_since.get_or_insert(at);
    }

    fn fail(&mut self, now: u64, failure: Failure, backoff: Backoff, out: &mut Vec<Command>) {
        self.note_failure(now);
        out.push(Command::Emit(Event::Error(failure)));
        self.retry = match backoff {
            Backoff::None => None,
            Backoff::ServerAsked(Some(wait)) => Some(Retry {
                at: self.before_expiry(now, now.saturating_add(wait)),
                server_asked: true,
            }),
            Backoff::Exponential | Backoff::ServerAsked(None) => {
                let delay = self.backoff_delay();
                Some(Retry { at: self.before_expiry(now, now + delay), server_asked: false })
            }
        };
        self.set_state(State::Failing, out);
        self.warn_if_due(now, out);
    }

    fn failure(&self, flight: InFlight, status: u16, code: String, message: String) -> Failure {
        Failure {
            reason: flight.reason,
            status,
            code,
            message,
            sent_at: flight.sent_at,
            source: Source::ThisTab,
        }
    }

    /// The delay before the next retry: see [`backoff`].
    fn backoff_delay(&mut self) -> u64 {
        let random = self.next_random();
        backoff(self.timing.retry_min_ms, self.timing.retry_max_ms, self.failures, random)
    }

    /// Brings a retry forward to a safety margin before a known expiry, but never to sooner than
    /// half of `retryMinMs` from now, so failures near the expiry cannot become a request storm.
    fn before_expiry(&self, now: u64, at: u64) -> u64 {
        match self.expiry {
            Some(e) => at
                .min(e.at.saturating_sub(safety_margin(e)))
                .max(now + self.timing.retry_min_ms / 2),
            None => at,
        }
    }

    fn expire(&mut self, reason: ExpiryReason, source: Source, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        self.abort_in_flight(out);
        self.retry = None;
        self.set_state(State::Expired, out);
        out.push(Command::Emit(Event::Expired { reason, source }));
    }

    fn abort_in_flight(&mut self, out: &mut Vec<Command>) {
        if let Some(flight) = self.in_flight.take() {
            out.push(Command::Abort { request: flight.request });
        }
    }

    fn set_state(&mut self, to: State, out: &mut Vec<Command>) {
        if self.state != to {
            out.push(Command::Emit(Event::StateChange { from: self.state, to }));
            self.state = to;
        }
    }

    /// Moves every time the machine holds back by `ms`, after the wall clock was set back: the
    /// schedule keeps its real durations instead of waiting out the difference in silence. The
    /// shift is what the machine sees between two inputs, so it may fall short by the time since
    /// the last input (at most an interval), which only delays the next heartbeat that much.
    /// (A clock set forward looks like a sleep, and is handled as one.)
    fn shift_back(&mut self, ms: u64) {
        let back = |t: &mut u64| *t = t.saturating_sub(ms);
        back(&mut self.anchor_at);
        [
            &mut self.last_sent_at,
            &mut self.last_success_at,
            &mut self.failing_since,
            &mut self.forwarded_at,
        ]
        .into_iter()
        .flatten()
        .for_each(back);
        if let Some(retry) = self.retry.as_mut() {
            back(&mut retry.at);
        }
        if let Some(expiry) = self.expiry.as_mut() {
            back(&mut expiry.at);
        }
        if let Some(flight) = self.in_flight.as_mut() {
            back(&mut flight.sent_at);
        }
        if let Some(link) = self.link.as_mut() {
            link.shift_back(ms);
        }
        self.idle.shift_back(ms);
    }

    /// xorshift64*: plenty for jitter, and no dependency.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A leader tells the other tabs every result it emits, in the order it emits them, after them;
/// a failure that ended the session goes with its end. (Appended to `out` as they are made: a
/// second list would cost the package its own growth, iteration and drop code.)
fn tell_results(out: &mut Vec<Command>, server_wait: Option<u64>) {
    let emitted = out.len();
    for at in 0..emitted {
        let Some(Command::Emit(event)) = out.get(at) else { continue };
        let mut wait = None;
        let fact = match event {
            Event::Heartbeat(h) if h.source == Source::ThisTab => Fact::Beat(h.clone()),
            Event::Error(f) if f.source == Source::ThisTab => {
                wait = server_wait;
                Fact::Failed(f.clone())
            }
            Event::Warning { since, failures, source: Source::ThisTab } => {
                Fact::Warning { since: *since, failures: *failures }
            }
            Event::Recovered { failures, downtime_ms, source: Source::ThisTab } => {
                Fact::Recovered { failures: *failures, downtime_ms: *downtime_ms }
            }
            Event::Expired { reason, source: Source::ThisTab } => {
                let reason = *reason;
                // Only this function tells a failure: one last in `out` was just told.
                match out.pop_if(|last| matches!(last, Command::Tell(Fact::Failed(_)))) {
                    Some(Command::Tell(Fact::Failed(failure))) => Fact::Gone(failure, reason),
                    _ => Fact::Expired(reason),
                }
            }
            _ => continue,
        };
        if let Some(until) = wait {
            out.push(Command::Tell(Fact::Wait { until }));
        }
        out.push(Command::Tell(fact));
    }
}

/// `min_ms` doubled for each consecutive failure after the first, capped at `max_ms`, then
/// jittered down by up to half ("equal jitter") so that many clients do not retry in lockstep.
/// Heartbeat retries and the live channel's reconnects both wait this long.
pub(crate) fn backoff(min_ms: u64, max_ms: u64, failures: u32, random: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(32);
    // A shift that saturates, rather than `saturating_mul`: on wasm32 an overflow-checked 64-bit
    // multiplication is a 128-bit multiplication routine.
    let doubled = if doublings <= min_ms.leading_zeros() { min_ms << doublings } else { u64::MAX };
    let ceiling = doubled.min(max_ms);
    ceiling - random % (ceiling / 2 + 1)
}

/// The earliest of `times`, if any is set. A plain loop: `into_iter().flatten().min()` costs
/// the package its iterator adapters at each use.
pub fn earliest(times: &[Option<u64>]) -> Option<u64> {
    let mut first: Option<u64> = None;
    for &time in times {
        if let Some(t) = time
            && first.is_none_or(|f| t < f)
        {
            first = Some(t);
        }
    }
    first
}

/// A tenth of the lifetime the server granted, at most [`MAX_SAFETY_MARGIN_MS`].
fn safety_margin(expiry: Expiry) -> u64 {
    (expiry.lifetime_ms / 10).min(MAX_SAFETY_MARGIN_MS)
}
