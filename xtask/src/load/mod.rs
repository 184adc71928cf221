//! `cargo xtask load`: N simulated real-time Twilio calls against `vr serve`, with server and
//! generator measured (see [`options::HELP`]).
//!
//! The generator runs on one thread (a current-thread tokio runtime pinned to its own core):
//! one task per call, one socket, pre-encoded messages patched per frame ([`call`],
//! [`twilio`], [`ws`]).

pub mod baseline;
pub mod call;
pub mod conversation;
pub mod flood;
pub mod histogram;
pub mod metrics;
pub mod options;
pub mod probe;
pub mod procfs;
pub mod report;
pub mod server;
pub mod sys;
pub mod talkers;
pub mod twilio;
pub mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use call::{CallSpec, End, FRAME, SharedTotals};
use options::{Bot, LoadOptions};
use probe::{Probe, Snapshot, cpu_percent, other_percent, other_percent_total, self_cpu_percent};
use procfs::Machine;
use report::{
    BUSY_PERCENT, BotActivity, Calls, FloodFigures, Frames, GeneratorFigures, LoadReport,
    OtherLoad, SATURATED_PERCENT, ServerFigures, Setup,
};
use server::{Server, target_dir};

/// Seconds between progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Runs the command.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(opts) = LoadOptions::parse(args)? else {
        print!("{}", options::HELP);
        return Ok(());
    };
    if opts.profile == options::Profile::Release {
        sys::rerun_optimised("load", args)?;
    }
    let machine = Machine::detect();
    let mut notes = Vec::new();
    let bin = match (&opts.url, opts.baseline) {
        (Some(_), _) => None,
        // The baseline server is this program itself (`xtask baseline-echo`).
        (None, true) => Some(std::env::current_exe().map_err(|e| format!("current exe: {e}"))?),
        (None, false) => Some(server::build(opts.profile)?),
    };
    let nofile = match sys::raise_nofile() {
        Ok(n) => Some(n),
        Err(e) => {
            notes.push(format!("could not raise RLIMIT_NOFILE: {e}"));
            None
        }
    };
    if let Some(n) = nofile
        && n < opts.calls as u64 + 64
    {
        return Err(format!(
            "the open-files limit ({n}) is too low for {} calls",
            opts.calls
        ));
    }
    let (server_core, mut generator_core) = if opts.url.is_some() {
        (None, None)
    } else if machine.nproc < 2 {
        notes.push("one core: server and generator share it, unpinned".to_owned());
        (None, None)
    } else if !sys::taskset_available() {
        notes.push("taskset is missing: server and generator unpinned".to_owned());
        (None, None)
    } else {
        (Some(0), Some(1))
    };
    if let Some(core) = generator_core
        && let Err(e) = sys::pin_self(core)
    {
        notes.push(format!("generator not pinned: {e}"));
        generator_core = None;
    }
    let setup = Setup {
        options: opts.clone(),
        server_addr: String::new(),
        server_started_here: bin.is_some(),
        server_core,
        generator_core,
        nofile,
        notes,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let mut report = local.block_on(&rt, measure(setup, machine, bin))?;
    let verdict = report.verdict();
    if opts.check {
        report.check = Some(verdict.clone());
    }
    print!("{}", report.summary());
    if report.other_load.busy {
        println!(
            "WARNING: other processes used more than {BUSY_PERCENT}% of a core during the \
             measurement; latency and CPU figures are disturbed"
        );
    }
    if report.generator.saturated {
        println!(
            "WARNING: the generator used more than {SATURATED_PERCENT}% of its core; \
             the figures may reflect the generator rather than the server"
        );
    }
    report.write(&opts.report)?;
    println!("report: {}", opts.report.display());
    if opts.check {
        verdict.conclude()?;
    }
    Ok(())
}

