//! Twilio's side of a Media Stream, made cheap: ids, `connected`/`start`/`media`/`mark`/`stop`
//! written straight into byte buffers, tagged payloads, and a fast scan of the server's
//! `media`/`mark`/`clear` messages (with a serde fallback for unusual spellings).

use std::borrow::Cow;
use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use vr_codec::FRAME_BYTES;

/// Bytes of a payload used for the tag.
pub const TAG_BYTES: usize = 6;
/// Base64 characters of the tag (6 bytes encode to exactly 8 characters).
pub const TAG_CHARS: usize = 8;

/// A splitmix64 step: cheap, deterministic per-call randomness.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The identifiers of one simulated stream (`AC`/`CA`/`MZ` + 32 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `AC…`
    pub account_sid: String,
    /// `CA…`
    pub call_sid: String,
    /// `MZ…`
    pub stream_sid: String,
}

impl Ids {
    /// Ids derived from `seed` (distinct seeds give distinct ids).
    pub fn from_seed(seed: u64) -> Self {
        let mut s = seed;
        let mut sid = |prefix: &str| {
            let hi = splitmix(&mut s);
            let lo = splitmix(&mut s);
            format!("{prefix}{hi:016x}{lo:016x}")
        };
        Self {
            account_sid: sid("AC"),
            call_sid: sid("CA"),
            stream_sid: sid("MZ"),
        }
    }
}

/// The `connected` message.
pub const CONNECTED: &str = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;

/// The `start` message (`sequenceNumber` "1").
pub fn start_json(ids: &Ids) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"{a}","streamSid":"{s}","callSid":"{c}","tracks":["inbound"],"customParameters":{{}},"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{s}"}}"#,
        a = ids.account_sid,
        s = ids.stream_sid,
        c = ids.call_sid,
    )
}

/// Writes a `media` message into `out` (replacing it). The payload is given as its base64
/// tag (the first 6 bytes) and the base64 of the remaining bytes.
pub fn write_media(
    out: &mut Vec<u8>,
    stream_sid: &str,
    seq: u64,
    chunk: u64,
    timestamp_ms: u64,
    tag: &[u8; TAG_CHARS],
    body_b64: &str,
) {
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{timestamp_ms}","payload":""#
    );
    out.extend_from_slice(tag);
    out.extend_from_slice(body_b64.as_bytes());
    out.extend_from_slice(br#""},"streamSid":""#);
    out.extend_from_slice(stream_sid.as_bytes());
    out.extend_from_slice(br#""}"#);
}

/// Writes a `mark` echo into `out` (replacing it); the name is JSON-escaped.
pub fn write_mark(out: &mut Vec<u8>, stream_sid: &str, seq: u64, name: &str) {
    out.clear();
    let name = serde_json::to_string(name).unwrap_or_else(|_| "\"\"".to_owned());
    let _ = write!(
        out,
        r#"{{"event":"mark","sequenceNumber":"{seq}","streamSid":"{stream_sid}","mark":{{"name":{name}}}}}"#
    );
}

/// Writes the `stop` message into `out` (replacing it).
pub fn write_stop(out: &mut Vec<u8>, ids: &Ids, seq: u64) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"event":"stop","sequenceNumber":"{seq}","stop":{{"accountSid":"{}","callSid":"{}"}},"streamSid":"{}"}}"#,
        ids.account_sid, ids.call_sid, ids.stream_sid
    );
}

/// The 6 tag bytes for frame `seq` (24 bits): one nibble per byte, each byte `0xF_`, which
/// μ-law decodes to a near-silent sample (|x| ≤ 120), so tags never trip a voice detector.
pub fn tag_bytes(seq: u32) -> [u8; TAG_BYTES] {
    let mut t = [0u8; TAG_BYTES];
    for (i, b) in t.iter_mut().enumerate() {
        *b = 0xF0 | ((seq >> (4 * (TAG_BYTES - 1 - i))) & 0xF) as u8;
    }
    t
}

/// The base64 of [`tag_bytes`] (8 characters).
pub fn tag_b64(seq: u32) -> [u8; TAG_CHARS] {
    let mut out = [0u8; TAG_CHARS];
    // 6 bytes always encode to exactly 8 characters.
    let _ = B64.encode_slice(tag_bytes(seq), &mut out);
    out
}

/// The frame number tagged into a base64 payload; `None` when it carries no tag.
pub fn untag(payload_b64: &[u8]) -> Option<u32> {
    let head = payload_b64.get(..TAG_CHARS)?;
    let mut bytes = [0u8; TAG_BYTES];
    B64.decode_slice(head, &mut bytes).ok()?;
    let mut seq = 0u32;
    for b in bytes {
        if b & 0xF0 != 0xF0 {
            return None;
        }
        seq = (seq << 4) | u32::from(b & 0x0F);
    }
    Some(seq)
}

/// Largest frame number a tag holds.
pub const TAG_MAX: u32 = (1 << 24) - 1;

/// The base64 of bytes `6..160` of a frame (the part after the tag).
pub fn body_b64(frame: &[u8; FRAME_BYTES]) -> String {
    B64.encode(&frame[TAG_BYTES..])
}

/// Bytes a base64 string of this length decodes to (`=` padding counted from the end).
pub fn decoded_len(b64: &[u8]) -> usize {
    let pad = b64.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}

