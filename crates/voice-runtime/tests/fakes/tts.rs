//! The fake HTTP streaming text-to-speech endpoint
//! (`POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`, protocol notes §2):
//! `xi-api-key` and the JSON body checked, then raw 8 kHz μ-law in a chunked body whose
//! length follows the text ([`Behaviour::tts_ms_per_char`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use voice_runtime::codec::mulaw;

use super::{Shared, TtsRequest};

/// Bytes per body chunk (100 ms of audio).
const CHUNK: usize = 800;

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"detail": {"status": code, "message": message}})),
    )
        .into_response()
}

pub(super) async fn stream(
    State(shared): State<Arc<Shared>>,
    Path(voice_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.key_ok(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key".into(),
        );
    }
    if query.get("output_format").map(String::as_str) != Some("ulaw_8000") {
        shared.violation(format!(
            "tts: output_format {:?}",
            query.get("output_format")
        ));
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        shared.violation("tts: the body is not declared application/json");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        shared.violation("tts: the body is not JSON");
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "not JSON".into(),
        );
    };
    let Some(text) = request["text"].as_str().map(str::to_owned) else {
        shared.violation("tts: no text in the body");
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "text required".into(),
        );
    };
    let model_id = request["model_id"].as_str().map(str::to_owned);
    if model_id.is_none() {
        shared.violation("tts: no model_id in the body");
    }
    let index = {
        let mut log = shared.log();
        log.tts.push(TtsRequest {
            voice_id,
            text: text.clone(),
            model_id,
            status: 200,
            audio_bytes: 0,
            finished: false,
        });
        log.tts.len() - 1
    };
    if index == 0
        && let Some(status) = shared.behaviour.tts_fail_first
    {
        shared.log().tts[index].status = status;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
        let key = &shared.behaviour.api_key;
        return error(
            status,
            "invalid_api_key",
            format!("Invalid API key: '{key}' was refused"),
        );
    }
    let samples = text.chars().count() * shared.behaviour.tts_ms_per_char as usize * 8;
    let audio = tone(samples.max(CHUNK));
    let chunks = futures_util::stream::unfold(
        (audio, 0usize, shared, index),
        |(audio, at, shared, index)| async move {
            if at >= audio.len() {
                shared.log().tts[index].finished = true;
                return None;
            }
            if at > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let end = (at + CHUNK).min(audio.len());
            let chunk = Bytes::copy_from_slice(&audio[at..end]);
            shared.log().tts[index].audio_bytes = end;
            Some((Ok::<_, Infallible>(chunk), (audio, end, shared, index)))
        },
    );
    (
        [(header::CONTENT_TYPE, "audio/basic")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// `len` μ-law samples of a 440 Hz tone.
fn tone(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let s = (t * 440.0 * std::f64::consts::TAU).sin() * 6000.0;
            mulaw::encode(s as i16)
        })
        .collect()
}
