//! [`Shell`]: the core's state machine wired to a real browser.
//!
//! This layer decides nothing. It feeds each input to the [`Machine`] with `Date.now()`, carries
//! out the commands it returns, and then brings the timer, the listeners, the activity gate and
//! the tab coordination in line with the machine's state. Every handler it gives the browser
//! holds a `Weak` reference, so dropping the shell drops everything: the timer is cleared, the
//! listeners removed, a request in flight aborted, the lock released and the sockets closed.

use alloc::boxed::Box;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::mem::take;

use js_sys::{Function, Promise};
use keeper_core::election::Step;
use keeper_core::event::{Event, Failure, Heartbeat, Presence, Source, State};
use keeper_core::machine::{Command, Input, Machine, RequestId, Role, earliest};
use keeper_core::options::{Options, OptionsError};
use keeper_core::tabs::Message;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, Document, Window};

use super::fetch::{Head, Poster, reply};
use super::listen::Listeners;
use super::live::LiveSocket;
use super::tabs::TabLink;
use super::{Handler, Hook, hook, now_ms, prop};

/// Why a shell could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeeperError {
    /// An option is wrong.
    Options(OptionsError),
    /// There is no `window.document`: a worker, or a server-side render.
    NoDocument,
}

impl KeeperError {
    /// What to tell the developer.
    pub fn message(&self) -> String {
        match self {
            KeeperError::Options(error) => error.message(),
            KeeperError::NoDocument => "SessionKeeper needs a browser page: there is no window \
                (a server-side render or a worker?). Construct it in the browser, for example in \
                an effect that runs after mounting."
                .into(),
        }
    }
}

