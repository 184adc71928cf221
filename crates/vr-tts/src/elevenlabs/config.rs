//! ElevenLabs configuration: environment variables and builder options.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use url::Url;
use vr_session::TtsError;

use crate::Timeouts;
use crate::util::lookup_nonempty;

/// Default voice: Rachel.
pub const DEFAULT_VOICE_ID: &str = "21m00Tcm4TlvDq8ikWAM";
/// Default model.
pub const DEFAULT_MODEL_ID: &str = "eleven_multilingual_v2";
/// Default HTTPS base (production).
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// The output format asked for: raw 8 kHz μ-law, what a phone call plays.
pub const OUTPUT_FORMAT: &str = "ulaw_8000";
/// The stream-input websocket's default chunk length schedule.
pub const DEFAULT_CHUNK_LENGTH_SCHEDULE: [u16; 4] = [120, 160, 250, 290];

/// Environment variable with the API key.
pub const ENV_API_KEY: &str = "ELEVENLABS_API_KEY";
/// Environment variable with the voice id.
pub const ENV_VOICE_ID: &str = "ELEVENLABS_VOICE_ID";
/// Environment variable with the model id.
pub const ENV_MODEL: &str = "ELEVENLABS_MODEL";
/// Environment variable with the HTTPS base URL (regional / residency endpoints, fakes).
pub const ENV_BASE_URL: &str = "ELEVENLABS_BASE_URL";

/// Voice settings sent with each request; unset fields are left to the voice's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VoiceSettings {
    /// Stability, 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stability: Option<f32>,
    /// Similarity boost, 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f32>,
    /// Style exaggeration, 0.0–1.0 (service default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<f32>,
    /// Speaker boost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
    /// Speed, 1.0 = normal (the websocket accepts 0.7–1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f32>,
}

impl VoiceSettings {
    /// Settings with stability and similarity boost set (the commonest pair).
    pub fn new(stability: f32, similarity_boost: f32) -> Self {
        Self {
            stability: Some(stability),
            similarity_boost: Some(similarity_boost),
            ..Self::default()
        }
    }

    /// Sets the style.
    pub fn style(mut self, style: f32) -> Self {
        self.style = Some(style);
        self
    }

    /// Sets speaker boost.
    pub fn use_speaker_boost(mut self, on: bool) -> Self {
        self.use_speaker_boost = Some(on);
        self
    }

    /// Sets the speed.
    pub fn speed(mut self, speed: f32) -> Self {
        self.speed = Some(speed);
        self
    }
}

/// Configuration shared by [`ElevenLabsTts`](super::ElevenLabsTts) and
/// [`ElevenLabsStreamingTts`](super::ElevenLabsStreamingTts). Build it from the environment
/// ([`from_env`](Self::from_env)) or from scratch ([`new`](Self::new)) and refine it with the
/// builder methods. The API key never appears in `Debug` output, logs or errors.
#[derive(Clone)]
pub struct ElevenLabsConfig {
    pub(crate) api_key: String,
    pub(crate) voice_id: String,
    pub(crate) model_id: String,
    pub(crate) base_url: String,
    pub(crate) ws_base_url: Option<String>,
    pub(crate) voice_settings: Option<VoiceSettings>,
    pub(crate) language_code: Option<String>,
    pub(crate) seed: Option<u32>,
    pub(crate) timeouts: Timeouts,
    pub(crate) chunk_length_schedule: Vec<u16>,
    pub(crate) try_trigger_generation: bool,
    pub(crate) inactivity_timeout: Option<u32>,
    pub(crate) auto_mode: Option<bool>,
}

impl fmt::Debug for ElevenLabsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElevenLabsConfig")
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("voice_id", &self.voice_id)
            .field("model_id", &self.model_id)
            .field("base_url", &self.base_url)
            .field("ws_base_url", &self.ws_base_url)
            .field("voice_settings", &self.voice_settings)
            .field("language_code", &self.language_code)
            .field("seed", &self.seed)
            .field("timeouts", &self.timeouts)
            .field("chunk_length_schedule", &self.chunk_length_schedule)
            .field("try_trigger_generation", &self.try_trigger_generation)
            .field("inactivity_timeout", &self.inactivity_timeout)
            .field("auto_mode", &self.auto_mode)
            .finish()
    }
}

