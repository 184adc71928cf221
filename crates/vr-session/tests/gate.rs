//! The echo gate and the play-out clock seen from the bot (B54–B56, W30), on paused time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{FakeStt, SttProbe, drain, info};
use vr_session::{SessionEvent, Transcript, TranscriptKind, VoiceSession};

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

async fn next_transcript(events: &mut vr_session::EventStream) -> Transcript {
    loop {
        match events.next_timeout(Duration::from_secs(1)).await {
            Ok(Some(SessionEvent::Transcript(t))) => return t,
            Ok(Some(_)) => continue,
            other => panic!("no transcript: {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn transcripts_during_playback_are_marked_and_skip_the_callbacks() {
    let probe = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let p = probe.clone();
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
    })));
    let committed = Arc::new(Mutex::new(Vec::<String>::new()));
    let c = committed.clone();
    session.on_committed(move |t| c.lock().unwrap().push(t.to_owned()));
    let partials = Arc::new(AtomicUsize::new(0));
    let pc = partials.clone();
    session.on_recognizing(move |_| {
        pc.fetch_add(1, Ordering::SeqCst);
    });
    let call = session.call();
    let mut events = call.events();
    let link = session.attach(info("MZg1")).unwrap();
    settle().await;
    let sink = probe.sink.lock().unwrap().clone().unwrap();

    // The bot speaks one second of audio.
    for _ in 0..50 {
        call.send_audio(Bytes::from_static(&[0x55; 160]))
            .await
            .unwrap();
    }
    drain(&link);
    settle().await;
    assert_eq!(*probe.speaking.lock().unwrap(), vec![true]);
    assert!(call.is_speaking());

    sink.committed("  echo of the bot  ");
    let t = next_transcript(&mut events).await;
    assert_eq!(t.text, "echo of the bot");
    assert!(t.during_playback);
    sink.partial("partial while speaking");
    assert!(next_transcript(&mut events).await.during_playback);

    // Playback ends at 1 s; the discard window runs to 1.4 s.
    tokio::time::advance(Duration::from_millis(1_100)).await;
    settle().await;
    assert_eq!(*probe.speaking.lock().unwrap(), vec![true, false]);
    sink.committed("inside the window");
    assert!(next_transcript(&mut events).await.during_playback);
    sink.partial("partial after playback");
    let t = next_transcript(&mut events).await;
    assert_eq!(t.kind, TranscriptKind::Partial);

    tokio::time::advance(Duration::from_millis(400)).await;
    sink.committed("the caller speaks");
    let t = next_transcript(&mut events).await;
    assert!(!t.during_playback);
    assert_eq!(
        *committed.lock().unwrap(),
        vec!["the caller speaks".to_owned()]
    );
    // B55: the partial after playback ended reached the callback, the one during did not.
    assert_eq!(partials.load(Ordering::SeqCst), 1);
    link.close(vr_session::DisconnectReason::RemoteStop).await;
}

#[tokio::test(start_paused = true)]
async fn a_mark_echo_ends_speaking_before_the_clock_would() {
    let probe = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let p = probe.clone();
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
    })));
    let call = session.call();
    let link = session.attach(info("MZg2")).unwrap();
    settle().await;
    for _ in 0..50 {
        call.send_audio(Bytes::from_static(&[0x55; 160]))
            .await
            .unwrap();
    }
    let mark = call.send_mark("end").unwrap();
    drain(&link);
    settle().await;
    tokio::time::advance(Duration::from_millis(300)).await;
    link.mark_echoed(mark.wire_name());
    settle().await;
    assert!(!call.is_speaking());
    // The recogniser hears of it once the bot has been silent for the speaking hold.
    assert_eq!(*probe.speaking.lock().unwrap(), vec![true]);
    tokio::time::advance(vr_session::playout::SPEAKING_HOLD).await;
    settle().await;
    assert_eq!(*probe.speaking.lock().unwrap(), vec![true, false]);
    assert_eq!(call.played_bytes(), 8_000);
    link.close(vr_session::DisconnectReason::RemoteStop).await;
}

#[tokio::test]
async fn w30_taps_see_agent_audio_when_sent_and_clears() {
    #[derive(Default)]
    struct Tap {
        caller: AtomicUsize,
        agent: AtomicUsize,
        clears: AtomicUsize,
    }
    impl vr_session::AudioTap for Tap {
        fn caller(&self, _: &[u8]) {
            self.caller.fetch_add(1, Ordering::SeqCst);
        }
        fn agent(&self, _: &[u8]) {
            self.agent.fetch_add(1, Ordering::SeqCst);
        }
        fn clear_agent(&self) {
            self.clears.fetch_add(1, Ordering::SeqCst);
        }
    }
    let tap = Arc::new(Tap::default());
    let session = VoiceSession::new();
    session.set_tap(Some(tap.clone()));
    let call = session.call();
    let link = session.attach(info("MZg3")).unwrap();
    link.push_inbound(Bytes::from_static(&[0xFF; 160]));
    for _ in 0..3 {
        call.send_audio(Bytes::from_static(&[0x55; 160]))
            .await
            .unwrap();
    }
    // Produced but not yet sent: the tap has not seen it (W30).
    assert_eq!(tap.agent.load(Ordering::SeqCst), 0);
    link.try_next_outbound();
    assert_eq!(tap.agent.load(Ordering::SeqCst), 1);
    call.clear().unwrap();
    drain(&link);
    assert_eq!(tap.agent.load(Ordering::SeqCst), 1);
    assert_eq!(tap.clears.load(Ordering::SeqCst), 1);
    assert_eq!(tap.caller.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn w1_inbound_overflow_drops_the_oldest_and_reports_once() {
    let session = VoiceSession::with_config(vr_session::SessionConfig {
        inbound_frames: 10,
        stt_factory: Some(Arc::new(|| {
            // A provider that never reads.
            Ok(Box::new(StuckStt) as _)
        })),
        ..Default::default()
    });
    let call = session.call();
    let mut events = call.events();
    let link = session.attach(info("MZg4")).unwrap();
    for _ in 0..30 {
        link.push_inbound(Bytes::from_static(&[0xFF; 160]));
    }
    assert_eq!(call.metrics().inbound_dropped, 20);
    let mut overflow_events = 0;
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_millis(100)).await {
        if matches!(ev, SessionEvent::InboundOverflow { .. }) {
            overflow_events += 1;
        }
    }
    assert_eq!(overflow_events, 1);
    link.close(vr_session::DisconnectReason::RemoteStop).await;
}

#[derive(Debug)]
struct StuckStt;

#[async_trait::async_trait]
impl vr_session::SttProvider for StuckStt {
    fn name(&self) -> &str {
        "stuck"
    }
    async fn start(
        &mut self,
        audio: vr_session::AudioReceiver,
        _events: vr_session::SttEventSink,
    ) -> Result<(), vr_session::SttError> {
        // Keep the receiver alive without reading it.
        std::mem::forget(audio);
        Ok(())
    }
    async fn stop(&mut self) {}
}
