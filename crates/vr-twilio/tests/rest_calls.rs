//! REST calls, hang-up and SMS against a local fake Twilio (twilio-rest.md §2–4; B146–B152).

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Fake, Reply};
use serde_json::json;
use vr_twilio::rest::{
    ConfigError, CreateCall, HangupResult, RestError, TwilioCredentials, TwilioRestClient,
};

const TOKEN: &str = "tok-secret-123";

fn client(fake: &Fake) -> TwilioRestClient {
    TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .base_url(&fake.base)
        .timeout(Duration::from_secs(5))
        .from_number("+15017122661")
        .build()
        .unwrap()
}

fn no_secret(err: &RestError) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "secret leaked: {text}");
    assert!(!text.contains("regsecret"), "secret leaked: {text}");
}

#[tokio::test]
async fn create_call_sends_documented_form() {
    let fake = Fake::start(vec![Reply::json(
        201,
        json!({"sid":"CA999","account_sid":"AC123","to":"+358401234567","from":"+15017122661","status":"queued","direction":"outbound-api","start_time":null}),
    )])
    .await;
    let twiml =
        r#"<Response><Connect><Stream url="wss://bot.example.com/voice"/></Connect></Response>"#;
    let mut req = CreateCall::twiml("+358401234567", "+15017122661", twiml);
    req.status_callback = Some("https://bot.example.com/status".into());
    req.status_callback_events = vec!["initiated".into(), "completed".into()];
    let call = client(&fake).create_call(&req).await.unwrap();
    assert_eq!(call.sid, "CA999");
    assert_eq!(call.status.as_deref(), Some("queued"));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/2010-04-01/Accounts/AC123/Calls.json");
    assert_eq!(r.auth, Some(("AC123".into(), TOKEN.into())));
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(&str, &str)> = r
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("To", "+358401234567"),
            ("From", "+15017122661"),
            ("Twiml", twiml),
            ("StatusCallback", "https://bot.example.com/status"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "completed"),
        ]
    );
}

#[tokio::test]
async fn create_call_refuses_bad_input_before_any_request() {
    let fake = Fake::start(vec![]).await;
    let c = client(&fake);
    let long = CreateCall::twiml("+1", "+2", "x".repeat(4001));
    assert!(matches!(
        c.create_call(&long).await,
        Err(RestError::InvalidInput(_))
    ));
    let mut bad_timeout = CreateCall::url("+1", "+2", "https://x/twiml");
    bad_timeout.timeout = Some(601);
    assert!(matches!(
        c.create_call(&bad_timeout).await,
        Err(RestError::InvalidInput(_))
    ));
    assert!(matches!(
        c.create_call(&CreateCall::twiml(" ", "+2", "<Response/>"))
            .await,
        Err(RestError::InvalidInput(_))
    ));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn create_call_error_carries_twilio_code() {
    let fake = Fake::start(vec![Reply::twilio_error(
        400,
        21211,
        "The 'To' number +1 is not a valid phone number.",
    )])
    .await;
    let err = client(&fake)
        .create_call(&CreateCall::twiml("+1", "+2", "<Response/>"))
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.twilio_code()), (Some(400), Some(21211)));
    assert!(err.to_string().contains("not a valid phone number"));
    no_secret(&err);
}

#[tokio::test]
async fn hangup_outcomes() {
    let fake = Fake::start(vec![
        Reply::json(200, json!({"sid":"CA1","status":"completed"})),
        Reply::raw(204, ""),
        Reply::twilio_error(400, 21220, "Call is not in-progress. Cannot redirect."),
        Reply::twilio_error(404, 20404, "The requested resource was not found"),
        Reply::twilio_error(401, 20003, "Authenticate"),
        Reply::raw(500, "<html>oops</html>"),
        Reply::twilio_error(404, 20001, "something else"),
        Reply::twilio_error(400, 20001, "bad"),
    ])
    .await;
    let c = client(&fake);
    assert_eq!(c.hangup("CA1").await.unwrap(), HangupResult::Completed);
    assert_eq!(c.hangup("CA1").await.unwrap(), HangupResult::Completed);
    assert_eq!(c.hangup("CA1").await.unwrap(), HangupResult::AlreadyEnded);

    let err = c.hangup("CA1").await.unwrap_err();
    let RestError::NotFound { host, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, &fake.host());
    assert!(err.to_string().contains(&fake.host()));

    let err = c.hangup("CA1").await.unwrap_err();
    assert!(
        matches!(&err, RestError::Api { status: 401, code: Some(20003), message, .. } if message == "Authenticate")
    );
    no_secret(&err);

    let err = c.hangup("CA1").await.unwrap_err();
    assert!(
        matches!(&err, RestError::Api { status: 500, code: None, message, .. } if message == "<html>oops</html>")
    );
    let err = c.hangup("CA1").await.unwrap_err();
    assert!(matches!(
        &err,
        RestError::Api {
            status: 404,
            code: Some(20001),
            ..
        }
    ));
    let err = c.hangup("CA1").await.unwrap_err();
    assert!(matches!(
        &err,
        RestError::Api {
            status: 400,
            code: Some(20001),
            ..
        }
    ));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 8);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/2010-04-01/Accounts/AC123/Calls/CA1.json");
        assert_eq!(r.form, [("Status".to_owned(), "completed".to_owned())]);
        assert_eq!(r.auth, Some(("AC123".into(), TOKEN.into())));
    }
}

