//! Every scheduling rule of the pure core, with simulated time: hours run in milliseconds and
//! nothing sleeps. The browser tests (`tests/browser.rs`) check the same keeper end to end.
#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::rc::Rc;

use keeper_core::event::{Event, ExpiryReason, Failure, Heartbeat, Reason, Source, State};
use keeper_core::machine::{Command, Input, Machine};
use keeper_core::options::Timing;
use keeper_core::reply::{Reply, ReplyBody, RetryAfter};
use keeper_core::sim::{Record, Simulation, ok};

const SEC: u64 = 1_000;
const MIN: u64 = 60 * SEC;
const T0: u64 = 1_800_000_000_000;

fn sim() -> Simulation {
    Simulation::new(Timing::default(), T0)
}

fn errors(sim: &Simulation) -> Vec<(u64, Failure)> {
    sim.events()
        .into_iter()
        .filter_map(|(at, e)| match e {
            Event::Error(f) => Some((at, f)),
            _ => None,
        })
        .collect()
}

fn count(sim: &Simulation, pick: fn(&Event) -> bool) -> usize {
    sim.events().iter().filter(|(_, e)| pick(e)).count()
}

fn with_error(status: u16, code: &str, retry_after: Option<RetryAfter>) -> Reply {
    let mut reply = Reply::json(
        status,
        ReplyBody {
            error_code: Some(code.into()),
            error_message: Some(format!("{code} message")),
            ..ReplyBody::default()
        },
    );
    if let Reply::Http { retry_after: slot, .. } = &mut reply {
        *slot = retry_after;
    }
    reply
}

/// A server that is down (answers `down`) between `from` and `to`, and fine otherwise.
fn outage(from: u64, to: u64, down: Reply) -> impl FnMut(u64) -> Option<Reply> {
    move |now| Some(if (from..to).contains(&now) { down.clone() } else { ok(1_200.0) })
}

/// A server that answers the first request with `first`, and every later one with 200.
fn first_then_ok(first: Reply) -> impl FnMut(u64) -> Option<Reply> {
    let mut answered = false;
    move |_| Some(if std::mem::replace(&mut answered, true) { ok(1_200.0) } else { first.clone() })
}

#[test]
fn start_sends_at_once_then_every_interval() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 60 * MIN);
    let sent = s.sent();
    assert_eq!(sent[0], (T0, Reason::Start));
    assert_eq!(sent.len(), 13, "{sent:?}");
    for (i, (at, reason)) in sent.iter().enumerate().skip(1) {
        assert_eq!((*at, *reason), (T0 + i as u64 * 5 * MIN, Reason::Timer));
    }
    assert_eq!(s.machine.state(), State::Running);
    assert_eq!(s.machine.expires_at(), Some(T0 + 60 * MIN + 20 * MIN));
}

#[test]
fn without_beat_on_start_the_first_heartbeat_waits_one_interval() {
    let mut s = Simulation::new(Timing { beat_on_start: false, ..Timing::default() }, T0);
    s.start();
    assert_eq!(s.machine.state(), State::Running);
    assert!(s.sent().is_empty());
    assert_eq!(s.machine.next_wake(), Some(T0 + 5 * MIN));
    s.advance_to(T0 + 5 * MIN);
    assert_eq!(s.sent(), vec![(T0 + 5 * MIN, Reason::Timer)]);
}

#[test]
fn activity_sends_on_the_leading_edge_once_per_throttle_window() {
    let mut s = sim();
    s.start();
    // Every 10 ms for 70 s: one heartbeat when the window opens at +60 s, none before.
    let mut t = T0;
    while t < T0 + 70 * SEC {
        s.advance_to(t);
        s.activity();
        t += 10;
    }
    assert_eq!(s.sent(), vec![(T0, Reason::Start), (T0 + 60 * SEC, Reason::Activity)]);
}

#[test]
fn throttle_edges_are_exact() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + MIN - 1);
    s.activity();
    assert_eq!(s.sent().len(), 1, "one millisecond early sends nothing");
    s.advance_to(T0 + MIN);
    s.activity();
    assert_eq!(s.sent().last(), Some(&(T0 + MIN, Reason::Activity)));
    assert_eq!(s.machine.activity_gate(), T0 + 2 * MIN);
}

