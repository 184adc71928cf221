//! What happened during a simulated call, with times since the socket opened.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// Entries kept before further ones are counted but dropped.
pub const MAX_ENTRIES: usize = 100_000;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimelineEvent {
    /// The websocket opened and `connected` was sent.
    Connected {
        /// The URL dialled.
        url: String,
    },
    /// `start` was sent.
    StartSent {
        /// `streamSid`.
        stream_sid: String,
        /// `callSid`.
        call_sid: String,
    },
    /// A caller audio clip started playing into the stream.
    CallerAudioStarted {
        /// Index of the action in the script.
        action: usize,
        /// Length of the clip.
        duration: Duration,
    },
    /// A caller audio clip finished.
    CallerAudioEnded {
        /// Index of the action in the script.
        action: usize,
    },
    /// A DTMF digit was sent.
    DtmfSent {
        /// The key.
        digit: String,
    },
    /// Bot audio started playing to the caller (by play-out time, not arrival).
    BotAudioStarted,
    /// Bot audio stopped playing (buffer ran dry or was cleared).
    BotAudioStopped {
        /// How long this stretch of bot audio played.
        played: Duration,
    },
    /// The server sent a mark.
    MarkReceived {
        /// `mark.name`.
        name: String,
    },
    /// A mark was echoed back.
    MarkEchoed {
        /// `mark.name`.
        name: String,
        /// Whether it was released by a `clear` rather than by playback.
        cleared: bool,
    },
    /// The server sent `clear`.
    ClearReceived {
        /// Buffered bot audio dropped.
        dropped: Duration,
        /// Pending marks echoed at once.
        marks_echoed: usize,
    },
    /// The server sent something Twilio would reject (31950/31951).
    ProtocolError {
        /// What was wrong.
        detail: String,
    },
    /// The caller hung up (a `Hangup` action).
    CallerHangup,
    /// `stop` was sent.
    StopSent,
    /// The server closed the socket (a bot hang-up).
    ServerClosed {
        /// The close code, if one was given.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The simulator closed the socket.
    SocketClosed,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Time since the socket opened.
    pub at: Duration,
    /// What happened.
    pub event: TimelineEvent,
}

impl fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connected { url } => write!(f, "connected to {url}"),
            Self::StartSent {
                stream_sid,
                call_sid,
            } => write!(f, "start sent (stream {stream_sid}, call {call_sid})"),
            Self::CallerAudioStarted { action, duration } => write!(
                f,
                "caller audio #{action} started ({:.2}s)",
                duration.as_secs_f64()
            ),
            Self::CallerAudioEnded { action } => write!(f, "caller audio #{action} ended"),
            Self::DtmfSent { digit } => write!(f, "dtmf {digit} sent"),
            Self::BotAudioStarted => write!(f, "bot audio started"),
            Self::BotAudioStopped { played } => {
                write!(f, "bot audio stopped after {:.2}s", played.as_secs_f64())
            }
            Self::MarkReceived { name } => write!(f, "mark {name} received"),
            Self::MarkEchoed { name, cleared } => {
                write!(f, "mark {name} echoed")?;
                if *cleared {
                    write!(f, " (cleared)")?;
                }
                Ok(())
            }
            Self::ClearReceived {
                dropped,
                marks_echoed,
            } => write!(
                f,
                "clear received: dropped {:.2}s of audio, echoed {marks_echoed} mark(s)",
                dropped.as_secs_f64()
            ),
            Self::ProtocolError { detail } => write!(f, "protocol error: {detail}"),
            Self::CallerHangup => write!(f, "caller hung up"),
            Self::StopSent => write!(f, "stop sent"),
            Self::ServerClosed { code, reason } => match code {
                Some(c) => write!(f, "server closed the socket (code {c}) {reason}"),
                None => write!(f, "server closed the socket"),
            },
            Self::SocketClosed => write!(f, "socket closed"),
        }
    }
}

impl fmt::Display for TimelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>8.3}s  {}", self.at.as_secs_f64(), self.event)
    }
}

/// A bounded timeline being recorded.
#[derive(Debug)]
pub(crate) struct Timeline {
    t0: Instant,
    entries: Vec<TimelineEntry>,
    dropped: u64,
}

impl Timeline {
    pub(crate) fn new(t0: Instant) -> Self {
        Self {
            t0,
            entries: Vec::new(),
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, event: TimelineEvent) {
        if self.entries.len() >= MAX_ENTRIES {
            self.dropped += 1;
            return;
        }
        tracing::debug!(%event, "simulator");
        self.entries.push(TimelineEntry {
            at: Instant::now().saturating_duration_since(self.t0),
            event,
        });
    }

    pub(crate) fn into_entries(self) -> Vec<TimelineEntry> {
        if self.dropped > 0 {
            tracing::warn!(dropped = self.dropped, "timeline entries dropped");
        }
        self.entries
    }
}
