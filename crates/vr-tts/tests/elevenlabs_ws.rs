//! ElevenLabs input streaming (the stream-input websocket) against a local fake service.
#![cfg(feature = "elevenlabs")]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::{BOUND, Echo, Rig, ServerWs, bounded, dead_port, ws_once, ws_reject};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;
use vr_session::{DisconnectReason, MarkOutcome, SpeakStatus, TextStream, TtsError, TtsProvider};
use vr_tts::{ElevenLabsConfig, ElevenLabsStreamingTts, VoiceSettings};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(addr: std::net::SocketAddr) -> ElevenLabsConfig {
    ElevenLabsConfig::new("test-key")
        .base_url(format!("http://{addr}"))
        .voice_id("voice123")
        .first_byte_timeout(ms(500))
        .stall_timeout(ms(300))
        .mark_timeout(BOUND)
}

fn provider(addr: std::net::SocketAddr) -> ElevenLabsStreamingTts {
    ElevenLabsStreamingTts::new(config(addr)).expect("provider")
}

/// A text stream the test feeds piece by piece.
fn text_channel() -> (mpsc::UnboundedSender<String>, TextStream) {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let pieces = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
    (tx, Box::pin(pieces))
}

/// The next JSON text message from the client; `None` once it is gone.
async fn recv_json(ws: &mut ServerWs) -> Option<Value> {
    loop {
        match tokio::time::timeout(BOUND, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) | Err(_) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Reads client messages up to and including the end-of-stream `{"text": ""}`.
async fn recv_until_eos(ws: &mut ServerWs, log: &Mutex<Vec<Value>>) -> bool {
    while let Some(msg) = recv_json(ws).await {
        let eos = msg["text"] == "";
        log.lock().expect("log").push(msg);
        if eos {
            return true;
        }
    }
    false
}

fn audio(bytes: usize, chars: &str) -> Message {
    let chars: Vec<String> = chars.chars().map(String::from).collect();
    let step = (bytes / 8) as u64 / chars.len().max(1) as u64;
    let starts: Vec<u64> = (0..chars.len() as u64).map(|i| i * step).collect();
    let alignment = json!({"chars": chars, "charStartTimesMs": starts, "charDurationsMs": vec![step; chars.len()]});
    let msg = json!({
        "audio": base64::engine::general_purpose::STANDARD.encode(vec![0x55u8; bytes]),
        "isFinal": null,
        "alignment": alignment,
        "normalizedAlignment": alignment,
    });
    Message::text(msg.to_string())
}

fn text(v: &Value) -> &str {
    v["text"].as_str().expect("text field")
}

#[tokio::test]
async fn text_in_pieces_is_heard_before_it_is_complete() {
    let log = Arc::new(Mutex::new(Vec::<Value>::new()));
    let server_log = log.clone();
    let (addr, upgrade, _) = ws_once(move |mut ws| async move {
        // init, then the first whole word.
        for _ in 0..2 {
            let msg = recv_json(&mut ws).await.expect("message");
            server_log.lock().expect("log").push(msg);
        }
        ws.send(audio(800, "Hello ")).await.expect("send");
        assert!(recv_until_eos(&mut ws, &server_log).await, "end of stream");
        ws.send(audio(800, "world. How are you? "))
            .await
            .expect("send");
        ws.send(Message::text(json!({"isFinal": true}).to_string()))
            .await
            .expect("send");
        let _ = ws.close(None).await;
    })
    .await;
    let rig = Rig::new(Echo::Immediately);
    let tts = ElevenLabsStreamingTts::new(
        config(addr)
            .model_id("eleven_flash_v2_5")
            .voice_settings(VoiceSettings::new(0.4, 0.8).speed(1.1))
            .chunk_length_schedule([50, 120, 160])
            .inactivity_timeout(60),
    )
    .expect("provider");
    let (tx, pieces) = text_channel();
    let started = Instant::now();
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move {
            tts.speak_stream(pieces, &call, CancellationToken::new())
                .await
        }
    });
    tx.send("Hel".into()).expect("send");
    tx.send("lo wor".into()).expect("send");
    let first = rig.wait_first_media().await;
    // The caller hears audio while the sentence is still being generated.
    for piece in ["ld. How are", " you?"] {
        tx.send(piece.into()).expect("send");
    }
    drop(tx);
    let out = bounded("speak_stream", speaking).await.expect("join");
    eprintln!(
        "elevenlabs ws: first byte {:?}, first frame {:?} (transport saw it after {:?})",
        out.timings.first_byte,
        out.timings.first_frame,
        first - started
    );
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.text, "Hello world. How are you?");
    assert_eq!(out.heard, out.text);
    assert_eq!(out.mark, Some(MarkOutcome::Played));
    assert_eq!(out.audio_bytes, 1600);
    assert_eq!(rig.media_frames(), vec![160; 10]);
    assert_eq!(rig.marks().len(), 1);

    let up = upgrade.lock().expect("upgrade").clone().expect("upgraded");
    assert_eq!(up.path, "/v1/text-to-speech/voice123/stream-input");
    assert_eq!(
        up.query,
        "model_id=eleven_flash_v2_5&output_format=ulaw_8000&inactivity_timeout=60"
    );
    assert_eq!(up.headers["xi-api-key"], "test-key");

    let log = log.lock().expect("log").clone();
    assert_eq!(log[0]["text"], " ", "the first message is a single space");
    assert_eq!(
        log[0]["generation_config"],
        json!({"chunk_length_schedule": [50, 120, 160]})
    );
    assert_eq!(
        log[0]["voice_settings"]["similarity_boost"]
            .as_f64()
            .map(|v| (v * 10.0).round()),
        Some(8.0)
    );
    assert_eq!(text(&log[1]), "Hello ");
    assert_eq!(log[1]["try_trigger_generation"], false);
    let pieces: Vec<&str> = log[1..log.len() - 1].iter().map(text).collect();
    assert!(
        pieces
            .iter()
            .all(|p| p.ends_with(' ') && !p.trim().is_empty()),
        "{pieces:?}"
    );
    assert_eq!(pieces.concat(), "Hello world. How are you? ");
    assert_eq!(log.last().map(text), Some(""), "end of stream last");
}

