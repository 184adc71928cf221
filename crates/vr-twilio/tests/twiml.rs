//! TwiML: output parsed back with quick-xml to check structure and escaping (W31, B105, B166).

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use quick_xml::Reader;
use quick_xml::events::Event;
use vr_twilio::twiml::{
    ConnectStream, Response, Say, TwimlError, routed_stream_twiml, routed_stream_url, stream_twiml,
    stream_url,
};

/// An element as parsed back: (depth, name, attributes unescaped, text unescaped).
type El = (usize, String, Vec<(String, String)>, String);

fn parse(xml: &str) -> Vec<El> {
    let mut reader = Reader::from_str(xml);
    let mut out: Vec<El> = Vec::new();
    let mut depth = 0;
    let mut open: Vec<usize> = Vec::new();
    let mut saw_decl = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Decl(_) => saw_decl = true,
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (Event::Start(e) | Event::Empty(e)) = &ev else {
                    unreachable!()
                };
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                out.push((depth, name, attrs, String::new()));
                if matches!(ev, Event::Start(_)) {
                    open.push(out.len() - 1);
                    depth += 1;
                }
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].3.push_str(&t.unescape().unwrap());
                }
            }
            Event::End(_) => {
                open.pop();
                depth -= 1;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_decl, "no XML declaration");
    assert_eq!(depth, 0);
    out
}

fn attr<'a>(el: &'a El, key: &str) -> Option<&'a str> {
    el.2.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn basic_stream_document() {
    let xml = stream_twiml("https://bot.example.com").unwrap();
    assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
    let els = parse(&xml);
    let names: Vec<(usize, &str)> = els.iter().map(|e| (e.0, e.1.as_str())).collect();
    assert_eq!(names, [(0, "Response"), (1, "Connect"), (2, "Stream")]);
    assert_eq!(attr(&els[2], "url"), Some("wss://bot.example.com/voice"));
}

#[test]
fn scheme_rewrite_and_trailing_slash() {
    assert_eq!(
        stream_url("https://a.example/").unwrap(),
        "wss://a.example/voice"
    );
    assert_eq!(
        stream_url("http://localhost:8080").unwrap(),
        "ws://localhost:8080/voice"
    );
    assert_eq!(
        stream_url("wss://a.example").unwrap(),
        "wss://a.example/voice"
    );
    // Only the prefix is rewritten (W31).
    assert_eq!(
        stream_url("https://a.example/https://x").unwrap(),
        "wss://a.example/https://x/voice"
    );
    assert!(matches!(
        stream_url("ftp://a"),
        Err(TwimlError::InvalidStreamUrl(_))
    ));
    assert!(matches!(
        stream_url("https://a.example?x=1"),
        Err(TwimlError::InvalidStreamUrl(_))
    ));
    assert!(matches!(
        stream_url("https://"),
        Err(TwimlError::InvalidStreamUrl(_))
    ));
}

#[test]
fn routed_url_percent_encodes_everything() {
    assert_eq!(
        routed_stream_url("https://bot.example.com/", "a/b c?").unwrap(),
        "wss://bot.example.com/voice/a%2Fb%20c%3F"
    );
    assert_eq!(
        routed_stream_url("https://b.example", "x&y<z>\"#%ä").unwrap(),
        "wss://b.example/voice/x%26y%3Cz%3E%22%23%25%C3%A4"
    );
    assert_eq!(
        routed_stream_url("https://b", "A-z_0.9~").unwrap(),
        "wss://b/voice/A-z_0.9~"
    );
    assert!(matches!(
        routed_stream_url("https://b", ""),
        Err(TwimlError::InvalidToken(_))
    ));
    assert!(matches!(
        routed_stream_url("https://b", ".."),
        Err(TwimlError::InvalidToken(_))
    ));
    let els = parse(&routed_stream_twiml("https://bot.example.com/", "3f2c9a").unwrap());
    assert_eq!(
        attr(&els[2], "url"),
        Some("wss://bot.example.com/voice/3f2c9a")
    );
}

#[test]
fn ampersand_in_base_url_is_escaped() {
    // W31: an & in the URL path used to give invalid XML.
    let xml = stream_twiml("https://bot.example.com/a&b").unwrap();
    assert!(xml.contains("a&amp;b"));
    let els = parse(&xml);
    assert_eq!(
        attr(&els[2], "url"),
        Some("wss://bot.example.com/a&b/voice")
    );
}

