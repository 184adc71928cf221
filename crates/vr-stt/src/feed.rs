//! The reconnect-surviving audio feed shared by every provider.
//!
//! Every caller frame passes through one bounded queue on its way to the socket. While a
//! connection is up and the queue is empty a live frame leaves at once; while the provider is
//! reconnecting, frames pile up (at most [`FeedOptions::hold_frames`], 10 s of 20 ms frames by
//! default, dropping the **oldest** beyond that and counting the drops), and once the new
//! socket is up they are replayed in order, paced at no more than
//! [`FeedOptions::replay_speedup`] × real time so the service's input queue does not overflow.
//!
//! Pacing is a pure function of the time passed in: after sending a frame of duration `d`
//! the next frame may leave at `max(previous, now) + d / speedup`. Live frames arrive every
//! 20 ms and leave immediately; a backlog drains at one frame per `20 ms / speedup`.

#![cfg_attr(not(any(feature = "elevenlabs", feature = "azure")), allow(dead_code))]

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Default holding capacity: 10 s of 20 ms frames.
pub const DEFAULT_HOLD_FRAMES: usize = 500;
/// Default replay pace: at most 4× real time.
pub const DEFAULT_REPLAY_SPEEDUP: u32 = 4;
/// The call's audio is 8 kHz μ-law: 8,000 bytes per second.
const MULAW_BYTES_PER_SEC: u64 = 8_000;

/// How the provider holds and replays audio across reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedOptions {
    /// Frames held while disconnected (or while the socket is slower than the call) before the
    /// oldest are dropped. Default [`DEFAULT_HOLD_FRAMES`] (10 s of 20 ms frames).
    pub hold_frames: usize,
    /// Highest replay speed, as a multiple of real time. Default [`DEFAULT_REPLAY_SPEEDUP`].
    pub replay_speedup: u32,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            hold_frames: DEFAULT_HOLD_FRAMES,
            replay_speedup: DEFAULT_REPLAY_SPEEDUP,
        }
    }
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued with room to spare.
    Queued,
    /// Queued after dropping the oldest frame; `first` is true on the very first overflow.
    DroppedOldest {
        /// The first drop of this feed (report it once).
        first: bool,
        /// Drops so far.
        total: u64,
    },
}

/// The queue between the call's audio and the socket.
#[derive(Debug)]
pub(crate) struct Feed {
    queue: VecDeque<Bytes>,
    capacity: usize,
    speedup: u32,
    next_send: Instant,
    dropped: u64,
}

impl Feed {
    pub(crate) fn new(options: FeedOptions, now: Instant) -> Self {
        let capacity = options.hold_frames.max(1);
        Self {
            queue: VecDeque::with_capacity(capacity.min(64)),
            capacity,
            speedup: options.replay_speedup.max(1),
            next_send: now,
            dropped: 0,
        }
    }

