//! Twilio's playback buffer, as a pure state machine (media-streams.md §5).
//!
//! Outbound audio is appended to a real-time buffer; each 20 ms tick plays 160 bytes. A mark
//! is queued with the buffer position it follows and is echoed at the first tick after the
//! play position has passed it, or at once when nothing is buffered or playing. `clear`
//! drops the buffer and echoes every pending mark immediately. No clock is read: the caller
//! runs [`Playout::tick`] every 20 ms.

use std::collections::VecDeque;

use vr_codec::{FRAME_BYTES, Frame, SAMPLE_RATE, SILENCE_FRAME};

/// Most audio Twilio buffers (10 minutes); further media is discarded (31931).
pub const MAX_BUFFERED_BYTES: usize = 600 * SAMPLE_RATE as usize;

/// What one tick produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The frame played (silence-padded; all silence when nothing was buffered).
    pub frame: Frame,
    /// Bytes of bot audio in `frame`.
    pub audio_bytes: usize,
    /// Marks to echo now, in order.
    pub echoed: Vec<String>,
}

/// What a clear did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleared {
    /// Bytes of buffered audio dropped.
    pub dropped_bytes: usize,
    /// Pending marks to echo now, in order.
    pub echoed: Vec<String>,
}

/// The buffer. See the module docs.
#[derive(Debug, Default)]
pub struct Playout {
    buffer: VecDeque<u8>,
    /// Total bytes ever appended (the position at the end of the buffer).
    queued: u64,
    /// Total bytes played or dropped by a clear (the play position).
    played: u64,
    marks: VecDeque<(String, u64)>,
    last_tick_had_audio: bool,
    discarded: u64,
}

impl Playout {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends audio. Returns `false` (and drops it) past [`MAX_BUFFERED_BYTES`].
    pub fn push_audio(&mut self, audio: &[u8]) -> bool {
        if self.buffer.len() + audio.len() > MAX_BUFFERED_BYTES {
            self.discarded += audio.len() as u64;
            return false;
        }
        self.buffer.extend(audio);
        self.queued += audio.len() as u64;
        true
    }

    /// Queues a mark behind the audio buffered so far. Returns `Some(name)` when it should
    /// be echoed at once (nothing buffered, nothing playing, no mark ahead of it).
    pub fn push_mark(&mut self, name: &str) -> Option<String> {
        if self.buffer.is_empty() && self.marks.is_empty() && !self.last_tick_had_audio {
            return Some(name.to_owned());
        }
        self.marks.push_back((name.to_owned(), self.queued));
        None
    }

    /// Drops the buffer and releases every pending mark.
    pub fn clear(&mut self) -> Cleared {
        let dropped_bytes = self.buffer.len();
        self.buffer.clear();
        self.played = self.queued;
        Cleared {
            dropped_bytes,
            echoed: self.marks.drain(..).map(|(name, _)| name).collect(),
        }
    }

    /// Plays one 20 ms frame. Marks whose audio finished playing by the previous tick are
    /// echoed first (their audio is over once that frame's 20 ms have passed).
    pub fn tick(&mut self) -> Tick {
        let mut echoed = Vec::new();
        while let Some((_, pos)) = self.marks.front() {
            if *pos > self.played {
                break;
            }
            if let Some((name, _)) = self.marks.pop_front() {
                echoed.push(name);
            }
        }
        let mut frame = SILENCE_FRAME;
        let n = self.buffer.len().min(FRAME_BYTES);
        for (slot, byte) in frame.iter_mut().zip(self.buffer.drain(..n)) {
            *slot = byte;
        }
        self.played += n as u64;
        self.last_tick_had_audio = n > 0;
        Tick {
            frame,
            audio_bytes: n,
            echoed,
        }
    }

    /// Bytes waiting to play.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Marks waiting for their audio to play.
    pub fn pending_marks(&self) -> usize {
        self.marks.len()
    }

    /// Bytes discarded because the buffer was full.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Whether the last tick played bot audio.
    pub fn is_playing(&self) -> bool {
        self.last_tick_had_audio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_with_nothing_buffered_is_echoed_at_once() {
        let mut p = Playout::new();
        assert_eq!(p.push_mark("a").as_deref(), Some("a"));
        assert_eq!(p.pending_marks(), 0);
    }

    #[test]
    fn mark_is_echoed_after_its_audio_has_played() {
        let mut p = Playout::new();
        assert!(p.push_audio(&[0x10; 8000])); // 1 s = 50 frames
        assert_eq!(p.push_mark("m"), None);
        for i in 0..50 {
            let t = p.tick();
            assert_eq!(t.audio_bytes, 160, "tick {i}");
            assert!(t.echoed.is_empty(), "echoed too early at tick {i}");
        }
        // The 50th frame plays during the 50th tick period; the echo comes at the next tick.
        let t = p.tick();
        assert_eq!(t.audio_bytes, 0);
        assert_eq!(t.echoed, vec!["m".to_owned()]);
        assert_eq!(t.frame, SILENCE_FRAME);
    }

    #[test]
    fn partial_frames_are_padded_with_silence() {
        let mut p = Playout::new();
        p.push_audio(&[0x10; 200]);
        assert_eq!(p.tick().audio_bytes, 160);
        let t = p.tick();
        assert_eq!(t.audio_bytes, 40);
        assert_eq!(t.frame[39], 0x10);
        assert_eq!(t.frame[40], 0xFF);
        // The last tick played audio: a new mark waits for the next tick.
        assert_eq!(p.push_mark("late"), None);
        assert_eq!(p.tick().echoed, vec!["late".to_owned()]);
    }

    #[test]
    fn marks_keep_their_order_and_positions() {
        let mut p = Playout::new();
        p.push_audio(&[1; 160]);
        p.push_mark("a");
        p.push_audio(&[2; 320]);
        p.push_mark("b");
        assert!(p.tick().echoed.is_empty());
        assert_eq!(p.tick().echoed, vec!["a".to_owned()]);
        assert!(p.tick().echoed.is_empty());
        assert_eq!(p.tick().echoed, vec!["b".to_owned()]);
    }

    #[test]
    fn clear_drops_audio_and_echoes_pending_marks() {
        let mut p = Playout::new();
        p.push_audio(&[1; 1600]);
        p.push_mark("a");
        p.push_audio(&[1; 1600]);
        p.push_mark("b");
        p.tick();
        let c = p.clear();
        assert_eq!(c.dropped_bytes, 3040);
        assert_eq!(c.echoed, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(p.buffered_bytes(), 0);
        let t = p.tick();
        assert_eq!(t.audio_bytes, 0);
        assert!(t.echoed.is_empty());
        // Audio after the clear plays normally.
        p.push_audio(&[3; 160]);
        p.push_mark("c");
        assert_eq!(p.tick().audio_bytes, 160);
        assert_eq!(p.tick().echoed, vec!["c".to_owned()]);
    }

    #[test]
    fn more_than_ten_minutes_is_discarded() {
        let mut p = Playout::new();
        assert!(p.push_audio(&vec![0; MAX_BUFFERED_BYTES]));
        assert!(!p.push_audio(&[0; 1]));
        assert_eq!(p.discarded_bytes(), 1);
    }
}
