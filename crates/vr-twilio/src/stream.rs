//! The per-stream Media Streams state machine, with no I/O.
//!
//! The WebSocket handler feeds every received frame to [`StreamState::handle_text`] or
//! [`StreamState::handle_binary`] and acts on the returned [`StreamEvent`]; outbound messages are
//! built with [`StreamState::media`], [`StreamState::mark`] and [`StreamState::clear`].
//!
//! Nothing a peer sends ends the stream except `stop` (W13): malformed frames, unknown events
//! and messages out of order are counted per [`IgnoreReason`] and reported as
//! [`StreamEvent::Ignored`], whose `first` flag lets the caller log each reason once per call.
//! A second `start` is ignored rather than restarting anything (W10).
//!
//! Time is not read here: the handler enforces the idle timeout, e.g. with
//! [`crate::idle::IdleTimer`], touching it on every frame.

use bytes::{Bytes, BytesMut};

use crate::proto::{self, DEFAULT_MAX_MESSAGE_BYTES, Inbound, ProtoError};

/// Limits applied to one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Frames longer than this are ignored as [`IgnoreReason::TooLarge`].
    pub max_message_bytes: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// What one inbound frame means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// `connected` arrived (log it; nothing to do).
    Connected {
        /// `protocol`, `"Call"` in practice.
        protocol: Option<String>,
        /// `version`, `"1.0.0"` in practice.
        version: Option<String>,
    },
    /// The stream started; outbound messages may now be built.
    Started(StartInfo),
    /// Decoded caller audio (raw μ-law); never empty.
    Audio(AudioFrame),
    /// A key press.
    Dtmf(String),
    /// Twilio echoed a mark: everything sent before it has played or was cleared.
    MarkEcho(String),
    /// `stop`: the stream is over; later frames are ignored.
    Stopped,
    /// The frame was ignored; the stream goes on.
    Ignored(Ignored),
}

/// The `start` message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfo {
    /// `streamSid`.
    pub stream_sid: String,
    /// `start.callSid`.
    pub call_sid: Option<String>,
    /// `start.accountSid`.
    pub account_sid: Option<String>,
    /// `start.tracks`.
    pub tracks: Vec<String>,
    /// `start.mediaFormat` as (encoding, sample rate, channels).
    pub media_format: Option<(String, u32, u16)>,
    /// `start.customParameters` in document order.
    pub custom_parameters: Vec<(String, String)>,
}

impl StartInfo {
    /// The value of custom parameter `name`, if present.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.custom_parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One frame of caller audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Raw μ-law bytes, 8 kHz mono.
    pub audio: Bytes,
    /// `media.track`.
    pub track: Track,
    /// `media.timestamp`: milliseconds of media time since the stream started.
    pub timestamp: Option<u64>,
    /// `media.chunk`.
    pub chunk: Option<u64>,
    /// `sequenceNumber`.
    pub sequence_number: Option<u64>,
}

/// Which side of the call a media frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// `"inbound"`: the caller (the only track of a bidirectional stream).
    Inbound,
    /// `"outbound"`: what the caller hears (unidirectional `both_tracks` streams).
    Outbound,
    /// Absent or another value.
    Other,
}

/// An ignored frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Why it was ignored.
    pub reason: IgnoreReason,
    /// True the first time this reason occurs on this stream: log it then, not every time.
    pub first: bool,
    /// The parse error, for reasons that come from one.
    pub error: Option<ProtoError>,
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident = $label:literal,)*) => {
        /// Why a frame was ignored. Each reason has its own counter in [`StreamState`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum IgnoreReason { $($(#[$doc])* $name,)* }
        impl IgnoreReason {
            /// Every reason, in counter order ([`IgnoreReason::index`]).
            pub const ALL: &'static [IgnoreReason] = &[$(IgnoreReason::$name,)*];

            /// A stable snake_case label for logs and metrics.
            pub const fn as_str(self) -> &'static str {
                match self { $(IgnoreReason::$name => $label,)* }
            }
        }
    };
}

