//! Credentials, SIDs and regional API hosts (twilio-rest.md §1; B148–B150).

use std::fmt;

use super::error::ConfigError;

/// The default (US1) API host.
pub const DEFAULT_API_HOST: &str = "api.twilio.com";

/// Checks that `sid` is non-empty ASCII letters and digits (B149), so it is safe in a URL path.
pub fn validate_sid(sid: &str, what: &'static str) -> Result<(), ConfigError> {
    if !sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(ConfigError::InvalidSid { what })
    }
}

/// HTTP Basic credentials for one account: the auth token, or an API key (`SK…`) and its
/// secret. The account SID is always the one in the request path.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioCredentials {
    account_sid: String,
    username: String,
    secret: String,
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioCredentials")
            .field("account_sid", &self.account_sid)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl TwilioCredentials {
    /// Account SID + auth token.
    pub fn auth_token(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let account_sid = account_sid.into();
        validate_sid(&account_sid, "account SID")?;
        let secret = auth_token.into();
        if secret.trim().is_empty() {
            return Err(ConfigError::InvalidCredentials("auth token is blank"));
        }
        Ok(Self {
            username: account_sid.clone(),
            account_sid,
            secret,
        })
    }

    /// Account SID + API key SID + API key secret (no auth token needed).
    pub fn api_key(
        account_sid: impl Into<String>,
        key_sid: impl Into<String>,
        key_secret: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let account_sid = account_sid.into();
        validate_sid(&account_sid, "account SID")?;
        let username = key_sid.into();
        validate_sid(&username, "API key SID")?;
        let secret = key_secret.into();
        if secret.trim().is_empty() {
            return Err(ConfigError::InvalidCredentials("API key secret is blank"));
        }
        Ok(Self {
            account_sid,
            username,
            secret,
        })
    }

    /// The account SID used in request paths.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// The Basic auth user (account SID or API key SID).
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

/// One Twilio Region's API host with the credentials valid there (credentials are per
/// Region). Immutable once built; `Debug` hides the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioRegion {
    api_host: String,
    credentials: TwilioCredentials,
}

impl TwilioRegion {
    /// A region at `api_host` (`api.twilio.com` or `api.{edge}.{region}.twilio.com`, lower case,
    /// nothing else: no scheme, port, path or trailing dot).
    pub fn new(
        api_host: impl Into<String>,
        credentials: TwilioCredentials,
    ) -> Result<Self, ConfigError> {
        let api_host = api_host.into();
        validate_api_host(&api_host)?;
        Ok(Self {
            api_host,
            credentials,
        })
    }

    /// The API host.
    pub fn api_host(&self) -> &str {
        &self.api_host
    }

    /// The credentials used at this host.
    pub fn credentials(&self) -> &TwilioCredentials {
        &self.credentials
    }
}

/// Checks a regional API host (B148): `api.twilio.com` or `api.<label>.<label>.twilio.com`
/// with DNS labels of lower-case letters, digits and inner hyphens.
pub fn validate_api_host(host: &str) -> Result<(), ConfigError> {
    if host == DEFAULT_API_HOST {
        return Ok(());
    }
    let labels = host
        .strip_prefix("api.")
        .and_then(|h| h.strip_suffix(".twilio.com"))
        .map(|mid| mid.split('.').collect::<Vec<_>>());
    match labels.as_deref() {
        Some([edge, region]) if is_label(edge) && is_label(region) => Ok(()),
        _ => Err(ConfigError::InvalidRegion(
            "api_host must be api.twilio.com or api.<edge>.<region>.twilio.com",
        )),
    }
}

/// A DNS label as Twilio uses them: `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`.
pub(crate) fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
}

/// The API host for an ambient region/edge (twilio-python's rules): none → `api.twilio.com`;
/// an edge alone → region `us1`; both → `api.{edge}.{region}.twilio.com`; a region alone →
/// `api.{region}.twilio.com`, a form Twilio retires on 2026-04-28 (always configure an edge).
pub fn api_host_for(region: Option<&str>, edge: Option<&str>) -> Result<String, ConfigError> {
    let check = |name: &'static str, v: &str| {
        if is_label(v) {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                name,
                reason: "must be a lower-case DNS label such as `ie1` or `dublin`".into(),
            })
        }
    };
    match (region, edge) {
        (None, None) => Ok(DEFAULT_API_HOST.to_owned()),
        (None, Some(e)) => {
            check("TWILIO_EDGE", e)?;
            Ok(format!("api.{e}.us1.twilio.com"))
        }
        (Some(r), Some(e)) => {
            check("TWILIO_REGION", r)?;
            check("TWILIO_EDGE", e)?;
            Ok(format!("api.{e}.{r}.twilio.com"))
        }
        (Some(r), None) => {
            check("TWILIO_REGION", r)?;
            tracing::warn!(
                region = r,
                "TWILIO_REGION without TWILIO_EDGE uses api.{{region}}.twilio.com, which Twilio retires on 2026-04-28; set TWILIO_EDGE"
            );
            Ok(format!("api.{r}.twilio.com"))
        }
    }
}

/// Checks a list of regions for a hang-up (B150): non-empty, hosts distinct.
pub(crate) fn validate_regions(regions: &[TwilioRegion]) -> Result<(), ConfigError> {
    if regions.is_empty() {
        return Err(ConfigError::InvalidRegion("the region list is empty"));
    }
    for (i, r) in regions.iter().enumerate() {
        validate_api_host(&r.api_host)?;
        if regions[..i].iter().any(|o| o.api_host == r.api_host) {
            return Err(ConfigError::InvalidRegion("the region list repeats a host"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids() {
        assert!(validate_sid("AC123abc", "account SID").is_ok());
        for bad in [
            "", " ", "AC/1", "AC\\1", "AC?1", "AC#1", "AC%2f1", "AC 1", "AC\t1", "AC\n1",
            "AC\u{0}1", "ÅC1", "AC-1",
        ] {
            assert!(validate_sid(bad, "call SID").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            "api.twilio.com",
            "api.dublin.ie1.twilio.com",
            "api.sydney.au1.twilio.com",
        ] {
            assert!(validate_api_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "api.ie1.twilio.com",
            "https://api.twilio.com",
            "api.twilio.com:443",
            "api.twilio.com.",
            "API.dublin.ie1.twilio.com",
            "api.dub_lin.ie1.twilio.com",
            "api.-dublin.ie1.twilio.com",
            "api.dublin.ie1.twilio.com/x",
            "user@api.dublin.ie1.twilio.com",
            "api.a.b.c.twilio.com",
            "api.dublin.ie1.twilio.com.evil.com",
        ] {
            assert!(validate_api_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ambient_hosts() {
        assert_eq!(api_host_for(None, None).unwrap(), "api.twilio.com");
        assert_eq!(
            api_host_for(Some("au1"), Some("sydney")).unwrap(),
            "api.sydney.au1.twilio.com"
        );
        assert_eq!(
            api_host_for(None, Some("dublin")).unwrap(),
            "api.dublin.us1.twilio.com"
        );
        assert_eq!(
            api_host_for(Some("ie1"), None).unwrap(),
            "api.ie1.twilio.com"
        );
        assert!(api_host_for(Some("ie1/x"), Some("dublin")).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let c = TwilioCredentials::api_key("AC1", "SK1", "topsecret").unwrap();
        let r = TwilioRegion::new("api.dublin.ie1.twilio.com", c).unwrap();
        assert!(!format!("{r:?}").contains("topsecret"));
        let e = TwilioCredentials::auth_token("AC 1", "topsecret").unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
        assert!(TwilioCredentials::auth_token("AC1", "  ").is_err());
    }
}
