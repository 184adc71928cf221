//! The built-in bots: the demo bot (`vr demo`, `vr serve --bot demo`) and the echo bot (the
//! classic Media Streams example and the load-test bot).

mod demo;
mod echo;

pub use demo::{DemoBot, GOODBYE, GREETING};
pub use echo::{ECHO_MARK_EVERY_FRAMES, EchoBot, EchoStt};
