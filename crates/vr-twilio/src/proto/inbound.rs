//! Messages Twilio sends to the server (media-streams.md §3), as borrowed Rust types.
//!
//! Parsing borrows every string it can from the input frame, so a media message costs one
//! pass of serde_json and no allocation until its payload is decoded.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use super::error::ProtoError;
use super::json::{Counter, CowStr, StrPairs};
use super::{B64_DECODE, DEFAULT_MAX_MESSAGE_BYTES};

/// One message from Twilio to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// `connected`: the first message on a socket.
    Connected(Connected<'a>),
    /// `start`: stream metadata, once per stream.
    Start(Start<'a>),
    /// `media`: caller audio.
    Media(Media<'a>),
    /// `mark`: echo of a mark the server sent.
    Mark(Mark<'a>),
    /// `dtmf`: a key press.
    Dtmf(Dtmf<'a>),
    /// `stop`: the stream stopped or the call ended.
    Stop(Stop<'a>),
    /// An event this crate does not know; Twilio may add events, so callers ignore these.
    Unknown(Cow<'a, str>),
}

/// `connected` (§3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connected<'a> {
    /// `protocol`, `"Call"` in practice.
    pub protocol: Option<Cow<'a, str>>,
    /// `version`, `"1.0.0"` in practice.
    pub version: Option<Cow<'a, str>>,
}

/// `start` (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start<'a> {
    /// `sequenceNumber` (`"1"` for start).
    pub sequence_number: Option<u64>,
    /// The stream id (top-level `streamSid`, or `start.streamSid` when only that is present).
    pub stream_sid: Cow<'a, str>,
    /// `start.accountSid`.
    pub account_sid: Option<Cow<'a, str>>,
    /// `start.callSid`.
    pub call_sid: Option<Cow<'a, str>>,
    /// `start.tracks`, e.g. `["inbound"]`.
    pub tracks: Vec<Cow<'a, str>>,
    /// `start.mediaFormat`.
    pub media_format: Option<MediaFormat<'a>>,
    /// `start.customParameters` in document order (absent, `null` and `{}` give none).
    pub custom_parameters: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// `start.mediaFormat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFormat<'a> {
    /// `encoding`, always `"audio/x-mulaw"` today.
    pub encoding: Cow<'a, str>,
    /// `sampleRate`, always 8000 today.
    pub sample_rate: u32,
    /// `channels`, always 1 today.
    pub channels: u16,
}

/// `media` (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// `sequenceNumber`.
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    pub stream_sid: Option<Cow<'a, str>>,
    /// `media.track` (`"inbound"` or `"outbound"`).
    pub track: Option<Cow<'a, str>>,
    /// `media.chunk`, the per-track counter.
    pub chunk: Option<u64>,
    /// `media.timestamp`, milliseconds of media time since the stream started.
    pub timestamp: Option<u64>,
    /// `media.payload`, base64 of raw μ-law; see [`Media::decode_payload_into`].
    pub payload: Cow<'a, str>,
}

/// `mark` echo (§3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark<'a> {
    /// `sequenceNumber`.
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    pub stream_sid: Option<Cow<'a, str>>,
    /// `mark.name`, as the server sent it.
    pub name: Cow<'a, str>,
}

/// `dtmf` (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dtmf<'a> {
    /// `sequenceNumber`.
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    pub stream_sid: Option<Cow<'a, str>>,
    /// `dtmf.track` (`"inbound_track"`).
    pub track: Option<Cow<'a, str>>,
    /// `dtmf.digit`, e.g. `"1"`, `"*"`, `"#"`.
    pub digit: Cow<'a, str>,
}

/// `stop` (§3.6). Every field is optional: a stop must end the stream however it is shaped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stop<'a> {
    /// `sequenceNumber`.
    pub sequence_number: Option<u64>,
    /// `streamSid`.
    pub stream_sid: Option<Cow<'a, str>>,
    /// `stop.accountSid`.
    pub account_sid: Option<Cow<'a, str>>,
    /// `stop.callSid`.
    pub call_sid: Option<Cow<'a, str>>,
}

/// Parses one text frame from Twilio, with the default size limit.
pub fn parse_inbound(text: &str) -> Result<Inbound<'_>, ProtoError> {
    parse_inbound_with_limit(text, DEFAULT_MAX_MESSAGE_BYTES)
}

/// Parses one text frame from Twilio, rejecting frames longer than `max_bytes`.
///
/// Unknown events give [`Inbound::Unknown`]; unknown fields are ignored.
pub fn parse_inbound_with_limit(text: &str, max_bytes: usize) -> Result<Inbound<'_>, ProtoError> {
    if text.len() > max_bytes {
        return Err(ProtoError::TooLarge {
            len: text.len(),
            max: max_bytes,
        });
    }
    let raw: RawInbound<'_> = serde_json::from_str(text).map_err(|e| ProtoError::from_json(&e))?;
    raw.into_message()
}

