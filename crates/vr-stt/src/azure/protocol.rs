//! Azure Speech websocket ("USP") framing, without I/O (protocol notes §5–§8).
//!
//! Every message is a header block and a body. Text frames: `Name: value\r\n` lines, an empty
//! line, the body. Binary (audio) frames: a 2-byte big-endian header length, the ASCII header
//! block (`Name: value\r\n` lines, no blank line), then the audio bytes.
//!
//! Wire doubts (the protocol is SDK-internal, not documented for the current service):
//! - `speech.config` here announces this client truthfully (`voice-runtime`, Rust) instead of
//!   imitating the JS SDK's `SpeechSDK`/`JavaScript` system block; the service is not known
//!   to depend on it.
//! - `speech.context` is sent as `{}` (the notes say it may be nearly empty with the v1
//!   endpoints; settings travel in the query string).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Sample rate sent to the service: 16 kHz, the rate documented for the websocket.
pub const SAMPLE_RATE: u32 = 16_000;

/// A new 32-hex-digit id (upper case, UUID v4 layout without dashes), as the SDK makes for
/// `X-ConnectionId` and `X-RequestId`.
pub fn new_id() -> String {
    let mut v: u128 = rand::random();
    // Version 4, RFC 4122 variant.
    v = (v & !(0xF_u128 << 76)) | (0x4_u128 << 76);
    v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
    format!("{v:032X}")
}

/// `X-Timestamp` for now: ISO 8601 UTC with milliseconds and `Z`.
pub fn timestamp_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    timestamp(since.as_secs(), since.subsec_millis())
}

/// Formats seconds since the Unix epoch plus milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn timestamp(unix_secs: u64, millis: u32) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        millis.min(999)
    )
}

/// Howard Hinnant's days → (year, month, day) for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// A text message: `Path`, `X-RequestId`, `X-Timestamp`, `Content-Type: application/json`,
/// an empty line, then `body`.
pub fn text_message(path: &str, request_id: &str, timestamp: &str, body: &str) -> String {
    format!(
        "Path: {path}\r\nX-RequestId: {request_id}\r\nX-Timestamp: {timestamp}\r\nContent-Type: application/json\r\n\r\n{body}"
    )
}

/// A binary `audio` message. `content_type` is `Some("audio/x-wav")` only on the first audio
/// message of a turn (the one carrying the WAV header). An empty `body` ends the stream.
pub fn audio_message(
    request_id: &str,
    timestamp: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let mut headers =
        format!("Path: audio\r\nX-RequestId: {request_id}\r\nX-Timestamp: {timestamp}\r\n");
    if let Some(ct) = content_type {
        headers.push_str("Content-Type: ");
        headers.push_str(ct);
        headers.push_str("\r\n");
    }
    // Header blocks are a few hundred bytes, far below u16::MAX.
    let len = u16::try_from(headers.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + headers.len() + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(body);
    out
}

/// The 44-byte streaming WAV header for 16-bit PCM mono at `sample_rate` (format tag 1,
/// RIFF and data sizes 0 = unknown length).
pub fn wav_header_pcm16(sample_rate: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    // 4..8: 0 (streaming)
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    // 40..44: 0
    h
}

/// A text message from the service, split into headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFrame<'a> {
    headers: Vec<(&'a str, &'a str)>,
    /// The body after the first empty line (may be empty).
    pub body: &'a str,
}

impl<'a> TextFrame<'a> {
    /// Splits at the first `\r\n\r\n` (a frame without one is all headers, empty body).
    pub fn parse(frame: &'a str) -> Self {
        let (head, body) = frame.split_once("\r\n\r\n").unwrap_or((frame, ""));
        let headers = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Self { headers, body }
    }

    /// A header's value, the name matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The `Path` header.
    pub fn path(&self) -> Option<&'a str> {
        self.header("Path")
    }

    /// The `X-RequestId` header.
    pub fn request_id(&self) -> Option<&'a str> {
        self.header("X-RequestId")
    }
}

