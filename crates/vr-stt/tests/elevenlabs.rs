//! ElevenLabs Scribe realtime against a local fake server that follows the protocol notes
//! (§4): URL query and `xi-api-key` header checked, `input_audio_chunk` checked field by field.
#![cfg(feature = "elevenlabs")]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::{
    Conn, Fake, Plan, event_within, eventually, next_event, numbered_frame, quick_backoff,
};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use vr_session::{
    AudioSender, SourcedSttEvent, SttError, SttEvent, SttEventSink, SttProvider, SttSource,
    audio_channel,
};
use vr_stt::elevenlabs::{ElevenLabsStt, ElevenLabsSttBuilder};

const KEY: &str = "sk_test_0123456789abcdef";

fn builder(fake: &Fake) -> ElevenLabsSttBuilder {
    ElevenLabsStt::builder()
        .api_key(KEY)
        .base_url(fake.base())
        .backoff(quick_backoff())
        .connect_timeout(Duration::from_secs(2))
}

async fn started(
    builder: ElevenLabsSttBuilder,
) -> (
    ElevenLabsStt,
    AudioSender,
    tokio::sync::mpsc::Receiver<SourcedSttEvent>,
) {
    let mut stt = builder.build().expect("valid config");
    let (audio_tx, audio_rx) = audio_channel(500);
    let (sink, events) = SttEventSink::channel(SttSource::Primary);
    timeout(Duration::from_secs(5), stt.start(audio_rx, sink))
        .await
        .expect("start in time")
        .expect("start");
    (stt, audio_tx, events)
}

/// The audio of an `input_audio_chunk`, checking every field (§4.2); `None` for other messages.
fn audio_of(msg: &Message) -> Option<(Vec<u8>, bool)> {
    let Message::Text(text) = msg else {
        return None;
    };
    let v: Value = serde_json::from_str(text.as_str()).expect("client sends JSON");
    let obj = v.as_object().expect("an object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["message_type", "audio_base_64", "commit", "sample_rate"])
    );
    assert_eq!(v["message_type"], "input_audio_chunk");
    assert_eq!(v["sample_rate"], 8000);
    let audio = base64::engine::general_purpose::STANDARD
        .decode(v["audio_base_64"].as_str().expect("base64 string"))
        .expect("valid base64");
    Some((audio, v["commit"].as_bool().expect("commit bool")))
}

fn frame_number(audio: &[u8]) -> u32 {
    u32::from_be_bytes([audio[0], audio[1], audio[2], audio[3]])
}

async fn session_started(conn: &mut Conn) {
    conn.send_text(
        json!({"message_type": "session_started", "session_id": "c1f71df8",
               "config": {"sample_rate": 8000, "audio_format": "ulaw_8000"}})
        .to_string(),
    )
    .await;
}

