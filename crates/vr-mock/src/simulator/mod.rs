//! A faithful Twilio Media Streams simulator (Twilio's side of a bidirectional stream).
//!
//! [`TwilioSimulator`] dials a bot's websocket like Twilio does (twilio-media-streams.md):
//! `connected`, then `start` with Twilio-shaped ids and custom parameters; caller audio paced
//! at 20 ms with sequence numbers, chunks and media timestamps (silence between clips);
//! outbound audio played into a real-time buffer; each mark echoed only once the audio before
//! it has played; `clear` empties the buffer and echoes pending marks at once; `dtmf`; `stop`
//! at the end; `X-Twilio-Signature` when given an auth token. It records both legs (stereo
//! WAV, caller left, agent right) and returns a timeline.
//!
//! The call ends when the script is done and the line has been quiet for
//! [`SimulatorConfig::end_after_bot_silence`], when the server closes the socket (a bot
//! hang-up), on a [`CallerAction::Hangup`], at the timeout, or when the owner cancels
//! [`TwilioSimulator::stop_token`].

mod ids;
pub(crate) mod leg;
pub mod pacing;
pub mod playout;
mod recorder;
mod script;
mod timeline;

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vr_codec::WavError;

pub use ids::{SimIds, is_twilio_sid, twilio_sid};
pub use script::{CallerAction, StartAt};
pub use timeline::{TimelineEntry, TimelineEvent};

use leg::{Incoming, Leg};
use pacing::{TickSchedule, tick_offset};
pub(crate) use recorder::Recorder;

/// Creates a stereo recorder (for the bridge).
pub(crate) fn recorder_create(path: &std::path::Path) -> Result<Recorder, WavError> {
    Recorder::create(path)
}
use script::Scheduler;
pub(crate) use timeline::Timeline;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    /// The URL is not a websocket URL.
    #[error("invalid websocket URL: {0}")]
    InvalidUrl(String),
    /// The signature header could not be made (e.g. an empty auth token).
    #[error("cannot sign the request: {0}")]
    Signature(String),
    /// The connection failed or timed out.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The server answered the upgrade with something other than 101 (Twilio error 31920).
    #[error("websocket handshake refused with HTTP {status}")]
    Handshake {
        /// The HTTP status.
        status: u16,
    },
    /// A caller audio file could not be read.
    #[error("cannot read caller audio {path}: {source}")]
    Audio {
        /// The file.
        path: PathBuf,
        /// Why.
        source: WavError,
    },
    /// The recording could not be written.
    #[error("recording failed: {0}")]
    Record(#[from] WavError),
}

/// Counters of one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Caller `media` messages sent (one per 20 ms tick).
    pub frames_sent: u64,
    /// `media` messages received from the server.
    pub media_received: u64,
    /// Audio bytes received from the server.
    pub audio_bytes_received: u64,
    /// Marks received.
    pub marks_received: u64,
    /// Marks echoed (after playback or by a clear).
    pub marks_echoed: u64,
    /// Clears received.
    pub clears: u64,
    /// Buffered bytes dropped by clears.
    pub bytes_cleared: u64,
    /// DTMF digits sent.
    pub dtmf_sent: u64,
    /// Messages Twilio would have rejected.
    pub protocol_errors: u64,
    /// Ticks skipped because the simulator fell behind real time.
    pub ticks_skipped: u64,
}

/// How the call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    /// The server closed the socket (the bot hung up), or the connection broke.
    ServerClosed {
        /// The close code (1005 for a close frame without one); `None` when the connection
        /// broke without a close frame.
        code: Option<u16>,
    },
    /// The script finished and the line went quiet; the simulator sent `stop`.
    ScriptDone,
    /// A [`CallerAction::Hangup`] ran; the simulator sent `stop`.
    CallerHangup,
    /// The timeout passed; the simulator sent `stop`.
    Timeout,
    /// The owner cancelled the stop token; the simulator sent `stop`.
    Stopped,
}

impl CallEnd {
    /// Whether the call ended normally (anything but a timeout, or a broken connection).
    pub fn is_normal(&self) -> bool {
        match self {
            Self::ServerClosed { code } => code.is_some(),
            Self::ScriptDone | Self::CallerHangup | Self::Stopped => true,
            Self::Timeout => false,
        }
    }
}

/// What a simulation did.
#[derive(Debug, Clone)]
pub struct SimulationReport {
    /// The stream's identifiers.
    pub ids: SimIds,
    /// Everything that happened, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Counters.
    pub counters: Counters,
    /// How the call ended.
    pub end: CallEnd,
    /// Media time of the stream (ticks × 20 ms).
    pub duration: Duration,
    /// The recording, when one was asked for.
    pub recording: Option<PathBuf>,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The websocket URL to dial (`ws://` or `wss://`).
    pub url: String,
    /// Signs the upgrade with `X-Twilio-Signature` when set.
    pub auth_token: Option<String>,
    /// The URL to sign (the public `wss://` URL the server validates against); `url` if unset.
    pub signed_url: Option<String>,
    /// `start.customParameters`, in order.
    pub custom_parameters: Vec<(String, String)>,
    /// The caller's script.
    pub caller_actions: Vec<CallerAction>,
    /// Writes a stereo μ-law WAV here (caller left, agent right).
    pub record: Option<PathBuf>,
    /// The call ends with `stop` after this long at the latest.
    pub timeout: Duration,
    /// Once the script is done, the call ends after the line has been quiet this long.
    pub end_after_bot_silence: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// Ids to use; random Twilio-shaped ids when unset.
    pub ids: Option<SimIds>,
}

