//! The fake Twilio REST API: `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`
//! with `Status=completed` (the hang-up), HTTP Basic auth checked. Like Twilio, a successful
//! hang-up ends the call's media stream: the test registers a stop token per CallSid and the
//! fake cancels it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One hang-up request.
#[derive(Debug, Clone)]
pub struct HangupRequest {
    /// The CallSid of the path.
    pub call_sid: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Record {
    hangups: Vec<HangupRequest>,
    auth_failures: usize,
    streams: HashMap<String, CancellationToken>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    fail_first: bool,
    state: Mutex<Record>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Record> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fake Twilio REST API.
pub struct FakeTwilioRest {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeTwilioRest {
    /// Accepts `account_sid` / `auth_token`; with `fail_first`, the first hang-up is answered
    /// 500 (Twilio error 20500), so the server falls back to closing the stream itself.
    pub async fn start(account_sid: &str, auth_token: &str, fail_first: bool) -> Self {
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            fail_first,
            state: Mutex::new(Record::default()),
        });
        let router = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/Calls/{call}",
                post(hangup),
            )
            .with_state(shared.clone());
        let (addr, task) = super::serve_on_loopback(router, "the fake Twilio REST API").await;
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`, for `TWILIO_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A successful hang-up of `call_sid` cancels `stream` (Twilio ends the media stream).
    pub fn end_stream_on_hangup(&self, call_sid: &str, stream: CancellationToken) {
        self.shared
            .state()
            .streams
            .insert(call_sid.to_owned(), stream);
    }

    /// The hang-ups received.
    pub fn hangups(&self) -> Vec<HangupRequest> {
        self.shared.state().hangups.clone()
    }

    /// Requests refused for bad credentials.
    pub fn auth_failures(&self) -> usize {
        self.shared.state().auth_failures
    }
}

impl Drop for FakeTwilioRest {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn hangup(
    State(shared): State<Arc<Shared>>,
    Path((account_sid, call)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", shared.account_sid, shared.auth_token))
    );
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorised || account_sid != shared.account_sid {
        shared.state().auth_failures += 1;
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Some(call_sid) = call.strip_suffix(".json").map(str::to_owned) else {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    if body.as_ref() != b"Status=completed" {
        return twilio_error(StatusCode::BAD_REQUEST, 21218, "Invalid Status");
    }
    let mut state = shared.state();
    let first = state.hangups.is_empty();
    if first && shared.fail_first {
        state.hangups.push(HangupRequest {
            call_sid,
            status: 500,
        });
        return twilio_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        );
    }
    state.hangups.push(HangupRequest {
        call_sid: call_sid.clone(),
        status: 200,
    });
    if let Some(stream) = state.streams.remove(&call_sid) {
        stream.cancel();
    }
    let resource = json!({
        "sid": call_sid,
        "account_sid": shared.account_sid,
        "status": "completed",
        "direction": "inbound",
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        resource.to_string(),
    )
        .into_response()
}
