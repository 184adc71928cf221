//! A scripted fake of the Twilio REST API on 127.0.0.1: it records every request (method,
//! path, query, Basic auth, form fields) and answers with the next scripted reply.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub auth: Option<(String, String)>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    /// Decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|q| serde_urlencoded::from_str(q).unwrap())
            .unwrap_or_default()
    }
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// Never answer (to test client timeouts).
    pub hang: bool,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            location: None,
            hang: false,
        }
    }

    pub fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_owned(),
            location: None,
            hang: false,
        }
    }

    pub fn twilio_error(status: u16, code: u32, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({
                "code": code,
                "message": message,
                "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
                "status": status,
            }),
        )
    }

    pub fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            body: String::new(),
            location: Some(location.to_owned()),
            hang: false,
        }
    }

    pub fn hang() -> Self {
        Self {
            status: 200,
            body: String::new(),
            location: None,
            hang: true,
        }
    }
}

struct Inner {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
}

/// A running fake; the server task ends with the test's runtime.
pub struct Fake {
    pub base: String,
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Fake {
    pub async fn start(replies: Vec<Reply>) -> Fake {
        let inner = Arc::new(Inner {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(replies.into()),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            base: format!("http://{addr}"),
            addr,
            inner,
        }
    }

    /// `host:port` as the client names it in errors.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form = if content_type.as_deref() == Some("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body).unwrap()
    } else {
        Vec::new()
    };
    inner.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        auth,
        content_type,
        form,
    });
    let reply = inner.script.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply").into_response();
    };
    if reply.hang {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap();
    let mut resp = (status, reply.body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Some(loc) = reply.location {
        resp.headers_mut().insert(
            header::LOCATION,
            header::HeaderValue::from_str(&loc).unwrap(),
        );
    }
    resp
}