impl Media<'_> {
    /// Decodes the payload into `out`, replacing its contents; reuse `out` across frames.
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        decode_base64_into(&self.payload, out)
    }

    /// Decodes the payload into a fresh [`Bytes`].
    pub fn decode_payload(&self) -> Result<Bytes, ProtoError> {
        let mut out = Vec::new();
        decode_base64_into(&self.payload, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// Decodes the payload by carving it off `arena`, so many small frames share one allocation.
    pub fn decode_payload_in(&self, arena: &mut BytesMut) -> Result<Bytes, ProtoError> {
        decode_base64_in(&self.payload, arena)
    }
}

/// Decodes standard base64 (padding optional) into `out`, replacing its contents.
pub fn decode_base64_into(payload: &str, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    use base64::Engine as _;
    out.clear();
    B64_DECODE
        .decode_vec(payload, out)
        .map_err(|e| ProtoError::BadBase64(e.to_string()))
}

/// Decodes standard base64 by carving the result off `arena` (see [`Media::decode_payload_in`]).
pub fn decode_base64_in(payload: &str, arena: &mut BytesMut) -> Result<Bytes, ProtoError> {
    use base64::Engine as _;
    arena.clear();
    arena.resize(base64::decoded_len_estimate(payload.len()), 0);
    match B64_DECODE.decode_slice(payload, &mut arena[..]) {
        Ok(n) => {
            arena.truncate(n);
            Ok(arena.split().freeze())
        }
        Err(e) => {
            arena.clear();
            Err(ProtoError::BadBase64(e.to_string()))
        }
    }
}

impl Inbound<'_> {
    /// Copies every borrowed string so the message outlives the frame it was parsed from.
    pub fn into_owned(self) -> Inbound<'static> {
        match self {
            Inbound::Connected(c) => Inbound::Connected(Connected {
                protocol: owned_opt(c.protocol),
                version: owned_opt(c.version),
            }),
            Inbound::Start(s) => Inbound::Start(s.into_owned()),
            Inbound::Media(m) => Inbound::Media(Media {
                sequence_number: m.sequence_number,
                stream_sid: owned_opt(m.stream_sid),
                track: owned_opt(m.track),
                chunk: m.chunk,
                timestamp: m.timestamp,
                payload: owned(m.payload),
            }),
            Inbound::Mark(m) => Inbound::Mark(Mark {
                sequence_number: m.sequence_number,
                stream_sid: owned_opt(m.stream_sid),
                name: owned(m.name),
            }),
            Inbound::Dtmf(d) => Inbound::Dtmf(Dtmf {
                sequence_number: d.sequence_number,
                stream_sid: owned_opt(d.stream_sid),
                track: owned_opt(d.track),
                digit: owned(d.digit),
            }),
            Inbound::Stop(s) => Inbound::Stop(Stop {
                sequence_number: s.sequence_number,
                stream_sid: owned_opt(s.stream_sid),
                account_sid: owned_opt(s.account_sid),
                call_sid: owned_opt(s.call_sid),
            }),
            Inbound::Unknown(e) => Inbound::Unknown(owned(e)),
        }
    }
}

impl Start<'_> {
    /// Copies every borrowed string.
    pub fn into_owned(self) -> Start<'static> {
        Start {
            sequence_number: self.sequence_number,
            stream_sid: owned(self.stream_sid),
            account_sid: owned_opt(self.account_sid),
            call_sid: owned_opt(self.call_sid),
            tracks: self.tracks.into_iter().map(owned).collect(),
            media_format: self.media_format.map(|f| MediaFormat {
                encoding: owned(f.encoding),
                sample_rate: f.sample_rate,
                channels: f.channels,
            }),
            custom_parameters: self
                .custom_parameters
                .into_iter()
                .map(|(k, v)| (owned(k), owned(v)))
                .collect(),
        }
    }
}

fn owned(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn owned_opt(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.map(owned)
}

// --- wire shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawInbound<'a> {
    #[serde(borrow, default)]
    event: Option<CowStr<'a>>,
    #[serde(rename = "sequenceNumber", default)]
    sequence_number: Counter,
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    protocol: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    version: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    start: Option<RawStart<'a>>,
    #[serde(borrow, default)]
    media: Option<RawMedia<'a>>,
    #[serde(borrow, default)]
    mark: Option<RawMark<'a>>,
    #[serde(borrow, default)]
    dtmf: Option<RawDtmf<'a>>,
    #[serde(borrow, default)]
    stop: Option<RawStop<'a>>,
}

#[derive(Deserialize)]
struct RawStart<'a> {
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<CowStr<'a>>,
    #[serde(rename = "accountSid", borrow, default)]
    account_sid: Option<CowStr<'a>>,
    #[serde(rename = "callSid", borrow, default)]
    call_sid: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    tracks: Option<Vec<CowStr<'a>>>,
    #[serde(rename = "mediaFormat", borrow, default)]
    media_format: Option<RawMediaFormat<'a>>,
    #[serde(rename = "customParameters", borrow, default)]
    custom_parameters: StrPairs<'a>,
}

