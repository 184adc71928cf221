//! The mixer's state without I/O or time: two FIFOs and the per-tick mix.

use std::collections::VecDeque;

use crate::mix::mix_arrays;
use crate::{Frame, SILENCE_FRAME, split_frames};

/// FIFO limits of a mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixerConfig {
    /// Most caller frames held; the oldest is dropped beyond it (default 400 = 8 s, B12).
    pub caller_max_frames: usize,
    /// Most agent frames held; the oldest is dropped beyond it (default 3000 = 60 s). The
    /// queue's memory grows as it is used rather than being reserved up front.
    pub agent_max_frames: usize,
}

impl MixerConfig {
    /// The original's caller limit: 400 frames (8 s).
    pub const CALLER_MAX_FRAMES: usize = 400;
    /// The agent limit: 3000 frames (60 s), so a long utterance is never cut.
    pub const AGENT_MAX_FRAMES: usize = 3000;
}

impl Default for MixerConfig {
    fn default() -> Self {
        Self {
            caller_max_frames: Self::CALLER_MAX_FRAMES,
            agent_max_frames: Self::AGENT_MAX_FRAMES,
        }
    }
}

/// What one tick produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedFrame {
    /// The caller frame, or `None` when the caller FIFO was empty.
    pub caller: Option<Frame>,
    /// The agent frame, or `None` when the agent FIFO was empty.
    pub agent: Option<Frame>,
    /// The mono mix (B16): silence when both were empty, the present frame unchanged when
    /// one was empty, otherwise [`mix_frames`](crate::mix_frames) of the two.
    pub mono: Frame,
}

impl MixedFrame {
    /// The caller frame, or silence.
    pub fn caller_or_silence(&self) -> &Frame {
        self.caller.as_ref().unwrap_or(&SILENCE_FRAME)
    }

    /// The agent frame, or silence.
    pub fn agent_or_silence(&self) -> &Frame {
        self.agent.as_ref().unwrap_or(&SILENCE_FRAME)
    }
}

/// Counters of a mixer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Ticks run.
    pub ticks: u64,
    /// Caller frames dropped because the FIFO was full.
    pub caller_dropped: u64,
    /// Agent frames dropped because the FIFO was full.
    pub agent_dropped: u64,
    /// Agent frames discarded by [`MixerCore::clear_agent`].
    pub agent_cleared: u64,
    /// Caller frames queued now.
    pub caller_queued: usize,
    /// Agent frames queued now.
    pub agent_queued: usize,
}

#[derive(Debug)]
struct Fifo {
    frames: VecDeque<Frame>,
    max: usize,
    dropped: u64,
}

impl Fifo {
    fn new(max: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            max: max.max(1),
            dropped: 0,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        for frame in split_frames(bytes) {
            if self.frames.len() >= self.max {
                self.frames.pop_front();
                self.dropped += 1;
            }
            self.frames.push_back(frame);
        }
    }
}

/// The mixer's FIFOs and tick, with no clock and no I/O: the testable heart of the
/// real-time mixer.
///
/// ```
/// use vr_codec::{MixerCore, SILENCE_FRAME};
/// let mut core = MixerCore::default();
/// core.write_caller(&[0x80; 160]);
/// let t = core.tick();
/// assert_eq!(t.mono, [0x80; 160]); // agent side empty: caller frame unchanged
/// assert_eq!(core.tick().mono, SILENCE_FRAME);
/// ```
#[derive(Debug)]
pub struct MixerCore {
    caller: Fifo,
    agent: Fifo,
    ticks: u64,
    agent_cleared: u64,
}

impl Default for MixerCore {
    fn default() -> Self {
        Self::new(MixerConfig::default())
    }
}

impl MixerCore {
    /// An empty mixer with the given limits.
    pub fn new(config: MixerConfig) -> Self {
        Self {
            caller: Fifo::new(config.caller_max_frames),
            agent: Fifo::new(config.agent_max_frames),
            ticks: 0,
            agent_cleared: 0,
        }
    }

    /// Queues caller μ-law audio, split into frames with the last padded with 0xFF (B11).
    pub fn write_caller(&mut self, mulaw: &[u8]) {
        self.caller.write(mulaw);
    }

    /// Queues agent μ-law audio, split into frames with the last padded with 0xFF (B11).
    pub fn write_agent(&mut self, mulaw: &[u8]) {
        self.agent.write(mulaw);
    }

    /// Discards all queued agent audio (the call was cleared: the caller will not hear it,
    /// so neither will the recording). Returns the frames discarded.
    pub fn clear_agent(&mut self) -> usize {
        let n = self.agent.frames.len();
        self.agent.frames.clear();
        // Give back the memory of a long utterance.
        self.agent.frames.shrink_to(64);
        self.agent_cleared += n as u64;
        n
    }

    /// Takes one frame from each side and mixes them (B16).
    pub fn tick(&mut self) -> MixedFrame {
        self.ticks += 1;
        let caller = self.caller.frames.pop_front();
        let agent = self.agent.frames.pop_front();
        let mono = match (&caller, &agent) {
            (None, None) => SILENCE_FRAME,
            (Some(c), None) => *c,
            (None, Some(a)) => *a,
            (Some(c), Some(a)) => mix_arrays(c, a),
        };
        MixedFrame {
            caller,
            agent,
            mono,
        }
    }

    /// Counters and queue depths.
    pub fn stats(&self) -> MixerStats {
        MixerStats {
            ticks: self.ticks,
            caller_dropped: self.caller.dropped,
            agent_dropped: self.agent.dropped,
            agent_cleared: self.agent_cleared,
            caller_queued: self.caller.frames.len(),
            agent_queued: self.agent.frames.len(),
        }
    }

    /// Agent frames currently queued (as a count, not allocated capacity).
    pub fn agent_queued(&self) -> usize {
        self.agent.frames.len()
    }

    /// Frames of capacity the agent FIFO has allocated (grows as used).
    pub fn agent_capacity(&self) -> usize {
        self.agent.frames.capacity()
    }
}