#[tokio::test]
async fn speak_is_a_one_piece_stream() {
    let log = Arc::new(Mutex::new(Vec::<Value>::new()));
    let server_log = log.clone();
    let (addr, _, _) = ws_once(move |mut ws| async move {
        assert!(recv_until_eos(&mut ws, &server_log).await);
        for _ in 0..3 {
            ws.send(audio(320, "ab")).await.expect("send");
        }
        // The snake_case spelling of the final flag.
        ws.send(Message::text(r#"{"audio":null,"is_final":true}"#))
            .await
            .expect("send");
    })
    .await;
    let rig = Rig::new(Echo::AfterPlay);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello there")).await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.heard, "Hello there");
    assert_eq!(out.audio_bytes, 960);
    let log = log.lock().expect("log").clone();
    let texts: Vec<&str> = log.iter().map(text).collect();
    assert_eq!(texts, [" ", "Hello there ", ""]);
    assert!(log[0].get("voice_settings").is_none());
    assert_eq!(
        log[0]["generation_config"]["chunk_length_schedule"],
        json!([120, 160, 250, 290])
    );
}

#[tokio::test]
async fn a_refused_upgrade_is_an_http_error_with_the_body() {
    let (addr, upgrade, _) = ws_reject(
        401,
        r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
    )
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert_eq!(
        out.error(),
        Some(&TtsError::Http {
            status: 401,
            body: "invalid_api_key: Invalid API key".into()
        })
    );
    assert!(upgrade.lock().expect("upgrade").is_some());
    rig.assert_failed_once(&out).await;
    assert!(!rig.errors()[0].contains("test-key"));
}

#[tokio::test]
async fn a_service_error_message_is_service_cancelled() {
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(160, "x")).await.expect("send");
        let err = json!({"message": "You have exceeded your quota", "error": "quota_exceeded", "code": 1008});
        ws.send(Message::text(err.to_string())).await.expect("send");
        let _ = recv_json(&mut ws).await;
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    match out.error() {
        Some(TtsError::ServiceCancelled(why)) => {
            assert_eq!(why, "quota_exceeded: You have exceeded your quota");
        }
        other => panic!("expected ServiceCancelled, got {other:?}"),
    }
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn a_service_error_or_close_echoing_the_key_never_carries_it() {
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        let err = json!({"message": "Invalid key test-key", "error": "invalid_api_key"});
        ws.send(Message::text(err.to_string())).await.expect("send");
        let _ = recv_json(&mut ws).await;
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    let why = format!("{:?}", out.error());
    assert!(
        why.contains("invalid_api_key") && !why.contains("test-key"),
        "{why}"
    );
    rig.assert_failed_once(&out).await;
    assert!(!rig.errors()[0].contains("test-key"));

    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        let frame = CloseFrame {
            code: CloseCode::Policy,
            reason: "bad key test-key".into(),
        };
        let _ = ws.close(Some(frame)).await;
    })
    .await;
    let rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    let why = format!("{:?}", out.error());
    assert!(why.contains("1008") && !why.contains("test-key"), "{why}");
}

