//! Decoded WAV audio and its conversion to call-ready frames.

use std::time::Duration;

use super::error::WavError;
use crate::resample::resample;
use crate::{FRAME_BYTES, Frame, SAMPLE_RATE, alaw, mulaw, split_frames};

/// The sample encoding a WAV file was stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleFormat {
    /// 8-bit unsigned PCM.
    PcmU8,
    /// 16-bit signed PCM.
    Pcm16,
    /// 24-bit signed PCM (read as its top 16 bits).
    Pcm24,
    /// 32-bit signed PCM (read as its top 16 bits).
    Pcm32,
    /// 32-bit IEEE float (scaled by 32767 and clamped).
    Float32,
    /// G.711 μ-law (format 7).
    Mulaw,
    /// G.711 A-law (format 6).
    Alaw,
}

/// Sample storage: G.711 stays encoded so 8 kHz μ-law passes through untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Samples {
    Linear(Vec<i16>),
    Mulaw(Vec<u8>),
    Alaw(Vec<u8>),
}

/// Audio read from a WAV file: interleaved samples with their rate and channel count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    sample_rate: u32,
    channels: u16,
    format: SampleFormat,
    samples: Samples,
}

impl WavAudio {
    pub(crate) fn from_parts(
        sample_rate: u32,
        channels: u16,
        format: SampleFormat,
        samples: Samples,
    ) -> Self {
        Self {
            sample_rate,
            channels,
            format,
            samples,
        }
    }

    /// Wraps interleaved 16-bit PCM (for example TTS output) so it can be converted.
    ///
    /// # Errors
    /// [`WavError::InvalidFormat`] for 0 channels or rate 0, or a sample count that is not a
    /// multiple of `channels`.
    pub fn from_pcm16(
        sample_rate: u32,
        channels: u16,
        samples: Vec<i16>,
    ) -> Result<Self, WavError> {
        if channels == 0 || sample_rate == 0 {
            return Err(WavError::InvalidFormat(
                "0 channels or sample rate 0".into(),
            ));
        }
        if samples.len() % usize::from(channels) != 0 {
            return Err(WavError::PartialSample {
                len: samples.len(),
                block_align: usize::from(channels),
            });
        }
        Ok(Self::from_parts(
            sample_rate,
            channels,
            SampleFormat::Pcm16,
            Samples::Linear(samples),
        ))
    }

    /// Samples per second per channel.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// The encoding the file used.
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// Sample frames (samples per channel).
    pub fn frames(&self) -> usize {
        let total = match &self.samples {
            Samples::Linear(v) => v.len(),
            Samples::Mulaw(v) | Samples::Alaw(v) => v.len(),
        };
        total / usize::from(self.channels)
    }

    /// The playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.frames() as f64 / f64::from(self.sample_rate))
    }

    /// The raw μ-law bytes when the file was μ-law.
    pub fn mulaw_bytes(&self) -> Option<&[u8]> {
        match &self.samples {
            Samples::Mulaw(v) => Some(v),
            _ => None,
        }
    }

    /// All samples as interleaved 16-bit PCM.
    pub fn to_pcm16(&self) -> Vec<i16> {
        match &self.samples {
            Samples::Linear(v) => v.clone(),
            Samples::Mulaw(v) => mulaw::decode_to_vec(v),
            Samples::Alaw(v) => alaw::decode_to_vec(v),
        }
    }

    /// One channel of 16-bit PCM: the mean of all channels.
    pub fn to_mono_pcm16(&self) -> Vec<i16> {
        let pcm = self.to_pcm16();
        let ch = usize::from(self.channels);
        if ch == 1 {
            return pcm;
        }
        pcm.chunks_exact(ch)
            .map(|frame| {
                let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
                // The mean of i16 values is an i16.
                (sum / ch as i32) as i16
            })
            .collect()
    }

    /// Mono 8 kHz μ-law bytes: mixed down, resampled with the windowed-sinc
    /// [`Resampler`](crate::Resampler) and encoded. 8 kHz mono μ-law input is copied as is.
    ///
    /// # Errors
    /// [`WavError::Codec`] when the file's rate cannot be resampled.
    pub fn to_mulaw_8k(&self) -> Result<Vec<u8>, WavError> {
        if self.channels == 1 && self.sample_rate == SAMPLE_RATE {
            if let Samples::Mulaw(v) = &self.samples {
                return Ok(v.clone());
            }
        }
        let mono = self.to_mono_pcm16();
        let pcm = resample(&mono, self.sample_rate, SAMPLE_RATE)?;
        Ok(mulaw::encode_to_vec(&pcm))
    }

    /// [`to_mulaw_8k`](Self::to_mulaw_8k) split into 160-byte frames, the last padded with
    /// μ-law silence (0xFF).
    ///
    /// # Errors
    /// As [`to_mulaw_8k`](Self::to_mulaw_8k).
    pub fn to_mulaw_8k_frames(&self) -> Result<Vec<Frame>, WavError> {
        let bytes = self.to_mulaw_8k()?;
        let mut frames = Vec::with_capacity(bytes.len().div_ceil(FRAME_BYTES));
        frames.extend(split_frames(&bytes));
        Ok(frames)
    }
}
