//! A scripted fake bot server: a tokio-tungstenite server on 127.0.0.1 playing the bot.
#![allow(dead_code, clippy::result_large_err)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use vr_twilio::proto::{Inbound, parse_inbound, write_clear, write_mark, write_media};

/// One message the fake server received, with its arrival time.
#[derive(Debug, Clone)]
pub struct Got {
    pub at: Instant,
    pub json: String,
}

impl Got {
    pub fn parsed(&self) -> Inbound<'_> {
        parse_inbound(&self.json).expect("simulator sent valid Twilio JSON")
    }
}

/// The bot's side of one accepted connection.
pub struct Bot {
    pub ws: WebSocketStream<TcpStream>,
    pub signature: Option<String>,
    pub path: String,
    pub got: Vec<Got>,
    pub stream_sid: String,
}

impl Bot {
    /// Reads until `pred` matches a message (bounded by `timeout`).
    pub async fn read_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Inbound<'_>) -> bool,
    ) -> Option<Got> {
        let deadline = Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            let Ok(Message::Text(text)) = msg else {
                if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                    return None;
                }
                continue;
            };
            let got = Got {
                at: Instant::now(),
                json: text.to_string(),
            };
            self.got.push(got.clone());
            if pred(&got.parsed()) {
                return Some(got);
            }
        }
    }

    /// Reads `connected` and `start`, remembering the stream id.
    pub async fn handshake(&mut self) -> Got {
        let start = self
            .read_until(Duration::from_secs(5), |m| matches!(m, Inbound::Start(_)))
            .await
            .expect("start");
        if let Inbound::Start(s) = start.parsed() {
            self.stream_sid = s.stream_sid.to_string();
        }
        start
    }

    pub async fn send_audio(&mut self, bytes: usize, chunk: usize) {
        let audio = tone(bytes);
        let mut out = String::new();
        for c in audio.chunks(chunk) {
            write_media(&mut out, &self.stream_sid, c);
            self.ws.send(Message::text(out.clone())).await.unwrap();
        }
    }

    pub async fn send_mark(&mut self, name: &str) {
        let mut out = String::new();
        write_mark(&mut out, &self.stream_sid, name);
        self.ws.send(Message::text(out)).await.unwrap();
    }

    pub async fn send_clear(&mut self) {
        let mut out = String::new();
        write_clear(&mut out, &self.stream_sid);
        self.ws.send(Message::text(out)).await.unwrap();
    }

    /// Reads until the socket ends (bounded), collecting messages.
    pub async fn drain(&mut self, timeout: Duration) {
        let _ = self.read_until(timeout, |_| false).await;
    }
}

/// A non-silent μ-law test signal.
pub fn tone(bytes: usize) -> Vec<u8> {
    let pcm: Vec<i16> = (0..bytes)
        .map(|i| ((i as f64 * 0.2).sin() * 6000.0) as i16)
        .collect();
    vr_codec::mulaw::encode_to_vec(&pcm)
}

/// Binds a server; each accepted connection is handed over on the returned channel.
pub async fn serve() -> (String, mpsc::Receiver<Bot>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/voice", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut signature = None;
            let mut path = String::new();
            let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
                signature = req
                    .headers()
                    .get("X-Twilio-Signature")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                path = req.uri().path().to_owned();
                Ok(resp)
            })
            .await;
            if let Ok(ws) = ws {
                let bot = Bot {
                    ws,
                    signature,
                    path,
                    got: Vec::new(),
                    stream_sid: String::new(),
                };
                if tx.send(bot).await.is_err() {
                    break;
                }
            }
        }
    });
    (url, rx)
}