#[tokio::test]
async fn a_close_or_drop_mid_utterance_is_a_failure() {
    // The service closes with an error code after some audio.
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(320, "ab")).await.expect("send");
        let frame = CloseFrame {
            code: CloseCode::Error,
            reason: "internal".into(),
        };
        let _ = ws.close(Some(frame)).await;
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert!(
        matches!(out.error(), Some(TtsError::ServiceCancelled(w)) if w.contains("1011") && w.contains("internal")),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;

    // The socket just goes away.
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(320, "ab")).await.expect("send");
        drop(ws);
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert!(
        matches!(out.error(), Some(TtsError::StreamBroken(_))),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn silence_after_the_text_is_bounded() {
    // No audio at all after the end of stream: the first-byte timeout.
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        tokio::time::sleep(BOUND).await;
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let started = Instant::now();
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert_eq!(out.error(), Some(&TtsError::FirstByteTimeout));
    assert!(started.elapsed() < ms(2000));
    rig.assert_failed_once(&out).await;

    // Some audio, then nothing: a stall.
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(320, "ab")).await.expect("send");
        tokio::time::sleep(BOUND).await;
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert_eq!(out.error(), Some(&TtsError::Stalled));
    assert_eq!(rig.media_frames().len(), 2);
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn a_final_message_without_audio_is_a_failure() {
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(Message::text(r#"{"isFinal":true}"#))
            .await
            .expect("send");
    })
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert!(
        matches!(out.error(), Some(TtsError::Protocol(_))),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;
}

/// A service that streams 20 ms of audio (one aligned character) every 20 ms until the
/// client goes away, then notifies.
async fn endless(mut ws: ServerWs, text: &'static str, gone: Arc<Notify>) {
    let log = Mutex::new(Vec::new());
    recv_until_eos(&mut ws, &log).await;
    for c in text.chars().cycle() {
        tokio::select! {
            msg = ws.next() => {
                if !matches!(msg, Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_)))) {
                    break;
                }
            }
            _ = tokio::time::sleep(ms(20)) => {
                if ws.send(audio(160, &c.to_string())).await.is_err() {
                    break;
                }
            }
        }
    }
    gone.notify_one();
}

