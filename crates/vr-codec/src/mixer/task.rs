//! The running mixer: a tokio task ticking every 20 ms, a sink thread, and the handle.
//!
//! The tick task never blocks: each tick's [`MixedFrame`] goes through a bounded queue to
//! one thread that owns the sinks. A slow disk or a stalled monitor therefore never delays
//! the tick schedule or the runtime's other tasks, and the sinks have exactly one writer,
//! which is also the only party that finishes them (W30).

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::core::{MixedFrame, MixerConfig, MixerCore, MixerStats};
use super::pacer::{Pacer, PacerAction};
use super::sink::{MixerSink, SinkFanout};

/// How long shutdown waits for the tick task to stop (B19).
const STOP_WAIT: Duration = Duration::from_secs(2);
/// How long shutdown waits for the sinks to drain and finish (an `ffplay` monitor alone may
/// take 3.5 s: close, 2 s after SIGTERM, 1 s after kill).
const FINISH_WAIT: Duration = Duration::from_secs(10);
/// Frames queued for the sink thread (5 s); later frames are dropped while it is full.
const SINK_QUEUE_FRAMES: usize = 250;

/// Errors starting a mixer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MixerError {
    /// [`Mixer::start`] was called outside a tokio runtime.
    #[error("the mixer must be started inside a tokio runtime")]
    NoRuntime,
    /// The sink thread could not be started.
    #[error("could not start the mixer's sink thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Starts real-time mixers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mixer;

impl Mixer {
    /// Starts a mixer with the default limits (caller 8 s, agent 60 s) feeding `sinks`.
    /// A mixer with no sinks is valid (it just paces the FIFOs).
    ///
    /// # Errors
    /// [`MixerError::NoRuntime`] outside a tokio runtime; [`MixerError::Thread`] when the
    /// sink thread cannot be spawned.
    pub fn start(sinks: Vec<Box<dyn MixerSink>>) -> Result<MixerHandle, MixerError> {
        Self::start_with_config(MixerConfig::default(), sinks)
    }

    /// Starts a mixer with explicit FIFO limits.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with_config(
        config: MixerConfig,
        sinks: Vec<Box<dyn MixerSink>>,
    ) -> Result<MixerHandle, MixerError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MixerError::NoRuntime)?;
        let (frames_tx, frames_rx) = mpsc::sync_channel::<MixedFrame>(SINK_QUEUE_FRAMES);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let fanout = SinkFanout::new(sinks);
        std::thread::Builder::new()
            .name("vr-mixer-sinks".into())
            .spawn(move || sink_thread(fanout, frames_rx, done_tx))?;
        let core = Arc::new(Mutex::new(MixerCore::new(config)));
        let (stop, stop_rx) = watch::channel(false);
        let task = runtime.spawn(tick_task(Arc::clone(&core), stop_rx, frames_tx));
        Ok(MixerHandle {
            inner: Arc::new(Inner {
                core,
                stop,
                task: Mutex::new(Some((task, done_rx))),
            }),
        })
    }
}

type Running = (JoinHandle<()>, Receiver<()>);

#[derive(Debug)]
struct Inner {
    core: Arc<Mutex<MixerCore>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<Running>>,
}

/// A handle to a running mixer: cheap to clone, usable from any thread.
///
/// Dropping every handle without [`shutdown`](Self::shutdown) also stops the mixer; its
/// sinks are then finished on the sink thread.
#[derive(Debug, Clone)]
pub struct MixerHandle {
    inner: Arc<Inner>,
}

impl MixerHandle {
    /// Queues caller audio (μ-law; split into frames, the last padded, B11).
    pub fn write_caller(&self, mulaw: &[u8]) {
        lock(&self.inner.core).write_caller(mulaw);
    }

    /// Queues agent audio (μ-law; split into frames, the last padded, B11).
    pub fn write_agent(&self, mulaw: &[u8]) {
        lock(&self.inner.core).write_agent(mulaw);
    }

    /// Discards queued agent audio after a clear; returns the frames discarded.
    pub fn clear_agent(&self) -> usize {
        lock(&self.inner.core).clear_agent()
    }

    /// Counters and queue depths.
    pub fn stats(&self) -> MixerStats {
        lock(&self.inner.core).stats()
    }

    /// Stops the mixer in the original's order (B19): stop the tick task and wait up to
    /// 2 s for it; then the sink thread writes the frames already queued and finishes every
    /// sink (the WAV header is finalised; `ffplay`'s input is closed, then it is terminated,
    /// waited for up to 2 s, killed and waited for up to 1 s). This waits up to 10 s for
    /// that. Sinks are finished only after the last tick was written, by the one thread that
    /// writes them. Calling this on a second clone returns at once.
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let Some((task, done)) = lock(&self.inner.task).take() else {
            return;
        };
        match tokio::time::timeout(STOP_WAIT, task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "mixer tick task ended abnormally"),
            Err(_) => tracing::warn!("mixer tick task did not stop within 2 s"),
        }
        // Waited for on a blocking thread in real time: the sink thread is not a tokio task,
        // so a paused or busy runtime clock must not cut this wait short.
        let finished = tokio::task::spawn_blocking(move || done.recv_timeout(FINISH_WAIT)).await;
        if let Ok(Err(RecvTimeoutError::Timeout)) = finished {
            tracing::warn!("mixer sinks did not finish within 10 s; they finish in the background");
        }
    }
}

async fn tick_task(
    core: Arc<Mutex<MixerCore>>,
    mut stop: watch::Receiver<bool>,
    frames: SyncSender<MixedFrame>,
) {
    let mut pacer = Pacer::new(now());
    let mut dropped: u64 = 0;
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        match pacer.poll(now()) {
            PacerAction::Wait(delay) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    // A stop, or every handle dropped: either way, stop.
                    _ = stop.changed() => break,
                }
            }
            PacerAction::Tick => {
                let frame = lock(&core).tick();
                match frames.try_send(frame) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        dropped += 1;
                        if dropped == 1 {
                            tracing::warn!("mixer sinks are behind by 5 s; dropping frames");
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        tracing::warn!("mixer sink thread is gone; stopping the mixer");
                        break;
                    }
                }
            }
        }
    }
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "mixer frames dropped because the sinks fell behind"
        );
    }
    // Dropping `frames` here tells the sink thread to drain and finish.
}

fn sink_thread(mut sinks: SinkFanout, frames: Receiver<MixedFrame>, done: Sender<()>) {
    for frame in frames {
        sinks.write(&frame);
    }
    sinks.finish();
    // Nobody may be waiting (every handle dropped); that is fine.
    let _ = done.send(());
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Locks, recovering from poisoning: the FIFOs hold plain frames that stay valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
