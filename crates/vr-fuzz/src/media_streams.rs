//! `media_streams`: a hostile peer on one Media Streams socket, driven the way the server's
//! stream task drives it (`vr_twilio::server` `stream_task.rs`): every frame goes through
//! [`StreamState`], and session intents become outbound messages.
//!
//! The input is split on `\n`; each line is one event:
//!
//! | first byte | event |
//! | --- | --- |
//! | `0x01` | intent: send the rest of the line as audio ([`Outbound::Media`]) |
//! | `0x02` | intent: send a mark named by the rest of the line ([`Outbound::Mark`]) |
//! | `0x03` | intent: clear ([`Outbound::Clear`]) |
//! | `0x04` | intent: hang up ([`Outbound::Hangup`], nothing is built) |
//! | `0x05` | a binary frame as long as the rest of the line |
//! | anything else | a text frame (invalid UTF-8 replaced, as a WebSocket text frame is always UTF-8) |
//!
//! Checked for every frame: the parser agrees with the state machine, a parsed message
//! survives build → parse unchanged, nothing is accepted before `start` or after `stop`,
//! audio handed on is never empty and is exactly the decoded payload, the per-reason ignore
//! counters and `first` flags add up, and every outbound message built parses as strictly as
//! Twilio parses it and carries exactly what was asked for.

use bytes::Bytes;
use vr_session::Outbound;
use vr_twilio::proto::{self, Inbound, ProtoError};
use vr_twilio::stream::{IgnoreReason, StreamError, StreamEvent, StreamLimits, StreamState, Track};

/// The frame size limit used here: small, so the fuzzer reaches the too-large path.
const MAX_MESSAGE_BYTES: usize = 2048;

/// Runs the `media_streams` target on `data`.
pub fn media_streams(data: &[u8]) {
    play(data);
}

fn play(data: &[u8]) -> Run {
    let mut run = Run::new();
    for line in data.split(|&b| b == b'\n') {
        match line.split_first() {
            Some((1, audio)) => run.intent(Outbound::Media(Bytes::copy_from_slice(audio))),
            Some((2, name)) => {
                run.intent(Outbound::Mark(String::from_utf8_lossy(name).into_owned()))
            }
            Some((3, _)) => run.intent(Outbound::Clear),
            Some((4, _)) => run.intent(Outbound::Hangup),
            Some((5, rest)) => run.binary(rest.len()),
            _ => run.text(&String::from_utf8_lossy(line)),
        }
    }
    run
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingStart,
    Started,
    Stopped,
}

/// The state machine under test next to a minimal model of what it must do.
struct Run {
    state: StreamState,
    phase: Phase,
    connected_seen: bool,
    sid: Option<String>,
    frames: u64,
    audio_frames: u64,
    audio_bytes: u64,
    bytes_out: u64,
    marks_out: u64,
    clears_out: u64,
    out: String,
    decoded: Vec<u8>,
}

impl Run {
    fn new() -> Self {
        Self {
            state: StreamState::new(StreamLimits {
                max_message_bytes: MAX_MESSAGE_BYTES,
            }),
            phase: Phase::AwaitingStart,
            connected_seen: false,
            sid: None,
            frames: 0,
            audio_frames: 0,
            audio_bytes: 0,
            bytes_out: 0,
            marks_out: 0,
            clears_out: 0,
            out: String::new(),
            decoded: Vec::new(),
        }
    }

    fn text(&mut self, text: &str) {
        let parsed = proto::parse_inbound_with_limit(text, MAX_MESSAGE_BYTES);
        check_limit(text);
        if let Ok(msg) = &parsed {
            check_round_trip(msg);
        }
        let before = self.counters();
        let event = self.state.handle_text(text);
        self.frames += 1;
        self.check_event(&parsed, &event, &before);
        self.check_stats();
    }

    fn binary(&mut self, len: usize) {
        let before = self.counters();
        let event = self.state.handle_binary(len);
        self.frames += 1;
        let expected = if self.phase == Phase::Stopped {
            IgnoreReason::AfterStop
        } else {
            IgnoreReason::BinaryFrame
        };
        let StreamEvent::Ignored(ignored) = &event else {
            panic!("a binary frame was not ignored: {event:?}");
        };
        assert_eq!(ignored.reason, expected);
        assert_eq!(ignored.error, Some(ProtoError::BinaryFrame { len }));
        self.check_ignored(ignored.reason, ignored.first, &before);
        self.check_stats();
    }

