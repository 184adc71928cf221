//! ElevenLabs HTTP streaming against a local fake service.
#![cfg(feature = "elevenlabs")]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{BOUND, Echo, FakeHttp, Reply, Rig, Step, bounded, dead_port};
use futures_util::stream;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vr_session::{DisconnectReason, MarkOutcome, SpeakStatus, TtsError, TtsProvider};
use vr_tts::{ElevenLabsConfig, ElevenLabsTts, VoiceSettings};

const TEXT: &str = "Hello! How are you today?";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(base: &str) -> ElevenLabsConfig {
    ElevenLabsConfig::new("test-key")
        .base_url(base)
        .voice_id("voice123")
        .first_byte_timeout(ms(500))
        .stall_timeout(ms(300))
        .mark_timeout(BOUND)
}

fn provider(fake: &FakeHttp) -> ElevenLabsTts {
    ElevenLabsTts::new(config(&fake.base())).expect("provider")
}

async fn speak_bounded(rig: &Rig, tts: &ElevenLabsTts, text: &str) -> vr_session::SpeakOutcome {
    bounded("speak", rig.call.speak(tts, text)).await
}

#[tokio::test]
async fn streams_audio_as_it_arrives_then_waits_for_the_mark() {
    let (go, go_rx) = oneshot::channel();
    let fake = FakeHttp::start(vec![Reply::Stream(vec![
        Step::Chunk(vec![0x11; 800]),
        Step::WaitFor(go_rx),
        Step::Sleep(ms(30)),
        Step::Chunk(vec![0x22; 800]),
        Step::Chunk(vec![0x33; 333]),
    ])])
    .await;
    let rig = Rig::new(Echo::AfterPlay);
    let tts = ElevenLabsTts::new(
        config(&fake.base())
            .voice_settings(VoiceSettings::new(0.5, 0.75))
            .language_code("fi")
            .seed(7),
    )
    .expect("provider");
    let started = Instant::now();
    let speaking = tokio::spawn({
        let (call, tts) = (rig.call.clone(), tts.clone());
        async move { call.speak(&tts, TEXT).await }
    });
    let first = rig.wait_first_media().await;
    // The service has not sent its last chunk yet: it waits for us.
    assert_eq!(fake.finished.load(Ordering::SeqCst), 0);
    go.send(()).expect("server waiting");
    let out = bounded("speak", speaking).await.expect("join");
    eprintln!(
        "elevenlabs http: first byte {:?}, first frame {:?} (transport saw it after {:?})",
        out.timings.first_byte,
        out.timings.first_frame,
        first - started
    );
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, Some(MarkOutcome::Played));
    assert_eq!(out.heard, TEXT);
    assert_eq!(out.text, TEXT);
    assert_eq!(
        out.audio_bytes, 2080,
        "1,933 bytes padded to 13 whole frames"
    );
    let (fb, ff) = (
        out.timings.first_byte.expect("fb"),
        out.timings.first_frame.expect("ff"),
    );
    assert!(ff >= fb && ff < ms(500));
    let frames = rig.media_frames();
    assert_eq!(frames.len(), 13);
    assert!(frames.iter().all(|&n| n == 160));
    let audio = rig.media_bytes();
    assert!(audio[..800].iter().all(|&b| b == 0x11));
    assert!(audio[800..1600].iter().all(|&b| b == 0x22));
    assert!(audio[1600..1933].iter().all(|&b| b == 0x33));
    assert!(
        audio[1933..].iter().all(|&b| b == 0xFF),
        "padded with μ-law silence"
    );
    let marks = rig.marks();
    assert_eq!(marks.len(), 1);
    assert!(marks[0].starts_with("tts_complete__"));
    assert!(rig.errors().is_empty());

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/text-to-speech/voice123/stream");
    assert_eq!(r.query, "output_format=ulaw_8000");
    assert_eq!(r.headers["xi-api-key"], "test-key");
    assert_eq!(r.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json body");
    assert_eq!(
        body,
        serde_json::json!({
            "text": TEXT,
            "model_id": "eleven_multilingual_v2",
            "voice_settings": {"stability": 0.5, "similarity_boost": 0.75},
            "language_code": "fi",
            "seed": 7,
        })
    );
}

