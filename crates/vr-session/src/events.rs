//! Typed events a call emits to the bot.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::marks::MarkOutcome;

/// Which speech-to-text provider produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SttSource {
    /// The provider that drives the bot.
    Primary,
    /// The tee's secondary provider: logged and compared, never drives the bot.
    Secondary,
}

/// Whether a transcript is final for its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptKind {
    /// An interim hypothesis that may still change.
    Partial,
    /// The final text of a segment.
    Committed,
}

/// A transcript as the bot sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Stripped, non-empty text.
    pub text: String,
    /// Partial or committed.
    pub kind: TranscriptKind,
    /// Which provider produced it.
    pub source: SttSource,
    /// True when it arrived while the bot was speaking or inside the echo-discard window
    /// after it: possibly the bot's own echo, possibly the caller barging in.
    pub during_playback: bool,
}

/// Identifiers and parameters of a connected call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallInfo {
    /// Twilio call SID (`CA…`), if the transport knows it.
    pub call_sid: Option<String>,
    /// Stream SID (`MZ…`).
    pub stream_sid: String,
    /// Account SID (`AC…`), if known.
    pub account_sid: Option<String>,
    /// The caller's number, if known (from custom parameters or the webhook).
    pub caller: Option<String>,
    /// Custom parameters of the stream (`<Parameter>`s).
    pub custom_parameters: BTreeMap<String, String>,
    /// The route token when the stream came in on a routed path (`/voice/{token}`).
    pub route: Option<String>,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The transport reported the end of the stream (Twilio `stop`).
    RemoteStop,
    /// The socket closed without a `stop`.
    TransportClosed,
    /// Sending to the transport failed (B101).
    SendFailed(String),
    /// The bot asked to hang up and the hang-up completed.
    HangupRequested,
    /// No message arrived within the idle timeout.
    IdleTimeout,
    /// The session was reset for another call.
    Reset,
    /// The server is shutting down.
    Shutdown,
    /// The call never connected: the provider reported it `busy`, `no-answer`, `failed`,
    /// `canceled` or `completed` first.
    NotAnswered(String),
    /// The transport went away without saying why (its task was cancelled or dropped).
    TransportDropped,
    /// Anything else.
    Other(String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RemoteStop => f.write_str("remote stop"),
            Self::TransportClosed => f.write_str("transport closed"),
            Self::SendFailed(e) => write!(f, "send failed: {e}"),
            Self::HangupRequested => f.write_str("hang-up requested"),
            Self::IdleTimeout => f.write_str("idle timeout"),
            Self::Reset => f.write_str("session reset"),
            Self::Shutdown => f.write_str("server shutdown"),
            Self::NotAnswered(status) => write!(f, "call not answered ({status})"),
            Self::TransportDropped => f.write_str("transport dropped"),
            Self::Other(e) => f.write_str(e),
        }
    }
}

/// Everything a call reports to the bot, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The transport connected.
    Connected(CallInfo),
    /// A transcript (partial or committed) from either provider.
    Transcript(Transcript),
    /// A speech-to-text provider was built and is about to start.
    SttReady(SttSource),
    /// A speech-to-text provider failed (start failure, terminal error, reconnects exhausted).
    SttError {
        /// Which provider.
        source: SttSource,
        /// Provider-specific reason, e.g. `auth_error` or `reconnect_exhausted_after_3_attempts`.
        error: String,
    },
    /// A text-to-speech utterance failed.
    TtsError(String),
    /// The caller pressed a key.
    Dtmf(String),
    /// A mark resolved.
    Mark {
        /// The name the bot gave.
        name: String,
        /// How it resolved.
        outcome: MarkOutcome,
    },
    /// Inbound audio was dropped because its consumer fell behind (counted; reported once per
    /// call the first time it happens).
    InboundOverflow {
        /// Frames dropped so far.
        dropped: u64,
    },
    /// The telephony provider reported the call's status (Twilio status callback:
    /// `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, …).
    CallStatus(String),
    /// The call ended.
    Disconnected(DisconnectReason),
    /// The bot's event stream fell behind and skipped this many events.
    Lagged(u64),
}

/// Latency figures of one utterance, as the caller feels them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpeakTimings {
    /// From the speak request to the first audio byte from the provider.
    pub first_byte: Option<Duration>,
    /// From the speak request to the first frame handed to the transport.
    pub first_frame: Option<Duration>,
}
