//! What the tabs of one session tell each other, and its wire form.
//!
//! With `crossTab`, one tab (the leader) sends the heartbeats for all. Each tab's machine is fed
//! the others' news as plain facts ("the leader's heartbeat succeeded at T", "the user did
//! something in another tab at T"), so every tab fires its own callbacks and agrees on the state
//! and the expiry. Facts travel as short strings on a `BroadcastChannel`, encoded and decoded
//! here so that the format is tested natively.

use alloc::string::String;

use crate::election::Ballot;
use crate::event::{ExpiryReason, Failure, Heartbeat, Reason, Source};
use crate::text::{parse_u64, push_u64};

/// The prefix of every lock and channel name; its number changes with the wire format, so tabs
/// running different versions never mistake each other's messages.
pub const NAME_PREFIX: &str = "session-keeper/1 ";

/// News from another tab of the same session.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A tab started and asks the leader for a [`Snapshot`].
    Hello,
    /// The leader's view, for a tab that said hello.
    Snapshot(Snapshot),
    /// The leader's heartbeat succeeded.
    Beat(Heartbeat),
    /// The leader's heartbeat failed.
    Failed(Failure),
    /// The leader's heartbeats have failed for `failureWarningMs`.
    Warning {
        /// When the episode began.
        since: u64,
        /// Consecutive failures so far.
        failures: u32,
    },
    /// The leader's heartbeats succeed again after a warning.
    Recovered {
        /// Consecutive failures the episode counted.
        failures: u32,
        /// How long the episode lasted.
        downtime_ms: u64,
    },
    /// The session is gone.
    Expired(ExpiryReason),
    /// The live channel moved the session's expiry.
    Extended {
        /// The new expiry.
        expires_at: u64,
    },
    /// The user did something in another tab.
    Activity {
        /// When.
        at: u64,
    },
    /// The user pressed "stay signed in" in another tab.
    Activate {
        /// When.
        at: u64,
    },
    /// Another tab's page called `beat()`: the leader sends one.
    BeatRequest,
}

/// What a tab that joins needs to know to agree with the others at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// When the session expires, if known.
    pub expires_at: Option<u64>,
    /// How long the server granted at the last extension.
    pub lifetime_ms: u64,
    /// When the leader last sent a heartbeat.
    pub last_sent_at: Option<u64>,
    /// When the last successful heartbeat was answered.
    pub last_success_at: Option<u64>,
    /// Failures since the last success.
    pub failures: u32,
    /// When the current failure episode began.
    pub failing_since: Option<u64>,
    /// Whether the episode was already warned about.
    pub warned: bool,
    /// The latest activity in any tab, with the idle policy on.
    pub last_activity_at: Option<u64>,
}

/// Everything on the channel: facts, and the votes of the fallback election.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// News for the machine.
    Fact(Fact),
    /// A vote for the election used where the Web Locks API is missing.
    Ballot(Ballot),
}

/// Fields are separated by newlines; free text goes last so it may hold anything.
const SEP: char = '\n';

