//! `webhook`: what reaches `POST /incoming` and `POST /status` (and the signed WebSocket
//! upgrade), handled as `vr_twilio::server`'s `webhook.rs` handles it.
//!
//! The input is four `\n`-separated fields: the auth token, the URL Twilio requested, the
//! `X-Twilio-Signature` header, and the raw form body (the rest of the input, any bytes).
//!
//! Checked: form parsing never panics and its result survives encode → parse; an arbitrary
//! header validates only if it is shaped like a signature; the signature computed for the
//! URL and parameters validates (in any parameter order, with whitespace around it) while a
//! mutated signature, another token or a missing header does not; the `bodySHA256` variant
//! accepts the right body and refuses another; the URL helpers only touch what they document;
//! and the TwiML answer built from the form's `From`/`To`/`CallSid` parses back to exactly
//! those values, or is refused for a documented reason.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use sha2::{Digest, Sha256};
use vr_twilio::signature::{SignatureError, SignatureValidator};
use vr_twilio::twiml::{self, ConnectStream, MAX_PARAMETER_CHARS, Response, Say, TwimlError};
use vr_twilio::urls::{public_url, websocket_url};

/// Runs the `webhook` target on `data`.
pub fn webhook(data: &[u8]) {
    let mut fields = data.splitn(4, |&b| b == b'\n');
    let mut text = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (token, url, header) = (text(), text(), text());
    let body = fields.next().unwrap_or_default();

    // As webhook.rs `form()`: a body that does not parse is a 400, never a panic.
    let params = match serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        Ok(params) => {
            check_form_round_trip(&params);
            params
        }
        Err(_) => Vec::new(),
    };
    check_urls(&url, &header);
    check_signatures(&token, &url, &header, &params, body);
    check_incoming_twiml(&url, &params);
    check_say(&header);
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn check_form_round_trip(params: &[(String, String)]) {
    let encoded = match serde_urlencoded::to_string(params) {
        Ok(encoded) => encoded,
        Err(e) => panic!("cannot re-encode {params:?}: {e}"),
    };
    let back: Vec<(String, String)> = match serde_urlencoded::from_str(&encoded) {
        Ok(back) => back,
        Err(e) => panic!("cannot re-parse {encoded:?}: {e}"),
    };
    assert_eq!(back, params, "form round trip through {encoded:?}");
}

/// `websocket_url` only rewrites a leading http(s) scheme; `public_url` keeps the base and
/// the path it is given.
fn check_urls(url: &str, path: &str) {
    let ws = websocket_url(url);
    if ws != url {
        let lower = url.to_ascii_lowercase();
        let (from, to) = if lower.starts_with("https://") {
            ("https://".len(), "wss://")
        } else {
            assert!(lower.starts_with("http://"), "rewrote {url:?} to {ws:?}");
            ("http://".len(), "ws://")
        };
        assert_eq!(ws.strip_prefix(to), url.get(from..), "rewrote {url:?}");
    }
    if let Ok(full) = public_url(url, path) {
        assert!(
            full.starts_with(url.trim_end_matches('/')),
            "{full:?} from {url:?}"
        );
        assert!(full.ends_with(path), "{full:?} lost the path {path:?}");
    }
}

fn check_signatures(
    token: &str,
    url: &str,
    header: &str,
    params: &[(String, String)],
    body: &[u8],
) {
    let validator = match SignatureValidator::new(token) {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e, SignatureError::EmptyAuthToken);
            assert!(token.trim().is_empty(), "refused the token {token:?}");
            return;
        }
    };
    assert!(!token.trim().is_empty(), "accepted a blank auth token");
    let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));

    // Whatever the peer sends: no panic, and only a signature-shaped header can match.
    match validator.validate(url, pairs(), Some(header)) {
        Ok(()) => assert_eq!(header.trim().len(), 28, "accepted {header:?}"),
        Err(e) => assert_eq!(e == SignatureError::Missing, header.trim().is_empty()),
    }
    let _ = validator.validate_websocket(url, Some(header));
    let _ = validator.validate_json_body(url, body, Some(header));

    let sig = validator.compute(url, pairs());
    assert_eq!(validator.validate(url, pairs(), Some(&sig)), Ok(()));
    let padded = format!(" {sig}\t");
    assert_eq!(
        validator.validate(url, pairs().rev(), Some(&padded)),
        Ok(())
    );
    assert_eq!(
        validator.validate(url, pairs(), None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        validator.validate(url, pairs(), Some(" ")),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        validator.validate(url, pairs(), Some(&mutate(&sig))),
        Err(SignatureError::Mismatch),
        "a mutated signature validated"
    );
    match SignatureValidator::new(format!("{token}x")) {
        Ok(other) => assert_eq!(
            other.validate(url, pairs(), Some(&sig)),
            Err(SignatureError::Mismatch),
            "another token's signature validated"
        ),
        Err(e) => panic!("refused a non-blank token: {e}"),
    }

    // The WebSocket upgrade: the wss URL with no parameters.
    let ws = websocket_url(url);
    let ws_sig = validator.compute(&ws, std::iter::empty::<(&str, &str)>());
    assert_eq!(validator.validate_websocket(&ws, Some(&ws_sig)), Ok(()));

    if let Some(signed) = with_body_hash(url, body) {
        let sig = validator.compute(&signed, std::iter::empty::<(&str, &str)>());
        assert_eq!(
            validator.validate_json_body(&signed, body, Some(&sig)),
            Ok(()),
            "JSON body signed at {signed:?}"
        );
        let mut other = body.to_vec();
        other.push(b'!');
        assert_eq!(
            validator.validate_json_body(&signed, &other, Some(&sig)),
            Err(SignatureError::BodyHashMismatch)
        );
    }
}

