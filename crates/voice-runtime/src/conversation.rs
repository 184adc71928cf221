//! Who said what on a call, for people: `vr demo` prints it, `vr serve` logs it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The bot started saying this.
    BotSays(String),
    /// A barge-in cut the bot short; the caller heard about this much.
    BotInterrupted {
        /// What the caller heard before the cut, by the play-out clock.
        heard: String,
    },
    /// A committed transcript of the caller.
    CallerSaid {
        /// The text.
        text: String,
        /// True when the text was scripted by a mock recogniser, not recognised.
        scripted: bool,
    },
    /// The caller pressed a key.
    CallerPressed(String),
    /// The bot hung up.
    BotHungUp,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BotSays(text) => write!(f, "bot     : {text}"),
            Self::BotInterrupted { heard } => {
                write!(f, "bot     : (interrupted by the caller; heard {heard:?})")
            }
            Self::CallerSaid {
                text,
                scripted: true,
            } => write!(f, "caller  : {text}   [scripted line, not recognised]"),
            Self::CallerSaid { text, .. } => write!(f, "caller  : {text}"),
            Self::CallerPressed(digit) => write!(f, "caller  : (pressed {digit})"),
            Self::BotHungUp => write!(f, "bot     : (hangs up)"),
        }
    }
}

type LineSink = Arc<dyn Fn(Duration, &Line) + Send + Sync>;

/// Receives conversation lines with the time since the observer was made.
#[derive(Clone)]
pub struct Observer {
    started: Instant,
    sink: LineSink,
    scripted_stt: bool,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("scripted_stt", &self.scripted_stt)
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer calling `sink` for every line. `scripted_stt` marks caller lines as scripted
    /// (a mock recogniser in script mode).
    pub fn new(scripted_stt: bool, sink: impl Fn(Duration, &Line) + Send + Sync + 'static) -> Self {
        Self {
            started: Instant::now(),
            sink: Arc::new(sink),
            scripted_stt,
        }
    }

    /// An observer that logs every line at info level.
    pub fn logging(scripted_stt: bool) -> Self {
        Self::new(
            scripted_stt,
            |_, line| tracing::info!(target: "conversation", "{line}"),
        )
    }

    /// Whether caller lines are scripted.
    pub fn scripted_stt(&self) -> bool {
        self.scripted_stt
    }

    /// Reports a line.
    pub fn line(&self, line: Line) {
        (self.sink)(self.started.elapsed(), &line);
    }

    /// Reports a committed caller transcript.
    pub fn caller_said(&self, text: &str) {
        self.line(Line::CallerSaid {
            text: text.to_owned(),
            scripted: self.scripted_stt,
        });
    }
}

/// Formats a time as `mm:ss.mmm`.
pub fn clock(at: Duration) -> String {
    let ms = at.as_millis();
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_lines_are_labelled_as_such() {
        let line = Line::CallerSaid {
            text: "hello".into(),
            scripted: true,
        };
        assert!(line.to_string().contains("scripted line, not recognised"));
        assert_eq!(clock(Duration::from_millis(61_234)), "01:01.234");
    }
}