    /// One session intent, handled as the server's pump loop does.
    fn intent(&mut self, intent: Outbound) {
        self.out.clear();
        let built = match &intent {
            Outbound::Media(audio) => self.state.media(audio, &mut self.out),
            Outbound::Mark(name) => self.state.mark(name, &mut self.out),
            Outbound::Clear => self.state.clear(&mut self.out),
            Outbound::Hangup => return,
        };
        let expected = match self.phase {
            Phase::AwaitingStart => Err(StreamError::NotStarted),
            Phase::Started => Ok(()),
            Phase::Stopped => Err(StreamError::Stopped),
        };
        assert_eq!(built, expected, "building {intent:?}");
        if built.is_err() {
            assert!(self.out.is_empty(), "a refused message left output behind");
            self.check_stats();
            return;
        }
        let sid = self.sid.as_deref().unwrap_or_default();
        let msg = match proto::parse_outbound(&self.out, usize::MAX) {
            Ok(msg) => msg,
            Err(e) => panic!("Twilio would refuse {:?}: {e}", self.out),
        };
        assert_eq!(msg.stream_sid(), sid, "outbound streamSid");
        match (&intent, &msg) {
            (Outbound::Media(audio), proto::Outbound::Media { payload, .. }) => {
                assert_eq!(payload.len(), audio.len().div_ceil(3) * 4, "base64 length");
                if let Err(e) = proto::decode_base64_into(payload, &mut self.decoded) {
                    panic!("outbound payload is not base64: {e}");
                }
                assert_eq!(self.decoded, audio.as_ref(), "outbound audio");
                self.bytes_out += audio.len() as u64;
            }
            (Outbound::Mark(name), proto::Outbound::Mark { name: wire, .. }) => {
                assert_eq!(wire, name, "outbound mark name");
                self.marks_out += 1;
            }
            (Outbound::Clear, proto::Outbound::Clear { .. }) => self.clears_out += 1,
            _ => panic!("{intent:?} was built as {msg:?}"),
        }
        self.check_stats();
    }

    fn counters(&self) -> Vec<u64> {
        IgnoreReason::ALL
            .iter()
            .map(|&r| self.state.ignored_count(r))
            .collect()
    }

    fn check_event(
        &mut self,
        parsed: &Result<Inbound<'_>, ProtoError>,
        event: &StreamEvent,
        before: &[u64],
    ) {
        if self.phase == Phase::Stopped {
            let StreamEvent::Ignored(ignored) = event else {
                panic!("a frame after stop was not ignored: {event:?}");
            };
            assert_eq!(ignored.reason, IgnoreReason::AfterStop);
            self.check_ignored(ignored.reason, ignored.first, before);
            return;
        }
        let msg = match parsed {
            Ok(msg) => msg,
            Err(e) => {
                let StreamEvent::Ignored(ignored) = event else {
                    panic!("an unparsable frame ({e}) gave {event:?}");
                };
                assert_eq!(ignored.error.as_ref(), Some(e));
                self.check_ignored(ignored.reason, ignored.first, before);
                return;
            }
        };
        let msg_sid = message_sid(msg);
        let expected_ignore = self.expected_ignore(msg, msg_sid);
        if let StreamEvent::Ignored(ignored) = event {
            assert_eq!(Some(ignored.reason), expected_ignore, "{msg:?} was ignored");
            self.check_ignored(ignored.reason, ignored.first, before);
            return;
        }
        assert_eq!(expected_ignore, None, "{msg:?} gave {event:?}");
        match event {
            StreamEvent::Connected { protocol, version } => {
                let Inbound::Connected(c) = msg else {
                    panic!("{msg:?} gave Connected");
                };
                assert_eq!(protocol.as_deref(), c.protocol.as_deref());
                assert_eq!(version.as_deref(), c.version.as_deref());
                self.connected_seen = true;
            }
            StreamEvent::Started(info) => {
                let Inbound::Start(s) = msg else {
                    panic!("{msg:?} gave Started");
                };
                assert_eq!(info.stream_sid, s.stream_sid);
                assert_eq!(info.call_sid.as_deref(), s.call_sid.as_deref());
                assert_eq!(info.tracks.len(), s.tracks.len());
                assert_eq!(info.custom_parameters.len(), s.custom_parameters.len());
                assert_eq!(self.state.stream_sid(), Some(info.stream_sid.as_str()));
                assert_eq!(self.state.call_sid(), info.call_sid.as_deref());
                self.sid = Some(info.stream_sid.clone());
                self.phase = Phase::Started;
            }
            StreamEvent::Audio(frame) => {
                let Inbound::Media(m) = msg else {
                    panic!("{msg:?} gave Audio");
                };
                assert!(!frame.audio.is_empty(), "empty audio was handed on");
                assert_eq!(frame.audio.as_ref(), self.decoded.as_slice());
                let track = match m.track.as_deref() {
                    Some("inbound") => Track::Inbound,
                    Some("outbound") => Track::Outbound,
                    _ => Track::Other,
                };
                assert_eq!(frame.track, track);
                assert_eq!(frame.timestamp, m.timestamp);
                assert_eq!(frame.chunk, m.chunk);
                assert_eq!(frame.sequence_number, m.sequence_number);
                self.audio_frames += 1;
                self.audio_bytes += frame.audio.len() as u64;
            }
            StreamEvent::Dtmf(digit) => {
                let Inbound::Dtmf(d) = msg else {
                    panic!("{msg:?} gave Dtmf");
                };
                assert_eq!(digit, &d.digit);
            }
            StreamEvent::MarkEcho(name) => {
                let Inbound::Mark(m) = msg else {
                    panic!("{msg:?} gave MarkEcho");
                };
                assert_eq!(name, &m.name);
            }
            StreamEvent::Stopped => {
                assert!(matches!(msg, Inbound::Stop(_)), "{msg:?} gave Stopped");
                self.phase = Phase::Stopped;
            }
            StreamEvent::Ignored(_) => unreachable!("handled above"),
        }
    }

