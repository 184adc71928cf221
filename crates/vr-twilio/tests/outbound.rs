//! The outbound flow of the Quick Example against a fake Twilio REST API and a local Media
//! Streams client: route token registered before dialling (B166), the stream binds to the
//! caller's session, status callbacks end a call that is never answered.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Fake, Reply};
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use vr_session::{CallRegistry, DisconnectReason, SessionError, VoiceSession};
use vr_twilio::outbound::{OutboundDialer, OutboundError};
use vr_twilio::rest::{ConfigError, RestError, TwilioConfig};
use vr_twilio::server::{BotFn, ServerConfig, VoiceServer};

const T: Duration = Duration::from_secs(10);

fn config(fake: &Fake, public: &str) -> TwilioConfig {
    let vars = [
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_AUTH_TOKEN", "tok-secret"),
        ("TWILIO_PHONE_NUMBER", "+15017122661"),
        ("VOICE_STREAM_URL", public),
        ("TWILIO_API_BASE_URL", fake.base.as_str()),
    ];
    TwilioConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

fn created(sid: &str) -> Reply {
    Reply::json(
        201,
        json!({"sid": sid, "account_sid": "AC123", "to": "+358401234567",
               "from": "+15017122661", "status": "queued"}),
    )
}

async fn serve(registry: Arc<CallRegistry>) -> std::net::SocketAddr {
    let server = VoiceServer::with_registry(
        ServerConfig::default(),
        Arc::new(BotFn(|_call| async {})),
        Arc::new(VoiceSession::new),
        registry,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn start_message(call_sid: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC123","streamSid":"MZ1","callSid":"{call_sid}","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{}}}},"streamSid":"MZ1"}}"#
    )
}

#[tokio::test]
async fn a_placed_call_binds_its_stream_to_the_callers_session() {
    let fake = Fake::start(vec![created("CA777")]).await;
    let registry = CallRegistry::new();
    let addr = serve(registry.clone()).await;
    let dialer =
        OutboundDialer::new(config(&fake, &format!("http://{addr}")), registry.clone()).unwrap();

    let session = VoiceSession::new();
    let call = session.call();
    let placed = dialer.place_call("+358401234567", &session).await.unwrap();
    assert_eq!(placed.call_sid, "CA777");
    assert!(registry.has_route(&placed.route_token));
    assert!(registry.pending_by_call_sid("CA777").is_some());

    // The request: routed stream TwiML and a status callback, as the notes describe.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let form = &reqs[0].form;
    let field = |name: &str| -> Vec<&str> {
        form.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(field("To"), ["+358401234567"]);
    assert_eq!(field("From"), ["+15017122661"]);
    let twiml = field("Twiml")[0];
    assert!(
        twiml.contains(&format!(
            "<Stream url=\"ws://{addr}/voice/{}\"",
            placed.route_token
        )),
        "{twiml}"
    );
    assert_eq!(field("StatusCallback"), [format!("http://{addr}/status")]);
    assert_eq!(
        field("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );

    // Twilio connects the stream to the routed path: it binds to our session.
    let url = format!("ws://{addr}/voice/{}", placed.route_token);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
    ))
    .await
    .unwrap();
    ws.send(Message::text(start_message("CA777")))
        .await
        .unwrap();
    let info = call.wait_connected(T).await.unwrap();
    assert_eq!(info.call_sid.as_deref(), Some("CA777"));
    assert!(!registry.has_route(&placed.route_token));
    assert!(registry.pending_by_call_sid("CA777").is_none());

    ws.send(Message::text(
        r#"{"event":"stop","sequenceNumber":"2","stop":{"accountSid":"AC123","callSid":"CA777"},"streamSid":"MZ1"}"#,
    ))
    .await
    .unwrap();
    let reason = tokio::time::timeout(T, call.wait_disconnected())
        .await
        .unwrap();
    assert_eq!(reason, DisconnectReason::RemoteStop);
}

#[tokio::test]
async fn a_rest_failure_leaves_nothing_registered() {
    let fake = Fake::start(vec![Reply::twilio_error(401, 20003, "Authenticate")]).await;
    let registry = CallRegistry::new();
    let dialer =
        OutboundDialer::new(config(&fake, "https://bot.example.com"), registry.clone()).unwrap();
    let session = VoiceSession::new();
    let err = dialer
        .place_call("+358401234567", &session)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboundError::Rest(RestError::Api { status: 401, .. })),
        "{err:?}"
    );
    assert!(!err.to_string().contains("tok-secret"));
    assert!(registry.is_empty());
    assert!(registry.pending_by_call_sid("CA777").is_none());
}

#[tokio::test]
async fn missing_settings_are_reported_in_the_original_order() {
    let registry = CallRegistry::new();
    let only = |vars: &'static [(&'static str, &'static str)]| {
        TwilioConfig::from_lookup(move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    };
    let err = OutboundDialer::new(only(&[]), registry.clone()).unwrap_err();
    assert_eq!(err, ConfigError::MissingStreamUrl);
    let err = OutboundDialer::new(
        only(&[("VOICE_STREAM_URL", "https://bot.example.com")]),
        registry.clone(),
    )
    .unwrap_err();
    assert_eq!(err, ConfigError::MissingCredentials);
    let err = OutboundDialer::new(
        only(&[
            ("VOICE_STREAM_URL", "https://bot.example.com"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN", "t"),
        ]),
        registry,
    )
    .unwrap_err();
    assert_eq!(err, ConfigError::MissingPhoneNumber);
}

#[tokio::test]
async fn an_unanswered_call_ends_on_its_final_status_callback() {
    let fake = Fake::start(vec![created("CA888")]).await;
    let registry = CallRegistry::new();
    let addr = serve(registry.clone()).await;
    let dialer =
        OutboundDialer::new(config(&fake, &format!("http://{addr}")), registry.clone()).unwrap();
    let session = VoiceSession::new();
    let call = session.call();
    let placed = dialer.place_call("+358401234567", &session).await.unwrap();
    let mut events = call.events();

    let http = reqwest::Client::new();
    for status in ["ringing", "no-answer"] {
        let resp = http
            .post(format!("http://{addr}/status"))
            .form(&[("CallSid", "CA888"), ("CallStatus", status)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }
    let started = tokio::time::Instant::now();
    let err = call
        .wait_connected(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < T,
        "the final status must end the wait at once"
    );
    assert_eq!(err, SessionError::CallHangup);
    assert_eq!(
        call.disconnect_reason(),
        Some(DisconnectReason::NotAnswered("no-answer".into()))
    );
    let mut statuses = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), events.next()).await
    {
        if let vr_session::SessionEvent::CallStatus(s) = event {
            statuses.push(s);
        }
    }
    assert_eq!(statuses, ["ringing", "no-answer"]);
    assert!(registry.pending_by_call_sid("CA888").is_none());
    dialer.forget(&placed);
    assert!(!registry.has_route(&placed.route_token));
}

#[tokio::test]
async fn waiting_for_a_call_that_never_connects_times_out_as_not_answered() {
    let fake = Fake::start(vec![created("CA999")]).await;
    let registry = CallRegistry::new();
    let dialer =
        OutboundDialer::new(config(&fake, "https://bot.example.com"), registry.clone()).unwrap();
    let session = VoiceSession::new();
    let placed = dialer.place_call("+358401234567", &session).await.unwrap();
    let err = session
        .call()
        .wait_connected(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::CallNotAnswered(_)), "{err:?}");
    dialer.forget(&placed);
    assert!(registry.pending_by_call_sid("CA999").is_none());
    assert!(!registry.has_route(&placed.route_token));
}
