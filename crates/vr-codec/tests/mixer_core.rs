//! The mixer's pure parts: FIFOs (B11, B12), the tick (B16), the pacer on injected time,
//! and sink isolation (B17, B18).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vr_codec::mixer::{
    CATCHUP_LIMIT, MixedFrame, MixerConfig, MixerCore, MixerSink, Pacer, PacerAction, SinkError,
    SinkFanout, WavSink,
};
use vr_codec::wav::{WavLayout, read_wav_file};
use vr_codec::{FRAME_BYTES, FRAME_DURATION, SILENCE_FRAME, mix_frames};

fn frame_of(i: usize) -> Vec<u8> {
    (0..FRAME_BYTES)
        .map(|j| ((i * 7 + j) % 256) as u8)
        .collect()
}

// ---- FIFOs (B11, B12) ----

#[test]
fn b11_writes_split_and_pad() {
    let mut core = MixerCore::default();
    core.write_caller(&[1; 160]);
    assert_eq!(core.stats().caller_queued, 1);
    core.write_caller(&[2; 640]);
    assert_eq!(core.stats().caller_queued, 5);
    core.write_agent(&[3; 100]);
    assert_eq!(core.stats().agent_queued, 1);
    core.write_agent(&[]);
    assert_eq!(core.stats().agent_queued, 1);
    let t = core.tick();
    assert_eq!(t.caller.unwrap(), [1; 160]);
    let agent = t.agent.unwrap();
    assert!(agent[..100].iter().all(|&b| b == 3));
    assert!(agent[100..].iter().all(|&b| b == 0xFF));
}

#[test]
fn b12_caller_fifo_drops_oldest_beyond_400() {
    let mut core = MixerCore::default();
    for i in 0..401 {
        core.write_caller(&frame_of(i));
    }
    let s = core.stats();
    assert_eq!((s.caller_queued, s.caller_dropped), (400, 1));
    assert_eq!(core.tick().caller.unwrap().to_vec(), frame_of(1));
}

#[test]
fn agent_fifo_holds_60_s_grows_as_used_and_drops_oldest_beyond() {
    let mut core = MixerCore::default();
    assert_eq!(core.agent_capacity(), 0, "nothing allocated up front");
    core.write_agent(&[0x80; FRAME_BYTES * 10]);
    assert!(core.agent_capacity() < 100);
    core.clear_agent();
    // A 60 s utterance produced ahead of real time is kept whole.
    let utterance: Vec<u8> = (0..3000).flat_map(frame_of).collect();
    core.write_agent(&utterance);
    assert_eq!(core.stats().agent_queued, 3000);
    assert_eq!(core.stats().agent_dropped, 0);
    assert_eq!(core.tick().agent.unwrap().to_vec(), frame_of(0));
    core.write_agent(&frame_of(3000));
    core.write_agent(&frame_of(3001));
    assert_eq!(core.stats().agent_queued, 3000);
    assert_eq!(core.stats().agent_dropped, 1);
    assert_eq!(core.tick().agent.unwrap().to_vec(), frame_of(2));
}

#[test]
fn limits_are_configurable() {
    let mut core = MixerCore::new(MixerConfig {
        caller_max_frames: 2,
        agent_max_frames: 3,
    });
    core.write_caller(&[0; FRAME_BYTES * 5]);
    core.write_agent(&[0; FRAME_BYTES * 5]);
    let s = core.stats();
    assert_eq!((s.caller_queued, s.agent_queued), (2, 3));
    assert_eq!(MixerConfig::default().caller_max_frames, 400);
    assert_eq!(MixerConfig::default().agent_max_frames, 3000);
}

#[test]
fn clear_agent_empties_only_the_agent_side() {
    let mut core = MixerCore::default();
    core.write_caller(&[0x90; FRAME_BYTES * 2]);
    core.write_agent(&[0x80; FRAME_BYTES * 50]);
    assert_eq!(core.clear_agent(), 50);
    assert_eq!(core.stats().agent_cleared, 50);
    let t = core.tick();
    assert!(
        t.agent.is_none(),
        "nothing the caller will not hear is recorded"
    );
    assert_eq!(t.mono, [0x90; FRAME_BYTES]);
}

// ---- tick (B16) ----

#[test]
fn b16_both_empty_gives_silence() {
    let mut core = MixerCore::default();
    let t = core.tick();
    assert_eq!(
        t,
        MixedFrame {
            caller: None,
            agent: None,
            mono: SILENCE_FRAME
        }
    );
}

#[test]
fn b16_one_side_empty_passes_the_other_unchanged() {
    // 0x7F would re-encode to 0xFF: unchanged means no re-encode.
    let mut core = MixerCore::default();
    core.write_caller(&[0x7F; FRAME_BYTES]);
    assert_eq!(core.tick().mono, [0x7F; FRAME_BYTES]);
    core.write_agent(&[0x7F; FRAME_BYTES]);
    assert_eq!(core.tick().mono, [0x7F; FRAME_BYTES]);
}

#[test]
fn b16_silent_means_empty_not_0xff() {
    let mut core = MixerCore::default();
    core.write_caller(&SILENCE_FRAME);
    core.write_agent(&[0x7F; FRAME_BYTES]);
    let t = core.tick();
    assert_eq!(
        t.mono,
        mix_frames(&SILENCE_FRAME, &[0x7F; FRAME_BYTES]).unwrap()
    );
    assert_eq!(t.mono, SILENCE_FRAME);
}

