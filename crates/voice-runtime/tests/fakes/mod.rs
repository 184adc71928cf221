//! Local fakes of the services a call reaches, on 127.0.0.1: ElevenLabs (Scribe realtime
//! speech-to-text over a websocket, HTTP streaming text-to-speech; one server for both, as
//! `ELEVENLABS_BASE_URL` serves both) and Twilio's REST API (the hang-up). They follow
//! `shared/protocols/elevenlabs.md` and record everything they were sent, so a test can check
//! what the runtime asked for; anything off the protocol is recorded as a violation.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

mod stt;
mod tts;
pub mod twilio_rest;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Generous bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// How the fake ElevenLabs service behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The only `xi-api-key` accepted.
    pub api_key: String,
    /// Texts committed, in order, one at the end of each speech segment of the caller's audio
    /// (energy voice-activity detection on the received μ-law), across connections.
    pub commits: Vec<String>,
    /// Also send a `partial_transcript` (the first word of the next commit) when speech starts.
    pub partials: bool,
    /// Milliseconds of synthesised audio per character of text.
    pub tts_ms_per_char: u32,
    /// The first text-to-speech request is answered with this status and an ElevenLabs error
    /// body whose message echoes the API key.
    pub tts_fail_first: Option<u16>,
    /// The first speech-to-text connection gets `session_started`, then an `auth_error`
    /// whose text echoes the API key, then a close.
    pub stt_auth_error_first: bool,
}

impl Behaviour {
    /// Accepts `api_key`, commits nothing on its own, 20 ms of audio per character.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            commits: Vec::new(),
            partials: false,
            tts_ms_per_char: 20,
            tts_fail_first: None,
            stt_auth_error_first: false,
        }
    }
}

/// One text-to-speech request.
#[derive(Debug, Clone)]
pub struct TtsRequest {
    /// `{voice_id}` of the path.
    pub voice_id: String,
    /// `text` of the body.
    pub text: String,
    /// `model_id` of the body.
    pub model_id: Option<String>,
    /// The status answered.
    pub status: u16,
    /// Audio bytes sent in the body.
    pub audio_bytes: usize,
    /// Whether the whole body was handed to the connection.
    pub finished: bool,
}

/// One speech-to-text connection.
#[derive(Debug, Clone, Default)]
pub struct SttConnection {
    /// The upgrade's query parameters.
    pub query: Vec<(String, String)>,
    /// `input_audio_chunk` messages received.
    pub chunks: usize,
    /// Audio bytes received (base64-decoded).
    pub audio_bytes: usize,
    /// Chunks with `commit: true`.
    pub commits_received: usize,
    /// Speech segments detected in the audio.
    pub segments: usize,
    /// Whether `session_started` went out (from then on, pushed transcripts reach it).
    pub started: bool,
    /// Server messages sent after `session_started`, as JSON text.
    pub sent: Vec<String>,
    /// Whether the connection has ended.
    pub closed: bool,
}

impl SttConnection {
    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything the fake saw.
#[derive(Debug, Default)]
pub struct Log {
    /// Text-to-speech requests, in arrival order.
    pub tts: Vec<TtsRequest>,
    /// Speech-to-text connections, in arrival order.
    pub stt: Vec<SttConnection>,
    /// Requests refused for a missing or wrong key.
    pub auth_failures: usize,
    /// What the runtime sent that the protocol does not allow.
    pub violations: Vec<String>,
}

impl Log {
    /// The texts asked for, in order.
    pub fn tts_texts(&self) -> Vec<String> {
        self.tts.iter().map(|r| r.text.clone()).collect()
    }
}

pub(crate) struct Shared {
    behaviour: Behaviour,
    log: Mutex<Log>,
    commits: Mutex<VecDeque<String>>,
    push: broadcast::Sender<String>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn violation(&self, what: impl Into<String>) {
        self.log().violations.push(what.into());
    }

    fn key_ok(&self, headers: &axum::http::HeaderMap) -> bool {
        let ok = headers
            .get("xi-api-key")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.behaviour.api_key);
        if !ok {
            self.log().auth_failures += 1;
        }
        ok
    }

    fn next_commit(&self) -> Option<String> {
        self.commits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    fn peek_commit(&self) -> Option<String> {
        self.commits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .front()
            .cloned()
    }
}

/// The fake ElevenLabs service.
pub struct FakeElevenLabs {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeElevenLabs {
    /// Serves `behaviour` on 127.0.0.1 (a free port).
    pub async fn start(behaviour: Behaviour) -> Self {
        let (push, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            commits: Mutex::new(behaviour.commits.iter().cloned().collect()),
            behaviour,
            log: Mutex::new(Log::default()),
            push,
        });
        let router = Router::new()
            .route("/v1/speech-to-text/realtime", get(stt::upgrade))
            .route("/v1/text-to-speech/{voice_id}/stream", post(tts::stream))
            .with_state(shared.clone());
        let (addr, task) = serve_on_loopback(router, "the fake ElevenLabs").await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`, for `ELEVENLABS_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the fake saw so far.
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.shared.log()
    }

    /// Sends `{"message_type":"partial_transcript","text":…}` on every live STT connection;
    /// returns how many connections it went to.
    pub fn stt_partial(&self, text: &str) -> usize {
        self.stt_push(serde_json::json!({"message_type": "partial_transcript", "text": text}))
    }

    /// Sends `{"message_type":"committed_transcript","text":…}` on every live STT connection.
    pub fn stt_committed(&self, text: &str) -> usize {
        self.stt_push(serde_json::json!({"message_type": "committed_transcript", "text": text}))
    }

    fn stt_push(&self, message: serde_json::Value) -> usize {
        self.shared.push.send(message.to_string()).unwrap_or(0)
    }

    /// Waits (polling, at most [`WAIT`]) until `cond` holds of the log; false on timeout.
    pub async fn wait_for(&self, mut cond: impl FnMut(&Log) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if cond(&self.log()) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeElevenLabs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `needles` appear in `haystack` in this order (others may come between).
pub fn in_order(haystack: &[String], needles: &[&str]) -> bool {
    let mut it = haystack.iter();
    needles.iter().all(|n| it.any(|h| h == n))
}

/// Serves `router` on a free loopback port; the task ends when it is aborted.
pub async fn serve_on_loopback(router: Router, what: &str) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind {what}: {e}"));
    let addr = listener.local_addr().expect("local address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}
