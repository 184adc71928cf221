//! One utterance on its way to the caller: the common half of every TTS provider.
//!
//! A provider fetches audio and pushes it here; the utterance re-cuts it into 20 ms frames,
//! stops at once on cancellation or hang-up, sends and awaits the closing mark, and works out
//! from the play-out clock what the caller actually heard.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vr_codec::{FRAME_BYTES, MULAW_SILENCE};

use crate::call::CallHandle;
use crate::core::UtteranceProbe;
use crate::events::SpeakTimings;
use crate::marks::{MarkOutcome, TTS_MARK_TIMEOUT};
use crate::tts::{SpeakOutcome, SpeakStatus, TtsError};

/// The name of the mark every utterance ends with (the original's `tts_complete`).
pub const TTS_MARK_NAME: &str = "tts_complete";

/// Assumed speaking rate for estimating how much of an unfinished utterance was heard: about
/// 60 ms of audio per character.
const BYTES_PER_CHAR_ESTIMATE: u64 = 480;

/// Why pushing audio stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// The utterance was cancelled (barge-in).
    Cancelled,
    /// The call ended.
    Disconnected,
}

/// An utterance in progress. See the module docs.
#[derive(Debug)]
pub struct Utterance {
    call: CallHandle,
    text: String,
    cancel: CancellationToken,
    started: Instant,
    probe: Arc<UtteranceProbe>,
    partial: Vec<u8>,
    bytes: u64,
    first_byte: Option<Duration>,
    complete: bool,
    mark_timeout: Duration,
}

impl Utterance {
    /// Starts an utterance. Returns the final outcome instead when there is nothing to do:
    /// empty text (B79), a call that has ended (B80), or a token already cancelled.
    #[allow(clippy::result_large_err)]
    pub fn begin(
        call: &CallHandle,
        text: &str,
        cancel: CancellationToken,
    ) -> Result<Self, SpeakOutcome> {
        if text.trim().is_empty() {
            return Err(SpeakOutcome::nothing(text, SpeakStatus::Completed));
        }
        if call.check().is_err() || call.is_disconnected() {
            return Err(SpeakOutcome::nothing(text, SpeakStatus::CallDisconnected));
        }
        if cancel.is_cancelled() {
            return Err(SpeakOutcome::nothing(text, SpeakStatus::Interrupted));
        }
        call.core.set_utterance(cancel.clone());
        Ok(Self {
            call: call.clone(),
            text: text.to_owned(),
            cancel,
            started: Instant::now(),
            probe: Arc::new(UtteranceProbe::default()),
            partial: Vec::with_capacity(FRAME_BYTES),
            bytes: 0,
            first_byte: None,
            complete: false,
            mark_timeout: TTS_MARK_TIMEOUT,
        })
    }

    /// Overrides the closing mark's timeout (30 s by default).
    pub fn with_mark_timeout(mut self, timeout: Duration) -> Self {
        self.mark_timeout = timeout;
        self
    }

    /// The token that cancels this utterance; providers select on it while waiting.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The call being spoken to.
    pub fn call(&self) -> &CallHandle {
        &self.call
    }

    /// The text being spoken.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Why the utterance should stop, if it should.
    pub fn halted(&self) -> Option<Halt> {
        if self.call.is_disconnected() {
            Some(Halt::Disconnected)
        } else if self.cancel.is_cancelled() {
            Some(Halt::Cancelled)
        } else {
            None
        }
    }

