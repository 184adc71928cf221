//! The registry of live calls in one process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::Notify;

use crate::events::DisconnectReason;
use crate::session::VoiceSession;

/// Live calls keyed by call SID and by stream SID, plus sessions waiting for an outbound call
/// to be answered (keyed by call SID or by a route token registered before dialling, so a fast
/// `start` cannot race the registration: B166).
#[derive(Debug, Default)]
pub struct CallRegistry {
    live: DashMap<String, VoiceSession>,
    call_to_stream: DashMap<String, String>,
    pending_calls: DashMap<String, VoiceSession>,
    pending_routes: DashMap<String, VoiceSession>,
    closed: AtomicBool,
    changed: Notify,
}

/// What [`CallRegistry::shutdown`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Calls live when shutdown began.
    pub live_at_start: usize,
    /// Calls that had to be ended forcibly after the deadline.
    pub forced: usize,
}

/// Removes a live call from the registry when dropped (even if its task is cancelled).
#[derive(Debug)]
pub struct LiveGuard {
    registry: Arc<CallRegistry>,
    stream_sid: String,
    call_sid: Option<String>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.registry.live.remove(&self.stream_sid);
        if let Some(call_sid) = &self.call_sid {
            self.registry
                .call_to_stream
                .remove_if(call_sid, |_, s| *s == self.stream_sid);
        }
        self.registry.changed.notify_waiters();
    }
}

impl CallRegistry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers a session for an outbound call that has not connected yet.
    pub fn register_pending(&self, call_sid: &str, session: VoiceSession) {
        self.pending_calls.insert(call_sid.to_owned(), session);
    }

    /// Registers a session under a route token (the `/voice/{token}` path) before dialling.
    pub fn register_route(&self, token: &str, session: VoiceSession) {
        self.pending_routes.insert(token.to_owned(), session);
    }

    /// Forgets a pending session (the call was never answered).
    pub fn cancel_pending(&self, call_sid: Option<&str>, route: Option<&str>) {
        if let Some(sid) = call_sid {
            self.pending_calls.remove(sid);
        }
        if let Some(token) = route {
            self.pending_routes.remove(token);
        }
    }

    /// Takes the pending session for a stream that just started: by route token first, then
    /// by call SID.
    pub fn take_pending(
        &self,
        call_sid: Option<&str>,
        route: Option<&str>,
    ) -> Option<VoiceSession> {
        if let Some(token) = route
            && let Some((_, s)) = self.pending_routes.remove(token)
        {
            if let Some(sid) = call_sid {
                self.pending_calls.remove(sid);
            }
            return Some(s);
        }
        call_sid.and_then(|sid| self.pending_calls.remove(sid).map(|(_, s)| s))
    }

    /// The pending session for an outbound call, without taking it.
    pub fn pending_by_call_sid(&self, call_sid: &str) -> Option<VoiceSession> {
        self.pending_calls.get(call_sid).map(|s| s.clone())
    }

    /// Whether a route token is registered.
    pub fn has_route(&self, token: &str) -> bool {
        self.pending_routes.contains_key(token)
    }

    /// Records a live call; it stays until the returned guard is dropped. Refused once the
    /// registry is shutting down.
    pub fn insert_live(
        self: &Arc<Self>,
        stream_sid: &str,
        call_sid: Option<&str>,
        session: VoiceSession,
    ) -> Option<LiveGuard> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        self.live.insert(stream_sid.to_owned(), session);
        if let Some(sid) = call_sid {
            self.call_to_stream
                .insert(sid.to_owned(), stream_sid.to_owned());
        }
        self.changed.notify_waiters();
        Some(LiveGuard {
            registry: self.clone(),
            stream_sid: stream_sid.to_owned(),
            call_sid: call_sid.map(str::to_owned),
        })
    }

    /// The live session with this call SID.
    pub fn by_call_sid(&self, call_sid: &str) -> Option<VoiceSession> {
        let stream = self.call_to_stream.get(call_sid)?.clone();
        self.by_stream_sid(&stream)
    }

    /// The live session with this stream SID.
    pub fn by_stream_sid(&self, stream_sid: &str) -> Option<VoiceSession> {
        self.live.get(stream_sid).map(|s| s.clone())
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no call is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Stream SIDs of the live calls.
    pub fn stream_sids(&self) -> Vec<String> {
        self.live.iter().map(|e| e.key().clone()).collect()
    }

    /// Whether new calls are still accepted.
    pub fn is_accepting(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// Stops accepting calls, asks every live call to hang up, waits up to `deadline` for
    /// them to end, then ends the rest from the session side.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.closed.store(true, Ordering::Release);
        let live_at_start = self.live.len();
        for entry in self.live.iter() {
            entry.value().hangup();
        }
        let drained = tokio::time::timeout(deadline, self.wait_empty())
            .await
            .is_ok();
        let mut forced = 0;
        if !drained {
            let sessions: Vec<VoiceSession> = self.live.iter().map(|e| e.value().clone()).collect();
            for session in sessions {
                forced += 1;
                session.end_call(DisconnectReason::Shutdown);
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), self.wait_empty()).await;
        }
        ShutdownReport {
            live_at_start,
            forced,
        }
    }

    /// Waits until no call is live.
    pub async fn wait_empty(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.live.is_empty() {
                return;
            }
            changed.await;
        }
    }
}
