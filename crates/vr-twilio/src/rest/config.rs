//! Environment configuration (B106, B124, B139, B153–B155; W17), with reading the environment
//! kept apart from parsing it so tests never touch the process environment.

use std::fmt;
use std::time::Duration;

use super::calls::CreateCall;
use super::client::{DEFAULT_TIMEOUT, TwilioRestClient, check_base_url};
use super::error::{ConfigError, RestError};
use super::list::RecentCall;
use super::region::{TwilioCredentials, api_host_for};
use crate::signature::SignatureValidator;
use crate::twiml;

/// Default `VOICE_SERVER_PORT`.
pub const DEFAULT_SERVER_PORT: u16 = 8080;

/// Twilio settings read from `TWILIO_*`, `VOICE_STREAM_URL` and `VOICE_SERVER_PORT`.
///
/// Empty values count as unset. Only malformed values fail [`TwilioConfig::from_lookup`];
/// missing ones fail later, when a feature needs them, with the messages of B106.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// `TWILIO_ACCOUNT_SID`.
    pub account_sid: Option<String>,
    auth_token: Option<String>,
    /// `TWILIO_PHONE_NUMBER`: the `From` for calls and SMS.
    pub phone_number: Option<String>,
    /// `VOICE_STREAM_URL`: the public base URL (`https://…`) the stream URL derives from.
    pub voice_stream_url: Option<String>,
    /// `VOICE_SERVER_PORT` (default 8080).
    pub voice_server_port: u16,
    /// `TWILIO_API_BASE_URL`: overrides region and edge (tests, proxies).
    pub api_base_url: Option<String>,
    /// `TWILIO_HTTP_TIMEOUT` seconds (default 15).
    pub http_timeout: Duration,
    /// `TWILIO_REGION`, lower-cased.
    pub region: Option<String>,
    /// `TWILIO_EDGE`, lower-cased.
    pub edge: Option<String>,
    /// `TWILIO_SKIP_SIGNATURE_VALIDATION` is `1`, `true` or `yes` (B139). NEVER set in production.
    pub skip_signature_validation: bool,
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("phone_number", &self.phone_number)
            .field("voice_stream_url", &self.voice_stream_url)
            .field("voice_server_port", &self.voice_server_port)
            .field("api_base_url", &self.api_base_url)
            .field("http_timeout", &self.http_timeout)
            .field("region", &self.region)
            .field("edge", &self.edge)
            .field("skip_signature_validation", &self.skip_signature_validation)
            .finish()
    }
}

/// Parses `TWILIO_HTTP_TIMEOUT`-style seconds: a finite number above zero (W17: `nan`, `inf`,
/// `0` and negatives are refused, never taken as "no timeout").
pub fn parse_timeout_secs(value: &str, name: &'static str) -> Result<Duration, ConfigError> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| ConfigError::InvalidTimeout { name })?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(ConfigError::InvalidTimeout { name });
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(ConfigError::InvalidTimeout { name }),
    }
}

