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

impl Rfc3339 {
    /// The text, `YYYY-MM-DDTHH:MM:SS.mmmZ`. Written digit by digit rather than through
    /// `humantime` and the formatting machinery: every answer carries two or three of these, and
    /// this is a few dozen instructions with no allocation.
    pub(crate) fn text(self) -> [u8; 24] {
        let ms = self.0.min(LATEST_RFC3339_MS);
        let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
        let (year, month, day) = civil_from_days(days);
        let mut text = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], month);
        put_digits(&mut text[8..10], day);
        put_digits(&mut text[11..13], ms_of_day / 3_600_000);
        put_digits(&mut text[14..16], ms_of_day / 60_000 % 60);
        put_digits(&mut text[17..19], ms_of_day / 1000 % 60);
        put_digits(&mut text[20..23], ms_of_day % 1000);
        text
    }
}

/// Writes `value`'s last `digits.len()` decimal digits into `digits`, zero-padded.
fn put_digits(digits: &mut [u8], mut value: u64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01: Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shifted to 0000-03-01, so that each 400-year era starts with March and ends with the leap
    // day, if any.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_based_month + 2) / 5 + 1;
    let month = if march_based_month < 10 { march_based_month + 3 } else { march_based_month - 9 };
    (era * 400 + year_of_era + u64::from(month <= 2), month, day)
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ASCII digits and punctuation only, so this never fails.
        f.write_str(std::str::from_utf8(&self.text()).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        // ASCII digits and punctuation only, so this never fails.
        let text = std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
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
    fn formats_as_humantime_does() {
        let days = |days: u64| days * 86_400_000;
        let mut times = vec![
            days(59) - 1,         // 1970-02-28T23:59:59.999
            days(365 + 365 + 59), // 1972-02-29, the first leap day
            951_782_400_000,      // 2000-02-29: divisible by 400, a leap year
            4_107_542_400_000,    // 2100-03-01: divisible by 100 only, no leap day before
            LATEST_RFC3339_MS,
        ];
        // A deterministic spread over the whole range, every millisecond field moving.
        let mut time = 0u64;
        for _ in 0..20_000 {
            time = time
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            times.push(time % (LATEST_RFC3339_MS + 1));
        }
        for ms in times {
            let expected = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms));
            assert_eq!(Rfc3339(ms).to_string(), expected.to_string(), "{ms}");
        }
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