/// `sig` with its first character replaced by another base64 character.
fn mutate(sig: &str) -> String {
    let mut chars: Vec<char> = sig.chars().collect();
    if let Some(c) = chars.first_mut() {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// `url` with `bodySHA256=<hex of body>` appended, unless the URL already names one (or has a
/// fragment, where an appended parameter would not be part of the query).
fn with_body_hash(url: &str, body: &[u8]) -> Option<String> {
    if url.contains('#') {
        return None;
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "bodySHA256") {
        return None;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{sep}bodySHA256={}",
        hex::encode(Sha256::digest(body))
    ))
}

/// Whether XML 1.0 can carry `s` (what the TwiML builder refuses otherwise).
fn xml_safe(s: &str) -> bool {
    !s.chars().any(|c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    })
}

/// The `/incoming` answer with `url` as the configured public base.
fn check_incoming_twiml(base: &str, params: &[(String, String)]) {
    let Ok(stream_url) = twiml::stream_url(base) else {
        return;
    };
    assert!(stream_url.ends_with("/voice"), "{stream_url:?}");
    let mut stream = ConnectStream::new(stream_url.clone());
    let mut expected = Vec::new();
    for name in ["From", "To", "CallSid"] {
        if let Some(value) = param(params, name) {
            stream = stream.parameter(name, value);
            expected.push((name.to_owned(), value.to_owned()));
        }
    }
    let acceptable = xml_safe(&stream_url)
        && expected.iter().all(|(name, value)| {
            xml_safe(value) && name.chars().count() + value.chars().count() < MAX_PARAMETER_CHARS
        });
    match Response::new().connect(stream).to_xml() {
        Ok(xml) => {
            assert!(acceptable, "built TwiML from unacceptable input: {xml}");
            let (url, parameters) = parse_stream(&xml);
            assert_eq!(url.as_deref(), Some(stream_url.as_str()), "{xml}");
            assert_eq!(parameters, expected, "{xml}");
        }
        Err(e) => {
            assert!(
                !acceptable,
                "refused TwiML for {stream_url:?} and {expected:?}: {e}"
            );
            assert!(
                matches!(
                    e,
                    TwimlError::ParameterTooLong { .. } | TwimlError::InvalidCharacter { .. }
                ),
                "{e}"
            );
        }
    }
}

/// The `<Stream url>` and the `<Parameter>`s of a TwiML document, unescaped.
fn parse_stream(xml: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut reader = Reader::from_str(xml);
    let mut url = None;
    let mut parameters = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e) | Event::Empty(e)) => match e.name().as_ref() {
                b"Stream" => url = attribute(&e, b"url"),
                b"Parameter" => parameters.push((
                    attribute(&e, b"name").unwrap_or_default(),
                    attribute(&e, b"value").unwrap_or_default(),
                )),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => panic!("TwiML does not parse ({e}): {xml}"),
        }
    }
    (url, parameters)
}

fn attribute(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    let attr = match e.try_get_attribute(key) {
        Ok(attr) => attr?,
        Err(err) => panic!("bad attribute in TwiML: {err}"),
    };
    match attr.unescape_value() {
        Ok(value) => Some(value.into_owned()),
        Err(err) => panic!("attribute does not unescape: {err}"),
    }
}

/// `<Say>` text survives escaping exactly, or is refused because XML cannot carry it.
fn check_say(text: &str) {
    match Response::new().say(Say::new(text)).to_xml() {
        Ok(xml) => {
            assert!(xml_safe(text), "built TwiML from {text:?}");
            let mut reader = Reader::from_str(&xml);
            let mut said = String::new();
            loop {
                match reader.read_event() {
                    Ok(Event::Eof) => break,
                    Ok(Event::Text(t)) => match t.unescape() {
                        Ok(t) => said.push_str(&t),
                        Err(e) => panic!("<Say> text does not unescape ({e}): {xml}"),
                    },
                    Ok(_) => {}
                    Err(e) => panic!("TwiML does not parse ({e}): {xml}"),
                }
            }
            assert_eq!(said, text, "{xml}");
        }
        Err(e) => {
            assert!(!xml_safe(text), "refused <Say> {text:?}: {e}");
            assert!(matches!(e, TwimlError::InvalidCharacter { .. }), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_vector_1_passes() {
        webhook(
            b"12345\nhttps://mycompany.com/myapp.php?foo=1&bar=2\n0/KCTR6DLpKmkAf8muzZqo1nDgQ=\n\
              CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212",
        );
    }

    #[test]
    fn body_hash_is_appended_only_once() {
        assert_eq!(
            with_body_hash("https://a/x", b"").as_deref(),
            Some(
                "https://a/x?bodySHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
        );
        assert!(with_body_hash("https://a/x?bodySHA%32%35%36=1", b"").is_none());
        assert!(with_body_hash("https://a/x#f", b"").is_none());
    }

    #[test]
    fn garbage_passes() {
        webhook(b"");
        webhook(b" \n\n\n");
        webhook(b"t\n\xff\n\x00\n=&=x&%zz&From=%00");
    }
}
