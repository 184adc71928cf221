//! Calls: create (twilio-rest.md §2) and hang up (§3; B146–B152).

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::client::{API_PREFIX, Endpoint, TwilioRestClient, api_error};
use super::error::RestError;
use super::region::{TwilioCredentials, TwilioRegion, validate_regions, validate_sid};

/// Twilio's limit on inline `Twiml`, in characters.
pub const MAX_INLINE_TWIML_CHARS: usize = 4000;

/// What Twilio runs when the call connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallSource {
    /// Inline TwiML (`Twiml`, at most 4000 characters).
    Twiml(String),
    /// A URL returning TwiML (`Url`, with optional `Method`).
    Url {
        /// Absolute URL.
        url: String,
        /// `GET` or `POST` (Twilio's default `POST`).
        method: Option<String>,
    },
    /// A TwiML application (`ApplicationSid`).
    ApplicationSid(String),
}

/// `POST …/Calls.json` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCall {
    /// `To`: E.164 number, `sip:…` or `client:…`.
    pub to: String,
    /// `From`: a Twilio number or verified caller ID.
    pub from: String,
    /// `Twiml`, `Url` or `ApplicationSid`.
    pub source: CallSource,
    /// `StatusCallback`.
    pub status_callback: Option<String>,
    /// `StatusCallbackEvent`, one field per event (`initiated`, `ringing`, `answered`, `completed`).
    pub status_callback_events: Vec<String>,
    /// `StatusCallbackMethod`.
    pub status_callback_method: Option<String>,
    /// `Timeout`: ring seconds (1–600).
    pub timeout: Option<u32>,
    /// `TimeLimit`: maximum call seconds.
    pub time_limit: Option<u32>,
    /// `MachineDetection`: `Enable` or `DetectMessageEnd`.
    pub machine_detection: Option<String>,
    /// `Record`.
    pub record: Option<bool>,
}

impl CreateCall {
    /// A call from `from` to `to` running inline `twiml`.
    pub fn twiml(to: impl Into<String>, from: impl Into<String>, twiml: impl Into<String>) -> Self {
        Self::with_source(to, from, CallSource::Twiml(twiml.into()))
    }

    /// A call from `from` to `to` fetching TwiML from `url`.
    pub fn url(to: impl Into<String>, from: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with_source(
            to,
            from,
            CallSource::Url {
                url: url.into(),
                method: None,
            },
        )
    }

    /// A call with any [`CallSource`] and no optional fields.
    pub fn with_source(to: impl Into<String>, from: impl Into<String>, source: CallSource) -> Self {
        Self {
            to: to.into(),
            from: from.into(),
            source,
            status_callback: None,
            status_callback_events: Vec::new(),
            status_callback_method: None,
            timeout: None,
            time_limit: None,
            machine_detection: None,
            record: None,
        }
    }

    /// The form fields in Twilio's names, repeated keys for events.
    pub fn form_fields(&self) -> Result<Vec<(&'static str, String)>, RestError> {
        let blank = |s: &str| s.trim().is_empty();
        if blank(&self.to) || blank(&self.from) {
            return Err(RestError::InvalidInput(
                "To and From must not be blank".into(),
            ));
        }
        let mut f: Vec<(&'static str, String)> =
            vec![("To", self.to.clone()), ("From", self.from.clone())];
        match &self.source {
            CallSource::Twiml(t) => {
                let chars = t.chars().count();
                if chars > MAX_INLINE_TWIML_CHARS {
                    return Err(RestError::InvalidInput(format!(
                        "inline TwiML is {chars} characters; Twilio accepts at most {MAX_INLINE_TWIML_CHARS}"
                    )));
                }
                f.push(("Twiml", t.clone()));
            }
            CallSource::Url { url, method } => {
                f.push(("Url", url.clone()));
                if let Some(m) = method {
                    f.push(("Method", m.clone()));
                }
            }
            CallSource::ApplicationSid(sid) => {
                validate_sid(sid, "application SID")?;
                f.push(("ApplicationSid", sid.clone()));
            }
        }
        if let Some(cb) = &self.status_callback {
            f.push(("StatusCallback", cb.clone()));
        }
        for ev in &self.status_callback_events {
            f.push(("StatusCallbackEvent", ev.clone()));
        }
        if let Some(m) = &self.status_callback_method {
            f.push(("StatusCallbackMethod", m.clone()));
        }
        if let Some(t) = self.timeout {
            if !(1..=600).contains(&t) {
                return Err(RestError::InvalidInput(
                    "Timeout must be 1..=600 seconds".into(),
                ));
            }
            f.push(("Timeout", t.to_string()));
        }
        if let Some(t) = self.time_limit {
            f.push(("TimeLimit", t.to_string()));
        }
        if let Some(m) = &self.machine_detection {
            f.push(("MachineDetection", m.clone()));
        }
        if let Some(r) = self.record {
            f.push(("Record", r.to_string()));
        }
        Ok(f)
    }
}

/// A call as the API returns it (the fields the runtime uses; JSON keys are snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallResource {
    /// `sid` (`CA…`).
    pub sid: String,
    /// `account_sid`.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// `to`.
    #[serde(default)]
    pub to: Option<String>,
    /// `from`.
    #[serde(default)]
    pub from: Option<String>,
    /// `status`, e.g. `queued`.
    #[serde(default)]
    pub status: Option<String>,
    /// `direction`, e.g. `outbound-api`.
    #[serde(default)]
    pub direction: Option<String>,
    /// `start_time` (RFC 2822).
    #[serde(default)]
    pub start_time: Option<String>,
    /// `date_created` (RFC 2822).
    #[serde(default)]
    pub date_created: Option<String>,
}

