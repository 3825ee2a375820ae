//! Every scheduling rule of the keeper, in one state machine that never looks at a clock.
//!
//! The browser shell feeds it an [`Input`] with the current wall-clock time and carries out the
//! [`Command`]s it returns; between inputs it arms one timer for [`Machine::next_wake`]. Because
//! time is an argument, hours of heartbeats, sleeps and outages are tested natively in
//! milliseconds (see [`Simulation`](super::sim::Simulation)).
//!
//! Wall-clock time rather than timer counts is the truth here: background tabs throttle timers
//! and laptops sleep, so every wake-up compares `now` with what is due instead of assuming a timer
//! fired on time.
//!
//! Inputs are deliberately plain facts ("the user did something", "this request got a 503") so a
//! later coordinator that shares one keeper between tabs can feed the same machine with activity
//! from every tab.

use super::event::{Event, ExpiryReason, Failure, Heartbeat, Reason, State};
use super::options::Timing;
use super::reply::{Reply, Verdict, retry_after_ms};

/// Identifies one heartbeat request, so a late answer to an aborted request is ignored.
pub type RequestId = u64;

/// A timer heartbeat that runs later than this after it was due is reported as a `resume`:
/// the tab was throttled in the background or the device slept. Chrome delays background
/// timers by up to a second, which still counts as on time.
pub const LATE_TOLERANCE_MS: u64 = 1_000;

/// A wall clock that reads this much earlier than before was set back (NTP, a user, a time zone
/// bug), and every time the machine holds is moved back with it.
pub const CLOCK_STEP_TOLERANCE_MS: u64 = 1_000;

/// The most a retry is brought forward before a known expiry.
pub const MAX_SAFETY_MARGIN_MS: u64 = 30_000;

/// Something that happened, fed to [`Machine::handle`] with the time it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The page started the keeper.
    Start,
    /// The page stopped the keeper.
    Stop,
    /// The user did something (a click, a key, a scroll...).
    Activity,
    /// The page asked for a heartbeat now.
    Manual,
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

/// How to schedule the next attempt after a failure.
enum Retry {
    /// Keep the regular schedule.
    OnSchedule,
    /// Exponential backoff with jitter.
    Backoff,
    /// Wait this long (a `Retry-After`), or back off when the server did not say.
    After(Option<u64>),
}

/// The keeper's scheduling rules. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Machine {
    timing: Timing,
    state: State,
    rng: u64,
    next_request: RequestId,
    in_flight: Option<InFlight>,
    /// The regular schedule counts from here: the last send, or the start.
    anchor_at: u64,
    last_sent_at: Option<u64>,
    last_success_at: Option<u64>,
    expiry: Option<Expiry>,
    retry_at: Option<u64>,
    failures: u32,
    failing_since: Option<u64>,
    warned: bool,
    offline: bool,
    /// The latest `now` seen, to notice the wall clock being set back.
    last_now: u64,
}

