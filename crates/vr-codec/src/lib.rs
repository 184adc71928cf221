//! Audio building blocks for voice-runtime phone calls.
//!
//! Everything a call's audio path needs below the session layer:
//!
//! - [`mulaw`] and [`alaw`]: table-driven G.711 codecs, bit-exact with the Python original
//!   (μ-law) and with Python 3.11 `audioop` (A-law), per sample and over slices without
//!   allocating.
//! - [`frame`]: the 20 ms / 160-byte frame of 8 kHz μ-law audio, the silence frame and
//!   splitting byte streams into frames.
//! - [`mix_frames`]: the sample-by-sample mix of two μ-law frames.
//! - [`mixer`]: the real-time two-channel (caller/agent) mixer with a 20 ms pacer and
//!   pluggable sinks (WAV recorder, `ffplay` monitor, your own).
//! - [`wav`]: WAV writing (μ-law mono or caller/agent stereo, crash-safe header) and reading
//!   (PCM, μ-law, A-law at any common rate) with conversion to 8 kHz μ-law frames.
//! - [`resample`]: a windowed-sinc resampler for arbitrary rate pairs, usable frame by frame.
//!
//! ```
//! use vr_codec::{mulaw, mix_frames, SILENCE_FRAME, FRAME_BYTES};
//!
//! let pcm: Vec<i16> = (0..FRAME_BYTES as i32).map(|i| ((i * 200) % 8000) as i16).collect();
//! let mut frame = [0u8; FRAME_BYTES];
//! mulaw::encode_slice(&pcm, &mut frame)?;
//! let mixed = mix_frames(&frame, &SILENCE_FRAME)?;
//! assert_eq!(mixed, frame);
//! # Ok::<(), vr_codec::CodecError>(())
//! ```
#![deny(missing_docs)]

pub mod alaw;
mod error;
pub mod frame;
mod g711;
mod mix;
pub mod mixer;
pub mod mulaw;
pub mod resample;
pub mod wav;

pub use error::CodecError;
pub use frame::{
    FRAME_BYTES, FRAME_DURATION, Frame, MULAW_SILENCE, SAMPLE_RATE, SILENCE_FRAME, split_frames,
};
pub use mix::mix_frames;
pub use mixer::{
    MixedFrame, Mixer, MixerConfig, MixerCore, MixerError, MixerHandle, MixerSink, Pacer,
    PacerAction, SinkError,
};
pub use resample::Resampler;
pub use wav::{WavAudio, WavError, WavWriter};