    /// What the model says a parsed message must be ignored for, if anything. For `media`
    /// it leaves the decoded payload in `self.decoded`.
    fn expected_ignore(
        &mut self,
        msg: &Inbound<'_>,
        msg_sid: Option<&str>,
    ) -> Option<IgnoreReason> {
        let started = self.phase == Phase::Started;
        let foreign = msg_sid.is_some_and(|s| Some(s) != self.sid.as_deref());
        let before_start = match msg {
            Inbound::Start(_) => return started.then_some(IgnoreReason::DuplicateStart),
            Inbound::Connected(_) => {
                return (started || self.connected_seen)
                    .then_some(IgnoreReason::UnexpectedConnected);
            }
            Inbound::Unknown(_) => return Some(IgnoreReason::UnknownEvent),
            Inbound::Media(_) => IgnoreReason::MediaBeforeStart,
            Inbound::Mark(_) => IgnoreReason::MarkBeforeStart,
            Inbound::Dtmf(_) => IgnoreReason::DtmfBeforeStart,
            Inbound::Stop(_) => IgnoreReason::StopBeforeStart,
        };
        if !started {
            return Some(before_start);
        }
        if foreign {
            return Some(IgnoreReason::WrongStreamSid);
        }
        if let Inbound::Media(m) = msg {
            return match m.decode_payload_into(&mut self.decoded) {
                Err(_) => Some(IgnoreReason::BadBase64),
                Ok(()) if self.decoded.is_empty() => Some(IgnoreReason::EmptyPayload),
                Ok(()) => None,
            };
        }
        None
    }

    /// Exactly `reason`'s counter went up by one, and `first` says whether it was the first.
    fn check_ignored(&self, reason: IgnoreReason, first: bool, before: &[u64]) {
        let after = self.counters();
        for (i, r) in IgnoreReason::ALL.iter().enumerate() {
            let step = u64::from(*r == reason);
            assert_eq!(after[i], before[i] + step, "counter {}", r.as_str());
        }
        assert_eq!(first, before[reason.index()] == 0, "`first` flag");
    }

    fn check_stats(&self) {
        let stats = self.state.stats();
        assert_eq!(stats.frames_in, self.frames);
        assert_eq!(stats.audio_frames_in, self.audio_frames);
        assert_eq!(stats.audio_bytes_in, self.audio_bytes);
        assert_eq!(stats.audio_bytes_out, self.bytes_out);
        assert_eq!(stats.marks_out, self.marks_out);
        assert_eq!(stats.clears_out, self.clears_out);
        assert_eq!(self.state.is_started(), self.phase == Phase::Started);
        assert_eq!(self.state.is_stopped(), self.phase == Phase::Stopped);
    }
}

