//! # vr-mock
//!
//! Test doubles for voice-runtime that behave like the real thing:
//!
//! - [`MockStt`]: a speech-to-text provider that commits injected texts
//!   ([`MockSttHandle::inject`]) or, in script mode, listens to the caller's real audio with a
//!   simple voice-activity detector ([`vad`]) and commits the next line of a [`Script`] at the
//!   end of each speech segment. Script lines are *scripted*, not recognised, and are labelled
//!   so wherever they are shown ([`CommitSource`]).
//! - [`MockTts`]: a text-to-speech provider that records what it was asked to say and plays
//!   real μ-law audio (a soft speech-like signal, about 60 ms per character) through
//!   [`vr_session::Utterance`], so marks, pacing, barge-in and recordings behave as with a real
//!   provider. [`TextRelay`] forwards spoken text to a peer's `/test/inject` route.
//! - [`TwilioSimulator`]: Twilio's side of a Media Stream over a real websocket: `connected`,
//!   `start` with Twilio-shaped ids, caller audio paced at 20 ms, outbound audio played into a
//!   real-time buffer, marks echoed after their audio has played, `clear`, `dtmf`, `stop`, an
//!   `X-Twilio-Signature` header, a stereo recording and a timeline.
//! - [`Bridge`]: joins two servers' streams into one call (bot-to-bot, no phone network);
//!   [`dial::resolve_stream_url`] asks a server's voice webhook which stream to dial.
//!
//! Nothing here keeps module-level or global state: simulators, bridges and relays are values
//! their owner starts and stops.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vr_mock::SimulatorError> {
//! use std::time::Duration;
//! use vr_mock::{CallerAction, SimulatorConfig, StartAt, TwilioSimulator};
//!
//! let mut config = SimulatorConfig::new("ws://127.0.0.1:8080/voice");
//! config.caller_actions.push(CallerAction::audio_file(
//!     "assets/audio/caller-1-hello-there-can-you-hear.wav",
//!     StartAt::AfterBotSilence(Duration::from_millis(700)),
//! )?);
//! config.timeout = Duration::from_secs(30);
//! let report = TwilioSimulator::new(config).run().await?;
//! for entry in &report.timeline {
//!     println!("{entry}");
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod bridge;
pub mod dial;
pub mod mock_stt;
pub mod mock_tts;
pub mod script;
pub mod simulator;
pub mod synth;
pub mod vad;

pub use bridge::{Bridge, BridgeConfig, BridgeEnd, BridgeReport, BridgeSide, LegReport, Which};
pub use mock_stt::{CommitSource, CommittedLine, InjectOutcome, MockStt, MockSttHandle};
pub use mock_tts::{MockTts, OnSpoken, TextRelay};
pub use script::Script;
pub use simulator::{
    CallEnd, CallerAction, Counters, SimIds, SimulationReport, SimulatorConfig, SimulatorError,
    StartAt, TimelineEntry, TimelineEvent, TwilioSimulator,
};
pub use synth::{Synth, synthesize};
pub use vad::{Vad, VadConfig, VadEvent};
