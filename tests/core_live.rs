//! The live channel's rules: open while this tab sends the heartbeats, closed otherwise,
//! reconnected with a jittered doubling backoff, and what its pushes do to the session.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{MIN, SEC, T0, sends};
use keeper_core::event::{Event, ExpiryReason, Source, State};
use keeper_core::live::{Push, RECONNECT_MAX_MS, RECONNECT_MIN_MS};
use keeper_core::machine::LEAD_SETTLE_MS;
use keeper_core::machine::{Command, Input, Machine};
use keeper_core::options::Timing;
use keeper_core::reply::{Reply, ReplyBody};
use keeper_core::sim::{Coordination, Tabs, ok};
use keeper_core::tabs::Fact;

fn live() -> Machine {
    Machine::new(Timing::default(), 7).with_live_channel()
}

/// Feeds `input` at `now`, answers every heartbeat it sends at once with 200, and returns every
/// command.
fn feed(m: &mut Machine, now: u64, input: Input) -> Vec<Command> {
    let mut out = m.handle(now, input);
    let mut at = 0;
    while at < out.len() {
        if let Command::Send { request, .. } = out[at] {
            out.extend(m.handle(now, Input::Reply { request, reply: ok(1_200.0) }));
        }
        at += 1;
    }
    out
}

fn connects(commands: &[Command]) -> usize {
    commands.iter().filter(|c| **c == Command::Connect).count()
}

fn disconnects(commands: &[Command]) -> usize {
    commands.iter().filter(|c| **c == Command::Disconnect).count()
}

/// Ticks at every wake until the machine asks to connect; returns when it did.
fn tick_until_connect(m: &mut Machine) -> u64 {
    loop {
        let wake = m.next_wake().expect("a reconnect is pending");
        if connects(&feed(m, wake, Input::Tick)) > 0 {
            return wake;
        }
    }
}

#[test]
fn a_running_keeper_opens_the_live_channel_and_closes_it_when_stopped() {
    let mut m = live();
    assert_eq!(connects(&feed(&mut m, T0 - SEC, Input::Tick)), 0, "not before start");
    assert_eq!(connects(&feed(&mut m, T0, Input::Start)), 1);
    let mut later = feed(&mut m, T0 + 100, Input::LinkUp);
    later.extend(feed(&mut m, T0 + 5 * MIN, Input::Tick));
    later.extend(feed(&mut m, T0 + 6 * MIN, Input::Manual));
    assert_eq!((connects(&later), disconnects(&later)), (0, 0), "{later:?}");
    assert_eq!(disconnects(&feed(&mut m, T0 + 7 * MIN, Input::Stop)), 1);
    assert_eq!(
        connects(&feed(&mut m, T0 + 8 * MIN, Input::Start)),
        1,
        "a new start opens it again"
    );
    let mut plain = Machine::new(Timing::default(), 7);
    assert_eq!(connects(&feed(&mut plain, T0, Input::Start)), 0, "no live channel, no socket");
}

#[test]
fn a_follower_never_opens_the_live_channel_and_a_leader_does() {
    let mut m = Machine::new(Timing::default(), 7).coordinated().with_live_channel();
    let mut following = feed(&mut m, T0, Input::Start);
    for minute in 1..30 {
        let now = T0 + minute * MIN;
        following.extend(feed(&mut m, now, Input::Activity));
        following.extend(feed(&mut m, now, Input::Manual));
        following.extend(feed(&mut m, now, Input::LinkDown));
        following.extend(feed(
            &mut m,
            now,
            Input::Peer(Fact::Extended { expires_at: now + 20 * MIN }),
        ));
        following.extend(feed(&mut m, now + SEC, Input::Tick));
    }
    assert_eq!(connects(&following), 0);
    assert_eq!(m.state(), State::Running);
    assert_eq!(connects(&feed(&mut m, T0 + 30 * MIN, Input::Lead)), 0, "not at once");
    assert_eq!(tick_until_connect(&mut m), T0 + 30 * MIN + LEAD_SETTLE_MS);
    assert_eq!(disconnects(&feed(&mut m, T0 + 31 * MIN, Input::Follow)), 1);
    feed(&mut m, T0 + 32 * MIN, Input::Lead);
    assert_eq!(tick_until_connect(&mut m), T0 + 32 * MIN + LEAD_SETTLE_MS);
}

#[test]
fn a_new_leader_that_hears_the_session_s_end_while_settling_never_connects() {
    // The old leader heard the server end the session, told the other tabs and let the lock go;
    // the lock reached this tab before the message did.
    let mut m = Machine::new(Timing::default(), 7).coordinated().with_live_channel();
    feed(&mut m, T0, Input::Start);
    feed(&mut m, T0 + MIN, Input::Peer(Fact::Extended { expires_at: T0 + 21 * MIN }));
    let mut after = feed(&mut m, T0 + 2 * MIN, Input::Lead);
    after.extend(feed(&mut m, T0 + 2 * MIN + 5, Input::Peer(Fact::Expired(ExpiryReason::Revoked))));
    while let Some(wake) = m.next_wake().filter(|&at| at < T0 + 30 * MIN) {
        after.extend(feed(&mut m, wake, Input::Tick));
    }
    assert_eq!(m.state(), State::Expired);
    assert_eq!(connects(&after), 0, "{after:?}");
}

