//! Provider and network faults, one test per fault per provider (ElevenLabs HTTP streaming,
//! ElevenLabs stream-input websocket, Azure REST): the service answering 401, 429 and 500, the
//! audio stalling mid-stream, and a host name that does not resolve.
//!
//! Each test asserts the provider's typed outcome (named in the test), that the failure is
//! reported exactly once (`on_error` and one `TtsError` event) with no closing mark, a generous
//! bound on how long it took (only to prove nothing hangs), and that no task outlives the
//! utterance: the fakes run on a runtime of their own, so the test runtime's alive-task count
//! measures the session and the provider alone, and it must return to its baseline once the
//! provider (and its connection pool) is dropped.
#![cfg(all(feature = "elevenlabs", feature = "azure"))]

mod common;

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use common::{Echo, FakeHttp, Reply, Rig, ServerWs, Step, ws_once, ws_reject};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use vr_session::{SpeakOutcome, TtsError, TtsProvider};
use vr_tts::{AzureTts, AzureTtsConfig, ElevenLabsConfig, ElevenLabsStreamingTts, ElevenLabsTts};

const ELEVENLABS_KEY: &str = "xi-fault-key-0123456789";
const AZURE_KEY: &str = "azure-fault-key-0123456789";
const TEXT: &str = "Hello! How are you today?";

/// Bound on every fault's outcome: generous, only to prove that nothing hangs.
const BOUND: Duration = Duration::from_secs(8);
/// The stall timeout the providers are configured with.
const STALL: Duration = Duration::from_millis(300);
/// The first-byte timeout: long enough never to be the one that fires in a stall test.
const FIRST_BYTE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------
// Fakes on a runtime of their own, and the task count of the test's runtime
// ---------------------------------------------------------------------------------------

/// A second runtime for the fake services: their tasks never count towards the test
/// runtime's alive tasks, which then measure the code under test alone.
struct Background(Option<tokio::runtime::Runtime>);

impl Background {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("background runtime");
        Self(Some(rt))
    }

    async fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self.0.as_ref().expect("background runtime");
        rt.spawn(fut).await.expect("background task")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Tasks alive on the test's runtime.
fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// The task count once the rig's own tasks have started (and its short-lived ones ended).
async fn baseline() -> usize {
    sleep(Duration::from_millis(20)).await;
    alive()
}

/// Waits (bounded) until no more than `baseline` tasks are alive.
async fn assert_no_orphan(baseline: usize) {
    let deadline = Instant::now() + BOUND;
    let mut n = alive();
    while n > baseline && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
        n = alive();
    }
    assert!(
        n <= baseline,
        "{n} tasks alive, {baseline} before the utterance"
    );
}

// ---------------------------------------------------------------------------------------
// The three providers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ElevenLabsHttp,
    ElevenLabsWs,
    Azure,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::ElevenLabsHttp | Kind::ElevenLabsWs => ELEVENLABS_KEY,
            Kind::Azure => AZURE_KEY,
        }
    }

    /// The provider pointed at `base` (`http://127.0.0.1:PORT`, or any other base URL).
    fn provider(self, base: &str) -> Box<dyn TtsProvider> {
        let elevenlabs = || {
            ElevenLabsConfig::new(ELEVENLABS_KEY)
                .base_url(base)
                .voice_id("voice123")
                .first_byte_timeout(FIRST_BYTE)
                .stall_timeout(STALL)
                .mark_timeout(BOUND)
        };
        match self {
            Kind::ElevenLabsHttp => Box::new(ElevenLabsTts::new(elevenlabs()).expect("provider")),
            Kind::ElevenLabsWs => {
                Box::new(ElevenLabsStreamingTts::new(elevenlabs()).expect("provider"))
            }
            Kind::Azure => Box::new(
                AzureTts::new(
                    AzureTtsConfig::new(AZURE_KEY)
                        .endpoint(format!("{base}/cognitiveservices/v1"))
                        .first_byte_timeout(FIRST_BYTE)
                        .stall_timeout(STALL)
                        .mark_timeout(BOUND),
                )
                .expect("provider"),
            ),
        }
    }

    /// A fake answering the request (or the websocket upgrade) with `status` and `body`;
    /// returns its base URL.
    async fn error_service(self, bg: &Background, status: u16, body: &str) -> String {
        let body = body.to_owned();
        match self {
            Kind::ElevenLabsHttp | Kind::Azure => {
                let fake = bg
                    .run(FakeHttp::start(vec![Reply::Fixed(
                        status,
                        body.into_bytes(),
                    )]))
                    .await;
                fake.base()
            }
            Kind::ElevenLabsWs => {
                let (addr, _, _) = bg.run(async move { ws_reject(status, &body).await }).await;
                format!("http://{addr}")
            }
        }
    }

    /// A fake that sends `bytes` of audio, then nothing more while keeping the connection
    /// open; returns its base URL.
    async fn stalling_service(self, bg: &Background, bytes: usize) -> String {
        match self {
            Kind::ElevenLabsHttp | Kind::Azure => {
                let fake = bg
                    .run(FakeHttp::start(vec![Reply::Stream(vec![
                        Step::Chunk(vec![0x55; bytes]),
                        Step::Stall,
                    ])]))
                    .await;
                fake.base()
            }
            Kind::ElevenLabsWs => {
                let (addr, _, _) = bg
                    .run(ws_once(move |mut ws| async move {
                        read_until_end_of_text(&mut ws).await;
                        let audio = json!({
                            "audio": base64::engine::general_purpose::STANDARD
                                .encode(vec![0x55u8; bytes]),
                            "isFinal": null,
                        });
                        ws.send(Message::text(audio.to_string()))
                            .await
                            .expect("send audio");
                        // Silence, with the socket open, until the client gives up.
                        while let Ok(Some(Ok(_))) = timeout(BOUND, ws.next()).await {}
                    }))
                    .await;
                format!("http://{addr}")
            }
        }
    }
}

