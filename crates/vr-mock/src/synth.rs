//! The mock speech signal, synthesised as a stream.
//!
//! A soft speech-like voice: a 180–260 Hz tone with two harmonics whose pitch glides at
//! 0.7 Hz, under a syllable-rate (4 Hz) envelope, half as loud on spaces and punctuation and
//! faded in and out over 10 ms, as 8 kHz μ-law, `ms_per_char` of audio per character.
//!
//! The voice itself is computed once per process (ten seconds, which hold a whole number of
//! pitch glides, syllables and tone cycles, so it loops without a seam) and an utterance only
//! scales and encodes it chunk by chunk: a mock provider must cost next to nothing, or load
//! tests of the runtime would measure the mock (trigonometry per sample took a third of a
//! core at 1,000 demo calls, in runs of up to 10 ms that delayed every other call).

use std::f64::consts::PI;
use std::sync::OnceLock;

use vr_codec::{SAMPLE_RATE, mulaw};

/// Length of the precomputed voice: 10 s = 7 pitch glides, 40 syllables, 2,200 tone cycles.
const LOOP_SAMPLES: usize = 10 * SAMPLE_RATE as usize;

fn voice() -> &'static [i16] {
    static VOICE: OnceLock<Vec<i16>> = OnceLock::new();
    VOICE.get_or_init(|| {
        let rate = f64::from(SAMPLE_RATE);
        let mut phase = 0.0f64;
        (0..LOOP_SAMPLES)
            .map(|n| {
                let t = n as f64 / rate;
                let f0 = 220.0 + 40.0 * (2.0 * PI * 0.7 * t).sin();
                phase += 2.0 * PI * f0 / rate;
                if phase > 2.0 * PI {
                    phase -= 2.0 * PI;
                }
                let tone = phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin();
                let syllable = (PI * 4.0 * t).sin().abs();
                (4000.0 * (0.35 + 0.65 * syllable) * tone / 1.75) as i16
            })
            .collect()
    })
}

/// The audio of one text, produced a chunk at a time. Deterministic.
#[derive(Debug, Clone)]
pub struct Synth {
    /// Per character: whether it is spoken softly (not alphanumeric).
    soft: Vec<bool>,
    per_char: usize,
    total: usize,
    fade: usize,
    pos: usize,
}

impl Synth {
    /// The audio of `text` at `ms_per_char` (at least 1 ms) per character.
    pub fn new(text: &str, ms_per_char: u32) -> Self {
        let soft: Vec<bool> = text.chars().map(|c| !c.is_alphanumeric()).collect();
        let per_char = (u64::from(ms_per_char.max(1)) * u64::from(SAMPLE_RATE) / 1000) as usize;
        let total = per_char * soft.len();
        Self {
            soft,
            per_char,
            total,
            fade: (SAMPLE_RATE as usize / 100).min(total / 2),
            pos: 0,
        }
    }

    /// Bytes of audio in the whole text.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether the text makes no audio at all.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Bytes not produced yet.
    pub fn remaining(&self) -> usize {
        self.total - self.pos
    }

    /// Replaces `out` with the next `max` bytes (fewer at the end; none once done).
    pub fn next_chunk(&mut self, max: usize, out: &mut Vec<u8>) {
        out.clear();
        let end = self.pos + max.min(self.remaining());
        let voice = voice();
        out.extend((self.pos..end).map(|n| {
            let mut sample = i32::from(voice[n % LOOP_SAMPLES]);
            if self.soft[n / self.per_char] {
                sample /= 2;
            }
            let edge = n.min(self.total - 1 - n);
            if edge < self.fade {
                sample = sample * edge as i32 / self.fade as i32;
            }
            mulaw::encode(sample as i16)
        }));
        self.pos = end;
    }
}

/// The whole audio of `text` at once (see [`Synth`] for the signal).
pub fn synthesize(text: &str, ms_per_char: u32) -> Vec<u8> {
    let mut synth = Synth::new(text, ms_per_char);
    let mut out = Vec::with_capacity(synth.len());
    synth.next_chunk(synth.len(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_join_into_the_whole_signal() {
        let text = "Hello, world: chunked!";
        let whole = synthesize(text, 45);
        assert_eq!(whole.len(), text.chars().count() * 360);
        let mut synth = Synth::new(text, 45);
        let mut joined = Vec::new();
        let mut chunk = Vec::new();
        while synth.remaining() > 0 {
            synth.next_chunk(777, &mut chunk);
            assert!(!chunk.is_empty() && chunk.len() <= 777);
            joined.extend_from_slice(&chunk);
        }
        assert_eq!(joined, whole);
        synth.next_chunk(777, &mut chunk);
        assert!(chunk.is_empty());
    }

    #[test]
    fn the_loop_has_no_seam() {
        let v = voice();
        let jump = (i32::from(v[0]) - i32::from(v[LOOP_SAMPLES - 1])).abs();
        let typical = v
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0);
        assert!(jump <= typical, "seam {jump} > largest step {typical}");
    }

    #[test]
    fn fades_in_and_out_and_softens_punctuation() {
        let loud = synthesize("ab", 60);
        let soft = synthesize("a ", 60);
        assert_eq!(mulaw::decode(soft[0]), 0);
        assert_eq!(mulaw::decode(*soft.last().unwrap_or(&0xFF)), 0);
        let peak = |s: &[u8]| s.iter().map(|&b| mulaw::decode(b).unsigned_abs()).max();
        assert_eq!(loud[..480], soft[..480]);
        assert!(peak(&loud[480..880]) > peak(&soft[480..880]));
    }

    #[test]
    fn empty_text_is_silent() {
        let synth = Synth::new("", 60);
        assert!(synth.is_empty());
        assert!(synthesize("", 60).is_empty());
    }
}
