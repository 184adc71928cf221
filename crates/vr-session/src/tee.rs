//! Two recognisers on one call: the primary drives the bot, the secondary is for logging and
//! comparison. A failing or slow secondary never affects the primary.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::events::SttSource;
use crate::hooks::guarded;
use crate::inbound::{AudioReceiver, PushOutcome, audio_channel};
use crate::stt::{SttError, SttEventSink, SttProvider};

/// Bound on stopping either provider.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Fans one call's audio out to two providers (B71–B77). Events from the secondary are tagged
/// [`SttSource::Secondary`]. Each side has its own drop-oldest queue, so a stalled secondary
/// only loses its own frames (counted, warned at drop 1, 501, 1001, …: B75).
pub struct SttTee {
    primary: Box<dyn SttProvider>,
    secondary: Arc<Mutex<Box<dyn SttProvider>>>,
    secondary_start: Option<JoinHandle<()>>,
    fanout: Option<JoinHandle<u64>>,
    queue_frames: usize,
}

impl std::fmt::Debug for SttTee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SttTee")
            .field("primary", &self.primary.name())
            .finish_non_exhaustive()
    }
}

impl SttTee {
    /// Wraps a primary and a secondary provider.
    pub fn new(primary: Box<dyn SttProvider>, secondary: Box<dyn SttProvider>) -> Self {
        Self {
            primary,
            secondary: Arc::new(Mutex::new(secondary)),
            secondary_start: None,
            fanout: None,
            queue_frames: crate::inbound::DEFAULT_INBOUND_FRAMES,
        }
    }

    /// The primary provider.
    pub fn primary(&self) -> &dyn SttProvider {
        self.primary.as_ref()
    }
}

#[async_trait]
impl SttProvider for SttTee {
    fn name(&self) -> &str {
        "tee"
    }

    async fn start(
        &mut self,
        mut audio: AudioReceiver,
        events: SttEventSink,
    ) -> Result<(), SttError> {
        let (primary_tx, primary_rx) = audio_channel(self.queue_frames);
        let (secondary_tx, secondary_rx) = audio_channel(self.queue_frames);
        // Fan out first, so neither side misses audio while the other connects.
        self.fanout = Some(tokio::spawn(async move {
            let mut dropped = 0u64;
            while let Some(frame) = audio.recv().await {
                primary_tx.push(frame.clone());
                if secondary_tx.push(frame) == PushOutcome::DroppedOldest {
                    dropped += 1;
                    if dropped % 500 == 1 {
                        tracing::warn!("Secondary STT queue overflow: {dropped} frames dropped");
                    }
                }
            }
            primary_tx.close();
            secondary_tx.close();
            dropped
        }));
        if let Err(e) = self.primary.start(primary_rx, events.clone()).await {
            if let Some(f) = self.fanout.take() {
                f.abort();
            }
            return Err(e);
        }
        let secondary = self.secondary.clone();
        let sink = events.with_source(SttSource::Secondary);
        self.secondary_start = Some(tokio::spawn(async move {
            let mut provider = secondary.lock().await;
            if let Err(e) = provider.start(secondary_rx, sink.clone()).await {
                tracing::warn!(error = %e, "secondary STT failed to start");
                sink.error(e.to_string());
            }
        }));
        Ok(())
    }

    fn set_speaking(&self, speaking: bool) {
        self.primary.set_speaking(speaking);
        // A busy secondary (still starting) simply misses the hint.
        if let Ok(secondary) = self.secondary.try_lock() {
            guarded("secondary set_speaking", || {
                secondary.set_speaking(speaking)
            });
        }
    }

    async fn stop(&mut self) {
        if let Some(start) = self.secondary_start.take() {
            start.abort();
            let _ = start.await;
        }
        let dropped = match self.fanout.take() {
            Some(f) => {
                f.abort();
                f.await.unwrap_or(0)
            }
            None => 0,
        };
        if tokio::time::timeout(STOP_TIMEOUT, self.primary.stop())
            .await
            .is_err()
        {
            tracing::warn!("primary STT stop timed out");
        }
        let secondary = self.secondary.clone();
        let stop_secondary = async move { secondary.lock().await.stop().await };
        if tokio::time::timeout(STOP_TIMEOUT, stop_secondary)
            .await
            .is_err()
        {
            tracing::warn!("secondary STT stop timed out");
        }
        if dropped > 0 {
            tracing::info!(dropped, "secondary STT dropped frames over the call");
        }
    }
}
