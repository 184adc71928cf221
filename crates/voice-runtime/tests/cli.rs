//! The `vr` program as a user runs it: `serve` + `simulate` as processes, SIGTERM with a live
//! call (graceful end, recording finalised), `convert`, and clear errors for bad settings.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use voice_runtime::codec::wav::read_wav_file;
use voice_runtime::mock::{SimulatorConfig, TwilioSimulator};

const VR: &str = env!("CARGO_BIN_EXE_vr");

/// A `vr` command with a clean environment (no ambient Twilio or provider settings).
fn vr() -> Command {
    let mut cmd = Command::new(VR);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn spawn(args: &[&str]) -> Server {
        let port = free_port();
        let child = vr()
            .args(["serve", "--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let server = Server { child, port };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ =
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vr serve did not become healthy");
    }

    fn terminate(mut self) -> (std::process::ExitStatus, String, Duration) {
        let started = Instant::now();
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "vr serve did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = started.elapsed();
        let mut logs = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut logs)
            .unwrap();
        (status, logs, took)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

#[test]
fn serve_and_simulate_as_processes_with_an_echo_bot_and_recordings() {
    let dir = tempdir("echo");
    let server = Server::spawn(&["--bot", "echo", "--record", dir.to_str().unwrap()]);
    let out = run(vr().args([
        "simulate",
        "--url",
        &format!("ws://127.0.0.1:{}/voice", server.port),
        "--audio",
        common::asset("caller-1-hello-there-can-you-hear.wav")
            .to_str()
            .unwrap(),
        "--param",
        "From=+15550100",
        "--hangup-after",
        "4",
        "--timeout",
        "20",
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The echo bot sent the clip back with a mark per second, echoed after playback.
    assert!(stdout.contains("mark echo-1__"), "{stdout}");
    assert!(stdout.contains("caller hung up"), "{stdout}");
    assert!(stdout.contains("bot audio started"), "{stdout}");
    let call_sid = stdout
        .split_whitespace()
        .find(|w| w.starts_with("CA") && w.len() == 34)
        .unwrap()
        .to_owned();
    let (status, logs, _) = server.terminate();
    assert!(status.success(), "{status:?}\n{logs}");
    let wav = read_wav_file(dir.join(format!("{call_sid}.wav"))).unwrap();
    assert_eq!(wav.channels(), 2);
    assert_eq!(wav.sample_rate(), 8000);
    assert!(
        wav.duration() > Duration::from_secs(2),
        "{:?}",
        wav.duration()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_live_calls_gracefully_and_finalises_their_recordings() {
    let dir = tempdir("sigterm");
    let server = Server::spawn(&["--record", dir.to_str().unwrap(), "--drain-seconds", "5"]);
    let mut sim = SimulatorConfig::new(format!("ws://127.0.0.1:{}/voice", server.port));
    sim.timeout = Duration::from_secs(60);
    sim.end_after_bot_silence = Duration::from_secs(60);
    let ids = voice_runtime::mock::SimIds::random();
    sim.ids = Some(ids.clone());
    let call = tokio::spawn(TwilioSimulator::new(sim).run());
    // Let the call connect and the greeting play for a moment.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, logs, took) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}\n{logs}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let report = common::report_of(call, 10).await;
    // The server ended the call itself (a close with a code), not a broken connection.
    common::assert_server_closed(&report);
    assert!(logs.contains("live calls ended"), "{logs}");
    // The recording is complete: its header matches its size.
    let path = dir.join(format!("{}.wav", ids.call_sid));
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(4).position(|w| w == b"data").unwrap();
    let data_len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    assert_eq!(
        data_len + at + 8,
        bytes.len(),
        "header says {data_len} bytes of audio"
    );
    assert!(
        data_len > 8000,
        "at least a second of stereo audio: {data_len}"
    );
}

#[test]
fn convert_round_trips_between_encodings_and_rates() {
    let dir = tempdir("convert");
    let src = common::asset("caller-2-what-is-the-weather-like.wav");
    let pcm = dir.join("pcm16k.wav");
    let out = run(vr().args([
        "convert",
        src.to_str().unwrap(),
        pcm.to_str().unwrap(),
        "--to",
        "pcm16",
        "--rate",
        "16000",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wav = read_wav_file(&pcm).unwrap();
    assert_eq!((wav.sample_rate(), wav.channels()), (16000, 1));
    let alaw = dir.join("alaw.wav");
    let out = run(vr().args([
        "convert",
        pcm.to_str().unwrap(),
        alaw.to_str().unwrap(),
        "--to",
        "alaw",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = read_wav_file(&alaw).unwrap();
    assert_eq!(back.sample_rate(), 8000);
    let original = read_wav_file(&src).unwrap();
    let diff = back.duration().abs_diff(original.duration());
    assert!(diff < Duration::from_millis(5), "{diff:?}");
    // A file that is not audio is a clear error, not a crash.
    let junk = dir.join("junk.wav");
    std::fs::write(&junk, b"not a wav file").unwrap();
    let out = run(vr().args([
        "convert",
        junk.to_str().unwrap(),
        dir.join("x.wav").to_str().unwrap(),
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.wav"));
}

#[test]
fn missing_or_bad_settings_are_clear_errors() {
    let out = run(vr().args(["call", "+358401234567"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("VOICE_STREAM_URL"));
    let out = run(vr()
        .args(["call", "+358401234567"])
        .env("VOICE_STREAM_URL", "https://bot.example.com"));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN required")
    );
    let out = run(vr().args(["sms", "+358401234567", "hi"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TWILIO_ACCOUNT_SID"));
    let out = run(vr()
        .args(["hangup", "CA../../x"])
        .env("TWILIO_ACCOUNT_SID", "AC1")
        .env("TWILIO_AUTH_TOKEN", "t"));
    assert!(!out.status.success());
    let out = run(vr().args(["serve", "--host", "0.0.0.0", "--port", "0"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TWILIO_AUTH_TOKEN"));
    let out = run(vr().args(["serve", "--stt", "whisper"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown STT provider: whisper"));
    let out = run(vr()
        .args(["serve", "--port", "1"])
        .env("VOICE_SERVER_PORT", "x"));
    assert!(!out.status.success());
    let out = run(vr().args(["serve"]).env("VOICE_SERVER_PORT", "eighty"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'eighty'"));
    let out = run(vr().args(["serve", "--stt", "elevenlabs", "--port", "0"]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ELEVENLABS_API_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Simulating against a port nobody listens on fails with a reason.
    let out = run(vr().args([
        "simulate",
        "--url",
        &format!("ws://127.0.0.1:{}/voice", free_port()),
        "--timeout",
        "5",
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connect"));
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
