//! No key, token or signature appears in logs or error messages: the real `vr serve` runs as
//! a child process at `RUST_LOG=trace` (text, then JSON logs) against local fakes of
//! ElevenLabs and Twilio REST that also fail on purpose (an STT `auth_error` and a TTS 401
//! whose texts echo the API key, a failed REST hang-up), serves webhooks and streams with
//! good and bad signatures and a whole call, and is stopped with SIGTERM. Everything it wrote
//! is then searched for the configured secrets and the signatures it was sent.
#![cfg(all(feature = "cli", feature = "elevenlabs", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use voice_runtime::bots::{GOODBYE, GREETING};
use voice_runtime::mock::simulator::twilio_sid;
use voice_runtime::mock::{
    CallEnd, CallerAction, SimIds, SimulatorConfig, SimulatorError, StartAt, TwilioSimulator,
};
use voice_runtime::twilio::signature::SignatureValidator;

use fakes::twilio_rest::FakeTwilioRest;
use fakes::{Behaviour, FakeElevenLabs, WAIT, in_order};

/// The configured secrets, unique to one run.
struct Secrets {
    api_key: String,
    auth_token: String,
    account_sid: String,
}

impl Secrets {
    fn new() -> Self {
        Self {
            api_key: twilio_sid("sk_"),
            auth_token: twilio_sid(""),
            account_sid: twilio_sid("AC"),
        }
    }

    /// `Authorization: Basic …` as sent to Twilio.
    fn basic_auth(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.account_sid, self.auth_token))
    }
}

/// The `vr` child process; killed if the test ends early.
struct Server {
    child: Child,
    output: Vec<JoinHandle<Vec<u8>>>,
}

impl Server {
    fn spawn(port: u16, json: bool, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vr"));
        if json {
            command.args(["--log-format", "json"]);
        }
        command
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--stt", "elevenlabs", "--tts", "elevenlabs"])
            .env_clear()
            .env("RUST_LOG", "trace")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("vr starts");
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = pipe.read_to_end(&mut out);
                out
            })
        };
        let output = vec![
            drain(Box::new(child.stdout.take().unwrap())),
            drain(Box::new(child.stderr.take().unwrap())),
        ];
        Self { child, output }
    }

    /// SIGTERM, then waits for the exit; returns everything written to stdout and stderr.
    async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let deadline = tokio::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "vr did not stop within {WAIT:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut text = String::new();
        for handle in std::mem::take(&mut self.output) {
            text.push_str(&String::from_utf8_lossy(&handle.join().expect("reader")));
        }
        (status, text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn wait_healthy(server: &mut Server, base: &str) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            panic!("vr exited early with {status}");
        }
        let ok = client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "vr never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn clip(name: &str, start: StartAt) -> CallerAction {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/audio")
        .join(name);
    CallerAction::audio_file(&path, start).expect("a caller clip")
}

/// Removes ANSI escape sequences (coloured text logs).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where `secret` (or a 16-character piece of it, or its hex or percent-encoded form) shows.
fn leaks(logs: &str, name: &str, secret: &str, pieces: bool) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    forms.push(secret.bytes().map(|b| format!("{b:02x}")).collect());
    forms.push(
        secret
            .replace('%', "%25")
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D"),
    );
    if pieces && secret.len() > 16 {
        let bytes = secret.as_bytes();
        forms.extend(
            bytes
                .windows(16)
                .map(|w| String::from_utf8_lossy(w).into_owned()),
        );
    }
    logs.lines()
        .filter(|line| forms.iter().any(|form| line.contains(form.as_str())))
        .map(|line| format!("{name}: {line}"))
        .collect()
}

