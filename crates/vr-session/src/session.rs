//! `VoiceSession`: a long-lived coordinator that carries one call at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::SessionError;
use crate::call::CallHandle;
use crate::config::SessionConfig;
use crate::core::{CallCore, lock};
use crate::events::{CallInfo, DisconnectReason};
use crate::hooks::Hooks;
use crate::stream::EventStream;
use crate::stt::SttFactory;
use crate::tap::AudioTap;
use crate::transport::TransportLink;

/// One call's coordinator, and the object a bot keeps between calls.
///
/// A session always has a *current call*: pending until a transport [attaches](Self::attach),
/// then connected, then ended. [`reset`](Self::reset) moves it to a fresh call (a new
/// generation); handles to the old one stop working. Servers that carry many calls make one
/// session per call and keep them in a [`CallRegistry`](crate::CallRegistry).
///
/// Cheap to clone; every clone is the same session.
#[derive(Clone, Debug)]
pub struct VoiceSession {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Mutex<Arc<SessionConfig>>,
    current: Mutex<Arc<CallCore>>,
    generation: Arc<AtomicU64>,
    tap: Mutex<Option<Arc<dyn AudioTap>>>,
}

impl std::fmt::Debug for dyn AudioTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioTap")
    }
}

impl Default for VoiceSession {
    fn default() -> Self {
        Self::new()
    }
}

impl VoiceSession {
    /// A session with no speech-to-text and default queue sizes.
    pub fn new() -> Self {
        Self::with_config(SessionConfig::default())
    }

    /// A session with the given settings.
    pub fn with_config(config: SessionConfig) -> Self {
        let config = Arc::new(config);
        let core = CallCore::new(0, config.clone(), None);
        Self {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                current: Mutex::new(core),
                generation: Arc::new(AtomicU64::new(0)),
                tap: Mutex::new(None),
            }),
        }
    }

    fn core(&self) -> Arc<CallCore> {
        lock(&self.inner.current).clone()
    }

    /// Changes the settings; the current call picks them up if it has not connected yet.
    pub fn update_config(&self, change: impl FnOnce(&mut SessionConfig)) {
        let mut guard = lock(&self.inner.config);
        let mut config = SessionConfig::clone(&guard);
        change(&mut config);
        *guard = Arc::new(config);
    }

    /// Sets the primary speech-to-text factory.
    pub fn set_stt_factory(&self, factory: Option<SttFactory>) {
        self.update_config(|c| c.stt_factory = factory);
    }

    /// Sets the secondary speech-to-text factory (run beside the primary in a tee).
    pub fn set_stt_secondary_factory(&self, factory: Option<SttFactory>) {
        self.update_config(|c| c.stt_secondary_factory = factory);
    }

    /// Replaces the callbacks.
    pub fn set_hooks(&self, hooks: Hooks) {
        self.update_config(|c| c.hooks = hooks);
    }

    /// `on_committed`: a committed transcript heard while the bot was silent.
    pub fn on_committed(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.update_config(|c| c.hooks.on_committed = Some(Arc::new(f)));
    }

    /// `on_recognizing`: an interim transcript heard while the bot was silent.
    pub fn on_recognizing(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.update_config(|c| c.hooks.on_recognizing = Some(Arc::new(f)));
    }

    /// `on_error`: a provider failure.
    pub fn on_error(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.update_config(|c| c.hooks.on_error = Some(Arc::new(f)));
    }

    /// `on_disconnected`: the call ended (once per call).
    pub fn on_disconnected(&self, f: impl Fn(&DisconnectReason) + Send + Sync + 'static) {
        self.update_config(|c| c.hooks.on_disconnected = Some(Arc::new(f)));
    }

    /// `on_stt_ready`: the provider is built and about to start.
    pub fn on_stt_ready(&self, f: impl Fn(&dyn crate::SttProvider) + Send + Sync + 'static) {
        self.update_config(|c| c.hooks.on_stt_ready = Some(Arc::new(f)));
    }

    /// Copies caller and agent audio to `tap` (a recorder or monitor), from now on.
    pub fn set_tap(&self, tap: Option<Arc<dyn AudioTap>>) {
        *lock(&self.inner.tap) = tap.clone();
        *self.core().tap.write().unwrap_or_else(|p| p.into_inner()) = tap;
    }

    /// The current call's generation.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// A handle to the current call.
    pub fn call(&self) -> CallHandle {
        CallHandle::new(self.core(), self.inner.generation.clone())
    }

    /// Subscribes to the current call's events (do it before the call connects to see
    /// everything).
    pub fn events(&self) -> EventStream {
        self.call().events()
    }

    /// Waits for the current call to connect (the original's `wait_for_ws_connect`).
    pub async fn wait_connected(&self, timeout: Duration) -> Result<CallInfo, SessionError> {
        self.call().wait_connected(timeout).await
    }

    /// Asks the transport to end the current call; works before it connects too (W8).
    pub fn hangup(&self) {
        self.core().request_hangup();
    }

    /// Drops unplayed audio on the current call.
    pub fn clear(&self) {
        self.core().clear();
    }

    /// Whether the current call has ended.
    pub fn is_disconnected(&self) -> bool {
        self.core().is_ended()
    }

    /// Attaches a transport to the current call and starts its driver (the STT lifecycle).
    /// Must be called on a tokio runtime.
    pub fn attach(&self, info: CallInfo) -> Result<TransportLink, SessionError> {
        let core = self.core();
        core.set_config(lock(&self.inner.config).clone());
        core.connect(info)?;
        let audio = lock(&core.inbound_rx).take();
        if let Some(audio) = audio {
            let driver = tokio::spawn(crate::driver::run(core.clone(), audio));
            *lock(&core.driver) = Some(driver);
        }
        Ok(TransportLink::new(core, self.inner.generation.clone()))
    }

    /// Ends the current call from the session side (server shutdown, say): the disconnect
    /// path runs and the transport's `next_outbound` returns `None`.
    pub fn end_call(&self, reason: DisconnectReason) {
        self.core().disconnect(reason);
    }

    /// The telephony provider reported the call's status (a status callback). Emits
    /// [`SessionEvent::CallStatus`](crate::SessionEvent::CallStatus); a final status for a call
    /// that never connected ends it, so a bot waiting for the connection hears at once.
    pub fn report_call_status(&self, status: &str) {
        let core = self.core();
        core.emit(crate::SessionEvent::CallStatus(status.to_owned()));
        let is_final = matches!(
            status,
            "completed" | "busy" | "failed" | "no-answer" | "canceled"
        );
        if is_final && matches!(*core.phase.borrow(), crate::CallPhase::Pending) {
            core.disconnect(DisconnectReason::NotAnswered(status.to_owned()));
        }
    }

    /// Ends the current call if it is still up and starts a fresh one (a new generation).
    /// Intents made after the reset apply to the new call (W8); old handles go stale (W33).
    pub fn reset(&self) {
        let mut current = lock(&self.inner.current);
        let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
        current.disconnect(DisconnectReason::Reset);
        let config = lock(&self.inner.config).clone();
        let tap = lock(&self.inner.tap).clone();
        *current = CallCore::new(generation, config, tap);
    }
}
