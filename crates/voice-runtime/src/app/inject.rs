//! `POST /test/inject` and `POST /test/inject/{key}`: texts committed by a live call's mock
//! recogniser (the original's test route, B118, B168). The body is `{"text": "..."}`.
//!
//! `{key}` is the call's route token (`/voice/{token}`), stream SID or call SID. Without a
//! key the text goes to the only live mock call; with several live calls that is ambiguous
//! and answered 409.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dashmap::DashMap;
use serde::Deserialize;
use vr_mock::{InjectOutcome, MockSttHandle};
use vr_session::CallHandle;

/// Live mock recognisers by stream SID, with aliases (route token, call SID).
#[derive(Debug, Default)]
pub struct Injectors {
    calls: DashMap<String, MockSttHandle>,
    aliases: DashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct InjectBody {
    text: String,
}

impl Injectors {
    /// Registers `handle` for `call` (which must be connected) until the call ends.
    pub fn register(self: &Arc<Self>, call: &CallHandle, handle: MockSttHandle) {
        let Some(info) = call.info() else {
            return;
        };
        let stream_sid = info.stream_sid.clone();
        let aliases: Vec<String> = [info.route.clone(), info.call_sid.clone()]
            .into_iter()
            .flatten()
            .collect();
        self.calls.insert(stream_sid.clone(), handle);
        for alias in &aliases {
            self.aliases.insert(alias.clone(), stream_sid.clone());
        }
        let (me, call) = (self.clone(), call.clone());
        tokio::spawn(async move {
            call.wait_disconnected().await;
            me.calls.remove(&stream_sid);
            for alias in aliases {
                me.aliases.remove_if(&alias, |_, sid| *sid == stream_sid);
            }
        });
    }

    /// Live mock calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no mock call is live.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    fn find(&self, key: &str) -> Option<MockSttHandle> {
        if let Some(h) = self.calls.get(key) {
            return Some(h.clone());
        }
        let sid = self.aliases.get(key)?.clone();
        self.calls.get(&sid).map(|h| h.clone())
    }

    fn only(&self) -> Result<MockSttHandle, (StatusCode, &'static str)> {
        let mut it = self.calls.iter();
        match (it.next(), it.next()) {
            (Some(one), None) => Ok(one.clone()),
            (None, _) => Err((StatusCode::NOT_FOUND, "no live call\n")),
            (Some(_), Some(_)) => Err((
                StatusCode::CONFLICT,
                "several calls are live: use /test/inject/{route, stream SID or call SID}\n",
            )),
        }
    }
}

pub(super) fn routes(injectors: Arc<Injectors>) -> Router {
    Router::new()
        .route("/test/inject", post(inject_only))
        .route("/test/inject/{key}", post(inject_key))
        .with_state(injectors)
}

async fn inject_only(State(inj): State<Arc<Injectors>>, Json(body): Json<InjectBody>) -> Response {
    match inj.only() {
        Ok(handle) => deliver(&handle, body.text),
        Err(e) => e.into_response(),
    }
}

async fn inject_key(
    State(inj): State<Arc<Injectors>>,
    Path(key): Path<String>,
    Json(body): Json<InjectBody>,
) -> Response {
    match inj.find(&key) {
        Some(handle) => deliver(&handle, body.text),
        None => (StatusCode::NOT_FOUND, "no live call with that key\n").into_response(),
    }
}

fn deliver(handle: &MockSttHandle, text: String) -> Response {
    match handle.inject(text) {
        InjectOutcome::Queued => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "queued"})),
        )
            .into_response(),
        InjectOutcome::Full => {
            (StatusCode::SERVICE_UNAVAILABLE, "inject queue full\n").into_response()
        }
        InjectOutcome::Closed => {
            (StatusCode::GONE, "the call's recogniser has stopped\n").into_response()
        }
    }
}
