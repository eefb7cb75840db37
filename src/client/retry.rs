//! When and how long to wait before retrying a failed request.

use std::time::Duration;

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
            return Duration::from_secs_f64(secs).min(self.max_delay);
        }
        let exp =
            self.base_delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(20) as i32);
        let capped = exp.min(self.max_delay.as_secs_f64());
        // Full jitter: spreads clients that failed together so they do not retry together.
        Duration::from_secs_f64(capped * (0.5 + 0.5 * unit))
    }
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
        assert!(
            transient_status(429)
                && transient_status(503)
                && !transient_status(400)
                && !transient_status(404)
        );
    }
}
