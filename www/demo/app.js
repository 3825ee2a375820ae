// The session-keeper demo page: creates a session on keeper-server, keeps it alive with a
// SessionKeeper, and shows what happens: the state, the countdown to expiry, a timeline of the
// heartbeats, every callback in a log, and (with `keeper-server --demo`) what the server holds.
//
// Tabs of the demo keep ONE session: its id and the switches live in localStorage, so a second
// tab joins the first one's session, and "New session" or a switch in one tab moves them all.
// The keepers then share the work (crossTab): one tab leads and sends the heartbeats, the others
// hear each result; the page shows which tab this is and marks news from the other tab.
//
// Query parameters:
//   ?demo=fast   test timings (a heartbeat every 1.5 s) so the end-to-end test takes seconds.
//   ?real=1      start with the real timings (unless another tab of the demo chose already).
//
// Every string that came from a server goes into the DOM through textContent.

import { drawLegend, drawTimeline } from "./timeline.js";

/** The wasm package's class, once loaded (see main). */
let SessionKeeper = null;

const API = "/api/v1";
const HEARTBEAT_URL = `${API}/session/{sessionId}/heartbeat`;
const OUTAGE_MS = 15_000;
const SERVER_POLL_MS = 2_000;
const LOG_LIMIT = 200;
const MARK_LIMIT = 400;

/** The keeper's timings, by name. `fast` replaces `demo` with ?demo=fast. */
const TIMINGS = {
  demo: {
    name: "demo",
    intervalMs: 10_000,
    activityThrottleMs: 3_000,
    ttlMs: 30_000,
    failureWarningMs: 8_000,
    timeoutMs: 5_000,
    retryMinMs: 1_000,
    retryMaxMs: 5_000,
  },
  fast: {
    name: "fast",
    intervalMs: 1_500,
    activityThrottleMs: 1_000,
    ttlMs: 6_000,
    failureWarningMs: 3_000,
    timeoutMs: 3_000,
    retryMinMs: 500,
    retryMaxMs: 2_000,
  },
  real: {
    name: "real",
    intervalMs: 300_000,
    activityThrottleMs: 60_000,
    ttlMs: 1_200_000,
    failureWarningMs: 120_000,
    timeoutMs: 10_000,
    retryMinMs: 2_000,
    retryMaxMs: 60_000,
  },
};

/** The idle policy each timing uses when "Sign out when idle" is on. */
const IDLE_POLICIES = {
  demo: { idleTimeoutMs: 30_000, promptBeforeIdleMs: 15_000 },
  fast: { idleTimeoutMs: 8_000, promptBeforeIdleMs: 4_000 },
  real: { idleTimeoutMs: 900_000, promptBeforeIdleMs: 60_000 },
};

/** What the tabs of the demo share, in localStorage: { session, expiresAt, settings }. */
const SHARED_KEY = "session-keeper-demo";
const DEFAULT_SETTINGS = { real: false, idle: false, live: false };

const STATES = {
  ready: { icon: "○", text: "Ready" },
  running: { icon: "●", text: "Running" },
  failing: { icon: "▲", text: "Failing" },
  expired: { icon: "✕", text: "Expired" },
  stopped: { icon: "■", text: "Stopped" },
};

const params = new URLSearchParams(location.search);
const fastDemo = params.get("demo") === "fast";
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

const $ = (id) => document.getElementById(id);
const ui = {
  badge: $("state-badge"),
  countdown: $("countdown"),
  countdownLabel: $("countdown-label"),
  factSession: $("fact-session"),
  factTtl: $("fact-ttl"),
  factLast: $("fact-last"),
  factFailures: $("fact-failures"),
  role: $("role-badge"),
  tabLink: $("link-tab"),
  presenceItem: $("fact-presence-item"),
  presence: $("fact-presence"),
  code: $("keeper-code"),
  codeCaption: $("code-caption"),
  ttlNote: $("ttl-note"),
  beat: $("btn-beat"),
  toggle: $("btn-toggle"),
  newSession: $("btn-new"),
  real: $("toggle-real"),
  idle: $("toggle-idle"),
  idleNote: $("idle-note"),
  live: $("toggle-live"),
  dialog: $("idle-dialog"),
  dialogTitle: $("idle-title"),
  dialogText: $("idle-text"),
  dialogCountdown: $("idle-countdown"),
  stay: $("btn-stay"),
  broken: $("btn-broken"),
  outage: $("btn-outage"),
  del: $("btn-delete"),
  hint: $("activity-hint"),
  timeline: $("timeline"),
  timelineDesc: $("timeline-desc"),
  timelineSpan: $("timeline-span"),
  legend: $("legend"),
  log: $("log"),
  serverStatus: $("server-status"),
  serverBody: $("server-body"),
  serverOff: $("server-off"),
  sessionsBody: $("sessions-body"),
  sessionsCount: $("sessions-count"),
  requests: $("requests"),
  stream: $("stream-summary"),
};

/** Everything the page knows; only this module touches it. */
const page = {
  keeper: null,
  /** The switches, as every tab of the demo shares them. */
  settings: { ...DEFAULT_SETTINGS },
  timings: fastDemo ? TIMINGS.fast : TIMINGS.demo,
  /** { id, createdAt, ttlMs, expiresAt } of this page's session. */
  session: null,
  /** Timeline marks of the current session. */
  marks: [],
  /** Expiries that a later heartbeat replaced. */
  ghosts: [],
  /** The session's expiry as last reported (survives recreating the keeper). */
  keeperExpiry: undefined,
  endedAt: undefined,
  endedLabel: "",
  outages: [],
  outageUntil: 0,
  /** true, false, or null until the first answer. */
  demoEndpoints: null,
  server: { sessions: [], count: 0, requests: [], fetchedAt: 0, offsetMs: 0, reachable: true },
  busy: false,
};

