//! Test doubles shared by the session tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use vr_session::{
    AudioReceiver, CallHandle, CallInfo, Outbound, SpeakOutcome, SttError, SttEventSink,
    SttProvider, TransportLink, TtsProvider, Utterance,
};

pub fn info(stream_sid: &str) -> CallInfo {
    CallInfo {
        call_sid: Some(format!("CA{stream_sid}")),
        stream_sid: stream_sid.to_owned(),
        ..Default::default()
    }
}

/// Drains everything the session has queued, without waiting.
pub fn drain(link: &TransportLink) -> Vec<Outbound> {
    let mut out = Vec::new();
    while let Some(item) = link.try_next_outbound() {
        out.push(item);
    }
    out
}

/// Plays Twilio's side: takes outbound items and echoes marks at once.
pub fn spawn_echoing_transport(link: Arc<TransportLink>) -> tokio::task::JoinHandle<Vec<Outbound>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(item) = link.next_outbound().await {
            if let Outbound::Mark(name) = &item {
                link.mark_echoed(name);
            }
            seen.push(item);
        }
        seen
    })
}

/// Records what the session does to a provider.
#[derive(Default, Debug)]
pub struct SttProbe {
    pub started: AtomicUsize,
    pub stopped: AtomicUsize,
    pub speaking: Mutex<Vec<bool>>,
    pub frames: AtomicUsize,
    pub sink: Mutex<Option<SttEventSink>>,
    pub running: AtomicBool,
}

/// A scripted provider: reads audio, lets the test emit events through the probe's sink.
#[derive(Debug)]
pub struct FakeStt {
    pub probe: Arc<SttProbe>,
    pub fail_start: bool,
    task: Option<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
}

impl FakeStt {
    pub fn new(probe: Arc<SttProbe>, fail_start: bool) -> Self {
        Self {
            probe,
            fail_start,
            task: None,
            stop: CancellationToken::new(),
        }
    }
}

#[async_trait]
impl SttProvider for FakeStt {
    fn name(&self) -> &str {
        "fake"
    }
    async fn start(
        &mut self,
        mut audio: AudioReceiver,
        events: SttEventSink,
    ) -> Result<(), SttError> {
        self.probe.started.fetch_add(1, Ordering::SeqCst);
        if self.fail_start {
            return Err(SttError::Connect("refused".into()));
        }
        *self.probe.sink.lock().unwrap() = Some(events);
        let probe = self.probe.clone();
        let stop = self.stop.clone();
        probe.running.store(true, Ordering::SeqCst);
        self.task = Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    f = audio.recv() => match f {
                        Some(_) => { probe.frames.fetch_add(1, Ordering::SeqCst); }
                        None => break,
                    },
                    _ = stop.cancelled() => break,
                }
            }
            probe.running.store(false, Ordering::SeqCst);
        }));
        Ok(())
    }
    fn set_speaking(&self, speaking: bool) {
        self.probe.speaking.lock().unwrap().push(speaking);
    }
    async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.probe.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A provider that makes `bytes_per_char` bytes of audio per character, in odd-sized chunks,
/// pausing `chunk_delay` between chunks.
#[derive(Debug)]
pub struct ToneTts {
    pub bytes_per_char: usize,
    pub chunk: usize,
    pub chunk_delay: Duration,
}

#[async_trait]
impl TtsProvider for ToneTts {
    fn name(&self) -> &str {
        "tone"
    }
    async fn speak(
        &self,
        text: &str,
        call: &CallHandle,
        cancel: CancellationToken,
    ) -> SpeakOutcome {
        let mut utt = match Utterance::begin(call, text, cancel) {
            Ok(u) => u,
            Err(done) => return done,
        };
        let total = text.chars().count() * self.bytes_per_char;
        let audio = vec![0x55u8; total];
        for chunk in audio.chunks(self.chunk) {
            if !self.chunk_delay.is_zero() {
                tokio::time::sleep(self.chunk_delay).await;
            }
            if let Err(halt) = utt.push(chunk).await {
                return utt.stop(halt);
            }
        }
        utt.finish().await
    }
}
