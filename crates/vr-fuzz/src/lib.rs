//! Fuzz harnesses for voice-runtime: one function per cargo-fuzz target, each taking arbitrary
//! bytes and driving the code the way a hostile peer would, asserting the invariants that must
//! hold whatever the input.
//!
//! | target | what the bytes are | code under test |
//! | --- | --- | --- |
//! | [`media_streams`] | WebSocket frames and session intents, one per `\n`-separated line | `vr_twilio::proto`, `vr_twilio::stream::StreamState` |
//! | [`webhook`] | auth token, URL, signature header and form body, `\n`-separated | form parsing, `SignatureValidator`, URL helpers, TwiML |
//! | [`codec`] | samples, rates and chunk sizes | G.711, frames, mixing, `Resampler` |
//! | [`wav`] | a WAV file | `parse_wav`, conversion to 8 kHz μ-law frames, `WavWriter` |
//!
//! A broken invariant panics, which is what libFuzzer reports as a crash. The same functions
//! run in CI: `tests/corpus_replay.rs` replays every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` through [`Target::run`], so no fuzzer is needed there.
//!
//! ```
//! vr_fuzz::media_streams(br#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#);
//! vr_fuzz::Target::Codec.run(&[0x80, 0x7f, 0x00, 0xff]);
//! ```

#![deny(missing_docs)]

mod codec;
mod corpus;
mod input;
mod media_streams;
mod wav;
mod webhook;

pub use codec::codec;
pub use corpus::{ReplayError, Target, replay_corpus};
pub use media_streams::media_streams;
pub use wav::wav;
pub use webhook::webhook;
