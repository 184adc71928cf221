//! Errors a session reports to the bot and to transports.

use std::time::Duration;
use thiserror::Error;

/// What went wrong with a session operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// The transport did not connect in time (the original's `CallNotAnsweredError`).
    #[error("WebSocket did not connect within {}s timeout", .0.as_secs_f64())]
    CallNotAnswered(Duration),
    /// The call was hung up while the bot was waiting (the original's `CallHangupError`).
    #[error("Call was hung up during listen operation")]
    CallHangup,
    /// The handle belongs to an earlier call on this session (W33).
    #[error(
        "stale call handle: it belongs to call generation {handle}, the session is on {current}"
    )]
    StaleCall {
        /// Generation the handle was made for.
        handle: u64,
        /// Generation the session is on now.
        current: u64,
    },
    /// The call has ended; nothing more can be sent on it.
    #[error("the call has ended")]
    Disconnected,
    /// A transport is already attached to this call.
    #[error("a transport is already attached to this call")]
    AlreadyAttached,
    /// A blocking wrapper was called on a runtime thread, where it would deadlock (W4).
    #[error("blocking call made on an async runtime thread; use the async method instead")]
    WouldDeadlock,
    /// A blocking wrapper has no runtime to run on.
    #[error("no tokio runtime is available for this blocking call")]
    NoRuntime,
}
