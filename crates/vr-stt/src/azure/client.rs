//! The Azure provider: continuous recognition over one websocket per call, driven by the
//! shared runner (so it never blocks the runtime, W23, and its feed survives reconnects, W24).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, protocol::CloseFrame};
use tracing::{debug, warn};
use vr_codec::{Resampler, mulaw};
use vr_session::{AudioReceiver, SttError, SttEventSink, SttProvider};

use super::config::{AzureSttBuilder, AzureSttConfig};
use super::protocol::{self, CloseClass, ServiceEvent, TextFrame};
use crate::runner::{self, Protocol, Settings, Step, Worker};
use crate::stats::Counters;
use crate::ws::{self, Dialer};
use crate::{AUTH_ERROR, ProviderStats};

/// How long `stop()` waits for the task before aborting it.
const STOP_BOUND: Duration = Duration::from_secs(2);
/// Bound on the normal close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The call's audio rate.
const CALL_RATE: u32 = 8000;

/// Azure Speech continuous recognition for one call, over the service's websocket protocol.
///
/// Each μ-law 8 kHz frame is decoded and resampled (vr-codec) to 16-bit PCM at 16 kHz and
/// sent as a binary `audio` message; `speech.hypothesis`/`speech.fragment` become partials
/// and successful `speech.phrase`s become committed transcripts. Reconnect policy and audio
/// holding: see the [crate docs](crate).
#[derive(Debug)]
pub struct AzureStt {
    config: Arc<AzureSttConfig>,
    counters: Arc<Counters>,
    worker: Mutex<Option<Worker>>,
    dialer: Dialer,
}

impl AzureStt {
    /// A builder with the original's defaults (no environment read).
    pub fn builder() -> AzureSttBuilder {
        AzureSttBuilder::new()
    }

    /// A builder with the defaults overlaid with `AZURE_SPEECH_KEY`, `AZURE_SPEECH_REGION` and
    /// `AZURE_SPEECH_ENDPOINT`, read now.
    pub fn builder_from_env() -> AzureSttBuilder {
        AzureSttBuilder::from_env()
    }

    /// The provider configured from the environment alone.
    ///
    /// # Errors
    /// [`SttError::Config`] when `AZURE_SPEECH_KEY` is missing or a value is unusable.
    pub fn from_env() -> Result<Self, SttError> {
        AzureSttBuilder::from_env().build()
    }

