//! ElevenLabs Scribe v2 realtime speech-to-text (feature `elevenlabs`).
//!
//! One websocket per call to `{base}/v1/speech-to-text/realtime` with the `xi-api-key`
//! header; every option is in the query string. Configure it with
//! [`ElevenLabsStt::builder`] / [`ElevenLabsStt::builder_from_env`]:
//!
//! | environment | builder | default |
//! | --- | --- | --- |
//! | `ELEVENLABS_API_KEY` | `api_key` | — (required) |
//! | `STT_MODEL_ID` | `model_id` | `scribe_v2_realtime` |
//! | `STT_LANGUAGE_CODE` | `language_code` / `auto_language` | `en` |
//! | `ELEVENLABS_BASE_URL` | `base_url` | `https://api.elevenlabs.io` |
//!
//! Fixed: `audio_format=ulaw_8000`, `commit_strategy=vad`, `sample_rate: 8000` in every
//! audio message. Options: VAD silence (1.5 s) and threshold (0.5), minimum speech (300 ms)
//! and silence, key terms, timestamps, language detection, no-verbatim, zero retention,
//! timeouts, [`Backoff`](crate::Backoff), [`FeedOptions`](crate::FeedOptions), and the
//! reconnect after more than 10 s of the bot speaking (B56).
//!
//! Failure behaviour: reconnect-class errors and dropped sockets reconnect with backoff
//! (audio held and replayed); terminal errors (`auth_error`, `quota_exceeded`,
//! `rate_limited`, `input_error`, `invalid_request`, `unaccepted_terms`, a handshake 401/403
//! → `auth_error`) are reported once; `session_time_limit_exceeded` is reported and feeding
//! stops, as in the original; exhaustion reports `reconnect_exhausted_after_3_attempts`.

mod client;
mod config;
pub mod protocol;

pub use client::ElevenLabsStt;
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LANGUAGE_CODE, DEFAULT_MODEL_ID,
    DEFAULT_RECONNECT_AFTER_SPEAKING, DEFAULT_SEND_TIMEOUT, ENV_API_KEY, ENV_BASE_URL,
    ENV_LANGUAGE_CODE, ENV_MODEL_ID, ElevenLabsSttBuilder, ElevenLabsSttConfig, REALTIME_PATH,
};
