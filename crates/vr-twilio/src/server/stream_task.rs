//! One Media Streams socket from `connected` to close: a thin loop around the protocol core
//! ([`StreamState`]) and the session ([`TransportLink`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;
use vr_session::{CallInfo, DisconnectReason, Outbound, TransportLink};

use super::VoiceServer;
use crate::stream::{
    IgnoreReason, Ignored, StartInfo, StreamEvent, StreamLimits, StreamState, Track,
};

type HangupFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Server-wide counters, readable for metrics and tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    streams_opened: AtomicU64,
    streams_closed: AtomicU64,
    idle_timeouts: AtomicU64,
    signature_rejections: AtomicU64,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    ignored: [AtomicU64; IgnoreReason::ALL.len()],
}

impl ServerStats {
    /// Websocket streams accepted so far.
    pub fn streams_opened(&self) -> u64 {
        self.streams_opened.load(Ordering::Relaxed)
    }
    /// Websocket streams finished so far.
    pub fn streams_closed(&self) -> u64 {
        self.streams_closed.load(Ordering::Relaxed)
    }
    /// Streams ended by the idle timeout.
    pub fn idle_timeouts(&self) -> u64 {
        self.idle_timeouts.load(Ordering::Relaxed)
    }
    /// Requests refused for a bad signature.
    pub fn signature_rejections(&self) -> u64 {
        self.signature_rejections.load(Ordering::Relaxed)
    }
    /// Inbound caller audio frames handed to sessions.
    pub fn frames_in(&self) -> u64 {
        self.frames_in.load(Ordering::Relaxed)
    }
    /// Outbound `media` messages written to sockets.
    pub fn frames_out(&self) -> u64 {
        self.frames_out.load(Ordering::Relaxed)
    }
    pub(crate) fn signature_rejected(&self) {
        self.signature_rejections.fetch_add(1, Ordering::Relaxed);
    }
    /// Inbound frames ignored, by reason.
    pub fn ignored(&self, reason: IgnoreReason) -> u64 {
        self.ignored[reason.index()].load(Ordering::Relaxed)
    }
    fn count_ignored(&self, reason: IgnoreReason) {
        self.ignored[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Outbound messages written before one flush.
const MAX_BATCH: usize = 32;

/// Why the loop ended, and whether we still have to close the socket.
struct Ending {
    reason: DisconnectReason,
    close_socket: bool,
}

pub(crate) async fn run(server: VoiceServer, socket: WebSocket, route: Option<String>) {
    let stats = &server.inner.stats;
    stats.streams_opened.fetch_add(1, Ordering::Relaxed);
    // Not split: a split socket puts a lock between reader and writer on every frame, and the
    // loop below never reads and writes at the same time anyway.
    let mut socket = socket;
    let mut proto = StreamState::new(StreamLimits {
        max_message_bytes: server.inner.config.max_message_bytes,
    });
    if let Some(start) = await_start(&server, &mut socket, &mut proto).await {
        carry_call(&server, socket, proto, start, route).await;
    }
    stats.streams_closed.fetch_add(1, Ordering::Relaxed);
}

/// Reads until `start`; `None` when the peer left, stopped, or stayed silent too long.
async fn await_start(
    server: &VoiceServer,
    socket: &mut WebSocket,
    proto: &mut StreamState,
) -> Option<StartInfo> {
    // One deadline for the whole wait: pings or junk before `start` do not keep it alive.
    let deadline = Instant::now() + server.inner.config.idle_timeout;
    loop {
        let msg = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => {
                server
                    .inner
                    .stats
                    .idle_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!("stream sent nothing within the idle timeout; closing");
                close(socket).await;
                return None;
            }
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(msg))) => msg,
        };
        let event = match msg {
            Message::Text(text) => proto.handle_text(text.as_str()),
            Message::Binary(data) => proto.handle_binary(data.len()),
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        match event {
            StreamEvent::Started(start) => return Some(start),
            StreamEvent::Ignored(ignored) => log_ignored(server, None, &ignored),
            _ => {}
        }
    }
}

fn log_ignored(server: &VoiceServer, link: Option<&TransportLink>, ignored: &Ignored) {
    server.inner.stats.count_ignored(ignored.reason);
    if ignored.first {
        let _g = link.map(|l| l.span().enter());
        tracing::warn!(reason = ?ignored.reason, error = ?ignored.error, "ignored an inbound frame (logged once per reason per call)");
    }
}

fn call_info(start: &StartInfo, route: Option<&str>) -> CallInfo {
    let custom_parameters: BTreeMap<String, String> =
        start.custom_parameters.iter().cloned().collect();
    CallInfo {
        call_sid: start.call_sid.clone(),
        stream_sid: start.stream_sid.clone(),
        account_sid: start.account_sid.clone(),
        caller: start.parameter("From").map(str::to_owned),
        custom_parameters,
        route: route.map(str::to_owned),
    }
}

async fn carry_call(
    server: &VoiceServer,
    mut socket: WebSocket,
    mut proto: StreamState,
    start: StartInfo,
    route: Option<String>,
) {
    let inner = &server.inner;
    let session = inner
        .registry
        .take_pending(start.call_sid.as_deref(), route.as_deref())
        .unwrap_or_else(|| (inner.sessions)());
    let link = match session.attach(call_info(&start, route.as_deref())) {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(error = %e, "cannot attach the stream to its session");
            close(&mut socket).await;
            return;
        }
    };
    let Some(_live) = inner.registry.insert_live(
        &start.stream_sid,
        start.call_sid.as_deref(),
        session.clone(),
    ) else {
        link.close(DisconnectReason::Shutdown).await;
        close(&mut socket).await;
        return;
    };
    let span = link.span().clone();
    let mut bot = tokio::spawn(inner.bot.run(link.call()).instrument(span.clone()));
    let ending = pump(server, &mut socket, &mut proto, &link)
        .instrument(span.clone())
        .await;
    if ending.close_socket {
        close(&mut socket).await;
    }
    link.close(ending.reason).await;
    if tokio::time::timeout(inner.config.bot_grace, &mut bot)
        .await
        .is_err()
    {
        bot.abort();
        let _ = bot.await;
    }
}

