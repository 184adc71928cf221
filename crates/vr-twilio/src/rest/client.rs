//! The REST client: one reqwest client with a bounded timeout, no redirects, Basic auth, and
//! Twilio error bodies turned into typed errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::error::{ConfigError, RestError};
use super::region::{TwilioCredentials, TwilioRegion, api_host_for, validate_api_host};

/// Default per-request timeout (`TWILIO_HTTP_TIMEOUT` default, B153).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The API version prefix of every path.
pub(crate) const API_PREFIX: &str = "/2010-04-01";

/// Largest response body read; Twilio's pages of 1000 calls are well under this.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Where requests for one API host go.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Host named in errors, e.g. `api.dublin.ie1.twilio.com`.
    pub(crate) host: String,
    /// The origin Twilio's absolute URLs use, e.g. `https://api.twilio.com`.
    pub(crate) origin: String,
    /// The origin requests are actually sent to (differs only with [`TwilioRestClientBuilder::route_host`]).
    pub(crate) transport: String,
}

/// A Twilio REST client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TwilioRestClient {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: Endpoint,
    pub(crate) credentials: TwilioCredentials,
    pub(crate) timeout: Duration,
    pub(crate) default_from: Option<String>,
    routes: Arc<HashMap<String, String>>,
}

/// Builds a [`TwilioRestClient`].
#[derive(Debug, Clone)]
pub struct TwilioRestClientBuilder {
    credentials: TwilioCredentials,
    base_url: Option<String>,
    region: Option<String>,
    edge: Option<String>,
    timeout: Duration,
    default_from: Option<String>,
    routes: HashMap<String, String>,
}

impl TwilioRestClient {
    /// A builder for a client using `credentials` (default host `api.twilio.com`, 15 s timeout).
    pub fn builder(credentials: TwilioCredentials) -> TwilioRestClientBuilder {
        TwilioRestClientBuilder {
            credentials,
            base_url: None,
            region: None,
            edge: None,
            timeout: DEFAULT_TIMEOUT,
            default_from: None,
            routes: HashMap::new(),
        }
    }

    /// The API host requests go to (as named in errors).
    pub fn api_host(&self) -> &str {
        &self.endpoint.host
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The account SID used in request paths.
    pub fn account_sid(&self) -> &str {
        self.credentials.account_sid()
    }

    /// The endpoint for a region's host, honouring `route_host` overrides.
    pub(crate) fn region_endpoint(&self, region: &TwilioRegion) -> Endpoint {
        let host = region.api_host().to_owned();
        let origin = format!("https://{host}");
        let transport = self
            .routes
            .get(&host)
            .cloned()
            .unwrap_or_else(|| origin.clone());
        Endpoint {
            host,
            origin,
            transport,
        }
    }

    /// Sends one request and returns the status and body; only transport failures are errors.
    pub(crate) async fn send(
        &self,
        ep: &Endpoint,
        creds: &TwilioCredentials,
        method: Method,
        path_and_query: &str,
        form: Option<String>,
    ) -> Result<(StatusCode, Vec<u8>), RestError> {
        let url = format!("{}{}", ep.transport, path_and_query);
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(creds.username(), Some(creds.secret()))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = form {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body);
        }
        let mut resp = req.send().await.map_err(|e| self.transport_error(ep, &e))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(ep, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(RestError::Decode {
                    host: ep.host.clone(),
                    detail: format!("response body over {MAX_BODY_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn transport_error(&self, ep: &Endpoint, e: &reqwest::Error) -> RestError {
        if e.is_timeout() {
            return RestError::Timeout {
                host: ep.host.clone(),
                timeout: self.timeout,
            };
        }
        // reqwest's message may name the URL: it holds only the host and SIDs, since the
        // credentials travel in the Authorization header, which no error ever includes.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        RestError::Transport {
            host: ep.host.clone(),
            message,
        }
    }
}

/// Turns a non-2xx answer into a typed error.
pub(crate) fn api_error(ep: &Endpoint, status: StatusCode, body: &[u8]) -> RestError {
    if status.is_redirection() {
        return RestError::Redirect {
            host: ep.host.clone(),
            status: status.as_u16(),
        };
    }
    let (code, message, more_info) = parse_error_body(body);
    RestError::Api {
        host: ep.host.clone(),
        status: status.as_u16(),
        code,
        message,
        more_info,
    }
}

/// Reads Twilio's error body: the legacy `{code, message, more_info, status}` form, or the
/// RFC 9457 form when `type`, `title`, `status` and `code` are all present (twilio-python).
pub(crate) fn parse_error_body(body: &[u8]) -> (Option<u32>, String, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, excerpt(body), None);
    };
    let code = map
        .get("code")
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u32::try_from(c).ok());
    let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let rfc9457 = ["type", "title", "status", "code"]
        .iter()
        .all(|k| map.contains_key(*k));
    let message = if rfc9457 {
        text("detail").or_else(|| text("title"))
    } else {
        text("message")
    }
    .unwrap_or_default();
    let more_info = text("more_info").or_else(|| rfc9457.then(|| text("type")).flatten());
    (code, message, more_info)
}

fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    clean.trim().to_owned()
}

impl TwilioRestClientBuilder {
    /// Sends every request to `url` (e.g. `http://127.0.0.1:8099` for a fake); overrides
    /// region and edge. Must be `http(s)://host[:port]` with no path, query or userinfo.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Ambient region, e.g. `ie1` (see [`super::api_host_for`]).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Ambient edge, e.g. `dublin`; an edge without a region means `us1`.
    pub fn edge(mut self, edge: impl Into<String>) -> Self {
        self.edge = Some(edge.into());
        self
    }

    /// Per-request timeout (connect + send + read); must be above zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `From` number used by [`TwilioRestClient::send_sms`].
    pub fn from_number(mut self, number: impl Into<String>) -> Self {
        self.default_from = Some(number.into());
        self
    }

    /// Sends requests meant for API host `host` to `base_url` instead (tests against a local
    /// fake, or an egress proxy). Errors and paging checks still use `host`.
    pub fn route_host(mut self, host: impl Into<String>, base_url: impl Into<String>) -> Self {
        self.routes.insert(host.into(), base_url.into());
        self
    }

    /// Builds the client; fails on a zero timeout or an unusable host or base URL.
    pub fn build(self) -> Result<TwilioRestClient, ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::InvalidTimeout { name: "timeout" });
        }
        let endpoint = match &self.base_url {
            Some(url) => {
                let origin = check_base_url(url, "base URL")?;
                Endpoint {
                    host: origin.split_once("://").map_or("", |(_, h)| h).to_owned(),
                    transport: origin.clone(),
                    origin,
                }
            }
            None => {
                let host = api_host_for(self.region.as_deref(), self.edge.as_deref())?;
                let origin = format!("https://{host}");
                let transport = self
                    .routes
                    .get(&host)
                    .cloned()
                    .unwrap_or_else(|| origin.clone());
                Endpoint {
                    host,
                    origin,
                    transport,
                }
            }
        };
        let mut routes = HashMap::new();
        for (host, base) in self.routes {
            validate_api_host(&host)?;
            routes.insert(host, check_base_url(&base, "route base URL")?);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "voice-runtime-vr-twilio/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| ConfigError::Invalid {
                name: "HTTP client",
                reason: e.to_string(),
            })?;
        Ok(TwilioRestClient {
            http,
            endpoint: Endpoint {
                transport: routes
                    .get(&endpoint.host)
                    .cloned()
                    .unwrap_or(endpoint.transport),
                ..endpoint
            },
            credentials: self.credentials,
            timeout: self.timeout,
            default_from: self.default_from,
            routes: Arc::new(routes),
        })
    }
}

/// Validates `http(s)://host[:port]` (trailing `/` allowed) and returns it without the slash.
pub(crate) fn check_base_url(url: &str, name: &'static str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?;
    if rest.is_empty() {
        return Err(invalid("has no host"));
    }
    if rest.contains(['/', '?', '#', '@', '\\'])
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "must be scheme://host[:port] with no path, query or userinfo",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let (code, msg, more) = parse_error_body(
            br#"{"code": 20404, "message": "The requested resource was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#,
        );
        assert_eq!(code, Some(20404));
        assert_eq!(msg, "The requested resource was not found");
        assert_eq!(
            more.as_deref(),
            Some("https://www.twilio.com/docs/errors/20404")
        );
        let (code, msg, _) = parse_error_body(
            br#"{"type":"https://x/20003","title":"Authenticate","status":401,"code":20003,"detail":"bad creds"}"#,
        );
        assert_eq!((code, msg.as_str()), (Some(20003), "bad creds"));
        let (code, msg, _) = parse_error_body(b"<html>\nbad gateway</html>");
        assert_eq!((code, msg.as_str()), (None, "<html> bad gateway</html>"));
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            check_base_url("http://127.0.0.1:9/", "x").unwrap(),
            "http://127.0.0.1:9"
        );
        for bad in [
            "ftp://x",
            "https://",
            "https://a/b",
            "https://u@a",
            "https://a?x",
        ] {
            assert!(check_base_url(bad, "x").is_err(), "{bad}");
        }
    }
}
