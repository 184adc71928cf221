//! The Quick Example's flow (call, speak, wait for the mark, listen, hang up), tested the way a
//! bot author would: the server on loopback, the Twilio simulator as the phone, mock providers.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use voice_runtime::mock::{
    MockStt, MockTts, SimulatorConfig, StartAt, TimelineEvent, TwilioSimulator,
};
use voice_runtime::session::SttFactory;
use voice_runtime::twilio::server::{BotFn, ServerConfig, VoiceServer};
use voice_runtime::{
    CallHandle, CallRegistry, SessionEvent, SttProvider, TranscriptKind, TtsProvider, VoiceSession,
};

/// The bot author's code under test: greet, wait until heard, listen once, hang up.
async fn greet_and_listen(call: CallHandle, tts: &dyn TtsProvider) -> Option<String> {
    let mut events = call.events();
    call.wait_connected(Duration::from_secs(10)).await.ok()?;
    let outcome = call.speak(tts, "Hello! How are you today?").await;
    assert_eq!(outcome.mark, Some(voice_runtime::MarkOutcome::Played));
    let heard = loop {
        match events.next().await? {
            SessionEvent::Transcript(t) if t.kind == TranscriptKind::Committed => break t.text,
            _ => {}
        }
    };
    call.hangup().ok()?;
    Some(heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_example_flow_against_the_simulator() {
    // The server, sharing its registry with the code that "places" the call.
    let registry = CallRegistry::new();
    let server = VoiceServer::with_registry(
        ServerConfig::default(),
        Arc::new(BotFn(|_call| async {})),
        Arc::new(VoiceSession::new),
        registry.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The session of the outbound call, registered under a route token as
    // `OutboundDialer::place_call` does before dialling.
    let session = VoiceSession::new();
    let (stt, inject) = MockStt::pair();
    let stt = Mutex::new(Some(stt));
    let factory: SttFactory = Arc::new(move || {
        let stt = stt.lock().unwrap().take().expect("one call");
        Ok(Box::new(stt) as Box<dyn SttProvider>)
    });
    session.set_stt_factory(Some(factory));
    registry.register_route("route-token-1", session.clone());

    // The phone: answers the routed stream and listens.
    let mut phone = SimulatorConfig::new(format!("ws://{addr}/voice/route-token-1"));
    phone.timeout = Duration::from_secs(30);
    phone.end_after_bot_silence = Duration::from_secs(30);
    phone.caller_actions = vec![voice_runtime::mock::CallerAction::silence(
        Duration::from_millis(200),
        StartAt::AtOffset(Duration::ZERO),
    )];
    let phone = tokio::spawn(TwilioSimulator::new(phone).run());

    let tts = MockTts::new().with_ms_per_char(20);
    let call = session.call();
    let bot = tokio::spawn({
        let call = call.clone();
        async move { greet_and_listen(call, &tts).await }
    });
    // The caller answers once the greeting has played (the mock recogniser commits it).
    let info = call.wait_connected(Duration::from_secs(10)).await.unwrap();
    assert_eq!(info.route.as_deref(), Some("route-token-1"));
    while !call.is_speaking() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while call.is_speaking() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    inject.inject("I am fine, thanks");

    let heard = tokio::time::timeout(Duration::from_secs(10), bot)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard.as_deref(), Some("I am fine, thanks"));
    let report = common::report_of(phone, 10).await;
    common::assert_server_closed(&report);
    let echoed_after_audio = report.timeline.iter().any(|e| {
        matches!(&e.event, TimelineEvent::MarkEchoed { name, cleared: false } if name.starts_with("tts_complete"))
    });
    assert!(echoed_after_audio, "{:#?}", report.timeline);
    assert!(
        report.counters.media_received >= 20,
        "{:?}",
        report.counters
    );
    // The server finishes its teardown just after the socket closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !registry.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never left the registry"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
