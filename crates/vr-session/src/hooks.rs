//! The original's callbacks, run so that a panicking callback never takes a call down (W34).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::events::DisconnectReason;
use crate::stt::SttProvider;

/// A callback taking text (`on_committed`, `on_recognizing`, `on_error`).
pub type TextHook = Arc<dyn Fn(&str) + Send + Sync>;
/// Called with the provider after it is built and before it starts (`on_stt_ready`).
pub type SttReadyHook = Arc<dyn Fn(&dyn SttProvider) + Send + Sync>;
/// Called once when a call ends (`on_disconnected`).
pub type DisconnectHook = Arc<dyn Fn(&DisconnectReason) + Send + Sync>;

/// Callbacks with the original's names and meaning. Each is optional.
///
/// `on_committed` and `on_recognizing` fire only for the primary provider's transcripts that
/// were **not** heard during playback (the original dropped those); the event stream carries
/// every transcript, marked.
#[derive(Clone, Default)]
pub struct Hooks {
    /// A committed transcript that survived the echo gate.
    pub on_committed: Option<TextHook>,
    /// An interim transcript heard while the bot was silent.
    pub on_recognizing: Option<TextHook>,
    /// A provider failure (speech-to-text or text-to-speech).
    pub on_error: Option<TextHook>,
    /// The speech-to-text provider was built and is about to start.
    pub on_stt_ready: Option<SttReadyHook>,
    /// The call ended (fires exactly once per call).
    pub on_disconnected: Option<DisconnectHook>,
    /// A DTMF digit arrived.
    pub on_dtmf: Option<TextHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_committed", &self.on_committed.is_some())
            .field("on_recognizing", &self.on_recognizing.is_some())
            .field("on_error", &self.on_error.is_some())
            .field("on_stt_ready", &self.on_stt_ready.is_some())
            .field("on_disconnected", &self.on_disconnected.is_some())
            .field("on_dtmf", &self.on_dtmf.is_some())
            .finish()
    }
}

/// Runs a callback, logging instead of unwinding if it panics.
pub(crate) fn guarded(name: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(hook = name, "callback panicked; the call goes on");
    }
}

impl Hooks {
    pub(crate) fn text(hook: &Option<TextHook>, name: &str, text: &str) {
        if let Some(h) = hook {
            guarded(name, || h(text));
        }
    }
}
