//! [`Keeper`]: the core's state machine wired to a real browser: the wall clock, one timer, the
//! DOM listeners and `fetch`.
//!
//! This layer decides nothing. It feeds each input to the [`Machine`] with `Date.now()`, carries
//! out the commands it returns, and then brings the timer, the listeners and the activity gate in
//! line with the machine's state. Every closure it hands to the browser holds a `Weak` reference,
//! so dropping the `Keeper` drops everything: the timer is cleared, the listeners removed and a
//! request in flight aborted.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::Timeout;
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, Document, Window};

use super::http::Endpoint;
use super::listeners::{Feed, Listeners};
use super::now_ms;
use crate::core::event::{Event, Failure, Heartbeat, State};
use crate::core::machine::{Command, Input, Machine, RequestId};
use crate::core::options::{Options, OptionsError};

/// Keeps one server session alive from the browser.
///
/// The Rust face of what JavaScript sees as `SessionKeeper`, for Leptos, Yew or Dioxus apps.
/// Dropping it stops everything it started.
///
/// ```no_run
/// use session_keeper::{Keeper, core::{event::Event, options::Options}};
///
/// let mut options = Options::new("/api/v1/session/{sessionId}/heartbeat");
/// options.session_id = Some("3f2a...".into());
/// let keeper = Keeper::new(options, |event| {
///     if let Event::Expired { reason } = event {
///         web_sys::console::warn_1(&format!("session expired: {}", reason.as_str()).into());
///     }
/// })?;
/// keeper.start();
/// # Ok::<(), session_keeper::KeeperError>(())
/// ```
pub struct Keeper {
    inner: Rc<Inner>,
}

/// Why a [`Keeper`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeeperError {
    /// An option is wrong.
    Options(OptionsError),
    /// There is no `window.document` (a worker, or a server-side render).
    NoDocument,
}

impl std::fmt::Display for KeeperError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeeperError::Options(error) => error.fmt(f),
            KeeperError::NoDocument => {
                f.write_str("SessionKeeper needs a browser page: window.document is missing")
            }
        }
    }
}

impl std::error::Error for KeeperError {}

impl From<OptionsError> for KeeperError {
    fn from(error: OptionsError) -> Self {
        KeeperError::Options(error)
    }
}

/// Why [`Keeper::beat`] gave no heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub enum BeatError {
    /// The heartbeat failed; the same failure was reported as an error event.
    Failed(Failure),
    /// The keeper is not running (idle, stopped or expired), so nothing was sent.
    NotRunning(State),
    /// The keeper was stopped or dropped before the answer came.
    Stopped,
}

impl std::fmt::Display for BeatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BeatError::Failed(failure) => failure.fmt(f),
            BeatError::NotRunning(state) => {
                write!(f, "the keeper is {}: call start() before beat()", state.as_str())
            }
            BeatError::Stopped => {
                f.write_str("the keeper stopped before the heartbeat was answered")
            }
        }
    }
}

impl std::error::Error for BeatError {}

type BeatResult = Result<Heartbeat, BeatError>;

struct Inner {
    machine: RefCell<Machine>,
    /// [`Machine::activity_gate`], shared with the activity listeners.
    gate: Rc<Cell<u64>>,
    endpoint: Rc<Endpoint>,
    activity_events: Vec<String>,
    window: Window,
    document: Document,
    on_event: Box<dyn Fn(&Event)>,
    alarm: RefCell<Option<(u64, Timeout)>>,
    listeners: RefCell<Option<Listeners>>,
    requests: RefCell<Vec<(RequestId, AbortController)>>,
    waiters: RefCell<Vec<Rc<BeatSlot>>>,
}

impl Keeper {
    /// Checks `options` and builds an idle keeper; `on_event` hears every [`Event`].
    pub fn new(
        options: Options,
        on_event: impl Fn(&Event) + 'static,
    ) -> Result<Keeper, KeeperError> {
        let url = options.validate()?;
        let window = web_sys::window().ok_or(KeeperError::NoDocument)?;
        let document = window.document().ok_or(KeeperError::NoDocument)?;
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        let inner = Inner {
            machine: RefCell::new(Machine::new(options.timing, seed)),
            gate: Rc::new(Cell::new(u64::MAX)),
            endpoint: Rc::new(Endpoint {
                url,
                headers: options.headers,
                body: options.body,
                credentials: options.credentials,
            }),
            activity_events: options.activity_events,
            window,
            document,
            on_event: Box::new(on_event),
            alarm: RefCell::new(None),
            listeners: RefCell::new(None),
            requests: RefCell::new(Vec::new()),
            waiters: RefCell::new(Vec::new()),
        };
        Ok(Keeper { inner: Rc::new(inner) })
    }

    /// Starts heartbeats and activity listening; does nothing if already running.
    pub fn start(&self) {
        let online = self.inner.window.navigator().on_line();
        self.inner.feed(if online { Input::Online } else { Input::Offline });
        self.inner.feed(Input::Start);
    }

    /// Stops everything: the timer, the listeners, a request in flight.
    pub fn stop(&self) {
        self.inner.feed(Input::Stop);
    }

    /// Sends a heartbeat now (joining one already in flight) and resolves with its outcome.
    pub fn beat(&self) -> impl Future<Output = BeatResult> + 'static {
        let slot = Rc::new(BeatSlot::default());
        let state = self.state();
        if state.is_active() {
            self.inner.waiters.borrow_mut().push(slot.clone());
            self.inner.feed(Input::Manual);
        } else {
            slot.resolve(Err(BeatError::NotRunning(state)));
        }
        BeatFuture(slot)
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.inner.machine.borrow().state()
    }

    /// When the session expires, as of the last success (epoch ms).
    pub fn expires_at(&self) -> Option<u64> {
        self.inner.machine.borrow().expires_at()
    }

    /// When the last successful heartbeat was answered (epoch ms).
    pub fn last_heartbeat_at(&self) -> Option<u64> {
        self.inner.machine.borrow().last_heartbeat_at()
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.inner.machine.borrow().consecutive_failures()
    }
}

