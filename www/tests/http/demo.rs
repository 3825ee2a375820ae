//! Demo mode: the hub view and the request log; off by default.

use reqwest::Method;
use serde_json::Value;

use crate::common::{Options, TestServer, heartbeat_path};

#[tokio::test]
async fn demo_endpoints_are_404_unless_demo_mode_is_on() {
    let server = TestServer::start().await;
    server.get("/api/v1/demo/sessions").await.assert_error(404, "ERR_NOT_FOUND");
    server.get("/api/v1/demo/requests").await.assert_error(404, "ERR_NOT_FOUND");
    server
        .post_json("/api/v1/demo/outage", r#"{"ms":1000}"#)
        .await
        .assert_error(404, "ERR_NOT_FOUND");
    // Still serving: the outage was not triggered.
    let health = server.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["demo"], false);
    let demo = TestServer::with(Options::demo()).await;
    assert_eq!(demo.get("/healthz").await.json()["demo"], true);
}

#[tokio::test]
async fn the_hub_view_lists_the_newest_sessions() {
    let server = TestServer::with(Options::demo()).await;
    let mut ids = Vec::new();
    for _ in 0..105 {
        ids.push(server.create().await);
        server.clock.advance(std::time::Duration::from_millis(1));
    }
    let view = server.get("/api/v1/demo/sessions").await;
    assert_eq!(view.status, 200);
    let view = view.json();
    assert_eq!(view["count"], 105);
    let listed = view["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!(listed[0]["session_id"], ids[104].as_str());
    assert_eq!(listed[99]["session_id"], ids[5].as_str());
    assert_eq!(listed[0]["state"], "active");
    assert!(listed.iter().all(|session| session["client_info"].is_null()), "no client info");
    // Sessions past their TTL but not yet swept are not counted.
    server.clock.advance(std::time::Duration::from_secs(24 * 3600));
    let after = server.get("/api/v1/demo/sessions").await.json();
    assert_eq!(
        (after["count"].clone(), after["sessions"].as_array().unwrap().len()),
        (0.into(), 0)
    );
}

fn requests(reply: &Value) -> &Vec<Value> {
    reply["requests"].as_array().unwrap()
}

#[tokio::test]
async fn the_request_log_records_paths_content_types_and_statuses_as_received() {
    let server = TestServer::with(Options::demo()).await;
    let id = server.create().await;
    server.post_json(&heartbeat_path(&id), "{}").await;
    server.send(Method::POST, &heartbeat_path(&id), None, "{}").await;
    server.post_json("/api/v1/heartbeat", "{}").await; // seed 001's wrong path
    server.get("/api/v1/demo/sessions").await; // not recorded
    server.get("/healthz").await; // not under /api/

    let all = server.get("/api/v1/demo/requests").await.json();
    let all = requests(&all);
    let summary: Vec<(String, String, Value, u64)> = all
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["content_type"].clone(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let json = Value::from("application/json");
    assert_eq!(
        summary,
        vec![
            ("POST".into(), "/api/v1/heartbeat".into(), json.clone(), 404),
            ("POST".into(), heartbeat_path(&id), Value::Null, 415),
            ("POST".into(), heartbeat_path(&id), json.clone(), 200),
            ("POST".into(), "/api/v1/session".into(), json, 201),
        ]
    );
    let seqs: Vec<u64> = all.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    assert!(all.iter().all(|r| r["at"].as_str().unwrap().ends_with('Z')));

    // Filtered by session: the create (by the id it made) and both heartbeats.
    let mine = server.get(&format!("/api/v1/demo/requests?session_id={id}")).await.json();
    let mine = requests(&mine);
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|r| r["session_id"] == id.as_str()));
    let none = server.get("/api/v1/demo/requests?session_id=someone-else").await.json();
    assert!(requests(&none).is_empty());
}

#[tokio::test]
async fn the_request_log_keeps_the_last_thousand() {
    let server = TestServer::with(Options::demo()).await;
    for i in 0..1010 {
        server.get(&format!("/api/v1/nothing/{i}")).await;
    }
    let log = server.get("/api/v1/demo/requests").await.json();
    let log = requests(&log);
    assert_eq!(log.len(), 1000);
    assert_eq!(log[0]["path"], "/api/v1/nothing/1009");
    assert_eq!(log[999]["path"], "/api/v1/nothing/10");
}

#[tokio::test]
async fn the_outage_endpoint_checks_its_body() {
    let server = TestServer::with(Options::demo()).await;
    for body in [r#"{}"#, r#"{"ms":0}"#, r#"{"ms":60001}"#, r#"{"ms":"5"}"#, r#"{"ms":-1}"#] {
        server
            .post_json("/api/v1/demo/outage", body)
            .await
            .assert_error(400, "ERR_INVALID_REQUEST");
    }
    server
        .send(Method::POST, "/api/v1/demo/outage", None, r#"{"ms":5}"#)
        .await
        .assert_error(415, "ERR_INVALID_CONTENT_TYPE");
    assert_eq!(server.get("/healthz").await.status, 200, "no outage was triggered");
}

#[tokio::test]
async fn the_hub_view_never_shows_client_info() {
    let server = TestServer::with(Options::demo()).await;
    let id = server.create().await;
    server.post_json(&heartbeat_path(&id), r#"{"secret":"token"}"#).await;
    let view = server.get("/api/v1/demo/sessions").await;
    assert!(!view.text().contains("secret"), "{}", view.text());
    assert_eq!(view.json()["sessions"][0]["heartbeats"], 1);
}

#[tokio::test]
async fn the_request_log_keeps_what_it_records_short() {
    let server = TestServer::with(Options::demo()).await;
    let long_path = format!("/api/v1/{}", "p".repeat(10_000));
    let long_type = format!("application/json; x={}", "t".repeat(10_000));
    server.send(Method::POST, &long_path, Some(&long_type), "{}").await;
    let log = server.get("/api/v1/demo/requests").await;
    let log_json = log.json();
    let entry = &requests(&log_json)[0];
    assert_eq!(entry["path"].as_str().unwrap().len(), 256);
    assert_eq!(entry["content_type"].as_str().unwrap().len(), 128);
    assert!(log.body.len() < 2_000, "{} bytes", log.body.len());
}

#[tokio::test]
async fn the_fixtures_answer_as_a_session_middleware_and_a_captive_portal_would() {
    let server = TestServer::with(Options::demo()).await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = no_redirects
        .post(server.url("/api/v1/demo/redirect-to-login"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "/login.html");

    // A client that follows it, as fetch does, ends on the sign-in page.
    let followed = server
        .send_http(Method::POST, "/api/v1/demo/redirect-to-login", Some("application/json"), "{}")
        .await;
    assert_eq!(followed.status, 200);
    assert!(followed.header("content-type").unwrap().starts_with("text/html"));
    assert!(followed.text().contains("Sign in"));

    let portal = server.post_json("/api/v1/demo/html-200", "{}").await;
    assert_eq!(portal.status, 200);
    assert_eq!(portal.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(portal.text().starts_with("<!doctype html>"));

    let log = server.get("/api/v1/demo/requests").await.json();
    let paths: Vec<(&str, u64)> = requests(&log)
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("/api/v1/demo/html-200", 200),
            ("/api/v1/demo/redirect-to-login", 302),
            ("/api/v1/demo/redirect-to-login", 302),
        ]
    );
    // Not in production.
    let plain = TestServer::start().await;
    plain.post_json("/api/v1/demo/html-200", "{}").await.assert_error(404, "ERR_NOT_FOUND");
}