impl Message {
    /// The wire form: a letter, then the fields.
    ///
    /// ```
    /// use keeper_core::tabs::{Fact, Message};
    /// let message = Message::Fact(Fact::Activity { at: 1_800_000_000_000 });
    /// assert_eq!(Message::decode(&message.encode()), Some(message));
    /// ```
    pub fn encode(&self) -> String {
        let mut w = Writer(String::new());
        match self {
            Message::Ballot(Ballot::Beacon(id)) => w.tag('L').num(*id),
            Message::Ballot(Ballot::Claim(id)) => w.tag('C').num(*id),
            Message::Ballot(Ballot::Resign(id)) => w.tag('R').num(*id),
            Message::Fact(fact) => match fact {
                Fact::Hello => w.tag('h'),
                Fact::Snapshot(s) => w
                    .tag('s')
                    .opt(s.expires_at)
                    .num(s.lifetime_ms)
                    .opt(s.last_sent_at)
                    .opt(s.last_success_at)
                    .num(u64::from(s.failures))
                    .opt(s.failing_since)
                    .num(u64::from(s.warned))
                    .opt(s.last_activity_at),
                Fact::Beat(h) => w
                    .tag('b')
                    .text(h.reason.as_str())
                    .num(u64::from(h.status))
                    .num(h.sent_at)
                    .num(h.expires_at)
                    .num(h.latency_ms),
                Fact::Failed(f) => w
                    .tag('f')
                    .text(f.reason.as_str())
                    .num(u64::from(f.status))
                    .num(f.sent_at)
                    .text(&f.code.replace(SEP, " "))
                    .text(&f.message),
                Fact::Warning { since, failures } => {
                    w.tag('w').num(*since).num(u64::from(*failures))
                }
                Fact::Recovered { failures, downtime_ms } => {
                    w.tag('r').num(u64::from(*failures)).num(*downtime_ms)
                }
                Fact::Expired(reason) => w.tag('x').text(reason.as_str()),
                Fact::Extended { expires_at } => w.tag('e').num(*expires_at),
                Fact::Activity { at } => w.tag('a').num(*at),
                Fact::Activate { at } => w.tag('v').num(*at),
                Fact::BeatRequest => w.tag('q'),
            },
        };
        w.0
    }

    /// Reads [`encode`](Self::encode)'s form; `None` for anything else, which is ignored.
    pub fn decode(text: &str) -> Option<Message> {
        let mut chars = text.chars();
        let tag = chars.next()?;
        let rest = chars.as_str();
        let mut fields = Fields(if rest.is_empty() { None } else { Some(rest.strip_prefix(SEP)?) });
        let fact = match tag {
            'L' => return Some(Message::Ballot(Ballot::Beacon(fields.num()?))),
            'C' => return Some(Message::Ballot(Ballot::Claim(fields.num()?))),
            'R' => return Some(Message::Ballot(Ballot::Resign(fields.num()?))),
            'h' => Fact::Hello,
            's' => Fact::Snapshot(Snapshot {
                expires_at: fields.opt()?,
                lifetime_ms: fields.num()?,
                last_sent_at: fields.opt()?,
                last_success_at: fields.opt()?,
                failures: fields.small()?,
                failing_since: fields.opt()?,
                warned: fields.num()? != 0,
                last_activity_at: fields.opt()?,
            }),
            'b' => Fact::Beat(Heartbeat {
                reason: Reason::parse(fields.next()?)?,
                status: u16::try_from(fields.num()?).ok()?,
                sent_at: fields.num()?,
                expires_at: fields.num()?,
                latency_ms: fields.num()?,
                source: Source::OtherTab,
            }),
            'f' => Fact::Failed(Failure {
                reason: Reason::parse(fields.next()?)?,
                status: u16::try_from(fields.num()?).ok()?,
                sent_at: fields.num()?,
                code: fields.next()?.into(),
                message: fields.rest()?.into(),
                source: Source::OtherTab,
            }),
            'w' => Fact::Warning { since: fields.num()?, failures: fields.small()? },
            'r' => Fact::Recovered { failures: fields.small()?, downtime_ms: fields.num()? },
            'x' => Fact::Expired(ExpiryReason::parse(fields.next()?)?),
            'e' => Fact::Extended { expires_at: fields.num()? },
            'a' => Fact::Activity { at: fields.num()? },
            'v' => Fact::Activate { at: fields.num()? },
            'q' => Fact::BeatRequest,
            _ => return None,
        };
        fields.end().then_some(Message::Fact(fact))
    }
}

struct Writer(String);

impl Writer {
    fn tag(&mut self, tag: char) -> &mut Self {
        self.0.push(tag);
        self
    }

    fn text(&mut self, text: &str) -> &mut Self {
        self.0.push(SEP);
        self.0.push_str(text);
        self
    }

    fn num(&mut self, n: u64) -> &mut Self {
        self.0.push(SEP);
        push_u64(&mut self.0, n);
        self
    }

