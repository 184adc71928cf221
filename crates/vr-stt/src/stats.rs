//! Counters a provider exposes for monitoring and tests.

#![cfg_attr(not(any(feature = "elevenlabs", feature = "azure")), allow(dead_code))]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a provider's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderStats {
    /// Tasks the provider has running right now (0 before `start` and after `stop`).
    pub running_tasks: usize,
    /// Websocket connections opened (the first one included).
    pub connections: u64,
    /// Successful reconnects.
    pub reconnects: u64,
    /// Audio frames sent to the service.
    pub frames_sent: u64,
    /// Audio frames dropped because the holding buffer overflowed.
    pub frames_dropped: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) running_tasks: AtomicUsize,
    pub(crate) connections: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) frames_sent: AtomicU64,
    pub(crate) frames_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ProviderStats {
        ProviderStats {
            running_tasks: self.running_tasks.load(Ordering::SeqCst),
            connections: self.connections.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            frames_dropped: self.frames_dropped.load(Ordering::Relaxed),
        }
    }
}

/// Counts one running task from its creation until it is dropped (finished or aborted).
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<Counters>);

impl TaskGuard {
    /// Counts a task now, before it is spawned, so the count is right as soon as `start`
    /// returns.
    pub(crate) fn new(counters: Arc<Counters>) -> Self {
        counters.running_tasks.fetch_add(1, Ordering::SeqCst);
        Self(counters)
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.running_tasks.fetch_sub(1, Ordering::SeqCst);
    }
}
