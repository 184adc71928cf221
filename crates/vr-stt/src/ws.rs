//! The websocket plumbing both providers share: dialling with a timeout over rustls, the
//! classification of handshake failures, and a bounded normal close.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::{
    self, Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

use crate::AUTH_ERROR;

/// A websocket error.
pub(crate) type WsError = tungstenite::Error;

/// Anything that reads and writes websocket messages (a TCP/TLS socket or, in unit tests,
/// an in-memory pipe).
pub(crate) trait WsConn:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

impl<T> WsConn for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

/// An open websocket.
pub(crate) type Ws = Box<dyn WsConn>;

/// Why a connection could not be opened. Never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialError {
    /// The server answered the upgrade with this HTTP status.
    Status(u16),
    /// No answer within the connect timeout.
    Timeout,
    /// Network, TLS or protocol failure.
    Failed(String),
}

/// What to do about a failed dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DialClass {
    /// Worth another attempt (network trouble, 5xx, timeout).
    Retry,
    /// Retrying cannot help; report this reason.
    Terminal(String),
}

impl DialError {
    /// 401/403 → `auth_error`; 429 → `rate_limited`; other 4xx → `handshake_rejected_<code>`;
    /// everything else is worth a retry.
    pub(crate) fn class(&self) -> DialClass {
        match self {
            Self::Status(401 | 403) => DialClass::Terminal(AUTH_ERROR.to_owned()),
            Self::Status(429) => DialClass::Terminal("rate_limited".to_owned()),
            Self::Status(s @ 400..=499) => DialClass::Terminal(format!("handshake_rejected_{s}")),
            _ => DialClass::Retry,
        }
    }

    /// The error `start()` returns for this failure.
    pub(crate) fn to_stt_error(&self) -> vr_session::SttError {
        match self {
            Self::Status(s @ (401 | 403)) => {
                vr_session::SttError::Auth(format!("the service answered HTTP {s}"))
            }
            other => vr_session::SttError::Connect(other.to_string()),
        }
    }
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(s) => write!(f, "websocket upgrade refused with HTTP {s}"),
            Self::Timeout => f.write_str("websocket connect timed out"),
            Self::Failed(e) => write!(f, "websocket connect failed: {e}"),
        }
    }
}

/// How connections are made.
#[derive(Debug, Clone, Default)]
pub(crate) enum Dialer {
    /// TCP, with rustls (webpki roots, ring) for `wss://`.
    #[default]
    Network,
    /// In-memory pipes handed to a test server (unit tests with paused time).
    #[cfg(test)]
    #[cfg_attr(not(feature = "elevenlabs"), allow(dead_code))]
    Memory(tokio::sync::mpsc::UnboundedSender<tokio::io::DuplexStream>),
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            // An explicit provider: `ClientConfig::builder()` would panic when no process-wide
            // provider is installed, or when several are compiled in.
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
}

fn map_ws_error(error: WsError) -> DialError {
    match error {
        WsError::Http(response) => DialError::Status(response.status().as_u16()),
        // Display of tungstenite errors carries no request headers, so no credential.
        other => DialError::Failed(other.to_string()),
    }
}

/// Opens a websocket for `request` within `timeout`.
pub(crate) async fn dial(
    dialer: &Dialer,
    request: http::Request<()>,
    timeout: Duration,
) -> Result<Ws, DialError> {
    match dialer {
        Dialer::Network => {
            let connector = if request.uri().scheme_str() == Some("wss") {
                Some(tokio_tungstenite::Connector::Rustls(
                    tls_config().map_err(DialError::Failed)?,
                ))
            } else {
                None
            };
            let connect =
                tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector);
            match tokio::time::timeout(timeout, connect).await {
                Err(_) => Err(DialError::Timeout),
                Ok(Err(e)) => Err(map_ws_error(e)),
                Ok(Ok((ws, _response))) => Ok(Box::new(ws)),
            }
        }
        #[cfg(test)]
        Dialer::Memory(servers) => {
            let (client, server) = tokio::io::duplex(64 * 1024);
            if servers.send(server).is_err() {
                return Err(DialError::Failed("memory server gone".into()));
            }
            let connect = tokio_tungstenite::client_async(request, client);
            match tokio::time::timeout(timeout, connect).await {
                Err(_) => Err(DialError::Timeout),
                Ok(Err(e)) => Err(map_ws_error(e)),
                Ok(Ok((ws, _response))) => Ok(Box::new(ws)),
            }
        }
    }
}

