//! Azure Speech text-to-speech over REST: SSML in, `raw-8khz-8bit-mono-mulaw` streamed out.
//!
//! `POST https://{region}.tts.speech.microsoft.com/cognitiveservices/v1` (or a custom
//! endpoint) with `Ocp-Apim-Subscription-Key`, `Content-Type: application/ssml+xml`,
//! `X-Microsoft-OutputFormat: raw-8khz-8bit-mono-mulaw` and a `User-Agent`. The response body
//! is played as it is transferred. Configuration comes from `AZURE_SPEECH_KEY`,
//! `AZURE_SPEECH_REGION` (default `westeurope`), `AZURE_TTS_VOICE` (default
//! `fi-FI-NooraNeural`) and `AZURE_TTS_ENDPOINT`, and from the [`AzureTtsConfig`] builder.

mod config;
pub mod ssml;

pub use config::{
    AzureTtsConfig, DEFAULT_REGION, DEFAULT_USER_AGENT, DEFAULT_VOICE, ENV_ENDPOINT, ENV_KEY,
    ENV_REGION, ENV_VOICE, OUTPUT_FORMAT,
};

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use tokio_util::sync::CancellationToken;
use url::Url;
use vr_session::{CallHandle, SpeakOutcome, TtsError, TtsProvider, Utterance};

use crate::http_stream::stream_response;

/// Azure REST text-to-speech. One provider (and one connection pool) serves many calls at
/// once; `speak_stream` uses the trait's sentence-gathering default.
#[derive(Clone, Debug)]
pub struct AzureTts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AzureTtsConfig,
    url: Url,
    key: HeaderValue,
    user_agent: HeaderValue,
    language: String,
    client: reqwest::Client,
}

impl AzureTts {
    /// A provider for `config`. Fails with [`TtsError::Config`] without a key or with an
    /// unusable region or endpoint.
    pub fn new(config: AzureTtsConfig) -> Result<Self, TtsError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.first_byte)
            .build()
            .map_err(|e| TtsError::Config(format!("HTTP client: {e}")))?;
        Self::with_client(config, client)
    }

    /// A provider configured from the environment (see [`AzureTtsConfig::from_env`]).
    pub fn from_env() -> Result<Self, TtsError> {
        Self::new(AzureTtsConfig::from_env())
    }

    /// A provider that shares an existing `reqwest` client (and its connection pool).
    pub fn with_client(config: AzureTtsConfig, client: reqwest::Client) -> Result<Self, TtsError> {
        config.validate()?;
        let url = config.endpoint_url()?;
        let mut key = HeaderValue::from_str(&config.key)
            .map_err(|_| TtsError::Config("the Azure key is not a valid header value".into()))?;
        key.set_sensitive(true);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| TtsError::Config("the User-Agent is not a valid header value".into()))?;
        let language = config.language_tag();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                url,
                key,
                user_agent,
                language,
                client,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &AzureTtsConfig {
        &self.inner.config
    }

    /// The SSML document sent for `text`.
    pub fn ssml(&self, text: &str) -> String {
        ssml::document(text, &self.inner.config.voice, &self.inner.language)
    }
}

#[async_trait]
impl TtsProvider for AzureTts {
    fn name(&self) -> &str {
        "azure"
    }

    async fn speak(
        &self,
        text: &str,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        let inner = &*self.inner;
        let utt = match Utterance::begin(call, text, cancel) {
            Ok(utt) => utt.with_mark_timeout(inner.config.timeouts.mark),
            Err(done) => return done,
        };
        let request = inner
            .client
            .post(inner.url.clone())
            .header("Ocp-Apim-Subscription-Key", inner.key.clone())
            .header(CONTENT_TYPE, "application/ssml+xml")
            .header("X-Microsoft-OutputFormat", OUTPUT_FORMAT)
            .header(USER_AGENT, inner.user_agent.clone())
            .body(self.ssml(text));
        stream_response(
            utt,
            request,
            inner.config.timeouts,
            "azure",
            &inner.config.key,
        )
        .await
    }
}
