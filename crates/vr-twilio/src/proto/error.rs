//! Errors from parsing Media Streams messages.

/// Why a Media Streams frame could not be turned into a message.
///
/// None of these end a stream by themselves: the state machine in [`crate::stream`] counts them
/// and reports the frame as ignored (W13).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A binary WebSocket frame; Twilio only sends JSON text frames.
    #[error("binary frame of {len} bytes; Media Streams messages are JSON text frames")]
    BinaryFrame {
        /// Frame length in bytes.
        len: usize,
    },
    /// The frame is longer than the configured limit.
    #[error("message of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Frame length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The text is not JSON (syntax error or truncated).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The text is JSON but not shaped like a Media Streams message (e.g. a field of the wrong
    /// type, or an unexpected field in a strictly parsed message).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// A field the message cannot be used without is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field that the receiver does not accept for this event (strict parsing only).
    #[error("unexpected field `{0}`")]
    UnexpectedField(&'static str),
    /// The media payload is not valid base64.
    #[error("invalid base64 payload: {0}")]
    BadBase64(String),
    /// An event this side does not accept (strict parsing of server messages only; inbound
    /// unknown events parse to [`crate::proto::Inbound::Unknown`]).
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
}

impl ProtoError {
    /// Maps a serde_json error to `NotJson` (syntax) or `Invalid` (shape).
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match err.classify() {
            Category::Syntax | Category::Eof | Category::Io => ProtoError::NotJson(err.to_string()),
            Category::Data => ProtoError::Invalid(err.to_string()),
        }
    }
}
