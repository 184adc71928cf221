//! `X-Twilio-Signature`: every vector of twilio-rest.md §7.4, the WebSocket vector of
//! media-streams.md §2, and the negative checks listed there.

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use vr_twilio::signature::{SignatureError, SignatureValidator};
use vr_twilio::urls::{public_url, websocket_url};

const COMMON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn v() -> SignatureValidator {
    SignatureValidator::new("12345").unwrap()
}

fn params3() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
        ("Caller", "+14158675309"),
    ]
}

#[test]
fn vector_1_docs_worked_example_older() {
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    assert_eq!(
        v().compute(COMMON_URL, params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    assert_eq!(
        v().validate(COMMON_URL, params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")),
        Ok(())
    );
}

#[test]
fn vector_1_signed_string_concatenation() {
    // The documented signed string, signed with no params, gives the same signature.
    let s = "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212";
    assert_eq!(
        v().compute(s, std::iter::empty::<(&str, &str)>()),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[test]
fn vector_2_docs_worked_example_current() {
    let url = "https://example.com/myapp.php?foo=1&bar=2";
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675310"),
        ("Digits", "1234"),
        ("From", "+14158675310"),
        ("To", "+18005551212"),
    ];
    assert_eq!(
        v().validate(url, params, Some("L/OH5YylLD5NRKLltdqwSvS0BnU=")),
        Ok(())
    );
}

#[test]
fn vector_3_compute_signature() {
    assert_eq!(
        v().compute(COMMON_URL, params3()),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
        Ok(())
    );
}

#[test]
fn vector_4_adds_port_on_https() {
    assert_eq!(
        v().compute("https://mycompany.com:443/myapp.php?foo=1&bar=2", params3()),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), Some("kvajT1Ptam85bY51eRf/AJRuM3w=")),
        Ok(())
    );
}

#[test]
fn vector_5_adds_port_on_http() {
    let url = "http://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().validate(url, params3(), Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")),
        Ok(())
    );
}

#[test]
fn vector_6_non_default_port_kept_on_http() {
    let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().validate(url, params3(), Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")),
        Ok(())
    );
}

#[test]
fn vector_7_removes_port_on_https() {
    let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        v().validate(url, params3(), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
        Ok(())
    );
}

#[test]
fn vector_8_duplicate_params() {
    let params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        v().compute(COMMON_URL, params),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    let suffix = "Digits1234Digits5678SidCA123SidAccountAC123";
    assert_eq!(
        v().compute(
            &format!("{COMMON_URL}{suffix}"),
            std::iter::empty::<(&str, &str)>()
        ),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    // Owned pairs, as an axum Form<Vec<(String, String)>> gives them.
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(
        v().validate(
            COMMON_URL,
            owned.iter().map(|(k, v)| (k, v)),
            Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")
        ),
        Ok(())
    );
}

#[test]
fn vector_9_json_body() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let body = br#"{"property": "value", "boolean": true}"#;
    assert_eq!(
        v().validate_json_body(url, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
        Ok(())
    );
    assert_eq!(
        v().validate_json_body(
            url,
            br#"{"property": "other", "boolean": true}"#,
            Some("a9nBmqA0ju/hNViExpshrM61xv4=")
        ),
        Err(SignatureError::BodyHashMismatch)
    );
    assert_eq!(
        v().validate_json_body(COMMON_URL, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
        Err(SignatureError::MissingBodyHash)
    );
    assert_eq!(
        v().validate_json_body(url, body, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn vector_10_websocket_upgrade() {
    assert_eq!(
        v().validate_websocket(
            "wss://example.com/voice",
            Some("1iUnCEOmZ+5wxYj625CZ601WpQo=")
        ),
        Ok(())
    );
    // B138: built from an https public base.
    let url = websocket_url(&public_url("https://example.com", "/voice").unwrap()).into_owned();
    assert_eq!(url, "wss://example.com/voice");
    assert_eq!(
        v().validate_websocket(&url, Some("1iUnCEOmZ+5wxYj625CZ601WpQo=")),
        Ok(())
    );
}

#[test]
fn websocket_port_quirk_of_python_validate() {
    // For wss the port added is 80 (never 443), and an explicit :443 is stripped first.
    let sig80 = v().compute(
        "wss://example.com:80/voice",
        std::iter::empty::<(&str, &str)>(),
    );
    assert_eq!(
        v().validate_websocket("wss://example.com/voice", Some(&sig80)),
        Ok(())
    );
    assert_eq!(
        v().validate_websocket("wss://example.com:443/voice", Some(&sig80)),
        Ok(())
    );
    assert_eq!(
        v().validate_websocket(
            "wss://example.com:443/voice",
            Some("1iUnCEOmZ+5wxYj625CZ601WpQo=")
        ),
        Ok(())
    );
}

#[test]
fn routed_websocket_paths_validate() {
    // W9: the signed URL is the one the request was addressed to, token segment included.
    let url = websocket_url(&public_url("https://bot.example.com/", "/voice/3f2c9a").unwrap())
        .into_owned();
    let sig = v().compute(&url, std::iter::empty::<(&str, &str)>());
    assert_eq!(v().validate_websocket(&url, Some(&sig)), Ok(()));
    assert_eq!(
        v().validate_websocket("wss://bot.example.com/voice", Some(&sig)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn negative_checks() {
    let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    let mut changed = params3();
    changed[1] = ("Digits", "1235");
    assert_eq!(
        v().validate(COMMON_URL, changed, Some(good)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        v().validate(
            "https://mycompany.com/myapp.php/?foo=1&bar=2",
            params3(),
            Some(good)
        ),
        Err(SignatureError::Mismatch)
    );
    let mut added = params3();
    added.push(("Extra", "1"));
    assert_eq!(
        v().validate(COMMON_URL, added, Some(good)),
        Err(SignatureError::Mismatch)
    );
    let other = SignatureValidator::new("54321").unwrap();
    assert_eq!(
        other.validate(COMMON_URL, params3(), Some(good)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), Some("")),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), Some("garbage")),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        v().validate(COMMON_URL, params3(), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8")),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn empty_token_refused_and_never_printed() {
    assert_eq!(
        SignatureValidator::new("").unwrap_err(),
        SignatureError::EmptyAuthToken
    );
    assert_eq!(
        SignatureValidator::new("  ").unwrap_err(),
        SignatureError::EmptyAuthToken
    );
    let v = SignatureValidator::new("hunter2-secret").unwrap();
    assert!(!format!("{v:?}").contains("hunter2"));
    let err = v
        .validate_websocket("wss://x/voice", Some("abc"))
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}