/// What a service message means for recognition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// `turn.start`.
    TurnStart,
    /// `speech.startDetected`.
    SpeechStart,
    /// `speech.hypothesis` / `speech.fragment`: interim text.
    Hypothesis(String),
    /// `speech.phrase`: the final result of one phrase.
    Phrase {
        /// `RecognitionStatus` (`Success`, `NoMatch`, `InitialSilenceTimeout`, …).
        status: String,
        /// `DisplayText` (simple format) or `NBest[0].Display` (detailed format).
        text: Option<String>,
    },
    /// `speech.endDetected`.
    SpeechEnd,
    /// `turn.end`.
    TurnEnd,
    /// Any other path.
    Other(String),
    /// No `Path`, or a body that should be JSON and is not.
    Invalid,
}

/// Interprets a parsed text frame. Never panics.
pub fn interpret(frame: &TextFrame<'_>) -> ServiceEvent {
    let Some(path) = frame.path() else {
        return ServiceEvent::Invalid;
    };
    let json = || serde_json::from_str::<Value>(frame.body).ok();
    match path.to_ascii_lowercase().as_str() {
        "turn.start" => ServiceEvent::TurnStart,
        "turn.end" => ServiceEvent::TurnEnd,
        "speech.startdetected" => ServiceEvent::SpeechStart,
        "speech.enddetected" => ServiceEvent::SpeechEnd,
        "speech.hypothesis" | "speech.fragment" => match json() {
            Some(v) => ServiceEvent::Hypothesis(
                v.get("Text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => ServiceEvent::Invalid,
        },
        "speech.phrase" => match json() {
            Some(v) => {
                let status = v
                    .get("RecognitionStatus")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let text = v
                    .get("DisplayText")
                    .and_then(Value::as_str)
                    .or_else(|| {
                        v.get("NBest")
                            .and_then(|n| n.get(0))
                            .and_then(|b| b.get("Display"))
                            .and_then(Value::as_str)
                    })
                    .map(str::to_owned);
                ServiceEvent::Phrase { status, text }
            }
            None => ServiceEvent::Invalid,
        },
        _ => ServiceEvent::Other(path.to_owned()),
    }
}

/// How a close code from the service is treated (notes §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseClass {
    /// Normal closure, going away, server error, anything unlisted: reconnect.
    Reconnect,
    /// Bad request (1002, 1003, 1008), bad parameters (1007) or the SDK's connection failure
    /// (4000): retrying cannot help; the reason is reported.
    Terminal(String),
}

/// Classes a close code.
pub fn classify_close(code: u16) -> CloseClass {
    match code {
        1002 | 1003 | 1008 => CloseClass::Terminal(format!("bad_request_close_{code}")),
        1007 => CloseClass::Terminal("bad_request_parameters_close_1007".to_owned()),
        4000 => CloseClass::Terminal("connection_failure_close_4000".to_owned()),
        _ => CloseClass::Reconnect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_upper_hex_v4() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        assert_eq!(&id[12..13], "4");
        assert!(matches!(&id[16..17], "8" | "9" | "A" | "B"));
        assert_ne!(new_id(), id);
    }

    #[test]
    fn timestamps_are_iso8601_utc_millis() {
        assert_eq!(timestamp(0, 0), "1970-01-01T00:00:00.000Z");
        // 2026-07-13T22:52:35.123Z
        assert_eq!(timestamp(1_783_983_155, 123), "2026-07-13T22:52:35.123Z");
        assert_eq!(timestamp(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(timestamp_now().len(), 24);
    }

    #[test]
    fn text_messages_have_headers_blank_line_body() {
        let m = text_message("speech.config", "ABC", "T", "{}");
        assert_eq!(
            m,
            "Path: speech.config\r\nX-RequestId: ABC\r\nX-Timestamp: T\r\nContent-Type: application/json\r\n\r\n{}"
        );
    }

    #[test]
    fn audio_messages_are_length_prefixed() {
        let m = audio_message("ID", "T", Some("audio/x-wav"), &[1, 2, 3]);
        let n = usize::from(u16::from_be_bytes([m[0], m[1]]));
        let head = std::str::from_utf8(&m[2..2 + n]).expect("ascii headers");
        assert_eq!(
            head,
            "Path: audio\r\nX-RequestId: ID\r\nX-Timestamp: T\r\nContent-Type: audio/x-wav\r\n"
        );
        assert_eq!(&m[2 + n..], &[1, 2, 3]);
        let m = audio_message("ID", "T", None, &[]);
        let n = usize::from(u16::from_be_bytes([m[0], m[1]]));
        assert_eq!(m.len(), 2 + n);
        assert!(
            !std::str::from_utf8(&m[2..])
                .expect("ascii")
                .contains("Content-Type")
        );
    }

    #[test]
    fn wav_header_is_pcm16_mono_16k() {
        let h = wav_header_pcm16(16_000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(&h[4..8], &[0, 0, 0, 0]);
        assert_eq!(&h[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes([h[16], h[17], h[18], h[19]]), 16);
        assert_eq!(u16::from_le_bytes([h[20], h[21]]), 1);
        assert_eq!(u16::from_le_bytes([h[22], h[23]]), 1);
        assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 16_000);
        assert_eq!(u32::from_le_bytes([h[28], h[29], h[30], h[31]]), 32_000);
        assert_eq!(u16::from_le_bytes([h[32], h[33]]), 2);
        assert_eq!(u16::from_le_bytes([h[34], h[35]]), 16);
        assert_eq!(&h[36..40], b"data");
        assert_eq!(&h[40..44], &[0, 0, 0, 0]);
    }

    #[test]
    fn service_messages_parse() {
        let f = TextFrame::parse(
            "path: speech.hypothesis\r\nx-requestid: AB12\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{\"Text\":\"hei mitä\",\"Offset\":1000000,\"Duration\":5000000}",
        );
        assert_eq!(f.request_id(), Some("AB12"));
        assert_eq!(interpret(&f), ServiceEvent::Hypothesis("hei mitä".into()));
        let f = TextFrame::parse(
            "Path: speech.phrase\r\nX-RequestId: AB12\r\n\r\n{\"RecognitionStatus\":\"Success\",\"DisplayText\":\"Hei, mitä kuuluu?\",\"Offset\":1,\"Duration\":2}",
        );
        assert_eq!(
            interpret(&f),
            ServiceEvent::Phrase {
                status: "Success".into(),
                text: Some("Hei, mitä kuuluu?".into())
            }
        );
        let f = TextFrame::parse(
            "Path: speech.phrase\r\n\r\n{\"RecognitionStatus\":\"Success\",\"NBest\":[{\"Display\":\"Hei.\"}]}",
        );
        assert_eq!(
            interpret(&f),
            ServiceEvent::Phrase {
                status: "Success".into(),
                text: Some("Hei.".into())
            }
        );
        for (frame, event) in [
            ("Path: turn.end\r\n\r\n", ServiceEvent::TurnEnd),
            ("Path: turn.end\r\n\r\n{}", ServiceEvent::TurnEnd),
            (
                "Path: turn.start\r\n\r\n{\"context\":{}}",
                ServiceEvent::TurnStart,
            ),
            (
                "Path: speech.startDetected\r\n\r\n{\"Offset\":1}",
                ServiceEvent::SpeechStart,
            ),
            ("Path: speech.endDetected\r\n\r\n", ServiceEvent::SpeechEnd),
            (
                "Path: speech.fragment\r\n\r\n{\"Text\":\"a\"}",
                ServiceEvent::Hypothesis("a".into()),
            ),
            ("Path: weird\r\n\r\n", ServiceEvent::Other("weird".into())),
            ("no headers here", ServiceEvent::Invalid),
            ("Path: speech.phrase\r\n\r\nnot json", ServiceEvent::Invalid),
            ("", ServiceEvent::Invalid),
        ] {
            assert_eq!(interpret(&TextFrame::parse(frame)), event, "{frame:?}");
        }
    }

    #[test]
    fn close_codes_are_classed() {
        for code in [1000, 1001, 1005, 1006, 1009, 1011, 4999] {
            assert_eq!(classify_close(code), CloseClass::Reconnect, "{code}");
        }
        assert_eq!(
            classify_close(1007),
            CloseClass::Terminal("bad_request_parameters_close_1007".into())
        );
        for code in [1002, 1003, 1008] {
            assert_eq!(
                classify_close(code),
                CloseClass::Terminal(format!("bad_request_close_{code}"))
            );
        }
        assert!(matches!(classify_close(4000), CloseClass::Terminal(_)));
    }
}
