//! The JavaScript binding: `SessionKeeper`, its options and its TypeScript types.
//!
//! A thin wrapper around the [shell](crate::browser): options are read by name, events go out
//! as plain objects, and misuse becomes a JavaScript `Error` with a message that says what to
//! fix.

mod events;
mod options;

use alloc::boxed::Box;
use alloc::rc::Rc;

use js_sys::{Function, Promise};
use keeper_core::text::concat;
use wasm_bindgen::prelude::*;

use crate::browser::{BeatOutcome, KeeperError, Shell};
use keeper_core::machine::Machine;

#[wasm_bindgen(typescript_custom_section)]
const OPTIONS_TS: &'static str = options::OPTIONS_TS;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Where a keeper is in its life: `ready` until `start()`, `running` while heartbeats succeed,
 * `failing` from a failure to the next success, `expired` once the session is gone, `stopped`
 * after `stop()`. */
export type KeeperState = "ready" | "running" | "failing" | "expired" | "stopped";

/** Whether the user is there, under the idle policy (always `active` without one). */
export type Presence = "active" | "prompted" | "idle";

/** Why a heartbeat was sent. `resume`: it was overdue when the tab woke, the network came back,
 * or this tab took over from a leader tab that left. */
export type HeartbeatReason = "start" | "timer" | "activity" | "manual" | "resume" | "retry";

/** How the keeper knows the session is gone. `revoked`: the live channel said it was deleted. */
export type ExpiryReason = "not_found" | "unauthorized" | "ttl_elapsed" | "revoked";

/** Which tab the news comes from: with `crossTab`, one tab sends the heartbeats for all. */
export type EventSource = "this-tab" | "other-tab";

/** A heartbeat the server accepted (a 2xx that is empty or JSON). */
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
  source: EventSource;
}

/** A heartbeat that failed or could not be sent. */
export interface FailureEvent {
  ok: false;
  reason: HeartbeatReason;
  /** The HTTP status, or 0 when no answer came (network error, timeout, offline). */
  status: number;
  /** The server's `error.code` (e.g. `ERR_INVALID_CONTENT_TYPE`), else `ERR_NETWORK`,
   * `ERR_TIMEOUT`, `ERR_OFFLINE`, `ERR_HTTP`, or `ERR_UNEXPECTED_RESPONSE` (a redirect to a
   * login page, a 2xx that is not JSON). */
  code: string;
  /** The server's `error.message`, or what went wrong. */
  message: string;
  /** When it was sent (offline: when it would have been), epoch ms. */
  sentAt: number;
  source: EventSource;
}

/** Heartbeats have failed without a success for `failureWarningMs`; once per failure episode. */
export interface WarningEvent {
  /** When the episode began, epoch ms. */
  since: number;
  /** Consecutive failures so far. */
  failures: number;
  source: EventSource;
}

/** The first success after a warning. */
export interface RecoveredEvent {
  failures: number;
  /** From the episode's first failure to this success, ms. */
  downtimeMs: number;
  source: EventSource;
}

/** The session is gone; the keeper has stopped and sends nothing more. */
export interface ExpiredEvent {
  reason: ExpiryReason;
  source: EventSource;
}

export interface StateChangeEvent {
  from: KeeperState;
  to: KeeperState;
}

/** Idle is near: show "you will be signed out in ..." with a "stay signed in" button that
 * calls `activate()`. */
export interface PromptEvent {
  /** When the user will be idle, epoch ms. */
  idleAt: number;
  /** From now to `idleAt`, ms. */
  remainingMs: number;
}

/** No activity in any tab for `idleTimeoutMs`: timer heartbeats have stopped. */
export interface IdleEvent {
  /** When the user became idle, epoch ms. */
  idleAt: number;
}

/** The user is active again after a prompt or after idle. */
export interface ActiveEvent {
  /** The tab where the user came back. */
  source: EventSource;
}

export interface LeaderChangeEvent {
  /** True when this tab now sends the heartbeats for all tabs of the session. */
  isLeader: boolean;
}

/** What `beat()` resolves with. */
export type BeatResult = HeartbeatEvent | FailureEvent;

"#;

