//! ElevenLabs Scribe realtime configuration: defaults, environment, builder, URL.

use std::fmt;
use std::time::Duration;

use vr_session::SttError;

use crate::{Backoff, FeedOptions};

/// Default REST base; the websocket base is derived from it (`https` → `wss`).
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// Default model (`STT_MODEL_ID`).
pub const DEFAULT_MODEL_ID: &str = "scribe_v2_realtime";
/// Default language (`STT_LANGUAGE_CODE`), as in the original's code.
pub const DEFAULT_LANGUAGE_CODE: &str = "en";
/// The realtime endpoint's path below the base URL.
pub const REALTIME_PATH: &str = "/v1/speech-to-text/realtime";
/// Speaking longer than this (strictly) makes the provider reconnect when the bot stops (B56).
pub const DEFAULT_RECONNECT_AFTER_SPEAKING: Duration = Duration::from_secs(10);
/// Default bound on opening a websocket.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on one send before the socket counts as stalled (a reconnect-class fault).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Environment variable: the API key.
pub const ENV_API_KEY: &str = "ELEVENLABS_API_KEY";
/// Environment variable: the model id.
pub const ENV_MODEL_ID: &str = "STT_MODEL_ID";
/// Environment variable: the language code.
pub const ENV_LANGUAGE_CODE: &str = "STT_LANGUAGE_CODE";
/// Environment variable: the base URL (residency regions, proxies, tests).
pub const ENV_BASE_URL: &str = "ELEVENLABS_BASE_URL";

/// Everything the ElevenLabs provider needs. Built with [`ElevenLabsSttBuilder`]; its `Debug`
/// output never shows the key.
#[derive(Clone)]
pub struct ElevenLabsSttConfig {
    pub(crate) api_key: String,
    pub(crate) base_url: String,
    pub(crate) model_id: String,
    pub(crate) language_code: Option<String>,
    pub(crate) vad_silence_threshold_secs: f64,
    pub(crate) vad_threshold: f64,
    pub(crate) min_speech_duration_ms: u32,
    pub(crate) min_silence_duration_ms: Option<u32>,
    pub(crate) include_timestamps: bool,
    pub(crate) include_language_detection: bool,
    pub(crate) keyterms: Vec<String>,
    pub(crate) no_verbatim: bool,
    pub(crate) enable_logging: Option<bool>,
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) feed: FeedOptions,
    pub(crate) reconnect_after_speaking: Option<Duration>,
}

impl fmt::Debug for ElevenLabsSttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElevenLabsSttConfig")
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("base_url", &self.base_url)
            .field("model_id", &self.model_id)
            .field("language_code", &self.language_code)
            .field(
                "vad_silence_threshold_secs",
                &self.vad_silence_threshold_secs,
            )
            .field("vad_threshold", &self.vad_threshold)
            .field("min_speech_duration_ms", &self.min_speech_duration_ms)
            .field("min_silence_duration_ms", &self.min_silence_duration_ms)
            .field("include_timestamps", &self.include_timestamps)
            .field(
                "include_language_detection",
                &self.include_language_detection,
            )
            .field("keyterms", &self.keyterms)
            .field("no_verbatim", &self.no_verbatim)
            .field("enable_logging", &self.enable_logging)
            .field("connect_timeout", &self.connect_timeout)
            .field("send_timeout", &self.send_timeout)
            .field("backoff", &self.backoff)
            .field("feed", &self.feed)
            .field("reconnect_after_speaking", &self.reconnect_after_speaking)
            .finish()
    }
}

impl Default for ElevenLabsSttConfig {
    fn default() -> Self {
        Self {
            api_key: String::new(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            model_id: DEFAULT_MODEL_ID.to_owned(),
            language_code: Some(DEFAULT_LANGUAGE_CODE.to_owned()),
            vad_silence_threshold_secs: 1.5,
            vad_threshold: 0.5,
            min_speech_duration_ms: 300,
            min_silence_duration_ms: None,
            include_timestamps: false,
            include_language_detection: false,
            keyterms: Vec::new(),
            no_verbatim: false,
            enable_logging: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            backoff: Backoff::default(),
            feed: FeedOptions::default(),
            reconnect_after_speaking: Some(DEFAULT_RECONNECT_AFTER_SPEAKING),
        }
    }
}

impl ElevenLabsSttConfig {
    /// The base URL (REST form or websocket form, as configured).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The model id.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The language code; `None` lets the service detect it.
    pub fn language_code(&self) -> Option<&str> {
        self.language_code.as_deref()
    }

