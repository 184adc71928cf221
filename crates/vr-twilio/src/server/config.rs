//! Server settings and the signature policy (W15).

use std::net::IpAddr;
use std::time::Duration;

use crate::signature::SignatureValidator;

/// Whether `X-Twilio-Signature` is checked.
#[derive(Debug, Clone)]
pub enum SignaturePolicy {
    /// Every webhook and websocket upgrade must carry a valid signature (fails closed).
    Enforce(SignatureValidator),
    /// Checks are off: local development, or explicitly skipped.
    Disabled,
}

/// Why the server refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerConfigError {
    /// No auth token on a non-loopback bind, and no explicit skip (W15b).
    #[error(
        "TWILIO_AUTH_TOKEN is not set and the server binds to {0}, which is not a loopback address: \
         refusing to accept unsigned requests. Set TWILIO_AUTH_TOKEN, bind to 127.0.0.1, or set \
         TWILIO_SKIP_SIGNATURE_VALIDATION=1 (never in production)"
    )]
    UnsignedPublicBind(IpAddr),
    /// The auth token is blank.
    #[error("TWILIO_AUTH_TOKEN is set but blank")]
    BlankAuthToken,
}

impl SignaturePolicy {
    /// Picks the policy: a token means enforce; `skip` ("1", "true", "yes") means off with a
    /// loud warning; no token is allowed only on a loopback bind.
    pub fn resolve(
        auth_token: Option<&str>,
        skip: bool,
        bind: IpAddr,
    ) -> Result<Self, ServerConfigError> {
        if skip {
            tracing::warn!(
                "TWILIO_SKIP_SIGNATURE_VALIDATION is set: request signatures are NOT checked. NEVER set in production"
            );
            return Ok(Self::Disabled);
        }
        match auth_token {
            Some(token) => SignatureValidator::new(token)
                .map(Self::Enforce)
                .map_err(|_| ServerConfigError::BlankAuthToken),
            None if bind.is_loopback() => {
                tracing::warn!(
                    "TWILIO_AUTH_TOKEN is not set: request signatures are NOT checked (allowed on a loopback bind for local development only)"
                );
                Ok(Self::Disabled)
            }
            None => Err(ServerConfigError::UnsignedPublicBind(bind)),
        }
    }

    /// Whether the skip variable's value means "skip".
    pub fn skip_requested(value: Option<&str>) -> bool {
        value
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }
}

/// Settings of the voice server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The public base URL Twilio uses (`VOICE_STREAM_URL`, e.g. `https://bot.example.com`):
    /// signatures are checked against it and TwiML points at it. Without it, the request's
    /// `Host` (and `X-Forwarded-Proto`) are used.
    pub public_url: Option<String>,
    /// Signature checking.
    pub signature: SignaturePolicy,
    /// Inbound websocket messages above this are ignored and counted (any payload length
    /// under it is valid audio).
    pub max_message_bytes: usize,
    /// Hard limit: a message above this breaks the connection (memory protection).
    pub hard_max_message_bytes: usize,
    /// Webhook bodies above this are refused with 413.
    pub max_webhook_bytes: usize,
    /// A stream that sends nothing for this long is ended.
    pub idle_timeout: Duration,
    /// After a REST hang-up, how long to wait for Twilio to close the stream (the original's 5 s).
    pub rest_close_wait: Duration,
    /// How long a bot may run on after its call ended before it is cancelled.
    pub bot_grace: Duration,
    /// Websocket read buffer in bytes (small: Media Streams messages are ~350 bytes, and the
    /// websocket library zeroes up to this much before every read; 2 KiB still takes a burst
    /// of several messages per read, where 1 KiB cut the flood rate by a third).
    pub read_buffer_bytes: usize,
    /// Websocket write buffer in bytes.
    pub write_buffer_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            signature: SignaturePolicy::Disabled,
            max_message_bytes: 64 * 1024,
            hard_max_message_bytes: 1024 * 1024,
            max_webhook_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(15),
            rest_close_wait: Duration::from_secs(5),
            bot_grace: Duration::from_secs(2),
            read_buffer_bytes: 2 * 1024,
            write_buffer_bytes: 4 * 1024,
        }
    }
}
