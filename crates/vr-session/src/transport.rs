//! The transport's side of a call: what a Twilio (or SIP, or simulator) handler drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::call::CallHandle;
use crate::core::{CallCore, lock};
use crate::counters::ServerCounters;
use crate::events::{CallInfo, DisconnectReason, SessionEvent};
use crate::hooks::Hooks;
use crate::inbound::PushOutcome;
use crate::outbound::Outbound;
use vr_codec::FRAME_BYTES;

/// How long [`TransportLink::close`] waits for the call's driver (STT stop) to finish.
const DRIVER_JOIN_TIMEOUT: Duration = Duration::from_secs(6);

/// A transport's connection to one call. Dropping it without [`close`](Self::close) (a
/// cancelled task, a panic) still runs the disconnect path: waiters are released, the STT is
/// stopped, events are emitted (W12).
#[derive(Debug)]
pub struct TransportLink {
    core: Arc<CallCore>,
    generation: Arc<AtomicU64>,
    closed: bool,
}

impl TransportLink {
    pub(crate) fn new(core: Arc<CallCore>, generation: Arc<AtomicU64>) -> Self {
        Self {
            core,
            generation,
            closed: false,
        }
    }

    /// A caller frame arrived (raw μ-law). Never waits: when the recogniser falls behind the
    /// oldest frame is dropped and counted.
    pub fn push_inbound(&self, frame: Bytes) {
        let core = &self.core;
        core.metrics.frame_in();
        if frame.len() != FRAME_BYTES
            && !frame.is_empty()
            && !core.odd_frame_logged.swap(true, Ordering::Relaxed)
        {
            let _g = core.span.enter();
            tracing::debug!(
                "non-standard frame size {} (expected {FRAME_BYTES})",
                frame.len()
            );
        }
        if let Some(tap) = core.tap() {
            tap.caller(&frame);
        }
        if core.inbound_tx.push(frame) == PushOutcome::DroppedOldest {
            core.metrics.inbound_drop();
            core.count(ServerCounters::count_inbound_drop);
            if !core.overflow_reported.swap(true, Ordering::Relaxed) {
                let _g = core.span.enter();
                tracing::warn!(
                    "speech-to-text is falling behind; dropping the oldest caller audio"
                );
                core.emit(SessionEvent::InboundOverflow {
                    dropped: core.inbound_tx.dropped(),
                });
            }
        }
    }

    /// The caller pressed a key.
    pub fn dtmf(&self, digit: &str) {
        self.core.metrics.dtmf();
        self.core.emit(SessionEvent::Dtmf(digit.to_owned()));
        Hooks::text(&self.core.config().hooks.on_dtmf, "on_dtmf", digit);
    }

    /// The far side echoed a mark.
    pub fn mark_echoed(&self, wire_name: &str) {
        self.core.mark_echoed(wire_name);
    }

    /// The next message to send; `None` once the call has ended.
    pub async fn next_outbound(&self) -> Option<Outbound> {
        self.core.next_outbound().await
    }

    /// The next message if one is ready, without waiting.
    pub fn try_next_outbound(&self) -> Option<Outbound> {
        self.core.take_outbound(tokio::time::Instant::now())
    }

    /// The call's identifiers.
    pub fn info(&self) -> Option<CallInfo> {
        self.core.info()
    }

    /// A bot-side handle to the same call.
    pub fn call(&self) -> CallHandle {
        CallHandle::new(self.core.clone(), self.generation.clone())
    }

    /// Whether the call has ended (from either side).
    pub fn is_disconnected(&self) -> bool {
        self.core.is_ended()
    }

    /// Cancelled when the call ends.
    pub fn ended_token(&self) -> CancellationToken {
        self.core.ended.clone()
    }

    /// The call's tracing span, for the transport's own logs.
    pub fn span(&self) -> &tracing::Span {
        &self.core.span
    }

    /// Ends the call and waits (bounded) for its speech-to-text provider to stop.
    pub async fn close(mut self, reason: DisconnectReason) {
        self.closed = true;
        self.core.disconnect(reason);
        let driver = lock(&self.core.driver).take();
        if let Some(handle) = driver
            && tokio::time::timeout(DRIVER_JOIN_TIMEOUT, handle)
                .await
                .is_err()
        {
            let _g = self.core.span.enter();
            tracing::warn!("call driver did not stop in time");
        }
    }
}

impl Drop for TransportLink {
    fn drop(&mut self) {
        if !self.closed {
            // The driver watches the ended token and stops the STT on its own.
            self.core.disconnect(DisconnectReason::TransportDropped);
        }
    }
}
