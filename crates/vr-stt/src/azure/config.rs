//! Azure Speech recognition configuration: defaults, environment, builder, URL.

use std::fmt;
use std::time::Duration;

use vr_session::SttError;

use crate::{Backoff, FeedOptions};

/// Default region (`AZURE_SPEECH_REGION`).
pub const DEFAULT_REGION: &str = "westeurope";
/// Default recognition language.
pub const DEFAULT_LANGUAGE: &str = "fi-FI";
/// Default end-silence timeout (the original's `EndSilenceTimeoutMs`).
pub const DEFAULT_END_SILENCE_TIMEOUT_MS: u32 = 1500;
/// The continuous-recognition ("conversation", endpoint v1) path.
pub const CONVERSATION_PATH: &str = "/speech/recognition/conversation/cognitiveservices/v1";
/// Default bound on opening a websocket.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on one send before the socket counts as stalled.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Environment variable: the resource key.
pub const ENV_KEY: &str = "AZURE_SPEECH_KEY";
/// Environment variable: the region.
pub const ENV_REGION: &str = "AZURE_SPEECH_REGION";
/// Environment variable: a full endpoint URL overriding the region's.
pub const ENV_ENDPOINT: &str = "AZURE_SPEECH_ENDPOINT";

/// The service's profanity handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profanity {
    /// Replace profanity with asterisks (the service default).
    Masked,
    /// Remove it.
    Removed,
    /// Keep it.
    Raw,
}

impl Profanity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Masked => "masked",
            Self::Removed => "removed",
            Self::Raw => "raw",
        }
    }
}

/// Everything the Azure provider needs. Built with [`AzureSttBuilder`]; its `Debug` output
/// never shows the key.
#[derive(Clone)]
pub struct AzureSttConfig {
    pub(crate) key: String,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) language: String,
    pub(crate) endpoint_id: Option<String>,
    pub(crate) end_silence_timeout_ms: Option<u32>,
    pub(crate) segmentation_silence_timeout_ms: Option<u32>,
    pub(crate) initial_silence_timeout_ms: Option<u32>,
    pub(crate) profanity: Option<Profanity>,
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) feed: FeedOptions,
}

impl fmt::Debug for AzureSttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureSttConfig")
            .field(
                "key",
                &if self.key.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("language", &self.language)
            .field("endpoint_id", &self.endpoint_id)
            .field("end_silence_timeout_ms", &self.end_silence_timeout_ms)
            .field(
                "segmentation_silence_timeout_ms",
                &self.segmentation_silence_timeout_ms,
            )
            .field(
                "initial_silence_timeout_ms",
                &self.initial_silence_timeout_ms,
            )
            .field("profanity", &self.profanity)
            .field("connect_timeout", &self.connect_timeout)
            .field("send_timeout", &self.send_timeout)
            .field("backoff", &self.backoff)
            .field("feed", &self.feed)
            .finish()
    }
}

impl Default for AzureSttConfig {
    fn default() -> Self {
        Self {
            key: String::new(),
            region: DEFAULT_REGION.to_owned(),
            endpoint: None,
            language: DEFAULT_LANGUAGE.to_owned(),
            endpoint_id: None,
            end_silence_timeout_ms: Some(DEFAULT_END_SILENCE_TIMEOUT_MS),
            segmentation_silence_timeout_ms: None,
            initial_silence_timeout_ms: None,
            profanity: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            backoff: Backoff::default(),
            feed: FeedOptions::default(),
        }
    }
}

/// The host suffix of a region: `usgov…` → `azure.us`, `china…` → `azure.cn`, else
/// `microsoft.com` (as the JS SDK's `getHostSuffix`).
fn host_suffix(region: &str) -> &'static str {
    let r = region.to_ascii_lowercase();
    if r.starts_with("usgov") {
        "azure.us"
    } else if r.starts_with("china") {
        "azure.cn"
    } else {
        "microsoft.com"
    }
}

impl AzureSttConfig {
    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The custom endpoint, if one is set.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The recognition language.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Whether a key is set.
    pub fn has_key(&self) -> bool {
        !self.key.is_empty()
    }