#[tokio::test]
async fn hangup_never_follows_redirects() {
    let fake = Fake::start(vec![
        Reply::redirect("/2010-04-01/elsewhere"),
        Reply::raw(200, "{}"),
    ])
    .await;
    let err = client(&fake).hangup("CA1").await.unwrap_err();
    assert!(
        matches!(err, RestError::Redirect { status: 302, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn unsafe_call_sids_are_refused_before_any_request() {
    let fake = Fake::start(vec![]).await;
    let c = client(&fake);
    for sid in [
        "", " ", "CA/1", "CA?1", "CA#1", "CA%2f1", "CA 1", "CA\n1", "ÇA1", "CA-1", "../x",
    ] {
        let err = c.hangup(sid).await.unwrap_err();
        assert!(
            matches!(err, RestError::Config(ConfigError::InvalidSid { .. })),
            "{sid:?}"
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn timeout_is_typed_and_bounded() {
    let fake = Fake::start(vec![Reply::hang()]).await;
    let c = TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .base_url(&fake.base)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let err = c.hangup("CA1").await.unwrap_err();
    let elapsed = t0.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(fake.requests().len(), 1, "no retry");
    no_secret(&err);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .base_url(format!("http://{addr}"))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = c.hangup("CA1").await.unwrap_err();
    assert!(matches!(err, RestError::Transport { .. }), "{err:?}");
    no_secret(&err);
}

#[tokio::test]
async fn send_sms() {
    let fake = Fake::start(vec![Reply::json(
        201,
        json!({"sid":"SM123","status":"queued","to":"+358401234567","body":"hi"}),
    )])
    .await;
    let res = client(&fake)
        .send_sms("+358401234567", "hi & bye")
        .await
        .unwrap();
    assert_eq!(res.message_sid, "SM123");
    assert_eq!(res.status, "queued");
    assert_eq!(res.to, "+358401234567");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(
        r.form,
        [
            ("To".to_owned(), "+358401234567".to_owned()),
            ("From".to_owned(), "+15017122661".to_owned()),
            ("Body".to_owned(), "hi & bye".to_owned()),
        ]
    );
}

#[tokio::test]
async fn send_sms_needs_a_from_number_and_a_body() {
    let fake = Fake::start(vec![]).await;
    let c = TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .base_url(&fake.base)
        .build()
        .unwrap();
    let err = c.send_sms("+1", "hi").await.unwrap_err();
    assert_eq!(err, RestError::Config(ConfigError::MissingPhoneNumber));
    assert_eq!(err.to_string(), "TWILIO_PHONE_NUMBER required");
    assert!(matches!(
        c.send_sms_from("+2", "+1", "").await,
        Err(RestError::InvalidInput(_))
    ));
    assert!(matches!(
        c.send_sms_from("+2", "+1", &"x".repeat(1601)).await,
        Err(RestError::InvalidInput(_))
    ));
    assert!(fake.requests().is_empty());
}

#[test]
fn builder_refuses_bad_settings() {
    let creds = || TwilioCredentials::auth_token("AC123", TOKEN).unwrap();
    assert!(
        TwilioRestClient::builder(creds())
            .timeout(Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        TwilioRestClient::builder(creds())
            .base_url("ftp://x")
            .build()
            .is_err()
    );
    assert!(
        TwilioRestClient::builder(creds())
            .region("IE 1")
            .edge("dublin")
            .build()
            .is_err()
    );
    assert!(
        TwilioRestClient::builder(creds())
            .route_host("evil.com", "http://127.0.0.1:1")
            .build()
            .is_err()
    );
    let c = TwilioRestClient::builder(creds()).build().unwrap();
    assert_eq!(c.api_host(), "api.twilio.com");
    assert_eq!(c.timeout(), Duration::from_secs(15));
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(TOKEN), "{dbg}");
}
