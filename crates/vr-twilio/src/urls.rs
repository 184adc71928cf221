//! URL helpers shared by signatures and TwiML: public URLs and the http(s) → ws(s) rewrite.

use std::borrow::Cow;

/// Rewrites `https://` to `wss://` and `http://` to `ws://`, only at the start of `url`
/// (W31: never elsewhere in the string). Other schemes are returned unchanged.
pub fn websocket_url(url: &str) -> Cow<'_, str> {
    if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        Cow::Owned(format!("wss://{rest}"))
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        Cow::Owned(format!("ws://{rest}"))
    } else {
        Cow::Borrowed(url)
    }
}

/// Rewrites `wss://` to `https://` and `ws://` to `http://`, only at the start of `url`: the
/// inverse of [`websocket_url`] (a status callback beside a stream URL, say).
pub fn http_url(url: &str) -> Cow<'_, str> {
    if let Some(rest) = strip_prefix_ignore_case(url, "wss://") {
        Cow::Owned(format!("https://{rest}"))
    } else if let Some(rest) = strip_prefix_ignore_case(url, "ws://") {
        Cow::Owned(format!("http://{rest}"))
    } else {
        Cow::Borrowed(url)
    }
}

/// The URL a request was addressed to, rebuilt from the configured public base (e.g.
/// `https://bot.example.com`, optionally with a path prefix) and the request's path and query
/// as the server saw them (e.g. `/voice/3f2c9a` or `/status?x=1`).
///
/// Behind a TLS-terminating proxy the server sees neither the public host nor the scheme, so
/// the base comes from configuration while the path comes from the request (W9: routed
/// `/voice/{token}` paths validate). For a WebSocket upgrade pass the result through
/// [`websocket_url`].
pub fn public_url(public_base: &str, path_and_query: &str) -> Result<String, PublicUrlError> {
    let (scheme, rest) = public_base
        .split_once("://")
        .ok_or(PublicUrlError::NoScheme)?;
    if !["http", "https", "ws", "wss"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return Err(PublicUrlError::UnsupportedScheme);
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(PublicUrlError::NoHost);
    }
    if rest.contains(['?', '#']) {
        return Err(PublicUrlError::QueryInBase);
    }
    if public_base.chars().any(|c| c.is_control() || c == ' ') {
        return Err(PublicUrlError::InvalidCharacter);
    }
    let base = public_base.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + path_and_query.len() + 1);
    url.push_str(base);
    if !path_and_query.starts_with('/') {
        url.push('/');
    }
    url.push_str(path_and_query);
    Ok(url)
}

/// Why a public base URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    /// No `scheme://`.
    #[error("public base URL has no scheme (expected https://host)")]
    NoScheme,
    /// Not http, https, ws or wss.
    #[error("public base URL scheme must be http, https, ws or wss")]
    UnsupportedScheme,
    /// Nothing after the scheme.
    #[error("public base URL has no host")]
    NoHost,
    /// A query or fragment in the base.
    #[error("public base URL must not contain a query or fragment")]
    QueryInBase,
    /// Spaces or control characters.
    #[error("public base URL contains spaces or control characters")]
    InvalidCharacter,
}

pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_url_is_the_inverse_at_the_prefix_only() {
        assert_eq!(
            http_url("wss://h/voice?u=wss://x"),
            "https://h/voice?u=wss://x"
        );
        assert_eq!(http_url("WS://h"), "http://h");
        assert_eq!(http_url("https://h"), "https://h");
        assert_eq!(websocket_url(&http_url("wss://h/a")), "wss://h/a");
    }

    #[test]
    fn scheme_rewrite_only_at_prefix() {
        assert_eq!(websocket_url("https://a.example/x"), "wss://a.example/x");
        assert_eq!(websocket_url("http://a.example/x"), "ws://a.example/x");
        assert_eq!(websocket_url("HTTPS://a.example"), "wss://a.example");
        assert_eq!(
            websocket_url("https://a.example/https://b"),
            "wss://a.example/https://b"
        );
        assert_eq!(websocket_url("wss://a.example/x"), "wss://a.example/x");
    }

    #[test]
    fn public_url_joins_base_and_path() {
        assert_eq!(
            public_url("https://bot.example.com/", "/voice/abc").unwrap(),
            "https://bot.example.com/voice/abc"
        );
        assert_eq!(
            public_url("https://bot.example.com", "status?a=1").unwrap(),
            "https://bot.example.com/status?a=1"
        );
        assert_eq!(
            public_url("bot.example.com", "/x"),
            Err(PublicUrlError::NoScheme)
        );
        assert_eq!(
            public_url("ftp://bot", "/x"),
            Err(PublicUrlError::UnsupportedScheme)
        );
        assert_eq!(
            public_url("https://bot?a", "/x"),
            Err(PublicUrlError::QueryInBase)
        );
        assert_eq!(public_url("https://", "/x"), Err(PublicUrlError::NoHost));
    }
}
