//! Provider and network faults, one test per fault per provider (ElevenLabs, Azure): a socket
//! dropped mid-call, a server that will not take the client back (listener closed, upgrade
//! answered 503), a server that stops reading its socket (the provider alone, and under a whole
//! `VoiceSession` call), and a host name that does not resolve.
//!
//! Every test asserts the stated outcome, a generous bound on how long it took (only to prove
//! there is no hang), and that no task outlives the provider: the fakes run on a runtime of
//! their own, so the test runtime's alive-task count measures the provider (and the session)
//! alone, and it must return to its baseline after `stop` / the end of the call.
#![cfg(all(feature = "elevenlabs", feature = "azure"))]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use common::{Conn, Fake, Plan, event_within, eventually, next_event, numbered_frame};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use vr_session::{
    AudioSender, CallInfo, DisconnectReason, Outbound, SessionConfig, SessionError, SessionEvent,
    SourcedSttEvent, SttError, SttEvent, SttEventSink, SttFactory, SttProvider, SttSource,
    VoiceSession, audio_channel,
};
use vr_stt::azure::{AzureStt, CONVERSATION_PATH};
use vr_stt::elevenlabs::ElevenLabsStt;
use vr_stt::{Backoff, FeedOptions, ProviderStats};

const ELEVENLABS_KEY: &str = "sk_fault_0123456789abcdef";
const AZURE_KEY: &str = "azure-fault-key-0123456789";

/// Bound on every fault's outcome: generous, only to prove that nothing hangs.
const BOUND: Duration = Duration::from_secs(8);

/// A feed that sends as fast as the timer allows (so a stalled socket fills quickly) and holds
/// little (so holding overflows too).
const FAST_FEED: FeedOptions = FeedOptions {
    hold_frames: 50,
    replay_speedup: 1000,
};

/// The reconnect policy's exhaustion reason with the default 3 attempts.
const EXHAUSTED: &str = "reconnect_exhausted_after_3_attempts";

// ---------------------------------------------------------------------------------------
// Fakes on a runtime of their own, and the task count of the test's runtime
// ---------------------------------------------------------------------------------------

/// A second runtime for the fake servers: their tasks never count towards the test
/// runtime's alive tasks, which then measure the code under test alone.
struct Background(Option<tokio::runtime::Runtime>);

impl Background {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("background runtime");
        Self(Some(rt))
    }

    async fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self.0.as_ref().expect("background runtime");
        rt.spawn(fut).await.expect("background task")
    }

    async fn fake(&self, plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Fake {
        self.run(Fake::start(plan)).await
    }

    /// A fake whose sockets advertise a small segment size and receive window. A client's
    /// send buffer grows with the peer's segment size (to megabytes on loopback), so without
    /// this a service that stops reading would take minutes of audio to stall a send.
    async fn stingy_fake(&self, plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Fake {
        self.run(async move { Fake::start_on(stingy_listener(), plan) })
            .await
    }
}

fn stingy_listener() -> tokio::net::TcpListener {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("tcp socket");
    socket.set_tcp_mss(536).expect("TCP_MAXSEG");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(16).expect("listen");
    socket.set_nonblocking(true).expect("non-blocking");
    tokio::net::TcpListener::from_std(socket.into()).expect("tokio listener")
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Tasks alive on the test's runtime.
fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (bounded) until no more than `baseline` tasks are alive; returns the last count.
async fn settle(baseline: usize) -> usize {
    let deadline = Instant::now() + BOUND;
    loop {
        let n = alive();
        if n <= baseline || Instant::now() >= deadline {
            return n;
        }
        sleep(Duration::from_millis(10)).await;
    }
}

async fn assert_no_orphan(baseline: usize) {
    let left = settle(baseline).await;
    assert!(
        left <= baseline,
        "{left} tasks alive, {baseline} before the provider started"
    );
}

// ---------------------------------------------------------------------------------------
// The two providers behind one face
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ElevenLabs,
    Azure,
}

/// The settings a fault test turns; everything else is the provider's default.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    send_timeout: Duration,
    connect_timeout: Duration,
    backoff: Backoff,
    feed: FeedOptions,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            send_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            backoff: common::quick_backoff(),
            feed: FeedOptions::default(),
        }
    }
}

