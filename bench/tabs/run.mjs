// Requests per tab count, in a real browser: 1, 2, 4 and 8 tabs of ONE session (pages of one
// Chromium context, each running a SessionKeeper with crossTab on, as it is by default) against a
// real keeper-server, at scaled timings. The requests are counted where they arrive: the
// server's request log (`--demo`). Each tab count runs twice, side by side in two contexts:
// the user idle (no input at all), and the user active in one tab (real mouse moves every 50 ms
// in the last tab opened, a follower as a rule).
//
//   node bench/tabs/run.mjs [--base URL | --server PATH] [--seconds 30] [--tabs 1,2,4,8]
//
// --base: a keeper-server already running with --demo; --server: a keeper-server binary that is
// started with --demo (and no create limit) on a free port and stopped at the end (default: target/release/keeper-server
// when neither is given). The package it serves at /pkg/ must be built (scripts/build-pkg.sh).
//
// Timings: intervalMs 1000 and activityThrottleMs 200, the real defaults (5 min, 1 min) divided by
// 300, so a 30 s run is 2.5 h of real time for the schedule; the server's TTL does not matter as
// long as it is longer than the interval (its default, 20 min). Progress goes to stderr; stdout
// gets one JSON line:
//   {"timings": {...}, "runs": [{"tabs", "user", "requests", "ratio", "per_hour_real",
//     "leaders", ...}], "chromium": "..."}
// where `ratio` is requests / requests of one tab with the same user, and `per_hour_real` scales
// the count to the real timings (requests per hour at intervalMs 5 min, throttle 1 min).

import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import {
  CHROMIUM,
  Server,
  keeperOptions,
  openTab,
  harnessUrl,
  startKeepers,
  view,
  waitFor,
} from "../../tests/e2e/harness.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TIMINGS = { intervalMs: 1_000, activityThrottleMs: 200 };
/** Real timings over scaled ones: 5 min / 1 s. */
const SCALE = 300;
const MOVE_EVERY_MS = 50;

function parseArgs(argv) {
  const options = { base: null, server: null, seconds: 30, tabs: [1, 2, 4, 8] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--base") options.base = value();
    else if (arg === "--server") options.server = value();
    else if (arg === "--seconds") options.seconds = Number(value());
    else if (arg === "--tabs") options.tabs = value().split(",").map(Number);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!(options.seconds >= 5)) throw new Error("--seconds must be 5 or more");
  if (!options.tabs.includes(1)) options.tabs.unshift(1);
  if (!options.base && !options.server) options.server = resolve(ROOT, "target/release/keeper-server");
  return options;
}

const say = (text) => process.stderr.write(`tabs: ${text}\n`);

/** Starts keeper-server with --demo on a free port; resolves with its base URL and process. */
function startServer(path) {
  return new Promise((resolvePromise, reject) => {
    // Every run creates its session from 127.0.0.1: no per-address create limit.
    const child = spawn(path, ["--addr", "127.0.0.1:0", "--demo", "--create-burst", "100000"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`keeper-server did not start:\n${output}`));
    }, 15_000);
    const read = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ base: `${match[1]}/`, child });
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`keeper-server exited (${code}):\n${output}`));
    });
  });
}

/** One run: `n` tabs of a new session, for `seconds`, the user idle or active in one tab. */
async function measure(browser, server, n, user, seconds) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const problems = [];
  try {
    const harness = harnessUrl(server.base);
    const pages = await Promise.all(Array.from({ length: n }, () => openTab(context, harness, problems)));
    const session = await server.createSession();
    const startedAt = Math.min(...(await startKeepers(pages, keeperOptions(session, TIMINGS))));
    const until = startedAt + seconds * 1000;
    const active = pages.at(-1);
    const leaders = new Set();
    let moves = 0;
    await waitFor(
      `${seconds} s of ${n} tab(s)`,
      async () => {
        if (user === "active") {
          moves += 1;
          await active.mouse.move(100 + (moves % 50) * 10, 100 + (moves % 17) * 20);
        }
        if (user === "idle" || moves % 10 === 0) {
          leaders.add((await Promise.all(pages.map(view))).filter((v) => v.isLeader).length);
        }
        return Date.now() >= until;
      },
      { timeoutMs: seconds * 1000 + 10_000, everyMs: MOVE_EVERY_MS },
    );
    leaders.add((await Promise.all(pages.map(view))).filter((v) => v.isLeader).length);
    const beats = (await server.heartbeats(session.id)).filter((b) => b.ms >= startedAt && b.ms < until);
    const failed = beats.filter((b) => b.status !== 200).length;
    if (problems.length > 0) throw new Error(problems.join("\n"));
    if (failed > 0) throw new Error(`${failed} heartbeats were not answered 200`);
    await server.deleteSession(session.id);
    return { tabs: n, user, requests: beats.length, leaders: [...leaders].sort(), moves };
  } finally {
    await context.close();
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  let child = null;
  let base = options.base;
  if (!base) {
    ({ base, child } = await startServer(options.server));
    say(`keeper-server ${options.server} on ${base}`);
  }
  const server = new Server(base);
  const browser = await chromium.launch(CHROMIUM);
  try {
    const runs = [];
    for (const n of options.tabs) {
      // The two users side by side: the counts depend on the schedule, not on the CPU.
      const pair = await Promise.all(
        ["idle", "active"].map((user) => measure(browser, server, n, user, options.seconds)),
      );
      for (const run of pair) {
        say(`${n} tab(s), user ${run.user}: ${run.requests} requests in ${options.seconds} s`);
        runs.push(run);
      }
    }
    for (const run of runs) {
      const one = runs.find((r) => r.tabs === 1 && r.user === run.user);
      run.ratio = Number((run.requests / one.requests).toFixed(3));
      // The same schedule at real timings: scaled seconds are SCALE times longer.
      run.per_hour_real = Math.round((run.requests * 3600) / (options.seconds * SCALE));
    }
    console.log(
      JSON.stringify({
        timings: { ...TIMINGS, seconds: options.seconds, scale: SCALE, moveEveryMs: MOVE_EVERY_MS },
        runs,
        chromium: browser.version(),
      }),
    );
  } finally {
    await browser.close();
    if (child) {
      child.removeAllListeners("exit");
      child.kill();
    }
  }
}

main().catch((error) => {
  say(`FAILED: ${error.stack ?? error}`);
  process.exit(1);
});
