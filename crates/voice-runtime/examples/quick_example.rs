//! The original's Quick Example in Rust: place a call, say something, wait until the caller has
//! heard it, listen for an answer, hang up.
//!
//! Needs a public URL for Twilio to reach this server and Twilio credentials:
//! `VOICE_STREAM_URL=https://<your tunnel> TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=…
//! TWILIO_PHONE_NUMBER=+1… ELEVENLABS_API_KEY=… cargo run -p voice-runtime --example quick_example -- +358401234567`
//! (`STT_PROVIDER` / `TTS_PROVIDER` pick other providers, e.g. `azure`).

use std::sync::Arc;
use std::time::Duration;

use voice_runtime::twilio::outbound::OutboundDialer;
use voice_runtime::twilio::rest::TwilioConfig;
use voice_runtime::twilio::server::{
    BotFn, RestCallEnder, ServerConfig, SignaturePolicy, VoiceServer,
};
use voice_runtime::{
    CallRegistry, SessionEvent, TranscriptKind, VoiceSession, create_tts, stt_factory,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let to = std::env::args()
        .nth(1)
        .ok_or("usage: quick_example +358401234567")?;
    let stt = std::env::var("STT_PROVIDER").unwrap_or_else(|_| "elevenlabs".into());
    let tts = std::env::var("TTS_PROVIDER").unwrap_or_else(|_| "elevenlabs".into());

    // 1. A server for Twilio's stream. Outbound calls bind to their session through the
    //    registry, so the server's own bot does nothing here.
    let twilio = TwilioConfig::from_env()?;
    let bind: std::net::SocketAddr = ([0, 0, 0, 0], twilio.voice_server_port).into();
    let signature = SignaturePolicy::resolve(twilio.auth_token(), false, bind.ip())?;
    let registry = CallRegistry::new();
    let config = ServerConfig {
        public_url: twilio.voice_stream_url.clone(),
        signature,
        ..ServerConfig::default()
    };
    let server = VoiceServer::with_registry(
        config,
        Arc::new(BotFn(|_call| async {})),
        Arc::new(VoiceSession::new),
        registry.clone(),
    )
    .with_call_ender(Arc::new(RestCallEnder(twilio.rest_client()?)));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // 2. Place the call; Twilio connects back to /voice/{route} and the stream binds here.
    let session = VoiceSession::new();
    session.set_stt_factory(Some(stt_factory(&stt)?));
    let dialer = OutboundDialer::new(twilio, registry)?;
    let placed = dialer.place_call(&to, &session).await?;
    let call = session.call();
    let mut events = call.events();
    if let Err(e) = call.wait_connected(Duration::from_secs(30)).await {
        dialer.forget(&placed);
        return Err(e.into()); // CallNotAnswered: nobody picked up in 30 s
    }

    // 3. Speak; `speak` returns once the closing mark came back: the caller heard it all.
    let tts = create_tts(&tts)?;
    let outcome = call.speak(tts.as_ref(), "Hello! How are you today?").await;
    println!("spoke: {:?} (heard: {:?})", outcome.status, outcome.heard);

    // 4. Listen for one committed transcript.
    let heard = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.next().await {
            match event {
                SessionEvent::Transcript(t) if t.kind == TranscriptKind::Committed => {
                    return Some(t.text);
                }
                SessionEvent::Disconnected(_) => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    println!("caller said: {heard:?}");

    // 5. Hang up (REST first, so Twilio closes the stream itself).
    call.hangup()?;
    call.wait_disconnected().await;
    Ok(())
}