#[tokio::test]
async fn partials_and_commits_arrive_in_order_and_stop_closes_normally() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, mut events) = started(
        builder(&fake)
            .language_code("fi")
            .keyterms(["Hämeenlinna", "Kela"])
            .include_timestamps(true),
    )
    .await;
    let mut conn = fake.conn().await;
    let up = &conn.upgrade;
    assert_eq!(up.path, "/v1/speech-to-text/realtime");
    assert_eq!(up.header("xi-api-key"), Some(KEY));
    for (k, v) in [
        ("model_id", "scribe_v2_realtime"),
        ("audio_format", "ulaw_8000"),
        ("commit_strategy", "vad"),
        ("language_code", "fi"),
        ("vad_silence_threshold_secs", "1.5"),
        ("vad_threshold", "0.5"),
        ("min_speech_duration_ms", "300"),
        ("include_timestamps", "true"),
    ] {
        assert_eq!(up.param(k), Some(v), "{k}");
    }
    assert_eq!(up.params("keyterms"), ["Hämeenlinna", "Kela"]);
    assert_eq!(
        up.param("sample_rate"),
        None,
        "no sample_rate query parameter"
    );
    session_started(&mut conn).await;

    for n in 0..3 {
        audio.push(numbered_frame(n));
    }
    for n in 0..3 {
        let msg = conn.next().await.expect("audio");
        let Message::Text(text) = &msg else {
            panic!("audio must be a text frame: {msg:?}");
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(numbered_frame(n));
        assert_eq!(
            text.as_str(),
            format!(
                r#"{{"message_type":"input_audio_chunk","audio_base_64":"{b64}","commit":false,"sample_rate":8000}}"#
            )
        );
        let (bytes, commit) = audio_of(&msg).expect("audio chunk");
        assert_eq!(bytes, numbered_frame(n).to_vec(), "passed straight through");
        assert!(!commit);
    }

    for m in [
        json!({"message_type": "partial_transcript", "text": "hei"}),
        json!({"message_type": "partial_transcript", "text": "hei mitä"}),
        json!({"message_type": "committed_transcript", "text": " Hei, mitä kuuluu? "}),
        json!({"message_type": "committed_transcript_with_timestamps", "text": "Hei, mitä kuuluu?",
               "language_code": "fi", "words": [{"text": "Hei,", "start": 0.1, "end": 0.3, "type": "word"}]}),
        json!({"message_type": "partial_transcript", "text": "   "}),
        json!({"message_type": "committed_transcript", "text": ""}),
        json!({"message_type": "committed_transcript", "text": "Toinen."}),
    ] {
        conn.send_text(m.to_string()).await;
    }
    conn.send_text("not json at all").await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("hei".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("hei mitä".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Committed("Hei, mitä kuuluu?".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Committed("Toinen.".into())
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(200)).await,
        None
    );

    // The end of the call's audio: one bare commit.
    audio.close();
    let (bytes, commit) = audio_of(&conn.next().await.expect("commit")).expect("chunk");
    assert!(bytes.is_empty() && commit);

    assert_eq!(stt.stats().running_tasks, 1);
    let t = Instant::now();
    stt.stop().await;
    assert!(t.elapsed() < Duration::from_secs(2));
    match conn.next().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected a normal close, got {other:?}"),
    }
    assert_eq!(stt.stats().running_tasks, 0);
    assert_eq!(fake.attempts(), 1);
}

#[tokio::test]
async fn frames_queued_before_start_are_kept() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let mut stt = builder(&fake).build().expect("config");
    let (audio, audio_rx) = audio_channel(500);
    for n in 0..3 {
        audio.push(numbered_frame(n));
    }
    let (sink, _events) = SttEventSink::channel(SttSource::Primary);
    timeout(Duration::from_secs(5), stt.start(audio_rx, sink))
        .await
        .expect("in time")
        .expect("start");
    let mut conn = fake.conn().await;
    for n in 0..3 {
        let (bytes, _) = audio_of(&conn.next().await.expect("audio")).expect("chunk");
        assert_eq!(frame_number(&bytes), n);
    }
    stt.stop().await;
}

#[tokio::test]
async fn terminal_errors_are_reported_once_and_never_retried() {
    for (sent, reported) in [
        ("auth_error", "auth_error"),
        ("quota_exceeded", "quota_exceeded"),
        ("quota_exceeded_error", "quota_exceeded"),
        ("rate_limited", "rate_limited"),
        ("input_error", "input_error"),
        ("invalid_request", "invalid_request"),
        ("unaccepted_terms", "unaccepted_terms"),
        ("unaccepted_terms_error", "unaccepted_terms"),
    ] {
        let mut fake = Fake::start(|_| Plan::Accept).await;
        let (mut stt, audio, mut events) = started(builder(&fake)).await;
        let mut conn = fake.conn().await;
        session_started(&mut conn).await;
        // The service sends the error, then closes (the event reference).
        conn.send_text(json!({"message_type": sent, "error": "nope"}).to_string())
            .await;
        let _ = conn.ws.close(None).await;
        audio.push(numbered_frame(0));
        assert_eq!(
            next_event(&mut events).await,
            SttEvent::Error(reported.into()),
            "{sent}"
        );
        assert_eq!(
            event_within(&mut events, Duration::from_millis(400)).await,
            None,
            "{sent}: reported exactly once"
        );
        assert_eq!(fake.attempts(), 1, "{sent}: no reconnect");
        assert!(
            eventually(|| stt.stats().running_tasks == 0).await,
            "{sent}"
        );
        stt.stop().await;
    }
}

