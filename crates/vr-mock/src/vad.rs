//! A simple energy-based voice-activity detector on 8 kHz μ-law frames.
//!
//! Pure: fed frame by frame, it never reads a clock, so tests drive it deterministically.
//! Speech starts after [`VadConfig::start_frames`] consecutive frames above the threshold and
//! ends after [`VadConfig::end_frames`] consecutive frames below it.

use vr_codec::mulaw;

/// Detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// RMS level (of 16-bit PCM) a frame must reach to count as voiced.
    pub threshold_rms: f64,
    /// Consecutive voiced frames before speech starts (3 frames = 60 ms).
    pub start_frames: u32,
    /// Consecutive unvoiced frames before speech ends (30 frames = 600 ms).
    pub end_frames: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_rms: 400.0,
            start_frames: 3,
            end_frames: 30,
        }
    }
}

/// A change in speech state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began (reported after the start run of voiced frames).
    SpeechStart,
    /// Speech ended; `voiced_frames` counts the frames of the segment above the threshold.
    SpeechEnd {
        /// Voiced frames in the segment.
        voiced_frames: u32,
    },
}

/// The detector state. See the module docs.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    in_speech: bool,
    run: u32,
    voiced: u32,
}

impl Default for Vad {
    fn default() -> Self {
        Self::new(VadConfig::default())
    }
}

impl Vad {
    /// A detector with `config`.
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            in_speech: false,
            run: 0,
            voiced: 0,
        }
    }

    /// Whether the detector is inside a speech segment.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// The RMS level of a μ-law frame (of any length; 0 for an empty one).
    pub fn rms(frame: &[u8]) -> f64 {
        if frame.is_empty() {
            return 0.0;
        }
        let sum: f64 = frame
            .iter()
            .map(|&b| {
                let s = f64::from(mulaw::decode(b));
                s * s
            })
            .sum();
        (sum / frame.len() as f64).sqrt()
    }

    /// Feeds one frame; returns a state change if this frame caused one.
    pub fn push(&mut self, frame: &[u8]) -> Option<VadEvent> {
        let voiced = Self::rms(frame) >= self.config.threshold_rms;
        if self.in_speech {
            if voiced {
                self.voiced = self.voiced.saturating_add(1);
                self.run = 0;
            } else {
                self.run = self.run.saturating_add(1);
                if self.run >= self.config.end_frames.max(1) {
                    self.in_speech = false;
                    self.run = 0;
                    let voiced_frames = std::mem::take(&mut self.voiced);
                    return Some(VadEvent::SpeechEnd { voiced_frames });
                }
            }
        } else if voiced {
            self.run = self.run.saturating_add(1);
            if self.run >= self.config.start_frames.max(1) {
                self.in_speech = true;
                self.voiced = self.run;
                self.run = 0;
                return Some(VadEvent::SpeechStart);
            }
        } else {
            self.run = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vr_codec::SILENCE_FRAME;

    fn loud() -> Vec<u8> {
        let pcm: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 3000 } else { -3000 })
            .collect();
        mulaw::encode_to_vec(&pcm)
    }

    #[test]
    fn start_after_three_voiced_frames_end_after_hangover() {
        let mut vad = Vad::default();
        assert_eq!(vad.push(&loud()), None);
        assert_eq!(vad.push(&loud()), None);
        assert_eq!(vad.push(&loud()), Some(VadEvent::SpeechStart));
        assert!(vad.in_speech());
        for _ in 0..29 {
            assert_eq!(vad.push(&SILENCE_FRAME), None);
        }
        assert_eq!(
            vad.push(&SILENCE_FRAME),
            Some(VadEvent::SpeechEnd { voiced_frames: 3 })
        );
        assert!(!vad.in_speech());
    }

    #[test]
    fn short_blips_do_not_start_speech() {
        let mut vad = Vad::default();
        for _ in 0..10 {
            assert_eq!(vad.push(&loud()), None);
            assert_eq!(vad.push(&loud()), None);
            assert_eq!(vad.push(&SILENCE_FRAME), None);
        }
    }
}
