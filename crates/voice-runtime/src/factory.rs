//! Provider factories (B120–B122): names to providers, configured from the environment.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use vr_mock::{MockStt, MockTts};
use vr_session::{SttFactory, SttProvider, TtsProvider};
use vr_twilio::rest::{ConfigError, RestError, SmsResult, TwilioConfig};

/// A speech-to-text provider name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttKind {
    /// ElevenLabs Scribe realtime (feature `elevenlabs`).
    ElevenLabs,
    /// Azure Speech (feature `azure`).
    Azure,
    /// [`MockStt`]: injected or scripted transcripts, no network.
    Mock,
}

/// A text-to-speech provider name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsKind {
    /// ElevenLabs HTTP streaming (feature `elevenlabs`).
    ElevenLabs,
    /// Azure Speech (feature `azure`).
    Azure,
    /// [`MockTts`]: a speech-like signal, about 60 ms per character, no network.
    Mock,
}

/// Why a provider could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// The name is not a speech-to-text provider (names are case-sensitive, B121).
    #[error("Unknown STT provider: {0}")]
    UnknownStt(String),
    /// The name is not a text-to-speech provider (B120).
    #[error("Unknown TTS provider: {0}")]
    UnknownTts(String),
    /// The provider exists but this build left it out.
    #[error("provider `{provider}` needs voice-runtime's cargo feature `{feature}`")]
    NotCompiled {
        /// The provider name.
        provider: &'static str,
        /// The feature that adds it.
        feature: &'static str,
    },
    /// The speech-to-text provider's configuration is unusable (e.g. a missing key).
    #[error(transparent)]
    Stt(#[from] vr_session::SttError),
    /// The text-to-speech provider's configuration is unusable (e.g. a missing key).
    #[error(transparent)]
    Tts(#[from] vr_session::TtsError),
    /// Unknown SMS transport (B108).
    #[error("Unknown SMS transport: {0}")]
    UnknownSms(String),
    /// Twilio settings are missing or invalid.
    #[error(transparent)]
    Twilio(#[from] ConfigError),
}

impl FromStr for SttKind {
    type Err = FactoryError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "elevenlabs" => Ok(Self::ElevenLabs),
            "azure" => Ok(Self::Azure),
            "mock" => Ok(Self::Mock),
            other => Err(FactoryError::UnknownStt(other.to_owned())),
        }
    }
}

impl FromStr for TtsKind {
    type Err = FactoryError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "elevenlabs" => Ok(Self::ElevenLabs),
            "azure" => Ok(Self::Azure),
            "mock" => Ok(Self::Mock),
            other => Err(FactoryError::UnknownTts(other.to_owned())),
        }
    }
}

impl fmt::Display for SttKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ElevenLabs => "elevenlabs",
            Self::Azure => "azure",
            Self::Mock => "mock",
        })
    }
}

impl fmt::Display for TtsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ElevenLabs => "elevenlabs",
            Self::Azure => "azure",
            Self::Mock => "mock",
        })
    }
}

