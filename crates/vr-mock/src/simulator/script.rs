//! The caller's script: audio clips, key presses and a hang-up, and when each starts.
//!
//! Actions with [`StartAt::AfterBotSilence`] run in order: each waits for the previous one
//! to finish and then for the line to have been quiet (no bot audio playing, no caller clip
//! playing) for its duration, counted from the stream start at the earliest. Actions with
//! [`StartAt::AtOffset`] start at that time after the stream started, whatever else is
//! happening (for barge-in); clips that overlap are mixed. [`Scheduler`] is pure: it is
//! driven by tick times.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use vr_codec::{FRAME_DURATION, Frame, SILENCE_FRAME, mix_frames, wav::read_wav_file};

use super::SimulatorError;

/// When an action starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// After the previous sequential action, once the line has been quiet this long.
    AfterBotSilence(Duration),
    /// This long after the stream started, whatever the bot is doing.
    AtOffset(Duration),
    /// After the previous sequential action, once the bot has been playing audio for this
    /// long (a barge-in that interrupts the bot's next utterance, whenever that comes).
    WhileBotSpeaking(Duration),
}

/// One thing the simulated caller does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerAction {
    /// Play 8 kHz μ-law frames into the stream.
    Audio {
        /// The clip, in 20 ms frames.
        frames: Vec<Frame>,
        /// When it starts.
        start: StartAt,
    },
    /// Press keys, one `dtmf` message per digit, one per 20 ms tick.
    Dtmf {
        /// The keys (`0-9`, `*`, `#`, `A-D`, `w` …; each character is one digit).
        digits: String,
        /// When the first key is pressed.
        start: StartAt,
    },
    /// Hang up: send `stop` and close the socket.
    Hangup {
        /// When.
        after: StartAt,
    },
}

impl CallerAction {
    /// An audio clip read from a WAV file (any common format, converted to 8 kHz μ-law).
    ///
    /// # Errors
    /// [`SimulatorError::Audio`] when the file cannot be read or converted.
    pub fn audio_file(path: impl AsRef<Path>, start: StartAt) -> Result<Self, SimulatorError> {
        let path = path.as_ref();
        let frames = read_wav_file(path)
            .and_then(|w| w.to_mulaw_8k_frames())
            .map_err(|source| SimulatorError::Audio {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::Audio { frames, start })
    }

    /// Parses a command-line clip argument: `FILE` (starts after 700 ms of bot silence, or
    /// `silence`), `FILE@MS` (starts `MS` milliseconds after the stream starts) or
    /// `FILE@bot+MS` (starts once the bot has been speaking for `MS` milliseconds: barge-in).
    ///
    /// # Errors
    /// As [`audio_file`](Self::audio_file).
    pub fn parse_audio_arg(arg: &str, silence: Duration) -> Result<Self, SimulatorError> {
        if let Some((file, at)) = arg.rsplit_once('@') {
            if let Ok(ms) = at.parse::<u64>() {
                return Self::audio_file(file, StartAt::AtOffset(Duration::from_millis(ms)));
            }
            if let Some(Ok(ms)) = at.strip_prefix("bot+").map(str::parse::<u64>) {
                return Self::audio_file(
                    file,
                    StartAt::WhileBotSpeaking(Duration::from_millis(ms)),
                );
            }
        }
        Self::audio_file(arg, StartAt::AfterBotSilence(silence))
    }

    /// `duration` of caller silence as a clip (a pause in the script).
    pub fn silence(duration: Duration, start: StartAt) -> Self {
        let n = duration.as_millis().div_ceil(FRAME_DURATION.as_millis()) as usize;
        Self::Audio {
            frames: vec![SILENCE_FRAME; n],
            start,
        }
    }

    /// Key presses.
    pub fn dtmf(digits: impl Into<String>, start: StartAt) -> Self {
        Self::Dtmf {
            digits: digits.into(),
            start,
        }
    }

    fn start(&self) -> StartAt {
        match self {
            Self::Audio { start, .. } | Self::Dtmf { start, .. } => *start,
            Self::Hangup { after } => *after,
        }
    }
}

/// What the caller does in one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerTick {
    pub frame: Frame,
    /// `(action index, clip duration)` of clips that start this tick.
    pub started: Vec<(usize, Duration)>,
    /// Action indices of clips that ended (their last frame went out last tick).
    pub ended: Vec<usize>,
    pub dtmf: Option<String>,
    pub hangup: bool,
}

