//! Drives a streaming HTTP response into an [`Utterance`]: the shared loop of the HTTP
//! providers.
//!
//! Request → first audio byte is bounded by [`Timeouts::first_byte`] (connect and headers
//! included); every later gap by [`Timeouts::stall`]. Every wait races the utterance's
//! cancellation and the call's end, and dropping the response closes the connection, so a
//! barge-in or hang-up stops the download at once.

use std::time::Duration;

use reqwest::{RequestBuilder, Response};
use tokio::time::{Instant, timeout_at};
use vr_session::{SpeakOutcome, TtsError, Utterance};

use crate::Timeouts;
use crate::util::{error_chain, finish, halt, redact, summarize_error_body};

/// Most error-body bytes read before summarising.
const MAX_ERROR_BODY: usize = 8 * 1024;

/// Sends `request` and streams its body into `utt`, then finishes the utterance.
///
/// `provider` names the service in logs. `secret` (the credential sent) is redacted from the
/// provider's error bodies, which may echo it and end up in logs and error events.
pub(crate) async fn stream_response(
    mut utt: Utterance,
    request: RequestBuilder,
    timeouts: Timeouts,
    provider: &'static str,
    secret: &str,
) -> SpeakOutcome {
    let cancel = utt.cancel_token().clone();
    let ended = utt.call().ended_token();
    let first_deadline = Instant::now() + timeouts.first_byte;

    let sent = tokio::select! {
        biased;
        _ = cancel.cancelled() => return halt(utt),
        _ = ended.cancelled() => return halt(utt),
        sent = timeout_at(first_deadline, request.send()) => sent,
    };
    let mut response = match sent {
        Err(_) => return utt.fail(TtsError::FirstByteTimeout),
        Ok(Err(e)) => return utt.fail(send_error(&e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    tracing::debug!(provider, %status, "tts response headers");
    if !status.is_success() {
        let read = read_error_body(response, timeouts.stall, secret);
        let body = tokio::select! {
            biased;
            _ = cancel.cancelled() => return halt(utt),
            _ = ended.cancelled() => return halt(utt),
            body = read => body,
        };
        return utt.fail(TtsError::Http {
            status: status.as_u16(),
            body,
        });
    }

    let mut audio_bytes: u64 = 0;
    loop {
        let deadline = if audio_bytes == 0 {
            first_deadline
        } else {
            Instant::now() + timeouts.stall
        };
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return halt(utt),
            _ = ended.cancelled() => return halt(utt),
            next = timeout_at(deadline, response.chunk()) => next,
        };
        match next {
            Err(_) if audio_bytes == 0 => return utt.fail(TtsError::FirstByteTimeout),
            Err(_) => return utt.fail(TtsError::Stalled),
            Ok(Err(e)) => return utt.fail(TtsError::StreamBroken(error_chain(&e))),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if chunk.is_empty() {
                    continue;
                }
                audio_bytes += chunk.len() as u64;
                if let Err(why) = utt.push(&chunk).await {
                    return utt.stop(why);
                }
            }
        }
    }
    if audio_bytes == 0 {
        // W25: a 200 that carries no audio is a failed synthesis, not a success.
        return utt.fail(TtsError::Protocol(format!(
            "{provider} answered {status} with no audio"
        )));
    }
    tracing::debug!(provider, audio_bytes, "tts audio complete");
    finish(utt).await
}

/// Maps a failure to get response headers.
fn send_error(e: &reqwest::Error) -> TtsError {
    let text = error_chain(e);
    if e.is_timeout() {
        TtsError::FirstByteTimeout
    } else if e.is_builder() {
        TtsError::Config(text)
    } else if e.is_connect() {
        // Connection refused, DNS, TLS: the service was not reached.
        TtsError::Connect(text)
    } else {
        // Reached, but the connection broke before a response (reset, closed early).
        TtsError::StreamBroken(text)
    }
}

/// Reads (at most [`MAX_ERROR_BODY`] bytes of) an error response, each read bounded by
/// `stall`, and summarises it with `secret` redacted. A body that cannot be read gives what
/// was read so far.
async fn read_error_body(mut response: Response, stall: Duration, secret: &str) -> String {
    let mut raw = Vec::new();
    while raw.len() < MAX_ERROR_BODY {
        match tokio::time::timeout(stall, response.chunk()).await {
            Ok(Ok(Some(chunk))) => raw.extend_from_slice(&chunk),
            _ => break,
        }
    }
    raw.truncate(MAX_ERROR_BODY);
    // Redacted before summarising, so truncation cannot leave part of the secret behind.
    summarize_error_body(redact(&String::from_utf8_lossy(&raw), secret).as_bytes())
}
