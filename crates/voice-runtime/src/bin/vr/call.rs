//! `vr call`, `vr hangup`, `vr sms`: Twilio REST (and the mock transport for calls).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use voice_runtime::Transport;
use voice_runtime::transport::place_mock_call;
use voice_runtime::twilio::rest::{HangupResult, TwilioConfig};

/// Options of `vr call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The number to call (E.164, e.g. +358401234567). With TRANSPORT=mock: the base URL of
    /// the server to call (e.g. http://127.0.0.1:8081).
    pub to: String,
    /// TRANSPORT=mock only: the caller bot's server (default: VOICE_STREAM_URL).
    #[arg(long, env = "VOICE_STREAM_URL")]
    pub caller_url: Option<String>,
    /// TRANSPORT=mock only: end the bridged call after this many seconds.
    #[arg(long, default_value_t = 300.0)]
    pub timeout: f64,
}

/// Options of `vr hangup`.
#[derive(Debug, Args)]
pub struct HangupArgs {
    /// The call's SID (CA…).
    pub call_sid: String,
}

/// Options of `vr sms`.
#[derive(Debug, Args)]
pub struct SmsArgs {
    /// The destination number (E.164).
    pub to: String,
    /// The message text.
    pub text: String,
}

fn twilio() -> Result<TwilioConfig, String> {
    TwilioConfig::from_env().map_err(|e| e.to_string())
}

pub async fn call(args: CallArgs) -> Result<ExitCode, String> {
    if Transport::from_env().is_mock() {
        let timeout = crate::serve::seconds(args.timeout, "--timeout")?;
        let call = place_mock_call(&args.to, args.caller_url.as_deref(), timeout)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "mock call {} placed: bridging {} with the caller bot",
            call.call_sid, call.target_stream_url
        );
        let progress = tokio::spawn(crate::simulate::progress("call in progress"));
        let report = call.wait().await;
        progress.abort();
        let report = report.map_err(|e| e.to_string())?;
        println!(
            "call ended: {:?} after {:.1}s",
            report.end,
            report.duration.as_secs_f64()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let config = twilio()?;
    let request = voice_runtime::twilio::outbound::call_request(&config, &args.to, None, true)
        .map_err(|e| e.to_string())?;
    let client = config.rest_client().map_err(|e| e.to_string())?;
    let call = client
        .create_call(&request)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", call.sid);
    eprintln!(
        "call {} to {} is {}; its stream will connect to the server at VOICE_STREAM_URL",
        call.sid,
        args.to,
        call.status.as_deref().unwrap_or("queued")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn hangup(args: HangupArgs) -> Result<ExitCode, String> {
    let client = twilio()?.rest_client().map_err(|e| e.to_string())?;
    let result = tokio::time::timeout(Duration::from_secs(60), client.hangup(&args.call_sid))
        .await
        .map_err(|_| "Twilio did not answer within 60 s".to_owned())?
        .map_err(|e| e.to_string())?;
    match result {
        HangupResult::Completed => println!("call {} hung up", args.call_sid),
        HangupResult::AlreadyEnded => println!("call {} had already ended", args.call_sid),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sms(args: SmsArgs) -> Result<ExitCode, String> {
    let transport = voice_runtime::get_sms_transport("twilio").map_err(|e| e.to_string())?;
    let result = transport
        .send_sms(&args.to, &args.text)
        .await
        .map_err(|e| e.to_string())?;
    println!("{} {} {}", result.message_sid, result.status, result.to);
    Ok(ExitCode::SUCCESS)
}
