// The activity-event benchmark page. bench/activity/run.mjs loads it once in headless Chromium
// and calls `window.activityBench.run(kind, events)` for each case, interleaved:
//   none             no listener: the cost of dispatching the events at all
//   session-keeper   a running SessionKeeper with its default options (crossTab on), alone: the
//                    leader of its session once its Web Lock is granted
//   session-keeper leader
//                    the same, with a second keeper of the same session running in another
//                    browsing context (a same-origin iframe, /activity/tab.html) that follows it
//   session-keeper follower
//                    the keeper in this page follows: the iframe's keeper started first and
//                    holds the session's lock, so this page never sends a heartbeat itself
//   react-idle-timer react-idle-timer's useIdleTimer with its default options
//   floor            a reference, not a competitor: one plain JavaScript listener per dispatched
//                    event type (capture, passive) doing what the keeper's fast path does, one
//                    clock read and one comparison
// Each call sets its case up, times `events` dispatches of alternating `mousemove` and `keydown`
// on `document`, tears the case down and returns the elapsed milliseconds. Setup and teardown
// are not timed.

import init, { SessionKeeper } from "session-keeper";
import { useIdleTimer } from "react-idle-timer";
import { mount } from "react";

const status = document.getElementById("status");

async function createSession() {
  const response = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  if (response.status !== 201) throw new Error(`POST /api/v1/session answered ${response.status}`);
  return (await response.json()).session_id;
}

let sessionId = null;
let otherTab = null;

/** Polls `probe` every 10 ms until it returns something truthy; throws `what` after 10 s. */
async function until(what, probe) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens the other browsing context once: a same-origin iframe with a keeper of its own. */
async function openOtherTab() {
  const frame = document.createElement("iframe");
  frame.src = "/activity/tab.html";
  frame.style.display = "none";
  document.body.append(frame);
  await until("the other tab to load", () => frame.contentWindow?.otherTabReady);
  return frame.contentWindow.otherTab;
}

/** Starts a keeper in this page and waits until its start heartbeat was answered (when it
 * leads) or until it has adopted the leader's view (when it follows): no request is in flight
 * and the throttle window is open, so every timed event takes the gated fast path. */
async function startKeeper(role) {
  let answered = null;
  const keeper = new SessionKeeper({
    url: "/api/v1/session/{sessionId}/heartbeat",
    sessionId,
    onHeartbeat: (event) => (answered = event),
    onError: (event) => (answered = event),
  });
  keeper.start();
  if (role === "leader") {
    const event = await until("the start heartbeat's answer", () => answered);
    if (!event.ok) throw new Error(`the keeper's start heartbeat failed: ${event.code}`);
    if (event.source !== "this-tab") throw new Error(`the start heartbeat came from ${event.source}`);
    if (!keeper.isLeader) throw new Error("the keeper does not lead after its start heartbeat");
  } else {
    await until("the follower to adopt the leader's view", () => keeper.lastHeartbeatAt);
    if (keeper.isLeader) throw new Error("the keeper leads, but another tab started first");
  }
  if (keeper.state !== "running") throw new Error(`keeper is ${keeper.state}`);
  return keeper;
}

/** Starts the other tab's keeper and waits until it leads (its start heartbeat answered) or
 * follows (it has adopted this page's leader's view). */
async function startOtherTab(role) {
  otherTab.start(sessionId);
  if (role === "leader") {
    const view = await until("the other tab's start heartbeat", () => otherTab.view().answered);
    if (!view.ok) throw new Error(`the other tab's start heartbeat failed: ${view.code}`);
    if (!otherTab.view().isLeader) throw new Error("the other tab does not lead");
  } else {
    await until("the other tab to follow", () => otherTab.view().lastHeartbeatAt);
    if (otherTab.view().isLeader) throw new Error("the other tab leads, but this page started first");
  }
}

function dispose(keeper) {
  keeper.stop();
  keeper.free();
}

const cases = {
  none: async () => () => {},

  "session-keeper": async () => {
    const keeper = await startKeeper("leader");
    return () => dispose(keeper);
  },

  "session-keeper leader": async () => {
    const keeper = await startKeeper("leader");
    await startOtherTab("follower");
    return () => {
      otherTab.stop();
      dispose(keeper);
    };
  },

  "session-keeper follower": async () => {
    await startOtherTab("leader");
    const keeper = await startKeeper("follower");
    return () => {
      dispose(keeper);
      otherTab.stop();
    };
  },

  floor: async () => {
    const gate = Date.now() + 60_000;
    let passed = 0;
    const listener = () => {
      if (Date.now() >= gate) passed++;
    };
    const options = { capture: true, passive: true };
    for (const type of ["mousemove", "keydown"]) document.addEventListener(type, listener, options);
    return () => {
      for (const type of ["mousemove", "keydown"]) {
        document.removeEventListener(type, listener, options);
      }
      if (passed) throw new Error("the floor listener's gate opened");
    };
  },

  "react-idle-timer": async () => {
    const timer = mount(useIdleTimer, {}); // every option at its default
    if (timer.value.isIdle()) throw new Error("react-idle-timer is idle at mount");
    return () => {
      timer.value.pause();
      timer.unmount();
    };
  },
};

function dispatch(count) {
  const move = new MouseEvent("mousemove", { bubbles: true, clientX: 10, clientY: 10 });
  const key = new KeyboardEvent("keydown", { bubbles: true, key: "a" });
  const started = performance.now();
  for (let i = 0; i < count; i += 2) {
    document.dispatchEvent(move);
    document.dispatchEvent(key);
  }
  return performance.now() - started;
}

let held = null;

window.activityBench = {
  async ready() {
    await init();
    sessionId = await createSession();
    otherTab = await openOtherTab();
    status.textContent = `ready, session ${sessionId}`;
    return { sessionId, userAgent: navigator.userAgent, gc: typeof globalThis.gc === "function" };
  },

  /** Sets a case up and keeps it running until `release()` (to count its listeners). */
  async hold(kind) {
    if (held) throw new Error("a case is already held");
    held = await cases[kind]();
  },

  release() {
    held?.();
    held = null;
  },

  /** Runs one case and returns the milliseconds `events` dispatches took. */
  async run(kind, events) {
    const setup = cases[kind];
    if (!setup) throw new Error(`unknown case ${kind}`);
    const teardown = await setup();
    try {
      dispatch(2_000); // warm this case's listener up before timing
      if (typeof globalThis.gc === "function") globalThis.gc();
      return dispatch(events);
    } finally {
      teardown();
    }
  },
};
status.textContent = "loaded";