impl SimulatorConfig {
    /// Defaults: no signature, no parameters, no script, no recording, 60 s timeout, end
    /// after 3 s of quiet, 10 s connect timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            signed_url: None,
            custom_parameters: Vec::new(),
            caller_actions: Vec::new(),
            record: None,
            timeout: Duration::from_secs(60),
            end_after_bot_silence: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(10),
            ids: None,
        }
    }
}

/// The simulator: a value its owner runs (and may stop); no global state.
#[derive(Debug)]
pub struct TwilioSimulator {
    config: SimulatorConfig,
    stop: CancellationToken,
}

impl TwilioSimulator {
    /// A simulator for `config`.
    pub fn new(config: SimulatorConfig) -> Self {
        Self {
            config,
            stop: CancellationToken::new(),
        }
    }

    /// Cancel this token to end the call (with `stop`) from elsewhere.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Dials, runs the call to its end and reports.
    ///
    /// # Errors
    /// Connection and handshake failures, unreadable recordings. Anything the server sends
    /// is reported in the timeline, never as an error.
    pub async fn run(self) -> Result<SimulationReport, SimulatorError> {
        let cfg = self.config;
        let mut recorder = cfg.record.as_deref().map(Recorder::create).transpose()?;
        let opened = Instant::now();
        let ws = leg::connect(
            &cfg.url,
            cfg.auth_token.as_deref(),
            cfg.signed_url.as_deref(),
            cfg.connect_timeout,
        )
        .await?;
        let ids = cfg.ids.clone().unwrap_or_else(SimIds::random);
        let mut leg = Leg::new(ws, ids, Timeline::new(opened));
        let deadline = opened + cfg.timeout;
        let mut schedule = TickSchedule::new();
        let mut scheduler = Scheduler::new(cfg.caller_actions);
        let mut end = None;
        if leg
            .send_connected_and_start(&cfg.url, &cfg.custom_parameters)
            .await
            == Incoming::Closed
        {
            end = Some(CallEnd::ServerClosed {
                code: leg.server_closed.flatten(),
            });
        }
        let t0 = Instant::now();
        while end.is_none() {
            let next_tick = t0 + schedule.next_due();
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => end = Some(CallEnd::Stopped),
                _ = tokio::time::sleep_until(deadline) => end = Some(CallEnd::Timeout),
                msg = leg.ws.next() => {
                    if leg.on_message(msg).await == Incoming::Closed {
                        end = Some(CallEnd::ServerClosed { code: leg.server_closed.flatten() });
                    }
                }
                _ = tokio::time::sleep_until(next_tick) => {
                    for n in schedule.due(Instant::now().saturating_duration_since(t0)) {
                        end = run_tick(&mut leg, &mut scheduler, recorder.as_mut(), n, &cfg.end_after_bot_silence).await;
                        if end.is_some() {
                            break;
                        }
                    }
                }
            }
        }
        let end = end.unwrap_or(CallEnd::Stopped);
        if !matches!(end, CallEnd::ServerClosed { .. }) {
            if end == CallEnd::CallerHangup {
                leg.timeline.push(TimelineEvent::CallerHangup);
            }
            leg.stop_and_close().await;
        }
        let recording = recorder.map(Recorder::finish).transpose()?;
        let mut counters = leg.counters;
        counters.ticks_skipped = schedule.skipped();
        Ok(SimulationReport {
            ids: leg.ids,
            timeline: leg.timeline.into_entries(),
            counters,
            end,
            duration: tick_offset(schedule.next_index().saturating_sub(schedule.skipped())),
            recording,
        })
    }
}

/// One 20 ms tick: bot play-out, caller audio, DTMF, recording, end check.
async fn run_tick(
    leg: &mut Leg,
    scheduler: &mut Scheduler,
    recorder: Option<&mut Recorder>,
    n: u64,
    end_after: &Duration,
) -> Option<CallEnd> {
    let closed = |leg: &Leg| CallEnd::ServerClosed {
        code: leg.server_closed.flatten(),
    };
    let now = tick_offset(n);
    let caller = scheduler.tick(now, leg.playout.is_playing());
    let (agent, played) = leg.play(n).await;
    if played == Incoming::Closed {
        return Some(closed(leg));
    }
    for (action, duration) in &caller.started {
        leg.timeline.push(TimelineEvent::CallerAudioStarted {
            action: *action,
            duration: *duration,
        });
    }
    for action in &caller.ended {
        leg.timeline
            .push(TimelineEvent::CallerAudioEnded { action: *action });
    }
    if leg.send_media(n, &caller.frame).await == Incoming::Closed {
        return Some(closed(leg));
    }
    if let Some(digit) = &caller.dtmf
        && leg.send_dtmf(digit).await == Incoming::Closed
    {
        return Some(closed(leg));
    }
    if let Some(rec) = recorder {
        rec.write(&caller.frame, &agent);
    }
    if caller.hangup {
        return Some(CallEnd::CallerHangup);
    }
    if scheduler.done() && !leg.bot_busy() && scheduler.quiet_for(now) >= *end_after {
        return Some(CallEnd::ScriptDone);
    }
    None
}