// ---------------------------------------------------------------------------------------------
// Formatting

const clock = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

function formatTime(ms) {
  return clock.format(new Date(ms));
}

/** A remaining duration as m:ss (or h:mm:ss). */
function formatIn(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** A duration in words: "850 ms", "12 s", "5 min". */
function formatSpan(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 3_600_000).toFixed(1))} h`;
}

function formatAgo(ms) {
  if (ms < 1500) return "just now";
  return `${formatSpan(Math.round(ms / 1000) * 1000)} ago`;
}

function shortId(id) {
  return String(id).slice(0, 8);
}

const TIMINGS_NAMES = { demo: "demo timings", fast: "fast test timings (?demo=fast)", real: "real timings" };

function timingsText(t) {
  return `${TIMINGS_NAMES[t.name]}: a heartbeat every ${formatSpan(t.intervalMs)}, on activity at most every ${formatSpan(t.activityThrottleMs)}, a warning after ${formatSpan(t.failureWarningMs)} of failures`;
}

/** The idle policy of the current timings, or null when the switch is off. */
function idlePolicy() {
  return page.settings.idle ? IDLE_POLICIES[page.timings.name] : null;
}

/** The constructor call this page makes, as code: [text, class] pieces per line. */
function keeperCode(t, sessionId) {
  const num = (name, value) => [[`${name}: `], [String(value), "tok-num"]];
  const join = (...pairs) => pairs.flatMap((pair, i) => (i ? [[", "], ...pair] : pair));
  return [
    [["const keeper = new "], ["SessionKeeper", "tok-type"], ["({"]],
    [["  url: "], ['"/api/v1/session/{sessionId}/heartbeat"', "tok-str"], [","]],
    [["  sessionId: "], [`"${sessionId}"`, "tok-str"], [","]],
    [
      ["  "],
      ...join(num("intervalMs", t.intervalMs), num("activityThrottleMs", t.activityThrottleMs)),
      [","],
    ],
    [["  "], ...join(num("ttlMs", t.ttlMs), num("failureWarningMs", t.failureWarningMs)), [","]],
    [
      ["  "],
      ...join(
        num("timeoutMs", t.timeoutMs),
        num("retryMinMs", t.retryMinMs),
        num("retryMaxMs", t.retryMaxMs),
      ),
      [","],
    ],
    ...(idlePolicy()
      ? [
          [
            ["  "],
            ...join(
              num("idleTimeoutMs", idlePolicy().idleTimeoutMs),
              num("promptBeforeIdleMs", idlePolicy().promptBeforeIdleMs),
            ),
            [","],
          ],
        ]
      : []),
    ...(page.settings.live ? [[["  live: "], ["true", "tok-num"], [","]]] : []),
    [["  // crossTab: true by default", "tok-fn"]],
    [["  onHeartbeat, onError, onWarning, onRecovered,", "tok-fn"]],
    [["  onExpired, onStateChange, onLeaderChange,", "tok-fn"]],
    ...(idlePolicy() ? [[["  onPrompt, onIdle, onActive,", "tok-fn"]]] : []),
    [["});"]],
    [["keeper.start();"]],
  ];
}

function renderCode() {
  const lines = keeperCode(page.timings, page.session?.id ?? "…");
  const nodes = lines.flatMap((pieces, i) => {
    const parts = pieces.map(([text, cls]) => {
      if (!cls) return text;
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      return span;
    });
    return i < lines.length - 1 ? [...parts, "\n"] : parts;
  });
  ui.code.replaceChildren(...nodes);
  ui.codeCaption.textContent = `The keeper on this page, with ${TIMINGS_NAMES[page.timings.name]}`;
}

// ---------------------------------------------------------------------------------------------
// The event log

/**
 * Adds a line at the top of the log. `source` is "keeper" for SessionKeeper callbacks and "page"
 * for what this page did itself (its own requests are not keeper events); `tab` is the event's
 * own source, "this-tab" or "other-tab" (news the leader tab told this one).
 */
function log(kind, summary, { source = "keeper", tab, tone = "info", data = {} } = {}) {
  const li = document.createElement("li");
  li.className = `entry tone-${tone} source-${source}${tab === "other-tab" ? " from-other-tab" : ""}`;
  li.dataset.kind = kind;
  li.dataset.source = source;
  if (tab) li.dataset.tab = tab;
  for (const [key, value] of Object.entries(data)) li.dataset[key] = String(value);
  const time = document.createElement("time");
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = formatTime(now.getTime());
  const label = document.createElement("span");
  label.className = "entry-kind";
  label.textContent = kind;
  const text = document.createElement("span");
  text.className = "entry-text";
  text.textContent = summary;
  li.append(time, label, text);
  if (source === "page") {
    const origin = document.createElement("span");
    origin.className = "entry-origin";
    origin.textContent = "page, not a keeper event";
    li.append(origin);
  } else if (tab === "other-tab") {
    const origin = document.createElement("span");
    origin.className = "entry-origin entry-tab";
    origin.textContent = "from the leader tab";
    li.append(origin);
  }
  ui.log.prepend(li);
  while (ui.log.childElementCount > LOG_LIMIT) ui.log.lastElementChild.remove();
}

function addMark(mark) {
  page.marks.push(mark);
  if (page.marks.length > MARK_LIMIT) page.marks.shift();
  updateTimelineDescription();
}

// ---------------------------------------------------------------------------------------------
// The keeper

/** "from the leader tab" for news another tab told this one, else "". */
function fromOther(e) {
  return e.source === "other-tab" ? " · from the leader tab" : "";
}

/** The callbacks: each one logs, and feeds the timeline and the badges. */
function callbacks() {
  return {
    onHeartbeat(e) {
      const previous = page.keeperExpiry;
      if (previous !== undefined && previous !== e.expiresAt) {
        page.ghosts.push(previous);
        if (page.ghosts.length > MARK_LIMIT) page.ghosts.shift();
      }
      page.keeperExpiry = e.expiresAt;
      // The leader tells the other tabs when the session now expires.
      if (e.source === "this-tab") writeShared({ expiresAt: e.expiresAt });
      const pushed = previous !== undefined ? ` · pushed +${formatSpan(e.expiresAt - previous)}` : "";
      addMark({
        at: e.sentAt,
        source: "keeper",
        tab: e.source,
        ok: true,
        reason: e.reason,
        title: `${e.reason} heartbeat · ${e.status} · ${formatTime(e.sentAt)}${fromOther(e)}`,
      });
      log(
        "heartbeat",
        `${e.reason} · ${e.status} · ${Math.round(e.latencyMs)} ms · expires ${formatTime(e.expiresAt)}${pushed}`,
        {
          tone: "ok",
          tab: e.source,
          data: { reason: e.reason, status: e.status },
        },
      );
      render();
    },
    onError(e) {
      addMark({
        at: e.sentAt,
        source: "keeper",
        tab: e.source,
        ok: false,
        reason: e.reason,
        status: e.status,
        title: `${e.reason} heartbeat failed · ${e.status || "no answer"} ${e.code} · ${formatTime(e.sentAt)}${fromOther(e)}`,
      });
      const status = e.status ? `${e.status} ` : "no answer · ";
      log("error", `${e.reason} · ${status}${e.code} · ${e.message}`, {
        tone: "bad",
        tab: e.source,
        data: { reason: e.reason, status: e.status, code: e.code },
      });
      render();
    },
    onWarning(e) {
      addMark({
        at: Date.now(),
        source: "note",
        tone: "warn",
        label: "warning",
        title: `warning · ${e.failures} failures in a row${fromOther(e)}`,
      });
      log(
        "warning",
        `${e.failures} failures in a row since ${formatTime(e.since)}: the session may be lost`,
        {
          tone: "warn",
          tab: e.source,
          data: { failures: e.failures },
        },
      );
    },
    onRecovered(e) {
      addMark({
        at: Date.now(),
        source: "note",
        tone: "ok",
        label: "recovered",
        title: `recovered after ${e.failures} failures${fromOther(e)}`,
      });
      log("recovered", `after ${e.failures} failures · ${formatSpan(e.downtimeMs)} since the first one`, {
        tone: "ok",
        tab: e.source,
        data: { failures: e.failures },
      });
    },
    onExpired(e) {
      page.endedAt = Date.now();
      // A tab opened from now on starts a new session rather than joining this one.
      if (readShared().session?.id === page.session?.id) writeShared({ expiresAt: 0 });
      page.endedLabel = `expired · ${e.reason}`;
      const revoked = e.reason === "revoked";
      if (revoked) {
        // The server pushed the end over the live channel: no heartbeat was needed to learn it.
        addMark({
          at: page.endedAt,
          source: "note",
          tone: "push",
          label: "pushed: revoked",
          title: `the server pushed the end of the session over the live channel${fromOther(e)}`,
        });
      }
      const how = revoked ? " (the server pushed it over the live channel)" : "";
      log("expired", `${e.reason}${how} · the keeper stopped; create a new session to go on`, {
        tone: "bad",
        tab: e.source,
        data: { reason: e.reason },
      });
      render();
    },
    onStateChange(e) {
      log("state", `${e.from} → ${e.to}`, {
        tone: e.to === "failing" || e.to === "expired" ? "warn" : "muted",
        data: { to: e.to },
      });
      render();
    },
    onLeaderChange(e) {
      log(
        "leader",
        e.isLeader
          ? "this tab now sends the heartbeats for every tab of the session"
          : "another tab sends the heartbeats now; this one hears each result",
        { tone: "muted", data: { leader: e.isLeader } },
      );
      render();
    },
    onPrompt(e) {
      addMark({ at: Date.now(), source: "note", tone: "warn", label: "prompt", title: "idle prompt" });
      const at = formatTime(e.idleAt);
      log("prompt", `no activity in any tab: signed out in ${formatSpan(e.remainingMs)}, at ${at}`, {
        tone: "warn",
      });
      render();
    },
    onIdle(e) {
      addMark({ at: e.idleAt, source: "note", tone: "warn", label: "idle", title: "idle: signed out" });
      log("idle", "signed out: timer heartbeats stopped, the server's TTL ends the session", {
        tone: "bad",
      });
      render();
    },
    onActive(e) {
      const where = e.source === "other-tab" ? "in another tab" : "in this tab";
      log("active", `the user is back (${where}): heartbeats go on`, { tone: "ok", tab: e.source });
      render();
    },
  };
}

/** Replaces the keeper (freeing the old one) with one for the current session and settings. */
function startKeeper() {
  stopKeeper();
  const { name: _name, ...timings } = page.timings;
  page.keeper = new SessionKeeper({
    url: HEARTBEAT_URL,
    sessionId: page.session.id,
    ...timings,
    ...(idlePolicy() ?? {}),
    ...(page.settings.live ? { live: true } : {}),
    body: { client: "session-keeper demo" },
    ...callbacks(),
  });
  page.keeper.start();
  render();
}

function stopKeeper() {
  if (page.keeper) {
    page.keeper.free();
    page.keeper = null;
  }
}

function keeperState() {
  return page.keeper ? page.keeper.state : "ready";
}

function isActive() {
  const state = keeperState();
  return state === "running" || state === "failing";
}

// ---------------------------------------------------------------------------------------------
// The server

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// What the tabs of the demo share

function readShared() {
  try {
    return JSON.parse(localStorage.getItem(SHARED_KEY) ?? "null") ?? {};
  } catch {
    return {};
  }
}

function writeShared(patch) {
  try {
    localStorage.setItem(SHARED_KEY, JSON.stringify({ ...readShared(), ...patch }));
  } catch {
    // Storage off (a private mode, a policy): this tab keeps a session of its own.
  }
}

/** Takes the switches on: the timings, the idle policy, the live channel. */
function applySettings(settings) {
  page.settings = { ...DEFAULT_SETTINGS, ...settings };
  page.timings = page.settings.real ? TIMINGS.real : fastDemo ? TIMINGS.fast : TIMINGS.demo;
}

/** Makes `session` this page's: a new timeline, nothing ended yet. */
function useSession(session) {
  page.session = session;
  page.marks = [];
  page.ghosts = [];
  page.keeperExpiry = undefined;
  page.endedAt = undefined;
  closeIdleDialog();
}

async function createSession() {
  const response = await fetch(`${API}/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  const body = await readJson(response);
  if (response.status !== 201 || !body?.session_id) {
    const code = body?.error?.code ?? `HTTP ${response.status}`;
    throw new Error(`POST ${API}/session answered ${response.status} ${code}`);
  }
  const now = Date.now();
  useSession({
    id: String(body.session_id),
    createdAt: now,
    ttlMs: Number(body.ttl_seconds) * 1000,
  });
  page.keeperExpiry = now + page.session.ttlMs;
  writeShared({ session: page.session, expiresAt: page.keeperExpiry, settings: page.settings });
  log(
    "session",
    `POST /api/v1/session · 201 · ${shortId(page.session.id)} · server TTL ${formatSpan(page.session.ttlMs)}`,
    {
      source: "page",
      tone: "muted",
    },
  );
}

