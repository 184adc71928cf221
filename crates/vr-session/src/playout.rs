//! The play-out clock: what the caller has actually heard.
//!
//! Twilio buffers the audio we send and plays it in real time, 8,000 μ-law bytes per second.
//! The clock counts bytes handed to the transport and, from the time passed in, how many of
//! them have played. A clear drops what has not played; a mark echo proves that everything
//! before the mark has played, which corrects the clock when the network ran late or early.
//! Time is always an argument, so the logic is tested without sleeping.

use std::time::Duration;

use tokio::time::Instant;

/// μ-law bytes played per second.
pub const BYTES_PER_SECOND: u64 = 8_000;

/// How long after the bot stops speaking transcripts still count as possible echo (the
/// original's `ECHO_DISCARD_WINDOW_S`).
pub const ECHO_DISCARD_WINDOW: Duration = Duration::from_millis(400);

/// How long the bot must have been silent before the recogniser is told it stopped speaking.
/// Real-time audio (a relay, an echo, a provider streaming at play-out pace) leaves gaps of a
/// few milliseconds between frames: those are jitter, not the end of speech, and following
/// each one cost the call a timer and a wake-up per frame.
pub const SPEAKING_HOLD: Duration = Duration::from_millis(100);

/// Converts a byte count to play-out time.
pub fn bytes_to_duration(bytes: u64) -> Duration {
    Duration::from_micros(bytes.saturating_mul(1_000_000) / BYTES_PER_SECOND)
}

fn duration_to_bytes(d: Duration) -> u64 {
    (d.as_micros() as u64).saturating_mul(BYTES_PER_SECOND) / 1_000_000
}

/// The play-out clock of one call.
#[derive(Debug, Clone, Default)]
pub struct PlayoutClock {
    /// Bytes that reached (or will reach) the caller's ear: everything sent, minus what a
    /// clear discarded.
    sent: u64,
    /// When everything sent so far will have played. `None` before the first frame.
    end: Option<Instant>,
}

impl PlayoutClock {
    /// A clock with nothing sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// `bytes` of audio were handed to the transport at `now`.
    pub fn on_sent(&mut self, bytes: usize, now: Instant) {
        let bytes = bytes as u64;
        let start = match self.end {
            Some(end) if end > now => end,
            _ => now,
        };
        self.end = Some(start + bytes_to_duration(bytes));
        self.sent += bytes;
    }

    /// Bytes not yet played at `now`.
    pub fn remaining(&self, now: Instant) -> u64 {
        match self.end {
            Some(end) if end > now => duration_to_bytes(end - now).min(self.sent),
            _ => 0,
        }
    }

    /// Total bytes the caller has heard by `now` (a position on the call's outbound stream).
    pub fn played(&self, now: Instant) -> u64 {
        self.sent - self.remaining(now)
    }

    /// Total bytes sent and not discarded by a clear: the position the next frame starts at.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// A clear was sent at `now`: unplayed audio is gone.
    pub fn on_clear(&mut self, now: Instant) {
        self.sent = self.played(now);
        if self.end.is_some() {
            self.end = Some(now);
        }
    }

    /// The echo of a mark sent when the stream was at `offset` arrived at `now`: everything
    /// before `offset` has played.
    pub fn on_mark_echo(&mut self, offset: u64, now: Instant) {
        let offset = offset.min(self.sent);
        if self.played(now) < offset {
            self.end = Some(now + bytes_to_duration(self.sent - offset));
        }
    }

    /// When the audio sent so far will have finished playing, if any was sent.
    pub fn drained_at(&self) -> Option<Instant> {
        self.end
    }

    /// Whether the caller is hearing the bot at `now`.
    pub fn is_playing(&self, now: Instant) -> bool {
        self.remaining(now) > 0
    }

    /// Until when the bot counts as speaking for the recogniser: play-out plus
    /// [`SPEAKING_HOLD`].
    pub fn speaking_until(&self) -> Option<Instant> {
        self.end.map(|end| end + SPEAKING_HOLD)
    }

    /// Whether the recogniser should consider the bot speaking at `now` (see
    /// [`SPEAKING_HOLD`]).
    pub fn is_speaking(&self, now: Instant) -> bool {
        self.speaking_until().is_some_and(|until| until > now)
    }

    /// Whether a transcript arriving at `now` may be the bot's own echo: the bot is speaking,
    /// or stopped less than [`ECHO_DISCARD_WINDOW`] ago.
    pub fn in_echo_window(&self, now: Instant) -> bool {
        match self.end {
            Some(end) => now < end + ECHO_DISCARD_WINDOW,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_real_time_play_out() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        clock.on_sent(8_000, t0); // one second
        assert_eq!(clock.played(t0), 0);
        assert_eq!(clock.played(t0 + ms(250)), 2_000);
        assert_eq!(clock.played(t0 + ms(1_000)), 8_000);
        assert_eq!(clock.played(t0 + ms(5_000)), 8_000);
        assert!(clock.is_playing(t0 + ms(999)));
        assert!(!clock.is_playing(t0 + ms(1_000)));
    }

    #[test]
    fn audio_sent_after_a_gap_starts_when_sent() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        clock.on_sent(160, t0);
        clock.on_sent(160, t0 + ms(100)); // after the first frame drained
        assert_eq!(clock.drained_at(), Some(t0 + ms(120)));
    }

    #[test]
    fn clear_discards_unplayed_audio() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        clock.on_sent(8_000, t0);
        clock.on_clear(t0 + ms(500));
        assert_eq!(clock.sent(), 4_000);
        assert_eq!(clock.played(t0 + ms(600)), 4_000);
        assert!(!clock.is_playing(t0 + ms(500)));
    }

    #[test]
    fn mark_echo_corrects_a_clock_running_behind() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        clock.on_sent(8_000, t0);
        let offset = clock.sent();
        // Echo came early (network faster than our estimate): everything has played.
        clock.on_mark_echo(offset, t0 + ms(900));
        assert_eq!(clock.played(t0 + ms(900)), 8_000);
        assert!(!clock.is_playing(t0 + ms(900)));
    }

    #[test]
    fn speaking_outlasts_a_gap_between_real_time_frames() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        assert!(!clock.is_speaking(t0));
        clock.on_sent(160, t0);
        assert!(!clock.is_playing(t0 + ms(23)));
        assert!(clock.is_speaking(t0 + ms(23)));
        assert!(clock.is_speaking(t0 + ms(119)));
        assert!(!clock.is_speaking(t0 + ms(120)));
        assert_eq!(clock.speaking_until(), Some(t0 + ms(120)));
    }

    #[test]
    fn echo_window_follows_playout_by_400ms() {
        let t0 = Instant::now();
        let mut clock = PlayoutClock::new();
        assert!(!clock.in_echo_window(t0));
        clock.on_sent(1_600, t0); // 200 ms
        assert!(clock.in_echo_window(t0 + ms(599)));
        assert!(!clock.in_echo_window(t0 + ms(600)));
    }
}
