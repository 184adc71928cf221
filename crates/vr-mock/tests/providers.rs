//! MockTts and MockStt against a real session and real audio.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vr_codec::SILENCE_FRAME;
use vr_mock::simulator::playout::Playout;
use vr_mock::{
    CommitSource, InjectOutcome, MockStt, MockSttHandle, MockTts, Script, TextRelay, Vad, VadEvent,
    synthesize,
};
use vr_session::{
    CallInfo, MarkOutcome, Outbound, SpeakStatus, SttEvent, SttEventSink, SttProvider, SttSource,
    TransportLink, TtsProvider, VoiceSession, audio_channel,
};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/audio");

/// Plays Twilio's side in-process: real-time playback, marks echoed after their audio.
fn spawn_playout(link: Arc<TransportLink>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut p = Playout::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                out = link.next_outbound() => match out {
                    None | Some(Outbound::Hangup) => break,
                    Some(Outbound::Media(b)) => { p.push_audio(&b); }
                    Some(Outbound::Mark(n)) => {
                        if let Some(n) = p.push_mark(&n) { link.mark_echoed(&n); }
                    }
                    Some(Outbound::Clear) => for n in p.clear().echoed { link.mark_echoed(&n); },
                },
                _ = tick.tick() => for n in p.tick().echoed { link.mark_echoed(&n); },
            }
        }
    })
}

