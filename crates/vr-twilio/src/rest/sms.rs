//! Messages: send an SMS (twilio-rest.md §4; B109).

use reqwest::Method;
use serde::Deserialize;

use super::calls::encode_form;
use super::client::{API_PREFIX, TwilioRestClient, api_error};
use super::error::{ConfigError, RestError};

/// Twilio's limit on `Body`, in characters.
pub const MAX_SMS_BODY_CHARS: usize = 1600;

/// What [`TwilioRestClient::send_sms`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsResult {
    /// `sid` (`SM…`).
    pub message_sid: String,
    /// `status`, e.g. `queued`.
    pub status: String,
    /// The recipient, as given.
    pub to: String,
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
    #[serde(default)]
    status: Option<String>,
}

impl TwilioRestClient {
    /// Sends `body` to `to` from the configured number ([`super::TwilioRestClientBuilder::from_number`]);
    /// without one, fails with "TWILIO_PHONE_NUMBER required" before any request.
    pub async fn send_sms(&self, to: &str, body: &str) -> Result<SmsResult, RestError> {
        let from = self
            .default_from
            .clone()
            .ok_or(ConfigError::MissingPhoneNumber)?;
        self.send_sms_from(&from, to, body).await
    }

    /// Sends `body` to `to` from `from` (`POST …/Messages.json`).
    pub async fn send_sms_from(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<SmsResult, RestError> {
        if to.trim().is_empty() || from.trim().is_empty() {
            return Err(RestError::InvalidInput(
                "To and From must not be blank".into(),
            ));
        }
        if body.is_empty() {
            return Err(RestError::InvalidInput("Body must not be empty".into()));
        }
        let chars = body.chars().count();
        if chars > MAX_SMS_BODY_CHARS {
            return Err(RestError::InvalidInput(format!(
                "Body is {chars} characters; Twilio accepts at most {MAX_SMS_BODY_CHARS}"
            )));
        }
        let form = encode_form(&[
            ("To", to.to_owned()),
            ("From", from.to_owned()),
            ("Body", body.to_owned()),
        ])?;
        let path = format!("{API_PREFIX}/Accounts/{}/Messages.json", self.account_sid());
        let (status, resp) = self
            .send(
                &self.endpoint,
                &self.credentials,
                Method::POST,
                &path,
                Some(form),
            )
            .await?;
        if !status.is_success() {
            return Err(api_error(&self.endpoint, status, &resp));
        }
        let msg: MessageResource =
            serde_json::from_slice(&resp).map_err(|e| RestError::Decode {
                host: self.endpoint.host.clone(),
                detail: format!("message resource: {e}"),
            })?;
        Ok(SmsResult {
            message_sid: msg.sid,
            status: msg.status.unwrap_or_default(),
            to: to.to_owned(),
        })
    }
}
