// Drives bench/activity/index.html in Debian's headless Chromium with playwright-core, in ONE
// page load, and prints the raw timings as one JSON line on stdout.
//   node bench/activity/run.mjs <page-url> <events-per-run> <rounds>
// Each round runs the cases in a rotating order (so none always goes first); one warm-up
// round comes before and is not reported. Between cases, the event listeners on `document` and
// `window` are counted through the DevTools protocol, so a case that failed to tear down (and
// would add its cost to the next one) stops the benchmark.

import { chromium } from "playwright-core";

const [url, eventsArg, roundsArg] = process.argv.slice(2);
const events = Number(eventsArg ?? 200_000);
const rounds = Number(roundsArg ?? 9);
const kinds = [
  "none",
  "session-keeper",
  "session-keeper leader",
  "session-keeper follower",
  "react-idle-timer",
  "floor",
];
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--js-flags=--expose-gc",
  ],
});
const problems = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  const cdp = await page.context().newCDPSession(page);

  async function listeners() {
    const counts = {};
    for (const target of ["document", "window"]) {
      const { result } = await cdp.send("Runtime.evaluate", { expression: target });
      const { listeners } = await cdp.send("DOMDebugger.getEventListeners", {
        objectId: result.objectId,
      });
      counts[target] = listeners.length;
      await cdp.send("Runtime.releaseObject", { objectId: result.objectId });
    }
    return counts;
  }

  await page.goto(url);
  await page.waitForFunction(() => window.activityBench !== undefined, null, { timeout: 30_000 });
  const ready = await page.evaluate(() => window.activityBench.ready());
  if (!ready.gc) throw new Error("gc() is not exposed: --js-flags=--expose-gc was not taken");
  const baseline = await listeners();

  // How many listeners each case attaches, counted once while it runs.
  const attached = {};
  for (const kind of kinds) {
    await page.evaluate((kind) => window.activityBench.hold(kind), kind);
    const during = await listeners();
    await page.evaluate(() => window.activityBench.release());
    attached[kind] = {
      document: during.document - baseline.document,
      window: during.window - baseline.window,
    };
  }

  const results = [];
  for (let round = -1; round < rounds; round++) {
    const order = kinds.map((_, i) => kinds[(i + Math.max(round, 0)) % kinds.length]);
    const timings = {};
    for (const kind of order) {
      timings[kind] = await page.evaluate(
        ([kind, events]) => window.activityBench.run(kind, events),
        [kind, events],
      );
      const after = await listeners();
      if (after.document !== baseline.document || after.window !== baseline.window) {
        throw new Error(
          `${kind} left listeners behind: ${JSON.stringify(after)} vs ${JSON.stringify(baseline)}`,
        );
      }
    }
    if (round >= 0) {
      results.push({ order, ms: timings });
      process.stderr.write(
        `activity round ${round + 1}/${rounds}: ` +
          kinds.map((k) => `${k} ${timings[k].toFixed(2)} ms`).join(", ") +
          "\n",
      );
    }
  }
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(
    JSON.stringify({
      chromium: browser.version(),
      userAgent: ready.userAgent,
      events,
      rounds: results,
      listenersBaseline: baseline,
      listenersAttached: attached,
    }),
  );
} finally {
  await browser.close();
}
