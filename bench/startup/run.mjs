// Time from `init()` to the first heartbeat sent, in Debian's headless Chromium: each load is a
// fresh browser context (its own HTTP cache and compiled-code cache, so the .wasm is fetched and
// compiled anew: a cold load), opening bench/startup/index.html on a keeper-server started with
// --demo, whose request log gives the time each heartbeat arrived. Prints one JSON line on
// stdout; progress goes to stderr.
//   node bench/startup/run.mjs <base-url> [loads]
// Each load creates its own session (from Node, before the page opens). The page runs the keeper
// with crossTab on (the default: the first heartbeat waits for the session's Web Lock) and, in
// alternate loads, with crossTab off; one load of each is a warm-up and is not reported.

import { chromium } from "playwright-core";
import { CHROMIUM } from "../../tests/chromium.mjs";

const [base, loadsArg] = process.argv.slice(2);
if (!base) throw new Error("usage: node bench/startup/run.mjs <base-url> [loads]");
const loads = Number(loadsArg ?? 15);
const variants = [
  { name: "crossTab on", crossTab: true },
  { name: "crossTab off", crossTab: false },
];

async function createSession() {
  const response = await fetch(new URL("/api/v1/session", base), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  if (response.status !== 201) throw new Error(`POST /api/v1/session answered ${response.status}`);
  return String((await response.json()).session_id);
}

/** The epoch ms at which the server received each heartbeat of `session`, oldest first. */
async function receipts(session) {
  const url = new URL(`/api/v1/demo/requests?session_id=${encodeURIComponent(session)}`, base);
  const response = await fetch(url, { cache: "no-store" });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} (is --demo on?)`);
  const { requests } = await response.json();
  return requests
    .filter((r) => r.method === "POST" && r.path.endsWith("/heartbeat"))
    .map((r) => Date.parse(r.at))
    .sort((a, b) => a - b);
}

async function load(browser, variant) {
  const session = await createSession();
  const context = await browser.newContext();
  const problems = [];
  try {
    const page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });
    const url = new URL(`/startup/index.html?session=${session}&crossTab=${variant.crossTab}`, base);
    await page.goto(url.href);
    await page.waitForFunction(() => window.startup?.done === true, null, { timeout: 30_000 });
    const result = await page.evaluate(() => window.startup);
    if (result.error) throw new Error(`${variant.name}: ${result.error}`);
    if (problems.length) throw new Error(problems.join("\n"));
    const [received] = await receipts(session);
    if (received === undefined) throw new Error(`the server recorded no heartbeat for ${session}`);
    const m = result.marks;
    const initStartEpoch = result.timeOrigin + m.initStart;
    return {
      variant: variant.name,
      init_ms: m.initEnd - m.initStart,
      wasm_fetch_after_ms: m.wasmFetch - m.initStart,
      construct_ms: m.constructed - m.initEnd,
      start_ms: m.started - m.constructed,
      init_to_fetch_ms: m.heartbeatFetch - m.initStart,
      start_to_fetch_ms: m.heartbeatFetch - m.constructed,
      init_to_received_ms: received - initStartEpoch,
      init_to_answered_ms: m.answered - m.initStart,
      import_ms: m.importEnd - m.importStart,
      navigation_to_init_ms: m.initStart,
    };
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch(CHROMIUM);
try {
  const runs = [];
  for (let i = -1; i < loads; i += 1) {
    for (const variant of i % 2 === 0 ? variants : [...variants].reverse()) {
      const run = await load(browser, variant);
      if (i < 0) continue;
      runs.push(run);
      process.stderr.write(
        `startup load ${i + 1}/${loads}, ${variant.name}: init ${run.init_ms.toFixed(1)} ms, ` +
          `init to heartbeat fetch ${run.init_to_fetch_ms.toFixed(1)} ms, ` +
          `received ${run.init_to_received_ms.toFixed(1)} ms\n`,
      );
    }
  }
  console.log(JSON.stringify({ chromium: browser.version(), loads, runs }));
} finally {
  await browser.close();
}