/// A message from the server, as far as the caller cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMsg<'a> {
    /// Outbound audio; the base64 payload.
    Media(&'a [u8]),
    /// A mark to echo once the audio before it has played.
    Mark(Cow<'a, str>),
    /// Drop buffered audio; echo pending marks.
    Clear,
    /// Anything else (counted, otherwise ignored).
    Other,
}

/// Scans a server message: a substring scan for the compact JSON the server writes, and a
/// full parse when that fails (whitespace, escapes, other field order).
pub fn scan(text: &[u8]) -> ServerMsg<'_> {
    match fast_scan(text) {
        Some(m) => m,
        None => slow_scan(text),
    }
}

fn string_after<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = super::ws::find(text, key)? + key.len();
    let rest = &text[start..];
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| &rest[..end])
}

fn fast_scan(text: &[u8]) -> Option<ServerMsg<'_>> {
    match string_after(text, br#""event":""#)? {
        b"media" => Some(ServerMsg::Media(string_after(text, br#""payload":""#)?)),
        b"mark" => {
            let name = string_after(text, br#""name":""#)?;
            Some(ServerMsg::Mark(Cow::Borrowed(
                std::str::from_utf8(name).ok()?,
            )))
        }
        b"clear" => Some(ServerMsg::Clear),
        _ => Some(ServerMsg::Other),
    }
}

fn slow_scan(text: &[u8]) -> ServerMsg<'static> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(text) else {
        return ServerMsg::Other;
    };
    match v.get("event").and_then(|e| e.as_str()) {
        Some("mark") => match v.pointer("/mark/name").and_then(|n| n.as_str()) {
            Some(name) => ServerMsg::Mark(Cow::Owned(name.to_owned())),
            None => ServerMsg::Other,
        },
        Some("clear") => ServerMsg::Clear,
        // A media message the fast scan missed: its payload is not borrowable here, so it is
        // reported as Other (the server writes compact JSON, so this does not happen).
        _ => ServerMsg::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_stay_quiet() {
        for seq in [0, 1, 49, 50 * 3600, TAG_MAX] {
            let b64 = tag_b64(seq);
            assert_eq!(untag(&b64), Some(seq));
            assert_eq!(&b64[..], B64.encode(tag_bytes(seq)).as_bytes());
            for b in tag_bytes(seq) {
                assert!(vr_codec::mulaw::decode(b).unsigned_abs() <= 124, "{b:#x}");
            }
        }
        // A whole tagged frame's payload keeps the tag in its first 8 characters.
        let mut frame = [0xFFu8; FRAME_BYTES];
        frame[..TAG_BYTES].copy_from_slice(&tag_bytes(777));
        let full = B64.encode(frame);
        assert_eq!(full.len(), 216);
        assert_eq!(&full.as_bytes()[..8], &tag_b64(777));
        assert_eq!(&full[8..], body_b64(&frame));
        assert_eq!(untag(full.as_bytes()), Some(777));
        assert_eq!(untag(B64.encode([0x12u8; 160]).as_bytes()), None);
        assert_eq!(decoded_len(full.as_bytes()), 160);
        assert_eq!(decoded_len(b"////"), 3);
        assert_eq!(decoded_len(b"//8="), 2);
        assert_eq!(decoded_len(b"/w=="), 1);
    }

    #[test]
    fn media_message_is_valid_twilio_json() {
        let ids = Ids::from_seed(7);
        assert!(ids.stream_sid.starts_with("MZ") && ids.stream_sid.len() == 34);
        assert_ne!(ids.call_sid, Ids::from_seed(8).call_sid);
        let mut out = Vec::new();
        write_media(&mut out, &ids.stream_sid, 12, 11, 200, &tag_b64(10), "////");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["sequenceNumber"], "12");
        assert_eq!(v["media"]["chunk"], "11");
        assert_eq!(v["media"]["timestamp"], "200");
        assert_eq!(v["streamSid"], ids.stream_sid.as_str());
        let payload = v["media"]["payload"].as_str().unwrap();
        assert_eq!(untag(payload.as_bytes()), Some(10));
        let start: serde_json::Value = serde_json::from_str(&start_json(&ids)).unwrap();
        assert_eq!(start["start"]["mediaFormat"]["sampleRate"], 8000);
        write_mark(&mut out, &ids.stream_sid, 13, "a\"b");
        let m: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(m["mark"]["name"], "a\"b");
        write_stop(&mut out, &ids, 14);
        let s: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(s["stop"]["callSid"], ids.call_sid.as_str());
    }

    #[test]
    fn scans_server_messages() {
        let media = br#"{"event":"media","streamSid":"MZ1","media":{"payload":"8PDw8PDw////"}}"#;
        assert_eq!(scan(media), ServerMsg::Media(b"8PDw8PDw////"));
        let mark = br#"{"event":"mark","streamSid":"MZ1","mark":{"name":"tts-1"}}"#;
        assert_eq!(scan(mark), ServerMsg::Mark(Cow::Borrowed("tts-1")));
        let spaced = br#"{ "event" : "mark", "mark": {"name": "a\"b"}}"#;
        assert_eq!(scan(spaced), ServerMsg::Mark(Cow::Owned("a\"b".to_owned())));
        assert_eq!(
            scan(br#"{"event":"clear","streamSid":"MZ1"}"#),
            ServerMsg::Clear
        );
        assert_eq!(scan(b"not json"), ServerMsg::Other);
    }
}