    pub(crate) fn with_config(config: AzureSttConfig) -> Result<Self, SttError> {
        // Fail at construction, not at start, if the resampler cannot be made.
        Resampler::new(CALL_RATE, protocol::SAMPLE_RATE)
            .map_err(|e| SttError::Config(e.to_string()))?;
        Ok(Self {
            config: Arc::new(config),
            counters: Arc::new(Counters::default()),
            worker: Mutex::new(None),
            dialer: Dialer::Network,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AzureSttConfig {
        &self.config
    }

    /// Counters: running tasks, connections, reconnects, frames sent and dropped.
    pub fn stats(&self) -> ProviderStats {
        self.counters.snapshot()
    }

    fn worker(&self) -> std::sync::MutexGuard<'_, Option<Worker>> {
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SttProvider for AzureStt {
    fn name(&self) -> &str {
        "azure"
    }

    async fn start(&mut self, audio: AudioReceiver, events: SttEventSink) -> Result<(), SttError> {
        if self.worker().is_some() {
            return Err(SttError::Other("azure stt already started".into()));
        }
        let protocol = AzureProtocol::new(self.config.clone())?;
        let settings = Settings {
            connect_timeout: self.config.connect_timeout,
            send_timeout: self.config.send_timeout,
            close_timeout: CLOSE_TIMEOUT,
            backoff: self.config.backoff,
            feed: self.config.feed,
        };
        let worker = runner::start(
            "azure",
            protocol,
            settings,
            audio,
            events,
            self.dialer.clone(),
            self.counters.clone(),
        )
        .await?;
        *self.worker() = Some(worker);
        Ok(())
    }

    // set_speaking: the default no-op. Azure never reconnects because of speaking (B68);
    // echo handling is the session's.

    async fn stop(&mut self) {
        let worker = self.worker().take();
        if let Some(worker) = worker {
            worker.stop(STOP_BOUND).await;
        }
    }
}

/// The Azure half of a connection: turn bookkeeping and the audio conversion.
struct AzureProtocol {
    config: Arc<AzureSttConfig>,
    request_id: String,
    resampler: Resampler,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
}

impl AzureProtocol {
    fn new(config: Arc<AzureSttConfig>) -> Result<Self, SttError> {
        let resampler = Resampler::new(CALL_RATE, protocol::SAMPLE_RATE)
            .map_err(|e| SttError::Config(e.to_string()))?;
        Ok(Self {
            config,
            request_id: protocol::new_id(),
            resampler,
            pcm: Vec::with_capacity(160),
            resampled: Vec::with_capacity(400),
        })
    }

    /// `speech.context` and the WAV-header `audio` message that open the current turn.
    fn turn_messages(&self) -> Vec<Message> {
        let now = protocol::timestamp_now();
        let header = protocol::wav_header_pcm16(protocol::SAMPLE_RATE);
        vec![
            Message::text(protocol::text_message(
                "speech.context",
                &self.request_id,
                &now,
                "{}",
            )),
            Message::binary(protocol::audio_message(
                &self.request_id,
                &now,
                Some("audio/x-wav"),
                &header,
            )),
        ]
    }

    fn pcm_message(&mut self) -> Option<Message> {
        if self.resampled.is_empty() {
            // An empty body would end the stream.
            return None;
        }
        let mut body = Vec::with_capacity(self.resampled.len() * 2);
        for s in self.resampled.drain(..) {
            body.extend_from_slice(&s.to_le_bytes());
        }
        Some(Message::binary(protocol::audio_message(
            &self.request_id,
            &protocol::timestamp_now(),
            None,
            &body,
        )))
    }
}

impl Protocol for AzureProtocol {
    fn request(&mut self) -> Result<http::Request<()>, String> {
        let url = self.config.recognition_url().map_err(|e| e.to_string())?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad recognition URL: {e}"))?;
        let headers = request.headers_mut();
        headers.insert(
            "Ocp-Apim-Subscription-Key",
            ws::secret_header(&self.config.key)?,
        );
        let connection_id = http::HeaderValue::from_str(&protocol::new_id())
            .map_err(|e| format!("connection id: {e}"))?;
        headers.insert("X-ConnectionId", connection_id);
        Ok(request)
    }

    fn opening(&mut self) -> Vec<Message> {
        // A new connection is a new audio stream (its own WAV header).
        self.resampler.reset();
        self.resampled.clear();
        self.request_id = protocol::new_id();
        let config = serde_json::json!({
            "context": {
                "system": {
                    "name": "voice-runtime",
                    "version": env!("CARGO_PKG_VERSION"),
                    "build": "Rust",
                    "lang": "Rust"
                }
            }
        });
        // speech.config carries the first turn's id, as the JS SDK does.
        let mut messages = vec![Message::text(protocol::text_message(
            "speech.config",
            &self.request_id,
            &protocol::timestamp_now(),
            &config.to_string(),
        ))];
        messages.extend(self.turn_messages());
        messages
    }

    fn audio(&mut self, frame: &[u8]) -> Vec<Message> {
        self.pcm.clear();
        self.pcm.extend(frame.iter().map(|&b| mulaw::decode(b)));
        self.resampler.process(&self.pcm, &mut self.resampled);
        self.pcm_message().into_iter().collect()
    }

    fn end_of_audio(&mut self) -> Vec<Message> {
        self.resampler.flush(&mut self.resampled);
        let mut messages: Vec<Message> = self.pcm_message().into_iter().collect();
        messages.push(Message::binary(protocol::audio_message(
            &self.request_id,
            &protocol::timestamp_now(),
            None,
            &[],
        )));
        messages
    }

    fn on_text(&mut self, text: &str, sink: &SttEventSink, audio_finished: bool) -> Step {
        let frame = TextFrame::parse(text);
        if let Some(id) = frame.request_id() {
            if !id.eq_ignore_ascii_case(&self.request_id) {
                debug!(
                    path = frame.path().unwrap_or(""),
                    "ignoring message of an old turn"
                );
                return Step::Continue;
            }
        }
        match protocol::interpret(&frame) {
            ServiceEvent::Hypothesis(text) => {
                let text = text.trim();
                if !text.is_empty() {
                    sink.partial(text);
                }
            }
            ServiceEvent::Phrase { status, text } => match status.as_str() {
                "Success" => {
                    let text = text.as_deref().unwrap_or_default().trim();
                    if !text.is_empty() {
                        sink.committed(text);
                    }
                }
                // Statuses the SDK enum maps from service refusals (wire use undocumented).
                "Forbidden" => return Step::Terminal(AUTH_ERROR.to_owned()),
                "TooManyRequests" => return Step::Terminal("rate_limited".to_owned()),
                "BadRequest" => return Step::Terminal("bad_request".to_owned()),
                "Error" => warn!("azure phrase with RecognitionStatus Error"),
                other => debug!(status = other, "azure phrase without a transcript"),
            },
            ServiceEvent::TurnEnd => {
                if !audio_finished {
                    // Continuous recognition (§7.1): a new turn on the same socket.
                    debug!("azure turn ended while audio continues; starting a new turn");
                    self.request_id = protocol::new_id();
                    return Step::Send(self.turn_messages());
                }
            }
            ServiceEvent::TurnStart | ServiceEvent::SpeechStart | ServiceEvent::SpeechEnd => {}
            ServiceEvent::Other(path) => debug!(%path, "ignoring azure message"),
            ServiceEvent::Invalid => warn!(len = text.len(), "unparseable azure message"),
        }
        Step::Continue
    }

    fn on_close(&mut self, frame: Option<&CloseFrame>) -> Step {
        let Some(frame) = frame else {
            return Step::Reconnect("socket dropped".into());
        };
        let code = u16::from(frame.code);
        match protocol::classify_close(code) {
            CloseClass::Reconnect => Step::Reconnect(format!(
                "closed by the service ({code} {})",
                ws::redact(frame.reason.as_str(), &self.config.key)
            )),
            CloseClass::Terminal(reason) => {
                warn!(
                    code,
                    detail = ws::redact(frame.reason.as_str(), &self.config.key),
                    "azure closed the connection: {reason}"
                );
                Step::Terminal(reason)
            }
        }
    }
}
