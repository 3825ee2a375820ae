//! How many requests one tab, and several tabs of one session, cost the server in an hour, with
//! the default options: the native core's [`Simulation`] and [`Tabs`] run the keeper's real state
//! machine through one simulated hour.
//!
//! ```sh
//! cargo run --release --example economy            # a table
//! cargo run --release --example economy -- --json  # the same figures as one JSON line
//! ```
//!
//! The rows: a user active all hour (an activity event every second), an idle tab left open, and
//! the same two through a 10-minute server outage (minutes 20 to 30, every request failing as a
//! refused connection, as when the server process is down), which shows what the retry backoff
//! costs. The simulated server answers at once with `ttl_seconds` = 1200 (20 minutes). The
//! machine's retry jitter is seeded, so the figures are the same on every run.
//!
//! The tab rows open 1, 2, 4 and 8 tabs of one session at the same moment, coordinated as with
//! the Web Locks API (one leader sends for all), and count every request any of them sends:
//! idle, and with the user active (an activity event every second) in the last tab opened, a
//! follower whenever there are several, so its activity reaches the leader through the channel
//! between tabs. The ratio compares each with one tab.

use keeper_core::event::Reason;
use keeper_core::options::Timing;
use keeper_core::reply::Reply;
use keeper_core::sim::{Coordination, Simulation, Tabs, ok};

const SEC: u64 = 1_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
/// Any start time; the figures do not depend on it.
const T0: u64 = 1_800_000_000_000;
const OUTAGE: (u64, u64) = (T0 + 20 * MIN, T0 + 30 * MIN);

struct Row {
    name: &'static str,
    requests: usize,
    during_outage: Option<usize>,
    by_reason: Vec<(&'static str, usize)>,
}

fn run(active: bool, outage: bool) -> Vec<(u64, Reason)> {
    let mut sim = Simulation::new(Timing::default(), T0);
    if outage {
        let ttl_seconds = Timing::default().ttl_ms as f64 / 1_000.0;
        sim.set_server(move |now| {
            Some(if (OUTAGE.0..OUTAGE.1).contains(&now) {
                Reply::Network { message: "connection refused".into() }
            } else {
                ok(ttl_seconds)
            })
        });
    }
    sim.start();
    if active {
        let mut t = T0;
        while t < T0 + HOUR {
            t += SEC;
            sim.advance_to(t);
            sim.activity();
        }
    }
    sim.advance_to(T0 + HOUR);
    sim.sent().into_iter().filter(|(at, _)| *at < T0 + HOUR).collect()
}

fn row(name: &'static str, active: bool, outage: bool) -> Row {
    let sent = run(active, outage);
    // Counted in the order each reason first appears, so every reason the core has is covered.
    let mut by_reason: Vec<(&'static str, usize)> = Vec::new();
    for (_, reason) in &sent {
        match by_reason.iter_mut().find(|(name, _)| *name == reason.as_str()) {
            Some((_, n)) => *n += 1,
            None => by_reason.push((reason.as_str(), 1)),
        }
    }
    let during_outage =
        outage.then(|| sent.iter().filter(|(at, _)| (OUTAGE.0..OUTAGE.1).contains(at)).count());
    Row { name, requests: sent.len(), during_outage, by_reason }
}

/// The requests `tabs` tabs of one session send in the hour, the user active in the last one
/// opened or in none.
fn tabs(tabs: usize, active: bool) -> usize {
    let mut sim = Tabs::new(Timing::default(), T0, Coordination::Locks);
    for _ in 0..tabs {
        sim.open();
    }
    if active {
        while sim.now() < T0 + HOUR {
            sim.advance(SEC);
            sim.activity(tabs - 1);
        }
    }
    sim.advance_to(T0 + HOUR);
    sim.sent().iter().filter(|(at, _, _)| *at < T0 + HOUR).count()
}

/// Requests per hour for one session open in this many tabs: (tabs, idle, active).
fn tab_rows() -> Vec<(usize, usize, usize)> {
    [1, 2, 4, 8].into_iter().map(|n| (n, tabs(n, false), tabs(n, true))).collect()
}

fn main() {
    let tab_rows = tab_rows();
    let (one_idle, one_active) = (tab_rows[0].1 as f64, tab_rows[0].2 as f64);
    let rows = [
        row("active user (activity every second)", true, false),
        row("idle tab, left open", false, false),
        row("idle tab through a 10-minute outage", false, true),
        row("active user through a 10-minute outage", true, true),
    ];
    if std::env::args().any(|a| a == "--json") {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                let reasons: Vec<String> =
                    r.by_reason.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!(
                    "{{\"name\":\"{}\",\"requests_per_hour\":{},\"during_outage\":{},\"by_reason\":{{{}}}}}",
                    r.name,
                    r.requests,
                    r.during_outage.map_or("null".to_string(), |n| n.to_string()),
                    reasons.join(",")
                )
            })
            .collect();
        let tab_items: Vec<String> = tab_rows
            .iter()
            .map(|(n, idle, active)| {
                format!(
                    "{{\"tabs\":{n},\"idle\":{idle},\"active\":{active},\"idle_ratio\":{:.2},\"active_ratio\":{:.2}}}",
                    *idle as f64 / one_idle,
                    *active as f64 / one_active
                )
            })
            .collect();
        println!(
            "{{\"outage_minutes\":[20,30],\"rows\":[{}],\"tabs\":[{}]}}",
            items.join(","),
            tab_items.join(",")
        );
        return;
    }
    println!("Requests in one simulated hour, default options (session-keeper's native core):");
    println!("{:<42} {:>9} {:>14}  by reason", "", "requests", "during outage");
    for r in &rows {
        let reasons: Vec<String> = r.by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{:<42} {:>9} {:>14}  {}",
            r.name,
            r.requests,
            r.during_outage.map_or("-".to_string(), |n| n.to_string()),
            reasons.join(", ")
        );
    }
    println!();
    println!(
        "One session open in several tabs (one leader sends for all; active: the user in a follower):"
    );
    println!("{:>5} {:>6} {:>8} {:>7} {:>8}", "tabs", "idle", "x 1 tab", "active", "x 1 tab");
    for (n, idle, active) in &tab_rows {
        println!(
            "{n:>5} {idle:>6} {:>8.2} {active:>7} {:>8.2}",
            *idle as f64 / one_idle,
            *active as f64 / one_active
        );
    }
}