#[test]
fn an_activity_heartbeat_resets_the_timer() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 3 * MIN);
    s.activity();
    s.advance_to(T0 + 8 * MIN - 1);
    assert_eq!(s.sent().len(), 2, "the timer no longer fires at +5 min");
    s.advance_to(T0 + 8 * MIN);
    assert_eq!(s.sent().last(), Some(&(T0 + 8 * MIN, Reason::Timer)));
}

#[test]
fn activity_before_start_and_while_a_request_is_in_flight_sends_nothing() {
    let mut s = sim();
    s.activity();
    assert!(s.sent().is_empty());
    assert_eq!(s.machine.activity_gate(), u64::MAX);
    s.set_latency(5 * SEC);
    s.start();
    s.advance_to(T0 + 2 * SEC);
    assert!(s.machine.in_flight());
    assert_eq!(s.machine.activity_gate(), u64::MAX);
}

#[test]
fn success_takes_the_expiry_from_ttl_seconds_expires_at_or_the_default() {
    let expiry_after = |body: ReplyBody| {
        let mut s = sim();
        s.set_latency(200);
        s.set_server(move |_| Some(Reply::json(200, body.clone())));
        s.start();
        s.advance(200);
        s.machine.expires_at()
    };
    let ttl = ReplyBody { ttl_seconds: Some(90.0), ..ReplyBody::default() };
    assert_eq!(expiry_after(ttl), Some(T0 + 90 * SEC), "counted from the send, never late");
    let text = ReplyBody {
        // 2027-01-15T08:01:00Z, as the browser's date parser reads it.
        expires_at: Some((T0 + MIN) as f64),
        ..ReplyBody::default()
    };
    assert_eq!(expiry_after(text), Some(T0 + MIN), "T0 is 2027-01-15T08:00:00Z");
    let epoch = ReplyBody { expires_at: Some((T0 + 42 * SEC) as f64), ..ReplyBody::default() };
    assert_eq!(expiry_after(epoch), Some(T0 + 42 * SEC));
    assert_eq!(
        expiry_after(ReplyBody::default()),
        Some(T0 + 200 + 20 * MIN),
        "ttlMs after the answer"
    );
}

#[test]
fn heartbeat_events_carry_reason_status_expiry_and_latency() {
    let mut s = sim();
    s.set_latency(120);
    s.start();
    s.advance(SEC);
    let beats: Vec<_> = s
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Heartbeat(h) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(
        beats,
        vec![Heartbeat {
            reason: Reason::Start,
            status: 200,
            sent_at: T0,
            expires_at: T0 + 20 * MIN,
            latency_ms: 120,
            source: Source::ThisTab,
        }]
    );
    assert_eq!(s.machine.last_heartbeat_at(), Some(T0 + 120));
}

#[test]
fn a_server_that_no_longer_knows_the_session_expires_the_keeper_for_good() {
    for (status, reason) in [
        (404, ExpiryReason::NotFound),
        (410, ExpiryReason::NotFound),
        (401, ExpiryReason::Unauthorized),
        (403, ExpiryReason::Unauthorized),
    ] {
        let mut s = sim();
        s.set_server(move |_| Some(with_error(status, "ERR_SESSION_NOT_FOUND", None)));
        s.start();
        s.advance_to(T0 + 5 * 60 * MIN);
        s.activity();
        s.input(Input::Manual);
        s.input(Input::Visible);
        assert_eq!(s.sent().len(), 1, "no request after {status}");
        assert_eq!(s.machine.state(), State::Expired);
        assert_eq!(s.machine.next_wake(), None);
        let events: Vec<_> = s.events().into_iter().map(|(_, e)| e).collect();
        assert!(
            matches!(&events[events.len() - 3], Event::Error(f) if f.status == status && f.code == "ERR_SESSION_NOT_FOUND")
        );
        assert_eq!(
            events[events.len() - 2],
            Event::StateChange { from: State::Running, to: State::Expired }
        );
        assert_eq!(events[events.len() - 1], Event::Expired { reason, source: Source::ThisTab });
    }
}