#[derive(Debug)]
struct Clip {
    action: usize,
    pos: usize,
}

/// Runs the script. See the module docs.
#[derive(Debug)]
pub(crate) struct Scheduler {
    actions: Vec<CallerAction>,
    fired: Vec<bool>,
    /// Index of the action the sequential cursor waits on.
    cursor: usize,
    /// The sequential action whose completion the cursor waits for.
    blocking: Option<usize>,
    clips: Vec<Clip>,
    dtmf: VecDeque<(usize, String)>,
    /// Last tick time the line was busy (bot or caller audio).
    busy_until: Duration,
    /// Since when the bot has been playing without a break.
    bot_playing_since: Option<Duration>,
}

impl Scheduler {
    pub(crate) fn new(actions: Vec<CallerAction>) -> Self {
        let n = actions.len();
        Self {
            actions,
            fired: vec![false; n],
            cursor: 0,
            blocking: None,
            clips: Vec::new(),
            dtmf: VecDeque::new(),
            busy_until: Duration::ZERO,
            bot_playing_since: None,
        }
    }

    /// Whether every action has run to its end.
    pub(crate) fn done(&self) -> bool {
        self.fired.iter().all(|&f| f) && self.clips.is_empty() && self.dtmf.is_empty()
    }

    /// How long the line has been quiet at `now`.
    pub(crate) fn quiet_for(&self, now: Duration) -> Duration {
        now.saturating_sub(self.busy_until)
    }

    fn active(&self, action: usize) -> bool {
        self.clips.iter().any(|c| c.action == action) || self.dtmf.iter().any(|d| d.0 == action)
    }

    /// The caller's part of the tick at `now` (its time since the stream started).
    /// `bot_playing` says whether the bot's audio played in the previous tick.
    pub(crate) fn tick(&mut self, now: Duration, bot_playing: bool) -> CallerTick {
        if bot_playing || !self.clips.is_empty() {
            self.busy_until = now;
        }
        self.bot_playing_since = if bot_playing {
            Some(self.bot_playing_since.unwrap_or(now))
        } else {
            None
        };
        let mut out = CallerTick {
            frame: SILENCE_FRAME,
            started: Vec::new(),
            ended: Vec::new(),
            dtmf: None,
            hangup: false,
        };
        // Clips that ran out.
        let actions = &self.actions;
        self.clips.retain(|c| {
            let len = match &actions[c.action] {
                CallerAction::Audio { frames, .. } => frames.len(),
                _ => 0,
            };
            if c.pos >= len {
                out.ended.push(c.action);
                false
            } else {
                true
            }
        });
        // Offset actions.
        for i in 0..self.actions.len() {
            if !self.fired[i]
                && let StartAt::AtOffset(at) = self.actions[i].start()
                && now >= at
            {
                self.fire(i, &mut out);
            }
        }
        // The sequential cursor.
        let mut guard = 0;
        while self.cursor < self.actions.len() && guard < self.actions.len() + 1 {
            guard += 1;
            if let Some(b) = self.blocking {
                if self.active(b) {
                    break;
                }
                self.blocking = None;
            }
            let i = self.cursor;
            match self.actions[i].start() {
                StartAt::AtOffset(_) => self.cursor += 1,
                StartAt::AfterBotSilence(d) => {
                    if self.fired[i] {
                        self.cursor += 1;
                        continue;
                    }
                    if !self.clips.is_empty() || self.quiet_for(now) < d || bot_playing {
                        break;
                    }
                    self.fire(i, &mut out);
                    self.blocking = Some(i);
                    self.cursor += 1;
                }
                StartAt::WhileBotSpeaking(d) => {
                    if self.fired[i] {
                        self.cursor += 1;
                        continue;
                    }
                    let speaking_for = self
                        .bot_playing_since
                        .map(|since| now.saturating_sub(since));
                    if !self.clips.is_empty() || speaking_for.is_none_or(|t| t < d) {
                        break;
                    }
                    self.fire(i, &mut out);
                    self.blocking = Some(i);
                    self.cursor += 1;
                }
            }
        }
        // Produce this tick's caller audio and key press.
        for clip in &mut self.clips {
            if let CallerAction::Audio { frames, .. } = &self.actions[clip.action]
                && let Some(f) = frames.get(clip.pos)
            {
                out.frame = if out.frame == SILENCE_FRAME {
                    *f
                } else {
                    mix_frames(&out.frame, f).unwrap_or(out.frame)
                };
                clip.pos += 1;
            }
        }
        if let Some((_, digits)) = self.dtmf.front_mut() {
            let mut chars = digits.chars();
            out.dtmf = chars.next().map(String::from);
            *digits = chars.as_str().to_owned();
            if digits.is_empty() {
                self.dtmf.pop_front();
            }
        }
        if !self.clips.is_empty() || out.dtmf.is_some() {
            // A key press occupies the line too: the next action waits for the bot's answer.
            self.busy_until = now;
        }
        out
    }

