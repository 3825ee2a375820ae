//! `keeper-server probe --url URL`: checks a live server's heartbeat protocol by hand.
//!
//! Seed 001 asked for it: a client's tests stubbed a wrong heartbeat path and passed, while the
//! real server answered 404 and the client dropped sessions silently. The probe runs the checks
//! that would have caught both that and seed 004's missing Content-Type against any server that
//! speaks this protocol:
//!
//! | check | expected |
//! |---|---|
//! | create a session | 201 |
//! | heartbeat with `Content-Type: application/json` | 200 |
//! | heartbeat without a Content-Type | 415 `ERR_INVALID_CONTENT_TYPE` |
//! | heartbeat on the wrong path `/api/v1/heartbeat` | 404 |
//! | delete the session | 204 |
//! | heartbeat after delete | 404 `ERR_SESSION_NOT_FOUND` |
//!
//! It prints a table of expected and got, and exits with 0 if every check passed, 1 if any did
//! not, and 2 if the server could not be reached at all.

use std::error::Error as _;
use std::fmt::Write as _;
use std::process::ExitCode;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, RequestBuilder, StatusCode};

use crate::config::ProbeArgs;

/// One line of the probe's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was tried.
    pub name: &'static str,
    /// The status (and error code) a correct server answers.
    pub expected: Outcome,
    /// What the server answered, or why nothing was.
    pub got: Result<Outcome, String>,
}

impl Check {
    /// Whether the server answered as expected (an error code is compared only if one is
    /// expected).
    pub fn ok(&self) -> bool {
        match &self.got {
            Ok(got) => {
                got.status == self.expected.status
                    && (self.expected.code.is_none() || got.code == self.expected.code)
            }
            Err(_) => false,
        }
    }
}

/// A status and, for an error, the `error.code` of its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code, if the body is the error envelope.
    pub code: Option<String>,
}

impl Outcome {
    fn expect(status: StatusCode, code: Option<&str>) -> Self {
        Self { status, code: code.map(str::to_owned) }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status.as_u16())?;
        match &self.code {
            Some(code) => write!(f, " {code}"),
            None => Ok(()),
        }
    }
}

/// Runs the probe as the `probe` subcommand does: prints the table, returns the exit code.
pub async fn run(args: ProbeArgs) -> ExitCode {
    let base = args.url.trim_end_matches('/').to_owned();
    if !base.starts_with("http://") {
        eprintln!("error: --url must be an http:// URL (the probe is built without TLS): {base}");
        return ExitCode::from(2);
    }
    let client = match Client::builder().no_proxy().timeout(args.timeout).build() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: cannot build an HTTP client: {}", chain(&error));
            return ExitCode::from(2);
        }
    };
    let checks = match probe(&client, &base).await {
        Ok(checks) => checks,
        Err(unreachable) => {
            eprintln!("error: cannot reach the server at {base}: {unreachable}");
            return ExitCode::from(2);
        }
    };
    print!("{}", table(&checks));
    let failed = checks.iter().filter(|check| !check.ok()).count();
    if failed == 0 {
        println!("all {} checks passed against {base}", checks.len());
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} checks failed against {base}", checks.len());
        ExitCode::FAILURE
    }
}

