//! The per-call driver task: the speech-to-text lifecycle, transcript routing through the echo
//! gate, and speaking notifications. It ends with the call.
//!
//! Order on connect: build the primary (and, with a secondary factory, the tee), emit
//! `SttReady`, run `on_stt_ready`, then start. Order on disconnect: stop the provider (bounded),
//! then exit. A failed build or start becomes an `SttError` event and `on_error`; teardown
//! still runs (W11).

use std::sync::Arc;

use tokio::time::Instant;

use crate::core::CallCore;
use crate::counters::ErrorKind;
use crate::events::{SessionEvent, SttSource, Transcript, TranscriptKind};
use crate::hooks::{Hooks, guarded};
use crate::inbound::AudioReceiver;
use crate::stt::{SourcedSttEvent, SttEvent, SttEventSink, SttProvider};
use crate::tee::SttTee;

pub(crate) async fn run(core: Arc<CallCore>, audio: AudioReceiver) {
    let config = core.config();
    let Some(factory) = config.stt_factory.clone() else {
        // No recogniser: nobody reads caller audio, so stop queueing it.
        drop(audio);
        return;
    };
    let mut provider: Box<dyn SttProvider> = match factory() {
        Ok(p) => p,
        Err(e) => {
            report_error(&core, SttSource::Primary, &e.to_string());
            return;
        }
    };
    if let Some(secondary_factory) = config.stt_secondary_factory.clone() {
        match secondary_factory() {
            Ok(secondary) => provider = Box::new(SttTee::new(provider, secondary)),
            Err(e) => report_error(&core, SttSource::Secondary, &e.to_string()),
        }
    }
    core.emit(SessionEvent::SttReady(SttSource::Primary));
    if let Some(hook) = &config.hooks.on_stt_ready {
        guarded("on_stt_ready", || hook(provider.as_ref()));
    }
    let (sink, mut events) = SttEventSink::channel(SttSource::Primary);
    let started = tokio::select! {
        r = provider.start(audio, sink) => Some(r),
        _ = core.ended.cancelled() => None,
    };
    if let Some(Err(e)) = &started {
        report_error(&core, SttSource::Primary, &e.to_string());
    }
    if started.is_some() {
        route_until_ended(&core, provider.as_ref(), &mut events).await;
    }
    let stopped = tokio::time::timeout(config.stt_stop_timeout, provider.stop()).await;
    if stopped.is_err() {
        let _g = core.span.enter();
        tracing::warn!(provider = provider.name(), "stt stop timed out");
    }
}

async fn route_until_ended(
    core: &CallCore,
    provider: &dyn SttProvider,
    events: &mut tokio::sync::mpsc::Receiver<SourcedSttEvent>,
) {
    let mut speaking = false;
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => route(core, ev),
                // Every sink is gone: the provider has nothing more to say.
                None => { core.ended.cancelled().await; return; }
            },
            _ = core.gate_changed.notified() => {}
            _ = sleep_until(deadline) => {}
            _ = core.ended.cancelled() => return,
        }
        let now = Instant::now();
        let (now_speaking, until) = {
            let st = core.state();
            (st.clock.is_speaking(now), st.clock.speaking_until())
        };
        if now_speaking != speaking {
            speaking = now_speaking;
            guarded("set_speaking", || provider.set_speaking(speaking));
        }
        deadline = if speaking { until } else { None };
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn report_error(core: &CallCore, source: SttSource, error: &str) {
    {
        let _g = core.span.enter();
        tracing::warn!(?source, error, "speech-to-text error");
    }
    core.count(|c| c.count_error(ErrorKind::Stt));
    core.emit(SessionEvent::SttError {
        source,
        error: error.to_owned(),
    });
    if source == SttSource::Primary {
        Hooks::text(&core.config().hooks.on_error, "on_error", error);
    }
}

/// Routes one provider event through the echo gate to the bot.
fn route(core: &CallCore, ev: SourcedSttEvent) {
    let (text, kind) = match ev.event {
        SttEvent::Partial(t) => (t, TranscriptKind::Partial),
        SttEvent::Committed(t) => (t, TranscriptKind::Committed),
        SttEvent::Error(e) => return report_error(core, ev.source, &e),
    };
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let now = Instant::now();
    if kind == TranscriptKind::Committed {
        let delay = now.saturating_duration_since(ev.at);
        tracing::trace!(
            commit_to_event_us = delay.as_micros() as u64,
            "transcript routed"
        );
        if let Some(latency) = &core.config().latency {
            latency.commit_to_event.record(delay);
        }
    }
    let (in_window, playing) = {
        let st = core.state();
        (st.clock.in_echo_window(now), st.clock.is_playing(now))
    };
    core.emit(SessionEvent::Transcript(Transcript {
        text: text.to_owned(),
        kind,
        source: ev.source,
        during_playback: in_window,
    }));
    if ev.source != SttSource::Primary {
        return;
    }
    let config = core.config();
    let hooks = &config.hooks;
    match kind {
        // B54: committed text inside the echo window is not passed to the callback.
        TranscriptKind::Committed if !in_window => {
            Hooks::text(&hooks.on_committed, "on_committed", text)
        }
        TranscriptKind::Committed => {
            let _g = core.span.enter();
            tracing::info!(text, "discarding echo committed");
        }
        // B55: partials are dropped only while speaking; the window does not apply.
        TranscriptKind::Partial if !playing => {
            Hooks::text(&hooks.on_recognizing, "on_recognizing", text)
        }
        TranscriptKind::Partial => {}
    }
}