#[tokio::test]
async fn reconnect_class_errors_reconnect_once_per_event() {
    for kind in [
        "queue_overflow",
        "resource_exhausted",
        "transcriber_error",
        "chunk_size_exceeded",
        "server_error",
        "error",
        "something_undocumented",
    ] {
        let mut fake = Fake::start(|_| Plan::Accept).await;
        let (mut stt, _audio, mut events) = started(builder(&fake)).await;
        let mut conn = fake.conn().await;
        session_started(&mut conn).await;
        // Two error messages before the close: handled once (W19).
        for _ in 0..2 {
            conn.send_text(json!({"message_type": kind, "error": "busy"}).to_string())
                .await;
        }
        let _ = conn.ws.close(None).await;
        let mut again = fake.conn().await;
        assert_eq!(again.index, 1);
        again
            .send_text(json!({"message_type": "partial_transcript", "text": "back"}).to_string())
            .await;
        assert_eq!(
            next_event(&mut events).await,
            SttEvent::Partial("back".into()),
            "{kind}: no error reported for a recovered fault"
        );
        assert!(
            fake.conn_within(Duration::from_millis(400)).await.is_none(),
            "{kind}: one reconnect per fault"
        );
        assert_eq!(stt.stats().reconnects, 1);
        drop(again);
        stt.stop().await;
    }
}

#[tokio::test]
async fn warnings_are_logged_only() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, _audio, mut events) = started(builder(&fake)).await;
    let mut conn = fake.conn().await;
    for kind in ["commit_throttled", "insufficient_audio_activity", "warning"] {
        conn.send_text(json!({"message_type": kind, "error": "hmm"}).to_string())
            .await;
    }
    conn.send_text(json!({"message_type": "partial_transcript", "text": "still here"}).to_string())
        .await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("still here".into())
    );
    assert_eq!(fake.attempts(), 1);
    stt.stop().await;
}

#[tokio::test]
async fn session_time_limit_is_reported_and_feeding_stops() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, mut events) = started(builder(&fake)).await;
    let mut conn = fake.conn().await;
    conn.send_text(
        json!({"message_type": "session_time_limit_exceeded", "error": "limit"}).to_string(),
    )
    .await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Error("session_time_limit_exceeded".into())
    );
    audio.push(numbered_frame(7));
    // The client closes; no audio follows.
    loop {
        match conn.next().await {
            Some(Message::Text(t)) => panic!("audio sent after the time limit: {t}"),
            Some(Message::Close(_)) | None => break,
            Some(_) => {}
        }
    }
    assert!(fake.conn_within(Duration::from_millis(400)).await.is_none());
    assert!(eventually(|| stt.stats().running_tasks == 0).await);
    stt.stop().await;
}

