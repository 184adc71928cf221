//! The Twilio simulator against a scripted fake bot server.

mod common;

use std::time::Duration;

use common::{Bot, serve};
use tokio::time::Instant;
use vr_mock::simulator::is_twilio_sid;
use vr_mock::{CallEnd, CallerAction, SimulatorConfig, StartAt, TimelineEvent, TwilioSimulator};
use vr_twilio::proto::Inbound;
use vr_twilio::signature::SignatureValidator;

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/audio");

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn accept(rx: &mut tokio::sync::mpsc::Receiver<Bot>) -> Bot {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("simulator connected")
        .expect("bot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_shape_pacing_marks_after_playback_clear_and_recording() {
    let (url, mut rx) = serve().await;
    let dir = std::env::temp_dir().join(format!("vr-mock-test-{}", std::process::id()));
    let record = dir.join("call.wav");
    let mut config = SimulatorConfig::new(url.clone());
    config.custom_parameters = vec![
        ("FirstName".into(), "Jane".into()),
        ("RemoteParty".into(), "Bob".into()),
    ];
    config.record = Some(record.clone());
    config.timeout = Duration::from_secs(20);
    let sim = tokio::spawn(TwilioSimulator::new(config).run());

    let mut bot = accept(&mut rx).await;
    let start = bot.handshake().await;
    let Inbound::Start(s) = start.parsed() else {
        unreachable!()
    };
    assert_eq!(s.sequence_number, Some(1));
    assert!(is_twilio_sid(&s.stream_sid, "MZ"), "{}", s.stream_sid);
    assert!(is_twilio_sid(s.account_sid.as_deref().unwrap(), "AC"));
    assert!(is_twilio_sid(s.call_sid.as_deref().unwrap(), "CA"));
    assert_eq!(s.tracks, vec!["inbound"]);
    let f = s.media_format.as_ref().unwrap();
    assert_eq!(
        (&*f.encoding, f.sample_rate, f.channels),
        ("audio/x-mulaw", 8000, 1)
    );
    let params: Vec<(String, String)> = s
        .custom_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(params[0], ("FirstName".into(), "Jane".into()));
    assert_eq!(
        bot.got[0].json,
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#
    );

    // 1 s of bot audio, then a mark: the echo must wait for the audio to play.
    bot.send_audio(8000, 640).await;
    bot.send_mark("m1").await;
    let sent = Instant::now();
    let echo = bot
        .read_until(Duration::from_secs(5), |m| matches!(m, Inbound::Mark(_)))
        .await
        .expect("m1 echoed");
    let waited = echo.at - sent;
    assert!(waited >= ms(950), "mark echoed after only {waited:?}");
    assert!(waited <= ms(1500), "mark echoed late: {waited:?}");

    // Pacing: frames received over a ~1 s window.
    let window_start = bot.got[2].at;
    let in_window = bot
        .got
        .iter()
        .filter(|g| {
            g.at >= window_start
                && g.at < window_start + Duration::from_secs(1)
                && matches!(g.parsed(), Inbound::Media(_))
        })
        .count();
    assert!((47..=53).contains(&in_window), "{in_window} frames in 1 s");

    // 2 s of audio and a mark, then a clear after 300 ms: the mark comes back at once.
    bot.send_audio(16000, 800).await;
    bot.send_mark("m2").await;
    tokio::time::sleep(ms(300)).await;
    bot.send_clear().await;
    let cleared = Instant::now();
    let echo = bot
        .read_until(Duration::from_secs(5), |m| matches!(m, Inbound::Mark(_)))
        .await
        .expect("m2 echoed");
    assert!(
        echo.at - cleared < ms(200),
        "clear echo took {:?}",
        echo.at - cleared
    );
    // A mark with nothing buffered is echoed at once.
    tokio::time::sleep(ms(100)).await;
    bot.send_mark("m3").await;
    let sent = Instant::now();
    let echo = bot
        .read_until(Duration::from_secs(5), |m| matches!(m, Inbound::Mark(_)))
        .await
        .expect("m3 echoed");
    assert!(echo.at - sent < ms(200));

    // The bot hangs up.
    bot.ws.close(None).await.unwrap();
    bot.drain(Duration::from_secs(2)).await;
    let report = tokio::time::timeout(Duration::from_secs(5), sim)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report.end, CallEnd::ServerClosed { code: Some(1005) });
    assert!(report.end.is_normal());

    // Sequence numbers, chunks and timestamps.
    let mut seq = 1;
    let mut chunk = 0;
    for g in &bot.got[2..] {
        let m = g.parsed();
        let n = match &m {
            Inbound::Media(x) => x.sequence_number,
            Inbound::Mark(x) => x.sequence_number,
            other => panic!("unexpected {other:?}"),
        };
        seq += 1;
        assert_eq!(n, Some(seq));
        if let Inbound::Media(x) = m {
            chunk += 1;
            assert_eq!(x.chunk, Some(chunk));
            assert_eq!(x.timestamp, Some((chunk - 1) * 20));
            assert_eq!(x.track.as_deref(), Some("inbound"));
            assert_eq!(x.stream_sid.as_deref(), Some(bot.stream_sid.as_str()));
        }
    }

    // Report.
    let c = report.counters;
    assert_eq!(c.marks_received, 3);
    assert_eq!(c.marks_echoed, 3);
    assert_eq!(c.clears, 1);
    assert!(c.bytes_cleared > 8000, "{}", c.bytes_cleared);
    assert_eq!(c.frames_sent, chunk);
    let events: Vec<&TimelineEvent> = report.timeline.iter().map(|e| &e.event).collect();
    assert!(matches!(events[0], TimelineEvent::Connected { .. }));
    assert!(matches!(events[1], TimelineEvent::StartSent { .. }));
    assert!(events.contains(&&TimelineEvent::BotAudioStarted));
    assert!(events.iter().any(|e| matches!(
        e,
        TimelineEvent::ClearReceived {
            marks_echoed: 1,
            ..
        }
    )));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TimelineEvent::MarkEchoed { cleared: true, .. }))
    );
    assert!(matches!(
        events.last(),
        Some(TimelineEvent::ServerClosed {
            code: Some(1005),
            ..
        })
    ));
    for e in &report.timeline {
        println!("{e}");
    }

    // The recording: stereo, as long as the call, agent audio on the right.
    let path = report.recording.expect("recording");
    let wav = vr_codec::wav::read_wav_file(&path).unwrap();
    assert_eq!(wav.channels(), 2);
    assert_eq!(wav.sample_rate(), 8000);
    assert_eq!(wav.duration(), report.duration);
    assert_eq!(wav.frames() as u64, chunk * 160);
    let pcm = wav.to_pcm16();
    let agent_loud = pcm.chunks(2).filter(|lr| lr[1].abs() > 1000).count();
    assert!(
        agent_loud > 4000,
        "agent channel mostly silent: {agent_loud}"
    );
    let caller_loud = pcm.chunks(2).filter(|lr| lr[0].abs() > 1000).count();
    assert_eq!(caller_loud, 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn signature_header_verifies() {
    let (url, mut rx) = serve().await;
    let mut config = SimulatorConfig::new(url);
    config.auth_token = Some("12345".into());
    config.signed_url = Some("wss://example.com/voice".into());
    config.timeout = Duration::from_secs(5);
    let sim = tokio::spawn(TwilioSimulator::new(config).run());
    let mut bot = accept(&mut rx).await;
    assert_eq!(bot.path, "/voice");
    let header = bot.signature.clone();
    assert_eq!(header.as_deref(), Some("1iUnCEOmZ+5wxYj625CZ601WpQo="));
    SignatureValidator::new("12345")
        .unwrap()
        .validate_websocket("wss://example.com/voice", header.as_deref())
        .unwrap();
    bot.handshake().await;
    bot.ws.close(None).await.unwrap();
    bot.drain(Duration::from_secs(2)).await;
    let report = sim.await.unwrap().unwrap();
    assert!(matches!(report.end, CallEnd::ServerClosed { .. }));
}

#[tokio::test]
async fn no_signature_without_auth_token() {
    let (url, mut rx) = serve().await;
    let mut config = SimulatorConfig::new(url);
    config.timeout = ms(300);
    let sim = tokio::spawn(TwilioSimulator::new(config).run());
    let mut bot = accept(&mut rx).await;
    assert!(bot.signature.is_none());
    bot.handshake().await;
    bot.drain(Duration::from_secs(3)).await;
    let report = sim.await.unwrap().unwrap();
    assert_eq!(report.end, CallEnd::Timeout);
    assert!(!report.end.is_normal());
    // Twilio's stop at the end, with the call's ids.
    let stop = bot.got.iter().rev().find_map(|g| match g.parsed() {
        Inbound::Stop(s) => Some(s.call_sid.map(|c| c.to_string())),
        _ => None,
    });
    assert_eq!(stop, Some(Some(report.ids.call_sid.clone())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_audio_and_dtmf_then_script_done() {
    let (url, mut rx) = serve().await;
    let clip = format!("{ASSETS}/caller-4-thank-you-goodbye.wav");
    let mut config = SimulatorConfig::new(url);
    config.caller_actions = vec![
        CallerAction::parse_audio_arg(&clip, ms(200)).unwrap(),
        CallerAction::dtmf("12#", StartAt::AfterBotSilence(ms(100))),
    ];
    config.end_after_bot_silence = ms(300);
    config.timeout = Duration::from_secs(15);
    let clip_frames = match &config.caller_actions[0] {
        CallerAction::Audio { frames, .. } => frames.len(),
        _ => unreachable!(),
    };
    let sim = tokio::spawn(TwilioSimulator::new(config).run());
    let mut bot = accept(&mut rx).await;
    bot.handshake().await;
    bot.drain(Duration::from_secs(10)).await;
    let report = sim.await.unwrap().unwrap();
    assert_eq!(report.end, CallEnd::ScriptDone);
    let digits: Vec<String> = bot
        .got
        .iter()
        .filter_map(|g| match g.parsed() {
            Inbound::Dtmf(d) => {
                assert_eq!(d.track.as_deref(), Some("inbound_track"));
                Some(d.digit.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec!["1", "2", "#"]);
    assert!(matches!(
        bot.got.last().map(Got::parsed),
        Some(Inbound::Stop(_))
    ));
    let non_silent = bot
        .got
        .iter()
        .filter(|g| match g.parsed() {
            Inbound::Media(m) => m.decode_payload().unwrap().iter().any(|&b| b != 0xFF),
            _ => false,
        })
        .count();
    assert!(
        non_silent > clip_frames / 2 && non_silent <= clip_frames,
        "{non_silent} of {clip_frames}"
    );
    let events: Vec<&TimelineEvent> = report.timeline.iter().map(|e| &e.event).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TimelineEvent::CallerAudioStarted { action: 0, .. }))
    );
    assert!(events.contains(&&TimelineEvent::CallerAudioEnded { action: 0 }));
    assert!(events.contains(&&TimelineEvent::StopSent));
    assert_eq!(report.counters.dtmf_sent, 3);
}

use common::Got;

#[tokio::test]
async fn protocol_errors_are_reported_not_fatal() {
    let (url, mut rx) = serve().await;
    let mut config = SimulatorConfig::new(url);
    config.timeout = ms(500);
    let sim = tokio::spawn(TwilioSimulator::new(config).run());
    let mut bot = accept(&mut rx).await;
    bot.handshake().await;
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    bot.ws.send(Message::text("not json")).await.unwrap();
    bot.ws
        .send(Message::text(
            r#"{"event":"mark","streamSid":"MZwrong","mark":{"name":"x"}}"#,
        ))
        .await
        .unwrap();
    bot.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    bot.drain(Duration::from_secs(3)).await;
    let report = sim.await.unwrap().unwrap();
    assert_eq!(report.counters.protocol_errors, 3);
    assert_eq!(report.counters.marks_echoed, 0);
    assert_eq!(report.end, CallEnd::Timeout);
}

#[tokio::test]
async fn handshake_refusal_is_a_typed_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let err = TwilioSimulator::new(SimulatorConfig::new(format!("ws://{addr}/voice")))
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(err, vr_mock::SimulatorError::Handshake { status: 403 }),
        "{err}"
    );
}
