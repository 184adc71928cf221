//! Command-line options of `cargo xtask load` (and the helpers `soak` shares).

use std::path::PathBuf;

use serde::Serialize;

use super::server::target_dir;

/// The cargo profile `vr` is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// `--release`.
    Release,
    /// `--profile dev`.
    Dev,
}

impl Profile {
    /// Parses `release` or `dev`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "release" => Ok(Self::Release),
            "dev" | "debug" => Ok(Self::Dev),
            other => Err(format!("unknown profile `{other}` (release or dev)")),
        }
    }

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Dev => "dev",
        }
    }

    /// The directory under `target/` its binaries go to.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Dev => "debug",
        }
    }
}

/// Which bot `vr serve` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bot {
    /// Echoes every frame; a mark each second.
    Echo,
    /// Mock STT + mock TTS conversation.
    Demo,
}

/// Walks `--flag value` / `--flag=value` arguments.
#[derive(Debug)]
pub struct ArgWalker<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> ArgWalker<'a> {
    /// Walks `args`.
    pub fn new(args: &'a [String]) -> Self {
        Self { args: args.iter() }
    }

    /// The next flag and its inline `=value`, if any.
    pub fn next_flag(&mut self) -> Option<(String, Option<String>)> {
        let arg = self.args.next()?;
        Some(match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        })
    }

    /// The flag's value: the inline one or the next argument.
    pub fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String, String> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .args
                .next()
                .cloned()
                .ok_or_else(|| format!("`{flag}` needs a value")),
        }
    }

    /// The flag's value parsed as `T`.
    pub fn parsed<T: std::str::FromStr>(
        &mut self,
        flag: &str,
        inline: Option<String>,
    ) -> Result<T, String> {
        let v = self.value(flag, inline)?;
        v.parse()
            .map_err(|_| format!("`{flag}`: cannot parse `{v}`"))
    }
}

/// Options of `cargo xtask load`.
#[derive(Debug, Clone, Serialize)]
pub struct LoadOptions {
    /// Concurrent calls.
    pub calls: usize,
    /// Seconds each call lasts.
    pub seconds: f64,
    /// The bot.
    pub bot: Bot,
    /// An already running server (`ws://127.0.0.1:PORT/voice`).
    pub url: Option<String>,
    /// That server's pid, for CPU and RSS.
    pub server_pid: Option<u32>,
    /// Flood mode.
    pub flood: bool,
    /// Build profile of `vr`.
    pub profile: Profile,
    /// JSON report path.
    pub report: PathBuf,
    /// Seconds over which connects are spread.
    pub ramp: f64,
    /// Apply the CI pass rule.
    pub check: bool,
    /// Measure the bare websocket echo server instead of `vr serve`.
    pub baseline: bool,
}

/// `--help` of `cargo xtask load`.
pub const HELP: &str = "\
usage: cargo xtask load [options]

N simulated Twilio calls against `vr serve` (Media Streams over a websocket, 50 frames/s
each, real time) for S seconds, then `stop` and close. By default it builds and starts
`vr serve --bot echo` on a free loopback port, the server pinned to core 0 with taskset and
the generator to core 1 (when there are two cores), and measures both.

