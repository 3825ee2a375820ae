//! Where "now" comes from.
//!
//! Every expiry decision (serving a session, extending it, sweeping it) reads the time through a
//! [`Clock`] held by the application state, never through `SystemTime::now()` directly. The
//! server uses [`SystemClock`]; tests inject a [`ManualClock`] and move it forward by hand, so a
//! 20-minute TTL is tested in microseconds and without a single sleep.
//!
//! Times are plain `u64` milliseconds since the Unix epoch: compact in the store (8 bytes), cheap
//! to compare, and precise enough for a protocol that reports milliseconds.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// A source of the current time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock set before 1970 reads as the epoch rather than failing a request.
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, duration_ms)
    }
}

/// A clock that only moves when told to; for tests.
///
/// ```
/// use keeper_server::clock::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock that reads `start_ms` until it is moved.
    pub fn new(start_ms: u64) -> Self {
        Self { now_ms: AtomicU64::new(start_ms) }
    }

    /// A clock that starts at the current wall-clock time, so formatted times look plausible.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(duration_ms(by), Ordering::SeqCst);
    }

    /// Sets the clock to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The last millisecond of the year 9999, the latest time RFC 3339 can write.
const LATEST_RFC3339_MS: u64 = 253_402_300_799_999;

/// Epoch milliseconds that display and serialize as an RFC 3339 UTC time with millisecond
/// precision, e.g. `2026-01-18T09:30:00.125Z`. Times past the year 9999 are written as its last
/// millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = UNIX_EPOCH + Duration::from_millis(self.0.min(LATEST_RFC3339_MS));
        fmt::Display::fmt(&humantime::format_rfc3339_millis(time), f)
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds() {
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Rfc3339(1_700_000_000_125).to_string(), "2023-11-14T22:13:20.125Z");
        assert_eq!(Rfc3339(u64::MAX).to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            serde_json::to_string(&Rfc3339(1_700_000_000_000)).unwrap(),
            "\"2023-11-14T22:13:20.000Z\""
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(5);
        assert_eq!(clock.now_ms(), 5);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_ms(), 1505);
        clock.set(42);
        assert_eq!(clock.now_ms(), 42);
    }
}
