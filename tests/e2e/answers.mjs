// Answers as real servers give them, through a real keeper-server, in one Chromium page:
//
// - a heartbeat URL that redirects to a login page (a session middleware's answer to an expired
//   session; fetch follows it and ends on HTML) is an error with code ERR_UNEXPECTED_RESPONSE and
//   the session's end, `onExpired({reason: "unauthorized"})`, never a heartbeat;
// - a 200 with an HTML body (a captive portal, a proxy) is an error, never a heartbeat, and stays
//   one on every retry;
// - JSON media types other than the bare `application/json` (JSON:API's
//   `application/vnd.api+json`, `application/json; charset=utf-8`) reach the server as given, and
//   the server accepts them.
//
//   node answers.mjs <base-url> [--require-fixtures]
//
// The first two use the server's demo fixtures `POST /api/v1/demo/redirect-to-login` and
// `POST /api/v1/demo/html-200`. A server without them (an older build) gets those checks reported
// as PENDING, not passed; with --require-fixtures that is a failure.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM, Server, events, keeperOptions, openTab, harnessUrl, view, waitFor } from "./harness.mjs";

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const REDIRECT = "/api/v1/demo/redirect-to-login";
const HTML_200 = "/api/v1/demo/html-200";
/** Quick retries, so that a second failed attempt comes within a second. */
const FAST = { intervalMs: 1_500, activityThrottleMs: 500, retryMinMs: 400, retryMaxMs: 800 };

function parseArgs(argv) {
  const options = { base: process.env.DEMO_URL || "http://127.0.0.1:8080/", requireFixtures: false };
  for (const arg of argv) {
    if (arg === "--require-fixtures") options.requireFixtures = true;
    else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else options.base = arg;
  }
  return options;
}

/** Whether the server has a fixture: what it answers a POST, its redirect not followed. */
async function fixtureStatus(server, path) {
  const response = await fetch(server.url(path), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
    redirect: "manual",
  });
  await response.arrayBuffer();
  return response.status;
}

/** A fresh page with a keeper for `options`, started. */
async function keeperPage(context, harness, problems, options) {
  const page = await openTab(context, harness, problems);
  await page.evaluate((o) => {
    window.tab.create(o);
    window.tab.start();
  }, options);
  return page;
}

/** The requests the server received on `path` after the request numbered `since`. */
async function receivedOn(server, path, since) {
  return (await server.requests()).filter((r) => r.path === path && r.seq > since);
}

async function redirectToLogin(context, harness, server, problems) {
  const since = await server.lastSeq();
  const page = await keeperPage(context, harness, problems, { url: REDIRECT, ...FAST });
  const expired = await waitFor("onExpired", async () => (await events(page, "onExpired"))[0]);
  assert.equal(expired.reason, "unauthorized", "a redirect to a login page ends the session");
  const errors = await events(page, "onError");
  assert.equal(errors.length, 1, "one error, then nothing more");
  assert.equal(errors[0].code, "ERR_UNEXPECTED_RESPONSE");
  assert.match(errors[0].message, /login/, `the message names where it ended: ${errors[0].message}`);
  assert.deepEqual(await events(page, "onHeartbeat"), [], "never a heartbeat");
  assert.equal((await view(page)).state, "expired");
  const received = await receivedOn(server, REDIRECT, since);
  assert.equal(received.length, 1, "the server got one heartbeat");
  assert.equal(received[0].status, 302, "and answered it with the redirect");
  console.log(`    ${errors[0].status} ${errors[0].code}: ${errors[0].message}`);
  await page.close();
}

async function html200(context, harness, server, problems) {
  const since = await server.lastSeq();
  const page = await keeperPage(context, harness, problems, { url: HTML_200, ...FAST });
  // The first attempt and a retry: both errors, neither a heartbeat.
  const errors = await waitFor("two failed attempts", async () => {
    const list = await events(page, "onError");
    return list.length >= 2 ? list : null;
  });
  for (const error of errors) {
    assert.equal(error.code, "ERR_UNEXPECTED_RESPONSE");
    assert.equal(error.status, 200);
    assert.match(error.message, /text\/html/, `the message names the content type: ${error.message}`);
  }
  assert.equal(errors[1].reason, "retry", "the second attempt is a retry");
  assert.deepEqual(await events(page, "onHeartbeat"), [], "never a heartbeat");
  const state = await view(page);
  assert.equal(state.state, "failing");
  assert.equal(state.lastHeartbeatAt, undefined, "no heartbeat was ever accepted");
  await page.evaluate(() => window.tab.stop());
  const received = await receivedOn(server, HTML_200, since);
  assert.ok(received.length >= 2 && received.every((r) => r.status === 200));
  console.log(`    ${errors[0].status} ${errors[0].code}: ${errors[0].message}`);
  await page.close();
}

async function jsonMediaTypes(context, harness, server, problems) {
  for (const contentType of ["application/vnd.api+json", "application/json; charset=utf-8"]) {
    const session = await server.createSession();
    const page = await keeperPage(
      context,
      harness,
      problems,
      keeperOptions(session, { ...FAST, headers: { "Content-Type": contentType } }),
    );
    const beat = await waitFor("onHeartbeat", async () => (await events(page, "onHeartbeat"))[0]);
    assert.equal(beat.status, 200);
    const [request] = await server.heartbeats(session.id);
    assert.equal(request.content_type, contentType, "the Content-Type reached the server as given");
    assert.equal(request.status, 200);
    console.log(`    Content-Type ${contentType}: sent as given, answered ${request.status}`);
    await page.close();
    await server.deleteSession(session.id);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const server = new Server(options.base);
  console.log(`answers e2e: ${server.base}`);
  const pending = [];
  const browser = await chromium.launch(CHROMIUM);
  const problems = [];
  try {
    const context = await browser.newContext();
    const harness = harnessUrl(server.base);
    const checks = [
      ["a redirect to a login page", REDIRECT, 302, redirectToLogin],
      ["a 200 with HTML", HTML_200, 200, html200],
      ["JSON media types as given", null, null, jsonMediaTypes],
    ];
    for (const [name, fixture, wanted, check] of checks) {
      if (fixture) {
        const status = await fixtureStatus(server, fixture);
        if (status !== wanted) {
          const why = `POST ${fixture} answered ${status}, not ${wanted}: the server has no such fixture`;
          console.log(`  PENDING: ${name} (${why})`);
          pending.push(name);
          continue;
        }
      }
      const at = Date.now();
      console.log(`  ${name}`);
      await check(context, harness, server, problems);
      console.log(`  ok: ${name} (${secs(Date.now() - at)})`);
    }
    // The failed loads the keeper's requests make on purpose show in the console; nothing else.
    const unexpected = problems.filter((p) => !/Failed to load resource: .*status of (404|200)\b/.test(p));
    assert.deepEqual(unexpected, [], "no page errors, console errors or warnings");
    await context.close();
  } finally {
    await browser.close();
  }
  const took = secs(Date.now() - started);
  if (pending.length > 0) {
    console.log(`answers e2e: ${pending.length} PENDING on this server: ${pending.join("; ")}`);
    if (options.requireFixtures) {
      console.error("answers e2e: FAILED (--require-fixtures)");
      process.exit(1);
    }
  }
  console.log(`answers e2e: passed in ${took}`);
}

main().catch((error) => {
  console.error(`answers e2e: FAILED after ${secs(Date.now() - started)}`);
  console.error(error);
  process.exit(1);
});