async function newSession() {
  if (page.busy) return;
  page.busy = true;
  render();
  try {
    stopKeeper();
    await createSession();
    startKeeper();
  } catch (error) {
    log("page error", String(error.message ?? error), { source: "page", tone: "bad" });
  } finally {
    page.busy = false;
    render();
  }
  pollServer();
}

/** Another tab of the demo wrote the shared state: follow its session and its switches. */
function onSharedChange(event) {
  if (event.key !== SHARED_KEY || !SessionKeeper || page.busy) return;
  const shared = readShared();
  const session = shared.session;
  const settings = { ...DEFAULT_SETTINGS, ...shared.settings };
  const newSessionThere = session?.id && session.id !== page.session?.id;
  const changed = Object.keys(DEFAULT_SETTINGS).filter((key) => settings[key] !== page.settings[key]);
  if (!newSessionThere && changed.length === 0) return;
  applySettings(settings);
  if (newSessionThere) {
    useSession(session);
    page.keeperExpiry = shared.expiresAt;
    log("session", `another tab moved to session ${shortId(session.id)}: this tab follows`, {
      source: "page",
      tone: "muted",
    });
    pollServer();
  } else {
    log("settings", `another tab switched ${changed.join(", ")}: keeper recreated`, {
      source: "page",
      tone: "muted",
    });
  }
  startKeeper();
}

