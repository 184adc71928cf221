//! The load report: JSON (serde) and a human-readable summary, and the CI pass rule.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::histogram::Percentiles;
use super::options::{Bot, LoadOptions};
use super::procfs::Machine;

/// p99 echo latency above which `--check` fails (generous: CI machines are busy).
pub const CHECK_P99_MS: f64 = 250.0;
/// Generator CPU above which it is called saturated.
pub const SATURATED_PERCENT: f64 = 90.0;

/// Where things ran.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The options.
    pub options: LoadOptions,
    /// The server's address.
    pub server_addr: String,
    /// Whether this command started the server.
    pub server_started_here: bool,
    /// Core the server was pinned to.
    pub server_core: Option<usize>,
    /// Core the generator was pinned to.
    pub generator_core: Option<usize>,
    /// Soft open-files limit of the generator.
    pub nofile: Option<u64>,
    /// Remarks (pinning skipped, metrics missing, …).
    pub notes: Vec<String>,
}

/// Call counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Calls {
    /// Calls asked for.
    pub requested: u64,
    /// Calls whose stream started.
    pub connected: u64,
    /// Calls live at once in the steady window.
    pub held: u64,
    /// Calls that ran their full time and closed cleanly.
    pub completed: u64,
    /// Calls the server hung up.
    pub server_hangups: u64,
    /// Calls that failed.
    pub failed: u64,
    /// The first failure messages.
    pub errors: Vec<String>,
}

/// Frame counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Frames {
    /// Media frames sent.
    pub sent: u64,
    /// Frames echoed back (echo bot).
    pub echoed: u64,
    /// Frames lost (see the help text).
    pub lost: Option<u64>,
    /// The server's `vr_frames_in_total` increase.
    pub server_frames_in: Option<u64>,
    /// The server's `vr_frames_out_total` increase.
    pub server_frames_out: Option<u64>,
    /// Bot frames that were not a pending echo of ours (echo bot).
    pub echo_unmatched: u64,
}

/// What the bot did, seen from the caller side.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BotActivity {
    /// Outbound media messages.
    pub media_messages: u64,
    /// Seconds of outbound audio.
    pub audio_s: f64,
    /// Marks received.
    pub marks_received: u64,
    /// Marks echoed after play-out.
    pub marks_played: u64,
    /// Marks echoed at once by a `clear`.
    pub marks_cleared: u64,
    /// `clear` messages (barge-ins).
    pub clears: u64,
    /// Other messages.
    pub other_messages: u64,
}

/// Server-side figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerFigures {
    /// Process id (when known).
    pub pid: Option<u32>,
    /// Length of the steady window (s).
    pub steady_window_s: f64,
    /// CPU % of one core in the steady window.
    pub cpu_percent_steady: Option<f64>,
    /// CPU seconds per call-minute in the steady window.
    pub cpu_s_per_call_minute: Option<f64>,
    /// CPU seconds per call-minute from baseline to the end (connects and hang-ups too).
    pub cpu_s_per_call_minute_overall: Option<f64>,
    /// RSS after `/healthz` (KiB).
    pub rss_kib_baseline: Option<u64>,
    /// RSS at the end of the steady window (KiB).
    pub rss_kib_steady: Option<u64>,
    /// RSS after the calls ended (KiB).
    pub rss_kib_end: Option<u64>,
    /// (steady − baseline) / calls held (KiB).
    pub rss_kib_per_call: Option<f64>,
    /// `vr_runtime_alive_tasks` before the calls.
    pub tasks_baseline: Option<f64>,
    /// `vr_runtime_alive_tasks` in the steady window.
    pub tasks_steady: Option<f64>,
    /// `vr_runtime_alive_tasks` after the calls (polled up to 10 s for the baseline).
    pub tasks_end: Option<f64>,
    /// `vr_live_calls` in the steady window.
    pub live_calls_steady: Option<f64>,
    /// p99 upper bounds (ms) of the runtime's own turn delays, from the server's histograms:
    /// committed transcript → bot event, speak → first TTS byte, first TTS byte → first frame.
    pub turn_p99_ms: TurnP99,
    /// How the server process ended.
    pub exit: Option<String>,
}

/// Generator figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GeneratorFigures {
    /// CPU % of its core in the steady window.
    pub cpu_percent: Option<f64>,
    /// CPU seconds for the whole run.
    pub cpu_s_total: f64,
    /// Over 90 % of its core: figures may reflect the generator, not the server.
    pub saturated: bool,
}

