//! The per-stream state machine: W10 (second start), W13 (malformed frames never end the
//! stream), ordering rules, per-reason counters, and outbound building.

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use vr_twilio::proto::{MediaMeta, Outbound, parse_outbound, write_inbound_media};
use vr_twilio::stream::{IgnoreReason, StreamError, StreamEvent, StreamLimits, StreamState, Track};

const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"From":"+1555","lang":"fi-FI"}},"streamSid":"MZ1"}"#;

fn media(seq: u64, sid: &str, audio: &[u8]) -> String {
    let mut out = String::new();
    write_inbound_media(
        &mut out,
        &MediaMeta {
            sequence_number: seq,
            stream_sid: sid,
            track: "inbound",
            chunk: seq,
            timestamp: seq * 20,
        },
        audio,
    );
    out
}

fn reason(ev: &StreamEvent) -> Option<(IgnoreReason, bool)> {
    match ev {
        StreamEvent::Ignored(i) => Some((i.reason, i.first)),
        _ => None,
    }
}

fn started() -> StreamState {
    let mut s = StreamState::new(StreamLimits::default());
    assert!(matches!(
        s.handle_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#),
        StreamEvent::Connected { .. }
    ));
    assert!(matches!(s.handle_text(START), StreamEvent::Started(_)));
    s
}