/// Environment lookup: `std::env::var` in production, a map in tests.
pub type Lookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// An owned [`Lookup`], kept by factories for their per-call builds.
pub type SharedLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Checks a provider name without building anything (the original's `get_stt_class`).
///
/// # Errors
/// [`FactoryError::UnknownStt`] for an unknown name.
pub fn get_stt_class(provider: &str) -> Result<SttKind, FactoryError> {
    provider.parse()
}

/// A speech-to-text provider configured from the environment (B121).
///
/// # Errors
/// Unknown names, providers left out of the build, unusable configuration.
pub fn create_stt(provider: &str) -> Result<Box<dyn SttProvider>, FactoryError> {
    create_stt_with(provider.parse()?, &process_env)
}

/// As [`create_stt`], reading settings through `lookup`.
///
/// # Errors
/// Providers left out of the build, unusable configuration.
pub fn create_stt_with(
    kind: SttKind,
    lookup: Lookup<'_>,
) -> Result<Box<dyn SttProvider>, FactoryError> {
    match kind {
        SttKind::Mock => Ok(Box::new(MockStt::new())),
        #[cfg(feature = "elevenlabs")]
        SttKind::ElevenLabs => Ok(Box::new(
            vr_stt::elevenlabs::ElevenLabsSttBuilder::from_lookup(lookup).build()?,
        )),
        #[cfg(not(feature = "elevenlabs"))]
        SttKind::ElevenLabs => Err(FactoryError::NotCompiled {
            provider: "elevenlabs",
            feature: "elevenlabs",
        }),
        #[cfg(feature = "azure")]
        SttKind::Azure => Ok(Box::new(
            vr_stt::azure::AzureSttBuilder::from_lookup(lookup).build()?,
        )),
        #[cfg(not(feature = "azure"))]
        SttKind::Azure => Err(FactoryError::NotCompiled {
            provider: "azure",
            feature: "azure",
        }),
    }
}

/// A factory for [`vr_session::VoiceSession::set_stt_factory`]: the configuration is checked
/// now (so a missing key fails at startup, not on the first call) and a fresh provider is
/// built for every call.
///
/// # Errors
/// As [`create_stt`].
pub fn stt_factory(provider: &str) -> Result<SttFactory, FactoryError> {
    stt_factory_with(provider.parse()?, Arc::new(process_env))
}

/// As [`stt_factory`], reading settings through `lookup` (kept for the per-call builds).
///
/// # Errors
/// As [`create_stt_with`].
pub fn stt_factory_with(kind: SttKind, lookup: SharedLookup) -> Result<SttFactory, FactoryError> {
    create_stt_with(kind, lookup.as_ref())?;
    Ok(Arc::new(move || {
        create_stt_with(kind, lookup.as_ref()).map_err(|e| match e {
            FactoryError::Stt(e) => e,
            other => vr_session::SttError::Other(other.to_string()),
        })
    }))
}

/// A text-to-speech provider configured from the environment (B120). One provider serves
/// every call.
///
/// # Errors
/// Unknown names, providers left out of the build, unusable configuration.
pub fn create_tts(provider: &str) -> Result<Arc<dyn TtsProvider>, FactoryError> {
    create_tts_with(provider.parse()?, &process_env)
}

/// As [`create_tts`], reading settings through `lookup`.
///
/// # Errors
/// Providers left out of the build, unusable configuration.
pub fn create_tts_with(
    kind: TtsKind,
    lookup: Lookup<'_>,
) -> Result<Arc<dyn TtsProvider>, FactoryError> {
    match kind {
        TtsKind::Mock => Ok(Arc::new(MockTts::new())),
        #[cfg(feature = "elevenlabs")]
        TtsKind::ElevenLabs => Ok(Arc::new(vr_tts::ElevenLabsTts::new(
            vr_tts::ElevenLabsConfig::from_lookup(lookup),
        )?)),
        #[cfg(not(feature = "elevenlabs"))]
        TtsKind::ElevenLabs => Err(FactoryError::NotCompiled {
            provider: "elevenlabs",
            feature: "elevenlabs",
        }),
        #[cfg(feature = "azure")]
        TtsKind::Azure => Ok(Arc::new(vr_tts::AzureTts::new(
            vr_tts::AzureTtsConfig::from_lookup(lookup),
        )?)),
        #[cfg(not(feature = "azure"))]
        TtsKind::Azure => Err(FactoryError::NotCompiled {
            provider: "azure",
            feature: "azure",
        }),
    }
}

/// Sends SMS through Twilio (the original's `get_sms_transport("twilio")`, B108–B109).
#[derive(Debug, Clone)]
pub struct SmsTransport {
    config: TwilioConfig,
}

impl SmsTransport {
    /// Sends `body` to `to` from `TWILIO_PHONE_NUMBER`.
    ///
    /// # Errors
    /// Missing credentials (checked first) or phone number, then REST errors.
    pub async fn send_sms(&self, to: &str, body: &str) -> Result<SmsResult, RestError> {
        self.config.credentials()?;
        self.config.require_phone_number()?;
        self.config.rest_client()?.send_sms(to, body).await
    }
}

/// The SMS transport for `provider` (only `twilio`), configured from the environment.
///
/// # Errors
/// [`FactoryError::UnknownSms`] for other names; malformed Twilio settings.
pub fn get_sms_transport(provider: &str) -> Result<SmsTransport, FactoryError> {
    if provider != "twilio" {
        return Err(FactoryError::UnknownSms(provider.to_owned()));
    }
    Ok(SmsTransport {
        config: TwilioConfig::from_env()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn names_are_case_sensitive_with_the_originals_messages() {
        assert_eq!(get_stt_class("mock").unwrap(), SttKind::Mock);
        assert_eq!(
            get_stt_class("Mock").unwrap_err().to_string(),
            "Unknown STT provider: Mock"
        );
        assert_eq!(
            "whisper".parse::<TtsKind>().unwrap_err().to_string(),
            "Unknown TTS provider: whisper"
        );
        assert_eq!(
            get_sms_transport("nexmo").unwrap_err().to_string(),
            "Unknown SMS transport: nexmo"
        );
    }

    #[test]
    fn mock_providers_need_no_configuration() {
        assert_eq!(
            create_stt_with(SttKind::Mock, &none).unwrap().name(),
            "mock"
        );
        assert!(create_tts_with(TtsKind::Mock, &none).is_ok());
    }

    #[cfg(feature = "elevenlabs")]
    #[test]
    fn real_providers_without_keys_fail_at_construction() {
        let Err(err) = stt_factory_with(SttKind::ElevenLabs, Arc::new(none)) else {
            panic!("a missing key must fail");
        };
        assert!(matches!(err, FactoryError::Stt(_)), "{err:?}");
        let Err(err) = create_tts_with(TtsKind::ElevenLabs, &none) else {
            panic!("a missing key must fail");
        };
        assert!(matches!(err, FactoryError::Tts(_)), "{err:?}");
        let lookup = |name: &str| (name == "ELEVENLABS_API_KEY").then(|| "k".to_owned());
        assert!(create_stt_with(SttKind::ElevenLabs, &lookup).is_ok());
        assert!(create_tts_with(TtsKind::ElevenLabs, &lookup).is_ok());
    }
}