/// CPU used by other processes during the steady window (they disturb the figures).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OtherLoad {
    /// % of the server's core (when pinned).
    pub server_core_percent: Option<f64>,
    /// % of the generator's core (when pinned).
    pub generator_core_percent: Option<f64>,
    /// % of one core, all cores together.
    pub total_percent: Option<f64>,
    /// Over 15 % of a core: latency figures are unreliable.
    pub busy: bool,
}

/// Other processes' CPU above which the machine is called busy (% of a core).
pub const BUSY_PERCENT: f64 = 15.0;

/// Flood figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloodFigures {
    /// Length of the measured window (s).
    pub window_s: f64,
    /// Inbound frames per second the server accepted (`vr_frames_in_total`).
    pub server_frames_in_per_s: Option<f64>,
    /// Server CPU µs per accepted inbound frame (with its echo, for the echo bot).
    pub server_cpu_us_per_frame: Option<f64>,
    /// Frames per second the generator sent.
    pub sent_per_s: f64,
    /// Echoed frames per second received.
    pub echoed_per_s: f64,
}

/// p99 bucket bounds of the turn-latency histograms, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TurnP99 {
    /// Committed transcript → the bot's event.
    pub commit_to_event: Option<f64>,
    /// Speak request → first TTS byte.
    pub speak_to_first_byte: Option<f64>,
    /// First TTS byte → first frame handed to the transport.
    pub first_byte_to_first_frame: Option<f64>,
}

/// The pass rule's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Whether it passed.
    pub passed: bool,
    /// Why not.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Prints a pass, or turns a failure into the command's error.
    pub fn conclude(&self) -> Result<(), String> {
        if self.passed {
            println!("check: passed");
            Ok(())
        } else {
            Err(format!("check failed: {}", self.reasons.join("; ")))
        }
    }
}

/// Writes `value` as pretty JSON to `path`, creating its directory.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(value).map_err(|e| format!("report: {e}"))?;
    std::fs::write(path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// What the figures mean.
    pub help: &'static str,
    /// The machine.
    pub machine: Machine,
    /// Set-up.
    pub setup: Setup,
    /// Wall time of the run (s).
    pub wall_s: f64,
    /// Calls.
    pub calls: Calls,
    /// Frames.
    pub frames: Frames,
    /// Echo latency (echo bot).
    pub echo_latency: Option<Percentiles>,
    /// Echo latency in the steady window only (no connection ramp, no hang-ups).
    pub echo_latency_steady: Option<Percentiles>,
    /// Mark play-out error.
    pub mark_error: Option<Percentiles>,
    /// How late frames left their 20 ms slot.
    pub send_lag: Option<Percentiles>,
    /// The bot's activity.
    pub bot: BotActivity,
    /// Server figures.
    pub server: ServerFigures,
    /// Generator figures.
    pub generator: GeneratorFigures,
    /// Other processes on the machine.
    pub other_load: OtherLoad,
    /// Flood figures (`--flood`).
    pub flood: Option<FloodFigures>,
    /// The pass rule (`--check`).
    pub check: Option<Verdict>,
}

impl LoadReport {
    /// Applies the CI pass rule.
    pub fn verdict(&self) -> Verdict {
        let mut reasons = Vec::new();
        match self.frames.lost {
            Some(0) => {}
            Some(n) => reasons.push(format!("{n} frames lost")),
            None => reasons.push("frames lost unknown (no server metrics)".to_owned()),
        }
        if self.calls.completed != self.calls.requested {
            reasons.push(format!(
                "{} of {} calls completed ({} failed, {} hung up by the server){}",
                self.calls.completed,
                self.calls.requested,
                self.calls.failed,
                self.calls.server_hangups,
                self.calls
                    .errors
                    .first()
                    .map(|e| format!("; first error: {e}"))
                    .unwrap_or_default()
            ));
        }
        match (self.server.tasks_baseline, self.server.tasks_end) {
            (Some(b), Some(e)) if e <= b => {}
            (Some(b), Some(e)) => reasons.push(format!(
                "server tasks did not return to the baseline: {e} after the calls, {b} before"
            )),
            _ => reasons.push("server task count unknown (no vr_runtime_alive_tasks)".to_owned()),
        }
        if self.setup.options.bot == Bot::Echo && !self.setup.options.flood {
            match &self.echo_latency {
                Some(p) if p.p99_ms <= CHECK_P99_MS => {}
                Some(p) => reasons.push(format!(
                    "p99 echo latency {:.1} ms > {CHECK_P99_MS} ms",
                    p.p99_ms
                )),
                None => reasons.push("no echo was received".to_owned()),
            }
        }
        Verdict {
            passed: reasons.is_empty(),
            reasons,
        }
    }

