//! ElevenLabs text-to-speech: HTTP streaming ([`ElevenLabsTts`]) and the stream-input
//! websocket ([`ElevenLabsStreamingTts`]), both asking for `ulaw_8000`.
//!
//! Configuration comes from `ELEVENLABS_API_KEY`, `ELEVENLABS_VOICE_ID` (default Rachel,
//! `21m00Tcm4TlvDq8ikWAM`), `ELEVENLABS_MODEL` (default `eleven_multilingual_v2`) and
//! `ELEVENLABS_BASE_URL` (default `https://api.elevenlabs.io`), read when the config is built,
//! and from the [`ElevenLabsConfig`] builder methods.

mod config;
mod http;
mod stream_text;
mod websocket;

pub use config::{
    DEFAULT_BASE_URL, DEFAULT_CHUNK_LENGTH_SCHEDULE, DEFAULT_MODEL_ID, DEFAULT_VOICE_ID,
    ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, ENV_VOICE_ID, ElevenLabsConfig, OUTPUT_FORMAT,
    VoiceSettings,
};
pub use http::ElevenLabsTts;
pub use websocket::ElevenLabsStreamingTts;

use reqwest::header::HeaderValue;
use vr_session::TtsError;

/// The `xi-api-key` header value, marked sensitive so it is never printed.
pub(crate) fn api_key_header(key: &str) -> Result<HeaderValue, TtsError> {
    let mut value = HeaderValue::from_str(key).map_err(|_| {
        TtsError::Config("the ElevenLabs API key is not a valid header value".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}
