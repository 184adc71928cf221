//! The text-to-speech provider trait and the outcome of speaking.

use std::pin::Pin;

use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::call::CallHandle;
use crate::events::SpeakTimings;
use crate::marks::MarkOutcome;
use crate::sentences::SentenceSplitter;

/// Text pieces as they are generated (an LLM's tokens, say).
pub type TextStream = Pin<Box<dyn Stream<Item = String> + Send>>;

/// Why an utterance failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TtsError {
    /// Missing or invalid configuration (e.g. no API key).
    #[error("tts configuration: {0}")]
    Config(String),
    /// Could not reach the service.
    #[error("tts connect failed: {0}")]
    Connect(String),
    /// No audio arrived before the first-byte timeout.
    #[error("tts timed out before the first audio byte")]
    FirstByteTimeout,
    /// The service answered with an HTTP error.
    #[error("tts HTTP {status}: {body}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// The provider's error body (truncated).
        body: String,
    },
    /// The audio stream stopped arriving mid-utterance.
    #[error("tts stream stalled mid-utterance")]
    Stalled,
    /// The audio stream broke mid-utterance.
    #[error("tts stream broke: {0}")]
    StreamBroken(String),
    /// The service reported the synthesis as cancelled (not our own barge-in: W25).
    #[error("tts synthesis cancelled by the service: {0}")]
    ServiceCancelled(String),
    /// The service said something we did not understand.
    #[error("tts protocol error: {0}")]
    Protocol(String),
}

/// How an utterance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakStatus {
    /// All audio was sent (see [`SpeakOutcome::mark`] for whether it played).
    Completed,
    /// A barge-in cancelled it.
    Interrupted,
    /// The call ended before or while speaking.
    CallDisconnected,
    /// The provider failed.
    Failed(TtsError),
}

/// The result of one `speak`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakOutcome {
    /// The text that was asked for.
    pub text: String,
    /// The text the caller actually heard before any interruption, estimated from the
    /// play-out clock and cut at a word boundary.
    pub heard: String,
    /// How it ended.
    pub status: SpeakStatus,
    /// The closing mark's outcome, when one was sent.
    pub mark: Option<MarkOutcome>,
    /// Audio bytes handed to the session.
    pub audio_bytes: u64,
    /// Latency figures.
    pub timings: SpeakTimings,
}

impl SpeakOutcome {
    /// An outcome with nothing spoken.
    pub fn nothing(text: &str, status: SpeakStatus) -> Self {
        Self {
            text: text.to_owned(),
            heard: String::new(),
            status,
            mark: None,
            audio_bytes: 0,
            timings: SpeakTimings::default(),
        }
    }

    /// Whether a barge-in cut it short.
    pub fn interrupted(&self) -> bool {
        self.status == SpeakStatus::Interrupted
    }

    /// Whether the call was gone.
    pub fn call_disconnected(&self) -> bool {
        self.status == SpeakStatus::CallDisconnected
    }

    /// The failure, if any.
    pub fn error(&self) -> Option<&TtsError> {
        match &self.status {
            SpeakStatus::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// A text-to-speech provider. Object-safe: use it as `Box<dyn TtsProvider>` or
/// `Arc<dyn TtsProvider>`; one provider serves many calls at once.
///
/// Implementations stream audio into the call through [`Utterance`](crate::Utterance), which
/// re-cuts it into 20 ms frames, honours cancellation and disconnects, sends and awaits the
/// closing mark and computes what was heard. `speak` never sends a clear itself (B81):
/// barge-in is the bot's policy ([`CallHandle::barge_in`]).
#[async_trait]
pub trait TtsProvider: Send + Sync {
    /// A short provider name for logs.
    fn name(&self) -> &str;

    /// Speaks `text` into `call`; `cancel` stops it at once (barge-in).
    async fn speak(&self, text: &str, call: &CallHandle, cancel: CancellationToken)
    -> SpeakOutcome;

    /// Speaks text that arrives in pieces. The default gathers pieces into sentences and
    /// speaks each as it completes; input-streaming providers override it.
    async fn speak_stream(
        &self,
        mut pieces: TextStream,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        let mut splitter = SentenceSplitter::default();
        let mut total = SpeakOutcome::nothing("", SpeakStatus::Completed);
        let mut pending: Vec<String> = Vec::new();
        loop {
            if let Some(sentence) = pending.pop() {
                let outcome = self.speak(&sentence, call, cancel.clone()).await;
                if !merge(&mut total, outcome) {
                    break;
                }
                continue;
            }
            let next = tokio::select! {
                piece = pieces.next() => piece,
                _ = cancel.cancelled() => {
                    total.status = SpeakStatus::Interrupted;
                    break;
                }
            };
            match next {
                Some(piece) => {
                    let mut ready = splitter.push(&piece);
                    ready.reverse();
                    pending = ready;
                }
                None => match splitter.finish() {
                    Some(rest) => pending.push(rest),
                    None => break,
                },
            }
        }
        total
    }
}

/// Adds one sentence's outcome to the total; `false` when speaking should stop.
fn merge(total: &mut SpeakOutcome, part: SpeakOutcome) -> bool {
    if !total.text.is_empty() && !part.text.is_empty() {
        total.text.push(' ');
    }
    total.text.push_str(&part.text);
    if !part.heard.is_empty() {
        if !total.heard.is_empty() {
            total.heard.push(' ');
        }
        total.heard.push_str(&part.heard);
    }
    total.audio_bytes += part.audio_bytes;
    if total.timings.first_byte.is_none() {
        total.timings = part.timings;
    }
    total.mark = part.mark.or(total.mark);
    let go_on = part.status == SpeakStatus::Completed;
    total.status = part.status;
    go_on
}
