//! # vr-stt
//!
//! Speech-to-text providers for voice-runtime, each behind a cargo feature:
//!
//! - [`elevenlabs`] (feature `elevenlabs`): ElevenLabs Scribe v2 realtime over its websocket;
//!   the call's 8 kHz μ-law is passed straight through.
//! - [`azure`] (feature `azure`): Azure Speech continuous recognition over the service's
//!   websocket ("USP") protocol, without the vendor SDK; the call's μ-law is decoded and
//!   resampled to 16 kHz PCM.
//!
//! Both implement [`vr_session::SttProvider`] and share one behaviour, in one task per call:
//!
//! - **Reconnect policy** ([`Backoff`]): a dropped socket, a transport error or a
//!   reconnect-class service error starts a reconnect after `1 s × 2^n` (capped at 30 s,
//!   ±25 % jitter), at most 3 attempts, then the sink hears
//!   `reconnect_exhausted_after_3_attempts`. A successful connect resets the count. Terminal
//!   faults (bad key, quota, bad request) go to the sink at once, exactly once.
//! - **Reconnect-surviving feed**: frames that arrive while disconnected are held (up to 10 s,
//!   drop-oldest, the first overflow reported as `audio_buffer_overflow`) and replayed on the
//!   new socket at no more than 4× real time.
//! - **Ownership**: `stop()` ends the provider's task (bounded), closes the socket with a
//!   normal close (or drops it at once when a send is stuck on a service that stopped
//!   reading), and nothing is started after it.
//!
//! The echo gate, the discard window and the tee live in `vr-session`; providers pass every
//! transcript on (stripped, empty ones dropped).
//!
//! ```no_run
//! # #[cfg(feature = "elevenlabs")]
//! # fn demo() -> Result<(), vr_session::SttError> {
//! use vr_stt::elevenlabs::ElevenLabsStt;
//!
//! // Reads ELEVENLABS_API_KEY, STT_MODEL_ID, STT_LANGUAGE_CODE and ELEVENLABS_BASE_URL now.
//! let stt = ElevenLabsStt::builder_from_env().language_code("fi").build()?;
//! # let _ = stt; Ok(()) }
//! ```
#![deny(missing_docs)]

mod backoff;
mod feed;
mod stats;

#[cfg(any(feature = "elevenlabs", feature = "azure"))]
mod runner;
#[cfg(any(feature = "elevenlabs", feature = "azure"))]
mod ws;

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "elevenlabs")]
pub mod elevenlabs;

pub use backoff::Backoff;
pub use feed::{DEFAULT_HOLD_FRAMES, DEFAULT_REPLAY_SPEEDUP, FeedOptions};
pub use stats::ProviderStats;

/// Reason reported to the sink the first time held audio overflows.
pub const AUDIO_BUFFER_OVERFLOW: &str = "audio_buffer_overflow";
/// Reason reported to the sink when the service rejects the credentials.
pub const AUTH_ERROR: &str = "auth_error";

#[cfg(all(test, feature = "elevenlabs"))]
mod paused_tests;
