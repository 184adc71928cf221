//! Azure text-to-speech configuration: environment variables and builder options.

use std::fmt;
use std::time::Duration;

use url::Url;
use vr_session::TtsError;

use super::ssml::language_of_voice;
use crate::Timeouts;
use crate::util::lookup_nonempty;

/// Default region.
pub const DEFAULT_REGION: &str = "westeurope";
/// Default voice.
pub const DEFAULT_VOICE: &str = "fi-FI-NooraNeural";
/// Default `User-Agent` (the service requires one).
pub const DEFAULT_USER_AGENT: &str = "voice-runtime";
/// The output format asked for: raw 8 kHz 8-bit μ-law, what a phone call plays.
pub const OUTPUT_FORMAT: &str = "raw-8khz-8bit-mono-mulaw";

/// Environment variable with the resource key.
pub const ENV_KEY: &str = "AZURE_SPEECH_KEY";
/// Environment variable with the region.
pub const ENV_REGION: &str = "AZURE_SPEECH_REGION";
/// Environment variable with the voice name.
pub const ENV_VOICE: &str = "AZURE_TTS_VOICE";
/// Environment variable with a full custom endpoint URL (overrides the region).
pub const ENV_ENDPOINT: &str = "AZURE_TTS_ENDPOINT";

/// Configuration of [`AzureTts`](super::AzureTts). Build it from the environment
/// ([`from_env`](Self::from_env)) or from scratch ([`new`](Self::new)) and refine it with the
/// builder methods. The key never appears in `Debug` output, logs or errors.
#[derive(Clone)]
pub struct AzureTtsConfig {
    pub(crate) key: String,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) voice: String,
    pub(crate) language: Option<String>,
    pub(crate) user_agent: String,
    pub(crate) timeouts: Timeouts,
}

