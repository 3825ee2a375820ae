// End-to-end test of the demo page (www/demo) in Debian's headless Chromium, driven by
// playwright-core, against a real keeper-server.
//
//   node demo.mjs [base-url] [--screenshot path]
//
// The base URL is the argument, else $DEMO_URL, else http://127.0.0.1:8080/. The server must run
// with --demo (the server panel and the request log need it). The page is opened with
// ?demo=fast: a heartbeat every 1.5 s, activity at most every 1 s, so the run takes seconds.
//
// It asserts that: heartbeats appear in the event log (two at least, then an activity one and a
// manual one); the broken-way request shows its 415 ERR_INVALID_CONTENT_TYPE in the log and the
// server saw it with a text/plain Content-Type; the page has no horizontal overflow at 375 px and
// every control is reached with Tab, with a visible focus ring; deleting the session leads to the
// expired badge and an `expired · not_found` entry; "New session" starts over. It fails on any
// page error and on any console error or warning except exactly two that Chromium prints for
// requests the test makes fail on purpose: "Failed to load resource: ... 415" for the broken-way
// heartbeat and "... 404" for the keeper's heartbeat after the deletion, both on that session's
// heartbeat URL.
//
// With --screenshot, it writes a PNG of the page at 1200 px (after several heartbeats, an
// activity one and the 415 among them, before the deletion): that is docs/demo.png.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM } from "../chromium.mjs";

const DESKTOP = { width: 1200, height: 900 };
const PHONE = { width: 375, height: 800 };
const WAIT_MS = 10_000;

function parseArgs(argv) {
  const options = { base: process.env.DEMO_URL || "http://127.0.0.1:8080/", screenshot: null };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--screenshot") {
      options.screenshot = argv[++i];
      if (!options.screenshot) throw new Error("--screenshot needs a path");
    } else if (arg.startsWith("--screenshot=")) {
      options.screenshot = arg.slice("--screenshot=".length);
    } else if (arg === "-h" || arg === "--help") {
      console.log("usage: node demo.mjs [base-url] [--screenshot path]");
      process.exit(0);
    } else if (arg.startsWith("-")) {
      throw new Error(`unknown option ${arg}`);
    } else {
      options.base = arg;
    }
  }
  return options;
}

const started = Date.now();
const options = parseArgs(process.argv.slice(2));
const pageUrl = new URL("/?demo=fast", options.base).href;

