//! A mock speech-to-text provider (B110–B112, W28).
//!
//! Two ways to produce transcripts, usable together:
//!
//! - **Inject**: [`MockSttHandle::inject`] queues a text that is committed as given, in order
//!   (no trimming, no echo handling: the session does that). The handle is cheap to clone and
//!   works from any thread, before [`start`](SttProvider::start) (texts wait and are delivered
//!   after it) and while running. The queue is bounded ([`MockSttHandle::CAPACITY`]); when it
//!   is full the new text is dropped with a warning.
//! - **Script**: given a [`Script`], the provider listens to the caller's real audio with a
//!   [`Vad`] and commits the next line at the end of each speech segment, so a simulated
//!   caller's audio drives the conversation. Such lines are *scripted, not recognised*:
//!   they are logged and recorded with [`CommitSource::Scripted`].
//!
//! Either way the provider reads and drains the inbound audio like a real one, and
//! [`stop`](SttProvider::stop) ends its task before returning.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vr_session::{AudioReceiver, SttError, SttEventSink, SttProvider};

use crate::script::Script;
use crate::vad::{Vad, VadConfig, VadEvent};

/// How long [`stop`](SttProvider::stop) waits for the provider's task.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// Committed lines remembered by the handle's history.
const HISTORY: usize = 256;

/// Where a committed line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitSource {
    /// Injected through [`MockSttHandle::inject`] (or the `/test/inject` route).
    Injected,
    /// The next line of a script, committed at the end of a speech segment: scripted, not
    /// recognised.
    Scripted,
}

impl CommitSource {
    /// A label for showing the line to a person: `"injected"` or `"scripted, not recognised"`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Injected => "injected",
            Self::Scripted => "scripted, not recognised",
        }
    }
}

/// One committed line, as remembered by [`MockSttHandle::history`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedLine {
    /// The text committed.
    pub text: String,
    /// Where it came from.
    pub source: CommitSource,
}

impl fmt::Display for CommittedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.source.label(), self.text)
    }
}

/// What happened to an injected text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectOutcome {
    /// Queued; it will be committed (after start, if not started yet).
    Queued,
    /// The queue was full; the text was dropped.
    Full,
    /// The provider has stopped; the text was dropped.
    Closed,
}

#[derive(Debug, Default)]
struct Shared {
    history: Mutex<VecDeque<CommittedLine>>,
}

impl Shared {
    fn history(&self) -> MutexGuard<'_, VecDeque<CommittedLine>> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, text: &str, source: CommitSource) {
        let mut h = self.history();
        if h.len() >= HISTORY {
            h.pop_front();
        }
        h.push_back(CommittedLine {
            text: text.to_owned(),
            source,
        });
    }
}

/// Injects texts into one [`MockStt`]. Cheap to clone; usable from any thread.
#[derive(Debug, Clone)]
pub struct MockSttHandle {
    tx: mpsc::Sender<String>,
    shared: Arc<Shared>,
}

impl MockSttHandle {
    /// Texts that may wait before new ones are dropped.
    pub const CAPACITY: usize = 64;

    /// Queues `text` to be committed as given. Never waits.
    pub fn inject(&self, text: impl Into<String>) -> InjectOutcome {
        match self.tx.try_send(text.into()) {
            Ok(()) => InjectOutcome::Queued,
            Err(mpsc::error::TrySendError::Full(text)) => {
                tracing::warn!(
                    capacity = Self::CAPACITY,
                    "mock stt inject queue full; dropping {text:?}"
                );
                InjectOutcome::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => InjectOutcome::Closed,
        }
    }

    /// Whether the provider has stopped (injects are dropped).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The most recent committed lines (up to 256), oldest first, with their source.
    pub fn history(&self) -> Vec<CommittedLine> {
        self.shared.history().iter().cloned().collect()
    }
}

enum Mode {
    Inject,
    Script { script: Script, vad: VadConfig },
}

/// The mock provider. See the module docs.
pub struct MockStt {
    mode: Mode,
    rx: Option<mpsc::Receiver<String>>,
    handle: MockSttHandle,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockStt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Inject => "inject".to_owned(),
            Mode::Script { script, .. } => format!("script ({} lines left)", script.remaining()),
        };
        f.debug_struct("MockStt")
            .field("mode", &mode)
            .field("running", &self.task.is_some())
            .finish()
    }
}