/// One run of the server: webhooks, a refused stream, a call whose providers fail, a whole
/// call, SIGTERM. Returns the logs and the secrets that must not be in them.
async fn run(json: bool) {
    let secrets = Secrets::new();
    let mut behaviour = Behaviour::new(&secrets.api_key);
    behaviour.commits = vec!["thank you goodbye".into()];
    behaviour.tts_fail_first = Some(401);
    behaviour.stt_auth_error_first = true;
    let eleven = FakeElevenLabs::start(behaviour).await;
    // With text logs the REST hang-up fails once (the server closes the stream itself); with
    // JSON logs it succeeds and the fake ends the stream, as Twilio does.
    let rest = FakeTwilioRest::start(&secrets.account_sid, &secrets.auth_token, !json).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let ws_url = format!("ws://127.0.0.1:{port}/voice");
    let mut server = Server::spawn(
        port,
        json,
        &[
            ("ELEVENLABS_API_KEY", secrets.api_key.clone()),
            ("ELEVENLABS_BASE_URL", eleven.base_url()),
            ("TWILIO_ACCOUNT_SID", secrets.account_sid.clone()),
            ("TWILIO_AUTH_TOKEN", secrets.auth_token.clone()),
            ("TWILIO_API_BASE_URL", rest.base_url()),
            ("VOICE_STREAM_URL", base.clone()),
        ],
    );
    wait_healthy(&mut server, &base).await;
    let validator = SignatureValidator::new(secrets.auth_token.as_str()).unwrap();

    // The voice webhook, signed and forged.
    let call_ids = SimIds::random();
    let params = [
        ("CallSid", call_ids.call_sid.clone()),
        ("From", "+15550100".to_owned()),
        ("To", "+15550199".to_owned()),
    ];
    let webhook_signature = validator.compute(&format!("{base}/incoming"), params.iter().cloned());
    let client = reqwest::Client::new();
    let post = |signature: String| {
        client
            .post(format!("{base}/incoming"))
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .timeout(WAIT)
            .send()
    };
    let answer = post(webhook_signature.clone())
        .await
        .expect("webhook answered");
    assert_eq!(answer.status(), 200);
    let twiml = answer.text().await.unwrap();
    assert!(
        twiml.contains("<Stream") && twiml.contains(&ws_url),
        "{twiml}"
    );
    let forged = post("bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==".to_owned())
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // A stream signed with the wrong token is refused.
    let mut bad = SimulatorConfig::new(ws_url.clone());
    bad.auth_token = Some(twilio_sid("bad"));
    bad.signed_url = Some(ws_url.clone());
    assert!(
        matches!(
            TwilioSimulator::new(bad).run().await,
            Err(SimulatorError::Handshake { status: 403 })
        ),
        "a badly signed stream must be refused"
    );

    let stream_signature = validator.compute(&ws_url, std::iter::empty::<(&str, &str)>());
    let signed = |ids: SimIds| {
        let mut sim = SimulatorConfig::new(ws_url.clone());
        sim.auth_token = Some(secrets.auth_token.clone());
        sim.signed_url = Some(ws_url.clone());
        sim.ids = Some(ids);
        sim.timeout = Duration::from_secs(30);
        sim
    };

    // Call 1: the recogniser refuses the key, the greeting is answered 401; the caller is
    // silent and the simulator ends the call.
    let failing_ids = SimIds::random();
    let mut sim = signed(failing_ids.clone());
    sim.end_after_bot_silence = Duration::from_secs(1);
    let report = TwilioSimulator::new(sim).run().await.expect("call 1 runs");
    assert_eq!(report.end, CallEnd::ScriptDone, "{:#?}", report.timeline);
    assert!(
        eleven
            .wait_for(|log| log.stt.first().is_some_and(|c| c.closed)
                && log.tts.first().is_some_and(|r| r.status == 401))
            .await,
        "the providers' errors were not exercised"
    );

    // Call 2: a whole call, ended by the bot over REST.
    let mut sim = signed(call_ids.clone());
    sim.caller_actions = vec![clip(
        "caller-4-thank-you-goodbye.wav",
        StartAt::AfterBotSilence(Duration::from_millis(1500)),
    )];
    sim.end_after_bot_silence = Duration::from_secs(20);
    let simulator = TwilioSimulator::new(sim);
    rest.end_stream_on_hangup(&call_ids.call_sid, simulator.stop_token());
    let report = simulator.run().await.expect("call 2 runs");
    let texts = eleven.log().tts_texts();
    let hangups = rest.hangups();
    if json {
        assert_eq!(
            report.end,
            CallEnd::Stopped,
            "ended by Twilio after the REST hang-up"
        );
        assert_eq!(hangups.len(), 1, "{hangups:?}");
        assert_eq!(hangups[0].status, 200);
    } else {
        assert!(
            matches!(report.end, CallEnd::ServerClosed { code: Some(_) }),
            "closed by the server after the failed REST hang-up: {:?}",
            report.end
        );
        assert_eq!(hangups.len(), 1, "{hangups:?}");
        assert_eq!(hangups[0].status, 500);
    }
    assert_eq!(hangups[0].call_sid, call_ids.call_sid);
    assert_eq!(rest.auth_failures(), 0);
    assert!(report.counters.media_received > 0, "{:?}", report.counters);
    assert!(
        in_order(
            &texts,
            &[GREETING, GREETING, "You said: thank you goodbye", GOODBYE]
        ),
        "{texts:?}"
    );

    let (status, logs) = server.terminate().await;
    assert!(status.success(), "vr serve exited with {status}:\n{logs}");
    let plain = strip_ansi(&logs);

    // The logs are real: they hold the calls, the errors and the refusals.
    assert!(plain.lines().count() > 100, "too few log lines:\n{plain}");
    for marker in [
        call_ids.call_sid.as_str(),
        failing_ids.call_sid.as_str(),
        "auth_error",
        "tts HTTP 401",
        "bad Twilio signature",
        "signal received",
    ] {
        assert!(plain.contains(marker), "the logs never mention {marker:?}");
    }
    if json {
        let not_json: Vec<&str> = plain
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
            .collect();
        assert!(
            not_json.is_empty(),
            "lines that are not JSON: {not_json:#?}"
        );
    } else {
        assert!(
            plain.contains("REST hangup failed"),
            "the failed hang-up was not logged"
        );
    }

    // And no secret is in them.
    let mut found = Vec::new();
    for text in [&logs, &plain] {
        found.extend(leaks(text, "ELEVENLABS_API_KEY", &secrets.api_key, true));
        found.extend(leaks(text, "TWILIO_AUTH_TOKEN", &secrets.auth_token, true));
        found.extend(leaks(
            text,
            "Basic credentials",
            &secrets.basic_auth(),
            false,
        ));
        found.extend(leaks(
            text,
            "webhook X-Twilio-Signature",
            &webhook_signature,
            false,
        ));
        found.extend(leaks(
            text,
            "stream X-Twilio-Signature",
            &stream_signature,
            false,
        ));
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "secrets in the logs:\n{}",
        found.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_text_logs_of_a_full_call_at_trace_level() {
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_json_logs_of_a_full_call_at_trace_level() {
    run(true).await;
}