/// The call's main loop: inbound frames to the session, session output to the socket, the
/// REST-first hang-up, and the idle timeout.
async fn pump(
    server: &VoiceServer,
    socket: &mut WebSocket,
    proto: &mut StreamState,
    link: &TransportLink,
) -> Ending {
    let config = &server.inner.config;
    let call_sid = link.info().and_then(|i| i.call_sid);
    let mut buf = String::with_capacity(512);
    // One timer for the whole call, re-armed only when it fires early: creating a timer per
    // message would cost a timer-wheel insert and removal on every frame.
    let mut last_activity = Instant::now();
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    let mut hangup: Option<HangupFuture> = None;
    let mut close_deadline: Option<Instant> = None;
    let mut hanging_up = false;
    let remote = |hanging_up: bool, fallback: DisconnectReason| {
        if hanging_up {
            DisconnectReason::HangupRequested
        } else {
            fallback
        }
    };
    // One wait for outbound messages, kept across iterations and renewed only when it yields:
    // a fresh wait per inbound frame would register with the call's notifier and lock its
    // queue each time for nothing.
    let next_out = link.next_outbound();
    tokio::pin!(next_out);
    loop {
        tokio::select! {
            msg = socket.next() => {
                let msg = match msg {
                    Some(Ok(msg)) => msg,
                    _ => return Ending { reason: remote(hanging_up, DisconnectReason::TransportClosed), close_socket: false },
                };
                last_activity = Instant::now();
                let event = match msg {
                    Message::Text(text) => proto.handle_text(text.as_str()),
                    Message::Binary(data) => proto.handle_binary(data.len()),
                    Message::Close(_) => return Ending { reason: remote(hanging_up, DisconnectReason::TransportClosed), close_socket: false },
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                match event {
                    StreamEvent::Audio(frame) if frame.track != Track::Outbound => {
                        server.inner.stats.frames_in.fetch_add(1, Ordering::Relaxed);
                        link.push_inbound(frame.audio);
                    }
                    StreamEvent::Audio(_) | StreamEvent::Connected { .. } | StreamEvent::Started(_) => {}
                    StreamEvent::Dtmf(digit) => link.dtmf(&digit),
                    StreamEvent::MarkEcho(name) => link.mark_echoed(&name),
                    StreamEvent::Stopped => return Ending { reason: remote(hanging_up, DisconnectReason::RemoteStop), close_socket: false },
                    StreamEvent::Ignored(ignored) => log_ignored(server, Some(link), &ignored),
                }
            }
            out = &mut next_out => {
                next_out.set(link.next_outbound());
                // Whatever else is already queued goes out with it: one flush (one syscall)
                // for a burst of TTS frames instead of one per frame.
                let mut out = out;
                let mut batched = 0;
                let mut ending = None;
                loop {
                    buf.clear();
                    let mut media = false;
                    let built = match out.take() {
                        Some(Outbound::Media(audio)) => {
                            media = true;
                            proto.media(&audio, &mut buf)
                        }
                        Some(Outbound::Mark(name)) => proto.mark(&name, &mut buf),
                        Some(Outbound::Clear) => proto.clear(&mut buf),
                        Some(Outbound::Hangup) => {
                            hanging_up = true;
                            match (&server.inner.ender, &call_sid) {
                                (Some(ender), Some(sid)) => {
                                    let ender = ender.clone();
                                    let sid = sid.clone();
                                    hangup = Some(Box::pin(async move { ender.end_call(&sid).await }));
                                }
                                // B144: no REST possible, so close the stream ourselves.
                                _ => ending = Some(Ending { reason: DisconnectReason::HangupRequested, close_socket: true }),
                            }
                            break;
                        }
                        None => {
                            ending = Some(Ending { reason: DisconnectReason::Other("ended by the session".into()), close_socket: true });
                            break;
                        }
                    };
                    if built.is_ok() {
                        if let Err(e) = socket.feed(Message::Text(std::mem::take(&mut buf).into())).await {
                            // B101: a failed send ends the call cleanly.
                            return Ending { reason: DisconnectReason::SendFailed(e.to_string()), close_socket: false };
                        }
                        if media {
                            server.inner.stats.frames_out.fetch_add(1, Ordering::Relaxed);
                        }
                        batched += 1;
                    }
                    if batched >= MAX_BATCH {
                        break;
                    }
                    match link.try_next_outbound() {
                        Some(next) => out = Some(next),
                        None => break,
                    }
                }
                if let Err(e) = SinkExt::flush(socket).await {
                    return Ending { reason: DisconnectReason::SendFailed(e.to_string()), close_socket: false };
                }
                if let Some(ending) = ending {
                    return ending;
                }
            }
            result = poll_hangup(&mut hangup), if hangup.is_some() => {
                hangup = None;
                match result {
                    Ok(()) => close_deadline = Some(Instant::now() + config.rest_close_wait),
                    Err(e) => {
                        tracing::warn!("REST hangup failed ({e}) — falling back to WS close");
                        return Ending { reason: DisconnectReason::HangupRequested, close_socket: true };
                    }
                }
            }
            _ = sleep_until(close_deadline), if close_deadline.is_some() => {
                tracing::warn!("Twilio did not close the stream after the REST hang-up; closing it");
                return Ending { reason: DisconnectReason::HangupRequested, close_socket: true };
            }
            () = &mut idle => {
                let deadline = last_activity + config.idle_timeout;
                if deadline > Instant::now() {
                    idle.as_mut().reset(deadline);
                    continue;
                }
                server.inner.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                return Ending { reason: DisconnectReason::IdleTimeout, close_socket: true };
            }
        }
    }
}

async fn poll_hangup(hangup: &mut Option<HangupFuture>) -> Result<(), String> {
    match hangup {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Closes the socket with 1000, bounded so a dead peer cannot hold the task.
async fn close(socket: &mut WebSocket) {
    let frame = CloseFrame {
        code: 1000,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}
