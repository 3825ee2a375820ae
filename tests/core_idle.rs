//! The idle policy in simulated time: the prompt before idle, idle itself, what activity and
//! `activate()` do, and how a sleeping device sees them. With the policy off, none of it exists.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{
    HOUR, MIN, SEC, T0, actives, count, heartbeats, idle_timing, idles, is_presence_event, prompts,
    ttl_elapsed,
};
use keeper_core::event::{Presence, Reason, Source, State};
use keeper_core::machine::Input;
use keeper_core::options::Timing;
use keeper_core::reply::Reply;
use keeper_core::sim::{Simulation, ok};

/// Idle after 15 minutes without activity, prompted one minute before.
const IDLE: u64 = 15 * MIN;
const PROMPT: u64 = MIN;

fn sim() -> Simulation {
    Simulation::new(idle_timing(IDLE, PROMPT), T0)
}

#[test]
fn the_prompt_comes_exactly_prompt_before_ms_ahead_of_idle_with_the_time_remaining() {
    let mut s = sim();
    s.start();
    assert_eq!(s.machine.idle_at(), Some(T0 + IDLE));
    s.advance_to(T0 + IDLE - PROMPT - 1);
    assert!(prompts(&s.events()).is_empty(), "not a millisecond early");
    assert_eq!(s.machine.presence(), Presence::Active);
    s.advance_to(T0 + IDLE - PROMPT);
    assert_eq!(prompts(&s.events()), vec![(T0 + IDLE - PROMPT, T0 + IDLE, PROMPT)]);
    assert_eq!(s.machine.presence(), Presence::Prompted);
    assert!(idles(&s.events()).is_empty());
}

#[test]
fn the_user_is_idle_exactly_at_the_idle_timeout() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + IDLE - 1);
    assert!(idles(&s.events()).is_empty(), "not a millisecond early");
    s.advance_to(T0 + IDLE);
    assert_eq!(idles(&s.events()), vec![(T0 + IDLE, T0 + IDLE)]);
    assert_eq!(s.machine.presence(), Presence::Idle);
    assert_eq!(prompts(&s.events()).len(), 1, "prompted once, before");
}

#[test]
fn no_heartbeat_follows_idle_and_the_session_ends_ttl_elapsed_at_its_expiry() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 3 * HOUR);
    // The start and the timer at +5 and +10 min; the one due at +15 min falls on idle.
    let sent: Vec<u64> = s.sent().into_iter().map(|(at, _)| at).collect();
    assert_eq!(sent, vec![T0, T0 + 5 * MIN, T0 + 10 * MIN]);
    let expiry = T0 + 10 * MIN + 20 * MIN;
    assert_eq!(s.machine.state(), State::Expired);
    assert_eq!(s.events().last(), Some(&(expiry, ttl_elapsed())));
    assert_eq!(s.machine.next_wake(), None);
}

#[test]
fn retries_stop_too_once_the_user_is_idle() {
    let mut s = sim();
    // The server is unreachable from +10 min on: the keeper is retrying when the user goes idle.
    s.set_server(|now| {
        Some(if now < T0 + 10 * MIN {
            ok(1_200.0)
        } else {
            Reply::Network { message: "down".into() }
        })
    });
    s.start();
    s.advance_to(T0 + IDLE);
    let retrying = s.sent().len();
    assert!(s.sent()[retrying - 1].1 == Reason::Retry && retrying > 5, "{:?}", s.sent());
    s.advance_to(T0 + 2 * HOUR);
    assert!(s.sent().iter().all(|(at, _)| *at < T0 + IDLE), "{:?}", s.sent());
    assert_eq!(s.sent().len(), retrying);
    assert_eq!(s.events().last(), Some(&(T0 + 5 * MIN + 20 * MIN, ttl_elapsed())));
}

#[test]
fn activity_restarts_the_idle_clock() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 10 * MIN);
    s.activity();
    assert_eq!(s.machine.idle_at(), Some(T0 + 10 * MIN + IDLE));
    s.advance_to(T0 + 10 * MIN + IDLE - 1);
    assert!(
        prompts(&s.events()).iter().all(|p| p.0 == T0 + 10 * MIN + IDLE - PROMPT),
        "{:?}",
        prompts(&s.events())
    );
    assert!(idles(&s.events()).is_empty());
    s.advance(1);
    assert_eq!(idles(&s.events()), vec![(T0 + 10 * MIN + IDLE, T0 + 10 * MIN + IDLE)]);
}

