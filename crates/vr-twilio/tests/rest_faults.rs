//! REST faults: Twilio not answering (bounded by the configured timeout) for create call,
//! hang-up and SMS; a host name that does not resolve; a refused connection. Each has a typed
//! error, a generous bound on how long it took (only to prove nothing hangs), no retry, no
//! task left behind, and no credential in the error's text.
//!
//! The fake runs on a runtime of its own, so the test runtime's alive-task count measures the
//! client alone; it must return to its baseline once the client is dropped.

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use common::{Fake, Reply};
use tokio::time::{Instant, sleep, timeout};
use vr_twilio::rest::{CreateCall, RestError, TwilioCredentials, TwilioRestClient};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "tok-fault-secret-123";
const KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
const KEY_SECRET: &str = "key-fault-secret-456";

/// The configured request timeout of the not-answering tests.
const SHORT: Duration = Duration::from_millis(300);
/// Bound on every fault's outcome: generous, only to prove that nothing hangs.
const BOUND: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------------------
// The fake on a runtime of its own, and the task count of the test's runtime
// ---------------------------------------------------------------------------------------

/// A second runtime for the fake: its tasks never count towards the test runtime's.
struct Background(Option<tokio::runtime::Runtime>);

impl Background {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Self(Some(rt))
    }

    async fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.as_ref().unwrap().spawn(fut).await.unwrap()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Tasks alive on the test's runtime.
fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (bounded) until no more than `baseline` tasks are alive.
async fn assert_no_orphan(baseline: usize) {
    let deadline = Instant::now() + BOUND;
    let mut n = alive();
    while n > baseline && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
        n = alive();
    }
    assert!(
        n <= baseline,
        "{n} tasks alive, {baseline} before the request"
    );
}

// ---------------------------------------------------------------------------------------
// Clients, operations, and the no-secret check
// ---------------------------------------------------------------------------------------

/// Both kinds of credentials Twilio accepts.
fn credentials() -> [TwilioCredentials; 2] {
    [
        TwilioCredentials::auth_token(ACCOUNT, TOKEN).unwrap(),
        TwilioCredentials::api_key(ACCOUNT, KEY_SID, KEY_SECRET).unwrap(),
    ]
}

fn client(creds: TwilioCredentials, base: &str, timeout: Duration) -> TwilioRestClient {
    TwilioRestClient::builder(creds)
        .base_url(base)
        .timeout(timeout)
        .from_number("+15017122661")
        .build()
        .unwrap()
}

/// The REST operations a bot uses during a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    CreateCall,
    Hangup,
    Sms,
}

const OPS: [Op; 3] = [Op::CreateCall, Op::Hangup, Op::Sms];

impl Op {
    /// Runs the operation, bounded; returns its error and how long it took.
    async fn fail(self, client: &TwilioRestClient) -> (RestError, Duration) {
        let started = Instant::now();
        let result = timeout(BOUND, async {
            match self {
                Op::CreateCall => client
                    .create_call(&CreateCall::url(
                        "+358401234567",
                        "+15017122661",
                        "https://example.com/twiml",
                    ))
                    .await
                    .map(drop),
                Op::Hangup => client.hangup("CA0123456789abcdef").await.map(drop),
                Op::Sms => client.send_sms("+358401234567", "hello").await.map(drop),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{self:?} hung past {BOUND:?}"));
        let took = started.elapsed();
        (result.expect_err("the request cannot succeed"), took)
    }
}

/// No credential in the error's text, in any form (Basic auth's base64 included).
fn no_secret(err: &RestError) {
    let text = format!("{err} {err:?}");
    let b64 = |user: &str, secret: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    };
    for secret in [
        TOKEN.to_owned(),
        KEY_SECRET.to_owned(),
        b64(ACCOUNT, TOKEN),
        b64(KEY_SID, KEY_SECRET),
    ] {
        assert!(!text.contains(&secret), "secret leaked: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// REST not answering → `RestError::Timeout` after the configured timeout, no retry
// ---------------------------------------------------------------------------------------

async fn not_answering(op: Op) {
    for creds in credentials() {
        let bg = Background::new();
        let fake = bg.run(Fake::start(vec![Reply::hang()])).await;
        let baseline = alive();
        let c = client(creds, &fake.base, SHORT);

        let (err, took) = op.fail(&c).await;
        match &err {
            RestError::Timeout { host, timeout } => {
                assert_eq!(host, &fake.host(), "{op:?}");
                assert_eq!(*timeout, SHORT, "{op:?}");
            }
            other => panic!("{op:?}: expected a timeout, got {other:?}"),
        }
        assert!(err.is_timeout());
        assert!(
            took >= SHORT - Duration::from_millis(50) && took < Duration::from_secs(3),
            "{op:?}: bounded by the {SHORT:?} timeout: {took:?}"
        );
        assert_eq!(fake.requests().len(), 1, "{op:?}: no retry");
        no_secret(&err);

        drop(c);
        assert_no_orphan(baseline).await;
    }
}

#[tokio::test]
async fn create_call_not_answering_is_a_timeout() {
    not_answering(Op::CreateCall).await;
}

#[tokio::test]
async fn hangup_not_answering_is_a_timeout() {
    not_answering(Op::Hangup).await;
}

#[tokio::test]
async fn sms_not_answering_is_a_timeout() {
    not_answering(Op::Sms).await;
}

// ---------------------------------------------------------------------------------------
// DNS failure and a refused connection → `RestError::Transport` naming the host
// ---------------------------------------------------------------------------------------

/// Every operation with both kinds of credentials against `base` fails with a transport
/// error naming `host`, in time, with no secret and no task left.
async fn transport_failure(base: &str, host: &str) {
    for creds in credentials() {
        for op in OPS {
            let baseline = alive();
            let c = client(creds.clone(), base, Duration::from_secs(5));
            let (err, took) = op.fail(&c).await;
            match &err {
                RestError::Transport { host: h, message } => {
                    assert_eq!(h, host, "{op:?}");
                    assert!(!message.is_empty());
                }
                other => panic!("{op:?}: expected a transport error, got {other:?}"),
            }
            assert!(!err.is_timeout() && err.status().is_none());
            assert!(took < BOUND, "{op:?}: {took:?}");
            no_secret(&err);
            drop(c);
            assert_no_orphan(baseline).await;
        }
    }
}

#[tokio::test]
async fn unresolvable_host_is_a_transport_error() {
    // `.invalid` never resolves (RFC 6761).
    transport_failure("https://api.invalid", "api.invalid").await;
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    transport_failure(&format!("http://{addr}"), &addr.to_string()).await;
}