#[tokio::test]
async fn http_errors_fire_on_error_once_with_the_providers_body() {
    let cases = [
        (
            401,
            r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
            "invalid_api_key: Invalid API key",
        ),
        (
            429,
            r#"{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests"}}"#,
            "too_many_concurrent_requests: Too many concurrent requests",
        ),
        (
            422,
            r#"{"detail":[{"loc":["body","text"],"msg":"field required","type":"missing"}]}"#,
            "field required",
        ),
        (500, "upstream exploded", "upstream exploded"),
        (503, "", ""),
    ];
    for (status, body, expected) in cases {
        let fake = FakeHttp::start(vec![Reply::Fixed(status, body.as_bytes().to_vec())]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let out = speak_bounded(&rig, &provider(&fake), TEXT).await;
        match out.error() {
            Some(TtsError::Http { status: s, body }) => {
                assert_eq!(*s, status);
                assert_eq!(body, expected);
            }
            other => panic!("HTTP {status}: expected an Http error, got {other:?}"),
        }
        rig.assert_failed_once(&out).await;
        assert!(rig.media_frames().is_empty());
        assert!(rig.errors()[0].contains(&status.to_string()));
        assert!(
            !rig.errors()[0].contains("test-key"),
            "the key is never reported"
        );
    }
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let addr = dead_port().await;
    let mut rig = Rig::new(Echo::Immediately);
    let tts = ElevenLabsTts::new(config(&format!("http://{addr}"))).expect("provider");
    let started = Instant::now();
    let out = speak_bounded(&rig, &tts, TEXT).await;
    assert!(
        matches!(out.error(), Some(TtsError::Connect(_))),
        "{:?}",
        out.status
    );
    assert!(started.elapsed() < ms(2000));
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn no_headers_or_no_body_before_the_first_byte_timeout() {
    for reply in [Reply::Hang, Reply::Stream(vec![Step::Stall])] {
        let fake = FakeHttp::start(vec![reply]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let started = Instant::now();
        let out = speak_bounded(&rig, &provider(&fake), TEXT).await;
        let took = started.elapsed();
        assert_eq!(out.error(), Some(&TtsError::FirstByteTimeout));
        assert!(
            took >= ms(450) && took < ms(2000),
            "bounded by the 500 ms timeout: {took:?}"
        );
        rig.assert_failed_once(&out).await;
    }
}

#[tokio::test]
async fn a_stall_mid_stream_is_bounded_by_the_stall_timeout() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![
        Step::Chunk(vec![0x55; 800]),
        Step::Stall,
    ])])
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let started = Instant::now();
    let out = speak_bounded(&rig, &provider(&fake), TEXT).await;
    assert_eq!(out.error(), Some(&TtsError::Stalled));
    assert!(started.elapsed() < ms(2000));
    assert_eq!(out.audio_bytes, 800);
    assert!(out.timings.first_byte.is_some());
    rig.assert_failed_once(&out).await;
    assert_eq!(rig.media_frames().len(), 5, "what arrived was played");
}

#[tokio::test]
async fn a_broken_stream_mid_utterance_is_stream_broken() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![
        Step::Chunk(vec![0x55; 480]),
        Step::Sleep(ms(20)),
        Step::Break,
    ])])
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = speak_bounded(&rig, &provider(&fake), TEXT).await;
    assert!(
        matches!(out.error(), Some(TtsError::StreamBroken(_))),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;
}

#[tokio::test]
async fn a_200_without_audio_is_a_failure_not_a_success() {
    for reply in [
        Reply::Fixed(200, Vec::new()),
        Reply::Stream(vec![Step::Sleep(ms(10))]),
    ] {
        let fake = FakeHttp::start(vec![reply]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let out = speak_bounded(&rig, &provider(&fake), TEXT).await;
        assert!(
            matches!(out.error(), Some(TtsError::Protocol(_))),
            "{:?}",
            out.status
        );
        rig.assert_failed_once(&out).await;
    }
}

#[tokio::test]
async fn barge_in_mid_stream_stops_the_download_at_once() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Forever {
        bytes: 160,
        every: ms(20),
    }])])
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(&fake);
    let text = "one two three four five six seven eight nine ten eleven twelve";
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, text).await }
    });
    rig.wait_first_media().await;
    tokio::time::sleep(ms(200)).await;
    let barged = Instant::now();
    rig.call.barge_in().expect("barge in");
    let out = bounded("speak", speaking).await.expect("join");
    let reaction = barged.elapsed();
    eprintln!(
        "elevenlabs http: barge-in → outcome in {reaction:?}, heard {:?}",
        out.heard
    );
    assert!(reaction < ms(500), "interrupted at once: {reaction:?}");
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert!(out.heard.len() < text.len());
    assert!(text.starts_with(&out.heard));
    assert_eq!(out.mark, None);
    assert!(rig.marks().is_empty(), "no closing mark after a barge-in");
    fake.wait_dropped().await;
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn b81_cancelling_does_not_send_a_clear() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Forever {
        bytes: 160,
        every: ms(20),
    }])])
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(&fake);
    let cancel = CancellationToken::new();
    let speaking = tokio::spawn({
        let (call, cancel) = (rig.call.clone(), cancel.clone());
        async move { tts.speak(TEXT, &call, cancel).await }
    });
    rig.wait_first_media().await;
    cancel.cancel();
    let out = bounded("speak", speaking).await.expect("join");
    assert!(out.interrupted());
    fake.wait_dropped().await;
    tokio::time::sleep(ms(50)).await;
    assert_eq!(rig.clears(), 0, "speak never clears by itself (B81)");
}

