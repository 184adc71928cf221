//! The ElevenLabs provider: one websocket per call, driven by the shared runner.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, protocol::CloseFrame};
use tracing::{debug, error, info, warn};
use vr_session::{AudioReceiver, SttError, SttEventSink, SttProvider};

use super::config::{ElevenLabsSttBuilder, ElevenLabsSttConfig};
use super::protocol::{self, ErrorClass, ServerMessage};
use crate::ProviderStats;
use crate::runner::{self, Protocol, Settings, Step, Worker};
use crate::stats::Counters;
use crate::ws::{self, Dialer};

/// How long `stop()` waits for the task before aborting it.
const STOP_BOUND: Duration = Duration::from_secs(2);
/// Bound on the normal close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// ElevenLabs Scribe v2 realtime speech-to-text for one call.
///
/// μ-law 8 kHz frames go straight through as `input_audio_chunk` messages; partial and
/// committed transcripts come back as [`SttEvent`](vr_session::SttEvent)s. Reconnect policy,
/// audio holding and error classes: see the [crate docs](crate) and
/// [`protocol`](super::protocol).
#[derive(Debug)]
pub struct ElevenLabsStt {
    config: Arc<ElevenLabsSttConfig>,
    counters: Arc<Counters>,
    speaking_since: Mutex<Option<Instant>>,
    worker: Mutex<Option<Worker>>,
    dialer: Dialer,
}

impl ElevenLabsStt {
    /// A builder with the original's defaults (no environment read).
    pub fn builder() -> ElevenLabsSttBuilder {
        ElevenLabsSttBuilder::new()
    }

    /// A builder with the defaults overlaid with `ELEVENLABS_API_KEY`, `STT_MODEL_ID`,
    /// `STT_LANGUAGE_CODE` and `ELEVENLABS_BASE_URL`, read now.
    pub fn builder_from_env() -> ElevenLabsSttBuilder {
        ElevenLabsSttBuilder::from_env()
    }

    /// The provider configured from the environment alone.
    ///
    /// # Errors
    /// [`SttError::Config`] when `ELEVENLABS_API_KEY` is missing or a value is unusable.
    pub fn from_env() -> Result<Self, SttError> {
        ElevenLabsSttBuilder::from_env().build()
    }

