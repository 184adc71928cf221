//! A Twilio REST client (twilio-rest.md §1–4, §6): create and hang up calls (also across
//! regions), send SMS, and list calls, plus environment configuration.
//!
//! Every request has a bounded timeout (default 15 s), never follows redirects, and reports
//! failures as [`RestError`] carrying the HTTP status and Twilio's code and message. No error,
//! `Debug` output or log line contains an auth token or API key secret.

mod calls;
mod client;
mod config;
mod error;
mod list;
mod paging;
mod region;
mod sms;
mod time;

pub use calls::{
    CallResource, CallSource, CreateCall, HangupResult, MAX_INLINE_TWIML_CHARS, RegionHangup,
};
pub use client::{DEFAULT_TIMEOUT, TwilioRestClient, TwilioRestClientBuilder};
pub use config::{DEFAULT_SERVER_PORT, TwilioConfig, parse_timeout_secs};
pub use error::{ConfigError, RestError};
pub use list::{CallRow, ListCalls, RecentCall};
pub use region::{
    DEFAULT_API_HOST, TwilioCredentials, TwilioRegion, api_host_for, validate_api_host,
    validate_sid,
};
pub use sms::{MAX_SMS_BODY_CHARS, SmsResult};
