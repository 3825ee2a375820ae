//! `SessionKeeper` in a real headless Chromium against the real reference server.
//!
//! Run by `scripts/test.sh`, which starts `keeper-server --demo` and passes its address in
//! `KEEPER_TEST_SERVER` at compile time. The server's demo endpoints let each test check what the
//! server really received (path, Content-Type, status) and take the server away for real.
//!
//! Tests wait on events, never on a fixed sleep: a positive check waits (with a deadline) for the
//! callback or the server record it expects; a negative one ("nothing was sent") counts the
//! page's `fetch` calls around a synchronous action, or waits for a control keeper on another
//! session to beat as often as the one under test would have.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_net::http::RequestBuilder;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Array, Function, JSON, Object, Reflect};
use keeper_web::SessionKeeper;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = "
export function watch_fetch() {
  if (window.__keeperFetches === undefined) {
    window.__keeperFetches = 0;
    const fetch = window.fetch;
    window.fetch = function (...args) { window.__keeperFetches += 1; return fetch.apply(this, args); };
  }
}
export function fetches() { return window.__keeperFetches; }
")]
extern "C" {
    /// Counts the page's `fetch` calls from now on (once per page).
    fn watch_fetch();
    /// The `fetch` calls counted so far.
    fn fetches() -> u32;
}

/// How many `fetch` calls `action` makes at once (the keeper calls `fetch` synchronously when it
/// sends, so nothing is missed).
fn fetches_made_by(action: impl FnOnce()) -> u32 {
    watch_fetch();
    let before = fetches();
    action();
    fetches() - before
}

const SERVER: &str = match option_env!("KEEPER_TEST_SERVER") {
    Some(server) => server,
    None => "http://127.0.0.1:8787",
};
const TEMPLATE: &str = "/api/v1/session/{sessionId}/heartbeat";

// ---- talking to the server directly, as a test harness ----------------------------------------