function step(text) {
  console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${text}`);
}

const entries = (page, selector) => page.locator(`#log > li${selector}`);

/** Waits until the log holds at least `count` entries matching `selector`. */
async function waitForEntries(page, selector, count = 1, timeout = WAIT_MS) {
  await page.waitForFunction(
    ([sel, n]) => document.querySelectorAll(`#log > li${sel}`).length >= n,
    [selector, count],
    { timeout },
  );
}

async function main() {
  console.log(`demo e2e: ${pageUrl}`);
  const browser = await chromium.launch(CHROMIUM);
  const problems = [];
  const failedLoads = [];
  try {
    const context = await browser.newContext({
      viewport: DESKTOP,
      colorScheme: "light",
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      const type = message.type();
      if (type !== "error" && type !== "warning") return;
      const text = message.text();
      const url = message.location()?.url ?? "";
      const failed = /^Failed to load resource: the server responded with a status of (\d{3})\b/.exec(text);
      if (type === "error" && failed) failedLoads.push({ status: Number(failed[1]), url, text });
      else problems.push(`console ${type}: ${text}${url ? ` (${url})` : ""}`);
    });

    const response = await page.goto(pageUrl);
    assert.equal(response?.status(), 200, `GET ${pageUrl}`);
    await page.waitForSelector('#state-badge[data-state="running"]', { timeout: WAIT_MS });
    const sessionId = await page.evaluate(() => window.sessionKeeperDemo.sessionId);
    assert.match(sessionId, /^[0-9a-f-]{36}$/, "the page created a session");
    const heartbeatUrl = new URL(`/api/v1/session/${sessionId}/heartbeat`, pageUrl).href;
    step(`session ${sessionId}: keeper running`);

    // Heartbeats: the start one and timer ones, all 200.
    await waitForEntries(page, '[data-kind="heartbeat"]', 2);
    const statuses = await entries(page, '[data-kind="heartbeat"]').evaluateAll((list) =>
      list.map((li) => li.dataset.status),
    );
    assert.ok(
      statuses.every((s) => s === "200"),
      `heartbeats answered 200: ${statuses}`,
    );
    await waitForEntries(page, '[data-kind="heartbeat"][data-reason="timer"]', 1);
    step(`${statuses.length} heartbeats in the log, a timer one among them`);

    // Activity: moving the mouse sends a heartbeat once the throttle window allows.
    const activityDeadline = Date.now() + WAIT_MS;
    for (let i = 0; ; i += 1) {
      await page.mouse.move(200 + (i % 20) * 30, 300 + (i % 7) * 20);
      if ((await entries(page, '[data-kind="heartbeat"][data-reason="activity"]').count()) > 0) break;
      assert.ok(Date.now() < activityDeadline, "an activity heartbeat appears after mouse moves");
      await page.waitForTimeout(100);
    }
    step("mouse moves sent an activity heartbeat");

    // Manual: "Beat now" right after that activity heartbeat, inside its throttle window, so the
    // click's own mousedown does not count as a new activity heartbeat first.
    // If the click still lands outside the window (a slow machine), its mousedown sends an
    // activity heartbeat that beat() joins; the next click is then inside the new window.
    for (let attempt = 1; ; attempt += 1) {
      await page.getByRole("button", { name: "Beat now" }).click();
      try {
        await waitForEntries(page, '[data-kind="heartbeat"][data-reason="manual"]', 1, 2_500);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    step('"Beat now" sent a manual heartbeat');

    // The broken way: a plain fetch without a JSON Content-Type, answered 415, in the log as the
    // page's own request, and seen by the server as text/plain.
    await page.getByRole("button", { name: /Send a heartbeat the broken way/ }).click();
    await waitForEntries(page, '[data-kind="broken request"]', 1);
    const broken = entries(page, '[data-kind="broken request"]').first();
    assert.equal(await broken.getAttribute("data-status"), "415");
    assert.equal(await broken.getAttribute("data-source"), "page");
    const brokenText = await broken.textContent();
    assert.match(brokenText, /415 ERR_INVALID_CONTENT_TYPE/, "the 415 and its code are in the log");
    assert.match(brokenText, /Content-Type must be application\/json/);
    assert.match(brokenText, /not a keeper event/, "labelled as the page's request");
    await page.waitForSelector('#requests li[data-status="415"]', { timeout: WAIT_MS });
    const seen = await page.locator('#requests li[data-status="415"]').first().textContent();
    assert.match(seen, /text\/plain/, "the server saw a text/plain Content-Type");
    await page.waitForSelector('#requests li[data-status="200"]', { timeout: WAIT_MS });
    step("the broken-way request shows 415 ERR_INVALID_CONTENT_TYPE; the server saw text/plain");

    // The server panel lists this page's session.
    await page.waitForSelector("#sessions-body tr.is-mine", { timeout: WAIT_MS });

    // A few more heartbeats after the 415, so the keeper's 200s and the 415 stand side by side.
    const before = await entries(page, '[data-kind="heartbeat"]').count();
    await waitForEntries(page, '[data-kind="heartbeat"]', before + 2);
    assert.equal(await page.locator("#state-badge").getAttribute("data-state"), "running");
    step("the keeper kept beating after the broken request");

    if (options.screenshot) {
      // A fuller timeline for the picture: about ten seconds of heartbeats.
      await waitForEntries(page, '[data-kind="heartbeat"]', 9);
      const path = resolve(options.screenshot);
      await mkdir(dirname(path), { recursive: true });
      await page.mouse.move(0, 0);
      await page.evaluate(() => document.activeElement?.blur());
      await page.screenshot({ path, fullPage: true, animations: "disabled" });
      step(`screenshot written to ${path}`);
    }

    // Phone width: nothing wider than the viewport, every button inside it.
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(600);
    const overflow = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      // Content of a scroll box (a table, a code block) may be wider: the box itself may not.
      const scrolled = (node) => {
        for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
          if (getComputedStyle(up).overflowX !== "visible") return true;
        }
        return false;
      };
      const wide = [...document.querySelectorAll("body *")]
        .filter((node) => {
          const box = node.getBoundingClientRect();
          return (
            box.width > 0 &&
            (box.right > width + 0.5 || box.left < -0.5) &&
            !scrolled(node) &&
            !node.closest(".visually-hidden, .skip-link")
          );
        })
        .map(
          (node) =>
            `${node.tagName.toLowerCase()}${node.id ? `#${node.id}` : ""}.${node.className?.baseVal ?? node.className}`,
        );
      return { scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5) };
    });
    assert.ok(
      overflow.scrollWidth <= PHONE.width,
      `no horizontal scroll at 375 px: scrollWidth ${overflow.scrollWidth}`,
    );
    assert.deepEqual(overflow.wide, [], "no element sticks out at 375 px");
    step("no horizontal overflow at 375 px");
    await page.setViewportSize(DESKTOP);

    // Keyboard: Tab reaches every enabled control, and the focus ring is visible.
    const wanted = await page.evaluate(() =>
      [...document.querySelectorAll("main button:not(:disabled), main input:not(:disabled)")].map(
        (node) => node.id,
      ),
    );
    assert.ok(wanted.length >= 7, `controls to reach: ${wanted}`);
    await page.evaluate(() => document.activeElement?.blur());
    await page.mouse.click(5, 5);
    const reached = new Set();
    let outlineOk = false;
    for (let i = 0; i < 40 && reached.size < wanted.length; i += 1) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const node = document.activeElement;
        const target = node?.matches('input[role="switch"]') ? node.nextElementSibling : node;
        const style = target ? getComputedStyle(target) : null;
        return { id: node?.id ?? "", outline: style ? `${style.outlineStyle} ${style.outlineWidth}` : "" };
      });
      if (wanted.includes(focused.id)) {
        reached.add(focused.id);
        if (focused.id === "btn-beat") outlineOk = /^solid [1-9]/.test(focused.outline);
      }
    }
    assert.deepEqual([...reached].sort(), [...wanted].sort(), "Tab reaches every control");
    assert.ok(outlineOk, "the focused button has a visible outline");
    step(`Tab reached all ${wanted.length} controls, with a visible focus ring`);

    // Delete the session on the server: the keeper reports expired not_found.
    await page.getByRole("button", { name: "Delete the session on the server" }).click();
    await page.waitForSelector('#state-badge[data-state="expired"]', { timeout: WAIT_MS });
    await waitForEntries(page, '[data-kind="expired"][data-reason="not_found"]', 1);
    assert.match(await page.locator("#state-badge").textContent(), /Expired/);
    assert.equal((await page.locator("#countdown").textContent()).trim(), "expired");
    step("deleting the session led to the expired badge and expired · not_found");

    // After expiry: a new session, kept alive again.
    const beatsBefore = await entries(page, '[data-kind="heartbeat"]').count();
    await page.getByRole("button", { name: /new session/i }).click();
    await page.waitForSelector('#state-badge[data-state="running"]', { timeout: WAIT_MS });
    await waitForEntries(page, '[data-kind="heartbeat"][data-reason="start"]', 2);
    assert.ok((await entries(page, '[data-kind="heartbeat"]').count()) > beatsBefore);
    const newId = await page.evaluate(() => window.sessionKeeperDemo.sessionId);
    assert.notEqual(newId, sessionId, "a new session was created");
    step(`"New session" created ${newId.slice(0, 8)} and the keeper runs again`);
    await page.waitForTimeout(300);

    // Console: nothing but the two failed loads the test caused on purpose.
    const expected = [
      { status: 415, url: heartbeatUrl },
      { status: 404, url: heartbeatUrl },
    ];
    const unexpected = failedLoads.filter(
      (load) => !expected.some((e) => e.status === load.status && e.url === load.url),
    );
    for (const e of expected) {
      const count = failedLoads.filter((load) => load.status === e.status && load.url === e.url).length;
      assert.ok(count <= 1, `one ${e.status} on ${e.url} expected, saw ${count}`);
    }
    problems.push(...unexpected.map((load) => `console error: ${load.text} (${load.url})`));
    assert.deepEqual(problems, [], "no console errors or warnings, no page errors");
    step(`console clean (${failedLoads.length} expected failed-resource messages ignored)`);
    await context.close();
  } finally {
    await browser.close();
  }
  console.log(`demo e2e: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error) => {
  console.error(`demo e2e: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.error(error);
  process.exit(1);
});
