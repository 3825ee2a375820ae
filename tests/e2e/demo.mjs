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
// server saw it with a text/plain Content-Type; a second tab of the demo joins the same session
// as a follower while the first leads, marks the leader's heartbeats as coming from the other tab
// (log and timeline), and the server receives one stream of heartbeats for both; mouse moves in
// the follower make the leader send an activity heartbeat; with "Sign out when idle", both tabs
// show the prompt with its countdown, mouse moves do not dismiss it, "Stay signed in" in one tab
// closes it in both, both then show "Signed out", and a mouse move brings the user back in both
// (any activity does, once idle, before the session ends); the page has no horizontal overflow at
// 375 px and every control is reached with Tab, with a visible focus ring; deleting the session
// leads to the expired badge and an `expired · not_found` entry; "New session" starts over; with
// the live channel on, deleting the session turns the badge to expired within a second, with an
// `expired · revoked` entry and a push mark on the timeline (reported PENDING when the server has
// no live channel). It fails on any page error and on any console error or warning except
// exactly two that Chromium prints for requests the test makes fail on purpose: "Failed to load
// resource: ... 415" for the broken-way heartbeat and "... 404" for the keeper's heartbeat after
// the deletion, both on that session's heartbeat URL.
//
// With --screenshot, it writes a PNG of the first tab at 1200 px (after several heartbeats, an
// activity one and the 415 among them, with the second tab open, before the idle prompt): that
// is docs/demo.png.

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

/** The requests keeper-server received for a session (its demo log), oldest first. */
async function serverRequests(sessionId) {
  const url = new URL(`/api/v1/demo/requests?session_id=${encodeURIComponent(sessionId)}`, pageUrl);
  const body = await (await fetch(url)).json();
  return body.requests.map((r) => ({ ...r, ms: Date.parse(r.at) })).reverse();
}

/** Whether the server has the live channel: a plain GET (no upgrade) of a live session's
 * `/live` is 426 there, and a 404 on a server without it. */
async function hasLiveChannel(sessionId) {
  const url = new URL(`/api/v1/session/${encodeURIComponent(sessionId)}/live`, pageUrl);
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status === 426;
}

