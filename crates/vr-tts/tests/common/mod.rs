//! Shared test rig: a session with a fake Twilio transport, and fake HTTP / websocket
//! services on 127.0.0.1.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as WsRequest, Response as WsResponse,
};
use vr_session::{
    CallHandle, CallInfo, Outbound, SessionEvent, SpeakOutcome, TransportLink, VoiceSession,
};

/// Upper bound on any single wait in these tests.
pub const BOUND: Duration = Duration::from_secs(5);

/// Awaits `fut`, failing the test after [`BOUND`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(BOUND, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// How the fake transport answers marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Echo at once (fast tests).
    Immediately,
    /// Echo once the audio before it would have played (8,000 bytes a second), like Twilio.
    AfterPlay,
    /// Never echo (Twilio still playing, or a lost mark).
    Never,
}

/// One call on a session, attached to a fake Twilio transport.
pub struct Rig {
    pub session: VoiceSession,
    pub call: CallHandle,
    pub link: Arc<TransportLink>,
    /// Everything the transport took, with when it took it.
    pub seen: Arc<Mutex<Vec<(Instant, Outbound)>>>,
    /// Becomes true when the first media frame reaches the transport.
    pub first_media: watch::Receiver<bool>,
    /// `on_error` texts.
    pub errors: Arc<Mutex<Vec<String>>>,
    /// The call's events from the start.
    pub events: vr_session::EventStream,
}

