//! The one task a provider runs per call: it owns the audio receiver, the feed, the socket
//! and the reconnect policy, and it is the only place events are emitted from (so both
//! providers deliver events on the same task model).
//!
//! What differs between providers is behind [`Protocol`]: how to open a connection, how a
//! frame is framed, and what a service message means. The loop below decides what to do
//! about it:
//!
//! - a reconnect-class fault (service error of that class, close, dropped socket, failed or
//!   stalled send) closes the socket and reconnects with [`Backoff`](crate::Backoff); frames
//!   keep flowing into the feed meanwhile and are replayed, paced, on the new socket; after
//!   `max_attempts` failures the sink hears `reconnect_exhausted_after_N_attempts` once;
//! - a terminal fault goes to the sink once and ends the task;
//! - a planned refresh (ElevenLabs after long speaking) reconnects at once, with the backoff
//!   loop as fallback;
//! - cancellation (stop) closes the socket normally and ends the task, wherever it is; a send
//!   stuck on a socket the service no longer reads is abandoned at once (no close handshake
//!   can get through it) rather than held until the send timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::{Message, protocol::CloseFrame};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, warn};
use vr_session::{AudioReceiver, SttError, SttEventSink};

use crate::feed::{Feed, FeedOptions, Pushed};
use crate::stats::{Counters, TaskGuard};
use crate::ws::{self, DialClass, Dialer, Ws};
use crate::{AUDIO_BUFFER_OVERFLOW, Backoff};

/// What the loop should do after a service message.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing more.
    Continue,
    /// Send these messages (in order) now.
    #[cfg_attr(not(feature = "azure"), allow(dead_code))]
    Send(Vec<Message>),
    /// A reconnect-class fault; the string is for logs.
    Reconnect(String),
    /// A terminal fault; the string goes to the sink.
    Terminal(String),
}

/// The provider-specific half of a connection.
pub(crate) trait Protocol: Send + 'static {
    /// The upgrade request of a new connection (credentials included).
    fn request(&mut self) -> Result<http::Request<()>, String>;
    /// Messages to send as soon as a connection is open.
    fn opening(&mut self) -> Vec<Message>;
    /// Messages carrying one μ-law frame (possibly none, e.g. while a resampler fills).
    fn audio(&mut self, frame: &[u8]) -> Vec<Message>;
    /// Messages that end the audio stream.
    fn end_of_audio(&mut self) -> Vec<Message>;
    /// A text message from the service. `audio_finished` is true once the end of the audio
    /// has been sent on this connection.
    fn on_text(&mut self, text: &str, sink: &SttEventSink, audio_finished: bool) -> Step;
    /// The service closed the socket (`None`: it went away without a close frame).
    fn on_close(&mut self, frame: Option<&CloseFrame>) -> Step;
}

/// Timeouts and policies of the loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) feed: FeedOptions,
}

/// Requests from the provider handle to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// Close the socket and open a fresh one now (audio is held meanwhile).
    #[cfg_attr(not(feature = "elevenlabs"), allow(dead_code))]
    Refresh,
}

/// How a connection ended.
#[derive(Debug)]
enum ConnEnd {
    Stopped,
    /// Stopped while a send was waiting on a backed-up socket: no close handshake can get
    /// through, so the socket is dropped at once.
    Abandoned,
    /// Audio is over, everything was sent, and the socket went away: nothing left to do.
    Finished,
    Fault {
        reason: String,
        planned: bool,
    },
    Terminal(String),
}

/// Why a send did not complete.
#[derive(Debug)]
enum SendError {
    /// `stop()` was asked for while the send waited.
    Stopped,
    /// The send failed, or stalled past the send timeout (a reconnect-class fault).
    Failed(String),
}

/// The outcome of one connection attempt.
enum Attempt {
    Connected(Ws),
    Failed(String),
    Terminal(String),
    Stopped,
}

/// The running task's handle, owned by the provider.
#[derive(Debug)]
pub(crate) struct Worker {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    #[cfg_attr(not(feature = "elevenlabs"), allow(dead_code))]
    control: mpsc::Sender<Control>,
}

