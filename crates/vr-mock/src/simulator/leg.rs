//! One websocket playing Twilio's side of one stream: the part the simulator and the bridge
//! share. Builds and parses messages with `vr_twilio::proto`; plays outbound audio through a
//! [`Playout`]; records a [`Timeline`].

use std::borrow::Cow;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vr_codec::{FRAME_BYTES, Frame, SAMPLE_RATE};
use vr_twilio::proto::{
    DEFAULT_MAX_MESSAGE_BYTES, Dtmf, Mark, MediaFormat, MediaMeta, Outbound, Start, Stop,
    parse_outbound, write_connected, write_inbound_media,
};
use vr_twilio::signature::SignatureValidator;

use super::ids::SimIds;
use super::pacing::tick_offset;
use super::playout::Playout;
use super::timeline::{Timeline, TimelineEvent};
use super::{Counters, SimulatorError};

/// The websocket type of a leg.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one send may take before the socket counts as broken.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long closing waits for the server's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Most frames read while waiting for the server's close frame.
const CLOSE_DRAIN_FRAMES: usize = 1_000;

/// Opens the websocket, with `X-Twilio-Signature` when an auth token is given (signed over
/// `signed_url`, or `url` itself, with no parameters).
pub(crate) async fn connect(
    url: &str,
    auth_token: Option<&str>,
    signed_url: Option<&str>,
    timeout: Duration,
) -> Result<Ws, SimulatorError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| SimulatorError::InvalidUrl(format!("{url}: {e}")))?;
    if let Some(token) = auth_token {
        let validator =
            SignatureValidator::new(token).map_err(|e| SimulatorError::Signature(e.to_string()))?;
        let signature = validator.compute(
            signed_url.unwrap_or(url),
            std::iter::empty::<(&str, &str)>(),
        );
        let value = HeaderValue::from_str(&signature)
            .map_err(|e| SimulatorError::Signature(e.to_string()))?;
        request.headers_mut().insert("X-Twilio-Signature", value);
    }
    match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(request)).await {
        Err(_) => Err(SimulatorError::Connect(format!(
            "{url}: no answer within {timeout:?}"
        ))),
        Ok(Err(tungstenite::Error::Http(response))) => Err(SimulatorError::Handshake {
            status: response.status().as_u16(),
        }),
        Ok(Err(e)) => Err(SimulatorError::Connect(format!("{url}: {e}"))),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// What a message from the server did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    Continue,
    Closed,
}

/// One stream's Twilio side.
#[derive(Debug)]
pub(crate) struct Leg {
    pub ws: Ws,
    pub ids: SimIds,
    pub playout: Playout,
    pub counters: Counters,
    pub timeline: Timeline,
    /// `Some` once the server has closed (code, reason).
    pub server_closed: Option<Option<u16>>,
    seq: u64,
    chunk: u64,
    out: String,
    scratch: Vec<u8>,
    bot_playing_since: Option<u64>,
    discard_warned: bool,
}