impl Rig {
    pub fn new(echo: Echo) -> Self {
        let session = VoiceSession::new();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        session.on_error(move |e| sink.lock().expect("errors").push(e.to_owned()));
        let call = session.call();
        let events = call.events();
        let link = Arc::new(
            session
                .attach(CallInfo {
                    stream_sid: "MZ00000000000000000000000000000000".into(),
                    call_sid: Some("CA00000000000000000000000000000000".into()),
                    ..Default::default()
                })
                .expect("attach"),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (first_tx, first_media) = watch::channel(false);
        tokio::spawn(pump(link.clone(), seen.clone(), first_tx, echo));
        Self {
            session,
            call,
            link,
            seen,
            first_media,
            errors,
            events,
        }
    }

    /// Waits until the first media frame reached the transport; returns when.
    pub async fn wait_first_media(&self) -> Instant {
        let mut rx = self.first_media.clone();
        bounded("the first frame at the transport", rx.wait_for(|v| *v))
            .await
            .expect("transport alive");
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .find(|(_, o)| matches!(o, Outbound::Media(_)))
            .map(|(t, _)| *t)
            .expect("a media frame")
    }

    pub fn media_frames(&self) -> Vec<usize> {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter_map(|(_, o)| match o {
                Outbound::Media(b) => Some(b.len()),
                _ => None,
            })
            .collect()
    }

    pub fn media_bytes(&self) -> Vec<u8> {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter_map(|(_, o)| match o {
                Outbound::Media(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn marks(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter_map(|(_, o)| match o {
                Outbound::Mark(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn clears(&self) -> usize {
        self.seen
            .lock()
            .expect("seen")
            .iter()
            .filter(|(_, o)| matches!(o, Outbound::Clear))
            .count()
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().expect("errors").clone()
    }

    /// The `TtsError` events emitted so far (drains what is buffered).
    pub async fn tts_error_events(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Some(ev)) = self.events.next_timeout(Duration::from_millis(50)).await {
            if let SessionEvent::TtsError(e) = ev {
                out.push(e);
            }
        }
        out
    }

    /// Checks the failure contract: exactly one `on_error` and one event, no closing mark.
    pub async fn assert_failed_once(&mut self, out: &SpeakOutcome) {
        assert!(
            out.error().is_some(),
            "expected a failure, got {:?}",
            out.status
        );
        assert_eq!(
            self.errors().len(),
            1,
            "on_error fires exactly once: {:?}",
            self.errors()
        );
        assert_eq!(self.tts_error_events().await.len(), 1, "one TtsError event");
        assert!(self.marks().is_empty(), "no closing mark after a failure");
        assert_eq!(out.mark, None);
    }
}

async fn pump(
    link: Arc<TransportLink>,
    seen: Arc<Mutex<Vec<(Instant, Outbound)>>>,
    first: watch::Sender<bool>,
    echo: Echo,
) {
    let mut play_end = Instant::now();
    while let Some(item) = link.next_outbound().await {
        let now = Instant::now();
        match &item {
            Outbound::Media(audio) => {
                play_end = play_end.max(now) + Duration::from_micros(audio.len() as u64 * 125);
                first.send_replace(true);
            }
            Outbound::Clear => play_end = now,
            Outbound::Mark(name) => match echo {
                Echo::Immediately => link.mark_echoed(name),
                Echo::AfterPlay => {
                    let (link, name) = (link.clone(), name.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep_until(play_end).await;
                        link.mark_echoed(&name);
                    });
                }
                Echo::Never => {}
            },
            Outbound::Hangup => {}
        }
        seen.lock().expect("seen").push((now, item));
    }
}

/// A port nothing listens on.
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

// ---------------------------------------------------------------------------------------
// Fake HTTP service
// ---------------------------------------------------------------------------------------

/// What the fake HTTP service received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// One step of a streamed response body.
pub enum Step {
    /// Send these bytes as one chunk.
    Chunk(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Wait until the test fires the sender.
    WaitFor(oneshot::Receiver<()>),
    /// Break the connection mid-body.
    Break,
    /// Send nothing more, ever (a stall).
    Stall,
    /// Send `bytes` of audio every `every`, forever.
    Forever { bytes: usize, every: Duration },
}

/// How the fake answers.
pub enum Reply {
    /// A status with a body (an error, or a 200 with a fixed body).
    Fixed(u16, Vec<u8>),
    /// 200 with a streamed body following the steps.
    Stream(Vec<Step>),
    /// Never answer (no headers).
    Hang,
}

/// A fake HTTP service answering every request with the next reply.
pub struct FakeHttp {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// Notified when a streamed body is dropped before its end (the client went away).
    pub dropped: Arc<Notify>,
    /// How many streamed bodies finished all their steps.
    pub finished: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct HttpState {
    replies: Arc<Mutex<Vec<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    dropped: Arc<Notify>,
    finished: Arc<AtomicUsize>,
}

impl FakeHttp {
    /// Starts a fake whose n-th request gets the n-th reply (the last one repeats as `Fixed`
    /// 500 once they run out).
    pub async fn start(replies: Vec<Reply>) -> Self {
        let state = HttpState {
            replies: Arc::new(Mutex::new(replies.into_iter().rev().collect())),
            requests: Arc::new(Mutex::new(Vec::new())),
            dropped: Arc::new(Notify::new()),
            finished: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            requests: state.requests,
            dropped: state.dropped,
            finished: state.finished,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests").clone()
    }

    /// Waits until a streamed body was dropped by the client.
    pub async fn wait_dropped(&self) {
        bounded(
            "the server to see the connection dropped",
            self.dropped.notified(),
        )
        .await;
    }
}

async fn handle(State(state): State<HttpState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    state.requests.lock().expect("requests").push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body: body.to_vec(),
    });
    let reply = state
        .replies
        .lock()
        .expect("replies")
        .pop()
        .unwrap_or(Reply::Fixed(500, b"no more replies".to_vec()));
    match reply {
        Reply::Fixed(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response(),
        Reply::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Reply::Stream(steps) => {
            let guard = DropGuard {
                dropped: state.dropped.clone(),
                done: false,
            };
            let body = stream::unfold(
                (steps.into_iter(), guard, None::<(usize, Duration)>),
                |(mut steps, mut guard, forever)| async move {
                    if let Some((bytes, every)) = forever {
                        tokio::time::sleep(every).await;
                        let chunk = Ok::<_, std::io::Error>(Bytes::from(vec![0x55; bytes]));
                        return Some((chunk, (steps, guard, forever)));
                    }
                    loop {
                        match steps.next() {
                            None => {
                                guard.disarm();
                                return None;
                            }
                            Some(Step::Chunk(bytes)) => {
                                return Some((Ok(Bytes::from(bytes)), (steps, guard, None)));
                            }
                            Some(Step::Sleep(d)) => tokio::time::sleep(d).await,
                            Some(Step::WaitFor(rx)) => {
                                let _ = rx.await;
                            }
                            Some(Step::Break) => {
                                return Some((
                                    Err(std::io::Error::other("broken on purpose")),
                                    (steps, guard, None),
                                ));
                            }
                            Some(Step::Stall) => std::future::pending::<()>().await,
                            Some(Step::Forever { bytes, every }) => {
                                let chunk = Ok(Bytes::from(vec![0x55; bytes]));
                                return Some((chunk, (steps, guard, Some((bytes, every)))));
                            }
                        }
                    }
                },
            );
            let finished = state.finished.clone();
            let body = futures_util::StreamExt::chain(
                body,
                stream::poll_fn(move |_| {
                    finished.fetch_add(1, Ordering::SeqCst);
                    std::task::Poll::Ready(None)
                }),
            );
            Response::new(Body::from_stream(body))
        }
    }
}

struct DropGuard {
    dropped: Arc<Notify>,
    done: bool,
}

impl DropGuard {
    fn disarm(&mut self) {
        self.done = true;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.done {
            self.dropped.notify_one();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fake websocket service
// ---------------------------------------------------------------------------------------

/// What the websocket fake saw of the upgrade request.
#[derive(Debug, Clone)]
pub struct Upgrade {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
}

pub type ServerWs = WebSocketStream<TcpStream>;

/// A fake websocket service for one connection: runs `script` on it once upgraded.
/// Returns the address, the recorded upgrade and a count of accepted TCP connections.
pub async fn ws_once<F, Fut>(
    script: F,
) -> (SocketAddr, Arc<Mutex<Option<Upgrade>>>, Arc<AtomicUsize>)
where
    F: FnOnce(ServerWs) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    ws_serve(script, None).await
}

/// A fake that refuses the upgrade with `status` and `body`.
pub async fn ws_reject(
    status: u16,
    body: &str,
) -> (SocketAddr, Arc<Mutex<Option<Upgrade>>>, Arc<AtomicUsize>) {
    ws_serve(|_ws| async {}, Some((status, body.to_owned()))).await
}

// The handshake callback's error type is tungstenite's, large by design.
#[allow(clippy::result_large_err)]
async fn ws_serve<F, Fut>(
    script: F,
    reject: Option<(u16, String)>,
) -> (SocketAddr, Arc<Mutex<Option<Upgrade>>>, Arc<AtomicUsize>)
where
    F: FnOnce(ServerWs) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let upgrade = Arc::new(Mutex::new(None));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (seen, count) = (upgrade.clone(), accepted.clone());
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        count.fetch_add(1, Ordering::SeqCst);
        let callback =
            move |req: &WsRequest, resp: WsResponse| -> Result<WsResponse, ErrorResponse> {
                *seen.lock().expect("upgrade") = Some(Upgrade {
                    path: req.uri().path().to_owned(),
                    query: req.uri().query().unwrap_or_default().to_owned(),
                    headers: req.headers().clone(),
                });
                match reject {
                    Some((status, body)) => {
                        let mut err = ErrorResponse::new(Some(body));
                        *err.status_mut() =
                            StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
                        Err(err)
                    }
                    None => Ok(resp),
                }
            };
        if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await {
            script(ws).await;
        }
    });
    (addr, upgrade, accepted)
}
