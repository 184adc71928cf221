//! The axum handler end to end on loopback: a full call, bad input beside a healthy call,
//! signatures, REST-first hang-up and the idle timeout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vr_session::{
    AudioReceiver, CallHandle, MarkOutcome, SttError, SttEventSink, SttProvider, VoiceSession,
};
use vr_twilio::server::{BotFn, CallEnder, ServerConfig, SignaturePolicy, VoiceServer};
use vr_twilio::signature::SignatureValidator;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
const T: Duration = Duration::from_secs(10);

/// Counts the caller frames a call's recogniser receives.
struct CountingStt(Arc<AtomicUsize>, Option<tokio::task::JoinHandle<()>>);

#[async_trait]
impl SttProvider for CountingStt {
    fn name(&self) -> &str {
        "counting"
    }
    async fn start(&mut self, mut audio: AudioReceiver, _: SttEventSink) -> Result<(), SttError> {
        let n = self.0.clone();
        self.1 = Some(tokio::spawn(async move {
            while audio.recv().await.is_some() {
                n.fetch_add(1, Ordering::SeqCst);
            }
        }));
        Ok(())
    }
    async fn stop(&mut self) {
        if let Some(t) = self.1.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

async fn serve(server: VoiceServer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server.router();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

fn counting_sessions(counter: Arc<AtomicUsize>) -> vr_twilio::server::SessionFactory {
    Arc::new(move || {
        let session = VoiceSession::new();
        let c = counter.clone();
        session.set_stt_factory(Some(Arc::new(move || {
            Ok(Box::new(CountingStt(c.clone(), None)) as _)
        })));
        session
    })
}

async fn connect(
    addr: SocketAddr,
    path: &str,
    signature: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(sig) = signature {
        req.headers_mut()
            .insert("X-Twilio-Signature", sig.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

fn start_msg(stream: &str, call: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC00000000000000000000000000000000","streamSid":"{stream}","callSid":"{call}","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{"From":"+358401234567"}}}},"streamSid":"{stream}"}}"#
    )
}

fn media_msg(stream: &str, seq: u64) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode([0xFFu8; 160]);
    format!(
        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{seq}","timestamp":"{}","payload":"{payload}"}},"streamSid":"{stream}"}}"#,
        seq + 1,
        seq * 20
    )
}

async fn begin(ws: &mut Ws, stream: &str, call: &str) {
    ws.send(Message::text(
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
    ))
    .await
    .unwrap();
    ws.send(Message::text(start_msg(stream, call)))
        .await
        .unwrap();
}