reasons! {
    /// The text is not JSON.
    NotJson = "not_json",
    /// A binary frame.
    BinaryFrame = "binary_frame",
    /// Over [`StreamLimits::max_message_bytes`].
    TooLarge = "too_large",
    /// JSON of the wrong shape or without a required field.
    InvalidMessage = "invalid_message",
    /// A `media` payload that is not base64.
    BadBase64 = "bad_base64",
    /// An event this crate does not know.
    UnknownEvent = "unknown_event",
    /// A second `connected`, or one after `start`.
    UnexpectedConnected = "unexpected_connected",
    /// `media` before `start`.
    MediaBeforeStart = "media_before_start",
    /// `mark` before `start`.
    MarkBeforeStart = "mark_before_start",
    /// `dtmf` before `start`.
    DtmfBeforeStart = "dtmf_before_start",
    /// `stop` before `start` (it does not end the stream).
    StopBeforeStart = "stop_before_start",
    /// A second `start`.
    DuplicateStart = "duplicate_start",
    /// `media` with an empty payload.
    EmptyPayload = "empty_payload",
    /// A message whose `streamSid` is not the started stream's.
    WrongStreamSid = "wrong_stream_sid",
    /// Anything after `stop`.
    AfterStop = "after_stop",
}

impl IgnoreReason {
    /// This reason's position in [`IgnoreReason::ALL`], for per-reason counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Building an outbound message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// No `start` yet, so there is no stream id to address.
    #[error("the stream has not started")]
    NotStarted,
    /// The stream has stopped; Twilio no longer plays anything on it.
    #[error("the stream has stopped")]
    Stopped,
}

/// Running totals for one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Text and binary frames handled.
    pub frames_in: u64,
    /// Media frames turned into [`StreamEvent::Audio`].
    pub audio_frames_in: u64,
    /// Decoded caller audio bytes.
    pub audio_bytes_in: u64,
    /// Times a `sequenceNumber` did not follow the previous one (loss or reordering).
    pub sequence_gaps: u64,
    /// Raw audio bytes put into outbound `media` messages (8000 bytes = 1 s).
    pub audio_bytes_out: u64,
    /// Outbound `mark` messages built.
    pub marks_out: u64,
    /// Outbound `clear` messages built.
    pub clears_out: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingStart,
    Started,
    Stopped,
}

/// One Media Streams socket's protocol state.
#[derive(Debug)]
pub struct StreamState {
    limits: StreamLimits,
    phase: Phase,
    connected_seen: bool,
    stream_sid: Option<String>,
    call_sid: Option<String>,
    last_sequence: Option<u64>,
    ignored: [u64; IgnoreReason::ALL.len()],
    stats: StreamStats,
    arena: BytesMut,
}

/// Decoded audio is carved off one buffer of this size, so frames share allocations.
const ARENA_BYTES: usize = 16 * 1024;

