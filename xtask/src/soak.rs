//! `cargo xtask soak`: calls that connect, talk, mark, clear and hang up in a loop against
//! `vr serve --bot demo` with mock providers, for M minutes; reports RSS and task count over
//! time and frames lost, with a pass rule for CI (see [`HELP`]).

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::load::call::{self, CallSpec, End, FRAME, SharedTotals};
use crate::load::conversation::{Conversation, TurnStats, Voice};
use crate::load::histogram::Percentiles;
use crate::load::options::{ArgWalker, Profile};
use crate::load::probe::{Probe, Snapshot, cpu_percent};
use crate::load::procfs::Machine;
use crate::load::report::{Verdict, write_json};
use crate::load::server::{self, Server, target_dir};
use crate::load::sys;
use crate::load::twilio::splitmix;
use crate::stage::workspace_root;

/// RSS growth after warm-up above which `--check` fails.
const RSS_GROWTH_LIMIT: f64 = 0.20;
/// Shortest warm-up.
const MIN_WARMUP: Duration = Duration::from_secs(10);
/// A new call is not started with less than this left.
const MIN_CALL: Duration = Duration::from_secs(4);

const HELP: &str = "\
usage: cargo xtask soak [options]

Starts `vr serve --bot demo --stt mock --tts mock --script target/soak-script.txt` and runs N
call loops for M minutes. Each call sends recorded caller speech (assets/audio/caller-*.wav)
alternating with silence in real time, echoes the bot's marks once its audio has played,
handles `clear`, sometimes talks over the bot (barge-in), and either sends `stop` after
8-25 s or is hung up by the bot after \"goodbye\"; then the loop starts a new call.
RSS, task count and live calls are sampled every few seconds.

options:
  --minutes M      run time, fractional allowed (default 1)
  --calls N        concurrent call loops (default 20)
  --profile P      release (default) or dev build of vr
  --report PATH    JSON report (default target/soak-report.json)
  --check          apply the pass rule; exit non-zero with the reasons when it fails:
                   zero frames lost, no call failed, server tasks back to the baseline
                   within 10 s of the end, RSS at the end at most 20 % above the RSS
                   after warm-up (the first 20 % of the run, at least 10 s)
  --help           this text

frames lost = frames sent - the server's vr_frames_in_total increase, not counting the
frames a call sent after its last mark echo when the server then hung up (the server may
close before reading them; reported as frames_in_flight_at_hangup).
";

#[derive(Debug, Clone, Serialize)]
struct SoakOptions {
    minutes: f64,
    calls: usize,
    profile: Profile,
    report: PathBuf,
    check: bool,
}

impl SoakOptions {
    fn parse(args: &[String]) -> Result<Option<Self>, String> {
        let mut o = Self {
            minutes: 1.0,
            calls: 20,
            profile: Profile::Release,
            report: target_dir().join("soak-report.json"),
            check: false,
        };
        let mut w = ArgWalker::new(args);
        while let Some((flag, inline)) = w.next_flag() {
            match flag.as_str() {
                "--minutes" => o.minutes = w.parsed(&flag, inline)?,
                "--calls" => o.calls = w.parsed(&flag, inline)?,
                "--profile" => o.profile = Profile::parse(&w.value(&flag, inline)?)?,
                "--report" => o.report = PathBuf::from(w.value(&flag, inline)?),
                "--check" => o.check = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown option `{other}`\n\n{HELP}")),
            }
        }
        if !(o.minutes.is_finite() && o.minutes > 0.0) {
            return Err("`--minutes` must be positive".to_owned());
        }
        if o.calls == 0 {
            return Err("`--calls` must be at least 1".to_owned());
        }
        Ok(Some(o))
    }
}

