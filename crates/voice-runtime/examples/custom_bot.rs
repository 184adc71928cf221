//! Your own bot in your own axum app: a receptionist that answers every caller, with the
//! routes mounted beside the app's own. Runs locally with the mock providers:
//!
//! ```sh
//! cargo run -p voice-runtime --example custom_bot          # listens on 127.0.0.1:8080
//! cargo run -p voice-runtime --bin vr -- simulate --url ws://127.0.0.1:8080/voice \
//!     --audio assets/audio/caller-1-hello-there-can-you-hear.wav \
//!     --audio assets/audio/caller-4-thank-you-goodbye.wav
//! ```
//! The mock recogniser commits a scripted line at the end of each of the caller's utterances.
//! With `STT_PROVIDER=elevenlabs TTS_PROVIDER=elevenlabs ELEVENLABS_API_KEY=…` it talks for real.

use std::sync::Arc;
use std::time::Duration;

use voice_runtime::mock::{MockStt, Script};
use voice_runtime::session::SttFactory;
use voice_runtime::twilio::server::{BotFn, ServerConfig, SignaturePolicy, VoiceServer};
use voice_runtime::{
    CallHandle, SessionEvent, SttProvider, TranscriptKind, TtsProvider, VoiceSession, create_tts,
    stt_factory,
};

async fn receptionist(call: CallHandle, tts: Arc<dyn TtsProvider>) {
    let mut events = call.events();
    let caller = call.info().and_then(|i| i.caller).unwrap_or_default();
    call.speak(tts.as_ref(), &format!("Hello {caller}, how can I help?"))
        .await;
    while let Some(event) = events.next().await {
        match event {
            // The caller talks over us: stop at once.
            SessionEvent::Transcript(t) if call.is_speaking() => {
                let _ = call.barge_in();
                if t.kind == TranscriptKind::Committed {
                    call.speak(tts.as_ref(), "Sorry, go on.").await;
                }
            }
            SessionEvent::Transcript(t) if t.kind == TranscriptKind::Committed => {
                if t.text.to_lowercase().contains("bye") {
                    call.speak(tts.as_ref(), "Thanks for calling. Bye!").await;
                    let _ = call.hangup();
                    return;
                }
                call.speak(tts.as_ref(), &format!("I heard: {}", t.text))
                    .await;
            }
            SessionEvent::Disconnected(reason) => {
                tracing::info!(%reason, "call ended");
                return;
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stt_name = std::env::var("STT_PROVIDER").unwrap_or_else(|_| "mock".into());
    let tts = create_tts(&std::env::var("TTS_PROVIDER").unwrap_or_else(|_| "mock".into()))?;
    let stt: SttFactory = if stt_name == "mock" {
        Arc::new(|| {
            let script = Script::from_lines(["I would like to book a table", "thanks, bye"]);
            Ok(Box::new(MockStt::with_script(script)) as Box<dyn SttProvider>)
        })
    } else {
        stt_factory(&stt_name)?
    };
    let sessions = Arc::new(move || {
        let session = VoiceSession::new();
        session.set_stt_factory(Some(stt.clone()));
        session
    });
    let bot = BotFn(move |call| receptionist(call, tts.clone()));
    let bind: std::net::SocketAddr = ([127, 0, 0, 1], 8080).into();
    let config = ServerConfig {
        signature: SignaturePolicy::resolve(
            std::env::var("TWILIO_AUTH_TOKEN").ok().as_deref(),
            false,
            bind.ip(),
        )?,
        ..ServerConfig::default()
    };
    let server = VoiceServer::new(config, Arc::new(bot), sessions);
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "my app" }))
        .merge(server.router());
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!("listening on http://{bind}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            server.registry().shutdown(Duration::from_secs(5)).await;
        })
        .await?;
    Ok(())
}