    /// Writes the JSON report.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        write_json(path, self)
    }

    /// The human-readable summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let o = &self.setup.options;
        let _ = writeln!(
            s,
            "\nload: {} {:?} calls x {} s{}{} against {} ({})",
            o.calls,
            o.bot,
            o.seconds,
            if o.flood { " (flood)" } else { "" },
            if o.baseline {
                " [baseline: bare websocket echo, not vr]"
            } else {
                ""
            },
            self.setup.server_addr,
            match (self.setup.server_core, self.setup.generator_core) {
                (Some(a), Some(b)) => format!("server on core {a}, generator on core {b}"),
                _ => "unpinned".to_owned(),
            }
        );
        let c = &self.calls;
        let _ = writeln!(
            s,
            "  calls      held {} / {}, completed {}, server hang-ups {}, failed {}",
            c.held, c.requested, c.completed, c.server_hangups, c.failed
        );
        let f = &self.frames;
        let _ = writeln!(
            s,
            "  frames     sent {}, echoed {}, lost {}, server in {} / out {}",
            f.sent,
            f.echoed,
            opt(f.lost),
            opt(f.server_frames_in),
            opt(f.server_frames_out)
        );
        for (name, p) in [
            ("echo", &self.echo_latency),
            ("  steady", &self.echo_latency_steady),
            ("mark error", &self.mark_error),
            ("send lag", &self.send_lag),
        ] {
            if let Some(p) = p {
                let _ = writeln!(
                    s,
                    "  {name:<10} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
                    p.p50_ms, p.p99_ms, p.max_ms, p.count
                );
            }
        }
        let b = &self.bot;
        if o.bot == Bot::Demo {
            let _ = writeln!(
                s,
                "  bot        {:.0} s of audio, marks {} (played {}, cleared {}), clears {}",
                b.audio_s, b.marks_received, b.marks_played, b.marks_cleared, b.clears
            );
        }
        let v = &self.server;
        let _ = writeln!(
            s,
            "  server     cpu {}% ({} CPU-s per call-minute, overall {}), window {:.1} s",
            optf(v.cpu_percent_steady, 1),
            optf(v.cpu_s_per_call_minute, 4),
            optf(v.cpu_s_per_call_minute_overall, 4),
            v.steady_window_s
        );
        let _ = writeln!(
            s,
            "  server     rss baseline {} KiB, steady {} KiB, end {} KiB, per call {} KiB",
            opt(v.rss_kib_baseline),
            opt(v.rss_kib_steady),
            opt(v.rss_kib_end),
            optf(v.rss_kib_per_call, 1)
        );
        let t = &v.turn_p99_ms;
        if t.speak_to_first_byte.is_some() || t.commit_to_event.is_some() {
            let _ = writeln!(
                s,
                "  turn p99   commit->event <= {} ms, speak->first byte <= {} ms, first byte->first frame <= {} ms (histogram bucket bounds)",
                optf(t.commit_to_event, 3),
                optf(t.speak_to_first_byte, 3),
                optf(t.first_byte_to_first_frame, 3)
            );
        }
        let _ = writeln!(
            s,
            "  server     tasks baseline {}, steady {}, end {}; {}",
            optf(v.tasks_baseline, 0),
            optf(v.tasks_steady, 0),
            optf(v.tasks_end, 0),
            v.exit.as_deref().unwrap_or("left running")
        );
        if let Some(fl) = &self.flood {
            let _ = writeln!(
                s,
                "  flood      server accepted {} frames/s ({} CPU-us each); sent {:.0}/s, echoed {:.0}/s",
                optf(fl.server_frames_in_per_s, 0),
                optf(fl.server_cpu_us_per_frame, 2),
                fl.sent_per_s,
                fl.echoed_per_s
            );
        }
        let g = &self.generator;
        let _ = writeln!(
            s,
            "  generator  cpu {}% of its core{}",
            optf(g.cpu_percent, 1),
            if g.saturated {
                " - SATURATED: the generator, not the server, may be the limit"
            } else {
                ""
            }
        );
        let ol = &self.other_load;
        let _ = writeln!(
            s,
            "  others     cpu on the server's core {}%, generator's core {}%, all {}%{}",
            optf(ol.server_core_percent, 1),
            optf(ol.generator_core_percent, 1),
            optf(ol.total_percent, 1),
            if ol.busy {
                " - BUSY MACHINE: latencies and CPU figures are disturbed"
            } else {
                ""
            }
        );
        for n in &self.setup.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}

fn optf(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}
