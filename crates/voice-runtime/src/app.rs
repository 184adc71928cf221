//! The server behind `vr serve`, as a library: the Twilio routes of
//! [`VoiceServer`] with a built-in bot, plus `GET /healthz`,
//! `GET /metrics` and, when the recogniser is the mock, `POST /test/inject[/{key}]`.
//!
//! Mount [`App::router`] in your own axum app or serve it with [`serve`]; either way
//! [`App::shutdown`] ends live calls gracefully and finalises recordings.

mod inject;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use vr_mock::{MockStt, Script};
use vr_session::{ServerCounters, ShutdownReport, SttProvider, TurnLatency, VoiceSession};
use vr_twilio::rest::TwilioRestClient;
use vr_twilio::server::{Bot, RestCallEnder, ServerConfig, SessionFactory, VoiceServer};

use crate::bots::{DemoBot, EchoBot};
use crate::conversation::Observer;
use crate::factory::{FactoryError, SttKind, TtsKind, create_tts_with, stt_factory_with};
use crate::recording::Recorder;

pub use inject::Injectors;

pub use crate::factory::SharedLookup;

/// Which built-in bot answers calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BotKind {
    /// The demo bot ([`DemoBot`]).
    #[default]
    Demo,
    /// The echo bot ([`EchoBot`]).
    Echo,
}

impl FromStr for BotKind {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "demo" => Ok(Self::Demo),
            "echo" => Ok(Self::Echo),
            other => Err(format!("unknown bot `{other}` (expected demo or echo)")),
        }
    }
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The bot.
    pub bot: BotKind,
    /// Speech-to-text for the demo bot.
    pub stt: SttKind,
    /// A secondary recogniser run beside the primary (a tee).
    pub stt_secondary: Option<SttKind>,
    /// Text-to-speech for the demo bot.
    pub tts: TtsKind,
    /// With the mock recogniser: commit these lines at the end of each speech segment of the
    /// caller's audio (voice-activity detection); without, it commits only injected texts.
    pub script: Option<Script>,
    /// Record every call here (one stereo WAV per CallSid).
    pub record_dir: Option<PathBuf>,
    /// Play every call live through `ffplay` (the original's `VOICE_MONITOR`).
    pub monitor: bool,
    /// Server settings (signatures, limits, timeouts).
    pub server: ServerConfig,
    /// Reports each call's conversation (the demo bot).
    pub observer: Option<Observer>,
    /// Ends calls REST-first through this client (when Twilio credentials are configured).
    pub rest: Option<TwilioRestClient>,
    /// With the mock synthesiser: milliseconds of audio per character (default 60).
    pub mock_tts_ms_per_char: Option<u32>,
    /// With the mock synthesiser: relay every spoken text to this peer server's
    /// `/test/inject` (the original's text relay, for bot-to-bot calls over `TRANSPORT=mock`).
    pub mock_tts_relay: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            bot: BotKind::Demo,
            stt: SttKind::Mock,
            stt_secondary: None,
            tts: TtsKind::Mock,
            script: None,
            record_dir: None,
            monitor: false,
            server: ServerConfig::default(),
            observer: None,
            rest: None,
            mock_tts_ms_per_char: None,
            mock_tts_relay: None,
        }
    }
}