#[test]
fn ordinary_activity_during_the_prompt_neither_dismisses_it_nor_sends() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + IDLE - PROMPT);
    assert_eq!(s.machine.activity_gate(), u64::MAX, "the shell need not even feed it");
    let before = (s.sent().len(), s.events().len());
    for t in (T0 + IDLE - PROMPT..T0 + IDLE).step_by(5 * SEC as usize) {
        s.advance_to(t);
        s.activity();
    }
    assert_eq!((s.sent().len(), s.events().len()), before, "no event, no heartbeat");
    assert_eq!(s.machine.presence(), Presence::Prompted);
    s.advance_to(T0 + IDLE);
    assert_eq!(idles(&s.events()), vec![(T0 + IDLE, T0 + IDLE)], "a bumped mouse is not consent");
}

#[test]
fn activate_dismisses_the_prompt_with_an_active_event_and_a_manual_heartbeat() {
    let mut s = sim();
    s.start();
    let pressed = T0 + IDLE - 20 * SEC;
    s.advance_to(pressed);
    s.input(Input::Activate);
    assert_eq!(actives(&s.events()), vec![(pressed, Source::ThisTab)]);
    assert_eq!(s.sent().last(), Some(&(pressed, Reason::Manual)));
    assert_eq!(heartbeats(&s.events()).last().map(|h| h.1.reason), Some(Reason::Manual));
    assert_eq!(s.machine.presence(), Presence::Active);
    assert_eq!(s.machine.idle_at(), Some(pressed + IDLE));
    s.advance_to(pressed + IDLE - PROMPT - 1);
    assert!(idles(&s.events()).is_empty());
    assert_eq!(prompts(&s.events()).len(), 1, "the next prompt comes a full idle timeout later");
}

#[test]
fn activity_after_idle_makes_the_user_active_and_resumes_the_schedule() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 18 * MIN);
    assert_eq!(s.machine.presence(), Presence::Idle);
    assert_eq!(s.machine.activity_gate(), 0, "the first activity after idle counts");
    s.activity();
    assert_eq!(actives(&s.events()), vec![(T0 + 18 * MIN, Source::ThisTab)]);
    assert_eq!(s.sent().last(), Some(&(T0 + 18 * MIN, Reason::Activity)));
    s.advance_to(T0 + 23 * MIN);
    assert_eq!(s.sent().last(), Some(&(T0 + 23 * MIN, Reason::Timer)), "the timer is back");
    assert_eq!(s.machine.state(), State::Running);
    assert_eq!(s.machine.idle_at(), Some(T0 + 18 * MIN + IDLE));
}

#[test]
fn activate_after_idle_makes_the_user_active_and_sends_at_once() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + 20 * MIN);
    s.input(Input::Activate);
    assert_eq!(actives(&s.events()), vec![(T0 + 20 * MIN, Source::ThisTab)]);
    assert_eq!(s.sent().last(), Some(&(T0 + 20 * MIN, Reason::Manual)));
    assert_eq!(s.machine.presence(), Presence::Active);
}

#[test]
fn a_device_asleep_past_the_idle_deadline_reports_idle_without_a_prompt() {
    let mut s = sim();
    s.start();
    s.sleep_until(T0 + IDLE + MIN);
    assert!(prompts(&s.events()).is_empty(), "a prompt for a moment already past is no use");
    assert_eq!(idles(&s.events()), vec![(T0 + IDLE + MIN, T0 + IDLE)]);
    assert_eq!(s.sent(), vec![(T0, Reason::Start)], "no overdue heartbeat for an idle user");
    s.advance_to(T0 + 3 * HOUR);
    assert_eq!(s.sent().len(), 1);
    assert_eq!(s.events().last(), Some(&(T0 + 20 * MIN, ttl_elapsed())));
}