async fn fetch(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> (u16, JsValue) {
    let url = format!("{SERVER}{path}");
    let mut request = RequestBuilder::new(&url).method(method.parse().unwrap());
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = match body {
        Some(body) => request.body(body).unwrap().send().await,
        None => request.send().await,
    }
    .expect("the reference server is reachable");
    let text = response.text().await.unwrap();
    let json = if text.is_empty() { JsValue::NULL } else { JSON::parse(&text).unwrap() };
    (response.status(), json)
}

fn get(value: &JsValue, path: &str) -> JsValue {
    path.split('.')
        .fold(value.clone(), |v, key| Reflect::get(&v, &key.into()).unwrap_or(JsValue::UNDEFINED))
}

fn text(value: &JsValue, path: &str) -> String {
    get(value, path).as_string().unwrap_or_default()
}

async fn create_session() -> String {
    let (status, json) =
        fetch("POST", "/api/v1/session", Some("application/json"), Some("{}")).await;
    assert_eq!(status, 201, "create session: {json:?}");
    text(&json, "session_id")
}

async fn session_expiry(id: &str) -> String {
    let (status, json) = fetch("GET", &format!("/api/v1/session/{id}"), None, None).await;
    assert_eq!(status, 200);
    text(&json, "expires_at")
}

/// Every request the server received for `id`, oldest first: (method, path, content type, status).
async fn requests_for(id: &str) -> Vec<(String, String, String, u16)> {
    let (status, json) =
        fetch("GET", &format!("/api/v1/demo/requests?session_id={id}"), None, None).await;
    assert_eq!(status, 200, "the test server runs with --demo");
    let list: Array = get(&json, "requests").into();
    let mut seen: Vec<_> = list
        .iter()
        .map(|r| {
            let status = get(&r, "status").as_f64().unwrap_or(0.0) as u16;
            (text(&r, "method"), text(&r, "path"), text(&r, "content_type"), status)
        })
        .collect();
    seen.reverse();
    seen
}

/// The heartbeat POSTs the server received for `id` (not the CORS preflights before them).
async fn heartbeat_requests(id: &str) -> Vec<(String, String, String, u16)> {
    requests_for(id)
        .await
        .into_iter()
        .filter(|r| r.0 == "POST" && r.1.ends_with("/heartbeat"))
        .collect()
}

async fn heartbeats_received(id: &str) -> usize {
    heartbeat_requests(id).await.len()
}

/// One poll of a wait for an event; every wait has a deadline.
async fn tick() {
    TimeoutFuture::new(20).await;
}

fn dispatch_activity(count: usize) {
    let document = web_sys::window().unwrap().document().unwrap();
    for i in 0..count {
        let kind = if i % 2 == 0 { "mousemove" } else { "keydown" };
        document.dispatch_event(&web_sys::Event::new(kind).unwrap()).unwrap();
    }
}

// ---- a keeper with recorded callbacks ----------------------------------------------------------

/// Every callback the keeper made, as (callback name, payload).
#[derive(Clone, Default)]
struct Recorded(Rc<RefCell<Vec<(&'static str, JsValue)>>>);

impl Recorded {
    fn named(&self, name: &str) -> Vec<JsValue> {
        self.0.borrow().iter().filter(|(n, _)| *n == name).map(|(_, v)| v.clone()).collect()
    }

    /// Waits for a `name` callback whose payload satisfies `pick`, and returns it.
    async fn wait_for_one(
        &self,
        name: &str,
        pick: impl Fn(&JsValue) -> bool,
        within_ms: u32,
    ) -> JsValue {
        for _ in 0..within_ms / 20 {
            if let Some(found) = self.named(name).into_iter().find(|e| pick(e)) {
                return found;
            }
            tick().await;
        }
        panic!("waited {within_ms} ms for a matching {name}: {:?}", self.0.borrow());
    }

    async fn wait_for(&self, name: &str, count: usize, within_ms: u32) -> Vec<JsValue> {
        for _ in 0..within_ms / 20 {
            if self.named(name).len() >= count {
                break;
            }
            tick().await;
        }
        let events = self.named(name);
        assert!(
            events.len() >= count,
            "waited {within_ms} ms for {count} {name}, got {}: {:?}",
            events.len(),
            self.0.borrow()
        );
        events
    }
}

/// The event payloads exactly as the `.d.ts` declares them: read with serde-wasm-bindgen, which
/// refuses a missing field, a field of another type, and (with `deny_unknown_fields`) an extra one.
mod payloads {
    #![allow(dead_code)] // the fields are read by serde, to check the shapes

    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Heartbeat {
        ok: bool,
        reason: String,
        status: u16,
        sent_at: f64,
        expires_at: f64,
        latency_ms: f64,
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Failure {
        ok: bool,
        reason: String,
        status: u16,
        code: String,
        message: String,
        sent_at: f64,
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Warning {
        since: f64,
        failures: u32,
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Recovered {
        failures: u32,
        downtime_ms: f64,
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Expired {
        reason: String,
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct StateChange {
        from: String,
        to: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Prompt {
        idle_at: f64,
        remaining_ms: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Idle {
        idle_at: f64,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Active {
        source: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct LeaderChange {
        is_leader: bool,
    }
}

impl Recorded {
    /// Every payload recorded so far has exactly its declared shape.
    fn assert_shapes(&self) {
        use serde_wasm_bindgen::from_value as read;
        for (name, payload) in self.0.borrow().iter() {
            let value = payload.clone();
            let checked = match *name {
                "onHeartbeat" => read::<payloads::Heartbeat>(value).map(drop),
                "onError" => read::<payloads::Failure>(value).map(drop),
                "onWarning" => read::<payloads::Warning>(value).map(drop),
                "onRecovered" => read::<payloads::Recovered>(value).map(drop),
                "onExpired" => read::<payloads::Expired>(value).map(drop),
                "onStateChange" => read::<payloads::StateChange>(value).map(drop),
                "onPrompt" => read::<payloads::Prompt>(value).map(drop),
                "onIdle" => read::<payloads::Idle>(value).map(drop),
                "onActive" => read::<payloads::Active>(value).map(drop),
                "onLeaderChange" => read::<payloads::LeaderChange>(value).map(drop),
                other => panic!("no shape for {other}"),
            };
            if let Err(error) = checked {
                panic!("{name} payload {payload:?} is not as declared: {error}");
            }
        }
    }
}

/// Options from `(name, value)` pairs plus every callback wired to `recorded`.
fn options(pairs: &[(&str, JsValue)], recorded: &Recorded) -> JsValue {
    let options = Object::new();
    for (key, value) in pairs {
        Reflect::set(&options, &(*key).into(), value).unwrap();
    }
    for name in [
        "onHeartbeat",
        "onError",
        "onWarning",
        "onRecovered",
        "onExpired",
        "onStateChange",
        "onPrompt",
        "onIdle",
        "onActive",
        "onLeaderChange",
    ] {
        let log = recorded.0.clone();
        let callback =
            Closure::<dyn Fn(JsValue)>::new(move |payload| log.borrow_mut().push((name, payload)));
        let function: Function = callback.into_js_value().unchecked_into();
        Reflect::set(&options, &name.into(), &function).unwrap();
    }
    options.into()
}

fn keeper_for(id: &str, extra: &[(&str, JsValue)], recorded: &Recorded) -> SessionKeeper {
    let mut pairs = vec![("url", format!("{SERVER}{TEMPLATE}").into()), ("sessionId", id.into())];
    pairs.extend(extra.iter().cloned());
    SessionKeeper::new(options(&pairs, recorded)).unwrap_or_else(|e| panic!("valid options: {e:?}"))
}

fn ms(value: f64) -> JsValue {
    value.into()
}

/// A keeper on a session of its own that beats every `interval_ms`: waiting for it to beat `n`
/// times is waiting as long as a keeper with the same timings would have taken to beat `n` times.
struct Control {
    recorded: Recorded,
    _keeper: SessionKeeper,
}

impl Control {
    async fn start(interval_ms: f64) -> Control {
        let id = create_session().await;
        let recorded = Recorded::default();
        let keeper = keeper_for(
            &id,
            &[("intervalMs", ms(interval_ms)), ("activityThrottleMs", ms(interval_ms / 4.0))],
            &recorded,
        );
        keeper.start();
        Control { recorded, _keeper: keeper }
    }

    async fn beats(&self, count: usize) {
        self.recorded.wait_for("onHeartbeat", count, 10_000).await;
    }
}

// ---- the tests ---------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_heartbeat_reaches_the_server_as_json_gets_200_and_moves_the_expiry() {
    let id = create_session().await;
    let before = session_expiry(&id).await;
    let recorded = Recorded::default();
    let keeper = keeper_for(&id, &[("beatOnStart", false.into())], &recorded);
    keeper.start();
    let result = JsFuture::from(keeper.beat()).await.expect("beat resolves");
    assert_eq!(get(&result, "ok"), JsValue::TRUE);
    assert_eq!(get(&result, "status").as_f64(), Some(200.0));
    assert_eq!(text(&result, "reason"), "manual");
    let sent_at = get(&result, "sentAt").as_f64().unwrap();
    assert!((js_sys::Date::now() - sent_at).abs() < 5_000.0, "sentAt {sent_at} is now-ish");
    let after = session_expiry(&id).await;
    assert!(after >= before, "expiry moved: {before} -> {after}");
    let expires_at = keeper.expires_at().as_f64().expect("known after a success");
    assert!((expires_at - js_sys::Date::parse(&after)).abs() < 2_000.0, "{expires_at} vs {after}");
    let beats = heartbeat_requests(&id).await;
    assert_eq!(beats.len(), 1, "{beats:?}");
    let (_, _, content_type, status) = beats[0].clone();
    assert_eq!((content_type.as_str(), status), ("application/json", 200));
    assert_eq!(recorded.named("onHeartbeat").len(), 1);
    keeper.stop();
}

#[wasm_bindgen_test]
async fn a_plain_post_without_a_json_content_type_gets_415_err_invalid_content_type() {
    // Seed 004's bug, reproduced the way its frontend sent it: a string body, no header.
    let id = create_session().await;
    let (status, json) =
        fetch("POST", &format!("/api/v1/session/{id}/heartbeat"), None, Some("{}")).await;
    assert_eq!(status, 415);
    assert_eq!(text(&json, "error.code"), "ERR_INVALID_CONTENT_TYPE");
    assert_eq!(
        text(&json, "error.message"),
        "Content-Type must be application/json for API endpoints"
    );
    let seen = requests_for(&id).await;
    assert!(seen.last().unwrap().2.starts_with("text/plain"), "{seen:?}");
}

#[wasm_bindgen_test]
async fn the_path_the_server_saw_is_the_configured_template() {
    // Seed 001's bug: heartbeats went to a path the server does not have.
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(&id, &[], &recorded);
    keeper.start();
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    keeper.stop();
    let paths: Vec<String> = heartbeat_requests(&id).await.into_iter().map(|r| r.1).collect();
    assert_eq!(paths, vec![TEMPLATE.replace("{sessionId}", &id)]);
    assert_eq!(text(&recorded.named("onHeartbeat")[0], "reason"), "start");
}

#[wasm_bindgen_test]
async fn many_activity_events_in_one_throttle_window_give_exactly_one_heartbeat() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(
        &id,
        &[
            ("beatOnStart", false.into()),
            ("activityThrottleMs", ms(5_000.0)),
            ("intervalMs", ms(10_000.0)),
        ],
        &recorded,
    );
    keeper.start();
    // The keeper leads once its Web Lock is granted: the first activity after that sends.
    recorded.wait_for("onLeaderChange", 1, 3_000).await;
    let sent = fetches_made_by(|| dispatch_activity(10_000));
    assert_eq!(sent, 1, "ten thousand events in one throttle window, one request");
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    assert_eq!(fetches_made_by(|| dispatch_activity(10_000)), 0, "the window is still open");
    keeper.stop();
    assert_eq!(heartbeats_received(&id).await, 1);
    let beats = recorded.named("onHeartbeat");
    assert_eq!(beats.len(), 1);
    assert_eq!(text(&beats[0], "reason"), "activity");
}

#[wasm_bindgen_test]
async fn a_session_deleted_on_the_server_gives_expired_not_found_and_no_later_request() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper =
        keeper_for(&id, &[("intervalMs", ms(300.0)), ("activityThrottleMs", ms(100.0))], &recorded);
    keeper.start();
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    let (status, _) = fetch("DELETE", &format!("/api/v1/session/{id}"), None, None).await;
    assert_eq!(status, 204);
    let expired = recorded.wait_for("onExpired", 1, 3_000).await;
    assert_eq!(text(&expired[0], "reason"), "not_found");
    assert_eq!(keeper.state(), "expired");
    let error = recorded.named("onError").pop().expect("the 404 was an error event too");
    assert_eq!(get(&error, "status").as_f64(), Some(404.0));
    assert_eq!(text(&error, "code"), "ERR_SESSION_NOT_FOUND");
    assert_eq!(
        fetches_made_by(|| dispatch_activity(100)),
        0,
        "activity sends nothing after expiry"
    );
    let count = requests_for(&id).await.len();
    Control::start(300.0).await.beats(3).await;
    assert_eq!(requests_for(&id).await.len(), count, "no timer heartbeat after expiry");
}

#[wasm_bindgen_test]
async fn another_client_error_is_reported_with_the_server_code_and_the_schedule_goes_on() {
    // POST to the session resource itself: the server answers 405 ERR_METHOD_NOT_ALLOWED.
    let id = create_session().await;
    let recorded = Recorded::default();
    let options = options(
        &[
            ("url", format!("{SERVER}/api/v1/session/{{sessionId}}").into()),
            ("sessionId", id.clone().into()),
            ("intervalMs", ms(300.0)),
            ("activityThrottleMs", ms(100.0)),
        ],
        &recorded,
    );
    let keeper = SessionKeeper::new(options).unwrap();
    keeper.start();
    let errors = recorded.wait_for("onError", 2, 3_000).await;
    keeper.stop();
    assert_eq!(get(&errors[0], "status").as_f64(), Some(405.0));
    assert_eq!(text(&errors[0], "code"), "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(text(&errors[1], "reason"), "timer", "no quick retry: the next one is the timer's");
    assert!(recorded.named("onExpired").is_empty());
}

#[wasm_bindgen_test]
async fn an_unreachable_server_gives_errors_one_warning_then_recovered() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(
        &id,
        &[
            ("intervalMs", ms(400.0)),
            ("activityThrottleMs", ms(100.0)),
            ("failureWarningMs", ms(800.0)),
            ("retryMinMs", ms(150.0)),
            ("retryMaxMs", ms(300.0)),
            ("timeoutMs", ms(500.0)),
        ],
        &recorded,
    );
    keeper.start();
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    // The server closes its socket for 2.5 s: connections are refused, for real.
    let (status, _) =
        fetch("POST", "/api/v1/demo/outage", Some("application/json"), Some(r#"{"ms":2500}"#))
            .await;
    assert_eq!(status, 202);
    recorded.wait_for("onWarning", 1, 3_000).await;
    assert_eq!(keeper.state(), "failing");
    let recovered = recorded.wait_for("onRecovered", 1, 6_000).await;
    keeper.stop();
    let errors = recorded.named("onError");
    assert!(errors.len() >= 2, "{} errors", errors.len());
    assert!(errors.iter().all(|e| get(e, "status").as_f64() == Some(0.0)), "no answer while down");
    assert_eq!(recorded.named("onWarning").len(), 1, "one warning per episode");
    assert!(get(&recorded.named("onWarning")[0], "failures").as_f64().unwrap() >= 2.0);
    assert!(get(&recovered[0], "downtimeMs").as_f64().unwrap() >= 800.0);
    recorded.assert_shapes();
    let last_beat = recorded.named("onHeartbeat").pop().unwrap();
    assert_eq!(text(&last_beat, "reason"), "retry");
}

#[wasm_bindgen_test]
async fn after_free_activity_and_timers_send_nothing() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper =
        keeper_for(&id, &[("intervalMs", ms(200.0)), ("activityThrottleMs", ms(50.0))], &recorded);
    keeper.start();
    recorded.wait_for("onHeartbeat", 2, 3_000).await;
    drop(keeper); // what `free()` does from JavaScript
    assert_eq!(fetches_made_by(|| dispatch_activity(50)), 0, "no listener is left");
    let count = heartbeats_received(&id).await;
    Control::start(200.0).await.beats(4).await;
    assert_eq!(heartbeats_received(&id).await, count, "no timer is left");
}

#[wasm_bindgen_test]
async fn stop_sends_nothing_more_and_start_after_stop_works() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper =
        keeper_for(&id, &[("intervalMs", ms(200.0)), ("activityThrottleMs", ms(50.0))], &recorded);
    keeper.start();
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    keeper.stop();
    assert_eq!(keeper.state(), "stopped");
    assert_eq!(fetches_made_by(|| dispatch_activity(10)), 0);
    let count = heartbeats_received(&id).await;
    Control::start(200.0).await.beats(3).await;
    assert_eq!(heartbeats_received(&id).await, count);
    let rejected = JsFuture::from(keeper.beat()).await.expect_err("beat() rejects when stopped");
    assert!(text(&rejected, "message").contains("stopped"), "{rejected:?}");
    keeper.start();
    assert_eq!(keeper.state(), "running");
    let beats = recorded.wait_for("onHeartbeat", 2, 3_000).await;
    assert_eq!(text(&beats[1], "reason"), "start");
    keeper.stop();
    let changes: Vec<String> =
        recorded.named("onStateChange").iter().map(|c| text(c, "to")).collect();
    assert_eq!(changes, ["running", "stopped", "running", "stopped"]);
}

#[wasm_bindgen_test]
fn bad_options_throw_errors_that_name_the_option() {
    let recorded = Recorded::default();
    let url = || ("url", JsValue::from("/api/v1/session/{sessionId}/heartbeat"));
    let id = || ("sessionId", JsValue::from("abc"));
    let cases: Vec<(Vec<(&str, JsValue)>, &str)> = vec![
        (vec![], "url is required"),
        (vec![url()], "sessionId is required when url contains {sessionId}"),
        (
            vec![url(), id(), ("intervalMs", ms(-5.0))],
            "intervalMs must be a positive number of milliseconds, got -5",
        ),
        (
            vec![url(), id(), ("ttlMs", "20 min".into())],
            "ttlMs must be a positive number of milliseconds, got \"20 min\"",
        ),
        (
            vec![url(), id(), ("timeoutMs", ms(f64::NAN))],
            "timeoutMs must be a positive number of milliseconds, got NaN",
        ),
        (
            vec![url(), id(), ("activityThrottleMs", ms(600_000.0))],
            "activityThrottleMs (600000) must not be longer than intervalMs (300000)",
        ),
        (vec![url(), id(), ("body", Array::of1(&1.into()).into())], "body must be a JSON object"),
        (
            vec![url(), id(), ("intervalMS", ms(1.0))],
            "options have an unknown option `intervalMS`; known: url, sessionId",
        ),
        (vec![url(), id(), ("credentials", "always".into())], "credentials must be"),
    ];
    for (pairs, message) in cases {
        let Err(error) = SessionKeeper::new(options(&pairs, &recorded)) else {
            panic!("accepted, expected: {message}")
        };
        let error: JsValue = error.into();
        let text = text(&error, "message");
        assert!(text.starts_with("Invalid SessionKeeper options: "), "{text}");
        assert!(text.contains(message), "{text:?} should contain {message:?}");
    }
    let error: JsValue = SessionKeeper::new(JsValue::from("/api/heartbeat")).err().unwrap().into();
    assert!(text(&error, "message").contains("options must be an object"));
}

#[wasm_bindgen_test]
async fn beat_after_the_session_was_deleted_resolves_with_the_404_and_the_keeper_expires() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(&id, &[("beatOnStart", false.into())], &recorded);
    keeper.start();
    let (status, _) = fetch("DELETE", &format!("/api/v1/session/{id}"), None, None).await;
    assert_eq!(status, 204);
    let result = JsFuture::from(keeper.beat()).await.expect("a failed heartbeat resolves");
    assert_eq!(get(&result, "ok"), JsValue::FALSE);
    assert_eq!(get(&result, "status").as_f64(), Some(404.0));
    assert_eq!(text(&result, "code"), "ERR_SESSION_NOT_FOUND");
    assert_eq!(keeper.state(), "expired");
    assert_eq!(text(&recorded.named("onExpired")[0], "reason"), "not_found");
}

#[wasm_bindgen_test]
async fn a_callback_may_stop_the_keeper_that_called_it() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let slot: Rc<RefCell<Option<SessionKeeper>>> = Rc::default();
    let stopper = slot.clone();
    let on_heartbeat = Closure::<dyn Fn(JsValue)>::new(move |_| {
        if let Some(keeper) = stopper.borrow().as_ref() {
            keeper.stop();
        }
    });
    let pairs = [
        ("url", JsValue::from(format!("{SERVER}{TEMPLATE}"))),
        ("sessionId", id.clone().into()),
        ("intervalMs", ms(200.0)),
        ("activityThrottleMs", ms(50.0)),
    ];
    let options = options(&pairs, &recorded);
    Reflect::set(&options, &"onHeartbeat".into(), &on_heartbeat.into_js_value()).unwrap();
    *slot.borrow_mut() = Some(SessionKeeper::new(options).unwrap());
    slot.borrow().as_ref().unwrap().start();
    recorded.wait_for("onStateChange", 2, 3_000).await;
    Control::start(200.0).await.beats(3).await;
    assert_eq!(slot.borrow().as_ref().unwrap().state(), "stopped");
    assert_eq!(heartbeats_received(&id).await, 1, "stopped from inside its first onHeartbeat");
}

#[wasm_bindgen_test]
async fn the_rust_api_keeps_a_session_alive_without_javascript() {
    use keeper_core::event::{Event, Reason};
    use keeper_core::options::Options;
    use keeper_web::Keeper;

    let id = create_session().await;
    let mut options = Options::new(format!("{SERVER}{TEMPLATE}"));
    options.session_id = Some(id.clone());
    options.timing.interval_ms = 150;
    options.timing.activity_throttle_ms = 50;
    let seen: Rc<RefCell<Vec<Event>>> = Rc::default();
    let log = seen.clone();
    let keeper = Keeper::new(options, move |event| log.borrow_mut().push(event.clone())).unwrap();
    keeper.start();
    for _ in 0..150 {
        let timers = seen
            .borrow()
            .iter()
            .filter(|e| matches!(e, Event::Heartbeat(h) if h.reason == Reason::Timer))
            .count();
        if timers >= 2 {
            break;
        }
        tick().await;
    }
    // A manual beat sends now, or joins a timer heartbeat already on its way.
    let result = keeper.beat().await.expect("the server answers 200");
    assert_eq!(result.status, 200);
    assert_eq!(
        seen.borrow().iter().rev().find(|e| matches!(e, Event::Heartbeat(_))),
        Some(&Event::Heartbeat(result))
    );
    drop(keeper);
    let beats: Vec<Reason> = seen
        .borrow()
        .iter()
        .filter_map(|e| match e {
            Event::Heartbeat(h) => Some(h.reason),
            _ => None,
        })
        .collect();
    assert_eq!(beats.first(), Some(&Reason::Start));
    assert!(beats.iter().filter(|r| **r == Reason::Timer).count() >= 2, "{beats:?}");
    assert_eq!(heartbeats_received(&id).await, beats.len());
}

#[wasm_bindgen_test]
async fn a_json_api_content_type_reaches_the_server_as_given() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let headers = Object::new();
    Reflect::set(&headers, &"Content-Type".into(), &"application/vnd.api+json".into()).unwrap();
    let keeper =
        keeper_for(&id, &[("beatOnStart", false.into()), ("headers", headers.into())], &recorded);
    keeper.start();
    let result = JsFuture::from(keeper.beat()).await.expect("beat resolves");
    assert_eq!(get(&result, "status").as_f64(), Some(200.0), "{result:?}");
    let beats = heartbeat_requests(&id).await;
    assert_eq!(beats.len(), 1, "{beats:?}");
    assert_eq!((beats[0].2.as_str(), beats[0].3), ("application/vnd.api+json", 200));
}

#[wasm_bindgen_test]
fn a_content_type_that_is_not_json_is_refused_at_construction() {
    let recorded = Recorded::default();
    let headers = Object::new();
    Reflect::set(&headers, &"content-type".into(), &"text/plain".into()).unwrap();
    let pairs = [("url", JsValue::from("/api/heartbeat")), ("headers", headers.into())];
    let error: JsValue = SessionKeeper::new(options(&pairs, &recorded)).err().unwrap().into();
    let message = text(&error, "message");
    assert!(
        message.contains("headers Content-Type must be a JSON media type")
            && message.contains("\"text/plain\""),
        "{message}"
    );
}

#[wasm_bindgen_test]
async fn the_idle_policy_prompts_then_goes_idle_and_heartbeats_stop_until_the_user_returns() {
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(
        &id,
        &[
            ("intervalMs", ms(300.0)),
            ("activityThrottleMs", ms(100.0)),
            ("idleTimeoutMs", ms(1_500.0)),
            ("promptBeforeIdleMs", ms(700.0)),
        ],
        &recorded,
    );
    keeper.start();
    let started = js_sys::Date::now();
    let prompt = recorded.wait_for("onPrompt", 1, 3_000).await.remove(0);
    let idle_at = get(&prompt, "idleAt").as_f64().unwrap();
    assert!((idle_at - started - 1_500.0).abs() < 250.0, "idle 1.5 s after start: {prompt:?}");
    assert!((get(&prompt, "remainingMs").as_f64().unwrap() - 700.0).abs() < 250.0, "{prompt:?}");
    assert_eq!(keeper.presence(), "prompted");
    // A mouse bumped by accident is not consent: the prompt stays, nothing is sent.
    assert_eq!(fetches_made_by(|| dispatch_activity(100)), 0);
    assert!(recorded.named("onActive").is_empty());
    keeper.activate();
    let active = recorded.wait_for("onActive", 1, 1_000).await;
    assert_eq!(text(&active[0], "source"), "this-tab");
    assert_eq!(keeper.presence(), "active");
    // activate() sends a heartbeat.
    recorded.wait_for_one("onHeartbeat", |h| text(h, "reason") == "manual", 2_000).await;
    let idle = recorded.wait_for("onIdle", 1, 4_000).await;
    assert_eq!(keeper.presence(), "idle");
    assert_eq!(recorded.named("onPrompt").len(), 2, "prompted again before idle");
    let idle_at = get(&idle[0], "idleAt").as_f64().unwrap();
    let count = heartbeats_received(&id).await;
    Control::start(300.0).await.beats(3).await;
    assert_eq!(heartbeats_received(&id).await, count, "no timer heartbeat while idle");
    assert!(js_sys::Date::now() > idle_at);
    // Back before the session expired: active again, and the schedule resumes at once.
    assert_eq!(fetches_made_by(|| dispatch_activity(1)), 1);
    assert_eq!(recorded.named("onActive").len(), 2);
    recorded.assert_shapes();
    assert_eq!(keeper.state(), "running");
    keeper.stop();
}

/// The server's `/metrics` text.
async fn metrics() -> String {
    let response = RequestBuilder::new(&format!("{SERVER}/metrics"))
        .send()
        .await
        .expect("the reference server is reachable");
    response.text().await.unwrap_or_default()
}

/// Waits until the server holds `count` live sockets.
async fn wait_for_live_sockets(count: usize) {
    let line = format!("keeper_live_sockets {count}");
    for _ in 0..150 {
        if metrics().await.lines().any(|l| l == line) {
            return;
        }
        tick().await;
    }
    panic!("the server never held {count} live sockets:\n{}", metrics().await);
}

#[wasm_bindgen_test]
async fn a_session_deleted_on_the_server_expires_as_revoked_within_a_second_over_the_live_channel()
{
    let id = create_session().await;
    let recorded = Recorded::default();
    let keeper = keeper_for(&id, &[("live", true.into()), ("intervalMs", ms(60_000.0))], &recorded);
    keeper.start();
    recorded.wait_for("onHeartbeat", 1, 3_000).await;
    wait_for_live_sockets(1).await;
    let before = keeper.expires_at().as_f64().expect("known after the start heartbeat");
    // Another device extends the session: the push moves this keeper's expiry too.
    let path = format!("/api/v1/session/{id}/heartbeat");
    let (status, _) = fetch("POST", &path, Some("application/json"), Some("{}")).await;
    assert_eq!(status, 200);
    for _ in 0..50 {
        if keeper.expires_at().as_f64().is_some_and(|at| at > before) {
            break;
        }
        tick().await;
    }
    assert!(keeper.expires_at().as_f64().unwrap() > before, "a pushed extension moves expiresAt");
    let deleted_at = js_sys::Date::now();
    let (status, _) = fetch("DELETE", &format!("/api/v1/session/{id}"), None, None).await;
    assert_eq!(status, 204);
    let expired = recorded.wait_for("onExpired", 1, 1_000).await;
    assert_eq!(text(&expired[0], "reason"), "revoked");
    recorded.assert_shapes();
    assert!(js_sys::Date::now() - deleted_at < 1_000.0, "pushed, not found at the next heartbeat");
    assert_eq!(heartbeats_received(&id).await, 2, "no heartbeat was needed to find out");
    wait_for_live_sockets(0).await;
}
