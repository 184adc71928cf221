//! Small helpers shared by the providers.

use std::error::Error as StdError;

use vr_session::{Halt, SpeakOutcome, SpeakStatus, Utterance};

/// Longest provider error text kept in a [`vr_session::TtsError`].
pub(crate) const MAX_ERROR_CHARS: usize = 300;

/// Reads a variable through `lookup`, treating an empty or blank value as unset.
pub(crate) fn lookup_nonempty(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The first `max` characters of `text` (with an ellipsis when cut).
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// An error and its sources, joined with `: ` (reqwest's top-level message alone hides the
/// cause, e.g. "connection refused").
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Ends an utterance that stopped because of a cancellation or a hang-up.
pub(crate) fn halt(utt: Utterance) -> SpeakOutcome {
    let why = utt.halted().unwrap_or(Halt::Cancelled);
    utt.stop(why)
}

/// [`Utterance::finish`], reporting a hang-up during the mark wait as `CallDisconnected`.
///
/// `finish` races the mark against the utterance's cancel token, which a hang-up cancels too;
/// when the token wins it reports `Interrupted` although the call is gone. Until vr-session
/// resolves that race with `halted()`, correct it here.
pub(crate) async fn finish(utt: Utterance) -> SpeakOutcome {
    let call = utt.call().clone();
    let mut out = utt.finish().await;
    if out.status == SpeakStatus::Interrupted && out.mark.is_none() && call.is_disconnected() {
        out.status = SpeakStatus::CallDisconnected;
    }
    out
}

/// `text` with every occurrence of `secret` replaced by `<redacted>`: a provider may echo the
/// credential it refused in its error message, and those messages are logged.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    text.replace(secret, "<redacted>")
}

/// Summarises a provider's error body: ElevenLabs' `{"detail": {"status", "message"}}`, a
/// validation `{"detail": [{"msg"}]}`, a top-level `message` / `error`, or else the raw text;
/// truncated to [`MAX_ERROR_CHARS`].
pub(crate) fn summarize_error_body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let summary = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| summarize_json(&v));
    truncate_chars(summary.as_deref().unwrap_or(&text), MAX_ERROR_CHARS)
}

/// Summarises an error carried in a JSON message (same rules as [`summarize_error_body`]).
#[cfg_attr(not(feature = "elevenlabs"), allow(dead_code))]
pub(crate) fn summarize_error_json(v: &serde_json::Value) -> String {
    let summary = summarize_json(v).unwrap_or_else(|| v.to_string());
    truncate_chars(&summary, MAX_ERROR_CHARS)
}

fn summarize_json(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let status_message = |o: &Value| {
        let status = str_of(o.get("status")).or_else(|| str_of(o.get("code")));
        let message = str_of(o.get("message")).or_else(|| str_of(o.get("msg")));
        match (status, message) {
            (Some(s), Some(m)) => Some(format!("{s}: {m}")),
            (Some(s), None) => Some(s),
            (None, Some(m)) => Some(m),
            (None, None) => None,
        }
    };
    match v.get("detail") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(d @ Value::Object(_)) => {
            if let Some(s) = status_message(d) {
                return Some(s);
            }
        }
        Some(Value::Array(items)) => {
            let msgs: Vec<String> = items.iter().filter_map(status_message).collect();
            if !msgs.is_empty() {
                return Some(msgs.join("; "));
            }
        }
        _ => {}
    }
    match v.get("error") {
        Some(Value::String(e)) => {
            return Some(match str_of(v.get("message")) {
                Some(m) if m != *e => format!("{e}: {m}"),
                _ => e.clone(),
            });
        }
        Some(e @ Value::Object(_)) => {
            if let Some(s) = status_message(e) {
                return Some(s);
            }
        }
        _ => {}
    }
    status_message(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("Invalid API key: 'sk_123' was refused", "sk_123"),
            "Invalid API key: '<redacted>' was refused"
        );
        assert_eq!(redact("nothing to hide", ""), "nothing to hide");
    }

    #[test]
    fn elevenlabs_detail_is_kept() {
        let body = br#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#;
        assert_eq!(
            summarize_error_body(body),
            "invalid_api_key: Invalid API key"
        );
    }

    #[test]
    fn validation_errors_are_joined() {
        let body = br#"{"detail":[{"loc":["body","text"],"msg":"field required"},{"msg":"bad"}]}"#;
        assert_eq!(summarize_error_body(body), "field required; bad");
    }

    #[test]
    fn other_shapes() {
        assert_eq!(
            summarize_error_body(br#"{"detail":"Not Found"}"#),
            "Not Found"
        );
        assert_eq!(
            summarize_error_body(br#"{"error":{"code":"Unauthorized","message":"bad key"}}"#),
            "Unauthorized: bad key"
        );
        assert_eq!(
            summarize_error_body(br#"{"error":"quota_exceeded","message":"out of credits"}"#),
            "quota_exceeded: out of credits"
        );
        assert_eq!(summarize_error_body(b"  plain text  "), "plain text");
        assert_eq!(summarize_error_body(b""), "");
    }

    #[test]
    fn long_bodies_are_truncated_on_char_boundaries() {
        let long = "ä".repeat(1000);
        let out = summarize_error_body(long.as_bytes());
        assert_eq!(out.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn blank_variables_are_unset() {
        let lookup = |k: &str| match k {
            "A" => Some("  x ".to_owned()),
            "B" => Some("   ".to_owned()),
            _ => None,
        };
        assert_eq!(lookup_nonempty(&lookup, "A").as_deref(), Some("x"));
        assert_eq!(lookup_nonempty(&lookup, "B"), None);
        assert_eq!(lookup_nonempty(&lookup, "C"), None);
    }
}
