//! Azure REST text-to-speech against a local fake service.
#![cfg(feature = "azure")]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{BOUND, Echo, FakeHttp, Reply, Rig, Step, bounded, dead_port};
use tokio::sync::oneshot;
use tokio::time::Instant;
use vr_session::{DisconnectReason, MarkOutcome, SpeakStatus, TtsError};
use vr_tts::{AzureTts, AzureTtsConfig};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(fake: &FakeHttp) -> AzureTtsConfig {
    AzureTtsConfig::new("azure-key")
        .endpoint(format!("{}/cognitiveservices/v1", fake.base()))
        .first_byte_timeout(ms(500))
        .stall_timeout(ms(300))
        .mark_timeout(BOUND)
}

fn provider(fake: &FakeHttp) -> AzureTts {
    AzureTts::new(config(fake)).expect("provider")
}

#[tokio::test]
async fn streams_ssml_synthesis_as_it_arrives() {
    let (go, go_rx) = oneshot::channel();
    let fake = FakeHttp::start(vec![Reply::Stream(vec![
        Step::Chunk(vec![0x11; 640]),
        Step::WaitFor(go_rx),
        Step::Sleep(ms(20)),
        Step::Chunk(vec![0x22; 700]),
    ])])
    .await;
    let rig = Rig::new(Echo::AfterPlay);
    let tts = provider(&fake);
    let text = "Hei! Mitä <kuuluu> & \"muuta\"?\u{7}";
    let started = Instant::now();
    let speaking = tokio::spawn({
        let (call, tts) = (rig.call.clone(), tts.clone());
        async move { call.speak(&tts, text).await }
    });
    let first = rig.wait_first_media().await;
    assert_eq!(
        fake.finished.load(Ordering::SeqCst),
        0,
        "the last chunk is not sent yet"
    );
    go.send(()).expect("server waiting");
    let out = bounded("speak", speaking).await.expect("join");
    eprintln!(
        "azure: first byte {:?}, first frame {:?} (transport saw it after {:?})",
        out.timings.first_byte,
        out.timings.first_frame,
        first - started
    );
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, Some(MarkOutcome::Played));
    assert_eq!(out.heard, text);
    assert_eq!(out.audio_bytes, 1440);
    assert_eq!(rig.media_frames(), vec![160; 9]);
    assert!(out.timings.first_frame.is_some());

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/cognitiveservices/v1");
    assert_eq!(r.headers["ocp-apim-subscription-key"], "azure-key");
    assert_eq!(r.headers["content-type"], "application/ssml+xml");
    assert_eq!(
        r.headers["x-microsoft-outputformat"],
        "raw-8khz-8bit-mono-mulaw"
    );
    assert_eq!(r.headers["user-agent"], "voice-runtime");
    assert_eq!(
        String::from_utf8(r.body.clone()).expect("utf-8"),
        "<speak version='1.0' xml:lang='fi-FI'><voice xml:lang='fi-FI' name='fi-FI-NooraNeural'>\
         Hei! Mitä &lt;kuuluu&gt; &amp; &quot;muuta&quot;?</voice></speak>"
    );
}

#[tokio::test]
async fn voice_and_language_options_reach_the_ssml() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Chunk(vec![0x55; 160])])]).await;
    let rig = Rig::new(Echo::Immediately);
    let tts = AzureTts::new(
        config(&fake)
            .voice("sv-SE-SofieNeural")
            .user_agent("my-bot/1.0"),
    )
    .expect("provider");
    let out = bounded("speak", rig.call.speak(&tts, "Hej")).await;
    assert_eq!(out.status, SpeakStatus::Completed);
    let r = &fake.requests()[0];
    assert_eq!(r.headers["user-agent"], "my-bot/1.0");
    assert_eq!(
        String::from_utf8(r.body.clone()).expect("utf-8"),
        "<speak version='1.0' xml:lang='sv-SE'><voice xml:lang='sv-SE' name='sv-SE-SofieNeural'>Hej</voice></speak>"
    );
}

