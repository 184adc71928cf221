//! The 20 ms tick schedule, with time passed in.
//!
//! Tick `n` is due at `n × 20 ms` after the stream started. When the task wakes late it runs
//! the missed ticks at once (up to [`MAX_CATCH_UP`]); beyond that it skips ahead, so a stalled
//! process never floods the peer.

use std::time::Duration;

use vr_codec::FRAME_DURATION;

/// Most ticks run back to back after a late wake-up.
pub const MAX_CATCH_UP: u64 = 10;

/// Which ticks are due. Pure: the caller passes the time since the stream started.
#[derive(Debug, Clone, Default)]
pub struct TickSchedule {
    next: u64,
    skipped: u64,
}

impl TickSchedule {
    /// A schedule whose first tick is due at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the next tick to run.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// When the next tick is due, as an offset from the stream start.
    pub fn next_due(&self) -> Duration {
        tick_offset(self.next)
    }

    /// Ticks skipped because the task woke up too late.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The tick indices to run now, `elapsed` after the stream started.
    pub fn due(&mut self, elapsed: Duration) -> std::ops::Range<u64> {
        let period = FRAME_DURATION.as_nanos();
        let target = (elapsed.as_nanos() / period) as u64 + 1; // ticks due so far
        if target <= self.next {
            return self.next..self.next;
        }
        if target - self.next > MAX_CATCH_UP {
            let skip = target - self.next - MAX_CATCH_UP;
            self.skipped += skip;
            self.next += skip;
        }
        let range = self.next..target;
        self.next = target;
        range
    }
}

/// The offset of tick `n` from the stream start.
pub fn tick_offset(n: u64) -> Duration {
    FRAME_DURATION * u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_follow_elapsed_time() {
        let mut s = TickSchedule::new();
        assert_eq!(s.due(Duration::ZERO), 0..1);
        assert_eq!(s.due(Duration::from_millis(5)), 1..1);
        assert_eq!(s.next_due(), Duration::from_millis(20));
        assert_eq!(s.due(Duration::from_millis(20)), 1..2);
        assert_eq!(s.due(Duration::from_millis(79)), 2..4);
        assert_eq!(s.due(Duration::from_millis(1000)), 41..51);
        assert_eq!(s.skipped(), 37);
    }
}