#[derive(Deserialize)]
struct RawMediaFormat<'a> {
    #[serde(borrow, default)]
    encoding: Option<CowStr<'a>>,
    #[serde(rename = "sampleRate", default)]
    sample_rate: Counter,
    #[serde(default)]
    channels: Counter,
}

#[derive(Deserialize)]
struct RawMedia<'a> {
    #[serde(borrow, default)]
    track: Option<CowStr<'a>>,
    #[serde(default)]
    chunk: Counter,
    #[serde(default)]
    timestamp: Counter,
    #[serde(borrow, default)]
    payload: Option<CowStr<'a>>,
}

#[derive(Deserialize)]
struct RawMark<'a> {
    #[serde(borrow, default)]
    name: Option<CowStr<'a>>,
}

#[derive(Deserialize)]
struct RawDtmf<'a> {
    #[serde(borrow, default)]
    track: Option<CowStr<'a>>,
    #[serde(borrow, default)]
    digit: Option<CowStr<'a>>,
}

#[derive(Deserialize)]
struct RawStop<'a> {
    #[serde(rename = "accountSid", borrow, default)]
    account_sid: Option<CowStr<'a>>,
    #[serde(rename = "callSid", borrow, default)]
    call_sid: Option<CowStr<'a>>,
}

fn cow(s: Option<CowStr<'_>>) -> Option<Cow<'_, str>> {
    s.map(|c| c.0)
}

impl<'a> RawInbound<'a> {
    fn into_message(self) -> Result<Inbound<'a>, ProtoError> {
        let event = self.event.ok_or(ProtoError::MissingField("event"))?.0;
        let seq = self.sequence_number.0;
        let sid = cow(self.stream_sid);
        Ok(match &*event {
            "media" => {
                let m = self.media.ok_or(ProtoError::MissingField("media"))?;
                Inbound::Media(Media {
                    sequence_number: seq,
                    stream_sid: sid,
                    track: cow(m.track),
                    chunk: m.chunk.0,
                    timestamp: m.timestamp.0,
                    payload: cow(m.payload).ok_or(ProtoError::MissingField("media.payload"))?,
                })
            }
            "mark" => {
                let m = self.mark.ok_or(ProtoError::MissingField("mark"))?;
                Inbound::Mark(Mark {
                    sequence_number: seq,
                    stream_sid: sid,
                    name: cow(m.name).ok_or(ProtoError::MissingField("mark.name"))?,
                })
            }
            "dtmf" => {
                let d = self.dtmf.ok_or(ProtoError::MissingField("dtmf"))?;
                Inbound::Dtmf(Dtmf {
                    sequence_number: seq,
                    stream_sid: sid,
                    track: cow(d.track),
                    digit: cow(d.digit).ok_or(ProtoError::MissingField("dtmf.digit"))?,
                })
            }
            "start" => {
                let s = self.start.ok_or(ProtoError::MissingField("start"))?;
                Inbound::Start(start_from_raw(seq, sid, s)?)
            }
            "stop" => {
                let (account_sid, call_sid) = match self.stop {
                    Some(s) => (cow(s.account_sid), cow(s.call_sid)),
                    None => (None, None),
                };
                Inbound::Stop(Stop {
                    sequence_number: seq,
                    stream_sid: sid,
                    account_sid,
                    call_sid,
                })
            }
            "connected" => Inbound::Connected(Connected {
                protocol: cow(self.protocol),
                version: cow(self.version),
            }),
            _ => Inbound::Unknown(event),
        })
    }
}

fn start_from_raw<'a>(
    seq: Option<u64>,
    top_sid: Option<Cow<'a, str>>,
    s: RawStart<'a>,
) -> Result<Start<'a>, ProtoError> {
    let stream_sid = top_sid
        .or_else(|| cow(s.stream_sid))
        .ok_or(ProtoError::MissingField("streamSid"))?;
    let media_format = match s.media_format {
        None => None,
        Some(f) => Some(MediaFormat {
            encoding: cow(f.encoding)
                .ok_or(ProtoError::MissingField("start.mediaFormat.encoding"))?,
            sample_rate: f
                .sample_rate
                .0
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(ProtoError::MissingField("start.mediaFormat.sampleRate"))?,
            channels: f
                .channels
                .0
                .and_then(|v| u16::try_from(v).ok())
                .ok_or(ProtoError::MissingField("start.mediaFormat.channels"))?,
        }),
    };
    Ok(Start {
        sequence_number: seq,
        stream_sid,
        account_sid: cow(s.account_sid),
        call_sid: cow(s.call_sid),
        tracks: s
            .tracks
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect(),
        media_format,
        custom_parameters: s.custom_parameters.0,
    })
}