impl Worker {
    /// Asks for a planned reconnect; false if the task is gone or already has one queued.
    #[cfg_attr(not(feature = "elevenlabs"), allow(dead_code))]
    pub(crate) fn refresh(&self) -> bool {
        self.control.try_send(Control::Refresh).is_ok()
    }

    /// Cancels the task and waits for it (bounded); aborts it if it does not finish in time.
    pub(crate) async fn stop(self, bound: Duration) {
        self.cancel.cancel();
        let mut handle = self.handle;
        if tokio::time::timeout(bound, &mut handle).await.is_err() {
            warn!("stt task did not stop in {bound:?}; aborting it");
            handle.abort();
            let _ = tokio::time::timeout(Duration::from_millis(500), handle).await;
        }
    }
}

/// Connects (bounded by the connect timeout) and spawns the provider's task.
///
/// Deliberate deviation from B51 (the original drained the queue at start): its queue
/// outlived calls, so what was queued could be another call's audio. Here the receiver is
/// created per call at connect (and the tee fans out before starting providers so neither
/// misses audio), so everything queued is this caller's speech and is kept.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start<P: Protocol>(
    name: &'static str,
    mut protocol: P,
    settings: Settings,
    audio: AudioReceiver,
    sink: SttEventSink,
    dialer: Dialer,
    counters: Arc<Counters>,
) -> Result<Worker, SttError> {
    let request = protocol.request().map_err(SttError::Config)?;
    let ws = ws::dial(&dialer, request, settings.connect_timeout)
        .await
        .map_err(|e| {
            warn!(provider = name, error = %e, "stt connect failed");
            e.to_stt_error()
        })?;
    counters.connections.fetch_add(1, Ordering::Relaxed);
    info!(provider = name, "stt connected");

    let cancel = CancellationToken::new();
    let (control_tx, control_rx) = mpsc::channel(4);
    let runner = Runner {
        name,
        protocol,
        settings,
        audio,
        audio_open: true,
        end_sent: false,
        feed: Feed::new(settings.feed, Instant::now()),
        sink,
        cancel: cancel.clone(),
        control: control_rx,
        control_open: true,
        dialer,
        rng: StdRng::from_entropy(),
        counters: counters.clone(),
    };
    let guard = TaskGuard::new(counters);
    let span = tracing::info_span!("stt", provider = name);
    let handle = tokio::spawn(
        async move {
            let _guard = guard;
            runner.run(ws).await;
        }
        .instrument(span),
    );
    Ok(Worker {
        cancel,
        handle,
        control: control_tx,
    })
}

struct Runner<P> {
    name: &'static str,
    protocol: P,
    settings: Settings,
    audio: AudioReceiver,
    audio_open: bool,
    end_sent: bool,
    feed: Feed,
    sink: SttEventSink,
    cancel: CancellationToken,
    control: mpsc::Receiver<Control>,
    control_open: bool,
    dialer: Dialer,
    rng: StdRng,
    counters: Arc<Counters>,
}

