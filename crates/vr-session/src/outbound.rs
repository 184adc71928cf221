//! The one ordered outbound channel: audio, marks and clears in the order the bot made them.
//!
//! A mark can never overtake audio queued before it (W3), and a clear drops the audio still
//! queued here as well as Twilio's buffer (W14). Overflow policy: audio producers wait
//! (back-pressure) once `outbound_frames` messages are queued; marks and clears never wait.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::SessionError;
use crate::core::{CallCore, MarkEntry, QueuedItem, UtteranceProbe};
use crate::events::SessionEvent;
use crate::marks::{MarkOutcome, PendingMark, logical_name, unique_wire_name};

/// How many cleared mark names to remember so their late echoes are not reported as unknown.
const ABSORBED_MARKS: usize = 64;

/// What the transport should send next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Audio to play (raw μ-law).
    Media(Bytes),
    /// A mark with its unique wire name.
    Mark(String),
    /// Drop everything buffered on the far side.
    Clear,
    /// The bot asked to end the call.
    Hangup,
}

impl CallCore {
    /// Queues audio, waiting while the queue is full. Fails once the call has ended.
    pub(crate) async fn enqueue_audio(
        &self,
        audio: Bytes,
        probe: Option<Arc<UtteranceProbe>>,
    ) -> Result<(), SessionError> {
        let mut item = Some(QueuedItem::Media { audio, probe });
        loop {
            let space = self.outbound_space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut st = self.state();
                if self.is_ended() {
                    return Err(SessionError::Disconnected);
                }
                if st.queued_media < self.outbound_capacity() {
                    if let Some(item) = item.take() {
                        st.queue.push_back(item);
                    }
                    st.queued_media += 1;
                    drop(st);
                    self.outbound_ready.notify_one();
                    return Ok(());
                }
            }
            tokio::select! {
                _ = &mut space => {}
                _ = self.ended.cancelled() => return Err(SessionError::Disconnected),
            }
        }
    }

    /// Queues a mark behind everything queued so far.
    pub(crate) fn enqueue_mark(self: &Arc<Self>, name: &str) -> PendingMark {
        let (tx, rx) = oneshot::channel();
        let wire_name = {
            let mut st = self.state();
            let wire_name = unique_wire_name(name, |c| st.marks.contains_key(c));
            if self.is_ended() {
                let _ = tx.send(MarkOutcome::Disconnected);
                self.metrics.mark(MarkOutcome::Disconnected);
            } else {
                st.marks.insert(
                    wire_name.clone(),
                    MarkEntry {
                        name: name.to_owned(),
                        tx,
                        sent: None,
                    },
                );
                st.queue.push_back(QueuedItem::Mark {
                    wire_name: wire_name.clone(),
                });
            }
            wire_name
        };
        self.outbound_ready.notify_one();
        let core = Arc::downgrade(self);
        let timed_out_name = wire_name.clone();
        PendingMark {
            name: name.to_owned(),
            wire_name,
            rx,
            on_timeout: Some(Box::new(move || {
                if let Some(core) = core.upgrade() {
                    core.mark_timed_out(&timed_out_name);
                }
            })),
        }
    }

    fn resolve_mark(&self, entry: MarkEntry, outcome: MarkOutcome) {
        self.metrics.mark(outcome);
        let name = entry.name;
        let _ = entry.tx.send(outcome);
        self.emit(SessionEvent::Mark { name, outcome });
    }

    fn mark_timed_out(&self, wire_name: &str) {
        let entry = self.state().marks.remove(wire_name);
        if let Some(entry) = entry {
            let _g = self.span.enter();
            tracing::warn!(mark = %entry.name, wire_name, "mark not echoed in time");
            self.count(|c| c.count_error(crate::counters::ErrorKind::MarkTimeout));
            self.resolve_mark(entry, MarkOutcome::TimedOut);
        }
    }

    /// Drops the audio and marks queued here and asks the transport to clear its buffer.
    pub(crate) fn clear(&self) {
        let cleared: Vec<MarkEntry> = {
            let mut st = self.state();
            if self.is_ended() {
                return;
            }
            let mut cleared = Vec::new();
            for item in std::mem::take(&mut st.queue) {
                if let QueuedItem::Mark { wire_name } = item
                    && let Some(entry) = st.marks.remove(&wire_name)
                {
                    cleared.push(entry);
                }
            }
            st.queued_media = 0;
            st.clear_pending = true;
            cleared
        };
        for entry in cleared {
            self.resolve_mark(entry, MarkOutcome::Cleared);
        }
        self.outbound_space.notify_waiters();
        self.outbound_ready.notify_one();
    }

    /// The next thing the transport should send; `None` once the call has ended.
    pub(crate) async fn next_outbound(&self) -> Option<Outbound> {
        loop {
            let ready = self.outbound_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if let Some(out) = self.take_outbound(Instant::now()) {
                return Some(out);
            }
            if self.is_ended() {
                return None;
            }
            tokio::select! {
                _ = &mut ready => {}
                _ = self.ended.cancelled() => return None,
            }
        }
    }

    /// Takes the next item without waiting, applying its effect on the play-out clock.
    pub(crate) fn take_outbound(&self, now: Instant) -> Option<Outbound> {
        let mut cleared_on_wire = Vec::new();
        // Silent for longer than the speaking hold: the recogniser must hear that the bot speaks.
        let mut was_silent = false;
        let out = {
            let mut st = self.state();
            if self.is_ended() {
                return None;
            }
            if st.clear_pending {
                st.clear_pending = false;
                st.clock.on_clear(now);
                let on_wire: Vec<String> = st
                    .marks
                    .iter()
                    .filter(|(_, m)| m.sent.is_some())
                    .map(|(k, _)| k.clone())
                    .collect();
                for wire_name in on_wire {
                    if let Some(entry) = st.marks.remove(&wire_name) {
                        cleared_on_wire.push(entry);
                    }
                    if st.absorbed.len() >= ABSORBED_MARKS {
                        st.absorbed.pop_front();
                    }
                    st.absorbed.push_back(wire_name);
                }
                self.metrics.clear();
                Some(Outbound::Clear)
            } else if self.hangup_requested.swap(false, Ordering::AcqRel) {
                Some(Outbound::Hangup)
            } else {
                match st.queue.pop_front() {
                    Some(QueuedItem::Media { audio, probe }) => {
                        st.queued_media = st.queued_media.saturating_sub(1);
                        if let Some(probe) = probe {
                            let _ = probe.start_offset.set(st.clock.sent());
                            let _ = probe.first_frame_at.set(now);
                        }
                        was_silent = !st.clock.is_speaking(now);
                        st.clock.on_sent(audio.len(), now);
                        self.metrics.frame_out(audio.len());
                        Some(Outbound::Media(audio))
                    }
                    Some(QueuedItem::Mark { wire_name }) => {
                        let offset = st.clock.sent();
                        if let Some(entry) = st.marks.get_mut(&wire_name) {
                            entry.sent = Some((offset, now));
                        }
                        Some(Outbound::Mark(wire_name))
                    }
                    None => None,
                }
            }
        };
        match &out {
            Some(Outbound::Media(audio)) => {
                self.outbound_space.notify_one();
                if let Some(tap) = self.tap() {
                    tap.agent(audio);
                }
                if was_silent {
                    self.gate_changed.notify_one();
                }
            }
            Some(Outbound::Clear) => {
                for entry in cleared_on_wire {
                    self.resolve_mark(entry, MarkOutcome::Cleared);
                }
                if let Some(tap) = self.tap() {
                    tap.clear_agent();
                }
                self.gate_changed.notify_one();
            }
            _ => {}
        }
        out
    }

    /// The transport received a mark echo.
    pub(crate) fn mark_echoed(&self, wire_name: &str) {
        let now = Instant::now();
        let entry = {
            let mut st = self.state();
            match st.marks.remove(wire_name) {
                Some(entry) => {
                    if let Some((offset, _)) = entry.sent {
                        st.clock.on_mark_echo(offset, now);
                    }
                    Some(entry)
                }
                None => {
                    if let Some(pos) = st.absorbed.iter().position(|n| n == wire_name) {
                        st.absorbed.remove(pos);
                        return;
                    }
                    None
                }
            }
        };
        match entry {
            Some(entry) => {
                if let Some((_, sent_at)) = entry.sent {
                    self.metrics
                        .mark_round_trip(now.saturating_duration_since(sent_at));
                }
                self.gate_changed.notify_one();
                self.resolve_mark(entry, MarkOutcome::Played);
            }
            None => {
                self.metrics.unknown_mark();
                let _g = self.span.enter();
                tracing::warn!(
                    mark = logical_name(wire_name),
                    "Received unknown mark: {wire_name}"
                );
            }
        }
    }
}