    fn fire(&mut self, i: usize, out: &mut CallerTick) {
        self.fired[i] = true;
        match &self.actions[i] {
            CallerAction::Audio { frames, .. } => {
                if !frames.is_empty() {
                    out.started
                        .push((i, FRAME_DURATION * u32::try_from(frames.len()).unwrap_or(0)));
                    self.clips.push(Clip { action: i, pos: 0 });
                } else {
                    out.ended.push(i);
                }
            }
            CallerAction::Dtmf { digits, .. } => {
                if !digits.is_empty() {
                    self.dtmf.push_back((i, digits.clone()));
                }
            }
            CallerAction::Hangup { .. } => out.hangup = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn clip(n: usize, start: StartAt) -> CallerAction {
        CallerAction::Audio {
            frames: vec![[0x10; 160]; n],
            start,
        }
    }

    #[test]
    fn sequential_clips_wait_for_quiet() {
        let mut s = Scheduler::new(vec![
            clip(2, StartAt::AfterBotSilence(ms(100))),
            clip(1, StartAt::AfterBotSilence(ms(100))),
        ]);
        assert!(s.tick(ms(0), false).started.is_empty());
        assert!(s.tick(ms(80), false).started.is_empty());
        let t = s.tick(ms(100), false);
        assert_eq!(t.started, vec![(0, ms(40))]);
        assert_eq!(t.frame, [0x10; 160]);
        assert_eq!(s.tick(ms(120), false).frame, [0x10; 160]);
        // The clip has ended; the bot talks; the next clip waits for 100 ms of quiet.
        let t = s.tick(ms(140), true);
        assert_eq!(t.ended, vec![0]);
        assert_eq!(t.frame, SILENCE_FRAME);
        assert!(s.tick(ms(160), true).started.is_empty());
        assert!(s.tick(ms(240), false).started.is_empty());
        assert_eq!(s.tick(ms(260), false).started, vec![(1, ms(20))]);
        assert!(!s.done());
        assert_eq!(s.tick(ms(280), false).ended, vec![1]);
        assert!(s.done());
    }

    #[test]
    fn barge_in_clips_wait_for_the_bot_to_speak() {
        let mut s = Scheduler::new(vec![clip(1, StartAt::WhileBotSpeaking(ms(40)))]);
        assert!(s.tick(ms(0), false).started.is_empty());
        assert!(s.tick(ms(20), true).started.is_empty());
        assert!(s.tick(ms(40), true).started.is_empty());
        assert_eq!(s.tick(ms(60), true).started, vec![(0, ms(20))]);
        // A break in the bot's audio restarts the count.
        let mut s = Scheduler::new(vec![clip(1, StartAt::WhileBotSpeaking(ms(40)))]);
        s.tick(ms(0), true);
        s.tick(ms(20), true);
        s.tick(ms(40), false);
        assert!(s.tick(ms(60), true).started.is_empty());
        assert!(s.tick(ms(80), true).started.is_empty());
        assert_eq!(s.tick(ms(100), true).started, vec![(0, ms(20))]);
    }

    #[test]
    fn offset_actions_start_on_time_and_dtmf_goes_one_digit_per_tick() {
        let mut s = Scheduler::new(vec![
            CallerAction::dtmf("12", StartAt::AtOffset(ms(40))),
            CallerAction::Hangup {
                after: StartAt::AtOffset(ms(100)),
            },
        ]);
        assert_eq!(s.tick(ms(20), true).dtmf, None);
        assert_eq!(s.tick(ms(40), true).dtmf.as_deref(), Some("1"));
        assert_eq!(s.tick(ms(60), true).dtmf.as_deref(), Some("2"));
        assert!(!s.tick(ms(80), true).hangup);
        assert!(s.tick(ms(100), true).hangup);
        assert!(s.done());
    }
}
