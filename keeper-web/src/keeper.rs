//! [`Keeper`]: the Rust face of what JavaScript sees as `SessionKeeper`, for Leptos, Yew or
//! Dioxus apps.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use keeper_core::event::{Event, Failure, Heartbeat, Presence, State};
use keeper_core::options::Options;

pub use crate::browser::KeeperError;
use crate::browser::{BeatOutcome, Shell};

/// Keeps one server session alive from the browser. Dropping it stops everything it started.
///
/// ```no_run
/// use keeper_web::Keeper;
/// use keeper_web::keeper_core::{event::Event, options::Options};
///
/// let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
/// options.session_id = Some("3f2a...".into());
/// let keeper = Keeper::new(options, |event| {
///     if let Event::Expired { reason, .. } = event {
///         web_sys::console::warn_1(&reason.as_str().into());
///     }
/// })?;
/// keeper.start();
/// # Ok::<(), keeper_web::KeeperError>(())
/// ```
pub struct Keeper {
    shell: Rc<Shell>,
}

/// Why [`Keeper::beat`] gave no heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub enum BeatError {
    /// The heartbeat failed; the same failure was reported as an error event.
    Failed(Failure),
    /// The keeper is not running (ready, stopped or expired), or stopped before the answer.
    NotRunning(State),
}

impl BeatError {
    /// What went wrong, in one line.
    pub fn message(&self) -> String {
        match self {
            BeatError::Failed(failure) => failure.describe(),
            BeatError::NotRunning(state) => keeper_core::text::concat(&[
                "no heartbeat: the keeper is ",
                state.as_str(),
                " (start() it first)",
            ]),
        }
    }
}

impl core::fmt::Display for BeatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for BeatError {}

impl core::fmt::Display for KeeperError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for KeeperError {}

impl Keeper {
    /// Checks `options` and builds a keeper in the `Ready` state; `on_event` hears every
    /// [`Event`].
    pub fn new(
        options: Options,
        on_event: impl Fn(&Event) + 'static,
    ) -> Result<Keeper, KeeperError> {
        Ok(Keeper { shell: Shell::new(options, Box::new(on_event))? })
    }

    /// Starts heartbeats and activity listening; does nothing if already running.
    pub fn start(&self) {
        self.shell.start();
    }

    /// Stops everything: the timer, the listeners, a request in flight.
    pub fn stop(&self) {
        self.shell.stop();
    }

    /// Sends a heartbeat now (joining one in flight, asking the leader tab, or waiting for a
    /// retry the server set with `Retry-After`) and resolves with its outcome.
    pub fn beat(&self) -> impl Future<Output = Result<Heartbeat, BeatError>> + 'static {
        let slot = Rc::new(BeatSlot::default());
        let filled = slot.clone();
        self.shell.beat(Box::new(move |outcome| filled.resolve(outcome)));
        BeatFuture(slot)
    }

    /// The user confirmed they are there ("stay signed in"): dismisses a prompt or idle in
    /// every tab and sends a heartbeat.
    pub fn activate(&self) {
        self.shell.activate();
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.shell.state()
    }

    /// Whether the user is active, prompted or idle (always active without an idle policy).
    pub fn presence(&self) -> Presence {
        self.shell.presence()
    }

    /// True while this tab sends the heartbeats (for all tabs of the session, or alone).
    pub fn is_leader(&self) -> bool {
        self.shell.is_leader()
    }

    /// When the session expires, as of the last success (epoch ms).
    pub fn expires_at(&self) -> Option<u64> {
        self.shell.read(|m| m.expires_at()).flatten()
    }

    /// When the last successful heartbeat was answered (epoch ms).
    pub fn last_heartbeat_at(&self) -> Option<u64> {
        self.shell.read(|m| m.last_heartbeat_at()).flatten()
    }

    /// When the user becomes idle unless active first (epoch ms), with an idle policy.
    pub fn idle_at(&self) -> Option<u64> {
        self.shell.read(|m| m.idle_at()).flatten()
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.shell.read(|m| m.consecutive_failures()).unwrap_or(0)
    }
}

/// Where a [`Keeper::beat`] result lands: a one-shot channel for a single thread.
#[derive(Default)]
struct BeatSlot {
    result: RefCell<Option<Result<Heartbeat, BeatError>>>,
    waker: RefCell<Option<Waker>>,
}

impl BeatSlot {
    fn resolve(&self, outcome: BeatOutcome<'_>) {
        let result = match outcome {
            BeatOutcome::Heartbeat(heartbeat) => Ok(heartbeat.clone()),
            BeatOutcome::Failed(failure) => Err(BeatError::Failed(failure.clone())),
            BeatOutcome::NotRunning(state) => Err(BeatError::NotRunning(state)),
        };
        self.result.borrow_mut().get_or_insert(result);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

struct BeatFuture(Rc<BeatSlot>);

impl Future for BeatFuture {
    type Output = Result<Heartbeat, BeatError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.result.borrow_mut().take() {
            Some(result) => Poll::Ready(result),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
