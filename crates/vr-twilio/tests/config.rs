//! Environment configuration through a lookup function (no process env is touched).

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use vr_twilio::rest::{CallSource, ConfigError, TwilioConfig, parse_timeout_secs};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

const FULL: &[(&str, &str)] = &[
    ("TWILIO_ACCOUNT_SID", "AC123"),
    ("TWILIO_AUTH_TOKEN", "very-secret-token"),
    ("TWILIO_PHONE_NUMBER", "+15017122661"),
    ("VOICE_STREAM_URL", "https://bot.example.com/"),
];

#[test]
fn defaults() {
    let c = TwilioConfig::from_lookup(|_| None).unwrap();
    assert_eq!(c.voice_server_port, 8080);
    assert_eq!(c.http_timeout, Duration::from_secs(15));
    assert!(!c.skip_signature_validation);
    assert!(c.signature_validator().is_none());
    assert_eq!(c.credentials(), Err(ConfigError::MissingCredentials));
    assert_eq!(
        c.credentials().unwrap_err().to_string(),
        "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN required"
    );
    assert_eq!(
        c.require_phone_number().unwrap_err().to_string(),
        "TWILIO_PHONE_NUMBER required"
    );
    assert!(
        c.require_voice_stream_url()
            .unwrap_err()
            .to_string()
            .starts_with("Set VOICE_STREAM_URL to a public WebSocket URL")
    );
}

#[test]
fn empty_values_count_as_unset() {
    let c = TwilioConfig::from_lookup(lookup(&[
        ("TWILIO_ACCOUNT_SID", ""),
        ("TWILIO_AUTH_TOKEN", "  "),
        ("VOICE_SERVER_PORT", ""),
        ("TWILIO_HTTP_TIMEOUT", ""),
    ]))
    .unwrap();
    assert_eq!(c.account_sid, None);
    assert_eq!(c.auth_token(), None);
    assert_eq!(c.voice_server_port, 8080);
}

#[test]
fn timeouts() {
    assert_eq!(
        parse_timeout_secs("3", "T").unwrap(),
        Duration::from_secs(3)
    );
    assert_eq!(
        parse_timeout_secs("2.5", "T").unwrap(),
        Duration::from_millis(2500)
    );
    for bad in [
        "abc", "nan", "NaN", "inf", "-inf", "infinity", "0", "0.0", "-1", "1e400", "1e-12",
    ] {
        assert_eq!(
            parse_timeout_secs(bad, "TWILIO_HTTP_TIMEOUT"),
            Err(ConfigError::InvalidTimeout {
                name: "TWILIO_HTTP_TIMEOUT"
            }),
            "{bad}"
        );
    }
    let err = TwilioConfig::from_lookup(lookup(&[("TWILIO_HTTP_TIMEOUT", "inf")])).unwrap_err();
    assert!(err.to_string().contains("TWILIO_HTTP_TIMEOUT"));
    let c = TwilioConfig::from_lookup(lookup(&[("TWILIO_HTTP_TIMEOUT", "2.5")])).unwrap();
    assert_eq!(c.http_timeout, Duration::from_millis(2500));
}

#[test]
fn bad_port_is_a_typed_error_not_a_crash() {
    let err = TwilioConfig::from_lookup(lookup(&[("VOICE_SERVER_PORT", "80a")])).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            name: "VOICE_SERVER_PORT",
            ..
        }
    ));
    let err = TwilioConfig::from_lookup(lookup(&[("VOICE_SERVER_PORT", "70000")])).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            name: "VOICE_SERVER_PORT",
            ..
        }
    ));
    let c = TwilioConfig::from_lookup(lookup(&[("VOICE_SERVER_PORT", "9000")])).unwrap();
    assert_eq!(c.voice_server_port, 9000);
}

