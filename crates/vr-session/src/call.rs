//! The bot's handle to one call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::SessionError;
use crate::core::{CallCore, CallPhase};
use crate::events::{CallInfo, DisconnectReason, SessionEvent};
use crate::marks::{MarkOutcome, PendingMark};
use crate::metrics::MetricsSnapshot;
use crate::stream::EventStream;
use crate::tts::{SpeakOutcome, TtsProvider};

/// A handle to one call, cheap to clone and usable from any task.
///
/// A handle is bound to the call it was made for: once the session has been [reset] for
/// another call, every action through an old handle fails with [`SessionError::StaleCall`]
/// instead of touching the new call (W33).
///
/// [reset]: crate::VoiceSession::reset
#[derive(Clone, Debug)]
pub struct CallHandle {
    pub(crate) core: Arc<CallCore>,
    pub(crate) session_generation: Arc<AtomicU64>,
}

/// A [`CallHandle`] that does not keep its call alive ([`CallHandle::downgrade`]).
#[derive(Clone, Debug)]
pub struct WeakCallHandle {
    core: std::sync::Weak<CallCore>,
    session_generation: Arc<AtomicU64>,
}

impl WeakCallHandle {
    /// The handle, while the call still exists.
    pub fn upgrade(&self) -> Option<CallHandle> {
        Some(CallHandle::new(
            self.core.upgrade()?,
            self.session_generation.clone(),
        ))
    }
}

impl CallHandle {
    pub(crate) fn new(core: Arc<CallCore>, session_generation: Arc<AtomicU64>) -> Self {
        Self {
            core,
            session_generation,
        }
    }

    /// A handle that does not keep the call alive: for things the call itself owns (its STT
    /// factory, its audio tap) that need to reach it, where a strong handle would be a
    /// reference cycle and leak every call.
    pub fn downgrade(&self) -> WeakCallHandle {
        WeakCallHandle {
            core: Arc::downgrade(&self.core),
            session_generation: self.session_generation.clone(),
        }
    }

    /// The call generation this handle belongs to (0 for a session's first call).
    pub fn generation(&self) -> u64 {
        self.core.generation
    }

    pub(crate) fn check(&self) -> Result<(), SessionError> {
        let current = self.session_generation.load(Ordering::Acquire);
        if current != self.core.generation {
            return Err(SessionError::StaleCall {
                handle: self.core.generation,
                current,
            });
        }
        Ok(())
    }

    fn check_live(&self) -> Result<(), SessionError> {
        self.check()?;
        if self.core.is_ended() {
            return Err(SessionError::Disconnected);
        }
        Ok(())
    }

    /// The call's identifiers once connected.
    pub fn info(&self) -> Option<CallInfo> {
        self.core.info()
    }

    /// Whether the call has ended.
    pub fn is_disconnected(&self) -> bool {
        self.core.is_ended()
    }

    /// Why the call ended, once it has.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match &*self.core.phase.borrow() {
            CallPhase::Ended(reason) => Some(reason.clone()),
            _ => None,
        }
    }

    /// Subscribes to the call's events from now on.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.core.events.subscribe())
    }

    /// Waits until the transport connects. Fails with [`SessionError::CallNotAnswered`] after
    /// `timeout`, or [`SessionError::CallHangup`] if the call ends first.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<CallInfo, SessionError> {
        self.check()?;
        let mut phase = self.core.phase.subscribe();
        let wait = async {
            loop {
                match &*phase.borrow_and_update() {
                    CallPhase::Connected(info) => return Ok(info.clone()),
                    CallPhase::Ended(_) => return Err(SessionError::CallHangup),
                    CallPhase::Pending => {}
                }
                if phase.changed().await.is_err() {
                    return Err(SessionError::CallHangup);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(SessionError::CallNotAnswered(timeout)))
    }

    /// Waits until the call ends and returns why.
    pub async fn wait_disconnected(&self) -> DisconnectReason {
        let mut phase = self.core.phase.subscribe();
        loop {
            if let CallPhase::Ended(reason) = &*phase.borrow_and_update() {
                return reason.clone();
            }
            if phase.changed().await.is_err() {
                return DisconnectReason::TransportDropped;
            }
        }
    }

    /// Queues audio (raw μ-law, any length) to play, waiting while the queue is full.
    pub async fn send_audio(&self, audio: Bytes) -> Result<(), SessionError> {
        self.check_live()?;
        self.core.enqueue_audio(audio, None).await
    }

    /// Queues a mark behind the audio queued so far. Await [`PendingMark::wait`] for its
    /// outcome; on an ended call it resolves at once as `Disconnected`.
    pub fn send_mark(&self, name: &str) -> Result<PendingMark, SessionError> {
        self.check()?;
        Ok(self.core.enqueue_mark(name))
    }

    /// Sends a mark and waits for it (the original's `send_mark_and_wait`).
    pub async fn mark_and_wait(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<MarkOutcome, SessionError> {
        Ok(self.send_mark(name)?.wait(timeout).await)
    }

    /// Drops the audio not yet played, here and on the far side. Pending marks resolve as
    /// `Cleared`. Does not stop a provider that is still producing audio: see
    /// [`barge_in`](Self::barge_in).
    pub fn clear(&self) -> Result<(), SessionError> {
        self.check()?;
        self.core.clear();
        Ok(())
    }

    /// Barge-in: clears the playback and cancels the utterance being spoken, at once.
    pub fn barge_in(&self) -> Result<(), SessionError> {
        self.check()?;
        self.core.cancel_utterance();
        self.core.clear();
        Ok(())
    }

    /// Asks the transport to end the call. Works before the call connects too; acts once.
    pub fn hangup(&self) -> Result<(), SessionError> {
        self.check()?;
        self.core.request_hangup();
        Ok(())
    }

    /// Whether the caller is hearing the bot right now, by the play-out clock.
    pub fn is_speaking(&self) -> bool {
        self.core.state().clock.is_playing(Instant::now())
    }

    /// Bytes of bot audio the caller has heard so far on this call.
    pub fn played_bytes(&self) -> u64 {
        self.core.state().clock.played(Instant::now())
    }

    /// Speaks `text` through `tts`, cancellable by [`barge_in`](Self::barge_in).
    pub async fn speak(&self, tts: &dyn TtsProvider, text: &str) -> SpeakOutcome {
        tts.speak(text, self, CancellationToken::new()).await
    }

    /// The call's counters and timings.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.core.metrics.snapshot()
    }

    /// A token cancelled when the call ends: tie your own per-call tasks to it.
    pub fn ended_token(&self) -> CancellationToken {
        self.core.ended.clone()
    }

    /// Reports a text-to-speech failure to the bot (event and `on_error`).
    pub fn report_tts_error(&self, error: &str) {
        self.core
            .count(|c| c.count_error(crate::counters::ErrorKind::Tts));
        self.core.emit(SessionEvent::TtsError(error.to_owned()));
        crate::hooks::Hooks::text(&self.core.config().hooks.on_error, "on_error", error);
    }
}
