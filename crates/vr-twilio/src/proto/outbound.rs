//! Messages the server sends to Twilio (media-streams.md §4): `media`, `mark`, `clear`, with
//! exactly the documented fields, since Twilio rejects extra or missing ones (31951).

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;

use super::B64;
use super::error::ProtoError;
use super::inbound::decode_base64_into;
use super::json::{CowStr, push_str};

/// One message from the server to Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound<'a> {
    /// `media`: audio to play, base64 of raw μ-law.
    Media {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
        /// `media.payload` (base64).
        payload: Cow<'a, str>,
    },
    /// `mark`: ask Twilio to echo `name` once the audio sent before it has played.
    Mark {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
        /// `mark.name`.
        name: Cow<'a, str>,
    },
    /// `clear`: drop buffered audio; pending marks are echoed at once.
    Clear {
        /// `streamSid`.
        stream_sid: Cow<'a, str>,
    },
}

/// Writes `{"event":"media","streamSid":…,"media":{"payload":…}}` for `audio`, replacing the
/// contents of `out`. Base64 is encoded straight into `out`, so a reused buffer allocates nothing.
pub fn write_media(out: &mut String, stream_sid: &str, audio: &[u8]) {
    use base64::Engine as _;
    out.clear();
    out.reserve(56 + stream_sid.len() + audio.len().div_ceil(3) * 4);
    out.push_str(r#"{"event":"media","streamSid":"#);
    push_str(out, stream_sid);
    out.push_str(r#","media":{"payload":""#);
    B64.encode_string(audio, out);
    out.push_str(r#""}}"#);
}

/// Writes a `media` message whose payload is already base64, replacing the contents of `out`.
pub fn write_media_base64(out: &mut String, stream_sid: &str, payload: &str) {
    out.clear();
    out.push_str(r#"{"event":"media","streamSid":"#);
    push_str(out, stream_sid);
    out.push_str(r#","media":{"payload":"#);
    push_str(out, payload);
    out.push_str("}}");
}

/// Writes `{"event":"mark","streamSid":…,"mark":{"name":…}}`, replacing the contents of `out`.
/// The name is escaped as a JSON string (it may come from users).
pub fn write_mark(out: &mut String, stream_sid: &str, name: &str) {
    out.clear();
    out.push_str(r#"{"event":"mark","streamSid":"#);
    push_str(out, stream_sid);
    out.push_str(r#","mark":{"name":"#);
    push_str(out, name);
    out.push_str("}}");
}

/// Writes `{"event":"clear","streamSid":…}`, replacing the contents of `out`.
pub fn write_clear(out: &mut String, stream_sid: &str) {
    out.clear();
    out.push_str(r#"{"event":"clear","streamSid":"#);
    push_str(out, stream_sid);
    out.push('}');
}

impl Outbound<'_> {
    /// Writes this message, replacing the contents of `out`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Outbound::Media {
                stream_sid,
                payload,
            } => write_media_base64(out, stream_sid, payload),
            Outbound::Mark { stream_sid, name } => write_mark(out, stream_sid, name),
            Outbound::Clear { stream_sid } => write_clear(out, stream_sid),
        }
    }

    /// Returns this message as a new JSON string.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// The `streamSid` the message is addressed to.
    pub fn stream_sid(&self) -> &str {
        match self {
            Outbound::Media { stream_sid, .. }
            | Outbound::Mark { stream_sid, .. }
            | Outbound::Clear { stream_sid } => stream_sid,
        }
    }

    /// Decodes a `media` payload into `out` (replacing it); `Ok(false)` for other messages.
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<bool, ProtoError> {
        match self {
            Outbound::Media { payload, .. } => decode_base64_into(payload, out).map(|()| true),
            _ => Ok(false),
        }
    }

    /// Decodes a `media` payload into new [`Bytes`]; `None` for other messages.
    pub fn decode_payload(&self) -> Result<Option<Bytes>, ProtoError> {
        let mut out = Vec::new();
        Ok(self
            .decode_payload_into(&mut out)?
            .then(|| Bytes::from(out)))
    }
}

/// Parses a server-to-Twilio frame as strictly as Twilio does: unknown events, missing fields
/// and extra fields are errors (31951), and frames over `max_bytes` are refused.
pub fn parse_outbound(text: &str, max_bytes: usize) -> Result<Outbound<'_>, ProtoError> {
    if text.len() > max_bytes {
        return Err(ProtoError::TooLarge {
            len: text.len(),
            max: max_bytes,
        });
    }
    let raw: RawOutbound<'_> = serde_json::from_str(text).map_err(|e| ProtoError::from_json(&e))?;
    let event = raw.event.ok_or(ProtoError::MissingField("event"))?.0;
    match &*event {
        "media" => {
            if raw.mark.is_some() {
                return Err(ProtoError::UnexpectedField("mark"));
            }
            let media = raw.media.ok_or(ProtoError::MissingField("media"))?;
            Ok(Outbound::Media {
                stream_sid: raw
                    .stream_sid
                    .map(|s| s.0)
                    .ok_or(ProtoError::MissingField("streamSid"))?,
                payload: media
                    .payload
                    .ok_or(ProtoError::MissingField("media.payload"))?
                    .0,
            })
        }
        "mark" => {
            if raw.media.is_some() {
                return Err(ProtoError::UnexpectedField("media"));
            }
            let mark = raw.mark.ok_or(ProtoError::MissingField("mark"))?;
            Ok(Outbound::Mark {
                stream_sid: raw
                    .stream_sid
                    .map(|s| s.0)
                    .ok_or(ProtoError::MissingField("streamSid"))?,
                name: mark.name.ok_or(ProtoError::MissingField("mark.name"))?.0,
            })
        }
        "clear" => {
            if raw.media.is_some() {
                return Err(ProtoError::UnexpectedField("media"));
            }
            if raw.mark.is_some() {
                return Err(ProtoError::UnexpectedField("mark"));
            }
            Ok(Outbound::Clear {
                stream_sid: raw
                    .stream_sid
                    .map(|s| s.0)
                    .ok_or(ProtoError::MissingField("streamSid"))?,
            })
        }
        other => Err(ProtoError::UnknownEvent(other.to_owned())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound<'a> {
    #[serde(borrow, default)]
    event: Option<CowStr<'a>>,
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    media: Option<RawPayload<'a>>,
    #[serde(borrow, default)]
    mark: Option<RawName<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload<'a> {
    #[serde(borrow, default)]
    payload: Option<CowStr<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawName<'a> {
    #[serde(borrow, default)]
    name: Option<CowStr<'a>>,
}
