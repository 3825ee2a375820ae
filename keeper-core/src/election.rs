//! Choosing the leader tab where the Web Locks API is missing.
//!
//! Where the page has `navigator.locks`, the browser itself guarantees one holder of a lock per
//! session and hands it to the next tab when the holder closes or crashes; nothing here is
//! needed. Older browsers have only `BroadcastChannel`, so the tabs vote, by rules simple enough
//! to check: an established leader says so every [`BEACON_MS`] and always keeps its place; a
//! tab that hears no leader for [`LEADER_TIMEOUT_MS`] (or hears it resign) claims the place, and
//! among claimants heard within [`CLAIM_MS`] the lowest id wins; two leaders that hear each
//! other (a channel slower than the claim window) settle on the lower id at the next beacon.
//! Home-made elections that skip any of this elect several leaders at once.

use alloc::vec;
use alloc::vec::Vec;

/// A leader says it is alive this often.
pub const BEACON_MS: u64 = 1_000;
/// A leader unheard for this long is gone (crashed, or frozen without resigning).
pub const LEADER_TIMEOUT_MS: u64 = 3_500;
/// A claim stands if no lower claim or leader is heard for this long.
pub const CLAIM_MS: u64 = 300;

/// A vote on the channel; the number is the sending tab's random id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ballot {
    /// "I lead."
    Beacon(u64),
    /// "Nobody leads: I will."
    Claim(u64),
    /// "I am leaving: somebody take over."
    Resign(u64),
}

/// What the election asks of the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Post this ballot on the channel.
    Say(Ballot),
    /// This tab now leads: feed the machine `Input::Lead`.
    Lead,
    /// This tab no longer leads: feed the machine `Input::Follow`.
    Follow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Off,
    Following { leader_seen_at: u64 },
    Claiming { since: u64 },
    Leading { next_beacon: u64 },
}

/// One tab's part in the election.
#[derive(Debug, Clone)]
pub struct Election {
    me: u64,
    standing: Standing,
}

impl Election {
    /// A tab with the random id `me`, not yet voting.
    pub fn new(me: u64) -> Self {
        Election { me, standing: Standing::Off }
    }

    /// True while this tab leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.standing, Standing::Leading { .. })
    }

    /// Joins the election: claims at once, and yields to any leader or lower claim heard.
    pub fn start(&mut self, now: u64) -> Vec<Step> {
        match self.standing {
            Standing::Off => self.claim(now),
            _ => Vec::new(),
        }
    }

    /// Leaves the election (the keeper stopped, or the page is hidden for good); a leader
    /// resigns so another tab takes over at once.
    pub fn stop(&mut self) -> Vec<Step> {
        let was_leader = self.is_leader();
        self.standing = Standing::Off;
        if was_leader { vec![Step::Say(Ballot::Resign(self.me)), Step::Follow] } else { Vec::new() }
    }

    /// Another tab's ballot, heard at `now`.
    pub fn hear(&mut self, now: u64, ballot: Ballot) -> Vec<Step> {
        let me = self.me;
        match (self.standing, ballot) {
            (Standing::Off, _) => Vec::new(),
            (Standing::Leading { .. }, Ballot::Beacon(other)) if other < me => {
                self.standing = Standing::Following { leader_seen_at: now };
                vec![Step::Follow]
            }
            (Standing::Leading { .. }, Ballot::Claim(_)) => vec![Step::Say(Ballot::Beacon(me))],
            (Standing::Leading { .. }, _) => Vec::new(),
            (_, Ballot::Beacon(_)) => {
                self.standing = Standing::Following { leader_seen_at: now };
                Vec::new()
            }
            (Standing::Claiming { .. }, Ballot::Claim(other)) if other < me => {
                self.standing = Standing::Following { leader_seen_at: now };
                Vec::new()
            }
            (Standing::Claiming { .. }, Ballot::Claim(_)) => vec![Step::Say(Ballot::Claim(me))],
            (_, Ballot::Resign(_)) => self.claim(now),
            (Standing::Following { .. }, Ballot::Claim(_)) => Vec::new(),
        }
    }

    /// The time is `now`: a claim that stood becomes leadership, a leader beacons, a silent
    /// leader is given up on.
    pub fn tick(&mut self, now: u64) -> Vec<Step> {
        match self.standing {
            Standing::Claiming { since } if now >= since + CLAIM_MS => {
                self.standing = Standing::Leading { next_beacon: now + BEACON_MS };
                vec![Step::Say(Ballot::Beacon(self.me)), Step::Lead]
            }
            Standing::Leading { next_beacon } if now >= next_beacon => {
                self.standing = Standing::Leading { next_beacon: now + BEACON_MS };
                vec![Step::Say(Ballot::Beacon(self.me))]
            }
            Standing::Following { leader_seen_at } if now >= leader_seen_at + LEADER_TIMEOUT_MS => {
                self.claim(now)
            }
            _ => Vec::new(),
        }
    }

    /// When [`tick`](Self::tick) has something to do next.
    pub fn next_wake(&self) -> Option<u64> {
        match self.standing {
            Standing::Off => None,
            Standing::Following { leader_seen_at } => Some(leader_seen_at + LEADER_TIMEOUT_MS),
            Standing::Claiming { since } => Some(since + CLAIM_MS),
            Standing::Leading { next_beacon } => Some(next_beacon),
        }
    }

    fn claim(&mut self, now: u64) -> Vec<Step> {
        self.standing = Standing::Claiming { since: now };
        vec![Step::Say(Ballot::Claim(self.me))]
    }
}
