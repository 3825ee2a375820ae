//! The machine's invariants over random input sequences: whatever the page, the network, the
//! server, the other tabs and the clock do, the keeper never has two requests in flight, always
//! knows when to wake while it runs, sends nothing for a session that is over, numbers its
//! requests in order, keeps the idle policy's events to itself when the policy is off, and never
//! sends from a follower tab.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{HOUR, MIN, SEC, T0, is_presence_event};
use keeper_core::election::{CLAIM_MS, LEADER_TIMEOUT_MS};
use keeper_core::event::{
    Event, ExpiryReason, Failure, Heartbeat, Presence, Reason, Source, State,
};
use keeper_core::live::Push;
use keeper_core::machine::{Command, Input, Machine, RequestId, Role};
use keeper_core::options::{IdlePolicy, Timing};
use keeper_core::reply::{Body, Reply, ReplyBody, RetryAfter};
use keeper_core::sim::{Coordination, Tabs, ok};
use keeper_core::tabs::{Fact, Snapshot};
use proptest::prelude::*;

/// How a heartbeat request ends.
#[derive(Debug, Clone)]
enum Answer {
    Alive { ttl_seconds: Option<u32> },
    Empty(u16),
    Status(u16),
    TooMany { retry_after: Option<u32> },
    Network,
    Html,
    Redirected,
}

/// News from another tab; times are offsets back from now, in seconds.
#[derive(Debug, Clone)]
enum News {
    Hello,
    Snapshot { expires_in: Option<u32>, failures: u8, activity_ago: Option<u32>, presence: u8 },
    Beat { ago: u32, ttl_seconds: u32 },
    Failed { ago: u32 },
    Warning,
    Recovered,
    Expired(u8),
    Extended { expires_in: u32 },
    Activity { ago: u32 },
    Activate,
    BeatRequest,
}

/// One step of a run.
#[derive(Debug, Clone)]
enum Step {
    /// Time passes without any input: the device sleeps, or a throttled timer is late.
    Wait(u64),
    /// The timer fires when the machine asked.
    WakeUp,
    /// An input that needs nothing from the run: the page, the network, the election, the
    /// live channel.
    Plain(Input),
    /// The live channel says the session now lasts this many seconds.
    PushExtended(u32),
    /// The request in flight ends like this.
    Answer(Answer),
    /// An answer to a request that is not in flight: `0` an old one, else one never sent.
    Stale(u8, Answer),
    Hear(News),
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => prop::option::of(0u32..3_000).prop_map(|ttl_seconds| Answer::Alive { ttl_seconds }),
        1 => prop::sample::select(vec![200u16, 204]).prop_map(Answer::Empty),
        2 => prop::sample::select(vec![400u16, 401, 403, 404, 410, 415, 500, 502, 503])
            .prop_map(Answer::Status),
        1 => prop::option::of(0u32..200).prop_map(|retry_after| Answer::TooMany { retry_after }),
        1 => Just(Answer::Network),
        1 => Just(Answer::Html),
        1 => Just(Answer::Redirected),
    ]
}

