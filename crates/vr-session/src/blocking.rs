//! Blocking wrappers for plain threads (the original's consumers were synchronous tool
//! threads). Called on a runtime thread they return [`SessionError::WouldDeadlock`] instead of
//! deadlocking (W4).

use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Handle;

use crate::SessionError;
use crate::call::CallHandle;
use crate::events::CallInfo;
use crate::marks::MarkOutcome;
use crate::tts::{SpeakOutcome, TtsProvider};

/// A [`CallHandle`] for synchronous code. Needs a multi-threaded runtime running elsewhere.
#[derive(Debug, Clone)]
pub struct BlockingCall {
    call: CallHandle,
    runtime: Handle,
}

impl BlockingCall {
    /// Wraps `call`, running its futures on `runtime`.
    pub fn new(call: CallHandle, runtime: Handle) -> Self {
        Self { call, runtime }
    }

    /// The async handle.
    pub fn call(&self) -> &CallHandle {
        &self.call
    }

    fn block<F: std::future::Future>(&self, f: F) -> Result<F::Output, SessionError> {
        if Handle::try_current().is_ok() {
            return Err(SessionError::WouldDeadlock);
        }
        Ok(self.runtime.block_on(f))
    }

    /// Sends a mark and blocks until it resolves (the original's `send_mark_and_wait`).
    pub fn mark_and_wait(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<MarkOutcome, SessionError> {
        self.block(self.call.mark_and_wait(name, timeout))?
    }

    /// Blocks until the call connects (the original's `wait_for_ws_connect`).
    pub fn wait_connected(&self, timeout: Duration) -> Result<CallInfo, SessionError> {
        self.block(self.call.wait_connected(timeout))?
    }

    /// Queues audio, blocking while the queue is full.
    pub fn send_audio(&self, audio: Bytes) -> Result<(), SessionError> {
        self.block(self.call.send_audio(audio))?
    }

    /// Speaks and blocks until done.
    pub fn speak(&self, tts: &dyn TtsProvider, text: &str) -> Result<SpeakOutcome, SessionError> {
        self.block(self.call.speak(tts, text))
    }

    /// Asks the transport to hang up (never blocks).
    pub fn hangup(&self) -> Result<(), SessionError> {
        self.call.hangup()
    }

    /// Clears the playback (never blocks).
    pub fn clear(&self) -> Result<(), SessionError> {
        self.call.clear()
    }

    /// Barge-in (never blocks).
    pub fn barge_in(&self) -> Result<(), SessionError> {
        self.call.barge_in()
    }
}
