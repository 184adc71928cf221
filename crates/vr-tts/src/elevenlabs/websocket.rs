//! ElevenLabs input streaming: the `stream-input` websocket. Text pieces go out as they are
//! generated while audio comes back on the same socket, so the caller hears the first words
//! before the sentence is finished.
//!
//! Flow: connect (`xi-api-key` header) → `{"text": " ", "voice_settings", "generation_config"}`
//! → whole-word pieces `{"text": "… ", "try_trigger_generation"}` → `{"text": ""}` (end of
//! stream); audio messages (`audio`, base64 μ-law, with optional alignment) are pushed into
//! the utterance as they arrive, until `isFinal` / `is_final`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt, stream};
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};
use tokio_util::sync::CancellationToken;
use url::Url;
use vr_session::{
    CallHandle, Halt, MarkOutcome, SpeakOutcome, SpeakStatus, TTS_MARK_NAME, TextStream, TtsError,
    TtsProvider, Utterance,
};

use super::config::ElevenLabsConfig;
use super::stream_text::{AlignmentTrack, WordChunker, heard_text};
use crate::util::{error_chain, summarize_error_body, summarize_error_json};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// 20 ms of 8 kHz μ-law.
const FRAME_BYTES: u64 = 160;
/// μ-law silence.
const SILENCE: u8 = 0xFF;
/// The service's default `inactivity_timeout`.
const DEFAULT_INACTIVITY_TIMEOUT_SECS: u32 = 20;

/// ElevenLabs input-streaming text-to-speech over the stream-input websocket (one socket per
/// utterance). [`speak_stream`](TtsProvider::speak_stream) sends text pieces while audio
/// arrives; [`speak`](TtsProvider::speak) is a one-piece stream.
#[derive(Clone, Debug)]
pub struct ElevenLabsStreamingTts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ElevenLabsConfig,
    url: Url,
    key: HeaderValue,
}

impl ElevenLabsStreamingTts {
    /// A provider for `config`. Fails with [`TtsError::Config`] without an API key or with an
    /// unusable base URL or chunk schedule.
    pub fn new(config: ElevenLabsConfig) -> Result<Self, TtsError> {
        config.validate()?;
        let url = config.ws_url()?;
        let key = super::api_key_header(&config.api_key)?;
        Ok(Self {
            inner: Arc::new(Inner { config, url, key }),
        })
    }

    /// A provider configured from the environment (see [`ElevenLabsConfig::from_env`]).
    pub fn from_env() -> Result<Self, TtsError> {
        Self::new(ElevenLabsConfig::from_env())
    }

    /// The configuration in use.
    pub fn config(&self) -> &ElevenLabsConfig {
        &self.inner.config
    }
}

#[async_trait]
impl TtsProvider for ElevenLabsStreamingTts {
    fn name(&self) -> &str {
        "elevenlabs-stream"
    }

    async fn speak(
        &self,
        text: &str,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        let pieces: TextStream = Box::pin(stream::iter([text.to_owned()]));
        self.speak_pieces(pieces, call, cancel, true).await
    }

    async fn speak_stream(
        &self,
        pieces: TextStream,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        self.speak_pieces(pieces, call, cancel, false).await
    }
}

impl ElevenLabsStreamingTts {
    /// Speaks text pieces; `whole` means the first piece is the whole text (sent as one
    /// message rather than word by word).
    async fn speak_pieces(
        &self,
        mut pieces: TextStream,
        call: &CallHandle,
        cancel: CancellationToken,
        whole: bool,
    ) -> SpeakOutcome {
        // B80: a call already gone returns at once, before waiting for text or connecting.
        if call.is_disconnected() {
            return SpeakOutcome::nothing("", SpeakStatus::CallDisconnected);
        }
        let ended = call.ended_token();
        let mut text = String::new();
        while text.trim().is_empty() {
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SpeakOutcome::nothing(&text, SpeakStatus::Interrupted),
                _ = ended.cancelled() => {
                    return SpeakOutcome::nothing(&text, SpeakStatus::CallDisconnected);
                }
                next = pieces.next() => next,
            };
            match next {
                Some(piece) => text.push_str(&piece),
                // B79: no text at all, nothing to say.
                None => return SpeakOutcome::nothing(&text, SpeakStatus::Completed),
            }
        }
        let utt = match Utterance::begin(call, &text, cancel) {
            Ok(utt) => utt.with_mark_timeout(self.inner.config.timeouts.mark),
            Err(done) => return done,
        };
        let streamer = Streamer {
            inner: &self.inner,
            utt,
            whole,
            text,
            align: AlignmentTrack::default(),
            audio_bytes: 0,
            complete: false,
        };
        streamer.run(pieces).await
    }
}

