//! Ending a call over REST so Twilio closes the stream itself (avoids error 31921).

use std::future::Future;
use std::pin::Pin;

use crate::rest::TwilioRestClient;

/// Ends a call by its SID (REST `Status=completed`).
pub trait CallEnder: Send + Sync + 'static {
    /// Ends the call; "already ended" counts as success. The error text must hold no secret.
    fn end_call<'a>(
        &'a self,
        call_sid: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// A [`CallEnder`] on the Twilio REST client.
#[derive(Debug, Clone)]
pub struct RestCallEnder(pub TwilioRestClient);

impl CallEnder for RestCallEnder {
    fn end_call<'a>(
        &'a self,
        call_sid: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .hangup(call_sid)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