/// Why the app cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A provider cannot be made.
    #[error(transparent)]
    Provider(#[from] FactoryError),
    /// The recording directory cannot be created.
    #[error("cannot create the recording directory {path}: {source}")]
    Record {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The assembled server.
#[derive(Debug, Clone)]
pub struct App {
    server: VoiceServer,
    latency: Arc<TurnLatency>,
    counters: Arc<ServerCounters>,
    injectors: Option<Arc<Injectors>>,
    recorder: Option<Recorder>,
}

impl App {
    /// Builds the providers (checking their configuration now) and the server.
    ///
    /// # Errors
    /// Unusable provider configuration, an uncreatable recording directory.
    pub fn build(config: AppConfig, lookup: SharedLookup) -> Result<Self, AppError> {
        let recorder = if config.record_dir.is_some() || config.monitor {
            Some(
                Recorder::with_monitor(config.record_dir.clone(), config.monitor).map_err(
                    |source| AppError::Record {
                        path: config.record_dir.clone().unwrap_or_default(),
                        source,
                    },
                )?,
            )
        } else {
            None
        };
        let mock_stt = config.bot == BotKind::Demo && config.stt == SttKind::Mock;
        let injectors = mock_stt.then(|| Arc::new(Injectors::default()));
        let (bot, sessions): (Arc<dyn Bot>, SessionFactory) = match config.bot {
            BotKind::Echo => (Arc::new(EchoBot), EchoBot::sessions()),
            BotKind::Demo => {
                let tts: Arc<dyn vr_session::TtsProvider> = if config.tts == TtsKind::Mock {
                    let mut tts = vr_mock::MockTts::new();
                    if let Some(ms) = config.mock_tts_ms_per_char {
                        tts = tts.with_ms_per_char(ms);
                    }
                    if let Some(peer) = &config.mock_tts_relay {
                        tts = tts.with_relay(vr_mock::TextRelay::new(peer));
                    }
                    Arc::new(tts)
                } else {
                    create_tts_with(config.tts, lookup.as_ref())?
                };
                let mut bot = DemoBot::new(tts);
                if let Some(observer) = config.observer.clone() {
                    bot = bot.with_observer(observer);
                }
                (
                    Arc::new(bot),
                    demo_sessions(&config, &lookup, injectors.clone())?,
                )
            }
        };
        let latency = Arc::new(TurnLatency::default());
        let counters = Arc::new(ServerCounters::default());
        let sessions = with_server_metrics(
            with_recording(sessions, recorder.clone()),
            latency.clone(),
            counters.clone(),
        );
        let mut server = VoiceServer::new(config.server, bot, sessions);
        if let Some(rest) = config.rest {
            server = server.with_call_ender(Arc::new(RestCallEnder(rest)));
        }
        Ok(Self {
            server,
            latency,
            counters,
            injectors,
            recorder,
        })
    }

    /// The Twilio server.
    pub fn server(&self) -> &VoiceServer {
        &self.server
    }

    /// The runtime's own delays on a turn, across every call (also on `/metrics`).
    pub fn latency(&self) -> &Arc<TurnLatency> {
        &self.latency
    }

    /// Drops, errors by kind and call ends, across every call (also on `/metrics`).
    pub fn counters(&self) -> &Arc<ServerCounters> {
        &self.counters
    }

    /// Every route: `/voice`, `/voice/{route}`, `/incoming`, `/status`, `/healthz`,
    /// `/metrics`, and `/test/inject[/{key}]` with the mock recogniser.
    pub fn router(&self) -> Router {
        let (server, latency, counters) = (
            self.server.clone(),
            self.latency.clone(),
            self.counters.clone(),
        );
        let mut router = self
            .server
            .router()
            .route("/healthz", get(|| async { "ok\n" }))
            .route(
                "/metrics",
                get(move || {
                    let body = crate::metrics::render(&server, &latency, &counters);
                    async move {
                        ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body)
                            .into_response()
                    }
                }),
            );
        if let Some(injectors) = &self.injectors {
            router = router.merge(inject::routes(injectors.clone()));
        }
        router
    }

    /// Stops accepting calls, hangs up live ones (waiting up to `deadline`), then waits for
    /// recordings to be finalised.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let report = self.server.registry().shutdown(deadline).await;
        if let Some(recorder) = &self.recorder
            && !recorder.finish(Duration::from_secs(10)).await
        {
            tracing::warn!("some recordings were not finalised within 10 s");
        }
        report
    }
}

