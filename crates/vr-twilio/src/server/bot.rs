//! The application's conversation logic, run once per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use vr_session::{CallHandle, VoiceSession};

/// Conversation logic: `run` is called once per call, after it connects, with the call's
/// handle. When the call ends the bot gets a short grace period and is then cancelled, so no
/// bot task outlives its call.
pub trait Bot: Send + Sync + 'static {
    /// Runs the conversation.
    fn run(&self, call: CallHandle) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// A bot made from an async closure.
pub struct BotFn<F>(pub F);

impl<F> std::fmt::Debug for BotFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotFn")
    }
}

impl<F, Fut> Bot for BotFn<F>
where
    F: Fn(CallHandle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn run(&self, call: CallHandle) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin((self.0)(call))
    }
}

/// Makes the session for an inbound call (with its STT factory, hooks, tap ...).
pub type SessionFactory = Arc<dyn Fn() -> VoiceSession + Send + Sync>;
