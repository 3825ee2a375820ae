//! The two date formats a heartbeat answer carries: RFC 3339 in `expires_at`, and the HTTP date a
//! `Retry-After` header may hold instead of seconds.
//!
//! Parsed here, by hand, rather than with `Date.parse` so the rules are tested natively, and
//! rather than with a date crate so the wasm stays small.

/// Parses an RFC 3339 timestamp (`2026-11-22T10:00:00.250Z`, `2026-11-22T12:00:00+02:00`) into
/// epoch milliseconds. Fractions beyond milliseconds are truncated.
///
/// ```
/// use keeper_core::date::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500));
/// assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Some(0));
/// assert_eq!(parse_rfc3339("yesterday"), None);
/// ```
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    // A leap second (60) is read as the last millisecond-aligned second before it.
    let second = digits(b, 17, 2)?.min(59);
    let mut rest = &b[19..];
    let mut millis = 0;
    if let [b'.', tail @ ..] = rest {
        let count = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        for (i, c) in tail[..count].iter().enumerate().take(3) {
            millis += u64::from(c - b'0') * [100, 10, 1][i];
        }
        rest = &tail[count..];
    }
    let offset_minutes: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2], 0, 2)?;
            let minutes = digits(&[*m1, *m2], 0, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = (hours * 60 + minutes) as i64;
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let date = days_from_civil(year, month, day)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let seconds =
        date * 86_400 + (hour * 3_600 + minute * 60 + second) as i64 - offset_minutes * 60;
    u64::try_from(seconds).ok().map(|s| s * 1_000 + millis)
}

/// Parses an HTTP date in its preferred form (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`)
/// into epoch milliseconds. The obsolete RFC 850 and asctime forms are not accepted.
///
/// ```
/// use keeper_core::date::parse_http_date;
/// assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:01:00 GMT"), Some(60_000));
/// ```
pub fn parse_http_date(text: &str) -> Option<u64> {
    let b = text.trim_ascii().as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u32 + 1;
    let day = digits(b, 5, 2)?;
    let year = digits(b, 12, 4)?;
    let (hour, minute, second) = (digits(b, 17, 2)?, digits(b, 20, 2)?, digits(b, 23, 2)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day)? * 86_400
        + (hour * 3_600 + minute * 60 + second.min(59)) as i64;
    u64::try_from(seconds).ok().map(|s| s * 1_000)
}

/// Reads `len` ASCII digits at `at` as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    b.get(at..at + len)?
        .iter()
        .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date, after Howard Hinnant's
/// `days_from_civil`; `None` for a day the month does not have.
fn days_from_civil(year: u32, month: u32, day: u32) -> Option<i64> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day == 0 || day > month_days[month as usize - 1] {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        assert_eq!(parse_rfc3339("2026-11-22T10:20:30.123Z"), Some(1_795_342_830_123));
        assert_eq!(parse_rfc3339("2026-11-22t10:20:30.123456789z"), Some(1_795_342_830_123));
        assert_eq!(parse_rfc3339("2026-11-22 10:20:30.1Z"), Some(1_795_342_830_100));
        assert_eq!(parse_rfc3339("2026-11-22T12:20:30.123+02:00"), Some(1_795_342_830_123));
        assert_eq!(parse_rfc3339("2026-11-22T05:50:30.123-04:30"), Some(1_795_342_830_123));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), parse_rfc3339("2016-12-31T23:59:59Z"));
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T10:20:30",
            "2026-11-22T10:20:30.Z",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:60:00Z",
            "2026-11-22T10:20:30+2:00",
            "2026-11-22T10:20:30Zjunk",
            "1969-12-31T23:59:59Z",
            "２026-11-22T10:20:30Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
        assert_eq!(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT "), Some(784_111_777_000));
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "120",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