    /// Whether an API key is set.
    pub fn has_api_key(&self) -> bool {
        !self.api_key.is_empty()
    }

    /// The websocket URL of a connection (it carries no credential):
    /// `{base_ws}/v1/speech-to-text/realtime?model_id=…&audio_format=ulaw_8000&commit_strategy=vad&…`.
    ///
    /// # Errors
    /// [`SttError::Config`] when the base URL is not a usable `http(s)`/`ws(s)` URL.
    pub fn realtime_url(&self) -> Result<url::Url, SttError> {
        let mut url = crate::ws::to_ws_url(&self.base_url).map_err(SttError::Config)?;
        let path = format!("{}{REALTIME_PATH}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(None);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("model_id", &self.model_id);
            q.append_pair("audio_format", super::protocol::AUDIO_FORMAT);
            q.append_pair("commit_strategy", "vad");
            if let Some(language) = &self.language_code {
                q.append_pair("language_code", language);
            }
            q.append_pair(
                "vad_silence_threshold_secs",
                &self.vad_silence_threshold_secs.to_string(),
            );
            q.append_pair("vad_threshold", &self.vad_threshold.to_string());
            q.append_pair(
                "min_speech_duration_ms",
                &self.min_speech_duration_ms.to_string(),
            );
            if let Some(ms) = self.min_silence_duration_ms {
                q.append_pair("min_silence_duration_ms", &ms.to_string());
            }
            if self.include_timestamps {
                q.append_pair("include_timestamps", "true");
            }
            if self.include_language_detection {
                q.append_pair("include_language_detection", "true");
            }
            if self.no_verbatim {
                q.append_pair("no_verbatim", "true");
            }
            if let Some(enabled) = self.enable_logging {
                q.append_pair("enable_logging", if enabled { "true" } else { "false" });
            }
            for term in &self.keyterms {
                q.append_pair("keyterms", term);
            }
        }
        Ok(url)
    }

    fn validate(&self) -> Result<(), SttError> {
        let bad = |m: String| Err(SttError::Config(m));
        if self.api_key.trim().is_empty() {
            return bad(format!("ElevenLabs API key missing (set {ENV_API_KEY})"));
        }
        if self.model_id.trim().is_empty() {
            return bad("ElevenLabs model id is empty".into());
        }
        if !(0.3..=3.0).contains(&self.vad_silence_threshold_secs) {
            return bad(format!(
                "vad_silence_threshold_secs {} outside 0.3..=3.0",
                self.vad_silence_threshold_secs
            ));
        }
        if !(0.1..=0.9).contains(&self.vad_threshold) {
            return bad(format!(
                "vad_threshold {} outside 0.1..=0.9",
                self.vad_threshold
            ));
        }
        if !(50..=2000).contains(&self.min_speech_duration_ms) {
            return bad(format!(
                "min_speech_duration_ms {} outside 50..=2000",
                self.min_speech_duration_ms
            ));
        }
        if let Some(ms) = self.min_silence_duration_ms {
            if !(50..=2000).contains(&ms) {
                return bad(format!("min_silence_duration_ms {ms} outside 50..=2000"));
            }
        }
        if self.keyterms.iter().any(|t| t.trim().is_empty()) {
            return bad("empty keyterm".into());
        }
        if self.connect_timeout.is_zero() || self.send_timeout.is_zero() {
            return bad("timeouts must be positive".into());
        }
        crate::ws::secret_header(&self.api_key).map_err(SttError::Config)?;
        self.realtime_url().map(|_| ())
    }
}

/// Builds an [`ElevenLabsStt`](super::ElevenLabsStt).
///
/// [`new`](Self::new) starts from the original's defaults (model `scribe_v2_realtime`,
/// language `en`, VAD silence 1.5 s, VAD threshold 0.5, minimum speech 300 ms, base
/// `https://api.elevenlabs.io`); [`from_env`](Self::from_env) also reads `ELEVENLABS_API_KEY`,
/// `STT_MODEL_ID`, `STT_LANGUAGE_CODE` and `ELEVENLABS_BASE_URL` at that moment. Builder
/// calls made afterwards win over the environment.
#[derive(Debug, Clone, Default)]
pub struct ElevenLabsSttBuilder {
    config: ElevenLabsSttConfig,
}

impl ElevenLabsSttBuilder {
    /// Defaults only; nothing is read from the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defaults overlaid with the process environment, read now.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Defaults overlaid with variables from `lookup` (same names as
    /// [`from_env`](Self::from_env)); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut b = Self::new();
        if let Some(key) = get(ENV_API_KEY) {
            b.config.api_key = key.trim().to_owned();
        }
        if let Some(model) = get(ENV_MODEL_ID) {
            b.config.model_id = model.trim().to_owned();
        }
        if let Some(language) = get(ENV_LANGUAGE_CODE) {
            b.config.language_code = Some(language.trim().to_owned());
        }
        if let Some(base) = get(ENV_BASE_URL) {
            b.config.base_url = base.trim().to_owned();
        }
        b
    }

