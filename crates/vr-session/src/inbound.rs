//! Caller audio from the transport to a speech-to-text provider.
//!
//! Overflow policy: the queue is bounded; when it is full the **oldest** frame is dropped
//! (fresh audio matters more to a recogniser than stale audio) and the drop is counted.
//! The producer never waits, so a slow consumer can never stall the transport.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

/// Default capacity: 10 s of 20 ms frames.
pub const DEFAULT_INBOUND_FRAMES: usize = 500;

#[derive(Debug)]
struct State {
    frames: VecDeque<Bytes>,
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    capacity: usize,
    notify: Notify,
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-push; the deque is still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued with room to spare.
    Queued,
    /// Queued, and the oldest frame was dropped to make room.
    DroppedOldest,
    /// The receiver is gone or the queue was closed; the frame was discarded.
    Closed,
}

/// Producer side of an inbound audio queue. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AudioSender {
    shared: Arc<Shared>,
}

/// Consumer side: what an [`SttProvider`](crate::SttProvider) reads caller audio from.
#[derive(Debug)]
pub struct AudioReceiver {
    shared: Arc<Shared>,
}

/// A bounded, drop-oldest queue of audio frames.
pub fn audio_channel(capacity: usize) -> (AudioSender, AudioReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::with_capacity(capacity.min(64)),
            closed: false,
        }),
        capacity: capacity.max(1),
        notify: Notify::new(),
        dropped: AtomicU64::new(0),
    });
    (
        AudioSender {
            shared: shared.clone(),
        },
        AudioReceiver { shared },
    )
}

impl AudioSender {
    /// Queues a frame without waiting; drops the oldest frame when full.
    pub fn push(&self, frame: Bytes) -> PushOutcome {
        let outcome = {
            let mut state = self.shared.lock();
            if state.closed {
                return PushOutcome::Closed;
            }
            let mut outcome = PushOutcome::Queued;
            if state.frames.len() >= self.shared.capacity {
                state.frames.pop_front();
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                outcome = PushOutcome::DroppedOldest;
            }
            state.frames.push_back(frame);
            outcome
        };
        self.shared.notify.notify_one();
        outcome
    }

    /// Ends the stream: the receiver gets the queued frames, then `None`.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.notify.notify_one();
    }

    /// Frames dropped so far because the consumer fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames waiting to be read.
    pub fn len(&self) -> usize {
        self.shared.lock().frames.len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AudioReceiver {
    /// Waits for the next frame; `None` once the call has ended and the queue is drained.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            let notified = self.shared.notify.notified();
            {
                let mut state = self.shared.lock();
                if let Some(frame) = state.frames.pop_front() {
                    return Some(frame);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Takes a frame if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Result<Bytes, TryRecvError> {
        let mut state = self.shared.lock();
        match state.frames.pop_front() {
            Some(frame) => Ok(frame),
            None if state.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Discards every waiting frame and returns how many there were.
    pub fn drain(&mut self) -> usize {
        let mut state = self.shared.lock();
        let n = state.frames.len();
        state.frames.clear();
        n
    }

    /// Whether the producer has closed the stream.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Frames dropped so far because this receiver fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for AudioReceiver {
    fn drop(&mut self) {
        // Nobody will read again: stop buffering.
        let mut state = self.shared.lock();
        state.closed = true;
        state.frames.clear();
    }
}

/// Why [`AudioReceiver::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No frame is waiting right now.
    #[error("no frame waiting")]
    Empty,
    /// The stream has ended.
    #[error("audio stream closed")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drops_oldest_when_full_and_counts() {
        let (tx, mut rx) = audio_channel(2);
        assert_eq!(tx.push(Bytes::from_static(b"a")), PushOutcome::Queued);
        assert_eq!(tx.push(Bytes::from_static(b"b")), PushOutcome::Queued);
        assert_eq!(
            tx.push(Bytes::from_static(b"c")),
            PushOutcome::DroppedOldest
        );
        assert_eq!(tx.dropped(), 1);
        assert_eq!(rx.recv().await.as_deref(), Some(&b"b"[..]));
        assert_eq!(rx.recv().await.as_deref(), Some(&b"c"[..]));
        tx.close();
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn close_delivers_queued_frames_first() {
        let (tx, mut rx) = audio_channel(4);
        tx.push(Bytes::from_static(b"x"));
        tx.close();
        assert_eq!(tx.push(Bytes::from_static(b"y")), PushOutcome::Closed);
        assert_eq!(rx.recv().await.as_deref(), Some(&b"x"[..]));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn dropped_receiver_closes_the_queue() {
        let (tx, rx) = audio_channel(4);
        drop(rx);
        assert_eq!(tx.push(Bytes::from_static(b"x")), PushOutcome::Closed);
    }
}