    /// The websocket URL of a connection (it carries no credential):
    /// `wss://{region}.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1?language=fi-FI&format=simple&endSilenceTimeoutMs=1500`,
    /// or the custom endpoint with the same query added (an endpoint without a path gets the
    /// conversation path; query keys it already has are kept).
    ///
    /// # Errors
    /// [`SttError::Config`] when the endpoint or region does not make a usable URL.
    pub fn recognition_url(&self) -> Result<url::Url, SttError> {
        let mut url = match &self.endpoint {
            Some(endpoint) => {
                let mut url = crate::ws::to_ws_url(endpoint).map_err(SttError::Config)?;
                if url.path().is_empty() || url.path() == "/" {
                    url.set_path(CONVERSATION_PATH);
                }
                url
            }
            None => {
                let region = self.region.trim();
                if region.is_empty()
                    || !region
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err(SttError::Config(format!(
                        "invalid Azure region {:?} (set {ENV_REGION})",
                        self.region
                    )));
                }
                let base = format!(
                    "wss://{}.stt.speech.{}{CONVERSATION_PATH}",
                    region.to_ascii_lowercase(),
                    host_suffix(region)
                );
                url::Url::parse(&base).map_err(|e| SttError::Config(e.to_string()))?
            }
        };
        let existing: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut params: Vec<(&str, String)> = Vec::new();
        match &self.endpoint_id {
            // A custom model replaces the language parameter.
            Some(cid) => params.push(("cid", cid.clone())),
            None => params.push(("language", self.language.clone())),
        }
        params.push(("format", "simple".to_owned()));
        if let Some(ms) = self.end_silence_timeout_ms {
            params.push(("endSilenceTimeoutMs", ms.to_string()));
        }
        if let Some(ms) = self.segmentation_silence_timeout_ms {
            params.push(("segmentationSilenceTimeoutMs", ms.to_string()));
        }
        if let Some(ms) = self.initial_silence_timeout_ms {
            params.push(("initialSilenceTimeoutMs", ms.to_string()));
        }
        if let Some(p) = self.profanity {
            params.push(("profanity", p.as_str().to_owned()));
        }
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &params {
                if !existing.iter().any(|e| e == k) {
                    q.append_pair(k, v);
                }
            }
        }
        Ok(url)
    }

    fn validate(&self) -> Result<(), SttError> {
        let bad = |m: String| Err(SttError::Config(m));
        if self.key.trim().is_empty() {
            return bad(format!("Azure Speech key missing (set {ENV_KEY})"));
        }
        if self.language.trim().is_empty() && self.endpoint_id.is_none() {
            return bad("Azure recognition language is empty".into());
        }
        if let Some(ms) = self.segmentation_silence_timeout_ms {
            if !(100..=5000).contains(&ms) {
                return bad(format!(
                    "segmentation_silence_timeout_ms {ms} outside 100..=5000"
                ));
            }
        }
        if self.connect_timeout.is_zero() || self.send_timeout.is_zero() {
            return bad("timeouts must be positive".into());
        }
        crate::ws::secret_header(&self.key).map_err(SttError::Config)?;
        self.recognition_url().map(|_| ())
    }
}

/// Builds an [`AzureStt`](super::AzureStt).
///
/// [`new`](Self::new) starts from the original's defaults (region `westeurope`, language
/// `fi-FI`, end-silence timeout 1500 ms); [`from_env`](Self::from_env) also reads
/// `AZURE_SPEECH_KEY`, `AZURE_SPEECH_REGION` and `AZURE_SPEECH_ENDPOINT` at that moment.
/// Builder calls made afterwards win over the environment.
#[derive(Debug, Clone, Default)]
pub struct AzureSttBuilder {
    config: AzureSttConfig,
}

