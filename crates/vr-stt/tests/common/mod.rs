//! Fake provider servers on 127.0.0.1 for the integration tests: a TCP listener whose every
//! connection follows a per-connection plan (accept the websocket, refuse the upgrade with an
//! HTTP status, drop the TCP connection, or hang), and hands accepted sockets with what the
//! client sent in its upgrade request to the test, which then plays the service's side.
#![allow(dead_code, clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use vr_session::{SourcedSttEvent, SttEvent};

/// Generous bound on every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// What the fake does with one incoming connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Complete the websocket handshake and hand the socket to the test.
    Accept,
    /// Answer the upgrade with this HTTP status.
    Reject(u16),
    /// Close the TCP connection at once.
    Drop,
    /// Keep the TCP connection open and never answer.
    Hang,
    /// Complete the websocket handshake, then stop listening: every later connection is
    /// refused by the operating system (a server that will not take the client back).
    AcceptThenClose,
}

/// What the client sent in its upgrade request.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: BTreeMap<String, String>,
}

impl Upgrade {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// An accepted websocket.
pub struct Conn {
    pub index: usize,
    pub upgrade: Upgrade,
    pub ws: WebSocketStream<TcpStream>,
}

impl Conn {
    /// Next message (pings, pongs skipped), bounded by [`WAIT`]; `None` at the end.
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(m))) => return Some(m),
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("no message from the client within {WAIT:?}"),
            }
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        let _ = self.ws.send(Message::text(text)).await;
    }
}

/// A fake server.
pub struct Fake {
    pub addr: SocketAddr,
    /// TCP connections accepted so far (every attempt, whatever its plan).
    pub attempts: Arc<AtomicUsize>,
    conns: mpsc::UnboundedReceiver<Conn>,
    task: JoinHandle<()>,
}

impl Fake {
    /// Listens on 127.0.0.1; connection `i` follows `plan(i)`.
    pub async fn start(plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener, plan)
    }

    /// Serves on an existing listener (e.g. one with special socket options); connection `i`
    /// follows `plan(i)`.
    pub fn start_on(
        listener: TcpListener,
        plan: impl Fn(usize) -> Plan + Send + Sync + 'static,
    ) -> Self {
        let addr = listener.local_addr().expect("addr");
        let attempts = Arc::new(AtomicUsize::new(0));
        let (tx, conns) = mpsc::unbounded_channel();
        let count = attempts.clone();
        let task = tokio::spawn(async move {
            let mut hung = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let index = count.fetch_add(1, Ordering::SeqCst);
                match plan(index) {
                    Plan::Drop => drop(stream),
                    Plan::Hang => hung.push(stream),
                    Plan::Reject(status) => {
                        tokio::spawn(async move {
                            let reject = move |_: &Request, _: Response| -> Result<Response, ErrorResponse> {
                                let mut resp = ErrorResponse::new(Some("rejected".into()));
                                *resp.status_mut() =
                                    http::StatusCode::from_u16(status).expect("status");
                                Err(resp)
                            };
                            let _ = tokio_tungstenite::accept_hdr_async(stream, reject).await;
                        });
                    }
                    plan @ (Plan::Accept | Plan::AcceptThenClose) => {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            let mut upgrade = Upgrade::default();
                            let record = |req: &Request, resp: Response| {
                                upgrade.path = req.uri().path().to_owned();
                                let url = url_of(req);
                                upgrade.query = url
                                    .query_pairs()
                                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                    .collect();
                                for (name, value) in req.headers() {
                                    upgrade.headers.insert(
                                        name.as_str().to_ascii_lowercase(),
                                        value.to_str().unwrap_or_default().to_owned(),
                                    );
                                }
                                Ok(resp)
                            };
                            if let Ok(ws) =
                                tokio_tungstenite::accept_hdr_async(stream, record).await
                            {
                                let _ = tx.send(Conn { index, upgrade, ws });
                            }
                        });
                        if plan == Plan::AcceptThenClose {
                            // Dropping the listener: later connects are refused.
                            return;
                        }
                    }
                }
            }
        });
        Self {
            addr,
            attempts,
            conns,
            task,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The next accepted connection.
    pub async fn conn(&mut self) -> Conn {
        tokio::time::timeout(WAIT, self.conns.recv())
            .await
            .expect("a connection in time")
            .expect("fake server alive")
    }

    /// Whether another connection is accepted within `within`.
    pub async fn conn_within(&mut self, within: Duration) -> Option<Conn> {
        tokio::time::timeout(within, self.conns.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn url_of(req: &Request) -> url::Url {
    url::Url::parse(&format!("ws://localhost{}", req.uri())).expect("request uri")
}

/// Next event, bounded by [`WAIT`].
pub async fn next_event(rx: &mut mpsc::Receiver<SourcedSttEvent>) -> SttEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("sink open")
        .event
}

/// Whether any event arrives within `within`.
pub async fn event_within(
    rx: &mut mpsc::Receiver<SourcedSttEvent>,
    within: Duration,
) -> Option<SttEvent> {
    tokio::time::timeout(within, rx.recv())
        .await
        .ok()
        .flatten()
        .map(|e| e.event)
}

/// Waits until `cond` holds, polling every 10 ms, at most [`WAIT`].
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// A quick backoff for real-socket tests: 50, 100, 200 ms without jitter.
pub fn quick_backoff() -> vr_stt::Backoff {
    vr_stt::Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_secs(1),
        jitter: 0.0,
        max_attempts: 3,
    }
}

/// A 160-byte μ-law frame carrying its number in the first four bytes (big-endian).
pub fn numbered_frame(n: u32) -> bytes::Bytes {
    let mut f = vec![0xFFu8; 160];
    f[..4].copy_from_slice(&n.to_be_bytes());
    bytes::Bytes::from(f)
}
