//! ElevenLabs over HTTP: `POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`,
//! the body streamed into the call chunk by chunk.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::HeaderValue;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use url::Url;
use vr_session::{CallHandle, SpeakOutcome, TtsError, TtsProvider, Utterance};

use super::config::{ElevenLabsConfig, VoiceSettings};
use crate::http_stream::stream_response;

/// ElevenLabs HTTP streaming text-to-speech. One provider (and one connection pool) serves
/// many calls at once; `speak_stream` uses the trait's sentence-gathering default.
#[derive(Clone, Debug)]
pub struct ElevenLabsTts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ElevenLabsConfig,
    url: Url,
    key: HeaderValue,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct RequestBody<'a> {
    text: &'a str,
    model_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_settings: Option<&'a VoiceSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u32>,
}

impl ElevenLabsTts {
    /// A provider for `config`. Fails with [`TtsError::Config`] without an API key or with an
    /// unusable base URL.
    pub fn new(config: ElevenLabsConfig) -> Result<Self, TtsError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.first_byte)
            .build()
            .map_err(|e| TtsError::Config(format!("HTTP client: {e}")))?;
        Self::with_client(config, client)
    }

    /// A provider configured from the environment (see [`ElevenLabsConfig::from_env`]).
    pub fn from_env() -> Result<Self, TtsError> {
        Self::new(ElevenLabsConfig::from_env())
    }

    /// A provider that shares an existing `reqwest` client (and its connection pool).
    pub fn with_client(
        config: ElevenLabsConfig,
        client: reqwest::Client,
    ) -> Result<Self, TtsError> {
        config.validate()?;
        let url = config.http_stream_url()?;
        let key = super::api_key_header(&config.api_key)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                url,
                key,
                client,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ElevenLabsConfig {
        &self.inner.config
    }
}

#[async_trait]
impl TtsProvider for ElevenLabsTts {
    fn name(&self) -> &str {
        "elevenlabs"
    }

    async fn speak(
        &self,
        text: &str,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        let inner = &*self.inner;
        let config = &inner.config;
        let utt = match Utterance::begin(call, text, cancel) {
            Ok(utt) => utt.with_mark_timeout(config.timeouts.mark),
            Err(done) => return done,
        };
        let body = RequestBody {
            text,
            model_id: &config.model_id,
            voice_settings: config.voice_settings.as_ref(),
            language_code: config.language_code.as_deref(),
            seed: config.seed,
        };
        let request = inner
            .client
            .post(inner.url.clone())
            .header("xi-api-key", inner.key.clone())
            .json(&body);
        stream_response(utt, request, config.timeouts, "elevenlabs", &config.api_key).await
    }
}
