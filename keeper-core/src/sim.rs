//! Deterministic drivers that run machines through simulated time against a scripted server:
//! the tests use them to check each rule over hours in milliseconds, and they answer questions
//! such as "how many requests per hour do four tabs of one session cost?".
//!
//! [`Simulation`] runs one tab. [`Tabs`] runs several tabs of one session with a channel
//! between them that can be slow, and a way to choose the leader: the Web Locks API's queue, or
//! the [election](crate::election) used where it is missing.
//!
//! ```
//! use keeper_core::{options::Timing, sim::Simulation};
//! let mut sim = Simulation::new(Timing::default(), 0);
//! sim.start();
//! sim.advance_to(60 * 60_000);
//! // An idle tab: the start heartbeat, then one every 5 minutes.
//! assert_eq!(sim.sent().len(), 13);
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::election::{Election, Step};
use crate::event::{Event, Reason};
use crate::machine::{Command, Input, Machine, RequestId, Role};
use crate::options::Timing;
use crate::reply::{Reply, ReplyBody};
use crate::tabs::{Fact, Message};

/// One thing that happened in a simulation.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A heartbeat was sent.
    Sent(Reason),
    /// A request was aborted.
    Aborted,
    /// An event reached the page.
    Event(Event),
    /// The machine told the other tabs.
    Told(Fact),
}

type Server = Box<dyn FnMut(u64) -> Option<Reply>>;

/// A 200 answer with `ttl_seconds`.
pub fn ok(ttl_seconds: f64) -> Reply {
    Reply::json(200, ReplyBody { ttl_seconds: Some(ttl_seconds), ..ReplyBody::default() })
}

fn default_server(timing: &Timing) -> Server {
    let ttl_seconds = timing.ttl_ms as f64 / 1_000.0;
    Box::new(move |_| Some(ok(ttl_seconds)))
}

/// Runs one [`Machine`] in simulated time. See the [module docs](self).
pub struct Simulation {
    /// The machine under test.
    pub machine: Machine,
    now: u64,
    latency_ms: u64,
    server: Server,
    answers: Vec<(u64, RequestId, Reply)>,
    log: Vec<(u64, Record)>,
}

impl Simulation {
    /// A simulation at time `start_at` whose server answers every heartbeat at once with 200
    /// and `ttl_seconds` equal to `timing.ttl_ms`.
    pub fn new(timing: Timing, start_at: u64) -> Self {
        Simulation::with_machine(Machine::new(timing, 0x5EED), start_at)
    }