#[tokio::test]
async fn a_socket_dropped_mid_call_loses_no_frame_after_the_reconnect() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, mut events) = started(builder(&fake)).await;
    let pushed = Arc::new(AtomicU32::new(0));
    const FRAMES: u32 = 150;
    let producer = {
        let pushed = pushed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for n in 0..FRAMES {
                tick.tick().await;
                audio.push(numbered_frame(n));
                pushed.store(n + 1, Ordering::SeqCst);
            }
            audio
        })
    };
    let mut first = fake.conn().await;
    let mut before = BTreeSet::new();
    while let Some(msg) = first.next().await {
        if let Some((bytes, false)) = audio_of(&msg) {
            let n = frame_number(&bytes);
            before.insert(n);
            if n == 40 {
                break;
            }
        }
    }
    let pushed_before_drop = pushed.load(Ordering::SeqCst);
    drop(first); // TCP gone without a close handshake
    let pushed_at_drop = pushed.load(Ordering::SeqCst);
    let mut second = fake.conn().await;
    let mut after = Vec::new();
    while let Some(msg) = second.next().await {
        if let Some((bytes, false)) = audio_of(&msg) {
            let n = frame_number(&bytes);
            after.push(n);
            if n == FRAMES - 1 {
                break;
            }
        }
    }
    let _audio = timeout(Duration::from_secs(5), producer)
        .await
        .expect("producer done")
        .expect("producer");
    assert!(!after.is_empty());
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive after the reconnect: {after:?}"
    );
    assert_eq!(after.last(), Some(&(FRAMES - 1)));
    assert!(
        after[0] <= pushed_at_drop,
        "every frame pushed after the drop arrived (first {} > {pushed_at_drop})",
        after[0]
    );
    let missing: Vec<u32> = (0..FRAMES)
        .filter(|n| !before.contains(n) && !after.contains(n))
        .collect();
    // Only frames already on the wire to the dying socket may be lost.
    assert!(
        missing
            .iter()
            .all(|&n| n > 40 && n < pushed_at_drop.max(pushed_before_drop + 2)),
        "lost {missing:?} (pushed {pushed_before_drop}..{pushed_at_drop} around the drop)"
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(100)).await,
        None
    );
    assert_eq!(stt.stats().reconnects, 1);
    assert_eq!(stt.stats().frames_dropped, 0);
    stt.stop().await;
}

#[tokio::test]
async fn reconnects_are_exhausted_after_three_attempts() {
    for refusal in [Plan::Drop, Plan::Reject(503)] {
        let mut fake = Fake::start(move |i| if i == 0 { Plan::Accept } else { refusal }).await;
        let (mut stt, _audio, mut events) = started(builder(&fake)).await;
        drop(fake.conn().await);
        assert_eq!(
            next_event(&mut events).await,
            SttEvent::Error("reconnect_exhausted_after_3_attempts".into()),
            "{refusal:?}"
        );
        assert_eq!(
            event_within(&mut events, Duration::from_millis(400)).await,
            None
        );
        assert_eq!(
            fake.attempts(),
            4,
            "{refusal:?}: the first connection and 3 attempts"
        );
        assert!(eventually(|| stt.stats().running_tasks == 0).await);
        stt.stop().await;
    }
}

#[tokio::test]
async fn a_reconnect_attempt_that_succeeds_resets_the_count() {
    // Drop, refuse twice, accept, drop, refuse twice, accept: never exhausted.
    let mut fake = Fake::start(|i| match i {
        0 | 3 | 6 => Plan::Accept,
        _ => Plan::Drop,
    })
    .await;
    let (mut stt, _audio, mut events) = started(builder(&fake)).await;
    drop(fake.conn().await);
    drop(fake.conn().await);
    let mut third = fake.conn().await;
    assert_eq!(third.index, 6);
    third
        .send_text(json!({"message_type": "committed_transcript", "text": "ok"}).to_string())
        .await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Committed("ok".into())
    );
    stt.stop().await;
}

#[tokio::test]
async fn authentication_failure_at_start_is_an_auth_error_without_the_key() {
    for status in [401, 403] {
        let fake = Fake::start(move |_| Plan::Reject(status)).await;
        let mut stt = builder(&fake).build().expect("config");
        let (_audio_tx, audio_rx) = audio_channel(500);
        let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
        let result = timeout(Duration::from_secs(5), stt.start(audio_rx, sink))
            .await
            .expect("in time");
        match result {
            Err(SttError::Auth(msg)) => assert!(!msg.contains(KEY)),
            other => panic!("expected an auth error, got {other:?}"),
        }
        assert_eq!(stt.stats().running_tasks, 0);
        assert_eq!(
            event_within(&mut events, Duration::from_millis(100)).await,
            None
        );
        assert!(!format!("{stt:?}").contains(KEY));
    }
}

