//! Text-to-speech providers for voice-runtime calls.
//!
//! Each provider implements [`vr_session::TtsProvider`] over the service's real protocol and
//! streams 8 kHz μ-law into the call as it arrives (never buffering a whole response):
//!
//! | provider | feature | protocol |
//! | --- | --- | --- |
//! | [`ElevenLabsTts`] | `elevenlabs` | `POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000` |
//! | [`ElevenLabsStreamingTts`] | `elevenlabs` | the `stream-input` websocket: text in pieces, audio as it is generated |
//! | [`AzureTts`] | `azure` | `POST https://{region}.tts.speech.microsoft.com/cognitiveservices/v1`, SSML, `raw-8khz-8bit-mono-mulaw` |
//!
//! The common half of every utterance — 20 ms re-framing, back-pressure, cancellation
//! (barge-in), hang-up, the closing `tts_complete` mark and the estimate of what the caller
//! heard — is [`vr_session::Utterance`]; the providers here are thin loops that fetch bytes,
//! push them and finish.
//!
//! Every failure (connection refused, no audio before the first-byte timeout, an HTTP error
//! with the provider's body, a stalled or broken stream, a synthesis the service cancelled, a
//! `200` with no audio) fires the session's `on_error`, emits a `TtsError` event and returns
//! [`SpeakStatus::Failed`] with a typed [`TtsError`]: never a hang, never a silent success.
//!
//! ```no_run
//! # #[cfg(feature = "elevenlabs")]
//! # async fn demo(call: vr_session::CallHandle) -> Result<(), vr_tts::TtsError> {
//! use vr_tts::{ElevenLabsConfig, ElevenLabsTts};
//!
//! let tts = ElevenLabsTts::new(ElevenLabsConfig::from_env().voice_id("21m00Tcm4TlvDq8ikWAM"))?;
//! let outcome = call.speak(&tts, "Hello! How can I help?").await;
//! println!("{:?}: heard {:?} (first frame after {:?})", outcome.status, outcome.heard,
//!     outcome.timings.first_frame);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

use std::time::Duration;

pub use vr_session::{SpeakOutcome, SpeakStatus, TextStream, TtsError, TtsProvider};

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "elevenlabs")]
pub mod elevenlabs;
#[cfg(any(feature = "elevenlabs", feature = "azure"))]
mod http_stream;
#[cfg(any(feature = "elevenlabs", feature = "azure"))]
mod util;

#[cfg(feature = "azure")]
pub use azure::{AzureTts, AzureTtsConfig};
#[cfg(feature = "elevenlabs")]
pub use elevenlabs::{ElevenLabsConfig, ElevenLabsStreamingTts, ElevenLabsTts, VoiceSettings};

/// Default bound from the request to the first audio byte.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on the gap between two pieces of audio once audio has started.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Default wait for the closing `tts_complete` mark (the original's 30 s).
pub const DEFAULT_MARK_TIMEOUT: Duration = Duration::from_secs(30);

/// The time bounds of one utterance. Every wait on the network is bounded by one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the request (connect included) to the first audio byte; 10 s by default.
    pub first_byte: Duration,
    /// Longest silence of the audio stream after it started (a stall); 5 s by default.
    pub stall: Duration,
    /// Wait for the closing mark after the audio; 30 s by default.
    pub mark: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_byte: DEFAULT_FIRST_BYTE_TIMEOUT,
            stall: DEFAULT_STALL_TIMEOUT,
            mark: DEFAULT_MARK_TIMEOUT,
        }
    }
}
