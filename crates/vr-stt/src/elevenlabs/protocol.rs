//! ElevenLabs Scribe v2 realtime wire messages, without I/O (protocol notes §4).
//!
//! Client → server: only `input_audio_chunk` (JSON text frames, never binary). Server →
//! client: `session_started`, `partial_transcript`, `committed_transcript`,
//! `committed_transcript_with_timestamps`, and the error family, which is classed here:
//!
//! | class | `message_type` |
//! | --- | --- |
//! | [`ErrorClass::Reconnect`] | `queue_overflow`, `resource_exhausted`, `transcriber_error`, `chunk_size_exceeded`, `server_error` (B57); also the generic `error`, `scribe_error` and any unknown type carrying an `error` string — the service closes the socket after an error anyway, so these behave like a dropped socket |
//! | [`ErrorClass::Terminal`] | `auth_error`, `quota_exceeded` (`quota_exceeded_error`), `rate_limited`, `input_error`, `invalid_request`, `unaccepted_terms` (`unaccepted_terms_error`) — retrying cannot fix them |
//! | [`ErrorClass::Warning`] | `commit_throttled`, `insufficient_audio_activity`, `warning` — logged only; if the service closes after one, the close is a reconnect-class fault |
//! | [`ErrorClass::TimeLimit`] | `session_time_limit_exceeded` — reported, feeding stops (as in the original) |

use base64::Engine as _;
use serde_json::Value;

/// The audio format sent: the call's 8 kHz μ-law, passed straight through.
pub const AUDIO_FORMAT: &str = "ulaw_8000";
/// The sample rate every audio message carries.
pub const SAMPLE_RATE: u32 = 8000;

/// The `input_audio_chunk` message carrying one frame, exactly
/// `{"message_type":"input_audio_chunk","audio_base_64":"…","commit":false,"sample_rate":8000}`.
pub fn audio_chunk(frame: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(frame);
    format!(
        r#"{{"message_type":"input_audio_chunk","audio_base_64":"{b64}","commit":false,"sample_rate":{SAMPLE_RATE}}}"#
    )
}

/// The bare commit the SDK sends (empty audio, `commit: true`); sent once when the call's
/// audio ends so the last segment is finalised.
pub fn commit_chunk() -> String {
    format!(
        r#"{{"message_type":"input_audio_chunk","audio_base_64":"","commit":true,"sample_rate":{SAMPLE_RATE}}}"#
    )
}

/// How the provider reacts to an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Close and reconnect with backoff.
    Reconnect,
    /// Report to the sink once; no retry.
    Terminal,
    /// Log only.
    Warning,
    /// `session_time_limit_exceeded`: report, stop feeding.
    TimeLimit,
}

/// Classes an error `message_type`, accepting the name variants seen in the SDK and in
/// third-party code. Unknown names are [`ErrorClass::Reconnect`].
pub fn classify(message_type: &str) -> ErrorClass {
    match message_type {
        "auth_error"
        | "quota_exceeded"
        | "quota_exceeded_error"
        | "rate_limited"
        | "input_error"
        | "invalid_request"
        | "unaccepted_terms"
        | "unaccepted_terms_error" => ErrorClass::Terminal,
        "commit_throttled" | "insufficient_audio_activity" | "warning" => ErrorClass::Warning,
        "session_time_limit_exceeded" => ErrorClass::TimeLimit,
        // queue_overflow, resource_exhausted, transcriber_error, chunk_size_exceeded,
        // server_error, error, scribe_error, and anything unknown.
        _ => ErrorClass::Reconnect,
    }
}

/// The name reported to the sink for an error type: variants are folded onto the
/// spec's names (`quota_exceeded_error` → `quota_exceeded`,
/// `unaccepted_terms_error` → `unaccepted_terms`).
pub fn canonical_error_name(message_type: &str) -> &str {
    match message_type {
        "quota_exceeded_error" => "quota_exceeded",
        "unaccepted_terms_error" => "unaccepted_terms",
        other => other,
    }
}

