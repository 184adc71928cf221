//! Harness for the hostile-input tests: a `VoiceServer` on 127.0.0.1 with an echo bot, a
//! healthy call that checks every frame comes back once and in order, and a check that the
//! server's tasks and registry return to their baseline afterwards.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod http;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use vr_session::{
    AudioTap, CallHandle, CallInfo, CallRegistry, DisconnectReason, MetricsSnapshot, VoiceSession,
};
use vr_twilio::server::{BotFn, ServerConfig, VoiceServer};

/// Generous bound on any single wait (the machine may be busy).
pub const T: Duration = Duration::from_secs(10);

/// The first frame the echo bot sends on every call, once its echo is wired: clients wait for it
/// before sending audio, so no frame can arrive before the bot listens.
pub const READY: [u8; 160] = [0x7E; 160];

/// What the echo bot saw of one call, recorded when the call ended.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The call's identifiers and custom parameters.
    pub info: CallInfo,
    /// The call's counters at its end.
    pub metrics: MetricsSnapshot,
    /// Why it ended.
    pub reason: DisconnectReason,
}

type Records = Arc<Mutex<HashMap<String, CallRecord>>>;

/// Copies caller frames to the echo bot.
struct EchoTap(mpsc::UnboundedSender<Bytes>);

impl AudioTap for EchoTap {
    fn caller(&self, frame: &[u8]) {
        let _ = self.0.send(Bytes::copy_from_slice(frame));
    }
    fn agent(&self, _: &[u8]) {}
    fn clear_agent(&self) {}
}

/// The bot: taps the call's caller audio through the registry, announces itself with
/// [`READY`], then sends every caller frame straight back until the call ends.
async fn echo(call: CallHandle, registry: Arc<CallRegistry>, records: Records) {
    let Some(info) = call.info() else { return };
    let Some(session) = registry.by_stream_sid(&info.stream_sid) else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    session.set_tap(Some(Arc::new(EchoTap(tx))));
    drop(session);
    let ended = call.ended_token();
    if call.send_audio(Bytes::from_static(&READY)).await.is_ok() {
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(frame) => if call.send_audio(frame).await.is_err() { break },
                    None => break,
                },
                () = ended.cancelled() => break,
            }
        }
    }
    let reason = call.wait_disconnected().await;
    records.lock().unwrap().insert(
        info.stream_sid.clone(),
        CallRecord {
            info,
            metrics: call.metrics(),
            reason,
        },
    );
}

/// A running server with its echo bot, and the runtime's task count before any call.
pub struct Harness {
    pub server: VoiceServer,
    pub addr: SocketAddr,
    baseline: usize,
    records: Records,
}

impl Harness {
    /// Starts a server with `config` on 127.0.0.1:0.
    pub async fn start(config: ServerConfig) -> Harness {
        let registry = CallRegistry::new();
        let records: Records = Arc::default();
        let (reg, rec) = (registry.clone(), records.clone());
        let bot = BotFn(move |call: CallHandle| echo(call, reg.clone(), rec.clone()));
        let server = VoiceServer::with_registry(
            config,
            Arc::new(bot),
            Arc::new(VoiceSession::new),
            registry,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = server.router();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let baseline = alive_tasks();
        Harness {
            server,
            addr,
            baseline,
            records,
        }
    }

    /// What the bot recorded for a stream, once that call has ended.
    pub fn record(&self, stream_sid: &str) -> Option<CallRecord> {
        self.records.lock().unwrap().get(stream_sid).cloned()
    }

    /// Tasks alive before any call.
    pub fn baseline(&self) -> usize {
        self.baseline
    }

    /// How many calls the bot saw end.
    pub fn records(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    /// Waits (bounded) until the task count is back to the baseline and no call is live.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let tasks = alive_tasks();
            let live = self.server.registry().len();
            if tasks == self.baseline && live == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not settle: {tasks} tasks alive (baseline {}), {live} calls live: {:?}",
                self.baseline,
                self.server.registry().stream_sids()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs one healthy call (stream `sid`) beside `hostile`: `hostile` starts once the healthy
    /// call is flowing (20 frames sent); the healthy call sends at least 150 uniquely numbered
    /// frames, keeps sending until `hostile` is over, and asserts that every frame came back
    /// exactly once and in order. Returns `hostile`'s output and the number of
    /// frames the healthy call sent. Then waits for the server to settle.
    pub async fn beside<F: std::future::Future>(
        &self,
        sid: &str,
        signature: Option<&str>,
        hostile: F,
    ) -> (F::Output, usize) {
        let done = AtomicBool::new(false);
        let progress = AtomicUsize::new(0);
        let healthy = ws::healthy_call(self.addr, "/voice", sid, signature, 150, &done, &progress);
        let hostile = async {
            let flowing = tokio::time::timeout(T, async {
                while progress.load(Ordering::SeqCst) < 20 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            assert!(flowing.await.is_ok(), "the healthy call never got going");
            let out = hostile.await;
            done.store(true, Ordering::SeqCst);
            out
        };
        let (sent, out) = tokio::join!(healthy, hostile);
        self.settle().await;
        let record = self.record(sid).expect("the healthy call was recorded");
        assert_eq!(record.metrics.frames_in, sent as u64, "healthy frames in");
        assert_eq!(
            record.reason,
            DisconnectReason::RemoteStop,
            "healthy call ended by its stop"
        );
        (out, sent)
    }
}

/// Tasks alive in the current runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A healthy frame: 160 bytes carrying its sequence number and a pattern derived from it.
pub fn frame(seq: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(160);
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((0..152u8).map(|k| k.wrapping_mul(7).wrapping_add(seq as u8)));
    f
}