#[tokio::test]
async fn hang_up_mid_stream_returns_call_disconnected_at_once() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Forever {
        bytes: 160,
        every: ms(20),
    }])])
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(&fake);
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, TEXT).await }
    });
    rig.wait_first_media().await;
    let hung = Instant::now();
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("speak", speaking).await.expect("join");
    assert!(hung.elapsed() < ms(500));
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    fake.wait_dropped().await;
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn hang_up_during_the_mark_wait_returns_at_once() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Chunk(vec![0x55; 800])])]).await;
    let rig = Rig::new(Echo::Never);
    let tts = ElevenLabsTts::new(config(&fake.base()).mark_timeout(Duration::from_secs(30)))
        .expect("provider");
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, TEXT).await }
    });
    bounded("the closing mark", async {
        while rig.marks().is_empty() {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    let hung = Instant::now();
    rig.session.end_call(DisconnectReason::HangupRequested);
    let out = bounded("speak", speaking).await.expect("join");
    assert!(
        hung.elapsed() < ms(500),
        "no 30 s wait after a hang-up (W2)"
    );
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert!(matches!(out.mark, None | Some(MarkOutcome::Disconnected)));
}

#[tokio::test]
async fn an_unechoed_mark_times_out_with_a_typed_outcome() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Chunk(vec![0x55; 320])])]).await;
    let rig = Rig::new(Echo::Never);
    let tts = ElevenLabsTts::new(config(&fake.base()).mark_timeout(ms(200))).expect("provider");
    let out = speak_bounded(&rig, &tts, TEXT).await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, Some(MarkOutcome::TimedOut));
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn empty_text_and_ended_calls_make_no_request() {
    let fake = FakeHttp::start(vec![]).await;
    let rig = Rig::new(Echo::Immediately);
    let tts = provider(&fake);
    let out = speak_bounded(&rig, &tts, "").await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, None);
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = speak_bounded(&rig, &tts, TEXT).await;
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert!(fake.requests().is_empty());
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn speak_stream_gathers_sentences_into_requests() {
    let fake = FakeHttp::start(vec![
        Reply::Stream(vec![Step::Chunk(vec![0x55; 320])]),
        Reply::Stream(vec![Step::Chunk(vec![0x55; 320])]),
    ])
    .await;
    let rig = Rig::new(Echo::Immediately);
    let pieces = stream::iter(["Hello the", "re. How", " are you?"].map(String::from));
    let out = bounded(
        "speak_stream",
        provider(&fake).speak_stream(Box::pin(pieces), &rig.call, CancellationToken::new()),
    )
    .await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.text, "Hello there. How are you?");
    let texts: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(texts, ["Hello there.", "How are you?"]);
}

#[tokio::test]
async fn one_provider_serves_many_calls_at_once() {
    let replies = (0..3)
        .map(|_| {
            Reply::Stream(vec![
                Step::Chunk(vec![0x55; 800]),
                Step::Sleep(ms(50)),
                Step::Chunk(vec![0x55; 800]),
            ])
        })
        .collect();
    let fake = FakeHttp::start(replies).await;
    let tts = provider(&fake);
    let rigs: Vec<Rig> = (0..3).map(|_| Rig::new(Echo::Immediately)).collect();
    let outs = bounded(
        "three calls",
        futures_util::future::join_all(rigs.iter().map(|r| r.call.speak(&tts, TEXT))),
    )
    .await;
    for (out, rig) in outs.iter().zip(&rigs) {
        assert_eq!(out.status, SpeakStatus::Completed);
        assert_eq!(rig.media_frames().len(), 10);
    }
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn missing_key_and_bad_urls_fail_at_construction() {
    let no_key = ElevenLabsConfig::from_lookup(|_| None);
    assert!(matches!(
        ElevenLabsTts::new(no_key),
        Err(TtsError::Config(_))
    ));
    let bad = ElevenLabsConfig::new("k").base_url("::nope::");
    assert!(matches!(ElevenLabsTts::new(bad), Err(TtsError::Config(_))));
}