enum Stt {
    ElevenLabs(ElevenLabsStt),
    Azure(AzureStt),
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::ElevenLabs => ELEVENLABS_KEY,
            Kind::Azure => AZURE_KEY,
        }
    }

    /// The provider pointed at `base` (`ws://127.0.0.1:PORT`, or any other base URL).
    fn build(self, base: &str, knobs: Knobs) -> Stt {
        match self {
            Kind::ElevenLabs => Stt::ElevenLabs(
                ElevenLabsStt::builder()
                    .api_key(ELEVENLABS_KEY)
                    .base_url(base)
                    .send_timeout(knobs.send_timeout)
                    .connect_timeout(knobs.connect_timeout)
                    .backoff(knobs.backoff)
                    .feed(knobs.feed)
                    .build()
                    .expect("valid config"),
            ),
            Kind::Azure => Stt::Azure(
                AzureStt::builder()
                    .key(AZURE_KEY)
                    .endpoint(format!("{base}{CONVERSATION_PATH}"))
                    .send_timeout(knobs.send_timeout)
                    .connect_timeout(knobs.connect_timeout)
                    .backoff(knobs.backoff)
                    .feed(knobs.feed)
                    .build()
                    .expect("valid config"),
            ),
        }
    }

    fn boxed(self, base: &str, knobs: Knobs) -> Box<dyn SttProvider> {
        match self.build(base, knobs) {
            Stt::ElevenLabs(p) => Box::new(p),
            Stt::Azure(p) => Box::new(p),
        }
    }

    /// What a client message is, as far as these tests care.
    fn classify(self, msg: &Message) -> Sent {
        match (self, msg) {
            (Kind::ElevenLabs, Message::Text(text)) => {
                let v: serde_json::Value =
                    serde_json::from_str(text.as_str()).expect("the client sends JSON");
                if v["message_type"] != "input_audio_chunk" {
                    return Sent::Other;
                }
                let audio = base64::engine::general_purpose::STANDARD
                    .decode(v["audio_base_64"].as_str().unwrap_or_default())
                    .expect("valid base64");
                if audio.is_empty() {
                    return if v["commit"] == true {
                        Sent::End
                    } else {
                        Sent::Other
                    };
                }
                let number = (audio.len() >= 4)
                    .then(|| u32::from_be_bytes([audio[0], audio[1], audio[2], audio[3]]));
                Sent::Audio {
                    number,
                    frames: 1.0,
                }
            }
            (Kind::Azure, Message::Binary(b)) => {
                let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
                let head = std::str::from_utf8(&b[2..2 + n]).expect("ascii headers");
                if !head.contains("Path: audio") || head.contains("audio/x-wav") {
                    return Sent::Other;
                }
                let body = b.len() - 2 - n;
                if body == 0 {
                    return Sent::End;
                }
                // 16-bit PCM at 16 kHz: 640 bytes per 20 ms frame of the call's audio.
                Sent::Audio {
                    number: None,
                    frames: body as f64 / 640.0,
                }
            }
            _ => Sent::Other,
        }
    }
}

/// A client message as the fake sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sent {
    /// Audio: the frame's number (ElevenLabs passes frames through), and how many 20 ms
    /// frames it carries (Azure resamples, so only the amount is known).
    Audio {
        number: Option<u32>,
        frames: f64,
    },
    /// The end of the audio (a bare commit; an empty audio message).
    End,
    Other,
}

impl Stt {
    fn stats(&self) -> ProviderStats {
        match self {
            Stt::ElevenLabs(p) => p.stats(),
            Stt::Azure(p) => p.stats(),
        }
    }

    fn provider(&mut self) -> &mut dyn SttProvider {
        match self {
            Stt::ElevenLabs(p) => p,
            Stt::Azure(p) => p,
        }
    }

    async fn start(&mut self, capacity: usize) -> (AudioSender, mpsc::Receiver<SourcedSttEvent>) {
        let (audio, audio_rx) = audio_channel(capacity);
        let (sink, events) = SttEventSink::channel(SttSource::Primary);
        timeout(BOUND, self.provider().start(audio_rx, sink))
            .await
            .expect("start in time")
            .expect("start");
        (audio, events)
    }

    async fn stop(&mut self) {
        timeout(BOUND, self.provider().stop())
            .await
            .expect("stop in time");
        assert_eq!(self.stats().running_tasks, 0);
    }
}

