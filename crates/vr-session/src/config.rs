//! What a session needs to run a call: factories, callbacks and queue sizes.

use std::sync::Arc;
use std::time::Duration;

use crate::counters::ServerCounters;
use crate::hooks::Hooks;
use crate::inbound::DEFAULT_INBOUND_FRAMES;
use crate::latency::TurnLatency;
use crate::stt::SttFactory;

/// Default outbound queue: one second of 20 ms frames before producers wait.
pub const DEFAULT_OUTBOUND_FRAMES: usize = 50;
/// Default bot event buffer before a slow reader starts skipping. Its slots are allocated
/// with the call (about 200 bytes each), so it is kept small: a bot reads events as they come.
pub const DEFAULT_EVENT_CAPACITY: usize = 64;
/// How long stopping a speech-to-text provider may take before it is abandoned.
pub const STT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Per-session settings; every call made on the session uses a snapshot of them.
#[derive(Clone)]
pub struct SessionConfig {
    /// Builds the primary speech-to-text provider when a call connects.
    pub stt_factory: Option<SttFactory>,
    /// Builds a secondary provider run beside the primary in a tee.
    pub stt_secondary_factory: Option<SttFactory>,
    /// Callbacks.
    pub hooks: Hooks,
    /// Inbound queue size in frames (drop-oldest beyond it).
    pub inbound_frames: usize,
    /// Outbound queue size in audio messages (producers wait beyond it).
    pub outbound_frames: usize,
    /// Bot event buffer (a slow reader skips the oldest beyond it and is told how many).
    pub event_capacity: usize,
    /// Bound on stopping the speech-to-text provider.
    pub stt_stop_timeout: Duration,
    /// Server-wide histograms this call's turn latencies are recorded into.
    pub latency: Option<Arc<TurnLatency>>,
    /// Server-wide counters this call's drops, errors and end are counted in.
    pub counters: Option<Arc<ServerCounters>>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            stt_factory: None,
            stt_secondary_factory: None,
            hooks: Hooks::default(),
            inbound_frames: DEFAULT_INBOUND_FRAMES,
            outbound_frames: DEFAULT_OUTBOUND_FRAMES,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            stt_stop_timeout: STT_STOP_TIMEOUT,
            latency: None,
            counters: None,
        }
    }
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("stt_factory", &self.stt_factory.is_some())
            .field(
                "stt_secondary_factory",
                &self.stt_secondary_factory.is_some(),
            )
            .field("hooks", &self.hooks)
            .field("inbound_frames", &self.inbound_frames)
            .field("outbound_frames", &self.outbound_frames)
            .field("event_capacity", &self.event_capacity)
            .field("latency", &self.latency.is_some())
            .field("counters", &self.counters.is_some())
            .finish()
    }
}