fn demo_sessions(
    config: &AppConfig,
    lookup: &SharedLookup,
    injectors: Option<Arc<Injectors>>,
) -> Result<SessionFactory, FactoryError> {
    let secondary = config
        .stt_secondary
        .map(|kind| stt_factory_with(kind, lookup.clone()))
        .transpose()?;
    if config.stt != SttKind::Mock {
        let primary = stt_factory_with(config.stt, lookup.clone())?;
        return Ok(Arc::new(move || {
            let session = VoiceSession::new();
            session.set_stt_factory(Some(primary.clone()));
            session.set_stt_secondary_factory(secondary.clone());
            session
        }));
    }
    let script = config.script.clone();
    let injectors = injectors.unwrap_or_default();
    Ok(Arc::new(move || {
        let session = VoiceSession::new();
        // Weak: the factory lives in the call's own config.
        let call = session.call().downgrade();
        let (script, injectors) = (script.clone(), injectors.clone());
        session.set_stt_factory(Some(Arc::new(move || {
            let call = call
                .upgrade()
                .ok_or_else(|| vr_session::SttError::Other("the call has ended".into()))?;
            let stt = match &script {
                Some(script) => MockStt::with_script(script.clone()),
                None => MockStt::new(),
            };
            injectors.register(&call, stt.handle());
            Ok(Box::new(stt) as Box<dyn SttProvider>)
        })));
        session.set_stt_secondary_factory(secondary.clone());
        session
    }))
}

fn with_server_metrics(
    sessions: SessionFactory,
    latency: Arc<TurnLatency>,
    counters: Arc<ServerCounters>,
) -> SessionFactory {
    Arc::new(move || {
        let session = sessions();
        session.update_config(|c| {
            c.latency = Some(latency.clone());
            c.counters = Some(counters.clone());
        });
        session
    })
}

fn with_recording(sessions: SessionFactory, recorder: Option<Recorder>) -> SessionFactory {
    match recorder {
        None => sessions,
        Some(recorder) => Arc::new(move || {
            let session = sessions();
            session.set_tap(Some(recorder.tap_for(session.call())));
            session
        }),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then shuts the app down gracefully
/// (live calls hung up within `drain`, recordings finalised) and stops the listener.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let router = app.router();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    // Media frames are small and latency-bound: never let Nagle hold one back behind an ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let mut server = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    tokio::select! {
        result = &mut server => return flatten(result),
        () = shutdown => {}
    }
    tracing::info!("shutting down: no new calls; ending live calls");
    let report = app.shutdown(drain).await;
    tracing::info!(
        live_at_start = report.live_at_start,
        forced = report.forced,
        "live calls ended"
    );
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
        Ok(result) => flatten(result),
        Err(_) => {
            tracing::warn!("connections still open 5 s after shutdown; closing them");
            server.abort();
            Ok(())
        }
    }
}

fn flatten(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    result.map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use vr_session::{CallInfo, DisconnectReason};

    /// Runs one call on a session from `sessions` and checks that nothing keeps its core alive
    /// afterwards (a factory or tap holding a strong handle would leak every call).
    async fn call_is_freed(sessions: SessionFactory) {
        let session = sessions();
        let weak = session.call().downgrade();
        let link = session
            .attach(CallInfo {
                stream_sid: "MZ1".into(),
                call_sid: Some("CA1".into()),
                ..Default::default()
            })
            .unwrap();
        link.push_inbound(bytes::Bytes::from_static(&[0xFF; 160]));
        tokio::time::sleep(Duration::from_millis(50)).await;
        link.close(DisconnectReason::RemoteStop).await;
        drop(session);
        for _ in 0..100 {
            if weak.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the call's core is still alive after the call ended: a reference cycle");
    }

    #[tokio::test]
    async fn no_call_outlives_its_session() {
        call_is_freed(EchoBot::sessions()).await;
        let lookup: SharedLookup = Arc::new(|_: &str| None);
        let config = AppConfig {
            script: Some(Script::from_lines(["hello"])),
            ..AppConfig::default()
        };
        let injectors = Arc::new(Injectors::default());
        call_is_freed(demo_sessions(&config, &lookup, Some(injectors.clone())).unwrap()).await;
        assert!(injectors.is_empty());
        let dir = std::env::temp_dir().join(format!("vr-app-test-{}", std::process::id()));
        let recorder = Recorder::new(&dir).unwrap();
        call_is_freed(with_recording(EchoBot::sessions(), Some(recorder.clone()))).await;
        assert!(recorder.finish(Duration::from_secs(5)).await);
        assert!(dir.join("CA1.wav").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
