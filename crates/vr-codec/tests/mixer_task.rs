//! The running mixer (tokio task, handle, shutdown order) and the ffplay monitor sink.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vr_codec::FRAME_BYTES;
use vr_codec::mixer::{MixedFrame, Mixer, MixerError, MixerSink, SinkError};

#[derive(Clone, Default)]
struct Probe {
    frames: Arc<Mutex<Vec<MixedFrame>>>,
    finishes: Arc<Mutex<usize>>,
}

struct ProbeSink(Probe);

impl MixerSink for ProbeSink {
    fn write(&mut self, frame: &MixedFrame) -> Result<(), SinkError> {
        self.0.frames.lock().unwrap().push(frame.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        *self.0.finishes.lock().unwrap() += 1;
        Ok(())
    }
    fn name(&self) -> &str {
        "probe"
    }
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    assert!(matches!(
        Mixer::start(Vec::new()),
        Err(MixerError::NoRuntime)
    ));
}

#[tokio::test(start_paused = true)]
async fn ticks_every_20_ms_and_shuts_down_finishing_sinks_once() {
    let probe = Probe::default();
    let mixer = Mixer::start(vec![Box::new(ProbeSink(probe.clone()))]).unwrap();
    let writer = mixer.clone();
    std::thread::spawn(move || {
        writer.write_caller(&[0x80; FRAME_BYTES * 3]);
        writer.write_agent(&[0x00; FRAME_BYTES * 2]);
    })
    .join()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(199)).await;
    assert_eq!(mixer.stats().ticks, 10, "ticks at 0, 20, ..., 180 ms");
    mixer.write_agent(&[0x80; FRAME_BYTES * 100]);
    assert_eq!(mixer.clear_agent(), 100);
    assert_eq!(mixer.stats().agent_queued, 0);
    let other = mixer.clone();
    mixer.shutdown().await;
    assert_eq!(*probe.finishes.lock().unwrap(), 1);
    let ticks = other.stats().ticks;
    {
        let frames = probe.frames.lock().unwrap();
        assert_eq!(
            frames.len() as u64,
            ticks,
            "every tick reached the sink before finish"
        );
        assert!(frames[0].caller.is_some() && frames[0].agent.is_some());
        assert!(frames[2].caller.is_some() && frames[2].agent.is_none());
        assert!(frames[3].caller.is_none() && frames[3].agent.is_none());
        assert!(
            frames[3..].iter().all(|f| f.agent.is_none()),
            "cleared audio is never mixed"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(other.stats().ticks, ticks, "no ticks after shutdown");
    other.shutdown().await; // second shutdown returns at once
    assert_eq!(*probe.finishes.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_stops_the_mixer_and_finishes_sinks() {
    let probe = Probe::default();
    let mixer = Mixer::start(vec![Box::new(ProbeSink(probe.clone()))]).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(mixer);
    for _ in 0..200 {
        if *probe.finishes.lock().unwrap() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*probe.finishes.lock().unwrap(), 1);
}

/// A sink whose third write blocks for 1.5 s, recording whether finish ever overlaps a write.
struct Stuck {
    writes: Arc<Mutex<u64>>,
    in_write: Arc<AtomicBool>,
    overlap: Arc<AtomicBool>,
    finishes: Arc<Mutex<usize>>,
}

impl MixerSink for Stuck {
    fn write(&mut self, _frame: &MixedFrame) -> Result<(), SinkError> {
        self.in_write.store(true, Ordering::SeqCst);
        let n = {
            let mut w = self.writes.lock().unwrap();
            *w += 1;
            *w
        };
        if n == 3 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        self.in_write.store(false, Ordering::SeqCst);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        if self.in_write.load(Ordering::SeqCst) {
            self.overlap.store(true, Ordering::SeqCst);
        }
        *self.finishes.lock().unwrap() += 1;
        Ok(())
    }
    fn name(&self) -> &str {
        "stuck"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w30_a_stuck_sink_delays_neither_ticks_nor_timers_and_is_finished_once() {
    let writes = Arc::new(Mutex::new(0));
    let in_write = Arc::new(AtomicBool::new(false));
    let overlap = Arc::new(AtomicBool::new(false));
    let finishes = Arc::new(Mutex::new(0));
    let sink = Stuck {
        writes: writes.clone(),
        in_write: in_write.clone(),
        overlap: overlap.clone(),
        finishes: finishes.clone(),
    };
    let mixer = Mixer::start(vec![Box::new(sink)]).unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "timers run while a sink blocks"
    );
    assert!(in_write.load(Ordering::SeqCst), "third write is stuck");
    assert!(mixer.stats().ticks >= 10, "ticks go on while a sink blocks");
    let probe = mixer.clone();
    mixer.shutdown().await;
    assert_eq!(*finishes.lock().unwrap(), 1);
    assert!(
        !overlap.load(Ordering::SeqCst),
        "finish never overlaps a write"
    );
    assert_eq!(
        *writes.lock().unwrap(),
        probe.stats().ticks,
        "queued ticks were written first"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_is_disabled_and_the_others_continue() {
    struct Panics;
    impl MixerSink for Panics {
        fn write(&mut self, _frame: &MixedFrame) -> Result<(), SinkError> {
            panic!("user sink bug");
        }
        fn finish(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn name(&self) -> &str {
            "panics"
        }
    }
    let probe = Probe::default();
    let mixer = Mixer::start(vec![Box::new(Panics), Box::new(ProbeSink(probe.clone()))]).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = mixer.clone();
    mixer.shutdown().await;
    assert_eq!(
        probe.frames.lock().unwrap().len() as u64,
        stats.stats().ticks
    );
    assert_eq!(*probe.finishes.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn records_stereo_without_a_monitor_and_finalises_the_header() {
    use vr_codec::mixer::WavSink;
    use vr_codec::wav::{WavLayout, read_wav_file};
    let path =
        std::env::temp_dir().join(format!("vr-codec-task-{}/stereo.wav", std::process::id()));
    let wav = WavSink::create(&path, WavLayout::Stereo).unwrap();
    let mixer = Mixer::start(vec![Box::new(wav)]).unwrap();
    mixer.write_caller(&[0x80; FRAME_BYTES * 2]);
    mixer.write_agent(&[0x00; FRAME_BYTES]);
    tokio::time::sleep(Duration::from_millis(90)).await;
    let stats = mixer.clone();
    mixer.shutdown().await;
    let ticks = stats.stats().ticks as usize;
    assert_eq!(ticks, 5);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 46 + ticks * 2 * FRAME_BYTES);
    assert_eq!(
        &bytes[42..46],
        &((ticks * 2 * FRAME_BYTES) as u32).to_le_bytes()
    );
    let audio = read_wav_file(&path).unwrap();
    let raw = audio.mulaw_bytes().unwrap();
    assert_eq!(&raw[..2], &[0x80, 0x00]);
    assert_eq!(&raw[2 * FRAME_BYTES..2 * FRAME_BYTES + 2], &[0x80, 0xFF]);
    assert_eq!(&raw[4 * FRAME_BYTES..4 * FRAME_BYTES + 2], &[0xFF, 0xFF]);
}

#[cfg(unix)]
mod ffplay {
    use std::ffi::OsStr;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    use super::*;
    use vr_codec::mixer::{FFPLAY_ARGS, FFPLAY_NOT_FOUND, FfplaySink, SinkFanout, WavSink};
    use vr_codec::wav::{WavLayout, read_wav_file};

    fn stub_dir(name: &str, script: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vr-codec-ffplay-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ffplay");
        std::fs::write(&path, format!("#!/bin/sh\nd=$(dirname \"$0\")\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    /// Spawns, retrying "text file busy" (a script just written while another test forks).
    fn spawn(dir: &Path) -> FfplaySink {
        for _ in 0..50 {
            match FfplaySink::spawn_in_path(dir.as_os_str()) {
                Ok(s) => return s,
                Err(SinkError::Spawn { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("could not spawn the ffplay stub");
    }

    fn frame(byte: u8) -> MixedFrame {
        MixedFrame {
            caller: None,
            agent: None,
            mono: [byte; FRAME_BYTES],
        }
    }

    #[test]
    fn b13_missing_ffplay_is_a_clear_error() {
        let err = FfplaySink::spawn_in_path(OsStr::new("/nonexistent-vr-codec-dir")).unwrap_err();
        assert!(matches!(err, SinkError::FfplayNotFound));
        assert_eq!(err.to_string(), FFPLAY_NOT_FOUND);
        assert_eq!(
            err.to_string(),
            "ffplay not found — install ffmpeg to use AudioMixer: https://ffmpeg.org/download.html"
        );
    }

    #[test]
    fn b14_spawns_ffplay_with_the_monitor_arguments_and_pipes_the_mix() {
        let dir = stub_dir(
            "args",
            "trap '' TERM\necho \"$@\" > \"$d/args\"\nexec cat > \"$d/audio\"",
        );
        let mut sink = spawn(&dir);
        assert_eq!(sink.name(), "ffplay");
        for b in 1..=5u8 {
            sink.write(&frame(b)).unwrap();
        }
        // Under load the stub may not have run its first line yet; a TERM before its `trap`
        // would kill it, so let it start (bounded) before finishing.
        for _ in 0..500 {
            if dir.join("args").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        sink.finish().unwrap();
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert_eq!(args.trim_end(), FFPLAY_ARGS.join(" "));
        assert_eq!(
            args.trim_end(),
            "-nodisp -probesize 32 -fflags nobuffer -f mulaw -ar 8000 -"
        );
        let audio = std::fs::read(dir.join("audio")).unwrap();
        let expected: Vec<u8> = (1..=5u8).flat_map(|b| [b; FRAME_BYTES]).collect();
        assert_eq!(audio, expected);
    }

    #[test]
    fn b19_kills_a_monitor_that_ignores_sigterm() {
        let dir = stub_dir(
            "stubborn",
            "trap '' TERM\ntouch \"$d/ready\"\nexec sleep 30",
        );
        let mut sink = spawn(&dir);
        sink.write(&frame(1)).unwrap();
        // The TERM must come after the stub's `trap`, or the shell dies of it at once.
        for _ in 0..500 {
            if dir.join("ready").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let started = Instant::now();
        sink.finish().unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
            "{took:?}"
        );
    }

    #[test]
    fn b19_sigterm_is_enough_for_a_well_behaved_monitor() {
        let dir = stub_dir("polite", "exec sleep 30");
        let mut sink = spawn(&dir);
        let started = Instant::now();
        sink.finish().unwrap();
        assert!(started.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn b17_b18_broken_monitor_pipe_disables_only_the_monitor() {
        let dir = stub_dir("broken", "exit 0");
        let path = dir.join("rec/call.wav");
        let ffplay = spawn(&dir);
        let wav = WavSink::create(&path, WavLayout::Mono).unwrap();
        let mut fanout = SinkFanout::new(vec![Box::new(ffplay), Box::new(wav)]);
        let mut ticks = 0;
        while fanout.enabled().len() == 2 && ticks < 300 {
            fanout.write(&frame(0x80));
            ticks += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            fanout.enabled(),
            vec!["wav"],
            "ffplay disabled after its pipe broke"
        );
        for _ in 0..10 {
            fanout.write(&frame(0x80));
        }
        fanout.finish();
        let audio = read_wav_file(&path).unwrap();
        assert_eq!(audio.frames(), (ticks + 10) * FRAME_BYTES);
    }

    #[test]
    fn broken_pipe_error_names_the_monitor() {
        let dir = stub_dir("broken2", "exit 0");
        let mut sink = spawn(&dir);
        let mut result = Ok(());
        for _ in 0..300 {
            result = sink.write(&frame(1));
            if result.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let err = result.unwrap_err();
        assert!(matches!(err, SinkError::BrokenPipe(_)));
        assert_eq!(err.to_string(), "ffplay pipe broken");
        sink.finish().unwrap();
    }
}
