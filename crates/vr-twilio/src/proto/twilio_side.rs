//! Building Twilio's messages (for simulators and tests that play Twilio's side).
//!
//! Every `write_*` replaces the contents of `out`, so one `String` can be reused per socket.
//! The field order follows Twilio's own examples.

use super::B64;
use super::inbound::{Connected, Dtmf, Inbound, Mark, Media, Start, Stop};
use super::json::{push_counter, push_str, push_u64};

/// The stream metadata of an inbound `media` message, for [`write_inbound_media`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaMeta<'a> {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `streamSid`.
    pub stream_sid: &'a str,
    /// `media.track`, e.g. `"inbound"`.
    pub track: &'a str,
    /// `media.chunk`.
    pub chunk: u64,
    /// `media.timestamp` in milliseconds.
    pub timestamp: u64,
}

/// Writes a Twilio `media` message carrying `audio` (raw μ-law, base64-encoded here).
pub fn write_inbound_media(out: &mut String, meta: &MediaMeta<'_>, audio: &[u8]) {
    use base64::Engine as _;
    out.clear();
    out.reserve(160 + meta.stream_sid.len() + audio.len().div_ceil(3) * 4);
    out.push_str(r#"{"event":"media","sequenceNumber":"#);
    push_counter(out, meta.sequence_number);
    out.push_str(r#","media":{"track":"#);
    push_str(out, meta.track);
    out.push_str(r#","chunk":"#);
    push_counter(out, meta.chunk);
    out.push_str(r#","timestamp":"#);
    push_counter(out, meta.timestamp);
    out.push_str(r#","payload":""#);
    B64.encode_string(audio, out);
    out.push_str(r#""},"streamSid":"#);
    push_str(out, meta.stream_sid);
    out.push('}');
}

/// Writes the standard `connected` message (`protocol` "Call", `version` "1.0.0").
pub fn write_connected(out: &mut String) {
    Connected {
        protocol: Some("Call".into()),
        version: Some("1.0.0".into()),
    }
    .write_json(out);
}

impl Inbound<'_> {
    /// Writes this message as Twilio would send it.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Inbound::Connected(m) => m.write_json(out),
            Inbound::Start(m) => m.write_json(out),
            Inbound::Media(m) => m.write_json(out),
            Inbound::Mark(m) => m.write_json(out),
            Inbound::Dtmf(m) => m.write_json(out),
            Inbound::Stop(m) => m.write_json(out),
            Inbound::Unknown(event) => {
                out.clear();
                out.push_str(r#"{"event":"#);
                push_str(out, event);
                out.push('}');
            }
        }
    }

    /// Returns this message as a new JSON string.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }
}

impl Connected<'_> {
    /// Writes this `connected` message.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"connected""#);
        opt_field(out, "protocol", self.protocol.as_deref());
        opt_field(out, "version", self.version.as_deref());
        out.push('}');
    }
}

impl Start<'_> {
    /// Writes this `start` message (stream id both at top level and inside `start`).
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"start""#);
        seq_field(out, self.sequence_number);
        out.push_str(r#","start":{"streamSid":"#);
        push_str(out, &self.stream_sid);
        opt_field(out, "accountSid", self.account_sid.as_deref());
        opt_field(out, "callSid", self.call_sid.as_deref());
        out.push_str(r#","tracks":["#);
        for (i, t) in self.tracks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(out, t);
        }
        out.push(']');
        if let Some(f) = &self.media_format {
            out.push_str(r#","mediaFormat":{"encoding":"#);
            push_str(out, &f.encoding);
            out.push_str(r#","sampleRate":"#);
            push_u64(out, u64::from(f.sample_rate));
            out.push_str(r#","channels":"#);
            push_u64(out, u64::from(f.channels));
            out.push('}');
        }
        out.push_str(r#","customParameters":{"#);
        for (i, (k, v)) in self.custom_parameters.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str(out, k);
            out.push(':');
            push_str(out, v);
        }
        out.push_str(r#"}},"streamSid":"#);
        push_str(out, &self.stream_sid);
        out.push('}');
    }
}

impl Media<'_> {
    /// Writes this `media` message with its (already base64) payload.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"media""#);
        seq_field(out, self.sequence_number);
        out.push_str(r#","media":{"#);
        let mut first = true;
        if let Some(t) = &self.track {
            out.push_str(r#""track":"#);
            push_str(out, t);
            first = false;
        }
        for (name, value) in [("chunk", self.chunk), ("timestamp", self.timestamp)] {
            if let Some(v) = value {
                if !first {
                    out.push(',');
                }
                out.push('"');
                out.push_str(name);
                out.push_str("\":");
                push_counter(out, v);
                first = false;
            }
        }
        if !first {
            out.push(',');
        }
        out.push_str(r#""payload":"#);
        push_str(out, &self.payload);
        out.push('}');
        opt_field(out, "streamSid", self.stream_sid.as_deref());
        out.push('}');
    }
}

impl Mark<'_> {
    /// Writes this `mark` echo.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"mark""#);
        seq_field(out, self.sequence_number);
        opt_field(out, "streamSid", self.stream_sid.as_deref());
        out.push_str(r#","mark":{"name":"#);
        push_str(out, &self.name);
        out.push_str("}}");
    }
}

impl Dtmf<'_> {
    /// Writes this `dtmf` message.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"dtmf""#);
        opt_field(out, "streamSid", self.stream_sid.as_deref());
        seq_field(out, self.sequence_number);
        out.push_str(r#","dtmf":{"#);
        if let Some(t) = &self.track {
            out.push_str(r#""track":"#);
            push_str(out, t);
            out.push(',');
        }
        out.push_str(r#""digit":"#);
        push_str(out, &self.digit);
        out.push_str("}}");
    }
}

impl Stop<'_> {
    /// Writes this `stop` message.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":"stop""#);
        seq_field(out, self.sequence_number);
        out.push_str(r#","stop":{"#);
        let mut first = true;
        for (name, value) in [
            ("accountSid", self.account_sid.as_deref()),
            ("callSid", self.call_sid.as_deref()),
        ] {
            if let Some(v) = value {
                if !first {
                    out.push(',');
                }
                out.push('"');
                out.push_str(name);
                out.push_str("\":");
                push_str(out, v);
                first = false;
            }
        }
        out.push('}');
        opt_field(out, "streamSid", self.stream_sid.as_deref());
        out.push('}');
    }
}

fn seq_field(out: &mut String, seq: Option<u64>) {
    if let Some(n) = seq {
        out.push_str(r#","sequenceNumber":"#);
        push_counter(out, n);
    }
}

fn opt_field(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        push_str(out, v);
    }
}
