//! A deterministic driver that runs a [`Machine`] through simulated time against a scripted
//! server: the tests use it to check each rule over hours in milliseconds, and it answers
//! questions such as "how many requests per hour does an idle tab cost with these options?".
//!
//! ```
//! use session_keeper::core::{options::Timing, sim::Simulation};
//! let mut sim = Simulation::new(Timing::default(), 0);
//! sim.start();
//! sim.advance_to(60 * 60_000);
//! // An idle tab: the start heartbeat, then one every 5 minutes.
//! assert_eq!(sim.sent().len(), 13);
//! ```

use super::event::{Event, Reason};
use super::machine::{Command, Input, Machine, RequestId};
use super::options::Timing;
use super::reply::{Reply, ReplyBody};

/// One thing that happened in a simulation.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A heartbeat was sent.
    Sent(Reason),
    /// A request was aborted.
    Aborted,
    /// An event reached the page.
    Event(Event),
}

type Server = Box<dyn FnMut(u64) -> Option<Reply>>;

/// Runs a [`Machine`] in simulated time. See the [module docs](self).
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
        let ttl_seconds = timing.ttl_ms as f64 / 1_000.0;
        Simulation {
            machine: Machine::new(timing, 0x5EED),
            now: start_at,
            latency_ms: 0,
            server: Box::new(move |_| Some(Simulation::ok(ttl_seconds))),
            answers: Vec::new(),
            log: Vec::new(),
        }
    }

    /// A 200 answer with `ttl_seconds`.
    pub fn ok(ttl_seconds: f64) -> Reply {
        let body = ReplyBody { ttl_seconds: Some(ttl_seconds), ..ReplyBody::default() };
        Reply::Http { status: 200, retry_after: None, body }
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
        self.log
            .iter()
            .filter_map(|(at, r)| match r {
                Record::Sent(reason) => Some((*at, *reason)),
                _ => None,
            })
            .collect()
    }

    /// The events emitted, with their times.
    pub fn events(&self) -> Vec<(u64, Event)> {
        self.log
            .iter()
            .filter_map(|(at, r)| match r {
                Record::Event(e) => Some((*at, e.clone())),
                _ => None,
            })
            .collect()
    }
}