/// Why the loop stopped early.
enum Stop {
    Halt,
    Fail(TtsError),
}

/// One utterance over one socket.
struct Streamer<'a> {
    inner: &'a Inner,
    utt: Utterance,
    /// The first piece is the whole text.
    whole: bool,
    /// All text received so far (the utterance was begun with the first piece only).
    text: String,
    align: AlignmentTrack,
    /// Audio bytes received from the service and pushed.
    audio_bytes: u64,
    /// The service sent its final message.
    complete: bool,
}

impl Streamer<'_> {
    async fn run(mut self, mut pieces: TextStream) -> SpeakOutcome {
        let config = &self.inner.config;
        let timeouts = config.timeouts;
        let cancel = self.utt.cancel_token().clone();
        let ended = self.utt.call().ended_token();

        let mut request = match self.inner.url.as_str().into_client_request() {
            Ok(r) => r,
            Err(e) => return self.end(Stop::Fail(TtsError::Config(e.to_string()))),
        };
        request
            .headers_mut()
            .insert("xi-api-key", self.inner.key.clone());
        let connect_deadline = Instant::now() + timeouts.first_byte;
        let connected = tokio::select! {
            biased;
            _ = cancel.cancelled() => return self.end(Stop::Halt),
            _ = ended.cancelled() => return self.end(Stop::Halt),
            // Nagle off: the text messages are small and the first audio waits on them.
            c = timeout_at(connect_deadline, connect_async_with_config(request, None, true)) => c,
        };
        let mut ws = match connected {
            Err(_) => return self.end(Stop::Fail(TtsError::FirstByteTimeout)),
            Ok(Err(e)) => return self.end(Stop::Fail(connect_error(e))),
            Ok(Ok((ws, _))) => ws,
        };
        tracing::debug!("elevenlabs stream-input connected");

        let mut init = json!({
            "text": " ",
            "generation_config": {"chunk_length_schedule": config.chunk_length_schedule},
        });
        if let Some(settings) = &config.voice_settings {
            init["voice_settings"] = json!(settings);
        }
        let mut chunker = WordChunker::default();
        let first = if self.whole {
            WordChunker::whole(&self.text)
        } else {
            chunker.push(&self.text)
        };
        if let Err(stop) = self.send(&mut ws, init).await {
            return self.end(stop);
        }
        if let Some(piece) = first {
            if let Err(stop) = self.send(&mut ws, self.text_message(&piece)).await {
                return self.end(stop);
            }
        }

        let mut text_done = false;
        let mut eos_at: Option<Instant> = None;
        let mut last_audio: Option<Instant> = None;
        let keepalive = keepalive_interval(config.inactivity_timeout);
        let mut last_sent = Instant::now();
        loop {
            // Audio is owed only once all text is in: before that the service may be
            // buffering text, so silence is not a stall.
            let deadline = eos_at.map(|eos| match last_audio {
                None => eos + timeouts.first_byte,
                Some(t) => t.max(eos) + timeouts.stall,
            });
            let step = tokio::select! {
                biased;
                _ = cancel.cancelled() => return self.end(Stop::Halt),
                _ = ended.cancelled() => return self.end(Stop::Halt),
                msg = ws.next() => Step::Message(msg),
                piece = pieces.next(), if !text_done => Step::Piece(piece),
                _ = sleep_until(deadline.unwrap_or(connect_deadline)), if deadline.is_some() => {
                    Step::Timeout
                }
                _ = sleep_until(last_sent + keepalive), if !text_done => Step::KeepAlive,
            };
            let outgoing = match step {
                Step::Timeout if self.audio_bytes == 0 => {
                    return self.end(Stop::Fail(TtsError::FirstByteTimeout));
                }
                Step::Timeout => return self.end(Stop::Fail(TtsError::Stalled)),
                // The text source is slow (a tool call, say): keep the socket open.
                Step::KeepAlive => Some(vec![json!({"text": " "})]),
                Step::Piece(Some(piece)) => {
                    self.text.push_str(&piece);
                    chunker.push(&piece).map(|p| vec![self.text_message(&p)])
                }
                Step::Piece(None) => {
                    text_done = true;
                    eos_at = Some(Instant::now());
                    let mut out: Vec<Value> = chunker
                        .finish()
                        .map(|p| self.text_message(&p))
                        .into_iter()
                        .collect();
                    out.push(json!({"text": ""}));
                    Some(out)
                }
                Step::Message(msg) => {
                    match self.receive(msg, text_done).await {
                        Ok(Received::More) => {}
                        Ok(Received::Audio) => last_audio = Some(Instant::now()),
                        Ok(Received::Done) => break,
                        Err(stop) => return self.end(stop),
                    }
                    None
                }
            };
            for message in outgoing.into_iter().flatten() {
                if let Err(stop) = self.send(&mut ws, message).await {
                    return self.end(stop);
                }
                last_sent = Instant::now();
            }
        }
        drop(ws);
        tracing::debug!(
            audio_bytes = self.audio_bytes,
            "elevenlabs stream-input complete"
        );
        if self.audio_bytes == 0 {
            // W25: a synthesis that ends without audio is a failure, not a success.
            return self.end(Stop::Fail(TtsError::Protocol(
                "elevenlabs stream-input ended without audio".to_owned(),
            )));
        }
        self.finish().await
    }

    fn text_message(&self, piece: &str) -> Value {
        json!({"text": piece, "try_trigger_generation": self.inner.config.try_trigger_generation})
    }

    /// Sends one JSON message, bounded by the stall timeout and racing cancellation.
    async fn send(&self, ws: &mut Ws, message: Value) -> Result<(), Stop> {
        let cancel = self.utt.cancel_token();
        let ended = self.utt.call().ended_token();
        let frame = Message::text(message.to_string());
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Stop::Halt),
            _ = ended.cancelled() => Err(Stop::Halt),
            sent = timeout(self.inner.config.timeouts.stall, ws.send(frame)) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Stop::Fail(TtsError::StreamBroken(error_chain(&e)))),
                Err(_) => Err(Stop::Fail(TtsError::StreamBroken("websocket send timed out".into()))),
            },
        }
    }

    /// Handles one websocket message.
    async fn receive(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
        text_done: bool,
    ) -> Result<Received, Stop> {
        let text = match msg {
            None => {
                return Err(Stop::Fail(TtsError::StreamBroken(
                    "websocket ended before the final message".to_owned(),
                )));
            }
            Some(Err(e)) => return Err(Stop::Fail(TtsError::StreamBroken(error_chain(&e)))),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                let normal = code == 1000 || code == 1005;
                if normal && text_done && self.audio_bytes > 0 {
                    tracing::debug!(code, "stream-input closed without a final message");
                    self.complete = true;
                    return Ok(Received::Done);
                }
                let reason = crate::util::redact(&reason, &self.inner.config.api_key);
                let why = format!("websocket closed by the service ({code}) {reason}");
                return Err(Stop::Fail(if normal {
                    TtsError::StreamBroken(why.trim_end().to_owned())
                } else {
                    TtsError::ServiceCancelled(why.trim_end().to_owned())
                }));
            }
            Some(Ok(Message::Binary(_))) => {
                return Err(Stop::Fail(TtsError::Protocol(
                    "unexpected binary websocket message".to_owned(),
                )));
            }
            Some(Ok(_)) => return Ok(Received::More),
        };
        let value: Value = serde_json::from_str(text.as_str())
            .map_err(|e| Stop::Fail(TtsError::Protocol(format!("not JSON: {e}"))))?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            // The service may echo the key in its error: redact before it is cut short.
            let redacted: Value = serde_json::from_str(&crate::util::redact(
                text.as_str(),
                &self.inner.config.api_key,
            ))
            .unwrap_or(Value::Null);
            return Err(Stop::Fail(TtsError::ServiceCancelled(
                summarize_error_json(&redacted),
            )));
        }
        let mut received = Received::More;
        if let Some(audio) = value
            .get("audio")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(audio)
                .map_err(|e| Stop::Fail(TtsError::Protocol(format!("audio is not base64: {e}"))))?;
            if !bytes.is_empty() {
                self.align.record(&value, self.audio_bytes);
                self.audio_bytes += bytes.len() as u64;
                self.utt.push(&bytes).await.map_err(|_| Stop::Halt)?;
                received = Received::Audio;
            }
        }
        let is_final = ["isFinal", "is_final"]
            .iter()
            .any(|k| value.get(*k).and_then(Value::as_bool) == Some(true));
        if is_final {
            self.complete = true;
            return Ok(Received::Done);
        }
        Ok(received)
    }

    /// All audio is in: flush, send the closing mark and wait for it.
    async fn finish(mut self) -> SpeakOutcome {
        if self.utt.text() == self.text {
            return crate::util::finish(self.utt).await;
        }
        // The utterance was begun with the first piece only; `Utterance::finish` would report
        // (and estimate `heard` from) that piece. Do the same steps here with the whole text.
        let pad = ((FRAME_BYTES - self.audio_bytes % FRAME_BYTES) % FRAME_BYTES) as usize;
        if pad > 0 && self.utt.push(&vec![SILENCE; pad]).await.is_err() {
            return self.end(Stop::Halt);
        }
        if self.utt.halted().is_some() {
            return self.end(Stop::Halt);
        }
        let pending = match self.utt.call().send_mark(TTS_MARK_NAME) {
            Ok(p) => p,
            Err(_) => return self.end(Stop::Halt),
        };
        let cancel = self.utt.cancel_token().clone();
        let outcome = tokio::select! {
            outcome = pending.wait(self.inner.config.timeouts.mark) => outcome,
            _ = cancel.cancelled() => return self.end(Stop::Halt),
        };
        if outcome == MarkOutcome::TimedOut {
            tracing::warn!("Mark timeout — audio may have been cut off");
        }
        let status = match outcome {
            MarkOutcome::Disconnected => SpeakStatus::CallDisconnected,
            MarkOutcome::Cleared if cancel.is_cancelled() => SpeakStatus::Interrupted,
            _ => SpeakStatus::Completed,
        };
        let heard_bytes = self.utt.heard_bytes();
        let mut out = self.utt.stop(Halt::Cancelled);
        out.status = status;
        out.mark = Some(outcome);
        out.heard = if outcome == MarkOutcome::Played {
            self.text.clone()
        } else {
            heard_text(&self.text, &self.align, heard_bytes, out.audio_bytes, true)
        };
        out.text = self.text;
        out
    }

    /// Ends early; the outcome reports the whole text and what of it was heard.
    fn end(self, stop: Stop) -> SpeakOutcome {
        let heard_bytes = self.utt.heard_bytes();
        let mut out = match stop {
            Stop::Halt => {
                let why = self.utt.halted().unwrap_or(Halt::Cancelled);
                self.utt.stop(why)
            }
            Stop::Fail(e) => self.utt.fail(e),
        };
        out.heard = heard_text(
            &self.text,
            &self.align,
            heard_bytes,
            out.audio_bytes,
            self.complete,
        );
        out.text = self.text;
        out
    }
}

enum Step {
    Message(Option<Result<Message, tungstenite::Error>>),
    Piece(Option<String>),
    Timeout,
    KeepAlive,
}

/// How long the text may pause before a keep-alive `{"text": " "}` is sent: half the
/// service's inactivity timeout (20 s unless configured).
fn keepalive_interval(inactivity_timeout: Option<u32>) -> Duration {
    let secs = inactivity_timeout.unwrap_or(DEFAULT_INACTIVITY_TIMEOUT_SECS);
    (Duration::from_secs(u64::from(secs)) / 2).max(Duration::from_millis(500))
}

enum Received {
    More,
    Audio,
    Done,
}

/// Maps a failed websocket connect: an HTTP answer instead of the upgrade keeps its status and
/// the provider's error body.
fn connect_error(e: tungstenite::Error) -> TtsError {
    match e {
        tungstenite::Error::Http(response) => TtsError::Http {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_deref()
                .map(summarize_error_body)
                .unwrap_or_default(),
        },
        tungstenite::Error::Url(e) => TtsError::Config(e.to_string()),
        other => TtsError::Connect(error_chain(&other)),
    }
}