impl Inner {
    /// Applies one input now: carries out the machine's requests, settles `beat()` promises,
    /// brings the timer, listeners and gate in line, and only then runs the page's callbacks.
    /// Callbacks come last and with no borrow held, so they see a consistent keeper and may call
    /// back into it (stop it, free it, beat again).
    fn feed(self: &Rc<Self>, input: Input) {
        let now = now_ms();
        let commands = self.machine.borrow_mut().handle(now, input);
        let mut events = Vec::new();
        for command in commands {
            match command {
                Command::Send { request, reason: _ } => self.send(request),
                Command::Abort { request } => self.abort(request),
                Command::Emit(event) => {
                    self.settle_beats(&event);
                    events.push(event);
                }
            }
        }
        self.sync(now);
        for event in &events {
            if let Event::Warning { failures, .. } = event {
                web_sys::console::warn_1(
                    &format!("session-keeper: {failures} heartbeats in a row have failed").into(),
                );
            }
            (self.on_event)(event);
        }
    }

    fn send(self: &Rc<Self>, request: RequestId) {
        let Ok(controller) = AbortController::new() else {
            return self.feed(Input::Reply {
                request,
                reply: crate::core::reply::Reply::Network {
                    message: "AbortController is unavailable".into(),
                },
            });
        };
        let signal = controller.signal();
        self.requests.borrow_mut().push((request, controller));
        let (endpoint, window) = (self.endpoint.clone(), self.window.clone());
        let keeper = Rc::downgrade(self);
        spawn_local(async move {
            let reply = endpoint.post(&window, &signal).await;
            if let Some(inner) = keeper.upgrade() {
                inner.requests.borrow_mut().retain(|(id, _)| *id != request);
                inner.feed(Input::Reply { request, reply });
            }
        });
    }

    fn abort(&self, request: RequestId) {
        let mut requests = self.requests.borrow_mut();
        if let Some(index) = requests.iter().position(|(id, _)| *id == request) {
            requests.swap_remove(index).1.abort();
        }
    }

    /// A heartbeat or failure answers every pending `beat()`.
    fn settle_beats(&self, event: &Event) {
        match event {
            Event::Heartbeat(heartbeat) => self.settle_waiters(Ok(heartbeat.clone())),
            Event::Error(failure) => self.settle_waiters(Err(BeatError::Failed(failure.clone()))),
            _ => {}
        }
    }

    fn settle_waiters(&self, result: BeatResult) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for waiter in waiters {
            waiter.resolve(result.clone());
        }
    }

    /// Brings the timer, the listeners and the activity gate in line with the machine.
    fn sync(self: &Rc<Self>, now: u64) {
        let (active, wake, gate) = {
            let machine = self.machine.borrow();
            (machine.state().is_active(), machine.next_wake(), machine.activity_gate())
        };
        self.gate.set(gate);
        self.set_alarm(wake, now);
        let listening = self.listeners.borrow().is_some();
        if active && !listening {
            let keeper = Rc::downgrade(self);
            let feed: Feed = Rc::new(move |input| {
                if let Some(inner) = keeper.upgrade() {
                    inner.feed(input);
                }
            });
            let listeners = Listeners::attach(
                &self.window,
                &self.document,
                &self.activity_events,
                self.gate.clone(),
                feed,
            );
            *self.listeners.borrow_mut() = Some(listeners);
        } else if !active {
            self.listeners.borrow_mut().take();
            self.settle_waiters(Err(BeatError::Stopped));
        }
    }

    /// Keeps exactly one timer, armed for `wake`.
    fn set_alarm(self: &Rc<Self>, wake: Option<u64>, now: u64) {
        let mut alarm = self.alarm.borrow_mut();
        if alarm.as_ref().map(|(at, _)| *at) == wake {
            return;
        }
        *alarm = wake.map(|at| {
            // setTimeout takes at most 2^31 - 1 ms; a later wake simply re-arms when it fires.
            let delay = at.saturating_sub(now).min(i32::MAX as u64) as u32;
            let keeper: Weak<Inner> = Rc::downgrade(self);
            let timeout = Timeout::new(delay, move || {
                if let Some(inner) = keeper.upgrade() {
                    inner.alarm.borrow_mut().take();
                    inner.feed(Input::Tick);
                }
            });
            (at, timeout)
        });
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for (_, controller) in self.requests.get_mut().drain(..) {
            controller.abort();
        }
        for waiter in self.waiters.get_mut().drain(..) {
            waiter.resolve(Err(BeatError::Stopped));
        }
    }
}

/// Where a [`Keeper::beat`] result lands: a one-shot channel for a single thread.
#[derive(Default)]
struct BeatSlot {
    result: RefCell<Option<BeatResult>>,
    waker: RefCell<Option<Waker>>,
}

impl BeatSlot {
    fn resolve(&self, result: BeatResult) {
        self.result.borrow_mut().get_or_insert(result);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

struct BeatFuture(Rc<BeatSlot>);

impl Future for BeatFuture {
    type Output = BeatResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BeatResult> {
        match self.0.result.borrow_mut().take() {
            Some(result) => Poll::Ready(result),
            None => {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
