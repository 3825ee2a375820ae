//! Several tabs of one session in simulated time: one stream of heartbeats for all, handover when
//! the leader goes, every tab told every result, the idle policy across tabs, and the election
//! used where the Web Locks API is missing.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{HOUR, MIN, SEC, T0, actives, count, errors, heartbeats, idle_timing, idles, prompts};
use keeper_core::election::{BEACON_MS, CLAIM_MS, LEADER_TIMEOUT_MS};
use keeper_core::event::{Event, ExpiryReason, Presence, Reason, Source, State};
use keeper_core::machine::LEAD_SETTLE_MS;
use keeper_core::machine::{Input, Role};
use keeper_core::options::Timing;
use keeper_core::reply::Reply;
use keeper_core::sim::{Coordination, Tabs, ok};

const INTERVAL: u64 = 5 * MIN;

/// `n` tabs of one session, all opened at `T0`.
fn tabs(n: usize, timing: Timing, coordination: Coordination) -> Tabs {
    let mut t = Tabs::new(timing, T0, coordination);
    for _ in 0..n {
        t.open();
    }
    t
}

/// Runs `t` for an hour from `T0`, the user active (an event a second) in `active_tab` if any,
/// and returns the requests sent within the hour.
fn one_hour(t: &mut Tabs, active_tab: Option<usize>) -> usize {
    if let Some(tab) = active_tab {
        while t.now() < T0 + HOUR {
            t.advance(SEC);
            t.activity(tab);
        }
    }
    t.advance_to(T0 + HOUR);
    t.sent().iter().filter(|(at, _, _)| *at < T0 + HOUR).count()
}

