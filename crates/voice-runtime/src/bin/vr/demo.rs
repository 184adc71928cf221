//! `vr demo`: `serve` and `simulate` in one process on loopback, with the demo bot, the mock
//! providers and caller audio built into the program. No network, keys or accounts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use voice_runtime::app::{App, AppConfig, BotKind};
use voice_runtime::codec::wav::parse_wav;
use voice_runtime::conversation::{Observer, clock};
use voice_runtime::mock::{
    CallEnd, CallerAction, Script, SimulatorConfig, StartAt, TwilioSimulator,
};

/// The caller's clips (8 kHz μ-law WAV, in the repository's assets/audio) and their words,
/// which are the mock recogniser's script.
const CLIPS: [(&str, &[u8]); 4] = [
    (
        "Hello there, can you hear me?",
        include_bytes!("../../../../../assets/audio/caller-1-hello-there-can-you-hear.wav"),
    ),
    (
        "What is the weather like today?",
        include_bytes!("../../../../../assets/audio/caller-2-what-is-the-weather-like.wav"),
    ),
    (
        "Wait, stop, I have a question.",
        include_bytes!("../../../../../assets/audio/caller-3-wait-stop-i-have-a-quest.wav"),
    ),
    (
        "Thank you, goodbye.",
        include_bytes!("../../../../../assets/audio/caller-4-thank-you-goodbye.wav"),
    ),
];

/// Options of `vr demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the call's stereo recording (caller left, bot right).
    #[arg(long, default_value = "vr-demo.wav", value_name = "FILE")]
    pub record: PathBuf,
    /// Give up (and fail) after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
}

fn clip(index: usize, start: StartAt) -> Result<CallerAction, String> {
    let frames = parse_wav(CLIPS[index].1)
        .and_then(|w| w.to_mulaw_8k_frames())
        .map_err(|e| format!("built-in clip {index} is unreadable: {e}"))?;
    Ok(CallerAction::Audio { frames, start })
}

/// The caller's part: speak, press 1, speak, interrupt the bot, say goodbye.
fn caller_script() -> Result<Vec<CallerAction>, String> {
    let pause = StartAt::AfterBotSilence(Duration::from_millis(500));
    Ok(vec![
        clip(0, pause)?,
        CallerAction::dtmf("1", pause),
        clip(1, pause)?,
        clip(2, StartAt::WhileBotSpeaking(Duration::from_millis(700)))?,
        clip(3, pause)?,
    ])
}

pub async fn run(args: DemoArgs) -> Result<ExitCode, String> {
    println!(
        "vr demo: one call on loopback — the demo bot, a simulated Twilio caller, mock speech providers."
    );
    println!(
        "The caller's words are the mock recogniser's script: it commits the next line when the caller's audio"
    );
    println!(
        "stops (voice-activity detection), so caller lines below are scripted, not recognised.\n"
    );
    let observer = Observer::new(true, |at, line| println!("{}  {line}", clock(at)));
    let config = AppConfig {
        bot: BotKind::Demo,
        script: Some(Script::from_lines(CLIPS.map(|(words, _)| words))),
        observer: Some(observer),
        ..AppConfig::default()
    };
    let app = App::build(config, Arc::new(|_: &str| None)).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(voice_runtime::app::serve(
        app,
        listener,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(2),
    ));

    let mut sim = SimulatorConfig::new(format!("ws://{addr}/voice"));
    sim.caller_actions = caller_script()?;
    sim.record = Some(args.record.clone());
    sim.timeout = crate::serve::seconds(args.timeout, "--timeout")?;
    sim.custom_parameters = vec![("From".into(), "+15550100".into())];
    let report = TwilioSimulator::new(sim).run().await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    let report = report.map_err(|e| e.to_string())?;

    let c = &report.counters;
    println!(
        "\ncall {} ended after {:.1}s: {}",
        report.ids.call_sid,
        report.duration.as_secs_f64(),
        match &report.end {
            CallEnd::ServerClosed { code: Some(_) } => "the bot hung up".to_owned(),
            other => format!("{other:?}"),
        }
    );
    println!(
        "wire: {} caller frames sent, {} bot frames received, {} marks echoed, {} clear(s) (barge-in), {} key press(es)",
        c.frames_sent, c.media_received, c.marks_echoed, c.clears, c.dtmf_sent
    );
    if let Some(path) = &report.recording {
        println!(
            "recording: {} (stereo: caller left, bot right)",
            path.display()
        );
    }
    if matches!(report.end, CallEnd::ServerClosed { code: Some(_) }) && c.protocol_errors == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "vr demo: the call did not end as expected ({:?}, {} protocol errors)",
            report.end, c.protocol_errors
        );
        Ok(ExitCode::FAILURE)
    }
}
