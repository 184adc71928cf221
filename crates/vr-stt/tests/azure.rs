//! Azure Speech against a local fake server that follows the protocol notes (§4–§8): the
//! upgrade's query and headers, `speech.config` / `speech.context` text frames, binary audio
//! frames with the 2-byte header length, the WAV header, turns and close codes.
#![cfg(feature = "azure")]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Conn, Fake, Plan, event_within, eventually, next_event, quick_backoff};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use vr_session::{
    AudioSender, SourcedSttEvent, SttError, SttEvent, SttEventSink, SttProvider, SttSource,
    audio_channel,
};
use vr_stt::azure::{AzureStt, AzureSttBuilder, CONVERSATION_PATH};

const KEY: &str = "azure-test-key-0123456789";

fn builder(fake: &Fake) -> AzureSttBuilder {
    AzureStt::builder()
        .key(KEY)
        .endpoint(format!("{}{CONVERSATION_PATH}", fake.base()))
        .backoff(quick_backoff())
        .connect_timeout(Duration::from_secs(2))
}

async fn started(
    builder: AzureSttBuilder,
) -> (
    AzureStt,
    AudioSender,
    tokio::sync::mpsc::Receiver<SourcedSttEvent>,
) {
    let mut stt = builder.build().expect("valid config");
    let (audio_tx, audio_rx) = audio_channel(500);
    let (sink, events) = SttEventSink::channel(SttSource::Primary);
    timeout(Duration::from_secs(5), stt.start(audio_rx, sink))
        .await
        .expect("start in time")
        .expect("start");
    (stt, audio_tx, events)
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_timestamp(s: &str) -> bool {
    // 2026-07-13T22:52:35.123Z
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
}

/// A message in the USP framing, headers keyed by lower-case name.
#[derive(Debug)]
struct Usp {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    binary: bool,
}

impl Usp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    fn path(&self) -> &str {
        self.header("Path").unwrap_or_default()
    }
    fn id(&self) -> &str {
        self.header("X-RequestId").unwrap_or_default()
    }
}

fn header_lines(block: &str) -> BTreeMap<String, String> {
    block
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(": ").expect("`Name: value` header line");
            (k.to_ascii_lowercase(), v.to_owned())
        })
        .collect()
}

fn parse(msg: Message) -> Option<Usp> {
    match msg {
        Message::Text(t) => {
            let (head, body) = t.as_str().split_once("\r\n\r\n").expect("blank line");
            Some(Usp {
                headers: header_lines(head),
                body: body.as_bytes().to_vec(),
                binary: false,
            })
        }
        Message::Binary(b) => {
            let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
            let head = std::str::from_utf8(&b[2..2 + n]).expect("ascii headers");
            assert!(head.ends_with("\r\n") && !head.ends_with("\r\n\r\n"));
            Some(Usp {
                headers: header_lines(head),
                body: b[2 + n..].to_vec(),
                binary: true,
            })
        }
        _ => None,
    }
}

async fn next_usp(conn: &mut Conn) -> Usp {
    loop {
        let msg = conn.next().await.expect("a message from the client");
        if let Some(usp) = parse(msg) {
            return usp;
        }
    }
}

