//! Azure Speech continuous recognition (feature `azure`), without the vendor SDK.
//!
//! One websocket per call to the continuous-recognition ("conversation") endpoint with the
//! `Ocp-Apim-Subscription-Key` and `X-ConnectionId` headers. Per connection: `speech.config`,
//! then per turn `speech.context` and a WAV header (PCM 16-bit, 16 kHz, mono) as the first
//! `audio` message, then the call's audio (μ-law decoded and resampled by vr-codec). When the
//! service ends a turn while audio continues, a new turn starts on the same socket; messages
//! of an old turn are ignored. The end of the call's audio sends an empty `audio` message.
//!
//! | environment | builder | default |
//! | --- | --- | --- |
//! | `AZURE_SPEECH_KEY` | `key` | — (required) |
//! | `AZURE_SPEECH_REGION` | `region` | `westeurope` |
//! | `AZURE_SPEECH_ENDPOINT` | `endpoint` | the region's `wss://{region}.stt.speech.microsoft.com/…` |
//! | — | `language` | `fi-FI` |
//! | — | `end_silence_timeout_ms` | 1500 |
//!
//! Also: segmentation and initial silence timeouts, profanity, a Custom Speech endpoint id,
//! timeouts, [`Backoff`](crate::Backoff), [`FeedOptions`](crate::FeedOptions).
//!
//! Failure behaviour: close codes 1000/1001/1011 (and any other unlisted code) and dropped
//! sockets reconnect with backoff, holding audio; 1002/1003/1008 (`bad_request_close_N`),
//! 1007 (`bad_request_parameters_close_1007`), 4000 and a handshake 401/403 (`auth_error`)
//! are terminal and reported once; exhaustion reports `reconnect_exhausted_after_3_attempts`.

mod client;
mod config;
pub mod protocol;

pub use client::AzureStt;
pub use config::{
    AzureSttBuilder, AzureSttConfig, CONVERSATION_PATH, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_END_SILENCE_TIMEOUT_MS, DEFAULT_LANGUAGE, DEFAULT_REGION, DEFAULT_SEND_TIMEOUT,
    ENV_ENDPOINT, ENV_KEY, ENV_REGION, Profanity,
};