#[tokio::test]
async fn barge_in_mid_stream_drops_the_socket_and_reports_what_was_heard() {
    let text = "one two three four five six seven eight nine ten";
    let gone = Arc::new(Notify::new());
    let (addr, _, _) = ws_once({
        let gone = gone.clone();
        move |ws| endless(ws, text, gone)
    })
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(addr);
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, text).await }
    });
    rig.wait_first_media().await;
    tokio::time::sleep(ms(300)).await;
    let barged = Instant::now();
    rig.call.barge_in().expect("barge in");
    let out = bounded("speak", speaking).await.expect("join");
    let reaction = barged.elapsed();
    eprintln!(
        "elevenlabs ws: barge-in → outcome in {reaction:?}, heard {:?}",
        out.heard
    );
    assert!(reaction < ms(500));
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert!(
        !out.heard.is_empty(),
        "about 300 ms of aligned audio was heard"
    );
    assert!(out.heard.len() < text.len());
    assert!(text.starts_with(&out.heard), "{:?}", out.heard);
    assert!(rig.marks().is_empty());
    bounded("the service to see the socket gone", gone.notified()).await;
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn hang_up_mid_stream_returns_call_disconnected_at_once() {
    let gone = Arc::new(Notify::new());
    let (addr, _, _) = ws_once({
        let gone = gone.clone();
        move |ws| endless(ws, "abc", gone)
    })
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(addr);
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, "Hello there").await }
    });
    rig.wait_first_media().await;
    let hung = Instant::now();
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("speak", speaking).await.expect("join");
    assert!(hung.elapsed() < ms(500));
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    bounded("the service to see the socket gone", gone.notified()).await;
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn no_text_ended_calls_and_early_cancels_open_no_socket() {
    let (addr, _, accepted) = ws_once(|_ws| async {}).await;
    let rig = Rig::new(Echo::Immediately);
    let tts = provider(addr);

    let empty: TextStream = Box::pin(stream::iter(["", "  "].map(String::from)));
    let out = bounded(
        "empty",
        tts.speak_stream(empty, &rig.call, CancellationToken::new()),
    )
    .await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.audio_bytes, 0);

    let (_tx, pieces) = text_channel();
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn({
        let (call, cancel, tts) = (rig.call.clone(), cancel.clone(), tts.clone());
        async move { tts.speak_stream(pieces, &call, cancel).await }
    });
    tokio::time::sleep(ms(50)).await;
    cancel.cancel();
    let out = bounded("cancelled", waiting).await.expect("join");
    assert_eq!(out.status, SpeakStatus::Interrupted);

    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("ended", rig.call.speak(&tts, "Hello")).await;
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    tokio::time::sleep(ms(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let addr = dead_port().await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(addr), "Hello")).await;
    assert!(
        matches!(out.error(), Some(TtsError::Connect(_))),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn barge_in_during_the_mark_wait_reports_the_streamed_text() {
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(1600, "Hello world. How are you? "))
            .await
            .expect("send");
        ws.send(Message::text(r#"{"isFinal":true}"#))
            .await
            .expect("send");
    })
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(addr);
    let pieces: TextStream = Box::pin(stream::iter(
        ["Hello wor", "ld. How are you?"].map(String::from),
    ));
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move {
            tts.speak_stream(pieces, &call, CancellationToken::new())
                .await
        }
    });
    bounded("the closing mark", async {
        while rig.marks().is_empty() {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    tokio::time::sleep(ms(100)).await;
    rig.call.barge_in().expect("barge in");
    let out = bounded("speak_stream", speaking).await.expect("join");
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert_eq!(out.text, "Hello world. How are you?");
    assert!(
        !out.heard.is_empty() && out.heard.len() < out.text.len(),
        "{:?}",
        out.heard
    );
    assert!(out.text.starts_with(&out.heard));
    assert_eq!(out.audio_bytes, 1600);
}

#[tokio::test]
async fn hang_up_during_the_mark_wait_of_a_streamed_text_returns_at_once() {
    let (addr, _, _) = ws_once(|mut ws| async move {
        let log = Mutex::new(Vec::new());
        recv_until_eos(&mut ws, &log).await;
        ws.send(audio(500, "Hi you ")).await.expect("send");
        ws.send(Message::text(r#"{"isFinal":true}"#))
            .await
            .expect("send");
    })
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = ElevenLabsStreamingTts::new(config(addr).mark_timeout(Duration::from_secs(30)))
        .expect("provider");
    let pieces: TextStream = Box::pin(stream::iter(["Hi ", "you"].map(String::from)));
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move {
            tts.speak_stream(pieces, &call, CancellationToken::new())
                .await
        }
    });
    bounded("the closing mark", async {
        while rig.marks().is_empty() {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    let hung = Instant::now();
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("speak_stream", speaking).await.expect("join");
    assert!(hung.elapsed() < ms(500));
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert_eq!(out.text, "Hi you");
    assert_eq!(out.audio_bytes, 640, "500 bytes padded to whole frames");
    assert_eq!(rig.media_frames(), vec![160; 4]);
}

#[tokio::test]
async fn a_slow_text_source_is_kept_alive() {
    let log = Arc::new(Mutex::new(Vec::<Value>::new()));
    let server_log = log.clone();
    let (addr, _, _) = ws_once(move |mut ws| async move {
        assert!(recv_until_eos(&mut ws, &server_log).await);
        ws.send(audio(320, "ab")).await.expect("send");
        ws.send(Message::text(r#"{"isFinal":true}"#))
            .await
            .expect("send");
    })
    .await;
    let rig = Rig::new(Echo::Immediately);
    // inactivity_timeout 1 s → a keep-alive after 0.5 s of no text.
    let tts = ElevenLabsStreamingTts::new(config(addr).inactivity_timeout(1)).expect("provider");
    let (tx, pieces) = text_channel();
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move {
            tts.speak_stream(pieces, &call, CancellationToken::new())
                .await
        }
    });
    tx.send("Hello ".into()).expect("send");
    tokio::time::sleep(ms(700)).await;
    tx.send("there".into()).expect("send");
    drop(tx);
    let out = bounded("speak_stream", speaking).await.expect("join");
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.text, "Hello there");
    let texts: Vec<String> = log
        .lock()
        .expect("log")
        .iter()
        .map(|v| text(v).to_owned())
        .collect();
    assert_eq!(texts, [" ", "Hello ", " ", "there ", ""]);
}
