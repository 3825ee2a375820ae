// The activity-event benchmark page. bench/activity/run.mjs loads it once in headless Chromium
// and calls `window.activityBench.run(kind, events)` for each case, interleaved:
//   none             no listener: the cost of dispatching the events at all
//   session-keeper   a running SessionKeeper with its default options
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

const cases = {
  none: async () => () => {},

  "session-keeper": async () => {
    let answered;
    const firstBeat = new Promise((resolve) => (answered = resolve));
    const keeper = new SessionKeeper({
      url: "/api/v1/session/{sessionId}/heartbeat",
      sessionId,
      onHeartbeat: (event) => answered(event),
      onError: (event) => answered(event),
    });
    keeper.start();
    // The start heartbeat: wait for its answer so no request is in flight while timing.
    const event = await firstBeat;
    if (!event.ok) throw new Error(`the keeper's start heartbeat failed: ${event.code}`);
    if (keeper.state !== "running") throw new Error(`keeper is ${keeper.state}`);
    return () => {
      keeper.stop();
      keeper.free();
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
