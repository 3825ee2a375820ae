// Uses every option, every event field and every method and getter of the packed package, as an
// application would, and pins each type exactly: `check.mjs` requires it to compile under
// `tsc --strict` with the package's `.d.ts` checked too. An option or a field added to, removed
// from or retyped in the `.d.ts` without this file following makes it fail, and so does a type
// that degrades to `any`.

import init, {
  initSync,
  SessionKeeper,
  type ActiveEvent,
  type BeatResult,
  type EventSource,
  type ExpiredEvent,
  type ExpiryReason,
  type FailureEvent,
  type HeartbeatEvent,
  type HeartbeatReason,
  type IdleEvent,
  type InitOutput,
  type KeeperState,
  type LeaderChangeEvent,
  type Presence,
  type PromptEvent,
  type RecoveredEvent,
  type SessionKeeperOptions,
  type StateChangeEvent,
  type WarningEvent,
} from "session-keeper";

/** True when `A` and `B` are the same type (`any` equals only `any`). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when `A` and `B` are the same type. */
function same<A, B>(proof: Same<A, B>): void {
  void proof;
}

same<KeeperState, "ready" | "running" | "failing" | "expired" | "stopped">(true);
same<Presence, "active" | "prompted" | "idle">(true);
same<HeartbeatReason, "start" | "timer" | "activity" | "manual" | "resume" | "retry">(true);
same<ExpiryReason, "not_found" | "unauthorized" | "ttl_elapsed" | "revoked">(true);
same<EventSource, "this-tab" | "other-tab">(true);
same<BeatResult, HeartbeatEvent | FailureEvent>(true);

function onHeartbeat(event: HeartbeatEvent): void {
  same<keyof HeartbeatEvent, "ok" | "reason" | "status" | "sentAt" | "expiresAt" | "latencyMs" | "source">(true);
  same<typeof event.ok, true>(true);
  same<typeof event.reason, HeartbeatReason>(true);
  same<typeof event.status, number>(true);
  same<typeof event.sentAt, number>(true);
  same<typeof event.expiresAt, number>(true);
  same<typeof event.latencyMs, number>(true);
  same<typeof event.source, EventSource>(true);
  console.log(`${event.reason} ${event.status} in ${event.latencyMs} ms; expires ${new Date(event.expiresAt).toISOString()}`);
}

function onError(event: FailureEvent): void {
  same<keyof FailureEvent, "ok" | "reason" | "status" | "code" | "message" | "sentAt" | "source">(true);
  same<typeof event.ok, false>(true);
  same<typeof event.reason, HeartbeatReason>(true);
  same<typeof event.status, number>(true);
  same<typeof event.code, string>(true);
  same<typeof event.message, string>(true);
  same<typeof event.sentAt, number>(true);
  same<typeof event.source, EventSource>(true);
  console.warn(`${event.reason} failed: ${event.status} ${event.code} ${event.message}`);
}

function onWarning(event: WarningEvent): void {
  same<keyof WarningEvent, "since" | "failures" | "source">(true);
  same<typeof event.since, number>(true);
  same<typeof event.failures, number>(true);
  same<typeof event.source, EventSource>(true);
}

function onRecovered(event: RecoveredEvent): void {
  same<keyof RecoveredEvent, "failures" | "downtimeMs" | "source">(true);
  same<typeof event.failures, number>(true);
  same<typeof event.downtimeMs, number>(true);
  same<typeof event.source, EventSource>(true);
}

function onExpired(event: ExpiredEvent): void {
  same<keyof ExpiredEvent, "reason" | "source">(true);
  same<typeof event.reason, ExpiryReason>(true);
  same<typeof event.source, EventSource>(true);
  if (event.reason === "revoked") location.assign("/login?revoked");
}

function onStateChange(event: StateChangeEvent): void {
  same<keyof StateChangeEvent, "from" | "to">(true);
  same<typeof event.from, KeeperState>(true);
  same<typeof event.to, KeeperState>(true);
}

function onPrompt(event: PromptEvent): void {
  same<keyof PromptEvent, "idleAt" | "remainingMs">(true);
  same<typeof event.idleAt, number>(true);
  same<typeof event.remainingMs, number>(true);
}