/// Sends a normal close (bounded). With `linger`, also waits (within the same bound) for the
/// peer to finish the closing handshake; without, the socket is dropped right after the close
/// frame is out. Errors are ignored: the socket is being abandoned either way.
pub(crate) async fn close(ws: &mut Ws, reason: &str, bound: Duration, linger: bool) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(bound, async {
        if ws.send(Message::Close(Some(frame))).await.is_err() || !linger {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// A header value that is never printed by `http`'s `Debug`.
pub(crate) fn secret_header(value: &str) -> Result<http::HeaderValue, String> {
    let mut v = http::HeaderValue::from_str(value)
        .map_err(|_| "the key contains characters not allowed in a header".to_owned())?;
    v.set_sensitive(true);
    Ok(v)
}

/// `text` with every occurrence of `secret` replaced by `<redacted>`: a service may echo the
/// credential it refused in an error message, and those messages are logged.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    text.replace(secret, "<redacted>")
}

/// Turns an `http(s)`/`ws(s)` base URL into its websocket form.
pub(crate) fn to_ws_url(base: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(base.trim()).map_err(|e| format!("invalid URL {base:?}: {e}"))?;
    let scheme = match url.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        other => return Err(format!("unsupported URL scheme {other:?} in {base:?}")),
    };
    if url.scheme() != scheme && url.set_scheme(scheme).is_err() {
        return Err(format!("cannot use {base:?} as a websocket URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in {base:?}"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_statuses_are_classed() {
        assert_eq!(
            DialError::Status(401).class(),
            DialClass::Terminal("auth_error".into())
        );
        assert_eq!(
            DialError::Status(403).class(),
            DialClass::Terminal("auth_error".into())
        );
        assert_eq!(
            DialError::Status(429).class(),
            DialClass::Terminal("rate_limited".into())
        );
        assert_eq!(
            DialError::Status(400).class(),
            DialClass::Terminal("handshake_rejected_400".into())
        );
        assert_eq!(DialError::Status(503).class(), DialClass::Retry);
        assert_eq!(DialError::Timeout.class(), DialClass::Retry);
        assert_eq!(DialError::Failed("x".into()).class(), DialClass::Retry);
        assert!(matches!(
            DialError::Status(401).to_stt_error(),
            vr_session::SttError::Auth(_)
        ));
        assert!(matches!(
            DialError::Timeout.to_stt_error(),
            vr_session::SttError::Connect(_)
        ));
    }

    #[test]
    fn base_urls_become_websocket_urls() {
        let u = to_ws_url("https://api.elevenlabs.io").map(|u| u.to_string());
        assert_eq!(u.as_deref(), Ok("wss://api.elevenlabs.io/"));
        let u = to_ws_url("http://127.0.0.1:9000/proxy").map(|u| u.to_string());
        assert_eq!(u.as_deref(), Ok("ws://127.0.0.1:9000/proxy"));
        assert!(to_ws_url("ftp://x").is_err());
        assert!(to_ws_url("not a url").is_err());
    }

    #[test]
    fn tls_config_builds_with_an_explicit_provider() {
        assert!(tls_config().is_ok());
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("Invalid API key: sk_1 (sk_1)", "sk_1"),
            "Invalid API key: <redacted> (<redacted>)"
        );
        assert_eq!(redact("no key", ""), "no key");
    }

    #[test]
    fn secret_headers_are_sensitive() {
        let v = secret_header("abc").unwrap_or_else(|_| http::HeaderValue::from_static(""));
        assert!(v.is_sensitive());
        assert!(secret_header("a\nb").is_err());
    }
}