async fn next_json(ws: &mut Ws) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(T, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

const STREAM_A: &str = "MZaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const STREAM_B: &str = "MZbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[tokio::test]
async fn a_full_call_with_marks_and_a_clear() {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let o = outcomes.clone();
    let bot = BotFn(move |call: CallHandle| {
        let o = o.clone();
        async move {
            for _ in 0..5 {
                call.send_audio(bytes::Bytes::from_static(&[0x55; 160]))
                    .await
                    .unwrap();
            }
            let first = call.mark_and_wait("first", T).await.unwrap();
            for _ in 0..5 {
                call.send_audio(bytes::Bytes::from_static(&[0x55; 160]))
                    .await
                    .unwrap();
            }
            let pending = call.send_mark("second").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            call.barge_in().unwrap();
            let second = pending.wait(T).await;
            o.lock().unwrap().extend([first, second]);
            call.hangup().unwrap();
        }
    });
    let counter = Arc::new(AtomicUsize::new(0));
    let server = VoiceServer::new(
        ServerConfig::default(),
        Arc::new(bot),
        counting_sessions(counter.clone()),
    );
    let addr = serve(server.clone()).await;
    let mut ws = connect(addr, "/voice", None).await.unwrap();
    begin(&mut ws, STREAM_A, "CA00000000000000000000000000000001").await;
    for i in 0..10 {
        ws.send(Message::text(media_msg(STREAM_A, i)))
            .await
            .unwrap();
    }
    let mut media = 0;
    let mut marks = Vec::new();
    let mut clears = 0;
    while let Some(msg) = next_json(&mut ws).await {
        assert_eq!(msg["streamSid"], STREAM_A);
        match msg["event"].as_str().unwrap() {
            "media" => media += 1,
            "mark" => {
                let name = msg["mark"]["name"].as_str().unwrap().to_owned();
                if marks.is_empty() {
                    // Twilio echoes after playback.
                    ws.send(Message::text(format!(r#"{{"event":"mark","streamSid":"{STREAM_A}","sequenceNumber":"20","mark":{{"name":"{name}"}}}}"#))).await.unwrap();
                }
                marks.push(name);
            }
            "clear" => {
                clears += 1;
                // Twilio echoes pending marks when a clear empties its buffer.
                let name = marks.last().unwrap().clone();
                ws.send(Message::text(format!(r#"{{"event":"mark","streamSid":"{STREAM_A}","sequenceNumber":"21","mark":{{"name":"{name}"}}}}"#))).await.unwrap();
            }
            other => panic!("unexpected outbound event {other}"),
        }
    }
    assert_eq!(media, 10);
    assert_eq!(marks.len(), 2);
    assert!(marks[0].starts_with("first__"));
    assert_eq!(clears, 1);
    assert_eq!(
        *outcomes.lock().unwrap(),
        vec![MarkOutcome::Played, MarkOutcome::Cleared]
    );
    assert_eq!(counter.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn bad_input_never_ends_a_call_nor_loses_a_healthy_calls_frames() {
    let counter = Arc::new(AtomicUsize::new(0));
    let bot = BotFn(|_call: CallHandle| async {});
    let server = VoiceServer::new(
        ServerConfig::default(),
        Arc::new(bot),
        counting_sessions(counter.clone()),
    );
    let addr = serve(server.clone()).await;
    let mut healthy = connect(addr, "/voice", None).await.unwrap();
    begin(&mut healthy, STREAM_A, "CA0000000000000000000000000000000a").await;
    let mut hostile = connect(addr, "/voice", None).await.unwrap();
    // Media before start, stop before start, then a start.
    hostile
        .send(Message::text(media_msg(STREAM_B, 0)))
        .await
        .unwrap();
    hostile
        .send(Message::text(
            r#"{"event":"stop","streamSid":"MZx","sequenceNumber":"2"}"#,
        ))
        .await
        .unwrap();
    begin(&mut hostile, STREAM_B, "CA0000000000000000000000000000000b").await;
    let bad: Vec<Message> = vec![
        Message::text("not json at all"),
        Message::binary(vec![1u8, 2, 3]),
        Message::text(
            r#"{"event":"media","streamSid":"MZbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","media":{"payload":"!!!not-base64!!!"}}"#,
        ),
        Message::text(format!(
            r#"{{"event":"media","streamSid":"{STREAM_B}","media":{{"payload":"{}"}}}}"#,
            "A".repeat(100_000)
        )),
        Message::text(r#"{"event":"no-such-event"}"#),
        Message::text(start_msg(STREAM_B, "CA0000000000000000000000000000000c")),
        Message::text(
            r#"{"event":"mark","streamSid":"MZbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","mark":{"name":"never-sent"}}"#,
        ),
        Message::text(
            r#"{"event":"media","streamSid":"MZbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","media":{"payload":"/w=="}}"#,
        ),
    ];
    for (i, msg) in bad.into_iter().enumerate() {
        hostile.send(msg).await.unwrap();
        healthy
            .send(Message::text(media_msg(STREAM_A, i as u64)))
            .await
            .unwrap();
    }
    for i in 8..100 {
        healthy
            .send(Message::text(media_msg(STREAM_A, i)))
            .await
            .unwrap();
    }
    // The hostile call is still up: a well-formed frame still gets through.
    hostile
        .send(Message::text(media_msg(STREAM_B, 1)))
        .await
        .unwrap();
    for _ in 0..500 {
        if counter.load(Ordering::SeqCst) == 102 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 100 healthy frames, plus the odd-sized and the last well-formed frame of the hostile call.
    assert_eq!(counter.load(Ordering::SeqCst), 102);
    assert_eq!(server.registry().len(), 2);
    use vr_twilio::stream::IgnoreReason::*;
    for reason in [
        NotJson,
        BinaryFrame,
        BadBase64,
        TooLarge,
        UnknownEvent,
        DuplicateStart,
        MediaBeforeStart,
        StopBeforeStart,
    ] {
        assert!(server.stats().ignored(reason) >= 1, "{reason:?} counted");
    }
    for (ws, sid) in [(&mut healthy, STREAM_A), (&mut hostile, STREAM_B)] {
        let stop = format!(r#"{{"event":"stop","streamSid":"{sid}","sequenceNumber":"999"}}"#);
        ws.send(Message::text(stop)).await.unwrap();
    }
    let drained = tokio::time::timeout(T, server.registry().wait_empty()).await;
    assert!(
        drained.is_ok(),
        "still live: {:?}",
        server.registry().stream_sids()
    );
}

#[tokio::test]
async fn signatures_are_checked_before_the_upgrade_and_on_webhooks() {
    let token = "12345";
    let config = ServerConfig {
        public_url: Some("https://example.com".into()),
        signature: SignaturePolicy::Enforce(SignatureValidator::new(token).unwrap()),
        ..Default::default()
    };
    let server = VoiceServer::new(
        config,
        Arc::new(BotFn(|_c: CallHandle| async {})),
        Arc::new(VoiceSession::new),
    );
    let addr = serve(server.clone()).await;
    // No header, or a wrong one: HTTP 403 instead of an upgrade (W15a).
    for sig in [None, Some("bm90IGEgc2lnbmF0dXJl")] {
        match connect(addr, "/voice", sig).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 403)
            }
            other => panic!("expected 403, got {other:?}"),
        }
    }
    // The vector from media-streams.md §2.
    assert!(
        connect(addr, "/voice", Some("1iUnCEOmZ+5wxYj625CZ601WpQo="))
            .await
            .is_ok()
    );
    // Routed paths validate against their own URL (W9).
    let validator = SignatureValidator::new(token).unwrap();
    let routed = validator.compute(
        "wss://example.com/voice/route-1",
        std::iter::empty::<(&str, &str)>(),
    );
    assert!(connect(addr, "/voice/route-1", Some(&routed)).await.is_ok());

    let client = reqwest::Client::new();
    let params = [
        ("CallSid", "CA123"),
        ("From", "+358401234567"),
        ("To", "+15005550006"),
    ];
    let good = validator.compute("https://example.com/incoming", params);
    let ok = client
        .post(format!("http://{addr}/incoming"))
        .header("X-Twilio-Signature", &good)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let twiml = ok.text().await.unwrap();
    assert!(
        twiml.contains(r#"<Stream url="wss://example.com/voice">"#),
        "{twiml}"
    );
    assert!(
        twiml.contains(r#"<Parameter name="From" value="+358401234567"/>"#),
        "{twiml}"
    );
    // A valid signature over other parameters is refused (no replay of a changed body).
    let changed = [
        ("CallSid", "CA123"),
        ("From", "+358409999999"),
        ("To", "+15005550006"),
    ];
    let bad = client
        .post(format!("http://{addr}/incoming"))
        .header("X-Twilio-Signature", &good)
        .form(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    assert!(server.stats().signature_rejections() >= 3);
}

#[test]
fn w15b_no_token_is_allowed_only_on_loopback_or_with_an_explicit_skip() {
    use std::net::{IpAddr, Ipv4Addr};
    let public = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    assert!(SignaturePolicy::resolve(None, false, public).is_err());
    assert!(matches!(
        SignaturePolicy::resolve(None, false, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Ok(SignaturePolicy::Disabled)
    ));
    assert!(matches!(
        SignaturePolicy::resolve(None, true, public),
        Ok(SignaturePolicy::Disabled)
    ));
    assert!(matches!(
        SignaturePolicy::resolve(Some("tok"), false, public),
        Ok(SignaturePolicy::Enforce(_))
    ));
    assert!(SignaturePolicy::skip_requested(Some("YES")));
    assert!(!SignaturePolicy::skip_requested(Some("0")));
}

/// Records REST hang-ups; fails when told to.
struct FakeEnder {
    calls: Mutex<Vec<String>>,
    fail: bool,
}

impl CallEnder for FakeEnder {
    fn end_call<'a>(
        &'a self,
        call_sid: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(call_sid.to_owned());
            if self.fail {
                Err("HTTP 401 (20003)".into())
            } else {
                Ok(())
            }
        })
    }
}

async fn hangup_scenario(fail: bool, twilio_closes: bool) -> (Vec<String>, bool, Duration) {
    let ender = Arc::new(FakeEnder {
        calls: Mutex::new(Vec::new()),
        fail,
    });
    let config = ServerConfig {
        rest_close_wait: Duration::from_millis(300),
        ..Default::default()
    };
    let bot = BotFn(|call: CallHandle| async move {
        call.hangup().unwrap();
    });
    let server = VoiceServer::new(config, Arc::new(bot), Arc::new(VoiceSession::new))
        .with_call_ender(ender.clone());
    let addr = serve(server.clone()).await;
    let mut ws = connect(addr, "/voice", None).await.unwrap();
    begin(&mut ws, STREAM_A, "CA00000000000000000000000000000042").await;
    let started = tokio::time::Instant::now();
    // Wait until the REST call happened, then play Twilio.
    for _ in 0..500 {
        if !ender.calls.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server_closed = false;
    if twilio_closes && !fail {
        ws.send(Message::text(r#"{"event":"stop","streamSid":"MZaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sequenceNumber":"3"}"#)).await.unwrap();
        ws.close(None).await.ok();
    }
    while let Ok(Some(msg)) = tokio::time::timeout(T, ws.next()).await {
        match msg {
            Ok(Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1000);
                server_closed = true;
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let took = started.elapsed();
    tokio::time::timeout(T, server.registry().wait_empty())
        .await
        .unwrap();
    let calls = ender.calls.lock().unwrap().clone();
    (calls, server_closed, took)
}

#[tokio::test]
async fn hangup_is_rest_first_and_twilio_closes_the_stream() {
    let (calls, server_closed, _) = hangup_scenario(false, true).await;
    assert_eq!(calls, vec!["CA00000000000000000000000000000042"]);
    assert!(
        !server_closed,
        "no close from our side when Twilio closes first (31921)"
    );
}

#[tokio::test]
async fn hangup_closes_the_stream_itself_when_twilio_does_not() {
    let (calls, server_closed, took) = hangup_scenario(false, false).await;
    assert_eq!(calls.len(), 1);
    assert!(server_closed);
    assert!(
        took >= Duration::from_millis(250),
        "waited for Twilio first: {took:?}"
    );
}

#[tokio::test]
async fn a_failed_rest_hangup_falls_back_to_one_close_at_once() {
    let (calls, server_closed, took) = hangup_scenario(true, false).await;
    assert_eq!(calls.len(), 1);
    assert!(server_closed);
    assert!(
        took < Duration::from_millis(250),
        "no wait after a failed REST call: {took:?}"
    );
}

#[tokio::test]
async fn a_silent_client_is_closed_by_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = VoiceServer::new(
        config,
        Arc::new(BotFn(|_c: CallHandle| async {})),
        Arc::new(VoiceSession::new),
    );
    let addr = serve(server.clone()).await;
    let mut ws = connect(addr, "/voice", None).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok());
    assert_eq!(server.stats().idle_timeouts(), 1);
}
