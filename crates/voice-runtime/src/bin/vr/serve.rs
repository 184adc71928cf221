//! `vr serve`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use voice_runtime::app::{App, AppConfig, BotKind};
use voice_runtime::conversation::Observer;
use voice_runtime::mock::Script;
use voice_runtime::twilio::rest::TwilioConfig;
use voice_runtime::twilio::server::{ServerConfig, SignaturePolicy};
use voice_runtime::{SttKind, TtsKind};

/// Options of `vr serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs TWILIO_AUTH_TOKEN (signature checks)
    /// or an explicit TWILIO_SKIP_SIGNATURE_VALIDATION=1.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "VOICE_SERVER_PORT", default_value_t = 8080)]
    pub port: u16,
    /// The public base URL Twilio reaches this server at (e.g. https://bot.example.com):
    /// TwiML points there and signatures are checked against it.
    #[arg(long, env = "VOICE_STREAM_URL")]
    pub public_url: Option<String>,
    /// The bot answering calls.
    #[arg(long, default_value = "demo", value_parser = parse_bot)]
    pub bot: BotKind,
    /// Speech-to-text provider: mock, elevenlabs or azure.
    #[arg(long, env = "STT_PROVIDER", default_value = "mock", value_parser = parse_stt)]
    pub stt: SttKind,
    /// Text-to-speech provider: mock, elevenlabs or azure.
    #[arg(long, env = "TTS_PROVIDER", default_value = "mock", value_parser = parse_tts)]
    pub tts: TtsKind,
    /// A second speech-to-text provider run beside the first (its transcripts are tagged
    /// secondary; it never drives the bot).
    #[arg(long, value_parser = parse_stt)]
    pub stt_secondary: Option<SttKind>,
    /// With --stt mock: a file of lines (one per caller turn) committed at the end of each
    /// speech segment of the caller's real audio. Without it the mock recogniser commits only
    /// texts POSTed to /test/inject.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Record every call into this directory (one stereo WAV per CallSid: caller left, agent right).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// With --tts mock: relay everything the bot says to this peer server's /test/inject, so
    /// two servers can talk bot-to-bot over TRANSPORT=mock (e.g. http://127.0.0.1:8081).
    #[arg(long, value_name = "URL")]
    pub relay_to: Option<String>,
    /// Play every call live through ffplay (needs ffplay installed).
    #[arg(long, env = "VOICE_MONITOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub monitor: bool,
    /// End a stream that sends nothing for this many seconds.
    #[arg(long, default_value_t = 15.0)]
    pub idle_timeout: f64,
    /// On Ctrl-C / SIGTERM, how many seconds live calls get to end before they are cut.
    #[arg(long, default_value_t = 10.0)]
    pub drain_seconds: f64,
}

fn parse_bot(s: &str) -> Result<BotKind, String> {
    s.parse()
}
pub(crate) fn parse_stt(s: &str) -> Result<SttKind, String> {
    s.parse()
        .map_err(|e: voice_runtime::FactoryError| e.to_string())
}
pub(crate) fn parse_tts(s: &str) -> Result<TtsKind, String> {
    s.parse()
        .map_err(|e: voice_runtime::FactoryError| e.to_string())
}

pub(crate) fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{name} must be a finite number of seconds above zero"))
}

/// Raises the open-file limit to its hard maximum: every call is a socket.
pub(crate) fn raise_fd_limit() {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
            && soft < hard
            && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err()
        {
            tracing::debug!(soft, hard, "could not raise the open-file limit");
        }
    }
}

pub async fn run(args: ServeArgs) -> Result<ExitCode, String> {
    raise_fd_limit();
    let twilio = TwilioConfig::from_env().map_err(|e| e.to_string())?;
    let signature = SignaturePolicy::resolve(
        twilio.auth_token(),
        twilio.skip_signature_validation,
        args.host,
    )
    .map_err(|e| e.to_string())?;
    let server = ServerConfig {
        public_url: args.public_url.clone(),
        signature,
        idle_timeout: seconds(args.idle_timeout, "--idle-timeout")?,
        ..ServerConfig::default()
    };
    let drain = seconds(args.drain_seconds, "--drain-seconds")?;
    let script = args
        .script
        .as_ref()
        .map(|p| {
            Script::from_file(p).map_err(|e| format!("cannot read the script {}: {e}", p.display()))
        })
        .transpose()?;
    let rest = if twilio.account_sid.is_some() && twilio.auth_token().is_some() {
        Some(twilio.rest_client().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let scripted = script.is_some() && args.stt == SttKind::Mock;
    let config = AppConfig {
        bot: args.bot,
        stt: args.stt,
        stt_secondary: args.stt_secondary,
        tts: args.tts,
        script,
        record_dir: args.record.clone(),
        monitor: args.monitor,
        server,
        observer: Some(Observer::logging(scripted)),
        rest,
        mock_tts_ms_per_char: None,
        mock_tts_relay: args.relay_to.clone(),
    };
    let app = App::build(config, Arc::new(|name: &str| std::env::var(name).ok()))
        .map_err(|e| e.to_string())?;
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        address = %local,
        bot = ?args.bot,
        stt = %args.stt,
        tts = %args.tts,
        record = ?args.record,
        "vr serve: listening on http://{local} (POST /incoming, GET /voice, POST /status, GET /healthz, GET /metrics)"
    );
    voice_runtime::app::serve(app, listener, crate::shutdown::signal(), drain)
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("vr serve: stopped");
    Ok(ExitCode::SUCCESS)
}
