//! `POST /test/inject[/{key}]` on a server whose recogniser is the mock: texts become the
//! call's committed transcripts (the original's test route, B118, B168).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use voice_runtime::app::AppConfig;
use voice_runtime::bots::GOODBYE;
use voice_runtime::mock::{SimIds, SimulatorConfig, TwilioSimulator};

fn caller(url: String, ids: &SimIds) -> TwilioSimulator {
    let mut sim = SimulatorConfig::new(url);
    sim.ids = Some(ids.clone());
    sim.timeout = Duration::from_secs(30);
    sim.end_after_bot_silence = Duration::from_secs(30);
    TwilioSimulator::new(sim)
}

async fn post(client: &reqwest::Client, url: &str, text: &str) -> u16 {
    client
        .post(url)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_texts_drive_the_demo_bot_and_keys_pick_the_call() {
    let (observer, lines) = common::recording_observer();
    let server = common::start(AppConfig {
        observer: Some(observer),
        mock_tts_ms_per_char: Some(10),
        ..AppConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let inject = format!("{}/test/inject", server.http());
    assert_eq!(post(&http, &inject, "hello").await, 404, "no call yet");

    let (a, b) = (SimIds::random(), SimIds::random());
    let call_a = tokio::spawn(caller(server.ws(), &a).run());
    let call_b = tokio::spawn(caller(server.ws(), &b).run());
    // Wait until both calls' recognisers are up (keys answer 200 once they are).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for ids in [&a, &b] {
        loop {
            let status = post(&http, &format!("{inject}/{}", ids.stream_sid), "hello").await;
            if status == 200 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "recogniser never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        post(&http, &inject, "which one?").await,
        409,
        "two live calls"
    );
    assert_eq!(post(&http, &format!("{inject}/CA-nobody"), "x").await, 404);
    assert_eq!(
        post(&http, &format!("{inject}/{}", a.call_sid), "goodbye").await,
        200
    );
    let report_a = common::report_of(call_a, 20).await;
    common::assert_server_closed(&report_a);

    // One call left: the bare route reaches it.
    assert_eq!(post(&http, &inject, "thank you, GOODBYE").await, 200);
    let report_b = common::report_of(call_b, 20).await;
    common::assert_server_closed(&report_b);

    let said = common::said(&lines);
    assert_eq!(
        said.iter().filter(|t| *t == "You said: hello").count(),
        2,
        "{said:?}"
    );
    assert!(said.contains(&"You said: goodbye".to_owned()), "{said:?}");
    assert!(
        said.contains(&"You said: thank you, GOODBYE".to_owned()),
        "{said:?}"
    );
    assert_eq!(said.iter().filter(|t| *t == GOODBYE).count(), 2, "{said:?}");
    assert!(!said.iter().any(|t| t.contains("which one")), "{said:?}");
    server.stop().await;
}