/// The docs of `SessionKeeper` and its members, written once for both readers: rustdoc reads them
/// from `#[doc = doc!(..)]`, TypeScript from the `SessionKeeper` interface in [`KEEPER_TS`],
/// which merges with the generated class. They are not `///` comments because wasm-bindgen
/// copies those into the JavaScript glue, where they cost about 700 B gzipped of download that
/// no browser reads.
macro_rules! doc {
    (class) => {
        "Keeps one server session alive: heartbeats on a timer and on user activity, shared \
         between tabs, with every failure reported through the callbacks."
    };
    (new) => {
        "Checks the options and builds a keeper in the `ready` state; throws an `Error` naming a \
         bad option, or saying that there is no browser page (server-side rendering)."
    };
    (start) => {
        "Starts heartbeats and activity listening (a heartbeat is sent at once unless \
         `beatOnStart` is false, or another tab already keeps the session). Calling it while \
         running does nothing."
    };
    (stop) => {
        "Stops the timer and the listeners, aborts a request in flight and hands the heartbeats \
         over to another tab."
    };
    (activate) => {
        "\"Stay signed in\": dismisses an idle prompt (or idle) in every tab and sends a heartbeat."
    };
    (beat) => {
        "Sends a heartbeat now (or joins the one in flight, or asks the leader tab) and resolves \
         with its result; waits for a retry the server set with `Retry-After`; rejects when the \
         keeper is not running or stops before the answer."
    };
    (state) => {
        "`\"ready\"`, `\"running\"`, `\"failing\"`, `\"expired\"` or `\"stopped\"`."
    };
    (presence) => {
        "`\"active\"`, `\"prompted\"` or `\"idle\"` (always `\"active\"` without an idle policy)."
    };
    (isLeader) => {
        "True while this tab sends the heartbeats for all tabs of the session (or works alone)."
    };
    (expiresAt) => {
        "When the session expires as of the last success, epoch ms; `undefined` before one."
    };
    (lastHeartbeatAt) => {
        "When the last successful heartbeat was answered, epoch ms; `undefined` before one."
    };
    (idleAt) => {
        "When the user becomes idle unless active first, epoch ms; `undefined` without an idle \
         policy."
    };
    (consecutiveFailures) => {
        "Failures since the last success."
    };
}

/// The `SessionKeeper` interface for TypeScript: each member's declaration with its [`doc!`].
// Used by a typescript_custom_section, which wasm-bindgen leaves out of host builds.
#[allow(unused_macros)]
macro_rules! keeper_interface {
    ($($member:ident: $declaration:literal;)+) => {
        concat!(
            "\n/** ", doc!(class), "\n *\n * `new SessionKeeper(options)`: ", doc!(new), " */\n",
            "export interface SessionKeeper {\n",
            $("  /** ", doc!($member), " */\n  ", $declaration, ";\n",)+
            "}\n"
        )
    };
}

/// The class's docs and members for TypeScript, which merge with the generated class.
#[wasm_bindgen(typescript_custom_section)]
const KEEPER_TS: &'static str = keeper_interface! {
    start: "start(): void";
    stop: "stop(): void";
    activate: "activate(): void";
    beat: "beat(): Promise<BeatResult>";
    state: "readonly state: KeeperState";
    presence: "readonly presence: Presence";
    isLeader: "readonly isLeader: boolean";
    expiresAt: "readonly expiresAt: number | undefined";
    lastHeartbeatAt: "readonly lastHeartbeatAt: number | undefined";
    idleAt: "readonly idleAt: number | undefined";
    consecutiveFailures: "readonly consecutiveFailures: number";
};

#[doc = doc!(class)]
#[wasm_bindgen]
pub struct SessionKeeper {
    shell: Rc<Shell>,
}

