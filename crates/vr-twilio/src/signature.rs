//! `X-Twilio-Signature` validation (twilio-rest.md §7).
//!
//! The signed string is the full URL Twilio requested followed by the sorted POST parameters;
//! the signature is base64(HMAC-SHA1(auth token, string)). Like twilio-python's `validate()`,
//! a signature is accepted for the URL as given, the URL with its port removed, and the URL
//! with the scheme's default port added (443 for https, 80 for anything else, wss included;
//! an explicit `:443` is stripped before the port is added).

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Twilio puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Why a request's signature was refused. Never contains the auth token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No (or an empty) `X-Twilio-Signature` header.
    #[error("missing X-Twilio-Signature header")]
    Missing,
    /// The signature does not match any accepted form of the URL.
    #[error("X-Twilio-Signature does not match the request")]
    Mismatch,
    /// `bodySHA256` in the URL does not match the body.
    #[error("bodySHA256 does not match the request body")]
    BodyHashMismatch,
    /// A JSON body was validated but the URL has no `bodySHA256` parameter.
    #[error("the URL has no bodySHA256 parameter for the JSON body")]
    MissingBodyHash,
    /// The validator was built with an empty auth token (W15: never fail open).
    #[error("the auth token is empty")]
    EmptyAuthToken,
}

/// Validates Twilio request signatures with an account's auth token.
#[derive(Clone)]
pub struct SignatureValidator {
    auth_token: String,
}

impl fmt::Debug for SignatureValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureValidator")
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

impl SignatureValidator {
    /// A validator for `auth_token`; an empty or blank token is refused.
    pub fn new(auth_token: impl Into<String>) -> Result<Self, SignatureError> {
        let auth_token = auth_token.into();
        if auth_token.trim().is_empty() {
            return Err(SignatureError::EmptyAuthToken);
        }
        Ok(Self { auth_token })
    }

    /// The base64 signature Twilio would send for `url` and form `params`.
    ///
    /// Parameters are sorted by name and then value, and exact duplicates are signed once
    /// (twilio-python's handling of repeated names).
    pub fn compute<I, K, V>(&self, url: &str, params: I) -> String
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let params: Vec<(K, V)> = params.into_iter().collect();
        let mut sorted: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        sorted.sort_unstable();
        sorted.dedup();
        self.sign(url, &sorted)
    }

    /// Validates a form-encoded or GET request (or a WebSocket upgrade, with no params).
    ///
    /// `url` is the public URL Twilio requested, query string included (see
    /// [`crate::urls::public_url`]); `params` are the decoded POST parameters.
    pub fn validate<I, K, V>(
        &self,
        url: &str,
        params: I,
        header: Option<&str>,
    ) -> Result<(), SignatureError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let header = non_empty(header)?;
        let params: Vec<(K, V)> = params.into_iter().collect();
        let mut sorted: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        sorted.sort_unstable();
        sorted.dedup();
        self.check_candidates(url, &sorted, header)
    }

    /// Validates a WebSocket upgrade request: the signed URL is the `wss://` URL Twilio
    /// connected to, with no parameters (media-streams.md §2).
    pub fn validate_websocket(
        &self,
        url: &str,
        header: Option<&str>,
    ) -> Result<(), SignatureError> {
        self.validate(url, std::iter::empty::<(&str, &str)>(), header)
    }

    /// Validates a request with a JSON body (§7.2): `bodySHA256` in the URL must be the
    /// SHA-256 of `body`, and the signature covers the URL with no parameters.
    pub fn validate_json_body(
        &self,
        url: &str,
        body: &[u8],
        header: Option<&str>,
    ) -> Result<(), SignatureError> {
        let header = non_empty(header)?;
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        let expected = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned())
            .ok_or(SignatureError::MissingBodyHash)?;
        let actual = hex::encode(Sha256::digest(body));
        let body_ok: bool = actual.as_bytes().ct_eq(expected.as_bytes()).into();
        // Check the signature either way so the timing does not reveal which part failed.
        let sig = self.check_candidates(url, &[], header);
        if !body_ok {
            return Err(SignatureError::BodyHashMismatch);
        }
        sig
    }

    fn check_candidates(
        &self,
        url: &str,
        sorted: &[(&str, &str)],
        header: &str,
    ) -> Result<(), SignatureError> {
        let mut ok = false;
        for candidate in url_candidates(url) {
            let expected = self.sign(&candidate, sorted);
            ok |= bool::from(expected.as_bytes().ct_eq(header.trim().as_bytes()));
        }
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    fn sign(&self, url: &str, sorted: &[(&str, &str)]) -> String {
        // HMAC accepts keys of any length, so this cannot fail; an empty key is refused in new().
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(self.auth_token.as_bytes()) else {
            return String::new();
        };
        mac.update(url.as_bytes());
        for (k, v) in sorted {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

fn non_empty(header: Option<&str>) -> Result<&str, SignatureError> {
    match header {
        Some(h) if !h.trim().is_empty() => Ok(h),
        _ => Err(SignatureError::Missing),
    }
}

/// The URL forms a signature is accepted for: as given, without port, with default port.
fn url_candidates(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some(parts) = UrlParts::split(url) {
        let push = |out: &mut Vec<String>, s: String| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        push(&mut out, parts.with_port(None));
        let port = match parts.port {
            Some("443") | None => {
                if parts.scheme.eq_ignore_ascii_case("https") {
                    "443"
                } else {
                    "80"
                }
            }
            Some(p) => p,
        };
        push(&mut out, parts.with_port(Some(port)));
    }
    out
}

/// A URL split around its port, without any normalisation (the signed string is exact).
struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything from the scheme up to the host's end, e.g. `https://user@host`.
    head: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment.
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let (scheme, after) = url.split_once("://")?;
        let auth_len = after.find(['/', '?', '#']).unwrap_or(after.len());
        let authority = &after[..auth_len];
        let tail = &after[auth_len..];
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let hostport = &authority[host_start..];
        let colon = if hostport.starts_with('[') {
            hostport.find("]:").map(|i| i + 1)
        } else {
            hostport.rfind(':')
        };
        let (host_len, port) = match colon {
            Some(i) if hostport[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                (i, Some(&hostport[i + 1..]).filter(|p| !p.is_empty()))
            }
            _ => (hostport.len(), None),
        };
        let head_len = scheme.len() + 3 + host_start + host_len;
        Some(Self {
            scheme,
            head: &url[..head_len],
            port,
            tail,
        })
    }

    fn with_port(&self, port: Option<&str>) -> String {
        match port {
            Some(p) => format!("{}:{}{}", self.head, p, self.tail),
            None => format!("{}{}", self.head, self.tail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_port_forms() {
        assert_eq!(
            url_candidates("https://a.com/x?y=1"),
            ["https://a.com/x?y=1", "https://a.com:443/x?y=1"]
        );
        assert_eq!(
            url_candidates("wss://a.com:443/voice"),
            [
                "wss://a.com:443/voice",
                "wss://a.com/voice",
                "wss://a.com:80/voice"
            ]
        );
        assert_eq!(
            url_candidates("http://u:p@a.com:1234"),
            ["http://u:p@a.com:1234", "http://u:p@a.com"]
        );
        assert_eq!(
            url_candidates("http://[::1]:8080/p"),
            ["http://[::1]:8080/p", "http://[::1]/p"]
        );
        assert_eq!(url_candidates("not a url"), ["not a url"]);
    }

    #[test]
    fn debug_redacts_token() {
        let v = SignatureValidator::new("supersecret").unwrap();
        assert!(!format!("{v:?}").contains("supersecret"));
    }
}