#[test]
fn the_session_s_end_closes_the_live_channel() {
    // The server no longer knows the session.
    let mut m = live();
    let started = m.handle(T0, Input::Start);
    let [(request, _)] = sends(&started)[..] else { panic!("{started:?}") };
    let gone = m.handle(T0 + 50, Input::Reply { request, reply: Reply::status(404) });
    assert_eq!(disconnects(&gone), 1, "{gone:?}");
    // The session ran out while the device slept.
    let mut m = live();
    feed(&mut m, T0, Input::Start);
    feed(&mut m, T0 + 1, Input::LinkUp);
    let woke = feed(&mut m, T0 + 60 * MIN, Input::Tick);
    assert_eq!(m.state(), State::Expired);
    assert_eq!(disconnects(&woke), 1);
    assert_eq!(connects(&feed(&mut m, T0 + 61 * MIN, Input::Tick)), 0);
}

#[test]
fn a_lost_link_reconnects_after_a_jittered_doubling_delay_capped_at_the_maximum() {
    let mut m = live();
    feed(&mut m, T0, Input::Start);
    let mut delays = Vec::new();
    let mut now = T0 + 10;
    for _ in 0..10 {
        feed(&mut m, now, Input::LinkDown);
        let reconnected = tick_until_connect(&mut m);
        delays.push(reconnected - now);
        now = reconnected + 20;
    }
    for (failures, delay) in delays.iter().enumerate() {
        let ceiling = (RECONNECT_MIN_MS << failures).min(RECONNECT_MAX_MS);
        assert!(
            (ceiling / 2..=ceiling).contains(delay),
            "failure {}: {delay} ms outside [{}, {ceiling}]",
            failures + 1,
            ceiling / 2
        );
    }
    let capped: std::collections::HashSet<_> = delays[5..].iter().collect();
    assert!(capped.len() > 1, "jitter spreads the capped reconnects: {delays:?}");
    // A link that opened starts the backoff over.
    feed(&mut m, now, Input::LinkUp);
    feed(&mut m, now + MIN, Input::LinkDown);
    let delay = tick_until_connect(&mut m) - (now + MIN);
    assert!((RECONNECT_MIN_MS / 2..=RECONNECT_MIN_MS).contains(&delay), "{delay}");
}

#[test]
fn a_push_that_the_session_was_deleted_expires_it_as_revoked() {
    let mut m = live();
    // A request is on its way when the push comes: it is aborted.
    let started = m.handle(T0, Input::Start);
    let [(request, _)] = sends(&started)[..] else { panic!("{started:?}") };
    let ended = Push::read("ended", Some("deleted"), ReplyBody::default()).unwrap();
    let out = m.handle(T0 + 5, Input::Push(ended));
    assert!(out.contains(&Command::Abort { request }));
    assert!(out.contains(&Command::Emit(Event::Expired {
        reason: ExpiryReason::Revoked,
        source: Source::ThisTab
    })));
    assert_eq!(disconnects(&out), 1);
    assert_eq!(m.state(), State::Expired);
    assert_eq!(m.next_wake(), None);
    let expired = Push::read("ended", Some("expired"), ReplyBody::default());
    assert_eq!(expired, Some(Push::Ended(ExpiryReason::TtlElapsed)));
    assert_eq!(
        Push::read("renamed", None, ReplyBody::default()),
        None,
        "unknown kinds are ignored"
    );
}

#[test]
fn a_pushed_extension_moves_the_expiry_and_a_leader_tells_the_other_tabs() {
    let extended = || {
        let fields = ReplyBody { ttl_seconds: Some(1_800.0), ..ReplyBody::default() };
        Input::Push(Push::Extended(fields))
    };
    let mut m = live();
    feed(&mut m, T0, Input::Start);
    let out = feed(&mut m, T0 + 2 * MIN, extended());
    assert_eq!(m.expires_at(), Some(T0 + 32 * MIN));
    assert!(!out.iter().any(|c| matches!(c, Command::Tell(_))), "a tab alone tells nobody");
    assert_eq!(m.next_wake(), Some(T0 + 5 * MIN), "the schedule is unchanged");

    let mut t = Tabs::new(Timing::default(), T0, Coordination::Locks);
    for _ in 0..3 {
        t.open();
    }
    t.advance_to(T0 + 2 * MIN);
    t.input(0, extended());
    for tab in 0..3 {
        assert_eq!(t.machine(tab).expires_at(), Some(T0 + 32 * MIN), "tab {tab}");
    }
    let mut leader = t.machine(0).clone();
    let told = leader.handle(T0 + 3 * MIN, extended());
    assert!(told.contains(&Command::Tell(Fact::Extended { expires_at: T0 + 33 * MIN })));
}
