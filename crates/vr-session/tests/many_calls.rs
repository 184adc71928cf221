//! 1,000 calls at once through connect → audio → marks → hang-up, with the registry.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::{FakeStt, SttProbe, info};
use vr_session::{CallRegistry, DisconnectReason, MarkOutcome, Outbound, VoiceSession};

const CALLS: usize = 1_000;
const FRAMES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_keep_their_frames_and_leave_no_task() {
    let registry = CallRegistry::new();
    let probes: Vec<Arc<SttProbe>> = (0..CALLS).map(|_| Arc::new(SttProbe::default())).collect();
    let mut calls = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let session = VoiceSession::new();
        let p = probe.clone();
        session.set_stt_factory(Some(Arc::new(move || {
            Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
        })));
        let registry = registry.clone();
        let probe = probe.clone();
        calls.push(tokio::spawn(async move {
            let stream_sid = format!("MZ{i:032}");
            let link = session.attach(info(&stream_sid)).unwrap();
            let _guard = registry
                .insert_live(&stream_sid, None, session.clone())
                .unwrap();
            let call = link.call();
            // The bot: a per-call byte pattern, so a frame reaching another call would show.
            let pattern = (i % 251) as u8;
            let bot = tokio::spawn({
                let call = call.clone();
                async move {
                    for _ in 0..FRAMES {
                        call.send_audio(Bytes::from(vec![pattern; 160]))
                            .await
                            .unwrap();
                    }
                    let outcome = call
                        .mark_and_wait("done", Duration::from_secs(20))
                        .await
                        .unwrap();
                    call.hangup().unwrap();
                    outcome
                }
            });
            // Talk once the recogniser is up, as a caller would after the greeting.
            for _ in 0..5_000 {
                if probe.started.load(Ordering::SeqCst) == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            for _ in 0..FRAMES {
                link.push_inbound(Bytes::from_static(&[0xFF; 160]));
            }
            let mut media = 0;
            loop {
                match link.next_outbound().await {
                    Some(Outbound::Media(b)) => {
                        assert!(b.iter().all(|&x| x == pattern), "frame from another call");
                        media += 1;
                    }
                    Some(Outbound::Mark(n)) => link.mark_echoed(&n),
                    Some(Outbound::Hangup) => break,
                    Some(Outbound::Clear) | None => unreachable!("no clear was asked for"),
                }
            }
            assert_eq!(bot.await.unwrap(), MarkOutcome::Played);
            for _ in 0..5_000 {
                if probe.frames.load(Ordering::SeqCst) == FRAMES {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            link.close(DisconnectReason::HangupRequested).await;
            media
        }));
    }
    for c in calls {
        let media = tokio::time::timeout(Duration::from_secs(60), c)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(media, FRAMES);
    }
    assert!(registry.is_empty());
    for probe in &probes {
        assert_eq!(probe.started.load(Ordering::SeqCst), 1);
        assert_eq!(probe.stopped.load(Ordering::SeqCst), 1);
        assert!(
            !probe.running.load(Ordering::SeqCst),
            "an STT task outlived its call"
        );
    }
    let total: usize = probes.iter().map(|p| p.frames.load(Ordering::SeqCst)).sum();
    assert_eq!(
        total,
        CALLS * FRAMES,
        "every caller frame reached its own STT"
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..100 {
        if metrics.num_alive_tasks() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.num_alive_tasks(), 0, "every spawned task has ended");
}

#[tokio::test]
async fn registry_binds_pending_calls_and_shuts_down_within_a_deadline() {
    let registry = CallRegistry::new();
    let outbound = VoiceSession::new();
    registry.register_route("tok", outbound.clone());
    registry.register_pending("CA1", outbound.clone());
    let got = registry.take_pending(Some("CA1"), Some("tok")).unwrap();
    assert_eq!(got.generation(), outbound.generation());
    assert!(
        registry.take_pending(Some("CA1"), None).is_none(),
        "taken once"
    );

    let link = got.attach(info("MZr")).unwrap();
    let guard = registry
        .insert_live("MZr", Some("CA1"), got.clone())
        .unwrap();
    assert!(registry.by_call_sid("CA1").is_some());
    assert_eq!(registry.len(), 1);
    // A transport that ignores the hang-up request: shutdown forces it after the deadline.
    let report = tokio::spawn({
        let registry = registry.clone();
        async move { registry.shutdown(Duration::from_millis(100)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        registry
            .insert_live("MZnew", None, VoiceSession::new())
            .is_none()
    );
    assert!(link.next_outbound().await == Some(Outbound::Hangup));
    assert!(
        link.next_outbound().await.is_none(),
        "ended by the shutdown"
    );
    drop(guard);
    let report = report.await.unwrap();
    assert_eq!(report.live_at_start, 1);
    assert_eq!(report.forced, 1);
}
