//! The speak contract through `Utterance` (B79–B84, W26–W27), and the tee (B71–B77).

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{FakeStt, SttProbe, ToneTts, info, spawn_echoing_transport};
use futures_util::stream;
use tokio_util::sync::CancellationToken;
use vr_session::{
    MarkOutcome, Outbound, SessionEvent, SpeakStatus, SttSource, TtsProvider, VoiceSession,
};

fn tone(delay_ms: u64) -> ToneTts {
    ToneTts {
        bytes_per_char: 100,
        chunk: 333,
        chunk_delay: Duration::from_millis(delay_ms),
    }
}

#[tokio::test]
async fn b79_b80_empty_text_and_ended_calls_return_at_once() {
    let session = VoiceSession::new();
    let call = session.call();
    let out = call.speak(&tone(0), "   ").await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.audio_bytes, 0);
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    let out = call.speak(&tone(0), "hello").await;
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert!(out.call_disconnected());
}

#[tokio::test]
async fn a_completed_utterance_is_framed_marked_and_fully_heard() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = Arc::new(session.attach(info("MZs1")).unwrap());
    let transport = spawn_echoing_transport(link.clone());
    let out = call.speak(&tone(0), "hello there").await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, Some(MarkOutcome::Played));
    assert_eq!(out.heard, "hello there");
    assert_eq!(out.audio_bytes, 1_120); // 1,100 bytes padded to whole 160-byte frames
    assert!(out.timings.first_byte.is_some() && out.timings.first_frame.is_some());
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    let seen = transport.await.unwrap();
    let frames: Vec<usize> = seen
        .iter()
        .filter_map(|o| match o {
            Outbound::Media(b) => Some(b.len()),
            _ => None,
        })
        .collect();
    assert_eq!(frames.len(), 7);
    assert!(frames.iter().all(|&n| n == 160));
    assert!(matches!(seen.last(), Some(Outbound::Mark(n)) if n.starts_with("tts_complete__")));
}

#[tokio::test]
async fn barge_in_interrupts_and_reports_what_was_heard() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = Arc::new(session.attach(info("MZs2")).unwrap());
    // A transport that sends but never echoes: Twilio still playing.
    let pump = tokio::spawn({
        let link = link.clone();
        async move { while link.next_outbound().await.is_some() {} }
    });
    let text = "one two three four five six seven eight nine ten";
    let speaking = tokio::spawn({
        let call = call.clone();
        async move { call.speak(&tone(20), text).await }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    call.barge_in().unwrap();
    let out = tokio::time::timeout(Duration::from_secs(2), speaking)
        .await
        .expect("interrupted promptly")
        .unwrap();
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert!(out.heard.len() < text.len());
    assert!(text.starts_with(&out.heard));
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    pump.await.unwrap();
}

#[tokio::test]
async fn hangup_mid_utterance_returns_call_disconnected_at_once() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZs3")).unwrap();
    let speaking = tokio::spawn({
        let call = call.clone();
        async move {
            call.speak(&tone(10), "a long sentence that keeps going")
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    link.close(vr_session::DisconnectReason::RemoteStop).await;
    let out = tokio::time::timeout(Duration::from_secs(1), speaking)
        .await
        .expect("no 30 s mark wait after a hang-up (W2)")
        .unwrap();
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
}

#[tokio::test]
async fn speak_stream_gathers_sentences_for_whole_text_providers() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = Arc::new(session.attach(info("MZs4")).unwrap());
    let transport = spawn_echoing_transport(link.clone());
    let pieces = stream::iter(["Hel", "lo there. How ", "are you", "?"].map(String::from));
    let out = tone(0)
        .speak_stream(Box::pin(pieces), &call, CancellationToken::new())
        .await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.text, "Hello there. How are you?");
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    let marks = transport
        .await
        .unwrap()
        .iter()
        .filter(|o| matches!(o, Outbound::Mark(_)))
        .count();
    assert_eq!(marks, 2, "one utterance per sentence");
}

#[tokio::test]
async fn b71_b77_a_failing_secondary_never_affects_the_primary() {
    let primary = Arc::new(SttProbe::default());
    let secondary = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let (p, s) = (primary.clone(), secondary.clone());
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
    })));
    session.set_stt_secondary_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(s.clone(), true)) as _)
    })));
    let call = session.call();
    let mut events = call.events();
    let link = session.attach(info("MZs5")).unwrap();
    for _ in 0..10 {
        link.push_inbound(bytes::Bytes::from_static(&[0xFF; 160]));
    }
    let mut secondary_error = false;
    for _ in 0..100 {
        if primary.frames.load(Ordering::SeqCst) == 10 && secondary_error {
            break;
        }
        if let Ok(Some(SessionEvent::SttError { source, .. })) =
            events.next_timeout(Duration::from_millis(20)).await
        {
            assert_eq!(source, SttSource::Secondary);
            secondary_error = true;
        }
    }
    assert!(secondary_error);
    assert_eq!(primary.frames.load(Ordering::SeqCst), 10);
    primary
        .sink
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .committed("still here");
    let mut transcript = None;
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_millis(500)).await {
        if let SessionEvent::Transcript(t) = ev {
            transcript = Some(t);
            break;
        }
    }
    assert_eq!(transcript.unwrap().source, SttSource::Primary);
    link.close(vr_session::DisconnectReason::RemoteStop).await;
    assert_eq!(primary.stopped.load(Ordering::SeqCst), 1);
    assert_eq!(secondary.stopped.load(Ordering::SeqCst), 1);
    assert!(!primary.running.load(Ordering::SeqCst));
}
