//! One call's shared state: what the bot's handle, the transport link and the driver task
//! all point at. One lock per call, never shared between calls.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::SessionConfig;
use crate::counters::ServerCounters;
use crate::events::{CallInfo, DisconnectReason, SessionEvent};
use crate::hooks::guarded;
use crate::inbound::{AudioReceiver, AudioSender, audio_channel};
use crate::marks::MarkOutcome;
use crate::metrics::CallMetrics;
use crate::playout::PlayoutClock;
use crate::tap::AudioTap;

/// Where a call is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallPhase {
    /// Waiting for the transport to connect.
    Pending,
    /// Connected.
    Connected(CallInfo),
    /// Over.
    Ended(DisconnectReason),
}

/// Marks once the first utterance frame reaches the transport, for latency and for knowing
/// where the utterance starts on the play-out clock.
#[derive(Debug, Default)]
pub(crate) struct UtteranceProbe {
    pub(crate) start_offset: std::sync::OnceLock<u64>,
    pub(crate) first_frame_at: std::sync::OnceLock<Instant>,
}

#[derive(Debug)]
pub(crate) enum QueuedItem {
    Media {
        audio: Bytes,
        probe: Option<Arc<UtteranceProbe>>,
    },
    Mark {
        wire_name: String,
    },
}

#[derive(Debug)]
pub(crate) struct MarkEntry {
    pub(crate) name: String,
    pub(crate) tx: oneshot::Sender<MarkOutcome>,
    /// Stream position and time when it went on the wire; `None` while still queued here.
    pub(crate) sent: Option<(u64, Instant)>,
}

#[derive(Debug, Default)]
pub(crate) struct CallState {
    pub(crate) queue: VecDeque<QueuedItem>,
    pub(crate) queued_media: usize,
    pub(crate) marks: HashMap<String, MarkEntry>,
    /// Marks a clear resolved after they went on the wire: their echo is expected and ignored.
    pub(crate) absorbed: VecDeque<String>,
    pub(crate) clock: PlayoutClock,
    pub(crate) clear_pending: bool,
    pub(crate) attached: bool,
    pub(crate) utterance: Option<CancellationToken>,
}

/// The shared state of one call.
pub(crate) struct CallCore {
    pub(crate) generation: u64,
    config: RwLock<Arc<SessionConfig>>,
    pub(crate) state: Mutex<CallState>,
    pub(crate) outbound_ready: Notify,
    pub(crate) outbound_space: Notify,
    pub(crate) hangup_requested: AtomicBool,
    pub(crate) phase: watch::Sender<CallPhase>,
    pub(crate) events: broadcast::Sender<SessionEvent>,
    pub(crate) metrics: CallMetrics,
    pub(crate) ended: CancellationToken,
    /// Mirrors `ended` for the per-frame checks: a token's `is_cancelled` takes a lock.
    ended_flag: AtomicBool,
    pub(crate) inbound_tx: AudioSender,
    pub(crate) inbound_rx: Mutex<Option<AudioReceiver>>,
    pub(crate) gate_changed: Notify,
    pub(crate) tap: RwLock<Option<Arc<dyn AudioTap>>>,
    pub(crate) overflow_reported: AtomicBool,
    pub(crate) odd_frame_logged: AtomicBool,
    pub(crate) driver: Mutex<Option<JoinHandle<()>>>,
    pub(crate) span: tracing::Span,
}