/// How a hang-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupResult {
    /// Twilio accepted `Status=completed`.
    Completed,
    /// 400 with code 21220: the call had already ended.
    AlreadyEnded,
}

/// A successful hang-up across regions: which host owned the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionHangup {
    /// The host that answered.
    pub api_host: String,
    /// How it ended.
    pub result: HangupResult,
}

enum Attempt {
    Done(HangupResult),
    NotFound(String),
}

impl TwilioRestClient {
    /// Places a call (`POST /2010-04-01/Accounts/{AC}/Calls.json`).
    pub async fn create_call(&self, call: &CreateCall) -> Result<CallResource, RestError> {
        let fields = call.form_fields()?;
        let form = encode_form(&fields)?;
        let path = format!("{API_PREFIX}/Accounts/{}/Calls.json", self.account_sid());
        let (status, body) = self
            .send(
                &self.endpoint,
                &self.credentials,
                Method::POST,
                &path,
                Some(form),
            )
            .await?;
        if !status.is_success() {
            return Err(api_error(&self.endpoint, status, &body));
        }
        let call: CallResource = serde_json::from_slice(&body).map_err(|e| RestError::Decode {
            host: self.endpoint.host.clone(),
            detail: format!("call resource: {e}"),
        })?;
        if validate_sid(&call.sid, "call SID").is_err() {
            return Err(RestError::Decode {
                host: self.endpoint.host.clone(),
                detail: "call resource has an invalid sid".into(),
            });
        }
        Ok(call)
    }

    /// Ends a call with `Status=completed` at this client's host (B147): 2xx → `Completed`,
    /// 400/21220 → `AlreadyEnded`, 404/20404 → [`RestError::NotFound`] naming the host,
    /// anything else → the typed error. The SID is checked before any request (W16).
    pub async fn hangup(&self, call_sid: &str) -> Result<HangupResult, RestError> {
        validate_sid(call_sid, "call SID")?;
        match self
            .hangup_at(&self.endpoint, &self.credentials, call_sid)
            .await?
        {
            Attempt::Done(r) => Ok(r),
            Attempt::NotFound(message) => Err(RestError::NotFound {
                host: self.endpoint.host.clone(),
                message,
            }),
        }
    }

    /// Ends a call that lives in one of `regions`, tried in order (B150–B151): success or
    /// 21220 stops; 404/20404 moves to the next region; any other error (timeouts included)
    /// stops after that one request. When every region answers 404/20404 the error is
    /// [`RestError::CallNotFound`] listing the hosts. The SID and the whole list are checked
    /// before any request; this client's own host and credentials are not used.
    pub async fn hangup_in_regions(
        &self,
        call_sid: &str,
        regions: &[TwilioRegion],
    ) -> Result<RegionHangup, RestError> {
        validate_sid(call_sid, "call SID")?;
        validate_regions(regions)?;
        let mut hosts = Vec::with_capacity(regions.len());
        for region in regions {
            let ep = self.region_endpoint(region);
            match self.hangup_at(&ep, region.credentials(), call_sid).await? {
                Attempt::Done(result) => {
                    return Ok(RegionHangup {
                        api_host: ep.host,
                        result,
                    });
                }
                Attempt::NotFound(_) => {
                    tracing::debug!(api_host = %ep.host, "call not in this region; trying the next");
                    hosts.push(ep.host);
                }
            }
        }
        Err(RestError::CallNotFound { hosts })
    }

    async fn hangup_at(
        &self,
        ep: &Endpoint,
        creds: &TwilioCredentials,
        call_sid: &str,
    ) -> Result<Attempt, RestError> {
        let path = format!(
            "{API_PREFIX}/Accounts/{}/Calls/{call_sid}.json",
            creds.account_sid()
        );
        let (status, body) = self
            .send(
                ep,
                creds,
                Method::POST,
                &path,
                Some("Status=completed".to_owned()),
            )
            .await?;
        if status.is_success() {
            return Ok(Attempt::Done(HangupResult::Completed));
        }
        let err = api_error(ep, status, &body);
        match (status, err.twilio_code()) {
            (StatusCode::BAD_REQUEST, Some(21220)) => {
                tracing::info!(api_host = %ep.host, "call already ended (Twilio 21220)");
                Ok(Attempt::Done(HangupResult::AlreadyEnded))
            }
            (StatusCode::NOT_FOUND, Some(20404)) => Ok(Attempt::NotFound(match err {
                RestError::Api { message, .. } => message,
                _ => String::new(),
            })),
            _ => Err(err),
        }
    }
}

/// `application/x-www-form-urlencoded` with repeated keys kept in order.
pub(crate) fn encode_form(fields: &[(&str, String)]) -> Result<String, RestError> {
    serde_urlencoded::to_string(fields).map_err(|e| RestError::InvalidInput(e.to_string()))
}
