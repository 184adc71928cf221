//! The demo bot end to end on loopback through the Twilio simulator, with the mock providers:
//! greeting, echo of a transcript, DTMF, barge-in, goodbye and hang-up.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use voice_runtime::app::{AppConfig, BotKind};
use voice_runtime::bots::{GOODBYE, GREETING};
use voice_runtime::conversation::Line;
use voice_runtime::mock::{
    CallerAction, Script, SimulatorConfig, StartAt, TimelineEvent, TwilioSimulator,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_greets_echoes_answers_keys_yields_to_barge_in_and_says_goodbye() {
    let (observer, lines) = common::recording_observer();
    let server = common::start(AppConfig {
        bot: BotKind::Demo,
        script: Some(Script::from_lines([
            "hello there",
            "what is the weather like",
            "wait stop",
            "thank you goodbye",
        ])),
        observer: Some(observer),
        mock_tts_ms_per_char: Some(25),
        ..AppConfig::default()
    })
    .await;

    let pause = StartAt::AfterBotSilence(Duration::from_millis(400));
    let mut sim = SimulatorConfig::new(server.ws());
    sim.caller_actions = vec![
        common::clip("caller-1-hello-there-can-you-hear.wav", pause),
        CallerAction::dtmf("7", pause),
        common::clip("caller-2-what-is-the-weather-like.wav", pause),
        common::clip(
            "caller-3-wait-stop-i-have-a-quest.wav",
            StartAt::WhileBotSpeaking(Duration::from_millis(300)),
        ),
        common::clip("caller-4-thank-you-goodbye.wav", pause),
    ];
    sim.timeout = Duration::from_secs(60);
    let report = TwilioSimulator::new(sim).run().await.unwrap();

    // The bot hung up (closed the socket with a code) after its goodbye.
    common::assert_server_closed(&report);
    let said = common::said(&lines);
    assert_eq!(
        said,
        [
            GREETING,
            "You said: hello there",
            "You pressed 7",
            "You said: what is the weather like",
            "You said: wait stop",
            "You said: thank you goodbye",
            GOODBYE,
        ],
        "{:#?}",
        lines.lock().unwrap()
    );
    let lines = lines.lock().unwrap().clone();
    // Barge-in: the weather answer was cut short, and Twilio got a clear.
    let interrupted = lines
        .iter()
        .position(|l| matches!(l, Line::BotInterrupted { .. }))
        .expect("a barge-in");
    assert!(
        matches!(&lines[interrupted - 1], Line::BotSays(t) if t.contains("weather")),
        "{lines:#?}"
    );
    assert!(report.counters.clears >= 1, "{:?}", report.counters);
    assert!(
        report
            .timeline
            .iter()
            .any(|e| matches!(e.event, TimelineEvent::ClearReceived { .. }))
    );
    // Every utterance ended with a mark the simulator echoed after playback.
    assert!(report.counters.marks_echoed >= 6, "{:?}", report.counters);
    assert_eq!(report.counters.protocol_errors, 0);
    assert_eq!(lines.last(), Some(&Line::BotHungUp));

    // The turn latencies and counters reached /metrics.
    let metrics = reqwest::get(format!("{}/metrics", server.http()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{metrics}"))
    };
    assert_eq!(value("vr_turn_commit_to_event_seconds_count"), 4.0);
    assert!(value("vr_turn_speak_to_first_byte_seconds_count") >= 6.0);
    assert!(value("vr_turn_first_byte_to_first_frame_seconds_count") >= 6.0);
    // Every caller frame arrived, but for the one or two in flight when the bot hung up.
    let missing = report.counters.frames_sent as f64 - value("vr_frames_in_total");
    assert!((0.0..=2.0).contains(&missing), "{missing} frames missing");
    assert!(value("vr_frames_out_total") >= report.counters.media_received as f64);
    assert_eq!(value("vr_live_calls"), 0.0);
    assert_eq!(value("vr_streams_opened_total"), 1.0);
    // One call, ended by the bot's hang-up; nothing dropped, no provider failed.
    assert_eq!(
        value("vr_calls_ended_total{reason=\"hangup_requested\"}"),
        1.0
    );
    assert_eq!(
        value("vr_calls_ended_total{reason=\"transport_closed\"}"),
        0.0
    );
    assert_eq!(value("vr_inbound_frames_dropped_total"), 0.0);
    for kind in ["stt", "tts", "mark_timeout", "send_failed"] {
        assert_eq!(value(&format!("vr_errors_total{{kind=\"{kind}\"}}")), 0.0);
    }
    server.stop().await;
}