#[test]
fn other_client_errors_are_reported_with_the_server_code_and_the_schedule_goes_on() {
    let mut s = sim();
    s.set_server(|_| Some(with_error(415, "ERR_INVALID_CONTENT_TYPE", None)));
    s.start();
    s.advance_to(T0 + 10 * MIN);
    assert_eq!(
        s.sent(),
        vec![(T0, Reason::Start), (T0 + 5 * MIN, Reason::Timer), (T0 + 10 * MIN, Reason::Timer)]
    );
    let errs = errors(&s);
    assert_eq!(errs.len(), 3);
    assert_eq!(errs[0].1.code, "ERR_INVALID_CONTENT_TYPE");
    assert_eq!(errs[0].1.status, 415);
    assert_eq!(errs[0].1.message, "ERR_INVALID_CONTENT_TYPE message");
    assert_eq!(s.machine.state(), State::Failing);
    assert_eq!(s.machine.consecutive_failures(), 3);
}

#[test]
fn an_answer_without_a_json_error_gets_the_keeper_s_own_code() {
    let mut s = sim();
    s.set_server(|_| Some(Reply::status(400)));
    s.start();
    let (_, f) = &errors(&s)[0];
    assert_eq!((f.code.as_str(), f.message.as_str()), ("ERR_HTTP", "the server answered HTTP 400"));
    s.set_server(|_| Some(Reply::Network { message: "Failed to fetch".into() }));
    s.advance(5 * MIN);
    let (_, f) = &errors(&s)[1];
    assert_eq!(
        (f.status, f.code.as_str(), f.message.as_str()),
        (0, "ERR_NETWORK", "Failed to fetch")
    );
}

#[test]
fn rate_limited_answers_wait_as_retry_after_says() {
    let mut s = sim();
    s.set_server(first_then_ok(with_error(429, "ERR_RATE_LIMITED", Some(RetryAfter::Seconds(30)))));
    s.start();
    s.advance_to(T0 + 30 * SEC - 1);
    assert_eq!(s.sent().len(), 1);
    s.activity();
    assert_eq!(s.sent().len(), 1, "activity does not jump the queue");
    s.advance_to(T0 + 30 * SEC);
    assert_eq!(s.sent().last(), Some(&(T0 + 30 * SEC, Reason::Retry)));
    assert_eq!(s.machine.state(), State::Running);
}

#[test]
fn a_429_without_retry_after_backs_off() {
    let mut s = sim();
    s.set_server(|_| {
        Some(with_error(429, "ERR_RATE_LIMITED", RetryAfter::read("later, maybe", Some(f64::NAN))))
    });
    s.start();
    s.advance(2 * SEC);
    let sent = s.sent();
    assert_eq!(sent.len(), 2);
    assert!((T0 + SEC..=T0 + 2 * SEC).contains(&sent[1].0), "{sent:?}");
}

#[test]
fn transient_failures_retry_with_exponential_backoff_jitter_and_a_cap() {
    let mut s = sim();
    s.set_server(|_| Some(Reply::status(503)));
    s.start();
    s.advance_to(T0 + 10 * MIN);
    let sent = s.sent();
    assert!(sent[1..].iter().all(|(_, r)| *r == Reason::Retry));
    let gaps: Vec<u64> = sent.windows(2).map(|w| w[1].0 - w[0].0).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let ceiling = ((2 * SEC) << i.min(20)).min(MIN);
        assert!(
            (ceiling / 2..=ceiling).contains(gap),
            "retry {i}: {gap} ms outside [{}, {ceiling}]",
            ceiling / 2
        );
    }
    assert!(gaps.iter().skip(6).all(|g| *g >= 30 * SEC), "capped near retryMaxMs");
    let distinct: std::collections::HashSet<_> = gaps.iter().skip(6).collect();
    assert!(distinct.len() > 1, "jitter spreads the capped retries: {gaps:?}");
}

#[test]
fn retries_never_wait_past_the_safety_margin_before_a_known_expiry() {
    let timing = Timing { retry_min_ms: 60 * SEC, retry_max_ms: 10 * MIN, ..Timing::default() };
    let mut s = Simulation::new(timing, T0);
    s.set_server(outage(T0 + 1, u64::MAX, Reply::status(500)));
    s.start();
    // Known expiry T0 + 20 min, margin 30 s: with a 10 min backoff cap the retries would sail
    // past it; they must instead come no later than T0 + 19.5 min.
    s.advance_to(T0 + 20 * MIN - 1);
    let last = s.sent().last().copied().unwrap();
    assert_eq!(last.1, Reason::Retry);
    assert!(last.0 <= T0 + 20 * MIN - 30 * SEC, "{last:?}");
    assert!(last.0 >= T0 + 19 * MIN, "{last:?}");
}