#[test]
fn a_device_asleep_into_the_prompt_window_is_prompted_with_the_true_time_remaining() {
    let mut s = sim();
    s.start();
    let woke = T0 + IDLE - 20 * SEC;
    s.sleep_until(woke);
    assert_eq!(prompts(&s.events()), vec![(woke, T0 + IDLE, 20 * SEC)]);
    assert!(idles(&s.events()).is_empty());
    s.advance_to(T0 + IDLE);
    assert_eq!(idles(&s.events()), vec![(T0 + IDLE, T0 + IDLE)]);
}

#[test]
fn an_idle_timeout_longer_than_the_ttl_keeps_the_session_alive_until_idle() {
    let mut s = Simulation::new(idle_timing(HOUR, PROMPT), T0);
    s.start();
    s.advance_to(T0 + 3 * HOUR);
    let sent = s.sent();
    // The start, then the timer every 5 minutes up to +55 min: the session outlives its TTL.
    assert_eq!(sent.len(), 12, "{sent:?}");
    assert!(sent[1..].iter().all(|(_, r)| *r == Reason::Timer));
    assert_eq!(sent.last().map(|s| s.0), Some(T0 + 55 * MIN));
    assert_eq!(prompts(&s.events()), vec![(T0 + HOUR - PROMPT, T0 + HOUR, PROMPT)]);
    assert_eq!(idles(&s.events()), vec![(T0 + HOUR, T0 + HOUR)]);
    assert_eq!(s.events().last(), Some(&(T0 + 75 * MIN, ttl_elapsed())));
}

#[test]
fn without_a_prompt_time_the_user_goes_straight_to_idle() {
    let mut s = Simulation::new(idle_timing(IDLE, 0), T0);
    s.start();
    s.advance_to(T0 + IDLE);
    assert!(prompts(&s.events()).is_empty());
    assert_eq!(idles(&s.events()), vec![(T0 + IDLE, T0 + IDLE)]);
}

#[test]
fn a_new_start_restarts_the_idle_clock() {
    let mut s = sim();
    s.start();
    s.advance_to(T0 + IDLE + MIN);
    s.input(Input::Stop);
    s.start();
    assert_eq!(s.machine.presence(), Presence::Active);
    assert_eq!(s.machine.idle_at(), Some(T0 + IDLE + MIN + IDLE));
}

#[test]
fn with_the_policy_off_there_is_never_a_prompt_idle_or_active_event() {
    let mut s = Simulation::new(Timing::default(), T0);
    s.start();
    assert_eq!(s.machine.idle_at(), None);
    for step in 0..200u64 {
        s.advance(7 * MIN + step * 13 * SEC);
        assert_eq!(s.machine.presence(), Presence::Active);
        match step % 4 {
            0 => s.activity(),
            1 => s.input(Input::Activate),
            2 => s.sleep_until(s.now() + 40 * MIN),
            _ => s.start(),
        }
    }
    assert_eq!(count(&s.events(), is_presence_event), 0);
    assert_eq!(s.machine.presence(), Presence::Active);
}

#[test]
fn an_idle_user_whose_session_was_never_confirmed_still_sees_it_end() {
    // No heartbeat before idle: the session is assumed to last ttlMs from the start.
    let timing = Timing { beat_on_start: false, ..idle_timing(2 * MIN, 0) };
    let mut s = Simulation::new(timing, T0);
    s.start();
    s.advance_to(T0 + 3 * HOUR);
    assert!(s.sent().is_empty());
    assert_eq!(idles(&s.events()), vec![(T0 + 2 * MIN, T0 + 2 * MIN)]);
    assert_eq!(s.events().last(), Some(&(T0 + 20 * MIN, ttl_elapsed())));
    // The server unreachable since the start: ttlMs from the last request that was tried.
    let mut s = sim();
    s.set_server(|_| Some(Reply::Network { message: "down".into() }));
    s.start();
    s.advance_to(T0 + 3 * HOUR);
    let last_try = s.sent().last().unwrap().0;
    assert!(last_try < T0 + IDLE);
    assert_eq!(s.events().last(), Some(&(last_try + 20 * MIN, ttl_elapsed())));
    assert_eq!(s.machine.next_wake(), None);
}
