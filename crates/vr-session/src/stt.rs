//! The speech-to-text provider trait and the sink providers report through.
//!
//! A provider reads caller audio from an [`AudioReceiver`] and reports what it hears to an
//! [`SttEventSink`]. It passes **every** transcript on: the echo gate, the discard window and
//! the tee are provider-agnostic and live in the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::events::SttSource;
use crate::inbound::AudioReceiver;

/// Events a provider reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SttEvent {
    /// An interim hypothesis.
    Partial(String),
    /// The final text of a segment.
    Committed(String),
    /// A failure the bot should hear about: a terminal error, reconnects exhausted, or the
    /// session time limit. The string is a short machine-readable reason
    /// (e.g. `auth_error`, `reconnect_exhausted_after_3_attempts`).
    Error(String),
}

/// Why a provider could not start or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SttError {
    /// Missing or invalid configuration (e.g. no API key).
    #[error("stt configuration: {0}")]
    Config(String),
    /// Could not connect to the service.
    #[error("stt connect failed: {0}")]
    Connect(String),
    /// The service rejected the credentials.
    #[error("stt authentication failed: {0}")]
    Auth(String),
    /// The service said something we did not understand, or closed unexpectedly.
    #[error("stt protocol error: {0}")]
    Protocol(String),
    /// Anything else.
    #[error("stt error: {0}")]
    Other(String),
}

/// An event tagged with the provider it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedSttEvent {
    /// Which provider produced it.
    pub source: SttSource,
    /// What it reported.
    pub event: SttEvent,
    /// When the provider reported it.
    pub at: tokio::time::Instant,
}

/// Where a provider reports events. Cheap to clone; never blocks.
///
/// Overflow policy: the channel is bounded ([`SttEventSink::CAPACITY`]); if the session falls
/// that far behind, further events are dropped and counted (a transcript storm of that size
/// means the call is already lost).
#[derive(Debug, Clone)]
pub struct SttEventSink {
    source: SttSource,
    tx: mpsc::Sender<SourcedSttEvent>,
    dropped: Arc<AtomicU64>,
}

impl SttEventSink {
    /// Events that may wait for the session before new ones are dropped.
    pub const CAPACITY: usize = 256;

    /// A sink and the receiver the session reads from.
    pub fn channel(source: SttSource) -> (Self, mpsc::Receiver<SourcedSttEvent>) {
        let (tx, rx) = mpsc::channel(Self::CAPACITY);
        (
            Self {
                source,
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// The same channel, tagging events with another source (used by the tee).
    pub fn with_source(&self, source: SttSource) -> Self {
        Self {
            source,
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
        }
    }

    /// Which source this sink tags events with.
    pub fn source(&self) -> SttSource {
        self.source
    }

    /// Reports an event. Returns `false` if it was dropped (session gone or far behind).
    pub fn emit(&self, event: SttEvent) -> bool {
        let sent = self
            .tx
            .try_send(SourcedSttEvent {
                source: self.source,
                event,
                at: tokio::time::Instant::now(),
            })
            .is_ok();
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Reports an interim hypothesis.
    pub fn partial(&self, text: impl Into<String>) -> bool {
        self.emit(SttEvent::Partial(text.into()))
    }

    /// Reports a committed transcript.
    pub fn committed(&self, text: impl Into<String>) -> bool {
        self.emit(SttEvent::Committed(text.into()))
    }

    /// Reports an error the bot should hear about.
    pub fn error(&self, reason: impl Into<String>) -> bool {
        self.emit(SttEvent::Error(reason.into()))
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the session has stopped listening.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A speech-to-text provider: one per call.
///
/// The session builds it from a factory when the call connects, starts it, tells it when the
/// bot speaks, and stops it when the call ends. Object-safe: use it as `Box<dyn SttProvider>`.
#[async_trait]
pub trait SttProvider: Send + Sync {
    /// A short provider name for logs (`elevenlabs`, `azure`, `mock`, `tee`).
    fn name(&self) -> &str;

    /// Connects and starts reading `audio`. Returns once the provider is running (its own
    /// tasks keep going until [`stop`](Self::stop)); an error means it did not start.
    async fn start(&mut self, audio: AudioReceiver, events: SttEventSink) -> Result<(), SttError>;

    /// The bot started or stopped speaking. For provider-specific needs only (ElevenLabs
    /// reconnects after more than 10 s of speaking); echo handling is the session's job.
    fn set_speaking(&self, speaking: bool) {
        let _ = speaking;
    }

    /// Stops every task the provider started and closes its connection. Must return promptly
    /// and leave nothing running.
    async fn stop(&mut self);
}

/// Builds a fresh provider for each call.
pub type SttFactory = Arc<dyn Fn() -> Result<Box<dyn SttProvider>, SttError> + Send + Sync>;