impl AzureSttBuilder {
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
        if let Some(key) = get(ENV_KEY) {
            b.config.key = key.trim().to_owned();
        }
        if let Some(region) = get(ENV_REGION) {
            b.config.region = region.trim().to_owned();
        }
        if let Some(endpoint) = get(ENV_ENDPOINT) {
            b.config.endpoint = Some(endpoint.trim().to_owned());
        }
        b
    }

    /// The resource key, sent as `Ocp-Apim-Subscription-Key`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.config.key = key.into();
        self
    }

    /// The region, e.g. `westeurope`, `swedencentral` (ignored when an endpoint is set).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = region.into();
        self
    }

    /// A full endpoint URL instead of the region's (`wss://…`, `https://…`, or `ws://…` for
    /// tests and proxies), e.g. `ws://127.0.0.1:9000/speech/recognition/conversation/cognitiveservices/v1`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.config.endpoint = Some(url.into());
        self
    }

    /// The recognition language (default `fi-FI`).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.config.language = language.into();
        self
    }

    /// A Custom Speech model's endpoint id (`cid`; replaces the `language` parameter).
    pub fn endpoint_id(mut self, id: impl Into<String>) -> Self {
        self.config.endpoint_id = Some(id.into());
        self
    }

    /// End-silence timeout in ms (default 1500); `None` leaves it to the service.
    pub fn end_silence_timeout_ms(mut self, ms: Option<u32>) -> Self {
        self.config.end_silence_timeout_ms = ms;
        self
    }

    /// Segmentation silence timeout in ms (100–5000): the documented knob for phrase ends in
    /// continuous recognition. Not sent by default (the original did not set it).
    pub fn segmentation_silence_timeout_ms(mut self, ms: u32) -> Self {
        self.config.segmentation_silence_timeout_ms = Some(ms);
        self
    }

    /// Initial silence timeout in ms (0 disables).
    pub fn initial_silence_timeout_ms(mut self, ms: u32) -> Self {
        self.config.initial_silence_timeout_ms = Some(ms);
        self
    }

    /// Profanity handling (service default: masked).
    pub fn profanity(mut self, profanity: Profanity) -> Self {
        self.config.profanity = Some(profanity);
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

    /// The configuration as it stands.
    pub fn config(&self) -> &AzureSttConfig {
        &self.config
    }

    /// Checks the configuration and makes the provider (no network yet).
    ///
    /// # Errors
    /// [`SttError::Config`] for a missing key, an unusable region or endpoint, or an option
    /// out of range.
    pub fn build(self) -> Result<super::AzureStt, SttError> {
        self.config.validate()?;
        super::AzureStt::with_config(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_is_the_conversation_endpoint() {
        let url = AzureSttConfig::default()
            .recognition_url()
            .map(|u| u.to_string());
        assert_eq!(
            url.as_deref(),
            Ok(
                "wss://westeurope.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1?language=fi-FI&format=simple&endSilenceTimeoutMs=1500"
            )
        );
    }

    #[test]
    fn sovereign_clouds_get_their_suffix() {
        let mut c = AzureSttConfig {
            region: "usgovvirginia".into(),
            ..AzureSttConfig::default()
        };
        let host = |c: &AzureSttConfig| {
            c.recognition_url()
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
        };
        assert_eq!(
            host(&c).as_deref(),
            Some("usgovvirginia.stt.speech.azure.us")
        );
        c.region = "chinaeast2".into();
        assert_eq!(host(&c).as_deref(), Some("chinaeast2.stt.speech.azure.cn"));
        c.region = "bad/region".into();
        assert!(c.recognition_url().is_err());
    }

    #[test]
    fn endpoint_and_options_reach_the_url() {
        let b = AzureSttBuilder::new()
            .key("k")
            .endpoint("http://127.0.0.1:9/?language=sv-SE")
            .segmentation_silence_timeout_ms(500)
            .initial_silence_timeout_ms(0)
            .profanity(Profanity::Raw);
        let url = b.config().recognition_url().expect("url");
        assert_eq!(url.scheme(), "ws");
        assert_eq!(url.path(), CONVERSATION_PATH);
        let q: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            q.iter().filter(|(k, _)| k == "language").count(),
            1,
            "{q:?}"
        );
        for (k, v) in [
            ("language", "sv-SE"),
            ("format", "simple"),
            ("endSilenceTimeoutMs", "1500"),
            ("segmentationSilenceTimeoutMs", "500"),
            ("initialSilenceTimeoutMs", "0"),
            ("profanity", "raw"),
        ] {
            assert!(q.contains(&(k.into(), v.into())), "{k}: {q:?}");
        }
        let url = AzureSttBuilder::new()
            .endpoint_id("abc")
            .end_silence_timeout_ms(None)
            .config()
            .recognition_url()
            .expect("url");
        assert_eq!(url.query(), Some("cid=abc&format=simple"));
        assert!(b.build().is_ok());
    }

    #[test]
    fn env_is_read_at_construction_and_redacted() {
        let b = AzureSttBuilder::from_lookup(|n| match n {
            ENV_KEY => Some("very-secret".into()),
            ENV_REGION => Some("swedencentral".into()),
            _ => None,
        });
        assert_eq!(b.config().region(), "swedencentral");
        assert!(b.config().has_key());
        assert_eq!(b.config().endpoint(), None);
        let dbg = format!("{:?}", b.config());
        assert!(!dbg.contains("very-secret"));
        let b = AzureSttBuilder::from_lookup(|n| {
            (n == ENV_ENDPOINT).then(|| "ws://127.0.0.1:1/x".to_owned())
        });
        assert_eq!(b.config().endpoint(), Some("ws://127.0.0.1:1/x"));
        assert_eq!(b.config().region(), DEFAULT_REGION);
        assert_eq!(b.config().language(), DEFAULT_LANGUAGE);
    }

    #[test]
    fn validation_rejects_bad_options() {
        assert!(matches!(
            AzureSttBuilder::new().build(),
            Err(SttError::Config(_))
        ));
        let ok = AzureSttBuilder::new().key("k");
        assert!(ok.clone().build().is_ok());
        for b in [
            ok.clone().segmentation_silence_timeout_ms(50),
            ok.clone().language(" "),
            ok.clone().endpoint("ftp://x"),
            ok.clone().region(""),
            ok.clone().send_timeout(Duration::ZERO),
        ] {
            assert!(matches!(b.build(), Err(SttError::Config(_))));
        }
    }
}