impl ElevenLabsConfig {
    /// Defaults (Rachel, `eleven_multilingual_v2`, production host) with `api_key`; reads no
    /// environment.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            voice_id: DEFAULT_VOICE_ID.to_owned(),
            model_id: DEFAULT_MODEL_ID.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            ws_base_url: None,
            voice_settings: None,
            language_code: None,
            seed: None,
            timeouts: Timeouts::default(),
            chunk_length_schedule: DEFAULT_CHUNK_LENGTH_SCHEDULE.to_vec(),
            try_trigger_generation: false,
            inactivity_timeout: None,
            auto_mode: None,
        }
    }

    /// Reads `ELEVENLABS_API_KEY`, `ELEVENLABS_VOICE_ID`, `ELEVENLABS_MODEL` and
    /// `ELEVENLABS_BASE_URL` from the process environment (read now, at construction; blank
    /// values count as unset).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) but reads variables through `lookup`, so tests and
    /// embedders need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::new(lookup_nonempty(&lookup, ENV_API_KEY).unwrap_or_default());
        if let Some(v) = lookup_nonempty(&lookup, ENV_VOICE_ID) {
            config.voice_id = v;
        }
        if let Some(v) = lookup_nonempty(&lookup, ENV_MODEL) {
            config.model_id = v;
        }
        if let Some(v) = lookup_nonempty(&lookup, ENV_BASE_URL) {
            config.base_url = v;
        }
        config
    }

    /// Sets the API key (sent as `xi-api-key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Sets the voice id.
    pub fn voice_id(mut self, voice_id: impl Into<String>) -> Self {
        self.voice_id = voice_id.into();
        self
    }

    /// Sets the model id (e.g. `eleven_flash_v2_5` for the lowest latency).
    pub fn model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = model_id.into();
        self
    }

    /// Sets the HTTPS base URL, e.g. `https://api.eu.residency.elevenlabs.io` or a local fake.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the websocket base URL; by default derived from the base URL (`https` → `wss`,
    /// `http` → `ws`).
    pub fn ws_base_url(mut self, url: impl Into<String>) -> Self {
        self.ws_base_url = Some(url.into());
        self
    }

    /// Sets the voice settings.
    pub fn voice_settings(mut self, settings: VoiceSettings) -> Self {
        self.voice_settings = Some(settings);
        self
    }

    /// Sets the language (ISO 639-1); only some models accept it.
    pub fn language_code(mut self, code: impl Into<String>) -> Self {
        self.language_code = Some(code.into());
        self
    }

    /// Sets the seed for best-effort determinism.
    pub fn seed(mut self, seed: u32) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets all time bounds at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Bound from the request to the first audio byte (10 s by default).
    pub fn first_byte_timeout(mut self, d: Duration) -> Self {
        self.timeouts.first_byte = d;
        self
    }

    /// Longest gap in the audio once it started (5 s by default).
    pub fn stall_timeout(mut self, d: Duration) -> Self {
        self.timeouts.stall = d;
        self
    }

    /// Wait for the closing mark (30 s by default).
    pub fn mark_timeout(mut self, d: Duration) -> Self {
        self.timeouts.mark = d;
        self
    }

    /// Websocket only: the `generation_config.chunk_length_schedule` (each item 50–500;
    /// default `[120, 160, 250, 290]`). Smaller first items give earlier first audio.
    pub fn chunk_length_schedule(mut self, schedule: impl Into<Vec<u16>>) -> Self {
        self.chunk_length_schedule = schedule.into();
        self
    }

    /// Websocket only: sets `try_trigger_generation` on every text message (default false).
    pub fn try_trigger_generation(mut self, on: bool) -> Self {
        self.try_trigger_generation = on;
        self
    }

    /// Websocket only: the `inactivity_timeout` query parameter in seconds (service default
    /// 20, max 180).
    pub fn inactivity_timeout(mut self, secs: u32) -> Self {
        self.inactivity_timeout = Some(secs);
        self
    }

    /// Websocket only: the `auto_mode` query parameter (disables the chunk schedule; best with
    /// whole sentences).
    pub fn auto_mode(mut self, on: bool) -> Self {
        self.auto_mode = Some(on);
        self
    }

    /// Whether an API key is set.
    pub fn has_api_key(&self) -> bool {
        !self.api_key.is_empty()
    }

    /// Checks what a provider needs before any request.
    pub(crate) fn validate(&self) -> Result<(), TtsError> {
        if self.api_key.is_empty() {
            return Err(TtsError::Config(format!(
                "no ElevenLabs API key (set {ENV_API_KEY} or ElevenLabsConfig::api_key)"
            )));
        }
        if self.voice_id.is_empty() || self.model_id.is_empty() {
            return Err(TtsError::Config("empty voice or model id".to_owned()));
        }
        for item in &self.chunk_length_schedule {
            if !(50..=500).contains(item) {
                return Err(TtsError::Config(format!(
                    "chunk_length_schedule items must be 50–500, got {item}"
                )));
            }
        }
        self.http_stream_url()?;
        self.ws_url()?;
        Ok(())
    }

    /// `{base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`.
    pub(crate) fn http_stream_url(&self) -> Result<Url, TtsError> {
        let mut url = parse_base(&self.base_url, &["http", "https"])?;
        push_path(
            &mut url,
            &["v1", "text-to-speech", &self.voice_id, "stream"],
        )?;
        url.query_pairs_mut()
            .append_pair("output_format", OUTPUT_FORMAT);
        Ok(url)
    }

    /// `{wss_base}/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=ulaw_8000…`.
    pub(crate) fn ws_url(&self) -> Result<Url, TtsError> {
        let mut url = match &self.ws_base_url {
            Some(base) => parse_base(base, &["ws", "wss"])?,
            None => {
                let mut url = parse_base(&self.base_url, &["http", "https"])?;
                let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
                url.set_scheme(scheme)
                    .map_err(|()| TtsError::Config("cannot derive websocket URL".to_owned()))?;
                url
            }
        };
        push_path(
            &mut url,
            &["v1", "text-to-speech", &self.voice_id, "stream-input"],
        )?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("model_id", &self.model_id);
            q.append_pair("output_format", OUTPUT_FORMAT);
            if let Some(code) = &self.language_code {
                q.append_pair("language_code", code);
            }
            if let Some(secs) = self.inactivity_timeout {
                q.append_pair("inactivity_timeout", &secs.to_string());
            }
            if let Some(on) = self.auto_mode {
                q.append_pair("auto_mode", if on { "true" } else { "false" });
            }
            if let Some(seed) = self.seed {
                q.append_pair("seed", &seed.to_string());
            }
        }
        Ok(url)
    }
}

