//! When and how long to wait before retrying a failed request.

use std::time::{Duration, SystemTime};

/// Retries with exponential backoff and full jitter, honouring `Retry-After`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub attempts: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// No single wait is longer than this (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Whether an HTTP status is worth retrying: rate limits, timeouts and server errors.
pub(crate) fn transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (`attempt` is 1-based), given the server's
    /// `Retry-After` in seconds if it sent one. `unit` is a uniform number in [0, 1) for jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<f64>, unit: f64) -> Duration {
        if let Some(secs) = retry_after.filter(|s| s.is_finite() && *s >= 0.0) {
            return Duration::from_secs_f64(secs.min(self.max_delay.as_secs_f64()));
        }
        let exp =
            self.base_delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(20) as i32);
        let capped = exp.min(self.max_delay.as_secs_f64());
        // Full jitter: spreads clients that failed together so they do not retry together.
        Duration::from_secs_f64(capped * (0.5 + 0.5 * unit))
    }
}

/// The wait a `Retry-After` value asks for, in seconds from `now`: either delay-seconds or an
/// HTTP-date (RFC 9110 §10.2.3; a date in the past means "now"). `None` for anything else, so
/// that an unreadable value falls back to the backoff rather than failing the request.
pub(crate) fn retry_after_secs(value: &str, now: SystemTime) -> Option<f64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Some(secs);
    }
    let at = epoch_plus(parse_http_date(value)?);
    Some(at.duration_since(now).map_or(0.0, |d| d.as_secs_f64()))
}

fn epoch_plus(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Seconds since the Unix epoch of an HTTP-date in any of the three forms RFC 9110 requires a
/// recipient to read: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850
/// form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (day, month, year, time): (u32, u32, i64, &str) = match parts.as_slice() {
        [weekday, d, m, y, t, "GMT"] if weekday.ends_with(',') && y.len() == 4 => {
            (d.parse().ok()?, month_number(m)?, y.parse().ok()?, t)
        }
        [weekday, dmy, t, "GMT"] if weekday.ends_with(',') => {
            let mut it = dmy.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 2 {
                return None;
            }
            let yy: i64 = y.parse().ok()?;
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century; for
            // a retry wait, 1970–2069 is the only sensible reading.
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (d.parse().ok()?, month_number(m)?, year, t)
        }
        [_weekday, m, d, t, y] if y.len() == 4 => {
            (d.parse().ok()?, month_number(m)?, y.parse().ok()?, t)
        }
        _ => return None,
    };
    let mut hms = time.split(':');
    let (h, mi, se): (u64, u64, u64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    if hms.next().is_some() || h > 23 || mi > 59 || se > 60 || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if days < 0 {
        return None;
    }
    Some(days as u64 * 86_400 + h * 3600 + mi * 60 + se)
}

fn month_number(m: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|&x| x == m).map(|i| i as u32 + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(1, None, 0.999_999).as_millis(), 99);
        assert_eq!(p.delay(3, None, 0.0).as_millis(), 200);
        assert_eq!(p.delay(10, None, 0.999_999).as_millis(), 999);
        assert_eq!(p.delay(1, Some(0.5), 0.3).as_millis(), 500);
        assert_eq!(p.delay(1, Some(3600.0), 0.3).as_secs(), 1);
        assert_eq!(p.delay(1, Some(1e300), 0.3).as_secs(), 1, "no overflow");
        assert!(
            transient_status(429)
                && transient_status(503)
                && !transient_status(400)
                && !transient_status(404)
        );
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        // The RFC's own example instant, 784111777 seconds after the epoch.
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
        }
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn retry_after_as_seconds_or_date() {
        let now = epoch_plus(784_111_777);
        assert_eq!(retry_after_secs(" 2 ", now), Some(2.0));
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:49:40 GMT", now),
            Some(3.0)
        );
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:49:30 GMT", now),
            Some(0.0),
            "a date in the past means retry now"
        );
        assert_eq!(retry_after_secs("later", now), None);
    }
}
