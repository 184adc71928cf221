//! `POST /incoming` (answer with `<Connect><Stream>` TwiML) and `POST /status`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::{VoiceServer, form, signature_check};
use crate::twiml::{
    ConnectStream, MAX_PARAMETER_CHARS, Response as TwimlResponse, stream_url, xml_safe,
};

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The voice webhook: TwiML that connects the call to our stream, carrying From, To and
/// CallSid as `<Parameter>`s.
pub(crate) async fn incoming(
    State(server): State<VoiceServer>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match form::parse(&headers, &body) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(status) = signature_check::check(&server, &headers, &uri, &params, false) {
        return (status, "invalid Twilio signature").into_response();
    }
    let configured = server.inner.config.public_url.is_some();
    // Without a configured public URL the base comes from the request's Host: a missing or
    // unusable one is the request's fault (400), not the server's.
    let Some(base) = stream_base(&server, &headers, &uri) else {
        return (
            StatusCode::BAD_REQUEST,
            "no Host header and no public URL configured",
        )
            .into_response();
    };
    let url = match stream_url(&base) {
        Ok(u) => u,
        Err(e) if configured => {
            tracing::error!(error = %e, "cannot build the stream URL");
            return (StatusCode::INTERNAL_SERVER_ERROR, "bad public URL").into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "the request's Host cannot make a stream URL");
            return (StatusCode::BAD_REQUEST, "bad Host header").into_response();
        }
    };
    let mut stream = ConnectStream::new(url);
    for name in ["From", "To", "CallSid"] {
        let Some(value) = param(&params, name) else {
            continue;
        };
        // Caller-controlled (a SIP From can hold anything): drop what XML cannot carry, and
        // leave out a value too long for a <Parameter>, rather than fail the call.
        let value = xml_safe(value);
        if name.chars().count() + value.chars().count() >= MAX_PARAMETER_CHARS {
            tracing::warn!(
                parameter = name,
                "webhook parameter too long for a TwiML <Parameter>; left out"
            );
            continue;
        }
        stream = stream.parameter(name, value);
    }
    match TwimlResponse::new().connect(stream).to_xml() {
        Ok(xml) => ([(header::CONTENT_TYPE, "text/xml")], xml).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "refused to build TwiML from the webhook's parameters");
            (StatusCode::BAD_REQUEST, "parameters cannot go into TwiML").into_response()
        }
    }
}

/// The base the TwiML stream URL is built on: the configured public URL, else this request's
/// own origin.
fn stream_base(server: &VoiceServer, headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(base) = &server.inner.config.public_url {
        return Some(base.clone());
    }
    let url = signature_check::addressed_url(server, headers, uri, false)?;
    let origin_end = url.find("://").map(|i| i + 3)?;
    let path_start = url[origin_end..]
        .find('/')
        .map_or(url.len(), |i| origin_end + i);
    Some(url[..path_start].to_owned())
}

/// Call status callbacks: they become `CallStatus` events on the call's session.
pub(crate) async fn status(
    State(server): State<VoiceServer>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match form::parse(&headers, &body) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(status) = signature_check::check(&server, &headers, &uri, &params, false) {
        return (status, "invalid Twilio signature").into_response();
    }
    let (Some(call_sid), Some(call_status)) =
        (param(&params, "CallSid"), param(&params, "CallStatus"))
    else {
        return (StatusCode::BAD_REQUEST, "CallSid and CallStatus required").into_response();
    };
    let registry = &server.inner.registry;
    let session = registry
        .by_call_sid(call_sid)
        .or_else(|| registry.pending_by_call_sid(call_sid));
    match session {
        Some(session) => {
            session.report_call_status(call_status);
            if is_final_status(call_status) {
                // A call that ended before its stream started never binds: forget it.
                registry.cancel_pending(Some(call_sid), None);
            }
        }
        None => tracing::debug!(call_sid, call_status, "status callback for an unknown call"),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Statuses after which Twilio sends nothing more for the call.
fn is_final_status(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    )
}
