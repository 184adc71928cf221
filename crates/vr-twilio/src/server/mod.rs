//! The axum side: a router any app can mount, carrying many calls at once.
//!
//! Routes: `GET /voice` and `GET /voice/{route}` (Media Streams websocket), `POST /incoming`
//! (voice webhook answering `<Connect><Stream>` TwiML), `POST /status` (call status callbacks
//! become session events). Each stream gets its own `VoiceSession`
//! through the `CallRegistry`, and the application's [`Bot`] runs
//! once per call.

mod bot;
mod config;
mod ender;
mod form;
mod signature_check;
mod stream_task;
mod webhook;
mod ws;

pub use bot::{Bot, BotFn, SessionFactory};
pub use config::{ServerConfig, ServerConfigError, SignaturePolicy};
pub use ender::{CallEnder, RestCallEnder};

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use vr_session::CallRegistry;

/// Everything the handlers share.
#[derive(Clone)]
pub struct VoiceServer {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Arc<CallRegistry>,
    pub(crate) bot: Arc<dyn Bot>,
    pub(crate) sessions: SessionFactory,
    pub(crate) ender: Option<Arc<dyn CallEnder>>,
    pub(crate) stats: stream_task::ServerStats,
}

impl std::fmt::Debug for VoiceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceServer")
            .field("config", &self.inner.config)
            .field("live_calls", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

impl VoiceServer {
    /// A server running `bot` for every call, with sessions made by `sessions`.
    pub fn new(config: ServerConfig, bot: Arc<dyn Bot>, sessions: SessionFactory) -> Self {
        Self::with_registry(config, bot, sessions, CallRegistry::new())
    }

    /// The same, sharing an existing registry (so outbound calls placed elsewhere bind here).
    pub fn with_registry(
        config: ServerConfig,
        bot: Arc<dyn Bot>,
        sessions: SessionFactory,
        registry: Arc<CallRegistry>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                registry,
                bot,
                sessions,
                ender: None,
                stats: stream_task::ServerStats::default(),
            }),
        }
    }

    /// Ends calls REST-first through `ender` (B140–B144) instead of closing the socket.
    pub fn with_call_ender(mut self, ender: Arc<dyn CallEnder>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.ender = Some(ender);
        }
        self
    }

    /// The registry of live calls.
    pub fn registry(&self) -> &Arc<CallRegistry> {
        &self.inner.registry
    }

    /// Server-wide counters (ignored frames by reason, streams, ...).
    pub fn stats(&self) -> &stream_task::ServerStats {
        &self.inner.stats
    }

    /// The routes, ready to mount (`app.merge(server.router())`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/voice", get(ws::voice))
            .route("/voice/{route}", get(ws::voice_routed))
            .route("/incoming", post(webhook::incoming))
            .route("/status", post(webhook::status))
            .layer(axum::extract::DefaultBodyLimit::max(
                self.inner.config.max_webhook_bytes,
            ))
            .with_state(self.clone())
    }
}

pub use stream_task::ServerStats;