/// Reads the client's messages up to its end of text (`{"text": ""}`).
async fn read_until_end_of_text(ws: &mut ServerWs) {
    while let Ok(Some(Ok(msg))) = timeout(BOUND, ws.next()).await {
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON from the client");
            if v["text"] == "" {
                return;
            }
        }
    }
    panic!("no end of text from the client");
}

/// Speaks `TEXT`, bounded; returns the outcome and how long it took.
async fn speak(rig: &Rig, tts: &dyn TtsProvider) -> (SpeakOutcome, Duration) {
    let started = Instant::now();
    let out = timeout(BOUND, rig.call.speak(tts, TEXT))
        .await
        .expect("speak returns in time");
    (out, started.elapsed())
}

/// Nothing reaches the transport after the outcome: no more audio, no mark.
async fn nothing_after(rig: &Rig, media: usize) {
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rig.media_frames().len(),
        media,
        "no audio after the failure"
    );
    assert!(rig.marks().is_empty(), "no closing mark after the failure");
}

// ---------------------------------------------------------------------------------------
// 401, 429, 500 → `TtsError::Http { status, body }`, reported once, no audio
// ---------------------------------------------------------------------------------------

/// The error bodies as each service shapes them, and what the provider keeps of them.
fn error_body(kind: Kind, status: u16) -> (&'static str, &'static str) {
    match (kind, status) {
        (Kind::ElevenLabsHttp | Kind::ElevenLabsWs, 401) => (
            r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
            "invalid_api_key: Invalid API key",
        ),
        (Kind::ElevenLabsHttp | Kind::ElevenLabsWs, 429) => (
            r#"{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests"}}"#,
            "too_many_concurrent_requests: Too many concurrent requests",
        ),
        (Kind::Azure, 401) => ("", ""),
        (Kind::Azure, 429) => (
            r#"{"error":{"code":"Throttled","message":"Rate limit is exceeded."}}"#,
            "Throttled: Rate limit is exceeded.",
        ),
        (_, _) => ("upstream exploded", "upstream exploded"),
    }
}

async fn http_status(kind: Kind, status: u16) {
    let bg = Background::new();
    let (body, kept) = error_body(kind, status);
    let base = kind.error_service(&bg, status, body).await;
    let mut rig = Rig::new(Echo::Immediately);
    let baseline = baseline().await;
    let tts = kind.provider(&base);

    let (out, took) = speak(&rig, tts.as_ref()).await;
    assert!(took < BOUND, "{took:?}");
    assert_eq!(
        out.error(),
        Some(&TtsError::Http {
            status,
            body: kept.to_owned()
        }),
        "{kind:?} {status}"
    );
    rig.assert_failed_once(&out).await;
    assert_eq!(out.audio_bytes, 0);
    assert!(rig.media_frames().is_empty(), "no audio sent");
    let reported = &rig.errors()[0];
    assert!(reported.contains(&status.to_string()), "{reported}");
    assert!(!reported.contains(kind.key()), "the key is never reported");
    nothing_after(&rig, 0).await;

    drop(tts);
    assert_no_orphan(baseline).await;
}

