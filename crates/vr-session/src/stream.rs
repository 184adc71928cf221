//! The bot's event stream.

use std::time::Duration;

use tokio::sync::broadcast;

use crate::events::SessionEvent;

/// A call's events in order. Overflow policy: a reader that falls more than the configured
/// capacity behind skips the oldest events and receives [`SessionEvent::Lagged`] saying how
/// many; the call itself never waits for the bot.
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<SessionEvent>,
    done: bool,
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<SessionEvent>) -> Self {
        Self { rx, done: false }
    }

    /// The next event; `None` after the call's `Disconnected` event has been delivered.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            Ok(event) => {
                if matches!(event, SessionEvent::Disconnected(_)) {
                    self.done = true;
                }
                Some(event)
            }
            Err(broadcast::error::RecvError::Lagged(n)) => Some(SessionEvent::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => {
                self.done = true;
                None
            }
        }
    }

    /// The next event within `timeout`; `Ok(None)` when the stream is over.
    pub async fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<SessionEvent>, tokio::time::error::Elapsed> {
        tokio::time::timeout(timeout, self.next()).await
    }
}