impl<P: Protocol> Runner<P> {
    async fn run(mut self, mut ws: Ws) {
        loop {
            match self.drive(&mut ws).await {
                ConnEnd::Stopped => {
                    ws::close(&mut ws, "call ended", self.settings.close_timeout, true).await;
                    info!(
                        provider = self.name,
                        dropped = self.counters.frames_dropped.load(Ordering::Relaxed),
                        "stt stopped"
                    );
                    return;
                }
                ConnEnd::Abandoned => {
                    info!(
                        provider = self.name,
                        "stt stopped during a stuck send; socket dropped without a close"
                    );
                    return;
                }
                ConnEnd::Finished => {
                    ws::close(&mut ws, "end of audio", self.settings.close_timeout, true).await;
                    info!(provider = self.name, "stt finished: audio ended");
                    return;
                }
                ConnEnd::Terminal(reason) => {
                    error!(provider = self.name, %reason, "stt terminal error");
                    self.sink.error(reason);
                    ws::close(
                        &mut ws,
                        "terminal error",
                        self.settings.close_timeout,
                        false,
                    )
                    .await;
                    return;
                }
                ConnEnd::Fault { reason, planned } => {
                    if planned {
                        info!(provider = self.name, "stt planned reconnect");
                    } else {
                        warn!(provider = self.name, %reason, "stt connection fault; reconnecting");
                    }
                    let bound = self.settings.close_timeout.min(Duration::from_millis(500));
                    ws::close(&mut ws, "reconnecting", bound, false).await;
                    match self.reconnect(planned).await {
                        Ok(new) => {
                            ws = new;
                            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                            while self.control.try_recv().is_ok() {}
                            info!(
                                provider = self.name,
                                held = self.feed.len(),
                                "stt reconnected; replaying held audio"
                            );
                        }
                        Err(None) => {
                            info!(provider = self.name, "stt stopped while reconnecting");
                            return;
                        }
                        Err(Some(reason)) => {
                            error!(provider = self.name, %reason, "stt reconnect gave up");
                            self.sink.error(reason);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Runs one connection until it ends.
    async fn drive(&mut self, ws: &mut Ws) -> ConnEnd {
        self.end_sent = false;
        for message in self.protocol.opening() {
            match self.send(ws, message).await {
                Ok(()) => {}
                Err(SendError::Stopped) => return ConnEnd::Abandoned,
                Err(SendError::Failed(reason)) => {
                    return ConnEnd::Fault {
                        reason,
                        planned: false,
                    };
                }
            }
        }
        loop {
            if !self.audio_open && self.feed.is_empty() && !self.end_sent {
                for message in self.protocol.end_of_audio() {
                    if let Err(e) = self.send(ws, message).await {
                        return self.send_failed(e);
                    }
                }
                self.end_sent = true;
                debug!(provider = self.name, "end of audio sent");
            }
            let ready_at = self.feed.ready_at();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return ConnEnd::Stopped,
                control = self.control.recv(), if self.control_open => match control {
                    Some(Control::Refresh) => {
                        if self.is_done() {
                            continue;
                        }
                        return ConnEnd::Fault { reason: "refresh".into(), planned: true };
                    }
                    None => self.control_open = false,
                },
                message = ws.next() => {
                    let step = match message {
                        Some(Ok(Message::Text(text))) => {
                            self.protocol.on_text(text.as_str(), &self.sink, self.end_sent)
                        }
                        Some(Ok(Message::Close(frame))) => self.protocol.on_close(frame.as_ref()),
                        Some(Ok(Message::Binary(data))) => {
                            debug!(provider = self.name, len = data.len(), "ignoring binary message");
                            Step::Continue
                        }
                        Some(Ok(_)) => Step::Continue,
                        Some(Err(e)) => Step::Reconnect(format!("socket error: {e}")),
                        None => self.protocol.on_close(None),
                    };
                    match step {
                        Step::Continue => {}
                        Step::Send(messages) => {
                            for message in messages {
                                if let Err(e) = self.send(ws, message).await {
                                    return self.send_failed(e);
                                }
                            }
                        }
                        Step::Reconnect(reason) => return self.fault(reason),
                        Step::Terminal(reason) => return ConnEnd::Terminal(reason),
                    }
                }
                frame = self.audio.recv(), if self.audio_open => self.on_audio(frame),
                () = sleep_until(ready_at.unwrap_or_else(Instant::now)), if ready_at.is_some() => {
                    if let Some(frame) = self.feed.pop_ready(Instant::now()) {
                        for message in self.protocol.audio(&frame) {
                            if let Err(e) = self.send(ws, message).await {
                                self.hold_front(frame);
                                return self.send_failed(e);
                            }
                        }
                        self.counters.frames_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Whether the audio is over and everything has been sent.
    fn is_done(&self) -> bool {
        !self.audio_open && self.feed.is_empty()
    }

    fn fault(&self, reason: String) -> ConnEnd {
        if self.is_done() {
            debug!(provider = self.name, %reason, "connection ended after the audio");
            ConnEnd::Finished
        } else {
            ConnEnd::Fault {
                reason,
                planned: false,
            }
        }
    }

    fn send_failed(&self, error: SendError) -> ConnEnd {
        match error {
            SendError::Stopped => ConnEnd::Abandoned,
            SendError::Failed(reason) => self.fault(reason),
        }
    }

    /// Sends one message, bounded by the send timeout. Races `stop()`: a send blocked on a
    /// socket the service no longer reads must not hold the task until the timeout.
    async fn send(&mut self, ws: &mut Ws, message: Message) -> Result<(), SendError> {
        let timeout = self.settings.send_timeout;
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(SendError::Stopped),
            sent = tokio::time::timeout(timeout, ws.send(message)) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SendError::Failed(format!("send failed: {e}"))),
                Err(_) => Err(SendError::Failed(format!("send stalled for {timeout:?}"))),
            },
        }
    }

    fn on_audio(&mut self, frame: Option<Bytes>) {
        match frame {
            Some(frame) => {
                let pushed = self.feed.push(frame);
                self.note(pushed);
            }
            None => {
                debug!(provider = self.name, "audio stream ended");
                self.audio_open = false;
            }
        }
    }

    fn hold_front(&mut self, frame: Bytes) {
        let pushed = self.feed.push_front(frame);
        self.note(pushed);
    }

    fn note(&mut self, pushed: Pushed) {
        if let Pushed::DroppedOldest { first, total } = pushed {
            self.counters.frames_dropped.store(total, Ordering::Relaxed);
            if first {
                warn!(
                    provider = self.name,
                    "stt holding buffer full: dropping the oldest audio"
                );
                self.sink.error(AUDIO_BUFFER_OVERFLOW);
            } else if total % 500 == 0 {
                warn!(
                    provider = self.name,
                    dropped = total,
                    "stt audio frames dropped"
                );
            }
        }
    }

    /// Reconnects, holding audio meanwhile. `Err(None)`: stopped; `Err(Some(reason))`:
    /// gave up for this reason.
    async fn reconnect(&mut self, planned: bool) -> Result<Ws, Option<String>> {
        if planned {
            match self.attempt().await {
                Attempt::Connected(ws) => return Ok(ws),
                Attempt::Stopped => return Err(None),
                Attempt::Terminal(reason) => return Err(Some(reason)),
                Attempt::Failed(e) => {
                    warn!(provider = self.name, error = %e, "planned reconnect failed; backing off");
                }
            }
        }
        let backoff = self.settings.backoff;
        for attempt in 0..backoff.max_attempts {
            let delay = backoff.delay(attempt, self.rng.r#gen::<f64>());
            info!(
                provider = self.name,
                attempt = attempt + 1,
                of = backoff.max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "stt reconnect scheduled"
            );
            if !self.wait(delay).await {
                return Err(None);
            }
            match self.attempt().await {
                Attempt::Connected(ws) => return Ok(ws),
                Attempt::Stopped => return Err(None),
                Attempt::Terminal(reason) => return Err(Some(reason)),
                Attempt::Failed(e) => {
                    warn!(provider = self.name, attempt = attempt + 1, error = %e, "stt reconnect failed");
                }
            }
        }
        Err(Some(backoff.exhausted_reason()))
    }

    /// Waits `delay` while holding audio; false if stopped.
    async fn wait(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return false,
                () = sleep_until(deadline) => return true,
                frame = self.audio.recv(), if self.audio_open => self.on_audio(frame),
            }
        }
    }

    /// One connection attempt, holding audio meanwhile.
    async fn attempt(&mut self) -> Attempt {
        let request = match self.protocol.request() {
            Ok(request) => request,
            Err(e) => return Attempt::Terminal(format!("invalid_configuration: {e}")),
        };
        let dialer = self.dialer.clone();
        let dial = ws::dial(&dialer, request, self.settings.connect_timeout);
        tokio::pin!(dial);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Attempt::Stopped,
                result = &mut dial => {
                    return match result {
                        Ok(ws) => {
                            self.counters.connections.fetch_add(1, Ordering::Relaxed);
                            Attempt::Connected(ws)
                        }
                        Err(e) => match e.class() {
                            DialClass::Retry => Attempt::Failed(e.to_string()),
                            DialClass::Terminal(reason) => {
                                warn!(provider = self.name, error = %e, "stt reconnect refused");
                                Attempt::Terminal(reason)
                            }
                        },
                    };
                }
                frame = self.audio.recv(), if self.audio_open => self.on_audio(frame),
            }
        }
    }
}