/// One periodic sample.
#[derive(Debug, Clone, Serialize)]
struct Sample {
    t_s: f64,
    rss_kib: Option<u64>,
    tasks: Option<f64>,
    live_calls: Option<f64>,
    server_cpu_percent: Option<f64>,
    frames_sent: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SoakCalls {
    started: u64,
    completed_by_caller: u64,
    hung_up_by_bot: u64,
    failed: u64,
    errors: Vec<String>,
    utterances: u64,
    barge_ins_attempted: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SoakFrames {
    sent: u64,
    server_frames_in: Option<u64>,
    in_flight_at_hangup: u64,
    lost: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SoakBot {
    audio_s: f64,
    marks_received: u64,
    marks_played: u64,
    marks_cleared: u64,
    clears: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SoakMemory {
    rss_kib_baseline: Option<u64>,
    rss_kib_after_warmup: Option<u64>,
    rss_kib_end: Option<u64>,
    rss_kib_after_calls: Option<u64>,
    growth_after_warmup_percent: Option<f64>,
    warmup_s: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
struct SoakTasks {
    baseline: Option<f64>,
    max: Option<f64>,
    end: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct SoakReport {
    options: SoakOptions,
    machine: Machine,
    server_addr: String,
    server_exit: Option<String>,
    wall_s: f64,
    calls: SoakCalls,
    frames: SoakFrames,
    bot: SoakBot,
    mark_error: Option<Percentiles>,
    memory: SoakMemory,
    tasks: SoakTasks,
    samples: Vec<Sample>,
    notes: Vec<String>,
    check: Option<Verdict>,
}

impl SoakReport {
    fn verdict(&self) -> Verdict {
        let mut reasons = Vec::new();
        match self.frames.lost {
            Some(0) => {}
            Some(n) => reasons.push(format!("{n} frames lost")),
            None => reasons.push("frames lost unknown (no server metrics)".to_owned()),
        }
        if self.calls.failed > 0 {
            reasons.push(format!(
                "{} calls failed; first: {}",
                self.calls.failed,
                self.calls.errors.first().map_or("?", String::as_str)
            ));
        }
        if self.calls.started == 0 {
            reasons.push("no call was started".to_owned());
        }
        match (self.tasks.baseline, self.tasks.end) {
            (Some(b), Some(e)) if e <= b => {}
            (Some(b), Some(e)) => reasons.push(format!(
                "server tasks did not return to the baseline: {e} after the calls, {b} before"
            )),
            _ => reasons.push("server task count unknown".to_owned()),
        }
        match self.memory.growth_after_warmup_percent {
            Some(g) if g <= RSS_GROWTH_LIMIT * 100.0 => {}
            Some(g) => reasons.push(format!(
                "RSS grew {g:.1} % after warm-up ({} -> {} KiB; limit {} %)",
                self.memory.rss_kib_after_warmup.unwrap_or(0),
                self.memory.rss_kib_end.unwrap_or(0),
                RSS_GROWTH_LIMIT * 100.0
            )),
            None => reasons.push("server RSS unknown".to_owned()),
        }
        Verdict {
            passed: reasons.is_empty(),
            reasons,
        }
    }

    fn summary(&self) -> String {
        let c = &self.calls;
        let f = &self.frames;
        let m = &self.memory;
        let b = &self.bot;
        let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), |v| v.to_string());
        let optf = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
        let mut s = format!(
            "\nsoak: {} call loops for {} min against {}\n",
            self.options.calls, self.options.minutes, self.server_addr
        );
        s += &format!(
            "  calls   started {}, stopped by caller {}, hung up by bot {}, failed {}; \
             utterances {}, barge-ins tried {}\n",
            c.started,
            c.completed_by_caller,
            c.hung_up_by_bot,
            c.failed,
            c.utterances,
            c.barge_ins_attempted
        );
        s += &format!(
            "  bot     {:.0} s of audio, marks {} (played {}, cleared {}), clears {}\n",
            b.audio_s, b.marks_received, b.marks_played, b.marks_cleared, b.clears
        );
        s += &format!(
            "  frames  sent {}, server in {}, in flight at bot hang-up {}, lost {}\n",
            f.sent,
            opt(f.server_frames_in),
            f.in_flight_at_hangup,
            opt(f.lost)
        );
        s += &format!(
            "  rss     baseline {} KiB, after warm-up ({:.0} s) {} KiB, end {} KiB \
             (growth {} %), after the calls {} KiB\n",
            opt(m.rss_kib_baseline),
            m.warmup_s,
            opt(m.rss_kib_after_warmup),
            opt(m.rss_kib_end),
            optf(m.growth_after_warmup_percent),
            opt(m.rss_kib_after_calls)
        );
        s += &format!(
            "  tasks   baseline {}, max {}, end {}; server {}\n",
            optf(self.tasks.baseline),
            optf(self.tasks.max),
            optf(self.tasks.end),
            self.server_exit.as_deref().unwrap_or("?")
        );
        if let Some(p) = &self.mark_error {
            s += &format!(
                "  marks   play-out error p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
                p.p50_ms, p.p99_ms, p.max_ms
            );
        }
        for n in &self.notes {
            s += &format!("  note: {n}\n");
        }
        s
    }
}

/// Runs the command.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(opts) = SoakOptions::parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let machine = Machine::detect();
    let bin = server::build(opts.profile)?;
    let mut notes = Vec::new();
    if let Err(e) = sys::raise_nofile() {
        notes.push(format!("could not raise RLIMIT_NOFILE: {e}"));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let mut report = local.block_on(&rt, soak(opts.clone(), machine, &bin, notes))?;
    let verdict = report.verdict();
    if opts.check {
        report.check = Some(verdict.clone());
    }
    print!("{}", report.summary());
    write_json(&opts.report, &report)?;
    println!("report: {}", opts.report.display());
    if opts.check {
        verdict.conclude()?;
    }
    Ok(())
}

/// What one call loop did.
#[derive(Debug, Default, Clone, Copy)]
struct LoopStats {
    calls: u64,
    turns: TurnStats,
}

/// Calls one after another until `end_at`.
async fn call_loop(
    index: usize,
    first_at: Instant,
    end_at: Instant,
    voice: Rc<Voice>,
    addr: std::net::SocketAddr,
    totals: SharedTotals,
    seed: u64,
) -> LoopStats {
    let mut rng = seed;
    let mut stats = LoopStats::default();
    tokio::time::sleep_until(first_at).await;
    loop {
        let now = Instant::now();
        if now + MIN_CALL >= end_at {
            return stats;
        }
        let wanted = Duration::from_millis(8_000 + splitmix(&mut rng) % 17_000);
        let length = wanted.min(end_at - now);
        let call_seed = splitmix(&mut rng);
        let spec = CallSpec {
            addr,
            path: "/voice".to_owned(),
            connect_at: now,
            epoch: now,
            phase: FRAME.mul_f64((call_seed % 1000) as f64 / 1000.0),
            echo: false,
            seed: call_seed ^ index as u64,
        };
        let mut talker = Conversation::new(voice.clone(), length, call_seed);
        let end = call::run(spec, &mut talker, totals.clone()).await;
        stats.calls += 1;
        stats.turns.utterances += talker.stats.utterances;
        stats.turns.barge_ins += talker.stats.barge_ins;
        if matches!(end, End::Failed(_)) {
            // Do not spin on a broken server.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

fn sample(started: Instant, prev: &Snapshot, now: &Snapshot, frames_sent: u64) -> Sample {
    Sample {
        t_s: (now.at - started).as_secs_f64(),
        rss_kib: now.proc.map(|p| p.rss_kib),
        tasks: now.metric("vr_runtime_alive_tasks"),
        live_calls: now.metric("vr_live_calls"),
        server_cpu_percent: cpu_percent(prev, now),
        frames_sent,
    }
}

fn print_sample(s: &Sample, totals: &SharedTotals) {
    let t = totals.borrow();
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"));
    println!(
        "[{:6.1} s] rss {} KiB tasks {} live {} cpu {}% | calls ok {} bot-hangup {} failed {} | \
         frames {} marks {} clears {}",
        s.t_s,
        s.rss_kib
            .map_or_else(|| "n/a".to_owned(), |v| v.to_string()),
        f(s.tasks),
        f(s.live_calls),
        f(s.server_cpu_percent),
        t.completed,
        t.server_hangups,
        t.failed,
        t.frames_sent,
        t.marks_received,
        t.clears
    );
}

async fn soak(
    opts: SoakOptions,
    machine: Machine,
    bin: &Path,
    mut notes: Vec<String>,
) -> Result<SoakReport, String> {
    let started = Instant::now();
    let voice = Voice::load(&workspace_root().join("assets/audio"))?;
    let script = target_dir().join("soak-script.txt");
    std::fs::write(
        &script,
        "# cargo xtask soak: one line per caller turn\nhello\nhow are you\ntell me more\ngoodbye\n",
    )
    .map_err(|e| format!("{}: {e}", script.display()))?;
    let args: Vec<String> = [
        "--bot", "demo", "--stt", "mock", "--tts", "mock", "--script",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([script.display().to_string()])
    .collect();
    let server = Server::start(
        bin,
        "serve",
        &args,
        None,
        target_dir().join("soak-server.log"),
    )
    .await?;
    println!(
        "vr serve (pid {}) on {}; log {}",
        server.pid,
        server.addr,
        server.log.display()
    );
    let probe = Probe {
        addr: server.addr,
        pid: Some(server.pid),
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = probe.full().await;
    if base.metrics.is_none() {
        notes.push("server /metrics unreadable".to_owned());
    }

    let run_for = Duration::from_secs_f64(opts.minutes * 60.0);
    let t0 = Instant::now();
    let end_at = t0 + run_for;
    let warmup = run_for.mul_f64(0.2).max(MIN_WARMUP).min(run_for);
    let warmup_at = t0 + warmup;
    let every = if run_for <= Duration::from_secs(120) {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(5)
    };
    let totals: SharedTotals = Rc::default();
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    let stagger = Duration::from_secs(2);
    let handles: Vec<JoinHandle<LoopStats>> = (0..opts.calls)
        .map(|i| {
            let first_at = t0 + stagger.mul_f64(i as f64 / opts.calls as f64);
            tokio::task::spawn_local(call_loop(
                i,
                first_at,
                end_at,
                voice.clone(),
                server.addr,
                totals.clone(),
                splitmix(&mut rng),
            ))
        })
        .collect();

    let mut samples = Vec::new();
    let mut prev = base.clone();
    let mut warm: Option<Snapshot> = None;
    let mut next_sample = t0 + every;
    loop {
        let now = Instant::now();
        let next = if warm.is_none() {
            next_sample.min(warmup_at).min(end_at)
        } else {
            next_sample.min(end_at)
        };
        if next > now {
            tokio::time::sleep_until(next).await;
        }
        let snap = probe.full().await;
        let s = sample(t0, &prev, &snap, totals.borrow().frames_sent);
        print_sample(&s, &totals);
        samples.push(s);
        if warm.is_none() && snap.at >= warmup_at {
            warm = Some(snap.clone());
        }
        prev = snap;
        if next >= next_sample {
            next_sample += every;
        }
        if Instant::now() >= end_at {
            break;
        }
    }
    let end_running = prev.clone();

    // Each call ends within its own timeouts; this bounds the whole.
    let deadline = end_at + Duration::from_secs(60);
    let mut turns = TurnStats::default();
    let mut calls_started = 0;
    for h in handles {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h).await {
            Ok(Ok(stats)) => {
                calls_started += stats.calls;
                turns.utterances += stats.turns.utterances;
                turns.barge_ins += stats.turns.barge_ins;
            }
            Ok(Err(e)) => notes.push(format!("a call loop panicked: {e}")),
            Err(_) => notes.push("a call loop did not end within 60 s of the end".to_owned()),
        }
    }
    let tasks_baseline = base.metric("vr_runtime_alive_tasks");
    let after = probe
        .settle_tasks(tasks_baseline, Duration::from_secs(10))
        .await;
    let s = sample(t0, &prev, &after, totals.borrow().frames_sent);
    print_sample(&s, &totals);
    samples.push(s);
    let server_addr = server.addr.to_string();
    let server_exit = match server.stop().await {
        Ok(m) => m,
        Err(e) => {
            notes.push(format!("server shutdown: {e}"));
            e
        }
    };

    let t = totals.borrow();
    let server_in = after
        .metric("vr_frames_in_total")
        .zip(base.metric("vr_frames_in_total"))
        .map(|(a, b)| (a - b).max(0.0) as u64);
    let accountable = t.frames_sent.saturating_sub(t.frames_in_flight_at_hangup);
    let lost = server_in.map(|d| accountable.saturating_sub(d));
    if server_in.is_some_and(|d| d > t.frames_sent) {
        notes.push("the server counted more frames than were sent (another client?)".to_owned());
    }
    let rss_warm = warm.as_ref().and_then(|w| w.proc).map(|p| p.rss_kib);
    let rss_end_running = end_running.proc.map(|p| p.rss_kib);
    let rss_after = after.proc.map(|p| p.rss_kib);
    let rss_end = match (rss_end_running, rss_after) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let growth = rss_warm
        .zip(rss_end)
        .and_then(|(w, e)| (w > 0).then(|| (e as f64 - w as f64) / w as f64 * 100.0));
    let tasks_max = samples
        .iter()
        .filter_map(|s| s.tasks)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    Ok(SoakReport {
        options: opts,
        machine,
        server_addr,
        server_exit: Some(server_exit),
        wall_s: started.elapsed().as_secs_f64(),
        calls: SoakCalls {
            started: calls_started,
            completed_by_caller: t.completed,
            hung_up_by_bot: t.server_hangups,
            failed: t.failed,
            errors: t.errors.clone(),
            utterances: turns.utterances,
            barge_ins_attempted: turns.barge_ins,
        },
        frames: SoakFrames {
            sent: t.frames_sent,
            server_frames_in: server_in,
            in_flight_at_hangup: t.frames_in_flight_at_hangup,
            lost,
        },
        bot: SoakBot {
            audio_s: t.bot_audio_ms as f64 / 1000.0,
            marks_received: t.marks_received,
            marks_played: t.marks_played,
            marks_cleared: t.marks_cleared,
            clears: t.clears,
        },
        mark_error: t.mark_error.summary_ms(),
        memory: SoakMemory {
            rss_kib_baseline: base.proc.map(|p| p.rss_kib),
            rss_kib_after_warmup: rss_warm,
            rss_kib_end: rss_end,
            rss_kib_after_calls: rss_after,
            growth_after_warmup_percent: growth,
            warmup_s: warmup.as_secs_f64(),
        },
        tasks: SoakTasks {
            baseline: tasks_baseline,
            max: tasks_max,
            end: after.metric("vr_runtime_alive_tasks"),
        },
        samples,
        notes,
        check: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options() {
        let o = SoakOptions::parse(&[]).unwrap().unwrap();
        assert_eq!((o.minutes, o.calls, o.check), (1.0, 20, false));
        let o = SoakOptions::parse(&args("--minutes 0.5 --calls=3 --check --profile dev"))
            .unwrap()
            .unwrap();
        assert_eq!((o.minutes, o.calls, o.check), (0.5, 3, true));
        assert_eq!(o.profile, Profile::Dev);
        assert!(SoakOptions::parse(&args("--help")).unwrap().is_none());
        assert!(SoakOptions::parse(&args("--minutes 0")).is_err());
        assert!(SoakOptions::parse(&args("--bogus")).is_err());
    }

    #[test]
    fn caller_clips_load() {
        let voice = Voice::load(&workspace_root().join("assets/audio")).unwrap();
        assert_eq!(voice.clips.len(), 4);
        for c in &voice.clips {
            assert!(c.bodies.len() > 50, "clips are over a second long");
            assert!(c.voiced_from < c.bodies.len());
            assert_eq!(c.bodies[0].len(), 208);
        }
    }
}