#[tokio::test]
async fn authentication_failure_on_reconnect_is_terminal() {
    let mut fake = Fake::start(|i| {
        if i == 0 {
            Plan::Accept
        } else {
            Plan::Reject(401)
        }
    })
    .await;
    let (mut stt, _audio, mut events) = started(builder(&fake)).await;
    drop(fake.conn().await);
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Error("auth_error".into())
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(400)).await,
        None
    );
    assert_eq!(fake.attempts(), 2);
    stt.stop().await;
}

#[tokio::test]
async fn connection_refused_at_start_is_a_connect_error() {
    let fake = Fake::start(|_| Plan::Drop).await;
    let mut stt = builder(&fake).build().expect("config");
    let (_audio_tx, audio_rx) = audio_channel(500);
    let (sink, _events) = SttEventSink::channel(SttSource::Primary);
    let result = timeout(Duration::from_secs(5), stt.start(audio_rx, sink))
        .await
        .expect("in time");
    assert!(matches!(result, Err(SttError::Connect(_))), "{result:?}");
}

#[tokio::test]
async fn stop_during_a_backoff_wait_returns_promptly_and_nothing_reconnects() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, _audio, _events) = started(
        builder(&fake)
            .backoff(vr_stt::Backoff {
                base: Duration::from_secs(1),
                jitter: 0.0,
                ..vr_stt::Backoff::default()
            })
            .reconnect_after_speaking(Some(Duration::from_millis(1))),
    )
    .await;
    drop(fake.conn().await);
    sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    timeout(Duration::from_secs(3), stt.stop())
        .await
        .expect("stop in time");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(stt.stats().running_tasks, 0);
    // Nothing is started after stop, not even by a long-speaking refresh.
    stt.set_speaking(true);
    sleep(Duration::from_millis(10)).await;
    stt.set_speaking(false);
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.attempts(), 1, "no connection attempt after stop");
}

#[tokio::test]
async fn stop_during_a_hanging_handshake_returns_promptly() {
    let fake = Fake::start(|i| if i == 0 { Plan::Accept } else { Plan::Hang }).await;
    let mut fake = fake;
    let (mut stt, _audio, _events) =
        started(builder(&fake).connect_timeout(Duration::from_secs(30))).await;
    drop(fake.conn().await);
    assert!(eventually(|| fake.attempts() == 2).await);
    let t = Instant::now();
    timeout(Duration::from_secs(3), stt.stop())
        .await
        .expect("stop in time");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(stt.stats().running_tasks, 0);
    sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.attempts(), 2);
}

#[tokio::test]
async fn long_speaking_refreshes_the_connection_without_losing_audio() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, _events) =
        started(builder(&fake).reconnect_after_speaking(Some(Duration::from_millis(100)))).await;
    let mut first = fake.conn().await;
    stt.set_speaking(true);
    sleep(Duration::from_millis(150)).await;
    stt.set_speaking(false);
    for n in 0..20 {
        audio.push(numbered_frame(n));
    }
    // The old socket gets a normal close.
    loop {
        match first.next().await {
            Some(Message::Close(_)) | None => break,
            Some(_) => {}
        }
    }
    let mut second = fake.conn().await;
    let mut got = Vec::new();
    while got.len() < 20 {
        let msg = second.next().await.expect("audio");
        if let Some((bytes, false)) = audio_of(&msg) {
            got.push(frame_number(&bytes));
        }
    }
    assert_eq!(got, (0..20).collect::<Vec<u32>>());
    stt.stop().await;
}

#[tokio::test]
async fn from_env_builder_needs_a_key() {
    let b = ElevenLabsSttBuilder::from_lookup(|_| None);
    assert!(matches!(b.build(), Err(SttError::Config(_))));
}
