//! REST and configuration errors. None of them ever holds an auth token, API key secret or
//! `Authorization` header; hosts and SIDs are not secret and are named to help operators.

use std::time::Duration;

/// A configuration value is missing or unusable. Messages name the variable, never its value
/// when the value could be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `VOICE_STREAM_URL` is not set (B106).
    #[error("Set VOICE_STREAM_URL to a public WebSocket URL (use ngrok for local dev)")]
    MissingStreamUrl,
    /// `TWILIO_ACCOUNT_SID` or `TWILIO_AUTH_TOKEN` is not set (B106, B146).
    #[error("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN required")]
    MissingCredentials,
    /// `TWILIO_PHONE_NUMBER` is not set (B106, B109).
    #[error("TWILIO_PHONE_NUMBER required")]
    MissingPhoneNumber,
    /// A variable or option holds an unusable value.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable or option, e.g. `VOICE_SERVER_PORT`.
        name: &'static str,
        /// What is wrong (without the value when it could be secret).
        reason: String,
    },
    /// An HTTP timeout that is not a finite number of seconds above zero (W17, B154).
    #[error("{name} must be a finite number of seconds greater than zero")]
    InvalidTimeout {
        /// The variable or option, e.g. `TWILIO_HTTP_TIMEOUT`.
        name: &'static str,
    },
    /// A SID that is not non-empty ASCII letters and digits (B149); the value is not shown.
    #[error("{what} must be a non-empty string of ASCII letters and digits")]
    InvalidSid {
        /// Which SID, e.g. `"account SID"`.
        what: &'static str,
    },
    /// A Twilio region is unusable (B148); the input is not shown.
    #[error("invalid Twilio region: {0}")]
    InvalidRegion(&'static str),
    /// Credentials with a blank user or secret (B148); the input is not shown.
    #[error("invalid Twilio credentials: {0}")]
    InvalidCredentials(&'static str),
}

/// A Twilio REST request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    /// Configuration or input refused before any request was made.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A request argument was refused before any request was made.
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// No response within the client timeout (not retried).
    #[error("request to {host} timed out after {timeout:?}")]
    Timeout {
        /// The API host.
        host: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Connecting, sending or reading failed.
    #[error("request to {host} failed: {message}")]
    Transport {
        /// The API host.
        host: String,
        /// The transport error chain (no URL, no headers).
        message: String,
    },
    /// Twilio answered with an error status.
    #[error("{host} answered HTTP {status}{}: {message}", code.map(|c| format!(" (Twilio code {c})")).unwrap_or_default())]
    Api {
        /// The API host.
        host: String,
        /// HTTP status.
        status: u16,
        /// Twilio error code, e.g. 20003.
        code: Option<u32>,
        /// Twilio's message (or a short excerpt of a non-JSON body).
        message: String,
        /// Twilio's `more_info` link.
        more_info: Option<String>,
    },
    /// 404 with code 20404 on an ambient hang-up: no such call at this host (B147).
    #[error("call not found at {host} (HTTP 404, Twilio code 20404)")]
    NotFound {
        /// The API host actually used.
        host: String,
        /// Twilio's message.
        message: String,
    },
    /// Every region answered 404/20404 (B151).
    #[error("Call not found in: {}", hosts.join(", "))]
    CallNotFound {
        /// The hosts tried, in order.
        hosts: Vec<String>,
    },
    /// A 3xx answer; redirects are never followed.
    #[error("{host} answered with redirect HTTP {status}; redirects are not followed")]
    Redirect {
        /// The API host.
        host: String,
        /// HTTP status.
        status: u16,
    },
    /// A 2xx answer whose body is not what the API documents.
    #[error("unexpected response from {host}: {detail}")]
    Decode {
        /// The API host.
        host: String,
        /// What was wrong.
        detail: String,
    },
    /// A `next_page_uri` that is not on the same API host and collection (B162).
    #[error("refused next_page_uri from {host}: {reason}")]
    UnsafeNextPage {
        /// The API host.
        host: String,
        /// Why it was refused (the URI itself is not shown).
        reason: &'static str,
    },
    /// More pages remained after `max_pages` pages (B163); no partial rows are returned.
    #[error("call list from {api_host} is incomplete after {pages_fetched} pages")]
    CallListIncomplete {
        /// The API host.
        api_host: String,
        /// Pages fetched (= `max_pages`).
        pages_fetched: u32,
    },
}

impl RestError {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Api { status, .. } | RestError::Redirect { status, .. } => Some(*status),
            RestError::NotFound { .. } => Some(404),
            _ => None,
        }
    }

    /// The Twilio error code, for errors that carry one.
    pub fn twilio_code(&self) -> Option<u32> {
        match self {
            RestError::Api { code, .. } => *code,
            RestError::NotFound { .. } => Some(20404),
            _ => None,
        }
    }

    /// True for a request timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, RestError::Timeout { .. })
    }
}
