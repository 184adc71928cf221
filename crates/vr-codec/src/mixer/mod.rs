//! The real-time two-channel call mixer.
//!
//! Caller and agent audio are written from any thread into two bounded FIFOs of 20 ms
//! frames ([`MixerCore`]). Every 20 ms ([`Pacer`], with the original's catch-up rule) one
//! frame is taken from each side and mixed ([`MixedFrame`]), and the result goes to every
//! [`MixerSink`]: a [`WavSink`] recorder (mono or stereo), an [`FfplaySink`] live monitor,
//! or your own. A failing sink is disabled with one warning; the others carry on.
//!
//! [`Mixer::start`] runs this on a tokio task and returns a cloneable [`MixerHandle`].
//!
//! ```no_run
//! use vr_codec::mixer::{Mixer, MixerSink, WavSink};
//! use vr_codec::wav::WavLayout;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let wav = WavSink::create("recordings/call.wav", WavLayout::Stereo)?;
//! let sinks: Vec<Box<dyn MixerSink>> = vec![Box::new(wav)];
//! let mixer = Mixer::start(sinks)?;
//! mixer.write_caller(&[0xFF; 160]);
//! mixer.write_agent(&[0xFF; 320]);
//! mixer.clear_agent(); // barge-in: the caller never hears the rest
//! mixer.shutdown().await;
//! # Ok(()) }
//! ```

mod core;
mod pacer;
mod pipe;
mod sink;
mod task;
mod wav_sink;

pub use self::core::{MixedFrame, MixerConfig, MixerCore, MixerStats};
pub use pacer::{CATCHUP_LIMIT, Pacer, PacerAction};
pub use pipe::{FFPLAY_ARGS, FFPLAY_NOT_FOUND, FfplaySink, PipeSink};
pub use sink::{MixerSink, SinkError, SinkFanout};
pub use task::{Mixer, MixerError, MixerHandle};
pub use wav_sink::WavSink;
