//! Server-wide counters of what went wrong on calls, for `/metrics`: drops, errors by kind and
//! how calls ended. Shared by every call of a server through [`SessionConfig::counters`]
//! (relaxed atomics: nothing here is on a healthy frame's path).
//!
//! [`SessionConfig::counters`]: crate::SessionConfig::counters

use std::sync::atomic::{AtomicU64, Ordering};

use crate::events::DisconnectReason;

/// A kind of error a call can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The speech-to-text provider failed (start, terminal error, reconnects exhausted).
    Stt,
    /// The text-to-speech provider failed an utterance.
    Tts,
    /// A mark was not echoed in time.
    MarkTimeout,
    /// Sending to the transport failed, ending the call.
    SendFailed,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 4] = [Self::Stt, Self::Tts, Self::MarkTimeout, Self::SendFailed];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stt => "stt",
            Self::Tts => "tts",
            Self::MarkTimeout => "mark_timeout",
            Self::SendFailed => "send_failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Labels of [`DisconnectReason`] for counting, one per variant (details dropped).
pub const END_REASONS: [&str; 10] = [
    "remote_stop",
    "transport_closed",
    "send_failed",
    "hangup_requested",
    "idle_timeout",
    "reset",
    "shutdown",
    "not_answered",
    "transport_dropped",
    "other",
];

// Exhaustive: a new variant fails to compile here until it has a label.
fn end_index(reason: &DisconnectReason) -> usize {
    match reason {
        DisconnectReason::RemoteStop => 0,
        DisconnectReason::TransportClosed => 1,
        DisconnectReason::SendFailed(_) => 2,
        DisconnectReason::HangupRequested => 3,
        DisconnectReason::IdleTimeout => 4,
        DisconnectReason::Reset => 5,
        DisconnectReason::Shutdown => 6,
        DisconnectReason::NotAnswered(_) => 7,
        DisconnectReason::TransportDropped => 8,
        DisconnectReason::Other(_) => 9,
    }
}

/// The label a call ending for `reason` is counted under.
pub fn end_reason_label(reason: &DisconnectReason) -> &'static str {
    END_REASONS[end_index(reason)]
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct ServerCounters {
    inbound_dropped: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    ended: [AtomicU64; END_REASONS.len()],
}

impl ServerCounters {
    /// Caller frames dropped because a call's recogniser fell behind.
    pub fn inbound_dropped(&self) -> u64 {
        self.inbound_dropped.load(Ordering::Relaxed)
    }

    /// Errors of `kind` so far.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()].load(Ordering::Relaxed)
    }

    /// Calls ended so far under `label` (one of [`END_REASONS`]).
    pub fn ended(&self, label: &str) -> u64 {
        END_REASONS
            .iter()
            .position(|l| *l == label)
            .map_or(0, |i| self.ended[i].load(Ordering::Relaxed))
    }

    pub(crate) fn count_inbound_drop(&self) {
        self.inbound_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_error(&self, kind: ErrorKind) {
        self.errors[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_end(&self, reason: &DisconnectReason) {
        self.ended[end_index(reason)].fetch_add(1, Ordering::Relaxed);
        if matches!(reason, DisconnectReason::SendFailed(_)) {
            self.count_error(ErrorKind::SendFailed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_reason() {
        let c = ServerCounters::default();
        c.count_error(ErrorKind::Tts);
        c.count_error(ErrorKind::Tts);
        c.count_end(&DisconnectReason::SendFailed("broken pipe".into()));
        c.count_end(&DisconnectReason::RemoteStop);
        c.count_inbound_drop();
        assert_eq!(c.errors(ErrorKind::Tts), 2);
        assert_eq!(c.errors(ErrorKind::Stt), 0);
        assert_eq!(c.errors(ErrorKind::SendFailed), 1);
        assert_eq!(c.ended("send_failed"), 1);
        assert_eq!(c.ended("remote_stop"), 1);
        assert_eq!(c.ended("no such label"), 0);
        assert_eq!(c.inbound_dropped(), 1);
        assert_eq!(
            end_reason_label(&DisconnectReason::NotAnswered("busy".into())),
            "not_answered"
        );
    }
}
