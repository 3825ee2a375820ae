//! What the tabs of one session tell each other, and its wire form.
//!
//! With `crossTab`, one tab (the leader) sends the heartbeats for all. Each tab's machine is fed
//! the others' news as plain facts ("the leader's heartbeat succeeded at T", "the user did
//! something in another tab at T"), so every tab fires its own callbacks and agrees on the state
//! and the expiry. Facts travel as short strings on a `BroadcastChannel`, encoded and decoded
//! here so that the format is tested natively.

use alloc::string::String;

use crate::election::Ballot;
use crate::event::{ExpiryReason, Failure, Heartbeat, Presence, Reason, Source};
use crate::text::{cut, parse_u64, push_u64};

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
    /// The server asked the leader to wait before its next heartbeat (`Retry-After`): a tab
    /// that takes over waits as long.
    Wait {
        /// Until when.
        until: u64,
    },
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
    /// The leader's heartbeat was refused in a way that means the session is gone (a 404, a
    /// 401, a redirect to a login page): the failure and the end in one, so that other tabs go
    /// from running to expired as the leader did, not through failing.
    Gone(Failure, ExpiryReason),
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

impl Fact {
    /// The wire form of `Message::Fact(self)`, without building that message (a copy of the
    /// fact, texts included).
    pub fn encode(&self) -> String {
        let opt = |n: Option<u64>| n.unwrap_or(NONE);
        let (tag, numbers): (&str, &[u64]) = match self {
            Fact::Hello => ("h", &[]),
            Fact::Snapshot(s) => (
                "s",
                &[
                    opt(s.expires_at),
                    s.lifetime_ms,
                    opt(s.last_sent_at),
                    opt(s.last_success_at),
                    u64::from(s.failures),
                    opt(s.failing_since),
                    u64::from(s.warned),
                    opt(s.last_activity_at),
                    s.presence as u64,
                ],
            ),
            Fact::Beat(h) => (
                "b",
                &[h.reason as u64, u64::from(h.status), h.sent_at, h.expires_at, h.latency_ms],
            ),
            Fact::Failed(f) => ("f", &[f.reason as u64, u64::from(f.status), f.sent_at]),
            Fact::Gone(f, end) => {
                ("g", &[f.reason as u64, u64::from(f.status), f.sent_at, *end as u64])
            }
            Fact::Wait { until } => ("y", &[*until]),
            Fact::Warning { since, failures } => ("w", &[*since, u64::from(*failures)]),
            Fact::Recovered { failures, downtime_ms } => {
                ("r", &[u64::from(*failures), *downtime_ms])
            }
            Fact::Expired(reason) => ("x", &[*reason as u64]),
            Fact::Extended { expires_at } => ("e", &[*expires_at]),
            Fact::Activity { at } => ("a", &[*at]),
            Fact::Activate { at } => ("v", &[*at]),
            Fact::BeatRequest => ("q", &[]),
        };
        let failure = match self {
            Fact::Failed(f) | Fact::Gone(f, _) => Some(f),
            _ => None,
        };
        wire(tag, numbers, failure)
    }
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
    /// Whether the tabs are prompting, or the user is idle: a tab that opens then does not
    /// pretend the user is back (opening a tab is ordinary activity, which a prompt ignores).
    pub presence: Presence,
}

/// Everything on the channel: facts, and the votes of the fallback election.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// News for the machine.
    Fact(Fact),
    /// A vote for the election used where the Web Locks API is missing.
    Ballot(Ballot),
}

/// Numbers are separated by commas after the tag; free texts follow, each after a newline, the
/// last one running to the end so that it may hold anything.
const NONE: u64 = u64::MAX;

impl Message {
    /// The wire form: a letter, the numbers, then the texts.
    ///
    /// ```
    /// use keeper_core::tabs::{Fact, Message};
    /// let message = Message::Fact(Fact::Activity { at: 1_800_000_000_000 });
    /// assert_eq!(message.encode(), "a1800000000000");
    /// assert_eq!(Message::decode(&message.encode()), Some(message));
    /// ```
    pub fn encode(&self) -> String {
        match self {
            Message::Ballot(Ballot::Beacon(id)) => wire("L", &[*id], None),
            Message::Ballot(Ballot::Claim(id)) => wire("C", &[*id], None),
            Message::Ballot(Ballot::Resign(id)) => wire("R", &[*id], None),
            Message::Fact(fact) => fact.encode(),
        }
    }