    pub(crate) fn with_config(config: ElevenLabsSttConfig) -> Self {
        Self {
            config: Arc::new(config),
            counters: Arc::new(Counters::default()),
            speaking_since: Mutex::new(None),
            worker: Mutex::new(None),
            dialer: Dialer::Network,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_dialer(mut self, dialer: Dialer) -> Self {
        self.dialer = dialer;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &ElevenLabsSttConfig {
        &self.config
    }

    /// Counters: running tasks, connections, reconnects, frames sent and dropped.
    pub fn stats(&self) -> ProviderStats {
        self.counters.snapshot()
    }

    fn settings(&self) -> Settings {
        Settings {
            connect_timeout: self.config.connect_timeout,
            send_timeout: self.config.send_timeout,
            close_timeout: CLOSE_TIMEOUT,
            backoff: self.config.backoff,
            feed: self.config.feed,
        }
    }

    fn worker(&self) -> std::sync::MutexGuard<'_, Option<Worker>> {
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether speaking for `spoken` calls for a reconnect: strictly longer than `threshold`
/// (B56: 10.0 s exactly does not).
pub(crate) fn speaking_needs_refresh(spoken: Duration, threshold: Option<Duration>) -> bool {
    threshold.is_some_and(|t| spoken > t)
}

#[async_trait]
impl SttProvider for ElevenLabsStt {
    fn name(&self) -> &str {
        "elevenlabs"
    }

    async fn start(&mut self, audio: AudioReceiver, events: SttEventSink) -> Result<(), SttError> {
        if self.worker().is_some() {
            return Err(SttError::Other("elevenlabs stt already started".into()));
        }
        let protocol = ElevenLabsProtocol {
            config: self.config.clone(),
        };
        let worker = runner::start(
            "elevenlabs",
            protocol,
            self.settings(),
            audio,
            events,
            self.dialer.clone(),
            self.counters.clone(),
        )
        .await?;
        *self.worker() = Some(worker);
        Ok(())
    }

    fn set_speaking(&self, speaking: bool) {
        let mut since = self
            .speaking_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if speaking {
            if since.is_none() {
                *since = Some(Instant::now());
            }
            return;
        }
        let Some(started) = since.take() else {
            return;
        };
        drop(since);
        let spoken = started.elapsed();
        if speaking_needs_refresh(spoken, self.config.reconnect_after_speaking) {
            if let Some(worker) = self.worker().as_ref() {
                info!(
                    spoken_ms = u64::try_from(spoken.as_millis()).unwrap_or(u64::MAX),
                    "bot spoke for a long time: refreshing the stt connection"
                );
                worker.refresh();
            }
        }
    }

    async fn stop(&mut self) {
        let worker = self.worker().take();
        if let Some(worker) = worker {
            worker.stop(STOP_BOUND).await;
        }
        *self
            .speaking_since
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The ElevenLabs half of a connection.
struct ElevenLabsProtocol {
    config: Arc<ElevenLabsSttConfig>,
}

impl Protocol for ElevenLabsProtocol {
    fn request(&mut self) -> Result<http::Request<()>, String> {
        let url = self.config.realtime_url().map_err(|e| e.to_string())?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad realtime URL: {e}"))?;
        request
            .headers_mut()
            .insert("xi-api-key", ws::secret_header(&self.config.api_key)?);
        Ok(request)
    }

    fn opening(&mut self) -> Vec<Message> {
        Vec::new()
    }

    fn audio(&mut self, frame: &[u8]) -> Vec<Message> {
        vec![Message::text(protocol::audio_chunk(frame))]
    }

    fn end_of_audio(&mut self) -> Vec<Message> {
        vec![Message::text(protocol::commit_chunk())]
    }

    fn on_text(&mut self, text: &str, sink: &SttEventSink, _audio_finished: bool) -> Step {
        match protocol::parse_server_message(text) {
            ServerMessage::SessionStarted { session_id } => {
                info!(
                    session_id = session_id.as_deref().unwrap_or(""),
                    "scribe session started"
                );
            }
            ServerMessage::Partial(text) => {
                let text = text.trim();
                if !text.is_empty() {
                    sink.partial(text);
                }
            }
            ServerMessage::Committed(text) => {
                let text = text.trim();
                if !text.is_empty() {
                    sink.committed(text);
                }
            }
            ServerMessage::CommittedWithTimestamps {
                text,
                language_code,
                words,
            } => {
                // Sent in addition to `committed_transcript` for the same commit: not reported
                // again. The event type has no room for word timings.
                debug!(%text, ?language_code, words, "committed transcript with timestamps");
            }
            ServerMessage::Error {
                message_type,
                message,
                class,
            } => {
                let name = protocol::canonical_error_name(&message_type).to_owned();
                // The service may echo the key it refused; its text is logged.
                let message = ws::redact(&message, &self.config.api_key);
                return match class {
                    ErrorClass::Reconnect => Step::Reconnect(format!("{name}: {message}")),
                    ErrorClass::Terminal => {
                        warn!(error = %name, %message, "scribe terminal error");
                        Step::Terminal(name)
                    }
                    ErrorClass::Warning => {
                        warn!(error = %name, %message, "scribe warning");
                        Step::Continue
                    }
                    ErrorClass::TimeLimit => {
                        error!(%message, "scribe session time limit exceeded; feeding stops");
                        Step::Terminal(name)
                    }
                };
            }
            ServerMessage::Other(kind) => debug!(%kind, "ignoring scribe message"),
            ServerMessage::Invalid => warn!(len = text.len(), "unparseable scribe message"),
        }
        Step::Continue
    }

    fn on_close(&mut self, frame: Option<&CloseFrame>) -> Step {
        // Close codes are not documented for Scribe; the error message that precedes a close
        // has already been handled. A close on its own is a dropped connection.
        match frame {
            Some(f) => Step::Reconnect(format!(
                "closed by the service ({} {})",
                u16::from(f.code),
                ws::redact(f.reason.as_str(), &self.config.api_key)
            )),
            None => Step::Reconnect("socket dropped".into()),
        }
    }
}
