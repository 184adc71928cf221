//! Hang-up across explicit regions against a local fake Twilio (B147–B152).

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Fake, Reply};
use vr_twilio::rest::{
    ConfigError, HangupResult, RestError, TwilioCredentials, TwilioRegion, TwilioRestClient,
};

const TOKEN: &str = "tok-secret-123";

fn no_secret(err: &RestError) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "secret leaked: {text}");
    assert!(!text.contains("regsecret"), "secret leaked: {text}");
}

fn region(host: &str, user: &str) -> TwilioRegion {
    TwilioRegion::new(
        host,
        TwilioCredentials::api_key(
            format!("AC{user}"),
            format!("SK{user}"),
            format!("regsecret{user}"),
        )
        .unwrap(),
    )
    .unwrap()
}

const H1: &str = "api.dublin.ie1.twilio.com";

const H2: &str = "api.sydney.au1.twilio.com";

const H3: &str = "api.ashburn.us1.twilio.com";

fn region_client(fake: &Fake, timeout: Duration) -> TwilioRestClient {
    // The ambient credentials are never used by region hang-ups.
    TwilioRestClient::builder(TwilioCredentials::auth_token("ACambient", TOKEN).unwrap())
        .base_url(&fake.base)
        .route_host(H1, &fake.base)
        .route_host(H2, &fake.base)
        .route_host(H3, &fake.base)
        .timeout(timeout)
        .build()
        .unwrap()
}

#[tokio::test]
async fn regions_tried_in_order_until_found() {
    let fake = Fake::start(vec![
        Reply::twilio_error(404, 20404, "not found"),
        Reply::twilio_error(404, 20404, "not found"),
        Reply::raw(200, "{}"),
    ])
    .await;
    let regions = [region(H1, "1"), region(H2, "2"), region(H3, "3")];
    let done = region_client(&fake, Duration::from_secs(5))
        .hangup_in_regions("CA7", &regions)
        .await
        .unwrap();
    assert_eq!(done.api_host, H3);
    assert_eq!(done.result, HangupResult::Completed);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    for (i, r) in reqs.iter().enumerate() {
        let n = i + 1;
        assert_eq!(r.path, format!("/2010-04-01/Accounts/AC{n}/Calls/CA7.json"));
        assert_eq!(r.auth, Some((format!("SK{n}"), format!("regsecret{n}"))));
        assert_eq!(r.form, [("Status".to_owned(), "completed".to_owned())]);
    }
}

#[tokio::test]
async fn regions_already_ended_stops() {
    let fake = Fake::start(vec![
        Reply::twilio_error(404, 20404, "not found"),
        Reply::twilio_error(400, 21220, "Call is not in-progress. Cannot redirect."),
    ])
    .await;
    let regions = [region(H1, "1"), region(H2, "2"), region(H3, "3")];
    let done = region_client(&fake, Duration::from_secs(5))
        .hangup_in_regions("CA7", &regions)
        .await
        .unwrap();
    assert_eq!(
        (done.api_host.as_str(), done.result),
        (H2, HangupResult::AlreadyEnded)
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn regions_other_errors_stop_after_one_request() {
    for reply in [
        Reply::twilio_error(401, 20003, "Authenticate"),
        Reply::twilio_error(403, 20003, "Forbidden"),
        Reply::twilio_error(429, 20429, "Too Many Requests"),
        Reply::raw(500, "boom"),
        Reply::twilio_error(400, 20001, "bad"),
        Reply::twilio_error(404, 20001, "other 404"),
        Reply::redirect("https://elsewhere.example/x"),
    ] {
        let fake = Fake::start(vec![Reply::twilio_error(404, 20404, "nf"), reply.clone()]).await;
        let regions = [region(H1, "1"), region(H2, "2"), region(H3, "3")];
        let err = region_client(&fake, Duration::from_secs(5))
            .hangup_in_regions("CA7", &regions)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(reply.status), "{err:?}");
        assert_eq!(fake.requests().len(), 2, "{err:?}");
        no_secret(&err);
    }
}

#[tokio::test]
async fn regions_all_not_found() {
    let fake = Fake::start(vec![
        Reply::twilio_error(404, 20404, "nf"),
        Reply::twilio_error(404, 20404, "nf"),
    ])
    .await;
    let regions = [region(H1, "1"), region(H2, "2")];
    let err = region_client(&fake, Duration::from_secs(5))
        .hangup_in_regions("CA7", &regions)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RestError::CallNotFound {
            hosts: vec![H1.into(), H2.into()]
        }
    );
    assert_eq!(err.to_string(), format!("Call not found in: {H1}, {H2}"));
    no_secret(&err);
}

#[tokio::test]
async fn regions_timeout_propagates_without_retry() {
    let fake = Fake::start(vec![Reply::hang(), Reply::raw(200, "{}")]).await;
    let regions = [region(H1, "1"), region(H2, "2")];
    let err = region_client(&fake, Duration::from_millis(300))
        .hangup_in_regions("CA7", &regions)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RestError::Timeout { host, .. } if host == H1),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn region_list_validated_before_any_request() {
    let fake = Fake::start(vec![]).await;
    let c = region_client(&fake, Duration::from_secs(5));
    let err = c.hangup_in_regions("CA7", &[]).await.unwrap_err();
    assert!(matches!(
        err,
        RestError::Config(ConfigError::InvalidRegion(_))
    ));
    let err = c
        .hangup_in_regions("CA7", &[region(H1, "1"), region(H1, "2")])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RestError::Config(ConfigError::InvalidRegion(_))
    ));
    let err = c
        .hangup_in_regions("CA 7", &[region(H1, "1")])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RestError::Config(ConfigError::InvalidSid { .. })
    ));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn ambient_region_and_edge_name_the_real_host() {
    // B147: au1 + sydney → errors name api.sydney.au1.twilio.com.
    let fake = Fake::start(vec![Reply::twilio_error(404, 20404, "nf")]).await;
    let c = TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .region("au1")
        .edge("sydney")
        .route_host(H2, &fake.base)
        .build()
        .unwrap();
    assert_eq!(c.api_host(), H2);
    let err = c.hangup("CA1").await.unwrap_err();
    assert_eq!(
        err,
        RestError::NotFound {
            host: H2.into(),
            message: "nf".into()
        }
    );
}
