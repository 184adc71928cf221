//! TwiML documents built with quick-xml's writer (twilio-rest.md §5), never by pasting strings
//! (W31): every attribute value and text node is escaped, and characters XML cannot carry
//! are refused with a typed error ([`xml_safe`] drops them first from untrusted values).
//!
//! ```
//! use vr_twilio::twiml::{routed_stream_url, ConnectStream, Response, Say};
//! let url = routed_stream_url("https://bot.example.com/", "a/b c?").unwrap();
//! assert_eq!(url, "wss://bot.example.com/voice/a%2Fb%20c%3F");
//! let xml = Response::new()
//!     .connect(ConnectStream::new(url).parameter("lang", "fi-FI"))
//!     .say(Say::new("Sorry, something went wrong. Goodbye.").voice("alice"))
//!     .hangup()
//!     .to_xml()
//!     .unwrap();
//! assert!(xml.contains(r#"<Parameter name="lang" value="fi-FI"/>"#));
//! ```

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::urls::websocket_url;

/// Twilio's limit on one `<Parameter>`: name and value together under this many characters.
pub const MAX_PARAMETER_CHARS: usize = 500;

/// Python's `quote(token, safe="")`: everything but ASCII letters, digits and `_.-~` is
/// percent-encoded (B166).
const TOKEN_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Why a TwiML document or stream URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TwimlError {
    /// The stream URL is unusable (reason given).
    #[error("invalid stream URL: {0}")]
    InvalidStreamUrl(&'static str),
    /// The per-call route token is unusable (reason given).
    #[error("invalid route token: {0}")]
    InvalidToken(&'static str),
    /// A `<Parameter>` with an empty name.
    #[error("a <Parameter> name must not be empty")]
    EmptyParameterName,
    /// A `<Parameter>` whose name and value reach Twilio's 500-character limit.
    #[error("<Parameter> `{name}`: name and value are {chars} characters (must be under 500)")]
    ParameterTooLong {
        /// The parameter name.
        name: String,
        /// Name plus value length, in characters.
        chars: usize,
    },
    /// A character XML 1.0 cannot represent (a control character other than tab, newline and
    /// carriage return, or U+FFFE/U+FFFF) in the named field.
    #[error("{field} contains a character XML cannot carry")]
    InvalidCharacter {
        /// Which field, e.g. `"Parameter value"`.
        field: &'static str,
    },
    /// The XML writer failed (not expected when writing to memory).
    #[error("XML writer error: {0}")]
    Xml(String),
}

/// `{ws_base}/voice`: the shared stream URL of a configured public base (B105, W31).
pub fn stream_url(base: &str) -> Result<String, TwimlError> {
    let mut url = ws_base(base)?;
    url.push_str("/voice");
    Ok(url)
}

/// `{ws_base}/voice/{token}`: a per-call stream URL (B166), the token percent-encoded with
/// nothing kept safe. `https://` becomes `wss://` and `http://` becomes `ws://`, only at the
/// start, and a trailing `/` on the base never gives `//voice`.
pub fn routed_stream_url(base: &str, token: &str) -> Result<String, TwimlError> {
    if token.is_empty() {
        return Err(TwimlError::InvalidToken("empty"));
    }
    if token == "." || token == ".." {
        // Kept unencoded by the quoting rule, and a URL normaliser would collapse them.
        return Err(TwimlError::InvalidToken(
            "`.` and `..` are not path segments",
        ));
    }
    let mut url = ws_base(base)?;
    url.push_str("/voice/");
    url.extend(utf8_percent_encode(token, TOKEN_SET));
    Ok(url)
}

fn ws_base(base: &str) -> Result<String, TwimlError> {
    let base = base.trim().trim_end_matches('/');
    let url = websocket_url(base);
    let rest = crate::urls::strip_prefix_ignore_case(&url, "wss://")
        .or_else(|| crate::urls::strip_prefix_ignore_case(&url, "ws://"))
        .ok_or(TwimlError::InvalidStreamUrl(
            "scheme must be https, http, wss or ws",
        ))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(TwimlError::InvalidStreamUrl("no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(TwimlError::InvalidStreamUrl(
            "Twilio does not support a query string or fragment in a stream URL",
        ));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TwimlError::InvalidStreamUrl(
            "contains whitespace or control characters",
        ));
    }
    Ok(url.into_owned())
}

/// `<Connect><Stream>`: a bidirectional stream; the call goes on to the next verb (or
/// `action`) when the server closes the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectStream {
    url: String,
    name: Option<String>,
    parameters: Vec<(String, String)>,
    status_callback: Option<String>,
    status_callback_method: Option<String>,
    action: Option<String>,
    method: Option<String>,
}

