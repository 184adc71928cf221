//! A mock text-to-speech provider (B113–B114, W28) and the text relay (B118, B168, W29).
//!
//! [`MockTts`] records every text it is asked to say and plays real μ-law audio through
//! [`Utterance`], so its outcomes have exactly the real providers' semantics: empty text,
//! ended calls and barge-in are handled the same way, the closing mark is awaited, and what
//! was heard is computed from the play-out clock. The audio ([`Synth`]) is a soft
//! speech-like signal lasting about 60 ms per character, synthesised as it is delivered.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use vr_codec::SAMPLE_RATE;
use vr_session::{CallHandle, Halt, SpeakOutcome, TtsProvider, Utterance};

use crate::synth::Synth;

/// A callback told each text the provider is asked to say.
pub type OnSpoken = Arc<dyn Fn(&str) + Send + Sync>;

/// Default duration of audio per character.
pub const DEFAULT_MS_PER_CHAR: u32 = 60;

/// The mock provider. See the module docs.
#[derive(Clone)]
pub struct MockTts {
    spoken: Arc<Mutex<Vec<String>>>,
    on_spoken: Option<OnSpoken>,
    voice_id: Option<String>,
    ms_per_char: u32,
    chunk: Duration,
    chunk_interval: Duration,
    mark_timeout: Option<Duration>,
}

impl fmt::Debug for MockTts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTts")
            .field("spoken", &self.spoken().len())
            .field("on_spoken", &self.on_spoken.is_some())
            .field("voice_id", &self.voice_id)
            .field("ms_per_char", &self.ms_per_char)
            .field("chunk", &self.chunk)
            .field("chunk_interval", &self.chunk_interval)
            .finish()
    }
}

impl Default for MockTts {
    fn default() -> Self {
        Self::new()
    }
}

impl MockTts {
    /// A provider with 60 ms of audio per character, delivered 100 ms of audio every 20 ms.
    pub fn new() -> Self {
        Self {
            spoken: Arc::default(),
            on_spoken: None,
            voice_id: None,
            ms_per_char: DEFAULT_MS_PER_CHAR,
            chunk: Duration::from_millis(100),
            chunk_interval: Duration::from_millis(20),
            mark_timeout: None,
        }
    }

    /// Calls `f` with each text before it is spoken (a panic there is logged and swallowed).
    pub fn with_on_spoken(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_spoken = Some(Arc::new(f));
        self
    }

    /// Relays each text to a peer's inject route (see [`TextRelay`]).
    pub fn with_relay(mut self, relay: TextRelay) -> Self {
        self.on_spoken = Some(relay.callback());
        self
    }

    /// Keeps a voice id, for parity with real providers (it changes nothing).
    pub fn with_voice_id(mut self, voice_id: impl Into<String>) -> Self {
        self.voice_id = Some(voice_id.into());
        self
    }

    /// Changes the audio duration per character (at least 1 ms).
    pub fn with_ms_per_char(mut self, ms: u32) -> Self {
        self.ms_per_char = ms.max(1);
        self
    }

    /// Changes delivery: `chunk` of audio every `interval` (the first chunk at once).
    pub fn with_delivery(mut self, chunk: Duration, interval: Duration) -> Self {
        self.chunk = chunk.max(Duration::from_millis(1));
        self.chunk_interval = interval;
        self
    }

    /// Overrides the closing mark's timeout (the session's default otherwise).
    pub fn with_mark_timeout(mut self, timeout: Duration) -> Self {
        self.mark_timeout = Some(timeout);
        self
    }

    /// The voice id given, if any.
    pub fn voice_id(&self) -> Option<&str> {
        self.voice_id.as_deref()
    }

