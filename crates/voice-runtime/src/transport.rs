//! The transport choice (B119): Twilio, or `TRANSPORT=mock`, where an outbound call is a
//! bot-to-bot bridge between two local servers instead of a phone call (B117, B167–B168).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vr_mock::dial::{mock_call_sid, resolve_stream_url};
use vr_mock::{Bridge, BridgeConfig, BridgeReport, BridgeSide, SimIds, SimulatorError};
use vr_session::{CallRegistry, VoiceSession};
use vr_twilio::outbound::{OutboundDialer, OutboundError, PlacedCall};
use vr_twilio::rest::TwilioConfig;

/// How outbound calls are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Twilio REST: a real phone call.
    Twilio,
    /// The bot-to-bot bridge: no phone network.
    Mock,
}

/// Why a call could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Twilio settings or REST.
    #[error(transparent)]
    Twilio(#[from] OutboundError),
    /// The target's voice webhook failed.
    #[error("the target's voice webhook failed: {0}")]
    Webhook(#[from] reqwest::Error),
    /// A mock call needs the caller bot's server.
    #[error(
        "a mock call needs the caller bot's server: set VOICE_STREAM_URL (e.g. http://127.0.0.1:8080) or pass its URL"
    )]
    MissingCallerUrl,
    /// The bridge could not run.
    #[error(transparent)]
    Bridge(#[from] SimulatorError),
}

impl Transport {
    /// `TRANSPORT` from the environment, read now.
    pub fn from_env() -> Self {
        Self::from_value(std::env::var("TRANSPORT").ok().as_deref())
    }

    /// `mock` (any case) means [`Transport::Mock`]; anything else, or unset, Twilio (B119).
    pub fn from_value(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("mock") => Self::Mock,
            _ => Self::Twilio,
        }
    }

    /// Whether this is the mock transport.
    pub fn is_mock(self) -> bool {
        self == Self::Mock
    }
}

/// Places a Twilio call to `to` whose stream binds to `session` (served by the
/// [`VoiceServer`](vr_twilio::server::VoiceServer) sharing `registry`).
///
/// # Errors
/// Missing settings (B106 order) and REST failures.
pub async fn place_twilio_call(
    config: TwilioConfig,
    registry: Arc<CallRegistry>,
    to: &str,
    session: &VoiceSession,
) -> Result<PlacedCall, TransportError> {
    let dialer = OutboundDialer::new(config, registry).map_err(OutboundError::from)?;
    Ok(dialer.place_call(to, session).await?)
}

/// A bridged mock call in progress.
#[derive(Debug)]
pub struct MockCall {
    /// The call's id (`CAMOCK_` + 8 hex, as the original).
    pub call_sid: String,
    /// The target's stream URL, from its voice webhook.
    pub target_stream_url: String,
    stop: CancellationToken,
    task: JoinHandle<Result<BridgeReport, SimulatorError>>,
}

impl MockCall {
    /// Ends the call (both sides get `stop`).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits for the call to end.
    ///
    /// # Errors
    /// Connection failures of either side.
    pub async fn wait(self) -> Result<BridgeReport, TransportError> {
        match self.task.await {
            Ok(result) => Ok(result?),
            Err(e) => Err(TransportError::Bridge(SimulatorError::Connect(
                e.to_string(),
            ))),
        }
    }
}

/// Places a mock call (the original's `initiate_mock_call`): asks `target`'s voice webhook
/// which stream to dial, then bridges it with the caller bot's server `caller` (its `/voice`).
///
/// # Errors
/// Webhook failures; the bridge's own failures arrive through [`MockCall::wait`].
pub async fn place_mock_call(
    target: &str,
    caller: Option<&str>,
    timeout: Duration,
) -> Result<MockCall, TransportError> {
    let caller = caller
        .filter(|c| !c.trim().is_empty())
        .ok_or(TransportError::MissingCallerUrl)?;
    let call_sid = mock_call_sid();
    let client = reqwest::Client::new();
    let target_stream_url = resolve_stream_url(&client, target, &call_sid).await?;
    let caller_url = format!(
        "{}/voice",
        vr_twilio::urls::websocket_url(caller.trim_end_matches('/'))
    );
    let mut b = BridgeSide::new(target_stream_url.clone());
    let mut ids = SimIds::random();
    ids.call_sid = call_sid.clone();
    b.ids = Some(ids);
    b.custom_parameters = vec![("CallSid".into(), call_sid.clone())];
    let mut config = BridgeConfig::new(BridgeSide::new(caller_url), b);
    config.timeout = timeout;
    let bridge = Bridge::new(config);
    let stop = bridge.stop_token();
    let task = tokio::spawn(bridge.run());
    Ok(MockCall {
        call_sid,
        target_stream_url,
        stop,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mock_in_any_case_selects_the_bridge() {
        assert_eq!(Transport::from_value(Some("mock")), Transport::Mock);
        assert_eq!(Transport::from_value(Some("MOCK")), Transport::Mock);
        assert_eq!(Transport::from_value(Some("twilio")), Transport::Twilio);
        assert_eq!(Transport::from_value(None), Transport::Twilio);
    }
}