    /// Appends a frame, dropping the oldest when full.
    pub(crate) fn push(&mut self, frame: Bytes) -> Pushed {
        let mut outcome = Pushed::Queued;
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
            outcome = Pushed::DroppedOldest {
                first: self.dropped == 1,
                total: self.dropped,
            };
        }
        self.queue.push_back(frame);
        outcome
    }

    /// Puts back a frame whose send failed, at the head, so it goes out first on the next
    /// connection. When full, the frame itself is the oldest and is the one dropped.
    pub(crate) fn push_front(&mut self, frame: Bytes) -> Pushed {
        if self.queue.len() >= self.capacity {
            self.dropped += 1;
            return Pushed::DroppedOldest {
                first: self.dropped == 1,
                total: self.dropped,
            };
        }
        self.queue.push_front(frame);
        Pushed::Queued
    }

    /// When the head frame may be sent; `None` when the queue is empty.
    pub(crate) fn ready_at(&self) -> Option<Instant> {
        (!self.queue.is_empty()).then_some(self.next_send)
    }

    /// Takes the head frame if it may be sent at `now`, and advances the pacing clock.
    pub(crate) fn pop_ready(&mut self, now: Instant) -> Option<Bytes> {
        if now < self.next_send {
            return None;
        }
        let frame = self.queue.pop_front()?;
        let base = self.next_send.max(now);
        self.next_send = base + self.pace(frame.len());
        Some(frame)
    }

    /// The minimum spacing after a frame of `len` bytes.
    fn pace(&self, len: usize) -> Duration {
        let micros = (len as u64).saturating_mul(1_000_000) / MULAW_BYTES_PER_SEC;
        Duration::from_micros(micros / u64::from(self.speedup))
    }

    /// Frames waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Frames dropped so far.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n; 160])
    }

    #[test]
    fn drops_oldest_and_reports_the_first_overflow_once() {
        let now = Instant::now();
        let mut feed = Feed::new(
            FeedOptions {
                hold_frames: 3,
                replay_speedup: 4,
            },
            now,
        );
        for n in 0..3 {
            assert_eq!(feed.push(frame(n)), Pushed::Queued);
        }
        assert_eq!(
            feed.push(frame(3)),
            Pushed::DroppedOldest {
                first: true,
                total: 1
            }
        );
        assert_eq!(
            feed.push(frame(4)),
            Pushed::DroppedOldest {
                first: false,
                total: 2
            }
        );
        assert_eq!(feed.dropped(), 2);
        let got: Vec<u8> = std::iter::from_fn(|| {
            let t = feed.ready_at()?;
            feed.pop_ready(t).map(|f| f[0])
        })
        .collect();
        assert_eq!(got, vec![2, 3, 4]);
    }

    #[test]
    fn failed_frame_goes_back_to_the_head() {
        let now = Instant::now();
        let mut feed = Feed::new(FeedOptions::default(), now);
        feed.push(frame(1));
        feed.push(frame(2));
        let f = feed.pop_ready(now).map(|f| f[0]);
        assert_eq!(f, Some(1));
        assert_eq!(feed.push_front(frame(1)), Pushed::Queued);
        assert_eq!(feed.len(), 2);
        let t = feed.ready_at().unwrap_or(now);
        assert_eq!(feed.pop_ready(t).map(|f| f[0]), Some(1));
    }

    #[test]
    fn push_front_when_full_drops_the_returned_frame() {
        let now = Instant::now();
        let mut feed = Feed::new(
            FeedOptions {
                hold_frames: 1,
                replay_speedup: 4,
            },
            now,
        );
        feed.push(frame(2));
        assert!(matches!(
            feed.push_front(frame(1)),
            Pushed::DroppedOldest { first: true, .. }
        ));
        assert_eq!(feed.pop_ready(now).map(|f| f[0]), Some(2));
    }

    #[test]
    fn backlog_replays_at_four_times_real_time() {
        let start = Instant::now();
        let mut feed = Feed::new(FeedOptions::default(), start);
        for n in 0..100 {
            feed.push(frame(n));
        }
        // 100 frames of 20 ms = 2 s of audio; at 4x it takes 0.5 s.
        let mut now = start;
        let mut sent = 0;
        while let Some(t) = feed.ready_at() {
            assert!(t >= now);
            now = t;
            assert!(feed.pop_ready(now).is_some());
            sent += 1;
            // Never ahead of 4x real time.
            let audio = Duration::from_millis(20) * sent;
            assert!(now - start + Duration::from_millis(5) >= audio / 4);
        }
        assert_eq!(sent, 100);
        assert_eq!(now - start, Duration::from_millis(495));
        // A frame is not released before its time.
        feed.push(frame(0));
        assert!(feed.pop_ready(now).is_none());
        assert!(feed.pop_ready(now + Duration::from_millis(5)).is_some());
    }

    #[test]
    fn live_frames_leave_immediately() {
        let start = Instant::now();
        let mut feed = Feed::new(FeedOptions::default(), start);
        for i in 0..50u32 {
            let now = start + Duration::from_millis(20) * i;
            feed.push(frame(0));
            assert_eq!(feed.ready_at(), Some(feed.ready_at().unwrap_or(now)));
            assert!(feed.ready_at().is_some_and(|t| t <= now));
            assert!(feed.pop_ready(now).is_some());
            assert!(feed.is_empty());
        }
    }
}
