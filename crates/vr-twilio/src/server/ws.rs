//! The websocket upgrade: signature checked before the upgrade is accepted (W15a).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{VoiceServer, signature_check, stream_task};

pub(crate) async fn voice(
    State(server): State<VoiceServer>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(server, headers, uri, ws, None)
}

pub(crate) async fn voice_routed(
    State(server): State<VoiceServer>,
    Path(route): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(server, headers, uri, ws, Some(route))
}

fn upgrade(
    server: VoiceServer,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
    route: Option<String>,
) -> Response {
    if !server.inner.registry.is_accepting() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if let Err(status) = signature_check::check(&server, &headers, &uri, &[], true) {
        return (status, "invalid Twilio signature").into_response();
    }
    let config = &server.inner.config;
    ws.read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(config.write_buffer_bytes)
        .max_message_size(config.hard_max_message_bytes)
        .max_frame_size(config.hard_max_message_bytes)
        .on_upgrade(move |socket| stream_task::run(server, socket, route))
}