/// The longest time the session went without a request, from `T0` to `until`.
fn longest_gap(t: &Tabs, until: u64) -> u64 {
    let mut times: Vec<u64> = t.sent().iter().map(|s| s.0).filter(|at| *at <= until).collect();
    times.push(until);
    times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

fn senders(t: &Tabs) -> Vec<usize> {
    let mut tabs: Vec<usize> = t.sent().iter().map(|s| s.1).collect();
    tabs.dedup();
    tabs
}

#[test]
fn idle_tabs_of_one_session_cost_one_tab_s_heartbeats() {
    let one = one_hour(&mut tabs(1, Timing::default(), Coordination::Locks), None);
    assert_eq!(one, 12, "the start, then the timer every 5 minutes");
    for n in [2, 4, 8] {
        let mut t = tabs(n, Timing::default(), Coordination::Locks);
        let requests = one_hour(&mut t, None);
        assert!(requests * 10 <= one * 11, "{n} tabs: {requests} requests, one tab {one}");
        assert_eq!(senders(&t), vec![0], "only the leader sends");
    }
}

#[test]
fn tabs_with_the_user_active_in_one_cost_one_tab_s_heartbeats() {
    let one = one_hour(&mut tabs(1, Timing::default(), Coordination::Locks), Some(0));
    assert_eq!(one, 60, "the start, then one per throttle window");
    for n in [2, 4, 8] {
        // The user in a follower (the last tab opened), then in the leader.
        for active in [n - 1, 0] {
            let mut t = tabs(n, Timing::default(), Coordination::Locks);
            let requests = one_hour(&mut t, Some(active));
            assert!(
                requests * 10 <= one * 11,
                "{n} tabs, active in tab {active}: {requests} requests, one tab {one}"
            );
            assert_eq!(senders(&t), vec![0]);
        }
    }
}

#[test]
fn activity_in_a_follower_makes_the_leader_send_an_activity_heartbeat() {
    let mut t = tabs(2, Timing::default(), Coordination::Locks);
    t.advance_to(T0 + 2 * MIN);
    t.activity(1);
    assert_eq!(t.sent().last(), Some(&(T0 + 2 * MIN, 0, Reason::Activity)));
    for tab in 0..2 {
        assert_eq!(t.machine(tab).expires_at(), Some(T0 + 22 * MIN), "tab {tab}: extended");
    }
    // The follower forwards at most once per throttle window.
    t.advance_to(T0 + 2 * MIN + 30 * SEC);
    t.activity(1);
    assert_eq!(t.sent().len(), 2);
    t.advance_to(T0 + 3 * MIN);
    t.activity(1);
    assert_eq!(t.sent().last(), Some(&(T0 + 3 * MIN, 0, Reason::Activity)));
}

#[test]
fn closing_the_leader_hands_over_at_once_and_the_schedule_keeps_its_pace() {
    let mut t = Tabs::new(Timing::default(), T0, Coordination::Locks);
    t.open();
    // The other tabs open just before the leader's next heartbeat is due.
    t.advance_to(T0 + 4 * MIN);
    t.open();
    t.open();
    t.advance_to(T0 + 4 * MIN + 30 * SEC);
    t.close(0);
    assert_eq!(t.leaders(), vec![1], "at once");
    assert!(t.events(1).contains(&(T0 + 4 * MIN + 30 * SEC, Event::LeaderChange { leader: true })));
    t.advance_to(T0 + HOUR);
    assert!(longest_gap(&t, T0 + HOUR) <= INTERVAL, "{:?}", t.sent());
    assert_eq!(t.sent()[1], (T0 + 5 * MIN, 1, Reason::Timer), "on the old leader's schedule");
    assert_eq!(senders(&t), vec![0, 1]);
}

#[test]
fn a_crashed_leader_frees_its_lock_and_the_next_tab_takes_over_without_a_gap() {
    let mut t = tabs(3, Timing::default(), Coordination::Locks);
    t.advance_to(T0 + 12 * MIN);
    t.crash(0);
    assert_eq!(t.leaders(), vec![1]);
    t.advance_to(T0 + 40 * MIN);
    t.crash(1);
    assert_eq!(t.leaders(), vec![2]);
    t.advance_to(T0 + 2 * HOUR);
    assert!(longest_gap(&t, T0 + 2 * HOUR) <= INTERVAL, "{:?}", t.sent());
    assert_eq!(senders(&t), vec![0, 1, 2]);
    assert_eq!(t.machine(2).state(), State::Running);
}

#[test]
fn every_tab_sees_each_result_from_its_source_and_agrees_on_the_session() {
    let mut t = Tabs::new(Timing::default(), T0, Coordination::Locks);
    t.set_latency(150);
    t.set_channel_delay(40);
    for _ in 0..3 {
        t.open();
    }
    t.advance_to(T0 + 32 * MIN);
    t.activity(2);
    t.advance_to(T0 + HOUR);
    let leader = heartbeats(&t.events(0));
    assert!(leader.iter().any(|(_, h)| h.reason == Reason::Activity) && leader.len() >= 12);
    assert!(leader.iter().all(|(_, h)| h.source == Source::ThisTab));
    for tab in 1..3 {
        let heard = heartbeats(&t.events(tab));
        assert_eq!(heard.len(), leader.len(), "tab {tab}");
        for ((led_at, led), (heard_at, h)) in leader.iter().zip(&heard) {
            assert_eq!(h.source, Source::OtherTab);
            assert_eq!(
                (h.reason, h.status, h.sent_at, h.expires_at, h.latency_ms),
                (led.reason, led.status, led.sent_at, led.expires_at, led.latency_ms)
            );
            assert!(heard_at - led_at < SEC, "tab {tab} heard at {heard_at}, sent at {led_at}");
        }
    }
    for tab in 1..3 {
        let (leader, follower) = (t.machine(0), t.machine(tab));
        assert_eq!(follower.expires_at(), leader.expires_at());
        assert_eq!(follower.last_heartbeat_at(), leader.last_heartbeat_at());
        assert_eq!(follower.state(), leader.state());
    }
}

#[test]
fn every_tab_sees_the_session_end() {
    let mut t = tabs(4, Timing::default(), Coordination::Locks);
    t.set_server(|now| Some(if now < T0 + 30 * MIN { ok(1_200.0) } else { Reply::status(404) }));
    t.advance_to(T0 + 2 * HOUR);
    let ended = T0 + 30 * MIN;
    assert_eq!(t.sent().last().map(|s| s.0), Some(ended), "nothing is sent after the 404");
    for tab in 0..4 {
        let source = if tab == 0 { Source::ThisTab } else { Source::OtherTab };
        let expired = Event::Expired { reason: ExpiryReason::NotFound, source };
        assert_eq!(t.events(tab).last(), Some(&(ended, expired)), "tab {tab}");
        assert_eq!(t.machine(tab).state(), State::Expired);
        assert_eq!(errors(&t.events(tab)).len(), 1, "tab {tab} reports the 404 itself");
        assert_eq!(t.machine(tab).next_wake(), None);
        let changes: Vec<State> = t
            .events(tab)
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::StateChange { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(changes, [State::Running, State::Expired], "tab {tab} goes as the leader did");
    }
}

#[test]
fn a_tab_that_takes_over_during_an_outage_retries_once_settled_and_keeps_the_episode() {
    let mut t = tabs(3, Timing::default(), Coordination::Locks);
    t.set_server(|now| {
        let down = (T0 + 10 * MIN..T0 + 20 * MIN).contains(&now);
        Some(if down { Reply::status(503) } else { ok(1_200.0) })
    });
    t.advance_to(T0 + 13 * MIN);
    assert_eq!(t.machine(1).state(), State::Failing, "the follower heard the failures");
    t.crash(0);
    // Not at once: the old leader's last news may still be on its way.
    let settled = T0 + 13 * MIN + LEAD_SETTLE_MS;
    t.advance_to(settled);
    assert_eq!(t.sent().last(), Some(&(settled, 1, Reason::Retry)));
    t.advance_to(T0 + HOUR);
    for tab in 1..3 {
        let warnings = count(&t.events(tab), |e| matches!(e, Event::Warning { .. }));
        let recovered = count(&t.events(tab), |e| matches!(e, Event::Recovered { .. }));
        assert_eq!((warnings, recovered), (1, 1), "tab {tab}: one episode, told once");
        assert_eq!(t.machine(tab).state(), State::Running);
    }
}

#[test]
fn a_tab_that_takes_over_as_the_session_ends_hears_of_the_end_before_it_sends() {
    // The server fails for a while (every tab is in the failure episode, so a new leader owes a
    // retry), then answers 404: the leader lets the lock go, and the lock reaches the next tab
    // before the leader's message that the session is gone.
    let mut t = tabs(3, Timing::default(), Coordination::Locks);
    t.set_channel_delay(40);
    t.set_server(|now| Some(if now < T0 + 10 * MIN { ok(1_200.0) } else { Reply::status(503) }));
    t.advance_to(T0 + 11 * MIN);
    assert!((0..3).all(|tab| t.machine(tab).state() == State::Failing));
    let ended = t.sent().last().map(|s| s.0).unwrap_or(0) + 1;
    t.set_server(move |now| {
        Some(if now < ended { Reply::status(503) } else { Reply::status(404) })
    });
    t.advance_to(T0 + HOUR);
    let after: Vec<_> = t.sent().iter().filter(|s| s.0 >= ended).collect();
    assert_eq!(after.len(), 1, "only the request that heard the 404: {after:?}");
    for tab in 0..3 {
        assert_eq!(t.machine(tab).state(), State::Expired, "tab {tab}");
    }
}

#[test]
fn two_tabs_starting_at_the_same_instant_give_one_leader_and_one_start_heartbeat() {
    for coordination in [Coordination::Locks, Coordination::Election] {
        let mut t = tabs(2, Timing::default(), coordination);
        t.advance_to(T0 + 10 * MIN + SEC);
        assert_eq!(t.leaders().len(), 1, "{coordination:?}");
        let starts = t.sent().iter().filter(|s| s.2 == Reason::Start).count();
        assert_eq!(starts, 1, "{coordination:?}: {:?}", t.sent());
        assert_eq!(t.sent().len(), 3, "{coordination:?}: the start and two timers");
    }
}

#[test]
fn a_slow_channel_still_gives_one_stream_of_heartbeats() {
    let one = one_hour(&mut tabs(1, Timing::default(), Coordination::Locks), Some(0));
    let mut t = Tabs::new(Timing::default(), T0, Coordination::Locks);
    t.set_channel_delay(400);
    for _ in 0..4 {
        t.open();
    }
    let requests = one_hour(&mut t, Some(3));
    assert!(requests * 10 <= one * 11, "{requests} requests, one tab {one}");
    assert_eq!(senders(&t), vec![0]);
    let leader = t.machine(0).expires_at();
    assert!(leader.is_some() && (1..4).all(|tab| t.machine(tab).expires_at() == leader));
}

#[test]
fn a_manual_beat_in_a_follower_is_sent_by_the_leader_and_reported_in_the_follower() {
    let mut t = tabs(3, Timing::default(), Coordination::Locks);
    t.advance_to(T0 + 2 * MIN);
    t.input(2, Input::Manual);
    assert_eq!(t.sent().last(), Some(&(T0 + 2 * MIN, 0, Reason::Manual)));
    let (at, heard) = heartbeats(&t.events(2)).pop().unwrap();
    assert_eq!((at, heard.reason, heard.source), (T0 + 2 * MIN, Reason::Manual, Source::OtherTab));
    assert_eq!(t.machine(2).expires_at(), Some(T0 + 22 * MIN));
}

#[test]
fn activity_in_any_tab_restarts_every_tab_s_idle_clock() {
    let mut t = tabs(3, idle_timing(15 * MIN, MIN), Coordination::Locks);
    t.advance_to(T0 + 10 * MIN);
    t.activity(2);
    for tab in 0..3 {
        assert_eq!(t.machine(tab).idle_at(), Some(T0 + 25 * MIN), "tab {tab}");
    }
    t.advance_to(T0 + 20 * MIN);
    t.activity(0);
    t.advance_to(T0 + 34 * MIN - 1);
    for tab in 0..3 {
        assert!(prompts(&t.events(tab)).is_empty(), "tab {tab}");
        assert_eq!(t.machine(tab).idle_at(), Some(T0 + 35 * MIN), "tab {tab}");
    }
}

#[test]
fn the_prompt_fires_in_every_tab_and_activate_in_one_dismisses_it_in_all() {
    let mut t = tabs(3, idle_timing(15 * MIN, MIN), Coordination::Locks);
    t.advance_to(T0 + 14 * MIN);
    for tab in 0..3 {
        assert_eq!(prompts(&t.events(tab)), vec![(T0 + 14 * MIN, T0 + 15 * MIN, MIN)]);
        assert_eq!(t.machine(tab).presence(), Presence::Prompted);
    }
    let pressed = T0 + 14 * MIN + 30 * SEC;
    t.advance_to(pressed);
    t.input(2, Input::Activate);
    for tab in 0..3 {
        let source = if tab == 2 { Source::ThisTab } else { Source::OtherTab };
        assert_eq!(actives(&t.events(tab)), vec![(pressed, source)], "tab {tab}");
        assert_eq!(t.machine(tab).presence(), Presence::Active);
        assert_eq!(t.machine(tab).idle_at(), Some(pressed + 15 * MIN));
    }
    assert_eq!(t.sent().last(), Some(&(pressed, 0, Reason::Manual)), "the leader sends");
    t.advance_to(pressed + 14 * MIN - 1);
    assert!((0..3).all(|tab| idles(&t.events(tab)).is_empty()));
}

#[test]
fn a_tab_opened_during_the_prompt_shows_it_and_goes_idle_with_the_others() {
    let mut t = tabs(2, idle_timing(15 * MIN, MIN), Coordination::Locks);
    let opened = T0 + 14 * MIN + 20 * SEC;
    t.advance_to(opened);
    // Opening a tab is ordinary activity, which a prompt ignores: the new tab joins the prompt.
    let late = t.open();
    assert_eq!(prompts(&t.events(late)), vec![(opened, T0 + 15 * MIN, 40 * SEC)]);
    assert_eq!(t.machine(late).presence(), Presence::Prompted);
    assert_eq!(t.machine(late).idle_at(), Some(T0 + 15 * MIN));
    t.advance_to(T0 + 16 * MIN);
    for tab in 0..3 {
        // The snapshot the leader sends the new tab reaches every tab; only the new one takes it,
        // so the tabs already prompted are not prompted twice.
        let prompted_at = if tab == late { opened } else { T0 + 14 * MIN };
        assert_eq!(prompts(&t.events(tab)).len(), 1, "tab {tab}");
        assert_eq!(prompts(&t.events(tab))[0].0, prompted_at, "tab {tab}");
        assert_eq!(idles(&t.events(tab)), vec![(T0 + 15 * MIN, T0 + 15 * MIN)], "tab {tab}");
    }
}

#[test]
fn a_tab_opened_while_the_user_is_idle_ends_idle_in_every_tab() {
    let mut t = tabs(3, idle_timing(15 * MIN, MIN), Coordination::Locks);
    let opened = T0 + 18 * MIN;
    t.advance_to(opened);
    assert!((0..3).all(|tab| t.machine(tab).presence() == Presence::Idle));
    // Opening a tab is activity, which ends idle: the new tab must not report idle from the
    // leader's snapshot, and the tabs that were idle must not fall back into it.
    let late = t.open();
    t.advance_to(opened + MIN);
    for tab in 0..4 {
        assert_eq!(t.machine(tab).presence(), Presence::Active, "tab {tab}");
        assert_eq!(t.machine(tab).idle_at(), Some(opened + 15 * MIN), "tab {tab}");
        let idle_count = if tab == late { 0 } else { 1 };
        assert_eq!(idles(&t.events(tab)).len(), idle_count, "tab {tab}");
    }
    assert_eq!(t.sent().last(), Some(&(opened, 0, Reason::Activity)), "the leader beats again");
    t.advance_to(opened + 14 * MIN);
    for tab in 0..4 {
        let prompted = prompts(&t.events(tab)).last().map(|p| p.0);
        assert_eq!(prompted, Some(opened + 14 * MIN), "tab {tab}");
    }
}

#[test]
fn an_idle_user_stops_the_heartbeats_of_every_tab_and_activity_anywhere_resumes_them() {
    let mut t = tabs(3, idle_timing(15 * MIN, MIN), Coordination::Locks);
    t.advance_to(T0 + 18 * MIN);
    for tab in 0..3 {
        assert_eq!(idles(&t.events(tab)), vec![(T0 + 15 * MIN, T0 + 15 * MIN)], "tab {tab}");
    }
    assert_eq!(t.sent().last().map(|s| s.0), Some(T0 + 10 * MIN));
    t.activity(1);
    assert_eq!(t.sent().last(), Some(&(T0 + 18 * MIN, 0, Reason::Activity)));
    for tab in 0..3 {
        let source = if tab == 1 { Source::ThisTab } else { Source::OtherTab };
        assert_eq!(actives(&t.events(tab)), vec![(T0 + 18 * MIN, source)], "tab {tab}");
    }
    // Idle again, and this time the session runs out in every tab.
    t.advance_to(T0 + 3 * HOUR);
    for tab in 0..3 {
        assert_eq!(t.machine(tab).state(), State::Expired, "tab {tab}");
        let expired = t.events(tab).iter().rev().find_map(|(at, e)| match e {
            Event::Expired { reason, .. } => Some((*at, *reason)),
            _ => None,
        });
        assert_eq!(expired, Some((T0 + 28 * MIN + 20 * MIN, ExpiryReason::TtlElapsed)));
    }
}

#[test]
fn twelve_tabs_opening_at_once_elect_exactly_one_leader() {
    let mut t = Tabs::new(Timing::default(), T0, Coordination::Election);
    t.set_channel_delay(15);
    for _ in 0..12 {
        t.open();
    }
    // A home-made election elected 5 leaders of 12 here; this one must elect exactly one, and
    // never more than one on the way.
    while t.now() < T0 + 10 * MIN + SEC {
        t.advance(50);
        assert!(t.leaders().len() <= 1, "at {}: {:?}", t.now() - T0, t.leaders());
    }
    assert_eq!(t.leaders().len(), 1);
    assert_eq!(t.sent().iter().filter(|s| s.2 == Reason::Start).count(), 1, "{:?}", t.sent());
    assert_eq!(t.sent().len(), 3);
}

#[test]
fn an_election_replaces_a_crashed_leader_within_the_leader_timeout_and_the_claim_window() {
    let mut t = tabs(4, Timing::default(), Coordination::Election);
    t.advance_to(T0 + 7 * MIN + 400);
    let [old] = t.leaders()[..] else { panic!("{:?}", t.leaders()) };
    let crashed = t.now();
    t.crash(old);
    while t.leaders().is_empty() {
        t.advance(10);
        assert!(t.now() - crashed <= LEADER_TIMEOUT_MS + CLAIM_MS, "no leader yet");
    }
    assert_eq!(t.leaders().len(), 1);
    t.advance_to(T0 + HOUR);
    assert!(longest_gap(&t, T0 + HOUR) <= INTERVAL, "{:?}", t.sent());
}

#[test]
fn an_election_leader_that_closes_hands_over_within_the_claim_window() {
    let mut t = tabs(4, Timing::default(), Coordination::Election);
    t.advance_to(T0 + 7 * MIN);
    let [old] = t.leaders()[..] else { panic!("{:?}", t.leaders()) };
    t.close(old);
    t.advance(CLAIM_MS);
    assert_eq!(t.leaders().len(), 1);
    assert_ne!(t.leaders(), vec![old]);
}

#[test]
fn a_channel_slower_than_the_claim_window_converges_within_a_beacon() {
    let delay = CLAIM_MS + 200;
    let mut t = Tabs::new(Timing::default(), T0, Coordination::Election);
    t.set_channel_delay(delay);
    for _ in 0..6 {
        t.open();
    }
    // Every tab claims, hears nobody within the claim window and leads; once their beacons can
    // reach each other, within one beacon period, the lowest id alone leads.
    t.advance_to(T0 + CLAIM_MS + delay + BEACON_MS);
    assert_eq!(t.leaders().len(), 1, "{:?}", t.leaders());
    let converged = t.now();
    let leader = t.leaders()[0];
    t.advance_to(T0 + HOUR);
    assert_eq!(t.leaders(), vec![leader]);
    assert!(t.sent().iter().all(|(at, tab, _)| *at < converged || *tab == leader));
    let after: Vec<_> = t.sent().iter().filter(|s| s.0 >= converged).collect();
    assert_eq!(after.len(), 11, "one stream once converged: {after:?}");
}

#[test]
fn with_the_idle_policy_opening_a_tab_counts_as_activity() {
    let mut t = tabs(1, idle_timing(15 * MIN, MIN), Coordination::Locks);
    t.advance_to(T0 + 10 * MIN);
    t.open();
    assert_eq!(t.machine(0).idle_at(), Some(T0 + 25 * MIN));
    assert_eq!(count(&t.events(0), |e| matches!(e, Event::Prompt { .. })), 0);
    assert_eq!(t.machine(1).role(), Role::Follower);
}
