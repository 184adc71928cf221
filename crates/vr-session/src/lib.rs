//! # vr-session
//!
//! One phone call's coordinator for voice-runtime, independent of any transport or provider.
//!
//! A transport (Twilio Media Streams, the simulator) [attaches](VoiceSession::attach) to a
//! [`VoiceSession`] and drives a [`TransportLink`]: it pushes caller frames, DTMF and mark
//! echoes in, and sends what [`TransportLink::next_outbound`] yields. A bot holds a
//! [`CallHandle`]: it reads [`SessionEvent`]s, speaks through a [`TtsProvider`], sends marks and
//! audio, barges in and hangs up. Speech-to-text providers plug in through [`SttProvider`].
//!
//! Every queue is bounded with a stated overflow policy, every wait has a timeout, and every
//! task a call spawns ends with the call.
//!
//! ```
//! # async fn demo(session: vr_session::VoiceSession, tts: &dyn vr_session::TtsProvider) {
//! use std::time::Duration;
//! use vr_session::{SessionEvent, TranscriptKind};
//!
//! let call = session.call();
//! let mut events = call.events();
//! call.wait_connected(Duration::from_secs(30)).await.ok();
//! call.speak(tts, "Hello! Say something and I will repeat it.").await;
//! while let Some(event) = events.next().await {
//!     if let SessionEvent::Transcript(t) = event {
//!         if t.kind == TranscriptKind::Committed && !t.during_playback {
//!             call.speak(tts, &format!("You said: {}", t.text)).await;
//!         }
//!     }
//! }
//! # }
//! ```
#![deny(missing_docs)]

mod blocking;
mod call;
mod config;
mod core;
pub mod counters;
mod driver;
mod error;
mod events;
mod hooks;
mod inbound;
pub mod latency;
mod marks;
mod metrics;
mod outbound;
pub mod playout;
mod registry;
mod sentences;
mod session;
mod stream;
mod stt;
mod tap;
mod tee;
mod transport;
mod tts;
mod utterance;

pub use blocking::BlockingCall;
pub use call::{CallHandle, WeakCallHandle};
pub use config::{
    DEFAULT_EVENT_CAPACITY, DEFAULT_OUTBOUND_FRAMES, STT_STOP_TIMEOUT, SessionConfig,
};
pub use core::CallPhase;
pub use counters::{ErrorKind, ServerCounters};
pub use error::SessionError;
pub use events::{
    CallInfo, DisconnectReason, SessionEvent, SpeakTimings, SttSource, Transcript, TranscriptKind,
};
pub use hooks::{DisconnectHook, Hooks, SttReadyHook, TextHook};
pub use inbound::{
    AudioReceiver, AudioSender, DEFAULT_INBOUND_FRAMES, PushOutcome, TryRecvError, audio_channel,
};
pub use latency::TurnLatency;
pub use marks::{DEFAULT_MARK_TIMEOUT, MarkOutcome, PendingMark, TTS_MARK_TIMEOUT, logical_name};
pub use metrics::MetricsSnapshot;
pub use outbound::Outbound;
pub use registry::{CallRegistry, LiveGuard, ShutdownReport};
pub use sentences::SentenceSplitter;
pub use session::VoiceSession;
pub use stream::EventStream;
pub use stt::{SourcedSttEvent, SttError, SttEvent, SttEventSink, SttFactory, SttProvider};
pub use tap::AudioTap;
pub use tee::SttTee;
pub use transport::TransportLink;
pub use tts::{SpeakOutcome, SpeakStatus, TextStream, TtsError, TtsProvider};
pub use utterance::{Halt, TTS_MARK_NAME, Utterance};
