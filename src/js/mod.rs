//! The JavaScript binding: `SessionKeeper`, its options and its TypeScript types.
//!
//! A thin wrapper around [`Keeper`]: options are read by name, events go out as plain objects
//! through serde-wasm-bindgen, and misuse becomes a JavaScript `Error` with a message that says what to
//! fix.

mod events;
mod options;

use wasm_bindgen::prelude::*;

use crate::browser::{BeatError, Keeper};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** What a keeper is doing. */
export type KeeperState = "idle" | "running" | "failing" | "expired" | "stopped";

/** Why a heartbeat was sent. `resume`: it was overdue when the tab woke or the network came back. */
export type HeartbeatReason = "start" | "timer" | "activity" | "manual" | "resume" | "retry";

/** How the keeper knows the session is gone. */
export type ExpiryReason = "not_found" | "unauthorized" | "ttl_elapsed";

/** A heartbeat the server accepted (2xx). */
export interface HeartbeatEvent {
  ok: true;
  reason: HeartbeatReason;
  /** The HTTP status, 200 to 299. */
  status: number;
  /** When it was sent, epoch ms. */
  sentAt: number;
  /** When the session now expires, epoch ms. */
  expiresAt: number;
  /** From sending to the answer, ms. */
  latencyMs: number;
}

/** A heartbeat that failed or could not be sent. */
export interface FailureEvent {
  ok: false;
  reason: HeartbeatReason;
  /** The HTTP status, or 0 when no answer came (network error, timeout, offline). */
  status: number;
  /** The server's `error.code` (e.g. `ERR_INVALID_CONTENT_TYPE`), else `ERR_NETWORK`,
   * `ERR_TIMEOUT`, `ERR_OFFLINE` or `ERR_HTTP`. */
  code: string;
  /** The server's `error.message`, or what went wrong. */
  message: string;
  /** When it was sent (offline: when it would have been), epoch ms. */
  sentAt: number;
}

/** Heartbeats have failed without a success for `failureWarningMs`; once per failure episode. */
export interface WarningEvent {
  /** When the episode began, epoch ms. */
  since: number;
  /** Consecutive failures so far. */
  failures: number;
}

/** The first success after a warning. */
export interface RecoveredEvent {
  failures: number;
  /** From the episode's first failure to this success, ms. */
  downtimeMs: number;
}

/** The session is gone; the keeper has stopped and sends nothing more. */
export interface ExpiredEvent {
  reason: ExpiryReason;
}

export interface StateChangeEvent {
  from: KeeperState;
  to: KeeperState;
}

/** What `beat()` resolves with. */
export type BeatResult = HeartbeatEvent | FailureEvent;

export interface SessionKeeperOptions {
  /** The heartbeat URL; `{sessionId}` in it is replaced by the URL-encoded `sessionId`. */
  url: string;
  /** Required when `url` contains `{sessionId}`. */
  sessionId?: string | number;
  /** Timer heartbeat period after the last heartbeat, ms. Default 300000 (5 min). */
  intervalMs?: number;
  /** At most one activity heartbeat per window, ms. Default 60000 (1 min). */
  activityThrottleMs?: number;
  /** Session TTL assumed when the server reports none, ms. Default 1200000 (20 min). */
  ttlMs?: number;
  /** Failing this long without a success fires `onWarning`, ms. Default 120000 (2 min). */
  failureWarningMs?: number;
  /** Each request is aborted after this, ms. Default 10000. */
  timeoutMs?: number;
  /** First retry delay after a failure, doubled per failure, ms. Default 2000. */
  retryMinMs?: number;
  /** Longest retry delay, ms. Default 60000. */
  retryMaxMs?: number;
  /** Send a heartbeat as soon as `start()` is called. Default true. */
  beatOnStart?: boolean;
  /** DOM events on `document` that count as activity. Default
   * ["mousemove", "mousedown", "keydown", "wheel", "scroll", "touchstart", "touchmove"]. */
  activityEvents?: string[];
  /** Extra headers, e.g. a CSRF token. Content-Type is always application/json. */
  headers?: Record<string, string>;
  /** JSON object sent with every heartbeat. Default {}. */
  body?: Record<string, unknown>;
  /** fetch credentials mode. Default "same-origin". */
  credentials?: "omit" | "same-origin" | "include";
  onHeartbeat?: (event: HeartbeatEvent) => void;
  onError?: (event: FailureEvent) => void;
  onWarning?: (event: WarningEvent) => void;
  onRecovered?: (event: RecoveredEvent) => void;
  onExpired?: (event: ExpiredEvent) => void;
  onStateChange?: (event: StateChangeEvent) => void;
}
"#;

/// Keeps one server session alive: heartbeats on a timer and on user activity, every failure
/// reported through the callbacks.
#[wasm_bindgen]
pub struct SessionKeeper {
    keeper: Keeper,
}

#[wasm_bindgen]
impl SessionKeeper {
    /// Checks the options and builds an idle keeper; throws an `Error` naming a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SessionKeeperOptions")] options: JsValue,
    ) -> Result<SessionKeeper, JsError> {
        let invalid = |e: &dyn std::fmt::Display| {
            JsError::new(&format!("Invalid SessionKeeper options: {e}"))
        };
        let (options, callbacks) = options::parse(&options).map_err(|e| invalid(&e))?;
        let keeper = Keeper::new(options, move |event| callbacks.dispatch(event))
            .map_err(|e| invalid(&e))?;
        Ok(SessionKeeper { keeper })
    }

    /// Starts heartbeats and activity listening (a heartbeat is sent at once unless
    /// `beatOnStart` is false). Calling it while running does nothing.
    pub fn start(&self) {
        self.keeper.start();
    }

    /// Stops the timer and the listeners and aborts a request in flight.
    pub fn stop(&self) {
        self.keeper.stop();
    }

    /// Sends a heartbeat now (or joins the one in flight) and resolves with its result; rejects
    /// when the keeper is not running or stops before the answer.
    #[wasm_bindgen(unchecked_return_type = "Promise<BeatResult>")]
    pub fn beat(&self) -> js_sys::Promise {
        let pending = self.keeper.beat();
        wasm_bindgen_futures::future_to_promise(async move {
            match pending.await {
                Ok(heartbeat) => Ok(events::heartbeat(&heartbeat)),
                Err(BeatError::Failed(failure)) => Ok(events::failure(&failure)),
                Err(other) => Err(js_sys::Error::new(&other.to_string()).into()),
            }
        })
    }

    /// `"idle"`, `"running"`, `"failing"`, `"expired"` or `"stopped"`.
    #[wasm_bindgen(getter, unchecked_return_type = "KeeperState")]
    pub fn state(&self) -> String {
        self.keeper.state().as_str().to_string()
    }

    /// When the session expires as of the last success, epoch ms; `undefined` before one.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<f64> {
        self.keeper.expires_at().map(|ms| ms as f64)
    }

    /// When the last successful heartbeat was answered, epoch ms; `undefined` before one.
    #[wasm_bindgen(getter, js_name = lastHeartbeatAt)]
    pub fn last_heartbeat_at(&self) -> Option<f64> {
        self.keeper.last_heartbeat_at().map(|ms| ms as f64)
    }

    /// Failures since the last success.
    #[wasm_bindgen(getter, js_name = consecutiveFailures)]
    pub fn consecutive_failures(&self) -> u32 {
        self.keeper.consecutive_failures()
    }
}