/// Lines for the demo bot's mock STT: no "goodbye", so calls last their full time.
fn write_demo_script(path: &Path) -> Result<(), String> {
    let phrases = [
        "hello",
        "how are you",
        "tell me more",
        "what is the weather like",
        "can you hear me",
        "that is interesting",
    ];
    let mut text = String::from("# cargo xtask load: one line per caller turn\n");
    for i in 0..600 {
        text.push_str(phrases[i % phrases.len()]);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `vr serve` arguments for `bot`.
fn server_args(bot: Bot) -> Result<Vec<String>, String> {
    Ok(match bot {
        Bot::Echo => vec!["--bot".into(), "echo".into()],
        Bot::Demo => {
            let script = target_dir().join("load-demo-script.txt");
            write_demo_script(&script)?;
            vec![
                "--bot".into(),
                "demo".into(),
                "--stt".into(),
                "mock".into(),
                "--tts".into(),
                "mock".into(),
                "--script".into(),
                script.display().to_string(),
            ]
        }
    })
}

/// Resolves `ws://host:port/path` to a loopback address and a path.
pub async fn parse_ws_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("`{url}`: only ws:// URLs are supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/voice".to_owned()),
    };
    let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let addr = tokio::net::lookup_host(&hostport)
        .await
        .map_err(|e| format!("`{hostport}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{hostport}` did not resolve"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "`{url}` is not a loopback address; load is only sent to this machine"
        ));
    }
    Ok((addr, path))
}

/// Prints a progress line every [`PROGRESS_EVERY`].
struct Progress {
    probe: Probe,
    started: Instant,
    last: Snapshot,
    requested: usize,
}

impl Progress {
    fn tick(&mut self, totals: &SharedTotals) {
        if self.last.at.elapsed() < PROGRESS_EVERY {
            return;
        }
        let now = self.probe.quick();
        let mut t = totals.borrow_mut();
        let echo = std::mem::take(&mut t.echo_latency_interval)
            .percentile(99.0)
            .map_or(String::new(), |us| {
                format!(" | echo p99 {:.1} ms", us as f64 / 1000.0)
            });
        let server = match (cpu_percent(&self.last, &now), now.proc) {
            (Some(c), Some(p)) => format!(
                "server cpu {c:5.1}% rss {:6.1} MiB",
                p.rss_kib as f64 / 1024.0
            ),
            _ => "server n/a".to_owned(),
        };
        println!(
            "[{:6.1} s] calls {}/{} live {} failed {} | frames sent {} echoed {}{} | {} | generator cpu {:5.1}%",
            self.started.elapsed().as_secs_f64(),
            t.connected,
            self.requested,
            t.live,
            t.failed,
            t.frames_sent,
            t.frames_echoed,
            echo,
            server,
            self_cpu_percent(&self.last, &now).unwrap_or(0.0),
        );
        self.last = now;
    }
}

/// Sleeps until `until`, printing progress.
async fn wait_until(until: Instant, progress: &mut Progress, totals: &SharedTotals) {
    while Instant::now() < until {
        let step = (until - Instant::now()).min(Duration::from_millis(200));
        tokio::time::sleep(step).await;
        progress.tick(totals);
    }
}

