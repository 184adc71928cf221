//! The bot-to-bot bridge between two fake bot servers.

mod common;

use std::time::Duration;

use common::serve;
use tokio::time::Instant;
use vr_mock::simulator::is_twilio_sid;
use vr_mock::{Bridge, BridgeConfig, BridgeEnd, BridgeSide, Which};
use vr_twilio::proto::Inbound;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sides_audio_becomes_the_others_inbound_and_marks_wait_for_playback() {
    let (url_a, mut rx_a) = serve().await;
    let (url_b, mut rx_b) = serve().await;
    let mut side_b = BridgeSide::new(url_b);
    side_b.custom_parameters = vec![("role".into(), "bot-under-test".into())];
    let mut config = BridgeConfig::new(BridgeSide::new(url_a), side_b);
    config.timeout = Duration::from_secs(15);
    let bridge = tokio::spawn(Bridge::new(config).run());
    let wait = Duration::from_secs(5);
    let mut a = tokio::time::timeout(wait, rx_a.recv())
        .await
        .unwrap()
        .unwrap();
    let mut b = tokio::time::timeout(wait, rx_b.recv())
        .await
        .unwrap()
        .unwrap();
    a.handshake().await;
    let start_b = b.handshake().await;
    assert_ne!(a.stream_sid, b.stream_sid);
    assert!(is_twilio_sid(&a.stream_sid, "MZ") && is_twilio_sid(&b.stream_sid, "MZ"));
    if let Inbound::Start(s) = start_b.parsed() {
        assert_eq!(s.custom_parameters[0].1, "bot-under-test");
    }

    // A speaks 0.5 s, then marks.
    a.send_audio(4000, 800).await;
    a.send_mark("a1").await;
    let sent = Instant::now();
    let echo = a
        .read_until(wait, |m| matches!(m, Inbound::Mark(_)))
        .await
        .expect("a1 echoed");
    assert!(
        echo.at - sent >= Duration::from_millis(450),
        "{:?}",
        echo.at - sent
    );

    // B heard A's audio as its caller audio.
    b.read_until(Duration::from_millis(300), |_| false).await;
    let heard = b
        .got
        .iter()
        .filter(|g| match g.parsed() {
            Inbound::Media(m) => m.decode_payload().unwrap().iter().any(|&x| x != 0xFF),
            _ => false,
        })
        .count();
    assert!((23..=26).contains(&heard), "B heard {heard} frames of A");

    // B hangs up: A gets stop.
    b.ws.close(None).await.unwrap();
    b.drain(Duration::from_secs(2)).await;
    let stop = a.read_until(wait, |m| matches!(m, Inbound::Stop(_))).await;
    assert!(stop.is_some(), "A got stop");
    a.drain(Duration::from_secs(2)).await;
    let report = tokio::time::timeout(wait, bridge)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        report.end,
        BridgeEnd::Closed {
            side: Which::B,
            code: Some(1005)
        }
    );
    assert_eq!(report.a.counters.marks_echoed, 1);
    assert_eq!(report.a.ids.stream_sid, a.stream_sid);
}
