//! Whole calls through the real ElevenLabs providers: the app with the demo bot, speech-to-text
//! and text-to-speech both `elevenlabs`, pointed at local fakes of the service; Twilio played
//! by the simulator with the caller's recorded clips.
#![cfg(feature = "elevenlabs")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use voice_runtime::app::{App, AppConfig, BotKind};
use voice_runtime::bots::{GOODBYE, GREETING};
use voice_runtime::mock::{
    CallEnd, CallerAction, SimulationReport, SimulatorConfig, StartAt, TimelineEvent,
    TwilioSimulator,
};
use voice_runtime::{SttKind, TtsKind};

use fakes::{Behaviour, FakeElevenLabs, WAIT, in_order};

const KEY: &str = "xi-e2e-test-key-0123456789abcdef";

/// The app on 127.0.0.1 with ElevenLabs STT and TTS at `base_url`, and a way to stop it.
struct Served {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(base_url: String) -> Self {
        let lookup = Arc::new(move |name: &str| match name {
            "ELEVENLABS_API_KEY" => Some(KEY.to_owned()),
            "ELEVENLABS_BASE_URL" => Some(base_url.clone()),
            _ => None,
        });
        let config = AppConfig {
            bot: BotKind::Demo,
            stt: SttKind::ElevenLabs,
            tts: TtsKind::ElevenLabs,
            ..AppConfig::default()
        };
        let app = App::build(config, lookup).expect("the app builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(voice_runtime::app::serve(
            app,
            listener,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(2),
        ));
        Self { addr, stop, task }
    }

    fn ws(&self) -> String {
        format!("ws://{}/voice", self.addr)
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the server stops")
            .expect("the server task")
            .expect("the server ran");
    }
}

fn clip(name: &str, start: StartAt) -> CallerAction {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/audio")
        .join(name);
    CallerAction::audio_file(&path, start).expect("a caller clip")
}

fn clears(report: &SimulationReport) -> usize {
    report
        .timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::ClearReceived { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_elevenlabs_greets_echoes_and_hangs_up_after_goodbye() {
    let mut behaviour = Behaviour::new(KEY);
    behaviour.commits = vec!["hello there".into(), "thank you goodbye".into()];
    behaviour.partials = true;
    let fake = FakeElevenLabs::start(behaviour).await;
    let server = Served::start(fake.base_url()).await;

    let pause = StartAt::AfterBotSilence(Duration::from_millis(1500));
    let mut sim = SimulatorConfig::new(server.ws());
    sim.caller_actions = vec![
        clip("caller-1-hello-there-can-you-hear.wav", pause),
        clip("caller-4-thank-you-goodbye.wav", pause),
    ];
    sim.timeout = Duration::from_secs(40);
    let report = TwilioSimulator::new(sim)
        .run()
        .await
        .expect("the call runs");
    server.shutdown().await;

    let log = fake.log();
    let texts = log.tts_texts();
    // The bot hung up: the server closed the stream, with a close code.
    assert!(
        matches!(report.end, CallEnd::ServerClosed { code: Some(_) }),
        "{:?}; asked to say {texts:?}",
        report.end
    );
    // What the bot asked ElevenLabs to say, in order.
    assert!(
        in_order(&texts, &[GREETING, "You said: hello there", GOODBYE]),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "You said: thank you goodbye"),
        "{texts:?}"
    );
    assert_eq!(texts.last().map(String::as_str), Some(GOODBYE), "{texts:?}");
    assert!(
        log.tts.iter().all(|r| r.status == 200 && r.finished),
        "{:?}",
        log.tts
    );
    assert!(
        log.tts.iter().all(|r| r.voice_id == "21m00Tcm4TlvDq8ikWAM"),
        "{:?}",
        log.tts
    );
    assert!(
        log.tts
            .iter()
            .all(|r| r.model_id.as_deref() == Some("eleven_multilingual_v2")),
        "{:?}",
        log.tts
    );
    // One recogniser connection, fed the caller's audio, which held two speech segments.
    assert_eq!(log.stt.len(), 1, "{:?}", log.stt);
    let stt = &log.stt[0];
    assert_eq!(stt.param("language_code"), Some("en"));
    assert!(stt.chunks > 100, "audio chunks received: {}", stt.chunks);
    assert_eq!(
        stt.audio_bytes % 160,
        0,
        "whole 20 ms frames: {}",
        stt.audio_bytes
    );
    assert_eq!(stt.segments, 2, "speech segments heard: {stt:?}");
    assert_eq!(log.auth_failures, 0);
    assert!(log.violations.is_empty(), "{:?}", log.violations);
    // Twilio's side: bot audio arrived, every mark was echoed, nothing was cleared.
    let c = &report.counters;
    assert!(c.media_received > 0 && c.audio_bytes_received > 0, "{c:?}");
    assert!(c.marks_received >= 3, "{c:?}");
    assert_eq!(c.marks_echoed, c.marks_received, "{c:?}");
    assert_eq!(c.protocol_errors, 0, "{c:?}");
    assert_eq!(
        clears(&report),
        0,
        "no barge-in expected: {:#?}",
        report.timeline
    );
    let marks_echoed = report
        .timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::MarkEchoed { cleared: false, .. }))
        .count();
    assert!(marks_echoed >= 3, "{:#?}", report.timeline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_transcript_while_the_bot_speaks_clears_its_playback() {
    let mut behaviour = Behaviour::new(KEY);
    // A long greeting: about 4 s of audio.
    behaviour.tts_ms_per_char = 100;
    let fake = FakeElevenLabs::start(behaviour).await;
    let server = Served::start(fake.base_url()).await;

    let mut sim = SimulatorConfig::new(server.ws());
    sim.timeout = Duration::from_secs(40);
    // Caller silence only; the words come from the fake recogniser.
    sim.end_after_bot_silence = Duration::from_secs(30);
    let call = tokio::spawn(TwilioSimulator::new(sim).run());

    // The greeting has been synthesised and is playing: the caller starts to talk.
    assert!(
        fake.wait_for(|log| log.tts.first().is_some_and(|r| r.finished)
            && log.stt.first().is_some_and(|c| c.started))
            .await,
        "the greeting was never synthesised"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.stt_partial("wait"),
        1,
        "one live recogniser connection"
    );
    // Then says goodbye, which ends the call.
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.stt_committed("goodbye");

    let report = tokio::time::timeout(WAIT * 2, call)
        .await
        .expect("the call ends")
        .unwrap()
        .expect("the call runs");
    server.shutdown().await;

    let log = fake.log();
    let texts = log.tts_texts();
    assert!(clears(&report) >= 1, "no clear: {:#?}", report.timeline);
    assert!(report.counters.clears >= 1, "{:?}", report.counters);
    // The clear came while the greeting was playing: after bot audio started, before the
    // goodbye was synthesised (its audio would follow the clear).
    let first_clear = report
        .timeline
        .iter()
        .position(|e| matches!(e.event, TimelineEvent::ClearReceived { .. }))
        .unwrap();
    let first_audio = report
        .timeline
        .iter()
        .position(|e| matches!(e.event, TimelineEvent::BotAudioStarted))
        .expect("bot audio played");
    assert!(first_audio < first_clear, "{:#?}", report.timeline);
    assert_eq!(
        texts,
        [GREETING, "You said: goodbye", GOODBYE],
        "the partial said nothing; the goodbye was answered"
    );
    assert!(
        matches!(report.end, CallEnd::ServerClosed { code: Some(_) }),
        "{:?}",
        report.end
    );
    assert!(log.violations.is_empty(), "{:?}", log.violations);
}