impl ConnectStream {
    /// A stream to `url` (a `wss://` URL without query, e.g. from [`routed_stream_url`]).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
            parameters: Vec::new(),
            status_callback: None,
            status_callback_method: None,
            action: None,
            method: None,
        }
    }

    /// Adds `<Parameter name value/>`; it arrives in `start.customParameters`.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((name.into(), value.into()));
        self
    }

    /// Adds the call's `From`, `To` and `CallSid` as parameters (those that are known).
    pub fn call_parameters(
        mut self,
        from: Option<&str>,
        to: Option<&str>,
        call_sid: Option<&str>,
    ) -> Self {
        for (name, value) in [("From", from), ("To", to), ("CallSid", call_sid)] {
            if let Some(v) = value {
                self.parameters.push((name.to_owned(), v.to_owned()));
            }
        }
        self
    }

    /// `<Stream name>`: unique per call.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `<Stream statusCallback>`: absolute URL for stream-started/stopped/error.
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// `<Stream statusCallbackMethod>` (`GET` or `POST`, default `POST`).
    pub fn status_callback_method(mut self, method: impl Into<String>) -> Self {
        self.status_callback_method = Some(method.into());
        self
    }

    /// `<Connect action>`: URL Twilio requests when `<Connect>` ends.
    pub fn action(mut self, url: impl Into<String>) -> Self {
        self.action = Some(url.into());
        self
    }

    /// `<Connect method>` for `action` (default `POST`).
    pub fn action_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }
}

/// `<Say>`: text read to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    text: String,
    voice: Option<String>,
    language: Option<String>,
    loop_count: Option<u32>,
}

impl Say {
    /// Says `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            language: None,
            loop_count: None,
        }
    }

    /// `voice`, e.g. `alice` or `Polly.Joanna`.
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// `language`, e.g. `en-US`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// `loop`: how many times to say it.
    pub fn loop_count(mut self, n: u32) -> Self {
        self.loop_count = Some(n);
        self
    }
}

/// One verb of a [`Response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// `<Connect><Stream>…</Stream></Connect>`.
    Connect(ConnectStream),
    /// `<Say>`.
    Say(Say),
    /// `<Hangup/>`.
    Hangup,
}

/// A `<Response>` document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    verbs: Vec<Verb>,
}

impl Response {
    /// An empty `<Response>`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `<Connect><Stream>`.
    pub fn connect(mut self, stream: ConnectStream) -> Self {
        self.verbs.push(Verb::Connect(stream));
        self
    }

    /// Appends `<Say>`.
    pub fn say(mut self, say: Say) -> Self {
        self.verbs.push(Verb::Say(say));
        self
    }

    /// Appends `<Hangup/>`.
    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    /// The document, compact (inline `Twiml` is limited to 4000 characters).
    pub fn to_xml(&self) -> Result<String, TwimlError> {
        let mut w = Writer::new(Vec::with_capacity(256));
        let xml = |e: std::io::Error| TwimlError::Xml(e.to_string());
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .map_err(xml)?;
        w.write_event(Event::Start(BytesStart::new("Response")))
            .map_err(xml)?;
        for verb in &self.verbs {
            match verb {
                Verb::Connect(c) => write_connect(&mut w, c)?,
                Verb::Say(s) => {
                    let mut el = BytesStart::new("Say");
                    push_attr(&mut el, "voice", s.voice.as_deref(), "Say voice")?;
                    push_attr(&mut el, "language", s.language.as_deref(), "Say language")?;
                    let loop_text = s.loop_count.map(|n| n.to_string());
                    push_attr(&mut el, "loop", loop_text.as_deref(), "Say loop")?;
                    w.write_event(Event::Start(el)).map_err(xml)?;
                    let text = escape(&s.text, "Say text", false)?;
                    w.write_event(Event::Text(BytesText::from_escaped(text)))
                        .map_err(xml)?;
                    w.write_event(Event::End(BytesEnd::new("Say")))
                        .map_err(xml)?;
                }
                Verb::Hangup => w
                    .write_event(Event::Empty(BytesStart::new("Hangup")))
                    .map_err(xml)?,
            }
        }
        w.write_event(Event::End(BytesEnd::new("Response")))
            .map_err(xml)?;
        String::from_utf8(w.into_inner()).map_err(|e| TwimlError::Xml(e.to_string()))
    }
}

