//! `vr simulate`: Twilio's side of a call (or a bridge between two servers).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use voice_runtime::mock::{
    Bridge, BridgeConfig, BridgeEnd, BridgeSide, CallerAction, SimulationReport, SimulatorConfig,
    StartAt, TwilioSimulator,
};

/// Options of `vr simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The server's Media Streams websocket, e.g. ws://127.0.0.1:8080/voice.
    #[arg(long, required_unless_present = "bridge")]
    pub url: Option<String>,
    /// Join two servers' streams into one call (bot-to-bot): ws://A/voice ws://B/voice.
    #[arg(long, num_args = 2, value_names = ["URL_A", "URL_B"], conflicts_with = "url")]
    pub bridge: Option<Vec<String>>,
    /// Caller audio (WAV, any common format; repeatable, played in order). `FILE` starts once
    /// the bot has been silent for --silence-ms; `FILE@MS` starts MS ms after the stream
    /// starts, whatever the bot is doing; `FILE@bot+MS` starts once the bot has been speaking
    /// for MS ms (barge-in).
    #[arg(long = "audio", value_name = "FILE[@MS]")]
    pub audio: Vec<String>,
    /// Key presses (e.g. 1#), sent in order with the audio clips, after the bot's silence.
    #[arg(long, value_name = "DIGITS")]
    pub dtmf: Vec<String>,
    /// A custom parameter for `start.customParameters` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Sign the upgrade with X-Twilio-Signature using this auth token.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The URL to sign: the server's public URL as Twilio would dial it, when it differs from
    /// the URL dialled.
    #[arg(long, value_name = "URL")]
    pub signed_url: Option<String>,
    /// Write a stereo WAV of the call (caller left, agent right).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// End the call with `stop` after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// The bot silence (ms) a plain `FILE` clip or `--dtmf` waits for.
    #[arg(long, default_value_t = 700)]
    pub silence_ms: u64,
    /// The caller hangs up (sends `stop`) this many seconds after the stream starts, whatever
    /// is happening (a bot that never goes quiet, like the echo bot, needs it).
    #[arg(long, value_name = "SECONDS")]
    pub hangup_after: Option<f64>,
    /// After the script, end the call once the line has been quiet this long (seconds).
    #[arg(long, default_value_t = 3.0)]
    pub end_after_silence: f64,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}

/// The caller's actions in command-line order (audio clips and key presses interleaved as
/// given).
fn actions(args: &SimulateArgs, raw: &[String]) -> Result<Vec<CallerAction>, String> {
    let silence = Duration::from_millis(args.silence_ms);
    let order: Vec<bool> = raw
        .iter()
        .filter_map(|a| {
            if a == "--audio" || a.starts_with("--audio=") {
                Some(true)
            } else if a == "--dtmf" || a.starts_with("--dtmf=") {
                Some(false)
            } else {
                None
            }
        })
        .collect();
    let (mut audio, mut dtmf) = (args.audio.iter(), args.dtmf.iter());
    let mut out = Vec::new();
    let push_audio = |arg: &String, out: &mut Vec<CallerAction>| -> Result<(), String> {
        out.push(CallerAction::parse_audio_arg(arg, silence).map_err(|e| e.to_string())?);
        Ok(())
    };
    for is_audio in order {
        if is_audio {
            if let Some(a) = audio.next() {
                push_audio(a, &mut out)?;
            }
        } else if let Some(d) = dtmf.next() {
            out.push(CallerAction::dtmf(
                d.clone(),
                StartAt::AfterBotSilence(silence),
            ));
        }
    }
    for a in audio {
        push_audio(a, &mut out)?;
    }
    for d in dtmf {
        out.push(CallerAction::dtmf(
            d.clone(),
            StartAt::AfterBotSilence(silence),
        ));
    }
    Ok(out)
}