/// Reads `conn` until audio worth `frames` frames arrived, counting only ElevenLabs frames
/// numbered `from` or more (Azure's resampled audio carries no numbers: all of it counts);
/// returns the ElevenLabs numbers.
async fn read_frames(kind: Kind, conn: &mut Conn, from: u32, frames: f64) -> Vec<u32> {
    let mut numbers = Vec::new();
    let mut got = 0.0;
    while got < frames {
        let msg = conn.next().await.expect("audio from the client");
        if let Sent::Audio { number, frames } = kind.classify(&msg) {
            if number.is_none_or(|n| n >= from) {
                got += frames;
            }
            numbers.extend(number);
        }
    }
    numbers
}

/// Reads `conn` until the end of the audio; returns the ElevenLabs numbers and the frames.
async fn read_to_end(kind: Kind, conn: &mut Conn) -> (Vec<u32>, f64) {
    let mut numbers = Vec::new();
    let mut got = 0.0;
    loop {
        let msg = conn.next().await.expect("audio up to its end");
        match kind.classify(&msg) {
            Sent::Audio { number, frames } => {
                numbers.extend(number);
                got += frames;
            }
            Sent::End => return (numbers, got),
            Sent::Other => {}
        }
    }
}

/// Every event within `within`, in order.
async fn drain_events(rx: &mut mpsc::Receiver<SourcedSttEvent>, within: Duration) -> Vec<SttEvent> {
    let mut out = Vec::new();
    while let Some(e) = event_within(rx, within).await {
        out.push(e);
    }
    out
}

/// The holding buffer's overflow is the one report a stuck service may cause (at most once).
fn only_overflow_reported(events: &[SttEvent]) {
    assert!(
        events.len() <= 1
            && events
                .iter()
                .all(|e| *e == SttEvent::Error(vr_stt::AUDIO_BUFFER_OVERFLOW.into())),
        "{events:?}"
    );
}

// ---------------------------------------------------------------------------------------
// STT socket dropped mid-call → reconnect, and the audio resumes on the new socket
// ---------------------------------------------------------------------------------------

async fn socket_dropped_mid_call(kind: Kind) {
    let bg = Background::new();
    let mut fake = bg.fake(|_| Plan::Accept).await;
    let baseline = alive();
    let mut stt = kind.build(&fake.base(), Knobs::default());
    let (audio, mut events) = stt.start(500).await;

    let mut first = fake.conn().await;
    for n in 0..5 {
        audio.push(numbered_frame(n));
    }
    read_frames(kind, &mut first, 0, 4.0).await;
    drop(first); // TCP gone without a close handshake
    let dropped_at = Instant::now();

    let mut second = fake.conn().await;
    assert_eq!(second.index, 1);
    for n in 100..110 {
        audio.push(numbered_frame(n));
    }
    let numbers = read_frames(kind, &mut second, 100, 9.5).await;
    let took = dropped_at.elapsed();
    assert!(took < BOUND, "audio resumed after {took:?}");
    if kind == Kind::ElevenLabs {
        let after: Vec<u32> = numbers.into_iter().filter(|n| *n >= 100).collect();
        assert_eq!(
            after,
            (100..110).collect::<Vec<u32>>(),
            "every frame, in order"
        );
    }
    let stats = stt.stats();
    assert_eq!((stats.connections, stats.reconnects), (2, 1), "{stats:?}");
    assert_eq!(stats.frames_dropped, 0);
    assert_eq!(
        event_within(&mut events, Duration::from_millis(100)).await,
        None,
        "a recovered fault is not reported"
    );
    stt.stop().await;
    assert_no_orphan(baseline).await;
}

#[tokio::test]
async fn elevenlabs_socket_dropped_mid_call_reconnects_and_audio_resumes() {
    socket_dropped_mid_call(Kind::ElevenLabs).await;
}

#[tokio::test]
async fn azure_socket_dropped_mid_call_reconnects_and_audio_resumes() {
    socket_dropped_mid_call(Kind::Azure).await;
}

// ---------------------------------------------------------------------------------------
// STT server refusing to reconnect → after the backoff attempts, one terminal error event
// ---------------------------------------------------------------------------------------

/// How the fake refuses every connection after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// It stops listening: the OS refuses the connection.
    ListenerClosed,
    /// It answers the websocket upgrade with 503.
    Status503,
}

