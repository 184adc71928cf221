//! Hostile input against the Twilio server, each case beside a healthy call on the same
//! server: the healthy call's frames all come back once and in order, the hostile input is
//! seen and counted, and afterwards the runtime's task count is back to its baseline and the
//! registry is empty.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hostile_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hostile_support::http::{self, FORM};
use hostile_support::ws::{self, Ws, assert_echo, begin, connect, send, wait_ready};
use hostile_support::{Harness, T};
use tokio_tungstenite::tungstenite::Message;
use vr_session::DisconnectReason;
use vr_twilio::server::{ServerConfig, SignaturePolicy};
use vr_twilio::signature::SignatureValidator;
use vr_twilio::stream::IgnoreReason;

const HEALTHY: &str = "MZ00000000000000000000000000000000";
const HOSTILE: &str = "MZ11111111111111111111111111111111";

/// Counters of every reason, to check that only the expected ones moved.
fn ignored(h: &Harness) -> Vec<(IgnoreReason, u64)> {
    IgnoreReason::ALL
        .iter()
        .map(|r| (*r, h.server.stats().ignored(*r)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A hostile call that is up and echoing.
async fn started(h: &Harness, sid: &str) -> Ws {
    let mut ws = connect(h.addr, "/voice", None).await.unwrap();
    begin(&mut ws, sid).await;
    wait_ready(&mut ws).await;
    ws
}

/// Proves a hostile call still works after its abuse: a frame still echoes, then it stops.
async fn still_works(mut ws: Ws, sid: &str) {
    assert_echo(&mut ws, sid, 1000, &[0x42; 160]).await;
    ws::stop(ws, sid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_text_is_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    let not_json = [
        "",
        "not json at all",
        "{",
        "{\"event\":\"media\",",
        "<Response/>",
        "\u{0}\u{1}\u{7f}",
        "{\"event\":\"media\"}}",
        "\u{feff}{}",
    ];
    let wrong_shape = [
        "null",
        "[]",
        "42",
        "\"start\"",
        "{}",
        r#"{"event":5}"#,
        r#"{"event":"media","media":{"payload":7}}"#,
        r#"{"event":"start","start":"nope"}"#,
    ];
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        for text in not_json.iter().chain(&wrong_shape) {
            send(&mut ws, *text).await;
        }
        begin(&mut ws, HOSTILE).await;
        wait_ready(&mut ws).await;
        // The count sees the server's per-call tasks (so the final check means something).
        assert!(hostile_support::alive_tasks() >= h.baseline() + 2);
        for text in not_json.iter().chain(&wrong_shape) {
            send(&mut ws, *text).await;
        }
        still_works(ws, HOSTILE).await;
    })
    .await;
    let n = 2 * not_json.len() as u64;
    let m = 2 * wrong_shape.len() as u64;
    assert_eq!(
        ignored(&h),
        vec![
            (IgnoreReason::NotJson, n),
            (IgnoreReason::InvalidMessage, m)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_are_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    let sizes = [0usize, 1, 160, 3000];
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        for n in sizes {
            ws.send(Message::binary(vec![0xFF; n])).await.unwrap();
        }
        begin(&mut ws, HOSTILE).await;
        wait_ready(&mut ws).await;
        for n in sizes {
            // A binary frame holding a perfectly good media message is still not one.
            let text = ws::media_msg(HOSTILE, 7, &[0x11; 160]);
            ws.send(Message::binary(vec![0xFF; n])).await.unwrap();
            ws.send(Message::binary(text.into_bytes())).await.unwrap();
        }
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(
        ignored(&h),
        vec![(IgnoreReason::BinaryFrame, 3 * sizes.len() as u64)]
    );
    assert_eq!(h.record(HOSTILE).unwrap().metrics.frames_in, 1);
}

fn small_limits() -> ServerConfig {
    ServerConfig {
        max_message_bytes: 2048,
        hard_max_message_bytes: 16 * 1024,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_the_size_limit_are_ignored_and_counted() {
    let h = Harness::start(small_limits()).await;
    h.beside(HEALTHY, None, async {
        let mut ws = started(&h, HOSTILE).await;
        // Valid media messages just over, and far over, the soft limit (still under the hard one).
        for audio_len in [1500usize, 4000, 11_000] {
            let msg = ws::media_msg(HOSTILE, 3, &vec![0x22; audio_len]);
            assert!(msg.len() > 2048 && msg.len() < 16 * 1024);
            send(&mut ws, msg).await;
        }
        // Not JSON, and over the limit: the size is checked first.
        send(&mut ws, "x".repeat(2049)).await;
        // Exactly at the limit is fine: a message padded to 2048 bytes echoes.
        let base = ws::media_msg(HOSTILE, 4, &[0x33; 160]);
        let padded = base.replacen("{", &format!("{{{}", " ".repeat(2048 - base.len())), 1);
        assert_eq!(padded.len(), 2048);
        send(&mut ws, padded).await;
        assert_eq!(ws::next_media(&mut ws).await.unwrap(), vec![0x33; 160]);
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(ignored(&h), vec![(IgnoreReason::TooLarge, 4)]);
    assert_eq!(h.record(HOSTILE).unwrap().metrics.frames_in, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_the_hard_limit_break_only_their_connection() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let h = Harness::start(small_limits()).await;
    let sids = [
        "MZ22222222222222222222222222222222",
        "MZ33333333333333333333333333333333",
    ];
    h.beside(HEALTHY, None, async {
        // One frame over the hard limit.
        let mut ws = started(&h, sids[0]).await;
        send(&mut ws, "y".repeat(20 * 1024)).await;
        assert!(
            ws::ends(&mut ws).await,
            "connection broken after an oversized frame"
        );
        // A message split into frames each under the limit, together over it.
        let mut ws = started(&h, sids[1]).await;
        let chunk = vec![b'z'; 6 * 1024];
        ws.send(Message::Frame(Frame::message(
            chunk.clone(),
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
        for last in [false, false, true] {
            let frame = Frame::message(chunk.clone(), OpCode::Data(Data::Continue), last);
            if ws.send(Message::Frame(frame)).await.is_err() {
                break;
            }
        }
        assert!(
            ws::ends(&mut ws).await,
            "connection broken after an oversized message"
        );
        // Before start, too.
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        ws.send(Message::binary(vec![0u8; 20 * 1024]))
            .await
            .unwrap();
        assert!(ws::ends(&mut ws).await, "connection broken before start");
    })
    .await;
    for sid in sids {
        assert_eq!(
            h.record(sid).unwrap().reason,
            DisconnectReason::TransportClosed
        );
    }
    assert_eq!(h.server.stats().streams_opened(), 4);
    assert_eq!(h.server.stats().streams_closed(), 4);
    assert_eq!(
        ignored(&h),
        vec![],
        "nothing was parsed from the oversized frames"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_base64_is_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    let bad = [
        "!!!not-base64!!!",
        "A",
        "AAAAA",
        "AB=C",
        "AAB=",
        "AA AA",
        "AA\\nAA",
        "\\u00c4\\u00c4\\u00c4\\u00c4",
        "AAAA=====",
        "_-_-",
    ];
    h.beside(HEALTHY, None, async {
        let mut ws = started(&h, HOSTILE).await;
        for (i, payload) in bad.iter().enumerate() {
            send(&mut ws, ws::media_raw(HOSTILE, i as u64, payload)).await;
        }
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(
        ignored(&h),
        vec![(IgnoreReason::BadBase64, bad.len() as u64)]
    );
    assert_eq!(h.record(HOSTILE).unwrap().metrics.frames_in, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_of_odd_sizes_are_passed_on_as_they_are() {
    let h = Harness::start(ServerConfig::default()).await;
    let sizes = [1usize, 2, 3, 79, 159, 161, 320, 1001, 8000];
    h.beside(HEALTHY, None, async {
        let mut ws = started(&h, HOSTILE).await;
        for (i, n) in sizes.iter().enumerate() {
            let audio: Vec<u8> = (0..*n).map(|k| (k * 31 + i) as u8).collect();
            assert_echo(&mut ws, HOSTILE, i as u64, &audio).await;
        }
        // Unpadded base64 of a 2-byte frame is accepted too.
        send(&mut ws, ws::media_raw(HOSTILE, 50, "/38")).await;
        assert_eq!(ws::next_media(&mut ws).await.unwrap(), vec![0xFF, 0x7F]);
        // An empty payload is not a frame.
        send(&mut ws, ws::media_raw(HOSTILE, 51, "")).await;
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(ignored(&h), vec![(IgnoreReason::EmptyPayload, 1)]);
    let rec = h.record(HOSTILE).unwrap();
    assert_eq!(rec.metrics.frames_in, sizes.len() as u64 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_before_start_is_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        send(&mut ws, ws::connected_msg()).await;
        for i in 0..20 {
            send(&mut ws, ws::media_msg(HOSTILE, i, &[0x55; 160])).await;
        }
        send(&mut ws, ws::start_msg(HOSTILE, &[])).await;
        // READY comes first: none of the early frames reached the bot.
        wait_ready(&mut ws).await;
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(ignored(&h), vec![(IgnoreReason::MediaBeforeStart, 20)]);
    assert_eq!(h.record(HOSTILE).unwrap().metrics.frames_in, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_is_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    const OTHER: &str = "MZ44444444444444444444444444444444";
    h.beside(HEALTHY, None, async {
        let mut ws = started(&h, HOSTILE).await;
        for i in 0..5 {
            send(&mut ws, ws::start_msg(HOSTILE, &[("try", &i.to_string())])).await;
            send(&mut ws, ws::start_msg(OTHER, &[])).await;
        }
        // Still the first stream: media addressed to the other one is refused.
        send(&mut ws, ws::media_msg(OTHER, 9, &[0x66; 160])).await;
        assert!(h.server.registry().by_stream_sid(OTHER).is_none());
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(
        ignored(&h),
        vec![
            (IgnoreReason::DuplicateStart, 10),
            (IgnoreReason::WrongStreamSid, 1)
        ]
    );
    let rec = h.record(HOSTILE).unwrap();
    assert!(rec.info.custom_parameters.is_empty(), "first start kept");
    assert!(h.record(OTHER).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_without_start_is_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        for sid in [HOSTILE, "MZx", ""] {
            send(&mut ws, ws::stop_msg(sid)).await;
        }
        send(&mut ws, r#"{"event":"stop"}"#).await;
        begin(&mut ws, HOSTILE).await;
        wait_ready(&mut ws).await;
        // A stop for another stream does not end this one either.
        send(&mut ws, ws::stop_msg("MZ55555555555555555555555555555555")).await;
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(
        ignored(&h),
        vec![
            (IgnoreReason::StopBeforeStart, 4),
            (IgnoreReason::WrongStreamSid, 1)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_events_are_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    let unknown = [
        r#"{"event":"no-such-event"}"#,
        r#"{"event":"MEDIA","media":{"payload":"/w=="}}"#,
        r#"{"event":"clear","streamSid":"MZ11111111111111111111111111111111"}"#,
        r#"{"event":"ping","data":[1,2,3]}"#,
    ];
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        for text in unknown {
            send(&mut ws, text).await;
        }
        begin(&mut ws, HOSTILE).await;
        wait_ready(&mut ws).await;
        for text in unknown {
            send(&mut ws, text).await;
        }
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(
        ignored(&h),
        vec![(IgnoreReason::UnknownEvent, 2 * unknown.len() as u64)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marks_that_were_never_sent_are_ignored_and_counted() {
    let h = Harness::start(ServerConfig::default()).await;
    let mark = |name: &str| {
        format!(
            r#"{{"event":"mark","sequenceNumber":"5","streamSid":"{HOSTILE}","mark":{{"name":"{name}"}}}}"#
        )
    };
    h.beside(HEALTHY, None, async {
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        send(&mut ws, mark("early")).await;
        begin(&mut ws, HOSTILE).await;
        wait_ready(&mut ws).await;
        for name in [
            "never-sent",
            "",
            "first__1",
            "<&>",
            "x".repeat(1000).as_str(),
        ] {
            send(&mut ws, mark(name)).await;
        }
        still_works(ws, HOSTILE).await;
    })
    .await;
    assert_eq!(ignored(&h), vec![(IgnoreReason::MarkBeforeStart, 1)]);
    assert_eq!(h.record(HOSTILE).unwrap().metrics.unknown_marks, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_by_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(400),
        ..Default::default()
    };
    let h = Harness::start(config).await;
    h.beside(HEALTHY, None, async {
        // Silent from the upgrade on.
        let mut silent = connect(h.addr, "/voice", None).await.unwrap();
        // Silent after start.
        let mut quiet = started(&h, HOSTILE).await;
        for ws in [&mut silent, &mut quiet] {
            let closed = tokio::time::timeout(T, async {
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                        Some(Ok(_)) => {}
                        other => panic!("expected a close frame, got {other:?}"),
                    }
                }
            })
            .await
            .expect("closed by the idle timeout");
            assert_eq!(closed, 1000);
        }
    })
    .await;
    assert_eq!(h.server.stats().idle_timeouts(), 2);
    assert_eq!(
        h.record(HOSTILE).unwrap().reason,
        DisconnectReason::IdleTimeout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_answered_with_pongs_and_stalls_nothing() {
    let h = Harness::start(ServerConfig::default()).await;
    const PINGS: usize = 5_000;
    let (pongs, _) = h
        .beside(HEALTHY, None, async {
            let mut ws = started(&h, HOSTILE).await;
            for i in 0..PINGS {
                ws.feed(Message::Ping((i as u64).to_be_bytes().to_vec().into()))
                    .await
                    .unwrap();
            }
            ws.flush().await.unwrap();
            // The flooding call is answered with pongs and still carries audio.
            send(&mut ws, ws::media_msg(HOSTILE, 1, &[0x77; 160])).await;
            let mut pongs = 0;
            loop {
                match tokio::time::timeout(T, ws.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap()
                {
                    Message::Pong(_) => pongs += 1,
                    Message::Text(t) => {
                        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                        assert_eq!(v["event"], "media");
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            still_works(ws, HOSTILE).await;
            pongs
        })
        .await;
    assert!(
        (1..=PINGS).contains(&pongs),
        "{pongs} pongs for {PINGS} pings"
    );
    assert_eq!(ignored(&h), vec![]);
    assert_eq!(h.record(HOSTILE).unwrap().metrics.frames_in, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_opened_and_dropped() {
    use tokio::io::AsyncWriteExt;
    const CONNECTIONS: u64 = 2_000;
    let h = Harness::start(ServerConfig::default()).await;
    let addr = h.addr;
    h.beside(HEALTHY, None, async {
        futures_util::stream::iter(0..CONNECTIONS)
            .for_each_concurrent(100, |i| async move {
                let sid = format!("MZ{i:032}");
                match i % 5 {
                    // TCP only.
                    0 => drop(tokio::net::TcpStream::connect(addr).await.unwrap()),
                    // Half a request.
                    1 => {
                        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                        let _ = tcp
                            .write_all(b"GET /voice HTTP/1.1\r\nHost: x\r\nUpgr")
                            .await;
                    }
                    // Upgraded, then dropped without a close frame.
                    2 => drop(connect(addr, "/voice", None).await.unwrap()),
                    // Started, then dropped at once.
                    3 => {
                        let mut ws = connect(addr, "/voice", None).await.unwrap();
                        begin(&mut ws, &sid).await;
                    }
                    // Started, echoing, then dropped mid-call.
                    _ => {
                        let mut ws = connect(addr, "/voice", None).await.unwrap();
                        begin(&mut ws, &sid).await;
                        wait_ready(&mut ws).await;
                        send(&mut ws, ws::media_msg(&sid, 1, &[0x12; 160])).await;
                    }
                }
            })
            .await;
    })
    .await;
    let stats = h.server.stats();
    // The healthy call plus three in five of the churn were upgraded; all are closed again.
    assert_eq!(stats.streams_opened(), 1 + CONNECTIONS * 3 / 5);
    assert_eq!(stats.streams_closed(), stats.streams_opened());
    // Every started call reached the bot and ended.
    assert!(
        h.records() as u64 > CONNECTIONS / 5,
        "{} calls recorded",
        h.records()
    );
    assert_eq!(ignored(&h), vec![]);
}

const TOKEN: &str = "12345";
const PUBLIC: &str = "https://example.com";

fn enforcing() -> ServerConfig {
    ServerConfig {
        public_url: Some(PUBLIC.into()),
        signature: SignaturePolicy::Enforce(SignatureValidator::new(TOKEN).unwrap()),
        ..Default::default()
    }
}

fn sign(url: &str, params: &[(&str, &str)]) -> String {
    SignatureValidator::new(TOKEN)
        .unwrap()
        .compute(url, params.iter().copied())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_with_a_missing_wrong_or_misapplied_signature_get_403() {
    let h = Harness::start(enforcing()).await;
    let good = sign("wss://example.com/voice", &[]);
    const SECOND: &str = "MZ66666666666666666666666666666666";
    let second_done = std::sync::atomic::AtomicBool::new(true);
    let second_progress = std::sync::atomic::AtomicUsize::new(0);
    h.beside(HEALTHY, Some(&good), async {
        // The same signature again, for another call at the same time: no replay cache.
        let second = ws::healthy_call(
            h.addr,
            "/voice",
            SECOND,
            Some(&good),
            50,
            &second_done,
            &second_progress,
        );
        let refusals = async {
            let wrong = sign("wss://example.com/other", &[]);
            let query_signed = sign("wss://example.com/voice?x=1", &[]);
            let routed = sign("wss://example.com/voice/route-a", &[]);
            let cases: [(&str, Option<&str>); 6] = [
                ("/voice", None),
                ("/voice", Some("")),
                ("/voice", Some("bm90IGEgc2lnbmF0dXJl")),
                ("/voice", Some(&wrong)),
                ("/voice?x=2", Some(&query_signed)),
                ("/voice/route-b", Some(&routed)),
            ];
            for (path, sig) in cases {
                assert_eq!(
                    ws::refused_status(h.addr, path, sig).await,
                    403,
                    "{path} {sig:?}"
                );
            }
            // The signed variants themselves are accepted.
            for (path, sig) in [("/voice?x=1", &query_signed), ("/voice/route-a", &routed)] {
                let ws = connect(h.addr, path, Some(sig)).await.expect(path);
                drop(ws);
            }
            cases.len() as u64
        };
        let (sent, refused) = tokio::join!(second, refusals);
        assert!(sent >= 50);
        refused
    })
    .await;
    assert_eq!(h.server.stats().signature_rejections(), 6);
    assert_eq!(
        h.record(SECOND).unwrap().reason,
        DisconnectReason::RemoteStop
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_with_a_missing_wrong_or_changed_signature_get_403() {
    let h = Harness::start(enforcing()).await;
    let good = sign("wss://example.com/voice", &[]);
    let (rejected, _) = h
        .beside(HEALTHY, Some(&good), async {
            let params = [
                ("CallSid", "CA123"),
                ("From", "+358401234567"),
                ("To", "+15005550006"),
            ];
            let sig = sign("https://example.com/incoming", &params);
            let body = http::form(&params);
            // Valid twice: Twilio signs retries and repeated calls the same way.
            for _ in 0..2 {
                let ok = http::post(
                    h.addr,
                    "/incoming",
                    Some(FORM),
                    &[("X-Twilio-Signature", &sig)],
                    &body,
                )
                .await;
                assert_eq!(ok.status, 200, "{}", ok.text());
            }
            let changed = http::form(&[
                ("CallSid", "CA123"),
                ("From", "+358409999999"),
                ("To", "+15005550006"),
            ]);
            let extra = http::form(&[
                ("CallSid", "CA123"),
                ("From", "+358401234567"),
                ("To", "+15005550006"),
                ("Extra", "1"),
            ]);
            let mut rejected = 0;
            for (path, sig, body) in [
                ("/incoming", None, &body),
                ("/incoming", Some("bm90IGEgc2lnbmF0dXJl"), &body),
                ("/incoming", Some(sig.as_str()), &changed),
                ("/incoming", Some(sig.as_str()), &extra),
                ("/incoming?x=1", Some(sig.as_str()), &body),
                ("/status", Some(sig.as_str()), &body),
            ] {
                let headers: Vec<(&str, &str)> =
                    sig.iter().map(|s| ("X-Twilio-Signature", *s)).collect();
                let reply = http::post(h.addr, path, Some(FORM), &headers, body).await;
                assert_eq!(reply.status, 403, "{path} {sig:?}: {}", reply.text());
                rejected += 1;
            }
            rejected
        })
        .await;
    assert_eq!(h.server.stats().signature_rejections(), rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_webhook_bodies_get_413() {
    let config = ServerConfig {
        max_webhook_bytes: 1024,
        ..Default::default()
    };
    let h = Harness::start(config).await;
    h.beside(HEALTHY, None, async {
        let big = http::form(&[("CallSid", "CA1"), ("From", &"1".repeat(2000))]);
        for path in ["/incoming", "/status"] {
            let reply = http::post(h.addr, path, Some(FORM), &[], &big).await;
            assert_eq!(reply.status, 413, "{path} with Content-Length");
            // No length announced: the limit still holds while reading.
            let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
            chunked.extend_from_slice(&big);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            let reply = http::post(
                h.addr,
                path,
                Some(FORM),
                &[("Transfer-Encoding", "chunked")],
                &chunked,
            )
            .await;
            assert_eq!(reply.status, 413, "{path} chunked");
        }
        // Just under the limit is served.
        let fits = http::form(&[("CallSid", "CA1"), ("From", &"1".repeat(900))]);
        let reply = http::post(h.addr, "/status", Some(FORM), &[], &fits).await;
        assert_eq!(reply.status, 400, "no CallStatus: {}", reply.text());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_webhook_bodies_get_a_4xx() {
    let h = Harness::start(ServerConfig::default()).await;
    h.beside(HEALTHY, None, async {
        let bodies: [(&str, Option<&str>, &[u8]); 11] = [
            ("bad percent escape", Some(FORM), b"CallSid=CA1&From=%zz"),
            ("truncated escape", Some(FORM), b"CallSid=CA1&From=%4"),
            (
                "escape of invalid UTF-8",
                Some(FORM),
                b"CallSid=CA1&From=%e9%ff",
            ),
            (
                "raw invalid UTF-8",
                Some(FORM),
                b"CallSid=CA1&From=\xff\xfe",
            ),
            ("binary", Some(FORM), &[0, 159, 146, 150, 255, 0, 1, 2]),
            ("JSON", Some("application/json"), br#"{"CallSid":"CA1"}"#),
            ("text", Some("text/plain"), b"CallSid=CA1"),
            (
                "multipart",
                Some("multipart/form-data; boundary=x"),
                b"--x--",
            ),
            ("no content type", None, b"CallSid=CA1"),
            (
                "form-ish type",
                Some("application/x-www-form-urlencodedx"),
                b"CallSid=CA1",
            ),
            ("octets", Some("application/octet-stream"), &[0xFF; 64]),
        ];
        for path in ["/incoming", "/status"] {
            for (what, ct, body) in &bodies {
                let reply = http::post(h.addr, path, *ct, &[], body).await;
                assert!(
                    (400..500).contains(&reply.status),
                    "{path} {what}: {} {}",
                    reply.status,
                    reply.text()
                );
            }
            // A charset parameter on the right type is fine.
            let ok = http::post(
                h.addr,
                path,
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                &[],
                b"CallSid=CA1&CallStatus=ringing",
            )
            .await;
            assert!(ok.status < 300, "{path} with charset: {}", ok.status);
        }
        // No Host header (HTTP/1.0) and no configured public URL: the request is at fault.
        let reply = http::raw(
            h.addr,
            &format!("POST /incoming HTTP/1.0\r\nContent-Type: {FORM}\r\n"),
            b"CallSid=CA1",
        )
        .await;
        assert!(
            (400..500).contains(&reply.status),
            "no Host: {}",
            reply.status
        );
        // A Host that cannot make a stream URL.
        let reply = http::raw(
            h.addr,
            &format!("POST /incoming HTTP/1.1\r\nHost: a?b\r\nContent-Type: {FORM}\r\n"),
            b"CallSid=CA1",
        )
        .await;
        assert!(
            (400..500).contains(&reply.status),
            "bad Host: {}",
            reply.status
        );
    })
    .await;
}

/// The `<Parameter>`s and the `<Stream url>` of a TwiML answer, unescaped by a real XML parser.
fn twiml_parameters(xml: &str) -> (String, Vec<(String, String)>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut url = String::new();
    let mut params = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &[u8]| {
                    e.try_get_attribute(name)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"Stream" => url = attr(b"url").unwrap(),
                    b"Parameter" => params.push((attr(b"name").unwrap(), attr(b"value").unwrap())),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (url, params)
}

/// XML 1.0's `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_with_markup_or_control_characters_come_out_escaped_in_twiml() {
    let h = Harness::start(ServerConfig::default()).await;
    h.beside(HEALTHY, None, async {
        let from = r#"<Hangup/>&amp;"'</Stream>"#;
        let to = "+1\u{1}5\u{0}5\u{1b}\u{fffe}\t\n\r0";
        let call_sid = "CA\u{7}]]>";
        let body = http::form(&[("CallSid", call_sid), ("From", from), ("To", to)]);
        let reply = http::post(h.addr, "/incoming", Some(FORM), &[], &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let xml = reply.text();
        assert!(
            xml.chars().all(xml_char),
            "raw invalid XML character in {xml:?}"
        );
        let (url, params) = twiml_parameters(&xml);
        assert_eq!(url, format!("ws://{}/voice", h.addr));
        let strip = |s: &str| s.chars().filter(|c| xml_char(*c)).collect::<String>();
        assert_eq!(
            params,
            vec![
                ("From".to_owned(), from.to_owned()),
                ("To".to_owned(), strip(to)),
                ("CallSid".to_owned(), strip(call_sid)),
            ]
        );
        // A value too long for a <Parameter> is left out; the call still gets its TwiML.
        let long = "9".repeat(600);
        let body = http::form(&[("CallSid", "CA2"), ("From", &long)]);
        let reply = http::post(h.addr, "/incoming", Some(FORM), &[], &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let (_, params) = twiml_parameters(&reply.text());
        assert_eq!(params, vec![("CallSid".to_owned(), "CA2".to_owned())]);
        // A Host header cannot inject markup either.
        let reply = http::raw(
            h.addr,
            &format!(
                "POST /incoming HTTP/1.1\r\nHost: x\"><Hangup>&amp;\r\nContent-Type: {FORM}\r\n"
            ),
            b"CallSid=CA1",
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let (url, params) = twiml_parameters(&reply.text());
        assert_eq!(url, "ws://x\"><Hangup>&amp;/voice");
        assert_eq!(params, vec![("CallSid".to_owned(), "CA1".to_owned())]);
        assert!(!reply.text().contains("<Hangup"), "{}", reply.text());
        // Markup and control characters in a stream's custom parameters reach the bot intact.
        let mut ws = connect(h.addr, "/voice", None).await.unwrap();
        send(&mut ws, ws::connected_msg()).await;
        send(
            &mut ws,
            ws::start_msg(HOSTILE, &[("From", from), ("To", to)]),
        )
        .await;
        wait_ready(&mut ws).await;
        still_works(ws, HOSTILE).await;
    })
    .await;
    let rec = h.record(HOSTILE).unwrap();
    assert_eq!(
        rec.info.caller.as_deref(),
        Some(r#"<Hangup/>&amp;"'</Stream>"#)
    );
    assert_eq!(
        rec.info.custom_parameters["To"],
        "+1\u{1}5\u{0}5\u{1b}\u{fffe}\t\n\r0"
    );
}
