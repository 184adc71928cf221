//! The echo bot: every inbound frame goes straight back as outbound media, with a mark once a
//! second of audio (the classic Media Streams example, and the load-test bot).
//!
//! The frames are read where a recogniser would read them, so the echo runs on the same path
//! as real calls: [`EchoStt`] is installed as the call's speech-to-text provider by
//! [`EchoBot::sessions`], and the bot itself only waits for the call to end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use vr_session::{AudioReceiver, CallHandle, SttError, SttEventSink, SttProvider, VoiceSession};
use vr_twilio::server::{Bot, SessionFactory};

/// A mark goes out after this many echoed frames (one second of 20 ms frames).
pub const ECHO_MARK_EVERY_FRAMES: u64 = 50;

/// The echo bot.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoBot;

impl EchoBot {
    /// Sessions whose inbound audio is echoed back (pair them with this bot).
    pub fn sessions() -> SessionFactory {
        Arc::new(|| {
            let session = VoiceSession::new();
            // Weak: the factory lives in the call's own config.
            let call = session.call().downgrade();
            session.set_stt_factory(Some(Arc::new(move || {
                let call = call
                    .upgrade()
                    .ok_or_else(|| SttError::Other("the call has ended".into()))?;
                Ok(Box::new(EchoStt::new(call)) as Box<dyn SttProvider>)
            })));
            session
        })
    }
}

impl Bot for EchoBot {
    fn run(&self, call: CallHandle) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(async move {
            call.wait_disconnected().await;
        })
    }
}

/// Sends the frames it receives back to its call.
#[derive(Debug)]
pub struct EchoStt {
    call: CallHandle,
    task: Option<JoinHandle<()>>,
}

impl EchoStt {
    /// Echoes into `call`.
    pub fn new(call: CallHandle) -> Self {
        Self { call, task: None }
    }
}

#[async_trait]
impl SttProvider for EchoStt {
    fn name(&self) -> &str {
        "echo"
    }

    async fn start(&mut self, mut audio: AudioReceiver, _: SttEventSink) -> Result<(), SttError> {
        let call = self.call.clone();
        self.task = Some(tokio::spawn(async move {
            let mut frames = 0u64;
            while let Some(frame) = audio.recv().await {
                if call.send_audio(frame).await.is_err() {
                    break;
                }
                frames += 1;
                if frames % ECHO_MARK_EVERY_FRAMES == 0
                    && call
                        .send_mark(&format!("echo-{}", frames / ECHO_MARK_EVERY_FRAMES))
                        .is_err()
                {
                    break;
                }
            }
        }));
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}
