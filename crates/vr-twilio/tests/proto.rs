//! Media Streams messages: the examples of media-streams.md §3–4, both directions, round trips.

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use bytes::BytesMut;
use vr_twilio::proto::{
    Connected, Dtmf, Inbound, Mark, Media, MediaFormat, MediaMeta, ProtoError, Start, Stop,
    parse_inbound, parse_inbound_with_limit, write_connected, write_inbound_media,
};

const SID: &str = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

#[test]
fn connected_example() {
    let m =
        parse_inbound(r#"{"event": "connected", "protocol": "Call", "version": "1.0.0"}"#).unwrap();
    assert_eq!(
        m,
        Inbound::Connected(Connected {
            protocol: Some("Call".into()),
            version: Some("1.0.0".into())
        })
    );
}

#[test]
fn start_example() {
    let text = r#"{
  "event": "start",
  "sequenceNumber": "1",
  "start": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "tracks": ["inbound"],
    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    "customParameters": {"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"}
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;
    let Inbound::Start(s) = parse_inbound(text).unwrap() else {
        panic!("not start")
    };
    assert_eq!(s.sequence_number, Some(1));
    assert_eq!(s.stream_sid, SID);
    assert_eq!(
        s.call_sid.as_deref(),
        Some("CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
    );
    assert_eq!(
        s.account_sid.as_deref(),
        Some("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
    );
    assert_eq!(s.tracks, vec![Cow::Borrowed("inbound")]);
    assert_eq!(
        s.media_format,
        Some(MediaFormat {
            encoding: "audio/x-mulaw".into(),
            sample_rate: 8000,
            channels: 1
        })
    );
    let params: Vec<(&str, &str)> = s
        .custom_parameters
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    assert_eq!(
        params,
        [
            ("FirstName", "Jane"),
            ("LastName", "Doe"),
            ("RemoteParty", "Bob")
        ]
    );
}

#[test]
fn start_custom_parameters_absent_empty_or_null() {
    for params in [
        "",
        r#","customParameters":{}"#,
        r#","customParameters":null"#,
    ] {
        let text = format!(
            r#"{{"event":"start","sequenceNumber":"1","start":{{"streamSid":"MZ1","callSid":"CA1","tracks":["inbound"]{params}}},"streamSid":"MZ1"}}"#
        );
        let Inbound::Start(s) = parse_inbound(&text).unwrap() else {
            panic!("not start")
        };
        assert!(s.custom_parameters.is_empty(), "{text}");
        assert_eq!(s.media_format, None);
    }
    // Stream id only inside `start`.
    let Inbound::Start(s) =
        parse_inbound(r#"{"event":"start","start":{"streamSid":"MZ2"}}"#).unwrap()
    else {
        panic!("not start")
    };
    assert_eq!(s.stream_sid, "MZ2");
    assert_eq!(
        parse_inbound(r#"{"event":"start","start":{}}"#),
        Err(ProtoError::MissingField("streamSid"))
    );
    assert_eq!(
        parse_inbound(r#"{"event":"start","streamSid":"MZ1"}"#),
        Err(ProtoError::MissingField("start"))
    );
    assert!(matches!(
        parse_inbound(
            r#"{"event":"start","streamSid":"MZ1","start":{"customParameters":{"a":1}}}"#
        ),
        Err(ProtoError::Invalid(_))
    ));
}

#[test]
fn media_example_borrows_payload() {
    let text = r#"{"event": "media", "sequenceNumber": "4", "media": {"track": "inbound", "chunk": "2", "timestamp": "5", "payload": "no+JhoaJjpzS"}, "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}"#;
    let Inbound::Media(m) = parse_inbound(text).unwrap() else {
        panic!("not media")
    };
    assert_eq!(m.sequence_number, Some(4));
    assert_eq!(m.chunk, Some(2));
    assert_eq!(m.timestamp, Some(5));
    assert_eq!(m.track.as_deref(), Some("inbound"));
    assert_eq!(m.stream_sid.as_deref(), Some(SID));
    assert!(
        matches!(m.payload, Cow::Borrowed(_)),
        "payload must borrow from the frame"
    );
    let mut buf = Vec::new();
    m.decode_payload_into(&mut buf).unwrap();
    assert_eq!(buf, [0x9e, 0x8f, 0x89, 0x86, 0x86, 0x89, 0x8e, 0x9c, 0xd2]);
    assert_eq!(&m.decode_payload().unwrap()[..], &buf[..]);
    let mut arena = BytesMut::with_capacity(64);
    assert_eq!(&m.decode_payload_in(&mut arena).unwrap()[..], &buf[..]);
}

#[test]
fn silence_frame_of_160_bytes() {
    let payload = format!("{}w==", "/".repeat(213));
    assert_eq!(payload.len(), 216);
    let text = format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":"{payload}"}},"streamSid":"MZ1"}}"#
    );
    let Inbound::Media(m) = parse_inbound(&text).unwrap() else {
        panic!("not media")
    };
    let audio = m.decode_payload().unwrap();
    assert_eq!(audio.len(), 160);
    assert!(audio.iter().all(|&b| b == 0xFF));
}

#[test]
fn counters_tolerate_numbers_and_junk() {
    let Inbound::Media(m) = parse_inbound(
        r#"{"event":"media","sequenceNumber":4,"media":{"chunk":"x","timestamp":12.0,"payload":"AA=="}}"#,
    )
    .unwrap() else {
        panic!("not media")
    };
    assert_eq!(
        (m.sequence_number, m.chunk, m.timestamp),
        (Some(4), None, Some(12))
    );
    assert_eq!(m.stream_sid, None);
}

#[test]
fn dtmf_mark_stop_examples() {
    let d = parse_inbound(r#"{"event": "dtmf", "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "sequenceNumber": "5", "dtmf": {"track": "inbound_track", "digit": "1"}}"#).unwrap();
    assert_eq!(
        d,
        Inbound::Dtmf(Dtmf {
            sequence_number: Some(5),
            stream_sid: Some(SID.into()),
            track: Some("inbound_track".into()),
            digit: "1".into()
        })
    );
    let m = parse_inbound(r#"{"event": "mark", "sequenceNumber": "4", "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "mark": {"name": "my label"}}"#).unwrap();
    assert_eq!(
        m,
        Inbound::Mark(Mark {
            sequence_number: Some(4),
            stream_sid: Some(SID.into()),
            name: "my label".into()
        })
    );
    let s = parse_inbound(r#"{"event": "stop", "sequenceNumber": "5", "stop": {"accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}, "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}"#).unwrap();
    assert_eq!(
        s,
        Inbound::Stop(Stop {
            sequence_number: Some(5),
            stream_sid: Some(SID.into()),
            account_sid: Some("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX".into()),
            call_sid: Some("CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX".into()),
        })
    );
    // A bare stop is still a stop.
    assert_eq!(
        parse_inbound(r#"{"event":"stop"}"#).unwrap(),
        Inbound::Stop(Stop::default())
    );
}

#[test]
fn unknown_events_and_fields() {
    assert_eq!(
        parse_inbound(r#"{"event":"transcription","streamSid":"MZ1","x":{"y":[1,2]}}"#).unwrap(),
        Inbound::Unknown("transcription".into())
    );
    let m =
        parse_inbound(r#"{"event":"mark","mark":{"name":"a","extra":1},"future":true}"#).unwrap();
    assert!(matches!(m, Inbound::Mark(_)));
}

#[test]
fn errors_are_typed() {
    assert!(matches!(
        parse_inbound("not json"),
        Err(ProtoError::NotJson(_))
    ));
    assert!(matches!(
        parse_inbound(r#"{"event":"media""#),
        Err(ProtoError::NotJson(_))
    ));
    assert!(matches!(
        parse_inbound("[1,2]"),
        Err(ProtoError::Invalid(_))
    ));
    assert!(matches!(
        parse_inbound(r#"{"event":5}"#),
        Err(ProtoError::Invalid(_))
    ));
    assert_eq!(parse_inbound("{}"), Err(ProtoError::MissingField("event")));
    assert_eq!(
        parse_inbound(r#"{"event":"media"}"#),
        Err(ProtoError::MissingField("media"))
    );
    assert_eq!(
        parse_inbound(r#"{"event":"media","media":{}}"#),
        Err(ProtoError::MissingField("media.payload"))
    );
    assert_eq!(
        parse_inbound(r#"{"event":"mark","mark":{}}"#),
        Err(ProtoError::MissingField("mark.name"))
    );
    assert_eq!(
        parse_inbound(r#"{"event":"dtmf","dtmf":{"track":"inbound_track"}}"#),
        Err(ProtoError::MissingField("dtmf.digit"))
    );
    let Inbound::Media(m) =
        parse_inbound(r#"{"event":"media","media":{"payload":"@@@"}}"#).unwrap()
    else {
        panic!("not media")
    };
    assert!(matches!(m.decode_payload(), Err(ProtoError::BadBase64(_))));
}

#[test]
fn size_limit() {
    let text = r#"{"event":"media","media":{"payload":"AAAA"}}"#;
    assert!(parse_inbound_with_limit(text, text.len()).is_ok());
    assert_eq!(
        parse_inbound_with_limit(text, text.len() - 1),
        Err(ProtoError::TooLarge {
            len: text.len(),
            max: text.len() - 1
        })
    );
    // Any payload under the limit is valid audio, even a large one.
    let big = format!(
        r#"{{"event":"media","media":{{"payload":"{}"}}}}"#,
        "AAAA".repeat(50_000)
    );
    let Inbound::Media(m) = parse_inbound(&big).unwrap() else {
        panic!("not media")
    };
    assert_eq!(m.decode_payload().unwrap().len(), 150_000);
}

#[test]
fn escaped_strings_are_unescaped() {
    let Inbound::Mark(m) =
        parse_inbound(r#"{"event":"mark","mark":{"name":"a\"b\\c\u00e4\/"}}"#).unwrap()
    else {
        panic!("not mark")
    };
    assert_eq!(m.name, "a\"b\\cä/");
    assert!(matches!(m.name, Cow::Owned(_)));
}

#[test]
fn twilio_side_round_trips() {
    let messages: Vec<Inbound<'static>> = vec![
        Inbound::Connected(Connected {
            protocol: Some("Call".into()),
            version: Some("1.0.0".into()),
        }),
        Inbound::Start(Start {
            sequence_number: Some(1),
            stream_sid: "MZ\"odd\"".into(),
            account_sid: Some("AC1".into()),
            call_sid: Some("CA1".into()),
            tracks: vec!["inbound".into(), "outbound".into()],
            media_format: Some(MediaFormat {
                encoding: "audio/x-mulaw".into(),
                sample_rate: 8000,
                channels: 1,
            }),
            custom_parameters: vec![
                ("From".into(), "+1555".into()),
                ("x<&>".into(), "ä\n".into()),
            ],
        }),
        Inbound::Start(Start {
            sequence_number: None,
            stream_sid: "MZ1".into(),
            account_sid: None,
            call_sid: None,
            tracks: vec![],
            media_format: None,
            custom_parameters: vec![],
        }),
        Inbound::Media(Media {
            sequence_number: Some(2),
            stream_sid: Some("MZ1".into()),
            track: Some("inbound".into()),
            chunk: Some(1),
            timestamp: Some(20),
            payload: "AAEC".into(),
        }),
        Inbound::Media(Media {
            sequence_number: None,
            stream_sid: None,
            track: None,
            chunk: None,
            timestamp: Some(7),
            payload: "".into(),
        }),
        Inbound::Mark(Mark {
            sequence_number: Some(3),
            stream_sid: Some("MZ1".into()),
            name: "a \"b\"".into(),
        }),
        Inbound::Dtmf(Dtmf {
            sequence_number: Some(4),
            stream_sid: Some("MZ1".into()),
            track: Some("inbound_track".into()),
            digit: "#".into(),
        }),
        Inbound::Stop(Stop {
            sequence_number: Some(5),
            stream_sid: Some("MZ1".into()),
            account_sid: Some("AC1".into()),
            call_sid: None,
        }),
        Inbound::Stop(Stop::default()),
        Inbound::Unknown("future".into()),
    ];
    let mut out = String::new();
    for msg in messages {
        msg.write_json(&mut out);
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
        assert_eq!(parse_inbound(&out).unwrap().into_owned(), msg, "{out}");
    }
    write_connected(&mut out);
    assert!(matches!(
        parse_inbound(&out).unwrap(),
        Inbound::Connected(_)
    ));
}

#[test]
fn simulator_media_builder_matches_twilio_shape() {
    let mut out = String::new();
    let meta = MediaMeta {
        sequence_number: 4,
        stream_sid: SID,
        track: "inbound",
        chunk: 2,
        timestamp: 5,
    };
    write_inbound_media(&mut out, &meta, &[0xFF; 160]);
    let Inbound::Media(m) = parse_inbound(&out).unwrap() else {
        panic!("not media")
    };
    assert_eq!(
        (m.sequence_number, m.chunk, m.timestamp),
        (Some(4), Some(2), Some(5))
    );
    assert_eq!(m.payload.len(), 216);
    assert_eq!(m.decode_payload().unwrap().as_ref(), &[0xFF; 160]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sequenceNumber"], "4");
    assert_eq!(v["media"]["chunk"], "2");
    assert_eq!(v["media"]["timestamp"], "5");
}
