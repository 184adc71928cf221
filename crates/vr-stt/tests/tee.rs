//! Both providers under the session's tee: one primary that works, one secondary that fails.
#![cfg(all(feature = "elevenlabs", feature = "azure"))]

mod common;

use std::time::Duration;

use common::{Fake, Plan, WAIT, numbered_frame, quick_backoff};
use serde_json::json;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use vr_session::{
    SourcedSttEvent, SttEvent, SttEventSink, SttProvider, SttSource, SttTee, audio_channel,
};
use vr_stt::azure::{AzureStt, CONVERSATION_PATH};
use vr_stt::elevenlabs::ElevenLabsStt;

async fn next(rx: &mut tokio::sync::mpsc::Receiver<SourcedSttEvent>) -> SourcedSttEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("sink open")
}

fn elevenlabs(fake: &Fake) -> Box<dyn SttProvider> {
    Box::new(
        ElevenLabsStt::builder()
            .api_key("el-key")
            .base_url(fake.base())
            .backoff(quick_backoff())
            .build()
            .expect("config"),
    )
}

fn azure(fake: &Fake) -> Box<dyn SttProvider> {
    Box::new(
        AzureStt::builder()
            .key("az-key")
            .endpoint(format!("{}{CONVERSATION_PATH}", fake.base()))
            .backoff(quick_backoff())
            .build()
            .expect("config"),
    )
}

#[tokio::test]
async fn elevenlabs_primary_keeps_working_when_the_azure_secondary_cannot_start() {
    let mut primary_fake = Fake::start(|_| Plan::Accept).await;
    let secondary_fake = Fake::start(|_| Plan::Reject(401)).await;
    let mut tee = SttTee::new(elevenlabs(&primary_fake), azure(&secondary_fake));
    let (audio, audio_rx) = audio_channel(500);
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    timeout(WAIT, tee.start(audio_rx, sink))
        .await
        .expect("in time")
        .expect("the tee starts with its primary");
    let mut conn = primary_fake.conn().await;

    let failure = next(&mut events).await;
    assert_eq!(failure.source, SttSource::Secondary);
    assert!(matches!(failure.event, SttEvent::Error(_)), "{failure:?}");

    for n in 0..5 {
        audio.push(numbered_frame(n));
    }
    let mut frames = 0;
    while frames < 5 {
        if let Some(Message::Text(_)) = conn.next().await {
            frames += 1;
        }
    }
    conn.send_text(json!({"message_type": "committed_transcript", "text": "Päivää"}).to_string())
        .await;
    let event = next(&mut events).await;
    assert_eq!(event.source, SttSource::Primary);
    assert_eq!(event.event, SttEvent::Committed("Päivää".into()));

    timeout(Duration::from_secs(8), tee.stop())
        .await
        .expect("tee stops in time");
    assert!(matches!(conn.next().await, Some(Message::Close(_)) | None));
    assert_eq!(primary_fake.attempts(), 1);
    assert_eq!(secondary_fake.attempts(), 1);
}

#[tokio::test]
async fn azure_primary_keeps_working_when_the_elevenlabs_secondary_fails_mid_call() {
    let mut primary_fake = Fake::start(|_| Plan::Accept).await;
    let mut secondary_fake = Fake::start(|_| Plan::Accept).await;
    let mut tee = SttTee::new(azure(&primary_fake), elevenlabs(&secondary_fake));
    let (audio, audio_rx) = audio_channel(500);
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    timeout(WAIT, tee.start(audio_rx, sink))
        .await
        .expect("in time")
        .expect("start");
    let mut primary = primary_fake.conn().await;
    let mut secondary = secondary_fake.conn().await;

    // The secondary's service refuses the key mid-call.
    secondary
        .send_text(json!({"message_type": "auth_error", "error": "Invalid API key"}).to_string())
        .await;
    let _ = secondary.ws.close(None).await;
    let failure = next(&mut events).await;
    assert_eq!(failure.source, SttSource::Secondary);
    assert_eq!(failure.event, SttEvent::Error("auth_error".into()));

    // The primary still gets audio and reports transcripts.
    let mut request_id = String::new();
    for n in 0..10 {
        audio.push(numbered_frame(n));
    }
    let mut audio_messages = 0;
    while audio_messages < 5 {
        match primary.next().await {
            Some(Message::Binary(b)) => {
                let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
                let head = String::from_utf8_lossy(&b[2..2 + n]).into_owned();
                if let Some(id) = head
                    .split("\r\n")
                    .find_map(|l| l.strip_prefix("X-RequestId: "))
                {
                    request_id = id.to_owned();
                }
                audio_messages += 1;
            }
            Some(_) => {}
            None => panic!("primary socket closed"),
        }
    }
    primary
        .send_text(format!(
            "Path: speech.phrase\r\nX-RequestId: {request_id}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{}",
            r#"{"RecognitionStatus":"Success","DisplayText":"Hyvää päivää."}"#
        ))
        .await;
    let event = next(&mut events).await;
    assert_eq!(event.source, SttSource::Primary);
    assert_eq!(event.event, SttEvent::Committed("Hyvää päivää.".into()));

    timeout(Duration::from_secs(8), tee.stop())
        .await
        .expect("tee stops in time");
    assert!(
        secondary_fake
            .conn_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(
        secondary_fake.attempts(),
        1,
        "a terminal error is never retried"
    );
    assert_eq!(primary_fake.attempts(), 1);
}
