//! The 20 ms tick schedule with the original's catch-up rule, on an injected clock.

use std::time::{Duration, Instant};

use crate::FRAME_DURATION;

/// How far behind the schedule may fall before it is reset to now (5 frames, B1).
pub const CATCHUP_LIMIT: Duration = Duration::from_millis(100);

/// What the mixer loop should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacerAction {
    /// Not yet due: wait this long, then poll again.
    Wait(Duration),
    /// Run one tick now.
    Tick,
}

/// Decides when ticks are due (B16): a tick is due every [`FRAME_DURATION`]; a loop that
/// falls behind by up to [`CATCHUP_LIMIT`] catches up with back-to-back ticks, and one that
/// falls further behind restarts the schedule from now instead of bursting.
///
/// Time is passed in, never read, so the schedule is tested without sleeping.
///
/// ```
/// use std::time::{Duration, Instant};
/// use vr_codec::{Pacer, PacerAction};
/// let t0 = Instant::now();
/// let mut p = Pacer::new(t0);
/// assert_eq!(p.poll(t0), PacerAction::Tick);
/// assert_eq!(p.poll(t0), PacerAction::Wait(Duration::from_millis(20)));
/// ```
#[derive(Debug, Clone)]
pub struct Pacer {
    next_tick: Instant,
    interval: Duration,
}

impl Pacer {
    /// A schedule whose first tick is due at `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            next_tick: start,
            interval: FRAME_DURATION,
        }
    }

    /// When the next tick is due.
    pub fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// Applies the rule at time `now`: if `now > next_tick + 100 ms` the schedule restarts
    /// at `now`; if `now < next_tick` the caller waits; otherwise a tick is due and
    /// `next_tick` advances by 20 ms.
    pub fn poll(&mut self, now: Instant) -> PacerAction {
        if let Some(limit) = self.next_tick.checked_add(CATCHUP_LIMIT) {
            if now > limit {
                self.next_tick = now;
            }
        }
        if now < self.next_tick {
            return PacerAction::Wait(self.next_tick - now);
        }
        // An Instant this far in the future cannot overflow in practice; keep it if it would.
        self.next_tick = self
            .next_tick
            .checked_add(self.interval)
            .unwrap_or(self.next_tick);
        PacerAction::Tick
    }
}