    /// The API key, sent as the `xi-api-key` header.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = key.into();
        self
    }

    /// The base URL: `https://…` (converted to `wss://…`), `wss://…`, or `http://`/`ws://`
    /// for local tests and proxies. E.g. `https://api.eu.residency.elevenlabs.io`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }

    /// The model id (default `scribe_v2_realtime`).
    pub fn model_id(mut self, model: impl Into<String>) -> Self {
        self.config.model_id = model.into();
        self
    }

    /// The language (ISO 639-1 or 639-3, default `en`).
    pub fn language_code(mut self, language: impl Into<String>) -> Self {
        self.config.language_code = Some(language.into());
        self
    }

    /// Lets the service detect the language (no `language_code` parameter).
    pub fn auto_language(mut self) -> Self {
        self.config.language_code = None;
        self
    }

    /// Silence that ends a segment, in seconds (0.3–3.0, default 1.5).
    pub fn vad_silence_threshold_secs(mut self, secs: f64) -> Self {
        self.config.vad_silence_threshold_secs = secs;
        self
    }

    /// Voice-activity threshold (0.1–0.9, default 0.5).
    pub fn vad_threshold(mut self, threshold: f64) -> Self {
        self.config.vad_threshold = threshold;
        self
    }

    /// Shortest speech that counts, in ms (50–2000, default 300).
    pub fn min_speech_duration_ms(mut self, ms: u32) -> Self {
        self.config.min_speech_duration_ms = ms;
        self
    }

    /// Shortest silence that counts, in ms (50–2000; default: the service's, 100).
    pub fn min_silence_duration_ms(mut self, ms: u32) -> Self {
        self.config.min_silence_duration_ms = Some(ms);
        self
    }

    /// Adds a key term to bias recognition towards (sent as repeated `keyterms`).
    pub fn keyterm(mut self, term: impl Into<String>) -> Self {
        self.config.keyterms.push(term.into());
        self
    }

    /// Replaces the key terms.
    pub fn keyterms<I, S>(mut self, terms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.keyterms = terms.into_iter().map(Into::into).collect();
        self
    }

    /// Asks for word timestamps (`include_timestamps=true`). The service then also sends
    /// `committed_transcript_with_timestamps`; it is logged at debug level, and only
    /// `committed_transcript` is reported, so each commit is reported once.
    pub fn include_timestamps(mut self, on: bool) -> Self {
        self.config.include_timestamps = on;
        self
    }

    /// Asks for the detected language in committed results.
    pub fn include_language_detection(mut self, on: bool) -> Self {
        self.config.include_language_detection = on;
        self
    }

    /// Removes fillers and disfluencies (`no_verbatim=true`).
    pub fn no_verbatim(mut self, on: bool) -> Self {
        self.config.no_verbatim = on;
        self
    }

    /// `enable_logging=false` asks for zero retention (enterprise accounts).
    pub fn enable_logging(mut self, on: bool) -> Self {
        self.config.enable_logging = Some(on);
        self
    }

    /// Bound on opening a websocket (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Bound on one send before the socket counts as stalled (default 5 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.config.send_timeout = timeout;
        self
    }

    /// The reconnect policy (default: 1 s × 2^n, cap 30 s, ±25 %, 3 attempts).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// How audio is held across reconnects (default 10 s, replayed at ≤ 4× real time).
    pub fn feed(mut self, feed: FeedOptions) -> Self {
        self.config.feed = feed;
        self
    }

    /// Reconnect when the bot stops speaking after speaking longer than this
    /// (default 10 s, B56); `None` turns it off.
    pub fn reconnect_after_speaking(mut self, after: Option<Duration>) -> Self {
        self.config.reconnect_after_speaking = after;
        self
    }

    /// The configuration as it stands.
    pub fn config(&self) -> &ElevenLabsSttConfig {
        &self.config
    }

    /// Checks the configuration and makes the provider (no network yet).
    ///
    /// # Errors
    /// [`SttError::Config`] for a missing key, an unusable base URL or an option out of range.
    pub fn build(self) -> Result<super::ElevenLabsStt, SttError> {
        self.config.validate()?;
        Ok(super::ElevenLabsStt::with_config(self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &url::Url) -> Vec<(String, String)> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn default_url_matches_the_original_options() {
        let c = ElevenLabsSttConfig::default();
        let url = c.realtime_url().map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(
            url,
            "wss://api.elevenlabs.io/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&audio_format=ulaw_8000&commit_strategy=vad&language_code=en&vad_silence_threshold_secs=1.5&vad_threshold=0.5&min_speech_duration_ms=300"
        );
    }

    #[test]
    fn options_reach_the_query() {
        let b = ElevenLabsSttBuilder::new()
            .api_key("k")
            .base_url("http://127.0.0.1:9/proxy/")
            .auto_language()
            .min_silence_duration_ms(200)
            .include_timestamps(true)
            .include_language_detection(true)
            .no_verbatim(true)
            .enable_logging(false)
            .keyterms(["Hämeenlinna", "R&D"])
            .keyterm("x y");
        let url = b.config().realtime_url();
        let Ok(url) = url else {
            panic!("url: {url:?}");
        };
        assert_eq!(url.scheme(), "ws");
        assert_eq!(url.path(), "/proxy/v1/speech-to-text/realtime");
        let q = query(&url);
        assert!(!q.iter().any(|(k, _)| k == "language_code"));
        for (k, v) in [
            ("min_silence_duration_ms", "200"),
            ("include_timestamps", "true"),
            ("include_language_detection", "true"),
            ("no_verbatim", "true"),
            ("enable_logging", "false"),
        ] {
            assert!(q.contains(&(k.into(), v.into())), "{k}");
        }
        let terms: Vec<&str> = q
            .iter()
            .filter(|(k, _)| k == "keyterms")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(terms, ["Hämeenlinna", "R&D", "x y"]);
        assert!(b.build().is_ok());
    }

    #[test]
    fn env_is_read_at_construction_and_builder_wins() {
        let env = |name: &str| match name {
            ENV_API_KEY => Some("secret-key".to_owned()),
            ENV_MODEL_ID => Some("scribe_x".to_owned()),
            ENV_LANGUAGE_CODE => Some("fi".to_owned()),
            ENV_BASE_URL => Some("https://api.eu.residency.elevenlabs.io".to_owned()),
            _ => None,
        };
        let b = ElevenLabsSttBuilder::from_lookup(env);
        let c = b.config();
        assert_eq!(c.model_id(), "scribe_x");
        assert_eq!(c.language_code(), Some("fi"));
        assert!(c.has_api_key());
        let url = c.realtime_url().map(|u| u.host_str().map(str::to_owned));
        assert_eq!(url, Ok(Some("api.eu.residency.elevenlabs.io".into())));
        let b = b.language_code("sv");
        assert_eq!(b.config().language_code(), Some("sv"));
        let dbg = format!("{:?}", b.config());
        assert!(!dbg.contains("secret-key"), "{dbg}");
        assert!(dbg.contains("<redacted>"));

        // Empty values count as unset.
        let b = ElevenLabsSttBuilder::from_lookup(|_| Some(" ".into()));
        assert_eq!(b.config().model_id(), DEFAULT_MODEL_ID);
        assert_eq!(b.config().language_code(), Some(DEFAULT_LANGUAGE_CODE));
    }

    #[test]
    fn validation_rejects_bad_options() {
        let ok = ElevenLabsSttBuilder::new().api_key("k");
        assert!(ok.clone().build().is_ok());
        assert!(matches!(
            ElevenLabsSttBuilder::new().build(),
            Err(SttError::Config(_))
        ));
        for b in [
            ok.clone().vad_threshold(0.95),
            ok.clone().vad_silence_threshold_secs(0.1),
            ok.clone().min_speech_duration_ms(10),
            ok.clone().min_silence_duration_ms(5000),
            ok.clone().base_url("ftp://x"),
            ok.clone().keyterm(" "),
            ok.clone().connect_timeout(Duration::ZERO),
            ok.clone().api_key("bad\nkey"),
        ] {
            assert!(matches!(b.build(), Err(SttError::Config(_))));
        }
    }
}