#[test]
fn an_expiry_the_server_reports_shorter_than_the_interval_is_still_kept() {
    let mut s = sim();
    s.set_server(|_| Some(ok(100.0)));
    s.start();
    s.advance_to(T0 + 10 * MIN);
    let sent = s.sent();
    // 100 s lifetime, 10 s margin: a heartbeat every 90 s instead of every 5 min.
    assert_eq!(sent[1], (T0 + 90 * SEC, Reason::Timer));
    assert_eq!(s.machine.state(), State::Running);
}

/// The least time between two requests while the server answers: `min(retryMinMs, intervalMs)`.
const FLOOR: u64 = 2 * SEC;

#[test]
fn a_server_reporting_no_lifetime_at_all_gets_one_request_and_the_session_ends() {
    // A lifetime shorter than the floor runs out before the next request is allowed; one as long
    // as the floor runs out at the very moment it would be, which is too late.
    for ttl_ms in [0, 1, 500, FLOOR - 1, FLOOR] {
        let mut s = sim();
        s.set_server(move |_| Some(ok(ttl_ms as f64 / 1_000.0)));
        s.start();
        s.advance_to(T0 + MIN);
        assert_eq!(s.sent(), vec![(T0, Reason::Start)], "a lifetime of {ttl_ms} ms");
        assert_eq!(
            s.events().last(),
            Some(&(
                T0 + ttl_ms,
                Event::Expired { reason: ExpiryReason::TtlElapsed, source: Source::ThisTab }
            )),
            "a lifetime of {ttl_ms} ms"
        );
    }
}

#[test]
fn a_server_reporting_short_lifetimes_is_never_sent_to_more_often_than_the_floor() {
    for ttl_ms in [FLOOR + 1, FLOOR + 100, 2_500, 3 * SEC, 10 * SEC, 45 * SEC] {
        let mut s = sim();
        s.set_server(move |_| Some(ok(ttl_ms as f64 / 1_000.0)));
        s.start();
        s.advance_to(T0 + MIN);
        let sent = s.sent();
        let closest = sent.windows(2).map(|w| w[1].0 - w[0].0).min().unwrap();
        assert!(closest >= FLOOR, "a lifetime of {ttl_ms} ms: {closest} ms apart");
        assert!(sent.len() as u64 <= MIN / FLOOR + 1, "a lifetime of {ttl_ms} ms: {}", sent.len());
        assert_eq!(s.machine.state(), State::Running, "a lifetime of {ttl_ms} ms is kept");
    }
}

#[test]
fn the_warning_comes_at_exactly_failure_warning_ms_once_per_episode() {
    let mut s = sim();
    s.set_server(outage(T0 + 1, T0 + 10 * MIN, Reply::Network { message: "down".into() }));
    s.start();
    s.advance_to(T0 + 5 * MIN);
    let first_failure = T0 + 5 * MIN;
    assert_eq!(errors(&s)[0].0, first_failure);
    s.advance_to(first_failure + 2 * MIN - 1);
    assert_eq!(count(&s, |e| matches!(e, Event::Warning { .. })), 0, "not a millisecond early");
    s.advance_to(first_failure + 2 * MIN);
    let warnings: Vec<_> =
        s.events().into_iter().filter(|(_, e)| matches!(e, Event::Warning { .. })).collect();
    assert_eq!(warnings.len(), 1);
    let (at, Event::Warning { since, failures, .. }) = warnings[0].clone() else { unreachable!() };
    assert_eq!((at, since), (first_failure + 2 * MIN, first_failure));
    assert_eq!(failures, s.machine.consecutive_failures());
    assert!(failures >= 4, "retries kept going: {failures}");
    s.advance_to(T0 + 12 * MIN);
    assert_eq!(count(&s, |e| matches!(e, Event::Warning { .. })), 1, "once per episode");
    let recovered: Vec<_> =
        s.events().into_iter().filter(|(_, e)| matches!(e, Event::Recovered { .. })).collect();
    assert_eq!(recovered.len(), 1);
    let (at, Event::Recovered { failures, downtime_ms, .. }) = recovered[0].clone() else {
        unreachable!()
    };
    assert!(at >= T0 + 10 * MIN);
    assert_eq!(downtime_ms, at - first_failure);
    assert!(failures >= 5);
    assert_eq!(s.machine.state(), State::Running);
    assert_eq!(s.machine.consecutive_failures(), 0);
}