/// Runs every check against the server at `base`. `Err` if the first request could not reach it.
pub async fn probe(client: &Client, base: &str) -> Result<Vec<Check>, String> {
    let url = |path: &str| format!("{base}{path}");
    let json =
        |request: RequestBuilder| request.header(CONTENT_TYPE, "application/json").body("{}");

    let created = json(client.post(url("/api/v1/session"))).send().await;
    let created = created.map_err(|error| chain(&error))?;
    let created_status = created.status();
    let body = created.bytes().await.unwrap_or_default();
    let session_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|value| value.get("session_id")?.as_str().map(str::to_owned));
    let mut checks = vec![Check {
        name: "create session",
        expected: Outcome::expect(StatusCode::CREATED, None),
        got: Ok(Outcome { status: created_status, code: error_code(&body) }),
    }];

    let heartbeat = session_id.as_ref().map(|id| url(&format!("/api/v1/session/{id}/heartbeat")));
    let session = session_id.as_ref().map(|id| url(&format!("/api/v1/session/{id}")));
    let steps: [(&'static str, Option<RequestBuilder>, Outcome); 5] = [
        (
            "heartbeat with JSON Content-Type",
            heartbeat.as_ref().map(|to| json(client.post(to))),
            Outcome::expect(StatusCode::OK, None),
        ),
        (
            "heartbeat without Content-Type",
            heartbeat.as_ref().map(|to| client.post(to).body("{}")),
            Outcome::expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("ERR_INVALID_CONTENT_TYPE")),
        ),
        (
            "heartbeat on wrong path /api/v1/heartbeat",
            Some(json(client.post(url("/api/v1/heartbeat")))),
            Outcome::expect(StatusCode::NOT_FOUND, None),
        ),
        (
            "delete session",
            session.as_ref().map(|to| client.request(Method::DELETE, to)),
            Outcome::expect(StatusCode::NO_CONTENT, None),
        ),
        (
            "heartbeat after delete",
            heartbeat.as_ref().map(|to| json(client.post(to))),
            Outcome::expect(StatusCode::NOT_FOUND, Some("ERR_SESSION_NOT_FOUND")),
        ),
    ];
    for (name, request, expected) in steps {
        let got = match request {
            Some(request) => outcome(request).await,
            None => Err("not run: no session was created".to_owned()),
        };
        checks.push(Check { name, expected, got });
    }
    Ok(checks)
}

async fn outcome(request: RequestBuilder) -> Result<Outcome, String> {
    let response = request.send().await.map_err(|error| chain(&error))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|error| chain(&error))?;
    Ok(Outcome { status, code: error_code(&body) })
}

/// `error.code` of a JSON error envelope.
fn error_code(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    value.get("error")?.get("code")?.as_str().map(str::to_owned)
}

/// An error and its causes on one line.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// The checks as a table with the columns `check | expected | got | ok`.
pub fn table(checks: &[Check]) -> String {
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|check| {
            [
                check.name.to_owned(),
                check.expected.to_string(),
                match &check.got {
                    Ok(got) => got.to_string(),
                    Err(error) => error.clone(),
                },
                if check.ok() { "ok" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    let header = ["check", "expected", "got", "ok"].map(str::to_owned);
    let mut widths = header.clone().map(|cell| cell.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> =
            row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        let _ = writeln!(out, "{}", cells.join(" | ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_compares_the_code_only_when_expected() {
        let check = |expected: Outcome, got: Outcome| Check { name: "x", expected, got: Ok(got) };
        let not_found = Outcome::expect(StatusCode::NOT_FOUND, Some("ERR_NOT_FOUND"));
        assert!(check(Outcome::expect(StatusCode::NOT_FOUND, None), not_found.clone()).ok());
        assert!(
            !check(
                Outcome::expect(StatusCode::NOT_FOUND, Some("ERR_SESSION_NOT_FOUND")),
                not_found.clone()
            )
            .ok()
        );
        assert!(!check(Outcome::expect(StatusCode::OK, None), not_found).ok());
        let failed = Check {
            name: "x",
            expected: Outcome::expect(StatusCode::OK, None),
            got: Err("refused".to_owned()),
        };
        assert!(!failed.ok());
    }

    #[test]
    fn table_has_the_four_columns() {
        let table = table(&[Check {
            name: "heartbeat",
            expected: Outcome::expect(StatusCode::OK, None),
            got: Ok(Outcome::expect(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("ERR_INVALID_CONTENT_TYPE"),
            )),
        }]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "check     | expected | got                          | ok");
        assert_eq!(lines[1], "heartbeat | 200      | 415 ERR_INVALID_CONTENT_TYPE | FAIL");
    }
}
