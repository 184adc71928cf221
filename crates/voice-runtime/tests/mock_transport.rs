//! `TRANSPORT=mock`: an outbound call is a bot-to-bot bridge between two local servers, with
//! the mock synthesiser's text relayed to the peer's `/test/inject` (B117–B118, B167–B168).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use voice_runtime::app::{App, AppConfig};
use voice_runtime::bots::GREETING;
use voice_runtime::conversation::Line;
use voice_runtime::mock::BridgeEnd;
use voice_runtime::transport::{TransportError, place_mock_call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_call_bridges_two_servers_whose_bots_hear_each_other() {
    let la = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a_url, b_url) = (
        format!("http://{}", la.local_addr().unwrap()),
        format!("http://{}", lb.local_addr().unwrap()),
    );
    let mut heard = Vec::new();
    for (listener, peer) in [(la, &b_url), (lb, &a_url)] {
        let (observer, lines) = common::recording_observer();
        let app = App::build(
            AppConfig {
                observer: Some(observer),
                mock_tts_ms_per_char: Some(10),
                mock_tts_relay: Some(peer.clone()),
                ..AppConfig::default()
            },
            Arc::new(|_: &str| None),
        )
        .unwrap();
        tokio::spawn(voice_runtime::app::serve(
            app,
            listener,
            std::future::pending(),
            Duration::from_secs(1),
        ));
        heard.push(lines);
    }

    let call = place_mock_call(&b_url, Some(&a_url), Duration::from_secs(20))
        .await
        .unwrap();
    assert!(call.call_sid.starts_with("CAMOCK_"), "{}", call.call_sid);
    assert!(
        call.target_stream_url.ends_with("/voice"),
        "{}",
        call.target_stream_url
    );

    // Each bot hears the other's greeting as a (relayed) transcript.
    let caller_heard = |lines: &std::sync::Mutex<Vec<Line>>| {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| matches!(l, Line::CallerSaid { text, .. } if text == GREETING))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(caller_heard(&heard[0]) && caller_heard(&heard[1])) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bots never heard each other: {:#?} {:#?}",
            heard[0].lock().unwrap(),
            heard[1].lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The texts travel over HTTP; give the audio (20 ms frames, played in real time) a
    // moment to flow on both legs before hanging up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    call.stop();
    let report = call.wait().await.unwrap();
    assert_eq!(report.end, BridgeEnd::Stopped);
    assert!(report.a.counters.media_received > 0 && report.b.counters.media_received > 0);
}

#[tokio::test]
async fn a_mock_call_needs_the_caller_server() {
    let err = place_mock_call("http://127.0.0.1:9", None, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::MissingCallerUrl), "{err:?}");
    assert!(err.to_string().contains("VOICE_STREAM_URL"));
}