/** Changes a switch here and in every tab of the demo. */
function changeSetting(key, value) {
  applySettings({ ...page.settings, [key]: value });
  writeShared({ settings: page.settings });
}

/** The bug of seed 004: a POST without `Content-Type: application/json`. */
async function sendBrokenHeartbeat() {
  const id = page.session.id;
  const path = `${API}/session/${encodeURIComponent(id)}/heartbeat`;
  const sentAt = Date.now();
  let status = 0;
  let summary;
  try {
    // A string body makes fetch send `Content-Type: text/plain;charset=UTF-8`.
    const response = await fetch(path, { method: "POST", body: "{}" });
    status = response.status;
    const body = await readJson(response);
    const code = body?.error?.code ?? "";
    const message = body?.error?.message ?? "";
    summary = `POST …/heartbeat without a JSON Content-Type · ${status} ${code}${message ? ` · ${message}` : ""}`;
  } catch (error) {
    summary = `POST …/heartbeat without a JSON Content-Type · no answer · ${error.message ?? error}`;
  }
  addMark({
    at: sentAt,
    source: "broken",
    status,
    title: `plain fetch without JSON Content-Type · ${status || "no answer"} · ${formatTime(sentAt)}`,
  });
  log("broken request", summary, { source: "page", tone: "bad", data: { status } });
  render();
  pollServer();
}

async function deleteSession() {
  const id = page.session.id;
  const response = await fetch(`${API}/session/${encodeURIComponent(id)}`, { method: "DELETE" }).catch(
    () => null,
  );
  const status = response ? response.status : "no answer";
  const how = page.settings.live
    ? "the live channel tells the keeper at once"
    : "the keeper finds out on its next heartbeat: sending one now";
  log("session", `DELETE /api/v1/session/${shortId(id)}… · ${status} · ${how}`, {
    source: "page",
    tone: "muted",
  });
  if (isActive() && !page.settings.live) {
    // Not waiting for the timer: the next heartbeat gets the 404 and the keeper expires.
    page.keeper.beat().catch(() => {});
  }
  pollServer();
}

