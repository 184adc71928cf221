//! Connect, disconnect, reset, intents and generations (B34–B37, B127–B128, W4–W8, W12, W33, W34).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{FakeStt, SttProbe, drain, info};
use vr_session::{
    BlockingCall, DisconnectReason, Outbound, SessionError, SessionEvent, SttSource, VoiceSession,
};

#[tokio::test(start_paused = true)]
async fn b34_wait_connected_times_out_with_call_not_answered() {
    let session = VoiceSession::new();
    let err = session
        .wait_connected(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(err, SessionError::CallNotAnswered(Duration::from_secs(30)));
    assert_eq!(
        err.to_string(),
        "WebSocket did not connect within 30s timeout"
    );
}

#[tokio::test]
async fn wait_connected_returns_call_info_and_a_hangup_ends_the_wait() {
    let session = VoiceSession::new();
    let call = session.call();
    let waiter = tokio::spawn({
        let call = call.clone();
        async move { call.wait_connected(Duration::from_secs(5)).await }
    });
    let _link = session.attach(info("MZa")).unwrap();
    assert_eq!(waiter.await.unwrap().unwrap().stream_sid, "MZa");

    let other = VoiceSession::new();
    let waiter = tokio::spawn({
        let call = other.call();
        async move { call.wait_connected(Duration::from_secs(5)).await }
    });
    other.end_call(DisconnectReason::RemoteStop);
    assert_eq!(waiter.await.unwrap().unwrap_err(), SessionError::CallHangup);
}

#[tokio::test]
async fn b35_b127_disconnect_is_idempotent_and_fires_on_disconnected_once() {
    let session = VoiceSession::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    session.on_disconnected(move |_| {
        f.fetch_add(1, Ordering::SeqCst);
    });
    let link = session.attach(info("MZb")).unwrap();
    session.end_call(DisconnectReason::RemoteStop);
    session.end_call(DisconnectReason::RemoteStop);
    link.close(DisconnectReason::TransportClosed).await;
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert_eq!(
        session.call().disconnect_reason(),
        Some(DisconnectReason::RemoteStop)
    );
}

#[tokio::test]
async fn w8_hangup_requested_before_connect_acts_once_after_connect() {
    let session = VoiceSession::new();
    session.hangup();
    session.hangup();
    let link = session.attach(info("MZc")).unwrap();
    assert_eq!(drain(&link), vec![Outbound::Hangup]);
    // And after a reset, intents go to the next call.
    link.close(DisconnectReason::HangupRequested).await;
    session.reset();
    session.hangup();
    let link = session.attach(info("MZd")).unwrap();
    assert_eq!(drain(&link), vec![Outbound::Hangup]);
}

#[tokio::test]
async fn w33_handles_to_an_ended_call_refuse_to_act_on_the_next_one() {
    let session = VoiceSession::new();
    let old = session.call();
    let link = session.attach(info("MZe")).unwrap();
    link.close(DisconnectReason::RemoteStop).await;
    session.reset();
    assert_eq!(session.generation(), 1);
    let err = old.hangup().unwrap_err();
    assert_eq!(
        err,
        SessionError::StaleCall {
            handle: 0,
            current: 1
        }
    );
    assert!(old.send_mark("x").is_err());
    assert!(old.clear().is_err());
    let link = session.attach(info("MZf")).unwrap();
    assert!(
        drain(&link).is_empty(),
        "the stale hangup did not reach the new call"
    );
}

#[tokio::test]
async fn w12_dropping_the_transport_runs_the_disconnect_path() {
    let probe = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let p = probe.clone();
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
    })));
    let call = session.call();
    let mut events = call.events();
    let link = session.attach(info("MZg")).unwrap();
    let mark = call.send_mark("waiting").unwrap();
    // Let the driver start the STT.
    wait_until(|| probe.started.load(Ordering::SeqCst) == 1).await;
    drop(link); // e.g. the handler task was cancelled by a server shutdown
    assert_eq!(
        mark.wait(Duration::from_secs(5)).await,
        vr_session::MarkOutcome::Disconnected
    );
    wait_until(|| probe.stopped.load(Ordering::SeqCst) == 1).await;
    let mut saw = false;
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_millis(200)).await {
        if ev == SessionEvent::Disconnected(DisconnectReason::TransportDropped) {
            saw = true;
        }
    }
    assert!(saw);
}

#[tokio::test]
async fn w11_a_failed_stt_start_is_an_error_event_and_teardown_still_runs() {
    let probe = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let p = probe.clone();
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), true)) as _)
    })));
    let errors = Arc::new(AtomicUsize::new(0));
    let e = errors.clone();
    session.on_error(move |_| {
        e.fetch_add(1, Ordering::SeqCst);
    });
    let mut events = session.events();
    let link = session.attach(info("MZh")).unwrap();
    let mut saw_error = false;
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_millis(500)).await {
        if let SessionEvent::SttError {
            source: SttSource::Primary,
            error,
        } = ev
        {
            assert!(error.contains("refused"));
            saw_error = true;
            break;
        }
    }
    assert!(saw_error);
    link.close(DisconnectReason::RemoteStop).await;
    assert_eq!(probe.stopped.load(Ordering::SeqCst), 1);
    assert_eq!(errors.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn w34_a_panicking_callback_never_takes_the_call_down() {
    let probe = Arc::new(SttProbe::default());
    let session = VoiceSession::new();
    let p = probe.clone();
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), false)) as _)
    })));
    session.on_stt_ready(|_| panic!("hook bug"));
    session.on_committed(|_| panic!("hook bug"));
    let call = session.call();
    let mut events = call.events();
    let link = session.attach(info("MZi")).unwrap();
    wait_until(|| probe.sink.lock().unwrap().is_some()).await;
    probe
        .sink
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .committed("hello");
    let mut got = false;
    while let Ok(Some(ev)) = events.next_timeout(Duration::from_secs(1)).await {
        if matches!(ev, SessionEvent::Transcript(ref t) if t.text == "hello") {
            got = true;
            break;
        }
    }
    assert!(got, "events keep flowing after the hooks panicked");
    assert!(!link.is_disconnected());
}

#[test]
fn w4_blocking_wrappers_work_on_plain_threads_and_refuse_runtime_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let session = VoiceSession::new();
    let link = rt.block_on(async { session.attach(info("MZj")) }).unwrap();
    let blocking = BlockingCall::new(session.call(), rt.handle().clone());
    let echo = rt.spawn(async move {
        while let Some(item) = link.next_outbound().await {
            if let Outbound::Mark(n) = item {
                link.mark_echoed(&n);
            }
        }
    });
    let outcome = std::thread::spawn({
        let blocking = blocking.clone();
        move || blocking.mark_and_wait("m", Duration::from_secs(5))
    })
    .join()
    .unwrap();
    assert_eq!(outcome.unwrap(), vr_session::MarkOutcome::Played);
    let on_runtime = rt.block_on(async { blocking.mark_and_wait("m", Duration::from_secs(1)) });
    assert_eq!(on_runtime.unwrap_err(), SessionError::WouldDeadlock);
    session.end_call(DisconnectReason::RemoteStop);
    rt.block_on(echo).unwrap();
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}