async fn measure(
    mut setup: Setup,
    machine: Machine,
    bin: Option<PathBuf>,
) -> Result<LoadReport, String> {
    let opts = setup.options.clone();
    let run_started = Instant::now();
    let (server, addr, path, pid) = match (&opts.url, &bin) {
        (Some(url), _) => {
            let (addr, path) = parse_ws_url(url).await?;
            (None, addr, path, opts.server_pid)
        }
        (None, Some(bin)) => {
            let (subcommand, args, name) = if opts.baseline {
                (baseline::SUBCOMMAND, Vec::new(), "baseline echo server")
            } else {
                ("serve", server_args(opts.bot)?, "vr serve")
            };
            let log = target_dir().join("load-server.log");
            let s = Server::start(bin, subcommand, &args, setup.server_core, log).await?;
            println!(
                "{name} (pid {}) on {}; log {}",
                s.pid,
                s.addr,
                s.log.display()
            );
            let (addr, pid) = (s.addr, s.pid);
            (Some(s), addr, "/voice".to_owned(), Some(pid))
        }
        (None, None) => return Err("no server to measure".to_owned()),
    };
    setup.server_addr = addr.to_string();
    let probe = Probe { addr, pid };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = probe.full().await;
    if base.metrics.is_none() {
        setup
            .notes
            .push("server /metrics unreadable: frames in, task counts unknown".to_owned());
    }
    if pid.is_none() {
        setup
            .notes
            .push("server pid unknown: no server CPU or RSS (pass --server-pid)".to_owned());
    }

    let totals: SharedTotals = Rc::default();
    let n = opts.calls;
    let epoch = Instant::now() + Duration::from_millis(200);
    let ramp = Duration::from_secs_f64(opts.ramp);
    let length = Duration::from_secs_f64(opts.seconds);
    let flood_until = epoch + ramp + length;
    let frames_per_call = (opts.seconds * 50.0).round().max(1.0) as u64;
    let bodies = talkers::Bodies::new();
    let seed_base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut handles: Vec<JoinHandle<End>> = Vec::with_capacity(n);
    for i in 0..n {
        let connect_at = epoch + ramp.mul_f64(i as f64 / n as f64);
        let seed = seed_base ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let totals = totals.clone();
        let bodies = bodies.clone();
        let path = path.clone();
        let handle = if opts.flood {
            let spec = flood::FloodSpec {
                addr,
                path,
                connect_at,
                until: flood_until,
                echo: opts.bot == Bot::Echo,
                seed,
                body: bodies,
            };
            tokio::task::spawn_local(flood::run(spec, totals))
        } else {
            let spec = CallSpec {
                addr,
                path,
                connect_at,
                epoch,
                phase: FRAME.mul_f64(i as f64 / n as f64),
                echo: opts.bot == Bot::Echo,
                seed,
            };
            let bot = opts.bot;
            tokio::task::spawn_local(async move {
                match bot {
                    Bot::Echo => {
                        let mut t = talkers::Steady::new(bodies, frames_per_call);
                        call::run(spec, &mut t, totals).await
                    }
                    Bot::Demo => {
                        // 1 s of speech, then 1.2 s (the answer gets talked over) or 3.5 s
                        // (it plays to its end) of silence.
                        let offset = seed % 335;
                        let mut t =
                            talkers::Cycle::new(bodies, frames_per_call, 50, [60, 175], offset);
                        call::run(spec, &mut t, totals).await
                    }
                }
            })
        };
        handles.push(handle);
    }

    let mut progress = Progress {
        probe,
        started: run_started,
        last: probe.quick(),
        requested: n,
    };
    // Steady window: from all calls connected to the first hang-up (or the flood's end).
    let all_in_deadline = epoch + ramp + Duration::from_secs(30);
    loop {
        let attempted = {
            let t = totals.borrow();
            t.connected + t.failed
        };
        if attempted as usize >= n || Instant::now() > all_in_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        progress.tick(&totals);
    }
    let held = totals.borrow().live;
    let steady_start = probe.full().await;
    totals.borrow_mut().steady = true;
    let steady_end_at = if opts.flood {
        flood_until - Duration::from_millis(100)
    } else {
        epoch + length - Duration::from_millis(300)
    };
    let frames_at_start = totals.borrow().frames_sent;
    let echoed_at_start = totals.borrow().frames_echoed;
    let steady_end = if steady_end_at > steady_start.at + Duration::from_millis(500) {
        wait_until(steady_end_at, &mut progress, &totals).await;
        Some(probe.full().await)
    } else {
        setup.notes.push(format!(
            "no steady window (calls took longer to connect than --seconds {} allows; \
             raise --seconds or lower --ramp)",
            opts.seconds
        ));
        None
    };
    totals.borrow_mut().steady = false;
    let frames_at_end = totals.borrow().frames_sent;
    let echoed_at_end = totals.borrow().frames_echoed;

    // Every call ends by itself (each wait inside has a timeout); this bounds the whole.
    let all_done_deadline = epoch + ramp + length + Duration::from_secs(60);
    while !handles.iter().all(JoinHandle::is_finished) {
        if Instant::now() > all_done_deadline {
            let left = handles.iter().filter(|h| !h.is_finished()).count();
            setup.notes.push(format!(
                "{left} calls had not ended 60 s after their time; aborted"
            ));
            handles.iter().for_each(JoinHandle::abort);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        progress.tick(&totals);
    }
    let tasks_baseline = base.metric("vr_runtime_alive_tasks");
    let end = probe
        .settle_tasks(tasks_baseline, Duration::from_secs(10))
        .await;
    let exit = match server {
        Some(s) => Some(match s.stop().await {
            Ok(m) => m,
            Err(e) => {
                setup.notes.push(format!("server shutdown: {e}"));
                e
            }
        }),
        None => None,
    };

    let t = totals.borrow();
    let delta = |name: &str| -> Option<u64> {
        Some((end.metric(name)? - base.metric(name)?).max(0.0) as u64)
    };
    let server_in = delta("vr_frames_in_total");
    let lost = if opts.bot == Bot::Echo && !opts.flood {
        Some(t.frames_sent.saturating_sub(t.frames_echoed))
    } else {
        server_in.map(|d| t.frames_sent.saturating_sub(d))
    };
    let window = steady_end
        .as_ref()
        .map_or(0.0, |e| (e.at - steady_start.at).as_secs_f64());
    let per_call_minute =
        |cpu: f64, call_minutes: f64| (call_minutes > 0.0).then(|| cpu / call_minutes);
    let steady_cpu = steady_end
        .as_ref()
        .and_then(|e| Some(e.proc?.cpu_s - steady_start.proc?.cpu_s));
    let call_minutes_total = t.frames_sent as f64 * 0.02 / 60.0;
    let overall_cpu = end.proc.zip(base.proc).map(|(e, b)| e.cpu_s - b.cpu_s);
    let rss_steady = steady_end.as_ref().and_then(|e| e.proc).map(|p| p.rss_kib);
    let generator_percent = steady_end
        .as_ref()
        .and_then(|e| self_cpu_percent(&steady_start, e));
    let other_load = match &steady_end {
        Some(e) => {
            let (sc, gc) = (setup.server_core, setup.generator_core);
            let server_core_percent = sc.and_then(|c| other_percent(&steady_start, e, c, sc, gc));
            let generator_core_percent =
                gc.and_then(|c| other_percent(&steady_start, e, c, sc, gc));
            let total_percent = other_percent_total(&steady_start, e);
            let busy = [server_core_percent, generator_core_percent, total_percent]
                .iter()
                .flatten()
                .any(|p| *p > BUSY_PERCENT);
            OtherLoad {
                server_core_percent,
                generator_core_percent,
                total_percent,
                busy,
            }
        }
        None => OtherLoad::default(),
    };
    let flood = opts.flood.then(|| FloodFigures {
        window_s: window,
        server_frames_in_per_s: steady_end.as_ref().and_then(|e| {
            let d = e.metric("vr_frames_in_total")? - steady_start.metric("vr_frames_in_total")?;
            (window > 0.0).then(|| d / window)
        }),
        server_cpu_us_per_frame: steady_end.as_ref().and_then(|e| {
            let d = e.metric("vr_frames_in_total")? - steady_start.metric("vr_frames_in_total")?;
            let cpu = e.proc?.cpu_s - steady_start.proc?.cpu_s;
            (d > 0.0).then(|| cpu / d * 1e6)
        }),
        sent_per_s: if window > 0.0 {
            (frames_at_end - frames_at_start) as f64 / window
        } else {
            0.0
        },
        echoed_per_s: if window > 0.0 {
            (echoed_at_end - echoed_at_start) as f64 / window
        } else {
            0.0
        },
    });
    Ok(LoadReport {
        help: options::HELP,
        machine,
        wall_s: run_started.elapsed().as_secs_f64(),
        calls: Calls {
            requested: n as u64,
            connected: t.connected,
            held,
            completed: t.completed,
            server_hangups: t.server_hangups,
            failed: t.failed,
            errors: t.errors.clone(),
        },
        frames: Frames {
            sent: t.frames_sent,
            echoed: t.frames_echoed,
            lost,
            server_frames_in: server_in,
            server_frames_out: delta("vr_frames_out_total"),
            echo_unmatched: t.echo_unmatched,
        },
        echo_latency: t.echo_latency.summary_ms(),
        echo_latency_steady: t.echo_latency_steady.summary_ms(),
        mark_error: t.mark_error.summary_ms(),
        send_lag: if opts.flood {
            None
        } else {
            t.send_lag.summary_ms()
        },
        bot: BotActivity {
            media_messages: t.bot_media,
            audio_s: t.bot_audio_ms as f64 / 1000.0,
            marks_received: t.marks_received,
            marks_played: t.marks_played,
            marks_cleared: t.marks_cleared,
            clears: t.clears,
            other_messages: t.other_messages,
        },
        server: ServerFigures {
            pid,
            steady_window_s: window,
            cpu_percent_steady: steady_end
                .as_ref()
                .and_then(|e| cpu_percent(&steady_start, e)),
            cpu_s_per_call_minute: steady_cpu
                .and_then(|c| per_call_minute(c, held as f64 * window / 60.0)),
            cpu_s_per_call_minute_overall: overall_cpu
                .and_then(|c| per_call_minute(c, call_minutes_total)),
            rss_kib_baseline: base.proc.map(|p| p.rss_kib),
            rss_kib_steady: rss_steady,
            rss_kib_end: end.proc.map(|p| p.rss_kib),
            rss_kib_per_call: rss_steady
                .zip(base.proc)
                .and_then(|(s, b)| (held > 0).then(|| (s as f64 - b.rss_kib as f64) / held as f64)),
            tasks_baseline,
            tasks_steady: steady_end
                .as_ref()
                .and_then(|e| e.metric("vr_runtime_alive_tasks")),
            tasks_end: end.metric("vr_runtime_alive_tasks"),
            live_calls_steady: steady_end.as_ref().and_then(|e| e.metric("vr_live_calls")),
            turn_p99_ms: {
                let p99 = |name: &str| {
                    end.metrics
                        .as_ref()
                        .and_then(|m| m.histogram_quantile(name, 0.99))
                        .map(|s| s * 1000.0)
                };
                report::TurnP99 {
                    commit_to_event: p99("vr_turn_commit_to_event_seconds"),
                    speak_to_first_byte: p99("vr_turn_speak_to_first_byte_seconds"),
                    first_byte_to_first_frame: p99("vr_turn_first_byte_to_first_frame_seconds"),
                }
            },
            exit,
        },
        generator: GeneratorFigures {
            cpu_percent: generator_percent,
            cpu_s_total: procfs::self_cpu_s(),
            saturated: generator_percent.is_some_and(|p| p > SATURATED_PERCENT),
        },
        other_load,
        flood,
        setup,
        check: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn urls_must_be_loopback_ws() {
        let (addr, path) = parse_ws_url("ws://127.0.0.1:8080/voice").await.unwrap();
        assert_eq!(addr.port(), 8080);
        assert!(addr.ip().is_loopback());
        assert_eq!(path, "/voice");
        assert_eq!(parse_ws_url("ws://127.0.0.1:9").await.unwrap().1, "/voice");
        assert!(parse_ws_url("wss://127.0.0.1:8080/voice").await.is_err());
        assert!(parse_ws_url("ws://192.0.2.1:8080/voice").await.is_err());
    }
}
