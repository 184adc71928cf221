//! Drops, errors by kind and call ends reach the server-wide counters behind `/metrics`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{FakeStt, SttProbe, drain, info};
use vr_session::{
    DisconnectReason, ErrorKind, MarkOutcome, ServerCounters, SessionConfig, VoiceSession,
};

#[tokio::test(start_paused = true)]
async fn drops_errors_and_ends_reach_the_server_counters() {
    let counters = Arc::new(ServerCounters::default());
    let probe = Arc::new(SttProbe::default());
    // The inbound queue is sized when the session is made, so set it up front.
    let session = VoiceSession::with_config(SessionConfig {
        inbound_frames: 2,
        ..SessionConfig::default()
    });
    let p = probe.clone();
    // A recogniser that refuses to start: one STT error.
    session.set_stt_factory(Some(Arc::new(move || {
        Ok(Box::new(FakeStt::new(p.clone(), true)) as _)
    })));
    // Counters are picked up when the call connects, as the server installs them.
    session.update_config(|c| c.counters = Some(counters.clone()));
    let call = session.call();
    let link = session.attach(info("MZcounters")).unwrap();

    // Five frames into a two-frame queue before anyone reads: three dropped, oldest first.
    for _ in 0..5 {
        link.push_inbound(Bytes::from_static(&[0xFF; 160]));
    }
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    call.report_tts_error("synthesis failed");
    let mark = call.send_mark("never-echoed").unwrap();
    drain(&link);
    assert_eq!(
        mark.wait(Duration::from_millis(50)).await,
        MarkOutcome::TimedOut
    );
    link.close(DisconnectReason::SendFailed("broken pipe".into()))
        .await;

    assert_eq!(probe.started.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(counters.inbound_dropped(), 3);
    assert_eq!(counters.errors(ErrorKind::Stt), 1);
    assert_eq!(counters.errors(ErrorKind::Tts), 1);
    assert_eq!(counters.errors(ErrorKind::MarkTimeout), 1);
    assert_eq!(counters.errors(ErrorKind::SendFailed), 1);
    assert_eq!(counters.ended("send_failed"), 1);
    assert_eq!(counters.ended("remote_stop"), 0);
}