pub async fn run(args: SimulateArgs) -> Result<ExitCode, String> {
    let timeout = crate::serve::seconds(args.timeout, "--timeout")?;
    let progress = tokio::spawn(progress("simulating"));
    let result = match &args.bridge {
        Some(urls) => run_bridge(&args, urls, timeout).await,
        None => run_single(&args, timeout).await,
    };
    progress.abort();
    result
}

async fn run_single(args: &SimulateArgs, timeout: Duration) -> Result<ExitCode, String> {
    let raw: Vec<String> = std::env::args().collect();
    let url = args.url.clone().unwrap_or_default();
    let mut config = SimulatorConfig::new(url);
    config.auth_token = args.auth_token.clone();
    config.signed_url = args.signed_url.clone();
    config.custom_parameters = args.params.clone();
    config.caller_actions = actions(args, &raw)?;
    if let Some(after) = args.hangup_after {
        let after = crate::serve::seconds(after, "--hangup-after")?;
        config.caller_actions.push(CallerAction::Hangup {
            after: StartAt::AtOffset(after),
        });
    }
    config.record = args.record.clone();
    config.timeout = timeout;
    config.end_after_bot_silence =
        crate::serve::seconds(args.end_after_silence, "--end-after-silence")?;
    let report = TwilioSimulator::new(config)
        .run()
        .await
        .map_err(|e| e.to_string())?;
    print_report(&report);
    if report.end.is_normal() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "vr simulate: the call did not end normally: {:?}",
            report.end
        );
        Ok(ExitCode::from(2))
    }
}

/// Prints a simulation's timeline and counters.
pub fn print_report(report: &SimulationReport) {
    println!(
        "call {} (stream {})",
        report.ids.call_sid, report.ids.stream_sid
    );
    for entry in &report.timeline {
        println!("{entry}");
    }
    let c = &report.counters;
    println!(
        "ended: {:?} after {:.1}s; frames sent {}, media received {}, marks received {} / echoed {}, clears {}, dtmf {}, protocol errors {}",
        report.end,
        report.duration.as_secs_f64(),
        c.frames_sent,
        c.media_received,
        c.marks_received,
        c.marks_echoed,
        c.clears,
        c.dtmf_sent,
        c.protocol_errors
    );
    if let Some(path) = &report.recording {
        println!("recording: {}", path.display());
    }
}

async fn run_bridge(
    args: &SimulateArgs,
    urls: &[String],
    timeout: Duration,
) -> Result<ExitCode, String> {
    let [a, b] = urls else {
        return Err("--bridge takes two URLs".into());
    };
    let side = |url: &String| {
        let mut s = BridgeSide::new(url.clone());
        s.auth_token = args.auth_token.clone();
        s.custom_parameters = args.params.clone();
        s
    };
    let mut config = BridgeConfig::new(side(a), side(b));
    config.timeout = timeout;
    config.record = args.record.clone();
    let report = Bridge::new(config).run().await.map_err(|e| e.to_string())?;
    for (name, leg) in [("A", &report.a), ("B", &report.b)] {
        println!(
            "side {name}: call {} (stream {})",
            leg.ids.call_sid, leg.ids.stream_sid
        );
        for entry in &leg.timeline {
            println!("  {entry}");
        }
    }
    println!(
        "ended: {:?} after {:.1}s",
        report.end,
        report.duration.as_secs_f64()
    );
    if let Some(path) = &report.recording {
        println!("recording: {}", path.display());
    }
    match report.end {
        BridgeEnd::Closed { .. } | BridgeEnd::Stopped => Ok(ExitCode::SUCCESS),
        BridgeEnd::Timeout => {
            eprintln!("vr simulate: the bridged call timed out");
            Ok(ExitCode::from(2))
        }
    }
}

/// Prints a progress line on stderr every 5 seconds.
pub async fn progress(what: &'static str) {
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        eprintln!("vr: {what}… {:.0}s", started.elapsed().as_secs_f64());
    }
}
