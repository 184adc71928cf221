//! WAV files: μ-law recording (mono or caller/agent stereo) and reading prompts.
//!
//! [`WavWriter`] writes G.711 μ-law WAV (format 7) with the 46-byte header of the original
//! recorder (B15) and rewrites its size fields at least every
//! [`HEADER_INTERVAL`] of audio, so a crashed process leaves a playable file.
//!
//! [`read_wav`], [`read_wav_file`] and [`parse_wav`] read PCM (8/16/24/32-bit integer and
//! 32-bit float, also `WAVE_FORMAT_EXTENSIBLE`), μ-law and A-law files at any rate and
//! channel count; [`WavAudio::to_mulaw_8k_frames`] turns them into call-ready frames.

mod audio;
mod error;
mod read;
mod write;

pub use audio::{SampleFormat, WavAudio};
pub use error::WavError;
pub use read::{MAX_WAV_BYTES, parse_wav, read_wav, read_wav_file};
pub use write::{HEADER_BYTES, HEADER_INTERVAL, WavLayout, WavWriter, mulaw_header};
