//! The soak command's caller: real recorded speech alternating with silence, turn-taking
//! with the bot (waits for its reply to play, then pauses), and now and then talking over
//! it (barge-in). It hangs up after its time, unless the bot hangs up first.

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;
use vr_codec::wav::read_wav_file;

use super::call::{BotEvent, FRAME, Next, Talker, View};
use super::twilio::{self, splitmix};

/// RMS above which a frame counts as voiced when trimming a clip's leading silence.
const VOICED_RMS: f64 = 400.0;
/// Frames of a barge-in snippet (0.8 s: long enough for a voice detector, short enough to end
/// while the bot is still talking).
const SNIPPET_FRAMES: usize = 40;
/// Longest wait for the bot to answer before the caller speaks again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// One caller recording as pre-encoded frame bodies.
#[derive(Debug)]
pub struct Clip {
    /// Base64 of bytes 6..160 of each frame.
    pub bodies: Vec<String>,
    /// The first voiced frame.
    pub voiced_from: usize,
}

/// The recordings and silence every call shares.
#[derive(Debug)]
pub struct Voice {
    /// The caller clips, in order.
    pub clips: Vec<Clip>,
    /// Silence body.
    pub silence: String,
}

impl Voice {
    /// Reads every `caller-*.wav` in `dir` (sorted by name).
    pub fn load(dir: &Path) -> Result<Rc<Self>, String> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("caller-") && n.ends_with(".wav"))
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(format!("no caller-*.wav in {}", dir.display()));
        }
        let mut clips = Vec::new();
        for p in &paths {
            let frames = read_wav_file(p)
                .and_then(|w| w.to_mulaw_8k_frames())
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let voiced_from = frames
                .iter()
                .position(|f| rms(f) >= VOICED_RMS)
                .unwrap_or(0);
            clips.push(Clip {
                bodies: frames.iter().map(twilio::body_b64).collect(),
                voiced_from,
            });
        }
        Ok(Rc::new(Self {
            clips,
            silence: twilio::body_b64(&vr_codec::SILENCE_FRAME),
        }))
    }
}

fn rms(frame: &[u8]) -> f64 {
    let sum: f64 = frame
        .iter()
        .map(|&b| f64::from(vr_codec::mulaw::decode(b)).powi(2))
        .sum();
    (sum / frame.len().max(1) as f64).sqrt()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Silent while the greeting plays; may barge in at `barge_at` (decided on its first
    /// audio).
    Greeting {
        decided: bool,
        barge_at: Option<Instant>,
    },
    /// Sending frames `pos..end` of clip `clip`.
    Speaking { clip: usize, pos: usize, end: usize },
    /// Silent, waiting for the bot's answer to play; may barge in at `barge_at`.
    Listening {
        heard: bool,
        barge_at: Option<Instant>,
        give_up: Instant,
    },
    /// A short pause after the bot finished.
    Pausing { until: Instant },
}

/// Counts of what one conversation did (summed into the soak report).
#[derive(Debug, Clone, Copy, Default)]
pub struct TurnStats {
    /// Utterances started.
    pub utterances: u64,
    /// Utterances started over the bot's audio.
    pub barge_ins: u64,
}

/// The caller. See the module docs.
#[derive(Debug)]
pub struct Conversation {
    voice: Rc<Voice>,
    state: State,
    next_clip: usize,
    frames: u64,
    rng: u64,
    /// What it did.
    pub stats: TurnStats,
}

impl Conversation {
    /// A caller that hangs up after `duration` (unless the bot does first).
    pub fn new(voice: Rc<Voice>, duration: Duration, seed: u64) -> Self {
        let mut rng = seed;
        let next_clip = (splitmix(&mut rng) % voice.clips.len().max(1) as u64) as usize;
        Self {
            voice,
            state: State::Greeting {
                decided: false,
                barge_at: None,
            },
            next_clip,
            frames: (duration.as_millis() / FRAME.as_millis()) as u64,
            rng,
            stats: TurnStats::default(),
        }
    }

    fn chance(&mut self, one_in: u64) -> bool {
        splitmix(&mut self.rng).is_multiple_of(one_in)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + splitmix(&mut self.rng) % (hi - lo + 1))
    }

    fn speak(&mut self, barge: bool, view: &View) {
        let n = self.voice.clips.len();
        let clip = self.next_clip % n;
        self.next_clip += 1;
        let c = &self.voice.clips[clip];
        let (pos, end) = if barge {
            let from = c.voiced_from;
            (from, (from + SNIPPET_FRAMES).min(c.bodies.len()))
        } else {
            (0, c.bodies.len())
        };
        self.stats.utterances += 1;
        if barge && view.bot_talking() {
            self.stats.barge_ins += 1;
        }
        self.state = State::Speaking { clip, pos, end };
    }

    fn listen(&mut self, now: Instant) {
        self.state = State::Listening {
            heard: false,
            barge_at: None,
            give_up: now + ANSWER_TIMEOUT,
        };
    }
}