/// A parsed server message.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// `session_started`.
    SessionStarted {
        /// The session id, if present.
        session_id: Option<String>,
    },
    /// `partial_transcript`: interim text.
    Partial(String),
    /// `committed_transcript`: the final text of a segment.
    Committed(String),
    /// `committed_transcript_with_timestamps`: sent in addition to `committed_transcript` for
    /// the same commit, so it is not reported again.
    CommittedWithTimestamps {
        /// The text.
        text: String,
        /// Detected language, if any.
        language_code: Option<String>,
        /// Word and spacing entries received.
        words: usize,
    },
    /// An error-family message.
    Error {
        /// Its `message_type` (`error` when it had none).
        message_type: String,
        /// The `error` text (may be empty).
        message: String,
        /// What to do about it.
        class: ErrorClass,
    },
    /// Any other message type (e.g. `committed_transcript_entities`).
    Other(String),
    /// Not a JSON object.
    Invalid,
}

fn text_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Parses one text frame from the server. Never panics.
pub fn parse_server_message(text: &str) -> ServerMessage {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return ServerMessage::Invalid;
    };
    if !v.is_object() {
        return ServerMessage::Invalid;
    }
    let message_type = v.get("message_type").and_then(Value::as_str);
    match message_type {
        Some("session_started") => ServerMessage::SessionStarted {
            session_id: v
                .get("session_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Some("partial_transcript") => ServerMessage::Partial(text_field(&v, "text")),
        Some("committed_transcript") => ServerMessage::Committed(text_field(&v, "text")),
        Some("committed_transcript_with_timestamps") => ServerMessage::CommittedWithTimestamps {
            text: text_field(&v, "text"),
            language_code: v
                .get("language_code")
                .and_then(Value::as_str)
                .map(str::to_owned),
            words: v.get("words").and_then(Value::as_array).map_or(0, Vec::len),
        },
        Some("committed_transcript_entities") => {
            ServerMessage::Other("committed_transcript_entities".to_owned())
        }
        other => {
            let message = v.get("error").and_then(Value::as_str);
            let named = other.map(|t| (t, classify(t)));
            match (named, message) {
                // A listed error name, with or without an `error` field.
                (Some((t, class)), m) if is_known_error(t) => ServerMessage::Error {
                    message_type: t.to_owned(),
                    message: m.unwrap_or_default().to_owned(),
                    class,
                },
                // The robust rule: anything else with a string `error` is an error.
                (named, Some(m)) => {
                    let t = named.map_or("error", |(t, _)| t);
                    ServerMessage::Error {
                        message_type: t.to_owned(),
                        message: m.to_owned(),
                        class: classify(t),
                    }
                }
                (Some((t, _)), None) => ServerMessage::Other(t.to_owned()),
                (None, None) => ServerMessage::Invalid,
            }
        }
    }
}

fn is_known_error(message_type: &str) -> bool {
    matches!(
        message_type,
        "error"
            | "auth_error"
            | "quota_exceeded"
            | "quota_exceeded_error"
            | "commit_throttled"
            | "unaccepted_terms"
            | "unaccepted_terms_error"
            | "rate_limited"
            | "queue_overflow"
            | "resource_exhausted"
            | "session_time_limit_exceeded"
            | "input_error"
            | "chunk_size_exceeded"
            | "insufficient_audio_activity"
            | "transcriber_error"
            | "server_error"
            | "invalid_request"
            | "warning"
            | "scribe_error"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_chunk_is_exactly_the_documented_shape() {
        assert_eq!(
            audio_chunk(&[0xff, 0xff, 0xff]),
            r#"{"message_type":"input_audio_chunk","audio_base_64":"////","commit":false,"sample_rate":8000}"#
        );
        let v: Value = serde_json::from_str(&commit_chunk()).unwrap_or(Value::Null);
        assert_eq!(v["commit"], Value::Bool(true));
        assert_eq!(v["audio_base_64"], "");
        assert_eq!(v["sample_rate"], 8000);
    }

    #[test]
    fn transcripts_parse() {
        assert_eq!(
            parse_server_message(r#"{"message_type":"partial_transcript","text":"hei mitä"}"#),
            ServerMessage::Partial("hei mitä".into())
        );
        assert_eq!(
            parse_server_message(
                r#"{"message_type":"committed_transcript","text":"Hei, mitä kuuluu?"}"#
            ),
            ServerMessage::Committed("Hei, mitä kuuluu?".into())
        );
        assert_eq!(
            parse_server_message(r#"{"message_type":"committed_transcript"}"#),
            ServerMessage::Committed(String::new())
        );
        let ts = r#"{"message_type": "committed_transcript_with_timestamps", "text": "Hello there.", "language_code": "en",
 "words": [{"text": "Hello", "start": 0.12, "end": 0.45, "type": "word", "logprob": -0.05},
           {"text": " ", "start": 0.45, "end": 0.5, "type": "spacing"}]}"#;
        assert_eq!(
            parse_server_message(ts),
            ServerMessage::CommittedWithTimestamps {
                text: "Hello there.".into(),
                language_code: Some("en".into()),
                words: 2
            }
        );
        assert_eq!(
            parse_server_message(
                r#"{"message_type":"session_started","session_id":"c1","config":{"sample_rate":8000}}"#
            ),
            ServerMessage::SessionStarted {
                session_id: Some("c1".into())
            }
        );
    }

    #[test]
    fn error_classes_follow_b57_and_the_variants() {
        for t in [
            "queue_overflow",
            "resource_exhausted",
            "transcriber_error",
            "chunk_size_exceeded",
            "server_error",
            "error",
            "scribe_error",
            "something_new",
        ] {
            assert_eq!(classify(t), ErrorClass::Reconnect, "{t}");
        }
        for t in [
            "auth_error",
            "quota_exceeded",
            "quota_exceeded_error",
            "rate_limited",
            "input_error",
            "invalid_request",
            "unaccepted_terms",
            "unaccepted_terms_error",
        ] {
            assert_eq!(classify(t), ErrorClass::Terminal, "{t}");
        }
        for t in ["commit_throttled", "insufficient_audio_activity", "warning"] {
            assert_eq!(classify(t), ErrorClass::Warning, "{t}");
        }
        assert_eq!(
            classify("session_time_limit_exceeded"),
            ErrorClass::TimeLimit
        );
        assert_eq!(
            canonical_error_name("quota_exceeded_error"),
            "quota_exceeded"
        );
        assert_eq!(
            canonical_error_name("unaccepted_terms_error"),
            "unaccepted_terms"
        );
        assert_eq!(canonical_error_name("auth_error"), "auth_error");
    }

    #[test]
    fn error_messages_parse_with_the_robust_rule() {
        assert_eq!(
            parse_server_message(r#"{"message_type":"auth_error","error":"Invalid API key"}"#),
            ServerMessage::Error {
                message_type: "auth_error".into(),
                message: "Invalid API key".into(),
                class: ErrorClass::Terminal
            }
        );
        // Listed name without an error field is still an error.
        assert!(matches!(
            parse_server_message(r#"{"message_type":"queue_overflow"}"#),
            ServerMessage::Error {
                class: ErrorClass::Reconnect,
                ..
            }
        ));
        // Unknown name with an error string: an error (reconnect class).
        assert!(matches!(
            parse_server_message(r#"{"message_type":"brand_new","error":"x"}"#),
            ServerMessage::Error { class: ErrorClass::Reconnect, ref message_type, .. } if message_type == "brand_new"
        ));
        // No message_type but an error string.
        assert!(matches!(
            parse_server_message(r#"{"error":"boom"}"#),
            ServerMessage::Error { class: ErrorClass::Reconnect, ref message_type, .. } if message_type == "error"
        ));
        // A transcript type is never an error, even with an error field.
        assert_eq!(
            parse_server_message(r#"{"message_type":"partial_transcript","text":"a","error":"x"}"#),
            ServerMessage::Partial("a".into())
        );
        assert_eq!(
            parse_server_message(r#"{"message_type":"brand_new"}"#),
            ServerMessage::Other("brand_new".into())
        );
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "null",
            "[]",
            "42",
            "{",
            r#"{"message_type":5}"#,
            "\u{0}",
        ] {
            let _ = parse_server_message(s);
        }
        assert_eq!(parse_server_message("[]"), ServerMessage::Invalid);
        assert_eq!(
            parse_server_message(r#"{"message_type":5}"#),
            ServerMessage::Invalid
        );
    }
}