/// Checks `speech.context` and the WAV-header audio message of a turn; returns the turn id.
async fn expect_turn(conn: &mut Conn) -> String {
    let ctx = next_usp(conn).await;
    assert!(!ctx.binary);
    assert_eq!(ctx.path(), "speech.context");
    assert!(is_hex32(ctx.id()), "{ctx:?}");
    assert!(is_timestamp(ctx.header("X-Timestamp").unwrap_or_default()));
    assert_eq!(ctx.header("Content-Type"), Some("application/json"));
    serde_json::from_slice::<serde_json::Value>(&ctx.body).expect("JSON context");
    let wav = next_usp(conn).await;
    assert!(wav.binary);
    assert_eq!(wav.path(), "audio");
    assert_eq!(wav.id(), ctx.id());
    assert_eq!(wav.header("Content-Type"), Some("audio/x-wav"));
    let h = &wav.body;
    assert_eq!(h.len(), 44);
    assert_eq!(&h[0..4], b"RIFF");
    assert_eq!(&h[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([h[20], h[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([h[22], h[23]]), 1, "mono");
    assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 16_000);
    assert_eq!(u16::from_le_bytes([h[34], h[35]]), 16, "16-bit");
    assert_eq!(&h[36..40], b"data");
    ctx.id().to_owned()
}

/// Checks the opening of a connection (`speech.config`, then a turn); returns the turn id.
async fn expect_opening(conn: &mut Conn) -> String {
    let up = &conn.upgrade;
    assert_eq!(up.path, CONVERSATION_PATH);
    assert_eq!(up.header("Ocp-Apim-Subscription-Key"), Some(KEY));
    assert!(is_hex32(up.header("X-ConnectionId").unwrap_or_default()));
    let config = next_usp(conn).await;
    assert!(!config.binary);
    assert_eq!(config.path(), "speech.config");
    assert!(is_hex32(config.id()));
    assert_eq!(config.header("Content-Type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&config.body).expect("JSON config");
    assert!(v["context"]["system"].is_object());
    let id = expect_turn(conn).await;
    assert_eq!(config.id(), id);
    id
}

/// Reads audio messages of turn `id` until `samples` PCM samples arrived or the stream ends;
/// returns the samples and whether the end-of-stream message came.
async fn read_audio(conn: &mut Conn, id: &str, samples: usize) -> (Vec<i16>, bool) {
    let mut pcm = Vec::new();
    while pcm.len() < samples {
        let usp = next_usp(conn).await;
        assert!(usp.binary, "{usp:?}");
        assert_eq!(usp.path(), "audio");
        assert_eq!(usp.id(), id);
        assert_eq!(usp.header("Content-Type"), None);
        assert!(is_timestamp(usp.header("X-Timestamp").unwrap_or_default()));
        if usp.body.is_empty() {
            return (pcm, true);
        }
        assert_eq!(usp.body.len() % 2, 0);
        pcm.extend(
            usp.body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]])),
        );
    }
    (pcm, false)
}

fn service(path: &str, id: &str, body: &str) -> String {
    format!(
        "Path: {path}\r\nX-RequestId: {id}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{body}"
    )
}

/// A μ-law frame of a 440 Hz tone, phase-continuous over frame numbers.
fn tone_frame(n: u32) -> bytes::Bytes {
    let pcm: Vec<i16> = (0..160u32)
        .map(|i| {
            let t = f64::from(n * 160 + i) / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect();
    bytes::Bytes::from(vr_codec::mulaw::encode_to_vec(&pcm))
}

#[tokio::test]
async fn recognition_flow_over_turns_with_vr_codec_conversion() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, mut events) = started(builder(&fake)).await;
    let mut conn = fake.conn().await;
    for (k, v) in [
        ("language", "fi-FI"),
        ("format", "simple"),
        ("endSilenceTimeoutMs", "1500"),
    ] {
        assert_eq!(conn.upgrade.param(k), Some(v), "{k}");
    }
    let id1 = expect_opening(&mut conn).await;

    let mut sent = Vec::new();
    for n in 0..10 {
        let f = tone_frame(n);
        sent.extend_from_slice(&f);
        audio.push(f);
    }
    // The resampler holds back 32 input samples (64 output samples) until the end.
    let (mut pcm, ended) = read_audio(&mut conn, &id1, 10 * 320 - 64).await;
    assert!(!ended);

    for (path, body) in [
        (
            "turn.start",
            r#"{"context":{"serviceTag":"7B33613B91714B32817815DC89633AFA"}}"#,
        ),
        ("speech.startDetected", r#"{"Offset":100000}"#),
        (
            "speech.hypothesis",
            r#"{"Text":"hei","Offset":1000000,"Duration":5000000}"#,
        ),
        (
            "speech.fragment",
            r#"{"Text":"hei mitä","Offset":1000000,"Duration":5000000}"#,
        ),
        (
            "speech.phrase",
            r#"{"RecognitionStatus":"Success","DisplayText":"Hei, mitä kuuluu?","Offset":1000000,"Duration":12300000}"#,
        ),
        (
            "speech.phrase",
            r#"{"RecognitionStatus":"NoMatch","Offset":1,"Duration":2}"#,
        ),
        (
            "speech.phrase",
            r#"{"RecognitionStatus":"InitialSilenceTimeout"}"#,
        ),
        (
            "speech.phrase",
            r#"{"RecognitionStatus":"Success","DisplayText":" "}"#,
        ),
        ("speech.endDetected", r#"{"Offset":300000}"#),
    ] {
        conn.send_text(service(path, &id1, body)).await;
    }
    // A message of another turn is ignored.
    conn.send_text(service(
        "speech.hypothesis",
        "0123456789ABCDEF0123456789ABCDEF",
        r#"{"Text":"vanha"}"#,
    ))
    .await;
    conn.send_text("garbage without headers").await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("hei".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("hei mitä".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Committed("Hei, mitä kuuluu?".into())
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(200)).await,
        None
    );

    // turn.end while audio continues: a new turn on the same socket (§7.1).
    conn.send_text(service("turn.end", &id1, "")).await;
    let id2 = expect_turn(&mut conn).await;
    assert_ne!(id1, id2);
    conn.send_text(service("speech.hypothesis", &id1, r#"{"Text":"vanha"}"#))
        .await;
    conn.send_text(service(
        "speech.hypothesis",
        &id2.to_ascii_lowercase(),
        r#"{"Text":"uusi"}"#,
    ))
    .await;
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Partial("uusi".into())
    );

    for n in 10..15 {
        let f = tone_frame(n);
        sent.extend_from_slice(&f);
        audio.push(f);
    }
    audio.close();
    let (rest, ended) = read_audio(&mut conn, &id2, usize::MAX).await;
    assert!(ended, "an empty audio message ends the stream");
    pcm.extend(rest);
    // Exactly vr-codec's decoder and resampler over the whole stream.
    let decoded = vr_codec::mulaw::decode_to_vec(&sent);
    let expected = vr_codec::resample::resample(&decoded, 8000, 16_000).expect("resample");
    assert_eq!(pcm.len(), 15 * 320);
    assert_eq!(pcm, expected);

    stt.stop().await;
    match conn.next().await {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected a normal close, got {other:?}"),
    }
    assert_eq!(stt.stats().running_tasks, 0);
    assert_eq!(fake.attempts(), 1);
}

#[tokio::test]
async fn an_endpoint_without_a_path_gets_the_conversation_path() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, _audio, _events) = started(builder(&fake).endpoint(fake.base())).await;
    let mut conn = fake.conn().await;
    expect_opening(&mut conn).await;
    drop(conn);
    stt.stop().await;
}

#[tokio::test]
async fn close_codes_reconnect_or_end_the_call() {
    for code in [1000u16, 1001, 1011] {
        let mut fake = Fake::start(|_| Plan::Accept).await;
        let (mut stt, _audio, mut events) = started(builder(&fake)).await;
        let mut conn = fake.conn().await;
        expect_opening(&mut conn).await;
        let _ = conn
            .ws
            .close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "bye".into(),
            }))
            .await;
        let mut again = fake.conn().await;
        let id = expect_opening(&mut again).await;
        again
            .send_text(service("speech.hypothesis", &id, r#"{"Text":"takaisin"}"#))
            .await;
        assert_eq!(
            next_event(&mut events).await,
            SttEvent::Partial("takaisin".into()),
            "close {code} reconnects silently"
        );
        drop(again);
        stt.stop().await;
    }
    for (code, reason) in [
        (1002u16, "bad_request_close_1002"),
        (1003, "bad_request_close_1003"),
        (1007, "bad_request_parameters_close_1007"),
        (1008, "bad_request_close_1008"),
    ] {
        let mut fake = Fake::start(|_| Plan::Accept).await;
        let (mut stt, _audio, mut events) = started(builder(&fake)).await;
        let mut conn = fake.conn().await;
        expect_opening(&mut conn).await;
        let _ = conn
            .ws
            .close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "bad".into(),
            }))
            .await;
        assert_eq!(
            next_event(&mut events).await,
            SttEvent::Error(reason.into())
        );
        assert_eq!(
            event_within(&mut events, Duration::from_millis(300)).await,
            None
        );
        assert!(fake.conn_within(Duration::from_millis(300)).await.is_none());
        assert!(eventually(|| stt.stats().running_tasks == 0).await);
        stt.stop().await;
    }
}