fn message_sid<'m>(msg: &'m Inbound<'_>) -> Option<&'m str> {
    match msg {
        Inbound::Media(m) => m.stream_sid.as_deref(),
        Inbound::Mark(m) => m.stream_sid.as_deref(),
        Inbound::Dtmf(d) => d.stream_sid.as_deref(),
        Inbound::Stop(s) => s.stream_sid.as_deref(),
        Inbound::Start(s) => Some(&s.stream_sid),
        Inbound::Connected(_) | Inbound::Unknown(_) => None,
    }
}

/// A frame of exactly the limit is parsed; one byte less of limit refuses it as too large.
fn check_limit(text: &str) {
    let at_limit = proto::parse_inbound_with_limit(text, text.len());
    assert!(!matches!(at_limit, Err(ProtoError::TooLarge { .. })));
    if let Some(below) = text.len().checked_sub(1) {
        assert_eq!(
            proto::parse_inbound_with_limit(text, below),
            Err(ProtoError::TooLarge {
                len: text.len(),
                max: below
            })
        );
    }
}

/// A parsed message, built as Twilio would send it, parses back to itself, and building is
/// deterministic.
fn check_round_trip(msg: &Inbound<'_>) {
    let json = msg.to_json();
    let again = match proto::parse_inbound_with_limit(&json, usize::MAX) {
        Ok(again) => again,
        Err(e) => panic!("{msg:?} was built as unparsable {json:?}: {e}"),
    };
    assert_eq!(&again, msg, "round trip through {json:?}");
    assert_eq!(again.to_json(), json, "building is not deterministic");
    if let Inbound::Media(m) = msg {
        // The owned copy is the same message.
        assert_eq!(&Inbound::Media(m.clone()).into_owned(), msg);
        let mut arena = bytes::BytesMut::new();
        let carved = m.decode_payload_in(&mut arena);
        let mut plain = Vec::new();
        let decoded = proto::decode_base64_into(&m.payload, &mut plain);
        assert_eq!(carved.is_ok(), decoded.is_ok(), "decoders disagree");
        if let Ok(carved) = carved {
            assert_eq!(carved.as_ref(), plain.as_slice(), "decoders disagree");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

    fn call() -> Vec<u8> {
        let mut data = Vec::new();
        for line in [
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned(),
            format!(
                r#"{{"event":"start","sequenceNumber":"1","start":{{"streamSid":"{SID}","callSid":"CA1","tracks":["inbound"]}},"streamSid":"{SID}"}}"#
            ),
            format!(
                r#"{{"event":"media","sequenceNumber":"2","media":{{"track":"inbound","chunk":"1","timestamp":"5","payload":"/////w=="}},"streamSid":"{SID}"}}"#
            ),
        ] {
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
        }
        data.extend_from_slice(b"\x01\xff\xfe\x7f\n\x02tts__0a1b\"\\\n\x03\n\x04\n\x05abc\n");
        data.extend_from_slice(
            format!(r#"{{"event":"stop","sequenceNumber":"3","stop":{{}},"streamSid":"{SID}"}}"#)
                .as_bytes(),
        );
        data.extend_from_slice(b"\n\x01after stop\nnot json");
        data
    }

    #[test]
    fn a_whole_call_passes() {
        let run = play(&call());
        assert_eq!(run.phase, Phase::Stopped);
        assert_eq!(run.sid.as_deref(), Some(SID));
        assert_eq!((run.audio_frames, run.audio_bytes), (1, 4));
        assert_eq!((run.bytes_out, run.marks_out, run.clears_out), (3, 1, 1));
        assert_eq!(run.frames, 6);
        assert_eq!(run.state.ignored_count(IgnoreReason::AfterStop), 1);
        assert_eq!(run.state.ignored_count(IgnoreReason::BinaryFrame), 1);
    }

    #[test]
    fn arbitrary_bytes_pass() {
        media_streams(b"");
        media_streams(b"\n\n\xff\xfe{\"event\":1}\n{\"event\":\"media\"}");
    }
}
