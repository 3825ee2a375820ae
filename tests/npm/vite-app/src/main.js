// A Vite app that keeps its server session alive: session-keeper is installed from its packed
// tarball and imported the way the README says. Vite bundles the glue and serves the .wasm as a
// hashed asset (it rewrites the glue's `new URL("session_keeper_bg.wasm", import.meta.url)`).
//
// The page creates a session on keeper-server (same origin), keeps it alive, and shows the
// keeper's state and events; `?fast` makes the heartbeats fast for the test (every second).
import init, { SessionKeeper } from "session-keeper";

await init();

const state = document.querySelector("#state");
const log = document.querySelector("#log");

/** Adds one event to the page's log. */
function show(kind, text) {
  const entry = document.createElement("li");
  entry.dataset.kind = kind;
  entry.textContent = `${kind}: ${text}`;
  log.append(entry);
}

const response = await fetch("/api/v1/session", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: "{}",
});
if (response.status !== 201) throw new Error(`POST /api/v1/session answered ${response.status}`);
const { session_id: sessionId } = await response.json();
document.body.dataset.sessionId = sessionId;

const fast = new URLSearchParams(location.search).has("fast");
const keeper = new SessionKeeper({
  url: "/api/v1/session/{sessionId}/heartbeat",
  sessionId,
  ...(fast && { intervalMs: 1000, activityThrottleMs: 500 }),
  onHeartbeat: (event) => show("heartbeat", `${event.reason} ${event.status} in ${event.latencyMs} ms`),
  onError: (event) => show("error", `${event.reason} ${event.status} ${event.code}: ${event.message}`),
  onExpired: (event) => show("expired", event.reason),
  onStateChange: (event) => {
    state.textContent = event.to;
  },
});
keeper.start();