fn write_connect(w: &mut Writer<Vec<u8>>, c: &ConnectStream) -> Result<(), TwimlError> {
    let xml = |e: std::io::Error| TwimlError::Xml(e.to_string());
    validate_stream_url(&c.url)?;
    let mut connect = BytesStart::new("Connect");
    push_attr(
        &mut connect,
        "action",
        c.action.as_deref(),
        "Connect action",
    )?;
    push_attr(
        &mut connect,
        "method",
        c.method.as_deref(),
        "Connect method",
    )?;
    w.write_event(Event::Start(connect)).map_err(xml)?;

    let mut stream = BytesStart::new("Stream");
    push_attr(&mut stream, "url", Some(&c.url), "Stream url")?;
    push_attr(&mut stream, "name", c.name.as_deref(), "Stream name")?;
    push_attr(
        &mut stream,
        "statusCallback",
        c.status_callback.as_deref(),
        "Stream statusCallback",
    )?;
    push_attr(
        &mut stream,
        "statusCallbackMethod",
        c.status_callback_method.as_deref(),
        "Stream statusCallbackMethod",
    )?;
    if c.parameters.is_empty() {
        w.write_event(Event::Empty(stream)).map_err(xml)?;
    } else {
        w.write_event(Event::Start(stream)).map_err(xml)?;
        for (name, value) in &c.parameters {
            if name.is_empty() {
                return Err(TwimlError::EmptyParameterName);
            }
            let chars = name.chars().count() + value.chars().count();
            if chars >= MAX_PARAMETER_CHARS {
                return Err(TwimlError::ParameterTooLong {
                    name: name.clone(),
                    chars,
                });
            }
            let mut p = BytesStart::new("Parameter");
            push_attr(&mut p, "name", Some(name), "Parameter name")?;
            push_attr(&mut p, "value", Some(value), "Parameter value")?;
            w.write_event(Event::Empty(p)).map_err(xml)?;
        }
        w.write_event(Event::End(BytesEnd::new("Stream")))
            .map_err(xml)?;
    }
    w.write_event(Event::End(BytesEnd::new("Connect")))
        .map_err(xml)?;
    Ok(())
}

fn validate_stream_url(url: &str) -> Result<(), TwimlError> {
    // Compared without slicing at a fixed byte offset, which may fall inside a character.
    let websocket = ["wss://", "ws://"]
        .iter()
        .any(|scheme| crate::urls::strip_prefix_ignore_case(url, scheme).is_some());
    if !websocket {
        return Err(TwimlError::InvalidStreamUrl("scheme must be wss (or ws)"));
    }
    if url.contains(['?', '#']) {
        return Err(TwimlError::InvalidStreamUrl(
            "Twilio does not support a query string or fragment in a stream URL",
        ));
    }
    Ok(())
}

fn push_attr(
    el: &mut BytesStart<'_>,
    key: &str,
    value: Option<&str>,
    field: &'static str,
) -> Result<(), TwimlError> {
    if let Some(v) = value {
        let escaped = escape(v, field, true)?;
        el.push_attribute(Attribute::from((key.as_bytes(), escaped.as_bytes())));
    }
    Ok(())
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production): not a control character
/// other than tab, newline and carriage return, nor U+FFFE or U+FFFF.
pub fn is_xml_char(c: char) -> bool {
    !((c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}

/// `s` without the characters XML 1.0 cannot carry (see [`is_xml_char`]), for untrusted
/// values (a caller ID, say) that must go into TwiML rather than fail it. Borrowed when
/// nothing had to go.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// XML-escapes `s`. In attributes, tab, newline and carriage return become character
/// references, because a parser would otherwise normalise them to spaces.
fn escape<'a>(
    s: &'a str,
    field: &'static str,
    attribute: bool,
) -> Result<Cow<'a, str>, TwimlError> {
    if !s.chars().all(is_xml_char) {
        return Err(TwimlError::InvalidCharacter { field });
    }
    let escaped = quick_xml::escape::escape(s);
    let needs_ws = if attribute {
        escaped.contains(['\t', '\n', '\r'])
    } else {
        escaped.contains('\r')
    };
    if !needs_ws {
        return Ok(escaped);
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        match c {
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

/// `<Response><Connect><Stream url="{ws_base}/voice"/></Connect></Response>` (B105, escaped).
pub fn stream_twiml(base: &str) -> Result<String, TwimlError> {
    Response::new()
        .connect(ConnectStream::new(stream_url(base)?))
        .to_xml()
}

/// The same with a per-call route token: `…/voice/{token}` (B166).
pub fn routed_stream_twiml(base: &str, token: &str) -> Result<String, TwimlError> {
    Response::new()
        .connect(ConnectStream::new(routed_stream_url(base, token)?))
        .to_xml()
}
