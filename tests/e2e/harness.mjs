// Shared by the multi-tab and answers tests (tests/e2e) and the tabs benchmark (bench/tabs): a
// bare page on keeper-server's origin that runs one SessionKeeper and records its events, the
// server's own record of the requests it received, and waiting with a deadline.
//
// No package is imported here, so bench/ can use this file with its own playwright-core.

export { CHROMIUM } from "../chromium.mjs";

/** A document of keeper-server's own (a JSON answer, 200) that each tab opens first, so that the
 * page has the server's origin and address space, as an app's page served by its server has; the
 * harness page is then written into it. (A page made up by the browser, such as a route answered
 * by Playwright, counts as a public address: Chromium's Local Network Access checks then refuse
 * its WebSocket to the loopback server.) */
export const HARNESS_PATH = "/healthz";

/** Every callback option of SessionKeeper (src/js/options.rs). */
const CALLBACKS = ["onHeartbeat", "onError", "onWarning", "onRecovered", "onExpired"].concat(
  ["onStateChange", "onPrompt", "onIdle", "onActive", "onLeaderChange"],
);

// The page: loads the package the server serves at /pkg/, then waits for the test to create a
// keeper. Every callback appends {cb, at, ...payload} to `tab.events`; `at` is Date.now() when
// the callback ran. Nothing else runs on it, so the only activity is what the test makes.
const HARNESS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keeper tab</title>
<link rel="icon" href="data:,">
<script type="module">
import init, { SessionKeeper } from "/pkg/session_keeper.js";
await init();
const CALLBACKS = ${JSON.stringify(CALLBACKS)};
const events = [];
let keeper = null;
window.tab = {
  events,
  create(options) {
    const callbacks = {};
    for (const cb of CALLBACKS) {
      callbacks[cb] = (payload) => events.push({ cb, at: Date.now(), ...payload });
    }
    keeper = new SessionKeeper({ ...options, ...callbacks });
  },
  start() { keeper.start(); return Date.now(); },
  stop() { keeper.stop(); },
  activate() { keeper.activate(); return Date.now(); },
  beat() { return keeper.beat(); },
  free() { keeper?.free(); keeper = null; },
  view() {
    if (!keeper) return null;
    return {
      state: keeper.state,
      presence: keeper.presence,
      isLeader: keeper.isLeader,
      expiresAt: keeper.expiresAt,
      lastHeartbeatAt: keeper.lastHeartbeatAt,
      idleAt: keeper.idleAt,
      consecutiveFailures: keeper.consecutiveFailures,
    };
  },
};
window.tabReady = true;
</script></head><body><main style="height:100vh">tab</main></body></html>`;

/** Where the tabs open on the server at `base`; the harness is written over that document. */
export function harnessUrl(base) {
  return new URL(HARNESS_PATH, base).href;
}

/** Opens a harness page in `context` and waits for the package to load. */
export async function openTab(context, url, problems = []) {
  const page = await context.newPage();
  // Each problem names its tab once the test has labelled it (page.label).
  const tab = () => (page.label ? `${page.label}: ` : "");
  page.on("pageerror", (error) => problems.push(`${tab()}page error: ${error.message}`));
  page.on("console", (message) => {
    const type = message.type();
    if (type !== "error" && type !== "warning") return;
    const where = message.location()?.url;
    // The browser asks for /favicon.ico on the JSON document the tab opens first.
    if (where && new URL(where).pathname === "/favicon.ico") return;
    problems.push(`${tab()}console ${type}: ${message.text()}${where ? ` (${where})` : ""}`);
  });
  const response = await page.goto(url);
  if (response?.status() !== 200) throw new Error(`GET ${url}: ${response?.status()}`);
  await page.setContent(HARNESS_HTML);
  await page.waitForFunction(() => window.tabReady === true, null, { timeout: 15_000 });
  return page;
}

/** Creates and starts a keeper in each page at (nearly) the same moment; resolves with the
 * start times. */
export async function startKeepers(pages, options) {
  await Promise.all(pages.map((page) => page.evaluate((o) => window.tab.create(o), options)));
  return Promise.all(pages.map((page) => page.evaluate(() => window.tab.start())));
}

export const view = (page) => page.evaluate(() => window.tab.view());
export const events = (page, cb) =>
  page.evaluate((cb) => window.tab.events.filter((e) => !cb || e.cb === cb), cb);

/** Polls `probe` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function waitFor(what, probe, { timeoutMs = 10_000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
    } catch (error) {
      last = error;
      if (Date.now() >= deadline) throw error;
    }
    if (last && !(last instanceof Error)) return last;
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The server side: create and delete sessions, and read what it received. */
export class Server {
  constructor(base) {
    this.base = new URL("/", base).href;
  }

  url(path) {
    return new URL(path, this.base).href;
  }

  async createSession() {
    const response = await fetch(this.url("/api/v1/session"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const body = await response.json();
    if (response.status !== 201) throw new Error(`POST /api/v1/session: ${response.status}`);
    return { id: String(body.session_id), ttlMs: Number(body.ttl_seconds) * 1000 };
  }

  async deleteSession(id) {
    const response = await fetch(this.url(`/api/v1/session/${encodeURIComponent(id)}`), {
      method: "DELETE",
    });
    return response.status;
  }

  async sessionStatus(id) {
    const response = await fetch(this.url(`/api/v1/session/${encodeURIComponent(id)}`));
    return response.status;
  }

  /** The requests the server recorded for a session, oldest first, each with `ms` (epoch ms of
   * its arrival). */
  async requests(sessionId) {
    const query = sessionId === undefined ? "" : `?session_id=${encodeURIComponent(sessionId)}`;
    const response = await fetch(this.url(`/api/v1/demo/requests${query}`), { cache: "no-store" });
    if (response.status !== 200) throw new Error(`GET /api/v1/demo/requests: ${response.status}`);
    const body = await response.json();
    return body.requests.map((r) => ({ ...r, ms: Date.parse(r.at) })).reverse();
  }

  /** The number of the last request the server recorded (0 for none). */
  async lastSeq() {
    return (await this.requests()).at(-1)?.seq ?? 0;
  }

  /** The heartbeats (POSTs to …/heartbeat) the server received for a session, oldest first. */
  async heartbeats(sessionId) {
    return (await this.requests(sessionId)).filter(
      (r) => r.method === "POST" && r.path.endsWith("/heartbeat"),
    );
  }
}

/** The keeper options of a session on `server`. */
export function keeperOptions(session, extra = {}) {
  return {
    url: "/api/v1/session/{sessionId}/heartbeat",
    sessionId: session.id,
    body: { client: "e2e" },
    ...extra,
  };
}

/** The longest gap between consecutive times, and where it is. */
export function longestGap(times) {
  let gap = 0;
  let at = null;
  for (let i = 1; i < times.length; i += 1) {
    if (times[i] - times[i - 1] > gap) {
      gap = times[i] - times[i - 1];
      at = times[i - 1];
    }
  }
  return { gap, at };
}