#[tokio::test]
async fn a_socket_dropped_mid_call_loses_no_audio_after_the_reconnect() {
    const FRAMES: u32 = 100;
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, audio, mut events) = started(builder(&fake)).await;
    let pushed = Arc::new(AtomicU32::new(0));
    let producer = {
        let pushed = pushed.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for n in 0..FRAMES {
                tick.tick().await;
                audio.push(tone_frame(n));
                pushed.store(n + 1, Ordering::SeqCst);
            }
            audio.close();
        })
    };
    let mut first = fake.conn().await;
    let id = expect_opening(&mut first).await;
    let (before, _) = read_audio(&mut first, &id, 30 * 320).await;
    let pushed_before_drop = pushed.load(Ordering::SeqCst);
    drop(first);
    let pushed_at_drop = pushed.load(Ordering::SeqCst);
    let mut second = fake.conn().await;
    let id = expect_opening(&mut second).await;
    let (after, ended) = read_audio(&mut second, &id, usize::MAX).await;
    assert!(ended);
    timeout(Duration::from_secs(5), producer)
        .await
        .expect("producer done")
        .expect("producer");
    // A new connection is a new stream: its resampler output is exactly 320 samples a frame.
    assert_eq!(after.len() % 320, 0);
    let frames_after = u32::try_from(after.len() / 320).expect("small");
    assert!(
        frames_after >= FRAMES - pushed_at_drop,
        "every frame pushed after the drop arrived ({frames_after} < {})",
        FRAMES - pushed_at_drop
    );
    let frames_before = u32::try_from((before.len() + 64) / 320).expect("small");
    let in_flight = pushed_at_drop - pushed_before_drop + 2;
    assert!(
        frames_before + frames_after + in_flight >= FRAMES,
        "only frames in flight may be lost: {frames_before} + {frames_after}"
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(100)).await,
        None
    );
    assert_eq!(stt.stats().reconnects, 1);
    stt.stop().await;
}