#[test]
fn each_failure_episode_gets_its_own_warning_and_short_ones_none() {
    let mut s = sim();
    let down = |now: u64| {
        (T0 + 5 * MIN..T0 + 6 * MIN).contains(&now) || (T0 + 30 * MIN..T0 + 40 * MIN).contains(&now)
    };
    s.set_server(move |now| Some(if down(now) { Reply::status(502) } else { ok(1_200.0) }));
    s.start();
    s.advance_to(T0 + 20 * MIN);
    assert!(count(&s, |e| matches!(e, Event::Error(_))) >= 2);
    assert_eq!(count(&s, |e| matches!(e, Event::Warning { .. })), 0, "a one-minute blip");
    assert_eq!(
        count(&s, |e| matches!(e, Event::Recovered { .. })),
        0,
        "recovered only follows a warning"
    );
    s.advance_to(T0 + 60 * MIN);
    assert_eq!(count(&s, |e| matches!(e, Event::Warning { .. })), 1);
    assert_eq!(count(&s, |e| matches!(e, Event::Recovered { .. })), 1);
}

#[test]
fn failing_and_running_are_announced_as_state_changes() {
    let mut s = sim();
    s.set_server(outage(T0 + 1, T0 + 6 * MIN, Reply::status(500)));
    s.start();
    s.advance_to(T0 + 10 * MIN);
    let changes: Vec<_> = s
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::StateChange { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (State::Ready, State::Running),
            (State::Running, State::Failing),
            (State::Failing, State::Running)
        ]
    );
}

#[test]
fn a_request_without_an_answer_times_out_is_aborted_and_retried() {
    let mut s = sim();
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    s.set_server(move |_| {
        counter.set(counter.get() + 1);
        (counter.get() > 1).then(|| ok(1_200.0))
    });
    s.start();
    s.advance_to(T0 + 10 * SEC - 1);
    assert!(errors(&s).is_empty());
    s.advance_to(T0 + 10 * SEC);
    assert!(s.log().contains(&(T0 + 10 * SEC, Record::Aborted)));
    let errs = errors(&s);
    assert_eq!(
        (errs[0].0, errs[0].1.code.as_str(), errs[0].1.status),
        (T0 + 10 * SEC, "ERR_TIMEOUT", 0)
    );
    s.advance(2 * SEC);
    assert_eq!(s.sent().last().map(|s| s.1), Some(Reason::Retry));
    assert_eq!(s.machine.state(), State::Running);
}

#[test]
fn a_tab_woken_before_the_expiry_sends_an_overdue_heartbeat_at_once_as_resume() {
    let mut s = sim();
    s.start();
    s.sleep_until(T0 + 17 * MIN);
    assert_eq!(s.sent().last(), Some(&(T0 + 17 * MIN, Reason::Resume)));
    assert_eq!(s.machine.state(), State::Running);
}

#[test]
fn a_timer_at_most_a_second_late_still_counts_as_the_timer() {
    let mut s = sim();
    s.start();
    s.sleep_until(T0 + 5 * MIN + LATE);
    assert_eq!(s.sent().last(), Some(&(T0 + 5 * MIN + LATE, Reason::Timer)));
}
const LATE: u64 = keeper_core::machine::LATE_TOLERANCE_MS;

#[test]
fn a_laptop_that_slept_past_the_ttl_reports_ttl_elapsed_instead_of_pretending() {
    let mut s = sim();
    s.start();
    s.sleep_until(T0 + 3 * 60 * MIN);
    assert_eq!(s.sent().len(), 1, "no heartbeat for a session that is gone");
    assert_eq!(s.machine.state(), State::Expired);
    assert_eq!(
        s.events().last().map(|e| e.1.clone()),
        Some(Event::Expired { reason: ExpiryReason::TtlElapsed, source: Source::ThisTab })
    );
}