async function takeServerDown() {
  const response = await fetch(`${API}/demo/outage`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ms: OUTAGE_MS }),
  }).catch(() => null);
  if (response?.status !== 202) {
    log("outage", `POST /api/v1/demo/outage · ${response ? response.status : "no answer"}`, {
      source: "page",
      tone: "bad",
    });
    return;
  }
  const now = Date.now();
  page.outageUntil = now + OUTAGE_MS;
  page.outages.push({ from: now, to: page.outageUntil });
  log(
    "outage",
    `the server stops listening for ${formatSpan(OUTAGE_MS)}, until ${formatTime(page.outageUntil)} · sending a heartbeat now rather than waiting for the timer`,
    {
      source: "page",
      tone: "warn",
    },
  );
  render();
  // The server closes its socket once the 202 is out; a moment later the heartbeat fails.
  setTimeout(() => {
    if (isActive()) page.keeper.beat().catch(() => {});
  }, 300);
}

let pollTimer = 0;
let polling = false;

/** Polls the demo endpoints every 2 s; hides the panel when the server is not in demo mode. */
async function pollServer() {
  clearTimeout(pollTimer);
  if (polling || page.demoEndpoints === false) return;
  const away = page.outageUntil - Date.now();
  if (away > 0) {
    // The server is down on purpose: no point in filling the console with refused requests.
    page.server.reachable = false;
    renderServer();
    pollTimer = setTimeout(pollServer, away + 250);
    return;
  }
  polling = true;
  try {
    if (page.demoEndpoints === null) {
      // /healthz says whether the demo endpoints are on, so none is probed into a 404.
      const health = await readJson(await fetch("/healthz", { cache: "no-store" }));
      if (health?.demo === false) {
        page.demoEndpoints = false;
        render();
        renderServer();
        return;
      }
    }
    const id = page.session ? `?session_id=${encodeURIComponent(page.session.id)}` : "";
    const sessions = await fetch(`${API}/demo/sessions`, { cache: "no-store" });
    const requests = await fetch(`${API}/demo/requests${id}`, { cache: "no-store" });
    const sessionsBody = await readJson(sessions);
    const requestsBody = await readJson(requests);
    const fetchedAt = Date.now();
    page.demoEndpoints = true;
    const list = Array.isArray(sessionsBody?.sessions) ? sessionsBody.sessions : [];
    // The server's clock, as an offset from ours: expires_at minus ttl_seconds is its now.
    const sample = list[0];
    const offsetMs = sample
      ? Date.parse(sample.expires_at) - Number(sample.ttl_seconds) * 1000 - fetchedAt
      : 0;
    page.server = {
      sessions: list,
      count: Number(sessionsBody?.count ?? list.length),
      requests: Array.isArray(requestsBody?.requests) ? requestsBody.requests : [],
      fetchedAt,
      offsetMs: Number.isFinite(offsetMs) ? offsetMs : 0,
      reachable: true,
    };
  } catch {
    page.server.reachable = false;
  } finally {
    polling = false;
  }
  renderServer();
  pollTimer = setTimeout(pollServer, SERVER_POLL_MS);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function render() {
  const state = keeperState();
  const info = STATES[state] ?? STATES.idle;
  ui.badge.dataset.state = state;
  ui.badge.querySelector(".badge-icon").textContent = info.icon;
  const failures = page.keeper?.consecutiveFailures ?? 0;
  const badgeText = state === "failing" ? `${info.text} · ${failures} in a row` : info.text;
  const textNode = ui.badge.querySelector(".badge-text");
  if (textNode.textContent !== badgeText) textNode.textContent = badgeText;

  const session = page.session;
  ui.factSession.textContent = session ? session.id : "–";
  ui.factSession.title = session ? session.id : "";
  ui.factTtl.textContent = session ? formatSpan(session.ttlMs) : "–";
  ui.factFailures.textContent = String(failures);
  renderCode();
  renderRole(state);
  ui.real.checked = page.timings.name === "real";
  ui.idle.checked = page.settings.idle;
  ui.live.checked = page.settings.live;
  const policy = IDLE_POLICIES[page.timings.name];
  ui.idleNote.textContent = `(idle after ${formatSpan(policy.idleTimeoutMs)} without activity in any tab, with a prompt ${formatSpan(policy.promptBeforeIdleMs)} before)`;
  ui.hint.textContent = `Moving the mouse, scrolling or pressing a key counts as activity: at most one heartbeat every ${formatSpan(page.timings.activityThrottleMs)}.`;

  const shortTtl = session && session.ttlMs <= page.timings.intervalMs;
  ui.ttlNote.hidden = !shortTtl;
  if (shortTtl) {
    ui.ttlNote.textContent = `The server's TTL (${formatSpan(session.ttlMs)}) is shorter than the interval (${formatSpan(page.timings.intervalMs)}): the keeper beats a little before each expiry instead.`;
  }

  const active = isActive();
  const expired = state === "expired";
  const ready = Boolean(session) && !page.busy;
  ui.beat.disabled = !ready || !active;
  ui.toggle.disabled = !ready || expired || !page.keeper;
  ui.toggle.textContent = active ? "Stop" : "Start";
  ui.toggle.setAttribute("aria-label", active ? "Stop the keeper" : "Start the keeper");
  ui.real.disabled = !ready || expired;
  ui.idle.disabled = !ready || expired;
  ui.live.disabled = !ready || expired;
  ui.broken.disabled = !ready;
  ui.del.disabled = !ready || expired;
  ui.newSession.classList.toggle("btn-primary", expired);
  ui.newSession.disabled = page.busy;
  renderOutageButton();
  renderClock();
}

/** Which part this tab plays: the leader sends the heartbeats for every tab of the session. */
function renderRole(state) {
  const active = state === "running" || state === "failing";
  const role = !active ? "none" : page.keeper.isLeader ? "leader" : "follower";
  const [name, text] = {
    leader: ["Leader tab", "sends the heartbeats for every tab of this session"],
    follower: ["Follower tab", "the leader tab sends the heartbeats; this one hears each result"],
    none: ["Not taking part", "the keeper is not running"],
  }[role];
  if (ui.role.dataset.role !== role) {
    ui.role.dataset.role = role;
    ui.role.querySelector(".role-name").textContent = name;
    ui.role.querySelector(".role-text").textContent = text;
  }
  const presence = page.keeper?.presence ?? "active";
  ui.presenceItem.hidden = !page.settings.idle || !active;
  const presenceText = { active: "active", prompted: "asked whether still there", idle: "idle, signed out" }[presence];
  if (ui.presence.textContent !== presenceText) ui.presence.textContent = presenceText;
  // An idle user's session ends with the TTL: the "signed out" dialog stays for that end.
  const signedOut = state === "expired" && presence === "idle";
  syncIdleDialog(active || signedOut ? presence : "active");
}

// ---------------------------------------------------------------------------------------------
// The idle prompt

/** Opens, updates or closes the dialog to match the user's presence. */
function syncIdleDialog(presence) {
  const open = presence === "prompted" || presence === "idle";
  if (!open) return closeIdleDialog();
  ui.dialog.dataset.presence = presence;
  const policy = idlePolicy() ?? IDLE_POLICIES[page.timings.name];
  if (presence === "prompted") {
    ui.dialogTitle.textContent = "Still there?";
    const at = page.keeper?.idleAt;
    const when = at === undefined ? "" : ` You will be signed out at ${formatTime(at)}.`;
    ui.dialogText.textContent = `No activity in any tab of this session for ${formatSpan(policy.idleTimeoutMs - policy.promptBeforeIdleMs)}.${when} Moving the mouse does not count now: only the button keeps you signed in.`;
    ui.stay.textContent = "Stay signed in";
  } else {
    ui.dialogTitle.textContent = "Signed out";
    ui.dialogText.textContent = `No activity for ${formatSpan(policy.idleTimeoutMs)}: the keeper stopped its heartbeats in every tab, so the server's TTL ends the session. A real app signs you out here; in the demo, any activity before the end brings you back.`;
    ui.stay.textContent = "Sign in again";
  }
  renderIdleCountdown();
  if (!ui.dialog.open) {
    ui.dialog.showModal();
    ui.stay.focus();
  }
}

function closeIdleDialog() {
  if (ui.dialog.open) ui.dialog.close();
}

function renderIdleCountdown() {
  const idleAt = page.keeper?.idleAt;
  const text =
    ui.dialog.dataset.presence === "prompted" && idleAt !== undefined
      ? `Signed out in ${formatIn(idleAt - Date.now())}`
      : page.keeper?.state === "expired"
        ? "The session has ended."
        : `The session ends at ${formatTime(page.keeper?.expiresAt ?? Date.now())} unless you come back.`;
  if (ui.dialogCountdown.textContent !== text) ui.dialogCountdown.textContent = text;
}

/** "Stay signed in" (or, once idle, "Sign in again"): activate() in every tab, or a new session
 * when this one has ended. */
function staySignedIn() {
  if (isActive()) {
    page.keeper.activate();
    render();
  } else {
    closeIdleDialog();
    newSession();
  }
}

/** Disabled, with a countdown, while the server is away. */
function renderOutageButton() {
  const down = page.outageUntil > Date.now();
  const ready = Boolean(page.session) && !page.busy;
  ui.outage.disabled = !ready || page.demoEndpoints !== true || down;
  const text = down
    ? `Server down · back in ${formatIn(page.outageUntil - Date.now())}`
    : "Take the server down for 15 s";
  if (ui.outage.textContent !== text) ui.outage.textContent = text;
}

/** What changes every tick: the countdown, the relative times, the timeline. */
function renderClock() {
  const now = Date.now();
  const state = keeperState();
  const session = page.session;
  const expiresAt = page.keeper?.expiresAt ?? page.keeperExpiry;
  let countdown = "–:––";
  let label = "until the session expires";
  if (state === "expired") {
    countdown = "expired";
    label = page.endedLabel;
  } else if (expiresAt !== undefined) {
    countdown = formatIn(expiresAt - now);
    label = `until the session expires, at ${formatTime(expiresAt)}`;
  }
  if (ui.countdown.textContent !== countdown) ui.countdown.textContent = countdown;
  if (ui.countdownLabel.textContent !== label) ui.countdownLabel.textContent = label;
  const remaining = expiresAt !== undefined && session ? (expiresAt - now) / session.ttlMs : 1;
  ui.countdown.dataset.urgency = state === "expired" ? "expired" : remaining < 0.25 ? "low" : "ok";

  const last = page.keeper?.lastHeartbeatAt;
  ui.factLast.textContent = last !== undefined ? `${formatTime(last)} (${formatAgo(now - last)})` : "–";

  renderOutageButton();
  if (ui.dialog.open) renderIdleCountdown();

  if (session) {
    const { pastMs, futureMs } = timelineWindow(session);
    ui.timelineSpan.textContent = `${formatSpan(pastMs)} back, ${formatSpan(futureMs)} ahead`;
    drawTimeline(ui.timeline, {
      now,
      pastMs,
      futureMs,
      createdAt: session.createdAt,
      expiresAt: state === "expired" ? undefined : expiresAt,
      ghosts: page.ghosts,
      endedAt: page.endedAt,
      endedLabel: page.endedLabel,
      marks: page.marks,
      outages: page.outages,
      formatTime,
      formatIn,
    });
  }
}

/**
 * About one TTL back and a little more ahead, so the expiry marker is in view; but at most
 * eight intervals back, so heartbeats do not crowd into a few pixels when the TTL is long (the
 * expiry is then drawn as an arrow at the right edge).
 */
function timelineWindow(session) {
  // On a narrow screen, fewer intervals: about 26 px between timer heartbeats at least.
  const width = ui.timeline.getBoundingClientRect().width || 800;
  const intervals = Math.max(3, Math.min(8, (0.42 * width) / 26));
  const pastMs = Math.min(session.ttlMs, intervals * page.timings.intervalMs);
  const futureMs = session.ttlMs <= 1.5 * pastMs ? session.ttlMs * 1.12 : pastMs * 1.25;
  return { pastMs, futureMs };
}

function updateTimelineDescription() {
  const ok = page.marks.filter((m) => m.source === "keeper" && m.ok).length;
  const failed = page.marks.filter((m) => m.source === "keeper" && !m.ok).length;
  const broken = page.marks.filter((m) => m.source === "broken").length;
  const other = page.marks.filter((m) => m.source === "keeper" && m.tab === "other-tab").length;
  ui.timelineDesc.textContent = `${ok} accepted and ${failed} failed heartbeats (${other} of them sent by the leader tab), ${broken} broken requests; the event log lists them all.`;
}

function renderServer() {
  if (page.demoEndpoints === false) {
    ui.serverBody.hidden = true;
    ui.serverOff.hidden = false;
    ui.serverStatus.textContent = "demo endpoints off";
    return;
  }
  const { server } = page;
  const away = page.outageUntil - Date.now();
  ui.serverStatus.textContent = server.reachable
    ? "polled every 2 s"
    : away > 0
      ? `down on purpose · back in ${formatIn(away)}`
      : "unreachable · retrying every 2 s";
  ui.serverStatus.dataset.reachable = String(server.reachable);
  ui.serverBody.classList.toggle("is-stale", !server.reachable);
  renderSessions();
  renderRequests();
}

/** The hub view: the newest sessions, this page's own always among them. */
function renderSessions() {
  const { server } = page;
  const mine = page.session?.id;
  let rows = server.sessions.slice(0, 6);
  const own = server.sessions.find((s) => s.session_id === mine);
  if (own && !rows.includes(own)) rows = [...rows.slice(0, 5), own];
  const now = Date.now();
  const serverNow = now + server.offsetMs;
  const elapsed = now - server.fetchedAt;
  const cells = rows.map((s) => {
    const tr = document.createElement("tr");
    const isMine = s.session_id === mine;
    if (isMine) tr.className = "is-mine";
    const id = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = shortId(s.session_id);
    code.title = String(s.session_id);
    id.append(code);
    if (isMine) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "this page";
      id.append(" ", tag);
    }
    const last = document.createElement("td");
    const lastAt = s.last_heartbeat_at ? Date.parse(s.last_heartbeat_at) : NaN;
    last.textContent = Number.isFinite(lastAt) ? formatAgo(serverNow - lastAt) : "never";
    const expires = document.createElement("td");
    expires.textContent = formatIn(Number(s.ttl_seconds) * 1000 - elapsed);
    const beats = document.createElement("td");
    beats.className = "num";
    beats.textContent = String(s.heartbeats);
    tr.append(id, last, expires, beats);
    return tr;
  });
  if (cells.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4;
    td.className = "empty";
    td.textContent = mine ? "This page's session is gone." : "No sessions.";
    tr.append(td);
    cells.push(tr);
  }
  ui.sessionsBody.replaceChildren(...cells);
  const live = server.count;
  ui.sessionsCount.textContent =
    live === 1
      ? "1 live session."
      : `${live} live sessions${rows.length < live ? `, the newest ${rows.length} shown` : ""}.`;
}