#[tokio::test]
async fn authentication_failures_are_terminal() {
    let fake = Fake::start(|_| Plan::Reject(401)).await;
    let mut stt = builder(&fake).build().expect("config");
    let (_tx, rx) = audio_channel(500);
    let (sink, _events) = SttEventSink::channel(SttSource::Primary);
    match timeout(Duration::from_secs(5), stt.start(rx, sink))
        .await
        .expect("in time")
    {
        Err(SttError::Auth(msg)) => assert!(!msg.contains(KEY)),
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(!format!("{stt:?}").contains(KEY));

    let mut fake = Fake::start(|i| {
        if i == 0 {
            Plan::Accept
        } else {
            Plan::Reject(403)
        }
    })
    .await;
    let (mut stt, _audio, mut events) = started(builder(&fake)).await;
    drop(fake.conn().await);
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Error("auth_error".into())
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(fake.attempts(), 2);
    stt.stop().await;
}

#[tokio::test]
async fn reconnects_are_exhausted_after_three_attempts() {
    let mut fake = Fake::start(|i| if i == 0 { Plan::Accept } else { Plan::Drop }).await;
    let (mut stt, _audio, mut events) = started(builder(&fake)).await;
    drop(fake.conn().await);
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Error("reconnect_exhausted_after_3_attempts".into())
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(fake.attempts(), 4);
    assert!(eventually(|| stt.stats().running_tasks == 0).await);
    stt.stop().await;
}

#[tokio::test]
async fn stop_during_reconnect_returns_promptly_and_nothing_reconnects() {
    let mut fake = Fake::start(|_| Plan::Accept).await;
    let (mut stt, _audio, _events) = started(builder(&fake).backoff(vr_stt::Backoff {
        base: Duration::from_secs(1),
        jitter: 0.0,
        ..vr_stt::Backoff::default()
    }))
    .await;
    drop(fake.conn().await);
    sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    timeout(Duration::from_secs(3), stt.stop())
        .await
        .expect("stop in time");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(stt.stats().running_tasks, 0);
    sleep(Duration::from_millis(1300)).await;
    assert_eq!(fake.attempts(), 1);
}