/** How many live-channel sockets the server holds, from its /metrics. */
async function liveSockets() {
  const text = await (await fetch(new URL("/metrics", pageUrl))).text();
  return Number(/^keeper_live_sockets (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Polls `probe` every 100 ms until it returns a truthy value, for at most `timeout` ms. */
async function until(what, probe, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

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
    const watch = (page) => {
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
      return page;
    };
    const page = watch(await context.newPage());

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

    // A second tab of the demo joins the same session, as a follower; the first one leads.
    assert.equal(await page.locator("#role-badge").getAttribute("data-role"), "leader");
    assert.match(await page.locator("#role-badge").textContent(), /Leader tab/);
    const second = watch(await context.newPage());
    const secondOpenedAt = Date.now();
    await second.goto(pageUrl);
    await second.waitForSelector('#state-badge[data-state="running"]', { timeout: WAIT_MS });
    assert.equal(
      await second.evaluate(() => window.sessionKeeperDemo.sessionId),
      sessionId,
      "the second tab keeps the first one's session",
    );
    await second.waitForSelector('#role-badge[data-role="follower"]', { timeout: WAIT_MS });
    assert.match(await second.locator("#role-badge").textContent(), /Follower tab/);
    assert.equal(await page.locator("#role-badge").getAttribute("data-role"), "leader");
    await waitForEntries(second, '[data-kind="heartbeat"][data-tab="other-tab"]', 3);
    const fromOther = entries(second, '[data-kind="heartbeat"][data-tab="other-tab"]').first();
    assert.match(await fromOther.textContent(), /from the leader tab/);
    assert.equal(await entries(second, '[data-kind="heartbeat"][data-tab="this-tab"]').count(), 0);
    await second.waitForSelector("#timeline .mark.from-other-tab", { timeout: WAIT_MS });
    assert.equal(await page.locator("#timeline .mark.from-other-tab").count(), 0, "the leader sent its own");
    // The server: one stream for the two tabs, one heartbeat per interval.
    const both = (await serverRequests(sessionId)).filter(
      (r) => r.method === "POST" && r.status === 200 && r.ms >= secondOpenedAt,
    );
    const spanMs = both.at(-1).ms - both[0].ms;
    assert.ok(both.length <= spanMs / 1500 + 1.5, `one stream: ${both.length} heartbeats in ${spanMs} ms`);
    for (let i = 1; i < both.length; i += 1) {
      assert.ok(both[i].ms - both[i - 1].ms > 1000, `heartbeats ${both[i].ms - both[i - 1].ms} ms apart`);
    }
    await second.waitForFunction(
      () => Number(document.querySelector("#stream-summary").dataset.count) >= 3,
      null,
      { timeout: WAIT_MS },
    );
    assert.match(await second.locator("#stream-summary").textContent(), /^One stream/);
    const span = (spanMs / 1000).toFixed(1);
    step(`a second tab joined as a follower: ${both.length} heartbeats in ${span} s for both`);

    // Four tabs of the demo: still one leader, and one stream of heartbeats at the server.
    const more = [];
    for (let i = 0; i < 2; i += 1) {
      const tab = watch(await context.newPage());
      await tab.goto(pageUrl);
      await tab.waitForSelector('#role-badge[data-role="follower"]', { timeout: WAIT_MS });
      more.push(tab);
    }
    const fourFrom = Date.now();
    let four = [];
    for (const deadline = Date.now() + WAIT_MS; four.length < 5; ) {
      assert.ok(Date.now() < deadline, `four tabs: ${four.length} heartbeats so far`);
      await page.waitForTimeout(250);
      four = (await serverRequests(sessionId)).filter(
        (r) => r.method === "POST" && r.status === 200 && r.ms >= fourFrom,
      );
    }
    const fourSpan = four.at(-1).ms - four[0].ms;
    assert.ok(four.length <= fourSpan / 1500 + 1.5, `four tabs, one stream: ${four.length} in ${fourSpan} ms`);
    for (let i = 1; i < four.length; i += 1) {
      assert.ok(four[i].ms - four[i - 1].ms > 1000, `four tabs: heartbeats ${four[i].ms - four[i - 1].ms} ms apart`);
    }
    const roles = await Promise.all(
      [page, second, ...more].map((tab) => tab.locator("#role-badge").getAttribute("data-role")),
    );
    assert.deepEqual(roles.filter((role) => role === "leader"), ["leader"], `roles: ${roles}`);
    for (const tab of more) await tab.close();
    step(`four tabs kept one session with one stream: ${four.length} heartbeats in ${(fourSpan / 1000).toFixed(1)} s`);

    // Activity in the follower: the leader sends an activity heartbeat.
    const leaderActivity = await entries(page, '[data-kind="heartbeat"][data-reason="activity"]').count();
    const moveDeadline = Date.now() + WAIT_MS;
    for (let i = 0; ; i += 1) {
      await second.mouse.move(200 + (i % 20) * 30, 300 + (i % 7) * 20);
      const sent = await entries(page, '[data-kind="heartbeat"][data-reason="activity"]').count();
      if (sent > leaderActivity) break;
      assert.ok(Date.now() < moveDeadline, "mouse moves in the follower make the leader send");
      await page.waitForTimeout(100);
    }
    await waitForEntries(second, '[data-kind="heartbeat"][data-reason="activity"][data-tab="other-tab"]', 1);
    step("mouse moves in the follower made the leader send an activity heartbeat");

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

    // Sign out when idle, in both tabs: the prompt, the countdown, "Stay signed in", signed out.
    await page.getByRole("switch", { name: /Sign out when idle/ }).check();
    const idleSwitch = (tab, on) =>
      tab.waitForFunction((on) => document.querySelector("#toggle-idle").checked === on, on, {
        timeout: WAIT_MS,
      });
    await idleSwitch(second, true);
    const tabs = [page, second];
    const dialogIn = (tab, presence) =>
      tab.waitForSelector(`#idle-dialog[open][data-presence="${presence}"]`, { timeout: WAIT_MS });
    await Promise.all(tabs.map((tab) => dialogIn(tab, "prompted")));
    for (const tab of tabs) {
      assert.equal(await tab.evaluate(() => document.activeElement?.id), "btn-stay", "the button has focus");
      assert.match(await tab.locator("#idle-countdown").textContent(), /^Signed out in 0:0[1-4]$/);
      assert.match(await tab.locator("#idle-title").textContent(), /Still there\?/);
      assert.match(await tab.locator("#fact-presence").textContent(), /asked whether still there/);
    }
    for (let i = 0; i < 10; i += 1) await page.mouse.move(100 + i * 20, 100);
    await page.waitForTimeout(300);
    assert.ok(await page.locator("#idle-dialog[open]").isVisible(), "mouse moves do not dismiss the prompt");
    step("both tabs ask whether the user is still there, with a countdown");
    await second.getByRole("button", { name: "Stay signed in" }).click();
    for (const tab of tabs) {
      await tab.waitForSelector("#idle-dialog[open]", { state: "detached", timeout: 1_000 });
    }
    await waitForEntries(second, '[data-kind="active"][data-tab="this-tab"]', 1, 1_000);
    await waitForEntries(page, '[data-kind="active"][data-tab="other-tab"]', 1, 1_000);
    step('"Stay signed in" in the second tab closed the prompt in both');
    await Promise.all(tabs.map((tab) => dialogIn(tab, "idle")));
    for (const tab of tabs) {
      assert.match(await tab.locator("#idle-title").textContent(), /Signed out/);
      await waitForEntries(tab, '[data-kind="idle"]', 1, 1_000);
    }
    step("then both tabs show the user signed out");
    // Once idle, any activity brings the user back (before the session ends): here a mouse move.
    const activeBefore = await entries(second, '[data-kind="active"][data-tab="other-tab"]').count();
    await page.mouse.move(400, 500);
    await page.mouse.move(420, 520);
    for (const tab of tabs) {
      await tab.waitForSelector("#idle-dialog[open]", { state: "detached", timeout: 2_000 });
    }
    await waitForEntries(second, '[data-kind="active"][data-tab="other-tab"]', activeBefore + 1, 1_000);
    await page.getByRole("switch", { name: /Sign out when idle/ }).uncheck();
    await idleSwitch(second, false);
    await page.waitForSelector('#state-badge[data-state="running"]', { timeout: WAIT_MS });
    await second.close();
    await page.waitForSelector('#role-badge[data-role="leader"]', { timeout: WAIT_MS });
    step("a mouse move brought the user back in both tabs; idle policy off, second tab closed");

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
    assert.ok(wanted.length >= 9, `controls to reach: ${wanted}`);
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

    // The live channel: a deletion on the server reaches the page at once, without a heartbeat.
    if (await hasLiveChannel(newId)) {
      await page.getByRole("switch", { name: /Live channel/ }).check();
      await page.waitForSelector('#state-badge[data-state="running"]', { timeout: WAIT_MS });
      await until("the leader tab's live socket", async () => (await liveSockets()) >= 1);
      const clickedAt = Date.now();
      await page.getByRole("button", { name: "Delete the session on the server" }).click();
      await page.waitForSelector('#state-badge[data-state="expired"]', { timeout: 1_000 });
      const tookMs = Date.now() - clickedAt;
      await waitForEntries(page, '[data-kind="expired"][data-reason="revoked"]', 1, 1_000);
      await page.waitForSelector("#timeline .note-push", { timeout: 1_000 });
      const sent = (await serverRequests(newId)).filter((r) => r.method === "POST" && r.ms > clickedAt);
      assert.deepEqual(sent, [], "no heartbeat was needed to learn it");
      step(`live channel: deleted on the server, expired · revoked in the page ${tookMs} ms later`);
    } else {
      step("PENDING: live channel (this server has no GET /api/v1/session/{id}/live)");
    }
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