#[test]
fn region_and_edge() {
    let c = TwilioConfig::from_lookup(lookup(&[
        ("TWILIO_ACCOUNT_SID", "AC1"),
        ("TWILIO_AUTH_TOKEN", "t"),
        ("TWILIO_REGION", "AU1"),
        ("TWILIO_EDGE", "sydney"),
    ]))
    .unwrap();
    assert_eq!(
        c.rest_client().unwrap().api_host(),
        "api.sydney.au1.twilio.com"
    );
    let c = TwilioConfig::from_lookup(lookup(&[
        ("TWILIO_ACCOUNT_SID", "AC1"),
        ("TWILIO_AUTH_TOKEN", "t"),
        ("TWILIO_EDGE", "dublin"),
    ]))
    .unwrap();
    assert_eq!(
        c.rest_client().unwrap().api_host(),
        "api.dublin.us1.twilio.com"
    );
    assert!(TwilioConfig::from_lookup(lookup(&[("TWILIO_REGION", "ie1/x")])).is_err());
    let c = TwilioConfig::from_lookup(lookup(&[
        ("TWILIO_ACCOUNT_SID", "AC1"),
        ("TWILIO_AUTH_TOKEN", "t"),
        ("TWILIO_REGION", "au1"),
        ("TWILIO_EDGE", "sydney"),
        ("TWILIO_API_BASE_URL", "http://127.0.0.1:9/"),
    ]))
    .unwrap();
    assert_eq!(c.rest_client().unwrap().api_host(), "127.0.0.1:9");
    assert!(TwilioConfig::from_lookup(lookup(&[("TWILIO_API_BASE_URL", "127.0.0.1:9")])).is_err());
}

#[test]
fn skip_flag_values() {
    for (v, want) in [
        ("1", true),
        ("TRUE", true),
        ("yes", true),
        ("0", false),
        ("no", false),
    ] {
        let c =
            TwilioConfig::from_lookup(lookup(&[("TWILIO_SKIP_SIGNATURE_VALIDATION", v)])).unwrap();
        assert_eq!(c.skip_signature_validation, want, "{v}");
    }
}

#[test]
fn outbound_call_checks_in_order() {
    // B106: stream URL first, then credentials, then the phone number.
    let c = TwilioConfig::from_lookup(|_| None).unwrap();
    assert_eq!(
        c.outbound_call("+1", None),
        Err(ConfigError::MissingStreamUrl)
    );
    let c = TwilioConfig::from_lookup(lookup(&[("VOICE_STREAM_URL", "https://x")])).unwrap();
    assert_eq!(
        c.outbound_call("+1", None),
        Err(ConfigError::MissingCredentials)
    );
    let c = TwilioConfig::from_lookup(lookup(&[
        ("VOICE_STREAM_URL", "https://x"),
        ("TWILIO_ACCOUNT_SID", "AC1"),
        ("TWILIO_AUTH_TOKEN", "t"),
    ]))
    .unwrap();
    assert_eq!(
        c.outbound_call("+1", None),
        Err(ConfigError::MissingPhoneNumber)
    );

    let c = TwilioConfig::from_lookup(lookup(FULL)).unwrap();
    let call = c.outbound_call("+358401234567", None).unwrap();
    assert_eq!(call.to, "+358401234567");
    assert_eq!(call.from, "+15017122661");
    let CallSource::Twiml(xml) = &call.source else {
        panic!("not twiml")
    };
    assert!(
        xml.contains(r#"<Stream url="wss://bot.example.com/voice"/>"#),
        "{xml}"
    );
    // B107: no status callback, ring timeout or machine detection.
    assert_eq!(call.status_callback, None);
    assert_eq!(call.timeout, None);
    assert_eq!(call.machine_detection, None);

    let routed = c.outbound_call("+1", Some("a/b c?")).unwrap();
    let CallSource::Twiml(xml) = &routed.source else {
        panic!("not twiml")
    };
    assert!(
        xml.contains("wss://bot.example.com/voice/a%2Fb%20c%3F"),
        "{xml}"
    );
}

#[test]
fn secrets_never_in_debug_or_errors() {
    let c = TwilioConfig::from_lookup(lookup(FULL)).unwrap();
    assert_eq!(c.auth_token(), Some("very-secret-token"));
    let text = format!(
        "{c:?} {:?} {:?}",
        c.credentials().unwrap(),
        c.rest_client().unwrap()
    );
    assert!(!text.contains("very-secret-token"), "{text}");
    assert!(c.signature_validator().is_some());
    let bad = TwilioConfig::from_lookup(lookup(&[
        ("TWILIO_ACCOUNT_SID", "AC/1"),
        ("TWILIO_AUTH_TOKEN", "very-secret-token"),
    ]))
    .unwrap();
    let err = bad.credentials().unwrap_err();
    assert!(matches!(err, ConfigError::InvalidSid { .. }));
    assert!(!format!("{err} {err:?}").contains("very-secret-token"));
}
