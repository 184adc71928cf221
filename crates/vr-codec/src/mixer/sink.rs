//! The sink trait, its error, and the fan-out that isolates failing sinks.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::core::MixedFrame;
use crate::WavError;

/// Errors from mixer sinks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// `ffplay` is not on `PATH` (the original's message, B13).
    #[error(
        "ffplay not found — install ffmpeg to use AudioMixer: https://ffmpeg.org/download.html"
    )]
    FfplayNotFound,
    /// A monitor process could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The pipe to a monitor process broke (the process exited or closed its input).
    #[error("{0} pipe broken")]
    BrokenPipe(String),
    /// An I/O error.
    #[error("sink I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A recording error.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// An error from a user-written sink.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// A destination for mixed frames: a recorder, a monitor, a metrics tap, a test probe.
///
/// [`write`](Self::write) is called once per 20 ms tick on the mixer's task and must not
/// block for long (hand slow work to a thread of your own). An error disables this sink
/// only. [`finish`](Self::finish) is called exactly once at shutdown (also after a failure),
/// never while a `write` can still run.
pub trait MixerSink: Send {
    /// Takes one tick's frames.
    ///
    /// # Errors
    /// Any error; the sink is then disabled and gets no more frames.
    fn write(&mut self, frame: &MixedFrame) -> Result<(), SinkError>;

    /// Flushes and releases resources (finalises a WAV header, stops a process).
    ///
    /// # Errors
    /// Any error; it is logged.
    fn finish(&mut self) -> Result<(), SinkError>;

    /// A short name for logs.
    fn name(&self) -> &str;
}

impl SinkError {
    /// Wraps any error from a user-written sink.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(error.into())
    }
}

impl std::fmt::Debug for dyn MixerSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixerSink")
            .field("name", &self.name())
            .finish()
    }
}

#[derive(Debug)]
struct Slot {
    sink: Box<dyn MixerSink>,
    enabled: bool,
}

/// Sends each frame to several sinks; a sink that fails is disabled with one warning and
/// the others keep receiving frames (B17, B18).
#[derive(Debug, Default)]
pub struct SinkFanout {
    slots: Vec<Slot>,
}

impl SinkFanout {
    /// A fan-out over `sinks`, all enabled.
    pub fn new(sinks: Vec<Box<dyn MixerSink>>) -> Self {
        Self {
            slots: sinks
                .into_iter()
                .map(|sink| Slot {
                    sink,
                    enabled: true,
                })
                .collect(),
        }
    }

    /// Writes `frame` to every enabled sink, disabling those that fail.
    /// A sink that panics counts as failed.
    pub fn write(&mut self, frame: &MixedFrame) {
        for slot in self.slots.iter_mut().filter(|s| s.enabled) {
            let sink = &mut slot.sink;
            let result = catch_unwind(AssertUnwindSafe(|| sink.write(frame)));
            let error = match result {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the sink panicked".to_owned(),
            };
            slot.enabled = false;
            tracing::warn!(
                sink = slot.sink.name(),
                %error,
                "mixer sink failed; disabled, the other sinks continue"
            );
        }
    }

    /// Finishes every sink, enabled or not (a failed recorder still gets its header
    /// finalised, a failed monitor is still reaped), logging errors.
    pub fn finish(&mut self) {
        for slot in &mut self.slots {
            let sink = &mut slot.sink;
            let error = match catch_unwind(AssertUnwindSafe(|| sink.finish())) {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the sink panicked".to_owned(),
            };
            tracing::warn!(sink = slot.sink.name(), %error, "mixer sink failed to finish");
        }
    }

    /// Names of the sinks still enabled.
    pub fn enabled(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.sink.name())
            .collect()
    }

    /// Number of sinks, enabled or not.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no sinks.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