#[tokio::test]
async fn w25_a_200_without_audio_is_a_failure() {
    for reply in [
        Reply::Fixed(200, Vec::new()),
        Reply::Stream(vec![Step::Sleep(ms(20))]),
    ] {
        let fake = FakeHttp::start(vec![reply]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let started = Instant::now();
        let out = bounded("speak", rig.call.speak(&provider(&fake), "Hei")).await;
        assert!(
            matches!(out.error(), Some(TtsError::Protocol(_))),
            "{:?}",
            out.status
        );
        assert!(started.elapsed() < ms(1000), "no 30 s mark wait (W25)");
        rig.assert_failed_once(&out).await;
    }
}

#[tokio::test]
async fn http_errors_are_typed_and_reported_once() {
    for (status, body) in [
        (401, ""),
        (400, "The request is invalid: header too long"),
        (415, "Unsupported media type"),
        (
            429,
            r#"{"error":{"code":"Throttled","message":"Rate limit is exceeded."}}"#,
        ),
        (502, "Bad gateway"),
        (503, "Service unavailable"),
    ] {
        let fake = FakeHttp::start(vec![Reply::Fixed(status, body.as_bytes().to_vec())]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let out = bounded("speak", rig.call.speak(&provider(&fake), "Hei")).await;
        match out.error() {
            Some(TtsError::Http { status: s, body: b }) => {
                assert_eq!(*s, status);
                if status == 429 {
                    assert_eq!(b, "Throttled: Rate limit is exceeded.");
                } else {
                    assert_eq!(b, body);
                }
            }
            other => panic!("HTTP {status}: expected Http, got {other:?}"),
        }
        rig.assert_failed_once(&out).await;
        assert!(!rig.errors()[0].contains("azure-key"));
    }
}

#[tokio::test]
async fn connection_refused_and_timeouts() {
    let addr = dead_port().await;
    let mut rig = Rig::new(Echo::Immediately);
    let tts = AzureTts::new(
        AzureTtsConfig::new("k")
            .endpoint(format!("http://{addr}/cognitiveservices/v1"))
            .first_byte_timeout(ms(500)),
    )
    .expect("provider");
    let out = bounded("speak", rig.call.speak(&tts, "Hei")).await;
    assert!(
        matches!(out.error(), Some(TtsError::Connect(_))),
        "{:?}",
        out.status
    );
    rig.assert_failed_once(&out).await;

    let fake = FakeHttp::start(vec![Reply::Hang]).await;
    let mut rig = Rig::new(Echo::Immediately);
    let started = Instant::now();
    let out = bounded("speak", rig.call.speak(&provider(&fake), "Hei")).await;
    assert_eq!(out.error(), Some(&TtsError::FirstByteTimeout));
    assert!(started.elapsed() < ms(2000));
    rig.assert_failed_once(&out).await;

    let fake = FakeHttp::start(vec![Reply::Stream(vec![
        Step::Chunk(vec![0x55; 400]),
        Step::Stall,
    ])])
    .await;
    let mut rig = Rig::new(Echo::Immediately);
    let out = bounded("speak", rig.call.speak(&provider(&fake), "Hei")).await;
    assert_eq!(out.error(), Some(&TtsError::Stalled));
    rig.assert_failed_once(&out).await;

    // Broken mid-body, and broken before the response was even written.
    for steps in [
        vec![
            Step::Chunk(vec![0x55; 400]),
            Step::Sleep(ms(20)),
            Step::Break,
        ],
        vec![Step::Break],
    ] {
        let fake = FakeHttp::start(vec![Reply::Stream(steps)]).await;
        let mut rig = Rig::new(Echo::Immediately);
        let out = bounded("speak", rig.call.speak(&provider(&fake), "Hei")).await;
        assert!(
            matches!(out.error(), Some(TtsError::StreamBroken(_))),
            "{:?}",
            out.status
        );
        rig.assert_failed_once(&out).await;
    }
}

#[tokio::test]
async fn barge_in_mid_stream_stops_synthesis_at_once() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Forever {
        bytes: 160,
        every: ms(20),
    }])])
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(&fake);
    let text = "Tämä on pitkä lause joka jatkuu ja jatkuu vielä pitkään";
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, text).await }
    });
    rig.wait_first_media().await;
    tokio::time::sleep(ms(150)).await;
    let barged = Instant::now();
    rig.call.barge_in().expect("barge in");
    let out = bounded("speak", speaking).await.expect("join");
    assert!(barged.elapsed() < ms(500));
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert!(text.starts_with(&out.heard) && out.heard.len() < text.len());
    assert!(rig.marks().is_empty());
    fake.wait_dropped().await;
    assert!(rig.errors().is_empty());
}

#[tokio::test]
async fn hang_up_mid_stream_returns_at_once() {
    let fake = FakeHttp::start(vec![Reply::Stream(vec![Step::Forever {
        bytes: 160,
        every: ms(20),
    }])])
    .await;
    let rig = Rig::new(Echo::Never);
    let tts = provider(&fake);
    let speaking = tokio::spawn({
        let call = rig.call.clone();
        async move { call.speak(&tts, "Hei hei").await }
    });
    rig.wait_first_media().await;
    let hung = Instant::now();
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("speak", speaking).await.expect("join");
    assert!(hung.elapsed() < ms(500));
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    fake.wait_dropped().await;
}

#[tokio::test]
async fn empty_text_and_ended_calls_make_no_request() {
    let fake = FakeHttp::start(vec![]).await;
    let rig = Rig::new(Echo::Immediately);
    let tts = provider(&fake);
    assert_eq!(
        bounded("empty", rig.call.speak(&tts, "  ")).await.status,
        SpeakStatus::Completed
    );
    rig.session.end_call(DisconnectReason::RemoteStop);
    let out = bounded("ended", rig.call.speak(&tts, "Hei")).await;
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn configuration_is_checked_at_construction() {
    assert!(matches!(
        AzureTts::new(AzureTtsConfig::from_lookup(|_| None)),
        Err(TtsError::Config(_))
    ));
    let tts = AzureTts::new(AzureTtsConfig::from_lookup(|k| match k {
        "AZURE_SPEECH_KEY" => Some("k".into()),
        "AZURE_SPEECH_REGION" => Some("northeurope".into()),
        "AZURE_TTS_VOICE" => Some("fi-FI-HarriNeural".into()),
        _ => None,
    }))
    .expect("provider");
    assert_eq!(
        tts.config().endpoint_url().expect("url").as_str(),
        "https://northeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    );
    assert!(
        tts.ssml("a&b")
            .contains("name='fi-FI-HarriNeural'>a&amp;b<")
    );
}