impl Machine {
    /// A machine in the `Idle` state. `seed` drives the retry jitter; the browser passes a
    /// random one so that many tabs do not retry in lockstep, tests pass a fixed one.
    pub fn new(timing: Timing, seed: u64) -> Self {
        Machine {
            timing,
            state: State::Idle,
            rng: seed | 1,
            next_request: 1,
            in_flight: None,
            anchor_at: 0,
            last_sent_at: None,
            last_success_at: None,
            expiry: None,
            retry_at: None,
            failures: 0,
            failing_since: None,
            warned: false,
            offline: false,
            last_now: 0,
        }
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
            Input::Activity => {
                if now >= self.activity_gate() {
                    self.send(now, Reason::Activity, &mut out);
                }
            }
            Input::Manual => {
                if self.state.is_active() && self.in_flight.is_none() {
                    self.send(now, Reason::Manual, &mut out);
                }
            }
            Input::Tick | Input::Visible => self.review(now, &mut out),
            Input::Online => {
                self.offline = false;
                // The network is back: a pending retry need not wait out its backoff.
                if let Some(at) = self.retry_at.as_mut() {
                    *at = (*at).min(now);
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
        }
        out
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.state
    }

    /// The schedule this machine follows.
    pub fn timing(&self) -> &Timing {
        &self.timing
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

    /// The earliest time at which [`Input::Activity`] sends a heartbeat; `u64::MAX` when it
    /// cannot (not running, or a request is on its way).
    ///
    /// The shell caches this after every input so the activity handler, which runs on every
    /// mouse move, is one comparison and touches nothing else.
    pub fn activity_gate(&self) -> u64 {
        if !self.state.is_active() || self.in_flight.is_some() {
            return u64::MAX;
        }
        let throttle_end = self.last_sent_at.map_or(0, |t| t + self.timing.activity_throttle_ms);
        throttle_end.max(self.retry_at.unwrap_or(0))
    }

    /// When the shell should next feed [`Input::Tick`]; `None` when nothing is pending.
    pub fn next_wake(&self) -> Option<u64> {
        if !self.state.is_active() {
            return None;
        }
        let warning = self
            .failing_since
            .filter(|_| !self.warned)
            .map(|since| since + self.timing.failure_warning_ms);
        let work = match self.in_flight {
            Some(flight) => Some(flight.sent_at + self.timing.timeout_ms),
            None => {
                let due = self.due_at();
                Some(self.expiry.map_or(due, |e| due.min(e.at)))
            }
        };
        [warning, work].into_iter().flatten().min()
    }

    fn start(&mut self, now: u64, out: &mut Vec<Command>) {
        if self.state.is_active() {
            return;
        }
        // A start is a fresh start: what the keeper knew of an earlier run may be stale.
        // Request ids keep counting, so a late answer from before a stop can never match.
        *self = Machine {
            state: self.state,
            next_request: self.next_request,
            offline: self.offline,
            last_now: self.last_now,
            ..Machine::new(self.timing.clone(), self.rng)
        };
        self.anchor_at = now;
        self.set_state(State::Running, out);
        if self.timing.beat_on_start {
            self.send(now, Reason::Start, out);
        }
    }

    fn stop(&mut self, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        self.abort_in_flight(out);
        self.retry_at = None;
        self.set_state(State::Stopped, out);
    }

    /// Compares the wall clock with everything that is due: a request past its timeout, an
    /// expiry that passed, a warning, a heartbeat.
    fn review(&mut self, now: u64, out: &mut Vec<Command>) {
        if !self.state.is_active() {
            return;
        }
        if let Some(flight) = self.in_flight {
            if now < flight.sent_at + self.timing.timeout_ms {
                return self.warn_if_due(now, out);
            }
            self.abort_in_flight(out);
            let message = format!("no answer within {} ms", self.timing.timeout_ms);
            let failure = failure(flight, 0, "ERR_TIMEOUT", message);
            self.fail(now, failure, Retry::Backoff, out);
        }
        if self.expiry.is_some_and(|e| now >= e.at) {
            return self.expire(ExpiryReason::TtlElapsed, out);
        }
        self.warn_if_due(now, out);
        let due = self.due_at();
        if now >= due {
            let reason = if self.retry_at.is_some() {
                Reason::Retry
            } else if now > due + LATE_TOLERANCE_MS {
                Reason::Resume
            } else {
                Reason::Timer
            };
            self.send(now, reason, out);
        }
    }

    fn warn_if_due(&mut self, now: u64, out: &mut Vec<Command>) {
        if let Some(since) = self.failing_since
            && !self.warned
            && now >= since + self.timing.failure_warning_ms
        {
            self.warned = true;
            out.push(Command::Emit(Event::Warning { since, failures: self.failures }));
        }
    }

    /// When the next heartbeat is due (ignoring any request in flight): a pending retry, or one
    /// interval after the anchor, brought forward to leave a safety margin before a known expiry.
    fn due_at(&self) -> u64 {
        if let Some(at) = self.retry_at {
            return at;
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

    fn send(&mut self, now: u64, reason: Reason, out: &mut Vec<Command>) {
        self.anchor_at = now;
        self.last_sent_at = Some(now);
        self.retry_at = None;
        let flight = InFlight { request: self.next_request, reason, sent_at: now };
        if self.offline {
            let message = "the browser is offline".to_string();
            return self.fail(now, failure(flight, 0, "ERR_OFFLINE", message), Retry::Backoff, out);
        }
        self.next_request += 1;
        self.in_flight = Some(flight);
        out.push(Command::Send { request: flight.request, reason });
    }

    fn answer(&mut self, now: u64, flight: InFlight, reply: &Reply, out: &mut Vec<Command>) {
        let (status, retry_after, body) = match reply {
            Reply::Http { status, retry_after, body } => {
                (*status, retry_after.as_deref(), Some(body))
            }
            Reply::Network { .. } => (0, None, None),
        };
        let verdict = Verdict::of(reply);
        if verdict == Verdict::Alive {
            let expires_at =
                body.and_then(|b| b.expiry(flight.sent_at)).unwrap_or(now + self.timing.ttl_ms);
            return self.succeed(now, flight, status, expires_at, out);
        }
        let code = body.and_then(|b| b.error_code.clone());
        let server_message = body.and_then(|b| b.error_message.clone());
        let (code, message) = match reply {
            Reply::Network { message } => ("ERR_NETWORK".to_string(), message.clone()),
            Reply::Http { .. } => (
                code.unwrap_or_else(|| "ERR_HTTP".into()),
                server_message.unwrap_or_else(|| format!("the server answered HTTP {status}")),
            ),
        };
        let failure =
            Failure { reason: flight.reason, status, code, message, sent_at: flight.sent_at };
        match verdict {
            Verdict::Gone(reason) => {
                out.push(Command::Emit(Event::Error(failure)));
                self.expire(reason, out);
            }
            Verdict::Throttled => {
                let wait = retry_after.and_then(|v| retry_after_ms(v, now));
                self.fail(now, failure, Retry::After(wait), out);
            }
            Verdict::Rejected => self.fail(now, failure, Retry::OnSchedule, out),
            Verdict::Transient | Verdict::Alive => self.fail(now, failure, Retry::Backoff, out),
        }
    }

    fn succeed(
        &mut self,
        now: u64,
        flight: InFlight,
        status: u16,
        expires_at: u64,
        out: &mut Vec<Command>,
    ) {
        self.expiry =
            Some(Expiry { at: expires_at, lifetime_ms: expires_at.saturating_sub(flight.sent_at) });
        self.last_success_at = Some(now);
        self.retry_at = None;
        out.push(Command::Emit(Event::Heartbeat(Heartbeat {
            reason: flight.reason,
            status,
            sent_at: flight.sent_at,
            expires_at,
            latency_ms: now.saturating_sub(flight.sent_at),
        })));
        if let (true, Some(since)) = (self.warned, self.failing_since) {
            out.push(Command::Emit(Event::Recovered {
                failures: self.failures,
                downtime_ms: now.saturating_sub(since),
            }));
        }
        self.failures = 0;
        self.failing_since = None;
        self.warned = false;
        self.set_state(State::Running, out);
    }

    fn fail(&mut self, now: u64, failure: Failure, retry: Retry, out: &mut Vec<Command>) {
        self.failures += 1;
        self.failing_since.get_or_insert(now);
        out.push(Command::Emit(Event::Error(failure)));
        self.retry_at = match retry {
            Retry::OnSchedule => None,
            Retry::After(Some(wait)) => Some(self.before_expiry(now, now.saturating_add(wait))),
            Retry::Backoff | Retry::After(None) => {
                let delay = self.backoff_delay();
                Some(self.before_expiry(now, now + delay))
            }
        };
        self.set_state(State::Failing, out);
        self.warn_if_due(now, out);
    }

    /// `retryMinMs` doubled for each consecutive failure, capped at `retryMaxMs`, then jittered
    /// down by up to half ("equal jitter") so that many clients do not retry in lockstep.
    fn backoff_delay(&mut self) -> u64 {
        let doublings = self.failures.saturating_sub(1).min(32);
        let ceiling =
            self.timing.retry_min_ms.saturating_mul(1 << doublings).min(self.timing.retry_max_ms);
        let half = ceiling / 2;
        ceiling - self.next_random() % (half + 1)
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

    fn expire(&mut self, reason: ExpiryReason, out: &mut Vec<Command>) {
        self.abort_in_flight(out);
        self.retry_at = None;
        self.set_state(State::Expired, out);
        out.push(Command::Emit(Event::Expired { reason }));
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
            &mut self.retry_at,
            &mut self.failing_since,
        ]
        .into_iter()
        .flatten()
        .for_each(back);
        if let Some(expiry) = self.expiry.as_mut() {
            back(&mut expiry.at);
        }
        if let Some(flight) = self.in_flight.as_mut() {
            back(&mut flight.sent_at);
        }
    }

    /// xorshift64*: plenty for jitter, and no dependency.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A tenth of the lifetime the server granted, at most [`MAX_SAFETY_MARGIN_MS`].
fn safety_margin(expiry: Expiry) -> u64 {
    (expiry.lifetime_ms / 10).min(MAX_SAFETY_MARGIN_MS)
}

fn failure(flight: InFlight, status: u16, code: &str, message: String) -> Failure {
    Failure {
        reason: flight.reason,
        status,
        code: code.to_string(),
        message,
        sent_at: flight.sent_at,
    }
}
