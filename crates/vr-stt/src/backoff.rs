//! The reconnect policy shared by every provider.
//!
//! The delay is a pure function of the attempt number and a random unit value, so tests can
//! check it exactly; the waiting itself uses `tokio::time`, so tests over in-memory sockets
//! can run with paused time (`#[tokio::test(start_paused = true)]`).

use std::time::Duration;

/// Exponential backoff with a cap, symmetric jitter and a bounded number of attempts.
///
/// Defaults are the original's: base 1 s, cap 30 s, jitter ±25 %, 3 attempts, so the
/// delays are about 1, 2 and 4 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first attempt (before jitter).
    pub base: Duration,
    /// Largest delay before jitter.
    pub cap: Duration,
    /// Relative jitter: the delay is multiplied by a factor in `[1 - jitter, 1 + jitter)`.
    /// Clamped to `0.0..=1.0`.
    pub jitter: f64,
    /// Connection attempts after a fault before giving up.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            jitter: 0.25,
            max_attempts: 3,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0-based), given a random `unit` in `[0, 1)`:
    /// `min(base × 2^attempt, cap) × (1 - jitter + 2 × jitter × unit)`.
    ///
    /// `unit` outside `[0, 1]` (or NaN) is clamped, so the result stays in range.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 2f64.powi(i32::try_from(attempt.min(62)).unwrap_or(62));
        let raw = self.base.as_secs_f64() * factor;
        let capped = raw.min(self.cap.as_secs_f64());
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let scaled = capped * (1.0 - jitter + 2.0 * jitter * unit);
        Duration::try_from_secs_f64(scaled.max(0.0)).unwrap_or(self.cap)
    }

    /// The reason reported when every attempt failed:
    /// `reconnect_exhausted_after_{max_attempts}_attempts`.
    pub fn exhausted_reason(&self) -> String {
        format!("reconnect_exhausted_after_{}_attempts", self.max_attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn defaults_match_the_original() {
        let b = Backoff::default();
        assert_eq!(b.base, Duration::from_secs(1));
        assert_eq!(b.cap, Duration::from_secs(30));
        assert!((b.jitter - 0.25).abs() < f64::EPSILON);
        assert_eq!(b.max_attempts, 3);
        assert_eq!(b.exhausted_reason(), "reconnect_exhausted_after_3_attempts");
    }

    #[test]
    fn delays_double_without_jitter_at_mid_unit() {
        let b = Backoff::default();
        assert!((secs(b.delay(0, 0.5)) - 1.0).abs() < 1e-9);
        assert!((secs(b.delay(1, 0.5)) - 2.0).abs() < 1e-9);
        assert!((secs(b.delay(2, 0.5)) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn jitter_bounds_are_plus_minus_a_quarter() {
        let b = Backoff::default();
        assert!((secs(b.delay(0, 0.0)) - 0.75).abs() < 1e-9);
        assert!((secs(b.delay(0, 1.0)) - 1.25).abs() < 1e-9);
        assert!((secs(b.delay(2, 0.0)) - 3.0).abs() < 1e-9);
        assert!((secs(b.delay(2, 1.0)) - 5.0).abs() < 1e-9);
        // B61: strictly rising for any jitter draws, first in (0.5, 1.5), third in (2, 6).
        for u in [0.0, 0.3, 0.999] {
            for v in [0.0, 0.6, 0.999] {
                assert!(b.delay(1, v) > b.delay(0, u));
                assert!(b.delay(2, v) > b.delay(1, u));
            }
            assert!(secs(b.delay(0, u)) > 0.5 && secs(b.delay(0, u)) < 1.5);
            assert!(secs(b.delay(2, u)) > 2.0 && secs(b.delay(2, u)) < 6.0);
        }
    }

    #[test]
    fn cap_applies_before_jitter() {
        let b = Backoff::default();
        assert!((secs(b.delay(5, 0.5)) - 30.0).abs() < 1e-9);
        assert!((secs(b.delay(10, 1.0)) - 37.5).abs() < 1e-9);
        assert!((secs(b.delay(u32::MAX, 0.0)) - 22.5).abs() < 1e-9);
    }

    #[test]
    fn odd_inputs_stay_in_range() {
        let b = Backoff {
            jitter: f64::NAN,
            ..Backoff::default()
        };
        assert!((secs(b.delay(0, f64::NAN)) - 1.0).abs() < 1e-9);
        let b = Backoff::default();
        assert!((secs(b.delay(0, 7.0)) - 1.25).abs() < 1e-9);
        assert!((secs(b.delay(0, -3.0)) - 0.75).abs() < 1e-9);
    }
}