impl fmt::Debug for AzureTtsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureTtsConfig")
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
            .field("voice", &self.voice)
            .field("language", &self.language)
            .field("user_agent", &self.user_agent)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl AzureTtsConfig {
    /// Defaults (`westeurope`, `fi-FI-NooraNeural`) with `key`; reads no environment.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            region: DEFAULT_REGION.to_owned(),
            endpoint: None,
            voice: DEFAULT_VOICE.to_owned(),
            language: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            timeouts: Timeouts::default(),
        }
    }

    /// Reads `AZURE_SPEECH_KEY`, `AZURE_SPEECH_REGION`, `AZURE_TTS_VOICE` and
    /// `AZURE_TTS_ENDPOINT` from the process environment (read now, at construction; blank
    /// values count as unset).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) but reads variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::new(lookup_nonempty(&lookup, ENV_KEY).unwrap_or_default());
        if let Some(v) = lookup_nonempty(&lookup, ENV_REGION) {
            config.region = v;
        }
        if let Some(v) = lookup_nonempty(&lookup, ENV_VOICE) {
            config.voice = v;
        }
        config.endpoint = lookup_nonempty(&lookup, ENV_ENDPOINT);
        config
    }

    /// Sets the resource key (sent as `Ocp-Apim-Subscription-Key`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets the region, e.g. `northeurope` (ignored when an endpoint is set).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets a full endpoint URL instead of the regional one (a custom domain, a container, a
    /// local fake: `http://127.0.0.1:PORT/cognitiveservices/v1`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Sets the voice, e.g. `fi-FI-HarriNeural`.
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = voice.into();
        self
    }

    /// Sets the SSML language; by default derived from the voice name (`fi-FI-…` → `fi-FI`).
    pub fn language(mut self, lang: impl Into<String>) -> Self {
        self.language = Some(lang.into());
        self
    }

    /// Sets the `User-Agent` (fewer than 255 characters).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
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

    /// The voice in use.
    pub fn voice_name(&self) -> &str {
        &self.voice
    }

    /// The region in use.
    pub fn region_name(&self) -> &str {
        &self.region
    }

    /// Whether a key is set.
    pub fn has_key(&self) -> bool {
        !self.key.is_empty()
    }

    /// The SSML language: the explicit one, else derived from the voice.
    pub fn language_tag(&self) -> String {
        self.language
            .clone()
            .unwrap_or_else(|| language_of_voice(&self.voice))
    }

    /// The endpoint requests go to: the custom one, else
    /// `https://{region}.tts.speech.{microsoft.com|azure.us|azure.cn}/cognitiveservices/v1`.
    pub fn endpoint_url(&self) -> Result<Url, TtsError> {
        let raw = match &self.endpoint {
            Some(e) => e.trim().to_owned(),
            None => {
                let region = self.region.trim().to_ascii_lowercase();
                if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(TtsError::Config(format!("invalid Azure region {region:?}")));
                }
                // Sovereign clouds, as the Speech SDK's host-suffix rule has it.
                let suffix = if region.starts_with("usgov") {
                    "azure.us"
                } else if region.starts_with("china") {
                    "azure.cn"
                } else {
                    "microsoft.com"
                };
                format!("https://{region}.tts.speech.{suffix}/cognitiveservices/v1")
            }
        };
        let url = Url::parse(&raw)
            .map_err(|e| TtsError::Config(format!("invalid Azure TTS endpoint {raw:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TtsError::Config(format!(
                "Azure TTS endpoint {raw:?} must be http or https"
            )));
        }
        Ok(url)
    }

    pub(crate) fn validate(&self) -> Result<(), TtsError> {
        if self.key.is_empty() {
            return Err(TtsError::Config(format!(
                "no Azure Speech key (set {ENV_KEY} or AzureTtsConfig::key)"
            )));
        }
        if self.voice.trim().is_empty() {
            return Err(TtsError::Config("empty Azure voice".to_owned()));
        }
        if self.user_agent.is_empty() || self.user_agent.chars().count() >= 255 {
            return Err(TtsError::Config(
                "the User-Agent must be 1–254 characters".to_owned(),
            ));
        }
        self.endpoint_url()?;
        Ok(())
    }
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
        let c = AzureTtsConfig::from_lookup(env(&[]));
        assert_eq!(c.region, "westeurope");
        assert_eq!(c.voice, "fi-FI-NooraNeural");
        assert_eq!(c.language_tag(), "fi-FI");
        assert!(!c.has_key());
        assert!(matches!(c.validate(), Err(TtsError::Config(_))));
        assert_eq!(
            c.endpoint_url().expect("url").as_str(),
            "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
        );
    }

    #[test]
    fn variables_and_overrides() {
        let c = AzureTtsConfig::from_lookup(env(&[
            ("AZURE_SPEECH_KEY", "k"),
            ("AZURE_SPEECH_REGION", "northeurope"),
            ("AZURE_TTS_VOICE", "fi-FI-HarriNeural"),
        ]));
        assert!(c.validate().is_ok());
        assert_eq!(c.voice, "fi-FI-HarriNeural");
        assert_eq!(
            c.endpoint_url().expect("url").as_str(),
            "https://northeurope.tts.speech.microsoft.com/cognitiveservices/v1"
        );
        let c = c.language("sv-FI");
        assert_eq!(c.language_tag(), "sv-FI");
        let c = AzureTtsConfig::from_lookup(env(&[
            ("AZURE_SPEECH_KEY", "k"),
            (
                "AZURE_TTS_ENDPOINT",
                "http://127.0.0.1:9/cognitiveservices/v1",
            ),
        ]));
        assert_eq!(
            c.endpoint_url().expect("url").as_str(),
            "http://127.0.0.1:9/cognitiveservices/v1"
        );
    }

    #[test]
    fn sovereign_clouds_and_bad_regions() {
        let url = |r: &str| AzureTtsConfig::new("k").region(r).endpoint_url();
        assert_eq!(
            url("usgovvirginia").expect("url").as_str(),
            "https://usgovvirginia.tts.speech.azure.us/cognitiveservices/v1"
        );
        assert_eq!(
            url("chinaeast2").expect("url").as_str(),
            "https://chinaeast2.tts.speech.azure.cn/cognitiveservices/v1"
        );
        assert!(url("west europe").is_err());
        assert!(url("evil.com/x").is_err());
        assert!(
            AzureTtsConfig::new("k")
                .endpoint("ftp://x")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn key_is_never_printed() {
        let shown = format!("{:?}", AzureTtsConfig::new("0123456789abcdef"));
        assert!(!shown.contains("0123456789abcdef"));
    }
}