macro_rules! status_tests {
    ($($name:ident: $kind:expr, $status:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                http_status($kind, $status).await;
            }
        )*
    };
}

status_tests! {
    elevenlabs_http_401_is_an_http_error: Kind::ElevenLabsHttp, 401;
    elevenlabs_http_429_is_an_http_error: Kind::ElevenLabsHttp, 429;
    elevenlabs_http_500_is_an_http_error: Kind::ElevenLabsHttp, 500;
    elevenlabs_ws_401_upgrade_is_an_http_error: Kind::ElevenLabsWs, 401;
    elevenlabs_ws_429_upgrade_is_an_http_error: Kind::ElevenLabsWs, 429;
    elevenlabs_ws_500_upgrade_is_an_http_error: Kind::ElevenLabsWs, 500;
    azure_401_is_an_http_error: Kind::Azure, 401;
    azure_429_is_an_http_error: Kind::Azure, 429;
    azure_500_is_an_http_error: Kind::Azure, 500;
}

// ---------------------------------------------------------------------------------------
// Stalling mid-stream → `TtsError::Stalled` after the stall timeout; the audio already
// received was played, nothing after it
// ---------------------------------------------------------------------------------------

async fn stall_mid_stream(kind: Kind) {
    let bg = Background::new();
    // 800 bytes: five 20 ms frames.
    let base = kind.stalling_service(&bg, 800).await;
    let mut rig = Rig::new(Echo::Immediately);
    let baseline = baseline().await;
    let tts = kind.provider(&base);

    let (out, took) = speak(&rig, tts.as_ref()).await;
    assert_eq!(out.error(), Some(&TtsError::Stalled), "{kind:?}");
    assert!(
        took >= STALL - Duration::from_millis(50) && took < BOUND,
        "bounded by the {STALL:?} stall timeout: {took:?}"
    );
    assert_eq!(out.audio_bytes, 800);
    assert_eq!(rig.media_frames(), vec![160; 5], "what arrived was played");
    rig.assert_failed_once(&out).await;
    nothing_after(&rig, 5).await;

    drop(tts);
    assert_no_orphan(baseline).await;
}

#[tokio::test]
async fn elevenlabs_http_stall_mid_stream_is_stalled() {
    stall_mid_stream(Kind::ElevenLabsHttp).await;
}

#[tokio::test]
async fn elevenlabs_ws_stall_mid_stream_is_stalled() {
    stall_mid_stream(Kind::ElevenLabsWs).await;
}

#[tokio::test]
async fn azure_stall_mid_stream_is_stalled() {
    stall_mid_stream(Kind::Azure).await;
}

// ---------------------------------------------------------------------------------------
// DNS failure → `TtsError::Connect`, in time
// ---------------------------------------------------------------------------------------

async fn unresolvable_host(kind: Kind) {
    let mut rig = Rig::new(Echo::Immediately);
    let baseline = baseline().await;
    // `.invalid` never resolves (RFC 6761).
    let tts = kind.provider("https://tts.invalid");

    let (out, took) = speak(&rig, tts.as_ref()).await;
    assert!(
        matches!(out.error(), Some(TtsError::Connect(_))),
        "{kind:?}: {:?}",
        out.status
    );
    assert!(took < BOUND, "{took:?}");
    rig.assert_failed_once(&out).await;
    assert!(rig.media_frames().is_empty());
    assert!(!rig.errors()[0].contains(kind.key()));
    nothing_after(&rig, 0).await;

    drop(tts);
    assert_no_orphan(baseline).await;
}

#[tokio::test]
async fn elevenlabs_http_unresolvable_host_is_a_connect_error() {
    unresolvable_host(Kind::ElevenLabsHttp).await;
}

#[tokio::test]
async fn elevenlabs_ws_unresolvable_host_is_a_connect_error() {
    unresolvable_host(Kind::ElevenLabsWs).await;
}

#[tokio::test]
async fn azure_unresolvable_host_is_a_connect_error() {
    unresolvable_host(Kind::Azure).await;
}