    /// A simulation of `machine` (built with options such as a live channel) at `start_at`.
    pub fn with_machine(machine: Machine, start_at: u64) -> Self {
        Simulation {
            server: default_server(machine.timing()),
            machine,
            now: start_at,
            latency_ms: 0,
            answers: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Replaces the server: called with the time each request arrives; `None` means it never
    /// answers.
    pub fn set_server(&mut self, server: impl FnMut(u64) -> Option<Reply> + 'static) {
        self.server = Box::new(server);
    }

    /// Every answer arrives this long after its request.
    pub fn set_latency(&mut self, latency_ms: u64) {
        self.latency_ms = latency_ms;
    }

    /// The simulated time now.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Feeds `input` now, then delivers any answer already due (with no latency, at once).
    pub fn input(&mut self, input: Input) {
        self.feed(input);
        self.advance_to(self.now);
    }

    fn feed(&mut self, input: Input) {
        let commands = self.machine.handle(self.now, input);
        for command in commands {
            let record = match command {
                Command::Send { request, reason } => {
                    if let Some(reply) = (self.server)(self.now) {
                        self.answers.push((self.now + self.latency_ms, request, reply));
                    }
                    Record::Sent(reason)
                }
                Command::Abort { request } => {
                    self.answers.retain(|(_, r, _)| *r != request);
                    Record::Aborted
                }
                Command::Emit(event) => Record::Event(event),
                Command::Tell(fact) => Record::Told(fact),
                Command::Connect | Command::Disconnect => continue,
            };
            self.log.push((self.now, record));
        }
    }

    /// Starts the keeper now.
    pub fn start(&mut self) {
        self.input(Input::Start);
    }

    /// Reports user activity now.
    pub fn activity(&mut self) {
        self.input(Input::Activity);
    }

    /// Runs until `until`, firing the timer and delivering answers in time order.
    pub fn advance_to(&mut self, until: u64) {
        loop {
            let answer = self.answers.iter().map(|a| a.0).min();
            let wake = self.machine.next_wake();
            let Some(next) = [answer, wake].into_iter().flatten().min().filter(|t| *t <= until)
            else {
                break;
            };
            self.now = self.now.max(next);
            if answer == Some(next) {
                let index = self.answers.iter().position(|a| a.0 == next).unwrap_or(0);
                let (_, request, reply) = self.answers.remove(index);
                self.feed(Input::Reply { request, reply });
            } else {
                self.feed(Input::Tick);
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `duration_ms` more.
    pub fn advance(&mut self, duration_ms: u64) {
        self.advance_to(self.now + duration_ms);
    }

    /// The device sleeps until `until`: no timer fires and answers in flight are lost; on
    /// waking, the overdue timer fires once.
    pub fn sleep_until(&mut self, until: u64) {
        self.advance_to(self.now);
        self.answers.clear();
        self.now = self.now.max(until);
        self.input(Input::Tick);
    }

    /// Everything that happened, with its time.
    pub fn log(&self) -> &[(u64, Record)] {
        &self.log
    }

    /// The heartbeats sent, with their times.
    pub fn sent(&self) -> Vec<(u64, Reason)> {
        sent(&self.log)
    }

    /// The events emitted, with their times.
    pub fn events(&self) -> Vec<(u64, Event)> {
        events(&self.log)
    }
}

fn sent(log: &[(u64, Record)]) -> Vec<(u64, Reason)> {
    log.iter()
        .filter_map(|(at, r)| match r {
            Record::Sent(reason) => Some((*at, *reason)),
            _ => None,
        })
        .collect()
}

fn events(log: &[(u64, Record)]) -> Vec<(u64, Event)> {
    log.iter()
        .filter_map(|(at, r)| match r {
            Record::Event(e) => Some((*at, e.clone())),
            _ => None,
        })
        .collect()
}

/// How the simulated tabs choose their leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coordination {
    /// The Web Locks API: one holder, a queue of waiters, the lock freed when its tab goes.
    Locks,
    /// The `BroadcastChannel` [election](crate::election), where Web Locks are missing.
    Election,
}

struct Tab {
    machine: Machine,
    election: Election,
    open: bool,
    log: Vec<(u64, Record)>,
}

/// Several tabs of one session in simulated time. See the [module docs](self).
pub struct Tabs {
    timing: Timing,
    coordination: Coordination,
    now: u64,
    tabs: Vec<Tab>,
    /// Web Locks: the holder first, then the waiters in order.
    lock_queue: Vec<usize>,
    channel_delay_ms: u64,
    in_transit: Vec<(u64, usize, usize, Message)>,
    server: Server,
    latency_ms: u64,
    answers: Vec<(u64, usize, RequestId, Reply)>,
    sent: Vec<(u64, usize, Reason)>,
}

impl Tabs {
    /// No tabs yet, at `start_at`, with a server that answers 200 at once and an instant
    /// channel.
    pub fn new(timing: Timing, start_at: u64, coordination: Coordination) -> Self {
        Tabs {
            server: default_server(&timing),
            timing,
            coordination,
            now: start_at,
            tabs: Vec::new(),
            lock_queue: Vec::new(),
            channel_delay_ms: 0,
            in_transit: Vec::new(),
            latency_ms: 0,
            answers: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Messages between tabs take this long.
    pub fn set_channel_delay(&mut self, delay_ms: u64) {
        self.channel_delay_ms = delay_ms;
    }

    /// Every answer arrives this long after its request.
    pub fn set_latency(&mut self, latency_ms: u64) {
        self.latency_ms = latency_ms;
    }

    /// Replaces the server (see [`Simulation::set_server`]).
    pub fn set_server(&mut self, server: impl FnMut(u64) -> Option<Reply> + 'static) {
        self.server = Box::new(server);
    }

    /// The simulated time now.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Opens a tab and starts its keeper now; returns its index.
    pub fn open(&mut self) -> usize {
        let index = self.tabs.len();
        let seed = 0x5EED + index as u64;
        self.tabs.push(Tab {
            machine: Machine::new(self.timing.clone(), seed).coordinated(),
            election: Election::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            open: true,
            log: Vec::new(),
        });
        self.feed(index, Input::Start);
        self.advance_to(self.now);
        index
    }

    /// The tab is closed normally: a leader hands over at once.
    pub fn close(&mut self, tab: usize) {
        // Closed first, so that nothing it is fed while leaving makes it take part again.
        self.tabs[tab].open = false;
        if self.coordination == Coordination::Election {
            let steps = self.tabs[tab].election.stop();
            self.apply(tab, steps);
        }
        self.gone(tab);
    }

    /// The tab crashes: it says nothing. The browser still frees its locks; an election must
    /// notice the silence.
    pub fn crash(&mut self, tab: usize) {
        self.gone(tab);
    }

    fn gone(&mut self, tab: usize) {
        self.tabs[tab].open = false;
        self.answers.retain(|a| a.1 != tab);
        if let Some(position) = self.lock_queue.iter().position(|t| *t == tab) {
            self.release(position);
        }
        self.advance_to(self.now);
    }

    /// The holder or a waiter at `position` leaves the lock's queue; the next waiter gets the
    /// lock at once, before any message still on its way.
    fn release(&mut self, position: usize) {
        self.lock_queue.remove(position);
        if position == 0
            && let Some(&next) = self.lock_queue.first()
        {
            self.feed(next, Input::Lead);
        }
    }

    /// Like the browser shell after every input: a running keeper takes part in choosing the
    /// leader, and one that stopped or expired leaves (a leader lets the lock go).
    fn coordinate(&mut self, tab: usize) {
        let active = self.tabs[tab].machine.state().is_active();
        match self.coordination {
            Coordination::Locks => match self.lock_queue.iter().position(|t| *t == tab) {
                None if active => {
                    self.lock_queue.push(tab);
                    if self.lock_queue.len() == 1 {
                        self.feed(tab, Input::Lead);
                    }
                }
                Some(position) if !active => self.release(position),
                _ => {}
            },
            Coordination::Election => {
                let election = &mut self.tabs[tab].election;
                let steps = if active { election.start(self.now) } else { election.stop() };
                self.apply(tab, steps);
            }
        }
    }

    /// Feeds `input` to one tab now.
    pub fn input(&mut self, tab: usize, input: Input) {
        self.feed(tab, input);
        self.advance_to(self.now);
    }

    /// The user does something in `tab` now; like the browser shell, the tab only feeds the
    /// machine when its activity gate is open.
    pub fn activity(&mut self, tab: usize) {
        if self.now >= self.tabs[tab].machine.activity_gate() {
            self.input(tab, Input::Activity);
        }
    }

    /// The machine of `tab`.
    pub fn machine(&self, tab: usize) -> &Machine {
        &self.tabs[tab].machine
    }

    /// The open tabs that lead now.
    pub fn leaders(&self) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|t| self.tabs[*t].open && self.tabs[*t].machine.role() == Role::Leader)
            .collect()
    }

    /// Every heartbeat sent by any tab: (time, tab, reason).
    pub fn sent(&self) -> &[(u64, usize, Reason)] {
        &self.sent
    }

    /// The events `tab` emitted, with their times.
    pub fn events(&self, tab: usize) -> Vec<(u64, Event)> {
        events(&self.tabs[tab].log)
    }

    /// Runs until `until`: answers, messages between tabs, timers, in time order.
    pub fn advance_to(&mut self, until: u64) {
        loop {
            let answer = self.answers.iter().map(|a| a.0).min();
            let message = self.in_transit.iter().map(|m| m.0).min();
            let wake = self
                .tabs
                .iter()
                .filter(|t| t.open)
                .flat_map(|t| [t.machine.next_wake(), t.election.next_wake()])
                .flatten()
                .min();
            let Some(next) =
                [answer, message, wake].into_iter().flatten().min().filter(|t| *t <= until)
            else {
                break;
            };
            self.now = self.now.max(next);
            if answer == Some(next) {
                let index = self.answers.iter().position(|a| a.0 == next).unwrap_or(0);
                let (_, tab, request, reply) = self.answers.remove(index);
                self.feed(tab, Input::Reply { request, reply });
            } else if message == Some(next) {
                let index = self.in_transit.iter().position(|m| m.0 == next).unwrap_or(0);
                let (_, _, to, message) = self.in_transit.remove(index);
                if !self.tabs[to].open {
                    continue;
                }
                match message {
                    Message::Fact(fact) => self.feed(to, Input::Peer(fact)),
                    Message::Ballot(ballot) => {
                        let steps = self.tabs[to].election.hear(self.now, ballot);
                        self.apply(to, steps);
                    }
                }
            } else {
                for tab in 0..self.tabs.len() {
                    if !self.tabs[tab].open {
                        continue;
                    }
                    if self.tabs[tab].election.next_wake().is_some_and(|w| w <= next) {
                        let steps = self.tabs[tab].election.tick(self.now);
                        self.apply(tab, steps);
                    }
                    if self.tabs[tab].machine.next_wake().is_some_and(|w| w <= next) {
                        self.feed(tab, Input::Tick);
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `duration_ms` more.
    pub fn advance(&mut self, duration_ms: u64) {
        self.advance_to(self.now + duration_ms);
    }

    fn apply(&mut self, tab: usize, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Say(ballot) => self.post(tab, Message::Ballot(ballot)),
                Step::Lead => self.feed(tab, Input::Lead),
                Step::Follow => self.feed(tab, Input::Follow),
            }
        }
    }

    fn post(&mut self, from: usize, message: Message) {
        // Through the wire form, as in the browser.
        let wire = message.encode();
        let at = self.now + self.channel_delay_ms;
        for to in 0..self.tabs.len() {
            if to != from && self.tabs[to].open {
                let copy = Message::decode(&wire).unwrap_or_else(|| message.clone());
                self.in_transit.push((at, from, to, copy));
            }
        }
    }

    fn feed(&mut self, tab: usize, input: Input) {
        if !self.tabs[tab].open {
            return;
        }
        let commands = self.tabs[tab].machine.handle(self.now, input);
        for command in commands {
            let record = match command {
                Command::Send { request, reason } => {
                    if let Some(reply) = (self.server)(self.now) {
                        self.answers.push((self.now + self.latency_ms, tab, request, reply));
                    }
                    self.sent.push((self.now, tab, reason));
                    Record::Sent(reason)
                }
                Command::Abort { request } => {
                    self.answers.retain(|a| !(a.1 == tab && a.2 == request));
                    Record::Aborted
                }
                Command::Emit(event) => Record::Event(event),
                Command::Tell(fact) => {
                    self.post(tab, Message::Fact(fact.clone()));
                    Record::Told(fact)
                }
                Command::Connect | Command::Disconnect => continue,
            };
            self.tabs[tab].log.push((self.now, record));
        }
        self.coordinate(tab);
    }
}