#[test]
fn becoming_visible_checks_the_wall_clock_too() {
    let mut s = sim();
    s.start();
    let mut m = s.machine.clone();
    assert!(m.handle(T0 + 2 * MIN, Input::Visible).is_empty(), "nothing due yet");
    // A frozen background tab whose timer never fired, visible again at +7 min.
    let commands = m.handle(T0 + 7 * MIN, Input::Visible);
    assert!(matches!(commands[..], [Command::Send { reason: Reason::Resume, .. }]), "{commands:?}");
    // Visible again only after the expiry.
    let mut m = s.machine.clone();
    let commands = m.handle(T0 + 21 * MIN, Input::Visible);
    assert!(commands.contains(&Command::Emit(Event::Expired {
        reason: ExpiryReason::TtlElapsed,
        source: Source::ThisTab
    })));
    assert!(!commands.iter().any(|c| matches!(c, Command::Send { .. })));
}

#[test]
fn a_server_down_for_longer_than_the_ttl_ends_in_ttl_elapsed() {
    let mut s = sim();
    s.set_server(outage(T0 + 1, u64::MAX, Reply::Network { message: "refused".into() }));
    s.start();
    s.advance_to(T0 + 2 * 60 * MIN);
    assert_eq!(s.machine.state(), State::Expired);
    assert_eq!(
        s.events().last().map(|e| e.1.clone()),
        Some(Event::Expired { reason: ExpiryReason::TtlElapsed, source: Source::ThisTab })
    );
    let last_send = s.sent().last().unwrap().0;
    assert!(last_send < T0 + 20 * MIN);
}

#[test]
fn a_wall_clock_set_back_keeps_the_schedule_s_real_durations() {
    let mut s = sim();
    s.start();
    let mut m = s.machine.clone();
    // The clock is set back an hour. The machine learns it at its next input, here two minutes
    // later, and moves its times back by what it sees: 58 minutes. Without that, it would stay
    // silent for an hour while the session expired.
    let jumped = T0 + 2 * MIN - 60 * MIN;
    assert!(m.handle(jumped, Input::Tick).is_empty());
    assert_eq!(m.next_wake(), Some(jumped + 5 * MIN));
    assert_eq!(m.expires_at(), Some(jumped + 20 * MIN));
    let commands = m.handle(jumped + 5 * MIN, Input::Tick);
    assert!(matches!(commands[..], [Command::Send { reason: Reason::Timer, .. }]), "{commands:?}");
    // A clock that wobbles by less than a second is left alone.
    let mut m = s.machine.clone();
    m.handle(T0 + 2 * MIN, Input::Tick);
    m.handle(T0 + 2 * MIN - 999, Input::Tick);
    assert_eq!(m.next_wake(), Some(T0 + 5 * MIN));
}

#[test]
fn offline_fails_without_a_request_and_online_retries_at_once() {
    let mut s = sim();
    s.start();
    s.input(Input::Offline);
    s.advance_to(T0 + 5 * MIN);
    assert_eq!(s.sent().len(), 1, "no request while offline");
    let errs = errors(&s);
    assert_eq!(errs[0].1.sent_at, T0 + 5 * MIN, "when it would have been sent");
    assert_eq!(
        (errs[0].0, errs[0].1.code.as_str(), errs[0].1.reason),
        (T0 + 5 * MIN, "ERR_OFFLINE", Reason::Timer)
    );
    s.advance_to(T0 + 5 * MIN + 500);
    s.input(Input::Online);
    assert_eq!(s.sent().last(), Some(&(T0 + 5 * MIN + 500, Reason::Retry)));
    assert_eq!(s.machine.state(), State::Running);
}

#[test]
fn manual_beats_ignore_the_throttle_but_never_overlap() {
    let mut s = sim();
    s.input(Input::Manual);
    assert!(s.sent().is_empty(), "not before start");
    s.set_latency(300);
    s.start();
    s.input(Input::Manual);
    assert_eq!(s.sent().len(), 1, "the start request is still in flight");
    s.advance(300);
    s.input(Input::Manual);
    assert_eq!(s.sent().last(), Some(&(T0 + 300, Reason::Manual)));
}