impl Talker for Conversation {
    fn next(&mut self, view: &View) -> Next<'_> {
        if view.frames_sent >= self.frames {
            return Next::Hangup;
        }
        let now = view.now;
        match self.state {
            State::Greeting {
                barge_at: Some(t), ..
            } if now >= t => self.speak(true, view),
            State::Greeting { barge_at: None, .. } if now > view.started + ANSWER_TIMEOUT => {
                self.speak(false, view);
            }
            State::Listening {
                barge_at: Some(t), ..
            } if now >= t && view.bot_talking() => self.speak(true, view),
            State::Listening { give_up, .. } if now >= give_up => self.speak(false, view),
            State::Pausing { until } if now >= until => self.speak(false, view),
            _ => {}
        }
        if let State::Speaking { clip, pos, end } = self.state {
            if pos < end {
                self.state = State::Speaking {
                    clip,
                    pos: pos + 1,
                    end,
                };
                return Next::Frame(&self.voice.clips[clip].bodies[pos]);
            }
            self.listen(now);
        }
        Next::Frame(&self.voice.silence)
    }

    fn on_bot(&mut self, event: BotEvent, view: &View) {
        let now = view.now;
        match (event, self.state) {
            (BotEvent::Audio, State::Greeting { decided: false, .. }) => {
                let barge = self.chance(2);
                let at = self.millis(300, 900);
                self.state = State::Greeting {
                    decided: true,
                    barge_at: barge.then_some(now + at),
                };
            }
            (
                BotEvent::Audio,
                State::Listening {
                    heard: false,
                    give_up,
                    ..
                },
            ) => {
                let barge = self.chance(3);
                let at = self.millis(200, 600);
                self.state = State::Listening {
                    heard: true,
                    barge_at: barge.then_some(now + at),
                    give_up: give_up.max(now + ANSWER_TIMEOUT),
                };
            }
            (BotEvent::MarkPlayed, State::Greeting { .. })
            | (BotEvent::MarkPlayed, State::Listening { heard: true, .. }) => {
                let pause = self.millis(300, 900);
                self.state = State::Pausing { until: now + pause };
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Rc<Voice> {
        Rc::new(Voice {
            clips: vec![Clip {
                bodies: vec!["v".to_owned(); 60],
                voiced_from: 5,
            }],
            silence: "s".to_owned(),
        })
    }

    fn view(now: Instant, started: Instant, frames_sent: u64, playing_until: Instant) -> View {
        View {
            now,
            started,
            frames_sent,
            playing_until,
        }
    }

    #[test]
    fn takes_turns_and_hangs_up() {
        let t0 = Instant::now();
        let mut c = Conversation::new(voice(), Duration::from_secs(60), 1);
        // Silent during the greeting, speaks after it has played and a pause.
        assert_eq!(c.next(&view(t0, t0, 0, t0)), Next::Frame("s"));
        c.state = State::Greeting {
            decided: true,
            barge_at: None,
        }; // no barge-in this time
        c.on_bot(BotEvent::MarkPlayed, &view(t0, t0, 1, t0));
        let later = t0 + Duration::from_secs(1);
        assert_eq!(c.next(&view(later, t0, 2, t0)), Next::Frame("v"));
        assert_eq!(c.stats.utterances, 1);
        // The whole clip, then silence while listening.
        let mut sent = 3;
        while c.next(&view(later, t0, sent, t0)) == Next::Frame("v") {
            sent += 1;
        }
        assert_eq!(sent, 3 + 59);
        assert!(matches!(c.state, State::Listening { heard: false, .. }));
        // No answer: speaks again after the timeout.
        let timeout = later + ANSWER_TIMEOUT + Duration::from_millis(1);
        assert_eq!(c.next(&view(timeout, t0, sent, t0)), Next::Frame("v"));
        // Past its time it hangs up.
        assert_eq!(c.next(&view(timeout, t0, 3000, t0)), Next::Hangup);
    }

    #[test]
    fn barges_in_with_a_short_snippet_while_the_bot_talks() {
        let t0 = Instant::now();
        let mut c = Conversation::new(voice(), Duration::from_secs(60), 3);
        c.listen(t0);
        c.state = State::Listening {
            heard: true,
            barge_at: Some(t0),
            give_up: t0 + ANSWER_TIMEOUT,
        };
        let talking_until = t0 + Duration::from_secs(2);
        assert_eq!(c.next(&view(t0, t0, 0, talking_until)), Next::Frame("v"));
        assert_eq!(c.stats.barge_ins, 1);
        assert!(matches!(
            c.state,
            State::Speaking {
                pos: 6,
                end: 45,
                ..
            }
        ));
    }
}
