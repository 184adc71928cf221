//! Rebuilding the URL Twilio signed and checking a request against it.

use axum::http::{HeaderMap, StatusCode, Uri};

use super::VoiceServer;
use super::config::SignaturePolicy;
use crate::urls::{public_url, websocket_url};

/// The header Twilio signs with.
pub(crate) const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The public URL the request was addressed to: the configured public base plus the request's
/// path and query, or else the `Host` header with `X-Forwarded-Proto`.
pub(crate) fn addressed_url(
    server: &VoiceServer,
    headers: &HeaderMap,
    uri: &Uri,
    websocket: bool,
) -> Option<String> {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let http_url = match &server.inner.config.public_url {
        Some(base) => public_url(base, path_and_query).ok()?,
        None => {
            let host = headers.get("host")?.to_str().ok()?;
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("http");
            let scheme = if proto.eq_ignore_ascii_case("https") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}{path_and_query}")
        }
    };
    Some(if websocket {
        websocket_url(&http_url).into_owned()
    } else {
        http_url
    })
}

/// Checks a request's signature; `Err(403)` when it fails under an enforcing policy.
pub(crate) fn check(
    server: &VoiceServer,
    headers: &HeaderMap,
    uri: &Uri,
    params: &[(String, String)],
    websocket: bool,
) -> Result<(), StatusCode> {
    let SignaturePolicy::Enforce(validator) = &server.inner.config.signature else {
        return Ok(());
    };
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let url = addressed_url(server, headers, uri, websocket).ok_or(StatusCode::FORBIDDEN)?;
    validator
        .validate(&url, params.iter().map(|(k, v)| (k.as_str(), v.as_str())), header)
        .map_err(|e| {
            let peer = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unknown");
            server.inner.stats.signature_rejected();
            tracing::warn!(path = uri.path(), peer, error = %e, "rejected request with a bad Twilio signature");
            StatusCode::FORBIDDEN
        })
}
