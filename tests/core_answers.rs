//! Answers as real servers give them: a redirect to a login page, a 2xx that is a proxy's HTML,
//! and the empty 2xx that is a plain success.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{MIN, SEC, T0, count, errors, heartbeats, ttl_elapsed};
use keeper_core::event::{Event, ExpiryReason, Reason, Source, State};
use keeper_core::machine::Input;
use keeper_core::options::Timing;
use keeper_core::reply::{Body, Reply};
use keeper_core::sim::{Simulation, ok};

fn html(status: u16, redirected_to: Option<&str>) -> Reply {
    Reply::Http {
        status,
        retry_after: None,
        content_type: Some("text/html; charset=utf-8".into()),
        redirected_to: redirected_to.map(String::from),
        body: Body::Other,
    }
}

/// A server that answers 200 until `from`, and `then` after.
fn from(at: u64, then: Reply) -> impl FnMut(u64) -> Option<Reply> {
    move |now| Some(if now < at { ok(1_200.0) } else { then.clone() })
}

#[test]
fn a_redirect_to_a_login_page_is_an_unexpected_response_and_ends_the_session() {
    for (landed, shown) in [
        (html(200, Some("https://app.test/login?next=%2F")), "https://app.test/login?next=%2F"),
        // An opaque redirect: the browser hides where it went.
        (
            Reply::Http {
                status: 0,
                retry_after: None,
                content_type: None,
                redirected_to: Some(String::new()),
                body: Body::Empty,
            },
            "another address",
        ),
    ] {
        let mut s = Simulation::new(Timing::default(), T0);
        s.set_server(from(T0 + 10 * MIN, landed));
        s.start();
        s.advance_to(T0 + 2 * 60 * MIN);
        s.activity();
        s.input(Input::Manual);
        s.input(Input::Visible);
        s.input(Input::Online);
        assert_eq!(s.sent().last().map(|s| s.0), Some(T0 + 10 * MIN), "nothing more is sent");
        let events: Vec<Event> = s.events().into_iter().map(|(_, e)| e).collect();
        let [.., Event::Error(failure), change, expired] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(failure.code, "ERR_UNEXPECTED_RESPONSE");
        assert!(failure.message.contains(shown), "{}", failure.message);
        assert_eq!(*change, Event::StateChange { from: State::Running, to: State::Expired });
        assert_eq!(
            *expired,
            Event::Expired { reason: ExpiryReason::Unauthorized, source: Source::ThisTab }
        );
        assert_eq!(s.machine.next_wake(), None);
    }
}

#[test]
fn a_2xx_with_an_html_body_is_an_error_with_backoff_and_a_warning_never_a_heartbeat() {
    let mut s = Simulation::new(Timing::default(), T0);
    let broke = T0 + 5 * MIN;
    s.set_server(from(broke, html(200, None)));
    s.start();
    s.advance_to(broke + 2 * MIN - 1);
    assert_eq!(count(&s.events(), |e| matches!(e, Event::Warning { .. })), 0);
    s.advance_to(broke + 2 * MIN);
    let warned = count(&s.events(), |e| matches!(e, Event::Warning { .. }));
    assert_eq!(warned, 1, "warned after failureWarningMs");
    let errs = errors(&s.events());
    assert!(errs.len() >= 5, "retried with backoff: {}", errs.len());
    assert!(errs.iter().all(|(_, f)| f.code == "ERR_UNEXPECTED_RESPONSE" && f.status == 200));
    assert_eq!(
        errs[0].1.message,
        "the server answered 200 with text/html; charset=utf-8 instead of JSON"
    );
    let gaps: Vec<u64> = s.sent().windows(2).skip(1).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[0] <= 2 * SEC && gaps[3] >= 8 * SEC, "the retries back off: {gaps:?}");
    assert_eq!(s.machine.state(), State::Failing);
    // Never a heartbeat: the session is not extended, and ends when the last real one runs out.
    s.advance_to(T0 + 60 * MIN);
    assert_eq!(heartbeats(&s.events()).len(), 1, "only the start heartbeat succeeded");
    assert_eq!(s.events().last(), Some(&(T0 + 20 * MIN, ttl_elapsed())));
}

#[test]
fn an_empty_2xx_stays_a_success() {
    for status in [200, 204] {
        let mut s = Simulation::new(Timing::default(), T0);
        s.set_latency(80);
        s.set_server(move |_| Some(Reply::status(status)));
        s.start();
        s.advance_to(T0 + 30 * MIN + SEC);
        assert!(errors(&s.events()).is_empty(), "{status}");
        let beats = heartbeats(&s.events());
        assert_eq!(beats.len(), 7, "{status}");
        let (at, last) = beats.last().cloned().unwrap();
        assert_eq!((last.status, last.reason), (status, Reason::Timer));
        assert_eq!(last.expires_at, at + 20 * MIN, "{status}: ttlMs after the answer");
        assert_eq!(s.machine.state(), State::Running);
    }
}