fn parse_base(base: &str, schemes: &[&str]) -> Result<Url, TtsError> {
    let url = Url::parse(base.trim())
        .map_err(|e| TtsError::Config(format!("invalid ElevenLabs base URL {base:?}: {e}")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(TtsError::Config(format!(
            "ElevenLabs base URL {base:?} must use one of {schemes:?}"
        )));
    }
    Ok(url)
}

fn push_path(url: &mut Url, segments: &[&str]) -> Result<(), TtsError> {
    let shown = url.to_string();
    url.path_segments_mut()
        .map_err(|()| TtsError::Config(format!("base URL {shown} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_follow_the_original() {
        let c = ElevenLabsConfig::from_lookup(env(&[]));
        assert_eq!(c.voice_id, "21m00Tcm4TlvDq8ikWAM");
        assert_eq!(c.model_id, "eleven_multilingual_v2");
        assert_eq!(c.base_url, "https://api.elevenlabs.io");
        assert!(!c.has_api_key());
        assert!(matches!(c.validate(), Err(TtsError::Config(_))));
    }

    #[test]
    fn variables_and_builder_overrides() {
        let c = ElevenLabsConfig::from_lookup(env(&[
            ("ELEVENLABS_API_KEY", "sekrit"),
            ("ELEVENLABS_VOICE_ID", "v1"),
            ("ELEVENLABS_MODEL", "eleven_flash_v2_5"),
            (
                "ELEVENLABS_BASE_URL",
                "https://api.eu.residency.elevenlabs.io/",
            ),
        ]));
        assert_eq!(c.voice_id, "v1");
        assert_eq!(c.model_id, "eleven_flash_v2_5");
        assert!(c.validate().is_ok());
        assert_eq!(
            c.http_stream_url().expect("url").as_str(),
            "https://api.eu.residency.elevenlabs.io/v1/text-to-speech/v1/stream?output_format=ulaw_8000"
        );
        assert_eq!(
            c.ws_url().expect("url").as_str(),
            "wss://api.eu.residency.elevenlabs.io/v1/text-to-speech/v1/stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000"
        );
        let c = c
            .voice_id("custom_voice")
            .inactivity_timeout(60)
            .auto_mode(true);
        assert_eq!(
            c.ws_url().expect("url").as_str(),
            "wss://api.eu.residency.elevenlabs.io/v1/text-to-speech/custom_voice/stream-input?model_id=eleven_flash_v2_5&output_format=ulaw_8000&inactivity_timeout=60&auto_mode=true"
        );
    }

    #[test]
    fn key_is_never_printed() {
        let c = ElevenLabsConfig::new("sk_live_123");
        let shown = format!("{c:?}");
        assert!(!shown.contains("sk_live_123"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn local_bases_and_bad_input() {
        let c = ElevenLabsConfig::new("k").base_url("http://127.0.0.1:9000");
        assert_eq!(
            c.ws_url().expect("url").as_str(),
            "ws://127.0.0.1:9000/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input?model_id=eleven_multilingual_v2&output_format=ulaw_8000"
        );
        assert!(
            ElevenLabsConfig::new("k")
                .base_url("not a url")
                .validate()
                .is_err()
        );
        assert!(
            ElevenLabsConfig::new("k")
                .base_url("ftp://x")
                .validate()
                .is_err()
        );
        assert!(
            ElevenLabsConfig::new("k")
                .chunk_length_schedule([10])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn voice_settings_skip_unset_fields() {
        let s = VoiceSettings::new(0.5, 0.75).speed(1.1);
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"stability": 0.5, "similarity_boost": 0.75, "speed": 1.1f32})
        );
    }
}