options:
  --calls N          concurrent calls (default 100)
  --seconds S        seconds each call lasts (default 30)
  --bot echo|demo    echo: every frame echoed, a mark each second;
                     demo: mock STT/TTS conversation (transcripts, speech, marks, barge-in)
  --url URL          use a running server (ws://127.0.0.1:PORT/voice; loopback only);
                     server CPU/RSS then need --server-pid
  --server-pid PID   the running server's pid (with --url)
  --flood            send frames as fast as the server takes them; reports frames/s
  --profile P        release (default) or dev build of vr; with release a debug xtask
                     first rebuilds itself in release so the generator is optimised too
  --report PATH      JSON report (default target/load-report.json)
  --ramp SECONDS     spread the connects over this time (default calls x 2 ms)
  --baseline         measure a bare websocket echo server (same library and buffers as
                     `vr serve`, one task per socket, no parsing, no session) instead of vr:
                     the floor the kernel and the websocket layer set on this machine
  --check            apply the CI pass rule; exit non-zero with the reasons when it fails:
                     zero frames lost, every call completed, server tasks back to their
                     baseline within 10 s of the end, p99 echo latency <= 250 ms
  --help             this text

figures:
  calls held         calls connected at once during the steady window (all connected)
  frames lost        echo bot: frames sent - frames echoed back (2 s grace after the last);
                     demo bot: frames sent - the server's vr_frames_in_total increase
  echo latency       echo arrival - the moment the frame was written (echo bot)
  mark error         the generator plays the bot's audio like Twilio: each outbound frame
                     extends a play-out cursor by its length from max(now, cursor); a mark
                     is echoed when the cursor passes it. error = echo time - that moment,
                     i.e. how late the generator's timers were (0 when echoed at once)
  send lag           how late each frame left after its 20 ms slot (generator health)
  server CPU         CPU seconds per call-minute over the steady window (all calls live);
                     `overall` also counts connects and hang-ups
  server RSS         baseline (after /healthz), steady (end of the steady window), end;
                     per call = (steady - baseline) / calls held
  generator CPU      % of one core over the steady window; over 90 % = saturated (the
                     figures then say more about the generator than the server)
";

impl LoadOptions {
    /// Parses the arguments; `Ok(None)` for `--help`.
    pub fn parse(args: &[String]) -> Result<Option<Self>, String> {
        let mut o = Self {
            calls: 100,
            seconds: 30.0,
            bot: Bot::Echo,
            url: None,
            server_pid: None,
            flood: false,
            profile: Profile::Release,
            report: target_dir().join("load-report.json"),
            ramp: f64::NAN,
            check: false,
            baseline: false,
        };
        let mut w = ArgWalker::new(args);
        while let Some((flag, inline)) = w.next_flag() {
            match flag.as_str() {
                "--calls" => o.calls = w.parsed(&flag, inline)?,
                "--seconds" => o.seconds = w.parsed(&flag, inline)?,
                "--bot" => {
                    o.bot = match w.value(&flag, inline)?.as_str() {
                        "echo" => Bot::Echo,
                        "demo" => Bot::Demo,
                        other => return Err(format!("unknown bot `{other}` (echo or demo)")),
                    }
                }
                "--url" => o.url = Some(w.value(&flag, inline)?),
                "--server-pid" => o.server_pid = Some(w.parsed(&flag, inline)?),
                "--flood" => o.flood = true,
                "--profile" => o.profile = Profile::parse(&w.value(&flag, inline)?)?,
                "--report" => o.report = PathBuf::from(w.value(&flag, inline)?),
                "--ramp" => o.ramp = w.parsed(&flag, inline)?,
                "--check" => o.check = true,
                "--baseline" => o.baseline = true,
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown option `{other}`\n\n{HELP}")),
            }
        }
        if o.calls == 0 {
            return Err("`--calls` must be at least 1".to_owned());
        }
        if !(o.seconds.is_finite() && o.seconds > 0.0) {
            return Err("`--seconds` must be positive".to_owned());
        }
        if o.ramp.is_nan() {
            o.ramp = o.calls as f64 * 0.002;
        }
        if !(o.ramp.is_finite() && o.ramp >= 0.0) {
            return Err("`--ramp` must be zero or positive".to_owned());
        }
        if o.baseline && (o.url.is_some() || o.bot != Bot::Echo) {
            return Err(
                "`--baseline` is an echo server of its own: no `--url`, no `--bot demo`".to_owned(),
            );
        }
        if o.server_pid.is_some() && o.url.is_none() {
            return Err("`--server-pid` goes with `--url`".to_owned());
        }
        Ok(Some(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let o = LoadOptions::parse(&[]).unwrap().unwrap();
        assert_eq!((o.calls, o.seconds, o.bot), (100, 30.0, Bot::Echo));
        assert!((o.ramp - 0.2).abs() < 1e-9);
        let o = LoadOptions::parse(&args(
            "--calls 50 --seconds=10 --bot demo --check --profile dev --ramp 0 --flood",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.calls, o.seconds, o.bot), (50, 10.0, Bot::Demo));
        assert!(o.check && o.flood);
        assert_eq!(o.profile, Profile::Dev);
        assert_eq!(o.ramp, 0.0);
        assert!(LoadOptions::parse(&args("--help")).unwrap().is_none());
        assert!(LoadOptions::parse(&args("--calls")).is_err());
        assert!(LoadOptions::parse(&args("--calls x")).is_err());
        assert!(LoadOptions::parse(&args("--bot parrot")).is_err());
        assert!(LoadOptions::parse(&args("--server-pid 3")).is_err());
        assert!(LoadOptions::parse(&args("--frobnicate")).is_err());
        assert!(
            LoadOptions::parse(&args("--baseline"))
                .unwrap()
                .unwrap()
                .baseline
        );
        assert!(LoadOptions::parse(&args("--baseline --bot demo")).is_err());
        assert!(LoadOptions::parse(&args("--baseline --url ws://127.0.0.1:1/voice")).is_err());
    }
}
