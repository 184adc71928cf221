//! # voice-runtime
//!
//! A runtime for phone voice bots. A bot author writes conversation logic against a
//! [`CallHandle`]; the runtime carries each call's audio between Twilio Media Streams and
//! speech providers, keeps playback and listening in step (marks, barge-in, the echo gate),
//! survives provider faults and runs many calls in one process.
//!
//! This crate is the facade: it re-exports the workspace crates ([`session`], [`twilio`],
//! [`codec`], [`mock`], [`stt`], [`tts`]), holds the provider factories ([`create_stt`],
//! [`create_tts`], with `mock` among the providers), the transport choice ([`Transport`]:
//! `TRANSPORT=mock` places calls through the bot-to-bot bridge), the built-in bots
//! ([`bots::DemoBot`], [`bots::EchoBot`]) and the server assembly behind `vr serve` ([`app`]).
//!
//! Providers are cargo features: `elevenlabs` and `azure` (both on by default); `cli` builds
//! the `vr` program.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use voice_runtime::{SessionEvent, TranscriptKind, VoiceSession, create_tts};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let session = VoiceSession::new();
//! session.set_stt_factory(Some(voice_runtime::stt_factory("mock")?));
//! let tts = create_tts("mock")?;
//! let call = session.call();
//! let mut events = call.events();
//! call.wait_connected(Duration::from_secs(30)).await?;
//! call.speak(tts.as_ref(), "Hello! How are you today?").await;
//! while let Some(event) = events.next().await {
//!     if let SessionEvent::Transcript(t) = event {
//!         if t.kind == TranscriptKind::Committed {
//!             println!("Caller said: {}", t.text);
//!             break;
//!         }
//!     }
//! }
//! call.hangup()?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod app;
pub mod bots;
pub mod conversation;
mod factory;
pub mod metrics;
pub mod recording;
pub mod transport;

pub use factory::{
    FactoryError, Lookup, SharedLookup, SttKind, TtsKind, create_stt, create_stt_with, create_tts,
    create_tts_with, get_sms_transport, get_stt_class, stt_factory, stt_factory_with,
};
pub use transport::{Transport, TransportError};

/// The per-call coordinator and the traits providers and transports implement.
pub use vr_session as session;
pub use vr_session::{
    CallHandle, CallInfo, CallRegistry, DisconnectReason, MarkOutcome, SessionError, SessionEvent,
    SpeakOutcome, SpeakStatus, SttProvider, SttSource, Transcript, TranscriptKind, TtsProvider,
    VoiceSession,
};

/// G.711 codecs, WAV files, the resampler and the call mixer.
pub use vr_codec as codec;
pub use vr_codec::mix_frames;
/// The original's `AudioMixer`: the real-time two-channel mixer behind monitoring and recording.
pub use vr_codec::mixer::Mixer as AudioMixer;

/// Twilio: Media Streams server, signatures, TwiML, REST.
pub use vr_twilio as twilio;
/// The original's `MissingStreamUrlError` is [`twilio::rest::ConfigError::MissingStreamUrl`].
pub use vr_twilio::rest::ConfigError as TwilioConfigError;

/// Mock providers, the Twilio simulator and the bot-to-bot bridge.
pub use vr_mock as mock;

/// Speech-to-text providers (features `elevenlabs`, `azure`).
pub use vr_stt as stt;

/// Text-to-speech providers (features `elevenlabs`, `azure`).
pub use vr_tts as tts;
