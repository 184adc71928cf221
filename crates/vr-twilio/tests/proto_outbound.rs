//! Server-to-Twilio messages (media-streams.md §4): exact fields, escaping, strict parsing.

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use vr_twilio::proto::{
    Outbound, ProtoError, parse_outbound, write_clear, write_mark, write_media,
};

const SID: &str = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

#[test]
fn outbound_builders_exact_fields() {
    let mut out = String::from("stale contents");
    write_media(&mut out, SID, &[0xFF; 3]);
    assert_eq!(
        out,
        r#"{"event":"media","streamSid":"MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","media":{"payload":"////"}}"#
    );
    write_mark(&mut out, SID, "tts-42");
    assert_eq!(
        out,
        r#"{"event":"mark","streamSid":"MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","mark":{"name":"tts-42"}}"#
    );
    write_clear(&mut out, SID);
    assert_eq!(
        out,
        r#"{"event":"clear","streamSid":"MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}"#
    );
    // Outbound media has exactly event, streamSid and media.payload.
    write_media(&mut out, SID, b"hello");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 3);
    assert_eq!(v["media"].as_object().unwrap().len(), 1);
}

#[test]
fn user_mark_names_are_escaped() {
    let mut out = String::new();
    for name in [
        "quote\"d",
        "back\\slash",
        "new\nline",
        "ctrl\u{1}",
        "ünïcode €",
        "</script>",
    ] {
        write_mark(&mut out, SID, name);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["mark"]["name"], name);
        assert_eq!(
            parse_outbound(&out, 1 << 20).unwrap(),
            Outbound::Mark {
                stream_sid: SID.into(),
                name: name.into()
            }
        );
    }
}

#[test]
fn outbound_parse_is_strict() {
    let ok = parse_outbound(
        r#"{"event":"media","streamSid":"MZ1","media":{"payload":"AAEC"}}"#,
        1024,
    )
    .unwrap();
    assert_eq!(ok.stream_sid(), "MZ1");
    assert_eq!(&ok.decode_payload().unwrap().unwrap()[..], &[0, 1, 2]);
    assert_eq!(
        parse_outbound(r#"{"event":"clear","streamSid":"MZ1"}"#, 1024).unwrap(),
        Outbound::Clear {
            stream_sid: "MZ1".into()
        }
    );
    assert_eq!(
        parse_outbound(r#"{"event":"stop","streamSid":"MZ1"}"#, 1024),
        Err(ProtoError::UnknownEvent("stop".into()))
    );
    assert_eq!(
        parse_outbound(r#"{"event":"clear"}"#, 1024),
        Err(ProtoError::MissingField("streamSid"))
    );
    assert_eq!(
        parse_outbound(
            r#"{"event":"clear","streamSid":"MZ1","media":{"payload":""}}"#,
            1024
        ),
        Err(ProtoError::UnexpectedField("media"))
    );
    assert!(matches!(
        parse_outbound(
            r#"{"event":"media","streamSid":"MZ1","media":{"payload":"AA==","track":"inbound"}}"#,
            1024
        ),
        Err(ProtoError::Invalid(_))
    ));
    assert!(matches!(
        parse_outbound(
            r#"{"event":"mark","streamSid":"MZ1","sequenceNumber":"1","mark":{"name":"a"}}"#,
            1024
        ),
        Err(ProtoError::Invalid(_))
    ));
    assert!(matches!(
        parse_outbound("{", 1024),
        Err(ProtoError::NotJson(_))
    ));
    assert!(matches!(
        parse_outbound(&"x".repeat(2000), 1024),
        Err(ProtoError::TooLarge { .. })
    ));
}