/// Drops the first connection of a fake that refuses every later one; checks the exhaustion
/// report, the backoff between attempts, and that the task ended by itself.
async fn refused_after_the_first_connection(kind: Kind, refusal: Refusal) {
    let bg = Background::new();
    let mut fake = bg
        .fake(move |i| match (refusal, i) {
            (Refusal::ListenerClosed, _) => Plan::AcceptThenClose,
            (Refusal::Status503, 0) => Plan::Accept,
            (Refusal::Status503, _) => Plan::Reject(503),
        })
        .await;
    let baseline = alive();
    let mut stt = kind.build(&fake.base(), Knobs::default());
    let (_audio, mut events) = stt.start(500).await;

    let first = fake.conn().await;
    let dropped_at = Instant::now();
    drop(first);
    assert_eq!(
        next_event(&mut events).await,
        SttEvent::Error(EXHAUSTED.into())
    );
    let took = dropped_at.elapsed();
    // 50 + 100 + 200 ms of backoff (no jitter) come before the report.
    assert!(
        took >= Duration::from_millis(340) && took < BOUND,
        "exhausted after {took:?}"
    );
    assert_eq!(
        event_within(&mut events, Duration::from_millis(500)).await,
        None,
        "reported exactly once"
    );
    assert!(
        eventually(|| stt.stats().running_tasks == 0).await,
        "the task ended by itself"
    );
    // The task is gone before anyone calls stop.
    assert_no_orphan(baseline).await;
    let stats = stt.stats();
    assert_eq!((stats.connections, stats.reconnects), (1, 0), "{stats:?}");
    let attempts = match refusal {
        // The listener is gone: the OS refused every attempt.
        Refusal::ListenerClosed => 1,
        // Three refused upgrades after the first connection.
        Refusal::Status503 => 4,
    };
    assert_eq!(fake.attempts(), attempts);
    sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.attempts(), attempts, "no attempt after the report");
    assert!(fake.conn_within(Duration::ZERO).await.is_none());
    stt.stop().await;
}

#[tokio::test]
async fn elevenlabs_listener_closed_after_the_first_connection_exhausts_the_backoff() {
    refused_after_the_first_connection(Kind::ElevenLabs, Refusal::ListenerClosed).await;
}

#[tokio::test]
async fn azure_listener_closed_after_the_first_connection_exhausts_the_backoff() {
    refused_after_the_first_connection(Kind::Azure, Refusal::ListenerClosed).await;
}

#[tokio::test]
async fn elevenlabs_upgrade_answered_503_exhausts_the_backoff() {
    refused_after_the_first_connection(Kind::ElevenLabs, Refusal::Status503).await;
}

#[tokio::test]
async fn azure_upgrade_answered_503_exhausts_the_backoff() {
    refused_after_the_first_connection(Kind::Azure, Refusal::Status503).await;
}

// ---------------------------------------------------------------------------------------
// A slow STT server: it stops reading its socket
// ---------------------------------------------------------------------------------------

/// The provider alone: the stalled send counts as a fault after the send timeout, the
/// provider reconnects, the bounded queues drop the OLDEST audio (counted), and what is kept
/// arrives in order on the new socket, the newest frame included.
async fn stuck_socket_reconnects(kind: Kind) {
    let bg = Background::new();
    let mut fake = bg.stingy_fake(|_| Plan::Accept).await;
    let baseline = alive();
    let mut stt = kind.build(
        &fake.base(),
        Knobs {
            send_timeout: Duration::from_millis(500),
            feed: FAST_FEED,
            ..Knobs::default()
        },
    );
    let (audio, mut events) = stt.start(100).await;
    let stuck = fake.conn().await; // accepted, then never read

    let started = Instant::now();
    let mut n = 0;
    while stt.stats().reconnects == 0 {
        assert!(
            started.elapsed() < BOUND,
            "no reconnect from a stuck socket: {:?}",
            stt.stats()
        );
        audio.push(numbered_frame(n));
        n += 1;
        sleep(Duration::from_millis(1)).await;
    }
    let mut second = fake.conn().await;
    let last = n;
    audio.push(numbered_frame(last));
    audio.close();
    let (numbers, frames) = read_to_end(kind, &mut second).await;
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());

    let stats = stt.stats();
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    let dropped = audio.dropped() + stats.frames_dropped;
    assert!(
        dropped > 0,
        "a stuck service costs audio (dropped, oldest first), not unbounded memory: {stats:?}"
    );
    assert!(frames >= 1.0, "audio resumed on the new socket");
    if kind == Kind::ElevenLabs {
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "kept frames stay in order: {numbers:?}"
        );
        assert_eq!(
            numbers.last(),
            Some(&last),
            "the newest frame is never the one dropped"
        );
    }
    only_overflow_reported(&drain_events(&mut events, Duration::from_millis(200)).await);
    drop(stuck);
    stt.stop().await;
    assert_no_orphan(baseline).await;
}