    /// Every text asked for so far, in order, including interrupted ones (B114).
    pub fn spoken(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// The audio duration this provider produces for `text`.
    pub fn duration_for(&self, text: &str) -> Duration {
        Duration::from_millis(u64::from(self.ms_per_char) * text.chars().count() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.spoken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, text: &str) {
        if let Some(f) = &self.on_spoken
            && std::panic::catch_unwind(AssertUnwindSafe(|| f(text))).is_err()
        {
            tracing::warn!("mock tts on_spoken callback panicked; ignored");
        }
    }
}

#[async_trait]
impl TtsProvider for MockTts {
    fn name(&self) -> &str {
        "mock"
    }

    async fn speak(
        &self,
        text: &str,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        self.lock().push(text.to_owned());
        self.notify(text);
        let mut utt = match Utterance::begin(call, text, cancel) {
            Ok(u) => u,
            Err(outcome) => return outcome,
        };
        if let Some(t) = self.mark_timeout {
            utt = utt.with_mark_timeout(t);
        }
        // Synthesised chunk by chunk as it is delivered, like a streaming provider: no
        // utterance is ever held whole in memory.
        let mut synth = Synth::new(text, self.ms_per_char);
        let chunk_bytes = ((self.chunk.as_millis() as usize) * SAMPLE_RATE as usize / 1000).max(1);
        let mut chunk = Vec::with_capacity(chunk_bytes.min(synth.len()));
        let mut first = true;
        while synth.remaining() > 0 {
            if !first && !self.chunk_interval.is_zero() {
                let cancel = utt.cancel_token().clone();
                tokio::select! {
                    _ = cancel.cancelled() => return utt.stop(Halt::Cancelled),
                    _ = tokio::time::sleep(self.chunk_interval) => {}
                }
            }
            first = false;
            synth.next_chunk(chunk_bytes, &mut chunk);
            if let Err(halt) = utt.push(&chunk).await {
                return utt.stop(halt);
            }
        }
        utt.finish().await
    }
}

/// Attempts of one relayed text while the peer answers 404 (its call not live yet).
const RELAY_ATTEMPTS: u32 = 30;
/// Wait between those attempts.
const RELAY_RETRY: Duration = Duration::from_millis(100);

/// Relays spoken text to a peer's inject route, the original's text relay (B118, B168).
///
/// Each text is POSTed as `{"text": …}` with a 10 s timeout from a spawned task (the callback
/// never blocks); errors are logged and swallowed. The target URL is read at send time, so
/// [`set_route`](Self::set_route) after the peer's stream path is known redirects a relay made
/// earlier. The HTTP client is owned by the relay and closed with its last clone (W29).
#[derive(Debug, Clone)]
pub struct TextRelay {
    client: reqwest::Client,
    peer: String,
    url: Arc<Mutex<String>>,
}

impl TextRelay {
    /// Timeout of one relay request.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    /// A relay to `{peer}/test/inject` (a trailing `/` on `peer` is ignored).
    pub fn new(peer: &str) -> Self {
        let peer = peer.trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .timeout(Self::TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            client,
            url: Arc::new(Mutex::new(format!("{peer}/test/inject"))),
            peer,
        }
    }

    /// Posts to `/test/inject/{route}` from now on (`None`: back to `/test/inject`).
    pub fn set_route(&self, route: Option<&str>) {
        let url = match route {
            Some(r) => format!("{}/test/inject/{}", self.peer, r.trim_matches('/')),
            None => format!("{}/test/inject", self.peer),
        };
        *self.url.lock().unwrap_or_else(|p| p.into_inner()) = url;
    }

    /// Points the relay at the inject route matching a peer's stream path (B168):
    /// `/voice/{token}` → `/test/inject/{token}`, anything else → `/test/inject`.
    pub fn set_route_from_stream_path(&self, path: &str) {
        match path.strip_prefix("/voice/") {
            Some(token) if !token.is_empty() => self.set_route(Some(token)),
            _ => self.set_route(None),
        }
    }

    /// The URL the next text will be posted to.
    pub fn inject_url(&self) -> String {
        self.url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Posts one text and waits for the answer.
    ///
    /// # Errors
    /// Transport errors and non-success statuses.
    pub async fn send(&self, text: &str) -> Result<(), reqwest::Error> {
        self.client
            .post(self.inject_url())
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await?
            .error_for_status()
            .map(drop)
    }

    /// A callback for [`MockTts::with_on_spoken`] that sends in the background on the
    /// current tokio runtime (outside one it logs a warning and drops the text).
    pub fn callback(&self) -> OnSpoken {
        let relay = self.clone();
        Arc::new(move |text: &str| {
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                tracing::warn!("text relay used outside a tokio runtime; dropped");
                return;
            };
            let relay = relay.clone();
            let text = text.to_owned();
            rt.spawn(async move {
                // The peer's call may not be up yet when this bot first speaks (both sides of a
                // bridge connect at once): a 404 is retried for a short while.
                for attempt in 1..=RELAY_ATTEMPTS {
                    match relay.send(&text).await {
                        Ok(()) => return,
                        Err(e)
                            if e.status() == Some(reqwest::StatusCode::NOT_FOUND)
                                && attempt < RELAY_ATTEMPTS =>
                        {
                            tokio::time::sleep(RELAY_RETRY).await;
                        }
                        Err(e) => {
                            tracing::warn!(url = %relay.inject_url(), "text relay failed: {e}");
                            return;
                        }
                    }
                }
            });
        })
    }
}
