//! A pure idle-timeout helper for the WebSocket handler: time is passed in, never read.

use std::time::{Duration, Instant};

/// Tracks the last inbound activity of a stream.
///
/// The handler calls [`IdleTimer::touch`] on every received frame and sleeps until
/// [`IdleTimer::deadline`]; when it wakes and [`IdleTimer::is_expired`] holds, the peer has
/// been silent for the whole timeout (Twilio sends media every 20 ms while a call is up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimer {
    timeout: Duration,
    last: Instant,
}

impl IdleTimer {
    /// A timer whose last activity is `now`.
    pub fn new(timeout: Duration, now: Instant) -> Self {
        Self { timeout, last: now }
    }

    /// Records activity at `now` (earlier instants are ignored, so reordering is harmless).
    pub fn touch(&mut self, now: Instant) {
        if now > self.last {
            self.last = now;
        }
    }

    /// When the timer expires if nothing else arrives.
    pub fn deadline(&self) -> Instant {
        self.last + self.timeout
    }

    /// True when `now` is at or past the deadline.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.deadline()
    }

    /// Time left before the deadline (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline().saturating_duration_since(now)
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_only_after_silence() {
        let t0 = Instant::now();
        let mut t = IdleTimer::new(Duration::from_secs(10), t0);
        assert!(!t.is_expired(t0 + Duration::from_secs(9)));
        t.touch(t0 + Duration::from_secs(9));
        t.touch(t0 + Duration::from_secs(1));
        assert!(!t.is_expired(t0 + Duration::from_secs(18)));
        assert!(t.is_expired(t0 + Duration::from_secs(19)));
        assert_eq!(t.remaining(t0 + Duration::from_secs(20)), Duration::ZERO);
        assert_eq!(
            t.remaining(t0 + Duration::from_secs(17)),
            Duration::from_secs(2)
        );
    }
}