    /// Pushes provider audio (raw 8 kHz μ-law, any chunk size). The chunk in hand when a
    /// cancellation is seen is not sent (B87).
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), Halt> {
        if let Some(halt) = self.halted() {
            return Err(halt);
        }
        if chunk.is_empty() {
            return Ok(());
        }
        if self.first_byte.is_none() {
            let d = self.started.elapsed();
            self.first_byte = Some(d);
            self.call.core.metrics.first_byte(d);
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = (FRAME_BYTES - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() == FRAME_BYTES {
                self.send_partial().await?;
            }
        }
        Ok(())
    }

    async fn send_partial(&mut self) -> Result<(), Halt> {
        let frame = Bytes::copy_from_slice(&self.partial);
        self.partial.clear();
        let probe = (self.bytes == 0).then(|| self.probe.clone());
        self.bytes += frame.len() as u64;
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Halt::Cancelled),
            sent = self.call.core.enqueue_audio(frame, probe) => sent.map_err(|_| Halt::Disconnected),
        }
    }

    /// All audio has arrived: flushes the last partial frame (padded with silence), sends the
    /// closing mark and waits for it, then reports the outcome.
    pub async fn finish(mut self) -> SpeakOutcome {
        self.complete = true;
        if !self.partial.is_empty() {
            self.partial.resize(FRAME_BYTES, MULAW_SILENCE);
            if let Err(halt) = self.send_partial().await {
                return self.stop(halt);
            }
        }
        if let Some(halt) = self.halted() {
            return self.stop(halt);
        }
        let pending = match self.call.send_mark(TTS_MARK_NAME) {
            Ok(p) => p,
            Err(_) => return self.stop(Halt::Disconnected),
        };
        let outcome = tokio::select! {
            outcome = pending.wait(self.mark_timeout) => outcome,
            // A hang-up also cancels the token: report it as what it is.
            _ = self.cancel.cancelled() => {
                let halt = self.halted().unwrap_or(Halt::Cancelled);
                return self.stop(halt);
            }
        };
        if outcome == MarkOutcome::TimedOut {
            tracing::warn!("Mark timeout — audio may have been cut off");
        }
        let status = match outcome {
            MarkOutcome::Disconnected => SpeakStatus::CallDisconnected,
            MarkOutcome::Cleared if self.cancel.is_cancelled() => SpeakStatus::Interrupted,
            _ => SpeakStatus::Completed,
        };
        let mut result = self.outcome(status);
        if outcome == MarkOutcome::Played {
            result.heard = result.text.clone();
        }
        result.mark = Some(outcome);
        result
    }

    /// Ends the utterance early because of `halt`.
    pub fn stop(self, halt: Halt) -> SpeakOutcome {
        let status = match halt {
            Halt::Cancelled => SpeakStatus::Interrupted,
            Halt::Disconnected => SpeakStatus::CallDisconnected,
        };
        self.outcome(status)
    }

    /// Ends the utterance with a provider failure: reports it to the bot (event and
    /// `on_error`) and returns the error outcome.
    pub fn fail(self, error: TtsError) -> SpeakOutcome {
        tracing::warn!(%error, "tts failed");
        self.call.report_tts_error(&error.to_string());
        self.outcome(SpeakStatus::Failed(error))
    }

    fn outcome(&self, status: SpeakStatus) -> SpeakOutcome {
        let first_frame = self
            .probe
            .first_frame_at
            .get()
            .map(|t| t.saturating_duration_since(self.started));
        if let Some(d) = first_frame {
            self.call.core.metrics.first_frame(d);
        }
        self.record_latency(first_frame);
        SpeakOutcome {
            text: self.text.clone(),
            heard: self.heard_text(),
            status,
            mark: None,
            audio_bytes: self.bytes,
            timings: SpeakTimings {
                first_byte: self.first_byte,
                first_frame,
            },
        }
    }

    /// Logs the utterance's timings and adds them to the server's histograms.
    fn record_latency(&self, first_frame: Option<Duration>) {
        let Some(first_byte) = self.first_byte else {
            return;
        };
        let to_frame = first_frame.map(|f| f.saturating_sub(first_byte));
        tracing::debug!(
            speak_to_first_byte_us = first_byte.as_micros() as u64,
            first_byte_to_first_frame_us = to_frame.map(|d| d.as_micros() as u64),
            "utterance timings"
        );
        if let Some(latency) = &self.call.core.config().latency {
            latency.speak_to_first_byte.record(first_byte);
            if let Some(d) = to_frame {
                latency.first_byte_to_first_frame.record(d);
            }
        }
    }

    /// Bytes of this utterance the caller has heard, by the play-out clock.
    pub fn heard_bytes(&self) -> u64 {
        let Some(start) = self.probe.start_offset.get() else {
            return 0;
        };
        let played = self.call.core.state().clock.played(Instant::now());
        played.saturating_sub(*start).min(self.bytes)
    }

    fn heard_text(&self) -> String {
        let heard = self.heard_bytes();
        let chars = self.text.chars().count() as u64;
        let expected = if self.complete {
            self.bytes
        } else {
            self.bytes.max(chars * BYTES_PER_CHAR_ESTIMATE)
        };
        if expected == 0 || heard == 0 {
            return String::new();
        }
        if heard >= expected {
            return self.text.clone();
        }
        let keep = (chars * heard / expected) as usize;
        word_prefix(&self.text, keep)
    }
}

/// The first `chars` characters of `text`, cut back to the last whole word.
fn word_prefix(text: &str, chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(chars)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let head = &text[..end];
    let whole_word = end == text.len() || text[end..].starts_with(char::is_whitespace);
    let cut = if whole_word {
        head
    } else {
        head.rfind(char::is_whitespace).map_or("", |i| &head[..i])
    };
    cut.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::word_prefix;

    #[test]
    fn word_prefix_cuts_back_to_whole_words() {
        assert_eq!(word_prefix("hello there friend", 8), "hello");
        assert_eq!(word_prefix("hello there friend", 11), "hello there");
        assert_eq!(word_prefix("hello there friend", 100), "hello there friend");
        assert_eq!(word_prefix("hello", 2), "");
        assert_eq!(word_prefix("héllo wörld", 6), "héllo");
    }
}