#[test]
fn full_document_with_parameters_callbacks_and_fallback() {
    let stream = ConnectStream::new(routed_stream_url("https://bot.example.com", "tok").unwrap())
        .call_parameters(Some("+15017122661"), Some("+358401234567"), Some("CA123"))
        .parameter("callRef", "order-1234")
        .parameter("xml", r#"<a href="x">&'</a>"#)
        .parameter("ws", "tab\there\nnew\rline")
        .name("main")
        .status_callback("https://bot.example.com/stream-status?a=1&b=2")
        .status_callback_method("POST")
        .action("https://bot.example.com/after?x=<y>");
    let xml = Response::new()
        .connect(stream)
        .say(
            Say::new("Sorry, something went <wrong> & goodbye.")
                .voice("alice")
                .language("en-US"),
        )
        .hangup()
        .to_xml()
        .unwrap();
    let els = parse(&xml);
    let names: Vec<&str> = els.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        names,
        [
            "Response",
            "Connect",
            "Stream",
            "Parameter",
            "Parameter",
            "Parameter",
            "Parameter",
            "Parameter",
            "Parameter",
            "Say",
            "Hangup"
        ]
    );
    assert_eq!(
        attr(&els[1], "action"),
        Some("https://bot.example.com/after?x=<y>")
    );
    assert_eq!(attr(&els[2], "name"), Some("main"));
    assert_eq!(
        attr(&els[2], "statusCallback"),
        Some("https://bot.example.com/stream-status?a=1&b=2")
    );
    assert_eq!(attr(&els[2], "statusCallbackMethod"), Some("POST"));
    let params: Vec<(&str, &str)> = els[3..9]
        .iter()
        .map(|e| (attr(e, "name").unwrap(), attr(e, "value").unwrap()))
        .collect();
    assert_eq!(
        params,
        [
            ("From", "+15017122661"),
            ("To", "+358401234567"),
            ("CallSid", "CA123"),
            ("callRef", "order-1234"),
            ("xml", r#"<a href="x">&'</a>"#),
            ("ws", "tab\there\nnew\rline"),
        ]
    );
    assert!(xml.contains("&#9;") && xml.contains("&#10;") && xml.contains("&#13;"));
    assert_eq!(els[9].3, "Sorry, something went <wrong> & goodbye.");
    assert_eq!(attr(&els[9], "voice"), Some("alice"));
    assert_eq!(attr(&els[9], "language"), Some("en-US"));
    assert_eq!(els[10].0, 1, "Hangup is a sibling of Connect");
}

#[test]
fn control_characters_are_refused() {
    let bad = Response::new()
        .connect(ConnectStream::new("wss://a/voice").parameter("x", "a\u{1}b"))
        .to_xml();
    assert_eq!(
        bad,
        Err(TwimlError::InvalidCharacter {
            field: "Parameter value"
        })
    );
    let bad = Response::new().say(Say::new("nul\0")).to_xml();
    assert_eq!(bad, Err(TwimlError::InvalidCharacter { field: "Say text" }));
    let bad = Response::new()
        .connect(ConnectStream::new("wss://a/voice").parameter("x\u{1b}", "v"))
        .to_xml();
    assert_eq!(
        bad,
        Err(TwimlError::InvalidCharacter {
            field: "Parameter name"
        })
    );
}

#[test]
fn parameter_limits() {
    let ok = "v".repeat(498);
    assert!(
        Response::new()
            .connect(ConnectStream::new("wss://a/voice").parameter("n", ok))
            .to_xml()
            .is_ok()
    );
    let too_long = "é".repeat(499);
    let err = Response::new()
        .connect(ConnectStream::new("wss://a/voice").parameter("n", too_long))
        .to_xml()
        .unwrap_err();
    assert_eq!(
        err,
        TwimlError::ParameterTooLong {
            name: "n".into(),
            chars: 500
        }
    );
    assert_eq!(
        Response::new()
            .connect(ConnectStream::new("wss://a/voice").parameter("", "v"))
            .to_xml(),
        Err(TwimlError::EmptyParameterName)
    );
}

#[test]
fn stream_url_must_be_websocket_without_query() {
    for url in [
        "https://a/voice",
        "wss://a/voice?x=1",
        "wss://a/voice#f",
        "/voice",
    ] {
        assert!(
            matches!(
                Response::new().connect(ConnectStream::new(url)).to_xml(),
                Err(TwimlError::InvalidStreamUrl(_))
            ),
            "{url}"
        );
    }
}

/// Fuzz finding (`fuzz/regressions/webhook/twiml_non_ascii_after_ws_scheme`): a non-ASCII
/// character right after `ws://` made the scheme check slice inside the character and refuse
/// a valid stream URL.
#[test]
fn non_ascii_host_after_ws_scheme_is_accepted() {
    for base in [
        "http://\u{d3}::1",
        "https://ÄÖ.example",
        "ws://é",
        "WSS://日本.example",
    ] {
        let url = stream_url(base).unwrap();
        let xml = Response::new()
            .connect(ConnectStream::new(url.clone()))
            .to_xml()
            .unwrap_or_else(|e| panic!("{base}: {e}"));
        assert!(xml.contains(&url), "{xml}");
    }
}

#[test]
fn fits_inline_twiml_limit() {
    let xml = routed_stream_twiml("https://bot.example.com", "abcdef0123456789").unwrap();
    assert!(xml.len() < 4000);
    assert!(!xml.contains('\n'), "compact output");
}
