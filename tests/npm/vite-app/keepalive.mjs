// The Vite app in Debian's headless Chromium, driven by playwright-core, against a real
// keeper-server with a short session TTL: the build (vite build) served by keeper-server at /,
// or, with --dev, Vite's dev server, which forwards /api to keeper-server.
//
//   node keepalive.mjs <base-url> <ttl-ms> [--dev]
//
// It asserts that: the .wasm comes from Vite's assets (dev: from the installed package) as
// application/wasm; the app creates a session and the keeper reaches `running`; at least five
// heartbeats are answered 200, every one of them, and the app logs them and no error; the session
// is still alive on the server well past its TTL from creation, with the heartbeats counted
// there; and the page prints no console error or warning and throws nothing.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM } from "../../chromium.mjs";

const HEARTBEATS = 5;
const INTERVAL_MS = 1000; // what the app's ?fast sets

const [base, ttlArg, mode] = process.argv.slice(2);
if (!base || !ttlArg || (mode && mode !== "--dev")) {
  throw new Error("usage: node keepalive.mjs <base-url> <ttl-ms> [--dev]");
}
const WASM_PATH =
  mode === "--dev"
    ? /^\/node_modules\/session-keeper\/session_keeper_bg\.wasm$/
    : /^\/assets\/session_keeper_bg-[\w-]+\.wasm$/;
const ttlMs = Number(ttlArg);
const started = Date.now();
const step = (text) => console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${text}`);

const browser = await chromium.launch(CHROMIUM);
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  const heartbeats = [];
  const wasm = [];
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (/\/api\/v1\/session\/[^/]+\/heartbeat$/.test(url.pathname)) heartbeats.push(response.status());
    if (url.pathname.endsWith(".wasm")) {
      wasm.push({ path: url.pathname, status: response.status(), type: response.headers()["content-type"] });
    }
  });

  /** Waits for `test` in the page; a timeout also tells what the page printed. */
  async function waitFor(what, test, arg, timeout) {
    await page.waitForFunction(test, arg, { timeout }).catch(async (error) => {
      const logged = await page.$$eval("#log > li", (items) => items.map((li) => li.textContent));
      throw new Error(`waiting for ${what}: ${error.message}\n${[...logged, ...problems].join("\n")}`);
    });
  }

  await page.goto(new URL("/?fast", base).href);
  await waitFor("the keeper to run", () => document.querySelector("#state")?.textContent === "running", null, 10_000);
  const sessionId = await page.evaluate(() => document.body.dataset.sessionId);
  assert.ok(sessionId, "the app created no session");
  assert.equal(wasm.length, 1, `expected one .wasm request, saw ${JSON.stringify(wasm)}`);
  assert.match(wasm[0].path, WASM_PATH, "the .wasm is not where Vite should serve it from");
  assert.equal(wasm[0].status, 200);
  assert.equal(wasm[0].type, "application/wasm");
  step(`running: session ${sessionId}, wasm ${wasm[0].path} (${wasm[0].type})`);

  // Until the session is well past the TTL it was created with: it lives on only if the
  // heartbeats extend it.
  const until = Date.now() + ttlMs + 2 * INTERVAL_MS;
  await waitFor(
    `${HEARTBEATS} heartbeats`,
    (n) => document.querySelectorAll('#log > li[data-kind="heartbeat"]').length >= n,
    HEARTBEATS,
    HEARTBEATS * INTERVAL_MS + 10_000,
  );
  await page.waitForTimeout(Math.max(0, until - Date.now()));
  const logged = await page.$$eval("#log > li", (items) => items.map((li) => li.textContent));
  step(`${logged.length} events: ${logged.slice(0, 3).join(" · ")} ...`);
  assert.ok(heartbeats.length >= HEARTBEATS, `only ${heartbeats.length} heartbeats were answered`);
  assert.deepEqual(
    heartbeats.filter((status) => status !== 200),
    [],
    `heartbeats not answered 200: ${heartbeats}`,
  );
  assert.deepEqual(
    logged.filter((text) => !text.startsWith("heartbeat: ")),
    [],
    "the app logged something other than heartbeats",
  );
  assert.equal(await page.textContent("#state"), "running");
  step(`${heartbeats.length} heartbeats, all answered 200`);

  const response = await fetch(new URL(`/api/v1/session/${sessionId}`, base));
  assert.equal(response.status, 200, "the session is gone from the server");
  const session = await response.json();
  const ageMs = Date.now() - Date.parse(session.created_at);
  assert.ok(ageMs > ttlMs, `the session is ${ageMs} ms old, not past its TTL of ${ttlMs} ms`);
  assert.ok(session.heartbeats >= HEARTBEATS, `the server counted ${session.heartbeats} heartbeats`);
  step(`the server still has the session after ${ageMs} ms (TTL ${ttlMs} ms), ${session.heartbeats} heartbeats`);

  assert.deepEqual(problems, [], "the page printed errors or warnings");
  console.log(`vite app (${mode ? "dev server" : "build"}): the session was kept alive, with no console error`);
} finally {
  await browser.close();
}