#[test]
fn b16_both_present_are_mixed() {
    let mut core = MixerCore::default();
    let (a, b) = (frame_of(3), frame_of(9));
    core.write_caller(&a);
    core.write_agent(&b);
    let t = core.tick();
    assert_eq!(t.mono, mix_frames(&a, &b).unwrap());
    assert_eq!(t.caller_or_silence().to_vec(), a);
    assert_eq!(t.agent_or_silence().to_vec(), b);
    assert_eq!(core.tick().agent_or_silence(), &SILENCE_FRAME);
    assert_eq!(core.stats().ticks, 2);
}

// ---- pacer (B16 timing) on injected time ----

const MS: Duration = Duration::from_millis(1);

#[test]
fn pacer_ticks_every_20_ms() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    assert_eq!(p.poll(t0), PacerAction::Tick);
    assert_eq!(p.poll(t0), PacerAction::Wait(20 * MS));
    assert_eq!(p.poll(t0 + 5 * MS), PacerAction::Wait(15 * MS));
    assert_eq!(p.poll(t0 + 20 * MS), PacerAction::Tick);
    assert_eq!(p.next_tick(), t0 + 40 * MS);
    assert_eq!(p.poll(t0 + 41 * MS), PacerAction::Tick);
    assert_eq!(p.poll(t0 + 41 * MS), PacerAction::Wait(19 * MS));
}

#[test]
fn pacer_catches_up_within_100_ms() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    assert_eq!(p.poll(t0), PacerAction::Tick); // next 20
    // Stalled until 110 ms: 110 <= 20 + 100, so ticks due at 20, 40, 60, 80, 100 run back to back.
    let now = t0 + 110 * MS;
    let mut burst = 0;
    while p.poll(now) == PacerAction::Tick {
        burst += 1;
    }
    assert_eq!(burst, 5);
    assert_eq!(p.poll(now), PacerAction::Wait(10 * MS));
}

#[test]
fn pacer_skips_catch_up_beyond_100_ms() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    assert_eq!(p.poll(t0), PacerAction::Tick); // next 20
    let now = t0 + 121 * MS; // 121 > 20 + 100
    assert_eq!(p.poll(now), PacerAction::Tick);
    assert_eq!(p.next_tick(), now + FRAME_DURATION);
    assert_eq!(p.poll(now), PacerAction::Wait(20 * MS));
    assert_eq!(CATCHUP_LIMIT, 100 * MS);
}

#[test]
fn pacer_keeps_50_ticks_a_second_with_jittery_sleeps() {
    let t0 = Instant::now();
    let mut p = Pacer::new(t0);
    let mut now = t0;
    let mut ticks = 0;
    let mut jitter = 0u32;
    while now < t0 + Duration::from_secs(10) {
        match p.poll(now) {
            PacerAction::Tick => ticks += 1,
            PacerAction::Wait(d) => {
                // Sleeps overshoot by 0..7 ms, as real timers do.
                jitter = (jitter * 7 + 3) % 8;
                now += d + jitter * MS;
            }
        }
    }
    assert!((499..=501).contains(&ticks), "{ticks}");
}

// ---- sinks (B17, B18) ----

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn count(&self, prefix: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.starts_with(prefix))
            .count()
    }
}

/// A user sink that fails on its `fail_at`-th write.
struct Flaky {
    log: Log,
    writes: usize,
    fail_at: usize,
}

impl MixerSink for Flaky {
    fn write(&mut self, _frame: &MixedFrame) -> Result<(), SinkError> {
        self.writes += 1;
        self.log.push(format!("write {}", self.writes));
        if self.writes == self.fail_at {
            return Err(SinkError::other("no space left on device"));
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        self.log.push("finish".into());
        Ok(())
    }
    fn name(&self) -> &str {
        "flaky"
    }
}

#[test]
fn a_failing_sink_is_disabled_and_the_wav_sink_keeps_recording() {
    let path =
        std::env::temp_dir().join(format!("vr-codec-mixer-{}/fanout.wav", std::process::id()));
    let log = Log::default();
    let flaky = Flaky {
        log: log.clone(),
        writes: 0,
        fail_at: 3,
    };
    let wav = WavSink::create(&path, WavLayout::Stereo).unwrap();
    let mut fanout = SinkFanout::new(vec![Box::new(flaky), Box::new(wav)]);
    assert_eq!(fanout.len(), 2);
    let mut core = MixerCore::default();
    core.write_caller(&[0x80; FRAME_BYTES * 3]);
    for _ in 0..10 {
        fanout.write(&core.tick());
    }
    assert_eq!(fanout.enabled(), vec!["wav"]);
    fanout.finish();
    assert_eq!(log.count("write"), 3, "no writes after the failure");
    assert_eq!(log.count("finish"), 1, "a failed sink is still finished");

    let audio = read_wav_file(&path).unwrap();
    assert_eq!((audio.channels(), audio.frames()), (2, 1600));
    let raw = audio.mulaw_bytes().unwrap();
    assert_eq!(raw[0], 0x80, "caller left");
    assert_eq!(raw[1], 0xFF, "empty agent side is silence");
    assert_eq!(
        raw[2 * 3 * FRAME_BYTES],
        0xFF,
        "caller empty after 3 frames"
    );
}

#[test]
fn mono_wav_sink_records_the_mix() {
    let path = std::env::temp_dir().join(format!("vr-codec-mixer-{}/mono.wav", std::process::id()));
    let mut wav = WavSink::create(&path, WavLayout::Mono).unwrap();
    assert_eq!(wav.path(), path.as_path());
    let mut core = MixerCore::default();
    core.write_caller(&frame_of(1));
    core.write_agent(&frame_of(2));
    let t = core.tick();
    wav.write(&t).unwrap();
    wav.finish().unwrap();
    let audio = read_wav_file(&path).unwrap();
    assert_eq!(audio.mulaw_bytes().unwrap(), &t.mono[..]);
}
