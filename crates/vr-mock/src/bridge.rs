//! The bot-to-bot bridge (the original's mock transport, `TRANSPORT=mock`; B115–B117, W29).
//!
//! A [`Bridge`] joins two servers' Media Streams into one call with no phone network: it dials
//! both as Twilio would (each side gets `connected` and `start` with its own ids and custom
//! parameters), then every 20 ms plays one frame of each side's outbound audio and sends it
//! as the other side's inbound audio (silence when nothing is playing). Marks on each side
//! are echoed after their audio has played there; `clear` empties that side's playback buffer
//! and echoes its pending marks. When one side closes its socket, the other gets `stop`.
//!
//! Unlike the original it keeps no module-level list: the bridge is a value its owner runs
//! and stops ([`Bridge::stop_token`]).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::simulator::leg::{self, Incoming, Leg};
use crate::simulator::pacing::{TickSchedule, tick_offset};
use crate::simulator::{Counters, SimIds, SimulatorError, Timeline, TimelineEntry};

/// One side of the bridge: a server to dial.
#[derive(Debug, Clone)]
pub struct BridgeSide {
    /// Its websocket URL.
    pub url: String,
    /// Signs the upgrade when set.
    pub auth_token: Option<String>,
    /// The URL to sign; `url` if unset.
    pub signed_url: Option<String>,
    /// `start.customParameters` for this side.
    pub custom_parameters: Vec<(String, String)>,
    /// Ids for this side's stream; random when unset.
    pub ids: Option<SimIds>,
}

impl BridgeSide {
    /// A side dialled at `url` with no signature or parameters.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            signed_url: None,
            custom_parameters: Vec::new(),
            ids: None,
        }
    }
}

/// What to bridge.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Side A (the caller bot, say).
    pub a: BridgeSide,
    /// Side B (the bot under test, say).
    pub b: BridgeSide,
    /// The call ends (with `stop` to both) after this long at the latest.
    pub timeout: Duration,
    /// How long connecting each side may take.
    pub connect_timeout: Duration,
    /// Writes a stereo μ-law WAV here: what A played left, what B played right.
    pub record: Option<PathBuf>,
}

impl BridgeConfig {
    /// Two sides, a 5-minute timeout, a 10 s connect timeout, no recording.
    pub fn new(a: BridgeSide, b: BridgeSide) -> Self {
        Self {
            a,
            b,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            record: None,
        }
    }
}

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Side A.
    A,
    /// Side B.
    B,
}

/// How a bridged call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeEnd {
    /// One side closed its socket (hung up); the other was sent `stop`.
    Closed {
        /// The side that closed.
        side: Which,
        /// Its close code, if any.
        code: Option<u16>,
    },
    /// The timeout passed.
    Timeout,
    /// The owner cancelled the stop token.
    Stopped,
}

/// What happened on one side.
#[derive(Debug, Clone)]
pub struct LegReport {
    /// The side's stream ids.
    pub ids: SimIds,
    /// Its timeline.
    pub timeline: Vec<TimelineEntry>,
    /// Its counters.
    pub counters: Counters,
}

/// What a bridged call did.
#[derive(Debug, Clone)]
pub struct BridgeReport {
    /// Side A.
    pub a: LegReport,
    /// Side B.
    pub b: LegReport,
    /// How it ended.
    pub end: BridgeEnd,
    /// Media time of the call.
    pub duration: Duration,
    /// The recording, when one was asked for.
    pub recording: Option<PathBuf>,
}

/// The bridge. See the module docs.
#[derive(Debug)]
pub struct Bridge {
    config: BridgeConfig,
    stop: CancellationToken,
}

impl Bridge {
    /// A bridge for `config`.
    pub fn new(config: BridgeConfig) -> Self {
        Self {
            config,
            stop: CancellationToken::new(),
        }
    }

    /// Cancel this token to end the call from elsewhere.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Dials both sides and runs the call to its end.
    ///
    /// # Errors
    /// Connection failures of either side and recording failures.
    pub async fn run(self) -> Result<BridgeReport, SimulatorError> {
        let cfg = self.config;
        let mut recorder = match &cfg.record {
            Some(p) => Some(crate::simulator::recorder_create(p)?),
            None => None,
        };
        let opened = Instant::now();
        let (ws_a, ws_b) = tokio::try_join!(
            dial(&cfg.a, cfg.connect_timeout),
            dial(&cfg.b, cfg.connect_timeout)
        )?;
        let mut a = Leg::new(
            ws_a,
            cfg.a.ids.clone().unwrap_or_else(SimIds::random),
            Timeline::new(opened),
        );
        let mut b = Leg::new(
            ws_b,
            cfg.b.ids.clone().unwrap_or_else(SimIds::random),
            Timeline::new(opened),
        );
        let mut end = None;
        if a.send_connected_and_start(&cfg.a.url, &cfg.a.custom_parameters)
            .await
            == Incoming::Closed
        {
            end = Some(closed(Which::A, &a));
        }
        if end.is_none()
            && b.send_connected_and_start(&cfg.b.url, &cfg.b.custom_parameters)
                .await
                == Incoming::Closed
        {
            end = Some(closed(Which::B, &b));
        }
        let deadline = opened + cfg.timeout;
        let t0 = Instant::now();
        let mut schedule = TickSchedule::new();
        while end.is_none() {
            let next_tick = t0 + schedule.next_due();
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => end = Some(BridgeEnd::Stopped),
                _ = tokio::time::sleep_until(deadline) => end = Some(BridgeEnd::Timeout),
                msg = a.ws.next() => {
                    if a.on_message(msg).await == Incoming::Closed {
                        end = Some(closed(Which::A, &a));
                    }
                }
                msg = b.ws.next() => {
                    if b.on_message(msg).await == Incoming::Closed {
                        end = Some(closed(Which::B, &b));
                    }
                }
                _ = tokio::time::sleep_until(next_tick) => {
                    for n in schedule.due(Instant::now().saturating_duration_since(t0)) {
                        let (from_a, sa) = a.play(n).await;
                        let (from_b, sb) = b.play(n).await;
                        if let Some(rec) = recorder.as_mut() {
                            rec.write(&from_a, &from_b);
                        }
                        if sa == Incoming::Closed || a.send_media(n, &from_b).await == Incoming::Closed {
                            end = Some(closed(Which::A, &a));
                        } else if sb == Incoming::Closed || b.send_media(n, &from_a).await == Incoming::Closed {
                            end = Some(closed(Which::B, &b));
                        }
                        if end.is_some() {
                            break;
                        }
                    }
                }
            }
        }
        a.stop_and_close().await;
        b.stop_and_close().await;
        let recording = recorder.map(|r| r.finish()).transpose()?;
        let skipped = schedule.skipped();
        let report = |leg: Leg| {
            let mut counters = leg.counters;
            counters.ticks_skipped = skipped;
            LegReport {
                ids: leg.ids,
                timeline: leg.timeline.into_entries(),
                counters,
            }
        };
        Ok(BridgeReport {
            a: report(a),
            b: report(b),
            end: end.unwrap_or(BridgeEnd::Stopped),
            duration: tick_offset(schedule.next_index().saturating_sub(skipped)),
            recording,
        })
    }
}

async fn dial(side: &BridgeSide, timeout: Duration) -> Result<leg::Ws, SimulatorError> {
    leg::connect(
        &side.url,
        side.auth_token.as_deref(),
        side.signed_url.as_deref(),
        timeout,
    )
    .await
}

fn closed(side: Which, leg: &Leg) -> BridgeEnd {
    BridgeEnd::Closed {
        side,
        code: leg.server_closed.flatten(),
    }
}
