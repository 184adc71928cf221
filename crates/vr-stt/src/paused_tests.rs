//! Runner tests on tokio's paused clock, over in-memory websockets (no OS sockets, so the
//! clock only moves when every task is idle and the delays measured are exact).

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use vr_session::{SttEvent, SttEventSink, SttProvider, SttSource, audio_channel};

use crate::Backoff;
use crate::elevenlabs::ElevenLabsStt;
use crate::ws::Dialer;

type Servers = mpsc::UnboundedReceiver<DuplexStream>;

fn provider(builder: crate::elevenlabs::ElevenLabsSttBuilder) -> (ElevenLabsStt, Servers) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stt = builder
        .api_key("test-key")
        .backoff(Backoff {
            jitter: 0.0,
            ..Backoff::default()
        })
        .build()
        .expect("valid config")
        .with_dialer(Dialer::Memory(tx));
    (stt, rx)
}

async fn accept(stream: DuplexStream) -> WebSocketStream<DuplexStream> {
    let check = |req: &Request, resp: Response| {
        assert_eq!(
            req.headers()
                .get("xi-api-key")
                .and_then(|v| v.to_str().ok()),
            Some("test-key")
        );
        assert!(req.uri().path().ends_with("/v1/speech-to-text/realtime"));
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(stream, check)
        .await
        .expect("handshake")
}

fn near(actual: Duration, expected: Duration) -> bool {
    let diff = actual.abs_diff(expected);
    diff <= Duration::from_millis(20)
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_are_one_two_four_seconds_then_exhaustion() {
    let (mut stt, mut servers) = provider(ElevenLabsStt::builder());
    let (_audio_tx, audio_rx) = audio_channel(500);
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    let server = tokio::spawn(async move {
        let first = servers.recv().await.expect("first dial");
        let ws = accept(first).await;
        sleep(Duration::from_secs(5)).await;
        drop(ws);
        let dropped_at = Instant::now();
        let mut dials = Vec::new();
        while dials.len() < 3 {
            let Some(stream) = servers.recv().await else {
                break;
            };
            dials.push(Instant::now());
            drop(stream); // refuse: the handshake fails
        }
        // No fourth attempt.
        let extra = timeout(Duration::from_secs(120), servers.recv()).await;
        (dropped_at, dials, extra.ok().flatten().is_some())
    });
    stt.start(audio_rx, sink).await.expect("start");
    let (dropped_at, dials, fourth) = timeout(Duration::from_secs(300), server)
        .await
        .expect("server in time")
        .expect("server task");
    assert_eq!(dials.len(), 3);
    assert!(!fourth, "no attempt after the third");
    let gaps = [
        dials[0] - dropped_at,
        dials[1] - dials[0],
        dials[2] - dials[1],
    ];
    for (gap, want) in gaps.iter().zip([1, 2, 4]) {
        assert!(near(*gap, Duration::from_secs(want)), "gaps {gaps:?}");
    }
    let event = timeout(Duration::from_secs(1), events.recv())
        .await
        .expect("event in time")
        .map(|e| e.event);
    assert_eq!(
        event,
        Some(SttEvent::Error(
            "reconnect_exhausted_after_3_attempts".into()
        ))
    );
    assert!(events.try_recv().is_err(), "reported exactly once");
    assert_eq!(stt.stats().running_tasks, 0, "the task ended itself");
    stt.stop().await;
}

#[tokio::test(start_paused = true)]
async fn speaking_longer_than_ten_seconds_refreshes_without_backoff() {
    let (mut stt, mut servers) = provider(ElevenLabsStt::builder());
    let (audio_tx, audio_rx) = audio_channel(500);
    let (sink, _events) = SttEventSink::channel(SttSource::Primary);
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<(usize, String)>();
    let server = tokio::spawn(async move {
        let mut conns = Vec::new();
        let mut n = 0;
        while let Some(stream) = servers.recv().await {
            let mut ws = accept(stream).await;
            let tx = frames_tx.clone();
            let conn = n;
            n += 1;
            conns.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(text) = msg {
                        let _ = tx.send((conn, text.as_str().to_owned()));
                    }
                }
            }));
        }
    });
    stt.start(audio_rx, sink).await.expect("start");

    // Exactly 10.0 s does not refresh (strictly greater, B56).
    stt.set_speaking(true);
    sleep(Duration::from_secs(10)).await;
    stt.set_speaking(false);
    sleep(Duration::from_secs(3)).await;
    assert_eq!(stt.stats().connections, 1);

    // 11 s does, at once (no backoff), and audio keeps flowing to the new socket.
    stt.set_speaking(true);
    sleep(Duration::from_secs(11)).await;
    let before = Instant::now();
    stt.set_speaking(false);
    for i in 0..10u8 {
        audio_tx.push(Bytes::from(vec![i; 160]));
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stt.stats().connections, 2);
    assert!(Instant::now() - before < Duration::from_millis(500));
    let mut seen = Vec::new();
    while let Ok(Some((conn, text))) = timeout(Duration::from_secs(1), frames.recv()).await {
        seen.push((conn, text));
        if seen.len() == 10 {
            break;
        }
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(
        seen.iter().all(|(conn, _)| *conn == 1),
        "all on the new socket: {seen:?}"
    );
    stt.stop().await;
    assert_eq!(stt.stats().running_tasks, 0);
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn held_audio_is_replayed_in_order_at_most_four_times_real_time() {
    let (mut stt, mut servers) = provider(ElevenLabsStt::builder());
    let (audio_tx, audio_rx) = audio_channel(500);
    let (sink, _events) = SttEventSink::channel(SttSource::Primary);
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<(Instant, u8)>();
    let server = tokio::spawn(async move {
        // First connection: dropped at once.
        let first = servers.recv().await.expect("dial");
        drop(accept(first).await);
        // Second: record every frame's arrival.
        let second = servers.recv().await.expect("redial");
        let mut ws = accept(second).await;
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).expect("json");
            let b64 = v["audio_base_64"].as_str().unwrap_or_default();
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            if let Some(&n) = bytes.first() {
                let _ = frames_tx.send((Instant::now(), n));
            }
        }
    });
    stt.start(audio_rx, sink).await.expect("start");
    // 40 frames (0.8 s of audio) arrive in real time during the ~1 s backoff.
    for i in 0..40u8 {
        audio_tx.push(Bytes::from(vec![i; 160]));
        sleep(Duration::from_millis(20)).await;
    }
    let mut got = Vec::new();
    while let Ok(Some(f)) = timeout(Duration::from_secs(2), frames.recv()).await {
        got.push(f);
        if got.len() == 40 {
            break;
        }
    }
    let numbers: Vec<u8> = got.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        numbers,
        (0..40).collect::<Vec<u8>>(),
        "every frame, in order"
    );
    // The backlog left at one frame per 5 ms at most.
    for pair in got.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_millis(5), "paced");
    }
    assert_eq!(stt.stats().reconnects, 1);
    stt.stop().await;
    assert_eq!(stt.stats().running_tasks, 0);
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn holding_buffer_overflow_drops_the_oldest_and_is_reported_once() {
    let (mut stt, mut servers) = provider(ElevenLabsStt::builder().feed(crate::FeedOptions {
        hold_frames: 10,
        replay_speedup: 4,
    }));
    let (audio_tx, audio_rx) = audio_channel(500);
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<u8>();
    let server = tokio::spawn(async move {
        let first = servers.recv().await.expect("dial");
        drop(accept(first).await);
        let second = servers.recv().await.expect("redial");
        let mut ws = accept(second).await;
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).expect("json");
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v["audio_base_64"].as_str().unwrap_or_default())
                .unwrap_or_default();
            if let Some(&n) = bytes.first() {
                let _ = frames_tx.send(n);
            }
        }
    });
    stt.start(audio_rx, sink).await.expect("start");
    // 30 frames in 0.6 s, all during the 1 s backoff: 20 are dropped.
    for i in 0..30u8 {
        audio_tx.push(Bytes::from(vec![i; 160]));
        sleep(Duration::from_millis(20)).await;
    }
    let mut got = Vec::new();
    while let Ok(Some(n)) = timeout(Duration::from_secs(2), frames.recv()).await {
        got.push(n);
        if got.len() == 10 {
            break;
        }
    }
    assert_eq!(
        got,
        (20..30).collect::<Vec<u8>>(),
        "the newest 10, in order"
    );
    let event = timeout(Duration::from_secs(1), events.recv())
        .await
        .expect("event")
        .map(|e| e.event);
    assert_eq!(event, Some(SttEvent::Error("audio_buffer_overflow".into())));
    assert!(events.try_recv().is_err(), "reported once");
    assert_eq!(stt.stats().frames_dropped, 20);
    stt.stop().await;
    server.abort();
}
