//! The ordered outbound channel, marks and clears (B27–B31, W2, W3, W14).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{drain, info, spawn_echoing_transport};
use vr_session::{MarkOutcome, Outbound, SessionEvent, VoiceSession};

fn frame() -> Bytes {
    Bytes::from_static(&[0x55; 160])
}

#[tokio::test]
async fn w3_a_mark_never_overtakes_audio_queued_before_it() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZ1")).unwrap();
    for _ in 0..20 {
        call.send_audio(frame()).await.unwrap();
    }
    let mark = call.send_mark("after").unwrap();
    let out = drain(&link);
    assert_eq!(out.len(), 21);
    assert!(out[..20].iter().all(|o| matches!(o, Outbound::Media(_))));
    assert_eq!(out[20], Outbound::Mark(mark.wire_name().to_owned()));
}

#[tokio::test]
async fn b28_b29_same_name_waiters_resolve_separately_and_in_order() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZ2")).unwrap();
    let first = call.send_mark("greeting").unwrap();
    let second = call.send_mark("greeting").unwrap();
    assert_ne!(first.wire_name(), second.wire_name());
    let out = drain(&link);
    let names: Vec<String> = out
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Mark(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec![first.wire_name(), second.wire_name()]);
    link.mark_echoed(&names[0]);
    assert_eq!(
        first.wait(Duration::from_secs(1)).await,
        MarkOutcome::Played
    );
    // The second is still pending: only its own echo releases it.
    let second_wire = second.wire_name().to_owned();
    let waiter = tokio::spawn(second.wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished());
    link.mark_echoed(&second_wire);
    assert_eq!(waiter.await.unwrap(), MarkOutcome::Played);
}

#[tokio::test(start_paused = true)]
async fn b30_a_mark_times_out_while_connected() {
    let session = VoiceSession::new();
    let call = session.call();
    let _link = session.attach(info("MZ3")).unwrap();
    let mark = call.send_mark("never").unwrap();
    assert_eq!(
        mark.wait(Duration::from_millis(500)).await,
        MarkOutcome::TimedOut
    );
    assert_eq!(call.metrics().marks_timed_out, 1);
}

#[tokio::test]
async fn w2_marks_resolve_disconnected_at_once() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZ4")).unwrap();
    let pending = call.send_mark("pending").unwrap();
    let started = tokio::time::Instant::now();
    link.close(vr_session::DisconnectReason::RemoteStop).await;
    assert_eq!(
        pending.wait(Duration::from_secs(30)).await,
        MarkOutcome::Disconnected
    );
    let after = call.send_mark("late").unwrap();
    assert_eq!(
        after.wait(Duration::from_secs(30)).await,
        MarkOutcome::Disconnected
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn b31_unknown_echoes_are_counted_and_ignored() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZ5")).unwrap();
    let pending = call.send_mark("real").unwrap();
    drain(&link);
    link.mark_echoed("never-sent__deadbeef");
    assert_eq!(call.metrics().unknown_marks, 1);
    link.mark_echoed(pending.wire_name());
    assert_eq!(
        pending.wait(Duration::from_secs(1)).await,
        MarkOutcome::Played
    );
}

#[tokio::test]
async fn w14_clear_drops_local_audio_and_resolves_marks_as_cleared() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = session.attach(info("MZ6")).unwrap();
    let mut events = call.events();
    // One mark already on the wire, one still queued behind audio.
    call.send_audio(frame()).await.unwrap();
    let on_wire = call.send_mark("on-wire").unwrap();
    let sent = drain(&link);
    assert_eq!(sent.len(), 2);
    for _ in 0..5 {
        call.send_audio(frame()).await.unwrap();
    }
    let queued = call.send_mark("queued").unwrap();
    call.clear().unwrap();
    assert_eq!(
        queued.wait(Duration::from_secs(1)).await,
        MarkOutcome::Cleared
    );
    // Nothing queued before the clear survives; the clear goes out next.
    assert_eq!(drain(&link), vec![Outbound::Clear]);
    assert_eq!(
        on_wire.wait(Duration::from_secs(1)).await,
        MarkOutcome::Cleared
    );
    // Twilio echoes pending marks after a clear: not proof of playback, and not "unknown".
    link.mark_echoed(&on_wire_name(&sent));
    assert_eq!(call.metrics().unknown_marks, 0);
    let mut outcomes = Vec::new();
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_millis(50)).await {
        if let SessionEvent::Mark { name, outcome } = ev {
            outcomes.push((name, outcome));
        }
    }
    assert!(outcomes.contains(&("queued".into(), MarkOutcome::Cleared)));
    assert!(outcomes.contains(&("on-wire".into(), MarkOutcome::Cleared)));
}

fn on_wire_name(sent: &[Outbound]) -> String {
    sent.iter()
        .find_map(|o| match o {
            Outbound::Mark(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn w1_outbound_back_pressure_waits_for_the_transport() {
    let session = VoiceSession::with_config(vr_session::SessionConfig {
        outbound_frames: 4,
        ..Default::default()
    });
    let call = session.call();
    let link = Arc::new(session.attach(info("MZ7")).unwrap());
    for _ in 0..4 {
        call.send_audio(frame()).await.unwrap();
    }
    let blocked = tokio::time::timeout(Duration::from_millis(50), call.send_audio(frame())).await;
    assert!(blocked.is_err(), "a full queue makes the producer wait");
    let transport = spawn_echoing_transport(link.clone());
    tokio::time::timeout(Duration::from_secs(1), call.send_audio(frame()))
        .await
        .expect("room once the transport drains")
        .unwrap();
    for _ in 0..200 {
        if call.metrics().frames_out == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    let seen = transport.await.unwrap();
    assert_eq!(
        seen.iter()
            .filter(|o| matches!(o, Outbound::Media(_)))
            .count(),
        5
    );
}
