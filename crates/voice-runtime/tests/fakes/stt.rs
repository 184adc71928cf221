//! The fake Scribe realtime websocket (`GET /v1/speech-to-text/realtime`, protocol notes §4):
//! `xi-api-key` checked on the upgrade, `session_started`, then `input_audio_chunk` messages
//! read and checked (JSON text frames, base64 μ-law, `sample_rate` 8000). Transcripts go out
//! at the end of each speech segment of the received audio (see [`Behaviour`]) and whenever
//! the test pushes one.

use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use voice_runtime::mock::{Vad, VadEvent};

use super::{Behaviour, Shared, SttConnection};

const FRAME: usize = 160;

pub(super) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    if !shared.key_ok(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    for (key, want) in [
        ("model_id", "scribe_v2_realtime"),
        ("audio_format", "ulaw_8000"),
        ("commit_strategy", "vad"),
    ] {
        let got = query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        if got != Some(want) {
            shared.violation(format!("stt: query {key}={got:?}, expected {want}"));
        }
    }
    if query.iter().any(|(k, _)| k == "token" || k == "xi-api-key") {
        shared.violation("stt: a credential in the query string");
    }
    let index = {
        let mut log = shared.log();
        log.stt.push(SttConnection {
            query,
            ..SttConnection::default()
        });
        log.stt.len() - 1
    };
    ws.on_upgrade(move |socket| session(shared, index, socket))
}

async fn send(shared: &Shared, index: usize, socket: &mut WebSocket, message: String) -> bool {
    let ok = socket
        .send(Message::Text(message.clone().into()))
        .await
        .is_ok();
    if ok {
        shared.log().stt[index].sent.push(message);
    }
    ok
}

async fn session(shared: Arc<Shared>, index: usize, mut socket: WebSocket) {
    let mut pushed = shared.push.subscribe();
    let started = json!({
        "message_type": "session_started",
        "session_id": format!("fake-session-{index}"),
        "config": {
            "sample_rate": 8000, "audio_format": "ulaw_8000", "language_code": "en",
            "commit_strategy": "vad", "vad_silence_threshold_secs": 1.5, "vad_threshold": 0.5,
            "min_speech_duration_ms": 300, "min_silence_duration_ms": 100,
            "model_id": "scribe_v2_realtime", "enable_logging": true,
            "include_timestamps": false, "include_language_detection": false,
            "keyterms": [], "no_verbatim": false
        }
    });
    if socket
        .send(Message::Text(started.to_string().into()))
        .await
        .is_err()
    {
        return finish(&shared, index);
    }
    shared.log().stt[index].started = true;
    if index == 0 && shared.behaviour.stt_auth_error_first {
        let error = json!({
            "message_type": "auth_error",
            "error": format!("Invalid API key: {}", shared.behaviour.api_key),
        });
        send(&shared, index, &mut socket, error.to_string()).await;
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "auth_error".into(),
            })))
            .await;
        return finish(&shared, index);
    }
    let mut vad = Vad::default();
    loop {
        tokio::select! {
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    for reply in on_chunk(&shared, &shared.behaviour, index, text.as_str(), &mut vad) {
                        if !send(&shared, index, &mut socket, reply).await {
                            return finish(&shared, index);
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => shared.violation("stt: a binary frame"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return finish(&shared, index),
            },
            message = pushed.recv() => match message {
                Ok(message) => {
                    if !send(&shared, index, &mut socket, message).await {
                        return finish(&shared, index);
                    }
                }
                Err(_) => return finish(&shared, index),
            },
        }
    }
}

fn finish(shared: &Shared, index: usize) {
    shared.log().stt[index].closed = true;
}

/// Checks one client message, feeds its audio to the detector and returns the transcripts
/// to send.
fn on_chunk(
    shared: &Shared,
    behaviour: &Behaviour,
    index: usize,
    text: &str,
    vad: &mut Vad,
) -> Vec<String> {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        shared.violation(format!("stt: not JSON: {text:.80}"));
        return Vec::new();
    };
    if message["message_type"] != "input_audio_chunk" {
        shared.violation(format!("stt: unexpected message {text:.80}"));
        return Vec::new();
    }
    if message["sample_rate"] != 8000 || !message["commit"].is_boolean() {
        shared.violation(format!("stt: bad sample_rate or commit in {text:.120}"));
    }
    let Some(audio) = message["audio_base_64"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
    else {
        shared.violation("stt: audio_base_64 missing or not base64");
        return Vec::new();
    };
    {
        let mut log = shared.log();
        let conn = &mut log.stt[index];
        conn.chunks += 1;
        conn.audio_bytes += audio.len();
        if message["commit"] == true {
            conn.commits_received += 1;
        }
    }
    let mut out = Vec::new();
    for frame in audio.chunks(FRAME) {
        match vad.push(frame) {
            Some(VadEvent::SpeechStart) if behaviour.partials => {
                if let Some(next) = shared.peek_commit() {
                    let word = next.split_whitespace().next().unwrap_or_default();
                    out.push(
                        json!({"message_type": "partial_transcript", "text": word}).to_string(),
                    );
                }
            }
            Some(VadEvent::SpeechEnd { .. }) => {
                shared.log().stt[index].segments += 1;
                if let Some(text) = shared.next_commit() {
                    out.push(
                        json!({"message_type": "committed_transcript", "text": text}).to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    out
}