/** What the server really received for this session: the Network panel of seed 004. */
function renderRequests() {
  const mine = page.session?.id ?? "";
  const items = page.server.requests.slice(0, 8).map((r) => {
    const li = document.createElement("li");
    const status = Number(r.status);
    li.className = status >= 400 ? "is-bad" : "is-ok";
    li.dataset.status = String(status);
    const time = document.createElement("span");
    time.className = "req-time";
    const at = Date.parse(r.at) - page.server.offsetMs;
    time.textContent = Number.isFinite(at) ? formatTime(at) : "";
    const what = document.createElement("span");
    what.className = "req-what";
    const method = document.createElement("strong");
    method.textContent = String(r.method);
    // The list is about this session only, so its id is left out of the path.
    const path = String(r.path ?? "")
      .replace(`/api/v1/session/${mine}`, "/session/…")
      .replace(/^\/api\/v1/, "");
    what.append(method, ` ${path}`);
    const type = document.createElement("span");
    type.className = "req-type";
    type.textContent = r.content_type ? String(r.content_type) : "no Content-Type";
    const code = document.createElement("span");
    code.className = "req-status";
    code.textContent = String(status);
    li.append(time, what, type, code);
    return li;
  });
  if (items.length === 0) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "None yet.";
    items.push(li);
  }
  ui.requests.replaceChildren(...items);
  renderStream();
}