impl Leg {
    pub(crate) fn new(ws: Ws, ids: SimIds, timeline: Timeline) -> Self {
        Self {
            ws,
            ids,
            playout: Playout::new(),
            counters: Counters::default(),
            timeline,
            server_closed: None,
            seq: 0,
            chunk: 0,
            out: String::with_capacity(512),
            scratch: Vec::with_capacity(4096),
            bot_playing_since: None,
            discard_warned: false,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    async fn send_out(&mut self) -> Incoming {
        if self.server_closed.is_some() {
            return Incoming::Closed;
        }
        let text = std::mem::take(&mut self.out);
        let result = tokio::time::timeout(SEND_TIMEOUT, self.ws.send(Message::text(text))).await;
        match result {
            Ok(Ok(())) => Incoming::Continue,
            Ok(Err(e)) => self.broken(format!("send failed: {e}")),
            Err(_) => self.broken("send timed out".into()),
        }
    }

    fn broken(&mut self, reason: String) -> Incoming {
        self.closed_by_server(None, reason);
        Incoming::Closed
    }

    fn closed_by_server(&mut self, code: Option<u16>, reason: String) {
        if self.server_closed.is_none() {
            self.server_closed = Some(code);
            self.timeline
                .push(TimelineEvent::ServerClosed { code, reason });
        }
    }

    /// Sends `connected` and `start` (with the custom parameters, in order).
    pub(crate) async fn send_connected_and_start(
        &mut self,
        url: &str,
        params: &[(String, String)],
    ) -> Incoming {
        write_connected(&mut self.out);
        if self.send_out().await == Incoming::Closed {
            return Incoming::Closed;
        }
        self.timeline.push(TimelineEvent::Connected {
            url: url.to_owned(),
        });
        let seq = self.next_seq();
        Start {
            sequence_number: Some(seq),
            stream_sid: Cow::Borrowed(&self.ids.stream_sid),
            account_sid: Some(Cow::Borrowed(&self.ids.account_sid)),
            call_sid: Some(Cow::Borrowed(&self.ids.call_sid)),
            tracks: vec![Cow::Borrowed("inbound")],
            media_format: Some(MediaFormat {
                encoding: Cow::Borrowed("audio/x-mulaw"),
                sample_rate: SAMPLE_RATE,
                channels: 1,
            }),
            custom_parameters: params
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                .collect(),
        }
        .write_json(&mut self.out);
        let sent = self.send_out().await;
        if sent == Incoming::Continue {
            self.timeline.push(TimelineEvent::StartSent {
                stream_sid: self.ids.stream_sid.clone(),
                call_sid: self.ids.call_sid.clone(),
            });
        }
        sent
    }

    /// Handles what the websocket yielded.
    pub(crate) async fn on_message(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
    ) -> Incoming {
        match msg {
            None => self.broken("socket ended without a close frame".into()),
            Some(Err(e)) => self.broken(format!("socket error: {e}")),
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    // RFC 6455 §7.4.1: 1005 stands for "no status code was present".
                    None => (Some(1005), String::new()),
                };
                self.closed_by_server(code, reason);
                Incoming::Closed
            }
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                self.protocol_error("binary frame (Twilio error 31950)".into());
                Incoming::Continue
            }
            Some(Ok(_)) => Incoming::Continue, // ping/pong: tungstenite answers pings
        }
    }

    fn protocol_error(&mut self, detail: String) {
        tracing::warn!(stream_sid = %self.ids.stream_sid, "server sent an invalid message: {detail}");
        self.counters.protocol_errors += 1;
        self.timeline.push(TimelineEvent::ProtocolError { detail });
    }

    async fn on_text(&mut self, text: &str) -> Incoming {
        let msg = match parse_outbound(text, DEFAULT_MAX_MESSAGE_BYTES) {
            Ok(m) => m,
            Err(e) => {
                self.protocol_error(format!("{e} (Twilio error 31951)"));
                return Incoming::Continue;
            }
        };
        if msg.stream_sid() != self.ids.stream_sid {
            self.protocol_error(format!(
                "wrong streamSid {:?} (Twilio error 31951)",
                msg.stream_sid()
            ));
            return Incoming::Continue;
        }
        match &msg {
            Outbound::Media { .. } => {
                let mut audio = std::mem::take(&mut self.scratch);
                match msg.decode_payload_into(&mut audio) {
                    Ok(_) => {
                        self.counters.media_received += 1;
                        self.counters.audio_bytes_received += audio.len() as u64;
                        if !self.playout.push_audio(&audio) && !self.discard_warned {
                            self.discard_warned = true;
                            self.protocol_error(
                                "over 10 minutes of audio buffered; media discarded (31931)".into(),
                            );
                        }
                    }
                    Err(e) => self.protocol_error(format!("bad media payload: {e}")),
                }
                self.scratch = audio;
                Incoming::Continue
            }
            Outbound::Mark { name, .. } => {
                self.counters.marks_received += 1;
                self.timeline.push(TimelineEvent::MarkReceived {
                    name: name.to_string(),
                });
                match self.playout.push_mark(name) {
                    Some(name) => self.echo(&name, false).await,
                    None => Incoming::Continue,
                }
            }
            Outbound::Clear { .. } => {
                let cleared = self.playout.clear();
                self.counters.clears += 1;
                self.counters.bytes_cleared += cleared.dropped_bytes as u64;
                self.timeline.push(TimelineEvent::ClearReceived {
                    dropped: bytes_duration(cleared.dropped_bytes),
                    marks_echoed: cleared.echoed.len(),
                });
                for name in &cleared.echoed {
                    if self.echo(name, true).await == Incoming::Closed {
                        return Incoming::Closed;
                    }
                }
                Incoming::Continue
            }
        }
    }

    async fn echo(&mut self, name: &str, cleared: bool) -> Incoming {
        let seq = self.next_seq();
        Mark {
            sequence_number: Some(seq),
            stream_sid: Some(Cow::Borrowed(&self.ids.stream_sid)),
            name: Cow::Borrowed(name),
        }
        .write_json(&mut self.out);
        let sent = self.send_out().await;
        if sent == Incoming::Continue {
            self.counters.marks_echoed += 1;
            self.timeline.push(TimelineEvent::MarkEchoed {
                name: name.to_owned(),
                cleared,
            });
        }
        sent
    }

    /// Plays tick `n` of the bot's audio: echoes the marks that are due and returns the frame
    /// the caller hears (silence when nothing is buffered).
    pub(crate) async fn play(&mut self, n: u64) -> (Frame, Incoming) {
        let tick = self.playout.tick();
        match (tick.audio_bytes > 0, self.bot_playing_since) {
            (true, None) => {
                self.bot_playing_since = Some(n);
                self.timeline.push(TimelineEvent::BotAudioStarted);
            }
            (false, Some(since)) => {
                self.bot_playing_since = None;
                self.timeline.push(TimelineEvent::BotAudioStopped {
                    played: tick_offset(n.saturating_sub(since)),
                });
            }
            _ => {}
        }
        for name in &tick.echoed {
            if self.echo(name, false).await == Incoming::Closed {
                return (tick.frame, Incoming::Closed);
            }
        }
        (tick.frame, Incoming::Continue)
    }

    /// Sends the caller's frame for tick `n` (media time `n × 20 ms`).
    pub(crate) async fn send_media(&mut self, n: u64, frame: &[u8]) -> Incoming {
        self.chunk += 1;
        let seq = self.next_seq();
        let timestamp = n.saturating_mul(FRAME_DURATION_MS);
        write_inbound_media(
            &mut self.out,
            &MediaMeta {
                sequence_number: seq,
                stream_sid: &self.ids.stream_sid,
                track: "inbound",
                chunk: self.chunk,
                timestamp,
            },
            frame,
        );
        let sent = self.send_out().await;
        if sent == Incoming::Continue {
            self.counters.frames_sent += 1;
        }
        sent
    }

    /// Sends one key press.
    pub(crate) async fn send_dtmf(&mut self, digit: &str) -> Incoming {
        let seq = self.next_seq();
        Dtmf {
            sequence_number: Some(seq),
            stream_sid: Some(Cow::Borrowed(&self.ids.stream_sid)),
            track: Some(Cow::Borrowed("inbound_track")),
            digit: Cow::Borrowed(digit),
        }
        .write_json(&mut self.out);
        let sent = self.send_out().await;
        if sent == Incoming::Continue {
            self.counters.dtmf_sent += 1;
            self.timeline.push(TimelineEvent::DtmfSent {
                digit: digit.to_owned(),
            });
        }
        sent
    }

    /// Ends the stream as Twilio does when the call ends: `stop`, then a close handshake
    /// (bounded). Does nothing to a socket the server already closed.
    pub(crate) async fn stop_and_close(&mut self) {
        if self.server_closed.is_some() {
            return;
        }
        let seq = self.next_seq();
        Stop {
            sequence_number: Some(seq),
            stream_sid: Some(Cow::Borrowed(&self.ids.stream_sid)),
            account_sid: Some(Cow::Borrowed(&self.ids.account_sid)),
            call_sid: Some(Cow::Borrowed(&self.ids.call_sid)),
        }
        .write_json(&mut self.out);
        if self.send_out().await == Incoming::Closed {
            return;
        }
        self.timeline.push(TimelineEvent::StopSent);
        let _ = tokio::time::timeout(SEND_TIMEOUT, self.ws.close(None)).await;
        let drain = async {
            for _ in 0..CLOSE_DRAIN_FRAMES {
                match self.ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
        self.timeline.push(TimelineEvent::SocketClosed);
    }

    /// Whether bot audio is buffered or playing, or marks are pending.
    pub(crate) fn bot_busy(&self) -> bool {
        self.playout.buffered_bytes() > 0
            || self.playout.pending_marks() > 0
            || self.playout.is_playing()
    }
}

const FRAME_DURATION_MS: u64 = 20;

/// Playing time of `bytes` of 8 kHz μ-law.
pub(crate) fn bytes_duration(bytes: usize) -> Duration {
    Duration::from_micros(bytes as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
}

const _: () = assert!(FRAME_BYTES as u64 * 1000 / SAMPLE_RATE as u64 == FRAME_DURATION_MS);
