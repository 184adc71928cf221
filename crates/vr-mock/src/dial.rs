//! Placing a mock call on a server (the original's `initiate_mock_call`, B117, B167–B168).
//!
//! [`resolve_stream_url`] POSTs the voice webhook (`{target}/incoming`) as Twilio would and
//! reads the `<Stream url>` from the TwiML answer, so a [`Bridge`](crate::Bridge) can dial
//! the stream the server asked for. No state is kept here: the caller owns the result.

use std::time::Duration;

/// The caller number the original used for mock calls.
pub const MOCK_FROM: &str = "+358400000000";

/// Timeout of the webhook request.
pub const INCOMING_TIMEOUT: Duration = Duration::from_secs(10);

/// A mock call id in the original's shape: `CAMOCK_` + 8 hex digits.
pub fn mock_call_sid() -> String {
    format!("CAMOCK_{:08x}", rand::random::<u32>())
}

/// POSTs `{CallSid, From}` to `{target}/incoming` and returns the websocket URL to dial: the
/// first `<Stream url>` of the answer with `http(s)` turned into `ws(s)`, or `{target}/voice`
/// when the answer has none (B167).
///
/// # Errors
/// Transport errors and error statuses from the webhook.
pub async fn resolve_stream_url(
    client: &reqwest::Client,
    target: &str,
    call_sid: &str,
) -> Result<String, reqwest::Error> {
    let target = target.trim_end_matches('/');
    let body = client
        .post(format!("{target}/incoming"))
        .timeout(INCOMING_TIMEOUT)
        .form(&[("CallSid", call_sid), ("From", MOCK_FROM)])
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
        .unwrap_or_default();
    Ok(stream_url_from_twiml(&body).unwrap_or_else(|| to_ws(&format!("{target}/voice"))))
}

/// The first `<Stream url="…">` in a TwiML document (tag and attribute names
/// case-insensitive), with `http(s)` turned into `ws(s)`.
pub fn stream_url_from_twiml(twiml: &str) -> Option<String> {
    let lower = twiml.to_ascii_lowercase();
    let tag = lower.find("<stream")?;
    let end = tag + lower[tag..].find('>')?;
    let attrs = &lower[tag..end];
    let mut search = 0;
    while let Some(i) = attrs[search..].find("url") {
        let at = search + i;
        search = at + 3;
        let before_ok = attrs[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = attrs[at + 3..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value = rest[1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        // Offsets into the original (case-preserved) text.
        let start = tag + (attrs.len() - value.len()) + 1;
        let len = twiml[start..end].find(quote)?;
        let url = twiml[start..start + len].replace("&amp;", "&");
        return Some(to_ws(&url));
    }
    None
}

fn to_ws(url: &str) -> String {
    vr_twilio::urls::websocket_url(url).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stream_url_case_insensitively() {
        let twiml = r#"<?xml version="1.0"?><Response><Connect><STREAM Url="https://Host.example/voice/route-token-123"/></Connect></Response>"#;
        assert_eq!(
            stream_url_from_twiml(twiml).as_deref(),
            Some("wss://Host.example/voice/route-token-123")
        );
        assert_eq!(
            stream_url_from_twiml("<Response><Stream name='x' url='http://h/voice'/></Response>")
                .as_deref(),
            Some("ws://h/voice")
        );
        assert_eq!(
            stream_url_from_twiml("<Response><Say>hi</Say></Response>"),
            None
        );
        assert_eq!(stream_url_from_twiml("not xml"), None);
    }

    #[test]
    fn mock_call_sids_have_the_original_shape() {
        let sid = mock_call_sid();
        assert!(sid.starts_with("CAMOCK_") && sid.len() == 15, "{sid}");
    }
}