function onIdle(event: IdleEvent): void {
  same<keyof IdleEvent, "idleAt">(true);
  same<typeof event.idleAt, number>(true);
}

function onActive(event: ActiveEvent): void {
  same<keyof ActiveEvent, "source">(true);
  same<typeof event.source, EventSource>(true);
}

function onLeaderChange(event: LeaderChangeEvent): void {
  same<keyof LeaderChangeEvent, "isLeader">(true);
  same<typeof event.isLeader, boolean>(true);
}

// Every option: `Required` makes leaving one out an error.
const options = {
  url: "/api/v1/session/{sessionId}/heartbeat",
  sessionId: 42,
  intervalMs: 300_000,
  activityThrottleMs: 60_000,
  ttlMs: 1_200_000,
  failureWarningMs: 120_000,
  timeoutMs: 10_000,
  retryMinMs: 2_000,
  retryMaxMs: 60_000,
  idleTimeoutMs: 900_000,
  promptBeforeIdleMs: 60_000,
  beatOnStart: true,
  crossTab: true,
  live: true,
  activityEvents: ["mousemove", "keydown"],
  headers: { "X-CSRF-Token": "token" },
  body: { page: "/orders", build: 7 },
  credentials: "same-origin",
  onHeartbeat,
  onError,
  onWarning,
  onRecovered,
  onExpired,
  onStateChange,
  onPrompt,
  onIdle,
  onActive,
  onLeaderChange,
} satisfies Required<SessionKeeperOptions>;

// The other accepted forms, and the one required option alone.
const others: SessionKeeperOptions[] = [
  { url: "/api/heartbeat" },
  { url: "/api/session/{sessionId}/heartbeat", sessionId: "abc", live: "wss://example.test/live/{sessionId}" },
  { url: "/api/heartbeat", live: false, credentials: "include", body: {}, headers: {} },
  { url: "/api/heartbeat", credentials: "omit", onHeartbeat: (event) => void event.latencyMs },
];

export async function main(wasm: BufferSource): Promise<void> {
  // Every form of init: the default URL beside the module, a URL, and the bytes.
  const output: InitOutput = await init();
  same<typeof output.memory, WebAssembly.Memory>(true);
  await init({ module_or_path: "/assets/session_keeper_bg.wasm" });
  await init({ module_or_path: new URL("https://example.test/session_keeper_bg.wasm") });
  initSync({ module: wasm });

  const keeper = new SessionKeeper(options);
  keeper.start();
  keeper.activate();
  const result = await keeper.beat();
  same<typeof result, BeatResult>(true);
  if (result.ok) {
    same<typeof result, HeartbeatEvent>(true);
    console.log(result.latencyMs, result.expiresAt);
  } else {
    same<typeof result, FailureEvent>(true);
    console.warn(result.code, result.message);
  }

  same<typeof keeper.state, KeeperState>(true);
  same<typeof keeper.presence, Presence>(true);
  same<typeof keeper.isLeader, boolean>(true);
  same<typeof keeper.expiresAt, number | undefined>(true);
  same<typeof keeper.lastHeartbeatAt, number | undefined>(true);
  same<typeof keeper.idleAt, number | undefined>(true);
  same<typeof keeper.consecutiveFailures, number>(true);
  const state: KeeperState = keeper.state;
  if (state === "failing" && keeper.consecutiveFailures > 3) console.warn("still failing");
  const expiresIn = (keeper.expiresAt ?? Date.now()) - Date.now();
  const sinceLast = Date.now() - (keeper.lastHeartbeatAt ?? 0);
  const idleIn = keeper.idleAt === undefined ? Infinity : keeper.idleAt - Date.now();
  console.log(keeper.presence, keeper.isLeader, expiresIn, sinceLast, idleIn);

  keeper.stop();
  keeper.free();

  // `free()` by another name, so that `using` releases a keeper at the end of its scope.
  for (const other of others) {
    using scoped = new SessionKeeper(other);
    scoped.start();
  }
  new SessionKeeper({ url: "/api/heartbeat" })[Symbol.dispose]();
}