impl TwilioConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Parses settings from `lookup` (a variable name → value function).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let voice_server_port = match get("VOICE_SERVER_PORT") {
            None => DEFAULT_SERVER_PORT,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "VOICE_SERVER_PORT",
                reason: format!("`{v}` is not a port number (0-65535)"),
            })?,
        };
        let http_timeout = match get("TWILIO_HTTP_TIMEOUT") {
            None => DEFAULT_TIMEOUT,
            Some(v) => parse_timeout_secs(&v, "TWILIO_HTTP_TIMEOUT")?,
        };
        let api_base_url = get("TWILIO_API_BASE_URL")
            .map(|u| check_base_url(&u, "TWILIO_API_BASE_URL"))
            .transpose()?;
        let region = get("TWILIO_REGION").map(|r| r.to_ascii_lowercase());
        let edge = get("TWILIO_EDGE").map(|e| e.to_ascii_lowercase());
        // Validate now so a typo fails at start-up, not at the first hang-up.
        api_host_for(region.as_deref(), edge.as_deref())?;
        let skip = get("TWILIO_SKIP_SIGNATURE_VALIDATION").is_some_and(|v| {
            ["1", "true", "yes"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&v))
        });
        Ok(Self {
            account_sid: get("TWILIO_ACCOUNT_SID"),
            auth_token: get("TWILIO_AUTH_TOKEN"),
            phone_number: get("TWILIO_PHONE_NUMBER"),
            voice_stream_url: get("VOICE_STREAM_URL"),
            voice_server_port,
            api_base_url,
            http_timeout,
            region,
            edge,
            skip_signature_validation: skip,
        })
    }

    /// `TWILIO_AUTH_TOKEN`, if set (a secret: never log it).
    pub fn auth_token(&self) -> Option<&str> {
        self.auth_token.as_deref()
    }

    /// Sets the auth token (tests and programmatic configuration).
    pub fn set_auth_token(&mut self, token: Option<String>) {
        self.auth_token = token.filter(|t| !t.trim().is_empty());
    }

    /// Account SID + auth token, or "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN required".
    pub fn credentials(&self) -> Result<TwilioCredentials, ConfigError> {
        match (&self.account_sid, &self.auth_token) {
            (Some(sid), Some(token)) => TwilioCredentials::auth_token(sid.clone(), token.clone()),
            _ => Err(ConfigError::MissingCredentials),
        }
    }

    /// `TWILIO_PHONE_NUMBER`, or "TWILIO_PHONE_NUMBER required".
    pub fn require_phone_number(&self) -> Result<&str, ConfigError> {
        self.phone_number
            .as_deref()
            .ok_or(ConfigError::MissingPhoneNumber)
    }

    /// `VOICE_STREAM_URL`, or "Set VOICE_STREAM_URL to a public WebSocket URL …".
    pub fn require_voice_stream_url(&self) -> Result<&str, ConfigError> {
        self.voice_stream_url
            .as_deref()
            .ok_or(ConfigError::MissingStreamUrl)
    }

    /// A signature validator, or `None` when no auth token is set. The caller decides what
    /// `None` means; failing closed is the safe choice (W15).
    pub fn signature_validator(&self) -> Option<SignatureValidator> {
        self.auth_token
            .as_deref()
            .and_then(|t| SignatureValidator::new(t).ok())
    }

    /// A REST client from these settings (B153: the one place clients are configured).
    pub fn rest_client(&self) -> Result<TwilioRestClient, ConfigError> {
        let mut b = TwilioRestClient::builder(self.credentials()?).timeout(self.http_timeout);
        if let Some(url) = &self.api_base_url {
            b = b.base_url(url.clone());
        }
        if let Some(r) = &self.region {
            b = b.region(r.clone());
        }
        if let Some(e) = &self.edge {
            b = b.edge(e.clone());
        }
        if let Some(n) = &self.phone_number {
            b = b.from_number(n.clone());
        }
        b.build()
    }

    /// The create-call request of an outbound bot call to `to` (B106, B107): checks, in this
    /// order, `VOICE_STREAM_URL`, credentials, then `TWILIO_PHONE_NUMBER`, and streams to
    /// `{VOICE_STREAM_URL as wss}/voice`, or `/voice/{route_token}` when given.
    pub fn outbound_call(
        &self,
        to: &str,
        route_token: Option<&str>,
    ) -> Result<CreateCall, ConfigError> {
        let base = self.require_voice_stream_url()?;
        self.credentials()?;
        let from = self.require_phone_number()?;
        let invalid = |e: twiml::TwimlError| ConfigError::Invalid {
            name: "VOICE_STREAM_URL",
            reason: e.to_string(),
        };
        let xml = match route_token {
            Some(token) => twiml::routed_stream_twiml(base, token),
            None => twiml::stream_twiml(base),
        }
        .map_err(invalid)?;
        Ok(CreateCall::twiml(to, from, xml))
    }

    /// Legacy reader (B155, B164): `[]` without credentials (no client is built), otherwise
    /// calls to `TWILIO_PHONE_NUMBER` (or all calls) from the last `lookback`.
    pub async fn list_recent_calls(
        &self,
        lookback: Duration,
    ) -> Result<Vec<RecentCall>, RestError> {
        if self.account_sid.is_none() || self.auth_token.is_none() {
            return Ok(Vec::new());
        }
        self.rest_client()?
            .list_recent_calls(self.phone_number.as_deref(), lookback)
            .await
    }
}