#[tokio::test]
async fn elevenlabs_stuck_socket_reconnects_and_drops_the_oldest_audio() {
    stuck_socket_reconnects(Kind::ElevenLabs).await;
}

#[tokio::test]
async fn azure_stuck_socket_reconnects_and_drops_the_oldest_audio() {
    stuck_socket_reconnects(Kind::Azure).await;
}

/// Fills the socket of a service that stopped reading until the provider is blocked in a
/// send (it no longer drains its audio queue and sends nothing more).
async fn fill_until_stuck(stt: &Stt, audio: &AudioSender) {
    let started = Instant::now();
    let mut n = 0;
    loop {
        assert!(started.elapsed() < BOUND, "never stuck: {:?}", stt.stats());
        audio.push(numbered_frame(n));
        n += 1;
        sleep(Duration::from_millis(1)).await;
        if audio.dropped() == 0 {
            continue;
        }
        // The queue overflowed: confirm nothing leaves for a while.
        let sent = stt.stats().frames_sent;
        for _ in 0..200 {
            audio.push(numbered_frame(n));
            n += 1;
            sleep(Duration::from_millis(1)).await;
        }
        if stt.stats().frames_sent == sent {
            return;
        }
    }
}

/// `stop()` while a send is blocked on a socket the service no longer reads returns at once
/// and leaves no task behind (before the fix it waited out the 2 s stop bound and aborted the
/// task; with the default 5 s send timeout the send itself would not give up first).
async fn stop_while_stuck(kind: Kind) {
    let bg = Background::new();
    let mut fake = bg.stingy_fake(|_| Plan::Accept).await;
    let baseline = alive();
    let mut stt = kind.build(
        &fake.base(),
        Knobs {
            send_timeout: Duration::from_secs(30),
            feed: FAST_FEED,
            ..Knobs::default()
        },
    );
    let (audio, mut events) = stt.start(100).await;
    let stuck = fake.conn().await;
    fill_until_stuck(&stt, &audio).await;

    let stopping = Instant::now();
    stt.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "stop waited {took:?} on a stuck send"
    );
    assert_eq!(stt.stats().reconnects, 0);
    only_overflow_reported(&drain_events(&mut events, Duration::from_millis(100)).await);
    assert_no_orphan(baseline).await;
    assert!(
        fake.conn_within(Duration::from_millis(200)).await.is_none(),
        "nothing reconnects after stop"
    );
    drop(stuck);
}

#[tokio::test]
async fn elevenlabs_stop_while_a_send_is_stuck_is_prompt() {
    stop_while_stuck(Kind::ElevenLabs).await;
}

#[tokio::test]
async fn azure_stop_while_a_send_is_stuck_is_prompt() {
    stop_while_stuck(Kind::Azure).await;
}