#[test]
fn normal_call_flow() {
    let mut s = StreamState::default();
    let ev = s.handle_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#);
    assert_eq!(
        ev,
        StreamEvent::Connected {
            protocol: Some("Call".into()),
            version: Some("1.0.0".into())
        }
    );
    let StreamEvent::Started(info) = s.handle_text(START) else {
        panic!("not started")
    };
    assert_eq!(info.stream_sid, "MZ1");
    assert_eq!(info.call_sid.as_deref(), Some("CA1"));
    assert_eq!(info.parameter("lang"), Some("fi-FI"));
    assert_eq!(info.media_format, Some(("audio/x-mulaw".into(), 8000, 1)));
    assert_eq!(s.stream_sid(), Some("MZ1"));
    assert_eq!(s.call_sid(), Some("CA1"));

    for seq in 2..12u64 {
        let frame = vec![u8::try_from(seq).unwrap(); 160];
        let StreamEvent::Audio(a) = s.handle_text(&media(seq, "MZ1", &frame)) else {
            panic!("not audio")
        };
        assert_eq!(&a.audio[..], &frame[..]);
        assert_eq!(a.track, Track::Inbound);
        assert_eq!(a.timestamp, Some(seq * 20));
        assert_eq!(a.sequence_number, Some(seq));
    }
    assert_eq!(
        s.handle_text(r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"12","dtmf":{"track":"inbound_track","digit":"5"}}"#),
        StreamEvent::Dtmf("5".into())
    );
    assert_eq!(
        s.handle_text(
            r#"{"event":"mark","sequenceNumber":"13","streamSid":"MZ1","mark":{"name":"tts-1"}}"#
        ),
        StreamEvent::MarkEcho("tts-1".into())
    );
    assert_eq!(
        s.handle_text(r#"{"event":"stop","sequenceNumber":"14","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#),
        StreamEvent::Stopped
    );
    assert!(s.is_stopped());
    let st = s.stats();
    assert_eq!(
        (st.audio_frames_in, st.audio_bytes_in, st.sequence_gaps),
        (10, 1600, 0)
    );
    assert_eq!(s.ignored_counts().count(), 0);
}

#[test]
fn malformed_frames_never_end_the_stream() {
    let mut s = started();
    let cases: &[(&str, IgnoreReason)] = &[
        ("not json", IgnoreReason::NotJson),
        ("{\"event\":", IgnoreReason::NotJson),
        ("[1]", IgnoreReason::InvalidMessage),
        ("{}", IgnoreReason::InvalidMessage),
        (r#"{"event":"media"}"#, IgnoreReason::InvalidMessage),
        (
            r#"{"event":"media","media":{"payload":"!!!"}}"#,
            IgnoreReason::BadBase64,
        ),
        (
            r#"{"event":"media","media":{"payload":""}}"#,
            IgnoreReason::EmptyPayload,
        ),
        (r#"{"event":"whatever"}"#, IgnoreReason::UnknownEvent),
        (START, IgnoreReason::DuplicateStart),
        (
            r#"{"event":"connected"}"#,
            IgnoreReason::UnexpectedConnected,
        ),
        (
            r#"{"event":"media","streamSid":"MZ2","media":{"payload":"AA=="}}"#,
            IgnoreReason::WrongStreamSid,
        ),
        (
            r#"{"event":"stop","streamSid":"MZ2"}"#,
            IgnoreReason::WrongStreamSid,
        ),
    ];
    for (text, want) in cases {
        let ev = s.handle_text(text);
        assert_eq!(
            reason(&ev),
            Some((*want, s.ignored_count(*want) == 1)),
            "{text}"
        );
        assert!(s.is_started(), "{text} ended the stream");
    }
    assert_eq!(
        reason(&s.handle_binary(320)),
        Some((IgnoreReason::BinaryFrame, true))
    );
    // Audio still flows after all of that.
    assert!(matches!(
        s.handle_text(&media(2, "MZ1", &[1, 2, 3])),
        StreamEvent::Audio(_)
    ));
    assert_eq!(s.ignored_count(IgnoreReason::NotJson), 2);
    assert_eq!(s.ignored_count(IgnoreReason::WrongStreamSid), 2);
    assert_eq!(s.ignored_count(IgnoreReason::BinaryFrame), 1);
}

#[test]
fn first_flag_is_once_per_reason() {
    let mut s = started();
    let flags: Vec<bool> = (0..5)
        .map(|_| reason(&s.handle_text("garbage")).unwrap().1)
        .collect();
    assert_eq!(flags, [true, false, false, false, false]);
    assert_eq!(s.ignored_count(IgnoreReason::NotJson), 5);
    assert_eq!(
        s.ignored_counts().collect::<Vec<_>>(),
        [(IgnoreReason::NotJson, 5)]
    );
}

#[test]
fn messages_before_start_are_ignored() {
    let mut s = StreamState::default();
    let cases = [
        (media(1, "MZ1", &[1]), IgnoreReason::MediaBeforeStart),
        (
            r#"{"event":"mark","mark":{"name":"a"}}"#.to_owned(),
            IgnoreReason::MarkBeforeStart,
        ),
        (
            r#"{"event":"dtmf","dtmf":{"digit":"1"}}"#.to_owned(),
            IgnoreReason::DtmfBeforeStart,
        ),
        (
            r#"{"event":"stop"}"#.to_owned(),
            IgnoreReason::StopBeforeStart,
        ),
    ];
    for (text, want) in &cases {
        assert_eq!(reason(&s.handle_text(text)), Some((*want, true)), "{text}");
        assert!(!s.is_started() && !s.is_stopped());
    }
    // Still able to start afterwards.
    assert!(matches!(s.handle_text(START), StreamEvent::Started(_)));
}

#[test]
fn second_start_does_not_restart() {
    let mut s = started();
    let other = START.replace("MZ1", "MZ9").replace("CA1", "CA9");
    assert_eq!(
        reason(&s.handle_text(&other)),
        Some((IgnoreReason::DuplicateStart, true))
    );
    assert_eq!(s.stream_sid(), Some("MZ1"));
    assert_eq!(s.call_sid(), Some("CA1"));
}

#[test]
fn everything_after_stop_is_ignored() {
    let mut s = started();
    assert_eq!(s.handle_text(r#"{"event":"stop"}"#), StreamEvent::Stopped);
    for text in [START, "junk", r#"{"event":"stop"}"#] {
        assert_eq!(
            reason(&s.handle_text(text)).map(|r| r.0),
            Some(IgnoreReason::AfterStop)
        );
    }
    assert_eq!(
        reason(&s.handle_binary(1)).map(|r| r.0),
        Some(IgnoreReason::AfterStop)
    );
    let mut out = String::new();
    assert_eq!(s.media(&[1], &mut out), Err(StreamError::Stopped));
}

#[test]
fn size_limit_is_configurable() {
    let mut s = StreamState::new(StreamLimits {
        max_message_bytes: 600,
    });
    assert!(matches!(s.handle_text(START), StreamEvent::Started(_)));
    assert!(matches!(
        s.handle_text(&media(2, "MZ1", &[0; 160])),
        StreamEvent::Audio(_)
    ));
    assert_eq!(
        reason(&s.handle_text(&media(3, "MZ1", &[0; 1000]))),
        Some((IgnoreReason::TooLarge, true))
    );
}

#[test]
fn sequence_gaps_are_counted_not_refused() {
    let mut s = started();
    for seq in [2u64, 3, 5, 4, 6] {
        assert!(matches!(
            s.handle_text(&media(seq, "MZ1", &[0; 8])),
            StreamEvent::Audio(_)
        ));
    }
    assert_eq!(s.stats().sequence_gaps, 3);
}

#[test]
fn outbound_requires_start_and_uses_stream_sid() {
    let mut s = StreamState::default();
    let mut out = String::new();
    assert_eq!(
        s.media(&[0xFF; 160], &mut out),
        Err(StreamError::NotStarted)
    );
    assert_eq!(s.mark("m", &mut out), Err(StreamError::NotStarted));
    assert_eq!(s.clear(&mut out), Err(StreamError::NotStarted));
    s.handle_text(START);

    s.media(&[0xFF; 160], &mut out).unwrap();
    let Outbound::Media {
        stream_sid,
        payload,
    } = parse_outbound(&out, 1 << 20).unwrap()
    else {
        panic!("not media")
    };
    assert_eq!((stream_sid.as_ref(), payload.len()), ("MZ1", 216));

    s.mark("tts-1__ab12\"x", &mut out).unwrap();
    assert_eq!(
        parse_outbound(&out, 1 << 20).unwrap(),
        Outbound::Mark {
            stream_sid: "MZ1".into(),
            name: "tts-1__ab12\"x".into()
        }
    );
    s.clear(&mut out).unwrap();
    assert_eq!(out, r#"{"event":"clear","streamSid":"MZ1"}"#);
    let st = s.stats();
    assert_eq!(
        (st.audio_bytes_out, st.marks_out, st.clears_out),
        (160, 1, 1)
    );
}

#[test]
fn many_frames_share_the_decode_arena() {
    let mut s = started();
    let mut frames = Vec::new();
    for seq in 2..2000u64 {
        let b = u8::try_from(seq % 251).unwrap();
        if let StreamEvent::Audio(a) = s.handle_text(&media(seq, "MZ1", &[b; 160])) {
            frames.push((b, a.audio));
        }
    }
    // Frames held by the caller stay intact while later frames are decoded.
    assert_eq!(frames.len(), 1998);
    assert!(
        frames
            .iter()
            .all(|(b, a)| a.len() == 160 && a.iter().all(|x| x == b))
    );
}

#[test]
fn reason_labels_and_indices_are_stable() {
    for (i, r) in IgnoreReason::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
        assert!(
            r.as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
    assert_eq!(IgnoreReason::BadBase64.as_str(), "bad_base64");
    assert_eq!(IgnoreReason::WrongStreamSid.as_str(), "wrong_stream_sid");
}