#[wasm_bindgen]
impl SessionKeeper {
    #[doc = doc!(new)]
    #[wasm_bindgen(skip_jsdoc, constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SessionKeeperOptions")] options: JsValue,
    ) -> Result<SessionKeeper, JsError> {
        let shell = options::parse(&options).map_err(|e| KeeperError::Options(*e)).and_then(
            |(options, callbacks)| {
                Shell::new(options, Box::new(move |event| callbacks.dispatch(event)))
            },
        );
        match shell {
            Ok(shell) => Ok(SessionKeeper { shell }),
            Err(KeeperError::Options(e)) => {
                Err(JsError::new(&concat(&["Invalid SessionKeeper options: ", &e.message()])))
            }
            Err(other) => Err(JsError::new(&other.message())),
        }
    }

    #[doc = doc!(start)]
    pub fn start(&self) {
        self.shell.start();
    }

    #[doc = doc!(stop)]
    pub fn stop(&self) {
        self.shell.stop();
    }

    #[doc = doc!(activate)]
    pub fn activate(&self) {
        self.shell.activate();
    }

    #[doc = doc!(beat)]
    #[wasm_bindgen(skip_jsdoc, unchecked_return_type = "Promise<BeatResult>")]
    pub fn beat(&self) -> Promise {
        let mut settle: Option<(Function, Function)> = None;
        let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        if let Some((resolve, reject)) = settle {
            self.shell.beat(Box::new(move |outcome| {
                let _ = match outcome {
                    BeatOutcome::Heartbeat(h) => {
                        resolve.call1(&JsValue::UNDEFINED, &events::heartbeat(h))
                    }
                    BeatOutcome::Failed(f) => {
                        resolve.call1(&JsValue::UNDEFINED, &events::failure(f))
                    }
                    BeatOutcome::NotRunning(state) => {
                        let message = concat(&[
                            "no heartbeat: the keeper is ",
                            state.as_str(),
                            " (start() it first)",
                        ]);
                        reject.call1(&JsValue::UNDEFINED, &JsError::new(&message).into())
                    }
                };
            }));
        }
        promise
    }

    #[doc = doc!(state)]
    #[wasm_bindgen(skip_jsdoc, getter, unchecked_return_type = "KeeperState")]
    // A `JsValue` rather than a `String`: a string returned to JavaScript costs the glue a
    // copy out of the wasm memory and a call back to free it, in every getter that does it.
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.shell.state().as_str())
    }

    #[doc = doc!(presence)]
    #[wasm_bindgen(skip_jsdoc, getter, unchecked_return_type = "Presence")]
    pub fn presence(&self) -> JsValue {
        JsValue::from_str(self.shell.presence().as_str())
    }

    #[doc = doc!(isLeader)]
    #[wasm_bindgen(skip_jsdoc, getter, js_name = isLeader)]
    pub fn is_leader(&self) -> bool {
        self.shell.is_leader()
    }

    #[doc = doc!(expiresAt)]
    #[wasm_bindgen(skip_jsdoc, getter, js_name = expiresAt, unchecked_return_type = "number | undefined")]
    pub fn expires_at(&self) -> JsValue {
        epoch_ms(&self.shell, Machine::expires_at)
    }

    #[doc = doc!(lastHeartbeatAt)]
    #[wasm_bindgen(skip_jsdoc, getter, js_name = lastHeartbeatAt, unchecked_return_type = "number | undefined")]
    pub fn last_heartbeat_at(&self) -> JsValue {
        epoch_ms(&self.shell, Machine::last_heartbeat_at)
    }

    #[doc = doc!(idleAt)]
    #[wasm_bindgen(skip_jsdoc, getter, js_name = idleAt, unchecked_return_type = "number | undefined")]
    pub fn idle_at(&self) -> JsValue {
        epoch_ms(&self.shell, Machine::idle_at)
    }

    #[doc = doc!(consecutiveFailures)]
    #[wasm_bindgen(skip_jsdoc, getter, js_name = consecutiveFailures)]
    pub fn consecutive_failures(&self) -> u32 {
        self.shell.read(|m| m.consecutive_failures()).unwrap_or(0)
    }
}

/// An optional time of the machine's, for a getter: a number, or `undefined`. A `JsValue`
/// rather than an `Option<f64>`, whose two-value return costs a shim in the wasm and in the glue
/// per getter; one function for the three getters, which would otherwise each inline it.
#[inline(never)]
fn epoch_ms(shell: &Shell, time: fn(&Machine) -> Option<u64>) -> JsValue {
    match shell.read(time).flatten() {
        Some(ms) => JsValue::from_f64(ms as f64),
        None => JsValue::UNDEFINED,
    }
}
