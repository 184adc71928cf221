//! The load command's callers: silence for the echo bot, talk/pause cycles for the demo bot.

use std::rc::Rc;

use vr_codec::{FRAME_BYTES, Frame, SILENCE_FRAME, mulaw};

use super::call::{Next, Talker, View};
use super::twilio;

/// Pre-encoded frame bodies (base64 of bytes 6..160) shared by every call.
#[derive(Debug)]
pub struct Bodies {
    /// μ-law silence.
    pub silence: String,
    /// A 400 Hz tone well above a voice detector's threshold.
    pub tone: String,
}

impl Bodies {
    /// Encodes the bodies once.
    pub fn new() -> Rc<Self> {
        Rc::new(Self {
            silence: twilio::body_b64(&SILENCE_FRAME),
            tone: twilio::body_b64(&tone_frame()),
        })
    }
}

/// One 20 ms frame of a 400 Hz sine (exactly 8 periods, so frames repeat seamlessly).
pub fn tone_frame() -> Frame {
    let mut frame = SILENCE_FRAME;
    for (i, b) in frame.iter_mut().enumerate() {
        let phase = i as f64 * 400.0 / 8000.0 * std::f64::consts::TAU;
        *b = mulaw::encode((phase.sin() * 6000.0) as i16);
    }
    debug_assert_eq!(frame.len(), FRAME_BYTES);
    frame
}

/// Sends silence for a fixed number of frames, then hangs up (echo bot).
#[derive(Debug)]
pub struct Steady {
    bodies: Rc<Bodies>,
    frames: u64,
}

impl Steady {
    /// `frames` frames of silence.
    pub fn new(bodies: Rc<Bodies>, frames: u64) -> Self {
        Self { bodies, frames }
    }
}

impl Talker for Steady {
    fn next(&mut self, view: &View) -> Next<'_> {
        if view.frames_sent >= self.frames {
            Next::Hangup
        } else {
            Next::Frame(&self.bodies.silence)
        }
    }
}

/// Talks `talk` frames, pauses `pauses[0]`, talks again, pauses `pauses[1]`, over and over,
/// regardless of the bot: with a short and a long pause, some of the bot's answers are
/// talked over (barge-in) and some play to their end (marks played).
#[derive(Debug)]
pub struct Cycle {
    bodies: Rc<Bodies>,
    frames: u64,
    talk: u64,
    pauses: [u64; 2],
    offset: u64,
}

impl Cycle {
    /// `frames` frames in all; the cycle starts `offset` frames in.
    pub fn new(bodies: Rc<Bodies>, frames: u64, talk: u64, pauses: [u64; 2], offset: u64) -> Self {
        Self {
            bodies,
            frames,
            talk,
            pauses,
            offset,
        }
    }

    /// Whether frame `n` of the cycle is speech.
    fn talking(&self, n: u64) -> bool {
        let first = self.talk + self.pauses[0];
        let period = (first + self.talk + self.pauses[1]).max(1);
        let pos = (n + self.offset) % period;
        pos < self.talk || (pos >= first && pos < first + self.talk)
    }
}

impl Talker for Cycle {
    fn next(&mut self, view: &View) -> Next<'_> {
        if view.frames_sent >= self.frames {
            return Next::Hangup;
        }
        if self.talking(view.frames_sent) {
            Next::Frame(&self.bodies.tone)
        } else {
            Next::Frame(&self.bodies.silence)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_alternates_short_and_long_pauses() {
        let c = Cycle::new(Bodies::new(), 100, 2, [1, 3], 0);
        let pattern: String = (0..16)
            .map(|n| if c.talking(n) { 'T' } else { '.' })
            .collect();
        assert_eq!(pattern, "TT.TT...TT.TT...");
    }

    #[test]
    fn tone_is_loud_and_silence_is_quiet() {
        let rms = |f: &[u8]| {
            let s: f64 = f.iter().map(|&b| f64::from(mulaw::decode(b)).powi(2)).sum();
            (s / f.len() as f64).sqrt()
        };
        assert!(rms(&tone_frame()) > 2000.0);
        let mut tagged = SILENCE_FRAME;
        tagged[..6].copy_from_slice(&twilio::tag_bytes(0xABCDEF));
        assert!(rms(&tagged) < 100.0);
    }
}