impl std::fmt::Debug for CallCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCore")
            .field("generation", &self.generation)
            .field("phase", &*self.phase.borrow())
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, recovering from poisoning: every critical section leaves the state valid.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CallCore {
    pub(crate) fn new(
        generation: u64,
        config: Arc<SessionConfig>,
        tap: Option<Arc<dyn AudioTap>>,
    ) -> Arc<Self> {
        let (inbound_tx, inbound_rx) = audio_channel(config.inbound_frames);
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let (phase, _) = watch::channel(CallPhase::Pending);
        Arc::new(Self {
            generation,
            state: Mutex::new(CallState::default()),
            outbound_ready: Notify::new(),
            outbound_space: Notify::new(),
            hangup_requested: AtomicBool::new(false),
            phase,
            events,
            metrics: CallMetrics::default(),
            ended: CancellationToken::new(),
            ended_flag: AtomicBool::new(false),
            inbound_tx,
            inbound_rx: Mutex::new(Some(inbound_rx)),
            gate_changed: Notify::new(),
            tap: RwLock::new(tap),
            overflow_reported: AtomicBool::new(false),
            odd_frame_logged: AtomicBool::new(false),
            driver: Mutex::new(None),
            span: tracing::info_span!(
                "call",
                generation,
                call_sid = tracing::field::Empty,
                stream_sid = tracing::field::Empty
            ),
            config: RwLock::new(config),
        })
    }

    /// The settings in force (the session's latest, applied when the call connects).
    pub(crate) fn config(&self) -> Arc<SessionConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_config(&self, config: Arc<SessionConfig>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, CallState> {
        lock(&self.state)
    }

    pub(crate) fn emit(&self, event: SessionEvent) {
        // No receiver is fine: nobody is listening to this call's events.
        let _ = self.events.send(event);
    }

    pub(crate) fn tap(&self) -> Option<Arc<dyn AudioTap>> {
        self.tap.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `f` on the server-wide counters, when the session has them.
    pub(crate) fn count(&self, f: impl FnOnce(&ServerCounters)) {
        if let Some(counters) = &self
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .counters
        {
            f(counters);
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended_flag.load(Ordering::Acquire)
    }

    /// The outbound queue's capacity, read without cloning the settings.
    pub(crate) fn outbound_capacity(&self) -> usize {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .outbound_frames
            .max(1)
    }

    pub(crate) fn info(&self) -> Option<CallInfo> {
        match &*self.phase.borrow() {
            CallPhase::Connected(info) => Some(info.clone()),
            _ => None,
        }
    }

    /// Marks the call connected. Fails if a transport is already attached or the call ended.
    pub(crate) fn connect(&self, info: CallInfo) -> Result<(), crate::SessionError> {
        {
            let mut st = self.state();
            if self.is_ended() {
                return Err(crate::SessionError::Disconnected);
            }
            if st.attached {
                return Err(crate::SessionError::AlreadyAttached);
            }
            st.attached = true;
        }
        if let Some(sid) = &info.call_sid {
            self.span.record("call_sid", sid.as_str());
        }
        self.span.record("stream_sid", info.stream_sid.as_str());
        self.phase.send_replace(CallPhase::Connected(info.clone()));
        self.emit(SessionEvent::Connected(info));
        Ok(())
    }

    /// The disconnect path (W6, W12): release every waiter first, then mark the call over, then
    /// tell the bot. Runs once; later calls return `false`.
    pub(crate) fn disconnect(&self, reason: DisconnectReason) -> bool {
        let released = {
            let mut st = self.state();
            if self.is_ended() {
                return false;
            }
            // Set under the state lock, like every read that decides on it.
            self.ended_flag.store(true, Ordering::Release);
            self.ended.cancel();
            st.queue.clear();
            st.queued_media = 0;
            if let Some(token) = st.utterance.take() {
                token.cancel();
            }
            st.marks.drain().map(|(_, m)| m).collect::<Vec<_>>()
        };
        for mark in released {
            self.metrics.mark(MarkOutcome::Disconnected);
            let _ = mark.tx.send(MarkOutcome::Disconnected);
        }
        self.inbound_tx.close();
        self.outbound_space.notify_waiters();
        self.outbound_ready.notify_waiters();
        self.phase.send_replace(CallPhase::Ended(reason.clone()));
        let _guard = self.span.enter();
        let m = self.metrics.snapshot();
        tracing::info!(
            %reason,
            frames_in = m.frames_in,
            frames_out = m.frames_out,
            inbound_dropped = m.inbound_dropped,
            marks_played = m.marks_played,
            marks_cleared = m.marks_cleared,
            marks_timed_out = m.marks_timed_out,
            clears = m.clears,
            first_frame_ms = ?m.first_frame.first().map(|d| d.as_millis()),
            "call ended"
        );
        self.count(|c| c.count_end(&reason));
        self.emit(SessionEvent::Disconnected(reason.clone()));
        if let Some(hook) = &self.config().hooks.on_disconnected {
            guarded("on_disconnected", || hook(&reason));
        }
        true
    }

    /// Asks the transport to end the call; acts once.
    pub(crate) fn request_hangup(&self) {
        if !self.hangup_requested.swap(true, Ordering::AcqRel) {
            self.outbound_ready.notify_one();
        }
    }

    /// Registers the utterance the bot's barge-in should cancel.
    pub(crate) fn set_utterance(&self, token: CancellationToken) {
        let previous = self.state().utterance.replace(token);
        drop(previous);
    }

    /// Cancels the current utterance, if any.
    pub(crate) fn cancel_utterance(&self) {
        if let Some(token) = self.state().utterance.take() {
            token.cancel();
        }
    }
}