impl StreamState {
    /// A stream waiting for `start`.
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            limits,
            phase: Phase::AwaitingStart,
            connected_seen: false,
            stream_sid: None,
            call_sid: None,
            last_sequence: None,
            ignored: [0; IgnoreReason::ALL.len()],
            stats: StreamStats::default(),
            arena: BytesMut::with_capacity(ARENA_BYTES),
        }
    }

    /// Handles one text frame.
    pub fn handle_text(&mut self, text: &str) -> StreamEvent {
        self.stats.frames_in += 1;
        if self.phase == Phase::Stopped {
            return self.ignore(IgnoreReason::AfterStop, None);
        }
        match proto::parse_inbound_with_limit(text, self.limits.max_message_bytes) {
            Ok(msg) => self.handle_message(msg),
            Err(e) => {
                let reason = match &e {
                    ProtoError::NotJson(_) => IgnoreReason::NotJson,
                    ProtoError::TooLarge { .. } => IgnoreReason::TooLarge,
                    ProtoError::BadBase64(_) => IgnoreReason::BadBase64,
                    ProtoError::UnknownEvent(_) => IgnoreReason::UnknownEvent,
                    ProtoError::BinaryFrame { .. } => IgnoreReason::BinaryFrame,
                    _ => IgnoreReason::InvalidMessage,
                };
                self.ignore(reason, Some(e))
            }
        }
    }

    /// Handles one binary frame of `len` bytes (Twilio never sends these).
    pub fn handle_binary(&mut self, len: usize) -> StreamEvent {
        self.stats.frames_in += 1;
        let reason = if self.phase == Phase::Stopped {
            IgnoreReason::AfterStop
        } else {
            IgnoreReason::BinaryFrame
        };
        self.ignore(reason, Some(ProtoError::BinaryFrame { len }))
    }

    /// Handles an already parsed message (e.g. from a simulator that skips JSON).
    pub fn handle_message(&mut self, msg: Inbound<'_>) -> StreamEvent {
        if self.phase == Phase::Stopped {
            return self.ignore(IgnoreReason::AfterStop, None);
        }
        let started = self.phase == Phase::Started;
        match msg {
            Inbound::Media(m) => {
                if !started {
                    return self.ignore(IgnoreReason::MediaBeforeStart, None);
                }
                if !self.sid_matches(m.stream_sid.as_deref()) {
                    return self.ignore(IgnoreReason::WrongStreamSid, None);
                }
                self.track_sequence(m.sequence_number);
                if m.payload.is_empty() {
                    return self.ignore(IgnoreReason::EmptyPayload, None);
                }
                match m.decode_payload_in(&mut self.arena) {
                    Ok(audio) if audio.is_empty() => self.ignore(IgnoreReason::EmptyPayload, None),
                    Ok(audio) => {
                        self.stats.audio_frames_in += 1;
                        self.stats.audio_bytes_in += audio.len() as u64;
                        StreamEvent::Audio(AudioFrame {
                            audio,
                            track: match m.track.as_deref() {
                                Some("inbound") => Track::Inbound,
                                Some("outbound") => Track::Outbound,
                                _ => Track::Other,
                            },
                            timestamp: m.timestamp,
                            chunk: m.chunk,
                            sequence_number: m.sequence_number,
                        })
                    }
                    Err(e) => self.ignore(IgnoreReason::BadBase64, Some(e)),
                }
            }
            Inbound::Mark(m) => {
                if !started {
                    return self.ignore(IgnoreReason::MarkBeforeStart, None);
                }
                if !self.sid_matches(m.stream_sid.as_deref()) {
                    return self.ignore(IgnoreReason::WrongStreamSid, None);
                }
                self.track_sequence(m.sequence_number);
                StreamEvent::MarkEcho(m.name.into_owned())
            }
            Inbound::Dtmf(d) => {
                if !started {
                    return self.ignore(IgnoreReason::DtmfBeforeStart, None);
                }
                if !self.sid_matches(d.stream_sid.as_deref()) {
                    return self.ignore(IgnoreReason::WrongStreamSid, None);
                }
                self.track_sequence(d.sequence_number);
                StreamEvent::Dtmf(d.digit.into_owned())
            }
            Inbound::Start(s) => {
                if started {
                    return self.ignore(IgnoreReason::DuplicateStart, None);
                }
                self.phase = Phase::Started;
                self.last_sequence = s.sequence_number;
                let info = StartInfo {
                    stream_sid: s.stream_sid.into_owned(),
                    call_sid: s.call_sid.map(|c| c.into_owned()),
                    account_sid: s.account_sid.map(|c| c.into_owned()),
                    tracks: s.tracks.into_iter().map(|t| t.into_owned()).collect(),
                    media_format: s
                        .media_format
                        .map(|f| (f.encoding.into_owned(), f.sample_rate, f.channels)),
                    custom_parameters: s
                        .custom_parameters
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect(),
                };
                self.stream_sid = Some(info.stream_sid.clone());
                self.call_sid.clone_from(&info.call_sid);
                StreamEvent::Started(info)
            }
            Inbound::Stop(s) => {
                if !started {
                    return self.ignore(IgnoreReason::StopBeforeStart, None);
                }
                if !self.sid_matches(s.stream_sid.as_deref()) {
                    return self.ignore(IgnoreReason::WrongStreamSid, None);
                }
                self.phase = Phase::Stopped;
                StreamEvent::Stopped
            }
            Inbound::Connected(c) => {
                if self.connected_seen || started {
                    return self.ignore(IgnoreReason::UnexpectedConnected, None);
                }
                self.connected_seen = true;
                StreamEvent::Connected {
                    protocol: c.protocol.map(|p| p.into_owned()),
                    version: c.version.map(|v| v.into_owned()),
                }
            }
            Inbound::Unknown(event) => {
                let err = ProtoError::UnknownEvent(event.into_owned());
                self.ignore(IgnoreReason::UnknownEvent, Some(err))
            }
        }
    }

    /// Builds an outbound `media` message for `audio` into `out` (replacing its contents).
    pub fn media(&mut self, audio: &[u8], out: &mut String) -> Result<(), StreamError> {
        proto::write_media(out, self.outbound_sid()?, audio);
        self.stats.audio_bytes_out += audio.len() as u64;
        Ok(())
    }

    /// Builds an outbound `mark` message into `out` (replacing its contents).
    pub fn mark(&mut self, name: &str, out: &mut String) -> Result<(), StreamError> {
        proto::write_mark(out, self.outbound_sid()?, name);
        self.stats.marks_out += 1;
        Ok(())
    }

    /// Builds an outbound `clear` message into `out` (replacing its contents).
    pub fn clear(&mut self, out: &mut String) -> Result<(), StreamError> {
        proto::write_clear(out, self.outbound_sid()?);
        self.stats.clears_out += 1;
        Ok(())
    }

    /// The started stream's id.
    pub fn stream_sid(&self) -> Option<&str> {
        self.stream_sid.as_deref()
    }

    /// The call id from `start`.
    pub fn call_sid(&self) -> Option<&str> {
        self.call_sid.as_deref()
    }

    /// True between `start` and `stop`.
    pub fn is_started(&self) -> bool {
        self.phase == Phase::Started
    }

    /// True once `stop` arrived.
    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// How many frames were ignored for `reason`.
    pub fn ignored_count(&self, reason: IgnoreReason) -> u64 {
        self.ignored[reason.index()]
    }

    /// Every reason with a non-zero count.
    pub fn ignored_counts(&self) -> impl Iterator<Item = (IgnoreReason, u64)> + '_ {
        IgnoreReason::ALL
            .iter()
            .map(|&r| (r, self.ignored[r.index()]))
            .filter(|&(_, n)| n > 0)
    }

    /// Running totals.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    fn outbound_sid(&self) -> Result<&str, StreamError> {
        match (self.phase, self.stream_sid.as_deref()) {
            (Phase::Started, Some(sid)) => Ok(sid),
            (Phase::Stopped, _) => Err(StreamError::Stopped),
            _ => Err(StreamError::NotStarted),
        }
    }

    fn sid_matches(&self, sid: Option<&str>) -> bool {
        // A message without streamSid is accepted: Twilio always sends one, and refusing a
        // `stop` over a missing field would keep a dead call open.
        match (sid, self.stream_sid.as_deref()) {
            (Some(got), Some(want)) => got == want,
            _ => true,
        }
    }

    fn track_sequence(&mut self, seq: Option<u64>) {
        if let Some(n) = seq {
            if let Some(last) = self.last_sequence {
                if last.checked_add(1) != Some(n) {
                    self.stats.sequence_gaps += 1;
                }
            }
            self.last_sequence = Some(n);
        }
    }

    fn ignore(&mut self, reason: IgnoreReason, error: Option<ProtoError>) -> StreamEvent {
        let count = &mut self.ignored[reason.index()];
        *count += 1;
        StreamEvent::Ignored(Ignored {
            reason,
            first: *count == 1,
            error,
        })
    }
}

impl Default for StreamState {
    fn default() -> Self {
        Self::new(StreamLimits::default())
    }
}