fn news() -> impl Strategy<Value = News> {
    prop_oneof![
        Just(News::Hello),
        (prop::option::of(0u32..2_000), 0u8..4, prop::option::of(0u32..2_000), 0u8..3).prop_map(
            |(expires_in, failures, activity_ago, presence)| News::Snapshot {
                expires_in,
                failures,
                activity_ago,
                presence,
            }
        ),
        (0u32..600, 0u32..2_000).prop_map(|(ago, ttl_seconds)| News::Beat { ago, ttl_seconds }),
        (0u32..600).prop_map(|ago| News::Failed { ago }),
        Just(News::Warning),
        Just(News::Recovered),
        (0u8..4).prop_map(News::Expired),
        (0u32..3_000).prop_map(|expires_in| News::Extended { expires_in }),
        (0u32..120).prop_map(|ago| News::Activity { ago }),
        Just(News::Activate),
        Just(News::BeatRequest),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // Repeats weigh what pages do most: start, and activity.
    let plain = prop::sample::select(vec![
        Input::Start,
        Input::Start,
        Input::Stop,
        Input::Activity,
        Input::Activity,
        Input::Activity,
        Input::Activity,
        Input::Manual,
        Input::Activate,
        Input::Tick,
        Input::Visible,
        Input::Online,
        Input::Offline,
        Input::Lead,
        Input::Follow,
        Input::LinkUp,
        Input::LinkDown,
        Input::Push(Push::Ended(ExpiryReason::Revoked)),
    ]);
    prop_oneof![
        6 => prop_oneof![0u64..2 * SEC, 0u64..10 * MIN, 0u64..2 * HOUR].prop_map(Step::Wait),
        8 => Just(Step::WakeUp),
        18 => plain.prop_map(Step::Plain),
        1 => (0u32..3_000).prop_map(Step::PushExtended),
        6 => answer().prop_map(Step::Answer),
        1 => (0u8..3, answer()).prop_map(|(which, a)| Step::Stale(which, a)),
        4 => news().prop_map(Step::Hear),
    ]
}

/// The schedules a run uses: the defaults, or one fast enough that a short run crosses every
/// deadline.
fn timing() -> impl Strategy<Value = Timing> {
    let fast = Timing {
        interval_ms: 10 * SEC,
        activity_throttle_ms: 2 * SEC,
        ttl_ms: 30 * SEC,
        failure_warning_ms: 5 * SEC,
        timeout_ms: 3 * SEC,
        retry_min_ms: 500,
        retry_max_ms: 5 * SEC,
        ..Timing::default()
    };
    let policy = (1u64..=90 * MIN, 0u64..=100).prop_map(|(timeout_ms, percent)| IdlePolicy {
        timeout_ms,
        prompt_before_ms: timeout_ms * percent / 101,
    });
    (prop::sample::select(vec![Timing::default(), fast]), prop::option::of(policy), any::<bool>())
        .prop_map(|(timing, idle, beat_on_start)| Timing { idle, beat_on_start, ..timing })
}

fn reply(answer: &Answer) -> Reply {
    let html = |redirected_to: Option<String>| Reply::Http {
        status: 200,
        retry_after: None,
        content_type: Some("text/html".into()),
        redirected_to,
        body: Body::Other,
    };
    match answer {
        Answer::Alive { ttl_seconds: Some(ttl) } => ok(f64::from(*ttl)),
        Answer::Alive { ttl_seconds: None } => Reply::json(200, ReplyBody::default()),
        Answer::Empty(status) | Answer::Status(status) => Reply::status(*status),
        Answer::TooMany { retry_after } => Reply::Http {
            status: 429,
            retry_after: retry_after.map(|s| RetryAfter::Seconds(u64::from(s))),
            content_type: None,
            redirected_to: None,
            body: Body::Empty,
        },
        Answer::Network => Reply::Network { message: "Failed to fetch".into() },
        Answer::Html => html(None),
        Answer::Redirected => html(Some("https://app.test/login".into())),
    }
}

fn fact(news: &News, now: u64) -> Fact {
    let ago = |seconds: u32| now.saturating_sub(u64::from(seconds) * SEC);
    let within = |seconds: u32| now + u64::from(seconds) * SEC;
    match news {
        News::Hello => Fact::Hello,
        News::Snapshot { expires_in, failures, activity_ago, presence } => {
            Fact::Snapshot(Snapshot {
                expires_at: expires_in.map(within),
                lifetime_ms: 20 * MIN,
                last_sent_at: Some(ago(30)),
                last_success_at: Some(ago(30)),
                failures: u32::from(*failures),
                failing_since: (*failures > 0).then(|| ago(60)),
                warned: *failures > 2,
                last_activity_at: activity_ago.map(ago),
                presence: [Presence::Active, Presence::Prompted, Presence::Idle]
                    [usize::from(*presence)],
            })
        }
        News::Beat { ago: back, ttl_seconds } => Fact::Beat(Heartbeat {
            reason: Reason::Timer,
            status: 200,
            sent_at: ago(*back),
            expires_at: ago(*back) + u64::from(*ttl_seconds) * SEC,
            latency_ms: 40,
            source: Source::OtherTab,
        }),
        News::Failed { ago: back } => Fact::Failed(Failure {
            reason: Reason::Retry,
            status: 503,
            code: "ERR_HTTP".into(),
            message: "the server answered HTTP 503".into(),
            sent_at: ago(*back),
            source: Source::OtherTab,
        }),
        News::Warning => Fact::Warning { since: ago(120), failures: 3 },
        News::Recovered => Fact::Recovered { failures: 3, downtime_ms: 130 * SEC },
        News::Expired(which) => Fact::Expired(
            [
                ExpiryReason::NotFound,
                ExpiryReason::Unauthorized,
                ExpiryReason::TtlElapsed,
                ExpiryReason::Revoked,
            ][usize::from(*which) % 4],
        ),
        News::Extended { expires_in } => Fact::Extended { expires_at: within(*expires_in) },
        News::Activity { ago: back } => Fact::Activity { at: ago(*back) },
        News::Activate => Fact::Activate { at: now },
        News::BeatRequest => Fact::BeatRequest,
    }
}

/// What the run knows of the machine from outside: the requests it asked for and their ends.
struct Observer {
    policy_on: bool,
    in_flight: Option<RequestId>,
    last_request: RequestId,
    /// Expired or stopped, and not started since.
    over: bool,
}

impl Observer {
    /// Checks one input's commands against every invariant.
    fn check(&mut self, m: &Machine, input: &Input, role_before: Role, out: &[Command]) {
        if let Input::Reply { request, .. } = input
            && self.in_flight == Some(*request)
        {
            self.in_flight = None;
        }
        if *input == Input::Start {
            self.over = false;
        }
        for command in out {
            match command {
                Command::Send { request, .. } => {
                    assert!(self.in_flight.is_none(), "a second request in flight: {out:?}");
                    assert!(*request > self.last_request, "request ids go back: {out:?}");
                    assert!(!self.over, "sent for a session that is over: {out:?}");
                    assert!(
                        role_before != Role::Follower || m.role() != Role::Follower,
                        "a follower sent: {input:?} -> {out:?}"
                    );
                    self.in_flight = Some(*request);
                    self.last_request = *request;
                }
                Command::Abort { request } => {
                    assert_eq!(self.in_flight, Some(*request), "aborted what was not in flight");
                    self.in_flight = None;
                }
                Command::Emit(Event::Expired { .. }) => self.over = true,
                Command::Emit(event) => assert!(
                    self.policy_on || !is_presence_event(event),
                    "{event:?} without the idle policy"
                ),
                _ => {}
            }
        }
        if matches!(m.state(), State::Expired | State::Stopped) {
            self.over = true;
        }
        assert_eq!(m.in_flight(), self.in_flight.is_some(), "after {input:?}");
        // The tab that sends always has something to wait for; a follower waits for the
        // leader's news, and wakes itself only for the expiry it knows or its idle clock.
        let follower_waits = m.role() == Role::Follower
            && m.expires_at().is_none()
            && (!self.policy_on || m.presence() == Presence::Idle);
        if m.state().is_active() && !follower_waits {
            assert!(m.next_wake().is_some(), "no wake while {:?} after {input:?}", m.state());
        }
    }
}

fn run(timing: Timing, coordinated: bool, live: bool, seed: u64, steps: &[Step]) {
    let policy_on = timing.idle.is_some();
    let mut m = Machine::new(timing, seed);
    if coordinated {
        m = m.coordinated();
    }
    if live {
        m = m.with_live_channel();
    }
    let mut observer = Observer { policy_on, in_flight: None, last_request: 0, over: true };
    let mut now = T0;
    for step in steps {
        let input = match step {
            Step::Wait(ms) => {
                now += ms;
                continue;
            }
            Step::WakeUp => match m.next_wake() {
                Some(wake) => {
                    now = now.max(wake);
                    Input::Tick
                }
                None => continue,
            },
            Step::Plain(input) => input.clone(),
            Step::PushExtended(seconds) => Input::Push(Push::Extended(ReplyBody {
                ttl_seconds: Some(f64::from(*seconds)),
                ..ReplyBody::default()
            })),
            Step::Answer(answer) => match observer.in_flight {
                Some(request) => Input::Reply { request, reply: reply(answer) },
                None => continue,
            },
            Step::Stale(which, answer) => {
                let request = match which {
                    0 => observer.last_request.saturating_sub(1),
                    1 => observer.last_request + 1,
                    _ => observer.last_request + 1_000,
                };
                if Some(request) == observer.in_flight {
                    continue;
                }
                Input::Reply { request, reply: reply(answer) }
            }
            Step::Hear(news) => Input::Peer(fact(news, now)),
        };
        let role_before = m.role();
        let out = m.handle(now, input.clone());
        observer.check(&m, &input, role_before, &out);
        if matches!(input, Input::Reply { .. }) && out.is_empty() {
            // A stale answer changes nothing.
            assert!(matches!(step, Step::Stale(..)) || observer.in_flight.is_none());
        }
    }
}

// 256 runs by default; `PROPTEST_CASES=5000` for a longer hunt.
proptest! {
    #[test]
    fn the_machine_keeps_its_invariants_over_any_input_sequence(
        timing in timing(),
        coordinated in any::<bool>(),
        live in any::<bool>(),
        seed in any::<u64>(),
        steps in prop::collection::vec(step(), 1..200),
    ) {
        run(timing, coordinated, live, seed, &steps);
    }
}

/// What happens to the tabs of one session.
#[derive(Debug, Clone)]
enum TabStep {
    Open,
    /// The tab at this position among the open ones closes normally.
    Close(usize),
    /// It crashes, saying nothing.
    Crash(usize),
    Activity(usize),
    Manual(usize),
    Advance(u64),
}

fn tab_step() -> impl Strategy<Value = TabStep> {
    prop_oneof![
        2 => Just(TabStep::Open),
        1 => any::<usize>().prop_map(TabStep::Close),
        1 => any::<usize>().prop_map(TabStep::Crash),
        3 => any::<usize>().prop_map(TabStep::Activity),
        1 => any::<usize>().prop_map(TabStep::Manual),
        5 => prop_oneof![0u64..5 * SEC, 0u64..8 * MIN].prop_map(TabStep::Advance),
    ]
}

/// Checks that while any tab of the session is open, it never goes longer than one interval
/// without a request, and, with Web Locks, that one tab leads and only it sends. The election
/// notices a crashed leader only by its silence, so there a crash may add the leader timeout, the
/// claim window and the channel's delays to one interval.
fn run_tabs(coordination: Coordination, delay_ms: u64, steps: &[TabStep]) {
    let interval = Timing::default().interval_ms
        + match coordination {
            Coordination::Locks => 0,
            Coordination::Election => LEADER_TIMEOUT_MS + CLAIM_MS + 2 * delay_ms,
        };
    let mut t = Tabs::new(Timing::default(), T0, coordination);
    t.set_channel_delay(delay_ms);
    let mut open: Vec<usize> = Vec::new();
    let mut opened = 0;
    // While some tab is open: when the session last had a request.
    let mut last_request: Option<u64> = None;
    for step in steps {
        let seen = t.sent().len();
        let pick = |i: &usize| open.get(i % open.len().max(1)).copied();
        match step {
            TabStep::Open if opened < 8 => {
                open.push(t.open());
                opened += 1;
            }
            TabStep::Open => continue,
            TabStep::Close(i) | TabStep::Crash(i) => {
                let Some(tab) = pick(i) else { continue };
                if matches!(step, TabStep::Close(_)) {
                    t.close(tab)
                } else {
                    t.crash(tab)
                }
                open.retain(|o| *o != tab);
            }
            TabStep::Activity(i) => match pick(i) {
                Some(tab) => t.activity(tab),
                None => continue,
            },
            TabStep::Manual(i) => match pick(i) {
                Some(tab) => t.input(tab, Input::Manual),
                None => continue,
            },
            TabStep::Advance(ms) => t.advance(*ms),
        }
        let new = &t.sent()[seen..];
        if coordination == Coordination::Locks {
            let leaders = t.leaders();
            assert_eq!(leaders.len(), usize::from(!open.is_empty()), "{step:?}: {leaders:?}");
            if matches!(step, TabStep::Advance(_) | TabStep::Activity(_) | TabStep::Manual(_)) {
                assert!(new.iter().all(|s| leaders.contains(&s.1)), "{new:?} not by {leaders:?}");
            }
        }
        for (at, _, _) in new {
            if let Some(last) = last_request {
                assert!(at - last <= interval, "{} ms without a request", at - last);
            }
            last_request = Some(*at);
        }
        if open.is_empty() {
            last_request = None;
        } else if let Some(last) = last_request {
            assert!(t.now() - last <= interval, "{} ms without a request", t.now() - last);
        }
    }
}

proptest! {
    #[test]
    fn tabs_of_one_session_never_leave_it_longer_than_an_interval_without_a_request(
        locks in any::<bool>(),
        delay_ms in prop_oneof![Just(0u64), 0u64..100, 0u64..600],
        steps in prop::collection::vec(tab_step(), 1..60),
    ) {
        let coordination = if locks { Coordination::Locks } else { Coordination::Election };
        run_tabs(coordination, delay_ms, &steps);
    }
}