#[test]
fn a_manual_beat_honours_a_pending_retry_after_and_the_allowed_retry_answers_it() {
    let mut s = sim();
    s.set_server(first_then_ok(with_error(429, "ERR_RATE_LIMITED", Some(RetryAfter::Seconds(30)))));
    s.start();
    s.advance_to(T0 + 10 * SEC);
    s.input(Input::Manual);
    s.advance_to(T0 + 30 * SEC - 1);
    assert_eq!(s.sent(), vec![(T0, Reason::Start)], "nothing before the server allows it");
    s.advance_to(T0 + 30 * SEC);
    assert_eq!(s.sent().last(), Some(&(T0 + 30 * SEC, Reason::Retry)));
    let answered = s.events().into_iter().find_map(|(at, e)| match e {
        Event::Heartbeat(h) => Some((at, h.reason)),
        _ => None,
    });
    assert_eq!(answered, Some((T0 + 30 * SEC, Reason::Retry)));
    assert_eq!(s.machine.state(), State::Running);
}

#[test]
fn a_manual_beat_during_an_ordinary_backoff_sends_at_once() {
    let mut s = sim();
    s.set_server(outage(T0, T0 + 1, Reply::status(503)));
    s.start();
    assert!(s.machine.next_wake().is_some_and(|w| w >= T0 + SEC), "a retry is pending");
    s.advance_to(T0 + 500);
    s.input(Input::Manual);
    assert_eq!(s.sent().last(), Some(&(T0 + 500, Reason::Manual)));
    assert_eq!(s.machine.state(), State::Running);
    s.advance_to(T0 + 5 * MIN + 500);
    assert_eq!(s.sent().len(), 3, "the retry it replaced is not sent: {:?}", s.sent());
}

#[test]
fn stop_aborts_the_request_in_flight_ignores_its_answer_and_start_begins_afresh() {
    let mut s = sim();
    s.set_latency(500);
    s.start();
    s.input(Input::Stop);
    assert_eq!(
        s.log().last().map(|l| &l.1),
        Some(&Record::Event(Event::StateChange { from: State::Running, to: State::Stopped }))
    );
    assert!(s.log().iter().any(|(_, r)| *r == Record::Aborted));
    s.advance_to(T0 + 60 * MIN);
    s.activity();
    assert_eq!(s.sent().len(), 1);
    assert_eq!(s.machine.next_wake(), None);
    s.start();
    assert_eq!(s.machine.state(), State::Running);
    assert_eq!(s.sent().last(), Some(&(T0 + 60 * MIN, Reason::Start)));
    // A late answer to the aborted first request must not count.
    let mut m = Machine::new(Timing::default(), 1);
    let first =
        match m.handle(T0, Input::Start).into_iter().find(|c| matches!(c, Command::Send { .. })) {
            Some(Command::Send { request, .. }) => request,
            _ => unreachable!(),
        };
    m.handle(T0 + 1, Input::Stop);
    m.handle(T0 + 2, Input::Start);
    assert!(m.handle(T0 + 3, Input::Reply { request: first, reply: ok(5.0) }).is_empty());
    assert_eq!(m.expires_at(), None);
}

#[test]
fn stop_after_expiry_keeps_the_expired_state() {
    let mut s = sim();
    s.start();
    let mut m = s.machine.clone();
    m.handle(T0 + 50 * MIN, Input::Tick);
    assert_eq!(m.state(), State::Expired);
    assert!(m.handle(T0 + 50 * MIN, Input::Stop).is_empty());
    assert_eq!(m.state(), State::Expired);
}

#[test]
fn the_next_wake_is_always_set_while_running() {
    let mut s = sim();
    s.set_server(outage(T0 + 20 * MIN, T0 + 25 * MIN, Reply::status(500)));
    s.start();
    let mut t = T0;
    while t < T0 + 60 * MIN {
        t += 7 * SEC;
        s.advance_to(t);
        if s.machine.state().is_active() {
            assert!(s.machine.next_wake().is_some_and(|w| w >= t || s.machine.in_flight()));
        }
    }
}

#[test]
fn requests_per_hour_for_an_active_user_and_an_idle_tab() {
    let mut idle = sim();
    idle.start();
    idle.advance_to(T0 + 60 * MIN);
    let mut active = sim();
    active.start();
    let mut t = T0;
    while t < T0 + 60 * MIN {
        t += 250;
        active.advance_to(t);
        active.activity();
    }
    // One at start, then one per 5 minutes idle, one per throttle window when active.
    assert_eq!(idle.sent().len(), 13);
    assert_eq!(active.sent().len(), 61);
}