/** How many heartbeats the server received for the session lately, and how far apart: one
 * stream however many tabs keep it. */
function renderStream() {
  // Newest first; the keeper's accepted heartbeats only (the broken way's 415 is the page's).
  const beats = page.server.requests
    .filter((r) => r.method === "POST" && /\/heartbeat$/.test(String(r.path)) && r.status < 300)
    .slice(0, 12)
    .map((r) => Date.parse(r.at))
    .filter(Number.isFinite);
  const gaps = beats.slice(1).map((at, i) => beats[i] - at).sort((a, b) => a - b);
  const median = gaps.length ? gaps[Math.floor(gaps.length / 2)] : undefined;
  ui.stream.dataset.count = String(beats.length);
  ui.stream.dataset.gapMs = median === undefined ? "" : String(median);
  ui.stream.textContent =
    median === undefined
      ? beats.length === 1
        ? "One heartbeat so far."
        : ""
      : `One stream, from whichever tab leads: the last ${beats.length} heartbeats came one every ${formatSpan(median)} (the keeper's interval is ${formatSpan(page.timings.intervalMs)}, activity may add some).`;
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wireControls() {
  ui.beat.addEventListener("click", async () => {
    try {
      const result = await page.keeper?.beat();
      // beat() joins a heartbeat already on its way, such as the one this very click (a
      // mousedown or keydown, so activity) may have sent a moment earlier.
      if (result && result.reason !== "manual") {
        log("page", `beat() joined the ${result.reason} heartbeat already on its way`, {
          source: "page",
          tone: "muted",
        });
      }
    } catch (error) {
      log("page", `beat() rejected: ${error.message}`, { source: "page", tone: "warn" });
    }
  });
  ui.toggle.addEventListener("click", () => {
    if (!page.keeper) return;
    if (isActive()) page.keeper.stop();
    else page.keeper.start();
    render();
  });
  ui.real.addEventListener("change", () => {
    changeSetting("real", ui.real.checked);
    log("timings", `${timingsText(page.timings)} · keeper recreated, in every tab`, {
      source: "page",
      tone: "muted",
    });
    startKeeper();
  });
  ui.idle.addEventListener("change", () => {
    changeSetting("idle", ui.idle.checked);
    const policy = IDLE_POLICIES[page.timings.name];
    const text = ui.idle.checked
      ? `idle policy on: a prompt after ${formatSpan(policy.idleTimeoutMs - policy.promptBeforeIdleMs)} without activity in any tab, signed out ${formatSpan(policy.promptBeforeIdleMs)} later`
      : "idle policy off";
    log("settings", `${text} · keeper recreated, in every tab`, { source: "page", tone: "muted" });
    startKeeper();
  });
  ui.live.addEventListener("change", () => {
    changeSetting("live", ui.live.checked);
    const text = ui.live.checked
      ? "live channel on: the leader tab holds a WebSocket on which the server pushes the session's end"
      : "live channel off";
    log("settings", `${text} · keeper recreated, in every tab`, { source: "page", tone: "muted" });
    startKeeper();
  });
  ui.stay.addEventListener("click", staySignedIn);
  // Escape is no answer to "still there?": only the button is.
  ui.dialog.addEventListener("cancel", (event) => event.preventDefault());
  addEventListener("storage", onSharedChange);
  ui.newSession.addEventListener("click", newSession);
  ui.broken.addEventListener("click", sendBrokenHeartbeat);
  ui.del.addEventListener("click", deleteSession);
  ui.outage.addEventListener("click", takeServerDown);
}

let ticker = 0;
function startTicker() {
  clearInterval(ticker);
  // Reduced motion: the timeline moves in one-second steps instead of sliding.
  ticker = setInterval(renderClock, reducedMotion.matches ? 1000 : 250);
}

async function main() {
  drawLegend(ui.legend);
  wireControls();
  const shared = readShared();
  applySettings(shared.settings ?? { ...DEFAULT_SETTINGS, real: params.get("real") === "1" });
  ui.tabLink.href = location.href;
  render();
  startTicker();
  reducedMotion.addEventListener("change", startTicker);
  addEventListener("resize", () => renderClock());
  try {
    // Imported here rather than at the top, so that a missing package is a message on the
    // page, not a blank one.
    const pkg = await import("/pkg/session_keeper.js");
    await pkg.default();
    SessionKeeper = pkg.SessionKeeper;
  } catch (error) {
    log(
      "page error",
      `the wasm package did not load from /pkg/ (run scripts/build-pkg.sh): ${error.message ?? error}`,
      {
        source: "page",
        tone: "bad",
      },
    );
    ui.newSession.disabled = true;
    return;
  }
  // Another tab's session, if it is still alive by what the last heartbeat said: this tab joins
  // it. A reload long after, or a first visit, starts a new one.
  const alive = shared.session?.id && Number(shared.expiresAt) > Date.now() + 1_000;
  if (alive) {
    useSession(shared.session);
    page.keeperExpiry = Number(shared.expiresAt);
    log("session", `joined session ${shortId(page.session.id)}, kept by another tab of the demo`, {
      source: "page",
      tone: "muted",
    });
    startKeeper();
    pollServer();
  } else {
    await newSession();
  }
}

// A read-only handle for tests and for poking at the keeper from the console.
Object.defineProperty(window, "sessionKeeperDemo", {
  value: Object.freeze({
    get keeper() {
      return page.keeper;
    },
    get sessionId() {
      return page.session?.id;
    },
    get timings() {
      return page.timings.name;
    },
  }),
});

main();