impl Default for MockStt {
    fn default() -> Self {
        Self::new()
    }
}

impl MockStt {
    /// A provider that commits only injected texts (and drains the audio it is given).
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(MockSttHandle::CAPACITY);
        Self {
            mode: Mode::Inject,
            rx: Some(rx),
            handle: MockSttHandle {
                tx,
                shared: Arc::default(),
            },
            cancel: CancellationToken::new(),
            task: None,
        }
    }

    /// A provider that commits the next script line at the end of each speech segment of
    /// the caller's audio (and injected texts too), with the default [`VadConfig`].
    pub fn with_script(script: Script) -> Self {
        Self::with_script_and_vad(script, VadConfig::default())
    }

    /// As [`with_script`](Self::with_script), with explicit detector settings.
    pub fn with_script_and_vad(script: Script, vad: VadConfig) -> Self {
        let mut stt = Self::new();
        stt.mode = Mode::Script { script, vad };
        stt
    }

    /// A provider and its inject handle.
    pub fn pair() -> (Self, MockSttHandle) {
        let stt = Self::new();
        let handle = stt.handle();
        (stt, handle)
    }

    /// A handle that injects into this provider.
    pub fn handle(&self) -> MockSttHandle {
        self.handle.clone()
    }
}

#[async_trait]
impl SttProvider for MockStt {
    fn name(&self) -> &str {
        "mock"
    }

    async fn start(&mut self, audio: AudioReceiver, events: SttEventSink) -> Result<(), SttError> {
        let Some(rx) = self.rx.take() else {
            return Err(SttError::Other("mock stt started twice".into()));
        };
        let script = match std::mem::replace(&mut self.mode, Mode::Inject) {
            Mode::Inject => None,
            Mode::Script { script, vad } => Some((script, Vad::new(vad))),
        };
        let task = Worker {
            rx,
            audio: Some(audio),
            events,
            script,
            shared: self.handle.shared.clone(),
            cancel: self.cancel.clone(),
        };
        self.task = Some(tokio::spawn(task.run()));
        Ok(())
    }

    async fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take()
            && tokio::time::timeout(STOP_TIMEOUT, task).await.is_err()
        {
            tracing::warn!("mock stt task did not stop in time");
        }
        // Drop the receiver if never started, so handles see `Closed`.
        self.rx = None;
    }
}

struct Worker {
    rx: mpsc::Receiver<String>,
    audio: Option<AudioReceiver>,
    events: SttEventSink,
    script: Option<(Script, Vad)>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

impl Worker {
    async fn run(mut self) {
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                text = self.rx.recv() => match text {
                    Some(text) => self.commit(text, CommitSource::Injected),
                    None => break,
                },
                frame = recv_audio(&mut self.audio) => match frame {
                    Some(frame) => self.on_audio(&frame),
                    None => self.audio = None,
                },
            }
        }
        self.rx.close();
    }

    fn on_audio(&mut self, frame: &[u8]) {
        let Some((script, vad)) = self.script.as_mut() else {
            return; // inject mode: drained and discarded
        };
        let event = vad.push(frame);
        if let Some(VadEvent::SpeechStart) = event {
            // Like a real recogniser's first hypothesis: lets bots barge in while the caller
            // is still talking. The text is the scripted line, not a recognition.
            if let Some(line) = script.peek() {
                tracing::debug!("mock stt: speech started; partial of the scripted line {line:?}");
                let _ = self.events.partial(line.to_owned());
            }
        }
        if let Some(VadEvent::SpeechEnd { voiced_frames }) = event {
            match script.next_line() {
                Some(line) => {
                    tracing::info!(
                        voiced_frames,
                        "mock stt: end of speech; committing scripted line (not recognised): {line:?}"
                    );
                    self.commit(line, CommitSource::Scripted);
                }
                None => tracing::info!("mock stt: end of speech, but the script is exhausted"),
            }
        }
    }

    fn commit(&self, text: String, source: CommitSource) {
        self.shared.record(&text, source);
        if !self.events.committed(text) {
            tracing::debug!("mock stt: session not listening; transcript dropped");
        }
    }
}

/// The next audio frame, or pending forever once the stream has ended.
async fn recv_audio(audio: &mut Option<AudioReceiver>) -> Option<bytes::Bytes> {
    match audio {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