    fn opt(&mut self, n: Option<u64>) -> &mut Self {
        match n {
            Some(n) => self.num(n),
            None => self.text(""),
        }
    }
}

struct Fields<'a>(Option<&'a str>);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let text = self.0?;
        let (field, rest) = match text.split_once(SEP) {
            Some((field, rest)) => (field, Some(rest)),
            None => (text, None),
        };
        self.0 = rest;
        Some(field)
    }

    fn rest(&mut self) -> Option<&'a str> {
        self.0.take()
    }

    fn num(&mut self) -> Option<u64> {
        parse_u64(self.next()?)
    }

    fn small(&mut self) -> Option<u32> {
        u32::try_from(self.num()?).ok()
    }

    fn opt(&mut self) -> Option<Option<u64>> {
        match self.next()? {
            "" => Some(None),
            text => parse_u64(text).map(Some),
        }
    }

    fn end(&self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn every_message_survives_the_wire() {
        let heartbeat = Heartbeat {
            reason: Reason::Activity,
            status: 204,
            sent_at: 1_800_000_000_000,
            expires_at: 1_800_001_200_000,
            latency_ms: 35,
            source: Source::OtherTab,
        };
        let failure = Failure {
            reason: Reason::Retry,
            status: 0,
            code: "ERR_NETWORK".into(),
            message: "Failed to fetch\nsecond line | with separators".into(),
            sent_at: 7,
            source: Source::OtherTab,
        };
        let messages = vec![
            Message::Ballot(Ballot::Beacon(u64::MAX)),
            Message::Ballot(Ballot::Claim(0)),
            Message::Ballot(Ballot::Resign(42)),
            Message::Fact(Fact::Hello),
            Message::Fact(Fact::Snapshot(Snapshot::default())),
            Message::Fact(Fact::Snapshot(Snapshot {
                expires_at: Some(9),
                lifetime_ms: 1_200_000,
                last_sent_at: Some(0),
                last_success_at: Some(3),
                failures: 2,
                failing_since: Some(4),
                warned: true,
                last_activity_at: Some(5),
            })),
            Message::Fact(Fact::Beat(heartbeat)),
            Message::Fact(Fact::Failed(failure)),
            Message::Fact(Fact::Warning { since: 1, failures: 3 }),
            Message::Fact(Fact::Recovered { failures: 3, downtime_ms: 90_000 }),
            Message::Fact(Fact::Expired(ExpiryReason::Revoked)),
            Message::Fact(Fact::Extended { expires_at: 11 }),
            Message::Fact(Fact::Activity { at: 12 }),
            Message::Fact(Fact::Activate { at: 13 }),
            Message::Fact(Fact::BeatRequest),
        ];
        for message in messages {
            let wire = message.encode();
            assert_eq!(Message::decode(&wire), Some(message), "{wire:?}");
        }
    }

    #[test]
    fn a_failure_code_cannot_break_the_framing() {
        let failure = Failure {
            reason: Reason::Timer,
            status: 500,
            code: "ERR\nODD".into(),
            message: "m".into(),
            sent_at: 1,
            source: Source::ThisTab,
        };
        let Some(Message::Fact(Fact::Failed(read))) =
            Message::decode(&Message::Fact(Fact::Failed(failure)).encode())
        else {
            panic!("decodes")
        };
        assert_eq!((read.code.as_str(), read.message.as_str()), ("ERR ODD", "m"));
    }

    #[test]
    fn anything_else_is_ignored() {
        for junk in [
            "", "z", "a", "a\n", "a\nx", "a\n1\n2", "b\nsoon\n200\n1\n2\n3", "b\ntimer\n70000\n1\n2\n3",
            "x\nlater", "L\n-1", "s\n\n\n", "w\n1\n99999999999", "hh", "h\n",
        ] {
            assert_eq!(Message::decode(junk), None, "{junk:?}");
        }
    }
}