    /// Reads [`encode`](Self::encode)'s form; `None` for anything else, which is ignored.
    pub fn decode(text: &str) -> Option<Message> {
        let (head, texts) = cut(text, b'\n');
        let (&tag, digits) = head.as_bytes().split_first()?;
        // Only failures carry texts. (`cut` says whether there is a newline: `[u8]::contains`
        // would bring a 400-byte word-at-a-time search into the package.)
        if texts.is_some() && !matches!(tag, b'f' | b'g') {
            return None;
        }
        let texts = texts.unwrap_or("");
        let mut n = [NONE; 9];
        let mut count = 0;
        let mut rest = if digits.is_empty() { None } else { head.get(1..) };
        while let Some(fields) = rest {
            let (field, more) = cut(fields, b',');
            *n.get_mut(count)? = if field.is_empty() { NONE } else { parse_u64(field)? };
            count += 1;
            rest = more;
        }
        let opt = |v: u64| (v != NONE).then_some(v);
        let small = |v: u64| u32::try_from(v).ok();
        let (expected, message) = match tag {
            b'L' => (1, Message::Ballot(Ballot::Beacon(n[0]))),
            b'C' => (1, Message::Ballot(Ballot::Claim(n[0]))),
            b'R' => (1, Message::Ballot(Ballot::Resign(n[0]))),
            b'h' => (0, Message::Fact(Fact::Hello)),
            b's' => (
                9,
                Message::Fact(Fact::Snapshot(Snapshot {
                    expires_at: opt(n[0]),
                    lifetime_ms: n[1],
                    last_sent_at: opt(n[2]),
                    last_success_at: opt(n[3]),
                    failures: small(n[4])?,
                    failing_since: opt(n[5]),
                    warned: n[6] == 1,
                    last_activity_at: opt(n[7]),
                    presence: *PRESENCES.get(usize::try_from(n[8]).ok()?)?,
                })),
            ),
            b'b' => (
                5,
                Message::Fact(Fact::Beat(Heartbeat {
                    reason: reason(n[0])?,
                    status: u16::try_from(n[1]).ok()?,
                    sent_at: n[2],
                    expires_at: n[3],
                    latency_ms: n[4],
                    source: Source::OtherTab,
                })),
            ),
            b'f' | b'g' => {
                let (code, message) = cut(texts, b'\n');
                let failure = Failure {
                    reason: reason(n[0])?,
                    status: u16::try_from(n[1]).ok()?,
                    sent_at: n[2],
                    code: code.into(),
                    message: message?.into(),
                    source: Source::OtherTab,
                };
                match tag {
                    b'f' => (3, Message::Fact(Fact::Failed(failure))),
                    _ => {
                        let end = *EXPIRY_REASONS.get(usize::try_from(n[3]).ok()?)?;
                        (4, Message::Fact(Fact::Gone(failure, end)))
                    }
                }
            }
            b'y' => (1, Message::Fact(Fact::Wait { until: n[0] })),
            b'w' => (2, Message::Fact(Fact::Warning { since: n[0], failures: small(n[1])? })),
            b'r' => {
                (2, Message::Fact(Fact::Recovered { failures: small(n[0])?, downtime_ms: n[1] }))
            }
            b'x' => (1, Message::Fact(Fact::Expired(*EXPIRY_REASONS.get(n[0] as usize)?))),
            b'e' => (1, Message::Fact(Fact::Extended { expires_at: n[0] })),
            b'a' => (1, Message::Fact(Fact::Activity { at: n[0] })),
            b'v' => (1, Message::Fact(Fact::Activate { at: n[0] })),
            b'q' => (0, Message::Fact(Fact::BeatRequest)),
            _ => return None,
        };
        (count == expected).then_some(message)
    }
}

/// `tag`, the `numbers` separated by commas, then a failure's code and message.
fn wire(tag: &str, numbers: &[u64], failure: Option<&Failure>) -> String {
    let mut out = String::new();
    out.push_str(tag);
    for (i, &n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push_str(",");
        }
        if n != NONE {
            push_u64(&mut out, n);
        }
    }
    if let Some(f) = failure {
        // Only the last text may hold a newline: it runs to the end.
        out.push_str("\n");
        let mut code = f.code.as_str();
        while let (line, Some(more)) = cut(code, b'\n') {
            out.push_str(line);
            out.push_str(" ");
            code = more;
        }
        out.push_str(code);
        out.push_str("\n");
        out.push_str(&f.message);
    }
    out
}

// The decoding tables: the encoder writes a variant as its discriminant (`as u64`), so each
// table lists its enum's variants in declaration order.
const REASONS: [Reason; 6] =
    [Reason::Start, Reason::Timer, Reason::Activity, Reason::Manual, Reason::Resume, Reason::Retry];

const EXPIRY_REASONS: [ExpiryReason; 4] = [
    ExpiryReason::NotFound,
    ExpiryReason::Unauthorized,
    ExpiryReason::TtlElapsed,
    ExpiryReason::Revoked,
];

const PRESENCES: [Presence; 3] = [Presence::Active, Presence::Prompted, Presence::Idle];

fn reason(n: u64) -> Option<Reason> {
    REASONS.get(usize::try_from(n).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn each_decoding_table_lists_its_variants_in_declaration_order() {
        assert!(REASONS.iter().enumerate().all(|(i, r)| *r as usize == i));
        assert!(EXPIRY_REASONS.iter().enumerate().all(|(i, r)| *r as usize == i));
        assert!(PRESENCES.iter().enumerate().all(|(i, p)| *p as usize == i));
    }

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
            Message::Ballot(Ballot::Beacon(1 << 53)),
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
                presence: Presence::Prompted,
            })),
            Message::Fact(Fact::Beat(heartbeat)),
            Message::Fact(Fact::Failed(failure)),
            Message::Fact(Fact::Wait { until: 1_800_000_120_000 }),
            Message::Fact(Fact::Warning { since: 1, failures: 3 }),
            Message::Fact(Fact::Recovered { failures: 3, downtime_ms: 90_000 }),
            Message::Fact(Fact::Expired(ExpiryReason::Revoked)),
            Message::Fact(Fact::Gone(
                Failure {
                    reason: Reason::Timer,
                    status: 404,
                    code: "ERR_SESSION_NOT_FOUND".into(),
                    message: "gone".into(),
                    sent_at: 9,
                    source: Source::OtherTab,
                },
                ExpiryReason::NotFound,
            )),
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
            "",
            "z",
            "a",
            "a\n",
            "a1\nx",
            "a1,2",
            "b9,200,1,2,3",
            "b1,70000,1,2,3",
            "x9",
            "L-1",
            "s,,",
            "w1,99999999999",
            "hh",
            "h\n",
            "a,",
            "f1,500,1\nno message line",
        ] {
            assert_eq!(Message::decode(junk), None, "{junk:?}");
        }
    }
}