/// A whole call with the real provider pointed at a service that stopped reading: the
/// caller's frames keep being accepted (the inbound queue drops its oldest, reported once),
/// and the agent's audio (`CallHandle::send_audio` → `TransportLink::next_outbound`) keeps
/// flowing while the provider is stuck; ending the call stops everything.
async fn stuck_stt_under_a_call(kind: Kind) {
    let bg = Background::new();
    let mut fake = bg.stingy_fake(|_| Plan::Accept).await;
    let base = fake.base();
    let knobs = Knobs {
        // The provider stays stuck for the whole test rather than reconnecting.
        send_timeout: Duration::from_secs(30),
        feed: FAST_FEED,
        ..Knobs::default()
    };
    let factory: SttFactory = Arc::new(move || Ok(kind.boxed(&base, knobs)));
    let session = VoiceSession::with_config(SessionConfig {
        stt_factory: Some(factory),
        inbound_frames: 50,
        ..SessionConfig::default()
    });
    let call = session.call();
    let mut events = call.events();
    let baseline = alive();
    let link = session
        .attach(CallInfo {
            stream_sid: "MZ00000000000000000000000000000000".into(),
            call_sid: Some("CA00000000000000000000000000000000".into()),
            ..Default::default()
        })
        .expect("attach");
    let stuck = fake.conn().await; // the provider connected; the service never reads

    // Fill the provider's socket until it stops draining the call's inbound queue.
    let started = Instant::now();
    let mut pushed: u64 = 0;
    while call.metrics().inbound_dropped == 0 {
        assert!(started.elapsed() < BOUND, "the STT never fell behind");
        link.push_inbound(numbered_frame(u32::try_from(pushed).unwrap_or(u32::MAX)));
        pushed += 1;
        sleep(Duration::from_millis(1)).await;
    }
    let dropped_before = call.metrics().inbound_dropped;

    // While it is stuck: 250 agent frames out, a caller frame in for each.
    const OUT: usize = 250;
    let bot = {
        let call = call.clone();
        tokio::spawn(async move {
            for i in 0..OUT {
                let fill = u8::try_from(i % 256).unwrap_or(0);
                call.send_audio(Bytes::from(vec![fill; 160])).await?;
            }
            Ok::<(), SessionError>(())
        })
    };
    let flowing = Instant::now();
    let mut media = 0;
    while media < OUT {
        link.push_inbound(Bytes::from_static(&[0xFF; 160]));
        pushed += 1;
        match timeout(BOUND, link.next_outbound()).await {
            Ok(Some(Outbound::Media(frame))) => {
                assert_eq!(frame.len(), 160);
                media += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the call ended"),
            Err(_) => panic!("outbound audio stalled after {media} frames"),
        }
    }
    let took = flowing.elapsed();
    assert!(took < BOUND, "{OUT} frames took {took:?}");
    timeout(BOUND, bot)
        .await
        .expect("bot done")
        .expect("bot task")
        .expect("send_audio");
    let m = call.metrics();
    assert_eq!(m.frames_out, OUT as u64);
    assert_eq!(m.frames_in, pushed, "every caller frame was taken");
    assert!(
        m.inbound_dropped > dropped_before,
        "the provider stayed stuck while the call's audio flowed: {m:?}"
    );

    let closing = Instant::now();
    timeout(BOUND, link.close(DisconnectReason::RemoteStop))
        .await
        .expect("the call ends in time");
    assert!(closing.elapsed() < BOUND);
    assert_no_orphan(baseline).await;

    let mut overflow_reports = 0;
    let mut stt_errors = Vec::new();
    while let Ok(Some(event)) = events.next_timeout(Duration::from_millis(200)).await {
        match event {
            SessionEvent::InboundOverflow { .. } => overflow_reports += 1,
            SessionEvent::SttError { error, .. } => stt_errors.push(SttEvent::Error(error)),
            _ => {}
        }
    }
    assert_eq!(overflow_reports, 1, "the inbound overflow is reported once");
    only_overflow_reported(&stt_errors);
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elevenlabs_stuck_stt_does_not_stall_the_calls_audio() {
    stuck_stt_under_a_call(Kind::ElevenLabs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_stuck_stt_does_not_stall_the_calls_audio() {
    stuck_stt_under_a_call(Kind::Azure).await;
}

// ---------------------------------------------------------------------------------------
// DNS failure → a typed connect error at start, in time
// ---------------------------------------------------------------------------------------

async fn unresolvable_host(kind: Kind) {
    let baseline = alive();
    // `.invalid` never resolves (RFC 6761).
    let mut stt = kind.build(
        "wss://stt.invalid",
        Knobs {
            connect_timeout: Duration::from_secs(5),
            ..Knobs::default()
        },
    );
    let (_audio, audio_rx) = audio_channel(500);
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    let started = Instant::now();
    let result = timeout(BOUND, stt.provider().start(audio_rx, sink))
        .await
        .expect("start returns in time");
    let took = started.elapsed();
    match result {
        Err(SttError::Connect(msg)) => assert!(!msg.contains(kind.key()), "{msg}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(took < BOUND, "{took:?}");
    assert_eq!(stt.stats().running_tasks, 0);
    assert_eq!(stt.stats().connections, 0);
    assert_eq!(
        event_within(&mut events, Duration::from_millis(100)).await,
        None,
        "a failed start is the caller's error, not an event"
    );
    stt.stop().await;
    assert_no_orphan(baseline).await;
}

#[tokio::test]
async fn elevenlabs_unresolvable_host_is_a_connect_error() {
    unresolvable_host(Kind::ElevenLabs).await;
}

#[tokio::test]
async fn azure_unresolvable_host_is_a_connect_error() {
    unresolvable_host(Kind::Azure).await;
}