fn attach(session: &VoiceSession, sid: &str) -> Arc<TransportLink> {
    Arc::new(
        session
            .attach(CallInfo {
                stream_sid: sid.into(),
                ..Default::default()
            })
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_tts_plays_about_60ms_per_character() {
    let session = VoiceSession::new();
    let link = attach(&session, "MZtts1");
    let transport = spawn_playout(link.clone());
    let tts = MockTts::new().with_voice_id("v1");
    let text = "hello world, this is a test"; // 27 chars: 1.62 s
    let began = Instant::now();
    let out = session.call().speak(&tts, text).await;
    let took = began.elapsed();
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.mark, Some(MarkOutcome::Played));
    assert_eq!(out.heard, text);
    assert_eq!(out.audio_bytes, 27 * 480);
    assert_eq!(tts.duration_for(text), Duration::from_millis(1620));
    assert!(took >= Duration::from_millis(1550), "{took:?}");
    assert!(took <= Duration::from_millis(2600), "{took:?}");
    assert!(out.timings.first_byte.unwrap() < Duration::from_millis(100));
    assert_eq!(tts.spoken(), vec![text.to_owned()]);
    assert_eq!(tts.voice_id(), Some("v1"));
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    transport.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_tts_barge_in_interrupts_like_a_real_provider() {
    let session = VoiceSession::new();
    let call = session.call();
    let link = attach(&session, "MZtts2");
    let transport = spawn_playout(link.clone());
    let spoken = Arc::new(AtomicUsize::new(0));
    let tts = MockTts::new().with_on_spoken({
        let spoken = spoken.clone();
        move |_| {
            spoken.fetch_add(1, Ordering::SeqCst);
        }
    });
    let text = "one two three four five six seven eight nine ten eleven twelve thirteen";
    let speaking = tokio::spawn({
        let (call, tts) = (call.clone(), tts.clone());
        async move { call.speak(&tts, text).await }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let barged = Instant::now();
    call.barge_in().unwrap();
    let out = tokio::time::timeout(Duration::from_secs(2), speaking)
        .await
        .unwrap()
        .unwrap();
    assert!(barged.elapsed() < Duration::from_millis(500));
    assert_eq!(out.status, SpeakStatus::Interrupted);
    assert!(out.interrupted());
    assert!(out.heard.len() < text.len(), "{:?}", out.heard);
    assert!(text.starts_with(&out.heard));
    assert_eq!(spoken.load(Ordering::SeqCst), 1);
    assert_eq!(tts.spoken(), vec![text.to_owned()]);
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    transport.await.unwrap();
}

#[tokio::test]
async fn mock_tts_edge_cases_match_real_providers() {
    let session = VoiceSession::new();
    let tts = MockTts::new().with_on_spoken(|_| panic!("callback bug"));
    let out = tts
        .speak("  ", &session.call(), CancellationToken::new())
        .await;
    assert_eq!(out.status, SpeakStatus::Completed);
    assert_eq!(out.audio_bytes, 0);
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    let out = tts
        .speak("hello", &session.call(), CancellationToken::new())
        .await;
    assert_eq!(out.status, SpeakStatus::CallDisconnected);
    assert_eq!(tts.spoken(), vec!["  ".to_owned(), "hello".to_owned()]);
}

#[test]
fn synthesized_speech_is_one_vad_segment_of_the_right_length() {
    let audio = synthesize("how can I help you today?", 60);
    assert_eq!(audio.len(), 25 * 480);
    let mut vad = Vad::default();
    let mut events = Vec::new();
    for frame in audio
        .chunks(160)
        .chain(std::iter::repeat_n(&SILENCE_FRAME[..], 40))
    {
        events.extend(vad.push(frame));
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], VadEvent::SpeechStart);
}

#[tokio::test]
async fn text_relay_posts_to_the_routed_inject_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        while !String::from_utf8_lossy(&buf).contains("\"text\"") {
            let n = tcp.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    });
    let relay = TextRelay::new(&peer);
    assert!(relay.inject_url().ends_with("/test/inject"));
    relay.set_route_from_stream_path("/voice/route-token-123");
    let tts = MockTts::new().with_relay(relay.clone());
    let session = VoiceSession::new();
    session.end_call(vr_session::DisconnectReason::RemoteStop);
    tts.speak("hi there", &session.call(), CancellationToken::new())
        .await;
    let request = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        request.starts_with("POST /test/inject/route-token-123 HTTP/1.1"),
        "{request}"
    );
    assert!(request.contains(r#"{"text":"hi there"}"#), "{request}");
}

async fn next_committed(
    rx: &mut tokio::sync::mpsc::Receiver<vr_session::SourcedSttEvent>,
) -> String {
    match tokio::time::timeout(Duration::from_secs(3), rx.recv()).await {
        Ok(Some(e)) => match e.event {
            SttEvent::Committed(t) => t,
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("no transcript: {other:?}"),
    }
}

#[tokio::test]
async fn mock_stt_inject_before_and_after_start() {
    let (mut stt, handle): (MockStt, MockSttHandle) = MockStt::pair();
    assert_eq!(stt.name(), "mock");
    assert_eq!(handle.inject("  early, as given "), InjectOutcome::Queued);
    let (audio_tx, audio_rx) = audio_channel(100);
    let (sink, mut rx) = SttEventSink::channel(SttSource::Primary);
    stt.start(audio_rx, sink).await.unwrap();
    assert_eq!(next_committed(&mut rx).await, "  early, as given ");
    // From another thread, while audio flows (and is drained).
    let h = handle.clone();
    std::thread::spawn(move || {
        h.inject("from a thread");
        h.inject("second");
    })
    .join()
    .unwrap();
    for _ in 0..20 {
        audio_tx.push(Bytes::from_static(&SILENCE_FRAME));
    }
    assert_eq!(next_committed(&mut rx).await, "from a thread");
    assert_eq!(next_committed(&mut rx).await, "second");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(audio_tx.len(), 0, "inbound audio is drained");
    assert_eq!(handle.history()[0].source, CommitSource::Injected);
    let began = Instant::now();
    stt.stop().await;
    assert!(began.elapsed() < Duration::from_millis(500));
    assert_eq!(handle.inject("late"), InjectOutcome::Closed);
    assert!(handle.is_closed());
}

#[tokio::test]
async fn mock_stt_inject_queue_is_bounded() {
    let stt = MockStt::new();
    let handle = stt.handle();
    for i in 0..MockSttHandle::CAPACITY {
        assert_eq!(handle.inject(format!("t{i}")), InjectOutcome::Queued);
    }
    assert_eq!(handle.inject("one too many"), InjectOutcome::Full);
}

fn clip_frames(name: &str) -> Vec<[u8; 160]> {
    vr_codec::wav::read_wav_file(format!("{ASSETS}/{name}"))
        .unwrap()
        .to_mulaw_8k_frames()
        .unwrap()
}

#[tokio::test]
async fn mock_stt_script_mode_commits_a_line_per_speech_segment_of_real_audio() {
    let script = Script::parse("# caller lines\nfirst line\nsecond line\n");
    let mut stt = MockStt::with_script(script);
    let handle = stt.handle();
    let (audio_tx, audio_rx) = audio_channel(2_000);
    let (sink, mut rx) = SttEventSink::channel(SttSource::Primary);
    stt.start(audio_rx, sink).await.unwrap();
    let clips = [
        clip_frames("caller-1-hello-there-can-you-hear.wav"),
        clip_frames("caller-2-what-is-the-weather-like.wav"),
    ];
    for (i, clip) in clips.iter().enumerate() {
        for f in clip.iter().chain(std::iter::repeat_n(&SILENCE_FRAME, 50)) {
            audio_tx.push(Bytes::copy_from_slice(f));
        }
        let want = ["first line", "second line"][i];
        // Speech start gives a partial of the coming line (so bots can barge in), then the
        // end of speech commits it.
        match tokio::time::timeout(Duration::from_secs(3), rx.recv()).await {
            Ok(Some(e)) => assert_eq!(e.event, SttEvent::Partial(want.to_owned())),
            other => panic!("no partial: {other:?}"),
        }
        assert_eq!(next_committed(&mut rx).await, want);
    }
    // The script is exhausted: more speech commits nothing.
    for f in clips[0]
        .iter()
        .chain(std::iter::repeat_n(&SILENCE_FRAME, 50))
    {
        audio_tx.push(Bytes::copy_from_slice(f));
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
    );
    let history = handle.history();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|l| l.source == CommitSource::Scripted));
    assert_eq!(
        history[0].to_string(),
        "[scripted, not recognised] first line"
    );
    stt.stop().await;
}
