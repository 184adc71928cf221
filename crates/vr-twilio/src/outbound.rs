//! Placing an outbound bot call (the original's Quick Example flow; B106–B107, B166).
//!
//! [`OutboundDialer::place_call`] registers the call's session under a fresh route token
//! *before* dialling, so a `start` that arrives before the REST answer still finds it (B166),
//! creates the call with `<Connect><Stream url=".../voice/{token}">` TwiML and a status
//! callback, then registers the session under the returned CallSid too. The bot waits with
//! [`vr_session::CallHandle::wait_connected`], which times out with `CallNotAnswered`; a final
//! status callback (`busy`, `no-answer`, …) ends the wait at once.

use std::sync::Arc;

use vr_session::{CallRegistry, VoiceSession};

use crate::rest::{ConfigError, CreateCall, RestError, TwilioConfig, TwilioRestClient};
use crate::urls::PublicUrlError;

/// The status callback events requested for outbound calls.
pub const STATUS_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// Why a call could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// A needed setting is missing or invalid (B106 order and messages).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The REST request failed.
    #[error(transparent)]
    Rest(#[from] RestError),
    /// `VOICE_STREAM_URL` cannot make the status callback URL.
    #[error("VOICE_STREAM_URL cannot make the status callback URL: {0}")]
    PublicUrl(#[from] PublicUrlError),
}

/// A placed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    /// Twilio's CallSid.
    pub call_sid: String,
    /// The route token in the stream URL (`/voice/{token}`).
    pub route_token: String,
}

/// Places outbound calls whose streams bind to the caller's sessions.
#[derive(Debug, Clone)]
pub struct OutboundDialer {
    config: TwilioConfig,
    client: TwilioRestClient,
    registry: Arc<CallRegistry>,
    status_callback: bool,
}

impl OutboundDialer {
    /// A dialer from Twilio settings (usually [`TwilioConfig::from_env`]) registering sessions
    /// in `registry` (the one the [`VoiceServer`](crate::server::VoiceServer) serves).
    ///
    /// # Errors
    /// Missing `VOICE_STREAM_URL`, credentials or `TWILIO_PHONE_NUMBER`, in that order (B106),
    /// before any request is made.
    pub fn new(config: TwilioConfig, registry: Arc<CallRegistry>) -> Result<Self, ConfigError> {
        config.require_voice_stream_url()?;
        config.credentials()?;
        config.require_phone_number()?;
        let client = config.rest_client()?;
        Ok(Self {
            config,
            client,
            registry,
            status_callback: true,
        })
    }

    /// Whether calls ask for status callbacks on `{VOICE_STREAM_URL}/status` (default on).
    pub fn with_status_callback(mut self, on: bool) -> Self {
        self.status_callback = on;
        self
    }

    /// Dials `to`; the stream that answers binds to `session`.
    ///
    /// # Errors
    /// Configuration and REST errors; nothing stays registered after an error.
    pub async fn place_call(
        &self,
        to: &str,
        session: &VoiceSession,
    ) -> Result<PlacedCall, OutboundError> {
        let token = route_token();
        let request = call_request(&self.config, to, Some(&token), self.status_callback)?;
        self.registry.register_route(&token, session.clone());
        match self.client.create_call(&request).await {
            Ok(call) => {
                self.registry.register_pending(&call.sid, session.clone());
                tracing::info!(call_sid = %call.sid, to, "outbound call placed");
                Ok(PlacedCall {
                    call_sid: call.sid,
                    route_token: token,
                })
            }
            Err(e) => {
                self.registry.cancel_pending(None, Some(&token));
                Err(e.into())
            }
        }
    }

    /// Forgets a placed call that never connected (after a `CallNotAnswered`).
    pub fn forget(&self, call: &PlacedCall) {
        self.registry
            .cancel_pending(Some(&call.call_sid), Some(&call.route_token));
    }
}

/// The create-call request of a bot call to `to` (B106 checks and order), streaming to
/// `{VOICE_STREAM_URL}/voice` or `/voice/{route_token}`, with status callbacks to
/// `{VOICE_STREAM_URL}/status` when `status_callback` is set.
///
/// # Errors
/// Missing or invalid settings.
pub fn call_request(
    config: &TwilioConfig,
    to: &str,
    route_token: Option<&str>,
    status_callback: bool,
) -> Result<CreateCall, OutboundError> {
    let mut request = config.outbound_call(to, route_token)?;
    if status_callback {
        let base = config.require_voice_stream_url()?;
        request.status_callback = Some(status_callback_url(base)?);
        request.status_callback_events = STATUS_EVENTS.map(str::to_owned).to_vec();
        request.status_callback_method = Some("POST".to_owned());
    }
    Ok(request)
}

/// A fresh route token: 32 hex digits (unguessable, URL-safe).
pub fn route_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `{base as http(s)}/status`.
fn status_callback_url(base: &str) -> Result<String, PublicUrlError> {
    crate::urls::public_url(&crate::urls::http_url(base), "/status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_callback_urls_use_http_schemes() {
        assert_eq!(
            status_callback_url("wss://bot.example.com/").unwrap(),
            "https://bot.example.com/status"
        );
        assert_eq!(
            status_callback_url("https://bot.example.com/app").unwrap(),
            "https://bot.example.com/app/status"
        );
        assert!(status_callback_url("bot.example.com").is_err());
    }

    #[test]
    fn route_tokens_are_32_hex_digits_and_differ() {
        let (a, b) = (route_token(), route_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