/// How a `beat()` ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeatOutcome<'a> {
    /// A heartbeat succeeded (this tab's, or the leader's).
    Heartbeat(&'a Heartbeat),
    /// A heartbeat failed; the same failure was reported as an error event.
    Failed(&'a Failure),
    /// The keeper is not running (ready, stopped or expired), so nothing was sent.
    NotRunning(State),
}

type Waiter = Box<dyn FnOnce(BeatOutcome<'_>)>;

/// One keeper's browser side. See the [module docs](self).
pub struct Shell {
    machine: RefCell<Machine>,
    /// [`Machine::activity_gate`], read by the activity listener on every event.
    gate: Cell<u64>,
    poster: Poster,
    activity_events: Vec<String>,
    live_url: Option<String>,
    window: Window,
    document: Document,
    on_event: Box<dyn Fn(&Event)>,
    on_tick: Handler,
    alarm: Cell<Option<(u64, i32)>>,
    /// The answer's head to the request in flight, kept until its body is read.
    head: Cell<Option<(RequestId, Head)>>,
    // The fields below are taken out and put back (`Cell::take`), never borrowed: nothing in
    // the package can panic on a borrow.
    /// Boxed, as `tabs` is: it is taken out and put back at every input.
    listeners: Cell<Option<Box<[Listeners; 2]>>>,
    request: Cell<Option<(RequestId, AbortController)>>,
    waiters: Cell<Vec<Waiter>>,
    /// Boxed so that taking it out and putting it back moves a pointer, not the whole link.
    tabs: Cell<Option<Box<TabLink>>>,
    /// Hidden for good or frozen: not competing to lead until shown again.
    parked: Cell<bool>,
    live: Cell<Option<LiveSocket>>,
    me: Weak<Shell>,
}

impl Shell {
    /// Checks `options` and builds a keeper in the `ready` state; `on_event` hears every event.
    pub fn new(options: Options, on_event: Box<dyn Fn(&Event)>) -> Result<Rc<Shell>, KeeperError> {
        let endpoint = options.validate().map_err(KeeperError::Options)?;
        let window = super::window().ok_or(KeeperError::NoDocument)?;
        let document = Some(prop(&window, "document")).filter(JsValue::is_object);
        let document: Document = document.ok_or(KeeperError::NoDocument)?.unchecked_into();
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Ok(Rc::new_cyclic(|me: &Weak<Shell>| {
            let tabs = options
                .cross_tab
                .then(|| TabLink::open(&window, &endpoint.session_key, me))
                .flatten()
                .map(Box::new);
            let mut machine = Machine::new(options.timing.clone(), seed);
            if tabs.is_some() {
                machine = machine.coordinated();
            }
            if endpoint.live.is_some() {
                machine = machine.with_live_channel();
            }
            Shell {
                machine: RefCell::new(machine),
                gate: Cell::new(u64::MAX),
                poster: Poster::new(&endpoint, &options.body, options.credentials),
                activity_events: options.activity_events,
                live_url: endpoint.live,
                window,
                document,
                on_event,
                on_tick: hook(me, Hook::Tick),
                alarm: Cell::new(None),
                head: Cell::new(None),
                listeners: Cell::new(None),
                request: Cell::new(None),
                waiters: Cell::new(Vec::new()),
                tabs: Cell::new(tabs),
                parked: Cell::new(false),
                live: Cell::new(None),
                me: me.clone(),
            }
        }))
    }

    /// Starts heartbeats and activity listening; does nothing if already running.
    pub fn start(&self) {
        let offline = prop(&prop(&self.window, "navigator"), "onLine").as_bool() == Some(false);
        self.feed(if offline { Input::Offline } else { Input::Online });
        self.feed(Input::Start);
    }

    /// Stops everything: the timer, the listeners, a request in flight, leadership.
    pub fn stop(&self) {
        self.feed(Input::Stop);
    }

    /// Sends a heartbeat now (or joins the one in flight, or asks the leader tab) and calls
    /// `waiter` with the next result.
    pub fn beat(&self, waiter: Waiter) {
        let state = self.state();
        if state.is_active() {
            let mut waiters = self.waiters.take();
            waiters.push(waiter);
            self.waiters.set(waiters);
            self.feed(Input::Manual);
        } else {
            waiter(BeatOutcome::NotRunning(state));
        }
    }

    /// The user confirmed they are there: dismisses a prompt or idle in every tab and sends a
    /// heartbeat.
    pub fn activate(&self) {
        self.feed(Input::Activate);
    }

    /// Reads the machine; `None` only if asked from inside a machine step, which the shell
    /// never does (callbacks run after it).
    pub fn read<T>(&self, f: impl FnOnce(&Machine) -> T) -> Option<T> {
        self.machine.try_borrow().ok().map(|machine| f(&machine))
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.read(Machine::state).unwrap_or(State::Stopped)
    }

    /// Whether the user is active, prompted or idle.
    pub fn presence(&self) -> Presence {
        self.read(Machine::presence).unwrap_or(Presence::Active)
    }

    /// True while this tab sends the heartbeats for every tab of the session (or alone).
    pub fn is_leader(&self) -> bool {
        self.read(|m| m.role() != Role::Follower).unwrap_or(false)
    }

    /// Applies one input now: carries out the machine's commands, brings the timer, listeners
    /// and tabs in line, and only then runs the page's callbacks. Callbacks come last and with
    /// no borrow held, so they see a consistent keeper and may call back into it.
    pub(crate) fn feed(&self, input: Input) {
        let now = now_ms();
        let Ok(mut machine) = self.machine.try_borrow_mut() else { return };
        let commands = machine.handle(now, input);
        drop(machine);
        for command in &commands {
            match command {
                Command::Send { request, .. } => self.send(*request),
                Command::Abort { request } => self.abort(*request),
                Command::Emit(_) => {}
                Command::Tell(fact) => self.post(&fact.encode()),
                Command::Connect => self.connect(),
                Command::Disconnect => self.live.set(None),
            }
        }
        let steps = self.sync(now);
        for command in &commands {
            let Command::Emit(event) = command else { continue };
            match event {
                Event::Heartbeat(h) => self.settle(BeatOutcome::Heartbeat(h)),
                Event::Error(f) => self.settle(BeatOutcome::Failed(f)),
                // Once, from the tab that sends: every tab hears the warning.
                Event::Warning { source: Source::ThisTab, .. } => web_sys::console::warn_1(
                    &"session-keeper: heartbeats have been failing for failureWarningMs".into(),
                ),
                _ => {}
            }
            (self.on_event)(event);
        }
        if !self.state().is_active() {
            self.settle(BeatOutcome::NotRunning(self.state()));
        }
        self.apply(steps);
    }

    /// What a browser callback brings: see [`Hook`].
    pub(crate) fn on(&self, hook: Hook, value: JsValue) -> JsValue {
        match hook {
            Hook::Tick => self.tick(),
            // Runs on every mouse move: one clock read and one comparison against the gate; no
            // allocation, no string crossing into wasm, no borrow.
            Hook::Activity => {
                if now_ms() >= self.gate.get() {
                    self.feed(Input::Activity);
                }
            }
            Hook::Lifecycle => {
                self.lifecycle(&prop(&value, "type").as_string().unwrap_or_default())
            }
            Hook::TabMessage => {
                if let Some(message) =
                    prop(&value, "data").as_string().and_then(|text| Message::decode(&text))
                {
                    self.hear(message);
                }
            }
            Hook::LockGranted => return self.lock_granted(),
            Hook::Live => {
                if let Some(input) = super::live::input_of(&value) {
                    self.feed(input);
                }
            }
            Hook::Response(request) => {
                self.head.set(Some((request, self.poster.head(&value))));
                // `response.text()`, through the method's property and `Function.call`, which
                // the package imports anyway, rather than one more import of its own.
                let text: Function = prop(&value, "text").unchecked_into();
                return text.call1(&value, &JsValue::UNDEFINED).unwrap_or_default();
            }
            Hook::Body(request) => self.answered(request, value.as_string(), &JsValue::UNDEFINED),
            Hook::Failed(request) => self.answered(request, None, &value),
            Hook::Ignore => {}
        }
        JsValue::UNDEFINED
    }

    /// A request ended: with its body `text`, or with `error`.
    fn answered(&self, request: RequestId, text: Option<String>, error: &JsValue) {
        let head = match self.head.take() {
            Some((id, head)) if id == request => Some(head),
            other => {
                // An aborted request's late end must not take the current request's head.
                self.head.set(other);
                None
            }
        };
        self.feed(Input::Reply { request, reply: reply(head, text, error) });
    }

    /// A message from another tab.
    fn hear(&self, message: Message) {
        match message {
            Message::Fact(fact) => self.feed(Input::Peer(fact)),
            Message::Ballot(ballot) => {
                let steps = self.with_tabs(|tabs| tabs.hear(now_ms(), ballot));
                self.apply(steps);
                self.sync_alarm(now_ms());
            }
        }
    }

    /// The Web Lock was granted: returns the promise that holds it until this tab resolves it,
    /// or `undefined` (which frees it at once) if this tab left meanwhile.
    fn lock_granted(&self) -> JsValue {
        let mut release = None;
        let held = Promise::new(&mut |resolve, _| release = Some(resolve));
        let kept = release.is_some_and(|release| self.with_tabs(|tabs| tabs.granted(release)));
        if !kept {
            return JsValue::UNDEFINED;
        }
        self.feed(Input::Lead);
        held.into()
    }

    fn with_tabs<T: Default>(&self, f: impl FnOnce(&mut TabLink) -> T) -> T {
        let mut tabs = self.tabs.take();
        let result = tabs.as_deref_mut().map(f).unwrap_or_default();
        self.tabs.set(tabs);
        result
    }

    /// Posts a message's wire form to the other tabs.
    fn post(&self, wire: &str) {
        self.with_tabs(|tabs| tabs.post(wire));
    }

    fn apply(&self, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Say(ballot) => self.post(&Message::Ballot(ballot).encode()),
                Step::Lead => self.feed(Input::Lead),
                Step::Follow => self.feed(Input::Follow),
            }
        }
    }

    fn tick(&self) {
        self.alarm.set(None);
        let steps = self.with_tabs(|tabs| tabs.tick(now_ms()));
        self.apply(steps);
        self.feed(Input::Tick);
    }

    fn send(&self, request: RequestId) {
        let controller = self.poster.post(&self.window, &self.me, request);
        self.request.set(controller.map(|c| (request, c)));
    }

    fn abort(&self, request: RequestId) {
        match self.request.take() {
            Some((id, controller)) if id == request => controller.abort(),
            other => self.request.set(other),
        }
    }

    fn connect(&self) {
        let socket = self.live_url.as_deref().and_then(|url| LiveSocket::open(url, &self.me));
        let failed = socket.is_none();
        self.live.set(socket);
        if failed {
            self.feed(Input::LinkDown);
        }
    }

    /// A heartbeat or failure answers every pending `beat()`.
    fn settle(&self, outcome: BeatOutcome<'_>) {
        for waiter in self.waiters.take() {
            waiter(outcome);
        }
    }

    /// Brings the timer, the listeners, the gate and leadership in line with the machine;
    /// returns the election steps to apply once the page has heard the events.
    fn sync(&self, now: u64) -> Vec<Step> {
        let active = self.state().is_active();
        self.gate.set(self.read(Machine::activity_gate).unwrap_or(u64::MAX));
        let steps = if active && !self.parked.get() {
            let me = self.me.clone();
            self.with_tabs(|tabs| if tabs.joined() { Vec::new() } else { tabs.join(now, &me) })
        } else if !active {
            self.with_tabs(TabLink::leave)
        } else {
            Vec::new()
        };
        let listeners = self.listeners.take();
        self.listeners.set(match listeners {
            None if active => {
                Some(Box::new([self.activity_listeners(), self.lifecycle_listeners()]))
            }
            _ if !active => None,
            kept => kept,
        });
        self.sync_alarm(now);
        steps
    }

    /// Keeps exactly one timer, armed for the earliest of the machine's and the election's
    /// wake-ups.
    fn sync_alarm(&self, now: u64) {
        let wake =
            earliest(&[self.read(Machine::next_wake).flatten(), self.with_tabs(|t| t.next_wake())]);
        if self.alarm.get().map(|(at, _)| at) == wake {
            return;
        }
        if let Some((_, id)) = self.alarm.take() {
            self.window.clear_timeout_with_handle(id);
        }
        if let Some(at) = wake {
            // setTimeout takes at most 2^31 - 1 ms; a later wake simply re-arms when it fires.
            let delay = at.saturating_sub(now).min(i32::MAX as u64) as i32;
            let function = self.on_tick.as_ref().unchecked_ref();
            if let Ok(id) =
                self.window.set_timeout_with_callback_and_timeout_and_arguments_0(function, delay)
            {
                self.alarm.set(Some((at, id)));
            }
        }
    }

    /// User activity.
    fn activity_listeners(&self) -> Listeners {
        let mut listeners = Listeners::new(hook(&self.me, Hook::Activity));
        for kind in &self.activity_events {
            listeners.on(&self.document, kind);
        }
        listeners
    }

    /// The page's and the network's changes that make the keeper look at the clock again, or
    /// hand leadership over.
    fn lifecycle_listeners(&self) -> Listeners {
        let mut listeners = Listeners::new(hook(&self.me, Hook::Lifecycle));
        for kind in ["visibilitychange", "freeze", "resume"] {
            listeners.on(&self.document, kind);
        }
        for kind in ["online", "offline", "pagehide", "pageshow"] {
            listeners.on(&self.window, kind);
        }
        listeners
    }

    fn lifecycle(&self, kind: &str) {
        match kind {
            "online" => self.feed(Input::Online),
            "offline" => self.feed(Input::Offline),
            "pagehide" | "freeze" => {
                // A held lock keeps the page out of the back/forward cache, and a frozen leader
                // would send nothing: hand over.
                self.parked.set(true);
                let steps = self.with_tabs(TabLink::leave);
                self.apply(steps);
            }
            "pageshow" | "resume" => {
                self.parked.set(false);
                self.feed(Input::Visible);
            }
            _ => {
                if prop(&self.document, "hidden").as_bool() == Some(false) {
                    self.feed(Input::Visible);
                }
            }
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some((_, id)) = self.alarm.take() {
            self.window.clear_timeout_with_handle(id);
        }
        if let Some((_, controller)) = self.request.take() {
            controller.abort();
        }
        let state = self.machine.get_mut().state();
        for waiter in take(self.waiters.get_mut()) {
            waiter(BeatOutcome::NotRunning(if state.is_active() { State::Stopped } else { state }));
        }
    }
}
